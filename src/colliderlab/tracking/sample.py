"""Simulated tracking samples: Pythia events through the silicon tracker into TrackML files.

An event depends only on (card, process, pileup, seed, event index), never on which worker made
it, so a sample can be made by any number of Dask workers (:mod:`colliderlab.cluster`) and
extended later. Files are the TrackML layout (:mod:`colliderlab.data.trackml`) plus the
geometry ``detectors.csv`` and a ``sample.json`` recording how the sample was made.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass
from pathlib import Path

from colliderlab.atomic import write_json
from colliderlab.cluster import ClusterConfig, task_runner
from colliderlab.data.trackml import (
    TrackMLEvent,
    hit_weights,
    list_events,
    write_detectors,
    write_event,
)
from colliderlab.physics.generator import chunk_seed
from colliderlab.physics.tracker import (
    TRACKER_PROCESSES,
    Tracker,
    event_particles,
    load_tracker_card,
)
from colliderlab.progress import progress

__all__ = ["SampleConfig", "simulated_event", "simulate_sample", "read_sample_config"]


@dataclass(frozen=True)
class SampleConfig:
    """How a tracking sample is made: the tracker card (a built-in name or a YAML path), the
    Pythia process, the mean pileup, the number of events and the master seed."""

    card: str = "trackml-like"
    process: str = "ttbar"
    pileup_mu: float = 0.0
    n_events: int = 100
    seed: int = 1
    first_event: int = 1000


_TRACKERS: dict[str, Tracker] = {}


def _tracker(card: str) -> Tracker:
    if card not in _TRACKERS:
        _TRACKERS[card] = Tracker(load_tracker_card(card))
    return _TRACKERS[card]


def simulated_event(config: SampleConfig, index: int) -> TrackMLEvent:
    """Event ``index`` of the sample, with the TrackML hit weights in ``truth.weight``."""
    tracker = _tracker(config.card)
    parts = event_particles(config.process, index, config.seed, config.pileup_mu, tracker.card.beam_spot)
    ev = tracker.simulate(parts, seed=chunk_seed(config.seed, f"tracker-{config.process}", index, "detector"))
    truth = ev.truth.assign(weight=hit_weights(ev.truth, ev.particles))
    return TrackMLEvent(hits=ev.hits, cells=ev.cells, particles=ev.particles, truth=truth)


def _make_one(config: SampleConfig, index: int, directory: str) -> int:
    event = simulated_event(config, index)
    write_event(event, directory, config.first_event + index)
    return event.n_hits


def simulate_sample(directory: str | os.PathLike, config: SampleConfig,
                    cluster: ClusterConfig | None = None) -> list[int]:
    """Write the sample's events (those not already there) and its geometry; their event ids.

    A killed job leaves whole files only (each written then renamed); running it again makes
    the events that are missing.
    """
    if config.process not in TRACKER_PROCESSES:
        raise ValueError(f"unknown tracker process {config.process!r}; choose one of {', '.join(TRACKER_PROCESSES)}")
    if config.n_events < 1 or config.pileup_mu < 0:
        raise ValueError(f"need n_events >= 1 and pileup_mu >= 0, got {config.n_events} and {config.pileup_mu}")
    tracker = _tracker(config.card)  # a bad card fails here, before anything is written
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    recorded = out / "sample.json"
    if recorded.exists():
        old = read_sample_config(out)
        if dataclasses.replace(old, n_events=config.n_events) != config:
            raise ValueError(f"{out} holds a sample made with {old}; not adding events made with {config}")
    write_json(recorded, dataclasses.asdict(config))
    write_detectors(tracker.detectors(), out / "detectors.csv")
    have = set(list_events(out))
    todo = [i for i in range(config.n_events) if config.first_event + i not in have]
    with task_runner(cluster) as runner:
        for i in todo:
            runner.submit(f"event-{config.first_event + i}", _make_one, config, i, str(out))
        for _ in progress(range(len(todo)), desc="simulate"):
            runner.next_done()
    return [config.first_event + i for i in range(config.n_events)]


def read_sample_config(directory: str | os.PathLike) -> SampleConfig:
    path = Path(directory) / "sample.json"
    return SampleConfig(**json.loads(path.read_text()))
