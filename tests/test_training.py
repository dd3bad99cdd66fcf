import csv
import dataclasses
import math

import pytest
import torch
import torchbearer
import yaml
from torchbearer import Trial, callbacks

from betavae.batches import TensorBatches
from betavae.errors import ParamsError, TrainingError, WriteError
from betavae.model import BetaVAE
from betavae.compute import CPU_FP32
from betavae.objective import bernoulli_nll, beta_vae_loss, kl_divergence
from betavae.params import DataParams
from betavae.training import (KL, LOGVAR, LOSS_PARTS, MU, RECONSTRUCTION, StateAdapter, add_kl_term,
                              beta_vae_criterion, build_trial, lr_factor, lr_schedule, split_train_val,
                              stop_on_non_finite_loss, train, warn_on_collapse)
from tests.conftest import TINY_PARAMS


@pytest.fixture
def tiny_train_params(params):
    return dataclasses.replace(params.train, epochs=2, kl_warmup_epochs=1, batch_size=32, val_size=20)


def test_the_optimised_loss_is_beta_vae_loss_and_the_kl_term_joins_through_add_to_loss(tiny_model_config, params):
    seen = {}

    @callbacks.on_backward
    def record(state):  # runs after loss.backward(): state[LOSS] is what was optimised
        seen.update(loss=state[torchbearer.LOSS].item(), mu=state[MU].detach(), logvar=state[LOGVAR].detach(),
                    y_pred=state[torchbearer.Y_PRED].detach(), y_true=state[torchbearer.Y_TRUE])

    settings = dataclasses.replace(params.train, beta=7.5, epochs=1, kl_warmup_epochs=0)
    trial = build_trial(BetaVAE(tiny_model_config), settings, CPU_FP32, steps_per_epoch=1, extra=[record])
    assert add_kl_term in trial.state[torchbearer.CALLBACK_LIST].callback_list
    trial.with_generators(TensorBatches(torch.rand(16, 1, 28, 28), batch_size=16)).for_steps(1).run(1)

    # the same batch scored again outside torchbearer, once with the one loss function, once by hand
    parts = beta_vae_loss("bce", seen["y_pred"], seen["y_true"], seen["mu"], seen["logvar"], beta=7.5)
    by_hand = (bernoulli_nll(seen["y_pred"], seen["y_true"]).mean() + 7.5 * kl_divergence(seen["mu"], seen["logvar"]).mean())
    assert parts.kl.item() > 0
    assert seen["loss"] == pytest.approx(parts.loss.item(), rel=1e-6) == pytest.approx(by_hand.item(), rel=1e-6)


def test_the_criterion_returns_the_reconstruction_and_add_kl_term_brings_the_loss_to_the_functions_sum(
        tiny_model_config):
    model = StateAdapter(BetaVAE(tiny_model_config))
    state = {torchbearer.Y_TRUE: torch.rand(4, 1, 28, 28)}
    state[torchbearer.Y_PRED] = model(state[torchbearer.Y_TRUE], state=state)
    state[torchbearer.LOSS] = beta_vae_criterion("mse", beta=2.0)(state)
    parts = state[LOSS_PARTS]
    assert torch.equal(state[torchbearer.LOSS], parts.reconstruction)
    add_kl_term.on_criterion(state)
    assert torch.equal(state[torchbearer.LOSS], parts.loss)
    assert state[RECONSTRUCTION].item() == parts.reconstruction.item() and state[KL].item() == parts.kl.item()
    assert parts.kl_term.item() == pytest.approx(2.0 * parts.kl.item())


def test_kl_warmup_weights_training_steps_and_validation_scores_the_full_objective(tiny_model_config):
    beta, seen = 4.0, []

    @callbacks.on_criterion
    def record_training(state):  # listed after the KL term, so the loss already includes it
        seen.append(("train", state[torchbearer.LOSS].item(), state[RECONSTRUCTION].item(), state[KL].item()))

    @callbacks.on_criterion_validation
    def record_validation(state):
        seen.append(("val", state[torchbearer.LOSS].item(), state[RECONSTRUCTION].item(), state[KL].item()))

    model = BetaVAE(tiny_model_config)
    trial = Trial(StateAdapter(model), torch.optim.SGD(model.parameters(), lr=0.0),
                  beta_vae_criterion("bce", beta, warmup_epochs=2),
                  callbacks=[add_kl_term, record_training, record_validation], verbose=0)
    trial.with_generators(TensorBatches(torch.rand(32, 1, 28, 28), batch_size=16),
                          val_generator=TensorBatches(torch.rand(16, 1, 28, 28), batch_size=16)).run(1)

    weights = [(kind, (loss - reconstruction) / (beta * kl)) for kind, loss, reconstruction, kl in seen]
    assert [kind for kind, _ in weights] == ["train", "train", "val"]
    assert [weight for _, weight in weights] == pytest.approx([0.0, 0.25, 1.0], abs=2e-3)  # fp32 loss


def test_split_holds_out_val_size_images():
    images = torch.arange(10.0).view(10, 1, 1, 1)
    training, validation = split_train_val(images, 3, seed=0)
    assert len(training) == 7 and len(validation) == 3
    assert sorted(torch.cat([training, validation]).flatten().tolist()) == list(range(10))
    with pytest.raises(ParamsError, match="train.val_size"):
        split_train_val(images, 10, seed=0)


def test_training_writes_a_log_row_per_epoch_and_learns(tiny_data, tiny_model_config, tiny_train_params, tmp_path):
    from betavae.data import load_images
    images, _ = load_images(tiny_data, "train")
    params = dataclasses.replace(tiny_train_params, epochs=4, lr=3.0e-3)
    train(images, tiny_model_config, params, tmp_path / "log.csv", verbose=0)
    rows = list(csv.DictReader(open(tmp_path / "log.csv")))
    assert [int(r["epoch"]) for r in rows] == [0, 1, 2, 3]
    assert set(rows[0]) == {"epoch", "loss", "reconstruction", "kl", "val_loss", "val_reconstruction", "val_kl"}
    assert float(rows[-1]["loss"]) < float(rows[0]["loss"])

    def full_objective(row, prefix=""):
        return float(row[prefix + "reconstruction"]) + params.beta * float(row[prefix + "kl"])
    assert params.kl_warmup_epochs == 1
    # In the warm-up epoch the KL weight rises from 0 to beta: about half the KL term is missing.
    assert full_objective(rows[0]) - float(rows[0]["loss"]) > 0.25 * params.beta * float(rows[0]["kl"])
    for row in rows[1:]:
        assert float(row["loss"]) == pytest.approx(full_objective(row), rel=1e-4)
    for row in rows:
        assert float(row["val_loss"]) == pytest.approx(full_objective(row, "val_"), rel=1e-4)


@pytest.mark.parametrize("loss, binarize", [("bce", False), ("bce", True), ("continuous_bernoulli", False)])
def test_two_trainings_give_identical_weights(tiny_model_config, tiny_train_params, tmp_path, loss, binarize):
    images = torch.rand(120, 1, 28, 28)
    params = dataclasses.replace(tiny_train_params, loss=loss)
    data = DataParams(binarize=binarize, binarize_seed=0)
    first = train(images, tiny_model_config, params, tmp_path / "a.csv", verbose=0, data=data)
    second = train(images, tiny_model_config, params, tmp_path / "b.csv", verbose=0, data=data)
    for (name, a), (_, b) in zip(first.state_dict().items(), second.state_dict().items()):
        assert torch.equal(a, b), name
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
    assert first.loss == loss


def test_binarized_training_sees_other_data_than_grey_training(tiny_model_config, tiny_train_params, tmp_path):
    images = torch.rand(120, 1, 28, 28)
    grey = train(images, tiny_model_config, tiny_train_params, tmp_path / "a.csv", verbose=0)
    binary = train(images, tiny_model_config, tiny_train_params, tmp_path / "b.csv", verbose=0,
                   data=DataParams(binarize=True, binarize_seed=0))
    assert not torch.equal(grey.decoder[0].weight, binary.decoder[0].weight)


def test_batch_larger_than_the_data_is_a_params_error(tiny_model_config, tiny_train_params, tmp_path):
    params = dataclasses.replace(tiny_train_params, batch_size=500)
    with pytest.raises(ParamsError, match="train.batch_size"):
        train(torch.rand(100, 1, 28, 28), tiny_model_config, params, tmp_path / "log.csv", verbose=0)
    assert not (tmp_path / "log.csv").exists()


def test_a_non_finite_loss_stops_training_with_epoch_batch_and_advice(tiny_model_config, tiny_train_params,
                                                                      tmp_path):
    images = torch.rand(120, 1, 28, 28)
    images[:, :, 5, 5] = float("nan")
    with pytest.raises(TrainingError, match=r"became nan at epoch 1, batch 1; no model was written\. "
                                            r"Try a lower train\.lr"):
        train(images, tiny_model_config, tiny_train_params, tmp_path / "log.csv", verbose=0)
    assert not (tmp_path / "log.csv").exists()


def test_the_train_stage_writes_no_model_after_a_non_finite_loss(tiny_data, tmp_path, monkeypatch):
    from stages import train as train_stage

    real_load_images = train_stage.load_images

    def load_nan_images(root, split):
        images, labels = real_load_images(root, split)
        return images.fill_(float("nan")), labels

    (tmp_path / "params.yaml").write_text(yaml.safe_dump(TINY_PARAMS))
    monkeypatch.setattr(train_stage, "load_images", load_nan_images)
    with pytest.raises(TrainingError):
        train_stage.main([str(tiny_data), str(tmp_path / "model.pt"), str(tmp_path / "log.csv"),
                          str(tmp_path / "platform.json"), str(tmp_path / "resume"),
                          "--params", str(tmp_path / "params.yaml")])
    assert not any((tmp_path / name).exists() for name in ("model.pt", "log.csv", "platform.json"))


def test_the_learning_rate_warms_up_linearly_then_follows_the_schedule():
    assert [lr_factor(step, 100, 4, cosine=False) for step in range(6)] == [0.25, 0.5, 0.75, 1.0, 1.0, 1.0]
    assert lr_factor(0, 100, 0, cosine=True) == 1.0
    assert lr_factor(50, 100, 0, cosine=True) == pytest.approx(0.5)
    assert lr_factor(50, 100, 10, cosine=True) == pytest.approx(0.5)  # warm-up over: the cosine alone
    assert lr_factor(1, 100, 4, cosine=True) == pytest.approx(0.5 * (1 + math.cos(math.pi / 100)) / 2)


def test_adam_steps_at_the_warmed_up_rate(tiny_model_config, params):
    model = BetaVAE(tiny_model_config)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    constant = dataclasses.replace(params.train, lr=0.01, lr_warmup_steps=4, lr_schedule="constant")
    schedule = lr_schedule(constant, steps_per_epoch=10)
    schedule.on_start({torchbearer.OPTIMIZER: optimizer})
    rates = []
    for _ in range(5):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        schedule.on_step_training({})
    assert rates == pytest.approx([0.0025, 0.005, 0.0075, 0.01, 0.01])
    resumed = lr_schedule(constant, steps_per_epoch=10).load_state_dict(schedule.state_dict())
    fresh = torch.optim.Adam(model.parameters(), lr=0.01)
    resumed.on_start({torchbearer.OPTIMIZER: fresh})
    assert fresh.param_groups[0]["lr"] == pytest.approx(0.01)  # a resumed run does not warm up again


def test_a_collapsed_model_is_warned_about_in_one_line(tiny_model_config, capsys):
    model = BetaVAE(tiny_model_config).eval()
    images = torch.rand(100, 1, 28, 28)
    with torch.no_grad():
        model.mu_head.weight.mul_(100)  # posterior means that vary with the image
    warn_on_collapse(model, images)
    assert capsys.readouterr().err == ""
    with torch.no_grad():
        for parameter in model.mu_head.parameters():
            parameter.zero_()  # every image gets the same posterior mean: no active unit
    warn_on_collapse(model, images)
    err = capsys.readouterr().err
    assert err.startswith("warning: posterior collapse: 0 of 4 latent units are active on the validation images")
    assert err.count("\n") == 1


def test_a_resumed_schedule_inside_the_warm_up_sets_the_rate_of_its_step(tiny_model_config, params):
    model = BetaVAE(tiny_model_config)
    constant = dataclasses.replace(params.train, lr=0.01, lr_warmup_steps=4, lr_schedule="constant")
    schedule = lr_schedule(constant, steps_per_epoch=10)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    schedule.on_start({torchbearer.OPTIMIZER: optimizer})
    for _ in range(2):
        optimizer.step()
        schedule.on_step_training({})
    resumed = lr_schedule(constant, steps_per_epoch=10).load_state_dict(schedule.state_dict())
    fresh = torch.optim.Adam(model.parameters(), lr=0.01)
    resumed.on_start({torchbearer.OPTIMIZER: fresh})
    assert fresh.param_groups[0]["lr"] == pytest.approx(0.01 * 3 / 4)  # the third step's rate


@pytest.mark.parametrize("name, cosine", [("cosine", True), ("constant", False)])
def test_the_schedule_spans_every_step_of_training_and_follows_the_named_shape(params, name, cosine):
    settings = dataclasses.replace(params.train, epochs=3, kl_warmup_epochs=1, lr_warmup_steps=2,
                                   lr_schedule="".join(name))
    schedule = lr_schedule(settings, steps_per_epoch=7)  # a name read from YAML is a new string, not a literal
    for step in (0, 1, 5, 10, 20):
        assert schedule.factor(step) == pytest.approx(lr_factor(step, 21, 2, cosine))
    assert schedule.factor(20) < 0.01 if cosine else schedule.factor(20) == 1.0


def test_the_stop_on_a_non_finite_loss_counts_epochs_and_batches_from_one():
    optimizer = torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=0.002)
    # odd indices: index + 1 differs from index | 1 and index ^ 1
    state = {torchbearer.LOSS: torch.tensor(float("inf")), torchbearer.EPOCH: 3, torchbearer.BATCH: 5,
             torchbearer.OPTIMIZER: optimizer}
    with pytest.raises(TrainingError, match=r"became inf at epoch 4, batch 6; .*learning rate was 0\.002\)"):
        stop_on_non_finite_loss.on_criterion(state)


def test_training_uses_fused_adam(tiny_model_config, params):
    """Fused Adam is faster, and its rounding is part of the committed bits."""
    trial = build_trial(BetaVAE(tiny_model_config), params.train, CPU_FP32, steps_per_epoch=10)
    assert trial.state[torchbearer.OPTIMIZER].defaults["fused"] is True


def test_held_out_images_must_leave_some_to_train_on():
    images = torch.rand(10, 1, 28, 28)
    assert [len(part) for part in split_train_val(images, 9, seed=0)] == [1, 9]
    for val_size in (10, 11):
        with pytest.raises(ParamsError, match="train.val_size must be smaller than the 10 training images"):
            split_train_val(images, val_size, seed=0)


def test_a_batch_of_all_the_training_images_is_allowed(tiny_model_config, tiny_train_params, tmp_path):
    params = dataclasses.replace(tiny_train_params, batch_size=80, epochs=1)
    train(torch.rand(100, 1, 28, 28), tiny_model_config, params, tmp_path / "log.csv", verbose=0)  # 80 train, 20 val
    assert len((tmp_path / "log.csv").read_text().splitlines()) == 2


@pytest.mark.parametrize("binarize", [False, True])
def test_validation_is_binarized_once_exactly_when_asked(tiny_model_config, tiny_train_params, tmp_path, monkeypatch,
                                                         binarize):
    from betavae import training
    calls = []
    real = training.binarize_once
    monkeypatch.setattr(training, "binarize_once", lambda images, seed: calls.append(seed) or real(images, seed))
    params = dataclasses.replace(tiny_train_params, epochs=1)
    train(torch.rand(100, 1, 28, 28), tiny_model_config, params, tmp_path / "log.csv", verbose=0,
          data=DataParams(binarize=binarize, binarize_seed=7))
    assert calls == ([7] if binarize else [])


def test_a_fresh_run_overwrites_a_stale_log_and_a_resume_dir_is_made_with_its_parents(tiny_model_config,
                                                                                      tiny_train_params, tmp_path):
    params = dataclasses.replace(tiny_train_params, epochs=1)
    resume_dir = tmp_path / "a" / "b" / "resume"
    resume_dir.parent.mkdir(parents=True)
    resume_dir.mkdir()  # already there, empty: a fresh run
    (resume_dir / "training.csv").write_text("stale,rows\n1,2\n3,4\n")
    train(torch.rand(100, 1, 28, 28), tiny_model_config, params, tmp_path / "log.csv", verbose=0,
          resume_dir=resume_dir)
    rows = list(csv.reader((tmp_path / "log.csv").read_text().splitlines()))
    assert rows[0][0] == "epoch" and len(rows) == 2
    train(torch.rand(100, 1, 28, 28), tiny_model_config, params, tmp_path / "log2.csv", verbose=0,
          resume_dir=tmp_path / "x" / "y" / "z")  # parents made
    assert (tmp_path / "log2.csv").is_file()


def test_a_failed_write_of_the_log_names_the_file_and_the_systems_reason(tiny_model_config, tiny_train_params,
                                                                          tmp_path, monkeypatch):
    import errno

    def full_disk(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(Trial, "run", full_disk)
    params = dataclasses.replace(tiny_train_params, epochs=1)
    with pytest.raises(WriteError, match=r"^cannot write .*training\.csv: No space left on device; finished epochs"):
        train(torch.rand(100, 1, 28, 28), tiny_model_config, params, tmp_path / "log.csv", verbose=0)


def test_the_kl_weight_warms_up_on_any_key_torchbearer_takes_for_the_training_data():
    """torchbearer compares a state key by its name: the name of TRAIN_DATA is the training data too."""
    from betavae.training import _kl_weight
    state = {torchbearer.EPOCH: 0, torchbearer.BATCH: 5, torchbearer.STEPS: 10}
    by_name = str(torchbearer.TRAIN_DATA)
    assert by_name is not torchbearer.TRAIN_DATA and torchbearer.TRAIN_DATA == by_name
    assert _kl_weight({**state, torchbearer.DATA: by_name}, warmup_epochs=2) == pytest.approx(0.25)
    assert _kl_weight({**state, torchbearer.DATA: torchbearer.TRAIN_DATA}, warmup_epochs=2) == pytest.approx(0.25)
    assert _kl_weight({**state, torchbearer.DATA: torchbearer.VALIDATION_DATA}, warmup_epochs=2) == 1.0
    assert _kl_weight({**state, torchbearer.DATA: torchbearer.TRAIN_DATA}, warmup_epochs=0) == 1.0
