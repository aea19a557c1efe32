"""Numeric observations for classic RL libraries: text hashed into a fixed-size vector."""

from __future__ import annotations

import re
import zlib
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from llm_gym.core import checked_index
from llm_gym.wrappers.base import LLMGymWrapper

_WORD = re.compile(r"[a-z0-9]+")


def hashed_bag_of_words(text: str, dim: int, ngrams: int = 2, prefix: str = "") -> np.ndarray:
    """The 0/1 float32 vector of length ``dim`` marking the hashed words and word n-grams of ``text``.

    Words are the lower-cased runs of letters and digits; every run of 1 to ``ngrams`` neighbouring
    words, written after ``prefix``, sets the feature its CRC-32 names (stable across processes
    and machines, unlike Python's ``hash``, which is salted per process).

    Example:
        >>> np.flatnonzero(hashed_bag_of_words("Get 1 wheat.", dim=16)).tolist()
        [0, 5, 6, 7]
    """
    words = _WORD.findall(text.lower())
    grams = {" ".join(words[start : start + n]) for n in range(1, ngrams + 1) for start in range(len(words) - n + 1)}
    vector = np.zeros(dim, dtype=np.float32)
    vector[[zlib.crc32(f"{prefix}{gram}".encode()) % dim for gram in grams]] = 1.0
    return vector


class HashedBagOfWords(LLMGymWrapper):
    """Make the observation a ``Box(0, 1, (dim,), float32)`` vector: the hashed words of the text.

    Each word and each run of up to ``ngrams`` neighbouring words of the observation sets one of
    ``dim`` features (``hashed_bag_of_words``). Later observations of an episode give only feedback,
    so with ``task=True`` the words of its first observation (the instructions, the goal and what
    the task lists, such as TextCraft's recipes) are hashed too, under their own prefix, into every
    observation of the episode. Word order beyond ``ngrams`` and hash collisions are lost, so it is
    lossy. Put it outermost, over ``DiscreteActions`` for a ``Discrete`` action space:
    ``action_masks()`` and ``info["action_mask"]`` pass through, so sb3-contrib's ``MaskablePPO``
    runs unmodified. ``render()`` gives the text last hashed.

    Example:
        >>> import gymnasium as gym, llm_gym
        >>> from llm_gym.wrappers import DiscreteActions
        >>> core = gym.make("llm_gym/TextCraft-v0", render_mode="ansi")
        >>> env = HashedBagOfWords(DiscreteActions(core, max_actions=64), dim=2048)
        >>> env.observation_space
        Box(0.0, 1.0, (2048,), float32)
        >>> observation, info = env.reset(seed=0)
        >>> env.get_wrapper_attr("action_masks")()[:3].tolist(), info["action_mask"][:3].tolist()
        ([True, True, True], [1, 1, 1])
        >>> observation, reward, terminated, truncated, info = env.step(1)
        >>> env.render().splitlines()[0], observation.dtype, int(observation.sum())
        ('Got 1 end stone.', dtype('float32'), 493)
    """

    lossless = False
    shift = "interface"

    def __init__(self, env: gym.Env, dim: int = 2048, ngrams: int = 2, task: bool = True):
        super().__init__(env, dim=dim, ngrams=ngrams, task=task)
        self.dim = checked_index(dim, "HashedBagOfWords dim", low=1)
        self.ngrams = checked_index(ngrams, "HashedBagOfWords ngrams", low=1)
        if not isinstance(task, bool):
            raise ValueError(f"HashedBagOfWords task must be True or False, got {task!r}")
        self.task = task
        self.observation_space = spaces.Box(0.0, 1.0, (self.dim,), np.float32)
        self._task_features = np.zeros(self.dim, dtype=np.float32)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        text, info = self.env.reset(seed=seed, options=options)
        if self.task:
            self._task_features = hashed_bag_of_words(text, self.dim, self.ngrams, prefix="task:")
        return self._features(text), info

    def step(self, action: Any):
        text, reward, terminated, truncated, info = self.env.step(action)
        return self._features(text), reward, terminated, truncated, info

    def _features(self, text: str) -> np.ndarray:
        self._last_observation = text
        return np.maximum(hashed_bag_of_words(text, self.dim, self.ngrams), self._task_features)
