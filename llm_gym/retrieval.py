"""A small lexical search index over a generated world, on the ``bm25s`` library.

The Shop and SearchQA families search their generated documents with BM25 (Lucene variant, as
``bm25s`` implements it). This module only tokenizes and ranks deterministically; the scoring is
the library's. An agent's text reaches the index only as a query string: it is tokenized into
lower-case alphanumeric words and looked up in the index's vocabulary, never used as a path,
command or address.

Example:
    >>> index = BM25Index(["waterproof hiking jacket, navy", "red rain jacket", "wool hat"])
    >>> index.search("navy jacket", k=2)
    [0, 1]
    >>> index.search("??? !!!", k=3), index.search("submarine", k=3)
    ([], [])
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from llm_gym.core import checked_index

_TOKEN = re.compile(r"[a-z0-9]+")
MAX_QUERY_CHARS = 2_000  # longer queries are cut (then to MAX_QUERY_TOKENS words): the cost of a
MAX_QUERY_TOKENS = 64  # search stays bounded whatever an agent writes
STOPWORDS = frozenset(
    "a an and are as at be but by for if in into is it no not of on or such that the their then there "
    "these they this to was will with i me my we our you your".split()
)


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

    ``bm25s`` computes each (word, document) weight once; the index keeps them as a dense
    float32 matrix (one row per word) and adds a query's rows in the query's word order, in
    float32, exactly as ``bm25s.BM25.get_scores_from_ids`` accumulates them, so rankings are the
    library's to the last bit. That makes one search a few microseconds and lets search-based
    planners rank many queries at once (``search_many``); the index pickles without ``bm25s``.
    """

    def __init__(self, documents: Sequence[str]) -> None:
        import bm25s  # imported here so `import llm_gym` stays fast

        self.size = len(documents)
        self._vocab: dict[str, int] = {}
        self._weights = np.zeros((1, self.size), dtype=np.float32)  # the last row stays zero (padding)
        corpus = [tokenize(document) for document in documents]
        if any(corpus):
            retriever = bm25s.BM25()
            retriever.index(corpus, show_progress=False)
            self._vocab = {token: index for token, index in retriever.vocab_dict.items() if token}
            scores = retriever.scores
            indptr = np.asarray(scores["indptr"])
            weights = np.zeros((len(indptr), self.size), dtype=np.float32)
            rows = np.repeat(np.arange(len(indptr) - 1), np.diff(indptr))
            weights[rows, np.asarray(scores["indices"])] = np.asarray(scores["data"], dtype=np.float32)
            self._weights = weights

    def __len__(self) -> int:
        return self.size

    def _ids(self, query: Any) -> list[int]:
        if not isinstance(query, str):
            return []
        return [
            self._vocab[token] for token in tokenize(query[:MAX_QUERY_CHARS])[:MAX_QUERY_TOKENS] if token in self._vocab
        ]

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
        ids = [self._ids(query) for query in queries]
        width = max(1, max(len(row) for row in ids))
        padded = np.full((len(ids), width), len(self._weights) - 1)
        for row, tokens in enumerate(ids):
            padded[row, : len(tokens)] = tokens
        scores = self._weights[padded[:, 0]]
        for column in range(1, width):
            scores = scores + self._weights[padded[:, column]]  # adding the zero row leaves a score exact
        order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
        top = np.take_along_axis(scores, order, axis=1) > 0
        return [row[keep].tolist() if k else [] for row, keep in zip(order, top)]
