"""Prediction over sharded samples: one task per shard, sharded scores with a master file.

The scores equal those of the single-file predict on the same jets in the same order (in this
process and on a 2-worker local Dask cluster); a killed predict keeps its finished shards; a
missing score shard is caught when the master is opened; shards of another sample are refused.
"""

from __future__ import annotations

import shutil

import h5py
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from colliderlab.cli import main  # noqa: E402
from colliderlab.cluster import ClusterConfig  # noqa: E402
from colliderlab.data.errors import DataFormatError  # noqa: E402
from colliderlab.data.sharding import shard_file  # noqa: E402
from colliderlab.data.shards import shards_dir  # noqa: E402
from colliderlab.train import predict_shards  # noqa: E402
from colliderlab.train.experiment import experiment_from_dict, predict_run, run_experiment  # noqa: E402
from colliderlab.train.score_shards import read_scores  # noqa: E402

SHARD_JETS = 70  # 300 jets: shards of 70, 70, 70, 70, 20


@pytest.fixture(scope="module")
def setup(toptag_file, tmp_path_factory):
    """A tiny PFN run, the fixture's jets cut into shards, and the single-file scores of both."""
    torch.set_num_threads(1)
    base = tmp_path_factory.mktemp("predshards")
    cfg = experiment_from_dict({
        "name": "pred-shards", "data": {"path": toptag_file, "cache_dir": str(base / "cache")},
        "representation": {"kind": "particles", "n_particles": 32}, "model": {"name": "pfn", "preset": "lite"},
        "trainer": {"epochs": 1, "batch_size": 64, "lr": 2e-3, "progress": False, "patience": 0},
    })
    run = base / "run"
    run_experiment(cfg, run, progress=False, plots=False)
    sample = shard_file(toptag_file, base / "sample.h5", shard_jets=SHARD_JETS)
    ref, _ = read_scores(predict_run(run, toptag_file, base / "ref.h5", progress=False))
    return run, sample.master, ref


def _same(out, ref):
    got, attrs = read_scores(out)
    assert set(got) == {"scores", "labels"} and attrs["class_names"] == ["qcd", "top"]
    np.testing.assert_array_equal(got["labels"], ref["labels"])
    np.testing.assert_allclose(got["scores"], ref["scores"], rtol=0, atol=1e-6)


def test_cli_inline_equals_single_file(setup, tmp_path):
    run, master, ref = setup
    out = tmp_path / "scores.h5"
    assert main(["predict", str(run), "--data", str(master), "--out", str(out), "--quiet"]) == 0
    _same(out, ref)
    assert sorted(p.name for p in shards_dir(out).glob("scores-*.h5")) == [f"scores-{k:06d}.h5" for k in range(5)]
    with h5py.File(out, "r") as f:  # reads like a single score file, through plain h5py
        assert f["scores"].shape == (300, 2) and f.attrs["n_shards"] == 5
        assert f.attrs["data_format"] == "colliderlab-sharded"
    assert main(["shards", "verify", str(out)]) == 0
    victim = shards_dir(out) / "scores-000002.h5"
    raw = bytearray(victim.read_bytes())
    raw[len(raw) // 2] ^= 0xFF  # a flipped byte: same size, caught by the sha256 only
    victim.write_bytes(bytes(raw))
    assert main(["shards", "verify", str(out)]) == 2


def test_two_worker_cluster_equals_single_file(setup, tmp_path):
    run, master, ref = setup
    out = predict_shards.predict_sharded(run, master, tmp_path / "scores.h5", progress=False, chunk_jets=32,
                                         cluster=ClusterConfig(workers=2, dashboard=False))
    _same(out, ref)


def test_killed_predict_resumes_from_finished_shards(setup, tmp_path, monkeypatch):
    run, master, ref = setup
    out = tmp_path / "scores.h5"
    real, calls = predict_shards.predict_shard, []

    def dies_after_one(job):
        if calls:
            raise KeyboardInterrupt("killed")
        calls.append(job.index)
        return real(job)

    monkeypatch.setattr(predict_shards, "predict_shard", dies_after_one)
    with pytest.raises(KeyboardInterrupt):
        predict_shards.predict_sharded(run, master, out, progress=False)
    assert not out.exists()
    first = shards_dir(out) / "scores-000000.h5"
    mtime = first.stat().st_mtime_ns

    def counted(job):
        calls.append(job.index)
        return real(job)

    calls.clear()
    monkeypatch.setattr(predict_shards, "predict_shard", counted)
    predict_shards.predict_sharded(run, master, out, progress=False)
    assert calls == [1, 2, 3, 4] and first.stat().st_mtime_ns == mtime
    _same(out, ref)


def test_missing_or_foreign_score_shard_is_caught_on_open(setup, tmp_path):
    run, master, ref = setup
    out = predict_shards.predict_sharded(run, master, tmp_path / "a.h5", progress=False)
    shard = shards_dir(out) / "scores-000001.h5"
    saved = shard.read_bytes()
    shard.unlink()
    with pytest.raises(DataFormatError, match="1 of 5 shards .* scores-000001.h5 is missing"):
        read_scores(out)
    shard.write_bytes(saved)
    read_scores(out)
    # the same jets in another sample (its shard 0 scores identically): its score shard is refused
    other = shard_file(master, tmp_path / "other.h5", shard_jets=SHARD_JETS, repeat=2)
    other_out = predict_shards.predict_sharded(run, other.master, tmp_path / "b.h5", progress=False)
    shutil.copy(shards_dir(other_out) / "scores-000000.h5", shards_dir(out) / "scores-000000.h5")
    with pytest.raises(DataFormatError, match="scores-000000.h5 belongs to sample"):
        read_scores(out)


def test_scores_of_another_sample_are_refused(setup, tmp_path):
    run, master, ref = setup
    out = predict_shards.predict_sharded(run, master, tmp_path / "scores.h5", progress=False)
    other = shard_file(master, tmp_path / "other.h5", shard_jets=100)
    with pytest.raises(FileExistsError, match="scores of run .* shards of another run or sample are refused"):
        predict_shards.predict_sharded(run, other.master, out, progress=False)
    predict_shards.predict_sharded(run, other.master, out, progress=False, overwrite=True)
    _same(out, ref)
    assert len(list(shards_dir(out).glob("scores-*.h5"))) == 3
    with pytest.raises(FileExistsError, match="not a folder of score shards"):  # a jet sample is never replaced
        predict_shards.predict_sharded(run, master, other.master, progress=False, overwrite=True)
    with pytest.raises(ValueError, match="the sample's own master file"):
        predict_shards.predict_sharded(run, master, master, progress=False, overwrite=True)


def test_baseline_run_scores_the_same_sharded(setup, toptag_file, tmp_path):
    """A BDT baseline (no torch model) goes through the same per-shard path."""
    _, master, _ = setup
    names = ["mass", "mass_sd", "tau21", "tau32", "n_constituents", "girth", "ptd"]
    cfg = experiment_from_dict({
        "name": "pred-shards-bdt", "data": {"path": toptag_file, "cache_dir": str(tmp_path / "cache")},
        "representation": {"kind": "observables", "names": names}, "model": {"name": "bdt"},
    })
    run = tmp_path / "bdt"
    run_experiment(cfg, run, progress=False, plots=False)
    ref, _ = read_scores(predict_run(run, toptag_file, tmp_path / "ref.h5", progress=False))
    _same(predict_shards.predict_sharded(run, master, tmp_path / "scores.h5", progress=False), ref)
