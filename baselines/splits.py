"""Splits of task seeds: by a reference agent's success, or by goal.

The study split each environment's tasks into easy and hard by how often the base model solved
them. ``split_by_reference`` does the same for any agent on any cell: every task seed is played
``samples`` times (the agent reseeded each time, the task fixed) and goes to ``easy`` when the
success rate reaches ``threshold``, else to ``hard``.

``split_by_goal`` makes a train/test split in which no goal is on both sides, so a test measures
generalisation to goals never trained on, not recall of their solutions.
"""

from __future__ import annotations

import json
import random
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


def split_by_goal(cell: Cell, seeds: list[int], test_share: float = 0.2, seed: int = 0) -> dict[str, Any]:
    """Return ``{"train": [...], "test": [...], "goals": {digest: [seeds]}, ...}``: the reset seeds
    ``seeds`` of ``cell`` grouped by the goal their task draws, each goal sent whole to ``test``
    with probability ``test_share`` (a draw per goal and ``seed``, so a goal lands on the same side
    whatever other seeds are split). Goals are named by ``core.goal_digest``, never in words.

    Example:
        >>> split = split_by_goal(Cell("llm_gym/TextCraft-v0", "medium"), list(range(40)), test_share=0.5)
        >>> train_goals = {g for g, s in split["goals"].items() if s[0] in split["train"]}
        >>> sorted(split["train"] + split["test"]) == list(range(40)), len(train_goals) < len(split["goals"])
        (True, True)
    """
    from llm_gym.core import goal_digest, text_env_of

    if not 0.0 < test_share < 1.0:
        raise ValueError(f"test_share must be in (0, 1), got {test_share!r}")
    env = cell.make_env()
    goals: dict[str, list[int]] = {}
    for task_seed in seeds:
        env.reset(seed=task_seed)
        goal = getattr(text_env_of(env).task, "goal_text", None)
        if not goal:
            env.close()
            raise ValueError(f"{cell.env_id} tasks do not name their goal (no goal_text); split by reference instead")
        goals.setdefault(goal_digest(goal), []).append(task_seed)
    env.close()
    test = {digest for digest in goals if random.Random(f"split-by-goal/{seed}/{digest}").random() < test_share}
    held_out = {task_seed for digest in test for task_seed in goals[digest]}
    return {
        "by": "goal",
        "cell": {name: getattr(cell, name) for name in PLAY_FIELDS},
        "test_share": test_share,
        "seed": seed,
        "train": [task_seed for task_seed in seeds if task_seed not in held_out],
        "test": [task_seed for task_seed in seeds if task_seed in held_out],
        "goals": goals,
    }


def save_split(split: dict[str, Any], path: str | Path) -> None:
    Path(path).write_text(json.dumps(split, indent=1))
