"""An agent behind an OpenAI-compatible chat-completions endpoint, such as a vLLM server.

The agent keeps one chat per episode: the environment's instructions as the system message, each
observation as a user turn, each reply as an assistant turn. Requests use the standard library
only; time-outs and transient errors (connection failures, HTTP 429 and 5xx) are retried with
exponential back-off, and a semaphore shared by every copy of the agent bounds concurrent requests.

Example (not run here: it needs a server)::

    agent = ChatEndpointAgent("http://localhost:8000/v1", model="Qwen2.5-7B-Instruct")
    action = agent.act(observation, info)
"""

from __future__ import annotations

import json
import os
import threading
import time
import urllib.error
import urllib.request
from typing import Any


class EndpointError(RuntimeError):
    """The endpoint could not produce a reply after every retry."""


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
        _gate: threading.Semaphore | None = None,
    ):
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url must start with http:// or https://, got {base_url!r}")
        if retries < 0 or max_concurrency < 1 or timeout <= 0:
            raise ValueError("retries must be >= 0, max_concurrency >= 1 and timeout > 0")
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        self.api_key = os.environ.get(api_key_env)
        self.settings = {"timeout": timeout, "retries": retries, "backoff": backoff}
        self.sampling = {"temperature": temperature, "max_tokens": max_tokens}
        self.strip_instructions = strip_instructions
        self.max_concurrency = max_concurrency
        self._gate = _gate or threading.Semaphore(max_concurrency)
        self._init_args = (
            base_url,
            model,
            api_key_env,
            timeout,
            retries,
            max_concurrency,
            temperature,
            max_tokens,
            strip_instructions,
            backoff,
        )
        self.messages: list[dict[str, str]] = []

    def clone(self) -> ChatEndpointAgent:
        """A fresh agent for another concurrent episode, sharing the concurrency limit."""
        return ChatEndpointAgent(*self._init_args, _gate=self._gate)

    def reset(self, seed: int | None = None) -> None:
        self.messages = []

    def act(self, observation: str, info: dict[str, Any]) -> str:
        if not self.messages:
            instructions = info.get("instructions", "")
            if self.strip_instructions and instructions and observation.startswith(instructions):
                self.messages.append({"role": "system", "content": instructions})
                observation = observation[len(instructions) :].lstrip()
        self.messages.append({"role": "user", "content": observation})
        reply = self._complete(self.messages)
        self.messages.append({"role": "assistant", "content": reply})
        return reply

    def _complete(self, messages: list[dict[str, str]]) -> str:
        body = json.dumps({"model": self.model, "messages": messages, **self.sampling}).encode()
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        last_error = "no attempt made"
        for attempt in range(self.settings["retries"] + 1):
            if attempt:
                time.sleep(self.settings["backoff"] * 2 ** (attempt - 1))
            request = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
            try:
                with self._gate, urllib.request.urlopen(request, timeout=self.settings["timeout"]) as response:
                    payload = json.loads(response.read())
                return _reply_text(payload)
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


def _reply_text(payload: Any) -> str:
    try:
        content = payload["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError):
        raise ValueError(f"malformed chat-completions response: {str(payload)[:300]}") from None
    return content if isinstance(content, str) else ""
