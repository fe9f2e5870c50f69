"""The event-level SM cocktail: trigger, lepton/jet/MET reconstruction and physics invariants (issue #6)."""

from __future__ import annotations

import awkward as ak
import numpy as np
import pytest

pytest.importorskip("pythia8mc")
pytest.importorskip("fastjet")

from colliderlab import kinematics as kin  # noqa: E402
from colliderlab.physics.sm_events import (  # noqa: E402
    FEATURE_NAMES,
    PROCESSES,
    EventConfig,
    check_process,
    event_chunk,
    lepton_filter,
    pythia_settings,
    reconstruct_events,
)

# MPI off keeps the tests fast; the invariants below do not depend on it.
CONFIG = EventConfig(mpi=False, seed=7)
F = {name: i for i, name in enumerate(FEATURE_NAMES)}


def _reco(process: str, n: int) -> dict[str, np.ndarray]:
    """All n events of a process through the detector and the reconstruction (triggered or not)."""
    from colliderlab.physics.detector import apply_detector, load_card
    from colliderlab.physics.generator import final_state_particles
    from colliderlab.physics.sm_events import _fresh_pythia

    py = _fresh_pythia(pythia_settings(process, CONFIG))
    py.rndm.init(11)
    prt = py.nextBatch(n).prt
    cands = apply_detector(
        final_state_particles(prt, py), load_card(CONFIG.detector), np.random.default_rng(1)
    )
    out = reconstruct_events(cands, prt, CONFIG, np.random.default_rng(2))
    out["cands"] = cands
    return out


@pytest.fixture(scope="module")
def samples() -> dict[str, dict[str, np.ndarray]]:
    return {"w_lnu": _reco("w_lnu", 300), "z_ll": _reco("z_ll", 300), "ttbar": _reco("ttbar", 200)}


def _triggered(s: dict[str, np.ndarray], name: str) -> np.ndarray:
    return s["features"][s["triggered"], F[name]]


def test_unknown_process_lists_the_valid_ones() -> None:
    with pytest.raises(ValueError, match="valid processes: w_lnu, z_ll, ttbar, qcd, a_4l"):
        check_process("w_jets")
    with pytest.raises(ValueError, match="valid processes"):
        pythia_settings("zprime", CONFIG)
    with pytest.raises(ValueError, match="valid processes"):
        EventConfig(filter_processes=("qcd", "dy"))


@pytest.mark.parametrize("process", PROCESSES)
def test_every_process_initialises_with_its_masses(process: str) -> None:
    from colliderlab.physics.sm_events import _fresh_pythia

    py = _fresh_pythia(pythia_settings(process, CONFIG))
    masses = {
        "a_4l": (25, 50.0),
        "h0_tautau": (25, 60.0),
        "lq_btau": (42, 80.0),
        "hpm_taunu": (37, 60.0),
    }
    if process in masses:
        pdg, m = masses[process]
        assert py.particleData.m0(pdg) == pytest.approx(m)


def test_trigger_needs_an_isolated_identified_lepton_above_threshold() -> None:
    # (pt, eta, phi, charge, pid): 4 = electron, 5 = muon, 1 = charged hadron
    events = [
        [(50.0, 0.0, 0.0, -1, 5)],  # isolated muon: fires; MET = 50 GeV opposite
        [(50.0, 0.0, 0.0, -1, 5), (20.0, 0.1, 0.0, 1, 1)],  # I_rel = 0.4: not isolated
        [(20.0, 0.0, 0.0, 1, 5)],  # isolated but below 23 GeV
        [(30.0, 1.0, 1.0, 1, 4)],  # isolated electron: fires
        [(50.0, 0.0, 0.0, 1, 1)],  # no lepton
        [(50.0, 2.7, 0.0, -1, 5)],  # outside |eta| < 2.5
    ]
    cols = {k: [] for k in ("px", "py", "pz", "E", "charge", "pid")}
    for ev in events:
        p4 = kin.from_ptetaphim(*(np.array([c[i] for c in ev]) for i in range(3)), 0.0)
        for k, i in (("E", 0), ("px", 1), ("py", 2), ("pz", 3)):
            cols[k].append(p4[:, i].tolist())
        cols["charge"].append([np.int8(c[3]) for c in ev])
        cols["pid"].append([np.int8(c[4]) for c in ev])
    cands = ak.zip({k: ak.Array(v) for k, v in cols.items()})
    n = len(events)
    prt = ak.zip(
        {
            "id": ak.Array([[2212]] * n),
            "p": ak.zip({c: ak.Array([[0.0]] * n) for c in ("px", "py", "pz", "e")}),
        }
    )
    reco = reconstruct_events(cands, prt, EventConfig(), np.random.default_rng(0))
    np.testing.assert_array_equal(reco["triggered"], [True, False, False, True, False, False])
    f = reco["features"]
    assert f[0, F["lep_pt"]] == pytest.approx(50.0, rel=1e-5)
    assert f[0, F["met_par"]] == pytest.approx(-50.0, rel=1e-5)
    assert f[0, F["mt"]] == pytest.approx(100.0, rel=1e-5)  # back to back: 2 pT MET (1 - cos pi)
    assert f[3, F["lep_is_ele"]] == 1.0 and f[0, F["lep_is_ele"]] == 0.0
    assert f[1, F["n_mu"]] == 0.0 and f[0, F["n_mu"]] == 1.0  # only isolated leptons counted
    assert reco["muons"][0, 0, 0] == pytest.approx(50.0, rel=1e-5) and reco["muons"][1, 0, 0] == 0.0


def test_trigger_matches_independent_isolation_on_pythia_events(samples) -> None:
    from colliderlab.physics.detector import lepton_isolation, load_card

    card = load_card(CONFIG.detector)
    for s in samples.values():
        cands = s["cands"]
        flat = ak.flatten(cands)
        p4 = np.stack([ak.to_numpy(flat[f]) for f in ("E", "px", "py", "pz")], axis=-1)
        pid = ak.to_numpy(flat.pid)
        evt = np.repeat(np.arange(len(cands)), ak.to_numpy(ak.num(cands)))
        lep = np.flatnonzero(
            ((pid == 4) | (pid == 5)) & (kin.pt(p4) > 23.0) & (np.abs(kin.eta(p4)) < 2.5)
        )
        iso = lepton_isolation(cands, lep, card.isolation)["isolated"]
        expected = np.zeros(len(cands), bool)
        expected[evt[lep[iso]]] = True
        np.testing.assert_array_equal(s["triggered"], expected)
        assert 0.05 < s["triggered"].mean() < 0.8
        assert np.isfinite(s["features"]).all()


def test_z_dilepton_mass_peaks_near_91_gev(samples) -> None:
    f = samples["z_ll"]["features"][samples["z_ll"]["triggered"]]
    m = np.concatenate([f[f[:, F["n_mu"]] == 2, F["m_mu"]], f[f[:, F["n_ele"]] == 2, F["m_ele"]]])
    assert len(m) >= 25
    assert 86.0 < np.median(m) < 96.0
    assert np.mean(np.abs(m - 91.2) < 10.0) > 0.6


def test_w_transverse_mass_has_its_jacobian_edge_near_80_gev(samples) -> None:
    mt = _triggered(samples["w_lnu"], "mt")
    assert len(mt) >= 40
    assert 50.0 < np.median(mt) < 85.0
    assert np.mean(mt > 100.0) < 0.1  # the edge: almost nothing above ~m_W
    assert np.mean((mt > 60.0) & (mt < 90.0)) > 0.4


def test_ttbar_has_more_jets_and_b_tags_than_w(samples) -> None:
    w, tt = samples["w_lnu"], samples["ttbar"]
    assert _triggered(tt, "n_jets").mean() > _triggered(w, "n_jets").mean() + 1.5
    assert _triggered(tt, "n_bjets").mean() > 0.8 > 0.2 > _triggered(w, "n_bjets").mean()
    # b-tagged jets of ttbar are mostly truth b jets
    jets = tt["jets"][tt["triggered"]].reshape(-1, 6)
    tagged = jets[:, 4] == 1
    assert np.mean(jets[tagged, 5] == 5) > 0.8


def test_generator_level_lepton_filter() -> None:
    prt = ak.zip(
        {
            "id": ak.Array([[11, 211], [13], [11], [-13]]),
            "status": ak.Array([[1, 1], [1], [-62], [1]]),  # event 2: not final state
            "p": ak.zip(
                {
                    "px": ak.Array([[25.0, 100.0], [15.0], [50.0], [0.5]]),
                    "py": ak.Array([[0.0, 0.0], [0.0], [0.0], [25.0]]),
                    "pz": ak.Array([[0.0, 0.0], [0.0], [0.0], [0.0]]),
                }
            ),
        }
    )
    np.testing.assert_array_equal(lepton_filter(prt, 20.0, 2.5), [True, False, False, True])


def test_chunks_are_reproducible() -> None:
    cfg = EventConfig(mpi=False, seed=3, chunk_events=60)
    a, b = event_chunk("z_ll", cfg, 0), event_chunk("z_ll", cfg, 0)
    np.testing.assert_array_equal(a["features"], b["features"])
    assert int(a["n_generated"]) == 60 == int(a["n_filtered"])
    assert a["sigma_gen_mb"] > 0
