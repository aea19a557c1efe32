"""Baseline agents behind one protocol: ``act(observation, info) -> str``.

An agent may also define ``reset(seed)``, called at the start of every episode, so that its own
randomness is reproducible per episode.
"""

from __future__ import annotations

import random
from typing import Any, Protocol, runtime_checkable

import gymnasium as gym

from llm_gym.presentation import presentation_of


@runtime_checkable
class Agent(Protocol):
    """Anything that answers an observation (and its ``info``) with the text of an action."""

    def act(self, observation: str, info: dict[str, Any]) -> str: ...


class RandomAgent:
    """Uniform over ``info["admissible_actions"]``; an empty string where none are listed.

    Example:
        >>> agent = RandomAgent(seed=0)
        >>> agent.act("", {"admissible_actions": ["look", "inventory"]})
        'inventory'
    """

    name = "random"

    def __init__(self, seed: int | None = None):
        self.rng = random.Random(seed)

    def reset(self, seed: int | None = None) -> None:
        self.rng = random.Random(seed)

    def act(self, observation: str, info: dict[str, Any]) -> str:
        actions = info.get("admissible_actions") or []
        return self.rng.choice(actions) if actions else ""


class OracleAgent:
    """The environment's own optimal policy, written in the interface of the wrapper stack.

    It reads the state through ``env.unwrapped.oracle_action()``, so it is a reference, not a
    fair competitor.
    """

    name = "oracle"

    def __init__(self, env: gym.Env):
        self.env = env

    def act(self, observation: str, info: dict[str, Any]) -> str:
        return presentation_of(self.env).format_command(self.env.unwrapped.oracle_action())


BUILTIN_AGENTS = ("random", "oracle")
AGENT_KINDS = ("random", "oracle", "hf:<checkpoint dir or pretrained name>", "endpoint:<model>@<base url>")


def check_agent_spec(spec: str) -> None:
    """Raise ``ValueError`` unless ``spec`` names an agent kind; loads nothing."""
    kind, _, target = spec.partition(":")
    if spec in BUILTIN_AGENTS or (kind == "hf" and target) or (kind == "endpoint" and "@" in target):
        return
    raise ValueError(f"Unknown agent {spec!r}; allowed: {list(AGENT_KINDS)}")


def make_agent(spec: str, env: gym.Env, seed: int | None = None, **options: Any) -> Agent:
    """Build an agent from its spec (one of ``AGENT_KINDS``) for ``env``.

    ``options["hf"]`` and ``options["endpoint"]`` hold keyword arguments for those agents.
    """
    check_agent_spec(spec)
    if spec == "random":
        return RandomAgent(seed)
    if spec == "oracle":
        return OracleAgent(env)
    kind, _, target = spec.partition(":")
    if kind == "hf":
        from llm_gym.baselines.hf_agent import HFAgent
        from llm_gym.baselines.models import resolve_model

        return HFAgent(resolve_model(target), **options.get("hf", {}))
    from llm_gym.baselines.endpoint import ChatEndpointAgent, tool_schemas_of

    model, _, url = target.partition("@")
    return ChatEndpointAgent(url, model, **{"tools": tool_schemas_of(env), **options.get("endpoint", {})})
