"""Memory: what one live env holds per family, and many envs in one process stepping without growth.

1. Per live env: ``--envs`` envs of a family made through ``gym.make``, each reset to its own task
   (a distinct task seed) and stepped a few random admissible actions, held at once; the growth of
   this process's resident memory (RSS) divided by their number, and the Python heap's growth
   (``tracemalloc``, numpy's arrays included) for comparison.
2. Scale: ``--concurrent`` envs (default 1,000) of each family live in one process and take
   ``--steps`` steps in all (default 100,000), round robin, each a random admissible action, each
   env resetting to a task drawn from ``--tasks`` seeds (default 5,000, more than any world
   cache holds) when its episode ends. RSS is sampled after a fifth of the steps (the caches have
   filled by then) and at the end: the target is no growth between them.

Run: python benchmarks/bench_memory.py [--envs 100] [--concurrent 1000] [--steps 100000] [--families ...]
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import time
import tracemalloc

import gymnasium as gym

import llm_gym  # noqa: F401  (registers the ids)

FAMILIES = ("TextCraft", "Household", "Shop", "SearchQA", "BabyAI", "TextWorld")
PRESET = "medium"
# TextWorld: each env runs its own interpreter, each new task compiles a game (seconds) and a step
# costs milliseconds, so its runs hold at most 20 envs for the per-env figure and 100 at once,
# over 20 games, for 20,000 steps.
TEXTWORLD_LIMITS = {"envs": 20, "concurrent": 100, "tasks": 20, "steps": 20_000}


def rss_mib() -> float:
    """This process's resident memory, in MiB (Linux ``/proc``)."""
    with open(f"/proc/{os.getpid()}/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS")) / 1024


def per_env(family: str, count: int, seed: int = 10_000) -> tuple[float, float]:
    """MiB of RSS and of Python heap per live env: ``count`` envs, each on its own task."""
    warm = gym.make(f"llm_gym/{family}-v0", difficulty=PRESET)  # imports and one-time tables come first
    warm.reset(options={"task_seed": seed - 1})
    gc.collect()
    tracemalloc.start()
    heap_before, rss_before = tracemalloc.get_traced_memory()[0], rss_mib()
    chooser, envs = random.Random(seed), []
    for index in range(count):
        env = gym.make(f"llm_gym/{family}-v0", difficulty=PRESET)
        _, info = env.reset(options={"task_seed": seed + index})
        for _ in range(3):
            _, _, terminated, truncated, info = env.step(chooser.choice(info["admissible_actions"] or ["look"]))
            if terminated or truncated:
                break
        envs.append(env)
    gc.collect()
    heap, rss = tracemalloc.get_traced_memory()[0], rss_mib()
    tracemalloc.stop()
    for env in envs + [warm]:
        env.close()
    return (rss - rss_before) / count, (heap - heap_before) / 2**20 / count


def scale(family: str, concurrent: int, steps: int, tasks: int, seed: int = 20_000) -> dict[str, float]:
    """RSS after a fifth of ``steps`` and at the end, ``concurrent`` envs stepping round robin."""
    chooser = random.Random(seed)
    envs, infos = [], []
    start = time.perf_counter()
    for _ in range(concurrent):
        env = gym.make(f"llm_gym/{family}-v0", difficulty=PRESET)
        infos.append(env.reset(options={"task_seed": chooser.randrange(tasks)})[1])
        envs.append(env)
    made = time.perf_counter() - start
    sampled, episodes = {}, 0
    start = time.perf_counter()
    for step in range(steps):
        index = step % concurrent
        _, _, terminated, truncated, infos[index] = envs[index].step(
            chooser.choice(infos[index]["admissible_actions"] or ["look"])
        )
        if terminated or truncated:
            infos[index] = envs[index].reset(options={"task_seed": chooser.randrange(tasks)})[1]
            episodes += 1
        if step + 1 in (steps // 5, steps):
            gc.collect()
            sampled[step + 1] = rss_mib()
    elapsed = time.perf_counter() - start
    for env in envs:
        env.close()
    first, last = sampled[steps // 5], sampled[steps]
    return {"made_s": made, "steps_s": elapsed, "episodes": episodes, "rss_first": first, "rss_last": last}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--envs", type=int, default=100, help="live envs for the per-env figure")
    parser.add_argument("--concurrent", type=int, default=1000, help="envs live at once in the scale run")
    parser.add_argument("--steps", type=int, default=100_000, help="steps in all in the scale run")
    parser.add_argument("--tasks", type=int, default=5_000, help="task seeds the scale run's resets draw from")
    parser.add_argument("--families", nargs="+", default=list(FAMILIES), choices=FAMILIES)
    parser.add_argument("--skip-scale", action="store_true", help="only the per-env figures")
    args = parser.parse_args()
    print(f"preset {PRESET!r}; RSS at start {rss_mib():.0f} MiB; load average {os.getloadavg()[0]:.2f}")
    limits = {
        family: {"envs": args.envs, "concurrent": args.concurrent, "tasks": args.tasks, "steps": args.steps}
        for family in FAMILIES
    }
    limits["TextWorld"] = {key: min(value, TEXTWORLD_LIMITS[key]) for key, value in limits["TextWorld"].items()}
    for family in args.families:
        count = limits[family]["envs"]
        rss, heap = per_env(family, count)
        print(f"  {family:9s} per live env: {rss:6.2f} MiB RSS, {heap:6.2f} MiB Python heap ({count} envs)", flush=True)
    if args.skip_scale:
        return
    for family in args.families:
        concurrent, tasks, steps = (limits[family][key] for key in ("concurrent", "tasks", "steps"))
        row = scale(family, concurrent, steps, tasks)
        growth = row["rss_last"] - row["rss_first"]
        print(
            f"  {family:9s} {concurrent} envs, {steps} steps over {tasks} tasks ({row['episodes']} episodes, made in "
            f"{row['made_s']:.0f} s, stepped in {row['steps_s']:.0f} s): RSS {row['rss_first']:.0f} MiB after "
            f"{steps // 5} steps -> {row['rss_last']:.0f} MiB at the end ({growth:+.1f} MiB)",
            flush=True,
        )


if __name__ == "__main__":
    main()
