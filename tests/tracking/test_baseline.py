"""The classical track-finding baseline: helix fits on simulated particles, track finding on the
ttbar fixture (efficiency, fakes, one track per hit), geometry-derived layer pairs, bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from colliderlab.physics.tracker import Tracker, tracker_card_from_dict
from colliderlab.tracking.baseline import (
    BaselineConfig,
    find_tracks,
    layer_pairs,
    layer_resolution,
    seed_layer_triplets,
)
from colliderlab.tracking.helixfit import arc_to_radius, fit_helix, helix_position
from colliderlab.tracking.layers import layers_from_detectors
from colliderlab.tracking.metrics import tracking_performance

RADII = (32, 72, 116, 172, 260, 360)


def _bare_tracker() -> Tracker:
    """Six pixel barrel layers without material, inefficiency or noise, in 2 T."""
    volumes = [
        {
            "id": 8 + i,
            "kind": "barrel",
            "technology": "pixel",
            "pitch_u": 0.05,
            "pitch_v": 0.05,
            "thickness": 0.15,
            "x0": 0.0,
            "efficiency": 1.0,
            "layers": [{"radius": r, "half_length": 1000, "n_phi": 8 + r // 8, "n_z": 10}],
        }
        for i, r in enumerate(RADII)
    ]
    card = {
        "name": "bare",
        "b_field": 2.0,
        "beam_pipe": {"radius": 20.0, "x0": 0.0},
        "envelope_radius": 1100.0,
        "envelope_half_length": 3000.0,
        "min_pt": 0.05,
        "noise_per_module": 0.0,
        "volumes": volumes,
    }
    return Tracker(tracker_card_from_dict(card))


def _muons(n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    pt, eta, phi = rng.uniform(2, 20, n), rng.uniform(-0.8, 0.8, n), rng.uniform(-np.pi, np.pi, n)
    px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)
    zero = np.zeros(n)
    return {
        "px": px,
        "py": py,
        "pz": pz,
        "E": np.sqrt(px**2 + py**2 + pz**2 + 0.10566**2),
        "pdg": np.full(n, 13),
        "charge": rng.choice([-1.0, 1.0], n),
        "vx": zero,
        "vy": zero,
        "vz": rng.normal(0, 50, n),
    }


def _by_particle(event, columns: tuple[str, ...]) -> tuple[np.ndarray, ...]:
    """``(P, K)`` arrays of ``columns`` of the truth, K hits per particle (all have K)."""
    truth = event.truth.sort_values(["particle_id", "hit_id"])
    counts = truth.particle_id.value_counts()
    assert counts.nunique() == 1, "every muon should cross every layer once"
    return tuple(truth[c].to_numpy().reshape(len(counts), -1) for c in columns)


def test_fit_helix_recovers_simulated_helices():
    tracker, rng = _bare_tracker(), np.random.default_rng(3)
    event = tracker.simulate(_muons(40, rng), seed=5)
    x, y, z, tpx, tpy = _by_particle(event, ("tx", "ty", "tz", "tpx", "tpy"))
    parts = event.particles.sort_values("particle_id")
    fit = fit_helix(x, y, z, 2.0)
    first = np.argmin(np.hypot(x, y), axis=1)
    pt_first = np.hypot(tpx, tpy)[np.arange(len(x)), first]
    np.testing.assert_allclose(fit.pt, pt_first, rtol=1e-3)
    np.testing.assert_array_equal(fit.charge, parts.q.to_numpy())
    np.testing.assert_allclose(fit.z0, parts.vz.to_numpy(), atol=0.05)
    np.testing.assert_allclose(fit.d0, 0.0, atol=0.05)
    # the fitted helix passes through the hits: extrapolate to each hit's radius
    s = arc_to_radius(fit.rho[:, None], fit.d0[:, None], np.hypot(x, y))
    px, py, pz = helix_position(
        *(v[:, None] for v in (fit.rho, fit.phi0, fit.d0, fit.z0, fit.cot_theta)), s
    )
    assert np.abs(np.hypot(px - x, py - y)).max() < 0.01 and np.abs(pz - z).max() < 0.01
    # measured (digitised) hits: pT to 2 %; one track alone gives 0-d results
    hits = event.hits.set_index("hit_id").loc[
        event.truth.sort_values(["particle_id", "hit_id"]).hit_id
    ]
    hx, hy, hz = (hits[c].to_numpy().reshape(x.shape) for c in ("x", "y", "z"))
    measured = fit_helix(hx, hy, hz, 2.0, sigma_rphi=0.015, sigma_z=0.015)
    assert np.median(np.abs(measured.pt / pt_first - 1)) < 0.02
    one = fit_helix(hx[0], hy[0], hz[0], 2.0)
    assert np.ndim(one.pt) == 0 and one.charge == parts.q.iloc[0]


def test_fit_helix_rejects_bad_shapes():
    with pytest.raises(ValueError, match="at least 3 hits"):
        fit_helix([1.0, 2.0], [0.0, 0.1], [0.0, 1.0], 2.0)
    with pytest.raises(ValueError, match="shape"):
        fit_helix(np.zeros(4), np.zeros(5), np.zeros(4), 2.0)


@pytest.fixture(scope="module")
def geometry(ttbar_sample):
    _, tracker, _ = ttbar_sample
    detectors = tracker.detectors()
    return tracker, detectors, layers_from_detectors(detectors)


def test_layer_pairs_follow_the_geometry(geometry):
    _, detectors, layers = geometry
    pairs = layer_pairs(layers)
    reach = np.where(layers.barrel, layers.position, np.abs(layers.position))
    # inner to outer: radius grows along barrels, |z| along disks; never between the two ends
    same_kind = layers.barrel[pairs[:, 0]] == layers.barrel[pairs[:, 1]]
    assert (reach[pairs[same_kind, 1]] > reach[pairs[same_kind, 0]]).all()
    side = np.sign(np.where(layers.barrel, 0, layers.position))
    assert (side[pairs[:, 0]] * side[pairs[:, 1]] >= 0).all()
    # the first pixel barrel layer is followed by the second; a pixel disk by the next one
    index = {
        (v, la): i for i, (v, la) in enumerate(zip(layers.volume_id, layers.layer_id, strict=True))
    }
    assert (index[(8, 2)], index[(8, 4)]) in set(map(tuple, pairs))
    assert (index[(9, 2)], index[(9, 4)]) in set(map(tuple, pairs))
    assert (index[(8, 2)], index[(17, 4)]) not in set(map(tuple, pairs))
    triplets = seed_layer_triplets(layers)
    assert {(a, b) for a, b, _ in triplets} <= set(map(tuple, pairs))
    sig_u, sig_c = layer_resolution(detectors, layers)
    assert sig_c[index[(17, 2)]] == pytest.approx(10.8 / np.sqrt(12)) and sig_u.max() < 0.05


def test_find_tracks_on_ttbar(ttbar_sample, geometry):
    _, _, events = ttbar_sample
    tracker, detectors, layers = geometry
    totals = np.zeros(4)
    for event in events:
        hits = event.hits[["hit_id", "x", "y", "z", "volume_id", "layer_id", "module_id"]]
        sub = find_tracks(hits, layers, tracker.card.b_field, detectors=detectors)
        assert sub.hit_id.tolist() == hits.hit_id.tolist()  # every hit once, in order
        assigned = sub[sub.track_id >= 0]
        sizes = assigned.track_id.value_counts()
        assert sizes.min() >= BaselineConfig().min_hits
        assert sorted(sizes.index) == list(range(len(sizes)))
        perf = tracking_performance(event.truth, event.particles, sub)
        totals += (perf.n_matched, perf.n_particles, perf.n_fake, perf.n_tracks)
    efficiency, fake_rate = totals[0] / totals[1], totals[2] / totals[3]
    # measured on these events: efficiency 0.994, fake rate 0
    assert efficiency >= 0.95, efficiency
    assert fake_rate <= 0.02, fake_rate


def test_find_tracks_bad_input(ttbar_sample, geometry):
    _, _, events = ttbar_sample
    tracker, _, layers = geometry
    hits = events[0].hits
    with pytest.raises(ValueError, match="layer_id"):
        find_tracks(hits.drop(columns="layer_id"), layers, 2.0)
    with pytest.raises(ValueError, match="no hits"):
        find_tracks(hits.iloc[:0], layers, 2.0)
    with pytest.raises(ValueError, match="b_field"):
        find_tracks(hits, layers, 0.0)
    with pytest.raises(ValueError, match="does not describe"):
        find_tracks(hits.assign(volume_id=99), layers, 2.0)
    with pytest.raises(ValueError, match="min_hits"):
        BaselineConfig(min_hits=2)


def test_find_tracks_without_detectors_finds_tracks(ttbar_sample, geometry):
    _, _, events = ttbar_sample
    tracker, _, layers = geometry
    event = events[0]
    sub = find_tracks(event.hits, layers, tracker.card.b_field)
    assert isinstance(sub, pd.DataFrame) and list(sub.columns) == ["hit_id", "track_id"]
    # every layer assumed to measure to 1 mm along z or r (0.985 with the detectors' pitches)
    assert tracking_performance(event.truth, event.particles, sub).efficiency > 0.9
