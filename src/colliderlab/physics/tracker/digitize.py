"""From module crossings to measured hits: efficiency, cell clusters, noise.

A crossing makes a hit with its module's efficiency. The particle's straight path through the
sensor (thickness ``2 half_t``) lights the cells between its entry and exit points (a cluster of
``max(|d ch0|, |d ch1|) + 1`` cells along that line); the measured position is the centre of
the cluster's cells on the module's mid plane, so a pixel measures both local coordinates to
its pitch and a strip measures ``u`` only (``v`` is the strip's centre). Each cell carries an
equal share of the energy a minimum-ionising particle leaves in silicon along the path
(0.39 MeV/mm, PDG Review "Passage of particles through matter", Table 34.1's dE/dx_min x rho).
Noise hits are a Poisson number per module (mean ``noise_per_module``), uniform over its area,
one cell each.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from colliderlab.physics.tracker.geometry import Modules
from colliderlab.physics.tracker.propagate import Crossings

__all__ = ["Digits", "digitize", "noise", "local_coordinates"]

_DEDX = 0.39e-3  # GeV per mm of silicon for a minimum-ionising particle
_MAX_CELLS = 32


@dataclass
class Digits:
    """Hits ``(H,)``: module index, measured point (mm, ``(H, 3)``), the true point and momentum
    (noise: the measured point and zero), the particle row (-1: noise), and the cells
    ``(K,)``: hit index, ``ch0``, ``ch1``, ``value`` (GeV)."""

    module: np.ndarray
    measured: np.ndarray
    true_pos: np.ndarray
    true_mom: np.ndarray
    row: np.ndarray
    cell_hit: np.ndarray
    ch0: np.ndarray
    ch1: np.ndarray
    value: np.ndarray


def local_coordinates(points: np.ndarray, module: np.ndarray, modules: Modules) -> tuple[np.ndarray, ...]:
    """``(u, v, w)`` of global ``points`` ``(H, 3)`` in the frames of ``module`` ``(H,)``."""
    delta = points - modules.centre[module]
    return tuple(np.einsum("ij,ij->i", delta, axis[module]) for axis in (modules.u, modules.v, modules.w))


def _channels(u: np.ndarray, v: np.ndarray, m: np.ndarray, modules: Modules) -> tuple[np.ndarray, np.ndarray]:
    n0 = np.ceil(2 * modules.max_hu[m] / modules.pitch_u[m]).astype(int)
    n1 = np.ceil(2 * modules.hv[m] / modules.pitch_v[m]).astype(int)
    ch0 = np.clip(np.floor((u + modules.max_hu[m]) / modules.pitch_u[m]).astype(int), 0, n0 - 1)
    ch1 = np.clip(np.floor((v + modules.hv[m]) / modules.pitch_v[m]).astype(int), 0, n1 - 1)
    return ch0, ch1


def _cell_centres(ch0, ch1, m, modules: Modules) -> tuple[np.ndarray, np.ndarray]:
    return ((ch0 + 0.5) * modules.pitch_u[m] - modules.max_hu[m], (ch1 + 0.5) * modules.pitch_v[m] - modules.hv[m])


def _to_global(u: np.ndarray, v: np.ndarray, m: np.ndarray, modules: Modules) -> np.ndarray:
    """Global point of local ``(u, v)``, kept inside the module (an edge cell can overhang it)."""
    hv = modules.hv[m]
    v = np.clip(v, -hv, hv)
    hu = modules.min_hu[m] + (modules.max_hu[m] - modules.min_hu[m]) * (v + hv) / (2 * hv)
    u = np.clip(u, -hu, hu)
    return modules.centre[m] + u[:, None] * modules.u[m] + v[:, None] * modules.v[m]


def digitize(crossings: Crossings, modules: Modules, rng: np.random.Generator) -> Digits:
    """Hits and cells of the crossings that the modules' efficiency keeps."""
    keep = rng.random(len(crossings.module)) < modules.efficiency[crossings.module]
    m = crossings.module[keep]
    pos, mom = crossings.pos[keep], crossings.mom[keep]
    u, v, _ = local_coordinates(pos, m, modules)
    d = mom / np.linalg.norm(mom, axis=1, keepdims=True)
    du, dv, dw = (np.einsum("ij,ij->i", d, axis[m]) for axis in (modules.u, modules.v, modules.w))
    half_path = modules.half_t[m] / np.maximum(np.abs(dw), 0.05)  # half the path in the sensor
    c0_in, c1_in = _channels(u - du * half_path, v - dv * half_path, m, modules)
    c0_out, c1_out = _channels(u + du * half_path, v + dv * half_path, m, modules)
    n = np.minimum(np.maximum(np.abs(c0_out - c0_in), np.abs(c1_out - c1_in)) + 1, _MAX_CELLS)  # (H,)
    hit = np.repeat(np.arange(len(m)), n)
    first = np.repeat(np.cumsum(n) - n, n)
    frac = np.where(n[hit] > 1, (np.arange(len(hit)) - first) / np.maximum(n[hit] - 1, 1), 0.5)
    ch0 = np.rint(c0_in[hit] + frac * (c0_out - c0_in)[hit]).astype(int)
    ch1 = np.rint(c1_in[hit] + frac * (c1_out - c1_in)[hit]).astype(int)
    value = (_DEDX * 2 * half_path / n)[hit]
    uc, vc = _cell_centres(ch0, ch1, m[hit], modules)
    u_meas = np.bincount(hit, uc, len(m)) / n
    v_meas = np.bincount(hit, vc, len(m)) / n
    return Digits(module=m, measured=_to_global(u_meas, v_meas, m, modules), true_pos=pos, true_mom=mom,
                  row=crossings.row[keep], cell_hit=hit, ch0=ch0, ch1=ch1, value=value)


def noise(modules: Modules, per_module: float, rng: np.random.Generator) -> Digits:
    """Noise hits: Poisson(``per_module``) per module, uniform over its (trapezoidal) area."""
    counts = rng.poisson(per_module, len(modules)) if per_module > 0 else np.zeros(len(modules), int)
    m = np.repeat(np.arange(len(modules)), counts)
    hv = modules.hv[m]
    v = rng.uniform(-1, 1, len(m)) * hv
    hu = modules.min_hu[m] + (modules.max_hu[m] - modules.min_hu[m]) * (v + hv) / (2 * hv)
    u = rng.uniform(-1, 1, len(m)) * hu
    ch0, ch1 = _channels(u, v, m, modules)
    uc, vc = _cell_centres(ch0, ch1, m, modules)
    measured = _to_global(uc, vc, m, modules)
    return Digits(module=m, measured=measured, true_pos=measured.copy(), true_mom=np.zeros_like(measured),
                  row=np.full(len(m), -1), cell_hit=np.arange(len(m)), ch0=ch0, ch1=ch1,
                  value=_DEDX * 2 * modules.half_t[m])
