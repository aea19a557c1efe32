"""SearchQA variety: distinct goals (questions) and structures per preset over 5,000 seeds, and the
size of the grounded world (entity kinds, names, relations, question templates).

    python benchmarks/variety_searchqa.py [seeds]
"""

from __future__ import annotations

import sys
from collections import Counter

from llm_gym.families.searchqa import (
    GROUNDED,
    LINKS,
    PRESETS,
    QUESTION_COUNT,
    YEARS,
    SearchQAEnv,
    generate_task,
)


def main(seeds: int = 5000) -> None:
    vocabulary = SearchQAEnv.vocabulary(GROUNDED)
    relations = SearchQAEnv.world_relations(GROUNDED)
    kinds = Counter(vocabulary.values())
    print(f"entity kinds {len(kinds)}, names {len(vocabulary)}: " + ", ".join(f"{k} {n}" for k, n in kinds.items()))
    facts = Counter(relation for relation, *_ in relations)
    print(
        f"real-world relations {len(relations)} of {len(facts)} kinds: "
        + ", ".join(f"{k} {n}" for k, n in facts.items())
    )
    print(f"relation types in documents {len(LINKS) + len(YEARS)}, question templates {QUESTION_COUNT}")
    for preset, config in PRESETS.items():
        tasks = [generate_task(seed, config, GROUNDED) for seed in range(seeds)]
        goals = len({task.goal_text for task in tasks})
        structures = len({task.structure for task in tasks})
        print(f"{preset:>6}: {goals} distinct goals, {structures} distinct structures over {seeds} seeds")


if __name__ == "__main__":
    main(*(int(arg) for arg in sys.argv[1:]))
