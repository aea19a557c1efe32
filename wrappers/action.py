"""Action-side interface wrappers: how the agent writes its command.

Each wrapper reads the agent's action in its format, turns it into the native command text of
the stack below it and passes that on; the instructions and the action list are rewritten from
the same declaration (``llm_gym.wrappers.formats`` over the family's ``Grammar``). Text the format
cannot read is a turn with ``action_status == "parse_error"`` and the format's own message, the
state untouched; a readable but forbidden command is judged by the environment as ``"illegal"``.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from llm_gym.core import checked_index
from llm_gym.grammar import Command, ParseError
from llm_gym.presentation import Presentation, presentation_of
from llm_gym.wrappers import formats
from llm_gym.wrappers.base import PresentationWrapper, layers
from llm_gym.wrappers.observation import ActionList, ChatHistory

TEXT_ACTION_FORMATS = ("native", "react", "tagged", "toolcall", "index")
_UNREADABLE = ""  # sent below for a turn the format could not read: every grammar rejects it


class _ActionWrapper(PresentationWrapper):
    """Shared machinery: read the agent's action, pass native text down, rewrite the info.

    A canonical ``Command`` is a valid action at this layer too: it goes down untouched.
    """

    fmt: str
    _instructions: tuple = (None, None, "")  # (instructions below, grammar, ours): a one-entry cache

    def _check_stack(self) -> None:
        self.forbid_below((ChatHistory, _ActionWrapper), "the stack's action format is already set")
        if self.numbered:
            hidden = presentation_of(self.env).action_list
            if hidden != "every_turn" and any(isinstance(layer, ActionList) for layer in layers(self.env)):
                raise ValueError(f"The {self.fmt!r} action format needs the actions listed every turn, not {hidden!r}")

    @property
    def numbered(self) -> bool:
        return self.fmt in ("index", "discrete")

    @property
    def presentation(self) -> Presentation:
        below = presentation_of(self.env)
        return below.replace(
            instructions=self._instructions_over(below),
            action_list="every_turn" if self.numbered else below.action_list,
            action_list_text=lambda: self._action_list_text(below),
            format_command=lambda command: self._write(command, below),
            parse_action=lambda action: self._read(action, below),
            numbered=self.numbered,
        )

    def _listed(self, below: Presentation) -> list[str]:
        """The current admissible commands as the stack below writes them."""
        return [below.format_command(command) for command in self.env.unwrapped.admissible_commands()]

    def _payload(self, action: Any, below: Presentation) -> str | ParseError:
        listed = self._listed(below) if self.numbered else None
        return formats.action_payload(action, below.grammar, self.fmt, actions=listed)

    def _write(self, command: Command, below: Presentation) -> str | int:
        if self.fmt == "toolcall" and below.grammar is self.env.unwrapped.grammar:  # nothing renamed below
            return formats.format_action(command, below.grammar, self.fmt)
        listed = self._listed(below) if self.numbered else None
        return formats.format_action(below.format_command(command), below.grammar, self.fmt, actions=listed)

    def _read(self, action: Any, below: Presentation) -> Command | ParseError:
        if isinstance(action, Command):
            return action
        payload = self._payload(action, below)
        return payload if isinstance(payload, ParseError) else below.parse_action(payload)

    def _action_list_text(self, below: Presentation) -> str:
        return formats.format_action_list(self._listed(below), below.grammar, self.fmt)

    def _instructions_over(self, below: Presentation) -> str:
        if self._instructions[:2] != (below.instructions, below.grammar):
            native, ours = below.grammar.instructions(), formats.format_instructions(below.grammar, self.fmt)
            text = (
                below.instructions.replace(native, ours)
                if native in below.instructions
                else f"{below.instructions}\n\n{ours}".strip()
            )
            self._instructions = (below.instructions, below.grammar, text)
        return self._instructions[2]

    def step(self, action):
        below = presentation_of(self.env)
        if isinstance(action, Command):
            payload: Command | str | ParseError = action
        else:
            payload = self._payload(action, below)
        sent = _UNREADABLE if isinstance(payload, ParseError) else payload
        observation, reward, terminated, truncated, info = self.env.step(sent)
        if isinstance(payload, ParseError) and info["action_status"] == "parse_error":
            info["view"] = {**info["view"], "feedback": payload.message}
        return self.present(info, first=False), reward, terminated, truncated, info

    def present(self, info: dict[str, Any], first: bool) -> str:
        presentation = self.presentation
        if self.numbered:
            base = 0 if self.fmt == "discrete" else 1
            written = [position + base for position in range(len(self._listed(presentation_of(self.env))))]
            info["admissible_actions"] = written if self.fmt == "discrete" else [str(n) for n in written]
        else:
            commands = self.env.unwrapped.admissible_commands()
            info["admissible_actions"] = [presentation.format_command(command) for command in commands]
        return super().present(info, first)


class ActionFormat(_ActionWrapper):
    """Make the agent write its command as ``native`` text, ``react``, ``tagged``, ``toolcall`` or ``index``.

    - ``react``: ``Thought: ...`` then ``Action: <command>`` (the last Action line counts);
    - ``tagged``: exactly one ``<action><command></action>``;
    - ``toolcall``: one JSON tool call ``{"name": verb, "arguments": {...}}`` against the
      OpenAI-style schemas in ``env.get_wrapper_attr("tool_schemas")``;
    - ``index``: the number (from 1) of one of the actions listed every turn.

    Lossless except ``index``, which restricts the agent to the listed (admissible) actions.
    ``info["admissible_actions"]`` is written in the format, so each entry is a valid action.

    Example:
        >>> import gymnasium as gym, llm_gym
        >>> env = ActionFormat(gym.make("llm_gym/TextCraft-v0"), "tagged")
        >>> observation, info = env.reset(seed=0)
        >>> info["admissible_actions"][1]
        '<action>get 1 end stone</action>'
        >>> observation, reward, terminated, truncated, info = env.step("get 1 cobblestone")
        >>> info["action_status"], observation
        ('parse_error', 'Found no <action> tags; write exactly one command as <action>command</action>.')
    """

    shift = "interface"

    def __init__(self, env: gym.Env, fmt: str = "native"):
        super().__init__(env, fmt=fmt)
        self.fmt = formats.check_format(fmt, TEXT_ACTION_FORMATS, "action format")
        self.lossless = fmt != "index"
        self._check_stack()

    def tool_schemas(self) -> list[dict]:
        """The OpenAI-style function schemas an agent calls (``toolcall``), from the ``CommandSpec``s."""
        return presentation_of(self.env).grammar.tool_schemas()


class DiscreteActions(_ActionWrapper):
    """Make the action space ``Discrete(max_actions)``: the index (from 0) of a listed action.

    ``info["action_mask"]`` (int8, one entry per index) marks the indices that name a listed
    action this turn; any other index is a ``parse_error`` turn. Only the first ``max_actions``
    admissible actions can be chosen, and unlisted commands cannot be written, so it is lossy.

    Example:
        >>> import gymnasium as gym, llm_gym
        >>> env = DiscreteActions(gym.make("llm_gym/TextCraft-v0"), max_actions=64)
        >>> observation, info = env.reset(seed=0)
        >>> info["action_mask"].sum(), env.action_masks()[:3].tolist()
        (np.int64(37), [True, True, True])
        >>> observation, reward, terminated, truncated, info = env.step(1)
        >>> observation.splitlines()[:5]
        ['Got 1 end stone.', '', 'Available actions:', '0. inventory', '1. get 1 end stone']
    """

    lossless = False
    shift = "interface"
    fmt = "discrete"

    def __init__(self, env: gym.Env, max_actions: int = 256):
        super().__init__(env, max_actions=max_actions)
        max_actions = checked_index(max_actions, "DiscreteActions max_actions", 1)
        self.max_actions = max_actions
        self.action_space = spaces.Discrete(max_actions)
        self._check_stack()

    def _listed(self, below: Presentation) -> list[str]:
        return super()._listed(below)[: self.max_actions]

    def action_masks(self) -> np.ndarray:
        """The valid indices this turn, as booleans (what sb3-contrib's ``MaskablePPO`` calls)."""
        mask = np.zeros(self.max_actions, dtype=bool)
        mask[: len(self._listed(presentation_of(self.env)))] = True
        return mask

    def present(self, info: dict[str, Any], first: bool) -> str:
        info["action_mask"] = self.action_masks().astype(np.int8)
        return super().present(info, first)
