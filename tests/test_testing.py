"""The contract checker passes a correct env and fails each deliberately broken one."""

import os
from pathlib import Path

import pytest
import toy_envs

from llm_gym.testing import (
    ContractError,
    check_copies,
    check_cross_process,
    check_determinism,
    check_exploits,
    check_fuzzed_actions,
    check_illegal_commands,
    check_info_and_spaces,
    check_monotone_difficulty,
    check_optimal_by_search,
    check_oracle,
    check_oracle_after_end,
    check_reference_difficulty,
    check_text_env,
)


def test_correct_toy_env_passes_everything(monkeypatch):
    monkeypatch.setenv(
        "PYTHONPATH", str(Path(toy_envs.__file__).parent) + os.pathsep + os.environ.get("PYTHONPATH", "")
    )
    # Adding 1 every turn wins the counter, so its exploit check is a test of its own (below).
    report = check_text_env(toy_envs.CounterEnv, seeds=3, exploit_seeds=0)
    assert report["oracle_success"] == {"easy": 1.0, "hard": 1.0}
    assert report["search_complete"] == {"easy": 1.0, "hard": 1.0}
    assert report["mean_optimal_steps"]["easy"] < report["mean_optimal_steps"]["hard"]
    check_cross_process("toy_envs:CounterEnv", {"difficulty": "hard"}, seed=0)


def test_global_random_breaks_determinism():
    with pytest.raises(ContractError, match="trajectories differ"):
        for seed in range(5):
            check_determinism(toy_envs.GlobalRandomEnv, seed)


def test_hash_seed_dependence_is_caught_in_a_second_process(monkeypatch):
    monkeypatch.setenv(
        "PYTHONPATH", str(Path(toy_envs.__file__).parent) + os.pathsep + os.environ.get("PYTHONPATH", "")
    )
    with pytest.raises(ContractError, match="PYTHONHASHSEED"):
        for seed in range(4):
            check_cross_process("toy_envs:HashSeedEnv", {"difficulty": {"low": 1, "high": 50}}, seed=seed)


def test_raising_on_a_bad_action_is_caught():
    with pytest.raises(ContractError, match="raised ValueError"):
        check_fuzzed_actions(toy_envs.RaisesOnBadActionEnv, seed=0)


def test_state_corruption_by_an_illegal_command_is_caught():
    assert check_illegal_commands(toy_envs.CounterEnv, seed=0) > 0
    with pytest.raises(ContractError, match="changed the state"):
        check_illegal_commands(toy_envs.CorruptsOnIllegalEnv, seed=0)


def test_wrong_optimal_steps_are_caught():
    with pytest.raises(ContractError, match="oracle took"):
        check_oracle(toy_envs.SlowOracleEnv, ["hard"], [0, 1])


def test_missing_info_key_is_caught():
    with pytest.raises(ContractError, match="info lacks keys \\['entities'\\]"):
        check_info_and_spaces(toy_envs.MissingInfoKeyEnv, seed=0)


def test_flat_difficulty_is_caught():
    with pytest.raises(ContractError, match="strictly increase"):
        check_monotone_difficulty(toy_envs.FlatDifficultyEnv, ["easy", "hard"], list(range(10)))


def test_terminated_and_truncated_together_is_caught():
    def make(**kwargs):
        return toy_envs.BothDoneEnv(max_turns=1, **kwargs)

    with pytest.raises(ContractError, match="both true"):
        check_info_and_spaces(make, seed=0)


def test_whole_checker_fails_on_broken_envs():
    for broken in (toy_envs.SlowOracleEnv, toy_envs.MissingInfoKeyEnv, toy_envs.RaisesOnBadActionEnv):
        with pytest.raises(ContractError):
            check_text_env(broken, cross_process=False)


def test_overstated_optimum_is_caught_by_search_though_the_oracle_agrees_with_it():
    assert check_oracle(toy_envs.OverstatedOptimumEnv, ["hard"], [0, 1]) == {"hard": 1.0}
    with pytest.raises(ContractError, match="a success is reachable in 3 steps"):
        check_optimal_by_search(toy_envs.OverstatedOptimumEnv, ["hard"], [0, 1])


def test_search_reports_an_unsettled_preset_instead_of_passing_it():
    assert check_optimal_by_search(toy_envs.CounterEnv, ["hard"], [0], max_nodes=2) == {"hard": 0.0}


def test_a_policy_that_wins_without_solving_is_caught():
    with pytest.raises(ContractError, match="'first_admissible' succeeds on 1.00"):
        check_exploits(toy_envs.CounterEnv, ["easy"], list(range(20)))


def test_copies_that_share_state_with_the_original_are_caught():
    with pytest.raises(ContractError, match="differs from its deepcopy"):
        check_copies(toy_envs.SharedStateEnv, seed=0)


def test_an_oracle_that_raises_after_the_end_is_caught():
    with pytest.raises(ContractError, match="after the end raised RuntimeError"):
        check_oracle_after_end(toy_envs.RaisingOracleEnv, seed=0)


def test_presets_too_easy_for_random_play_are_caught():
    seeds = list(range(50))
    with pytest.raises(ContractError, match="uniform-random success at easy is 0.[0-9]+ > 0.1"):
        check_reference_difficulty(
            toy_envs.CounterEnv, ["easy", "hard"], seeds, easiest_at_most=0.1, hardest_at_most=1.0
        )
    with pytest.raises(ContractError, match="uniform-random success at hard is 0.[0-9]+ > 0.02"):
        check_reference_difficulty(toy_envs.CounterEnv, ["easy", "hard"], seeds, easiest_at_most=1.0)


def test_presets_that_get_easier_for_a_reference_policy_are_caught():
    with pytest.raises(ContractError, match="success rises from"):
        check_reference_difficulty(toy_envs.CounterEnv, ["hard", "easy"], list(range(100)), 1.0, 1.0)
