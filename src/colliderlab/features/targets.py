"""Per-jet regression targets: what a regression head learns to predict.

A target is a named function of the jet's four-momentum (the clustered, detector-level jet) and
of its matched truth particle (top, W, Z, H or hard parton; see
:class:`colliderlab.jets.JetBatch`). Typical uses: calibrating the jet energy scale
(``truth_pt`` from the constituents), regressing the jet mass (``jet_mass``), or the truth
particle's mass for resonance jets (``truth_mass``). For calorimeter showers the measured
four-momentum is the visible energy (E_visible, 0, 0, 0) and the truth one the incident
particle's (E_inc, 0, 0, 0).

A :class:`TargetTransform` lets a head learn a relative target instead, ``t / r`` or
``log(t / r)`` with ``r`` a measured quantity of the same jet or shower (``visible_energy`` for
``incident_energy``, ``jet_pt`` for ``truth_pt``): a learned calibration on top of the
measurement, whose spread is the relative resolution at every energy.

    values = target_values("truth_pt", jets.jet_p4, jets.truth_p4)   # (J,) float64
    tf = TargetTransform.for_target("incident_energy", "log_ratio")  # reference: visible_energy
    r = tf.reference_values(jet_p4, truth_p4)
    y = tf.forward(values, r)                                        # what the head learns
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from colliderlab import kinematics as kin

__all__ = ["TARGETS", "TARGET_TRANSFORMS", "DEFAULT_REFERENCE", "TargetTransform", "target_values", "check_target"]


def _mass(p4: np.ndarray) -> np.ndarray:
    # Not kin.mass on purpose: a regression target clips m^2 < 0 to 0 (kin.mass keeps FastJet's
    # sign), and E^2 - |p|^2 is summed in this order so that targets stay bit-identical.
    return np.sqrt(np.maximum(p4[:, 0] ** 2 - (p4[:, 1:] ** 2).sum(1), 0.0))


# name -> (description, uses truth, function of a (J, 4) four-momentum array)
TARGETS: dict[str, tuple[str, bool, Callable[[np.ndarray], np.ndarray]]] = {
    "jet_pt": ("transverse momentum of the clustered jet, GeV", False, kin.pt),
    "jet_mass": ("invariant mass of the clustered jet, GeV", False, _mass),
    "jet_energy": ("energy of the clustered jet, GeV", False, lambda p4: p4[:, 0]),
    "jet_eta": ("pseudorapidity of the clustered jet", False, kin.eta),
    "truth_pt": ("transverse momentum of the matched truth particle, GeV", True, kin.pt),
    "truth_mass": ("mass of the matched truth particle, GeV", True, _mass),
    "truth_energy": ("energy of the matched truth particle, GeV", True, lambda p4: p4[:, 0]),
    "truth_eta": ("pseudorapidity of the matched truth particle", True, kin.eta),
    "incident_energy": ("energy of the particle entering the calorimeter (showers), GeV", True,
                        lambda p4: p4[:, 0]),
    "visible_energy": ("measured energy: a shower's summed cells (jets: the clustered jet's energy), GeV", False,
                       lambda p4: p4[:, 0]),
}

# name -> what the head learns for a target t and a measured reference r of the same jet or shower
TARGET_TRANSFORMS: dict[str, str] = {
    "none": "t itself (standardised)",
    "ratio": "t / r (standardised)",
    "log_ratio": "log(t / r) (standardised)",
}

# the measured counterpart of a truth target: the reference of a relative target unless one is named
DEFAULT_REFERENCE: dict[str, str] = {
    "incident_energy": "visible_energy",
    "truth_pt": "jet_pt",
    "truth_energy": "jet_energy",
    "truth_mass": "jet_mass",
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


@dataclass(frozen=True)
class TargetTransform:
    """What a regression head learns in place of its target t, and the way back.

    ``kind`` is ``"none"`` (t), ``"ratio"`` (t / r) or ``"log_ratio"`` (log(t / r)), with r the
    per-jet (per-shower) ``reference``: a measured quantity, one of the non-truth names of
    :data:`TARGETS` (``visible_energy``, ``jet_pt``, ...). A relative target turns the head into a
    learned calibration of the measurement: its spread is the relative resolution, of one size
    at all energies, so a squared-error loss weighs a 1 GeV shower as much as a 100 GeV one,
    and the network need not learn the multiplicative energy scale itself.

    Uncertainties of a Gaussian head are carried back by first-order propagation
    (:meth:`inverse_sigma`): exact for ``ratio`` (linear), sigma_t = t * sigma_y for
    ``log_ratio`` (the log-normal's relative width; accurate while sigma_y << 1).
    """

    kind: str = "none"
    reference: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in TARGET_TRANSFORMS:
            raise ValueError(f"target transform {self.kind!r} is not valid; choose one of {', '.join(TARGET_TRANSFORMS)}")
        measured = [k for k, (_, truth, _) in TARGETS.items() if not truth]
        if self.kind == "none":
            if self.reference is not None:
                raise ValueError(f"target reference {self.reference!r} needs a relative target transform "
                                 f"({', '.join(k for k in TARGET_TRANSFORMS if k != 'none')})")
        elif self.reference not in measured:
            raise ValueError(f"target transform {self.kind!r} needs a measured reference, not {self.reference!r}; "
                             f"choose one of {', '.join(measured)}")

    @classmethod
    def for_target(cls, target: str, kind: str = "none", reference: str | None = None) -> TargetTransform:
        """The transform ``kind`` of ``target``; the reference defaults to its measured
        counterpart (:data:`DEFAULT_REFERENCE`). Raises ``ValueError`` listing the valid choices."""
        check_target(target)
        if kind != "none" and reference is None:
            if target not in DEFAULT_REFERENCE:
                raise ValueError(f"target {target!r} has no default reference for transform {kind!r}; name one "
                                 f"(data.target_reference): {', '.join(k for k, v in TARGETS.items() if not v[1])}")
            reference = DEFAULT_REFERENCE[target]
        return cls(kind, reference)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> TargetTransform:
        """From :meth:`to_dict` (keys ``transform``, ``reference``; missing: no transform)."""
        d = d or {}
        return cls(d.get("transform", "none"), d.get("reference"))

    def to_dict(self) -> dict[str, Any]:
        return {"transform": self.kind, "reference": self.reference}

    def reference_values(self, jet_p4: np.ndarray, truth_p4: np.ndarray) -> np.ndarray | None:
        """(J,) float64 reference r of every jet or shower (None for ``none``); raises when one
        is not positive (the index is named)."""
        if self.kind == "none":
            return None
        r = target_values(self.reference, jet_p4, truth_p4)
        bad = np.flatnonzero(~(r > 0))
        if len(bad):
            raise ValueError(f"reference {self.reference!r} of a {self.kind} target must be positive; "
                             f"{len(bad)} of {len(r)} entries are not (first: index {bad[0]}, value {r[bad[0]]!r})")
        return r

    def forward(self, t: np.ndarray, r: np.ndarray | None) -> np.ndarray:
        """What the head learns from targets t (J,) or (J, 1) and references r (J,)."""
        t = np.asarray(t, np.float64)
        if self.kind == "none":
            return t
        r = np.asarray(r, np.float64).reshape((-1,) + (1,) * (t.ndim - 1))
        if self.kind == "ratio":
            return t / r
        bad = np.flatnonzero(~(t.reshape(-1) > 0))
        if len(bad):
            raise ValueError(f"a log_ratio target must be positive; {len(bad)} are not (first: index {bad[0]})")
        return np.log(t / r)

    def inverse(self, y: np.ndarray, r: np.ndarray | None) -> np.ndarray:
        """Targets from what the head predicts: y (J,) or (J, 1) -> same shape, in t's units."""
        y = np.asarray(y, np.float64)
        if self.kind == "none":
            return y
        r = np.asarray(r, np.float64).reshape((-1,) + (1,) * (y.ndim - 1))
        return y * r if self.kind == "ratio" else np.exp(y) * r

    def inverse_sigma(self, y: np.ndarray, sigma_y: np.ndarray, r: np.ndarray | None) -> np.ndarray:
        """The uncertainty of :meth:`inverse` (y) from the head's sigma_y, first order (shapes of y)."""
        sigma_y = np.asarray(sigma_y, np.float64)
        if self.kind == "none":
            return sigma_y
        r = np.asarray(r, np.float64).reshape((-1,) + (1,) * (sigma_y.ndim - 1))
        return sigma_y * r if self.kind == "ratio" else sigma_y * self.inverse(y, r)
