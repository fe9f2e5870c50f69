"""Fixtures of the anomaly tests: a second, independent QCD jet sample.

The session's toptag sample has only ~150 QCD jets; a Kolmogorov-Smirnov check of p-values is
only valid when the reference sample is much larger than the tested one (with equal sizes the
reference's own fluctuations double the spread the test assumes), so the p-value checks take
their reference and held-out QCD jets from here.
"""

from __future__ import annotations

import numpy as np
import pytest

# 16 observables without the (slow) energy correlators (as tests/export/test_hls.py)
JET_FEATURES = (
    "mass", "pt", "n_constituents", "n_charged", "n_neutral", "tau1", "tau2", "tau3", "tau4",
    "tau21", "tau32", "mass_sd", "girth", "ptd", "jet_charge", "zlogz",
)


@pytest.fixture(scope="session")
def qcd_jets_600(tmp_path_factory) -> np.ndarray:
    """600 QCD jets with the toptag fixture's settings but another seed (about 6 s):
    the :data:`JET_FEATURES` observables, (600, 16) float32, unstandardised."""
    from colliderlab.data.generate import generate_dataset
    from colliderlab.features.build import build_dataset
    from colliderlab.features.highlevel import ObservablesConfig
    from colliderlab.physics.processes import GenConfig

    path = tmp_path_factory.mktemp("anomaly") / "qcd600.h5"
    config = GenConfig(mpi=False, detector="ideal", seed=303, chunk_events=100, n_particles=200)
    generate_dataset(("qcd",), config, 600, path, workers=1, progress=False)
    ds, _ = build_dataset(path, ObservablesConfig(names=JET_FEATURES))
    return ds.arrays["x"]


@pytest.fixture(scope="session")
def toptag_observables(toptag_file) -> tuple[np.ndarray, np.ndarray]:
    """The session toptag sample's :data:`JET_FEATURES`, (J, 16) float32, and labels (J,) (1 = top)."""
    from colliderlab.features.build import build_dataset
    from colliderlab.features.highlevel import ObservablesConfig

    ds, _ = build_dataset(toptag_file, ObservablesConfig(names=JET_FEATURES))
    return ds.arrays["x"], ds.labels
