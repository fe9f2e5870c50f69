"""Readers of the public jet formats: files are written with each format's own tools
(pandas, numpy, uproot, h5py), never with colliderlab's writer, and read back."""

from __future__ import annotations

import os
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from colliderlab.data.errors import DataFormatError
from colliderlab.data.readers import (
    JETCLASS_LABELS,
    count_jets,
    detect_format,
    iter_jets,
    pdg_charge,
    pdg_mass,
    read_jets,
)
from colliderlab.jets import JetBatch, ParticleID

PI_MASS = 0.13957


def _assert_batches_equal(a: JetBatch, b: JetBatch) -> None:
    assert a.label_names == b.label_names
    for name, arr in a.arrays().items():
        np.testing.assert_array_equal(arr, b.arrays()[name], err_msg=name)


def _truncate_half(path: Path) -> None:
    os.truncate(path, path.stat().st_size // 2)


def _jets_ptetaphi(rng: np.random.Generator, n: int, m: int, mult: np.ndarray):
    """Constituent (pt, eta, phi) spread around a jet axis, pT-ordered, zero beyond ``mult``."""
    eta0 = rng.uniform(-1.5, 1.5, (n, 1))
    phi0 = rng.uniform(-np.pi, np.pi, (n, 1))
    pt = np.sort(rng.exponential(15.0, (n, m)) + 1.0, axis=1)[:, ::-1]
    eta = eta0 + rng.normal(0, 0.2, (n, m))
    phi = phi0 + rng.normal(0, 0.2, (n, m))
    real = np.arange(m)[None, :] < mult[:, None]
    return np.where(real, pt, 0.0), eta, phi, real


# --------------------------------------------------------------------------- top tagging
def _toptag_frame(n: int = 30, seed: int = 0, shuffle: bool = False):
    """A DataFrame laid out like the top-tagging files: E/PX/PY/PZ_i for i < 200 (zero-padded)."""
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(seed)
    mult = rng.integers(3, 60, n)
    mult[0] = 200  # one full jet
    pt, eta, phi, real = _jets_ptetaphi(rng, n, 200, mult)
    px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)
    e = np.where(real, np.sqrt(px**2 + py**2 + pz**2), 0.0)
    comps = np.stack([e, px, py, pz], axis=-1).astype(np.float32)  # (N, 200, 4) massless
    comps[~real] = 0.0
    if shuffle:  # scramble the constituent order, padding included
        perm = np.argsort(rng.random((n, 200)), axis=1)
        comps = np.take_along_axis(comps, perm[..., None], axis=1)
    columns = {}
    for i in range(200):  # the files interleave E_i, PX_i, PY_i, PZ_i per particle
        for k, v in enumerate(("E", "PX", "PY", "PZ")):
            columns[f"{v}_{i}"] = comps[:, i, k]
    label = (np.arange(n) % 2).astype(np.int64)
    truth = comps.astype(np.float64).sum(axis=1) * label[:, None]
    for k, v in enumerate(("truthE", "truthPX", "truthPY", "truthPZ")):
        columns[v] = truth[:, k]
    columns["ttv"] = np.zeros(n, np.int64)
    columns["is_signal_new"] = label
    return pd.DataFrame(columns), comps, label


@pytest.fixture
def toptag_file(tmp_path: Path):
    df, comps, label = _toptag_frame()
    path = tmp_path / "train.h5"
    df.to_hdf(path, key="table", format="table")
    return path, df, comps, label


def test_toptag_round_trip(toptag_file):
    path, df, comps, label = toptag_file
    assert detect_format(path) == "toptag"
    assert count_jets(path) == len(df)
    b = read_jets(path)
    assert len(b) == len(df) and b.n_particles == 200
    assert b.label_names == ("qcd", "top")
    np.testing.assert_array_equal(b.p4, comps)
    np.testing.assert_array_equal(b.mask, comps[..., 0] != 0)
    np.testing.assert_array_equal(b.label, label)
    np.testing.assert_allclose(b.jet_p4, comps.astype(np.float64).sum(axis=1), rtol=1e-12)
    np.testing.assert_allclose(b.truth_p4, df[["truthE", "truthPX", "truthPY", "truthPZ"]])
    np.testing.assert_array_equal(b.truth_pdg, np.where(label == 1, 6, 0))
    assert not b.charge.any() and not b.pid.any() and not b.d0.any() and not b.dz.any()
    assert b.multiplicity[0] == 200
    # physical jets: positive mass, pT of the constituent sum close to the scalar sum
    m2 = b.jet_p4[:, 0] ** 2 - (b.jet_p4[:, 1:] ** 2).sum(axis=1)
    assert (m2 > 0).all()


def test_toptag_chunks_slices_and_truncation(toptag_file):
    path, df, comps, _ = toptag_file
    full = read_jets(path)
    chunks = list(iter_jets(path, chunk_size=7))
    assert [len(c) for c in chunks] == [7, 7, 7, 7, 2]
    _assert_batches_equal(JetBatch.concatenate(chunks), full)
    _assert_batches_equal(read_jets(path, start=5, stop=12), full[5:12])
    assert len(read_jets(path, start=25, stop=100)) == 5
    assert len(read_jets(path, start=10, stop=3)) == 0
    short = read_jets(path, n_particles=10)
    np.testing.assert_array_equal(short.p4, comps[:, :10])
    np.testing.assert_array_equal(short.jet_p4, full.jet_p4)  # the jet keeps all constituents
    assert read_jets(path, n_particles=256).p4.shape == (len(df), 256, 4)


def test_toptag_resorts_and_reads_fixed_format(tmp_path: Path):
    df, comps, _ = _toptag_frame(n=12, seed=3, shuffle=True)
    path = tmp_path / "shuffled.h5"
    df.to_hdf(path, key="table")  # pandas' default "fixed" format
    b = read_jets(path)
    pt = np.hypot(b.p4[..., 1], b.p4[..., 2])
    assert (np.diff(pt, axis=1) <= 0).all()
    np.testing.assert_array_equal(b.mask, np.arange(200) < b.multiplicity[:, None])
    np.testing.assert_allclose(b.jet_p4, comps.astype(np.float64).sum(axis=1), rtol=1e-12)
    _assert_batches_equal(JetBatch.concatenate(list(iter_jets(path, chunk_size=5))), b)


def test_toptag_missing_column(tmp_path: Path):
    df, _, _ = _toptag_frame(n=5)
    path = tmp_path / "no_label.h5"
    df.drop(columns="is_signal_new").to_hdf(path, key="table", format="table")
    with pytest.raises(DataFormatError, match="is_signal_new") as err:
        read_jets(path)
    assert "no_label.h5" in str(err.value)


def test_toptag_truncated(toptag_file):
    path = toptag_file[0]
    _truncate_half(path)
    for call in (read_jets, count_jets):
        with pytest.raises(DataFormatError) as err:
            call(path)
        assert path.name in str(err.value)


# --------------------------------------------------------------------------- quark/gluon
def _qg_arrays(n: int = 20, m: int = 30, seed: int = 1):
    rng = np.random.default_rng(seed)
    mult = rng.integers(2, m, n)
    pt, eta, phi, real = _jets_ptetaphi(rng, n, m, mult)
    pids = np.array([22, 211, -211, 321, -321, 130, 2112, -2112, 2212, -2212, 11, -11, 13, -13])
    pid = rng.choice(pids, (n, m))
    x = np.stack([pt, eta, np.mod(phi, 2 * np.pi), pid], axis=-1)
    x[~real] = 0.0
    # scramble the order inside each jet's real particles (EnergyFlow files are not pT-sorted)
    perm = np.argsort(np.where(real, rng.random((n, m)), np.inf), axis=1)
    x = np.take_along_axis(x, perm[..., None], axis=1)
    y = (np.arange(n) % 2).astype(np.float64)
    return x, y


@pytest.fixture(params=["savez", "savez_compressed"])
def qg_file(tmp_path: Path, request):
    x, y = _qg_arrays()
    path = tmp_path / "QG_jets.npz"
    getattr(np, request.param)(path, X=x, y=y)
    return path, x, y


def test_pdg_tables():
    ids = np.array([211, -211, 321, 2212, -2212, 2112, 130, 22, 11, -11, 13, -13, 0, 999999])
    np.testing.assert_allclose(
        pdg_mass(ids),
        [PI_MASS, PI_MASS, 0.49368, 0.93827, 0.93827, 0.93957, 0.49761, 0, 0.000511, 0.000511]
        + [0.10566, 0.10566, 0, 0],
    )
    np.testing.assert_array_equal(
        pdg_charge(ids.astype(float)), [1, -1, 1, 1, -1, 0, 0, 0, -1, 1, -1, 1, 0, 0]
    )


def test_quark_gluon_round_trip(qg_file):
    path, x, y = qg_file
    assert detect_format(path) == "quark-gluon"
    assert count_jets(path) == len(x)
    b = read_jets(path)
    assert b.label_names == ("gluon", "quark")
    assert b.n_particles == x.shape[1]
    np.testing.assert_array_equal(b.label, y.astype(np.int64))
    np.testing.assert_array_equal(b.multiplicity, (x[..., 0] > 0).sum(axis=1))
    pt = np.hypot(b.p4[..., 1], b.p4[..., 2])
    assert (np.diff(pt, axis=1) <= 0).all()
    # padding is empty
    assert not b.p4[~b.mask].any() and (b.pid[~b.mask] == ParticleID.UNKNOWN).all()
    assert not b.charge[~b.mask].any()
    # constituent masses follow the PDG ids: m^2 = E^2 - p^2 (float32 p4, so loose)
    m2 = b.p4[..., 0].astype(float) ** 2 - (b.p4[..., 1:].astype(float) ** 2).sum(-1)
    assert np.abs(m2[b.mask]).max() < 1.0
    np.testing.assert_allclose(b.jet_p4, b.p4.astype(np.float64).sum(axis=1), rtol=1e-5)
    # every particle kind maps to its pid/charge
    charged = b.charge[b.mask] != 0
    pids = b.pid[b.mask]
    assert set(np.unique(pids)) == {
        ParticleID.CHARGED_HADRON,
        ParticleID.NEUTRAL_HADRON,
        ParticleID.PHOTON,
        ParticleID.ELECTRON,
        ParticleID.MUON,
    }
    assert (charged[pids == ParticleID.CHARGED_HADRON]).all()
    assert not (charged[np.isin(pids, [ParticleID.NEUTRAL_HADRON, ParticleID.PHOTON])]).any()


def test_quark_gluon_known_particles(tmp_path: Path):
    """A pi+ with known (pT, y, phi) gets E and pz from the pion mass; ids map to charge/pid."""
    pt, rap, phi = 10.0, 0.5, 1.0
    x = np.zeros((1, 8, 4))
    rows = [(2.0, 0.1, 1.2, 22), (pt, rap, phi, 211), (1.0, 0.0, 1.0, -11), (0.5, 0.3, 1.1, 2112)]
    rows += [(3.0, -0.2, 0.9, -2212), (0.7, 0.1, 1.0, 13), (1.5, 0.2, 0.8, 130)]
    x[0, : len(rows)] = rows
    path = tmp_path / "one.npz"
    np.savez(path, X=x, y=np.array([1.0]))
    b = read_jets(path)
    assert b.label.tolist() == [1] and b.label_names[1] == "quark"
    mt = np.hypot(pt, PI_MASS)
    np.testing.assert_allclose(
        b.p4[0, 0],
        [mt * np.cosh(rap), pt * np.cos(phi), pt * np.sin(phi), mt * np.sinh(rap)],
        rtol=1e-6,
    )
    # pT order: pi+ (10), pbar (3), photon (2), K_L (1.5), e+ (1), mu- (0.7), n (0.5)
    assert b.charge[0, :7].tolist() == [1, -1, 0, 0, 1, -1, 0]
    assert b.pid[0, :8].tolist() == [
        ParticleID.CHARGED_HADRON,
        ParticleID.CHARGED_HADRON,
        ParticleID.PHOTON,
        ParticleID.NEUTRAL_HADRON,
        ParticleID.ELECTRON,
        ParticleID.MUON,
        ParticleID.NEUTRAL_HADRON,
        ParticleID.UNKNOWN,
    ]
    assert b.mask[0].tolist() == [True] * 7 + [False]
    m_n = np.sqrt(max(float(b.p4[0, 6, 0]) ** 2 - float((b.p4[0, 6, 1:] ** 2).sum()), 0.0))
    np.testing.assert_allclose(m_n, 0.93957, rtol=1e-3)
    np.testing.assert_allclose(b.jet_p4[0], b.p4[0].astype(np.float64).sum(axis=0), rtol=1e-6)


def test_quark_gluon_chunks_and_truncation(qg_file):
    path, x, _ = qg_file
    full = read_jets(path)
    _assert_batches_equal(JetBatch.concatenate(list(iter_jets(path, chunk_size=6))), full)
    _assert_batches_equal(read_jets(path, start=4, stop=9), full[4:9])
    short = read_jets(path, n_particles=5)
    np.testing.assert_array_equal(short.p4, full.p4[:, :5])
    np.testing.assert_array_equal(short.jet_p4, full.jet_p4)


def test_quark_gluon_schema_errors(tmp_path: Path):
    x, y = _qg_arrays(n=4)
    no_x = tmp_path / "no_x.npz"
    np.savez(no_x, Z=x, y=y)
    with pytest.raises(DataFormatError, match="'X'") as err:
        read_jets(no_x)
    assert "no_x.npz" in str(err.value)

    bad = tmp_path / "bad_shape.npz"
    np.savez(bad, X=x[..., :3], y=y)
    with pytest.raises(DataFormatError, match=r"'X' has shape \(4, 30, 3\)") as err:
        count_jets(bad)
    assert "(N, M, 4)" in str(err.value) and "bad_shape.npz" in str(err.value)

    bad_y = tmp_path / "bad_y.npz"
    np.savez(bad_y, X=x, y=y[:2])
    with pytest.raises(DataFormatError, match="'y'"):
        read_jets(bad_y)


def test_quark_gluon_truncated(qg_file):
    path = qg_file[0]
    _truncate_half(path)
    with pytest.raises(DataFormatError) as err:
        read_jets(path)
    assert path.name in str(err.value)


# --------------------------------------------------------------------------- JetClass
_FLAGS = ("isChargedHadron", "isNeutralHadron", "isPhoton", "isElectron", "isMuon")


def _jetclass_arrays(n: int = 12, seed: int = 2):
    """Per-jet particle lists (unsorted), like JetClass's jagged branches, plus jet/label arrays."""
    ak = pytest.importorskip("awkward")
    rng = np.random.default_rng(seed)
    mult = rng.integers(1, 40, n)
    mult[0] = 150  # more than the default 128 slots
    offsets = np.concatenate([[0], np.cumsum(mult)])
    total = offsets[-1]
    jet = np.repeat(np.arange(n), mult)
    eta0, phi0 = rng.uniform(-2, 2, n), rng.uniform(-np.pi, np.pi, n)
    pt = rng.exponential(20.0, total) + 0.5  # random order inside each jet
    deta, dphi = rng.normal(0, 0.2, total), rng.normal(0, 0.2, total)
    eta, phi = eta0[jet] + deta, phi0[jet] + dphi
    kind = rng.integers(0, 5, total)  # index into _FLAGS
    charge = np.where(kind == 0, rng.choice([-1, 1], total), 0)
    charge = np.where(kind >= 3, rng.choice([-1, 1], total), charge)
    mass = np.choose(kind, [PI_MASS, 0.0, 0.0, 0.000511, 0.10566])
    px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)
    energy = np.sqrt(px**2 + py**2 + pz**2 + mass**2)
    d0 = np.where(charge != 0, rng.normal(0, 0.05, total), 0.0)
    dz = np.where(charge != 0, rng.normal(0, 0.1, total), 0.0)
    flat = {
        "part_px": px,
        "part_py": py,
        "part_pz": pz,
        "part_energy": energy,
        "part_deta": deta,
        "part_dphi": dphi,
        "part_d0val": d0,
        "part_d0err": np.abs(d0) * 0.1,
        "part_dzval": dz,
        "part_dzerr": np.abs(dz) * 0.1,
        "part_charge": charge,
    }
    flat.update({f"part_{f}": (kind == i) for i, f in enumerate(_FLAGS)})
    parts = {
        k: ak.unflatten(np.asarray(v, np.float32), mult) for k, v in flat.items()
    }  # JetClass stores floats
    jet_p4 = np.stack([np.bincount(jet, w, n) for w in (energy, px, py, pz)], axis=1)
    jet_pt = np.hypot(jet_p4[:, 1], jet_p4[:, 2])
    jets = {
        "jet_pt": jet_pt,
        "jet_eta": np.arcsinh(jet_p4[:, 3] / jet_pt),
        "jet_phi": np.arctan2(jet_p4[:, 2], jet_p4[:, 1]),
        "jet_energy": jet_p4[:, 0],
        "jet_nparticles": mult.astype(np.float32),
        "jet_sdmass": np.zeros(n, np.float32),
    }
    classes = ("Tbqq", "QCD", "Wqq", "Hbb")  # written out of the dataset's order on purpose
    label = rng.integers(0, len(classes), n)
    labels = {f"label_{c}": (label == i).astype(np.float32) for i, c in enumerate(classes)}
    truth = {
        "pt": pt,
        "kind": kind,
        "charge": charge,
        "d0": d0,
        "dz": dz,
        "jet": jet,
        "mult": mult,
        "label": np.array(classes)[label],
        "p4": np.stack([energy, px, py, pz], -1),
        "jet_p4": jet_p4,
    }
    return {**parts, **jets, **labels}, truth


@pytest.fixture
def jetclass_file(tmp_path: Path):
    uproot = pytest.importorskip("uproot")
    data, truth = _jetclass_arrays()
    path = tmp_path / "HToBB_120.root"
    with uproot.recreate(path) as f:
        f.mktree("tree", data, counter_name=lambda _: "npart")
    return path, truth


def _sorted_truth(truth, i: int, key: str) -> np.ndarray:
    sel = truth["jet"] == i
    order = np.argsort(-truth["pt"][sel].astype(np.float32), kind="stable")
    return truth[key][sel][order]


def test_jetclass_round_trip(jetclass_file):
    path, truth = jetclass_file
    assert detect_format(path) == "jetclass"
    assert count_jets(path) == len(truth["mult"])
    b = read_jets(path)
    assert b.n_particles == 128
    assert b.label_names == ("QCD", "Hbb", "Wqq", "Tbqq")
    assert [b.label_names[k] for k in b.label] == truth["label"].tolist()
    np.testing.assert_array_equal(b.multiplicity, np.minimum(truth["mult"], 128))
    kind_to_pid = np.array(
        [
            ParticleID.CHARGED_HADRON,
            ParticleID.NEUTRAL_HADRON,
            ParticleID.PHOTON,
            ParticleID.ELECTRON,
            ParticleID.MUON,
        ]
    )
    for i in range(len(b)):
        k = b.multiplicity[i]
        np.testing.assert_allclose(b.p4[i, :k], _sorted_truth(truth, i, "p4")[:k], rtol=1e-6)
        assert b.pid[i, :k].tolist() == kind_to_pid[_sorted_truth(truth, i, "kind")[:k]].tolist()
        assert b.charge[i, :k].tolist() == _sorted_truth(truth, i, "charge")[:k].tolist()
        np.testing.assert_allclose(b.d0[i, :k], _sorted_truth(truth, i, "d0")[:k], rtol=1e-6)
        np.testing.assert_allclose(b.dz[i, :k], _sorted_truth(truth, i, "dz")[:k], rtol=1e-6)
    assert not b.p4[~b.mask].any() and not b.pid[~b.mask].any() and not b.d0[~b.mask].any()
    np.testing.assert_allclose(b.jet_p4, truth["jet_p4"], rtol=1e-9, atol=1e-9)
    assert not b.truth_p4.any() and not b.truth_pdg.any()


def test_jetclass_truncation_keeps_hardest(jetclass_file):
    path, truth = jetclass_file
    b = read_jets(path, n_particles=3)
    assert b.p4.shape == (len(truth["mult"]), 3, 4)
    for i in range(len(b)):
        hardest = np.sort(truth["pt"][truth["jet"] == i].astype(np.float32))[::-1][:3]
        k = len(hardest)
        got = np.hypot(b.p4[i, :k, 1], b.p4[i, :k, 2])
        np.testing.assert_allclose(got, hardest, rtol=1e-5)
    full = read_jets(path, n_particles=200)
    assert full.multiplicity[0] == 150
    np.testing.assert_array_equal(full.p4[:, :3], b.p4)


def test_jetclass_chunks(jetclass_file):
    path, _ = jetclass_file
    full = read_jets(path)
    _assert_batches_equal(JetBatch.concatenate(list(iter_jets(path, chunk_size=5))), full)
    _assert_batches_equal(read_jets(path, start=2, stop=7), full[2:7])


def test_jetclass_all_labels_and_missing_branch(tmp_path: Path):
    uproot = pytest.importorskip("uproot")
    data, _ = _jetclass_arrays(n=4)
    classes = np.eye(10, dtype=np.float32)[[0, 9, 3, 3]]  # (4 jets, 10 classes) one-hot
    onehot = {f"label_{c}": classes[:, i] for i, c in enumerate(JETCLASS_LABELS)}
    data = {k: v for k, v in data.items() if not k.startswith("label_")} | onehot
    path = tmp_path / "all.root"
    with uproot.recreate(path) as f:
        f.mktree("tree", data, counter_name=lambda _: "npart")
    b = read_jets(path)
    assert b.label_names == JETCLASS_LABELS and b.label.tolist() == [0, 9, 3, 3]

    broken = tmp_path / "no_energy.root"
    with uproot.recreate(broken) as f:
        f.mktree("tree", {k: v for k, v in data.items() if k != "part_energy"})
    with pytest.raises(DataFormatError, match="part_energy") as err:
        read_jets(broken)
    assert "no_energy.root" in str(err.value)


def test_jetclass_truncated(jetclass_file):
    path, _ = jetclass_file
    _truncate_half(path)
    with pytest.raises(DataFormatError) as err:
        read_jets(path)
    assert path.name in str(err.value)


# --------------------------------------------------------------------------- dispatcher
def test_unknown_extension_and_missing_file(tmp_path: Path):
    path = tmp_path / "jets.txt"
    path.write_text("E,px,py,pz\n")
    with pytest.raises(DataFormatError, match="supported formats") as err:
        read_jets(path)
    assert "jets.txt" in str(err.value) and "jetclass" in str(err.value)
    with pytest.raises(FileNotFoundError, match="nothere.h5"):
        count_jets(tmp_path / "nothere.h5")


def test_undetectable_hdf5(tmp_path: Path):
    h5py = pytest.importorskip("h5py")
    path = tmp_path / "other.h5"
    with h5py.File(path, "w") as f:
        f["data"] = np.zeros(3)
    with pytest.raises(DataFormatError, match="top-tagging") as err:
        detect_format(path)
    assert "other.h5" in str(err.value)
    notroot = tmp_path / "fake.root"
    notroot.write_bytes(b"not a root file")
    with pytest.raises(DataFormatError, match="fake.root"):
        read_jets(notroot)


def test_colliderlab_format_is_delegated(tmp_path: Path, monkeypatch):
    h5py = pytest.importorskip("h5py")
    path = tmp_path / "ours.h5"
    with h5py.File(path, "w") as f:
        f.attrs["format"] = "colliderlab-jets"
    assert detect_format(path) == "colliderlab"

    calls = []
    fake = types.ModuleType("colliderlab.data.h5")

    def read_h5(p, start=0, stop=None):
        calls.append(("read", start, stop))
        return JetBatch.zeros(5, 20, ("a", "b"))

    def iter_h5(p, chunk_size):
        calls.append(("iter", chunk_size))
        yield JetBatch.zeros(2, 20, ("a", "b"))

    fake.read_h5, fake.iter_h5, fake.count_h5 = read_h5, iter_h5, lambda p: 5
    monkeypatch.setitem(sys.modules, "colliderlab.data.h5", fake)
    assert read_jets(path, start=1, stop=3).n_particles == 20
    assert read_jets(path, n_particles=8).n_particles == 8
    assert [len(b) for b in iter_jets(path, chunk_size=2, n_particles=4)] == [2]
    assert count_jets(path) == 5
    assert calls == [("read", 1, 3), ("read", 0, None), ("iter", 2)]


def test_labels_outside_the_classes_are_named(tmp_path: Path):
    df, _, _ = _toptag_frame(n=6)
    df.loc[4, "is_signal_new"] = 7
    path = tmp_path / "label7.h5"
    df.to_hdf(path, key="table")
    with pytest.raises(DataFormatError, match=r"label7.h5.*holds 7.* at row 4.*0 \(qcd\), 1 \(top\)"):
        read_jets(path)
    x, y = _qg_arrays(n=4)
    y[2] = 3.0
    qg = tmp_path / "qg3.npz"
    np.savez(qg, X=x, y=y)
    with pytest.raises(DataFormatError, match=r"qg3.npz.*'y' holds 3.0 at row 2.*1 \(quark\)"):
        read_jets(qg)


def test_format_by_name(toptag_file):
    path = toptag_file[0]
    assert count_jets(path, format="toptag") == count_jets(path)
    with pytest.raises(ValueError, match="unknown jet format 'parquet'; valid formats: colliderlab-sharded, colliderlab, toptag"):
        read_jets(path, format="parquet")
