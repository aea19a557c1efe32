"""Native tool calls in the endpoint agent, against a loopback chat-completions stub.

Each shape a server or model is known to send is played for a whole episode: the stub answers
every request with the oracle's next command written in that shape, and the environment must
accept every turn. Unreadable replies must reach the environment as a parse error, with the
reason logged.
"""

from __future__ import annotations

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

import llm_gym
from llm_gym.baselines.endpoint import ChatEndpointAgent, read_reply, tool_schemas_of


class _StubServer(ThreadingHTTPServer):
    """Answers each POST with ``self.message`` as the first choice's message; keeps the requests."""

    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.message: dict = {"role": "assistant", "content": ""}
        self.requests: list[dict] = []


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_POST(self):
        self.server.requests.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        payload = json.dumps({"choices": [{"message": self.server.message, "finish_reason": "stop"}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


@pytest.fixture
def stub():
    server = _StubServer()
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True).start()
    yield server, f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


def _numbers(value, write):
    """``value`` with every int written by ``write`` (1 -> 1.0 or "1")."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return write(value)
    if isinstance(value, list):
        return [_numbers(item, write) for item in value]
    if isinstance(value, dict):
        return {key: _numbers(item, write) for key, item in value.items()}
    return value


def _openai(call, turn, arguments=None):
    arguments = json.dumps(call["arguments"]) if arguments is None else arguments
    function = {"name": call["name"], "arguments": arguments}
    return {
        "role": "assistant",
        "content": None,
        "tool_calls": [{"id": f"c{turn}", "type": "function", "function": function}],
    }


SHAPES = {
    "openai": _openai,
    "arguments_as_object": lambda call, turn: _openai(call, turn, call["arguments"]),
    "flat_with_id": lambda call, turn: {"content": None, "tool_calls": [{"id": f"c{turn}", **call}]},
    "integers_as_floats": lambda call, turn: _openai(_numbers(call, float), turn),
    "integers_as_strings": lambda call, turn: _openai(_numbers(call, str), turn),
    "legacy_function_call": lambda call, turn: {
        "content": None,
        "function_call": {"name": call["name"], "arguments": json.dumps(call["arguments"])},
    },
    "content_parts": lambda call, turn: {"content": [{"type": "text", "text": json.dumps(call)}]},
    "flat_with_id_in_text": lambda call, turn: {"content": json.dumps({"id": f"c{turn}", "type": "function", **call})},
}
TEXT_SHAPES = {"content_parts", "flat_with_id_in_text"}  # a call written as text, not a native tool call


@pytest.mark.parametrize("shape", SHAPES)
def test_a_tool_call_shape_plays_a_whole_episode(stub, shape):
    server, url = stub
    env = llm_gym.make("llm_gym/TextCraft-v0", difficulty="medium", interface="toolcall")
    agent = ChatEndpointAgent(url, "stub", retries=0, tools=tool_schemas_of(env))
    observation, info = env.reset(seed=1)
    done = False
    while not done:
        call = json.loads(env.get_wrapper_attr("format_command")(env.unwrapped.oracle_action()))
        server.message = SHAPES[shape](call, len(server.requests))
        observation, reward, terminated, truncated, info = env.step(agent.act(observation, info))
        assert info["action_status"] == "ok", (shape, observation)
        done = terminated or truncated
    assert info["outcome"] == "success" and len(server.requests) == info["optimal_steps"]
    assert all(request["tools"] == env.get_wrapper_attr("tool_schemas")() for request in server.requests)
    sent = server.requests[-1]["messages"]
    if shape in TEXT_SHAPES:
        assert sent[-1]["role"] == "user"
    else:  # the call is echoed in the OpenAI shape and answered by a tool message
        (echoed,) = sent[-2]["tool_calls"]
        assert echoed["type"] == "function" and isinstance(echoed["function"]["arguments"], str)
        assert sent[-1]["role"] == "tool" and sent[-1]["tool_call_id"] == echoed["id"]


def test_text_content_parts_are_read_in_a_native_interface(stub):
    server, url = stub
    env = llm_gym.make("llm_gym/TextCraft-v0", difficulty="easy")
    agent = ChatEndpointAgent(url, "stub", retries=0, tools=tool_schemas_of(env))
    assert agent.tools is None
    observation, info = env.reset(seed=0)
    command = env.unwrapped.format_command(env.unwrapped.oracle_action())
    server.message = {"content": [{"type": "text", "text": command[:4]}, {"type": "text", "text": command[4:]}]}
    observation, reward, terminated, truncated, info = env.step(agent.act(observation, info))
    assert info["action_status"] == "ok" and "tools" not in server.requests[-1]


UNREADABLE = {
    "no_content_no_call": ({"content": None}, "neither text nor a tool call"),
    "arguments_not_json": (
        {
            "content": None,
            "tool_calls": [{"id": "a", "type": "function", "function": {"name": "get", "arguments": "{count: 1"}}],
        },
        "not JSON",
    ),
    "two_calls": (
        {
            "content": None,
            "tool_calls": [{"id": "a", "name": "inventory", "arguments": {}}, {"id": "b", "name": "inventory"}],
        },
        "2 tool calls",
    ),
    "parts_without_text": ({"content": [{"type": "image_url", "image_url": {"url": "x"}}]}, "no text"),
    "call_without_name": ({"content": None, "tool_calls": [{"id": "a", "arguments": {}}]}, "no name"),
}


@pytest.mark.parametrize("case", UNREADABLE)
def test_an_unreadable_reply_is_a_logged_parse_error(stub, caplog, case):
    server, url = stub
    message, reason = UNREADABLE[case]
    env = llm_gym.make("llm_gym/TextCraft-v0", difficulty="easy", interface="toolcall")
    agent = ChatEndpointAgent(url, "stub", retries=0, tools=tool_schemas_of(env))
    observation, info = env.reset(seed=0)
    state = env.unwrapped.state_key()
    server.message = message
    with caplog.at_level(logging.WARNING, logger="llm_gym.baselines.endpoint"):
        action = agent.act(observation, info)
    observation, reward, terminated, truncated, info = env.step(action)
    assert info["action_status"] == "parse_error" and reward == 0 and env.unwrapped.state_key() == state
    assert any(reason in record.getMessage() for record in caplog.records), caplog.text
    bad = agent.messages[-1]
    server.message = {"content": json.dumps({"name": "inventory", "arguments": {}})}
    agent.act(observation, info)  # the history stays well formed: each tool call of the bad reply is answered
    sent = server.requests[-1]["messages"]
    answers = [message.get("tool_call_id") for message in sent[sent.index(bad) + 1 :]]
    assert answers == ([call["id"] for call in bad.get("tool_calls", [])] or [None])


def test_read_reply_repairs_integers_only_where_the_schema_says_integer():
    env = llm_gym.make("llm_gym/TextCraft-v0", interface="toolcall")
    tools = tool_schemas_of(env)
    craft = {"count": "4", "item": "12", "ingredients": [{"count": 2.0, "item": "7"}]}
    reply = read_reply({"tool_calls": [{"id": "x", "name": "craft", "arguments": craft}]}, tools)
    assert json.loads(reply.action)["arguments"] == {
        "count": 4,
        "item": "12",
        "ingredients": [{"count": 2, "item": "7"}],
    }
    kept = read_reply({"tool_calls": [{"name": "get", "arguments": {"count": 1.5, "item": "x"}}]}, tools)
    assert json.loads(kept.action)["arguments"]["count"] == 1.5 and kept.problem is None  # the env judges it
    assert tool_schemas_of(llm_gym.make("llm_gym/TextCraft-v0", interface="json+react")) is None
