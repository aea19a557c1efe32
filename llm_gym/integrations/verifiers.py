"""llm-gym environments as verifiers environments, for ``vf`` evals and prime-rl.

``load_environment(env_id, **settings)`` returns a ``verifiers.v1`` environment: its taskset is
the dataset of seeds (one task per seed, the env's first observation as the prompt), its ``run()``
steps the llm-gym env once per assistant turn and sends the next observation back as the user
turn until the episode ends, and the episode's return is the trace's reward (``llm_gym_reward``),
with ``success`` and ``steps`` as metrics and the outcome in ``trace.info["llm_gym"]``.

Which verifiers API, and why: verifiers 0.4 ships only its current API (``verifiers.v1``; the
legacy ``MultiTurnEnv`` and ``gym_env.py`` are gone), and that API expresses a multi-turn gym env
directly, as its own TextArena taskset does: an ``Env`` subclass whose ``run()`` holds one agent
``interaction`` open and plays the environment as the user.

The agent's program is a harness; every model call goes through verifiers' interception server,
which records the trace. This module ships ``LLMGymChatHarness``, the default for these tasks: the
plain chat loop of verifiers' ``null`` harness (one completion per turn, no tools), run in-process
as ``Harness.launch`` allows, so nothing is installed per rollout and no code runs on the host.
``null`` itself works too (``--env.player.harness.id null``); it runs its chat program under uv.

verifiers finds a plugin by the name of a top-level module, and llm-gym installs none, so
importing this module registers it under ``llm_gym_verifiers`` (``TASKSET_ID``, the id its
configs carry) in ``sys.modules``.

Example (an OpenAI-compatible endpoint at ``base_url``)::

    import asyncio
    import verifiers.v1 as vf
    from llm_gym.integrations.verifiers import load_environment

    env = load_environment("llm_gym/TextCraft-v0", difficulty="easy", seeds=[0, 1, 2])
    ctx = vf.ModelContext(model="my-model", client=vf.EvalClientConfig(base_url=base_url))

    async def main():
        async with env.serving():
            return [await env.run_slot(slot, ctx) for task in env.taskset for slot in env.slots(task)]

    print([episode.traces[0].reward for episode in asyncio.run(main())])
"""

from __future__ import annotations

import asyncio
import itertools
import ssl
import sys
from collections.abc import Iterator
from typing import Any

from pydantic import NonNegativeInt, PositiveInt, ValidationError

try:
    import httpx
    import verifiers.v1 as vf
    from verifiers.v1.dialects.chat import message_to_wire
    from verifiers.v1.utils.loaders import load_environment as load_verifiers_environment
except ImportError as error:  # pragma: no cover - depends on the environment
    raise ImportError(
        f'llm_gym.integrations.verifiers needs verifiers>=0.4: pip install "llm-gym[verifiers]" ({error})'
    ) from error

from llm_gym.baselines.cells import Cell

TASKSET_ID = "llm-gym-verifiers"
"""The id verifiers resolves to this module (``llm_gym_verifiers`` once imported)."""

REWARD_NAME = "llm_gym_reward"

SETTINGS = ("env_id", "difficulty", "theme", "interface", "semantics", "max_turns")
"""The ``Cell`` fields a task carries."""

__all__ = [
    "REWARD_NAME",
    "SETTINGS",
    "TASKSET_ID",
    "ChatSession",
    "LLMGymChatHarness",
    "LLMGymChatHarnessConfig",
    "LLMGymData",
    "LLMGymEnv",
    "LLMGymEnvConfig",
    "LLMGymTask",
    "LLMGymTaskset",
    "LLMGymTasksetConfig",
    "load_environment",
]


class LLMGymTasksetConfig(vf.TasksetConfig):
    """Which env plays (the fields of ``llm_gym.baselines.cells.Cell``) and which seeds."""

    id: str = TASKSET_ID
    env: str = "llm_gym/TextCraft-v0"
    """A registered id such as ``llm_gym/TextCraft-v0``."""
    difficulty: str | dict[str, Any] = "easy"
    """A preset name or a dict of knobs."""
    theme: str | None = None
    interface: str | None = None
    """An interface stack such as ``json+tagged`` (``llm_gym.wrappers.make``)."""
    semantics: str | None = None
    """A semantic stack such as ``made-up``."""
    max_turns: PositiveInt | None = None
    """The env's turn limit (default: the family's)."""
    seeds: list[NonNegativeInt] | None = None
    """The task seeds, in order; ``None`` counts up from ``first_seed`` without end."""
    first_seed: NonNegativeInt = 0

    def cell(self) -> Cell:
        return Cell(
            env_id=self.env,
            difficulty=self.difficulty,
            theme=self.theme,
            interface=self.interface,
            semantics=self.semantics,
            max_turns=self.max_turns,
        )


class LLMGymData(vf.TaskData):
    """One task: the env settings and the seed the episode is reset with."""

    settings: dict[str, Any]
    """The ``Cell`` fields named by ``SETTINGS``."""
    seed: int
    task_id: str
    optimal_steps: int


class LLMGymTask(vf.Task[LLMGymData, vf.State, vf.TaskConfig]):
    """An episode of an llm-gym env; ``LLMGymEnv.run`` plays and scores it."""


class LLMGymTaskset(vf.Taskset[LLMGymTask, LLMGymTasksetConfig]):
    """One task per seed, its prompt the env's first observation (which opens with the rules)."""

    def __init__(self, config: LLMGymTasksetConfig) -> None:
        super().__init__(config)
        self.INFINITE = config.seeds is None

    def load(self) -> Iterator[LLMGymTask]:
        cell = self.config.cell()
        settings = {name: getattr(cell, name) for name in SETTINGS}
        seeds = itertools.count(self.config.first_seed) if self.config.seeds is None else iter(self.config.seeds)
        env = cell.make_env()
        try:
            for seed in seeds:
                observation, info = env.reset(seed=seed)
                data = LLMGymData(
                    name=f"{cell.label}#{seed}",
                    prompt=observation,
                    settings=settings,
                    seed=seed,
                    task_id=info["task_id"],
                    optimal_steps=info["optimal_steps"],
                )
                yield LLMGymTask(data, self.config.task)
        finally:
            env.close()


class LLMGymEnvConfig(vf.EnvConfig):
    """One seat, ``player``; its harness defaults to the taskset's (``LLMGymChatHarness``)."""

    player: vf.AgentConfig = vf.AgentConfig(runtime=vf.SubprocessConfig())


class LLMGymEnv(vf.Env[LLMGymEnvConfig]):
    """The env plays the user: each assistant reply is one ``env.step``, each observation the next turn.

    The env runs in a worker thread, so a slow reset or step never holds up the event loop that
    serves the other rollouts' model calls.
    """

    async def run(self, task: LLMGymTask, agents: vf.Agents) -> None:
        data = task.data
        env = await asyncio.to_thread(Cell(**data.settings).make_env)
        try:
            observation, info = await asyncio.to_thread(env.reset, seed=data.seed)
            if observation != data.prompt_text:
                raise ValueError(
                    f"task {data.name!r}: its prompt is not the first observation of seed {data.seed}; "
                    "the taskset was built by another llm-gym version or settings"
                )
            total, steps = 0.0, 0
            async with agents.player.interaction(task) as interaction:
                segment = await interaction.turn()
                while not segment.terminated:
                    observation, reward, terminated, truncated, info = await asyncio.to_thread(
                        env.step, segment.last_reply
                    )
                    total += float(reward)
                    steps += 1
                    if terminated or truncated:
                        break
                    segment = await interaction.turn(observation)
        finally:
            env.close()
        trace = interaction.trace
        trace.record_reward(REWARD_NAME, total)
        trace.record_metric("success", float(info["outcome"] == "success"))
        trace.record_metric("steps", float(steps))
        trace.info["llm_gym"] = {
            "outcome": info["outcome"],
            "score": float(info["score"]),
            "steps": steps,
            "optimal_steps": data.optimal_steps,
            "task_id": data.task_id,
        }


class LLMGymChatHarnessConfig(vf.HarnessConfig):
    id: str = TASKSET_ID


class LLMGymChatHarness(vf.Harness[LLMGymChatHarnessConfig]):
    """A tool-less chat loop in-process: one completion per segment, through the interception endpoint.

    A rollout's segments share one HTTP client (``ChatSession``), and every client shares the
    harness's TLS context, which takes about 0.1 s to build.
    """

    APPENDS_SYSTEM_PROMPT = True
    SUPPORTS_RESUME = True
    EXECUTES_CODE = False
    NEEDS_CONTAINER = False

    def __init__(self, config: LLMGymChatHarnessConfig) -> None:
        super().__init__(config)
        self._tls: ssl.SSLContext | None = None

    def http_client(self, endpoint: str, secret: str) -> httpx.AsyncClient:
        """A client for the interception ``endpoint`` (its OpenAI-compatible base URL)."""
        if self._tls is None:
            self._tls = httpx.create_ssl_context()
        timeout = httpx.Timeout(None, connect=30.0)  # a completion takes as long as it takes
        return httpx.AsyncClient(
            base_url=endpoint.rstrip("/") + "/",
            headers={"Authorization": f"Bearer {secret}"},
            verify=self._tls,
            timeout=timeout,
        )

    async def session(self, *args: Any, **kwargs: Any) -> ChatSession:
        return ChatSession(self, *args, **kwargs)

    async def launch(
        self,
        ctx: vf.ModelContext,
        trace: vf.Trace,
        runtime: vf.Runtime,
        endpoint: str,
        secret: str,
        mcp_urls: dict[str, str],
        data: vf.TaskData,
    ) -> vf.ProgramResult:
        """One completion on a client of its own (outside a ``ChatSession``)."""
        async with self.http_client(endpoint, secret) as client:
            return await self.complete(client, ctx, data)

    async def complete(self, client: httpx.AsyncClient, ctx: vf.ModelContext, data: vf.TaskData) -> vf.ProgramResult:
        """Ask for the assistant's next message on ``data``'s prompt (a string or the conversation so far)."""
        system, prompt = self.resolve_prompt(data)
        messages: list[dict[str, Any]] = [{"role": "system", "content": system}] if system else []
        if isinstance(prompt, str):
            messages.append({"role": "user", "content": prompt})
        else:
            messages.extend(message_to_wire(message) for message in prompt or [])
        response = await client.post("chat/completions", json={"model": ctx.model, "messages": messages})
        response.raise_for_status()
        return vf.ProgramResult(exit_code=0, stdout="", stderr="")


class ChatSession(vf.HarnessSession):
    """One rollout of ``LLMGymChatHarness``: every segment over one client, closed with the session.

    A later segment continues the trace's conversation with the new user messages, as
    ``Harness.resume`` does.
    """

    harness: LLMGymChatHarness

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.client = self.harness.http_client(self.endpoint, self.secret)

    async def _run(self, messages: vf.Messages | None) -> vf.ProgramResult:
        data = self.data
        if messages is not None:
            branch = self.trace.branches[-1].messages if self.trace.branches else []
            earlier = [message for message in branch if message.role != "system" or data.system_prompt is None]
            data = data.model_copy(update={"prompt": [*earlier, *messages]})
        return await self.harness.complete(self.client, self.ctx, data)

    async def close(self) -> None:
        await self.client.aclose()
        await super().close()


def load_environment(
    env_id: str = "llm_gym/TextCraft-v0", player: vf.AgentConfig | None = None, **settings: Any
) -> LLMGymEnv:
    """A verifiers environment playing ``env_id``; ``settings`` are ``LLMGymTasksetConfig`` fields.

    ``player`` replaces the seat's config (another harness, model or turn cap). Bad settings
    raise ``ValueError`` here, naming what was wrong, before any rollout.
    """
    allowed = sorted(set(LLMGymTasksetConfig.model_fields) - {"id", "env", "task", "system_prompt"})
    unknown = sorted(set(settings) - set(allowed))
    if unknown:
        raise ValueError(f"unknown setting(s) {unknown} for load_environment; allowed: {allowed}")
    try:
        taskset = LLMGymTasksetConfig(env=env_id, **settings)
    except ValidationError as error:
        raise ValueError(f"bad settings for {env_id}: {error}") from error
    taskset.cell().make_env().close()
    config = LLMGymEnvConfig(taskset=taskset, **({"player": player} if player is not None else {}))
    environment = load_verifiers_environment(config)
    assert isinstance(environment, LLMGymEnv)
    return environment


sys.modules.setdefault(TASKSET_ID.replace("-", "_"), sys.modules[__name__])
