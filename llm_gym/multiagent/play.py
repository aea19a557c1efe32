"""Hot seat: people at one terminal play the seats of a multi-agent game in turn.

When the turn passes to another seat the screen is cleared and the game waits for Enter, so the
next player sees only their own observation (hidden cards stay hidden). ``help`` shows the seat's
instructions and legal moves again; ``quit`` (or end of input) stops.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from llm_gym.multiagent.adapter import act

HELP_WORDS = ("help", "?")
QUIT_WORDS = ("quit", "exit")
CLEAR_SCREEN = "\x1b[2J\x1b[H"


def play_hot_seat(
    env: Any,
    read: Callable[[str], str] = input,
    write: Callable[[str], Any] = print,
    seed: int | None = None,
    handover: bool = True,
    bots: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Play one episode of ``env`` (a PettingZoo AEC or Parallel game) with people taking turns.

    ``handover`` clears the screen and waits for Enter whenever the person to act changes.
    ``bots`` maps seats to policies (``act(observation, info)``, e.g. ``default_policies(env)``)
    that play them, so one person can play alone. Returns each seat's total reward, its outcome
    (``info["outcome"]``), and whether the players quit.

    Example:
        >>> from llm_gym.multiagent.poker import PokerEnv
        >>> moves = iter(["bet", "call"])
        >>> result = play_hot_seat(PokerEnv(), read=lambda prompt: next(moves), write=lambda text: None,
        ...                        seed=0, handover=False)
        >>> sorted(result["rewards"].values())
        [-2.0, 2.0]
    """
    from pettingzoo import ParallelEnv
    from pettingzoo.utils.conversions import parallel_to_aec

    if isinstance(env, ParallelEnv):
        env = parallel_to_aec(env)
    env.reset(seed=seed)
    totals = {agent: 0.0 for agent in env.possible_agents}
    outcomes: dict[str, str] = {}
    finals: dict[str, str] = {}
    stopped = {"rewards": totals, "outcomes": outcomes, "quit": True}
    write(f"Hot seat: {', '.join(env.possible_agents)}. Type 'help' for the rules and moves, 'quit' to stop.")
    bots = dict(bots or {})
    unknown = sorted(set(bots) - set(env.possible_agents))
    if unknown:
        raise ValueError(f"Unknown seats {unknown} in bots; allowed: {list(env.possible_agents)}")
    for index, bot in enumerate(bots.values()):
        if hasattr(bot, "reset"):
            bot.reset(seed=None if seed is None else seed + index + 1)
    previous = None
    for agent in env.agent_iter():
        observation, _, terminated, truncated, info = env.last()
        if terminated or truncated:
            outcomes[agent] = info.get("outcome", "truncated" if truncated else "terminated")
            finals[agent] = _text(observation)
            env.step(None)
            continue
        if agent in bots:
            env.step(act(bots[agent], observation, info))
            _add_rewards(totals, env.rewards)
            continue
        if handover and agent != previous and len(env.possible_agents) - len(bots) > 1:
            write(f"{CLEAR_SCREEN}Pass the keyboard to {agent}.")
            if _read(read, f"{agent}, press Enter when ready> ") in QUIT_WORDS:
                write("Game stopped.")
                return stopped
        previous = agent
        write(f"\n===== {agent}'s turn =====")
        write(_text(observation))
        while True:
            line = _read(read, f"{agent}> ", raw=True)
            command = line.strip().lower()
            if command in QUIT_WORDS:
                write("Game stopped.")
                return stopped
            if command not in HELP_WORDS:
                break
            write(_help(info))
        env.step(line)
        _add_rewards(totals, env.rewards)
    if handover:
        write(CLEAR_SCREEN)
    write("===== Game over =====")
    for agent in env.possible_agents:
        write(f"--- {agent} ---\n{finals.get(agent, '')}")
        write(f"{agent}: {outcomes.get(agent, 'over')}, total reward {totals[agent]:g}")
    return {"rewards": totals, "outcomes": outcomes, "quit": False}


def _add_rewards(totals: dict[str, float], rewards: dict[str, float]) -> None:
    for name, value in rewards.items():
        totals[name] += float(value)


def _read(read: Callable[[str], str], prompt: str, raw: bool = False) -> str:
    """A line from ``read``; end of input reads as ``quit``. Lower-cased and stripped unless ``raw``."""
    try:
        line = read(prompt)
    except EOFError:
        line = "quit"
    return line if raw else line.strip().lower()


def _text(observation: Any) -> str:
    return observation["text"] if isinstance(observation, dict) else str(observation)


def _help(info: dict[str, Any]) -> str:
    legal = info.get("admissible_actions")
    moves = f"\nLegal moves now: {', '.join(legal)}" if legal else ""
    return f"{info.get('instructions', '')}{moves}\nType 'quit' to stop."
