"""The tracker's surfaces and modules, built once from a card.

Surfaces are what a particle can cross: cylinders (the beam pipe, barrel layers, the envelope)
and planes ``z = const`` (endcap disks, the envelope's ends), each with its material. Modules are
the sensitive planar elements with their TrackML description (centre, local axes ``u, v, w`` as
the columns of the rotation matrix, half sizes, pitches), the rows of ``detectors.csv``.

Barrel stave ``k`` of a layer of radius ``R`` has its face at distance ``R`` from the axis along
``(cos t_k, sin t_k)``, ``t_k = 2 pi k / n_phi``: ``u = (-sin t_k, cos t_k, 0)``, ``v = z``,
``w = u x v`` radial. Disk module ``k`` of a ring has centre line angle ``t_k``: ``u`` as above,
``v`` radial, ``w = -z``; it is the trapezoid ``r_min <= v' <= r_max, |u| <= v' tan(pi/n_phi)``
with ``v'`` the distance along the centre line.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from colliderlab.physics.tracker.card import SiliconTrackerCard

__all__ = ["PASSIVE", "SENSITIVE", "KILL", "Surfaces", "Modules", "build_geometry", "detector_columns"]

PASSIVE, SENSITIVE, KILL = 0, 1, 2


@dataclass(frozen=True)
class Surfaces:
    """Cylinders (``n_cyl``) first, then planes; arrays of length ``n_cyl + n_planes``.

    ``size`` is the cylinder radius or the plane's z; ``lo``/``hi`` bound the other coordinate
    (``|z| <= hi`` on a cylinder, ``lo <= r <= hi`` on a plane). ``role`` is PASSIVE, SENSITIVE
    or KILL; ``volume``/``layer`` are the TrackML ids (0 for non-sensitive surfaces), ``first``
    the index of the surface's first module in :class:`Modules`, ``n_phi``/``n_z`` its barrel
    segmentation, ``ring_*`` the index range of its rings in ``ring_r_min``... (planes only).
    """

    n_cyl: int
    size: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    x0: np.ndarray
    role: np.ndarray
    volume: np.ndarray
    layer: np.ndarray
    first: np.ndarray
    n_phi: np.ndarray
    n_z: np.ndarray
    ring_start: np.ndarray
    ring_stop: np.ndarray
    ring_r_min: np.ndarray
    ring_r_max: np.ndarray
    ring_n_phi: np.ndarray
    ring_first: np.ndarray

    @property
    def n(self) -> int:
        return len(self.size)

    def is_cylinder(self, index: np.ndarray) -> np.ndarray:
        return np.asarray(index) < self.n_cyl


@dataclass(frozen=True)
class Modules:
    """Every module, ``(N,)`` arrays and ``centre``/``u``/``v``/``w`` ``(N, 3)``.

    ``min_hu``/``max_hu`` are the half widths along ``u`` at ``v = -hv`` and ``v = +hv``;
    ``half_t`` the half thickness; ``pitch_u``/``pitch_v`` the cell size (a strip: its length);
    ``efficiency`` the hit efficiency of the module's volume.
    """

    volume: np.ndarray
    layer: np.ndarray
    module: np.ndarray
    centre: np.ndarray
    u: np.ndarray
    v: np.ndarray
    w: np.ndarray
    half_t: np.ndarray
    min_hu: np.ndarray
    max_hu: np.ndarray
    hv: np.ndarray
    pitch_u: np.ndarray
    pitch_v: np.ndarray
    efficiency: np.ndarray

    def __len__(self) -> int:
        return len(self.module)


def _barrel_modules(layer, vol, layer_id: int) -> dict[str, np.ndarray]:
    k = np.repeat(np.arange(layer.n_phi), layer.n_z)  # stave of each module
    iz = np.tile(np.arange(layer.n_z), layer.n_phi)
    t = 2 * np.pi * k / layer.n_phi
    length = 2 * layer.half_length / layer.n_z
    zc = -layer.half_length + (iz + 0.5) * length
    half_w = layer.radius * np.tan(np.pi / layer.n_phi)
    zeros, ones = np.zeros_like(t), np.ones_like(t)
    return {
        "module": k * layer.n_z + iz + 1,
        "centre": np.stack([layer.radius * np.cos(t), layer.radius * np.sin(t), zc], axis=1),
        "u": np.stack([-np.sin(t), np.cos(t), zeros], axis=1),
        "v": np.stack([zeros, zeros, ones], axis=1),
        "w": np.stack([np.cos(t), np.sin(t), zeros], axis=1),
        "min_hu": np.full(len(t), half_w),
        "max_hu": np.full(len(t), half_w),
        "hv": np.full(len(t), length / 2),
    }


def _disk_modules(vol, z: float, offset: int) -> dict[str, np.ndarray]:
    parts = []
    for ring in vol.rings:
        t = 2 * np.pi * np.arange(ring.n_phi) / ring.n_phi
        rc = 0.5 * (ring.r_min + ring.r_max)
        tan = np.tan(np.pi / ring.n_phi)
        zeros = np.zeros_like(t)
        parts.append({
            "centre": np.stack([rc * np.cos(t), rc * np.sin(t), np.full_like(t, z)], axis=1),
            "u": np.stack([-np.sin(t), np.cos(t), zeros], axis=1),
            "v": np.stack([np.cos(t), np.sin(t), zeros], axis=1),
            "w": np.stack([zeros, zeros, -np.ones_like(t)], axis=1),
            "min_hu": np.full(len(t), ring.r_min * tan),
            "max_hu": np.full(len(t), ring.r_max * tan),
            "hv": np.full(len(t), 0.5 * (ring.r_max - ring.r_min)),
        })
    out = {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}
    out["module"] = np.arange(len(out["hv"])) + 1
    return out


def build_geometry(card: SiliconTrackerCard) -> tuple[Surfaces, Modules]:
    """The card's surfaces (cylinders, then planes) and modules."""
    cyl: list[dict] = [dict(size=card.beam_pipe.radius, lo=0.0, hi=card.envelope_half_length,
                            x0=card.beam_pipe.x0, role=PASSIVE)]
    planes: list[dict] = []
    modules: list[dict] = []
    rings: list[tuple[float, float, int, int]] = []
    n_modules = 0
    for vol in card.volumes:
        if vol.kind == "barrel":
            for i, layer in enumerate(sorted(vol.layers, key=lambda la: la.radius)):
                m = _barrel_modules(layer, vol, 2 * (i + 1))
                cyl.append(dict(size=layer.radius, lo=0.0, hi=layer.half_length, x0=vol.x0, role=SENSITIVE,
                                volume=vol.id, layer=2 * (i + 1), first=n_modules, n_phi=layer.n_phi, n_z=layer.n_z))
                modules.append(_with_ids(m, vol, 2 * (i + 1)))
                n_modules += len(m["module"])
            continue
        zs = sorted(vol.side * z for z in vol.disks_z)  # layer ids increase with z, as in TrackML
        for i, z in enumerate(zs):
            m = _disk_modules(vol, z, n_modules)
            start = len(rings)
            first_in_ring = n_modules
            for ring in vol.rings:
                rings.append((ring.r_min, ring.r_max, ring.n_phi, first_in_ring))
                first_in_ring += ring.n_phi
            planes.append(dict(size=z, lo=min(r.r_min for r in vol.rings),
                               hi=max(r.r_max / np.cos(np.pi / r.n_phi) for r in vol.rings),
                               x0=vol.x0, role=SENSITIVE, volume=vol.id, layer=2 * (i + 1), first=n_modules,
                               ring_start=start, ring_stop=len(rings)))
            modules.append(_with_ids(m, vol, 2 * (i + 1)))
            n_modules += len(m["module"])
    cyl.sort(key=lambda s: s["size"])
    cyl.append(dict(size=card.envelope_radius, lo=0.0, hi=np.inf, x0=0.0, role=KILL))
    planes.sort(key=lambda s: s["size"])
    for z in (-card.envelope_half_length, card.envelope_half_length):
        planes.append(dict(size=z, lo=0.0, hi=np.inf, x0=0.0, role=KILL))
    surfaces = _surfaces(cyl, planes, rings)
    mods = Modules(**{key: np.concatenate([m[key] for m in modules]) for key in modules[0]})
    return surfaces, mods


def _with_ids(m: dict, vol, layer_id: int) -> dict:
    n = len(m["module"])
    return {
        **m,
        "volume": np.full(n, vol.id),
        "layer": np.full(n, layer_id),
        "half_t": np.full(n, vol.thickness / 2),
        "pitch_u": np.full(n, vol.pitch_u),
        "pitch_v": np.full(n, vol.pitch_v),
        "efficiency": np.full(n, vol.efficiency),
    }


def _surfaces(cyl: list[dict], planes: list[dict], rings: list[tuple]) -> Surfaces:
    rows = cyl + planes

    def col(key: str, default, dtype=float) -> np.ndarray:
        return np.array([r.get(key, default) for r in rows], dtype=dtype)

    ring_arr = np.array(rings, dtype=float).reshape(-1, 4)
    return Surfaces(
        n_cyl=len(cyl), size=col("size", 0.0), lo=col("lo", 0.0), hi=col("hi", np.inf), x0=col("x0", 0.0),
        role=col("role", PASSIVE, int), volume=col("volume", 0, int), layer=col("layer", 0, int),
        first=col("first", -1, int), n_phi=col("n_phi", 0, int), n_z=col("n_z", 0, int),
        ring_start=col("ring_start", 0, int), ring_stop=col("ring_stop", 0, int),
        ring_r_min=ring_arr[:, 0], ring_r_max=ring_arr[:, 1], ring_n_phi=ring_arr[:, 2].astype(int),
        ring_first=ring_arr[:, 3].astype(int),
    )


def detector_columns(modules: Modules) -> dict[str, np.ndarray]:
    """The modules as the columns of TrackML's ``detectors.csv`` (arXiv:1904.06778).

    The rotation matrix takes local ``(u, v, w)`` to global ``(x, y, z)``: its columns are the
    module's ``u``, ``v`` and ``w`` axes (``rot_xu`` is the x component of ``u``). ``module_t`` is
    the half thickness, ``module_minhu``/``module_maxhu``/``module_hv`` the half sizes.
    """
    out = {"volume_id": modules.volume, "layer_id": modules.layer, "module_id": modules.module,
           "cx": modules.centre[:, 0], "cy": modules.centre[:, 1], "cz": modules.centre[:, 2]}
    for i, axis in enumerate("xyz"):
        for name, vec in (("u", modules.u), ("v", modules.v), ("w", modules.w)):
            out[f"rot_{axis}{name}"] = vec[:, i]
    out.update(module_t=modules.half_t, module_minhu=modules.min_hu, module_maxhu=modules.max_hu,
               module_hv=modules.hv, pitch_u=modules.pitch_u, pitch_v=modules.pitch_v)
    return out
