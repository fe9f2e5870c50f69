"""The public ADC2021 event layout ("Unsupervised New Physics detection at 40 MHz",
Govorkova et al., arXiv:2107.02157): reading, writing, and converting our event files to it.

ADC2021 is the public realisation of the Standard-Model cocktail of arXiv:1811.10276 (W, Z, ttbar
and QCD behind a single-lepton trigger, Delphes), with the benchmark signals A -> 4l, LQ -> b tau,
h0 -> tau tau and h+- -> tau nu. Each HDF5 file holds

* ``Particles`` (N, 19, 4): per event 19 object slots, each ``(pT [GeV], eta, phi, class)``:
  slot 0 the missing transverse momentum (class 1, eta = 0), slots 1-4 electrons (class 2),
  5-8 muons (class 3), 9-18 jets (class 4), pT-ordered within a class, empty slots all zero;
* ``Particles_Names`` = (Pt, Eta, Phi, Class) and ``Particles_Classes`` (the class names).

Our event files (:mod:`colliderlab.data.event_io`) keep the same objects (4 isolated electrons,
4 isolated muons, 10 jets, MET), so :func:`to_particles` converts them exactly; the
flattened ``(pT, eta, phi)`` of the 19 slots, (N, 57), is the input of the ADC2021 baseline
autoencoders (:func:`particle_inputs`, names in :data:`INPUT_NAMES`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from colliderlab.atomic import replacing
from colliderlab.data.errors import DataFormatError, reading

__all__ = ["CLASS_NAMES", "INPUT_NAMES", "N_SLOTS", "SLOTS", "is_adc_file", "particle_inputs", "read_adc2021",
           "to_particles", "write_adc2021"]

# (object, class id, slots)
SLOTS: tuple[tuple[str, int, int], ...] = (("met", 1, 1), ("e", 2, 4), ("mu", 3, 4), ("jet", 4, 10))
N_SLOTS = sum(n for _, _, n in SLOTS)  # 19
CLASS_NAMES = ("MET_class_1", "Four_Ele_class_2", "Four_Mu_class_3", "Ten_Jet_class_4")
_NAMES = ("Pt", "Eta", "Phi", "Class")
INPUT_NAMES: tuple[str, ...] = tuple(
    f"{obj}{k + 1 if n > 1 else ''}_{v}" for obj, _, n in SLOTS for k in range(n) for v in ("pt", "eta", "phi")
)  # ("met_pt", "met_eta", "met_phi", "e1_pt", ..., "jet10_phi"): 57 names


def to_particles(events: Mapping[str, np.ndarray]) -> np.ndarray:
    """Our event arrays -> ADC2021 ``Particles`` (N, 19, 4) float32.

    Args:
        events: ``met`` (N, 2) (MET, phi), ``electrons`` and ``muons`` (N, >=4, >=3) and ``jets``
            (N, >=10, >=3) with (pt, eta, phi, ...) columns, zero padded (as
            :func:`colliderlab.data.event_io.read_events` returns them).
    """
    met = np.asarray(events["met"], np.float32)
    if met.ndim != 2 or met.shape[1] < 2:
        raise ValueError(f"events['met'] must have shape (N, 2) (MET, phi), got {met.shape}")
    n = len(met)
    out = np.zeros((n, N_SLOTS, 4), np.float32)
    out[:, 0, 0], out[:, 0, 2] = met[:, 0], met[:, 1]
    out[:, 0, 3] = np.where(met[:, 0] > 0, 1.0, 0.0)
    start = 1
    for (_, cls, slots), key in zip(SLOTS[1:], ("electrons", "muons", "jets"), strict=True):
        obj = np.asarray(events[key], np.float32)
        if obj.ndim != 3 or len(obj) != n or obj.shape[1] < slots or obj.shape[2] < 3:
            raise ValueError(f"events[{key!r}] must have shape (N={n}, >={slots}, >=3) (pt, eta, phi, ...), "
                             f"got {obj.shape}")
        block = obj[:, :slots, :3]  # (N, slots, 3)
        filled = block[..., 0] > 0
        out[:, start:start + slots, :3] = np.where(filled[..., None], block, 0.0)
        out[:, start:start + slots, 3] = np.where(filled, float(cls), 0.0)
        start += slots
    return out


def particle_inputs(particles: np.ndarray) -> np.ndarray:
    """(N, 19, 4) ``Particles`` -> (N, 57) float32 ``(pT, eta, phi)`` per slot, the ADC2021
    baseline input (column names :data:`INPUT_NAMES`)."""
    p = _check_particles(particles, "particles")
    return np.ascontiguousarray(p[:, :, :3].reshape(len(p), -1), dtype=np.float32)


def _check_particles(particles: Any, what: str, path: str | os.PathLike | None = None) -> np.ndarray:
    p = np.asarray(particles, np.float32)
    if p.ndim != 3 or p.shape[1:] != (N_SLOTS, 4):
        msg = f"{what} must have shape (N, {N_SLOTS}, 4) (pT, eta, phi, class per slot), got {p.shape}"
        raise DataFormatError(path, msg) if path is not None else ValueError(msg)
    bad = ~np.isfinite(p)
    if bad.any():
        ev, slot, col = np.argwhere(bad)[0]
        msg = (f"{what} has {int(bad.sum())} non-finite values, first at event {ev}, slot {slot}, "
               f"column {_NAMES[col]}")
        raise DataFormatError(path, msg) if path is not None else ValueError(msg)
    return p


def write_adc2021(path: str | os.PathLike, particles: np.ndarray) -> Path:
    """Write ``Particles`` (N, 19, 4) in the ADC2021 layout (temporary file, then renamed)."""
    import h5py

    p = _check_particles(particles, "particles")
    path = Path(path)
    with replacing(path) as tmp, h5py.File(tmp, "w") as f:
        f.create_dataset("Particles", data=p.astype(np.float64), compression="gzip", fletcher32=True)
        f.create_dataset("Particles_Names", data=np.array([s.encode() for s in _NAMES]))
        f.create_dataset("Particles_Classes", data=np.array([s.encode() for s in CLASS_NAMES]))
    return path


def is_adc_file(path: str | os.PathLike) -> bool:
    """Whether ``path`` is an HDF5 file with an ADC2021 ``Particles`` dataset."""
    import h5py

    try:
        with h5py.File(path, "r") as f:
            return "Particles" in f
    except OSError:
        return False


def read_adc2021(path: str | os.PathLike, max_events: int | None = None, start: int = 0) -> np.ndarray:
    """``Particles`` (N, 19, 4) float32 of an ADC2021 file, events ``start`` to ``start + max_events``
    (the background file holds 13.4M events, ~8 GB as float64: read a slice).

    Raises:
        DataFormatError: not HDF5, no ``Particles``, another shape, unexpected column names, or
            non-finite values (the first one located).
    """
    import h5py

    try:
        f = h5py.File(path, "r")
    except OSError as err:
        if not Path(path).exists():
            raise
        raise DataFormatError(path, f"cannot open as HDF5 ({err})") from None
    with f, reading(path):
        if not isinstance(f.get("Particles"), h5py.Dataset):
            raise DataFormatError(path, f"no 'Particles' dataset (has {sorted(f.keys())}); not an ADC2021 file")
        ds = f["Particles"]
        if ds.ndim != 3 or ds.shape[1:] != (N_SLOTS, 4):
            raise DataFormatError(path, f"'Particles' must have shape (N, {N_SLOTS}, 4), got {ds.shape}")
        if "Particles_Names" in f:
            names = tuple(s.decode() if isinstance(s, bytes) else str(s) for s in f["Particles_Names"][:])
            if names != _NAMES:
                raise DataFormatError(path, f"'Particles_Names' is {names}, expected {_NAMES}")
        stop = ds.shape[0] if max_events is None else min(ds.shape[0], start + int(max_events))
        data = ds[start:stop]
    return _check_particles(data, "'Particles'", path)
