"""The LHC Olympics R&D dijet recipe: W' (3.5 TeV) -> X (500 GeV) Y (100 GeV) over QCD dijets."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("pythia8mc")
pytest.importorskip("fastjet")

from colliderlab import kinematics as kin  # noqa: E402
from colliderlab.physics.dijet import DijetConfig, dijet_chunk, dijet_features  # noqa: E402

CONFIG = DijetConfig(chunk_events=40)


@pytest.fixture(scope="module")
def wprime():
    return dijet_chunk("wprime", CONFIG, 0)


def test_wprime_events_carry_the_resonance_masses(wprime):
    """m_JJ peaks near m(W'), the heavier jet near m(X), the lighter near m(Y) (R = 1.0 jets pick
    up underlying event, so the jet masses sit a little above the resonance masses)."""
    f = dijet_features(wprime["jet_p4"], wprime["tau"])
    assert len(f["mjj"]) >= 15  # most W' events pass the 1.2 TeV leading-jet cut
    assert 3200 < np.median(f["mjj"]) < 3700
    assert 80 < np.median(f["mj1"]) < 200
    assert 420 < np.median(f["mj1"] + f["delta_mj"]) < 650
    assert (f["delta_mj"] >= 0).all()
    assert ((f["tau21_j1"] >= 0) & (f["tau21_j1"] <= 1.0 + 1e-9)).all()


def test_qcd_events_pass_the_leading_jet_cut_and_are_light():
    out = dijet_chunk("qcd", CONFIG, 0)
    jets = out["jet_p4"]
    assert len(jets) > 0 and int(out["n_generated"]) == CONFIG.chunk_events
    assert (kin.pt(jets[:, 0]) > CONFIG.lead_pt_min).all()
    assert (kin.pt(jets[:, 0]) >= kin.pt(jets[:, 1])).all()
    f = dijet_features(jets, out["tau"])
    assert np.median(f["mjj"]) > 2400  # two jets above ~1.1 TeV
    assert np.median(f["delta_mj"]) < 200  # no heavy resonance in either jet


def test_dijet_inputs_are_checked():
    with pytest.raises(ValueError, match="valid kinds"):
        dijet_chunk("zprime", CONFIG, 0)
    with pytest.raises(ValueError, match="must be below"):
        DijetConfig(mass_x=3000.0, mass_y=600.0)
    with pytest.raises(ValueError, match=r"\(N, 2, 4\)"):
        dijet_features(np.zeros((3, 4)), np.zeros((3, 2, 3)))
