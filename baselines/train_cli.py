"""``llm-gym train``: the RFT trainer from a config file (TOML or YAML), flags, or both.

Flags override the file. Every scalar field of ``trainer.Args`` is a flag (``--warm-steps 300``,
``--no-progress``); cells are given as ``--cell`` (repeatable): an env id, or a JSON table such as
``'{"env_id": "llm_gym/TextCraft-v0", "difficulty": {"preset": "easy", "distractors": 0}}'``.

A config file holds the same keys at top level, with ``[[cells]]``, ``[[eval_cells]]``,
``[[warm_cells]]`` and ``[[phases]]`` tables (a phase is ``iterations`` and ``cells``)::

    seed = 0
    iterations = 100
    [[cells]]
    env_id = "llm_gym/TextCraft-v0"
    difficulty = { preset = "easy", distractors = 0 }
    max_turns = 4
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

SCALARS = {"int": int, "float": float, "str": str}


def _scalar_fields():
    from llm_gym.baselines.trainer import Args

    for field in dataclasses.fields(Args):
        kind = field.type if isinstance(field.type, str) else field.type.__name__
        if kind in SCALARS or kind == "bool":
            yield field.name, kind


def add_train_parser(subparsers) -> argparse.ArgumentParser:
    """Add the ``train`` subcommand to an ``argparse`` subparsers object; returns its parser."""
    parser = subparsers.add_parser(
        "train",
        help="reinforcement fine-tuning of a causal LM (or a tiny offline one) on llm-gym envs",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--config", help="a TOML (.toml) or YAML (.yaml/.yml) file of trainer settings")
    parser.add_argument(
        "--cell", action="append", dest="cell_values", metavar="CELL", help="a training cell: env id or JSON"
    )
    parser.add_argument("--eval-cell", action="append", dest="eval_cell_values", metavar="CELL", help="an eval cell")
    parser.add_argument(
        "--warm-cell", action="append", dest="warm_cell_values", metavar="CELL", help="a warm-start cell"
    )
    for name, kind in _scalar_fields():
        flag = "--" + name.replace("_", "-")
        if kind == "bool":
            parser.add_argument(flag, dest=name, action=argparse.BooleanOptionalAction, default=None)
        else:
            parser.add_argument(flag, dest=name, type=SCALARS[kind], default=None)
    return parser


def load_config(path: str | Path) -> dict[str, Any]:
    """Read a TOML or YAML config file into a dict; a clear ``ValueError`` if missing or malformed."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"config file {str(path)!r} does not exist")
    text = path.read_text()
    if path.suffix == ".toml":
        try:
            import tomllib
        except ModuleNotFoundError:  # Python 3.10
            import tomli as tomllib
        try:
            values = tomllib.loads(text)
        except tomllib.TOMLDecodeError as error:
            raise ValueError(f"config file {str(path)!r} is not valid TOML: {error}") from error
    elif path.suffix in (".yaml", ".yml"):
        try:
            import yaml
        except ModuleNotFoundError as error:
            raise ValueError(f"config file {str(path)!r} is YAML, which needs PyYAML (pip install pyyaml)") from error
        try:
            values = yaml.safe_load(text)
        except yaml.YAMLError as error:
            raise ValueError(f"config file {str(path)!r} is not valid YAML: {error}") from error
    else:
        raise ValueError(f"config file {str(path)!r} must end in .toml, .yaml or .yml")
    if not isinstance(values, dict):
        raise ValueError(f"config file {str(path)!r} must hold a table of settings at top level")
    return values


def _cell(text: str) -> Any:
    text = text.strip()
    if text.startswith("{"):
        try:
            return json.loads(text)
        except json.JSONDecodeError as error:
            raise ValueError(f"--cell {text!r} is not valid JSON: {error}") from error
    return text


def args_from_namespace(namespace: argparse.Namespace):
    """Build and validate ``trainer.Args`` from parsed flags and the optional config file."""
    from llm_gym.baselines.trainer import Args

    values = load_config(namespace.config) if namespace.config else {}
    for name, _ in _scalar_fields():
        if getattr(namespace, name, None) is not None:
            values[name] = getattr(namespace, name)
    flagged = {
        "cells": namespace.cell_values,
        "eval_cells": namespace.eval_cell_values,
        "warm_cells": namespace.warm_cell_values,
    }
    for key, given in flagged.items():
        if given:
            values[key] = [_cell(c) for c in given]
    for key in ("cells", "eval_cells", "warm_cells", "phases"):
        if key in values and not isinstance(values[key], (list, tuple)):
            raise ValueError(f"config key {key!r} must be a list, got {values[key]!r}")
    return Args.from_dict(values)


def run_train(namespace: argparse.Namespace) -> int:
    """Run the trainer; returns the exit status (2 with a message for bad input)."""
    from llm_gym.baselines.trainer import train

    try:
        args = args_from_namespace(namespace)
        summary = train(args)
    except ValueError as error:
        print(f"llm-gym train: error: {error}", file=sys.stderr)
        return 2
    final = {
        r["cell"]: {k: r[k] for k in r if k.endswith("_success")}
        for r in summary["evals"]
        if r["iteration"] == summary["iteration"]
    }
    print(
        json.dumps(
            {
                "out_dir": summary["out_dir"],
                "iteration": summary["iteration"],
                "stopped": summary["stopped"],
                "final_eval": final,
            },
            indent=1,
        )
    )
    return 0 if not summary["stopped"] or summary["stopped"].startswith("RL time limit") else 1
