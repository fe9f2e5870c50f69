"""Session-scoped tracking fixtures: a few simulated ttbar events (no pileup) of the TrackML-like
tracker, shared by the pipeline and baseline tests."""

from __future__ import annotations

import pytest

from colliderlab.physics.tracker import Tracker, load_tracker_card
from colliderlab.tracking.sample import SampleConfig, simulated_event


@pytest.fixture(scope="session")
def ttbar_sample():
    """``(config, tracker, events)``: 6 ttbar events without pileup, ``TrackMLEvent`` each."""
    config = SampleConfig(card="trackml-like", process="ttbar", pileup_mu=0.0, n_events=6, seed=21)
    tracker = Tracker(load_tracker_card(config.card))
    return config, tracker, [simulated_event(config, i) for i in range(config.n_events)]
