"""What every llm-gym wrapper shares: its ``lossless``/``shift`` labels and its presentation.

Each layer of a stack has a ``presentation`` (``llm_gym.presentation.Presentation``): the core
environment's is the family's native interface, and each interface wrapper takes the one below
(``presentation_of(self.env)``) and returns it changed. A wrapper that changes nothing passes
the one below through. ``Reskin`` sits below every presentation wrapper and renames the view,
the instructions and the commands it writes, so the text composed above it is renamed while the
format's own scaffolding (JSON schema keywords, tags) is left alone.

Every presentation wrapper rebuilds the observation from ``info["view"]`` with its
presentation's ``compose``, so the outermost one shows the whole stack's choices; under a native
stack it gives the core's observation exactly (a test checks it).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym

from llm_gym.grammar import Command, ParseError
from llm_gym.presentation import Presentation, Presents, presentation_of


class LLMGymWrapper(Presents, gym.Wrapper, gym.utils.RecordConstructorArgs):
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

    @property
    def presentation(self) -> Presentation:
        """This layer's interface; the default passes the one below through unchanged."""
        return presentation_of(self.env)

    def format_command(self, command: Command) -> Any:
        """Write ``command`` (canonical, as ``oracle_action()`` returns it) as the whole stack reads it."""
        return self.presentation.format_command(command)

    def parse_action(self, action: Any) -> Command | ParseError:
        """Read an action written for the whole stack into a canonical ``Command``."""
        return self.presentation.parse_action(action)

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


def compose(env: gym.Env, view: dict[str, Any], first: bool, *, with_instructions: bool = True) -> str:
    """The observation text of ``env``'s stack for ``view``."""
    return presentation_of(env).compose(view, first, with_instructions=with_instructions)


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
        presentation = self.presentation
        info["instructions"] = presentation.instructions
        self._last_observation = presentation.compose(info["view"], first)
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
