"""The beta x seeds sweep: its grid and slices, its summary, and real DVC experiments shared across clones."""

import json
import subprocess
import sys

import pytest

from betavae.errors import BetaVAEError, ParamsError
from betavae.sweep import (Spread, SweepPoint, compare, exceeds_seed_spread, experiment_name, experiment_results,
                           grid, parse_slice, slice_of, summarize, sweep_points)
from tests.conftest import TINY_PARAMS, tiny_dvc_workspace, tool_environment


def state(name, beta, kl, seed=0, experiments=None):
    data = {"params": {"params.yaml": {"data": {"train": {"beta": beta, "seed": seed}}}},
            "metrics": {"metrics/eval.json": {"data": {"kl_nats": kl, "bce_reconstruction": 100 - kl,
                                                       "test_mse": kl / 100}}}}
    return {"rev": f"rev-{name}", "name": name, "data": data, "experiments": experiments}


def test_sweep_points_are_read_from_nested_experiments_and_sorted_by_beta_and_seed():
    shown = [state("workspace", 5, 1.0),
             state("abc123", 5, 1.0, experiments=[{"revs": [state("b2s1", 2, 3.0, seed=1)]},
                                                  {"revs": [state("b2s0", 2, 3.5, seed=0)]},
                                                  {"revs": [state("b05", 0.5, 9.0)]}])]
    points = sweep_points(shown, ["b2s1", "b05", "b2s0"])
    assert [(p.name, p.beta, p.seed, p.kl_nats) for p in points] == [
        ("b05", 0.5, 0, 9.0), ("b2s0", 2.0, 0, 3.5), ("b2s1", 2.0, 1, 3.0)]
    assert points[0].rev == "rev-b05"
    with pytest.raises(BetaVAEError, match="beta-7"):
        sweep_points(shown, ["beta-7"])


def test_experiment_results_hold_each_experiments_params_and_eval_metrics():
    shown = [state("abc123", 5, 1.0, experiments=[{"revs": [state("likelihood-a", 1, 3.0)]}])]
    results = experiment_results(shown, ["likelihood-a"])
    assert results["likelihood-a"]["params"]["train"]["beta"] == 1
    assert results["likelihood-a"]["metrics"]["kl_nats"] == 3.0


def test_the_grid_is_every_beta_with_every_seed_and_slices_share_it_out():
    cells = grid([5.0, 1.0, 0.5], [1, 0])
    assert cells == [(0.5, 0), (0.5, 1), (1.0, 0), (1.0, 1), (5.0, 0), (5.0, 1)]
    slices = [slice_of(cells, index, 4) for index in range(1, 5)]
    assert sorted(cell for part in slices for cell in part) == sorted(cells)  # each cell exactly once
    assert [len(part) for part in slices] == [2, 2, 1, 1]
    assert experiment_name(0.5, 2) == "sweep-beta-0.5-seed-2"


@pytest.mark.parametrize("text", ["3/2", "0/2", "1-2", "half"])
def test_a_bad_slice_is_refused(text):
    with pytest.raises(ParamsError, match="slice"):
        parse_slice(text)


def point(beta, seed, **metrics):
    return SweepPoint(f"b{beta}s{seed}", beta, seed, "rev", dict(metrics, kl_per_dimension={"z00": 1.0}))


def test_summary_is_the_mean_and_sample_sd_over_seeds_per_beta():
    points = [point(1.0, s, test_mse=v, kl_nats=10.0) for s, v in enumerate([0.010, 0.012, 0.014])]
    points += [point(5.0, 0, test_mse=0.02, kl_nats=5.0)]
    summary = summarize(points)
    assert summary[1.0]["test_mse"].mean == pytest.approx(0.012)
    assert summary[1.0]["test_mse"].sd == pytest.approx(0.002)  # sample sd, n - 1
    assert summary[1.0]["test_mse"].count == 3 and summary[5.0]["kl_nats"] == Spread(5.0, 0.0, 1)
    assert "kl_per_dimension" not in summary[1.0]  # dimension d of one seed is not dimension d of another


def test_a_difference_counts_only_beyond_two_pooled_seed_sds():
    assert exceeds_seed_spread(Spread(1.0, 0.1, 3), Spread(1.5, 0.1, 3))
    assert not exceeds_seed_spread(Spread(1.0, 0.1, 3), Spread(1.15, 0.1, 3))
    summary = {1.0: {"m": Spread(1.0, 0.3, 3), "n": Spread(0.0, 0.0, 3)},
               5.0: {"m": Spread(1.5, 0.4, 3), "n": Spread(2.0, 0.1, 3)}}
    rows = {row["metric"]: row for row in compare(summary, 1.0, 5.0)}
    assert rows["m"]["difference"] == pytest.approx(0.5) and not rows["m"]["exceeds"]
    assert rows["m"]["spread"] == pytest.approx((0.3 ** 2 / 2 + 0.4 ** 2 / 2) ** 0.5)
    assert rows["n"]["exceeds"]
    with pytest.raises(ParamsError, match="beta 2 is not in the sweep"):
        compare(summary, 1.0, 2.0)


@pytest.mark.slow
def test_two_slices_on_two_clones_and_a_collector_share_a_sweep_through_git_and_dvc_remotes(tmp_path):
    """A bare git repository is the shared origin, a local directory the shared DVC remote."""
    env = tool_environment()

    def run(cwd, *command):
        result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
        assert result.returncode == 0, f"{command} failed:\n{result.stdout[-2000:]}\n{result.stderr[-4000:]}"
        return result

    origin, storage, seed_repo = tmp_path / "origin.git", tmp_path / "dvc-storage", tmp_path / "seed"
    run(tmp_path, "git", "init", "-q", "--bare", "--initial-branch=main", str(origin))
    seed_repo.mkdir()
    tiny_dvc_workspace(seed_repo, TINY_PARAMS)
    run(seed_repo, "git", "init", "-q", "-b", "main")
    run(seed_repo, "dvc", "init", "-q")
    run(seed_repo, "dvc", "remote", "add", "-d", "shared", str(storage))
    run(seed_repo, "git", "add", "-A")
    run(seed_repo, "git", "commit", "-qm", "tiny pipeline")
    run(seed_repo, "git", "remote", "add", "origin", str(origin))
    run(seed_repo, "git", "push", "-q", "origin", "main")

    sweep = ["--betas", "0.5", "4", "--seeds", "0", "1"]
    machines = {}
    for name in ("one", "two", "collector"):
        run(tmp_path, "git", "clone", "-q", str(origin), name)
        machines[name] = tmp_path / name
    for index, name in enumerate(("one", "two"), start=1):
        run(machines[name], sys.executable, "scripts/beta_sweep.py", *sweep, "--slice", f"{index}/2",
            "--push", "origin")
    result = run(machines["collector"], sys.executable, "scripts/beta_sweep.py", *sweep, "--collect",
                 "--pull", "origin", "--output", "sweep.json", "--figure", "sweep.png")

    record = json.loads((machines["collector"] / "sweep.json").read_text())
    names = {experiment_name(beta, seed) for beta in (0.5, 4.0) for seed in (0, 1)}
    assert set(record["runs"]) == names, result.stdout
    assert all("test_mse" in run_["metrics"] for run_ in record["runs"].values())
    assert set(record["summary"]) == {"0.5", "4"} and record["summary"]["4"]["test_mse"]["count"] == 2
    assert set(record["udr"]) == {"0.5", "4"} and all(0 <= u["udr"] <= 1 for u in record["udr"].values())
    assert (machines["collector"] / "sweep.png").stat().st_size > 10_000
    assert not list(machines["collector"].glob("models/model.pt"))  # the collector trained nothing
