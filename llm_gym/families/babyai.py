"""BabyAI: carry out a mission in a grid world of rooms, on Farama's ``minigrid`` BabyAI levels.

Read top to bottom: difficulty knobs and presets (the parameters of minigrid's ``LevelGen``, the
generator behind the BabyAI level ladder), themes, the task generator, the game (a minigrid
engine plus our commands: primitives, and high-level ones expanded by path planning over the
cells the agent has seen), the oracle (minigrid's ``BabyAIBot``), and the environment.

``minigrid`` is imported inside the functions that use it, so ``import llm_gym`` stays fast.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import functools
import hashlib
import heapq
import io
import random
import re
from collections.abc import Callable
from typing import Any, TypedDict

import numpy as np
from gymnasium.error import ResetNeeded

from llm_gym.core import TextEnv, Transition
from llm_gym.difficulty import Config, knob
from llm_gym.grammar import Arg, Command, CommandSpec, Grammar
from llm_gym.registry import register_family
from llm_gym.spaces import to_printable

ACTION_KINDS = ("goto", "pickup", "open", "putnext")
INSTR_KINDS = ("action", "and", "seq")
REWARD_MODES = ("sparse", "babyai")
MAX_ATTEMPTS = 25  # level seeds tried per task seed before giving up
RECENT_TASKS = 64  # tasks this process remembers, so resetting to a seed again skips generation


@dataclasses.dataclass(frozen=True)
class BabyAIConfig(Config):
    action_level: str = knob(
        "high",
        doc="'high': go to / pick up / go through as one turn each, plus the primitives; "
        "'primitive': turn left, turn right, move forward, pick up, drop, toggle only",
        choices=("high", "primitive"),
    )
    room_size: int = knob(6, 5, 8, "side of each room in cells, walls included")
    num_rows: int = knob(1, 1, 3, "rows of rooms")
    num_cols: int = knob(1, 1, 3, "columns of rooms")
    num_dists: int = knob(3, 1, 20, "objects placed at random (the mission's among them)")
    locked_room_prob: float = knob(0.0, 0.0, 1.0, "chance that one room has a locked door, its key elsewhere")
    locations: bool = knob(False, doc="missions may name objects by place: 'the ball on your left'")
    unblocking: bool = knob(False, doc="objects may stand in the way and need moving")
    implicit_unlock: bool = knob(False, doc="the mission's object may lie behind a locked door")
    action_kinds: tuple = knob(("goto",), doc="kinds of mission clauses", choices=ACTION_KINDS)
    instr_kinds: tuple = knob(("action",), doc="one clause, two joined by 'and', or a sequence", choices=INSTR_KINDS)

    @property
    def rooms(self) -> int:
        return self.num_rows * self.num_cols

    def check(self) -> None:
        if self.rooms == 1 and self.locked_room_prob > 0:
            raise ValueError(f"BabyAIConfig.locked_room_prob = {self.locked_room_prob} needs more than one room")
        if self.rooms == 1 and "open" in self.action_kinds:
            raise ValueError("BabyAIConfig.action_kinds contains 'open', which needs more than one room (doors)")
        if "putnext" in self.action_kinds and self.num_dists < 2:
            raise ValueError(f"BabyAIConfig.num_dists = {self.num_dists} is too few for 'putnext'; allowed: 2 or more")
        capacity = self.rooms * (self.room_size - 2) ** 2 // 3
        if self.num_dists > capacity:
            raise ValueError(
                f"BabyAIConfig.num_dists = {self.num_dists} does not fit {self.rooms} room(s) of size "
                f"{self.room_size}; allowed: 1 to {capacity}"
            )

    def level_kwargs(self) -> dict[str, Any]:
        """The arguments of minigrid's ``LevelGen`` for this config."""
        return {
            "room_size": self.room_size,
            "num_rows": self.num_rows,
            "num_cols": self.num_cols,
            "num_dists": self.num_dists,
            "locked_room_prob": self.locked_room_prob,
            "locations": self.locations,
            "unblocking": self.unblocking,
            "implicit_unlock": self.implicit_unlock,
            "action_kinds": list(self.action_kinds),
            "instr_kinds": list(self.instr_kinds),
            "max_steps": 10**9,  # our turn limit applies, not minigrid's
        }


# The presets follow the BabyAI ladder (PickupLocal, PutNextLocal, a small Synth/Seq maze, BossLevel),
# every mission asking for objects to be picked up or moved (no bare "go to" and no "open a door":
# one lucky walk away for a random policy), joined in pairs at hard, chained two to four at
# expert; measured in docs/babyai.md.
class _MazeKnobs(TypedDict):
    locations: bool
    unblocking: bool
    implicit_unlock: bool


_MAZE: _MazeKnobs = {"locations": True, "unblocking": True, "implicit_unlock": True}
PRESETS = {
    "easy": BabyAIConfig(room_size=8, num_dists=8, action_kinds=("pickup",)),
    "medium": BabyAIConfig(room_size=8, num_dists=10, locations=True, action_kinds=("pickup", "putnext")),
    "hard": BabyAIConfig(
        room_size=7,
        num_rows=2,
        num_cols=2,
        num_dists=10,
        locked_room_prob=0.3,
        **_MAZE,
        action_kinds=("pickup", "putnext"),
        instr_kinds=("and", "seq"),
    ),
    "expert": BabyAIConfig(
        room_size=8,
        num_rows=3,
        num_cols=3,
        num_dists=18,
        locked_room_prob=0.5,
        **_MAZE,
        action_kinds=("pickup", "putnext"),
        instr_kinds=("seq",),
    ),
}


def _default_max_turns(config: BabyAIConfig) -> int:
    navs = 2 * (2 if "seq" in config.instr_kinds else 1) * (2 if "putnext" in config.action_kinds else 1)
    if config.action_level == "high":  # walks are one turn each: more rooms mean more doors, not more turns
        return 20 + int(4 * navs * config.rooms**0.5)
    return 30 + navs * config.room_size * (config.rooms + 2)


# ----- themes: the words for colours and kinds; walls keep their name -----------------------

COLOURS = ("red", "green", "blue", "purple", "yellow", "grey")
KINDS = ("door", "key", "ball", "box")
LEXICONS: dict[str, dict[str, str]] = {
    "default": {word: word for word in COLOURS + KINDS},
    "made-up": dict(
        zip(
            COLOURS + KINDS,
            ("zorb", "plim", "vask", "drun", "tesk", "mauf", "brastel", "fronk", "glorp", "kimble"),
        )
    ),
}
THEMES = tuple(LEXICONS)
_WORD = re.compile(r"[a-z]+")
# the mission's phrasing around a name: "the purple key", "a ball on your left", "the box in front of you"
_MISSION_WORDING = re.compile(r"^(?:the|a|an) +|(?: +(?:on your (?:left|right)|in front of you|behind you))$")


def _themed(text: str, lexicon: dict[str, str]) -> str:
    return _WORD.sub(lambda match: lexicon.get(match.group(0), match.group(0)), text)


# ----- the task generator --------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class BabyAITask:
    seed: int
    level_seed: int  # the seed minigrid's level generator was given
    mission: str
    plan: tuple[Command, ...]  # the oracle's commands from the start: a shortest way where exact
    optimal_steps: int
    entities: tuple[str, ...]  # the colour and kind words of this task's things
    optimal_exact: bool = True  # False: the search ran out of budget; the plan is the bot's

    @property
    def goal_text(self) -> str:
        """The mission: two tasks with one mission ask for the same thing (in other grids)."""
        return self.mission


def generate_task(seed: int, config: BabyAIConfig, theme: str) -> BabyAITask:
    """A BabyAI task: a minigrid level whose mission can be completed well within the horizon.

    Pure in its arguments: level seeds are drawn from ``Random(f"babyai/{seed}")``, and a level is
    kept when an A* search over the grid state finds a shortest solution within two thirds of
    the default turn limit, or, where the search runs out of budget, when minigrid's bot, played
    on it, succeeds within that many turns (its plan: exact where it is no longer than the lower
    bound the search proved).
    """
    task, fresh = _generation(seed, config, theme)
    fresh.clear()  # nobody plays it here: a later reset starts a new game
    return task


@functools.lru_cache(maxsize=RECENT_TASKS)
def _generation(seed: int, config: BabyAIConfig, theme: str) -> tuple[BabyAITask, list[tuple[_Game, _Search]]]:
    """``_generate``'s task, remembered by the process (every env of it that plays the seed shares
    it), with its game and search while no env has taken them: the first reset plays them."""
    task, game, search = _generate(seed, config, theme)
    return task, [] if game is None or search is None else [(game, search)]


def _generate(seed: int, config: BabyAIConfig, theme: str) -> tuple[BabyAITask, _Game | None, _Search | None]:
    """``generate_task``'s task, with the level's game still at its start and its search where the
    search found the plan (the bot's play moves the game on): an env starts its episode on them."""
    rng = random.Random(f"babyai/{seed}")
    limit = _default_max_turns(config) * 2 // 3
    for _ in range(MAX_ATTEMPTS):
        level_seed = rng.randrange(2**31)
        game = _Game(config, theme, level_seed)
        search = _Search(game)
        start = search.state(game)
        plan = search.plan(start, limit)
        bound = limit if plan is None else len(plan) - 1
        shorter, lower = search.solve(start, bound)  # shorter than the plan, or a proof there is none
        found = shorter if shorter is not None else plan  # as ``shorter or plan``: a path is never empty
        if found is not None:
            exact = lower > bound or shorter is not None
            task = BabyAITask(
                seed, level_seed, game.mission, tuple(found), len(found), game.entities(), optimal_exact=exact
            )
            return task, game, search
        if lower > limit:
            continue
        bot_plan = _bot_plan(game, limit)
        if bot_plan is not None:
            task = BabyAITask(
                seed, level_seed, game.mission, bot_plan, len(bot_plan), game.entities(), optimal_exact=False
            )
            return task, None, None
    raise ValueError(
        f"BabyAI found no level solvable within {limit} turns for seed {seed} in {MAX_ATTEMPTS} "
        f"attempts; make the config easier (fewer rooms, objects or clauses): {config}"
    )


def _bot_plan(game: _Game, limit: int) -> tuple[Command, ...] | None:
    """The commands of minigrid's bot played on ``game`` (consumed), if it succeeds within ``limit``."""
    oracle = _Oracle(game.engine)
    game.hook = oracle.before_step
    plan: list[Command] = []
    try:
        while game.outcome == "running" and len(plan) < limit:
            command = _decide(game, oracle)
            if game.execute(command)[1] != "ok":
                return None
            plan.append(command)
    except AssertionError:  # the bot's own checks: it gave up on this level
        return None
    return tuple(plan) if game.outcome == "success" else None


# ----- the game: a minigrid level and our commands on it --------------------------------------

LEFT, RIGHT, FORWARD, PICKUP, DROP, TOGGLE, DONE = range(7)  # minigrid's action indices
_VECTORS = ((1, 0), (0, 1), (-1, 0), (0, -1))  # minigrid's agent_dir 0..3
VIEW = 7  # minigrid's agent_view_size
_HALF = VIEW // 2


def _steps(count: int, direction: str) -> str:
    return f"{count} step{'s' if count != 1 else ''} {direction}"


# Where a cell of the agent's view lies, as text: _PLACES[forward][right + 3].
_PLACES = tuple(
    tuple(
        ", ".join(
            part
            for part in (
                _steps(forward, "forward") if forward else "",
                _steps(abs(right), "right" if right > 0 else "left") if right else "",
            )
            if part
        )
        for right in range(-3, 4)
    )
    for forward in range(VIEW)
)


_OPEN, _CLOSED, _LOCKED = range(3)  # door states, as the game and the search state hold them
_ROW = (1 << VIEW) - 1  # the columns of a view row, as bits
_ALL_BUT_LAST, _ALL_BUT_FIRST = _ROW >> 1, _ROW - 1
_REVERSED = tuple(int(f"{bits:0{VIEW}b}"[::-1], 2) for bits in range(1 << VIEW))  # a row's bits, right to left


def _shift(bits: int, by: int) -> int:
    return bits << by if by >= 0 else bits >> -by


def _no_image() -> None:
    """Stands in for minigrid's ``gen_obs`` while the game steps the engine: the game reads the
    view off its geometry (``_Game.view``), and an image of it was most of minigrid's step."""


_VIEW_CELLS = tuple(  # world offset of the view's cell [x][y] for each facing (minigrid's gen_obs_grid)
    tuple(
        tuple(
            (fx * (VIEW - 1 - vy) - fy * (vx - _HALF), fy * (VIEW - 1 - vy) + fx * (vx - _HALF)) for vy in range(VIEW)
        )
        for vx in range(VIEW)
    )
    for fx, fy in _VECTORS
)


class _Geometry:
    """A level's fixed layout, as bit masks over its cells (cell ``x * height + y``): the walls,
    the doors, and what the agent sees from each pose with the doors in given states.

    ``view`` is minigrid's ``process_vis`` (only walls and closed doors block the view), memoized:
    the game and the search share it, and so do copies (it never changes).
    """

    def __init__(self, grid, doors: list[tuple[int, int]]):
        self.width, self.height = grid.width, grid.height
        self.walls = frozenset(
            (x, y)
            for x in range(grid.width)
            for y in range(grid.height)
            if (cell := grid.get(x, y)) is not None and cell.type == "wall"
        )
        self.blocked = sum(1 << (x * self.height + y) for x, y in self.walls)
        self.door_cells = tuple(doors)
        self.door_at = {cell: door for door, cell in enumerate(self.door_cells)}
        self.door_bits = tuple(1 << (x * self.height + y) for x, y in self.door_cells)
        self.ahead = tuple(dx * self.height + dy for dx, dy in _VECTORS)  # a pose's front cell, as an offset
        self._padded_width, self._padded_height = self.width + 2 * VIEW, self.height + 2 * VIEW
        self._spread = tuple(
            sum(1 << (k * self.height) for k in range(VIEW) if bits >> k & 1) for bits in range(1 << VIEW)
        )
        self._seen: dict[tuple, int] = {}  # memo of view()
        self._clears: dict[tuple, tuple[int, int]] = {}  # memo of _clear()

    def __deepcopy__(self, memo: dict) -> _Geometry:
        return self  # copies share it: it never changes, and its memos hold for every copy

    def __getstate__(self) -> dict[str, Any]:
        return {**vars(self), "_seen": {}, "_clears": {}}

    def bit(self, x: int, y: int) -> int:
        return 1 << (x * self.height + y)

    def view(self, x: int, y: int, d: int, doors: tuple[int, ...]) -> int:
        """The cells the agent sees from ``(x, y, d)`` as a bitmask (minigrid's ``process_vis``)."""
        key = (x, y, d, doors)
        seen = self._seen.get(key)
        if seen is None:
            seen = self._seen[key] = self._view(x, y, d, doors)
        return seen

    def _view(self, x: int, y: int, d: int, doors: tuple[int, ...]) -> int:
        """``process_vis`` on the agent's view, a row of 7 cells at a time as a 7-bit mask (bit ``i``:
        column ``i``), from the agent's row out: a visible, clear cell shows its neighbour on the
        right (a left-to-right pass), then on the left (right to left), and the cells above both.

        A view row is 7 neighbouring cells of one grid column (facing east or west) or one grid row
        (north or south), read off the grid's clear cells with one shift, in column-major or
        row-major order, reversed where the view's columns run against the grid's.
        """
        across = d in (1, 3)  # the view's rows lie along a row of the grid
        reverse = d in (1, 2)
        clear = self._clear(doors)[across]
        stride = self._padded_width if across else self._padded_height
        (fx, fy), first = _VECTORS[d], (y - _HALF, x - _HALF)[across]  # where a view row starts, along it
        masks = [0] * VIEW
        masks[VIEW - 1] = 1 << _HALF
        for j in reversed(range(VIEW)):
            along = (x + fx * (VIEW - 1 - j), y + fy * (VIEW - 1 - j))[across]  # the row's grid column (or row)
            bits = clear >> ((along + VIEW) * stride + first + VIEW) & _ROW
            row, mask = _REVERSED[bits] if reverse else bits, masks[j]
            while (grown := mask | (mask & row & _ALL_BUT_LAST) << 1) != mask:
                mask = grown
            right = mask & row & _ALL_BUT_LAST
            while (grown := mask | (mask & row & _ALL_BUT_FIRST) >> 1) != mask:
                mask = grown
            left = mask & row & _ALL_BUT_FIRST
            masks[j] = mask
            if j > 0:
                masks[j - 1] |= right | right << 1 | left | left >> 1
        seen = 0
        for j, mask in enumerate(masks):
            if not mask:
                continue
            along = (x + fx * (VIEW - 1 - j), y + fy * (VIEW - 1 - j))[across]
            ordered = _REVERSED[mask] if reverse else mask
            if across:  # grid row ``along``, columns ``first`` on: cell (column, along)
                seen |= _shift(self._spread[ordered], first * self.height + along)
            else:  # grid column ``along``, rows ``first`` on
                seen |= _shift(ordered, along * self.height + first)
        return seen

    def _clear(self, doors: tuple[int, ...]) -> tuple[int, int]:
        """The cells that do not block the view with the doors in states ``doors``, as bitmasks over
        the grid padded by a view's width on every side (the padding blocks the view, as the walls
        minigrid puts outside the grid do): column by column, and row by row."""
        clear = self._clears.get(doors)
        if clear is None:

            def see_through(x: int, y: int) -> bool:
                door = self.door_at.get((x, y))
                return (x, y) not in self.walls if door is None else doors[door] == _OPEN

            cells = [(x + VIEW, y + VIEW) for x in range(self.width) for y in range(self.height) if see_through(x, y)]
            clear = self._clears[doors] = (
                sum(1 << (x * self._padded_height + y) for x, y in cells),
                sum(1 << (y * self._padded_width + x) for x, y in cells),
            )
        return clear

    def route(self, x: int, y: int, d: int, free: int, target: tuple[int, int]) -> list[int] | None:
        """Fewest primitive actions from pose ``(x, y, d)`` over the ``free`` cells to face ``target``,
        or ``None``: of the shortest ways, the first in the order forward < left < right.

        That is the way a breadth-first search over poses finds first when it tries forward, then
        left, then right (its queue holds each layer in that order). Here the layers are bitmasks of
        cells per facing: forward out to the first layer that faces ``target``, back to keep the
        poses that lead there, then forward again taking the first action that stays on them.
        """
        height, ahead = self.height, self.ahead
        goal = target[0] * height + target[1]
        facing = tuple(_shift(1 << goal, -ahead[e]) for e in range(4))  # [e]: the cell from which facing e sees it
        layer = [0, 0, 0, 0]
        layer[d] = 1 << (x * height + y)
        layers, visited = [layer], list(layer)
        while not any(layer[e] & facing[e] for e in range(4)):
            layer = [
                (_shift(layer[e], ahead[e]) & free | layer[(e + 1) % 4] | layer[(e - 1) % 4]) & ~visited[e]
                for e in range(4)
            ]
            if not any(layer):
                return None
            visited = [seen | new for seen, new in zip(visited, layer)]
            layers.append(layer)
        wanted = [layer[e] & facing[e] for e in range(4)]  # the poses at the far end that lead to the goal
        leading = [wanted]
        for earlier in reversed(layers[:-1]):
            wanted = [
                earlier[e] & (_shift(wanted[e] & free, -ahead[e]) | wanted[(e - 1) % 4] | wanted[(e + 1) % 4])
                for e in range(4)
            ]
            leading.append(wanted)
        leading.reverse()
        cell, actions = x * height + y, []
        for wanted in leading[1:]:
            if wanted[d] >> (cell + ahead[d]) & 1 and free >> (cell + ahead[d]) & 1:
                actions.append(FORWARD)
                cell += ahead[d]
            elif wanted[(d - 1) % 4] >> cell & 1:
                actions.append(LEFT)
                d = (d - 1) % 4
            else:
                actions.append(RIGHT)
                d = (d + 1) % 4
        return actions

    def reachable(self, x: int, y: int, free: int) -> int:
        """The cells the agent can walk to from ``(x, y)`` over ``free`` cells, as a bitmask."""
        height, found = self.height, self.bit(x, y)
        while True:
            grown = found | ((found << 1 | found >> 1 | found << height | found >> height) & free)
            if grown == found:
                return found
            found = grown

    def beside(self, cells: int) -> int:
        """The cells next to (left, right, above or below) any of ``cells``."""
        return cells << 1 | cells >> 1 | cells << self.height | cells >> self.height


class _Game:
    """One BabyAI level on a minigrid engine, with llm-gym's commands on top.

    ``execute`` checks a command's legality before it reaches minigrid, so an illegal command
    leaves the engine (and its step counter) untouched. ``hook``, if set, is called with each
    primitive action before minigrid steps it (the oracle follows the game that way).

    What the agent sees is read off the level's ``_Geometry`` (the cells seen so far are a bitmask
    over it), not off minigrid's image of the view, which minigrid's step is not asked to make (it
    was most of a step); a walking command turns and moves the agent as minigrid's step would.
    """

    def __init__(self, config: BabyAIConfig, theme: str, level_seed: int):
        from minigrid.envs.babyai.core.levelgen import LevelGen

        self.engine = LevelGen(**config.level_kwargs())
        with contextlib.redirect_stdout(io.StringIO()):  # silence "Sampling rejected: ..."
            self.engine.reset(seed=level_seed)
        self.lexicon = LEXICONS[theme]
        self.high = config.action_level == "high"
        self.hook: Callable[[int], None] | None = None
        self.history: list[int] = []
        self.picked_from: tuple[int, int] | None = None  # where the carried object was picked up
        self.outcome = "running"
        self.version = 0
        self.mission = _themed(self.engine.mission, self.lexicon)
        grid = self.engine.grid
        found = [
            (cell, x, y)
            for y in range(grid.height)
            for x in range(grid.width)
            if (cell := grid.get(x, y)) is not None and cell.type in KINDS
        ]
        labels = [f"{self.lexicon[cell.color]} {self.lexicon[cell.type]}" for cell, _, _ in found]
        counts = {label: labels.count(label) for label in labels}
        seen: dict[str, int] = {}
        self.objects: list[tuple[Any, str]] = []
        for (cell, _, _), label in zip(found, labels):
            seen[label] = seen.get(label, 0) + 1
            self.objects.append((cell, f"{label} {seen[label]}" if counts[label] > 1 else label))
        self.names = {id(cell): name for cell, name in self.objects}
        self.by_name = {name: cell for cell, name in self.objects}
        self.commands = [  # per object: go to it, pick it up, go through it
            (Command("go_to", (name,)), Command("pick_up_object", (name,)), Command("go_through", (name,)))
            for _, name in self.objects
        ]
        self.doors = [cell for cell, _ in self.objects if cell.type == "door"]
        self.geometry = _Geometry(grid, [(int(door.cur_pos[0]), int(door.cur_pos[1])) for door in self.doors])
        self.door_states = self._read_doors()
        self.known_cells = 0  # the cells seen so far, as a bitmask over the geometry
        self._observe()

    # ----- copies: ``names`` is keyed by the identity of minigrid's objects, so it is rebuilt --

    def __getstate__(self) -> dict[str, Any]:
        return {key: value for key, value in vars(self).items() if key != "names"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        vars(self).update(state)
        self.names = {id(cell): name for cell, name in self.objects}

    # ----- state --------------------------------------------------------------------------

    def entities(self) -> tuple[str, ...]:
        words = {word for cell, _ in self.objects for word in (self.lexicon[cell.color], self.lexicon[cell.type])}
        return tuple(sorted(words))

    def _read_doors(self) -> tuple[int, ...]:
        return tuple(_OPEN if door.is_open else _LOCKED if door.is_locked else _CLOSED for door in self.doors)

    def _observe(self) -> None:
        """Fold what the agent now sees into the cells seen."""
        x, y = self.engine.agent_pos
        self.known_cells |= self.geometry.view(int(x), int(y), self.engine.agent_dir, self.door_states)

    @property
    def known(self) -> np.ndarray:
        """The cells the agent has seen, as a boolean grid ``[x, y]``."""
        cells = self.geometry.width * self.geometry.height
        raw = np.frombuffer(self.known_cells.to_bytes((cells + 7) // 8, "little"), np.uint8)
        return np.unpackbits(raw, bitorder="little")[:cells].reshape(self.geometry.width, -1).astype(bool)

    def front(self):
        x, y = self.engine.agent_pos
        dx, dy = _VECTORS[self.engine.agent_dir]
        return self.engine.grid.get(x + dx, y + dy)

    def name_at(self, position) -> str | None:
        cell = self.engine.grid.get(int(position[0]), int(position[1]))
        return None if cell is None else self.names.get(id(cell))

    def _position(self, cell) -> tuple[int, int] | None:
        if cell is self.engine.carrying:
            return None
        return int(cell.cur_pos[0]), int(cell.cur_pos[1])

    def free(self) -> int:
        """The cells a walk may enter: seen, and empty or an open door."""
        geometry, carrying = self.geometry, self.engine.carrying
        blocked = geometry.blocked
        for cell, _ in self.objects:
            if cell is not carrying and not (cell.type == "door" and cell.is_open):
                blocked |= geometry.bit(int(cell.cur_pos[0]), int(cell.cur_pos[1]))
        return self.known_cells & ~blocked

    # ----- primitive actions ----------------------------------------------------------------

    def _primitive_problem(self, action: int, ahead: Any = False) -> str | None:
        """Why ``action`` is not allowed now, or ``None`` when it is (``ahead``: the front cell, if known)."""
        if action == LEFT or action == RIGHT:
            return None
        if ahead is False:
            ahead = self.front()
        carrying = self.engine.carrying
        if action == FORWARD:
            if ahead is None or (ahead.type == "door" and ahead.is_open):
                return None
            return f"You cannot move forward: {self._describe(ahead)} is in the way."
        if action == PICKUP:
            if ahead is None or not ahead.can_pickup():
                return "There is nothing to pick up in front of you."
            if carrying is not None:
                return f"You already carry the {self.names[id(carrying)]}; drop it first."
            return None
        if action == DROP:
            if carrying is None:
                return "You carry nothing to drop."
            if ahead is not None:
                return f"You cannot drop here: {self._describe(ahead)} is in front of you."
            return None
        if ahead is None or ahead.type != "door":
            return f"There is no {self.lexicon['door']} in front of you to open or close."
        if ahead.is_locked and not (carrying is not None and carrying.type == "key" and carrying.color == ahead.color):
            return (
                f"The {self.names[id(ahead)]} is locked; you need a {self.lexicon[ahead.color]} {self.lexicon['key']}."
            )
        return None

    def legal_primitives(self) -> list[int]:
        ahead, carrying = self.front(), self.engine.carrying
        legal = [LEFT, RIGHT]
        if ahead is None:
            legal.append(FORWARD)
            if carrying is not None:
                legal.append(DROP)
            return legal
        if ahead.type == "door":
            if ahead.is_open:
                legal.append(FORWARD)
            if self._primitive_problem(TOGGLE, ahead) is None:
                legal.append(TOGGLE)
        elif carrying is None and ahead.can_pickup():
            legal.append(PICKUP)
        return legal

    def _describe(self, cell) -> str:
        name = self.names.get(id(cell))
        return f"the {name}" if name else f"a {cell.type}"

    def _step(self, action: int) -> None:
        if self.hook is not None:
            self.hook(action)
        if action == PICKUP:
            x, y = self.engine.agent_pos
            dx, dy = _VECTORS[self.engine.agent_dir]
            self.picked_from = (int(x + dx), int(y + dy))
        engine = self.engine
        engine.gen_obs = _no_image  # type: ignore[method-assign]  # minigrid's step ends with an image nothing here reads
        try:
            _, reward, terminated, _, _ = engine.step(action)
        finally:
            del engine.gen_obs
        self.history.append(action)
        self.version += 1
        if action == TOGGLE:
            self.door_states = self._read_doors()
        self._observe()
        if terminated:
            self.outcome = "success" if reward > 0 else "failure"

    def _walk(self, actions: list[int]) -> None:
        """Turn and move as ``actions`` say (a route over free cells), stopping if the mission ends.

        Each action changes the engine as minigrid's step does (the step count, the agent's pose,
        the verifier); the view is made once, when next read. With a ``hook``, minigrid steps each.
        """
        if self.hook is not None:
            for action in actions:
                self._step(action)
                if self.outcome != "running":
                    return
            return
        engine = self.engine
        for action in actions:
            engine.step_count += 1
            if action == FORWARD:
                engine.agent_pos = tuple(engine.front_pos)
            else:
                engine.agent_dir = (engine.agent_dir + (1 if action == RIGHT else -1)) % 4
            self.history.append(action)
            self.version += 1
            self._observe()
            status = engine.instrs.verify(action)  # as RoomGridLevel.step
            if status in ("success", "failure"):
                self.outcome = status
                return

    def _primitive_feedback(self, action: int, ahead, carried) -> str:
        if action == LEFT:
            return "You turn left."
        if action == RIGHT:
            return "You turn right."
        if action == FORWARD:
            return "You move forward."
        if action == PICKUP:
            return f"You pick up the {self.names[id(ahead)]}."
        if action == DROP:
            return f"You drop the {self.names[id(carried)]}."
        if ahead.is_open:
            return f"You {'unlock and ' if self._was_locked else ''}open the {self.names[id(ahead)]}."
        return f"You close the {self.names[id(ahead)]}."

    # ----- high-level commands: routes over the cells seen so far ---------------------------

    def route(self, target: tuple[int, int]) -> list[int] | None:
        """Fewest primitive actions to stand next to ``target`` and face it, over the cells seen."""
        x, y = (int(v) for v in self.engine.agent_pos)
        return self.geometry.route(x, y, int(self.engine.agent_dir), self.free(), target)

    def canonical(self, command: Command) -> Command:
        """``command`` with its target named as the observation names it: the mission's wording
        ("pick up the purple key", "go to a ball on your left") reads as the bare name."""
        if not command.args or command.args[0] in self.by_name:
            return command
        return Command(command.verb, (_MISSION_WORDING.sub("", command.args[0]),))

    def _macro_problem(self, verb: str, name: str) -> tuple[str | None, Any]:
        cell = self.by_name.get(name)
        if cell is None:
            alike = [other for _, other in self.objects if other.rsplit(" ", 1)[0] == name]
            if alike:
                return f"There are several things called {name}; say which: {', '.join(alike)}.", None
            return f"There is no {name} here. Name things as the observation does.", None
        position = self._position(cell)
        if position is None:
            return f"You are carrying the {name}.", None
        if not self.known_cells & self.geometry.bit(*position):
            return f"You have not seen the {name} yet.", None
        if verb == "pick_up_object":
            if not cell.can_pickup():
                return f"The {name} cannot be picked up.", None
            if self.engine.carrying is not None:
                return f"You already carry the {self.names[id(self.engine.carrying)]}; drop it first.", None
        if verb == "go_through":
            if cell.type != "door":
                return f"The {name} is not a {self.lexicon['door']}.", None
            if position == tuple(int(v) for v in self.engine.agent_pos):
                return f"You are standing in the {name}; move forward to go on.", None
            carrying = self.engine.carrying
            if cell.is_locked and not (
                carrying is not None and carrying.type == "key" and carrying.color == cell.color
            ):
                return f"The {name} is locked; you need a {self.lexicon[cell.color]} {self.lexicon['key']}.", None
        route = self.route(position)
        if route is None:
            return f"You know no free way to the {name}.", None
        if verb == "go_to" and not route:
            return f"You are already facing the {name}.", None
        return None, route

    # ----- commands -------------------------------------------------------------------------

    def execute(self, command: Command) -> tuple[str, str]:
        """Carry out ``command``; return ``(feedback, status)``. Illegal commands change nothing."""
        verb = command.verb
        if verb in PRIMITIVE_VERBS:
            action = PRIMITIVE_VERBS[verb]
            problem = self._primitive_problem(action)
            if problem:
                return problem, "illegal"
            ahead, carried = self.front(), self.engine.carrying
            self._was_locked = ahead is not None and ahead.type == "door" and ahead.is_locked
            self._step(action)
            return self._primitive_feedback(action, ahead, carried), "ok"
        if not self.high:
            return "High-level commands are off at this action level; use the primitive actions.", "illegal"
        name = command.args[0]
        problem, route = self._macro_problem(verb, name)
        if problem:
            return problem, "illegal"
        self._walk(route)
        if self.outcome != "running":
            return f"You head for the {name}.", "ok"
        if verb == "go_to":
            return f"You go to the {name}.", "ok"
        if verb == "pick_up_object":
            self._step(PICKUP)
            return f"You pick up the {name}.", "ok"
        door = self.by_name[name]
        if not door.is_open:
            self._step(TOGGLE)
            if self.outcome != "running":
                return f"You open the {name}.", "ok"
        self._step(FORWARD)
        if self.outcome == "running" and self.front() is None:
            self._step(FORWARD)
        return f"You go through the {name}.", "ok"

    def admissible(self) -> list[Command]:
        commands = [PRIMITIVE_COMMANDS[a] for a in self.legal_primitives()]
        if not self.high:
            return commands
        geometry, engine = self.geometry, self.engine
        x, y = (int(v) for v in engine.agent_pos)
        here, front = (x, y), (x + _VECTORS[engine.agent_dir][0], y + _VECTORS[engine.agent_dir][1])
        beside = geometry.beside(geometry.reachable(x, y, self.free()))  # the cells a walk can face
        carrying, known = engine.carrying, self.known_cells
        go_to, pick_up, go_through = [], [], []
        for (cell, _), (walk, pick, through) in zip(self.objects, self.commands):
            position = self._position(cell)
            if position is None or not known & beside & geometry.bit(*position):
                continue
            if position != front:
                go_to.append(walk)
            if carrying is None and cell.can_pickup():
                pick_up.append(pick)
            if (
                cell.type == "door"
                and position != here
                and not (
                    cell.is_locked
                    and not (carrying is not None and carrying.type == "key" and carrying.color == cell.color)
                )
            ):
                go_through.append(through)
        return commands + go_to + pick_up + go_through

    # ----- what the agent perceives -----------------------------------------------------------

    def view(self) -> dict[str, Any]:
        """What the agent sees, as minigrid shows it (7 by 7 cells, the agent at the bottom middle;
        walls and closed doors hide what lies behind them): the things in sight with their places,
        the nearest walls in sight ahead and to each side (a side with none is left out), what it
        carries. Read off the level's geometry and the objects, not minigrid's image of the view
        (tests/test_babyai.py compares them)."""
        engine, geometry = self.engine, self.geometry
        x, y = (int(v) for v in engine.agent_pos)
        fx, fy = _VECTORS[engine.agent_dir]
        seen, carrying = geometry.view(x, y, engine.agent_dir, self.door_states), engine.carrying
        things = []
        for cell, name in self.objects:
            if cell is carrying:
                continue
            dx, dy = int(cell.cur_pos[0]) - x, int(cell.cur_pos[1]) - y
            if not seen >> ((x + dx) * geometry.height + y + dy) & 1 or not (dx or dy):  # the agent's own cell
                continue  # shows what it carries
            thing = {"name": name, "forward": fx * dx + fy * dy, "right": fx * dy - fy * dx}
            if cell.type == "door":
                thing["state"] = "open" if cell.is_open else "locked" if cell.is_locked else "closed"
            things.append(thing)
        if len(things) > 1:
            things.sort(key=_nearest_first)
        walls = {  # a side without a wall in sight is left out (a None among ints breaks make_vec's infos)
            side: distance
            for side, distance in (
                ("forward", self._nearest_wall(x, y, (fx, fy), VIEW - 1, seen)),
                ("left", self._nearest_wall(x, y, (fy, -fx), _HALF, seen)),
                ("right", self._nearest_wall(x, y, (-fy, fx), _HALF, seen)),
            )
            if distance is not None
        }
        return {
            "mission": self.mission,
            "things": things,
            "walls": walls,
            "carrying": None if carrying is None else self.names[id(carrying)],
        }

    def _nearest_wall(self, x: int, y: int, step: tuple[int, int], reach: int, seen: int) -> int | None:
        """Steps to the nearest wall in sight along ``step``, within ``reach`` cells, or ``None``."""
        for distance in range(1, reach + 1):
            cell = (x + step[0] * distance, y + step[1] * distance)
            if cell in self.geometry.walls and seen >> (cell[0] * self.geometry.height + cell[1]) & 1:
                return distance
        return None


def _nearest_first(thing: dict[str, Any]) -> tuple[int, str]:
    return thing["forward"] + abs(thing["right"]), thing["name"]


# ----- the exact optimum: A* search over the grid state -----------------------------------------

SEARCH_BUDGET = 1000  # states the shortest-way search may reach before it settles for a longer plan
CLAUSE_BUDGET = 300  # states the search for one clause of a first plan may reach before it leaves it to the bot
_EMPTY, _WALL = -1, -2  # what _Search._at finds besides objects (0..) and doors (objects + door)


class _Search:
    """A level's dynamics and our commands on compact, hashable states, for A* search.

    A state is ``(x, y, dir, carried, positions, doors, progress, known)``: the agent, the index of
    the object it carries (-1: none), where each key, ball and box lies (the carried one keeps the
    cell it was picked up from, as minigrid's verifier does until the next drop), door states, the
    verifier's progress (per clause what it last saw carried, per join which parts are done) and,
    at the high level, the cells seen so far as a bitmask (walking commands route over them).
    It mirrors ``_Game``: same legality, same routes, success checked after every primitive.
    """

    def __init__(self, game: _Game):
        geometry = self.geometry = game.geometry
        self.width, self.height, self.high = geometry.width, geometry.height, game.high
        self.walls, self.blocked = geometry.walls, geometry.blocked  # the walls, as cells and as a bitmask
        self.door_cells, self.door_bits, self.ahead = geometry.door_cells, geometry.door_bits, geometry.ahead
        movable = [(cell, name) for cell, name in game.objects if cell.type != "door"]
        doors = [(cell, name) for cell, name in game.objects if cell.type == "door"]
        self.names = [name for _, name in movable] + [name for _, name in doors]
        self.pickable = len(movable)
        self.keys = tuple(cell.color if cell.type == "key" else None for cell, _ in movable)
        self.door_colours = tuple(cell.color for cell, _ in doors)
        self.door_at = {pos: self.pickable + k for k, pos in enumerate(self.door_cells)}
        self.index = {name: i for i, name in enumerate(self.names)}
        self.slots, self.has_goto = 0, False
        self.mission = self._compile(game.engine.instrs, game)
        self.leaves = tuple(self._leaves(self.mission, None))  # (kind, objects acted on, slot of its "done", clause)
        acted = [leaf[1] for leaf in self.leaves]
        self.distinct = not self.has_goto and all(not a & b for i, a in enumerate(acted) for b in acted[i + 1 :])
        self._view = geometry.view  # the cells seen from a pose (x, y, dir, door states)
        self.commands = tuple(
            (Command("go_to", (name,)), Command("pick_up_object", (name,)), Command("go_through", (name,)))
            for name in self.names
        )

    # ----- the verifier, compiled: ("and" | "before" | "after", a, b, slot) or a clause -------

    def _compile(self, instr, game: _Game) -> tuple:
        from minigrid.envs.babyai.core.verifier import AfterInstr, AndInstr, BeforeInstr

        slot = self.slots
        if isinstance(instr, (AndInstr, BeforeInstr, AfterInstr)):
            self.slots += 2
            kind = "and" if isinstance(instr, AndInstr) else "before" if isinstance(instr, BeforeInstr) else "after"
            return (kind, self._compile(instr.instr_a, game), self._compile(instr.instr_b, game), slot)
        self.slots += 1
        kind = type(instr).__name__[: -len("Instr")].lower()  # goto, pickup, open, putnext
        self.has_goto |= kind == "goto"
        objects = (instr.desc_move, instr.desc_fixed) if kind == "putnext" else (instr.desc,)
        sets = tuple(frozenset(self.index[game.names[id(obj)]] for obj in desc.obj_set) for desc in objects)
        return (kind, sets, slot)

    def _leaves(self, node: tuple, done: int | None):
        """The clauses under ``node`` in the order they can be done: kind, the objects it picks up,
        moves or opens, the progress slot that records it done (``None``: the mission's last
        clause in time) and the clause."""
        if node[0] in ("and", "before", "after"):
            first, second = (node[1], node[2]) if node[0] == "before" else (node[2], node[1])
            if node[0] == "and":
                yield from self._leaves(node[1], node[3])
                yield from self._leaves(node[2], node[3] + 1)
            else:
                yield from self._leaves(first, node[3] if node[0] == "before" else node[3] + 1)
                yield from self._leaves(second, done)
        else:
            yield node[0], node[1][0], done, node

    def progress(self, game: _Game) -> tuple[int, ...]:
        """The verifier's progress in ``game``, as a search state holds it."""
        values = [-1] * self.slots

        def read(node, instr) -> None:
            if node[0] in ("and", "before", "after"):  # a "before" keeps only a's "done", an "after" only b's
                values[node[3]] = int(node[0] != "after" and instr.a_done == "success")
                values[node[3] + 1] = int(node[0] != "before" and instr.b_done == "success")
                read(node[1], instr.instr_a)
                read(node[2], instr.instr_b)
            elif getattr(instr, "preCarrying", None) is not None:
                values[node[2]] = self.index[game.names[id(instr.preCarrying)]]

        read(self.mission, game.engine.instrs)
        return tuple(values)

    def state(self, game: _Game) -> tuple:
        """``game``'s current state as a search state."""
        engine, carrying = game.engine, game.engine.carrying
        x, y = (int(v) for v in engine.agent_pos)
        cells = {name: cell for cell, name in game.objects}
        positions = tuple(
            game.picked_from if cells[name] is carrying else (int(cells[name].cur_pos[0]), int(cells[name].cur_pos[1]))
            for name in self.names[: self.pickable]
        )
        doors = tuple(
            _OPEN if cell.is_open else _LOCKED if cell.is_locked else _CLOSED
            for cell in (cells[name] for name in self.names[self.pickable :])
        )
        carried = -1 if carrying is None else self.index[game.names[id(carrying)]]
        known = game.known_cells if self.high else 0
        return (x, y, int(engine.agent_dir), carried, positions, doors, self.progress(game), known)

    # ----- one primitive action ---------------------------------------------------------------

    def _at(self, state: tuple, cell: tuple[int, int]) -> int:
        if cell in self.walls:
            return _WALL
        door = self.door_at.get(cell)
        if door is not None:
            return door
        carried, positions = state[3], state[4]
        for i, position in enumerate(positions):
            if position == cell and i != carried:
                return i
        return _EMPTY

    def _can_toggle(self, state: tuple, door: int) -> bool:
        carried = state[3]
        return state[5][door] != _LOCKED or (carried >= 0 and self.keys[carried] == self.door_colours[door])

    def legal(self, state: tuple) -> list[int]:
        """The legal primitives, as ``_Game.legal_primitives``."""
        x, y, d, carried = state[:4]
        ahead = self._at(state, (x + _VECTORS[d][0], y + _VECTORS[d][1]))
        legal = [LEFT, RIGHT]
        if ahead == _EMPTY:
            legal.append(FORWARD)
            if carried >= 0:
                legal.append(DROP)
        elif ahead >= self.pickable:
            if state[5][ahead - self.pickable] == _OPEN:
                legal.append(FORWARD)
            if self._can_toggle(state, ahead - self.pickable):
                legal.append(TOGGLE)
        elif ahead >= 0 and carried < 0:
            legal.append(PICKUP)
        return legal

    def step(self, state: tuple, action: int) -> tuple[tuple, bool]:
        """The state after a legal primitive ``action``, and whether the mission is then complete."""
        x, y, d, carried, positions, doors, progress, known = state
        dx, dy = _VECTORS[d]
        front = (x + dx, y + dy)
        if action == LEFT:
            d = (d - 1) % 4
        elif action == RIGHT:
            d = (d + 1) % 4
        elif action == FORWARD:
            x, y = front
        elif action == PICKUP:
            carried = self._at(state, front)
        elif action == DROP:
            positions = positions[:carried] + (front,) + positions[carried + 1 :]
            carried = -1
        else:
            door = self.door_at[front] - self.pickable
            doors = doors[:door] + ((_CLOSED if doors[door] == _OPEN else _OPEN),) + doors[door + 1 :]
        if self.high and action not in (PICKUP, DROP):
            known |= self._view(x, y, d, doors)
        if action <= FORWARD and not self.has_goto:  # only a "go to" clause can change on a walk
            return (x, y, d, carried, positions, doors, progress, known), False
        values = list(progress)
        after = (x, y, d, carried, positions, doors, progress, known)
        done = self._verify(self.mission, action, after, values)
        return (x, y, d, carried, positions, doors, tuple(values), known), done

    def _verify(self, node: tuple, action: int, state: tuple, values: list[int]) -> bool:
        """minigrid's verifier on ``state`` after ``action`` (no strict mode, no done action)."""
        kind = node[0]
        if kind == "and":
            slot = node[3]
            for part in (0, 1):
                if not values[slot + part]:
                    values[slot + part] = int(self._verify(node[1 + part], action, state, values))
            return bool(values[slot] and values[slot + 1])
        if kind in ("before", "after"):  # the first clause in time, the slot of its "done", the second
            first, done, second = (node[1], node[3], node[2]) if kind == "before" else (node[2], node[3] + 1, node[1])
            if not values[done]:
                values[done] = int(self._verify(first, action, state, values))
                if not values[done]:
                    return False
            return self._verify(second, action, state, values)
        x, y, d, carried, positions = state[:5]
        front = (x + _VECTORS[d][0], y + _VECTORS[d][1])
        sets, slot = node[1], node[2]
        if kind == "goto":
            return any(self._cell_of(state, i) == front for i in sets[0])
        if kind == "open":
            return action == TOGGLE and any(
                self.door_cells[i - self.pickable] == front and state[5][i - self.pickable] == _OPEN for i in sets[0]
            )
        before, values[slot] = values[slot], carried
        if kind == "pickup":
            return action == PICKUP and before == -1 and carried in sets[0]
        if action != DROP or before not in sets[0]:
            return False
        px, py = positions[before]
        return any(abs(px - fx) + abs(py - fy) == 1 for fx, fy in (self._cell_of(state, i) for i in sets[1]))

    def _cell_of(self, state: tuple, i: int) -> tuple[int, int]:
        return state[4][i] if i < self.pickable else self.door_cells[i - self.pickable]

    # ----- our commands, and the search ---------------------------------------------------------

    def _routes(self, state: tuple) -> tuple[dict, dict]:
        """Breadth-first over poses (``cell * 4 + dir``, a cell being ``x * height + y``) through
        seen, free cells (as ``_Game.route``, same order): the parents of the poses, and per cell
        the first pose found facing it."""
        x, y, d, carried, positions, doors, _, known = state
        blocked = self.blocked
        for i, (px, py) in enumerate(positions):
            if i != carried:
                blocked |= 1 << (px * self.height + py)
        for door, door_state in enumerate(doors):
            if door_state != _OPEN:
                blocked |= self.door_bits[door]
        free = known & ~blocked
        start = (x * self.height + y) * 4 + d
        parents: dict[int, tuple | None] = {start: None}
        facing: dict[int, int] = {}
        queue, ahead_of = [start], self.ahead
        for pose in queue:  # the list grows as it is read: first in, first out
            ahead = pose // 4 + ahead_of[pose & 3]
            if ahead not in facing:
                facing[ahead] = pose
            turn = pose & ~3
            for action, following in (
                (FORWARD, ahead * 4 + (pose & 3) if free >> ahead & 1 else -1),
                (LEFT, turn | (pose - 1) & 3),
                (RIGHT, turn | (pose + 1) & 3),
            ):
                if following >= 0 and following not in parents:
                    parents[following] = (pose, action)
                    queue.append(following)
        return parents, facing

    def successors(self, state: tuple):
        """``(command, next state, success)`` for each admissible command, as ``_Game.admissible``
        and ``_Game.execute``: walking commands run their primitives and stop at success."""
        for action in self.legal(state):
            after, done = self.step(state, action)
            yield PRIMITIVE_COMMANDS[action], after, done
        if not self.high:
            return
        parents, facing = self._routes(state)
        x, y, d, carried, positions, doors, progress, known = state
        here, front = (x, y), (x + _VECTORS[d][0], y + _VECTORS[d][1])
        seen = {(x * self.height + y) * 4 + d: known}  # pose -> the cells seen by the time it is reached

        def seen_at(pose: int) -> int:
            if pose not in seen:
                cell, facing_dir = divmod(pose, 4)
                cx, cy = divmod(cell, self.height)
                seen[pose] = seen_at(parents[pose][0]) | self._view(cx, cy, facing_dir, doors)
            return seen[pose]

        for i in range(len(self.names)):
            if i == carried:
                continue
            cell = self._cell_of(state, i)
            index = cell[0] * self.height + cell[1]
            pose = facing.get(index)
            if pose is None or not known >> index & 1:
                continue
            if self.has_goto:  # a "go to" clause may be done on the way: run the route step by step
                route: list[int] = []
                end = pose
                while parents[end] is not None:
                    end, action = parents[end]
                    route.append(action)
                route.reverse()
                arrived, done = self._run(state, route)
            else:  # nothing can be done on a walk: go straight to its end
                (ax, ay), ad = divmod(pose // 4, self.height), pose & 3
                arrived, done = (ax, ay, ad, carried, positions, doors, progress, seen_at(pose)), False
            if cell != front:
                yield self.commands[i][0], arrived, done
            if done:
                continue
            if i < self.pickable:
                if carried < 0:
                    yield self.commands[i][1], *self.step(arrived, PICKUP)
            elif cell != here and self._can_toggle(state, i - self.pickable):
                yield self.commands[i][2], *self._through(arrived, i - self.pickable)

    def _run(self, state: tuple, actions: list[int]) -> tuple[tuple, bool]:
        for action in actions:
            state, done = self.step(state, action)
            if done:
                return state, True
        return state, False

    def _through(self, state: tuple, door: int) -> tuple[tuple, bool]:
        """From facing ``door``: open it if closed, step into it and on if the cell beyond is free."""
        state, done = self._run(state, ([] if state[5][door] == _OPEN else [TOGGLE]) + [FORWARD])
        if done:
            return state, True
        x, y, d = state[:3]
        if self._at(state, (x + _VECTORS[d][0], y + _VECTORS[d][1])) == _EMPTY:
            return self.step(state, FORWARD)
        return state, False

    # ----- A*: a lower bound on the commands left, and the search ---------------------------------

    def bound(self, state: tuple) -> int:
        """A lower bound on the commands from ``state`` to success (at least 1 while running).

        Per clause left: the pickups, drops and toggles it still needs (a command makes at most
        one), one more to first see its object, and at the primitive level the moves to reach it;
        the most over the clauses (one action can complete clauses of both sides of a join). Where
        no two clauses act on a common object, their events are distinct and add up, with a drop
        before each pickup while the hands are full.
        """
        single = self._bound(self.mission, state)
        if not self.distinct:
            return single
        values, carried = state[6], state[3]
        pickups = drops = toggles = 0
        for kind, targets, done, _ in self.leaves:
            if done is not None and values[done]:
                continue
            if kind == "open":
                toggles += 1
            elif kind == "pickup":
                pickups += 1
            else:
                drops += 1
                pickups += carried not in targets
        # each pickup needs free hands: a drop before every one but the first (and that too if holding)
        return max(single, pickups + toggles + max(drops, pickups - 1 + (carried >= 0)))

    def _bound(self, node: tuple, state: tuple) -> int:
        kind, values = node[0], state[6]
        if kind == "and":
            slot = node[3]
            return max(
                0 if values[slot] else self._bound(node[1], state),
                0 if values[slot + 1] else self._bound(node[2], state),
            )
        if kind in ("before", "after"):
            first, done, second = (node[1], node[3], node[2]) if kind == "before" else (node[2], node[3] + 1, node[1])
            later = self._bound(second, state)
            return later if values[done] else max(self._bound(first, state), later)
        carried, targets = state[3], node[1][0]
        if kind == "goto":
            return 1
        if kind == "open":
            if all(state[5][i - self.pickable] == _LOCKED for i in targets) and not any(
                self._can_toggle(state, i - self.pickable) for i in targets
            ):  # a key of one's colour to pick up first, with free hands
                return 2 + (carried >= 0) + self._approach(state, targets, 1)
            return 1 + self._approach(state, targets, 1)
        if kind == "putnext":
            fixed = [self._cell_of(state, i) for i in node[1][1] if i != carried]
            if carried in targets:  # a drop, after a move unless the cell ahead lies next to a fixed object
                x, y, d = state[:3]
                fx, fy = x + _VECTORS[d][0], y + _VECTORS[d][1]
                if self.high:
                    ready = self._at(state, (fx, fy)) == _EMPTY and any(
                        abs(fx - a) + abs(fy - b) == 1 for a, b in fixed
                    )
                    return 1 if ready else 2
                return 1 + self._approach(state, node[1][1], 2)
            adjacent = any(
                abs(a - c) + abs(b - e) == 1 for i in targets for a, b in (self._cell_of(state, i),) for c, e in fixed
            )  # picked up from next to a fixed object, it can be dropped straight back
            stuck = self.high and not adjacent and carried not in node[1][1]
            return 2 + (carried >= 0) + stuck + self._approach(state, targets, 1)
        if kind == "pickup" and carried in targets:
            return 2
        return 1 + (carried >= 0) + self._approach(state, targets, 1)

    def _approach(self, state: tuple, targets: frozenset, reach: int) -> int:
        """Commands needed before acting on one of ``targets`` (the carried one excluded): at the
        high level 1 if none has been seen, else 0; at the primitive level the moves to come
        within ``reach`` cells of one."""
        carried, known = state[3], state[7]
        cells = [self._cell_of(state, i) for i in targets if i != carried]
        if self.high:
            return 0 if any(known >> (cx * self.height + cy) & 1 for cx, cy in cells) else 1
        x, y = state[0], state[1]
        return max(0, min((abs(cx - x) + abs(cy - y) for cx, cy in cells), default=reach) - reach)

    def solve(self, start: tuple, limit: int, budget: int = SEARCH_BUDGET) -> tuple[list[Command] | None, int]:
        """A shortest command sequence from ``start`` to success of at most ``limit`` commands
        (A* with ``bound``), or ``None``; and a proven lower bound on the length of any such
        sequence (``limit + 1``: there is none; otherwise the search reached ``budget`` states)."""
        path, lower, _ = self._astar(start, limit, budget, None)
        return path, lower

    def plan(self, start: tuple, limit: int, budget: int = CLAUSE_BUDGET) -> list[Command] | None:
        """Some command sequence to success of at most ``limit`` commands, found fast: clause by
        clause in the mission's order, each the shortest way to its completion; ``None`` if one
        search reached ``budget`` states."""
        path: list[Command] = []
        state = start
        while True:
            goal = next(leaf for leaf in self.leaves if leaf[2] is None or not state[6][leaf[2]])
            part, _, after = self._astar(state, limit - len(path), budget, goal)
            if part is None:
                return None
            path += part
            if after is None:  # the mission is complete
                return path
            state = after

    def _astar(
        self, start: tuple, limit: int, budget: int, goal: tuple | None
    ) -> tuple[list | None, int, tuple | None]:
        """A* to success, or with ``goal`` (a clause of ``leaves``) to that clause's completion:
        the path, a lower bound on its length, and the state it ends in (``None``: success)."""
        estimate = self.bound if goal is None else lambda state: self._bound(goal[3], state)
        first = estimate(start)
        if first > limit:
            return None, limit + 1, None
        best = {start: 0}
        parents: dict[tuple, tuple[tuple, Command] | None] = {start: None}
        heap = [(first, 0, 0, start)]  # (f, -g, order, state): deepest first among equal f
        order = 0
        while heap:
            _, _, _, state = heapq.heappop(heap)
            depth = best[state]
            if len(best) > budget:
                return None, depth + estimate(state), None
            for command, after, done in self.successors(state):
                reached = done or (goal is not None and goal[2] is not None and after[6][goal[2]])
                if reached:  # g + 1 <= f: the bound is at least 1 short of the goal, and f never passes the optimum
                    path = [command]
                    while (parent := parents[state]) is not None:
                        state, command = parent
                        path.append(command)
                    return path[::-1], depth + 1, None if done else after
                if depth + 1 < best.get(after, limit + 1):
                    guess = depth + 1 + estimate(after)
                    if guess <= limit:
                        best[after], parents[after] = depth + 1, (state, command)
                        order += 1
                        heapq.heappush(heap, (guess, -depth - 1, order, after))
        return None, limit + 1, None


# ----- the oracle: minigrid's BabyAI bot -------------------------------------------------------


class _Oracle:
    """minigrid's ``BabyAIBot`` on ``engine``, told every primitive action before it is taken.

    The bot replans once per state, in its advising mode, so it follows any actions, its own or
    not. ``applied`` counts the actions its engine has stepped when it replays a game's history.
    """

    def __init__(self, engine):
        from minigrid.utils.baby_ai_bot import BabyAIBot

        self.engine = engine
        self.bot = BabyAIBot(engine)
        self.previous: int | None = None
        self.advice: int | None = None
        self.applied = 0

    def suggest(self) -> int:
        if self.advice is None:
            self.advice = int(self.bot.replan(self.previous))
        return self.advice

    def before_step(self, action: int) -> None:
        self.suggest()
        self.previous, self.advice = action, None

    def catch_up(self, history: list[int]) -> None:
        for action in history[self.applied :]:
            self.before_step(action)
            self.engine.step(action)
        self.applied = len(history)


def _decide(game: _Game, oracle: _Oracle) -> Command:
    """The oracle's command: the bot's primitive, or at the high level the macro that covers its
    walk to an object (pinned, so the bot keeps to the object the macro walks to)."""
    from minigrid.core.world_object import WorldObj
    from minigrid.envs.babyai.core.verifier import ObjDesc
    from minigrid.utils.baby_ai_bot import GoNextToSubgoal, PickupSubgoal

    action = oracle.suggest()
    if action == DONE:
        raise AssertionError("the bot believes the mission is done while it is not")
    if game.high and action in (LEFT, RIGHT, FORWARD) and oracle.bot.stack:
        stack = oracle.bot.stack
        top = stack[-1]
        if isinstance(top, GoNextToSubgoal) and top.reason in (None, "Open"):
            target = top.datum
            if isinstance(target, ObjDesc):
                target = oracle.bot._find_obj_pos(target)[0]
            if isinstance(target, WorldObj) and target is not oracle.engine.carrying:
                position = target.cur_pos  # set for every object on the grid
                name = None if position is None else game.name_at(position)
                if name is not None and position is not None:
                    # doors stay put and the bot needs them as objects; other things, by position
                    top.datum = target if target.type == "door" else (int(position[0]), int(position[1]))
                    picks = len(stack) > 1 and isinstance(stack[-2], PickupSubgoal)
                    verb = "pick_up_object" if picks and game.engine.carrying is None else "go_to"
                    if game._macro_problem(verb, name)[0] is None:
                        return Command(verb, (name,))
    return PRIMITIVE_COMMANDS[action]


def _remaining(instr):
    """What is left of a BabyAI instruction, from its verifier's progress."""
    from minigrid.envs.babyai.core.verifier import AfterInstr, AndInstr, BeforeInstr

    if isinstance(instr, (BeforeInstr, AfterInstr)):
        before = isinstance(instr, BeforeInstr)
        first, second = (instr.instr_a, instr.instr_b) if before else (instr.instr_b, instr.instr_a)
        if (instr.a_done if before else instr.b_done) == "success":
            return _remaining(second)
        return BeforeInstr(_remaining(first), second)
    if isinstance(instr, AndInstr):
        if instr.a_done == "success":
            return instr.instr_b
        if instr.b_done == "success":
            return instr.instr_a
    return instr


def _seen_on_this_side(game: _Game) -> np.ndarray:
    """The seen cells the agent can get to without opening a door (moving objects allowed), and
    the walls and closed doors around them: what a fresh bot may take as seen. (The bot assumes
    that whatever it has seen it can reach; a door closed since would break that.)"""
    known, grid = game.known, game.engine.grid
    mask = np.zeros_like(known)
    start = tuple(int(v) for v in game.engine.agent_pos)
    mask[start] = True
    frontier = [start]
    while frontier:
        x, y = frontier.pop()
        for dx, dy in _VECTORS:
            nx, ny = x + dx, y + dy
            if mask[nx, ny] or not known[nx, ny]:
                continue
            mask[nx, ny] = True
            cell = grid.get(nx, ny)
            # minigrid's stubs declare is_open on Door only, not on the WorldObj that grid.get returns
            if cell is None or not (cell.type == "wall" or (cell.type == "door" and not cell.is_open)):  # type: ignore[attr-defined]
                frontier.append((nx, ny))
    return mask


def _fresh_oracle(game: _Game) -> _Oracle:
    """A bot on a copy of the game as it is now, told only what is left of the mission and what
    the agent has seen. What the agent carries is put down first, unless the mission's next step
    is to put that very object somewhere."""
    from minigrid.envs.babyai.core.verifier import AndInstr, BeforeInstr, PutNextInstr
    from minigrid.utils.baby_ai_bot import DropSubgoal, GoNextToSubgoal

    oracle = _Oracle(copy.deepcopy(game.engine))
    bot, remaining = oracle.bot, _remaining(oracle.engine.instrs)
    bot.vis_mask |= _seen_on_this_side(game)
    bot.stack.clear()
    bot._process_instr(remaining)
    carrying = oracle.engine.carrying
    if carrying is not None:
        first = remaining
        while isinstance(first, (BeforeInstr, AndInstr)):
            first = first.instr_a
        if isinstance(first, PutNextInstr) and any(carrying is obj for obj in first.desc_move.obj_set):
            del bot.stack[-2:]  # already holding it: skip going to it and picking it up
        else:
            bot.stack.append(DropSubgoal(bot))
            bot.stack.append(GoNextToSubgoal(bot, bot._find_drop_pos()))
    oracle.applied = len(game.history)
    return oracle


# ----- the environment -----------------------------------------------------------------------

PRIMITIVE_SPECS = (
    CommandSpec("turn_left", "turn left", (), "turn 90 degrees to the left"),
    CommandSpec("turn_right", "turn right", (), "turn 90 degrees to the right"),
    CommandSpec("move_forward", "move forward", (), "step one cell ahead"),
    CommandSpec("pick_up", "pick up", (), "pick up the object right in front of you"),
    CommandSpec("drop", "drop", (), "put what you carry on the free cell in front of you"),
    CommandSpec("toggle", "toggle", (), "open or close the door in front of you"),
)
TARGET = Arg("target", "name", "a thing you have seen, named as in the observation")
HIGH_SPECS = (
    CommandSpec("go_to", "go to {target}", (TARGET,), "walk to a thing you have seen and face it"),
    CommandSpec("pick_up_object", "pick up {target}", (TARGET,), "walk to an object you have seen and pick it up"),
    CommandSpec("go_through", "go through {target}", (TARGET,), "walk to a door, open it if needed, and go through"),
)
GRAMMAR = Grammar(PRIMITIVE_SPECS + HIGH_SPECS)
PRIMITIVE_VERBS = {spec.verb: action for action, spec in enumerate(PRIMITIVE_SPECS)}
PRIMITIVE_COMMANDS = tuple(Command(spec.verb) for spec in PRIMITIVE_SPECS)


class BabyAIEnv(TextEnv):
    """Carry out a BabyAI mission in a grid world of rooms, seen as text.

    Args:
        reward_mode: ``"sparse"`` (1 on success) or ``"babyai"`` (1 - 0.9 * turns / max_turns on
            success, as BabyAI rewards).
        (and ``TextEnv``'s ``difficulty``, ``theme``, ``max_turns``, ``render_mode``)

    Example:
        >>> import gymnasium as gym, llm_gym
        >>> env = gym.make("llm_gym/BabyAI-v0", difficulty="easy")
        >>> observation, info = env.reset(seed=0)
        >>> info["outcome"], info["optimal_steps"] > 0, "turn left" in info["admissible_actions"]
        ('running', True, True)
    """

    family = "BabyAI"
    config_class = BabyAIConfig
    presets = PRESETS
    themes = THEMES
    grammar = GRAMMAR
    native_action_list = "every_turn"

    def __init__(
        self,
        difficulty: Any = None,
        theme: str | None = None,
        max_turns: int | None = None,
        render_mode: str | None = None,
        reward_mode: str = "sparse",
    ):
        if reward_mode not in REWARD_MODES:
            raise ValueError(f"Unknown reward_mode {reward_mode!r}; allowed: {list(REWARD_MODES)}")
        self.reward_mode = reward_mode
        super().__init__(difficulty=difficulty, theme=theme, max_turns=max_turns, render_mode=render_mode)
        primitive = self.config.action_level == "primitive"
        if primitive or self.theme != "default":  # fewer commands, or descriptions in the theme's words
            lexicon = LEXICONS[self.theme]
            specs = PRIMITIVE_SPECS if primitive else PRIMITIVE_SPECS + HIGH_SPECS
            self.grammar = Grammar(
                [dataclasses.replace(spec, description=_themed(spec.description, lexicon)) for spec in specs]
            )
            self.instructions = self._instructions()
        self._game: _Game | None = None
        self._primitive_lists: dict[tuple[int, ...], tuple[list[Command], list[str], str]] = {}
        self._generated: tuple[BabyAITask | None, _Game | None, _Search | None] = (None, None, None)
        # exact primitive texts skip the regular expressions; the grammar reads them the same way
        self._exact = {self.grammar.render(command): command for command in PRIMITIVE_COMMANDS}

    @classmethod
    def generate_task(cls, seed: int, config: BabyAIConfig, theme: str) -> BabyAITask:
        return generate_task(seed, config, theme)

    def _new_task(self, seed: int) -> BabyAITask:
        """``generate_task`` with this env's config and theme (remembered by the process), and the
        game its generation searched, if no env has played it yet."""
        task, fresh = _generation(seed, self.config, self.theme)
        try:
            self._generated = (task, *fresh.pop())
        except IndexError:  # played before, or made by minigrid's bot (which moved its game on)
            self._generated = (task, None, None)
        return task

    def _running(self) -> _Game:
        """The game of the current episode; ``ResetNeeded`` before the first ``reset()``."""
        if self._game is None:
            raise ResetNeeded("Call reset() before using the BabyAI game.")
        return self._game

    @classmethod
    def default_max_turns(cls, config: BabyAIConfig) -> int:
        return _default_max_turns(config)

    def _instructions(self) -> str:
        words = LEXICONS[self.theme]
        rules = (
            "You are in a grid world of rooms and must carry out the mission. You see up to 6 cells "
            f"ahead and 3 to each side; walls and closed {words['door']}s block the view. Places are given in "
            f"steps forward and left or right of you. You carry one object at a time. A locked {words['door']} "
            f"opens only while you carry the {words['key']} of its colour; no {words['box']} can be opened."
        )
        if self.config.action_level == "high":
            rules += " Walking commands take the shortest way over the cells you have seen, as one turn."
        return f"{rules}\n\n{self.grammar.instructions()}"

    def _start(self, task: BabyAITask) -> str:
        generated, game, search = self._generated
        self._generated = (None, None, None)
        if generated is not task or game is None:  # a task remembered from before, or one the bot played
            game, search = _Game(self.config, self.theme, task.level_seed), None
        self._game = game
        self._search: _Search | None = search  # built when first needed
        self._path: tuple[Command, ...] | None = task.plan  # a shortest way (None: the agent left it)
        self._path_at = 0  # how far the agent followed it
        self._advisor: _Oracle | None = None  # the bot that advises where the search gives up
        self._advice: Command | None = None  # its advice for the current state, once asked
        self._admissible_cache: tuple[int, tuple[list[Command], list[str], str]] = (-1, ([], [], ""))
        return ""

    def _transition(self, command: Command) -> Transition:
        game = self._running()
        command = game.canonical(command)
        feedback, status = game.execute(command)
        if status != "ok":
            return Transition(feedback, status="illegal")
        path = self._path
        if path is not None and self._path_at < len(path) and path[self._path_at] == command:
            self._path_at += 1
        else:
            self._path = None
        if command != self._advice:
            self._advisor = None
        self._advice = None
        outcome = game.outcome
        if outcome == "success":
            reward = 1.0 if self.reward_mode == "sparse" else 1.0 - 0.9 * self.turn / self.max_turns
            return Transition(f"{feedback} Mission complete!", reward=reward, outcome="success", score=1.0)
        return Transition(feedback, outcome=outcome)

    def _view(self) -> dict[str, Any]:
        # the feedback is the one part that can quote the agent's text; the rest is ours, printable
        return {"feedback": to_printable(self._feedback), **self._running().view()}

    def _action_line(self) -> str:
        return self._admissible_lists()[2]

    def render_view(self, view: dict[str, Any], first: bool) -> str:
        places = []
        for thing in view["things"]:
            state = f", {thing['state']}" if "state" in thing else ""
            places.append(f"{thing['name']}{state} ({_PLACES[thing['forward']][thing['right'] + 3]})")
        walls = view["walls"]
        for side in ("forward", "left", "right"):
            if side in walls:
                places.append(f"a wall {_steps(walls[side], side)}")
        seen = "; ".join(places) if places else "nothing but empty floor"
        carrying = view["carrying"]
        lines = [view["feedback"]] if view["feedback"] else []
        lines.append(f"Mission: {view['mission']}.")
        lines.append(f"You see: {seen}.")
        lines.append(f"You carry: {'the ' + carrying if carrying else 'nothing'}.")
        return "\n".join(lines)

    def _admissible(self) -> list[Command]:
        return list(self._admissible_lists()[0])

    def _admissible_texts(self) -> list[str]:
        return list(self._admissible_lists()[1])

    def _admissible_lists(self) -> tuple[list[Command], list[str], str]:
        """The admissible commands, their native texts and the action line, once per game state
        (at the primitive level, once per set of legal primitives)."""
        game = self._running()
        version, lists = self._admissible_cache
        if version != game.version:
            legal = None if game.high else tuple(game.legal_primitives())
            cached = None if legal is None else self._primitive_lists.get(legal)
            if cached is None:
                commands = game.admissible() if legal is None else [PRIMITIVE_COMMANDS[a] for a in legal]
                texts = [self._native(command) for command in commands]
                cached = (commands, texts, "Available actions: " + ", ".join(texts))
                if legal is not None:
                    self._primitive_lists[legal] = cached
            lists = cached
            self._admissible_cache = (game.version, lists)
        return lists

    def format_command(self, command: Command) -> str:
        return self._native(command)

    def parse_action(self, text: Any):
        command = self._exact.get(text) if isinstance(text, str) else None
        return command if command is not None else self.grammar.parse(text)

    def _oracle(self) -> Command:
        if self._path is not None and self._path_at < len(self._path):
            return self._path[self._path_at]
        if self._advice is None:
            self._advice = self._advise()
        return self._advice

    def _searcher(self) -> _Search:
        if self._search is None:
            self._search = _Search(self._running())
        return self._search

    def state_key(self) -> str:
        """The task, the outcome and the search state (agent, objects, doors, the verifier's
        progress and, at the high level, the cells seen): all that decides what comes next."""
        key = (self.task_id, self.outcome, self._searcher().state(self._running()))
        return hashlib.blake2b(repr(key).encode(), digest_size=16).hexdigest()

    def _advise(self) -> Command:
        """Off the shortest way: search again from the current state; where the search gives up
        (as it did from the start on tasks whose optimum is not exact), the bot, started afresh on
        the current state, and kept while the agent follows it."""
        game = self._running()
        if self.task.optimal_exact:
            search = self._searcher()
            path, _ = search.solve(search.state(game), self.max_turns)
            if path is not None:
                self._path, self._path_at = tuple(path), 0
                return path[0]
        try:
            if self._advisor is None:
                self._advisor = _fresh_oracle(game)
            else:
                self._advisor.catch_up(game.history)
            return _decide(game, self._advisor)
        except AssertionError:  # the bot's own checks; it rarely gives up on a state
            self._advisor = None
            return self._admissible()[0]


register_family(BabyAIEnv)
