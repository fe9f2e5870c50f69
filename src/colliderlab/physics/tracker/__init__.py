"""A hit-level silicon tracker: solenoid field, helices, material, secondaries, TrackML tables.

It is a simulation of its own beside the jet-level detector card (``physics/detector``), which it
does not change: :func:`load_tracker_card` reads a card, :class:`Tracker` simulates events made
by :func:`event_particles` (Pythia 8 with pileup) into the TrackML layout (arXiv:1904.06778).
"""

from colliderlab.physics.tracker.card import (
    TRACKER_CARDS,
    SiliconTrackerCard,
    load_tracker_card,
    tracker_card_from_dict,
)
from colliderlab.physics.tracker.events import TRACKER_PROCESSES, event_particles
from colliderlab.physics.tracker.simulate import SimulatedEvent, Tracker

__all__ = [
    "TRACKER_CARDS",
    "TRACKER_PROCESSES",
    "SiliconTrackerCard",
    "SimulatedEvent",
    "Tracker",
    "event_particles",
    "load_tracker_card",
    "tracker_card_from_dict",
]
