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


def steps_per_second(preset: str, episodes: int) -> dict[str, float]:
    """Oracle steps per second, timing ``step`` plus choosing and writing the oracle's command,
    in wall-clock and in CPU time (this process only: robust to other work on the machine), and
    with the resets counted in."""
    env = gym.make(ENV_ID, difficulty=preset)
    oracle, write = env.unwrapped.oracle_action, env.unwrapped.format_command
    wall = cpu = total = 0.0
    steps = 0
    for seed in range(episodes):
        start = time.perf_counter()
        env.reset(seed=seed)
        stepped, stepped_cpu = time.perf_counter(), time.process_time()
        done = False
        while not done:
            _, _, terminated, truncated, _ = env.step(write(oracle()))
            done = terminated or truncated
            steps += 1
        end = time.perf_counter()
        cpu += time.process_time() - stepped_cpu
        wall += end - stepped
        total += end - start
    env.close()
    return {"wall": steps / wall, "cpu": steps / cpu, "with_resets": steps / total}


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
    cpu.sort()
    return {
        "mean": statistics.mean(wall),
        "median": statistics.median(wall),
        "p99": wall[int(0.99 * (len(wall) - 1))],
        "max": wall[-1],
        "cpu_mean": statistics.mean(cpu),
        "cpu_p99": cpu[int(0.99 * (len(cpu) - 1))],
        "cpu_max": cpu[-1],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=300)
    parser.add_argument("--resets", type=int, default=500)
    args = parser.parse_args()
    print(f"{'preset':8} {'steps/s wall':>13} {'steps/s cpu':>12} {'wall, resets counted':>21}")
    for preset in ("easy", "medium", "hard", "expert"):
        figures = steps_per_second(preset, args.episodes)
        print(f"{preset:8} {figures['wall']:13,.0f} {figures['cpu']:12,.0f} {figures['with_resets']:21,.0f}")
    print()
    for preset in ("easy", "expert"):
        figures = reset_times(preset, args.resets)
        print(
            f"reset {preset:7} ms: mean {figures['mean']:.3f}  median {figures['median']:.3f}  "
            f"p99 {figures['p99']:.3f}  max {figures['max']:.3f}  | cpu: mean {figures['cpu_mean']:.3f}  "
            f"p99 {figures['cpu_p99']:.3f}  max {figures['cpu_max']:.3f}"
        )


if __name__ == "__main__":
    main()
