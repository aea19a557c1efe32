"""Shared helpers for themes: seeded made-up words that read as names but carry no meaning."""

from __future__ import annotations

import random

_ONSETS = (
    "b",
    "d",
    "f",
    "g",
    "k",
    "l",
    "m",
    "n",
    "p",
    "r",
    "s",
    "t",
    "v",
    "z",
    "br",
    "dr",
    "gl",
    "kr",
    "pl",
    "st",
    "tr",
    "sk",
)
_VOWELS = ("a", "e", "i", "o", "u", "ai", "oo", "ei")
_CODAS = ("", "", "", "n", "r", "l", "k", "sh", "m", "x")


def made_up_word(rng: random.Random, syllables: int) -> str:
    """One pronounceable word of ``syllables`` syllables, drawn from ``rng``."""
    return "".join(rng.choice(_ONSETS) + rng.choice(_VOWELS) + rng.choice(_CODAS) for _ in range(syllables))


def made_up_words(rng: random.Random, count: int, taken: frozenset[str] = frozenset()) -> list[str]:
    """``count`` distinct made-up words of two or three syllables, none of them in ``taken``.

    Example:
        >>> made_up_words(random.Random(0), 3)
        ['zargleik', 'draixmir', 'gumstir']
    """
    words: list[str] = []
    seen = set(taken)
    while len(words) < count:
        word = made_up_word(rng, rng.choice((2, 2, 3)))
        if word not in seen:
            seen.add(word)
            words.append(word)
    return words
