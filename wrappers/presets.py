"""Named presets: a whole wrapper stack from one string, and ``make`` to build it.

``interface`` is ``+``-joined tokens, at most one of each kind, in any order:

- observation format: ``prose``, ``json``, ``markdown``, ``kv``;
- action format: ``native``, ``react``, ``tagged``, ``toolcall``, ``index``, ``discrete``
  (``discrete-<n>``: at most n actions, ``Discrete(n)``; 256 by default);
- action list: ``actions-every``, ``actions-first``, ``actions-never``;
- chat history: ``history`` (whole), ``history-<k>`` (the last k turns).

``semantics`` is one of the three steps of the semantic axis, ``"grounded"`` (or ``None``: the
theme as generated, which agrees with common knowledge in the default themes), ``"counterfactual"``
(the same names with their relations permuted) and ``"made-up"`` (invented names); or a theme
name of the family (``"cooking"``) or of another family (``"TextCraft:alchemy"``) to rename into.
Each takes an optional ``@<seed>`` (``"made-up@3"``). The stack is always built inside out in this
order: ``Reskin``, ``ObservationFormat``, ``ActionList``, the action format, ``ChatHistory``.

Example:
    >>> import llm_gym
    >>> env = make("llm_gym/TextCraft-v0", interface="markdown+react", semantics="made-up", difficulty="easy")
    >>> [layer["wrapper"] for layer in describe(env)]
    ['ActionFormat', 'ObservationFormat', 'Reskin']
    >>> parse_interface("json+toolcall+actions-every")
    {'observation': 'json', 'action': 'toolcall', 'action_list': 'every_turn'}
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym

from llm_gym.wrappers.action import TEXT_ACTION_FORMATS, ActionFormat, DiscreteActions
from llm_gym.wrappers.base import describe
from llm_gym.wrappers.formats import OBSERVATION_FORMATS
from llm_gym.wrappers.observation import ActionList, ChatHistory, ObservationFormat
from llm_gym.wrappers.reskin import Reskin

_ACTION_LIST_TOKENS = {"actions-every": "every_turn", "actions-first": "first_turn", "actions-never": "never"}
ACTION_TOKENS = (*TEXT_ACTION_FORMATS, "discrete")
INTERFACE_TOKENS = (
    *OBSERVATION_FORMATS,
    *ACTION_TOKENS,
    "discrete-<n>",
    *_ACTION_LIST_TOKENS,
    "history",
    "history-<k>",
)

# A spread of stacks used in the docs and the tests; any other valid string works too.
EXAMPLE_INTERFACES = ("prose+native", "json+toolcall", "markdown+react", "kv+tagged", "prose+index", "json+discrete")


def parse_interface(interface: str | None) -> dict[str, Any]:
    """Split an interface string into its parts; ``ValueError`` on an unknown or repeated kind."""
    parts: dict[str, Any] = {}
    for token in (interface or "").replace(" ", "").split("+"):
        if not token:
            continue
        if token in OBSERVATION_FORMATS:
            kind, value = "observation", token
        elif token in ACTION_TOKENS:
            kind, value = "action", token
        elif token.startswith("discrete-") and token[9:].isdigit() and int(token[9:]) > 0:
            kind, value = "action", token
        elif token in _ACTION_LIST_TOKENS:
            kind, value = "action_list", _ACTION_LIST_TOKENS[token]
        elif token == "history":
            kind, value = "history", None
        elif token.startswith("history-") and token[8:].isdigit() and int(token[8:]) > 0:
            kind, value = "history", int(token[8:])
        else:
            raise ValueError(f"Unknown interface token {token!r} in {interface!r}; allowed: {list(INTERFACE_TOKENS)}")
        if kind in parts:
            raise ValueError(f"Interface {interface!r} sets the {kind.replace('_', ' ')} twice")
        parts[kind] = value
    return parts


def parse_semantics(semantics: str | None) -> dict[str, Any] | None:
    """``"cooking@3"`` -> ``{"vocabulary": "cooking", "seed": 3}``; ``None`` for no reskin."""
    if semantics is None or semantics in ("", "native", "grounded"):
        return None
    vocabulary, _, seed = semantics.partition("@")
    if vocabulary == "grounded":
        raise ValueError(f"Semantics 'grounded' is the world as generated and takes no seed, got {semantics!r}")
    if seed and not seed.isdigit():
        raise ValueError(f"Semantics seed must be a non-negative integer, got {seed!r} in {semantics!r}")
    return {"vocabulary": vocabulary, "seed": int(seed or 0)}


def wrap(env: gym.Env, interface: str | None = None, semantics: str | None = None) -> gym.Env:
    """Wrap ``env`` in the stack named by ``interface`` and ``semantics``."""
    parts = parse_interface(interface)
    reskin = parse_semantics(semantics)
    if reskin is not None:
        env = Reskin(env, **reskin)
    if "observation" in parts and parts["observation"] != "prose":
        env = ObservationFormat(env, parts["observation"])
    if "action_list" in parts:
        env = ActionList(env, parts["action_list"])
    action = parts.get("action", "native")
    if action.startswith("discrete"):
        _, _, count = action.partition("-")
        env = DiscreteActions(env, max_actions=int(count or 256))
    elif action != "native":
        env = ActionFormat(env, action)
    if "history" in parts:
        env = ChatHistory(env, window=parts["history"])
    return env


def make(env_id: str, interface: str | None = None, semantics: str | None = None, **kwargs: Any) -> gym.Env:
    """``gym.make(env_id, interface=..., semantics=..., **kwargs)``, accepting a family name too.

    ``prose`` and ``native`` add no layer, since they are what the environment already does.
    """
    from llm_gym.registry import resolve_id

    stack = {key: value for key, value in (("interface", interface), ("semantics", semantics)) if value is not None}
    return gym.make(resolve_id(env_id), **stack, **kwargs)


__all__ = ["EXAMPLE_INTERFACES", "describe", "make", "parse_interface", "parse_semantics", "wrap"]
