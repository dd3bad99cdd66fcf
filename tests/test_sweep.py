"""The beta x seeds sweep as seed groups: its grid and slices, its summary and verdicts, and real DVC
experiments shared across clones."""

import json

import pytest

from betavae.errors import ParamsError
from studies.analysis.sweep import (Spread, beta_group, cell_metrics, compared_pairs, grid, parse_slice,
                                    sd_by_beta, sd_ratio_interval, slice_of, summarize, summary_of_record, verdicts)
from studies.seed_group import cell_name
from tests.conftest import REPO, TINY_PARAMS, tool_environment
from tests.helpers import origin_with_remote, runner, step, workflow


def test_the_grid_is_every_beta_with_every_seed_and_slices_share_it_out():
    cells = grid([5.0, 1.0, 0.5], [1, 0])
    assert cells == [(0.5, 0), (0.5, 1), (1.0, 0), (1.0, 1), (5.0, 0), (5.0, 1)]
    slices = [slice_of(cells, index, 4) for index in range(1, 5)]
    assert sorted(cell for part in slices for cell in part) == sorted(cells)  # each cell exactly once
    assert [len(part) for part in slices] == [2, 2, 1, 1]


def test_each_beta_is_a_seed_group_and_the_committed_betas_is_the_committed_group():
    assert beta_group(5.0, committed_beta=5.0) == ("committed", [])
    assert beta_group(0.5, committed_beta=5.0) == ("beta-0.5", ["train.beta=0.5"])
    assert cell_name("beta-0.5", 2) == "beta-0.5-seed-2"


@pytest.mark.parametrize("text", ["3/2", "0/2", "1-2", "half"])
def test_a_bad_slice_is_refused(text):
    with pytest.raises(ParamsError, match="slice"):
        parse_slice(text)


def runs(**per_seed):
    """{seed: eval.json} from {metric: [value per seed]}."""
    count = len(next(iter(per_seed.values())))
    return {str(i): {name: values[i] for name, values in per_seed.items()} | {"posterior_collapse": False,
                                                                             "kl_largest_units": {"1": 1.0}}
            for i in range(count)}


def test_summary_is_the_mean_and_sample_sd_over_seeds_per_beta_of_the_numbers():
    summary = summarize({1.0: runs(test_mse=[0.010, 0.012, 0.014], kl_nats=[10.0] * 3),
                         5.0: runs(test_mse=[0.02], kl_nats=[5.0])})
    assert summary[1.0]["test_mse"].mean == pytest.approx(0.012)
    assert summary[1.0]["test_mse"].sd == pytest.approx(0.002)  # sample sd, n - 1
    assert summary[1.0]["test_mse"].count == 3 and summary[5.0]["kl_nats"] == Spread(5.0, 0.0, 1)
    assert not {"kl_largest_units", "posterior_collapse"} & summary[1.0].keys()
    record = json.loads(json.dumps({"summary": {f"{beta:g}": {name: vars(spread) for name, spread in metrics.items()}
                                                for beta, metrics in summary.items()}}))
    assert summary_of_record(record) == summary


def test_a_group_records_cells_are_read_for_the_sweeps_seeds_only():
    record = {"cells": {str(seed): {"files": {"metrics/eval.json": {"test_mse": seed}}} for seed in range(10)}}
    assert cell_metrics(record, [0, 2, 11]) == {"0": {"test_mse": 0}, "2": {"test_mse": 2}}


def test_each_step_of_beta_is_judged_by_the_group_diff_and_udr_by_its_interval():
    by_beta = {0.5: runs(test_mse=[0.0100, 0.0101, 0.0099, 0.0100, 0.0102]),
               1.0: runs(test_mse=[0.0101, 0.0100, 0.0102, 0.0099, 0.0100]),
               5.0: runs(test_mse=[0.0200, 0.0201, 0.0199, 0.0202, 0.0200])}
    udr = {"1": {"bootstrap": {"above_chance": [0.01, 0.2]}}, "5": {"bootstrap": {"above_chance": [-0.01, 0.2]}}}
    found = verdicts(by_beta, udr)
    assert list(found["steps"]) == ["0.5 -> 1", "1 -> 5"]  # 1 -> 5 is a neighbouring pair here already
    assert found["steps"]["0.5 -> 1"]["metrics"]["test_mse"]["verdict"] == "no"
    assert found["steps"]["1 -> 5"]["metrics"]["test_mse"]["verdict"] == "YES"
    assert found["steps"]["1 -> 5"]["method"] == "permutation max-t"
    assert found["steps"]["1 -> 5"]["metrics"]["test_mse"]["difference"] == pytest.approx(0.0100)
    assert found["udr_above_chance"] == {"1": True, "5": False}
    assert compared_pairs([0.5, 1.0, 2.0, 5.0, 10.0])[-1] == (1.0, 5.0)


def test_the_seed_sd_at_each_beta_is_set_against_the_committed_betas_with_an_f_interval():
    from scipy import stats
    low, high = sd_ratio_interval(2.0, 5, 1.0, 10)
    # by hand: variance ratio 4 over F(4, 9) quantiles
    assert (low, high) == pytest.approx(((4 / stats.f.ppf(0.975, 4, 9)) ** 0.5, (4 / stats.f.ppf(0.025, 4, 9)) ** 0.5))
    assert sd_ratio_interval(2.0, 1, 1.0, 10) is None and sd_ratio_interval(2.0, 5, 0.0, 10) is None
    table = sd_by_beta({5.0: {"m": Spread(1.0, 1.0, 10)}, 10.0: {"m": Spread(3.0, 2.0, 5)}}, 5.0)
    assert table["10"]["m"]["ratio"] == 2.0 and table["10"]["m"]["interval"] == (low, high)


def test_the_seed_sd_table_says_a_beta_without_spread_has_all_seeds_equal(monkeypatch):
    from studies import beta_sweep
    table = sd_by_beta({5.0: {"active_units": Spread(7.2, 0.45, 5)}, 0.5: {"active_units": Spread(10.0, 0.0, 5)},
                        10.0: {"active_units": Spread(6.0, 0.9, 5)}}, 5.0)
    groups = {"0.5": "beta-0.5", "5": "committed", "10": "beta-10"}
    record = json.loads(json.dumps({"sd_by_beta": table, "groups": groups, "seeds": [0, 1, 2, 3, 4]}))
    monkeypatch.setattr(beta_sweep, "read_record", lambda path: record)
    monkeypatch.setattr(beta_sweep, "_sweep_source", lambda record: "Made here.")
    row = next(line for line in beta_sweep.seed_sd_by_beta().splitlines() if line.startswith("| active_units"))
    low, high = table["10"]["active_units"]["interval"]
    assert row == f"| active_units | 0 (all seeds equal) | 0.45 | 0.9 (×2 [{low:.2g}, {high:.2g}]) |"

def test_the_committed_sweep_records_the_verdicts_of_its_own_numbers_or_says_it_is_historical():
    record = json.loads((REPO / "metrics" / "beta_sweep.json").read_text())
    if "historical" in record:
        assert "sd_by_beta" not in record
        return
    by_beta = {}
    for run in record["runs"].values():
        by_beta.setdefault(run["beta"], {})[str(run["seed"])] = run["metrics"]
    assert record["verdicts"] == json.loads(json.dumps(verdicts(by_beta, record["udr"])))


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
    committed_beta = TINY_PARAMS["train"]["beta"]
    names = {cell_name(beta_group(beta, committed_beta)[0], seed) for beta in (0.5, 4.0) for seed in (0, 1)}
    assert set(record["runs"]) == names, result.stdout
    for group in ("beta-0.5", "beta-4"):  # the collector recorded every slice's cells in their groups
        cells = json.loads((collector / "metrics" / "groups" / f"{group}.json").read_text())["cells"]
        assert set(cells) == {"0", "1"}
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
        assert "0 cells to train" in output and "Running stage" not in output
    assert stored_objects() > 0
    collect_and_check(root, origin, "collector-s3", run, s3)


def test_the_sd_ratio_interval_at_uneven_counts_other_levels_and_the_smallest_samples():
    from scipy import stats
    ratio = 1.3 / 0.5
    for count, base_count, level in ((4, 10, 0.95), (2, 2, 0.5), (6, 3, 0.8)):
        tail = (1 - level) / 2
        expected = (ratio / stats.f.ppf(1 - tail, count - 1, base_count - 1) ** 0.5,
                    ratio / stats.f.ppf(tail, count - 1, base_count - 1) ** 0.5)
        assert sd_ratio_interval(1.3, count, 0.5, base_count, level) == pytest.approx(expected, rel=1e-12)
    assert sd_ratio_interval(1.3, 5, 0.5, 1) is None  # one seed on the committed side: no sd to compare
    table = sd_by_beta({5.0: {"m": Spread(1.0, 0.5, 10)}, 10.0: {"m": Spread(3.0, 1.3, 4)}}, 5.0)
    assert table["10"]["m"]["ratio"] == pytest.approx(2.6)


def test_two_seeds_have_a_sample_sd_and_spreads_are_hashable_values():
    sd = summarize({1.0: runs(test_mse=[0.010, 0.012])})[1.0]["test_mse"].sd
    assert sd == pytest.approx(0.002 / 2 ** 0.5)  # two values: |a − b| / √2
    assert hash(Spread(1.0, 0.0, 1)) == hash(Spread(1.0, 0.0, 1))


@pytest.mark.parametrize("betas, pairs", [
    ([2.0, 5.0, 10.0], [(2.0, 5.0), (5.0, 10.0)]),          # no beta 1: no 1 -> 5
    ([0.5, 1.0, 2.0], [(0.5, 1.0), (1.0, 2.0)]),            # no beta 5
    ([1.0, 5.0], [(1.0, 5.0)]),                             # 1 -> 5 is already a step: not twice
    ([1.0, 3.0, 5.0], [(1.0, 3.0), (3.0, 5.0), (1.0, 5.0)]),
])
def test_the_steps_are_the_neighbours_and_1_to_5_once(betas, pairs):
    assert compared_pairs(betas) == pairs


def test_the_committed_group_is_found_by_value_and_only_for_the_committed_beta():
    assert beta_group(float("5.0"), committed_beta=5.0) == ("committed", [])
    assert beta_group(10.0, committed_beta=5.0) == ("beta-10", ["train.beta=10"])


@pytest.mark.parametrize("text, parsed", [("1/1", (1, 1)), ("1/2", (1, 2)), ("2/2", (2, 2)), ("3/4", (3, 4))])
def test_every_slice_from_the_first_to_the_last_is_accepted(text, parsed):
    assert parse_slice(text) == parsed


def test_udr_at_exactly_its_chance_level_is_not_above_it():
    found = verdicts({1.0: runs(test_mse=[0.01, 0.02])}, {"1": {"bootstrap": {"above_chance": [0.0, 0.2]}}})
    assert found["udr_above_chance"] == {"1": False}
