"""colliderlab's HDF5 files: round trip, chunked reading, atomic writes, clear errors."""

from __future__ import annotations

import json
import os

import h5py
import numpy as np
import pytest

from colliderlab.data.errors import DataFormatError
from colliderlab.data.h5 import (
    SCHEMA_VERSION,
    H5Writer,
    count_h5,
    iter_h5,
    read_h5,
    read_h5_attrs,
    write_h5,
)
from colliderlab.jets import JetBatch


def _batch(n=50, p=20, seed=0) -> JetBatch:
    rng = np.random.default_rng(seed)
    b = JetBatch.zeros(n, p, ("qcd", "top"))
    k = rng.integers(1, p, n)
    b.mask[:] = np.arange(p)[None] < k[:, None]
    b.p4[b.mask] = rng.normal(size=(b.mask.sum(), 4)).astype(np.float32)
    b.charge[b.mask] = rng.integers(-1, 2, b.mask.sum())
    b.pid[b.mask] = rng.integers(1, 6, b.mask.sum())
    b.d0[b.mask] = rng.normal(size=b.mask.sum())
    b.label[:] = rng.integers(0, 2, n)
    b.jet_p4[:] = rng.normal(size=(n, 4))
    b.truth_pdg[:] = 6 * b.label
    return b


def test_round_trip_with_provenance(tmp_path):
    b = _batch()
    path = write_h5(tmp_path / "a.h5", b, provenance={"seed": 3, "card": {"name": "ideal"}})
    back = read_h5(path)
    for k, v in b.arrays().items():
        np.testing.assert_array_equal(v, back.arrays()[k], err_msg=k)
    assert back.label_names == ("qcd", "top")
    attrs = read_h5_attrs(path)
    assert attrs["format"] == "colliderlab-jets" and attrs["schema_version"] == SCHEMA_VERSION
    assert attrs["provenance"]["card"]["name"] == "ideal" and attrs["n_jets"] == 50
    with h5py.File(path) as f:  # chunked and compressed
        assert f["p4"].chunks is not None and f["p4"].compression == "gzip"


def test_chunked_iteration_equals_one_read(tmp_path):
    path = write_h5(tmp_path / "a.h5", _batch(n=103))
    chunks = list(iter_h5(path, chunk_size=25))
    assert [len(c) for c in chunks] == [25, 25, 25, 25, 3]
    np.testing.assert_array_equal(np.concatenate([c.p4 for c in chunks]), read_h5(path).p4)
    assert count_h5(path) == 103
    np.testing.assert_array_equal(read_h5(path, 10, 20).label, read_h5(path).label[10:20])


def test_failed_write_leaves_no_file(tmp_path):
    out = tmp_path / "b.h5"
    with pytest.raises(RuntimeError):
        with H5Writer(out, n_particles=20, label_names=("qcd", "top")) as w:
            w.append(_batch())
            raise RuntimeError("killed mid-write")
    assert not out.exists()
    assert os.listdir(tmp_path) == []


def test_overwrite_is_explicit(tmp_path):
    path = write_h5(tmp_path / "a.h5", _batch())
    with pytest.raises(FileExistsError):
        write_h5(path, _batch())
    write_h5(path, _batch(n=7), overwrite=True)
    assert count_h5(path) == 7


def test_truncated_file_is_named_in_the_error(tmp_path):
    path = write_h5(tmp_path / "trunc.h5", _batch(n=2000, p=50))
    os.truncate(path, os.path.getsize(path) // 2)
    with pytest.raises(DataFormatError, match="trunc.h5"):
        read_h5(path)


def test_wrong_schema_names_what_is_missing(tmp_path):
    path = tmp_path / "bad.h5"
    with h5py.File(path, "w") as f:
        f.attrs["format"] = "colliderlab-jets"
        f["p4"] = np.zeros((3, 2, 4))
    with pytest.raises(DataFormatError, match="bad.h5.*missing dataset.*mask"):
        read_h5(path)
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as f:
        f["x"] = np.zeros(3)
    with pytest.raises(DataFormatError, match="not a colliderlab jet file"):
        read_h5(other)
    with pytest.raises(FileNotFoundError, match="nothing.h5"):
        read_h5(tmp_path / "nothing.h5")


def test_jetbatch_checks_shapes():
    b = _batch(n=4, p=5)
    with pytest.raises(ValueError, match=r"JetBatch.mask must have shape \(N, P\) = \(4, 5\)"):
        JetBatch(**{**b.arrays(), "mask": np.zeros((4, 6), bool)})
    assert b.truncate(3).p4.shape == (4, 3, 4) and b.truncate(8).mask.shape == (4, 8)
    both = JetBatch.concatenate([b, b.truncate(3)])
    assert len(both) == 8 and both.n_particles == 5


def test_arrays_of_different_lengths_are_named(tmp_path):
    path = write_h5(tmp_path / "short_mask.h5", _batch(n=10))
    with h5py.File(path, "r+") as f:
        mask = f["mask"][:6]
        del f["mask"]
        f["mask"] = mask
    with pytest.raises(DataFormatError, match=r"short_mask.h5.*'p4' 10, 'mask' 6"):
        read_h5(path)


def test_label_outside_label_names_is_named(tmp_path):
    b = _batch(n=10)
    b.label[3] = 2
    path = write_h5(tmp_path / "bad_label.h5", b)
    with pytest.raises(DataFormatError, match=r"bad_label.h5.*holds 2 at row 3.*0 \(qcd\), 1 \(top\)"):
        read_h5(path)


def test_flipped_bit_in_the_data_is_caught(tmp_path):
    path = write_h5(tmp_path / "flip.h5", _batch(n=200))
    with h5py.File(path) as f:
        assert all(f[k].fletcher32 for k in f)
        offset = f["p4"].id.get_chunk_info(0).byte_offset
    raw = bytearray(path.read_bytes())
    raw[offset + 40] ^= 0x10
    path.write_bytes(bytes(raw))
    with pytest.raises(DataFormatError, match="flip.h5"):
        read_h5(path)


def test_truth_partons_round_trip_and_older_schemas_read_without_them(tmp_path):
    b = _batch()
    b.truth_partons[b.label == 1] = np.random.default_rng(1).normal(size=((b.label == 1).sum(), 3, 4))
    path = write_h5(tmp_path / "v3.h5", b)
    back = read_h5(path)
    np.testing.assert_array_equal(back.truth_partons, b.truth_partons)
    assert "truth_partons" in back.fields
    # a schema-2 file (written before the decay partons were stored): same reader, zeros, not carried
    old = tmp_path / "v2.h5"
    write_h5(old, b)
    with h5py.File(old, "a") as f:
        del f["truth_partons"]
        f.attrs["schema_version"] = 2
        f.attrs["fields"] = np.bytes_(json.dumps(sorted(set(b.fields) - {"truth_partons"})).encode())
    back = read_h5(old)
    assert back.truth_partons.shape == (len(b), 3, 4) and not back.truth_partons.any()
    assert "truth_partons" not in back.fields
    np.testing.assert_array_equal(back.p4, b.p4)
    # a batch built without them says so as well
    assert "truth_partons" not in JetBatch(**{k: v for k, v in b.arrays().items() if k != "truth_partons"}).fields
