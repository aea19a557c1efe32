"""Evaluate agents on a grid of cells (env x difficulty x theme x interface x semantics x agent),
on paired instances: every cell plays the same seeds.

Writes one JSONL line per episode (``episodes.jsonl``) and a summary CSV (``summary.csv``) with
the success rate and its standard error, mean steps, and parse-error and illegal-action rates.
A run is resumable: rerun the same command after a kill and finished episodes are skipped, none
is lost (a half-written last line is dropped and its episode replayed).
"""

from __future__ import annotations

import csv
import json
import math
import os
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol

import gymnasium as gym

from llm_gym.baselines.agents import Agent, check_agent_spec, make_agent
from llm_gym.baselines.cells import PLAY_FIELDS, Cell, episode_key

SUMMARY_FIELDS = (
    "env_id",
    "difficulty",
    "theme",
    "interface",
    "semantics",
    "agent",
    "episodes",
    "success_rate",
    "success_se",
    "mean_steps",
    "mean_optimal_steps",
    "mean_return",
    "mean_score",
    "parse_error_rate",
    "illegal_rate",
)


def run_episode(env: gym.Env, agent: Agent, seed: int, agent_seed: int | None = None) -> dict[str, Any]:
    """Play one episode; return the whole record (actions, observations, rewards, statuses).

    The env is reset with ``seed``; the agent with ``agent_seed`` (default: ``seed``).
    """
    return run_episodes([env], [agent], [seed], None if agent_seed is None else [agent_seed])[0]


def run_episodes(
    envs: list[gym.Env], agents: list[Agent], seeds: list[int], agent_seeds: list[int] | None = None
) -> list[dict[str, Any]]:
    """Play one episode per env in lockstep. If the agents are one object with ``play`` (a local
    model), it plays them all itself, token in and token out; if with ``act_batch``, each turn asks
    it once for every episode still running (batched generation)."""
    shared = agents[0] if len(set(map(id, agents))) == 1 else None
    recorders = [_Recorder(env) for env in envs]
    if shared is not None and hasattr(shared, "play"):
        shared.play(recorders, seeds)
        return [recorder.finished() for recorder in recorders]
    batch_agent = shared if hasattr(shared, "act_batch") else None
    observations, infos = [], []
    for recorder, agent, seed, agent_seed in zip(recorders, agents, seeds, agent_seeds or seeds):
        if hasattr(agent, "reset") and batch_agent is None:
            agent.reset(agent_seed)
        observation, info = recorder.reset(seed=seed)
        observations.append(observation)
        infos.append(info)
    if batch_agent is not None:
        batch_agent.reset_batch(seeds)
    running = list(range(len(envs)))
    while running:
        if batch_agent is not None:
            actions = batch_agent.act_batch([observations[i] for i in running], [infos[i] for i in running], running)
        else:
            actions = [agents[i].act(observations[i], infos[i]) for i in running]
        still = []
        for i, action in zip(running, actions):
            observations[i], _, terminated, truncated, infos[i] = recorders[i].step(action)
            if not (terminated or truncated):
                still.append(i)
        running = still
    return [recorder.finished() for recorder in recorders]


class _Recorder(gym.Wrapper):
    """Writes the episode record (seed, observations, actions, rewards, statuses, outcome) as the
    episode is played, whoever plays it."""

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        observation, info = self.env.reset(seed=seed, options=options)
        self.record: dict[str, Any] = {
            "seed": seed,
            "task_id": info["task_id"],
            "optimal_steps": info["optimal_steps"],
            "observations": [observation],
            "actions": [],
            "rewards": [],
            "statuses": [],
        }
        self._score = 0.0
        return observation, info

    def step(self, action):
        observation, reward, terminated, truncated, info = self.env.step(action)
        self.record["actions"].append(action)
        self.record["observations"].append(observation)
        self.record["rewards"].append(float(reward))
        self.record["statuses"].append(info["action_status"])
        self._score = float(info["score"])
        if terminated or truncated:
            self.record["outcome"] = info["outcome"]
        return observation, reward, terminated, truncated, info

    def finished(self) -> dict[str, Any]:
        """The record; an episode its player stopped (out of context) counts as truncated."""
        return {
            **self.record,
            "outcome": self.record.get("outcome", "truncated"),
            "score": self._score,
            "steps": len(self.record["actions"]),
        }


def summarize(cell: Cell, episodes: list[dict[str, Any]]) -> dict[str, Any]:
    """One summary row for a cell's episodes."""
    n = len(episodes)
    rate = sum(e["outcome"] == "success" for e in episodes) / n
    statuses = [s for e in episodes for s in e["statuses"]]
    turns = max(1, len(statuses))
    return {
        "env_id": cell.env_id,
        "difficulty": cell.difficulty_label,
        "theme": cell.theme or "default",
        "interface": cell.interface or "native",
        "semantics": cell.semantics or "none",
        "agent": cell.agent,
        "episodes": n,
        "success_rate": rate,
        "success_se": math.sqrt(rate * (1 - rate) / n) if n > 1 else 0.0,
        "mean_steps": sum(e["steps"] for e in episodes) / n,
        "mean_optimal_steps": sum(e["optimal_steps"] for e in episodes) / n,
        "mean_return": sum(sum(e["rewards"]) for e in episodes) / n,
        "mean_score": sum(e["score"] for e in episodes) / n,
        "parse_error_rate": statuses.count("parse_error") / turns,
        "illegal_rate": statuses.count("illegal") / turns,
    }


def _load_finished(path: Path) -> list[dict[str, Any]]:
    """The complete records of an earlier run; a torn last line is dropped and the file rewritten."""
    if not path.exists():
        return []
    text = path.read_text()
    lines = text.splitlines()
    records = []
    for line in lines:
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    if len(records) != len(lines) or (lines and not text.endswith("\n")):
        partial = path.with_suffix(".tmp")
        partial.write_text("".join(json.dumps(r) + "\n" for r in records))
        os.replace(partial, path)
    return records


def evaluate(
    cells: Iterable[Cell],
    episodes: int,
    out_dir: str | Path,
    seed: int = 0,
    progress: bool = False,
    agent_options: dict[str, Any] | None = None,
    workers: int = 1,
    batch_size: int = 16,
    backend: Backend | None = None,
) -> list[dict[str, Any]]:
    """Run ``episodes`` paired episodes (seeds ``seed .. seed+episodes-1``) in every cell.

    Resumes from ``out_dir/episodes.jsonl`` if it exists. Agents with ``act_batch`` (a local
    model) play ``batch_size`` episodes in lockstep; other agents play ``workers`` episodes at
    once in threads (useful for an endpoint agent). A ``backend`` (such as
    ``llm_gym.integrations.ray.RayBackend``) plays them elsewhere instead; the log and the
    summary are the same.
    """
    from tqdm import tqdm

    if episodes < 1:
        raise ValueError(f"episodes must be at least 1, got {episodes}")
    cells = list(cells)
    for cell in cells:
        if cell.agent is None:
            raise ValueError(f"cell {cell.label} names no agent to evaluate")
        check_agent_spec(cell.agent)
        if cell.agent.startswith("hf:"):
            from llm_gym.baselines.models import check_model

            check_model(cell.agent[3:])
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    log_path = out / "episodes.jsonl"
    done = {episode_key(record, record["seed"]): record for record in _load_finished(log_path)}
    seeds = list(range(seed, seed + episodes))
    todo = sum(cell.key(s) not in done for cell in cells for s in seeds)
    with open(log_path, "a") as log, tqdm(total=todo, disable=not progress, unit="episode") as bar:
        pending = [(cell, [s for s in seeds if cell.key(s) not in done]) for cell in dict.fromkeys(cells)]
        if backend is None:
            played = _play_local(pending, agent_options or {}, workers, batch_size, bar)
        else:
            played = backend.play(pending, agent_options or {}, batch_size)
        for cell, record in played:
            if backend is not None:
                bar.set_description(cell.label)
            done[cell.key(record["seed"])] = record
            log.write(json.dumps({**{name: getattr(cell, name) for name in PLAY_FIELDS}, **record}) + "\n")
            log.flush()
            bar.update()
    rows = [summarize(cell, [done[cell.key(s)] for s in seeds]) for cell in cells]
    with open(out / "summary.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=SUMMARY_FIELDS)
        writer.writeheader()
        writer.writerows(rows)
    return rows


class Backend(Protocol):
    """Plays a grid's missing episodes somewhere other than this process."""

    def play(
        self, pending: list[tuple[Cell, list[int]]], options: dict[str, Any], batch_size: int
    ) -> Iterator[tuple[Cell, dict[str, Any]]]:
        """Yield ``(cell, record)`` for each pending episode (``run_episode``'s record), in any order."""
        ...


def _play_local(pending: list[tuple[Cell, list[int]]], options: dict[str, Any], workers: int, batch_size: int, bar):
    for cell, missing in pending:
        bar.set_description(cell.label)
        for record in _play_cell(cell, missing, options, workers, batch_size):
            yield cell, record


def _play_cell(cell: Cell, seeds: list[int], options: dict[str, Any], workers: int, batch_size: int):
    """Yield the cell's episode records, in seed order within each chunk."""
    if not seeds:
        return
    probe_env = cell.make_env()
    agent = make_agent(cell.agent, probe_env, seed=seeds[0], **options)
    if hasattr(agent, "act_batch"):
        envs = [probe_env] + [cell.make_env() for _ in range(min(batch_size, len(seeds)) - 1)]
        for start in range(0, len(seeds), len(envs)):
            chunk = seeds[start : start + len(envs)]
            yield from run_episodes(envs[: len(chunk)], [agent] * len(chunk), chunk)
    elif workers > 1:
        envs = [probe_env] + [cell.make_env() for _ in range(workers - 1)]
        agents = [agent] + [_copy_agent(agent, cell, env, options) for env in envs[1:]]
        with ThreadPoolExecutor(workers) as pool:
            for start in range(0, len(seeds), workers):
                chunk = seeds[start : start + workers]
                yield from pool.map(run_episode, envs[: len(chunk)], agents[: len(chunk)], chunk)
    else:
        envs = [probe_env]
        for episode_seed in seeds:
            yield run_episode(probe_env, agent, episode_seed)
    for env in envs:
        env.close()


def _copy_agent(agent: Agent, cell: Cell, env: gym.Env, options: dict[str, Any]) -> Agent:
    if hasattr(agent, "clone"):
        return agent.clone()
    return make_agent(cell.agent, env, **options)


def format_table(rows: list[dict[str, Any]]) -> str:
    """The summary as a fixed-width text table (columns that never vary are left out)."""
    columns = [
        ("env", lambda r: r["env_id"].split("/")[-1]),
        ("difficulty", lambda r: r["difficulty"]),
        ("theme", lambda r: r["theme"]),
        ("interface", lambda r: r["interface"]),
        ("semantics", lambda r: r["semantics"]),
        ("agent", lambda r: r["agent"]),
        ("n", lambda r: str(r["episodes"])),
        ("success", lambda r: f"{r['success_rate']:.2f} ± {r['success_se']:.2f}"),
        ("steps", lambda r: f"{r['mean_steps']:.1f}"),
        ("optimal", lambda r: f"{r['mean_optimal_steps']:.1f}"),
        ("score", lambda r: f"{r['mean_score']:.2f}"),
        ("parse_err", lambda r: f"{r['parse_error_rate']:.2f}"),
        ("illegal", lambda r: f"{r['illegal_rate']:.2f}"),
    ]
    optional = {"theme", "interface", "semantics"}
    columns = [(name, fn) for name, fn in columns if name not in optional or len({fn(r) for r in rows}) > 1]
    cells = [[name for name, _ in columns]] + [[fn(row) for _, fn in columns] for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
    lines = ["  ".join(value.ljust(width) for value, width in zip(line, widths)).rstrip() for line in cells]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)
