"""Dijets, SM events and calorimeter showers on a 2-worker Dask cluster: the same arrays as in
this process (one ``LocalCluster`` for the module, reached through its scheduler address)."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

distributed = pytest.importorskip("distributed")

from colliderlab.cluster import ClusterConfig  # noqa: E402

_DATASETS = {
    "dijets": ("jet_p4", "tau"),
    "events": ("features", "electrons", "muons", "jets", "met"),
    "showers": ("incident_energies", "showers", "particle", "angle", "overflow"),
}


@pytest.fixture(scope="module")
def scheduler():
    """The address of a local cluster of two worker processes (one thread each)."""
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                       dashboard_address="127.0.0.1:0")
    client = distributed.Client(cluster)
    try:
        yield cluster.scheduler_address
    finally:
        client.close()
        cluster.close()


def _make(kind: str, path, **where) -> dict:
    """A tiny sample of ``kind`` at ``path``, run where ``where`` says (workers= or cluster=)."""
    if kind == "dijets":
        pytest.importorskip("pythia8mc")
        from colliderlab.data.dijet_io import generate_dijets
        from colliderlab.physics.dijet import DijetConfig

        return generate_dijets(path, "qcd", 15, DijetConfig(chunk_events=12, mpi=False), progress=False, **where)
    if kind == "events":
        pytest.importorskip("pythia8mc")
        pytest.importorskip("fastjet")
        from colliderlab.data.event_io import generate_events
        from colliderlab.physics.sm_events import EventConfig

        return generate_events(path, "z_ll", 60, EventConfig(mpi=False, seed=5, chunk_events=100), progress=False,
                               **where)
    from colliderlab.data.calo_sim import simulate_to_file

    simulate_to_file(path, "cms", ["e-", "pi+", "gamma"], 25, chunk=10, seed=5, progress=False, **where)
    return {}


@pytest.mark.parametrize("kind", sorted(_DATASETS))
def test_a_dask_cluster_writes_the_same_arrays_as_this_process(kind, scheduler, tmp_path):
    inline = _make(kind, tmp_path / "inline.h5", workers=1)
    dask = _make(kind, tmp_path / "dask.h5", cluster=ClusterConfig(scheduler=scheduler))
    for k in ("n_events", "n_generated", "chunks"):
        assert inline.get(k) == dask.get(k)
    with h5py.File(tmp_path / "inline.h5") as a, h5py.File(tmp_path / "dask.h5") as b:
        assert sorted(a) == sorted(b)
        for k in _DATASETS[kind]:
            np.testing.assert_array_equal(a[k][:], b[k][:], err_msg=k)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dask.h5", "inline.h5"]  # no parts left


def test_cli_scheduler_option_runs_calo_simulate_on_the_cluster(scheduler, tmp_path, capsys):
    from colliderlab.cli import main
    from colliderlab.data.calo_sim import simulate_to_file

    out = tmp_path / "cli.h5"
    assert main(["calo", "simulate", "--geometry", "cms", "--particles", "e-", "--n", "12", "--seed", "3",
                 "--out", str(out), "--quiet", "--scheduler", scheduler]) == 0
    assert f"dask: scheduler {scheduler}" in capsys.readouterr().err
    ref = simulate_to_file(tmp_path / "ref.h5", "cms", ["e-"], 12, seed=3, progress=False)
    with h5py.File(out) as a, h5py.File(ref) as b:
        np.testing.assert_array_equal(a["showers"][:], b["showers"][:])


def test_tracking_sample_on_the_cluster_matches_this_process(scheduler, tmp_path):
    """Tracker events made by the cluster's workers are the ones made here, file for file."""
    pytest.importorskip("pythia8mc")
    from colliderlab.data.trackml import read_event
    from colliderlab.tracking.sample import SampleConfig, simulate_sample

    config = SampleConfig(n_events=3, seed=8, pileup_mu=2.0)
    ids = simulate_sample(tmp_path / "dask", config, ClusterConfig(scheduler=scheduler))
    assert simulate_sample(tmp_path / "here", config) == ids
    for event_id in ids:
        a, b = read_event(tmp_path / "dask", event_id), read_event(tmp_path / "here", event_id)
        for part in ("hits", "cells", "particles", "truth"):
            assert getattr(a, part).equals(getattr(b, part)), (event_id, part)
