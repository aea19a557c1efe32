"""The study runner end to end on a micro configuration: every table, figure and the report."""

import csv
import math

import pytest

pytest.importorskip("torch")

from llm_gym.baselines.study import StudyConfig, load_study_config, plan_runs, run_study  # noqa: E402

MICRO = {
    "families": ("llm_gym/TextCraft-v0", "llm_gym/Household-v0"),
    "difficulties": ("easy", "hard"),
    "knobs": {"llm_gym/TextCraft-v0": {"distractors": 0}},
    "max_turns": {"llm_gym/TextCraft-v0": {"easy": 3}, "llm_gym/Household-v0": {"easy": 8}},
    "trainer": {
        "tiny_hidden": 16,
        "tiny_layers": 1,
        "tiny_vocab": 300,
        "warm_steps": 1,
        "warm_batch": 2,
        "iterations": 2,
        "groups": 2,
        "group_size": 2,
        "eval_seeds": 2,
        "eval_every": 100,
        "checkpoint_every": 100,
        "max_new_tokens": 4,
        "progress": False,
        "plot": False,
    },
    "shift_episodes": 1,
}


def test_plan_covers_the_three_axes_and_the_gap_split():
    runs = plan_runs(StudyConfig(**MICRO))
    assert set(runs) == {"base", "curriculum_up", "curriculum_down", "transfer_Household", "sequential", "mixture"}
    assert [len(p["cells"]) for p in runs["sequential"]["phases"]] == [1, 1]
    assert runs["mixture"]["iterations"] == 4
    labels = {c.label for c in runs["base"]["eval_cells"]}
    assert any("json+tagged" in label and "made-up" in label for label in labels)


def test_micro_study_writes_every_table_figure_and_the_report(tmp_path):
    config = StudyConfig(**{**MICRO, "out_dir": str(tmp_path / "study")})
    report = run_study(config, progress=False)
    out = report.parent
    for name in ("difficulty", "transfer", "sequential", "shift", "gap"):
        rows = list(csv.DictReader(open(out / f"{name}.csv")))
        assert rows, name
    for name in ("difficulty", "transfer", "sequential", "gap"):
        assert (out / f"{name}.png").stat().st_size > 1000
    gap = next(csv.DictReader(open(out / "gap.csv")))
    parts = [float(gap[k]) for k in ("semantic_part", "interface_part", "interaction")]
    assert sum(parts) == pytest.approx(float(gap["total_gap"]))
    split = float(gap["prior_consistency"]) + float(gap["name_familiarity"])
    assert split == pytest.approx(float(gap["semantic_part"]))  # TextCraft offers a counterfactual world
    for part in ("total_gap", "semantic_part", "interface_part", "interaction", "prior_consistency", "held_in_delta"):
        assert float(gap[f"{part}_ci"]) >= 0.0, part  # paired 95% half-widths, finite
    assert "± " in report.read_text()
    shift = {row["cell"]: row for row in csv.DictReader(open(out / "shift.csv"))}
    assert float(shift["semantic"]["semantic_distance"]) > 0 and float(shift["semantic"]["interface_distance"]) == 0
    assert float(shift["interface"]["interface_distance"]) > 0 and float(shift["interface"]["semantic_distance"]) == 0
    assert "## 4. Interface and semantic shift" in report.read_text()
    mtime = report.stat().st_mtime
    assert run_study(config, progress=False) == report and report.stat().st_mtime >= mtime  # finished runs are reused


def test_bad_study_config_fails_before_any_work(tmp_path):
    with pytest.raises(ValueError, match="Unknown environment 'llm_gym/Nope-v0'"):
        StudyConfig(families=("llm_gym/Nope-v0",))
    with pytest.raises(ValueError, match="semantic_shift"):
        StudyConfig(**{**MICRO, "semantic_shift": "space"})
    with pytest.raises(ValueError, match="sets trainer keys"):
        StudyConfig(**{**MICRO, "trainer": {"out_dir": "x"}})
    with pytest.raises(ValueError, match="unknown study key"):
        StudyConfig.from_dict({"familes": []})
    bad = tmp_path / "study.toml"
    bad.write_text("families = [")
    with pytest.raises(ValueError, match="not valid TOML"):
        load_study_config(bad)


def test_paired_confidence_intervals_shrink_with_agreement():
    from llm_gym.baselines.study import paired_ci

    assert paired_ci([1.0] * 50) == 0.0  # every seed moved the same way: no doubt left
    assert paired_ci([1.0, -1.0] * 25) > paired_ci([1.0, 0.0] * 25) > 0
    assert math.isnan(paired_ci([1.0]))
