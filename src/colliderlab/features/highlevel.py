"""High-level representations: a vector of observables per jet (kinds ``observables``, ``nsub``).

* ``observables``: any names accepted by
  :func:`colliderlab.features.observables.compute_observables`. The default, ``auto``, resolves
  on the training jets to the 18 inputs of the demo BDT (masses, multiplicities, N-subjettiness
  ratios, energy-correlator ratios, girth, pT_D) when they carry ``charge``, and to those without
  the charge-based ones (``n_charged``) when they do not: the public top-tagging files and the
  ``toptag`` preset carry four-vectors only.
* ``nsub``: the M-body N-subjettiness basis of Datta & Larkoski (arXiv:1704.08249), used for top
  tagging in arXiv:1807.04769:
  ``{tau_1^(0.5), tau_1^(1), tau_1^(2), ..., tau_{M-2}^(0.5), tau_{M-2}^(1), tau_{M-2}^(2),
  tau_{M-1}^(1), tau_{M-1}^(2)}``, 3M - 4 values, with the normalised measure (radius ``r0``) and
  one-pass exclusive-kT axes (:func:`colliderlab.features.observables.nsubjettiness`, as
  fastjet-contrib's ``OnePass_KT_Axes``; each beta has its own axes). ``tau_N = 0`` for jets with
  at most N constituents.

Both give ``x`` (J, F) float32, standardised per feature.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import ClassVar

import numpy as np

from colliderlab.features import observables as obs
from colliderlab.features.particles import check_jets
from colliderlab.features.representations import check_finite, register_representation
from colliderlab.jets import JetBatch

__all__ = ["DEFAULT_OBSERVABLES", "CHARGE_OBSERVABLES", "ObservablesConfig", "NSubConfig", "nsub_basis"]

# The 18 observables of the BDT baseline (the demo's BDT_FEATURES): no jet pT/eta/phi, which only
# reflect the selection.
DEFAULT_OBSERVABLES: tuple[str, ...] = (
    "mass",
    "mass_sd",
    "n_constituents",
    "n_charged",
    "tau1",
    "tau2",
    "tau3",
    "tau4",
    "tau21",
    "tau32",
    "c2_b1",
    "d2_b1",
    "c2_b2",
    "d2_b2",
    "m2_b1",
    "n2_b1",
    "girth",
    "ptd",
)

#: Observables that read the constituents' charges.
CHARGE_OBSERVABLES: frozenset[str] = frozenset(("n_charged", "n_neutral", "jet_charge"))
_FOUR_VECTORS = frozenset(("p4", "mask"))  # observables use the summed constituents as the jet

_NSUB_BETAS = (0.5, 1.0, 2.0)


def _check_r0(kind: str, r0: float) -> None:
    if not isinstance(r0, (int, float)) or not r0 > 0:
        raise ValueError(f"{kind}: r0 must be a positive number, got {r0!r}")


@register_representation
@dataclass(frozen=True)
class ObservablesConfig:
    """Jet observables by name (see :data:`colliderlab.features.observables.AVAILABLE_OBSERVABLES`).

    ``names = "auto"`` (the default) is resolved on the training jets by :meth:`resolve`:
    :data:`DEFAULT_OBSERVABLES`, without the :data:`CHARGE_OBSERVABLES` when the jets do not
    carry ``charge``. Arrays: ``x`` (J, F) float32 in the order of ``names``.
    """

    kind: ClassVar[str] = "observables"
    standardize: ClassVar[tuple[str, ...]] = ("x",)

    names: tuple[str, ...] = ("auto",)
    r0: float = 0.8

    def __post_init__(self) -> None:
        names = (self.names,) if isinstance(self.names, str) else tuple(self.names)
        object.__setattr__(self, "names", names)
        if not names:
            raise ValueError(f"{self.kind}: names must not be empty")
        if "auto" in names:
            if names != ("auto",):
                raise ValueError(f"{self.kind}: 'auto' stands alone in names, got {list(names)}")
            _check_r0(self.kind, self.r0)
            return
        unknown = [n for n in names if n not in obs.AVAILABLE_OBSERVABLES]
        if unknown:
            raise ValueError(
                f"{self.kind}: unknown observable name(s) {unknown}; valid: "
                f"{', '.join(obs.AVAILABLE_OBSERVABLES)}"
            )
        _check_r0(self.kind, self.r0)

    @property
    def resolved(self) -> bool:
        return self.names != ("auto",)

    def resolve(self, jets: JetBatch) -> ObservablesConfig:
        """The config with ``names="auto"`` replaced by the default set these jets support."""
        if self.resolved:
            return self
        names = DEFAULT_OBSERVABLES
        if "charge" not in jets.fields:
            names = tuple(n for n in names if n not in CHARGE_OBSERVABLES)
        return replace(self, names=names)

    def compute(self, jets: JetBatch) -> dict[str, np.ndarray]:
        check_jets(jets, f"{self.kind} representation")
        names = self.resolve(jets).names
        values = obs.compute_observables(jets, r0=self.r0, names=names)
        out = {"x": np.stack([values[n] for n in names], axis=1).astype(np.float32)}  # (J, F)
        check_finite(out, what=f"{self.kind} representation")
        return out

    def dims(self, arrays: dict[str, np.ndarray]) -> dict[str, int]:
        return {"n_features": int(arrays["x"].shape[-1])}

    def _check_resolved(self, what: str) -> None:
        if not self.resolved:
            raise ValueError(f"{self.kind} representation with names='auto' has no fixed {what} yet; "
                             "call config.resolve(jets) first")

    def feature_names(self) -> tuple[str, ...]:
        self._check_resolved("feature names")
        return self.names

    def input_fields(self) -> frozenset[str]:
        """The JetBatch fields read: four-vectors, and ``charge`` for :data:`CHARGE_OBSERVABLES`."""
        self._check_resolved("input fields")
        return _FOUR_VECTORS | ({"charge"} if CHARGE_OBSERVABLES & set(self.names) else set())


def nsub_basis(n_body: int) -> tuple[tuple[int, float], ...]:
    """The (N, beta) pairs of the ``n_body``-body N-subjettiness basis, in feature order."""
    pairs = [(n, beta) for n in range(1, n_body - 1) for beta in _NSUB_BETAS]
    pairs += [(n_body - 1, 1.0), (n_body - 1, 2.0)]
    return tuple(pairs)


@register_representation
@dataclass(frozen=True)
class NSubConfig:
    """M-body N-subjettiness basis (arXiv:1704.08249, 1807.04769): 3M - 4 values per jet.

    Arrays: ``x`` (J, 3M - 4) float32, features named ``tau{N}_b{beta}``.
    """

    kind: ClassVar[str] = "nsub"
    standardize: ClassVar[tuple[str, ...]] = ("x",)

    n_body: int = 6
    r0: float = 0.8

    def __post_init__(self) -> None:
        if not isinstance(self.n_body, (int, np.integer)) or self.n_body < 2:
            raise ValueError(f"{self.kind}: n_body must be an integer >= 2, got {self.n_body!r}")
        _check_r0(self.kind, self.r0)

    def compute(self, jets: JetBatch) -> dict[str, np.ndarray]:
        check_jets(jets, f"{self.kind} representation")
        basis = nsub_basis(self.n_body)
        taus = {}
        for beta in {b for _, b in basis}:
            n_max = max(n for n, b in basis if b == beta)
            taus[beta] = obs.nsubjettiness(
                jets.p4, jets.mask, n_max=n_max, beta=beta, r0=self.r0
            )  # (J, n_max)
        x = np.stack([taus[beta][:, n - 1] for n, beta in basis], axis=1)  # (J, 3M-4)
        out = {"x": x.astype(np.float32)}
        check_finite(out, what=f"{self.kind} representation")
        return out

    def dims(self, arrays: dict[str, np.ndarray]) -> dict[str, int]:
        return {"n_features": int(arrays["x"].shape[-1])}

    def feature_names(self) -> tuple[str, ...]:
        return tuple(f"tau{n}_b{beta:g}" for n, beta in nsub_basis(self.n_body))

    def input_fields(self) -> frozenset[str]:
        """The JetBatch fields read: the constituents' four-vectors."""
        return _FOUR_VECTORS
