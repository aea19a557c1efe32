import copy
import pickle
import random
import re
from collections import Counter

import gymnasium as gym
import pytest
from search_helpers import bfs_shortest, play, same_future

import llm_gym  # noqa: F401
from llm_gym.families.searchqa import (
    GRAMMAR,
    LINKS,
    OCCUPATIONS,
    ORG_KINDS,
    PRESETS,
    QUESTION_COUNT,
    STRUCTURAL_VOCABULARY,
    THEMES,
    WORK_KINDS,
    YEARS,
    SearchQAConfig,
    SearchQAEnv,
    _abstract_world,
    answer_f1,
    generate_task,
    name_pools,
    normalize_answer,
    real_names,
    real_world,
)
from llm_gym.grammar import Command
from llm_gym.retrieval import tokenize
from llm_gym.testing import run_oracle_episode

ENV_ID = "llm_gym/SearchQA-v0"


def make(difficulty="easy", **kwargs):
    return gym.make(ENV_ID, difficulty=difficulty, **kwargs)


def test_name_pools_are_single_distinct_tokens_outside_the_structure():
    structure = STRUCTURAL_VOCABULARY
    sizes = {pool: len(words) for pool, words in name_pools(THEMES[0]).items()}
    for theme in THEMES:
        pools = name_pools(theme)
        assert {pool: len(words) for pool, words in pools.items()} == sizes
        words = [word.lower() for pool in pools.values() for word in pool]
        assert len(set(words)) == len(words), theme
        assert all(tokenize(word) == [word] and word not in structure for word in words), theme


def test_generator_is_pure_and_cached():
    config = PRESETS["hard"]
    first = generate_task(11, config, "fantasy")
    generate_task.cache_clear()
    again = generate_task(11, config, "fantasy")
    assert first == again and first is not again
    assert generate_task(11, config, "fantasy") is again


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_themes_are_token_for_token_renamings(seed):
    """Every theme's documents map onto the realistic theme's by one bijection of tokens that
    keeps structural words and years, so BM25 ranks alike and the structure is identical."""
    config = PRESETS["expert"]
    base = generate_task(seed, config, "realistic")
    for theme in THEMES[1:]:
        other = generate_task(seed, config, theme)
        assert (other.kind, other.hops, other.needed, other.optimal_steps) == (
            base.kind,
            base.hops,
            base.needed,
            base.optimal_steps,
        )
        forward, backward = {}, {}
        for a, b in zip(base.documents, other.documents):
            tokens_a, tokens_b = tokenize(f"{a.title} {a.text}"), tokenize(f"{b.title} {b.text}")
            assert len(tokens_a) == len(tokens_b)
            for x, y in zip(tokens_a, tokens_b):
                assert forward.setdefault(x, y) == y and backward.setdefault(y, x) == x
        assert all(x == y for x, y in forward.items() if x in STRUCTURAL_VOCABULARY or x.isdigit())
        assert not set(base.entities) & set(other.entities)
        for query_a, query_b in zip(base.oracle_queries, other.oracle_queries):
            assert base.index.search(query_a, config.top_k) == other.index.search(query_b, config.top_k)


@pytest.mark.parametrize("preset", list(PRESETS))
def test_oracle_queries_retrieve_each_needed_document(preset):
    config = PRESETS[preset]
    for seed in range(30):
        task = generate_task(seed, config, "made-up")
        seen = set()
        for doc, query in zip(task.needed, task.oracle_queries):
            if doc in seen:
                continue
            results = task.index.search(query, config.top_k)
            assert doc in results
            seen.update(results)
        assert task.optimal_steps <= task.plan_steps == task.hops + 1 == config.hops + 1


@pytest.mark.parametrize("preset", list(PRESETS))
def test_oracle_is_optimal_on_many_seeds(preset):
    env = make(preset, theme="fantasy")
    for seed in range(25):
        result = run_oracle_episode(env, seed)
        assert result == {
            "outcome": "success",
            "steps": result["optimal_steps"],
            "return": 1.0,
            "optimal_steps": result["optimal_steps"],
        }


def test_any_valid_config_yields_tasks_the_oracle_solves():
    chooser = random.Random(7)
    for trial in range(12):
        hops = chooser.randint(1, 4)
        config = SearchQAConfig(
            hops=hops,
            comparison=0.0 if hops == 1 else chooser.random(),
            kb_size=chooser.choice((12, 20, 60, 150)),
            distractors=chooser.choice((0, 10, 60)),
            namesakes=chooser.random(),
            top_k=chooser.randint(1, 5),
            retries=chooser.choice((0, 0, 2)),
            evidence=chooser.random() < 0.7,
        )
        env = make(config)
        result = run_oracle_episode(env, trial)
        assert result["outcome"] == "success" and result["steps"] == result["optimal_steps"] <= hops + 1, config


def test_oracle_finishes_from_any_reachable_state_and_is_always_admissible():
    env = make("expert")
    chooser = random.Random(0)
    for seed in range(12):
        _, info = env.reset(seed=seed)
        task = env.unwrapped.task
        for _ in range(chooser.randrange(6)):
            _, _, terminated, truncated, info = env.step(chooser.choice(info["admissible_actions"]))
            if terminated or truncated:
                break
        if terminated or truncated:
            continue
        unseen = [doc for doc in task.needed if doc not in env.unwrapped.seen]
        steps = 0
        while True:
            action = env.unwrapped.format_command(env.unwrapped.oracle_action())
            assert action in info["admissible_actions"]
            _, _, terminated, truncated, info = env.step(action)
            steps += 1
            if terminated or truncated:
                break
        assert info["outcome"] == "success" and steps <= len(unseen) + 1


def test_mean_optimal_steps_increase_across_presets():
    means = [sum(generate_task(s, PRESETS[p], "realistic").optimal_steps for s in range(20)) / 20 for p in PRESETS]
    assert all(a < b for a, b in zip(means, means[1:]))


def test_random_policy_succeeds_less_on_harder_presets_at_a_glance():
    rates, seeds = [], 500  # random play wins about 0.6% of medium, none of expert
    for preset in ("easy", "medium", "expert"):
        env, successes = make(preset), 0
        for seed in range(seeds):
            chooser = random.Random(seed)
            _, info = env.reset(seed=seed)
            while True:
                _, _, terminated, truncated, info = env.step(chooser.choice(info["admissible_actions"]))
                if terminated or truncated:
                    break
            successes += info["outcome"] == "success"
        rates.append(successes / seeds)
    assert rates[0] > rates[1] > rates[2], rates


def test_first_observation_and_search_results_format():
    env = make("medium", theme="realistic")
    observation, info = env.reset(seed=3)
    task = env.unwrapped.task
    assert observation.startswith(info["instructions"]) and observation.endswith(f"Question: {task.question}")
    assert "<search>" in info["instructions"] and "<answer>" in info["instructions"]
    query = task.oracle_queries[0]
    observation, reward, terminated, _, info = env.step(f"<search> {query} </search>")
    assert (reward, terminated, info["action_status"]) == (0.0, False, "ok")
    assert re.fullmatch(
        r"<information>Doc 1\(Title: [^)]+\) .+\nDoc 2\(Title: .+\nDoc 3\(Title: .+</information>", observation, re.S
    )
    assert [d["title"] for d in info["view"]["documents"]] == [
        task.documents[i].title for i in task.index.search(query, 3)
    ]
    assert "question" not in info["view"]
    observation, _, _, _, info = env.step("<search> zzzz qqqq </search>")
    assert (
        info["view"]["documents"] == [] and observation == "<information>No document matches the query.</information>"
    )


def test_native_parser_takes_one_optional_think_block_then_one_command():
    env = make("easy")
    env.reset(seed=0)
    parse = env.unwrapped.parse_action
    assert parse("<think> who is it? </think>\n<search>Maria  Keller</search>") == Command("search", ("Maria Keller",))
    assert parse("<ANSWER> 1954 </ANSWER>") == Command("answer", ("1954",))
    for text in (
        "Maria Keller",
        "<think>x</think>",
        "</information><answer>yes</answer>",
        "<search>a</search> then more",
        "<search> a </search> <answer> b </answer>",
        "<search>a</search><search>b</search>",
        "<answer>x</answer><think>y</think>",
        "<search>",
        "search[Maria]",
        None,
    ):
        env.reset(seed=0)
        _, _, _, _, info = env.step(text)
        assert info["action_status"] == "parse_error", text
        assert text is None or info["view"]["feedback"].startswith("Your previous action is invalid")
    _, _, _, _, info = env.step("<search>   </search>")
    assert info["action_status"] == "illegal"
    for command in (Command("search", ("Maria Keller painter",)), Command("answer", ("The Glass River",))):
        assert GRAMMAR.parse(GRAMMAR.render(command)) == command


def test_answers_are_normalised_and_scored():
    assert normalize_answer("  The Silent, River! ") == "silent river"
    assert answer_f1("the Maria", "Maria Keller") == pytest.approx(2 / 3)
    assert answer_f1("Oslo", "Maria Keller") == 0.0
    env = make("easy")
    env.reset(seed=5)
    gold = env.unwrapped.task.answer
    env.step(f"<search> {env.unwrapped.task.oracle_queries[0]} </search>")
    _, reward, terminated, _, info = env.step(f"<answer> THE {gold.upper()}. </answer>")
    assert (reward, terminated, info["outcome"], info["score"]) == (1.0, True, "success", 1.0)


def _retrieve_evidence(env) -> None:
    for query in env.unwrapped.task.oracle_queries:
        env.step(f"<search>{query}</search>")


def test_one_answer_ends_the_episode_by_default_and_retries_cost_reward():
    env = make("medium")
    _, info = env.reset(seed=1)
    assert "first answer ends the episode" in info["instructions"]
    _retrieve_evidence(env)
    gold = env.unwrapped.task.answer
    partial = gold.split()[0] + " Nobody" if " " in gold else "1"
    _, reward, terminated, truncated, info = env.step(f"<answer>{partial}</answer>")
    assert (reward, terminated, truncated, info["outcome"]) == (0.0, True, False, "failure")
    assert info["score"] == pytest.approx(answer_f1(partial, gold)) and "episode is over" in info["view"]["feedback"]
    lenient = make({"preset": "medium", "retries": 2, "retry_penalty": 0.3})
    _, info = lenient.reset(seed=1)
    assert "wrongly 2 times" in info["instructions"] and "0.3" in info["instructions"]
    _retrieve_evidence(lenient)
    for expected in ("running", "running"):
        _, reward, terminated, _, info = lenient.step("<answer> nobody at all </answer>")
        assert (reward, terminated, info["outcome"]) == (0.0, False, expected) and "try again" in info["view"][
            "feedback"
        ]
    _, reward, terminated, _, info = lenient.step(f"<answer>{gold}</answer>")
    assert (terminated, info["outcome"]) == (True, "success") and reward == info["score"] == pytest.approx(0.4)


def test_a_correct_answer_needs_its_evidence():
    """Guessing right before retrieving the documents the answer rests on is a failure, score 0;
    with ``evidence=False`` the answer alone counts, as in the study."""
    for seed in range(6):
        env = make("hard")
        env.reset(seed=seed)
        task = env.unwrapped.task
        env.step(f"<search>{task.oracle_queries[0]}</search>")
        _, reward, terminated, _, info = env.step(f"<answer>{task.answer}</answer>")
        assert (reward, terminated, info["outcome"], info["score"]) == (0.0, True, "failure", 0.0), seed
        loose = make({"preset": "hard", "evidence": False})
        loose.reset(seed=seed)
        _, reward, _, _, info = loose.step(f"<answer>{task.answer}</answer>")
        assert (reward, info["outcome"]) == (1.0, "success")


def test_knobs_change_the_world():
    base = {"hops": 2, "kb_size": 40, "distractors": 0, "top_k": 2, "namesakes": 0.0, "comparison": 0.0}
    task = generate_task(4, SearchQAConfig(**base), "realistic")
    assert len(task.documents) == 40 and task.kind == "bridge"
    more = generate_task(4, SearchQAConfig(**{**base, "distractors": 12}), "realistic")
    assert len(more.documents) == 52
    assert sum(any(d.title.startswith(n + " ") for n in more.entities) for d in more.documents) >= 12
    compare = [generate_task(s, SearchQAConfig(**{**base, "comparison": 1.0}), "realistic") for s in range(5)]
    assert all(t.kind == "comparison" and t.answer in t.question for t in compare)
    same = generate_task(3, SearchQAConfig(**{**base, "namesakes": 1.0, "kb_size": 80}), "realistic")
    titles = [d.title for d in same.documents]
    assert any(titles.count(same.documents[doc].title) > 1 for doc in same.needed)
    env = make({**base, "top_k": 5})
    _, info = env.reset(seed=1)
    _, _, _, _, info = env.step(f"<search>{env.unwrapped.task.oracle_queries[0]}</search>")
    assert len(info["view"]["documents"]) == 5


def test_config_validation_names_the_problem():
    with pytest.raises(ValueError, match="comparison"):
        SearchQAConfig(hops=1, comparison=0.5)
    with pytest.raises(ValueError, match="top_k"):
        SearchQAConfig(top_k=0)
    with pytest.raises(ValueError, match="Unknown difficulty knob"):
        make({"depth": 3})
    with pytest.raises(ValueError, match="theme"):
        make("easy", theme="sci-fi")


def test_info_lists_entities_and_turn_limit_truncates():
    env = make("hard", theme="made-up")
    _, info = env.reset(seed=2)
    task = env.unwrapped.task
    values = {name for kind in ("continent", "language", "currency") for name in real_names("made-up")[kind]}
    titles = {d.title for d in task.documents if d.title in info["entities"]}
    assert set(info["entities"]) == titles | (values & set(info["entities"])) and titles.isdisjoint(values)
    assert all(task.documents[doc].title in info["entities"] for doc in task.needed)
    assert info["max_turns"] == 6 + 2 * 3
    for _ in range(info["max_turns"]):
        _, _, terminated, truncated, info = env.step("<search> nothing here </search>")
    assert truncated and not terminated and info["outcome"] == "truncated"


def test_agent_text_is_only_a_query():
    env = make("easy")
    env.reset(seed=0)
    for text in ("../../../../etc/passwd", "$(reboot) && `cat /etc/passwd`", "x" * 100_000, "\x00\x1b[31m"):
        observation, _, _, _, info = env.step(f"<search>{text}</search>")
        assert info["action_status"] == "ok" and observation.startswith("<information>")


# ----- search, copies and exploits (issue 13) -------------------------------------------------


@pytest.mark.parametrize("preset", list(PRESETS))
def test_optimal_steps_equal_an_independent_breadth_first_search(preset):
    """No success is reachable in fewer than ``optimal_steps`` admissible steps, and the oracle
    reaches it in exactly that many; the planner's search corrected the plan on some seeds."""
    env = make(preset)
    for seed in range(6):
        _, info = env.reset(seed=seed)
        assert info["optimal_exact"] and bfs_shortest(env, info["optimal_steps"] - 1) is None, seed
        assert run_oracle_episode(env, seed)["steps"] == info["optimal_steps"]
    corrected = [160, 299]  # hard seeds where one search retrieves two needed documents
    env = make("hard")
    for seed in corrected:
        _, info = env.reset(options={"task_seed": seed})
        assert bfs_shortest(env, info["optimal_steps"]) == info["optimal_steps"] < env.unwrapped.task.plan_steps == 4
        assert play(env, lambda e, i, t: e.unwrapped.format_command(e.unwrapped.oracle_action())) == (
            True,
            info["optimal_steps"],
        )


def test_oracle_is_optimal_from_off_plan_states():
    chooser = random.Random(5)
    for preset in ("medium", "hard"):
        env = make(preset)
        for seed in range(8):
            _, info = env.reset(seed=seed)
            for _ in range(chooser.randint(1, 3)):  # a few random searches, never an answer
                searches = [a for a in info["admissible_actions"] if a.startswith("<search>")]
                _, _, _, _, info = env.step(chooser.choice(searches))
            shortest = bfs_shortest(env, 5)
            steps = play(copy.deepcopy(env), lambda e, i, t: e.unwrapped.format_command(e.unwrapped.oracle_action()))
            assert steps == (True, shortest), (preset, seed)


@pytest.mark.parametrize("how", ["deepcopy", "pickle"])
def test_copies_mid_episode_step_like_the_original(how):
    env = make({"preset": "hard", "retries": 1})
    for seed in range(4):
        env.reset(seed=seed)
        env.step(f"<search>{env.unwrapped.task.oracle_queries[0]}</search>")
        other = copy.deepcopy(env) if how == "deepcopy" else pickle.loads(pickle.dumps(env))
        assert other.unwrapped.state_key() == env.unwrapped.state_key()
        assert other.unwrapped.oracle_action() == env.unwrapped.oracle_action()
        same_future(env, other, random.Random(seed))
    assert len(pickle.dumps(env)) < 20_000  # the task is rebuilt on load, not pickled


def _exploits(env) -> dict:
    task = env.unwrapped.task
    named = [n for n in sorted(task.entities, key=len, reverse=True) if n in task.question]
    return {
        "answer a name from the question": lambda e, i, t: f"<answer>{(named or ['x'])[0]}</answer>",
        "enumerate the question's names": lambda e, i, t: (
            f"<answer>{(named or ['x'])[t % max(1, len(named))]}</answer>"
        ),
        "enumerate info entities": lambda e, i, t: f"<answer>{i['entities'][t % len(i['entities'])]}</answer>",
        "first admissible action": lambda e, i, t: i["admissible_actions"][0],
        "repeat one search": lambda e, i, t: f"<search>{task.oracle_queries[0]}</search>",
        "search the question, answer the first title": lambda e, i, t: (
            f"<search>{task.question}</search>"
            if t == 0
            else f"<answer>{(i['view'].get('documents') or [{'title': 'x'}])[0]['title']}</answer>"
        ),
        "search once, then answer every name seen": lambda e, i, t: (
            i["admissible_actions"][0]
            if t == 0
            else ([a for a in i["admissible_actions"] if a.startswith("<answer>")] or ["<answer>x</answer>"])[
                t - 1 if t - 1 < len([a for a in i["admissible_actions"] if a.startswith("<answer>")]) else 0
            ]
        ),
    }


@pytest.mark.parametrize("preset", list(PRESETS))
def test_exploit_policies_rarely_succeed(preset):
    """Answering without evidence, enumerating names, repeating, the first admissible action and
    the greedy first title: one answer ends the episode and answers need their evidence."""
    env = make(preset)
    wins: dict[str, int] = {}
    seeds = range(60)
    for seed in seeds:
        env.reset(seed=seed)
        for name, policy in _exploits(env).items():
            env.reset(seed=seed)
            wins[name] = wins.get(name, 0) + play(env, policy)[0]
    assert all(count / len(seeds) <= 0.05 for count in wins.values()), wins


def _reference_success(preset: str, seeds: range) -> tuple[float, float]:
    """Success of a uniform-random admissible policy and of the greedy heuristic (search the
    question's words, answer with the first result's title)."""
    env, randomly, greedily = make(preset), 0, 0
    for seed in seeds:
        chooser = random.Random(seed)
        env.reset(seed=seed)
        randomly += play(env, lambda e, i, t, chooser=chooser: chooser.choice(i["admissible_actions"]))[0]
        env.reset(seed=seed)
        greedily += play(env, _exploits(env)["search the question, answer the first title"])[0]
    return randomly / len(seeds), greedily / len(seeds)


@pytest.mark.slow
def test_reference_policies_never_do_better_on_harder_presets():
    """300 seeds per preset: random and greedy success never rise beyond noise (0.02), random at
    most 0.5 at easy and 0.02 at expert; mean optimal steps strictly increase."""
    seeds = range(300)
    rates = [_reference_success(preset, seeds) for preset in PRESETS]
    for policy in (0, 1):
        assert all(b[policy] <= a[policy] + 0.02 for a, b in zip(rates, rates[1:])), rates
    assert rates[0][0] <= 0.5 and rates[-1][0] <= 0.02, rates
    means = [sum(generate_task(s, PRESETS[p], "realistic").optimal_steps for s in seeds) / len(seeds) for p in PRESETS]
    assert all(a < b for a, b in zip(means, means[1:])), means


def test_max_turns_below_the_optimum_is_a_value_error():
    env = make("expert", max_turns=3)
    with pytest.raises(ValueError, match=r"needs 5 steps .* max_turns = 3"):
        env.reset(seed=0)


def test_native_texts_match_the_grammar():
    env = make("expert")
    _, info = env.reset(seed=3)
    for _ in range(3):
        assert info["admissible_actions"] == [GRAMMAR.render(c) for c in env.unwrapped.admissible_commands()]
        _, _, _, _, info = env.step(
            info["admissible_actions"][-1]
            if info["admissible_actions"][-1].startswith("<search>")
            else info["admissible_actions"][0]
        )


# ----- the grounded world and the semantic axis (issue 15) ----------------------------------


def test_the_grounded_world_is_rich_and_its_file_consistent():
    world = real_world()
    names = world.names
    assert (len(names["country"]), len(names["city"]), len(names["river"])) >= (50, 250, 40)
    assert len(LINKS) + len(YEARS) >= 20 and QUESTION_COUNT >= 30
    for country, name in enumerate(names["country"]):
        capital = world.capital[country]
        assert world.country[capital] == country and capital not in world.cities[country]
        assert all(world.country[city] == country for city in world.cities[country]), name
    for river, banks in enumerate(world.banks):
        assert banks and all(world.river[city] == river for city in banks)
    assert names["city"][world.capital[names["country"].index("France")]] == "Paris"
    assert ("currency_of", "yen", "Japan") in world.relations()
    assert ("flows_through", "Danube", "Vienna") in world.relations()
    assert "World Factbook" in world.source


@pytest.mark.parametrize("seed", range(40))
def test_generated_dates_and_kinds_agree(seed):
    """A person is born before their children and dies after them being born, joins an organisation
    after it was founded and as an adult, studies where a university already stood; an organisation
    is founded by an adult; a work is made by a living creator of its art and released by an
    organisation that already existed; a city lies in the real country it names."""
    entities = _abstract_world(random.Random(seed), PRESETS["expert"])
    world = real_world()
    for entity in entities:
        years, links = entity.years, {relation: entities[target] for relation, target in entity.links.items()}
        if entity.kind == "person":
            assert years["born"] + 45 <= years["died"] <= 2020
            if "parent" in links:
                assert 20 <= years["born"] - links["parent"].years["born"] <= 45
                assert links["parent"].years["died"] > years["born"]
            if "employer" in links:
                assert max(years["born"] + 20, links["employer"].years["founded"]) <= years["joined"] < years["died"]
            if "studied_at" in links:
                assert links["studied_at"].sub == ORG_KINDS.index("university")
                assert links["studied_at"].years["founded"] <= years["born"] + 18
            if "spouse" in links:
                assert entities[links["spouse"].links["spouse"]] is entity
        if entity.kind == "organisation":
            founder = links["founder"]
            assert founder.years["born"] + 25 <= years["founded"] <= founder.years["died"]
        if entity.kind == "work":
            creator = links["creator"]
            assert creator.years["born"] + 20 <= years["created"] <= creator.years["died"]
            assert WORK_KINDS[entity.sub][2] == OCCUPATIONS[creator.sub]
            if "publisher" in links:
                assert links["publisher"].years["founded"] <= years["created"]
        if entity.kind == "city":
            assert world.country[entity.name[0]] == links["country"].name[0]
        if entity.kind == "country":
            assert world.capital[entity.name[0]] == links["capital"].name[0]
            assert links["capital"].links["country"] == entities.index(entity)


@pytest.mark.parametrize("preset", list(PRESETS))
def test_task_relations_are_real_world_facts(preset):
    """200 seeds per preset: what a grounded task's documents state about real places is true."""
    world = SearchQAEnv.world_relations("realistic")
    kinds = Counter(relation for relation, *_ in world)
    assert set(kinds) == {
        "capital_of",
        "in_country",
        "on_continent",
        "language_of",
        "currency_of",
        "flows_through",
        "rises_in",
    }
    for seed in range(200):
        task = generate_task(seed, PRESETS[preset], "realistic")
        facts = SearchQAEnv.task_relations(task)
        assert facts and facts <= world, facts - world
        text = " ".join(d.text for d in task.documents)
        assert all(name in text for fact in facts for name in fact[1:])
    assert SearchQAEnv.world_relations("fantasy") == SearchQAEnv.world_relations("made-up") == frozenset()


def test_vocabulary_names_every_entity_by_one_interchangeable_kind():
    vocabulary = SearchQAEnv.vocabulary("realistic")
    assert SearchQAEnv.vocabulary("made-up") == SearchQAEnv.vocabulary("fantasy") == {}
    kinds = Counter(vocabulary.values())
    assert set(kinds) == {
        "person",
        "organisation",
        "work",
        "city",
        "country",
        "river",
        "continent",
        "language",
        "currency",
    }
    assert min(kinds.values()) >= 6, kinds
    rules = [make(difficulty).unwrapped.instructions for difficulty in ("easy", {"preset": "hard", "retries": 2})]
    scaffolding = {word for text in rules for word in re.findall(r"[a-z]+", text.lower())}
    lowered = {name.lower() for name in vocabulary}
    assert len(lowered) == len(vocabulary)
    assert not (lowered & (STRUCTURAL_VOCABULARY | scaffolding))
    holders: dict[str, list[str]] = {}  # word -> the names with it
    for name in lowered:
        for word in name.split():
            holders.setdefault(word, []).append(name)
    for name in lowered:  # no name is a whole-word part of another, so a renaming cannot split one
        others = [other for other in holders[name.split()[0]] if other != name]
        assert not any(re.search(rf"\b{re.escape(name)}\b", other) for other in others), name
    relations = SearchQAEnv.world_relations("realistic")
    assert all(vocabulary[name] for fact in relations for name in fact[1:])
    for preset in PRESETS:
        for seed in range(30):
            task = generate_task(seed, PRESETS[preset], "realistic")
            assert all(name in vocabulary for name in task.entities)
            names = re.compile("|".join(rf"\b{re.escape(n)}\b" for n in sorted(task.entities, key=len, reverse=True)))
            for text in [task.question, *(f"{d.title} {d.text}" for d in task.documents)]:
                rest = set(
                    re.findall(r"[a-z]+", names.sub(" ", text).lower())
                )  # a renaming of the entities renames all
                assert rest <= STRUCTURAL_VOCABULARY, (rest - STRUCTURAL_VOCABULARY, text)


def test_goals_are_varied_and_structures_name_nothing():
    """Over 600 medium seeds at least 550 distinct questions (5,000 seeds give over 4,000: see
    benchmarks/variety_searchqa.py); task ids carry a goal digest and a structure signature."""
    config = PRESETS["medium"]
    tasks = [generate_task(seed, config, "realistic") for seed in range(600)]
    assert len({task.goal_text for task in tasks}) >= 550
    assert all(task.goal_text == task.question for task in tasks)
    structures = Counter(task.structure for task in tasks)
    assert len(structures) >= 40
    for task in tasks[:100]:
        assert re.fullmatch(r"[a-z0-9.-]+", task.structure)
        assert not any(name.lower() in task.structure for name in task.entities)
    env = make("hard")
    _, info = env.reset(seed=4)
    task = env.unwrapped.task
    assert info["task_id"].split(":")[-2] == task.structure and info["task_id"].split(":")[3].startswith("g")


def test_suggested_actions_are_written_when_read_and_equal_the_tuple_of_them():
    """Each document's suggestions are its mentions' searches and answers, in order, written on
    first reading; the sequence equals the tuple of them, pickles and hashes alike."""
    from llm_gym.families.searchqa import _actions

    task = generate_task.__wrapped__(8, PRESETS["expert"], "realistic")  # a task of its own: nothing read yet
    suggestions = task.suggested_actions
    assert len(suggestions) == len(task.documents) and not any(suggestions._made)
    written = tuple(suggestions)
    assert written == tuple(_actions(*mention) for mention in suggestions._rows)
    assert suggestions == written and written == suggestions and suggestions[1:3] == written[1:3]
    assert hash(suggestions) == hash(written) and pickle.loads(pickle.dumps(task)) == task
    for document, actions in enumerate(written):
        queries = {query for _, (verb, query) in actions if verb == "search"}
        assert queries <= set(task.graph.results), document
