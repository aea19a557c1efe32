"""TextCraft: craft a goal item from a list of recipes, as in the study's Minecraft crafting task.

Read top to bottom: difficulty knobs and presets, the Minecraft world (the real crafting recipes),
themes, the task generator (a cut of the goal's recipe tree, distractor recipes, then names from
the theme), the planner behind the oracle, and the environment (dynamics and rendering). The
generator builds every task over the Minecraft recipe graph and then names it from the theme, so
the same seed gives the same recipe structure in every theme: themes differ in semantics only.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import random
from collections import Counter
from collections.abc import Mapping
from importlib import resources
from typing import Any

from llm_gym.core import TextEnv, Transition
from llm_gym.difficulty import Config, knob
from llm_gym.grammar import Arg, Command, CommandSpec, Grammar
from llm_gym.registry import register_family
from llm_gym.themes import made_up_words

MAX_GET = 64
GET_AMOUNTS = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64)  # the `get` counts listed for every base item
MAX_TRIES = 64  # goals drawn before a seed settles for the last one that fits


@dataclasses.dataclass(frozen=True)
class TextCraftConfig(Config):
    depth: int = knob(1, 1, 5, "crafting steps from the goal down to base items along its main (deepest) chain")
    min_ingredients: int = knob(1, 1, 4, "fewest distinct ingredients in the goal's recipe")
    max_ingredients: int = knob(2, 1, 4, "most distinct ingredients in the goal's recipe")
    distractors: int = knob(2, 0, 20, "recipes listed that the goal does not need")
    max_quantity: int = knob(1, 1, 4, "most crafts of the goal's recipe that the goal count asked can need")
    side_crafting: float = knob(
        0.0, 0.0, 1.0, "chance that a craftable ingredient off the main chain is crafted, not got"
    )

    def check(self) -> None:
        if self.min_ingredients > self.max_ingredients:
            raise ValueError(
                f"TextCraftConfig.min_ingredients = {self.min_ingredients} exceeds "
                f"max_ingredients = {self.max_ingredients}"
            )


PRESETS = {
    "easy": TextCraftConfig(depth=1, min_ingredients=1, max_ingredients=2, distractors=4, max_quantity=1),
    "medium": TextCraftConfig(
        depth=2, min_ingredients=1, max_ingredients=2, distractors=5, max_quantity=2, side_crafting=0.2
    ),
    "hard": TextCraftConfig(
        depth=3, min_ingredients=2, max_ingredients=3, distractors=7, max_quantity=3, side_crafting=0.3
    ),
    "expert": TextCraftConfig(
        depth=3, min_ingredients=2, max_ingredients=4, distractors=12, max_quantity=4, side_crafting=0.7
    ),
}

# ----- the Minecraft world: one canonical crafting recipe per item (tools/derive_minecraft_recipes.py) -----


@dataclasses.dataclass(frozen=True)
class Recipe:
    output: str
    count: int
    ingredients: tuple[tuple[int, str], ...]  # (count, item), sorted by item


@dataclasses.dataclass(frozen=True)
class MinecraftWorld:
    source: dict[str, str]  # the minecraft-data package and game version the table comes from
    recipes: dict[str, Recipe]  # by output
    depth: dict[str, int]  # crafts along the longest chain from an item down to base items (0 for a base item)
    users: dict[str, tuple[str, ...]]  # the items whose recipe uses an item, sorted
    items: tuple[str, ...]  # every item the recipes name, sorted


@functools.cache
def minecraft_world() -> MinecraftWorld:
    """The Minecraft crafting table in llm_gym/data/minecraft_recipes.json, loaded once."""
    data = json.loads(resources.files("llm_gym").joinpath("data/minecraft_recipes.json").read_text())
    recipes = {
        output: Recipe(output, count, tuple((amount, name) for name, amount in ingredients))
        for output, (count, ingredients) in data["recipes"].items()
    }
    depth: dict[str, int] = {}

    def depth_of(item: str) -> int:
        if item not in depth:
            recipe = recipes.get(item)
            depth[item] = 0 if recipe is None else 1 + max(depth_of(name) for _, name in recipe.ingredients)
        return depth[item]

    users: dict[str, list[str]] = {}
    for recipe in recipes.values():
        depth_of(recipe.output)
        for _, name in recipe.ingredients:
            users.setdefault(name, []).append(recipe.output)
    return MinecraftWorld(
        source=data["source"],
        recipes=recipes,
        depth=depth,
        users={name: tuple(sorted(outputs)) for name, outputs in users.items()},
        items=tuple(sorted(depth)),
    )


@functools.cache
def _goal_pool(depth: int, min_ingredients: int, max_ingredients: int) -> tuple[str, ...]:
    """The items a task of these knobs can ask for: deep enough, with a recipe of the right width."""
    world = minecraft_world()
    return tuple(
        output
        for output, recipe in sorted(world.recipes.items())
        if world.depth[output] >= depth and min_ingredients <= len(recipe.ingredients) <= max_ingredients
    )


# ----- themes: minecraft names the world itself; the others rename it ---------------------------

RENAMING_LEXICONS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "cooking": (
        (
            "flour",
            "duck egg",
            "butter",
            "milk",
            "brown sugar",
            "salt",
            "yeast",
            "olive oil",
            "tomato",
            "onion",
            "garlic",
            "basil",
            "rice",
            "potato",
            "parsnip",
            "lemon",
            "honey",
            "cocoa",
            "vanilla",
            "cheese",
            "cream",
            "water",
            "pepper",
            "pear",
        ),
        (
            "dough",
            "flatbread",
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
            "biscuit",
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
            "galena",
            "tin",
            "silver dust",
            "gold leaf",
            "mandrake root",
            "nightshade",
            "wolfsbane",
            "moonwater",
            "ash",
            "amber",
            "bone ash",
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
THEMES = ("minecraft", *RENAMING_LEXICONS, "made-up")
MAX_BASES = min(len(bases) for bases, _ in RENAMING_LEXICONS.values())  # base items a task may use
MAX_CRAFTED = min(len(products) for _, products in RENAMING_LEXICONS.values())  # recipes a task may list


def _renaming(theme: str, seed: int, bases: list[str], crafted: list[str]) -> dict[str, str]:
    """Minecraft name -> the theme's name for one task; the identity for ``minecraft``."""
    if theme == "minecraft":
        return {name: name for name in bases + crafted}
    rng = random.Random(f"textcraft-names/{theme}/{seed}")
    if theme == "made-up":
        words = made_up_words(rng, len(bases) + len(crafted))
    else:
        base_pool, product_pool = RENAMING_LEXICONS[theme]
        words = rng.sample(base_pool, len(bases)) + rng.sample(product_pool, len(crafted))
    return dict(zip(bases + crafted, words))


# ----- the task generator --------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class TextCraftTask:
    seed: int
    goal: str
    goal_count: int  # how many of the goal the agent must hold
    recipes: tuple[Recipe, ...]  # as listed to the agent: needed and distractor recipes, shuffled
    base_items: tuple[str, ...]
    optimal_steps: int
    entities: tuple[str, ...]
    goal_text: str
    structure: str


def _cut_tree(rng: random.Random, goal: str, config: TextCraftConfig) -> dict[str, Recipe]:
    """The goal's recipes, ``config.depth`` crafts deep along the main chain (the deepest
    ingredient at each step); a craftable ingredient off it is crafted with chance
    ``side_crafting``. Ingredients left uncrafted are the task's base items."""
    world = minecraft_world()
    needed: dict[str, Recipe] = {}
    layer = [goal]
    for level in range(config.depth, 0, -1):
        below: list[str] = []
        for item in layer:
            recipe = needed[item] = world.recipes[item]
            if level == 1:
                continue
            main = max(recipe.ingredients, key=lambda pair: (world.depth[pair[1]], pair[1]))[1]
            for _, name in recipe.ingredients:
                if name not in world.recipes or name in needed or name in layer or name in below:
                    continue
                if name == main or rng.random() < config.side_crafting:
                    below.append(name)
        layer = below
    return needed


def _base_items(recipes: list[Recipe]) -> set[str]:
    made = {recipe.output for recipe in recipes}
    return {name for recipe in recipes for _, name in recipe.ingredients if name not in made}


def _distractors(rng: random.Random, needed: dict[str, Recipe], count: int) -> list[Recipe]:
    """Up to ``count`` real recipes the goal does not need, of items that use the task's items
    where there are enough, keeping the base items within ``MAX_BASES``."""
    world = minecraft_world()
    named = set(needed) | _base_items(list(needed.values()))
    related = sorted({user for name in named for user in world.users.get(name, ())} - named)
    candidates = rng.sample(related, min(len(related), 3 * count))
    candidates += rng.sample(world.items, min(len(world.items), 3 * count))
    chosen: list[Recipe] = []
    made, bases = set(needed), _base_items(list(needed.values()))
    for output in candidates:
        if len(chosen) == count:
            break
        if output in named or output not in world.recipes:
            continue
        recipe = world.recipes[output]
        trial = (bases - {output}) | {name for _, name in recipe.ingredients if name not in made and name != output}
        if len(trial) <= MAX_BASES:
            chosen.append(recipe)
            named.add(output)
            made.add(output)
            bases = trial
    return chosen


def generate_task(seed: int, config: TextCraftConfig, theme: str) -> TextCraftTask:
    """A TextCraft task: the goal's recipe tree cut to the knobs, plus distractor recipes, over the
    real Minecraft recipes; then named from the theme. Pure in its arguments."""
    rng = random.Random(f"textcraft/{seed}")
    pool = _goal_pool(config.depth, config.min_ingredients, config.max_ingredients)
    if not pool:
        raise ValueError(f"No Minecraft item fits {config}; ease depth or the ingredient bounds")
    turn_limit = TextCraftEnv.default_max_turns(config)
    for _ in range(MAX_TRIES):
        goal = rng.choice(pool)
        needed = _cut_tree(rng, goal, config)
        goal_count = rng.randint(1, config.max_quantity * needed[goal].count)
        optimal = _plan_length(goal, goal_count, needed, _topological(goal, needed), Counter())
        fits = len(_base_items(list(needed.values()))) <= MAX_BASES and len(needed) <= MAX_CRAFTED
        if fits and optimal <= turn_limit:
            break
    listed = [*needed.values(), *_distractors(rng, needed, min(config.distractors, MAX_CRAFTED - len(needed)))]
    rng.shuffle(listed)
    bases = sorted(_base_items(listed))
    names = _renaming(theme, seed, bases, sorted(recipe.output for recipe in listed))
    recipes = tuple(
        Recipe(names[r.output], r.count, tuple(sorted(((c, names[i]) for c, i in r.ingredients), key=lambda p: p[1])))
        for r in listed
    )
    return TextCraftTask(
        seed=seed,
        goal=names[goal],
        goal_count=goal_count,
        recipes=recipes,
        base_items=tuple(sorted(names[base] for base in bases)),
        optimal_steps=optimal,
        entities=tuple(sorted(names.values())),
        goal_text=f"craft {goal_count} {names[goal]}",
        structure=f"d{config.depth}.r{len(needed)}.b{len(bases)}.x{len(listed) - len(needed)}",
    )


# ----- the planner behind the oracle ---------------------------------------------------------


def _topological(goal: str, recipes: Mapping[str, Recipe]) -> tuple[str, ...]:
    """The crafted items under ``goal``, each before its ingredients."""
    order: list[str] = []
    seen: set[str] = set()

    def visit(item: str) -> None:
        seen.add(item)
        for _, name in recipes[item].ingredients:
            if name in recipes and name not in seen:
                visit(name)
        order.append(item)

    visit(goal)
    return tuple(reversed(order))


def _requirements(
    goal: str, goal_count: int, recipes: Mapping[str, Recipe], order: tuple[str, ...], inventory: Counter
) -> dict[str, int]:
    """Net amount of every item still to obtain (bases) or craft (products) to hold ``goal_count``
    of ``goal``. ``order`` lists the crafted items parents first, so each item's gross need is
    complete before it is netted against the inventory."""
    gross: Counter = Counter({goal: goal_count})
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


def _plan_length(
    goal: str, goal_count: int, recipes: Mapping[str, Recipe], order: tuple[str, ...], inventory: Counter
) -> int:
    net = _requirements(goal, goal_count, recipes, order, inventory)
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
    """Craft the goal count of the goal item. The recipes are listed on the first turn, with
    distractors mixed in; in the default ``minecraft`` theme they are the game's own.

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
    shared_on_copy = ("_recipes", "_needed", "_order", "_bases", "_get_commands", "_get_texts", "_recipe_texts")
    rules = (
        "You are crafting in a text world. Get base items and craft with the recipes listed until you "
        "hold as many of the goal item as the goal asks for. A recipe must be used exactly as listed; it "
        "makes the count it names. Base items, the ones no recipe makes, can be got in any amount up to "
        f"{MAX_GET} at a time."
    )

    @classmethod
    def generate_task(cls, seed: int, config: TextCraftConfig, theme: str) -> TextCraftTask:
        return generate_task(seed, config, theme)

    @classmethod
    def default_max_turns(cls, config: TextCraftConfig) -> int:
        return 30 if config.depth <= 2 else 20 * config.depth

    @classmethod
    def vocabulary(cls, theme: str) -> Mapping[str, str]:
        """Every item name of ``theme`` -> ``"item"`` (every command takes any item); empty for ``made-up``."""
        if theme == "minecraft":
            return dict.fromkeys(minecraft_world().items, "item")
        if theme in RENAMING_LEXICONS:
            bases, products = RENAMING_LEXICONS[theme]
            return dict.fromkeys(sorted({*bases, *products}), "item")
        return {}

    @classmethod
    def world_relations(cls, theme: str) -> frozenset[tuple[str, ...]]:
        """The real recipes, for ``minecraft``: ``("ingredient", output, input, count)`` for each
        ingredient and ``("makes", output, count)`` for the output count (counts as digits)."""
        if theme != "minecraft":
            return frozenset()
        return _recipe_relations(tuple(minecraft_world().recipes.values()))

    @classmethod
    def task_relations(cls, task: TextCraftTask) -> frozenset[tuple[str, ...]]:
        """The listed recipes, written as ``world_relations`` writes them."""
        return _recipe_relations(task.recipes)

    def _start(self, task: TextCraftTask) -> str:
        self._recipes = {r.output: r for r in task.recipes}
        self._needed = {}
        frontier = [task.goal]
        while frontier:
            recipe = self._recipes[frontier.pop()]
            self._needed[recipe.output] = recipe
            frontier.extend(i for _, i in recipe.ingredients if i in self._recipes and i not in self._needed)
        self._order = _topological(task.goal, self._needed)
        self._bases = frozenset(task.base_items)
        self._get_commands = [INVENTORY]
        self._get_texts = [GRAMMAR.render(INVENTORY)]
        for base in task.base_items:
            commands, texts = _get_entries(base)
            self._get_commands += commands
            self._get_texts += texts
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
        if item == self.task.goal and self.inventory[item] >= self.task.goal_count:
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
            view["goal_count"] = self.task.goal_count
        return view

    def render_view(self, view: dict[str, Any], first: bool) -> str:
        parts = [view["feedback"]] if view["feedback"] else []
        if "recipes" in view:
            parts.append("Crafting commands:\n" + "\n".join(view["recipes"]))
            parts.append(f"Goal: craft {view['goal_count']} {view['goal']}.")
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
        net = _requirements(self.task.goal, self.task.goal_count, self._needed, self._order, self.inventory)
        for item, amount in net.items():
            if amount > 0 and item not in self._needed:
                return Command("get", (_get_amount(amount), item))
        for item in reversed(self._order):
            recipe = self._needed[item]
            if net[item] > 0 and all(self.inventory[i] >= c for c, i in recipe.ingredients):
                return _craft_command(recipe)
        raise RuntimeError(f"TextCraft oracle found no move from a reachable state: {dict(self.inventory)}")


INVENTORY = Command("inventory")


@functools.lru_cache(maxsize=4096)
def _get_entries(base: str) -> tuple[tuple[Command, ...], tuple[str, ...]]:
    """The `get` commands of ``base`` for every amount of the ladder, and their texts (rendered once)."""
    commands = tuple(Command("get", (count, base)) for count in GET_AMOUNTS)
    return commands, tuple(GRAMMAR.render(command) for command in commands)


def _craft_command(recipe: Recipe) -> Command:
    return Command("craft", (recipe.count, recipe.output, recipe.ingredients))


def _recipe_relations(recipes: tuple[Recipe, ...]) -> frozenset[tuple[str, ...]]:
    facts: set[tuple[str, ...]] = {("makes", recipe.output, str(recipe.count)) for recipe in recipes}
    facts.update(
        ("ingredient", recipe.output, name, str(count)) for recipe in recipes for count, name in recipe.ingredients
    )
    return frozenset(facts)


register_family(TextCraftEnv)
