"""Registration of families as Gymnasium ids, and ``describe``.

Gymnasium's own registry is the single source of truth: nothing here keeps state of its own.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
from gymnasium.envs.registration import load_env_creator

NAMESPACE = "llm_gym"


def register_family(env_class: type) -> str:
    """Register ``env_class`` as ``llm_gym/<family>-v0`` and return the id.

    The entry point is a string, so ``gym.make`` imports the family only when it is made.
    """
    env_id = f"{NAMESPACE}/{env_class.family}-v0"
    gym.register(id=env_id, entry_point=f"{env_class.__module__}:{env_class.__name__}")
    return env_id


def env_ids() -> list[str]:
    """Every registered llm-gym id, in registration order."""
    return [env_id for env_id in gym.registry if env_id.startswith(f"{NAMESPACE}/")]


def resolve_id(name: str) -> str:
    """Accept a full id (``llm_gym/TextCraft-v0``) or a family name (``TextCraft``)."""
    ids = env_ids()
    if name in ids:
        return name
    for env_id in ids:
        if env_id == f"{NAMESPACE}/{name}-v0" or env_id.lower() == f"{NAMESPACE}/{name}-v0".lower():
            return env_id
    raise ValueError(f"Unknown environment {name!r}; allowed: {ids}")


def env_class(name: str) -> type:
    """The environment class registered under ``name`` (an id or a family name)."""
    return load_env_creator(gym.spec(resolve_id(name)).entry_point)


def describe(name: str) -> dict[str, Any]:
    """Knobs, presets, themes and command grammar of a registered environment.

    Example:
        >>> import llm_gym
        >>> sorted(llm_gym.describe("llm_gym/TextCraft-v0")["presets"])
        ['easy', 'expert', 'hard', 'medium']
    """
    env_id = resolve_id(name)
    return {"id": env_id, **env_class(env_id).describe()}
