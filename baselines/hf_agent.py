"""An agent that is a local Hugging Face causal LM, used through its chat template, batched.

Any directory that ``AutoModelForCausalLM.from_pretrained`` and ``AutoTokenizer.from_pretrained``
load works. Episodes played together (``act_batch``) generate together: one left-padded batch per
turn. Decoding is greedy, so evaluation is deterministic.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any


class HFAgent:
    """Chat with a local checkpoint; one conversation per episode slot.

    Args:
        path: a Hugging Face checkpoint directory.
        max_new_tokens: the most tokens one reply may have.
        threads: torch CPU threads (1 is much faster for small models on small machines).
        system_instructions: send ``info["instructions"]`` as a system message and strip them
            from the first observation, when the chat template has a system role.
    """

    name = "hf"

    def __init__(
        self, path: str | Path, max_new_tokens: int = 48, threads: int | None = 1, system_instructions: bool = False
    ):
        import torch

        from llm_gym.baselines.tiny import load_policy

        if threads is not None:
            torch.set_num_threads(threads)
        self.model, self.tokenizer = load_policy(path)
        self.model.eval()
        self.tokenizer.padding_side = "left"
        self.max_new_tokens = max_new_tokens
        self.system_instructions = system_instructions
        self.chats: dict[int, list[dict[str, str]]] = {}

    def reset(self, seed: int | None = None) -> None:
        self.chats = {}

    def reset_batch(self, seeds: Sequence[int]) -> None:
        self.chats = {}

    def act(self, observation: str, info: dict[str, Any]) -> str:
        return self.act_batch([observation], [info], [0])[0]

    def act_batch(
        self, observations: Sequence[str], infos: Sequence[dict[str, Any]], slots: Sequence[int]
    ) -> list[str]:
        import torch

        prompts = []
        for observation, info, slot in zip(observations, infos, slots):
            chat = self.chats.setdefault(slot, [])
            if not chat and self.system_instructions and observation.startswith(info.get("instructions") or "\0"):
                chat.append({"role": "system", "content": info["instructions"]})
                observation = observation[len(info["instructions"]) :].lstrip()
            chat.append({"role": "user", "content": observation})
            prompts.append(self.tokenizer.apply_chat_template(chat, tokenize=False, add_generation_prompt=True))
        batch = self.tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
        with torch.no_grad():
            output = self.model.generate(
                **batch,
                max_new_tokens=self.max_new_tokens,
                do_sample=False,
                pad_token_id=self.tokenizer.pad_token_id,
            )
        replies = self.tokenizer.batch_decode(output[:, batch["input_ids"].shape[1] :], skip_special_tokens=True)
        replies = [reply.strip() for reply in replies]
        for reply, slot in zip(replies, slots):
            self.chats[slot].append({"role": "assistant", "content": reply})
        return replies
