"""A small lexical search index over a generated world: BM25 as the ``bm25s`` library scores it.

The Shop and SearchQA families search their generated documents with BM25 (Lucene idf, Robertson's
term frequency, ``bm25s``'s defaults). The weights are computed here in a few array operations,
equal to ``bm25s``'s to the last bit (tests/test_retrieval.py compares them with the library's), so
that the index of a fresh world costs a fraction of a reset. An agent's text reaches the index
only as a query string: it is tokenized into lower-case alphanumeric words and looked up in the
index's vocabulary, never used as a path, command or address.

Example:
    >>> index = BM25Index(["waterproof hiking jacket, navy", "red rain jacket", "wool hat"])
    >>> index.search("navy jacket", k=2)
    [0, 1]
    >>> index.search("??? !!!", k=3), index.search("submarine", k=3)
    ([], [])
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from llm_gym.core import checked_index

_TOKEN = re.compile(r"[a-z0-9]+")
_BREAK, _BREAK_BYTES = "\x00", b"\x00"  # between documents (or queries) read in one pass
_WORD_BYTES = bytes(c if chr(c) in "abcdefghijklmnopqrstuvwxyz0123456789\x00" else 32 for c in range(256))
MAX_QUERY_CHARS = 2_000  # longer queries are cut (then to MAX_QUERY_TOKENS words): the cost of a
MAX_QUERY_TOKENS = 64  # search stays bounded whatever an agent writes
STOPWORDS = frozenset(
    "a an and are as at be but by for if in into is it no not of on or such that the their then there "
    "these they this to was will with i me my we our you your".split()
)


_STOPWORD_BYTES = frozenset(word.encode() for word in STOPWORDS)


def tokenize(text: str) -> list[str]:
    """Lower-case alphanumeric words of ``text``, stopwords dropped.

    Example:
        >>> tokenize("I need a Waterproof jacket, size L!")
        ['need', 'waterproof', 'jacket', 'size', 'l']
    """
    return [token for token in _TOKEN.findall(text.lower()) if token not in STOPWORDS]


class BM25Index:
    """BM25 over a fixed list of documents, built once; ``search`` returns document indices.

    Ties are broken by the lower document index, and only documents that share at least one
    word with the query are returned, so a query with no known word gives ``[]``.

    The index keeps each (word, document) weight, as ``bm25s`` computes it, in a dense float32
    matrix (one row per word) and adds a query's rows in the query's word order, in float32,
    exactly as ``bm25s.BM25.get_scores_from_ids`` accumulates them, so rankings are the library's
    to the last bit. That makes one search a few microseconds and lets search-based planners rank
    many queries at once (``search_many``). Besides documents as text, an index can be built from
    documents already split into words (``from_tokens``) or as word occurrences
    (``from_occurrences``: a generator that puts documents together from known names).
    """

    K1, B = 1.5, 0.75  # bm25s's defaults
    size: int  # documents
    _vocab: dict[str, int]  # word -> its row of weights
    _weights: np.ndarray  # [row, document], float32; the last row is zeros (padding)

    def __init__(self, documents: Sequence[str]) -> None:
        text = f" {_BREAK} ".join(documents).lower()
        if text.count(_BREAK) != max(0, len(documents) - 1):  # a document holds the break: one by one
            built = BM25Index.from_tokens([tokenize(document) for document in documents])
            self.size, self._vocab, self._weights = built.size, built._vocab, built._weights
            return
        # ``tokenize`` of every document in one pass: each byte but a-z, 0-9 and the break is a
        # separator (so is each byte of a non-ASCII character, as for the regular expression)
        words = text.encode().translate(_WORD_BYTES).split()
        vocabulary = {word: row for row, word in enumerate(dict.fromkeys(words))}
        ids = np.array(list(map(vocabulary.__getitem__, words)), np.int64)
        breaks = ids == vocabulary.get(_BREAK_BYTES, -1)
        dropped = np.array([word in _STOPWORD_BYTES for word in vocabulary], bool)
        kept = ~(dropped[ids] | breaks) if len(ids) else np.zeros(0, bool)
        self._build(np.cumsum(breaks)[kept], ids[kept], [word.decode() for word in vocabulary], len(documents))

    @classmethod
    def from_tokens(cls, corpus: Sequence[Sequence[str]]) -> BM25Index:
        """The index of documents given as their words: ``BM25Index(documents)`` to the last bit
        where ``corpus[i] == tokenize(documents[i])``.

        Example:
            >>> index = BM25Index.from_tokens([["red", "jacket"], ["blue", "jacket"], ["red", "hat"]])
            >>> index.search("red", k=3), index.search("blue jacket", k=3)
            ([0, 2], [1, 0])
        """
        words = list(itertools.chain.from_iterable(corpus))
        vocabulary = {word: row for row, word in enumerate(dict.fromkeys(words))}
        documents = np.repeat(np.arange(len(corpus)), np.fromiter(map(len, corpus), np.int64, len(corpus)))
        ids = np.fromiter(map(vocabulary.__getitem__, words), np.int64, len(words))
        return cls.from_occurrences(documents, ids, tuple(vocabulary), len(corpus))

    @classmethod
    def from_occurrences(
        cls, documents: np.ndarray, words: np.ndarray, vocabulary: Sequence[str], size: int
    ) -> BM25Index:
        """The index of ``size`` documents given as word occurrences, in any order: occurrence ``j``
        is word ``vocabulary[words[j]]`` in document ``documents[j]`` (a generator that puts
        documents together from known names need not write them out; words repeated in
        ``vocabulary`` count as one).

        Example:
            >>> index = BM25Index.from_occurrences(np.array([0, 0, 1, 1, 2, 2]), np.array([0, 1, 2, 1, 0, 3]),
            ...                                    ["red", "jacket", "blue", "hat"], 3)
            >>> index.search("red", k=3), index.search("blue jacket", k=3)
            ([0, 2], [1, 0])
        """
        index = cls.__new__(cls)
        index._build(np.asarray(documents, np.int64), np.asarray(words, np.int64), vocabulary, size)
        return index

    def _build(self, documents: np.ndarray, words: np.ndarray, vocabulary: Sequence[str], size: int) -> None:
        """The weights of the word occurrences ``(documents[j], vocabulary[words[j]])``, as bm25s's."""
        cells, counts = np.unique(words * size + documents, return_counts=True)
        token, document = np.divmod(cells, size) if size else (cells, cells)
        first = np.ones(len(token), bool)
        first[1:] = token[1:] != token[:-1]
        present, rows = token[first].tolist(), np.cumsum(first) - 1  # the words that occur, in order
        self.size, self._vocab = size, {vocabulary[i]: row for row, i in enumerate(present)}
        if len(self._vocab) < len(present):  # a word listed twice in the vocabulary: count it as one
            canonical = {word: i for i, word in reversed(list(enumerate(vocabulary)))}
            merged = np.array([canonical[vocabulary[i]] for i in words.tolist()], np.int64)
            self._build(documents, merged, vocabulary, size)
            return
        self._weights = np.zeros((len(present) + 1, size), np.float32)  # the last row stays zero (padding)
        if not len(cells):
            return
        lengths = np.bincount(documents, minlength=size)
        frequencies = np.bincount(rows).tolist()
        idf_of = {df: math.log(1 + (size - df + 0.5) / (df + 0.5)) for df in set(frequencies)}  # as bm25s, in double
        idf = np.array([idf_of[df] for df in frequencies], np.float32)
        norm = self.K1 * ((1 - self.B) + self.B * lengths / lengths.mean())  # float64 with float32 counts, as bm25s
        tf = counts.astype(np.float32)
        self._weights[rows, document] = idf[rows] * (tf / (norm[document] + tf))

    def __len__(self) -> int:
        return self.size

    def _ids(self, query: Any) -> list[int]:
        if not isinstance(query, str):
            return []
        return [
            self._vocab[token] for token in tokenize(query[:MAX_QUERY_CHARS])[:MAX_QUERY_TOKENS] if token in self._vocab
        ]

    def _ids_many(self, queries: Sequence[Any]) -> list[list[int]]:
        """``[self._ids(query) for query in queries]``, with every query tokenized in one pass."""
        cut = [query[:MAX_QUERY_CHARS] if isinstance(query, str) else "" for query in queries]
        text = f" {_BREAK} ".join(cut).lower()
        if text.count(_BREAK) != max(0, len(cut) - 1):  # a query holds the break: one by one
            return [self._ids(query) for query in queries]
        rows: list[list[int]] = [[]]
        words: list[str] = []
        for word in text.encode().translate(_WORD_BYTES).split():
            if word == _BREAK_BYTES:
                rows[-1], words = [self._vocab[w] for w in words[:MAX_QUERY_TOKENS] if w in self._vocab], []
                rows.append([])
            elif word not in _STOPWORD_BYTES:
                words.append(word.decode())
        rows[-1] = [self._vocab[w] for w in words[:MAX_QUERY_TOKENS] if w in self._vocab]
        return rows if queries else []

    @staticmethod
    def _checked_k(k: Any) -> int:
        return checked_index(k, "k")

    def search(self, query: str, k: int) -> list[int]:
        """Indices of the top-``k`` documents for ``query``, best first; ``[]`` when nothing matches."""
        k = self._checked_k(k)
        ids = self._ids(query)
        if not ids or k == 0:
            return []
        scores = self._weights[ids[0]].copy()
        for token in ids[1:]:
            scores += self._weights[token]
        matching = np.flatnonzero(scores > 0)
        order = matching[np.argsort(-scores[matching], kind="stable")]
        return order[:k].tolist()

    def search_many(self, queries: Sequence[str], k: int) -> list[list[int]]:
        """``[self.search(query, k) for query in queries]``, ranked in one batch.

        Example:
            >>> index = BM25Index(["red jacket", "blue jacket", "red hat"])
            >>> index.search_many(["red", "jacket blue", "green"], k=2)
            [[0, 2], [1, 0], []]
        """
        k = self._checked_k(k)
        if not queries:
            return []
        ids = self._ids_many(queries)
        width, padding = max(1, max(map(len, ids))), len(self._weights) - 1
        padded = np.array([row + [padding] * (width - len(row)) for row in ids])
        scores = self._weights[padded[:, 0]]
        for column in range(1, width):
            scores = scores + self._weights[padded[:, column]]  # adding the zero row leaves a score exact
        order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
        matching = (np.take_along_axis(scores, order, axis=1) > 0).sum(axis=1)  # scores are never negative
        return [row[:count] for row, count in zip(order.tolist(), matching.tolist())]
