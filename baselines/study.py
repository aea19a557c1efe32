"""The study in one command: the three axes of arXiv 2603.12011, and the transfer gap split apart.

``run_study(config)`` trains with ``trainer.train`` and reads the evaluations it logs:

1. within-family difficulty: train on the base family's training preset and evaluate on every
   preset; curricula easy -> hard and hard -> easy;
2. cross-family transfer: train on each family, evaluate on all; held-in (the diagonal) and
   held-out (off the diagonal) deltas over each run's own warm start;
3. sequential training over the families, each phase evaluated on all of them (forgetting),
   against mixture training on the same families for the same number of iterations;
4. at the base family, shift only the interface, only the semantics (``made-up`` names by
   default), or both, on paired instances (the same evaluation seeds), and split the transfer gap
   into a semantic part, an interface part and their interaction, with ``llm_gym.shift``
   distances beside them. Where the family offers a ``counterfactual`` world, the semantic part
   splits further into prior consistency (grounded -> counterfactual: the same names, their
   meanings moved) and name familiarity (counterfactual -> made-up: the names themselves new).

As in the study, where every run fine-tuned the same instruct model, every RL run here starts from
one shared policy: a tiny model whose tokenizer was trained on the text of every cell, warm-started
by supervised steps on noisy oracle episodes of every family at the training preset. Deltas are
over that shared start. The report directory holds CSV tables, figures, each run's metrics and
curves, and ``report.md``.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import json
import time
from pathlib import Path
from typing import Any

from llm_gym.baselines import trainer
from llm_gym.baselines.cells import Cell

METRICS = ("success", "pass@k")
# which shifted cells the shared warm start plays besides every family's native cell
WARM_SHIFTS = ("none", "off-base", "everywhere")


@dataclasses.dataclass(frozen=True)
class StudyConfig:
    out_dir: str = "runs/study"
    seed: int = 0
    model: str = "tiny"  # the base model: "tiny" (built offline), a pretrained name ("smollm2") or a checkpoint dir
    base: str = "llm_gym/TextCraft-v0"  # the family of axes 1 and 4
    families: tuple[str, ...] = ("llm_gym/TextCraft-v0", "llm_gym/Household-v0", "llm_gym/BabyAI-v0")
    train_difficulty: str = "easy"
    difficulties: tuple[str, ...] = ("easy", "medium", "hard")  # axis 1; curricula go first <-> last
    interface_shift: str = "json+tagged"  # axis 4: an llm_gym.wrappers interface preset
    semantic_shift: str = "made-up"  # axis 4: a semantics of the base family (llm_gym.wrappers presets)
    knobs: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)  # per family, over every preset
    max_turns: dict[str, int | dict[str, int]] = dataclasses.field(
        default_factory=dict
    )  # per family, or per family and preset
    trainer: dict[str, Any] = dataclasses.field(default_factory=dict)  # trainer.Args fields for every run
    shift_episodes: int = 4
    warm_on_shifts: str = "none"  # none, off-base or everywhere: where the shared warm start meets each shift alone
    train_seeds: tuple[int, ...] = (0, 1, 2)  # RL seeds of every arm, from the one shared warm start
    metric: str = "success"  # what the tables compare: sampled "success", or "pass@k" (k = trainer eval_samples)
    curricula: bool = True  # axis 1's two curriculum arms (first -> last difficulty and back)
    workers: int = 1  # trainings (arm x seed) at once, each its own process; 0: one per CPU core (CPU only)

    def __post_init__(self):
        import llm_gym

        ids = llm_gym.env_ids()
        object.__setattr__(self, "families", tuple(self.families))
        object.__setattr__(self, "difficulties", tuple(self.difficulties))
        object.__setattr__(self, "train_seeds", tuple(self.train_seeds))
        if not self.train_seeds or len(set(self.train_seeds)) < len(self.train_seeds):
            raise ValueError(f"train_seeds must be distinct and at least one; got {list(self.train_seeds)}")
        for family in (self.base, *self.families, *self.knobs, *self.max_turns):
            if family not in ids:
                raise ValueError(f"Unknown environment {family!r} in the study config; allowed: {ids}")
        if self.base not in self.families:
            raise ValueError(f"base {self.base!r} must be one of families {list(self.families)}")
        presets = list(llm_gym.registry.env_class(self.base).presets)
        for preset in (self.train_difficulty, *self.difficulties):
            if preset not in presets:
                raise ValueError(f"Unknown difficulty {preset!r} for {self.base}; allowed: {presets}")
        try:
            llm_gym.make(self.base, semantics=self.semantic_shift).close()
        except ValueError as error:
            raise ValueError(
                f"semantic_shift {self.semantic_shift!r} is not a semantics of {self.base}: {error}"
            ) from error
        if self.warm_on_shifts not in WARM_SHIFTS:
            raise ValueError(f"warm_on_shifts {self.warm_on_shifts!r} is invalid; allowed: {list(WARM_SHIFTS)}")
        if not isinstance(self.curricula, bool):
            raise ValueError(f"curricula must be true or false; got {self.curricula!r}")
        if not isinstance(self.workers, int) or isinstance(self.workers, bool) or self.workers < 0:
            raise ValueError(f"workers must be a whole number >= 0 (0: one per CPU core); got {self.workers!r}")
        if self.metric not in METRICS:
            raise ValueError(f"metric {self.metric!r} is invalid; allowed: {list(METRICS)}")
        if self.metric == "pass@k" and self.trainer.get("eval_samples", 1) < 2:
            raise ValueError("metric 'pass@k' needs [trainer] eval_samples = k >= 2 sampled episodes per eval seed")
        reserved = sorted(set(self.trainer) & {"out_dir", "cells", "phases", "eval_cells", "model", "resume"})
        if reserved:
            raise ValueError(f"the study sets trainer keys {reserved} itself; remove them from [trainer]")
        trainer.Args.from_dict({**self.trainer, "cells": [self.base]})  # validates the shared settings

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> StudyConfig:
        allowed = [field.name for field in dataclasses.fields(cls)]
        unknown = sorted(set(values) - set(allowed))
        if unknown:
            raise ValueError(f"unknown study key(s) {unknown}; allowed: {allowed}")
        return cls(**values)


QUICK = {  # one family and no curricula: axis 1's base arm and axis 4; measured in docs/study.md
    "base": "llm_gym/BabyAI-v0",
    "families": ("llm_gym/BabyAI-v0",),
    "difficulties": ("easy", "medium"),
    "max_turns": {"llm_gym/BabyAI-v0": {"easy": 8, "medium": 30}},  # medium: up to 24 steps in 6,000 seeds
    "warm_on_shifts": "everywhere",
    "trainer": {
        "tiny_hidden": 64,
        "tiny_layers": 2,
        "tiny_vocab": 512,
        "tiny_copy_steps": 1200,
        "warm_steps": 400,
        "warm_batch": 16,
        "warm_noise": 0.1,
        "microbatch": 4,
        "lr": 1e-3,
        "iterations": 45,
        "groups": 8,
        "group_size": 8,
        "eval_seeds": 200,
        "eval_greedy": False,  # the tables read sampled success; greedy would double every evaluation
        "eval_every": 1000,
        "checkpoint_every": 1000,
        "max_new_tokens": 24,
        "progress": False,
        "plot": True,
    },
    "shift_episodes": 2,
    "train_seeds": (0, 1),  # trained side by side, one per core
    "curricula": False,
    "workers": 0,
}


# ----- cells and runs ---------------------------------------------------------------------------


def cell(
    config: StudyConfig, family: str, preset: str, interface: str | None = None, semantics: str | None = None
) -> Cell:
    knobs = config.knobs.get(family)
    difficulty: Any = {"preset": preset, **knobs} if knobs else preset
    turns = config.max_turns.get(family)
    if isinstance(turns, dict):
        turns = turns.get(preset)
    return Cell(env_id=family, difficulty=difficulty, interface=interface, semantics=semantics, max_turns=turns)


def shift_cells(config: StudyConfig) -> dict[str, Cell]:
    """The cells of axis 4: (interface, semantics) each native or shifted, and the counterfactual
    world where the base family offers one (and the semantic shift is not already it)."""
    import llm_gym

    base = config.train_difficulty
    cells = {
        "native": cell(config, config.base, base),
        "semantic": cell(config, config.base, base, semantics=config.semantic_shift),
        "interface": cell(config, config.base, base, interface=config.interface_shift),
        "both": cell(config, config.base, base, interface=config.interface_shift, semantics=config.semantic_shift),
    }
    family = llm_gym.registry.env_class(config.base)
    if family.vocabulary(family.themes[0]) and not config.semantic_shift.startswith("counterfactual"):
        cells["counterfactual"] = cell(config, config.base, base, semantics="counterfactual")
    return cells


def warm_cells(config: StudyConfig) -> list[Cell]:
    """The cells of the shared warm start: every family at the training preset and, by
    ``warm_on_shifts``, the interface shift and the semantic shift, each alone (where the family
    offers that semantics), on every family but the base (``off-base``) or on every family
    (``everywhere``). No warm cell meets both shifts at once. With ``off-base`` the base family's
    shifted cells are new combinations of an interface or semantics seen elsewhere and a family
    seen natively, as for a pretrained model; with ``everywhere`` only its ``both`` cell is, and
    the gap split measures how RL on the native cell carries to shifts the start already handles
    (a tiny model trained on the native cells alone scores zero on every shifted cell, and the
    split then measures nothing)."""
    import llm_gym

    train = config.train_difficulty
    cells = [cell(config, family, train) for family in config.families]
    if config.warm_on_shifts == "none":
        return cells
    for family in config.families:
        if family == config.base and config.warm_on_shifts == "off-base":
            continue
        cells.append(cell(config, family, train, interface=config.interface_shift))
        try:
            llm_gym.make(family, semantics=config.semantic_shift).close()
        except ValueError:  # the family has no such semantics: it warms up on the interface alone
            continue
        cells.append(cell(config, family, train, semantics=config.semantic_shift))
    return cells


def plan_runs(config: StudyConfig) -> dict[str, dict[str, Any]]:
    """Every training run of the study, as trainer settings (without paths)."""
    iterations = config.trainer.get("iterations", trainer.Args.iterations)
    train = config.train_difficulty
    first, last = config.difficulties[0], config.difficulties[-1]
    by_preset = [cell(config, config.base, p) for p in config.difficulties]
    everywhere = [cell(config, f, train) for f in config.families]
    shifted = list(shift_cells(config).values())[1:]
    runs: dict[str, dict[str, Any]] = {
        # the base run serves axes 1, 2 and 4 at once
        "base": {"cells": [cell(config, config.base, train)], "eval_cells": _unique(by_preset + everywhere + shifted)},
    }
    if config.curricula:
        for name, (start, end) in (("curriculum_up", (first, last)), ("curriculum_down", (last, first))):
            runs[name] = {
                "phases": [
                    {"iterations": max(1, iterations // 2), "cells": [cell(config, config.base, start)]},
                    {"iterations": max(1, iterations - iterations // 2), "cells": [cell(config, config.base, end)]},
                ],
                "eval_cells": by_preset,
            }
    if len(config.families) < 2:  # axes 2 and 3 compare families: with one, their runs would repeat "base"
        return runs
    for family in config.families:
        if family != config.base:
            runs[f"transfer_{_short(family)}"] = {"cells": [cell(config, family, train)], "eval_cells": everywhere}
    runs["sequential"] = {
        "phases": [{"iterations": iterations, "cells": [c]} for c in everywhere],
        "eval_cells": everywhere,
    }
    runs["mixture"] = {"cells": everywhere, "iterations": iterations * len(everywhere), "eval_cells": everywhere}
    return runs


def _unique(cells: list[Cell]) -> list[Cell]:
    return list(dict.fromkeys(cells))


def _short(family: str) -> str:
    return family.split("/")[-1].removesuffix("-v0")


def build_base_model(config: StudyConfig, out: Path) -> Path:
    """One tiny model for every run, its tokenizer trained on the text of every cell of the study."""
    from llm_gym.baselines.tiny import build_tiny, env_corpus

    if config.model != "tiny":
        from llm_gym.baselines.models import resolve_model

        return resolve_model(config.model)
    path = out / "base_model"
    if (path / "config.json").is_file():
        return path
    settings = trainer.Args.from_dict({**config.trainer, "cells": [config.base]})
    cells = _unique([c for run in plan_runs(config).values() for c in _run_cells(run)] + warm_cells(config))
    envs = [trainer.make_env(c) for c in cells]
    corpus = env_corpus(envs, 20, seed=config.seed)
    for env in envs:
        env.close()
    return build_tiny(
        path,
        corpus,
        vocab_size=settings.tiny_vocab,
        seed=config.seed,
        copy_steps=settings.tiny_copy_steps,
        hidden=settings.tiny_hidden,
        layers=settings.tiny_layers,
    )


def _run_cells(run: dict[str, Any]) -> list[Cell]:
    cells = list(run.get("cells", [])) + list(run.get("eval_cells", []))
    for phase in run.get("phases", []):
        cells += phase["cells"]
    return cells


def load_study_config(path: str | Path | None, quick: bool = False, out_dir: str | None = None) -> StudyConfig:
    """The study settings: the ``--quick`` preset or the defaults, then a TOML/YAML file over them."""
    from llm_gym.baselines.train_cli import load_config

    values: dict[str, Any] = dict(QUICK) if quick else {}
    if path is not None:
        loaded = load_config(path)
        values.update({k: v for k, v in loaded.items() if k != "trainer"})
        values["trainer"] = {**values.get("trainer", {}), **loaded.get("trainer", {})}
    if out_dir is not None:
        values["out_dir"] = out_dir
    return StudyConfig.from_dict(values)


def run_study(config: StudyConfig, progress: bool = True) -> Path:
    """Warm-start once, train every RL run from there (finished runs are reused), then write the
    tables, figures and report."""
    out = Path(config.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "study.json").write_text(json.dumps(dataclasses.asdict(config), indent=1))
    started = time.perf_counter()

    def say(message: str) -> None:
        if progress:
            print(f"{message} ({time.perf_counter() - started:.0f}s)", flush=True)

    runs = plan_runs(config)
    warm, warm_evals = _warm_start(config, runs, out, say)
    trained = _train_runs(config, runs, warm, out, say)
    evals: dict[str, list[dict[str, Any]]] = {}
    for name, run in runs.items():
        labels = {c.label for c in run["eval_cells"]}  # the shared start, evaluated once, is every run's iteration 0
        by_seed = [trained[name, seed] for seed in config.train_seeds]
        evals[name] = [r for r in warm_evals if r["cell"] in labels] + average_over_seeds(by_seed)
    report = write_report(config, runs, evals, out)
    say(f"study done: {report}")
    return report


def _warm_start(config: StudyConfig, runs: dict[str, dict[str, Any]], out: Path, say) -> tuple[Path, list[dict]]:
    """The shared warm start's checkpoint and its eval records on every cell any run evaluates
    (one job per cell)."""
    shifts = f" and {config.interface_shift}, {config.semantic_shift} {config.warm_on_shifts}"
    say(
        f"shared warm start on {', '.join(map(_short, config.families))}"
        + (shifts if config.warm_on_shifts != "none" else "")
    )
    cells = _unique([c for run in runs.values() for c in run["eval_cells"]])
    # nothing runs beside these two serial steps: they take the threads of every worker
    threads = int(config.trainer.get("threads", trainer.Args.threads)) * workers_for(config)
    warm_run = {"cells": warm_cells(config), "iterations": 0, "eval_cells": cells, "eval_at_start": False}
    with _torch_threads(threads):
        _train_once(config, {**warm_run, "threads": threads}, out / "runs" / "warm", build_base_model(config, out))
    warm = out / "runs" / "warm" / "warm"
    jobs = {c.label: (_evaluate_once, (config, c, warm, out / "runs" / "warm" / "evals")) for c in cells}
    say(f"evaluating the warm start on {len(jobs)} cells, {workers_for(config, len(jobs))} at a time")
    by_cell = dict(_run_jobs(config, jobs))
    return warm, in_metric([record for c in cells for record in by_cell[c.label]], config)


def _train_runs(
    config: StudyConfig, runs: dict[str, dict[str, Any]], warm: Path, out: Path, say
) -> dict[tuple[str, int], list[dict[str, Any]]]:
    """Every (arm, training seed) run from the warm start: its eval records, in the study's metric."""
    jobs = {
        (name, seed): (
            _train_once,
            (
                config,
                {**run, "warm_steps": 0, "eval_at_start": False},
                out / "runs" / name / f"seed-{seed}",
                warm,
                seed,
            ),
        )
        for name, run in runs.items()
        for seed in config.train_seeds
    }
    say(f"training {len(jobs)} runs, {workers_for(config, len(jobs))} at a time")
    trained = {}
    for done, ((name, seed), records) in enumerate(_run_jobs(config, jobs), start=1):
        trained[name, seed] = in_metric(records, config)
        say(f"[{done}/{len(jobs)}] {name} seed {seed} done")
    return trained


@contextlib.contextmanager
def _torch_threads(count: int):
    """Run the block with ``count`` torch threads, then restore the caller's."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def workers_for(config: StudyConfig, jobs: int | None = None) -> int:
    """How many jobs run at once: ``config.workers``, never more than there are ``jobs``. 0 means
    one per CPU core at the trainer's thread count, or 1 where the trainer would use a GPU (the
    processes would share it)."""
    import os

    import torch

    if config.workers:
        wanted = config.workers
    elif config.trainer.get("device", trainer.Args.device) != "cpu" and torch.cuda.is_available():
        wanted = 1
    else:
        wanted = (os.cpu_count() or 1) // int(config.trainer.get("threads", trainer.Args.threads))
    return max(1, min(wanted, jobs if jobs is not None else wanted))


def _run_jobs(config: StudyConfig, jobs: dict[Any, tuple[Any, tuple]]):
    """Yield ``(key, function(*arguments))`` for every ``key: (function, arguments)`` of ``jobs``
    as it finishes: in this process one after another with one worker, else in a pool of spawned
    processes (each run is seeded, so the results do not depend on the worker count)."""
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from multiprocessing import get_context

    workers = workers_for(config, len(jobs))
    if workers == 1:
        for key, (function, arguments) in jobs.items():
            yield key, function(*arguments)
        return
    pool = ProcessPoolExecutor(workers, mp_context=get_context("spawn"))
    try:
        futures = {pool.submit(function, *arguments): key for key, (function, arguments) in jobs.items()}
        for future in as_completed(futures):
            yield futures[future], future.result()
    finally:
        pool.shutdown(cancel_futures=True)


def _evaluate_once(config: StudyConfig, cell: Cell, policy: Path, records_dir: Path) -> list[dict[str, Any]]:
    """The eval records of ``policy`` on ``cell``, as a run starting from it logs at iteration 0."""
    done = records_dir / f"{cell.label}.json"
    if done.is_file():
        return json.loads(done.read_text())
    settings = _trainer_settings(config, {"cells": [cell], "eval_cells": [cell]}, policy, config.seed)
    records = trainer.evaluate_policy(trainer.Args.from_dict(settings))
    records_dir.mkdir(parents=True, exist_ok=True)
    _write_done(done, records)
    return records


def _write_done(path: Path, records: list[dict[str, Any]]) -> None:
    """Write a finished job's records whole or not at all (renamed into place), since a rerun
    trusts any file it finds."""
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(records))
    partial.replace(path)


def _train_once(
    config: StudyConfig, run: dict[str, Any], run_dir: Path, model: Path, seed: int | None = None
) -> list[dict[str, Any]]:
    done = run_dir / "evals.json"
    if done.is_file():
        return json.loads(done.read_text())
    settings = _trainer_settings(config, {**run, "out_dir": str(run_dir)}, model, config.seed if seed is None else seed)
    summary = trainer.train(trainer.Args.from_dict(settings))
    _write_done(done, summary["evals"])
    return summary["evals"]


def _trainer_settings(config: StudyConfig, run: dict[str, Any], model: Path, seed: int) -> dict[str, Any]:
    """``trainer.Args`` fields of one job: the study's shared trainer settings under the job's own."""
    instructions = "drop" if config.model == "tiny" else "keep"
    return {"instructions": instructions, **config.trainer, **run, "model": str(model), "seed": seed}


def in_metric(records: list[dict[str, Any]], config: StudyConfig) -> list[dict[str, Any]]:
    """The eval records with the study's metric as their sampled success and per-seed outcomes:
    for ``pass@k``, whether any of a seed's k sampled episodes succeeded (the mean over the k stays
    as ``sampled_mean_success``)."""
    if config.metric == "success":
        return records
    return [
        {
            **r,
            "sampled_mean_success": r["sampled_success"],
            "sampled_success": r["sampled_pass_at_k"],
            "sampled_outcomes": r["sampled_pass_outcomes"],
        }
        for r in records
    ]


def average_over_seeds(runs: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """One arm's evaluation records, each the mean over the arm's training seeds: numbers are
    averaged, and ``sampled_outcomes`` per evaluation seed, so paired deltas stay paired (each
    evaluation seed's outcome is its success rate over the training seeds). The per-seed sampled
    success is kept as ``sampled_success_by_seed``.

    Example:
        >>> first = [{"kind": "eval", "cell": "c", "iteration": 4, "sampled_success": 0.5, "sampled_outcomes": [1, 0]}]
        >>> second = [{"kind": "eval", "cell": "c", "iteration": 4, "sampled_success": 1.0, "sampled_outcomes": [1, 1]}]
        >>> average_over_seeds([first, second])[0]["sampled_outcomes"]
        [1.0, 0.5]
    """
    if len({len(records) for records in runs}) != 1:
        raise ValueError(f"the training seeds of an arm evaluated different schedules: {[len(r) for r in runs]}")
    averaged = []
    for records in zip(*runs):
        keys = [(r["cell"], r["iteration"], r.get("phase")) for r in records]
        if len(set(keys)) != 1:
            raise ValueError(f"the training seeds of an arm evaluated different cells or iterations: {keys}")
        mean = dict(records[0])
        for key, value in records[0].items():
            if key in ("iteration", "phase") or isinstance(value, (str, bool)):
                continue
            if isinstance(value, (int, float)):
                mean[key] = sum(r[key] for r in records) / len(records)
            elif isinstance(value, list):
                mean[key] = [sum(column) / len(records) for column in zip(*(r[key] for r in records))]
        mean["sampled_success_by_seed"] = [r["sampled_success"] for r in records]
        averaged.append(mean)
    return averaged


# ----- tables -----------------------------------------------------------------------------------


def success(
    evals: list[dict[str, Any]], label: str, iteration: int | None = None, phase: int | None = None
) -> dict[str, float]:
    """Sampled and (where evaluated) greedy success of a cell at an iteration (default: the
    last), or at a phase end."""
    rows = [r for r in evals if r["cell"] == label]
    if phase is not None:
        rows = [r for r in rows if r.get("phase") == phase]
    elif iteration is not None:
        rows = [r for r in rows if r["iteration"] == iteration]
    row = max(rows, key=lambda r: r["iteration"])
    return {"sampled": row["sampled_success"], **({"greedy": row["greedy_success"]} if "greedy_success" in row else {})}


def outcomes(evals: list[dict[str, Any]], label: str, iteration: int | None = None) -> list[float]:
    """Per evaluation seed, the sampled episode's success (averaged over an arm's training seeds),
    at an iteration (default: the last)."""
    return _last(evals, label, iteration)["sampled_outcomes"]


def _last(evals: list[dict[str, Any]], label: str, iteration: int | None = None) -> dict[str, Any]:
    """A cell's last eval record (at ``iteration``, where given)."""
    rows = [r for r in evals if r["cell"] == label and (iteration is None or r["iteration"] == iteration)]
    return max(rows, key=lambda r: r["iteration"])


def paired_ci(differences: list[float], z: float = 1.96) -> float:
    """The half-width of the normal-approximation confidence interval (95% at ``z = 1.96``) of the
    mean of per-seed ``differences``: paired instances, so task difficulty cancels.

    Example:
        >>> round(paired_ci([1, 0, 1, 1, 0, 1, 0, 1]), 3)
        0.359
    """
    n = len(differences)
    if n < 2:
        return float("nan")
    mean = sum(differences) / n
    variance = sum((d - mean) ** 2 for d in differences) / (n - 1)
    return z * (variance / n) ** 0.5


def _differences(a: list[float], b: list[float]) -> list[float]:
    return [float(x - y) for x, y in zip(a, b)]


def change_over_warm(evals: list[dict[str, Any]], label: str, iteration: int | None = None) -> list[float]:
    """Per evaluation seed, a cell's outcome at ``iteration`` (default: the last) minus the shared
    warm start's (iteration 0): the paired change a delta and its interval are read from."""
    return _differences(outcomes(evals, label, iteration), outcomes(evals, label, 0))


def difficulty_table(config, runs, evals) -> list[dict[str, Any]]:
    table = []
    first, last = config.difficulties[0], config.difficulties[-1]
    regimes = [
        ("warm start", "base", 0),
        (f"RL on {config.train_difficulty}", "base", None),
        (f"curriculum {first}->{last}", "curriculum_up", None),
        (f"curriculum {last}->{first}", "curriculum_down", None),
    ]
    regimes = [regime for regime in regimes if regime[1] in runs]
    labels = {preset: cell(config, config.base, preset).label for preset in config.difficulties}
    for regime, run, iteration in regimes:
        row: dict[str, Any] = {"regime": regime}
        for preset, label in labels.items():
            row[preset] = success(evals[run], label, iteration)["sampled"]
        for preset, label in labels.items():  # the change over the shared start, paired seed by seed
            paired = change_over_warm(evals[run], label, iteration)
            row[f"delta_{preset}"] = sum(paired) / len(paired)
            row[f"delta_{preset}_ci"] = paired_ci(paired)
        table.append(row)
    return table


def _difficulty_markdown(config: StudyConfig, table: list[dict[str, Any]]) -> str:
    """The success table, then each regime's change over the warm start with its 95% interval."""
    values = [{k: row[k] for k in ("regime", *config.difficulties)} for row in table]
    deltas = [
        {"change over the warm start": row["regime"], **{p: _ci(row, f"delta_{p}") for p in config.difficulties}}
        for row in table[1:]
    ]
    return f"{_markdown(values)}\n\n{_markdown(deltas)}"


def transfer_table(config, runs, evals) -> tuple[list[dict[str, Any]], dict[str, float]]:
    table, held_in, held_out = [], [], []
    for train_family in config.families:
        run = "base" if train_family == config.base else f"transfer_{_short(train_family)}"
        for test_family in config.families:
            label = cell(config, test_family, config.train_difficulty).label
            warm = success(evals[run], label, 0)["sampled"]
            final = success(evals[run], label)["sampled"]
            table.append(
                {
                    "train": _short(train_family),
                    "test": _short(test_family),
                    "warm": warm,
                    "final": final,
                    "delta": final - warm,
                    "final_by_seed": " ".join(f"{x:.3f}" for x in _last(evals[run], label)["sampled_success_by_seed"]),
                }
            )
            paired = change_over_warm(evals[run], label)
            table[-1]["delta_ci"] = paired_ci(paired)
            (held_in if train_family == test_family else held_out).append(paired)
    summary = {
        "held_in_delta": _mean([sum(d) / len(d) for d in held_in]),
        "held_in_delta_ci": paired_ci([x for d in held_in for x in d]),
        "held_out_delta": _mean([sum(d) / len(d) for d in held_out]),
        "held_out_delta_ci": paired_ci([x for d in held_out for x in d]),
    }
    return table, summary


def sequential_table(config, runs, evals) -> list[dict[str, Any]]:
    table = []
    labels = {f: cell(config, f, config.train_difficulty).label for f in config.families}
    for phase, trained in enumerate(config.families):
        row: dict[str, Any] = {"after": f"phase {phase + 1}: {_short(trained)}"}
        for family, label in labels.items():
            row[_short(family)] = success(evals["sequential"], label, phase=phase)["sampled"]
        table.append(row)
    table.append(
        {"after": "mixture", **{_short(f): success(evals["mixture"], label)["sampled"] for f, label in labels.items()}}
    )
    forgetting = {"after": "forgetting (best - final)"}
    for family in config.families:
        column = [row[_short(family)] for row in table[: len(config.families)]]
        forgetting[_short(family)] = max(column) - column[-1]
    table.append(forgetting)
    return table


def shift_table(config, evals) -> tuple[list[dict[str, Any]], dict[str, float]]:
    from llm_gym.shift import EnvConfig, distance

    cells = shift_cells(config)
    rows, final = [], {}
    reference = EnvConfig(config.base, difficulty=cells["native"].difficulty)
    for name, shifted in cells.items():
        measured = success(evals["base"], shifted.label)
        warm = success(evals["base"], shifted.label, 0)["sampled"]
        target = EnvConfig(
            config.base, difficulty=shifted.difficulty, interface=shifted.interface, semantics=shifted.semantics
        )
        report = distance(reference, target, episodes=config.shift_episodes, seed=config.seed)
        final[name] = measured["sampled"]
        rows.append(
            {
                "cell": name,
                "interface": shifted.interface or "native",
                "semantics": shifted.semantics or "grounded",
                "warm": warm,
                "final": measured["sampled"],
                "delta": measured["sampled"] - warm,
                "delta_ci": paired_ci(change_over_warm(evals["base"], shifted.label)),
                **({"greedy": measured["greedy"]} if "greedy" in measured else {}),  # where evaluated
                "semantic_distance": report.semantic,
                "knowledge_distance": report.knowledge,
                "interface_distance": report.interface,
            }
        )
    gap = {
        "total_gap": final["native"] - final["both"],
        "semantic_part": final["native"] - final["semantic"],
        "interface_part": final["native"] - final["interface"],
    }
    gap["interaction"] = gap["total_gap"] - gap["semantic_part"] - gap["interface_part"]
    if "counterfactual" in final:  # semantic_part = prior_consistency + name_familiarity
        gap["prior_consistency"] = final["native"] - final["counterfactual"]
        gap["name_familiarity"] = final["counterfactual"] - final["semantic"]
    seen = {name: outcomes(evals["base"], shifted.label) for name, shifted in cells.items()}
    per_seed = {  # each part's difference on each evaluation seed (the same seeds in every cell)
        "total_gap": _differences(seen["native"], seen["both"]),
        "semantic_part": _differences(seen["native"], seen["semantic"]),
        "interface_part": _differences(seen["native"], seen["interface"]),
    }
    per_seed["interaction"] = [
        t - s - i for t, s, i in zip(per_seed["total_gap"], per_seed["semantic_part"], per_seed["interface_part"])
    ]
    if "counterfactual" in seen:
        per_seed["prior_consistency"] = _differences(seen["native"], seen["counterfactual"])
        per_seed["name_familiarity"] = _differences(seen["counterfactual"], seen["semantic"])
    gap.update({f"{part}_ci": paired_ci(values) for part, values in per_seed.items()})
    return rows, gap


def _metric_words(config: StudyConfig) -> str:
    if config.metric == "pass@k":
        return f"pass@{config.trainer['eval_samples']} (any of {config.trainer['eval_samples']} sampled episodes at temperature 1)"
    return "sampled success (temperature 1)"


def _ci(values: dict[str, float], key: str) -> str:
    return f"{values[key]:+.3f} ± {values[key + '_ci']:.3f}"


def _semantic_split(gap: dict[str, float]) -> str:
    if "prior_consistency" not in gap:
        return ""
    return (
        f"\nThe semantic part {_ci(gap, 'semantic_part')} = prior consistency {_ci(gap, 'prior_consistency')} "
        f"(grounded -> counterfactual) + name familiarity {_ci(gap, 'name_familiarity')} (counterfactual -> made-up).\n"
    )


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else float("nan")


def _write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def _markdown(rows: list[dict[str, Any]]) -> str:
    head = list(rows[0])
    cell_text = lambda v: f"{v:.3f}" if isinstance(v, float) else str(v)  # noqa: E731
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(cell_text(row[k]) for k in head) + " |" for row in rows]
    return "\n".join(lines)


# ----- figures and report -----------------------------------------------------------------------


_ONE_FAMILY = """## 2-3. Cross-family transfer and sequential training

Not run: the study has one family, and these axes compare families.
"""


def _family_sections(tables: dict[str, list[dict[str, Any]]], summary: dict[str, float]) -> str:
    return f"""## 2. Cross-family transfer (delta = final - warm start of the same run)

{_markdown(tables["transfer"])}

Held-in mean delta {_ci(summary, "held_in_delta")}; held-out mean delta {_ci(summary, "held_out_delta")}.

![transfer](transfer.png)

## 3. Sequential training and forgetting, against mixture

{_markdown(tables["sequential"])}

![sequential](sequential.png)
"""


def _plot_families(
    transfer: list[dict[str, Any]], sequential: list[dict[str, Any]], names: list[str], out: Path
) -> None:
    """The figures of axes 2 and 3: the transfer matrix and success after each sequential phase."""
    import matplotlib.pyplot as plt

    matrix = [[next(r["delta"] for r in transfer if r["train"] == a and r["test"] == b) for b in names] for a in names]
    fig, ax = plt.subplots(figsize=(1.4 + 1.1 * len(names), 1.2 + 1.0 * len(names)))
    image = ax.imshow(matrix, cmap="RdBu", vmin=-1, vmax=1)
    ax.set_xticks(range(len(names)), names, rotation=30)
    ax.set_yticks(range(len(names)), names)
    ax.set_xlabel("evaluated on")
    ax.set_ylabel("trained on")
    for i, row in enumerate(matrix):
        for j, value in enumerate(row):
            ax.text(j, i, f"{value:+.2f}", ha="center", va="center", fontsize=8)
    fig.colorbar(image, ax=ax, label="success delta over warm start")
    fig.tight_layout()
    fig.savefig(out / "transfer.png", dpi=100)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(5, 3.2))
    phases = [row["after"] for row in sequential[: len(names)]]
    for name in names:
        ax.plot(range(1, len(phases) + 1), [row[name] for row in sequential[: len(names)]], marker="o", label=name)
        ax.axhline(sequential[len(names)][name], linestyle="--", linewidth=0.8, color=ax.lines[-1].get_color())
    ax.set_xticks(range(1, len(phases) + 1), [f"after {i + 1}" for i in range(len(phases))])
    ax.set_ylabel("sampled success (dashed: mixture)")
    ax.set_ylim(-0.02, 1.02)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "sequential.png", dpi=100)
    plt.close(fig)


def write_report(config: StudyConfig, runs, evals, out: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    difficulty = difficulty_table(config, runs, evals)
    shift, gap = shift_table(config, evals)
    tables = {"difficulty": difficulty, "shift": shift}
    transfer_summary: dict[str, float] = {}
    if "sequential" in runs:  # axes 2 and 3: two families or more
        tables["transfer"], transfer_summary = transfer_table(config, runs, evals)
        tables["sequential"] = sequential_table(config, runs, evals)
    for name, rows in tables.items():
        _write_csv(out / f"{name}.csv", rows)
    _write_csv(out / "gap.csv", [{**gap, **transfer_summary}])

    fig, ax = plt.subplots(figsize=(5, 3.2))
    for row in difficulty:
        ax.plot(config.difficulties, [row[p] for p in config.difficulties], marker="o", label=row["regime"])
    ax.set_ylabel("sampled success")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title(f"{_short(config.base)}: difficulty")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "difficulty.png", dpi=100)
    plt.close(fig)

    names = [_short(f) for f in config.families]
    if "sequential" in runs:
        _plot_families(tables["transfer"], tables["sequential"], names, out)

    fig, ax = plt.subplots(figsize=(4.5, 3))
    parts = ["semantic_part", "interface_part", "interaction", "total_gap"]
    ax.bar(
        [p.removesuffix("_part").replace("_", " ") for p in parts],
        [gap[p] for p in parts],
        color=["tab:orange", "tab:blue", "tab:gray", "black"],
    )
    ax.axhline(0, color="black", linewidth=0.6)
    ax.set_ylabel("success lost")
    ax.set_title(f"{_short(config.base)}: the transfer gap, split")
    fig.tight_layout()
    fig.savefig(out / "gap.png", dpi=100)
    plt.close(fig)

    text = f"""# llm-gym study report

Base family {config.base}, trained at `{config.train_difficulty}`; families {", ".join(names)}.
Every RL run starts from one shared warm start (supervised steps on noisy oracle episodes of every
family at `{config.train_difficulty}`), as every run of the study fine-tuned one base model.
Success is {_metric_words(config)} on the trainer's fixed evaluation seeds, disjoint from
training seeds and shared by every cell (paired instances). Each arm trains with RL seeds
{list(config.train_seeds)} from that start; a figure is their mean (`final_by_seed`: each seed's), and a
confidence interval is over the evaluation seeds of those means. Trainer settings: `{json.dumps(config.trainer)}`.

## 1. Difficulty within {_short(config.base)}

{_difficulty_markdown(config, difficulty)}

![difficulty](difficulty.png)

{_family_sections(tables, transfer_summary) if "sequential" in runs else _ONE_FAMILY}
## 4. Interface and semantic shift at {_short(config.base)}: the gap split

Interface shift `{config.interface_shift}`, semantic shift `{config.semantic_shift}`.

{_markdown(shift)}

Total gap {_ci(gap, "total_gap")} = semantic {_ci(gap, "semantic_part")} + interface {_ci(gap, "interface_part")} + interaction {_ci(gap, "interaction")} (each with its 95% paired confidence interval).
{_semantic_split(gap)}
![gap](gap.png)

Each run's metrics (`metrics.jsonl`) and learning curves (`curves.png`) are under `runs/<name>/seed-<k>/` (the shared start: `runs/warm/`).
"""
    report = out / "report.md"
    report.write_text(text)
    return report
