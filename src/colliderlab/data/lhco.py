"""The public LHC Olympics 2020 R&D high-level files (arXiv:2101.08320; Zenodo records 4536377 and,
for the extra signal-region background of CATHODE, arXiv:2109.00546, 5759087).

``events_anomalydetection_v2.features.h5`` (1M QCD + 100k W' -> X Y dijets, Pythia 8 + Delphes)
and ``events_anomalydetection_qcd_extra_inneronly_features.h5`` are pandas DataFrames
(``DataFrame.to_hdf``, ``fixed`` layout) of one row per event with the columns :data:`COLUMNS`: for the two leading
(pT-ordered) R = 1 jets, px, py, pz, m (GeV) and N-subjettiness tau_1..3, and ``label`` (1 = signal).

:func:`read_lhco_features` returns the jets as four-vectors and the search variables of
:func:`colliderlab.physics.dijet.dijet_features` (m_JJ, the lighter jet's mass, Delta m_J, both
tau_21), so the resonance search (:mod:`colliderlab.anomaly.dijet_search`) runs on the real LHCO
data exactly as on ours; :func:`write_lhco_features` writes our samples in the same layout.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from colliderlab.atomic import replacing
from colliderlab.data.errors import DataFormatError, reading
from colliderlab.data.formats._common import check_labels, open_hdf5
from colliderlab.data.formats.pandas_hdf import open_frame

__all__ = ["COLUMNS", "read_lhco_features", "write_lhco_features"]

_JET_COLUMNS = ("px", "py", "pz", "m", "tau1", "tau2", "tau3")
COLUMNS: tuple[str, ...] = (*(f"{c}j1" for c in _JET_COLUMNS), *(f"{c}j2" for c in _JET_COLUMNS), "label")


def read_lhco_features(path: str | os.PathLike, max_events: int | None = None) -> dict[str, Any]:
    """An LHCO R&D features file.

    Returns:
        ``jet_p4`` (N, 2, 4) float64 (E, px, py, pz) with E from the momentum and the mass,
        ``tau`` (N, 2, 3), ``label`` (N,) int64 (all 0 when the file has no label column), and the
        search variables ``mjj``, ``mj1``, ``delta_mj``, ``tau21_j1``, ``tau21_j2`` (N,).

    Raises:
        DataFormatError: not a pandas HDF5 file, missing columns (named), a label other than 0/1,
            or non-finite values (the first one located). The file is read with h5py from pandas'
            layout (:mod:`colliderlab.data.formats.pandas_hdf`): PyTables, which unpickles HDF5
            attributes, is never used.
    """
    from colliderlab.physics.dijet import dijet_features

    path = Path(path)
    with open_hdf5(path) as f, reading(path):
        frame = open_frame(path, f)  # the file's only DataFrame, read with h5py (never PyTables)
        missing = [c for c in COLUMNS[:-1] if c not in frame.columns]
        if missing:
            raise DataFormatError(path, f"missing LHCO columns {missing}; has {list(frame.columns)[:20]}")
        n = frame.n_rows if max_events is None else max(0, min(frame.n_rows, int(max_events)))
        vals = frame.read(COLUMNS[:-1], 0, n, np.float64).reshape(n, 2, len(_JET_COLUMNS))  # (N, 2, 7)
        label = frame.read(["label"], 0, n, np.float64)[:, 0] if "label" in frame.columns else np.zeros(n)
        label = check_labels(path, label, ("background", "signal"), "column 'label'")
    bad = ~np.isfinite(vals)
    if bad.any():
        ev, jet, col = np.argwhere(bad)[0]
        raise DataFormatError(path, f"{int(bad.sum())} non-finite values, first at event {ev}, column "
                                    f"{_JET_COLUMNS[col]}j{jet + 1}")
    p3, m = vals[..., :3], vals[..., 3]
    energy = np.sqrt((p3 ** 2).sum(-1) + m ** 2)
    jet_p4 = np.concatenate([energy[..., None], p3], axis=-1)  # (N, 2, 4)
    tau = np.ascontiguousarray(vals[..., 4:7])  # (N, 2, 3)
    return {"jet_p4": jet_p4, "tau": tau, "label": label, **dijet_features(jet_p4, tau)}


def write_lhco_features(path: str | os.PathLike, jet_p4: np.ndarray, tau: np.ndarray,
                        label: np.ndarray | None = None) -> Path:
    """Write events in the LHCO R&D layout (pandas ``to_hdf``, key ``df``; temporary file, then renamed).

    Args:
        jet_p4: (N, 2, 4) the two leading jets (E, px, py, pz), GeV, pT-ordered; tau: (N, 2, 3);
        label: (N,) 1 for signal (default all 0).
    """
    import pandas as pd

    from colliderlab import kinematics as kin

    jet_p4, tau = np.asarray(jet_p4, np.float64), np.asarray(tau, np.float64)
    if jet_p4.ndim != 3 or jet_p4.shape[1:] != (2, 4):
        raise ValueError(f"jet_p4 must have shape (N, 2, 4), got {jet_p4.shape}")
    if tau.shape != (len(jet_p4), 2, 3):
        raise ValueError(f"tau must have shape ({len(jet_p4)}, 2, 3), got {tau.shape}")
    label = np.zeros(len(jet_p4), np.int64) if label is None else np.asarray(label, np.int64)
    if label.shape != (len(jet_p4),):
        raise ValueError(f"label must have shape ({len(jet_p4)},), got {label.shape}")
    per_jet = np.concatenate([jet_p4[..., 1:], kin.mass(jet_p4)[..., None], tau], axis=-1)  # (N, 2, 7)
    df = pd.DataFrame(per_jet.reshape(len(jet_p4), -1), columns=list(COLUMNS[:-1]))
    df["label"] = label.astype(np.float64)  # the public files store the label as a float column
    path = Path(path)
    with replacing(path) as tmp:
        df.to_hdf(tmp, key="df", mode="w", format="fixed")
    return path
