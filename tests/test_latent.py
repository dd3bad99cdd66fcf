import torch

from betavae.latent import (class_pairs, first_of_each_class, interpolate_latents, interpolation_rows, pca_2d,
                            sample_prior, slerp_latents, traverse)
from betavae.model import BetaVAE


def test_interpolation_includes_both_ends_evenly_spaced():
    start, end = torch.tensor([0.0, 2.0]), torch.tensor([1.0, -2.0])
    path = interpolate_latents(start, end, 5)
    assert torch.equal(path[0], start) and torch.equal(path[-1], end)
    assert torch.allclose(path[:, 0], torch.tensor([0.0, 0.25, 0.5, 0.75, 1.0]))


def test_class_pairs_are_distinct_and_spread():
    pairs = class_pairs(8)
    assert len(set(pairs)) == 8 and all(a != b for a, b in pairs)
    assert len(class_pairs(45)) == 45


def test_prior_samples_repeat_with_the_seed(tiny_model_config):
    model = BetaVAE(tiny_model_config).eval()
    first = sample_prior(model, 6, seed=1)
    assert first.shape == (6, 1, 28, 28)
    assert torch.equal(first, sample_prior(model, 6, seed=1))
    assert not torch.equal(first, sample_prior(model, 6, seed=2))


def test_interpolation_rows_have_the_originals_at_both_ends(tiny_model_config):
    model = BetaVAE(tiny_model_config).eval()
    images = torch.rand(20, 1, 28, 28)
    labels = torch.arange(20) % 10
    rows, pairs = interpolation_rows(model, images, labels, pairs=3, steps=4)
    assert rows.shape == (3, 6, 1, 28, 28)
    for row, (a, b) in zip(rows, pairs):
        assert torch.equal(row[0], images[a]) and torch.equal(row[-1], images[b])


def test_slerp_keeps_the_norm_between_vectors_of_equal_norm():
    start, end = torch.tensor([3.0, 0.0, 0.0]), torch.tensor([0.0, 0.0, 3.0])
    path = slerp_latents(start, end, 7)
    assert torch.allclose(path[0], start) and torch.allclose(path[-1], end, atol=1e-6)
    assert torch.allclose(path.norm(dim=1), torch.full((7,), 3.0))
    assert interpolate_latents(start, end, 7).norm(dim=1)[3] < 2.2  # the straight line cuts the corner


def test_slerp_of_parallel_vectors_is_the_straight_line():
    start = torch.tensor([1.0, 1.0])
    assert torch.allclose(slerp_latents(start, 2 * start, 5), interpolate_latents(start, 2 * start, 5))


def test_traversal_sweeps_one_dimension_at_a_time(tiny_model_config):
    model = BetaVAE(tiny_model_config).eval()
    mu = torch.zeros(tiny_model_config.latent_dim)
    panel = traverse(model, mu, dimensions=[2, 0], steps=5, span=3.0)
    assert panel.shape == (2, 5, 1, 28, 28)
    z = torch.zeros(1, tiny_model_config.latent_dim)
    z[0, 0] = -3.0
    assert torch.allclose(panel[1, 0], model.decode(z)[0])


def test_pca_finds_the_main_axis():
    generator = torch.Generator().manual_seed(0)
    points = torch.randn(1000, 3, generator=generator) * torch.tensor([10.0, 1.0, 0.1])
    projected = pca_2d(points)
    assert projected[:, 0].var() > 50 and projected[:, 1].var() < 2


def test_first_of_each_class_picks_in_class_order():
    labels = torch.tensor([3, 0, 0, 1, 3, 2, 1, 2, 4, 5, 6, 7, 8, 9, 4, 5, 6, 7, 8, 9])
    assert first_of_each_class(labels, 1).tolist() == [1, 3, 5, 0, 8, 9, 10, 11, 12, 13]
