"""Tests of the parametric detector: card loading, statistics of the smearing, physics invariants."""

from __future__ import annotations

import dataclasses
import math

import awkward as ak
import numpy as np
import pytest
import yaml

from colliderlab import kinematics as kin
from colliderlab.jets import ParticleID, pid_from_pdg
from colliderlab.physics.detector import (
    CARDS,
    DetectorCard,
    apply_detector,
    card_from_dict,
    card_to_dict,
    load_card,
)

PION_MASS = 0.13957
MUON_MASS = 0.10566


# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------


def single_particles(
    n: int,
    pdg: int,
    charge: float,
    pt: float,
    eta: float = 0.3,
    mass: float = 0.0,
    vertex: tuple[float, float, float] = (0.0, 0.0, 0.0),
    phi: np.ndarray | float | None = None,
    per_event: int = 1,
) -> ak.Array:
    """``n`` identical particles (random phi unless given), ``per_event`` per event."""
    phi_ = (
        np.random.default_rng(123).uniform(-np.pi, np.pi, n)
        if phi is None
        else np.broadcast_to(phi, (n,))
    )
    p4 = kin.from_ptetaphim(np.full(n, pt), np.full(n, eta), phi_, mass)
    flat = ak.zip(
        {
            "px": p4[:, 1],
            "py": p4[:, 2],
            "pz": p4[:, 3],
            "E": p4[:, 0],
            "pdg": np.full(n, pdg, np.int32),
            "charge": np.full(n, charge),
            "vx": np.full(n, vertex[0]),
            "vy": np.full(n, vertex[1]),
            "vz": np.full(n, vertex[2]),
        }
    )
    return ak.unflatten(flat, np.full(n // per_event, per_event))


def flat_numpy(events: ak.Array, field: str) -> np.ndarray:
    return ak.to_numpy(ak.flatten(events[field]))


def p4_of(events: ak.Array) -> np.ndarray:
    """(n, 4) flat (E, px, py, pz) of all candidates."""
    return np.stack([flat_numpy(events, f) for f in ("E", "px", "py", "pz")], axis=-1)


def pythia_particles(n_events: int, seed: int) -> ak.Array:
    """Visible final-state particles of 14 TeV QCD dijet events (pTHat 500-700 GeV, MPI on)."""
    pythia8mc = pytest.importorskip("pythia8mc")
    py = pythia8mc.Pythia("", False)
    for s in [
        "Beams:eCM = 14000",
        "HardQCD:all = on",
        "PhaseSpace:pTHatMin = 500",
        "PhaseSpace:pTHatMax = 700",
        "Next:numberCount = 0",
        "Print:quiet = on",
        "Random:setSeed = on",
        f"Random:seed = {seed}",
    ]:
        py.readString(s)
    assert py.init()
    prt = py.nextBatch(n_events).prt
    fs = prt[prt.status > 0]
    flat_id = ak.to_numpy(ak.flatten(fs.id))
    ids = np.unique(flat_id)
    charges = np.array([py.particleData.charge(int(i)) for i in ids])
    charge = ak.unflatten(charges[np.searchsorted(ids, flat_id)], ak.num(fs))
    vtx = fs.vProd  # None for particles produced at the origin
    parts = ak.zip(
        {
            "px": fs.p.px,
            "py": fs.p.py,
            "pz": fs.p.pz,
            "E": fs.p.e,
            "pdg": fs.id,
            "charge": charge,
            "vx": ak.fill_none(vtx.px, 0.0),
            "vy": ak.fill_none(vtx.py, 0.0),
            "vz": ak.fill_none(vtx.pz, 0.0),
        }
    )
    apdg = abs(parts.pdg)
    return parts[(apdg != 12) & (apdg != 14) & (apdg != 16)]


@pytest.fixture(scope="module")
def qcd_events() -> ak.Array:
    return pythia_particles(50, seed=3)


def n_neutral(events: ak.Array) -> int:
    return int(
        ak.sum(
            (events.pid == int(ParticleID.PHOTON)) | (events.pid == int(ParticleID.NEUTRAL_HADRON))
        )
    )


def with_cells(card: DetectorCard, scale: float) -> DetectorCard:
    """The same card with every calorimeter cell ``scale`` times larger in eta and phi."""
    ecal, hcal = card.ecal, card.hcal
    return dataclasses.replace(
        card,
        ecal=dataclasses.replace(
            ecal, cell_eta=ecal.cell_eta * scale, cell_phi_count=round(ecal.cell_phi_count / scale)
        ),
        hcal=dataclasses.replace(
            hcal, cell_eta=hcal.cell_eta * scale, cell_phi_count=round(hcal.cell_phi_count / scale)
        ),
    )


# ---------------------------------------------------------------------------------------------
# Cards
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", CARDS)
def test_builtin_cards_load_and_round_trip(name: str, tmp_path) -> None:
    card = load_card(name)
    assert card.name == name
    assert load_card(card) is card
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(card_to_dict(card)))
    assert load_card(path) == card
    assert load_card(str(path)) == card
    assert card_from_dict(card_to_dict(card)) == card


def test_lhc_cards_differ_in_granularity() -> None:
    atlas, cms = load_card("atlas-like"), load_card("cms-like")
    assert cms.ecal.cell_eta < atlas.ecal.cell_eta and cms.ecal.cell_phi < atlas.ecal.cell_phi
    assert cms.hcal.cell_eta < atlas.hcal.cell_eta and cms.hcal.cell_phi < atlas.hcal.cell_phi
    assert atlas.ecal.cell_phi == pytest.approx(0.0245, abs=1e-4)
    assert cms.ecal.cell_phi == pytest.approx(0.01745, abs=1e-5)


def test_unknown_card_name_lists_valid_names() -> None:
    with pytest.raises(ValueError, match="unknown detector card 'delphes'") as err:
        load_card("delphes")
    for name in CARDS:
        assert name in str(err.value)


def test_missing_card_file_says_so(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_card(tmp_path / "nope.yaml")


def _write_card(tmp_path, data: dict) -> str:
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data))
    return str(path)


def test_unknown_yaml_key_names_file_and_key(tmp_path) -> None:
    data = card_to_dict(load_card("cms-like"))
    data["tracker"]["magnetic_field"] = 3.8
    path = _write_card(tmp_path, data)
    with pytest.raises(ValueError, match=r"key 'tracker\.magnetic_field': unknown key") as err:
        load_card(path)
    assert path in str(err.value)


def test_missing_yaml_key_names_file_and_key(tmp_path) -> None:
    data = card_to_dict(load_card("atlas-like"))
    del data["hcal"]["energy_min"]
    path = _write_card(tmp_path, data)
    with pytest.raises(ValueError, match=r"key 'hcal\.energy_min': missing key") as err:
        load_card(path)
    assert path in str(err.value)


def test_invalid_yaml_values_are_rejected(tmp_path) -> None:
    data = card_to_dict(load_card("atlas-like"))
    data["tracker"]["efficiency"]["muon"]["values"][0][1] = 1.5
    with pytest.raises(ValueError, match=r"tracker\.efficiency\.muon.*\[0, 1\]"):
        load_card(_write_card(tmp_path, data))
    data = card_to_dict(load_card("atlas-like"))
    data["ecal"]["cell_eta"] = "fine"
    with pytest.raises(ValueError, match=r"key 'ecal\.cell_eta': expected a number"):
        load_card(_write_card(tmp_path, data))


# ---------------------------------------------------------------------------------------------
# Output layout, determinism
# ---------------------------------------------------------------------------------------------


def test_output_layout_and_empty_events() -> None:
    parts = single_particles(6, 211, 1.0, 20.0, mass=PION_MASS, per_event=3)
    empty = parts[:0]
    parts = ak.concatenate([parts, ak.unflatten(ak.flatten(empty), [0])])  # a third, empty event
    out = apply_detector(parts, load_card("cms-like"), np.random.default_rng(0))
    assert len(out) == 3 and ak.num(out)[2] == 0
    dtypes = {f: str(out[f].layout.content.dtype) for f in out.fields}
    assert dtypes == {
        "px": "float64",
        "py": "float64",
        "pz": "float64",
        "E": "float64",
        "charge": "int8",
        "pid": "int8",
        "d0": "float32",
        "dz": "float32",
    }
    assert len(apply_detector(empty, load_card("cms-like"), np.random.default_rng(0))) == 0


@pytest.mark.parametrize("name", CARDS)
def test_same_seed_same_output(name: str, qcd_events: ak.Array) -> None:
    card = load_card(name)
    a = apply_detector(qcd_events[:10], card, np.random.default_rng(7))
    b = apply_detector(qcd_events[:10], card, np.random.default_rng(7))
    for field in a.fields:
        np.testing.assert_array_equal(flat_numpy(a, field), flat_numpy(b, field))
    if name != "ideal":
        c = apply_detector(qcd_events[:10], card, np.random.default_rng(8))
        assert not np.array_equal(flat_numpy(a, "px"), flat_numpy(c, "px"))


# ---------------------------------------------------------------------------------------------
# Physics on real events
# ---------------------------------------------------------------------------------------------


def test_ideal_card_keeps_every_particle_and_conserves_four_momentum(qcd_events: ak.Array) -> None:
    out = apply_detector(qcd_events, load_card("ideal"), np.random.default_rng(0))
    np.testing.assert_array_equal(ak.to_numpy(ak.num(out)), ak.to_numpy(ak.num(qcd_events)))
    sums_in = np.stack(
        [ak.to_numpy(ak.sum(qcd_events[f], axis=1)) for f in ("E", "px", "py", "pz")], -1
    )
    sums_out = np.stack([ak.to_numpy(ak.sum(out[f], axis=1)) for f in ("E", "px", "py", "pz")], -1)
    np.testing.assert_allclose(sums_out, sums_in, rtol=1e-12, atol=1e-9)
    # Same multiset of four-vectors, charges and particle ids per batch.
    p_in, p_out = p4_of(qcd_events), p4_of(out)
    order_in, order_out = np.lexsort(p_in.T), np.lexsort(p_out.T)
    np.testing.assert_allclose(p_out[order_out], p_in[order_in], rtol=1e-14, atol=1e-12)
    pid_in = pid_from_pdg(flat_numpy(qcd_events, "pdg"), flat_numpy(qcd_events, "charge"))
    np.testing.assert_array_equal(flat_numpy(out, "pid")[order_out], pid_in[order_in])
    np.testing.assert_array_equal(
        flat_numpy(out, "charge")[order_out], flat_numpy(qcd_events, "charge")[order_in]
    )


def test_neutral_multiplicity_falls_as_cells_get_coarser(qcd_events: ak.Array) -> None:
    # Inside the tracker acceptance, where the quoted granularities apply and jets live.
    # (Over |eta| < 5 the forward calorimeters' resolutions, not the cell size, dominate.)
    eta = np.arcsinh(qcd_events.pz / np.hypot(qcd_events.px, qcd_events.py))
    central = qcd_events[abs(eta) < 2.5]
    counts = {
        name: n_neutral(apply_detector(central, load_card(name), np.random.default_rng(1)))
        for name in CARDS
    }
    assert counts["ideal"] > counts["cms-like"] > counts["atlas-like"]
    # The granularity alone: the same card with 2x larger cells in eta and phi.
    cms = load_card("cms-like")
    coarse = n_neutral(apply_detector(central, with_cells(cms, 2.0), np.random.default_rng(1)))
    assert coarse < 0.97 * counts["cms-like"]


def test_displaced_decays_give_large_d0(qcd_events: ak.Array) -> None:
    out = apply_detector(qcd_events, load_card("cms-like"), np.random.default_rng(0))
    r_true = np.hypot(flat_numpy(qcd_events, "vx"), flat_numpy(qcd_events, "vy"))
    d0 = np.abs(flat_numpy(out, "d0")[flat_numpy(out, "charge") != 0])
    # Prompt tracks sit at the resolution (~0.01-1 mm from 100 to 0.1 GeV); displaced
    # K_S/Lambda/b/c daughters give a tail beyond 1 mm, a fraction of the truly displaced ones.
    assert np.median(d0) < 0.1
    frac_reco = np.mean(d0 > 1.0)
    frac_true = np.mean(r_true[flat_numpy(qcd_events, "charge") != 0] > 1.0)
    assert 0.5 * frac_true < frac_reco < frac_true


# ---------------------------------------------------------------------------------------------
# Tracker statistics on single particles
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "pt", "eta"),
    [
        ("atlas-like", 20.0, 0.3),
        ("cms-like", 20.0, 1.0),
        ("atlas-like", 150.0, 2.0),
        ("cms-like", 500.0, 0.3),
    ],
)
def test_track_pt_resolution_and_efficiency_match_card(name: str, pt: float, eta: float) -> None:
    card, n = load_card(name), 20_000
    out = apply_detector(
        single_particles(n, 211, 1.0, pt, eta, PION_MASS, per_event=100),
        card,
        np.random.default_rng(2),
    )
    tracks = ak.flatten(out[out.charge != 0])
    n_tracks = len(tracks)
    eff = card.tracker.efficiency.charged_hadron(np.array([pt]), np.array([eta]))[0]
    assert abs(n_tracks / n - eff) < 4 * math.sqrt(eff * (1 - eff) / n)

    ratio = np.hypot(ak.to_numpy(tracks.px), ak.to_numpy(tracks.py)) / pt
    sigma = card.tracker.resolution.charged_hadron(np.array([pt]), np.array([eta]))[0]
    assert abs(ratio.std() / sigma - 1) < 4 / math.sqrt(2 * n_tracks)
    assert abs(ratio.mean() - 1) < 4 * sigma / math.sqrt(n_tracks)
    # Direction kept, energy from the pion mass.
    p4 = np.stack([ak.to_numpy(tracks[f]) for f in ("E", "px", "py", "pz")], -1)
    np.testing.assert_allclose(kin.eta(p4), eta, atol=1e-9)
    np.testing.assert_allclose(kin.mass(p4), PION_MASS, rtol=1e-5)
    assert np.all(ak.to_numpy(tracks.pid) == ParticleID.CHARGED_HADRON)


@pytest.mark.parametrize(
    ("pt", "eta", "expected"),
    [(0.5, 0.3, 0.70), (0.5, 2.0, 0.60), (0.05, 0.3, 0.0), (5.0, 2.7, 0.0)],
)
def test_low_pt_and_forward_tracking_efficiency(pt: float, eta: float, expected: float) -> None:
    n = 10_000
    out = apply_detector(
        single_particles(n, -211, -1.0, pt, eta, PION_MASS, per_event=100),
        load_card("cms-like"),
        np.random.default_rng(3),
    )
    frac = int(ak.sum(out.charge == -1)) / n
    assert abs(frac - expected) <= 4 * math.sqrt(expected * (1 - expected) / n)


def test_muon_identification_and_no_calorimeter_deposit() -> None:
    card, n = load_card("atlas-like"), 10_000
    hard = apply_detector(
        single_particles(n, 13, -1.0, 30.0, 0.3, MUON_MASS, per_event=100),
        card,
        np.random.default_rng(4),
    )
    pid = flat_numpy(hard, "pid")
    assert np.all(flat_numpy(hard, "charge") == -1)  # no calorimeter candidates from muons
    eff = card.tracker.efficiency.muon(np.array([30.0]), np.array([0.3]))[0]
    id_eff = card.muon_id(np.array([30.0]), np.array([0.3]))[0]
    frac_mu = np.mean(pid == ParticleID.MUON) * len(pid) / n
    assert abs(frac_mu - eff * id_eff) < 4 * math.sqrt(eff * id_eff * (1 - eff * id_eff) / n)
    assert set(np.unique(pid)) == {ParticleID.CHARGED_HADRON, ParticleID.MUON}
    soft = apply_detector(
        single_particles(1000, 13, 1.0, 2.0, 0.3, MUON_MASS), card, np.random.default_rng(4)
    )
    assert np.all(
        flat_numpy(soft, "pid") == ParticleID.CHARGED_HADRON
    )  # below the muon-ID threshold


# ---------------------------------------------------------------------------------------------
# Impact parameters
# ---------------------------------------------------------------------------------------------


def test_impact_parameters_exact_with_ideal_card() -> None:
    phi = np.array([np.pi / 2, 0.0, np.pi / 4])
    parts = single_particles(
        3, 211, 1.0, 10.0, eta=0.5, mass=PION_MASS, vertex=(1.0, 1.0, 2.0), phi=phi, per_event=3
    )
    out = apply_detector(parts, load_card("ideal"), np.random.default_rng(0))
    pz_over_pt = math.sinh(0.5)
    # Along +y from (1, 1): d0 = +1, closest approach at (1, 0); along +x: d0 = -1, at (0, 1);
    # along the diagonal: the line passes through the beam line.
    np.testing.assert_allclose(flat_numpy(out, "d0"), [1.0, -1.0, 0.0], atol=1e-6)
    np.testing.assert_allclose(
        flat_numpy(out, "dz"),
        [2.0 - pz_over_pt, 2.0 - pz_over_pt, 2.0 - math.sqrt(2) * pz_over_pt],
        atol=1e-6,
    )


def test_displaced_tracks_have_large_d0_prompt_ones_at_resolution() -> None:
    card, n, pt = load_card("cms-like"), 5000, 10.0
    sigma_d0 = card.tracker.d0_resolution.sigma_mm(np.array([pt]))[0]
    sigma_dz = card.tracker.dz_resolution.sigma_mm(np.array([pt]))[0]
    along_y = np.full(n, np.pi / 2)
    displaced = single_particles(
        n, 211, 1.0, pt, 0.0, PION_MASS, vertex=(1.0, 0.0, 0.0), phi=along_y, per_event=50
    )
    prompt = single_particles(n, 211, 1.0, pt, 0.0, PION_MASS, phi=along_y, per_event=50)
    d_out = apply_detector(displaced, card, np.random.default_rng(5))
    p_out = apply_detector(prompt, card, np.random.default_rng(5))
    d0_disp = flat_numpy(d_out, "d0")[flat_numpy(d_out, "charge") != 0]
    d0_prompt = flat_numpy(p_out, "d0")[flat_numpy(p_out, "charge") != 0]
    dz_prompt = flat_numpy(p_out, "dz")[flat_numpy(p_out, "charge") != 0]
    assert abs(d0_disp.mean() - 1.0) < 4 * sigma_d0 / math.sqrt(len(d0_disp))
    assert abs(np.abs(d0_prompt).mean()) < 5 * sigma_d0
    for values, sigma in ((d0_disp - 1.0, sigma_d0), (d0_prompt, sigma_d0), (dz_prompt, sigma_dz)):
        assert abs(values.std() / sigma - 1) < 4 / math.sqrt(2 * len(values))


# ---------------------------------------------------------------------------------------------
# Calorimeter
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "energy"),
    [("cms-like", 4.0), ("cms-like", 50.0), ("atlas-like", 10.0), ("atlas-like", 300.0)],
)
def test_photon_energy_resolution_matches_card(name: str, energy: float) -> None:
    card, n, eta = load_card(name), 20_000, 0.31  # not on a cell edge
    pt = energy / math.cosh(eta)
    out = apply_detector(single_particles(n, 22, 0.0, pt, eta), card, np.random.default_rng(6))
    assert np.all(ak.to_numpy(ak.num(out)) == 1)  # far above threshold: one ECAL cell per photon
    assert np.all(flat_numpy(out, "pid") == ParticleID.PHOTON)
    e_reco = flat_numpy(out, "E")
    res = card.ecal.resolution
    i = np.searchsorted(res.eta_edges, eta, side="right") - 1
    expected = math.sqrt(
        res.stochastic[i] ** 2 / energy + (res.noise[i] / energy) ** 2 + res.constant[i] ** 2
    )
    ratio = e_reco / energy
    assert abs(ratio.std() / expected - 1) < 4 / math.sqrt(2 * n)
    assert abs(ratio.mean() - 1) < 4 * expected / math.sqrt(n)
    # Massless, at the centre of its cell.
    p4 = p4_of(out)
    np.testing.assert_allclose(kin.mass(p4), 0.0, atol=1e-6 * energy)
    cell = card.ecal.cell_eta
    np.testing.assert_allclose(kin.eta(p4), (math.floor(eta / cell) + 0.5) * cell, atol=1e-9)


def test_cells_sum_deposits_within_an_event() -> None:
    # Two 20 GeV photons in one ATLAS-like ECAL cell (0.025 x 0.0245) merge; far apart they don't.
    card = dataclasses.replace(
        load_card("atlas-like"),
        ecal=dataclasses.replace(
            load_card("atlas-like").ecal,
            resolution=dataclasses.replace(
                load_card("atlas-like").ecal.resolution, stochastic=(0.0, 0.0), constant=(0.0, 0.0)
            ),
        ),
    )
    same = single_particles(2, 22, 0.0, 20.0, 0.31, phi=np.array([0.002, 0.006]), per_event=2)
    apart = single_particles(2, 22, 0.0, 20.0, 0.31, phi=np.array([0.002, 1.0]), per_event=2)
    out_same = apply_detector(same, card, np.random.default_rng(0))
    out_apart = apply_detector(apart, card, np.random.default_rng(0))
    assert ak.num(out_same).tolist() == [1] and ak.num(out_apart).tolist() == [2]
    np.testing.assert_allclose(flat_numpy(out_same, "E"), 2 * 20.0 * math.cosh(0.31), rtol=1e-12)
