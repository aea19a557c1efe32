"""TextWorld family: generation and cache, sanitizing, the oracle and re-planning, leaks.

Games are generated into the default cache (``~/.cache/llm_gym/textworld`` or
``$LLM_GYM_TEXTWORLD_CACHE``), so only the first run pays for generation; tests that must
generate fresh games use tiny custom quests in a temporary cache.
"""

from __future__ import annotations

import copy
import dataclasses
import gc
import json
import os
import pickle
import random
import subprocess
import sys
import textwrap
from pathlib import Path

import gymnasium as gym
import pytest

import llm_gym
from llm_gym.families import textworld_games as tw
from llm_gym.testing import shortest_success

pytest.importorskip("textworld")

ENV_ID = "llm_gym/TextWorld-v0"
TINY = tw.TextWorldConfig(challenge="custom", level=1, rooms=2, objects=1, quest_length=2)
FUZZ = (
    "go north\ngo south",
    "\\help",
    "a\\b",
    "quit",
    "restart",
    "save",
    "restore",
    "x" * 300,
    "",
    None,
    7,
    "take the moon",
    "go up",
    "look\nlook",
)


def oracle_step(env):
    return env.step(env.unwrapped.format_command(env.unwrapped.oracle_action()))


def play_oracle(env, seed):
    _, info = env.reset(seed=seed)
    steps, total = 0, 0.0
    while True:
        _, reward, terminated, truncated, info = oracle_step(env)
        steps += 1
        total += reward
        if terminated or truncated:
            return steps, total, info


def test_describe_and_import_stay_light():
    code = (
        "import sys, llm_gym; d = llm_gym.describe('TextWorld'); "
        "assert 'textworld' not in sys.modules, 'textworld imported by describe'; "
        "print(sorted(d['presets']), d['knobs']['challenge']['choices'])"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "['easy', 'expert', 'hard', 'medium']" in result.stdout
    assert "'treasure_hunter'" in result.stdout


def test_missing_textworld_raises_clear_import_error():
    code = (
        "import sys; sys.modules['textworld'] = None; import gymnasium as gym, llm_gym\n"
        "try:\n    gym.make('llm_gym/TextWorld-v0')\nexcept ImportError as e:\n    print('HINT', e)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert 'pip install "llm-gym[textworld]"' in result.stdout, result.stdout + result.stderr


def test_config_validation_names_bad_values():
    with pytest.raises(ValueError, match="level = 31 is out of range for challenge 'treasure_hunter'"):
        tw.TextWorldConfig(challenge="treasure_hunter", level=31)
    with pytest.raises(ValueError, match="allowed"):
        tw.TextWorldConfig(challenge="zork")
    with pytest.raises(ValueError, match="time_limit"):
        tw.TextWorldEnv(time_limit=0)
    env = gym.make(ENV_ID, difficulty={"preset": "medium", "level": 12})
    assert env.unwrapped.config.challenge == "treasure_hunter" and env.unwrapped.preset == "custom"
    assert env.spec.kwargs["difficulty"] == {"preset": "medium", "level": 12}
    env.close()


@pytest.mark.parametrize("preset", list(tw.PRESETS))
def test_oracle_solves_preset_in_optimal_steps(preset):
    env = gym.make(ENV_ID, difficulty=preset)
    steps, total, info = play_oracle(env, seed=0)
    assert info["outcome"] == "success"
    assert steps == info["optimal_steps"]
    assert total == pytest.approx(1.0) and info["score"] == 1.0
    assert info["entities"] and all(name == name.lower() for name in info["entities"])
    assert info["view"]["location"] in info["entities"]
    env.close()


def test_optimal_steps_increase_across_presets():
    means = []
    for preset in tw.PRESETS:
        env = gym.make(ENV_ID, difficulty=preset)
        steps = [env.reset(seed=seed)[1]["optimal_steps"] for seed in (0, 1)]
        env.close()
        means.append(sum(steps) / len(steps))
    assert all(a < b for a, b in zip(means, means[1:])), means


def test_bad_actions_are_flagged_and_leave_the_game_unharmed():
    env = gym.make(ENV_ID, difficulty="medium")
    env.reset(seed=0)
    oracle_step(env)
    snapshot = env.unwrapped._state["moves"], env.unwrapped.view()["location"]
    for action in FUZZ:
        _, reward, terminated, _, info = env.step(action)
        assert info["action_status"] in ("parse_error", "illegal"), action
        assert reward == 0 and not terminated
        assert (env.unwrapped._state["moves"], info["view"]["location"]) == snapshot
    _, _, _, _, info = env.step("look\n")  # one trailing newline is just whitespace
    remaining = 0
    while info["outcome"] == "running":
        _, _, _, _, info = oracle_step(env)
        remaining += 1
    assert info["outcome"] == "success" and remaining == info["optimal_steps"] - 1
    env.close()


def engine_key(env):
    """The engine's own state tracker's facts and the score: independent of the env's quest logic."""
    facts = env.unwrapped._state["_game_progression"].state.facts
    return frozenset(map(str, facts)), env.unwrapped.score


def bfs_distance(env, bound):
    """Fewest admissible actions from ``env``'s state to a win, by breadth-first search over copies
    with states merged by the engine's own facts (None if none within ``bound``)."""
    steps, complete = shortest_success(env, env.unwrapped._admissible_texts(), bound, 10**6, key=engine_key)
    assert complete
    return steps


# (preset, seed): games whose optimum an exhaustive search over env copies reaches in seconds;
# hard 2 and 16 and medium 2 are games where the walkthrough is longer (8 and 5 steps).
SMALL_GAMES = [("easy", 0), ("medium", 2), ("medium", 0), ("hard", 4), ("hard", 16)]


@pytest.mark.parametrize("preset, seed", SMALL_GAMES)
def test_optimal_steps_is_the_shortest_win_among_admissible_actions(preset, seed):
    env = gym.make(ENV_ID, difficulty=preset)
    _, info = env.reset(seed=seed)
    assert info["optimal_exact"]
    assert bfs_distance(env, info["optimal_steps"]) == info["optimal_steps"]
    env.close()


@pytest.mark.parametrize("preset", list(tw.PRESETS))
def test_quest_logic_mirrors_the_engine(preset):
    """The search's moves are the env's admissible actions, and lead where the engine goes."""
    env = gym.make(ENV_ID, difficulty=preset, max_turns=500)
    chooser = random.Random(5)
    for seed in (0, 1):
        _, info = env.reset(seed=seed)
        for _ in range(25):
            unwrapped = env.unwrapped
            moves = {text: (node, outcome) for text, node, outcome in unwrapped._logic.moves(unwrapped._node)}
            assert sorted(moves) == sorted(info["admissible_actions"])
            action = chooser.choice([a for a in info["admissible_actions"] if a.split()[0] not in ("examine", "look")])
            _, _, terminated, _, info = env.step(action)
            assert moves[action] == (unwrapped._node, info["outcome"]), action
            if terminated:
                break
    env.close()


def test_expert_optimum_is_shorter_than_the_walkthrough():
    env = gym.make(ENV_ID, difficulty="expert")
    for seed in (0, 1):
        _, info = env.reset(seed=seed)
        assert info["optimal_exact"] and info["optimal_steps"] < len(env.unwrapped.task.walkthrough)
        assert "inventory" not in env.unwrapped.task.plan
    env.close()


@pytest.mark.parametrize("preset, seed", [("hard", 4), ("hard", 16)])
def test_oracle_is_optimal_from_an_off_plan_state(preset, seed):
    env = gym.make(ENV_ID, difficulty=preset)
    _, info = env.reset(seed=seed)
    plan = env.unwrapped.task.plan
    off_plan = [a for a in info["admissible_actions"] if a != plan[0] and a.split()[0] in ("go", "open", "take")]
    _, _, terminated, _, info = env.step(random.Random(seed).choice(off_plan))
    if terminated:
        pytest.skip("that action ended the game")
    distance = bfs_distance(env, info["optimal_steps"] + 2)
    steps = 0
    while info["outcome"] == "running":
        _, _, _, _, info = oracle_step(env)
        steps += 1
    assert info["outcome"] == "success" and steps == distance
    env.close()


@pytest.mark.parametrize("preset", ["medium", "expert"])
def test_copies_step_exactly_like_the_original(preset):
    env = gym.make(ENV_ID, difficulty=preset)
    _, info = env.reset(seed=3)
    chooser = random.Random(1)
    for _ in range(3):
        _, _, terminated, _, info = env.step(chooser.choice(info["admissible_actions"]))
    copies = [copy.deepcopy(env), pickle.loads(pickle.dumps(env))]
    actions = [chooser.choice(info["admissible_actions"]) for _ in range(4)] + ["dance", "take the moon"]
    for action in actions:
        expected = env.step(action)
        for clone in copies:
            assert clone.step(action) == expected, action
    while expected[4]["outcome"] == "running":  # the oracle, from each copy too
        command = env.unwrapped.format_command(env.unwrapped.oracle_action())
        assert all(clone.unwrapped.oracle_action() == env.unwrapped.oracle_action() for clone in copies)
        expected = env.step(command)
        for clone in copies:
            assert clone.step(command) == expected
    assert env.unwrapped.state_key() == copies[1].unwrapped.state_key()
    for clone in copies:
        clone.close()
    env.close()


def test_cache_is_keyed_by_settings_and_seed(tmp_path, monkeypatch):
    first = tw.generate_task(5, TINY, cache_dir=tmp_path)
    folders = sorted(path.name for path in tmp_path.iterdir())
    assert len(folders) == 1 and folders[0].startswith("custom-5-")
    assert sorted(path.name for path in (tmp_path / folders[0]).iterdir()) == ["game.json", "game.z8", "meta.json"]
    stamp = os.path.getmtime(first.path)
    assert tw.generate_task(5, TINY, cache_dir=tmp_path) == first and os.path.getmtime(first.path) == stamp
    assert tw.generate_task(5, dataclasses.replace(TINY, objects=2), cache_dir=tmp_path).path != first.path
    monkeypatch.setenv(tw.CACHE_ENV_VAR, str(tmp_path / "elsewhere"))
    assert tw.default_cache_dir() == tmp_path / "elsewhere"
    env = tw.TextWorldEnv(difficulty=TINY)
    assert env.cache_dir == tmp_path / "elsewhere"
    env.close()


def test_quest_errors_and_timeouts_retry_with_a_derived_seed(tmp_path, monkeypatch):
    import textworld.generator
    from textworld.generator.chaining import QuestGenerationError

    real, calls = textworld.generator.make_game, []

    def flaky(options):
        calls.append(options.seeds)
        if len(calls) == 1:
            raise QuestGenerationError("no quest")
        if len(calls) == 2:
            while True:  # hangs until the time limit fires
                pass
        return real(options)

    tw.generate_task(12, TINY, cache_dir=tmp_path)  # load the generator's data before timing anything
    monkeypatch.setattr(textworld.generator, "make_game", flaky)
    task = tw.generate_task(11, TINY, cache_dir=tmp_path, time_limit=6.0)
    assert len(calls) == 3 and task.game_seed == tw._derived_seed(11, 2) != 11
    assert not [path for path in tmp_path.iterdir() if path.name.startswith(".tmp-")]


def test_same_game_in_other_processes_and_hash_seeds(tmp_path):
    script = textwrap.dedent(
        """
        import json, sys
        from llm_gym.families import textworld_games as tw
        config = tw.TextWorldConfig(challenge="custom", level=1, rooms=2, objects=1, quest_length=2)
        env = tw.TextWorldEnv(difficulty=config, cache_dir=sys.argv[1])
        obs, info = env.reset(seed=3)
        trace = [obs, info["admissible_actions"], info["entities"]]
        while info["outcome"] == "running":
            obs, r, term, trunc, info = env.step(env.format_command(env.oracle_action()))
            trace += [obs, r, info["admissible_actions"]]
        print(json.dumps(trace))
        """
    )
    traces = []
    for hash_seed in ("1", "77"):
        result = subprocess.run(
            [sys.executable, "-c", script, str(tmp_path / hash_seed)],
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "PYTHONHASHSEED": hash_seed},
        )
        assert result.returncode == 0, result.stderr[-2000:]
        traces.append(json.loads(result.stdout.strip().splitlines()[-1]))
    assert traces[0] == traces[1]


def test_gymnasium_check_env_and_close():
    from gymnasium.utils.env_checker import check_env

    env = gym.make(ENV_ID, difficulty="easy")
    check_env(env.unwrapped, skip_render_check=True)
    env.reset(seed=0)
    env.close()
    assert env.unwrapped._engine is None
    env.close()


def test_async_vector_env_gives_real_observations():
    kwargs = dict(num_envs=2, difficulty="easy")
    sync = gym.make_vec(ENV_ID, vectorization_mode="sync", **kwargs)
    asynchronous = gym.make_vec(ENV_ID, vectorization_mode="async", **kwargs)
    try:
        for envs in (sync, asynchronous):
            envs.reset(seed=0)
        step = ("look", "inventory")
        assert asynchronous.step(step)[0] == sync.step(step)[0]
        observations = asynchronous.step(("look", "dance"))[0]
        assert "-=" in observations[0] and observations[1].startswith("Unknown command")
    finally:
        sync.close()
        asynchronous.close()


def _resources():
    pid = os.getpid()
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    children = [p for p in os.listdir("/proc") if p.isdigit() and _parent(p) == pid]
    with open(f"/proc/{pid}/status") as status:
        rss = next(int(line.split()[1]) for line in status if line.startswith("VmRSS"))
    return fds, len(children), rss


def _parent(pid: str) -> int:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return int(stat.read().rsplit(")", 1)[1].split()[1])
    except OSError:
        return -1


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="counts resources through /proc")
def test_many_resets_leak_nothing():
    env = gym.make(ENV_ID, difficulty="easy")
    for seed in (0, 1):
        env.reset(seed=seed)
    gc.collect()
    before = _resources()
    for index in range(300):  # alternate two games, so the engine also reloads
        env.reset(seed=index % 2)
        oracle_step(env)
    gc.collect()
    after = _resources()
    env.close()
    assert after[0] == before[0] and after[1] == before[1]
    assert after[2] - before[2] < 20_000, f"RSS grew by {after[2] - before[2]} KiB"


def test_registered_and_described():
    assert ENV_ID in llm_gym.env_ids()
    described = llm_gym.describe("TextWorld")
    assert [c["verb"] for c in described["commands"]][:3] == ["look", "inventory", "go"]
    assert set(described["presets"]) == set(tw.PRESETS)


def test_task_seeds_are_those_reset_plays():
    env = gym.make("llm_gym/TextCraft-v0")  # any family: the base class draws the task seed
    for seed, task_seed in zip(range(5), tw.task_seeds(range(5))):
        env.reset(seed=seed)
        assert env.unwrapped.task_seed == task_seed


def test_games_are_generated_in_parallel_into_the_cache(tmp_path):
    tasks = [(TINY, 21), (TINY, 22), (TINY, 21)]
    assert tw.generate_games(tasks, workers=2, cache_dir=tmp_path) == {}
    games = sorted(path.name for path in tmp_path.iterdir())
    assert len(games) == 2 and all(
        (tmp_path / name / "meta.json").is_file() for name in games
    )  # no lock or scratch left
    task = tw.generate_task(22, TINY, cache_dir=tmp_path)
    stamp = os.path.getmtime(task.path)
    assert tw.generate_games(tasks, cache_dir=tmp_path) == {} and os.path.getmtime(task.path) == stamp
    late = tw.generate_games([(TINY, 23)], workers=1, cache_dir=tmp_path, deadline=0.0)
    assert list(late) == [(TINY, 23)] and "not made within 0 s" in late[TINY, 23]


def test_a_game_being_made_elsewhere_is_waited_for_not_made_twice(tmp_path, monkeypatch):
    import threading

    made = []
    real = tw._build_game
    monkeypatch.setattr(tw, "_build_game", lambda *args: made.append(args[1]) or real(*args))
    folder = tmp_path / tw.game_key(31, TINY)
    results = []
    with tw._generation_lock(folder):  # as another process making this game would hold it
        waiter = threading.Thread(target=lambda: results.append(tw.generate_task(31, TINY, cache_dir=tmp_path)))
        waiter.start()
        waiter.join(0.3)
        assert waiter.is_alive() and not results
        tw._generate_into(folder, 31, TINY, tw.DEFAULT_TIME_LIMIT)
    waiter.join(60)
    assert len(results) == 1 and results[0].path == str(folder / "game.z8") and made == [31]


def test_logic_files_read_once_give_the_same_games(tmp_path):
    """A game made with textworld's logic files already parsed is byte for byte the game made with
    every file parsed afresh (in one process: textworld's output also varies with the hash seed)."""
    import textworld.logic
    from textworld.challenges.tw_coin_collector.coin_collector import KB_PATH
    from textworld.generator.data import KnowledgeBase

    config = tw.TextWorldConfig(challenge="coin_collector", level=1)
    parser = textworld.logic._PARSER
    parser.parse = type(parser).parse.__get__(parser)  # parses afresh, and _logic_read_once leaves it alone
    try:
        fresh = Path(tw.generate_task(5, config, cache_dir=tmp_path / "fresh").path)
    finally:
        del parser.parse
    with tw._logic_read_once():
        KnowledgeBase.load(KB_PATH)  # the files now parsed, as after a first game
    hits = tw._parsed_logic.cache_info().hits
    after = Path(tw.generate_task(5, config, cache_dir=tmp_path / "after").path)
    assert tw._parsed_logic.cache_info().hits > hits
    for name in ("game.json", "game.z8", "meta.json"):
        assert fresh.with_name(name).read_bytes() == after.with_name(name).read_bytes(), name
