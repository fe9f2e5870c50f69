"""The tracker's layers as the pipeline sees them: read from TrackML's ``detectors.csv`` only.

A layer is a ``(volume_id, layer_id)`` pair of the geometry file. It is a barrel layer when its
modules' normal ``w`` is perpendicular to the beam (``|rot_zw| < 0.5``), an endcap disk
otherwise. Its position (mean radius of a barrel layer, mean z of a disk) and its extent in r and
z come from the module centres and half sizes, so the public TrackML events (arXiv:1904.06778)
and our own simulated ones are handled the same way, and the pipeline never assumes a geometry.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["Layers", "layers_from_detectors", "hit_coordinates"]


@dataclass(frozen=True)
class Layers:
    """``(L,)`` arrays, layers sorted by (volume_id, layer_id): ids, ``barrel`` flag, position
    (mm: radius of a barrel layer, z of a disk) and extents ``r_min..r_max``, ``z_min..z_max``."""

    volume_id: np.ndarray
    layer_id: np.ndarray
    barrel: np.ndarray
    position: np.ndarray
    r_min: np.ndarray
    r_max: np.ndarray
    z_min: np.ndarray
    z_max: np.ndarray

    def __len__(self) -> int:
        return len(self.volume_id)

    def index_of(self, volume_id: np.ndarray, layer_id: np.ndarray, what: str = "hits") -> np.ndarray:
        """Dense layer index ``(N,)`` of every ``(volume_id, layer_id)``; unknown pairs are an error."""
        key = np.asarray(volume_id, np.int64) * 100_000 + np.asarray(layer_id, np.int64)
        known = self.volume_id.astype(np.int64) * 100_000 + self.layer_id.astype(np.int64)
        pos = np.searchsorted(known, key)
        bad = (pos >= len(known)) | (known[np.minimum(pos, len(known) - 1)] != key)
        if bad.any():
            pairs = sorted({(int(v), int(la)) for v, la in zip(np.asarray(volume_id)[bad], np.asarray(layer_id)[bad], strict=True)})
            raise ValueError(f"{what} lie on (volume_id, layer_id) {pairs[:5]} that the detectors file does not describe; "
                             f"it has {len(known)} layers in volumes {sorted(set(self.volume_id.tolist()))}")
        return pos

    def to_dict(self) -> dict[str, list]:
        return {k: getattr(self, k).tolist() for k in self.__dataclass_fields__}

    @classmethod
    def from_dict(cls, mapping: dict[str, list]) -> Layers:
        missing = [k for k in cls.__dataclass_fields__ if k not in mapping]
        if missing:
            raise ValueError(f"layer table lacks {', '.join(missing)}")
        return cls(**{k: np.asarray(mapping[k]) for k in cls.__dataclass_fields__})


def layers_from_detectors(detectors: pd.DataFrame) -> Layers:
    """The layers of a geometry given as TrackML ``detectors.csv`` rows."""
    need = ("volume_id", "layer_id", "cx", "cy", "cz", "rot_zw", "module_maxhu", "module_hv")
    missing = [c for c in need if c not in detectors.columns]
    if missing:
        raise ValueError(f"detectors table lacks {', '.join(missing)}")
    if len(detectors) == 0:
        raise ValueError("detectors table has no modules")
    d = detectors.assign(r=np.hypot(detectors.cx, detectors.cy), half=np.hypot(detectors.module_maxhu, detectors.module_hv))
    g = d.groupby(["volume_id", "layer_id"], sort=True)
    barrel = (g.rot_zw.apply(lambda s: np.abs(s).mean()) < 0.5).to_numpy()
    r_mean, z_mean = g.r.mean().to_numpy(), g.cz.mean().to_numpy()
    half = g.half.max().to_numpy()
    keys = np.array(list(g.groups.keys()))
    return Layers(
        volume_id=keys[:, 0].astype(np.int64), layer_id=keys[:, 1].astype(np.int64), barrel=barrel,
        position=np.where(barrel, r_mean, z_mean),
        r_min=np.maximum((g.r.min() - g.half.max()).to_numpy(), 0.0), r_max=(g.r.max() + half).to_numpy(),
        z_min=(g.cz.min() - half).to_numpy(), z_max=(g.cz.max() + half).to_numpy(),
    )


def hit_coordinates(hits: pd.DataFrame) -> dict[str, np.ndarray]:
    """Cylindrical coordinates of the hits: ``r``, ``phi``, ``z`` (mm, rad), ``(N,)`` each."""
    x, y, z = (hits[c].to_numpy(np.float64) for c in ("x", "y", "z"))
    return {"r": np.hypot(x, y), "phi": np.arctan2(y, x), "z": z}
