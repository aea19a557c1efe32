"""verl: the llm_gym agent loop, built by verl's own registry and hydra from the sample config, plays
a cell token in and token out against a stub of verl's generation server; the sample trainer config
composes with verl's ppo_trainer."""

import asyncio
from pathlib import Path

import gymnasium as gym
import pytest

from llm_gym.baselines.cells import Cell
from llm_gym.testing import oracle_actions

agent_loop = pytest.importorskip("verl.experimental.agent_loop.agent_loop", reason='pip install "llm-gym[verl]"')
import hydra  # noqa: E402
from omegaconf import OmegaConf  # noqa: E402
from verl.utils.dataset.rl_dataset import RLHFDataset  # noqa: E402
from verl.workers.rollout.replica import TokenOutput  # noqa: E402

from llm_gym.integrations.verl import LlmGymAgentLoop, dataset_rows, episode_spec  # noqa: E402

DOCS = Path(__file__).resolve().parent.parent / "docs"
CELL = Cell("llm_gym/TextCraft-v0", "medium", interface="json+tagged")


@pytest.fixture(scope="module")
def tokenizer():
    from llm_gym.baselines.tiny import build_tokenizer, env_corpus

    return build_tokenizer(env_corpus([CELL.make_env()], 4, seed=0), 400)


class StubServer:
    """verl's server manager as the agent loop sees it: ``await generate(request_id=, prompt_ids=,
    sampling_params=)`` returns a ``TokenOutput``. It replies with scripted texts, records every
    prompt it is sent and every id it generates."""

    def __init__(self, tokenizer, replies):
        self.tokenizer, self.replies = tokenizer, list(replies)
        self.prompts, self.generated = [], []

    async def generate(self, request_id, *, prompt_ids, sampling_params, **kwargs):
        text = self.replies[min(len(self.prompts), len(self.replies) - 1)]
        ids = self.tokenizer.encode(text, add_special_tokens=False) + [self.tokenizer.eos_token_id]
        self.prompts.append(list(prompt_ids))
        self.generated.append(ids)
        return TokenOutput(token_ids=ids, log_probs=[-0.5] * len(ids))


def _loop(tokenizer, server, response_length=4096, **loop_config):
    """The loop as verl's AgentLoopWorker builds it: hydra.instantiate of its registry entry (here
    the sample config's entry) with verl's own arguments."""
    [entry] = OmegaConf.load(DOCS / "verl_agent_loop.yaml")
    entry = OmegaConf.merge(entry, loop_config)
    config = OmegaConf.create(
        {
            "actor_rollout_ref": {
                "rollout": {"prompt_length": 2048, "response_length": response_length, "multi_turn": {}}
            },
            "data": {},
        }
    )
    OmegaConf.set_struct(entry, False)
    entry.pop("name")
    return hydra.utils.instantiate(
        entry,
        trainer_config=agent_loop.DictConfigWrap(config),
        server_manager=server,
        tokenizer=tokenizer,
        processor=None,
        hf_model_type=None,
        dataset_cls=RLHFDataset,
        data_config=agent_loop.DictConfigWrap(config.data),
        tools=agent_loop.ToolListWrap([]),
    )


def _play(loop, row):
    async def run():
        loop.loop = asyncio.get_running_loop()
        return await loop.run({"temperature": 1.0}, raw_prompt=row["prompt"], extra_info=row["extra_info"])

    return asyncio.run(run())


def _segments(ids, mask):
    """Runs of ``ids`` with equal mask: [(mask value, ids), ...]."""
    runs = []
    for token, bit in zip(ids, mask):
        if runs and runs[-1][0] == bit:
            runs[-1][1].append(token)
        else:
            runs.append((bit, [token]))
    return runs


def test_registered_under_its_name_in_verls_registry():
    assert agent_loop._agent_loop_registry["llm_gym"] == {"_target_": "llm_gym.integrations.verl.LlmGymAgentLoop"}


def test_the_loop_plays_an_episode_token_in_token_out(tokenizer):
    [row] = dataset_rows([CELL], [3])
    actions = oracle_actions(CELL.make_env(), 3)
    server = StubServer(tokenizer, actions)
    output = _play(_loop(tokenizer, server), row)
    assert isinstance(output, agent_loop.AgentLoopOutput)
    assert output.reward_score == 1.0 and output.extra_fields["llm_gym"]["outcome"] == "success"
    assert output.extra_fields["turn_scores"] == [0.0] * (len(actions) - 1) + [1.0]
    assert output.num_turns == 2 * len(actions) + 1
    # token in, token out: each prompt is the previous one, its reply and the new observation
    assert output.prompt_ids == server.prompts[0]
    for before, reply, after in zip(server.prompts, server.generated, server.prompts[1:]):
        assert after[: len(before) + len(reply)] == before + reply
    full = output.prompt_ids + output.response_ids
    assert server.prompts[-1] + server.generated[-1] == full
    # mask 1 exactly on the generated ids, 0 on the environment's
    runs = _segments(output.response_ids, output.response_mask)
    assert [ids for bit, ids in runs if bit == 1] == server.generated
    assert [bit for bit, _ in runs] == [1, 0] * (len(actions) - 1) + [1]
    env = CELL.make_env()
    env.reset(seed=3)
    for action, (_, ids) in zip(actions, [run for run in runs if run[0] == 0]):
        observation = env.step(action)[0]
        assert observation in tokenizer.decode(ids)
    assert output.response_logprobs == [-0.5 if bit else 0.0 for bit in output.response_mask]
    tensors = output.as_dict()  # verl's own conversion for its batch
    assert tensors["rm_scores"][-1] == 1.0 and tensors["response_mask"].sum() == sum(map(len, server.generated))


def test_long_episodes_stop_at_the_response_length_as_truncated(tokenizer):
    [row] = dataset_rows([CELL], [4])
    server = StubServer(tokenizer, ["flap your wings"])
    output = _play(_loop(tokenizer, server, response_length=300), row)
    record = output.extra_fields["llm_gym"]
    assert record["outcome"] == "truncated" and output.reward_score == 0.0
    assert set(record["statuses"]) == {"parse_error"}
    assert len(output.response_ids) == len(output.response_mask) <= 300


def test_instructions_move_to_a_system_message(tokenizer):
    [row] = dataset_rows([CELL], [5])
    server = StubServer(tokenizer, oracle_actions(CELL.make_env(), 5))
    _play(_loop(tokenizer, server, instructions="system"), row)
    rules = CELL.make_env().reset(seed=5)[1]["instructions"]
    prompt = tokenizer.decode(server.prompts[0])
    assert prompt.index("system") < prompt.index(rules[:40]) < prompt.index("user")


def test_rows_name_their_cell_and_seed(tokenizer):
    rows = dataset_rows([CELL, "llm_gym/Household-v0"], range(2))
    assert [episode_spec(row["extra_info"]) for row in rows] == [
        (CELL, 0),
        (CELL, 1),
        (Cell("llm_gym/Household-v0"), 0),
        (Cell("llm_gym/Household-v0"), 1),
    ]
    first = gym.make("llm_gym/Household-v0").reset(seed=1)[0]
    assert rows[3]["prompt"] == [{"role": "user", "content": first}] and rows[3]["agent_name"] == "llm_gym"
    assert episode_spec({"llm_gym": {"seed": 2}}, {"env_id": "llm_gym/BabyAI-v0"}) == (Cell("llm_gym/BabyAI-v0"), 2)
    for bad in ({}, {"llm_gym": {"cell": "llm_gym/BabyAI-v0"}}, {"llm_gym": {"seed": "two"}}):
        with pytest.raises(ValueError, match="extra_info"):
            episode_spec(bad, "llm_gym/BabyAI-v0")
    with pytest.raises(hydra.errors.InstantiationException, match="instructions = 'shout' is invalid"):
        _loop(tokenizer, StubServer(tokenizer, ["x"]), instructions="shout")


def test_the_sample_trainer_config_composes_with_verls_ppo_trainer():
    from hydra import compose, initialize_config_dir
    from verl.utils.config import omega_conf_to_dataclass

    with initialize_config_dir(config_dir=str(DOCS), version_base=None):
        config = compose(config_name="verl_llm_gym_grpo")
    rollout = omega_conf_to_dataclass(config.actor_rollout_ref.rollout)
    assert rollout.agent.default_agent_loop == "llm_gym" and rollout.multi_turn.enable
    assert rollout.prompt_length == 1024 and rollout.response_length == 3072  # from data.max_*_length
    assert (DOCS.parent / rollout.agent.agent_loop_config_path).is_file()
    assert config.algorithm.adv_estimator == "grpo"
    assert LlmGymAgentLoop.__module__ == "llm_gym.integrations.verl"
