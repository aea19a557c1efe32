"""Does RL learn? Sampled success on 200 fixed eval seeds, warm start vs after 5 minutes of RL.

Builds the tiny offline model (copy-pretrained), warm-starts it by supervised steps on noisy
oracle episodes of one cell (default: TextCraft ``easy`` as shipped, unshaped, with its turn limit
cut from 30 to 8, the optimum being 2-3 steps), measures greedy and
sampled (T=1) success on 200 fixed eval seeds, then runs GRPO (training episodes end at their
first rejected reply, ``Args.end_on_invalid``) for ``--rl-seconds`` of training
(by default the CPU time of this process, so a shared machine's load does not shrink the budget;
evaluation excluded) and measures again. Prints both numbers, the gain, and the machine load.
``--warm-from <dir>/warm`` runs RL alone from an earlier run's warm start (to compare RL settings);
``--warm-worlds N`` warm-starts on N counterfactual worlds of the cell as well.

Run: ``python benchmarks/bench_trainer_learning.py [--env TextCraft] [--seed 0] [--rl-seconds 300]``
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="llm_gym/TextCraft-v0")
    parser.add_argument("--difficulty", default="easy")
    parser.add_argument("--rl-seconds", type=float, default=300.0)
    parser.add_argument("--out", default="runs/bench_learning")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--layers", type=int, default=3)
    parser.add_argument("--warm-steps", type=int, default=600)
    parser.add_argument("--warm-noise", type=float, default=0.1)
    parser.add_argument("--max-turns", type=int, default=8, help="0: the preset's (TextCraft easy: 30)")
    parser.add_argument("--distractors", type=int, help="TextCraft only; default: the preset's")
    parser.add_argument("--copy-steps", type=int, default=2400)
    parser.add_argument(
        "--warm-worlds",
        type=int,
        default=0,
        help="also warm-start on this many counterfactual worlds of the cell (semantics counterfactual@1..N), "
        "whose recipes differ, so that the model must read them rather than remember them",
    )
    parser.add_argument(
        "--warm-from",
        help="RL only, from a saved warm start (<out>/warm of an earlier run; the model flags are then ignored)",
    )
    parser.add_argument("--lr", type=float, default=3e-4)
    parser.add_argument("--groups", type=int, default=8)
    parser.add_argument("--group-size", type=int, default=8)
    parser.add_argument("--ppo-epochs", type=int, default=1, help="updates per rollout batch (PPO-clip past the first)")
    parser.add_argument(
        "--end-on-invalid",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="a training episode ends at its first rejected reply (evaluation plays whole episodes)",
    )
    parser.add_argument(
        "--rl-clock", choices=("cpu", "wall"), default="cpu", help="what --rl-seconds counts (cpu: steady when shared)"
    )
    options = parser.parse_args()
    if options.warm_from and Path(options.warm_from).resolve().is_relative_to(Path(options.out).resolve()):
        parser.error(f"--warm-from {options.warm_from} lies in --out {options.out}, which this run writes")

    from llm_gym.baselines.trainer import Args, Cell, train

    knobs = {} if options.distractors is None else {"distractors": options.distractors}
    cell = Cell(options.env, {"preset": options.difficulty, **knobs}, max_turns=options.max_turns or None)
    worlds = tuple(
        dataclasses.replace(cell, semantics=f"counterfactual@{w}") for w in range(1, options.warm_worlds + 1)
    )
    args = Args(
        out_dir=options.out,
        seed=options.seed,
        **({"model": options.warm_from, "instructions": "drop"} if options.warm_from else {}),
        tiny_hidden=options.hidden,
        tiny_layers=options.layers,
        tiny_copy_steps=options.copy_steps,
        cells=(cell,),
        warm_cells=(cell, *worlds) if worlds else (),
        eval_cells=(cell,),
        warm_steps=0 if options.warm_from else options.warm_steps,
        warm_noise=options.warm_noise,
        warm_batch=16,
        iterations=100_000,
        rl_time_limit_s=options.rl_seconds,
        rl_clock=options.rl_clock,
        groups=options.groups,
        group_size=options.group_size,
        lr=options.lr,
        ppo_epochs=options.ppo_epochs,
        end_on_invalid=options.end_on_invalid,
        max_new_tokens=32,
        eval_seeds=200,
        eval_every=100_000,
        checkpoint_every=100_000,
        progress=False,
    )
    load_before = os.getloadavg()
    started = time.perf_counter()
    summary = train(args)
    wall = time.perf_counter() - started
    first, last = summary["evals"][0], summary["evals"][-1]
    records = [json.loads(line) for line in open(os.path.join(options.out, "metrics.jsonl"))]
    warm_seconds = next(r["seconds"] for r in records if r["kind"] == "warm_done")
    if options.warm_from:
        print(f"cell: {cell.label}, seed {options.seed}, warm start loaded from {options.warm_from}")
    else:
        print(f"cell: {cell.label}, model hidden {options.hidden} x {options.layers} layers, seed {options.seed}")
        print(f"copy pretraining: {open(os.path.join(options.out, 'tiny', 'pretraining.json')).read()}")
        print(
            f"warm start: {options.warm_steps} supervised steps, noise {options.warm_noise}, "
            f"on the cell and {options.warm_worlds} counterfactual worlds of it, {warm_seconds:.0f}s"
        )
    print(
        f"RL: {summary['iteration']} GRPO iterations ({options.groups} groups x {options.group_size}, lr {options.lr}, "
        f"{options.ppo_epochs} update(s) each, training episodes "
        f"{'end at their first rejected reply' if options.end_on_invalid else 'played whole'}), "
        f"{summary['rl_cpu_seconds']:.0f} CPU-s / {summary['rl_seconds']:.0f} wall-s of training"
    )
    for mode in ("sampled", "greedy"):
        print(
            f"{mode:8s} success on 200 eval seeds: warm start {first[f'{mode}_success']:.3f} -> after RL "
            f"{last[f'{mode}_success']:.3f} (gain {last[f'{mode}_success'] - first[f'{mode}_success']:+.3f})"
        )
    print(
        f"parse errors per turn (sampled): {first['sampled_parse_error_rate']:.3f} -> {last['sampled_parse_error_rate']:.3f}"
    )
    print(
        f"wall time {wall:.0f}s; load average (1/5/15 min) before {load_before}, after {os.getloadavg()} on {os.cpu_count()} CPUs"
    )


if __name__ == "__main__":
    main()
