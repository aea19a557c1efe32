"""The study runner end to end on a micro configuration: every table, figure and the report."""

import csv
import json
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
        "tiny_copy_steps": 20,
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
    "train_seeds": (0, 1),
    "warm_on_shifts": "off-base",
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
    difficulty = list(csv.DictReader(open(out / "difficulty.csv")))
    assert float(difficulty[0]["delta_easy"]) == 0.0  # the warm start against itself
    for row in difficulty[1:]:  # every regime's change over the warm start, paired, with its interval
        assert float(row["delta_easy_ci"]) >= 0.0
        assert float(row["delta_easy"]) == pytest.approx(float(row["easy"]) - float(difficulty[0]["easy"]))
    assert "| change over the warm start |" in report.read_text()
    shift = {row["cell"]: row for row in csv.DictReader(open(out / "shift.csv"))}
    for row in shift.values():
        assert float(row["delta"]) == pytest.approx(float(row["final"]) - float(row["warm"]))
        assert float(row["delta_ci"]) >= 0.0
    assert float(shift["semantic"]["semantic_distance"]) > 0 and float(shift["semantic"]["interface_distance"]) == 0
    assert float(shift["interface"]["interface_distance"]) > 0 and float(shift["interface"]["semantic_distance"]) == 0
    assert "## 4. Interface and semantic shift" in report.read_text()
    transfer = list(csv.DictReader(open(out / "transfer.csv")))
    assert all(len(row["final_by_seed"].split()) == 2 for row in transfer)  # each arm trained with both seeds
    assert (out / "runs" / "base" / "seed-0").is_dir() and (out / "runs" / "base" / "seed-1").is_dir()
    mtime = report.stat().st_mtime
    assert run_study(config, progress=False) == report and report.stat().st_mtime >= mtime  # finished runs are reused


def test_a_one_family_study_runs_axes_1_and_4_and_says_why_not_2_and_3(tmp_path):
    one = {**MICRO, "families": ("llm_gym/TextCraft-v0",), "train_seeds": (0,), "warm_on_shifts": "none"}
    assert set(plan_runs(StudyConfig(**one))) == {"base", "curriculum_up", "curriculum_down"}
    report = run_study(StudyConfig(**{**one, "out_dir": str(tmp_path / "study")}), progress=False)
    out = report.parent
    assert not (out / "transfer.csv").exists() and not (out / "sequential.png").exists()
    assert list(csv.DictReader(open(out / "gap.csv")))[0]["total_gap_ci"]
    text = report.read_text()
    assert "Not run: the study has one family" in text and "## 4. Interface and semantic shift" in text


def test_a_lora_study_trains_and_evaluates_every_run_over_the_shared_adapters(tmp_path):
    pytest.importorskip("peft")
    trainer = {**MICRO["trainer"], "lora_rank": 2}
    one = {**MICRO, "families": ("llm_gym/TextCraft-v0",), "train_seeds": (0,), "warm_on_shifts": "none"}
    report = run_study(StudyConfig(**{**one, "trainer": trainer, "out_dir": str(tmp_path / "study")}), progress=False)
    runs = report.parent / "runs"
    base = str((report.parent / "base_model").resolve())
    adapters = sorted(runs.glob("**/adapter_config.json"))
    assert (runs / "warm" / "warm" / "adapter_config.json") in adapters and len(adapters) > 1
    assert {json.loads(path.read_text())["base_model_name_or_path"] for path in adapters} == {base}
    assert not list(runs.glob("**/model.safetensors"))  # no run fell back to full weights
    assert "## 4. Interface and semantic shift" in report.read_text()


def test_parallel_workers_train_the_same_runs_as_one_process(tmp_path):
    # two workers also give the serial warm start two threads; a model this small computes the
    # same either way, so any difference would come from the process pool
    one = {**MICRO, "families": ("llm_gym/TextCraft-v0",), "warm_on_shifts": "none", "curricula": False}
    assert set(plan_runs(StudyConfig(**one))) == {"base"}
    reports = {}
    for workers in (1, 2):
        config = StudyConfig(**{**one, "workers": workers, "out_dir": str(tmp_path / f"workers-{workers}")})
        reports[workers] = run_study(config, progress=False)
    warm = [tmp_path / f"workers-{w}" / "runs" / "warm" / "evals" for w in (1, 2)]
    assert sorted(p.name for p in warm[1].iterdir()) == sorted(p.name for p in warm[0].iterdir())
    for records in warm[0].iterdir():  # the warm start evaluated cell by cell in the pool
        assert json.loads((warm[1] / records.name).read_text()) == json.loads(records.read_text())
    for seed in (0, 1):
        serial, parallel = (
            json.loads((tmp_path / f"workers-{w}" / "runs" / "base" / f"seed-{seed}" / "evals.json").read_text())
            for w in (1, 2)
        )
        assert parallel == serial, seed  # every run is seeded: the process it ran in changes nothing
    assert reports[2].read_text() == reports[1].read_text().replace("workers-1", "workers-2")
    regimes = [row["regime"] for row in csv.DictReader(open(tmp_path / "workers-1" / "difficulty.csv"))]
    assert regimes == ["warm start", "RL on easy"]  # no curriculum arms


def test_bad_study_config_fails_before_any_work(tmp_path):
    with pytest.raises(ValueError, match="Unknown environment 'llm_gym/Nope-v0'"):
        StudyConfig(families=("llm_gym/Nope-v0",))
    with pytest.raises(ValueError, match="semantic_shift"):
        StudyConfig(**{**MICRO, "semantic_shift": "space"})
    with pytest.raises(ValueError, match="sets trainer keys"):
        StudyConfig(**{**MICRO, "trainer": {"out_dir": "x"}})
    with pytest.raises(ValueError, match="warm_on_shifts True is invalid"):
        StudyConfig(**{**MICRO, "warm_on_shifts": True})
    with pytest.raises(ValueError, match="curricula must be true or false"):
        StudyConfig(**{**MICRO, "curricula": "no"})
    with pytest.raises(ValueError, match="workers must be a whole number"):
        StudyConfig(**{**MICRO, "workers": -1})
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


def test_the_shared_warm_start_meets_each_shift_alone_off_the_base_or_everywhere():
    from llm_gym.baselines.study import warm_cells

    plain = warm_cells(StudyConfig(**{**MICRO, "warm_on_shifts": "none"}))
    assert [(c.env_id, c.interface, c.semantics) for c in plain] == [(f, None, None) for f in MICRO["families"]]
    shifted = warm_cells(StudyConfig(**MICRO))
    extra = [(c.env_id, c.interface, c.semantics) for c in shifted[len(plain) :]]
    assert extra == [
        ("llm_gym/Household-v0", "json+tagged", None),
        ("llm_gym/Household-v0", None, "made-up"),
    ]  # never on the base family, whose shifted cells stay unseen
    everywhere = warm_cells(StudyConfig(**{**MICRO, "warm_on_shifts": "everywhere"}))
    extra = [(c.env_id, c.interface, c.semantics) for c in everywhere[len(plain) :]]
    assert extra == [
        ("llm_gym/TextCraft-v0", "json+tagged", None),
        ("llm_gym/TextCraft-v0", None, "made-up"),
        ("llm_gym/Household-v0", "json+tagged", None),
        ("llm_gym/Household-v0", None, "made-up"),
    ]  # each shift alone: no warm cell meets both, so the base's "both" cell stays new


def test_an_arm_averages_its_training_seeds_record_by_record():
    from llm_gym.baselines.study import average_over_seeds

    def record(iteration, outcomes):
        return {
            "kind": "eval",
            "cell": "c",
            "iteration": iteration,
            "sampled_success": sum(outcomes) / len(outcomes),
            "sampled_outcomes": outcomes,
        }

    mean = average_over_seeds([[record(5, [1, 0, 1, 1])], [record(5, [0, 0, 1, 1])], [record(5, [1, 1, 1, 0])]])
    assert mean[0]["sampled_outcomes"] == pytest.approx([2 / 3, 1 / 3, 1, 2 / 3])
    assert mean[0]["sampled_success"] == pytest.approx(2 / 3)
    assert mean[0]["sampled_success_by_seed"] == [0.75, 0.5, 0.75]
    with pytest.raises(ValueError, match="different cells or iterations"):
        average_over_seeds([[record(5, [1])], [record(6, [1])]])
    with pytest.raises(ValueError, match="at least one"):
        StudyConfig(**{**MICRO, "train_seeds": ()})


def test_pass_at_k_reads_any_of_k_samples_and_needs_k_samples():
    from llm_gym.baselines.study import in_metric

    with pytest.raises(ValueError, match="eval_samples"):
        StudyConfig(**{**MICRO, "metric": "pass@k"})
    with pytest.raises(ValueError, match="metric"):
        StudyConfig(**{**MICRO, "metric": "partial"})
    config = StudyConfig(**{**MICRO, "metric": "pass@k", "trainer": {**MICRO["trainer"], "eval_samples": 3}})
    record = {
        "cell": "c",
        "iteration": 0,
        "sampled_success": 0.5,
        "sampled_outcomes": [1 / 3, 2 / 3],
        "sampled_pass_at_k": 1.0,
        "sampled_pass_outcomes": [1, 1],
    }
    (read,) = in_metric([record], config)
    assert (read["sampled_success"], read["sampled_outcomes"], read["sampled_mean_success"]) == (1.0, [1, 1], 0.5)
    assert in_metric([record], StudyConfig(**MICRO)) == [record]


def test_the_quick_preset_plans_one_family_with_a_start_that_met_each_shift():
    from llm_gym.baselines.study import shift_cells, warm_cells

    config = load_study_config(None, quick=True)
    assert set(plan_runs(config)) == {"base"} and len(config.train_seeds) == 2  # trained side by side
    seen = {(c.interface, c.semantics) for c in warm_cells(config)}
    assert seen == {(None, None), (config.interface_shift, None), (None, config.semantic_shift)}
    both = shift_cells(config)["both"]
    assert (both.interface, both.semantics) not in seen  # the combination stays new to the start
