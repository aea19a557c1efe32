"""Difficulty as data: a frozen dataclass of validated knobs per family, and ordered presets.

Example:
    >>> from dataclasses import dataclass
    >>> @dataclass(frozen=True)
    ... class ToyConfig(Config):
    ...     depth: int = knob(1, 1, 5, "how deep the task goes")
    >>> presets = {"easy": ToyConfig(depth=1), "hard": ToyConfig(depth=3)}
    >>> resolve_difficulty(ToyConfig, presets, "hard")
    ('hard', ToyConfig(depth=3))
    >>> resolve_difficulty(ToyConfig, presets, {"depth": 2})
    ('custom', ToyConfig(depth=2))
    >>> resolve_difficulty(ToyConfig, presets, {"depth": 9})
    Traceback (most recent call last):
    ...
    ValueError: ToyConfig.depth = 9 is out of range; allowed: 1 to 5
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping
from typing import Any, TypeVar


def knob(default: Any, low: Any = None, high: Any = None, doc: str = "", choices: tuple = ()) -> Any:
    """Declare a difficulty knob: a dataclass field with its range (or choices) and meaning."""
    return dataclasses.field(default=default, metadata={"low": low, "high": high, "doc": doc, "choices": choices})


@dataclasses.dataclass(frozen=True)
class Config:
    """Base class of a family's difficulty knobs. Subclasses are frozen dataclasses of ``knob``s.

    Every knob is validated on construction: type, range or choices, then ``check()`` for
    constraints between knobs.
    """

    def __post_init__(self):
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            meta = field.metadata
            where = f"{type(self).__name__}.{field.name}"
            expected = type(field.default)
            if expected is tuple:
                if isinstance(value, list):
                    object.__setattr__(self, field.name, tuple(value))
                    value = tuple(value)
                if not isinstance(value, tuple) or not set(value) <= set(meta["choices"]) or not value:
                    raise ValueError(
                        f"{where} = {value!r} is invalid; allowed: a non-empty subset of {list(meta['choices'])}"
                    )
                continue
            if expected is float and isinstance(value, int) and not isinstance(value, bool):
                object.__setattr__(self, field.name, float(value))
                value = float(value)
            if type(value) is not expected:
                raise ValueError(f"{where} = {value!r} has type {type(value).__name__}; expected {expected.__name__}")
            if meta.get("choices") and value not in meta["choices"]:
                raise ValueError(f"{where} = {value!r} is invalid; allowed: {list(meta['choices'])}")
            if meta.get("low") is not None and not meta["low"] <= value <= meta["high"]:
                raise ValueError(f"{where} = {value!r} is out of range; allowed: {meta['low']} to {meta['high']}")
        self.check()

    def check(self) -> None:
        """Constraints between knobs; raise ``ValueError`` naming the knobs. Override as needed."""

    def as_dict(self) -> dict[str, Any]:
        return {field.name: _plain(getattr(self, field.name)) for field in dataclasses.fields(self)}

    def fingerprint(self) -> str:
        """A short hash of the knob values, stable across processes."""
        text = json.dumps(self.as_dict(), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:10]

    @classmethod
    def knobs(cls) -> dict[str, dict[str, Any]]:
        """Each knob's default, range or choices, and meaning."""
        described = {}
        for field in dataclasses.fields(cls):
            meta = field.metadata
            entry = {"default": _plain(field.default), "doc": meta.get("doc", "")}
            if meta.get("choices"):
                entry["choices"] = list(meta["choices"])
            if meta.get("low") is not None:
                entry["range"] = [meta["low"], meta["high"]]
            described[field.name] = entry
        return described


ConfigT = TypeVar("ConfigT", bound=Config)


def resolve_difficulty(
    config_class: type[ConfigT], presets: Mapping[str, ConfigT], difficulty: Any
) -> tuple[str, ConfigT]:
    """Turn a preset name, a dict of knobs or a ``Config`` into ``(preset name, config)``.

    A dict may name a base preset under ``"preset"``; its other keys override knobs of that preset
    (of the first preset when none is named). The preset name is ``"custom"`` when knobs were set.
    """
    if isinstance(difficulty, config_class):
        matching = [name for name, preset in presets.items() if preset == difficulty]
        return (matching[0] if matching else "custom"), difficulty
    if isinstance(difficulty, str):
        if difficulty not in presets:
            raise ValueError(f"Unknown difficulty preset {difficulty!r}; allowed: {list(presets)}")
        return difficulty, presets[difficulty]
    if isinstance(difficulty, Mapping):
        overrides = dict(difficulty)
        base_name = overrides.pop("preset", next(iter(presets)))
        if base_name not in presets:
            raise ValueError(f"Unknown difficulty preset {base_name!r}; allowed: {list(presets)}")
        allowed = [field.name for field in dataclasses.fields(config_class)]
        unknown = sorted(set(overrides) - set(allowed))
        if unknown:
            raise ValueError(f"Unknown difficulty knob(s) {unknown} for {config_class.__name__}; allowed: {allowed}")
        if not overrides:
            return base_name, presets[base_name]
        return "custom", dataclasses.replace(presets[base_name], **overrides)
    raise ValueError(
        f"difficulty must be a preset name {list(presets)}, a dict of knobs, or a {config_class.__name__}; "
        f"got {difficulty!r}"
    )


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value
