"""Data-parallel training (DDP) in real processes started by PyTorch's elastic launcher.

Each launch is bounded by a timeout and its process group killed on expiry. Two launches run in
the default suite (~6-10 s each on 2 cores): a 2-process ``colliderlab train --nproc-per-node
2`` of a DNN without batch norm or dropout, compared with the 1-process run at the same global
batch, and ``torch.distributed.run`` of ``ddp_worker.py`` with uneven rank shares and a resume.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

torch = pytest.importorskip("torch")

import colliderlab  # noqa: E402
from colliderlab.cli import main  # noqa: E402
from colliderlab.data.dataset import ArrayDataset  # noqa: E402
from colliderlab.train import launch  # noqa: E402
from colliderlab.train.distributed import DEBUG_DIR_ENV, default_threads  # noqa: E402
from colliderlab.train.experiment import experiment_from_dict, run_experiment  # noqa: E402

SRC = str(Path(colliderlab.__file__).resolve().parents[1])
LAUNCH_TIMEOUT = 120  # seconds; a hang (e.g. an unmatched all-reduce) fails instead of blocking the suite


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run_bounded(cmd: list[str], env: dict[str, str], timeout: float = LAUNCH_TIMEOUT) -> subprocess.CompletedProcess:
    """Run ``cmd`` in its own process group; on timeout kill the whole group (launcher and workers)."""
    env = {**os.environ, **env, "PYTHONPATH": os.pathsep.join([SRC, os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        pytest.fail(f"{' '.join(cmd)} did not finish in {timeout} s:\n{out[-4000:]}")
    return subprocess.CompletedProcess(cmd, proc.returncode, out, None)


def _experiment(path: str, cache: Path) -> dict:
    """A DNN without batch norm or dropout (the hls4ml preset): 2 processes must reproduce 1."""
    return {
        "name": "ddp-dnn",
        "data": {"path": path, "cache_dir": str(cache)},
        "representation": {"kind": "observables",
                           "names": ["mass", "mass_sd", "tau21", "tau32", "n_constituents", "girth", "ptd"]},
        "model": {"name": "dnn", "preset": "hls4ml"},
        "trainer": {"epochs": 3, "batch_size": 32, "lr": 2e-3, "progress": False, "patience": 0, "device": "cpu"},
    }


def _csv(path: Path) -> list[dict[str, float]]:
    lines = path.read_text().splitlines()
    keys = lines[0].split(",")
    return [dict(zip(keys, map(float, line.split(",")), strict=True)) for line in lines[1:]]


@pytest.fixture(scope="module")
def ddp_runs(toptag_file, tmp_path_factory):
    """The same experiment trained by 1 process (in this one) and by 2 (``--nproc-per-node 2``)."""
    root = tmp_path_factory.mktemp("ddp")
    exp = root / "exp.yaml"
    exp.write_text(yaml.safe_dump(_experiment(toptag_file, root / "cache")))
    cmd = [sys.executable, "-m", "colliderlab.cli", "train", str(exp), "--run-dir", str(root / "two"), "--quiet",
           "--nproc-per-node", "2", "--master-port", str(_free_port())]
    two = _run_bounded(cmd, {DEBUG_DIR_ENV: str(root / "debug-two")})
    assert two.returncode == 0, two.stdout[-4000:]
    one = run_experiment(experiment_from_dict(_experiment(toptag_file, root / "cache")), root / "one",
                         progress=False, plots=False)
    return root, two.stdout, one


def test_two_processes_reproduce_one(ddp_runs):
    root, stdout, one = ddp_runs
    ranks = [json.loads((root / "debug-two" / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert [r["world_size"] for r in ranks] == [2, 2] and [r["rank"] for r in ranks] == [0, 1]
    assert {r["backend"] for r in ranks} == {"gloo"}
    assert [r["num_threads"] for r in ranks] == [default_threads(2)] * 2  # the node's cores shared out
    assert ranks[0]["param_sha256"] == ranks[1]["param_sha256"]  # DDP kept the replicas identical
    assert ranks[0]["steps"] == ranks[1]["steps"] == 3 * (one["n_train"] // 32)
    assert json.loads((root / "two" / "checkpoint_last.json").read_text())["world_size"] == 2
    # rank 0 alone printed the results and wrote the run directory, laid out as a 1-process run's
    assert stdout.count('"auc"') == 1
    assert {p.name for p in (root / "one").iterdir()} <= {p.name for p in (root / "two").iterdir()}
    m1, m2 = _csv(root / "one" / "metrics.csv"), _csv(root / "two" / "metrics.csv")
    assert len(m1) == len(m2) == 3
    for a, b in zip(m1, m2, strict=True):
        assert a["step"] == b["step"]
        for key in ("train_loss", "val_loss"):
            assert b[key] == pytest.approx(a[key], rel=1e-4), (key, a, b)
        assert b["val_auc"] == pytest.approx(a["val_auc"], abs=1e-6)


def test_ddp_checkpoint_loads_in_one_process_predict(ddp_runs, toptag_file, tmp_path):
    import h5py

    root, _, _ = ddp_runs
    out = tmp_path / "scores.h5"
    assert main(["predict", str(root / "two"), "--data", toptag_file, "--out", str(out)]) == 0
    ref = tmp_path / "ref.h5"
    assert main(["predict", str(root / "one"), "--data", toptag_file, "--out", str(ref)]) == 0
    with h5py.File(out) as f, h5py.File(ref) as g:
        np.testing.assert_allclose(f["scores"][:], g["scores"][:], atol=1e-4)


def test_uneven_shares_finish_and_resume(tmp_path):
    """Rank 0 has 3x the steps of rank 1: Join lets both finish, replicas stay identical, and the
    run resumes under DDP from rank 0's files."""
    worker = Path(__file__).with_name("ddp_worker.py")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-addr", "127.0.0.1",
           "--master-port", str(_free_port()), str(worker), str(tmp_path)]
    res = _run_bounded(cmd, {"OMP_NUM_THREADS": "1"})
    assert res.returncode == 0, res.stdout[-4000:]
    for phase, epochs in (("uneven", 2), ("resumed", 3)):
        r0, r1 = (json.loads((tmp_path / phase / f"rank{r}.json").read_text()) for r in (0, 1))
        assert r0["world_size"] == 2 and r0["param_sha256"] == r1["param_sha256"]
        assert r0["steps"] == r1["steps"] == 12 * epochs  # the most any rank took (rank 0: 96 jets / 8)
        assert r0["train_loss"] == r1["train_loss"] and len(r0["train_loss"]) == epochs
    first, resumed = (json.loads((tmp_path / p / "rank0.json").read_text())["train_loss"] for p in ("uneven", "resumed"))
    assert resumed[:2] == first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["resumed", "run", "uneven"]


def test_rank_shards_split_every_global_batch():
    ds = ArrayDataset({"x": np.arange(23, dtype=np.float32)[:, None]}, np.arange(23) % 2, ("a", "b"))
    for drop_last in (True, False):
        whole = [b["x"][:, 0].tolist() for b in ds.batches(6, shuffle=True, seed=5, drop_last=drop_last)]
        shares = [[b["x"][:, 0].tolist() for b in ds.for_rank(r, 3).batches(2, shuffle=True, seed=5,
                                                                              drop_last=drop_last)]
                  for r in range(3)]
        for step, batch in enumerate(whole):
            parts = [s[step] for s in shares if step < len(s)]
            assert sorted(sum(parts, [])) == sorted(batch)
        if drop_last:
            assert [len(s) for s in shares] == [3, 3, 3]
    assert [len(ds.for_rank(r, 3)) for r in range(3)] == [8, 8, 7]
    assert ds.for_rank(1, 3).labels.tolist() == (np.arange(1, 23, 3) % 2).tolist()
    with pytest.raises(ValueError, match="rank 3"):
        ds.for_rank(3, 3)


def test_nproc_above_cores_warns(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(launch, "cpu_cores", lambda: 2)
    monkeypatch.setattr("torch.distributed.run.main", calls.append)
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    exp = tmp_path / "exp.yaml"
    exp.write_text(yaml.safe_dump({"name": "x", "model": {"name": "dnn"}, "trainer": {"device": "cpu"}}))
    with pytest.warns(UserWarning, match="more processes than the 2 cores"):
        assert main(["train", str(exp), "--run-dir", str(tmp_path / "r"), "--nproc-per-node", "3",
                     "--set", "trainer.lr=1e-3"]) == 0
    args = calls[0]
    assert args[args.index("--nproc-per-node") + 1] == "3" and "--standalone" in args
    assert args[args.index("-m"):] == ["-m", "colliderlab.train", str(exp), "--run-dir", str(tmp_path / "r"),
                                       "--set", "trainer.lr=1e-3"]
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        launch.check_nproc(2, "cpu")
        launch.check_nproc(8, "cuda")
    with pytest.raises(ValueError, match="at least 1"):
        launch.check_nproc(0, "cpu")
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert main(["train", str(exp), "--nproc-per-node", "2"]) == 2  # already under a launcher


def test_ddp_streams_uneven_shards(toptag_file, tmp_path):
    """Two processes stream a sharded sample whose shards differ in size (130, 130, 40 jets): both
    ranks finish with identical replicas, and the gathered validation covers the whole split."""
    from colliderlab.data.sharding import shard_file

    sample = tmp_path / "sharded.h5"
    shard_file(toptag_file, sample, shard_jets=130)
    cfg = _experiment(str(sample), tmp_path / "cache")
    cfg["data"].update({"stream": True, "loader_workers": 0, "shuffle_buffer": 64})
    cfg["trainer"].update({"epochs": 2})
    exp = tmp_path / "exp.yaml"
    exp.write_text(yaml.safe_dump(cfg))
    cmd = [sys.executable, "-m", "colliderlab.cli", "train", str(exp), "--run-dir", str(tmp_path / "run"), "--quiet",
           "--nproc-per-node", "2", "--master-port", str(_free_port())]
    res = _run_bounded(cmd, {DEBUG_DIR_ENV: str(tmp_path / "debug"), "OMP_NUM_THREADS": "1"})
    assert res.returncode == 0, res.stdout[-4000:]
    r0, r1 = (json.loads((tmp_path / "debug" / f"rank{r}.json").read_text()) for r in (0, 1))
    assert r0["world_size"] == 2 and r0["param_sha256"] == r1["param_sha256"]
    assert r0["steps"] == r1["steps"] > 0 and r0["train_loss"] == r1["train_loss"]
    rows = _csv(tmp_path / "run" / "metrics.csv")
    assert len(rows) == 2 and all(0.75 < r["val_auc"] <= 1.0 for r in rows)  # ~0.5 if misaligned
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert results["auc"] > 0.6
