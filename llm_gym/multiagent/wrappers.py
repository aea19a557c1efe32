"""Per-agent interface wrappers for llm-gym's multi-agent games.

``AgentInterface`` (turn-based games, AEC) and ``ParallelAgentInterface`` (simultaneous games) change how some seats see the game and write their actions, with the same
pure functions as the single-agent interface wrappers (``llm_gym.wrappers.formats``): views
rendered as ``prose``, ``json``, ``markdown`` or ``kv``; actions written as ``native``, ``react``,
``tagged``, ``toolcall``, ``index`` or ``discrete``, with instructions derived from each seat's
grammar. Like them it is lossless: the game, its rules and its state are the same.

Give two seats different interfaces by stacking two wrappers over disjoint seats.

Example:
    >>> from llm_gym.multiagent.poker import PokerEnv
    >>> env = AgentInterface(PokerEnv(), observation_format="json", action_format="tagged", agents=["player_0"])
    >>> env.reset(seed=0)
    >>> env.step("<action>bet</action>")
    >>> env.infos["player_0"]["action_status"], env.agent_selection
    ('ok', 'player_1')
"""

from __future__ import annotations

from typing import Any

from gymnasium import spaces
from pettingzoo.utils.wrappers import BaseParallelWrapper, BaseWrapper

from llm_gym.grammar import Command, ParseError
from llm_gym.multiagent.base import MoveSpace, TextGame
from llm_gym.presentation import ACTION_LIST_MODES
from llm_gym.spaces import TextSpace
from llm_gym.wrappers.formats import ACTION_FORMATS, OBSERVATION_FORMATS, check_format, format_action


class _Interface:
    """The choices of an interface over some seats of a game, and the spaces and reading they imply.

    ``game`` is an llm-gym game: ``possible_agents``, ``grammars``, ``moves`` (per seat, where
    enumerable), ``lists_actions``, ``listed_actions`` and ``observation(agent, formats...)``.
    """

    def __init__(self, game, observation_format: str, action_format: str, action_list: str | None, agents):
        self.game = game
        self.observation_format = check_format(observation_format, OBSERVATION_FORMATS, "observation format")
        self.action_format = check_format(action_format, ACTION_FORMATS, "action format")
        self.numbered = action_format in ("index", "discrete")
        if action_list is None:
            action_list = "every_turn" if self.numbered else "never"
        self.action_list = check_format(action_list, ACTION_LIST_MODES, "action_list mode")
        if self.numbered and action_list != "every_turn":
            raise ValueError(
                f"The {action_format!r} action format lists actions every turn; got action_list={action_list!r}"
            )
        self.seats = list(game.possible_agents if agents is None else agents)
        unknown = [agent for agent in self.seats if agent not in game.possible_agents]
        if unknown:
            raise ValueError(f"Unknown agents {unknown}; allowed: {list(game.possible_agents)}")
        self.action_spaces = {agent: self._action_space(agent) for agent in self.seats}

    def _action_space(self, agent: str) -> spaces.Space:
        moves = self.game.moves.get(agent)
        if self.numbered and not self.game.lists_actions(agent):
            raise ValueError(f"Seat {agent!r} writes free text, so it has no {self.action_format!r} interface")
        if self.action_format == "discrete":
            if not moves:
                raise ValueError(
                    f"The 'discrete' action format needs a fixed move list; seat {agent!r} has none (use 'index')"
                )
            return spaces.Discrete(len(moves))
        if self.action_format == "index" and moves:
            return MoveSpace(tuple(str(i + 1) for i in range(len(moves))))
        if moves:
            grammar = self.game.grammars[agent]
            return MoveSpace(tuple(format_action(move, grammar, self.action_format) for move in moves))
        return TextSpace(1024)

    def observe(self, agent: str) -> dict[str, Any]:
        return self.game.observation(agent, self.observation_format, self.action_format, self.action_list)

    def read(self, agent: str, action: Any) -> Any:
        """``agent``'s action as a ``Command`` or ``ParseError`` for the game (other seats' unchanged)."""
        if agent not in self.seats or isinstance(action, (Command, ParseError)):
            return action
        presentation = self.game.presentation(agent, self.observation_format, self.action_format, self.action_list)
        return presentation.parse_action(action)


class AgentInterface(BaseWrapper):
    """Show some seats of an AEC game their observations in ``observation_format``; read their actions in ``action_format``.

    Args:
        env: an llm-gym turn-based game (a ``TextGame``, possibly wrapped).
        observation_format: one of ``OBSERVATION_FORMATS``.
        action_format: one of ``ACTION_FORMATS``. ``index`` and ``discrete`` number the listed
            actions: every move of a seat whose moves are enumerable (matching ``action_mask``;
            ``discrete`` makes the action space ``Discrete``), else the legal commands of the turn.
        action_list: when the listed actions are appended to the observation; ``None`` for
            ``"every_turn"`` with ``index`` and ``discrete``, ``"never"`` otherwise.
        agents: the seats this interface applies to; ``None`` for all.
    """

    def __init__(
        self,
        env,
        observation_format: str = "prose",
        action_format: str = "native",
        action_list: str | None = None,
        agents: list[str] | None = None,
    ):
        super().__init__(env)
        if not isinstance(env.unwrapped, TextGame):
            raise ValueError(
                f"AgentInterface wraps llm-gym turn-based games (TextGame), got {type(env.unwrapped).__name__}; "
                "use ParallelAgentInterface for simultaneous games"
            )
        self.interface = _Interface(env.unwrapped, observation_format, action_format, action_list, agents)

    def action_space(self, agent: str) -> spaces.Space:
        return self.interface.action_spaces[agent] if agent in self.interface.seats else self.env.action_space(agent)

    def observe(self, agent: str) -> dict[str, Any]:
        return self.interface.observe(agent) if agent in self.interface.seats else self.env.observe(agent)

    def step(self, action: Any) -> None:
        agent = self.agent_selection
        if self.terminations[agent] or self.truncations[agent]:
            self.env.step(action)
        else:
            self.env.step(self.interface.read(agent, action))


class ParallelAgentInterface(BaseParallelWrapper):
    """``AgentInterface`` for llm-gym's simultaneous games (PettingZoo Parallel API); the same arguments.

    Example:
        >>> from llm_gym.multiagent.blotto import BlottoEnv
        >>> env = ParallelAgentInterface(BlottoEnv(), action_format="tagged")
        >>> observations, infos = env.reset(seed=0)
        >>> *_, infos = env.step({"player_0": "<action>send 5 0 0</action>", "player_1": "send 5 0 0"})
        >>> infos["player_0"]["action_status"], infos["player_1"]["action_status"]
        ('ok', 'parse_error')
    """

    def __init__(
        self,
        env,
        observation_format: str = "prose",
        action_format: str = "native",
        action_list: str | None = None,
        agents: list[str] | None = None,
    ):
        super().__init__(env)
        game = env.unwrapped
        if not hasattr(game, "observation") or not hasattr(game, "grammars"):
            raise ValueError(f"ParallelAgentInterface wraps llm-gym simultaneous games, got {type(game).__name__}")
        self.interface = _Interface(game, observation_format, action_format, action_list, agents)

    def action_space(self, agent: str) -> spaces.Space:
        return self.interface.action_spaces[agent] if agent in self.interface.seats else self.env.action_space(agent)

    def _observations(self, observations: dict[str, Any]) -> dict[str, Any]:
        return {
            agent: self.interface.observe(agent) if agent in self.interface.seats else observation
            for agent, observation in observations.items()
        }

    def reset(self, seed: int | None = None, options: dict | None = None):
        observations, infos = self.env.reset(seed=seed, options=options)
        return self._observations(observations), infos

    def step(self, actions: dict[str, Any]):
        read = {agent: self.interface.read(agent, action) for agent, action in actions.items()}
        observations, rewards, terminations, truncations, infos = self.env.step(read)
        return self._observations(observations), rewards, terminations, truncations, infos
