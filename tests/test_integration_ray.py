"""Ray: the evaluation grid on Ray workers equals the local one (any worker count, a killed worker,
a resumed log), endpoint agents keep one limit over workers, the Ray vector env steps exactly like
SyncVectorEnv, and the trainer plays envs in Ray actors as it plays local ones."""

import json
import random
import shutil
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import gymnasium as gym
import numpy as np
import pytest

from llm_gym.baselines.cells import Cell
from llm_gym.baselines.evaluation import evaluate

ray = pytest.importorskip("ray", reason='pip install "llm-gym[ray]"')
from llm_gym.integrations.ray import RayBackend, RayEnvPool, RayVectorEnv  # noqa: E402

# BabyAI first: its episodes are the slowest (about 0.1 s), so a worker killed early has one in hand.
GRID = [
    Cell("llm_gym/BabyAI-v0", "easy", "random"),
    Cell("llm_gym/TextCraft-v0", "easy", "random"),
    Cell("llm_gym/TextCraft-v0", "medium", "oracle", interface="json+tagged"),
    Cell("llm_gym/Household-v0", "easy", "random", max_turns=12),
]
EPISODES = 4


@pytest.fixture(scope="module", autouse=True)
def cluster():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def local_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("local")
    evaluate(GRID, EPISODES, out)
    return out


def _lines(out):
    return sorted((out / "episodes.jsonl").read_text().splitlines())


def _assert_same_run(out, local_run):
    assert _lines(out) == _lines(local_run)  # the same episodes, whatever order they finished in
    assert (out / "summary.csv").read_text() == (local_run / "summary.csv").read_text()


@pytest.mark.parametrize("workers, chunk_size", [(1, 1), (2, 3)])
def test_ray_eval_writes_what_the_local_backend_writes(tmp_path, local_run, workers, chunk_size):
    backend = RayBackend(workers=workers, chunk_size=chunk_size)
    rows = evaluate(GRID, EPISODES, tmp_path, backend=backend)
    _assert_same_run(tmp_path, local_run)
    assert [row["episodes"] for row in rows] == [EPISODES] * len(GRID)
    assert backend.stats.chunks == len(GRID) * -(-EPISODES // chunk_size) and backend.stats.redone == 0


class _KillsTheWorkers(RayBackend):
    """Kills every worker (a forced kill: running and queued chunks are lost) after the first record.
    BabyAI's chunk takes long, so one of them is still running at the kill."""

    def play(self, pending, options, batch_size):
        for count, item in enumerate(super().play(pending, options, batch_size)):
            if count == 0:
                for handle in self.handles:
                    ray.kill(handle)
            yield item


def test_killed_workers_lose_no_finished_episode(tmp_path, local_run):
    backend = _KillsTheWorkers(workers=2)
    evaluate(GRID, EPISODES, tmp_path, backend=backend)
    _assert_same_run(tmp_path, local_run)
    assert backend.stats.redone >= 1 and backend.stats.workers_started >= 3
    assert len(_lines(tmp_path)) == len(GRID) * EPISODES  # none written twice


def test_ray_eval_resumes_a_torn_log(tmp_path, local_run):
    shutil.copytree(local_run, tmp_path, dirs_exist_ok=True)
    lines = (tmp_path / "episodes.jsonl").read_text().splitlines(keepends=True)
    (tmp_path / "episodes.jsonl").write_text("".join(lines[:5]) + lines[5][:30])
    backend = RayBackend(workers=2, chunk_size=1)
    evaluate(GRID, EPISODES, tmp_path, backend=backend)
    _assert_same_run(tmp_path, local_run)
    assert backend.stats.chunks == len(lines) - 5  # only the missing episodes were played


def test_bad_worker_counts_are_refused():
    with pytest.raises(ValueError, match="workers must be a positive integer"):
        RayBackend(workers=0)
    with pytest.raises(ValueError, match="cannot all start on a cluster of 2 CPUs"):
        list(RayBackend(workers=3, chunk_size=1).play([(GRID[1], [0, 1, 2])], {}, 16))


# ----- endpoint agents: one concurrency limit over every worker ----------------------------------


class _ChatServer(ThreadingHTTPServer):
    """An OpenAI-compatible stub that counts the requests in flight. With ``pair_wait``, requests
    wait (up to that long) until two have been in flight at once, so two concurrent clients overlap
    for sure however late the second starts (a loaded machine starts a Ray worker in seconds)."""

    daemon_threads = True

    def __init__(self, delay=0.0, pair_wait=0.0):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.delay, self.pair_wait = delay, pair_wait
        self.requests = self.in_flight = self.most_in_flight = 0
        self.changed = threading.Condition()


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_POST(self):
        server = self.server
        self.rfile.read(int(self.headers["Content-Length"]))
        with server.changed:
            server.requests += 1
            server.in_flight += 1
            server.most_in_flight = max(server.most_in_flight, server.in_flight)
            server.changed.notify_all()
            server.changed.wait_for(lambda: server.most_in_flight >= 2, timeout=server.pair_wait)
        time.sleep(server.delay)
        with server.changed:
            server.in_flight -= 1
        payload = json.dumps({"choices": [{"message": {"role": "assistant", "content": "inventory"}}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


@pytest.mark.parametrize("limit, server_settings", [(1, {"delay": 0.02}), (2, {"pair_wait": 20.0})])
def test_endpoint_agents_share_one_limit_over_workers(tmp_path, limit, server_settings):
    server = _ChatServer(**server_settings)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/v1"
        cell = Cell("llm_gym/TextCraft-v0", "easy", f"endpoint:tiny@{url}", max_turns=3)
        options = {"endpoint": {"max_concurrency": limit, "retries": 0}}
        rows = evaluate([cell], 4, tmp_path, agent_options=options, backend=RayBackend(workers=2, chunk_size=1))
    finally:
        server.shutdown()
        server.server_close()
    assert rows[0]["episodes"] == 4 and server.requests == 4 * 3
    assert server.most_in_flight == limit  # 2 workers, yet never more than the limit at once


# ----- the vector env -----------------------------------------------------------------------------


def _env_fns():
    return [
        lambda: gym.make("llm_gym/TextCraft-v0", max_turns=6),
        lambda: gym.make("llm_gym/TextCraft-v0", theme="cooking", max_turns=7),
        lambda: gym.make("llm_gym/TextCraft-v0", max_turns=8),
    ]


def _assert_equal(a, b, where="result"):
    assert type(a) is type(b), where
    if isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for key in a:
            _assert_equal(a[key], b[key], f"{where}[{key!r}]")
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape, where
        if a.dtype == object:
            for i, (x, y) in enumerate(zip(a, b)):
                _assert_equal(x, y, f"{where}[{i}]")
        else:
            assert np.array_equal(a, b), where
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            _assert_equal(x, y, f"{where}[{i}]")
    else:
        assert a == b, where


def _actions(infos, rng):
    """A mix of admissible commands and text no parser reads, the same for both vector envs."""
    return tuple(
        rng.choice(list(actions)) if rng.random() < 0.8 else "flap wings" for actions in infos["admissible_actions"]
    )


@pytest.mark.parametrize("mode", ["NextStep", "SameStep"])
def test_vector_env_steps_like_sync_vector_env(mode):
    sync = gym.vector.SyncVectorEnv(_env_fns(), autoreset_mode=mode)
    remote = RayVectorEnv(_env_fns(), workers=2, autoreset_mode=mode)
    try:
        assert remote.observation_space == sync.observation_space and remote.action_space == sync.action_space
        assert remote.metadata["autoreset_mode"] == sync.metadata["autoreset_mode"]
        first = sync.reset(seed=7)
        _assert_equal(remote.reset(seed=7), first, "reset")
        rng, infos, ended = np.random.default_rng(0), first[1], 0
        for step in range(14):
            actions = _actions(infos, rng)
            expected = sync.step(actions)
            _assert_equal(remote.step(actions), expected, f"step {step}")
            infos, ended = expected[4], ended + int(np.sum(expected[2] | expected[3]))
        assert ended >= 4  # autoresets happened, in every sub-env
        _assert_equal(remote.call("oracle_action"), sync.call("oracle_action"), "call")
        remote.set_attr("note", ["a", "b", "c"])
        assert remote.get_attr("note") == ("a", "b", "c")
        with pytest.raises(ValueError, match="takes num_envs=3 actions"):
            remote.step(("inventory",) * 2)
    finally:
        remote.close()
        sync.close()


def test_vector_env_with_autoreset_disabled_resets_by_mask():
    sync = gym.vector.SyncVectorEnv(_env_fns(), autoreset_mode="Disabled")
    remote = RayVectorEnv(_env_fns(), workers=2, cpus_per_worker=0.5, autoreset_mode="Disabled")
    try:
        _assert_equal(remote.reset(seed=[3, 8, 5]), sync.reset(seed=[3, 8, 5]), "reset")
        for step in range(6):  # the first sub-env reaches its 6-turn limit
            _assert_equal(remote.step(("look",) * 3), sync.step(("look",) * 3), f"step {step}")
        with pytest.raises(RuntimeError, match=r"sub-envs \[0\] ended"):
            remote.step(("look",) * 3)
        mask = np.array([True, False, False])
        _assert_equal(
            remote.reset(seed=11, options={"reset_mask": mask}), sync.reset(seed=11, options={"reset_mask": mask})
        )
        _assert_equal(remote.step(("inventory",) * 3), sync.step(("inventory",) * 3), "after the masked reset")
    finally:
        remote.close()
        sync.close()


# ----- the trainer's envs in Ray actors -------------------------------------------------------


def test_trainer_plays_remote_envs_as_local_ones():
    torch = pytest.importorskip("torch")
    from llm_gym.baselines.rollout import ChatCodec, oracle_episode, rollout, sampling_generator
    from llm_gym.baselines.tiny import build_model, build_tokenizer, env_corpus
    from llm_gym.baselines.trainer import Args, EnvPool

    torch.set_num_threads(1)
    cell = Cell("llm_gym/TextCraft-v0", "easy", interface="json+tagged", max_turns=4)
    local, remote = EnvPool(), RayEnvPool(workers=2)
    try:
        corpus = env_corpus(local.take(cell, 1), 3, seed=0)
        assert env_corpus(remote.take(cell, 1), 3, seed=0) == corpus  # presentation_of and unwrapped, remotely
        tokenizer = build_tokenizer(corpus, 300)
        model = build_model(tokenizer, hidden=32, layers=1, heads=2, kv_heads=1).eval()
        codec = ChatCodec(tokenizer, drop_instructions=True)
        warm = [oracle_episode(pool.take(cell, 1)[0], codec, 5, 0.3, random.Random(0)) for pool in (local, remote)]
        assert warm[0].ids == warm[1].ids and warm[0].mask == warm[1].mask and warm[0].success
        played = [
            rollout(
                model,
                codec,
                [(env, 100 + i // 2, i // 2) for i, env in enumerate(pool.take(cell, 4))],
                8,
                sampling_generator(1),
            )
            for pool in (local, remote)
        ]
        for here, there in zip(*played):
            assert (here.ids, here.mask, here.rewards, here.statuses) == (
                there.ids,
                there.mask,
                there.rewards,
                there.statuses,
            )
        with pytest.raises(ValueError, match="bad cell"):
            remote.take(Cell("llm_gym/TextCraft-v0", "impossible"), 1)
    finally:
        remote.close()
    with pytest.raises(ValueError, match="Args.backend = 'spark' is invalid"):
        Args(backend="spark")
    with pytest.raises(ValueError, match="env_workers"):
        Args(backend="ray", env_workers=0)


def test_cli_eval_backend_ray(tmp_path, capsys):
    from llm_gym.cli import main

    grid = ["eval", "--env", "TextCraft", "--difficulty", "easy", "--episodes", "3", "--quiet"]
    assert main([*grid, "--out", str(tmp_path / "local")]) == 0
    assert main([*grid, "--out", str(tmp_path / "ray"), "--backend", "ray", "--workers", "2"]) == 0
    _assert_same_run(tmp_path / "ray", tmp_path / "local")
    assert main([*grid, "--out", str(tmp_path / "x"), "--address", "auto"]) == 2
    assert "--address names a Ray cluster; it needs --backend ray" in capsys.readouterr().err
