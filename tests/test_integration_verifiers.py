"""``load_environment`` rolled out by verifiers' own code (``Env.serving``, ``Env.run_slot``, its
interception server) against a loopback OpenAI-compatible stub that replays fixed episodes."""

import asyncio
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

vf = pytest.importorskip("verifiers.v1", reason='needs verifiers>=0.4 (pip install "llm-gym[verifiers]")')

import llm_gym  # noqa: E402
from llm_gym.baselines.agents import OracleAgent  # noqa: E402
from llm_gym.integrations.verifiers import REWARD_NAME, LLMGymEnv, load_environment  # noqa: E402

ENV = "llm_gym/TextCraft-v0"
JUNK = "fly to the moon"


def in_process(seed, policy, **settings):
    """The conversation ``policy`` plays in-process (user observation, assistant action, ...) and its outcome."""
    env = llm_gym.make(ENV, **settings)
    observation, info = env.reset(seed=seed)
    conversation, total, done = [], 0.0, False
    while not done:
        action = policy(env, len(conversation) // 2, observation, info)
        conversation += [{"role": "user", "content": observation}, {"role": "assistant", "content": action}]
        observation, reward, terminated, truncated, info = env.step(action)
        total, done = total + reward, terminated or truncated
    env.close()
    return conversation, total, info["outcome"]


def junk_then_oracle(env, turn, observation, info):
    return JUNK if turn == 0 else OracleAgent(env).act(observation, info)


class ReplayStub(BaseHTTPRequestHandler):
    """``/v1/chat/completions`` answering each conversation that follows a known episode with its next action."""

    episodes: list[list[dict]] = []

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        asked = [{"role": m["role"], "content": m["content"]} for m in body["messages"]]
        reply = "this conversation follows no known episode"
        for episode in self.episodes:
            if episode[: len(asked)] == asked and asked[-1]["role"] == "user":
                reply = episode[len(asked)]["content"]
        completion = {
            "id": "stub",
            "object": "chat.completion",
            "created": 0,
            "model": body["model"],
            "choices": [{"index": 0, "message": {"role": "assistant", "content": reply}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        }
        data = json.dumps(completion).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def stub():
    """A stub endpoint; set ``ReplayStub.episodes`` before rolling out."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), ReplayStub)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/v1"
    server.shutdown()
    thread.join()


def roll_out(env: LLMGymEnv, base_url: str):
    """Every task of the taskset, all at once, as verifiers' eval runner does."""
    ctx = vf.ModelContext(model="stub", client=vf.EvalClientConfig(base_url=base_url, api_key_var="STUB_API_KEY"))

    async def run():
        async with env.serving():
            slots = [slot for task in env.taskset for slot in env.slots(task)]
            return await asyncio.gather(*(env.run_slot(slot, ctx) for slot in slots))

    return asyncio.run(run())


def test_rollouts_reach_success_with_the_reward_llm_gym_gives(stub):
    seeds = [1, 3, 6]
    expected = [in_process(seed, junk_then_oracle, difficulty="medium") for seed in seeds]
    ReplayStub.episodes = [conversation for conversation, _, _ in expected]
    episodes = roll_out(load_environment(ENV, difficulty="medium", seeds=seeds), stub)
    for seed, episode, (conversation, total, outcome) in zip(seeds, episodes, expected):
        assert episode.ok, episode.errors
        (trace,) = episode.traces
        assert outcome == "success" and trace.info["llm_gym"]["outcome"] == "success"
        assert trace.reward == trace.rewards[REWARD_NAME].score == total == 1.0
        assert trace.metrics == {"success": 1.0, "steps": float(len(conversation) // 2)}
        played = [{"role": m.role, "content": m.content} for m in trace.branches[-1].messages]
        assert played == conversation, f"seed {seed}"


def test_an_episode_the_model_cannot_finish_ends_at_the_turn_limit_with_llm_gyms_reward(stub):
    conversation, total, outcome = in_process(5, lambda *_: "inventory", difficulty="easy", max_turns=3)
    ReplayStub.episodes = [conversation]
    (episode,) = roll_out(load_environment(ENV, difficulty="easy", max_turns=3, seeds=[5]), stub)
    (trace,) = episode.traces
    assert episode.ok and outcome == trace.info["llm_gym"]["outcome"] == "truncated"
    assert trace.reward == total == 0.0 and trace.metrics == {"success": 0.0, "steps": 3.0}


def test_the_taskset_is_the_dataset_of_seeds():
    env = load_environment(ENV, difficulty="hard", interface="json", seeds=[4, 9])
    tasks = list(env.taskset)
    reference = llm_gym.make(ENV, difficulty="hard", interface="json")
    assert [task.data.seed for task in tasks] == [4, 9]
    for task in tasks:
        observation, info = reference.reset(seed=task.data.seed)
        assert task.data.prompt == observation and task.data.task_id == info["task_id"]
        assert task.data.name == f"TextCraft-v0:hard:json#{task.data.seed}"
    endless = load_environment(ENV, first_seed=10).taskset
    assert not endless.bounded
    assert [task.data.seed for task in endless.take(3)] == [10, 11, 12]


def test_load_environment_rejects_bad_settings():
    with pytest.raises(ValueError, match=r"unknown setting\(s\) \['dificulty'\]"):
        load_environment(ENV, dificulty="hard")
    with pytest.raises(ValueError, match="Unknown difficulty preset 'nope'"):
        load_environment(ENV, difficulty="nope")
    with pytest.raises(ValueError, match="bad settings"):
        load_environment(ENV, seeds="zero")
    with pytest.raises(ValueError, match=r"(?s)seeds.0.*greater than or equal to 0"):
        load_environment(ENV, seeds=[-1])
