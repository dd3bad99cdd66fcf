"""The beta x seeds sweep: its grid and slices, its summary, and real DVC experiments shared across clones."""

import json
import subprocess
import sys

import pytest

from betavae.errors import BetaVAEError, ParamsError
from betavae.sweep import (Spread, SweepPoint, compare, exceeds_pooled_sd, experiment_name, grid, parse_slice,
                           slice_of, summarize, summary_of_record, sweep_points)
from tests.conftest import REPO, TINY_PARAMS, tiny_dvc_workspace, tool_environment
from tests.test_experiments import state
from tests.test_workflows import step, workflow


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


def test_compare_from_the_command_line_says_which_metrics_differ_beyond_the_seed_spread(tmp_path):
    spreads = {"1": {"test_mse": {"mean": 0.012, "sd": 0.0002, "count": 3},
                     "kl_nats": {"mean": 6.0, "sd": 0.5, "count": 3}},
               "5": {"test_mse": {"mean": 0.017, "sd": 0.0003, "count": 3},
                     "kl_nats": {"mean": 6.4, "sd": 0.4, "count": 3}}}
    record = tmp_path / "sweep.json"
    record.write_text(json.dumps({"summary": spreads}))
    command = [sys.executable, "scripts/beta_sweep.py", "--output", str(record), "--compare"]
    shown = subprocess.run([*command, "1", "5"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    lines = {line.split()[0]: line for line in shown.splitlines()[2:]}
    assert lines["test_mse"].endswith("yes") and lines["kl_nats"].endswith("no: within seed spread")
    missing = subprocess.run([*command, "1", "2"], cwd=REPO, capture_output=True, text=True)
    assert missing.returncode == 1 and "beta 2 is not in the sweep" in missing.stderr
    absent = subprocess.run([*command[:3], str(tmp_path / "none.json"), "--compare", "1", "5"], cwd=REPO,
                            capture_output=True, text=True)
    assert absent.returncode == 1 and "run the sweep first" in absent.stderr


@pytest.fixture
def directory_remote(tmp_path):
    """A local directory as the shared DVC remote: its url, `dvc remote modify` settings, environment, and a
    count of the files stored in it."""
    storage = tmp_path / "dvc-storage"
    yield str(storage), {}, {}, lambda: sum(path.is_file() for path in storage.rglob("*"))


@pytest.fixture
def s3_remote():
    """An S3 bucket on moto's server on loopback, started here and stopped after the test."""
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


@pytest.mark.slow
@pytest.mark.parametrize("remote", ["directory_remote", "s3_remote"])
def test_two_slices_on_two_clones_and_a_collector_share_a_sweep_through_git_and_dvc_remotes(tmp_path, remote,
                                                                                         request):
    """A bare git repository is the shared origin; the shared DVC remote is a directory or an S3 bucket. The
    slices and the collector run the sweep workflow's commands; its other steps set up a runner, and
    "Fetch the test images" runs the download stage, which the tiny workspace replaces by generated data."""
    url, settings, credentials, stored_files = request.getfixturevalue(remote)
    env = tool_environment(**credentials)

    def run(cwd, *command, extra=None):
        result = subprocess.run(command, cwd=cwd, env={**env, **(extra or {})}, capture_output=True, text=True)
        assert result.returncode == 0, f"{command} failed:\n{result.stdout[-2000:]}\n{result.stderr[-4000:]}"
        return result

    origin, seed_repo = tmp_path / "origin.git", tmp_path / "seed"
    run(tmp_path, "git", "init", "-q", "--bare", "--initial-branch=main", str(origin))
    seed_repo.mkdir()
    tiny_dvc_workspace(seed_repo, TINY_PARAMS)
    run(seed_repo, "git", "init", "-q", "-b", "main")
    run(seed_repo, "dvc", "init", "-q")
    run(seed_repo, "dvc", "remote", "add", "-d", "shared", url)
    for key, value in settings.items():
        run(seed_repo, "dvc", "remote", "modify", "shared", key, value)
    run(seed_repo, "git", "add", "-A")
    run(seed_repo, "git", "commit", "-qm", "tiny pipeline")
    run(seed_repo, "git", "remote", "add", "origin", str(origin))
    run(seed_repo, "git", "push", "-q", "origin", "main")

    # The sweep workflow's own commands (.github/workflows/sweep.yml), with its inputs set to a tiny grid
    jobs = workflow("sweep.yml")["jobs"]
    slice_step, collect_step = step(jobs["slice"], "Run this slice and push it"), step(jobs["collect"],
                                                                                     "Pull every slice and summarise")
    inputs = {"BETAS": "0.5 4", "SEEDS": "0 1", "SLICES": "2"}
    machines = {}
    for name in ("one", "two", "collector"):
        run(tmp_path, "git", "clone", "-q", str(origin), name)
        machines[name] = tmp_path / name
    for index, name in enumerate(("one", "two"), start=1):
        run(machines[name], "bash", "-eo", "pipefail", "-c", slice_step["run"], extra={**inputs, "SLICE": str(index)})
    assert stored_files() > 0  # the slices' outputs went to the shared remote
    result = run(machines["collector"], "bash", "-eo", "pipefail", "-c", collect_step["run"], extra=inputs)

    record = json.loads((machines["collector"] / "metrics" / "beta_sweep.json").read_text())
    names = {experiment_name(beta, seed) for beta in (0.5, 4.0) for seed in (0, 1)}
    assert set(record["runs"]) == names, result.stdout
    assert all("test_mse" in run_["metrics"] and "precision" in run_["platform"] for run_ in record["runs"].values())
    assert set(record["summary"]) == {"0.5", "4"} and record["summary"]["4"]["test_mse"]["count"] == 2
    assert set(record["udr"]) == {"0.5", "4"} and all(0 <= u["udr"] <= 1 for u in record["udr"].values())
    assert (machines["collector"] / "plots" / "beta_sweep.png").stat().st_size > 10_000
    assert not list(machines["collector"].glob("models/model.pt"))  # the collector trained nothing
