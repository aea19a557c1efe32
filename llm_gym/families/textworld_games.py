"""TextWorld: text adventures generated and played by Microsoft's ``textworld`` engine.

Read top to bottom: difficulty knobs and presets (over TextWorld's built-in challenges and its
custom quest generator), the game cache and generator (games are compiled once into a cache
directory keyed by settings and seed), the command grammar and action sanitizing, and the
environment, a thin adapter over the engine.

``textworld`` is an optional extra (``pip install "llm-gym[textworld]"``) and is imported only
when a game is generated or played, so ``import llm_gym`` and ``describe()`` work without it.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
import re
import shutil
import signal
import tempfile
import threading
import time
import warnings
from pathlib import Path
from typing import Any

from llm_gym.core import TextEnv, Transition
from llm_gym.difficulty import Config, knob
from llm_gym.grammar import Arg, Command, CommandSpec, Grammar, ParseError
from llm_gym.registry import register_family

CHALLENGES = ("coin_collector", "treasure_hunter", "cooking", "simple", "custom")
CACHE_ENV_VAR = "LLM_GYM_TEXTWORLD_CACHE"
DEFAULT_TIME_LIMIT = 120.0
GENERATION_ATTEMPTS = 5
MAX_COMMAND_LENGTH = 190  # the interpreter keeps 198 bytes of input; longer input is cut silently
CACHE_FORMAT = 1
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
    "easy": TextWorldConfig(challenge="coin_collector", level=3),
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
    the cache records the seed used, so every process sharing the cache plays the same game.
    """
    if theme not in THEMES:
        raise ValueError(f"Unknown theme {theme!r} for TextWorld; allowed: {list(THEMES)}")
    _require_textworld()
    root = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    folder = root / game_key(seed, config)
    meta_path = folder / "meta.json"
    if not meta_path.is_file():
        root.mkdir(parents=True, exist_ok=True)
        _generate_into(folder, seed, config, time_limit)
    meta = json.loads(meta_path.read_text())
    return TextWorldTask(
        seed=seed,
        game_seed=meta["game_seed"],
        path=str(folder / "game.z8"),
        walkthrough=tuple(meta["walkthrough"]),
        max_score=meta["max_score"],
        objective=meta["objective"],
        optimal_steps=len(meta["walkthrough"]),
        entities=tuple(meta["entities"]),
    )


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
    with warnings.catch_warnings(), _time_limit(time_limit):
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


def _start_engine(path: str):
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
        _spec("take_from", "take {item} from {source}", "take something out of a container or off a supporter",
              item="the thing to take", source="the container or supporter holding it"),
        _spec("take", "take {item}", "pick something up", item="the thing to take"),
        _spec("drop", "drop {item}", "put down something you carry", item="a thing you carry"),
        _spec("put", "put {item} on {supporter}", "put something you carry on a supporter",
              item="a thing you carry", supporter="a table, shelf, counter..."),
        _spec("insert", "insert {item} into {container}", "put something you carry into a container",
              item="a thing you carry", container="an open container"),
        _spec("open", "open {thing}", "open a door or container", thing="a door or container"),
        _spec("close", "close {thing}", "close a door or container", thing="a door or container"),
        _spec("unlock", "unlock {thing} with {key}", "unlock a door or container", thing="a door or container",
              key="a key you carry"),
        _spec("lock", "lock {thing} with {key}", "lock a door or container", thing="a door or container",
              key="a key you carry"),
        _spec("eat", "eat {food}", "eat something you carry", food="a food you carry"),
        _spec("drink", "drink {food}", "drink something you carry", food="a drink you carry"),
        _spec("cook", "cook {food} with {appliance}", "cook food on a heat source", food="a food you carry",
              appliance="a stove, oven or toaster"),
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


# ----- the environment -----------------------------------------------------------------------


class TextWorldEnv(TextEnv):
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
        self._engine = None
        self._engine_path: str | None = None
        # This instance generates into its own cache dir; the classmethod stays usable on the class.
        self.generate_task = functools.partial(generate_task, cache_dir=self.cache_dir, time_limit=self.time_limit)

    @classmethod
    def generate_task(cls, seed: int, config: TextWorldConfig, theme: str) -> TextWorldTask:
        return generate_task(seed, config, theme)

    @classmethod
    def default_max_turns(cls, config: TextWorldConfig) -> int:
        if config.challenge == "coin_collector":
            return 10 + 5 * ((config.level - 1) % 100 + 1)
        if config.challenge == "custom":
            return 20 + 5 * config.quest_length
        if config.challenge == "treasure_hunter" and config.level > 20:
            return 150
        return 100

    # ----- dynamics ---------------------------------------------------------------------------

    def _start(self, task: TextWorldTask) -> str:
        if self._engine_path != task.path:
            # A fresh engine per game: jericho's in-place ``load`` leaks about 0.4 MiB per call.
            self._release()
            self._engine = _start_engine(task.path)
            self._engine_path = task.path
            self._parsed: dict[str, tuple[str, Command] | None] = {}
        state = self._engine.reset()
        self._points = 0
        self._plan = [self._text(command) for command in task.walkthrough]
        self._plan_index = 0
        self._plan_valid = True
        self._history: list[Any] = []
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
                entry = self._parsed[text] = (self.grammar.render(command), command) if isinstance(command, Command) else None
            if entry is not None:
                commands[entry[0]] = (entry[1], text)
        self._commands = commands  # native text -> (command, the engine's own text)

    def parse_action(self, text: Any) -> Command | ParseError:
        safe = sanitize(text)
        if isinstance(safe, ParseError):
            return safe
        admissible = self._commands.get(" ".join(safe.lower().split())) if self.task is not None else None
        return admissible[0] if admissible else self.grammar.parse(safe)  # the lookup is parse's shortcut

    def _transition(self, command: Command) -> Transition:
        rendered = self.grammar.render(command)
        entry = self._commands.get(rendered)
        if entry is None:
            return Transition(f'You can\'t "{rendered}" right now.', status="illegal")
        moves = self._state["moves"]
        state, _, _ = self._engine.step(entry[1])
        self._follow_plan(rendered, state, moves)
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

    def _follow_plan(self, rendered: str, state, moves_before: int) -> None:
        """Advance the oracle's plan, or mark it stale when the agent changed the world off plan."""
        action = state["_last_action"] if state["moves"] != moves_before else None
        if action is not None:
            self._history.append(action)
        if self._plan_valid and self._plan_index < len(self._plan) and rendered == self._plan[self._plan_index]:
            self._plan_index += 1
        elif action is not None and (action.added or action.removed):
            self._plan_valid = False

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

    # ----- the oracle -------------------------------------------------------------------------

    def _oracle(self) -> Command:
        if not self._plan_valid:
            self._replan()
        if self._plan_index < len(self._plan):
            command = self.grammar.parse(self._plan[self._plan_index])
            if isinstance(command, Command):
                return command
        return Command("look")

    def _text(self, engine_command: str) -> str:
        """An engine command in this grammar's canonical form."""
        parsed = self.grammar.parse(engine_command)
        return self.grammar.render(parsed) if isinstance(parsed, Command) else engine_command

    def _replan(self) -> None:
        """TextWorld's own quest tracking, replayed over this episode's actions, gives a new plan.

        Where the quest can no longer be won (an irreversible action, such as eating a needed
        ingredient), there is no plan and the oracle answers ``look``.
        """
        from textworld.generator.game import GameProgression
        from textworld.generator.inform7 import Inform7Game

        game = self._state["_game_progression"].game
        progression = GameProgression(game, track_quests=True)
        for action in self._history:
            progression.update(action)
        policy = progression.winning_policy
        commands = Inform7Game(game).gen_commands_from_actions(policy) if policy else []
        self._plan = [self._text(command) for command in commands]
        self._plan_index = 0
        self._plan_valid = True

    def _release(self) -> None:
        engine, self._engine, self._engine_path = self._engine, None, None
        if engine is not None:
            engine.close()

    def close(self) -> None:
        self._release()
        super().close()


register_family(TextWorldEnv)
