"""Shared, session-scoped physics fixtures: small real Pythia samples, generated once per test run."""

from __future__ import annotations

import os

import numpy as np
import pytest

# Keep worker threads from oversubscribing the 2 CI cores.
os.environ.setdefault("OMP_NUM_THREADS", "1")


@pytest.fixture(autouse=True)
def _seed() -> None:
    np.random.seed(0)


@pytest.fixture(scope="session")
def toptag_file(tmp_path_factory) -> str:
    """~150 top + ~150 QCD jets, toptag kinematics (14 TeV, R=0.8, pT 550-650, |eta|<2, no MPI),
    ideal detector (constituents = visible final-state particles), P = 200."""
    from colliderlab.data.generate import generate_dataset
    from colliderlab.physics.processes import GenConfig

    path = tmp_path_factory.mktemp("samples") / "toptag.h5"
    config = GenConfig(mpi=False, detector="ideal", seed=101, chunk_events=100, n_particles=200)
    generate_dataset(("qcd", "top"), config, 150, path, workers=1, progress=False)
    return str(path)


@pytest.fixture(scope="session")
def toptag_jets(toptag_file):
    """The :func:`toptag_file` sample as a JetBatch (label 0 = qcd, 1 = top)."""
    from colliderlab.data.h5 import read_h5

    return read_h5(toptag_file)


@pytest.fixture(scope="session")
def boson_jets(tmp_path_factory):
    """60 jets each of W, Z, H(->bb) and QCD through the ATLAS-like detector, pT 550-650, no MPI."""
    from colliderlab.data.generate import generate_dataset
    from colliderlab.data.h5 import read_h5
    from colliderlab.physics.processes import GenConfig

    path = tmp_path_factory.mktemp("samples") / "bosons.h5"
    config = GenConfig(mpi=False, detector="atlas-like", seed=202, chunk_events=100, n_particles=128)
    generate_dataset(("w", "z", "higgs", "qcd"), config, 60, path, workers=1, progress=False)
    return read_h5(path)


# Small but physical settings of each representation for the tests.
TEST_REPRESENTATION = {
    "observables": {"names": ("mass", "mass_sd", "tau21", "tau32", "n_constituents", "girth", "ptd")},
    "nsub": {},
    "efp": {"max_degree": 3},
    "image": {"size": 40},
    "particles": {"n_particles": 32},
    "sequence": {"n_particles": 32},
    "tree": {"n_particles": 32},
}


@pytest.fixture(scope="session")
def rep_data(toptag_jets):  # shared by the registry-driven model and export tests
    """Standardised representation arrays of the fixture's jets, per kind (computed lazily)."""
    from colliderlab.data.dataset import ArrayDataset, Standardizer
    from colliderlab.features.representations import representation_config

    cache: dict[str, ArrayDataset] = {}

    def get(kind: str) -> ArrayDataset:
        if kind not in cache:
            rep = representation_config(kind, **TEST_REPRESENTATION.get(kind, {}))
            if hasattr(rep, "resolve"):
                rep = rep.resolve(toptag_jets)
            arrays = rep.compute(toptag_jets)
            std = Standardizer.fit(arrays, rep.standardize)
            ds = ArrayDataset(std.apply(arrays), toptag_jets.label.astype(np.int64), toptag_jets.label_names)
            ds.meta["dims"] = rep.dims(arrays)
            cache[kind] = ds
        return cache[kind]

    return get
