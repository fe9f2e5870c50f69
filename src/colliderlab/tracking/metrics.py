"""Tracking metrics on TrackML-layout events: the TrackML score, track-to-particle matching,
efficiency, fake and duplicate rates (pure numpy/pandas, vectorised with groupby).

Inputs are the DataFrames of :mod:`colliderlab.data.trackml` (arXiv:1904.06778):

- ``truth``: one row per hit, ``hit_id, particle_id`` (0 = noise), ``weight`` for the score.
- ``particles``: ``particle_id, px, py, pz`` (GeV) for the pT and eta selections.
- ``submission``: the reconstruction, ``hit_id, track_id``, every hit at most once. Hits absent
  from it, or whose ``track_id`` is NaN or below ``min_track_id`` (default 0: TrackML track ids are
  non-negative, so -1 marks an unassigned hit; pass ``min_track_id=1`` where 0 means unassigned),
  belong to no track.

Matching (TrackML, arXiv:1904.06778 sec. 3; Exa.TrkX, arXiv:2103.06995): a track's majority
particle is the particle with most hits in the track (ties: the smallest particle_id, as the
trackml-library's ``score.py`` picks it; a tied track is never a majority track). purity =
n_majority / n_hits of the track; particle fraction = n_majority / the particle's hits in truth.
Double majority: purity > 0.5 and particle fraction > 0.5.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

__all__ = [
    "TrackingPerformance",
    "efficiency_vs",
    "match_tracks",
    "score_event",
    "tracking_performance",
]

_TRACK_COLUMNS = (
    "track_id",
    "n_hits",
    "particle_id",
    "n_majority",
    "particle_n_hits",
    "purity",
    "particle_fraction",
    "double_majority",
    "single_majority",
)


def _some(values: np.ndarray, n: int = 10) -> str:
    text = ", ".join(str(v) for v in values[:n])
    return text + (f", ... ({len(values)} in all)" if len(values) > n else "")


def _require(df: pd.DataFrame, columns: tuple[str, ...], what: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(
            f"{what} lacks column(s) {', '.join(missing)} (needs {', '.join(columns)})"
        )


def _assigned_hits(
    truth: pd.DataFrame, submission: pd.DataFrame, min_track_id: int
) -> pd.DataFrame:
    """The submission's assigned hits with their truth: ``hit_id, track_id, particle_id[, weight]``.

    Raises ValueError for a submission hit that is not in truth or appears more than once."""
    _require(truth, ("hit_id", "particle_id"), "truth")
    _require(submission, ("hit_id", "track_id"), "submission")
    truth_ids = truth["hit_id"]
    dup = truth_ids[truth_ids.duplicated()].unique()
    if len(dup):
        raise ValueError(f"truth: hit_id(s) repeated: {_some(dup)}")
    ids = submission["hit_id"]
    dup = ids[ids.duplicated()].unique()
    if len(dup):
        raise ValueError(f"submission assigns hit(s) more than once: hit_id {_some(dup)}")
    unknown = ids[~ids.isin(truth_ids)].unique()
    if len(unknown):
        raise ValueError(f"submission has hit_id(s) not in truth: {_some(unknown)}")
    track = submission["track_id"]
    keep = (track.notna() & (track >= min_track_id)).to_numpy()
    hits = pd.DataFrame(
        {"hit_id": ids.to_numpy()[keep], "track_id": track.to_numpy()[keep].astype(np.int64)}
    )
    columns = ["hit_id", "particle_id"] + (["weight"] if "weight" in truth.columns else [])
    return hits.merge(truth[columns], on="hit_id", how="left", validate="one_to_one")


def match_tracks(
    truth: pd.DataFrame, submission: pd.DataFrame, *, min_track_id: int = 0
) -> pd.DataFrame:
    """One row per reconstructed track with its majority particle (definitions in the module doc).

    Args:
        truth: ``hit_id, particle_id`` per hit (``weight`` optional).
        submission: ``hit_id, track_id``; see the module doc for unassigned hits.
        min_track_id: track ids below it (and NaN) mark unassigned hits.

    Returns:
        Sorted by ``track_id``, columns ``track_id, n_hits, particle_id`` (majority particle; 0 when
        noise hits are the majority) ``, n_majority, particle_n_hits`` (the particle's hits in
        truth) ``, purity, particle_fraction, double_majority, single_majority`` (purity > 0.5),
        and ``majority_weight`` (summed truth weight of the track's majority hits over the event's
        total weight) when truth carries ``weight``.

    Raises:
        ValueError: missing columns, a submission hit not in truth or assigned twice.
    """
    hits = _assigned_hits(truth, submission, min_track_id)
    weighted = "weight" in hits.columns
    agg = {"n_majority": ("hit_id", "size")}
    if weighted:
        agg["majority_weight"] = ("weight", "sum")
    pairs = hits.groupby(["track_id", "particle_id"], sort=False).agg(**agg).reset_index()
    pairs["n_hits"] = pairs.groupby("track_id")["n_majority"].transform("sum")
    best = (
        pairs.sort_values(
            ["track_id", "n_majority", "particle_id"], ascending=[True, False, True], kind="stable"
        )
        .drop_duplicates("track_id", keep="first")
        .reset_index(drop=True)
    )
    counts = truth["particle_id"].value_counts()
    best["particle_n_hits"] = best["particle_id"].map(counts).astype(np.int64)
    n_maj, n_hits, n_part = (
        best[c].to_numpy(np.int64) for c in ("n_majority", "n_hits", "particle_n_hits")
    )
    best["purity"] = n_maj / np.maximum(n_hits, 1)
    best["particle_fraction"] = n_maj / np.maximum(n_part, 1)
    best["single_majority"] = 2 * n_maj > n_hits
    best["double_majority"] = best["single_majority"].to_numpy() & (2 * n_maj > n_part)
    columns = list(_TRACK_COLUMNS)
    if weighted:
        best["majority_weight"] = best["majority_weight"] / truth["weight"].sum()
        columns.append("majority_weight")
    return best[columns]


def score_event(truth: pd.DataFrame, submission: pd.DataFrame, *, min_track_id: int = 0) -> float:
    """The TrackML score of one event (arXiv:1904.06778 sec. 3; trackml-library ``score_event``).

    The summed truth ``weight`` of the hits shared by each double-majority track and its majority
    particle, divided by the event's total weight (1 for :func:`colliderlab.data.trackml.hit_weights`).
    A perfect reconstruction scores 1, random track labels about 0.

    Equal to the library's score; the library also turns every hit missing from the submission
    into a one-hit track, which matters only for a one-hit particle with non-zero weight (never
    with the TrackML weights, which are 0 below 4 hits).

    Raises:
        ValueError: truth without ``weight`` (or with NaN weights), or bad submission
            (:func:`match_tracks`).
    """
    _require(truth, ("hit_id", "particle_id", "weight"), "truth")
    if truth["weight"].isna().any():
        raise ValueError("truth: weight has NaN values (fill them with hit_weights)")
    tracks = match_tracks(truth, submission, min_track_id=min_track_id)
    return float(tracks.loc[tracks["double_majority"], "majority_weight"].sum())


def _particle_table(
    truth: pd.DataFrame, particles: pd.DataFrame, tracks: pd.DataFrame
) -> pd.DataFrame:
    """Per particle: ``particle_id, pt`` (GeV) ``, eta, n_hits`` (in truth) ``, matched`` (has a
    double-majority track)."""
    _require(particles, ("particle_id", "px", "py", "pz"), "particles")
    pid = particles["particle_id"]
    dup = pid[pid.duplicated()].unique()
    if len(dup):
        raise ValueError(f"particles: particle_id repeated: {_some(dup)}")
    px, py, pz = (particles[c].to_numpy(float) for c in ("px", "py", "pz"))
    pt = np.hypot(px, py)
    with np.errstate(divide="ignore", invalid="ignore"):
        eta = np.arcsinh(pz / pt)
    matched_ids = tracks.loc[
        tracks["double_majority"] & (tracks["particle_id"] != 0), "particle_id"
    ]
    n_hits = pid.map(truth["particle_id"].value_counts()).fillna(0).to_numpy(np.int64)
    return pd.DataFrame(
        {
            "particle_id": pid.to_numpy(),
            "pt": pt,
            "eta": eta,
            "n_hits": n_hits,
            "matched": pid.isin(matched_ids.unique()).to_numpy(),
        }
    )


def _ratio(num: int, den: int) -> float:
    return num / den if den else float("nan")


@dataclass(frozen=True)
class TrackingPerformance:
    """The summary of :func:`tracking_performance` (rates are NaN when their denominator is 0)."""

    efficiency: float
    n_particles: int
    n_matched: int
    efficiency_all_pt: float
    n_particles_all_pt: int
    n_matched_all_pt: int
    fake_rate: float
    n_tracks: int
    n_fake: int
    duplicate_rate: float
    n_duplicates: int
    score: float
    pt_min: float
    min_hits: int
    min_track_hits: int

    def as_dict(self) -> dict[str, float | int]:
        """The fields as a plain dict."""
        return asdict(self)


def tracking_performance(
    truth: pd.DataFrame,
    particles: pd.DataFrame,
    submission: pd.DataFrame,
    *,
    pt_min: float = 1.0,
    min_hits: int = 5,
    min_track_hits: int = 5,
    min_track_id: int = 0,
) -> TrackingPerformance:
    """Efficiency, fake rate, duplicate rate and score of a reconstruction of one event.

    - efficiency: among the reconstructable particles -- ``particle_id`` != 0, at least
      ``min_hits`` hits in truth, pT = hypot(px, py) >= ``pt_min`` GeV -- the fraction that is the
      majority particle of a double-majority track (the Exa.TrkX track efficiency for pT > 1 GeV,
      arXiv:2103.06995; TrackML matching, arXiv:1904.06778 / 2105.01160). ``efficiency_all_pt``:
      the same without the pT cut. Particles absent from ``particles`` are not counted.
    - fake rate: among tracks with at least ``min_track_hits`` hits, the fraction with purity <= 0.5
      or whose majority "particle" is noise (``particle_id`` 0).
    - duplicate rate: among those tracks that are not fake, the fraction whose majority particle has
      another such track (all but one per particle count).
    - score: :func:`score_event`; when truth has no ``weight`` column (or only NaN), the weights of
      :func:`colliderlab.data.trackml.hit_weights` (needs truth ``tz``, particles ``vz``).

    Args:
        truth: ``hit_id, particle_id[, weight, tz]`` per hit.
        particles: ``particle_id, px, py, pz`` (GeV) ``[, vz]``.
        submission: ``hit_id, track_id`` (module doc for unassigned hits and ``min_track_id``).
    """
    tracks = match_tracks(truth, submission, min_track_id=min_track_id)
    table = _particle_table(truth, particles, tracks)
    base = (table["particle_id"] != 0) & (table["n_hits"] >= min_hits)
    sel = base & (table["pt"] >= pt_min)
    big = tracks[tracks["n_hits"] >= min_track_hits]
    fake = ~big["single_majority"] | (big["particle_id"] == 0)
    good = big.loc[~fake, "particle_id"]
    n_dup = len(good) - good.nunique()
    if "weight" not in truth.columns or truth["weight"].isna().all():
        from colliderlab.data.trackml import hit_weights

        truth = truth.assign(weight=hit_weights(truth, particles))
    return TrackingPerformance(
        efficiency=_ratio(int(table["matched"][sel].sum()), int(sel.sum())),
        n_particles=int(sel.sum()),
        n_matched=int(table["matched"][sel].sum()),
        efficiency_all_pt=_ratio(int(table["matched"][base].sum()), int(base.sum())),
        n_particles_all_pt=int(base.sum()),
        n_matched_all_pt=int(table["matched"][base].sum()),
        fake_rate=_ratio(int(fake.sum()), len(big)),
        n_tracks=len(big),
        n_fake=int(fake.sum()),
        duplicate_rate=_ratio(n_dup, len(good)),
        n_duplicates=n_dup,
        score=score_event(truth, submission, min_track_id=min_track_id),
        pt_min=float(pt_min),
        min_hits=int(min_hits),
        min_track_hits=int(min_track_hits),
    )


def efficiency_vs(
    truth: pd.DataFrame,
    particles: pd.DataFrame,
    submission: pd.DataFrame,
    bins: np.ndarray | list[float],
    *,
    variable: str = "pt",
    pt_min: float | None = None,
    min_hits: int = 5,
    min_track_id: int = 0,
) -> pd.DataFrame:
    """The double-majority efficiency of :func:`tracking_performance` in bins of pT or eta.

    Args:
        bins: bin edges, increasing (pT in GeV, or eta); particles outside are left out, the last
            bin includes its upper edge (``numpy.histogram``).
        variable: ``"pt"`` (hypot(px, py), GeV), ``"eta"`` (asinh(pz / pT)) or ``"abs_eta"``.
        pt_min: the pT cut (GeV) of the reconstructable particles; None: 0 for ``"pt"``, 1 GeV
            otherwise (the Exa.TrkX eta curves, arXiv:2103.06995).
        min_hits: the hit cut of the reconstructable particles.

    Returns:
        One row per bin: ``lo, hi, n_particles, n_matched, efficiency`` (NaN in an empty bin) and
        ``uncertainty`` = sqrt(eff (1 - eff) / n), the binomial standard error.
    """
    if variable not in ("pt", "eta", "abs_eta"):
        raise ValueError(f"variable must be 'pt', 'eta' or 'abs_eta', got {variable!r}")
    edges = np.asarray(bins, dtype=float)
    if edges.ndim != 1 or len(edges) < 2 or np.any(np.diff(edges) <= 0):
        raise ValueError("bins must be at least two increasing edges")
    if pt_min is None:
        pt_min = 0.0 if variable == "pt" else 1.0
    tracks = match_tracks(truth, submission, min_track_id=min_track_id)
    table = _particle_table(truth, particles, tracks)
    sel = (
        (table["particle_id"] != 0) & (table["n_hits"] >= min_hits) & (table["pt"] >= pt_min)
    ).to_numpy()
    x = table["pt" if variable == "pt" else "eta"].to_numpy()[sel]
    x = np.abs(x) if variable == "abs_eta" else x
    matched = table["matched"].to_numpy()[sel]
    n, _ = np.histogram(x, edges)
    k, _ = np.histogram(x[matched], edges)
    with np.errstate(divide="ignore", invalid="ignore"):
        eff = np.where(n > 0, k / n, np.nan)
        err = np.sqrt(eff * (1 - eff) / n)
    return pd.DataFrame(
        {
            "lo": edges[:-1],
            "hi": edges[1:],
            "n_particles": n,
            "n_matched": k,
            "efficiency": eff,
            "uncertainty": err,
        }
    )
