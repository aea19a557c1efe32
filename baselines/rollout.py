"""Batched, turn-synchronous, token-in/token-out episode rollouts for the RFT trainer.

Every active episode generates its next reply together: one left-padded prefill over the episodes'
token histories, then one batched forward per new token with a KV cache. The ids sampled are
appended to the episode as they are, and exactly those ids are trained on; the environment
receives their decoding. Observations are appended as the chat template's user turns, encoded on
their own, so earlier turns are never re-tokenised.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Sequence
from typing import Any

from llm_gym.presentation import presentation_of


@dataclasses.dataclass
class Episode:
    """One episode as a token sequence. ``mask`` is 1 exactly on the tokens the policy produced."""

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

    ``system``, if given, opens every episode as a system message.

    The pieces come from rendering the template itself: the opening prompt, the text that closes
    an assistant reply (``<|im_end|>\\n`` in ChatML) and each new user turn up to the generation
    prompt. ``stop_id`` is the closing's first token, the end of a reply.
    """

    def __init__(self, tokenizer, system: str | None = None, drop_instructions: bool = False):
        self.tokenizer = tokenizer
        self.system = system
        self.drop_instructions = drop_instructions
        head = [{"role": "system", "content": system}] if system else []
        render = lambda messages, prompt: tokenizer.apply_chat_template(  # noqa: E731
            head + messages, tokenize=False, add_generation_prompt=prompt
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

    def encode(self, text: str) -> list[int]:
        return self.tokenizer.encode(text, add_special_tokens=False)

    def first(self, observation: str, instructions: str = "") -> list[int]:
        """The prompt of turn 0: the first observation as a user turn, then the generation prompt.

        With ``drop_instructions`` the leading ``instructions`` (the same for every task of a
        family, so no information to a model trained from scratch) are cut from the observation.
        """
        if self.drop_instructions and instructions and observation.startswith(instructions):
            observation = observation[len(instructions) :].lstrip()
        return self.encode(self._render([{"role": "user", "content": observation}], True))

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
        return self.tokenizer.decode(list(reply_ids), skip_special_tokens=True).strip()


def start_episode(env, codec: ChatCodec, task_seed: int, group: int) -> Episode:
    observation, info = env.reset(seed=task_seed, options={"task_seed": task_seed})
    prompt = codec.first(observation, info.get("instructions", ""))
    return Episode(env, group, list(prompt), [0] * len(prompt), [-1] * len(prompt), [0.0] * len(prompt))


def take_turn(episode: Episode, codec: ChatCodec, reply_ids: list[int], logprobs: list[float], max_tokens: int) -> None:
    """Append a reply, step the env with its decoding, append the observation unless the episode ended."""
    turn = len(episode.rewards)
    episode.ids += reply_ids
    episode.mask += [1] * len(reply_ids)
    episode.turn += [turn] * len(reply_ids)
    episode.logprobs += logprobs
    episode.replies.append(list(reply_ids))
    observation, reward, terminated, truncated, info = episode.env.step(codec.decode(reply_ids))
    episode.rewards.append(float(reward))
    episode.statuses.append(info["action_status"])
    episode.outcome = info["outcome"]
    episode.done = terminated or truncated
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
) -> list[Episode]:
    """Play one episode per ``(env, task_seed, group)`` slot; up to ``batch_size`` play together."""
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
        )
    return episodes


def play_batch(
    model,
    codec: ChatCodec,
    episodes: list[Episode],
    max_new_tokens: int,
    generator=None,
    greedy: bool = False,
    temperature: float = 1.0,
    max_tokens: int = 2048,
) -> None:
    """Play ``episodes`` to the end, turn-synchronously, with one KV cache kept across turns.

    Each turn feeds every live episode the tokens its cache lacks (the last reply token and the new
    observation), left-padded into one chunk; padding and the tokens fed for rows that already
    stopped are masked out, and position ids count only real tokens. Finished episodes leave the
    cache. Log-probabilities are the policy's own (untempered), whatever ``temperature`` sampled.
    """
    import torch

    device = next(model.parameters()).device
    pad_id = codec.tokenizer.pad_token_id
    stops = torch.tensor(sorted(codec.stop_ids), device=device)
    live = list(episodes)
    cache, attention = None, torch.zeros((len(live), 0), dtype=torch.long, device=device)
    cached = torch.zeros(len(live), dtype=torch.long, device=device)  # real tokens each row has in the cache
    with torch.no_grad():
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
                    probs = torch.softmax(logits / temperature, dim=-1)
                    token = torch.multinomial(probs.cpu(), 1, generator=generator).squeeze(1).to(device)
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
                take_turn(episode, codec, reply, logprob, max_tokens)


def oracle_episode(
    env, codec: ChatCodec, task_seed: int, noise: float, rng: random.Random, max_tokens: int = 2048
) -> Episode:
    """An episode written by the oracle, with a random admissible command instead w.p. ``noise``."""
    episode = start_episode(env, codec, task_seed, 0)
    format_command = presentation_of(env).format_command
    while not episode.done:
        base = env.unwrapped
        command = rng.choice(base.admissible_commands()) if rng.random() < noise else base.oracle_action()
        reply = codec.reply(format_command(command))
        take_turn(episode, codec, reply, [0.0] * len(reply), max_tokens)
    return episode
