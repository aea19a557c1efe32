"""TextWorld family speed and hygiene figures.

Run: ``python benchmarks/bench_textworld.py`` (games come from the cache; the first run generates
them). Prints:

1. step time of ``gym.make("llm_gym/TextWorld-v0")`` against the raw engine (``textworld.start``
   with the same ``EnvInfos``) on the same game and the same commands (target: ratio <= 1.1);
2. reset time for cached games (target: under 50 ms);
3. ``gym.make_vec`` async with 2 workers against sync (target: >= 1.6x throughput), measured, and
   projected from the CPU time of each process for two idle cores (on a shared machine the wall
   clock says little about parallelism, so the free cores are measured too);
4. open files, child processes and RSS before and after 1,000 resets (target: no growth).
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import statistics
import time

import gymnasium as gym
import numpy as np

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


def _cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def vector_throughput(mode: str, preset: str, steps: int, seed: int) -> tuple[float, float]:
    """Env-steps per second of ``make_vec`` with 2 envs, and the env-steps per second the CPU time
    spent would allow on two idle cores (main process plus the slower worker, per batch)."""
    envs = gym.make_vec(ENV_ID, num_envs=2, vectorization_mode=mode, difficulty=preset, max_turns=ENDLESS)
    _, info = envs.reset(seed=seed)
    chooser = random.Random(seed)
    pids = [os.getpid()] + [process.pid for process in getattr(envs, "processes", [])]

    def actions(info):
        return tuple(chooser.choice([a for a in info["admissible_actions"][i] if a.split()[0] in SAFE_VERBS]) for i in range(2))

    for _ in range(10):  # warm up
        _, _, _, _, info = envs.step(actions(info))
    cpu_before = [_cpu_seconds(pid) for pid in pids]
    start = time.perf_counter()
    for _ in range(steps):
        _, _, terminated, truncated, info = envs.step(actions(info))
        assert not np.any(terminated | truncated)
    elapsed = time.perf_counter() - start
    cpu = [_cpu_seconds(pid) - before for pid, before in zip(pids, cpu_before)]
    envs.close()
    idle_wall = cpu[0] + max(cpu[1:], default=0.0)
    return 2 * steps / elapsed, 2 * steps / idle_wall


def _spin(loops: int) -> float:
    start = time.perf_counter()
    total = 0
    for index in range(loops):
        total += index
    return time.perf_counter() - start


def free_cores(loops: int = 5_000_000) -> float:
    """How many cores this machine gives two busy processes right now (2.0 on two idle cores)."""
    import multiprocessing

    alone = _spin(loops)
    with multiprocessing.get_context("fork").Pool(2) as pool:
        together = pool.map(_spin, [loops, loops])
    return 2 * alone / max(together)


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
    cores = free_cores()
    for preset in (PRESET, "expert"):
        measured, projected = [], []
        for seed in range(args.rounds):  # interleaved, so both modes see the same machine load
            sync, sync_idle = vector_throughput("sync", preset, args.steps, seed)
            asynchronous, async_idle = vector_throughput("async", preset, args.steps, seed)
            measured.append(asynchronous / sync)
            projected.append(async_idle / sync_idle)
            print(f"  {preset} seed {seed}: sync {sync:.0f} env-steps/s, async {asynchronous:.0f} env-steps/s")
        print(
            f"make_vec 2 envs, {preset}: async / sync median {statistics.median(measured):.2f}x measured, "
            f"{statistics.median(projected):.2f}x from CPU time on two idle cores (target >= 1.6x)"
        )
    print(f"free cores for two busy processes: {cores:.2f} of 2 before, {free_cores():.2f} after")
    before, after = leak_check(args.resets)
    print(
        f"{args.resets} resets: open fds {before[0]} -> {after[0]}, child processes {before[1]} -> {after[1]}, "
        f"RSS {before[2] / 1024:.1f} -> {after[2] / 1024:.1f} MiB"
    )


if __name__ == "__main__":
    main()
