"""Guide and follower: a cooperative game built on any single-agent llm-gym environment.

The guide sees the whole task: the first turn's full view (for TextCraft, the recipes and the goal),
every later view, and what the follower did. The follower acts in the environment but sees only
the feedback to its own actions and the guide's messages. They talk only in text: the guide's whole
action is its message. Both share the environment's reward.

Turns alternate, guide first: a message, then one action of the follower. A follower's action the
environment rejects (``illegal``) still hands the turn back to the guide, who sees what went wrong;
text that does not parse changes nothing and keeps the turn.

Example:
    >>> env = GuideFollowerEnv(difficulty="easy")
    >>> env.reset(seed=0)
    >>> env.agent_selection
    'guide_0'
    >>> env.step(env.infos["guide_0"]["oracle_action"])
    >>> env.observe("follower_0")["text"].splitlines()[-1].startswith("Guide:")
    True
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from pettingzoo import AECEnv
from pettingzoo.utils.wrappers import OrderEnforcingWrapper

from llm_gym.core import text_env_of
from llm_gym.grammar import Arg, Command, CommandSpec, Grammar, ParseError
from llm_gym.multiagent.base import TextGame, Turn

GUIDE, FOLLOWER = "guide_0", "follower_0"
GUIDE_GRAMMAR = Grammar(
    [
        CommandSpec(
            "say", "{message}", (Arg("message", "text", "what the follower reads"),), "your message to the follower"
        )
    ]
)
GUIDE_RULES = (
    "You are the guide in a cooperative game. Your partner, the follower, acts in a text task that you "
    "can see in full; the follower sees only the results of its own actions and your messages. Each turn "
    "you send one message; the follower then takes one action. Help the follower finish the task in as "
    "few actions as possible. The follower's instructions (its commands, not yours) are:\n\n{task}\n\n"
    "Your own turn is a message, as free text."
)
FOLLOWER_RULES = (
    "You are the follower in a cooperative game. You act in a text task, but you cannot see all of it: "
    "{hidden}. Your partner, the guide, sees everything and sends you a message before each of your "
    "actions. Your task and commands are:\n\n{task}"
)


class GuideFollowerEnv(TextGame):
    """A guide who sees everything and a follower who acts, over a single-agent llm-gym env.

    Args:
        env_id: the single-agent environment (any registered llm-gym id).
        difficulty, theme, env_kwargs: passed to that environment (``env_kwargs`` for any other keyword).
        max_turns: steps of both seats together before truncation; ``None`` gives two per turn of
            the environment's own default limit (one message and one action).
        visible_keys: keys of the environment's structured view, besides ``feedback``, that the
            follower sees (rendered by the environment); by default none, so it sees only feedback.
        show_oracle: whether the guide's observation also names an optimal next action.
        hidden: how the follower's rules describe what it cannot see.
        render_mode: as ``TextGame``.
    """

    metadata = {"render_modes": ["ansi", "human"], "is_parallelizable": False, "name": "guide_follower_v0"}
    possible_agents = [GUIDE, FOLLOWER]

    def __init__(
        self,
        env_id: str = "llm_gym/TextCraft-v0",
        difficulty: Any = None,
        theme: str | None = None,
        env_kwargs: dict[str, Any] | None = None,
        max_turns: int | None = None,
        visible_keys: tuple[str, ...] = (),
        show_oracle: bool = False,
        hidden: str | None = None,
        render_mode: str | None = None,
    ):
        from llm_gym.registry import resolve_id

        self.env_id = resolve_id(env_id)
        kwargs = {"difficulty": difficulty, "theme": theme, **(env_kwargs or {})}
        # The game's own limit governs, so the environment itself never truncates; it is stepped
        # directly (no TimeLimit or order wrappers), as the game owns its reset and step order.
        self.core = text_env_of(gym.make(self.env_id, disable_env_checker=True, max_turns=10**9, **kwargs))
        if max_turns is None:
            max_turns = 2 * self.core.default_max_turns(self.core.config)
        self.visible_keys = tuple(visible_keys)
        self.show_oracle = bool(show_oracle)
        if hidden is None:
            hidden = "you see only the feedback to your own actions" + (
                f" and the {', '.join(visible_keys)}" if visible_keys else ""
            )
        self.hidden = hidden
        self.grammars = {GUIDE: GUIDE_GRAMMAR, FOLLOWER: self.core.grammar}
        super().__init__(max_turns=max_turns, render_mode=render_mode)

    def _rules(self, agent: str) -> str:
        if agent == GUIDE:
            return GUIDE_RULES.format(task=self.core.instructions)
        return FOLLOWER_RULES.format(hidden=self.hidden, task=self.core.rules).strip()

    def _start(self, rng: np.random.Generator, options: dict[str, Any]) -> str:
        base_options = {"task_seed": options["task_seed"]} if "task_seed" in options else None
        _, info = self.core.reset(seed=int(rng.integers(0, 2**31 - 1)), options=base_options)
        self.base_info = info
        self.first_view = info["view"]
        self.message: str | None = None
        self.task_id = info["task_id"]
        self.feedback[FOLLOWER] = self.first_view["feedback"]
        return GUIDE

    def parse_action(self, agent: str, action: Any) -> Command | ParseError:
        if agent == FOLLOWER:
            return self.core.parse_action(action)
        return super().parse_action(agent, action)

    def format_command(self, agent: str, command: Command) -> str:
        if agent == FOLLOWER:
            return self.core.format_command(command)
        return super().format_command(agent, command)

    def _act(self, agent: str, command: Command) -> Turn:
        if agent == GUIDE:
            self.message = command.args[0]
            return Turn("", next_agent=FOLLOWER)
        text = self.core.format_command(command)
        _, reward, terminated, _, info = self.core.step(text)
        self.base_info = info
        feedback = info["view"]["feedback"]
        note = f"The follower did: {text}\nResult: {feedback}"
        rewards = {GUIDE: float(reward), FOLLOWER: float(reward)} if reward else {}
        outcomes = {GUIDE: info["outcome"], FOLLOWER: info["outcome"]} if terminated else None
        return Turn(
            feedback,
            status=info["action_status"],
            next_agent=GUIDE,
            rewards=rewards,
            outcomes=outcomes,
            notes={GUIDE: note},
        )

    def _view(self, agent: str) -> dict[str, Any]:
        view = self.base_info["view"]
        if agent == GUIDE:
            guide_view = {"feedback": self._pending_feedback(agent), "task": self.first_view}
            if self.core.turn:
                guide_view["now"] = view
            if self.show_oracle and self._live(GUIDE):
                guide_view["oracle_action"] = self._oracle_text()
            return guide_view
        follower_view = {key: view[key] for key in self.visible_keys if key in view}
        follower_view["feedback"] = self._pending_feedback(agent)
        follower_view["guide_says"] = self.message
        return follower_view

    def render_view(self, view: dict[str, Any], first: bool) -> str:
        if "task" in view:  # the guide's view
            parts = [view["feedback"]] if view["feedback"] else []
            if first:
                parts.append(
                    "The task as shown to you (the follower does not see this):\n"
                    + self.core.render_view(view["task"], first=True)
                )
            elif "now" in view and set(view["now"]) - {"feedback"}:
                parts.append("The task now:\n" + self.core.render_view({**view["now"], "feedback": ""}, first=False))
            if "oracle_action" in view:
                parts.append(f"An optimal next action for the follower: {view['oracle_action']}")
            if self._live(GUIDE) and self.agent_selection == GUIDE:
                parts.append("Your message to the follower:")
            return "\n\n".join(parts)
        shown = {key: value for key, value in view.items() if key not in ("feedback", "guide_says")}
        parts = [view["feedback"]]
        if shown:
            parts.append(self.core.render_view({**shown, "feedback": ""}, first=first))
        if view["guide_says"] is not None and self.agent_selection == FOLLOWER and self._live(FOLLOWER):
            parts.append(f"Guide: {view['guide_says']}")
        return "\n\n".join(part for part in parts if part)

    def lists_actions(self, agent: str) -> bool:
        return agent == FOLLOWER

    def _legal(self, agent: str) -> list[Command]:
        return self.core.admissible_commands() if agent == FOLLOWER else []

    def _oracle_text(self) -> str:
        return self.core.format_command(self.core.oracle_action())

    def _extra_info(self, agent: str) -> dict[str, Any]:
        info: dict[str, Any] = {
            "task_id": self.task_id,
            "score": self.base_info["score"],
            "optimal_steps": self.base_info["optimal_steps"],
        }
        if agent == GUIDE:
            info["oracle_action"] = self._oracle_text() if self.base_info["outcome"] == "running" else None
        return info

    @classmethod
    def describe(cls) -> dict[str, Any]:
        """Seats and commands; presets and themes are those of the default environment, TextCraft."""
        from llm_gym.registry import env_class

        default = env_class("llm_gym/TextCraft-v0")
        return {
            "game": "GuideFollower",
            "agents": list(cls.possible_agents),
            "presets": {name: config.as_dict() for name, config in default.presets.items()},
            "themes": list(default.themes),
            "arguments": [
                "env_id",
                "difficulty",
                "theme",
                "env_kwargs",
                "max_turns",
                "visible_keys",
                "show_oracle",
                "hidden",
            ],
            "commands": {
                GUIDE: [{"verb": spec.verb, "syntax": spec.syntax} for spec in GUIDE_GRAMMAR],
                FOLLOWER: "the commands of the environment played (env_id)",
            },
        }


def raw_env(**kwargs: Any) -> GuideFollowerEnv:
    """``GuideFollowerEnv(**kwargs)``: PettingZoo's name for a game module's unwrapped AEC environment."""
    return GuideFollowerEnv(**kwargs)


def env(**kwargs: Any) -> AECEnv:
    """The game as PettingZoo's game modules give it: ``raw_env(**kwargs)`` with its order enforced."""
    return OrderEnforcingWrapper(raw_env(**kwargs))


# ----- scripted policies ----------------------------------------------------------------------


class OracleGuide:
    """Tells the follower the environment oracle's next action, word for word."""

    name = "oracle-guide"

    def act(self, observation: Any, info: dict[str, Any]) -> str:
        return info.get("oracle_action") or "Done."


class ObedientFollower:
    """Does what the guide said: the message, or its last line or clause, that parses as a command.

    When nothing in the message parses it plays its first admissible action (or ``"look"``).
    """

    name = "obedient-follower"

    def __init__(self, grammar: Grammar):
        self.grammar = grammar

    def act(self, observation: Any, info: dict[str, Any]) -> str:
        message = info["view"].get("guide_says") or ""
        candidates = [message, *reversed(message.splitlines())]
        candidates += [part.split(":")[-1] for part in candidates if ":" in part]
        for candidate in candidates:
            if candidate.strip() and not isinstance(self.grammar.parse(candidate), ParseError):
                return candidate.strip()
        admissible = info.get("admissible_actions") or ["look"]
        return admissible[0]
