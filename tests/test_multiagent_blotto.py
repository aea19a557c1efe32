"""Blotto: Parallel and AEC conformance, round resolution, bad actions, scripted policies."""

from __future__ import annotations

import math
import warnings

import pytest
from pettingzoo.test import api_test, parallel_api_test, parallel_seed_test, seed_test
from pettingzoo.utils.conversions import parallel_to_aec

from llm_gym.multiagent.blotto import PRESETS, BlottoEnv, CounterBlotto, EvenBlotto, RandomBlotto, allocations
from llm_gym.testing import FUZZ_ACTIONS


@pytest.mark.parametrize("preset", list(PRESETS))
def test_parallel_and_aec_api_and_seed_tests(preset):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        parallel_api_test(BlottoEnv(difficulty=preset), num_cycles=30)
        parallel_seed_test(lambda: BlottoEnv(difficulty=preset), num_cycles=15)
        api_test(parallel_to_aec(BlottoEnv(difficulty=preset)), num_cycles=30)
        seed_test(lambda: parallel_to_aec(BlottoEnv(difficulty=preset)), num_cycles=15)


def test_moves_are_every_split_of_the_soldiers():
    for config in PRESETS.values():
        moves = allocations(config.soldiers, config.fields)
        assert len(moves) == math.comb(config.soldiers + config.fields - 1, config.fields - 1)
        assert all(sum(move) == config.soldiers for move in moves) and len(set(moves)) == len(moves)


def test_rounds_resolve_by_fields_won_and_the_game_ends_after_the_last():
    env = BlottoEnv(difficulty="small")
    env.reset(seed=0)
    _, rewards, terminations, _, infos = env.step({"player_0": "send 3 1 1", "player_1": "send 2 2 1"})
    assert rewards == {"player_0": 0.0, "player_1": 0.0}  # hill to player_0, bridge to player_1, village tied
    _, rewards, *_ = env.step({"player_0": "send 0 3 2", "player_1": "send 5 0 0"})
    assert rewards == {"player_0": 1.0, "player_1": -1.0}
    observations, rewards, terminations, truncations, infos = env.step(
        {"player_0": "send 5 0 0", "player_1": "send 0 3 2"}
    )
    assert rewards == {"player_0": -1.0, "player_1": 1.0}
    assert terminations == {"player_0": True, "player_1": True} and not any(truncations.values())
    assert {infos[agent]["outcome"] for agent in infos} == {"draw"} and env.agents == []
    assert "your opponent sent 0 to the hill, 3 to the bridge, 2 to the village" in observations["player_0"]["text"]


def test_bad_moves_leave_the_round_unplayed():
    env = BlottoEnv(difficulty="medium")
    env.reset(seed=1)
    for action in FUZZ_ACTIONS + ("send 9 0 0 0", "send 1 1 1"):
        _, rewards, *_, infos = env.step({"player_0": action, "player_1": "send 2 2 2 2"})
        assert infos["player_0"]["action_status"] in ("parse_error", "illegal")
        assert infos["player_1"]["action_status"] == "ok"
        assert env.history == [] and rewards == {"player_0": 0.0, "player_1": 0.0}
        if not env.agents:
            env.reset(seed=1)
    assert infos["player_0"]["action_status"] == "parse_error"  # three numbers for four fields
    env.reset(seed=1)
    observations, *_, infos = env.step({"player_0": "send 9 0 0 0", "player_1": "send 2 2 2 2"})
    assert "must add up to exactly 8" in observations["player_0"]["text"]
    assert "Your move was fine" in observations["player_1"]["text"]


def test_turn_limit_truncates():
    env = BlottoEnv(difficulty="small", max_turns=2)
    env.reset(seed=0)
    env.step({"player_0": "x", "player_1": "y"})
    _, _, terminations, truncations, infos = env.step({"player_0": "x", "player_1": "y"})
    assert truncations == {"player_0": True, "player_1": True} and not any(terminations.values())
    assert infos["player_0"]["outcome"] == "truncated"


def play(env: BlottoEnv, policies: dict, seed: int) -> dict[str, float]:
    observations, infos = env.reset(seed=seed)
    totals = {agent: 0.0 for agent in env.possible_agents}
    while env.agents:
        actions = {agent: policies[agent].act(observations[agent], infos[agent]) for agent in env.agents}
        observations, rewards, _, _, infos = env.step(actions)
        for agent, reward in rewards.items():
            totals[agent] += reward
    return totals


def test_scripted_policies_play_legal_moves_and_counter_exploits_a_fixed_opponent():
    class Fixed:
        def act(self, observation, info):
            return "send 4 2 1 1"

    env = BlottoEnv(difficulty="medium")
    for seed in range(3):
        totals = play(env, {"player_0": CounterBlotto(seed), "player_1": Fixed()}, seed)
        assert totals["player_0"] >= env.config.rounds - 2  # loses or draws at most the first round
        totals = play(env, {"player_0": RandomBlotto(seed), "player_1": EvenBlotto(seed)}, seed)
        assert totals["player_0"] == -totals["player_1"] and len(env.history) == env.config.rounds


def test_configuration_errors_name_the_problem():
    with pytest.raises(ValueError, match="allocations"):
        BlottoEnv(difficulty={"soldiers": 20, "fields": 5})
    with pytest.raises(ValueError, match="small"):
        BlottoEnv(difficulty="tiny")
