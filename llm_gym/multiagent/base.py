"""What every llm-gym multi-agent text game shares: PettingZoo's AEC bookkeeping, done once.

A game subclasses ``TextGame`` and supplies, read top to bottom in its module:

1. ``_start(rng, options)``: set up the state of a new episode and return the first agent;
2. ``_act(agent, command)``: one canonical ``Command`` of the agent to act, as a ``Turn`` (the
   feedback, whether it was legal, rewards, whether the game is over, who acts next);
3. ``_view(agent)``: what ``agent`` perceives now, as a JSON-ready dict with ``feedback``, and
   ``render_view(view, first)``: its native prose;
4. ``_legal(agent)``: the legal commands of ``agent`` now.

The base class does the rest the same way for every game: seeding, parsing through each
seat's ``Grammar``, ``action_status`` for bad actions (text that does not parse changes nothing and
keeps the turn with the same agent), the turn limit as truncation, the dead steps PettingZoo expects, the
``{"text": ...}`` observations (plus ``"action_mask"`` where moves are enumerable) and the infos.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, ClassVar

import numpy as np
from gymnasium import spaces
from gymnasium.utils import seeding
from pettingzoo import AECEnv

from llm_gym.core import checked_max_turns, checked_render_mode
from llm_gym.grammar import Command, Grammar, ParseError
from llm_gym.presentation import Presentation, formatted
from llm_gym.spaces import TextSpace


class MoveSpace(TextSpace):
    """A ``TextSpace`` of actions whose legal moves can also be listed.

    ``moves`` are the texts the ``action_mask`` of an observation refers to. ``sample(mask)``
    with such a mask (a 0/1 array over ``moves``) returns the text of an allowed move; without a
    mask it samples arbitrary text, as ``TextSpace`` does.

    Example:
        >>> space = MoveSpace(("check", "bet"), seed=0)
        >>> space.sample(np.array([0, 1], dtype=np.int8))
        'bet'
    """

    def __init__(self, moves: tuple[str, ...], max_length: int = 256, *, seed: Any = None):
        super().__init__(max_length, seed=seed)
        self.moves = tuple(moves)

    def sample(self, mask: Any = None, probability: Any = None) -> str:
        if isinstance(mask, np.ndarray):
            allowed = np.flatnonzero(mask)
            if len(allowed) == 0:
                raise ValueError(f"The move mask {mask} allows no move of {list(self.moves)}")
            return self.moves[int(self.np_random.choice(allowed))]
        return super().sample(mask=mask, probability=probability)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, MoveSpace) and other.moves == self.moves and other.max_length == self.max_length

    def __hash__(self) -> int:
        return hash((self.moves, self.max_length))

    def __repr__(self) -> str:
        return f"MoveSpace({list(self.moves)})"


@dataclasses.dataclass(frozen=True)
class Turn:
    """What a game reports for one agent's command.

    ``status`` is ``"ok"`` or ``"illegal"`` (an illegal command leaves the game's state untouched).
    ``next_agent`` is who acts next; ``None`` keeps the turn with the same agent. ``rewards`` maps agents to this step's reward. ``outcomes`` is set
    when the game ends: each agent's ``"success"``, ``"failure"`` or ``"draw"``. ``notes`` are
    texts for other agents, shown with their next observation.
    """

    feedback: str
    status: str = "ok"
    next_agent: str | None = None
    rewards: dict[str, float] = dataclasses.field(default_factory=dict)
    outcomes: dict[str, str] | None = None
    notes: dict[str, str] = dataclasses.field(default_factory=dict)


class TextGame(AECEnv):
    """Base class of llm-gym's turn-based multi-agent text games (PettingZoo AEC).

    Args:
        max_turns: steps (every agent's, bad ones included) before the episode is truncated.
        render_mode: ``None``, ``"ansi"`` (``render()`` returns every agent's observation) or
            ``"human"`` (prints it).
    """

    metadata = {"render_modes": ["ansi", "human"], "is_parallelizable": False, "name": "text_game_v0"}

    possible_agents: list[str]
    grammars: dict[str, Grammar]
    moves: ClassVar[Mapping[str, tuple[Command, ...]]] = MappingProxyType({})  # per seat, where enumerable

    def __init__(self, max_turns: int, render_mode: str | None = None):
        super().__init__()
        self.max_turns = checked_max_turns(max_turns)
        self.render_mode = checked_render_mode(render_mode, self.metadata)
        self.agents: list[str] = []
        self.action_spaces: dict[str, TextSpace] = {}
        self.observation_spaces: dict[str, spaces.Dict] = {}
        for agent in self.possible_agents:
            moves = self.moves.get(agent)
            if moves:
                texts = tuple(self.grammars[agent].render(move) for move in moves)
                self.action_spaces[agent] = MoveSpace(texts)
                self.observation_spaces[agent] = spaces.Dict(
                    {"text": TextSpace(), "action_mask": spaces.Box(0, 1, (len(moves),), np.int8)}
                )
            else:
                self.action_spaces[agent] = TextSpace(1024)
                self.observation_spaces[agent] = spaces.Dict({"text": TextSpace()})
        self.instructions = {agent: self._instructions(agent) for agent in self.possible_agents}
        self._rng: np.random.Generator | None = None

    # ----- what a game provides ---------------------------------------------------------------

    def _start(self, rng: np.random.Generator, options: dict[str, Any]) -> str:
        raise NotImplementedError

    def _act(self, agent: str, command: Command) -> Turn:
        raise NotImplementedError

    def _view(self, agent: str) -> dict[str, Any]:
        raise NotImplementedError

    def render_view(self, view: dict[str, Any], first: bool) -> str:
        raise NotImplementedError

    def _legal(self, agent: str) -> list[Command]:
        raise NotImplementedError

    def _rules(self, agent: str) -> str:
        raise NotImplementedError

    def _extra_info(self, agent: str) -> dict[str, Any]:
        return {}

    # ----- the PettingZoo API ------------------------------------------------------------------

    def observation_space(self, agent: str) -> spaces.Dict:
        return self.observation_spaces[agent]

    def action_space(self, agent: str) -> TextSpace:
        return self.action_spaces[agent]

    def reset(self, seed: int | None = None, options: dict[str, Any] | None = None) -> None:
        if seed is not None or self._rng is None:
            self._rng, _ = seeding.np_random(seed)
        self.agents = list(self.possible_agents)
        self.rewards = {agent: 0.0 for agent in self.agents}
        self._cumulative_rewards = {agent: 0.0 for agent in self.agents}
        self.terminations = {agent: False for agent in self.agents}
        self.truncations = {agent: False for agent in self.agents}
        self.turn = 0
        self.outcomes = {agent: "running" for agent in self.agents}
        self.statuses = {agent: "ok" for agent in self.agents}
        self.feedback = {agent: "" for agent in self.agents}
        self.notes: dict[str, list[str]] = {agent: [] for agent in self.agents}
        self.decided = {agent: False for agent in self.agents}  # has the agent acted once?
        self._skip_agent_selection = None
        self.agent_selection = self._start(self._rng, dict(options or {}))
        self.infos = {agent: self._info(agent) for agent in self.agents}

    def step(self, action: Any) -> None:
        agent = self.agent_selection
        if self.terminations[agent] or self.truncations[agent]:
            self._was_dead_step(action)
            return
        self._cumulative_rewards[agent] = 0.0
        self._clear_rewards()
        self.turn += 1
        self.notes[agent] = []
        parsed = self._read(agent, action)
        if isinstance(parsed, ParseError):
            turn = Turn(parsed.message, status="parse_error")
        else:
            turn = self._act(agent, parsed)
        self.decided[agent] = True
        self.statuses = {name: "ok" for name in self.agents}
        self.statuses[agent] = turn.status
        self.feedback[agent] = turn.feedback
        for other, note in turn.notes.items():
            self.notes[other].append(note)
        for name, reward in turn.rewards.items():
            self.rewards[name] = float(reward)
        if turn.outcomes is not None:
            self.outcomes.update(turn.outcomes)
            self.terminations = {name: True for name in self.agents}
        elif self.turn >= self.max_turns:
            self.outcomes = {name: "truncated" for name in self.agents}
            self.truncations = {name: True for name in self.agents}
        if turn.next_agent is not None:
            self.agent_selection = turn.next_agent
        self._accumulate_rewards()
        self.infos = {name: self._info(name) for name in self.agents}
        if self.render_mode == "human":
            self.render()

    def observe(self, agent: str) -> dict[str, Any]:
        return self.observation(agent)

    def observation(
        self,
        agent: str,
        observation_format: str = "prose",
        action_format: str = "native",
        action_list: str = "never",
    ) -> dict[str, Any]:
        """``agent``'s observation in an interface: the formats of ``llm_gym.wrappers.formats``.

        The first observation of an agent opens with its instructions (its rules, then its
        commands as ``action_format`` writes them); ``action_list`` (``"every_turn"``,
        ``"first_turn"``, ``"never"``) appends the listed actions while the agent is to act.
        """
        presentation = self.presentation(agent, observation_format, action_format, action_list)
        observation: dict[str, Any] = {"text": presentation.compose(self._view(agent), not self.decided[agent])}
        moves = self.moves.get(agent)
        if moves:
            legal = set(self.legal_commands(agent))
            observation["action_mask"] = np.array([move in legal for move in moves], dtype=np.int8)
        return observation

    def presentation(
        self, agent: str, observation_format: str = "prose", action_format: str = "native", action_list: str = "never"
    ) -> Presentation:
        """``agent``'s seat as a ``Presentation``: the same object a single-agent stack has."""
        native = Presentation(
            grammar=self.grammars[agent],
            instructions=self.instructions[agent],
            render_view=self.render_view,
            action_list="never",
            action_list_text=str,
            format_command=lambda command: self.format_command(agent, command),
            parse_action=lambda action: self.parse_action(agent, action),
        )

        def listed() -> list[Command]:
            return self.listed_actions(agent) if self.legal_commands(agent) else []

        return formatted(
            native,
            self._rules(agent),
            self.render_view,
            listed,
            observation_format=observation_format,
            action_format=action_format,
            action_list=action_list,
        )

    def render(self) -> str | None:
        """Every seated agent's observation; after the game, every agent's last one (``None`` before ``reset``)."""
        if self._rng is None:
            return None
        seated = self.agents or self.possible_agents
        text = "\n\n".join(f"== {agent} ==\n{self.observe(agent)['text']}" for agent in seated)
        if self.render_mode == "human":
            print(text)
            return None
        return text

    def close(self) -> None:
        """Nothing to release."""

    def state(self) -> dict[str, Any]:
        """Every agent's view: the whole state, hidden information included."""
        return {agent: self._view(agent) for agent in self.possible_agents if agent in self.agents}

    # ----- the interface ----------------------------------------------------------------------

    def parse_action(self, agent: str, action: Any) -> Command | ParseError:
        """The native interface's parser for ``agent``; wrappers replace it with their own."""
        return self.grammars[agent].parse(action)

    def format_command(self, agent: str, command: Command) -> str:
        """The native text of ``command`` for ``agent``."""
        return self.grammars[agent].render(command)

    def listed_actions(self, agent: str) -> list[Command]:
        """The actions an index or discrete interface numbers: every move of a seat whose moves are
        enumerable (a fixed numbering, matched by ``action_mask``), else the legal commands."""
        moves = self.moves.get(agent)
        return list(moves) if moves else self.legal_commands(agent)

    def lists_actions(self, agent: str) -> bool:
        """Whether ``agent``'s actions can be listed (``False`` for a seat that writes free text)."""
        return True

    def legal_commands(self, agent: str) -> list[Command]:
        """The legal commands of ``agent`` now (empty when it is not its turn)."""
        return self._legal(agent) if agent == self.agent_selection and self._live(agent) else []

    # ----- internals --------------------------------------------------------------------------

    def _read(self, agent: str, action: Any) -> Command | ParseError:
        """Text goes through the native parser; interface wrappers pass a ``Command`` or ``ParseError``."""
        if isinstance(action, ParseError):
            return action
        if isinstance(action, Command):
            verbs = [spec.verb for spec in self.grammars[agent]]
            return action if action.verb in verbs else ParseError(f"Unknown command {action.verb!r}; allowed: {verbs}.")
        return self.parse_action(agent, action)

    def _live(self, agent: str) -> bool:
        return agent in self.agents and not (self.terminations[agent] or self.truncations[agent])

    def _instructions(self, agent: str) -> str:
        return f"{self._rules(agent)}\n\n{self.grammars[agent].instructions()}".strip()

    def _pending_feedback(self, agent: str) -> str:
        """The agent's own last feedback, then what others' actions told it since."""
        return "\n".join(part for part in (self.feedback[agent], *self.notes[agent]) if part)

    def _info(self, agent: str) -> dict[str, Any]:
        return {
            "admissible_actions": [self.format_command(agent, command) for command in self.legal_commands(agent)],
            "view": self._view(agent),
            "action_status": self.statuses[agent],
            "outcome": self.outcomes[agent],
            "instructions": self.instructions[agent],
            "turn": self.turn,
            "max_turns": self.max_turns,
            **self._extra_info(agent),
        }
