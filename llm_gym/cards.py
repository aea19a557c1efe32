"""Difficulty cards: each preset of each family measured, not only named.

A card row gives, over the same seeds: the mean exact optimal steps (and the share of tasks whose
optimum is proven exact), the success of the reference policies (uniform random over the
admissible actions, and a greedy word-overlap heuristic) and the best success of the adversarial
suite (``llm_gym.policies``), and the variety of the preset: the distinct goals and task shapes
(``goal_text`` and ``structure``) among the first ``variety_seeds`` tasks. ``sample_episodes``
shows one oracle episode in each semantic setting the family offers. ``llm-gym cards`` prints the
table and writes it, with the samples, as CSV and Markdown.

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
    "variety_seeds",
    "distinct_goals",
    "distinct_structures",
)
SEMANTIC_SETTINGS = ("grounded", "counterfactual", "made-up")


def measure_card(
    env: str, seeds: Iterable[int], presets: list[str] | None = None, variety_seeds: int | None = None
) -> list[dict[str, Any]]:
    """One row per preset of ``env`` (an id or a family name), measured on ``seeds``; the variety
    over the first ``variety_seeds`` task seeds (default: as many as ``seeds``)."""
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
                **variety(env_id, preset, len(seeds) if variety_seeds is None else variety_seeds),
            }
        )
    return rows


def variety(env: str, preset: str, seeds: int) -> dict[str, int | None]:
    """How many distinct goals and task shapes the task seeds ``0..seeds-1`` of ``preset`` draw
    (generated, not played); ``None`` where the family's tasks do not say (no ``goal_text`` or
    ``structure``)."""
    cls = env_class(resolve_id(env))
    config = cls.presets[preset]
    tasks = [cls.generate_task(seed, config, cls.themes[0]) for seed in range(seeds)]
    goals = {getattr(task, "goal_text", None) for task in tasks} - {None}
    structures = {getattr(task, "structure", None) for task in tasks} - {None}
    return {
        "variety_seeds": seeds,
        "distinct_goals": len(goals) if goals else None,
        "distinct_structures": len(structures) if structures else None,
    }


def sample_episodes(env: str, preset: str, seed: int = 0, limit: int = 2_000) -> str:
    """One oracle episode of ``preset`` and task seed ``seed`` in each semantic setting the family
    offers, as Markdown: the first observation (its opening rules elided), then each action and the
    observation it brought (each cut at ``limit`` characters)."""
    from llm_gym.core import text_env_of
    from llm_gym.presentation import presentation_of
    from llm_gym.wrappers.presets import make

    env_id = resolve_id(env)
    sections = []
    for semantics in SEMANTIC_SETTINGS:
        try:
            played = make(env_id, semantics=semantics, difficulty=preset)
        except ValueError:
            continue  # a setting the family cannot offer
        observation, info = played.reset(seed=seed)
        rules = info["instructions"]
        lines = [f"[the rules]\n{observation[len(rules) :].lstrip()}" if observation.startswith(rules) else observation]
        done = False
        while not done:
            action = presentation_of(played).format_command(text_env_of(played).oracle_action())
            observation, _, terminated, truncated, info = played.step(action)
            done = terminated or truncated
            lines.append(f"> {action}\n{observation}")
        played.close()
        body = "\n".join(line if len(line) <= limit else line[:limit] + " ..." for line in lines)
        sections.append(f"#### {semantics} (outcome: {info['outcome']})\n\n```text\n{body}\n```")
    return f"### {env_id.split('/')[-1]} {preset}, task seed {seed}\n\n" + "\n\n".join(sections)


def format_markdown(rows: list[dict[str, Any]]) -> str:
    """The rows as a Markdown table."""
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(str(row[column]) for column in COLUMNS) + " |" for row in rows]
    return "\n".join(lines)


def write_cards(rows: list[dict[str, Any]], out_dir: str | Path, samples: str = "") -> tuple[Path, Path]:
    """Write ``cards.csv`` and ``cards.md`` (the table, then ``samples``) under ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    csv_path, markdown_path = out / "cards.csv", out / "cards.md"
    with csv_path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    markdown_path.write_text(format_markdown(rows) + "\n" + (f"\n## Sample episodes\n\n{samples}\n" if samples else ""))
    return csv_path, markdown_path
