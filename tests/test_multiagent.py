"""llm_gym.multiagent: the game list, per-agent interfaces, the single-seat adapter, hot seat."""

from __future__ import annotations

import importlib
import itertools
import json
import types
import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from pettingzoo import AECEnv, ParallelEnv
from pettingzoo.test import api_test, max_cycles_test, parallel_api_test, performance_benchmark, render_test, seed_test
from pettingzoo.utils.conversions import parallel_to_aec
from pettingzoo.utils.wrappers import OrderEnforcingWrapper

import llm_gym.multiagent as ma
from llm_gym.grammar import Command
from llm_gym.multiagent import blotto, guide, poker
from llm_gym.multiagent.guide import FOLLOWER, GUIDE
from llm_gym.multiagent.play import CLEAR_SCREEN
from llm_gym.multiagent.poker import HeuristicPoker, PokerEnv
from llm_gym.multiagent.wrappers import AgentInterface, ParallelAgentInterface
from llm_gym.wrappers.formats import ACTION_FORMATS, OBSERVATION_FORMATS, format_action


def test_env_ids_make_and_describe():
    assert ma.env_ids() == ["llm_gym/Poker-v0", "llm_gym/GuideFollower-v0", "llm_gym/Blotto-v0"]
    assert ma.resolve_id("guidefollower") == "llm_gym/GuideFollower-v0"
    assert isinstance(ma.make("llm_gym/Poker-v0", difficulty="leduc"), PokerEnv)
    assert ma.make_aec("blotto").possible_agents == ["player_0", "player_1"]
    assert list(ma.describe("Poker")["presets"]) == ["kuhn", "leduc", "large"]
    with pytest.raises(ValueError, match="llm_gym/Poker-v0"):
        ma.make("chess")


# ----- per-agent interfaces ------------------------------------------------------------------


@pytest.mark.parametrize("action_format", ACTION_FORMATS)
def test_every_interface_passes_the_pettingzoo_tests(action_format):
    observation_format = OBSERVATION_FORMATS[ACTION_FORMATS.index(action_format) % len(OBSERVATION_FORMATS)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        api_test(AgentInterface(PokerEnv(difficulty="leduc"), observation_format, action_format), num_cycles=40)
        seed_test(
            lambda: AgentInterface(PokerEnv(difficulty="leduc"), observation_format, action_format), num_cycles=15
        )
        if action_format != "discrete":
            follower = AgentInterface(ma.make("GuideFollower"), observation_format, action_format, agents=[FOLLOWER])
            api_test(follower, num_cycles=20)
        blotto = lambda: ParallelAgentInterface(ma.make("blotto"), observation_format, action_format)  # noqa: E731
        parallel_api_test(blotto(), num_cycles=10)
        api_test(parallel_to_aec(blotto()), num_cycles=10)


def canonical_poker_run(observation_format: str, action_format: str, seed: int) -> list:
    """Heuristic play written in ``action_format``; returns every canonical step's record."""
    env = AgentInterface(PokerEnv(difficulty="leduc"), observation_format, action_format)
    env.reset(seed=seed)
    policies = {agent: HeuristicPoker(seed=i) for i, agent in enumerate(env.possible_agents)}
    core, record = env.unwrapped, []
    for agent in env.agent_iter(50):
        observation, reward, terminated, truncated, info = env.last()
        record.append((agent, reward, terminated, info["outcome"]))
        if terminated or truncated:
            env.step(None)
            continue
        command = Command(policies[agent].act(observation, info))
        env.step(format_action(command, core.grammars[agent], action_format, actions=core.listed_actions(agent)))
        assert env.infos[agent]["action_status"] == "ok"
    return record


def test_interfaces_are_lossless_same_commands_same_game():
    for seed in range(4):
        native = canonical_poker_run("prose", "native", seed)
        for observation_format, action_format in [
            ("json", "toolcall"),
            ("markdown", "react"),
            ("kv", "index"),
            ("prose", "discrete"),
            ("json", "tagged"),
        ]:
            assert canonical_poker_run(observation_format, action_format, seed) == native


def test_observation_formats_render_the_view():
    env = AgentInterface(PokerEnv(), "json", "native", agents=["player_1"])
    env.reset(seed=0)
    env.step("bet")
    text = env.observe("player_1")["text"]
    view = json.loads(text[text.index("{") :])
    assert view == env.infos["player_1"]["view"] and view["legal_moves"] == ["call", "fold"]
    assert "Your card:" in env.observe("player_0")["text"]  # the other seat keeps its prose


def test_action_formats_read_their_syntax_and_flag_the_rest():
    env = AgentInterface(PokerEnv(), action_format="toolcall")
    env.reset(seed=0)
    assert '"name": "check"' in env.observe("player_0")["text"]  # instructions derived from the grammar
    env.step("bet")
    assert env.infos["player_0"]["action_status"] == "parse_error" and env.agent_selection == "player_0"
    env.step('{"name": "bet", "arguments": {}}')
    assert env.infos["player_0"]["action_status"] == "ok" and env.agent_selection == "player_1"
    guide = AgentInterface(ma.make("GuideFollower"), action_format="react", agents=[GUIDE])
    guide.reset(seed=0)
    guide.step("Thought: start simple.\nAction: check your inventory")
    assert guide.unwrapped.message == "check your inventory"


def test_discrete_interface_uses_fixed_move_numbers_and_the_mask():
    env = AgentInterface(PokerEnv(), action_format="discrete")
    env.reset(seed=0)
    assert env.action_space("player_0") == gym.spaces.Discrete(5)
    env.step(np.int64(1))  # bet
    assert env.unwrapped.hand.history[0] == ((0, "bet"),)
    assert env.observe("player_1")["action_mask"].tolist() == [0, 0, 1, 0, 1]  # Kuhn: call or fold
    env.step(0)  # check is not legal facing a bet
    assert env.infos["player_1"]["action_status"] == "illegal"
    env.step(7)
    assert env.infos["player_1"]["action_status"] == "parse_error"


def test_interface_errors_name_the_problem():
    with pytest.raises(ValueError, match="observation format"):
        AgentInterface(PokerEnv(), observation_format="yaml")
    with pytest.raises(ValueError, match="free text"):
        AgentInterface(ma.make("GuideFollower"), action_format="index")
    with pytest.raises(ValueError, match="fixed move list"):
        AgentInterface(ma.make("GuideFollower"), action_format="discrete", agents=[FOLLOWER])
    with pytest.raises(ValueError, match="Unknown agents"):
        AgentInterface(PokerEnv(), agents=["player_7"])


# ----- the single-seat adapter ----------------------------------------------------------------


def run_seat(env: gym.Env, policy, seed: int) -> tuple[float, list[str]]:
    observation, info = env.reset(seed=seed)
    if hasattr(policy, "reset"):
        policy.reset(seed=seed)
    total, observations, done = 0.0, [observation], False
    while not done:
        observation, reward, terminated, truncated, info = env.step(policy.act({"text": observation}, info))
        total += reward
        observations.append(observation)
        done = terminated or truncated
    return total, observations


@pytest.mark.parametrize(
    "name,seat", [("Poker", "player_1"), ("GuideFollower", FOLLOWER), ("GuideFollower", GUIDE), ("Blotto", "player_0")]
)
def test_seat_env_passes_check_env_and_is_deterministic(name, seat):
    env = ma.make_seat_env(ma.make(name), seat)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_env(env, skip_render_check=True)
    policy = ma.default_policies(ma.make(name))[seat]
    first = run_seat(env, policy, seed=3)
    assert run_seat(ma.make_seat_env(ma.make(name), seat), policy, seed=3) == first


def test_seat_env_rewards_add_up_over_the_opponents_moves():
    env = ma.SeatEnv(PokerEnv(difficulty="leduc"), "player_1", {"player_0": HeuristicPoker(seed=0)})
    totals = [run_seat(env, HeuristicPoker(seed=1), seed)[0] for seed in range(40)]
    assert all(total == int(total) for total in totals) and any(total < 0 for total in totals)
    observation, info = env.reset(seed=1)
    assert info["action_mask"].sum() >= 2 and "Your move." in observation
    hand = env.game.hand
    _, reward, terminated, truncated, info = env.step("dance")
    assert info["action_status"] == "parse_error" and env.game.hand == hand
    assert (reward, terminated, truncated) == (0.0, False, False)


def test_cooperative_seat_env_solves_with_scripted_partner():
    env = ma.make_seat_env(ma.make("GuideFollower", difficulty="medium"), FOLLOWER)
    follower = ma.default_policies(env.game)[FOLLOWER]
    for seed in range(3):
        total, _ = run_seat(env, follower, seed)
        assert total == 1.0


def test_seat_env_errors_name_the_problem():
    with pytest.raises(ValueError, match="Unknown seat"):
        ma.SeatEnv(PokerEnv(), "player_9", {})
    with pytest.raises(ValueError, match="No policy"):
        ma.SeatEnv(PokerEnv(), "player_0", {})


# ----- hot seat --------------------------------------------------------------------------------


def scripted(lines: list[str]):
    answers = iter(lines)

    def read(prompt: str) -> str:
        try:
            return next(answers)
        except StopIteration:
            raise EOFError from None

    return read


def test_hot_seat_plays_a_poker_hand_with_help_and_bad_input():
    shown: list[str] = []
    lines = ["", "help", "dance", "bet", "", "fold"]
    result = ma.play_hot_seat(PokerEnv(), read=scripted(lines), write=shown.append, seed=0)
    text = "\n".join(shown)
    assert result == {
        "rewards": {"player_0": 1.0, "player_1": -1.0},
        "outcomes": {"player_0": "success", "player_1": "failure"},
        "quit": False,
    }
    assert "Legal moves now: check, bet" in text and 'Unknown command "dance"' in text
    assert text.index("player_0's turn") < text.index("player_1's turn") < text.index("Game over")
    handover = shown.index(f"{CLEAR_SCREEN}Pass the keyboard to player_1.")  # player_0's screen is cleared first
    assert all("player_1's turn" not in entry for entry in shown[:handover])
    assert "Your card: King." not in "\n".join(shown[handover : shown.index(CLEAR_SCREEN)])  # player_0's card


def test_hot_seat_quit_and_end_of_input_stop_the_game():
    shown: list[str] = []
    assert ma.play_hot_seat(PokerEnv(), read=scripted(["quit"]), write=shown.append)["quit"] is True
    assert shown[-1] == "Game stopped."
    assert ma.play_hot_seat(ma.make("GuideFollower"), read=scripted(["get going"]), write=shown.append)["quit"] is True


def test_hot_seat_runs_simultaneous_games_seat_by_seat():
    shown: list[str] = []
    moves = ["send 3 1 1", "send 1 1 3"] * 3
    result = ma.play_hot_seat(ma.make("Blotto"), read=scripted(moves), write=shown.append, seed=0, handover=False)
    assert result["quit"] is False and result["rewards"] == {"player_0": 0.0, "player_1": 0.0}
    assert set(result["outcomes"].values()) == {"draw"}


def test_seat_env_over_interfaces_scripted_opponents_still_play_natively():
    game = AgentInterface(ma.make("Poker", difficulty="leduc"), "json", "discrete")
    env = ma.make_seat_env(game, "player_0")
    assert env.action_space == gym.spaces.Discrete(5)
    for seed in range(10):
        _, info = env.reset(seed=seed)
        done = False
        while not done:
            _, _, terminated, truncated, info = env.step(int(np.flatnonzero(info["action_mask"])[-1]))
            assert info["action_status"] == "ok"
            done = terminated or truncated
        assert terminated and info["outcome"] in ("success", "failure", "draw")
    blotto = ma.make_seat_env(parallel_to_aec(ParallelAgentInterface(ma.make("Blotto"), "kv", "toolcall")), "player_1")
    _, info = blotto.reset(seed=0)
    _, reward, *_, info = blotto.step('{"name": "send", "arguments": {"hill": 5, "bridge": 0, "village": 0}}')
    assert info["action_status"] == "ok" and len(info["view"]["history"]) == 1


def test_hot_seat_against_a_bot_needs_no_handover():
    shown: list[str] = []
    bots = {"player_1": HeuristicPoker(seed=0)}

    def read(prompt: str) -> str:  # checks when it can, else calls
        return "check" if "Legal moves: check" in shown[-1] else "call"

    result = ma.play_hot_seat(PokerEnv(difficulty="leduc"), read=read, write=shown.append, seed=4, bots=bots)
    assert result["quit"] is False and result["rewards"]["player_0"] == -result["rewards"]["player_1"] != 0
    assert not any("Pass the keyboard" in entry for entry in shown)
    assert all("player_1's turn" not in entry for entry in shown)
    with pytest.raises(ValueError, match="Unknown seats"):
        ma.play_hot_seat(PokerEnv(), bots={"dealer_0": HeuristicPoker()})


@pytest.mark.parametrize("name", ["poker", "blotto"])
def test_games_refuse_a_bad_turn_limit_or_render_mode(name):
    for max_turns in (0, -3, 2.5, True):
        with pytest.raises(ValueError, match="max_turns must be a positive integer"):
            ma.make(name, max_turns=max_turns)
    with pytest.raises(ValueError, match="Unknown render_mode 'rgb_array'"):
        ma.make(name, render_mode="rgb_array")
    with pytest.raises(ValueError, match="Unknown render_mode 'rgb_array'"):
        ma.SeatEnv(ma.make(name), "player_0", {"player_1": lambda observation, info: ""}, render_mode="rgb_array")


# ----- PettingZoo's conventions for game modules ---------------------------------------------


GAME_MODULES = [poker, guide, blotto]


@pytest.mark.parametrize("module", GAME_MODULES, ids=lambda module: module.__name__.rsplit(".", 1)[1])
def test_game_modules_pass_pettingzoo_api_render_and_benchmark_tests(module, monkeypatch):
    assert isinstance(module.raw_env(), AECEnv) and not isinstance(module.raw_env(), OrderEnforcingWrapper)
    assert isinstance(module.env(), OrderEnforcingWrapper)
    # The benchmark runs for five seconds of wall clock; a clock that ticks half a second per
    # reading makes it play about ten cycles instead.
    clock = itertools.count(0.0, 0.5)
    monkeypatch.setattr(
        importlib.import_module("pettingzoo.test.performance_benchmark"),
        "time",
        types.SimpleNamespace(time=lambda: next(clock)),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        api_test(module.env(), num_cycles=20)
        render_test(module.env)
        performance_benchmark(module.env())


def test_blotto_module_has_a_parallel_env_that_passes_max_cycles_test():
    assert isinstance(blotto.parallel_env(), ParallelEnv)
    assert not hasattr(poker, "parallel_env") and not hasattr(guide, "parallel_env")  # turn-based games
    max_cycles_test(blotto)
    assert blotto.env(max_cycles=6).unwrapped.max_turns == 6
    with pytest.raises(ValueError, match="max_cycles or max_turns, not both"):
        blotto.parallel_env(max_cycles=4, max_turns=5)
