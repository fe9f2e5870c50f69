"""Tracking metrics: double-majority matching on hand-made tracks, the TrackML score (1 for the
truth, ~0 for random labels, equal to a plain per-track loop of the trackml-library rule), and
efficiency / fake / duplicate rates counted by hand (arXiv:1904.06778, arXiv:2103.06995)."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd
import pytest

from colliderlab.data.trackml import hit_weights
from colliderlab.tracking.metrics import (
    efficiency_vs,
    match_tracks,
    score_event,
    tracking_performance,
)

# particle -> (number of hits, pT in GeV)
HAND = {101: (5, 2.0), 102: (5, 0.5), 103: (4, 3.0), 104: (6, 5.0), 105: (5, 1.5), 106: (5, 0.8)}


def hand_event():
    """Truth, particles and a submission with one track of each kind (hits named like 'a0')."""
    names, pids = [], []
    for letter, (pid, (n, _)) in zip("abcdef", HAND.items(), strict=True):
        names += [f"{letter}{i}" for i in range(n)]
        pids += [pid] * n
    names += ["n0", "n1", "n2", "n3"]
    pids += [0] * 4
    hit_id = {name: 10 * k + 3 for k, name in enumerate(names)}
    rng = np.random.default_rng(7)
    truth = pd.DataFrame(
        {
            "hit_id": list(hit_id.values()),
            "particle_id": pids,
            "weight": rng.uniform(0.5, 1.5, len(names)),
        }
    )
    particles = pd.DataFrame(
        {"particle_id": list(HAND), "px": [pt for _, pt in HAND.values()], "py": 0.0, "pz": 1.0}
    )
    tracks = {
        1: "a0 a1 a2 a3 a4",  # pure and complete
        2: "b0 b1 b2 n0",  # 3 of B's 5 hits + noise: purity 3/4, fraction 3/5 -> match
        3: "c0 c1",  # exactly half of C: purity 1 but fraction 1/2 -> no match
        4: "d0 d1 d2",  # D split in two halves: neither matches
        5: "d3 d4 d5",
        6: "e0 e1 e2 f0 f1 f2",  # two particles 3 + 3: majority E (smaller id), purity 1/2
        7: "e3 e4 f3",  # purity 2/3, fraction 2/5
        8: "n1 n2 n3",  # only noise: a fake
    }
    rows = [(hit_id[h], t) for t, hs in tracks.items() for h in hs.split()]
    rows.append((hit_id["c3"], -1))  # unassigned; c2 and f4 are absent
    submission = pd.DataFrame(rows, columns=["hit_id", "track_id"])
    return truth, particles, submission, hit_id


def test_double_majority_on_hand_made_tracks():
    truth, _, submission, _ = hand_event()
    m = match_tracks(truth, submission).set_index("track_id")
    assert list(m.index) == [1, 2, 3, 4, 5, 6, 7, 8]  # -1 is no track
    assert m["n_hits"].tolist() == [5, 4, 2, 3, 3, 6, 3, 3]
    assert m["particle_id"].tolist() == [101, 102, 103, 104, 104, 105, 105, 0]
    assert m["n_majority"].tolist() == [5, 3, 2, 3, 3, 3, 2, 3]
    assert m["particle_n_hits"].tolist() == [5, 5, 4, 6, 6, 5, 5, 4]
    assert m["purity"].tolist() == [1, 0.75, 1, 1, 1, 0.5, 2 / 3, 1]
    assert m["particle_fraction"].tolist() == [1, 0.6, 0.5, 0.5, 0.5, 0.6, 0.4, 0.75]
    assert m["double_majority"].tolist() == [True, True, False, False, False, False, False, True]
    assert m["single_majority"].tolist() == [True, True, True, True, True, False, True, True]


def test_score_counts_the_majority_hits_of_double_majority_tracks():
    truth, _, submission, hit_id = hand_event()
    w = truth.set_index("hit_id")["weight"]
    counted = [hit_id[h] for h in "a0 a1 a2 a3 a4 b0 b1 b2 n1 n2 n3".split()]
    assert score_event(truth, submission) == pytest.approx(w[counted].sum() / w.sum(), rel=1e-12)


def test_rates_counted_by_hand():
    truth, particles, submission, _ = hand_event()
    perf = tracking_performance(
        truth, particles, submission, pt_min=1.0, min_hits=5, min_track_hits=3
    )
    # reconstructable with pT >= 1, >= 5 hits: A, D, E (C has 4 hits); matched: A
    assert (perf.n_particles, perf.n_matched, perf.efficiency) == (3, 1, 1 / 3)
    # without the pT cut: A, B, D, E, F; matched A, B
    assert (perf.n_particles_all_pt, perf.n_matched_all_pt) == (5, 2)
    assert perf.efficiency_all_pt == 2 / 5
    # tracks with >= 3 hits: 1, 2, 4, 5, 6, 7, 8; fakes: 6 (purity 1/2) and 8 (noise)
    assert (perf.n_tracks, perf.n_fake, perf.fake_rate) == (7, 2, 2 / 7)
    # the other five: A, B, D, D, E -> one duplicate
    assert (perf.n_duplicates, perf.duplicate_rate) == (1, 1 / 5)
    assert perf.score == score_event(truth, submission)
    assert perf.as_dict()["fake_rate"] == 2 / 7

    loose = tracking_performance(
        truth, particles, submission, pt_min=0.0, min_hits=4, min_track_hits=2
    )
    assert (loose.n_particles, loose.n_matched) == (6, 2)  # C counts now, still unmatched
    assert (loose.n_tracks, loose.n_fake, loose.n_duplicates) == (8, 2, 1)


def test_efficiency_vs_pt_and_eta():
    truth, particles, submission, _ = hand_event()
    eff = efficiency_vs(truth, particles, submission, [0.0, 1.0, 10.0], variable="pt")
    # pT < 1: B (matched), F; 1 <= pT <= 10: A (matched), D, E
    assert eff["n_particles"].tolist() == [2, 3] and eff["n_matched"].tolist() == [1, 1]
    np.testing.assert_allclose(eff["efficiency"], [1 / 2, 1 / 3])
    np.testing.assert_allclose(eff["uncertainty"], [np.sqrt(0.25 / 2), np.sqrt(2 / 9 / 3)])
    # eta = asinh(pz / pT), pz = 1: A 0.48, D 0.20, E 0.63 (pT >= 1 GeV by default)
    by_eta = efficiency_vs(truth, particles, submission, [0.0, 0.3, 0.55, 1.0], variable="eta")
    assert by_eta["n_particles"].tolist() == [1, 1, 1]
    assert by_eta["n_matched"].tolist() == [0, 1, 0]


def test_unassigned_convention():
    truth, _, submission, _ = hand_event()
    shifted = submission.assign(
        track_id=np.where(submission["track_id"] == 1, 0, submission["track_id"])
    )
    assert 0 in match_tracks(truth, shifted)["track_id"].tolist()
    zero_unassigned = match_tracks(truth, shifted, min_track_id=1)
    assert 0 not in zero_unassigned["track_id"].tolist() and len(zero_unassigned) == 7
    nan_ids = submission.assign(track_id=submission["track_id"].where(submission["track_id"] != 8))
    assert 8 not in match_tracks(truth, nan_ids)["track_id"].tolist()


def big_event(n_particles: int = 200, n_hits: int = 10, n_noise: int = 300, seed: int = 11):
    rng = np.random.default_rng(seed)
    pid = np.arange(1, n_particles + 1) * 17 + 4_000_000_000
    hit_pid = np.r_[np.repeat(pid, n_hits), np.zeros(n_noise, dtype=np.int64)]
    vz = rng.normal(0, 20, n_particles)
    tz = np.r_[
        (vz[:, None] + np.arange(1, n_hits + 1) * rng.uniform(5, 50, (n_particles, 1))).ravel(),
        rng.uniform(-500, 500, n_noise),
    ]
    perm = rng.permutation(len(hit_pid))
    truth = pd.DataFrame(
        {"hit_id": rng.permutation(len(hit_pid)) + 1, "particle_id": hit_pid[perm], "tz": tz[perm]}
    )
    pt = rng.exponential(1.5, n_particles)
    particles = pd.DataFrame(
        {"particle_id": pid, "vz": vz, "px": pt, "py": 0.0, "pz": rng.normal(0, 2, n_particles)}
    )
    truth["weight"] = hit_weights(truth, particles)
    return truth, particles


def test_score_of_the_truth_is_one_and_of_random_labels_about_zero():
    truth, particles = big_event()
    perfect = pd.DataFrame({"hit_id": truth["hit_id"], "track_id": truth["particle_id"]})
    assert score_event(truth, perfect) == pytest.approx(1.0, abs=1e-12)
    # noise hits left out, or each its own track: still 1
    alone = perfect.assign(
        track_id=np.where(
            perfect["track_id"] == 0, 10**12 + np.arange(len(perfect)), perfect["track_id"]
        )
    )
    assert score_event(truth, alone) == pytest.approx(1.0, abs=1e-12)
    assert score_event(truth, perfect[perfect["track_id"] != 0]) == pytest.approx(1.0, abs=1e-12)
    rng = np.random.default_rng(3)
    random = pd.DataFrame({"hit_id": truth["hit_id"], "track_id": rng.integers(0, 200, len(truth))})
    assert 0.0 <= score_event(truth, random) < 0.05
    perf = tracking_performance(truth.drop(columns="weight"), particles, alone)
    assert perf.efficiency == 1.0 and perf.fake_rate == 0.0 and perf.duplicate_rate == 0.0
    assert perf.score == pytest.approx(1.0, abs=1e-12)
    # all noise hits in one track: a fake
    assert tracking_performance(truth, particles, perfect).n_fake == 1


def loop_score(truth: pd.DataFrame, submission: pd.DataFrame) -> float:
    """The trackml-library rule as a plain loop: majority = most hits (ties: smallest id)."""
    pid = dict(zip(truth["hit_id"], truth["particle_id"], strict=True))
    weight = dict(zip(truth["hit_id"], truth["weight"], strict=True))
    n_true = Counter(truth["particle_id"])
    total = 0.0
    for _, group in submission.groupby("track_id"):
        hits = list(group["hit_id"])
        counts = Counter(pid[h] for h in hits)
        best = min(counts, key=lambda p: (-counts[p], p))
        if 2 * counts[best] > len(hits) and 2 * counts[best] > n_true[best]:
            total += sum(weight[h] for h in hits if pid[h] == best)
    return total / truth["weight"].sum()


@pytest.mark.parametrize("p_move", [0.1, 0.3, 0.5])
def test_score_equals_a_per_track_loop(p_move):
    truth, _ = big_event(n_particles=60, seed=5)
    rng = np.random.default_rng(int(p_move * 10))
    track = truth["particle_id"].to_numpy().copy()
    moved = rng.random(len(track)) < p_move
    track[moved] = rng.choice(np.unique(track), moved.sum())  # move hits to other tracks
    split = rng.random(len(track)) < 0.2
    track[split] += 1  # split some tracks
    submission = pd.DataFrame({"hit_id": truth["hit_id"], "track_id": track})
    expected = loop_score(truth, submission)
    assert 0 < expected < 1
    assert score_event(truth, submission) == pytest.approx(expected, rel=1e-12)


def test_bad_submissions_are_refused_by_hit_id():
    truth, particles, submission, _ = hand_event()
    unknown = pd.concat([submission, pd.DataFrame({"hit_id": [99999], "track_id": [3]})])
    with pytest.raises(ValueError, match="not in truth: 99999"):
        score_event(truth, unknown)
    twice_id = int(submission["hit_id"].iloc[4])
    twice = pd.concat([submission, pd.DataFrame({"hit_id": [twice_id], "track_id": [5]})])
    with pytest.raises(ValueError, match=f"more than once: hit_id {twice_id}"):
        match_tracks(truth, twice)
    with pytest.raises(ValueError, match="more than once"):
        tracking_performance(truth, particles, twice)
    with pytest.raises(ValueError, match="track_id"):
        match_tracks(truth, submission.rename(columns={"track_id": "track"}))
    with pytest.raises(ValueError, match="weight"):
        score_event(truth.drop(columns="weight"), submission)
