"""verl: an agent loop that plays any llm-gym cell multi-turn, token in and token out.

Importing this module registers ``LlmGymAgentLoop`` in verl's agent-loop registry under the name
``llm_gym``. A verl run imports it in every agent-loop worker through its agent-loop config
(``actor_rollout_ref.rollout.agent.agent_loop_config_path``; docs/verl_agent_loop.yaml is one), and
plays the dataset rows whose ``agent_name`` is ``llm_gym``: ``dataset_rows`` writes them, each with
its cell and task seed in ``extra_info["llm_gym"]``.

One episode: the cell's env is reset with the row's seed and its first observation is the user
turn of the prompt; each turn verl's generation server extends the token ids so far, the reply is
decoded and stepped as the action, and the next observation is appended as a user turn by verl's
own continuous-token builder, so the ids are never re-tokenised. The output holds the prompt ids,
the response ids (the replies and the observations after the first), ``response_mask`` (1 on the
policy's tokens, 0 on the environment's), ``reward_score`` (the episode's return) and, in
``extra_fields``, the per-turn rewards (``turn_scores``) and an ``llm_gym`` record: outcome, score,
action statuses, task id and optimal steps. An episode that outgrows ``rollout.response_length``
ends as truncated.

verl is an optional extra: ``pip install "llm-gym[verl]"`` (verl 0.9 pins transformers<5.11; with
a newer transformers, ``pip install --no-deps verl==0.9.1`` and its agent-loop imports: omegaconf,
hydra-core, tensordict, codetiming; see docs/scale.md).

Example (not run here: it needs verl and a tokenizer)::

    rows = dataset_rows([Cell("llm_gym/TextCraft-v0", "easy")], seeds=range(1000))
    pandas.DataFrame(rows).to_parquet("textcraft_easy.parquet")  # data.train_files for verl
"""

from __future__ import annotations

import dataclasses
import json
import operator
from collections.abc import Iterable
from typing import Any
from uuid import uuid4

from llm_gym.baselines.cells import Cell

try:
    from verl.experimental.agent_loop.agent_loop import AgentLoopBase, AgentLoopMetrics, AgentLoopOutput, register
    from verl.utils.profiler import simple_timer
except ImportError as error:
    raise ImportError(
        'llm_gym.integrations.verl needs verl\'s agent loop: pip install "llm-gym[verl]" (see docs/scale.md)'
    ) from error

AGENT_NAME = "llm_gym"
INSTRUCTIONS = ("keep", "system", "drop")


def dataset_rows(cells: Iterable[Cell], seeds: Iterable[int]) -> list[dict[str, Any]]:
    """verl dataset rows (``RLHFDataset``'s columns) for every cell and task seed.

    ``prompt`` is the first observation, which verl uses to filter over-long prompts; the loop
    itself resets the env again from ``extra_info["llm_gym"]`` (the cell as JSON, and the seed).
    """
    rows: list[dict[str, Any]] = []
    seeds = list(seeds)
    for cell in cells:
        cell = Cell.from_value(cell)
        env = cell.make_env()
        fields = json.dumps(dataclasses.asdict(cell), sort_keys=True)
        for seed in seeds:
            observation, _ = env.reset(seed=seed)
            rows.append(
                {
                    "data_source": cell.label,
                    "agent_name": AGENT_NAME,
                    "prompt": [{"role": "user", "content": observation}],
                    "reward_model": {"style": "env", "ground_truth": ""},
                    "extra_info": {"index": len(rows), "llm_gym": {"cell": fields, "seed": seed}},
                }
            )
        env.close()
    return rows


def episode_spec(extra_info: Any, default_cell: Any = None) -> tuple[Cell, int]:
    """The cell and task seed of a dataset row: ``extra_info["llm_gym"]`` holds ``seed`` and
    ``cell`` (a table of ``Cell`` fields, as a dict or JSON, or an env id); the loop's configured
    ``cell`` stands in for a row that names none."""
    spec = (extra_info or {}).get("llm_gym") if isinstance(extra_info, dict) else None
    if not isinstance(spec, dict) or "seed" not in spec:
        raise ValueError(
            f"an llm_gym row needs extra_info['llm_gym'] = {{'cell': ..., 'seed': int}}, got {extra_info!r}"
        )
    value = spec.get("cell", default_cell)
    if value is None:
        raise ValueError("the row names no cell and the agent loop has no default cell")
    if isinstance(value, str) and value.lstrip().startswith("{"):
        value = json.loads(value)
    try:
        seed = operator.index(spec["seed"])  # an int, or numpy's from a parquet column
    except TypeError:
        seed = None
    if seed is None or isinstance(spec["seed"], bool):
        raise ValueError(f"extra_info['llm_gym']['seed'] must be an integer, got {spec['seed']!r}")
    return Cell.from_value(value), seed


@register(AGENT_NAME)
class LlmGymAgentLoop(AgentLoopBase):
    """Plays one llm-gym episode per dataset row against verl's generation server.

    Args (from the agent-loop config, besides verl's own):
        cell: the cell of rows that name none (a table of ``Cell`` fields, or an env id).
        instructions: the rules that open the first observation: ``keep`` them there, move them
            to a ``system`` message, or ``drop`` them (a policy trained to know them).
    """

    def __init__(self, *args: Any, cell: Any = None, instructions: str = "keep", **kwargs: Any):
        super().__init__(*args, **kwargs)
        if instructions not in INSTRUCTIONS:
            raise ValueError(f"instructions = {instructions!r} is invalid; allowed: {list(INSTRUCTIONS)}")
        if cell is not None and not isinstance(cell, (str, dict)):  # an OmegaConf node from the config
            from omegaconf import OmegaConf

            cell = OmegaConf.to_container(cell, resolve=True)
        self.default_cell = cell
        self.instructions = instructions
        self.response_length = self.rollout_config.response_length
        self.max_turns = self.rollout_config.multi_turn.get("max_assistant_turns")

    def _first_messages(self, observation: str, info: dict[str, Any]) -> list[dict[str, Any]]:
        rules = info.get("instructions", "")
        if self.instructions == "keep" or not rules or not observation.startswith(rules):
            return [{"role": "user", "content": observation}]
        rest = [{"role": "user", "content": observation[len(rules) :].lstrip()}]
        return ([{"role": "system", "content": rules}] if self.instructions == "system" else []) + rest

    async def run(self, sampling_params: dict[str, Any], **kwargs: Any) -> AgentLoopOutput:
        cell, seed = episode_spec(kwargs.get("extra_info"), self.default_cell)
        env = cell.make_env()
        tokenizer: Any = self.tokenizer
        metrics: dict[str, Any] = {}
        try:
            with simple_timer("tool_calls", metrics):
                observation, info = await self.loop.run_in_executor(None, lambda: env.reset(seed=seed))
            messages = self._first_messages(observation, info)
            prompt_ids = await self.ct_build_initial_tokens(messages)
            ids, mask, logprobs = list(prompt_ids), list[int](), list[float]()
            rewards, statuses, outcome, score = [], [], "truncated", 0.0
            request_id = uuid4().hex
            while True:
                with simple_timer("generate_sequences", metrics):
                    output = await self.server_manager.generate(
                        request_id=request_id, prompt_ids=ids, sampling_params=sampling_params
                    )
                merged, mask, merged_logprobs = await self.ct_merge_assistant_token(
                    ids,
                    output.token_ids,
                    mask,
                    logprobs if output.log_probs else None,
                    assistant_logprobs=output.log_probs,
                )
                ids, logprobs = merged.token_ids, merged_logprobs or []
                reply = tokenizer.decode(output.token_ids, skip_special_tokens=True).strip()
                with simple_timer("tool_calls", metrics):
                    observation, reward, terminated, truncated, info = await self.loop.run_in_executor(
                        None, env.step, reply
                    )
                rewards.append(float(reward))
                statuses.append(info["action_status"])
                score = float(info["score"])
                if terminated or truncated:
                    outcome = info["outcome"]
                    break
                if len(mask) >= self.response_length or (self.max_turns and len(rewards) >= self.max_turns):
                    break
                previous = [*messages, {"role": "assistant", "content": reply}]
                messages = [*previous, {"role": "user", "content": observation}]
                merged, next_mask, next_logprobs = await self.ct_merge_context_msg(
                    previous, messages, ids, mask, logprobs or None
                )
                if len(next_mask) >= self.response_length:
                    break
                ids, mask, logprobs = merged.token_ids, next_mask, next_logprobs or []
        finally:
            env.close()
        length = self.response_length
        start = len(ids) - len(mask)
        return AgentLoopOutput(
            prompt_ids=ids[:start],
            response_ids=ids[start:][:length],
            response_mask=mask[:length],
            response_logprobs=logprobs[:length] if logprobs else None,
            reward_score=sum(rewards),
            num_turns=2 * len(rewards) + 1,
            metrics=AgentLoopMetrics(**metrics),
            extra_fields={
                "turn_scores": rewards,
                "tool_rewards": [],
                "llm_gym": {
                    "cell": cell.label,
                    "seed": seed,
                    "outcome": outcome,
                    "score": score,
                    "statuses": statuses,
                    "task_id": info["task_id"],
                    "optimal_steps": info["optimal_steps"],
                },
            },
        )
