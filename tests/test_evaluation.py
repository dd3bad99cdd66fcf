import math

import pytest
import torch

from betavae.evaluation import (evaluate, iwae_bound, kl_of_largest_units, kl_per_dimension, latent_metrics,
                                log_importance_weights)
from betavae.objective import kl_divergence, reconstruction_loss
from betavae.model import BetaVAE, reparameterize


class ConstantModel(BetaVAE):
    """Posterior N(0, I) for every image, decoder outputs logit 0 (pixel 0.5) everywhere."""

    def encode(self, images):
        zeros = torch.zeros(len(images), self.config.latent_dim)
        return zeros, zeros.clone()

    def decode_logits(self, z):
        return torch.zeros(len(z), 1, 28, 28)


def test_known_answers_for_a_constant_model_on_binary_pixels(tiny_model_config):
    images = torch.zeros(30, 1, 28, 28)
    metrics = evaluate(ConstantModel(tiny_model_config), images, images, batch_size=7, seed=0, binary_pixels=True)
    assert metrics["test_mse"] == pytest.approx(0.25)
    assert metrics["kl_nats"] == pytest.approx(0.0)
    assert metrics["reconstruction_nats"] == pytest.approx(784 * math.log(2), rel=1e-6)
    assert metrics["elbo_nats"] == pytest.approx(-784 * math.log(2), rel=1e-6)


@pytest.mark.parametrize("samples", [1, 50])
def test_the_iwae_bound_is_log_p_x_exactly_where_the_posterior_is_exact(tiny_model_config, samples):
    """A decoder that ignores z and an encoder that returns the prior: every importance weight is p(x), and
    p(x) is the Bernoulli's, 2^-784 for logit 0. The mean of K equal weights is that weight: the bound is
    log p(x) for any K (without its - log K it would be log K too high)."""
    images = torch.bernoulli(torch.full((6, 1, 28, 28), 0.3), generator=torch.Generator().manual_seed(0))
    bound = iwae_bound(ConstantModel(tiny_model_config), images, samples, batch_size=64,
                       generator=torch.Generator().manual_seed(1))
    assert bound.tolist() == pytest.approx([-784 * math.log(2)] * 6, rel=1e-6)  # float32 sums


def test_the_bernoulli_on_grey_levels_is_reported_as_an_objective_not_a_bound(tiny_model_config):
    images = torch.full((10, 1, 28, 28), 0.5)
    metrics = evaluate(ConstantModel(tiny_model_config), images, images, batch_size=7, seed=0, binary_pixels=False)
    assert metrics["bce_reconstruction"] == pytest.approx(784 * math.log(2), rel=1e-6)
    assert metrics["bce_objective"] == pytest.approx(784 * math.log(2), rel=1e-6)
    assert not {"elbo_nats", "reconstruction_nats", "iwae_nats", "nll_nats"} & metrics.keys()


def test_the_continuous_bernoulli_is_a_likelihood_on_grey_levels(tiny_model_config):
    """Logit 0 everywhere: the uniform density on [0, 1]^784, so log p(x|z) = 0 for any image."""
    images = torch.rand(10, 1, 28, 28)
    model = ConstantModel(tiny_model_config, loss="continuous_bernoulli")
    metrics = evaluate(model, images, images, batch_size=4, seed=0, binary_pixels=False)
    assert metrics["reconstruction_nats"] == pytest.approx(0.0, abs=1e-3)
    assert metrics["elbo_nats"] == pytest.approx(0.0, abs=1e-3)
    assert "bce_objective" not in metrics
    assert metrics["test_mse"] == pytest.approx((images - 0.5).pow(2).mean().item(), rel=1e-5)


def test_mse_is_measured_against_the_targets_not_the_inputs(tiny_model_config):
    inputs, targets = torch.zeros(5, 1, 28, 28), torch.ones(5, 1, 28, 28)
    metrics = evaluate(ConstantModel(tiny_model_config), inputs, targets, batch_size=5, seed=0, binary_pixels=True)
    assert metrics["test_mse"] == pytest.approx(0.25)
    assert metrics["reconstruction_nats"] == pytest.approx(784 * math.log(2), rel=1e-6)


def test_metrics_do_not_depend_on_batch_size_and_repeat(tiny_model_config):
    model = BetaVAE(tiny_model_config).eval()
    images = torch.rand(40, 1, 28, 28)
    whole = evaluate(model, images, images, batch_size=40, seed=3, binary_pixels=False)
    assert evaluate(model, images, images, batch_size=40, seed=3, binary_pixels=False) == whole
    batched = evaluate(model, images, images, batch_size=9, seed=3, binary_pixels=False)
    assert batched["test_mse"] == pytest.approx(whole["test_mse"], rel=1e-5)
    assert batched["kl_nats"] == pytest.approx(whole["kl_nats"], rel=1e-5)


@pytest.mark.parametrize("loss", ["bce", "continuous_bernoulli"])
def test_iwae_with_one_sample_is_the_elbo_estimate_of_that_sample(tiny_model_config, loss):
    model = BetaVAE(tiny_model_config, loss).eval()
    images = torch.rand(6, 1, 28, 28)
    bound = iwae_bound(model, images, samples=1, batch_size=6, generator=torch.Generator().manual_seed(4))
    mu, logvar = model.encode(images)
    z = reparameterize(mu, logvar, torch.Generator().manual_seed(4))
    with torch.no_grad():
        elbo_estimate = log_importance_weights(model, images, z.unsqueeze(0), mu, logvar)[0]
    assert torch.allclose(bound, elbo_estimate, atol=1e-4)
    with torch.no_grad():  # the same weight, written with torch.distributions
        log_likelihood = -reconstruction_loss(loss, model.decode_logits(z), images)
        log_prior = torch.distributions.Normal(0.0, 1.0).log_prob(z).sum(-1)
        log_posterior = torch.distributions.Normal(mu, (0.5 * logvar).exp()).log_prob(z).sum(-1)
    assert torch.allclose(bound, log_likelihood + log_prior - log_posterior, atol=1e-3)


@pytest.mark.parametrize("loss", ["bce", "continuous_bernoulli"])
def test_iwae_is_above_the_elbo_and_grows_with_k_on_average(tiny_model_config, loss):
    torch.manual_seed(1)
    model = BetaVAE(tiny_model_config, loss).eval()
    with torch.no_grad():  # make the likelihood depend strongly on z, so q(z|x) is a poor proposal
        model.decoder[0].weight.mul_(20.0)
    images = torch.rand(100, 1, 28, 28).round()
    bounds = {k: iwae_bound(model, images, k, batch_size=1000, generator=torch.Generator().manual_seed(0)).mean()
              for k in (1, 10, 100)}
    metrics = evaluate(model, images, images, batch_size=100, seed=0, binary_pixels=True)
    assert bounds[1] < bounds[10] < bounds[100]
    assert bounds[100] > metrics["elbo_nats"]


def test_kl_per_dimension_sums_to_the_total_kl():
    mu, logvar = torch.randn(30, 5), torch.randn(30, 5)
    assert torch.allclose(kl_per_dimension(mu, logvar).sum(), kl_divergence(mu, logvar).mean())


def test_latent_metrics_record_a_collapse():
    dead = latent_metrics(torch.zeros(50, 4), torch.zeros(50, 4))
    assert dead["active_units"] == 0 and dead["posterior_collapse"] is True
    alive = latent_metrics(torch.randn(50, 4), torch.zeros(50, 4))
    assert alive["active_units"] == 4 and alive["posterior_collapse"] is False


def test_the_kl_of_the_largest_units_names_no_unit_index():
    # the same per-unit KL in another unit order: the same metrics
    assert kl_of_largest_units(torch.tensor([0.1, 3.0, 1.0])) == {"1": 3.0, "2": 4.0}
    assert kl_of_largest_units(torch.tensor([1.0, 0.1, 3.0])) == {"1": 3.0, "2": 4.0}
    assert kl_of_largest_units(torch.tensor([2.5])) == {"1": 2.5}  # one latent unit: one sum


def test_latent_metrics_report_the_largest_units_and_no_indexed_kl():
    mu = torch.tensor([[0.0, 2.0], [0.0, -2.0], [0.0, 2.0], [0.0, -2.0]])
    metrics = latent_metrics(mu, torch.zeros(4, 2))
    assert set(metrics) == {"active_units", "posterior_collapse", "kl_largest_units"}
    assert metrics["kl_largest_units"] == {"1": pytest.approx(2.0), "2": pytest.approx(2.0)}  # mu^2 / 2 = 2 nats
    assert metrics["active_units"] == 1 and metrics["posterior_collapse"]  # one active unit is a collapse


class ShiftedModel(ConstantModel):
    """Posterior N(1/2, I) for every image (KL = D/8 nats each, not a whole number), the decoder still at logit 0."""

    def encode(self, images):
        halves = torch.full((len(images), self.config.latent_dim), 0.5)
        return halves, torch.zeros_like(halves)


@pytest.mark.parametrize("count", [1, 5])
def test_known_answers_with_a_posterior_off_the_prior(tiny_model_config, count):
    images = torch.zeros(count, 1, 28, 28)
    dims = tiny_model_config.latent_dim
    binary = evaluate(ShiftedModel(tiny_model_config), images, images, batch_size=2, seed=0, binary_pixels=True)
    assert binary["kl_nats"] == pytest.approx(dims / 8)
    assert binary["test_mse"] == pytest.approx(0.25)  # over the 784 pixels of an image, even of a single one
    assert binary["elbo_nats"] == pytest.approx(-(784 * math.log(2) + dims / 8), rel=1e-6)
    grey = evaluate(ShiftedModel(tiny_model_config, "".join("bce")), images, images, batch_size=2, seed=0,
                    binary_pixels=False)  # a loss name read from a file is a new string
    assert grey["bce_objective"] == pytest.approx(784 * math.log(2) + dims / 8, rel=1e-6)
    squared = evaluate(ShiftedModel(tiny_model_config, "mse"), images, images, batch_size=2, seed=0,
                       binary_pixels=True)
    assert set(squared) == {"test_mse", "kl_nats"}  # squared error is neither a likelihood nor the bce objective


def test_the_iwae_bound_takes_batch_size_over_k_images_at_a_time_and_one_at_least(tiny_model_config):
    model = BetaVAE(tiny_model_config).eval()
    images = torch.bernoulli(torch.full((5, 1, 28, 28), 0.3), generator=torch.Generator().manual_seed(0))
    together = iwae_bound(model, images, 4, batch_size=8, generator=torch.Generator().manual_seed(1))
    generator = torch.Generator().manual_seed(1)
    apart = torch.cat([iwae_bound(model, images[i:i + 2], 4, batch_size=1000, generator=generator)
                       for i in range(0, 5, 2)])  # 8 // 4 = 2 images a batch, drawn in that order
    assert torch.equal(together, apart)
    small = iwae_bound(model, images, 50, batch_size=16, generator=torch.Generator().manual_seed(1))
    generator = torch.Generator().manual_seed(1)
    one_by_one = torch.cat([iwae_bound(model, images[i:i + 1], 50, batch_size=1000, generator=generator)
                            for i in range(5)])
    assert torch.equal(small, one_by_one)


@pytest.mark.parametrize("binarize, loss", [(False, "bce"), (True, "bce"), (False, "continuous_bernoulli")])
def test_the_full_evaluation_is_its_parts_on_the_right_images_and_labels(tiny_model_config, binarize, loss):
    from betavae.classifier import Classifier
    from betavae.data import binarize_once
    from betavae.evaluation import encode_all, full_evaluation, probe_metrics, sample_quality
    from betavae.params import DataParams, EvaluateParams
    torch.manual_seed(0)
    model, classifier = BetaVAE(tiny_model_config, loss).eval(), Classifier().eval()
    train = (torch.rand(40, 1, 28, 28), torch.arange(40) % 10)
    test = (torch.rand(30, 1, 28, 28), torch.arange(30).flip(0) % 10)
    params = EvaluateParams(batch_size=16, seed=3, iwae_samples=4, knn_neighbours=3, prior_samples=20)
    data = DataParams(binarize=binarize, binarize_seed=5)
    found = full_evaluation(model, classifier, train, test, params, data)
    inputs = binarize_once(test[0], 5) if binarize else test[0]
    train_inputs = binarize_once(train[0], 5) if binarize else train[0]
    expected = evaluate(model, inputs, test[0], 16, 3, binarize)
    generator = torch.Generator().manual_seed(3)
    if loss == "continuous_bernoulli" or binarize:
        expected["iwae_nats"] = iwae_bound(model, inputs, 4, 16, generator).mean().item()
        assert found["iwae_nats"] == pytest.approx(expected["iwae_nats"])
    if binarize:
        assert found["nll_nats"] == -found["iwae_nats"]
    else:
        assert "nll_nats" not in found
    if loss == "bce" and not binarize:
        assert "iwae_nats" not in found
    test_mu, test_logvar = encode_all(model, inputs, 16)
    train_mu, _ = encode_all(model, train_inputs, 16)
    expected.update(latent_metrics(test_mu, test_logvar))
    expected.update(probe_metrics(train_mu, train[1], test_mu, test[1], 3))
    expected.update(sample_quality(model, classifier, test[0], test_mu, 20, 16, generator))
    assert found.keys() == expected.keys() | ({"nll_nats"} if binarize else set())
    for name, value in expected.items():
        assert found[name] == (pytest.approx(value) if isinstance(value, float) else value), name
