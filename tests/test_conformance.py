"""The contract checker over every registered id: each family added later is checked for free."""

import pytest

import llm_gym
from llm_gym.testing import check_text_env

# Seeds a preset of the difficulty-ordering and exploit checks, and the search's node budget. The
# defaults suit families whose reset and copy cost well under a millisecond. TextWorld compiles a
# game per seed (seconds on a cold cache) and a copy rebuilds its engine (35-200 ms); a BabyAI
# reset at hard and expert searches the grid (0.1-1 s). Their exploit check still needs enough
# seeds to tell an exploit from chance: it compares with uniform random play on the same seeds.
SETTINGS = {
    "llm_gym/TextWorld-v0": {"difficulty_seeds": 6, "exploit_seeds": 20, "search_nodes": 150},
    "llm_gym/BabyAI-v0": {"difficulty_seeds": 8, "exploit_seeds": 12, "search_nodes": 500},
}
DEFAULTS = {"difficulty_seeds": 20, "exploit_seeds": 20, "search_nodes": 2_000}


@pytest.mark.parametrize("env_id", llm_gym.env_ids())
def test_registered_env_keeps_the_contract(env_id):
    report = check_text_env(env_id, seeds=2, **SETTINGS.get(env_id, DEFAULTS))
    assert all(rate == 1.0 for rate in report["oracle_success"].values())
    assert report["search_complete"][report["presets"][0]] == 1.0, "the search must settle the easiest preset"
    means = list(report["mean_optimal_steps"].values())
    assert means == sorted(means)
