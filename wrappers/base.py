"""What every llm-gym wrapper shares: its ``lossless``/``shift`` labels, and one way to compose text.

A wrapper stack is read from the outside in through ``env.get_wrapper_attr``: the outermost layer
that defines a hook wins, and the core environment supplies the native default. The hooks are

- ``render_view(view, first)``: the body of an observation (core: the family's prose);
- ``action_list_mode``: ``"every_turn"``, ``"first_turn"`` or ``"never"`` (core: ``native_action_list``);
- ``format_command(command)`` / ``parse_action(text)``: the stack's writer and reader of actions;
- ``format_action_list(commands)``: the "Available actions" block (core: native text on one line);
- ``instructions``: the rules and the command reference for the stack's action format.

``Reskin`` sits below every presentation wrapper and renames the view, the instructions and the
commands it writes, so the text composed above it is renamed while the format's own scaffolding
(JSON schema keywords, tags) is left alone.

Every presentation wrapper rebuilds the observation from ``info["view"]`` with ``compose``, so the
outermost one shows the whole stack's choices; under a native stack ``compose`` gives the core's
observation exactly (a test checks it).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym

from llm_gym.spaces import to_printable

SHIFTS = ("interface", "semantic")
_MISSING = object()


class LLMGymWrapper(gym.Wrapper, gym.utils.RecordConstructorArgs):
    """Base class of llm-gym wrappers: each declares ``lossless`` and ``shift``.

    ``lossless`` is True when the agent can see and do exactly what it could before (a pure
    re-encoding); ``shift`` says what the wrapper changes, ``"interface"`` or ``"semantic"``.
    The constructor arguments (``params``) are recorded in ``env.spec.additional_wrappers``, so
    ``gym.make(env.spec)`` builds the same stack again.
    """

    lossless: bool = True
    shift: str = "interface"

    def __init__(self, env: gym.Env, **params: Any):
        gym.utils.RecordConstructorArgs.__init__(self, **params)
        gym.Wrapper.__init__(self, env)

    def params(self) -> dict[str, Any]:
        """The constructor arguments that make this layer, for ``describe``."""
        return dict(self._saved_kwargs)

    def render(self):
        """What this layer last showed the agent: printed for ``"human"``, returned for ``"ansi"``."""
        text = self._shown_text()
        mode = self.env.unwrapped.render_mode
        if mode == "human":
            print(text)
            return None
        return text if mode == "ansi" else None

    def _shown_text(self) -> str:
        return getattr(self, "_last_observation", "")

    def forbid_below(self, classes: tuple[type, ...], why: str) -> None:
        """Raise ``ValueError`` if a layer of one of ``classes`` is already in the wrapped stack."""
        for layer in layers(self.env):
            if isinstance(layer, classes):
                raise ValueError(f"Cannot put {type(self).__name__} over {type(layer).__name__}: {why}")


def layers(env: gym.Env) -> list[gym.Env]:
    """Every wrapper of ``env``, outermost first (the core environment excluded)."""
    found = []
    while isinstance(env, gym.Wrapper):
        found.append(env)
        env = env.env
    return found


def lookup(env: gym.Env, name: str, default: Any = _MISSING) -> Any:
    """``env.get_wrapper_attr(name)``, or ``default`` when no layer defines it."""
    try:
        return env.get_wrapper_attr(name)
    except AttributeError:
        if default is _MISSING:
            raise
        return default


def action_list_mode(env: gym.Env) -> str:
    return lookup(env, "action_list_mode", env.unwrapped.native_action_list)


def action_list_text(env: gym.Env) -> str:
    """The "Available actions" block for the current state, as the stack writes it."""
    commands = env.unwrapped.admissible_commands()
    custom = lookup(env, "format_action_list", None)
    if custom is not None:
        return custom(commands)
    write = env.get_wrapper_attr("format_command")
    return "Available actions: " + ", ".join(write(command) for command in commands)


def compose(env: gym.Env, view: dict[str, Any], first: bool, *, with_instructions: bool = True) -> str:
    """The observation text of ``env``'s stack for ``view`` (the same join as the core's)."""
    mode = action_list_mode(env)
    parts = [env.get_wrapper_attr("instructions")] if first and with_instructions else []
    parts.append(env.get_wrapper_attr("render_view")(view, first))
    if mode == "every_turn" or (mode == "first_turn" and first):
        parts.append(action_list_text(env))
    text = "\n\n".join(part for part in parts if part)
    return to_printable(text)


class PresentationWrapper(LLMGymWrapper):
    """A wrapper that rebuilds each observation (and the info that depends on the stack) itself."""

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        observation, info = self.env.reset(seed=seed, options=options)
        return self.present(info, first=True), info

    def step(self, action):
        observation, reward, terminated, truncated, info = self.env.step(action)
        return self.present(info, first=False), reward, terminated, truncated, info

    def present(self, info: dict[str, Any], first: bool) -> str:
        """Update ``info`` for this stack and return the observation text."""
        info["instructions"] = self.get_wrapper_attr("instructions")
        self._last_observation = compose(self, info["view"], first)
        return self._last_observation


def describe(env: gym.Env) -> list[dict[str, Any]]:
    """The llm-gym wrappers of ``env``, outermost first, with their labels and arguments.

    Example:
        >>> import llm_gym
        >>> from llm_gym.wrappers import make
        >>> env = make("llm_gym/TextCraft-v0", interface="json+toolcall")
        >>> [(layer["wrapper"], layer["lossless"], layer["shift"]) for layer in describe(env)]
        [('ActionFormat', True, 'interface'), ('ObservationFormat', True, 'interface')]
    """
    return [
        {"wrapper": type(layer).__name__, "lossless": layer.lossless, "shift": layer.shift, **layer.params()}
        for layer in layers(env)
        if isinstance(layer, LLMGymWrapper)
    ]


def is_lossless(env: gym.Env) -> bool:
    """True when every llm-gym wrapper of ``env`` is lossless."""
    return all(layer["lossless"] for layer in describe(env))
