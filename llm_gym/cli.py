"""The ``llm-gym`` command: list, describe, play and evaluate environments.

llm-gym list
llm-gym describe llm_gym/TextCraft-v0
llm-gym play TextCraft --difficulty hard --theme cooking --seed 3
llm-gym eval --agent random oracle --env TextCraft --difficulty easy hard --episodes 20 --out runs/eval
llm-gym cards --env TextCraft --seeds 500 --out runs/cards
llm-gym serve TextCraft --difficulty easy --port 8000 --max-sessions 64
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import gymnasium as gym

import llm_gym
from llm_gym.registry import describe, env_class, env_ids, resolve_id

if TYPE_CHECKING:
    from llm_gym.baselines.cells import Cell


def cmd_list(args: argparse.Namespace) -> int:
    from llm_gym import multiagent

    rows = [("id", "presets", "themes")]
    for env_id in env_ids():
        cls = env_class(env_id)
        rows.append((env_id, ", ".join(cls.presets), ", ".join(cls.themes)))
    for game_id in multiagent.env_ids():
        description = multiagent.describe(game_id)
        rows.append(
            (
                f"{game_id} (multi-agent)",
                ", ".join(description.get("presets", {})),
                ", ".join(description.get("themes", [])),
            )
        )
    width = max(len(row[0]) for row in rows)
    presets_width = max(len(row[1]) for row in rows)
    for env_id, presets, themes in rows:
        print(f"{env_id.ljust(width)}  {presets.ljust(presets_width)}  {themes}")
    return 0


def cmd_describe(args: argparse.Namespace) -> int:
    from llm_gym import multiagent

    if _is_multiagent(args.env):
        print(json.dumps(multiagent.describe(args.env), indent=2, default=str))
    else:
        print(json.dumps(describe(args.env), indent=2))
    return 0


def _is_multiagent(name: str) -> bool:
    from llm_gym import multiagent

    try:
        multiagent.resolve_id(name)
    except ValueError:
        return False
    return True


def play(
    env: gym.Env, seed: int | None, read: Callable[[str], str] = input, write: Callable[[str], None] = print
) -> str:
    """Let a person play ``env`` in the terminal; returns the final outcome (or ``"quit"``).

    ``help`` repeats the instructions and lists the admissible actions; ``quit`` leaves.
    """
    observation, info = env.reset(seed=seed)
    write(observation)
    total = 0.0
    while True:
        try:
            text = read("> ")
        except EOFError:
            return "quit"
        command = text.strip().lower()
        if command == "quit":
            write("Bye.")
            return "quit"
        if command == "help":
            write(info["instructions"])
            if info["admissible_actions"]:
                write("Admissible actions: " + ", ".join(info["admissible_actions"]))
            continue
        observation, reward, terminated, truncated, info = env.step(text)
        total += float(reward)
        write(observation)
        if info["action_status"] != "ok":
            write(f"[{info['action_status']}] (type 'help' for the commands)")
        if reward:
            write(f"[reward {reward:+g}, total {total:g}]")
        if terminated or truncated:
            write(f"Episode over: {info['outcome']} in {info['turn']} turns (optimal: {info['optimal_steps']}).")
            return info["outcome"]


def cmd_play(args: argparse.Namespace) -> int:
    kwargs = {"difficulty": args.difficulty} if args.difficulty else {}
    if args.theme:
        kwargs["theme"] = args.theme
    if _is_multiagent(args.env):
        from llm_gym import multiagent
        from llm_gym.multiagent.play import play_hot_seat

        description = multiagent.describe(args.env)
        for key, allowed in (
            ("difficulty", description.get("presets") or {}),
            ("theme", description.get("themes") or []),
        ):
            if key in kwargs and kwargs[key] not in allowed:
                raise ValueError(f"Unknown {key} {kwargs[key]!r} for {description['id']}; allowed: {list(allowed)}")
        game = multiagent.make(args.env, **kwargs)
        bots = None
        if args.seat:
            seats = list(game.possible_agents)
            if args.seat not in seats:
                raise ValueError(f"Unknown seat {args.seat!r} for {description['id']}; allowed: {seats}")
            bots = {seat: policy for seat, policy in multiagent.default_policies(game).items() if seat != args.seat}
        play_hot_seat(game, read=input, write=print, seed=args.seed, bots=bots)
        return 0
    if args.interface or args.semantics:
        from llm_gym.wrappers import make

        env = make(resolve_id(args.env), interface=args.interface, semantics=args.semantics, **kwargs)
    else:
        env = gym.make(resolve_id(args.env), **kwargs)
    play(env, args.seed)
    env.close()
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from llm_gym.baselines.cells import Cell
    from llm_gym.baselines.evaluation import evaluate, format_table

    ids = [resolve_id(name) for name in args.env] if args.env else env_ids()
    cells: list[Cell] = []
    for env_id in ids:
        presets = list(env_class(env_id).presets)
        difficulties = presets if args.difficulty == ["all"] else args.difficulty
        for difficulty in difficulties:
            if difficulty not in presets:
                raise ValueError(f"Unknown difficulty preset {difficulty!r} for {env_id}; allowed: {presets}")
            for theme in args.theme or [None]:
                for interface in args.interface or [None]:
                    for semantics in args.semantics or [None]:
                        cells.extend(
                            Cell(env_id, difficulty, agent, theme, interface, semantics, args.max_turns)
                            for agent in args.agent
                        )
    options = {
        "hf": {"max_new_tokens": args.max_new_tokens},
        "endpoint": {
            "api_key_env": args.api_key_env,
            "timeout": args.timeout,
            "retries": args.retries,
            "max_concurrency": args.max_concurrency,
            "max_tokens": args.max_new_tokens,
        },
    }
    backend = None
    if args.backend == "ray":
        from llm_gym.integrations.ray import RayBackend

        backend = RayBackend(address=args.address, workers=args.workers)
    elif args.address:
        raise ValueError("--address names a Ray cluster; it needs --backend ray")
    if backend is None:
        _generate_textworld_games_in_background(cells, range(args.seed, args.seed + args.episodes))
    rows = evaluate(
        cells,
        args.episodes,
        args.out,
        seed=args.seed,
        progress=not args.quiet,
        agent_options=options,
        workers=args.workers or 1,
        batch_size=args.batch_size,
        backend=backend,
    )
    print(format_table(rows))
    print(f"\nWrote {args.out}/episodes.jsonl and {args.out}/summary.csv")
    return 0


def _generate_textworld_games_in_background(cells: Sequence[Cell], episode_seeds: range) -> None:
    """Start making the TextWorld games the cells will play, one process per core, while the
    other cells are evaluated (TextWorld's come last): a first run with an empty cache would
    otherwise wait for them one by one. Their envs wait for a game still being made."""
    import importlib.util

    from llm_gym.families import textworld_games

    configs: dict[textworld_games.TextWorldConfig, None] = {}  # each config once, in the cells' order
    for cell in cells:
        if cell.env_id == "llm_gym/TextWorld-v0":
            env = cell.make_env()
            configs[env.unwrapped.config] = None
            env.close()
    if configs and importlib.util.find_spec("textworld") is not None:
        textworld_games.generate_games_in_background(list(configs), episode_seeds)


def cmd_split(args: argparse.Namespace) -> int:
    from llm_gym.baselines.cells import Cell
    from llm_gym.baselines.splits import save_split, split_by_goal, split_by_reference

    cell = Cell(resolve_id(args.env), args.difficulty, args.agent, args.theme, args.interface, args.semantics)
    seeds = list(range(args.seed, args.seed + args.tasks))
    if args.by == "goal":
        split = split_by_goal(cell, seeds, test_share=args.test_share, seed=args.seed)
        summary = (
            f"{len(split['train'])} train and {len(split['test'])} test task seeds over {len(split['goals'])} goals"
        )
    else:
        split = split_by_reference(cell, seeds, samples=args.samples, threshold=args.threshold)
        summary = f"{len(split['easy'])} easy and {len(split['hard'])} hard task seeds by {args.agent}"
    save_split(split, args.out)
    print(f"{summary}; wrote {args.out}")
    return 0


def cmd_cards(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from llm_gym.cards import format_markdown, measure_card, sample_episodes, write_cards

    if args.seeds < 1:
        raise ValueError(f"--seeds must be a positive integer, got {args.seeds}")
    if args.variety_seeds is not None and args.variety_seeds < 1:
        raise ValueError(f"--variety-seeds must be a positive integer, got {args.variety_seeds}")
    ids = [resolve_id(name) for name in args.env] if args.env else env_ids()
    rows, samples = [], []
    for env_id in tqdm(ids, desc="cards", disable=args.quiet):
        rows += measure_card(env_id, range(args.seed, args.seed + args.seeds), variety_seeds=args.variety_seeds)
        samples.append(sample_episodes(env_id, next(iter(env_class(env_id).presets)), seed=args.seed))
    print(format_markdown(rows))
    csv_path, markdown_path = write_cards(rows, args.out, "\n\n".join(samples))
    print(f"\nWrote {csv_path} and {markdown_path}")
    return 0


def cmd_study(args: argparse.Namespace) -> int:
    from llm_gym.baselines.study import load_study_config, run_study

    config = load_study_config(args.config, quick=args.quick, out_dir=args.out)
    print(run_study(config).read_text())
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from llm_gym.baselines.cells import Cell
    from llm_gym.integrations.openenv import serve

    cell = Cell(
        env_id=resolve_id(args.env),
        difficulty=args.difficulty,
        theme=args.theme,
        interface=args.interface,
        semantics=args.semantics,
        max_turns=args.max_turns,
    )
    serve(cell, host=args.host, port=args.port, max_sessions=args.max_sessions)
    return 0


def build_parser() -> argparse.ArgumentParser:
    from llm_gym.baselines.agents import AGENT_KINDS, BUILTIN_AGENTS

    parser = argparse.ArgumentParser(prog="llm-gym", description=llm_gym.__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"llm-gym {llm_gym.__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    commands.add_parser("list", help="list environment ids, presets and themes").set_defaults(run=cmd_list)

    describe_parser = commands.add_parser("describe", help="knobs, presets, themes and commands of an env")
    describe_parser.add_argument("env", help="an id such as llm_gym/TextCraft-v0, or a family name")
    describe_parser.set_defaults(run=cmd_describe)

    play_parser = commands.add_parser(
        "play", help="play an environment in the terminal (multi-agent games: hot seat, people take turns)"
    )
    play_parser.add_argument("env")
    play_parser.add_argument("--difficulty", help="a preset (default: the env's first)")
    play_parser.add_argument("--theme")
    play_parser.add_argument("--interface", help="an interface preset, e.g. json+tagged")
    play_parser.add_argument("--semantics", help="a semantic preset, e.g. made-up")
    play_parser.add_argument("--seed", type=int)
    play_parser.add_argument(
        "--seat", help="multi-agent games: play this seat alone, scripted policies take the others"
    )
    play_parser.set_defaults(run=cmd_play)

    eval_parser = commands.add_parser(
        "eval", help="evaluate agents over a grid of envs, presets, themes and interfaces (resumable)"
    )
    eval_parser.add_argument(
        "--agent", nargs="+", default=list(BUILTIN_AGENTS), help=f"agents: {', '.join(AGENT_KINDS)}"
    )
    eval_parser.add_argument("--env", nargs="+", help="ids or family names (default: every registered env)")
    eval_parser.add_argument("--difficulty", nargs="+", default=["all"], help="presets, or 'all' (default)")
    eval_parser.add_argument("--theme", nargs="+", help="themes (default: each env's default theme)")
    eval_parser.add_argument("--interface", nargs="+", help="interface presets, e.g. json+toolcall (default: native)")
    eval_parser.add_argument("--semantics", nargs="+", help="semantic presets, e.g. made-up (default: none)")
    eval_parser.add_argument("--max-turns", type=int, help="turn limit (default: each env's)")
    eval_parser.add_argument("--episodes", type=int, default=20)
    eval_parser.add_argument("--seed", type=int, default=0, help="first episode seed; episodes use seed..seed+N-1")
    eval_parser.add_argument("--out", default="llm-gym-eval", help="output dir; an existing run there is resumed")
    eval_parser.add_argument(
        "--backend", choices=("local", "ray"), default="local", help="where episodes run: this process, or Ray workers"
    )
    eval_parser.add_argument("--address", help="--backend ray: the cluster to join (default: start a local one)")
    eval_parser.add_argument(
        "--workers",
        type=int,
        help="local: episodes at once in threads (endpoint agents; default 1); ray: workers (default: free CPUs)",
    )
    eval_parser.add_argument("--batch-size", type=int, default=16, help="episodes generated together (hf agents)")
    eval_parser.add_argument("--max-new-tokens", type=int, default=64, help="reply length limit of model agents")
    eval_parser.add_argument("--api-key-env", default="OPENAI_API_KEY", help="variable holding the endpoint key")
    eval_parser.add_argument("--timeout", type=float, default=60.0, help="seconds per endpoint request")
    eval_parser.add_argument("--retries", type=int, default=3, help="endpoint retries per request")
    eval_parser.add_argument("--max-concurrency", type=int, default=8, help="endpoint requests in flight")
    eval_parser.add_argument("--quiet", action="store_true", help="no progress bar")
    eval_parser.set_defaults(run=cmd_eval)

    split_parser = commands.add_parser(
        "split",
        help="split task seeds: into easy and hard by a reference agent's success, or into train and test by goal",
    )
    split_parser.add_argument(
        "--by", choices=("reference", "goal"), default="reference", help="what splits the seeds (default: reference)"
    )
    split_parser.add_argument("--env", required=True)
    split_parser.add_argument("--difficulty", default="easy")
    split_parser.add_argument("--agent", default="random", help=f"the reference agent: {', '.join(AGENT_KINDS)}")
    split_parser.add_argument("--theme")
    split_parser.add_argument("--interface")
    split_parser.add_argument("--semantics")
    split_parser.add_argument("--tasks", type=int, default=100, help="task seeds seed..seed+tasks-1")
    split_parser.add_argument("--seed", type=int, default=0)
    split_parser.add_argument("--samples", type=int, default=4, help="episodes per task seed")
    split_parser.add_argument("--threshold", type=float, default=0.5, help="success rate at which a task is easy")
    split_parser.add_argument("--test-share", type=float, default=0.2, help="--by goal: share of goals held out")
    split_parser.add_argument("--out", default="split.json")
    split_parser.set_defaults(run=cmd_split)

    cards_parser = commands.add_parser(
        "cards", help="measure every preset: exact optimal steps, reference and adversarial policies' success"
    )
    cards_parser.add_argument("--env", nargs="+", help="ids or family names (default: every registered env)")
    cards_parser.add_argument("--seeds", type=int, default=500, help="task seeds per preset (default 500)")
    cards_parser.add_argument("--seed", type=int, default=0, help="first seed; presets use seed..seed+N-1")
    cards_parser.add_argument(
        "--variety-seeds", type=int, help="task seeds whose distinct goals are counted (default: --seeds)"
    )
    cards_parser.add_argument("--out", default="llm-gym-cards", help="output dir for cards.csv and cards.md")
    cards_parser.add_argument("--quiet", action="store_true", help="no progress bar")
    cards_parser.set_defaults(run=cmd_cards)

    study_parser = commands.add_parser(
        "study", help="the study: difficulty, cross-family transfer, sequential vs mixture, and the gap split"
    )
    study_parser.add_argument("--config", help="a TOML or YAML file of study settings (see docs/study.md)")
    study_parser.add_argument("--quick", action="store_true", help="a small preset that runs in minutes on a CPU")
    study_parser.add_argument("--out", help="report directory (default: the config's out_dir, runs/study)")
    study_parser.set_defaults(run=cmd_study)

    serve_parser = commands.add_parser(
        "serve", help="serve an env as an OpenEnv environment (HTTP and WebSocket, one env per session)"
    )
    serve_parser.add_argument("env", help="an id such as llm_gym/TextCraft-v0, or a family name")
    serve_parser.add_argument("--difficulty", default="easy", help="a preset (default: easy)")
    serve_parser.add_argument("--theme")
    serve_parser.add_argument("--interface", help="an interface preset, e.g. json+tagged")
    serve_parser.add_argument("--semantics", help="a semantic preset, e.g. made-up")
    serve_parser.add_argument("--max-turns", type=int, help="turn limit (default: the env's)")
    serve_parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    serve_parser.add_argument("--port", type=int, default=8000)
    serve_parser.add_argument(
        "--max-sessions", type=int, default=64, help="sessions open at once; more clients are refused (default: 64)"
    )
    serve_parser.set_defaults(run=cmd_serve)

    from llm_gym.baselines.train_cli import add_train_parser, run_train

    add_train_parser(commands).set_defaults(run=run_train)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except ValueError as error:
        print(f"llm-gym: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
