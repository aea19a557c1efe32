"""SearchQA speed: reset time at `expert` (world, documents and BM25 index built) and steps per second.

Targets: issue 5, reset at the hardest preset, index included, within 20 ms, at least 5,000 steps/s;
issue 19, a fresh ("cold") reset at `expert` under 5 ms and a step under 30 us (median), printed first
with TextCraft's and Household's steps measured in the same blocks as yardsticks.
A reset of a seed not seen recently builds the world and its index ("cold"); a reset of a seed in the
cache (the same task again, as when a group of rollouts shares a task) reuses them ("warm").
Each figure is given by the wall clock and by this process's CPU time: on a shared, loaded machine
the CPU-time figure is what the code costs, the wall-clock one what this run happened to get.

    python benchmarks/bench_searchqa.py
"""

from __future__ import annotations

import os
import random
import statistics
import time

import gymnasium as gym
from common import median_step_us

import llm_gym  # noqa: F401
from llm_gym.families.searchqa import generate_task
from llm_gym.testing import oracle_actions

ENV_ID = "llm_gym/SearchQA-v0"


CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


def reset_milliseconds(difficulty: str, seeds: range, clear: bool, clock: str) -> list[float]:
    env = gym.make(ENV_ID, difficulty=difficulty)
    if clear:
        generate_task.cache_clear()
    now, times = CLOCKS[clock], []
    for seed in seeds:
        start = now()
        env.reset(seed=seed)
        times.append((now() - start) * 1000)
    return times


def oracle_steps_per_second(difficulty: str, seeds: range) -> dict[str, float]:
    """Oracle episodes with the actions computed ahead, so only `step` is timed."""
    env = gym.make(ENV_ID, difficulty=difficulty)
    episodes = [(seed, oracle_actions(env, seed)) for seed in seeds]
    steps, elapsed = 0, dict.fromkeys(CLOCKS, 0.0)
    for seed, actions in episodes:
        env.reset(seed=seed)
        start = {clock: now() for clock, now in CLOCKS.items()}
        for action in actions:
            env.step(action)
        for clock, now in CLOCKS.items():
            elapsed[clock] += now() - start[clock]
        steps += len(actions)
    return {clock: steps / seconds for clock, seconds in elapsed.items()}


def mixed_steps_per_second(difficulty: str, seeds: int, steps: int, distinct: bool) -> dict[str, float]:
    """A policy that plays an admissible action 70% of the time and the oracle's otherwise
    (``distinct=False``), or searches a new query every step (``distinct=True``: every search runs
    BM25 and the documents seen, hence the admissible actions, keep growing). Resets included."""
    env = gym.make(ENV_ID, difficulty=difficulty)
    unwrapped = env.unwrapped
    rng = random.Random(0)
    for seed in range(seeds):
        env.reset(seed=seed)
    _, info = env.reset(seed=0)
    start = {clock: now() for clock, now in CLOCKS.items()}
    for step in range(steps):
        if distinct:
            action = f"<search> {rng.choice(info['entities'])} {rng.choice(info['entities'])} </search>"
        elif rng.random() < 0.7:
            action = rng.choice(info["admissible_actions"])
        else:
            action = unwrapped.format_command(unwrapped.oracle_action())
        _, _, terminated, truncated, info = env.step(action)
        if terminated or truncated:
            _, info = env.reset(seed=step % seeds)
    return {clock: steps / (now() - start[clock]) for clock, now in CLOCKS.items()}


def main() -> None:
    print(f"load average {' '.join(f'{load:.2f}' for load in os.getloadavg())} on {os.cpu_count()} cores")
    steps = median_step_us(ENV_ID)
    print("median step, random admissible policy at expert: " + ", ".join(f"{k} {v:.1f} us" for k, v in steps.items()))
    for difficulty in ("easy", "expert"):
        for clock in CLOCKS:
            cold = reset_milliseconds(difficulty, range(1000, 1200), clear=True, clock=clock)
            warm = reset_milliseconds(difficulty, range(1150, 1200), clear=False, clock=clock)
            print(
                f"{difficulty:>6} ({clock:>4}): reset cold median {statistics.median(cold):6.2f} ms, "
                f"p95 {sorted(cold)[int(0.95 * len(cold))]:6.2f} ms; warm median {statistics.median(warm):.3f} ms"
            )
    for difficulty in ("easy", "expert"):
        runs = {
            "oracle episodes (actions precomputed)": oracle_steps_per_second(difficulty, range(200)),
            "70% admissible / 30% oracle, resets": mixed_steps_per_second(difficulty, 40, 20_000, distinct=False),
            "a new search every step (worst case)": mixed_steps_per_second(difficulty, 40, 5_000, distinct=True),
        }
        for name, rates in runs.items():
            print(f"{difficulty:>6}: {name:<38} {rates['cpu']:>7,.0f} steps/s (cpu), {rates['wall']:>7,.0f} (wall)")


if __name__ == "__main__":
    main()
