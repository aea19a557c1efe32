"""Shop speed: reset time at `expert` (catalogue and BM25 index included) and steps per second.

Targets: issue 5, reset at the hardest preset, index included, within 20 ms and at least 5,000
steps/s; issue 19, a fresh reset at `expert` under 5 ms and a step under 30 us (median), printed
first with TextCraft's and Household's steps measured in the same blocks as yardsticks. A fresh
task seed builds its world (catalogue, then index); a repeated seed hits the per-world cache, as
the rollouts of one task in a GRPO group do.

    python benchmarks/bench_shop.py
"""

from __future__ import annotations

import os
import random
import statistics
import time

import gymnasium as gym
from common import median_step_us

import llm_gym  # noqa: F401
from llm_gym.testing import oracle_actions

ENV_ID = "llm_gym/Shop-v0"


def reset_times(difficulty: str, seeds: range, clock=time.perf_counter) -> tuple[list[float], list[float]]:
    """Seconds per reset for fresh worlds, then for the same seeds again (cached worlds).

    ``seeds`` should be fewer than the world cache holds (64), as a GRPO batch's tasks are.
    """
    env = gym.make(ENV_ID, difficulty=difficulty)
    env.reset(options={"task_seed": 0})  # imports bm25s once
    fresh, cached = [], []
    for times in (fresh, cached):
        for seed in seeds:
            start = clock()
            env.reset(options={"task_seed": seed})
            times.append(clock() - start)
    return fresh, cached


def oracle_steps_per_second(difficulty: str, seeds: range, clock=time.perf_counter) -> float:
    """Steps/s replaying each seed's oracle episode (actions computed ahead, only `step` timed)."""
    env = gym.make(ENV_ID, difficulty=difficulty)
    episodes = [(seed, oracle_actions(env, seed)) for seed in seeds]
    steps, elapsed = 0, 0.0
    for seed, actions in episodes:
        env.reset(seed=seed)
        start = clock()
        for action in actions:
            env.step(action)
        elapsed += clock() - start
        steps += len(actions)
    return steps / elapsed


def random_steps_per_second(difficulty: str, steps: int = 20_000, clock=time.perf_counter) -> float:
    """Steps/s of a random agent over the admissible actions: searches, paging, items, options."""
    env = gym.make(ENV_ID, difficulty=difficulty)
    chooser = random.Random(0)
    _, info = env.reset(seed=0)
    elapsed = 0.0
    for _ in range(steps):
        action = chooser.choice(info["admissible_actions"])
        start = clock()
        _, _, terminated, truncated, info = env.step(action)
        elapsed += clock() - start
        if terminated or truncated:
            _, info = env.reset(seed=chooser.randrange(50))  # a few worlds, as in a training batch
    return steps / elapsed


def main() -> None:
    """Wall-clock figures, then CPU time (``process_time``), which other load on a shared machine distorts less."""
    print(f"load average {' '.join(f'{load:.2f}' for load in os.getloadavg())} on {os.cpu_count()} cores")
    steps = median_step_us(ENV_ID)
    print("median step, random admissible policy at expert: " + ", ".join(f"{k} {v:.1f} us" for k, v in steps.items()))
    for label, clock in (("wall", time.perf_counter), ("cpu", time.process_time)):
        for difficulty in ("easy", "expert"):
            for start in (1_000, 2_000):
                fresh, cached = reset_times(difficulty, range(start, start + 50), clock)
                print(
                    f"[{label}] reset {difficulty:>6}: fresh world median {1000 * statistics.median(fresh):.1f} ms "
                    f"(p90 {1000 * statistics.quantiles(fresh, n=10)[-1]:.1f} ms); "
                    f"cached world median {1000 * statistics.median(cached):.2f} ms"
                )
        for difficulty in ("easy", "expert"):
            oracle = oracle_steps_per_second(difficulty, range(200), clock)
            randomly = random_steps_per_second(difficulty, clock=clock)
            print(
                f"[{label}] steps/s {difficulty:>6}: oracle episodes {oracle:,.0f}; random admissible actions {randomly:,.0f}"
            )


if __name__ == "__main__":
    main()
