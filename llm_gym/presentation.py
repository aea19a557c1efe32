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
    '<action>get 6 mossy cobblestone</action>'
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


def formatted(
    native: Presentation,
    rules: str,
    prose: Callable[[dict[str, Any], bool], str],
    listed: Callable[[], list[Command]],
    *,
    observation_format: str = "prose",
    action_format: str = "native",
    action_list: str | None = None,
) -> Presentation:
    """``native`` shown in ``observation_format`` and written in ``action_format`` (the formats of
    ``llm_gym.wrappers.formats``), listing ``listed()`` as ``action_list`` says (``None``: every
    turn for numbered formats, else as ``native`` does). ``rules`` open the instructions, ``prose``
    renders the view natively. Multi-agent seats are presented this way; single-agent stacks reach
    the same result one wrapper at a time."""
    from llm_gym.wrappers import formats

    grammar = native.grammar
    numbered = action_format in ("index", "discrete")
    mode = ("every_turn" if numbered else native.action_list) if action_list is None else action_list

    def action_list_text() -> str:
        actions = listed()
        return formats.format_action_list(actions, grammar, action_format) if actions else ""

    def write(command: Command) -> Any:
        actions = listed() if numbered else None
        return formats.format_action(native.format_command(command), grammar, action_format, actions=actions)

    def read(action: Any) -> Command | ParseError:
        if isinstance(action, Command):
            return action
        payload = formats.action_payload(action, grammar, action_format, actions=listed() if numbered else None)
        return payload if isinstance(payload, ParseError) else native.parse_action(payload)

    instructions = f"{rules}\n\n{formats.format_instructions(grammar, action_format)}".strip()
    return native.replace(
        instructions=native.instructions if action_format == "native" else instructions,
        render_view=lambda view, first: formats.render_view(view, observation_format, first=first, prose=prose),
        action_list=mode,
        action_list_text=action_list_text,
        format_command=write,
        parse_action=read,
        numbered=numbered,
    )
