"""Interface and semantic wrappers for llm-gym environments (imported as ``llm_gym.wrappers``).

``formats`` holds the pure renderers and action readers/writers every wrapper is built on.
"""

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

__all__ = [
    "ACTION_FORMATS",
    "OBSERVATION_FORMATS",
    "action_payload",
    "format_action",
    "format_action_list",
    "format_instructions",
    "parse_action",
    "render_view",
]
