"""Baseline multi-turn reinforcement fine-tuning (RFT) of a causal LM on llm-gym environments.

One file, read top to bottom (CleanRL style):

1. ``Args`` and ``Phase`` over ``cells.Cell``: the whole configuration, validated before any work starts.
2. Environments: a cell (env id, difficulty, interface, theme, weight) becomes a made env.
3. Warm start: supervised steps on oracle trajectories with a share of random actions.
4. Rollout: G episodes per task seed, batched and token-in/token-out (``rollout.py``).
5. Advantages: group-relative (GRPO), or per-turn discounted returns with batch normalisation.
6. Loss: policy gradient on the agent's tokens only, each episode weighted once (or each turn,
   or each token), with a fixed normaliser; optional PPO-clip over stored log-probabilities and
   k3 KL to a frozen reference. Parameters stay fp32 (bf16 autocast on CUDA), log-probabilities
   are computed only at the agent's positions, in chunks.
7. The loop: mixture or sequential phases, evaluation on fixed seeds, JSONL metrics, checkpoints
   (a resumed run reproduces an uninterrupted one), non-finite losses skipped, curves plotted.

The policy is any local Hugging Face checkpoint with a chat template, a pretrained model by name
(``"smollm2"``, see ``models.py``), or ``"tiny"``: a ~1M-parameter
Llama and a BPE tokenizer built offline from the environments' own text (``tiny.py``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import random
import shutil
import time
import warnings
from collections import Counter
from pathlib import Path
from typing import Any

from llm_gym.baselines.cells import Cell
from llm_gym.baselines.rollout import ChatCodec, Episode, autocast, oracle_episode, rollout, sampling_generator
from llm_gym.core import checked_index

EVAL_SEED_BASE = 10**9  # eval task seeds are EVAL_SEED_BASE + i; training task seeds lie below it
ADVANTAGES = ("grpo", "turn_returns")
LOSS_AGGREGATIONS = ("episode", "turn", "token")
INSTRUCTIONS = ("auto", "keep", "drop", "system")

# ----- 1. configuration ------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Phase:
    """A stage of sequential training: ``iterations`` RL iterations on a mixture of ``cells``."""

    iterations: int
    cells: tuple[Cell, ...]


@dataclasses.dataclass(frozen=True)
class Args:
    # run
    out_dir: str = "runs/rft"
    seed: int = 0
    model: str = "tiny"  # "tiny" (built offline), a name of models.PRETRAINED ("smollm2"), or a checkpoint dir
    tiny_hidden: int = 128
    tiny_layers: int = 4
    tiny_vocab: int = 1024
    tiny_copy_steps: int = 2400  # synthetic copy pretraining of the tiny model (0: none); see tiny.py
    threads: int = 1  # torch threads on CPU; 1 is much faster for small models on a small VM
    device: str = "auto"  # auto, cpu, cuda (fp32 parameters with bf16 autocast on cuda)
    gradient_checkpointing: bool = False  # recompute activations in backward: less memory, ~30% slower
    lora_rank: int = 0  # > 0: train LoRA adapters (peft) instead of all weights
    lora_alpha: int = 16
    instructions: str = "auto"  # keep, drop or system (a system message) the rules; auto: drop for tiny, else keep
    one_line: bool = False  # a reply ends at its first line break (ChatCodec.one_line)
    # environments: a mixture of cells, or sequential phases
    cells: tuple[Cell, ...] = (Cell(),)
    phases: tuple[Phase, ...] = ()
    eval_cells: tuple[Cell, ...] = ()  # default: every training cell
    backend: str = "local"  # where the envs run: local (this process) or ray (Ray actors, llm_gym.integrations.ray)
    env_workers: int = 2  # backend ray: Ray actors holding the envs
    # warm start (supervised, on noisy oracle episodes)
    warm_cells: tuple[Cell, ...] = ()  # default: the first phase's cells
    warm_steps: int = 200
    warm_batch: int = 16
    warm_noise: float = 0.3  # share of random admissible actions in the oracle episodes
    warm_lr: float = 3e-3
    # RL
    iterations: int = 100  # total over phases when phases are given, else of the mixture
    groups: int = 8  # task seeds per iteration
    group_size: int = 8  # episodes per task seed (G)
    lr: float = 3e-4
    temperature: float = 1.0
    max_new_tokens: int = 32  # per turn
    max_tokens: int = 2048  # per episode; longer episodes end as truncated
    end_on_invalid: bool = False  # a training episode ends at its first parse error or illegal action
    advantage: str = "grpo"  # grpo, or turn_returns (per-turn discounted returns, batch-normalised)
    std_norm: bool = True  # divide group advantages by the group's std (False: Dr. GRPO)
    gamma: float = 1.0  # discount of turn_returns
    kl_coef: float = 0.0  # k3 KL to the frozen warm-start policy; 0 loads no reference
    loss_aggregation: str = "episode"  # episode (each episode weighs the same), turn, or token
    ppo_epochs: int = 1  # > 1: PPO-clip updates against the stored sampling log-probabilities
    clip_eps: float = 0.2
    grad_clip: float = 1.0
    microbatch: int = 16  # sequences per forward/backward (gradients accumulate)
    logprob_chunk: int = 1024  # agent positions per chunk of the vocabulary projection
    rollout_batch: int = 256  # episodes generating together
    # evaluation and records
    eval_seeds: int = 200
    eval_samples: int = 1  # sampled episodes per eval seed: > 1 also records pass@k (k = eval_samples)
    eval_every: int = 10
    eval_greedy: bool = True
    eval_at_start: bool = True  # evaluate the warm start (the study evaluates its shared one once)
    checkpoint_every: int = 20
    keep_checkpoints: int = 2
    max_nonfinite: int = 3  # stop after this many non-finite losses in a row
    rl_time_limit_s: float = 0.0  # > 0: stop RL after this much training time (evaluation excluded)
    rl_clock: str = "wall"  # what rl_time_limit_s counts: wall seconds, or cpu (this process's CPU time)
    resume: bool = False
    plot: bool = True
    progress: bool = True

    def __post_init__(self):
        cells = tuple(Cell.from_value(c) for c in self.cells)
        phases = tuple(_phase(p) for p in self.phases)
        object.__setattr__(self, "cells", cells)
        object.__setattr__(self, "phases", phases)
        object.__setattr__(self, "eval_cells", tuple(Cell.from_value(c) for c in self.eval_cells))
        object.__setattr__(self, "warm_cells", tuple(Cell.from_value(c) for c in self.warm_cells))
        for name in (
            "tiny_hidden",
            "tiny_layers",
            "tiny_vocab",
            "threads",
            "groups",
            "group_size",
            "max_new_tokens",
            "max_tokens",
            "ppo_epochs",
            "microbatch",
            "logprob_chunk",
            "rollout_batch",
            "eval_seeds",
            "eval_samples",
            "eval_every",
            "checkpoint_every",
            "keep_checkpoints",
            "max_nonfinite",
            "warm_batch",
            "env_workers",
        ):
            value = getattr(self, name)
            checked_index(value, f"Args.{name}", 1)
        for name in ("warm_steps", "iterations", "lora_rank", "tiny_copy_steps"):
            value = getattr(self, name)
            checked_index(value, f"Args.{name}")
        if self.advantage not in ADVANTAGES:
            raise ValueError(f"Args.advantage = {self.advantage!r} is invalid; allowed: {list(ADVANTAGES)}")
        if self.loss_aggregation not in LOSS_AGGREGATIONS:
            raise ValueError(
                f"Args.loss_aggregation = {self.loss_aggregation!r} is invalid; allowed: {list(LOSS_AGGREGATIONS)}"
            )
        if self.instructions not in INSTRUCTIONS:
            raise ValueError(f"Args.instructions = {self.instructions!r} is invalid; allowed: {list(INSTRUCTIONS)}")
        if self.rl_clock not in ("wall", "cpu"):
            raise ValueError(f"Args.rl_clock = {self.rl_clock!r} is invalid; allowed: ['wall', 'cpu']")
        if self.device not in ("auto", "cpu", "cuda"):
            raise ValueError(f"Args.device = {self.device!r} is invalid; allowed: ['auto', 'cpu', 'cuda']")
        if self.backend not in ("local", "ray"):
            raise ValueError(f"Args.backend = {self.backend!r} is invalid; allowed: ['local', 'ray']")
        if not 0.0 <= self.warm_noise <= 1.0:
            raise ValueError(f"Args.warm_noise must be in [0, 1], got {self.warm_noise!r}")
        if self.group_size < 2 and self.advantage == "grpo":
            raise ValueError("Args.group_size must be at least 2 for grpo advantages")
        if self.temperature <= 0 or self.lr <= 0 or self.warm_lr <= 0 or not 0 < self.gamma <= 1:
            raise ValueError("Args.temperature, lr and warm_lr must be > 0 and gamma in (0, 1]")
        if not cells and not phases:
            raise ValueError("Args needs at least one cell (or phases)")
        if phases and sum(p.iterations for p in phases) != self.iterations:
            object.__setattr__(self, "iterations", sum(p.iterations for p in phases))

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> Args:
        unknown = sorted(set(values) - set(_fields(cls)))
        if unknown:
            raise ValueError(f"unknown config key(s) {unknown}; allowed: {_fields(cls)}")
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        return json.loads(json.dumps(dataclasses.asdict(self)))

    @property
    def schedule(self) -> tuple[Phase, ...]:
        return self.phases or (Phase(self.iterations, self.cells),)

    @property
    def training_cells(self) -> tuple[Cell, ...]:
        """Every phase's cells, each once, in order."""
        return tuple(dict.fromkeys(c for phase in self.schedule for c in phase.cells))

    @property
    def all_eval_cells(self) -> tuple[Cell, ...]:
        return self.eval_cells or self.training_cells

    @property
    def all_warm_cells(self) -> tuple[Cell, ...]:
        return self.warm_cells or self.schedule[0].cells

    @property
    def all_cells(self) -> tuple[Cell, ...]:
        """Every cell the run warms up on, trains on or evaluates, each once, in that order."""
        return tuple(dict.fromkeys([*self.all_warm_cells, *self.training_cells, *self.all_eval_cells]))


def _fields(cls) -> list[str]:
    return [f.name for f in dataclasses.fields(cls)]


def _phase(value: Any) -> Phase:
    if isinstance(value, Phase):
        return value
    if not isinstance(value, dict) or set(value) != {"iterations", "cells"}:
        raise ValueError(f"a phase must be a table with exactly 'iterations' and 'cells'; got {value!r}")
    return Phase(int(value["iterations"]), tuple(Cell.from_value(c) for c in value["cells"]))


def seed_of(*parts: Any) -> int:
    """A 63-bit seed from any parts, stable across processes (no global RNG anywhere)."""
    return int.from_bytes(hashlib.sha256("/".join(map(str, parts)).encode()).digest()[:8], "big") >> 1


# ----- 2. environments -------------------------------------------------------------------------


def make_env(cell: Cell):
    """Make a cell's env (``Cell.make_env``), which must take text actions."""
    import gymnasium as gym

    env = cell.make_env()
    if not isinstance(env.action_space, gym.spaces.Text):
        raise ValueError(f"bad cell {cell.label}: interface {cell.interface!r} takes {env.action_space}, not text")
    return env


class EnvPool:
    """Made envs per cell, reused across iterations (an env is reset for each new episode).
    ``make`` builds one in this process; ``llm_gym.integrations.ray.RayEnvPool`` in a Ray actor."""

    def __init__(self):
        self.envs: dict[Cell, list] = {}

    def make(self, cell: Cell):
        return make_env(cell)

    def take(self, cell: Cell, count: int) -> list:
        envs = self.envs.setdefault(cell, [])
        while len(envs) < count:
            envs.append(self.make(cell))
        return envs[:count]

    def close(self) -> None:
        for env in (env for envs in self.envs.values() for env in envs):
            env.close()
        self.envs = {}


def pick_cells(cells: tuple[Cell, ...], count: int, rng: random.Random) -> list[Cell]:
    return rng.choices(cells, weights=[c.weight for c in cells], k=count)


# ----- 3. warm start ---------------------------------------------------------------------------


def warm_start(model, codec: ChatCodec, args: Args, pool: EnvPool, log) -> None:
    """Supervised steps on noisy oracle episodes: token-mean cross-entropy on the agent's tokens."""
    import torch

    cells = args.all_warm_cells
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.warm_lr)
    for step in range(args.warm_steps):
        rng = random.Random(seed_of(args.seed, "warm", step))
        chosen = pick_cells(cells, args.warm_batch, rng)
        episodes = []
        for cell in dict.fromkeys(chosen):
            for env in pool.take(cell, 1) * chosen.count(cell):
                episodes.append(
                    oracle_episode(env, codec, rng.randrange(EVAL_SEED_BASE), args.warm_noise, rng, args.max_tokens)
                )
        loss_value = 0.0
        zeros = [[0.0] * len(e.rewards) for e in episodes]
        for batch in microbatches(episodes, zeros, args.microbatch, codec.tokenizer.pad_token_id, _device(model)):
            logp = token_logprobs(model, batch, chunk=args.logprob_chunk)
            loss = -(logp * batch["weight"]).sum()  # token mean over the oracle's replies
            loss.backward()
            loss_value += float(loss.detach())
        torch.nn.utils.clip_grad_norm_(model.parameters(), args.grad_clip)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if step % 10 == 0 or step == args.warm_steps - 1:
            log({"kind": "warm", "iteration": 0, "step": step + 1, "loss": loss_value})


# ----- 4. rollout (see rollout.py) and the batch it becomes ------------------------------------


def microbatches(
    episodes: list[Episode],
    turn_advantages: list[list[float]],
    size: int,
    pad_id: int,
    device: Any = "cpu",
    turn_weights: list[list[float]] | None = None,
):
    """Right-padded training tensors, ``size`` episodes at a time, shifted for next-token.

    ``mask[b, t]`` is 1 when token ``t + 1`` is trained on; ``adv`` carries the advantage of the
    turn that produced it, ``weight`` that turn's per-token weight in the loss (``turn_weights``,
    default: a token mean over ``episodes``) and ``old_logp`` its stored sampling log-probability.
    """
    import torch

    if turn_weights is None:
        turn_weights = loss_weights(episodes, "token")
    order = sorted(range(len(episodes)), key=lambda i: len(episodes[i].ids))  # similar lengths together
    for start in range(0, len(order), size):
        rows = order[start : start + size]
        chunk = [episodes[i] for i in rows]
        width = max(len(e.ids) for e in chunk)
        ids = torch.full((len(chunk), width), pad_id, dtype=torch.long)
        attention = torch.zeros((len(chunk), width), dtype=torch.long)
        mask, adv, weight, old = (torch.zeros((len(chunk), width), dtype=torch.float32) for _ in range(4))
        for row, index in enumerate(rows):
            episode = episodes[index]
            n = len(episode.ids)
            ids[row, :n] = torch.tensor(episode.ids)
            attention[row, :n] = 1
            mask[row, :n] = torch.tensor(episode.mask, dtype=torch.float32)
            adv[row, :n] = torch.tensor([turn_advantages[index][t] if t >= 0 else 0.0 for t in episode.turn])
            weight[row, :n] = torch.tensor([turn_weights[index][t] if t >= 0 else 0.0 for t in episode.turn])
            old[row, :n] = torch.tensor(episode.logprobs)
        yield {
            "ids": ids.to(device),
            "attention": attention.to(device),
            "mask": mask[:, 1:].to(device),
            "adv": adv[:, 1:].to(device),
            "weight": weight[:, 1:].to(device),
            "old_logp": old[:, 1:].to(device),
        }


def loss_weights(episodes: list[Episode], aggregation: str) -> list[list[float]]:
    """Per episode and turn, the weight of each trained token of that turn in the loss.

    ``episode``: every episode weighs 1/N, spread evenly over its tokens, so a group's advantages,
    which sum to zero, push the policy with zero net weight whatever the episodes' lengths;
    ``turn``: every episode weighs 1/N, spread evenly over its turns, then over each turn's tokens;
    ``token``: every token weighs 1/(tokens of the batch), which favours long episodes.
    Computed over every episode of a rollout, dropped ones included, so dropping a group with no
    variance never rescales the others.
    """
    per_turn = [Counter(t for t in episode.turn if t >= 0) for episode in episodes]
    n = max(1, len(episodes))
    total = max(1, sum(sum(counts.values()) for counts in per_turn))
    weights = []
    for episode, counts in zip(episodes, per_turn):
        tokens = sum(counts.values())
        row = []
        for turn in range(len(episode.rewards)):
            if not counts[turn]:
                row.append(0.0)
            elif aggregation == "episode":
                row.append(1.0 / (n * tokens))
            elif aggregation == "turn":
                row.append(1.0 / (n * len(counts) * counts[turn]))
            else:
                row.append(1.0 / total)
        weights.append(row)
    return weights


def _device(model):
    return next(model.parameters()).device


def token_logprobs(model, batch: dict, temperature: float = 1.0, chunk: int = 1024) -> Any:
    """log pi(token t+1 | tokens <= t) at ``temperature``, at the positions ``batch["mask"]`` marks
    (0 elsewhere).

    Only those positions go through the output projection, ``chunk`` at a time, so the
    full-vocabulary log-softmax of every position (20 GB per copy for a 152k vocabulary at
    16 x 2048) is never formed. The decoder's hidden states are projected by the model's own output
    embeddings, which is the model's forward for Llama-, Qwen- and Mistral-style models (not for
    ones that post-process logits, such as Gemma's soft-capping).
    """
    import torch

    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    with autocast(model):
        hidden = base.get_decoder()(input_ids=batch["ids"], attention_mask=batch["attention"]).last_hidden_state
    where = batch["mask"] > 0
    selected, targets = hidden[:, :-1][where], batch["ids"][:, 1:][where]
    head = base.get_output_embeddings()
    parts = []
    for start in range(0, len(selected), chunk):
        with autocast(model):
            logits = head(selected[start : start + chunk])
        logits = logits.float() / temperature
        parts.append(torch.log_softmax(logits, dim=-1).gather(1, targets[start : start + chunk, None]).squeeze(1))
    values = torch.cat(parts) if parts else selected.new_zeros(0, dtype=torch.float32)
    return torch.zeros(where.shape, dtype=torch.float32, device=hidden.device).masked_scatter(where, values)


# ----- 5. advantages ---------------------------------------------------------------------------


def group_advantages(returns: list[float], groups: list[int], std_norm: bool = True, eps: float = 1e-6):
    """GRPO: each return minus its group's mean (over the group's std when ``std_norm``).

    Returns ``(advantages, zero_variance)``: per episode, and whether its group had no variance
    (such a group carries no learning signal and is dropped from the batch).
    """
    members: dict[int, list[int]] = {}
    for index, group in enumerate(groups):
        members.setdefault(group, []).append(index)
    advantages, zero = [0.0] * len(returns), [False] * len(returns)
    for indices in members.values():
        values = [returns[i] for i in indices]
        mean = sum(values) / len(values)
        std = math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))
        for i in indices:
            zero[i] = std < eps
            advantages[i] = 0.0 if zero[i] else (returns[i] - mean) / (std + eps if std_norm else 1.0)
    return advantages, zero


def turn_return_advantages(rewards: list[list[float]], gamma: float, eps: float = 1e-6) -> list[list[float]]:
    """Per-turn discounted returns G_t, normalised over every turn of the batch (ReBN)."""
    returns = []
    for episode_rewards in rewards:
        running, per_turn = 0.0, []
        for reward in reversed(episode_rewards):
            running = reward + gamma * running
            per_turn.append(running)
        returns.append(per_turn[::-1])
    flat = [g for per_turn in returns for g in per_turn]
    mean = sum(flat) / max(1, len(flat))
    std = math.sqrt(sum((g - mean) ** 2 for g in flat) / max(1, len(flat)))
    return [[(g - mean) / (std + eps) for g in per_turn] for per_turn in returns]


# ----- 6. loss ---------------------------------------------------------------------------------


def policy_loss(logp, batch: dict, clip_eps: float, kl_coef: float, ref_logp=None):
    """PPO-clip surrogate (the plain policy gradient at ratio 1) plus k3 KL, summed with each
    token's ``batch["weight"]`` (``loss_weights``), so microbatches add up to the batch's loss.
    Returns the loss and the summed (unweighted) KL of this microbatch's tokens.
    """
    import torch

    ratio = torch.exp(logp - batch["old_logp"])
    surrogate = torch.minimum(ratio * batch["adv"], ratio.clamp(1 - clip_eps, 1 + clip_eps) * batch["adv"])
    per_token = -surrogate
    kl = torch.zeros((), device=logp.device)
    if ref_logp is not None:
        delta = ref_logp - logp
        k3 = torch.exp(delta) - delta - 1
        per_token = per_token + kl_coef * k3
        kl = (k3 * batch["mask"]).sum().detach()
    return (per_token * batch["weight"]).sum(), kl


def update(
    model,
    optimizer,
    ref_model,
    episodes: list[Episode],
    turn_adv: list[list[float]],
    turn_weights: list[list[float]],
    args: Args,
    codec,
) -> dict:
    """``args.ppo_epochs`` optimizer steps on one rollout batch; skips a step whose loss is not finite."""
    import torch

    total = sum(sum(e.mask) for e in episodes)
    stats = {"loss": 0.0, "kl": 0.0, "grad_norm": 0.0, "nonfinite": False}
    pad_id = codec.tokenizer.pad_token_id
    for _ in range(args.ppo_epochs):
        loss_sum, kl_sum = 0.0, 0.0
        for batch in microbatches(episodes, turn_adv, args.microbatch, pad_id, _device(model), turn_weights):
            logp = token_logprobs(model, batch, args.temperature, args.logprob_chunk)
            ref = None
            if ref_model is not None:
                with torch.no_grad():
                    ref = token_logprobs(ref_model, batch, args.temperature, args.logprob_chunk)
            loss, kl = policy_loss(logp, batch, args.clip_eps, args.kl_coef, ref)
            value = float(loss.detach())
            loss_sum += value
            kl_sum += float(kl)
            if math.isfinite(value):
                loss.backward()
        norm = float(torch.nn.utils.clip_grad_norm_(model.parameters(), args.grad_clip))
        if not (math.isfinite(loss_sum) and math.isfinite(norm)):
            optimizer.zero_grad(set_to_none=True)
            stats["nonfinite"] = True
            break
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        stats.update(loss=loss_sum, kl=kl_sum / total, grad_norm=norm)
    return stats


# ----- 7. evaluation, checkpoints, the loop ----------------------------------------------------


def episode_stats(episodes: list[Episode]) -> dict[str, float]:
    turns = [s for e in episodes for s in e.statuses]
    n = max(1, len(episodes))
    return {
        "success": sum(e.success for e in episodes) / n,
        "return": sum(e.ret for e in episodes) / n,
        "parse_error_rate": turns.count("parse_error") / max(1, len(turns)),
        "illegal_rate": turns.count("illegal") / max(1, len(turns)),
        "turns": len(turns) / n,
        "generated_tokens": sum(sum(e.mask) for e in episodes) / n,
    }


def evaluate(
    model, codec: ChatCodec, args: Args, pool: EnvPool, iteration: int, log, phase: int | None = None
) -> list[dict]:
    """Sampled (T=1) and greedy success of every eval cell on fixed seeds, disjoint from training.

    The sampling of a cell is seeded by (run seed, cell, mode) alone, so a policy scores the same
    on a cell whatever else is evaluated and in whatever order.

    With ``eval_samples = k > 1`` each seed is played k times sampled: ``sampled_success`` is the
    mean over all of them (pass@1 with less variance), ``sampled_outcomes`` each seed's success
    rate, and ``sampled_pass_at_k`` / ``sampled_pass_outcomes`` whether any of a seed's k succeeded
    (for hard presets where single episodes rarely succeed).
    """
    records = []
    seeds, per_seed = args.eval_seeds, args.eval_samples
    for cell in args.all_eval_cells:
        envs = pool.take(cell, seeds * per_seed)
        record: dict[str, Any] = {"kind": "eval", "iteration": iteration, "cell": cell.label}
        if phase is not None:
            record["phase"] = phase
        modes = [("sampled", False, per_seed)] + ([("greedy", True, 1)] if args.eval_greedy else [])
        for mode, greedy, samples in modes:
            slots = [(env, EVAL_SEED_BASE + i % seeds, i) for i, env in enumerate(envs[: seeds * samples])]
            generator = sampling_generator(seed_of(args.seed, "eval", cell.label, mode), _device(model))
            episodes = rollout(
                model, codec, slots, args.max_new_tokens, generator, greedy, 1.0, args.rollout_batch, args.max_tokens
            )
            record.update({f"{mode}_{k}": v for k, v in episode_stats(episodes).items()})
            by_seed = [[int(e.success) for e in episodes[i::seeds]] for i in range(seeds)]
            # per eval seed, for paired deltas: 0/1, or the share of the seed's k samples that succeeded
            record[f"{mode}_outcomes"] = [hits[0] if samples == 1 else sum(hits) / samples for hits in by_seed]
            if samples > 1:
                record[f"{mode}_pass_outcomes"] = [int(any(hits)) for hits in by_seed]
                record[f"{mode}_pass_at_k"] = sum(record[f"{mode}_pass_outcomes"]) / seeds
        records.append(record)
        log(record)
    return records


def save_policy(model, tokenizer, path: Path, codec: ChatCodec) -> None:
    """The policy as a checkpoint directory, with the codec settings ``HFAgent`` reads back."""
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    codec.save(path)


def save_checkpoint(
    out: Path, iteration: int, model, tokenizer, codec: ChatCodec, optimizer, state: dict, keep: int
) -> Path:
    """Write ``checkpoints/iter_N``; the ``complete`` marker is written last, so a killed save is ignored."""
    import torch

    path = out / "checkpoints" / f"iter_{iteration:06d}"
    if path.exists():
        shutil.rmtree(path)
    save_policy(model, tokenizer, path, codec)
    torch.save({"optimizer": optimizer.state_dict(), **state}, path / "trainer_state.pt")
    (path / "complete").write_text(str(iteration))
    for old in sorted(p for p in (out / "checkpoints").glob("iter_*") if (p / "complete").exists())[:-keep]:
        shutil.rmtree(old)
    return path


def latest_checkpoint(out: Path) -> Path | None:
    done = sorted(p for p in (out / "checkpoints").glob("iter_*") if (p / "complete").exists())
    return done[-1] if done else None


def load_model(path: Path, args: Args, device: str, dtype):
    """A saved policy with its tokenizer, set up for ``args``: with ``lora_rank``, a directory of
    adapters goes on training them and full weights get fresh adapters; without, adapters are
    merged and every weight trains."""
    from llm_gym.baselines.tiny import is_lora_adapters, load_policy

    model, tokenizer = load_policy(path, device, dtype, trainable=bool(args.lora_rank))
    if args.lora_rank and not is_lora_adapters(path):
        from peft import LoraConfig, get_peft_model

        config = LoraConfig(r=args.lora_rank, lora_alpha=args.lora_alpha, target_modules="all-linear")
        model = get_peft_model(model, config)
    return model, tokenizer


def prepare_model_dir(args: Args, out: Path, pool: EnvPool) -> Path:
    """The base checkpoint: ``args.model``, or a tiny model built offline from the cells' text."""
    if args.model != "tiny":
        from llm_gym.baselines.models import resolve_model

        return resolve_model(args.model)
    path = out / "tiny"
    if not (path / "complete").exists():
        from llm_gym.baselines.tiny import build_tiny, env_corpus

        corpus = env_corpus([pool.take(c, 1)[0] for c in args.all_cells], 300, args.seed)
        build_tiny(
            path,
            corpus,
            args.tiny_vocab,
            args.seed,
            copy_steps=args.tiny_copy_steps,
            hidden=args.tiny_hidden,
            layers=args.tiny_layers,
        )
        (path / "complete").write_text("tiny")
    return path


def plot_metrics(metrics_path: Path, png_path: Path) -> None:
    """Learning curves from the JSONL metrics: training success and eval success per cell."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    records = [json.loads(line) for line in metrics_path.read_text().splitlines() if line.strip()]
    train = [r for r in records if r["kind"] == "train"]
    evals = [r for r in records if r["kind"] == "eval"]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    window = max(1, len(train) // 30)  # a trailing mean keeps the curves readable

    def smooth(values: list[float]) -> list[float]:
        return [
            sum(values[max(0, i - window + 1) : i + 1]) / len(values[max(0, i - window + 1) : i + 1])
            for i in range(len(values))
        ]

    for key, label in (("success", "train success (sampled)"), ("zero_variance_share", "zero-variance share")):
        axes[0].plot(
            [r["iteration"] for r in train], smooth([r[key] for r in train]), label=f"{label}, mean of {window}"
        )
    axes[0].set_xlabel("iteration")
    axes[0].legend()
    for cell in dict.fromkeys(r["cell"] for r in evals):
        points = [r for r in evals if r["cell"] == cell]
        for mode in ("sampled", "greedy"):
            if f"{mode}_success" in points[0]:
                axes[1].plot(
                    [r["iteration"] for r in points],
                    [r[f"{mode}_success"] for r in points],
                    marker="o",
                    label=f"{cell} {mode}",
                )
    axes[1].set_xlabel("iteration")
    axes[1].set_ylabel("eval success")
    axes[1].set_ylim(-0.02, 1.02)
    if evals:
        axes[1].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(png_path, dpi=100)
    plt.close(fig)


def use_device(args: Args) -> str:
    """The device ``args`` asks for (``auto``: CUDA where there is one), with the CPU thread count set."""
    import torch

    device = ("cuda" if torch.cuda.is_available() else "cpu") if args.device == "auto" else args.device
    if device == "cpu":
        torch.set_num_threads(args.threads)
    return device


def codec_for(args: Args, tokenizer) -> ChatCodec:
    """The prompt codec of a run: the rules text dropped, moved to the system turn or kept."""
    drop = args.instructions == "drop" or (args.instructions == "auto" and args.model == "tiny")
    system = args.instructions == "system"
    return ChatCodec(tokenizer, drop_instructions=drop, instructions_as_system=system, one_line=args.one_line)


def evaluate_policy(args: Args) -> list[dict]:
    """Evaluate the saved policy ``args.model`` (a checkpoint directory) on ``args.eval_cells`` as
    ``train`` evaluates at iteration 0: the same seeds and sampling, so the records equal those a
    run would log for this policy. Writes nothing."""
    import torch
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    device = use_device(args)
    model, tokenizer = load_model(Path(args.model), dataclasses.replace(args, lora_rank=0), device, torch.float32)
    pool = EnvPool()
    try:
        return evaluate(model.eval(), codec_for(args, tokenizer), args, pool, 0, log=lambda record: None)
    finally:
        pool.close()


def train(args: Args) -> dict[str, Any]:
    """Run warm start and RL as ``args`` says; returns a summary. Writes everything under ``args.out_dir``."""
    import torch
    from tqdm import tqdm
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    out = Path(args.out_dir)
    if args.backend == "ray":
        from llm_gym.integrations.ray import RayEnvPool

        pool: EnvPool = RayEnvPool(args.env_workers)
    else:
        pool = EnvPool()
    for cell in args.all_cells:
        pool.take(cell, 1)  # a bad cell fails here, before any work
    if args.model != "tiny":
        from llm_gym.baselines.models import check_model

        check_model(args.model)
    checkpoint = latest_checkpoint(out) if args.resume else None
    if checkpoint is not None:
        saved = json.loads((out / "args.json").read_text())
        mutable = {"resume", "progress", "iterations", "rl_time_limit_s", "rl_clock", "plot", "backend", "env_workers"}
        changed = sorted(k for k, v in args.to_dict().items() if k not in mutable and saved.get(k) != v)
        if changed:
            raise ValueError(f"cannot resume {str(out)!r}: config differs from the saved run in {changed}")
    out.mkdir(parents=True, exist_ok=True)
    (out / "args.json").write_text(json.dumps(args.to_dict(), indent=1))
    device = use_device(args)
    dtype = torch.float32  # the master weights; CUDA computes in bf16 under autocast
    base_dir = prepare_model_dir(args, out, pool)

    metrics_path = out / "metrics.jsonl"
    state = {"rl_seconds": 0.0, "rl_cpu_seconds": 0.0, "nonfinite_streak": 0, "updated_phases": []}
    start_iteration = 0
    if checkpoint is not None:
        model, tokenizer = load_model(checkpoint, args, device, dtype)
        saved_state = torch.load(checkpoint / "trainer_state.pt", weights_only=False)
        start_iteration = saved_state["iteration"]
        state = {k: saved_state.get(k, v) for k, v in state.items()}
        lines = [
            line for line in metrics_path.read_text().splitlines() if json.loads(line)["iteration"] <= start_iteration
        ]
        metrics_path.write_text("".join(line + "\n" for line in lines))
    else:
        model, tokenizer = load_model(base_dir, args, device, dtype)
        metrics_path.write_text("")
    codec = codec_for(args, tokenizer)

    def log(record: dict) -> None:
        with metrics_path.open("a") as handle:
            handle.write(json.dumps(record) + "\n")

    if args.gradient_checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        if args.lora_rank:
            model.enable_input_require_grads()
    model.train()
    if checkpoint is None:
        started = time.perf_counter()
        warm_start(model, codec, args, pool, log)
        save_policy(model, tokenizer, out / "warm", codec)
        log({"kind": "warm_done", "iteration": 0, "seconds": time.perf_counter() - started})
        if args.eval_at_start:
            evaluate(model, codec, args, pool, 0, log)
    ref_model = None
    if args.kl_coef > 0:
        ref_model, _ = load_model(out / "warm", dataclasses.replace(args, lora_rank=0), device, dtype)
        ref_model.requires_grad_(False)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=args.lr)
    if checkpoint is not None:
        optimizer.load_state_dict(saved_state["optimizer"])

    boundaries = [sum(p.iterations for p in args.schedule[: i + 1]) for i in range(len(args.schedule))]
    bar = tqdm(total=args.iterations, initial=start_iteration, disable=not args.progress, desc="rft")
    stopped = None
    iteration = start_iteration
    for iteration in range(start_iteration + 1, args.iterations + 1):
        spent = state["rl_seconds"] if args.rl_clock == "wall" else state.get("rl_cpu_seconds", 0.0)
        if args.rl_time_limit_s and spent >= args.rl_time_limit_s:
            stopped = f"RL time limit {args.rl_time_limit_s:.0f}s ({args.rl_clock}) reached"
            iteration -= 1
            break
        phase = next(i for i, end in enumerate(boundaries) if iteration <= end)
        started, cpu_started = time.perf_counter(), time.process_time()
        rng = random.Random(seed_of(args.seed, "iteration", iteration))
        cells = pick_cells(args.schedule[phase].cells, args.groups, rng)
        slots = []
        for cell in dict.fromkeys(cells):
            groups = [g for g, c in enumerate(cells) if c == cell]
            envs = iter(pool.take(cell, len(groups) * args.group_size))
            for g in groups:
                task_seed = rng.randrange(EVAL_SEED_BASE)
                slots += [(next(envs), task_seed, g) for _ in range(args.group_size)]
        generator = sampling_generator(seed_of(args.seed, "sample", iteration), device)
        model.eval()
        episodes = rollout(
            model,
            codec,
            slots,
            args.max_new_tokens,
            generator,
            False,
            args.temperature,
            args.rollout_batch,
            args.max_tokens,
            args.end_on_invalid,
        )
        model.train()
        rollout_seconds = time.perf_counter() - started
        if args.advantage == "grpo":
            advantages, zero = group_advantages([e.ret for e in episodes], [e.group for e in episodes], args.std_norm)
            turn_adv = [[a] * len(e.rewards) for a, e in zip(advantages, episodes)]
        else:
            turn_adv, zero = turn_return_advantages([e.rewards for e in episodes], args.gamma), [False] * len(episodes)
        kept = [i for i, z in enumerate(zero) if not z]
        weights = loss_weights(episodes, args.loss_aggregation)  # normalised over every episode, kept or not
        stats = {"loss": 0.0, "kl": 0.0, "grad_norm": 0.0, "nonfinite": False}
        if kept:
            state["updated_phases"] = sorted({*state["updated_phases"], phase})
            stats = update(
                model,
                optimizer,
                ref_model,
                [episodes[i] for i in kept],
                [turn_adv[i] for i in kept],
                [weights[i] for i in kept],
                args,
                codec,
            )
        state["nonfinite_streak"] = state["nonfinite_streak"] + 1 if stats["nonfinite"] else 0
        seconds = time.perf_counter() - started
        state["rl_seconds"] += seconds
        state["rl_cpu_seconds"] = state.get("rl_cpu_seconds", 0.0) + time.process_time() - cpu_started
        generated = sum(sum(e.mask) for e in episodes)
        record = {
            "kind": "train",
            "iteration": iteration,
            "phase": phase,
            **episode_stats(episodes),
            "zero_variance_share": sum(zero) / len(zero),
            **stats,
            "tokens_per_s": generated / rollout_seconds,
            "seconds": seconds,
            "rl_seconds": state["rl_seconds"],
            "rl_cpu_seconds": state["rl_cpu_seconds"],
        }
        log(record)
        bar.update(1)
        bar.set_postfix(success=f"{record['success']:.2f}", zero_var=f"{record['zero_variance_share']:.2f}")
        if state["nonfinite_streak"] >= args.max_nonfinite:
            stopped = f"{state['nonfinite_streak']} non-finite losses in a row; last good checkpoint kept"
            log({"kind": "stop", "iteration": iteration, "reason": stopped})
            break
        if iteration == boundaries[phase] and phase not in state["updated_phases"]:
            message = (
                f"phase {phase} made no update: every group of every iteration had zero variance (all episodes "
                "of a task failed, or all succeeded); ease or harden the cells, shape the reward or enlarge the groups"
            )
            warnings.warn(message, stacklevel=2)
            log({"kind": "warning", "iteration": iteration, "phase": phase, "message": message})
        if iteration == boundaries[phase] and len(args.schedule) > 1:
            evaluate(model, codec, args, pool, iteration, log, phase)
        elif iteration % args.eval_every == 0 or iteration == args.iterations:
            evaluate(model, codec, args, pool, iteration, log)
        if iteration % args.checkpoint_every == 0 or iteration == args.iterations:
            save_checkpoint(
                out,
                iteration,
                model,
                tokenizer,
                codec,
                optimizer,
                {"iteration": iteration, **state},
                args.keep_checkpoints,
            )
    bar.close()
    if stopped and stopped.startswith("RL time limit"):
        if iteration % args.eval_every:
            evaluate(model, codec, args, pool, iteration, log)
        save_checkpoint(
            out, iteration, model, tokenizer, codec, optimizer, {"iteration": iteration, **state}, args.keep_checkpoints
        )
    pool.close()
    if args.plot and metrics_path.exists():
        plot_metrics(metrics_path, out / "curves.png")
    records = [json.loads(line) for line in metrics_path.read_text().splitlines()]
    return {
        "out_dir": str(out),
        "iteration": iteration,
        "stopped": stopped,
        "rl_seconds": state["rl_seconds"],
        "rl_cpu_seconds": state.get("rl_cpu_seconds", 0.0),
        "evals": [r for r in records if r["kind"] == "eval"],
    }
