import subprocess
import sys

import gymnasium as gym
import pytest

import llm_gym
from llm_gym.families.textcraft import PRESETS, TextCraftConfig


def test_every_family_is_registered_under_the_namespace():
    ids = llm_gym.env_ids()
    assert "llm_gym/TextCraft-v0" in ids
    assert all(env_id.startswith("llm_gym/") and env_id.endswith("-v0") for env_id in ids)


def test_make_kwargs_land_in_spec_and_info():
    env = gym.make("llm_gym/TextCraft-v0", difficulty="hard", theme="cooking", max_turns=60)
    assert env.spec.kwargs == {"difficulty": "hard", "theme": "cooking", "max_turns": 60}
    _, info = env.reset(seed=0)
    assert info["difficulty"] == {"preset": "hard", **PRESETS["hard"].as_dict()}
    assert info["theme"] == "cooking" and info["max_turns"] == 60


def test_difficulty_as_knobs_and_as_config():
    env = gym.make("llm_gym/TextCraft-v0", difficulty={"preset": "medium", "distractors": 0})
    _, info = env.reset(seed=0)
    assert info["difficulty"]["preset"] == "custom" and info["difficulty"]["distractors"] == 0
    env = gym.make("llm_gym/TextCraft-v0", difficulty=TextCraftConfig(depth=5))
    assert env.reset(seed=0)[1]["difficulty"]["depth"] == 5


def test_module_prefixed_id_imports_the_package():
    code = "import gymnasium as gym; env = gym.make('llm_gym:llm_gym/TextCraft-v0'); print(env.reset(seed=0)[1]['outcome'])"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "running"


def test_task_ids_are_stable_and_seeds_pick_tasks():
    env = gym.make("llm_gym/TextCraft-v0")
    first = env.reset(seed=5)[1]["task_id"]
    assert env.reset(seed=5)[1]["task_id"] == first
    assert env.reset(seed=6)[1]["task_id"] != first
    assert env.reset(options={"task_seed": 99})[1]["task_id"].endswith(":99")
    with pytest.raises(ValueError, match="task_seed"):
        env.reset(options={"task_seed": -1})


def test_describe_lists_knobs_presets_themes_and_grammar():
    description = llm_gym.describe("llm_gym/TextCraft-v0")
    assert set(description["knobs"]) >= {"depth", "max_ingredients", "distractors", "max_quantity"}
    assert list(description["presets"]) == ["easy", "medium", "hard", "expert"]
    assert [c["verb"] for c in description["commands"]] == ["get", "craft", "inventory"]
    assert description["tool_schemas"][0]["function"]["name"] == "get"
    with pytest.raises(ValueError, match="Unknown environment 'llm_gym/Nope-v0'; allowed"):
        llm_gym.describe("llm_gym/Nope-v0")


def _oracle_steps(vector_env, steps):
    observations, infos = vector_env.reset(seed=[10 + i for i in range(vector_env.num_envs)])
    trace = [tuple(observations)]
    for _ in range(steps):
        actions = []
        for i in range(vector_env.num_envs):
            actions.append(infos["admissible_actions"][i][0] if "admissible_actions" in infos else "inventory")
        observations, rewards, terminated, truncated, infos = vector_env.step(actions)
        trace.append(tuple(observations))
    return trace


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_make_vec_returns_the_real_text(mode):
    vector_env = gym.make_vec("llm_gym/TextCraft-v0", num_envs=8, vectorization_mode=mode)
    trace = _oracle_steps(vector_env, 3)
    vector_env.close()
    singles = []
    for i in range(8):
        env = gym.make("llm_gym/TextCraft-v0")
        observation, info = env.reset(seed=10 + i)
        singles.append(observation)
    assert list(trace[0]) == singles
    assert all(isinstance(o, str) for step in trace for o in step)
    assert all(o.startswith("Got ") or o.startswith("Inventory") for o in trace[1])


def test_async_and_sync_agree_step_by_step():
    traces = []
    for mode in ("sync", "async"):
        vector_env = gym.make_vec("llm_gym/TextCraft-v0", num_envs=3, vectorization_mode=mode, difficulty="medium")
        traces.append(_oracle_steps(vector_env, 6))
        vector_env.close()
    assert traces[0] == traces[1]


def test_import_is_light():
    code = (
        "import sys, llm_gym; print(any(m in sys.modules for m in ('torch', 'transformers', 'textworld', 'minigrid')))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
