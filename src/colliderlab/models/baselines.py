"""Classical (non-deep) baselines on jet feature matrices, with one interface.

Every baseline is built as ``Cls(config=None, feature_names=())`` and offers
``fit(x (N, F), y (N,), x_val=None, y_val=None) -> self``, ``predict_proba(x) -> (N, C)``,
``score(x) -> (N,)`` (probability of the last class, the signal of a binary task),
``save(path) -> Path`` and the classmethod ``load(path)``; the same shape as
:class:`colliderlab.models.bdt.BDTClassifier`.

* :class:`CutBased`: the classic top tagger, a jet-mass window plus an upper cut on tau32
  (N-subjettiness ratio, arXiv:1011.2268; soft-drop mass arXiv:1402.2657). See the class for
  how it is fitted and how its score is made continuous for a ROC curve.
* :class:`Fisher`: Fisher's linear discriminant (scikit-learn ``LinearDiscriminantAnalysis``).
* :class:`Logistic`: standardised logistic regression (scikit-learn ``LogisticRegression``).
* :class:`EFPLinear`: Fisher's discriminant on energy flow polynomials, the linear EFP classifier
  of Komiske, Metodiev, Thaler (arXiv:1712.07124).

The linear models are fitted with scikit-learn, then kept as plain arrays (scaler mean/scale,
coefficients, intercepts) and evaluated in numpy; saving writes those arrays to JSON (exact
round trip, no pickles). :data:`BASELINES` maps names to ``(config class, class)`` and
:func:`create_baseline` builds one by name (the xgboost BDT is the ``"bdt"`` entry).
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from colliderlab.atomic import write_text
from colliderlab.checks import check_matrix
from colliderlab.configs import from_dict
from colliderlab.models.bdt import BDTClassifier, BDTConfig
from colliderlab.models.regressors import (
    BDTRegressor,
    BDTRegressorConfig,
    LinearRegressionConfig,
    LinearRegressor,
)
from colliderlab.models.spec import ModelSpec

__all__ = [
    "CutBasedConfig",
    "CutBased",
    "FisherConfig",
    "Fisher",
    "LogisticConfig",
    "Logistic",
    "EFPLinearConfig",
    "EFPLinear",
    "BASELINES",
    "BASELINE_SPECS",
    "create_baseline",
]


def _check_x(x: np.ndarray, feature_names: tuple[str, ...], name: str = "X") -> np.ndarray:
    """(N, F) float64 copy of ``x``; wrong shapes and non-finite entries are named."""
    return check_matrix(x, name, feature_names=feature_names, dtype=np.float64)


def _check_y(y: np.ndarray, n: int) -> np.ndarray:
    y = np.asarray(y)
    if y.shape != (n,):
        raise ValueError(f"y must have shape ({n},) (N,), got {y.shape}")
    if y.size and (y.min() < 0 or np.any(y != np.round(y))):
        raise ValueError("y must hold integer class labels 0 .. C-1")
    return y.astype(np.int64)


def _write_json(path: str | os.PathLike, payload: dict[str, Any]) -> Path:
    """Write ``payload`` to ``path`` (suffix .json) atomically."""
    return write_text(Path(path).with_suffix(".json"), json.dumps(payload))


def _read_json(path: str | os.PathLike, kind: str) -> dict[str, Any]:
    path = Path(path).with_suffix(".json")
    payload = json.loads(path.read_text())
    if payload.get("kind") != kind:
        raise ValueError(f"{path} holds a {payload.get('kind')!r} baseline, not {kind!r}")
    return payload


class _Baseline:
    """Common plumbing: config, feature names, score, the fitted-state check."""

    kind = ""
    config_cls: type = object

    def __init__(self, config: Any = None, feature_names: Sequence[str] = ()) -> None:
        self.config = config if config is not None else self.config_cls()
        self.feature_names = tuple(feature_names)
        self.n_classes = 0

    def _require_fit(self) -> None:
        if not self.n_classes:
            raise RuntimeError(f"{type(self).__name__}.predict_proba called before fit/load")

    def predict_proba(self, x: np.ndarray) -> np.ndarray:  # pragma: no cover - overridden
        raise NotImplementedError

    def score(self, x: np.ndarray) -> np.ndarray:
        """Signal score: probability of the last class. (N,)"""
        return self.predict_proba(x)[:, -1]


# --------------------------------------------------------------------------------------------
# Cut-based tagger
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CutBasedConfig:
    """Configuration of :class:`CutBased`.

    ``mass_features`` is an order of preference: the first one present in the feature names is
    the mass the window cuts on. ``signal_efficiency`` is the working point the cuts are
    optimised for; ``n_edges`` the number of signal-mass quantiles scanned for each window edge.
    """

    mass_features: tuple[str, ...] = ("mass_sd", "mass")
    shape_feature: str = "tau32"
    signal_efficiency: float = 0.5
    n_edges: int = 16

    def __post_init__(self) -> None:
        if not 0.0 < self.signal_efficiency <= 1.0:
            raise ValueError(f"signal_efficiency must be in (0, 1], got {self.signal_efficiency}")
        if self.n_edges < 2:
            raise ValueError(f"n_edges must be >= 2, got {self.n_edges}")


class CutBased(_Baseline):
    """Mass window plus upper tau32 cut, the standard cut-based top tagger (binary only).

    Fit: window edges ``lo < hi`` are scanned over a grid of signal-mass quantiles (lower edges
    from the 0-50% quantiles, upper ones from 50-100%); for each window the tau32 cut is the one
    giving the target total signal efficiency ``config.signal_efficiency`` (windows keeping less
    signal than that are skipped), and the window with the smallest background efficiency at
    that point wins (ties: the wider window). The fitted cuts are ``mass_window`` and
    ``tau32_max``; :meth:`predict` applies them (0/1).

    Score, for ROC curves: inside the window ``p = 0.5 + 0.5 (1 - tau32)``, outside
    ``p = 0.5 (1 - tau32) / 2``, with tau32 clipped to [0, 1]: every jet in the window ranks above
    every jet outside, and tau32 orders jets within each group; ``p >= 0.5 + 0.5 (1 - tau32_max)``
    is exactly the fitted working point. ``predict_proba`` returns ``[1 - p, p]``.
    """

    kind = "cut_based"
    config_cls = CutBasedConfig

    def __init__(self, config: CutBasedConfig | None = None, feature_names: Sequence[str] = ()) -> None:
        super().__init__(config, feature_names)
        self.mass_window = (float("nan"), float("nan"))
        self.tau32_max = float("nan")

    def _columns(self) -> tuple[int, int]:
        names = self.feature_names
        if not names:
            raise ValueError("CutBased needs feature_names (e.g. from compute_observables) to find its columns")
        mass = next((n for n in self.config.mass_features if n in names), None)
        if mass is None or self.config.shape_feature not in names:
            raise ValueError(
                f"CutBased needs one of {list(self.config.mass_features)} and "
                f"{self.config.shape_feature!r} among the feature names; got {list(names)}"
            )
        return names.index(mass), names.index(self.config.shape_feature)

    def fit(
        self, x: np.ndarray, y: np.ndarray, x_val: np.ndarray | None = None, y_val: np.ndarray | None = None
    ) -> CutBased:
        """Choose the mass window and tau32 cut on ``(x, y)`` (the validation set is not used)."""
        x = _check_x(x, self.feature_names)
        y = _check_y(y, len(x))
        if set(np.unique(y)) != {0, 1}:
            raise ValueError(f"CutBased is a binary tagger: y must contain labels 0 and 1, got {np.unique(y)}")
        i_mass, i_tau = self._columns()
        mass, tau = x[:, i_mass], x[:, i_tau]
        sig = y == 1
        eff = self.config.signal_efficiency
        n_sig, n_bkg = sig.sum(), (~sig).sum()
        k = self.config.n_edges
        lows = np.unique(np.quantile(mass[sig], np.linspace(0.0, 0.5, k)))
        highs = np.unique(np.quantile(mass[sig], np.linspace(0.5, 1.0, k)))
        best = (np.inf, -np.inf, (0.0, 0.0), 0.0)  # (eps_B, -width, window, tau cut)
        for lo in lows:  # a loop over candidate windows; each step is vectorised over jets
            for hi in highs[highs > lo]:
                inside = (mass >= lo) & (mass <= hi)
                tau_sig = np.sort(tau[sig & inside])
                n_needed = int(np.ceil(eff * n_sig - 1e-9))
                if n_needed == 0 or len(tau_sig) < n_needed:
                    continue
                cut = tau_sig[n_needed - 1]  # keeps >= n_needed signal jets in the window
                eps_b = np.sum(~sig & inside & (tau <= cut)) / max(n_bkg, 1)
                key = (eps_b, -(hi - lo))
                if key < best[:2]:
                    best = (eps_b, -(hi - lo), (float(lo), float(hi)), float(cut))
        if not np.isfinite(best[0]):
            raise ValueError(f"no mass window keeps a signal efficiency of {eff}")
        self.mass_window, self.tau32_max = best[2], best[3]
        self.n_classes = 2
        return self

    def _signal_prob(self, x: np.ndarray) -> np.ndarray:
        self._require_fit()
        x = _check_x(x, self.feature_names)
        i_mass, i_tau = self._columns()
        lo, hi = self.mass_window
        inside = (x[:, i_mass] >= lo) & (x[:, i_mass] <= hi)  # (N,)
        shape = 1.0 - np.clip(x[:, i_tau], 0.0, 1.0)  # (N,) larger = more three-pronged
        return np.where(inside, 0.5 + 0.5 * shape, 0.25 * shape)  # (N,)

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        p = self._signal_prob(x)
        return np.stack([1.0 - p, p], axis=1)  # (N, 2)

    def n_params(self) -> int:
        """The two mass-window edges and the tau32 cut."""
        return 3

    def predict(self, x: np.ndarray) -> np.ndarray:
        """0/1 decision of the fitted cuts (mass in window and tau32 <= tau32_max). (N,)"""
        threshold = 0.5 + 0.5 * (1.0 - np.clip(self.tau32_max, 0.0, 1.0))
        return (self._signal_prob(x) >= threshold).astype(np.int64)

    def save(self, path: str | os.PathLike) -> Path:
        """Save cuts + config as JSON; returns the written path."""
        self._require_fit()
        return _write_json(path, {
            "kind": self.kind, "config": asdict(self.config), "feature_names": list(self.feature_names),
            "mass_window": list(self.mass_window), "tau32_max": self.tau32_max,
        })

    @classmethod
    def load(cls, path: str | os.PathLike) -> CutBased:
        d = _read_json(path, cls.kind)
        obj = cls(from_dict(CutBasedConfig, d["config"], "config"), tuple(d["feature_names"]))
        obj.mass_window = (float(d["mass_window"][0]), float(d["mass_window"][1]))
        obj.tau32_max = float(d["tau32_max"])
        obj.n_classes = 2
        return obj


# --------------------------------------------------------------------------------------------
# Linear models
# --------------------------------------------------------------------------------------------


class _Linear(_Baseline):
    """A fitted linear model kept as arrays: standardise with (mean, scale), then
    ``decision = x_std @ coef.T + intercept``; probabilities are the logistic function of the
    decision for 2 classes and its softmax otherwise (as scikit-learn's ``predict_proba`` of
    both LDA and logistic regression)."""

    def __init__(self, config: Any = None, feature_names: Sequence[str] = ()) -> None:
        super().__init__(config, feature_names)
        self.mean = np.zeros(0)
        self.scale = np.ones(0)
        self.coef = np.zeros((0, 0))  # (1, F) for 2 classes, (C, F) otherwise
        self.intercept = np.zeros(0)

    def _estimator(self) -> Any:  # pragma: no cover - overridden
        raise NotImplementedError

    def n_params(self) -> int:
        """Fitted weights and intercepts."""
        return int(self.coef.size + self.intercept.size)

    def fit(
        self, x: np.ndarray, y: np.ndarray, x_val: np.ndarray | None = None, y_val: np.ndarray | None = None
    ) -> _Linear:
        """Fit on ``(x, y)``; the validation set is not used (no early stopping for these)."""
        x = _check_x(x, self.feature_names)
        y = _check_y(y, len(x))
        classes = np.unique(y)
        if len(classes) < 2 or not np.array_equal(classes, np.arange(len(classes))):
            raise ValueError(f"y must contain every class 0 .. C-1 (C >= 2), got {classes}")
        if self.config.standardize:
            self.mean = x.mean(axis=0)
            scale = x.std(axis=0)
            self.scale = np.where(scale > 0, scale, 1.0)
        else:
            self.mean, self.scale = np.zeros(x.shape[1]), np.ones(x.shape[1])
        est = self._estimator().fit((x - self.mean) / self.scale, y)
        self.coef = np.atleast_2d(np.asarray(est.coef_, dtype=np.float64))
        self.intercept = np.atleast_1d(np.asarray(est.intercept_, dtype=np.float64))
        self.n_classes = len(classes)
        return self

    def decision_function(self, x: np.ndarray) -> np.ndarray:
        """Linear discriminant; (N,) for 2 classes, (N, C) otherwise."""
        self._require_fit()
        x = _check_x(x, self.feature_names)
        if x.shape[1] != self.coef.shape[1]:
            raise ValueError(f"X has {x.shape[1]} features, the model was fitted on F = {self.coef.shape[1]}")
        d = ((x - self.mean) / self.scale) @ self.coef.T + self.intercept  # (N, 1) or (N, C)
        return d[:, 0] if self.n_classes == 2 else d

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        d = self.decision_function(x)
        if self.n_classes == 2:
            p = 0.5 * (1.0 + np.tanh(0.5 * d))  # (N,) logistic function, overflow-free
            return np.stack([1.0 - p, p], axis=1)  # (N, 2)
        d = d - d.max(axis=1, keepdims=True)
        e = np.exp(d)
        return e / e.sum(axis=1, keepdims=True)  # (N, C)

    def save(self, path: str | os.PathLike) -> Path:
        """Save arrays + config as JSON (floats round-trip exactly); returns the written path."""
        self._require_fit()
        return _write_json(path, {
            "kind": self.kind, "config": asdict(self.config), "feature_names": list(self.feature_names),
            "n_classes": self.n_classes, "mean": self.mean.tolist(), "scale": self.scale.tolist(),
            "coef": self.coef.tolist(), "intercept": self.intercept.tolist(),
        })

    @classmethod
    def load(cls, path: str | os.PathLike) -> Any:
        d = _read_json(path, cls.kind)
        obj = cls(from_dict(cls.config_cls, d["config"], "config"), tuple(d["feature_names"]))
        obj.n_classes = int(d["n_classes"])
        obj.mean, obj.scale = np.asarray(d["mean"]), np.asarray(d["scale"])
        obj.coef = np.asarray(d["coef"], dtype=np.float64).reshape(-1, len(obj.mean))
        obj.intercept = np.asarray(d["intercept"], dtype=np.float64)
        return obj


@dataclass(frozen=True)
class FisherConfig:
    """Configuration of :class:`Fisher`. ``shrinkage`` (None, "auto" or a float in [0, 1])
    regularises the covariance (scikit-learn's lsqr solver); None uses the plain SVD solver."""

    shrinkage: float | str | None = None
    standardize: bool = True


class Fisher(_Linear):
    """Fisher's linear discriminant (LDA) on a feature matrix. ``predict_proba(x (N, F)) -> (N, C)``."""

    kind = "fisher"
    config_cls = FisherConfig

    def _estimator(self) -> Any:
        from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

        if self.config.shrinkage is None:
            return LinearDiscriminantAnalysis(solver="svd")
        return LinearDiscriminantAnalysis(solver="lsqr", shrinkage=self.config.shrinkage)


@dataclass(frozen=True)
class EFPLinearConfig:
    """Configuration of :class:`EFPLinear` (as :class:`FisherConfig`)."""

    shrinkage: float | str | None = None
    standardize: bool = True


class EFPLinear(Fisher):
    """Fisher's linear discriminant on energy flow polynomials (arXiv:1712.07124): EFPs form a
    linear basis of IRC-safe observables, so a linear classifier on them is already expressive.
    ``predict_proba(x (N, n_efp)) -> (N, C)``."""

    kind = "efp_linear"
    config_cls = EFPLinearConfig


@dataclass(frozen=True)
class LogisticConfig:
    """Configuration of :class:`Logistic`: ``c`` is scikit-learn's inverse L2 strength ``C``."""

    c: float = 1.0
    max_iter: int = 1000
    standardize: bool = True

    def __post_init__(self) -> None:
        if self.c <= 0:
            raise ValueError(f"c must be > 0, got {self.c}")


class Logistic(_Linear):
    """Logistic regression on standardised features. ``predict_proba(x (N, F)) -> (N, C)``."""

    kind = "logistic"
    config_cls = LogisticConfig

    def _estimator(self) -> Any:
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(C=self.config.c, max_iter=self.config.max_iter)


# --------------------------------------------------------------------------------------------
# Registry of baselines
# --------------------------------------------------------------------------------------------


FEATURE_MATRICES = ("observables", "efp", "nsub", "calo_features")
"""Representations whose ``x`` is one (N, F) feature matrix: what every baseline takes."""


def _spec(name: str, config_cls: type, cls: type, task: str, backend: str, representation: str,
          description: str) -> ModelSpec:
    """A baseline's spec; ``representation`` (its default) comes first among the feature matrices."""
    reps = (representation, *(r for r in FEATURE_MATRICES if r != representation))
    return ModelSpec(name, cls, config_cls, reps, description=description, tasks=(task,), backend=backend)


BASELINE_SPECS: dict[str, ModelSpec] = {s.name: s for s in (
    _spec("cut_based", CutBasedConfig, CutBased, "classifier", "numpy", "observables",
          "mass window and tau32 cut"),
    _spec("fisher", FisherConfig, Fisher, "classifier", "sklearn", "observables", "Fisher discriminant"),
    _spec("logistic", LogisticConfig, Logistic, "classifier", "sklearn", "observables", "logistic regression"),
    _spec("efp_linear", EFPLinearConfig, EFPLinear, "classifier", "sklearn", "efp",
          "Fisher discriminant on energy flow polynomials"),
    _spec("bdt", BDTConfig, BDTClassifier, "classifier", "xgboost", "observables", "gradient-boosted trees"),
    # regression baselines (``predict`` instead of ``predict_proba``; need ``data.target``)
    _spec("linear_regression", LinearRegressionConfig, LinearRegressor, "regressor", "numpy", "observables",
          "(ridge) least squares"),
    _spec("bdt_regression", BDTRegressorConfig, BDTRegressor, "regressor", "xgboost", "observables",
          "gradient-boosted regression trees"),
)}
"""Every baseline's declared task, backend and default representation (see
:func:`colliderlab.models.registry.resolve_model`)."""

BASELINES: dict[str, tuple[type, type]] = {n: (s.config_cls, s.cls) for n, s in BASELINE_SPECS.items()}
"""Name -> (config class, class)."""


def create_baseline(name: str, feature_names: Sequence[str] = (), **kwargs: Any) -> Any:
    """Build baseline ``name`` with config fields ``kwargs``; unknown names or fields list the valid ones."""
    if name not in BASELINES:
        raise KeyError(f"unknown baseline {name!r}; valid baselines: {', '.join(sorted(BASELINES))}")
    config_cls, cls = BASELINES[name]
    valid = {f.name for f in dataclasses.fields(config_cls)}
    unknown = sorted(set(kwargs) - valid)
    if unknown:
        raise TypeError(
            f"{config_cls.__name__} has no field(s) {', '.join(map(repr, unknown))}; valid: {', '.join(sorted(valid))}"
        )
    return cls(config_cls(**kwargs), tuple(feature_names))
