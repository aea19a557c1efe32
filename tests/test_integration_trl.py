"""The TRL adapter against TRL itself: its GRPOTrainer, its tool-call parser, its schema extraction.

The trainer runs use the toy Counter family (``toy_envs``, registered here outside the ``llm_gym``
namespace): its tasks are one to three calls long, so a tiny model taught the call format in a
few supervised steps, but not the task, gets episodes of a group that differ in reward, which
GRPO needs before any parameter moves. The oracle runs use real families.
"""

from __future__ import annotations

import inspect
import json
import os
import random

import gymnasium as gym
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("trl")
pytest.importorskip("datasets")

import llm_gym  # noqa: E402,F401
from llm_gym.integrations import trl as adapter  # noqa: E402
from llm_gym.presentation import presentation_of  # noqa: E402
from llm_gym.registry import FamilyEntryPoint, env_ids  # noqa: E402

torch.set_num_threads(1)
os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")
COUNTER = "llm_gym_tests/Counter-v0"
if COUNTER not in gym.registry:
    gym.register(COUNTER, entry_point=FamilyEntryPoint("toy_envs:CounterEnv"))


def trl_tools(instance) -> dict:
    """The tools TRL finds on an environment instance, as ``GRPOTrainer`` collects them."""
    return {
        name: member
        for name, member in inspect.getmembers(instance, predicate=inspect.ismethod)
        if name not in ("reset", "get_reward") and not name.startswith("_")
    }


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A tiny model and tokenizer with a tool-calling chat template, taught in a few supervised
    steps to answer a Counter prompt with a call of a random count: a native tool call where the
    prompt offers tools, the native text ``add N`` where it does not. Returns the checkpoint dir."""
    from llm_gym.baselines.rollout import ChatCodec
    from llm_gym.baselines.tiny import build_model, build_tokenizer

    rng = random.Random(0)
    template = adapter.tool_chat_template()
    env = adapter.environment_factory(COUNTER)()
    native = gym.make(COUNTER)
    tool_prompts = [[{"role": "user", "content": env.reset(seed=seed)}] for seed in range(30)]
    native_firsts = [native.reset(seed=seed) for seed in range(30)]

    def call(count: int) -> str:
        return "<tool_call>\n" + json.dumps({"name": "add", "arguments": {"count": count}}) + "\n</tool_call><|im_end|>"

    draft = build_tokenizer(["add"], 300)
    draft.chat_template = template
    corpus = [draft.apply_chat_template(p, tools=[env.add], tokenize=False) + call(1) for p in tool_prompts]
    tokenizer = build_tokenizer(2 * corpus + [observation for observation, _ in native_firsts], 1024)
    tokenizer.chat_template = template
    codec = ChatCodec(tokenizer)
    prompts = [
        (list(tokenizer.apply_chat_template(p, tools=[env.add], add_generation_prompt=True, return_dict=False)), True)
        for p in tool_prompts
    ] + [(codec.first(observation, info["instructions"]), False) for observation, info in native_firsts]
    model = build_model(tokenizer, hidden=32, layers=1, heads=2, kv_heads=1)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    for _ in range(60):
        rows = []
        for prompt, tools in rng.sample(prompts, 8):
            count = rng.randint(1, 3)
            reply = tokenizer.encode(call(count), add_special_tokens=False) if tools else codec.reply(f"add {count}")
            rows.append((prompt, reply))
        width = max(len(p) + len(r) for p, r in rows)
        ids = torch.full((len(rows), width), tokenizer.pad_token_id)
        labels = torch.full((len(rows), width), -100)
        attention = torch.zeros((len(rows), width), dtype=torch.long)
        for row, (prompt, reply) in enumerate(rows):
            ids[row, : len(prompt) + len(reply)] = torch.tensor(prompt + reply)
            labels[row, len(prompt) : len(prompt) + len(reply)] = torch.tensor(reply)
            attention[row, : len(prompt) + len(reply)] = 1
        model(input_ids=ids, attention_mask=attention, labels=labels).loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    path = tmp_path_factory.mktemp("tiny_tools")
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def load(path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    return AutoModelForCausalLM.from_pretrained(path), AutoTokenizer.from_pretrained(path)


def grpo_config(out_dir):
    from trl import GRPOConfig

    return GRPOConfig(
        output_dir=str(out_dir),
        max_steps=2,
        per_device_train_batch_size=16,
        num_generations=4,
        max_completion_length=96,
        max_tool_calling_iterations=4,
        learning_rate=1e-3,
        logging_steps=1,
        report_to="none",
        save_strategy="no",
        use_cpu=True,
        bf16=False,
        seed=0,
    )


def changed_parameters(model, before: dict) -> int:
    return sum(not torch.equal(before[name], p.detach()) for name, p in model.named_parameters())


def test_grpo_trainer_trains_through_the_generated_tools(tiny, tmp_path):
    from trl import GRPOTrainer

    model, tokenizer = load(tiny)
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    trainer = GRPOTrainer(
        model=model,
        processing_class=tokenizer,
        args=grpo_config(tmp_path),
        train_dataset=adapter.dataset([COUNTER], seeds=range(8)),
        environment_factory=adapter.environment_factory(COUNTER),
    )
    assert [tool.__name__ for tool in trainer.tools] == ["add"]
    trainer.train()
    steps = [record for record in trainer.state.log_history if "reward" in record]
    assert len(steps) == 2
    assert all("rewards/CounterToolEnv/mean" in record for record in steps)  # the env's get_reward, recorded
    assert max(record["tools/call_frequency"] for record in steps) > 0  # the model called the generated tools
    assert max(record["reward_std"] for record in steps) > 0
    assert changed_parameters(model, before) > 0
    assert all(isinstance(env, adapter.ToolEnv) and env.outcome != "not started" for env in trainer.environments)


def test_grpo_trainer_trains_on_token_exact_multi_turn_rollouts(tiny, tmp_path):
    from trl import GRPOTrainer

    from llm_gym.baselines.rollout import ChatCodec

    model, tokenizer = load(tiny)
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    rollout = adapter.MultiTurnRollout(max_new_tokens=16)
    rows = adapter.dataset([COUNTER], seeds=range(8))
    trainer = GRPOTrainer(
        model=model,
        processing_class=tokenizer,
        args=grpo_config(tmp_path),
        train_dataset=rows,
        reward_funcs=adapter.episode_return,
        rollout_func=rollout,
    )
    output = rollout([rows[i]["prompt"] for i in range(6)], trainer)
    codec, env = ChatCodec(tokenizer), gym.make(COUNTER)
    for i, completion in enumerate(output["completion_ids"]):
        observation, info = env.reset(seed=rows[i]["seed"])
        assert output["prompt_ids"][i] == codec.first(observation, info["instructions"])
        mask, logprobs = output["env_mask"][i], output["logprobs"][i]
        assert len(mask) == len(logprobs) == len(completion) and mask[0] == 1
        assert all((logprob < 0) if m else (logprob == 0.0) for m, logprob in zip(mask, logprobs))
        runs, start = [], 0  # alternating reply (mask 1) and environment (mask 0) runs
        for end in range(1, len(mask) + 1):
            if end == len(mask) or mask[end] != mask[start]:
                runs.append(completion[start:end])
                start = end
        total = 0.0
        for turn in range(0, len(runs), 2):
            observation, reward, terminated, truncated, info = env.step(codec.decode(runs[turn]))
            total += reward
            if turn + 1 < len(runs):  # the environment's tokens are the codec's encoding of its reply
                assert runs[turn + 1] == codec.next_turn(runs[turn], observation)
        assert total == output["episode_return"][i]
        assert info["outcome"] == output["episode_outcome"][i] or output["episode_outcome"][i] == "truncated"
    trainer.train()
    steps = [record for record in trainer.state.log_history if "reward" in record]
    assert all("rewards/episode_return/mean" in record and "llm_gym/success" in record for record in steps)
    assert max(record["reward_std"] for record in steps) > 0
    assert changed_parameters(model, before) > 0


def oracle_through_trl(instance, tokenizer, row) -> int:
    """Play ``row`` by writing the oracle's command as the model's tool-call text, reading it back
    with TRL's parser and calling the tool it names, as TRL's tool loop does; returns the calls."""
    from trl.chat_template_utils import parse_response

    tools = trl_tools(instance)
    observation = instance.reset(**row)
    prompt = tokenizer.apply_chat_template(
        [{"role": "user", "content": observation}],
        tools=list(tools.values()),
        add_generation_prompt=True,
        return_dict=False,  # parse_response takes the prompt's ids, as TRL's tool loop passes them
    )
    calls = 0
    while not instance.done:
        env = instance.env
        written = json.loads(presentation_of(env).format_command(env.unwrapped.oracle_action()))
        method = tools[written["name"]]
        names = [name for name in inspect.signature(method).parameters]  # the schema's names, by position
        arguments = dict(zip(names, written["arguments"].values()))
        text = "<tool_call>\n" + json.dumps({"name": written["name"], "arguments": arguments}) + "\n</tool_call>"
        parsed = parse_response(tokenizer, tokenizer.encode(text + "<|im_end|>", add_special_tokens=False), prompt)
        (call,) = parsed["tool_calls"]
        feedback = tools[call["function"]["name"]](**call["function"]["arguments"])
        assert isinstance(feedback, str) and feedback
        calls += 1
    return calls


@pytest.mark.parametrize(
    "cell",
    [
        {"env_id": "llm_gym/TextCraft-v0", "difficulty": "medium"},
        {"env_id": "llm_gym/Household-v0", "difficulty": "easy", "interface": "json"},
        {"env_id": "llm_gym/TextCraft-v0", "difficulty": "easy", "semantics": "made-up"},
    ],
)
def test_oracle_solves_tasks_through_trls_tool_call_parser(tiny, cell):
    from transformers import AutoTokenizer
    from trl.chat_template_utils import add_response_schema

    tokenizer = add_response_schema(AutoTokenizer.from_pretrained(tiny))
    instance = adapter.environment_factory(cell["env_id"])()
    for row in adapter.dataset([cell], seeds=range(3)):
        calls = oracle_through_trl(instance, tokenizer, row)
        assert instance.outcome == "success" and instance.get_reward() > 0
        assert set(instance.statuses) == {"ok"} and calls == instance.env.unwrapped.task.optimal_steps
        look = next(tool for tool in trl_tools(instance).values() if not inspect.signature(tool).parameters)
        assert "episode is over (success)" in look()


def test_trls_schema_extraction_gives_each_familys_grammar():
    from transformers.utils import get_json_schema

    for env_id in env_ids():
        Tools = adapter.environment_factory(env_id)
        tools, grammar = trl_tools(Tools()), Tools.grammar
        assert sorted(tools) == sorted(spec.tool_name for spec in grammar)  # TRL lists them by name
        for expected in grammar.tool_schemas():
            schema = get_json_schema(tools[expected["function"]["name"]])["function"]
            wanted = expected["function"]
            assert schema["description"] == wanted["description"]
            assert schema["parameters"].get("required", []) == wanted["parameters"]["required"]
            for name, prop in wanted["parameters"]["properties"].items():
                got = schema["parameters"]["properties"][name]
                assert got["type"] == prop["type"] and got["description"].startswith(prop.get("description", ""))
                assert got.get("items", {}).get("type") == prop.get("items", {}).get("type")


def test_bad_calls_and_rows_get_clear_answers():
    counter = adapter.environment_factory(COUNTER)()
    assert "not reset" in counter.add(count=1)
    with pytest.raises(ValueError, match="seed"):
        counter.reset(prompt=[])
    with pytest.raises(ValueError, match="plays llm_gym_tests/Counter-v0"):
        counter.reset(seed=0, environment="llm_gym/TextCraft-v0")
    (row,) = adapter.dataset([{"env_id": COUNTER, "difficulty": {"low": 2, "high": 2}}], seeds=[5])
    assert row["difficulty"] == '{"high": 2, "low": 2}'
    counter.reset(**row)
    assert counter.env.unwrapped.task.target == 2
    assert "takes exactly the arguments ['count']" in counter.add(amount=1)
    assert "non-negative integer" in counter.add(count="one")
    assert counter.statuses == ["parse_error", "parse_error"] and not counter.done
    assert "Done!" in counter.add(count=2) and counter.done and counter.get_reward() == 1.0
    turn = counter.env.unwrapped.turn
    assert "episode is over (success)" in counter.add(count=1) and counter.env.unwrapped.turn == turn
    with pytest.raises(ValueError, match="toolcall"):
        adapter.environment_factory(COUNTER, interface="json+react")
    with pytest.raises(ValueError, match="history"):
        adapter.environment_factory(COUNTER, interface="history")
    with pytest.raises(ValueError, match="bad cell"):
        adapter.dataset([{"env_id": COUNTER, "difficulty": "impossible"}], seeds=[0])
    with pytest.raises(ValueError, match="llm_gym_task"):
        adapter.MultiTurnRollout()([[{"role": "user", "content": "hi"}]], trainer=None)
