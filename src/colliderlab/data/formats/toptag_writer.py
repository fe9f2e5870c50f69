"""Write jets in the layout of the public top-tagging reference dataset (arXiv:1902.09914).

The public files are pandas DataFrames in HDF5 (``DataFrame.to_hdf``, key ``table``, the
``fixed`` layout) with, per jet, the four-vectors of its 200 hardest constituents
(``E_i, PX_i, PY_i, PZ_i``, zero-padded), the truth top four-vector (``truthE`` ...), the label
``is_signal_new`` (1 = top) and ``ttv``. They carry nothing else: no charge, no particle id, no
impact parameters. A file written here is what a model trained on the ``toptag`` preset meets
when it is applied to the public dataset (the held-out check of ``colliderlab benchmark``).
Writing goes through pandas (and so PyTables); reading never does
(:mod:`colliderlab.data.formats.toptag`).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from colliderlab import kinematics as kin
from colliderlab.atomic import replacing
from colliderlab.jets import JetBatch

__all__ = ["write_toptag"]

_P = 200
_LABELS = ("qcd", "top")


def write_toptag(path: str | os.PathLike, jets: JetBatch, *, ttv: int = 0) -> Path:
    """Write ``jets`` (labels ``("qcd", "top")``) as a public-format top-tagging file, atomically.

    Args:
        path: the output ``.h5``.
        jets: N jets; their constituents are pT-ordered and the 200 hardest are kept.
        ttv: the ``ttv`` column (0 train, 1 test, 2 validation in the public files).
    Returns:
        ``path``.
    Raises:
        ValueError: ``jets`` are not labelled qcd / top.
    """
    import pandas as pd

    if tuple(jets.label_names) != _LABELS:
        raise ValueError(f"the top-tagging layout holds qcd / top jets; these are labelled {list(jets.label_names)}")
    j = jets.truncate(_P)
    n = len(j)
    order = np.argsort(np.where(j.mask, -kin.pt(j.p4), np.inf), axis=1, kind="stable")  # (N, P)
    p4 = np.take_along_axis(np.where(j.mask[..., None], j.p4, 0.0), order[..., None], axis=1)  # (N, P, 4)
    columns: dict[str, np.ndarray] = {}
    for i in range(_P):
        for k, name in enumerate(("E", "PX", "PY", "PZ")):
            columns[f"{name}_{i}"] = p4[:, i, k].astype(np.float32)
    truth = np.where((j.label == 1)[:, None], j.truth_p4, 0.0)
    for k, name in enumerate(("E", "PX", "PY", "PZ")):
        columns[f"truth{name}"] = truth[:, k].astype(np.float32)
    columns["ttv"] = np.full(n, ttv, np.int64)
    columns["is_signal_new"] = j.label.astype(np.int64)
    frame = pd.DataFrame(columns)
    path = Path(path)
    with replacing(path) as tmp:
        frame.to_hdf(tmp, key="table", format="fixed", mode="w")
    return path
