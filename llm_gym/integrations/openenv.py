"""Serve any llm-gym env (or wrapper stack) as an OpenEnv environment, and the client that plays it.

The server is OpenEnv's own (``openenv.core.env_server.create_fastapi_app``: FastAPI, HTTP and a
WebSocket session per client at ``/ws``) around ``LLMGymEnvironment``, which holds one llm-gym
env per session, so concurrent sessions share nothing. ``reset(seed=...)`` is the env's own
``reset(seed=...)``, so a session replays the in-process trajectory of its seed. At most
``max_sessions`` sessions are open at once; the next client is refused with OpenEnv's
``CAPACITY_REACHED`` error, and a client that disconnects, mid-episode or not, frees its session.

Episodes are played over the WebSocket session (``LLMGymClient``): OpenEnv's HTTP ``/reset`` and
``/step`` build a fresh env for every request, so HTTP ``/reset`` returns the first observation
of a seed and HTTP ``/step`` has no episode to step (409, saying so). A payload the server cannot
read gets a 4xx with a message over HTTP, an ``error`` frame over the WebSocket, and the server
keeps serving.

Observations are typed: ``LLMGymObservation`` carries the text, ``reward``, ``done``
(``terminated or truncated``, both also given apart) and the env's ``info`` made JSON-safe.

Example::

    # llm-gym serve TextCraft --difficulty easy --port 8000   (in another shell)
    from llm_gym.integrations.openenv import LLMGymClient

    with LLMGymClient(base_url="http://127.0.0.1:8000").sync() as env:
        result = env.reset(seed=0)
        result = env.step("inventory")
        print(result.observation.text, result.reward, result.done, result.observation.info["action_status"])
"""

from __future__ import annotations

import functools
import json
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pydantic import Field

try:
    from openenv.core.client_types import StepResult
    from openenv.core.env_client import EnvClient
    from openenv.core.env_server.http_server import create_fastapi_app
    from openenv.core.env_server.interfaces import Environment
    from openenv.core.env_server.types import Action, EnvironmentMetadata, Observation, State
    from starlette.websockets import WebSocketDisconnect
    from websockets.exceptions import ConnectionClosed
except ImportError as error:  # pragma: no cover - depends on the environment
    raise ImportError(
        f'llm_gym.integrations.openenv needs OpenEnv: pip install "llm-gym[openenv]" ({error})'
    ) from error

import llm_gym
from llm_gym.baselines.cells import Cell
from llm_gym.core import checked_index

if TYPE_CHECKING:
    from fastapi import FastAPI, Request, WebSocket
    from fastapi.responses import JSONResponse

__all__ = [
    "LLMGymAction",
    "LLMGymClient",
    "LLMGymEnvironment",
    "LLMGymObservation",
    "LLMGymState",
    "RequestError",
    "create_app",
    "json_safe",
    "serve",
]


class RequestError(ValueError):
    """A request the env cannot serve as sent; ``status_code`` is its HTTP status."""

    def __init__(self, message: str, status_code: int = 400):
        super().__init__(message)
        self.status_code = status_code


class LLMGymAction(Action):
    """One turn's action: the text the env's interface reads (an index for a ``discrete-N`` interface)."""

    action: str | int = Field(description="what the agent writes this turn, as env.step takes it")


class LLMGymObservation(Observation):
    """What the agent reads after a reset or a step, with the env's ``info``; ``done`` is ``terminated or truncated``."""

    text: str = Field(description="the observation text")
    info: dict[str, Any] = Field(default_factory=dict, description="the env's info, JSON-safe")
    terminated: bool = Field(default=False, description="the episode reached a true end")
    truncated: bool = Field(default=False, description="the episode hit its turn limit")


class LLMGymState(State):
    """A session's episode: which env, which seed, how far, and how it stands."""

    env: str = Field(default="", description="the served env's label, Family-v0:difficulty[:interface]...")
    seed: int | None = Field(default=None, description="the seed of the last reset")
    outcome: str = Field(default="not started", description="info['outcome'] after the last reset or step")
    total_reward: float = Field(default=0.0, description="the reward summed over this episode")
    done: bool = Field(default=False, description="whether the episode is over")


def json_safe(value: Any) -> Any:
    """``value`` as JSON can carry it: numpy arrays and scalars as Python values, tuples and sets as
    lists, keys as str, anything else as its ``str``."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, Mapping):
        return {str(key): json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(item) for item in value]
    if isinstance(value, (set, frozenset)):
        return sorted((json_safe(item) for item in value), key=repr)
    if hasattr(value, "tolist"):  # numpy arrays and scalars
        return json_safe(value.tolist())
    return str(value)


class LLMGymEnvironment(Environment[LLMGymAction, LLMGymObservation, LLMGymState]):
    """One session's llm-gym env, as OpenEnv's ``Environment``."""

    SUPPORTS_CONCURRENT_SESSIONS = True  # each session builds its own env; nothing is shared

    def __init__(self, cell: Cell):
        super().__init__()
        self.cell = cell
        self.env = cell.make_env()
        self._state = LLMGymState(env=cell.label)

    def reset(self, seed: Any = None, episode_id: str | None = None, **kwargs: Any) -> LLMGymObservation:
        """Start an episode: ``env.reset(seed=seed, options=options)``; a new ``episode_id`` unless given."""
        options = kwargs.pop("options", None)
        if kwargs:
            raise RequestError(f"unknown reset argument(s) {sorted(kwargs)}; allowed: seed, episode_id, options")
        if seed is not None:
            try:
                seed = checked_index(seed, "seed")
            except ValueError as error:
                raise RequestError(str(error)) from error
        if options is not None and not isinstance(options, dict):
            raise RequestError(f"options must be an object, got {options!r}")
        observation, info = self.env.reset(seed=seed, options=options)
        self._state = LLMGymState(
            episode_id=episode_id or uuid.uuid4().hex, env=self.cell.label, seed=seed, outcome=info["outcome"]
        )
        return self._observation(observation, None, False, False, info)

    def step(self, action: LLMGymAction, timeout_s: float | None = None, **kwargs: Any) -> LLMGymObservation:
        """One turn: ``env.step(action.action)``; refused (409) before a reset and after the episode's end."""
        state = self._state
        if state.episode_id is None:
            raise RequestError(
                "no episode to step: reset first (HTTP /step builds a fresh env for every request, "
                "so episodes are played over the WebSocket session, e.g. with LLMGymClient)",
                status_code=409,
            )
        if state.done:
            raise RequestError(f"episode {state.episode_id} is over ({state.outcome}); reset to play again", 409)
        observation, reward, terminated, truncated, info = self.env.step(action.action)
        state.step_count += 1
        state.total_reward += float(reward)
        state.outcome = info["outcome"]
        state.done = bool(terminated or truncated)
        return self._observation(observation, float(reward), bool(terminated), bool(truncated), info)

    @property
    def state(self) -> LLMGymState:
        return self._state

    def get_metadata(self) -> EnvironmentMetadata:
        spec = self.env.spec
        return EnvironmentMetadata(
            name=self.cell.label,
            description=f"llm-gym's {spec.id if spec else self.cell.env_id}, settings {self.cell.make_kwargs()}",
            version=llm_gym.__version__,
        )

    def close(self) -> None:
        self.env.close()

    @staticmethod
    def _observation(
        text: str, reward: float | None, terminated: bool, truncated: bool, info: dict[str, Any]
    ) -> LLMGymObservation:
        return LLMGymObservation(
            text=text,
            info=json_safe(info),
            terminated=terminated,
            truncated=truncated,
            reward=reward,
            done=terminated or truncated,
        )


def _request_error_response(request: Request, error: Exception) -> JSONResponse:
    from fastapi.responses import JSONResponse

    return JSONResponse(status_code=getattr(error, "status_code", 400), content={"detail": str(error)})


async def _client_gone(websocket: WebSocket, error: Exception) -> None:
    """OpenEnv closes a finished session's socket even when the client already has: nothing is left to do."""


def create_app(cell: Cell | str | dict[str, Any], max_sessions: int = 64) -> FastAPI:
    """OpenEnv's FastAPI app serving ``cell`` (a ``Cell``, an env id or a table of its fields).

    Bad settings raise ``ValueError`` here, before anything is served.
    """
    cell = Cell.from_value(cell)
    max_sessions = checked_index(max_sessions, "max_sessions", 1)
    cell.make_env().close()
    app = create_fastapi_app(
        functools.partial(LLMGymEnvironment, cell), LLMGymAction, LLMGymObservation, max_concurrent_envs=max_sessions
    )
    app.add_exception_handler(RequestError, _request_error_response)
    app.add_exception_handler(WebSocketDisconnect, _client_gone)
    return app


def serve(cell: Cell | str | dict[str, Any], host: str = "127.0.0.1", port: int = 8000, max_sessions: int = 64) -> None:
    """Serve ``cell`` until interrupted (``llm-gym serve``)."""
    import uvicorn

    app = create_app(cell, max_sessions)
    label = Cell.from_value(cell).label
    print(f"Serving {label} at http://{host}:{port} (OpenEnv HTTP, WebSocket /ws; at most {max_sessions} sessions)")
    uvicorn.run(app, host=host, port=port, log_level="warning")


class LLMGymClient(EnvClient[LLMGymAction, LLMGymObservation, LLMGymState]):
    """OpenEnv's WebSocket client for ``llm-gym serve``: one session, one env on the server.

    ``step`` takes an ``LLMGymAction`` or the action itself (text, or an index for a discrete
    interface). Async by default; ``.sync()`` gives the blocking client.
    """

    async def _send_and_receive(self, message: dict[str, Any]) -> dict[str, Any]:
        try:
            return await super()._send_and_receive(message)
        except ConnectionClosed as closed:
            # A refused session (at capacity) gets an error frame and a close at once, which can
            # beat the first message out: the reason is the frame the server left.
            error = await self._error_left()
            if error is None:
                raise ConnectionError(f"the server closed the session: {closed}") from closed
            raise RuntimeError(
                f"Server error: {error.get('message')} (code: {error.get('code', 'UNKNOWN')})"
            ) from closed

    async def _error_left(self) -> dict[str, Any] | None:
        """The data of the error frame the server sent before closing, if it sent one."""
        try:
            frame = json.loads(await self._ws.recv()) if self._ws is not None else None
        except (ConnectionClosed, ValueError):
            return None
        if isinstance(frame, dict) and frame.get("type") == "error" and isinstance(frame.get("data"), dict):
            return frame["data"]
        return None

    def _step_payload(self, action: LLMGymAction | str | int) -> dict[str, Any]:
        if not isinstance(action, LLMGymAction):
            action = LLMGymAction(action=action)
        return action.model_dump()

    def _parse_result(self, payload: dict[str, Any]) -> StepResult[LLMGymObservation]:
        observation = LLMGymObservation(
            **payload.get("observation", {}), reward=payload.get("reward"), done=payload.get("done", False)
        )
        return StepResult(observation=observation, reward=observation.reward, done=observation.done)

    def _parse_state(self, payload: dict[str, Any]) -> LLMGymState:
        return LLMGymState.model_validate(payload)
