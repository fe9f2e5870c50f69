"""Plans for streaming a jet sample: which rows belong to a split, and who reads which rows.

A streamed sample is a list of *sources*: the shards of a sharded sample
(:mod:`colliderlab.data.shards`), or one plain colliderlab jet file. Nothing here reads jets;
the plan is small (a few integers per piece of rows) and travels to every reader process.

Splits. A jet's split is fixed by a hash of (its source's key, its row in that source, the split
seed) mapped to u in [0, 1) (:func:`split_uniform`, a splitmix64 finaliser): ``val`` when
u < val_fraction, ``test`` when u < val_fraction + test_fraction, else ``train``. The key of a
shard is its file name (``shard-000003.h5``), so adding shards to a sample never moves a jet of
the old shards to another split. The fractions hold in expectation (binomial fluctuations), not
exactly as with :func:`colliderlab.data.dataset.split_indices`.

Pieces. The rows of the sources are cut into *pieces* of at most ``piece_rows`` rows (a piece
never spans two sources) and the number of split rows of each piece is counted once (hashing
only, no reading). An epoch orders the pieces (shuffled by its seed, or in their natural order)
into one virtual stream of the split's M rows; rank r of W takes stream positions
[r M / W, (r + 1) M / W) and worker w of K of that rank the same cut of the rank's range, pieces
being cut where a boundary falls inside them. So every jet of the split is read exactly once per
epoch across all ranks and workers, each rank holds M / W rows (give or take one) whatever the
order, and a sample of fewer shards than ranks x workers still keeps every worker busy.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = [
    "SPLITS",
    "Source",
    "SplitSpec",
    "Segment",
    "StreamPlan",
    "sample_sources",
    "split_uniform",
    "read_labels",
]

SPLITS = ("train", "val", "test", "all")
_MASK64 = (1 << 64) - 1


@dataclass(frozen=True)
class Source:
    """One file of a streamed sample: its path, the key its rows are hashed with, and its jets."""

    path: Path
    key: str
    n: int


def sample_sources(path: str | os.PathLike) -> tuple[list[Source], tuple[str, ...]]:
    """The sources of a sharded master file (its shards, checked against the manifest) or of a
    plain colliderlab jet file (itself), and the sample's class names.

    Raises:
        DataFormatError: not a colliderlab jet file (other formats are read in memory), or a
            master file whose shards are missing or damaged.
    """
    from colliderlab.data.h5 import count_h5, read_h5_attrs
    from colliderlab.data.shards import is_sharded, open_sample

    attrs = read_h5_attrs(path)  # checks the schema (and a master file's shards)
    if is_sharded(attrs):
        sample = open_sample(path)
        return [Source(p, p.name, n) for p, n in sample.shards], sample.label_names
    return [Source(Path(path), Path(path).name, count_h5(path))], tuple(attrs["label_names"])


def _splitmix64(x: np.ndarray) -> np.ndarray:
    """The splitmix64 finaliser of uint64 ``x`` (wrapping arithmetic)."""
    x = x + np.uint64(0x9E3779B97F4A7C15)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def split_uniform(key: str, rows: np.ndarray, seed: int) -> np.ndarray:
    """A uniform number in [0, 1) per row of the source ``key``, fixed by (key, row, seed).

    Shapes:
        rows: (R,) int row indices -> (R,) float64.
    """
    digest = hashlib.sha256(f"{key}\0{int(seed)}".encode()).digest()
    salt = np.uint64(int.from_bytes(digest[:8], "little") & _MASK64)
    with np.errstate(over="ignore"):
        h = _splitmix64(np.asarray(rows, np.uint64) ^ salt)
    return (h >> np.uint64(11)).astype(np.float64) * 2.0**-53


@dataclass(frozen=True)
class SplitSpec:
    """Which split (``train``, ``val``, ``test`` or ``all``) and the experiment's fractions and seed."""

    name: str = "all"
    val_fraction: float = 0.15
    test_fraction: float = 0.15
    seed: int = 0

    def __post_init__(self) -> None:
        if self.name not in SPLITS:
            raise ValueError(f"split {self.name!r}: choose one of {', '.join(SPLITS)}")
        v, t = self.val_fraction, self.test_fraction
        if not (0 <= v < 1 and 0 <= t < 1 and v + t < 1):
            raise ValueError(f"val_fraction ({v}) and test_fraction ({t}) must be in [0, 1) and sum to less than 1")

    def mask(self, key: str, lo: int, hi: int) -> np.ndarray:
        """(hi - lo,) bool: which rows [lo, hi) of source ``key`` belong to this split."""
        if self.name == "all":
            return np.ones(hi - lo, bool)
        u = split_uniform(key, np.arange(lo, hi), self.seed)
        v, t = self.val_fraction, self.val_fraction + self.test_fraction
        if self.name == "val":
            return u < v
        if self.name == "test":
            return (u >= v) & (u < t)
        return u >= t


@dataclass(frozen=True)
class Segment:
    """Rows [lo, hi) of source number ``source`` (all of them read; the split's rows kept)."""

    source: int
    lo: int
    hi: int


class StreamPlan:
    """The pieces of a split of ``sources`` and their split-row counts (see the module docstring).

    Args:
        sources: the sample's files (:func:`sample_sources`).
        split: which rows are kept.
        piece_rows: rows per piece (the unit shuffled between epochs and shared out to readers).
        n_jets: keep only the first ``n_jets`` rows of the sample (in source order), as
            ``data.n_jets`` does for a file read in memory.
    """

    def __init__(self, sources: Sequence[Source], split: SplitSpec, *, piece_rows: int = 8192,
                 n_jets: int | None = None) -> None:
        if piece_rows < 1:
            raise ValueError(f"piece_rows must be positive, got {piece_rows}")
        self.sources, self.split = list(sources), split
        pieces, counts, left = [], [], np.inf if n_jets is None else int(n_jets)
        for i, src in enumerate(self.sources):
            stop = int(min(src.n, left))
            left -= stop
            for lo in range(0, stop, piece_rows):
                hi = min(lo + piece_rows, stop)
                pieces.append(Segment(i, lo, hi))
                counts.append(int(self.mask(pieces[-1]).sum()))
        self.pieces = pieces
        self.counts = np.asarray(counts, np.int64)  # (P,) split rows per piece
        self.total = int(self.counts.sum())

    def mask(self, seg: Segment) -> np.ndarray:
        """(seg.hi - seg.lo,) bool: the split's rows of a segment."""
        return self.split.mask(self.sources[seg.source].key, seg.lo, seg.hi)

    def order(self, shuffle: bool, seed: int) -> np.ndarray:
        """(P,) piece order of an epoch: a permutation fixed by ``seed``, or the natural order."""
        n = len(self.pieces)
        return np.random.default_rng([int(seed), 0]).permutation(n) if shuffle else np.arange(n)

    def rank_range(self, rank: int, world_size: int) -> tuple[int, int]:
        """Stream positions [lo, hi) of rank ``rank`` of ``world_size``."""
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} is not in [0, {world_size})")
        return rank * self.total // world_size, (rank + 1) * self.total // world_size

    def segments(self, order: np.ndarray, lo: int, hi: int) -> list[Segment]:
        """The segments holding stream positions [lo, hi) of the pieces in ``order``."""
        out = []
        ends = np.cumsum(self.counts[order])  # (P,) stream position after each piece
        first = int(np.searchsorted(ends, lo, side="right"))
        for j in range(first, len(order)):
            start = int(ends[j] - self.counts[order[j]])
            if start >= hi:
                break
            if not self.counts[order[j]]:
                continue
            piece = self.pieces[int(order[j])]
            a, b = self._cut(piece, lo - start), self._cut(piece, hi - start)
            if b > a:
                out.append(Segment(piece.source, a, b))
        return out

    def _cut(self, piece: Segment, k: int) -> int:
        """The row of ``piece`` before which it holds ``k`` split rows (clipped to the piece)."""
        if k <= 0:
            return piece.lo
        rows = np.flatnonzero(self.mask(piece))
        return piece.hi if k >= len(rows) else piece.lo + int(rows[k])

    def assign(self, order: np.ndarray, rank: int, world_size: int, worker: int, workers: int) -> list[Segment]:
        """The segments worker ``worker`` of ``workers`` of rank ``rank`` reads in an epoch."""
        lo, hi = self.rank_range(rank, world_size)
        n = hi - lo
        return self.segments(order, lo + worker * n // workers, lo + (worker + 1) * n // workers)


def read_labels(path: str | os.PathLike, lo: int, hi: int) -> np.ndarray:
    """(hi - lo,) int64: the ``label`` dataset of rows [lo, hi) of a colliderlab file, alone."""
    import h5py

    from colliderlab.data.errors import reading

    with reading(path), h5py.File(path, "r") as f:
        return np.asarray(f["label"][lo:hi], np.int64)
