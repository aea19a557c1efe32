import functools

import gymnasium as gym
import numpy as np
import pytest

import llm_gym
from llm_gym.families.textcraft import GET_AMOUNTS, PRESETS, THEMES, TextCraftConfig, generate_task
from llm_gym.testing import check_reference_difficulty, run_oracle_episode

ENV_ID = "llm_gym/TextCraft-v0"


def test_generator_is_pure_and_themes_share_structure():
    config = PRESETS["hard"]
    assert generate_task(7, config, "cooking") == generate_task(7, config, "cooking")
    shapes = set()
    for theme in THEMES:
        task = generate_task(7, config, theme)
        shapes.add((task.optimal_steps, len(task.recipes), tuple(sorted(len(r.ingredients) for r in task.recipes))))
    assert len(shapes) == 1


def test_themes_use_different_names():
    names = {theme: set(generate_task(3, PRESETS["medium"], theme).entities) for theme in THEMES}
    for a in THEMES:
        for b in THEMES:
            if a != b:
                assert not names[a] & names[b] - {"salt"}


@pytest.mark.parametrize("preset", list(PRESETS))
def test_oracle_is_optimal_on_many_seeds(preset):
    env = gym.make("llm_gym/TextCraft-v0", difficulty=preset)
    for seed in range(25):
        result = run_oracle_episode(env, seed)
        assert result["outcome"] == "success"
        assert result["steps"] == result["optimal_steps"]
        assert result["return"] == 1.0


def test_recipes_and_goal_shown_on_first_turn_only():
    env = gym.make("llm_gym/TextCraft-v0", difficulty="medium", theme="alchemy")
    observation, info = env.reset(seed=2)
    assert "Crafting commands:" in observation and f"Goal: craft {info['view']['goal']}." in observation
    assert observation.startswith(info["instructions"])
    observation, *_, info = env.step("inventory")
    assert observation == "Inventory: empty." and set(info["view"]) == {"feedback"}


def test_dynamics_get_craft_and_errors():
    env = gym.make("llm_gym/TextCraft-v0", difficulty={"preset": "easy", "distractors": 0, "max_ingredients": 1})
    _, info = env.reset(seed=0)
    recipe = info["view"]["recipes"][0]
    _, _, _, _, info = env.step(recipe)
    assert info["action_status"] == "illegal" and "missing" in info["view"]["feedback"]
    _, _, _, _, info = env.step("get 1 nothing like this")
    assert info["action_status"] == "illegal" and info["view"]["feedback"] == "Could not find nothing like this."
    oracle = env.unwrapped.format_command(env.unwrapped.oracle_action())
    assert oracle.startswith("get ")
    _, _, _, _, info = env.step(oracle)
    assert info["action_status"] == "ok" and info["view"]["feedback"].startswith("Got ")
    _, reward, terminated, _, info = env.step(recipe)
    assert (reward, terminated, info["outcome"], info["score"]) == (1.0, True, "success", 1.0)


def test_crafted_items_cannot_be_got_and_counts_are_bounded():
    env = gym.make("llm_gym/TextCraft-v0", difficulty="medium")
    _, info = env.reset(seed=1)
    goal = info["view"]["goal"]
    assert env.step(f"get 1 {goal}")[4]["action_status"] == "illegal"
    base = env.unwrapped.task.base_items[0]
    assert env.step(f"get 65 {base}")[4]["action_status"] == "illegal"
    assert env.step(f"get 0 {base}")[4]["action_status"] == "illegal"
    assert env.step(f"get 64 {base}")[4]["action_status"] == "ok"


def test_turn_limit_is_truncation():
    env = gym.make("llm_gym/TextCraft-v0", max_turns=3)
    env.reset(seed=0)
    results = [env.step("inventory") for _ in range(3)]
    assert [r[3] for r in results] == [False, False, True]
    assert not any(r[2] for r in results)
    assert results[-1][4]["outcome"] == "truncated"


def test_admissible_commands_are_legal_and_include_the_oracle():
    env = gym.make("llm_gym/TextCraft-v0", difficulty="hard")
    for seed in range(5):
        _, info = env.reset(seed=seed)
        done = False
        while not done:
            oracle = env.unwrapped.format_command(env.unwrapped.oracle_action())
            assert oracle in info["admissible_actions"]
            for action in info["admissible_actions"]:
                assert env.unwrapped.grammar.parse(action) in env.unwrapped.admissible_commands()
            _, _, done, truncated, info = env.step(oracle)


def test_quantities_knob_raises_optimal_steps():
    low = [generate_task(s, TextCraftConfig(depth=3, max_quantity=1), "minecraft").optimal_steps for s in range(30)]
    high = [generate_task(s, TextCraftConfig(depth=3, max_quantity=4), "minecraft").optimal_steps for s in range(30)]
    assert sum(high) > sum(low)


def test_bad_constructor_arguments_name_the_allowed_values():
    with pytest.raises(ValueError, match="allowed: \\['minecraft', 'cooking', 'alchemy', 'made-up'\\]"):
        gym.make("llm_gym/TextCraft-v0", theme="space")
    with pytest.raises(ValueError, match="min_ingredients = 3 exceeds max_ingredients = 2"):
        gym.make("llm_gym/TextCraft-v0", difficulty={"min_ingredients": 3, "max_ingredients": 2})
    with pytest.raises(ValueError, match="max_turns"):
        gym.make("llm_gym/TextCraft-v0", max_turns=0)
    assert llm_gym.describe("TextCraft")["themes"] == list(THEMES)


@pytest.mark.slow
def test_difficulty_holds_for_reference_policies_on_300_seeds():
    rates = check_reference_difficulty(functools.partial(gym.make, ENV_ID), list(PRESETS), list(range(300)))
    assert set(rates) == set(PRESETS)


def test_oracle_answers_after_the_task_is_done():
    env = gym.make(ENV_ID)
    result = run_oracle_episode(env, seed=0)
    assert result["outcome"] == "success"
    command = env.unwrapped.oracle_action()
    assert env.step(env.unwrapped.format_command(command))[4]["action_status"] == "illegal"


@pytest.mark.parametrize("task_seed", [np.int64(3), np.uint16(3), 3])
def test_task_seed_takes_any_integer_scalar(task_seed):
    env = gym.make(ENV_ID)
    assert env.reset(options={"task_seed": task_seed})[1]["task_id"].endswith(":3")


@pytest.mark.parametrize("task_seed", [True, 2.5, "3", -1, np.array([3])])
def test_task_seed_rejects_what_is_not_a_non_negative_integer(task_seed):
    with pytest.raises(ValueError, match="task_seed"):
        gym.make(ENV_ID).reset(options={"task_seed": task_seed})


def test_every_base_item_lists_every_get_amount():
    env = gym.make(ENV_ID, difficulty="easy")
    info = env.reset(seed=0)[1]
    gets = [action for action in info["admissible_actions"] if action.startswith("get ")]
    assert len(gets) == len(env.unwrapped.task.base_items) * len(GET_AMOUNTS)


def test_max_turns_below_the_optimum_is_a_value_error_naming_both():
    env = gym.make(ENV_ID, difficulty="expert", max_turns=3)
    with pytest.raises(ValueError, match=r"TextCraft task 0 needs \d+ steps \(optimal_steps\) but max_turns = 3"):
        env.reset(options={"task_seed": 0})
