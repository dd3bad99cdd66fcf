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


def imbalanced(count, seed):
    """One feature: class 1 (a tenth of the points) is shifted by 3 sd, so the best boundary is off-centre."""
    generator = torch.Generator().manual_seed(seed)
    labels = (torch.rand(count, generator=generator) < 0.1).long()
    return torch.randn(count, 1, generator=generator) + 3.0 * labels.unsqueeze(1).float(), labels


def blobs(count, seed):
    """Three overlapping classes in 2-D: a probe scores well below one, so any change to its fit shows."""
    generator = torch.Generator().manual_seed(seed)
    labels = torch.arange(count) % 3
    centres = torch.tensor([[0.0, 0.0], [2.0, 0.0], [0.0, 2.0]])
    return centres[labels] + torch.randn(count, 2, generator=generator), labels


def test_the_linear_probe_reaches_the_bayes_accuracy_of_imbalanced_classes():
    # the boundary 0.9 phi(x) = 0.1 phi(x - 3) lies at x = 1.5 + ln(9) / 3 = 2.23: Bayes accuracy 0.966
    assert linear_probe_accuracy(*imbalanced(2000, 0), *imbalanced(4000, 1)) > 0.95


def test_the_linear_probe_does_not_depend_on_the_features_units_origin_or_a_constant_feature():
    (train_x, train_y), (test_x, test_y) = blobs(1500, 0), blobs(3000, 1)
    accuracy = linear_probe_accuracy(train_x, train_y, test_x, test_y)
    assert 0.7 < accuracy < 0.85
    for scale, shift in [(1e-3, 0.0), (1e3, 0.0), (1.0, 100.0), (1e-3, 100.0)]:
        assert linear_probe_accuracy(train_x * scale + shift, train_y, test_x * scale + shift, test_y) == \
            pytest.approx(accuracy, abs=0.002)
    constant = lambda x: torch.cat([x, torch.full((len(x), 1), 7.0)], 1)  # noqa: E731
    assert linear_probe_accuracy(constant(train_x), train_y, constant(test_x), test_y) == pytest.approx(accuracy)


def test_the_linear_probe_fits_by_at_most_100_l_bfgs_iterations_with_strong_wolfe_line_search(monkeypatch):
    settings = []
    original = torch.optim.LBFGS

    def recording(params, **kwargs):
        settings.append(kwargs)
        return original(params, **kwargs)

    monkeypatch.setattr(torch.optim, "LBFGS", recording)
    linear_probe_accuracy(*imbalanced(200, 0), *imbalanced(200, 1))
    assert settings == [{"max_iter": 100, "line_search_fn": "strong_wolfe"}]


def test_knn_is_a_vote_of_the_five_nearest_with_ties_to_the_lower_label():
    train_x = torch.arange(1.0, 8.0).unsqueeze(1)  # distances 1 to 7 from the test points at 0
    train_y = torch.tensor([0, 0, 1, 1, 1, 0, 0])  # 5 nearest: three 1s; 4 or 6 nearest: a tie, so 0
    test_x, test_y = torch.zeros(4, 1), torch.tensor([1, 1, 1, 0])
    assert knn_accuracy(train_x, train_y, test_x, test_y) == 0.75
    assert knn_accuracy(train_x, train_y, test_x, test_y, k=4) == 0.25


def test_frechet_distance_of_a_set_with_fewer_points_than_features_to_itself_is_zero():
    features = torch.randn(3, 8, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    # its covariance has rank 2: eigenvalues that round below zero are taken as zero, not a NaN
    assert frechet_distance(features, features) == pytest.approx(0.0, abs=1e-5)
