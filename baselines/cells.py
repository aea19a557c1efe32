"""One grid point, shared by the evaluation, the trainer and the study.

A ``Cell`` names an env as ``llm_gym.make`` builds it (id, difficulty, theme, interface and
semantics stacks, turn limit), plus what only some users read: the agent that plays it in an
evaluation and its weight in a training mixture.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import gymnasium as gym

#: The fields that decide what an episode plays; ``weight`` only decides how often.
PLAY_FIELDS = ("env_id", "difficulty", "agent", "theme", "interface", "semantics", "max_turns")


@dataclasses.dataclass(frozen=True)
class Cell:
    """An env (``env_id``, ``difficulty``, ``theme``, ``interface``, ``semantics``, ``max_turns``),
    the ``agent`` that plays it when evaluated, and its mixture ``weight`` when trained on.

    ``difficulty`` is a preset name or a dict of knobs (optionally with ``"preset"``);
    ``interface`` and ``semantics`` name wrapper stacks of ``llm_gym.wrappers.make`` (such as
    ``"json+toolcall"`` and ``"made-up"``); ``theme`` is the family's own lexicon.

    Example:
        >>> cell = Cell.from_value({"difficulty": "medium", "interface": "json"})
        >>> cell.label
        'TextCraft-v0:medium:json'
        >>> cell.make_env().reset(seed=0)[1]["difficulty"]["preset"]
        'medium'
    """

    env_id: str = "llm_gym/TextCraft-v0"
    difficulty: Any = "easy"
    agent: str | None = None
    theme: str | None = None
    interface: str | None = None
    semantics: str | None = None
    max_turns: int | None = None
    weight: float = 1.0

    @classmethod
    def from_value(cls, value: Any) -> Cell:
        """A cell from a config value: a ``Cell``, an env id, or a table of the fields."""
        if isinstance(value, Cell):
            return value
        if isinstance(value, str):
            return cls(env_id=value)
        fields = [field.name for field in dataclasses.fields(cls)]
        if not isinstance(value, dict):
            raise ValueError(f"a cell must be an env id or a table of {fields}; got {value!r}")
        unknown = sorted(set(value) - set(fields))
        if unknown:
            raise ValueError(f"unknown cell key(s) {unknown} in {value!r}; allowed: {fields}")
        return cls(**value)

    def __post_init__(self):
        if not isinstance(self.weight, (int, float)) or isinstance(self.weight, bool) or not self.weight > 0:
            raise ValueError(f"cell weight must be a positive number, got {self.weight!r} in {self}")

    def __hash__(self) -> int:  # difficulty may be a dict
        return hash(json.dumps(dataclasses.asdict(self), sort_keys=True))

    @property
    def difficulty_label(self) -> str:
        """The preset name, or the knobs as sorted JSON."""
        return self.difficulty if isinstance(self.difficulty, str) else json.dumps(self.difficulty, sort_keys=True)

    @property
    def label(self) -> str:
        """A short name, ``Family-v0:difficulty[:interface][:theme][:semantics][:agent]``."""
        parts = [self.env_id.split("/")[-1], self.difficulty_label]
        return ":".join(parts + [p for p in (self.interface, self.theme, self.semantics, self.agent) if p])

    def make_kwargs(self) -> dict[str, Any]:
        """The keyword arguments ``llm_gym.make`` gets besides the id."""
        kwargs: dict[str, Any] = {
            "difficulty": self.difficulty,
            "interface": self.interface,
            "semantics": self.semantics,
        }
        if self.theme is not None:
            kwargs["theme"] = self.theme
        if self.max_turns is not None:
            kwargs["max_turns"] = self.max_turns
        return kwargs

    def make_env(self) -> gym.Env:
        """Make the cell's env; a bad setting raises ``ValueError`` naming the cell."""
        import llm_gym

        try:
            return llm_gym.make(self.env_id, **self.make_kwargs())
        except (ValueError, gym.error.Error) as error:
            raise ValueError(f"bad cell {self.label}: {error}") from error

    def key(self, seed: int) -> str:
        """The identity of one episode of this cell (``weight`` aside), as stored in an episode log."""
        return episode_key({name: getattr(self, name) for name in PLAY_FIELDS}, seed)


def episode_key(record: dict[str, Any], seed: int) -> str:
    """The identity of an episode record written with a cell's ``PLAY_FIELDS`` (missing ones None)."""
    return json.dumps([record.get(name) for name in PLAY_FIELDS] + [seed], sort_keys=True)
