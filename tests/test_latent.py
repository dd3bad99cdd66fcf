import itertools
import math

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


def test_slerp_walks_the_angle_evenly_between_vectors_of_other_norms():
    """Known answer (Shoemake): at 45 degrees, point t is [sin((1-t)w) start + sin(tw) end] / sin(w), w = pi/4."""
    for scale in (1.0, 0.1):  # norms whose product is below one too
        start = scale * torch.tensor([2.0, 0.0])
        end = scale * 3.0 * torch.tensor([math.cos(math.pi / 4), math.sin(math.pi / 4)])
        path = slerp_latents(start, end, 4)
        omega = math.pi / 4
        expected = torch.stack([(math.sin((1 - t) * omega) * start + math.sin(t * omega) * end) / math.sin(omega)
                                for t in (0.0, 1 / 3, 2 / 3, 1.0)])
        assert torch.allclose(path, expected, atol=1e-6)


def test_slerp_turns_through_an_obtuse_angle():
    start, end = torch.tensor([1.0, 0.0]), torch.tensor([math.cos(2 * math.pi / 3), math.sin(2 * math.pi / 3)])
    path = slerp_latents(start, end, 3)
    assert torch.allclose(path[1], torch.tensor([math.cos(math.pi / 3), math.sin(math.pi / 3)]), atol=1e-6)


def test_slerp_from_the_origin_and_between_opposite_directions_keeps_its_ends():
    end = torch.tensor([0.0, 2.0])
    path = slerp_latents(torch.zeros(2), end, 3)
    assert torch.allclose(path, torch.stack([torch.zeros(2), end * math.sin(math.pi / 4), end]))
    start = torch.randn(10, generator=torch.Generator().manual_seed(0))  # its cosine with -2.5x rounds below -1
    path = slerp_latents(start, -2.5 * start, 3)
    assert not path.isnan().any()
    assert torch.allclose(path[0], start) and torch.allclose(path[-1], -2.5 * start)


def test_class_pairs_are_every_pair_of_ten_classes_in_order_and_evenly_picked():
    assert class_pairs(45) == list(itertools.combinations(range(10), 2))
    assert class_pairs(3) == [(0, 1), (1, 8), (4, 5)]  # pairs 0, 15 and 30 of the 45


def test_the_walk_runs_between_the_posterior_means_of_the_first_image_of_each_class(tiny_model_config):
    model = BetaVAE(tiny_model_config).eval()
    images = torch.rand(20, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    labels = torch.tensor([9, 8, 7, 6, 5, 4, 3, 2, 1, 0] * 2)
    rows, pairs = interpolation_rows(model, images, labels, pairs=2, steps=3)
    for row, (a, b) in zip(rows, pairs):
        first_a, first_b = images[9 - a], images[9 - b]
        assert torch.equal(row[0], first_a) and torch.equal(row[-1], first_b)
        mu, _ = model.encode(torch.stack([first_a, first_b]))
        assert torch.allclose(row[1], model.decode(mu[:1])[0], atol=1e-6)
        assert torch.allclose(row[-2], model.decode(mu[1:])[0], atol=1e-6)


def test_decoding_walks_keeps_no_gradient_graph(tiny_model_config):
    model = BetaVAE(tiny_model_config).eval()
    images, labels = torch.rand(10, 1, 28, 28), torch.arange(10)
    assert not sample_prior(model, 2, seed=0).requires_grad
    assert not interpolation_rows(model, images, labels, pairs=1, steps=2)[0].requires_grad
    assert not traverse(model, torch.zeros(tiny_model_config.latent_dim), [0], 3, 1.0).requires_grad


def test_pca_projects_on_the_principal_axes_each_pointed_at_its_largest_component():
    axes = torch.tensor([[0.8, 0.6, 0.0], [-0.6, 0.8, 0.0], [0.0, 0.0, 1.0]])  # spreads 10, 3 and 0.1 along them
    for seed in range(6):  # the SVD returns these axes with every mix of signs
        generator = torch.Generator().manual_seed(seed)
        points = (torch.randn(500, 3, generator=generator) * torch.tensor([10.0, 3.0, 0.1])) @ axes + 100.0
        projected = pca_2d(points)
        assert torch.allclose(projected.mean(0), torch.zeros(2), atol=1e-3)
        # sampling tilts the axes a little; a flipped axis would be off by tens
        assert torch.allclose(projected, (points - points.mean(0)) @ axes[:2].T, atol=1.5)
