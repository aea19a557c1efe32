"""Observation-side interface wrappers: the format of the view, the action list, the chat history."""

from __future__ import annotations

import string
from typing import Any

import gymnasium as gym
from gymnasium import spaces

from llm_gym.core import checked_index
from llm_gym.presentation import ACTION_LIST_MODES, Presentation, presentation_of
from llm_gym.spaces import TextSpace, to_printable
from llm_gym.wrappers import formats
from llm_gym.wrappers.base import LLMGymWrapper, PresentationWrapper, compose

_MODE_RANK = {"never": 0, "first_turn": 1, "every_turn": 2}


class ObservationFormat(PresentationWrapper):
    """Show the structured view as ``prose`` (the family's own), ``json``, ``markdown`` or ``kv``.

    Lossless: the view carries everything the prose shows, and each format shows every non-empty
    value of the view.

    Example:
        >>> import gymnasium as gym, llm_gym
        >>> env = ObservationFormat(gym.make("llm_gym/TextCraft-v0"), "kv")
        >>> observation, info = env.reset(seed=0)
        >>> observation.splitlines()[-1]
        'goal_count: 3'
    """

    lossless = True
    shift = "interface"

    def __init__(self, env: gym.Env, fmt: str = "prose"):
        super().__init__(env, fmt=fmt)
        self.fmt = formats.check_format(fmt, formats.OBSERVATION_FORMATS, "observation format")
        self.forbid_below((ChatHistory, ObservationFormat), "the stack's observation format is already set")

    @property
    def presentation(self) -> Presentation:
        return presentation_of(self.env).replace(render_view=self.render_view)

    def render_view(self, view: dict[str, Any], first: bool) -> str:
        """The body of an observation in this format (``prose`` is the family's own)."""
        return formats.render_view(view, self.fmt, first=first, prose=self.env.unwrapped.render_view)


class ActionList(PresentationWrapper):
    """List the admissible actions ``"every_turn"``, on the ``"first_turn"`` only, or ``"never"``.

    Lossless when it shows the list at least as often as the family natively does (showing more is
    extra help, not a loss); hiding a list the family shows is lossy.

    Example:
        >>> import gymnasium as gym, llm_gym
        >>> env = ActionList(gym.make("llm_gym/TextCraft-v0"), "every_turn")
        >>> observation, info = env.reset(seed=0)
        >>> observation.splitlines()[-1].split(", ")[:3]
        ['Available actions: inventory', 'get 1 end stone', 'get 2 end stone']
    """

    shift = "interface"

    def __init__(self, env: gym.Env, mode: str = "every_turn"):
        super().__init__(env, mode=mode)
        self.mode = formats.check_format(mode, ACTION_LIST_MODES, "action list mode")
        self.forbid_below((ChatHistory, ActionList), "the stack's action list visibility is already set")
        if mode != "every_turn" and presentation_of(env).numbered:
            raise ValueError(f"ActionList({mode!r}) hides actions that the stack's action format picks by number")
        self.lossless = _MODE_RANK[mode] >= _MODE_RANK[env.unwrapped.native_action_list]

    @property
    def presentation(self) -> Presentation:
        return presentation_of(self.env).replace(action_list=self.mode)


def chat_space() -> spaces.Sequence:
    """The observation space of ``ChatHistory``: a tuple of ``{"role", "content"}`` messages."""
    role = spaces.Text(max_length=9, min_length=4, charset=string.ascii_lowercase)
    return spaces.Sequence(spaces.Dict({"role": role, "content": TextSpace()}))


class ChatHistory(LLMGymWrapper):
    """Make the observation the chat so far: the instructions as a system message, then turns.

    The observation is a tuple of ``{"role": "system" | "user" | "assistant", "content": str}``
    messages (its space is ``chat_space()``): the instructions, then each observation as a user
    message and each action as an assistant message. With ``window=k`` only the last ``k``
    observations (and the actions between them) are kept after the system message, which drops
    information, so the wrapper is lossless only without a window. It must be the outermost
    presentation wrapper.

    Example:
        >>> import gymnasium as gym, llm_gym
        >>> env = ChatHistory(gym.make("llm_gym/TextCraft-v0"), window=2)
        >>> messages, info = env.reset(seed=0)
        >>> messages, *_ = env.step("get 1 end stone")
        >>> [message["role"] for message in messages]
        ['system', 'user', 'assistant', 'user']
        >>> messages[-1]["content"]
        'Got 1 end stone.'
    """

    shift = "interface"

    def __init__(self, env: gym.Env, window: int | None = None):
        super().__init__(env, window=window)
        if window is not None:
            window = checked_index(window, "ChatHistory window (or None)", 1)
        if not isinstance(env.observation_space, spaces.Text):
            raise ValueError(f"ChatHistory needs text observations, got {env.observation_space}")
        self.window = window
        self.lossless = window is None
        self.observation_space = chat_space()
        self._messages: list[dict[str, str]] = []

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        _, info = self.env.reset(seed=seed, options=options)
        system = to_printable(presentation_of(self.env).instructions)
        self._messages = [
            {"role": "system", "content": system},
            {"role": "user", "content": compose(self.env, info["view"], True, with_instructions=False)},
        ]
        return self._window(), info

    def step(self, action):
        observation, reward, terminated, truncated, info = self.env.step(action)
        self._messages.append({"role": "assistant", "content": to_printable(str(action))})
        self._messages.append({"role": "user", "content": observation})
        return self._window(), reward, terminated, truncated, info

    def _window(self) -> tuple[dict[str, str], ...]:
        turns = self._messages[1:]
        if self.window is not None:
            turns = turns[max(0, len(turns) - (2 * self.window - 1)) :]
        return tuple(dict(message) for message in [self._messages[0], *turns])

    def _shown_text(self) -> str:
        return "\n\n".join(f"[{m['role']}]\n{m['content']}" for m in self._messages)
