"""One declaration of a family's commands, from which everything textual is derived.

A family lists its commands once as ``CommandSpec``s. From that list a ``Grammar`` derives the
native parser (text -> ``Command``), the renderer (``Command`` -> text), the syntax lines of the
instructions an agent reads, and an OpenAI-style JSON tool schema. The instructions therefore
always describe exactly what the parser accepts.

Example:
    >>> grammar = Grammar([
    ...     CommandSpec("get", "get {count} {item}", (Arg("count", "int"), Arg("item", "name")),
    ...                 "take items from the environment"),
    ...     CommandSpec("inventory", "inventory", (), "list what you carry"),
    ... ])
    >>> grammar.parse("Get 2  Oak Planks")
    Command(verb='get', args=(2, 'oak planks'))
    >>> grammar.render(Command("get", (2, "oak planks")))
    'get 2 oak planks'
    >>> grammar.parse("dance")
    ParseError(message='Unknown command "dance". Valid commands: get <count> <item>, inventory.')
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

ARG_KINDS = ("int", "name", "text", "counted_names")
_ARG_PATTERNS = {
    "int": r"\d{1,6}",
    "name": r"[^\s,<>\[\]{}]+(?: [^\s,<>\[\]{}]+)*?",
    "text": r".+?",
    "counted_names": r"\d{1,6} [^,]+?(?:, ?\d{1,6} [^,]+?)*",
}
_PLACEHOLDER = re.compile(r"\{(\w+)\}")
_TOOL_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")
_COUNTED_NAME = re.compile(r"(\d+) (.+)")


@dataclass(frozen=True)
class Command:
    """A canonical action: a verb and its typed arguments, in the order its spec declares them.

    Names are lower case with single spaces; ``counted_names`` arguments are tuples of
    ``(count, name)`` pairs sorted by name, so equal commands compare equal.
    """

    verb: str
    args: tuple[Any, ...] = ()

    def __deepcopy__(self, memo: dict[int, Any]) -> Command:
        return self  # immutable: its arguments are ints, strings and tuples of them


@dataclass(frozen=True)
class ParseError:
    """Text the interface could not read, and what to tell the agent about it."""

    message: str


@dataclass(frozen=True)
class Arg:
    """A typed argument of a command: ``int``, ``name`` (an entity), ``text`` or
    ``counted_names`` (a list such as ``2 planks, 1 glue``)."""

    name: str
    kind: str
    description: str = ""

    def __post_init__(self):
        if self.kind not in ARG_KINDS:
            raise ValueError(f"Arg kind {self.kind!r} is not one of {ARG_KINDS}")


@dataclass(frozen=True)
class CommandSpec:
    """One command of a family: its verb, its template, its typed arguments and what it does.

    The template is the native surface form, with ``{arg}`` placeholders, such as
    ``"craft {count} {item} using {ingredients}"``.
    """

    verb: str
    template: str
    args: tuple[Arg, ...] = ()
    description: str = ""

    def __post_init__(self):
        placeholders = _PLACEHOLDER.findall(self.template)
        if placeholders != [arg.name for arg in self.args]:
            raise ValueError(
                f"Template {self.template!r} names {placeholders}, "
                f"but the spec declares {[arg.name for arg in self.args]}"
            )

    @property
    def tool_name(self) -> str:
        """The verb as a function name tool-calling APIs accept (``go to`` -> ``go_to``)."""
        return _TOOL_NAME_UNSAFE.sub("_", self.verb)

    @property
    def syntax(self) -> str:
        """The template with readable placeholders, as shown to agents."""
        kinds = {arg.name: arg.kind for arg in self.args}

        def placeholder(match: re.Match) -> str:
            name = match.group(1)
            if kinds[name] == "counted_names":
                return "<count> <item>, <count> <item>, ..."
            return f"<{name}>"

        return _PLACEHOLDER.sub(placeholder, self.template)

    def pattern(self) -> re.Pattern:
        parts, position = [], 0
        for match in _PLACEHOLDER.finditer(self.template):
            parts.append(_literal(self.template[position : match.start()]))
            kind = next(arg.kind for arg in self.args if arg.name == match.group(1))
            parts.append(f"({_ARG_PATTERNS[kind]})")
            position = match.end()
        parts.append(_literal(self.template[position:]))
        return re.compile("".join(parts), re.IGNORECASE | re.DOTALL)

    def convert(self, raw: tuple[str, ...]) -> tuple[Any, ...]:
        return tuple(_convert(arg.kind, value) for arg, value in zip(self.args, raw))

    def format(self, args: tuple[Any, ...]) -> str:
        return self.template.format_map({arg.name: _format(arg.kind, value) for arg, value in zip(self.args, args)})

    def tool_schema(self) -> dict:
        properties = {arg.name: _json_type(arg) for arg in self.args}
        return {
            "type": "function",
            "function": {
                "name": self.tool_name,
                "description": self.description or self.syntax,
                "parameters": {
                    "type": "object",
                    "properties": properties,
                    "required": [arg.name for arg in self.args],
                    "additionalProperties": False,
                },
            },
        }


class Grammar:
    """The commands of a family, with the parser, renderer, instructions and schema they imply."""

    def __init__(self, specs: list[CommandSpec] | tuple[CommandSpec, ...]):
        self.specs = tuple(specs)
        verbs = [spec.verb for spec in self.specs]
        if len(set(verbs)) != len(verbs):
            raise ValueError(f"Duplicate verbs in grammar: {verbs}")
        self._by_verb = {spec.verb: spec for spec in self.specs}
        self._by_tool_name = {spec.tool_name: spec for spec in self.specs}
        if len(self._by_tool_name) != len(self.specs):
            raise ValueError(f"Verbs {verbs} collide as tool names {list(self._by_tool_name)}")
        self._patterns = [(spec, spec.pattern()) for spec in self.specs]

    def __iter__(self):
        return iter(self.specs)

    def spec(self, verb: str) -> CommandSpec:
        try:
            return self._by_verb[verb]
        except KeyError:
            raise ValueError(f"Unknown verb {verb!r}; the grammar has {list(self._by_verb)}") from None

    def parse(self, text: Any) -> Command | ParseError:
        """Read one command from ``text``; anything unreadable is a ``ParseError``, never an exception."""
        if not isinstance(text, str):
            return ParseError(f"Expected a text command, got {type(text).__name__}.")
        normalized = " ".join(text.split())
        if not normalized:
            return ParseError(f"Empty command. Valid commands: {self.syntax_summary()}.")
        for spec, pattern in self._patterns:
            match = pattern.fullmatch(normalized)
            if match:
                return Command(spec.verb, spec.convert(match.groups()))
        first_word = normalized.split(" ", 1)[0].lower()
        shown = normalized if len(normalized) <= 60 else normalized[:57] + "..."
        for spec in self.specs:
            if spec.template.split(" ", 1)[0].lower() == first_word:
                return ParseError(f'Could not read "{shown}". Use: {spec.syntax}')
        return ParseError(f'Unknown command "{shown}". Valid commands: {self.syntax_summary()}.')

    def render(self, command: Command) -> str:
        """Write ``command`` in the native surface form."""
        return self.spec(command.verb).format(command.args)

    def syntax_summary(self) -> str:
        return ", ".join(spec.syntax for spec in self.specs)

    def instructions(self) -> str:
        """The command reference an agent reads: one line per command."""
        lines = [f"- {spec.syntax}" + (f": {spec.description}" if spec.description else "") for spec in self.specs]
        return "Commands (write exactly one per turn):\n" + "\n".join(lines)

    def tool_schemas(self) -> list[dict]:
        """OpenAI-style function-calling schemas, one per command."""
        return [spec.tool_schema() for spec in self.specs]

    def from_arguments(self, name: str, arguments: dict) -> Command | ParseError:
        """Build a ``Command`` from a tool call's name (tool name or verb) and JSON arguments."""
        spec = (self._by_tool_name.get(name) or self._by_verb.get(name)) if isinstance(name, str) else None
        if spec is None:
            return ParseError(f"Unknown tool {name!r}. Valid tools: {list(self._by_tool_name)}.")
        verb = spec.verb
        if not isinstance(arguments, dict) or set(arguments) != {arg.name for arg in spec.args}:
            expected = [arg.name for arg in spec.args]
            return ParseError(f"Tool {verb!r} takes exactly the arguments {expected}.")
        try:
            return Command(verb, tuple(_from_json(arg.kind, arguments[arg.name]) for arg in spec.args))
        except (TypeError, ValueError, KeyError) as error:
            return ParseError(f"Bad arguments for {verb!r}: {error}")

    def to_arguments(self, command: Command) -> dict:
        """The JSON arguments of a tool call for ``command`` (inverse of ``from_arguments``)."""
        spec = self.spec(command.verb)
        return {arg.name: _to_json(arg.kind, value) for arg, value in zip(spec.args, command.args)}


def _literal(text: str) -> str:
    return r"\s*".join(re.escape(word) for word in text.split(" ")) if text.strip() else (r"\s*" if text else "")


def normalize_name(value: str) -> str:
    """A name as the grammar reads it and a ``Lexicon`` keys it: lower case, single spaces."""
    return " ".join(value.lower().split())


def _convert(kind: str, value: str) -> Any:
    if kind == "int":
        return int(value)
    if kind == "name":
        return normalize_name(value)
    if kind == "text":
        return " ".join(value.split())
    pairs = []
    for part in value.split(","):
        match = _COUNTED_NAME.fullmatch(part.strip())
        if match is None:  # unreachable through parse(): the argument's pattern admits only such parts
            raise ValueError(f"{part!r} is not a count and a name")
        count, name = match.groups()
        pairs.append((int(count), normalize_name(name)))
    return tuple(sorted(pairs, key=lambda pair: pair[1]))


def _format(kind: str, value: Any) -> str:
    if kind == "counted_names":
        return ", ".join(f"{count} {name}" for count, name in value)
    return str(value)


def _json_type(arg: Arg) -> dict:
    description = {"description": arg.description} if arg.description else {}
    if arg.kind == "int":
        return {"type": "integer", "minimum": 0, **description}
    if arg.kind == "counted_names":
        item = {
            "type": "object",
            "properties": {"count": {"type": "integer", "minimum": 1}, "item": {"type": "string"}},
            "required": ["count", "item"],
        }
        return {"type": "array", "items": item, "minItems": 1, **description}
    return {"type": "string", **description}


def _from_json(kind: str, value: Any) -> Any:
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"expected a non-negative integer, got {value!r}")
        return value
    if kind in ("name", "text"):
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"expected a non-empty string, got {value!r}")
        return normalize_name(value) if kind == "name" else " ".join(value.split())
    if not isinstance(value, list) or not value:
        raise ValueError(f"expected a non-empty list of {{count, item}}, got {value!r}")
    pairs = [(_from_json("int", entry["count"]), _from_json("name", entry["item"])) for entry in value]
    return tuple(sorted(pairs, key=lambda pair: pair[1]))


def _to_json(kind: str, value: Any) -> Any:
    if kind == "counted_names":
        return [{"count": count, "item": name} for count, name in value]
    return value
