import math

import torch

from betavae.objective import (bernoulli_nll, kl_divergence, kl_divergence_per_dimension, kl_term, kl_weight,
                               reconstruction_loss, squared_error)


def test_kl_is_zero_for_the_standard_normal():
    assert torch.equal(kl_divergence(torch.zeros(3, 10), torch.zeros(3, 10)), torch.zeros(3))


def test_kl_of_unit_mean_over_ten_dimensions_is_five():
    assert torch.allclose(kl_divergence(torch.ones(2, 10), torch.zeros(2, 10)), torch.full((2,), 5.0))


def test_kl_matches_the_one_dimensional_closed_form():
    mu, sigma = 0.3, 2.0
    expected = math.log(1 / sigma) + (sigma**2 + mu**2) / 2 - 0.5
    got = kl_divergence(torch.tensor([[mu]]), torch.tensor([[math.log(sigma**2)]]))
    assert math.isclose(got.item(), expected, rel_tol=1e-6)


def test_kl_is_positive_away_from_the_prior():
    mu, logvar = torch.randn(50, 10), torch.randn(50, 10)
    assert (kl_divergence(mu, logvar) > 0).all()


def test_bernoulli_nll_of_logit_zero_is_log_two_per_pixel():
    images = torch.rand(2, 1, 28, 28)
    nll = bernoulli_nll(torch.zeros(2, 1, 28, 28), images)
    assert torch.allclose(nll, torch.full((2,), 784 * math.log(2)))


def test_squared_error_sums_over_pixels():
    images = torch.zeros(1, 1, 28, 28)
    logits = torch.zeros(1, 1, 28, 28)  # sigmoid(0) = 0.5
    assert torch.allclose(squared_error(logits, images), torch.tensor([784 * 0.25]))


def test_reconstruction_loss_dispatches_by_name():
    logits, images = torch.randn(3, 1, 28, 28), torch.rand(3, 1, 28, 28)
    assert torch.equal(reconstruction_loss("bce", logits, images), bernoulli_nll(logits, images))
    assert torch.equal(reconstruction_loss("mse", logits, images), squared_error(logits, images))


def test_the_per_dimension_kl_sums_to_the_kl():
    mu, logvar = torch.randn(4, 6), torch.randn(4, 6)
    assert torch.allclose(kl_divergence_per_dimension(mu, logvar).sum(1), kl_divergence(mu, logvar))


def test_kl_weight_rises_linearly_over_the_warmup_epochs_then_stays_one():
    assert kl_weight(epoch=0, batch=0, steps_per_epoch=100, warmup_epochs=4) == 0.0
    assert kl_weight(epoch=1, batch=50, steps_per_epoch=100, warmup_epochs=4) == 0.375
    assert kl_weight(epoch=4, batch=0, steps_per_epoch=100, warmup_epochs=4) == 1.0
    assert kl_weight(epoch=9, batch=99, steps_per_epoch=100, warmup_epochs=4) == 1.0
    assert kl_weight(epoch=0, batch=0, steps_per_epoch=100, warmup_epochs=0) == 1.0


def test_the_kl_term_is_weight_times_beta_times_kl():
    assert kl_term(torch.tensor(2.0), beta=5.0, weight=0.25).item() == 2.5
    assert kl_term(torch.tensor(2.0), beta=5.0).item() == 10.0
