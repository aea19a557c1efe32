"""TextCraft variety: distinct goals per preset over 5,000 seeds, and the size of the Minecraft world.

python benchmarks/variety_textcraft.py
"""

from __future__ import annotations

from collections import Counter

from llm_gym.families.textcraft import PRESETS, TextCraftEnv, generate_task, minecraft_world

SEEDS = range(5_000)
THEME = "minecraft"


def main() -> None:
    world = minecraft_world()
    vocabulary = TextCraftEnv.vocabulary(THEME)
    relations = TextCraftEnv.world_relations(THEME)
    source = world.source
    print(f"source: {source['package']} {source['package_version']}, Java edition {source['game_version']}")
    print(
        f"recipes {len(world.recipes)}, base items {len(world.items) - len(world.recipes)}, "
        f"kinds {sorted(Counter(vocabulary.values()).items())}, names {len(vocabulary)}, "
        f"relations {len(relations)} ({dict(sorted(Counter(fact[0] for fact in relations).items()))})"
    )
    for preset, config in PRESETS.items():
        tasks = [generate_task(seed, config, THEME) for seed in SEEDS]
        goals = len({task.goal_text for task in tasks})
        items = len({task.goal for task in tasks})
        structures = len({task.structure for task in tasks})
        print(
            f"{preset:>6}: {goals} distinct goals ({items} goal items, {structures} structures) over {len(SEEDS)} seeds"
        )


if __name__ == "__main__":
    main()
