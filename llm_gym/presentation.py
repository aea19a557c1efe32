"""How a stack shows an observation and reads an action, as one typed object.

A ``TextEnv`` owns the native ``Presentation`` of its family; each interface wrapper takes the
presentation of the layer below (``presentation_of(self.env)``) and returns it changed with
``dataclasses.replace``. The observation is always joined by ``Presentation.compose``, in one
place, for single-agent stacks and multi-agent seats alike.

Example:
    >>> import gymnasium as gym, llm_gym
    >>> from llm_gym.wrappers import ActionFormat
    >>> env = ActionFormat(gym.make("llm_gym/TextCraft-v0"), "tagged")
    >>> observation, info = env.reset(seed=0)
    >>> presentation = presentation_of(env)
    >>> presentation.format_command(env.unwrapped.oracle_action())
    '<action>get 1 cobblestone</action>'
    >>> presentation.compose(info["view"], first=True) == observation
    True
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import gymnasium as gym

from llm_gym.grammar import Command, Grammar, ParseError
from llm_gym.spaces import to_printable

ACTION_LIST_MODES = ("every_turn", "first_turn", "never")


@dataclasses.dataclass(frozen=True)
class Presentation:
    """One layer's interface: instructions, rendering, the action list, and writing and reading.

    Attributes:
        grammar: the grammar of the command text this layer writes (``Reskin`` renames it).
        instructions: the rules and the command reference, shown on the first turn.
        render_view: the body of an observation for a structured view, ``(view, first) -> str``.
        action_list: when the admissible actions are appended, one of ``ACTION_LIST_MODES``.
        action_list_text: the "Available actions" block for the current state.
        format_command: writes a canonical ``Command`` as the agent must send it.
        parse_action: reads what the agent sent into a ``Command`` or a ``ParseError``.
        numbered: actions are chosen by their number in the list, so it must show every turn.
    """

    grammar: Grammar
    instructions: str
    render_view: Callable[[dict[str, Any], bool], str]
    action_list: str
    action_list_text: Callable[[], str]
    format_command: Callable[[Command], Any]
    parse_action: Callable[[Any], Command | ParseError]
    numbered: bool = False

    def compose(self, view: dict[str, Any], first: bool, *, with_instructions: bool = True) -> str:
        """The observation: instructions (first turn), the rendered view, the action list."""
        parts = [self.instructions] if first and with_instructions else []
        parts.append(self.render_view(view, first))
        if self.action_list == "every_turn" or (self.action_list == "first_turn" and first):
            parts.append(self.action_list_text())
        return to_printable("\n\n".join(part for part in parts if part))

    def replace(self, **changes: Any) -> Presentation:
        """A copy with ``changes``: what a wrapper returns for the layer above."""
        return dataclasses.replace(self, **changes)


class Presents:
    """A layer with a presentation: ``TextEnv`` (the native one) and every llm-gym wrapper."""

    @property
    def presentation(self) -> Presentation:
        raise NotImplementedError


def presentation_of(env: gym.Env) -> Presentation:
    """The presentation of ``env``'s outermost layer that has one (llm-gym wrapper or core env).

    Gymnasium's own wrappers (``TimeLimit``, ``OrderEnforcing``...) change nothing of it and are
    looked through.
    """
    layer: Any = env
    while not isinstance(layer, Presents):
        if not isinstance(layer, gym.Wrapper):
            raise TypeError(f"{type(env).__name__} has no llm-gym presentation (not a TextEnv stack)")
        layer = layer.env
    return layer.presentation
