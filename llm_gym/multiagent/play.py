"""Hot seat: people at one terminal play the seats of a multi-agent game in turn.

Each turn shows whose turn it is, then that seat's observation only (the others look away).
``help`` shows the seat's instructions and legal moves again; ``quit`` (or end of input) stops.
"""

from __future__ import annotations

from typing import Any, Callable

HELP_WORDS = ("help", "?")
QUIT_WORDS = ("quit", "exit")


def play_hot_seat(
    env: Any,
    read: Callable[[str], str] = input,
    write: Callable[[str], Any] = print,
    seed: int | None = None,
) -> dict[str, Any]:
    """Play one episode of ``env`` (a PettingZoo AEC or Parallel game) with people taking turns.

    Returns each seat's total reward, its outcome (from ``info["outcome"]`` where the game reports
    one), and whether the players quit early.

    Example:
        >>> from llm_gym.multiagent.poker import PokerEnv
        >>> moves = iter(["bet", "call"])
        >>> result = play_hot_seat(PokerEnv(), read=lambda prompt: next(moves), write=lambda text: None, seed=0)
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
    write(f"Hot seat: {', '.join(env.possible_agents)}. Type 'help' for the rules and moves, 'quit' to stop.")
    for agent in env.agent_iter():
        observation, reward, terminated, truncated, info = env.last()
        if terminated or truncated:
            outcomes[agent] = info.get("outcome", "truncated" if truncated else "terminated")
            finals[agent] = observation["text"] if isinstance(observation, dict) else str(observation)
            env.step(None)
            continue
        write(f"\n===== {agent}'s turn (everyone else, look away) =====")
        write(observation["text"] if isinstance(observation, dict) else str(observation))
        while True:
            try:
                line = read(f"{agent}> ")
            except EOFError:
                line = "quit"
            command = line.strip().lower()
            if command in QUIT_WORDS:
                write("Game stopped.")
                return {"rewards": totals, "outcomes": outcomes, "quit": True}
            if command in HELP_WORDS:
                write(_help(env, agent, info))
                continue
            break
        env.step(line)
        for name, value in env.rewards.items():
            totals[name] += float(value)
    write("\n===== Game over =====")
    for agent in env.possible_agents:
        write(f"--- {agent} ---\n{finals.get(agent, '')}")
        write(f"{agent}: {outcomes.get(agent, 'over')}, total reward {totals[agent]:g}")
    return {"rewards": totals, "outcomes": outcomes, "quit": False}


def _help(env: Any, agent: str, info: dict[str, Any]) -> str:
    instructions = info.get("instructions", "")
    legal = info.get("admissible_actions")
    moves = f"\nLegal moves now: {', '.join(legal)}" if legal else ""
    return f"{instructions}{moves}\nType 'quit' to stop."
