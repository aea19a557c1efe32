"""Shop: buy the product an instruction asks for in a generated web shop, as in the study's WebShop.

Read top to bottom: difficulty knobs and presets, the themes' catalogues (departments, product
types with the attributes, option dimensions, prices and brands that fit them), the catalogue
generator (an abstract catalogue over ids, then names, then a BM25 index over the product pages),
the WebShop-style match score, and the environment: a search page, paged results, item pages with
options, description and features sub-pages, and ``Buy Now``.

The default theme ``shop`` is grounded: its 130 product types in 15 departments
(``llm_gym/data/shop_catalogue.json``) agree with common knowledge, so a hiking boot can be
waterproof and comes in shoe sizes, a laptop has memory and storage options and never costs $5.
``made-up`` renames that catalogue with made-up words (the same seed gives the same abstract task);
``bazaar`` is a smaller fantasy market.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import json
import math
import random
import string
from importlib import resources
from typing import Any, NamedTuple

import numpy as np

from llm_gym.core import LazySequence, TextEnv, Transition
from llm_gym.difficulty import Config, knob
from llm_gym.grammar import Arg, Command, CommandSpec, Grammar
from llm_gym.registry import register_family
from llm_gym.retrieval import BM25Index, tokenize
from llm_gym.themes import made_up_words

MAX_RESULTS = 50  # results kept per search, as WebShop keeps 50
DIMENSIONS = 3  # option dimensions of every product type
MAX_ATTRIBUTES, MAX_VALUES = 8, 10  # per product type, per option dimension
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
_SUBSETS = tuple(tuple(i for i in range(MAX_VALUES) if bits >> i & 1) for bits in range(1 << MAX_VALUES))
OPENERS = ("i need this:", "i'm looking for:", "please find:", "wanted:", "shopping list:")  # no article to agree


@dataclasses.dataclass(frozen=True)
class ShopConfig(Config):
    catalogue_size: int = knob(40, 10, 1000, "products in the catalogue")
    departments: int = knob(2, 1, 15, "departments whose product types fill the catalogue (the goal's and others)")
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
        departments=2,
        required_attributes=1,
        required_options=0,
        near_misses=1,
        price_tightness=0.0,
        results_per_page=10,
    ),
    "medium": ShopConfig(
        catalogue_size=90,
        departments=3,
        required_attributes=2,
        required_options=1,
        near_misses=6,
        price_tightness=0.3,
        results_per_page=10,
    ),
    "hard": ShopConfig(
        catalogue_size=140,
        departments=3,
        required_attributes=2,
        required_options=2,
        near_misses=12,
        price_tightness=0.6,
        results_per_page=5,
    ),
    "expert": ShopConfig(
        catalogue_size=200,
        departments=4,
        required_attributes=3,
        required_options=3,
        near_misses=24,
        price_tightness=0.9,
        results_per_page=5,
    ),
}

# ----- themes: a catalogue of departments, product types and option dimensions ---------------


@dataclasses.dataclass(frozen=True)
class ProductType:
    name: str
    department: int
    price: tuple[float, float]  # the plausible range, in dollars
    attributes: tuple[str, ...]  # 6 to MAX_ATTRIBUTES attributes such a product can have
    dimensions: tuple[int, ...]  # DIMENSIONS indices into Catalogue.dimensions


@dataclasses.dataclass(frozen=True)
class Department:
    name: str
    brands: tuple[str, ...]
    types: tuple[int, ...]  # indices into Catalogue.types


@dataclasses.dataclass(frozen=True)
class Catalogue:
    """A theme's world: departments with their brands and product types, and option dimensions
    (a name and its values, 4 to MAX_VALUES of them)."""

    departments: tuple[Department, ...]
    types: tuple[ProductType, ...]
    dimensions: tuple[tuple[str, tuple[str, ...]], ...]

    def kinds(self) -> dict[str, str]:
        """Every name, mapped to its kind: department, brand, product type, attribute, dimension,
        or the dimension whose value it is."""
        kinds = {name: dim for dim, values in self.dimensions for name in values}
        kinds |= {dim: "dimension" for dim, _ in self.dimensions}
        kinds |= {kind.name: "product type" for kind in self.types}
        kinds |= {name: "attribute" for kind in self.types for name in kind.attributes}
        kinds |= {department.name: "department" for department in self.departments}
        kinds |= {brand: "brand" for department in self.departments for brand in department.brands}
        return kinds

    def renamed(self, names: dict[str, str]) -> Catalogue:
        """The same catalogue with every name replaced through ``names``."""
        return Catalogue(
            tuple(Department(names[d.name], tuple(names[b] for b in d.brands), d.types) for d in self.departments),
            tuple(
                dataclasses.replace(kind, name=names[kind.name], attributes=tuple(names[a] for a in kind.attributes))
                for kind in self.types
            ),
            tuple((names[dim], tuple(names[v] for v in values)) for dim, values in self.dimensions),
        )


def _catalogue_from(departments: list[dict[str, Any]], dimensions: dict[str, list[str]]) -> Catalogue:
    dim_index = {dim: i for i, dim in enumerate(dimensions)}
    types: list[ProductType] = []
    built: list[Department] = []
    for number, department in enumerate(departments):
        first = len(types)
        for kind in department["types"]:
            low, high = kind["price"]
            dims = tuple(dim_index[dim] for dim in kind["options"])
            types.append(ProductType(kind["name"], number, (float(low), float(high)), tuple(kind["attributes"]), dims))
        built.append(Department(department["name"], tuple(department["brands"]), tuple(range(first, len(types)))))
    return Catalogue(tuple(built), tuple(types), tuple((dim, tuple(values)) for dim, values in dimensions.items()))


@functools.cache
def grounded_catalogue() -> Catalogue:
    """The ``shop`` theme's catalogue, read once from ``llm_gym/data/shop_catalogue.json``."""
    data = json.loads(resources.files("llm_gym").joinpath("data/shop_catalogue.json").read_text())
    return _catalogue_from(data["departments"], data["dimensions"])


BAZAAR = {  # department: (product types, attributes, option dimensions); brands are made-up words
    "potions": (
        "healing potion, mana elixir, invisibility draught, strength tonic, antidote, fire brew",
        "fast acting, long lasting, odorless, sweet tasting, concentrated, guild certified, unbreakable vial, glowing",
        {
            "hue": "crimson, azure, emerald, amber, violet, golden",
            "vessel": "thimble, dram, flask, jug, cask, barrel",
            "potency": "mild, moderate, strong, potent, mighty, legendary",
        },
    ),
    "weapons": (
        "longsword, battle axe, war hammer, shortbow, dagger, spear",
        "enchanted, balanced, etched, dwarven forged, elven crafted, serrated, silvered, flaming",
        {
            "metal": "iron, steel, bronze, mithril, obsidian, adamant",
            "grip": "oak, ash, bone, horn, ebony, yew",
            "sigil": "wolf, raven, dragon, lion, serpent, stag",
        },
    ),
    "armor": (
        "chainmail shirt, plate helm, tower shield, traveling cloak, greaves, gauntlets",
        "padded, riveted, gilded, fireproof, silent, blessed, reinforced, spiked",
        {
            "build": "halfling, dwarf, human, orc, troll, giant",
            "finish": "burnished, blackened, painted, lacquered, enameled, raw",
            "crest": "griffin, eagle, boar, bear, owl, hawk",
        },
    ),
    "scrolls": (
        "spell scroll, treasure map, spellbook, rune tablet, prophecy, star chart",
        "ancient, illuminated, sealed, annotated, translated, unabridged, cursed, signed",
        {
            "script": "elvish, dwarvish, draconic, common, infernal, celestial",
            "binding": "vellum, parchment, papyrus, silk, bark, hide",
            "ink": "soot, indigo, cinnabar, verdigris, sepia, woad",
        },
    ),
}


def _names(text: str) -> list[str]:
    return [part.strip() for part in text.split(",")]


@functools.cache
def _bazaar_catalogue() -> Catalogue:
    taken = frozenset(name for types, attributes, dims in BAZAAR.values() for name in _names(types + ", " + attributes))
    brands = iter(made_up_words(random.Random("shop-bazaar-brands"), 6 * len(BAZAAR), taken))
    departments = [
        {
            "name": name,
            "brands": [next(brands) for _ in range(6)],
            "types": [
                {"name": kind, "price": [15, 120], "attributes": _names(attributes), "options": list(dims)}
                for kind in _names(types)
            ],
        }
        for name, (types, attributes, dims) in BAZAAR.items()
    ]
    dimensions = {dim: _names(values) for _, _, dims in BAZAAR.values() for dim, values in dims.items()}
    return _catalogue_from(departments, dimensions)


@functools.cache
def _made_up_catalogue() -> Catalogue:
    """The grounded catalogue with each name (every word of it) replaced by a made-up word."""
    grounded = grounded_catalogue()
    words = sorted({word for name in grounded.kinds() for word in name.split()})
    made_up = dict(zip(words, made_up_words(random.Random("shop-made-up"), len(words), frozenset(words))))
    return grounded.renamed({name: " ".join(made_up[word] for word in name.split()) for name in grounded.kinds()})


THEMES = ("shop", "bazaar", "made-up")
_CATALOGUES = {"shop": grounded_catalogue, "bazaar": _bazaar_catalogue, "made-up": _made_up_catalogue}


def theme_catalogue(theme: str) -> Catalogue:
    return _CATALOGUES[theme]()


@functools.cache
def _world_relations() -> frozenset[tuple[str, ...]]:
    catalogue = grounded_catalogue()
    facts = {("has_value", dim, value) for dim, values in catalogue.dimensions for value in values}
    for department in catalogue.departments:
        facts |= {("sells_in", brand, department.name) for brand in department.brands}
    for kind in catalogue.types:
        facts.add(("in_department", kind.name, catalogue.departments[kind.department].name))
        facts |= {("has_attribute", kind.name, name) for name in kind.attributes}
        for dim in kind.dimensions:
            name, values = catalogue.dimensions[dim]
            facts.add(("has_dimension", kind.name, name))
            facts |= {("has_option", kind.name, value) for value in values}
    return frozenset(facts)


@dataclasses.dataclass(frozen=True)
class _Tables:
    """A catalogue's shape as arrays, built once per process, for drawing products in bulk."""

    type_department: np.ndarray  # (types,)
    attribute_count: np.ndarray  # (types,)
    value_count: np.ndarray  # (types, DIMENSIONS)
    price_low: np.ndarray  # (types,)
    price_high: np.ndarray  # (types,)


@functools.cache
def _tables(theme: str) -> _Tables:
    catalogue = theme_catalogue(theme)
    types = catalogue.types
    return _Tables(
        np.array([kind.department for kind in types]),
        np.array([len(kind.attributes) for kind in types]),
        np.array([[len(catalogue.dimensions[d][1]) for d in kind.dimensions] for kind in types]),
        np.array([kind.price[0] for kind in types]),
        np.array([kind.price[1] for kind in types]),
    )


@functools.lru_cache(maxsize=256)  # thousands of department sets, a few KiB each: keep the recent ones
def _entities(theme: str, departments: tuple[int, ...]) -> tuple[str, ...]:
    """The names a catalogue over ``departments`` can show: the departments, their brands, their
    product types with those types' attributes, option dimensions and values (sorted)."""
    return tuple(sorted(set().union(*(_department_entities(theme, number) for number in departments))))


@functools.cache
def _department_entities(theme: str, number: int) -> frozenset[str]:
    catalogue = theme_catalogue(theme)
    department = catalogue.departments[number]
    names = {department.name, *department.brands}
    for kind in department.types:
        names |= {catalogue.types[kind].name, *catalogue.types[kind].attributes}
        for dim in catalogue.types[kind].dimensions:
            names |= {catalogue.dimensions[dim][0], *catalogue.dimensions[dim][1]}
    return frozenset(names)


# ----- the catalogue generator ---------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Product:
    code: str  # shown as [B0...] in results; clicked lower-case
    brand: str
    title: str
    category: str  # the department
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

    @property
    def text(self) -> str:
        """The goal in words: attributes, product type, options and price limit (no opener)."""
        described = ", ".join(self.attributes) + " " if self.attributes else ""
        options = "".join(f", and {dim}: {value}" for dim, value in self.options)
        return f"{described}{self.product_type}{options}, and price lower than {self.price_limit:.2f} dollars"


@dataclasses.dataclass(frozen=True)
class ShopTask:
    seed: int
    instruction: str
    goal: Goal
    products: Products  # a sequence of the catalogue's products, built as they are read
    target: int  # the product the generator made to fit the goal (others may fit too)
    satisfying: frozenset[int]  # every product that can score 1.0
    keyword_query: str  # the instruction's keywords (attributes, product type, option values), the first search
    keyword_page: int  # the first results page of keyword_query that shows a satisfying product
    searches: tuple[str, ...]  # the admissible searches: keyword_query, then each with one keyword left out
    best_query: str  # the admissible search showing a satisfying product on the earliest page (the first such)
    best_page: int  # that page
    optimal_steps: int  # the fewest admissible steps from reset to a perfect purchase
    entities: tuple[str, ...]
    goal_text: str  # the goal in the task's own names (the instruction without its opener)
    structure: str  # "a<attributes>.o<options>.p<best page>", naming no entity


class _Spec(NamedTuple):
    """A product over ids: its type, attribute columns (into the type's attributes), and per
    option dimension of the type the offered value ids."""

    kind: int
    attributes: tuple[int, ...]
    options: tuple[tuple[int, ...], ...]
    price: float


@dataclasses.dataclass(frozen=True)
class _Draft:
    """Products over ids, as arrays: the type, the attribute columns and, per option dimension of
    the type, the offered values as bit masks (bit ``a``: column ``a``), and the price."""

    kinds: np.ndarray  # (products,)
    attributes: np.ndarray  # (products,)
    values: np.ndarray  # (products, DIMENSIONS)
    prices: np.ndarray  # (products,)

    @classmethod
    def of(cls, specs: list[_Spec]) -> _Draft:
        return cls(
            np.array([spec.kind for spec in specs], np.int64),
            np.array([sum(1 << a for a in spec.attributes) for spec in specs], np.int64),
            np.array([[sum(1 << v for v in ids) for ids in spec.options] for spec in specs], np.int64),
            np.array([spec.price for spec in specs], np.float64),
        )

    def then(self, other: _Draft) -> _Draft:
        return _Draft(*(np.concatenate([mine, theirs]) for mine, theirs in zip(self.fields(), other.fields())))

    def reordered(self, order: np.ndarray) -> _Draft:
        return _Draft(*(array[order] for array in self.fields()))

    def fields(self) -> tuple[np.ndarray, ...]:
        return self.kinds, self.attributes, self.values, self.prices


def _abstract_catalogue(rng: random.Random, bulk: np.random.Generator, config: ShopConfig, theme: str):
    """The goal and the products over ids; the target is product 0 (before shuffling).

    The goal, the departments, the target and the near misses come from ``rng``; the other
    products, drawn in bulk, from ``bulk``.
    """
    catalogue, tables = theme_catalogue(theme), _tables(theme)
    department = rng.randrange(len(catalogue.departments))
    others = [d for d in range(len(catalogue.departments)) if d != department]
    departments = (department, *rng.sample(others, min(config.departments, len(catalogue.departments)) - 1))
    pool = np.array([kind for d in departments for kind in catalogue.departments[d].types])
    low, high = tables.price_low, tables.price_high
    base_prices = low * (high / low) ** bulk.uniform(0.2, 0.8, len(low))  # per type, for this seed

    goal_type = catalogue.types[kind := rng.choice(catalogue.departments[department].types)]
    required = tuple(sorted(rng.sample(range(len(goal_type.attributes)), config.required_attributes)))
    dims = tuple(sorted(rng.sample(range(DIMENSIONS), config.required_options)))
    wanted = {goal_type.dimensions[d]: rng.randrange(tables.value_count[kind, d]) for d in dims}
    slack = 0.04 + 0.6 * (1.0 - config.price_tightness)
    price = round(float(np.clip(base_prices[kind] * rng.uniform(0.7, 1.3), low[kind], high[kind])), 2)
    limit = float(math.ceil(price * (1 + slack)))
    asked = {goal_type.attributes[a] for a in required}

    def offered(count: int, must: int | None, banned: int | None) -> tuple[int, ...]:
        pool_ = [v for v in range(count) if v != banned]
        chosen = set(rng.sample(pool_, rng.randint(2, min(5, len(pool_)))))
        if must is not None:
            chosen.add(must)
        return tuple(sorted(chosen))

    def fitting(kind_: int, defect: str) -> _Spec:
        """A product of ``kind_`` with every asked attribute and option it can have, save the defect."""
        names = catalogue.types[kind_].attributes
        have = [a for a, name in enumerate(names) if name in asked]
        free = [a for a in range(len(names)) if a not in have]
        attributes = set(have) | set(rng.sample(free, rng.randint(0, 2)))
        if defect == "attribute":
            attributes.discard(rng.choice(have))
            attributes.add(rng.choice(free))
        type_dims = catalogue.types[kind_].dimensions
        missing = rng.choice([d for d in type_dims if d in wanted]) if defect == "option" else None
        options = tuple(
            offered(
                len(catalogue.dimensions[d][1]),
                None if d == missing else wanted.get(d),
                wanted[d] if d == missing else None,
            )
            for d in type_dims
        )
        if defect == "price":
            cost = max(limit, round(rng.uniform(limit * 1.01, limit * 1.3), 2))
        else:
            cost = round(rng.uniform(0.6 * limit, 0.99 * limit), 2)
        return _Spec(kind_, tuple(sorted(attributes)), options, cost)

    target = fitting(kind, "none")._replace(price=price)
    defects = [
        d
        for d in ("attribute", "option", "price", "type")
        if (d != "attribute" or required) and (d != "option" or dims)
    ]
    neighbours = [k for k in catalogue.departments[department].types if k != kind]
    overlap = {k: len(asked.intersection(catalogue.types[k].attributes)) for k in neighbours}
    closest = [k for k in neighbours if overlap[k] == max(overlap.values())]  # the other types nearest the goal
    specs = [target]
    for index in range(config.near_misses):
        defect = defects[index % len(defects)]
        specs.append(fitting(rng.choice(closest) if defect == "type" else kind, defect))
    draft = _Draft.of(specs).then(_random_specs(bulk, config.catalogue_size - len(specs), pool, base_prices, tables))
    goal = (department, kind, required, tuple(sorted(wanted.items())), limit)
    return goal, departments, draft


def _random_specs(
    bulk: np.random.Generator, count: int, pool: np.ndarray, base_prices: np.ndarray, tables: _Tables
) -> _Draft:
    """``count`` products of types drawn from ``pool``, with 1 to 4 attributes and 2 to 5 values per
    dimension, priced around the type's price for this seed and within its range."""
    kinds = pool[bulk.integers(0, len(pool), count)]
    columns = np.arange(MAX_ATTRIBUTES)
    attribute_keys = bulk.random((count, MAX_ATTRIBUTES)) + (columns >= tables.attribute_count[kinds][:, None])
    attribute_rank = attribute_keys.argsort(axis=1).argsort(axis=1)
    attribute_bits = (attribute_rank < bulk.integers(1, 5, (count, 1))) @ (1 << columns)
    values = np.arange(MAX_VALUES)
    counts = tables.value_count[kinds]
    value_keys = bulk.random((count, DIMENSIONS, MAX_VALUES)) + (values >= counts[:, :, None])
    value_rank = value_keys.argsort(axis=2).argsort(axis=2)
    offered = np.minimum(bulk.integers(2, 6, (count, DIMENSIONS)), counts)
    value_bits = (value_rank < offered[:, :, None]) @ (1 << values)
    prices = base_prices[kinds] * bulk.uniform(0.6, 1.5, count)
    prices = np.round(np.clip(prices, tables.price_low[kinds], tables.price_high[kinds]), 2)
    return _Draft(kinds.astype(np.int64), attribute_bits.astype(np.int64), value_bits.astype(np.int64), prices)


_CODE_LETTERS = np.frombuffer((string.ascii_uppercase + string.digits).encode(), np.uint8)


def _codes(bulk: np.random.Generator, count: int) -> list[str]:
    """``count`` distinct product codes such as ``B07ZK3M9QX``."""
    codes: dict[str, None] = {}
    while len(codes) < count:
        letters = _CODE_LETTERS[bulk.integers(0, len(_CODE_LETTERS), (count - len(codes), 8))]
        codes.update(dict.fromkeys("B0" + code for code in letters.view("S8").ravel().astype(str).tolist()))
    return list(codes)


class _TypeNames(NamedTuple):
    name: str
    department: str
    brands: tuple[str, ...]  # capitalized, as pages show them
    attributes: tuple[str, ...]
    options: tuple[tuple[str, tuple[str, ...]], ...]  # per option dimension: its name and values


@dataclasses.dataclass(frozen=True)
class _Lexicon:
    """A theme's product types by name, and the index's words of every name a product of a type
    can show, as word ids over one word list (``_occurrences`` puts documents together with them)."""

    types: tuple[_TypeNames, ...]
    words: tuple[str, ...]
    slots: np.ndarray  # [type, slot, word]: word ids, padded with -1; slots as _SLOTS
    brand_count: np.ndarray  # [type]
    kinds_named: dict[str, tuple[int, ...]]  # the types of each name


# A product type's name slots: its department's brands, its attributes, each option dimension's
# values, the type's name and its department's.
_BRAND_SLOTS, _ATTRIBUTE_SLOTS, _VALUE_SLOTS = 6, MAX_ATTRIBUTES, DIMENSIONS * MAX_VALUES
_SLOTS = _BRAND_SLOTS + _ATTRIBUTE_SLOTS + _VALUE_SLOTS + 2
_BITS = ((np.arange(1 << MAX_VALUES)[:, None] >> np.arange(MAX_VALUES)) & 1).astype(np.int8)  # [mask, bit]


@functools.cache
def _lexicon(theme: str) -> _Lexicon:
    catalogue = theme_catalogue(theme)
    ids: dict[str, int] = {}
    width = max(len(tokenize(name)) for name in catalogue.kinds())

    def row(name: str) -> list[int]:
        words = [ids.setdefault(word, len(ids)) for word in tokenize(name)]
        return words + [-1] * (width - len(words))

    def padded(names: tuple[str, ...], size: int) -> list[str]:
        return list(names) + [""] * (size - len(names))  # "" has no word

    types, slots = [], []
    for kind in catalogue.types:
        department = catalogue.departments[kind.department]
        options = tuple(catalogue.dimensions[d] for d in kind.dimensions)
        if len(department.brands) > _BRAND_SLOTS:
            raise ValueError(f"Shop departments have at most {_BRAND_SLOTS} brands; {department.name} has more")
        unique = [kind.attributes, [dim for dim, _ in options], *(values for _, values in options)]
        if any(len(set(names)) < len(names) for names in unique):
            raise ValueError(f"Shop product type {kind.name!r} names an attribute, option or value twice")
        types.append(
            _TypeNames(
                kind.name,
                department.name,
                tuple(brand.capitalize() for brand in department.brands),
                kind.attributes,
                options,
            )
        )
        shown = padded(department.brands, _BRAND_SLOTS) + padded(kind.attributes, _ATTRIBUTE_SLOTS)
        shown += [value for _, values in options for value in padded(values, MAX_VALUES)]
        slots.append([row(name) for name in shown + [kind.name, department.name]])
    brand_count = np.array([len(names.brands) for names in types])
    kinds_named: dict[str, tuple[int, ...]] = {}
    for number, names in enumerate(types):
        kinds_named[names.name] = (*kinds_named.get(names.name, ()), number)
    return _Lexicon(tuple(types), tuple(ids), np.array(slots), brand_count, kinds_named)


class Products(LazySequence[Product]):
    """A catalogue's products, each put together from the generator's ids when first read: an
    episode reads a handful of a catalogue's hundreds (``tuple(products)`` reads them all).

    Compares equal to any sequence of the same products.
    """

    def __init__(self, theme: str, draft: _Draft, shown: np.ndarray, brands: np.ndarray, codes: list[str]) -> None:
        self._theme = theme
        rows = list(
            zip(
                draft.kinds.tolist(),
                draft.attributes.tolist(),
                draft.values.tolist(),
                shown.tolist(),
                brands.tolist(),
                codes,
                draft.prices.tolist(),
            )
        )
        super().__init__(rows)

    def _make(self, row: tuple) -> Product:
        return self._build(*row)

    def _build(self, kind: int, attributes: int, values: list[int], shown: int, brand: int, code: str, price: float):
        names = _lexicon(self._theme).types[kind]
        title = " ".join([names.brands[brand], *(names.attributes[a] for a in _SUBSETS[shown]), names.name])
        return Product(
            code,
            names.brands[brand],
            title,
            names.department,
            names.name,
            tuple(names.attributes[a] for a in _SUBSETS[attributes]),
            tuple(
                (dim, tuple(offered[v] for v in _SUBSETS[bits])) for (dim, offered), bits in zip(names.options, values)
            ),
            price,
        )

    def type_of(self, index: int) -> str:
        """The product type of product ``index``, without putting the product together."""
        return _lexicon(self._theme).types[self._rows[index][0]].name

    def __repr__(self) -> str:
        return f"Products({len(self)} products of theme {self._theme!r})"


def _occurrences(lexicon: _Lexicon, draft: _Draft, shown: np.ndarray, brands: np.ndarray) -> tuple[np.ndarray, ...]:
    """Every word of every product's document (``_document``), as (document, word id) pairs: its
    code (word ``len(lexicon.words) + product``), its title (brand, shown attributes and type),
    type, department, attributes and offered values."""
    count = len(draft.kinds)
    uses = np.zeros((count, _SLOTS), np.int8)  # how often each slot's name occurs in the document
    uses[np.arange(count), brands] = 1
    attributes = slice(_BRAND_SLOTS, _BRAND_SLOTS + _ATTRIBUTE_SLOTS)
    uses[:, attributes] = _BITS[draft.attributes, :MAX_ATTRIBUTES] + _BITS[shown, :MAX_ATTRIBUTES]
    uses[:, attributes.stop : -2] = _BITS[draft.values].reshape(count, _VALUE_SLOTS)
    uses[:, -2:] = (2, 1)  # the type's name (in the title and as the type), the department's
    cells = np.flatnonzero(uses)
    document, slot = np.divmod(cells, _SLOTS)
    words = lexicon.slots[draft.kinds[document], slot]  # [cell, word]
    document = np.repeat(document, uses.ravel()[cells])
    words = np.repeat(words, uses.ravel()[cells], axis=0)
    present = words >= 0
    documents = np.concatenate([np.arange(count), np.broadcast_to(document[:, None], words.shape)[present]])
    return documents, np.concatenate([np.arange(count) + len(lexicon.words), words[present]])


def _shown(draft: _Draft, keys: np.ndarray) -> np.ndarray:
    """The attributes a product's title shows, as bit masks: all of them up to two, else the two
    with the lowest ``keys``."""
    has = (draft.attributes[:, None] >> np.arange(MAX_ATTRIBUTES) & 1).astype(bool)
    rank = np.where(has, keys, 2.0).argsort(axis=1, kind="stable").argsort(axis=1, kind="stable")
    return (has & (rank < 2)) @ (1 << np.arange(MAX_ATTRIBUTES))


def _satisfying(lexicon: _Lexicon, draft: _Draft, goal: Goal) -> frozenset[int]:
    """The products that score 1.0 bought with the best options they offer (``_best_score`` of
    each): of the goal's type, with every attribute it asks for, offering every option, under
    the price limit."""
    fits = np.zeros(len(draft.kinds), bool)
    for kind in lexicon.kinds_named.get(goal.product_type, ()):
        names = lexicon.types[kind]
        dimensions = [dim for dim, _ in names.options]
        if not set(goal.attributes) <= set(names.attributes) or not all(
            dim in dimensions and value in names.options[dimensions.index(dim)][1] for dim, value in goal.options
        ):
            continue
        needed = sum(1 << names.attributes.index(name) for name in goal.attributes)
        fit = (draft.kinds == kind) & (draft.attributes & needed == needed) & (draft.prices < goal.price_limit)
        for dim, value in goal.options:
            d = dimensions.index(dim)
            fit &= (draft.values[:, d] >> names.options[d][1].index(value) & 1).astype(bool)
        fits |= fit
    return frozenset(np.flatnonzero(fits).tolist())


@dataclasses.dataclass(frozen=True)
class _World:
    """A task with what the environment derives from it once: the search index and code lookups."""

    task: ShopTask
    index: BM25Index
    clickable_codes: tuple[str, ...]  # product codes, lower-case, as clicked
    by_code: dict[str, int]  # never written after it is built
    ranked: dict[str, tuple[int, ...]]  # the admissible searches' results, ranked at generation


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
    (department, kind, required, wanted, limit), departments, draft = _abstract_catalogue(rng, bulk, config, theme)
    order = bulk.permutation(len(draft.kinds))
    target_index = int(np.flatnonzero(order == 0)[0])
    draft = draft.reordered(order)
    codes = _codes(bulk, len(order))
    lexicon = _lexicon(theme)
    brands = bulk.integers(0, 1 << 30, len(order)) % lexicon.brand_count[draft.kinds]
    shown = _shown(draft, bulk.random((len(order), MAX_ATTRIBUTES)))
    opener = rng.choice(OPENERS)
    products = Products(theme, draft, shown, brands, codes)
    documents, words = _occurrences(lexicon, draft, shown, brands)
    index = BM25Index.from_occurrences(
        documents, words, lexicon.words + tuple(code.lower() for code in codes), len(codes)
    )

    catalogue = theme_catalogue(theme)
    goal_type = catalogue.types[kind]
    goal = Goal(
        catalogue.departments[department].name,
        goal_type.name,
        tuple(goal_type.attributes[a] for a in required),
        tuple((catalogue.dimensions[d][0], catalogue.dimensions[d][1][v]) for d, v in wanted),
        limit,
    )
    keywords = [*goal.attributes, goal.product_type, *(value for _, value in goal.options)]
    keyword_query = " ".join(keywords)
    satisfying = _satisfying(lexicon, draft, goal)
    searches = [keyword_query]
    if len(keywords) > 1:
        searches += dict.fromkeys(" ".join(keywords[:i] + keywords[i + 1 :]) for i in range(len(keywords)))
    pages, results = [], index.search_many(searches, MAX_RESULTS)
    for ranked in results:
        ranks = [rank for rank, i in enumerate(ranked) if i in satisfying]
        pages.append(ranks[0] // config.results_per_page if ranks else MAX_RESULTS)
    if pages[0] == MAX_RESULTS:
        return None
    best = pages.index(min(pages))
    task = ShopTask(
        seed=seed,
        instruction=f"{opener} {goal.text}",
        goal=goal,
        products=products,
        target=target_index,
        satisfying=satisfying,
        keyword_query=keyword_query,
        keyword_page=pages[0],
        searches=tuple(searches),
        best_query=searches[best],
        best_page=pages[best],
        optimal_steps=3 + pages[best] + len(goal.options),  # search, page on, click the product, each option, buy
        entities=_entities(theme, tuple(sorted(departments))),
        goal_text=goal.text,
        structure=f"a{len(goal.attributes)}.o{len(goal.options)}.p{pages[best]}",
    )
    clickable_codes = tuple(code.lower() for code in codes)
    by_code = {code: i for i, code in enumerate(clickable_codes)}
    return _World(task, index, clickable_codes, by_code, dict(zip(searches, map(tuple, results))))


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
    """What the search index sees of a product: code, title, type, department, attributes, options
    (``_draw_world`` puts together its tokens from cached pieces)."""
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
    def vocabulary(cls, theme: str) -> dict[str, str]:
        """The grounded theme's names by kind: department, brand, product type, attribute,
        dimension, and each dimension's values under that dimension's name; empty elsewhere."""
        return dict(grounded_catalogue().kinds()) if theme == THEMES[0] else {}

    @classmethod
    def world_relations(cls, theme: str) -> frozenset[tuple[str, ...]]:
        """What the grounded catalogue holds: each type's department, attributes, dimensions and
        option values, each dimension's values and each brand's department; empty elsewhere."""
        return _world_relations() if theme == THEMES[0] else frozenset()

    @classmethod
    def task_relations(cls, task: ShopTask) -> frozenset[tuple[str, ...]]:
        """The facts the task's instruction and catalogue show, as ``world_relations`` writes them."""
        facts = {("in_department", task.goal.product_type, task.goal.category)}
        facts |= {("has_attribute", task.goal.product_type, name) for name in task.goal.attributes}
        facts |= {("has_option", task.goal.product_type, value) for _, value in task.goal.options}
        facts |= {("has_value", dim, value) for dim, value in task.goal.options}
        for product in task.products:
            kind = product.product_type
            facts |= {("in_department", kind, product.category), ("sells_in", product.brand.lower(), product.category)}
            facts |= {("has_attribute", kind, name) for name in product.attributes}
            for dim, values in product.options:
                facts.add(("has_dimension", kind, dim))
                facts |= {("has_option", kind, value) for value in values}
                facts |= {("has_value", dim, value) for value in values}
        return frozenset(facts)

    @classmethod
    def default_max_turns(cls, config: ShopConfig) -> int:
        """15 turns plus 3 per option, and always 2 more than the longest optimum the knobs allow
        (a perfect product first shown on the last of the 50 results' pages)."""
        return max(15 + 3 * config.required_options, cls.longest_optimum(config) + 2)

    @staticmethod
    def longest_optimum(config: ShopConfig) -> int:
        return 3 + config.required_options + math.ceil(MAX_RESULTS / config.results_per_page) - 1

    def _start(self, task: ShopTask) -> str:
        self._world = _cached_world(task.seed, self.config, self.theme)
        self._clickables_memo: tuple[tuple, tuple[list[str], list[str]]] = ((), ([], []))
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

    _SHARED = ("_task", "_world")  # frozen or never written: copies share them

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
        state["_clickables_memo"] = ((), ([], []))
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        if "task_seed" in state:
            self._world = _cached_world(self.task_seed, self.config, self.theme)
            self._task = self._world.task
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
            ranked = self._world.ranked.get(self.query)
            self.results = list(ranked) if ranked is not None else self._world.index.search(self.query, MAX_RESULTS)
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
            self.page, self.product, self.selected = "item", self._world.by_code[target], {}
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
        return self._page_memo()[0]

    def _page_memo(self) -> tuple[list[str], list[str]]:
        """The current page's clickables and admissible texts, listed once per page."""
        key = (self.page, self.query, self.results_page, self.product)
        if self._clickables_memo[0] != key:
            clickables = self._list_clickables()
            if self.page == "search":
                texts = [f"search[{query}]" for query in self.task.searches]
            else:
                texts = [f"click[{target}]" for target in clickables]
            self._clickables_memo = (key, (clickables, texts))
        return self._clickables_memo[1]

    def _list_clickables(self) -> list[str]:
        if self.page in ("search", "done"):
            return []
        if self.page == "results":
            more = (self.results_page + 1) * self.config.results_per_page < len(self.results)
            buttons = [BACK] + ([PREV] if self.results_page > 0 else []) + ([NEXT] if more else [])
            return buttons + [self._world.clickable_codes[i] for i in self._page_codes()]
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
                {"code": product.code, "title": product.title, "price": product.price}
                for product in map(products.__getitem__, self._page_codes())
            ]
        elif self.product is not None:
            product = self.task.products[self.product]
            view["code"], view["title"], view["price"] = product.code, product.title, product.price
            if self.page in ("item", "done"):
                view["options"] = [{"name": dim, "values": list(values)} for dim, values in product.options]
                view["selected"] = [{"name": dim, "value": value} for dim, value in self.selected.items()]
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
            chosen = ", ".join(f"{pick['name']}: {pick['value']}" for pick in view["selected"])
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
                chosen = ", ".join(f"{pick['name']}: {pick['value']}" for pick in view["selected"])
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
        return list(self._page_memo()[1])

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
                        move = self._world.clickable_codes[index]
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
