"""llm-gym: text environments for LLM agents, with interface and semantics you can change apart.

``import llm_gym`` registers every family as ``llm_gym/<Family>-v0``::

    import gymnasium as gym
    import llm_gym

    env = gym.make("llm_gym/TextCraft-v0", difficulty="hard", theme="cooking")
"""

from llm_gym.core import ACTION_STATUSES, INFO_KEYS, OUTCOMES, TextEnv, Transition
from llm_gym.difficulty import Config, knob
from llm_gym.grammar import Arg, Command, CommandSpec, Grammar, ParseError
from llm_gym.registry import describe, env_ids, register_family
from llm_gym.spaces import TEXT_CHARSET, TextSpace
from llm_gym import families  # noqa: E402,F401  (registers the families)

__version__ = "0.1.0"
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
    "register_family",
]
