"""Household variety: distinct goals per preset over 5,000 seeds, and the grounded world's size.

python benchmarks/variety_household.py [--seeds 5000]
"""

from __future__ import annotations

import argparse
from collections import Counter

from llm_gym.families.household import PRESETS, HouseholdEnv, generate_task


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5000)
    args = parser.parse_args()
    theme = HouseholdEnv.themes[0]
    kinds = Counter(HouseholdEnv.vocabulary(theme).values())
    relations = Counter(fact[0] for fact in HouseholdEnv.world_relations(theme))
    print(f"theme {theme}: {sum(kinds.values())} names, " + ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())))
    print(f"relations: {sum(relations.values())} facts, " + ", ".join(f"{n} {r}" for r, n in sorted(relations.items())))
    print(f"{'preset':8} {'distinct goals':>15} {'distinct structures':>20}  (over {args.seeds} seeds)")
    for preset, config in PRESETS.items():
        tasks = [generate_task(seed, config, theme) for seed in range(args.seeds)]
        goals, structures = len({t.goal_text for t in tasks}), len({t.structure for t in tasks})
        print(f"{preset:8} {goals:15,} {structures:20,}")


if __name__ == "__main__":
    main()
