"""Every stage on tiny generated data, as dvc.yaml runs them."""

import json
import shlex
import shutil
import subprocess
import sys

import pytest
import yaml
from PIL import Image

import betavae.sources
from stages import download
from tests.conftest import COMMITTED_PARAMS, REPO, TINY_PARAMS, write_tiny_dataset

pytestmark = pytest.mark.slow  # every test here runs stages in subprocesses


@pytest.fixture
def workdir(tmp_path):
    """A copy of the pipeline's code and dvc.yaml with tiny params."""
    for name in ("betavae", "stages"):
        shutil.copytree(REPO / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "dvc.yaml", tmp_path)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(TINY_PARAMS))
    return tmp_path


def declared_outputs(stage):
    return [next(iter(o)) if isinstance(o, dict) else o
            for kind in ("outs", "metrics", "plots") for o in stage.get(kind, [])]


def test_the_pipeline_runs_end_to_end(workdir, committed_tiny_repo, monkeypatch):
    """download here, on generated data; every other stage as `dvc repro` ran dvc.yaml's commands in the
    committed tiny repo (conftest), where the same generated files stand in for download's."""
    stages = yaml.safe_load((workdir / "dvc.yaml").read_text())["stages"]
    assert list(stages) == ["params", "download", "classifier", "train", "evaluate", "sample", "interpolate",
                            "visualize"]

    monkeypatch.chdir(workdir)
    monkeypatch.setattr(betavae.sources, "SOURCES", [("generated", write_tiny_dataset)])  # nothing pinned
    download.main(shlex.split(stages["download"]["cmd"])[3:])
    for output in declared_outputs(stages["download"]):
        assert (workdir / output).exists(), f"download did not write {output}"
    assert json.loads((workdir / "data/source.json").read_text())["source"] == "generated"

    repo = committed_tiny_repo
    ran = yaml.safe_load((repo / "dvc.yaml").read_text())["stages"]
    assert ran == {name: stage for name, stage in stages.items() if name != "download"}
    for name, stage in ran.items():
        assert shlex.split(stage["cmd"])[0] == "python"
        for dep in stage["deps"]:
            assert (repo / dep).exists(), f"{name}: dependency {dep} missing"
        for output in declared_outputs(stage):
            assert (repo / output).exists(), f"{name} did not write {output}"

    metrics = json.loads((repo / "metrics/eval.json").read_text())
    assert 0 < metrics["test_mse"] < 1
    assert not {"test_images", "iwae_samples", "knn_neighbours", "prior_samples"} & metrics.keys()  # params
    platform = json.loads((repo / "metrics/platform.json").read_text())
    assert platform["device"] == "cpu" and platform["precision"] == "fp32" and platform["threads"] == 1
    # The default, the Bernoulli on grey levels: its objective, and no likelihood.
    assert metrics["bce_objective"] == pytest.approx(metrics["bce_reconstruction"] + metrics["kl_nats"])
    assert not {"elbo_nats", "iwae_nats", "nll_nats", "reconstruction_nats"} & metrics.keys()
    assert set(metrics["kl_largest_units"]) == {"1", "2"} and 0 <= metrics["active_units"] <= 3
    assert metrics["kl_largest_units"]["2"] >= metrics["kl_largest_units"]["1"] >= 0
    by_unit = json.loads((repo / "plots/kl_per_dimension.json").read_text())  # beside the figure, not a metric
    assert [row["unit"] for row in by_unit] == ["z00", "z01", "z02"]
    assert sum(row["active"] for row in by_unit) == metrics["active_units"]
    assert 0 <= metrics["linear_probe_accuracy"] <= 1 and 0 <= metrics["knn_accuracy"] <= 1
    assert metrics["frechet_classifier_samples"] >= 0
    assert 0 <= json.loads((repo / "metrics/classifier.json").read_text())["classifier_test_accuracy"] <= 1
    epochs = COMMITTED_PARAMS["train"]["epochs"]
    assert len((repo / "plots/training.csv").read_text().splitlines()) == 1 + epochs  # header + a row an epoch
    for name, stage in ran.items():
        for output in declared_outputs(stage):
            if output.endswith(".png"):
                assert Image.open(repo / output).size[0] > 100, output


def test_a_bad_param_stops_a_stage_with_one_clear_line(workdir):
    bad = dict(TINY_PARAMS, train=dict(TINY_PARAMS["train"], beta=-1))
    (workdir / "params.yaml").write_text(yaml.safe_dump(bad))
    result = subprocess.run([sys.executable, "-m", "stages.train", "data", "model.pt", "log.csv", "platform.json",
                             "resume"],
                            cwd=workdir, capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.strip() == "error: train.beta must be >= 0.0, got -1.0"
    assert not (workdir / "model.pt").exists()
