"""TextCraft: craft a goal item from a list of recipes, as in the study's Minecraft crafting task.

Read top to bottom: difficulty knobs and presets, themes, the task generator (an abstract recipe
tree, then names from the theme), the planner behind the oracle, and the environment (dynamics
and rendering). The generator builds the same recipe structure for a seed whatever the theme, so
themes differ in semantics only.
"""

from __future__ import annotations

import dataclasses
import math
import random
from collections import Counter
from typing import Any

from llm_gym.core import TextEnv, Transition
from llm_gym.difficulty import Config, knob
from llm_gym.grammar import Arg, Command, CommandSpec, Grammar
from llm_gym.registry import register_family
from llm_gym.themes import made_up_words

MAX_GET = 64
GET_AMOUNTS = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64)  # the `get` counts listed for every base item


@dataclasses.dataclass(frozen=True)
class TextCraftConfig(Config):
    depth: int = knob(1, 1, 5, "crafting steps between base items and the goal, along its longest chain")
    min_ingredients: int = knob(1, 1, 4, "fewest distinct ingredients in a recipe")
    max_ingredients: int = knob(2, 1, 4, "most distinct ingredients in a recipe")
    distractors: int = knob(2, 0, 20, "recipes listed that the goal does not need")
    max_quantity: int = knob(1, 1, 4, "largest count of an ingredient in a recipe, and of a recipe's output")
    side_crafting: float = knob(0.0, 0.0, 1.0, "chance that an ingredient off the main chain must be crafted too")

    def check(self) -> None:
        if self.min_ingredients > self.max_ingredients:
            raise ValueError(
                f"TextCraftConfig.min_ingredients = {self.min_ingredients} exceeds "
                f"max_ingredients = {self.max_ingredients}"
            )


PRESETS = {
    "easy": TextCraftConfig(depth=1, min_ingredients=1, max_ingredients=2, distractors=3, max_quantity=1),
    "medium": TextCraftConfig(
        depth=2, min_ingredients=1, max_ingredients=2, distractors=4, max_quantity=2, side_crafting=0.2
    ),
    "hard": TextCraftConfig(
        depth=3, min_ingredients=2, max_ingredients=3, distractors=7, max_quantity=3, side_crafting=0.3
    ),
    "expert": TextCraftConfig(
        depth=4, min_ingredients=2, max_ingredients=3, distractors=10, max_quantity=3, side_crafting=0.5
    ),
}

# ----- themes: base materials and crafted products, in the order the generator assigns them -----

LEXICONS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "minecraft": (
        (
            "oak log",
            "birch log",
            "cobblestone",
            "iron ore",
            "gold ore",
            "coal",
            "redstone dust",
            "sand",
            "clay ball",
            "string",
            "feather",
            "flint",
            "leather",
            "wool",
            "gravel",
            "obsidian",
            "diamond",
            "lapis lazuli",
            "bone",
            "slimeball",
            "sugar cane",
            "wheat",
            "glowstone dust",
            "quartz",
        ),
        (
            "oak planks",
            "birch planks",
            "stick",
            "crafting table",
            "furnace",
            "iron ingot",
            "gold ingot",
            "torch",
            "chest",
            "wooden pickaxe",
            "stone pickaxe",
            "iron pickaxe",
            "iron sword",
            "bow",
            "arrow",
            "glass",
            "glass pane",
            "brick",
            "bricks",
            "bookshelf",
            "book",
            "paper",
            "ladder",
            "fence",
            "oak door",
            "iron door",
            "bucket",
            "shears",
            "compass",
            "clock",
            "map",
            "piston",
            "sticky piston",
            "redstone torch",
            "lever",
            "rail",
            "minecart",
            "anvil",
            "lantern",
            "campfire",
            "fishing rod",
            "shield",
            "barrel",
            "smoker",
        ),
    ),
    "cooking": (
        (
            "flour",
            "egg",
            "butter",
            "milk",
            "sugar",
            "salt",
            "yeast",
            "olive oil",
            "tomato",
            "onion",
            "garlic",
            "basil",
            "rice",
            "potato",
            "carrot",
            "lemon",
            "honey",
            "cocoa",
            "vanilla",
            "cheese",
            "cream",
            "water",
            "pepper",
            "apple",
        ),
        (
            "dough",
            "bread",
            "pastry",
            "pie crust",
            "apple pie",
            "tomato sauce",
            "pizza base",
            "pizza",
            "pasta",
            "lasagna",
            "batter",
            "pancake",
            "sponge cake",
            "frosting",
            "layer cake",
            "custard",
            "tart",
            "risotto",
            "stock",
            "soup",
            "stew",
            "mashed potato",
            "gratin",
            "caramel",
            "toffee",
            "lemonade",
            "syrup",
            "glaze",
            "croissant",
            "brioche",
            "gnocchi",
            "pesto",
            "dressing",
            "salad",
            "omelette",
            "quiche",
            "scone",
            "muffin",
            "cookie",
            "truffle",
            "ganache",
            "flan",
            "crepe",
            "focaccia",
        ),
    ),
    "alchemy": (
        (
            "salt",
            "sulfur",
            "mercury",
            "copper filings",
            "iron filings",
            "saltpeter",
            "vitriol",
            "lead",
            "tin",
            "silver dust",
            "gold leaf",
            "mandrake root",
            "nightshade",
            "wolfsbane",
            "moonwater",
            "ash",
            "amber",
            "bone meal",
            "quartz sand",
            "sage",
            "myrrh",
            "cinnabar",
            "antimony",
            "alum",
        ),
        (
            "tincture",
            "elixir",
            "philter",
            "quintessence",
            "aqua fortis",
            "aqua regia",
            "calx",
            "sublimate",
            "amalgam",
            "azoth",
            "red tincture",
            "white stone",
            "salve",
            "draught",
            "tonic",
            "reagent",
            "catalyst",
            "solvent",
            "essence",
            "distillate",
            "precipitate",
            "crucible",
            "alembic",
            "retort",
            "athanor",
            "philosopher stone",
            "homunculus flask",
            "universal solvent",
            "golden draught",
            "sleeping draught",
            "healing salve",
            "fire salt",
            "star oil",
            "moon salt",
            "sun powder",
            "green lion",
            "black crow",
            "white eagle",
            "peacock tail",
            "red king",
            "white queen",
            "spirit of wine",
            "oil of vitriol",
            "butter of antimony",
        ),
    ),
}
THEMES = (*LEXICONS, "made-up")


def _theme_names(theme: str, rng: random.Random, bases: int, products: int) -> tuple[list[str], list[str]]:
    if theme == "made-up":
        words = made_up_words(rng, bases + products)
        return words[:bases], words[bases:]
    base_pool, product_pool = LEXICONS[theme]
    return rng.sample(base_pool, bases), rng.sample(product_pool, products)


# ----- the task generator --------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Recipe:
    output: str
    count: int
    ingredients: tuple[tuple[int, str], ...]  # (count, item), sorted by item


@dataclasses.dataclass(frozen=True)
class TextCraftTask:
    seed: int
    goal: str
    recipes: tuple[Recipe, ...]  # as listed to the agent: needed and distractor recipes, shuffled
    base_items: tuple[str, ...]
    optimal_steps: int
    entities: tuple[str, ...]


def _abstract_tree(rng: random.Random, config: TextCraftConfig) -> tuple[list[tuple], int]:
    """Recipes over abstract ids: crafted nodes are ints, base items are ``("base", i)``.

    Returns the goal's recipes (goal is node 0) and how many base ids exist. Node ``k``'s recipe is
    ``(k, output_count, [(count, ingredient), ...])``.
    """
    base_count = min(24, 3 + 2 * config.depth + config.max_ingredients)
    recipes: list[tuple] = []

    def build(node: int, depth: int, next_id: list[int]) -> None:
        width = rng.randint(config.min_ingredients, config.max_ingredients)
        bases = rng.sample(range(base_count), width)
        ingredients: list[tuple[int, int | tuple[str, int]]] = []
        for position, base in enumerate(bases):
            count = rng.randint(1, config.max_quantity)
            must_craft = position == 0 and depth > 1
            if must_craft or (depth > 1 and rng.random() < config.side_crafting):
                child = next_id[0]
                next_id[0] += 1
                ingredients.append((count, child))
                build(child, depth - 1 if must_craft else 1, next_id)
            else:
                ingredients.append((count, ("base", base)))
        recipes.append((node, rng.randint(1, config.max_quantity), ingredients))

    build(0, config.depth, [1])
    return recipes, base_count


def generate_task(seed: int, config: TextCraftConfig, theme: str) -> TextCraftTask:
    """A TextCraft task: a recipe tree for the goal plus distractor recipes. Pure in its arguments."""
    structure_rng = random.Random(f"textcraft/{seed}")
    tree, base_count = _abstract_tree(structure_rng, config)
    crafted_count = len(tree)
    distractors = []
    for index in range(config.distractors):
        width = structure_rng.randint(config.min_ingredients, config.max_ingredients)
        pool = [("base", b) for b in range(base_count)] + list(range(1, crafted_count))
        chosen = structure_rng.sample(pool, width)
        ingredients = [(structure_rng.randint(1, config.max_quantity), item) for item in chosen]
        distractors.append((crafted_count + index, structure_rng.randint(1, config.max_quantity), ingredients))

    names_rng = random.Random(f"textcraft-names/{theme}/{seed}")
    base_names, product_names = _theme_names(theme, names_rng, base_count, crafted_count + config.distractors)

    def name(item) -> str:
        return base_names[item[1]] if isinstance(item, tuple) else product_names[item]

    def recipe(output: int, count: int, ingredients: list) -> Recipe:
        named = tuple(sorted(((c, name(i)) for c, i in ingredients), key=lambda pair: pair[1]))
        return Recipe(product_names[output], count, named)

    needed = [recipe(*entry) for entry in tree]
    listed = needed + [recipe(*entry) for entry in distractors]
    structure_rng.shuffle(listed)
    base_set = set(base_names)
    used_bases = sorted({item for r in listed for _, item in r.ingredients if item in base_set})
    goal = product_names[0]
    needed_by_output = {r.output: r for r in needed}
    optimal = _plan_length(goal, needed_by_output, Counter())
    entities = tuple(sorted({r.output for r in listed} | set(used_bases)))
    return TextCraftTask(
        seed=seed,
        goal=goal,
        recipes=tuple(listed),
        base_items=tuple(used_bases),
        optimal_steps=optimal,
        entities=entities,
    )


# ----- the planner behind the oracle ---------------------------------------------------------


def _requirements(goal: str, recipes: dict[str, Recipe], inventory: Counter) -> dict[str, int]:
    """Net amount of every item still to obtain (bases) or craft (products) to own one ``goal``.

    Crafted items form a tree under the goal, so processing products top-down (parents before
    children) accumulates each item's gross need before it is netted against the inventory.
    """
    order, frontier = [], [goal]
    while frontier:
        item = frontier.pop()
        order.append(item)
        frontier.extend(i for _, i in recipes[item].ingredients if i in recipes)
    gross: Counter = Counter({goal: 1})
    net: dict[str, int] = {}
    for item in order:
        net[item] = max(0, gross[item] - inventory[item])
        batches = math.ceil(net[item] / recipes[item].count)
        for count, ingredient in recipes[item].ingredients:
            gross[ingredient] += batches * count
    for item, amount in gross.items():
        if item not in recipes:
            net[item] = max(0, amount - inventory[item])
    return net


def _get_amount(needed: int) -> int:
    """The smallest admissible `get` count that covers ``needed`` (or the most one `get` allows)."""
    return next((amount for amount in GET_AMOUNTS if amount >= needed), MAX_GET)


def _plan_length(goal: str, recipes: dict[str, Recipe], inventory: Counter) -> int:
    net = _requirements(goal, recipes, inventory)
    gets = sum(math.ceil(amount / MAX_GET) for item, amount in net.items() if item not in recipes)
    crafts = sum(math.ceil(amount / recipes[item].count) for item, amount in net.items() if item in recipes)
    return gets + crafts


# ----- the environment -----------------------------------------------------------------------

GRAMMAR = Grammar(
    [
        CommandSpec(
            "get",
            "get {count} {item}",
            (Arg("count", "int", "how many to get"), Arg("item", "name", "a base item")),
            "get base items (ones no recipe makes)",
        ),
        CommandSpec(
            "craft",
            "craft {count} {item} using {ingredients}",
            (
                Arg("count", "int", "how many the recipe makes"),
                Arg("item", "name", "the item to craft"),
                Arg("ingredients", "counted_names", "the recipe's ingredients and their counts"),
            ),
            "craft with one of the listed recipes, written exactly as listed",
        ),
        CommandSpec("inventory", "inventory", (), "list what you hold"),
    ]
)


class TextCraftEnv(TextEnv[TextCraftConfig, TextCraftTask]):
    """Craft the goal item. The recipes are listed on the first turn, with distractors mixed in.

    Example:
        >>> import gymnasium as gym, llm_gym
        >>> env = gym.make("llm_gym/TextCraft-v0", difficulty="easy", theme="cooking")
        >>> observation, info = env.reset(seed=0)
        >>> info["outcome"], info["optimal_steps"] > 0
        ('running', True)
    """

    family = "TextCraft"
    config_class = TextCraftConfig
    presets = PRESETS
    themes = THEMES
    grammar = GRAMMAR
    shared_on_copy = ("_recipes", "_needed", "_bases", "_get_commands", "_get_texts", "_recipe_texts")
    rules = (
        "You are crafting in a text world. Get base items and craft with the recipes listed to make "
        "the goal item. A recipe must be used exactly as listed; it makes the count it names. Base "
        "items, the ones no recipe makes, can be got in any amount up to "
        f"{MAX_GET} at a time."
    )

    @classmethod
    def generate_task(cls, seed: int, config: TextCraftConfig, theme: str) -> TextCraftTask:
        return generate_task(seed, config, theme)

    @classmethod
    def default_max_turns(cls, config: TextCraftConfig) -> int:
        return 30 if config.depth <= 2 else 20 * config.depth

    def _start(self, task: TextCraftTask) -> str:
        self._recipes = {r.output: r for r in task.recipes}
        self._needed = {}
        frontier = [task.goal]
        while frontier:
            recipe = self._recipes[frontier.pop()]
            self._needed[recipe.output] = recipe
            frontier.extend(i for _, i in recipe.ingredients if i in self._recipes)
        self._bases = frozenset(task.base_items)
        self._get_commands = [Command("inventory")] + [
            Command("get", (count, base)) for base in task.base_items for count in GET_AMOUNTS
        ]
        self._get_texts = [GRAMMAR.render(command) for command in self._get_commands]
        self._recipe_texts = [(r, GRAMMAR.render(_craft_command(r))) for r in task.recipes]
        self.inventory: Counter = Counter()
        return ""

    def _transition(self, command: Command) -> Transition:
        if command.verb == "inventory":
            return Transition(self._inventory_text())
        if command.verb == "get":
            count, item = command.args
            if item not in self._bases:
                return Transition(f"Could not find {item}.", status="illegal")
            if not 1 <= count <= MAX_GET:
                return Transition(f"You can get between 1 and {MAX_GET} {item} at a time.", status="illegal")
            self.inventory[item] += count
            return Transition(f"Got {count} {item}.")
        count, item, ingredients = command.args
        recipe = self._recipes.get(item)
        if recipe is None or recipe.count != count or recipe.ingredients != ingredients:
            return Transition(f"Could not find a valid recipe for {count} {item}.", status="illegal")
        missing = [name for need, name in ingredients if self.inventory[name] < need]
        if missing:
            return Transition(
                f"Could not find enough items to craft {item}: missing {', '.join(missing)}.", status="illegal"
            )
        for need, name in ingredients:
            self.inventory[name] -= need
            if not self.inventory[name]:
                del self.inventory[name]
        self.inventory[item] += count
        if item == self.task.goal:
            return Transition(f"Crafted {count} {item}. You made the goal!", reward=1.0, outcome="success", score=1.0)
        return Transition(f"Crafted {count} {item}.")

    def state_key(self) -> str:
        return f"{self.outcome}|{sorted(self.inventory.items())}"

    def _inventory_text(self) -> str:
        if not self.inventory:
            return "Inventory: empty."
        return "Inventory: " + " ".join(f"[{item}] ({count})" for item, count in sorted(self.inventory.items()))

    def _view(self) -> dict[str, Any]:
        view: dict[str, Any] = {"feedback": self._feedback}
        if self.turn == 0:
            view["recipes"] = [text for _, text in self._recipe_texts]
            view["goal"] = self.task.goal
        return view

    def render_view(self, view: dict[str, Any], first: bool) -> str:
        parts = [view["feedback"]] if view["feedback"] else []
        if "recipes" in view:
            parts.append("Crafting commands:\n" + "\n".join(view["recipes"]))
            parts.append(f"Goal: craft {view['goal']}.")
        return "\n\n".join(parts)

    def _admissible(self) -> list[Command]:
        craftable = [
            _craft_command(r) for r in self.task.recipes if all(self.inventory[i] >= c for c, i in r.ingredients)
        ]
        return self._get_commands + craftable

    def _admissible_texts(self) -> list[str]:
        inventory = self.inventory
        craftable = [text for r, text in self._recipe_texts if all(inventory[i] >= c for c, i in r.ingredients)]
        return self._get_texts + craftable

    def _oracle(self) -> Command:
        net = _requirements(self.task.goal, self._needed, self.inventory)
        for item, amount in net.items():
            if amount > 0 and item not in self._needed:
                return Command("get", (_get_amount(amount), item))
        for item in reversed(list(net)):
            recipe = self._needed.get(item)
            if recipe and net[item] > 0 and all(self.inventory[i] >= c for c, i in recipe.ingredients):
                return _craft_command(recipe)
        raise RuntimeError(f"TextCraft oracle found no move from a reachable state: {dict(self.inventory)}")


def _craft_command(recipe: Recipe) -> Command:
    return Command("craft", (recipe.count, recipe.output, recipe.ingredients))


register_family(TextCraftEnv)
