"""Shift metrics: each kind of change moves its own distance and leaves the other at zero."""

from __future__ import annotations

import doctest

import pytest

import llm_gym
from llm_gym import shift
from llm_gym.registry import env_class
from llm_gym.shift import EnvConfig, compare, distance, distance_matrix, jensen_shannon, profile

ENV_IDS = llm_gym.env_ids()


def test_shift_doctests_pass():
    assert doctest.testmod(shift).failed == 0


def test_divergences_are_bounded_and_zero_on_equal_inputs():
    assert jensen_shannon({"a": 2, "b": 1}, {"a": 2, "b": 1}) == 0.0
    assert jensen_shannon({"a": 1}, {"b": 1}) == pytest.approx(1.0)
    assert 0 < jensen_shannon({"a": 1, "b": 1}, {"a": 1, "c": 1}) < 1
    assert shift.jaccard_distance(frozenset("ab"), frozenset("bc")) == pytest.approx(2 / 3)


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_interface_and_semantic_shifts_are_measured_apart(env_id):
    preset = next(iter(env_class(env_id).presets))
    base = profile(EnvConfig(env_id, difficulty=preset), episodes=2)
    same = compare(base, base)
    assert same.semantic == 0.0 and same.interface == 0.0 and same.differences == ()

    formatted = compare(
        base, profile(EnvConfig(env_id, difficulty=preset, interface="json+toolcall+history"), episodes=2)
    )
    assert formatted.semantic == 0.0, "a lossless interface stack must not move the semantic distance"
    assert formatted.components["observation_format"] == formatted.components["action_format"] == 1.0
    assert formatted.components["history"] == 1.0 and formatted.interface > 0
    assert any(line.startswith("action format") for line in formatted.differences)

    reskinned = compare(base, profile(EnvConfig(env_id, difficulty=preset, semantics="made-up"), episodes=2))
    assert reskinned.interface == 0.0, "a reskin must not move the interface distance"
    assert reskinned.components["entity_lexicon"] == 1.0
    assert 0 < reskinned.components["observation_vocabulary"] <= 1


def test_cross_family_distances_and_matrix_symmetry():
    configs = [EnvConfig(env_id, difficulty=next(iter(env_class(env_id).presets))) for env_id in ENV_IDS[:3]]
    matrix = distance_matrix(configs, episodes=2)
    for i, row in enumerate(matrix):
        assert row[i].semantic == 0.0 and row[i].interface == 0.0
        for j, report in enumerate(row):
            assert report.semantic == pytest.approx(matrix[j][i].semantic)
            assert report.interface == pytest.approx(matrix[j][i].interface)
            assert all(0.0 <= value <= 1.0 for value in report.components.values())
            if i != j:
                assert report.components["command_grammar"] > 0 and not report.task["same_family"]
                assert report.interface > 0 and report.semantic > 0


def test_action_list_visibility_is_graded():
    env_id = ENV_IDS[0]
    every = profile(EnvConfig(env_id, interface="actions-every"), episodes=1)
    first = profile(EnvConfig(env_id, interface="actions-first"), episodes=1)
    never = profile(EnvConfig(env_id, interface="actions-never"), episodes=1)
    assert compare(every, never).components["action_list"] == 1.0
    assert compare(every, first).components["action_list"] == 0.5
    assert compare(every, never).as_dict()["differences"] == ("action list: every_turn -> never",)


def test_bad_episode_count_is_a_value_error():
    with pytest.raises(ValueError, match="episodes"):
        distance(EnvConfig(ENV_IDS[0]), EnvConfig(ENV_IDS[0]), episodes=0)
