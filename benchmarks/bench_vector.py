"""Vector envs: ``gym.make_vec`` async against sync for every family, with what bounds the speed-up.

For each family, ``--workers`` envs step a uniform-random admissible policy (the actions drawn in
this process from the batch's ``info["admissible_actions"]``), first in one process (sync), then
one process per env (async), in interleaved rounds so both see the same machine load. Printed per
family: env-steps per second each way and their ratio (target: 1.6x with 2 workers, on a machine
that gives the benchmark two free cores), next to the three bounds that explain it:

- lock-step: each batch waits for its slowest env, so async can gain at most the sum of all envs'
  step times over the sum of the slowest ones (measured on the sync run's per-env step times);
- Gymnasium's per-batch machinery on this machine: the async / sync ratio of a stand-in env that
  spins for the family's mean step time and returns the family's own observation and ``info``;
- the cores: how much two busy processes get done against one, right now (2.0 on an idle machine).

Autoreset: Gymnasium's default ("next step") spends the step after an episode's end on a reset
alone, while the other envs of the batch wait; ``--autoreset same-step`` resets within the step that
ends the episode instead, ``disabled`` leaves it to the caller. The default run compares the two
modes that need no caller code.

Run: python benchmarks/bench_vector.py [--workers 2] [--steps 300] [--rounds 3] [--families ...]
"""

from __future__ import annotations

import argparse
import functools
import os
import random
import statistics
import time

import gymnasium as gym
import numpy as np
from common import ConstantCostStandIn, free_cores, loops_for
from gymnasium.vector import AutoresetMode

from llm_gym.registry import env_class

FAMILIES = ("TextCraft", "Household", "Shop", "SearchQA", "BabyAI", "TextWorld")
PRESET = "medium"
AUTORESET = {"next-step": AutoresetMode.NEXT_STEP, "same-step": AutoresetMode.SAME_STEP}


class StepTimer(gym.Wrapper):
    """Adds up how long the wrapped env's steps and resets take, in the process that runs it."""

    def __init__(self, env: gym.Env):
        super().__init__(env)
        self.spent = 0.0

    def step(self, action):
        start = time.perf_counter()
        result = self.env.step(action)
        self.spent += time.perf_counter() - start
        return result

    def reset(self, **kwargs):
        start = time.perf_counter()
        result = self.env.reset(**kwargs)
        self.spent += time.perf_counter() - start
        return result


def random_actions(infos: dict, workers: int, chooser: random.Random) -> tuple[str, ...]:
    """One admissible action per env of the batch (``"look"`` where an env lists none)."""
    return tuple(chooser.choice(list(infos["admissible_actions"][i]) or ["look"]) for i in range(workers))


def family_throughput(
    family: str, mode: str, workers: int, steps: int, seed: int, autoreset: AutoresetMode
) -> tuple[float, float]:
    """Env steps (transitions, not resets) per second of ``make_vec`` with ``workers`` envs, and (sync
    only, else nan) the speed-up lock-step allows: the sum of all envs' times over the sum of each
    batch's slowest."""
    envs = gym.make_vec(
        f"llm_gym/{family}-v0",
        num_envs=workers,
        vectorization_mode=mode,
        wrappers=[StepTimer],
        vector_kwargs={"autoreset_mode": autoreset},
        difficulty=PRESET,
    )
    chooser = random.Random(seed)
    _, infos = envs.reset(seed=[seed * 1000 + i for i in range(workers)])
    next_step = autoreset == AutoresetMode.NEXT_STEP  # then the slot after an env's end only resets it
    resetting = np.zeros(workers, bool)
    for _ in range(5):  # warm up
        _, _, terminated, truncated, infos = envs.step(random_actions(infos, workers, chooser))
        resetting = (terminated | truncated) & next_step
    for env in getattr(envs, "envs", ()):
        env.spent = 0.0
    batches = []  # sync only: per batch, each env's time in it (its step, or its reset, or both)
    transitions = 0
    start = time.perf_counter()
    for _ in range(steps):
        _, _, terminated, truncated, infos = envs.step(random_actions(infos, workers, chooser))
        transitions += workers - int(resetting.sum())
        resetting = (terminated | truncated) & next_step
        if mode == "sync":
            batches.append([env.spent for env in envs.envs])
            for env in envs.envs:
                env.spent = 0.0
    elapsed = time.perf_counter() - start
    lock_step = float("nan")
    if batches:
        times = np.array(batches)
        lock_step = times.sum() / times.max(axis=1).sum()
    envs.close()
    return transitions / elapsed, lock_step


def stand_in_ratio(loops: int, observation: str, info: dict, workers: int, steps: int) -> float:
    make = functools.partial(ConstantCostStandIn, loops, observation, info)
    rates = {}
    for mode, vector in (("sync", gym.vector.SyncVectorEnv), ("async", gym.vector.AsyncVectorEnv)):
        envs = vector([make] * workers)
        envs.reset(seed=0)
        actions = np.zeros(workers, dtype=int)
        for _ in range(5):
            envs.step(actions)
        start = time.perf_counter()
        for _ in range(steps):
            envs.step(actions)
        rates[mode] = workers * steps / (time.perf_counter() - start)
        envs.close()
    return rates["async"] / rates["sync"]


def measure(family: str, workers: int, steps: int, rounds: int, autoreset: AutoresetMode) -> dict[str, float]:
    """Medians over interleaved rounds of the async / sync ratio and its bounds. Each round first runs
    once untimed, so that both timed runs replay episodes whose tasks are ready (the same seeds
    and actions give the same episodes, resets included)."""
    env = gym.make(f"llm_gym/{family}-v0", difficulty=PRESET)
    observation, info = env.reset(seed=0)
    env.close()
    figures: dict[str, list[float]] = {key: [] for key in ("sync", "async", "lock_step", "stand_in", "cores")}
    for seed in range(rounds):
        family_throughput(
            family, "sync", workers, steps, seed, autoreset
        )  # untimed: puts TextWorld's games in its cache
        sync, lock_step = family_throughput(family, "sync", workers, steps, seed, autoreset)
        asynchronous, _ = family_throughput(family, "async", workers, steps, seed, autoreset)
        stand_in = stand_in_ratio(loops_for(1 / sync, calibration=1_000_000), observation, info, workers, steps)
        for key, value in zip(figures, (sync, asynchronous, lock_step, stand_in, free_cores(2_000_000))):
            figures[key].append(value)
    return {key: statistics.median(values) for key, values in figures.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2, help="envs in the vector env (one process each when async)")
    parser.add_argument("--steps", type=int, default=300, help="batched steps timed per run")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved sync/async rounds per family")
    parser.add_argument("--families", nargs="+", default=list(FAMILIES), choices=FAMILIES)
    parser.add_argument("--autoreset", nargs="+", default=list(AUTORESET), choices=list(AUTORESET))
    args = parser.parse_args()
    if args.workers < 1:
        parser.error(f"--workers must be a positive integer, got {args.workers}")
    print(
        f"make_vec, {args.workers} envs at {PRESET!r}, {args.steps} batched steps x {args.rounds} rounds; "
        f"load average {' '.join(f'{load:.2f}' for load in os.getloadavg())} on {os.cpu_count()} cores"
    )
    for family in args.families:
        env_class(family)  # an unknown or missing family fails here, before any timing
        for name in args.autoreset:
            row = measure(family, args.workers, args.steps, args.rounds, AUTORESET[name])
            print(
                f"  {family:9s} autoreset {name:9s}: sync {row['sync']:8.0f} env-steps/s, async {row['async']:8.0f} "
                f"({row['async'] / row['sync']:.2f}x); bounds: lock-step {row['lock_step']:.2f}x, Gymnasium's "
                f"machinery {row['stand_in']:.2f}x, two busy processes {row['cores']:.2f}x one",
                flush=True,
            )


if __name__ == "__main__":
    main()
