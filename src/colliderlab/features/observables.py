"""Jet substructure observables, vectorised over jets and constituents.

Every function works on padded arrays, ``p4`` (N, P, 4) = (E, px, py, pz) and ``mask`` (N, P),
as stored in :class:`colliderlab.jets.JetBatch`; constituents may sit in any slot order.
Angles are FastJet's: Delta R uses the rapidity and azimuth, ``pt`` is the transverse momentum.
The definitions follow fastjet-contrib (Nsubjettiness, EnergyCorrelator, RecursiveTools) and
agree with it on Pythia jets to ~1e-13 relative (tau_N, e2, e3, C2, D2), ~1e-10 (soft-drop mass)
and ~3e-7 (M2, N2, whose triplet sums run in float32); see ``tests/features/test_observables.py``.

Jets are processed in blocks of similar multiplicity, trimmed to their largest multiplicity, so
the cost follows the real constituent counts and peak memory stays bounded.

Conventions for small jets: an empty jet gives zero everywhere; ratios whose denominator
vanishes (C2, D2, M2, N2 with fewer than two constituents, tau21 with one constituent, ...) are
set to zero instead of NaN; ``tau_N = 0`` for jets with at most N constituents, as in contrib.

Reference arXiv ids: N-subjettiness 1011.2268, 1108.2701; energy correlation functions
1305.0007, D2 1409.6298, generalised correlators M2/N2 1609.07483; soft drop / mMDT 1402.2657,
1307.0007; jet charge 1209.2421; pT_D 1211.7038; girth 1106.3076; hls4ml jet features 1804.06913.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from colliderlab import kinematics as kin
from colliderlab.jets import JetBatch
from colliderlab.physics.substructure import clustering as _cluster
from colliderlab.physics.substructure.blocks import (
    _ECF_BETAS,
    _N_TAU,
    _Block,
    _blocks,
    _check_finite,
    _ratio,
    _taus,
    nsubjettiness,
)

__all__ = [
    "OBSERVABLE_NAMES",
    "HLS4ML_FEATURES",
    "AVAILABLE_OBSERVABLES",
    "SoftDropResult",
    "compute_observables",
    "hls4ml_features",
    "nsubjettiness",
    "energy_correlators",
    "soft_drop",
    "girth",
    "ptd",
    "jet_charge",
    "zlogz",
]

OBSERVABLE_NAMES: tuple[str, ...] = (
    "mass",
    "pt",
    "eta",
    "phi",
    "n_constituents",
    "n_charged",
    "n_neutral",
    "tau1",
    "tau2",
    "tau3",
    "tau4",
    "tau21",
    "tau32",
    "e2_b1",
    "e3_b1",
    "c2_b1",
    "d2_b1",
    "e2_b2",
    "e3_b2",
    "c2_b2",
    "d2_b2",
    "m2_b1",
    "n2_b1",
    "m2_b2",
    "n2_b2",
    "mass_sd",
    "girth",
    "ptd",
    "jet_charge",
)
"""The default set returned by :func:`compute_observables`."""

HLS4ML_FEATURES: tuple[str, ...] = (
    "j_zlogz",
    "j_c1_b0_mmdt",
    "j_c1_b1_mmdt",
    "j_c1_b2_mmdt",
    "j_c2_b1_mmdt",
    "j_c2_b2_mmdt",
    "j_d2_b1_mmdt",
    "j_d2_b2_mmdt",
    "j_d2_a1_b1_mmdt",
    "j_d2_a1_b2_mmdt",
    "j_m2_b1_mmdt",
    "j_m2_b2_mmdt",
    "j_n2_b1_mmdt",
    "j_n2_b2_mmdt",
    "j_mass_mmdt",
    "j_multiplicity",
)
"""The 16 high-level inputs of the hls4ml LHC jet dataset (arXiv:1804.06913), in its column order."""

AVAILABLE_OBSERVABLES: tuple[str, ...] = (*OBSERVABLE_NAMES, "zlogz", *HLS4ML_FEATURES)
"""Every name :func:`compute_observables` accepts."""

_KAPPA = 0.3  # jet-charge exponent
_MMDT = (0.1, 0.0, 0.8)  # soft drop (z_cut, beta, R0) of mass_sd and the hls4ml features


# --------------------------------------------------------------------------------------------
# Observable groups: each fills a dict of (B,) arrays from one block.
# --------------------------------------------------------------------------------------------
def _kinematics(blk: _Block, r0: float) -> dict[str, np.ndarray]:
    jet = blk.jet_p4
    return {"mass": kin.mass(jet), "pt": kin.pt(jet), "eta": kin.eta(jet), "phi": kin.phi(jet)}


def _multiplicity(blk: _Block, r0: float) -> dict[str, np.ndarray]:
    total = blk.multiplicity
    charged = (blk.mask & (blk.charge != 0)).sum(axis=1)
    return {"n_constituents": total, "n_charged": charged, "n_neutral": total - charged}


def _nsub_group(blk: _Block, r0: float) -> dict[str, np.ndarray]:
    tau = _taus(blk, _N_TAU, 1.0, r0)
    out = {f"tau{i + 1}": tau[:, i] for i in range(_N_TAU)}
    out["tau21"] = _ratio(tau[:, 1], tau[:, 0])
    out["tau32"] = _ratio(tau[:, 2], tau[:, 1])
    return out


def _ecf_group(blk: _Block, r0: float) -> dict[str, np.ndarray]:
    out = {}
    for beta in _ECF_BETAS:
        e2, e3 = blk.ecf(beta)
        tag = f"b{int(beta)}"
        out |= {
            f"e2_{tag}": e2,
            f"e3_{tag}": e3,
            f"c2_{tag}": _ratio(e3, e2**2),
            f"d2_{tag}": _ratio(e3, e2**3),
        }
    return out


def _generalized_group(blk: _Block, r0: float) -> dict[str, np.ndarray]:
    out = {}
    for beta, (e3_min, e3_two) in blk.generalized.items():
        e2 = blk.ecf(beta)[0]
        tag = f"b{int(beta)}"
        out |= {f"m2_{tag}": _ratio(e3_min, e2), f"n2_{tag}": _ratio(e3_two, e2**2)}
    return out


def _softdrop_group(blk: _Block, r0: float) -> dict[str, np.ndarray]:
    groomed = blk.groomed_mask(*_MMDT)
    return {"mass_sd": kin.mass(np.where(groomed[..., None], blk.p4, 0.0).sum(axis=1))}


def _shape_group(blk: _Block, r0: float) -> dict[str, np.ndarray]:
    return {
        "girth": _girth(blk),
        "ptd": _ptd(blk),
        "jet_charge": _jet_charge(blk, _KAPPA),
        "zlogz": _zlogz(blk),
    }


def _girth(blk: _Block) -> np.ndarray:
    rap, phi = blk.rap_phi
    jet_rap, jet_phi = _cluster.rap_phi(blk.jet_p4)  # (B,)
    dr = np.sqrt(kin.delta_r2(rap, phi, jet_rap[:, None], jet_phi[:, None]))  # (B, n)
    return _ratio((blk.pt * dr).sum(axis=1), kin.pt(blk.jet_p4))


def _ptd(blk: _Block) -> np.ndarray:
    return _ratio(np.sqrt((blk.pt**2).sum(axis=1)), blk.pt_sum)


def _jet_charge(blk: _Block, kappa: float) -> np.ndarray:
    return _ratio((blk.charge * blk.pt**kappa).sum(axis=1), kin.pt(blk.jet_p4) ** kappa)


def _zlogz(blk: _Block) -> np.ndarray:
    z = blk.z
    return (z * np.log(np.where(z > 0, z, 1.0))).sum(axis=1)  # (B,)


def _hls4ml_group(blk: _Block, r0: float) -> dict[str, np.ndarray]:
    """hls4ml jet features: energy-correlator ratios of the mMDT-groomed jet (z_cut 0.1, beta 0)."""
    g = blk.subset(blk.groomed_mask(*_MMDT))
    e2_0, _ = g.ecf(0.0)
    (e2_1, e3_1), (e2_2, e3_2) = g.ecf(1.0), g.ecf(2.0)
    gen = g.generalized
    return {
        "j_zlogz": _zlogz(blk),
        "j_c1_b0_mmdt": e2_0,
        "j_c1_b1_mmdt": e2_1,
        "j_c1_b2_mmdt": e2_2,
        "j_c2_b1_mmdt": _ratio(e3_1, e2_1**2),
        "j_c2_b2_mmdt": _ratio(e3_2, e2_2**2),
        "j_d2_b1_mmdt": _ratio(e3_1, e2_1**3),
        "j_d2_b2_mmdt": _ratio(e3_2, e2_2**3),
        "j_d2_a1_b1_mmdt": _ratio(e3_1, e2_1**3),
        "j_d2_a1_b2_mmdt": _ratio(e3_1, e2_2**1.5),
        "j_m2_b1_mmdt": _ratio(gen[1.0][0], e2_1),
        "j_m2_b2_mmdt": _ratio(gen[2.0][0], e2_2),
        "j_n2_b1_mmdt": _ratio(gen[1.0][1], e2_1**2),
        "j_n2_b2_mmdt": _ratio(gen[2.0][1], e2_2**2),
        "j_mass_mmdt": kin.mass(g.jet_p4),
        "j_multiplicity": blk.multiplicity,
    }


# Observable groups: the names each one fills and the function computing them from a block.
_GROUPS: dict[str, tuple[tuple[str, ...], Callable[[_Block, float], dict[str, np.ndarray]]]] = {
    "kinematics": (("mass", "pt", "eta", "phi"), _kinematics),
    "multiplicity": (("n_constituents", "n_charged", "n_neutral"), _multiplicity),
    "nsub": (("tau1", "tau2", "tau3", "tau4", "tau21", "tau32"), _nsub_group),
    "ecf": (tuple(f"{o}_b{b}" for b in (1, 2) for o in ("e2", "e3", "c2", "d2")), _ecf_group),
    "generalized": (("m2_b1", "n2_b1", "m2_b2", "n2_b2"), _generalized_group),
    "softdrop": (("mass_sd",), _softdrop_group),
    "shapes": (("girth", "ptd", "jet_charge", "zlogz"), _shape_group),
    "hls4ml": (HLS4ML_FEATURES, _hls4ml_group),
}


def _resolve_names(names: Sequence[str] | None) -> tuple[str, ...]:
    if names is None:
        return OBSERVABLE_NAMES
    names = (names,) if isinstance(names, str) else tuple(names)
    unknown = [name for name in names if name not in AVAILABLE_OBSERVABLES]
    if unknown:
        raise ValueError(
            f"unknown observable name(s) {unknown}; valid names: {', '.join(AVAILABLE_OBSERVABLES)}"
        )
    return names


def _evaluate(
    p4: np.ndarray,
    mask: np.ndarray,
    charge: np.ndarray | None,
    names: tuple[str, ...],
    r0: float,
    chunk_size: int,
    progress: bool,
) -> dict[str, np.ndarray]:
    p4 = np.asarray(p4)
    mask = np.asarray(mask, bool)
    if p4.ndim != 3 or p4.shape[-1] != 4 or mask.shape != p4.shape[:2]:
        raise ValueError(f"expected p4 (N, P, 4) and mask (N, P), got {p4.shape} and {mask.shape}")
    _check_finite(p4)
    groups = [g for g, (members, _) in _GROUPS.items() if any(name in members for name in names)]
    out = {name: np.zeros(len(p4)) for name in names}
    for idx, blk in _blocks(p4, mask, charge, chunk_size, progress):
        for group in groups:
            for name, values in _GROUPS[group][1](blk, r0).items():
                if name in out:
                    out[name][idx] = values
    return out


# --------------------------------------------------------------------------------------------
# Public API.
# --------------------------------------------------------------------------------------------
def compute_observables(
    batch: JetBatch,
    *,
    r0: float = 0.8,
    names: Sequence[str] | None = None,
    chunk_size: int = 2048,
    progress: bool = False,
) -> dict[str, np.ndarray]:
    """Compute jet observables for every jet of a batch.

    The default set (:data:`OBSERVABLE_NAMES`): jet ``mass, pt, eta, phi`` (from the summed
    constituents), ``n_constituents, n_charged, n_neutral``, ``tau1..tau4, tau21, tau32``
    (beta = 1, normalised by ``r0``, one-pass kT axes), ``e2, e3, c2, d2`` and ``m2, n2`` at
    beta = 1 and 2 (``_b1``, ``_b2``), ``mass_sd`` (soft drop, z_cut = 0.1, beta = 0),
    ``girth``, ``ptd`` and ``jet_charge`` (kappa = 0.3). Also accepted: ``zlogz`` and the
    :data:`HLS4ML_FEATURES` names.

    Args:
        batch: jets with ``p4`` (N, P, 4), ``mask`` (N, P) and ``charge`` (N, P).
        r0: jet radius normalising N-subjettiness.
        names: observables to return (default :data:`OBSERVABLE_NAMES`); only what they need is computed.
        chunk_size: largest number of jets processed together (blocks are also capped so that
            jets x n^2 <= 4M, i.e. about 32 MiB per pairwise array).
        progress: show a tqdm bar over blocks.

    Returns:
        ``{name: (N,) float64}``.

    Raises:
        ValueError: unknown names (listing the valid ones), or a NaN/inf four-momentum (naming
            the jet index and constituent slot).
    """
    names = _resolve_names(names)
    out = _evaluate(batch.p4, batch.mask, batch.charge, names, r0, chunk_size, progress)
    return {name: out[name] for name in names}


def hls4ml_features(
    batch: JetBatch, *, chunk_size: int = 2048, progress: bool = False
) -> np.ndarray:
    """The 16 high-level features of the hls4ml LHC jet dataset (arXiv:1804.06913).

    Column order is :data:`HLS4ML_FEATURES`. The dataset's producer code is not public; this
    implementation follows the names with fastjet-contrib definitions, on the jet groomed by
    mMDT (soft drop z_cut = 0.1, beta = 0, arXiv:1402.2657) unless noted:

    * ``j_zlogz``: ``sum_i z_i ln z_i``, ``z_i = pt_i / sum pt`` over the ungroomed constituents;
    * ``j_c1_bB``: ``C1 = e2^(B)`` (``EnergyCorrelatorC1``), B = 0, 1, 2 (``e2^(0) = sum_{i<j} z_i z_j``);
    * ``j_c2_bB``, ``j_d2_bB``: ``C2 = e3 / e2^2``, ``D2 = e3 / e2^3`` (arXiv:1305.0007, 1409.6298);
    * ``j_d2_a1_bB``: ``D2^(alpha=1, beta=B) = e3^(1) / (e2^(B))^(3/B)`` (``EnergyCorrelatorGeneralizedD2``,
      arXiv:1409.6298), so ``j_d2_a1_b1`` equals ``j_d2_b1``;
    * ``j_m2_bB``, ``j_n2_bB``: ``M2 = 1e3 / e2``, ``N2 = 2e3 / e2^2`` (arXiv:1609.07483);
    * ``j_mass_mmdt``: groomed jet mass; ``j_multiplicity``: ungroomed constituent count.

    Returns:
        (N, 16) float32.
    """
    out = _evaluate(batch.p4, batch.mask, None, HLS4ML_FEATURES, 0.8, chunk_size, progress)
    return np.stack([out[name] for name in HLS4ML_FEATURES], axis=1).astype(np.float32)


def energy_correlators(
    p4: np.ndarray, mask: np.ndarray, *, beta: float = 1.0, chunk_size: int = 2048
) -> dict[str, np.ndarray]:
    """Energy correlation functions and their ratios at one angular exponent.

    ``e2 = ECF(2)/ECF(1)^2``, ``e3 = ECF(3)/ECF(1)^3`` with ``ECF(1) = sum pt_i`` (arXiv:1305.0007),
    ``c1 = e2``, ``c2 = e3 / e2^2 = ECF(3) ECF(1) / ECF(2)^2``, ``d2 = e3 / e2^3 = ECF(3) ECF(1)^3 / ECF(2)^3``
    (arXiv:1409.6298); generalised ``e3_min = 1e3``, ``e3_two = 2e3``, ``m2 = 1e3 / e2``, ``n2 = 2e3 / e2^2``
    (arXiv:1609.07483; only for beta 1 and 2).

    Args:
        p4: (N, P, 4); mask: (N, P); beta: angular exponent (0 allowed for e2/e3/c2/d2).

    Returns:
        ``{"e2", "e3", "c2", "d2"[, "e3_min", "e3_two", "m2", "n2"]}`` -> (N,) float64.
    """
    p4, mask = np.asarray(p4), np.asarray(mask, bool)
    _check_finite(p4)
    keys = ("e2", "e3", "c2", "d2") + (
        ("e3_min", "e3_two", "m2", "n2") if beta in _ECF_BETAS else ()
    )
    out = {key: np.zeros(len(p4)) for key in keys}
    for idx, blk in _blocks(p4, mask, None, chunk_size):
        e2, e3 = blk.ecf(beta)
        vals = {"e2": e2, "e3": e3, "c2": _ratio(e3, e2**2), "d2": _ratio(e3, e2**3)}
        if beta in _ECF_BETAS:
            e3_min, e3_two = blk.generalized[beta]
            vals |= {
                "e3_min": e3_min,
                "e3_two": e3_two,
                "m2": _ratio(e3_min, e2),
                "n2": _ratio(e3_two, e2**2),
            }
        for key in keys:
            out[key][idx] = vals[key]
    return out


@dataclass(frozen=True)
class SoftDropResult:
    """Groomed jets.

    Shapes:
        p4:   (N, 4) float64, groomed jet (E, px, py, pz)
        mask: (N, P) bool, constituents kept, in the input's slot order
    """

    p4: np.ndarray
    mask: np.ndarray

    @property
    def mass(self) -> np.ndarray:
        """Groomed jet mass. (N,)"""
        return kin.mass(self.p4)


def soft_drop(
    p4: np.ndarray,
    mask: np.ndarray,
    *,
    z_cut: float = 0.1,
    beta: float = 0.0,
    r0: float = 0.8,
    chunk_size: int = 2048,
) -> SoftDropResult:
    """Soft-drop grooming (arXiv:1402.2657); the defaults (beta = 0, z_cut = 0.1) are mMDT.

    The constituents are reclustered with Cambridge/Aachen (E-scheme, radius large enough to
    merge everything), then declustered from the top: a node with subjets 1, 2 is kept when
    ``min(pt1, pt2) / (pt1 + pt2) > z_cut (Delta R_12 / r0)^beta``, else the softer subjet is dropped
    and the harder one examined; a lone constituent is returned as is (contrib's grooming mode).

    Args:
        p4: (N, P, 4); mask: (N, P); z_cut, beta, r0: soft-drop parameters.

    Returns:
        :class:`SoftDropResult` with the groomed four-momenta and constituent mask.
    """
    p4, mask = np.asarray(p4), np.asarray(mask, bool)
    _check_finite(p4)
    out_p4 = np.zeros((len(p4), 4))
    out_mask = np.zeros(mask.shape, bool)
    for idx, blk in _blocks(p4, mask, None, chunk_size):
        groomed = blk.groomed_mask(z_cut, beta, r0)  # (B, n)
        out_p4[idx] = np.where(groomed[..., None], blk.p4, 0.0).sum(axis=1)
        rows, cols = np.nonzero(groomed)
        out_mask[idx[rows], blk.slots[rows, cols]] = True
    return SoftDropResult(out_p4, out_mask)


def _per_jet(
    fn, p4: np.ndarray, mask: np.ndarray, charge: np.ndarray | None = None, chunk_size: int = 2048
) -> np.ndarray:
    p4, mask = np.asarray(p4), np.asarray(mask, bool)
    _check_finite(p4)
    out = np.zeros(len(p4))
    for idx, blk in _blocks(p4, mask, charge, chunk_size):
        out[idx] = fn(blk)
    return out


def girth(p4: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Girth (linear radial moment) ``sum_i pt_i Delta R_i,jet / pt_jet`` (arXiv:1106.3076). (N,)"""
    return _per_jet(_girth, p4, mask)


def ptd(p4: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """pT_D ``= sqrt(sum_i pt_i^2) / sum_i pt_i`` (arXiv:1211.7038). (N,)"""
    return _per_jet(_ptd, p4, mask)


def jet_charge(
    p4: np.ndarray, mask: np.ndarray, charge: np.ndarray, *, kappa: float = 0.3
) -> np.ndarray:
    """pT-weighted jet charge ``Q_kappa = sum_i q_i pt_i^kappa / pt_jet^kappa`` (arXiv:1209.2421). (N,)"""
    return _per_jet(lambda blk: _jet_charge(blk, kappa), p4, mask, charge)


def zlogz(p4: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``sum_i z_i ln z_i`` with ``z_i = pt_i / sum_j pt_j`` (hls4ml's ``j_zlogz``). (N,)"""
    return _per_jet(_zlogz, p4, mask)
