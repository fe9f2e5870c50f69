"""Streaming datasets: train, validate and test over sharded samples in bounded memory.

A :class:`StreamingDataset` is one split of a sample (a sharded master file or a plain
colliderlab jet file, :func:`colliderlab.data.stream_plan.sample_sources`) that the trainer uses
like an :class:`~colliderlab.data.dataset.ArrayDataset`: ``batches(batch_size, *, shuffle, seed,
drop_last, device)`` yields the same dicts of tensors (the representation's arrays, ``label``,
``weight``), ``len()`` is the number of jets of the split, and ``labels``, ``weights`` and
``class_names`` are there for class weights and validation metrics (labels are read alone from
the ``label`` datasets: 8 bytes a jet).

How a pass runs. The split's rows are planned as pieces (:class:`~colliderlab.data.stream_plan.
StreamPlan`: split by a hash of (shard file name, row), so a jet's split never changes when
shards are added). A torch ``DataLoader`` with ``loader_workers`` processes iterates a torch
``IterableDataset``; each worker reads its share of the rows (every jet once per epoch across
ranks and workers) in chunks of ``read_chunk`` rows with :func:`colliderlab.data.h5.read_h5`,
keeps the split's rows, computes the representation, applies the standardiser and yields blocks
of tensors; the main process cuts the blocks into batches.

* ``shuffle=True`` (training): the pieces are shuffled by ``seed`` (the trainer passes seed +
  epoch), each worker reads its share's ``read_chunk``-row reads in a random order (so the buffer
  mixes shards, even shards of one class) and draws its rows through a shuffle buffer of
  ``shuffle_buffer`` rows
  (:func:`shuffle_blocks`), seeded by (seed, rank, worker). The same seed and the same number of
  workers give the same batches; another number of workers gives another (equally valid) order.
* ``shuffle=False`` (validation, test, predict): the split's rows in (shard, row) order, the
  order of ``labels``, whatever the number of workers.

Memory is bounded by the shuffle buffer and the read chunk per worker (plus the DataLoader's
prefetch of two blocks per worker), not by the sample. :meth:`StreamingDataset.for_rank` gives
the view of one DDP rank; with ``drop_last`` every rank yields the same number of batches.

Costs to know: a validation or test pass reads every row of the sample to keep its split's (the
split is per row, and the shards' HDF5 chunks hold 512 rows), and each ``batches`` call starts
its own worker processes.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from colliderlab.data.dataset import ArrayDataset, Standardizer
from colliderlab.data.stream_plan import Segment, StreamPlan, read_labels

__all__ = [
    "STANDARDIZER_JETS",
    "StreamConfig",
    "StreamStats",
    "StreamingDataset",
    "shuffle_blocks",
    "rebatch",
]

STANDARDIZER_JETS = 20_000
"""A streamed run fits its standardiser on the first this many training jets (in (shard, row) order)."""

JET_ID = "jet_id"  # with StreamConfig.with_index: source number * 2**40 + row, int64


@dataclass(frozen=True)
class StreamConfig:
    """How a split is streamed.

    ``loader_workers``: DataLoader processes reading and computing representations (0: in the
    training process). ``shuffle_buffer``: rows each worker shuffles through (training passes).
    ``read_chunk``: rows read from a shard at once. ``piece_rows``: rows per piece, the unit
    shuffled between epochs and shared out to ranks and workers. ``with_index``: batches carry
    ``jet_id`` (source number * 2**40 + row), for tests and bookkeeping.
    """

    loader_workers: int = 0
    shuffle_buffer: int = 10_000
    read_chunk: int = 2048
    piece_rows: int = 8192
    with_index: bool = False

    def __post_init__(self) -> None:
        if self.loader_workers < 0 or self.shuffle_buffer < 0:
            raise ValueError("loader_workers and shuffle_buffer must be >= 0")
        if self.read_chunk < 1 or self.piece_rows < 1:
            raise ValueError("read_chunk and piece_rows must be positive")


@dataclass
class StreamStats:
    """Counters of in-process reading (``loader_workers = 0``; worker processes keep their own):
    ``peak_rows``, the most rows a shuffle buffer held at once (buffer plus the block being
    added), and ``blocks``, the blocks read."""

    peak_rows: int = 0
    blocks: int = 0


def _take(block: dict[str, np.ndarray], index: Any) -> dict[str, np.ndarray]:
    return {k: v[index] for k, v in block.items()}


def _rows(block: dict[str, Any]) -> int:
    return len(block["label"])


def shuffle_blocks(blocks: Iterable[dict[str, np.ndarray]], capacity: int, rng: np.random.Generator,
                   stats: StreamStats | None = None) -> Iterator[dict[str, np.ndarray]]:
    """Rows of ``blocks`` in a random order drawn through a buffer of ``capacity`` rows.

    Each incoming block joins the buffer; whenever it holds more than ``capacity`` rows, that
    many rows drawn uniformly from it leave as one block. At most ``capacity`` plus one block
    of rows are held at once (recorded in ``stats.peak_rows``).

    Shapes:
        blocks: dicts of arrays with a leading row axis, ``label`` (R,) among them.
    """
    pool: dict[str, np.ndarray] | None = None
    for block in blocks:
        if not _rows(block):
            continue
        pool = block if pool is None else {k: np.concatenate([pool[k], block[k]]) for k in block}
        if stats is not None:
            stats.peak_rows = max(stats.peak_rows, _rows(pool))
        excess = _rows(pool) - capacity
        if excess > 0:
            order = rng.permutation(_rows(pool))
            yield _take(pool, order[:excess])
            pool = _take(pool, order[excess:])
    if pool is not None and _rows(pool):
        yield _take(pool, rng.permutation(_rows(pool)))


def rebatch(blocks: Iterable[dict[str, Any]], batch_size: int, *, drop_last: bool = False,
            max_batches: int | None = None) -> Iterator[dict[str, Any]]:
    """Cut a stream of blocks (dicts of tensors, any number of rows) into batches of
    ``batch_size`` rows, in order; the last, shorter batch is dropped with ``drop_last``, and
    no more than ``max_batches`` are yielded."""
    pending: list[dict[str, Any]] = []
    n = done = 0
    if max_batches is not None and max_batches <= 0:
        return
    for block in blocks:
        if not _rows(block):
            continue
        pending.append(block)
        n += _rows(block)
        if n < batch_size:
            continue
        merged = pending[0] if len(pending) == 1 else {k: torch.cat([b[k] for b in pending]) for k in block}
        full = n - n % batch_size
        for s in range(0, full, batch_size):
            yield {k: v[s : s + batch_size] for k, v in merged.items()}
            done += 1
            if max_batches is not None and done >= max_batches:
                return
        pending = [{k: v[full:] for k, v in merged.items()}] if n > full else []
        n -= full
    if n and not drop_last:
        yield pending[0] if len(pending) == 1 else {k: torch.cat([b[k] for b in pending]) for k in pending[0]}


@dataclass
class _Reader:
    """Reads segments of a plan and turns their split rows into standardised arrays."""

    plan: StreamPlan
    representation: Any
    standardizer: Standardizer | None
    config: StreamConfig

    def reads(self, segments: Sequence[Segment]) -> list[Segment]:
        """The segments cut into reads of at most ``read_chunk`` rows."""
        step = self.config.read_chunk
        return [Segment(s.source, lo, min(lo + step, s.hi)) for s in segments for lo in range(s.lo, s.hi, step)]

    def block(self, read: Segment) -> dict[str, np.ndarray]:
        """The arrays of the split's rows of one read: the representation's (standardised),
        ``label`` (R,) int64, ``weight`` (R,) float32 and, with ``with_index``, ``jet_id`` (R,)."""
        from colliderlab.data.h5 import read_h5

        keep = np.flatnonzero(self.plan.mask(read))
        if not len(keep):
            return {"label": np.zeros(0, np.int64)}
        jets = read_h5(self.plan.sources[read.source].path, read.lo, read.hi)[keep]
        arrays = self.representation.compute(jets)
        if self.standardizer is not None:
            arrays = self.standardizer.apply(arrays)
        arrays["label"] = jets.label.astype(np.int64)
        arrays["weight"] = np.ones(len(keep), np.float32)
        if self.config.with_index:
            arrays[JET_ID] = (read.source << 40) + read.lo + keep.astype(np.int64)
        return arrays


class _Blocks(IterableDataset):
    """One pass over a rank's rows as blocks of tensors; each DataLoader worker takes its share."""

    def __init__(self, reader: _Reader, rank: int, world_size: int, shuffle: bool, seed: int,
                 stats: StreamStats) -> None:
        super().__init__()
        self.reader, self.rank, self.world_size = reader, rank, world_size
        self.shuffle, self.seed, self.stats = shuffle, int(seed), stats

    def __iter__(self) -> Iterator[dict[str, Any]]:
        info = get_worker_info()
        worker, workers = (info.id, info.num_workers) if info is not None else (0, 1)
        plan, reader = self.reader.plan, self.reader
        if self.shuffle:
            segments = plan.assign(plan.order(True, self.seed), self.rank, self.world_size, worker, workers)
            rng = np.random.default_rng([self.seed, 1, self.rank, worker])
            # reads in a random order, not piece after piece: the buffer then mixes every shard of the
            # worker's share (the last shards of a generated sample hold only the low-yield classes)
            reads = reader.reads(segments)
            rng.shuffle(reads)
            blocks = shuffle_blocks(map(self._counted, reads), reader.config.shuffle_buffer, rng, self.stats)
        else:  # read j of the rank goes to worker j % workers: the DataLoader's round robin keeps the order
            segments = plan.assign(plan.order(False, 0), self.rank, self.world_size, 0, 1)
            blocks = map(self._counted, reader.reads(segments)[worker::workers])
        for block in blocks:
            yield {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in block.items()}

    def _counted(self, read: Segment) -> dict[str, np.ndarray]:
        self.stats.blocks += 1
        return self.reader.block(read)


def _init_worker(_: int) -> None:
    torch.set_num_threads(1)  # the workers compute numpy features; the trainer owns the cores' threads


class StreamingDataset:
    """One split of a sample, streamed (see the module docstring).

    Args:
        plan: the split's pieces (:class:`~colliderlab.data.stream_plan.StreamPlan`).
        representation: a resolved representation config (``compute(jets) -> arrays``).
        class_names: the sample's classes.
        standardizer: applied to every block (None: raw arrays).
        config: :class:`StreamConfig`.
        rank, world_size: this view's DDP rank (:meth:`for_rank`).
    """

    def __init__(self, plan: StreamPlan, representation: Any, class_names: Sequence[str], *,
                 standardizer: Standardizer | None = None, config: StreamConfig | None = None,
                 rank: int = 0, world_size: int = 1) -> None:
        self.plan, self.representation, self.class_names = plan, representation, tuple(class_names)
        self.standardizer, self.config = standardizer, config or StreamConfig()
        self.rank, self.world_size = int(rank), int(world_size)
        plan.rank_range(self.rank, self.world_size)  # checks the rank
        self.stats = StreamStats()
        self._labels: np.ndarray | None = None

    def _replace(self, **changes: Any) -> StreamingDataset:
        kw = dict(standardizer=self.standardizer, config=self.config, rank=self.rank, world_size=self.world_size)
        return StreamingDataset(self.plan, self.representation, self.class_names, **{**kw, **changes})

    #: a rank's view holds a consecutive block of the unshuffled order (for gathering its outputs)
    rank_layout = "contiguous"

    def for_rank(self, rank: int, world_size: int) -> StreamingDataset:
        """The view of DDP rank ``rank`` of ``world_size``: about 1/world_size of the split, every
        jet in exactly one rank's view per epoch (the ranks' shares change with the epoch's seed)."""
        if self.world_size != 1:
            raise ValueError("for_rank is taken of the whole split, not of another rank's view")
        return self._replace(rank=rank, world_size=world_size)

    def with_standardizer(self, standardizer: Standardizer | None) -> StreamingDataset:
        """The same split with ``standardizer`` applied to every block."""
        return self._replace(standardizer=standardizer)

    def __len__(self) -> int:
        lo, hi = self.plan.rank_range(self.rank, self.world_size)
        return hi - lo

    def _ordered_reads(self) -> list[Segment]:
        plan = self.plan
        return _Reader(plan, None, None, self.config).reads(
            plan.assign(plan.order(False, 0), self.rank, self.world_size, 0, 1))

    @property
    def labels(self) -> np.ndarray:
        """(J,) int64 labels in the order of ``batches(shuffle=False)`` (read once, alone)."""
        if self._labels is None:
            parts = [read_labels(self.plan.sources[r.source].path, r.lo, r.hi)[self.plan.mask(r)]
                     for r in self._ordered_reads()]
            self._labels = np.concatenate(parts) if parts else np.zeros(0, np.int64)
        return self._labels

    @property
    def weights(self) -> np.ndarray:
        """(J,) float32 ones (streamed jets are unweighted)."""
        return np.ones(len(self), np.float32)

    def subset(self, index: slice) -> ArrayDataset:
        """Jets ``index`` (a slice) of the ordered split, read into an in-memory
        :class:`ArrayDataset`: for small selections (a standardiser fit, a speed probe)."""
        if not isinstance(index, slice) or index.step not in (None, 1):
            raise TypeError("a streamed split materialises contiguous slices only, e.g. subset(slice(0, 1000))")
        start, stop, _ = index.indices(len(self))
        reader = _Reader(self.plan, self.representation, self.standardizer, self.config)
        parts, seen = [], 0
        for read in self._ordered_reads():
            if seen >= stop:
                break
            block = reader.block(read)
            n = _rows(block)
            if n and seen + n > start:
                parts.append(_take(block, slice(max(start - seen, 0), stop - seen)))
            seen += n
        if not parts:
            raise ValueError(f"rows {start}:{stop} of a streamed split of {len(self)} jets are empty")
        cat = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
        labels, weights = cat.pop("label"), cat.pop("weight")
        cat.pop(JET_ID, None)
        return ArrayDataset(cat, labels, self.class_names, weights, {"representation": self.representation})

    def batches(self, batch_size: int, *, shuffle: bool = False, seed: int = 0, drop_last: bool = False,
                device: Any = "cpu") -> Iterator[dict[str, Any]]:
        """Yield dicts of torch tensors (the arrays plus ``label`` and ``weight``), as
        :meth:`ArrayDataset.batches` does. With ``drop_last`` (and at least ``batch_size`` jets)
        every rank yields (M / world_size) // batch_size batches, M the split's jets."""
        k = self.config.loader_workers
        reader = _Reader(self.plan, self.representation, self.standardizer, self.config)
        stream = _Blocks(reader, self.rank, self.world_size, shuffle, seed, self.stats)
        loader = DataLoader(stream, batch_size=None, num_workers=k, worker_init_fn=_init_worker if k else None,
                            prefetch_factor=2 if k else None)
        drop = drop_last and len(self) >= batch_size
        cap = self.plan.total // self.world_size // batch_size if drop else None
        for batch in rebatch(loader, batch_size, drop_last=drop, max_batches=cap):
            yield {key: v.to(device, non_blocking=True) for key, v in batch.items()}



# ---------------------------------------------------------------------------- experiments

RESOLVE_JETS = 4096
"""A streamed run resolves data-dependent representation options (``features: auto``) on this many first jets."""


def check_streamable(spec: Any, task: Any, representation: Any) -> None:
    """Refuse, saying why, the runs a stream cannot train: baselines (their fit takes every jet
    at once), regression and generator runs, calorimeter representations."""
    if spec.backend != "torch":
        raise ValueError(f"data.stream: {spec.name!r} is a {spec.backend} baseline, fitted on every jet at once; "
                         "stream torch models, or set data.stream: false")
    if task.name != "classifier":
        raise ValueError(f"data.stream trains classifiers; a {task.name} run reads its sample in memory "
                         "(data.stream: false)")
    if getattr(representation, "source", "jets") != "jets":
        raise ValueError(f"data.stream reads jet files; representation {representation.kind!r} reads showers")


def stream_splits(data: Any, representation: Any) -> tuple[StreamingDataset, StreamingDataset, StreamingDataset, Any]:
    """Train, validation and test streams of an experiment's ``data`` section, unstandardised,
    and the representation resolved on the first :data:`RESOLVE_JETS` jets.

    ``val_path`` / ``test_path`` are streamed whole, as the in-memory path uses them whole.
    """
    from colliderlab.data.contract import narrow_to_content
    from colliderlab.data.readers import read_jets
    from colliderlab.data.stream_plan import SplitSpec, sample_sources

    if not data.path:
        raise ValueError("the experiment has no data.path; give a jet file (colliderlab generate ...)")
    sources, names = sample_sources(data.path)
    if hasattr(representation, "resolve"):
        representation = representation.resolve(narrow_to_content(read_jets(data.path, stop=RESOLVE_JETS), data.path))
    config = StreamConfig(loader_workers=data.loader_workers, shuffle_buffer=data.shuffle_buffer)
    val_f, test_f = (0.0 if data.val_path else data.val_fraction), (0.0 if data.test_path else data.test_fraction)

    def split(name: str) -> StreamingDataset:
        plan = StreamPlan(sources, SplitSpec(name, val_f, test_f, data.split_seed), piece_rows=config.piece_rows,
                          n_jets=data.n_jets)
        return StreamingDataset(plan, representation, names, config=config)

    def whole(path: str) -> StreamingDataset:
        srcs, own = sample_sources(path)
        return StreamingDataset(StreamPlan(srcs, SplitSpec("all"), piece_rows=config.piece_rows), representation,
                                own, config=config)

    val = whole(data.val_path) if data.val_path else split("val")
    test = whole(data.test_path) if data.test_path else split("test")
    return split("train"), val, test, representation
