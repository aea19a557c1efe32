"""Per-agent interface wrappers for llm-gym's multi-agent games.

``AgentInterface`` changes how some seats see the game and write their actions, with the same
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
from pettingzoo.utils.wrappers import BaseWrapper

from llm_gym.grammar import Command, ParseError
from llm_gym.multiagent.base import MoveSpace, TextGame
from llm_gym.spaces import TextSpace
from llm_gym.wrappers.formats import ACTION_FORMATS, OBSERVATION_FORMATS, check_format, format_action, parse_action

ACTION_LIST_MODES = ("every_turn", "first_turn", "never")


class AgentInterface(BaseWrapper):
    """Show some seats their observations in ``observation_format`` and read their actions in ``action_format``.

    Args:
        env: an llm-gym multi-agent game (a ``TextGame``, possibly wrapped).
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
        core = env.unwrapped
        if not isinstance(core, TextGame):
            raise ValueError(f"AgentInterface wraps llm-gym multi-agent games (TextGame), got {type(core).__name__}")
        self.observation_format = check_format(observation_format, OBSERVATION_FORMATS, "observation format")
        self.action_format = check_format(action_format, ACTION_FORMATS, "action format")
        numbered = action_format in ("index", "discrete")
        if action_list is None:
            action_list = "every_turn" if numbered else "never"
        self.action_list = check_format(action_list, ACTION_LIST_MODES, "action_list mode")
        if numbered and action_list != "every_turn":
            raise ValueError(f"The {action_format!r} action format lists actions every turn; got action_list={action_list!r}")
        self.seats = list(core.possible_agents if agents is None else agents)
        unknown = [agent for agent in self.seats if agent not in core.possible_agents]
        if unknown:
            raise ValueError(f"Unknown agents {unknown}; allowed: {list(core.possible_agents)}")
        self._action_spaces: dict[str, spaces.Space] = {}
        for agent in self.seats:
            moves = core.moves.get(agent)
            if numbered and not core.lists_actions(agent):
                raise ValueError(f"Seat {agent!r} writes free text, so it has no {action_format!r} interface")
            if action_format == "discrete" and not moves:
                raise ValueError(
                    f"The 'discrete' action format needs a fixed move list; seat {agent!r} has none (use 'index')"
                )
            if action_format == "discrete":
                self._action_spaces[agent] = spaces.Discrete(len(moves))
            elif action_format == "index" and moves:
                self._action_spaces[agent] = MoveSpace(tuple(str(i + 1) for i in range(len(moves))))
            elif moves:
                grammar = core.grammars[agent]
                self._action_spaces[agent] = MoveSpace(tuple(format_action(move, grammar, action_format) for move in moves))
            else:
                self._action_spaces[agent] = TextSpace(1024)

    def action_space(self, agent: str) -> spaces.Space:
        return self._action_spaces[agent] if agent in self.seats else self.env.action_space(agent)

    def observe(self, agent: str) -> dict[str, Any]:
        if agent not in self.seats:
            return self.env.observe(agent)
        return self.unwrapped.observation(agent, self.observation_format, self.action_format, self.action_list)

    def step(self, action: Any) -> None:
        agent = self.agent_selection
        core = self.unwrapped
        live = not (self.terminations[agent] or self.truncations[agent])
        if agent in self.seats and live and not isinstance(action, (Command, ParseError)):
            listed = core.listed_actions(agent) if self.action_format in ("index", "discrete") else None
            action = parse_action(action, core.grammars[agent], self.action_format, actions=listed)
        self.env.step(action)
