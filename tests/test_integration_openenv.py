"""``llm-gym serve`` on loopback, played with OpenEnv's own client (``LLMGymClient`` subclasses it).

The server is the real command in a subprocess; each trajectory it serves is compared with the
same seed and actions played in-process.
"""

import asyncio
import json
import socket
import subprocess
import sys
import threading
import time

import pytest

pytest.importorskip("openenv", reason='needs OpenEnv (pip install "llm-gym[openenv]")')

import httpx  # noqa: E402
from websockets.asyncio.client import connect  # noqa: E402

import llm_gym  # noqa: E402
from llm_gym.baselines.agents import OracleAgent  # noqa: E402
from llm_gym.cli import main  # noqa: E402
from llm_gym.integrations.openenv import LLMGymAction, LLMGymClient, create_app, json_safe  # noqa: E402

ENV = "llm_gym/TextCraft-v0"
DIFFICULTY = "medium"
SESSIONS = 64
JUNK = "fly to the moon"  # a parse error, played at turn 1 of every episode


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_healthy(url: str, process: subprocess.Popen | None = None, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"llm-gym serve exited with {process.returncode}: {process.stderr.read()}")
        try:
            if httpx.get(f"{url}/health", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{url} did not come up in {timeout} s")


@pytest.fixture(scope="module")
def server():
    """``llm-gym serve`` in a subprocess, at most SESSIONS sessions."""
    port = free_port()
    command = [sys.executable, "-m", "llm_gym.cli", "serve", "TextCraft", "--difficulty", DIFFICULTY]
    command += ["--port", str(port), "--max-sessions", str(SESSIONS)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(url, process)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture(scope="module")
def discrete_server():
    """``create_app`` over a ``kv+discrete`` stack, under uvicorn in a thread."""
    import uvicorn

    app = create_app({"env_id": ENV, "difficulty": "easy", "interface": "kv+discrete"}, max_sessions=4)
    port = free_port()
    runner = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=runner.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(url)
        yield url
    finally:
        runner.should_exit = True
        thread.join(timeout=30)


def in_process(seed: int, difficulty: str = DIFFICULTY, interface: str | None = None):
    """The actions (a junk one at turn 1, then the oracle's) and what the env returned for each."""
    env = llm_gym.make(ENV, difficulty=difficulty, interface=interface)
    agent = OracleAgent(env)
    text, info = env.reset(seed=seed)
    records, actions = [(text, None, False, json_safe(info))], []
    done = False
    while not done:
        action = JUNK if not actions else agent.act(text, info)
        if interface and "discrete" in interface:
            action = 999 if not actions else int(action)
        text, reward, terminated, truncated, info = env.step(action)
        done = terminated or truncated
        actions.append(action)
        records.append((text, reward, done, json_safe(info)))
    env.close()
    return actions, records


def as_record(result):
    observation = result.observation
    assert observation.done == result.done == (observation.terminated or observation.truncated)
    return (observation.text, result.reward, result.done, observation.info)


async def open_sessions(url: str, count: int, first_seed: int = 0):
    clients = [LLMGymClient(base_url=url) for _ in range(count)]
    results = await asyncio.gather(*(client.reset(seed=first_seed + i) for i, client in enumerate(clients)))
    return clients, results


def test_64_concurrent_sessions_replay_their_in_process_trajectories_and_a_65th_is_refused(server):
    expected = [in_process(seed) for seed in range(SESSIONS)]
    assert len({records[0][3]["task_id"] for _, records in expected}) == SESSIONS

    async def play():
        clients, first = await open_sessions(server, SESSIONS)
        served = [[as_record(result)] for result in first]
        extra = LLMGymClient(base_url=server)
        with pytest.raises(RuntimeError, match=f"capacity: {SESSIONS}/{SESSIONS} sessions.*CAPACITY_REACHED"):
            await extra.reset(seed=0)
        await extra.close()
        for turn in range(max(len(actions) for actions, _ in expected)):  # every session steps in lockstep
            playing = [i for i, (actions, _) in enumerate(expected) if turn < len(actions)]
            results = await asyncio.gather(*(clients[i].step(expected[i][0][turn]) for i in playing))
            for i, result in zip(playing, results):
                served[i].append(as_record(result))
        states = await asyncio.gather(*(client.state() for client in clients))
        await asyncio.gather(*(client.close() for client in clients))
        return served, states

    served, states = asyncio.run(play())
    for seed, ((actions, records), trajectory, state) in enumerate(zip(expected, served, states)):
        assert trajectory == records, f"seed {seed}"
        assert records[1][3]["action_status"] == "parse_error" and records[-1][3]["outcome"] == "success"
        assert (state.seed, state.step_count, state.done, state.outcome) == (seed, len(actions), True, "success")
        assert state.total_reward == sum(reward for _, reward, _, _ in records[1:])


def test_a_client_that_disconnects_mid_episode_frees_its_session(server):
    async def play():
        clients, _ = await open_sessions(server, SESSIONS, first_seed=100)
        await clients[0].step("inventory")
        clients[0]._ws.transport.abort()  # a dropped connection: no close message, no close frame
        newcomer = LLMGymClient(base_url=server)
        deadline = time.monotonic() + 10
        while True:  # the server frees the session when it notices the drop
            try:
                result = await newcomer.reset(seed=7)
                break
            except RuntimeError as error:
                assert "CAPACITY_REACHED" in str(error)
                assert time.monotonic() < deadline, "the dropped session was never freed"
                await newcomer.close()
                newcomer = LLMGymClient(base_url=server)
                await asyncio.sleep(0.05)
        neighbour = await clients[1].step("inventory")
        await asyncio.gather(newcomer.close(), *(client.close() for client in clients[1:]))
        return result, neighbour

    result, neighbour = asyncio.run(play())
    assert as_record(result) == in_process(7)[1][0]
    assert neighbour.observation.info["action_status"] == "ok" and not neighbour.done


def test_malformed_payloads_get_a_4xx_with_a_message_and_the_server_keeps_serving(server):
    bad_http = [
        ("/reset", {"seed": -1}),
        ("/reset", {"seed": "seven"}),
        ("/reset", {"seed": 0, "difficulty": "hard"}),
        ("/step", {"action": {"text": "inventory"}}),
        ("/step", {"action": {"action": 1.5}}),
        ("/step", {"nothing": True}),
        ("/step", {"action": {"action": "inventory"}}),  # HTTP /step has no episode: OpenEnv's HTTP is stateless
    ]
    for path, body in bad_http:
        response = httpx.post(f"{server}{path}", json=body)
        assert 400 <= response.status_code < 500 and response.json()["detail"], (path, body, response.text)
    response = httpx.post(f"{server}/step", content=b"{not json", headers={"content-type": "application/json"})
    assert response.status_code == 422 and response.json()["detail"]
    assert "reset first" in httpx.post(f"{server}/step", json={"action": {"action": "inventory"}}).json()["detail"]

    bad_frames = [
        ("not json at all", "INVALID_JSON"),
        (json.dumps({"type": "jump"}), "UNKNOWN_TYPE"),
        (json.dumps({"type": "step", "data": {"action": "inventory"}}), "reset first"),
        (json.dumps({"type": "reset", "data": {"seed": "seven"}}), "seed must be a non-negative integer"),
        (json.dumps({"type": "reset", "data": {"sead": 3}}), "unknown reset argument"),
        (json.dumps({"type": "step", "data": {"verb": "inventory"}}), "VALIDATION_ERROR"),
    ]

    async def play():
        replies = []
        async with connect(server.replace("http", "ws") + "/ws") as websocket:
            for frame, _ in bad_frames:
                await websocket.send(frame)
                replies.append(json.loads(await websocket.recv()))
            await websocket.send(json.dumps({"type": "reset", "data": {"seed": 3}}))
            replies.append(json.loads(await websocket.recv()))
        return replies

    *errors, reset = asyncio.run(play())
    for (frame, expected), reply in zip(bad_frames, errors):
        assert reply["type"] == "error" and expected in json.dumps(reply["data"]), (frame, reply)
    assert reset["type"] == "observation" and reset["data"]["observation"]["text"] == in_process(3)[1][0][0]
    assert httpx.get(f"{server}/health").json()["status"] == "healthy"


def test_http_reset_and_schema_and_the_sync_client_to_the_episode_end(server):
    first = httpx.post(f"{server}/reset", json={"seed": 5}).json()
    assert (first["observation"]["text"], first["reward"], first["done"]) == in_process(5)[1][0][:3]
    schema = httpx.get(f"{server}/schema").json()
    assert "action" in schema["action"]["properties"] and "text" in schema["observation"]["properties"]

    actions, records = in_process(5)
    with LLMGymClient(base_url=server).sync() as env:
        trajectory = [as_record(env.reset(seed=5))]
        trajectory += [as_record(env.step(LLMGymAction(action=action))) for action in actions]
        with pytest.raises(RuntimeError, match="is over .*reset to play again"):
            env.step("inventory")
        state = env.state()
    assert trajectory == records
    assert (state.step_count, state.outcome, state.done) == (len(actions), "success", True)


def test_a_wrapper_stack_is_served_with_its_action_space_and_json_safe_info(discrete_server):
    actions, records = in_process(2, difficulty="easy", interface="kv+discrete")
    assert isinstance(records[0][3]["action_mask"], list)  # a numpy array in-process

    async def play():
        async with LLMGymClient(base_url=discrete_server) as env:
            trajectory = [as_record(await env.reset(seed=2))]
            trajectory += [as_record(await env.step(action)) for action in actions]
        return trajectory

    assert asyncio.run(play()) == records
    assert records[1][3]["action_status"] == "parse_error" and records[-1][3]["outcome"] == "success"


def test_serve_refuses_bad_settings_before_serving(capsys):
    with pytest.raises(ValueError, match="Unknown difficulty preset 'nope'"):
        create_app({"env_id": ENV, "difficulty": "nope"})
    with pytest.raises(ValueError, match="max_sessions must be a positive integer"):
        create_app(ENV, max_sessions=0)
    assert main(["serve", "TextCraft", "--interface", "yaml+smoke-signals"]) == 2
    assert "llm-gym: error:" in capsys.readouterr().err
