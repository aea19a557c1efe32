"""Shift metrics: how far apart two environment configurations are, semantically and in interface.

A configuration is a family, a difficulty, a theme and a wrapper stack (``EnvConfig``). Its
``profile`` is measured by sampling episodes (a few random admissible moves, then the oracle to
the end) and reading what the agent is shown through ``info``:

- semantics, from ``info["entities"]`` and the string values of ``info["view"]`` (both renamed by
  ``Reskin`` when the stack has one, and independent of the observation format), and from what
  the shown names mean: the share of them that are names of the family's grounded world
  (``vocabulary``) and the share of the facts the task shows, as renamed, that common knowledge
  holds (``world_relations``);
- interface, from the wrapper stack (``llm_gym.wrappers.describe``) and the family's grammar.

``distance(a, b)`` turns two profiles into a ``ShiftReport`` of components in [0, 1], their means
``semantic`` (the surface: names and words), ``knowledge`` (whether the names are known and the
facts true) and ``interface``, and readable ``differences``. See docs/shift.md.

Example:
    >>> a = EnvConfig("llm_gym/TextCraft-v0", difficulty="easy")
    >>> b = EnvConfig("llm_gym/TextCraft-v0", difficulty="easy", interface="json+toolcall", semantics="made-up")
    >>> report = distance(a, b, episodes=3)
    >>> report.interface > 0, report.components["entity_lexicon"], report.task["same_family"]
    (True, 1.0, True)
    >>> distance(a, a, episodes=3).semantic, distance(a, a, episodes=3).interface
    (0.0, 0.0)
"""

from __future__ import annotations

import dataclasses
import math
import random
import re
from collections import Counter
from collections.abc import Sequence
from typing import Any

import gymnasium as gym

from llm_gym.core import checked_index, text_env_of
from llm_gym.grammar import normalize_name
from llm_gym.presentation import presentation_of

OBSERVATION_WORD = re.compile(r"[a-z]+")
_LIST_RANK = {"never": 0, "first_turn": 1, "every_turn": 2}
_EXPLORE_STEPS = 2


@dataclasses.dataclass(frozen=True)
class EnvConfig:
    """One environment configuration: what ``llm_gym.wrappers.make`` builds."""

    env_id: str
    difficulty: Any = None
    theme: str | None = None
    interface: str | None = None
    semantics: str | None = None

    def make(self) -> gym.Env:
        from llm_gym.wrappers import make

        kwargs = {
            key: value for key, value in (("difficulty", self.difficulty), ("theme", self.theme)) if value is not None
        }
        return make(self.env_id, interface=self.interface, semantics=self.semantics, **kwargs)


@dataclasses.dataclass(frozen=True)
class Profile:
    """What sampling a configuration shows: lexicon, vocabulary, interface, task size."""

    config: EnvConfig
    family: str
    entities: frozenset[str]
    vocabulary: tuple[tuple[str, int], ...]  # word counts of the view's text, sorted
    interface: dict[str, str]
    grammar_words: frozenset[str]
    mean_optimal_steps: float
    names_known: float | None = None  # share of shown names in the grounded vocabulary; None: none offered
    relations_known: float | None = None  # share of shown facts that hold in the grounded world


@dataclasses.dataclass(frozen=True)
class ShiftReport:
    """The distance between two configurations; every component lies in [0, 1]."""

    semantic: float  # the mean of the surface components: entity_lexicon, observation_vocabulary
    interface: float
    components: dict[str, float]
    differences: tuple[str, ...]
    task: dict[str, Any]
    knowledge: float = 0.0  # the mean of name_familiarity and world_knowledge: how far prior knowledge moved

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def interface_of(env: gym.Env) -> dict[str, str]:
    """The interface an agent meets through ``env``'s stack (native parts named by family)."""
    from llm_gym.wrappers.base import describe

    family = text_env_of(env).family
    found = {"observation": f"prose:{family}", "action": f"native:{family}", "history": "none"}
    for layer in reversed(describe(env)):  # inside out
        if layer["wrapper"] == "ObservationFormat" and layer["fmt"] != "prose":
            found["observation"] = layer["fmt"]
        elif layer["wrapper"] == "ActionFormat" and layer["fmt"] != "native":
            found["action"] = layer["fmt"]
        elif layer["wrapper"] == "DiscreteActions":
            found["action"] = "discrete"
        elif layer["wrapper"] == "ChatHistory":
            found["history"] = "full" if layer["window"] is None else f"window-{layer['window']}"
    found["action_list"] = presentation_of(env).action_list
    return found


def _grammar_words(grammar) -> frozenset[str]:
    words = set()
    for spec in grammar:
        words.add(spec.verb)
        words.update(OBSERVATION_WORD.findall(re.sub(r"\{\w+\}", " ", spec.template).lower()))
    return frozenset(words)


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [text for item in value.values() for text in _strings(item)]
    if isinstance(value, (list, tuple)):
        return [text for item in value for text in _strings(item)]
    return []


def _renaming(env: gym.Env) -> dict[str, str]:
    """The current task's names as ``env``'s stack shows them (empty: shown as they are). A stack
    has at most one ``Reskin``: nothing else that renames may sit below it."""
    from llm_gym.wrappers.base import layers
    from llm_gym.wrappers.reskin import Reskin

    reskins = [layer for layer in layers(env) if isinstance(layer, Reskin)]
    return dict(reskins[0].lexicon.mapping) if reskins else {}


def _fact(fact: tuple[str, ...]) -> tuple[str, ...]:
    return (fact[0], *map(normalize_name, fact[1:]))


def _share(hits: int, total: int) -> float | None:
    return hits / total if total else None


def profile(config: EnvConfig, episodes: int = 8, seed: int = 0) -> Profile:
    """Sample ``episodes`` episodes of ``config`` and record what the agent was shown."""
    episodes = checked_index(episodes, "episodes", 1)
    env = config.make()
    write = presentation_of(env).format_command
    family = type(text_env_of(env))
    known_names = {normalize_name(name) for name in family.vocabulary(family.themes[0])}
    world = {_fact(fact) for fact in family.world_relations(family.themes[0])}
    entities: set[str] = set()
    words: Counter = Counter()
    steps = []
    names = [0, 0]  # shown names in the grounded vocabulary, shown names
    facts = [0, 0]  # shown facts that hold in the grounded world, shown facts
    for episode in range(episodes):
        rng = random.Random(f"shift/{seed}/{episode}")
        _, info = env.reset(seed=seed + episode)
        steps.append(info["optimal_steps"])
        shown = _renaming(env)
        if known_names:
            names[0] += sum(normalize_name(name) in known_names for name in info["entities"])
            names[1] += len(info["entities"])
        for fact in map(_fact, family.task_relations(text_env_of(env).task)):
            facts[0] += (fact[0], *(shown.get(name, name) for name in fact[1:])) in world
            facts[1] += 1
        terminated = truncated = False
        for turn in range(info["max_turns"] + 1):
            entities.update(name.lower() for name in info["entities"])
            for text in _strings(info["view"]):
                words.update(OBSERVATION_WORD.findall(text.lower()))
            if terminated or truncated:
                break
            core = text_env_of(env)
            command = rng.choice(core.admissible_commands()) if turn < _EXPLORE_STEPS else core.oracle_action()
            *_, terminated, truncated, info = env.step(write(command))
    family_interface = interface_of(env)
    env.close()
    return Profile(
        config=config,
        family=text_env_of(env).family,
        entities=frozenset(entities),
        vocabulary=tuple(sorted(words.items())),
        interface=family_interface,
        grammar_words=_grammar_words(text_env_of(env).grammar),
        mean_optimal_steps=sum(steps) / len(steps),
        names_known=_share(*names),
        relations_known=_share(*facts) if world else None,
    )


def jaccard_distance(a: frozenset | set, b: frozenset | set) -> float:
    """1 - |a & b| / |a | b| (0 for two empty sets)."""
    union = a | b
    return 0.0 if not union else 1.0 - len(a & b) / len(union)


def jensen_shannon(a: dict[str, int], b: dict[str, int]) -> float:
    """Jensen-Shannon divergence (base 2, in [0, 1]) between two word-count distributions."""
    total_a, total_b = sum(a.values()), sum(b.values())
    if not total_a or not total_b:
        return 0.0 if total_a == total_b else 1.0
    divergence = 0.0
    for word in set(a) | set(b):
        p, q = a.get(word, 0) / total_a, b.get(word, 0) / total_b
        m = (p + q) / 2
        divergence += (p * math.log2(p / m) if p else 0.0) + (q * math.log2(q / m) if q else 0.0)
    return min(1.0, max(0.0, divergence / 2))


def _gap(a: float | None, b: float | None) -> float:
    """|a - b|; 0 where either side's world offers no measure (its family has no vocabulary)."""
    return 0.0 if a is None or b is None else abs(a - b)


def compare(a: Profile, b: Profile) -> ShiftReport:
    """The ``ShiftReport`` between two profiles."""
    semantic = {
        "entity_lexicon": jaccard_distance(a.entities, b.entities),
        "observation_vocabulary": jensen_shannon(dict(a.vocabulary), dict(b.vocabulary)),
    }
    knowledge = {
        "name_familiarity": _gap(a.names_known, b.names_known),
        "world_knowledge": _gap(a.relations_known, b.relations_known),
    }
    ia, ib = a.interface, b.interface
    history = 0.0 if ia["history"] == ib["history"] else (0.5 if "none" not in (ia["history"], ib["history"]) else 1.0)
    interface = {
        "observation_format": float(ia["observation"] != ib["observation"]),
        "action_format": float(ia["action"] != ib["action"]),
        "command_grammar": jaccard_distance(a.grammar_words, b.grammar_words),
        "action_list": abs(_LIST_RANK[ia["action_list"]] - _LIST_RANK[ib["action_list"]]) / 2,
        "history": history,
    }
    labels = {
        "observation": "observation format",
        "action": "action format",
        "action_list": "action list",
        "history": "chat history",
    }
    differences = tuple(f"{labels[key]}: {ia[key]} -> {ib[key]}" for key in labels if ia[key] != ib[key])
    if a.grammar_words != b.grammar_words:
        differences += (f"command grammar: {a.family} -> {b.family}",)
    return ShiftReport(
        semantic=round(sum(semantic.values()) / len(semantic), 6),
        knowledge=round(sum(knowledge.values()) / len(knowledge), 6),
        interface=round(sum(interface.values()) / len(interface), 6),
        components={key: round(value, 6) for key, value in {**semantic, **knowledge, **interface}.items()},
        differences=differences,
        task={
            "same_family": a.family == b.family,
            "families": (a.family, b.family),
            "mean_optimal_steps": (a.mean_optimal_steps, b.mean_optimal_steps),
        },
    )


def distance(a: EnvConfig, b: EnvConfig, episodes: int = 8, seed: int = 0) -> ShiftReport:
    """Profile ``a`` and ``b`` (``episodes`` episodes each, from ``seed``) and compare them."""
    return compare(profile(a, episodes, seed), profile(b, episodes, seed))


def distance_matrix(configs: Sequence[EnvConfig], episodes: int = 8, seed: int = 0) -> list[list[ShiftReport]]:
    """Every pair's ``ShiftReport``, profiling each configuration once."""
    profiles = [profile(config, episodes, seed) for config in configs]
    return [[compare(a, b) for b in profiles] for a in profiles]
