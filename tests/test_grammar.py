import pytest
from hypothesis import given
from hypothesis import strategies as st

from llm_gym.grammar import Arg, Command, CommandSpec, Grammar, ParseError

GRAMMAR = Grammar(
    [
        CommandSpec("get", "get {count} {item}", (Arg("count", "int"), Arg("item", "name")), "get items"),
        CommandSpec(
            "craft",
            "craft {count} {item} using {ingredients}",
            (Arg("count", "int"), Arg("item", "name"), Arg("ingredients", "counted_names")),
        ),
        CommandSpec("search", "search[{query}]", (Arg("query", "text"),)),
        CommandSpec("inventory", "inventory"),
    ]
)

names = st.lists(st.sampled_from(["oak", "iron", "red", "stone", "glue", "x1"]), min_size=1, max_size=3).map(" ".join)
commands = st.one_of(
    st.builds(lambda c, n: Command("get", (c, n)), st.integers(0, 999), names),
    st.builds(
        lambda c, n, ing: Command("craft", (c, n, tuple(sorted(ing.items(), key=lambda p: p[0])))),
        st.integers(1, 9),
        names,
        st.dictionaries(names, st.integers(1, 9), min_size=1, max_size=3),
    ),
    st.builds(
        lambda q: Command("search", (q,)),
        st.text("abc xyz-?!.", min_size=1)
        .filter(lambda q: q.strip() and "]" not in q)
        .map(lambda q: " ".join(q.split())),
    ),
    st.just(Command("inventory")),
)


def _canonical(command: Command) -> Command:
    if command.verb == "craft":
        count, item, ingredients = command.args
        return Command("craft", (count, item, tuple(sorted(((c, n) for n, c in ingredients), key=lambda p: p[1]))))
    return command


@given(commands)
def test_parse_inverts_render(command):
    command = _canonical(command)
    assert GRAMMAR.parse(GRAMMAR.render(command)) == command


@given(commands)
def test_tool_arguments_round_trip(command):
    command = _canonical(command)
    assert GRAMMAR.from_arguments(command.verb, GRAMMAR.to_arguments(command)) == command


def test_parse_normalizes_case_and_spacing():
    assert GRAMMAR.parse("  GET   3 Oak   Planks ") == Command("get", (3, "oak planks"))
    parsed = GRAMMAR.parse("craft 1 stick using 2 planks,1 glue")
    assert parsed == Command("craft", (1, "stick", ((1, "glue"), (2, "planks"))))


@pytest.mark.parametrize("text", ["", "dance", "get two planks", "get 1", "craft 1 stick", None, 7, "inventory now"])
def test_unreadable_text_is_a_parse_error(text):
    result = GRAMMAR.parse(text)
    assert isinstance(result, ParseError)
    assert result.message


def test_parse_error_for_known_verb_shows_its_syntax():
    assert "get <count> <item>" in GRAMMAR.parse("get many apples").message


def test_instructions_and_schema_come_from_the_specs():
    text = GRAMMAR.instructions()
    for spec in GRAMMAR:
        assert spec.syntax in text
    schemas = GRAMMAR.tool_schemas()
    assert [s["function"]["name"] for s in schemas] == ["get", "craft", "search", "inventory"]
    craft = schemas[1]["function"]["parameters"]
    assert craft["required"] == ["count", "item", "ingredients"]
    assert craft["properties"]["ingredients"]["type"] == "array"


@pytest.mark.parametrize(
    "arguments",
    [
        {"count": -1, "item": "x"},
        {"count": "1", "item": "x"},
        {"item": "x"},
        {"count": 1, "item": ""},
        "nope",
        {"count": 1, "item": "x", "extra": 1},
    ],
)
def test_bad_tool_arguments_are_parse_errors(arguments):
    assert isinstance(GRAMMAR.from_arguments("get", arguments), ParseError)


def test_bad_counted_list_in_tool_call_is_a_parse_error():
    assert isinstance(GRAMMAR.from_arguments("craft", {"count": 1, "item": "a", "ingredients": [{"n": 1}]}), ParseError)
    assert isinstance(GRAMMAR.from_arguments("nope", {}), ParseError)


def test_spec_validation():
    with pytest.raises(ValueError, match="declares"):
        CommandSpec("get", "get {count}", (Arg("item", "name"),))
    with pytest.raises(ValueError, match="kind"):
        Arg("x", "float")
    with pytest.raises(ValueError, match="Duplicate"):
        Grammar([CommandSpec("a", "a"), CommandSpec("a", "a")])


def test_verbs_with_spaces_become_valid_tool_names():
    grammar = Grammar([CommandSpec("go to", "go to {place}", (Arg("place", "name"),))])
    (schema,) = grammar.tool_schemas()
    assert schema["function"]["name"] == "go_to"
    command = Command("go to", ("drawer 2",))
    assert grammar.from_arguments("go_to", grammar.to_arguments(command)) == command
    assert grammar.from_arguments("go to", {"place": "drawer 2"}) == command


def test_every_registered_family_has_api_safe_tool_names():
    import re

    import llm_gym

    for env_id in llm_gym.env_ids():
        for schema in llm_gym.describe(env_id)["tool_schemas"]:
            assert re.fullmatch(r"[a-zA-Z0-9_-]{1,64}", schema["function"]["name"]), (
                env_id,
                schema["function"]["name"],
            )
