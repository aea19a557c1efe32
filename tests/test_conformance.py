"""The contract checker over every registered id: each family added later is checked for free."""

import pytest

import llm_gym
from llm_gym.testing import check_text_env

# Families whose task generation costs seconds (TextWorld compiles a game per seed): fewer seeds
# for the difficulty-ordering and exploit checks keep the suite within CI's time on a cold cache.
FEW_SEEDS = {"llm_gym/TextWorld-v0": 6}
# A TextWorld copy rebuilds the engine and replays the episode (35-200 ms), so its breadth-first
# proof gets a smaller node budget: it settles the easiest preset and reports the rest as open.
SEARCH_NODES = {"llm_gym/TextWorld-v0": 150}


@pytest.mark.parametrize("env_id", llm_gym.env_ids())
def test_registered_env_keeps_the_contract(env_id):
    seeds = FEW_SEEDS.get(env_id, 20)
    report = check_text_env(
        env_id, seeds=2, difficulty_seeds=seeds, exploit_seeds=seeds, search_nodes=SEARCH_NODES.get(env_id, 2_000)
    )
    assert all(rate == 1.0 for rate in report["oracle_success"].values())
    assert report["search_complete"][report["presets"][0]] == 1.0, "the search must settle the easiest preset"
    means = list(report["mean_optimal_steps"].values())
    assert means == sorted(means)
