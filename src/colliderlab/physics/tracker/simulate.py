"""One event through the silicon tracker: particles in, TrackML-layout tables out.

The charged particles above the card's ``min_pt`` made inside the tracker, and the electrons of
photons that convert in its material, are propagated on helices through the field
(:mod:`~colliderlab.physics.tracker.propagate`); their module crossings are digitised with the
modules' efficiency and noise hits are added (:mod:`~colliderlab.physics.tracker.digitize`).
The result is the four TrackML tables (arXiv:1904.06778) as pandas DataFrames; the truth's
``weight`` column is left to the data layer (:func:`colliderlab.data.trackml.hit_weights`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from colliderlab.physics.tracker.card import SiliconTrackerCard
from colliderlab.physics.tracker.conversions import M_ELECTRON, convert_photons
from colliderlab.physics.tracker.digitize import Digits, digitize, noise
from colliderlab.physics.tracker.geometry import Modules, Surfaces, build_geometry, detector_columns
from colliderlab.physics.tracker.propagate import Start, propagate

__all__ = ["Tracker", "SimulatedEvent", "PROCESS_GENERATOR", "PROCESS_CONVERSION"]

PROCESS_GENERATOR, PROCESS_CONVERSION = 0, 1
_REQUIRED = ("px", "py", "pz", "E", "pdg", "charge", "vx", "vy", "vz")


@dataclass
class SimulatedEvent:
    """The TrackML tables of one event: ``hits`` (hit_id, x, y, z, volume_id, layer_id,
    module_id), ``cells`` (hit_id, ch0, ch1, value), ``particles`` (particle_id, vx, vy, vz, px,
    py, pz, q, nhits, and pdg, subevent, parent_id, process) and ``truth`` (hit_id, particle_id,
    tx, ty, tz, tpx, tpy, tpz). Hits are sorted by volume, layer and module; particle 0 is noise."""

    hits: pd.DataFrame
    cells: pd.DataFrame
    particles: pd.DataFrame
    truth: pd.DataFrame


class Tracker:
    """A tracker built from a card: its surfaces and modules, and :meth:`simulate`."""

    def __init__(self, card: SiliconTrackerCard) -> None:
        self.card = card
        self.surfaces: Surfaces
        self.modules: Modules
        self.surfaces, self.modules = build_geometry(card)

    def detectors(self) -> pd.DataFrame:
        """The modules as TrackML's ``detectors.csv``."""
        return pd.DataFrame(detector_columns(self.modules))

    def simulate(self, particles: dict[str, np.ndarray], seed: int) -> SimulatedEvent:
        """Hits of one event.

        Args:
            particles: ``(P,)`` arrays ``px, py, pz, E`` (GeV), ``pdg``, ``charge``, ``vx, vy, vz``
                (mm) and optionally ``subevent``
                (:func:`~colliderlab.physics.tracker.events.event_particles`).
            seed: seed of the event's detector randomness.

        Raises:
            ValueError: a missing or mis-shaped array, or NaN in one.
        """
        p = _checked(particles)
        rng = np.random.default_rng(seed)
        card = self.card
        pt = np.hypot(p["px"], p["py"])
        inside = (np.hypot(p["vx"], p["vy"]) < card.envelope_radius) & (np.abs(p["vz"]) < card.envelope_half_length)
        charged = np.flatnonzero((p["charge"] != 0) & (pt >= card.min_pt) & inside)
        photons = np.flatnonzero((p["pdg"] == 22) & (p["E"] > 2 * card.min_pt) & inside)
        conv = convert_photons(np.stack([p["vx"], p["vy"], p["vz"]], 1)[photons],
                               np.stack([p["px"], p["py"], p["pz"]], 1)[photons], self.surfaces, rng)
        table = _particle_table(p, charged, photons[conv.photon], conv, card.min_pt)
        tracked = np.flatnonzero(table["q"] != 0)
        start = Start(
            x=table["vx"][tracked], y=table["vy"][tracked], z=table["vz"][tracked],
            px=table["px"][tracked], py=table["py"][tracked], pz=table["pz"][tracked],
            q=table["q"][tracked].astype(float), mass=table["mass"][tracked],
            electron=np.abs(table["pdg"][tracked]) == 11, row=tracked,
            surface=table["surface"][tracked], sigma=np.ones(len(tracked)),
        )
        crossings = propagate(start, card, self.surfaces, self.modules, rng)
        digits = [digitize(crossings, self.modules, rng), noise(self.modules, card.noise_per_module, rng)]
        return _tables(digits, table, self.modules)


def _checked(particles: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    missing = [k for k in _REQUIRED if k not in particles]
    if missing:
        raise ValueError(f"particles lack {', '.join(missing)}; the tracker needs {', '.join(_REQUIRED)}")
    n = len(np.asarray(particles["px"]))
    out = {}
    for key in (*_REQUIRED, "subevent"):
        arr = np.asarray(particles[key]) if key in particles else np.zeros(n, int)
        if arr.shape != (n,):
            raise ValueError(f"particles[{key!r}] has shape {arr.shape}, expected ({n},) like particles['px']")
        if arr.dtype.kind == "f" and np.isnan(arr).any():
            raise ValueError(f"particles[{key!r}] is NaN at rows {np.flatnonzero(np.isnan(arr))[:5].tolist()}")
        out[key] = arr
    return out


def _particle_table(p, charged, conv_photons, conv, min_pt: float) -> dict[str, np.ndarray]:
    """Tracked charged particles, converted photons and their e+ e- (above ``min_pt``)."""
    n_c, n_g = len(charged), len(conv_photons)
    e_gamma = p["E"][conv_photons]
    direction = np.stack([p["px"], p["py"], p["pz"]], 1)[conv_photons] / e_gamma[:, None]
    x = np.concatenate([conv.fraction, 1 - conv.fraction])  # electron, then positron
    mom_e = np.concatenate([direction, direction]) * (np.tile(e_gamma, 2) * x)[:, None]
    keep_e = np.hypot(mom_e[:, 0], mom_e[:, 1]) >= min_pt
    ids_g = n_c + 1 + np.arange(n_g)
    point = np.concatenate([conv.point, conv.point])[keep_e]
    mass = np.sqrt(np.maximum(p["E"] ** 2 - p["px"] ** 2 - p["py"] ** 2 - p["pz"] ** 2, 0.0))
    cols = {
        "vx": [p["vx"][charged], p["vx"][conv_photons], point[:, 0]],
        "vy": [p["vy"][charged], p["vy"][conv_photons], point[:, 1]],
        "vz": [p["vz"][charged], p["vz"][conv_photons], point[:, 2]],
        "px": [p["px"][charged], p["px"][conv_photons], mom_e[keep_e, 0]],
        "py": [p["py"][charged], p["py"][conv_photons], mom_e[keep_e, 1]],
        "pz": [p["pz"][charged], p["pz"][conv_photons], mom_e[keep_e, 2]],
        "q": [p["charge"][charged].round().astype(int), np.zeros(n_g, int),
              np.r_[np.full(n_g, -1), np.full(n_g, 1)][keep_e]],
        "pdg": [p["pdg"][charged], np.full(n_g, 22), np.r_[np.full(n_g, 11), np.full(n_g, -11)][keep_e]],
        "subevent": [p["subevent"][charged], p["subevent"][conv_photons], np.tile(p["subevent"][conv_photons], 2)[keep_e]],
        "parent_id": [np.zeros(n_c, int), np.zeros(n_g, int), np.tile(ids_g, 2)[keep_e]],
        "process": [np.zeros(n_c + n_g, int), np.full(int(keep_e.sum()), PROCESS_CONVERSION)],
        "mass": [mass[charged], np.zeros(n_g), np.full(int(keep_e.sum()), M_ELECTRON)],
        "surface": [np.full(n_c + n_g, -1), np.tile(conv.surface, 2)[keep_e]],
    }
    table = {k: np.concatenate(v) for k, v in cols.items()}
    table["particle_id"] = np.arange(len(table["vx"])) + 1
    return table


def _tables(digits: list[Digits], table: dict[str, np.ndarray], modules: Modules) -> SimulatedEvent:
    module = np.concatenate([d.module for d in digits])
    order = np.lexsort((modules.module[module], modules.layer[module], modules.volume[module]))
    hit_id = np.empty(len(order), np.int64)
    hit_id[order] = np.arange(len(order)) + 1
    measured = np.concatenate([d.measured for d in digits])
    row = np.concatenate([d.row for d in digits])
    pid = np.where(row >= 0, table["particle_id"][np.maximum(row, 0)], 0)
    tpos, tmom = np.concatenate([d.true_pos for d in digits]), np.concatenate([d.true_mom for d in digits])
    hits = pd.DataFrame({"hit_id": hit_id, "x": measured[:, 0], "y": measured[:, 1], "z": measured[:, 2],
                         "volume_id": modules.volume[module], "layer_id": modules.layer[module],
                         "module_id": modules.module[module]}).iloc[order].reset_index(drop=True)
    truth = pd.DataFrame({"hit_id": hit_id, "particle_id": pid, "tx": tpos[:, 0], "ty": tpos[:, 1], "tz": tpos[:, 2],
                          "tpx": tmom[:, 0], "tpy": tmom[:, 1], "tpz": tmom[:, 2]}).iloc[order].reset_index(drop=True)
    offsets = np.cumsum([0] + [len(d.module) for d in digits[:-1]])
    cell_hit = np.concatenate([hit_id[d.cell_hit + off] for d, off in zip(digits, offsets, strict=True)])
    cells = pd.DataFrame({"hit_id": cell_hit, "ch0": np.concatenate([d.ch0 for d in digits]),
                          "ch1": np.concatenate([d.ch1 for d in digits]),
                          "value": np.concatenate([d.value for d in digits])}).sort_values("hit_id", kind="stable")
    nhits = np.bincount(np.maximum(row, 0), weights=row >= 0, minlength=len(table["particle_id"])).astype(int)
    particles = pd.DataFrame({
        "particle_id": table["particle_id"], "vx": table["vx"], "vy": table["vy"], "vz": table["vz"],
        "px": table["px"], "py": table["py"], "pz": table["pz"], "q": table["q"], "nhits": nhits,
        "pdg": table["pdg"], "subevent": table["subevent"], "parent_id": table["parent_id"],
        "process": table["process"],
    })
    return SimulatedEvent(hits=hits, cells=cells.reset_index(drop=True), particles=particles, truth=truth)
