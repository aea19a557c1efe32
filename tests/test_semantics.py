"""The semantic axis: grounded, counterfactual and made-up worlds of the same tasks.

Each step of the axis must keep the task structure, the dynamics and the exact optimal steps of
the same seed; only what the names mean (counterfactual) or the names themselves (made-up) move.
"""

import pytest

import llm_gym
from llm_gym.core import text_env_of
from llm_gym.presentation import presentation_of
from llm_gym.registry import env_class
from llm_gym.shift import EnvConfig, distance
from llm_gym.wrappers.base import layers
from llm_gym.wrappers.reskin import Lexicon, Reskin

NATIVE = ["llm_gym/TextCraft-v0", "llm_gym/Household-v0", "llm_gym/Shop-v0", "llm_gym/SearchQA-v0"]
SETTINGS = ("grounded", "counterfactual", "made-up")
SEEDS = 200


def lowered(fact: tuple[str, ...]) -> tuple[str, ...]:
    return (fact[0], *(name.lower() for name in fact[1:]))


def lexicon_of(env) -> Lexicon:
    reskins = [layer for layer in layers(env) if isinstance(layer, Reskin)]
    return reskins[0].lexicon if reskins else Lexicon({})


@pytest.mark.parametrize("env_id", NATIVE)
def test_every_setting_plays_the_same_task_with_the_same_optimum_and_oracle(env_id):
    """Over 200 seeds spread over the presets: the same frozen task and optimal steps, and the
    oracle's commands, rewards and outcomes identical, each text being the grounded one renamed."""
    presets = list(env_class(env_id).presets)
    for index in range(SEEDS):
        preset, seed = presets[index % len(presets)], index
        envs = {setting: llm_gym.make(env_id, semantics=setting, difficulty=preset) for setting in SETTINGS}
        first = {setting: env.reset(seed=seed) for setting, env in envs.items()}
        cores = {setting: text_env_of(env) for setting, env in envs.items()}
        grounded_info = first["grounded"][1]
        for setting in SETTINGS[1:]:
            assert cores[setting].task == cores["grounded"].task
            assert first[setting][1]["optimal_steps"] == grounded_info["optimal_steps"]
            assert first[setting][0] == lexicon_of(envs[setting]).forward(first["grounded"][0])
        done = False
        while not done:
            command = cores["grounded"].oracle_action()
            results = {}
            for setting, env in envs.items():
                assert cores[setting].oracle_action() == command
                written = presentation_of(env).format_command(command)
                assert written == lexicon_of(env).forward(presentation_of(envs["grounded"]).format_command(command))
                results[setting] = env.step(written)
            observation, reward, terminated, truncated, info = results["grounded"]
            for setting in SETTINGS[1:]:
                shifted = results[setting]
                assert shifted[1:4] == (reward, terminated, truncated)
                assert shifted[4]["outcome"] == info["outcome"] and shifted[4]["action_status"] == "ok"
                assert shifted[0] == lexicon_of(envs[setting]).forward(observation)
            done = terminated or truncated
        assert info["outcome"] == "success"


@pytest.mark.parametrize("env_id", NATIVE)
def test_the_counterfactual_world_shows_the_same_real_names_with_their_facts_moved(env_id):
    family = env_class(env_id)
    vocabulary = {name.lower(): kind for name, kind in family.vocabulary(family.themes[0]).items()}
    world = {lowered(fact) for fact in family.world_relations(family.themes[0])}
    kinds = [kind for kind in set(vocabulary.values()) if list(vocabulary.values()).count(kind) > 1]
    assert vocabulary and world and kinds
    grounded = llm_gym.make(env_id)
    counterfactual = llm_gym.make(env_id, semantics="counterfactual")
    held = shown = 0
    for seed in range(30):
        _, info = grounded.reset(seed=seed)
        _, shifted = counterfactual.reset(seed=seed)
        lexicon = lexicon_of(counterfactual)
        assert {name.lower() for name in shifted["entities"]} <= set(vocabulary), "the real names, moved"
        for name in map(str.lower, info["entities"]):
            if list(vocabulary.values()).count(vocabulary[name]) > 1:
                assert lexicon.mapping[name] != name and vocabulary[lexicon.mapping[name]] == vocabulary[name]
        facts = {lowered(fact) for fact in family.task_relations(text_env_of(grounded).task)}
        assert facts and facts <= world, "a grounded task shows only facts common knowledge holds"
        moved = {(fact[0], *(lexicon.mapping.get(name, name) for name in fact[1:])) for fact in facts}
        held += len(moved & world)
        shown += len(moved)
    assert held / shown < 0.5, f"{held} of {shown} shown facts still hold in the counterfactual world"


def test_the_counterfactual_world_is_one_world_for_every_task_and_its_seed_picks_it():
    a, b = (llm_gym.make("llm_gym/TextCraft-v0", semantics="counterfactual") for _ in range(2))
    other = llm_gym.make("llm_gym/TextCraft-v0", semantics="counterfactual@1")
    a.reset(seed=0)
    b.reset(seed=5)
    other.reset(seed=0)
    assert lexicon_of(a).mapping == lexicon_of(b).mapping != lexicon_of(other).mapping


def test_an_agent_that_acts_on_common_knowledge_is_read_in_the_counterfactual_world():
    env = llm_gym.make("llm_gym/TextCraft-v0", semantics="counterfactual")
    env.reset(seed=0)
    core = text_env_of(env)
    native = core.format_command(core.oracle_action())
    lexicon = lexicon_of(env)
    assert lexicon.inverse(native) != native  # the real names mean other things here
    assert presentation_of(env).parse_action(lexicon.forward(native)) == core.oracle_action()


@pytest.mark.parametrize("env_id", NATIVE[:2])
def test_shift_measures_prior_consistency_and_name_familiarity_apart(env_id):
    grounded, counterfactual, made_up = (EnvConfig(env_id, semantics=setting) for setting in SETTINGS)
    prior = distance(grounded, counterfactual, episodes=4)
    names = distance(counterfactual, made_up, episodes=4)
    assert prior.components["world_knowledge"] > 0.5 and prior.components["name_familiarity"] == 0.0
    assert names.components["name_familiarity"] > 0.5 and names.components["world_knowledge"] < 0.25
    assert distance(grounded, grounded, episodes=2).semantic == 0.0


@pytest.mark.parametrize(
    "env_id,semantics,allowed",
    [
        ("llm_gym/BabyAI-v0", "counterfactual", "made-up"),
        ("llm_gym/Shop-v0", "bogus", "counterfactual"),
        ("llm_gym/TextCraft-v0", "grounded@2", "takes no seed"),
    ],
)
def test_a_semantics_the_family_cannot_offer_names_the_allowed_ones(env_id, semantics, allowed):
    with pytest.raises(ValueError, match=allowed):
        llm_gym.make(env_id, semantics=semantics)


@pytest.mark.parametrize("env_id", [*NATIVE, "llm_gym/BabyAI-v0"])
@pytest.mark.parametrize("interface", ["markdown+native", "json+toolcall", "kv+tagged", "prose+index"])
def test_no_original_name_leaks_through_an_interface_that_redraws_the_observation(env_id, interface):
    """Interface wrappers above ``Reskin`` compose the observation again from the view and the
    action list; every name in it must still be the made-up one (``forward`` renames nothing)."""
    env = llm_gym.make(env_id, interface=interface, semantics="made-up", difficulty="easy")
    for seed in range(3):
        observation, _ = env.reset(seed=seed)
        lexicon = lexicon_of(env)
        assert lexicon.mapping and lexicon.forward(observation) == observation
        for _ in range(3):
            command = text_env_of(env).oracle_action()
            observation, _, terminated, truncated, _ = env.step(presentation_of(env).format_command(command))
            assert lexicon.forward(observation) == observation
            if terminated or truncated:
                break
