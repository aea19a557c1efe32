"""Multi-agent games' speed: agent steps per second with scripted policies, natively and through
``AgentInterface`` and ``SeatEnv``, and the exact evaluation of Poker policies.

    python benchmarks/bench_multiagent.py
"""

from __future__ import annotations

import statistics
import time

import llm_gym.multiagent as ma
from llm_gym.multiagent.poker import PRESETS, HeuristicPoker, KuhnEquilibrium, RandomPoker, expected_payoffs
from llm_gym.multiagent.wrappers import AgentInterface, ParallelAgentInterface
from llm_gym.wrappers.formats import format_action


def in_format(env, fmt: str, agent: str, native: str):
    """The scripted policies' native command, written in the interface format ``fmt``."""
    if fmt == "native":
        return native
    game = env.unwrapped
    listed = game.listed_actions(agent) if fmt in ("index", "discrete") else None
    return format_action(game.parse_action(agent, native), game.grammars[agent], fmt, actions=listed)


def aec_steps_per_second(make, episodes: int, fmt: str = "native") -> float:
    env = make()
    policies = ma.default_policies(env)
    steps, start = 0, time.perf_counter()
    for seed in range(episodes):
        env.reset(seed=seed)
        for agent in env.agent_iter(1000):
            observation, _, terminated, truncated, info = env.last()
            if terminated or truncated:
                env.step(None)
            else:
                env.step(in_format(env, fmt, agent, policies[agent].act(observation, info)))
                assert env.infos[agent]["action_status"] == "ok"
            steps += 1
    return steps / (time.perf_counter() - start)


def parallel_steps_per_second(make, episodes: int, fmt: str = "native") -> float:
    env = make()
    policies = ma.default_policies(env)
    steps, start = 0, time.perf_counter()
    for seed in range(episodes):
        observations, infos = env.reset(seed=seed)
        while env.agents:
            actions = {
                agent: in_format(env, fmt, agent, policies[agent].act(observations[agent], infos[agent]))
                for agent in env.agents
            }
            observations, *_, infos = env.step(actions)
            assert all(info["action_status"] == "ok" for info in infos.values())
            steps += len(actions)
    return steps / (time.perf_counter() - start)


def seat_steps_per_second(name: str, seat: str, episodes: int) -> float:
    env = ma.make_seat_env(ma.make(name), seat)
    policy = ma.default_policies(env.game)[seat]
    steps, start = 0, time.perf_counter()
    for seed in range(episodes):
        observation, info = env.reset(seed=seed)
        done = False
        while not done:
            observation, _, terminated, truncated, info = env.step(policy.act({"text": observation}, info))
            done = terminated or truncated
            steps += 1
    return steps / (time.perf_counter() - start)


def median(function, *args, repeats: int = 3) -> float:
    """The median of ``repeats`` runs (the machine is shared, so single runs are noisy)."""
    return statistics.median(function(*args) for _ in range(repeats))


def main() -> None:
    rows = [
        ("Poker kuhn, AEC", median(aec_steps_per_second, lambda: ma.make("Poker"), 300)),
        ("Poker leduc, AEC", median(aec_steps_per_second, lambda: ma.make("Poker", difficulty="leduc"), 300)),
        (
            "Poker leduc, AgentInterface json+toolcall",
            median(
                aec_steps_per_second,
                lambda: AgentInterface(ma.make("Poker", difficulty="leduc"), "json", "toolcall"),
                300,
                "toolcall",
            ),
        ),
        (
            "GuideFollower TextCraft medium, AEC",
            median(aec_steps_per_second, lambda: ma.make("GuideFollower", difficulty="medium"), 100),
        ),
        (
            "Blotto medium, Parallel (agent steps)",
            median(parallel_steps_per_second, lambda: ma.make("Blotto", difficulty="medium"), 100),
        ),
        (
            "Blotto medium, ParallelAgentInterface markdown+react",
            median(
                parallel_steps_per_second,
                lambda: ParallelAgentInterface(ma.make("Blotto", difficulty="medium"), "markdown", "react"),
                100,
                "react",
            ),
        ),
        ("SeatEnv Poker leduc player_1 (seat steps)", median(seat_steps_per_second, "Poker", "player_1", 300)),
        (
            "SeatEnv GuideFollower follower_0 (seat steps)",
            median(seat_steps_per_second, "GuideFollower", "follower_0", 100),
        ),
    ]
    for label, rate in rows:
        print(f"{label:55s} {rate:10,.0f} steps/s")
    for preset, pair in [
        ("kuhn", (KuhnEquilibrium(), KuhnEquilibrium())),
        ("leduc", (HeuristicPoker(), RandomPoker())),
        ("large", (HeuristicPoker(), RandomPoker())),
    ]:
        start = time.perf_counter()
        value = expected_payoffs(PRESETS[preset], pair)[0]
        print(
            f"exact value, {preset:5s} {pair[0].name} vs {pair[1].name}: {value:+.4f} chips to player_0 "
            f"({1000 * (time.perf_counter() - start):.0f} ms)"
        )


if __name__ == "__main__":
    main()
