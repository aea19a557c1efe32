"""An agent behind an OpenAI-compatible chat-completions endpoint, such as a vLLM server.

The agent keeps one chat per episode: the environment's instructions as the system message, each
observation as a user turn (or, after a native tool call, as the tool's result), each reply as an
assistant turn. Requests use the standard library only; time-outs and transient errors
(connection failures, HTTP 429 and 5xx) are retried with exponential back-off, and a semaphore
shared by every copy of the agent bounds concurrent requests.

With ``tools`` (the OpenAI function schemas of a ``toolcall`` interface, ``tool_schemas_of(env)``)
the agent sends them with every request and reads the model's native tool calls back
(``read_reply``): ``tool_calls`` in the OpenAI shape or flat (``{"id", "name", "arguments"}``),
arguments as a JSON string or an object, the legacy ``function_call``, content given as a list
of text parts, and integers written ``1.0`` or ``"1"`` where the schema says integer. A reply
it cannot read goes to the environment as what it is, which the environment flags as a
``parse_error``, and the reason is logged (logger ``llm_gym.baselines.endpoint``).

Example (not run here: it needs a server)::

    env = llm_gym.make("llm_gym/TextCraft-v0", interface="toolcall")
    agent = ChatEndpointAgent("http://localhost:8000/v1", model="Qwen2.5-7B-Instruct", tools=tool_schemas_of(env))
    action = agent.act(observation, info)
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import re
import threading
import time
import urllib.error
import urllib.request
from typing import Any

logger = logging.getLogger(__name__)

_INTEGER_TEXT = re.compile(r"\s*[+-]?\d{1,18}(?:\.0*)?\s*")
_ARGUMENT_KEYS = ("arguments", "parameters")  # flat calls name their arguments either way
NOT_RUN = "Not run: the environment takes one tool call per turn."


class EndpointError(RuntimeError):
    """The endpoint could not produce a reply after every retry."""


def tool_schemas_of(env: Any) -> list[dict] | None:
    """The OpenAI function schemas an agent of ``env``'s stack calls, where its action format is
    ``toolcall``; ``None`` for any other interface."""
    from llm_gym.wrappers import describe

    toolcall = any(layer["wrapper"] == "ActionFormat" and layer.get("fmt") == "toolcall" for layer in describe(env))
    return env.get_wrapper_attr("tool_schemas")() if toolcall else None


@dataclasses.dataclass(frozen=True)
class Reply:
    """One assistant message, read.

    Attributes:
        action: the text the environment gets: the reply's text, or its one tool call as the JSON
            ``{"name": ..., "arguments": {...}}`` that the ``toolcall`` interface reads.
        message: the assistant message for the chat history, in the OpenAI shape.
        call_ids: the ids of its tool calls, each answered by a tool message next turn.
        problem: why the reply could not be read (``None`` when it could); ``action`` is then
            something the environment flags as a parse error.
    """

    action: str
    message: dict[str, Any]
    call_ids: tuple[str, ...] = ()
    problem: str | None = None


@dataclasses.dataclass(frozen=True)
class _Call:
    id: str
    name: Any
    arguments: Any  # a dict when read; the raw value otherwise
    history: dict[str, Any]
    problem: str | None = None


def read_reply(message: Any, tools: list[dict] | None = None, turn: int = 0) -> Reply:
    """Read a chat-completions ``message`` into the environment's action (see ``Reply``).

    ``tools`` are the schemas sent with the request: they name the integer arguments to repair
    and let a tool call written as JSON text be read like a native one.

    Example:
        >>> tools = [{"type": "function", "function": {"name": "get", "parameters": {
        ...     "type": "object", "properties": {"count": {"type": "integer"}, "item": {"type": "string"}}}}}]
        >>> flat = {"id": "call_7", "name": "get", "arguments": {"count": "2", "item": "oak log"}}
        >>> read_reply({"role": "assistant", "content": None, "tool_calls": [flat]}, tools).action
        '{"name": "get", "arguments": {"count": 2, "item": "oak log"}}'
        >>> read_reply({"role": "assistant", "content": None}).problem
        'the reply has neither text nor a tool call'
    """
    if not isinstance(message, dict):
        return Reply("", {"role": "assistant", "content": ""}, problem=f"the reply is not a message: {message!r:.100}")
    parameters = _parameters_by_name(tools)
    text, text_problem = _content_text(message.get("content"))
    raw_calls = message.get("tool_calls")
    if not raw_calls and isinstance(message.get("function_call"), dict):
        raw_calls = [message["function_call"]]
    if raw_calls and not isinstance(raw_calls, list):
        raw_calls = [raw_calls]
    calls = [_read_call(raw, f"call_{turn}_{index}", parameters) for index, raw in enumerate(raw_calls or [])]
    history: dict[str, Any] = {"role": "assistant", "content": text or (None if calls else "")}
    if calls:
        history["tool_calls"] = [call.history for call in calls]
        ids = tuple(call.id for call in calls)
        if len(calls) > 1:
            action = json.dumps([{"name": call.name, "arguments": call.arguments} for call in calls])
            return Reply(
                action, history, ids, f"{len(calls)} tool calls in one reply; the environment takes one a turn"
            )
        (call,) = calls
        return Reply(json.dumps({"name": call.name, "arguments": call.arguments}), history, ids, call.problem)
    if text:
        return Reply(_text_call(text, parameters) if tools else text, history)
    refusal = message.get("refusal")
    problem = f"the model refused: {refusal!r:.200}" if refusal else text_problem
    return Reply("", history, problem=problem or "the reply has neither text nor a tool call")


def _read_call(raw: Any, default_id: str, parameters: dict[str, dict]) -> _Call:
    """One tool call, OpenAI-shaped (``{"id", "type", "function": {...}}``) or flat."""
    if not isinstance(raw, dict):
        history = {"id": default_id, "type": "function", "function": {"name": "", "arguments": json.dumps(raw)}}
        return _Call(default_id, None, raw, history, f"a tool call is not an object: {raw!r:.100}")
    given_id = raw.get("id")
    call_id = given_id if isinstance(given_id, str) and given_id else default_id
    function = raw["function"] if isinstance(raw.get("function"), dict) else raw
    name = function.get("name")
    arguments = next((function[key] for key in _ARGUMENT_KEYS if key in function), None)
    problem = None if isinstance(name, str) and name else f"the tool call has no name: {raw!r:.100}"
    if arguments is None or arguments == "":
        arguments = {}  # a call without arguments
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments)
        except ValueError:
            problem = problem or f"the arguments of {name!r} are not JSON: {arguments!r:.100}"
    if isinstance(arguments, dict):
        arguments = _repair(arguments, parameters.get(name, {}) if isinstance(name, str) else {})
    elif problem is None:
        problem = f"the arguments of {name!r} are not an object: {arguments!r:.100}"
    written = arguments if isinstance(arguments, str) else json.dumps(arguments)
    history = {
        "id": call_id,
        "type": "function",
        "function": {"name": name if isinstance(name, str) else "", "arguments": written},
    }
    return _Call(call_id, name, arguments, history, problem)


def _content_text(content: Any) -> tuple[str, str | None]:
    """The text of a message's content, a string or a list of parts; a problem where it has none."""
    if content is None or isinstance(content, str):
        return content or "", None
    if isinstance(content, list):
        texts = [part["text"] for part in content if isinstance(part, dict) and isinstance(part.get("text"), str)]
        if texts:
            return "".join(texts), None
        kinds = sorted({str(part.get("type")) if isinstance(part, dict) else type(part).__name__ for part in content})
        return "", f"the content parts hold no text (types {kinds})"
    return "", f"the content is neither text nor a list of parts: {content!r:.100}"


def _text_call(text: str, parameters: dict[str, dict]) -> str:
    """A tool call written as JSON text, canonical (flat keys such as ``id`` dropped, integers
    repaired); any other text as it is, for the interface to judge."""
    body = text.strip()
    fenced = re.fullmatch(r"```(?:json)?\s*(.*?)\s*```", body, re.DOTALL)
    try:
        raw = json.loads(fenced.group(1) if fenced else body)
    except ValueError:
        return text
    if not isinstance(raw, dict) or not ({"name", "function"} & set(raw)):
        return text
    call = _read_call(raw, "", parameters)
    return text if call.problem else json.dumps({"name": call.name, "arguments": call.arguments})


def _parameters_by_name(tools: list[dict] | None) -> dict[str, dict]:
    found = {}
    for tool in tools or []:
        function = tool.get("function", tool) if isinstance(tool, dict) else {}
        if isinstance(function, dict) and isinstance(function.get("name"), str):
            found[function["name"]] = function.get("parameters") or {}
    return found


def _repair(value: Any, schema: dict) -> Any:
    """``value`` with integers written as ``1.0`` or ``"1"`` made ints where ``schema`` says integer."""
    kind = schema.get("type") if isinstance(schema, dict) else None
    if kind == "integer" and not isinstance(value, bool):
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str) and _INTEGER_TEXT.fullmatch(value):
            return int(value.strip().split(".")[0])
    if kind == "array" and isinstance(value, list):
        return [_repair(item, schema.get("items") or {}) for item in value]
    if isinstance(value, dict) and (kind == "object" or "properties" in schema):
        properties = schema.get("properties") or {}
        return {key: _repair(item, properties.get(key) or {}) for key, item in value.items()}
    return value


class ChatEndpointAgent:
    """Chat completions over HTTP, one conversation per episode.

    Args:
        base_url: the API root, e.g. ``http://localhost:8000/v1``.
        model: the model name the server expects.
        api_key_env: the environment variable holding the key (none is sent if it is unset).
        timeout: seconds per request.
        retries: further attempts after a failed request.
        max_concurrency: requests in flight at once, across copies made with ``clone()``.
        temperature, max_tokens: sampling settings sent with every request.
        strip_instructions: send ``info["instructions"]`` as the system message and remove them
            from the first observation.
        tools: OpenAI function schemas to send (``tool_schemas_of(env)`` for a ``toolcall``
            interface); the model's native tool calls are then read as actions.
    """

    name = "endpoint"

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key_env: str = "OPENAI_API_KEY",
        timeout: float = 60.0,
        retries: int = 3,
        max_concurrency: int = 8,
        temperature: float = 0.0,
        max_tokens: int = 256,
        strip_instructions: bool = True,
        backoff: float = 0.5,
        tools: list[dict] | None = None,
        _gate: threading.Semaphore | None = None,
    ):
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url must start with http:// or https://, got {base_url!r}")
        if retries < 0 or max_concurrency < 1 or timeout <= 0:
            raise ValueError("retries must be >= 0, max_concurrency >= 1 and timeout > 0")
        if tools is not None and not (isinstance(tools, list) and all(isinstance(tool, dict) for tool in tools)):
            raise ValueError(f"tools must be a list of OpenAI function schemas (dicts), got {tools!r:.100}")
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        self.api_key = os.environ.get(api_key_env)
        self.settings: dict[str, Any] = {"timeout": timeout, "retries": retries, "backoff": backoff}
        self.sampling = {"temperature": temperature, "max_tokens": max_tokens}
        self.strip_instructions = strip_instructions
        self.max_concurrency = max_concurrency
        self.tools = tools
        self._gate = _gate or threading.Semaphore(max_concurrency)
        self._init_kwargs: dict[str, Any] = {
            "base_url": base_url,
            "model": model,
            "api_key_env": api_key_env,
            "timeout": timeout,
            "retries": retries,
            "max_concurrency": max_concurrency,
            "temperature": temperature,
            "max_tokens": max_tokens,
            "strip_instructions": strip_instructions,
            "backoff": backoff,
            "tools": tools,
        }
        self.messages: list[dict[str, Any]] = []
        self._open_calls: tuple[str, ...] = ()  # tool calls of the last reply, answered by the next observation

    def clone(self) -> ChatEndpointAgent:
        """A fresh agent for another concurrent episode, sharing the concurrency limit."""
        return ChatEndpointAgent(**self._init_kwargs, _gate=self._gate)

    def reset(self, seed: int | None = None) -> None:
        self.messages, self._open_calls = [], ()

    def act(self, observation: str, info: dict[str, Any]) -> str:
        if not self.messages:
            instructions = info.get("instructions", "")
            if self.strip_instructions and instructions and observation.startswith(instructions):
                self.messages.append({"role": "system", "content": instructions})
                observation = observation[len(instructions) :].lstrip()
        if self._open_calls:
            first, *rest = self._open_calls
            self.messages.append({"role": "tool", "tool_call_id": first, "content": observation})
            self.messages += [{"role": "tool", "tool_call_id": call_id, "content": NOT_RUN} for call_id in rest]
        else:
            self.messages.append({"role": "user", "content": observation})
        turn = sum(message["role"] == "assistant" for message in self.messages)
        reply = read_reply(self._complete(self.messages), self.tools, turn)
        if reply.problem:
            logger.warning(
                "%s gave an unreadable reply (%s); the environment gets %r and flags it as a parse error",
                self.model,
                reply.problem,
                reply.action[:200],
            )
        self.messages.append(reply.message)
        self._open_calls = reply.call_ids
        return reply.action

    def _complete(self, messages: list[dict[str, Any]]) -> dict[str, Any]:
        request = {"model": self.model, "messages": messages, **self.sampling}
        if self.tools:
            request["tools"] = self.tools
        body = json.dumps(request).encode()
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        last_error = "no attempt made"
        for attempt in range(self.settings["retries"] + 1):
            if attempt:
                time.sleep(self.settings["backoff"] * 2 ** (attempt - 1))
            http_request = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
            try:
                with self._gate, urllib.request.urlopen(http_request, timeout=self.settings["timeout"]) as response:
                    payload = json.loads(response.read())
                return _reply_message(payload)
            except urllib.error.HTTPError as error:
                last_error = f"HTTP {error.code}: {error.read()[:300]!r}"
                if error.code != 429 and error.code < 500:
                    break
            except (urllib.error.URLError, TimeoutError, ConnectionError, json.JSONDecodeError) as error:
                last_error = f"{type(error).__name__}: {error}"
            except ValueError as error:
                last_error = str(error)
                break
        raise EndpointError(f"{self.url} gave no reply: {last_error}")


def _reply_message(payload: Any) -> dict[str, Any]:
    try:
        message = payload["choices"][0]["message"]
    except (KeyError, IndexError, TypeError):
        raise ValueError(f"malformed chat-completions response: {str(payload)[:300]}") from None
    if not isinstance(message, dict):
        raise ValueError(f"malformed chat-completions response: the message is {str(message)[:300]}")
    return message
