import torch

from betavae.latent import class_pairs, interpolate_latents, interpolation_rows, sample_prior
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
