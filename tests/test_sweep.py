"""The beta x seeds sweep: its grid and slices, its summary, and real DVC experiments shared across clones."""

import json
import subprocess
import sys

import pytest

from betavae.errors import BetaVAEError, ParamsError
from studies.analysis.sweep import (Spread, SweepPoint, compare, compared_pairs, exceeds_pooled_sd, experiment_name,
                                    grid, parse_slice, slice_of, summarize, summary_of_record, sweep_points, verdicts)
from tests.conftest import REPO, TINY_PARAMS, tool_environment
from tests.helpers import exp_show_state as state
from tests.helpers import origin_with_remote, runner, step, workflow


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
    assert exceeds_pooled_sd(Spread(1.0, 0.1, 3), Spread(1.5, 0.1, 3))
    assert not exceeds_pooled_sd(Spread(1.0, 0.1, 3), Spread(1.15, 0.1, 3))
    summary = {1.0: {"m": Spread(1.0, 0.3, 3), "n": Spread(0.0, 0.0, 3)},
               5.0: {"m": Spread(1.5, 0.4, 3), "n": Spread(2.0, 0.1, 3)}}
    rows = {row["metric"]: row for row in compare(summary, 1.0, 5.0)}
    assert rows["m"]["difference"] == pytest.approx(0.5) and not rows["m"]["exceeds"]
    assert rows["m"]["spread"] == pytest.approx((0.3 ** 2 / 2 + 0.4 ** 2 / 2) ** 0.5)
    assert rows["n"]["exceeds"]
    with pytest.raises(ParamsError, match="beta 2 is not in the sweep"):
        compare(summary, 1.0, 2.0)


def test_the_summary_reads_back_from_the_sweep_record_as_written():
    points = [point(1.0, s, test_mse=v, kl_nats=10.0) for s, v in enumerate([0.010, 0.012, 0.014])]
    summary = summarize(points)
    record = json.loads(json.dumps({"summary": {f"{beta:g}": {name: vars(spread) for name, spread in metrics.items()}
                                                for beta, metrics in summary.items()}}))
    assert summary_of_record(record) == summary


def test_the_verdicts_cover_each_step_of_beta_and_where_udr_clears_chance():
    summary = {b: {"test_mse": {"mean": m, "sd": 0.001, "count": 3}} for b, m in ((0.5, 0.010), (1.0, 0.0101), (5.0, 0.02))}
    udr = {"1": {"bootstrap": {"above_chance": [0.01, 0.2]}}, "5": {"bootstrap": {"above_chance": [-0.01, 0.2]}}}
    record = {"summary": {f"{beta:g}": metrics for beta, metrics in summary.items()}, "udr": udr}
    found = verdicts(record)
    assert list(found["steps"]) == ["0.5 -> 1", "1 -> 5"]  # 1 -> 5 is a neighbouring pair here already
    assert not found["steps"]["0.5 -> 1"]["test_mse"]["exceeds"] and found["steps"]["1 -> 5"]["test_mse"]["exceeds"]
    assert found["steps"]["1 -> 5"]["test_mse"]["difference"] == pytest.approx(0.0099)
    assert found["udr_above_chance"] == {"1": True, "5": False}
    assert compared_pairs([0.5, 1.0, 2.0, 5.0, 10.0])[-1] == (1.0, 5.0)


def test_the_committed_sweep_records_the_verdicts_of_its_own_numbers():
    record = json.loads((REPO / "metrics" / "beta_sweep.json").read_text())
    assert record["verdicts"] == json.loads(json.dumps(verdicts(record)))


def test_compare_from_the_command_line_says_which_metrics_differ_beyond_the_seed_spread(tmp_path):
    spreads = {"1": {"test_mse": {"mean": 0.012, "sd": 0.0002, "count": 3},
                     "kl_nats": {"mean": 6.0, "sd": 0.5, "count": 3}},
               "5": {"test_mse": {"mean": 0.017, "sd": 0.0003, "count": 3},
                     "kl_nats": {"mean": 6.4, "sd": 0.4, "count": 3}}}
    record = tmp_path / "sweep.json"
    record.write_text(json.dumps({"summary": spreads}))
    command = [sys.executable, "-m", "studies.beta_sweep", "--output", str(record), "--compare"]
    shown = subprocess.run([*command, "1", "5"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    lines = {line.split()[0]: line for line in shown.splitlines()[2:]}
    assert lines["test_mse"].endswith("yes") and lines["kl_nats"].endswith("no: within seed spread")
    missing = subprocess.run([*command, "1", "2"], cwd=REPO, capture_output=True, text=True)
    assert missing.returncode == 1 and "beta 2 is not in the sweep" in missing.stderr
    absent = subprocess.run([*command[:4], str(tmp_path / "none.json"), "--compare", "1", "5"], cwd=REPO,
                            capture_output=True, text=True)
    assert absent.returncode == 1 and "run the sweep first" in absent.stderr


@pytest.fixture(scope="module")
def s3_remote():
    """An S3 bucket on moto's server on loopback: its url, `dvc remote modify` settings, environment, and a
    count of the objects stored in it."""
    import boto3
    from moto.server import ThreadedMotoServer
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        credentials = {"AWS_ACCESS_KEY_ID": "sweep-test", "AWS_SECRET_ACCESS_KEY": "sweep-test",
                       "AWS_DEFAULT_REGION": "us-east-1", "NO_PROXY": "127.0.0.1,localhost"}
        s3 = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id="sweep-test",
                          aws_secret_access_key="sweep-test", region_name="us-east-1")
        s3.create_bucket(Bucket="betavae-sweep")
        yield ("s3://betavae-sweep/cache", {"endpointurl": endpoint}, credentials,
               lambda: s3.list_objects_v2(Bucket="betavae-sweep").get("KeyCount", 0))
    finally:
        server.stop()


# The sweep workflow's own commands (.github/workflows/sweep.yml), with its inputs set to a tiny grid
SWEEP_INPUTS = {"BETAS": "0.5 4", "SEEDS": "0 1", "SLICES": "2"}


def sweep_step(job, name):
    return step(workflow("sweep.yml")["jobs"][job], name)["run"]


@pytest.fixture(scope="module")
def sliced_sweep(tmp_path_factory):
    """A bare git repository as the shared origin, and two clones that each ran one slice of the sweep with
    the workflow's slice command, pushing to the shared DVC remote, a local directory. The S3 test pushes
    the same slices again to an S3 bucket: one training serves both remotes."""
    root = tmp_path_factory.mktemp("sweep")
    run = runner(tool_environment())
    origin, storage, _ = origin_with_remote(root, TINY_PARAMS)
    for index, name in enumerate(("one", "two"), start=1):
        run(root, "git", "clone", "-q", str(origin), name)
        output = run_slice(run, root / name, index)
        assert "Running stage 'train'" in output
    return root, origin, storage, run


def run_slice(run, clone, index):
    """The workflow's slice command in a clone: this slice's experiments, pushed to git and DVC remotes."""
    return run(clone, "bash", "-eo", "pipefail", "-c", sweep_step("slice", "Run this slice and push it"),
               extra={**SWEEP_INPUTS, "SLICE": str(index)}).stdout


def collect_and_check(root, origin, name, run, remote_settings=None):
    """Clone origin, point it at a remote (local config), run the workflow's collector, check its record."""
    run(root, "git", "clone", "-q", str(origin), name)
    collector = root / name
    for key, value in (remote_settings or {}).items():
        run(collector, "dvc", "remote", "modify", "--local", "shared", key, value)
    result = run(collector, "bash", "-eo", "pipefail", "-c", sweep_step("collect", "Pull every slice and summarise"),
                 extra=SWEEP_INPUTS)
    record = json.loads((collector / "metrics" / "beta_sweep.json").read_text())
    names = {experiment_name(beta, seed) for beta in (0.5, 4.0) for seed in (0, 1)}
    assert set(record["runs"]) == names, result.stdout
    assert all("test_mse" in run_["metrics"] and "precision" in run_["platform"] for run_ in record["runs"].values())
    assert set(record["summary"]) == {"0.5", "4"} and record["summary"]["4"]["test_mse"]["count"] == 2
    assert set(record["udr"]) == {"0.5", "4"} and all(0 <= u["udr"] <= 1 for u in record["udr"].values())
    for scored in record["udr"].values():  # two seeds: one pair, so its chance level and a point interval
        assert 0 <= scored["chance"] <= 1 and scored["above_chance"] == pytest.approx(scored["udr"] - scored["chance"])
        assert scored["bootstrap"]["udr"] == [scored["udr"]] * 2 and scored["bootstrap"]["resamples"] > 0
    assert (collector / "plots" / "beta_sweep.png").stat().st_size > 10_000
    assert not list(collector.glob("models/model.pt"))  # the collector trained nothing
    return record


@pytest.mark.slow
def test_two_slices_on_two_clones_and_a_collector_share_a_sweep_through_a_directory_remote(sliced_sweep):
    """The slices and the collector run the sweep workflow's commands; its other steps set up a runner, and
    "Fetch the test images" runs the download stage, which the tiny workspace replaces by generated data."""
    root, origin, storage, run = sliced_sweep
    assert sum(path.is_file() for path in storage.rglob("*")) > 0  # the slices' outputs went to the remote
    collect_and_check(root, origin, "collector-directory", run)


@pytest.mark.slow
@pytest.mark.s3
def test_the_same_slices_share_a_sweep_through_an_s3_remote(sliced_sweep, s3_remote):
    """Each slice's clone runs the slice command again with the shared remote pointed at S3: its
    experiments are kept (nothing retrains) and pushed there; a collector pulls them from S3 alone."""
    root, origin, _, _ = sliced_sweep
    url, settings, credentials, stored_objects = s3_remote
    run, s3 = runner(tool_environment(**credentials)), {"url": url, **settings}
    for index, name in enumerate(("one", "two"), start=1):
        for key, value in s3.items():
            run(root / name, "dvc", "remote", "modify", "--local", "shared", key, value)
        output = run_slice(run, root / name, index)
        assert "ran before on this commit and are kept" in output and "Running stage" not in output
    assert stored_objects() > 0
    collect_and_check(root, origin, "collector-s3", run, s3)
