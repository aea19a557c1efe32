"""Multi-agent text games on PettingZoo's APIs.

Games, by id (``make`` also takes the bare name, in any case):

- ``llm_gym/Poker-v0``: two-player zero-sum poker with hidden cards, Kuhn to Leduc-like (AEC);
- ``llm_gym/GuideFollower-v0``: a cooperative guide, who sees the whole task, and a follower who
  acts in it, over any single-agent llm-gym env (TextCraft by default) (AEC);
- ``llm_gym/Blotto-v0``: simultaneous zero-sum allocation over several rounds (Parallel).

Observations are ``{"text": ...}`` dicts (plus ``"action_mask"`` where the moves are
enumerable); actions are text in each seat's native command grammar. ``AgentInterface`` changes a
seat's observation and action format, ``SeatEnv`` turns one seat into a single-agent Gymnasium env
against fixed policies, and ``play_hot_seat`` lets people share a terminal.

Example:
    >>> import llm_gym.multiagent as ma
    >>> ma.env_ids()
    ['llm_gym/Poker-v0', 'llm_gym/GuideFollower-v0', 'llm_gym/Blotto-v0']
    >>> env = ma.make("poker", difficulty="leduc")
    >>> env.reset(seed=0)
    >>> env.agent_selection
    'player_0'
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from pettingzoo import AECEnv, ParallelEnv

GAMES = {
    "llm_gym/Poker-v0": "llm_gym.multiagent.poker:PokerEnv",
    "llm_gym/GuideFollower-v0": "llm_gym.multiagent.guide:GuideFollowerEnv",
    "llm_gym/Blotto-v0": "llm_gym.multiagent.blotto:BlottoEnv",
}


def env_ids() -> list[str]:
    """The ids of the multi-agent games."""
    return list(GAMES)


def resolve_id(name: str) -> str:
    """Accept an id (``llm_gym/Poker-v0``) or a game name (``Poker``, ``poker``)."""
    for env_id in GAMES:
        short = env_id.split("/", 1)[1].rsplit("-v", 1)[0]
        if name.lower() in (env_id.lower(), short.lower()):
            return env_id
    raise ValueError(f"Unknown multi-agent game {name!r}; allowed: {env_ids()}")


class GameClass(Protocol):
    """What every game class in ``GAMES`` is: constructed from keywords, and described by ``describe()``."""

    def __call__(self, *args: Any, **kwargs: Any) -> AECEnv | ParallelEnv: ...

    def describe(self) -> dict[str, Any]: ...


def game_class(name: str) -> GameClass:
    """The class of a game (an ``AECEnv`` or ``ParallelEnv`` subclass), imported on first use."""
    module, attribute = GAMES[resolve_id(name)].split(":")
    return getattr(importlib.import_module(module), attribute)


def make(name: str, **kwargs: Any):
    """Make a game in its native API: an ``AECEnv`` for turn-based games, a ``ParallelEnv`` for simultaneous ones."""
    return game_class(name)(**kwargs)


def make_aec(name: str, **kwargs: Any):
    """Make a game as a PettingZoo ``AECEnv`` (simultaneous games through ``parallel_to_aec``)."""
    from pettingzoo import ParallelEnv
    from pettingzoo.utils.conversions import parallel_to_aec

    env = make(name, **kwargs)
    return parallel_to_aec(env) if isinstance(env, ParallelEnv) else env


def describe(name: str) -> dict[str, Any]:
    """Seats, knobs, presets and commands of a game."""
    return {"id": resolve_id(name), **game_class(name).describe()}


def default_policies(game: Any) -> dict[str, Any]:
    """Scripted policies for every seat of ``game`` (an instance, possibly wrapped)."""
    from llm_gym.multiagent.blotto import BlottoEnv, CounterBlotto
    from llm_gym.multiagent.guide import FOLLOWER, GUIDE, GuideFollowerEnv, ObedientFollower, OracleGuide
    from llm_gym.multiagent.poker import HeuristicPoker, PokerEnv

    core = game.unwrapped if hasattr(game, "unwrapped") else game
    while hasattr(core, "env") and not isinstance(core, (PokerEnv, GuideFollowerEnv, BlottoEnv)):
        core = core.env  # conversion wrappers (parallel_to_aec) keep the game in .env
    if isinstance(core, PokerEnv):
        return {agent: HeuristicPoker(seed=index) for index, agent in enumerate(core.possible_agents)}
    if isinstance(core, GuideFollowerEnv):
        return {GUIDE: OracleGuide(), FOLLOWER: ObedientFollower(core.grammars[FOLLOWER])}
    if isinstance(core, BlottoEnv):
        return {agent: CounterBlotto(seed=index) for index, agent in enumerate(core.possible_agents)}
    raise ValueError(f"No scripted policies for {type(core).__name__}; the games are {env_ids()}")


from llm_gym.multiagent.adapter import SeatEnv, make_seat_env  # noqa: E402
from llm_gym.multiagent.play import play_hot_seat  # noqa: E402

__all__ = [
    "GAMES",
    "SeatEnv",
    "default_policies",
    "describe",
    "env_ids",
    "game_class",
    "make",
    "make_aec",
    "make_seat_env",
    "play_hot_seat",
    "resolve_id",
]
