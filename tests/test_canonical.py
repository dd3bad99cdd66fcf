"""Canonical order: the same files whatever order or source the images came in."""

import torch

from betavae.canonical import canonical_order, md5, write_canonical
from betavae.data import SPLITS, raw_dir, read_split
from tests.conftest import make_images


def test_canonical_order_does_not_depend_on_input_order():
    images, labels = (torch.from_numpy(a) for a in make_images(100, seed=3))
    shuffle = torch.randperm(100)
    first = images[canonical_order(images, labels)]
    second = images[shuffle][canonical_order(images[shuffle], labels[shuffle])]
    assert torch.equal(first, second)
    assert torch.equal(labels[canonical_order(images, labels)], torch.sort(labels).values)


def test_the_canonical_copy_holds_the_same_images_sorted_and_reports_md5s(tiny_data, tmp_path):
    checksums = write_canonical(tiny_data, tmp_path / "canonical")
    for split, (image_file, label_file) in SPLITS.items():
        original, original_labels = read_split(tiny_data, split)
        images, labels = read_split(tmp_path / "canonical", split)
        assert torch.equal(labels, torch.sort(original_labels).values)
        assert sorted(map(bytes, images.flatten(1).numpy())) == sorted(map(bytes, original.flatten(1).numpy()))
        assert checksums[image_file] == md5(raw_dir(tmp_path / "canonical") / image_file)


def test_writing_over_an_earlier_canonical_copy_gives_the_same_files(tiny_data, tmp_path):
    """A re-run of download writes into the folder its last run left: no error, the same bytes."""
    first = write_canonical(tiny_data, tmp_path / "canonical")
    assert write_canonical(tiny_data, tmp_path / "canonical") == first
