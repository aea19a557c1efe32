"""Load on ``llm-gym serve``: reset and step latency over loopback with 1 and N concurrent sessions,
the overhead over an in-process step, memory per session, and sessions per second.

The server is the real command in a subprocess; the clients are ``LLMGymClient`` sessions in this
process, playing the oracle's actions (computed beforehand, so the clients do no env work).
Latencies are per call as a client sees them, so with N sessions they include the wait for the
other sessions' calls. Memory per session is the server's RSS growth over N open, reset
sessions, divided by N.

Run: python benchmarks/bench_serve.py [--env TextCraft] [--difficulty medium] [--sessions 64] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

import llm_gym
from llm_gym.baselines.agents import OracleAgent
from llm_gym.registry import resolve_id


def percentiles(samples: list[float]) -> tuple[float, float]:
    """p50 and p99 of ``samples`` in milliseconds."""
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return 1000 * statistics.median(samples), 1000 * cuts[98]


def oracle_actions(env_id: str, difficulty: str, seed: int) -> list[str]:
    env = llm_gym.make(env_id, difficulty=difficulty)
    agent = OracleAgent(env)
    observation, info = env.reset(seed=seed)
    actions, done = [], False
    while not done:
        actions.append(agent.act(observation, info))
        observation, _, terminated, truncated, info = env.step(actions[-1])
        done = terminated or truncated
    env.close()
    return actions


def in_process(env_id: str, difficulty: str, plays: dict[int, list[str]]) -> tuple[list[float], list[float]]:
    """Reset and step times of the same episodes played in this process."""
    env = llm_gym.make(env_id, difficulty=difficulty)
    resets, steps = [], []
    for seed, actions in plays.items():
        began = time.perf_counter()
        env.reset(seed=seed)
        resets.append(time.perf_counter() - began)
        for action in actions:
            began = time.perf_counter()
            env.step(action)
            steps.append(time.perf_counter() - began)
    env.close()
    return resets, steps


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


async def timed(call) -> tuple[float, object]:
    began = time.perf_counter()
    result = await call
    return time.perf_counter() - began, result


async def load(url: str, sessions: int, rounds: int, plays: dict[int, list[str]], pid: int) -> dict:
    """``sessions`` clients play ``rounds`` episodes each in lockstep; returns latencies and memory."""
    from llm_gym.integrations.openenv import LLMGymClient

    seeds = list(plays)
    before = rss_mb(pid)
    clients = [LLMGymClient(base_url=url) for _ in range(sessions)]
    await asyncio.gather(*(client.connect() for client in clients))
    resets, steps, calls, began = [], [], 0, time.perf_counter()
    for episode in range(rounds):
        chosen = [seeds[(episode * sessions + i) % len(seeds)] for i in range(sessions)]
        resets += [t for t, _ in await asyncio.gather(*(timed(c.reset(seed=s)) for c, s in zip(clients, chosen)))]
        if episode == 0:
            after = rss_mb(pid)
        for turn in range(max(len(plays[seed]) for seed in chosen)):
            playing = [(client, plays[seed][turn]) for client, seed in zip(clients, chosen) if turn < len(plays[seed])]
            steps += [t for t, _ in await asyncio.gather(*(timed(c.step(action)) for c, action in playing))]
        calls += sessions
    elapsed = time.perf_counter() - began
    await asyncio.gather(*(client.close() for client in clients))
    return {
        "resets": resets,
        "steps": steps,
        "steps_per_s": len(steps) / elapsed,
        "mb_per_session": (after - before) / sessions,
    }


async def session_rate(url: str, total: int, at_once: int) -> float:
    """New sessions (connect, reset, close) per second, ``at_once`` in flight."""
    from llm_gym.integrations.openenv import LLMGymClient

    gate = asyncio.Semaphore(at_once)

    async def one(seed: int) -> None:
        async with gate:
            client = LLMGymClient(base_url=url)
            await client.reset(seed=seed)
            await client.close()

    began = time.perf_counter()
    await asyncio.gather(*(one(seed) for seed in range(total)))
    return total / (time.perf_counter() - began)


def start_server(env: str, difficulty: str, sessions: int) -> tuple[subprocess.Popen, str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    command = [sys.executable, "-m", "llm_gym.cli", "serve", env, "--difficulty", difficulty]
    process = subprocess.Popen([*command, "--port", str(port), "--max-sessions", str(sessions)], stdout=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx.get(f"{url}/health", timeout=1.0).status_code == 200:
                return process, url
        except httpx.TransportError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"llm-gym serve did not come up (exit code {process.poll()})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="TextCraft")
    parser.add_argument("--difficulty", default="medium")
    parser.add_argument("--sessions", type=int, default=64, help="the concurrent load (default 64)")
    parser.add_argument("--rounds", type=int, default=3, help="episodes each session plays (default 3)")
    args = parser.parse_args()
    env_id = resolve_id(args.env)
    plays = {seed: oracle_actions(env_id, args.difficulty, seed) for seed in range(max(args.sessions, 16))}
    local_resets, local_steps = in_process(env_id, args.difficulty, plays)
    process, url = start_server(args.env, args.difficulty, args.sessions)
    try:
        asyncio.run(load(url, 1, 1, plays, process.pid))  # warm up the server's first session
        results = {n: asyncio.run(load(url, n, args.rounds, plays, process.pid)) for n in (1, args.sessions)}
        sequential = asyncio.run(session_rate(url, 100, 1))
        concurrent = asyncio.run(session_rate(url, 4 * args.sessions, args.sessions))
        server_mb = rss_mb(process.pid)
    finally:
        process.terminate()
        process.wait(timeout=30)

    print(f"llm-gym serve {env_id} --difficulty {args.difficulty}: oracle episodes over loopback (WebSocket)")
    print(f"{'where':<24} {'reset p50':>10} {'reset p99':>10} {'step p50':>9} {'step p99':>9} {'steps/s':>8}")
    rows = [("in-process", local_resets, local_steps, len(local_steps) / sum(local_steps))]
    rows += [(f"served, {n} session(s)", r["resets"], r["steps"], r["steps_per_s"]) for n, r in results.items()]
    for where, resets, steps, rate in rows:
        print(f"{where:<24} {percentiles(resets)[0]:>8.2f}ms {percentiles(resets)[1]:>8.2f}ms", end="")
        print(f" {percentiles(steps)[0]:>7.2f}ms {percentiles(steps)[1]:>7.2f}ms {rate:>8.0f}")
    overhead = percentiles(results[1]["steps"])[0] - percentiles(local_steps)[0]
    print(f"step overhead over in-process (p50, 1 session): {overhead:.2f} ms")
    print(f"memory per session: {results[args.sessions]['mb_per_session']:.2f} MB (server RSS {server_mb:.0f} MB)")
    print(f"sessions per second (connect, reset, close): {sequential:.0f} one at a time, ", end="")
    print(f"{concurrent:.0f} with {args.sessions} at once")


if __name__ == "__main__":
    main()
