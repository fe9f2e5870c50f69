"""Sharded generation on Dask (issue 17): same arrays for any cluster, resume after kill -9,
corrupt and foreign shards, a real scheduler with multi-threaded workers, unreachable schedulers."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from colliderlab.cluster import ClusterConfig, ClusterError, task_runner
from colliderlab.data.errors import DataFormatError
from colliderlab.data.generate import generate_dataset
from colliderlab.data.h5 import read_h5
from colliderlab.data.shards import Manifest, open_sample, shards_dir, verify_sample
from colliderlab.physics.processes import GenConfig

CONFIG = GenConfig(mpi=False, seed=21, chunk_events=40, n_particles=40)
BIN = Path(sys.executable).parent
pytest.importorskip("distributed")


def _same(a, b) -> None:
    for k, v in a.arrays().items():
        np.testing.assert_array_equal(v, b.arrays()[k], err_msg=k)


@pytest.fixture(scope="module")
def inline_sample(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("inline") / "s.h5"
    generate_dataset(("qcd", "top"), CONFIG, 50, out, progress=False)
    return out


@pytest.fixture(scope="module")
def local_cluster():
    """One local cluster of 2 worker processes for the module (its address, as a remote one)."""
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster, Client(cluster):
        yield cluster.scheduler_address


def test_sample_is_sharded_with_every_class_and_todays_content(inline_sample):
    from colliderlab.physics.generator import generate_chunk

    sample = open_sample(inline_sample)
    assert len(sample) == 100 and sample.manifest.n_per_class() == [50, 50]
    assert len(sample.shards) >= 2 and all(s.n_per_class[0] > 0 for s in sample.manifest.shards[:1])
    jets = read_h5(inline_sample)
    for c, proc in enumerate(("qcd", "top")):
        # today's generator: chunks 0, 1, ... of the class in order, cut at n_jets
        chunks, n, k = [], 0, 0
        while n < 50:
            chunks.append(generate_chunk(proc, CONFIG, k).batch.jet_p4)
            n += len(chunks[-1])
            k += 1
        want = np.concatenate(chunks)[:50]
        got = jets.jet_p4[jets.label == c]
        key = lambda a: a[np.lexsort(a.T[::-1])]  # noqa: E731  same jets, any order
        np.testing.assert_array_equal(key(got), key(want))
    empty = read_h5(inline_sample, stop=0)  # an empty selection of a virtual dataset fails in HDF5 itself
    assert len(empty) == 0 and empty.p4.shape == (0, 40, 4) and empty.label_names == ("qcd", "top")
    # shard k is shuffled: labels are not in class blocks
    first = read_h5(sample.shards[0][0]).label
    assert 0 < first.mean() < 1 and not np.all(np.diff(first) >= 0)


@pytest.mark.parametrize("shared_fs", [True, False], ids=["shared-fs", "returned-to-client"])
def test_remote_scheduler_gives_the_same_arrays(inline_sample, local_cluster, tmp_path, shared_fs):
    out = tmp_path / "dask.h5"
    generate_dataset(("qcd", "top"), CONFIG, 50, out, progress=False,
                     cluster=ClusterConfig(scheduler=local_cluster, shared_fs=shared_fs))
    _same(read_h5(inline_sample), read_h5(out))
    assert verify_sample(out).manifest.n_per_class() == [50, 50]


def test_corrupt_shard_is_detected_and_only_it_recomputed(inline_sample, tmp_path, monkeypatch):
    import colliderlab.data.generate as gen

    out = tmp_path / "s.h5"
    shutil.copy(inline_sample, out)
    shutil.copytree(shards_dir(inline_sample), shards_dir(out))
    victim = shards_dir(out) / "shard-000001.h5"
    raw = bytearray(victim.read_bytes())
    raw[len(raw) // 2] ^= 0xFF  # one flipped byte, same size
    victim.write_bytes(bytes(raw))
    with pytest.raises(DataFormatError, match="shard-000001.h5 does not match its sha256"):
        verify_sample(out)
    calls = []
    real = gen._run_chunk
    monkeypatch.setattr(gen, "_run_chunk", lambda *a: calls.append(a[1:3]) or real(*a))
    generate_dataset(("qcd", "top"), CONFIG, 50, out, progress=False)
    assert sorted(calls) == [("qcd", 1), ("top", 1)]  # chunk 1 of each class, nothing else
    verify_sample(out)
    _same(read_h5(inline_sample), read_h5(out))


def test_missing_or_foreign_shards_are_refused(inline_sample, tmp_path):
    out = tmp_path / "s.h5"
    shutil.copy(inline_sample, out)
    shutil.copytree(shards_dir(inline_sample), shards_dir(out))
    other = tmp_path / "other.h5"
    generate_dataset(("qcd", "top"), GenConfig(**{**CONFIG.__dict__, "seed": 22}), 20, other, progress=False)
    shutil.copy(shards_dir(other) / "shard-000000.h5", shards_dir(out) / "shard-000000.h5")
    man = Manifest.load(shards_dir(out))
    man.shards[0].bytes = (shards_dir(out) / "shard-000000.h5").stat().st_size  # even with the size patched
    man.save(shards_dir(out))
    with pytest.raises(DataFormatError, match=r"belongs to sample .*\(shards of another manifest are refused\)"):
        read_h5(out)
    shutil.copy(shards_dir(other) / "manifest.json", shards_dir(out) / "manifest.json")
    with pytest.raises(DataFormatError, match="mixed manifests are refused"):
        read_h5(out)
    shutil.rmtree(shards_dir(out))
    shutil.copytree(shards_dir(inline_sample), shards_dir(out))
    (shards_dir(out) / "shard-000001.h5").unlink()  # a virtual dataset would read zeros here
    with pytest.raises(DataFormatError, match="shard-000001.h5 is missing"):
        read_h5(out)


def _flaky(marker: str, value: int) -> int:
    """Kills its worker process the first time it runs (no marker yet), returns ``value`` after."""
    if not os.path.exists(marker):
        Path(marker).write_text("died once")
        os._exit(1)
    return value * 10


def test_a_task_whose_worker_dies_is_run_again(local_cluster, tmp_path):
    import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    try:
        with task_runner(ClusterConfig(scheduler=local_cluster)) as runner:
            runner.submit("flaky", _flaky, str(tmp_path / "marker"), 4)
            assert runner.next_done() == ("flaky", 40)
    finally:
        cloudpickle.unregister_pickle_by_value(sys.modules[__name__])


def test_unreachable_scheduler_is_a_clear_error_within_30s():
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    t0 = time.perf_counter()
    with pytest.raises(ClusterError, match=rf"cannot reach the Dask scheduler at tcp://127.0.0.1:{port}"):
        with task_runner(ClusterConfig(scheduler=f"tcp://127.0.0.1:{port}", connect_timeout=3)):
            pass
    assert time.perf_counter() - t0 < 30


def _start(args: list[str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(args, stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True)


def _stop(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGTERM)
    for p in procs:
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()


def test_dask_scheduler_and_threaded_workers_on_localhost_match_the_local_run(inline_sample, tmp_path):
    """`dask scheduler` + two `dask worker --nthreads 2` processes, started here and stopped here."""
    sched_file = tmp_path / "scheduler.json"
    procs = [_start([str(BIN / "dask"), "scheduler", "--host", "127.0.0.1", "--port", "0",
                     "--no-dashboard", "--scheduler-file", str(sched_file)], tmp_path / "scheduler.log")]
    try:
        deadline = time.monotonic() + 60
        while not sched_file.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert sched_file.exists(), (tmp_path / "scheduler.log").read_text()[-2000:]
        for i in range(2):
            procs.append(_start([str(BIN / "dask"), "worker", "--scheduler-file", str(sched_file),
                                 "--nthreads", "2", "--nworkers", "1", "--host", "127.0.0.1",
                                 "--no-dashboard"], tmp_path / f"worker{i}.log"))
        import json

        address = json.loads(sched_file.read_text())["address"]
        out = tmp_path / "remote.h5"
        cmd = [str(BIN / "colliderlab"), "generate", "qcd,top", "--n-jets", "50", "--out", str(out),
               "--seed", "21", "--no-mpi", "--chunk-events", "40", "--n-particles", "40",
               "--scheduler", address, "--quiet"]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=240)
        assert done.returncode == 0, done.stderr[-3000:]
        assert f"scheduler {address}" in done.stderr
        _same(read_h5(inline_sample), read_h5(out))
    finally:
        _stop(procs)
    assert all(p.poll() is not None for p in procs)


def test_kill_9_of_the_client_leaves_no_worker_and_resumes(inline_sample, tmp_path):
    import psutil

    out = tmp_path / "killed.h5"
    parts = shards_dir(out) / "parts"
    cmd = [str(BIN / "colliderlab"), "generate", "qcd,top", "--n-jets", "50", "--out", str(out), "--seed", "21",
           "--no-mpi", "--chunk-events", "40", "--n-particles", "40", "--workers", "2", "--quiet"]
    client = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and len(list(parts.glob("*.npz"))) < 1:
            time.sleep(0.05)
        assert list(parts.glob("*.npz")), "no chunk finished in time"
        family = psutil.Process(client.pid).children(recursive=True)
        assert family, "the client started no worker process"
        client.send_signal(signal.SIGKILL)
        client.wait(timeout=10)
    finally:
        if client.poll() is None:
            client.kill()
    gone, alive = psutil.wait_procs(family, timeout=20)
    assert not alive, f"worker processes outlived the killed client: {[p.pid for p in alive]}"
    assert not out.exists()
    report = generate_dataset(("qcd", "top"), CONFIG, 50, out, progress=False)
    assert report.resumed_chunks >= 1
    _same(read_h5(inline_sample), read_h5(out))
