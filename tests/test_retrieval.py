"""The shared BM25 index: ranking, deterministic ties, and queries that must never raise."""

from __future__ import annotations

import random
import string
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llm_gym.retrieval import BM25Index, tokenize

DOCS = [
    "waterproof hiking jacket in navy",
    "red rain jacket",
    "wool hat, navy",
    "hiking boots leather",
    "waterproof hiking jacket in navy",  # exact duplicate of 0: a tie
    "",
]


@pytest.fixture(scope="module")
def index() -> BM25Index:
    return BM25Index(DOCS)


def test_best_match_first(index):
    assert index.search("waterproof navy hiking jacket", k=3)[:2] == [0, 4]
    assert index.search("leather boots", k=5) == [3]
    assert index.search("hat", k=5) == [2]


def test_ties_break_by_lower_index(index):
    assert index.search("waterproof", k=2) == [0, 4]
    assert index.search("waterproof", k=1) == [0]


def test_exact_tie_ordering_among_identical_documents():
    docs = ["blue shirt"] * 5 + ["green shirt"]
    assert BM25Index(docs).search("blue shirt", k=5) == [0, 1, 2, 3, 4]
    assert BM25Index(docs).search("shirt", k=6) == [0, 1, 2, 3, 4, 5]


def test_k_limits_and_only_matching_documents(index):
    assert len(index.search("jacket navy", k=2)) == 2
    assert index.search("jacket navy", k=0) == []
    hits = index.search("jacket navy", k=100)
    assert 5 not in hits and 3 not in hits
    assert len(hits) == len(set(hits))


@pytest.mark.parametrize("query", ["", "   ", "zzzz qqqq", "?!.,;", "the a of", "\x00\x01", "é漢字", "a" * 100_000])
def test_unknown_empty_or_garbage_queries_give_nothing(index, query):
    assert index.search(query, k=3) == []


def test_huge_queries_are_cut_and_stay_fast(index):
    index.search("warm up", k=1)
    start = time.perf_counter()
    assert index.search("hat " + "zz " * 1_000_000, k=3) == [2]  # only the first words count
    assert index.search("zz " * 1_000_000 + "hat", k=3) == []
    assert time.perf_counter() - start < 0.05


def test_case_and_punctuation_are_ignored(index):
    assert index.search("NAVY, Wool-Hat!!", k=1) == [2]


def test_bad_k_is_a_value_error(index):
    with pytest.raises(ValueError, match="k must be"):
        index.search("jacket", k=-1)
    with pytest.raises(ValueError, match="k must be"):
        index.search("jacket", k=1.5)  # type: ignore[arg-type]


def test_empty_or_wordless_corpus():
    assert BM25Index([]).search("anything", k=3) == []
    assert BM25Index(["", "!!"]).search("anything", k=3) == []
    assert len(BM25Index(["x", "y"])) == 2


def test_tokenize_drops_stopwords_and_punctuation():
    assert tokenize("I need THE size-L jacket") == ["need", "size", "l", "jacket"]


_SHARED = BM25Index(DOCS)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_any_string_never_raises(query):
    result = _SHARED.search(query, k=4)
    assert isinstance(result, list) and all(0 <= i < len(DOCS) for i in result)
    assert len(result) <= 4


def test_same_results_across_builds():
    rng = random.Random(3)
    docs = [" ".join(rng.choice(string.ascii_lowercase[:8]) * 3 for _ in range(6)) for _ in range(80)]
    queries = [" ".join(rng.choice(string.ascii_lowercase[:8]) * 3 for _ in range(2)) for _ in range(20)]
    first, second = BM25Index(docs), BM25Index(list(docs))
    assert [first.search(q, 7) for q in queries] == [second.search(q, 7) for q in queries]


def test_build_and_search_are_fast():
    rng = random.Random(0)
    words = [f"w{i}" for i in range(300)]
    docs = [" ".join(rng.choice(words) for _ in range(20)) for _ in range(300)]
    start = time.perf_counter()
    index = BM25Index(docs)
    built = time.perf_counter() - start
    start = time.perf_counter()
    for i in range(200):
        index.search(f"w{i} w{i + 1} w{i + 2}", k=10)
    per_query = (time.perf_counter() - start) / 200
    assert built < 0.2 and per_query < 0.002


def _library_ranking(documents: list[str], query: str, k: int) -> list[int]:
    """The ranking straight from ``bm25s``'s own scorer (float64 stable sort, ties by index)."""
    import bm25s
    import numpy as np

    retriever = bm25s.BM25()
    retriever.index([tokenize(document) for document in documents], show_progress=False)
    vocab = retriever.vocab_dict
    ids = [vocab[token] for token in tokenize(query)[:64] if token in vocab and token]
    if not ids:
        return []
    scores = np.asarray(retriever.get_scores_from_ids(ids), dtype=np.float64)
    matching = np.flatnonzero(scores > 0)
    return [int(i) for i in matching[np.argsort(-scores[matching], kind="stable")][:k]]


def test_rankings_equal_the_librarys_and_batches_equal_single_searches():
    """The dense scorer adds the library's weights in the library's order: the same rankings, ties
    included, on generated worlds with many equal scores; ``search_many`` equals ``search``."""
    import pickle

    from llm_gym.families.searchqa import PRESETS, generate_task

    chooser = random.Random(3)
    for seed in range(3):
        task = generate_task(seed, PRESETS["expert"], "realistic")
        documents = [f"{d.title} {d.text}" for d in task.documents]
        words = sorted({w for d in documents for w in tokenize(d)})
        queries = [" ".join(chooser.sample(words, chooser.randint(1, 5))) for _ in range(40)]
        queries += [d.title for d in task.documents[:20]] + ["", "zzz", "the the"]
        for query in queries[:25]:
            assert task.index.search(query, 5) == _library_ranking(documents, query, 5), query
        assert task.index.search_many(queries, 3) == [task.index.search(q, 3) for q in queries]
        assert task.index.search_many(queries, 0) == [[] for _ in queries]
        copy = pickle.loads(pickle.dumps(task.index))
        assert [copy.search(q, 4) for q in queries] == [task.index.search(q, 4) for q in queries]


def _library_weights(documents: list[str]) -> dict[str, list[float]]:
    """Each word's weight in each document, straight from ``bm25s``'s index."""
    import bm25s
    import numpy as np

    retriever = bm25s.BM25()
    retriever.index([tokenize(document) for document in documents], show_progress=False)
    indptr, indices, data = (np.asarray(retriever.scores[key]) for key in ("indptr", "indices", "data"))
    weights = {}
    for token, row in retriever.vocab_dict.items():
        if token:
            dense = np.zeros(len(documents), np.float32)
            dense[indices[indptr[row] : indptr[row + 1]]] = data[indptr[row] : indptr[row + 1]]
            weights[token] = dense.tolist()
    return weights


def _weights(index: BM25Index) -> dict[str, list[float]]:
    return {token: index._weights[row].tolist() for token, row in index._vocab.items()}


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.lists(st.sampled_from(["red", "jacket", "the", "Navy", "x9", "é", "a-b", "hat", "\x00", "of"]), max_size=12),
        min_size=1,
        max_size=12,
    )
)
def test_every_constructor_holds_the_librarys_weights_to_the_last_bit(rows):
    """Text (read in one pass), words and word occurrences give ``bm25s``'s weights exactly, with
    empty documents, stopwords, non-ASCII text and the separator the one-pass reader uses."""
    import numpy as np

    documents = [" ".join(row) for row in rows]
    corpus = [tokenize(document) for document in documents]
    if not any(corpus):
        assert BM25Index(documents).search("red", 3) == []
        return
    expected = _library_weights(documents)
    words = sorted({word for row in corpus for word in row})
    occurrences = BM25Index.from_occurrences(
        np.array([doc for doc, row in enumerate(corpus) for _ in row], dtype=np.int64),
        np.array([words.index(word) for row in corpus for word in row], dtype=np.int64),
        words,
        len(documents),
    )
    for index in (BM25Index(documents), BM25Index.from_tokens(corpus), occurrences):
        assert len(index) == len(documents) and _weights(index) == expected


def test_a_word_listed_twice_in_the_vocabulary_counts_as_one():
    import numpy as np

    merged = BM25Index.from_occurrences(
        np.array([0, 0, 1, 1, 2]), np.array([0, 1, 2, 3, 4]), ["red", "jacket", "red", "hat", "jacket"], 3
    )
    assert _weights(merged) == _weights(BM25Index.from_tokens([["red", "jacket"], ["red", "hat"], ["jacket"]]))


@settings(max_examples=150, deadline=None)
@given(st.lists(st.one_of(st.text(max_size=60), st.sampled_from(DOCS), st.none(), st.integers()), max_size=6))
def test_batched_queries_read_each_query_as_a_single_search_does(queries):
    assert _SHARED._ids_many(queries) == [_SHARED._ids(query) for query in queries]
    assert _SHARED.search_many([q for q in queries if isinstance(q, str)], 3) == [
        _SHARED.search(q, 3) for q in queries if isinstance(q, str)
    ]
