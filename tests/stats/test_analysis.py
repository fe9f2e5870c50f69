"""From a tagger on Pythia jets to a pyhf result: working point, mass templates, fits, refusals."""

from __future__ import annotations

import json

import numpy as np
import pytest

pyhf = pytest.importorskip("pyhf")

from colliderlab import kinematics as kin  # noqa: E402
from colliderlab.stats.analysis import (  # noqa: E402
    AnalysisConfig,
    Split,
    XsecInput,
    analyse,
    event_weights,
    pair_variations,
)

# Effective cross sections (pb) and the luminosity are chosen so that one simulated jet stands
# for about one expected event (MC statistical errors comparable to the data's).
XSEC = {"qcd": XsecInput(2000.0, 0.05, 1.0), "top": XsecInput(200.0, 0.1, 1.0)}
LUMI = 1e-4


@pytest.fixture(scope="module")
def splits(toptag_jets):
    """Validation / test halves of the fixture sample; score: constituent multiplicity (top jets
    have more), discriminant: the jet mass."""
    b = toptag_jets
    score = b.mask.sum(axis=1).astype(float) + 1e-3 * np.arange(len(b)) / len(b)  # break ties
    mass = kin.mass(b.jet_p4)
    idx = np.random.default_rng(0).permutation(len(b))
    half = len(b) // 2
    mk = lambda i: Split(score[i], mass[i], b.label[i])  # noqa: E731
    return mk(idx[:half]), mk(idx[half:]), b.label_names


def test_weights_give_the_expected_events():
    labels = np.array([0, 0, 0, 1])
    w = event_weights(labels, [3.0, 1.0], lumi_fb=2.0)  # pb x fb^-1 x 1000
    assert w[labels == 0].sum() == pytest.approx(6000.0) and w[3] == pytest.approx(2000.0)


def test_variations_pair_up_and_lone_ones_stay_one_sided():
    assert pair_variations(["fsr-up", "fsr-down", "vincia", "isr-up"]) == {
        "fsr": ("fsr-up", "fsr-down"), "vincia": ("vincia", None), "isr-up": ("isr-up", None)}


def test_analysis_end_to_end(splits):
    val, test, names = splits
    cfg = AnalysisConfig(bins=4, range=(0.0, 300.0), lumi_fb=LUMI, min_mc_background=5, inject_mu=1.0, seed=3)
    res = analyse(val, test, names, XSEC, config=cfg)
    wp = res["working_point"]
    # chosen on validation: the best Z_A among cuts with enough validation background
    scan = {k: np.asarray(v) for k, v in res["scan"].items()}
    ok = scan["n_mc_background"] >= 5
    assert wp["validation"]["z_asimov_mc"] == pytest.approx(scan["z_asimov_mc"][ok].max())
    table = res["cut_table"]  # validation rows near eS = 0.3, 0.5, 0.7, 0.9
    assert [round(r["eff_s"], 1) for r in table] == [0.3, 0.5, 0.7, 0.9]
    for r in table:
        assert r["s_over_sqrt_b"] == pytest.approx(r["s"] / np.sqrt(r["b"]))
        assert r["z_asimov_mc"] <= r["z_asimov"] + 1e-12
    # the templates hold the expected test events that pass the cut
    w = event_weights(test.labels, [2000.0, 200.0], LUMI)
    passed = (test.scores >= wp["cut"]) & (test.values >= 0) & (test.values < 300)
    assert res["yields"]["top"] == pytest.approx(w[passed & (test.labels == 1)].sum())
    assert res["yields"]["top"] + res["yields"]["qcd"] == pytest.approx(w[passed].sum())
    fit, stat = res["fit"], res["fit_stat_only"]
    assert fit["z_expected"] > 0 and np.all(np.diff(fit["limit_expected"]) > 0)
    assert res["nuisances"] == ["xsec_qcd", "xsec_top"]
    # systematics can only weaken the expected result
    assert fit["limit_expected"][2] >= stat["limit_expected"][2] * (1 - 1e-6)
    assert fit["z_expected"] <= stat["z_expected"] * (1 + 1e-6)
    assert len(fit["pseudo_data"]) == 4 and fit["limit_observed"] > 0
    # the workspace is plain JSON that pyhf reads back with the same expected data
    spec = json.loads(json.dumps(res["workspace"]))
    model = pyhf.Workspace(spec).model()
    total = np.sum([s["data"] for s in spec["channels"][0]["samples"]], axis=0)
    np.testing.assert_allclose(model.expected_actualdata(model.config.suggested_init()), total, rtol=1e-9)


def test_a_variation_sample_enters_as_a_shape_systematic(splits):
    from colliderlab.stats.fit import upper_limits

    val, test, names = splits
    cfg = AnalysisConfig(bins=3, range=(0.0, 300.0), lumi_fb=LUMI, min_mc_background=5, fit=False)
    same = analyse(val, test, names, XSEC, config=cfg, variations={"vincia": (test, {})})
    assert same["fit"] is None and "vincia" in same["nuisances"]
    assert same["efficiencies"]["vincia"]["shift_s"] == pytest.approx(0.0)
    histosys = lambda res: [m["data"] for s in res["workspace"]["channels"][0]["samples"]  # noqa: E731
                            for m in s["modifiers"] if m["type"] == "histosys"]
    for d in histosys(same):  # the nominal sample as its own variation: no shape change
        np.testing.assert_allclose(d["hi_data"], d["lo_data"])
    # a variation in which every jet's mass is 10% higher: the templates move, the limit weakens
    heavier = Split(test.scores, 1.1 * test.values, test.labels)
    shifted = analyse(val, test, names, XSEC, config=cfg, variations={"vincia": (heavier, {})})
    assert any(not np.allclose(d["hi_data"], d["lo_data"]) for d in histosys(shifted))
    with_sys = upper_limits(shifted["workspace"])["expected"][2]
    assert with_sys > 1.02 * upper_limits(shifted["workspace_stat_only"])["expected"][2]


def test_bad_inputs_are_named(splits, toptag_jets, tmp_path):
    from colliderlab.data.h5 import write_h5
    from colliderlab.stats.discriminants import jet_values

    val, test, names = splits
    with pytest.raises(ValueError, match=r"no cross section for classes \['top'\]"):
        analyse(val, test, names, {"qcd": XSEC["qcd"]})
    with pytest.raises(ValueError, match=r"no expected background in bin 1 \[300, 500\), bin 2 \[500, 700\)"):
        analyse(val, test, names, XSEC, config=AnalysisConfig(bins=3, range=(100.0, 700.0), min_mc_background=5))
    with pytest.raises(ValueError, match="unknown discriminant 'mjj'; valid: mass, pt, mass_constituents"):
        jet_values("whatever.h5", "mjj")
    # a file that carries constituents but no jet four-vector cannot give the jet mass
    few = toptag_jets[:20]
    few.fields = frozenset({"p4", "mask", "label"})
    path = tmp_path / "no_jet_p4.h5"
    write_h5(path, few)
    with pytest.raises(ValueError, match="carries no jet_p4.*supports: mass_constituents"):
        jet_values(path, "mass")
    assert len(jet_values(path, "mass_constituents").values) == 20
