"""Gradient-boosted decision trees (xgboost) on jet observables: the field's standard baseline.

Boosted trees on high-level observables are the reference every deep tagger is compared
with (e.g. arXiv:1902.09914 section 3). The config is a dataclass saved with the model.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from colliderlab.atomic import replacing
from colliderlab.checks import check_matrix
from colliderlab.configs import from_dict

__all__ = ["BDTConfig", "BDTClassifier"]


@dataclass(frozen=True)
class BDTConfig:
    """Hyper-parameters of the xgboost baseline."""

    n_estimators: int = 300
    max_depth: int = 4
    learning_rate: float = 0.1
    subsample: float = 0.8
    early_stopping_rounds: int = 30
    n_threads: int = 0  # 0: all cores
    seed: int = 0


class BDTClassifier:
    """Binary or multi-class xgboost classifier on a (N, F) feature matrix.

    Shapes: ``fit(X (N, F), y (N,))``; ``predict_proba(X) -> (N, C)``; ``score(X) -> (N,)`` (the
    probability of the last class, the signal for binary tasks).
    """

    def __init__(self, config: BDTConfig | None = None, feature_names: tuple[str, ...] = ()) -> None:
        self.config = config or BDTConfig()
        self.feature_names = tuple(feature_names)
        self._model = None

    def _check_x(self, x: np.ndarray, name: str = "X") -> np.ndarray:
        return check_matrix(x, name, feature_names=self.feature_names)

    def fit(
        self, x: np.ndarray, y: np.ndarray, x_val: np.ndarray | None = None, y_val: np.ndarray | None = None
    ) -> BDTClassifier:
        """Train; with a validation set, stop early on its log-loss."""
        import xgboost as xgb

        x = self._check_x(x)
        y = np.asarray(y).astype(int)
        n_classes = int(y.max()) + 1
        c = self.config
        kwargs = dict(
            n_estimators=c.n_estimators,
            max_depth=c.max_depth,
            learning_rate=c.learning_rate,
            subsample=c.subsample,
            n_jobs=c.n_threads or os.cpu_count(),
            random_state=c.seed,
            tree_method="hist",
        )
        if x_val is not None:
            kwargs["early_stopping_rounds"] = c.early_stopping_rounds
        if n_classes > 2:
            kwargs["objective"] = "multi:softprob"
        self._model = xgb.XGBClassifier(**kwargs)
        evals = [(self._check_x(x_val, "X_val"), np.asarray(y_val).astype(int))] if x_val is not None else None
        self._model.fit(x, y, eval_set=evals, verbose=False)
        return self

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        if self._model is None:
            raise RuntimeError("BDTClassifier.predict_proba called before fit/load")
        return self._model.predict_proba(self._check_x(x))

    def score(self, x: np.ndarray) -> np.ndarray:
        """Signal score: probability of the last class. (N,)"""
        return self.predict_proba(x)[:, -1]

    @property
    def booster(self) -> Any:
        """The fitted ``xgboost.Booster`` (for SHAP's TreeExplainer and ``pred_contribs``)."""
        if self._model is None:
            raise RuntimeError("BDTClassifier.booster used before fit/load")
        return self._model.get_booster()

    def margin(self, x: np.ndarray) -> np.ndarray:
        """The raw log-odds (binary: (N,); multi-class: (N, C)) before the sigmoid/softmax."""
        import xgboost as xgb

        return self.booster.predict(xgb.DMatrix(self._check_x(x)), output_margin=True)

    def n_params(self) -> int:
        """Number of tree nodes (splits and leaves) over all trees: the BDT's size."""
        if self._model is None:
            return 0
        return sum(len(t.strip().splitlines()) for t in self._model.get_booster().get_dump())

    def feature_importance(self) -> dict[str, float]:
        imp = self._model.feature_importances_
        names = self.feature_names or tuple(str(i) for i in range(len(imp)))
        return dict(sorted(zip(names, map(float, imp), strict=True), key=lambda kv: -kv[1]))

    def save(self, path: str | os.PathLike) -> Path:
        """Save model + config (JSON), atomically."""
        return save_xgboost(self._model, path, self.config, self.feature_names)

    @classmethod
    def load(cls, path: str | os.PathLike) -> BDTClassifier:
        import xgboost as xgb

        return load_xgboost(cls, BDTConfig, xgb.XGBClassifier, path)


def save_xgboost(model: Any, path: str | os.PathLike, config: Any, feature_names: tuple[str, ...]) -> Path:
    """An xgboost model as ``path.ubj`` plus its config and feature names as ``path.json``,
    both written to temporary files and renamed. Returns the ``.ubj`` path."""
    path = Path(path)
    # xgboost picks its format from the suffix; the .ubj is renamed first, then the .json
    with replacing(path.with_suffix(".json")) as tmp_json, \
            replacing(path.with_suffix(".ubj"), keep_suffix=True) as tmp_ubj:
        model.save_model(tmp_ubj)
        tmp_json.write_text(json.dumps({"config": asdict(config), "feature_names": list(feature_names)}))
    return path.with_suffix(".ubj")


def load_xgboost(cls: type, config_cls: type, xgb_cls: type, path: str | os.PathLike) -> Any:
    """Inverse of :func:`save_xgboost`: ``cls(config_cls(...), feature_names)`` with its model loaded."""
    path = Path(path)
    meta = json.loads(path.with_suffix(".json").read_text())
    obj = cls(from_dict(config_cls, meta["config"], "config"), tuple(meta["feature_names"]))
    obj._model = xgb_cls()
    obj._model.load_model(path.with_suffix(".ubj"))
    return obj
