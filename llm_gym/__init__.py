"""llm-gym: text environments for LLM agents, with interface and semantics you can change apart.

``import llm_gym`` registers every family as ``llm_gym/<Family>-v0``::

    import gymnasium as gym
    import llm_gym

    env = gym.make("llm_gym/TextCraft-v0", difficulty="hard", theme="cooking")
"""

from llm_gym import families  # noqa: E402,F401  (registers the families)
from llm_gym.core import ACTION_STATUSES, INFO_KEYS, OUTCOMES, TextEnv, Transition
from llm_gym.difficulty import Config, knob
from llm_gym.grammar import Arg, Command, CommandSpec, Grammar, ParseError
from llm_gym.registry import describe, env_ids, register_family
from llm_gym.spaces import TEXT_CHARSET, TextSpace

__version__ = "0.1.0"


def make(env_id: str, interface: str | None = None, semantics: str | None = None, **kwargs):
    """``gym.make`` plus wrapper presets: ``llm_gym.make(id, interface="json+toolcall", semantics="made-up")``.

    See ``llm_gym.wrappers.make``; the wrappers are imported only when this is called.
    """
    from llm_gym.wrappers import make as make_wrapped

    return make_wrapped(env_id, interface=interface, semantics=semantics, **kwargs)


__all__ = [
    "ACTION_STATUSES",
    "INFO_KEYS",
    "OUTCOMES",
    "TEXT_CHARSET",
    "Arg",
    "Command",
    "CommandSpec",
    "Config",
    "Grammar",
    "ParseError",
    "TextEnv",
    "TextSpace",
    "Transition",
    "describe",
    "env_ids",
    "knob",
    "make",
    "register_family",
]
