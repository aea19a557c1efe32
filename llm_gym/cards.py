"""Difficulty cards: each preset of each family measured, not only named.

A card row gives, over the same seeds: the mean exact optimal steps (and the share of tasks whose
optimum is proven exact), the success of the reference policies (uniform random over the
admissible actions, and a greedy word-overlap heuristic) and the best success of the adversarial
suite (``llm_gym.policies``). ``llm-gym cards`` prints the table and writes it as CSV and Markdown.

Example:
    >>> from llm_gym.cards import measure_card
    >>> rows = measure_card("llm_gym/TextCraft-v0", seeds=range(4), presets=["easy"])
    >>> rows[0]["preset"], rows[0]["seeds"]
    ('easy', 4)
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import gymnasium as gym

from llm_gym.policies import ADVERSARIAL_POLICIES, REFERENCE_POLICIES, success_rate
from llm_gym.registry import env_class, resolve_id

COLUMNS = (
    "env",
    "preset",
    "seeds",
    "mean_optimal_steps",
    "exact_share",
    "random_success",
    "greedy_success",
    "best_exploit",
    "best_exploit_success",
)


def measure_card(env: str, seeds: Iterable[int], presets: list[str] | None = None) -> list[dict[str, Any]]:
    """One row per preset of ``env`` (an id or a family name), measured on ``seeds``."""
    env_id = resolve_id(env)
    seeds = list(seeds)
    rows = []
    for preset in presets or list(env_class(env_id).presets):

        def make(preset: str = preset) -> gym.Env:
            return gym.make(env_id, difficulty=preset)

        probe = make()
        infos = [probe.reset(seed=seed)[1] for seed in seeds]
        probe.close()
        reference = {policy().name: success_rate(make, policy(), seeds)["success"] for policy in REFERENCE_POLICIES}
        exploits = {policy().name: success_rate(make, policy(), seeds)["success"] for policy in ADVERSARIAL_POLICIES}
        best = max(exploits, key=exploits.__getitem__)
        rows.append(
            {
                "env": env_id,
                "preset": preset,
                "seeds": len(seeds),
                "mean_optimal_steps": round(sum(info["optimal_steps"] for info in infos) / len(seeds), 3),
                "exact_share": round(sum(bool(info["optimal_exact"]) for info in infos) / len(seeds), 3),
                "random_success": round(reference["random"], 3),
                "greedy_success": round(reference["greedy"], 3),
                "best_exploit": best,
                "best_exploit_success": round(exploits[best], 3),
            }
        )
    return rows


def format_markdown(rows: list[dict[str, Any]]) -> str:
    """The rows as a Markdown table."""
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(str(row[column]) for column in COLUMNS) + " |" for row in rows]
    return "\n".join(lines)


def write_cards(rows: list[dict[str, Any]], out_dir: str | Path) -> tuple[Path, Path]:
    """Write ``cards.csv`` and ``cards.md`` under ``out_dir``; return their paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    csv_path, markdown_path = out / "cards.csv", out / "cards.md"
    with csv_path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    markdown_path.write_text(format_markdown(rows) + "\n")
    return csv_path, markdown_path
