"""Guide and follower over TextCraft: conformance, who sees what, scripted play, bad actions."""

from __future__ import annotations

import warnings

import pytest
from pettingzoo.test import api_test, seed_test

from llm_gym.multiagent.guide import FOLLOWER, GUIDE, GuideFollowerEnv, ObedientFollower, OracleGuide
from llm_gym.testing import FUZZ_ACTIONS


def play(env: GuideFollowerEnv, seed: int, guide=None, follower=None) -> dict:
    env.reset(seed=seed)
    guide = guide or OracleGuide()
    follower = follower or ObedientFollower(env.grammars[FOLLOWER])
    actions = {GUIDE: 0, FOLLOWER: 0}
    totals = {GUIDE: 0.0, FOLLOWER: 0.0}
    for agent in env.agent_iter(400):
        observation, reward, terminated, truncated, info = env.last()
        totals[agent] += reward
        if terminated or truncated:
            env.step(None)
            continue
        actions[agent] += 1
        env.step((guide if agent == GUIDE else follower).act(observation, info))
    return {"actions": actions, "totals": totals}


def test_pettingzoo_api_and_seed_tests():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        api_test(GuideFollowerEnv(difficulty="easy"), num_cycles=60)
        api_test(GuideFollowerEnv(difficulty="medium", show_oracle=True, visible_keys=("goal",)), num_cycles=60)
        seed_test(lambda: GuideFollowerEnv(difficulty="easy"), num_cycles=30)


@pytest.mark.parametrize("preset", ["easy", "medium", "hard"])
def test_scripted_pair_solves_in_the_oracle_number_of_actions(preset):
    env = GuideFollowerEnv(difficulty=preset)
    for seed in range(3):
        result = play(env, seed)
        assert result["totals"] == {GUIDE: 1.0, FOLLOWER: 1.0}
        assert result["actions"][FOLLOWER] == result["actions"][GUIDE] == env.core.task.optimal_steps


def test_only_the_guide_sees_the_goal_and_recipes():
    env = GuideFollowerEnv(difficulty="medium")
    env.reset(seed=4)
    goal = env.core.task.goal
    assert f"Goal: {env.core.task.goal_text}." in env.observe(GUIDE)["text"]
    env.step("Hello there.")
    follower_text = env.observe(FOLLOWER)["text"]
    assert goal not in follower_text
    assert not any(recipe in follower_text for recipe in env.first_view["recipes"])
    assert follower_text.endswith("Guide: Hello there.")
    assert "goal" not in env.infos[FOLLOWER]["view"] and "recipes" not in env.infos[FOLLOWER]["view"]


def test_the_guide_sees_what_the_follower_did():
    env = GuideFollowerEnv(difficulty="easy")
    env.reset(seed=1)
    env.step("take stock")
    env.step("inventory")
    text = env.observe(GUIDE)["text"]
    assert "The follower did: inventory" in text and "Inventory: empty." in text


def test_bad_actions_are_flagged_and_change_nothing():
    env = GuideFollowerEnv(difficulty="easy")
    env.reset(seed=2)
    env.step("   ")  # an empty message does not parse
    assert env.infos[GUIDE]["action_status"] == "parse_error" and env.agent_selection == GUIDE
    env.step("get what you can")
    assert env.agent_selection == FOLLOWER
    turn = env.core.turn
    for action in FUZZ_ACTIONS:
        env.step(action)
        if env.agent_selection == GUIDE:  # the text happened to be a valid command
            break
        assert env.infos[FOLLOWER]["action_status"] == "parse_error"
        assert env.core.turn == turn and not env.core.inventory
    env.reset(seed=2)
    env.step("go")
    env.step("get 1 unobtainium")
    assert env.infos[FOLLOWER]["action_status"] == "illegal"
    assert env.agent_selection == GUIDE and not env.core.inventory
    assert "Could not find unobtainium" in env.observe(GUIDE)["text"]


def test_show_oracle_names_the_next_action_for_the_guide():
    env = GuideFollowerEnv(difficulty="easy", show_oracle=True)
    env.reset(seed=0)
    oracle = env.infos[GUIDE]["oracle_action"]
    assert f"An optimal next action for the follower: {oracle}" in env.observe(GUIDE)["text"]
    plain = GuideFollowerEnv(difficulty="easy")
    plain.reset(seed=0)
    assert oracle not in plain.observe(GUIDE)["text"].split("Goal:")[-1]


def test_turn_limit_truncates_both_seats():
    env = GuideFollowerEnv(difficulty="easy", max_turns=4)
    env.reset(seed=0)
    for action in ("say something", "inventory", "again", "inventory"):
        env.step(action)
    assert env.truncations == {GUIDE: True, FOLLOWER: True}
    assert env.infos[GUIDE]["outcome"] == "truncated"


def test_same_seed_same_task_and_task_seed_option():
    first, second = GuideFollowerEnv(difficulty="hard"), GuideFollowerEnv(difficulty="hard")
    first.reset(seed=9)
    second.reset(seed=9)
    assert first.core.task == second.core.task
    first.reset(options={"task_seed": 42})
    assert first.core.task.seed == 42 and first.task_id.endswith(":42")


def test_unknown_environment_is_a_value_error():
    with pytest.raises(ValueError, match="Unknown environment"):
        GuideFollowerEnv(env_id="llm_gym/Nope-v0")


@pytest.mark.parametrize("family", ["Household", "BabyAI", "Shop"])
def test_generic_over_other_families(family):
    import llm_gym

    if f"llm_gym/{family}-v0" not in llm_gym.env_ids():
        pytest.skip(f"{family} is not registered")
    env = GuideFollowerEnv(env_id=family, difficulty="easy")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        api_test(GuideFollowerEnv(env_id=family), num_cycles=20)
    result = play(env, seed=0)
    assert result["totals"][GUIDE] == result["totals"][FOLLOWER] > 0
    assert result["actions"][FOLLOWER] == env.core.task.optimal_steps
