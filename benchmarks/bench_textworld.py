"""TextWorld family speed and hygiene figures.

Run: ``python benchmarks/bench_textworld.py`` (games come from the cache; the first run generates
them). Prints:

1. step time of ``gym.make("llm_gym/TextWorld-v0")`` against the raw engine (``textworld.start``
   with the same ``EnvInfos``) on the same game and the same commands (target: ratio <= 1.1);
2. reset time for cached games (target: under 50 ms);
3. ``gym.make_vec`` async with 2 workers against sync (target: >= 1.6x throughput), with the two
   bounds that explain it: lock-step (each batch waits for the slower game's step, and steps
   cost 1-5 ms by verb), and Gymnasium's per-batch machinery on this machine, measured with a
   constant-cost stand-in env carrying the same observation and ``info``; and, each round, how
   much two busy processes get done against one (this VM's second core comes and goes);
4. open files, child processes and RSS before and after 1,000 resets (target: no growth).
"""

from __future__ import annotations

import argparse
import functools
import gc
import os
import random
import statistics
import time

import gymnasium as gym
import numpy as np
from common import ConstantCostStandIn, free_cores, loops_for

import llm_gym  # noqa: F401  (registers the ids)
from llm_gym.families import textworld_games as tw

ENV_ID = "llm_gym/TextWorld-v0"
PRESET = "medium"  # treasure_hunter: commands without `take` never end an episode
ENDLESS = 1_000_000


def game_path(seed: int) -> str:
    """The compiled game that ``reset(seed=seed)`` plays."""
    env = gym.make(ENV_ID, difficulty=PRESET)
    env.reset(seed=seed)
    path = env.unwrapped.task.path
    env.close()
    return path


def endless_commands(seed: int, count: int) -> list[str]:
    """Random admissible commands that never end the game (no `take`), from the raw engine."""
    engine = tw._start_engine(game_path(seed))
    state = engine.reset()
    chooser, commands = random.Random(seed), []
    for _ in range(count):
        command = chooser.choice([c for c in state["admissible_commands"] if not c.startswith("take")])
        commands.append(command)
        state, _, done = engine.step(command)
        assert not done
    engine.close()
    return commands


def step_ratio(seed: int, steps: int, rounds: int) -> tuple[float, float, float]:
    commands = endless_commands(seed, steps)
    env = gym.make(ENV_ID, difficulty=PRESET, max_turns=ENDLESS)
    env.reset(seed=seed)
    path = env.unwrapped.task.path
    raw_times, our_times = [], []
    for _ in range(rounds):
        engine = tw._start_engine(path)
        engine.reset()
        start = time.perf_counter()
        for command in commands:
            engine.step(command)
        raw_times.append((time.perf_counter() - start) / steps)
        engine.close()
        env.reset(seed=seed)
        start = time.perf_counter()
        for command in commands:
            env.step(command)
        our_times.append((time.perf_counter() - start) / steps)
    env.close()
    raw, ours = statistics.median(raw_times), statistics.median(our_times)
    return raw, ours, ours / raw


def cached_reset(seeds: list[int], rounds: int) -> tuple[float, float]:
    env = gym.make(ENV_ID, difficulty=PRESET)
    for seed in seeds:
        env.reset(seed=seed)  # generate into the cache if needed
    same, switching = [], []
    for index in range(rounds):
        start = time.perf_counter()
        env.reset(seed=seeds[0])
        same.append(time.perf_counter() - start)
        start = time.perf_counter()
        env.reset(seed=seeds[index % len(seeds)])
        switching.append(time.perf_counter() - start)
    env.close()
    return statistics.median(same), statistics.median(switching)


SAFE_VERBS = ("go", "open", "close", "examine", "look", "inventory")  # never win or lose a game


class StepTimer(gym.Wrapper):
    """Records how long each ``step`` of the wrapped env takes, in this process."""

    def __init__(self, env: gym.Env):
        super().__init__(env)
        self.step_seconds: list[float] = []

    def step(self, action):
        start = time.perf_counter()
        result = self.env.step(action)
        self.step_seconds.append(time.perf_counter() - start)
        return result


def textworld_throughput(mode: str, preset: str, steps: int, seed: int) -> tuple[float, float]:
    """Env-steps per second of ``make_vec`` with 2 envs, and (sync only, else nan) the speed-up
    that lock-step allows: the sum over batches of both envs' step times over the sum of the
    slower one's, since async waits for the slower env of each batch."""
    envs = gym.make_vec(
        ENV_ID, num_envs=2, vectorization_mode=mode, wrappers=[StepTimer], difficulty=preset, max_turns=ENDLESS
    )
    _, info = envs.reset(seed=seed)
    chooser = random.Random(seed)

    def actions(info):
        return tuple(
            chooser.choice([a for a in info["admissible_actions"][i] if a.split()[0] in SAFE_VERBS]) for i in range(2)
        )

    for _ in range(10):  # warm up
        _, _, _, _, info = envs.step(actions(info))
    start = time.perf_counter()
    for _ in range(steps):
        _, _, terminated, truncated, info = envs.step(actions(info))
        assert not np.any(terminated | truncated)
    elapsed = time.perf_counter() - start
    lock_step = float("nan")
    if mode == "sync":
        times = np.array([env.step_seconds[-steps:] for env in envs.envs])
        lock_step = times.sum() / times.max(axis=0).sum()
    envs.close()
    return 2 * steps / elapsed, lock_step


def stand_in_throughput(mode: str, loops: int, observation: str, info: dict, steps: int) -> float:
    make = functools.partial(ConstantCostStandIn, loops, observation, info)
    vector = gym.vector.SyncVectorEnv if mode == "sync" else gym.vector.AsyncVectorEnv
    envs = vector([make, make])
    envs.reset(seed=0)
    for _ in range(10):
        envs.step(np.zeros(2, dtype=int))
    start = time.perf_counter()
    for _ in range(steps):
        envs.step(np.zeros(2, dtype=int))
    elapsed = time.perf_counter() - start
    envs.close()
    return 2 * steps / elapsed


def vector_speedup(preset: str, steps: int, rounds: int) -> dict[str, float]:
    """Median async / sync speed-ups, TextWorld's and its stand-in's, over interleaved rounds (so
    all see the same machine load), with TextWorld's lock-step bound."""
    env = gym.make(ENV_ID, difficulty=preset)
    observation, info = env.reset(seed=0)
    env.close()
    figures: dict[str, list[float]] = {
        "textworld": [],
        "lock_step": [],
        "stand_in": [],
        "step_ms": [],
        "free_cores": [],
    }
    for seed in range(rounds):
        sync, lock_step = textworld_throughput("sync", preset, steps, seed)
        asynchronous, _ = textworld_throughput("async", preset, steps, seed)
        step_seconds = 1 / sync  # the mean step, batching included, as the stand-in's cost
        loops = loops_for(step_seconds, calibration=2_000_000)
        stand_in = stand_in_throughput("async", loops, observation, info, steps) / stand_in_throughput(
            "sync", loops, observation, info, steps
        )
        cores = free_cores(3_000_000)
        for name, value in zip(figures, (asynchronous / sync, lock_step, stand_in, step_seconds * 1e3, cores)):
            figures[name].append(value)
        print(
            f"  {preset} seed {seed}: sync {sync:.0f} env-steps/s, async {asynchronous:.0f} env-steps/s "
            f"({asynchronous / sync:.2f}x); stand-in {stand_in:.2f}x; two busy processes {cores:.2f}x one"
        )
    return {name: statistics.median(values) for name, values in figures.items()}


def resources() -> tuple[int, int, int]:
    pid = os.getpid()
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    children = 0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    children += int(stat.read().rsplit(")", 1)[1].split()[1]) == pid
            except OSError:
                pass
    with open(f"/proc/{pid}/status") as status:
        rss = next(int(line.split()[1]) for line in status if line.startswith("VmRSS"))
    return fds, children, rss


def leak_check(resets: int) -> tuple[tuple, tuple]:
    env = gym.make(ENV_ID, difficulty="easy")
    for seed in (0, 1):
        env.reset(seed=seed)
    for seed in range(20):  # let allocator pools settle before the baseline
        env.reset(seed=seed % 2)
    gc.collect()
    before = resources()
    for index in range(resets):
        env.reset(seed=index % 2)
        env.step(env.unwrapped.format_command(env.unwrapped.oracle_action()))
    gc.collect()
    after = resources()
    env.close()
    return before, after


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--resets", type=int, default=1000)
    args = parser.parse_args()

    raw, ours, ratio = step_ratio(0, args.steps, args.rounds)
    print(f"step: raw textworld {raw * 1e3:.3f} ms, llm_gym {ours * 1e3:.3f} ms, ratio {ratio:.3f} (target <= 1.1)")
    same, switching = cached_reset([0, 1, 2], 30)
    print(f"cached reset: same game {same * 1e3:.1f} ms, other game {switching * 1e3:.1f} ms (target < 50 ms)")
    for preset in (PRESET, "expert"):
        figures = vector_speedup(preset, args.steps, args.rounds)
        lock_step, stand_in = figures["lock_step"], figures["stand_in"]
        print(
            f"make_vec 2 envs, {preset} ({figures['step_ms']:.1f} ms steps): async / sync {figures['textworld']:.2f}x "
            f"(target >= 1.6x); bounds on this machine: {lock_step:.2f}x from lock-step (each batch waits for the "
            f"slower env), {stand_in:.2f}x for a constant-cost stand-in with the same payload, "
            f"{2 / (2 / lock_step + 2 / stand_in - 1):.2f}x both together; two busy processes get "
            f"{figures['free_cores']:.2f}x one's throughput (medians over rounds)"
        )
    before, after = leak_check(args.resets)
    print(
        f"{args.resets} resets: open fds {before[0]} -> {after[0]}, child processes {before[1]} -> {after[1]}, "
        f"RSS {before[2] / 1024:.1f} -> {after[2] / 1024:.1f} MiB"
    )


if __name__ == "__main__":
    main()
