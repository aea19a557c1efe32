"""An agent that is a local Hugging Face causal LM, used through its chat template, batched.

Any directory that ``AutoModelForCausalLM.from_pretrained`` and ``AutoTokenizer.from_pretrained``
load works. The agent speaks through the trainer's own ``ChatCodec``, with the settings a trained
checkpoint recorded, and keeps each episode as token ids (never re-tokenising earlier turns).
``play`` runs whole episodes with the trainer's own batched rollout (one KV cache across turns),
so ``llm-gym eval --agent hf:<trained dir>`` plays exactly as the trainer's greedy evaluation did;
``act``/``act_batch`` answer one turn at a time for callers that drive the env themselves (they
re-read the history each turn, so they are slower). Decoding is greedy, so evaluation is
deterministic.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any


class HFAgent:
    """Chat with a local checkpoint; one token history per episode slot.

    Args:
        path: a Hugging Face checkpoint directory.
        max_new_tokens: the most tokens one reply may have.
        max_tokens: the most tokens one episode may have in ``play`` (the trainer's default); a
            longer one ends as truncated.
        threads: torch CPU threads (1 is much faster for small models on small machines).
        system_instructions: for a checkpoint the trainer did not write, send
            ``info["instructions"]`` as a system message instead of in the first observation (a
            trained checkpoint's own setting always wins).
        one_line: for a checkpoint the trainer did not write, end each reply at its first line
            break (``ChatCodec``'s ``one_line``), for chat models that explain after the command.
    """

    name = "hf"

    def __init__(
        self,
        path: str | Path,
        max_new_tokens: int = 48,
        threads: int | None = 1,
        system_instructions: bool = False,
        max_tokens: int = 2048,
        one_line: bool = False,
    ):
        import torch

        from llm_gym.baselines.rollout import ChatCodec
        from llm_gym.baselines.tiny import load_policy

        if threads is not None:
            torch.set_num_threads(threads)
        self.model, self.tokenizer = load_policy(path)
        self.model.eval()
        self.codec = ChatCodec.for_checkpoint(
            self.tokenizer, path, instructions_as_system=system_instructions, one_line=one_line
        )
        self.max_new_tokens = max_new_tokens
        self.max_tokens = max_tokens
        self.histories: dict[int, tuple[list[int], list[int]]] = {}  # slot -> (ids so far, last reply ids)

    def reset(self, seed: int | None = None) -> None:
        self.histories = {}

    def reset_batch(self, seeds: Sequence[int]) -> None:
        self.histories = {}

    def play(self, envs: Sequence[Any], seeds: Sequence[int]) -> None:
        """Play one greedy episode per env, reset with its seed, all of them batched together."""
        from llm_gym.baselines.rollout import rollout

        slots = [(env, seed, index) for index, (env, seed) in enumerate(zip(envs, seeds))]
        rollout(self.model, self.codec, slots, self.max_new_tokens, greedy=True, max_tokens=self.max_tokens)

    def act(self, observation: str, info: dict[str, Any]) -> str:
        return self.act_batch([observation], [info], [0])[0]

    def act_batch(
        self, observations: Sequence[str], infos: Sequence[dict[str, Any]], slots: Sequence[int]
    ) -> list[str]:
        import torch

        prompts = []
        for observation, info, slot in zip(observations, infos, slots):
            if slot in self.histories:
                ids, reply = self.histories[slot]
                prompts.append(ids + reply + self.codec.next_turn(reply, observation))
            else:
                prompts.append(self.codec.first(observation, info.get("instructions") or ""))
        width = max(len(ids) for ids in prompts)
        pad = self.tokenizer.pad_token_id
        input_ids = torch.tensor([[pad] * (width - len(ids)) + ids for ids in prompts])
        attention = torch.tensor([[0] * (width - len(ids)) + [1] * len(ids) for ids in prompts])
        with torch.no_grad():
            output = self.model.generate(
                input_ids=input_ids,
                attention_mask=attention,
                max_new_tokens=self.max_new_tokens,
                do_sample=False,
                eos_token_id=sorted(self.codec.stop_ids),
                pad_token_id=pad,
            )
        replies = []
        for ids, row, slot in zip(prompts, output[:, width:].tolist(), slots):
            reply = []
            for token in row:  # up to and including the first stop token, as the trainer keeps it
                reply.append(token)
                if token in self.codec.stop_ids:
                    break
            self.histories[slot] = (ids, reply)
            replies.append(self.codec.decode(reply))
        return replies
