"""Derive llm_gym/data/minecraft_recipes.json, TextCraft's Minecraft crafting table, from minecraft-data.

Reads the crafting recipes and item names of one Java ("pc") version from an unpacked copy of the
`minecraft-data` npm package and writes one canonical recipe per craftable item:

    cd /tmp && npm pack minecraft-data@3.119.0 && tar xzf minecraft-data-3.119.0.tgz
    python tools/derive_minecraft_recipes.py /tmp/package > llm_gym/data/minecraft_recipes.json

The rules, applied in this order (docs/textcraft.md explains them):

1. Names are the item ids with underscores as spaces (``oak_planks`` -> ``oak planks``), except
   ``string``, a word of llm-gym's tool-call schemas, named ``spider string``; a recipe is its
   output count and its ingredients counted over the crafting grid. Identical recipes merge.
2. Re-dyeing: minecraft-data writes "an X of any other colour" as one arbitrary colour; it is read
   as the white X (``red wool`` <- ``white wool`` + ``red dye``); re-dyeing into white is dropped.
3. Cycles (``iron ingot`` <-> ``iron block``, ``iron nugget``): in every cycle of the recipe graph
   the member most recipes use as an ingredient (ties: lowest item id) loses its recipes that use a
   member of the cycle, until no cycle is left. Items no recipe makes are base items.
4. Alternatives: an unpacking recipe (one unit of one ingredient making nine) counts only where an
   item has no other; then an item keeps the recipe whose rarest ingredient is the most used one
   (then the next rarest, and so on), usage compared in powers of two so that variants of one material (oak, birch, bamboo planks)
   tie, and ties go to the lowest ingredient item ids, which the game lists classic variant first:
   sticks come from oak planks (not bamboo), torches from coal, furnaces from cobblestone.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

EDITION, GAME_VERSION = "pc", "1.21.11"
RENAMED = {"string": "spider string"}  # names that are words of the command scaffolding
COLOURS = (
    "white orange magenta light_blue yellow lime pink gray light_gray cyan purple blue brown green red black"
).split()

Recipe = tuple[int, tuple[tuple[str, int], ...]]  # (output count, ((ingredient, count), ...) sorted)


def read_recipes(root: Path) -> tuple[dict[str, set[Recipe]], dict[str, int], str]:
    """Every crafting recipe by output name, the item ids by name, and the package version."""
    data = root / "minecraft-data" / "data"
    paths = json.loads((data / "dataPaths.json").read_text())[EDITION][GAME_VERSION]
    items = json.loads((data / paths["items"] / "items.json").read_text())
    table = json.loads((data / paths["recipes"] / "recipes.json").read_text())
    name_of = {item["id"]: item["name"] for item in items}
    recipes: dict[str, set[Recipe]] = {}
    for entries in table.values():
        for entry in entries:
            output, count = entry["result"]["id"], entry["result"]["count"]
            cells = entry.get("ingredients") or [cell for row in entry.get("inShape", []) for cell in row]
            if not count or output not in name_of:
                continue
            counted = Counter(name_of[cell] for cell in cells if cell is not None)
            recipes.setdefault(name_of[output], set()).add((count, tuple(sorted(counted.items()))))
    version = json.loads((root / "package.json").read_text())["version"]
    return recipes, {name: index for index, name in name_of.items()}, version


def read_redyeing(recipes: dict[str, set[Recipe]]) -> None:
    """Rule 2: the re-dyeing stand-in colour becomes white; re-dyeing into white goes."""
    for output, alternatives in recipes.items():
        colour = next((c for c in sorted(COLOURS, key=len, reverse=True) if output.startswith(c + "_")), None)
        if colour is None:
            continue
        thing = output[len(colour) + 1 :]
        rewritten = set()
        for count, ingredients in alternatives:
            names = [name for name, _ in ingredients]
            stand_in = [n for n in names if n != output and n.endswith("_" + thing) and n[: -len(thing) - 1] in COLOURS]
            if len(ingredients) == 2 and f"{colour}_dye" in names and len(stand_in) == 1:
                if colour == "white":
                    continue
                ingredients = tuple(sorted((f"white_{thing}" if n == stand_in[0] else n, c) for n, c in ingredients))
            rewritten.add((count, ingredients))
        alternatives.clear()
        alternatives.update(rewritten)


def usage(recipes: dict[str, set[Recipe]]) -> Counter:
    """How many recipes use each item as an ingredient."""
    return Counter(
        name for alternatives in recipes.values() for _, ingredients in alternatives for name, _ in ingredients
    )


def cycles(recipes: dict[str, set[Recipe]]) -> list[list[str]]:
    """The strongly connected components of output -> ingredient that hold a cycle (Tarjan)."""
    edges = {out: sorted({n for _, ing in alts for n, _ in ing}) for out, alts in sorted(recipes.items())}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    for root in edges:
        if root in index:
            continue
        work = [(root, 0)]
        while work:
            node, position = work.pop()
            if position == 0:
                index[node] = low[node] = len(index)
                stack.append(node)
                on_stack.add(node)
            successors = edges.get(node, [])
            if position < len(successors):
                work.append((node, position + 1))
                child = successors[position]
                if child not in index:
                    work.append((child, 0))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1 or node in edges.get(node, []):
                    found.append(sorted(component))
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    return found


def break_cycles(recipes: dict[str, set[Recipe]], item_id: dict[str, int]) -> None:
    """Rule 3."""
    while found := cycles(recipes):
        used = usage(recipes)
        for component in found:
            members = set(component)
            keeper = min(component, key=lambda name: (-used[name], item_id[name]))
            recipes[keeper] = {r for r in recipes[keeper] if not members & {n for n, _ in r[1]}}
        for name in [name for name, alternatives in recipes.items() if not alternatives]:
            del recipes[name]


def canonical(recipes: dict[str, set[Recipe]], item_id: dict[str, int]) -> dict[str, Recipe]:
    """Rule 4."""
    used = usage(recipes)

    def preference(recipe: Recipe) -> tuple:
        count, ingredients = recipe
        unpacking = count == 9 and len(ingredients) == 1 and ingredients[0][1] == 1
        names = [name for name, _ in ingredients]
        commonness = [-used[name].bit_length() for name in sorted(names, key=lambda name: used[name])]
        return (unpacking, commonness, sorted(item_id[name] for name in names), recipe)

    return {output: min(alternatives, key=preference) for output, alternatives in recipes.items()}


def main(root: Path) -> str:
    recipes, item_id, version = read_recipes(root)
    read_redyeing(recipes)
    break_cycles(recipes, item_id)
    chosen = canonical(recipes, item_id)

    def spaced(name: str) -> str:
        return RENAMED.get(name, name.replace("_", " "))

    lines = [
        "{",
        f'"source": {json.dumps({"package": "minecraft-data", "package_version": version, "edition": EDITION, "game_version": GAME_VERSION})},',
        '"format": "output: [output count, [[ingredient, count], ...]]",',
        '"recipes": {',
    ]
    rows = sorted((spaced(out), count, sorted((spaced(n), c) for n, c in ing)) for out, (count, ing) in chosen.items())
    for position, (output, count, ingredients) in enumerate(rows):
        comma = "," if position < len(rows) - 1 else ""
        lines.append(f"{json.dumps(output)}: {json.dumps([count, [list(pair) for pair in ingredients]])}{comma}")
    lines += ["}", "}"]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python tools/derive_minecraft_recipes.py <unpacked minecraft-data package directory>")
    sys.stdout.write(main(Path(sys.argv[1])))
