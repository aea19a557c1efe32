"""Overhead of wrapper stacks: oracle steps per second, bare and through stacks, per family.

Run: python benchmarks/bench_wrappers.py [episodes]
"""

from __future__ import annotations

import sys
import time

import llm_gym
from llm_gym.presentation import presentation_of
from llm_gym.registry import env_class
from llm_gym.wrappers import make

STACKS = [
    (None, None),
    ("json+toolcall", None),
    ("markdown+react", "made-up"),
    ("kv+index", None),
    ("json+toolcall+history", "made-up"),
]


def steps_per_second(env_id: str, interface: str | None, semantics: str | None, episodes: int) -> tuple[float, float]:
    preset = list(env_class(env_id).presets)[1]
    env = make(env_id, interface=interface, semantics=semantics, difficulty=preset)
    write = presentation_of(env).format_command
    env.reset(seed=0)  # warm caches (TextWorld compiles a game once)
    steps, resets, start = 0, 0.0, time.perf_counter()
    for seed in range(episodes):
        began = time.perf_counter()
        env.reset(seed=seed % 4)
        resets += time.perf_counter() - began
        while True:
            *_, terminated, truncated, _ = env.step(write(env.unwrapped.oracle_action()))
            steps += 1
            if terminated or truncated:
                break
    elapsed = time.perf_counter() - start
    return steps / (elapsed - resets), 1000 * resets / episodes


def main(episodes: int = 20) -> None:
    print(f"oracle episodes per cell: {episodes}; second preset of each family; steps/s exclude resets")
    print(f"{'family':<12} {'stack':<40} {'steps/s':>9} {'reset ms':>9}")
    for env_id in llm_gym.env_ids():
        for interface, semantics in STACKS:
            rate, reset_ms = steps_per_second(env_id, interface, semantics, episodes)
            stack = f"{interface or 'native'} | {semantics or '-'}"
            print(f"{env_class(env_id).family:<12} {stack:<40} {rate:>9.0f} {reset_ms:>9.1f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20)
