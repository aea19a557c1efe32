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

from llm_gym.grammar import Command, ParseError
from llm_gym.wrappers import formats
from llm_gym.wrappers.base import PresentationWrapper, lookup
from llm_gym.wrappers.observation import ChatHistory

TEXT_ACTION_FORMATS = ("native", "react", "tagged", "toolcall", "index")
_UNREADABLE = ""  # sent below for a turn the format could not read: every grammar rejects it


class _ActionWrapper(PresentationWrapper):
    """Shared machinery: read the agent's action, pass native text down, rewrite the info."""

    fmt: str
    _instructions: tuple = (None, None, "")  # (instructions below, grammar, ours): a one-entry cache

    def _check_stack(self) -> None:
        self.forbid_below((ChatHistory, _ActionWrapper), "the stack's action format is already set")
        if self.needs_action_list:
            hidden = lookup(self.env, "action_list_mode", "every_turn")
            if hidden != "every_turn":
                raise ValueError(f"The {self.fmt!r} action format needs the actions listed every turn, not {hidden!r}")

    @property
    def needs_action_list(self) -> bool:
        return self.fmt in ("index", "discrete")

    @property
    def grammar(self):
        """The grammar of the text below (the family's, or ``Reskin``'s renamed one)."""
        return self.env.get_wrapper_attr("grammar")

    def _listed(self) -> list[str]:
        """The current admissible commands as the stack below writes them."""
        write = self.env.get_wrapper_attr("format_command")
        return [write(command) for command in self.env.unwrapped.admissible_commands()]

    def _payload(self, action: Any) -> str | ParseError:
        listed = self._listed() if self.needs_action_list else None
        return formats.action_payload(action, self.grammar, self.fmt, actions=listed)

    def format_command(self, command: Command) -> str | int:
        """Write ``command`` (canonical, as ``oracle_action()`` returns it) as the agent must."""
        grammar = self.grammar
        if self.fmt == "toolcall" and grammar is self.env.unwrapped.grammar:  # nothing renamed below
            return formats.format_action(command, grammar, self.fmt)
        below = self.env.get_wrapper_attr("format_command")(command)
        listed = self._listed() if self.needs_action_list else None
        return formats.format_action(below, grammar, self.fmt, actions=listed)

    def parse_action(self, action: Any) -> Command | ParseError:
        """Read the agent's action into a canonical ``Command`` (or a ``ParseError``)."""
        payload = self._payload(action)
        if isinstance(payload, ParseError):
            return payload
        return self.env.get_wrapper_attr("parse_action")(payload)

    def format_action_list(self, commands: list[Command]) -> str:
        write = self.env.get_wrapper_attr("format_command")
        return formats.format_action_list([write(command) for command in commands], self.grammar, self.fmt)

    @property
    def instructions(self) -> str:
        below, grammar = self.env.get_wrapper_attr("instructions"), self.grammar
        if self._instructions[:2] != (below, grammar):
            native, ours = grammar.instructions(), formats.format_instructions(grammar, self.fmt)
            text = below.replace(native, ours) if native in below else f"{below}\n\n{ours}".strip()
            self._instructions = (below, grammar, text)
        return self._instructions[2]

    def step(self, action):
        payload = self._payload(action)
        sent = _UNREADABLE if isinstance(payload, ParseError) else payload
        observation, reward, terminated, truncated, info = self.env.step(sent)
        if isinstance(payload, ParseError) and info["action_status"] == "parse_error":
            info["view"] = {**info["view"], "feedback": payload.message}
        return self.present(info, first=False), reward, terminated, truncated, info

    def present(self, info: dict[str, Any], first: bool) -> str:
        if self.needs_action_list:
            base = 0 if self.fmt == "discrete" else 1
            written = [position + base for position in range(len(self._listed()))]
            info["admissible_actions"] = written if self.fmt == "discrete" else [str(n) for n in written]
        else:
            commands = self.env.unwrapped.admissible_commands()
            info["admissible_actions"] = [self.format_command(command) for command in commands]
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
        '<action>get 1 cobblestone</action>'
        >>> observation, reward, terminated, truncated, info = env.step("get 1 cobblestone")
        >>> info["action_status"], observation
        ('parse_error', 'Found no <action> tags; write exactly one command as <action>command</action>.')
    """

    shift = "interface"

    def __init__(self, env: gym.Env, fmt: str = "native"):
        super().__init__(env, fmt=fmt)
        self.fmt = formats.check_format(fmt, TEXT_ACTION_FORMATS, "action format")
        self.lossless = fmt != "index"
        if self.needs_action_list:
            self.action_list_mode = "every_turn"
        self._check_stack()

    def tool_schemas(self) -> list[dict]:
        """The OpenAI-style function schemas an agent calls (``toolcall``), from the ``CommandSpec``s."""
        return self.grammar.tool_schemas()


class DiscreteActions(_ActionWrapper):
    """Make the action space ``Discrete(max_actions)``: the index (from 0) of a listed action.

    ``info["action_mask"]`` (int8, one entry per index) marks the indices that name a listed
    action this turn; any other index is a ``parse_error`` turn. Only the first ``max_actions``
    admissible actions can be chosen, and unlisted commands cannot be written, so it is lossy.

    Example:
        >>> import gymnasium as gym, llm_gym
        >>> env = DiscreteActions(gym.make("llm_gym/TextCraft-v0"), max_actions=8)
        >>> observation, info = env.reset(seed=0)
        >>> info["action_mask"].tolist()
        [1, 1, 1, 1, 0, 0, 0, 0]
        >>> observation, reward, terminated, truncated, info = env.step(1)
        >>> observation
        'Got 1 cobblestone.\\n\\nAvailable actions:\\n0. inventory\\n1. get 1 cobblestone\\n2. get 1 sugar cane\\n3. get 1 wheat'
    """

    lossless = False
    shift = "interface"
    fmt = "discrete"
    action_list_mode = "every_turn"

    def __init__(self, env: gym.Env, max_actions: int = 256):
        super().__init__(env, max_actions=max_actions)
        if isinstance(max_actions, bool) or not isinstance(max_actions, int) or max_actions < 1:
            raise ValueError(f"DiscreteActions max_actions must be a positive integer, got {max_actions!r}")
        self.max_actions = max_actions
        self.action_space = spaces.Discrete(max_actions)
        self._check_stack()

    def _listed(self) -> list[str]:
        return super()._listed()[: self.max_actions]

    def present(self, info: dict[str, Any], first: bool) -> str:
        count = len(self._listed())
        mask = np.zeros(self.max_actions, dtype=np.int8)
        mask[:count] = 1
        info["action_mask"] = mask
        return super().present(info, first)

    def format_action_list(self, commands: list[Command]) -> str:
        return super().format_action_list(commands[: self.max_actions])
