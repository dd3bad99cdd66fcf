"""The IDX format: the header we write, and the checks that run before torchvision parses a file."""

import numpy as np
import pytest

from betavae.data import SPLITS, raw_dir, read_split
from betavae.errors import DataError
from betavae.idx import check_idx_file, write_idx


def test_idx_header_is_the_official_layout(tmp_path):
    write_idx(tmp_path / "x", np.zeros((3, 28, 28), dtype=np.uint8))
    data = (tmp_path / "x").read_bytes()
    assert data[:4] == bytes([0, 0, 0x08, 3])
    assert np.frombuffer(data[4:16], dtype=">i4").tolist() == [3, 28, 28]
    assert len(data) == 16 + 3 * 784


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


def test_a_missing_idx_file_says_how_to_get_it(tmp_path):
    with pytest.raises(DataError, match="dvc repro download"):
        check_idx_file(tmp_path / "absent", ndim=1)
