"""Household: ALFWorld-style tasks in generated homes, offline and with knobs.

The study's ALFWorld needs downloaded game files; this family generates the same kind of task:
one of six task types (pick and place, pick two and place, clean, heat or cool and place, examine
in light) in a home of ALFWorld's receptacles (countertops, shelves, drawers and cabinets that open
and close, a sink basin, a microwave, a fridge...) with ALFWorld's objects where ALFWorld finds
them, some inside closed receptacles. What can be cleaned, heated or cooled is ALFWorld's table
too (llm_gym/data/household_alfworld.json). Commands, observations, task texts and the first-turn
list of admissible commands read like ALFWorld's.

Read top to bottom: difficulty knobs and presets, the world and its themes, the task generator (an
abstract home from the seed, then names from the theme), the planner behind the oracle (one A*
search over an abstract state serves every task type), and the environment (dynamics and
rendering). The same seed gives the same home, task and optimal plan in every theme.
"""

from __future__ import annotations

import dataclasses
import functools
import heapq
import json
import math
import random
from importlib import resources
from typing import Any

from llm_gym.core import TextEnv, Transition
from llm_gym.difficulty import Config, knob
from llm_gym.grammar import Arg, Command, CommandSpec, Grammar
from llm_gym.registry import register_family
from llm_gym.themes import made_up_words

TASK_TYPES = ("pick", "pick_two", "clean", "heat", "cool", "examine")
PROCESS_VERBS = ("clean", "heat", "cool")  # task types whose object must be treated at an appliance
CLEAN, HOT, COLD = 1, 2, 4  # object state bits; heating clears COLD and cooling clears HOT
_STATE_BIT = {"clean": CLEAN, "heat": HOT, "cool": COLD}
_STATE_WORD = ((CLEAN, "clean"), (HOT, "hot"), (COLD, "cool"))


@dataclasses.dataclass(frozen=True)
class HouseholdConfig(Config):
    task_types: tuple = knob(("pick", "examine"), doc="task types drawn from", choices=TASK_TYPES)
    receptacles: int = knob(6, 5, 40, "receptacles in the home, the sink, microwave and fridge included")
    objects: int = knob(3, 0, 80, "objects of other types than the task's object (clutter)")
    same_type_distractors: int = knob(0, 0, 8, "extra objects of the task's type beyond those it needs")
    closed_share: float = knob(0.0, 0.0, 1.0, "share of the receptacles that open and close that start closed")
    hidden_share: float = knob(0.0, 0.0, 1.0, "share of the task's objects put inside receptacles that open and close")
    pick_count: int = knob(2, 2, 4, "objects a pick-two task asks for")


PRESETS = {
    "easy": HouseholdConfig(),
    "medium": HouseholdConfig(task_types=TASK_TYPES, receptacles=10, objects=8, closed_share=0.5),
    "hard": HouseholdConfig(
        task_types=TASK_TYPES, receptacles=16, objects=14, same_type_distractors=1, closed_share=1.0, hidden_share=1.0
    ),
    "expert": HouseholdConfig(
        task_types=("pick", "pick_two", "clean", "heat", "cool"),
        receptacles=24,
        objects=24,
        same_type_distractors=1,
        closed_share=1.0,
        hidden_share=1.0,
        pick_count=3,
    ),
}

# ----- the world and its themes ----------------------------------------------------------------
# The world is ALFWorld's own tables (llm_gym/data/household_alfworld.json, derived from the
# alfworld package by tools/derive_household.py): its receptacle classes, what each one holds,
# which open, the sink, microwave and fridge that clean, heat and cool; its object classes and what
# each affords; its two lamps. Kinds are indices into the world; a theme only names them.

AFFORDANCE_WORDS = {"clean": "cleaned", "heat": "heated", "cool": "cooled"}


@dataclasses.dataclass(frozen=True)
class World:
    """Receptacle, object and light kinds by index (storage receptacles first, the three appliances
    last), with ALFWorld's names and facts."""

    receptacles: tuple[str, ...]
    opens: tuple[bool, ...]
    treats: tuple[str | None, ...]  # "clean", "heat", "cool" for the appliances, None for storage
    holds: tuple[frozenset[int], ...]  # per receptacle kind: the object kinds found in it
    held: tuple[tuple[int, ...], ...]  # the same, as sorted tuples to draw from
    objects: tuple[str, ...]
    affords: tuple[frozenset[str], ...]  # per object kind: words of ("cleaned", "heated", "cooled", "sliced")
    treatable: tuple[frozenset[str], ...]  # per object kind: the verbs of ("clean", "heat", "cool") it allows
    lights: tuple[str, ...]
    light_places: tuple[frozenset[int], ...]  # per light: the receptacle kinds it stands at
    storage: tuple[int, ...]  # receptacle kinds that are no appliance
    stations: tuple[int, ...]  # the washer, heater and cooler kinds
    source: str


@functools.cache
def alfworld_world() -> World:
    """ALFWorld's world, read once from the package data."""
    data = json.loads(resources.files("llm_gym").joinpath("data/household_alfworld.json").read_text())
    treats = {"cleaned": "clean", "heated": "heat", "cooled": "cool"}
    verb_order = ("clean", "heat", "cool")
    entries = sorted(
        data["receptacles"].items(), key=lambda item: verb_order.index(treats[t]) if (t := item[1]["treats"]) else -1
    )
    receptacles = tuple(name for name, _ in entries)
    objects = tuple(data["objects"])
    object_index = {name: o for o, name in enumerate(objects)}
    receptacle_index = {name: r for r, name in enumerate(receptacles)}
    return World(
        receptacles=receptacles,
        opens=tuple(entry["opens"] for _, entry in entries),
        treats=tuple(treats.get(entry["treats"]) for _, entry in entries),
        holds=tuple(frozenset(object_index[o] for o in entry["holds"]) for _, entry in entries),
        held=tuple(tuple(sorted(object_index[o] for o in entry["holds"])) for _, entry in entries),
        objects=objects,
        affords=tuple(frozenset(data["objects"][name]) for name in objects),
        treatable=tuple(
            frozenset(verb for verb, word in AFFORDANCE_WORDS.items() if word in data["objects"][name])
            for name in objects
        ),
        lights=tuple(data["lights"]),
        light_places=tuple(frozenset(receptacle_index[r] for r in places) for places in data["lights"].values()),
        storage=tuple(r for r, (_, entry) in enumerate(entries) if entry["treats"] is None),
        stations=tuple(r for r, (_, entry) in enumerate(entries) if entry["treats"] is not None),
        source=data["source"],
    )


def _station_kind(task_type: str) -> int:
    """The appliance kind that treats objects for ``task_type``; -1 for the task types without one."""
    treats = alfworld_world().treats
    return treats.index(task_type) if task_type in treats else -1


@functools.cache
def _goal_choices(task_type: str, hidden: bool) -> tuple[tuple[int, int], ...]:
    """Every (object kind, destination kind) a task of ``task_type`` can ask for (destination -1 for
    examine), by ALFWorld's rules: the object affords the treatment and the destination, not the
    appliance that treats it, holds it; another receptacle, not that appliance either (and one that
    opens, if the object is to be hidden), holds it to start from."""
    world = alfworld_world()
    word, station = AFFORDANCE_WORDS.get(task_type), _station_kind(task_type)
    choices = []
    for o in range(len(world.objects)):
        if word is not None and word not in world.affords[o]:
            continue
        places = [r for r, held in enumerate(world.holds) if o in held and r != station]
        starts = [r for r in places if world.opens[r] or not hidden]
        if task_type == "examine":
            choices.extend([(o, -1)] if starts else [])
        else:
            choices.extend((o, d) for d in places if any(r != d for r in starts))
    return tuple(choices)


THEMES = ("household", "made-up")


@dataclasses.dataclass(frozen=True)
class Names:
    """A task's names of the kinds it uses: receptacle kind -> name, object kind -> name, the light."""

    receptacles: dict[int, str]
    objects: dict[int, str]
    light: str


def _names(theme: str, seed: int, receptacle_kinds: set[int], object_kinds: set[int], light: int) -> Names:
    world = alfworld_world()
    if theme != "made-up":
        return Names(
            {k: world.receptacles[k] for k in receptacle_kinds},
            {k: world.objects[k] for k in object_kinds},
            world.lights[light] if light >= 0 else "",
        )
    rooms, things = sorted(receptacle_kinds), sorted(object_kinds)
    words = made_up_words(random.Random(f"household-names/{seed}"), len(rooms) + len(things) + 1)
    return Names(dict(zip(rooms, words)), dict(zip(things, words[len(rooms) :])), words[-1] if light >= 0 else "")


_TASK_TEMPLATES = {  # ALFWorld's own (alfworld/gen/goal_library.py), with "two" as pick_count says
    "pick": ("put a {o} in {r}.", "put some {o} on {r}."),
    "pick_two": ("put {n} {o} in {r}.", "find {n} {o} and put them in {r}."),
    "clean": ("put a clean {o} in {r}.", "clean some {o} and put it in {r}."),
    "heat": ("put a hot {o} in {r}.", "heat some {o} and put it in {r}."),
    "cool": ("put a cool {o} in {r}.", "cool some {o} and put it in {r}."),
    "examine": ("look at {o} under the {l}.", "examine the {o} with the {l}."),
}
_NUMBER_WORDS = {2: "two", 3: "three", 4: "four"}

# ----- the task generator --------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Problem:
    """What the planner needs of a task, in receptacle and object indices (no names)."""

    task_type: str
    need: int  # objects to place together (1, or pick_count for pick_two)
    relevant: tuple[int, ...]  # the objects of the task's type
    dests: tuple[int, ...]  # receptacles of the destination type (empty for examine)
    station: int  # the appliance that treats the object, -1 if none
    requirement: int  # the state bit the placed objects need (0 if none)
    lamp_place: int  # the receptacle the light stands at, -1 if the home has none
    openable: int  # bitmask over receptacles


@dataclasses.dataclass(frozen=True)
class HouseholdTask:
    seed: int
    task_type: str
    goal: str  # "put a clean mug in coffeemachine.", in one of the two phrasings
    goal_text: str  # the goal in its first phrasing: equal exactly when two tasks ask the same
    structure: str  # "heat.r10.o9.c3.s7": type, receptacles, objects, closed ones, optimal steps
    receptacles: tuple[str, ...]  # "drawer 2", in the order the room lists them
    receptacle_kinds: tuple[int, ...]
    initially_open: tuple[bool, ...]  # True also for receptacles that do not open and close
    objects: tuple[str, ...]  # "mug 1"
    object_kinds: tuple[int, ...]
    object_places: tuple[int, ...]
    target_kind: int
    dest_kind: int  # -1 for examine
    lamp: str  # "desklamp 1", "" if the home has no light
    light_kind: int  # -1 if the home has no light
    problem: Problem
    plan: tuple[Command, ...]  # the oracle's optimal plan from the start
    optimal_steps: int
    entities: tuple[str, ...]


def _layout(seed: int, config: HouseholdConfig) -> dict[str, Any]:
    """The abstract home and task for ``seed``: kinds, places and the task, no names."""
    world = alfworld_world()
    rng = random.Random(f"household/{seed}")
    task_type = rng.choice([t for t in TASK_TYPES if t in config.task_types])
    need = config.pick_count if task_type == "pick_two" else 1
    n_relevant = need + config.same_type_distractors
    hidden = round(config.hidden_share * n_relevant)
    target_kind, dest_kind = rng.choice(_goal_choices(task_type, hidden > 0))
    station_kind = _station_kind(task_type)
    holds_target = [
        r for r, held in enumerate(world.holds) if target_kind in held and r not in (dest_kind, station_kind)
    ]
    source = rng.choice([r for r in holds_target if world.opens[r]] if hidden else holds_target)
    light = rng.randrange(len(world.lights))
    required = [k for k in (dest_kind, source) if k in world.storage]
    if task_type == "examine":
        required.append(rng.choice(sorted(world.light_places[light])))
    required = list(dict.fromkeys(required))

    storage = config.receptacles - len(world.stations)
    kind_count = min(max(2, round(storage / 2.5)), len(world.storage), storage)
    others = [k for k in world.storage if k not in required]
    kinds = required + rng.sample(others, kind_count - len(required))
    counts = dict.fromkeys(kinds, 1)
    for _ in range(storage - kind_count):
        counts[rng.choice(kinds)] += 1
    order = kinds + list(world.stations)
    rng.shuffle(order)
    receptacle_kinds = [kind for kind in order for _ in range(counts.get(kind, 1))]
    openable = [world.opens[kind] for kind in receptacle_kinds]
    openable_ids = [r for r, flag in enumerate(openable) if flag]
    closed = set(rng.sample(openable_ids, round(config.closed_share * len(openable_ids))))

    allowed = [
        r
        for r, kind in enumerate(receptacle_kinds)
        if kind not in (dest_kind, station_kind) and target_kind in world.holds[kind]
    ]
    inside = [r for r in allowed if openable[r]]
    object_kinds = [target_kind] * n_relevant
    object_places = [rng.choice(inside if k < hidden else allowed) for k in range(n_relevant)]
    cluttered = [
        r for r, kind in enumerate(receptacle_kinds) if len(world.held[kind]) > (target_kind in world.holds[kind])
    ]
    for _ in range(config.objects):
        place = rng.choice(cluttered)
        kind = target_kind
        while kind == target_kind:
            kind = rng.choice(world.held[receptacle_kinds[place]])
        object_kinds.append(kind)
        object_places.append(place)
    stands = [r for r, kind in enumerate(receptacle_kinds) if kind in world.light_places[light]]
    lamp_place = rng.choice(stands) if stands else -1
    problem = Problem(
        task_type=task_type,
        need=need,
        relevant=tuple(range(n_relevant)),
        dests=tuple(r for r, kind in enumerate(receptacle_kinds) if kind == dest_kind),
        station=receptacle_kinds.index(station_kind) if station_kind >= 0 else -1,
        requirement=_STATE_BIT.get(task_type, 0),
        lamp_place=lamp_place,
        openable=sum(1 << r for r in openable_ids),
    )
    return {
        "problem": problem,
        "receptacle_kinds": receptacle_kinds,
        "initially_open": tuple(r not in closed for r in range(len(receptacle_kinds))),
        "object_kinds": object_kinds,
        "object_places": object_places,
        "target_kind": target_kind,
        "dest_kind": dest_kind,
        "light": light if lamp_place >= 0 else -1,
        "template": rng.randrange(2),
    }


def _numbered(kinds: list[int], names: dict[int, str]) -> tuple[str, ...]:
    seen: dict[int, int] = {}
    numbered = []
    for kind in kinds:
        seen[kind] = seen.get(kind, 0) + 1
        numbered.append(f"{names[kind]} {seen[kind]}")
    return tuple(numbered)


def generate_task(seed: int, config: HouseholdConfig, theme: str) -> HouseholdTask:
    """A Household task: a home, a task and the oracle's optimal plan. Pure in its arguments."""
    layout = _layout(seed, config)
    problem: Problem = layout["problem"]
    receptacle_kinds, object_kinds, light = layout["receptacle_kinds"], layout["object_kinds"], layout["light"]
    names = _names(theme, seed, set(receptacle_kinds), set(object_kinds), light)
    receptacles = _numbered(receptacle_kinds, names.receptacles)
    objects = _numbered(object_kinds, names.objects)
    lamp = f"{names.light} 1" if light >= 0 else ""
    places = tuple(layout["object_places"])
    start = _start_state(problem, places, layout["initially_open"])
    actions = plan(problem, start)
    commands = tuple(_command(action, receptacles, objects, lamp, -1, problem.relevant) for action in actions)
    dest_kind = layout["dest_kind"]
    words = {
        "o": names.objects[layout["target_kind"]],
        "r": names.receptacles[dest_kind] if dest_kind >= 0 else "",
        "l": names.light,
        "n": _NUMBER_WORDS.get(problem.need, ""),
    }
    templates = _TASK_TEMPLATES[problem.task_type]
    closed = layout["initially_open"].count(False)
    structure = f"{problem.task_type.replace('_', '-')}.r{len(receptacles)}.o{len(objects)}.c{closed}.s{len(commands)}"
    entities = {*names.receptacles.values(), *names.objects.values(), *([names.light] if lamp else [])}
    return HouseholdTask(
        seed=seed,
        task_type=problem.task_type,
        goal=templates[layout["template"]].format(**words),
        goal_text=templates[0].format(**words),
        structure=structure,
        receptacles=receptacles,
        receptacle_kinds=tuple(receptacle_kinds),
        initially_open=layout["initially_open"],
        objects=objects,
        object_kinds=tuple(object_kinds),
        object_places=places,
        target_kind=layout["target_kind"],
        dest_kind=dest_kind,
        lamp=lamp,
        light_kind=light,
        problem=problem,
        plan=commands,
        optimal_steps=len(commands),
        entities=tuple(sorted(entities)),
    )


def _world_relations() -> frozenset[tuple[str, ...]]:
    """ALFWorld's facts: where each object and light is found, what each object affords, which
    receptacles open, and which appliance cleans, heats or cools."""
    world = alfworld_world()
    facts: set[tuple[str, ...]] = {
        ("found_in", world.objects[o], world.receptacles[r]) for r, held in enumerate(world.holds) for o in held
    }
    facts |= {
        ("found_in", name, world.receptacles[r]) for name, at in zip(world.lights, world.light_places) for r in at
    }
    facts |= {("can_be", world.objects[o], word) for o, words in enumerate(world.affords) for word in words}
    facts |= {("can_be", name, "switched_on") for name in world.lights}
    facts |= {("can_be", world.receptacles[r], "opened") for r, flag in enumerate(world.opens) if flag}
    facts |= {(f"{world.treats[r]}s", world.receptacles[r]) for r in world.stations}
    return frozenset(facts)


def _task_relations(task: HouseholdTask) -> frozenset[tuple[str, ...]]:
    """The facts ``task`` shows or relies on, in its own names: where its objects and light start,
    that the destination holds the object, which of its receptacles open, and the affordance and
    appliance its treatment needs."""
    kind = {name: name.rsplit(" ", 1)[0] for name in (*task.receptacles, *task.objects, task.lamp) if name}
    problem = task.problem
    facts: set[tuple[str, ...]] = {
        ("found_in", kind[o], kind[task.receptacles[r]]) for o, r in zip(task.objects, task.object_places)
    }
    facts |= {("can_be", kind[r], "opened") for i, r in enumerate(task.receptacles) if problem.openable >> i & 1}
    if task.lamp:
        facts.add(("found_in", kind[task.lamp], kind[task.receptacles[problem.lamp_place]]))
    target = kind[task.objects[problem.relevant[0]]]
    if problem.dests:
        facts.add(("found_in", target, kind[task.receptacles[problem.dests[0]]]))
    if problem.station >= 0:
        facts.add(("can_be", target, AFFORDANCE_WORDS[task.task_type]))
        facts.add((f"{task.task_type}s", kind[task.receptacles[problem.station]]))
    if task.task_type == "examine":
        facts.add(("can_be", kind[task.lamp], "switched_on"))
    return frozenset(facts)


# ----- the planner behind the oracle ---------------------------------------------------------
# Abstract state: (location, held, places, ok, opened, lamp_on). ``held`` is -1 (nothing), -2 (an
# object of another type) or the index of a relevant object (one of the task's type); ``places``
# gives each relevant object's receptacle (-1 while held); ``ok`` is a bitmask of the relevant
# objects that meet the requirement; ``opened`` a bitmask of the receptacles one can reach into.
# Actions are only those that can lie on an optimal plan (every `go to` costs one step), and
# receptacles that are interchangeable are represented by one of them.

State = tuple[int, int, tuple[int, ...], int, int, bool]
_JUNK = -2


def _start_state(problem: Problem, places: tuple[int, ...], initially_open: tuple[bool, ...]) -> State:
    opened = sum(1 << r for r, flag in enumerate(initially_open) if flag)
    ok = 0 if problem.requirement else (1 << len(problem.relevant)) - 1
    return (-1, -1, tuple(places[o] for o in problem.relevant), ok, opened, False)


def _is_goal(problem: Problem, state: State) -> bool:
    loc, held, places, ok, _, lamp = state
    if problem.task_type == "examine":
        return held >= 0 and lamp and loc == problem.lamp_place
    for r in problem.dests:
        if sum(1 for i, p in enumerate(places) if p == r and ok >> i & 1) >= problem.need:
            return True
    return False


def _heuristic(problem: Problem, state: State) -> int:
    """A lower bound on the steps left (admissible, so A* stays optimal).

    Per candidate object: the steps only it needs (walk to it, take, walk to the appliance and
    treat it, walk to the destination, put: one hand means each object is carried on its own), an
    open of its closed receptacle shared with the candidates in the same receptacle; then the
    cheapest candidates the destination still lacks, for the best destination.
    """
    loc, held, places, ok, opened, lamp = state
    junk = 1 if held == _JUNK else 0
    if problem.task_type == "examine":
        light, lamp_off = problem.lamp_place, 0 if lamp else 1
        if held >= 0:
            return (loc != light) + lamp_off
        nearest = min((p != loc) + (not opened >> p & 1) + 1 + (p != light) for p in places)
        return junk + nearest + lamp_off
    station = problem.station
    shares: dict[int, int] = {}  # closed receptacle -> relevant objects in it (they share one open)
    for p in places:
        if p >= 0 and not opened >> p & 1:
            shares[p] = shares.get(p, 0) + 1
    best, seen = float(1 << 30), set()
    for r in problem.dests:
        if r not in shares and r not in places and r != loc:  # empty destinations differ only in being open
            if opened >> r & 1 in seen:
                continue
            seen.add(opened >> r & 1)
        costs, have = [], 0
        for i, p in enumerate(places):
            ready = ok >> i & 1
            if p == r and ready:
                have += 1
                continue
            if i == held:
                where, cost = loc, 0.0
            else:
                where, cost = p, (p != r and p != loc) + 1 + (1 / shares[p] if p in shares else 0)
            if not ready:
                cost += (where != station) + 1
                where = station
            costs.append(cost + (where != r) + 1)
        missing = problem.need - have
        if missing <= len(costs):
            costs.sort()
            best = min(best, sum(costs[:missing]) + (not opened >> r & 1) + junk)
    return math.ceil(best - 1e-9)


def _targets(problem: Problem, state: State) -> list[int]:
    """Receptacles worth walking to, one per class of interchangeable ones."""
    loc, held, places, ok, opened, lamp = state
    examine = problem.task_type == "examine"
    special = {problem.station, problem.lamp_place if examine else -1}
    chosen: list[int] = []
    if held >= 0:
        if examine:
            chosen.append(problem.lamp_place)
        elif not ok >> held & 1:
            chosen.append(problem.station)
        else:
            chosen.extend(_canonical(problem, state, problem.dests, special))
    else:
        wanted = sorted({p for p in places if p >= 0})
        chosen.extend(_canonical(problem, state, wanted, special | set(problem.dests)))
        chosen.extend(r for r in wanted if r in problem.dests)
        if examine and not lamp:
            chosen.append(problem.lamp_place)
    return sorted({r for r in chosen if r != loc})


def _canonical(problem: Problem, state: State, receptacles, keep: set[int]) -> list[int]:
    """Keep one receptacle per class of interchangeable ones (same reachability, same relevant
    objects in the same states); those in ``keep`` and the agent's place are never merged."""
    loc, _, places, ok, opened, _ = state
    seen, kept = set(), []
    for r in receptacles:
        if r in keep or r == loc:
            kept.append(r)
            continue
        key = (opened >> r & 1, tuple(sorted(ok >> i & 1 for i, p in enumerate(places) if p == r)))
        if key not in seen:
            seen.add(key)
            kept.append(r)
    return kept


def _successors(problem: Problem, state: State):
    loc, held, places, ok, opened, lamp = state
    for r in _targets(problem, state):
        yield ("go", r), (r, held, places, ok, opened, lamp)
    if loc < 0:
        return
    reachable = opened >> loc & 1
    if not reachable:
        yield ("open", loc), (loc, held, places, ok, opened | 1 << loc, lamp)
    elif held == -1:
        for i, p in enumerate(places):
            if p == loc:
                yield ("take", i, loc), (loc, i, places[:i] + (-1,) + places[i + 1 :], ok, opened, lamp)
    elif held == _JUNK:
        yield ("put", _JUNK, loc), (loc, -1, places, ok, opened, lamp)
    elif loc in problem.dests and ok >> held & 1:
        yield ("put", held, loc), (loc, -1, places[:held] + (loc,) + places[held + 1 :], ok, opened, lamp)
    if held >= 0 and loc == problem.station and not ok >> held & 1:
        yield (problem.task_type, held, loc), (loc, held, places, ok | 1 << held, opened, lamp)
    if problem.task_type == "examine" and loc == problem.lamp_place and not lamp:
        yield ("use",), (loc, held, places, ok, opened, True)


def plan(problem: Problem, start: State) -> list[tuple]:
    """An optimal action sequence from ``start`` to the goal (A* with an admissible heuristic).

    Actions are ``("go", r)``, ``("open", r)``, ``("take", i, r)``, ``("put", i, r)`` (``i`` a
    relevant object's index, or -2 for a held object of another type), ``(verb, i, r)`` for the
    treatment, and ``("use",)``.
    """
    best = {start: 0}
    parent: dict[State, tuple[State, tuple] | None] = {start: None}
    heap = [(_heuristic(problem, start), 0, 0, start)]
    counter = 0
    while heap:
        _, negative_g, _, state = heapq.heappop(heap)
        g = -negative_g
        if g > best[state]:
            continue
        if _is_goal(problem, state):
            actions = []
            link = parent[state]
            while link is not None:
                state, action = link
                actions.append(action)
                link = parent[state]
            return actions[::-1]
        for action, successor in _successors(problem, state):
            if g + 1 < best.get(successor, 1 << 30):
                best[successor] = g + 1
                parent[successor] = (state, action)
                counter += 1
                heapq.heappush(heap, (g + 1 + _heuristic(problem, successor), -(g + 1), counter, successor))
    raise RuntimeError(f"Household planner found no plan from {start}")


def _command(
    action: tuple,
    receptacles: tuple[str, ...],
    objects: tuple[str, ...],
    lamp: str,
    held_object: int,
    relevant: tuple[int, ...],
) -> Command:
    """The real command for an abstract action; ``held_object`` is what a ``-2`` index stands for."""
    verb = action[0]
    if verb == "use":
        return Command("use", (lamp,))
    if verb in ("go", "open"):
        return Command("go to" if verb == "go" else "open", (receptacles[action[1]],))
    index = action[1]
    obj = held_object if index == _JUNK else relevant[index]
    return Command(verb, (objects[obj], receptacles[action[2]]))


# ----- the environment -----------------------------------------------------------------------

_RECEPTACLE = Arg("receptacle", "name", "a receptacle, named with its number")
_OBJECT = Arg("object", "name", "an object, named with its number")


def _treat(verb: str, appliance: str) -> CommandSpec:
    return CommandSpec(
        verb,
        f"{verb} {{object}} with {{receptacle}}",
        (_OBJECT, _RECEPTACLE),
        f"{verb} the object you hold with the {appliance} you are at",
    )


GRAMMAR = Grammar(
    [
        CommandSpec("go to", "go to {receptacle}", (_RECEPTACLE,), "walk to a receptacle"),
        CommandSpec("open", "open {receptacle}", (_RECEPTACLE,), "open the receptacle you are at"),
        CommandSpec("close", "close {receptacle}", (_RECEPTACLE,), "close the receptacle you are at"),
        CommandSpec(
            "take",
            "take {object} from {receptacle}",
            (_OBJECT, _RECEPTACLE),
            "pick up an object from the receptacle you are at (you hold one object at a time)",
        ),
        CommandSpec(
            "put",
            "put {object} in/on {receptacle}",
            (_OBJECT, _RECEPTACLE),
            "put the object you hold in or on the receptacle you are at",
        ),
        _treat("clean", "washing place"),
        _treat("heat", "heating appliance"),
        _treat("cool", "cooling appliance"),
        CommandSpec(
            "use",
            "use {object}",
            (Arg("object", "name", "a light, named with its number"),),
            "turn a light where you are on or off",
        ),
        CommandSpec(
            "examine",
            "examine {thing}",
            (Arg("thing", "name", "a receptacle or object"),),
            "look closely at a receptacle or object",
        ),
        CommandSpec("look", "look", (), "describe where you are"),
        CommandSpec("inventory", "inventory", (), "say what you carry"),
    ]
)


# Every argument of this grammar is a name, which the grammar writes as it is: so a command's
# native text is its template with the names filled in by position, as fast as ``str.format``.
_POSITIONAL_TEMPLATES = {
    spec.verb: spec.template.format(**{arg.name: f"{{{index}}}" for index, arg in enumerate(spec.args)})
    for spec in GRAMMAR
}


def _native_text(command: Command) -> str:
    """``GRAMMAR.render(command)``, about ten times faster (the admissible list is written every step)."""
    template = _POSITIONAL_TEMPLATES.get(command.verb)
    return GRAMMAR.render(command) if template is None else template.format(*command.args)


NOTHING = Transition("Nothing happens.", status="illegal")


def _listing(names: list[str]) -> str:
    """ALFWorld's list: "a mug 1", "a mug 1, and a cup 2", "a mug 1, a cup 2, and a pen 1"."""
    if not names:
        return "nothing"
    if len(names) == 1:
        return f"a {names[0]}"
    return ", ".join(f"a {name}" for name in names[:-1]) + f", and a {names[-1]}"


class HouseholdEnv(TextEnv[HouseholdConfig, HouseholdTask]):
    """Carry out an ALFWorld-style household task; admissible commands are listed on the first turn.

    Example:
        >>> import gymnasium as gym, llm_gym
        >>> env = gym.make("llm_gym/Household-v0", difficulty="medium")
        >>> observation, info = env.reset(seed=0)
        >>> "Your task is to: " in observation, info["optimal_steps"] > 0
        (True, True)
    """

    family = "Household"
    config_class = HouseholdConfig
    presets = PRESETS
    themes = THEMES
    grammar = GRAMMAR
    native_action_list = "first_turn"
    shared_on_copy = (
        "_problem", "_rec_index", "_obj_index", "_openable", "_station_verb", "_go", "_go_texts",
        "_examine", "_open_close", "_fixed", "_use", "_relevant_set", "_treatable",
    )  # fmt: skip
    rules = (
        "You are in a home with receptacles; some open and close, and objects lie on and in them. "
        "Carry out the task you are given. You hold one object at a time, and you take from or put "
        "into a receptacle only when you are at it and it is open. Clean, heat or cool the object you "
        "hold with the appliance that does it, when you are at that appliance and the object allows it. "
        "To look at an object under a light, hold it where the light is, with the light on."
    )

    @classmethod
    def generate_task(cls, seed: int, config: HouseholdConfig, theme: str) -> HouseholdTask:
        return generate_task(seed, config, theme)

    @classmethod
    def default_max_turns(cls, config: HouseholdConfig) -> int:
        return 30 + config.receptacles + 4 * config.pick_count

    @classmethod
    def vocabulary(cls, theme: str) -> dict[str, str]:
        """ALFWorld's receptacle, object and light names by kind; none for the made-up theme."""
        if theme == "made-up":
            return {}
        world = alfworld_world()
        return {
            **dict.fromkeys(world.receptacles, "receptacle"),
            **dict.fromkeys(world.objects, "object"),
            **dict.fromkeys(world.lights, "light"),
        }

    @classmethod
    def world_relations(cls, theme: str) -> frozenset[tuple[str, ...]]:
        return frozenset() if theme == "made-up" else _world_relations()

    @classmethod
    def task_relations(cls, task: HouseholdTask) -> frozenset[tuple[str, ...]]:
        return _task_relations(task)

    def format_command(self, command: Command) -> str:
        return _native_text(command)

    # ----- state and dynamics -----

    def _start(self, task: HouseholdTask) -> str:
        problem = task.problem
        self._problem = problem
        self._rec_index = {name: r for r, name in enumerate(task.receptacles)}
        self._obj_index = {name: o for o, name in enumerate(task.objects)}
        self._openable = [bool(problem.openable >> r & 1) for r in range(len(task.receptacles))]
        world = alfworld_world()
        self._station_verb = [world.treats[kind] for kind in task.receptacle_kinds]
        self._treatable = [world.treatable[kind] for kind in task.object_kinds]
        self._go = [Command("go to", (name,)) for name in task.receptacles]
        self._go_texts = [_native_text(command) for command in self._go]
        self._examine = [Command("examine", (name,)) for name in task.receptacles]
        self._open_close = [(Command("open", (name,)), Command("close", (name,))) for name in task.receptacles]
        self._fixed = [Command("inventory"), Command("look")]
        self._use = Command("use", (task.lamp,)) if task.lamp else None
        self._relevant_set = frozenset(problem.relevant)
        self._loc = -1
        self._held = -1
        self._places = list(task.object_places)
        self._states = [0] * len(task.objects)
        self._open = list(task.initially_open)
        self._lamp_on = False
        self._contents: list[list[int]] = [[] for _ in task.receptacles]
        for o, place in enumerate(task.object_places):
            self._contents[place].append(o)
        self._plan: tuple[Command, ...] | list[Command] | None = task.plan
        self._plan_position = 0
        self._here_cache: list[Command] | None = None
        self._here_texts: list[str] | None = None
        return self._room_text()

    def state_key(self) -> str:
        state = (
            self.outcome,
            self._loc,
            self._held,
            self._places,
            self._states,
            self._open,
            self._lamp_on,
            self._contents,
        )
        return repr(state)

    def _changed(self, command: Command) -> None:
        """Bookkeeping after a state change: drop the admissible caches, follow or leave the plan."""
        self._here_cache = self._here_texts = None
        plan = self._plan
        if plan is not None:
            if self._plan_position < len(plan) and plan[self._plan_position] == command:
                self._plan_position += 1
            else:
                self._plan = None

    def _transition(self, command: Command) -> Transition:
        verb = command.verb
        if verb == "look":
            if self._loc < 0:
                return Transition(self._room_text())
            return Transition(f"You are facing the {self._name(self._loc)}. {self._describe(self._loc)}")
        if verb == "inventory":
            if self._held < 0:
                return Transition("You are not carrying anything.")
            return Transition(f"You are carrying: a {self.task.objects[self._held]}.")
        if verb == "examine":
            return self._do_examine(command.args[0])
        if verb == "go to":
            transition = self._do_go(*command.args)
        elif verb == "take":
            transition = self._do_take(*command.args)
        elif verb == "put":
            transition = self._do_put(*command.args)
        elif verb in PROCESS_VERBS:
            transition = self._do_treat(verb, *command.args)
        elif verb == "use":
            transition = self._do_use(*command.args)
        else:
            transition = self._do_open_or_close(verb == "open", *command.args)
        if transition.status == "ok":
            self._changed(command)
        return transition

    def _name(self, r: int) -> str:
        return self.task.receptacles[r]

    def _do_go(self, name: str) -> Transition:
        r = self._rec_index.get(name)
        if r is None or r == self._loc:
            return NOTHING
        self._loc = r
        return self._finish(f"You arrive at {name}. {self._describe(r)}")

    def _do_open_or_close(self, opening: bool, name: str) -> Transition:
        r = self._rec_index.get(name)
        if r is None or r != self._loc or not self._openable[r] or self._open[r] == opening:
            return NOTHING
        self._open[r] = opening
        return Transition(f"You open the {name}. {self._describe(r)}" if opening else f"You close the {name}.")

    def _do_take(self, obj: str, name: str) -> Transition:
        o, r = self._obj_index.get(obj), self._rec_index.get(name)
        if o is None or r is None or r != self._loc or self._held >= 0 or not self._open[r] or self._places[o] != r:
            return NOTHING
        self._contents[r].remove(o)
        self._places[o] = -1
        self._held = o
        return self._finish(f"You pick up the {obj} from the {name}.")

    def _do_put(self, obj: str, name: str) -> Transition:
        o, r = self._obj_index.get(obj), self._rec_index.get(name)
        if o is None or o != self._held or r is None or r != self._loc or not self._open[r]:
            return NOTHING
        self._contents[r].append(o)
        self._places[o] = r
        self._held = -1
        return self._finish(f"You put the {obj} in/on the {name}.", placed=r)

    def _do_treat(self, verb: str, obj: str, name: str) -> Transition:
        o, r = self._obj_index.get(obj), self._rec_index.get(name)
        if o is None or o != self._held or r is None or r != self._loc or self._station_verb[r] != verb:
            return NOTHING
        if verb not in self._treatable[o]:
            return NOTHING
        state = self._states[o]
        if verb == "clean":
            state |= CLEAN
        elif verb == "heat":
            state = (state | HOT) & ~COLD
        else:
            state = (state | COLD) & ~HOT
        self._states[o] = state
        return Transition(f"You {verb} the {obj} using the {name}.")

    def _do_use(self, name: str) -> Transition:
        if not name or name != self.task.lamp or self._loc != self._problem.lamp_place:
            return NOTHING
        self._lamp_on = not self._lamp_on
        return self._finish(f"You turn {'on' if self._lamp_on else 'off'} the {name}.")

    def _finish(self, feedback: str, placed: int = -1) -> Transition:
        """An ok transition, with success if the task is now done."""
        problem = self._problem
        if problem.task_type == "examine":
            done = self._held in self._relevant_set and self._lamp_on and self._loc == problem.lamp_place
        elif placed in problem.dests:
            requirement, states = problem.requirement, self._states
            relevant = self._relevant_set
            count = sum(1 for o in self._contents[placed] if o in relevant and states[o] & requirement == requirement)
            done = count >= problem.need
        else:
            done = False
        if done:
            return Transition(feedback, reward=1.0, outcome="success", score=1.0)
        return Transition(feedback)

    def _do_examine(self, name: str) -> Transition:
        loc = self._loc
        if loc >= 0 and name == self._name(loc):
            return Transition(self._describe(loc))
        if loc >= 0 and name == self.task.lamp and loc == self._problem.lamp_place:
            return Transition(f"The {name} is {'on' if self._lamp_on else 'off'}.")
        o = self._obj_index.get(name)
        if o is None or not (o == self._held or (loc >= 0 and self._places[o] == loc and self._open[loc])):
            return NOTHING
        words = [word for bit, word in _STATE_WORD if self._states[o] & bit]
        if not words:
            return Transition(f"There's nothing special about {name}.")
        return Transition(f"The {name} is {' and '.join(words)}.")

    # ----- what the agent perceives -----

    def _room_text(self) -> str:
        return (
            "You are in the middle of a room. Looking quickly around you, you see "
            f"{_listing(list(self.task.receptacles))}."
        )

    def _describe(self, r: int) -> str:
        name = self.task.receptacles[r]
        if self._openable[r] and not self._open[r]:
            return f"The {name} is closed."
        seen = [self.task.objects[o] for o in self._contents[r]]
        if r == self._problem.lamp_place:
            seen.insert(0, self.task.lamp)
        if self._openable[r]:
            return f"The {name} is open. In it, you see {_listing(seen)}."
        return f"On the {name}, you see {_listing(seen)}."

    def _view(self) -> dict[str, Any]:
        if self.turn == 0:
            return {"feedback": self._feedback, "task": self.task.goal}
        return {"feedback": self._feedback}

    def render_view(self, view: dict[str, Any], first: bool) -> str:
        if "task" in view:
            return f"{view['feedback']}\n\nYour task is to: {view['task']}"
        return view["feedback"]

    def _admissible(self) -> list[Command]:
        loc = self._loc
        go = self._go if loc < 0 else self._go[:loc] + self._go[loc + 1 :]
        return go + self._here()

    def _admissible_texts(self) -> list[str]:
        loc = self._loc
        go = self._go_texts if loc < 0 else self._go_texts[:loc] + self._go_texts[loc + 1 :]
        texts = self._here_texts
        if texts is None:
            texts = self._here_texts = [_native_text(command) for command in self._here()]
        return go + texts

    def _here(self) -> list[Command]:
        """The admissible commands other than `go to`, cached until the state changes."""
        cached = self._here_cache
        if cached is not None:
            return cached
        loc, held = self._loc, self._held
        commands = []
        if loc >= 0:
            opened = self._open[loc]
            if self._openable[loc]:
                commands.append(self._open_close[loc][1 if opened else 0])
            name = self.task.receptacles[loc]
            objects = self.task.objects
            if opened:
                if held < 0:
                    commands.extend(Command("take", (objects[o], name)) for o in self._contents[loc])
                else:
                    commands.append(Command("put", (objects[held], name)))
            verb = self._station_verb[loc]
            if verb is not None and held >= 0 and verb in self._treatable[held]:
                commands.append(Command(verb, (objects[held], name)))
            if self._use is not None and loc == self._problem.lamp_place:
                commands.append(self._use)
            commands.append(self._examine[loc])
        if held >= 0:
            commands.append(Command("examine", (self.task.objects[held],)))
        commands.extend(self._fixed)
        self._here_cache = commands
        return commands

    def _oracle(self) -> Command:
        if self._plan is None:
            self._plan = self._replan()
            self._plan_position = 0
        if self._plan_position >= len(self._plan):
            return self._fixed[1]  # the task is done: any command is as good as another
        return self._plan[self._plan_position]

    def _replan(self) -> list[Command]:
        problem = self._problem
        relevant = problem.relevant
        position = {o: i for i, o in enumerate(relevant)}
        held = self._held if self._held < 0 else position.get(self._held, _JUNK)
        requirement = problem.requirement
        ok = sum(1 << i for i, o in enumerate(relevant) if self._states[o] & requirement == requirement)
        opened = sum(1 << r for r, flag in enumerate(self._open) if flag)
        state = (self._loc, held, tuple(self._places[o] for o in relevant), ok, opened, self._lamp_on)
        task = self.task
        actions = plan(problem, state)
        return [_command(a, task.receptacles, task.objects, task.lamp, self._held, relevant) for a in actions]


register_family(HouseholdEnv)
