"""Shop variety: distinct goals per preset over 5,000 task seeds, and the grounded world's size.

A goal is a task's ``goal_text`` (product type, attributes, options and price limit); the second
count leaves the price limit out. Also prints the grounded theme's names per kind and its
relations per type.

    python benchmarks/variety_shop.py [seeds]
"""

from __future__ import annotations

import collections
import logging
import sys

from llm_gym.families.shop import PRESETS, ShopEnv, generate_task, grounded_catalogue


def main(seeds: int = 5_000) -> None:
    logging.getLogger("bm25s").setLevel(logging.WARNING)
    catalogue = grounded_catalogue()
    kinds = collections.Counter(ShopEnv.vocabulary("shop").values())
    relations = collections.Counter(fact[0] for fact in ShopEnv.world_relations("shop"))
    print(
        f"grounded theme: {len(catalogue.departments)} departments, {len(catalogue.types)} product types, "
        f"{len(catalogue.dimensions)} option dimensions; {sum(kinds.values())} names in {len(kinds)} kinds; "
        f"{sum(relations.values())} relations in {len(relations)} types"
    )
    for kind in ("product type", "attribute", "brand", "department", "dimension"):
        print(f"  {kind}: {kinds.pop(kind)} names")
    print(f"  option values: {sum(kinds.values())} names in {len(kinds)} dimensions")
    print("  relations: " + ", ".join(f"{name} {count}" for name, count in sorted(relations.items())))
    for preset, config in PRESETS.items():
        goals, without_price, types = set(), set(), set()
        for seed in range(seeds):
            task = generate_task(seed, config, "shop")
            goals.add(task.goal_text)
            without_price.add((task.goal.product_type, task.goal.attributes, task.goal.options))
            types.add(task.goal.product_type)
        print(
            f"{preset:>6}: {len(goals)} distinct goals over {seeds} seeds "
            f"({len(without_price)} without the price limit; {len(types)} product types)"
        )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5_000)
