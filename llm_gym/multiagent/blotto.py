"""Blotto: two players secretly split their soldiers over the same fields, at the same time, round after round.

A simultaneous zero-sum game on PettingZoo's Parallel API. In each round both players send an
allocation at once; whoever sends more soldiers to a field wins it, and whoever wins more fields
wins the round (+1 to the winner, -1 to the loser). Allocations are revealed after each round, so
later rounds reward reading the opponent.

Read top to bottom: knobs and presets, the moves and grammar, the environment, scripted policies.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import math
import random
from typing import Any

import numpy as np
from gymnasium import spaces
from gymnasium.utils import seeding
from pettingzoo import AECEnv, ParallelEnv
from pettingzoo.utils.conversions import parallel_to_aec_wrapper
from pettingzoo.utils.wrappers import OrderEnforcingWrapper

from llm_gym.core import checked_max_turns, checked_render_mode
from llm_gym.difficulty import Config, knob, resolve_difficulty
from llm_gym.grammar import Arg, Command, CommandSpec, Grammar, ParseError
from llm_gym.multiagent.base import MoveSpace
from llm_gym.presentation import Presentation, formatted
from llm_gym.spaces import TextSpace

PLAYERS = ("player_0", "player_1")
FIELD_NAMES = ("hill", "bridge", "village", "forest", "river")
MAX_MOVES = 5000


@dataclasses.dataclass(frozen=True)
class BlottoConfig(Config):
    soldiers: int = knob(5, 1, 20, "soldiers each player splits every round")
    fields: int = knob(3, 2, 5, "fields to fight over")
    rounds: int = knob(3, 1, 15, "rounds in a game")

    def check(self) -> None:
        count = math.comb(self.soldiers + self.fields - 1, self.fields - 1)
        if count > MAX_MOVES:
            raise ValueError(
                f"BlottoConfig: soldiers = {self.soldiers} over fields = {self.fields} gives {count} allocations; "
                f"allowed: at most {MAX_MOVES}"
            )


PRESETS = {
    "small": BlottoConfig(soldiers=5, fields=3, rounds=3),
    "medium": BlottoConfig(soldiers=8, fields=4, rounds=5),
    "large": BlottoConfig(soldiers=12, fields=5, rounds=7),
}


@functools.lru_cache(maxsize=32)
def allocations(soldiers: int, fields: int) -> tuple[tuple[int, ...], ...]:
    """Every way to split ``soldiers`` over ``fields``, in lexicographic order."""
    return tuple(combo for combo in itertools.product(range(soldiers + 1), repeat=fields) if sum(combo) == soldiers)


@functools.lru_cache(maxsize=8)
def grammar_for(fields: int) -> Grammar:
    names = FIELD_NAMES[:fields]
    return Grammar(
        [
            CommandSpec(
                "send",
                "send " + " ".join(f"{{{name}}}" for name in names),
                tuple(Arg(name, "int", f"soldiers to the {name}") for name in names),
                f"send soldiers to the {', '.join(names)}, in that order; they must add up to all your soldiers",
            )
        ]
    )


def fields_won(mine: tuple[int, ...], theirs: tuple[int, ...]) -> int:
    """Fields ``mine`` wins minus fields it loses against ``theirs``."""
    return sum((a > b) - (a < b) for a, b in zip(mine, theirs))


class BlottoEnv(ParallelEnv):
    """Colonel Blotto over several rounds, both players moving at once.

    Args:
        difficulty: a preset name (``small``, ``medium``, ``large``), a dict of knobs, or a ``BlottoConfig``.
        max_turns: steps before truncation (bad moves repeat a round); ``None`` for three per round.
        render_mode: ``None``, ``"ansi"`` or ``"human"``.

    Example:
        >>> env = BlottoEnv()
        >>> observations, infos = env.reset(seed=0)
        >>> _, rewards, *_ = env.step({"player_0": "send 3 1 1", "player_1": "send 2 2 1"})
        >>> rewards
        {'player_0': 0.0, 'player_1': 0.0}
    """

    metadata = {"render_modes": ["ansi", "human"], "name": "blotto_v0", "is_parallelizable": True}
    possible_agents = list(PLAYERS)
    config_class = BlottoConfig
    presets = PRESETS

    def __init__(self, difficulty: Any = None, max_turns: int | None = None, render_mode: str | None = None):
        self.preset, self.config = resolve_difficulty(
            BlottoConfig, PRESETS, "small" if difficulty is None else difficulty
        )
        self.max_turns = checked_max_turns(3 * self.config.rounds if max_turns is None else max_turns)
        self.render_mode = checked_render_mode(render_mode, self.metadata)
        self.fields = FIELD_NAMES[: self.config.fields]
        self.grammar = grammar_for(self.config.fields)
        self.grammars = {agent: self.grammar for agent in PLAYERS}
        moves = tuple(
            Command("send", allocation) for allocation in allocations(self.config.soldiers, self.config.fields)
        )
        self.moves = {agent: moves for agent in PLAYERS}
        move_texts = tuple(self.grammar.render(move) for move in moves)
        self._legal_moves = frozenset(moves)
        self.action_spaces = {agent: MoveSpace(move_texts) for agent in PLAYERS}
        self.observation_spaces = {
            agent: spaces.Dict({"text": TextSpace(), "action_mask": spaces.Box(0, 1, (len(moves),), np.int8)})
            for agent in PLAYERS
        }
        self.difficulty_record = {"preset": self.preset, **self.config.as_dict()}
        self.instructions = self._rules() + "\n\n" + self.grammar.instructions()
        self.agents: list[str] = []
        self._rng: np.random.Generator | None = None

    def observation_space(self, agent: str) -> spaces.Dict:
        return self.observation_spaces[agent]

    def action_space(self, agent: str) -> MoveSpace:
        return self.action_spaces[agent]

    def _rules(self) -> str:
        c = self.config
        return (
            f"You play Blotto against one opponent over {c.rounds} round{'s' * (c.rounds > 1)}. Each round, you and "
            f"your opponent secretly split {c.soldiers} soldiers over {c.fields} fields ({', '.join(self.fields)}), "
            "both at the same time. Whoever sends more soldiers to a field wins it (equal numbers: nobody does); "
            "whoever wins more fields wins the round: +1 reward, and -1 to the other. Both allocations are "
            "shown after each round."
        )

    def reset(self, seed: int | None = None, options: dict[str, Any] | None = None):
        if seed is not None or self._rng is None:
            self._rng, _ = seeding.np_random(seed)
        self.agents = list(PLAYERS)
        self.turn = 0
        self.history: list[tuple[tuple[int, ...], tuple[int, ...]]] = []
        self.scores = [0, 0]
        self.statuses = {agent: "ok" for agent in PLAYERS}
        self.feedback = {agent: "" for agent in PLAYERS}
        self.outcomes = {agent: "running" for agent in PLAYERS}
        self.first = True
        return self._observations(), self._infos()

    def step(self, actions: dict[str, Any]):
        self.turn += 1
        self.first = False
        read = {agent: self._read(actions.get(agent)) for agent in self.agents}
        rewards = {agent: 0.0 for agent in self.agents}
        for agent, move in read.items():
            self.statuses[agent] = move if isinstance(move, str) else "ok"
        commands = {agent: move for agent, move in read.items() if isinstance(move, Command)}
        if len(commands) == len(read):  # every move is valid
            self._play(commands[PLAYERS[0]].args, commands[PLAYERS[1]].args, rewards)
        else:
            for agent, move in read.items():
                other = PLAYERS[1 - PLAYERS.index(agent)]
                mine = self._problem(actions.get(agent)) if not isinstance(move, Command) else "Your move was fine."
                waiting = "" if isinstance(read[other], Command) else " Your opponent's move was not valid either."
                self.feedback[agent] = f"{mine}{waiting} The round was not played; send your move again."
        over = len(self.history) >= self.config.rounds
        terminations = {agent: over for agent in self.agents}
        truncations = {agent: not over and self.turn >= self.max_turns for agent in self.agents}
        if over:
            self.outcomes = {
                agent: ("success", "draw", "failure")[1 - _sign(self.scores[i] - self.scores[1 - i])]
                for i, agent in enumerate(PLAYERS)
            }
        elif truncations[PLAYERS[0]]:
            self.outcomes = {agent: "truncated" for agent in PLAYERS}
        observations, infos = self._observations(), self._infos()
        if self.render_mode == "human":
            print(self.render_text())
        if over or truncations[PLAYERS[0]]:
            self.agents = []
        return observations, rewards, terminations, truncations, infos

    def parse_action(self, agent: str, action: Any) -> Command | ParseError:
        """The native interface's parser (the same for both seats)."""
        return self.grammar.parse(action)

    def _read(self, action: Any) -> Command | str:
        """A valid move, or its status: ``"parse_error"`` or ``"illegal"``."""
        parsed = action if isinstance(action, (Command, ParseError)) else self.grammar.parse(action)
        if isinstance(parsed, ParseError) or parsed.verb != "send":
            return "parse_error"
        return parsed if parsed in self._legal_moves else "illegal"

    def _problem(self, action: Any) -> str:
        parsed = action if isinstance(action, (Command, ParseError)) else self.grammar.parse(action)
        if isinstance(parsed, ParseError):
            return parsed.message
        total = sum(parsed.args)
        return f"Your soldiers add up to {total}; they must add up to exactly {self.config.soldiers}."

    def _play(self, mine: tuple[int, ...], theirs: tuple[int, ...], rewards: dict[str, float]) -> None:
        self.history.append((mine, theirs))
        margin = fields_won(mine, theirs)
        sign = _sign(margin)
        self.scores[0] += sign > 0
        self.scores[1] += sign < 0
        rewards[PLAYERS[0]], rewards[PLAYERS[1]] = float(sign), float(-sign)
        for seat, agent in enumerate(PLAYERS):
            you, them = (mine, theirs) if seat == 0 else (theirs, mine)
            result = ("You won the round.", "The round is a draw.", "You lost the round.")[
                1 - _sign(fields_won(you, them))
            ]
            self.feedback[agent] = (
                f"Round {len(self.history)}: you sent {_allocation_text(you, self.fields)}; your opponent sent "
                f"{_allocation_text(them, self.fields)}. {result}"
            )

    def view(self, agent: str) -> dict[str, Any]:
        seat = PLAYERS.index(agent)
        rounds = [
            {
                "you": list(pair[seat]),
                "opponent": list(pair[1 - seat]),
                "result": _sign(fields_won(pair[seat], pair[1 - seat])),
            }
            for pair in self.history
        ]
        return {
            "feedback": self.feedback[agent],
            "round": min(len(self.history) + 1, self.config.rounds),
            "rounds": self.config.rounds,
            "soldiers": self.config.soldiers,
            "fields": list(self.fields),
            "score": {"you": self.scores[seat], "opponent": self.scores[1 - seat]},
            "history": rounds,
        }

    def render_view(self, view: dict[str, Any], first: bool) -> str:
        lines = [view["feedback"]] if view["feedback"] else []
        lines.append(f"Score: you {view['score']['you']}, your opponent {view['score']['opponent']}.")
        if self.outcomes[PLAYERS[0]] == "running":
            lines.append(
                f"Round {view['round']} of {view['rounds']}: split {view['soldiers']} soldiers over "
                f"{', '.join(view['fields'])}."
            )
        return "\n".join(lines)

    def observation(
        self, agent: str, observation_format: str = "prose", action_format: str = "native", action_list: str = "never"
    ) -> dict[str, Any]:
        """``agent``'s observation in an interface of ``llm_gym.wrappers.formats`` (as ``TextGame.observation``)."""
        running = self.outcomes[agent] == "running"
        presentation = self.presentation(agent, observation_format, action_format, action_list)
        text = presentation.compose(self.view(agent), self.first)
        return {"text": text, "action_mask": np.full(len(self.moves[agent]), int(running), dtype=np.int8)}

    def presentation(
        self, agent: str, observation_format: str = "prose", action_format: str = "native", action_list: str = "never"
    ) -> Presentation:
        """``agent``'s seat as a ``Presentation``: the same object a single-agent stack has."""
        native = Presentation(
            grammar=self.grammar,
            instructions=self.instructions,
            render_view=self.render_view,
            action_list="never",
            action_list_text=str,
            format_command=self.grammar.render,
            parse_action=lambda action: self.parse_action(agent, action),
        )

        def listed() -> list[Command]:
            return list(self.moves[agent]) if self.outcomes[agent] == "running" else []

        return formatted(
            native,
            self._rules(),
            self.render_view,
            listed,
            observation_format=observation_format,
            action_format=action_format,
            action_list=action_list,
        )

    def listed_actions(self, agent: str) -> list[Command]:
        return list(self.moves[agent])

    def lists_actions(self, agent: str) -> bool:
        return True

    def _observations(self) -> dict[str, dict[str, Any]]:
        return {agent: self.observation(agent) for agent in self.agents}

    def _infos(self) -> dict[str, dict[str, Any]]:
        return {
            agent: {
                "view": self.view(agent),
                "action_status": self.statuses[agent],
                "outcome": self.outcomes[agent],
                "turn": self.turn,
                "max_turns": self.max_turns,
                "instructions": self.instructions,
                "difficulty": dict(self.difficulty_record),
                "opponent_moves": [list(pair[1 - seat]) for pair in self.history],
            }
            for seat, agent in enumerate(PLAYERS)
            if agent in self.agents
        }

    def render_text(self) -> str:
        return "\n\n".join(f"== {agent} ==\n{self.render_view(self.view(agent), False)}" for agent in PLAYERS)

    def render(self) -> str | None:
        if self.render_mode == "human":
            print(self.render_text())
            return None
        return self.render_text()

    def close(self) -> None:
        """Nothing to release."""

    @classmethod
    def describe(cls) -> dict[str, Any]:
        return {
            "game": "Blotto",
            "agents": list(PLAYERS),
            "knobs": BlottoConfig.knobs(),
            "presets": {name: config.as_dict() for name, config in PRESETS.items()},
            "commands": "send <n> <n> ...: one count per field",
        }


def parallel_env(max_cycles: int | None = None, **kwargs: Any) -> BlottoEnv:
    """``BlottoEnv(**kwargs)``, the game's native Parallel API, as PettingZoo's game modules name it.

    ``max_cycles`` is PettingZoo's name for ``max_turns`` (one cycle is one simultaneous step);
    give one or the other.

    Example:
        >>> from llm_gym.multiagent import blotto
        >>> game = blotto.parallel_env(max_cycles=4)
        >>> game.max_turns
        4
    """
    if max_cycles is not None:
        if kwargs.get("max_turns") is not None:
            raise ValueError(f"Give max_cycles or max_turns, not both (got {max_cycles!r} and {kwargs['max_turns']!r})")
        kwargs["max_turns"] = max_cycles
    return BlottoEnv(**kwargs)


def raw_env(max_cycles: int | None = None, **kwargs: Any) -> AECEnv:
    """``parallel_env(...)`` converted to PettingZoo's AEC API, one player after the other."""
    return parallel_to_aec_wrapper(parallel_env(max_cycles, **kwargs))


def env(max_cycles: int | None = None, **kwargs: Any) -> AECEnv:
    """The AEC game as PettingZoo's game modules give it: ``raw_env(...)`` with its order enforced."""
    return OrderEnforcingWrapper(raw_env(max_cycles, **kwargs))


def _sign(value: int) -> int:
    return (value > 0) - (value < 0)


def _allocation_text(allocation: tuple[int, ...], fields: tuple[str, ...]) -> str:
    return ", ".join(f"{count} to the {name}" for count, name in zip(allocation, fields))


# ----- scripted policies ----------------------------------------------------------------------


class BlottoPolicy:
    """Base of the scripted Blotto policies: ``act(observation, info)`` with a seeded ``random.Random``."""

    name = "blotto"

    def __init__(self, seed: int | None = None):
        self.rng = random.Random(seed)

    def reset(self, seed: int | None = None) -> None:
        self.rng = random.Random(seed)

    def act(self, observation: Any, info: dict[str, Any]) -> str:
        view = info["view"]
        return "send " + " ".join(str(count) for count in self.allocate(view["soldiers"], len(view["fields"]), info))

    def allocate(self, soldiers: int, fields: int, info: dict[str, Any]) -> tuple[int, ...]:
        raise NotImplementedError


def even_allocation(soldiers: int, fields: int, rng: random.Random) -> tuple[int, ...]:
    """As even a split of ``soldiers`` over ``fields`` as possible; the leftover soldiers go to fields drawn by ``rng``."""
    counts = [soldiers // fields] * fields
    for field in rng.sample(range(fields), soldiers % fields):
        counts[field] += 1
    return tuple(counts)


class RandomBlotto(BlottoPolicy):
    """Uniform over all allocations."""

    name = "random"

    def allocate(self, soldiers: int, fields: int, info: dict[str, Any]) -> tuple[int, ...]:
        return self.rng.choice(allocations(soldiers, fields))


class EvenBlotto(BlottoPolicy):
    """As even a split as possible; the leftover soldiers go to random fields."""

    name = "even"

    def allocate(self, soldiers: int, fields: int, info: dict[str, Any]) -> tuple[int, ...]:
        return even_allocation(soldiers, fields, self.rng)


class CounterBlotto(BlottoPolicy):
    """A best response to the opponent's last allocation (random among the best); even at first."""

    name = "counter"

    def allocate(self, soldiers: int, fields: int, info: dict[str, Any]) -> tuple[int, ...]:
        seen = info.get("opponent_moves") or []
        if not seen:
            return even_allocation(soldiers, fields, self.rng)
        last = tuple(seen[-1])
        options = allocations(soldiers, fields)
        best = max(fields_won(option, last) for option in options)
        return self.rng.choice([option for option in options if fields_won(option, last) == best])
