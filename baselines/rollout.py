"""Batched, turn-synchronous, token-in/token-out episode rollouts for the RFT trainer.

Every active episode generates its next reply together: one left-padded prefill over the episodes'
token histories, then one batched forward per new token with a KV cache. The ids sampled are
appended to the episode as they are, and exactly those ids are trained on; the environment
receives their decoding. Observations are appended as the chat template's user turns, encoded on
their own, so earlier turns are never re-tokenised.
"""

from __future__ import annotations

import dataclasses
import json
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from llm_gym.presentation import presentation_of


@dataclasses.dataclass
class Episode:
    """One episode as a token sequence. ``mask`` is 1 exactly on the tokens trained on: those the
    policy produced (in a warm-start episode, the oracle's replies, not the injected noise)."""

    env: Any
    group: int
    ids: list[int]
    mask: list[int]
    turn: list[int]  # for each token, the turn whose reply it belongs to (-1 for environment tokens)
    logprobs: list[float]  # the policy's log-probability of each produced token at sampling (0 elsewhere)
    rewards: list[float] = dataclasses.field(default_factory=list)  # per turn
    statuses: list[str] = dataclasses.field(default_factory=list)  # per turn: ok, parse_error, illegal
    replies: list[list[int]] = dataclasses.field(default_factory=list)  # sampled ids per turn
    outcome: str = "running"
    done: bool = False

    @property
    def ret(self) -> float:
        return float(sum(self.rewards))

    @property
    def success(self) -> bool:
        return self.outcome == "success"


class ChatCodec:
    """Token ids of chat turns for any tokenizer whose chat template is prefix-preserving.

    One codec serves the trainer and ``HFAgent``, so a checkpoint is evaluated on exactly the
    tokens it was trained on; ``save`` writes its settings beside a checkpoint and ``for_checkpoint``
    reads them back. Settings:

    - ``drop_instructions``: cut the rules (``info["instructions"]``, the same for every task of a
      family) from the first observation;
    - ``instructions_as_system``: send them as a system message instead (where the template has one);
    - ``one_line``: a reply ends at its first line break (every token that writes one stops it, and
      ``decode`` keeps the text before it), for chat models that explain after the command.

    The pieces come from rendering the template itself: the opening prompt, the text that closes
    an assistant reply (``<|im_end|>\\n`` in ChatML) and each new user turn up to the generation
    prompt. ``stop_id`` is the closing's first token, the end of a reply.
    """

    SETTINGS_FILE = "llm_gym_codec.json"

    def __init__(
        self,
        tokenizer,
        drop_instructions: bool = False,
        instructions_as_system: bool = False,
        one_line: bool = False,
    ):
        if drop_instructions and instructions_as_system:
            raise ValueError("drop_instructions and instructions_as_system exclude each other")
        self.tokenizer = tokenizer
        self.drop_instructions = drop_instructions
        self.instructions_as_system = instructions_as_system
        self.one_line = one_line
        render = lambda messages, prompt: tokenizer.apply_chat_template(  # noqa: E731
            messages, tokenize=False, add_generation_prompt=prompt
        )
        user, reply = {"role": "user", "content": "U"}, {"role": "assistant", "content": "A"}
        prompt = render([user], True)
        self._base = render([user, reply], False)
        if not self._base.startswith(prompt + "A"):
            raise ValueError("the tokenizer's chat template is not prefix-preserving; the trainer cannot extend turns")
        self._render = render
        closing = self._base[len(prompt) + 1 :]
        self.closing_ids = self.encode(closing)
        if not self.closing_ids:
            raise ValueError("the tokenizer's chat template writes nothing after an assistant reply; no end of turn")
        self.stop_id = self.closing_ids[0]
        self.stop_ids = {self.stop_id} | ({tokenizer.eos_token_id} if tokenizer.eos_token_id is not None else set())
        if one_line:
            self.stop_ids |= {i for i in range(len(tokenizer)) if "\n" in tokenizer.decode([i])}

    @property
    def settings(self) -> dict[str, bool]:
        return {
            "drop_instructions": self.drop_instructions,
            "instructions_as_system": self.instructions_as_system,
            "one_line": self.one_line,
        }

    def save(self, path: str | Path) -> None:
        """Write the settings into checkpoint directory ``path``."""
        (Path(path) / self.SETTINGS_FILE).write_text(json.dumps(self.settings))

    @classmethod
    def for_checkpoint(cls, tokenizer, path: str | Path, **defaults: bool) -> ChatCodec:
        """The codec a checkpoint was trained with (``defaults`` for one the trainer did not write)."""
        saved = Path(path) / cls.SETTINGS_FILE
        return cls(tokenizer, **(json.loads(saved.read_text()) if saved.is_file() else defaults))

    def encode(self, text: str) -> list[int]:
        return self.tokenizer.encode(text, add_special_tokens=False)

    def first(self, observation: str, instructions: str = "") -> list[int]:
        """The prompt of turn 0: the first observation as a user turn, then the generation prompt,
        with the leading ``instructions`` dropped or moved to a system message as the settings say."""
        messages = []
        if (
            (self.drop_instructions or self.instructions_as_system)
            and instructions
            and observation.startswith(instructions)
        ):
            observation = observation[len(instructions) :].lstrip()
            if self.instructions_as_system:
                messages.append({"role": "system", "content": instructions})
        return self.encode(self._render([*messages, {"role": "user", "content": observation}], True))

    def reply(self, text: str) -> list[int]:
        """The ids of a reply written as text (for supervised warm-start data), with its end of turn."""
        return self.encode(text) + [self.stop_id]

    def next_turn(self, reply_ids: Sequence[int], observation: str) -> list[int]:
        """Environment tokens after ``reply_ids``: the rest of the closing, the observation, the prompt."""
        rest = self.closing_ids[1:] if reply_ids and reply_ids[-1] == self.stop_id else self.closing_ids
        messages = [{"role": "user", "content": "U"}, {"role": "assistant", "content": "A"}]
        full = self._render(messages + [{"role": "user", "content": observation}], True)
        return list(rest) + self.encode(full[len(self._base) :])

    def decode(self, reply_ids: Sequence[int]) -> str:
        text = self.tokenizer.decode(list(reply_ids), skip_special_tokens=True).strip()
        return text.split("\n", 1)[0].strip() if self.one_line else text


def autocast(model):
    """bf16 autocast on CUDA (parameters stay fp32, the master copy), nothing elsewhere."""
    import torch

    device = next(model.parameters()).device
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=device.type == "cuda")


def sampling_generator(seed: int, device: Any = "cpu"):
    """A torch generator on ``device`` (where ``play_batch`` samples), seeded with ``seed``."""
    import torch

    return torch.Generator(device=device).manual_seed(seed)


def start_episode(env, codec: ChatCodec, seed: int, group: int) -> Episode:
    """Reset ``env`` with ``seed``, as ``llm-gym eval`` does, so its episodes are the same tasks."""
    observation, info = env.reset(seed=seed)
    prompt = codec.first(observation, info.get("instructions", ""))
    return Episode(env, group, list(prompt), [0] * len(prompt), [-1] * len(prompt), [0.0] * len(prompt))


def take_turn(
    episode: Episode,
    codec: ChatCodec,
    reply_ids: list[int],
    logprobs: list[float],
    max_tokens: int,
    learn: bool = True,
    end_on_invalid: bool = False,
) -> None:
    """Append a reply (trained on unless ``learn`` is False), step the env with its decoding, and
    append the observation unless the episode ended. With ``end_on_invalid`` a reply the env
    flags (a parse error or an illegal action) ends the episode, as ``"invalid"``."""
    turn = len(episode.rewards)
    episode.ids += reply_ids
    episode.mask += [int(learn)] * len(reply_ids)
    episode.turn += [turn if learn else -1] * len(reply_ids)
    episode.logprobs += logprobs
    episode.replies.append(list(reply_ids))
    observation, reward, terminated, truncated, info = episode.env.step(codec.decode(reply_ids))
    episode.rewards.append(float(reward))
    episode.statuses.append(info["action_status"])
    episode.outcome = info["outcome"]
    episode.done = terminated or truncated
    if end_on_invalid and not episode.done and info["action_status"] != "ok":
        episode.done, episode.outcome = True, "invalid"
    if not episode.done:
        following = codec.next_turn(reply_ids, observation)
        if len(episode.ids) + len(following) > max_tokens:  # out of context: end as truncated
            episode.done, episode.outcome = True, "truncated"
            return
        episode.ids += following
        episode.mask += [0] * len(following)
        episode.turn += [-1] * len(following)
        episode.logprobs += [0.0] * len(following)


def rollout(
    model,
    codec: ChatCodec,
    slots: Sequence[tuple[Any, int, int]],
    max_new_tokens: int,
    generator=None,
    greedy: bool = False,
    temperature: float = 1.0,
    batch_size: int = 256,
    max_tokens: int = 2048,
    end_on_invalid: bool = False,
) -> list[Episode]:
    """Play one episode per ``(env, task_seed, group)`` slot; up to ``batch_size`` play together
    (``end_on_invalid``: see ``take_turn``)."""
    episodes = [start_episode(env, codec, seed, group) for env, seed, group in slots]
    for start in range(0, len(episodes), batch_size):
        play_batch(
            model,
            codec,
            episodes[start : start + batch_size],
            max_new_tokens,
            generator,
            greedy,
            temperature,
            max_tokens,
            end_on_invalid,
        )
    return episodes


SHARED_PREFIX_MIN = 32  # tokens: a shorter common prefix is not worth its own forward


def shared_prefix_length(sequences: list[list[int]]) -> int:
    """How many leading tokens every sequence shares, leaving at least one token of each to feed."""
    shortest = min(len(sequence) for sequence in sequences)
    length = 0
    while length < shortest - 1 and all(sequence[length] == sequences[0][length] for sequence in sequences):
        length += 1
    return length


def play_batch(
    model,
    codec: ChatCodec,
    episodes: list[Episode],
    max_new_tokens: int,
    generator=None,
    greedy: bool = False,
    temperature: float = 1.0,
    max_tokens: int = 2048,
    end_on_invalid: bool = False,
) -> None:
    """Play ``episodes`` to the end, turn-synchronously, with one KV cache kept across turns.

    A prompt every episode opens with (``SHARED_PREFIX_MIN`` tokens or more: a real model's rules
    text) is encoded once and its cache copied to every row. Each turn feeds every live episode
    the tokens its cache lacks (the last reply token and the new observation), left-padded into
    one chunk; padding and the tokens fed for rows that already stopped are masked out, and
    position ids count only real tokens. Finished episodes leave the cache. Sampling runs on the model's device (``generator`` must live there too); the stored
    log-probabilities are those of the tempered distribution sampled from (of the plain one when
    ``greedy``), as the trainer re-scores them.
    """
    import torch

    device = next(model.parameters()).device
    pad_id = codec.tokenizer.pad_token_id
    stops = torch.tensor(sorted(codec.stop_ids), device=device)
    live = list(episodes)
    cache, attention = None, torch.zeros((len(live), 0), dtype=torch.long, device=device)
    cached = torch.zeros(len(live), dtype=torch.long, device=device)  # real tokens each row has in the cache
    with torch.no_grad(), autocast(model):
        shared = shared_prefix_length([episode.ids for episode in live])
        if len(live) > 1 and shared >= SHARED_PREFIX_MIN:  # a common prompt (the rules) is encoded once
            prefix = torch.tensor([live[0].ids[:shared]], dtype=torch.long, device=device)
            cache = model(input_ids=prefix, use_cache=True, logits_to_keep=1).cache
            cache.batch_repeat_interleave(len(live))
            attention = torch.ones((len(live), shared), dtype=torch.long, device=device)
            cached = cached + shared
        while True:
            keep = [row for row, episode in enumerate(live) if not episode.done]
            if not keep:
                return
            if len(keep) < len(live):
                index = torch.tensor(keep, device=device)
                cache.batch_select_indices(index)
                attention, cached, live = attention[index], cached[index], [live[row] for row in keep]
            pending = [episode.ids[int(n) :] for episode, n in zip(live, cached)]
            width = max(len(p) for p in pending)
            chunk = torch.full((len(live), width), pad_id, dtype=torch.long)
            chunk_mask = torch.zeros((len(live), width), dtype=torch.long)
            for row, tokens in enumerate(pending):
                chunk[row, width - len(tokens) :] = torch.tensor(tokens, dtype=torch.long)
                chunk_mask[row, width - len(tokens) :] = 1
            chunk, chunk_mask = chunk.to(device), chunk_mask.to(device)
            positions = cached[:, None] + (chunk_mask.cumsum(-1) - 1).clamp(min=0)
            attention = torch.cat([attention, chunk_mask], dim=1)
            out = model(
                input_ids=chunk,
                attention_mask=attention,
                position_ids=positions,
                cache=cache,
                use_cache=True,
                logits_to_keep=1,
            )
            cache, cached = out.cache, cached + chunk_mask.sum(-1)
            replies: list[list[int]] = [[] for _ in live]
            logprobs: list[list[float]] = [[] for _ in live]
            finished = torch.zeros(len(live), dtype=torch.bool, device=device)
            for step in range(max_new_tokens):
                logits = out.logits[:, -1].float()
                if greedy:
                    token = logits.argmax(-1)
                else:
                    logits = logits / temperature
                    token = torch.multinomial(torch.softmax(logits, dim=-1), 1, generator=generator).squeeze(1)
                chosen = torch.log_softmax(logits, dim=-1).gather(1, token[:, None]).squeeze(1)
                appended = ~finished
                tokens, chosen_list = token.tolist(), chosen.tolist()
                for row in appended.nonzero().flatten().tolist():
                    replies[row].append(tokens[row])
                    logprobs[row].append(chosen_list[row])
                finished = finished | torch.isin(token, stops)
                if bool(finished.all()) or step == max_new_tokens - 1:
                    break
                fed = appended.long()[:, None]
                attention = torch.cat([attention, fed], dim=1)
                out = model(
                    input_ids=token[:, None],
                    attention_mask=attention,
                    position_ids=cached[:, None],
                    cache=cache,
                    use_cache=True,
                )
                cache, cached = out.cache, cached + fed[:, 0]
            for episode, reply, logprob in zip(live, replies, logprobs):
                take_turn(episode, codec, reply, logprob, max_tokens, end_on_invalid=end_on_invalid)


def oracle_episode(
    env, codec: ChatCodec, task_seed: int, noise: float, rng: random.Random, max_tokens: int = 2048
) -> Episode:
    """An episode written by the oracle, with a random admissible command instead w.p. ``noise``;
    the noise turns stay in the context (the oracle recovers from them) but are not trained on."""
    episode = start_episode(env, codec, task_seed, 0)
    format_command = presentation_of(env).format_command
    while not episode.done:
        base = env.unwrapped
        noisy = rng.random() < noise
        command = rng.choice(base.admissible_commands()) if noisy else base.oracle_action()
        reply = codec.reply(format_command(command))
        take_turn(episode, codec, reply, [0.0] * len(reply), max_tokens, learn=not noisy)
    return episode
