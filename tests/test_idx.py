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


IMAGE_MAGIC = bytes([0, 0, 0x08, 3])


@pytest.mark.parametrize("content, magic", [(b"", "none"), (bytes([0, 0, 0x08]), "000008"),
                                            (bytes([0, 0, 0x08, 1]) + bytes(8), "00000801"),  # a label file
                                            (bytes([0, 0, 0x0D, 3]) + bytes(12), "00000d03")])  # float32
def test_a_file_without_the_uint8_magic_of_its_dimensions_is_refused_with_what_it_holds(tmp_path, content, magic):
    (tmp_path / "f").write_bytes(content)
    with pytest.raises(DataError, match=rf"f: not a uint8 IDX file of 3 dimensions \(magic {magic}, "
                                        r"expected 00000803\); run `dvc repro download`"):
        check_idx_file(tmp_path / "f", ndim=3)


@pytest.mark.parametrize("dimensions_bytes", [0, 4, 11])
def test_a_header_cut_short_is_refused(tmp_path, dimensions_bytes):
    """The magic is right, but fewer than the 3 × 4 bytes of dimensions follow it."""
    (tmp_path / "f").write_bytes(IMAGE_MAGIC + bytes(dimensions_bytes))
    with pytest.raises(DataError, match=rf"^{tmp_path / 'f'}: truncated header \({4 + dimensions_bytes} bytes\)$"):
        check_idx_file(tmp_path / "f", ndim=3)


def test_a_file_longer_than_its_header_says_is_refused(tmp_path):
    write_idx(tmp_path / "f", np.zeros((2, 28, 28), dtype=np.uint8))
    (tmp_path / "f").write_bytes((tmp_path / "f").read_bytes() + b"\0")
    with pytest.raises(DataError, match=r"f: 1585 bytes, expected 1584 from its header"):
        check_idx_file(tmp_path / "f", ndim=3)


def test_a_whole_file_passes(tmp_path):
    write_idx(tmp_path / "f", np.zeros((2, 28, 28), dtype=np.uint8))
    check_idx_file(tmp_path / "f", ndim=3)


def test_a_header_of_many_dimensions_is_read_whole(tmp_path):
    """A full header of 64 dimensions (260 bytes) is not taken for a truncated one."""
    path = tmp_path / "many.idx"
    write_idx(path, np.zeros((1,) * 64, dtype=np.uint8))
    check_idx_file(path, 64)
