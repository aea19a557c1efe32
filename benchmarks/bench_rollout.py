"""Batched turn-synchronous rollout vs per-episode generation, in generated tokens per second.

Plays the same 16 TextCraft episodes (same task seeds, same turn limit, same per-turn token limit)
three ways with the tiny ~1M-parameter model, one CPU thread. As in the trainer with the tiny
model, the rules text opening the first observation is dropped (``--keep-instructions`` keeps it):

- batched: ``rollout.rollout`` with all 16 episodes generating together (KV cache across turns);
- per-episode, same loop: ``rollout.rollout`` one episode at a time (batch of 1);
- per-episode ``generate``: one Hugging Face ``model.generate`` call per episode per turn on the
  episode's whole history, the usual naive loop.

Run: ``python benchmarks/bench_rollout.py [--episodes 16] [--repeats 5] [--keep-instructions]``
"""

from __future__ import annotations

import argparse
import tempfile
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--max-new-tokens", type=int, default=24)
    parser.add_argument("--max-turns", type=int, default=4)
    parser.add_argument("--keep-instructions", action="store_true", help="keep the rules text in the first prompt")
    options = parser.parse_args()

    import gymnasium as gym
    import torch
    from transformers.utils import logging

    import llm_gym  # noqa: F401
    from llm_gym.baselines.rollout import ChatCodec, rollout, start_episode, take_turn
    from llm_gym.baselines.tiny import build_tiny, env_corpus, load_policy

    torch.set_num_threads(1)
    logging.disable_progress_bar()
    make = lambda: gym.make("llm_gym/TextCraft-v0", difficulty="easy", max_turns=options.max_turns)  # noqa: E731
    path = build_tiny(tempfile.mkdtemp(), env_corpus([make()], 300, seed=0), seed=0)
    model, tokenizer = load_policy(path)
    model.eval()
    codec = ChatCodec(tokenizer, drop_instructions=not options.keep_instructions)  # the trainer drops them for tiny
    envs = [make() for _ in range(options.episodes)]
    seeds = list(range(options.episodes))
    print(
        f"model: {sum(p.numel() for p in model.parameters()) / 1e6:.2f}M parameters, vocabulary {len(tokenizer)}; "
        f"{options.episodes} episodes x {options.max_turns} turns, <= {options.max_new_tokens} new tokens a turn, "
        f"instructions {'kept' if options.keep_instructions else 'dropped'}"
    )

    def batched(batch_size: int) -> int:
        generator = torch.Generator().manual_seed(0)
        slots = [(env, seed, seed) for env, seed in zip(envs, seeds)]
        episodes = rollout(model, codec, slots, options.max_new_tokens, generator, batch_size=batch_size)
        return sum(sum(e.mask) for e in episodes)

    def per_episode_generate() -> int:
        tokens = 0
        with torch.random.fork_rng():  # generate() samples from torch's global RNG
            torch.manual_seed(0)
            for env, seed in zip(envs, seeds):
                episode = start_episode(env, codec, seed, 0)
                while not episode.done:
                    ids = torch.tensor([episode.ids])
                    with torch.no_grad():
                        out = model.generate(
                            ids,
                            attention_mask=torch.ones_like(ids),
                            do_sample=True,
                            max_new_tokens=options.max_new_tokens,
                            eos_token_id=sorted(codec.stop_ids),
                            pad_token_id=tokenizer.pad_token_id,
                            top_k=None,
                            top_p=None,
                        )
                    reply = out[0, ids.shape[1] :].tolist()
                    take_turn(episode, codec, reply, [0.0] * len(reply), 2048)
                    tokens += len(reply)
        return tokens

    runs = {
        f"batched ({options.episodes} together)": lambda: batched(options.episodes),
        "per-episode, same KV-cache loop": lambda: batched(1),
        "per-episode model.generate": per_episode_generate,
    }
    rates = {name: 0.0 for name in runs}
    for _ in range(options.repeats):  # interleaved, so a burst of load on the shared VM hits every method
        for name, run in runs.items():
            started = time.perf_counter()
            tokens = run()
            rates[name] = max(rates[name], tokens / (time.perf_counter() - started))
    for name, rate in rates.items():
        print(f"{name:38s} {rate:9.0f} generated tokens/s (best of {options.repeats})")
    first = next(iter(rates))
    for name in list(rates)[1:]:
        print(f"speed-up of batched over {name}: {rates[first] / rates[name]:.1f}x")


if __name__ == "__main__":
    main()
