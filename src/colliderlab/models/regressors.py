"""Classical regression baselines on feature matrices: ordinary least squares and a BDT.

The references a regression network is compared with, e.g. for the calorimeter energy scale
(a linear calibration on shower features and a gradient-boosted regressor, as in the LCD study,
arXiv:1912.06794). Same interface as the classification baselines, with ``predict`` instead of
``predict_proba``: ``fit(x (N, F), y (N,), x_val=None, y_val=None)``, ``predict(x) -> (N,)``,
``save(path)`` and ``load(path)``.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from colliderlab.checks import check_matrix
from colliderlab.configs import from_dict
from colliderlab.models.bdt import load_xgboost, save_xgboost

__all__ = ["LinearRegressionConfig", "LinearRegressor", "BDTRegressorConfig", "BDTRegressor", "REGRESSORS"]


def _check(x: np.ndarray, name: str = "X") -> np.ndarray:
    return check_matrix(x, name, dtype=np.float64)


@dataclass(frozen=True)
class LinearRegressionConfig:
    """Ordinary least squares with an intercept; ``ridge`` adds an L2 penalty."""

    ridge: float = 0.0


class LinearRegressor:
    """``y = x w + b`` fitted by (ridge) least squares. ``predict(x (N, F)) -> (N,)``."""

    def __init__(self, config: LinearRegressionConfig | None = None, feature_names: tuple[str, ...] = ()) -> None:
        self.config = config or LinearRegressionConfig()
        self.feature_names = tuple(feature_names)
        self.coef: np.ndarray | None = None

    def fit(self, x, y, x_val=None, y_val=None) -> LinearRegressor:  # noqa: ANN001 - baseline protocol
        x = _check(x)
        a = np.concatenate([x, np.ones((len(x), 1))], 1)  # (N, F + 1)
        reg = self.config.ridge * np.eye(a.shape[1])
        reg[-1, -1] = 0.0  # no penalty on the intercept
        self.coef = np.linalg.solve(a.T @ a + reg, a.T @ np.asarray(y, np.float64).reshape(-1))
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        if self.coef is None:
            raise RuntimeError("LinearRegressor.predict called before fit/load")
        return _check(x) @ self.coef[:-1] + self.coef[-1]

    def n_params(self) -> int:
        return 0 if self.coef is None else len(self.coef)

    def save(self, path: str | os.PathLike) -> Path:
        path = Path(path).with_suffix(".json")
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(json.dumps({"config": asdict(self.config), "feature_names": list(self.feature_names),
                                   "coef": self.coef.tolist()}))
        os.replace(tmp, path)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> LinearRegressor:
        d = json.loads(Path(path).with_suffix(".json").read_text())
        obj = cls(from_dict(LinearRegressionConfig, d["config"], "config"), tuple(d["feature_names"]))
        obj.coef = np.asarray(d["coef"])
        return obj


@dataclass(frozen=True)
class BDTRegressorConfig:
    """xgboost regressor (squared error), early stopping on the validation set."""

    n_estimators: int = 500
    max_depth: int = 5
    learning_rate: float = 0.1
    subsample: float = 0.8
    early_stopping_rounds: int = 30
    n_threads: int = 0
    seed: int = 0


class BDTRegressor:
    """Gradient-boosted trees for a continuous target. ``predict(x (N, F)) -> (N,)``."""

    def __init__(self, config: BDTRegressorConfig | None = None, feature_names: tuple[str, ...] = ()) -> None:
        self.config = config or BDTRegressorConfig()
        self.feature_names = tuple(feature_names)
        self._model = None

    def fit(self, x, y, x_val=None, y_val=None) -> BDTRegressor:  # noqa: ANN001 - baseline protocol
        import xgboost as xgb

        c = self.config
        kwargs = dict(n_estimators=c.n_estimators, max_depth=c.max_depth, learning_rate=c.learning_rate,
                      subsample=c.subsample, n_jobs=c.n_threads or os.cpu_count(), random_state=c.seed,
                      tree_method="hist")
        if x_val is not None:
            kwargs["early_stopping_rounds"] = c.early_stopping_rounds
        self._model = xgb.XGBRegressor(**kwargs)
        evals = [(_check(x_val, "X_val"), np.asarray(y_val, np.float64).reshape(-1))] if x_val is not None else None
        self._model.fit(_check(x), np.asarray(y, np.float64).reshape(-1), eval_set=evals, verbose=False)
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        if self._model is None:
            raise RuntimeError("BDTRegressor.predict called before fit/load")
        return self._model.predict(_check(x)).astype(np.float64)

    def n_params(self) -> int:
        if self._model is None:
            return 0
        return sum(len(t.strip().splitlines()) for t in self._model.get_booster().get_dump())

    def save(self, path: str | os.PathLike) -> Path:
        return save_xgboost(self._model, path, self.config, self.feature_names)

    @classmethod
    def load(cls, path: str | os.PathLike) -> BDTRegressor:
        import xgboost as xgb

        return load_xgboost(cls, BDTRegressorConfig, xgb.XGBRegressor, path)


REGRESSORS: dict[str, tuple[type, type]] = {
    "linear_regression": (LinearRegressionConfig, LinearRegressor),
    "bdt_regression": (BDTRegressorConfig, BDTRegressor),
}
