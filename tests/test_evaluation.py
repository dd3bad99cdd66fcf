import math

import pytest
import torch

from betavae.evaluation import evaluate
from betavae.model import BetaVAE


class ConstantModel(BetaVAE):
    """Posterior N(0, I) for every image, decoder outputs logit 0 (pixel 0.5) everywhere."""

    def encode(self, images):
        zeros = torch.zeros(len(images), self.config.latent_dim)
        return zeros, zeros.clone()

    def decode_logits(self, z):
        return torch.zeros(len(z), 1, 28, 28)


def test_known_answers_for_a_constant_model(tiny_model_config):
    images = torch.zeros(30, 1, 28, 28)
    metrics = evaluate(ConstantModel(tiny_model_config), images, batch_size=7, seed=0)
    assert metrics["test_mse"] == pytest.approx(0.25)
    assert metrics["kl_nats"] == pytest.approx(0.0)
    assert metrics["reconstruction_nats"] == pytest.approx(784 * math.log(2), rel=1e-6)
    assert metrics["elbo_nats"] == pytest.approx(-784 * math.log(2), rel=1e-6)
    assert metrics["test_images"] == 30


def test_metrics_do_not_depend_on_batch_size_and_repeat(tiny_model_config):
    model = BetaVAE(tiny_model_config).eval()
    images = torch.rand(40, 1, 28, 28)
    whole = evaluate(model, images, batch_size=40, seed=3)
    assert evaluate(model, images, batch_size=40, seed=3) == whole
    batched = evaluate(model, images, batch_size=9, seed=3)
    assert batched["test_mse"] == pytest.approx(whole["test_mse"], rel=1e-5)
    assert batched["kl_nats"] == pytest.approx(whole["kl_nats"], rel=1e-5)
