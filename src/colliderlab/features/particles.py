"""Particle-cloud and particle-sequence representations of jets (kinds ``particles``, ``sequence``).

Each jet keeps its ``n_particles`` hardest constituents (zero-padded), described relative to the
jet axis. Feature sets (the last axis of ``x``):

* ``"kinematic"`` (7): ``delta_eta, delta_phi, log_pt, log_e, log_pt_rel, log_e_rel, delta_r``,
  the kinematic inputs of ParticleNet (arXiv:1902.08570) and ParT (arXiv:2202.03772);
* ``"pid"`` (13): the kinematic ones plus ``charge`` and the five particle-flow flags
  ``is_charged_hadron, is_neutral_hadron, is_photon, is_electron, is_muon``: what a PDG id gives
  (EnergyFlow's quark/gluon files, arXiv:1810.05165);
* ``"full"`` (15): the ``"pid"`` ones plus ``tanh(d0), tanh(dz)`` (d0, dz in mm), as ParT's
  JetClass inputs;
* ``"auto"``: ``"kinematic"`` when no constituent has a charge or particle id; otherwise the
  largest of ``"full"``, ``"pid"``, ``"kinematic"`` whose fields the jets carry
  (:attr:`JetBatch.fields <colliderlab.jets.JetBatch>`, narrowed to a preset's information
  content by :func:`colliderlab.features.build.build_dataset`): ``"kinematic"`` on the public
  top-tagging files and the ``toptag`` preset, ``"pid"`` on the quark/gluon files and preset,
  ``"full"`` on JetClass and on samples of custom processes.
  A trained model needs one fixed set, so ``"auto"`` is resolved once on the training jets by
  :meth:`ParticlesConfig.resolve` (``colliderlab.features.build.build_dataset`` calls it before
  computing and stores the resolved config); :meth:`compute` on an unresolved config resolves on
  the batch it is given.

``delta_eta`` and ``delta_phi`` are pseudorapidity and azimuth differences to the jet axis
(``jets.jet_p4``, or the summed constituents for a jet whose ``jet_p4`` is zero), the ``_rel``
features divide by the jet's pT and energy. Padded slots are exactly zero in every array.
With ``orient`` the (Delta eta, Delta phi) plane of each jet is rotated so that the principal axis
of its pT is vertical and flipped so that most pT lies at positive coordinates (the jet-image
preprocessing of arXiv:1511.05190, :mod:`colliderlab.features.orientation`): ``delta_eta`` and
``delta_phi`` (and ``coords``) are then the rotated coordinates; ``p4`` is not rotated.

The ``sequence`` kind orders the kept constituents by decreasing pT, or as the leaves of their
kt / Cambridge-Aachen / anti-kt clustering tree met by a depth-first walk that always enters the
harder (higher-pT) branch first (the ordering of arXiv:1711.09059).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import ClassVar

import numpy as np

from colliderlab import kinematics as kin
from colliderlab.features.orientation import orient as _orient
from colliderlab.features.representations import check_finite, register_representation
from colliderlab.jets import JetBatch, ParticleID
from colliderlab.physics.substructure import clustering as _cluster

__all__ = [
    "KINEMATIC_FEATURES",
    "PID_FEATURES",
    "FULL_FEATURES",
    "FEATURE_SETS",
    "SEQUENCE_ORDERS",
    "ParticlesConfig",
    "SequenceConfig",
    "check_jets",
    "jet_axis",
    "hardest_constituents",
    "resolve_feature_set",
    "particle_arrays",
    "clustering_order",
]

KINEMATIC_FEATURES: tuple[str, ...] = (
    "delta_eta",
    "delta_phi",
    "log_pt",
    "log_e",
    "log_pt_rel",
    "log_e_rel",
    "delta_r",
)
PID_FEATURES: tuple[str, ...] = (
    *KINEMATIC_FEATURES,
    "charge",
    "is_charged_hadron",
    "is_neutral_hadron",
    "is_photon",
    "is_electron",
    "is_muon",
)
FULL_FEATURES: tuple[str, ...] = (*PID_FEATURES, "tanh_d0", "tanh_dz")
FEATURE_SETS: dict[str, tuple[str, ...]] = {
    "kinematic": KINEMATIC_FEATURES,
    "pid": PID_FEATURES,
    "full": FULL_FEATURES,
}
#: The JetBatch fields each feature set reads (the jet axis is ``jet_p4``, see :func:`jet_axis`).
FEATURE_FIELDS: dict[str, frozenset[str]] = {
    "kinematic": frozenset(("p4", "mask", "jet_p4")),
    "pid": frozenset(("p4", "mask", "jet_p4", "charge", "pid")),
    "full": frozenset(("p4", "mask", "jet_p4", "charge", "pid", "d0", "dz")),
}
SEQUENCE_ORDERS: tuple[str, ...] = ("pt", *_cluster.ALGORITHMS)

_PID_FLAGS = (
    ParticleID.CHARGED_HADRON,
    ParticleID.NEUTRAL_HADRON,
    ParticleID.PHOTON,
    ParticleID.ELECTRON,
    ParticleID.MUON,
)
# Floor (GeV) under pT and E inside logarithms, so that a zero-momentum constituent stays finite.
_LOG_FLOOR = 1e-8


# --------------------------------------------------------------------------------------------
# Helpers shared with the image and tree representations.
# --------------------------------------------------------------------------------------------
def check_jets(jets: JetBatch, what: str) -> None:
    """Raise ``ValueError`` unless ``jets`` is a JetBatch with finite momenta (naming the jet)."""
    if not isinstance(jets, JetBatch):
        raise ValueError(f"{what} needs a colliderlab.jets.JetBatch, got {type(jets).__name__}")
    check_finite({"p4": jets.p4, "jet_p4": jets.jet_p4}, what=f"{what} input")


def jet_axis(jets: JetBatch) -> np.ndarray:
    """The jet four-momentum: ``jets.jet_p4``, or the summed constituents where it is 0. (J, 4)"""
    axis = np.asarray(jets.jet_p4, np.float64)  # (J, 4)
    empty = ~np.any(axis != 0.0, axis=1)  # (J,)
    if empty.any():
        axis = axis.copy()
        axis[empty] = kin.sum_p4(jets.p4[empty], jets.mask[empty])
    return axis


def _needs_sort(pt: np.ndarray, mask: np.ndarray) -> bool:
    """False when the real constituents already form a pT-ordered prefix of every jet."""
    if mask.shape[1] < 2:
        return False
    prefix = ~np.any(mask[:, 1:] & ~mask[:, :-1])
    ordered = ~np.any(mask[:, 1:] & (pt[:, 1:] > pt[:, :-1]))
    return not (prefix and ordered)


def hardest_constituents(jets: JetBatch, n: int) -> JetBatch:
    """The ``n`` highest-pT constituents of each jet, pT-ordered, zero-padded to ``n`` slots."""
    pt = kin.pt(jets.p4)  # (J, P)
    if _needs_sort(pt, jets.mask):
        order = np.argsort(np.where(jets.mask, -pt, np.inf), axis=1, kind="stable")  # (J, P)
        fields = {
            k: np.take_along_axis(
                getattr(jets, k), order[:, :, None] if k == "p4" else order, axis=1
            )
            for k in JetBatch.PARTICLE_FIELDS
        }
        jets = replace(jets, **fields)
    return jets.truncate(n)


def resolve_feature_set(features: str, jets: JetBatch) -> str:
    """``"auto"`` -> ``"kinematic"`` if no constituent has a charge or pid, else the largest of
    ``"full"``, ``"pid"`` whose fields ``jets.fields`` holds (``"kinematic"`` if neither)."""
    if features != "auto":
        return features
    m = jets.mask
    has_id = bool(np.any((jets.charge != 0) & m) or np.any((jets.pid != 0) & m))
    if has_id:
        for name in ("full", "pid"):
            if FEATURE_FIELDS[name] <= jets.fields:
                return name
    return "kinematic"


def particle_arrays(jets: JetBatch, n_particles: int, features: str, orient: bool = False) -> dict[str, np.ndarray]:
    """Particle-cloud arrays of the ``n_particles`` hardest constituents of each jet.

    Args:
        jets: the jets (constituents in any slot order).
        n_particles: slots N kept per jet (the hardest constituents; zero-padded).
        features: ``"kinematic"``, ``"pid"`` or ``"full"`` (see the module docstring).
        orient: rotate and flip each jet's angular coordinates (see the module docstring).

    Returns:
        ``x`` (J, N, F) float32, ``mask`` (J, N) bool, ``coords`` (J, N, 2) float32
        (Delta eta, Delta phi), ``p4`` (J, N, 4) float32; padded slots are zero.
    """
    if features not in FEATURE_SETS:
        raise ValueError(f"unknown particle feature set {features!r}; valid: {', '.join(map(repr, FEATURE_SETS))}")
    axis = jet_axis(jets)  # (J, 4)
    sel = hardest_constituents(jets, n_particles)
    mask = sel.mask.copy()  # (J, N)
    rows, slots = np.nonzero(mask)  # (K,) the real constituents only
    q = sel.p4[rows, slots].astype(np.float64)  # (K, 4)
    pt = kin.pt(q)  # (K,)
    deta = kin.eta(q) - kin.eta(axis)[rows]  # (K,)
    dphi = kin.delta_phi(kin.phi(q), kin.phi(axis)[rows])  # (K,)
    if orient:
        deta, dphi = _orient(rows, pt, deta, dphi, len(mask))
    log_pt = np.log(np.maximum(pt, _LOG_FLOOR))
    log_e = np.log(np.maximum(q[:, 0], _LOG_FLOOR))
    n_feat = len(FEATURE_SETS[features])
    vals = np.empty((len(rows), n_feat))  # (K, F)
    vals[:, 0] = deta
    vals[:, 1] = dphi
    vals[:, 2] = log_pt
    vals[:, 3] = log_e
    vals[:, 4] = log_pt - np.log(np.maximum(kin.pt(axis), _LOG_FLOOR))[rows]
    vals[:, 5] = log_e - np.log(np.maximum(axis[:, 0], _LOG_FLOOR))[rows]
    vals[:, 6] = np.hypot(deta, dphi)
    if features in ("pid", "full"):
        pid = sel.pid[rows, slots]
        vals[:, 7] = sel.charge[rows, slots]
        for i, flag in enumerate(_PID_FLAGS):
            vals[:, 8 + i] = pid == flag
    if features == "full":
        vals[:, 13] = np.tanh(sel.d0[rows, slots].astype(np.float64))
        vals[:, 14] = np.tanh(sel.dz[rows, slots].astype(np.float64))
    j, n = mask.shape
    x = np.zeros((j, n, n_feat), np.float32)  # (J, N, F)
    x[rows, slots] = vals
    p4 = np.zeros((j, n, 4), np.float32)  # (J, N, 4)
    p4[rows, slots] = sel.p4[rows, slots]
    out = {"x": x, "mask": mask, "coords": x[..., :2].copy(), "p4": p4}
    check_finite(out, what="particles representation")
    return out


def clustering_order(p4: np.ndarray, mask: np.ndarray, algorithm: str) -> np.ndarray:
    """Depth-first leaf order of each jet's clustering tree, harder branch first (arXiv:1711.09059).

    Args:
        p4: (J, N, 4) constituents, real ones first (a prefix of ``mask`` per jet).
        mask: (J, N) bool.
        algorithm: ``"kt"``, ``"cambridge"`` or ``"antikt"`` (E-scheme, one jet per tree).

    Returns:
        (J, N) int64 permutation: slot k of the reordered jet takes constituent ``order[:, k]``;
        padded slots keep their place at the end.
    """
    j, n = mask.shape
    tree = _cluster.cluster(np.asarray(p4, np.float64), mask, algorithm)
    n_nodes = tree.node_p4.shape[1]
    leaves = np.zeros((j, n_nodes), np.int64)  # (J, 2n-1) constituents below each node
    leaves[:, :n] = mask
    for s in range(n - 1):  # bottom-up: merge s creates node n + s from earlier nodes
        rows = np.flatnonzero(tree.parents[:, s, 0] >= 0)
        if rows.size == 0:
            break
        a, b = tree.parents[rows, s, 0], tree.parents[rows, s, 1]  # (R,)
        leaves[rows, n + s] = leaves[rows, a] + leaves[rows, b]
    offset = np.zeros((j, n_nodes), np.int64)  # (J, 2n-1) first depth-first position under a node
    pt = kin.pt(tree.node_p4)  # (J, 2n-1)
    for s in range(n - 2, -1, -1):  # top-down: a node is placed before its children
        rows = np.flatnonzero(tree.parents[:, s, 0] >= 0)
        if rows.size == 0:
            continue
        a, b = tree.parents[rows, s, 0], tree.parents[rows, s, 1]  # (R,)
        a_first = pt[rows, a] >= pt[rows, b]  # (R,) harder child first
        hard, soft = np.where(a_first, a, b), np.where(a_first, b, a)
        start = offset[rows, n + s]  # (R,)
        offset[rows, hard] = start
        offset[rows, soft] = start + leaves[rows, hard]
    pos = np.where(mask, offset[:, :n], np.arange(n)[None, :])  # (J, N) position of each leaf
    order = np.empty((j, n), np.int64)
    np.put_along_axis(order, pos, np.broadcast_to(np.arange(n), (j, n)), axis=1)
    return order


def _check_options(kind: str, features: str, n_particles: int) -> None:
    valid = ("auto", *FEATURE_SETS)
    if features not in valid:
        raise ValueError(
            f"{kind}: unknown features {features!r}; valid: {', '.join(map(repr, valid))}"
        )
    if not isinstance(n_particles, (int, np.integer)) or n_particles < 1:
        raise ValueError(f"{kind}: n_particles must be a positive integer, got {n_particles!r}")


def _unresolved(kind: str, what: str) -> ValueError:
    return ValueError(
        f"{kind} representation with features='auto' has no fixed {what} yet; call config.resolve(jets) first"
    )


def _feature_names(kind: str, features: str) -> tuple[str, ...]:
    if features == "auto":
        raise _unresolved(kind, "feature names")
    return FEATURE_SETS[features]


def _input_fields(kind: str, features: str) -> frozenset[str]:
    if features == "auto":
        raise _unresolved(kind, "input fields")
    return FEATURE_FIELDS[features]


# --------------------------------------------------------------------------------------------
# Configs.
# --------------------------------------------------------------------------------------------
@register_representation
@dataclass(frozen=True)
class ParticlesConfig:
    """Point cloud of the ``n_particles`` hardest constituents (ParticleNet, ParT, PFN inputs).

    Arrays: ``x`` (J, N, F) float32, ``mask`` (J, N) bool, ``coords`` (J, N, 2) float32 raw
    (Delta eta, Delta phi; rotated and flipped with ``orient``), ``p4`` (J, N, 4) float32 raw
    (E, px, py, pz); F = 7 (kinematic), 13 (pid) or 15 (full). Feature sets and conventions:
    see :mod:`colliderlab.features.particles`.
    """

    kind: ClassVar[str] = "particles"
    standardize: ClassVar[tuple[str, ...]] = ("x",)

    n_particles: int = 128
    features: str = "auto"
    orient: bool = False

    def __post_init__(self) -> None:
        _check_options(self.kind, self.features, self.n_particles)

    def resolve(self, jets: JetBatch) -> ParticlesConfig:
        """The config with ``features="auto"`` replaced by the set these jets support."""
        return replace(self, features=resolve_feature_set(self.features, jets))

    def compute(self, jets: JetBatch) -> dict[str, np.ndarray]:
        check_jets(jets, f"{self.kind} representation")
        features = resolve_feature_set(self.features, jets)
        return particle_arrays(jets, self.n_particles, features, self.orient)

    def dims(self, arrays: dict[str, np.ndarray]) -> dict[str, int]:
        return {"n_features": int(arrays["x"].shape[-1])}

    def feature_names(self) -> tuple[str, ...]:
        return _feature_names(self.kind, self.features)

    def input_fields(self) -> frozenset[str]:
        """The JetBatch fields the arrays are computed from (resolved configs only)."""
        return _input_fields(self.kind, self.features)


@register_representation
@dataclass(frozen=True)
class SequenceConfig:
    """The ``particles`` arrays with the constituents in a sequence order (RNN inputs).

    ``order``: ``"pt"`` (decreasing pT) or ``"kt"`` / ``"cambridge"`` / ``"antikt"``: the
    depth-first leaf order of that clustering tree of the kept constituents, entering the harder
    branch first (arXiv:1711.09059). Padding stays at the end.
    """

    kind: ClassVar[str] = "sequence"
    standardize: ClassVar[tuple[str, ...]] = ("x",)

    n_particles: int = 128
    features: str = "auto"
    order: str = "cambridge"
    orient: bool = False

    def __post_init__(self) -> None:
        _check_options(self.kind, self.features, self.n_particles)
        if self.order not in SEQUENCE_ORDERS:
            raise ValueError(
                f"{self.kind}: unknown order {self.order!r}; "
                f"valid: {', '.join(map(repr, SEQUENCE_ORDERS))}"
            )

    def resolve(self, jets: JetBatch) -> SequenceConfig:
        """The config with ``features="auto"`` replaced by the set these jets support."""
        return replace(self, features=resolve_feature_set(self.features, jets))

    def compute(self, jets: JetBatch) -> dict[str, np.ndarray]:
        check_jets(jets, f"{self.kind} representation")
        out = particle_arrays(jets, self.n_particles, resolve_feature_set(self.features, jets), self.orient)
        if self.order != "pt":
            order = clustering_order(out["p4"], out["mask"], self.order)  # (J, N)
            out = {
                k: np.take_along_axis(v, order if v.ndim == 2 else order[:, :, None], axis=1)
                for k, v in out.items()
            }
        return out

    def dims(self, arrays: dict[str, np.ndarray]) -> dict[str, int]:
        return {"n_features": int(arrays["x"].shape[-1])}

    def feature_names(self) -> tuple[str, ...]:
        return _feature_names(self.kind, self.features)

    def input_fields(self) -> frozenset[str]:
        """The JetBatch fields the arrays are computed from (resolved configs only)."""
        return _input_fields(self.kind, self.features)
