import pytest
import torch

from betavae.probes import frechet_distance, knn_accuracy, linear_probe_accuracy


def separable(count, seed):
    generator = torch.Generator().manual_seed(seed)
    labels = torch.arange(count) % 10
    centres = torch.eye(10) * 10
    return centres[labels] + torch.randn(count, 10, generator=generator), labels


def noise(count, seed):
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(count, 10, generator=generator), torch.randint(0, 10, (count,), generator=generator)


def test_probes_score_about_one_on_separable_latents():
    train, test = separable(1000, 0), separable(500, 1)
    assert linear_probe_accuracy(*train, *test) > 0.98
    assert knn_accuracy(*train, *test, k=5) > 0.98


def test_probes_score_about_chance_on_noise():
    train, test = noise(2000, 0), noise(2000, 1)
    assert abs(linear_probe_accuracy(*train, *test) - 0.1) < 0.04
    assert abs(knn_accuracy(*train, *test, k=5) - 0.1) < 0.04


def test_frechet_distance_of_a_set_to_itself_is_zero():
    features = torch.randn(500, 8)
    assert frechet_distance(features, features) == pytest.approx(0.0, abs=1e-8)


def test_frechet_distance_of_a_shifted_set_is_the_squared_shift():
    features = torch.randn(500, 8, dtype=torch.float64)
    shift = torch.tensor([3.0, 0, 0, 4.0, 0, 0, 0, 0], dtype=torch.float64)
    assert frechet_distance(features, features + shift) == pytest.approx(25.0, rel=1e-6)


def test_frechet_distance_of_gaussians_with_known_covariances():
    # N(0, I) against N(0, 4I) in 2-D: Tr(I + 4I - 2 * 2I) = 2
    generator = torch.Generator().manual_seed(0)
    a = torch.randn(200000, 2, generator=generator)
    assert frechet_distance(a, 2 * torch.randn(200000, 2, generator=generator)) == pytest.approx(2.0, abs=0.05)
