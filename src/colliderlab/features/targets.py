"""Per-jet regression targets: what a regression head learns to predict.

A target is a named function of the jet's four-momentum (the clustered, detector-level jet) and
of its matched truth particle (top, W, Z, H or hard parton; see
:class:`colliderlab.jets.JetBatch`). Typical uses: calibrating the jet energy scale
(``truth_pt`` from the constituents), regressing the jet mass (``jet_mass``), or the truth
particle's mass for resonance jets (``truth_mass``).

    values = target_values("truth_pt", jets.jet_p4, jets.truth_p4)   # (J,) float64
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["TARGETS", "target_values", "check_target"]


def _pt(p4: np.ndarray) -> np.ndarray:
    return np.hypot(p4[:, 1], p4[:, 2])


def _mass(p4: np.ndarray) -> np.ndarray:
    return np.sqrt(np.maximum(p4[:, 0] ** 2 - (p4[:, 1:] ** 2).sum(1), 0.0))


def _eta(p4: np.ndarray) -> np.ndarray:
    pt = np.maximum(_pt(p4), 1e-12)
    return np.arcsinh(p4[:, 3] / pt)


# name -> (description, uses truth, function of a (J, 4) four-momentum array)
TARGETS: dict[str, tuple[str, bool, Callable[[np.ndarray], np.ndarray]]] = {
    "jet_pt": ("transverse momentum of the clustered jet, GeV", False, _pt),
    "jet_mass": ("invariant mass of the clustered jet, GeV", False, _mass),
    "jet_energy": ("energy of the clustered jet, GeV", False, lambda p4: p4[:, 0]),
    "jet_eta": ("pseudorapidity of the clustered jet", False, _eta),
    "truth_pt": ("transverse momentum of the matched truth particle, GeV", True, _pt),
    "truth_mass": ("mass of the matched truth particle, GeV", True, _mass),
    "truth_energy": ("energy of the matched truth particle, GeV", True, lambda p4: p4[:, 0]),
    "truth_eta": ("pseudorapidity of the matched truth particle", True, _eta),
    "incident_energy": ("energy of the particle entering the calorimeter (showers), GeV", True,
                        lambda p4: p4[:, 0]),
}


def check_target(name: str) -> None:
    """Raise a ``KeyError`` listing the valid targets when ``name`` is not one."""
    if name not in TARGETS:
        raise KeyError(f"unknown regression target {name!r}; valid targets: {', '.join(TARGETS)}")


def target_values(name: str, jet_p4: np.ndarray, truth_p4: np.ndarray) -> np.ndarray:
    """The target ``name`` for every jet.

    Args:
        jet_p4: (J, 4) clustered jets (E, px, py, pz) in GeV.
        truth_p4: (J, 4) matched truth particles (zeros where a jet has none).
    Returns:
        (J,) float64.
    Raises:
        KeyError: unknown name (the valid ones are listed).
        ValueError: a truth target on jets without a matched truth particle (the first is named).
    """
    check_target(name)
    _, uses_truth, fn = TARGETS[name]
    p4 = np.asarray(truth_p4 if uses_truth else jet_p4, np.float64)
    if p4.ndim != 2 or p4.shape[1] != 4:
        raise ValueError(f"{'truth_p4' if uses_truth else 'jet_p4'} must have shape (J, 4), got {p4.shape}")
    if uses_truth:
        missing = np.flatnonzero(~np.any(p4 != 0, axis=1))
        if len(missing):
            raise ValueError(
                f"target {name!r} needs a matched truth particle, but {len(missing)} of {len(p4)} jets "
                f"have none (first: jet {missing[0]}); choose a jet_* target or a file with truth"
            )
    out = fn(p4)
    bad = np.flatnonzero(~np.isfinite(out))
    if len(bad):
        raise ValueError(f"target {name!r} is not finite for {len(bad)} jets (first: jet {bad[0]})")
    return out
