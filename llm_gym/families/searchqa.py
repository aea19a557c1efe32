"""SearchQA: answer multi-hop questions by searching a generated encyclopedia, as in the study's
Search-R1-style SearchQA.

Read top to bottom: difficulty knobs and presets, the structure's vocabulary (kinds, relations,
question and document templates), the real places (``data/searchqa_world.json``), themes (name
pools), the world generator (people, organisations and works with consistent dates, placed in
real cities and countries; then names from the theme, documents and a BM25 index), the question
generator with the oracle's verified searches, answer scoring, and the environment.

The default theme ``realistic`` is grounded: its countries, capitals, continents, languages,
currencies, cities and rivers are the real ones, and every fact a document states about them is
true; people, organisations and works are invented, with dates that agree (a person is born
before their children, joins an organisation after it was founded, creates a work while alive).

Themes differ in names only. The generator picks every name as slots of word pools (a first and
a last name, each word of a real place's name, ...) and a theme maps each slot to one word of its
own, so every theme produces documents that are the same token for token up to renaming. BM25
depends only on token statistics and ties break by document index, so every search ranks the same
documents in every theme, and the same seed gives the same knowledge base, question, oracle and
optimal steps.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import json
import random
import re
import string
from collections import Counter
from collections.abc import Mapping, Sequence
from importlib import resources
from typing import Any

from llm_gym.core import LazySequence, TextEnv, Transition
from llm_gym.difficulty import Config, knob
from llm_gym.grammar import Arg, Command, CommandSpec, Grammar, ParseError
from llm_gym.registry import register_family
from llm_gym.retrieval import BM25Index
from llm_gym.themes import made_up_words


@dataclasses.dataclass(frozen=True)
class SearchQAConfig(Config):
    hops: int = knob(
        1, 1, 4, "documents the answer needs: a bridge chain's length, or both chains of a comparison together"
    )
    comparison: float = knob(
        0.0, 0.0, 1.0, "chance that a question compares the dates of two entities (needs hops >= 2)"
    )
    kb_size: int = knob(
        30,
        12,
        400,
        "entities in the knowledge base (people, organisations, works, cities, countries, rivers), one document each",
    )
    distractors: int = knob(
        0, 0, 100, "extra documents named after the question's entities (a hall, a prize, a street...)"
    )
    namesakes: float = knob(
        0.0, 0.0, 1.0, "chance that a person or work on the question's path shares its name with another"
    )
    top_k: int = knob(3, 1, 10, "documents a search returns")
    retries: int = knob(
        0, 0, 10, "wrong answers allowed before one ends the episode (0: the first answer ends it, as in the study)"
    )
    retry_penalty: float = knob(
        0.25, 0.0, 1.0, "reward and score lost per earlier wrong answer when a retry then succeeds"
    )
    evidence: bool = knob(
        True,
        doc="a correct answer counts only once every document it needs was retrieved (False: the answer alone, as in the study)",
    )

    def check(self) -> None:
        if self.comparison > 0 and self.hops < 2:
            raise ValueError(
                f"SearchQAConfig.comparison = {self.comparison} needs hops >= 2 (a comparison reads two documents), "
                f"got hops = {self.hops}"
            )


PRESETS = {
    "easy": SearchQAConfig(hops=1, kb_size=30),
    "medium": SearchQAConfig(hops=2, kb_size=50, distractors=6, namesakes=0.2),
    "hard": SearchQAConfig(hops=3, comparison=0.3, kb_size=80, distractors=14, namesakes=0.35),
    "expert": SearchQAConfig(hops=4, comparison=0.25, kb_size=110, distractors=24, namesakes=0.5),
}

# ----- the structure's vocabulary (the same in every theme) ----------------------------------

PERSON, ORG, WORK = "person", "organisation", "work"  # generated, one document each
CITY, COUNTRY, RIVER = "city", "country", "river"  # real places, one document each
CONTINENT, LANGUAGE, CURRENCY = "continent", "language", "currency"  # real values a country's document states
DOCUMENTED = (PERSON, ORG, WORK, CITY, COUNTRY, RIVER)
DATED = (PERSON, ORG, WORK)

OCCUPATIONS = (
    "painter",
    "chemist",
    "novelist",
    "architect",
    "composer",
    "engineer",
    "physician",
    "historian",
    "director",
)
ORG_KINDS = (  # the name suffix of an organisation (its last pool) tells its kind, in every theme
    "publisher",
    "studio",
    "university",
    "bank",
    "museum",
    "laboratory",
    "newspaper",
    "theatre",
    "shipping company",
    "railway company",
    "insurance company",
)
EMPLOYERS = {  # occupation -> the kinds of organisation that employ it
    "painter": ("museum", "studio", "theatre", "newspaper"),
    "chemist": ("laboratory", "university"),
    "novelist": ("publisher", "newspaper", "university"),
    "architect": ("railway company", "bank", "university", "museum"),
    "composer": ("theatre", "studio", "university"),
    "engineer": ("railway company", "shipping company", "laboratory"),
    "physician": ("university", "laboratory", "insurance company"),
    "historian": ("university", "museum", "newspaper", "publisher"),
    "director": ("studio", "theatre"),
}
WORK_KINDS = (  # (kind, verb, the creator's occupation, the kind of organisation that releases it)
    ("novel", "written", "novelist", "publisher"),
    ("film", "directed", "director", "studio"),
    ("painting", "painted", "painter", "museum"),
    ("opera", "composed", "composer", "theatre"),
)
CREATORS = {creator: kind for kind, (_, _, creator, _) in enumerate(WORK_KINDS)}  # occupation -> the work kind it makes
LINKS = {  # relation -> (the kind it leads to, its noun phrase, empty for a value, its question)
    "born_in": (CITY, "the birthplace of {}", "Where was {} born?"),
    "died_in": (CITY, "the place of death of {}", "Where did {} die?"),
    "parent": (PERSON, "the parent of {}", "Who was the parent of {}?"),
    "spouse": (PERSON, "the spouse of {}", "Whom did {} marry?"),
    "employer": (ORG, "the employer of {}", "Which organisation did {} work for?"),
    "studied_at": (ORG, "the alma mater of {}", "At which university did {} study?"),
    "founder": (PERSON, "the founder of {}", "Who founded {}?"),
    "based_in": (CITY, "the home city of {}", "In which city is {} based?"),
    "creator": (PERSON, "the creator of {}", "Who created {}?"),
    "publisher": (ORG, "the organisation that released {}", "Which organisation released {}?"),
    "set_in": (CITY, "the setting of {}", "In which city is {} set?"),
    "country": (COUNTRY, "the country of {}", "In which country is {}?"),
    "river": (RIVER, "the river of {}", "Which river flows through {}?"),
    "capital": (CITY, "the capital of {}", "What is the capital of {}?"),
    "source": (COUNTRY, "the country where {} rises", "In which country does {} rise?"),
    "continent": (CONTINENT, "", "On which continent is {}?"),
    "language": (LANGUAGE, "", "What language is spoken in {}?"),
    "currency": (CURRENCY, "", "What is the currency of {}?"),
}
YEARS = {  # dated fact -> its question
    "born": "In what year was {} born?",
    "died": "In what year did {} die?",
    "joined": "In what year did {} join their employer?",
    "founded": "In what year was {} founded?",
    "created": "In what year was {} created?",
}
COMPARED = {PERSON: ("born", "died"), ORG: ("founded",), WORK: ("created",)}  # the dates a comparison asks about
COMPARISONS = {  # (date, earlier?) -> question
    ("born", True): "Who was born earlier, {} or {}?",
    ("born", False): "Who was born later, {} or {}?",
    ("died", True): "Who died earlier, {} or {}?",
    ("died", False): "Who died later, {} or {}?",
    ("founded", True): "Which was founded earlier, {} or {}?",
    ("founded", False): "Which was founded later, {} or {}?",
    ("created", True): "Which was created earlier, {} or {}?",
    ("created", False): "Which was created later, {} or {}?",
}
DISTRACTORS = (  # (title suffix, text); a distractor is named after an entity and mentions a city or organisation
    ("Hall", "{title} is a concert hall in the {kind} {name}, opened in {year}."),
    ("Prize", "{title} is an award given by the {kind} {name} since {year}."),
    ("Street", "{title} is a street in the {kind} {name}, laid out in {year}."),
    ("Lecture", "{title} is a yearly lecture held at the {kind} {name} since {year}."),
    ("Bridge", "{title} is a bridge in the {kind} {name}, built in {year}."),
)
DOCUMENT_PROSE = (  # every fixed word the documents use (see _document), for the structural vocabulary
    "is a an born in the city child of studied at university worked for from married died",
    "founded by it based released set country capital river flows through continent language and its currency",
    "that rises",
)
QUESTION_COUNT = len(LINKS) + len(YEARS) + len(COMPARISONS)


def _structural_vocabulary() -> frozenset[str]:
    texts = [*OCCUPATIONS, *ORG_KINDS, *(word for kind in WORK_KINDS for word in kind), *DOCUMENT_PROSE]
    texts += [text for _, phrase, question in LINKS.values() for text in (phrase, question)]
    texts += [*YEARS.values(), *COMPARISONS.values(), *(part for entry in DISTRACTORS for part in entry)]
    return frozenset(word for text in texts for word in re.findall(r"[a-z]+", text.lower()))


STRUCTURAL_VOCABULARY = _structural_vocabulary()  # every word of documents and questions besides names and years

# ----- the real places -------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class RealWorld:
    """The real places of ``data/searchqa_world.json``, by index: names per kind and their facts."""

    source: str
    names: Mapping[str, tuple[str, ...]]  # kind -> names (cities, countries, rivers, continents, ...)
    continent: tuple[int, ...]  # per country
    capital: tuple[int, ...]  # per country: a city
    language: tuple[int, ...]  # per country
    currency: tuple[int, ...]  # per country
    cities: tuple[tuple[int, ...], ...]  # per country: its other cities
    country: tuple[int, ...]  # per city
    river: tuple[int, ...]  # per city: the river through it, -1 if none
    source_country: tuple[int, ...]  # per river: the country where it rises, -1 if disputed
    banks: tuple[tuple[int, ...], ...]  # per river: the cities it flows through, downstream

    def relations(self) -> frozenset[tuple[str, ...]]:
        """Every fact of the file, as ``SearchQAEnv.world_relations`` writes it."""
        n = self.names
        facts = set()
        for country, name in enumerate(n[COUNTRY]):
            facts.add(("capital_of", n[CITY][self.capital[country]], name))
            facts.add(("on_continent", name, n[CONTINENT][self.continent[country]]))
            facts.add(("language_of", n[LANGUAGE][self.language[country]], name))
            facts.add(("currency_of", n[CURRENCY][self.currency[country]], name))
        facts.update(("in_country", city, n[COUNTRY][self.country[i]]) for i, city in enumerate(n[CITY]))
        for river, name in enumerate(n[RIVER]):
            if self.source_country[river] >= 0:
                facts.add(("rises_in", name, n[COUNTRY][self.source_country[river]]))
            facts.update(("flows_through", name, n[CITY][city]) for city in self.banks[river])
        return frozenset(facts)


@functools.cache
def real_world() -> RealWorld:
    """The real places, loaded once from the package data."""
    data = json.loads(resources.files("llm_gym.data").joinpath("searchqa_world.json").read_text(encoding="utf-8"))
    countries, rivers = data["countries"], data["rivers"]
    cities = [city for country in countries for city in (country["capital"], *country["cities"])]
    values = {kind: sorted({country[kind] for country in countries}) for kind in (CONTINENT, LANGUAGE, CURRENCY)}
    names = {
        CITY: tuple(cities),
        COUNTRY: tuple(country["name"] for country in countries),
        RIVER: tuple(river["name"] for river in rivers),
        **{kind: tuple(value) for kind, value in values.items()},
    }
    city_id = {city: i for i, city in enumerate(cities)}
    country_id = {name: i for i, name in enumerate(names[COUNTRY])}
    river_of = {city: r for r, river in enumerate(rivers) for city in river["flows_through"]}
    return RealWorld(
        source=data["source"],
        names=names,
        continent=tuple(values[CONTINENT].index(c[CONTINENT]) for c in countries),
        capital=tuple(city_id[c["capital"]] for c in countries),
        language=tuple(values[LANGUAGE].index(c[LANGUAGE]) for c in countries),
        currency=tuple(values[CURRENCY].index(c[CURRENCY]) for c in countries),
        cities=tuple(tuple(city_id[city] for city in c["cities"]) for c in countries),
        country=tuple(country_id[c["name"]] for c in countries for _ in range(1 + len(c["cities"]))),
        river=tuple(river_of.get(city, -1) for city in cities),
        source_country=tuple(country_id.get(river["rises_in"], -1) for river in rivers),
        banks=tuple(tuple(city_id[city] for city in river["flows_through"]) for river in rivers),
    )


@functools.cache
def _real_relations() -> frozenset[tuple[str, ...]]:
    return real_world().relations()


def place_tokens() -> tuple[str, ...]:
    """The distinct words of the real names, in first-seen order (the ``place`` pool of ``realistic``)."""
    return tuple(
        dict.fromkeys(word for names in real_world().names.values() for name in names for word in name.split())
    )


# ----- themes: word pools, one word per name slot ---------------------------------------------


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


def _compounds(heads: str, tails: str) -> tuple[str, ...]:
    return tuple(head + tail for head in heads.split() for tail in tails.split())


LEXICONS: dict[str, dict[str, tuple[str, ...]]] = {  # every pool but ``place``, which follows the real names
    "realistic": {
        "first": _words(
            "Maria John Anna Peter Clara David Elena Frank Greta Henry Irene Jonas Laura Martin Nora Oscar "
            "Paula Robert Stella Thomas Ursula Victor Wendy Walter Alice Bruno Diana Edgar Fiona Hugo"
        ),
        "last": _words(
            "Keller Brandt Moreau Lindqvist Hartmann Okafor Novak Rossi Fischer Duarte Jensen Kowalski Laurent "
            "Marsh Nakamura Olsen Petrov Quinn Rahman Schulz Tanaka Varga Weber Yilmaz Zimmer Abbott Bianchi "
            "Castillo Dalton Eriksen Ferrara Gallo Holm Ibsen Janssen Kaur Lange Mendes Nilsen Ortega"
        ),
        "org": _words(
            "Atlas Meridian Summit Harbor Pioneer Crescent Beacon Liberty Lodestar Vanguard Keystone Westgate "
            "Northwind Granite Cobalt Evergreen Foxglove Aurora Heritage Pinnacle Riverside Redwood Bluestone "
            "Ironbridge Highland Clearwater Goldcrest Monarch Orion Sapphire"
        ),
        "org_suffix": _words("Press Pictures College Trust Gallery Labs Gazette Playhouse Lines Rail Assurance"),
        "adjective": _words(
            "Silent Glass Hidden Last Winter Burning Quiet Distant Broken Amber Sleeping Wandering Paper Silver "
            "Crimson Empty Endless Frozen Golden Hollow Lonely Midnight Northern Patient Restless Scarlet Secret "
            "Shifting Velvet Yellow"
        ),
        "noun": _words(
            "Sparrow Harbour Garden Letter Mirror Orchard Lantern Meadow Window Voyage Island Compass Season Tide "
            "Canyon Cathedral Daughter Echo Feather Horizon Journey Riddle Lighthouse Mountain Ocean Promise "
            "Shadow Thunder Valley Whisper"
        ),
    },
    "fantasy": {
        "first": _words(
            "Aldric Branwen Caelan Dorian Elowen Faelan Gwyneth Halvar Isolde Jorah Kaelith Lyra Maelis Nerys "
            "Orin Perrin Quillon Rowan Seren Thalia Ulric Vesna Wren Xander Ysolde Zephyr Ailith Brannoc Cerys Daelin"
        ),
        "last": _words(
            "Thornwood Ashbourne Blackbriar Brightwater Coldforge Darkhollow Duskmantle Everstone Fairwind "
            "Flintlock Greycloak Hawkshade Ironvein Kingsbane Lightfoot Longstride Mossheart Nightbloom Oakenshield "
            "Proudmoore Quickwater Ravenscar Redmane Shadowend Silverleaf Stonehelm Stormcaller Swiftarrow "
            "Trueblade Underhill Valebrook Whitmore Wildfire Winterborn Wolfsbane Yarrowby Brambleton Cinderfell "
            "Dawnwhisper Emberlyn"
        ),
        "org": _words(
            "Argent Azure Obsidian Vermilion Ivory Jade Onyx Amber Cobalt Gilded Verdant Umber Ashen Radiant "
            "Twilight Sable Celestial Arcane Eldritch Runic Hallowed Wyrm Griffin Phoenix Basilisk Chimera "
            "Manticore Hydra Kraken Sphinx"
        ),
        "org_suffix": _words(
            "Scriptorium Masquers Academy Treasury Reliquary Alembic Herald Players Armada Roadwrights Sureties"
        ),
        "adjective": _words(
            "Forgotten Shattered Eternal Cursed Sunken Whispering Fallen Enchanted Veiled Starlit Thorned Wandering "
            "Hollowed Moonlit Burning Frozen Gloaming Ancient Silent Crowned Bleeding Dreaming Howling Last Lost "
            "Sleeping Broken Hidden Golden Iron"
        ),
        "noun": _words(
            "Crown Blade Tower Throne Grimoire Chalice Dragonfly Citadel Labyrinth Sigil Banner Oath Prophecy Relic "
            "Lantern Serpent Crossing Orchard Tapestry Harp Mirror Covenant Spire Wyvern Amulet Scepter Forest "
            "Lament Requiem Gauntlet"
        ),
    },
}
FANTASY_PLACES = _compounds(  # the fantasy theme's words for the real names' words, in a seeded order
    "Ember Storm Mist Raven Frost Shadow Dragon Wolf Moon Dusk Thorn Ash Star Gold Elder Wyrm Bright Cinder "
    "Hawk Briar Fern Rime Gale Vale",
    "fall hold keep reach haven mere spire gate crest moor ford mark barrow dell fen watch rock glen shire "
    "wold hollow march tor peak",
)


def _with_case(word: str, like: str) -> str:
    return word.capitalize() if like[:1].isupper() else word.lower()


@functools.cache
def name_pools(theme: str) -> dict[str, tuple[str, ...]]:
    """Each theme's word pool for every name slot; ``place`` holds one word per word of the real names."""
    tokens = place_tokens()
    if theme == "realistic":
        return {**LEXICONS[theme], "place": tokens}
    if theme == "fantasy":
        taken = STRUCTURAL_VOCABULARY | {word.lower() for pool in LEXICONS[theme].values() for word in pool}
        words = [word for word in FANTASY_PLACES if word.lower() not in taken]
        random.Random("searchqa/fantasy").shuffle(words)
        return {
            **LEXICONS[theme],
            "place": tuple(_with_case(w, t) for w, t in zip(words[: len(tokens)], tokens, strict=True)),
        }
    sizes = {pool: len(words) for pool, words in LEXICONS["realistic"].items()}
    words = made_up_words(random.Random("searchqa/made-up"), sum(sizes.values()) + len(tokens), STRUCTURAL_VOCABULARY)
    pools, start = {}, 0
    for pool, size in sizes.items():
        pools[pool] = tuple(word.capitalize() for word in words[start : start + size])
        start += size
    pools["place"] = tuple(_with_case(word, token) for word, token in zip(words[start:], tokens))
    return pools


@functools.cache
def real_names(theme: str) -> dict[str, tuple[str, ...]]:
    """Each real kind's names in ``theme``: the real ones in ``realistic``, word for word renamed in the others."""
    pool = dict(zip(place_tokens(), name_pools(theme)["place"]))
    return {
        kind: tuple(" ".join(pool[w] for w in name.split()) for name in names)
        for kind, names in real_world().names.items()
    }


THEMES = ("realistic", "fantasy", "made-up")
GROUNDED = THEMES[0]  # the theme whose real places agree with common knowledge

# ----- the world generator: entities, then names, documents and an index -----------------------


@dataclasses.dataclass
class _Entity:
    """An entity while the world is generated: kind, subtype index, name slots, dates, links.

    ``name`` is pool indices for generated kinds and the index into ``real_world().names[kind]``
    for real ones; ``listed`` holds what a document lists besides its links (a river's cities).
    """

    kind: str
    sub: int
    name: tuple[int, ...]
    years: dict[str, int]
    links: dict[str, int]
    listed: tuple[int, ...] = ()


@dataclasses.dataclass(frozen=True)
class Document:
    title: str
    text: str


Actions = tuple[tuple[str, tuple[str, str]], ...]  # admissible commands: (native text, (verb, argument))


class Suggestions(LazySequence[Actions]):
    """Per document, the searches and answers it suggests (``_actions`` of its mentions), written
    when the document is first retrieved: an episode retrieves a few of a world's documents.

    Compares equal to any sequence of the same actions.
    """

    def __init__(self, mentions: Sequence[tuple[tuple[str, ...], tuple[str, ...]]]) -> None:
        super().__init__(tuple(mentions))

    def _make(self, row: tuple[tuple[str, ...], tuple[str, ...]]) -> Actions:
        return _actions(*row)

    def __repr__(self) -> str:
        return f"Suggestions({len(self)} documents)"


@dataclasses.dataclass(frozen=True)
class SearchQATask:
    seed: int
    question: str
    answer: str
    kind: str  # "bridge" or "comparison"
    hops: int  # documents the answer needs
    documents: tuple[Document, ...]
    needed: tuple[int, ...]  # the documents the answer needs, in the oracle's order
    oracle_queries: tuple[str, ...]  # the oracle's verified query for each needed document
    opening_actions: Actions  # searches for the entities the question names
    suggested_actions: Suggestions  # per document: the searches and answers it suggests
    optimal_steps: int  # the fewest admissible steps from reset to success, found by search
    optimal_exact: bool  # False where the search hit MAX_PLAN_STATES: then optimal_steps is the plan's length
    plan_steps: int  # the generator's plan: one search per needed document, then the answer
    entities: tuple[str, ...]
    goal_text: str  # the question
    structure: str  # the question's shape: its kind, hops, relations and what it asks, naming no entity
    facts: frozenset[tuple[str, ...]]  # what the documents state about real places, as world_relations writes it
    index: BM25Index = dataclasses.field(compare=False, repr=False)
    graph: SearchGraph = dataclasses.field(compare=False, repr=False)


def _descriptor(entity: _Entity) -> str:
    if entity.kind == PERSON:
        return OCCUPATIONS[entity.sub]
    if entity.kind == ORG:
        return ORG_KINDS[entity.sub]
    if entity.kind == WORK:
        return WORK_KINDS[entity.sub][0]
    return entity.kind


def _places(rng: random.Random, count: int) -> list[_Entity]:
    """``count`` real places with a document (countries with their capitals, other cities of those
    countries, rivers through those cities), then the continents, languages and currencies the
    countries have (named in their documents, with none of their own)."""
    world = real_world()
    order = rng.sample(range(len(world.capital)), len(world.capital))
    chosen = max(2, count // 4)
    while 2 * chosen + sum(len(world.cities[c]) for c in order[:chosen]) < count:  # enough cities to fill
        chosen += 1
    countries = order[:chosen]
    cities = [world.capital[c] for c in countries]
    others = [city for c in countries for city in world.cities[c]]
    rng.shuffle(others)
    spare = count - 2 * len(countries)
    cities += others[: spare - spare // 3]
    on_banks = sorted({world.river[city] for city in cities} - {-1})
    rivers = rng.sample(on_banks, min(len(on_banks), spare // 3))
    cities += others[spare - spare // 3 : spare - len(rivers)]
    places = (
        [_Entity(CITY, 0, (city,), {}, {}) for city in cities]
        + [_Entity(COUNTRY, 0, (country,), {}, {}) for country in countries]
        + [_Entity(RIVER, 0, (river,), {}, {}) for river in rivers]
    )
    values = {kind: sorted({getattr(world, kind)[c] for c in countries}) for kind in (CONTINENT, LANGUAGE, CURRENCY)}
    places += [_Entity(kind, 0, (value,), {}, {}) for kind, ids in values.items() for value in ids]
    return places


def _link_places(places: list[_Entity], offset: int) -> None:
    """Each place's links to the others (ids from ``offset``), as the real world has them."""
    world = real_world()
    ids = {(e.kind, e.name[0]): offset + i for i, e in enumerate(places)}
    for entity in places:
        (n,) = entity.name
        if entity.kind == CITY:
            entity.links["country"] = ids[COUNTRY, world.country[n]]
            if (RIVER, world.river[n]) in ids:
                entity.links["river"] = ids[RIVER, world.river[n]]
        elif entity.kind == COUNTRY:
            entity.links["capital"] = ids[CITY, world.capital[n]]
            for kind in (CONTINENT, LANGUAGE, CURRENCY):
                entity.links[kind] = ids[kind, getattr(world, kind)[n]]
        elif entity.kind == RIVER:
            if (COUNTRY, world.source_country[n]) in ids:
                entity.links["source"] = ids[COUNTRY, world.source_country[n]]
            entity.listed = tuple(ids[CITY, city] for city in world.banks[n] if (CITY, city) in ids)


def _abstract_world(rng: random.Random, config: SearchQAConfig) -> list[_Entity]:
    """People, organisations and works with distinct name slots, consistent dates and links,
    living and working in real places; then the places. Ids follow that order."""
    size = config.kb_size
    counts = {PERSON: round(0.3 * size), ORG: round(0.2 * size), WORK: round(0.2 * size)}
    pools = {pool: len(words) for pool, words in LEXICONS["realistic"].items()}

    def distinct(pool_sizes: tuple[int, ...], count: int) -> list[tuple[int, ...]]:
        chosen: dict[tuple[int, ...], None] = {}
        while len(chosen) < count:
            chosen[tuple(rng.randrange(n) for n in pool_sizes)] = None
        return list(chosen)

    people = []
    for name in distinct((pools["first"], pools["last"]), counts[PERSON]):
        born = rng.randint(1800, 1930)
        people.append(
            _Entity(
                PERSON, rng.randrange(len(OCCUPATIONS)), name, {"born": born, "died": born + rng.randint(45, 90)}, {}
            )
        )
    if not any(OCCUPATIONS[p.sub] in CREATORS for p in people):
        people[0].sub = OCCUPATIONS.index("novelist")
    orgs = [_Entity(ORG, name[1], name, {}, {}) for name in distinct((pools["org"], len(ORG_KINDS)), counts[ORG])]
    works = [_Entity(WORK, 0, name, {}, {}) for name in distinct((pools["adjective"], pools["noun"]), counts[WORK])]
    places = _places(rng, size - sum(counts.values()))
    entities = people + orgs + works + places
    _link_places(places, len(people) + len(orgs) + len(works))
    cities = [i for i, e in enumerate(entities) if e.kind == CITY]
    person_ids = range(len(people))
    org_ids = range(len(people), len(people) + len(orgs))
    lives = [(i, p.years["born"], p.years["died"]) for i, p in enumerate(people)]
    for entity in people:
        entity.links = {"born_in": rng.choice(cities), "died_in": rng.choice(cities)}
    for child in people:
        born = child.years["born"]
        parents = [i for i, birth, death in lives if born - 45 <= birth <= born - 20 and death > born]
        if parents and rng.random() < 0.6:
            child.links["parent"] = rng.choice(parents)
    for i in rng.sample(person_ids, len(people)):
        person = people[i]
        if "spouse" in person.links or rng.random() >= 0.4:
            continue
        born = person.years["born"]
        partners = [
            j
            for j, birth, _ in lives
            if abs(birth - born) <= 10
            and j != i
            and "spouse" not in people[j].links
            and i != people[j].links.get("parent")
            and j != person.links.get("parent")
        ]
        if partners:
            partner = rng.choice(partners)
            person.links["spouse"], people[partner].links["spouse"] = partner, i
    for org in orgs:
        founder = rng.choice(person_ids)
        org.links = {"founder": founder, "based_in": rng.choice(cities)}
        org.years = {"founded": people[founder].years["born"] + rng.randint(25, 45)}
    foundings = [(i, entities[i].years["founded"], ORG_KINDS[entities[i].sub]) for i in org_ids]
    for person in people:
        born, last = person.years["born"], min(person.years["born"] + 50, person.years["died"] - 1)
        hiring = EMPLOYERS[OCCUPATIONS[person.sub]]
        open_ = [(i, kind) for i, founded, kind in foundings if founded <= last]
        if open_ and rng.random() < 0.85:
            employer = rng.choice([i for i, kind in open_ if kind in hiring] or [i for i, _ in open_])
            person.links["employer"] = employer
            person.years["joined"] = rng.randint(max(born + 20, entities[employer].years["founded"]), last)
        universities = [i for i, founded, kind in foundings if kind == "university" and founded <= born + 18]
        if universities and rng.random() < 0.5:
            person.links["studied_at"] = rng.choice(universities)
    creators = [i for i in person_ids if OCCUPATIONS[people[i].sub] in CREATORS]
    for work in works:
        creator = rng.choice(creators)
        work.sub = CREATORS[OCCUPATIONS[people[creator].sub]]
        year = rng.randint(people[creator].years["born"] + 20, people[creator].years["died"])
        work.years = {"created": year}
        work.links = {"creator": creator, "set_in": rng.choice(cities)}
        open_ = [(i, kind) for i, founded, kind in foundings if founded <= year]
        if open_:
            releasing = WORK_KINDS[work.sub][3]
            fitting = [i for i, kind in open_ if kind == releasing]
            publisher = rng.choice(fitting or [i for i, _ in open_])  # drawn either way: the same stream
            if fitting:  # only an organisation of the kind that releases such works (no museum prints a novel)
                work.links["publisher"] = publisher
    return entities


@dataclasses.dataclass(frozen=True)
class _Question:
    kind: str
    text: tuple  # (template, noun phrases to fill it with), each noun phrase as _noun_phrase returns it
    answer: tuple  # ("year", int) or ("name", entity id)
    path: tuple[int, ...]  # entity ids whose documents the answer needs, in order
    anchors: tuple[int, ...]  # the entities the question names
    structure: str  # the question's shape, naming no entity


def _walk(rng: random.Random, entities: list[_Entity], length: int, end_kinds: tuple[str, ...]) -> list[int] | None:
    """A chain of ``length`` distinct documented entities, each linked to the next, the last of a kind in ``end_kinds``."""
    if length == 1:
        candidates = [i for i, e in enumerate(entities) if e.kind in end_kinds]
    else:
        candidates = [i for i, e in enumerate(entities) if e.kind in DOCUMENTED and e.links]
    path = [rng.choice(candidates)]
    for step in range(1, length):
        links = entities[path[-1]].links
        kinds = end_kinds if step == length - 1 else DOCUMENTED
        options = [r for r in sorted(links) if entities[links[r]].kind in kinds and links[r] not in path]
        if not options:
            return None
        path.append(links[rng.choice(options)])
    return path


def _relations(entities: list[_Entity], path: list[int]) -> tuple[str, ...]:
    return tuple(next(r for r, t in entities[a].links.items() if t == b) for a, b in zip(path, path[1:]))


def _noun_phrase(entities: list[_Entity], path: list[int]) -> tuple:
    """The last entity of ``path`` described from the first: (relations along the path, anchor id)."""
    return (_relations(entities, path), path[0])


def _shape(entities: list[_Entity], path: list[int]) -> str:
    return ".".join([entities[path[0]].kind[:3], *_relations(entities, path)]).replace("_", "-")


def _question(rng: random.Random, entities: list[_Entity], config: SearchQAConfig) -> _Question | None:
    if config.hops >= 2 and rng.random() < config.comparison:
        first_length = rng.randint(1, config.hops - 1)
        first = _walk(rng, entities, first_length, DATED)
        if first is None:
            return None
        kind = entities[first[-1]].kind
        date, earlier = rng.choice(COMPARED[kind]), rng.random() < 0.5
        for _ in range(30):
            second = _walk(rng, entities, config.hops - first_length, (kind,))
            if second is None or set(second) & set(first):
                continue
            a, b = entities[first[-1]], entities[second[-1]]
            if a.years[date] == b.years[date] or a.name == b.name:
                continue
            sides = (first, second) if rng.random() < 0.5 else (second, first)
            chosen = first[-1] if (a.years[date] < b.years[date]) == earlier else second[-1]
            return _Question(
                "comparison",
                (COMPARISONS[date, earlier], tuple(_noun_phrase(entities, side) for side in sides)),
                ("name", chosen),
                tuple(first + second),
                (first[0], second[0]),
                f"c{config.hops}.{_shape(entities, sides[0])}.vs.{_shape(entities, sides[1])}.{date}-"
                + ("earlier" if earlier else "later"),
            )
        return None
    path = _walk(rng, entities, config.hops, DOCUMENTED)
    if path is None:
        return None
    last = entities[path[-1]]
    asked = sorted(last.links) + sorted(last.years)
    if not asked:  # a river of disputed source states no single fact
        return None
    final = rng.choice(asked)
    structure = f"b{config.hops}.{_shape(entities, path)}.{final}".replace("_", "-")
    if final in last.years:
        return _Question(
            "bridge",
            (YEARS[final], (_noun_phrase(entities, path),)),
            ("year", last.years[final]),
            tuple(path),
            (path[0],),
            structure,
        )
    if last.links[final] in path:
        return None
    return _Question(
        "bridge",
        (LINKS[final][2], (_noun_phrase(entities, path),)),
        ("name", last.links[final]),
        tuple(path),
        (path[0],),
        structure,
    )


def _add_namesakes(rng: random.Random, entities: list[_Entity], question: _Question, rate: float) -> None:
    """Give people and works a namesake: another entity of their kind, another subtype (real
    places and organisations keep their own names).

    Each entity on the question's path gets one with chance ``rate``, any other with ``rate / 4``,
    so that having a namesake says little about being on the path.
    """
    taken = set(question.path) | ({question.answer[1]} if question.answer[0] == "name" else set())
    others = [i for i in range(len(entities)) if i not in taken]
    for entity_id in [*question.path, *others]:
        entity = entities[entity_id]
        if entity.kind not in (PERSON, WORK) or rng.random() >= (rate if entity_id in question.path else rate / 4):
            continue
        if entity_id in taken and entity_id not in question.path:
            continue
        taken.add(entity_id)
        partners = [
            i
            for i, other in enumerate(entities)
            if other.kind == entity.kind and other.sub != entity.sub and i not in taken
        ]
        if partners:
            partner = rng.choice(partners)
            taken.add(partner)
            entities[partner].name = entity.name


def _name(entity: _Entity, pools: dict[str, tuple[str, ...]], places: dict[str, tuple[str, ...]]) -> str:
    if entity.kind == PERSON:
        return f"{pools['first'][entity.name[0]]} {pools['last'][entity.name[1]]}"
    if entity.kind == ORG:
        return f"{pools['org'][entity.name[0]]} {pools['org_suffix'][entity.name[1]]}"
    if entity.kind == WORK:
        return f"{pools['adjective'][entity.name[0]]} {pools['noun'][entity.name[1]]}"
    return places[entity.kind][entity.name[0]]


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" and not word.startswith("uni") else "a"


def _document(i: int, entities: list[_Entity], names: list[str]) -> str:
    """The text of entity ``i``'s document: its own facts, every linked entity with what it is."""
    entity, name, links = entities[i], names[i], entities[i].links

    def the(relation: str) -> str:
        target = links[relation]
        return f"the {_descriptor(entities[target])} {names[target]}"

    if entity.kind == PERSON:
        sub = OCCUPATIONS[entity.sub]
        parts = [f"{name} is {_article(sub)} {sub} born in {entity.years['born']} in {the('born_in')}"]
        parts.append(f", the child of {the('parent')}." if "parent" in links else ".")
        if "studied_at" in links:
            parts.append(f" {name} studied at {the('studied_at')}.")
        if "employer" in links:
            parts.append(f" {name} worked for {the('employer')} from {entity.years['joined']}.")
        if "spouse" in links:
            parts.append(f" {name} married {the('spouse')}.")
        parts.append(f" {name} died in {entity.years['died']} in {the('died_in')}.")
        return "".join(parts)
    if entity.kind == ORG:
        sub = ORG_KINDS[entity.sub]
        return (
            f"{name} is {_article(sub)} {sub} founded in {entity.years['founded']} by "
            f"{the('founder')}. It is based in {the('based_in')}."
        )
    if entity.kind == WORK:
        sub, verb = WORK_KINDS[entity.sub][:2]
        released = f" It was released by {the('publisher')}." if "publisher" in links else ""
        return (
            f"{name} is {_article(sub)} {sub} {verb} by {the('creator')} in "
            f"{entity.years['created']}.{released} It is set in {the('set_in')}."
        )
    if entity.kind == CITY:
        country = names[links["country"]]
        text = f"{name} is a city in the country {country}."
        if entities[links["country"]].links["capital"] == i:
            text += f" It is the capital of {country}."
        if "river" in links:
            text += f" The river {names[links['river']]} flows through {name}."
        return text
    if entity.kind == COUNTRY:
        return (
            f"{name} is a country on the continent {names[links['continent']]}. The capital of {name} is "
            f"{the('capital')}. The language of {name} is {names[links['language']]} and its currency is the "
            f"{names[links['currency']]}."
        )
    source = f" that rises in {the('source')}" if "source" in links else ""
    banks = [f"the city {names[city]}" for city in entity.listed]
    through = (
        f" It flows through {', '.join(banks[:-1])} and {banks[-1]}."
        if len(banks) > 1
        else f" It flows through {banks[0]}."
    )
    return f"{name} is a river{source}.{through}"


def _documents(
    rng: random.Random, entities: list[_Entity], names: list[str], question: _Question, distractors: int
) -> tuple[list[Document], dict[int, int], list[tuple[tuple[str, ...], tuple[str, ...]]]]:
    """Each documented entity's document, the distractors, shuffled; each entity's document index; mentions."""

    def query(i: int) -> str:
        return f"{names[i]} {_descriptor(entities[i])}"

    documented = [i for i, entity in enumerate(entities) if entity.kind in DOCUMENTED]
    drafts: list[tuple[Document, tuple[str, ...], tuple[str, ...]]] = []
    for i in documented:
        entity = entities[i]
        shown = [i, *entity.links.values(), *entity.listed]
        searched = tuple(query(j) for j in shown if entities[j].kind in DOCUMENTED)
        answers = (*(names[j] for j in shown), *map(str, entity.years.values()))
        drafts.append((Document(names[i], _document(i, entities, names)), searched, answers))
    targets = list(question.path)
    hosts = {kind: [i for i in documented if entities[i].kind == kind] for kind in (CITY, ORG)}
    for index in range(distractors):
        target = targets[index % len(targets)] if rng.random() < 0.7 else rng.choice(documented)
        suffix, template = DISTRACTORS[rng.randrange(len(DISTRACTORS))]
        host = rng.choice([i for i in hosts[ORG if suffix in ("Prize", "Lecture") else CITY] if i != target])
        title = f"{names[target]} {suffix}"
        year = rng.randint(1850, 2020)
        text = template.format(title=title, kind=_descriptor(entities[host]), name=names[host], year=year)
        drafts.append((Document(title, text), (query(host),), (names[host], str(year))))
    order = list(range(len(drafts)))
    rng.shuffle(order)
    position = {draft: place for place, draft in enumerate(order)}
    documents = [drafts[i][0] for i in order]
    mentions = [(drafts[i][1], drafts[i][2]) for i in order]
    return documents, {entity: position[n] for n, entity in enumerate(documented)}, mentions


def _facts(entities: list[_Entity], names: list[str]) -> frozenset[tuple[str, ...]]:
    """What the documents state about real places, as ``RealWorld.relations`` writes it."""
    facts = set()
    for i, entity in enumerate(entities):
        links = {relation: names[target] for relation, target in entity.links.items()}
        if entity.kind == CITY:
            facts.add(("in_country", names[i], links["country"]))
            if entities[entity.links["country"]].links["capital"] == i:
                facts.add(("capital_of", names[i], links["country"]))
            if "river" in links:
                facts.add(("flows_through", links["river"], names[i]))
        elif entity.kind == COUNTRY:
            facts.add(("capital_of", links["capital"], names[i]))
            facts.add(("on_continent", names[i], links["continent"]))
            facts.add(("language_of", links["language"], names[i]))
            facts.add(("currency_of", links["currency"], names[i]))
        elif entity.kind == RIVER:
            if "source" in links:
                facts.add(("rises_in", names[i], links["source"]))
            facts.update(("flows_through", names[i], names[city]) for city in entity.listed)
    return frozenset(facts)


def _oracle_plan(
    index: BM25Index, doc_of: dict[int, int], queries: dict[int, str], path: tuple[int, ...], k: int
) -> int | None:
    """How many searches the oracle makes for ``path``, or ``None`` if a query misses its document."""
    seen: set[int] = set()
    searches = 0
    for entity_id in path:
        if doc_of[entity_id] in seen:
            continue
        results = index.search(queries[entity_id], k)
        if doc_of[entity_id] not in results:
            return None
        seen.update(results)
        searches += 1
    return searches


MAX_PLAN_STATES = 200_000  # sets of retrieved documents a search for the optimum may visit


@dataclasses.dataclass(frozen=True, eq=False)
class SearchGraph:
    """The task's admissible searches as a graph over what has been retrieved.

    A state is the set of documents retrieved so far, as a bit mask: it alone decides which
    searches are admissible (those the question names, then those the retrieved documents
    suggest) and, with the wrong answers given, everything that can follow. ``results`` holds
    every admissible query's top-``k`` documents, ranked once at generation. The goal is a mask
    whose admissible answers include the gold one: with ``evidence`` every needed document
    retrieved, without it any document that mentions the answer.
    """

    opening: tuple[str, ...]  # the searches the question's entities suggest
    doc_queries: tuple[tuple[str, ...], ...]  # per document: the searches it suggests
    results: dict[str, tuple[int, ...]]  # every admissible query's ranked documents
    masks: dict[str, int]  # the same as bit masks
    need: int  # with evidence: the documents the answer needs
    mentions: int  # without evidence: the documents that mention the answer
    evidence: bool

    def done(self, mask: int) -> bool:
        return mask & self.need == self.need if self.evidence else bool(mask & self.mentions)

    def queries(self, mask: int) -> list[str]:
        """The admissible searches in state ``mask``, in the order the environment lists them."""
        found = dict.fromkeys(self.opening)
        while mask:
            low = mask & -mask
            found.update(dict.fromkeys(self.doc_queries[low.bit_length() - 1]))
            mask ^= low
        return list(found)

    def shortest(self, start: int, limit: int) -> tuple[int, str | None, bool]:
        """Fewest searches from ``start`` to the goal (at most ``limit``), the first of them, and
        whether the search was exhaustive; breadth first over masks, ``MAX_PLAN_STATES`` at most.

        ``(limit + 1, None, True)`` when no sequence of ``limit`` searches reaches the goal.
        """
        if self.done(start):
            return 0, None, True
        seen = {start}
        frontier: dict[int, str | None] = {start: None}
        for depth in range(1, limit + 1):
            following: dict[int, str | None] = {}
            for mask, first in frontier.items():
                for query in self.queries(mask):
                    reached = mask | self.masks[query]
                    if reached in seen:
                        continue
                    if self.done(reached):
                        return depth, query if first is None else first, True
                    seen.add(reached)
                    following[reached] = query if first is None else first
                if len(seen) > MAX_PLAN_STATES:
                    return limit + 1, None, False
            frontier = following
        return limit + 1, None, True


def _search_graph(
    index: BM25Index,
    top_k: int,
    opening: tuple[str, ...],
    doc_queries: tuple[tuple[str, ...], ...],
    need: int,
    mentions: int,
    evidence: bool,
) -> SearchGraph:
    queries = list(dict.fromkeys([*opening, *(q for queries in doc_queries for q in queries)]))
    ranked = index.search_many(queries, top_k)
    results = {query: tuple(docs) for query, docs in zip(queries, ranked)}
    masks = {query: sum(1 << doc for doc in docs) for query, docs in results.items()}
    return SearchGraph(opening, doc_queries, results, masks, need, mentions, evidence)


def _phrase(entities: list[_Entity], names: list[str], noun_phrase: tuple) -> str:
    relations, anchor = noun_phrase
    text = f"the {_descriptor(entities[anchor])} {names[anchor]}"
    for relation in relations:
        text = LINKS[relation][1].format(text)
    return text


MAX_QUESTION_TRIES = 200
MAX_WORLD_TRIES = 50


def _world_and_question(rng: random.Random, config: SearchQAConfig, theme: str) -> tuple | None:
    """A world, its documents and index, and a question whose oracle searches are verified, or
    ``None`` when no question of this world can be answered by retrieving within ``top_k``.

    Every choice depends on ``rng`` and on BM25 rankings, which are the same in every theme.
    """
    entities = _abstract_world(rng, config)
    first = None
    for _ in range(MAX_QUESTION_TRIES):
        first = _question(rng, entities, config)
        if first is not None:
            break
    if first is None:
        return None
    _add_namesakes(rng, entities, first, config.namesakes)
    pools, places = name_pools(theme), real_names(theme)
    names = [_name(entity, pools, places) for entity in entities]
    documents, doc_of, mentions = _documents(rng, entities, names, first, config.distractors)
    index = BM25Index([f"{document.title} {document.text}" for document in documents])
    queries = {i: f"{names[i]} {_descriptor(entities[i])}" for i in doc_of}
    # Prefer a question where no search finds a later hop's document by chance, so that the
    # oracle needs exactly one search per hop.
    question: _Question | None = first
    fallback: tuple[_Question, int] | None = None
    for _ in range(MAX_QUESTION_TRIES):
        if question is not None:
            searches = _oracle_plan(index, doc_of, queries, question.path, config.top_k)
            if searches == len(question.path):
                return entities, names, documents, doc_of, mentions, index, queries, question, searches
            if searches is not None and fallback is None:
                fallback = (question, searches)
        question = _question(rng, entities, config)
    if fallback is None:
        return None
    return entities, names, documents, doc_of, mentions, index, queries, *fallback


@functools.lru_cache(maxsize=64)
def generate_task(seed: int, config: SearchQAConfig, theme: str) -> SearchQATask:
    """A SearchQA task: a knowledge base, its index, a question and the oracle's verified searches.

    Pure in its arguments, and cached: a world and its index are built once per (seed, config, theme).
    """
    if theme not in THEMES:
        raise ValueError(f"Unknown theme {theme!r} for SearchQA; allowed: {list(THEMES)}")
    rng = random.Random(f"searchqa/{seed}")
    for _ in range(MAX_WORLD_TRIES):
        world = _world_and_question(rng, config, theme)
        if world is not None:
            break
    else:
        raise RuntimeError(f"SearchQA found no question the oracle can answer for seed {seed} and {config}")
    entities, names, documents, doc_of, mentions, index, queries, question, searches = world
    template, phrases = question.text
    text = template.format(*(_phrase(entities, names, phrase) for phrase in phrases))
    text = text[0].upper() + text[1:]
    answer = str(question.answer[1]) if question.answer[0] == "year" else names[question.answer[1]]
    needed = tuple(dict.fromkeys(doc_of[i] for i in question.path))
    graph = _search_graph(
        index,
        config.top_k,
        tuple(dict.fromkeys(queries[i] for i in question.anchors)),
        tuple(doc_queries for doc_queries, _ in mentions),
        sum(1 << doc for doc in needed),
        sum(1 << doc for doc, (_, answers) in enumerate(mentions) if answer in answers),  # names never differ by case
        config.evidence,
    )
    fewest, _, exact = graph.shortest(0, searches)
    return SearchQATask(
        seed=seed,
        question=text,
        answer=answer,
        kind=question.kind,
        hops=len(question.path),
        documents=tuple(documents),
        needed=needed,
        oracle_queries=tuple(queries[i] for i in dict.fromkeys(question.path)),
        opening_actions=_actions(tuple(queries[i] for i in question.anchors), ()),
        suggested_actions=Suggestions(mentions),
        optimal_steps=min(fewest, searches) + 1,
        optimal_exact=exact,
        plan_steps=searches + 1,
        entities=tuple(sorted(set(names))),
        goal_text=text,
        structure=question.structure,
        facts=_facts(entities, names),
        index=index,
        graph=graph,
    )


@functools.cache
def _vocabulary(theme: str) -> dict[str, str]:
    if theme != GROUNDED:
        return {}
    pools = name_pools(theme)
    generated = {
        PERSON: (pools["first"], pools["last"]),
        ORG: (pools["org"], pools["org_suffix"]),
        WORK: (pools["adjective"], pools["noun"]),
    }
    vocabulary = {
        f"{head} {tail}": kind for kind, (heads, tails) in generated.items() for head in heads for tail in tails
    }
    vocabulary.update((name, kind) for kind, names in real_names(theme).items() for name in names)
    return vocabulary


def _actions(queries: Sequence[str], answers: Sequence[str]) -> Actions:
    """A search per query and an answer per name or year, in order, keyed by their native text
    (``GRAMMAR.render``'s, written directly: a world suggests thousands of commands, and the
    grammar's writer would be most of a reset; a test checks the two agree). Commands are built
    from them only when asked for."""
    actions = {f"<search> {query} </search>": ("search", query) for query in queries}
    actions.update((f"<answer> {answer} </answer>", ("answer", answer)) for answer in answers)
    return tuple(actions.items())


# ----- answers ---------------------------------------------------------------------------------
# ----- answers ---------------------------------------------------------------------------------

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = str.maketrans("", "", string.punctuation)


def normalize_answer(text: str) -> str:
    """Lower case, no punctuation, no articles, single spaces (SQuAD's normalization).

    Example:
        >>> normalize_answer("  The Silent-River! ")
        'silentriver'
    """
    return " ".join(_ARTICLES.sub(" ", text.lower().translate(_PUNCTUATION)).split())


def answer_f1(prediction: str, gold: str) -> float:
    """Token F1 between normalized answers.

    Example:
        >>> answer_f1("Maria Keller", "Maria Keller"), answer_f1("Maria", "Maria Keller")
        (1.0, 0.6666666666666666)
    """
    predicted, expected = normalize_answer(prediction).split(), normalize_answer(gold).split()
    common = sum((Counter(predicted) & Counter(expected)).values())
    if not common:
        return 0.0
    precision, recall = common / len(predicted), common / len(expected)
    return 2 * precision * recall / (precision + recall)


# ----- the environment -------------------------------------------------------------------------

GRAMMAR = Grammar(
    [
        CommandSpec(
            "search",
            "<search> {query} </search>",
            (Arg("query", "text", "keywords, such as a name and what it is"),),
            "search the encyclopedia; the best documents come back between <information> and </information>",
        ),
        CommandSpec(
            "answer",
            "<answer> {answer} </answer>",
            (Arg("answer", "text", "a name or a year, without explanation"),),
            "give your final answer, a name or a year",
        ),
    ]
)
_THINK = re.compile(r"\s*<think>.*?</think>\s*", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"</?(?:search|answer|think|information)>", re.IGNORECASE)


class SearchQAEnv(TextEnv[SearchQAConfig, SearchQATask]):
    """Answer a question about a generated world by searching its encyclopedia.

    Example:
        >>> import gymnasium as gym, llm_gym
        >>> env = gym.make("llm_gym/SearchQA-v0", difficulty="medium", theme="fantasy")
        >>> observation, info = env.reset(seed=0)
        >>> "Question:" in observation, info["optimal_steps"] >= 2
        (True, True)
    """

    family = "SearchQA"
    config_class = SearchQAConfig
    presets = PRESETS
    themes = THEMES
    grammar = GRAMMAR

    @property
    def rules(self) -> str:
        retries = self.config.retries
        if retries:
            wrong = (
                f"You may answer wrongly {retries} time{'s' if retries > 1 else ''} and try again; each wrong answer "
                f"lowers the reward of a later correct one by {self.config.retry_penalty:g}."
            )
        else:
            wrong = "Your first answer ends the episode."
        support = (
            " An answer counts only once you have retrieved the documents it rests on." if self.config.evidence else ""
        )
        return (
            "Answer the question by searching the encyclopedia of this world. You may reason "
            "inside <think> and </think> before your command. A search returns the "
            f"{self.config.top_k} best-matching documents between <information> and </information>; "
            f"search as often as you need. Answer with a name or a year only.{support} {wrong}"
        )

    @classmethod
    def generate_task(cls, seed: int, config: SearchQAConfig, theme: str) -> SearchQATask:
        return generate_task(seed, config, theme)

    @classmethod
    def default_max_turns(cls, config: SearchQAConfig) -> int:
        return 6 + 2 * config.hops

    @classmethod
    def vocabulary(cls, theme: str) -> Mapping[str, str]:
        """Every name of the grounded theme by kind: the real places by theirs, and every person,
        organisation and work its pools can compose; empty for the invented themes."""
        return _vocabulary(theme)

    @classmethod
    def world_relations(cls, theme: str) -> frozenset[tuple[str, ...]]:
        """The real places' facts (``capital_of``, ``in_country``, ``on_continent``, ``language_of``,
        ``currency_of``, ``flows_through``, ``rises_in``) in the grounded theme; people,
        organisations and works are invented and have none."""
        return _real_relations() if theme == GROUNDED else frozenset()

    @classmethod
    def task_relations(cls, task: SearchQATask) -> frozenset[tuple[str, ...]]:
        """What the task's documents state about its real places."""
        return task.facts

    def parse_action(self, text: Any) -> Command | ParseError:
        """The grammar's parser, after one optional leading ``<think>...</think>`` block is removed;
        a command whose argument holds a tag (two commands in one turn) is not read either."""
        if isinstance(text, str):
            thought = _THINK.match(text)
            if thought:
                text = text[thought.end() :]
        parsed = self.grammar.parse(text)
        if isinstance(parsed, Command) and _TAG.search(parsed.args[0]):
            parsed = ParseError("two commands")
        if isinstance(parsed, ParseError) and isinstance(text, str):
            return ParseError(
                f"Your previous action is invalid. Write an optional <think> ... </think> and then exactly one "
                f"command: {self.grammar.syntax_summary()}."
            )
        return parsed

    def _start(self, task: SearchQATask) -> str:
        self.seen: set[int] = set()
        self._mask = 0  # self.seen as a bit mask: the state the search graph plans over
        self.wrong_answers = 0
        self._shown: Sequence[int] | None = None
        self._shown_turn = -1
        self._candidates: dict[str, tuple[str, str]] = dict(task.opening_actions)  # admissible: text -> command
        self._results: dict[str, list[int]] = {}  # this task's other searches so far, by query
        self._plans: dict[int, Command] = {}  # the oracle's move per state, memoized
        self._gold = normalize_answer(task.answer)
        return ""

    def _transition(self, command: Command) -> Transition:
        (text,) = command.args
        if not text:
            return Transition(f"Empty {command.verb}. Use: {GRAMMAR.spec(command.verb).syntax}", status="illegal")
        if command.verb == "search":
            results: Sequence[int] | None = self.task.graph.results.get(text)
            if results is None:
                results = self._results.get(text)
                if results is None:
                    results = self._results[text] = self.task.index.search(text, self.config.top_k)
            self._shown, self._shown_turn = results, self.turn
            for doc in results:
                if doc not in self.seen:
                    self.seen.add(doc)
                    self._mask |= 1 << doc
                    self._candidates.update(self.task.suggested_actions[doc])
            return Transition("")
        supported = not self.config.evidence or self.task.graph.done(self._mask)
        if supported and normalize_answer(text) == self._gold:
            reward = max(0.0, 1.0 - self.config.retry_penalty * self.wrong_answers)
            return Transition("Your answer is correct.", reward=reward, outcome="success", score=reward)
        self.wrong_answers += 1
        f1 = answer_f1(text, self.task.answer) if supported else 0.0  # no partial credit without the evidence
        wrong = (
            "Sorry, your answer is incorrect."
            if supported
            else "Sorry, your answer is incorrect or not supported by the documents you retrieved."
        )
        if self.wrong_answers <= self.config.retries:
            return Transition(f"{wrong} Please try again.", score=f1)
        return Transition(f"{wrong} The episode is over.", outcome="failure", score=f1)

    def state_key(self) -> str:
        """The retrieved documents (they fix the admissible commands), the wrong answers, the outcome."""
        return f"{self.outcome}:{self._mask:x}:{self.wrong_answers}:{self.score!r}"

    def __deepcopy__(self, memo: dict) -> SearchQAEnv:
        """A copy that shares the frozen task (world, index, search graph) and copies the rest."""
        if self._task is not None:
            memo[id(self._task)] = self._task
        clone = object.__new__(type(self))
        memo[id(self)] = clone
        clone.__dict__.update({key: copy.deepcopy(value, memo) for key, value in vars(self).items()})
        return clone

    def __getstate__(self) -> dict[str, Any]:
        """Pickles without the task: it is a pure function of (task seed, config, theme), rebuilt on load."""
        state = dict(vars(self))
        state["_task"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        if "task_seed" in state:
            self._task = self.generate_task(self.task_seed, self.config, self.theme)

    def _view(self) -> dict[str, Any]:
        view: dict[str, Any] = {"feedback": self._feedback}
        if self.turn == 0:
            view["question"] = self.task.question
        if self._shown_turn == self.turn and self._shown is not None:
            view["documents"] = [
                {"title": self.task.documents[doc].title, "text": self.task.documents[doc].text} for doc in self._shown
            ]
        return view

    def render_view(self, view: dict[str, Any], first: bool) -> str:
        parts = [view["feedback"]] if view["feedback"] else []
        if "question" in view:
            parts.append(f"Question: {view['question']}")
        if "documents" in view:
            docs = view["documents"]
            body = "\n".join(f"Doc {n}(Title: {d['title']}) {d['text']}" for n, d in enumerate(docs, 1))
            parts.append(f"<information>{body or 'No document matches the query.'}</information>")
        return "\n".join(parts)

    def _admissible(self) -> list[Command]:
        return [Command(verb, (argument,)) for verb, argument in self._candidates.values()]

    def _admissible_texts(self) -> list[str]:
        return list(self._candidates)

    def _oracle(self) -> Command:
        """A shortest admissible way from what has been retrieved to a supported answer: breadth
        first over the search graph, bounded by the plan (one search per needed document unseen)."""
        move = self._plans.get(self._mask)
        if move is None:
            graph = self.task.graph
            if graph.done(self._mask):
                move = Command("answer", (self.task.answer,))
            else:
                plan = [query for doc, query in zip(self.task.needed, self.task.oracle_queries) if doc not in self.seen]
                _, first, _ = graph.shortest(self._mask, len(plan) - 1)
                move = Command("search", (first or plan[0],))
            self._plans[self._mask] = move
        return move


register_family(SearchQAEnv)
