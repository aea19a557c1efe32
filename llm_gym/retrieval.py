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

import numpy as np

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
    """

    def __init__(self, documents: Sequence[str]) -> None:
        import bm25s  # imported here so `import llm_gym` stays fast

        self.size = len(documents)
        self._retriever = None
        self._vocab: dict[str, int] = {}
        corpus = [tokenize(document) for document in documents]
        if any(corpus):
            self._retriever = bm25s.BM25()
            self._retriever.index(corpus, show_progress=False)
            self._vocab = {token: index for token, index in self._retriever.vocab_dict.items() if token}

    def __len__(self) -> int:
        return self.size

    def search(self, query: str, k: int) -> list[int]:
        """Indices of the top-``k`` documents for ``query``, best first; ``[]`` when nothing matches."""
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 0:
            raise ValueError(f"k must be a non-negative integer, got {k!r}")
        if not isinstance(query, str) or self._retriever is None or k == 0:
            return []
        ids = [self._vocab[token] for token in tokenize(query[:MAX_QUERY_CHARS])[:MAX_QUERY_TOKENS] if token in self._vocab]
        if not ids:
            return []
        scores = np.asarray(self._retriever.get_scores_from_ids(ids), dtype=np.float64)
        matching = np.flatnonzero(scores > 0)
        order = matching[np.argsort(-scores[matching], kind="stable")]
        return [int(index) for index in order[:k]]
