"""The proof's bookkeeping: leave-pair-out false alarms, the committed run's own seed, and power."""

import random

from betavae.calibration import against, committed_seed, false_alarms, healthy_seeds, power


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
