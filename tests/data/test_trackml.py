"""The TrackML layout (arXiv:1904.06778): events written by pandas read back, our writes round-trip
(extra columns and .csv.gz too), bad files are named with what is wrong, and the scoring weights
follow the trackml-library definition (order proposal 10,8,6,5,3,3,3,5,6; pT weight 0.2 -> 1)."""

from __future__ import annotations

import gzip

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from colliderlab.data.errors import DataFormatError
from colliderlab.data.trackml import (
    TrackMLEvent,
    hit_weights,
    list_events,
    read_detectors,
    read_event,
    write_detectors,
    write_event,
)

RADII_MM = (32.0, 72.0, 116.0, 172.0, 260.0)  # barrel layers, volume 8, layer_id 2, 4, ...
BIG_ID = 2**60  # TrackML particle ids exceed 2**53: they must stay exact int64


def make_event(seed: int = 1, n_particles: int = 6, n_noise: int = 5) -> TrackMLEvent:
    """Straight tracks from a smeared vertex through the five barrel layers, plus noise hits."""
    rng = np.random.default_rng(seed)
    pid = BIG_ID + np.arange(1, n_particles + 1) * 1000 + 7
    phi = rng.uniform(-np.pi, np.pi, n_particles)
    eta = rng.uniform(-1.0, 1.0, n_particles)
    pt = rng.uniform(0.3, 5.0, n_particles)
    vz = rng.normal(0.0, 5.0, n_particles)
    rows = []
    for i in range(n_particles):
        for j, r in enumerate(RADII_MM):
            x, y, z = r * np.cos(phi[i]), r * np.sin(phi[i]), vz[i] + r * np.sinh(eta[i])
            rows.append(
                (
                    pid[i],
                    2 * (j + 1),
                    x,
                    y,
                    z,
                    pt[i] * np.cos(phi[i]),
                    pt[i] * np.sin(phi[i]),
                    pt[i] * np.sinh(eta[i]),
                )
            )
    for _ in range(n_noise):
        r, ph = RADII_MM[rng.integers(len(RADII_MM))], rng.uniform(-np.pi, np.pi)
        rows.append(
            (
                0,
                2 * (RADII_MM.index(r) + 1),
                r * np.cos(ph),
                r * np.sin(ph),
                rng.uniform(-300, 300),
                0.0,
                0.0,
                0.0,
            )
        )
    rows = [rows[k] for k in rng.permutation(len(rows))]
    n = len(rows)
    arr = np.array([r[2:] for r in rows], dtype=float)
    hit_id = np.arange(1, n + 1, dtype=np.int64)
    layer = np.array([r[1] for r in rows], dtype=np.int64)
    hits = pd.DataFrame(
        {
            "hit_id": hit_id,
            "x": arr[:, 0] + rng.normal(0, 0.01, n),
            "y": arr[:, 1],
            "z": arr[:, 2] + rng.normal(0, 0.05, n),
            "volume_id": np.full(n, 8, dtype=np.int64),
            "layer_id": layer,
            "module_id": ((np.arctan2(arr[:, 1], arr[:, 0]) + np.pi) // 0.2).astype(np.int64) + 1,
        }
    )
    n_cells = rng.integers(1, 4, n)
    cells = pd.DataFrame(
        {
            "hit_id": np.repeat(hit_id, n_cells),
            "ch0": rng.integers(0, 1000, n_cells.sum()),
            "ch1": rng.integers(0, 1000, n_cells.sum()),
            "value": rng.uniform(0, 1, n_cells.sum()),
        }
    )
    particles = pd.DataFrame(
        {
            "particle_id": pid,
            "vx": rng.normal(0, 0.01, n_particles),
            "vy": np.zeros(n_particles),
            "vz": vz,
            "px": pt * np.cos(phi),
            "py": pt * np.sin(phi),
            "pz": pt * np.sinh(eta),
            "q": rng.choice([-1, 1], n_particles).astype(np.int64),
            "nhits": np.full(n_particles, len(RADII_MM), dtype=np.int64),
            "pdg": rng.choice([211, -211, 13], n_particles).astype(np.int64),  # extra columns
            "parent_id": np.zeros(n_particles, dtype=np.int64),
            "subevent": np.arange(n_particles) % 2,
        }
    )
    truth = pd.DataFrame(
        {
            "hit_id": hit_id,
            "particle_id": np.array([r[0] for r in rows], dtype=np.int64),
            "tx": arr[:, 0],
            "ty": arr[:, 1],
            "tz": arr[:, 2],
            "tpx": arr[:, 3],
            "tpy": arr[:, 4],
            "tpz": arr[:, 5],
            "weight": np.full(n, 1.0 / n),
        }
    )
    return TrackMLEvent(hits, cells, particles, truth)


def write_with_pandas(event: TrackMLEvent, directory, event_id: int) -> None:
    for part in ("hits", "cells", "particles", "truth"):
        getattr(event, part).to_csv(directory / f"event{event_id:09d}-{part}.csv", index=False)


def assert_events_equal(a: TrackMLEvent, b: TrackMLEvent) -> None:
    for part in ("hits", "cells", "particles", "truth"):
        assert_frame_equal(getattr(a, part), getattr(b, part), check_exact=True)


def test_reads_an_event_written_by_pandas(tmp_path):
    event = make_event()
    write_with_pandas(event, tmp_path, 21000)
    back = read_event(tmp_path, 21000)
    assert_events_equal(back, event)
    assert back.n_hits == 6 * 5 + 5
    assert (back.particles["particle_id"] > 2**53).all()
    assert list_events(tmp_path) == [21000]


@pytest.mark.parametrize("compress", [False, True])
def test_write_read_round_trip_keeps_extra_columns(tmp_path, compress):
    event = make_event(seed=2)
    event.particles = event.particles[["pdg", *event.particles.columns.drop("pdg")]]  # extra first
    written = write_event(event, tmp_path, 7, compress=compress)
    suffix = ".csv.gz" if compress else ".csv"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        f"event000000007-{part}{suffix}" for part in ("hits", "cells", "particles", "truth")
    )
    assert set(written) == {"hits", "cells", "particles", "truth"}
    if compress:
        assert gzip.open(written["hits"], "rt").readline().startswith("hit_id,x,y,z")
    back = read_event(tmp_path, 7)
    # required columns first, extras after them, values exact
    assert list(back.particles.columns) == [
        "particle_id",
        "vx",
        "vy",
        "vz",
        "px",
        "py",
        "pz",
        "q",
        "nhits",
        "pdg",
        "parent_id",
        "subevent",
    ]
    assert_frame_equal(back.particles, event.particles[back.particles.columns], check_exact=True)
    for part in ("hits", "cells", "truth"):
        assert_frame_equal(getattr(back, part), getattr(event, part), check_exact=True)
    # rewriting with the other compression leaves one file set
    write_event(event, tmp_path, 7, compress=not compress)
    assert len(list(tmp_path.iterdir())) == 4 and list_events(tmp_path) == [7]


def test_challenge_test_event_has_only_hits_and_cells(tmp_path):
    event = make_event()
    write_event(TrackMLEvent(event.hits, event.cells), tmp_path, 3)
    back = read_event(tmp_path, 3, parts=("hits", "cells"))
    assert back.particles is None and back.truth is None
    assert_frame_equal(back.cells, event.cells)
    with pytest.raises(DataFormatError, match="event000000003-particles.csv"):
        read_event(tmp_path, 3)


def test_write_fills_missing_weights_and_keeps_given_ones(tmp_path):
    event = make_event(seed=3)
    given = event.truth["weight"].to_numpy().copy()
    write_event(event, tmp_path, 1)
    assert np.array_equal(read_event(tmp_path, 1).truth["weight"].to_numpy(), given)

    event.truth = event.truth.drop(columns="weight")
    write_event(event, tmp_path, 2)
    assert "weight" not in event.truth.columns  # the caller's frame is untouched
    w = read_event(tmp_path, 2).truth.set_index("hit_id")["weight"]
    noise = event.truth.loc[event.truth["particle_id"] == 0, "hit_id"]
    assert w.sum() == pytest.approx(1.0) and (w[noise] == 0).all() and (w.drop(noise) > 0).all()

    event.particles = None
    with pytest.raises(ValueError, match="no particles"):
        write_event(event, tmp_path, 4)


def test_detectors_file(tmp_path):
    rng = np.random.default_rng(5)
    n = 12
    det = pd.DataFrame(
        {
            "volume_id": np.full(n, 8),
            "layer_id": np.repeat([2, 4, 6], 4),
            "module_id": np.tile(np.arange(1, 5), 3),
        }
    )
    for c in (
        "cx",
        "cy",
        "cz",
        *(f"rot_{a}{b}" for a in "xyz" for b in "uvw"),
        "module_t",
        "module_minhu",
        "module_maxhu",
        "module_hv",
        "pitch_u",
        "pitch_v",
    ):
        det[c] = rng.normal(size=n)
    det.to_csv(tmp_path / "detectors.csv", index=False)
    assert_frame_equal(read_detectors(tmp_path / "detectors.csv"), det, check_exact=True)
    write_detectors(det, tmp_path / "again.csv.gz")
    assert_frame_equal(read_detectors(tmp_path / "again.csv.gz"), det, check_exact=True)
    det.drop(columns="pitch_v").to_csv(tmp_path / "short.csv", index=False)
    with pytest.raises(DataFormatError, match="pitch_v") as err:
        read_detectors(tmp_path / "short.csv")
    assert "short.csv" in str(err.value)


def test_hits_file_missing_a_column_is_named(tmp_path):
    event = make_event()
    write_with_pandas(event, tmp_path, 5)
    event.hits.drop(columns="volume_id").to_csv(tmp_path / "event000000005-hits.csv", index=False)
    with pytest.raises(DataFormatError) as err:
        read_event(tmp_path, 5)
    msg = str(err.value)
    assert "volume_id" in msg.split("requires")[0]  # named as missing
    assert "hit_id, x, y, z, volume_id, layer_id, module_id" in msg  # the required list
    assert err.value.path.endswith("event000000005-hits.csv")


def test_missing_file_is_named(tmp_path):
    write_with_pandas(make_event(), tmp_path, 5)
    (tmp_path / "event000000005-truth.csv").unlink()
    with pytest.raises(DataFormatError, match="event000000005-truth.csv") as err:
        read_event(tmp_path, 5)
    assert err.value.path == str(tmp_path / "event000000005-truth.csv")
    with pytest.raises(DataFormatError, match="event000000006-hits.csv"):
        read_event(tmp_path, 6)
    with pytest.raises(DataFormatError, match="nothing.csv"):
        read_detectors(tmp_path / "nothing.csv")


def test_nan_is_located(tmp_path):
    event = make_event()
    truth = event.truth.copy()
    truth.loc[7, "tz"] = np.nan
    write_with_pandas(event, tmp_path, 5)
    truth.to_csv(tmp_path / "event000000005-truth.csv", index=False)
    with pytest.raises(DataFormatError, match="truth") as err:
        read_event(tmp_path, 5)
    msg = str(err.value)
    assert "'tz'" in msg and "row 7" in msg and f"hit_id {truth.loc[7, 'hit_id']}" in msg

    hits = event.hits.astype(object)
    hits.loc[3, "layer_id"] = None  # an empty integer cell
    hits.to_csv(tmp_path / "event000000005-hits.csv", index=False)
    with pytest.raises(DataFormatError, match="'layer_id'.*row 3"):
        read_event(tmp_path, 5)

    hits.loc[3, "layer_id"] = "two"
    hits.to_csv(tmp_path / "event000000005-hits.csv", index=False)
    with pytest.raises(DataFormatError, match="'layer_id'.*'two'"):
        read_event(tmp_path, 5)


def test_event_without_hits_is_an_error(tmp_path):
    event = make_event()
    write_with_pandas(event, tmp_path, 5)
    event.hits.iloc[:0].to_csv(tmp_path / "event000000005-hits.csv", index=False)
    with pytest.raises(DataFormatError, match="has no hits"):
        read_event(tmp_path, 5, parts=("hits",))
    (tmp_path / "event000000005-hits.csv").write_text("")
    with pytest.raises(DataFormatError, match="no hits"):
        read_event(tmp_path, 5, parts=("hits",))
    with pytest.raises(DataFormatError, match="has no hits"):
        write_event(TrackMLEvent(event.hits.iloc[:0]), tmp_path, 9)


def test_truth_of_unknown_hit_is_an_error(tmp_path):
    event = make_event()
    event.truth.loc[0, "hit_id"] = 999
    with pytest.raises(DataFormatError, match="999"):
        event.validate()
    write_with_pandas(event, tmp_path, 5)
    with pytest.raises(DataFormatError, match="truth.*999"):
        read_event(tmp_path, 5)


# ---------------------------------------------------------------------------- scoring weights


def particle(pid: int, n: int, pt: float, vz: float = 0.0, first_hit: int = 1, seed: int = 0):
    """Truth rows of one particle with ``n`` hits at |tz - vz| = 10, 20, ... mm (rows shuffled),
    and its particles row (straight along +z, so the order is the distance)."""
    rng = np.random.default_rng(seed)
    dist = 10.0 * np.arange(1, n + 1)
    perm = rng.permutation(n)
    truth = pd.DataFrame(
        {
            "hit_id": first_hit + np.arange(n),
            "particle_id": pid,
            "tz": vz - dist[perm] if seed % 2 else vz + dist[perm],
        }
    )
    part = pd.DataFrame({"particle_id": [pid], "vz": [vz], "px": [pt], "py": [0.0], "pz": [1.0]})
    return truth, part, perm  # perm[k]: order index of row k


def test_weights_zero_for_noise_and_short_particles_and_sum_to_one():
    t1, p1, _ = particle(11, 6, 2.0, first_hit=1)
    t2, p2, _ = particle(12, 3, 10.0, first_hit=101)  # 3 hits: too short to count
    noise = pd.DataFrame({"hit_id": [201, 202], "particle_id": [0, 0], "tz": [5.0, -40.0]})
    stray = pd.DataFrame({"hit_id": [301], "particle_id": [99], "tz": [1.0]})  # not in particles
    truth = pd.concat([t1, noise, t2, stray], ignore_index=True)
    w = hit_weights(truth, pd.concat([p1, p2], ignore_index=True))
    assert w.shape == (len(truth),)
    assert w.sum() == pytest.approx(1.0, abs=1e-12)
    pid = truth["particle_id"].to_numpy()
    assert (w[pid == 0] == 0).all() and (w[pid == 12] == 0).all() and (w[pid == 99] == 0).all()
    assert (w[pid == 11] > 0).all()


def test_weights_follow_the_reference_order_table():
    # 9 hits: the proposal itself; 5 hits: the proposal's even points 10, 6, 3, 3, 6
    t9, p9, perm9 = particle(21, 9, 5.0, vz=25.0, first_hit=1, seed=1)
    t5, p5, perm5 = particle(22, 5, 3.5, vz=-40.0, first_hit=50, seed=2)
    w = hit_weights(pd.concat([t9, t5], ignore_index=True), pd.concat([p9, p5], ignore_index=True))
    nine = np.array([10, 8, 6, 5, 3, 3, 3, 5, 6]) / 49
    five = np.array([10, 6, 3, 3, 6]) / 28
    # both particles have pT >= 3 GeV (pT weight 1), so each carries half of the event's weight
    np.testing.assert_allclose(w[:9], nine[perm9] / 2, rtol=1e-12)
    np.testing.assert_allclose(w[9:], five[perm5] / 2, rtol=1e-12)


def test_weights_of_long_particles_stop_after_20_hits():
    t, p, perm = particle(31, 25, 4.0)
    w = hit_weights(t, p)
    assert (w[perm >= 20] == 0).all() and (w[perm < 20] > 0).all()
    assert w.sum() == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("pt", "ratio"), [(0.3, 1.0), (0.05, 1.0), (1.75, 3.0), (3.0, 5.0), (40.0, 5.0), (0.01, 0.0)]
)
def test_pt_weight_classes(pt, ratio):
    """Per hit at the same order index: weight(pT) / weight(0.2 GeV) = w_pt(pT) / 0.2 with w_pt 0.2
    up to 0.5 GeV, linear to 1 at 3 GeV, 1 above, and 0 below 0.05 GeV."""
    low_t, low_p, low_perm = particle(41, 6, 0.2, first_hit=1)
    t, p, perm = particle(42, 6, pt, first_hit=101)
    w = hit_weights(
        pd.concat([low_t, t], ignore_index=True), pd.concat([low_p, p], ignore_index=True)
    )
    by_order_low = w[:6][np.argsort(low_perm)]
    by_order = w[6:][np.argsort(perm)]
    np.testing.assert_allclose(by_order, ratio * by_order_low, rtol=1e-12)
