"""Streaming over sharded samples: every jet once per epoch across ranks and workers, seeded order,
splits that survive added shards, a bounded shuffle buffer, and streamed runs of the experiment."""

from __future__ import annotations

import dataclasses

import h5py
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from colliderlab.data.h5 import read_h5, write_h5  # noqa: E402
from colliderlab.data.sharding import shard_file  # noqa: E402
from colliderlab.data.stream_plan import Source, SplitSpec, StreamPlan, sample_sources  # noqa: E402
from colliderlab.features.representations import representation_config  # noqa: E402
from colliderlab.jets import JetBatch  # noqa: E402
from colliderlab.train.stream import (  # noqa: E402
    JET_ID,
    StreamConfig,
    StreamingDataset,
    StreamStats,
    rebatch,
    shuffle_blocks,
)

REP = representation_config("particles", n_particles=8, features="kinematic")


@pytest.fixture(autouse=True)
def _threads():
    torch.set_num_threads(1)


@pytest.fixture(scope="module")
def sample(toptag_file, tmp_path_factory):
    """The 300 fixture jets as a sharded sample of 4 shards (80, 80, 80, 60 jets)."""
    out = tmp_path_factory.mktemp("sharded") / "toptag.h5"
    shard_file(toptag_file, out, shard_jets=80)
    return out


def _stream(path, split="train", **config) -> StreamingDataset:
    sources, names = sample_sources(path)
    cfg = StreamConfig(**{"piece_rows": 32, "read_chunk": 24, "shuffle_buffer": 64, "with_index": True, **config})
    return StreamingDataset(StreamPlan(sources, SplitSpec(split), piece_rows=cfg.piece_rows), REP, names, config=cfg)


def _ids(ds: StreamingDataset, **kw) -> np.ndarray:
    return torch.cat([b[JET_ID] for b in ds.batches(16, **kw)]).numpy()


def _expected_ids(ds: StreamingDataset) -> np.ndarray:
    plan = ds.plan
    return np.concatenate([(p.source << 40) + p.lo + np.flatnonzero(plan.mask(p)) for p in plan.pieces])


def test_every_jet_once_per_epoch_across_two_ranks_of_two_workers(sample):
    ds = _stream(sample, loader_workers=2)
    seen = [_ids(ds.for_rank(r, 2), shuffle=True, seed=7) for r in range(2)]
    assert abs(len(seen[0]) - len(seen[1])) <= 1
    assert [len(s) for s in seen] == [len(ds.for_rank(r, 2)) for r in range(2)]
    allseen = np.concatenate(seen)
    assert len(allseen) == len(np.unique(allseen)) == len(ds)  # no jet twice, none missing
    np.testing.assert_array_equal(np.sort(allseen), np.sort(_expected_ids(ds)))
    # drop_last: both ranks take the same number of steps (DDP must not wait on a missing batch)
    steps = [sum(1 for _ in ds.for_rank(r, 2).batches(16, shuffle=True, seed=1, drop_last=True)) for r in range(2)]
    assert steps[0] == steps[1] == len(ds) // 2 // 16


@pytest.mark.parametrize("world,workers", [(3, 2), (2, 4), (1, 5)])
def test_plans_cut_pieces_when_readers_outnumber_them(world, workers):
    sources = [Source(None, "shard-000000.h5", 50), Source(None, "shard-000001.h5", 23)]  # 2 pieces
    plan = StreamPlan(sources, SplitSpec("train", 0.2, 0.1, 3), piece_rows=64)
    assert len(plan.pieces) == 2
    for seed in (0, 1):
        order = plan.order(True, seed)
        got = []
        for r in range(world):
            for w in range(workers):
                for seg in plan.assign(order, r, world, w, workers):
                    got += [(seg.source, seg.lo + i) for i in np.flatnonzero(plan.mask(seg))]
        assert len(got) == len(set(got)) == plan.total
        sizes = [plan.rank_range(r, world)[1] - plan.rank_range(r, world)[0] for r in range(world)]
        assert max(sizes) - min(sizes) <= 1


def test_same_seed_same_batches_another_seed_another_order(sample):
    ds = _stream(sample, loader_workers=2)
    a, b, c = (_ids(ds, shuffle=True, seed=s) for s in (5, 5, 6))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c) and np.array_equal(np.sort(a), np.sort(c))
    # unshuffled passes follow (shard, row), the order of `labels`, whatever the workers
    ordered = _stream(sample, loader_workers=2)
    np.testing.assert_array_equal(_ids(ordered), np.sort(a))
    labels = torch.cat([x["label"] for x in ordered.batches(20)]).numpy()
    np.testing.assert_array_equal(labels, ordered.labels)


def test_splits_of_old_shards_survive_an_added_shard(toptag_file, tmp_path):
    jets = read_h5(toptag_file)
    more = tmp_path / "more.h5"  # the same 300 jets then 100 more: one shard more, the old ones unchanged
    write_h5(more, JetBatch.concatenate([jets, jets[:100]]))
    small = shard_file(toptag_file, tmp_path / "small.h5", shard_jets=100)
    big = shard_file(more, tmp_path / "big.h5", shard_jets=100)
    assert len(small.shards) == 3 and len(big.shards) == 4
    for split in ("train", "val", "test"):
        ids_small = set(_expected_ids(_stream(tmp_path / "small.h5", split)))
        ids_big = set(_expected_ids(_stream(tmp_path / "big.h5", split)))
        assert ids_small == {i for i in ids_big if (i >> 40) < 3}  # same shard and row: same split
    sizes = {s: len(_stream(tmp_path / "big.h5", s)) for s in ("train", "val", "test")}
    assert sum(sizes.values()) == 400 and 30 < sizes["val"] < 100 and 30 < sizes["test"] < 100


def test_the_shuffle_buffer_holds_at_most_buffer_plus_one_chunk(sample):
    ds = _stream(sample, loader_workers=0, shuffle_buffer=40, read_chunk=24)
    got = _ids(ds, shuffle=True, seed=2)
    assert len(got) == len(ds)
    assert 40 < ds.stats.peak_rows <= 40 + 24  # filled, never more than buffer + one read
    assert ds.stats.blocks == sum(-(-(p.hi - p.lo) // 24) for p in ds.plan.pieces)
    # the buffer alone: a permutation of its input, never more than capacity + one block held
    rng, stats = np.random.default_rng(0), StreamStats()
    blocks = ({"label": np.arange(i, i + 7)} for i in range(0, 700, 7))
    out = np.concatenate([b["label"] for b in shuffle_blocks(blocks, 50, rng, stats)])
    assert stats.peak_rows <= 57 and sorted(out) == list(range(700)) and not np.array_equal(out, np.arange(700))


def test_rebatch_cuts_blocks_into_batches():
    blocks = [{"label": torch.arange(a, b)} for a, b in ((0, 5), (5, 6), (6, 20), (20, 20), (20, 23))]
    sizes = [len(b["label"]) for b in rebatch(blocks, 4)]
    assert sizes == [4] * 5 + [3]
    assert [len(b["label"]) for b in rebatch(blocks, 4, drop_last=True, max_batches=3)] == [4, 4, 4]


def test_subset_and_standardizer(sample):
    from colliderlab.data.dataset import Standardizer

    ds = _stream(sample, "test")
    head = ds.subset(slice(3, 20))
    assert len(head) == 17 and set(head.arrays) == {"x", "mask", "coords", "p4"}
    std = Standardizer.fit(ds.subset(slice(0, len(ds))).arrays, REP.standardize)
    scaled = ds.with_standardizer(std).subset(slice(3, 20))
    np.testing.assert_allclose(scaled.arrays["x"], std.apply(head.arrays)["x"], rtol=1e-6)
    with pytest.raises(TypeError, match="contiguous slices"):
        ds.subset(np.arange(3))


# ---------------------------------------------------------------------------- experiments


def _exp(path, stream, epochs=3, **data):
    return {
        "name": "stream", "data": {"path": str(path), "stream": stream, "cache_dir": None, **data},
        "representation": {"kind": "particles", "n_particles": 32}, "model": {"name": "pfn", "preset": "lite"},
        "trainer": {"epochs": epochs, "batch_size": 32, "lr": 3e-3, "progress": False, "patience": 0, "seed": 1},
    }


def _files(run):
    return sorted(str(p.relative_to(run)) for p in run.rglob("*") if p.is_file())


def test_a_streamed_pfn_run_learns_and_writes_the_same_run_directory(sample, toptag_file, tmp_path):
    from colliderlab.train.experiment import experiment_from_dict, predict_run, run_experiment

    streamed, in_memory = tmp_path / "streamed", tmp_path / "in-memory"
    res = run_experiment(experiment_from_dict(_exp(sample, True, loader_workers=1)), streamed, progress=False)
    ref = run_experiment(experiment_from_dict(_exp(toptag_file, False, epochs=1)), in_memory, progress=False)
    assert res["auc"] > 0.6, res
    assert _files(streamed) == _files(in_memory) and set(res) == set(ref)
    ds = _stream(sample, "test")
    assert res["n_test"] == len(ds) and res["n_train"] == len(_stream(sample, "train"))
    with h5py.File(streamed / "test_scores.h5") as f:
        assert f["scores"].shape == (len(ds), 2)
        np.testing.assert_array_equal(f["labels"][:], ds.labels)
    # predict on the sharded master equals predict on the file it was cut from
    a = predict_run(streamed, sample, tmp_path / "a.h5", progress=False)
    b = predict_run(streamed, toptag_file, tmp_path / "b.h5", progress=False)
    with h5py.File(a) as fa, h5py.File(b) as fb:
        np.testing.assert_allclose(fa["scores"][:], fb["scores"][:], atol=1e-6)


def test_predict_in_small_chunks_matches_one_chunk(sample, tmp_path, monkeypatch):
    from colliderlab.train import runs
    from colliderlab.train.experiment import experiment_from_dict, run_experiment

    run = tmp_path / "run"
    run_experiment(experiment_from_dict(_exp(sample, "auto", epochs=1)), run, progress=False, plots=False)
    whole, labels = runs.load_run(run).predict_proba(sample)
    monkeypatch.setattr(runs, "PREDICT_CHUNK", 64)
    chunked, labels2 = runs.load_run(run).predict_proba(sample)
    np.testing.assert_allclose(chunked, whole, atol=1e-6)
    np.testing.assert_array_equal(labels, labels2)


def test_stream_config_choices(sample, toptag_file):
    from colliderlab.train.experiment import experiment_from_dict, run_experiment

    assert experiment_from_dict(_exp(sample, "auto")).data.streams() is False  # 300 jets: below the threshold
    assert experiment_from_dict(_exp(toptag_file, "auto")).data.streams() is False  # not sharded
    assert experiment_from_dict(_exp(toptag_file, True)).data.streams() is True
    with pytest.raises(ValueError, match="choose one of false, true, auto"):
        experiment_from_dict(_exp(sample, "sometimes"))
    from colliderlab.train.stream import stream_splits

    cut = experiment_from_dict(_exp(sample, True, n_jets=100, val_path=str(toptag_file))).data
    train, val, test, rep = stream_splits(cut, representation_config("particles", n_particles=8))
    assert len(train) + len(test) == 100 and len(val) == 300 and rep.features != "auto"
    bdt = dataclasses.replace(experiment_from_dict(_exp(sample, True)), representation={"kind": "nsub"},
                              model=dataclasses.replace(experiment_from_dict({}).model, name="bdt"))
    with pytest.raises(ValueError, match="baseline"):
        run_experiment(bdt, "/nonexistent/never-written", progress=False)


def test_shuffled_batches_mix_shards_that_each_hold_one_class(toptag_file, tmp_path):
    """Shards of a single class each (as the last shards of a generated sample are): with a buffer
    smaller than a shard, the batches still mix the classes, because reads come in a random order."""
    jets = read_h5(toptag_file)
    by_class = jets[np.argsort(jets.label, kind="stable")]
    src = tmp_path / "sorted.h5"
    write_h5(src, by_class)
    out = tmp_path / "one-class-shards.h5"
    shard_file(src, out, shard_jets=int((jets.label == 0).sum()))  # shard 0: class 0 only, shard 1: class 1
    ds = _stream(out, split="all", piece_rows=512, read_chunk=16, shuffle_buffer=32)
    mixed = [0 < b["label"].float().mean() < 1 for b in ds.batches(16, shuffle=True, seed=3)]
    assert np.mean(mixed) > 0.6, mixed  # ~0.4 when the reads follow the pieces
