"""Household speed: steps per second through ``gym.make`` with oracle actions, and reset time.

Targets: at least 20,000 steps/s; reset at the hardest preset within 5 ms.

    python benchmarks/bench_household.py [--episodes 300] [--resets 500]
"""

from __future__ import annotations

import argparse
import statistics
import time

import gymnasium as gym

import llm_gym  # noqa: F401  (registers the families)

ENV_ID = "llm_gym/Household-v0"


def steps_per_second(preset: str, episodes: int) -> tuple[float, float]:
    """Oracle steps per second, timing ``step`` plus choosing and writing the oracle's command
    (and, for the second figure, the resets too)."""
    env = gym.make(ENV_ID, difficulty=preset)
    oracle, write = env.unwrapped.oracle_action, env.unwrapped.format_command
    stepping = total = 0.0
    steps = 0
    for seed in range(episodes):
        start = time.perf_counter()
        env.reset(seed=seed)
        stepped = time.perf_counter()
        done = False
        while not done:
            _, _, terminated, truncated, _ = env.step(write(oracle()))
            done = terminated or truncated
            steps += 1
        end = time.perf_counter()
        stepping += end - stepped
        total += end - start
    env.close()
    return steps / stepping, steps / total


def reset_times(preset: str, resets: int) -> dict[str, float]:
    """Milliseconds per ``reset`` (task generation, planning, the first observation)."""
    env = gym.make(ENV_ID, difficulty=preset)
    env.reset(seed=0)
    wall, cpu = [], []
    for seed in range(resets):
        start, start_cpu = time.perf_counter(), time.process_time()
        env.reset(seed=seed)
        wall.append((time.perf_counter() - start) * 1000)
        cpu.append((time.process_time() - start_cpu) * 1000)
    env.close()
    wall.sort()
    return {
        "mean": statistics.mean(wall),
        "median": statistics.median(wall),
        "p99": wall[int(0.99 * (len(wall) - 1))],
        "max": wall[-1],
        "cpu_mean": statistics.mean(cpu),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=300)
    parser.add_argument("--resets", type=int, default=500)
    args = parser.parse_args()
    print(f"{'preset':8} {'steps/s (step only)':>20} {'steps/s (with resets)':>22}")
    for preset in ("easy", "medium", "hard", "expert"):
        stepping, overall = steps_per_second(preset, args.episodes)
        print(f"{preset:8} {stepping:20,.0f} {overall:22,.0f}")
    print()
    for preset in ("easy", "expert"):
        figures = reset_times(preset, args.resets)
        print(
            f"reset {preset:7} ms: mean {figures['mean']:.3f}  median {figures['median']:.3f}  "
            f"p99 {figures['p99']:.3f}  max {figures['max']:.3f}  (cpu mean {figures['cpu_mean']:.3f})"
        )


if __name__ == "__main__":
    main()
