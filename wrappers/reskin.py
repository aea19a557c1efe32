"""The semantic wrapper: rename every entity of a task, consistently, in all the agent sees and says.

``Reskin`` reads the task's entity names from ``info["entities"]`` at each reset (so it works on
every family) and builds a ``Lexicon``: a seeded, bijective map from each name to a new one drawn
from another theme's vocabulary or made of made-up words. Names are replaced as whole words,
case-insensitively, keeping the case pattern (``Oak log`` -> ``Zarg leikmo``), singular and plural
(``sticks`` -> ``zarglees``). Observations, the view, the admissible actions, the entities and the
instructions are renamed forward; actions are read back through a swap, so a new name becomes
its original and an original name becomes a word the environment does not know: an agent cannot
act on the original lexicon. The dynamics are untouched.

The ``counterfactual`` vocabulary keeps the real names and moves what they mean: one fixed,
seeded permutation of the family's whole ``vocabulary(theme)`` within each kind, with no name
left in place (``counterfactual_lexicon``), so a recipe, a placement or a fact is reassigned among
the same names and common knowledge no longer applies. It is the same world for every task.
"""

from __future__ import annotations

import functools
import random
import re
from collections.abc import Mapping, Sequence
from typing import Any

import gymnasium as gym

from llm_gym.grammar import Arg, Command, CommandSpec, Grammar, normalize_name
from llm_gym.presentation import Presentation, presentation_of
from llm_gym.themes import made_up_word
from llm_gym.wrappers import formats
from llm_gym.wrappers.base import LLMGymWrapper

_EDGE_BEFORE = r"(?<![A-Za-z0-9_])"
_EDGE_AFTER = r"(?![A-Za-z0-9_])"
_WORD = re.compile(r"[a-z0-9]+")
_PLACEHOLDER = re.compile(r"\{(\w+)\}")  # a template's argument slot, as CommandSpec writes it
_VOCABULARY_SEEDS = 12
_POOL_TRIES = 64


def plural(name: str) -> str:
    """The regular English plural of ``name``'s last word (``box`` -> ``boxes``, ``berry`` -> ``berries``)."""
    head, _, last = name.rpartition(" ")
    if last.endswith(("s", "x", "z", "ch", "sh")):
        last += "es"
    elif len(last) > 1 and last.endswith("y") and last[-2] not in "aeiou":
        last = last[:-1] + "ies"
    else:
        last += "s"
    return f"{head} {last}" if head else last


def _word_case(source: str, target: str) -> str:
    if len(source) > 1 and source.isupper():
        return target.upper()
    if source[:1].isupper():
        return target[:1].upper() + target[1:]
    return target


def match_case(source: str, target: str) -> str:
    """``target`` written with ``source``'s case pattern (word by word when the word counts agree)."""
    if source.islower():
        return target
    source_words, target_words = source.split(" "), target.split(" ")
    if len(source_words) == len(target_words):
        return " ".join(_word_case(s, t) for s, t in zip(source_words, target_words))
    if len(source) > 1 and source.isupper():
        return target.upper()
    if all(word[:1].isupper() for word in source_words):
        return " ".join(word[:1].upper() + word[1:] for word in target_words)
    return _word_case(source, target)


def _trie_pattern(forms: list[str]) -> str:
    """One regex matching any of ``forms``, factored by common prefixes (fast for many names).

    Alternatives are tried longest first, so with the edge check after it the longest whole-word
    name wins, as a plain alternation sorted by length would.
    """
    trie: dict = {}
    for form in forms:
        node = trie
        for char in form:
            node = node.setdefault(char, {})
        node[""] = {}

    def build(node: dict) -> str:
        branches = [re.escape(char) + build(child) for char, child in sorted(node.items()) if char]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        return f"(?:{body})?" if "" in node else body

    return build(trie)


def _alternation(forms) -> re.Pattern | None:
    forms = sorted({form.lower() for form in forms})
    if not forms:
        return None
    return re.compile(f"{_EDGE_BEFORE}({_trie_pattern(forms)}){_EDGE_AFTER}", re.IGNORECASE)


class Lexicon:
    """A bijective renaming of entity names, with its singular and plural surface forms.

    Example:
        >>> lexicon = Lexicon({"stick": "zarg", "oak log": "blim dor"})
        >>> lexicon.forward("Craft 4 sticks from 1 Oak log.")
        'Craft 4 zargs from 1 Blim dor.'
        >>> lexicon.inverse("craft 4 zargs from 1 blim dor, not 1 stick")
        'craft 4 sticks from 1 oak log, not 1 zarg'
    """

    def __init__(self, mapping: dict[str, str]):
        self.mapping = dict(mapping)
        if len(set(self.mapping.values())) != len(self.mapping):
            raise ValueError(f"A Lexicon must be bijective; {self.mapping} maps two names to one")
        self._forward: dict[str, str] = dict(self.mapping)
        for original, renamed in self.mapping.items():
            self._forward.setdefault(plural(original), plural(renamed))
        if len(set(self._forward.values())) != len(self._forward):
            clashes = sorted(
                form for form in set(self._forward.values()) if list(self._forward.values()).count(form) > 1
            )
            raise ValueError(f"A Lexicon must be bijective on singular and plural forms; {clashes} have two sources")
        # Images back to originals; an original that is no image goes to its own image, so it is
        # not read as itself (a permutation of names has every original as an image).
        self._swap = {**self._forward, **{new: old for old, new in self._forward.items()}}
        self._forward_pattern = _alternation(self._forward)
        self._swap_pattern = _alternation(self._swap)

    def _replace(self, pattern: re.Pattern | None, table: dict[str, str], text: str) -> str:
        if pattern is None or not text:
            return text
        return pattern.sub(lambda match: match_case(match.group(1), table[match.group(1).lower()]), text)

    def forward(self, text: str) -> str:
        """Rename the original names in ``text``; idempotent, as new names are never originals."""
        return self._replace(self._forward_pattern, self._forward, text)

    def inverse(self, text: str) -> str:
        """Swap new names back to the originals (and originals to new names): forward's inverse."""
        return self._replace(self._swap_pattern, self._swap, text)

    def forward_value(self, value: Any) -> Any:
        """``forward`` applied to every string inside a JSON-ready value (dict keys kept)."""
        if isinstance(value, str):
            return self.forward(value)
        if isinstance(value, dict):
            return {key: self.forward_value(item) for key, item in value.items()}
        if isinstance(value, (list, tuple)):
            return type(value)(self.forward_value(item) for item in value)
        return value


def build_lexicon(
    entities: Sequence[str], seed: int, pool: Sequence[str] = (), avoid: frozenset[str] = frozenset()
) -> Lexicon:
    """A seeded lexicon for ``entities``: names from ``pool`` (made-up words once it runs dry).

    Each name's image depends only on ``seed``, the name and (rarely) collisions in this task,
    so a name keeps its image across tasks. No image shares a form with an original name, another
    image or a word in ``avoid`` (such as the words of the instructions).
    """
    originals = sorted({normalize_name(name) for name in entities if _WORD.search(name.lower())})
    taken = set(originals) | {plural(name) for name in originals}
    original_pattern = _alternation(taken)
    pool = sorted({normalize_name(word) for word in pool} - taken)
    mapping = {}
    for name in originals:
        for attempt in range(10_000):
            rng = random.Random(f"reskin/{seed}/{name}/{attempt}")
            if pool and attempt < _POOL_TRIES:
                candidate = rng.choice(pool)
            else:
                candidate = " ".join(made_up_word(rng, rng.choice((2, 2, 3))) for _ in name.split())
            forms = {candidate, plural(candidate)}
            if forms & taken or avoid.intersection(candidate.split()) or original_pattern.search(candidate):
                continue
            taken |= forms
            mapping[name] = candidate
            break
        else:  # pragma: no cover - the made-up space is far larger than any task
            raise RuntimeError(f"Reskin found no free name for {name!r}")
    return Lexicon(mapping)


def counterfactual_lexicon(vocabulary: Mapping[str, str], seed: int) -> Lexicon:
    """A permutation of the names of ``vocabulary`` (name -> kind) within each kind, seeded by
    ``seed``, with no name mapped to itself: Sattolo's algorithm draws one cycle per kind. Names
    whose plural is another name (``brick`` and ``bricks``) are permuted among themselves, so
    plural forms stay unambiguous; a group of a single name keeps it.

    Example:
        >>> lexicon = counterfactual_lexicon({"oak log": "item", "stick": "item", "coal": "item", "sink": "place"}, 0)
        >>> sorted(lexicon.mapping) == sorted(lexicon.mapping.values()), lexicon.mapping["sink"]
        (True, 'sink')
        >>> any(old == new for old, new in lexicon.mapping.items() if old != "sink")
        False
    """
    names = {normalize_name(name): kind for name, kind in vocabulary.items()}
    groups: dict[tuple[str, bool], list[str]] = {}
    for name, kind in names.items():
        groups.setdefault((kind, plural(name) in names), []).append(name)
    mapping = {}
    for (kind, plural_is_a_name), members in sorted(groups.items()):
        images = sorted(members)
        members = list(images)
        rng = random.Random(f"counterfactual/{seed}/{kind}/{plural_is_a_name}")
        for i in range(len(images) - 1, 0, -1):
            j = rng.randrange(i)
            images[i], images[j] = images[j], images[i]
        mapping.update(zip(members, images))
    return Lexicon(mapping)


@functools.cache
def _counterfactual_of(env_class: type, theme: str, seed: int) -> Lexicon:
    return counterfactual_lexicon(env_class.vocabulary(theme), seed)


def reskin_grammar(grammar: Grammar, lexicon: Lexicon) -> Grammar:
    """``grammar`` as the agent sees it under ``lexicon``: literal words, argument names (the
    placeholders and tool-schema keys) and descriptions renamed; verbs and kinds kept.

    An entity name can also be a word of a command (TextWorld's ``prepare meal``), so the writers
    and readers of a reskinned stack must use this grammar, not the family's.
    """
    if not lexicon.mapping:
        return grammar
    specs = []
    for spec in grammar:
        names = {arg.name: lexicon.forward(arg.name.replace("_", " ")).replace(" ", "_") for arg in spec.args}
        pieces = _PLACEHOLDER.split(spec.template)  # literal, name, literal, name, ..., literal
        template = "".join(
            lexicon.forward(piece) if index % 2 == 0 else "{" + names[piece] + "}" for index, piece in enumerate(pieces)
        )
        args = tuple(Arg(names[arg.name], arg.kind, lexicon.forward(arg.description)) for arg in spec.args)
        specs.append(CommandSpec(spec.verb, template, args, lexicon.forward(spec.description)))
    return Grammar(specs)


def _entities_of(env_class: type, config, theme: str, seeds: range) -> set[str]:
    return {name for seed in seeds for name in env_class.generate_task(seed, config, theme).entities}


def allowed_semantics(core) -> list[str]:
    """The ``semantics`` values (``@<seed>`` aside) that ``core``'s family and theme offer."""
    counterfactual = ["counterfactual"] if type(core).vocabulary(core.theme) else []
    themes = [theme for theme in core.themes if theme != "made-up"]
    return ["grounded", *counterfactual, "made-up", *themes, "<Family>:<theme>", "a list of names"]


class Reskin(LLMGymWrapper):
    """Rename every entity consistently: to another theme's vocabulary or to made-up words.

    Args:
        vocabulary: ``"made-up"``; ``"counterfactual"`` (the same names, their meanings permuted,
            where the family's ``vocabulary(theme)`` offers it); one of the family's themes
            (``"cooking"``), whose names are harvested from the family's own generator;
            ``"Family:theme"`` for another family's (``"TextCraft:alchemy"``); or an explicit list
            of names. When a vocabulary has too few free names for a task, made-up words fill in.
        seed: picks the lexicon; the same seed renames a name the same way in every task.

    Lossless (a bijection on names) and a ``semantic`` shift. The current ``Lexicon`` is
    ``env.get_wrapper_attr("lexicon")``; it is not put in ``info``, where an agent could read it.

    Example:
        >>> import gymnasium as gym, llm_gym
        >>> env = Reskin(gym.make("llm_gym/TextCraft-v0"), seed=1)
        >>> observation, info = env.reset(seed=0)
        >>> "end stone" in observation, info["view"]["goal"] == env.get_wrapper_attr("lexicon").mapping["mossy cobblestone wall"]
        (False, True)
    """

    lossless = True
    shift = "semantic"

    def __init__(self, env: gym.Env, vocabulary: str | Sequence[str] = "made-up", seed: int = 0):
        super().__init__(env, vocabulary=vocabulary, seed=seed)
        if not isinstance(env.observation_space, gym.spaces.Text):
            raise ValueError(
                f"Reskin needs text observations (put ChatHistory outside it), got {env.observation_space}"
            )
        self.forbid_below((LLMGymWrapper,), "Reskin goes under the interface wrappers, which keep their own wording")
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise ValueError(f"Reskin seed must be an integer, got {seed!r}")
        self.vocabulary = vocabulary if isinstance(vocabulary, str) else tuple(vocabulary)
        self.seed = seed
        core = env.unwrapped
        self._fixed: Lexicon | None = None
        if self.vocabulary == "counterfactual":
            if not type(core).vocabulary(core.theme):
                raise ValueError(
                    f"{core.family} offers no counterfactual world for theme {core.theme!r}; "
                    f"semantics allowed: {allowed_semantics(core)}"
                )
            self._fixed = _counterfactual_of(type(core), core.theme, seed)
        self._pool = self._vocabulary_pool()
        scaffolding = [formats.format_instructions(core.grammar, fmt) for fmt in formats.ACTION_FORMATS]
        self._avoid = frozenset(_WORD.findall(" ".join([core.instructions, *scaffolding]).lower()))
        self.lexicon = Lexicon({})
        self._grammar = env.unwrapped.grammar
        self._instructions: tuple = (None, None, "")  # (lexicon, instructions below, renamed)

    def _vocabulary_pool(self) -> tuple[str, ...]:
        core = self.env.unwrapped
        if not isinstance(self.vocabulary, str):
            return self.vocabulary
        if self.vocabulary in ("made-up", "counterfactual"):
            return ()
        if self.vocabulary in core.themes:
            return tuple(sorted(_entities_of(type(core), core.config, self.vocabulary, range(_VOCABULARY_SEEDS))))
        family, _, theme = self.vocabulary.partition(":")
        if theme:
            from llm_gym.registry import env_class

            other = env_class(family)
            if theme not in other.themes:
                raise ValueError(f"Unknown theme {theme!r} for {family}; allowed: {list(other.themes)}")
            configs = list(other.presets.values())
            seeds = range(_VOCABULARY_SEEDS // 2)
            return tuple(
                sorted(_entities_of(other, configs[0], theme, seeds) | _entities_of(other, configs[-1], theme, seeds))
            )
        raise ValueError(f"Unknown Reskin vocabulary {self.vocabulary!r}; allowed: {allowed_semantics(core)}")

    # ----- the presentation ------------------------------------------------------------------

    @property
    def grammar(self) -> Grammar:
        """The family's grammar with this task's names (what a writer above must use)."""
        return self._grammar

    @property
    def presentation(self) -> Presentation:
        below = presentation_of(self.env)
        return below.replace(
            grammar=self._grammar,
            instructions=self._renamed_instructions(below.instructions),
            action_list_text=lambda: self.lexicon.forward(below.action_list_text()),
            format_command=lambda command: self._write(command, below),
            parse_action=lambda action: below.parse_action(self._read(action)),
        )

    def _write(self, command: Command, below: Presentation) -> Any:
        written = below.format_command(command)
        return self.lexicon.forward(written) if isinstance(written, str) else written

    def _renamed_instructions(self, below: str) -> str:
        if self._instructions[:2] != (self.lexicon, below):
            self._instructions = (self.lexicon, below, self.lexicon.forward(below))
        return self._instructions[2]

    # ----- gymnasium --------------------------------------------------------------------------

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        observation, info = self.env.reset(seed=seed, options=options)
        lexicon = self._fixed or build_lexicon(info["entities"], self.seed, self._pool, self._avoid)
        if lexicon is not self.lexicon:  # a counterfactual world's lexicon is the same at every reset
            self.lexicon = lexicon
            self._grammar = reskin_grammar(self.env.unwrapped.grammar, lexicon)
        return self._rename(observation, info)

    def step(self, action):
        observation, reward, terminated, truncated, info = self.env.step(self._read(action))
        observation, info = self._rename(observation, info)
        return observation, reward, terminated, truncated, info

    def _read(self, action: Any) -> Any:
        """Renamed text back to the names below; a canonical ``Command`` is already in them."""
        return self.lexicon.inverse(action) if isinstance(action, str) else action

    def _rename(self, observation: str, info: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        forward = self.lexicon.forward_value
        for key in ("view", "entities", "admissible_actions", "instructions"):
            info[key] = forward(info[key])
        self._last_observation = self.lexicon.forward(observation)
        return self._last_observation, info
