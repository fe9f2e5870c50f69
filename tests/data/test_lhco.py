"""LHC Olympics R&D features files (pandas HDF5): our dijets written in that layout read back to the
same search variables, and the search loads them (background = label 0, signal = label 1)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("pythia8mc")
pd = pytest.importorskip("pandas")
pytest.importorskip("tables")

from colliderlab.data.dijet_io import generate_dijets, read_dijets  # noqa: E402
from colliderlab.data.errors import DataFormatError  # noqa: E402
from colliderlab.data.lhco import COLUMNS, read_lhco_features, write_lhco_features  # noqa: E402
from colliderlab.physics.dijet import DijetConfig  # noqa: E402

CONFIG = DijetConfig(chunk_events=12, mpi=False)
SEARCH = ("mjj", "mj1", "delta_mj", "tau21_j1", "tau21_j2")


@pytest.fixture(scope="module")
def samples(tmp_path_factory):
    d = tmp_path_factory.mktemp("lhco")
    out = {}
    for kind, n, seed in (("qcd", 20, 3), ("wprime", 12, 4)):
        path = d / f"{kind}.h5"
        generate_dijets(path, kind, n, DijetConfig(chunk_events=12, mpi=False, seed=seed), progress=False)
        out[kind] = read_dijets(path)
    return out


def test_written_files_have_the_public_columns_and_read_back(samples, tmp_path):
    q, w = samples["qcd"], samples["wprime"]
    path = write_lhco_features(tmp_path / "rnd.h5", np.concatenate([q["jet_p4"], w["jet_p4"]]),
                               np.concatenate([q["tau"], w["tau"]]), np.r_[np.zeros(len(q["tau"])), np.ones(len(w["tau"]))])
    df = pd.read_hdf(path)
    assert tuple(df.columns) == COLUMNS and len(df) == 32
    back = read_lhco_features(path)
    assert back["label"].sum() == 12
    for k in SEARCH:  # energies recomputed from |p| and m: the same variables to float precision
        np.testing.assert_allclose(back[k][:20], q[k], rtol=1e-6, atol=1e-6, err_msg=k)
        np.testing.assert_allclose(back[k][20:], w[k], rtol=1e-6, atol=1e-6, err_msg=k)
    # W' -> X (500) Y (100): the heavier jet near 500 GeV more often than in QCD
    assert np.median(back["mj1"][20:] + back["delta_mj"][20:]) > np.median(back["mj1"][:20] + back["delta_mj"][:20])

    from colliderlab.anomaly.dijet_search import load_samples

    bkg, sig, ind = load_samples(path, path, [path, path])
    assert (len(bkg), len(sig), len(ind)) == (20, 12, 40)
    np.testing.assert_allclose(sig.mjj, w["mjj"] / 1e3, rtol=1e-6)


def test_bad_lhco_files_are_named(samples, tmp_path):
    q = samples["qcd"]
    path = write_lhco_features(tmp_path / "q.h5", q["jet_p4"], q["tau"])
    df = pd.read_hdf(path)
    df.drop(columns=["tau2j2"]).to_hdf(tmp_path / "missing.h5", key="df")
    with pytest.raises(DataFormatError, match=r"missing LHCO columns \['tau2j2'\]"):
        read_lhco_features(tmp_path / "missing.h5")
    df.loc[5, "mj2"] = np.nan
    df.to_hdf(tmp_path / "nan.h5", key="df")
    with pytest.raises(DataFormatError, match="first at event 5, column mj2"):
        read_lhco_features(tmp_path / "nan.h5")
    from colliderlab.anomaly.dijet_search import load_samples

    with pytest.raises(ValueError, match="no label-1 events"):
        load_samples(path, path, path)
    with pytest.raises(ValueError, match=r"jet_p4 must have shape \(N, 2, 4\)"):
        write_lhco_features(tmp_path / "x.h5", q["jet_p4"][:, :1], q["tau"])
