"""Mini-batches sliced from in-memory tensors."""

import torch

import pytest

from betavae.batches import TensorBatches


def test_batches_cover_every_image_once_with_a_short_last_batch():
    images = torch.arange(10.0).view(10, 1, 1, 1)
    batches = list(TensorBatches(images, batch_size=4))
    assert len(TensorBatches(images, batch_size=4)) == 3
    assert [len(x) for x, _ in batches] == [4, 4, 2]
    assert torch.equal(torch.cat([x for x, _ in batches]), images)  # unseeded: in order
    assert all(target is x for x, target in batches)  # an autoencoder's target is its input


@pytest.mark.parametrize("count, size, batches", [(8, 4, 2), (9, 4, 3), (1, 4, 1), (4, 4, 1), (0, 4, 0)])
def test_the_number_of_batches_is_the_count_over_the_size_rounded_up(count, size, batches):
    loader = TensorBatches(torch.zeros(count, 1, 28, 28), batch_size=size)
    assert len(loader) == batches == len(list(loader))


def test_seeded_batches_reshuffle_each_epoch_and_repeat_with_the_seed():
    images = torch.arange(50.0).view(50, 1, 1, 1)
    first, second = TensorBatches(images, 10, seed=3), TensorBatches(images, 10, seed=3)
    epoch_one = torch.cat([x for x, _ in first]).flatten()
    epoch_two = torch.cat([x for x, _ in first]).flatten()
    assert sorted(epoch_one.tolist()) == list(range(50))
    assert not torch.equal(epoch_one, epoch_two)
    assert torch.equal(torch.cat([x for x, _ in second]).flatten(), epoch_one)


def test_targets_are_shuffled_with_their_images():
    images = torch.arange(20.0).view(20, 1, 1, 1)
    labels = torch.arange(20) * 10
    for x, y in TensorBatches(images, 6, seed=0, targets=labels):
        assert torch.equal(x.flatten().long() * 10, y)


def test_dynamic_binarization_draws_a_fresh_seeded_sample_every_epoch():
    images = torch.full((200, 1, 4, 4), 0.3)
    batches = TensorBatches(images, 50, seed=5, binarize=True)
    epoch_one, epoch_two = (torch.cat([x for x, _ in batches]) for _ in range(2))
    assert set(epoch_one.unique().tolist()) == {0.0, 1.0}
    assert epoch_one.mean().item() == pytest.approx(0.3, abs=0.03)
    assert not torch.equal(epoch_one, epoch_two)
    again = TensorBatches(images, 50, seed=5, binarize=True)
    assert torch.equal(torch.cat([x for x, _ in again]), epoch_one)
    assert all(target is x for x, target in again)  # the target is the same binarized sample


def test_binarization_keeps_the_pairing_of_black_and_white_pixels():
    images = torch.cat([torch.zeros(8, 1, 2, 2), torch.ones(8, 1, 2, 2)])
    for x, _ in TensorBatches(images, 4, seed=0, binarize=True):
        assert torch.equal(x, x.round())
    assert torch.cat([x for x, _ in TensorBatches(images, 16, seed=0, binarize=True)]).sum() == 32


def test_dynamic_binarization_needs_a_seed():
    with pytest.raises(ValueError, match="seed"):
        TensorBatches(torch.rand(4, 1, 2, 2), 2, binarize=True)
