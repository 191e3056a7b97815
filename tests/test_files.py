"""The one atomic-write helper: the old file survives a failed write, nothing is left behind."""

import numpy as np
import pytest

from nmm_core import files


def test_a_write_replaces_the_file_whole_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "sub" / "a.json"
    files.atomic_write(path, '{"a": 1}\n')
    assert path.read_text() == '{"a": 1}\n'
    files.atomic_write(path, b"\x00\x01")
    assert path.read_bytes() == b"\x00\x01" and sorted(p.name for p in path.parent.iterdir()) == ["a.json"]


def test_a_failed_write_keeps_what_the_user_had(tmp_path):
    path = tmp_path / "results.npz"
    np.savez(path, x=np.arange(3))
    with pytest.raises(RuntimeError, match="interrupted"):
        with files.atomic_path(path, suffix=".npz") as tmp:
            np.savez(tmp, x=np.zeros(5))
            raise RuntimeError("interrupted")
    with np.load(path) as data:
        np.testing.assert_array_equal(data["x"], np.arange(3))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.npz"]
    with files.atomic_path(path, suffix=".npz") as tmp:
        np.savez(tmp, x=np.zeros(5))
    with np.load(path) as data:
        assert data["x"].shape == (5,)
