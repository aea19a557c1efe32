"""Interface and semantic wrappers for llm-gym environments (imported as ``llm_gym.wrappers``).

Every wrapper declares ``lossless`` and ``shift`` (``"interface"`` or ``"semantic"``);
``describe(env)`` lists a stack, and ``make(env_id, interface=..., semantics=...)`` builds one
from a preset string. ``formats`` holds the pure renderers and action readers/writers every
wrapper is built on, usable without an environment.
"""

from llm_gym.wrappers.action import ActionFormat, DiscreteActions
from llm_gym.wrappers.base import LLMGymWrapper, compose, describe, is_lossless
from llm_gym.wrappers.formats import (
    ACTION_FORMATS,
    OBSERVATION_FORMATS,
    action_payload,
    format_action,
    format_action_list,
    format_instructions,
    parse_action,
    render_view,
)
from llm_gym.wrappers.numeric import HashedBagOfWords
from llm_gym.wrappers.observation import ActionList, ChatHistory, ObservationFormat, chat_space
from llm_gym.wrappers.presets import EXAMPLE_INTERFACES, make, parse_interface, parse_semantics, wrap
from llm_gym.wrappers.reskin import Lexicon, Reskin, build_lexicon

__all__ = [
    "ACTION_FORMATS",
    "EXAMPLE_INTERFACES",
    "OBSERVATION_FORMATS",
    "ActionFormat",
    "ActionList",
    "ChatHistory",
    "DiscreteActions",
    "HashedBagOfWords",
    "LLMGymWrapper",
    "Lexicon",
    "ObservationFormat",
    "Reskin",
    "action_payload",
    "build_lexicon",
    "chat_space",
    "compose",
    "describe",
    "format_action",
    "format_action_list",
    "format_instructions",
    "is_lossless",
    "make",
    "parse_action",
    "parse_interface",
    "parse_semantics",
    "render_view",
    "wrap",
]
