"""Tests of the baseline RFT trainer: masks, token-in/token-out, advantages, loss, checkpoints, runs."""

from __future__ import annotations

import argparse
import copy
import dataclasses
import json
import math
import random
import shutil
import sys
import time
import types
from pathlib import Path

import gymnasium as gym
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

import llm_gym  # noqa: E402,F401
from llm_gym.baselines import rollout as rollout_module  # noqa: E402
from llm_gym.baselines import trainer  # noqa: E402
from llm_gym.baselines.rollout import ChatCodec, oracle_episode, rollout  # noqa: E402
from llm_gym.baselines.tiny import (  # noqa: E402
    build_model,
    build_tiny,
    build_tokenizer,
    copying_batch,
    env_corpus,
    load_policy,
    pretrain_copying,
)
from llm_gym.baselines.train_cli import add_train_parser, args_from_namespace, load_config, run_train  # noqa: E402
from llm_gym.presentation import presentation_of  # noqa: E402

torch.set_num_threads(1)
EASY = {"preset": "easy", "distractors": 0}
TIMING = {"seconds", "rl_seconds", "rl_cpu_seconds", "tokens_per_s"}


def small_args(out_dir, **overrides) -> trainer.Args:
    values = dict(
        out_dir=str(out_dir),
        tiny_hidden=32,
        tiny_layers=1,
        tiny_vocab=400,
        tiny_copy_steps=20,
        instructions="drop",
        cells=(trainer.Cell(difficulty=EASY, max_turns=3),),
        warm_steps=2,
        warm_batch=4,
        iterations=4,
        groups=2,
        group_size=2,
        max_new_tokens=12,
        eval_seeds=4,
        eval_every=2,
        checkpoint_every=2,
        progress=False,
        plot=False,
    )
    values.update(overrides)
    return trainer.Args(**values)


@pytest.fixture(scope="module")
def policy(tmp_path_factory):
    env = gym.make("llm_gym/TextCraft-v0", difficulty=EASY, max_turns=3)
    path = build_tiny(tmp_path_factory.mktemp("tiny"), env_corpus([env], 60, seed=0), 400, seed=0, hidden=32, layers=1)
    model, tokenizer = load_policy(path)
    return path, model, tokenizer


class Recorder(gym.Wrapper):
    """Keeps every action text the env receives."""

    def __init__(self, env):
        super().__init__(env)
        self.actions: list[str] = []

    def step(self, action):
        self.actions.append(action)
        return self.env.step(action)


def sampled_episodes(model, tokenizer, count=6, seed=0):
    codec = ChatCodec(tokenizer, drop_instructions=True)
    envs = [Recorder(gym.make("llm_gym/TextCraft-v0", difficulty=EASY, max_turns=3)) for _ in range(count)]
    generator = torch.Generator().manual_seed(seed)
    episodes = rollout(
        model, codec, [(env, 7 + i // 2, i // 2) for i, env in enumerate(envs)], 12, generator, batch_size=4
    )
    return codec, envs, episodes


def test_tiny_checkpoint_reloads_bit_exactly(policy, tmp_path):
    path, model, tokenizer = policy
    again, tokenizer_again = load_policy(path)
    ids = torch.tensor([tokenizer.encode("craft 1 glass using 1 sand")])
    assert torch.equal(model(input_ids=ids).logits, again(input_ids=ids).logits)
    assert tokenizer_again.encode("Got 2 oak log.") == tokenizer.encode("Got 2 oak log.")
    assert tokenizer_again.padding_side == "left" and tokenizer_again.chat_template == tokenizer.chat_template
    assert 10_000 < sum(p.numel() for p in model.parameters()) < 100_000  # the test-sized model
    model.save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    third, _ = load_policy(tmp_path)
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), third.state_dict().values()))


def test_loss_mask_covers_exactly_the_sampled_tokens(policy):
    _, model, tokenizer = policy
    _, _, episodes = sampled_episodes(model, tokenizer)
    for episode in episodes:
        produced = [i for i, m in zip(episode.ids, episode.mask) if m]
        assert produced == [t for reply in episode.replies for t in reply]
        assert len(episode.replies) == len(episode.rewards) >= 1
        assert all((m == 1) == (t >= 0) for m, t in zip(episode.mask, episode.turn))
    advantages = [[1.0] * len(e.rewards) for e in episodes]
    total = 0
    for batch in trainer.microbatches(episodes, advantages, 4, tokenizer.pad_token_id):
        targets = batch["ids"][:, 1:]
        assert torch.all(batch["mask"] <= batch["attention"][:, 1:])  # never on padding
        assert torch.equal(batch["adv"] != 0, batch["mask"] != 0)
        total += int(batch["mask"].sum())
        assert int((targets == tokenizer.pad_token_id)[batch["mask"].bool()].sum()) == 0
    assert total == sum(sum(e.mask) for e in episodes)


def test_ids_in_equal_ids_out_and_logprobs_match_training_forward(policy):
    _, model, tokenizer = policy
    codec, envs, episodes = sampled_episodes(model, tokenizer)
    for env, episode in zip(envs, episodes):
        assert env.actions == [codec.decode(reply) for reply in episode.replies]
        ids = torch.tensor([episode.ids])
        with torch.no_grad():
            logits = model(input_ids=ids).logits[0, :-1]
        logp = torch.log_softmax(logits, -1).gather(1, ids[0, 1:, None])[:, 0]
        mask = torch.tensor(episode.mask[1:], dtype=torch.bool)
        assert torch.allclose(logp[mask], torch.tensor(episode.logprobs[1:])[mask], atol=1e-4)


def test_a_shared_prompt_encoded_once_plays_the_same_episodes(policy, monkeypatch):
    """With the rules kept, every episode opens with the same long prompt: encoding it once and
    copying its cache gives the same tokens, and log-probs that match a full forward."""
    _, model, tokenizer = policy
    codec = ChatCodec(tokenizer)

    def play():
        envs = [gym.make("llm_gym/TextCraft-v0", difficulty="easy", max_turns=3) for _ in range(4)]
        return rollout(model, codec, [(env, 7 + i, i) for i, env in enumerate(envs)], 12, greedy=True)

    shared = play()
    assert rollout_module.shared_prefix_length([e.ids for e in shared]) >= rollout_module.SHARED_PREFIX_MIN
    monkeypatch.setattr(rollout_module, "SHARED_PREFIX_MIN", 10**9)
    unshared = play()
    assert [e.ids for e in unshared] == [e.ids for e in shared]
    # an untrained tiny model barely feels positions: a prompt one position off moves these by 1e-5
    for episode, twin in zip(shared, unshared):
        assert torch.allclose(torch.tensor(episode.logprobs), torch.tensor(twin.logprobs), rtol=0, atol=2e-6)
    for episode in shared:
        ids = torch.tensor([episode.ids])
        with torch.no_grad():
            logp = torch.log_softmax(model(input_ids=ids).logits[0, :-1], -1).gather(1, ids[0, 1:, None])[:, 0]
        mask = torch.tensor(episode.mask[1:], dtype=torch.bool)
        assert torch.allclose(logp[mask], torch.tensor(episode.logprobs[1:])[mask], atol=1e-4)


def test_shared_prefix_length_leaves_a_token_of_each_sequence_to_feed():
    assert rollout_module.shared_prefix_length([[1, 2, 3], [1, 2, 3]]) == 2
    assert rollout_module.shared_prefix_length([[1, 2, 3, 4], [1, 2, 5]]) == 2
    assert rollout_module.shared_prefix_length([[9, 2], [1, 2]]) == 0


def test_rollout_is_reproducible_for_a_seed(policy):
    _, model, tokenizer = policy
    first = sampled_episodes(model, tokenizer, seed=3)[2]
    second = sampled_episodes(model, tokenizer, seed=3)[2]
    assert [e.ids for e in first] == [e.ids for e in second]


def test_oracle_episode_teaches_the_oracle_actions(policy):
    _, _, tokenizer = policy
    codec = ChatCodec(tokenizer)
    env = gym.make("llm_gym/TextCraft-v0", difficulty=EASY, max_turns=6)
    episode = oracle_episode(env, codec, 3, 0.0, random.Random(0))
    assert episode.success and len(episode.replies) == env.unwrapped.task.optimal_steps
    assert all(reply[-1] == codec.stop_id for reply in episode.replies)


def test_group_advantages_sum_to_zero_within_each_group():
    rng = random.Random(0)
    returns = [rng.choice([0.0, 1.0, 0.5]) for _ in range(40)]
    groups = [i // 5 for i in range(40)]
    for std_norm in (True, False):
        advantages, zero = trainer.group_advantages(returns, groups, std_norm)
        for g in set(groups):
            assert abs(sum(a for a, k in zip(advantages, groups) if k == g)) < 1e-9
    advantages, zero = trainer.group_advantages([1.0, 1.0, 0.0, 1.0], [0, 0, 1, 1])
    assert zero == [True, True, False, False] and advantages[:2] == [0.0, 0.0]
    assert advantages[3] > 0 > advantages[2]


def test_turn_returns_are_discounted_and_batch_normalised():
    advantages = trainer.turn_return_advantages([[0.0, 0.0, 1.0], [0.0, 1.0]], gamma=0.5)
    flat = [a for turns in advantages for a in turns]
    assert abs(sum(flat)) < 1e-9
    assert advantages[0][0] < advantages[0][1] < advantages[0][2]


def test_zero_variance_group_contributes_no_gradient(policy):
    _, model, tokenizer = policy
    _, _, episodes = sampled_episodes(model, tokenizer)
    returns = [1.0, 1.0] + [float(i % 2) for i in range(len(episodes) - 2)]  # group 0 has no variance
    advantages, zero = trainer.group_advantages(returns, [e.group for e in episodes])
    assert zero[0] and zero[1] and not any(zero[2:])
    turn_adv = [[a] * len(e.rewards) for a, e in zip(advantages, episodes)]
    batch = next(trainer.microbatches(episodes[:2], turn_adv[:2], 8, tokenizer.pad_token_id))
    model.zero_grad()
    loss, _ = trainer.policy_loss(trainer.token_logprobs(model, batch), batch, 0.2, 0.0)
    loss.backward()
    assert all(p.grad is None or float(p.grad.abs().max()) == 0.0 for p in model.parameters())
    batch = next(trainer.microbatches(episodes[2:], turn_adv[2:], 8, tokenizer.pad_token_id))
    loss, _ = trainer.policy_loss(trainer.token_logprobs(model, batch), batch, 0.2, 0.0)
    loss.backward()
    assert any(p.grad is not None and float(p.grad.abs().max()) > 0 for p in model.parameters())
    model.zero_grad()


def test_ppo_clip_and_k3_kl():
    logp = torch.tensor([[-1.0, -1.0]], requires_grad=True)
    batch = {
        "mask": torch.ones(1, 2),
        "weight": torch.full((1, 2), 0.5),
        "adv": torch.tensor([[1.0, 1.0]]),
        "old_logp": torch.tensor([[-2.0, -1.0]]),
    }
    loss, kl = trainer.policy_loss(logp, batch, 0.2, 0.1, ref_logp=logp.detach())
    assert float(kl) == 0.0
    loss.backward()
    assert float(logp.grad[0, 0]) == 0.0  # ratio e^1 is clipped for a positive advantage
    assert float(logp.grad[0, 1]) == pytest.approx(-0.5)
    _, kl = trainer.policy_loss(logp.detach(), batch, 0.2, 0.1, ref_logp=logp.detach() - 1)
    assert float(kl) == pytest.approx(2 * (math.exp(-1) + 1 - 1))


def records(out_dir, kinds=("train", "eval")):
    lines = Path(out_dir, "metrics.jsonl").read_text().splitlines()
    return [
        {k: v for k, v in json.loads(line).items() if k not in TIMING}
        for line in lines
        if json.loads(line)["kind"] in kinds
    ]


def test_smoke_run_sequential_phases_under_a_minute(tmp_path):
    """The whole pipeline, including building the tiny model, on two cells in two phases."""
    cells = (trainer.Cell(difficulty=EASY, max_turns=3), trainer.Cell(difficulty=EASY, max_turns=3, theme="cooking"))
    phases = ({"iterations": 2, "cells": [cells[0]]}, {"iterations": 2, "cells": [cells[1]]})
    started = time.perf_counter()
    summary = trainer.train(small_args(tmp_path, cells=(), phases=phases, plot=True))
    assert time.perf_counter() - started < 60
    assert summary["iteration"] == 4 and summary["stopped"] is None
    train = records(tmp_path, ("train",))
    assert [r["phase"] for r in train] == [0, 0, 1, 1]
    assert all(math.isfinite(r["loss"]) and 0 <= r["zero_variance_share"] <= 1 for r in train)
    evals = records(tmp_path, ("eval",))
    assert {(r["iteration"], r["cell"]) for r in evals} == {(i, c.label) for i in (0, 2, 4) for c in cells}
    assert {r.get("phase") for r in evals if r["iteration"]} == {0, 1}
    assert all(0 <= r["sampled_success"] <= 1 and 0 <= r["greedy_parse_error_rate"] <= 1 for r in evals)
    assert (tmp_path / "curves.png").stat().st_size > 1000
    assert trainer.latest_checkpoint(tmp_path).name == "iter_000004"


def test_resume_equals_uninterrupted(tmp_path, policy):
    model = str(policy[0])
    whole = trainer.train(small_args(tmp_path / "whole", iterations=4, model=model))
    killed = tmp_path / "killed"
    trainer.train(small_args(killed, iterations=3, model=model))
    for leftover in ("iter_000003",):  # as if killed after iteration 3, before its checkpoint
        shutil.rmtree(killed / "checkpoints" / leftover)
    resumed = trainer.train(small_args(killed, iterations=4, resume=True, model=model))
    assert resumed["iteration"] == whole["iteration"] == 4
    assert records(killed) == records(tmp_path / "whole")
    assert len(records(killed, ("train",))) == 4


def test_nonfinite_loss_is_skipped_then_stops_keeping_the_last_good_checkpoint(tmp_path, monkeypatch, policy):
    real = trainer.policy_loss
    calls = {"n": 0}

    def flaky(*args, **kwargs):
        calls["n"] += 1
        loss, kl = real(*args, **kwargs)
        return (loss * float("nan") if calls["n"] > 1 else loss), kl

    monkeypatch.setattr(trainer, "policy_loss", flaky)
    # turn_returns: every batch is trained on, even when no episode succeeds
    args = small_args(
        tmp_path, iterations=8, checkpoint_every=1, max_nonfinite=2, advantage="turn_returns", model=str(policy[0])
    )
    summary = trainer.train(args)
    assert summary["stopped"] and "non-finite" in summary["stopped"]
    train = records(tmp_path, ("train",))
    assert train[-1]["nonfinite"] and train[-2]["nonfinite"] and len(train) < 8
    last_good = trainer.latest_checkpoint(tmp_path)  # skipped steps leave the weights as they were
    assert int(last_good.name.split("_")[1]) == train[-1]["iteration"] - 1
    model, _ = load_policy(last_good)
    assert all(torch.isfinite(p).all() for p in model.parameters())


def test_bad_input_fails_before_any_work(tmp_path):
    out = tmp_path / "never"
    with pytest.raises(ValueError, match="Nope-v0"):
        trainer.train(small_args(out, cells=(trainer.Cell(env_id="llm_gym/Nope-v0"),)))
    with pytest.raises(ValueError, match="preset"):
        trainer.train(small_args(out, cells=(trainer.Cell(difficulty="impossible"),)))
    with pytest.raises(ValueError, match="does-not-exist"):
        trainer.train(small_args(out, model=str(tmp_path / "does-not-exist")))
    assert not out.exists()
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text("{not json")
    (broken / "tokenizer.json").write_text("{}")
    with pytest.raises(ValueError, match="broken"):
        load_policy(broken)
    with pytest.raises(ValueError, match="unknown cell key"):
        trainer.Cell.from_value({"env": "x"})
    with pytest.raises(ValueError, match="advantage"):
        small_args(out, advantage="ppo")
    with pytest.raises(ValueError, match="bogus"):
        trainer.Args.from_dict({"bogus": 1})


def test_cli_reads_toml_and_flags_override(tmp_path):
    config = tmp_path / "run.toml"
    config.write_text(
        'iterations = 7\nlr = 1e-4\n[[cells]]\nenv_id = "llm_gym/TextCraft-v0"\n'
        'difficulty = { preset = "easy", distractors = 0 }\nmax_turns = 4\n'
    )
    parser = argparse.ArgumentParser()
    add_train_parser(parser.add_subparsers(dest="command"))
    namespace = parser.parse_args(["train", "--config", str(config), "--lr", "2e-4", "--no-progress"])
    args = args_from_namespace(namespace)
    assert args.iterations == 7 and args.lr == 2e-4 and args.progress is False
    assert args.cells == (trainer.Cell(difficulty=EASY, max_turns=4),)
    yaml = pytest.importorskip("yaml")
    (tmp_path / "run.yaml").write_text(
        yaml.safe_dump({"iterations": 3, "cells": [{"env_id": "llm_gym/TextCraft-v0", "theme": "cooking"}]})
    )
    args = args_from_namespace(parser.parse_args(["train", "--config", str(tmp_path / "run.yaml")]))
    assert args.iterations == 3 and args.cells[0].theme == "cooking"
    warm_cell = '{"env_id": "llm_gym/TextCraft-v0", "semantics": "counterfactual@1"}'
    args = args_from_namespace(parser.parse_args(["train", "--config", str(config), "--warm-cell", warm_cell]))
    assert args.warm_cells == (trainer.Cell(semantics="counterfactual@1"),) and args.cells[0].max_turns == 4
    (tmp_path / "bad.toml").write_text("iterations = [")
    with pytest.raises(ValueError, match="bad.toml"):
        load_config(tmp_path / "bad.toml")
    with pytest.raises(ValueError, match="missing.toml"):
        load_config(tmp_path / "missing.toml")
    namespace = parser.parse_args(["train", "--cell", "llm_gym/Nope-v0", "--out-dir", str(tmp_path / "x")])
    assert run_train(namespace) == 2


def test_lora_trains_only_the_adapters_and_resumes(tmp_path, policy):
    pytest.importorskip("peft")
    from safetensors.torch import load_file

    base_weights = load_file(str(policy[0] / "model.safetensors"))
    lora = dict(model=str(policy[0]), lora_rank=4, kl_coef=0.05)
    whole = trainer.train(small_args(tmp_path / "whole", **lora))
    checkpoint = trainer.latest_checkpoint(tmp_path / "whole")
    assert (checkpoint / "adapter_config.json").exists() and not (checkpoint / "model.safetensors").exists()
    model, _ = trainer.load_model(checkpoint, small_args(tmp_path, **lora), "cpu", torch.float32)
    trained = {name: tensor for name, tensor in model.named_parameters() if "lora_" in name}
    assert trained and any(tensor.abs().sum() > 0 for name, tensor in trained.items() if "lora_B" in name)
    merged_base = {name: tensor for name, tensor in model.get_base_model().state_dict().items() if "lora_" not in name}
    for name, tensor in base_weights.items():
        key = next(k for k in merged_base if k.replace("base_layer.", "") == name)
        assert torch.equal(merged_base[key], tensor), name

    killed = tmp_path / "killed"
    trainer.train(small_args(killed, iterations=2, **lora))
    resumed = trainer.train(small_args(killed, resume=True, **lora))
    assert resumed["iteration"] == whole["iteration"] == 4
    assert records(killed) == records(tmp_path / "whole")


def test_lora_adapters_load_over_the_base_they_record_from_anywhere(tmp_path, policy, monkeypatch):
    """A LoRA run's warm start (adapters only, as a study's shared start is) is a policy every
    loader takes: an RL run goes on training those adapters, evaluation and ``HFAgent`` merge them."""
    pytest.importorskip("peft")
    from safetensors.torch import load_file

    from llm_gym.baselines.hf_agent import HFAgent

    shutil.copytree(policy[0], tmp_path / "base")
    monkeypatch.chdir(tmp_path)
    trainer.train(small_args("first", model="base", lora_rank=4, iterations=0, warm_steps=3))  # a relative base
    warm = tmp_path / "first" / "warm"
    assert (warm / "adapter_config.json").is_file() and not (warm / "model.safetensors").exists()
    monkeypatch.chdir(tmp_path.parent)

    lora = small_args(tmp_path / "second", model=str(warm), lora_rank=4)
    continued, _ = trainer.load_model(warm, lora, "cpu", torch.float32)
    saved = load_file(str(warm / "adapter_model.safetensors"))
    trained_b = {n: t for n, t in continued.named_parameters() if "lora_B" in n}
    assert trained_b and all(t.requires_grad for t in trained_b.values())
    assert any(saved[k].abs().sum() > 0 for k in saved if "lora_B" in k)  # the warm start moved them
    assert sorted(t.abs().sum().item() for t in trained_b.values()) == pytest.approx(
        sorted(saved[k].abs().sum().item() for k in saved if "lora_B" in k)
    )  # the saved adapters, not fresh zero ones
    merged, _ = trainer.load_model(warm, dataclasses.replace(lora, lora_rank=0), "cpu", torch.float32)
    assert not any("lora_" in n for n, _ in merged.named_parameters())
    ids = torch.tensor([[1, 2, 3, 4, 5]])
    with torch.no_grad():
        assert torch.allclose(merged(ids).logits, continued(ids).logits, atol=1e-5)

    assert trainer.train(lora)["iteration"] == 4
    assert trainer.evaluate_policy(dataclasses.replace(lora, out_dir=str(tmp_path / "unused")))
    agent = HFAgent(warm, max_new_tokens=8)
    env = Recorder(gym.make("llm_gym/TextCraft-v0", difficulty=EASY, max_turns=2))
    agent.play([env], [0])
    assert env.actions  # the merged policy played its episode

    shutil.move(tmp_path / "base", tmp_path / "moved")
    with pytest.raises(ValueError, match="trained over .*not a local checkpoint directory"):
        trainer.load_model(warm, lora, "cpu", torch.float32)
    monkeypatch.setitem(sys.modules, "peft", None)  # as if peft were not installed
    with pytest.raises(ImportError, match="need peft: pip install"):
        trainer.load_model(warm, lora, "cpu", torch.float32)


def test_logprobs_are_computed_only_where_trained_and_match_the_full_forward_at_a_temperature(policy):
    _, model, tokenizer = policy
    _, _, episodes = sampled_episodes(model, tokenizer)
    batch = next(trainer.microbatches(episodes, [[1.0] * len(e.rewards) for e in episodes], 8, tokenizer.pad_token_id))
    with torch.no_grad():
        chunked = trainer.token_logprobs(model, batch, temperature=0.7, chunk=5)
        logits = model(input_ids=batch["ids"], attention_mask=batch["attention"]).logits[:, :-1] / 0.7
    full = torch.log_softmax(logits, -1).gather(2, batch["ids"][:, 1:, None]).squeeze(2)
    where = batch["mask"].bool()
    assert torch.allclose(chunked[where], full[where], atol=1e-5)
    assert torch.all(chunked[~where] == 0)


def test_sampling_at_a_temperature_stores_the_tempered_logprobs(policy):
    _, model, tokenizer = policy
    codec = ChatCodec(tokenizer, drop_instructions=True)
    env = gym.make("llm_gym/TextCraft-v0", difficulty=EASY, max_turns=3)
    [episode] = rollout(model, codec, [(env, 5, 0)], 12, torch.Generator().manual_seed(0), temperature=0.5)
    ids = torch.tensor([episode.ids])
    with torch.no_grad():
        logp = torch.log_softmax(model(input_ids=ids).logits[0, :-1] / 0.5, -1).gather(1, ids[0, 1:, None])[:, 0]
    mask = torch.tensor(episode.mask[1:], dtype=torch.bool)
    assert torch.allclose(logp[mask], torch.tensor(episode.logprobs[1:])[mask], atol=1e-4)


def test_loss_weights_give_each_episode_one_vote_and_a_fixed_normaliser(policy):
    _, model, tokenizer = policy
    _, _, episodes = sampled_episodes(model, tokenizer)
    for aggregation in trainer.LOSS_AGGREGATIONS:
        weights = trainer.loss_weights(episodes, aggregation)
        per_episode = [
            sum(w[t] for t, m in zip(e.turn, e.mask) if m) for e, w in zip(episodes, weights)
        ]  # each episode's total weight
        assert sum(per_episode) == pytest.approx(1.0)
        if aggregation != "token":
            assert per_episode == pytest.approx([1 / len(episodes)] * len(episodes))
    weights = trainer.loss_weights(episodes, "episode")
    kept = [sum(w[t] for t, m in zip(e.turn, e.mask) if m) for e, w in zip(episodes[2:], weights[2:])]
    assert sum(kept) == pytest.approx((len(episodes) - 2) / len(episodes))  # dropping two rescales nothing
    alone = trainer.loss_weights(episodes[2:], "episode")  # what a normaliser over the kept ones would give
    assert sum(sum(w[t] for t, m in zip(e.turn, e.mask) if m) for e, w in zip(episodes[2:], alone)) == pytest.approx(1)
    lengths = {sum(e.mask) for e in episodes}
    assert len(lengths) > 1, "the sampled episodes should differ in length for this test to mean anything"


def test_warm_start_episodes_do_not_train_on_their_injected_noise(policy):
    _, _, tokenizer = policy
    codec = ChatCodec(tokenizer)
    env = gym.make("llm_gym/TextCraft-v0", difficulty=EASY, max_turns=6)
    noisy = oracle_episode(env, codec, 3, 1.0, random.Random(0))
    assert noisy.replies and sum(noisy.mask) == 0
    mixed = oracle_episode(env, codec, 3, 0.5, random.Random(1))
    trained = [reply for turn, reply in enumerate(mixed.replies) if turn in set(mixed.turn)]
    assert 0 < len(trained) < len(mixed.replies)  # this seed mixes oracle and noise turns
    assert sum(mixed.mask) == sum(len(reply) for reply in trained)


def test_end_on_invalid_stops_a_training_episode_at_its_first_rejected_reply(policy):
    _, model, tokenizer = policy
    codec = ChatCodec(tokenizer)
    slots = [(gym.make("llm_gym/TextCraft-v0", difficulty=EASY, max_turns=6), seed, 0) for seed in range(6)]
    full = rollout(model, codec, slots, 12, greedy=True)  # greedy: the same replies whatever else plays
    ended = rollout(model, codec, slots, 12, greedy=True, end_on_invalid=True)
    assert any(s != "ok" for e in full for s in e.statuses[:-1]), "the untrained policy should err before the end"
    for long, short in zip(full, ended):
        first_bad = next((t for t, s in enumerate(long.statuses) if s != "ok"), None)
        if first_bad is None or first_bad == len(long.statuses) - 1:
            assert short.statuses == long.statuses and short.outcome == long.outcome
        else:  # the same sampled turns up to the first rejected one, then the end
            assert short.statuses == long.statuses[: first_bad + 1] and short.outcome == "invalid"
            assert short.replies == long.replies[: first_bad + 1] and not short.success
    # an accepted reply goes on; the first rejected one ends the episode
    env = gym.make("llm_gym/TextCraft-v0", difficulty=EASY, max_turns=6)
    episode = rollout_module.start_episode(env, codec, 3, 0)
    oracle = codec.reply(presentation_of(env).format_command(env.unwrapped.oracle_action()))
    rollout_module.take_turn(episode, codec, oracle, [0.0] * len(oracle), 2048, end_on_invalid=True)
    assert episode.statuses == ["ok"] and not episode.done
    rejected = codec.reply("get 1 nothing-of-the-sort")
    rollout_module.take_turn(episode, codec, rejected, [0.0] * len(rejected), 2048, end_on_invalid=True)
    assert episode.statuses[1] != "ok" and episode.done and episode.outcome == "invalid"


def test_the_warm_start_plays_its_own_cells_which_count_among_the_runs_cells(policy):
    _, model, tokenizer = policy
    train_cell = trainer.Cell(difficulty=EASY, max_turns=3)
    worlds = tuple(dataclasses.replace(train_cell, semantics=f"counterfactual@{w}") for w in (1, 2))
    args = small_args("unused", warm_cells=worlds, warm_steps=3)
    assert args.all_warm_cells == worlds and args.all_cells == (*worlds, train_cell)
    assert small_args("unused").all_warm_cells == (train_cell,)  # default: the first phase's cells

    class CountingPool(trainer.EnvPool):
        def __init__(self):
            super().__init__()
            self.taken: list[trainer.Cell] = []

        def take(self, cell, count):
            self.taken.append(cell)
            return super().take(cell, count)

    pool = CountingPool()
    trained = copy.deepcopy(model)
    trainer.warm_start(trained, ChatCodec(tokenizer, drop_instructions=True), args, pool, lambda record: None)
    assert set(pool.taken) == set(worlds)


def test_an_update_at_a_tiny_learning_rate_moves_the_fp32_master_weights_under_bf16_autocast(policy, monkeypatch):
    """bf16 parameters would round a 1e-6 step away; the fp32 master copy keeps it."""
    path, _, tokenizer = policy
    model, _ = load_policy(path)
    _, _, episodes = sampled_episodes(model, tokenizer)
    monkeypatch.setattr(trainer, "autocast", lambda model: torch.autocast("cpu", dtype=torch.bfloat16))
    before = [p.detach().clone() for p in model.parameters()]
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-6, weight_decay=0.0)
    advantages = [[1.0 if i % 2 else -1.0] * len(e.rewards) for i, e in enumerate(episodes)]
    args = small_args("unused", advantage="turn_returns")
    codec = ChatCodec(tokenizer, drop_instructions=True)
    stats = trainer.update(
        model, optimizer, None, episodes, advantages, trainer.loss_weights(episodes, "episode"), args, codec
    )
    assert not stats["nonfinite"]
    assert all(p.dtype == torch.float32 for p in model.parameters())
    moved = sum(int((p.detach() != b).sum()) for p, b in zip(model.parameters(), before))
    total = sum(b.numel() for b in before)
    bf16_moved = sum(int((p.detach().bfloat16() != b.bfloat16()).sum()) for p, b in zip(model.parameters(), before))
    assert moved > 0.5 * total > 10 * bf16_moved


def test_evaluation_of_a_cell_does_not_depend_on_the_other_cells_or_their_order(tmp_path, policy):
    _, model, tokenizer = policy
    codec = ChatCodec(tokenizer, drop_instructions=True)
    cells = (trainer.Cell(difficulty=EASY, max_turns=3), trainer.Cell(difficulty=EASY, max_turns=3, theme="cooking"))
    scores = []
    for order in (cells, cells[::-1], cells[1:]):
        args = small_args(tmp_path, eval_cells=order, eval_seeds=6)
        records = trainer.evaluate(model, codec, args, trainer.EnvPool(), 0, lambda record: None)
        scores.append({r["cell"]: {k: v for k, v in r.items() if k != "iteration"} for r in records})
    label = cells[1].label
    assert scores[0] == scores[1] and scores[2][label] == scores[0][label]


def test_a_saved_policy_evaluates_as_the_run_that_saved_it_logged(tmp_path, policy):
    path, _, _ = policy
    cells = (trainer.Cell(difficulty=EASY, max_turns=3), trainer.Cell(difficulty=EASY, max_turns=3, theme="cooking"))
    run = trainer.train(small_args(tmp_path / "run", model=str(path), eval_cells=cells, iterations=0, eval_seeds=6))
    logged = [r for r in run["evals"] if r["iteration"] == 0]
    again = trainer.evaluate_policy(
        small_args(tmp_path / "unused", model=str(tmp_path / "run" / "warm"), eval_cells=cells[::-1], eval_seeds=6)
    )
    assert {r["cell"]: r for r in again} == {r["cell"]: r for r in logged} and len(logged) == 2
    assert not (tmp_path / "unused").exists()


def test_pass_at_k_evaluation_plays_each_seed_k_times_and_keeps_greedy_as_it_was(tmp_path, policy):
    _, model, tokenizer = policy
    codec = ChatCodec(tokenizer, drop_instructions=True)
    cell = trainer.Cell(difficulty=EASY, max_turns=3)
    (one,) = trainer.evaluate(
        model, codec, small_args(tmp_path, eval_cells=(cell,), eval_seeds=5), trainer.EnvPool(), 0, lambda record: None
    )
    args = small_args(tmp_path, eval_cells=(cell,), eval_seeds=5, eval_samples=4)
    (four,) = trainer.evaluate(model, codec, args, trainer.EnvPool(), 0, lambda record: None)
    assert four["greedy_outcomes"] == one["greedy_outcomes"] and "sampled_pass_at_k" not in one
    shares, passed = four["sampled_outcomes"], four["sampled_pass_outcomes"]
    assert len(shares) == len(passed) == 5 and all(share in (0, 0.25, 0.5, 0.75, 1) for share in shares)
    assert passed == [int(share > 0) for share in shares]
    assert four["sampled_pass_at_k"] == sum(passed) / 5 >= four["sampled_success"] == pytest.approx(sum(shares) / 5)


def test_the_hf_agent_replays_the_trainers_greedy_episodes_token_for_token(tmp_path, policy):
    from llm_gym.baselines.evaluation import run_episodes
    from llm_gym.baselines.hf_agent import HFAgent

    path, model, tokenizer = policy
    trained = tmp_path / "trained"
    shutil.copytree(path, trained)
    codec = ChatCodec(tokenizer, drop_instructions=True)
    codec.save(trained)
    assert ChatCodec.for_checkpoint(tokenizer, trained).settings == codec.settings
    assert ChatCodec.for_checkpoint(tokenizer, path).settings == ChatCodec(tokenizer).settings
    seeds = [trainer.EVAL_SEED_BASE + i for i in range(4)]
    make = lambda: gym.make("llm_gym/TextCraft-v0", difficulty=EASY, max_turns=3)  # noqa: E731
    episodes = rollout(model, codec, [(make(), seed, i) for i, seed in enumerate(seeds)], 12, greedy=True)
    agent = HFAgent(trained, max_new_tokens=12)
    expected = [[codec.decode(reply) for reply in e.replies] for e in episodes]
    records = run_episodes([make() for _ in seeds], [agent] * len(seeds), seeds)  # play: the rollout itself
    assert [r["actions"] for r in records] == expected
    assert [r["outcome"] for r in records] == [e.outcome for e in episodes]
    turn_by_turn = types.SimpleNamespace(act_batch=agent.act_batch, reset_batch=agent.reset_batch)
    records = run_episodes([make() for _ in seeds], [turn_by_turn] * len(seeds), seeds)
    assert [r["actions"] for r in records] == expected
    assert [agent.histories[i][0] + agent.histories[i][1] for i in range(len(seeds))] == [e.ids for e in episodes]


def longest_match_prediction(ids: list[int], target: int) -> int:
    """The token after the earlier position whose preceding tokens match those before ``target``
    longest: copying by content, the job the copy pretraining teaches."""
    best, best_length = -1, -1
    for j in range(1, target):
        length = 0
        while length < j and ids[j - 1 - length] == ids[target - 1 - length]:
            length += 1
        if length > best_length:
            best, best_length = ids[j], length
    return best


def test_copying_batches_are_solved_by_content_and_not_by_a_fixed_distance():
    ordinary = torch.arange(4, 404)
    ids, mask = copying_batch(ordinary, torch.Generator().manual_seed(0), 32, 30)
    targets = mask.nonzero().tolist()
    by_content = sum(longest_match_prediction(ids[row].tolist(), t) == ids[row, t] for row, t in targets)
    assert by_content / len(targets) > 0.95
    by_distance = [sum(bool(ids[row, t - d] == ids[row, t]) for row, t in targets) / len(targets) for d in range(1, 60)]
    assert max(by_distance) < 0.3  # no distance to copy from serves most sequences
    with pytest.raises(ValueError, match="at least 8"):
        copying_batch(ordinary, torch.Generator(), 2, 7)


def test_copy_pretraining_teaches_a_tiny_model_to_repeat_what_it_was_shown():
    env = gym.make("llm_gym/TextCraft-v0", difficulty=EASY)
    tokenizer = build_tokenizer(env_corpus([env], 20, seed=0), 400)
    untrained = pretrain_copying(build_model(tokenizer, hidden=64, layers=2), tokenizer, 0, batch=16, length=8)
    trained = pretrain_copying(build_model(tokenizer, hidden=64, layers=2), tokenizer, 300, batch=16, length=8)
    # 300 steps start the repeats; recalls by a 3-token cue need ~1000 steps at batch 32 (docs/trainer.md)
    assert untrained["repeat"] < 0.05 and trained["repeat"] > 0.1


def test_the_tiny_model_is_saved_after_its_copy_pretraining(tmp_path):
    args = small_args(tmp_path, tiny_copy_steps=3)
    trainer.prepare_model_dir(args, tmp_path, trainer.EnvPool())
    saved = json.loads((tmp_path / "tiny" / "pretraining.json").read_text())
    assert saved["copy_steps"] == 3 and set(saved["copy_accuracy"]) == {"repeat", "recall"}


def test_a_one_line_codec_ends_replies_at_the_first_line_break_and_is_saved(tmp_path, policy):
    path, model, tokenizer = policy
    codec = ChatCodec(tokenizer, one_line=True)
    newline_ids = {i for i in range(len(tokenizer)) if "\n" in tokenizer.decode([i])}
    assert newline_ids and newline_ids <= codec.stop_ids
    assert not newline_ids <= ChatCodec(tokenizer).stop_ids  # a plain codec lets a reply run on
    reply = codec.encode("inventory\nbecause I want to see what I hold")
    assert codec.decode(reply) == "inventory" and ChatCodec(tokenizer).decode(reply).startswith("inventory\nbecause")
    codec.save(tmp_path)
    assert ChatCodec.for_checkpoint(tokenizer, tmp_path).settings == codec.settings
    episodes = rollout(
        model, codec, [(gym.make("llm_gym/TextCraft-v0", difficulty=EASY, max_turns=3), 0, 0)], 24, greedy=True
    )
    for reply_ids in episodes[0].replies:  # a newline token, where one was written, ends the reply
        assert not any(token in newline_ids for token in reply_ids[:-1])
