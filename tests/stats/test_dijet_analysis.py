"""The W' -> XY dijet search as an m_JJ fit: a tagger on Pythia dijets, cross sections from the files."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("pythia8mc")
pytest.importorskip("pyhf")


@pytest.fixture(scope="module")
def dijet_files(tmp_path_factory):
    from colliderlab.data.dijet_io import generate_dijets
    from colliderlab.physics.dijet import DijetConfig

    tmp = tmp_path_factory.mktemp("dijets")
    config = DijetConfig(chunk_events=40, mpi=False, n_particles=100)
    generate_dijets(tmp / "qcd.h5", "qcd", 90, config, progress=False)
    generate_dijets(tmp / "wprime.h5", "wprime", 60, config, progress=False)
    return tmp / "wprime.h5", tmp / "qcd.h5"


def test_dijet_analysis_tags_and_normalises_from_the_files(dijet_files):
    from colliderlab.data.dijet_io import read_dijets
    from colliderlab.stats.analysis import AnalysisConfig
    from colliderlab.stats.dijet_analysis import analyse_dijets

    sig, bkg = dijet_files
    cfg = AnalysisConfig(discriminant="mjj", signal="wprime", bins=3, lumi_fb=10.0, min_mc_background=10,
                         fit=False)
    res = analyse_dijets(sig, bkg, config=cfg)
    wp = res["working_point"]
    # the tagger (trained on another third) separates X/Y jets from QCD on the test third
    assert wp["test"]["eff_s"] > 2 * wp["test"]["eff_b"]
    # expected events before the cut: Pythia's sigma x selection efficiency x luminosity
    x = read_dijets(sig)["attrs"]["cross_section"]
    assert res["expected_before_cut"]["signal"] == pytest.approx(x["sigma_pb"] * x["filter_efficiency"] * 1e4)
    assert res["nuisances"] == ["xsec_qcd", "xsec_wprime"]
    assert res["workspace"]["channels"][0]["samples"][0]["name"] == "wprime"
    # the m_JJ bins cover the selected background
    assert np.all(np.diff(res["edges"]) > 0) and res["edges"][0] > 1000.0


def test_dijet_files_without_cross_sections_need_them_by_hand(dijet_files, tmp_path):
    import shutil

    import h5py

    from colliderlab.stats.dijet_analysis import dijet_inputs

    sig, bkg = dijet_files
    old = tmp_path / "old_qcd.h5"
    shutil.copy(bkg, old)
    with h5py.File(old, "r+") as f:
        del f.attrs["cross_section"]
        from colliderlab.data.formats._common import seal_attrs

        seal_attrs(f.attrs)
    with pytest.raises(ValueError, match="holds no cross section"):
        dijet_inputs(sig, old)
    val, test, xsec, _ = dijet_inputs(sig, old, xsec_pb={"qcd": 5.0})
    assert xsec["qcd"].effective_pb == 5.0 and len(val.scores) + len(test.scores) == 100
