"""BabyAI speed: our step and reset against minigrid's own, side by side in one run.

1. The step an agent sees (issue 19): a uniform-random policy over ``info["admissible_actions"]``
   through ``gym.make`` at each preset (the default high action level: one command may walk many
   cells), against raw minigrid's ``BabyAI-BossLevel-v0`` stepping random primitive actions; blocks
   of 10 steps of each, interleaved, so both see the same machine load. Prints the medians and
   their ratio (target <= 2 at every preset).
2. The primitive step on the same level and the same actions (action level "primitive"), raw
   ``LevelGen`` against ours, in CPU time of this thread, unwrapped and through ``gym.make``
   (target <= 1.3): ours does not ask minigrid for an image of the view, which it never reads.
3. High-level oracle episodes: time per step and per primitive action run.
4. Reset on fresh task seeds (task generation: the level, then the exact optimum by A* search,
   or minigrid's bot where the search runs out of budget) against minigrid's own reset of the
   same level kwargs and of BossLevel (target: ours <= 3x BossLevel).

The load average is printed first: on a shared machine, read the ratios, not the times.

Run: python benchmarks/bench_babyai.py [--rounds 15] [--steps 200] [--resets 30] [--blocks 150]
     python benchmarks/bench_babyai.py --difficulty random easy medium hard expert 500
     python benchmarks/bench_babyai.py --corrected 50
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import random
import statistics
import time

import gymnasium as gym

import llm_gym  # noqa: F401  (registers the families)
from llm_gym.families.babyai import PRESETS, PRIMITIVE_COMMANDS


def admissible_step_ratio(blocks: int, block: int = 10) -> dict[str, dict[str, float]]:
    """Median step times of a uniform-random admissible policy through ``gym.make`` at each preset
    (task seeds 0-7 in turn, so resets do not generate), and of raw BossLevel on random primitive
    actions, in interleaved blocks of ``block`` steps; per preset the ratio of the medians."""
    import minigrid  # noqa: F401  (registers BabyAI-BossLevel-v0)

    raw = gym.make("BabyAI-BossLevel-v0")
    chooser = random.Random(0)
    with contextlib.redirect_stdout(io.StringIO()):
        raw.reset(seed=0)
    envs = {preset: gym.make("llm_gym/BabyAI-v0", difficulty=preset) for preset in PRESETS}
    infos = {preset: env.reset(options={"task_seed": 0})[1] for preset, env in envs.items()}
    episodes = dict.fromkeys(PRESETS, 0)
    raw_times: list[float] = []
    times: dict[str, list[float]] = {preset: [] for preset in PRESETS}
    clock = time.perf_counter
    for index in range(blocks):
        for _ in range(block):
            start = clock()
            _, _, terminated, truncated, _ = raw.step(chooser.randrange(6))
            raw_times.append(clock() - start)
            if terminated or truncated:
                with contextlib.redirect_stdout(io.StringIO()):
                    raw.reset(seed=index)
        for preset, env in envs.items():
            for _ in range(block):
                action = chooser.choice(infos[preset]["admissible_actions"])
                start = clock()
                _, _, terminated, truncated, infos[preset] = env.step(action)
                times[preset].append(clock() - start)
                if terminated or truncated:
                    episodes[preset] += 1
                    infos[preset] = env.reset(options={"task_seed": episodes[preset] % 8})[1]
    raw_us = statistics.median(raw_times) * 1e6
    return {preset: {"ours_us": statistics.median(values) * 1e6, "raw_us": raw_us} for preset, values in times.items()}


def legal_walk(env, steps: int, task_seed: int) -> list[int]:
    """Primitive action indices of a random walk over admissible primitive commands that stops
    short of ending the episode (a finished episode steps no engine, so it would flatter us)."""
    rng = random.Random(task_seed)
    write = env.unwrapped.grammar.render
    env.reset(options={"task_seed": task_seed})
    walk: list[int] = []
    while len(walk) < steps:
        history = list(env.unwrapped._game.history)
        command = rng.choice(env.unwrapped.admissible_commands())
        _, _, terminated, truncated, _ = env.step(write(command))
        if terminated or truncated:  # replay the walk so far, and try another action
            env.reset(options={"task_seed": task_seed})
            for action in walk:
                env.step(write(PRIMITIVE_COMMANDS[action]))
            continue
        assert env.unwrapped._game.history == history + [PRIMITIVE_COMMANDS.index(command)]
        walk.append(PRIMITIVE_COMMANDS.index(command))
    return walk


def compare(preset: str, rounds: int, steps: int, wrapped: bool, block: int = 10) -> dict[str, float]:
    """Raw and our env walk the same actions in lockstep, block by block, so both see the same
    machine load; returns median per-step times and the median of the per-block ratios."""
    from minigrid.envs.babyai.core.levelgen import LevelGen

    difficulty = {"preset": preset, "action_level": "primitive"}
    env = gym.make("llm_gym/BabyAI-v0", difficulty=difficulty, max_turns=100_000)
    task_seed = 7
    walk = legal_walk(env, steps, task_seed)
    texts = [env.unwrapped.grammar.render(PRIMITIVE_COMMANDS[a]) for a in walk]
    level_seed = env.unwrapped.task.level_seed
    kwargs = env.unwrapped.config.level_kwargs()
    raw = gym.make("BabyAI-BossLevel-v0", **kwargs) if wrapped else LevelGen(**kwargs)
    ours = env if wrapped else env.unwrapped
    raw_times, our_times, ratios = [], [], []
    clock = time.thread_time  # CPU time of this thread: other processes on a shared machine do not count
    for _ in range(rounds):
        with contextlib.redirect_stdout(io.StringIO()):
            raw.reset(seed=level_seed)
        ours.reset(options={"task_seed": task_seed})
        for start in range(0, len(walk), block):
            begin = clock()
            for action in walk[start : start + block]:
                raw.step(action)
            middle = clock()
            for text in texts[start : start + block]:
                ours.step(text)
            end = clock()
            count = len(walk[start : start + block])
            raw_times.append((middle - begin) / count)
            our_times.append((end - middle) / count)
            ratios.append((end - middle) / (middle - begin))
    return {
        "steps": len(walk),
        "raw_us": statistics.median(raw_times) * 1e6,
        "ours_us": statistics.median(our_times) * 1e6,
        "ratio": statistics.median(ratios),
    }


def high_level(preset: str, episodes: int) -> dict[str, float]:
    """Oracle episodes at the high action level: time per step and per primitive action run."""
    env = gym.make("llm_gym/BabyAI-v0", difficulty=preset)
    steps = primitives = 0
    elapsed = 0.0
    for seed in range(episodes):
        env.reset(seed=seed)
        done = False
        while not done:
            command = env.unwrapped.oracle_action()
            text = env.unwrapped.format_command(command)
            before = len(env.unwrapped._game.history)
            start = time.perf_counter()
            _, _, terminated, truncated, _ = env.step(text)
            elapsed += time.perf_counter() - start
            primitives += len(env.unwrapped._game.history) - before
            steps += 1
            done = terminated or truncated
    return {"step_ms": elapsed / steps * 1e3, "per_primitive_us": elapsed / primitives * 1e6}


def resets(preset: str, count: int) -> dict[str, float]:
    """Median reset times: ours on fresh seeds (task generation: the level and its optimum), and
    minigrid's own reset of the same level kwargs and of BossLevel, wall clock, interleaved."""
    from minigrid.envs.babyai.core.levelgen import LevelGen

    env = gym.make("llm_gym/BabyAI-v0", difficulty=preset)
    raw = LevelGen(**env.unwrapped.config.level_kwargs())
    boss = gym.make("BabyAI-BossLevel-v0").unwrapped
    ours, same, bosses, exact = [], [], [], 0
    for seed in range(count):
        start = time.perf_counter()
        _, info = env.reset(seed=seed)
        middle = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            raw.reset(seed=seed)
            later = time.perf_counter()
            boss.reset(seed=seed)
        end = time.perf_counter()
        ours.append(middle - start)
        same.append(later - middle)
        bosses.append(end - later)
        exact += info["optimal_exact"]
    return {
        "ours_ms": statistics.median(ours) * 1e3,
        "raw_ms": statistics.median(same) * 1e3,
        "boss_ms": statistics.median(bosses) * 1e3,
        "max_ms": max(ours) * 1e3,
        "exact": exact / count,
    }


def difficulty(policy_name: str, preset: str, seeds: int) -> dict:
    """A reference policy's success over ``seeds`` seeds (as ``check_reference_difficulty`` counts
    it), with the mean ``optimal_steps``, the share exact and the median reset time."""
    from llm_gym.policies import GreedyOverlap, UniformRandom, play

    policy = {"random": UniformRandom, "greedy": GreedyOverlap}[policy_name]()
    env = gym.make("llm_gym/BabyAI-v0", difficulty=preset)
    wins, steps, exact, times = 0, [], 0, []
    for seed in range(seeds):
        start = time.perf_counter()
        _, info = env.reset(seed=seed)
        times.append(time.perf_counter() - start)
        steps.append(info["optimal_steps"])
        exact += info["optimal_exact"]
        wins += play(env, policy, seed)["outcome"] == "success"  # resets again: the task is remembered
    rate = wins / seeds
    return {
        "policy": policy.name,
        "preset": preset,
        "seeds": seeds,
        "success": rate,
        "stderr": (rate * (1 - rate) / seeds) ** 0.5,
        "mean_optimal": sum(steps) / seeds,
        "exact": exact / seeds,
        "reset_median_ms": statistics.median(times) * 1e3,
    }


def corrected(preset: str, seeds: int) -> dict:
    """On the first ``seeds`` seeds: how often the optimum is shorter than minigrid's bot's plan."""
    from llm_gym.families.babyai import _bot_plan, _default_max_turns, _Game, generate_task

    config = PRESETS[preset]
    limit = _default_max_turns(config) * 2 // 3
    shorter = failed = exact = 0
    for seed in range(seeds):
        task = generate_task(seed, config, "default")
        plan = _bot_plan(_Game(config, "default", task.level_seed), limit)
        exact += task.optimal_exact
        failed += plan is None
        shorter += plan is not None and len(plan) > task.optimal_steps
    return {"preset": preset, "seeds": seeds, "shorter_than_bot": shorter, "bot_failed": failed, "exact": exact}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--resets", type=int, default=30)
    parser.add_argument("--blocks", type=int, default=150, help="blocks of 10 steps for the admissible-step ratio")
    parser.add_argument(
        "--difficulty",
        nargs="+",
        metavar="POLICY PRESET... SEEDS",
        help="only measure a reference policy's success instead: random|greedy, presets, seeds",
    )
    parser.add_argument("--corrected", type=int, metavar="SEEDS", help="only count optima shorter than the bot's plan")
    args = parser.parse_args()
    if args.difficulty:
        policy, *presets, seeds = args.difficulty
        for preset in presets:
            print(difficulty(policy, preset, int(seeds)), flush=True)
        return
    if args.corrected:
        for preset in PRESETS:
            print(corrected(preset, args.corrected), flush=True)
        return
    print(f"load average {' '.join(f'{load:.2f}' for load in os.getloadavg())} on {os.cpu_count()} cores")
    print("step with the admissible list: random admissible policy via gym.make vs raw BossLevel, random primitives")
    for preset, row in admissible_step_ratio(args.blocks).items():
        ratio = row["ours_us"] / row["raw_us"]
        print(
            f"  {preset:7s} ours={row['ours_us']:7.1f} us raw={row['raw_us']:7.1f} us ratio={ratio:.2f} (target <= 2)"
        )
    print("primitive step, ours vs minigrid's, same level and actions (median of per-block ratios)")
    for wrapped in (False, True):
        label = "gym.make" if wrapped else "unwrapped"
        for preset in PRESETS:
            row = compare(preset, args.rounds, args.steps, wrapped)
            print(
                f"  {label:9s} {preset:7s} steps={row['steps']:4d} raw={row['raw_us']:7.1f} us "
                f"ours={row['ours_us']:7.1f} us ratio={row['ratio']:.3f}"
            )
    print("high-level oracle episodes (go to / pick up / go through expand into several primitives)")
    for preset in PRESETS:
        row = high_level(preset, 5)
        print(f"  {preset:7s} {row['step_ms']:6.2f} ms/step, {row['per_primitive_us']:6.1f} us per primitive run")
    print("reset, median over fresh seeds (task generation searches for the optimum), vs minigrid's reset")
    for preset in PRESETS:
        row = resets(preset, args.resets)
        print(
            f"  {preset:7s} ours={row['ours_ms']:7.1f} ms (max {row['max_ms']:6.0f}) raw same level={row['raw_ms']:5.1f} ms "
            f"raw BossLevel={row['boss_ms']:5.1f} ms ratio={row['ours_ms'] / row['boss_ms']:5.1f} (target <= 3) "
            f"exact={row['exact']:.2f}"
        )


if __name__ == "__main__":
    main()
