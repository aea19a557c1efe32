"""The README's main job on a fresh machine: ``llm-gym eval`` with an empty TextWorld cache.

The default grid (every family and preset, the random and oracle agents, 20 episodes) plays 80
TextWorld games, each made in 1-3 s as the env first resets to it. ``llm-gym eval`` makes the
grid's games in the background, one process per core, while the other families are evaluated
(TextWorld's cells come last); an env that reaches a game still being made waits for it.

This benchmark points ``LLM_GYM_TEXTWORLD_CACHE`` at a new, empty folder and times, wall clock,
in a fresh interpreter each (imports count, as on a fresh machine):

- ``eval``: ``llm-gym eval --quiet``, exactly as the README runs it;
- ``--baseline`` also times ``on-demand``: the same command with the background generation
  switched off, so each game is made when its env first plays it.

Target: under 3 minutes. Prints the load average: on a shared machine, other work slows both.

Run: python benchmarks/bench_first_run.py [--baseline] [--episodes 20]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ON_DEMAND = (
    "import sys; from llm_gym import cli; "
    "cli._generate_textworld_games_in_background = lambda cells, seeds: None; "
    "sys.exit(cli.main(sys.argv[1:]))"
)


def timed_eval(out: Path, episodes: int, on_demand: bool) -> float:
    """Wall-clock seconds of ``llm-gym eval`` in a fresh interpreter."""
    arguments = ["eval", "--out", str(out), "--episodes", str(episodes), "--quiet"]
    command = [sys.executable, "-c", ON_DEMAND, *arguments] if on_demand else ["llm-gym", *arguments]
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", action="store_true", help="also time the eval with games made on demand")
    parser.add_argument("--episodes", type=int, default=20, help="llm-gym eval's --episodes (default: its default)")
    args = parser.parse_args()
    print(f"{os.cpu_count()} cores, load average {' '.join(f'{load:.2f}' for load in os.getloadavg())}")
    runs = [("on-demand", True)] if args.baseline else []
    runs.append(("eval", False))
    for name, on_demand in runs:
        with tempfile.TemporaryDirectory(prefix="llm-gym-first-run-") as scratch:
            cache = Path(scratch) / "textworld"
            os.environ["LLM_GYM_TEXTWORLD_CACHE"] = str(cache)
            seconds = timed_eval(Path(scratch) / "out", args.episodes, on_demand)
            games = len(list(cache.glob("*/meta.json")))
            print(
                f"  {name:9s}: {seconds:6.1f} s wall, {games} TextWorld games generated (target < 180 s); "
                f"load average now {os.getloadavg()[0]:.2f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
