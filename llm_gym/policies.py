"""Reference and adversarial policies that measure a task rather than solve it.

Two reference policies say how hard a preset is for an agent that knows nothing
(``UniformRandom``) and for one that follows the obvious cue (``GreedyOverlap``). The
adversarial suite tries to score without solving: always the first admissible action, one action
repeated, the task's entity names tried one after another as arguments of every one-argument
command (answering or buying without gathering evidence), and the first action not yet taken
(the greedy first result). ``llm_gym.testing.check_exploits`` bounds their success per preset.

Every policy answers ``act(observation, info) -> str`` and is reset per episode with a seed, so a
measurement is reproducible.

Example:
    >>> import gymnasium as gym, llm_gym
    >>> from llm_gym.policies import UniformRandom, success_rate
    >>> success_rate(lambda: gym.make("llm_gym/TextCraft-v0"), UniformRandom(), seeds=range(5))["episodes"]
    5
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Callable
from typing import Any, Protocol

import gymnasium as gym

from llm_gym.core import text_env_of
from llm_gym.grammar import Command

_WORD = re.compile(r"[a-z0-9]+")


class Policy(Protocol):
    """A measuring policy: reset per episode with the episode's seed, then one action per turn."""

    name: str

    def reset(self, env: gym.Env, seed: int) -> None: ...

    def act(self, observation: str, info: dict[str, Any]) -> str: ...


class UniformRandom:
    """Uniform over ``info["admissible_actions"]``."""

    name = "random"

    def reset(self, env: gym.Env, seed: int) -> None:
        self.rng = random.Random(f"uniform/{seed}")

    def act(self, observation: str, info: dict[str, Any]) -> str:
        actions = info["admissible_actions"]
        return self.rng.choice(actions) if actions else ""


class GreedyOverlap:
    """The admissible action sharing most words with the task's own text, untried ones first.

    The task's text is the first observation less the instructions; ties break at random.
    """

    name = "greedy"

    def reset(self, env: gym.Env, seed: int) -> None:
        self.rng = random.Random(f"greedy/{seed}")
        self.cue: set[str] = set()
        self.tried: set[str] = set()

    def act(self, observation: str, info: dict[str, Any]) -> str:
        if not self.cue:
            self.cue = _words(observation) - _words(info.get("instructions", ""))
        actions = info["admissible_actions"]
        if not actions:
            return ""
        best = max(
            actions,
            key=lambda action: (action not in self.tried, len(_words(action) & self.cue), self.rng.random()),
        )
        self.tried.add(best)
        return best


class FirstAdmissible:
    """Always the first admissible action."""

    name = "first_admissible"

    def reset(self, env: gym.Env, seed: int) -> None:
        pass

    def act(self, observation: str, info: dict[str, Any]) -> str:
        actions = info["admissible_actions"]
        return actions[0] if actions else ""


class RepeatOne:
    """One admissible action, drawn at the start, repeated every turn."""

    name = "repeat_one"

    def reset(self, env: gym.Env, seed: int) -> None:
        self.rng = random.Random(f"repeat/{seed}")
        self.action: str | None = None

    def act(self, observation: str, info: dict[str, Any]) -> str:
        if self.action is None:
            actions = info["admissible_actions"]
            self.action = self.rng.choice(actions) if actions else ""
        return self.action


class EnumerateEntities:
    """Every entity name of the task, in order, as the argument of every one-argument command.

    This answers, buys or takes without gathering any evidence, and tries the candidates one after
    another where a wrong try does not end the episode.
    """

    name = "enumerate_entities"

    def reset(self, env: gym.Env, seed: int) -> None:
        self.env = env
        self.queue: list[str] | None = None

    def act(self, observation: str, info: dict[str, Any]) -> str:
        if self.queue is None:
            core = text_env_of(self.env)
            write = core.format_command
            single = [spec for spec in core.grammar if len(spec.args) == 1 and spec.args[0].kind in ("name", "text")]
            self.queue = [write(Command(spec.verb, (entity,))) for entity in info["entities"] for spec in single]
            self.queue.reverse()
        if self.queue:
            return self.queue.pop()
        return FirstAdmissible().act(observation, info)


class NovelFirst:
    """The first admissible action not yet taken this episode (the greedy first result)."""

    name = "novel_first"

    def reset(self, env: gym.Env, seed: int) -> None:
        self.tried: set[str] = set()

    def act(self, observation: str, info: dict[str, Any]) -> str:
        actions = info["admissible_actions"]
        action = next((a for a in actions if a not in self.tried), actions[0] if actions else "")
        self.tried.add(action)
        return action


REFERENCE_POLICIES: tuple[Callable[[], Policy], ...] = (UniformRandom, GreedyOverlap)
ADVERSARIAL_POLICIES: tuple[Callable[[], Policy], ...] = (FirstAdmissible, RepeatOne, EnumerateEntities, NovelFirst)


def _words(text: str) -> set[str]:
    return set(_WORD.findall(text.lower()))


def play(env: gym.Env, policy: Policy, seed: int) -> dict[str, Any]:
    """One episode of ``policy`` on ``env`` from ``reset(seed=seed)``: outcome, return, steps."""
    observation, info = env.reset(seed=seed)
    policy.reset(env, seed)
    total, steps = 0.0, 0
    while True:
        observation, reward, terminated, truncated, info = env.step(policy.act(observation, info))
        total += float(reward)
        steps += 1
        if terminated or truncated:
            return {"outcome": info["outcome"], "return": total, "steps": steps, "score": float(info["score"])}


def success_rate(make: Callable[[], gym.Env], policy: Policy, seeds) -> dict[str, Any]:
    """Success of ``policy`` over ``seeds`` on one env from ``make()``, with its standard error."""
    env = make()
    try:
        wins = sum(play(env, policy, seed)["outcome"] == "success" for seed in seeds)
    finally:
        env.close()
    count = len(seeds)
    rate = wins / count
    return {"policy": policy.name, "episodes": count, "success": rate, "stderr": math.sqrt(rate * (1 - rate) / count)}
