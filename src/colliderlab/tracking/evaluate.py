"""Evaluating a track finder over a sample: pooled efficiencies, rates, score and time per event.

Counts are summed over events before dividing (an event with few particles weighs what its
particles weigh); the TrackML score is the mean of the event scores, as in the challenge
(arXiv:1904.06778). Times are wall-clock seconds per event by stage, on this machine's threads.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import pandas as pd

from colliderlab.data.trackml import TrackMLEvent, list_events, read_detectors, read_event
from colliderlab.progress import progress
from colliderlab.tracking.metrics import tracking_performance

__all__ = ["Reconstructor", "evaluate", "summarise", "sample_events", "sample_detectors", "timed"]

Reconstructor = Callable[[TrackMLEvent], tuple[pd.DataFrame, dict[str, float]]]


def sample_events(directory: str | os.PathLike, max_events: int | None = None,
                  parts: tuple[str, ...] = ("hits", "cells", "particles", "truth")) -> list[tuple[int, TrackMLEvent]]:
    """``(event_id, event)`` of the TrackML events in ``directory`` (sorted, at most ``max_events``)."""
    ids = list_events(directory)
    if not ids:
        raise FileNotFoundError(f"{directory} holds no TrackML events (event*-hits.csv)")
    ids = ids[:max_events] if max_events else ids
    return [(i, read_event(directory, i, parts=parts)) for i in ids]


def sample_detectors(directory: str | os.PathLike, detectors: str | os.PathLike | None = None) -> pd.DataFrame:
    """The geometry of a sample: ``detectors`` if given, else ``DIRECTORY/detectors.csv``."""
    path = Path(detectors) if detectors else Path(directory) / "detectors.csv"
    if not path.is_file():
        raise FileNotFoundError(f"no geometry file {path}: give the TrackML detectors.csv of these events")
    return read_detectors(path)


def summarise(per_event: list[dict]) -> dict:
    """Pooled figures from per-event :func:`tracking_performance` dicts (plus ``seconds``)."""
    df = pd.DataFrame(per_event)

    def ratio(a: str, b: str) -> float:
        den = df[b].sum()
        return float(df[a].sum() / den) if den else float("nan")

    seconds = pd.DataFrame(list(df.seconds)) if "seconds" in df else pd.DataFrame()
    out = {
        "n_events": len(df),
        "efficiency": ratio("n_matched", "n_particles"),
        "efficiency_all_pt": ratio("n_matched_all_pt", "n_particles_all_pt"),
        "fake_rate": ratio("n_fake", "n_tracks"),
        "duplicate_rate": ratio("n_duplicates", "n_tracks"),
        "score": float(df.score.mean()),
        "n_particles": int(df.n_particles.sum()),
        "n_tracks": int(df.n_tracks.sum()),
        "pt_min": float(df.pt_min.iloc[0]),
    }
    if not seconds.empty:
        out["seconds_per_event"] = {k: float(v) for k, v in seconds.mean().items()}
        out["seconds_per_event"]["total"] = float(seconds.sum(axis=1).mean())
    if "n_hits" in df:
        out["hits_per_event"] = float(df.n_hits.mean())
    return out


def evaluate(events: Iterable[tuple[int, TrackMLEvent]], reconstruct: Reconstructor, pt_min: float = 1.0,
             min_hits: int = 5, n_events: int | None = None) -> dict:
    """Reconstruct every event and score it; the pooled summary plus the per-event rows."""
    rows = []
    for event_id, event in progress(events, total=n_events, desc="reconstruct"):
        if event.truth is None or event.particles is None:
            raise ValueError(f"event {event_id} has no truth or particles table: it cannot be evaluated")
        t0 = time.perf_counter()
        tracks, seconds = reconstruct(event)
        seconds = dict(seconds) or {"total": time.perf_counter() - t0}
        perf = tracking_performance(event.truth, event.particles, tracks, pt_min=pt_min, min_hits=min_hits)
        rows.append({"event_id": event_id, "n_hits": event.n_hits, **perf.as_dict(), "seconds": seconds})
    if not rows:
        raise ValueError("no events to evaluate")
    return {**summarise(rows), "events": rows}


def timed(fn: Callable[[TrackMLEvent], pd.DataFrame], stage: str = "total") -> Reconstructor:
    """A reconstructor from a function of the event alone, timing it as one stage."""
    def run(event: TrackMLEvent) -> tuple[pd.DataFrame, dict[str, float]]:
        t0 = time.perf_counter()
        out = fn(event)
        return out, {stage: time.perf_counter() - t0}

    return run

