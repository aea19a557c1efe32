"""Proof that each wrapper changes only what it claims, over every registered family.

Every test iterates over ``llm_gym.env_ids()``, so a family registered later is covered without
new code. Per family the work is kept small: the easiest and the second preset, a few seeds.
"""

from __future__ import annotations

import doctest
import functools
import importlib
import json
import random
import re

import gymnasium as gym
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import llm_gym
from llm_gym.grammar import Command
from llm_gym.registry import env_class
from llm_gym.wrappers import (
    ACTION_FORMATS,
    ActionFormat,
    ActionList,
    ChatHistory,
    DiscreteActions,
    ObservationFormat,
    Reskin,
    chat_space,
    describe,
    format_action,
    is_lossless,
    make,
    parse_action,
    parse_interface,
    render_view,
)
from llm_gym.wrappers.reskin import Lexicon, plural

ENV_IDS = llm_gym.env_ids()

# (interface, semantics) stacks; the oracle must behave identically through each.
STACKS = [
    ("json+toolcall", None),
    ("markdown+react", None),
    ("kv+tagged+actions-every", None),
    ("prose+native+history", None),
    ("json+tagged", "made-up"),
    ("markdown+toolcall+history", "made-up@7"),
    ("prose+index", None),  # lossy: only listed actions can be chosen
    ("kv+discrete", "made-up@3"),  # lossy
    ("json+react+history-2", None),  # lossy: windowed
    ("prose+actions-never", None),
]


def presets(env_id: str) -> list[str]:
    names = list(env_class(env_id).presets)
    return names[:2]


def oracle_command(env: gym.Env) -> Command:
    return env.unwrapped.oracle_action()


@functools.cache
def bare_episode(env_id: str, preset: str, seed: int) -> tuple:
    """The oracle's episode with no wrapper: (commands, rewards, statuses, outcome, ends, observations)."""
    env = gym.make(env_id, difficulty=preset)
    observation, info = env.reset(seed=seed)
    commands, rewards, statuses, observations = [], [], [], [observation]
    while True:
        command = oracle_command(env)
        observation, reward, terminated, truncated, info = env.step(env.unwrapped.format_command(command))
        commands.append(command)
        rewards.append(reward)
        statuses.append(info["action_status"])
        observations.append(observation)
        if terminated or truncated:
            return (
                tuple(commands),
                tuple(rewards),
                tuple(statuses),
                info["outcome"],
                (terminated, truncated),
                tuple(observations),
            )


def text_of(observation) -> str:
    if isinstance(observation, tuple):
        return "\n".join(message["content"] for message in observation)
    return observation


# ----- the pure formats ----------------------------------------------------------------------


def test_wrapper_doctests_pass():
    for name in ("formats", "base", "observation", "action", "reskin", "presets"):
        module = importlib.import_module(f"llm_gym.wrappers.{name}")
        result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
        assert result.failed == 0, name
        assert result.attempted > 0, name


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_structured_formats_show_every_value_of_the_view(env_id):
    for seed in (0, 1):
        env = gym.make(env_id, difficulty=presets(env_id)[0])
        _, info = env.reset(seed=seed)
        views = [info["view"]]
        for _ in range(3):
            *_, terminated, truncated, info = env.step(env.unwrapped.format_command(oracle_command(env)))
            views.append(info["view"])
            if terminated or truncated:
                break
        for view in views:
            assert json.loads(render_view(view, "json")) == view
            leaves = [leaf for leaf in _leaves(view) if leaf.strip()]
            for fmt in ("markdown", "kv"):
                text = render_view(view, fmt)
                for leaf in leaves:
                    for line in leaf.split("\n"):
                        assert line.strip() in text, (fmt, line)
        renders = {fmt: [render_view(view, fmt) for view in views] for fmt in ("json", "markdown", "kv")}
        distinct_views = len({json.dumps(view, sort_keys=True) for view in views})
        for fmt, texts in renders.items():
            assert len(set(texts)) == distinct_views, fmt


def _leaves(value) -> list[str]:
    if isinstance(value, dict):
        return [leaf for item in value.values() for leaf in _leaves(item)]
    if isinstance(value, list):
        return [leaf for item in value for leaf in _leaves(item)]
    return [] if value is None or isinstance(value, bool) else [str(value)]


def test_format_errors_name_the_allowed_values():
    with pytest.raises(ValueError, match="allowed"):
        render_view({}, "yaml")
    with pytest.raises(ValueError, match="needs the family's renderer"):
        render_view({}, "prose")
    grammar = env_class(ENV_IDS[0]).grammar
    with pytest.raises(ValueError, match="allowed"):
        format_action(Command("x"), grammar, "xml")
    with pytest.raises(ValueError, match="listed actions"):
        parse_action("1", grammar, "index")


# ----- observation composition ---------------------------------------------------------------


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_explicit_native_stack_reproduces_the_core_exactly(env_id):
    native = env_class(env_id).native_action_list
    bare = gym.make(env_id, difficulty=presets(env_id)[0])
    stack = ActionFormat(
        ActionList(ObservationFormat(gym.make(env_id, difficulty=presets(env_id)[0]), "prose"), native), "native"
    )
    assert describe(stack)[0]["wrapper"] == "ActionFormat" and is_lossless(stack)
    first_bare, info_bare = bare.reset(seed=2)
    first_stack, info_stack = stack.reset(seed=2)
    assert first_stack == first_bare
    assert info_stack["instructions"] == info_bare["instructions"]
    assert info_stack["admissible_actions"] == info_bare["admissible_actions"]
    for action in ("", "@@ not a command @@", bare.unwrapped.format_command(oracle_command(bare))):
        out_bare, out_stack = bare.step(action), stack.step(action)
        assert out_stack[:4] == out_bare[:4]
        assert out_stack[4]["action_status"] == out_bare[4]["action_status"]


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_action_list_modes_and_their_labels(env_id):
    native = env_class(env_id).native_action_list
    rank = {"never": 0, "first_turn": 1, "every_turn": 2}
    for mode in ("every_turn", "first_turn", "never"):
        env = ActionList(gym.make(env_id, difficulty=presets(env_id)[0]), mode)
        assert env.lossless == (rank[mode] >= rank[native])
        first, _ = env.reset(seed=0)
        later, *_ = env.step(env.unwrapped.format_command(oracle_command(env)))
        assert ("Available actions" in first) == (mode != "never")
        assert ("Available actions" in later) == (mode == "every_turn")


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_chat_history_messages_and_window(env_id):
    full = ChatHistory(gym.make(env_id, difficulty=presets(env_id)[0]))
    windowed = ChatHistory(gym.make(env_id, difficulty=presets(env_id)[0]), window=1)
    assert full.lossless and not windowed.lossless
    assert full.observation_space == chat_space()
    messages, info = full.reset(seed=0)
    short, _ = windowed.reset(seed=0)
    assert [m["role"] for m in messages] == ["system", "user"]
    assert messages[0]["content"] == info["instructions"]
    assert info["instructions"] not in messages[1]["content"]
    actions = ["@@ unreadable @@", full.unwrapped.format_command(oracle_command(full))]
    for action in actions:
        messages, *_ = full.step(action)
        short, *_ = windowed.step(action)
        assert full.observation_space.contains(messages) and windowed.observation_space.contains(short)
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user", "assistant", "user"]
    assert [m["content"] for m in messages[2::2]] == actions
    assert short == (messages[0], messages[-1])
    full.reset(seed=1)
    assert len(full.step(actions[0])[0]) == 4, "history must not survive reset"


# ----- the oracle through every stack --------------------------------------------------------


@pytest.mark.parametrize("env_id", ENV_IDS)
@pytest.mark.parametrize("interface,semantics", STACKS, ids=[f"{i}|{s}" for i, s in STACKS])
def test_oracle_through_stack_behaves_as_unwrapped(env_id, interface, semantics):
    for position, preset in enumerate(presets(env_id)):
        seed = (STACKS.index((interface, semantics)) + position) % 2
        commands, rewards, statuses, outcome, ends, _ = bare_episode(env_id, preset, seed)
        env = make(env_id, interface=interface, semantics=semantics, difficulty=preset)
        observation, info = env.reset(seed=seed)
        write = env.get_wrapper_attr("format_command")
        read = env.get_wrapper_attr("parse_action")
        seen = []
        for step in range(len(commands)):  # noqa: B007 (read after the loop)
            assert env.observation_space.contains(observation)
            command = oracle_command(env)
            action = write(command)
            assert env.action_space.contains(action)
            assert action in info["admissible_actions"]
            assert read(action) == command
            observation, reward, terminated, truncated, info = env.step(action)
            seen.append((command, reward, info["action_status"]))
            if terminated or truncated:
                break
        assert seen == list(zip(commands, rewards, statuses))
        assert (info["outcome"], (terminated, truncated)) == (outcome, ends)
        assert step + 1 == len(commands)


@pytest.mark.parametrize("interface,semantics", [("json+toolcall", "made-up"), ("kv+discrete", None)])
def test_make_vec_takes_a_stack_as_a_wrapper(interface, semantics):
    """``make_vec(..., wrappers=[partial(wrap, ...)])``: async steps every env as a single stack would."""
    stack = functools.partial(llm_gym.wrappers.wrap, interface=interface, semantics=semantics)
    envs = gym.make_vec(
        "llm_gym/TextCraft-v0", num_envs=2, vectorization_mode="async", wrappers=[stack], difficulty="easy"
    )
    singles = [
        make("llm_gym/TextCraft-v0", interface=interface, semantics=semantics, difficulty="easy") for _ in range(2)
    ]
    observations, _ = envs.reset(seed=5)
    expected = [env.reset(seed=5 + i)[0] for i, env in enumerate(singles)]
    ended = np.zeros(2, dtype=bool)
    while not ended.any():
        assert list(observations) == expected
        actions = [env.get_wrapper_attr("format_command")(oracle_command(env)) for env in singles]
        expected = [env.step(action)[0] for env, action in zip(singles, actions)]
        observations, _, terminated, truncated, _ = envs.step(
            np.array(actions) if interface.endswith("discrete") else tuple(actions)
        )
        ended = terminated | truncated
    assert list(observations) == expected
    envs.close()


@pytest.mark.parametrize("interface,semantics", [("json+tagged", None), (None, "made-up"), ("kv+history", "made-up")])
def test_render_shows_what_the_outermost_layer_showed(interface, semantics):
    env = make("llm_gym/TextCraft-v0", interface=interface, semantics=semantics, render_mode="ansi")
    observation, _ = env.reset(seed=0)
    observation, *_ = env.step(env.get_wrapper_attr("format_command")(oracle_command(env)))
    if isinstance(observation, tuple):
        assert env.render() == "\n\n".join(f"[{m['role']}]\n{m['content']}" for m in observation)
    else:
        assert env.render() == observation


# ----- parse(render(c)) == c ------------------------------------------------------------------


def _state(env_id: str, data) -> gym.Env:
    preset = data.draw(st.sampled_from(presets(env_id)), label="preset")
    seed = data.draw(
        st.integers(0, 7), label="seed"
    )  # few tasks (TextWorld compiles each once); states vary by the walk
    fmt = data.draw(st.sampled_from(ACTION_FORMATS), label="format")
    semantics = data.draw(st.sampled_from([None, "made-up"]), label="semantics")
    env = make(env_id, interface=fmt, semantics=semantics, difficulty=preset)
    env.reset(seed=seed)
    rng = random.Random(seed)
    for _ in range(data.draw(st.integers(0, 4), label="random steps")):
        commands = env.unwrapped.admissible_commands()
        *_, terminated, truncated, _ = env.step(env.get_wrapper_attr("format_command")(rng.choice(commands)))
        if terminated or truncated:  # an ended episode has nothing left to write: start it again
            env.reset(seed=seed)
            break
    return env


@pytest.mark.parametrize("env_id", ENV_IDS)
@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_parse_of_render_is_identity_on_admissible_commands(env_id, data):
    env = _state(env_id, data)
    write, read = env.get_wrapper_attr("format_command"), env.get_wrapper_attr("parse_action")
    grammar = env.unwrapped.grammar
    commands = env.unwrapped.admissible_commands()
    assert commands
    for command in commands:
        assert read(write(command)) == command
    for fmt in ACTION_FORMATS:  # the pure functions, on the family's own grammar
        for command in commands:
            written = format_action(command, grammar, fmt, actions=commands)
            assert parse_action(written, grammar, fmt, actions=commands) == command


# ----- parse_error versus illegal ------------------------------------------------------------

UNREADABLE = {
    "native": "@@ not a command @@",
    "react": "I think I should act.",
    "tagged": "<action></action><action></action>",
    "toolcall": '{"name": "get", "args": {}}',
    "index": "0",
    "discrete": 10_000,
}


def _forbidden_candidates(grammar) -> list[Command]:
    values = {"int": 77, "name": "qqzx vorp", "text": "qqzx vorp", "counted_names": ((3, "qqzx vorp"),)}
    return [Command(spec.verb, tuple(values[arg.kind] for arg in spec.args)) for spec in grammar if spec.args]


@pytest.mark.parametrize("env_id", ENV_IDS)
@pytest.mark.parametrize("fmt", ACTION_FORMATS)
def test_unreadable_is_parse_error_and_forbidden_is_illegal(env_id, fmt):
    preset = presets(env_id)[0]
    env = make(env_id, interface=fmt, difficulty=preset)
    bare = gym.make(env_id, difficulty=preset)
    observation, info = env.reset(seed=4)
    bare.reset(seed=4)
    before = (oracle_command(env), [str(c) for c in env.unwrapped.admissible_commands()], info["turn"])
    observation, reward, terminated, truncated, info = env.step(UNREADABLE[fmt])
    assert info["action_status"] == "parse_error" and reward == 0 and not terminated
    assert info["view"]["feedback"] in text_of(observation)
    assert (oracle_command(env), [str(c) for c in env.unwrapped.admissible_commands()]) == before[:2]
    assert info["turn"] == before[2] + 1
    if fmt in ("index", "discrete"):
        return  # only listed actions can be written: nothing forbidden is expressible
    grammar = env.unwrapped.grammar
    for command in _forbidden_candidates(grammar):
        expected = bare.step(grammar.render(command))[4]["action_status"]
        got = env.step(format_action(command, grammar, fmt))[4]["action_status"]
        assert got == expected != "parse_error"


# ----- Reskin -------------------------------------------------------------------------------


def _word_pattern(names) -> re.Pattern:
    forms = sorted({form for name in names for form in (name.lower(), plural(name.lower()))}, key=len, reverse=True)
    return re.compile(r"(?<![A-Za-z0-9_])(" + "|".join(map(re.escape, forms)) + r")(?![A-Za-z0-9_])", re.IGNORECASE)


def _vocabularies(env_id: str) -> list[str]:
    themes = [theme for theme in env_class(env_id).themes if theme != "made-up"]
    return ["made-up", *themes[1:2]]


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_reskin_leaks_no_original_name_and_inverts_exactly(env_id):
    preset = presets(env_id)[0]
    interfaces = ["prose", "json+toolcall", "markdown+react+history"]
    vocabularies = _vocabularies(env_id)
    for seed in range(8):
        interface, vocabulary = interfaces[seed % 3], vocabularies[seed % len(vocabularies)]
        env = make(env_id, interface=interface, semantics=f"{vocabulary}@{seed}", difficulty=preset)
        observation, info = env.reset(seed=seed)
        lexicon = env.get_wrapper_attr("lexicon")
        originals = list(lexicon.mapping)
        assert originals and len(set(lexicon.mapping.values())) == len(originals)
        assert not set(lexicon.mapping.values()) & set(originals)
        leak = _word_pattern(originals)
        bare_observations = bare_episode(env_id, preset, seed)[5]
        turn = 0
        while True:
            texts = [json.dumps(info["view"]), *map(str, info["admissible_actions"])]
            if interface == "prose":
                texts += [observation, info["instructions"]]
            else:  # the format's own scaffolding (JSON Schema words, tags) is interface, not renamed
                texts.append(text_of(observation).replace(info["instructions"], ""))
            for text in texts:
                found = leak.search(text)
                assert found is None, (seed, interface, found and found.group(0), text[:300])
            if interface == "prose":
                assert lexicon.forward(bare_observations[turn]) == observation
                assert lexicon.inverse(observation) == bare_observations[turn]
            command = oracle_command(env)
            observation, reward, terminated, truncated, info = env.step(env.get_wrapper_attr("format_command")(command))
            turn += 1
            assert info["action_status"] == "ok"
            if terminated or truncated:
                break
        assert info["outcome"] == "success"


def test_lexicon_is_a_case_and_plural_preserving_bijection():
    lexicon = Lexicon({"stick": "zarg", "oak log": "blim dor", "box": "kelp"})
    text = "Sticks and a STICK; Oak Log, oak log, boxes. Stickers stay."
    renamed = lexicon.forward(text)
    assert renamed == "Zargs and a ZARG; Blim Dor, blim dor, kelps. Stickers stay."
    assert lexicon.forward(renamed) == renamed
    assert lexicon.inverse(renamed) == text
    assert lexicon.inverse("get 1 stick") == "get 1 zarg", "an original name must not act as itself"
    with pytest.raises(ValueError, match="bijective"):
        Lexicon({"a": "x", "b": "x"})


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_reskin_is_seeded_and_consistent_across_tasks(env_id):
    preset = presets(env_id)[0]
    images = []
    for seed in (5, 5, 6):
        env = Reskin(gym.make(env_id, difficulty=preset), seed=seed)
        first, _ = env.reset(seed=0)
        images.append((first, dict(env.lexicon.mapping)))
    assert images[0] == images[1]
    assert images[0][1] != images[2][1]
    env = Reskin(gym.make(env_id, difficulty=preset), seed=5)
    mappings = []
    for task_seed in range(4):
        env.reset(seed=task_seed)
        mappings.append(env.lexicon.mapping)
    shared = [(a, b) for a in mappings for b in mappings if a is not b]
    for a, b in shared:
        for name in set(a) & set(b):
            assert a[name] == b[name] or b[name] in a.values()  # same image unless that image was taken


def test_reskinned_env_does_not_accept_the_original_names():
    env = make("llm_gym/TextCraft-v0", semantics="made-up", difficulty="easy")
    env.reset(seed=0)
    original = env.unwrapped.format_command(oracle_command(env))  # e.g. "get 1 cobblestone"
    renamed = env.get_wrapper_attr("format_command")(oracle_command(env))
    assert original != renamed
    assert env.step(original)[4]["action_status"] == "illegal"
    assert env.step(renamed)[4]["action_status"] == "ok"


def test_reskin_rejects_unknown_vocabularies_and_wrong_placement():
    env_id = ENV_IDS[0]
    with pytest.raises(ValueError, match="allowed"):
        Reskin(gym.make(env_id), vocabulary="no-such-theme")
    with pytest.raises(ValueError, match="Reskin goes under"):
        Reskin(ObservationFormat(gym.make(env_id), "json"))
    with pytest.raises(ValueError, match="text observations"):
        Reskin(ChatHistory(gym.make(env_id)))


# ----- stacks, labels and presets ------------------------------------------------------------


def test_labels_and_describe():
    env = make(ENV_IDS[0], interface="kv+discrete+history-3", semantics="made-up")
    layers = describe(env)
    assert [layer["wrapper"] for layer in layers] == ["ChatHistory", "DiscreteActions", "ObservationFormat", "Reskin"]
    assert [layer["lossless"] for layer in layers] == [False, False, True, True]
    assert [layer["shift"] for layer in layers] == ["interface", "interface", "interface", "semantic"]
    assert not is_lossless(env)
    assert is_lossless(make(ENV_IDS[0], interface="json+toolcall", semantics="made-up"))
    assert describe(make(ENV_IDS[0])) == []


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_sampled_actions_never_raise_and_replay_identically(env_id):
    """What gymnasium's check_env does to a stack (sampled actions, spaces, determinism), on fixed
    tasks: check_env resets with fresh task seeds, which is slow for families that compile games."""
    for interface, semantics in [("markdown+react+history-2", "made-up"), ("kv+discrete", None)]:
        runs = []
        for _ in range(2):
            env = make(env_id, interface=interface, semantics=semantics, difficulty=presets(env_id)[0])
            env.action_space.seed(0)
            observation, info = env.reset(seed=0)
            trace = [text_of(observation)]
            for _ in range(4):
                assert env.observation_space.contains(observation)
                observation, reward, terminated, truncated, info = env.step(env.action_space.sample())
                assert info["action_status"] in llm_gym.ACTION_STATUSES and not (terminated and truncated)
                trace.append((text_of(observation), reward, info["action_status"]))
                if terminated or truncated:
                    break
            runs.append(trace)
        assert runs[0] == runs[1]


def test_gym_make_of_the_spec_rebuilds_the_stack():
    env = make(ENV_IDS[0], interface="kv+react+actions-every+history-2", semantics="made-up@4", difficulty="easy")
    again = gym.make(env.spec)
    assert describe(again) == describe(env)
    assert again.reset(seed=1)[0] == env.reset(seed=1)[0]


def test_bad_presets_and_combinations_raise_value_errors():
    env_id = ENV_IDS[0]
    for interface, match in [
        ("yaml", "allowed"),
        ("json+kv", "twice"),
        ("react+tagged", "twice"),
        ("history-0", "allowed"),
    ]:
        with pytest.raises(ValueError, match=match):
            parse_interface(interface)
    with pytest.raises(ValueError, match="seed"):
        make(env_id, semantics="made-up@x")
    with pytest.raises(ValueError, match="listed every turn"):
        ActionFormat(ActionList(gym.make(env_id), "never"), "index")
    with pytest.raises(ValueError, match="picks by number"):
        ActionList(DiscreteActions(gym.make(env_id)), "first_turn")
    with pytest.raises(ValueError, match="already set"):
        ActionFormat(ActionFormat(gym.make(env_id), "react"), "tagged")
    with pytest.raises(ValueError, match="already set"):
        ObservationFormat(ChatHistory(gym.make(env_id)), "json")
    with pytest.raises(ValueError, match="window"):
        ChatHistory(gym.make(env_id), window=0)


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_instructions_describe_the_format_the_parser_reads(env_id):
    grammar = env_class(env_id).grammar
    for fmt in ("react", "tagged", "toolcall", "index"):
        env = make(env_id, interface=fmt, difficulty=presets(env_id)[0])
        _, info = env.reset(seed=0)
        assert grammar.instructions() not in info["instructions"], fmt
        if fmt != "toolcall":  # the tool call's reference is the schemas, checked below
            assert all(spec.syntax in info["instructions"] for spec in grammar), fmt
    env = make(env_id, interface="toolcall")
    _, info = env.reset(seed=0)
    schemas = env.get_wrapper_attr("tool_schemas")()
    assert schemas == grammar.tool_schemas()
    assert all(json.dumps(schema) in info["instructions"] for schema in schemas)


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_discrete_actions_mask_and_space(env_id):
    env = DiscreteActions(gym.make(env_id, difficulty=presets(env_id)[0]), max_actions=64)
    observation, info = env.reset(seed=0)
    count = len(env.unwrapped.admissible_commands())
    assert env.action_space == gym.spaces.Discrete(64)
    assert info["action_mask"].dtype == np.int8 and info["action_mask"].sum() == min(count, 64)
    assert info["admissible_actions"] == list(range(min(count, 64)))
    _, _, _, _, info = env.step(int(np.flatnonzero(info["action_mask"] == 0)[0]) if count < 64 else 64)
    assert info["action_status"] == "parse_error"


# ----- gym.make builds stacks; a Command is an action at every layer -------------------------


@pytest.mark.parametrize("env_id", ENV_IDS)
@pytest.mark.parametrize(
    "interface,semantics", [("json+toolcall", "made-up"), ("kv+discrete-32", None), (None, "made-up@2")]
)
def test_gym_make_builds_the_stack_that_wrap_builds(env_id, interface, semantics):
    preset = presets(env_id)[0]
    made = gym.make(env_id, interface=interface, semantics=semantics, difficulty=preset)
    wrapped = llm_gym.wrappers.wrap(gym.make(env_id, difficulty=preset), interface=interface, semantics=semantics)
    assert [layer["wrapper"] for layer in describe(made)] == [layer["wrapper"] for layer in describe(wrapped)]
    assert made.reset(seed=4)[0] == wrapped.reset(seed=4)[0]
    rebuilt = gym.make(made.spec)
    assert describe(rebuilt) == describe(made)
    assert rebuilt.reset(seed=4)[0] == made.reset(seed=4)[0]


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_gym_make_vec_takes_interface_and_semantics(mode):
    envs = gym.make_vec(
        "llm_gym/TextCraft-v0", num_envs=2, vectorization_mode=mode, interface="json+tagged", semantics="made-up"
    )
    singles = [gym.make("llm_gym/TextCraft-v0", interface="json+tagged", semantics="made-up") for _ in range(2)]
    observations, _ = envs.reset(seed=5)
    assert list(observations) == [env.reset(seed=5 + i)[0] for i, env in enumerate(singles)]
    envs.close()


def test_discrete_size_is_set_by_the_interface_string():
    env = gym.make("llm_gym/TextCraft-v0", interface="discrete-32")
    assert env.action_space == gym.spaces.Discrete(32)
    _, info = env.reset(seed=0)
    assert info["action_mask"].shape == (32,) and env.get_wrapper_attr("action_masks")().shape == (32,)
    with pytest.raises(ValueError, match="discrete-0"):
        gym.make("llm_gym/TextCraft-v0", interface="discrete-0")


@pytest.mark.parametrize("env_id", ENV_IDS)
@pytest.mark.parametrize("interface,semantics", [(None, None), *STACKS[:8]])
def test_a_canonical_command_is_a_valid_action_at_every_layer(env_id, interface, semantics):
    preset = presets(env_id)[0]
    commands, rewards, statuses, outcome, _, _ = bare_episode(env_id, preset, 0)
    env = make(env_id, interface=interface, semantics=semantics, difficulty=preset)
    env.reset(seed=0)
    seen = []
    for _ in commands:
        command = oracle_command(env)
        _, reward, terminated, truncated, info = env.step(command)
        seen.append((command, reward, info["action_status"]))
        if terminated or truncated:
            break
    assert seen == list(zip(commands, rewards, statuses)) and info["outcome"] == outcome


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_a_malformed_command_is_a_parse_error_that_changes_nothing(env_id):
    env = make(env_id, interface="json+toolcall", semantics="made-up", difficulty=presets(env_id)[0])
    env.reset(seed=0)
    info = env.step("")[4]  # past the first turn, whose view shows more
    spec = next(spec for spec in env.unwrapped.grammar.specs if spec.args)
    for bad in (
        Command("no such verb"),
        Command(spec.verb, ("x",) * (len(spec.args) + 1)),
        Command(spec.verb, (None,) * len(spec.args)),
    ):
        before = (info["view"], info["admissible_actions"])
        _, reward, terminated, _, info = env.step(bad)
        assert info["action_status"] == "parse_error" and reward == 0.0 and not terminated, bad
        assert ({**info["view"], "feedback": before[0]["feedback"]}, info["admissible_actions"]) == before


@pytest.mark.parametrize("index", [1, np.int64(1), np.array(1), np.uint8(1)])
def test_discrete_actions_take_any_integer_scalar(index):
    env = DiscreteActions(gym.make("llm_gym/TextCraft-v0"), max_actions=64)
    env.reset(seed=0)
    assert env.step(index)[4]["action_status"] == "ok"


def test_discrete_actions_take_a_torch_scalar_and_refuse_non_integers():
    torch = pytest.importorskip("torch")
    env = DiscreteActions(gym.make("llm_gym/TextCraft-v0"), max_actions=64)
    env.reset(seed=0)
    assert env.step(torch.tensor(1))[4]["action_status"] == "ok"
    for bad in (1.0, True, np.bool_(True), torch.tensor(True), np.array([1]), "1"):
        assert env.step(bad)[4]["action_status"] == "parse_error", bad
