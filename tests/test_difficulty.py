import dataclasses

import pytest

from llm_gym.difficulty import Config, knob, resolve_difficulty


@dataclasses.dataclass(frozen=True)
class ToyConfig(Config):
    depth: int = knob(1, 1, 5, "depth")
    share: float = knob(0.5, 0.0, 1.0, "share")
    kinds: tuple = knob(("a", "b"), choices=("a", "b", "c"), doc="kinds")
    mode: str = knob("x", choices=("x", "y"), doc="mode")


PRESETS = {"easy": ToyConfig(), "hard": ToyConfig(depth=4, share=0.9)}


def test_presets_dicts_and_configs_resolve():
    assert resolve_difficulty(ToyConfig, PRESETS, "hard") == ("hard", PRESETS["hard"])
    assert resolve_difficulty(ToyConfig, PRESETS, {"preset": "hard", "depth": 5})[1].share == 0.9
    assert resolve_difficulty(ToyConfig, PRESETS, {"depth": 2}) == ("custom", ToyConfig(depth=2))
    assert resolve_difficulty(ToyConfig, PRESETS, ToyConfig(depth=4, share=0.9))[0] == "hard"
    assert resolve_difficulty(ToyConfig, PRESETS, {"kinds": ["c"]})[1].kinds == ("c",)
    assert resolve_difficulty(ToyConfig, PRESETS, {"share": 1})[1].share == 1.0


@pytest.mark.parametrize(
    "difficulty, message",
    [
        ("impossible", "Unknown difficulty preset 'impossible'; allowed: \\['easy', 'hard'\\]"),
        ({"depth": 0}, "depth = 0 is out of range; allowed: 1 to 5"),
        ({"depth": "3"}, "expected int"),
        ({"width": 3}, "Unknown difficulty knob\\(s\\) \\['width'\\]"),
        ({"preset": "nope"}, "Unknown difficulty preset 'nope'"),
        ({"kinds": ("z",)}, "subset"),
        ({"mode": "q"}, "allowed: \\['x', 'y'\\]"),
        (3.5, "difficulty must be"),
    ],
)
def test_bad_difficulty_names_value_and_allowed(difficulty, message):
    with pytest.raises(ValueError, match=message):
        resolve_difficulty(ToyConfig, PRESETS, difficulty)


def test_knobs_are_described_and_fingerprint_is_stable():
    knobs = ToyConfig.knobs()
    assert knobs["depth"] == {"default": 1, "doc": "depth", "range": [1, 5]}
    assert knobs["kinds"]["choices"] == ["a", "b", "c"]
    assert ToyConfig().fingerprint() == ToyConfig().fingerprint() != ToyConfig(depth=2).fingerprint()
