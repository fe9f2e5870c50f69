"""The hit-level silicon tracker: helices, module geometry, loopers, material effects, secondaries,
efficiency and noise, and bad input."""

from __future__ import annotations

import numpy as np
import pytest

from colliderlab.configs import ConfigError
from colliderlab.physics.tracker import (
    Tracker,
    event_particles,
    load_tracker_card,
    tracker_card_from_dict,
)
from colliderlab.physics.tracker.conversions import convert_photons
from colliderlab.physics.tracker.digitize import local_coordinates
from colliderlab.physics.tracker.helix import curvature_radius, highland_theta0, scatter


def _card(layers=((32, 0.0), (72, 0.0), (116, 0.0), (172, 0.0), (260, 0.0), (360, 0.0)), *, efficiency=1.0,
          noise=0.0, pipe_x0=0.0, max_crossings=40):
    volumes = [
        {"id": 8 + i, "kind": "barrel", "technology": "pixel", "pitch_u": 0.05, "pitch_v": 0.05, "thickness": 0.15,
         "x0": x0, "efficiency": efficiency, "layers": [{"radius": r, "half_length": 1000, "n_phi": 8 + r // 8, "n_z": 10}]}
        for i, (r, x0) in enumerate(layers)
    ]
    return tracker_card_from_dict({"name": "test", "b_field": 2.0, "beam_pipe": {"radius": 20.0, "x0": pipe_x0},
                                   "envelope_radius": 1100.0, "envelope_half_length": 3000.0, "min_pt": 0.05,
                                   "max_crossings": max_crossings, "noise_per_module": noise, "volumes": volumes})


def _particles(pt, eta, phi, q, pdg=13):
    pt, eta, phi, q = np.broadcast_arrays(*(np.asarray(a, float) for a in (pt, eta, phi, q)))
    px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)
    m = 0.10566 if abs(pdg) == 13 else 0.13957
    zero = np.zeros_like(pt)
    return {"px": px, "py": py, "pz": pz, "E": np.sqrt(px**2 + py**2 + pz**2 + m**2), "pdg": np.full(len(pt), pdg),
            "charge": q, "vx": zero, "vy": zero, "vz": zero}


@pytest.fixture(scope="module")
def ttbar_event():
    card = load_tracker_card("trackml-like")
    tracker = Tracker(card)
    return tracker, tracker.simulate(event_particles("ttbar", 0, 7, beam_spot=card.beam_spot), seed=11)


def _circle_radius(x: np.ndarray, y: np.ndarray) -> float:
    """Algebraic (Kasa) circle fit: x^2 + y^2 + D x + E y + F = 0."""
    a = np.stack([x, y, np.ones_like(x)], axis=1)
    d, e, f = np.linalg.lstsq(a, -(x**2 + y**2), rcond=None)[0]
    return float(np.sqrt(d**2 / 4 + e**2 / 4 - f))


def test_curvature_radius_is_pt_over_0p3_b():
    # R[m] = pT[GeV] / (0.3 B[T]); the exact constant is 0.299792458
    assert curvature_radius(np.array(1.0), np.array(1.0), 2.0) / 1000 == pytest.approx(1 / (0.3 * 2), rel=1e-3)
    assert curvature_radius(np.array(3.0), np.array(-1.0), 4.0) == pytest.approx(3 / (0.299792458 * 4) * 1000)


def test_helix_conserves_pt_and_reaches_the_right_radius():
    tracker = Tracker(_card())
    pts, qs = np.array([0.5, 1.0, 5.0, 0.7]), np.array([1.0, -1.0, 1.0, -1.0])
    ev = tracker.simulate(_particles(pts, 0.3, [0.1, 1.0, 2.0, -2.5], qs), seed=1)
    truth = ev.truth.merge(ev.particles, on="particle_id")
    assert (truth.groupby("particle_id").size() == 6).all()  # one hit per layer, nothing lost
    for (_, grp), pt, q in zip(truth.groupby("particle_id"), pts, qs, strict=True):
        assert np.hypot(grp.tpx, grp.tpy).to_numpy() == pytest.approx(pt, rel=1e-9)
        assert _circle_radius(grp.tx.to_numpy(), grp.ty.to_numpy()) == pytest.approx(
            pt / (0.299792458 * 2.0) * 1000, rel=1e-6)
        # a positive charge turns clockwise seen from +z: the momentum's azimuth decreases
        phi = np.unwrap(np.arctan2(grp.tpy, grp.tpx).to_numpy()[np.argsort(np.hypot(grp.tx, grp.ty))])
        assert np.sign(phi[-1] - phi[0]) == -q


def test_hits_lie_on_their_modules(ttbar_event):
    tracker, ev = ttbar_event
    mods = tracker.modules
    det = tracker.detectors()
    assert len(det) == len(mods) and not det.duplicated(["volume_id", "layer_id", "module_id"]).any()
    index = {key: i for i, key in enumerate(zip(mods.volume, mods.layer, mods.module, strict=True))}
    m = np.array([index[k] for k in zip(ev.hits.volume_id, ev.hits.layer_id, ev.hits.module_id, strict=True)])
    for points in (ev.hits[["x", "y", "z"]].to_numpy(), ev.truth[["tx", "ty", "tz"]].to_numpy()):
        u, v, w = local_coordinates(points, m, mods)
        half_u = mods.min_hu[m] + (mods.max_hu[m] - mods.min_hu[m]) * (v + mods.hv[m]) / (2 * mods.hv[m])
        assert np.abs(w).max() < 1e-6
        assert (np.abs(v) <= mods.hv[m] + 1e-9).all() and (np.abs(u) <= half_u + 1e-9).all()
    barrel = ev.hits.volume_id.isin([8, 13, 17]).to_numpy()
    r = np.hypot(ev.hits.x, ev.hits.y).to_numpy()[barrel]
    radius = np.hypot(mods.centre[m[barrel], 0], mods.centre[m[barrel], 1])
    assert (r >= radius - 1e-6).all() and (r <= radius / np.cos(np.pi / 12) + 1e-6).all()
    # signal hits are measured to about a pitch of the true crossing: 50 um pixels, strips along u
    signal = (ev.truth.particle_id > 0).to_numpy()
    pix = signal & ev.hits.volume_id.isin([7, 8, 9]).to_numpy()
    res = np.linalg.norm(ev.hits[["x", "y", "z"]].to_numpy() - ev.truth[["tx", "ty", "tz"]].to_numpy(), axis=1)
    assert np.median(res[pix]) < 0.05


def test_loopers_curl_back_through_the_same_layers():
    # 2 R = 667 mm > 360 mm: out through the pipe and six layers, back in through the six
    tracker = Tracker(_card(max_crossings=13))
    ev = tracker.simulate(_particles([0.2], 0.05, 0.4, 1.0, pdg=211), seed=2)
    t = ev.truth
    radial = (t.tx * t.tpx + t.ty * t.tpy).to_numpy()
    assert (radial < 0).sum() == 6 and (radial > 0).sum() == 6
    assert (ev.hits.groupby("volume_id").size() == 2).all() and ev.hits.volume_id.nunique() == 6


def test_multiple_scattering_follows_highland():
    thin = Tracker(_card(layers=((100, 0.0), (300, 0.0))))
    thick = Tracker(_card(layers=((100, 0.05), (300, 0.0))))
    n = 3000
    rng = np.random.default_rng(0)
    parts = _particles(np.full(n, 1.0), 0.0, rng.uniform(-np.pi, np.pi, n), rng.choice([-1.0, 1.0], n))
    phis = []
    for tracker in (thin, thick):
        ev = tracker.simulate(parts, seed=3)
        outer = ev.truth[ev.hits.volume_id.to_numpy() == 9].sort_values("particle_id")
        assert len(outer) == n
        phis.append(np.arctan2(outer.tpy, outer.tpx).to_numpy())
    dphi = np.angle(np.exp(1j * (phis[1] - phis[0])))
    p = np.hypot(1.0, 0.0)
    theta0 = highland_theta0(np.array(p), np.array(p / np.hypot(p, 0.10566)), np.array(1.0), np.array(0.05))
    assert np.std(dphi) == pytest.approx(float(theta0), rel=0.08)
    # scatter() keeps |p| and gives each projected angle an RMS of theta0
    mom = np.tile([[0.0, 0.0, 2.0]], (20000, 1))
    out = scatter(mom, np.full(20000, 0.01), np.random.default_rng(1))
    assert np.linalg.norm(out, axis=1) == pytest.approx(2.0)
    assert np.std(np.arctan2(out[:, 0], out[:, 2])) == pytest.approx(0.01, rel=0.03)


def test_photons_convert_at_the_expected_rate_on_the_material():
    card = _card(layers=((32, 0.02), (72, 0.02), (116, 0.03)), pipe_x0=0.01)
    tracker = Tracker(card)
    n = 40000
    rng = np.random.default_rng(4)
    phi = rng.uniform(-np.pi, np.pi, n)
    mom = np.stack([10 * np.cos(phi), 10 * np.sin(phi), np.zeros(n)], axis=1)  # eta = 0: normal incidence
    conv = convert_photons(np.zeros((n, 3)), mom, tracker.surfaces, rng)
    expected = -np.expm1(-7 / 9 * (0.01 + 0.02 + 0.02 + 0.03))
    assert len(conv.photon) / n == pytest.approx(expected, abs=4 * np.sqrt(expected / n))
    assert set(np.round(np.hypot(conv.point[:, 0], conv.point[:, 1]), 6)) == {20.0, 32.0, 72.0, 116.0}
    assert (conv.fraction >= 0).all() and (conv.fraction <= 1).all() and abs(conv.fraction.mean() - 0.5) < 0.01


def test_conversion_pairs_and_v0_daughters_start_at_displaced_vertices(ttbar_event):
    _, ev = ttbar_event
    pa = ev.particles
    pairs = pa[pa.process == 1]
    assert len(pairs) > 0 and set(pairs.pdg.abs()) == {11}
    photons = pa.set_index("particle_id").loc[pairs.parent_id]
    assert (photons.pdg == 22).all() and (photons.q == 0).all()
    # each pair shares its photon's direction and does not exceed its energy
    p_pair = pairs.groupby("parent_id")[["px", "py", "pz"]].sum()
    p_gamma = pa.set_index("particle_id").loc[p_pair.index, ["px", "py", "pz"]]
    cos = (p_pair.to_numpy() * p_gamma.to_numpy()).sum(1) / (
        np.linalg.norm(p_pair.to_numpy(), axis=1) * np.linalg.norm(p_gamma.to_numpy(), axis=1))
    assert cos == pytest.approx(1.0)
    # Pythia's K0S/Lambda decays in flight: charged particles made far from the beam line, with hits
    r0 = np.hypot(pa.vx, pa.vy)
    displaced = pa[(r0 > 5) & (pa.process == 0) & (pa.q != 0) & (pa.nhits > 0)]
    assert len(displaced) >= 2
    hits = ev.truth.merge(displaced[["particle_id", "vx", "vy"]], on="particle_id")
    first = hits.assign(r=np.hypot(hits.tx, hits.ty)).groupby("particle_id").r.min()
    assert (first.to_numpy() >= np.hypot(displaced.vx, displaced.vy).to_numpy()[np.argsort(displaced.particle_id)] - 1e-6).mean() > 0.9


def test_efficiency_and_noise_rates():
    card = _card(efficiency=0.9, noise=0.5)
    tracker = Tracker(card)
    n = 2000
    rng = np.random.default_rng(5)
    ev = tracker.simulate(_particles(np.full(n, 2.0), rng.uniform(-0.5, 0.5, n), rng.uniform(-3, 3, n), 1.0), seed=6)
    signal = int((ev.truth.particle_id > 0).sum())
    assert signal / (6 * n) == pytest.approx(0.9, abs=4 * np.sqrt(0.09 / (6 * n)))
    n_noise = int((ev.truth.particle_id == 0).sum())
    mean = 0.5 * len(tracker.modules)
    assert abs(n_noise - mean) < 5 * np.sqrt(mean)
    assert (ev.particles.nhits.sum()) == signal
    assert ev.hits.hit_id.tolist() == list(range(1, len(ev.hits) + 1))
    assert set(ev.cells.hit_id) == set(ev.hits.hit_id)


def test_the_same_seed_gives_the_same_event():
    tracker = Tracker(load_tracker_card("trackml-like"))
    parts = event_particles("ttbar", 3, 9)
    a, b = tracker.simulate(parts, seed=4), tracker.simulate(parts, seed=4)
    assert a.hits.equals(b.hits) and a.truth.equals(b.truth)


def test_pileup_overlays_poisson_events_at_spread_vertices():
    card = load_tracker_card("trackml-like")
    parts = event_particles("ttbar", 0, 3, pileup_mu=40, beam_spot=card.beam_spot)
    n_pu = parts["subevent"].max()
    assert 20 <= n_pu <= 65
    z = np.array([np.median(parts["vz"][parts["subevent"] == k]) for k in range(n_pu + 1)])
    assert 20 < np.std(z) < 110  # the card's 55 mm spread


def test_a_card_without_layers_is_refused():
    with pytest.raises(ConfigError, match="no layers"):
        tracker_card_from_dict({"name": "empty", "volumes": []})
    with pytest.raises(ConfigError, match="volumes"):
        tracker_card_from_dict({"name": "typo", "volume": []})
    with pytest.raises(ValueError, match="trackml-like"):
        load_tracker_card("no-such-card")


def test_bad_particles_are_refused():
    tracker = Tracker(_card())
    parts = _particles([1.0, 2.0], 0.0, 0.0, 1.0)
    with pytest.raises(ValueError, match="charge"):
        tracker.simulate({k: v for k, v in parts.items() if k != "charge"}, seed=1)
    with pytest.raises(ValueError, match=r"particles\['pz'\] is NaN at rows \[1\]"):
        tracker.simulate({**parts, "pz": np.array([0.0, np.nan])}, seed=1)
    with pytest.raises(ValueError, match=r"particles\['vx'\] has shape"):
        tracker.simulate({**parts, "vx": np.zeros(3)}, seed=1)
