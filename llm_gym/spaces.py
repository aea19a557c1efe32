"""Text spaces for llm-gym: a broad printable charset, and async vector envs that work.

Gymnasium's default ``Text`` charset has no space or punctuation, so prose falls outside it.
``TextSpace`` accepts printable ASCII and the empty string. Gymnasium's ``AsyncVectorEnv`` with
shared memory (its default) reads Text observations from shared memory once and then returns that
stale snapshot forever; for ``TextSpace`` we register shared-memory handlers whose read returns a
live view, so ``gym.make_vec(id, vectorization_mode="async")`` gives correct observations.
"""

from __future__ import annotations

import re
import string
from collections.abc import Sequence
from typing import Any

import numpy as np
from gymnasium import spaces
from gymnasium.vector.utils import shared_memory as _shm

TEXT_CHARSET = string.printable
MAX_TEXT_LENGTH = 16_384
_REPLACEMENT = "?"
_NOT_PRINTABLE = re.compile(f"[^{re.escape(TEXT_CHARSET)}]")
_LENGTH = np.dtype("<u4")  # each shared-memory row: the text's length, then its ASCII bytes


class TextSpace(spaces.Text):
    """``gymnasium.spaces.Text`` over printable ASCII, empty strings allowed.

    Example:
        >>> space = TextSpace()
        >>> space.contains("craft 1 stick using 2 planks, 1 glue")
        True
        >>> space.contains("")
        True
    """

    def __init__(self, max_length: int = MAX_TEXT_LENGTH, *, seed: Any = None):
        super().__init__(max_length, min_length=0, charset=TEXT_CHARSET, seed=seed)

    def __repr__(self) -> str:
        return f"TextSpace({self.max_length})"


def to_printable(text: str, max_length: int = MAX_TEXT_LENGTH) -> str:
    """Map ``text`` into ``TextSpace``: non-printable characters become '?', then truncate."""
    if _NOT_PRINTABLE.search(text):
        text = _NOT_PRINTABLE.sub(_REPLACEMENT, text)
    return text[:max_length]


class SharedTextBatch(Sequence):
    """A live, read-only view of the strings an ``AsyncVectorEnv`` keeps in shared memory.

    ``AsyncVectorEnv`` deep-copies its observations before returning them (``copy=True``, the
    default), which turns this view into a plain tuple of strings.
    """

    def __init__(self, rows: np.ndarray):
        self._rows = rows

    def __len__(self) -> int:
        return self._rows.shape[0]

    def __getitem__(self, index):
        if isinstance(index, slice):
            return tuple(self[i] for i in range(*index.indices(len(self))))
        row = self._rows[index]
        length = int(row[: _LENGTH.itemsize].view(_LENGTH)[0])
        return row[_LENGTH.itemsize : _LENGTH.itemsize + length].tobytes().decode("ascii")

    def __deepcopy__(self, memo) -> tuple[str, ...]:
        return tuple(self)

    def __repr__(self) -> str:
        return repr(tuple(self))


def _text_rows(space: TextSpace, shared_memory) -> np.ndarray:
    return np.frombuffer(shared_memory.get_obj(), dtype=np.uint8).reshape(-1, _LENGTH.itemsize + space.max_length)


@_shm.create_shared_memory.register(TextSpace)
def _create_text_memory(space: TextSpace, n: int = 1, ctx=None):
    import multiprocessing

    return (ctx or multiprocessing).Array("B", n * (_LENGTH.itemsize + space.max_length))


@_shm.read_from_shared_memory.register(TextSpace)
def _read_text_memory(space: TextSpace, shared_memory, n: int = 1) -> SharedTextBatch:
    return SharedTextBatch(_text_rows(space, shared_memory))


@_shm.write_to_shared_memory.register(TextSpace)
def _write_text_memory(space: TextSpace, index: int, value: str, shared_memory) -> None:
    row = _text_rows(space, shared_memory)[index]
    encoded = to_printable(value, space.max_length).encode("ascii")
    row[: _LENGTH.itemsize] = np.array([len(encoded)], dtype=_LENGTH).view(np.uint8)
    row[_LENGTH.itemsize : _LENGTH.itemsize + len(encoded)] = np.frombuffer(encoded, dtype=np.uint8)
