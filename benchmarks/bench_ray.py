"""The README's main job (``llm-gym eval`` defaults) on the local backend and on Ray, in episodes/s.

1. Start-up: ``ray.init`` of a local cluster of ``--cpus`` CPUs.
2. The main job: random and oracle on every registered env and preset, ``--episodes`` paired
   episodes each (20, the default of ``llm-gym eval``; ``--env`` for a subset), played by the
   local backend and by ``RayBackend`` with 1 and 2 workers. Each Ray figure includes starting
   its workers; the summaries must equal the local one (the script stops otherwise). The CPU
   time of this process per episode is the work of an episode on the local backend, and the
   driver's share (its bound on scaling) on Ray.
3. The overhead Ray adds per episode: ``--overhead-episodes`` TextCraft easy episodes of the
   random agent (about 3 ms each here, so the cost of a task shows), local vs one Ray worker at
   several chunk sizes (episodes per Ray task), timed from the worker's first record to its last.
4. The vector env: ms per step of ``--vector-envs`` TextCraft, SearchQA and TextWorld envs, ``SyncVectorEnv``
   vs ``RayVectorEnv`` with 2 workers (the observations must agree).

Run: ``python benchmarks/bench_ray.py [--episodes 20] [--env TextCraft BabyAI] [--cpus 2]``
"""

from __future__ import annotations

import argparse
import tempfile
import time
from functools import partial
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=20)
    parser.add_argument("--env", nargs="+", help="families (default: every registered env, as llm-gym eval)")
    parser.add_argument("--cpus", type=int, default=2, help="CPUs of the local Ray cluster")
    parser.add_argument("--overhead-episodes", type=int, default=400)
    parser.add_argument("--vector-envs", type=int, default=8)
    parser.add_argument("--vector-steps", type=int, default=200)
    options = parser.parse_args()

    import gymnasium as gym
    import ray

    from llm_gym.baselines.agents import BUILTIN_AGENTS
    from llm_gym.baselines.cells import Cell
    from llm_gym.baselines.evaluation import evaluate
    from llm_gym.integrations.ray import RayBackend, RayVectorEnv
    from llm_gym.registry import env_class, env_ids, resolve_id

    ids = [resolve_id(name) for name in options.env] if options.env else env_ids()
    cells = [Cell(i, preset, agent) for i in ids for preset in env_class(i).presets for agent in BUILTIN_AGENTS]
    total = len(cells) * options.episodes
    out = Path(tempfile.mkdtemp(prefix="bench_ray_"))

    started = time.perf_counter()
    ray.init(num_cpus=options.cpus, include_dashboard=False, log_to_driver=False, configure_logging=False)
    print(f"ray.init (local cluster, {options.cpus} CPUs): {time.perf_counter() - started:.1f} s")

    evaluate(cells[:1], 1, out / "warm")  # imports and first-use caches, outside every timing
    print(f"\nmain job: {len(cells)} cells ({len(ids)} envs x presets x {list(BUILTIN_AGENTS)}), {total} episodes")
    runs = [("local", None)] + [(f"ray, {n} worker{'s' * (n > 1)}", RayBackend(workers=n)) for n in (1, 2)]
    local_seconds = None
    for name, backend in runs:
        started, cpu_started = time.perf_counter(), time.process_time()
        evaluate(cells, options.episodes, out / name, backend=backend)
        seconds, cpu_ms = time.perf_counter() - started, (time.process_time() - cpu_started) / total * 1e3
        local_seconds = local_seconds or seconds
        if (out / name / "summary.csv").read_text() != (out / "local" / "summary.csv").read_text():
            raise SystemExit(f"{name}: summary.csv differs from the local one")
        print(
            f"  {name:<15} {seconds:7.1f} s  {total / seconds:6.1f} episodes/s  x{local_seconds / seconds:.2f} of local  "
            f"this process's CPU {cpu_ms:5.1f} ms/episode  (summary.csv identical)"
        )

    n = options.overhead_episodes
    cell = Cell("llm_gym/TextCraft-v0", "easy", "random")
    started = time.perf_counter()
    evaluate([cell], n, out / "overhead-local")
    local_ms = (time.perf_counter() - started) / n * 1e3
    print(f"\noverhead: {n} TextCraft easy random episodes; Ray timed from its first record to its last")
    print(f"  local                     {local_ms:6.2f} ms/episode")
    for chunk_size in (1, 4, 16):
        backend = _Timed(RayBackend(workers=1, chunk_size=chunk_size))
        evaluate([cell], n, out / f"overhead-ray-{chunk_size}", backend=backend)
        ray_ms = (backend.times[-1] - backend.times[0]) / (n - chunk_size) * 1e3
        print(f"  ray, 1 worker, {chunk_size:>2} a task  {ray_ms:6.2f} ms/episode  (+{ray_ms - local_ms:.2f} ms)")

    print(f"\nvector env: {options.vector_envs} sub-envs, the first admissible action, {options.vector_steps} steps")
    for family in ("TextCraft", "SearchQA", "TextWorld"):
        fns = [lambda family=family: gym.make(f"llm_gym/{family}-v0")] * options.vector_envs
        timings = {}
        variants = [("warm-up", gym.vector.SyncVectorEnv), ("sync", gym.vector.SyncVectorEnv)]
        for name, make in variants + [("ray, 2 workers", partial(RayVectorEnv, workers=2))]:
            envs = make(fns)
            observations, infos = envs.reset(seed=0)
            started = time.perf_counter()
            for _ in range(options.vector_steps):
                observations, _, _, _, infos = envs.step(tuple(actions[0] for actions in infos["admissible_actions"]))
            timings[name] = (time.perf_counter() - started) / options.vector_steps * 1e3, observations
            envs.close()
        if timings["sync"][1] != timings["ray, 2 workers"][1]:
            raise SystemExit(f"{family}: the Ray vector env stepped differently from SyncVectorEnv")
        del timings["warm-up"]  # first plays fill caches (TextWorld compiles its games once, to disk)
        print("  " + f"{family:<10}" + "  ".join(f"{name} {ms:6.2f} ms/step" for name, (ms, _) in timings.items()))
    ray.shutdown()


class _Timed:
    """A backend that notes when each record arrives (so a worker's start-up is left out)."""

    def __init__(self, backend):
        self.backend, self.times = backend, []

    def play(self, pending, options, batch_size):
        for item in self.backend.play(pending, options, batch_size):
            self.times.append(time.perf_counter())
            yield item


if __name__ == "__main__":
    main()
