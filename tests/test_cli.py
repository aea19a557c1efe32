import csv
import itertools
import json

import gymnasium as gym
import pytest

from llm_gym.baselines.agents import OracleAgent, RandomAgent, make_agent
from llm_gym.baselines.evaluation import Cell, evaluate, run_episode
from llm_gym.cli import main, play
from llm_gym.testing import oracle_actions


def test_list_and_describe(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "llm_gym/TextCraft-v0" in out and "easy, medium, hard, expert" in out
    assert main(["describe", "TextCraft"]) == 0
    assert json.loads(capsys.readouterr().out)["id"] == "llm_gym/TextCraft-v0"


def test_eval_writes_episodes_and_summary(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(
        [
            "eval",
            "--agent",
            "random",
            "oracle",
            "--env",
            "TextCraft",
            "--difficulty",
            "easy",
            "hard",
            "--episodes",
            "4",
            "--out",
            str(out),
            "--quiet",
        ]
    )
    assert code == 0
    table = capsys.readouterr().out
    assert "success" in table and "TextCraft-v0" in table
    lines = [json.loads(line) for line in (out / "episodes.jsonl").read_text().splitlines()]
    assert len(lines) == 2 * 2 * 4
    first = lines[0]
    assert {"seed", "actions", "observations", "rewards", "statuses", "outcome"} <= set(first)
    assert len(first["observations"]) == len(first["actions"]) + 1
    rows = list(csv.DictReader(open(out / "summary.csv")))
    oracle_rows = [r for r in rows if r["agent"] == "oracle"]
    assert [float(r["success_rate"]) for r in oracle_rows] == [1.0, 1.0]
    assert all(float(r["mean_steps"]) == float(r["mean_optimal_steps"]) for r in oracle_rows)
    seeds = {(line["agent"], line["difficulty"]): [] for line in lines}
    for line in lines:
        seeds[(line["agent"], line["difficulty"])].append(line["task_id"])
    assert seeds[("random", "hard")] == seeds[("oracle", "hard")]


def test_eval_rejects_bad_input(tmp_path, capsys):
    assert main(["eval", "--env", "Nope", "--out", str(tmp_path)]) == 2
    assert "Unknown environment 'Nope'" in capsys.readouterr().err
    assert main(["eval", "--env", "TextCraft", "--difficulty", "legendary", "--out", str(tmp_path)]) == 2
    assert "allowed: ['easy', 'medium', 'hard', 'expert']" in capsys.readouterr().err
    assert main(["eval", "--agent", "genius", "--env", "TextCraft", "--out", str(tmp_path)]) == 2
    assert "Unknown agent 'genius'" in capsys.readouterr().err


def test_play_with_scripted_input():
    env = gym.make("llm_gym/TextCraft-v0", difficulty={"preset": "easy", "distractors": 0})
    plan = oracle_actions(env, seed=1)
    typed = iter(["help", "dance", *plan])
    shown = []
    assert play(env, seed=1, read=lambda prompt: next(typed), write=shown.append) == "success"
    text = "\n".join(shown)
    assert "Admissible actions:" in text and "[parse_error]" in text and "Episode over: success" in text
    typed = iter(["quit"])
    assert play(env, seed=1, read=lambda prompt: next(typed), write=shown.append) == "quit"


def test_agents_protocol():
    env = gym.make("llm_gym/TextCraft-v0", difficulty="medium")
    oracle = run_episode(env, OracleAgent(env), seed=3)
    assert oracle["outcome"] == "success" and oracle["steps"] == oracle["optimal_steps"]
    first = run_episode(env, RandomAgent(), seed=3)
    second = run_episode(env, make_agent("random", env, seed=3), seed=3)
    assert first["actions"] == second["actions"]
    assert all(status == "ok" for status in first["statuses"])
    with pytest.raises(ValueError, match="allowed"):
        make_agent("genius", env)


def test_evaluate_rejects_zero_episodes(tmp_path):
    with pytest.raises(ValueError, match="at least 1"):
        evaluate([Cell("llm_gym/TextCraft-v0", "easy", "random")], 0, tmp_path)


def test_list_shows_multiagent_games_and_play_hot_seat(capsys, monkeypatch):
    assert main(["list"]) == 0
    assert "llm_gym/Poker-v0 (multi-agent)" in capsys.readouterr().out
    moves = itertools.cycle(["help", "check", ""])
    monkeypatch.setattr("builtins.input", lambda prompt="": next(moves))
    assert main(["play", "poker", "--difficulty", "kuhn", "--seed", "0"]) == 0
    assert "Legal moves" in capsys.readouterr().out


def test_train_subcommand_is_wired(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    assert "--warm-steps" in capsys.readouterr().out


def test_multiagent_play_checks_its_arguments_and_plays_one_seat(capsys, monkeypatch):
    assert main(["play", "poker", "--theme", "space"]) == 2
    assert "Unknown theme 'space'" in capsys.readouterr().err
    assert main(["play", "poker", "--seat", "dealer"]) == 2
    assert "Unknown seat 'dealer'" in capsys.readouterr().err
    moves = itertools.cycle(["call", "check", "fold"])
    monkeypatch.setattr("builtins.input", lambda prompt="": next(moves))
    assert main(["play", "poker", "--difficulty", "kuhn", "--seat", "player_0", "--seed", "2"]) == 0


def test_cards_measure_every_preset_and_write_csv_and_markdown(tmp_path, capsys):
    assert main(["cards", "--env", "TextCraft", "--seeds", "6", "--out", str(tmp_path), "--quiet"]) == 0
    printed = capsys.readouterr().out
    rows = list(csv.DictReader(open(tmp_path / "cards.csv")))
    assert [row["preset"] for row in rows] == ["easy", "medium", "hard", "expert"]
    assert all(row["seeds"] == "6" and 0.0 <= float(row["random_success"]) <= 1.0 for row in rows)
    steps = [float(row["mean_optimal_steps"]) for row in rows]
    assert steps == sorted(steps) and steps[0] > 0
    table, _, samples = (tmp_path / "cards.md").read_text().partition("\n## Sample episodes\n")
    assert table.strip() in printed
    assert all(f"#### {setting} (outcome: success)" in samples for setting in ("grounded", "made-up"))


def test_cards_reject_a_bad_seed_count(tmp_path, capsys):
    assert main(["cards", "--env", "TextCraft", "--seeds", "0", "--out", str(tmp_path)]) == 2
    assert "--seeds must be a positive integer" in capsys.readouterr().err


def test_eval_makes_the_textworld_games_of_its_grid_in_the_background(tmp_path, monkeypatch):
    from llm_gym.families import textworld_games

    pytest.importorskip("textworld")
    requests = []
    monkeypatch.setattr(
        textworld_games,
        "generate_games_in_background",
        lambda configs, seeds: requests.append((list(configs), list(seeds))),
    )
    monkeypatch.setattr("llm_gym.baselines.evaluation.evaluate", lambda cells, *args, **kwargs: [])
    common = ["eval", "--episodes", "3", "--seed", "5", "--out", str(tmp_path), "--quiet"]
    assert main([*common, "--env", "TextCraft", "TextWorld", "--difficulty", "easy", "hard"]) == 0
    presets = textworld_games.PRESETS
    assert requests == [([presets["easy"], presets["hard"]], [5, 6, 7])]
    requests.clear()
    assert main([*common, "--env", "TextCraft"]) == 0
    assert requests == []
