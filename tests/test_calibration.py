"""The proof's bookkeeping: leave-pair-out false alarms, the committed run's own seed, and power."""

import math
import random

import pytest

from studies.analysis.calibration import (against, against_the_law, committed_seed, false_alarms, healthy_seeds,
                                          power, prediction_verdicts, proof_verdicts, rate_interval,
                                          spread_tolerances)
from studies.analysis.reproducibility import seed_spread


def files(mse, kl=6.0, active=7):
    return {"metrics/eval.json": {"test_mse": mse, "kl_nats": kl, "active_units": active,
                                  "posterior_collapse": active == 0}}


RNG = random.Random(0)
SEEDS = {str(seed): files(0.017 + RNG.gauss(0, 1e-4), 6.3 + RNG.gauss(0, 0.08)) for seed in range(8)}
SEEDS["8"] = files(0.087, 0.0, active=0)  # collapsed: in no pair, in no spread


def test_every_pair_of_healthy_seeds_is_judged_once_and_a_collapsed_seed_in_none():
    assert healthy_seeds(SEEDS) == [str(seed) for seed in range(8)]
    trials = false_alarms(SEEDS)
    assert len(trials) == 28
    pairs = {(f"seed {a}", f"seed {b}") for a in range(8) for b in range(a + 1, 8)}
    assert {(trial.committed, trial.new) for trial in trials} == pairs
    assert all(trial.passed for trial in trials), [t for t in trials if not t.passed]


def test_the_committed_run_is_found_among_the_seeds_by_its_metrics():
    assert committed_seed(SEEDS, SEEDS["3"]) == "3"
    assert committed_seed(SEEDS, files(0.5)) is None


def test_a_regression_is_judged_against_every_healthy_seed_and_a_big_one_always_caught():
    regression = {str(seed): files(0.017 + RNG.gauss(0, 1e-4), 5.0 + RNG.gauss(0, 0.08)) for seed in range(3)}
    trials = power(SEEDS, regression)
    assert len(trials) == 3 * 8
    assert not any(trial.passed for trial in trials)
    assert all("kl_nats" in trial.reason for trial in trials)


def test_a_collapsed_run_is_caught_as_a_collapse():
    [trial] = against(SEEDS, SEEDS["0"], {"bad": files(0.087, 0.0, active=0)}, "seed 0")
    assert not trial.passed and trial.reason.startswith("training collapsed")


def test_the_spread_tolerances_leave_the_committed_seed_out_and_follow_the_rule():
    record = spread_tolerances(SEEDS, SEEDS["3"])
    assert record["committed_seed"] == "3" and "3" not in record["healthy_seeds"]
    assert record["collapsed_seeds"] == ["8"] and record["degrees_of_freedom"] == 6
    spread = seed_spread(SEEDS, leave_out=("3",))
    tested = len(spread.sd)
    assert record["metrics_tested"] == tested and record["critical_t"] == spread.critical_t(tested)
    mse = record["metrics"]["test_mse"]
    assert mse["sd"] == spread.sd["test_mse"] and mse["tolerance"] == spread.tolerance("test_mse", tested)
    expected_mean = sum(SEEDS[s]["metrics/eval.json"]["test_mse"] for s in spread.seeds) / len(spread.seeds)
    assert mse["mean"] == pytest.approx(expected_mean)
    assert record["metrics"]["active_units"]["tolerance"] == 1.0  # a count: at least one step


def test_the_proof_verdicts_count_false_alarms_and_catches():
    regression = {str(seed): files(0.03, 6.3) for seed in range(3)}  # far beyond the spread in test MSE
    proof = {"regressions": {"worse": {"seeds": regression}},
             "platform_change": {"experiment": "other-cpu", "files": SEEDS["5"]}}
    verdicts = proof_verdicts(SEEDS, SEEDS["0"], proof)
    assert verdicts["committed_seed"] == "0"
    assert verdicts["healthy_pairs"] == {"trials": 28, "failed": 0, "failures": []}
    assert verdicts["against_committed"]["trials"] == 8  # every other seed, the collapsed one included
    assert verdicts["against_committed"]["failed"] == 1  # ... which fails as a collapse
    assert verdicts["regressions"]["worse"]["trials"] == 24 and verdicts["regressions"]["worse"]["failed"] == 24
    assert verdicts["platform_change"]["passed"]
    assert verdicts["other_platform"] == {"trials": 0, "failed": 0, "failures": []}
    elsewhere = proof_verdicts(SEEDS, SEEDS["0"], proof, {"a": files(0.017, 6.3), "b": files(0.05, 6.3)})
    assert elsewhere["other_platform"]["trials"] == 2 and elsewhere["other_platform"]["failed"] == 1
    assert elsewhere["other_platform"]["failures"][0]["committed"] == "committed"
    assert elsewhere["other_platform"]["failures"][0]["new"] == "seed b"


def test_a_measured_rate_has_the_exact_binomial_interval():
    # no hit in n: [0, 1 - 0.025^(1/n)]; n hits in n: [0.025^(1/n), 1]; one hit: low end 1 - 0.975^(1/n)
    assert rate_interval(0, 60) == (0.0, pytest.approx(1 - 0.025 ** (1 / 60), rel=1e-9))
    assert rate_interval(5, 5) == (pytest.approx(0.025 ** (1 / 5), rel=1e-9), 1.0)
    assert rate_interval(1, 16)[0] == pytest.approx(1 - 0.975 ** (1 / 16), rel=1e-9)
    # 1 of 2: P(X >= 1) = 1 - (1 - p)^2 and P(X <= 1) = 1 - p^2 are 0.025 at the two ends
    assert rate_interval(1, 2) == (pytest.approx(1 - math.sqrt(0.975), rel=1e-9), pytest.approx(math.sqrt(0.975)))
    assert rate_interval(0, 367)[1] > 0.01 >= rate_interval(0, 368)[1]


def test_the_rule_under_test_judges_each_seed_against_the_others_law_and_the_rest_against_all():
    regression = {str(seed): files(0.03, 6.3) for seed in range(3)}
    other_platform = {"a": files(0.017, 6.3), "b": files(0.05, 6.3)}
    proof = {"regressions": {"worse": {"seeds": regression}},
             "platform_change": {"experiment": "other-cpu", "files": SEEDS["5"]}}
    verdicts = prediction_verdicts(SEEDS, proof, other_platform)
    assert verdicts["healthy_seeds"] == {"trials": 8, "failed": 0, "failures": []}  # the collapsed seed is in none
    assert verdicts["other_platform"]["trials"] == 2 and verdicts["other_platform"]["failed"] == 1
    assert verdicts["other_platform"]["failures"][0]["new"] == "seed b"
    assert verdicts["regressions"]["worse"] == {"trials": 3, "failed": 3, "failures": verdicts["regressions"]["worse"]
                                                ["failures"]}
    assert verdicts["platform_change"]["trials"] == 1 and verdicts["platform_change"]["failed"] == 0
    assert prediction_verdicts(SEEDS, proof)["other_platform"] == {"trials": 0, "failed": 0, "failures": []}
    [trial] = against_the_law(SEEDS, {"seed 3": SEEDS["3"]})  # the seed itself is left out of its own law
    assert trial.passed and trial.committed == "the seeds' law" and trial.new == "seed 3"


def test_a_trial_is_immutable():
    import dataclasses
    [trial] = against(SEEDS, SEEDS["0"], {"seed 1": SEEDS["1"]}, "seed 0")
    with pytest.raises(dataclasses.FrozenInstanceError):
        trial.passed = not trial.passed


def test_every_seed_but_the_committed_ones_own_is_judged_against_it_whatever_its_place():
    proof = {"regressions": {}, "platform_change": {"experiment": "other-cpu", "files": SEEDS["1"]}}
    verdicts = proof_verdicts(SEEDS, SEEDS["5"], proof)
    assert verdicts["committed_seed"] == "5"
    assert verdicts["against_committed"]["trials"] == 8  # seeds 0-4 and 6-8


def test_degrees_of_freedom_are_one_less_than_the_healthy_seeds_of_an_even_spread():
    record = spread_tolerances(SEEDS, files(0.5))  # not a spread seed: none left out, 8 healthy
    assert record["committed_seed"] is None and len(record["healthy_seeds"]) == 8
    assert record["degrees_of_freedom"] == 7
