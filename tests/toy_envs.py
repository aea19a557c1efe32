"""A tiny correct TextEnv and deliberately broken variants, to show the contract checker failing."""

from __future__ import annotations

import dataclasses
import random

from llm_gym.core import TextEnv, Transition
from llm_gym.difficulty import Config, knob
from llm_gym.grammar import Arg, Command, CommandSpec, Grammar


@dataclasses.dataclass(frozen=True)
class CounterConfig(Config):
    low: int = knob(1, 1, 50, "smallest target")
    high: int = knob(3, 1, 50, "largest target")


@dataclasses.dataclass(frozen=True)
class CounterTask:
    target: int
    optimal_steps: int
    entities: tuple[str, ...] = ("counter",)


class CounterEnv(TextEnv):
    """Reach the target number by adding 1 to 3 at a time; overshooting fails."""

    family = "Counter"
    config_class = CounterConfig
    presets = {"easy": CounterConfig(low=1, high=3), "hard": CounterConfig(low=7, high=9)}
    themes = ("plain",)
    grammar = Grammar([CommandSpec("add", "add {count}", (Arg("count", "int"),), "add 1 to 3")])
    rules = "Make the counter equal the target."

    @classmethod
    def generate_task(cls, seed, config, theme):
        target = random.Random(seed).randint(config.low, config.high)
        return CounterTask(target, -(-target // 3))

    @classmethod
    def default_max_turns(cls, config):
        return 20

    def _start(self, task):
        self.value = 0
        return ""

    def _transition(self, command):
        (count,) = command.args
        if not 1 <= count <= 3:
            return Transition("You can add 1 to 3.", status="illegal")
        self.value += count
        if self.value == self.task.target:
            return Transition("Done!", reward=1.0, outcome="success", score=1.0)
        if self.value > self.task.target:
            return Transition("Overshot.", outcome="failure")
        return Transition(f"Added {count}.")

    def _view(self):
        return {"feedback": self._feedback, "value": self.value, "target": self.task.target}

    def render_view(self, view, first):
        return f"{view['feedback']} Counter {view['value']}, target {view['target']}.".strip()

    def _admissible(self):
        return [Command("add", (n,)) for n in (1, 2, 3)]

    def _oracle(self):
        return Command("add", (min(3, self.task.target - self.value),))


class GlobalRandomEnv(CounterEnv):
    """Broken: draws its task from the process-global random module."""

    @classmethod
    def generate_task(cls, seed, config, theme):
        target = random.randint(config.low, config.high)
        return CounterTask(target, -(-target // 3))


class HashSeedEnv(CounterEnv):
    """Broken: its task depends on Python's per-process string hashing."""

    @classmethod
    def generate_task(cls, seed, config, theme):
        target = config.low + hash(f"task-{seed}") % (config.high - config.low + 1)
        return CounterTask(target, -(-target // 3))


class RaisesOnBadActionEnv(CounterEnv):
    """Broken: an unreadable action raises instead of being flagged."""

    def step(self, action):
        if not isinstance(action, str) or not action.startswith("add"):
            raise ValueError(f"bad action {action!r}")
        return super().step(action)


class CorruptsOnIllegalEnv(CounterEnv):
    """Broken: an illegal command changes the state."""

    def _transition(self, command):
        if not 1 <= command.args[0] <= 3:
            self.value += 1
            return Transition("You can add 1 to 3.", status="illegal")
        return super()._transition(command)


class SlowOracleEnv(CounterEnv):
    """Broken: the oracle adds 1 at a time, so it does not take the optimal steps it claims."""

    def _oracle(self):
        return Command("add", (1,))


class MissingInfoKeyEnv(CounterEnv):
    """Broken: its info lacks a key every family must have."""

    def _info(self):
        info = super()._info()
        del info["entities"]
        return info


class FlatDifficultyEnv(CounterEnv):
    """Broken: its presets are not ordered by difficulty."""

    presets = {"easy": CounterConfig(low=7, high=9), "hard": CounterConfig(low=1, high=3)}


class BothDoneEnv(CounterEnv):
    """Broken: reports terminated and truncated together at the turn limit."""

    def step(self, action):
        observation, reward, terminated, truncated, info = super().step(action)
        return observation, reward, terminated or truncated, truncated, info


class OverstatedOptimumEnv(CounterEnv):
    """Broken: claims the optimum is one add per unit, and its oracle matches that claim."""

    @classmethod
    def generate_task(cls, seed, config, theme):
        target = random.Random(seed).randint(config.low, config.high)
        return CounterTask(target, target)

    def _oracle(self):
        return Command("add", (1,))


class SharedStateEnv(CounterEnv):
    """Broken: its counter lives in a box that copies share with the original."""

    def _start(self, task):
        self.box = _SharedBox()
        return ""

    @property
    def value(self):
        return self.box.value

    @value.setter
    def value(self, number):
        if hasattr(self, "box"):
            self.box.value = number


class _SharedBox:
    """A mutable holder that every copy of it aliases."""

    value = 0

    def __init__(self):
        type(self).value = 0

    def __setattr__(self, name, number):
        setattr(type(self), name, number)


class RaisingOracleEnv(CounterEnv):
    """Broken: its oracle raises once the task is done."""

    def oracle_action(self):
        if self.outcome != "running":
            raise RuntimeError("no move after the end")
        return super().oracle_action()
