"""The offline classifier whose features score samples."""

from pathlib import Path

import pytest
import torch

from betavae.classifier import (FEATURES, Classifier, features, load_classifier, predict, save_classifier,
                                train_classifier)
from betavae.data import load_images
from betavae.errors import DataError
from betavae.params import ClassifierParams


def test_shapes_of_logits_predictions_and_features():
    model = Classifier().eval()
    images = torch.rand(5, 1, 28, 28)
    assert model(images).shape == (5, 10)
    assert predict(model, images, batch_size=2).shape == (5,)
    assert features(model, images, batch_size=2).shape == (5, FEATURES)


def test_training_learns_the_generated_classes(tiny_data):
    images, labels = load_images(tiny_data, "train")
    test_images, test_labels = load_images(tiny_data, "test")
    model = train_classifier(images, labels, ClassifierParams(epochs=3, batch_size=32, lr=3.0e-3, seed=0),
                             verbose=0)
    assert predict(model, test_images).eq(test_labels).float().mean() > 0.5  # chance is 0.1


def test_a_saved_classifier_loads_with_the_same_outputs(tmp_path):
    model = Classifier().eval()
    save_classifier(model, tmp_path / "classifier.pt")
    images = torch.rand(3, 1, 28, 28)
    assert torch.equal(load_classifier(tmp_path / "classifier.pt")(images), model(images))


def test_a_missing_or_corrupt_classifier_file_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match="dvc repro classifier"):
        load_classifier(tmp_path / "absent.pt")
    (tmp_path / "corrupt.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(DataError, match="not a valid classifier checkpoint"):
        load_classifier(tmp_path / "corrupt.pt")


def test_the_layers_have_the_shapes_the_architecture_states():
    model = Classifier().eval()
    images = torch.rand(2, 1, 28, 28)
    assert model.features[:3](images).shape == (2, 16, 14, 14)
    assert model.features[:6](images).shape == (2, 32, 7, 7)
    assert {name: tuple(p.shape) for name, p in model.state_dict().items()} == {
        "features.0.weight": (16, 1, 3, 3), "features.0.bias": (16,),
        "features.3.weight": (32, 16, 3, 3), "features.3.bias": (32,),
        "features.7.weight": (128, 32 * 7 * 7), "features.7.bias": (128,),
        "head.weight": (10, 128), "head.bias": (10,)}


class _RecordsGradMode(Classifier):
    def __init__(self):
        super().__init__()
        self.grad_enabled = []
        self.features.register_forward_hook(lambda *_: self.grad_enabled.append(torch.is_grad_enabled()))


def test_features_and_predictions_build_no_autograd_graph():
    model = _RecordsGradMode().eval()
    images = torch.rand(3, 1, 28, 28)
    assert not features(model, images).requires_grad
    predict(model, images)
    assert model.grad_enabled == [False, False]


def test_the_classifier_trains_with_the_fused_adam(tiny_data, monkeypatch):
    # fused and foreach Adam round differently: the committed classifier's bits need the fused one
    made = []
    adam = torch.optim.Adam
    monkeypatch.setattr(torch.optim, "Adam", lambda *args, **kwargs: made.append(kwargs) or adam(*args, **kwargs))
    images, labels = load_images(tiny_data, "test")
    train_classifier(images, labels, ClassifierParams(epochs=1, batch_size=25, lr=3.0e-3, seed=0), verbose=0)
    assert made == [{"lr": 3.0e-3, "fused": True}]


class _RunsOnLoad:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_a_checkpoint_that_runs_code_when_unpickled_is_refused_before_it_runs(tmp_path):
    marker = tmp_path / "code-ran"
    torch.save({"payload": _RunsOnLoad(marker)}, tmp_path / "hostile.pt")
    with pytest.raises(DataError, match="not a valid classifier checkpoint"):
        load_classifier(tmp_path / "hostile.pt")
    assert not marker.exists()
