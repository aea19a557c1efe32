"""A tiny offline policy: a byte-level BPE trained on environment text and a ~1M-parameter Llama.

Nothing is downloaded. ``build_tiny(out_dir, corpus)`` trains the tokenizer on ``corpus`` (text the
environments produce, see ``env_corpus``), wraps it with a ChatML chat template, builds a small
``LlamaConfig`` model and saves both as an ordinary Hugging Face checkpoint directory, which
``AutoModelForCausalLM.from_pretrained`` and ``PreTrainedTokenizerFast.from_pretrained`` reload
bit-exactly.

A model trained from scratch cannot at first look a name up in its context and copy what follows
it (it picks a goal's recipe at chance), and RL alone does not teach it that. ``pretrain_copying``
gives it the ability with synthetic induction data (random sequences repeated at varying
distances, and spans recalled from a context by their first tokens), before any environment
text; ``build_tiny`` runs it and the result is saved with the model.

Two transformers 5.x facts shape this module: the model type is Llama, not Qwen2 (v5 swaps in
``Qwen2Tokenizer`` for qwen2 checkpoints and changes the ids), and ``padding_side`` is passed to the
tokenizer's constructor, the only way it is saved.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from llm_gym.presentation import presentation_of

PAD, EOT, IM_START, IM_END = "<|pad|>", "<|endoftext|>", "<|im_start|>", "<|im_end|>"

# ChatML; the assistant's content and its end-of-turn token sit inside {% generation %} so that
# apply_chat_template(..., return_assistant_tokens_mask=True) can mark them.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' }}"
    "{% if message['role'] == 'assistant' %}"
    "{% generation %}{{ message['content'] + '<|im_end|>' }}{% endgeneration %}{{ '\\n' }}"
    "{% else %}{{ message['content'] + '<|im_end|>\\n' }}{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)


def env_corpus(envs: Iterable[Any], episodes: int, seed: int) -> list[str]:
    """Observations and actions of ``episodes`` episodes per env, played by a noisy oracle.

    Each env is a made Gymnasium env of this package (any wrapper stack); actions are written in
    the env's current interface, so the tokenizer learns what the policy will read and write.
    """
    rng = random.Random(f"tiny-corpus/{seed}")
    lines: list[str] = ["system", "user", "assistant"] * 100  # the chat template's role names
    for env in envs:
        format_command = presentation_of(env).format_command
        for _ in range(episodes):
            observation, _ = env.reset(seed=rng.randrange(2**31))
            lines.append(observation)
            done = False
            while not done:
                base = env.unwrapped
                command = base.oracle_action() if rng.random() < 0.7 else rng.choice(base.admissible_commands())
                action = format_command(command)
                observation, _, terminated, truncated, _ = env.step(action)
                lines += [action, observation]
                done = terminated or truncated
    return lines


def build_tokenizer(corpus: list[str], vocab_size: int = 1024):
    """A byte-level BPE trained on ``corpus``, wrapped as a chat tokenizer (left padding)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[PAD, EOT, IM_START, IM_END],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(corpus, trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        eos_token=IM_END,
        pad_token=PAD,
        bos_token=None,
        additional_special_tokens=[EOT, IM_START],
        padding_side="left",
        chat_template=CHAT_TEMPLATE,
    )


def build_model(tokenizer, hidden: int = 128, layers: int = 4, heads: int = 4, kv_heads: int = 2, seed: int = 0):
    """A Llama-style causal LM sized for ``tokenizer``; about 1M parameters at the defaults."""
    import torch
    from transformers import AutoModelForCausalLM, LlamaConfig

    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        intermediate_size=4 * hidden,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=kv_heads,
        max_position_embeddings=4096,
        tie_word_embeddings=True,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=None,
    )
    with torch.random.fork_rng():  # seeded initialisation without touching the caller's RNG
        torch.manual_seed(seed)
        return AutoModelForCausalLM.from_config(config)


def copying_batch(ordinary, generator, batch: int, length: int):
    """``(ids, mask)`` of ``batch`` synthetic sequences of ``2 * length`` tokens, half of each kind;
    ``mask`` marks the tokens the context determines, the ones trained on and scored.

    - a repeat: ``n`` random tokens (``n`` from ``length // 4`` to ``length``, varying) shown
      twice, then random filler;
    - a recall: ``2 * length - length // 2`` tokens drawn from a random sub-alphabet of 4 to 256
      tokens, then a span of ``length // 2`` of them from a random offset; the span's first
      three tokens are its cue.

    The repeat's varying length and the recall's random offset leave no fixed distance to copy
    from, so attending by position does not solve them: only finding the current tokens earlier
    in the context and copying what followed them does. Small sub-alphabets make one token an
    ambiguous key, so the model must match several, as in a recipe list where ``craft``,
    ``using`` and item words recur.
    """
    import torch

    if length < 8:
        raise ValueError(f"copying_batch length must be at least 8 (a 4-token span past its 3-token cue), got {length}")
    total, span = 2 * length, length // 2
    ids = torch.empty((batch, total), dtype=torch.long)
    mask = torch.zeros((batch, total), dtype=torch.bool)
    for row in range(batch):
        if row % 2 == 0:
            n = int(torch.randint(max(2, length // 4), length + 1, (1,), generator=generator))
            picks = ordinary[torch.randint(len(ordinary), (n,), generator=generator)]
            filler = ordinary[torch.randint(len(ordinary), (total - 2 * n,), generator=generator)]
            ids[row] = torch.cat([picks, picks, filler])
            mask[row, n + 1 : 2 * n] = True
        else:
            size = int(torch.empty(()).uniform_(math.log(4), math.log(256), generator=generator).exp())
            alphabet = ordinary[torch.randperm(len(ordinary), generator=generator)[:size]]
            context = alphabet[torch.randint(len(alphabet), (total - span,), generator=generator)]
            start = int(torch.randint(0, len(context) - span + 1, (1,), generator=generator))
            ids[row] = torch.cat([context, context[start : start + span]])
            mask[row, total - span + 3 :] = True
    return ids, mask


def pretrain_copying(
    model, tokenizer, steps: int, seed: int = 0, batch: int = 32, length: int = 30, lr: float = 3e-3
) -> dict[str, float]:
    """Train ``model`` for ``steps`` steps to copy from its context (``copying_batch``: repeats
    and recalls); returns the share of each kind's determined tokens it then predicts exactly
    (greedy, on fresh sequences). The loss is on those tokens only.

    A fixed-length repeat, the first version of this stage, is solved by a head that looks a
    fixed distance back: at hidden 64 x 2 layers it reached 1.0 on the repeat while recalling
    0.07 of a span. The model then memorised TextCraft's recipes rather than reading them.
    """
    import torch

    special = set(tokenizer.all_special_ids)
    ordinary = torch.tensor([i for i in range(len(tokenizer)) if i not in special])
    generator = torch.Generator().manual_seed(seed)

    def loss_and_hits(ids, mask):
        logits = model(input_ids=ids).logits[:, :-1]
        targets, scored = ids[:, 1:], mask[:, 1:]
        loss = torch.nn.functional.cross_entropy(logits[scored], targets[scored])
        return loss, logits.argmax(-1) == targets

    optimizer = torch.optim.AdamW(model.parameters(), lr=lr)
    model.train()
    for _ in range(steps):
        loss, _ = loss_and_hits(*copying_batch(ordinary, generator, batch, length))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    model.eval()
    with torch.no_grad():
        ids, mask = copying_batch(ordinary, generator, 2 * batch, length)
        _, hits = loss_and_hits(ids, mask)
    scored = mask[:, 1:]
    return {
        kind: float(hits[rows][scored[rows]].float().mean())
        for kind, rows in (("repeat", slice(0, None, 2)), ("recall", slice(1, None, 2)))
    }


def build_tiny(
    out_dir: str | Path,
    corpus: list[str],
    vocab_size: int = 1024,
    seed: int = 0,
    copy_steps: int = 0,
    **model_kwargs,
) -> Path:
    """Train the tokenizer, build the model, pretrain it to copy for ``copy_steps`` steps, and
    save both to ``out_dir`` (with ``pretraining.json``, the copying accuracy); returns the path.

    Example:
        >>> import tempfile, gymnasium as gym, llm_gym
        >>> from llm_gym.baselines.tiny import build_tiny, env_corpus
        >>> env = gym.make("llm_gym/TextCraft-v0", difficulty="easy")
        >>> path = build_tiny(tempfile.mkdtemp(), env_corpus([env], 20, seed=0), hidden=32, layers=1)
        >>> sorted(p.name for p in path.iterdir())[:2]
        ['chat_template.jinja', 'config.json']
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = build_tokenizer(corpus, vocab_size)
    model = build_model(tokenizer, seed=seed, **model_kwargs)
    if copy_steps:
        accuracy = pretrain_copying(model, tokenizer, copy_steps, seed=seed)
        (out / "pretraining.json").write_text(json.dumps({"copy_steps": copy_steps, "copy_accuracy": accuracy}))
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def load_policy(path: str | Path, device: str = "cpu", dtype: Any = None, trainable: bool = False):
    """Load ``(model, tokenizer)`` from a local checkpoint directory, with a clear error if it is bad.

    A directory of LoRA adapters (what a ``lora_rank`` run saves) is loaded over the base model its
    ``adapter_config.json`` names: merged into plain weights, or kept as trainable adapters when
    ``trainable``. Models are loaded by absolute path, so the base that adapters record is found
    from any working directory."""
    from transformers import AutoModelForCausalLM

    path = Path(path).resolve()
    if not path.is_dir():
        raise ValueError(
            f"model checkpoint {str(path)!r} is not a directory; pass a local Hugging Face checkpoint or 'tiny'"
        )
    if is_lora_adapters(path):
        return _load_adapters(path, device, dtype, trainable)
    if not (path / "config.json").is_file():
        raise ValueError(f"model checkpoint {str(path)!r} lacks ['config.json']; not a Hugging Face checkpoint")
    tokenizer = _load_tokenizer(path)
    try:
        model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype).to(device)
    except Exception as error:  # transformers raises many kinds; name the checkpoint in one
        raise ValueError(f"cannot load model checkpoint {str(path)!r}: {error}") from error
    return model, tokenizer


def is_lora_adapters(path: str | Path) -> bool:
    """Whether ``path`` holds LoRA adapters (what a ``lora_rank`` run saves), not full weights."""
    return (Path(path) / "adapter_config.json").is_file()


def _load_tokenizer(path: Path):
    """The tokenizer saved at ``path``, which must have a chat template; its pad token defaults to EOS."""
    from transformers import AutoTokenizer

    if not any((path / name).is_file() for name in ("tokenizer.json", "tokenizer_config.json")):
        raise ValueError(f"model checkpoint {str(path)!r} lacks ['tokenizer.json']; not a Hugging Face checkpoint")
    try:
        tokenizer = AutoTokenizer.from_pretrained(path)
    except Exception as error:  # transformers raises many kinds; name the checkpoint in one
        raise ValueError(f"cannot load model checkpoint {str(path)!r}: {error}") from error
    if not tokenizer.chat_template:
        raise ValueError(f"model checkpoint {str(path)!r} has no chat template; the trainer needs one")
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def _load_adapters(path: Path, device: str, dtype: Any, trainable: bool):
    """LoRA adapters at ``path`` over the base model they record, with the tokenizer saved beside them."""
    try:
        from peft import PeftModel
    except ImportError as error:
        raise ImportError(f'LoRA adapters {str(path)!r} need peft: pip install "llm-gym[train]"') from error

    base = json.loads((path / "adapter_config.json").read_text()).get("base_model_name_or_path")
    if not base or not Path(base).is_dir():
        raise ValueError(
            f"LoRA adapters {str(path)!r} were trained over {base!r}, which is not a local checkpoint directory "
            "(it was moved or deleted); restore it there or set base_model_name_or_path in adapter_config.json"
        )
    tokenizer = _load_tokenizer(path)
    model, _ = load_policy(base, device, dtype)
    model = PeftModel.from_pretrained(model, path, is_trainable=trainable)
    return (model if trainable else model.merge_and_unload()), tokenizer
