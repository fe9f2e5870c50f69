"""Simulated showers (:class:`CaloShowers`, flat CaloChallenge-style voxel vectors) and their energy
spots (:class:`ShowerSpots`); :func:`coarsen` re-bins showers to a coarser geometry."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from colliderlab.physics.calo.geometry import _NAMES, CALO_GEOMETRIES, CaloGeometry, get_geometry

__all__ = ["coarsen", "CaloShowers", "ShowerSpots"]


# --------------------------------------------------------------------------------------------
# Outputs
# --------------------------------------------------------------------------------------------
@dataclass
class CaloShowers:
    """Simulated (or read) showers in a flat voxel layout.

    Attributes:
        incident_energy: (N,) float64, GeV.
        showers: (N, n_cells) float32 visible energy per cell, GeV, layer-major.
        particle: (N,) int32 PDG ids (0: unknown).
        angle: (N,) float32 incidence angle of the shower axis, rad.
        geometry: geometry name.
        layer_shapes: (rows, columns) per layer; looked up from ``geometry`` when None.
        overflow: (N, n_layers) float32 visible energy outside each layer's grid, GeV.
    """

    incident_energy: np.ndarray
    showers: np.ndarray
    particle: np.ndarray
    angle: np.ndarray
    geometry: str
    layer_shapes: tuple[tuple[int, int], ...] | None = None
    overflow: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.layer_shapes is None and self.geometry in CALO_GEOMETRIES:
            self.layer_shapes = CALO_GEOMETRIES[self.geometry].layer_shapes
        if self.layer_shapes is not None:
            self.layer_shapes = tuple((int(a), int(b)) for a, b in self.layer_shapes)
            n_cells = sum(a * b for a, b in self.layer_shapes)
            if self.showers.shape[1] != n_cells:
                raise ValueError(
                    f"showers has {self.showers.shape[1]} cells, layer_shapes "
                    f"{self.layer_shapes} need {n_cells}"
                )

    def __len__(self) -> int:
        return len(self.incident_energy)

    @property
    def n_layers(self) -> int:
        if self.layer_shapes is None:
            raise ValueError(f"layer layout of geometry {self.geometry!r} unknown (layer_shapes)")
        return len(self.layer_shapes)

    @property
    def particle_names(self) -> np.ndarray:
        """(N,) particle names ('unknown' for id 0)."""
        ids, inverse = np.unique(self.particle, return_inverse=True)
        return np.array([_NAMES.get(int(i), "unknown") for i in ids])[inverse.reshape(-1)]

    def _offsets(self) -> np.ndarray:
        if self.layer_shapes is None:
            raise ValueError(f"layer layout of geometry {self.geometry!r} unknown (layer_shapes)")
        return np.concatenate([[0], np.cumsum([a * b for a, b in self.layer_shapes])])

    def layer(self, k: int) -> np.ndarray:
        """(N, rows, columns) image of layer ``k``."""
        off = self._offsets()
        if not 0 <= k < len(off) - 1:
            raise IndexError(f"layer {k} out of range ({len(off) - 1} layers)")
        return self.showers[:, off[k] : off[k + 1]].reshape(len(self), *self.layer_shapes[k])

    def layer_energies(self) -> np.ndarray:
        """(N, n_layers) visible energy per layer (grid only), GeV."""
        off = self._offsets()
        return np.add.reduceat(self.showers, off[:-1], axis=1, dtype=np.float64)

    def total_energy(self, overflow: bool = True) -> np.ndarray:
        """(N,) total visible energy, GeV (with the overflow when ``overflow`` and present)."""
        total = self.showers.sum(axis=1, dtype=np.float64)
        if overflow and self.overflow is not None:
            total += self.overflow.sum(axis=1, dtype=np.float64)
        return total

    def __getitem__(self, idx) -> CaloShowers:
        if isinstance(idx, int | np.integer):
            idx = slice(int(idx), int(idx) + 1 or None)
        return CaloShowers(
            self.incident_energy[idx],
            self.showers[idx],
            self.particle[idx],
            self.angle[idx],
            self.geometry,
            self.layer_shapes,
            None if self.overflow is None else self.overflow[idx],
        )

    @classmethod
    def concatenate(cls, items: Sequence[CaloShowers]) -> CaloShowers:
        """Concatenate showers of one geometry."""
        if not items:
            raise ValueError("nothing to concatenate")
        first = items[0]
        for it in items[1:]:
            if it.geometry != first.geometry or it.layer_shapes != first.layer_shapes:
                raise ValueError(
                    f"cannot concatenate geometries {first.geometry!r} and {it.geometry!r}"
                )
        has_ov = all(it.overflow is not None for it in items)
        return cls(
            np.concatenate([it.incident_energy for it in items]),
            np.concatenate([it.showers for it in items]),
            np.concatenate([it.particle for it in items]),
            np.concatenate([it.angle for it in items]),
            first.geometry,
            first.layer_shapes,
            np.concatenate([it.overflow for it in items]) if has_ov else None,
        )


@dataclass
class ShowerSpots:
    """All energy spots of ``n_events`` showers (for validation and custom readouts).

    Attributes (M spots):
        event: (M,) int64 shower index.
        x, y, z: (M,) float64 position, mm (z = depth from the front face).
        deposit: (M,) energy released by the spot, GeV (incl. invisible nuclear losses).
        energy: (M,) visible energy (sampling fraction, response, fluctuations), GeV.
        t: (M,) depth along the spot's sub-shower axis from the sub-shower start, X0.
        r: (M,) distance from the sub-shower axis, Moliere radii.
        component: (M,) int8: 0 electromagnetic, 1 hadronic, 2 MIP track.
        incident_energy, angle: (n_events,) GeV, rad.
    """

    event: np.ndarray
    x: np.ndarray
    y: np.ndarray
    z: np.ndarray
    deposit: np.ndarray
    energy: np.ndarray
    t: np.ndarray
    r: np.ndarray
    component: np.ndarray
    incident_energy: np.ndarray
    angle: np.ndarray

    @property
    def n_events(self) -> int:
        return len(self.incident_energy)


def coarsen(showers: CaloShowers, target: str | CaloGeometry) -> CaloShowers:
    """Read simulated showers out with a coarser geometry of the same material.

    Every fine cell's centre is assigned to the target cell containing it (one sparse matrix,
    applied to all showers at once); energy outside the target grid goes to ``overflow``.
    (N, n_fine) -> (N, n_target).
    """
    from scipy import sparse

    fine, tgt = get_geometry(showers.geometry), get_geometry(target)
    xs, ys, zs = [], [], []
    for k, layer in enumerate(fine.layers):
        (nr, nc), (dx, dy) = layer.shape, layer.cell
        r, c = np.meshgrid(np.arange(nr), np.arange(nc), indexing="ij")  # row-major, as the voxels
        xs.append(((r + 0.5 - nr / 2) * dx).ravel())
        ys.append(((c + 0.5 - nc / 2) * dy).ravel())
        zs.append(np.full(nr * nc, 0.5 * (fine.boundaries[k] + fine.boundaries[k + 1])))
    x, y, z = (np.concatenate(v) for v in (xs, ys, zs))
    layer_t, cell_t = tgt._locate(x, y, z)
    inside = cell_t >= 0
    if (layer_t < 0).any():
        raise ValueError(f"{tgt.name!r} is not as deep as {fine.name!r}: it cannot read its showers out")
    n_fine = len(x)
    m = sparse.csr_matrix((np.ones(int(inside.sum())), (np.flatnonzero(inside), cell_t[inside])),
                          shape=(n_fine, tgt.n_cells))
    cells = np.asarray(showers.showers, np.float64)
    coarse = np.asarray(m.T.dot(cells.T).T, np.float32)  # (N, n_target)
    out_m = sparse.csr_matrix((np.ones(int((~inside).sum())), (np.flatnonzero(~inside), layer_t[~inside])),
                              shape=(n_fine, tgt.n_layers))
    overflow = np.asarray(out_m.T.dot(cells.T).T, np.float64)
    if showers.overflow is not None:  # the fine layers' own overflow goes to their target layer
        mids = 0.5 * (fine.boundaries[:-1] + fine.boundaries[1:])
        for k, t in enumerate(tgt.layer_index(mids)):  # loop over layers
            overflow[:, t] += showers.overflow[:, k]
    overflow = overflow.astype(np.float32)
    return CaloShowers(showers.incident_energy, coarse, showers.particle, showers.angle, tgt.name,
                       tgt.layer_shapes, overflow)
