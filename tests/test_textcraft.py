import functools
import os
import re
import subprocess
import sys
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

import llm_gym
from llm_gym.families.textcraft import (
    GET_AMOUNTS,
    PRESETS,
    THEMES,
    TextCraftConfig,
    TextCraftEnv,
    generate_task,
    minecraft_world,
)
from llm_gym.testing import check_reference_difficulty, run_oracle_episode
from llm_gym.wrappers import formats

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
    view = info["view"]
    assert "Crafting commands:" in observation and f"Goal: craft {view['goal_count']} {view['goal']}." in observation
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


# ----- the grounded Minecraft world ----------------------------------------------------------


def test_minecraft_recipes_are_the_games_own():
    world = minecraft_world()
    assert world.source["package"] == "minecraft-data" and world.source["game_version"] == "1.21.11"
    as_listed = {
        output: (recipe.count, dict((name, count) for count, name in recipe.ingredients))
        for output, recipe in world.recipes.items()
    }
    assert as_listed["oak planks"] == (4, {"oak log": 1})
    assert as_listed["stick"] == (4, {"oak planks": 2})
    assert as_listed["torch"] == (4, {"coal": 1, "stick": 1})
    assert as_listed["furnace"] == (1, {"cobblestone": 8})
    assert as_listed["iron pickaxe"] == (1, {"iron ingot": 3, "stick": 2})
    assert as_listed["red wool"] == (1, {"red dye": 1, "white wool": 1})
    for base in ("oak log", "iron ingot", "diamond", "cobblestone", "wheat", "spider string"):
        assert base in world.items and base not in world.recipes
    assert all(world.depth[item] < 6 for item in world.items)  # the table is acyclic


@pytest.mark.skipif("MINECRAFT_DATA" not in os.environ, reason="set MINECRAFT_DATA to an unpacked minecraft-data")
def test_derivation_reproduces_the_committed_table():
    root = Path(__file__).resolve().parents[1]
    derived = subprocess.run(
        [sys.executable, str(root / "tools/derive_minecraft_recipes.py"), os.environ["MINECRAFT_DATA"]],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert derived == (root / "llm_gym/data/minecraft_recipes.json").read_text()


@pytest.mark.parametrize("preset", list(PRESETS))
def test_minecraft_tasks_list_only_real_recipes(preset):
    world_relations = TextCraftEnv.world_relations("minecraft")
    recipes = minecraft_world().recipes
    for seed in range(200):
        task = generate_task(seed, PRESETS[preset], "minecraft")
        assert TextCraftEnv.task_relations(task) <= world_relations
        assert all(recipes[recipe.output] == recipe for recipe in task.recipes)
        assert not set(task.base_items) & {recipe.output for recipe in task.recipes}


def test_made_up_worlds_state_no_relations_and_no_vocabulary():
    assert TextCraftEnv.vocabulary("made-up") == {}
    assert TextCraftEnv.world_relations("cooking") == frozenset()
    task = generate_task(0, PRESETS["easy"], "cooking")
    assert {fact[1] for fact in TextCraftEnv.task_relations(task)} == {recipe.output for recipe in task.recipes}


@pytest.mark.parametrize("theme", [theme for theme in THEMES if theme != "made-up"])
def test_vocabulary_covers_every_entity_and_no_word_of_the_scaffolding(theme):
    vocabulary = TextCraftEnv.vocabulary(theme)
    assert set(vocabulary.values()) == {"item"} and len(vocabulary) > 60
    for preset, config in PRESETS.items():
        for seed in range(50):
            assert set(generate_task(seed, config, theme).entities) <= set(vocabulary), (preset, seed)
    env = gym.make(ENV_ID, theme=theme).unwrapped
    prose = [env.instructions, *(formats.format_instructions(env.grammar, fmt) for fmt in formats.ACTION_FORMATS)]
    prose += ["Could not find enough items to craft: missing. Could not find a valid recipe for. Got. Crafted."]
    prose += ["You made the goal! Inventory: empty. You can get between 1 and 64 at a time. Crafting commands: Goal:"]
    words = set(re.findall(r"[a-z0-9]+", " ".join(prose).lower()))
    assert not {name for name in vocabulary if name in words or f"{name}s" in words}


def test_goal_text_and_structure_name_the_goal_and_the_shape():
    task = generate_task(4, PRESETS["hard"], "minecraft")
    assert task.goal_text == f"craft {task.goal_count} {task.goal}"
    assert re.fullmatch(r"[a-z0-9.-]+", task.structure) and task.structure.startswith("d3.")
    renamed = generate_task(4, PRESETS["hard"], "made-up")
    assert renamed.structure == task.structure and renamed.goal_text != task.goal_text
    _, info = gym.make(ENV_ID, difficulty="hard").reset(options={"task_seed": 4})
    assert task.structure in info["task_id"] and task.goal not in info["task_id"]


def test_medium_draws_many_distinct_goals():
    goals = {generate_task(seed, PRESETS["medium"], "minecraft").goal_text for seed in range(600)}
    assert len(goals) >= 450  # 2,130 over 5,000 seeds (benchmarks/variety_textcraft.py)


def test_success_needs_the_goal_count():
    config = TextCraftConfig(depth=1, max_ingredients=1, distractors=0, max_quantity=4)
    seed = next(s for s in range(200) if (t := generate_task(s, config, "minecraft")).goal_count > t.recipes[0].count)
    env = gym.make(ENV_ID, difficulty=config)
    _, info = env.reset(options={"task_seed": seed})
    recipe = info["view"]["recipes"][0]
    ((_, base),) = env.unwrapped.task.recipes[0].ingredients
    env.step(f"get 64 {base}")
    _, reward, terminated, _, info = env.step(recipe)
    assert info["action_status"] == "ok" and (reward, terminated, info["outcome"]) == (0.0, False, "running")
    result = run_oracle_episode(env, seed)
    assert result["outcome"] == "success" and result["steps"] == result["optimal_steps"] >= 3
