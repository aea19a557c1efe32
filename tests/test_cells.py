"""The one ``Cell`` of the evaluation, the trainer and the study."""

import json

import pytest

from llm_gym.baselines import trainer
from llm_gym.baselines.cells import Cell, episode_key
from llm_gym.baselines.evaluation import evaluate


def test_the_trainer_and_the_evaluation_read_the_same_cell_from_a_config_table():
    table = {"env_id": "llm_gym/Shop-v0", "difficulty": {"preset": "easy"}, "interface": "json", "weight": 2}
    cell = Cell.from_value(table)
    assert trainer.Args(cells=(table,)).cells == (cell,)
    assert cell.label == 'Shop-v0:{"preset": "easy"}:json'
    assert hash(cell) == hash(Cell.from_value(dict(table)))


@pytest.mark.parametrize("weight", [0, -1.0, "2", True])
def test_a_weight_that_is_not_a_positive_number_is_refused(weight):
    with pytest.raises(ValueError, match="weight must be a positive number"):
        Cell(weight=weight)


def test_bad_settings_name_the_cell():
    with pytest.raises(ValueError, match=r"bad cell TextCraft-v0:impossible"):
        Cell(difficulty="impossible").make_env()
    with pytest.raises(ValueError, match="unknown cell key"):
        Cell.from_value({"agnet": "random"})


def test_an_evaluation_needs_an_agent(tmp_path):
    with pytest.raises(ValueError, match="names no agent"):
        evaluate([Cell()], 1, tmp_path)
    assert not (tmp_path / "episodes.jsonl").exists()


def test_a_cell_with_knobs_resumes_from_its_log_and_the_weight_does_not_change_an_episode(tmp_path):
    knobs = {"preset": "easy", "distractors": 1}
    first = evaluate([Cell(difficulty=knobs, agent="random")], 2, tmp_path)
    lines = (tmp_path / "episodes.jsonl").read_text().splitlines()
    again = evaluate([Cell(difficulty=knobs, agent="random", weight=3.0)], 2, tmp_path)
    assert (tmp_path / "episodes.jsonl").read_text().splitlines() == lines  # nothing replayed
    assert again == first
    assert first[0]["difficulty"] == json.dumps(knobs, sort_keys=True)
    record = json.loads(lines[0])
    assert episode_key(record, record["seed"]) == Cell(difficulty=knobs, agent="random").key(record["seed"])
