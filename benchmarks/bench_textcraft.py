"""TextCraft speed: oracle-driven steps per second through gym.make, and reset time at `expert`.

Targets (issue 2): at least 20,000 steps/s, and reset at `expert` within 5 ms (medians).

    python benchmarks/bench_textcraft.py
"""

from __future__ import annotations

import statistics
import time

import gymnasium as gym

import llm_gym  # noqa: F401
from llm_gym.testing import oracle_actions


def oracle_episodes(env_id: str, difficulty: str, seeds: range) -> list[tuple[int, list[str]]]:
    """Each seed's oracle episode as text actions, computed ahead so only `step` is timed."""
    env = gym.make(env_id, difficulty=difficulty)
    return [(seed, oracle_actions(env, seed)) for seed in seeds]


def steps_per_second(env_id: str, difficulty: str, repeats: int = 5) -> list[float]:
    episodes = oracle_episodes(env_id, difficulty, range(200))
    env = gym.make(env_id, difficulty=difficulty)
    rates = []
    for _ in range(repeats):
        steps, elapsed = 0, 0.0
        for seed, actions in episodes:
            env.reset(seed=seed)
            step = env.step
            start = time.perf_counter()
            for action in actions:
                step(action)
            elapsed += time.perf_counter() - start
            steps += len(actions)
        rates.append(steps / elapsed)
    return rates


def steps_per_second_with_oracle(env_id: str, difficulty: str) -> float:
    """Steps/s when the oracle is asked for every move inside the timed loop."""
    env = gym.make(env_id, difficulty=difficulty)
    unwrapped = env.unwrapped
    steps, start = 0, time.perf_counter()
    for seed in range(200):
        env.reset(seed=seed)
        done = False
        while not done:
            _, _, terminated, truncated, _ = env.step(unwrapped.format_command(unwrapped.oracle_action()))
            done = terminated or truncated
            steps += 1
    return steps / (time.perf_counter() - start)


def reset_milliseconds(env_id: str, difficulty: str, count: int = 500) -> list[float]:
    env = gym.make(env_id, difficulty=difficulty)
    times = []
    for seed in range(count):
        start = time.perf_counter()
        env.reset(seed=seed)
        times.append((time.perf_counter() - start) * 1000)
    return times


def main() -> None:
    env_id = "llm_gym/TextCraft-v0"
    for difficulty in ("easy", "expert"):
        rates = steps_per_second(env_id, difficulty)
        print(f"{difficulty:>6}: step (oracle actions precomputed)  median {statistics.median(rates):>9,.0f} steps/s")
        print(
            f"{difficulty:>6}: step + oracle_action() each move   {steps_per_second_with_oracle(env_id, difficulty):>9,.0f} steps/s"
        )
    for difficulty in ("easy", "expert"):
        times = reset_milliseconds(env_id, difficulty)
        print(
            f"{difficulty:>6}: reset median {statistics.median(times):.3f} ms, p95 {sorted(times)[int(0.95 * len(times))]:.3f} ms"
        )


if __name__ == "__main__":
    main()
