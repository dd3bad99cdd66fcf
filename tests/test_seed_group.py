"""Seed groups: one setting with several training seeds as DVC experiments, each cell recorded as it finishes,
from the committed params whatever the workspace holds, resumable, and the same bits with several workers."""

import json
import re
import subprocess
import sys

import pytest
import yaml

from betavae.errors import BetaVAEError, ParamsError
from studies.seed_group import (HELD, add_cell, cell_name, cell_settings, check_cell, group_name, group_params,
                                new_record)
from tests.conftest import COMMITTED_PARAMS, REPO, tool_environment


def test_a_group_is_named_by_its_overrides_and_its_cells_by_seed():
    assert group_name([]) == "committed"
    assert group_name(["train.beta=5.5"]) == "beta-5.5"
    assert group_name(["train.lr=2.0e-3", "model.latent_dim=4"]) == "lr-2.0e-3_latent_dim-4"
    assert group_name(["train.loss=continuous_bernoulli"]) == "loss-continuous_bernoulli"
    assert cell_name("beta-5.5", 3) == "beta-5.5-seed-3"
    assert cell_settings(["train.beta=5.5"], 3) == ["train.beta=5.5", "train.seed=3"]


def test_the_params_of_a_group_are_the_committed_ones_plus_its_overrides_as_dvc_applies_them():
    params = group_params(REPO, ["train.beta=5.5", "train.lr=2.0e-3"])
    committed = yaml.safe_load(subprocess.run(["git", "show", "HEAD:params.yaml"], cwd=REPO, capture_output=True,
                                              text=True, check=True).stdout)
    assert params["train"]["beta"] == 5.5 and params["train"]["lr"] == 0.002
    assert params["model"] == committed["model"] and params["classifier"] == committed["classifier"]


@pytest.mark.parametrize("setting, message", [
    ("train.beta=-1", "train.beta must be >= 0.0, got -1.0. No cell ran, and params.yaml is as it was"),
    ("train.betta=6", "unknown key train.betta (did you mean beta?)"),
    ("train.seed=3", "a seed group sets train.seed itself"),
    ("classifier.seed=1", "holds classifier.seed and evaluate.seed at the committed values"),
    ("train.beta", "write key=value"),
])
def test_a_bad_override_is_refused_with_the_params_checks_message(setting, message):
    with pytest.raises(ParamsError, match=re.escape(message)):
        group_params(REPO, [setting])


def cell(platform="AMD EPYC", beta=5.0, inputs="a"):
    return {"params": {**COMMITTED_PARAMS, "train": dict(COMMITTED_PARAMS["train"], beta=beta)},
            "inputs": {"train": {"deps": {"betavae/training.py": inputs}}},
            "platform": {"cpu_model": platform, "threads": 2}, "files": {"metrics/eval.json": {"test_mse": 0.1}}}


def test_a_cell_joins_its_group_only_with_the_groups_params_code_and_platform():
    expected = cell()["params"]
    record = new_record("beta-5", ["train.beta=5.0"], {key: 0 for key in HELD})
    check_cell("x", cell(), expected, record)  # the first cell sets the group's code and platform
    record = add_cell(record, 0, "beta-5-seed-0", "abc", cell(), "c0mmit", 3.0)
    assert record["command"] == "python -m studies.seed_group --seeds 0 -S train.beta=5.0"
    with pytest.raises(BetaVAEError, match="params other than"):
        check_cell("x", cell(beta=6.0), expected, record)
    with pytest.raises(BetaVAEError, match="other code or params"):
        check_cell("x", cell(inputs="b"), expected, record)
    with pytest.raises(BetaVAEError, match="another platform class"):
        check_cell("x", cell(platform="Intel Xeon"), expected, record)


# --- On the tiny pipeline --------------------------------------------------------------------------------


def group(repo, *arguments, check=True):
    return subprocess.run([sys.executable, "-m", "studies.seed_group", *arguments], cwd=repo, env=tool_environment(),
                          capture_output=True, text=True, check=check)


def record(repo, name):
    return json.loads((repo / "metrics" / "groups" / f"{name}.json").read_text())


@pytest.fixture(scope="module")
def grouped(committed_tiny_repo, tmp_path_factory):
    """Two copies of the tiny repository that ran the group beta-1 with seeds 0 and 1: one a cell at a time,
    after a previous experiment's value was left in its params.yaml; the other with two workers."""
    import shutil
    root = tmp_path_factory.mktemp("grouped")
    alone, together = (shutil.copytree(committed_tiny_repo, root / name, symlinks=True,
                                       ignore=shutil.ignore_patterns("tmp", ".built")) for name in ("alone", "together"))
    params = yaml.safe_load((alone / "params.yaml").read_text())
    params["train"]["lr"] = 0.05  # a previous experiment's value left in the workspace
    (alone / "params.yaml").write_text(yaml.safe_dump(params))
    shown = group(alone, "--seeds", "0", "1", "-S", "train.beta=1").stdout
    workers = group(together, "--seeds", "0", "1", "-S", "train.beta=1", "--workers", "2").stdout
    return alone, together, shown, workers


@pytest.mark.slow
def test_a_group_runs_each_seed_from_the_committed_params_whatever_the_workspace_holds(grouped):
    repo, _, shown, _ = grouped
    assert "== beta-1: seed 0, cell 1 of 2" in shown and "== beta-1: seed 1 recorded" in shown
    found = record(repo, "beta-1")
    assert list(found["cells"]) == ["0", "1"] and found["settings"] == ["train.beta=1"]
    assert found["held"] == {"classifier.seed": 0, "evaluate.seed": 0}
    assert found["command"] == "python -m studies.seed_group --seeds 0 1 -S train.beta=1"
    for seed, cell_ in found["cells"].items():
        ran = yaml.safe_load(subprocess.run(["git", "show", f"{cell_['rev']}:params.yaml"], cwd=repo,
                                            capture_output=True, text=True, check=True).stdout)
        assert ran["train"]["lr"] == COMMITTED_PARAMS["train"]["lr"]  # the commit's, not the workspace's
        assert ran["train"]["beta"] == 1 and ran["train"]["seed"] == int(seed)
        assert ran["classifier"]["seed"] == 0 and ran["evaluate"]["seed"] == 0
    assert found["udr_pairs"].keys() == {"0-1"} and 0 <= found["udr_pairs"]["0-1"]["udr"] <= 1


@pytest.mark.slow
def test_recorded_cells_are_kept_and_only_new_seeds_train(grouped):
    repo = grouped[0]
    again = group(repo, "--seeds", "0", "1", "2", "-S", "train.beta=1").stdout
    assert "2 of the 3 cells of beta-1 are in metrics/groups/beta-1.json already and are kept" in again
    assert again.count("Running stage 'train'") <= 1 and list(record(repo, "beta-1")["cells"]) == ["0", "1", "2"]
    assert set(record(repo, "beta-1")["udr_pairs"]) == {"0-1", "0-2", "1-2"}


@pytest.mark.slow
def test_a_bad_override_trains_nothing_and_leaves_the_workspace(copy_of_committed_tiny_repo):
    repo = copy_of_committed_tiny_repo
    before = (repo / "params.yaml").read_bytes()
    refused = group(repo, "--seeds", "0", "-S", "train.beta=-1", check=False)
    assert refused.returncode == 1
    assert refused.stderr.strip() == ("error: train.beta must be >= 0.0, got -1.0. No cell ran, and params.yaml is "
                                      "as it was")
    assert (repo / "params.yaml").read_bytes() == before and not (repo / "metrics" / "groups").exists()


@pytest.mark.slow
def test_two_workers_give_the_bits_of_one_and_lose_no_cell(grouped):
    alone, together, _, shown = grouped
    one, two = record(alone, "beta-1"), record(together, "beta-1")
    assert list(two["cells"]) == ["0", "1"]  # both workers' cells, each written under the record's lock
    for seed in ("0", "1"):
        assert two["cells"][seed]["files"] == one["cells"][seed]["files"]  # to the bit
    assert two["inputs"] == one["inputs"] and set(two["udr_pairs"]) == {"0-1"}
    listed = subprocess.run(["git", "for-each-ref", "--format=%(refname)", "refs/exps/"], cwd=together,
                            capture_output=True, text=True, check=True).stdout
    assert {line.rsplit("/", 1)[-1] for line in listed.split()} >= {"beta-1-seed-0", "beta-1-seed-1"}
    assert "2 cells to train" in shown
