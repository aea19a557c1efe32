"""Evaluate agents on a grid of environments, on paired instances (the same seeds in every cell).

Writes one JSONL line per episode (``episodes.jsonl``) and a summary CSV (``summary.csv``) with
the success rate and its standard error, mean steps, and parse-error and illegal-action rates.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
from pathlib import Path
from typing import Any, Callable, Iterable

import gymnasium as gym

from llm_gym.baselines.agents import Agent, make_agent


@dataclasses.dataclass(frozen=True)
class Cell:
    """One point of the evaluation grid."""

    env_id: str
    difficulty: str
    agent: str
    theme: str | None = None

    def make_env(self) -> gym.Env:
        kwargs: dict[str, Any] = {"difficulty": self.difficulty}
        if self.theme is not None:
            kwargs["theme"] = self.theme
        return gym.make(self.env_id, **kwargs)


SUMMARY_FIELDS = (
    "env_id",
    "difficulty",
    "theme",
    "agent",
    "episodes",
    "success_rate",
    "success_se",
    "mean_steps",
    "mean_optimal_steps",
    "mean_return",
    "mean_score",
    "parse_error_rate",
    "illegal_rate",
)


def run_episode(env: gym.Env, agent: Agent, seed: int) -> dict[str, Any]:
    """Play one episode; return the whole record (actions, observations, rewards, statuses)."""
    if hasattr(agent, "reset"):
        agent.reset(seed)
    observation, info = env.reset(seed=seed)
    record: dict[str, Any] = {
        "seed": seed,
        "task_id": info["task_id"],
        "optimal_steps": info["optimal_steps"],
        "observations": [observation],
        "actions": [],
        "rewards": [],
        "statuses": [],
    }
    while True:
        action = agent.act(observation, info)
        observation, reward, terminated, truncated, info = env.step(action)
        record["actions"].append(action)
        record["observations"].append(observation)
        record["rewards"].append(float(reward))
        record["statuses"].append(info["action_status"])
        if terminated or truncated:
            break
    record.update(outcome=info["outcome"], score=float(info["score"]), steps=len(record["actions"]))
    return record


def summarize(cell: Cell, episodes: list[dict[str, Any]]) -> dict[str, Any]:
    """One summary row for a cell's episodes."""
    n = len(episodes)
    successes = [1.0 if e["outcome"] == "success" else 0.0 for e in episodes]
    rate = sum(successes) / n
    statuses = [s for e in episodes for s in e["statuses"]]
    turns = max(1, len(statuses))
    return {
        "env_id": cell.env_id,
        "difficulty": cell.difficulty,
        "theme": cell.theme or "default",
        "agent": cell.agent,
        "episodes": n,
        "success_rate": rate,
        "success_se": math.sqrt(rate * (1 - rate) / n) if n > 1 else 0.0,
        "mean_steps": sum(e["steps"] for e in episodes) / n,
        "mean_optimal_steps": sum(e["optimal_steps"] for e in episodes) / n,
        "mean_return": sum(sum(e["rewards"]) for e in episodes) / n,
        "mean_score": sum(e["score"] for e in episodes) / n,
        "parse_error_rate": statuses.count("parse_error") / turns,
        "illegal_rate": statuses.count("illegal") / turns,
    }


def evaluate(
    cells: Iterable[Cell],
    episodes: int,
    out_dir: str | Path,
    seed: int = 0,
    progress: bool = False,
) -> list[dict[str, Any]]:
    """Run ``episodes`` paired episodes (seeds ``seed .. seed+episodes-1``) in every cell."""
    from tqdm import tqdm

    if episodes < 1:
        raise ValueError(f"episodes must be at least 1, got {episodes}")
    cells = list(cells)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    with open(out / "episodes.jsonl", "w") as log, tqdm(
        total=len(cells) * episodes, disable=not progress, unit="episode"
    ) as bar:
        for cell in cells:
            env = cell.make_env()
            records = []
            for episode_seed in range(seed, seed + episodes):
                record = run_episode(env, make_agent(cell.agent, env, seed=episode_seed), episode_seed)
                records.append(record)
                log.write(json.dumps({**dataclasses.asdict(cell), **record}) + "\n")
                bar.set_description(f"{cell.env_id.split('/')[-1]} {cell.difficulty} {cell.agent}")
                bar.update()
            env.close()
            rows.append(summarize(cell, records))
    with open(out / "summary.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=SUMMARY_FIELDS)
        writer.writeheader()
        writer.writerows(rows)
    return rows


def format_table(rows: list[dict[str, Any]]) -> str:
    """The summary as a fixed-width text table."""
    columns = [
        ("env", lambda r: r["env_id"].split("/")[-1]),
        ("difficulty", lambda r: r["difficulty"]),
        ("theme", lambda r: r["theme"]),
        ("agent", lambda r: r["agent"]),
        ("n", lambda r: str(r["episodes"])),
        ("success", lambda r: f"{r['success_rate']:.2f} ± {r['success_se']:.2f}"),
        ("steps", lambda r: f"{r['mean_steps']:.1f}"),
        ("optimal", lambda r: f"{r['mean_optimal_steps']:.1f}"),
        ("parse_err", lambda r: f"{r['parse_error_rate']:.2f}"),
        ("illegal", lambda r: f"{r['illegal_rate']:.2f}"),
    ]
    cells = [[name for name, _ in columns]] + [[fn(row) for _, fn in columns] for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
    lines = ["  ".join(value.ljust(width) for value, width in zip(line, widths)) for line in cells]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)
