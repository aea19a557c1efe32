"""SearchQA: answer multi-hop questions by searching a generated encyclopedia, as in the study's
Search-R1-style SearchQA.

Read top to bottom: difficulty knobs and presets, themes (name pools), the world generator (an
abstract knowledge base of people, places, organisations and works, then names from the theme,
then documents and a BM25 index), the question generator with the oracle's verified searches,
answer scoring, and the environment (dynamics and rendering).

Themes differ in names only. The generator picks every name as slots of word pools (a first and
a last name, a place word, ...) and a theme maps each slot to one word of its own, so every theme
produces documents that are the same token for token up to renaming. BM25 depends only on token
statistics and ties break by document index, so every search ranks the same documents in every
theme, and the same seed gives the same knowledge base, question, oracle and optimal steps.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import random
import re
import string
from collections import Counter
from collections.abc import Sequence
from typing import Any

from llm_gym.core import TextEnv, Transition
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
        30, 12, 400, "entities in the knowledge base (people, places, organisations, works), one document each"
    )
    distractors: int = knob(
        0, 0, 100, "extra documents named after the question's entities (a hall, a prize, a street...)"
    )
    namesakes: float = knob(
        0.0, 0.0, 1.0, "chance that a person, place or work on the question's path shares its name with another"
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

PERSON, PLACE, ORG, WORK = "person", "place", "organisation", "work"
OCCUPATIONS = ("painter", "chemist", "novelist", "architect", "composer", "engineer", "physician", "historian")
PLACE_KINDS = ("city", "town", "village", "port")
ORG_KINDS = ("publisher", "studio", "university", "bank", "museum", "laboratory", "newspaper", "theatre")
WORK_KINDS = (("novel", "written"), ("film", "directed"), ("painting", "painted"), ("opera", "composed"))
RELATIONS = {  # kind -> relation -> the kind it leads to
    PERSON: {"born_in": PLACE, "employer": ORG},
    ORG: {"founder": PERSON, "based_in": PLACE},
    WORK: {"creator": PERSON, "publisher": ORG},
    PLACE: {},
}
NOUN_PHRASES = {
    "born_in": "the birthplace of {}",
    "employer": "the employer of {}",
    "founder": "the founder of {}",
    "based_in": "the home of {}",
    "creator": "the creator of {}",
    "publisher": "the organisation that released {}",
}
QUESTIONS = {
    "born_in": "Where was {} born?",
    "employer": "Which organisation did {} work for?",
    "founder": "Who founded {}?",
    "based_in": "Where is {} based?",
    "creator": "Who created {}?",
    "publisher": "Which organisation released {}?",
    PERSON: "In what year was {} born?",
    PLACE: "In what year was {} founded?",
    ORG: "In what year was {} founded?",
    WORK: "In what year was {} created?",
}
COMPARISONS = {
    PERSON: "Who was born earlier, {} or {}?",
    PLACE: "Which was founded earlier, {} or {}?",
    ORG: "Which was founded earlier, {} or {}?",
    WORK: "Which was created earlier, {} or {}?",
}
DISTRACTORS = (  # (title suffix, text); a distractor is named after an entity and mentions a place or organisation
    ("Hall", "{title} is a concert hall in the {kind} {name}, opened in {year}."),
    ("Prize", "{title} is an award given by the {kind} {name} since {year}."),
    ("Street", "{title} is a street in the {kind} {name}, laid out in {year}."),
    ("Lecture", "{title} is a yearly lecture held at the {kind} {name} since {year}."),
    ("Bridge", "{title} is a bridge in the {kind} {name}, built in {year}."),
)

DOCUMENT_TEMPLATES = {
    PERSON: "{name} is {article} {sub} born in {year} in the {place}. {name} worked for the {employer}.",
    PLACE: "{name} is {article} {sub} founded in {year}.",
    ORG: "{name} is {article} {sub} founded in {year} by the {founder}. It is based in the {based_in}.",
    WORK: "{name} is {article} {sub} {verb} by the {creator} in {year}. It was released by the {publisher}.",
}

# ----- themes: word pools, one word per name slot ---------------------------------------------

POOL_SIZES = {
    "first": 30,
    "last": 40,
    "place": 100,
    "org": 30,
    "org_suffix": len(ORG_KINDS),
    "adjective": 30,
    "noun": 30,
}


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


def _compounds(heads: str, tails: str) -> tuple[str, ...]:
    return tuple(head + tail for head in heads.split() for tail in tails.split())


LEXICONS: dict[str, dict[str, tuple[str, ...]]] = {
    "realistic": {
        "first": _words(
            "Maria John Anna Peter Clara David Elena Frank Greta Henry Irene Jonas Laura Martin Nora Oscar "
            "Paula Robert Sofia Thomas Ursula Victor Wendy Walter Alice Bruno Diana Edgar Fiona Hugo"
        ),
        "last": _words(
            "Keller Brandt Moreau Lindqvist Hartmann Okafor Novak Rossi Fischer Duarte Jensen Kowalski Laurent "
            "Marsh Nakamura Olsen Petrov Quinn Rahman Schulz Tanaka Varga Weber Yilmaz Zimmer Abbott Bianchi "
            "Castillo Dalton Eriksen Ferrara Gallo Holm Ibsen Janssen Kaur Lange Mendes Nilsen Ortega"
        ),
        "place": _compounds(
            "Ash Brook Clay Elm Fair Glen Hazel Kings Lang Mill", "ford ton bury field wick by ham mouth stead dale"
        ),
        "org": _words(
            "Atlas Meridian Summit Harbor Pioneer Crescent Beacon Liberty Sterling Vanguard Keystone Westgate "
            "Northwind Granite Cobalt Evergreen Foxglove Aurora Heritage Pinnacle Riverside Redwood Bluestone "
            "Ironbridge Highland Clearwater Goldcrest Monarch Orion Sapphire"
        ),
        "org_suffix": _words("Press Pictures College Trust Gallery Labs Gazette Playhouse"),
        "adjective": _words(
            "Silent Glass Hidden Last Winter Burning Quiet Distant Broken Amber Sleeping Wandering Paper Silver "
            "Crimson Empty Endless Frozen Golden Hollow Lonely Midnight Northern Patient Restless Scarlet Secret "
            "Shifting Velvet Yellow"
        ),
        "noun": _words(
            "River Harbour Garden Letter Mirror Orchard Lantern Meadow Window Voyage Island Compass Season Tide "
            "Canyon Cathedral Daughter Echo Feather Horizon Journey Kingdom Lighthouse Mountain Ocean Promise "
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
        "place": _compounds(
            "Ember Storm Mist Raven Frost Shadow Dragon Wolf Moon Dusk",
            "fall hold keep vale reach haven mere spire gate crest",
        ),
        "org": _words(
            "Argent Azure Obsidian Vermilion Ivory Jade Onyx Amber Cobalt Gilded Verdant Umber Ashen Radiant "
            "Twilight Sable Celestial Arcane Eldritch Runic Hallowed Wyrm Griffin Phoenix Basilisk Chimera "
            "Manticore Hydra Kraken Sphinx"
        ),
        "org_suffix": _words("Scriptorium Masquers Academy Treasury Reliquary Alembic Herald Players"),
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


def _structural_vocabulary() -> frozenset[str]:
    texts = [*OCCUPATIONS, *PLACE_KINDS, *ORG_KINDS, *(word for pair in WORK_KINDS for word in pair)]
    texts += [*NOUN_PHRASES.values(), *QUESTIONS.values(), *COMPARISONS.values(), *DOCUMENT_TEMPLATES.values()]
    texts += [part for entry in DISTRACTORS for part in entry]
    return frozenset(word for text in texts for word in re.findall(r"[a-z]+", text.lower()))


STRUCTURAL_VOCABULARY = _structural_vocabulary()  # every word of documents and questions besides names and years


def _made_up_pools() -> dict[str, tuple[str, ...]]:
    words = made_up_words(random.Random("searchqa/made-up"), sum(POOL_SIZES.values()), taken=STRUCTURAL_VOCABULARY)
    pools, start = {}, 0
    for pool, size in POOL_SIZES.items():
        pools[pool] = tuple(word.capitalize() for word in words[start : start + size])
        start += size
    return pools


NAME_POOLS = {**LEXICONS, "made-up": _made_up_pools()}  # each theme's word pool for every name slot
THEMES = tuple(NAME_POOLS)


# ----- the world generator: abstract entities, then names, documents and an index --------------


@dataclasses.dataclass
class _Entity:
    """An abstract entity while the world is generated: kind, subtype index, name slots, year, links."""

    kind: str
    sub: int
    name: tuple[int, ...]
    year: int
    links: dict[str, int]


@dataclasses.dataclass(frozen=True)
class Document:
    title: str
    text: str


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
    opening_actions: tuple[tuple[Command, str], ...]  # searches for the entities the question names, and their text
    suggested_actions: tuple[tuple[tuple[Command, str], ...], ...]  # per document: the searches and answers it suggests
    optimal_steps: int  # the fewest admissible steps from reset to success, found by search
    optimal_exact: bool  # False where the search hit MAX_PLAN_STATES: then optimal_steps is the plan's length
    plan_steps: int  # the generator's plan: one search per needed document, then the answer
    entities: tuple[str, ...]
    index: BM25Index = dataclasses.field(compare=False, repr=False)
    graph: SearchGraph = dataclasses.field(compare=False, repr=False)


def _descriptor(entity: _Entity) -> str:
    if entity.kind == PERSON:
        return OCCUPATIONS[entity.sub]
    if entity.kind == PLACE:
        return PLACE_KINDS[entity.sub]
    if entity.kind == ORG:
        return ORG_KINDS[entity.sub]
    return WORK_KINDS[entity.sub][0]


def _abstract_world(rng: random.Random, config: SearchQAConfig) -> list[_Entity]:
    """People, places, organisations and works with distinct name slots, years and links."""
    size = config.kb_size
    counts = {PERSON: round(0.35 * size), PLACE: round(0.2 * size), ORG: round(0.2 * size)}
    counts[WORK] = size - sum(counts.values())

    def distinct(pool_sizes: tuple[int, ...], count: int) -> list[tuple[int, ...]]:
        chosen: dict[tuple[int, ...], None] = {}
        while len(chosen) < count:
            chosen[tuple(rng.randrange(n) for n in pool_sizes)] = None
        return list(chosen)

    people = [
        _Entity(PERSON, rng.randrange(len(OCCUPATIONS)), name, rng.randint(1850, 1960), {})
        for name in distinct((POOL_SIZES["first"], POOL_SIZES["last"]), counts[PERSON])
    ]
    places = [
        _Entity(PLACE, rng.randrange(len(PLACE_KINDS)), name, rng.randint(900, 1700), {})
        for name in distinct((POOL_SIZES["place"],), counts[PLACE])
    ]
    orgs = [_Entity(ORG, name[1], name, 0, {}) for name in distinct((POOL_SIZES["org"], len(ORG_KINDS)), counts[ORG])]
    works = [
        _Entity(WORK, rng.randrange(len(WORK_KINDS)), name, 0, {})
        for name in distinct((POOL_SIZES["adjective"], POOL_SIZES["noun"]), counts[WORK])
    ]
    entities = people + places + orgs + works
    ids = {kind: [i for i, e in enumerate(entities) if e.kind == kind] for kind in (PERSON, PLACE, ORG, WORK)}
    for entity in people:
        entity.links = {"born_in": rng.choice(ids[PLACE]), "employer": rng.choice(ids[ORG])}
    for entity in orgs:
        founder = rng.choice(ids[PERSON])
        entity.links = {"founder": founder, "based_in": rng.choice(ids[PLACE])}
        entity.year = entities[founder].year + rng.randint(25, 60)
    for entity in works:
        creator = rng.choice(ids[PERSON])
        entity.links = {"creator": creator, "publisher": rng.choice(ids[ORG])}
        entity.year = entities[creator].year + rng.randint(20, 60)
    return entities


@dataclasses.dataclass(frozen=True)
class _Question:
    kind: str
    text: tuple  # (template, noun phrases to fill it with), each noun phrase as _noun_phrase returns it
    answer: tuple  # ("year", int) or ("name", entity id)
    path: tuple[int, ...]  # entity ids whose documents the answer needs, in order
    anchors: tuple[int, ...]  # the entities the question names


def _walk(rng: random.Random, entities: list[_Entity], length: int, end_kinds: tuple[str, ...]) -> list[int] | None:
    """A chain of ``length`` distinct entities, each linked to the next, the last of a kind in ``end_kinds``."""
    candidates = [
        i for i, e in enumerate(entities) if length == 1 and e.kind in end_kinds or length > 1 and RELATIONS[e.kind]
    ]
    path = [rng.choice(candidates)]
    for step in range(1, length):
        options = sorted(RELATIONS[entities[path[-1]].kind])
        if step < length - 1:
            options = [r for r in options if RELATIONS[RELATIONS[entities[path[-1]].kind][r]]]
        else:
            options = [r for r in options if RELATIONS[entities[path[-1]].kind][r] in end_kinds]
        if not options:
            return None
        nxt = entities[path[-1]].links[rng.choice(options)]
        if nxt in path:
            return None
        path.append(nxt)
    return path


def _relation(entities: list[_Entity], source: int, target: int) -> str:
    return next(r for r, t in entities[source].links.items() if t == target)


def _noun_phrase(entities: list[_Entity], path: list[int]) -> tuple:
    """The last entity of ``path`` described from the first: (relations along the path, anchor id)."""
    relations = tuple(_relation(entities, a, b) for a, b in zip(path, path[1:]))
    return (relations, path[0])


def _question(rng: random.Random, entities: list[_Entity], config: SearchQAConfig) -> _Question | None:
    if config.hops >= 2 and rng.random() < config.comparison:
        first_length = rng.randint(1, config.hops - 1)
        first = _walk(rng, entities, first_length, (PERSON, PLACE, ORG, WORK))
        if first is None:
            return None
        kind = entities[first[-1]].kind
        for _ in range(30):
            second = _walk(rng, entities, config.hops - first_length, (kind,))
            if second is None or set(second) & set(first):
                continue
            a, b = entities[first[-1]], entities[second[-1]]
            if a.year == b.year or a.name == b.name:
                continue
            sides = (first, second) if rng.random() < 0.5 else (second, first)
            earlier = first[-1] if a.year < b.year else second[-1]
            phrases = tuple(_noun_phrase(entities, side) for side in sides)
            return _Question(
                "comparison",
                (COMPARISONS[kind], phrases),
                ("name", earlier),
                tuple(first + second),
                (first[0], second[0]),
            )
        return None
    path = _walk(rng, entities, config.hops, (PERSON, PLACE, ORG, WORK))
    if path is None:
        return None
    last = entities[path[-1]]
    final = rng.choice(sorted(last.links) + ["year"])
    if final == "year":
        return _Question(
            "bridge",
            (QUESTIONS[last.kind], (_noun_phrase(entities, path),)),
            ("year", last.year),
            tuple(path),
            (path[0],),
        )
    if last.links[final] in path:
        return None
    return _Question(
        "bridge",
        (QUESTIONS[final], (_noun_phrase(entities, path),)),
        ("name", last.links[final]),
        tuple(path),
        (path[0],),
    )


def _add_namesakes(rng: random.Random, entities: list[_Entity], question: _Question, rate: float) -> None:
    """Give entities (not organisations) a namesake: another entity of their kind, another subtype.

    Each entity on the question's path gets one with chance ``rate``, any other with ``rate / 4``,
    so that having a namesake says little about being on the path.
    """
    taken = set(question.path) | ({question.answer[1]} if question.answer[0] == "name" else set())
    others = [i for i in range(len(entities)) if i not in taken]
    for entity_id in [*question.path, *others]:
        entity = entities[entity_id]
        if entity.kind == ORG or rng.random() >= (rate if entity_id in question.path else rate / 4):
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


def _name(entity: _Entity, pools: dict[str, tuple[str, ...]]) -> str:
    if entity.kind == PERSON:
        return f"{pools['first'][entity.name[0]]} {pools['last'][entity.name[1]]}"
    if entity.kind == PLACE:
        return pools["place"][entity.name[0]]
    if entity.kind == ORG:
        return f"{pools['org'][entity.name[0]]} {pools['org_suffix'][entity.name[1]]}"
    return f"{pools['adjective'][entity.name[0]]} {pools['noun'][entity.name[1]]}"


def _documents(
    rng: random.Random, entities: list[_Entity], names: list[str], question: _Question, distractors: int
) -> tuple[list[Document], list[int], list[tuple[tuple[str, ...], tuple[str, ...]]]]:
    """Each entity's document, the distractors, shuffled; each entity's document index; mentions."""

    def mention(i: int) -> str:
        return f"{_descriptor(entities[i])} {names[i]}"

    def query(i: int) -> str:
        return f"{names[i]} {_descriptor(entities[i])}"

    drafts: list[tuple[Document, tuple[str, ...], tuple[str, ...]]] = []
    for i, entity in enumerate(entities):
        links = {relation: mention(target) for relation, target in entity.links.items()}
        sub = _descriptor(entity)
        fields = {
            "name": names[i],
            "sub": sub,
            "article": "an" if sub[0] in "aeiou" else "a",
            "year": entity.year,
            **links,
        }
        if entity.kind == PERSON:
            fields["place"] = links["born_in"]
        if entity.kind == WORK:
            fields["verb"] = WORK_KINDS[entity.sub][1]
        text = DOCUMENT_TEMPLATES[entity.kind].format(**fields)
        shown = [i, *entity.links.values()]
        drafts.append(
            (Document(names[i], text), tuple(query(j) for j in shown), (*(names[j] for j in shown), str(entity.year)))
        )
    targets = list(question.path)
    hosts = [i for i, e in enumerate(entities) if e.kind in (PLACE, ORG)]
    for index in range(distractors):
        target = targets[index % len(targets)] if rng.random() < 0.7 else rng.randrange(len(entities))
        suffix, template = DISTRACTORS[rng.randrange(len(DISTRACTORS))]
        kind = ORG if suffix in ("Prize", "Lecture") else PLACE
        host = rng.choice([i for i in hosts if entities[i].kind == kind and i != target])
        title = f"{names[target]} {suffix}"
        year = rng.randint(1850, 2020)
        text = template.format(title=title, kind=_descriptor(entities[host]), name=names[host], year=year)
        drafts.append((Document(title, text), (query(host),), (names[host], str(year))))
    order = list(range(len(drafts)))
    rng.shuffle(order)
    position = {draft: place for place, draft in enumerate(order)}
    documents = [drafts[i][0] for i in order]
    mentions = [(drafts[i][1], drafts[i][2]) for i in order]
    return documents, [position[i] for i in range(len(entities))], mentions


def _oracle_plan(index: BM25Index, doc_of: list[int], queries: list[str], path: tuple[int, ...], k: int) -> int | None:
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
        text = NOUN_PHRASES[relation].format(text)
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
    pools = NAME_POOLS[theme]
    names = [_name(entity, pools) for entity in entities]
    documents, doc_of, mentions = _documents(rng, entities, names, first, config.distractors)
    index = BM25Index([f"{document.title} {document.text}" for document in documents])
    queries = [f"{names[i]} {_descriptor(e)}" for i, e in enumerate(entities)]
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
    suggested = tuple(
        _with_text([*(Command("search", (q,)) for q in doc_queries), *(Command("answer", (a,)) for a in doc_answers)])
        for doc_queries, doc_answers in mentions
    )
    gold = normalize_answer(answer)
    graph = _search_graph(
        index,
        config.top_k,
        tuple(dict.fromkeys(queries[i] for i in question.anchors)),
        tuple(doc_queries for doc_queries, _ in mentions),
        sum(1 << doc for doc in needed),
        sum(1 << doc for doc, (_, answers) in enumerate(mentions) if any(normalize_answer(a) == gold for a in answers)),
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
        opening_actions=_with_text(Command("search", (queries[i],)) for i in question.anchors),
        suggested_actions=suggested,
        optimal_steps=min(fewest, searches) + 1,
        optimal_exact=exact,
        plan_steps=searches + 1,
        entities=tuple(sorted(set(names))),
        index=index,
        graph=graph,
    )


def _with_text(commands) -> tuple[tuple[Command, str], ...]:
    """Distinct commands, in order, each with its native text (``GRAMMAR.render``'s, written
    directly: a world suggests hundreds of commands, and the grammar's writer is the slow part of a
    reset; a test checks the two agree)."""
    return tuple((command, _NATIVE[command.verb].format(*command.args)) for command in dict.fromkeys(commands))


_NATIVE = {"search": "<search> {} </search>", "answer": "<answer> {} </answer>"}


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
            "Answer the question about a made-up world by searching its encyclopedia. You may reason "
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
        self._candidates: dict[Command, str] = dict(task.opening_actions)  # the admissible commands and their text
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
        return list(self._candidates)

    def _admissible_texts(self) -> list[str]:
        return list(self._candidates.values())

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
