"""One seat of a multi-agent game as a single-agent Gymnasium env, the other seats played by fixed policies.

So a single-agent trainer can train one seat against frozen opponents (or partners):

    >>> from llm_gym.multiagent.poker import PokerEnv, HeuristicPoker
    >>> env = SeatEnv(PokerEnv(), "player_1", {"player_0": HeuristicPoker(seed=0)})
    >>> observation, info = env.reset(seed=0)
    >>> info["admissible_actions"] in (["check", "bet"], ["call", "fold"])
    True

The observation is the seat's text (the single-agent contract's ``TextSpace``); its action mask,
where the seat has one, is ``info["action_mask"]``. The reward of a step is everything the seat
earned from its action until its next turn (or the end).
"""

from __future__ import annotations

import copy
from typing import Any

import gymnasium as gym
import numpy as np

from llm_gym.core import checked_render_mode
from llm_gym.spaces import TextSpace

Policy = Any  # an object with ``act(observation, info)`` (and optionally ``reset(seed)``), or a callable


def act(policy: Policy, observation: Any, info: dict[str, Any]) -> Any:
    """The action of ``policy``: its ``act`` method, or the policy itself called."""
    method = getattr(policy, "act", None)
    return method(observation, info) if method is not None else policy(observation, info)


class SeatEnv(gym.Env):
    """Play ``seat`` of ``game``; ``policies`` play every other seat.

    Args:
        game: a PettingZoo AEC game (a ``ParallelEnv`` is turned into one), or a callable making it.
        seat: the agent this env plays.
        policies: a policy per other seat (``act(observation, info) -> action`` or a callable).
        native_policies: whether those policies write the game's native commands (the scripted ones
            do); their text is then read by the game's native parser and passed on as a ``Command``,
            so they play on whatever interface wrappers ``game`` has. ``False`` passes their actions
            through the wrappers unchanged.
        render_mode: ``None`` or ``"ansi"`` (``render()`` returns the seat's last observation).
    """

    metadata = {"render_modes": ["ansi"]}

    def __init__(
        self,
        game: Any,
        seat: str,
        policies: dict[str, Policy],
        native_policies: bool = True,
        render_mode: str | None = None,
    ):
        from pettingzoo import ParallelEnv
        from pettingzoo.utils.conversions import parallel_to_aec

        game = game() if callable(game) and not hasattr(game, "possible_agents") else game
        if isinstance(game, ParallelEnv):
            game = parallel_to_aec(game)
        if seat not in game.possible_agents:
            raise ValueError(f"Unknown seat {seat!r}; allowed: {list(game.possible_agents)}")
        missing = [agent for agent in game.possible_agents if agent != seat and agent not in policies]
        if missing:
            raise ValueError(f"No policy for seat(s) {missing}; every seat but {seat!r} needs one")
        self.game = game
        self.seat = seat
        self.policies = dict(policies)
        self._native_parser = getattr(game.unwrapped, "parse_action", None) if native_policies else None
        self.render_mode = checked_render_mode(render_mode, self.metadata)
        self.observation_space = TextSpace()
        self.action_space = game.action_space(seat)
        self._observation = ""
        self._done = True

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        game_seed = int(self.np_random.integers(0, 2**31 - 1))
        self.game.reset(seed=game_seed, options=options)
        for index, agent in enumerate(sorted(self.policies)):
            reset = getattr(self.policies[agent], "reset", None)
            if reset is not None:
                reset(seed=game_seed + index + 1)
        self._done = False
        self._advance()
        observation, info = self._seat_view()
        return observation, info

    def step(self, action: Any):
        if self._done:
            info = dict(self._last_info, action_status="illegal")
            return "The episode is over. Call reset() to start a new one.", 0.0, False, False, info
        self.game.step(action)
        self._advance()
        reward = float(self.game._cumulative_rewards.get(self.seat, 0.0))
        terminated = bool(self.game.terminations.get(self.seat, True))
        truncated = bool(self.game.truncations.get(self.seat, False)) and not terminated
        observation, info = self._seat_view()
        self._done = terminated or truncated
        return observation, reward, terminated, truncated, info

    def render(self):
        return self._observation if self.render_mode == "ansi" else None

    def _advance(self) -> None:
        """Let the other seats act (and the finished ones leave) until it is this seat's turn."""
        game = self.game
        while game.agents and game.agent_selection != self.seat:
            agent = game.agent_selection
            observation, _, terminated, truncated, info = game.last()
            if terminated or truncated:
                game.step(None)
                continue
            action = act(self.policies[agent], observation, info)
            if self._native_parser is not None and isinstance(action, str):
                action = self._native_parser(agent, action)
            game.step(action)

    def _seat_view(self) -> tuple[str, dict[str, Any]]:
        observation = self.game.observe(self.seat)
        info = copy.deepcopy(self.game.infos[self.seat])
        if "action_mask" in observation:
            info["action_mask"] = np.array(observation["action_mask"])
        self._observation = observation["text"]
        self._last_info = info
        return self._observation, info


def make_seat_env(game: Any, seat: str, policies: dict[str, Policy] | None = None, **kwargs) -> SeatEnv:
    """``SeatEnv`` with the game's default scripted policies for the seats ``policies`` leaves out."""
    from llm_gym.multiagent import default_policies

    game = game() if callable(game) and not hasattr(game, "possible_agents") else game
    chosen = {agent: policy for agent, policy in default_policies(game).items() if agent != seat}
    chosen.update(policies or {})
    return SeatEnv(game, seat, chosen, **kwargs)
