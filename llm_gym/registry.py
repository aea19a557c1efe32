"""Registration of families as Gymnasium ids, and ``describe``.

Gymnasium's own registry is the single source of truth: nothing here keeps state of its own.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import gymnasium as gym
from gymnasium.envs.registration import load_env_creator

from llm_gym.core import TextEnv

NAMESPACE = "llm_gym"


@dataclasses.dataclass(frozen=True)
class FamilyEntryPoint:
    """What ``gym.make`` calls for an llm-gym id: the family's env, in the interface stack that
    ``interface`` and ``semantics`` name (``llm_gym.wrappers.make``'s strings).

    ``target`` is the class as ``"module:Class"``, imported on the first call, so registering
    imports nothing heavy. The kwargs land in ``env.spec``, so ``gym.make(env.spec)`` and
    ``gym.make_vec`` build the same stack.
    """

    target: str

    def __call__(self, interface: str | None = None, semantics: str | None = None, **kwargs: Any) -> gym.Env:
        env = build_env(self.target, **kwargs)
        if interface is None and semantics is None:
            return env
        from llm_gym.wrappers.presets import wrap

        return wrap(env, interface=interface, semantics=semantics)


def build_env(target: str, **kwargs: Any) -> gym.Env:
    """The env that the entry point ``target`` (``"module:Class"``) builds from ``kwargs``."""
    env = load_env_creator(target)(**kwargs)
    if not isinstance(env, gym.Env):
        raise TypeError(f"{target} built a {type(env).__name__}, not a gymnasium Env")
    return env


def register_family(env_class: type[TextEnv[Any, Any]]) -> str:
    """Register ``env_class`` as ``llm_gym/<family>-v0`` and return the id."""
    env_id = f"{NAMESPACE}/{env_class.family}-v0"
    gym.register(id=env_id, entry_point=FamilyEntryPoint(f"{env_class.__module__}:{env_class.__name__}"))
    return env_id


def entry_target(spec: gym.envs.registration.EnvSpec) -> str | None:
    """The ``"module:Class"`` that builds ``spec``'s bare env, where there is one."""
    entry = spec.entry_point
    if isinstance(entry, FamilyEntryPoint):
        return entry.target
    return entry if isinstance(entry, str) else None


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


def env_class(name: str) -> type[TextEnv[Any, Any]]:
    """The environment class registered under ``name`` (an id or a family name)."""
    env_id = resolve_id(name)
    target = entry_target(gym.spec(env_id))
    creator = None if target is None else load_env_creator(target)
    if not (isinstance(creator, type) and issubclass(creator, TextEnv)):
        raise TypeError(f"{env_id} is not built by a TextEnv class (entry point {gym.spec(env_id).entry_point!r})")
    return creator


def describe(name: str) -> dict[str, Any]:
    """Knobs, presets, themes and command grammar of a registered environment.

    Example:
        >>> import llm_gym
        >>> sorted(llm_gym.describe("llm_gym/TextCraft-v0")["presets"])
        ['easy', 'expert', 'hard', 'medium']
    """
    env_id = resolve_id(name)
    return {"id": env_id, **env_class(env_id).describe()}
