"""Shop: buy the product an instruction asks for in a generated web shop, as in the study's WebShop.

Read top to bottom: difficulty knobs and presets, themes (lexicons with one fixed shape), the
catalogue generator (an abstract catalogue, then names from the theme, then a BM25 index over the
product pages), the WebShop-style match score, and the environment: a search page, paged
results, item pages with options, description and features sub-pages, and ``Buy Now``. The
abstract catalogue, instruction and prices for a seed are the same whatever the theme, so themes
differ in semantics only.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import math
import random
import string
from typing import Any

import numpy as np

from llm_gym.core import TextEnv, Transition
from llm_gym.difficulty import Config, knob
from llm_gym.grammar import Arg, Command, CommandSpec, Grammar
from llm_gym.registry import register_family
from llm_gym.retrieval import BM25Index
from llm_gym.themes import made_up_words

MAX_RESULTS = 50  # results kept per search, as WebShop keeps 50
CATEGORIES, TYPES, ATTRIBUTES, DIMENSIONS, VALUES = 4, 6, 8, 3, 6  # the shape every theme fills
BACK, NEXT, PREV, BUY, DESCRIPTION, FEATURES = (
    "back to search",
    "next >",
    "< prev",
    "buy now",
    "description",
    "features",
)
BUTTON_LABELS = {
    BACK: "Back to Search",
    NEXT: "Next >",
    PREV: "< Prev",
    BUY: "Buy Now",
    DESCRIPTION: "Description",
    FEATURES: "Features",
}
_SUBSETS = tuple(tuple(i for i in range(8) if bits >> i & 1) for bits in range(1 << 8))  # bit mask -> ids
OPENERS = ("i need", "i'm looking for", "find me", "i want to buy", "please get me")


@dataclasses.dataclass(frozen=True)
class ShopConfig(Config):
    catalogue_size: int = knob(40, 10, 1000, "products in the catalogue")
    required_attributes: int = knob(1, 0, 4, "attributes the instruction asks for (waterproof, leak proof...)")
    required_options: int = knob(0, 0, DIMENSIONS, "options the buyer must select on the item page (size, colour...)")
    near_misses: int = knob(
        1, 0, 100, "products one detail away from the goal: an attribute, an option, the price or the type"
    )
    price_tightness: float = knob(
        0.0, 0.0, 1.0, "how close the price limit sits above the goal product's price (1 = within 4%)"
    )
    results_per_page: int = knob(10, 1, MAX_RESULTS, "search results shown per page")

    def check(self) -> None:
        if self.near_misses >= self.catalogue_size:
            raise ValueError(
                f"ShopConfig.near_misses = {self.near_misses} must be below catalogue_size = {self.catalogue_size}"
            )


PRESETS = {
    "easy": ShopConfig(
        catalogue_size=40,
        required_attributes=1,
        required_options=0,
        near_misses=1,
        price_tightness=0.0,
        results_per_page=10,
    ),
    "medium": ShopConfig(
        catalogue_size=90,
        required_attributes=2,
        required_options=1,
        near_misses=6,
        price_tightness=0.3,
        results_per_page=10,
    ),
    "hard": ShopConfig(
        catalogue_size=140,
        required_attributes=2,
        required_options=2,
        near_misses=12,
        price_tightness=0.6,
        results_per_page=5,
    ),
    "expert": ShopConfig(
        catalogue_size=200,
        required_attributes=3,
        required_options=3,
        near_misses=24,
        price_tightness=0.9,
        results_per_page=5,
    ),
}

# ----- themes: per category (name, product types, attributes, option dimensions with values) ---


@dataclasses.dataclass(frozen=True)
class Category:
    name: str
    types: tuple[str, ...]  # TYPES names
    attributes: tuple[str, ...]  # ATTRIBUTES names
    dimensions: tuple[tuple[str, tuple[str, ...]], ...]  # DIMENSIONS x (name, VALUES names)


def _names(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(","))


def _category(name: str, types: str, attributes: str, *dimensions: tuple[str, str]) -> Category:
    return Category(name, _names(types), _names(attributes), tuple((dim, _names(values)) for dim, values in dimensions))


LEXICONS: dict[str, tuple[Category, ...]] = {
    "shop": (
        _category(
            "outerwear",
            "hiking jacket, rain jacket, fleece pullover, down vest, softshell jacket, parka",
            "waterproof, breathable, lightweight, insulated, packable, windproof, reflective, hooded",
            ("color", "navy, black, olive, red, grey, white"),
            ("size", "xs, small, medium, large, xl, xxl"),
            ("fit", "regular, slim, relaxed, athletic, tall, petite"),
        ),
        _category(
            "footwear",
            "hiking boots, trail runners, sandals, slippers, rain boots, sneakers",
            "leather, vegan, cushioned, slip resistant, arch support, lace up, memory foam, steel toe",
            ("color", "brown, tan, charcoal, burgundy, khaki, cobalt"),
            ("width", "narrow, standard, wide, roomy, snug, tapered"),
            ("closure", "laces, velcro, buckle, zipper, elastic, toggle"),
        ),
        _category(
            "kitchen",
            "water bottle, travel mug, lunch box, food container, cutting board, french press",
            "bpa free, dishwasher safe, leak proof, double walled, stainless steel, microwave safe, reusable, compact",
            ("color", "teal, coral, sage, lavender, mustard, ivory"),
            ("material", "glass, bamboo, silicone, ceramic, aluminum, copper"),
            ("quantity", "single, pair, trio, set of four, set of six, bulk"),
        ),
        _category(
            "electronics",
            "wireless earbuds, bluetooth speaker, phone charger, power bank, smart watch, webcam",
            "noise cancelling, fast charging, water resistant, portable, rechargeable, usb c, voice control, touch controls",
            ("color", "silver, rose gold, midnight, pearl, graphite, mint"),
            ("edition", "basic, plus, pro, max, lite, ultra"),
            ("bundle", "case only, with cable, with stand, with adapter, gift box, refurbished"),
        ),
    ),
    "bazaar": (
        _category(
            "potions",
            "healing potion, mana elixir, invisibility draught, strength tonic, antidote, fire brew",
            "fast acting, long lasting, odorless, sweet tasting, concentrated, guild certified, unbreakable vial, glowing",
            ("hue", "crimson, azure, emerald, amber, violet, golden"),
            ("vessel", "thimble, dram, flask, jug, cask, barrel"),
            ("potency", "mild, moderate, strong, potent, mighty, legendary"),
        ),
        _category(
            "weapons",
            "longsword, battle axe, war hammer, shortbow, dagger, spear",
            "enchanted, balanced, etched, dwarven forged, elven crafted, serrated, silvered, flaming",
            ("metal", "iron, steel, bronze, mithril, obsidian, adamant"),
            ("grip", "oak, ash, bone, horn, ebony, yew"),
            ("sigil", "wolf, raven, dragon, lion, serpent, stag"),
        ),
        _category(
            "armor",
            "chainmail shirt, plate helm, tower shield, traveling cloak, greaves, gauntlets",
            "padded, riveted, gilded, fireproof, silent, blessed, reinforced, spiked",
            ("build", "halfling, dwarf, human, orc, troll, giant"),
            ("finish", "burnished, blackened, painted, lacquered, enameled, raw"),
            ("crest", "griffin, eagle, boar, bear, owl, hawk"),
        ),
        _category(
            "scrolls",
            "spell scroll, treasure map, spellbook, rune tablet, prophecy, star chart",
            "ancient, illuminated, sealed, annotated, translated, unabridged, cursed, signed",
            ("script", "elvish, dwarvish, draconic, common, infernal, celestial"),
            ("binding", "vellum, parchment, papyrus, silk, bark, hide"),
            ("ink", "soot, indigo, cinnabar, verdigris, sepia, woad"),
        ),
    ),
}
THEMES = (*LEXICONS, "made-up")


def _theme_lexicon(theme: str, seed: int) -> tuple[Category, ...]:
    if theme != "made-up":
        return LEXICONS[theme]
    per_category = TYPES + ATTRIBUTES + DIMENSIONS * (1 + VALUES)
    words = iter(made_up_words(random.Random(f"shop-names/{seed}"), CATEGORIES * (1 + per_category)))

    def take(count: int) -> tuple[str, ...]:
        return tuple(next(words) for _ in range(count))

    return tuple(
        Category(
            next(words), take(TYPES), take(ATTRIBUTES), tuple((next(words), take(VALUES)) for _ in range(DIMENSIONS))
        )
        for _ in range(CATEGORIES)
    )


# ----- the catalogue generator ---------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Product:
    code: str  # shown as [B0...] in results; clicked lower-case
    brand: str
    title: str
    category: str
    product_type: str
    attributes: tuple[str, ...]
    options: tuple[tuple[str, tuple[str, ...]], ...]  # (dimension, the values on offer)
    price: float

    @property
    def description(self) -> str:
        choices = " ".join(f"Choose your {dim} from {len(values)} options." for dim, values in self.options)
        return f"{self.brand} {self.product_type}, from our {self.category} range: {_join(self.attributes)}. {choices}"


@dataclasses.dataclass(frozen=True)
class Goal:
    category: str
    product_type: str
    attributes: tuple[str, ...]
    options: tuple[tuple[str, str], ...]  # (dimension, value) to select
    price_limit: float


@dataclasses.dataclass(frozen=True)
class ShopTask:
    seed: int
    instruction: str
    goal: Goal
    products: tuple[Product, ...]
    target: int  # the product the generator made to fit the goal (others may fit too)
    satisfying: frozenset[int]  # every product that can score 1.0
    keyword_query: (
        str  # the instruction's keywords (attributes, product type, option values), the first admissible search
    )
    keyword_page: int  # the first results page of keyword_query that shows a satisfying product
    searches: tuple[str, ...]  # the admissible searches: keyword_query, then each with one keyword left out
    best_query: (
        str  # the admissible search whose results show a satisfying product on the earliest page (the first such)
    )
    best_page: int  # that page
    optimal_steps: int  # the fewest admissible steps from reset to a perfect purchase
    entities: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class _Spec:
    """A product over abstract ids: category, type, attribute ids, offered values per dimension."""

    category: int
    kind: int
    attributes: tuple[int, ...]
    options: tuple[tuple[int, ...], ...]
    price: float


def _abstract_catalogue(rng: random.Random, bulk: np.random.Generator, config: ShopConfig):
    """The goal and the products over abstract ids; the target is product 0 (before shuffling).

    The goal, the target and the near misses come from ``rng``; the other products, drawn in
    bulk, from ``bulk``.
    """
    base_prices = np.round(bulk.uniform(15, 120, (CATEGORIES, TYPES)), 2)
    category, kind = rng.randrange(CATEGORIES), rng.randrange(TYPES)
    required = tuple(sorted(rng.sample(range(ATTRIBUTES), config.required_attributes)))
    dims = tuple(sorted(rng.sample(range(DIMENSIONS), config.required_options)))
    wanted = {dim: rng.randrange(VALUES) for dim in dims}
    slack = 0.04 + 0.6 * (1.0 - config.price_tightness)
    price = round(float(base_prices[category, kind]) * rng.uniform(0.7, 1.3), 2)
    limit = float(math.ceil(price * (1 + slack)))

    def offered(dim: int, must: int | None, banned: int | None) -> tuple[int, ...]:
        pool = [v for v in range(VALUES) if v != banned]
        chosen = set(rng.sample(pool, rng.randint(2, 5)))
        if must is not None:
            chosen.add(must)
        return tuple(sorted(chosen))

    def fitting(kind_: int, defect: str) -> _Spec:
        free = [a for a in range(ATTRIBUTES) if a not in required]
        attributes = set(required) | set(rng.sample(free, rng.randint(0, 2)))
        if defect == "attribute":
            attributes.discard(rng.choice(required))
            attributes.add(rng.choice(free))
        missing_dim = rng.choice(dims) if defect == "option" else None
        options = tuple(
            offered(d, None if d == missing_dim else wanted.get(d), wanted[d] if d == missing_dim else None)
            for d in range(DIMENSIONS)
        )
        if defect == "price":
            cost = max(limit, round(rng.uniform(limit * 1.01, limit * 1.3), 2))
        else:
            cost = round(rng.uniform(0.6 * limit, 0.99 * limit), 2)
        return _Spec(category, kind_, tuple(sorted(attributes)), options, cost)

    target = dataclasses.replace(fitting(kind, "none"), price=price)
    defects = [
        d
        for d in ("attribute", "option", "price", "type")
        if (d != "attribute" or required) and (d != "option" or dims)
    ]
    specs = [target]
    for index in range(config.near_misses):
        defect = defects[index % len(defects)]
        other_kind = rng.choice([k for k in range(TYPES) if k != kind]) if defect == "type" else kind
        specs.append(fitting(other_kind, defect))
    specs += _random_specs(bulk, config.catalogue_size - len(specs), base_prices)
    return (category, kind, required, tuple((d, wanted[d]) for d in dims), limit), specs


def _random_specs(bulk: np.random.Generator, count: int, base_prices: np.ndarray) -> list[_Spec]:
    """``count`` products of random type, with 1 to 4 attributes and 2 to 5 values per dimension."""
    categories = bulk.integers(0, CATEGORIES, count)
    kinds = bulk.integers(0, TYPES, count)
    attribute_rank = bulk.random((count, ATTRIBUTES)).argsort(axis=1).argsort(axis=1)
    attribute_bits = (attribute_rank < bulk.integers(1, 5, (count, 1))) @ (1 << np.arange(ATTRIBUTES))
    value_rank = bulk.random((count, DIMENSIONS, VALUES)).argsort(axis=2).argsort(axis=2)
    value_bits = (value_rank < bulk.integers(2, 6, (count, DIMENSIONS, 1))) @ (1 << np.arange(VALUES))
    prices = np.round(base_prices[categories, kinds] * bulk.uniform(0.6, 1.5, count), 2).tolist()
    return [
        _Spec(c, k, _SUBSETS[a], tuple(_SUBSETS[v] for v in values), p)
        for c, k, a, values, p in zip(
            categories.tolist(), kinds.tolist(), attribute_bits.tolist(), value_bits.tolist(), prices
        )
    ]


def _codes(bulk: np.random.Generator, count: int) -> list[str]:
    """``count`` distinct product codes such as ``B07ZK3M9QX``."""
    alphabet = np.array(list(string.ascii_uppercase + string.digits))
    codes: list[str] = []
    seen: set[str] = set()
    while len(codes) < count:
        for letters in alphabet[bulk.integers(0, len(alphabet), (count - len(codes), 8))].tolist():
            code = "B0" + "".join(letters)
            if code not in seen:
                seen.add(code)
                codes.append(code)
    return codes


def _article(first_word: str, product_type: str) -> str:
    """``a``/``an`` before a singular product type; nothing before a plural one (``hiking boots``)."""
    if product_type.endswith("s") and not product_type.endswith("ss"):
        return ""
    return "an " if first_word[:1] in "aeiou" else "a "


@dataclasses.dataclass(frozen=True)
class _World:
    """A task with what the environment derives from it once: the search index and code lookups."""

    task: ShopTask
    index: BM25Index
    clickable_codes: tuple[str, ...]  # product codes, lower-case, as clicked
    by_code: dict[str, int]  # never written after it is built


def _world(seed: int, config: ShopConfig, theme: str) -> _World:
    """The task, its search index and code lookups; pure in its arguments (cached by ``_cached_world``).

    A catalogue where the instruction's keywords find no perfect product among a search's
    ``MAX_RESULTS`` is drawn again from a derived seed (none in 200 seeds of any preset).
    """
    attempt = 0
    while (world := _draw_world(seed, attempt, config, theme)) is None:
        attempt += 1
    return world


def _draw_world(seed: int, attempt: int, config: ShopConfig, theme: str) -> _World | None:
    rng = random.Random(f"shop/{seed}" + (f"/{attempt}" if attempt else ""))
    bulk = np.random.default_rng([seed, 5407, attempt] if attempt else [seed, 5407])
    (category, kind, required, wanted, limit), specs = _abstract_catalogue(rng, bulk, config)
    order = bulk.permutation(len(specs)).tolist()
    target_index = order.index(0)
    specs = [specs[i] for i in order]
    codes = _codes(bulk, len(specs))
    brand_of = bulk.integers(0, 24, len(specs)).tolist()
    title_keys = bulk.random((len(specs), ATTRIBUTES)).tolist()
    opener = rng.choice(OPENERS)
    lexicon = _theme_lexicon(theme, seed)
    entities = {name for c in lexicon for name in (c.name, *c.types, *c.attributes)}
    entities |= {name for c in lexicon for dim, values in c.dimensions for name in (dim, *values)}
    brands = [
        word.capitalize() for word in made_up_words(random.Random(f"shop-brands/{seed}"), 24, frozenset(entities))
    ]

    products = []
    names: dict[tuple, Any] = {}  # memo of (category, abstract ids) -> names, shared by many products
    for spec, code, brand_index, keys in zip(specs, codes, brand_of, title_keys):
        cat = lexicon[spec.category]
        attribute_key = (spec.category, spec.attributes)
        if attribute_key not in names:
            names[attribute_key] = tuple(cat.attributes[a] for a in spec.attributes)
        option_key = (spec.category, spec.options)
        if option_key not in names:
            names[option_key] = tuple(
                (dim, tuple(values[v] for v in ids)) for (dim, values), ids in zip(cat.dimensions, spec.options)
            )
        shown = (
            spec.attributes if len(spec.attributes) <= 2 else sorted(sorted(spec.attributes, key=keys.__getitem__)[:2])
        )
        brand, product_type = brands[brand_index], cat.types[spec.kind]
        title = " ".join([brand, *[cat.attributes[a] for a in shown], product_type])
        products.append(
            Product(code, brand, title, cat.name, product_type, names[attribute_key], names[option_key], spec.price)
        )

    cat = lexicon[category]
    goal = Goal(
        cat.name,
        cat.types[kind],
        tuple(cat.attributes[a] for a in required),
        tuple((cat.dimensions[d][0], cat.dimensions[d][1][v]) for d, v in wanted),
        limit,
    )
    described = f"{opener} {_article((goal.attributes or (goal.product_type,))[0], goal.product_type)}"
    described += (", ".join(goal.attributes) + " " if goal.attributes else "") + goal.product_type
    instruction = "".join([described, *(f", and {dim}: {value}" for dim, value in goal.options)])
    instruction += f", and price lower than {limit:.2f} dollars"
    keyword_query = " ".join([*goal.attributes, goal.product_type, *(value for _, value in goal.options)])

    index = BM25Index([_document(product) for product in products])
    satisfying = frozenset(
        i
        for i, product in enumerate(products)
        if product.product_type == goal.product_type and _best_score(product, goal) == 1.0
    )
    keywords = [*goal.attributes, goal.product_type, *(value for _, value in goal.options)]
    searches = [keyword_query]
    if len(keywords) > 1:
        searches += dict.fromkeys(" ".join(keywords[:i] + keywords[i + 1 :]) for i in range(len(keywords)))
    pages = []
    for ranked in index.search_many(searches, MAX_RESULTS):
        ranks = [rank for rank, i in enumerate(ranked) if i in satisfying]
        pages.append(ranks[0] // config.results_per_page if ranks else MAX_RESULTS)
    if pages[0] == MAX_RESULTS:
        return None
    best = pages.index(min(pages))
    task = ShopTask(
        seed=seed,
        instruction=instruction,
        goal=goal,
        products=tuple(products),
        target=target_index,
        satisfying=satisfying,
        keyword_query=keyword_query,
        keyword_page=pages[0],
        searches=tuple(searches),
        best_query=searches[best],
        best_page=pages[best],
        optimal_steps=3 + pages[best] + len(goal.options),  # search, page on, click the product, each option, buy
        entities=tuple(sorted(entities)),
    )
    clickable_codes = tuple(product.code.lower() for product in products)
    by_code = {code: i for i, code in enumerate(clickable_codes)}
    return _World(task, index, clickable_codes, by_code)


@functools.lru_cache(maxsize=64)
def _cached_world(seed: int, config: ShopConfig, theme: str) -> _World:
    return _world(seed, config, theme)


def generate_task(seed: int, config: ShopConfig, theme: str) -> ShopTask:
    """A Shop task: catalogue, instruction and oracle plan. Pure in its arguments (and cached)."""
    return _cached_world(seed, config, theme).task


def _join(words: tuple[str, ...]) -> str:
    if not words:
        return "well made"
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _document(product: Product) -> str:
    """What the search index sees of a product: code, title, type, category, attributes, options."""
    values = " ".join(value for _, offered in product.options for value in offered)
    return f"{product.code} {product.title} {product.product_type} {product.category} {' '.join(product.attributes)} {values}"


# ----- the WebShop-style match score ---------------------------------------------------------


def match_score(product: Product, selected: dict[str, str], goal: Goal) -> float:
    """Reward for buying ``product`` with ``selected`` options, as WebShop scores a purchase.

    The share of the goal's attributes, options and price condition that the purchase meets,
    times a type factor: 1 for the right product type, 0.5 for the right category, 0.1 otherwise.
    """
    type_factor = (
        1.0 if product.product_type == goal.product_type else 0.5 if product.category == goal.category else 0.1
    )
    attributes = sum(attribute in product.attributes for attribute in goal.attributes)
    options = sum(selected.get(dim) == value for dim, value in goal.options)
    price = 1 if product.price < goal.price_limit else 0
    return type_factor * (attributes + options + price) / (len(goal.attributes) + len(goal.options) + 1)


def _best_score(product: Product, goal: Goal) -> float:
    """The score of ``product`` bought with the best options it offers."""
    offered = dict(product.options)
    return match_score(product, {dim: value for dim, value in goal.options if value in offered.get(dim, ())}, goal)


# ----- the environment -----------------------------------------------------------------------

GRAMMAR = Grammar(
    [
        CommandSpec(
            "search",
            "search[{query}]",
            (Arg("query", "text", "search keywords"),),
            "search the shop (only on the search page)",
        ),
        CommandSpec(
            "click",
            "click[{target}]",
            (Arg("target", "text", "a clickable shown in [brackets] on the page"),),
            "click a button, a product code or an option shown in [brackets]",
        ),
    ]
)


class ShopEnv(TextEnv[ShopConfig, ShopTask]):
    """Find and buy the product the instruction describes, with the right options, under the price.

    Example:
        >>> import gymnasium as gym, llm_gym
        >>> env = gym.make("llm_gym/Shop-v0", difficulty="medium")
        >>> observation, info = env.reset(seed=0)
        >>> info["optimal_steps"], info["view"]["page"]
        (4, 'search')
    """

    family = "Shop"
    config_class = ShopConfig
    presets = PRESETS
    themes = THEMES
    grammar = GRAMMAR
    rules = (
        "You are shopping in a web shop. Find the product the instruction asks for, select the "
        "options it names on the product page, and buy it with [Buy Now]. Search from the search "
        "page; results, product pages and their buttons show clickables in [brackets]. The purchase "
        "is scored on product type, attributes, options and price; only a perfect match counts as success."
    )

    @classmethod
    def generate_task(cls, seed: int, config: ShopConfig, theme: str) -> ShopTask:
        return generate_task(seed, config, theme)

    @classmethod
    def default_max_turns(cls, config: ShopConfig) -> int:
        """15 turns plus 3 per option, and always 2 more than the longest optimum the knobs allow
        (a perfect product first shown on the last of the 50 results' pages)."""
        return max(15 + 3 * config.required_options, cls.longest_optimum(config) + 2)

    @staticmethod
    def longest_optimum(config: ShopConfig) -> int:
        return 3 + config.required_options + math.ceil(MAX_RESULTS / config.results_per_page) - 1

    def _start(self, task: ShopTask) -> str:
        world = _cached_world(task.seed, self.config, self.theme)
        self._index, self._codes, self._by_code = world.index, world.clickable_codes, world.by_code
        self._clickables_memo: tuple[tuple, list[str]] = ((), [])
        self.page = "search"
        self.query = ""
        self.results: list[int] = []
        self.results_page = 0
        self.product: int | None = None
        self.selected: dict[str, str] = {}
        return ""

    def state_key(self) -> str:
        """Page, query, results page, product and selections: all the dynamics read (the results
        are a function of the query), and the outcome."""
        selected = ",".join(f"{dim}={value}" for dim, value in sorted(self.selected.items()))
        return f"{self.outcome}|{self.page}|{self.query}|{self.results_page}|{self.product}|{selected}|{self.score!r}"

    _SHARED = ("_task", "_index", "_codes", "_by_code")  # frozen or never written: copies share them

    def __deepcopy__(self, memo: dict) -> ShopEnv:
        """A copy that shares the frozen world (catalogue, index, code lookups) and copies the rest."""
        for name in self._SHARED:
            if getattr(self, name, None) is not None:
                memo[id(getattr(self, name))] = getattr(self, name)
        clone = object.__new__(type(self))
        memo[id(self)] = clone
        clone.__dict__.update({key: copy.deepcopy(value, memo) for key, value in vars(self).items()})
        return clone

    def __getstate__(self) -> dict[str, Any]:
        """Pickles without the world: it is a pure function of (task seed, config, theme), rebuilt on load."""
        state = {key: value for key, value in vars(self).items() if key not in self._SHARED}
        state["_clickables_memo"] = ((), [])
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        if "task_seed" in state:
            world = _cached_world(self.task_seed, self.config, self.theme)
            self._task, self._index, self._codes, self._by_code = (
                world.task,
                world.index,
                world.clickable_codes,
                world.by_code,
            )
        else:
            self._task = None

    # --- dynamics

    def _transition(self, command: Command) -> Transition:
        if command.verb == "search":
            if self.page != "search":
                return Transition(
                    f"There is no search box on this page. Click [{BUTTON_LABELS[BACK]}] first.", status="illegal"
                )
            self.query = command.args[0]
            self.results = self._index.search(self.query, MAX_RESULTS)
            self.results_page, self.page = 0, "results"
            return Transition(f'You searched for "{self.query}".')
        target = command.args[0].lower()
        clickables = self._clickables()
        if target not in clickables:
            shown = ", ".join(f"[{c}]" for c in clickables) or "none (use search[...])"
            return Transition(f'There is no "{target}" to click here. Clickables: {shown}.', status="illegal")
        if target == BACK:
            self.page, self.product, self.selected = "search", None, {}
            return Transition("Back at the search page.")
        if target in (NEXT, PREV) and self.page == "results":
            self.results_page += 1 if target == NEXT else -1
            return Transition(f"Page {self.results_page + 1} of the results.")
        if target == PREV:
            if self.page == "item":
                self.page, self.product, self.selected = "results", None, {}
                return Transition("Back to the results.")
            self.page = "item"
            return Transition("Back to the product page.")
        if self.page == "results":
            self.page, self.product, self.selected = "item", self._by_code[target], {}
            return Transition("You opened a product page.")
        if target in (DESCRIPTION, FEATURES):
            self.page = target
            return Transition(f"The product's {target}.")
        if target == BUY:
            product = self._open_product()
            score = match_score(product, self.selected, self.task.goal)
            chosen = ", ".join(f"{dim}: {value}" for dim, value in self.selected.items()) or "no options"
            text = f"You bought {product.title} ({chosen}) for ${product.price:.2f}. Your score is {score:.2f}."
            self.page = "done"
            return Transition(text, reward=score, outcome="success" if score == 1.0 else "failure", score=score)
        dim = next(d for d, values in self._open_product().options if target in values)
        self.selected[dim] = target
        return Transition(f"You selected {dim}: {target}.")

    def _open_product(self) -> Product:
        """The product whose pages are open (the item, description and features pages have one)."""
        if self.product is None:
            raise RuntimeError(f"No product is open on the {self.page!r} page")
        return self.task.products[self.product]

    def _page_codes(self) -> list[int]:
        per = self.config.results_per_page
        return self.results[self.results_page * per : (self.results_page + 1) * per]

    def _clickables(self) -> list[str]:
        """What can be clicked on the current page, lower-case, in page order (memoized per page)."""
        key = (self.page, self.query, self.results_page, self.product)
        if self._clickables_memo[0] != key:
            self._clickables_memo = (key, self._list_clickables())
        return self._clickables_memo[1]

    def _list_clickables(self) -> list[str]:
        if self.page in ("search", "done"):
            return []
        if self.page == "results":
            more = (self.results_page + 1) * self.config.results_per_page < len(self.results)
            buttons = [BACK] + ([PREV] if self.results_page > 0 else []) + ([NEXT] if more else [])
            return buttons + [self._codes[i] for i in self._page_codes()]
        if self.page == "item":
            values = [value for _, offered in self._open_product().options for value in offered]
            return [BACK, PREV, *values, DESCRIPTION, FEATURES, BUY]
        return [BACK, PREV]

    # --- what the agent sees

    def _view(self) -> dict[str, Any]:
        view: dict[str, Any] = {"feedback": self._feedback, "page": self.page, "instruction": self.task.instruction}
        if self.page == "results":
            products = self.task.products
            view["query"] = self.query
            view["page_number"] = self.results_page + 1
            view["total_results"] = len(self.results)
            view["results"] = [
                {"code": products[i].code, "title": products[i].title, "price": products[i].price}
                for i in self._page_codes()
            ]
        elif self.product is not None:
            product = self.task.products[self.product]
            view["code"], view["title"], view["price"] = product.code, product.title, product.price
            if self.page in ("item", "done"):
                view["options"] = [{"name": dim, "values": list(values)} for dim, values in product.options]
                view["selected"] = dict(self.selected)
            elif self.page == DESCRIPTION:
                view["description"] = product.description
            else:
                view["features"] = list(product.attributes) + [f"category: {product.category}"]
        view["clickables"] = list(self._clickables())
        return view

    def render_view(self, view: dict[str, Any], first: bool) -> str:
        lines = [view["feedback"]] if view["feedback"] else []
        lines.append(f"Instruction: {view['instruction']}")
        buttons = [BUTTON_LABELS[c] for c in view["clickables"] if c in (BACK, PREV, NEXT)]
        page = view["page"]
        if page == "search":
            lines.append("[Search] Write search[your keywords].")
        elif page == "done":
            chosen = ", ".join(f"{dim}: {value}" for dim, value in view["selected"].items())
            lines.append("Thank you for shopping with us!")
            lines.append(f"Bought: [{view['code']}] {view['title']} | ${view['price']:.2f} | {chosen or 'no options'}")
        elif page == "results":
            lines.append(" ".join(f"[{b}]" for b in buttons))
            lines.append(
                f'Results for "{view["query"]}": page {view["page_number"]} (total results: {view["total_results"]})'
            )
            lines += [f"[{r['code']}] {r['title']} | ${r['price']:.2f}" for r in view["results"]]
            if not view["results"]:
                lines.append("No products match your search.")
        else:
            lines.append(" ".join(f"[{b}]" for b in buttons))
            lines.append(f"{view['title']} | Price: ${view['price']:.2f}")
            if page == "item":
                lines += [
                    f"{option['name']}: " + " ".join(f"[{v}]" for v in option["values"]) for option in view["options"]
                ]
                chosen = ", ".join(f"{dim}: {value}" for dim, value in view["selected"].items())
                lines.append(f"Selected: {chosen or 'nothing yet'}")
                lines.append(" ".join(f"[{BUTTON_LABELS[c]}]" for c in (DESCRIPTION, FEATURES, BUY)))
            elif page == DESCRIPTION:
                lines.append(f"Description: {view['description']}")
            else:
                lines.append("Features:\n" + "\n".join(f"- {feature}" for feature in view["features"]))
        return "\n".join(lines)

    def _admissible(self) -> list[Command]:
        if self.page == "search":
            return [Command("search", (query,)) for query in self.task.searches]
        return [Command("click", (target,)) for target in self._clickables()]

    def _admissible_texts(self) -> list[str]:
        """The same as rendering ``_admissible()`` through the grammar, without building commands."""
        if self.page == "search":
            return [f"search[{query}]" for query in self.task.searches]
        return [f"click[{target}]" for target in self._clickables()]

    # --- the oracle

    def _restart_cost(self) -> int:
        """Steps from a page with [Back to Search] to a satisfying product's page: back, the best
        admissible search, page on to the first satisfying product, click it."""
        return 3 + self.task.best_page

    def _results_plan(self) -> tuple[int, Command]:
        """Fewest steps from the current results page to a satisfying product's page, and the first move."""
        per = self.config.results_per_page
        best = (self._restart_cost(), Command("click", (BACK,)))
        for rank, index in enumerate(self.results):
            if index in self.task.satisfying:
                page = rank // per
                cost = abs(page - self.results_page) + 1
                if cost < best[0]:
                    if page == self.results_page:
                        move = self._codes[index]
                    else:
                        move = NEXT if page > self.results_page else PREV
                    best = (cost, Command("click", (move,)))
        return best

    def _item_plan(self) -> tuple[int, Command]:
        """From an item page: steps to a satisfying product's page with nothing selected, and the move."""
        results_cost, _ = self._results_plan()
        if 1 + results_cost < self._restart_cost():
            return 1 + results_cost, Command("click", (PREV,))
        return self._restart_cost(), Command("click", (BACK,))

    def oracle_cost(self) -> int:
        """The oracle's number of steps from the current state to a perfect purchase."""
        finish = len(self.task.goal.options) + 1
        if self.page == "search":
            return self._restart_cost() - 1 + finish
        if self.page == "results":
            return self._results_plan()[0] + finish
        fits = self.product in self.task.satisfying
        if fits:
            missing = sum(self.selected.get(dim) != value for dim, value in self.task.goal.options)
            return (0 if self.page == "item" else 1) + missing + 1
        cost = self._item_plan()[0]
        return (cost if self.page == "item" else min(1 + cost, self._restart_cost())) + finish

    def _oracle(self) -> Command:
        if self.page == "search":
            return Command("search", (self.task.best_query,))
        if self.page == "results":
            return self._results_plan()[1]
        if self.product in self.task.satisfying:
            if self.page != "item":
                return Command("click", (PREV,))
            for dim, value in self.task.goal.options:
                if self.selected.get(dim) != value:
                    return Command("click", (value,))
            return Command("click", (BUY,))
        if self.page == "item":
            return self._item_plan()[1]
        return Command("click", (PREV if 1 + self._item_plan()[0] < self._restart_cost() else BACK,))


register_family(ShopEnv)
