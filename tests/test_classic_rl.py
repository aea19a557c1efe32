"""Classic RL libraries on llm-gym: ``HashedBagOfWords`` over ``DiscreteActions``, SB3 and MaskablePPO."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings

import gymnasium as gym
import numpy as np
import pytest

import llm_gym  # noqa: F401  (registers the ids)
from llm_gym.wrappers import DiscreteActions, HashedBagOfWords, describe
from llm_gym.wrappers.numeric import hashed_bag_of_words


def numeric_textcraft(**kwargs) -> gym.Env:
    env = gym.make("llm_gym/TextCraft-v0", difficulty="easy", render_mode="ansi")
    return HashedBagOfWords(DiscreteActions(env, max_actions=64), **kwargs)


def test_observations_are_fixed_size_vectors_in_the_box_with_the_task_kept():
    env = numeric_textcraft(dim=512)
    first, info = env.reset(seed=0)
    task = hashed_bag_of_words(env.render(), 512, prefix="task:")
    assert first.shape == (512,) and first.dtype == np.float32 and first in env.observation_space
    later, *_, info = env.step(1)
    assert later in env.observation_space
    assert np.array_equal(later, np.maximum(hashed_bag_of_words(env.render(), 512), task))
    assert info["action_mask"].shape == (64,)
    assert np.array_equal(env.get_wrapper_attr("action_masks")(), info["action_mask"].astype(bool))
    without_task = numeric_textcraft(dim=512, task=False)
    without_task.reset(seed=0)
    assert np.array_equal(without_task.step(1)[0], hashed_bag_of_words(env.render(), 512))
    assert describe(env)[0] == {
        "wrapper": "HashedBagOfWords",
        "lossless": False,
        "shift": "interface",
        "dim": 512,
        "ngrams": 2,
        "task": True,
    }


def test_features_are_words_and_ngrams_and_the_hash_is_stable_across_processes():
    assert hashed_bag_of_words("", 8).sum() == 0
    assert np.array_equal(hashed_bag_of_words("Get 1 WHEAT!", 4096), hashed_bag_of_words("get 1 wheat", 4096))
    assert hashed_bag_of_words("a b c", 4096, ngrams=1).sum() == 3
    assert hashed_bag_of_words("a b c", 4096, ngrams=2).sum() == 5
    code = "from llm_gym.wrappers.numeric import hashed_bag_of_words as h; print(h('craft 1 lever', 4096).nonzero()[0].tolist())"
    runs = {
        subprocess.run(
            [sys.executable, "-c", code],
            check=True,
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
        ).stdout
        for seed in ("1", "2")
    }
    assert runs == {f"{np.flatnonzero(hashed_bag_of_words('craft 1 lever', 4096)).tolist()}\n"}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"dim": 0}, "dim must be a positive integer, got 0"),
        ({"dim": 8.0}, "dim must be a positive integer, got 8.0"),
        ({"ngrams": True}, "ngrams must be a positive integer, got True"),
        ({"task": "yes"}, "task must be True or False, got 'yes'"),
    ],
)
def test_bad_arguments_are_value_errors_naming_them(kwargs, message):
    with pytest.raises(ValueError, match=message):
        numeric_textcraft(**kwargs)


def test_stable_baselines3_check_env_passes_without_warnings():
    env_checker = pytest.importorskip(
        "stable_baselines3.common.env_checker", reason="needs stable-baselines3 (the rl extra)"
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        env_checker.check_env(numeric_textcraft(), warn=True)
    assert not caught, [str(warning.message) for warning in caught]


def test_maskable_ppo_learns_through_the_stack_without_glue():
    sb3_contrib = pytest.importorskip("sb3_contrib", reason="needs sb3-contrib (the rl extra)")
    import torch

    torch.set_num_threads(1)
    env = numeric_textcraft(dim=1024)
    model = sb3_contrib.MaskablePPO("MlpPolicy", env, n_steps=256, batch_size=64, n_epochs=4, seed=0)
    model.learn(total_timesteps=2_000)
    assert model.num_timesteps >= 2_000
    observation, info = env.reset(seed=1)
    action, _ = model.predict(observation, action_masks=env.get_wrapper_attr("action_masks")())
    assert info["action_mask"][int(action)] == 1
