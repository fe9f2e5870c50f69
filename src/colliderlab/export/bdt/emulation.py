"""Emulation of a converted BDT, its parity with xgboost and its resource estimates."""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from colliderlab.export.bdt.config import ConiferConfig, _precisions
from colliderlab.export.bdt.toolchain import _keep_cwd, _quiet, fixed_point_range

__all__ = ["ConiferBDT", "emulate", "bdt_parity", "bdt_resources"]


# ---------------------------------------------------------------------------- emulation


@dataclass
class ConiferBDT:
    """A converted, compiled BDT: conifer's model plus what the conversion measured.

    ``n_classes`` is the classifier's number of classes C; ``n_outputs`` the number of
    ensembles and scores per jet (1 for binary, C otherwise). ``base_score`` holds xgboost's
    ``base_score`` string, conifer's ``init_predict``, the measured intercept and the one used;
    ``splits`` what :attr:`ConiferConfig.exact_splits` changed.
    """

    model: Any
    config: ConiferConfig
    output_dir: Path
    n_classes: int
    n_features: int
    n_rounds: int
    feature_names: tuple[str, ...] = ()
    base_score: dict[str, Any] = field(default_factory=dict)
    splits: dict[str, Any] = field(default_factory=dict)
    compile_seconds: float = 0.0
    build_cached: bool = False

    @property
    def n_outputs(self) -> int:
        return 1 if self.n_classes <= 2 else self.n_classes

    def decision_function(self, x: np.ndarray) -> np.ndarray:
        """Emulated scores, (N,) or (N, C): see :func:`emulate`."""
        from colliderlab.export.bdt.emulation import (
            emulate,  # the handle's own module imports this one
        )

        return emulate(self, x)

    def to_dict(self) -> dict[str, Any]:
        return {
            "backend": self.config.backend,
            "conifer_backend": self.config.conifer_backend,
            "config": dataclasses.asdict(self.config),
            "precision": _precisions(self.config),
            "output_dir": str(self.output_dir),
            "n_classes": self.n_classes,
            "n_outputs": self.n_outputs,
            "n_features": self.n_features,
            "n_rounds": self.n_rounds,
            "feature_names": list(self.feature_names),
            "base_score": self.base_score,
            "splits": self.splits,
            "compile_seconds": self.compile_seconds,
            "build_cached": self.build_cached,
        }


def _check_x(handle: ConiferBDT, x: np.ndarray) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim != 2 or x.shape[1] != handle.n_features:
        raise ValueError(f"x must have shape (N, {handle.n_features}), got {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError(f"x has {int((~np.isfinite(x)).sum())} non-finite values")
    # xgboost sees float32 features: give conifer exactly the same values
    return np.ascontiguousarray(x, dtype=np.float32).astype(np.float64)


def emulate(handle: ConiferBDT, x: np.ndarray) -> np.ndarray:
    """Scores of conifer's compiled (bit-accurate fixed-point) ``decision_function``.

    Args:
        x: (N, F) features, cast to float32 first as xgboost does; conifer then casts them to
            the input precision.

    Returns:
        float64 (N,) for binary BDTs (the margin) or (N, C) per-class margins, exactly the
        fixed-point values (converted to double in C++; nothing is rounded in numpy).
    """
    xx = _check_x(handle, x)
    shape = (len(xx),) if handle.n_outputs == 1 else (len(xx), handle.n_outputs)
    if len(xx) == 0:
        return np.zeros(shape)
    with _keep_cwd():
        y = handle.model.decision_function(xx)
    return np.asarray(y, dtype=np.float64).reshape(shape)


def _auc(scores: np.ndarray, y: np.ndarray, n_outputs: int) -> float:
    """Binary: AUC of the margin; multi-class: mean one-vs-rest AUC of softmax probabilities."""
    from colliderlab import metrics

    if n_outputs == 1:
        return metrics.auc(scores, y == 1)
    return metrics.mean_ovr_auc(metrics.softmax(scores), y)


def bdt_parity(
    bdt: Any, handle: ConiferBDT, x: np.ndarray, y: np.ndarray | None = None
) -> dict[str, Any]:
    """conifer's emulated scores against xgboost's raw margins on the same jets.

    Args:
        x: (N, F) features; y: (N,) class labels, optional (for the AUCs).

    Returns:
        ``max_abs_diff`` / ``mean_abs_diff``: |conifer - xgboost margin| over jets (and classes);
        ``decision_agreement``: fraction of jets with the same decision (binary: the sign of the
        margin, i.e. p > 0.5; multi-class: the argmax); ``auc_xgboost``, ``auc_conifer`` and
        ``auc_difference`` (with ``y``); ``input_out_of_range_fraction`` (input values the
        input precision cannot hold: they wrap, unless the type saturates);
        ``score_out_of_range_fraction`` (xgboost margins beyond the score precision);
        ``precision``, ``score_lsb``, ``emulation_jets_per_second``, the ``base_score`` used.
    """
    xx = _check_x(handle, x)
    margin = np.asarray(bdt._model.predict(xx.astype(np.float32), output_margin=True), np.float64)
    margin = margin.reshape(len(xx)) if handle.n_outputs == 1 else margin.reshape(len(xx), -1)
    t0 = time.perf_counter()
    emu = emulate(handle, xx)
    seconds = time.perf_counter() - t0
    diff = np.abs(emu - margin)
    if handle.n_outputs == 1:
        agree = (emu > 0) == (margin > 0)
    else:
        agree = emu.argmax(axis=1) == margin.argmax(axis=1)
    in_range = fixed_point_range(handle.config.input_type)
    sc_range = fixed_point_range(handle.config.score_type)
    out: dict[str, Any] = {
        "n_jets": len(xx),
        "precision": _precisions(handle.config),
        "max_abs_diff": float(diff.max()) if diff.size else 0.0,
        "mean_abs_diff": float(diff.mean()) if diff.size else 0.0,
        "decision_agreement": float(agree.mean()) if len(agree) else float("nan"),
        "n_decisions_differ": int((~agree).sum()),
        "input_out_of_range_fraction": (
            0.0 if in_range is None or not xx.size
            else float(((xx < in_range[0]) | (xx >= in_range[1] + in_range[2])).mean())
        ),
        "score_out_of_range_fraction": (
            0.0 if sc_range is None or not margin.size
            else float(((margin < sc_range[0]) | (margin >= sc_range[1] + sc_range[2])).mean())
        ),
        "score_lsb": None if sc_range is None else sc_range[2],
        "emulation_jets_per_second": len(xx) / max(seconds, 1e-9),
        "base_score": handle.base_score.get("used"),
        "base_score_source": handle.base_score.get("source"),
    }
    if y is not None:
        y = np.asarray(y).astype(int).reshape(-1)
        if len(y) != len(xx):
            raise ValueError(f"y has {len(y)} labels for {len(xx)} jets")
        a_x, a_c = _auc(margin, y, handle.n_outputs), _auc(emu, y, handle.n_outputs)
        out.update(auc_xgboost=a_x, auc_conifer=a_c, auc_difference=a_c - a_x)
    return out


def _depth(td: Any) -> int:
    """Depth of a conifer tree (0 for a single leaf)."""
    left, right = td.children_left, td.children_right
    depth, frontier = 0, [0]
    while True:
        nxt = [c for n in frontier for c in (left[n], right[n]) if c != -1]
        if not nxt:
            return depth
        depth, frontier = depth + 1, nxt


def bdt_resources(handle: ConiferBDT, *, estimates: bool = True) -> dict[str, Any]:
    """Size figures that need no vendor tools.

    ``n_trees``: boosting rounds; ``n_ensembles_trees``: trees over all outputs; ``n_nodes``,
    ``n_leaves``, ``n_splits``; ``max_depth``; ``comparisons_per_inference``: comparators of
    the fully parallel firmware (one per split, all evaluated for every jet);
    ``comparisons_sequential_max``: the longest root-to-leaf walks summed over trees (a CPU's
    work); ``additions_per_inference``: leaf values summed (trees per output - 1, plus the
    intercept, per output); ``conifer_estimates``: conifer's experimental latency (clock cycles)
    / LUT / FF predictions for its HLS and VHDL backends, from tree statistics (no synthesis).
    """
    m = handle.model
    trees = [t for per in m.trees for t in per]
    n_nodes = int(sum(t.n_nodes() for t in trees))
    n_leaves = int(sum(t.n_leaves() for t in trees))
    depths = [_depth(t) for t in trees]
    out: dict[str, Any] = {
        "n_trees": int(m.n_trees),
        "n_outputs": handle.n_outputs,
        "n_ensembles_trees": len(trees),
        "n_features": int(m.n_features),
        "n_nodes": n_nodes,
        "n_leaves": n_leaves,
        "n_splits": n_nodes - n_leaves,
        "max_depth": int(max(depths, default=0)),
        "comparisons_per_inference": n_nodes - n_leaves,
        "comparisons_sequential_max": int(sum(depths)),
        "additions_per_inference": len(trees),
        "sparsity": float(m.sparsity()) if m.max_depth > 0 else 0.0,
        "precision": _precisions(handle.config),
    }
    if estimates:
        est: dict[str, Any] = {}
        try:
            from conifer.utils.performance import performance_estimates

            with _quiet("conifer.utils.performance.prediction"):
                for backend in ("xilinxhls", "vhdl"):
                    est[backend] = {k: int(v) for k, v in performance_estimates(m, backend).items()}
            est["note"] = (
                "conifer's experimental estimates (latency in clock cycles, LUT, FF) from tree "
                "statistics, without synthesis"
            )
        except Exception as err:  # estimates are informative only
            est["error"] = f"{type(err).__name__}: {err}"
        out["conifer_estimates"] = est
    return out
