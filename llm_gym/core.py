"""The contract every single-agent llm-gym environment keeps, as one base class.

A family subclasses ``TextEnv``, declares ``family``, ``config_class``, ``presets``, ``themes``,
``grammar`` and ``rules`` (and ``native_action_list`` if it lists actions), and implements,
read top to bottom in its module:

1. the task generator ``generate_task(seed, config, theme)``: a pure function returning a frozen
   task that records ``optimal_steps`` (exact, by search; ``optimal_exact = False`` on the task
   where the search ran out) and ``entities``; and ``default_max_turns(config)``;
2. dynamics on canonical ``Command``s: ``_start(task)`` and ``_transition(command)``;
3. what the agent perceives: a structured ``_view()`` (a JSON-ready dict with ``feedback``) and
   its native prose ``render_view(view, first)``;
4. ``_admissible()`` and ``_oracle()``;
5. for the semantic axis (``semantics="counterfactual"`` in ``llm_gym.wrappers.reskin`` and the
   knowledge distance of ``llm_gym.shift``), where its world can offer it:
   ``vocabulary(theme)`` (every name a theme uses, by kind), ``world_relations(theme)`` (what
   common knowledge holds of those names) and ``task_relations(task)`` (the facts a task shows).

A family may also override, with faster equivalents of the defaults: ``_admissible_texts()`` and
``_action_line()`` (cached native texts), ``parse_action``/``format_command`` (a lookup table
before the grammar), ``state_key()`` (a canonical digest for search), and ``shared_on_copy``.

The base class does the rest the same way for every family: seeding, parsing through the
family's ``Grammar``, the ``action_status`` of bad actions, the turn limit as ``truncated``, the
``info`` keys, copying, and the observation, joined by the native ``Presentation``.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import operator
import pickle
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Generic, Protocol, TypeVar, overload

import gymnasium as gym
from gymnasium.error import ResetNeeded

from llm_gym.difficulty import Config, resolve_difficulty
from llm_gym.grammar import Command, Grammar, ParseError
from llm_gym.presentation import Presentation, Presents
from llm_gym.spaces import TextSpace

ACTION_STATUSES = ("ok", "parse_error", "illegal")
OUTCOMES = ("running", "success", "failure", "truncated")
INFO_KEYS = (
    "admissible_actions",
    "view",
    "action_status",
    "outcome",
    "score",
    "difficulty",
    "task_id",
    "optimal_steps",
    "optimal_exact",
    "entities",
    "theme",
    "instructions",
    "turn",
    "max_turns",
)


def checked_index(value: Any, name: str, low: int = 0) -> int:
    """``value`` as a Python int when it is an integer scalar (Python, numpy or a 0-d tensor) of at
    least ``low``; a ``ValueError`` naming ``name`` otherwise. Booleans are rejected.

    Every integer argument a user can get wrong is checked here, so the messages agree.
    """
    kind = {0: "a non-negative integer", 1: "a positive integer"}.get(low, f"an integer >= {low}")
    number = None
    if not (isinstance(value, bool) or "bool" in str(getattr(value, "dtype", ""))):
        try:
            number = operator.index(value)
        except TypeError:
            pass
    if number is None or number < low:
        raise ValueError(f"{name} must be {kind}, got {value!r}")
    return number


def task_id(family: str, fingerprint: str, theme: str, task: Any, seed: int) -> str:
    """``family:fingerprint:theme[:g<goal digest>][:structure]:seed``: which settings, goal, shape
    and seed a task came from (``goal_digest`` for the goal, so that the id names nothing).

    Example:
        >>> task_id("TextCraft", "ab12", "minecraft", None, 7)
        'TextCraft:ab12:minecraft:7'
    """
    parts = [family, fingerprint, theme]
    goal, structure = getattr(task, "goal_text", None), getattr(task, "structure", None)
    if goal:
        parts.append(f"g{goal_digest(goal)}")
    if structure:
        parts.append(structure)
    return ":".join([*parts, str(seed)])


def goal_digest(goal: str) -> str:
    """Eight hex digits naming ``goal`` (stable across processes).

    Example:
        >>> goal_digest("craft 1 stick") == goal_digest("craft 1 stick") != goal_digest("craft 2 stick")
        True
    """
    return hashlib.sha256(goal.encode()).hexdigest()[:8]


def checked_max_turns(max_turns: Any) -> int:
    """``max_turns`` as an int when it is a positive integer; ``ValueError`` otherwise."""
    return checked_index(max_turns, "max_turns", 1)


def checked_render_mode(render_mode: str | None, metadata: dict[str, Any]) -> str | None:
    """``render_mode`` itself when ``metadata`` lists it (or it is None); ``ValueError`` otherwise."""
    if render_mode is not None and render_mode not in metadata["render_modes"]:
        raise ValueError(f"Unknown render_mode {render_mode!r}; allowed: {metadata['render_modes']}")
    return render_mode


class Task(Protocol):
    """What the base class reads of every family's frozen task.

    Optional attributes: ``optimal_exact`` (default True); ``goal_text``, the goal in words and in the
    task's own names (equal for two tasks exactly when they ask for the same thing); ``structure``,
    a short signature of the task's shape that names no entity (``"d3.i2.x4"``). Both go into
    ``task_id``, the goal as a digest so that no name leaks through it.
    """

    @property
    def optimal_steps(self) -> int: ...

    @property
    def entities(self) -> Sequence[str]: ...


ItemT = TypeVar("ItemT")


class LazySequence(Sequence[ItemT]):
    """A read-only sequence whose item ``i`` is made from ``rows[i]`` (``_make``) when first read,
    then kept: a generated world can hold hundreds of items of which an episode reads a few.
    Compares equal to any sequence of the same items."""

    def __init__(self, rows: Sequence[Any]) -> None:
        self._rows = rows
        self._made: list[ItemT | None] = [None] * len(rows)

    def _make(self, row: Any) -> ItemT:
        raise NotImplementedError

    def __len__(self) -> int:
        return len(self._rows)

    @overload
    def __getitem__(self, index: int) -> ItemT: ...

    @overload
    def __getitem__(self, index: slice) -> tuple[ItemT, ...]: ...

    def __getitem__(self, index: int | slice) -> ItemT | tuple[ItemT, ...]:
        if isinstance(index, slice):
            return tuple(self[i] for i in range(*index.indices(len(self))))
        item = self._made[index]
        if item is None:
            item = self._made[index] = self._make(self._rows[index])
        return item

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence) or isinstance(other, str):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other))

    def __hash__(self) -> int:
        return hash(tuple(self))


ConfigT = TypeVar("ConfigT", bound=Config)
TaskT = TypeVar("TaskT", bound=Task)


@dataclasses.dataclass(frozen=True)
class Transition:
    """What the dynamics report for one command.

    ``status`` is ``"ok"`` or ``"illegal"`` (an illegal command must leave the state untouched);
    ``score`` is partial credit in [0, 1], ``None`` to keep the previous value.
    """

    feedback: str
    status: str = "ok"
    reward: float = 0.0
    outcome: str = "running"
    score: float | None = None


class TextEnv(Presents, gym.Env[str, str], Generic[ConfigT, TaskT]):
    """Base class of llm-gym's single-agent text environments.

    Generic over the family's ``Config`` subclass and its task type: a family declares
    ``class TextCraftEnv(TextEnv[TextCraftConfig, TextCraftTask])``, so ``self.config`` and
    ``self.task`` have the family's types.

    Args:
        difficulty: a preset name, a dict of knobs (optionally with ``"preset"`` as the base),
            or the family's ``Config``.
        theme: the lexicon that names things; ``None`` for the family's default theme.
        max_turns: the turn limit, reported as ``truncated``; ``None`` for the family's default.
        render_mode: ``None``, ``"ansi"`` (``render()`` returns the last observation) or
            ``"human"`` (prints it).
    """

    metadata = {"render_modes": ["ansi", "human"]}

    family: ClassVar[str]
    # Class attributes of each family (a ``ClassVar`` cannot hold a type variable).
    config_class: type[ConfigT]
    presets: Mapping[str, ConfigT]
    themes: ClassVar[tuple[str, ...]]
    grammar: Grammar  # a class attribute; a family may set its own per instance (BabyAI's action level)
    native_action_list: ClassVar[str] = "never"
    shared_on_copy: ClassVar[tuple[str, ...]] = ()
    """Attributes set by ``_start`` and never changed after it: copies share them with the
    original (the frozen ``task`` is always shared), which makes branching search cheap."""

    def __init__(
        self,
        difficulty: Any = None,
        theme: str | None = None,
        max_turns: int | None = None,
        render_mode: str | None = None,
    ):
        self.preset, self.config = resolve_difficulty(
            self.config_class, self.presets, next(iter(self.presets)) if difficulty is None else difficulty
        )
        if theme is None:
            theme = self.themes[0]
        if theme not in self.themes:
            raise ValueError(f"Unknown theme {theme!r} for {self.family}; allowed: {list(self.themes)}")
        self.theme = theme
        if max_turns is None:
            max_turns = self.default_max_turns(self.config)
        self.max_turns = checked_max_turns(max_turns)
        self.render_mode = checked_render_mode(render_mode, self.metadata)
        self.observation_space = TextSpace()
        self.action_space = TextSpace()
        self.difficulty_record = {"preset": self.preset, **self.config.as_dict()}
        self.instructions = self._instructions()
        self._task: TaskT | None = None
        self._observation = ""

    @property
    def task(self) -> TaskT:
        """The current frozen task; ``ResetNeeded`` before the first ``reset()``."""
        if self._task is None:
            raise ResetNeeded("Call reset() before using the task.")
        return self._task

    # ----- what a family provides -------------------------------------------------------------

    @property
    def rules(self) -> str:
        """The rules shown before the command reference: a class attribute, or a property where
        they depend on the config."""
        return ""

    @classmethod
    def generate_task(cls, seed: int, config: ConfigT, theme: str) -> TaskT:
        """Return a frozen task for ``seed``: a pure function, with ``optimal_steps`` and ``entities``."""
        raise NotImplementedError

    @classmethod
    def default_max_turns(cls, config: ConfigT) -> int:
        raise NotImplementedError

    @classmethod
    def vocabulary(cls, theme: str) -> Mapping[str, str]:
        """Every entity name ``theme`` can put in a task (as in ``info["entities"]``), mapped to
        its kind. Names of one kind are interchangeable in every command, no name has two kinds,
        and none is a word of the grammar or the rules. Empty where the family offers no
        counterfactual world for ``theme``."""
        return {}

    @classmethod
    def world_relations(cls, theme: str) -> frozenset[tuple[str, ...]]:
        """What common knowledge holds of ``theme``'s names, as ``(relation, name, ...)`` tuples
        (a recipe's ingredient, where a thing is found, what it can be used for); empty where the
        theme's world is made up."""
        return frozenset()

    @classmethod
    def task_relations(cls, task: TaskT) -> frozenset[tuple[str, ...]]:
        """The facts ``task`` shows, as ``world_relations`` writes them; for a grounded theme they
        are a subset of its world relations."""
        return frozenset()

    def _new_task(self, seed: int) -> TaskT:
        """The task ``reset`` plays for ``seed``: ``generate_task`` with this env's config and theme.
        A family may override it to generate with instance settings (a cache dir) or to memoize."""
        return self.generate_task(seed, self.config, self.theme)

    def _start(self, task: TaskT) -> str:
        """Set up the state for ``task``; return the opening feedback."""
        raise NotImplementedError

    def _transition(self, command: Command) -> Transition:
        raise NotImplementedError

    def _view(self) -> dict[str, Any]:
        """The structured observation: everything the prose shows, JSON-ready, with ``feedback``."""
        raise NotImplementedError

    def render_view(self, view: dict[str, Any], first: bool) -> str:
        """The family's native prose for ``view``."""
        raise NotImplementedError

    def _admissible(self) -> list[Command]:
        raise NotImplementedError

    def _oracle(self) -> Command:
        raise NotImplementedError

    # ----- the contract -----------------------------------------------------------------------

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        """Start a new task. ``options={"task_seed": n}`` picks the task directly."""
        super().reset(seed=seed)
        options = options or {}
        task_seed = options.get("task_seed")
        if task_seed is None:
            task_seed = int(self.np_random.integers(0, 2**31 - 1))
        else:
            task_seed = checked_index(task_seed, "options['task_seed']")
        task = self._new_task(task_seed)
        if task.optimal_steps > self.max_turns:
            raise ValueError(
                f"{self.family} task {task_seed} needs {task.optimal_steps} steps (optimal_steps) but "
                f"max_turns = {self.max_turns}; raise max_turns or ease the knobs"
            )
        self.task_seed, self._task = task_seed, task
        self.task_id = task_id(self.family, self.config.fingerprint(), self.theme, task, task_seed)
        self.entities = tuple(task.entities)
        self.turn = 0
        self.outcome = "running"
        self.score = 0.0
        self.action_status = "ok"
        self._native_text: dict[Command, str] = {}
        self._feedback = self._start(task)
        return self._emit(first=True), self._info()

    def step(self, action: str):
        if self._task is None:
            raise ResetNeeded("Call reset() before step().")
        self.turn += 1
        reward = 0.0
        if self.outcome != "running":
            transition = Transition("The episode is over. Call reset() to start a new one.", status="illegal")
        else:
            parsed = self._checked(action) if isinstance(action, Command) else self.parse_action(action)
            if isinstance(parsed, ParseError):
                transition = Transition(parsed.message, status="parse_error")
            else:
                transition = self._transition(parsed)
                reward = float(transition.reward)
                self.outcome = transition.outcome
                if transition.score is not None:
                    self.score = float(transition.score)
        self.action_status = transition.status
        self._feedback = transition.feedback
        terminated = self.outcome in ("success", "failure")
        truncated = not terminated and self.turn >= self.max_turns
        if truncated and self.outcome == "running":
            self.outcome = "truncated"
        return self._emit(first=False), reward, terminated, truncated, self._info()

    def oracle_action(self) -> Command:
        """An optimal next command from the current state; after the end, any admissible command."""
        if self._task is None:
            raise ResetNeeded("Call reset() before oracle_action().")
        if self.outcome != "running":
            commands = self._admissible()
            if commands:
                return commands[0]
        return self._oracle()

    def __getstate__(self) -> dict[str, Any]:
        """The attributes, as ``object.__getstate__`` gives them; a family may leave out what it
        rebuilds in ``__setstate__``."""
        return self.__dict__

    def __deepcopy__(self, memo: dict[int, Any]) -> TextEnv[ConfigT, TaskT]:
        for name in ("_task", *self.shared_on_copy):
            value = self.__dict__.get(name)
            if value is not None:
                memo[id(value)] = value
        clone = type(self).__new__(type(self))
        memo[id(self)] = clone
        state = copy.deepcopy(self.__getstate__(), memo)
        setstate = getattr(clone, "__setstate__", None)
        if setstate is not None:
            setstate(state)
        else:
            clone.__dict__.update(state)
        return clone

    def state_key(self) -> str:
        """A digest of the full dynamic state: equal keys mean equal futures under equal actions.

        Search (the checker's breadth-first proof of ``optimal_steps``, MCTS) merges states by it.
        The default digests the env's attributes except the per-turn bookkeeping; a family may
        override it with a cheaper canonical key. Distinct keys for equal states only slow search.
        """
        skip = {"turn", "_feedback", "_observation", "_view_cache", "action_status", "_native_text", "_np_random"}
        state = {key: value for key, value in vars(self).items() if key not in skip}
        return hashlib.sha256(pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL)).hexdigest()

    def admissible_commands(self) -> list[Command]:
        """The commands that are legal in the current state."""
        return self._admissible()

    def parse_action(self, text: Any) -> Command | ParseError:
        """The native reader of an action; a canonical ``Command`` passes if it is well formed."""
        return self._checked(text) if isinstance(text, Command) else self.grammar.parse(text)

    def format_command(self, command: Command) -> str:
        """The native writer of ``command``."""
        return self.grammar.render(command)

    def view(self) -> dict[str, Any]:
        return self._view()

    @property
    def presentation(self) -> Presentation:
        """The family's native interface; interface wrappers change it layer by layer."""
        return Presentation(
            grammar=self.grammar,
            instructions=self.instructions,
            render_view=self.render_view,
            action_list=self.native_action_list,
            action_list_text=self._action_line,
            format_command=self.format_command,
            parse_action=self.parse_action,
        )

    def render(self):
        if self.render_mode == "ansi":
            return self._observation
        if self.render_mode == "human":
            print(self._observation)
        return None

    @classmethod
    def describe(cls) -> dict[str, Any]:
        """Knobs, presets, themes and the command grammar of this family."""
        return {
            "family": cls.family,
            "knobs": cls.config_class.knobs(),
            "presets": {name: config.as_dict() for name, config in cls.presets.items()},
            "themes": list(cls.themes),
            "commands": [
                {"verb": spec.verb, "syntax": spec.syntax, "description": spec.description} for spec in cls.grammar
            ],
            "tool_schemas": cls.grammar.tool_schemas(),
            "native_action_list": cls.native_action_list,
            "default_max_turns": {name: cls.default_max_turns(config) for name, config in cls.presets.items()},
        }

    # ----- internals --------------------------------------------------------------------------

    def _instructions(self) -> str:
        return f"{self.rules}\n\n{self.grammar.instructions()}".strip()

    def _checked(self, command: Command) -> Command | ParseError:
        """``command`` if it is a well-formed command of this family's grammar (it round-trips
        through the native text), else a ``ParseError``: the dynamics only see well-formed ones."""
        try:
            well_formed = self.grammar.parse(self.grammar.render(command)) == command
        except (KeyError, TypeError, ValueError, IndexError, AttributeError):
            well_formed = False
        if well_formed:
            return command
        return ParseError(f"{command!r} is not a command of {self.family}; commands: {self.grammar.syntax_summary()}.")

    def _emit(self, first: bool) -> str:
        self._view_cache = self._view()
        self._observation = self.presentation.compose(self._view_cache, first)
        return self._observation

    def _action_line(self) -> str:
        """The native "Available actions" block; a family may override it with a cached one."""
        return "Available actions: " + ", ".join(self._admissible_texts())

    def _admissible_texts(self) -> list[str]:
        """``_admissible()`` in native text; a family may override it with a faster equivalent."""
        return [self._native(command) for command in self._admissible()]

    def _native(self, command: Command) -> str:
        """The native text of ``command``, memoized for the current task."""
        text = self._native_text.get(command)
        if text is None:
            text = self._native_text[command] = self.grammar.render(command)
        return text

    def _info(self) -> dict[str, Any]:
        return {
            "admissible_actions": self._admissible_texts(),
            "view": self._view_cache,
            "action_status": self.action_status,
            "outcome": self.outcome,
            "score": self.score,
            "difficulty": dict(self.difficulty_record),
            "task_id": self.task_id,
            "optimal_steps": self.task.optimal_steps,
            "optimal_exact": getattr(self.task, "optimal_exact", True),
            "entities": list(self.entities),
            "theme": self.theme,
            "instructions": self.instructions,
            "turn": self.turn,
            "max_turns": self.max_turns,
        }


def text_env_of(env: gym.Env) -> TextEnv[Any, Any]:
    """``env.unwrapped`` as the ``TextEnv`` it must be; ``TypeError`` naming its type otherwise."""
    core = env.unwrapped
    if not isinstance(core, TextEnv):
        raise TypeError(f"{type(core).__name__} is not an llm-gym TextEnv (env.unwrapped of {type(env).__name__})")
    return core
