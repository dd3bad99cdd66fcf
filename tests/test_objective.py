import dataclasses
import decimal
import math

import torch

import pytest
import torch.nn.functional as F
import yaml

from betavae.objective import (bernoulli_nll, beta_vae_loss, continuous_bernoulli_log_normalizer,
                               continuous_bernoulli_mean, continuous_bernoulli_nll, decoder_mean, is_log_likelihood,
                               kl_divergence, kl_divergence_per_dimension, kl_term, kl_weight, reconstruction_loss,
                               squared_error)


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
    assert torch.equal(reconstruction_loss("continuous_bernoulli", logits, images),
                       continuous_bernoulli_nll(logits, images))


def test_the_continuous_bernoulli_normaliser_is_two_at_one_half():
    assert continuous_bernoulli_log_normalizer(torch.zeros(3, dtype=torch.float64)).exp().tolist() == [2.0] * 3
    assert continuous_bernoulli_log_normalizer(torch.zeros(1)).exp().item() == pytest.approx(2.0, rel=1e-7)


def logit(probability: float) -> float:
    return math.log(probability / (1 - probability))


# λ near 0, near and at 1/2 (on both sides of where the series hands over to the closed form), near 1.
LAMBDAS = [1e-6, 0.02, 0.3, 0.45, 0.4751, 0.4999, 0.5, 0.50001, 0.5249, 0.53, 0.8, 0.999, 1 - 1e-6]


@pytest.mark.parametrize("probability", LAMBDAS)
def test_the_continuous_bernoulli_density_integrates_to_one(probability):
    x = torch.linspace(0, 1, 400_001, dtype=torch.float64)
    logits = torch.full_like(x, logit(probability))
    log_density = -F.binary_cross_entropy_with_logits(logits, x, reduction="none") \
        + continuous_bernoulli_log_normalizer(logits)
    assert torch.trapezoid(log_density.exp(), x).item() == pytest.approx(1.0, abs=1e-6)
    mean = torch.trapezoid(x * log_density.exp(), x).item()
    assert continuous_bernoulli_mean(logits[:1]).item() == pytest.approx(mean, abs=1e-6)


@pytest.mark.parametrize("probability", LAMBDAS)
def test_the_normaliser_matches_its_closed_form_in_lambda(probability):
    """C(λ) = 2 atanh(1 − 2λ) / (1 − 2λ), evaluated in exact arithmetic (mpmath-free: float64 away from 1/2)."""
    if abs(probability - 0.5) < 1e-3:
        expected = math.log(2) + (4 / 3) * (probability - 0.5) ** 2  # the series in λ (Loaiza-Ganem & Cunningham)
    else:
        expected = math.log(2 * math.atanh(1 - 2 * probability) / (1 - 2 * probability))
    got = continuous_bernoulli_log_normalizer(torch.tensor([logit(probability)], dtype=torch.float64)).item()
    assert got == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_the_continuous_bernoulli_is_finite_with_finite_gradients_at_extreme_and_central_logits():
    logits = torch.tensor([-200.0, -30.0, -1e-6, 0.0, 1e-6, 0.19, 0.21, 30.0, 200.0], requires_grad=True)
    images = torch.rand(9)
    nll = continuous_bernoulli_nll(logits.view(1, 1, 3, 3), images.view(1, 1, 3, 3))
    nll.sum().backward()
    assert torch.isfinite(nll).all() and torch.isfinite(logits.grad).all()
    assert continuous_bernoulli_log_normalizer(torch.tensor([200.0])).item() == pytest.approx(math.log(200.0))


def test_the_continuous_bernoulli_agrees_with_torch_distributions_away_from_saturation():
    logits, images = 4 * torch.randn(2, 1, 28, 28, dtype=torch.float64), torch.rand(2, 1, 28, 28, dtype=torch.float64)
    reference = torch.distributions.ContinuousBernoulli(logits=logits)
    assert torch.allclose(continuous_bernoulli_nll(logits, images), -reference.log_prob(images).flatten(1).sum(1))
    assert torch.allclose(continuous_bernoulli_mean(logits), reference.mean)


def test_the_normaliser_is_computed_in_fp32_under_bf16():
    logits = torch.linspace(-5, 5, 101)
    from_bf16 = continuous_bernoulli_log_normalizer(logits.bfloat16())
    assert from_bf16.dtype == torch.float32
    assert torch.allclose(from_bf16, continuous_bernoulli_log_normalizer(logits.bfloat16().float()))


def test_likelihood_needs_a_normalised_density_on_the_data():
    assert is_log_likelihood("continuous_bernoulli", binary_pixels=False)
    assert is_log_likelihood("continuous_bernoulli", binary_pixels=True)
    assert is_log_likelihood("bce", binary_pixels=True)
    assert not is_log_likelihood("bce", binary_pixels=False)  # the Bernoulli on grey levels
    assert not is_log_likelihood("mse", binary_pixels=True)


def test_the_decoder_mean_is_sigmoid_for_the_bernoulli_and_the_cb_mean_otherwise():
    logits = torch.tensor([-3.0, 0.0, 3.0])
    assert torch.equal(decoder_mean("bce", logits), torch.sigmoid(logits))
    assert torch.equal(decoder_mean("continuous_bernoulli", logits), continuous_bernoulli_mean(logits))
    assert continuous_bernoulli_mean(torch.tensor([3.0])).item() < torch.sigmoid(torch.tensor(3.0)).item()


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


def test_beta_vae_loss_of_a_known_batch():
    # logit 0 on every pixel: the Bernoulli cross-entropy is log 2 per pixel, 784 log 2 per image; mu = 1 on
    # ten dimensions with unit variance: KL = 10 · 1/2 = 5 nats. β = 2 at warm-up weight 0.5: KL term 5.
    logits, images = torch.zeros(3, 1, 28, 28), torch.rand(3, 1, 28, 28)
    mu, logvar = torch.ones(3, 10), torch.zeros(3, 10)
    parts = beta_vae_loss("bce", logits, images, mu, logvar, beta=2.0, kl_weight=0.5)
    assert parts.reconstruction.item() == pytest.approx(784 * math.log(2), rel=1e-6)
    assert parts.kl.item() == pytest.approx(5.0) and parts.kl_term.item() == pytest.approx(5.0)
    assert parts.loss.item() == pytest.approx(784 * math.log(2) + 5.0, rel=1e-6)


def test_beta_vae_loss_averages_each_term_over_the_batch():
    logits = torch.zeros(2, 1, 28, 28)
    images = torch.stack([torch.zeros(1, 28, 28), torch.ones(1, 28, 28)])  # both cost log 2 per pixel at logit 0
    mu, logvar = torch.tensor([[0.0, 0.0], [2.0, 0.0]]), torch.zeros(2, 2)  # KL 0 and 2: mean 1
    parts = beta_vae_loss("mse", logits, images, mu, logvar, beta=3.0)
    assert parts.reconstruction.item() == pytest.approx(784 * 0.25)  # (0.5 - x)^2 = 0.25 per pixel
    assert parts.kl.item() == pytest.approx(1.0) and parts.loss.item() == pytest.approx(784 * 0.25 + 3.0)


def _exact(function, u: float) -> float:
    """function(coth u) at 40 significant digits: the closed forms without float64's cancellation near u = 0."""
    with decimal.localcontext() as context:
        context.prec = 40
        u_ = decimal.Decimal(u)
        coth = ((2 * u_).exp() + 1) / ((2 * u_).exp() - 1)
        return float(function(u_, coth))


# u = η/2 at and inside the switch to the series (|u| < 0.1), both signs
SERIES_POINTS = (0.0999, 0.07, 0.03, -0.05, -0.0999)


@pytest.mark.parametrize("u", SERIES_POINTS)
def test_the_normaliser_series_is_the_exact_value_less_its_omitted_terms(u):
    """log C = log 2 + log(u coth u) = log 2 + u²/3 − 7u⁴/90 + 62u⁶/2835 − 127u⁸/18900 + c·u¹⁰ (c ≈ 0.0022):
    the implemented series differs from the exact value by its first omitted term, to within the second."""
    exact = _exact(lambda u_, coth: (2 * u_ * coth).ln(), u)
    series = continuous_bernoulli_log_normalizer(torch.tensor([2 * u], dtype=torch.float64)).item()
    assert abs(series - (exact + 127 * u**8 / 18900)) <= 0.0025 * u**10 + 1e-15


@pytest.mark.parametrize("u", SERIES_POINTS)
def test_the_mean_series_is_the_exact_value_less_its_omitted_terms(u):
    """E[x] = (1 + L(u)) / 2 with L(u) = coth u − 1/u = u/3 − u³/45 + 2u⁵/945 − u⁷/4725 + 2u⁹/93555 − …:
    the implemented series differs from the exact value by its first omitted term, to within the second."""
    exact = _exact(lambda u_, coth: (1 + coth - 1 / u_) / 2, u)
    series = continuous_bernoulli_mean(torch.tensor([2 * u], dtype=torch.float64)).item()
    assert abs(series - (exact + u**7 / 4725 / 2)) <= 1.1 * abs(u) ** 9 / 93555 + 1e-15


def test_the_series_and_the_closed_forms_meet_at_the_switch():
    """Either side of |u| = 0.1 the branches agree within the series' first omitted term there (7e-11), and
    well outside it the closed forms are used (the series would be off by 3e-5 at u = 0.5)."""
    for u in (0.1 - 1e-12, 0.1, -0.1, 0.5, -0.5):
        eta = torch.tensor([2 * u], dtype=torch.float64)
        assert continuous_bernoulli_log_normalizer(eta).item() == pytest.approx(math.log(2 * u / math.tanh(u)),
                                                                                abs=1e-10)
        assert continuous_bernoulli_mean(eta).item() == pytest.approx((1 + 1 / math.tanh(u) - 1 / u) / 2, abs=1e-10)


@pytest.mark.parametrize("u", [0.1, -0.1])
def test_at_the_switch_itself_the_closed_forms_are_used(u):
    """|u| = 0.1 exactly (η = 0.2): the closed forms, which match the exact values to 1e-13 there, where the
    series would be off by their first omitted terms (6.7e-11 for log C, 1.1e-11 for the mean)."""
    eta = torch.tensor([2 * u], dtype=torch.float64)
    exact_log_c = _exact(lambda u_, coth: (2 * u_ * coth).ln(), u)
    exact_mean = _exact(lambda u_, coth: (1 + coth - 1 / u_) / 2, u)
    assert abs(continuous_bernoulli_log_normalizer(eta).item() - exact_log_c) < 1e-13
    assert abs(continuous_bernoulli_mean(eta).item() - exact_mean) < 1e-13


def test_likelihood_is_decided_by_the_loss_name_as_read_from_params_yaml():
    """Names read from YAML are new strings, not the interned literals of the code: equality, not identity."""
    loaded = yaml.safe_load("[continuous_bernoulli, bce, mse]")
    assert is_log_likelihood(loaded[0], binary_pixels=False)
    assert is_log_likelihood(loaded[1], binary_pixels=True)
    assert not is_log_likelihood(loaded[2], binary_pixels=True)
    for unknown in ("a", "bcd", "b"):  # a name it does not know is no likelihood, on binary pixels either
        assert not is_log_likelihood(unknown, binary_pixels=True)
    logits = torch.tensor([3.0])
    assert torch.equal(decoder_mean(loaded[0], logits), continuous_bernoulli_mean(logits))
    assert torch.equal(decoder_mean(loaded[2], logits), torch.sigmoid(logits))


def test_the_loss_parts_cannot_be_changed_once_computed():
    parts = beta_vae_loss("mse", torch.zeros(1, 1, 2, 2), torch.zeros(1, 1, 2, 2), torch.zeros(1, 3), torch.zeros(1, 3),
                          beta=1.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        parts.loss = torch.tensor(0.0)
