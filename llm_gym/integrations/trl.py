"""Train on llm-gym environments with TRL's ``GRPOTrainer`` (``pip install "llm-gym[trl]"``).

Two ways in, over the same dataset (``dataset(cells, seeds)``: one row per cell and task seed):

- ``environment_factory(env_id, **make_kwargs)`` returns a class for
  ``GRPOTrainer(environment_factory=...)``. TRL builds its tool schemas from Python signatures and
  Google-style docstrings, so the class has one typed, docstringed method per command of the
  family's grammar, generated from its ``CommandSpec``s. The model calls them as native tool
  calls through its chat template (``tool_chat_template()`` is a ChatML one TRL can parse, for a
  tokenizer without one, such as the tiny model's); each call steps the env in its ``toolcall``
  interface and returns the observation, and ``get_reward()`` is the episode's return.
- ``MultiTurnRollout`` is a ``rollout_func``: whole episodes played token-in/token-out with
  llm-gym's own ``ChatCodec`` in the cell's interface (any text action format). The ids sampled
  are exactly the ids trained on, and ``env_mask`` keeps the environment's tokens out of the
  loss; ``episode_return`` is the reward function that reads the result.

Example:
    >>> TextCraftTools = environment_factory("llm_gym/TextCraft-v0", difficulty="easy")
    >>> env = TextCraftTools()
    >>> observation = env.reset(seed=0)
    >>> TOOL_USE in observation  # the rules say to call tools, the tools' schemas come with the chat
    True
    >>> env.get(count=1, item="end stone").splitlines()[0]
    'Got 1 end stone.'
    >>> env.get_reward(), env.done
    (0.0, False)
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import gymnasium as gym

from llm_gym.core import text_env_of
from llm_gym.grammar import Arg, CommandSpec, Grammar
from llm_gym.presentation import presentation_of
from llm_gym.wrappers import formats

#: The dataset columns that name an episode's env; ``environment`` is also TRL's routing key when
#: ``environment_factory`` is a dict of factories by env id.
CELL_FIELDS = ("environment", "difficulty", "theme", "interface", "semantics", "max_turns")
#: The key of the prompt's user message that carries the row's task (env fields and seed): TRL hands a
#: ``rollout_func`` the prompts alone, so this is how ``MultiTurnRollout`` knows which task to play.
TASK_KEY = "llm_gym_task"
TOOL_USE = "Act by calling one of the tools, one call per turn; each call returns what happens next."
_PYTHON_TYPES: dict[str, Any] = {"int": int, "name": str, "text": str, "counted_names": list[dict]}
_DEFAULT_ARG_DOCS = {"int": "a whole number", "name": "a name, as the observation writes it", "text": "free text"}
_COUNTED_NAMES = 'a list of objects {"count": <number>, "item": <name>}'  # what a Python type hint cannot say


def _require(module: str):
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise ImportError(f'the TRL adapter needs {module}: pip install "llm-gym[trl]"') from error


# ----- environment_factory: one tool method per command ----------------------------------------


class ToolEnv:
    """Base of the classes ``environment_factory`` makes: an llm-gym env whose commands are tools.

    TRL makes instances without arguments, calls ``reset(**row)`` with each dataset row, exposes
    every public method but ``reset`` and ``get_reward`` as a tool, and scores a rollout with
    ``get_reward()``. The episode's state is in attributes, which TRL does not take for tools:
    ``env``, ``reward`` (the return so far), ``done``, ``outcome`` and ``statuses`` (each turn's
    ``action_status``).
    """

    env_id: str
    make_kwargs: dict[str, Any]
    grammar: Grammar  # the family's, from which the tool methods were made

    def __init__(self) -> None:
        self._envs: dict[str, gym.Env] = {}
        self._env: gym.Env | None = None
        self.reward, self.done, self.outcome = 0.0, False, "not started"
        self.statuses: list[str] = []

    @property
    def env(self) -> gym.Env | None:
        """The env of the current episode (``None`` before the first ``reset``)."""
        return self._env

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.env_id!r}, outcome={self.outcome!r}, reward={self.reward})"

    def reset(self, **row: Any) -> str:
        """Start the task of a dataset row: its ``seed`` and, where set, its env fields
        (``CELL_FIELDS``), which override the factory's keyword arguments. Other keys (the prompt,
        columns of the user's own) are ignored. Returns the first observation."""
        seed = row.get("seed")
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ValueError(
                f"reset needs the row's task seed, a non-negative integer; got seed={seed!r} "
                "(llm_gym.integrations.trl.dataset builds rows with one)"
            )
        env = self._env_for(row)
        observation, info = env.reset(seed=seed)
        self._env, self.reward, self.done, self.outcome, self.statuses = env, 0.0, False, info["outcome"], []
        block = formats.format_instructions(presentation_of(env).grammar, "toolcall")
        return observation.replace(block, TOOL_USE, 1)

    def get_reward(self) -> float:
        """The return of the episode so far (TRL's reward for the rollout)."""
        return self.reward

    def _env_for(self, row: dict[str, Any]) -> gym.Env:
        kwargs = dict(self.make_kwargs)
        for field in CELL_FIELDS[1:]:
            if row.get(field) is not None:
                kwargs[field] = _difficulty(row[field]) if field == "difficulty" else row[field]
        named = row.get("environment")
        if named is not None and _resolve(named) != self.env_id:
            raise ValueError(
                f"{type(self).__name__} plays {self.env_id}, but the row names {named!r}; pass "
                "environment_factory={env_id: environment_factory(env_id) for each env id} to route rows by env"
            )
        key = json.dumps(kwargs, sort_keys=True, default=str)
        if key not in self._envs:
            env = _make_tool_env(self.env_id, kwargs)
            if _signature(text_env_of(env).grammar) != _signature(self.grammar):
                raise ValueError(
                    f"the row's env {kwargs} has other commands than {type(self).__name__} was made for; "
                    "make a factory for it with environment_factory(env_id, **those kwargs)"
                )
            self._envs[key] = env
        return self._envs[key]

    def _act(self, spec: CommandSpec, arguments: dict[str, Any]) -> str:
        """Step the env with one tool call; a call it cannot read is its ``parse_error`` turn."""
        if self._env is None:
            return "No episode is running: the environment was not reset."
        if self.done:
            return f"The episode is over ({self.outcome}); no more actions are taken."
        current = presentation_of(self._env).grammar.spec(spec.verb)  # a reskin may rename arguments
        named = dict(arguments)
        renamed = {now.name: named.pop(arg.name) for arg, now in zip(spec.args, current.args) if arg.name in named}
        call = json.dumps({"name": spec.tool_name, "arguments": {**renamed, **named}}, default=str)
        observation, reward, terminated, truncated, info = self._env.step(call)
        self.reward += float(reward)
        self.done, self.outcome = terminated or truncated, info["outcome"]
        self.statuses.append(info["action_status"])
        return f"{observation}\n\nThe episode is over ({self.outcome})." if self.done else observation


def environment_factory(env_id: str, **make_kwargs: Any) -> type[ToolEnv]:
    """A ``ToolEnv`` subclass for ``GRPOTrainer(environment_factory=...)`` playing ``env_id``.

    ``make_kwargs`` go to ``gym.make`` (``difficulty``, ``theme``, ``semantics``, ``max_turns``...);
    a dataset row's env fields override them per episode. ``interface`` may set the observation
    format and the action list; its action format is ``toolcall`` (the one TRL's tool calls
    write), and another one is refused. The class has one method per command, named by its
    tool name, with typed arguments and a docstring TRL turns into the tool's schema.
    """
    env_id = _resolve(env_id)
    probe = _make_tool_env(env_id, make_kwargs)
    core = text_env_of(probe)
    grammar, family = core.grammar, core.family
    probe.close()
    methods = {spec.tool_name: _tool_method(spec) for spec in grammar}
    clashes = sorted(set(methods) & {name for name in dir(ToolEnv) if not name.startswith("_")})
    if clashes:
        raise ValueError(f"{env_id} has commands named like ToolEnv's own members: {clashes}")
    attributes = {
        "env_id": env_id,
        "make_kwargs": dict(make_kwargs),
        "grammar": grammar,
        "__module__": __name__,
        "__doc__": f"{env_id} for TRL: one tool per command ({', '.join(methods)}).",
        **methods,
    }
    return type(f"{family}ToolEnv", (ToolEnv,), attributes)


def _tool_method(spec: CommandSpec) -> Callable[..., str]:
    """The method TRL calls for ``spec``: its signature and docstring are the tool's schema."""

    def tool(self: ToolEnv, **arguments: Any) -> str:
        return self._act(spec, arguments)

    parameters = [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    parameters += [
        inspect.Parameter(arg.name, inspect.Parameter.KEYWORD_ONLY, annotation=_PYTHON_TYPES[arg.kind])
        for arg in spec.args
    ]
    tool.__name__ = tool.__qualname__ = spec.tool_name
    tool.__signature__ = inspect.Signature(parameters, return_annotation=str)  # type: ignore[attr-defined]
    tool.__annotations__ = {**{arg.name: _PYTHON_TYPES[arg.kind] for arg in spec.args}, "return": str}
    lines = [spec.description or spec.syntax, ""]
    if spec.args:
        lines += ["Args:", *(f"    {arg.name}: {_arg_doc(arg)}" for arg in spec.args)]
        lines.append("")
    lines += ["Returns:", "    What happens: the environment's next observation."]
    tool.__doc__ = "\n".join(lines)
    return tool


def _arg_doc(arg: Arg) -> str:
    if arg.kind == "counted_names":
        return f"{arg.description} ({_COUNTED_NAMES})" if arg.description else _COUNTED_NAMES
    return arg.description or _DEFAULT_ARG_DOCS[arg.kind]


def _signature(grammar: Grammar) -> list[tuple[str, tuple[str, ...]]]:
    return [(spec.tool_name, tuple(arg.kind for arg in spec.args)) for spec in grammar]


def _tool_interface(interface: str | None) -> str:
    """``interface`` with the ``toolcall`` action format; a ``ValueError`` for one TRL cannot drive."""
    from llm_gym.wrappers.presets import parse_interface

    parts = parse_interface(interface)
    if parts.get("action", "toolcall") != "toolcall":
        raise ValueError(
            f"TRL's tool calls write the 'toolcall' action format, but interface {interface!r} sets "
            f"{parts['action']!r}; drop it, or train that interface with MultiTurnRollout"
        )
    if "history" in parts:
        raise ValueError(f"TRL keeps the chat history itself; drop 'history' from interface {interface!r}")
    return f"{interface}+toolcall" if interface and "action" not in parts else interface or "toolcall"


def _make_tool_env(env_id: str, kwargs: dict[str, Any]) -> gym.Env:
    kwargs = {**kwargs, "interface": _tool_interface(kwargs.get("interface"))}
    return gym.make(env_id, **kwargs)


def _resolve(env_id: str) -> str:
    """An llm-gym id or family name, or any other registered id (a user's own ``TextEnv``)."""
    if env_id in gym.registry:
        return env_id
    from llm_gym.registry import resolve_id

    return resolve_id(env_id)


def _make_text_env(env_id: str, kwargs: dict[str, Any], label: str) -> gym.Env:
    """``gym.make(env_id, **kwargs)`` for a cell, which must take text actions; errors name the cell."""
    try:
        env = gym.make(env_id, **kwargs)
    except (ValueError, gym.error.Error) as error:
        raise ValueError(f"bad cell {label}: {error}") from error
    if not isinstance(env.action_space, gym.spaces.Text):
        env.close()
        raise ValueError(f"bad cell {label}: its interface takes {env.action_space}, not text")
    return env


def _difficulty(value: Any) -> Any:
    """A difficulty as a dataset stores it (a preset name, or knobs as JSON) back to what ``make`` takes."""
    return json.loads(value) if isinstance(value, str) and value.lstrip().startswith("{") else value


# ----- the dataset ------------------------------------------------------------------------------


def dataset(cells: Iterable[Any], seeds: Iterable[int]):
    """A ``datasets.Dataset`` with one row per cell and task seed, for both ways in.

    ``cells`` are ``Cell``s, env ids or tables of cell fields (``llm_gym.baselines.cells.Cell``);
    every cell gets every seed. A row has ``prompt`` (one user message; TRL appends the first
    observation that ``reset`` returns), ``seed`` and the cell's ``CELL_FIELDS`` (``difficulty``
    as its label: a preset name or the knobs as JSON). The user message also carries the same
    fields under ``TASK_KEY``, which chat templates ignore, for ``MultiTurnRollout``.

    Example:
        >>> rows = dataset(["llm_gym/TextCraft-v0"], seeds=[0, 1])
        >>> rows[1]["seed"], rows[1]["environment"], rows[1]["difficulty"]
        (1, 'llm_gym/TextCraft-v0', 'easy')
    """
    from llm_gym.baselines.cells import Cell

    datasets = _require("datasets")
    seeds = list(seeds)
    for seed in seeds:
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ValueError(f"task seeds must be non-negative integers, got {seed!r}")
    rows = []
    for cell in map(Cell.from_value, cells):
        env_id = _resolve(cell.env_id)
        _make_text_env(env_id, cell.make_kwargs(), cell.label).close()  # a bad cell fails here, naming itself
        fields = {
            "environment": env_id,
            "difficulty": cell.difficulty_label,
            "theme": cell.theme,
            "interface": cell.interface,
            "semantics": cell.semantics,
            "max_turns": cell.max_turns,
        }
        for seed in seeds:
            task = {**fields, "seed": seed}
            rows.append({"prompt": [{"role": "user", "content": "", TASK_KEY: task}], **task})
    if not rows:
        raise ValueError("dataset() needs at least one cell and one seed")
    return datasets.Dataset.from_list(rows)


# ----- rollout_func: token-exact multi-turn episodes with llm-gym's codec -----------------------


def tool_chat_template() -> str:
    """A ChatML chat template with tool calls and tool results (Qwen2.5's, whose replies TRL
    parses), for a tokenizer without a tool-capable one: ``tokenizer.chat_template = tool_chat_template()``."""
    return _require("trl.chat_template_utils").qwen2_5_chat_template


class MultiTurnRollout:
    """A TRL ``rollout_func`` that plays whole episodes with llm-gym's ``ChatCodec``.

    Each prompt names its task (``TASK_KEY``, written by ``dataset``); the episodes of a batch
    play turn-synchronously with one KV cache (``llm_gym.baselines.rollout.play_batch``), in the
    cell's own interface. ``completion_ids`` holds every turn after the first prompt, replies and
    environment tokens alike; ``env_mask`` is 1 exactly on the sampled ids, which are the ids
    trained on, so nothing is re-tokenised. The extra fields ``episode_return``,
    ``episode_success``, ``episode_outcome`` and ``episode_turns`` reach the reward functions.

    Args:
        max_new_tokens: the most tokens of one reply.
        max_tokens: the most tokens an episode holds before its last reply, prompt included; an
            episode that would outgrow it ends as truncated. The default keeps every completion
            within the trainer's ``max_completion_length`` (exactly so for the longest prompt).
        codec_settings: ``ChatCodec``'s settings, such as ``instructions_as_system=True``.
    """

    def __init__(self, max_new_tokens: int = 64, max_tokens: int | None = None, **codec_settings: bool):
        from llm_gym.baselines.rollout import ChatCodec

        if max_new_tokens < 1 or (max_tokens is not None and max_tokens < 2):
            raise ValueError(f"max_new_tokens must be >= 1 and max_tokens >= 2, got {max_new_tokens}, {max_tokens}")
        allowed = [name for name in inspect.signature(ChatCodec).parameters if name != "tokenizer"]
        unknown = sorted(set(codec_settings) - set(allowed))
        if unknown:
            raise ValueError(f"unknown ChatCodec setting(s) {unknown}; allowed: {allowed}")
        self.max_new_tokens, self.max_tokens = max_new_tokens, max_tokens
        self.codec_settings = codec_settings
        self._codec: tuple[Any, Any] = (None, None)  # (tokenizer, its codec)
        self._envs: dict[str, list[gym.Env]] = {}  # made envs per cell, reused across calls
        self._calls = 0

    def __call__(self, prompts: Sequence[list[dict[str, Any]]], trainer: Any) -> dict[str, list]:
        from llm_gym.baselines.rollout import play_batch, sampling_generator, start_episode
        from llm_gym.baselines.trainer import seed_of

        tasks = [_task_of(prompt) for prompt in prompts]
        codec = self._codec_for(getattr(trainer, "_tokenizer", None) or trainer.processing_class)
        model = trainer.accelerator.unwrap_model(trainer.model)
        handed: dict[str, int] = {}
        episodes = [start_episode(self._env(task, handed), codec, task["seed"], i) for i, task in enumerate(tasks)]
        starts = [len(episode.ids) for episode in episodes]
        self._calls += 1
        seed = seed_of(trainer.args.seed, "trl-rollout", trainer.accelerator.process_index, self._calls)
        play_batch(
            model,
            codec,
            episodes,
            self.max_new_tokens,
            sampling_generator(seed, next(model.parameters()).device),
            temperature=trainer.temperature,
            max_tokens=self.max_tokens or max(starts) + max(1, trainer.max_completion_length - self.max_new_tokens),
        )
        return {
            "prompt_ids": [episode.ids[:start] for episode, start in zip(episodes, starts)],
            "completion_ids": [episode.ids[start:] for episode, start in zip(episodes, starts)],
            "logprobs": [episode.logprobs[start:] for episode, start in zip(episodes, starts)],
            "env_mask": [episode.mask[start:] for episode, start in zip(episodes, starts)],
            "episode_return": [episode.ret for episode in episodes],
            "episode_success": [float(episode.success) for episode in episodes],
            "episode_outcome": [episode.outcome for episode in episodes],
            "episode_turns": [len(episode.rewards) for episode in episodes],
        }

    def _env(self, task: dict[str, Any], handed: dict[str, int]) -> gym.Env:
        """A free env of the task's cell for this batch (``handed`` counts those taken per cell)."""
        from llm_gym.baselines.cells import Cell

        cell = Cell(
            task["environment"],
            _difficulty(task["difficulty"]),
            theme=task.get("theme"),
            interface=task.get("interface"),
            semantics=task.get("semantics"),
            max_turns=task.get("max_turns"),
        )
        key = json.dumps({"env_id": cell.env_id, **cell.make_kwargs()}, sort_keys=True)
        pool, taken = self._envs.setdefault(key, []), handed.get(key, 0)
        if taken == len(pool):
            pool.append(_make_text_env(_resolve(cell.env_id), cell.make_kwargs(), cell.label))
        handed[key] = taken + 1
        return pool[taken]

    def _codec_for(self, tokenizer: Any):
        if self._codec[0] is not tokenizer:
            from llm_gym.baselines.rollout import ChatCodec

            self._codec = (tokenizer, ChatCodec(tokenizer, **self.codec_settings))
        return self._codec[1]


def _task_of(prompt: Any) -> dict[str, Any]:
    """The task a prompt carries under ``TASK_KEY``."""
    messages = prompt if isinstance(prompt, list) else []
    for message in reversed(messages):
        task = message.get(TASK_KEY) if isinstance(message, dict) else None
        if isinstance(task, dict) and isinstance(task.get("seed"), int) and task.get("environment"):
            return task
    raise ValueError(
        f"a prompt carries no llm-gym task under {TASK_KEY!r}; build the dataset with "
        "llm_gym.integrations.trl.dataset(cells, seeds)"
    )


def episode_return(episode_return: Sequence[float], log_metric: Callable | None = None, **kwargs: Any) -> list[float]:
    """The reward function for ``MultiTurnRollout``: each episode's return. Logs the success rate
    as ``llm_gym/success`` where TRL passes ``log_metric``."""
    success = kwargs.get("episode_success")
    if log_metric is not None and success:
        log_metric("llm_gym/success", sum(success) / len(success))
    return [float(value) for value in episode_return]
