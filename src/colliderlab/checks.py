"""Input checks shared by the array-level APIs: wrong shapes are named with the shape expected,
non-finite entries are located (row and feature)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["check_matrix", "check_finite"]


def check_matrix(x: Any, what: str = "X", *, n_features: int | None = None, feature_names: Sequence[str] = (),
                 dtype: Any = np.float32, allow_empty: bool = True) -> np.ndarray:
    """``x`` as an (N, F) array of ``dtype``, or a ValueError that names ``what``.

    Args:
        n_features: the F expected (``len(feature_names)`` when names are given).
        feature_names: used to name the feature of the first non-finite value.
        allow_empty: whether N = 0 is accepted.
    """
    x = np.asarray(x, dtype)
    f = len(feature_names) if feature_names else n_features
    if x.ndim != 2 or (f is not None and x.shape[1] != f):
        raise ValueError(f"{what} must have shape (N, {'F' if f is None else f}), got {x.shape}")
    if not allow_empty and len(x) == 0:
        raise ValueError(f"{what} is empty")
    bad = ~np.isfinite(x)
    if bad.any():
        row, col = np.argwhere(bad)[0]
        name = repr(feature_names[col]) if feature_names else str(col)
        raise ValueError(f"{what} has {int(bad.sum())} non-finite values, first at row {row}, feature {name}")
    return x


def check_finite(name: str, x: np.ndarray) -> None:
    """A ValueError naming ``name``, the count and the index of the first non-finite value of ``x``."""
    bad = ~np.isfinite(x)
    if bad.any():
        idx = np.argwhere(bad)[0]
        raise ValueError(f"{name} has {int(bad.sum())} non-finite values (first at index {tuple(int(i) for i in idx)})")
