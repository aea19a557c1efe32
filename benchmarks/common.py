"""Pieces the benchmark scripts share (each script imports this from its own folder).

- ``median_step_us``: a family's median step beside TextCraft's and Household's, interleaved;
- ``ConstantCostStandIn``, ``spin``, ``loops_for`` and ``free_cores``: what a vector env and this
  machine's cores allow for steps of a given cost, with no engine in the way.
"""

from __future__ import annotations

import multiprocessing
import random
import statistics
import time

import gymnasium as gym

import llm_gym

YARDSTICKS = ("llm_gym/TextCraft-v0", "llm_gym/Household-v0")


def median_step_us(env_id: str, blocks: int = 200, block: int = 20) -> dict[str, float]:
    """Median step (us, wall clock) of a uniform-random admissible policy through ``gym.make`` at
    `expert`, fresh worlds as episodes end, in blocks interleaved with TextCraft's and Household's
    (the yardsticks of issue 19: 15-22 us on a quiet machine), so all see the same load."""
    envs = {name: gym.make(name, difficulty="expert") for name in (env_id, *YARDSTICKS)}
    infos = {name: env.reset(options={"task_seed": 10**6})[1] for name, env in envs.items()}
    chooser, times, episodes = random.Random(0), {name: [] for name in envs}, 0
    for _ in range(blocks):
        for name, env in envs.items():
            for _ in range(block):
                action = chooser.choice(infos[name]["admissible_actions"])
                start = time.perf_counter()
                _, _, terminated, truncated, infos[name] = env.step(action)
                times[name].append(time.perf_counter() - start)
                if terminated or truncated:
                    episodes += 1
                    infos[name] = env.reset(options={"task_seed": 10**6 + episodes})[1]
    return {name.split("/")[1]: statistics.median(values) * 1e6 for name, values in times.items()}


class ConstantCostStandIn(gym.Env):
    """A stand-in for a family's env in a vector env: its observation and ``info``, and a fixed
    amount of work per step. Its async / sync ratio is what Gymnasium's machinery and this
    machine's cores allow for steps of that cost, with no env in the way."""

    def __init__(self, loops: int, observation: str, info: dict):
        self.observation_space = llm_gym.TextSpace()
        self.action_space = gym.spaces.Discrete(2)
        self.loops, self.observation, self.info = loops, observation, info

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return self.observation, dict(self.info)

    def step(self, action):
        spin(self.loops)
        return self.observation, 0.0, False, False, dict(self.info)


def spin(loops: int) -> float:
    """Seconds of ``loops`` rounds of busy work on one core."""
    start = time.perf_counter()
    total = 0
    for index in range(loops):
        total += index
    return time.perf_counter() - start


def loops_for(seconds: float, calibration: int) -> int:
    """How many ``spin`` loops take ``seconds`` on one core of this machine now."""
    return max(1, round(calibration * seconds / min(spin(calibration) for _ in range(3))))


def free_cores(loops: int) -> float:
    """Two busy processes' throughput over one's: 2.0 when this machine gives both cores in full."""
    alone = spin(loops)
    with multiprocessing.get_context("fork").Pool(2) as pool:
        together = pool.map(spin, [loops, loops])
    return 2 * alone / max(together)
