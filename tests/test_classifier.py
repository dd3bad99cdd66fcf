"""The offline classifier whose features score samples."""

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
