"""Fuzzing the readers of every supported file format with hypothesis.

Small originals are written once per module with each format's own tools (pandas, h5py, numpy,
uproot) or our writers; every case copies one, damages it (truncate, flip a bit, drop a dataset,
attribute or branch, retype a dataset, shuffle the order of keys, or plant a pickled attribute the
way PyTables stores Python objects) and reads it back. A case must end in a read identical to the
original's or in a ``DataFormatError`` that names the file: never another exception, never a run
pickle. Allowed to differ (the file is still a valid file of its format, or nothing in a public
format can tell): a bit flipped in a public format without checksums, a lossy retype of a public
format's dataset or of a reader's optional field, and an optional field dropped.
"""

from __future__ import annotations

import contextlib
import io
import os
import pickle
import shutil
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from colliderlab.data.errors import DataFormatError
from colliderlab.jets import JetBatch

pd = pytest.importorskip("pandas")
uproot = pytest.importorskip("uproot")
ak = pytest.importorskip("awkward")

FAST = settings(max_examples=20, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
SLOW = settings(FAST, max_examples=300)
_RETYPES = ("float64", "float32", "float16", "int64", "int32", "int8", "bool", "S8")


class _Payload:
    """Creates ``marker`` when unpickled (protocol 0, as PyTables pickles attributes)."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def poison(marker: Path) -> np.bytes_:
    """A pickled attribute value as PyTables writes one: a fixed-length byte string, protocol 0,
    ending with b"." (PyTables unpickles every such string attribute when it is read)."""
    raw = pickle.dumps(_Payload(str(marker)), protocol=0)
    assert raw.endswith(b".")
    return np.bytes_(raw)


# --------------------------------------------------------------------------- originals
def _jets(n: int = 12, p: int = 10, seed: int = 0) -> JetBatch:
    rng = np.random.default_rng(seed)
    b = JetBatch.zeros(n, p, ("qcd", "top"))
    k = rng.integers(2, p, n)
    b.mask[:] = np.arange(p)[None] < k[:, None]
    pt = np.sort(rng.exponential(20.0, (n, p)) + 1, axis=1)[:, ::-1]
    eta, phi = rng.normal(0, 0.3, (n, p)), rng.uniform(-np.pi, np.pi, (n, p))
    p4 = np.stack([pt * np.cosh(eta), pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)], -1)
    b.p4[:] = np.where(b.mask[..., None], p4, 0).astype(np.float32)
    b.charge[b.mask] = rng.integers(-1, 2, b.mask.sum())
    b.pid[b.mask] = rng.integers(1, 6, b.mask.sum())
    b.label[:] = np.arange(n) % 2
    b.jet_p4[:] = b.p4.astype(np.float64).sum(1)
    b.truth_pdg[:] = 6 * b.label
    return b


def _write_jets(path: Path) -> None:
    from colliderlab.data.h5 import write_h5

    write_h5(path, _jets(), chunk_rows=4)


def _toptag_frame() -> Any:
    b = _jets(n=10, p=6, seed=1)
    cols = {f"{v}_{i}": b.p4[:, i, k] for k, v in enumerate(("E", "PX", "PY", "PZ")) for i in range(6)}
    cols |= {f"truth{v}": b.jet_p4[:, k] * b.label for k, v in enumerate(("E", "PX", "PY", "PZ"))}
    cols |= {"ttv": np.zeros(10, np.int64), "is_signal_new": b.label}
    return pd.DataFrame(cols)


def _write_toptag_fixed(path: Path) -> None:
    _toptag_frame().to_hdf(path, key="table", format="fixed")


def _write_toptag_table(path: Path) -> None:
    _toptag_frame().to_hdf(path, key="table", format="table")


def _write_qg(path: Path) -> None:
    rng = np.random.default_rng(2)
    x = np.zeros((10, 8, 4))
    k = rng.integers(2, 8, 10)
    real = np.arange(8)[None] < k[:, None]
    x[..., 0] = np.where(real, rng.exponential(10, (10, 8)) + 1, 0)
    x[..., 1] = np.where(real, rng.normal(0, 1, (10, 8)), 0)
    x[..., 2] = np.where(real, rng.uniform(0, 2 * np.pi, (10, 8)), 0)
    x[..., 3] = np.where(real, rng.choice([22, 211, -211, 130, 2112, 11, -13], (10, 8)), 0)
    np.savez(path, X=x, y=(np.arange(10) % 2).astype(np.float64))


def _jetclass_data() -> dict[str, Any]:
    rng = np.random.default_rng(3)
    mult = rng.integers(1, 6, 8)
    total = int(mult.sum())
    pt, eta, phi = rng.exponential(10, total) + 1, rng.normal(0, 1, total), rng.uniform(-3, 3, total)
    flat = {"part_px": pt * np.cos(phi), "part_py": pt * np.sin(phi), "part_pz": pt * np.sinh(eta),
            "part_energy": pt * np.cosh(eta), "part_charge": rng.integers(-1, 2, total).astype(float),
            "part_isPhoton": rng.random(total) < 0.3, "part_d0val": rng.normal(0, 0.1, total)}
    data: dict[str, Any] = {k: ak.unflatten(np.asarray(v, np.float32), mult) for k, v in flat.items()}
    data |= {"jet_pt": rng.uniform(500, 600, 8), "jet_eta": rng.normal(0, 1, 8),
             "jet_phi": rng.uniform(-3, 3, 8), "jet_energy": rng.uniform(600, 900, 8)}
    label = rng.integers(0, 2, 8)
    data |= {"label_QCD": (label == 0).astype(np.float32), "label_Tbqq": (label == 1).astype(np.float32)}
    return data


def _write_root(path: Path, data: dict[str, Any]) -> None:
    with uproot.recreate(path) as f:
        f.mktree("tree", data, counter_name=lambda _: "npart")


def _write_calo(path: Path) -> None:
    from colliderlab.data.calo_io import write_calochallenge
    from colliderlab.physics.calo import CaloShowers, get_geometry

    geom = get_geometry("calogan")
    rng = np.random.default_rng(4)
    e = rng.uniform(1, 100, 6)
    showers = (rng.exponential(1.0, (6, geom.n_cells)) * (rng.random((6, geom.n_cells)) < 0.1)).astype(np.float32)
    s = CaloShowers(e, showers, np.full(6, 11, np.int32), np.zeros(6, np.float32), "calogan",
                    overflow=np.zeros((6, geom.n_layers), np.float32))
    write_calochallenge(path, s, provenance={"seed": 4})


def _dijet_arrays(n: int = 10, seed: int = 5) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    pt, eta, phi = rng.uniform(1200, 1500, (n, 2)), rng.normal(0, 1, (n, 2)), rng.uniform(-3, 3, (n, 2))
    m = rng.uniform(30, 500, (n, 2))
    p3 = np.stack([pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)], -1)
    jet_p4 = np.concatenate([np.sqrt((p3**2).sum(-1) + m**2)[..., None], p3], -1)
    tau = np.sort(rng.uniform(0.05, 0.6, (n, 2, 3)), axis=-1)[..., ::-1].copy()
    return jet_p4, tau


def _write_lhco(path: Path) -> None:
    from colliderlab.data.lhco import write_lhco_features

    jet_p4, tau = _dijet_arrays()
    write_lhco_features(path, jet_p4, tau, np.arange(10) % 2)


def _write_dijets(path: Path) -> None:  # as generate_dijets assembles its parts
    import json
    from dataclasses import asdict

    from colliderlab.data.chunks import ChunkStats, save_part, write_parts_h5
    from colliderlab.data.dijet_io import FORMAT
    from colliderlab.physics.dijet import DijetConfig

    jet_p4, tau = _dijet_arrays(seed=6)
    part = path.with_name("dijet-part.npz")
    save_part({"jet_p4": jet_p4, "tau": tau}, part, ChunkStats(rows=len(jet_p4), events=20))
    attrs = {"format": FORMAT, "kind": "qcd", "config": json.dumps(asdict(DijetConfig())), "n_generated": 20,
             "seconds": [1.0, 1.0, 1.0]}
    write_parts_h5(path, [(part, len(jet_p4))], ("jet_p4", "tau"), attrs)
    part.unlink()


def _write_adc(path: Path) -> None:  # h5py, as the public files
    rng = np.random.default_rng(7)
    p = np.zeros((10, 19, 4))
    p[:, :, 0] = rng.exponential(20, (10, 19)) * (rng.random((10, 19)) < 0.5)
    p[:, :, 1], p[:, :, 2] = rng.normal(0, 1, (10, 19)), rng.uniform(-3, 3, (10, 19))
    p[:, :, 3] = np.repeat([1, 2, 2, 2, 2, 3, 3, 3, 3] + [4] * 10, 1)[None]
    p[p[:, :, 0] == 0] = 0
    with h5py.File(path, "w") as f:
        f["Particles"] = p
        f["Particles_Names"] = np.array([b"Pt", b"Eta", b"Phi", b"Class"])
        f["Particles_Classes"] = np.array([b"MET_class_1", b"Four_Ele_class_2", b"Four_Mu_class_3",
                                           b"Ten_Jet_class_4"])


def _write_events(path: Path) -> None:  # as generate_events assembles its parts
    from colliderlab.data.chunks import ChunkStats, save_part, write_parts_h5
    from colliderlab.physics.sm_events import FEATURE_NAMES, JET_FIELDS, LEPTON_FIELDS

    rng = np.random.default_rng(8)
    n = 8
    arrays = {"features": rng.normal(size=(n, len(FEATURE_NAMES))).astype(np.float32),
              "electrons": rng.uniform(0, 50, (n, 4, len(LEPTON_FIELDS))).astype(np.float32),
              "muons": rng.uniform(0, 50, (n, 4, len(LEPTON_FIELDS))).astype(np.float32),
              "jets": rng.uniform(0, 50, (n, 10, len(JET_FIELDS))).astype(np.float32),
              "met": rng.uniform(0, 50, (n, 2)).astype(np.float32)}
    attrs = {"format": "colliderlab-events", "process": "ttbar", "config": "{}", "n_generated": 100,
             "n_filtered": 50, "sigma_gen_pb": 800.0, "filter_efficiency": 0.5, "trigger_efficiency": 0.16,
             "seconds": [1.0, 2.0, 3.0], "feature_names": list(FEATURE_NAMES),
             "lepton_fields": list(LEPTON_FIELDS), "jet_fields": list(JET_FIELDS)}
    part = path.with_name("events-part.npz")
    save_part(arrays, part, ChunkStats(rows=n, events=100))
    write_parts_h5(path, [(part, n)], list(arrays), attrs)
    part.unlink()


def _read_jets(path: Path) -> Any:
    from colliderlab.data.readers import count_jets, iter_jets, read_jets

    batch = read_jets(path)
    assert count_jets(path) == len(batch)
    chunks = list(iter_jets(path, chunk_size=7))
    assert sum(len(c) for c in chunks) == len(batch)
    return batch


def _read_calo(path: Path) -> Any:
    from colliderlab.data.calo_io import read_calochallenge

    return read_calochallenge(path)


def _read_lhco(path: Path) -> Any:
    from colliderlab.data.lhco import read_lhco_features

    return read_lhco_features(path)


def _read_dijets(path: Path) -> Any:
    from colliderlab.data.dijet_io import read_dijets

    return read_dijets(path)


def _read_adc(path: Path) -> Any:
    from colliderlab.data.adc2021 import read_adc2021

    return read_adc2021(path)


def _read_events(path: Path) -> Any:
    from colliderlab.data.event_io import read_events

    return read_events(path)


@dataclass(frozen=True)
class Spec:
    """One format: how to write its original and read a file of it."""

    name: str
    suffix: str
    write: Callable[[Path], None]
    read: Callable[[Path], Any]
    container: str  # "hdf5", "npz" or "root"
    checksummed: bool = False  # our files: a flipped bit must be caught
    strict_dtypes: bool = False  # a lossy retype must be caught
    optional: frozenset[str] = field(default_factory=frozenset)  # keys the reader may do without


SPECS = {s.name: s for s in (
    Spec("colliderlab", ".h5", _write_jets, _read_jets, "hdf5", True, True, frozenset({"provenance", "created"})),
    Spec("toptag-fixed", ".h5", _write_toptag_fixed, _read_jets, "hdf5"),
    Spec("toptag-table", ".h5", _write_toptag_table, _read_jets, "hdf5"),
    Spec("quark-gluon", ".npz", _write_qg, _read_jets, "npz"),
    Spec("jetclass", ".root", lambda p: _write_root(p, _jetclass_data()), _read_jets, "root",
         optional=frozenset({"part_charge", "part_isPhoton", "part_d0val"})),
    Spec("calochallenge", ".h5", _write_calo, _read_calo, "hdf5", True, False,
         frozenset({"particle", "angle", "overflow", "geometry", "layer_shapes"})),
    Spec("lhco", ".h5", _write_lhco, _read_lhco, "hdf5"),
    Spec("adc2021", ".h5", _write_adc, _read_adc, "hdf5", optional=frozenset({"Particles_Names"})),
    Spec("dijet", ".h5", _write_dijets, _read_dijets, "hdf5", True, True),
    Spec("events", ".h5", _write_events, _read_events, "hdf5", True, True),
)}


class Originals(dict):
    """Format name -> (original file, its read); a short repr for hypothesis' reports."""

    def __repr__(self) -> str:
        return f"<{len(self)} original files>"


@pytest.fixture(scope="module")
def originals(tmp_path_factory) -> Originals:
    d = tmp_path_factory.mktemp("fuzz-originals")
    out = Originals()
    for spec in SPECS.values():
        path = d / f"{spec.name}{spec.suffix}"
        spec.write(path)
        out[spec.name] = (path, spec.read(path))
    return out


# --------------------------------------------------------------------------- mutations
def _hdf5_items(f: h5py.File) -> list[tuple[str, str | None]]:
    """(object path, attribute name or None for the object itself), in a stable order."""
    out: list[tuple[str, str | None]] = [("/", a) for a in sorted(f.attrs)]
    f.visititems(lambda name, obj: out.extend(
        [(name, None)] * isinstance(obj, h5py.Dataset) + [(name, a) for a in sorted(obj.attrs)]))
    return out


def _retype(data: np.ndarray, dtype: str) -> tuple[np.ndarray, bool]:
    """``data`` stored as ``dtype``, and whether that kept every value."""
    with np.errstate(all="ignore"):
        if dtype == "S8":
            new = np.char.mod("%s", data).astype("S8") if data.dtype.kind not in "SU" else data.astype("S8")
        else:
            new = data.astype(dtype) if data.dtype.kind not in "SUO" else np.zeros(data.shape, dtype)
        try:
            back = new.astype(data.dtype)
            same = bool(np.array_equal(back, data, equal_nan=data.dtype.kind == "f"))
        except (ValueError, TypeError):
            same = False
    return new, same


def _copy_shuffled(src: h5py.Group, dst: h5py.Group, rng: np.random.Generator) -> None:
    for a in rng.permutation(sorted(src.attrs)):
        dst.attrs.create(a, src.attrs[a], dtype=src.attrs.get_id(a).dtype)
    for name in rng.permutation(sorted(src)):
        obj = src[name]
        if isinstance(obj, h5py.Group):
            _copy_shuffled(obj, dst.create_group(name), rng)
        else:
            src.copy(obj, dst, name=name)


def _mutate_hdf5(path: Path, kind: str, k: int, dtype: str, marker: Path) -> tuple[str, bool]:
    """Apply a structural mutation; returns (key touched, whether values were kept)."""
    if kind == "shuffle":
        tmp = path.with_suffix(".shuffled")
        with h5py.File(path, "r") as src, h5py.File(tmp, "w") as dst:
            _copy_shuffled(src, dst, np.random.default_rng(k))
        os.replace(tmp, path)
        return "", True
    with h5py.File(path, "r+") as f:
        items = _hdf5_items(f)
        if kind == "poison":
            objs = ["/", *sorted({o for o, _ in items})]
            obj = objs[k % len(objs)]
            names = sorted(f[obj].attrs) + ["injected"]
            name = names[k % len(names)]
            f[obj].attrs[name] = poison(marker)
            return name, name == "injected"  # overwriting an attribute changes its value
        obj, attr = items[k % len(items)]
        if kind == "drop":
            if attr is None:
                del f[obj]
            else:
                del f[obj].attrs[attr]
            return (attr or obj.rsplit("/", 1)[-1]), False
        candidates = [i for i in items if i[1] is None]  # retype: datasets only
        obj = candidates[k % len(candidates)][0]
        data = f[obj][()]
        if data.dtype.names:  # a compound table: retype one field
            name = data.dtype.names[k % len(data.dtype.names)]
            fields_ = [(n, (dtype if n == name and dtype != "S8" else data.dtype[n].base), data.dtype[n].shape)
                       for n in data.dtype.names]
            new = np.zeros(data.shape, fields_)
            for n in data.dtype.names:
                new[n] = data[n]
            same = bool(np.array_equal(new[name].astype(data.dtype[name].base), data[name]))
        else:
            new, same = _retype(data, dtype)
        attrs = dict(f[obj].attrs)
        del f[obj]
        f[obj] = new
        f[obj].attrs.update(attrs)
        return obj.rsplit("/", 1)[-1], same


def _mutate_npz(path: Path, kind: str, k: int, dtype: str) -> tuple[str, bool]:
    with zipfile.ZipFile(path) as zf:
        members = {i.filename: zf.read(i) for i in zf.infolist()}
    names = sorted(members)
    key, same = "", True
    if kind == "drop":
        key = names[k % len(names)]
        del members[key]
        same = False
    elif kind == "retype":
        key = names[k % len(names)]
        data = np.load(io.BytesIO(members[key]), allow_pickle=False)
        new, same = _retype(data, dtype)
        buf = io.BytesIO()
        np.save(buf, new, allow_pickle=False)
        members[key] = buf.getvalue()
    elif kind == "shuffle":
        names = list(np.random.default_rng(k).permutation(names))
    with zipfile.ZipFile(path, "w") as zf:
        for name in names:
            if name in members:
                zf.writestr(name, members[name])
    return key.removesuffix(".npy"), same


def _mutate_root(path: Path, kind: str, k: int, dtype: str) -> tuple[str, bool]:
    data = _jetclass_data()
    names = sorted(data)
    key, same = "", True
    if kind == "drop":
        key = names[k % len(names)]
        del data[key]
        same = False
    elif kind == "retype":
        key = names[k % len(names)]
        dtype = {"S8": "int16", "float16": "float64"}.get(dtype, dtype)  # ROOT has neither
        flat = ak.flatten(data[key], axis=None) if data[key].ndim > 1 else data[key]
        new, same = _retype(np.asarray(ak.to_numpy(flat) if not isinstance(flat, np.ndarray) else flat), dtype)
        data[key] = ak.unflatten(new, ak.num(data[key])) if isinstance(data[key], ak.Array) else new
    elif kind == "shuffle":
        data = {n: data[n] for n in np.random.default_rng(k).permutation(names)}
    path.unlink()
    _write_root(path, data)
    return key, same


MUTATIONS = st.one_of(
    st.tuples(st.just("truncate"), st.integers(0, 2**31), st.just("")),
    st.tuples(st.just("flip"), st.integers(0, 2**31), st.integers(0, 7).map(str)),
    st.tuples(st.just("drop"), st.integers(0, 2**16), st.just("")),
    st.tuples(st.just("retype"), st.integers(0, 2**16), st.sampled_from(_RETYPES)),
    st.tuples(st.just("shuffle"), st.integers(0, 2**16), st.just("")),
    st.tuples(st.just("poison"), st.integers(0, 2**16), st.just("")),
)


def _flatten(obj: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(obj, JetBatch):
        return {**_flatten(obj.arrays(), prefix), f"{prefix}label_names": obj.label_names}
    if is_dataclass(obj):
        return _flatten({f.name: getattr(obj, f.name) for f in fields(obj)}, prefix)
    if isinstance(obj, dict):
        out: dict[str, Any] = {}
        for k, v in obj.items():
            out |= _flatten(v, f"{prefix}{k}.")
        return out
    return {prefix.rstrip("."): obj}


def _assert_same(a: Any, b: Any) -> None:
    fa, fb = _flatten(a), _flatten(b)
    assert fa.keys() == fb.keys()
    for k in fa:
        np.testing.assert_array_equal(np.asarray(fa[k]), np.asarray(fb[k]), err_msg=k)


def fuzz_case(spec: Spec, original: tuple[Path, Any], mutation: tuple[str, int, str]) -> None:
    """Damage a copy of the original with ``mutation`` and check the outcome (module docstring)."""
    kind, k, arg = mutation
    src, expected = original
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"damaged{spec.suffix}"
        marker = Path(tmp) / "pwned"
        shutil.copyfile(src, path)
        key, same = "", True
        size = path.stat().st_size
        if kind == "truncate":
            os.truncate(path, k % size)
        elif kind == "flip":
            raw = bytearray(path.read_bytes())
            raw[k % size] ^= 1 << int(arg)
            path.write_bytes(bytes(raw))
        elif kind == "poison" and spec.container != "hdf5":
            kind, k = "shuffle", k + 1
        if kind in ("drop", "retype", "shuffle", "poison"):
            if spec.container == "hdf5":
                key, same = _mutate_hdf5(path, kind, k, arg, marker)
            elif spec.container == "npz":
                key, same = _mutate_npz(path, kind, k, arg)
            else:
                key, same = _mutate_root(path, kind, k, arg)
        try:
            got = spec.read(path)
        except DataFormatError as err:
            assert path.name in str(err), err
            got = None
        assert not marker.exists(), "a pickled attribute was run"
        if got is None:
            return
        may_differ = (kind == "flip" and not spec.checksummed) or (
            not same and (key in spec.optional or (kind == "retype" and not spec.strict_dtypes)))
        # a poisoned attribute that the reader does not use must leave the read unchanged
        if not may_differ:
            _assert_same(got, expected)


@pytest.mark.parametrize("name", list(SPECS))
@FAST
@given(mutation=MUTATIONS)
def test_fuzz(originals, name, mutation):
    fuzz_case(SPECS[name], originals[name], mutation)


@pytest.mark.slow
@pytest.mark.parametrize("name", list(SPECS))
@SLOW
@given(mutation=MUTATIONS)
def test_fuzz_slow(originals, name, mutation):
    fuzz_case(SPECS[name], originals[name], mutation)


@pytest.mark.parametrize("name", list(SPECS))
def test_untouched_copies_read_identically(originals, name):
    for mutation in (("shuffle", 3, ""), ("poison", 0, ""), ("poison", 5, "")):
        fuzz_case(SPECS[name], originals[name], mutation)


def test_pandas_would_run_the_planted_pickle_but_we_do_not(originals, tmp_path):
    """The attack is real: PyTables (``pd.read_hdf``) runs a pickled attribute; our reader does not."""
    pytest.importorskip("tables")
    for name in ("toptag-fixed", "toptag-table", "lhco"):
        src, expected = originals[name]
        path, marker = tmp_path / f"{name}.h5", tmp_path / f"{name}.pwned"
        shutil.copyfile(src, path)
        with h5py.File(path, "r+") as f:
            key = next(iter(f))
            f[key].attrs["encoding"] = poison(marker)  # pandas reads this attribute of every frame
        _assert_same(SPECS[name].read(path), expected)
        assert not marker.exists()
        with contextlib.suppress(Exception):  # the payload's return value then breaks pandas
            pd.read_hdf(path, key)
        assert marker.exists(), "PyTables no longer unpickles attributes: update the docstring of pandas_hdf"


def test_our_files_are_checksummed(originals):
    for name in ("colliderlab", "calochallenge", "dijet", "events"):
        with h5py.File(originals[name][0]) as f:
            datasets = [f[k] for k in f if isinstance(f[k], h5py.Dataset)]
            assert datasets and all(d.fletcher32 for d in datasets), name


@pytest.mark.parametrize("writer, reader", [("_write_dijets", "read_dijets"), ("_write_events", "read_events")])
def test_flipped_bits_in_string_attributes_are_caught(writer, reader, tmp_path):
    """HDF5 keeps variable-length string attributes in a heap its metadata checksums do not cover:
    every single-bit flip inside the ``config`` and ``process``/``kind`` strings must now raise
    (the files carry ``attrs_sha256``), never read a silently different value."""
    import colliderlab.data.dijet_io as dijet_io
    import colliderlab.data.event_io as event_io

    read = getattr(dijet_io if reader == "read_dijets" else event_io, reader)
    path = tmp_path / "orig.h5"
    globals()[writer](path)
    original = read(path)
    raw = path.read_bytes()
    if reader == "read_dijets":
        targets = [b'"pthat_min"', b"qcd"]  # inside the config JSON, and the kind
    else:
        from colliderlab.physics.sm_events import FEATURE_NAMES

        targets = [b"ttbar", FEATURE_NAMES[-1].encode()]  # the process, and a feature name

    offsets = [raw.find(t) for t in targets]
    assert all(o >= 0 for o in offsets), offsets  # the strings really are in the file
    caught = 0
    for o in offsets:
        for bit in range(8):
            bad = bytearray(raw)
            bad[o] ^= 1 << bit
            p = tmp_path / f"flip-{o}-{bit}.h5"
            p.write_bytes(bytes(bad))
            try:
                again = read(p)
            except DataFormatError:
                caught += 1
                continue
            key = "attrs" if "attrs" in original else "feature_names"
            assert again[key] == original[key]
    assert caught == 8 * len(offsets)
