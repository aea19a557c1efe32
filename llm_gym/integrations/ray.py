"""Scale out on Ray: the evaluation grid on Ray workers, and envs that live in Ray actors.

- ``RayBackend`` plays the episodes of ``evaluate`` (``llm-gym eval --backend ray``) on Ray
  workers, on a local cluster or any other. The log and the summary are those of the local
  backend, whatever the number of workers or the order they finish in; a worker that dies loses
  only the episodes it had not returned, which another worker plays again. Endpoint agents share
  one concurrency limit over every worker (``SharedLimit``).
- ``RayVectorEnv`` is a ``gymnasium.vector.VectorEnv`` whose sub-envs live in Ray actors; it
  steps exactly like ``SyncVectorEnv`` (the same autoreset modes, the same batched infos).
- ``RayEnvPool`` makes the RFT trainer's envs in Ray actors (``llm-gym train --backend ray``):
  each is a ``RemoteEnv``, a handle used like the env itself.

Ray is an optional extra (``pip install "llm-gym[ray]"``), imported only when one of these is used.
Every node of a cluster needs llm-gym installed: the actors import it by name.

Example (not run as a doctest: starting Ray takes seconds; tests/test_integration_ray.py runs it)::

    envs = RayVectorEnv([lambda: gym.make("llm_gym/TextCraft-v0")] * 4, workers=2)
    observations, infos = envs.reset(seed=0)  # 4 texts; infos["task_id"].shape == (4,)
    evaluate(cells, 20, "runs/eval", backend=RayBackend(workers=8))  # llm-gym eval --backend ray --workers 8
"""

from __future__ import annotations

import asyncio
import collections
import copy
import dataclasses
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space, concatenate, create_empty_array, iterate

from llm_gym.baselines.cells import Cell
from llm_gym.baselines.trainer import EnvPool, make_env
from llm_gym.presentation import Presentation, Presents, presentation_of

INSTALL = 'pip install "llm-gym[ray]"'


def _ray():
    try:
        import ray
    except ImportError as error:
        raise ImportError(f"llm_gym.integrations.ray needs Ray: {INSTALL}") from error
    return ray


def connect(address: str | None = None) -> None:
    """Join the Ray cluster at ``address`` (``"auto"``, ``"ray://host:10001"``...), or start a
    local one when ``address`` is None; nothing happens if this process is connected already."""
    ray = _ray()
    if not ray.is_initialized():
        ray.init(address=address, **({} if address else {"include_dashboard": False}))


def _worker_count(workers: int | None, cpus_per_worker: float) -> int:
    if workers is None:
        free = _ray().available_resources().get("CPU", 1.0)
        return max(1, int(free // cpus_per_worker))
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be a positive integer, got {workers!r}")
    return workers


def _check_fits(count: int, cpus_per_worker: float) -> None:
    """Refuse actors the cluster could never start all at once (the run would wait forever)."""
    cpus = _ray().cluster_resources().get("CPU", 0.0)
    if count * cpus_per_worker > cpus:
        raise ValueError(
            f"{count} workers of {cpus_per_worker:g} CPUs cannot all start on a cluster of {cpus:g} CPUs; "
            "ask for fewer workers or fewer CPUs per worker"
        )


# ----- a concurrency limit shared by every worker ----------------------------------------------


class _Semaphore:
    """A counting semaphore in an async Ray actor; slots are held by named holders, so the slots
    of a holder that died can be given back."""

    def __init__(self, limit: int):
        self._slots = asyncio.Semaphore(limit)
        self._held: collections.Counter[str] = collections.Counter()

    async def acquire(self, holder: str) -> None:
        await self._slots.acquire()
        self._held[holder] += 1

    async def release(self, holder: str) -> None:
        if self._held[holder] > 0:
            self._held[holder] -= 1
            self._slots.release()

    async def forget(self, holder: str) -> None:
        """Give back every slot ``holder`` still holds (it died holding them)."""
        for _ in range(self._held.pop(holder, 0)):
            self._slots.release()


class SharedLimit:
    """A context manager that holds one slot of a semaphore shared by processes across a Ray
    cluster: what ``ChatEndpointAgent`` takes as its gate, so that every copy of the agent on
    every worker keeps to one ``max_concurrency``."""

    def __init__(self, semaphore: Any, holder: str):
        self.semaphore = semaphore
        self.holder = holder

    def __enter__(self) -> SharedLimit:
        _ray().get(self.semaphore.acquire.remote(self.holder))
        return self

    def __exit__(self, *exc_info: Any) -> None:
        _ray().get(self.semaphore.release.remote(self.holder))


# ----- evaluation on Ray workers ---------------------------------------------------------------


class _EpisodeWorker:
    """A Ray actor that plays a cell's episodes with the local evaluation's own functions; it keeps
    the envs and the agent of the last cell it played (a model loads once per run of chunks)."""

    def __init__(self, options: dict[str, Any]):
        self.options = options
        self.cell: Cell | None = None
        self.envs: list[gym.Env] = []
        self.agent: Any = None

    def play(self, cell: Cell, seeds: list[int]) -> list[dict[str, Any]]:
        from llm_gym.baselines.agents import make_agent
        from llm_gym.baselines.evaluation import run_episode, run_episodes

        if cell != self.cell:
            for env in self.envs:
                env.close()
            self.cell, self.envs = cell, [cell.make_env()]
            self.agent = make_agent(cell.agent or "", self.envs[0], seed=seeds[0], **self.options)
        if not hasattr(self.agent, "act_batch"):
            return [run_episode(self.envs[0], self.agent, seed) for seed in seeds]
        self.envs += [cell.make_env() for _ in range(len(seeds) - len(self.envs))]
        return run_episodes(self.envs[: len(seeds)], [self.agent] * len(seeds), seeds)


@dataclasses.dataclass
class RunStats:
    """What a ``RayBackend.play`` did: chunks played, chunks played again after their worker
    died, and workers started (the first ones and their replacements)."""

    chunks: int = 0
    redone: int = 0
    workers_started: int = 0


class RayBackend:
    """Play ``evaluate``'s episodes on Ray workers (the ``backend`` of ``evaluate``).

    Each cell's missing seeds are cut into chunks, one Ray task each: ``batch_size`` seeds for a
    local model (``hf:``), which plays them in lockstep exactly as the local backend batches them,
    and ``chunk_size`` seeds for every other agent. Every worker has ``pipeline`` chunks queued so
    that it never waits for the driver. A worker that dies (killed, out of memory, its node lost)
    is replaced and its unreturned chunks are played again, at most ``max_chunk_failures`` times
    per chunk. Endpoint agents hold one ``SharedLimit`` of ``options["endpoint"]["max_concurrency"]``
    requests over every worker.

    Args:
        address: the cluster to join (None: the one this process is connected to, or a new local one).
        workers: Ray workers (None: as many as the cluster's free CPUs allow).
        cpus_per_worker: CPUs each worker reserves; below 1 for agents that mostly wait on a server.
        chunk_size: episodes per task for agents that play one episode at a time; a task costs
            1-3 ms of Ray overhead here (benchmarks/bench_ray.py), an episode 1-150 ms.
        pipeline: tasks queued on each worker.
        max_chunk_failures: deaths of a chunk's workers after which the run stops.
    """

    def __init__(
        self,
        address: str | None = None,
        workers: int | None = None,
        cpus_per_worker: float = 1.0,
        chunk_size: int = 4,
        pipeline: int = 2,
        max_chunk_failures: int = 3,
    ):
        for name, value in (
            ("chunk_size", chunk_size),
            ("pipeline", pipeline),
            ("max_chunk_failures", max_chunk_failures),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if not cpus_per_worker > 0:
            raise ValueError(f"cpus_per_worker must be positive, got {cpus_per_worker!r}")
        if workers is not None:
            _worker_count(workers, cpus_per_worker)
        self.address = address
        self.workers = workers
        self.cpus_per_worker = cpus_per_worker
        self.chunk_size = chunk_size
        self.pipeline = pipeline
        self.max_chunk_failures = max_chunk_failures
        self.handles: list[Any] = []  # the live workers of the run in progress
        self.stats = RunStats()

    def chunks(self, pending: list[tuple[Cell, list[int]]], batch_size: int) -> list[tuple[Cell, list[int]]]:
        """The tasks: ``(cell, seeds)``, in grid order."""
        tasks = []
        for cell, seeds in pending:
            size = batch_size if (cell.agent or "").startswith("hf:") else self.chunk_size
            tasks += [(cell, seeds[start : start + size]) for start in range(0, len(seeds), size)]
        return tasks

    def play(
        self, pending: list[tuple[Cell, list[int]]], options: dict[str, Any], batch_size: int
    ) -> Iterator[tuple[Cell, dict[str, Any]]]:
        """Yield ``(cell, record)`` for every pending episode, as the workers return them."""
        chunks = self.chunks(pending, batch_size)
        tasks = collections.deque(range(len(chunks)))
        self.stats = RunStats()
        if not chunks:
            return
        ray = _ray()
        connect(self.address)
        count = min(_worker_count(self.workers, self.cpus_per_worker), len(chunks))
        _check_fits(count, self.cpus_per_worker)
        semaphore = None
        if any((cell.agent or "").startswith("endpoint:") for cell, _ in chunks):
            limit = options.get("endpoint", {}).get("max_concurrency", 8)
            semaphore = ray.remote(_Semaphore).options(num_cpus=0, max_concurrency=100_000).remote(limit)
        names: list[str] = []

        def start(slot: int) -> None:
            name = f"worker-{self.stats.workers_started}"
            self.stats.workers_started += 1
            worker_options = options
            if semaphore is not None:
                endpoint = {**options.get("endpoint", {}), "_gate": SharedLimit(semaphore, name)}
                worker_options = {**options, "endpoint": endpoint}
            handle = ray.remote(_EpisodeWorker).options(num_cpus=self.cpus_per_worker).remote(worker_options)
            if slot < len(self.handles):
                self.handles[slot], names[slot] = handle, name
            else:
                self.handles.append(handle)
                names.append(name)

        failures: collections.Counter[int] = collections.Counter()  # per chunk: its workers that died
        in_flight: dict[Any, tuple[int, Any, int]] = {}  # task ref -> (slot, worker, chunk)

        def submit(slot: int) -> None:
            if tasks:
                chunk = tasks.popleft()
                in_flight[self.handles[slot].play.remote(*chunks[chunk])] = (slot, self.handles[slot], chunk)

        self.handles = []
        try:
            for slot in range(count):
                start(slot)
            for _ in range(self.pipeline):
                for slot in range(count):
                    submit(slot)
            while in_flight:
                [ref], _ = ray.wait(list(in_flight), num_returns=1)
                slot, handle, chunk = in_flight.pop(ref)
                try:
                    records = ray.get(ref)
                except ray.exceptions.RayTaskError as error:
                    raise error.as_instanceof_cause() from None
                except ray.exceptions.RayActorError as error:
                    failures[chunk] += 1
                    if failures[chunk] >= self.max_chunk_failures:
                        cell, seeds = chunks[chunk]
                        raise RuntimeError(
                            f"{cell.label} seeds {seeds} lost their worker {failures[chunk]} times: {error}"
                        ) from error
                    if self.handles[slot] is handle:  # the first of its chunks to fail: replace it
                        if semaphore is not None:
                            ray.get(semaphore.forget.remote(names[slot]))
                        start(slot)
                    tasks.appendleft(chunk)
                    self.stats.redone += 1
                    submit(slot)
                    continue
                self.stats.chunks += 1
                submit(slot)
                for record in records:
                    yield chunks[chunk][0], record
        finally:
            for handle in self.handles:
                ray.kill(handle)
            if semaphore is not None:
                ray.kill(semaphore)
            self.handles = []


# ----- envs in Ray actors ------------------------------------------------------------------------


class _EnvHost:
    """A Ray actor holding envs, addressed by their index in it."""

    def __init__(self, env_fns: Sequence[Callable[[], gym.Env]] = ()):
        self.envs = [env_fn() for env_fn in env_fns]

    def add(self, env_fn: Callable[[], gym.Env]) -> int:
        self.envs.append(env_fn())
        return len(self.envs) - 1

    def describe(self, indices: list[int]) -> list[tuple[gym.Space, gym.Space, dict[str, Any], str | None]]:
        envs = [self.envs[i] for i in indices]
        return [(env.observation_space, env.action_space, env.metadata, env.render_mode) for env in envs]

    def reset(self, indices: list[int], seeds: list[int | None], options: dict[str, Any] | None) -> list[tuple]:
        return [self.envs[i].reset(seed=seed, options=options) for i, seed in zip(indices, seeds)]

    def step(self, indices: list[int], actions: list[Any], autoreset: list[bool], mode: str) -> list[tuple]:
        """Each env's ``(obs, reward, terminated, truncated, info, final)`` as ``SyncVectorEnv``
        computes it in ``mode``; ``final`` is ``(final_obs, final_info)`` where SAME_STEP reset."""
        results: list[tuple] = []
        for i, action, reset in zip(indices, actions, autoreset):
            env, final = self.envs[i], None
            if mode == AutoresetMode.NEXT_STEP.value and reset:
                observation, info = env.reset()
                results.append((observation, 0.0, False, False, info, None))
                continue
            observation, reward, terminated, truncated, info = env.step(action)
            if mode == AutoresetMode.SAME_STEP.value and (terminated or truncated):
                final = (observation, info)
                observation, info = env.reset()
            results.append((observation, reward, terminated, truncated, info, final))
        return results

    def call(self, indices: list[int], layer: str, name: str, args: tuple, kwargs: dict[str, Any]) -> list[Any]:
        """``name`` of each env (``layer``: ``"wrapper"``, the outermost that has it, ``"unwrapped"``
        or ``"presentation"``), called with the arguments if it is callable."""
        results = []
        for i in indices:
            env = self.envs[i]
            if layer == "wrapper":
                value = env.get_wrapper_attr(name)
            else:
                value = getattr(env.unwrapped if layer == "unwrapped" else presentation_of(env), name)
            results.append(value(*args, **kwargs) if callable(value) else value)
        return results

    def set_attr(self, indices: list[int], values: list[Any], name: str) -> list[None]:
        for i, value in zip(indices, values):
            self.envs[i].set_wrapper_attr(name, value)
        return [None] * len(indices)

    def render(self, indices: list[int]) -> list[Any]:
        return [self.envs[i].render() for i in indices]

    def close(self) -> None:
        for env in self.envs:
            env.close()


def _start_hosts(count: int, cpus: float, env_fns: Sequence[Sequence[Callable[[], gym.Env]]] | None = None) -> list:
    _check_fits(count, cpus)
    actor = _ray().remote(_EnvHost).options(num_cpus=cpus)
    return [actor.remote(env_fns[k] if env_fns else ()) for k in range(count)]


class RayVectorEnv(VectorEnv):
    """A vector env whose sub-envs live in Ray actors: ``workers`` actors, each holding a
    contiguous slice of ``env_fns`` and stepping it while the others step theirs.

    It behaves exactly as ``gymnasium.vector.SyncVectorEnv(env_fns, autoreset_mode=...)``: the
    same seeds per sub-env on ``reset`` (``seed + i`` for an int), the same autoreset (NEXT_STEP
    by default, SAME_STEP with ``final_obs``/``final_info``, or DISABLED with
    ``options["reset_mask"]``), the same batched infos with their ``_key`` masks, and ``call``,
    ``get_attr`` and ``set_attr`` over the sub-envs. Observations are the tuple of texts that
    Gymnasium batches a ``Text`` space into. If a worker dies its envs' states are gone, and the
    next call raises ``ray.exceptions.RayActorError``.

    Args:
        env_fns: functions that make the sub-envs (pickled to the actors).
        workers: actors (default: one per sub-env, at most the cluster's free CPUs).
        autoreset_mode: as ``SyncVectorEnv``'s.
        cpus_per_worker: CPUs each actor reserves.
        address: the cluster to join (see ``connect``).
    """

    def __init__(
        self,
        env_fns: Sequence[Callable[[], gym.Env]],
        workers: int | None = None,
        autoreset_mode: str | AutoresetMode = AutoresetMode.NEXT_STEP,
        cpus_per_worker: float = 1.0,
        address: str | None = None,
    ):
        super().__init__()
        if not env_fns:
            raise ValueError("RayVectorEnv needs at least one env function")
        connect(address)
        self.autoreset_mode = AutoresetMode(autoreset_mode)
        self.num_envs = len(env_fns)
        count = min(self.num_envs, _worker_count(workers, cpus_per_worker))
        bounds = [self.num_envs * k // count for k in range(count + 1)]
        self._slices = [range(bounds[k], bounds[k + 1]) for k in range(count)]
        self._hosts = _start_hosts(count, cpus_per_worker, [env_fns[s.start : s.stop] for s in self._slices])
        described = self._gather("describe")
        self.single_observation_space, self.single_action_space, metadata, self.render_mode = described[0]
        for i, (observation_space, action_space, _, _) in enumerate(described):
            if observation_space != self.single_observation_space or action_space != self.single_action_space:
                raise RuntimeError(
                    f"sub-env {i} has spaces {observation_space}, {action_space}; sub-env 0 has "
                    f"{self.single_observation_space}, {self.single_action_space}: RayVectorEnv batches equal spaces"
                )
        self.metadata = {**metadata, "autoreset_mode": self.autoreset_mode}
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self._observations: Any = create_empty_array(self.single_observation_space, n=self.num_envs, fn=np.zeros)
        self._env_obs: list[Any] = [None] * self.num_envs
        self._rewards = np.zeros(self.num_envs, dtype=np.float64)
        self._terminations = np.zeros(self.num_envs, dtype=np.bool_)
        self._truncations = np.zeros(self.num_envs, dtype=np.bool_)
        self._autoreset_envs = np.zeros(self.num_envs, dtype=np.bool_)

    def _gather(self, method: str, per_env: Sequence[Sequence[Any]] = (), *args: Any, only: Any = None) -> list[Any]:
        """Call ``method`` on every actor at once, with its sub-envs' indices, its slices of the
        ``per_env`` lists and ``args``; return the sub-envs' results in order (of the sub-envs
        where the mask ``only`` is true, when given)."""
        ray = _ray()
        refs = []
        for host, indices in zip(self._hosts, self._slices):
            chosen = [i for i in indices if only is None or only[i]]
            if chosen:
                sliced = [[values[i] for i in chosen] for values in per_env]
                refs.append(getattr(host, method).remote([i - indices.start for i in chosen], *sliced, *args))
        return [result for results in ray.get(refs) for result in results]

    def reset(self, *, seed: int | Sequence[int | None] | None = None, options: dict[str, Any] | None = None):
        if seed is None:
            seeds: list[int | None] = [None] * self.num_envs
        elif isinstance(seed, int):
            seeds = [seed + i for i in range(self.num_envs)]
        else:
            seeds = list(seed)
        if len(seeds) != self.num_envs:
            raise ValueError(f"seeds given as a list must number num_envs={self.num_envs}, got {len(seeds)}")
        options = dict(options) if options is not None else None
        mask = np.ones(self.num_envs, dtype=np.bool_)
        if options is not None and "reset_mask" in options:
            mask = options.pop("reset_mask")
            if not isinstance(mask, np.ndarray) or mask.shape != (self.num_envs,) or mask.dtype != np.bool_:
                raise ValueError(f"options['reset_mask'] must be a bool numpy array of shape ({self.num_envs},)")
            if not mask.any():
                raise ValueError("options['reset_mask'] must reset at least one sub-env")
        self._terminations[mask] = False
        self._truncations[mask] = False
        self._autoreset_envs[mask] = False
        infos: dict[str, Any] = {}
        for i, (observation, info) in zip(np.flatnonzero(mask), self._gather("reset", [seeds], options, only=mask)):
            self._env_obs[i] = observation
            infos = self._add_info(infos, info, int(i))
        self._observations = concatenate(self.single_observation_space, self._env_obs, self._observations)
        return copy.deepcopy(self._observations), infos

    def step(self, actions: Any):
        actions = list(iterate(self.action_space, actions))
        if len(actions) != self.num_envs:
            raise ValueError(f"step takes num_envs={self.num_envs} actions, got {len(actions)}")
        if self.autoreset_mode == AutoresetMode.DISABLED and self._autoreset_envs.any():
            ended = np.flatnonzero(self._autoreset_envs).tolist()
            raise RuntimeError(
                f"sub-envs {ended} ended and autoreset is disabled: reset them with options['reset_mask']"
            )
        results = self._gather("step", [actions, self._autoreset_envs.tolist()], self.autoreset_mode.value)
        infos: dict[str, Any] = {}
        for i, (observation, reward, terminated, truncated, info, final) in enumerate(results):
            self._env_obs[i] = observation
            self._rewards[i], self._terminations[i], self._truncations[i] = reward, terminated, truncated
            if final is not None:
                infos = self._add_info(infos, {"final_obs": final[0], "final_info": final[1]}, i)
            infos = self._add_info(infos, info, i)
        self._observations = concatenate(self.single_observation_space, self._env_obs, self._observations)
        self._autoreset_envs = np.logical_or(self._terminations, self._truncations)
        return (
            copy.deepcopy(self._observations),
            np.copy(self._rewards),
            np.copy(self._terminations),
            np.copy(self._truncations),
            infos,
        )

    def call(self, name: str, *args: Any, **kwargs: Any) -> tuple[Any, ...]:
        """``name`` of every sub-env (its outermost wrapper that has it), called if callable."""
        return tuple(self._gather("call", [], "wrapper", name, args, kwargs))

    def get_attr(self, name: str) -> tuple[Any, ...]:
        return self.call(name)

    def set_attr(self, name: str, values: list[Any] | tuple[Any, ...] | Any) -> None:
        if not isinstance(values, (list, tuple)):
            values = [values] * self.num_envs
        if len(values) != self.num_envs:
            raise ValueError(f"set_attr takes one value or num_envs={self.num_envs} values, got {len(values)}")
        self._gather("set_attr", [list(values)], name)

    def render(self) -> tuple[Any, ...]:
        return tuple(self._gather("render"))

    def close_extras(self, **kwargs: Any) -> None:
        ray = _ray()
        try:
            ray.get([host.close.remote() for host in self._hosts])
        finally:
            for host in self._hosts:
                ray.kill(host)


# ----- the trainer's envs in Ray actors ----------------------------------------------------------


class RemoteEnv(gym.Env, Presents):
    """One env that lives in a Ray actor, used like the env itself: ``reset``, ``step``, its
    presentation (``presentation_of`` works on it) and its core env's methods through
    ``unwrapped`` (``oracle_action()``, ``admissible_commands()``). Each call is one round trip."""

    def __init__(self, host: Any, index: int):
        self._host, self._index = host, index
        [(self.observation_space, self.action_space, self.metadata, self.render_mode)] = _ray().get(
            host.describe.remote([index])
        )

    def _call(self, layer: str, name: str, *args: Any, **kwargs: Any) -> Any:
        return _ray().get(self._host.call.remote([self._index], layer, name, args, kwargs))[0]

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        return _ray().get(self._host.reset.remote([self._index], [seed], options))[0]

    def step(self, action: Any):
        return _ray().get(self._host.step.remote([self._index], [action], [False], AutoresetMode.DISABLED.value))[0][:5]

    @property
    def unwrapped(self) -> Any:  # the core env, as method calls forwarded to the actor
        return _Forwarded(self, "unwrapped")

    @property
    def presentation(self) -> Presentation:
        grammar, instructions, action_list, numbered = (
            self._call("presentation", name) for name in ("grammar", "instructions", "action_list", "numbered")
        )
        forwarded = _Forwarded(self, "presentation")
        return Presentation(
            grammar=grammar,
            instructions=instructions,
            render_view=forwarded.render_view,
            action_list=action_list,
            action_list_text=forwarded.action_list_text,
            format_command=forwarded.format_command,
            parse_action=forwarded.parse_action,
            numbered=numbered,
        )

    def close(self) -> None:
        """The env stays in its actor until ``RayEnvPool.close``."""


class _Forwarded:
    """Methods of one layer of a ``RemoteEnv``, called in its actor."""

    def __init__(self, env: RemoteEnv, layer: str):
        self._env, self._layer = env, layer

    def __getattr__(self, name: str) -> Callable[..., Any]:
        return lambda *args, **kwargs: self._env._call(self._layer, name, *args, **kwargs)


class RayEnvPool(EnvPool):
    """The RFT trainer's env pool with every env made in one of ``workers`` Ray actors, in turn.
    The trainer plays them as it plays local envs, so its episodes are the same; what moves is
    where the envs' work runs (CPU nodes beside a GPU one)."""

    def __init__(self, workers: int, cpus_per_worker: float = 1.0, address: str | None = None):
        super().__init__()
        connect(address)
        self._hosts = _start_hosts(_worker_count(workers, cpus_per_worker), cpus_per_worker)
        self._made = 0

    def make(self, cell: Cell) -> RemoteEnv:
        """A new env of ``cell`` in the next actor; a bad cell raises ``ValueError`` here."""
        if cell not in self.envs:  # a bad cell fails in this process, with its own message
            make_env(cell).close()
        host = self._hosts[self._made % len(self._hosts)]
        self._made += 1
        return RemoteEnv(host, _ray().get(host.add.remote(lambda: make_env(cell))))

    def close(self) -> None:
        """Stop the actors (and with them every env)."""
        ray = _ray()
        for host in self._hosts:
            ray.kill(host)
        self._hosts = []
        self.envs.clear()
