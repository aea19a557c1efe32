"""Model-defined difficulty, as the study did: split task seeds by a reference agent's success.

The study split each environment's tasks into easy and hard by how often the base model solved
them. ``split_by_reference`` does the same for any agent on any cell: every task seed is played
``samples`` times (the agent reseeded each time, the task fixed) and goes to ``easy`` when the
success rate reaches ``threshold``, else to ``hard``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from llm_gym.baselines.agents import make_agent
from llm_gym.baselines.cells import PLAY_FIELDS, Cell
from llm_gym.baselines.evaluation import run_episode


def split_by_reference(
    cell: Cell,
    seeds: list[int],
    samples: int = 1,
    threshold: float = 0.5,
    agent_options: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Return ``{"easy": [...], "hard": [...], "success_rate": {seed: rate}, ...}`` for ``cell``.

    Example:
        >>> split = split_by_reference(Cell("llm_gym/TextCraft-v0", "medium", "random"), list(range(6)), samples=2)
        >>> sorted(split["easy"] + split["hard"]) == list(range(6))
        True
    """
    if samples < 1 or not 0.0 < threshold <= 1.0:
        raise ValueError(f"samples must be >= 1 and threshold in (0, 1], got {samples} and {threshold}")
    if cell.agent is None:
        raise ValueError(f"cell {cell.label} names no reference agent")
    env = cell.make_env()
    agent = make_agent(cell.agent, env, **(agent_options or {}))
    rates = {}
    for seed in seeds:
        wins = sum(
            run_episode(env, agent, seed, agent_seed=seed * samples + k)["outcome"] == "success" for k in range(samples)
        )
        rates[seed] = wins / samples
    env.close()
    return {
        "cell": {name: getattr(cell, name) for name in PLAY_FIELDS},
        "samples": samples,
        "threshold": threshold,
        "easy": [seed for seed in seeds if rates[seed] >= threshold],
        "hard": [seed for seed in seeds if rates[seed] < threshold],
        "success_rate": rates,
    }


def save_split(split: dict[str, Any], path: str | Path) -> None:
    Path(path).write_text(json.dumps(split, indent=1))
