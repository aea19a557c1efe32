"""TextWorld: text adventures generated and played by Microsoft's ``textworld`` engine.

Read top to bottom: difficulty knobs and presets (over TextWorld's built-in challenges and its
custom quest generator), the game cache and generator (games are compiled once into a cache
directory keyed by settings and seed), the command grammar and action sanitizing, and the
quest logic as a search problem (the exact optimum and the oracle's plans), and the environment, a
thin adapter over the engine.

``textworld`` is an optional extra (``pip install "llm-gym[textworld]"``) and is imported only
when a game is generated or played, so ``import llm_gym`` and ``describe()`` work without it.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import functools
import hashlib
import heapq
import itertools
import json
import os
import re
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, NamedTuple

from gymnasium.error import ResetNeeded

from llm_gym.core import TextEnv, Transition
from llm_gym.difficulty import Config, knob
from llm_gym.grammar import Arg, Command, CommandSpec, Grammar, ParseError
from llm_gym.registry import register_family

if TYPE_CHECKING:
    from textworld.core import Environment

CHALLENGES = ("coin_collector", "treasure_hunter", "cooking", "simple", "custom")
CACHE_ENV_VAR = "LLM_GYM_TEXTWORLD_CACHE"
DEFAULT_TIME_LIMIT = 120.0
GENERATION_ATTEMPTS = 5
MAX_COMMAND_LENGTH = 190  # the interpreter keeps 198 bytes of input; longer input is cut silently
CACHE_FORMAT = 1
SEARCH_FORMAT = 1  # the version of the optimum recorded in ``meta.json``; a change recomputes it
SEARCH_LIMIT = 20_000  # nodes A* may expand before it settles for the best plan it can find
INSTALL_HINT = 'TextWorld is an optional extra of llm-gym: pip install "llm-gym[textworld]"'

# Cooking levels: a ladder over tw-cooking's skills, from one ingredient in one room to a full recipe.
COOKING_LEVELS = (
    {"recipe": 1, "take": 1, "go": 1},
    {"recipe": 1, "take": 1, "go": 6, "open": True},
    {"recipe": 2, "take": 2, "go": 6, "open": True, "cut": True},
    {"recipe": 3, "take": 3, "go": 9, "open": True, "cook": True, "cut": True},
    {"recipe": 4, "take": 4, "go": 12, "open": True, "cook": True, "cut": True, "drop": True},
)
# Simple levels: tw-simple's reward density and goal description, from dense and detailed to sparse and none.
SIMPLE_LEVELS = (("dense", "detailed"), ("balanced", "brief"), ("sparse", "none"))
LEVEL_RANGES = {
    "coin_collector": (1, 150),
    "treasure_hunter": (1, 30),
    "cooking": (1, len(COOKING_LEVELS)),
    "simple": (1, len(SIMPLE_LEVELS)),
    "custom": (1, 300),  # ignored
}


@dataclasses.dataclass(frozen=True)
class TextWorldConfig(Config):
    challenge: str = knob("coin_collector", doc="which TextWorld game generator", choices=CHALLENGES)
    level: int = knob(
        3,
        1,
        300,
        "the challenge's level: coin_collector 1-150 (rooms on the path; 101-150 add dead-end rooms), "
        "treasure_hunter 1-30 (1-10: 5 rooms; 11-20: 10 rooms, closed doors and containers; 21-30: 20 rooms, "
        "locked, slow to generate), cooking 1-5 (ingredients, rooms, and open/cut/cook/drop skills), "
        "simple 1-3 (rewards dense to sparse, goal detailed to none); custom ignores it",
    )
    rooms: int = knob(5, 1, 20, "custom only: number of rooms")
    objects: int = knob(5, 0, 30, "custom only: number of objects besides the quest's")
    quest_length: int = knob(3, 1, 20, "custom only: actions the quest needs")

    def check(self) -> None:
        low, high = LEVEL_RANGES[self.challenge]
        if not low <= self.level <= high:
            raise ValueError(
                f"TextWorldConfig.level = {self.level} is out of range for challenge {self.challenge!r}; "
                f"allowed: {low} to {high}"
            )

    def settings(self) -> dict[str, Any]:
        """The generator's settings: only what shapes the game (the cache key is built from them)."""
        if self.challenge == "custom":
            return {"rooms": self.rooms, "objects": self.objects, "quest_length": self.quest_length}
        if self.challenge == "cooking":
            skills = {"open": False, "cook": False, "cut": False, "drop": False}
            return {**skills, **COOKING_LEVELS[self.level - 1], "split": None}
        if self.challenge == "simple":
            rewards, goal = SIMPLE_LEVELS[self.level - 1]
            return {"rewards": rewards, "goal": goal, "test": False}
        return {"level": self.level}


PRESETS = {
    "easy": TextWorldConfig(challenge="coin_collector", level=103),
    "medium": TextWorldConfig(challenge="treasure_hunter", level=10),
    "hard": TextWorldConfig(challenge="custom", level=1, rooms=8, objects=8, quest_length=8),
    "expert": TextWorldConfig(challenge="cooking", level=3),
}
THEMES = ("textworld",)


# ----- the game cache and generator ----------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class TextWorldTask:
    seed: int
    game_seed: int  # the seed the game was generated with: ``seed``, or one derived from it on a retry
    path: str  # the compiled ``.z8``; its ``.json`` lies beside it
    walkthrough: tuple[str, ...]
    max_score: int
    objective: str
    optimal_steps: int
    entities: tuple[str, ...]
    plan: tuple[str, ...]  # a winning plan of ``optimal_steps`` commands, in the grammar's text
    optimal_exact: bool  # False where the search hit ``SEARCH_LIMIT``: ``optimal_steps`` is then a bound

    @property
    def goal_text(self) -> str:
        """The quest's objective, as the game states it."""
        return self.objective


def default_cache_dir() -> Path:
    """``$LLM_GYM_TEXTWORLD_CACHE``, else the user's cache dir (``$XDG_CACHE_HOME`` or ``~/.cache``)."""
    if os.environ.get(CACHE_ENV_VAR):
        return Path(os.environ[CACHE_ENV_VAR]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "llm_gym" / "textworld"


def _require_textworld():
    try:
        import textworld  # noqa: F401
        import textworld.challenges  # noqa: F401
    except ImportError as error:
        raise ImportError(f"{INSTALL_HINT} (importing it failed: {error})") from error
    return textworld


def game_key(seed: int, config: TextWorldConfig) -> str:
    """The cache folder name of a game: challenge, settings, seed and engine version, hashed."""
    import textworld

    text = json.dumps([CACHE_FORMAT, textworld.__version__, config.challenge, config.settings(), seed], sort_keys=True)
    return f"{config.challenge}-{seed}-{hashlib.sha256(text.encode()).hexdigest()[:16]}"


def generate_task(
    seed: int,
    config: TextWorldConfig,
    theme: str = "textworld",
    cache_dir: str | os.PathLike | None = None,
    time_limit: float = DEFAULT_TIME_LIMIT,
) -> TextWorldTask:
    """The game for ``seed``, from the cache or generated into it. Pure in ``(seed, config)``.

    A seed whose quest cannot be generated (``QuestGenerationError``), whose generation runs past
    ``time_limit`` seconds, or whose walkthrough does not win, is retried with seeds derived from it;
    the cache records the seed used, so every process sharing the cache plays the same game. The
    optimum is searched once and recorded in ``meta.json`` beside the game.
    """
    if theme not in THEMES:
        raise ValueError(f"Unknown theme {theme!r} for TextWorld; allowed: {list(THEMES)}")
    _require_textworld()
    root = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    folder = root / game_key(seed, config)
    meta_path = folder / "meta.json"
    if not meta_path.is_file():
        root.mkdir(parents=True, exist_ok=True)
        with _generation_lock(folder):  # a process generating this very game: wait for it, not twice the work
            if not meta_path.is_file():
                _generate_into(folder, seed, config, time_limit)
    meta = json.loads(meta_path.read_text())
    if meta.get("optimum", {}).get("format") != SEARCH_FORMAT:
        meta["optimum"] = _search_optimum(folder, meta["walkthrough"])
        scratch = meta_path.with_name(f".meta-{os.getpid()}-{threading.get_ident()}.json")
        scratch.write_text(json.dumps(meta, sort_keys=True))
        os.replace(scratch, meta_path)
    optimum = meta["optimum"]
    return TextWorldTask(
        seed=seed,
        game_seed=meta["game_seed"],
        path=str(folder / "game.z8"),
        walkthrough=tuple(meta["walkthrough"]),
        max_score=meta["max_score"],
        objective=meta["objective"],
        optimal_steps=len(optimum["plan"]),
        entities=tuple(meta["entities"]),
        plan=tuple(optimum["plan"]),
        optimal_exact=optimum["exact"],
    )


@contextlib.contextmanager
def _generation_lock(folder: Path):
    """Hold an exclusive lock on ``folder``'s game while it is generated (``fcntl``, where there is
    one: TextWorld runs on Linux and macOS). The lock file is removed when the lock is given up:
    whoever waited on it then finds the game made (its maker checks for it again under the lock)."""
    try:
        import fcntl
    except ImportError:  # no POSIX locks: processes may generate the same game twice, harmlessly
        yield
        return
    lock = folder.with_name(f".{folder.name}.lock")
    with open(lock, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            lock.unlink(missing_ok=True)
            fcntl.flock(handle, fcntl.LOCK_UN)


def task_seeds(episode_seeds: Iterable[int]) -> list[int]:
    """The task seed that ``env.reset(seed=s)`` plays for each episode seed ``s``: the first draw of
    the env's ``np_random`` after seeding, as ``TextEnv.reset`` makes it (tested against the env)."""
    from gymnasium.utils import seeding

    return [int(seeding.np_random(int(seed))[0].integers(0, 2**31 - 1)) for seed in episode_seeds]


def generate_games(
    tasks: Iterable[tuple[TextWorldConfig, int]],
    *,
    workers: int | None = None,
    cache_dir: str | os.PathLike | None = None,
    time_limit: float = DEFAULT_TIME_LIMIT,
    deadline: float | None = None,
) -> dict[tuple[TextWorldConfig, int], str]:
    """Generate the games of ``tasks`` (``(config, task seed)`` pairs) that the cache lacks, in
    ``workers`` processes at once (default: one per core), so that a first run does not wait for
    games made one by one. Returns, for each game that could not be made, why.

    Each game is made as ``generate_task`` makes it (same cache key, retries with derived seeds
    past ``time_limit``), under the cache's lock for that game, so an env that resets to it
    meanwhile waits for it rather than making it again. Past ``deadline`` seconds the workers
    are stopped and the games left are reported: an env makes them when it first plays them.
    The workers are fresh interpreters that import only llm-gym (not the caller's ``__main__``),
    so this runs from any script or thread.

    Example:
        >>> seeds = task_seeds(range(20))  # the games `reset(seed=0..19)` plays  # doctest: +SKIP
        >>> generate_games([(PRESETS["medium"], seed) for seed in seeds])  # doctest: +SKIP
        {}
    """
    _require_textworld()
    root = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    missing = [
        (config, seed)
        for config, seed in dict.fromkeys(tasks)
        if not (root / game_key(seed, config) / "meta.json").is_file()
    ]
    if not missing:
        return {}
    root.mkdir(parents=True, exist_ok=True)
    code = f"from llm_gym.families.textworld_games import _serve; _serve({str(root)!r}, {float(time_limit)!r})"
    command = [sys.executable, "-c", code]
    count = max(1, min(len(missing), workers or os.cpu_count() or 1))
    processes = [
        subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        for _ in range(count)
    ]
    queue, failures = list(reversed(missing)), {}
    busy: dict[subprocess.Popen[str], tuple[TextWorldConfig, int]] = {}  # a worker -> the game it makes
    selector = selectors.DefaultSelector()
    started = time.monotonic()
    try:
        for process in processes:
            selector.register(_pipe(process.stdout), selectors.EVENT_READ, process)
            _give_work(process, queue, busy)
        while busy:
            left = None if deadline is None else deadline - (time.monotonic() - started)
            ready = selector.select(None if left is None else max(0.0, left)) if left is None or left > 0 else []
            if not ready:  # past the deadline
                late = [*busy.values(), *queue]
                failures.update({task: f"not made within {deadline:g} s" for task in late})
                break
            for key, _ in ready:
                process = key.data
                line = _pipe(process.stdout).readline()
                task = busy.pop(process, None)
                if not line:  # the worker died
                    selector.unregister(_pipe(process.stdout))
                    if task is not None:
                        failures[task] = f"the generating process exited with code {process.wait()}"
                    continue
                error = json.loads(line)["error"]
                if error and task is not None:  # a line comes only from a worker making a game
                    failures[task] = error
                _give_work(process, queue, busy)
        failures.update({task: "not made: every generating process exited" for task in queue if task not in failures})
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
            process.wait()
        selector.close()
    return failures


def generate_games_in_background(
    configs: Iterable[TextWorldConfig], episode_seeds: Iterable[int], **options: Any
) -> threading.Thread:
    """``generate_games`` in a daemon thread for the games that ``reset(seed=s)`` plays, for each
    config and episode seed ``s``: an evaluation starts on its other cells meanwhile (its envs
    wait for a game still being made). ``options`` go to ``generate_games``."""
    seeds = task_seeds(episode_seeds)
    tasks = [(config, seed) for config in dict.fromkeys(configs) for seed in seeds]
    thread = threading.Thread(target=generate_games, args=(tasks,), kwargs=options, daemon=True)
    thread.start()
    return thread


def _give_work(process: subprocess.Popen[str], queue: list, busy: dict) -> None:
    """Send ``process`` the next task of ``queue`` (recorded in ``busy``), or tell it to stop."""
    if not queue:
        _pipe(process.stdin).close()
        return
    config, seed = busy[process] = queue.pop()
    try:
        _pipe(process.stdin).write(json.dumps({"knobs": config.as_dict(), "seed": seed}) + "\n")
        _pipe(process.stdin).flush()
    except BrokenPipeError:  # it died: the task goes back for another worker, its end is read as EOF
        queue.append(busy.pop(process))


def _pipe(stream: IO[str] | None) -> IO[str]:
    """A worker's stdin or stdout (made with ``subprocess.PIPE``, so never None)."""
    if stream is None:
        raise RuntimeError("a generating process was started without its pipes")
    return stream


def _serve(cache_dir: str, time_limit: float) -> None:
    """A worker of ``generate_games``: one game per line of stdin (knobs and seed, JSON), one line
    of stdout back for each (``{"error": None}`` or why it could not be made)."""
    for line in sys.stdin:
        request = json.loads(line)
        config = TextWorldConfig(**request["knobs"])
        try:
            generate_task(request["seed"], config, cache_dir=cache_dir, time_limit=time_limit)
            error = None
        except Exception as failure:  # reported to the caller; the env tries again when it plays the game
            error = f"{type(failure).__name__}: {failure}"
        print(json.dumps({"error": error}), flush=True)


def _derived_seed(seed: int, attempt: int) -> int:
    if attempt == 0:
        return seed
    digest = hashlib.sha256(f"textworld-retry/{seed}/{attempt}".encode()).digest()
    return int.from_bytes(digest[:4], "big") % (2**31 - 1)


def _generate_into(folder: Path, seed: int, config: TextWorldConfig, time_limit: float) -> None:
    """Generate, compile and check a game in a scratch folder, then move it into place atomically."""
    from textworld.generator.chaining import QuestGenerationError

    failures = []
    for attempt in range(GENERATION_ATTEMPTS):
        game_seed = _derived_seed(seed, attempt)
        scratch = Path(tempfile.mkdtemp(prefix=".tmp-", dir=folder.parent))
        try:
            meta = _build_game(scratch, game_seed, config, time_limit)
            (scratch / "meta.json").write_text(json.dumps(meta, sort_keys=True))
            try:
                scratch.rename(folder)
            except OSError:  # another process put the same game there first
                if not (folder / "meta.json").is_file():
                    raise
            return
        except (QuestGenerationError, _GenerationTimeout, _UnwinnableGame) as error:
            failures.append(f"seed {game_seed}: {type(error).__name__}: {error}")
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    raise RuntimeError(
        f"TextWorld could not generate a game for seed {seed} with {config} in {GENERATION_ATTEMPTS} attempts: "
        + "; ".join(failures)
    )


class _GenerationTimeout(Exception):
    pass


class _UnwinnableGame(Exception):
    pass


class _time_limit:
    """Raise ``_GenerationTimeout`` after ``seconds`` (a SIGALRM timer; only in the main thread)."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.active = threading.current_thread() is threading.main_thread() and hasattr(signal, "setitimer")
        self.expired = False

    def __enter__(self):
        if self.active:
            self.previous = signal.signal(signal.SIGALRM, self._expire)
            self.previous_timer = signal.setitimer(signal.ITIMER_REAL, self.seconds)
            self.started = time.monotonic()

    def __exit__(self, kind, error, traceback):
        if self.active:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, self.previous)
            delay, interval = self.previous_timer
            if delay > 0:  # give back a timer someone else had set, minus the time spent here
                signal.setitimer(signal.ITIMER_REAL, max(1e-3, delay - (time.monotonic() - self.started)), interval)
        if self.expired and error is not None and not isinstance(error, _GenerationTimeout):
            # the generator's parser wraps exceptions raised inside it; the cause is still the timer
            raise _GenerationTimeout(f"generation took more than {self.seconds:g} s") from error

    def _expire(self, signum, frame):
        self.expired = True
        raise _GenerationTimeout(f"generation took more than {self.seconds:g} s")


def _build_game(scratch: Path, game_seed: int, config: TextWorldConfig, time_limit: float) -> dict[str, Any]:
    import textworld.challenges
    import textworld.generator
    from textworld import GameOptions

    options = GameOptions()
    options.seeds = game_seed
    options.path = str(scratch / "game.z8")
    options.force_recompile = True
    settings = config.settings()
    with warnings.catch_warnings(), _time_limit(time_limit), _logic_read_once():
        warnings.simplefilter("ignore")
        if config.challenge == "custom":
            options.nb_rooms = settings["rooms"]
            options.nb_objects = settings["objects"]
            options.quest_length = settings["quest_length"]
            game = textworld.generator.make_game(options)
        else:
            if config.challenge == "cooking":
                settings = {**settings, "recipe_seed": game_seed}
            make = textworld.challenges.CHALLENGES[f"tw-{config.challenge}"][1]
            game = make(settings, options)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        textworld.generator.compile_game(game, options)
    for leftover in scratch.glob("*.ni"):
        leftover.unlink()
    walkthrough = _playable_walkthrough(str(scratch / "game.z8"), game.metadata.get("walkthrough") or game.walkthrough)
    names = {info.name.lower() for info in game.infos.values() if info.name}
    return {
        "game_seed": game_seed,
        "walkthrough": walkthrough,
        "max_score": int(game.max_score),
        "objective": game.objective,
        "entities": sorted(names),
        "settings": settings,
    }


@contextlib.contextmanager
def _logic_read_once():
    """While a game is made here, textworld's parser of logic files (``.twl``) reads each file once:
    its challenges load their knowledge base again for every game they make, and parsing it was
    a third of making a cooking game. The parse is a pure function of the text (the games made are
    byte for byte the same, tests/test_textworld.py); without that parser, nothing changes."""
    import textworld.logic

    parser = getattr(textworld.logic, "_PARSER", None)
    if parser is None or "parse" in vars(parser):  # another textworld, or a game made around this one
        yield
        return

    def parse(document: str, filename: str | None = None, **options: Any):
        if options:
            return type(parser).parse(parser, document, filename=filename, **options)
        return _parsed_logic(parser, document, filename)

    parser.parse = parse
    try:
        yield
    finally:
        del parser.parse


@functools.lru_cache(maxsize=32)
def _parsed_logic(parser: Any, document: str, filename: str | None) -> Any:
    return type(parser).parse(parser, document, filename=filename)


def _playable_walkthrough(path: str, walkthrough: list[str] | None) -> list[str]:
    """Play the game's walkthrough and return the commands that win it, each admissible in turn.

    Commands the engine would refuse are left out (tw-cooking's walkthroughs with a limited
    inventory re-open doors that are open); a walkthrough that does not win is an error.
    """
    engine = _start_engine(path)
    try:
        state, played = engine.reset(), []
        for command in walkthrough or ():
            if state["won"] or state["lost"]:
                break
            if command in state["admissible_commands"]:
                state, _, _ = engine.step(command)
                played.append(command)
        if not state["won"]:
            raise _UnwinnableGame(f"the walkthrough {walkthrough} does not win")
        return played
    finally:
        engine.close()


def _start_engine(path: str) -> Environment:
    import textworld
    from textworld import EnvInfos

    infos = EnvInfos(admissible_commands=True, score=True, max_score=True, won=True, lost=True, moves=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return textworld.start(path, request_infos=infos)


# ----- commands: the grammar of TextWorld's verbs, and sanitizing -----------------------------


def _spec(verb: str, template: str, description: str, **args: str) -> CommandSpec:
    return CommandSpec(verb, template, tuple(Arg(name, "name", doc) for name, doc in args.items()), description)


GRAMMAR = Grammar(
    [
        _spec("look", "look", "describe the room you are in"),
        _spec("inventory", "inventory", "list what you carry"),
        _spec("go", "go {direction}", "walk through an exit", direction="north, south, east or west"),
        _spec("examine", "examine {thing}", "look closely at something", thing="something here or carried"),
        _spec(
            "take_from",
            "take {item} from {source}",
            "take something out of a container or off a supporter",
            item="the thing to take",
            source="the container or supporter holding it",
        ),
        _spec("take", "take {item}", "pick something up", item="the thing to take"),
        _spec("drop", "drop {item}", "put down something you carry", item="a thing you carry"),
        _spec(
            "put",
            "put {item} on {supporter}",
            "put something you carry on a supporter",
            item="a thing you carry",
            supporter="a table, shelf, counter...",
        ),
        _spec(
            "insert",
            "insert {item} into {container}",
            "put something you carry into a container",
            item="a thing you carry",
            container="an open container",
        ),
        _spec("open", "open {thing}", "open a door or container", thing="a door or container"),
        _spec("close", "close {thing}", "close a door or container", thing="a door or container"),
        _spec(
            "unlock",
            "unlock {thing} with {key}",
            "unlock a door or container",
            thing="a door or container",
            key="a key you carry",
        ),
        _spec(
            "lock",
            "lock {thing} with {key}",
            "lock a door or container",
            thing="a door or container",
            key="a key you carry",
        ),
        _spec("eat", "eat {food}", "eat something you carry", food="a food you carry"),
        _spec("drink", "drink {food}", "drink something you carry", food="a drink you carry"),
        _spec(
            "cook",
            "cook {food} with {appliance}",
            "cook food on a heat source",
            food="a food you carry",
            appliance="a stove, oven or toaster",
        ),
        _spec("slice", "slice {food} with {tool}", "slice food", food="a food you carry", tool="a sharp tool"),
        _spec("dice", "dice {food} with {tool}", "dice food", food="a food you carry", tool="a sharp tool"),
        _spec("chop", "chop {food} with {tool}", "chop food", food="a food you carry", tool="a sharp tool"),
        _spec("prepare_meal", "prepare meal", "prepare the meal once every ingredient is ready"),
    ]
)
_CONTROL = re.compile(r"[\x00-\x1f\x7f\\]")


def sanitize(text: Any) -> str | ParseError:
    """Text safe for the interpreter, or why it is not: one line, no backslash escapes, short."""
    if not isinstance(text, str):
        return ParseError(f"Expected a text command, got {type(text).__name__}.")
    text = text.strip()
    if "\\" in text:
        return ParseError("Backslashes are not allowed in commands.")
    if _CONTROL.search(text):
        return ParseError("Write exactly one command, on one line.")
    if len(text.encode("utf-8")) > MAX_COMMAND_LENGTH:
        return ParseError(f"Commands are at most {MAX_COMMAND_LENGTH} characters long.")
    return text


_BANNER_LINE = re.compile(r"[ _|\\$/<>()]*")
_PROMPT_TAIL = re.compile(r"\n>[^\n]*\s*$")
_END_QUESTION = re.compile(r"\n*Would you like to RESTART, RESTORE a saved game, QUIT or UNDO the last command\?")
_BLANK_LINES = re.compile(r"\n\s*\n(\s*\n)+")


def clean_feedback(text: str) -> str:
    """The engine's text without the ASCII-art banner, the prompt and status line, and the
    end-of-game question about commands an agent does not have."""
    lines = text.split("\n")
    while lines and _BANNER_LINE.fullmatch(lines[0]):
        lines.pop(0)
    text = _PROMPT_TAIL.sub("", "\n".join(lines))
    text = _END_QUESTION.sub("", text)
    return _BLANK_LINES.sub("\n\n", text).strip()


# ----- the quest logic: the exact optimum and the oracle's plans ------------------------------

Node = tuple[frozenset[int], frozenset[int]]  # the world's facts (as ints) and the quests completed so far


def native_text(engine_command: str) -> str | None:
    """An engine command in the grammar's canonical text; None where the grammar cannot read it."""
    parsed = GRAMMAR.parse(engine_command)
    return GRAMMAR.render(parsed) if isinstance(parsed, Command) else None


# Inform7's kinds of value behind tw-cooking's facts; a food with no fact of a kind has its first value.
RECIPE_KINDS = (("raw", "grilled", "roasted", "fried"), ("uncut", "sliced", "diced", "chopped"))


class _Action(NamedTuple):
    pre: frozenset[int]  # when the engine admits its command
    gate: frozenset[int] | None  # when it takes effect (None: never); ``pre`` but for ``prepare meal``
    forbidden: frozenset[int]  # facts that stop it taking effect (``prepare meal`` only)
    added: frozenset[int]
    removed: frozenset[int]
    arity: int  # how many preconditions: of two actions one command names, the engine applies the larger
    command: str  # the engine's text
    text: str | None  # the env's text (None: the grammar cannot read it, so the env does not admit it)


def _recipe_checks(facts) -> dict[Any, tuple[list[Any], list[Any]]]:
    """tw-cooking's recipe, as ``prepare meal`` checks it in Inform7 beyond the logic's
    ``make/recipe/k`` rules: each ingredient's food, with the facts its cooking and cutting need
    and those they forbid (a raw food is one neither grilled, roasted nor fried)."""
    from textworld.logic import Proposition

    facts = list(facts)
    base = {fact.arguments[1]: fact.arguments[0] for fact in facts if fact.name == "base"}
    ingredients = [fact.arguments[0] for fact in facts if fact.name == "in" and fact.arguments[1].type == "RECIPE"]
    checks = {}
    for ingredient in ingredients:
        food, needed, forbidden = base[ingredient], [], []
        for kind in RECIPE_KINDS:
            wanted = next((f.name for f in facts if f.name in kind and f.arguments[0] == ingredient), kind[0])
            if wanted == kind[0]:
                forbidden += [Proposition(name, [food]) for name in kind[1:]]
            else:
                needed.append(Proposition(wanted, [food]))
        checks[food] = (needed, forbidden)
    return checks


class QuestLogic:
    """A game's quest logic (``textworld.logic``) as a search problem whose moves are the env's actions.

    It mirrors the engine: the admissible commands are those of the logic's applicable actions
    (``StateTracking``); of several actions one command names, the engine applies the one with the
    most preconditions (``Inform7Game.detect_action``); tw-cooking's ``prepare meal`` takes effect
    only with the whole recipe carried, cooked and cut as it says (its Inform7 code), and is a no-op
    otherwise; after each command, in quest order, a quest not yet completed is lost if one of its
    fail conditions holds, else completed if one of its win conditions does; the game is won once
    every required quest is completed (the Inform7 source that TextWorld compiles).

    ``plan`` is A* with the h_max heuristic of the delete relaxation (consistent, so the first win
    found is a shortest one), over the relevant actions only: an action that adds no fact that a
    win condition or a relevant action needs, and deletes no fact of a fail condition, can be cut
    out of any plan without breaking it, making it longer or losing, so leaving such actions out
    (taking a distractor, eating, looking) keeps the optimum (the same holds for the facts that
    block ``prepare meal``).
    """

    def __init__(self, game):
        self.game = game
        self._index: dict[Any, int] = {}
        self._win = [[self.encode(e.condition.preconditions) for e in quest.win_events] for quest in game.quests]
        self._fail = [[self.encode(e.condition.preconditions) for e in quest.fail_events] for quest in game.quests]
        self._repeatable = [quest.repeatable for quest in game.quests]
        self._required = frozenset(i for i, quest in enumerate(game.quests) if not quest.optional and quest.win_events)
        self._actions: list[_Action] | None = None

    def encode(self, facts) -> frozenset[int]:
        index = self._index
        return frozenset(index[fact] if fact in index else index.setdefault(fact, len(index)) for fact in facts)

    def start(self) -> Node:
        return self.encode(self.game.world.state.facts), frozenset()

    def advance(self, node: Node, facts) -> Node:
        """The node after a command that left the world with ``facts`` (the engine's own)."""
        encoded = self.encode(facts)
        return encoded, self._judge(encoded, node[1])[1]

    def _judge(self, facts: frozenset[int], completed: frozenset[int]) -> tuple[str, frozenset[int]]:
        """The outcome after a command, and the quests completed then, as the compiled game rules."""
        done = set(completed)
        for quest, (wins, fails) in enumerate(zip(self._win, self._fail)):
            if quest in done:
                continue
            if any(condition <= facts for condition in fails):
                return "failure", completed
            if not self._repeatable[quest] and any(condition <= facts for condition in wins):
                done.add(quest)
        return ("success" if self._required and self._required <= done else "running"), frozenset(done)

    def _grounded(self) -> list[_Action]:
        """The actions, grounded on first use."""
        return self._ground() if self._actions is None else self._actions

    def _ground(self) -> list[_Action]:
        """Every action applicable in some reachable state (those of the delete relaxation's
        fixpoint), with its command, and which of them are relevant to the quests."""
        from textworld.generator.inform7 import Inform7Game
        from textworld.logic import State

        kb = self.game.kb
        rules, constants = list(kb.rules.values()), kb.types.constants_mapping
        facts = set(self.game.world.state.facts)
        found: dict[Any, None] = {}  # the logic's actions, in the order found
        while True:
            for action in State(kb.logic, facts).all_applicable_actions(rules, constants):
                found.setdefault(action, None)
            added = {fact for action in found for fact in action.postconditions} - facts
            if not added:
                break
            facts |= added
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            commands = Inform7Game(self.game).gen_commands_from_actions(list(found))
        recipe = _recipe_checks(self.game.world.state.facts)
        actions: list[_Action] = []
        self._actions = actions
        for action, command in zip(found, commands):
            pre = self.encode(action.preconditions)
            gate: frozenset[int] | None = pre
            forbidden: frozenset[int] = frozenset()
            if action.name.startswith("make/recipe/"):
                foods = {var for var in action.variables if var in recipe}
                gate = (
                    pre | self.encode(f for food in foods for f in recipe[food][0])
                    if len(foods) == len(recipe)
                    else None
                )
                forbidden = self.encode(f for food in foods for f in recipe[food][1])
            actions.append(
                _Action(
                    pre,
                    gate,
                    forbidden,
                    self.encode(action.added),
                    self.encode(action.removed),
                    len(action.preconditions),
                    command,
                    native_text(command),
                )
            )
        needed = {fact for wins in self._win for condition in wins for fact in condition}
        # deleting a fact of a fail condition, or one that blocks ``prepare meal``, is never cut out
        failing = {fact for fails in self._fail for condition in fails for fact in condition}
        failing.update(fact for action in actions for fact in action.forbidden)
        self._relevant = [False] * len(actions)
        grown = True
        while grown:
            grown = False
            for i, action in enumerate(actions):
                if (
                    not self._relevant[i]
                    and action.gate is not None
                    and (action.added & needed or action.removed & failing)
                ):
                    self._relevant[i] = grown = True
                    needed |= action.gate
        self._needs: dict[int, list[int]] = {}
        for i, action in enumerate(actions):
            if self._relevant[i] and action.gate is not None:  # a relevant action has a gate
                for fact in action.gate:
                    self._needs.setdefault(fact, []).append(i)
        return actions

    def moves(self, node: Node, relevant_only: bool = False) -> list[tuple[str, Node, str]]:
        """(action text, next node, outcome) for each action the env admits at ``node``; with
        ``relevant_only``, only those that take effect and matter to the quests."""
        actions = self._grounded()
        facts, completed = node
        chosen: dict[str, _Action] = {}
        relevant: dict[str, bool] = {}
        for i, action in enumerate(actions):
            if action.text is not None and action.pre <= facts:
                best = chosen.get(action.text)
                # the env keeps the last engine command with this text; the engine, the action with most preconditions
                if best is None or (action.command, action.arity) > (best.command, best.arity):
                    chosen[action.text], relevant[action.text] = action, self._relevant[i]
        result = []
        for text, action in chosen.items():
            effective = action.gate is not None and action.gate <= facts and not action.forbidden & facts
            if relevant_only and not (effective and relevant[text]):
                continue
            after = (facts - action.removed) | action.added if effective else facts
            outcome, done = self._judge(after, completed)
            result.append((text, (after, done), outcome))
        return result

    def _estimate(self, node: Node) -> int | None:
        """h_max: layers of relevant actions, deletions ignored, until every required quest can be
        completed (at least 1 while one is not); None where that never happens."""
        facts, completed = node
        todo = [quest for quest in self._required if quest not in completed]
        if not todo:
            return 0
        reached = set(facts)
        actions = self._grounded()
        missing = {
            i: len(action.gate - facts)
            for i, action in enumerate(actions)
            if self._relevant[i] and action.gate is not None  # a relevant action has a gate
        }
        ready = [i for i, count in missing.items() if count == 0]
        layer = 0
        while True:
            todo = [quest for quest in todo if not any(condition <= reached for condition in self._win[quest])]
            if not todo:
                return max(1, layer)
            new = {fact for i in ready for fact in actions[i].added} - reached
            if not new:
                return None
            layer += 1
            reached |= new
            ready = []
            for fact in new:
                for i in self._needs.get(fact, ()):
                    missing[i] -= 1
                    if missing[i] == 0:
                        ready.append(i)

    def plan(self, node: Node, limit: int = SEARCH_LIMIT) -> tuple[list[tuple[str, Node]], bool]:
        """A shortest win from ``node`` as (action text, node after) pairs, and True; past ``limit``
        expansions, greedy best-first search's win (not proved shortest) and False. An empty plan
        where the game cannot be won from ``node``."""
        self._grounded()
        path, finished = self._search(node, limit, greedy=False)
        if finished:
            return path or [], True
        return self._search(node, limit, greedy=True)[0] or [], False

    def _search(self, start: Node, limit: int, greedy: bool) -> tuple[list[tuple[str, Node]] | None, bool]:
        """A* (greedy: best-first on the estimate alone): the winning path, and whether the search
        finished within ``limit`` expansions (a None path then means no win exists)."""
        estimate = self._estimate(start)
        if estimate is None:
            return None, True
        order = itertools.count()
        frontier = [(estimate, 0, next(order), start)]
        cost, parent = {start: 0}, {}
        for _ in range(limit):
            if not frontier:
                return None, True
            _, steps, _, node = heapq.heappop(frontier)
            if cost[node] != steps:
                continue
            for text, after, outcome in self.moves(node, relevant_only=True):
                if outcome == "failure" or cost.get(after, steps + 2) <= steps + 1:
                    continue
                cost[after], parent[after] = steps + 1, (node, text)
                if outcome == "success":
                    path = []
                    while after != start:
                        before, text = parent[after]
                        path.append((text, after))
                        after = before
                    return path[::-1], True
                estimate = self._estimate(after)
                if estimate is not None:
                    heapq.heappush(
                        frontier, (estimate if greedy else steps + 1 + estimate, steps + 1, next(order), after)
                    )
        return None, False


def _search_optimum(folder: Path, walkthrough: list[str]) -> dict[str, Any]:
    """The shortest win from reset, by search over the game's quest logic; where the search hits
    ``SEARCH_LIMIT``, the shorter of its greedy plan and the walkthrough, marked not exact."""
    from textworld.generator.game import Game

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        logic = QuestLogic(Game.load(str(folder / "game.json")))
    path, exact = logic.plan(logic.start())
    plan = [text for text, _ in path]
    if not exact or not plan:  # a search that proves no win the walkthrough has would be a bug: keep the walkthrough
        known = [native_text(command) or command for command in walkthrough]
        plan, exact = (plan if plan and len(plan) < len(known) else known), False
    return {"format": SEARCH_FORMAT, "plan": plan, "exact": exact}


# ----- the environment -----------------------------------------------------------------------


class TextWorldEnv(TextEnv[TextWorldConfig, TextWorldTask]):
    """A TextWorld game: explore, take and use things to reach the quest's goal.

    Args:
        cache_dir: where compiled games are kept (default: ``default_cache_dir()``).
        time_limit: seconds one generation attempt may take before it is retried with a derived seed.

    Example:
        >>> import gymnasium as gym, llm_gym
        >>> env = gym.make("llm_gym/TextWorld-v0", difficulty="easy")  # doctest: +SKIP
        >>> observation, info = env.reset(seed=0)  # doctest: +SKIP
    """

    metadata = {"render_modes": ["ansi", "human"], "render_fps": 1}
    family = "TextWorld"
    config_class = TextWorldConfig
    presets = PRESETS
    themes = THEMES
    grammar = GRAMMAR
    rules = (
        "You are playing a TextWorld text adventure. Read the objective in the opening text and carry it "
        "out. Only commands that make sense right now are accepted; the score counts the quest's steps done."
    )

    def __init__(
        self,
        difficulty: Any = None,
        theme: str | None = None,
        max_turns: int | None = None,
        render_mode: str | None = None,
        cache_dir: str | os.PathLike | None = None,
        time_limit: float = DEFAULT_TIME_LIMIT,
    ):
        _require_textworld()
        super().__init__(difficulty=difficulty, theme=theme, max_turns=max_turns, render_mode=render_mode)
        if isinstance(time_limit, bool) or not isinstance(time_limit, (int, float)) or time_limit <= 0:
            raise ValueError(f"time_limit must be a positive number of seconds, got {time_limit!r}")
        self.cache_dir = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
        self.time_limit = float(time_limit)
        self._engine: Environment | None = None
        self._engine_path: str | None = None
        self._logic: QuestLogic | None = None
        self._logic_path: str | None = None

    @classmethod
    def generate_task(cls, seed: int, config: TextWorldConfig, theme: str) -> TextWorldTask:
        return generate_task(seed, config, theme)

    def _new_task(self, seed: int) -> TextWorldTask:
        """This instance generates into its own cache dir; the classmethod stays usable on the class."""
        return generate_task(seed, self.config, self.theme, cache_dir=self.cache_dir, time_limit=self.time_limit)

    @classmethod
    def default_max_turns(cls, config: TextWorldConfig) -> int:
        if config.challenge == "coin_collector":
            return 10 + 5 * ((config.level - 1) % 100 + 1)
        if config.challenge == "custom":
            return 20 + 5 * config.quest_length
        if config.challenge == "treasure_hunter":
            return 50 if config.level <= 20 else 150
        return 100

    # ----- dynamics ---------------------------------------------------------------------------

    def _start(self, task: TextWorldTask) -> str:
        if self._engine_path != task.path:
            # A fresh engine per game: jericho's in-place ``load`` leaks about 0.4 MiB per call.
            self._release()
            self._engine = _start_engine(task.path)
            self._engine_path = task.path
            self._parsed: dict[str, tuple[str, Command] | None] = {}
        state = self._live_engine().reset()
        if self._logic_path != task.path:
            self._logic = QuestLogic(state["_game_progression"].game)
            self._logic_path = task.path
            self._plans: dict[Node, tuple[str, ...]] = {}  # node -> a winning plan from it, for this game
        self._node = self._live_logic().start()
        self._plans.setdefault(self._node, task.plan)
        self._points = 0
        self._history: list[str] = []  # the action texts the engine was sent: a copy replays them
        self._absorb(state)
        return clean_feedback(state["feedback"])

    def _absorb(self, state) -> None:
        """Keep what the next view and admissible list need from the engine's state."""
        self._state = state
        commands = {}
        for text in state["admissible_commands"]:
            entry = self._parsed.get(text)
            if entry is None:
                command = self.grammar.parse(text)
                entry = self._parsed[text] = (
                    (self.grammar.render(command), command) if isinstance(command, Command) else None
                )
            if entry is not None:
                commands[entry[0]] = (entry[1], text)
        self._commands = commands  # native text -> (command, the engine's own text)

    def parse_action(self, text: Any) -> Command | ParseError:
        safe = sanitize(text)
        if isinstance(safe, ParseError):
            return safe
        admissible = self._commands.get(" ".join(safe.lower().split())) if self._task is not None else None
        return admissible[0] if admissible else self.grammar.parse(safe)  # the lookup is parse's shortcut

    def _transition(self, command: Command) -> Transition:
        rendered = self.grammar.render(command)
        entry = self._commands.get(rendered)
        if entry is None:
            return Transition(f'You can\'t "{rendered}" right now.', status="illegal")
        state, _, _ = self._live_engine().step(entry[1])
        self._history.append(rendered)
        before, self._node = self._node, self._live_logic().advance(self._node, state["_game_progression"].state.facts)
        plan = self._plans.get(before)
        if plan and plan[0] == rendered:  # on plan: the rest of it wins from here
            self._plans.setdefault(self._node, plan[1:])
        self._absorb(state)
        points = self._points if state["score"] is None else int(state["score"])
        reward = (points - self._points) / max(1, self.task.max_score)
        self._points = points
        score = min(1.0, points / max(1, self.task.max_score))
        feedback = clean_feedback(state["feedback"])
        if state["won"]:
            return Transition(feedback, reward=reward, outcome="success", score=score)
        if state["lost"]:
            return Transition(feedback, reward=reward, outcome="failure", score=score)
        return Transition(feedback, reward=reward, score=score)

    # ----- what the agent perceives -----------------------------------------------------------

    def _view(self) -> dict[str, Any]:
        return {
            "feedback": self._feedback,
            "location": self._location(),
            "points": self._points,
            "max_points": self.task.max_score,
            "objective": self.task.objective,
        }

    def _location(self) -> str | None:
        progression = self._state["_game_progression"]
        for fact in progression.state.facts:
            if fact.name == "at" and fact.arguments[0].name == "P":
                info = progression.game.infos.get(fact.arguments[1].name)
                return info.name.lower() if info and info.name else fact.arguments[1].name
        return None

    def render_view(self, view: dict[str, Any], first: bool) -> str:
        return view["feedback"]

    def _admissible(self) -> list[Command]:
        return [command for command, _ in self._commands.values()]

    def _admissible_texts(self) -> list[str]:
        return list(self._commands)

    # ----- the oracle, search keys and copies -------------------------------------------------

    def _oracle(self) -> Command:
        """The next step of a shortest win from the current node: the plan kept for it, else a new
        search (only off plan). Where the game cannot be won any more, ``look``."""
        plan = self._plans.get(self._node)
        if plan is None:
            path, _ = self._live_logic().plan(self._node)
            texts = [text for text, _ in path]
            plan = self._plans[self._node] = tuple(texts)
            for index, (_, node) in enumerate(path):
                self._plans.setdefault(node, tuple(texts[index + 1 :]))
        command = self.grammar.parse(plan[0]) if plan else None
        return command if isinstance(command, Command) else Command("look")

    def state_key(self) -> str:
        """The game's facts, the quests completed and the outcome: what decides the future."""
        facts = sorted(map(str, self._state["_game_progression"].state.facts))
        key = json.dumps([self.task_id, facts, sorted(self._node[1]), self.outcome])
        return hashlib.sha256(key.encode()).hexdigest()

    _ENGINE_BOUND = ("_engine", "_engine_path", "_state", "_logic", "_logic_path", "_node", "_plans", "_parsed")

    def __getstate__(self) -> dict[str, Any]:
        """Everything but the engine (ctypes) and what hangs on it; ``__setstate__`` replays the episode."""
        return {key: value for key, value in self.__dict__.items() if key not in self._ENGINE_BOUND}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._engine = self._engine_path = self._logic = self._logic_path = None
        if self._task is not None:
            self._resume()

    def __deepcopy__(self, memo: dict[int, Any]) -> TextWorldEnv:
        """As pickling, but the copy shares this game's quest logic and keeps its plans."""
        clone = object.__new__(type(self))
        memo[id(self)] = clone
        clone.__dict__.update(copy.deepcopy(self.__getstate__(), memo))
        clone._engine = clone._engine_path = None
        clone._logic, clone._logic_path = self._logic, self._logic_path
        if self._logic is not None:
            clone._plans = dict(self._plans)
        if clone._task is not None:
            clone._resume()
        return clone

    def _resume(self) -> None:
        """Start an engine on the task's game and send it the episode's actions again."""
        history = self._history
        self._start(self.task)
        for text in history:
            self._transition(self._commands[text][0])

    def _live_engine(self) -> Environment:
        if self._engine is None:
            raise ResetNeeded("The TextWorld engine is not running (the env was closed); call reset().")
        return self._engine

    def _live_logic(self) -> QuestLogic:
        if self._logic is None:
            raise ResetNeeded("No game is loaded; call reset().")
        return self._logic

    def _release(self) -> None:
        engine, self._engine, self._engine_path = self._engine, None, None
        if engine is not None:
            engine.close()

    def close(self) -> None:
        self._release()
        super().close()


register_family(TextWorldEnv)
