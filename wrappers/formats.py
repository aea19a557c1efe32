"""Pure renderers of views and writers/readers of actions, independent of any environment.

These are the single declaration behind every interface wrapper (and usable on their own, for
example by multi-agent games): a view (the JSON-ready dict of ``info["view"]``) is rendered in an
observation format, and a ``Command`` is written in, and read back from, an action format, with
the instruction text derived from the same family ``Grammar`` the reader uses.

Observation formats: ``prose`` (the family's own renderer, passed as ``prose=``), ``json``,
``markdown``, ``kv`` (key-value). Action formats: ``native``, ``react`` (``Thought: ...`` then
``Action: ...``), ``tagged`` (``<action>...</action>``), ``toolcall`` (a JSON tool call against
the OpenAI-style schemas of ``Grammar.tool_schemas()``), ``index`` (the number of a listed action,
1-based) and ``discrete`` (a 0-based integer, for ``gymnasium.spaces.Discrete``).

Example:
    >>> from llm_gym.grammar import Arg, Command, CommandSpec, Grammar
    >>> grammar = Grammar([CommandSpec("get", "get {count} {item}", (Arg("count", "int"), Arg("item", "name"))),
    ...                    CommandSpec("inventory", "inventory")])
    >>> command = Command("get", (2, "oak log"))
    >>> format_action(command, grammar, "tagged")
    '<action>get 2 oak log</action>'
    >>> format_action(command, grammar, "toolcall")
    '{"name": "get", "arguments": {"count": 2, "item": "oak log"}}'
    >>> parse_action('Thought: I need wood.\\nAction: get 2 oak log', grammar, "react")
    Command(verb='get', args=(2, 'oak log'))
    >>> parse_action("3", grammar, "index", actions=[command])
    ParseError(message='There is no action numbered 3; reply with a number from 1 to 1.')
    >>> print(render_view({"feedback": "Got 2 oak log.", "goal": "stick"}, "kv"))
    feedback: Got 2 oak log.
    goal: stick
"""

from __future__ import annotations

import json
import operator
import re
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from llm_gym.grammar import Command, Grammar, ParseError

OBSERVATION_FORMATS = ("prose", "json", "markdown", "kv")
ACTION_FORMATS = ("native", "react", "tagged", "toolcall", "index", "discrete")
DEFAULT_THOUGHT = "I choose the next command."

_ACTION_LINE = re.compile(r"^\s*action\s*:\s*(.*?)\s*$", re.IGNORECASE | re.MULTILINE)
_TAG = re.compile(r"<action>(.*?)</action>", re.IGNORECASE | re.DOTALL)
_FENCE = re.compile(r"^```(?:json)?\s*(.*?)\s*```$", re.DOTALL)
_INDEX = re.compile(r"\s*\[?\s*(-?\d{1,9})\s*\]?\s*\.?\s*")


def check_format(fmt: str, allowed: tuple[str, ...], what: str) -> str:
    """Return ``fmt`` if it is one of ``allowed``; raise a ``ValueError`` naming both otherwise."""
    if fmt not in allowed:
        raise ValueError(f"Unknown {what} {fmt!r}; allowed: {list(allowed)}")
    return fmt


# ----- observations --------------------------------------------------------------------------


def render_view(
    view: dict[str, Any],
    fmt: str,
    *,
    first: bool = False,
    prose: Callable[[dict[str, Any], bool], str] | None = None,
) -> str:
    """Render a structured view as text in ``fmt``.

    ``prose`` is the family's own renderer (``env.unwrapped.render_view``), required for
    ``"prose"``. Empty values (``""``, ``[]``, ``{}``, ``None``) are left out of ``markdown`` and
    ``kv`` as the prose leaves them out; ``json`` shows the view exactly.
    """
    check_format(fmt, OBSERVATION_FORMATS, "observation format")
    if fmt == "prose":
        if prose is None:
            raise ValueError("render_view(..., 'prose') needs the family's renderer: prose=env.unwrapped.render_view")
        return prose(view, first)
    if fmt == "json":
        return json.dumps(view, indent=2)
    if fmt == "markdown":
        return "\n\n".join(_markdown_section(key, value) for key, value in view.items() if not _empty(value))
    return "\n".join(line for key, value in view.items() for line in _kv_lines(key, value))


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def _scalar(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    return str(value)


def _markdown_section(key: str, value: Any) -> str:
    return f"### {key}\n" + "\n".join(_markdown_lines(value, 0))


def _markdown_lines(value: Any, depth: int) -> list[str]:
    pad = "  " * depth
    if isinstance(value, dict):
        lines = []
        for key, item in value.items():
            if _empty(item):
                continue
            if isinstance(item, (dict, list)):
                lines.append(f"{pad}- **{key}:**")
                lines.extend(_markdown_lines(item, depth + 1))
            else:
                lines.extend(_markdown_text(f"{pad}- **{key}:** ", _scalar(item), pad + "  "))
        return lines
    if isinstance(value, list):
        lines = []
        for item in value:
            if isinstance(item, (dict, list)):
                lines.append(f"{pad}-")
                lines.extend(_markdown_lines(item, depth + 1))
            else:
                lines.extend(_markdown_text(f"{pad}- ", _scalar(item), pad + "  "))
        return lines
    return _markdown_text(pad, _scalar(value), pad) if depth else _scalar(value).split("\n")


def _markdown_text(prefix: str, text: str, pad: str) -> list[str]:
    first, *rest = text.split("\n")
    return [prefix + first] + [pad + line for line in rest]


def _kv_lines(path: str, value: Any) -> list[str]:
    if _empty(value):
        return []
    if isinstance(value, dict):
        return [line for key, item in value.items() for line in _kv_lines(f"{path}.{key}", item)]
    if isinstance(value, list):
        return [line for index, item in enumerate(value, 1) for line in _kv_lines(f"{path}[{index}]", item)]
    first, *rest = _scalar(value).split("\n")
    return [f"{path}: {first}"] + [f"  {line}" for line in rest]


# ----- actions -------------------------------------------------------------------------------


def _native(action: Command | str, grammar: Grammar) -> str:
    return action if isinstance(action, str) else grammar.render(action)


def format_action(
    command: Command | str,
    grammar: Grammar,
    fmt: str,
    *,
    actions: Sequence[Command | str] | None = None,
    thought: str = DEFAULT_THOUGHT,
) -> str | int:
    """Write ``command`` (a ``Command`` or its native text) as an agent must write it in ``fmt``.

    ``index`` and ``discrete`` need ``actions``, the listed actions (``Command``s or their native
    text), and give ``command``'s position among them (a string from 1, an int from 0).
    """
    check_format(fmt, ACTION_FORMATS, "action format")
    native = _native(command, grammar)
    if fmt == "native":
        return native
    if fmt == "react":
        return f"Thought: {thought}\nAction: {native}"
    if fmt == "tagged":
        return f"<action>{native}</action>"
    if fmt == "toolcall":
        command = grammar.parse(native) if isinstance(command, str) else command
        if isinstance(command, ParseError):
            raise ValueError(f"{native!r} is not a command of this grammar: {command.message}")
        return json.dumps({"name": grammar.spec(command.verb).tool_name, "arguments": grammar.to_arguments(command)})
    listed = [_native(action, grammar) for action in _require_actions(actions, fmt)]
    if native not in listed:
        raise ValueError(f"{native!r} is not among the listed actions, so it has no {fmt} form")
    position = listed.index(native)
    return position if fmt == "discrete" else str(position + 1)


def _require_actions(actions: Sequence | None, fmt: str) -> Sequence:
    if actions is None:
        raise ValueError(f"The {fmt!r} action format needs the listed actions: actions=[...]")
    return actions


def action_payload(
    text: Any, grammar: Grammar, fmt: str, *, actions: Sequence[Command | str] | None = None
) -> str | ParseError:
    """Read the native command text out of an action written in ``fmt`` (not yet parsed)."""
    check_format(fmt, ACTION_FORMATS, "action format")
    if fmt == "discrete":
        return _choose(text, _require_actions(actions, fmt), grammar, base=0)
    if not isinstance(text, str):
        return ParseError(f"Expected a text action, got {type(text).__name__}.")
    if fmt == "native":
        return text
    if fmt == "react":
        lines = _ACTION_LINE.findall(text)
        if not lines or not lines[-1]:
            return ParseError(
                'Could not find the action. Reply as "Thought: <your reasoning>" then "Action: <command>".'
            )
        return lines[-1]
    if fmt == "tagged":
        tags = _TAG.findall(text)
        if len(tags) != 1:
            found = "no" if not tags else str(len(tags))
            return ParseError(f"Found {found} <action> tags; write exactly one command as <action>command</action>.")
        return tags[0]
    if fmt == "toolcall":
        command = _read_tool_call(text, grammar)
        return command if isinstance(command, ParseError) else grammar.render(command)
    match = _INDEX.fullmatch(text)
    if match is None:
        return ParseError("Reply with the number of one of the listed actions, and nothing else.")
    return _choose(int(match.group(1)), _require_actions(actions, fmt), grammar, base=1)


def _choose(choice: Any, actions: Sequence[Command | str], grammar: Grammar, base: int) -> str | ParseError:
    number = _integer(choice)
    if number is None:
        return ParseError(f"Expected an action number, got {type(choice).__name__}.")
    position = number - base
    if not 0 <= position < len(actions):
        return ParseError(
            f"There is no action numbered {number}; reply with a number from {base} to {len(actions) - 1 + base}."
        )
    return _native(actions[position], grammar)


def _integer(value: Any) -> int | None:
    """``value`` as an int when it is an integer scalar (Python, numpy, a 0-d array or tensor)."""
    if isinstance(value, (bool, np.bool_)) or "bool" in str(getattr(value, "dtype", "")):
        return None
    try:
        return operator.index(value)
    except TypeError:
        return None


def _read_tool_call(text: str, grammar: Grammar) -> Command | ParseError:
    usage = 'Reply with one JSON tool call: {"name": <tool>, "arguments": {...}}.'
    body = text.strip()
    fenced = _FENCE.match(body)
    if fenced:
        body = fenced.group(1)
    try:
        call = json.loads(body)
    except ValueError:
        return ParseError(f"Could not read a JSON object. {usage}")
    if isinstance(call, dict) and call.get("type") == "function" and isinstance(call.get("function"), dict):
        call = call["function"]
    if not isinstance(call, dict) or set(call) != {"name", "arguments"} or not isinstance(call["name"], str):
        return ParseError(f"A tool call has exactly the keys name and arguments. {usage}")
    arguments = call["arguments"]
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments)
        except ValueError:
            return ParseError(f"The arguments are not a JSON object. {usage}")
    return grammar.from_arguments(call["name"], arguments)


def parse_action(
    text: Any, grammar: Grammar, fmt: str, *, actions: Sequence[Command | str] | None = None
) -> Command | ParseError:
    """Read a ``Command`` from an action written in ``fmt``; unreadable text is a ``ParseError``."""
    payload = action_payload(text, grammar, fmt, actions=actions)
    return payload if isinstance(payload, ParseError) else grammar.parse(payload)


def format_instructions(grammar: Grammar, fmt: str) -> str:
    """The command reference an agent reads for ``fmt``, derived from ``grammar``'s specs."""
    check_format(fmt, ACTION_FORMATS, "action format")
    commands = "\n".join(f"- {spec.syntax}" + (f": {spec.description}" if spec.description else "") for spec in grammar)
    if fmt == "native":
        return grammar.instructions()
    if fmt == "react":
        return (
            "Reply in two lines, exactly:\nThought: <your reasoning>\nAction: <one command>\n"
            f"Commands for the Action line:\n{commands}"
        )
    if fmt == "tagged":
        return (
            "Write exactly one command between <action> and </action>, for example "
            f"<action>{grammar.specs[0].syntax}</action>. Text outside the tags is ignored.\n"
            f"Commands:\n{commands}"
        )
    if fmt == "toolcall":
        example = {"name": grammar.specs[0].tool_name, "arguments": _example_arguments(grammar.specs[0])}
        tools = "\n".join(json.dumps(schema) for schema in grammar.tool_schemas())
        return (
            "Reply with exactly one tool call, a JSON object with a name and its arguments, "
            f"for example {json.dumps(example)}.\nTools (OpenAI function schemas):\n{tools}"
        )
    if fmt == "index":
        return (
            "The actions you can take are listed every turn, numbered from 1. Reply with the number of "
            f"one listed action and nothing else.\nWhat the commands do:\n{commands}"
        )
    return (
        "The actions you can take are listed every turn, numbered from 0. Act with the number of one "
        f"listed action (info['action_mask'] marks them).\nWhat the commands do:\n{commands}"
    )


def _example_arguments(spec) -> dict[str, Any]:
    values = {"int": 1, "text": "<text>", "counted_names": [{"count": 1, "item": "<item>"}]}
    return {arg.name: values.get(arg.kind, f"<{arg.name}>") for arg in spec.args}


def format_action_list(actions: Sequence[Command | str], grammar: Grammar, fmt: str) -> str:
    """The "Available actions" block of an observation, with each action as ``fmt`` lists it.

    ``native``, ``react`` and ``tagged`` list the native commands on one line (as the core does);
    ``toolcall`` lists one JSON call per line; ``index`` and ``discrete`` number them.
    """
    check_format(fmt, ACTION_FORMATS, "action format")
    if fmt == "toolcall":
        calls = [format_action(action, grammar, fmt) for action in actions]
        return "Available actions (tool calls):\n" + "\n".join(calls)
    natives = [_native(action, grammar) for action in actions]
    if fmt in ("index", "discrete"):
        base = 1 if fmt == "index" else 0
        return "Available actions:\n" + "\n".join(f"{i + base}. {text}" for i, text in enumerate(natives))
    return "Available actions: " + ", ".join(natives)
