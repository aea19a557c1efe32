"""Shared helpers of the family tests that search over env copies or drive an env by a rule."""

from __future__ import annotations

import random

from llm_gym.testing import shortest_success


def bfs_shortest(env, limit: int, budget: int = 60_000) -> int | None:
    """Fewest steps from ``env``'s state to success over the admissible actions (``None`` if none
    within ``limit``), by ``llm_gym.testing.shortest_success``: breadth-first over env copies,
    states merged by ``state_key()``, independent of the family's planner. The search must settle."""
    steps, complete = shortest_success(env, env.unwrapped._admissible_texts(), limit, budget)
    assert complete, "search budget exceeded"
    return steps


def play(env, actions_from) -> tuple[bool, int]:
    """Run ``actions_from(env, info, turn)`` until the end; (success, steps)."""
    info, turn = env.unwrapped._info(), 0
    while True:
        _, _, terminated, truncated, info = env.step(actions_from(env, info, turn))
        turn += 1
        if terminated or truncated:
            return info["outcome"] == "success", turn


def same_future(env, other, chooser: random.Random, steps: int = 12) -> None:
    """``env`` and ``other`` answer the same random admissible actions identically."""
    for _ in range(steps):
        action = chooser.choice(env.unwrapped._admissible_texts() or ["nothing"])
        first, second = env.step(action), other.step(action)
        assert first[:4] == second[:4] and first[4] == second[4]
        if first[2] or first[3]:
            break
