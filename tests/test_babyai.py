"""BabyAI family: generator purity, text view, both action levels, legality, oracle, themes, rewards."""

import random
import re

import gymnasium as gym
import pytest

import llm_gym
from llm_gym.families.babyai import (
    COLOURS,
    KINDS,
    PRESETS,
    BabyAIConfig,
    BabyAIEnv,
    _Game,
    _Search,
    generate_task,
)
from llm_gym.testing import check_reference_difficulty, shortest_success

ENV_ID = "llm_gym/BabyAI-v0"


def make(preset="easy", action_level=None, **kwargs):
    difficulty = preset if action_level is None else {"preset": preset, "action_level": action_level}
    return gym.make(ENV_ID, difficulty=difficulty, **kwargs)


def oracle_episode(env, seed):
    _, info = env.reset(seed=seed)
    steps, total = 0, 0.0
    while True:
        text = env.unwrapped.format_command(env.unwrapped.oracle_action())
        assert text in info["admissible_actions"]
        _, reward, terminated, truncated, info = env.step(text)
        steps, total = steps + 1, total + reward
        if terminated or truncated:
            return info, steps, total


def test_registered_and_described():
    assert ENV_ID in llm_gym.env_ids()
    described = llm_gym.describe("BabyAI")
    assert list(described["presets"]) == ["easy", "medium", "hard", "expert"]
    assert set(described["knobs"]) >= {"action_level", "room_size", "num_dists", "num_rows", "action_kinds"}
    assert described["themes"] == ["default", "made-up"]
    assert described["native_action_list"] == "every_turn"


def test_generator_is_pure_and_theme_keeps_the_level():
    config = PRESETS["hard"]
    first, again = generate_task(5, config, "default"), generate_task(5, config, "default")
    assert first == again
    themed = generate_task(5, config, "made-up")
    assert themed.level_seed == first.level_seed and themed.optimal_steps == first.optimal_steps
    assert [c.verb for c in themed.plan] == [c.verb for c in first.plan]
    assert not set(themed.entities) & set(COLOURS + KINDS)
    assert generate_task(6, config, "default") != first


@pytest.mark.parametrize("action_level", ["high", "primitive"])
def test_oracle_solves_every_preset_in_optimal_steps(action_level):
    for preset in PRESETS:
        env = make(preset, action_level)
        for seed in range(2):
            info, steps, total = oracle_episode(env, seed)
            assert info["outcome"] == "success" and total == 1.0
            assert steps == info["optimal_steps"], (preset, seed)


@pytest.mark.parametrize("action_level", ["high", "primitive"])
def test_mean_optimal_steps_increase_across_presets(action_level):
    means = []
    for preset in PRESETS:
        config = BabyAIConfig(**{**PRESETS[preset].as_dict(), "action_level": action_level})
        steps = [generate_task(seed, config, "default").optimal_steps for seed in range(6)]
        means.append(sum(steps) / len(steps))
    assert means == sorted(means) and len(set(means)) == 4, means


def test_high_level_steps_are_fewer_than_primitive_ones():
    high = generate_task(3, PRESETS["hard"], "default")
    primitive = generate_task(3, BabyAIConfig(**{**PRESETS["hard"].as_dict(), "action_level": "primitive"}), "default")
    assert high.level_seed == primitive.level_seed
    assert high.optimal_steps < primitive.optimal_steps


def test_observation_places_match_the_grid():
    env = make("expert")
    for seed in range(4):
        observation, info = env.reset(seed=seed)
        game = env.unwrapped._game
        engine = game.engine
        (ax, ay), (fx, fy) = engine.agent_pos, engine.dir_vec
        assert f"Mission: {info['view']['mission']}." in observation
        for thing in info["view"]["things"]:
            x = ax + fx * thing["forward"] - fy * thing["right"]
            y = ay + fy * thing["forward"] + fx * thing["right"]
            assert game.name_at((x, y)) == thing["name"]
            assert thing["name"] in observation
        walls = info["view"]["walls"]
        if "forward" in walls:  # a side without a wall in sight is left out
            cell = engine.grid.get(ax + fx * walls["forward"], ay + fy * walls["forward"])
            assert cell is not None and cell.type == "wall"
            assert f"a wall {walls['forward']} step" in observation


def test_primitive_commands_and_what_the_agent_carries():
    env = make("medium", "primitive")
    assert "go to" not in env.unwrapped.instructions
    for seed in range(10):
        observation, info = env.reset(seed=seed)
        assert not any(action.startswith("go ") for action in info["admissible_actions"])
        assert env.step("go to red ball")[4]["action_status"] == "parse_error"
        game = env.unwrapped._game
        while info["outcome"] == "running" and game.engine.carrying is None:
            observation, _, _, _, info = env.step(env.unwrapped.format_command(env.unwrapped.oracle_action()))
        if info["outcome"] == "running":
            break
    name = game.names[id(game.engine.carrying)]
    assert info["view"]["carrying"] == name and f"You carry: the {name}." in observation
    assert "pick up" not in info["admissible_actions"]


def _blocked_state(env, preset_seeds):
    """Reset and walk forward until something blocks the way, the episode still running."""
    for seed in preset_seeds:
        _, info = env.reset(seed=seed)
        game = env.unwrapped._game
        while info["outcome"] == "running" and game._primitive_problem(2) is None:
            _, _, _, _, info = env.step("move forward")
        if info["outcome"] == "running":
            return game, info
    raise AssertionError("no blocked state found")


def test_illegal_actions_leave_minigrid_untouched():
    env = make("hard", "primitive")
    game, info = _blocked_state(env, range(10))
    assert "move forward" not in info["admissible_actions"]
    steps, position, view = game.engine.step_count, tuple(game.engine.agent_pos), env.unwrapped.view()
    bad = ["move forward", "dance", "", None, "go through the wall"]
    bad += ["drop"] if game.engine.carrying is None else ["pick up"]
    bad += ["toggle"] if game.front().type not in ("door",) else []
    for action in bad:
        _, reward, terminated, _, info = env.step(action)
        assert info["action_status"] in ("illegal", "parse_error") and reward == 0.0 and not terminated
        assert game.engine.step_count == steps and tuple(game.engine.agent_pos) == position
        assert {k: v for k, v in info["view"].items() if k != "feedback"} == {
            k: v for k, v in view.items() if k != "feedback"
        }


def test_a_box_cannot_be_opened_and_a_locked_door_needs_its_key():
    env = make("expert", "primitive")
    game = env.unwrapped._game
    for seed in range(40):
        env.reset(seed=seed)
        game = env.unwrapped._game
        boxes = [cell for cell, _ in game.objects if cell.type == "box"]
        locked = [cell for cell, _ in game.objects if cell.type == "door" and cell.is_locked]
        if boxes and locked:
            break
    assert game._primitive_problem(5, boxes[0]) is not None
    assert "locked" in game._primitive_problem(5, locked[0])


def test_go_to_expands_into_primitives_and_faces_the_target():
    env = make("expert")
    for seed in range(6):
        _, info = env.reset(seed=seed)
        targets = [a for a in info["admissible_actions"] if a.startswith("go to ")]
        if targets:
            break
    game = env.unwrapped._game
    name = targets[-1][len("go to ") :]
    route = game.route(game._position(game.by_name[name]))
    before = game.engine.step_count
    _, _, _, _, info = env.step(targets[-1])
    assert info["action_status"] == "ok" and info["turn"] == 1
    assert game.engine.step_count == before + len(route) > before
    if info["outcome"] == "running":
        assert game.front() is game.by_name[name]
        assert f"go to {name}" not in info["admissible_actions"]


def test_go_through_opens_the_door_and_crosses_it():
    env = make("hard")
    for seed in range(20):
        _, info = env.reset(seed=seed)
        doors = [a for a in info["admissible_actions"] if a.startswith("go through ")]
        if doors:
            break
    game = env.unwrapped._game
    door = game.by_name[doors[0][len("go through ") :]]
    _, _, _, _, info = env.step(doors[0])
    assert info["action_status"] == "ok" and door.is_open
    if info["outcome"] == "running":
        x, y = (int(v) for v in game.engine.agent_pos)
        door_x, door_y = (int(v) for v in door.cur_pos)
        assert abs(x - door_x) + abs(y - door_y) <= 1  # in the doorway or one step beyond it
        assert (x, y) == (door_x, door_y) or game.engine.grid.get(x, y) is None


def test_things_not_yet_seen_cannot_be_named():
    env = make("expert")
    for seed in range(10):
        env.reset(seed=seed)
        game = env.unwrapped._game
        unseen = [name for cell, name in game.objects if not game.known[game._position(cell)]]
        if unseen:
            break
    _, _, _, _, info = env.step(f"go to {unseen[0]}")
    assert info["action_status"] == "illegal" and "not seen" in info["view"]["feedback"]
    _, _, _, _, info = env.step("go to purple unicorn")
    assert info["action_status"] == "illegal"


@pytest.mark.parametrize("action_level, seeds", [("high", (0, 1, 2)), ("primitive", (2, 7))])
def test_oracle_recovers_from_random_detours(action_level, seeds):
    """Random moves mixed in (doors closed behind seen things among them); the bot always advises
    (no fallback) with an admissible command, and the oracle then completes the mission."""
    env = make("hard", action_level, max_turns=3000)
    for seed in seeds:
        rng = random.Random(seed)
        _, info = env.reset(seed=seed)
        steps = 0
        while info["outcome"] == "running":
            if rng.random() < 0.35 and steps < 60:
                action = rng.choice(info["admissible_actions"])
            else:
                action = env.unwrapped.format_command(env.unwrapped.oracle_action())
                assert action in info["admissible_actions"]
                assert env.unwrapped._path is not None or env.unwrapped._advisor is not None
            _, _, _, _, info = env.step(action)
            steps += 1
        assert info["outcome"] == "success", (action_level, seed)


def test_reward_modes():
    info, steps, total = oracle_episode(make("medium", reward_mode="babyai"), 4)
    assert info["outcome"] == "success"
    assert total == pytest.approx(1 - 0.9 * steps / info["max_turns"])
    with pytest.raises(ValueError, match="reward_mode"):
        BabyAIEnv(reward_mode="dense")


def test_made_up_theme_renames_colours_and_kinds_only():
    default, themed = make("hard"), make("hard", theme="made-up")
    _, info = default.reset(seed=1)
    themed_observation, themed_info = themed.reset(seed=1)
    assert info["optimal_steps"] == themed_info["optimal_steps"]
    words = set(re.findall(r"[a-z]+", themed_observation.lower()))
    assert not words & set(COLOURS + KINDS)
    assert set(themed_info["entities"]) & words
    for _ in range(6):
        command, same = default.unwrapped.oracle_action(), themed.unwrapped.oracle_action()
        assert command.verb == same.verb
        _, reward, *_ = default.step(default.unwrapped.format_command(command))
        _, themed_reward, *_ = themed.step(themed.unwrapped.format_command(same))
        assert reward == themed_reward
        assert default.unwrapped._game.history == themed.unwrapped._game.history


def test_reskin_renames_every_entity_word():
    from llm_gym.wrappers import Reskin

    env = Reskin(make("medium"), seed=3)
    observation, info = env.reset(seed=2)
    words = set(re.findall(r"[a-z]+", observation.lower()))
    assert not words & set(COLOURS + ("ball", "box"))
    while info["outcome"] == "running":
        observation, _, _, _, info = env.step(env.get_wrapper_attr("format_command")(env.unwrapped.oracle_action()))
    assert info["outcome"] == "success"


def test_sampling_rejections_are_silent(capsys):
    from llm_gym.families.babyai import _generation

    _generation.cache_clear()  # generate them all here, even those other tests made
    for seed in range(8):
        generate_task(seed, PRESETS["hard"], "default")
    assert capsys.readouterr().out == ""


def test_config_validation():
    with pytest.raises(ValueError, match="num_dists"):
        BabyAIConfig(room_size=5, num_dists=9)
    with pytest.raises(ValueError, match="open"):
        BabyAIConfig(action_kinds=("open",))
    with pytest.raises(ValueError, match="locked_room_prob"):
        BabyAIConfig(locked_room_prob=0.5)
    with pytest.raises(ValueError, match="putnext"):
        BabyAIConfig(num_dists=1, action_kinds=("putnext",))
    with pytest.raises(ValueError, match="action_level"):
        BabyAIConfig(action_level="macro")
    custom = gym.make(ENV_ID, difficulty={"preset": "hard", "num_dists": 4})
    _, info = custom.reset(seed=0)
    assert info["difficulty"]["preset"] == "custom" and info["difficulty"]["num_dists"] == 4


def test_gymnasium_check_env_and_determinism():
    from gymnasium.utils.env_checker import check_env

    check_env(make("medium").unwrapped, skip_render_check=True)
    runs = []
    for _ in range(2):
        env = make("hard")
        observation, info = env.reset(seed=9)
        trace = [observation]
        rng = random.Random(0)
        for _ in range(15):
            action = rng.choice(
                info["admissible_actions"] + [env.unwrapped.format_command(env.unwrapped.oracle_action())]
            )
            observation, reward, terminated, truncated, info = env.step(action)
            trace.append((observation, reward))
            if terminated or truncated:
                break
        runs.append(trace)
    assert runs[0] == runs[1]


@pytest.mark.parametrize("preset", ["easy", "hard"])
@pytest.mark.parametrize("how", ["deepcopy", "pickle"])
def test_copies_mid_episode_step_like_the_original(preset, how):
    import copy
    import pickle

    env = make(preset, max_turns=200)
    _, info = env.reset(seed=3)
    rng = random.Random(1)
    for _ in range(4):
        _, _, _, _, info = env.step(rng.choice(info["admissible_actions"]))
    env.unwrapped.oracle_action()  # the oracle's state travels too
    twin = copy.deepcopy(env) if how == "deepcopy" else pickle.loads(pickle.dumps(env))
    for _ in range(12):
        action = rng.choice(info["admissible_actions"] + [env.unwrapped.format_command(env.unwrapped.oracle_action())])
        assert twin.unwrapped.oracle_action() == env.unwrapped.oracle_action()
        result, twin_result = env.step(action), twin.step(action)
        assert result == twin_result
        info = result[4]
        if result[2] or result[3]:
            break


def test_the_missions_own_wording_is_accepted():
    import copy

    env = make("easy")
    for seed in range(40):
        _, info = env.reset(seed=seed)
        name = info["view"]["mission"].removeprefix("pick up the ")
        if f"pick up {name}" in info["admissible_actions"] and f"go to {name}" in info["admissible_actions"]:
            break
    assert info["view"]["mission"] == f"pick up the {name}"
    for wording in (f"go to the {name}", f"go to a {name}", f"go to the {name} on your right"):
        assert copy.deepcopy(env).step(wording) == copy.deepcopy(env).step(f"go to {name}"), wording
    twin = copy.deepcopy(env)
    result = env.step(f"pick up the {name}")
    assert result[4]["action_status"] == "ok" and result[4]["outcome"] == "success"
    assert twin.step(f"pick up {name}") == result
    for seed in range(40):
        _, info = env.reset(seed=seed)
        numbered = [a[8:-2] for a in info["admissible_actions"] if a.startswith("pick up ") and a.endswith(" 1")]
        if numbered:
            break
    _, _, _, _, info = env.step(f"pick up a {numbered[0]}")
    assert info["action_status"] == "illegal" and f"{numbered[0]} 1, {numbered[0]} 2" in info["view"]["feedback"]


def _raw_key(env):
    """The game's state read straight off minigrid (not the family's search state), for merging."""
    game = env.unwrapped._game
    engine = game.engine
    clauses = []

    def walk(instr):
        clauses.append((getattr(instr, "a_done", None), getattr(instr, "b_done", None)))
        for part in ("instr_a", "instr_b"):
            if hasattr(instr, part):
                walk(getattr(instr, part))
        pre = getattr(instr, "preCarrying", None)
        clauses.append(None if pre is None else game.names[id(pre)])
        for desc in ("desc", "desc_move", "desc_fixed"):
            if hasattr(instr, desc):
                clauses.append(tuple(map(tuple, getattr(instr, desc).obj_poss)))

    walk(engine.instrs)
    things = tuple(
        (
            name,
            None if cell is engine.carrying else tuple(cell.cur_pos),
            getattr(cell, "is_open", None),
            getattr(cell, "is_locked", None),
        )
        for cell, name in game.objects
    )
    known = game.known.tobytes() if game.high else b""
    return tuple(engine.agent_pos), engine.agent_dir, things, known, tuple(map(str, clauses)), env.unwrapped.outcome


def _shortest_by_copies(env, info, bound):
    """Fewest steps to success from ``env``'s state, by breadth-first search over
    ``admissible_actions`` on deep copies of the env, states merged by raw minigrid fields;
    ``None`` if more than ``bound``."""
    steps, complete = shortest_success(env, info["admissible_actions"], bound, 10**6, key=_raw_key)
    assert complete
    return steps


@pytest.mark.parametrize(
    "preset, action_level, longest",
    [
        ("easy", "high", 6),
        ("easy", "primitive", 6),
        ("medium", "high", 5),
        ("medium", "primitive", 6),
        ("hard", "high", 4),
    ],
)
def test_optimal_steps_is_the_shortest_by_an_independent_search(preset, action_level, longest):
    """On the first seeds of each preset (those whose optimum a copy-branching search can reach)."""
    env = make(preset, action_level, max_turns=500)
    checked = 0
    for seed in range(30):
        _, info = env.reset(seed=seed)
        if not info["optimal_exact"] or info["optimal_steps"] > longest or checked == 2:
            continue
        assert _shortest_by_copies(env, info, info["optimal_steps"]) == info["optimal_steps"], (preset, seed)
        checked += 1
    assert checked


@pytest.mark.parametrize("preset", ["easy", "medium"])
def test_oracle_is_optimal_from_off_plan_states(preset):
    env = make(preset, max_turns=500)
    checked = 0
    for seed in range(6):
        rng = random.Random(seed)
        _, info = env.reset(seed=seed)
        for _ in range(3):
            _, _, terminated, _, info = env.step(rng.choice(info["admissible_actions"][:3]))  # turns, forward
            if terminated:
                break
        if info["outcome"] != "running" or not info["optimal_exact"]:
            continue
        shortest = _shortest_by_copies(env, info, 6)
        if shortest is None:
            continue
        steps = 0
        while info["outcome"] == "running":
            _, _, _, _, info = env.step(env.unwrapped.format_command(env.unwrapped.oracle_action()))
            steps += 1
        assert info["outcome"] == "success" and steps == shortest, (preset, seed)
        env.unwrapped.oracle_action()  # after the end too, it does not raise
        checked += 1
    assert checked >= 3


@pytest.mark.parametrize("preset", list(PRESETS))
def test_search_bound_is_admissible_and_the_first_plan_an_upper_bound(preset):
    """A* needs a lower bound that never passes the optimum; the clause-by-clause plan is a way."""
    config = PRESETS[preset]
    for seed in range(4):
        task = generate_task(seed, config, "default")
        game = _Game(config, "default", task.level_seed)
        search = _Search(game)
        start = search.state(game)
        assert 1 <= search.bound(start) <= task.optimal_steps, (preset, seed)
        plan = search.plan(start, 10**3)
        assert plan is None or len(plan) >= task.optimal_steps or not task.optimal_exact, (preset, seed)


@pytest.mark.opt_in  # about 25 minutes here (hard and expert resets): python -m pytest -m opt_in
def test_difficulty_holds_for_reference_policies(seeds=300):
    """Random success at most 0.5 at easy and 0.02 at expert; no reference policy gains from one
    preset to the next beyond noise (two standard errors); mean optimal steps strictly increase."""
    check_reference_difficulty(lambda **kwargs: gym.make(ENV_ID, **kwargs), list(PRESETS), list(range(seeds)))
    means = [sum(generate_task(s, PRESETS[p], "default").optimal_steps for s in range(50)) / 50 for p in PRESETS]
    assert means == sorted(set(means)), means


# ----- speed without a second opinion: the game's shortcuts against minigrid itself ------------


def _seen_in(observation, engine) -> set[tuple[int, int]]:
    """The grid cells minigrid's image of the view shows (``image[x, y]``, the agent bottom middle)."""
    (x, y), (fx, fy) = (int(v) for v in engine.agent_pos), engine.dir_vec
    return {
        (x + fx * (6 - vy) - fy * (vx - 3), y + fy * (6 - vy) + fx * (vx - 3))
        for vx, vy in zip(*observation["image"][:, :, 0].nonzero())
    }


def _view_from_image(observation, engine, game) -> dict:
    """``_Game.view`` as it was read off minigrid's image: things, nearest walls, what is carried."""
    (x, y), (fx, fy) = (int(v) for v in engine.agent_pos), engine.dir_vec
    image, things = observation["image"], []
    for vx, vy in zip(*image[:, :, 0].nonzero()):
        forward, right = 6 - int(vy), int(vx) - 3
        if image[vx, vy, 0] >= 4 and (forward or right):  # a door, key, ball or box, not the agent's own cell
            thing = {"name": game.name_at((x + fx * forward - fy * right, y + fy * forward + fx * right))}
            thing |= {"forward": forward, "right": right}
            if image[vx, vy, 0] == 4:
                thing["state"] = ("open", "closed", "locked")[image[vx, vy, 2]]
            things.append(thing)
    things.sort(key=lambda thing: (thing["forward"] + abs(thing["right"]), thing["name"]))
    walls = {}
    for side, cells in (("forward", [(3, 6 - k) for k in range(1, 7)]), ("left", [(3 - k, 6) for k in (1, 2, 3)])):
        walls[side] = next((k + 1 for k, (vx, vy) in enumerate(cells) if image[vx, vy, 0] == 2), None)
    walls["right"] = next((k for k in (1, 2, 3) if image[3 + k, 6, 0] == 2), None)
    walls = {side: distance for side, distance in walls.items() if distance is not None}
    carrying = engine.carrying  # raw minigrid's own object: named as the game names the object it carries
    assert (carrying and (carrying.type, carrying.color)) == (
        game.engine.carrying and (game.engine.carrying.type, game.engine.carrying.color)
    )
    return {
        "mission": game.mission,
        "things": things,
        "walls": walls,
        "carrying": carrying and game.names[id(game.engine.carrying)],
    }


@pytest.mark.parametrize("action_level", ["high", "primitive"])
def test_walks_and_views_equal_minigrid_stepping_every_primitive(action_level):
    """The game walks without minigrid's step and reads views off its geometry; raw minigrid,
    replaying the same primitive actions one full step at a time, ends in the same state, shows
    the same cells along the way and the same view."""
    from contextlib import redirect_stdout
    from io import StringIO

    from minigrid.envs.babyai.core.levelgen import LevelGen

    for preset, seed in (("hard", 2), ("expert", 1), ("medium", 5)):
        env = make(preset, action_level, max_turns=500)
        _, info = env.reset(seed=seed)
        game, rng = env.unwrapped._game, random.Random(seed)
        raw = LevelGen(**env.unwrapped.config.level_kwargs())
        with redirect_stdout(StringIO()):
            observation, _ = raw.reset(seed=env.unwrapped.task.level_seed)
        seen, replayed, status = _seen_in(observation, raw), 0, "continue"
        for _ in range(25):
            _, _, terminated, truncated, info = env.step(rng.choice(info["admissible_actions"]))
            for action in game.history[replayed:]:
                observation, _, done, _, _ = raw.step(action)
                seen |= _seen_in(observation, raw)
                status = "success" if done else status
            replayed = len(game.history)
            assert (tuple(map(int, raw.agent_pos)), raw.agent_dir) == (
                tuple(map(int, game.engine.agent_pos)),
                game.engine.agent_dir,
            )
            assert raw.step_count == game.engine.step_count and {(x, y) for x, y in zip(*game.known.nonzero())} == seen
            assert _view_from_image(observation, raw, game) == {
                k: v for k, v in info["view"].items() if k != "feedback"
            }
            if terminated or truncated:
                assert status == "success" == info["outcome"]
                break


def test_views_equal_minigrids_from_any_pose_and_door_states():
    """``_Geometry.view`` (rows of bits) against minigrid's ``gen_obs_grid`` with the agent put in
    random free cells, facing anywhere, the doors opened, closed and locked at random."""
    from llm_gym.families.babyai import _CLOSED, _LOCKED, _OPEN

    rng = random.Random(4)
    for preset in ("easy", "hard", "expert"):
        game = _Game(PRESETS[preset], "default", rng.randrange(2**31))
        engine, geometry = game.engine, game.geometry
        free = [(x, y) for x in range(geometry.width) for y in range(geometry.height) if engine.grid.get(x, y) is None]
        for _ in range(60):
            states = tuple(rng.choice((_OPEN, _CLOSED, _LOCKED)) for _ in game.doors)
            for door, state in zip(game.doors, states):
                door.is_open, door.is_locked = state == _OPEN, state == _LOCKED
            (x, y), direction = rng.choice(free), rng.randrange(4)
            engine.agent_pos, engine.agent_dir = (x, y), direction
            _, mask = engine.gen_obs_grid()
            (fx, fy) = engine.dir_vec
            expected = {
                (x + fx * (6 - vy) - fy * (vx - 3), y + fy * (6 - vy) + fx * (vx - 3))
                for vx, vy in zip(*mask.nonzero())
            }
            view = geometry.view(x, y, direction, states)
            shown = {
                (cx, cy)
                for cx in range(geometry.width)
                for cy in range(geometry.height)
                if view >> (cx * geometry.height + cy) & 1
            }
            assert shown == {(cx, cy) for cx, cy in expected if 0 <= cx < geometry.width and 0 <= cy < geometry.height}


def test_routes_are_the_first_shortest_way_trying_forward_then_left_then_right():
    """The layered route equals a first-in first-out search over poses that tries forward, left,
    right in that order (the oracle's and the search's routes rest on that order)."""
    from llm_gym.families.babyai import FORWARD, LEFT, RIGHT

    def queued(geometry, x, y, d, free, target):
        height, goal = geometry.height, target[0] * geometry.height + target[1]
        start = (x * height + y) * 4 + d
        parents, queue = {start: None}, [start]
        for pose in queue:
            ahead = (pose >> 2) + geometry.ahead[pose & 3]
            if ahead == goal:
                actions = []
                while parents[pose] is not None:
                    pose, action = parents[pose]
                    actions.append(action)
                return actions[::-1]
            turn = pose & ~3
            for action, following in (
                (FORWARD, ahead * 4 + (pose & 3) if free >> ahead & 1 else None),
                (LEFT, turn | (pose - 1) & 3),
                (RIGHT, turn | (pose + 1) & 3),
            ):
                if following is not None and following not in parents:
                    parents[following] = (pose, action)
                    queue.append(following)
        return None

    rng, found = random.Random(2), 0
    for preset in ("easy", "hard", "expert"):
        geometry = _Game(PRESETS[preset], "default", rng.randrange(2**31)).geometry
        inside = [(x, y) for x in range(1, geometry.width - 1) for y in range(1, geometry.height - 1)]
        inside = [cell for cell in inside if cell not in geometry.walls]
        for _ in range(120):
            share = rng.choice((0.6, 0.85, 1.0))
            free = sum(geometry.bit(x, y) for x, y in inside if rng.random() < share)
            (x, y), d, target = rng.choice(inside), rng.randrange(4), rng.choice(inside + list(geometry.door_cells))
            route = geometry.route(x, y, d, free, target)
            assert route == queued(geometry, x, y, d, free, target), (preset, x, y, d, target)
            found += route is not None
    assert found > 150


def test_a_task_played_again_replays_the_same_episode():
    """The first episode of a task starts on the game its generation searched; later ones on a new
    game: both play alike."""
    env = make("medium")
    traces = []
    for seed in (3, 4, 3):
        observation, info = env.reset(options={"task_seed": seed})
        trace, rng = [observation], random.Random(seed)
        for _ in range(15):
            observation, reward, terminated, truncated, info = env.step(rng.choice(info["admissible_actions"]))
            trace.append((observation, reward))
            if terminated or truncated:
                break
        traces.append(trace)
    assert traces[0] == traces[2] != traces[1]


def test_make_vec_batches_the_views_infos():
    """Gymnasium merges the envs' ``info`` leaf by leaf into typed arrays: no leaf may be an int in
    one env and None in another (a wall out of sight is left out of ``walls``)."""
    envs = gym.make_vec(ENV_ID, num_envs=3, vectorization_mode="sync", difficulty="easy")
    _, infos = envs.reset(seed=[0, 1, 2])
    rng = random.Random(0)
    for _ in range(20):
        actions = tuple(rng.choice(list(infos["admissible_actions"][i])) for i in range(3))
        _, _, _, _, infos = envs.step(actions)
    walls = infos["view"]["walls"]
    assert set(walls) <= {"forward", "left", "right", "_forward", "_left", "_right"}
    for side in set(walls) & {"forward", "left", "right"}:  # each env's distance where it sees a wall
        seen = walls[f"_{side}"]
        assert all(1 <= distance <= 6 for distance in walls[side][seen]) and len(seen) == 3
    envs.close()
