"""Poker: PettingZoo conformance, rules, hidden information, bad actions, exact policy values."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from pettingzoo.test import api_test, seed_test

from llm_gym.multiagent.poker import (
    PRESETS,
    HeuristicPoker,
    KuhnEquilibrium,
    PokerEnv,
    PokerState,
    RandomPoker,
    best_response_value,
    card_name,
    expected_payoffs,
    exploitability,
)
from llm_gym.testing import FUZZ_ACTIONS

KUHN, LEDUC = PRESETS["kuhn"], PRESETS["leduc"]


@pytest.mark.parametrize("preset", list(PRESETS))
def test_pettingzoo_api_and_seed_tests(preset):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        api_test(PokerEnv(difficulty=preset), num_cycles=100)
        seed_test(lambda: PokerEnv(difficulty=preset), num_cycles=30)


def test_kuhn_equilibrium_value_is_minus_one_eighteenth():
    for alpha in (0.0, 1 / 6, 1 / 3):
        value = expected_payoffs(KUHN, (KuhnEquilibrium(alpha=alpha), KuhnEquilibrium()))
        assert value[0] == pytest.approx(-1 / 18) and value[1] == pytest.approx(1 / 18)


def test_kuhn_equilibrium_is_not_exploited_by_other_policies():
    for other in (HeuristicPoker(), HeuristicPoker(bluff=0.0), RandomPoker()):
        assert expected_payoffs(KUHN, (KuhnEquilibrium(), other))[0] >= -1 / 18 - 1e-9
        assert expected_payoffs(KUHN, (other, KuhnEquilibrium()))[1] >= 1 / 18 - 1e-9


def test_best_responses_confirm_the_kuhn_equilibrium_and_exploit_the_rest():
    for alpha in (0.0, 1 / 3):
        equilibrium = KuhnEquilibrium(alpha=alpha)
        assert best_response_value(KUHN, equilibrium, 0) == pytest.approx(-1 / 18)
        assert best_response_value(KUHN, equilibrium, 1) == pytest.approx(1 / 18)
        assert exploitability(KUHN, equilibrium) == pytest.approx(0.0, abs=1e-12)
    assert exploitability(KUHN, RandomPoker()) > exploitability(KUHN, HeuristicPoker()) > 0.05


def test_a_best_response_does_at_least_as_well_as_any_policy():
    best = best_response_value(LEDUC, RandomPoker(), 1)
    for policy in (HeuristicPoker(), HeuristicPoker(bluff=0.0), RandomPoker()):
        assert best >= expected_payoffs(LEDUC, (RandomPoker(), policy))[1] - 1e-9


def test_heuristic_beats_random_in_both_seats_of_leduc():
    assert expected_payoffs(LEDUC, (HeuristicPoker(), RandomPoker()))[0] > 0.5
    assert expected_payoffs(LEDUC, (RandomPoker(), HeuristicPoker()))[1] > 0.5


def test_board_pair_beats_higher_card_and_ties_split():
    ace, queen, jack = (2, 0), (1, 0), (0, 1)
    state = PokerState(LEDUC, (jack, ace), (0, 0), (1, 1))
    for verb in ("check", "check", "check", "check"):
        state = state.apply(verb)
    assert state.finished and state.board_shown
    assert state.payoffs() == (1, -1)  # the Jack pairs the board
    tie = PokerState(LEDUC, ((1, 0), (1, 1)), (2, 0), (1, 1))
    for verb in ("bet", "call", "check", "check"):
        tie = tie.apply(verb)
    assert tie.payoffs() == (0, 0)
    assert queen[0] < ace[0]


def test_betting_rules_limit_raises_and_fold_ends_the_hand():
    state = PokerState(LEDUC, ((0, 0), (1, 0)), (2, 0), (1, 1))
    assert state.legal() == ("check", "bet")
    state = state.apply("bet")
    assert state.legal() == ("call", "raise", "fold") and state.contributions == (3, 1)
    state = state.apply("raise")
    assert state.legal() == ("call", "fold") and state.contributions == (3, 5)
    state = state.apply("call")
    assert state.round == 1 and state.contributions == (5, 5) and state.legal() == ("check", "bet")
    state = state.apply("bet").apply("fold")
    assert state.finished and state.payoffs() == (5, -5)


def test_a_hand_plays_to_a_zero_sum_end_with_outcomes():
    env = PokerEnv(difficulty="leduc")
    env.reset(seed=3)
    totals = {agent: 0.0 for agent in env.possible_agents}
    policies = {"player_0": HeuristicPoker(seed=0), "player_1": RandomPoker(seed=1)}
    for agent in env.agent_iter(100):
        observation, reward, terminated, truncated, info = env.last()
        totals[agent] += reward
        env.step(None if terminated or truncated else policies[agent].act(observation, info))
    assert totals["player_0"] == -totals["player_1"]
    assert not env.agents


def test_render_shows_every_seat_before_and_after_the_hand_ends():
    env = PokerEnv(difficulty="kuhn", render_mode="ansi")
    assert env.render() is None  # nothing to show before reset
    env.reset(seed=0)
    assert env.render().count("== player_") == 2
    env.step("check")
    env.step("check")  # showdown
    for _ in env.agent_iter():
        env.step(None)  # the dead steps empty env.agents
    final = env.render()
    assert not env.agents and final.count("== player_") == 2
    assert "Showdown: your opponent shows" in final and "Your move" not in final


def test_hidden_cards_stay_hidden_until_showdown():
    for seed in range(30):
        env = PokerEnv(difficulty="kuhn")
        env.reset(seed=seed)
        hidden = card_name(env.hand.cards[0], KUHN)
        env.step("check")
        text = env.observe("player_1")["text"]
        assert text.startswith(env.instructions["player_1"])
        body = text[len(env.instructions["player_1"]) :]
        assert hidden not in body.replace(f"Your card: {card_name(env.hand.cards[1], KUHN)}", "")
        assert env.infos["player_1"]["info_state"].cards[0] == (-1, -1)
        assert env.infos["player_1"]["info_state"].cards[1] == env.hand.cards[1]
        env.step("check")  # showdown: now both cards are shown
        assert hidden in env.observe("player_1")["text"]


def test_bad_actions_are_flagged_and_change_nothing():
    env = PokerEnv(difficulty="leduc")
    env.reset(seed=5)
    env.step("bet")
    before, agent = env.hand, env.agent_selection
    for action in FUZZ_ACTIONS + ("check", "bet"):
        env.step(action)
        status = env.infos[agent]["action_status"]
        assert status in ("parse_error", "illegal"), action
        assert env.hand == before and env.agent_selection == agent
    assert env.infos[agent]["action_status"] == "illegal"
    assert "a bet is open" in env.observe(agent)["text"]
    env.step("call")
    assert env.infos[agent]["action_status"] == "ok" and env.hand != before


def test_action_mask_matches_legal_moves():
    env = PokerEnv(difficulty="leduc")
    env.reset(seed=0)
    mask = env.observe("player_0")["action_mask"]
    assert mask.tolist() == [1, 1, 0, 0, 0]  # check, bet, call, raise, fold
    assert env.observe("player_1")["action_mask"].tolist() == [0, 0, 0, 0, 0]
    env.step("bet")
    assert env.observe("player_1")["action_mask"].tolist() == [0, 0, 1, 1, 1]
    assert env.action_space("player_1").sample(np.array([0, 0, 1, 0, 0], dtype=np.int8)) == "call"


def test_deals_are_deterministic_and_hand_seed_picks_the_deal():
    first, second = PokerEnv(difficulty="large"), PokerEnv(difficulty="large")
    first.reset(seed=11)
    second.reset(seed=11)
    assert first.hand == second.hand
    first.reset(options={"hand_seed": 7})
    second.reset(seed=999, options={"hand_seed": 7})
    assert first.hand == second.hand and first.task_id == second.task_id


def test_configuration_errors_name_the_problem():
    with pytest.raises(ValueError, match="kuhn"):
        PokerEnv(difficulty="nope")
    with pytest.raises(ValueError, match="cannot deal"):
        PokerEnv(difficulty={"ranks": 2, "suits": 1, "board": 1})
    with pytest.raises(ValueError, match="hand_seed"):
        PokerEnv().reset(options={"hand_seed": -1})
    with pytest.raises(ValueError, match="alpha"):
        KuhnEquilibrium(alpha=0.5)
