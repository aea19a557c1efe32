"""Evaluation grid: resume after a kill, the endpoint agent on a loopback server, a local HF model."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import gymnasium as gym
import pytest

from llm_gym.baselines.endpoint import ChatEndpointAgent, EndpointError
from llm_gym.baselines.evaluation import Cell, evaluate, run_episode
from llm_gym.testing import oracle_actions


def _read(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_resume_after_a_kill_loses_and_repeats_nothing(tmp_path):
    cells = [Cell("llm_gym/TextCraft-v0", "easy", "random"), Cell("llm_gym/TextCraft-v0", "medium", "oracle")]
    whole = evaluate(cells, 5, tmp_path / "whole")
    killed = tmp_path / "killed"
    evaluate(cells, 5, killed)
    lines = (killed / "episodes.jsonl").read_text().splitlines(keepends=True)
    (killed / "episodes.jsonl").write_text("".join(lines[:6]) + lines[6][:40])  # a torn line, as after a kill
    resumed = evaluate(cells, 5, killed)
    assert resumed == whole
    records = _read(killed / "episodes.jsonl")
    assert len(records) == 10
    key = lambda r: (r["difficulty"], r["seed"])  # noqa: E731
    assert sorted(map(key, records)) == sorted(map(key, _read(tmp_path / "whole" / "episodes.jsonl")))


class _ChatServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, replies, fail_first=0, delay=0.0):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.replies, self.fail_first, self.delay = replies, fail_first, delay
        self.requests, self.in_flight, self.most_in_flight = [], 0, 0
        self.lock = threading.Lock()


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_POST(self):
        server = self.server
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with server.lock:
            server.requests.append((self.path, self.headers.get("Authorization"), body))
            server.in_flight += 1
            server.most_in_flight = max(server.most_in_flight, server.in_flight)
            failing = len(server.requests) <= server.fail_first
        time.sleep(server.delay)
        with server.lock:
            server.in_flight -= 1
        if failing:
            self.send_response(503)
            self.end_headers()
            return
        turn = sum(1 for m in body["messages"] if m["role"] == "user") - 1
        reply = server.replies[min(turn, len(server.replies) - 1)]
        payload = json.dumps({"choices": [{"message": {"role": "assistant", "content": reply}}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


@pytest.fixture
def serve():
    servers = []

    def start(*args, **kwargs):
        server = _ChatServer(*args, **kwargs)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return server, f"http://127.0.0.1:{server.server_address[1]}/v1"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def test_endpoint_agent_plays_an_episode_with_retries(serve, monkeypatch):
    monkeypatch.setenv("TEST_KEY", "secret")
    server, url = serve(oracle_actions(gym.make("llm_gym/TextCraft-v0", difficulty="medium"), 2), fail_first=2)
    agent = ChatEndpointAgent(url, "tiny", api_key_env="TEST_KEY", retries=3, backoff=0.01)
    env = gym.make("llm_gym/TextCraft-v0", difficulty="medium")
    record = run_episode(env, agent, seed=2)
    assert record["outcome"] == "success"
    path, auth, body = server.requests[-1]
    assert path == "/v1/chat/completions" and auth == "Bearer secret" and body["model"] == "tiny"
    assert body["messages"][0]["role"] == "system" and "Commands" in body["messages"][0]["content"]
    assert not body["messages"][1]["content"].startswith(body["messages"][0]["content"])


def test_endpoint_agent_gives_up_with_a_clear_error(serve):
    server, url = serve(["inventory"], delay=0.5)
    agent = ChatEndpointAgent(url, "tiny", timeout=0.1, retries=1, backoff=0.01)
    with pytest.raises(EndpointError, match="gave no reply"):
        agent.act("hello", {"instructions": ""})
    with pytest.raises(EndpointError, match="URLError|ConnectionRefused"):
        ChatEndpointAgent("http://127.0.0.1:9/v1", "tiny", retries=0).act("hello", {})
    with pytest.raises(ValueError, match="http"):
        ChatEndpointAgent("localhost:8000", "tiny")


def test_endpoint_concurrency_is_bounded_in_a_threaded_evaluation(serve, tmp_path):
    server, url = serve(["inventory"], delay=0.05)
    cell = Cell("llm_gym/TextCraft-v0", "easy", f"endpoint:tiny@{url}")
    rows = evaluate([cell], 6, tmp_path, workers=4, agent_options={"endpoint": {"max_concurrency": 2}})
    assert rows[0]["episodes"] == 6 and rows[0]["success_rate"] == 0.0
    assert 1 <= server.most_in_flight <= 2


def test_local_hf_model_agent_plays_batched(tmp_path):
    torch = pytest.importorskip("torch")
    from llm_gym.baselines.tiny import build_tiny

    torch.set_num_threads(1)
    env = gym.make("llm_gym/TextCraft-v0")
    observation, info = env.reset(seed=0)
    corpus = [observation, " ".join(info["admissible_actions"])] * 4
    path = build_tiny(tmp_path / "tiny", corpus, vocab_size=300, hidden=32, layers=1, heads=2, kv_heads=1)
    cell = Cell("llm_gym/TextCraft-v0", "easy", f"hf:{path}", max_turns=4)
    options = {"hf": {"max_new_tokens": 6}}
    first = evaluate([cell], 4, tmp_path / "a", agent_options=options, batch_size=4)
    second = evaluate([cell], 4, tmp_path / "b", agent_options=options, batch_size=4)
    assert first == second and first[0]["episodes"] == 4
    records = _read(tmp_path / "a" / "episodes.jsonl")
    assert all(isinstance(action, str) for r in records for action in r["actions"])
    with pytest.raises(ValueError, match="not a Hugging Face checkpoint|lacks"):
        evaluate([Cell("llm_gym/TextCraft-v0", "easy", f"hf:{tmp_path}")], 1, tmp_path / "c")


def test_model_defined_difficulty_split(tmp_path):
    from llm_gym.baselines.splits import split_by_reference
    from llm_gym.cli import main

    cell = Cell("llm_gym/TextCraft-v0", "medium", "random")
    split = split_by_reference(cell, list(range(12)), samples=3, threshold=0.5)
    assert sorted(split["easy"] + split["hard"]) == list(range(12))
    assert all(split["success_rate"][s] >= 0.5 for s in split["easy"])
    assert all(split["success_rate"][s] < 0.5 for s in split["hard"])
    assert split_by_reference(cell, list(range(12)), samples=3) == split
    oracle = split_by_reference(Cell("llm_gym/TextCraft-v0", "hard", "oracle"), list(range(5)))
    assert oracle["easy"] == list(range(5)) and oracle["hard"] == []
    with pytest.raises(ValueError, match="samples"):
        split_by_reference(cell, [0], samples=0)
    out = tmp_path / "split.json"
    assert (
        main(
            [
                "split",
                "--env",
                "TextCraft",
                "--difficulty",
                "medium",
                "--tasks",
                "6",
                "--samples",
                "2",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    assert set(json.loads(out.read_text())) >= {"easy", "hard", "success_rate"}


def test_a_split_by_goal_never_puts_one_goal_on_both_sides(tmp_path):
    from llm_gym.cli import main
    from llm_gym.core import goal_digest, text_env_of

    out = tmp_path / "goals.json"
    assert (
        main(
            ["split", "--by", "goal", "--env", "Household", "--difficulty", "easy", "--tasks", "300", "--out", str(out)]
        )
        == 0
    )
    split = json.loads(out.read_text())
    assert sorted(split["train"] + split["test"]) == list(range(300)) and split["train"] and split["test"]
    sides = {digest: {s in split["test"] for s in seeds} for digest, seeds in split["goals"].items()}
    assert all(len(side) == 1 for side in sides.values()) and len(sides) < 300  # some goals recur
    env = Cell("llm_gym/Household-v0", "easy").make_env()
    env.reset(seed=split["test"][0])
    digest = goal_digest(text_env_of(env).task.goal_text)
    assert split["test"][0] in split["goals"][digest] and f":g{digest}:" in text_env_of(env).task_id
    from llm_gym.baselines.splits import split_by_goal

    half = split_by_goal(Cell("llm_gym/Household-v0", "easy"), list(range(150)))  # a goal keeps its side
    assert all(sides[digest] == {s in half["test"] for s in seeds} for digest, seeds in half["goals"].items())
    with pytest.raises(ValueError, match="test_share"):
        split_by_goal(Cell("llm_gym/Household-v0", "easy"), [0], test_share=1.0)
