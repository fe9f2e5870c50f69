"""In-memory learnable datasets: representation arrays, labels, splits, normalisation, batches.

A :class:`ArrayDataset` holds the arrays of one representation (see
:mod:`colliderlab.features.representations`) with a leading jet axis, plus integer class labels
(or float regression targets). Building one from a file (reading, computing the representation,
caching) is :func:`colliderlab.features.build.build_dataset`, a layer above.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "ArrayDataset",
    "RankShard",
    "Standardizer",
    "split_indices",
    "check_labels",
]

_PER_JET_META = ("jet_p4", "truth_p4")  # meta entries with a leading jet axis


@dataclass
class ArrayDataset:
    """Representation arrays of J jets and their targets.

    Shapes:
        arrays: ``{key: (J, ...)}`` as produced by a representation's ``compute``
        labels: (J,) int64 class index, or (J, T) float32 regression targets
        weights: (J,) float32 per-jet weights (ones by default)
    """

    arrays: dict[str, np.ndarray]
    labels: np.ndarray
    class_names: tuple[str, ...] = ()
    weights: np.ndarray | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.labels)
        for key, arr in self.arrays.items():
            if len(arr) != n:
                raise ValueError(f"array {key!r} has {len(arr)} jets but labels has {n}")
        if self.weights is None:
            self.weights = np.ones(n, np.float32)

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, index: np.ndarray | slice) -> ArrayDataset:
        """Jets selected by an index array or slice (copies only what is selected)."""
        return ArrayDataset(
            {k: v[index] for k, v in self.arrays.items()},
            self.labels[index],
            self.class_names,
            self.weights[index],
            {k: (v[index] if k in _PER_JET_META else v) for k, v in self.meta.items()},
        )

    def batches(
        self,
        batch_size: int,
        *,
        shuffle: bool = False,
        seed: int = 0,
        drop_last: bool = False,
        device: Any = "cpu",
    ) -> Iterator[dict[str, Any]]:
        """Yield dicts of torch tensors (the arrays plus ``label`` and ``weight``).

        Shuffling uses ``numpy.random.default_rng(seed)``, so an epoch's order depends only on
        ``seed`` (the trainer passes ``seed + epoch``): a resumed run sees the same batches.
        """
        n = len(self)
        order = self.epoch_order(shuffle, seed)
        stop = n - n % batch_size if drop_last and n >= batch_size else n
        yield from self.batches_of(order[:stop], batch_size, device)

    def epoch_order(self, shuffle: bool, seed: int) -> np.ndarray:
        """(J,) the order :meth:`batches` visits the jets in: ``default_rng(seed)``'s permutation
        when ``shuffle``, else ``0 .. J-1``."""
        n = len(self)
        return np.random.default_rng(seed).permutation(n) if shuffle else np.arange(n)

    def batches_of(self, index: np.ndarray, batch_size: int, device: Any = "cpu") -> Iterator[dict[str, Any]]:
        """Batches of the jets ``index`` (in that order), ``batch_size`` at a time (the last may be short)."""
        import torch

        tensors = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in self.arrays.items()}
        tensors["label"] = torch.from_numpy(np.ascontiguousarray(self.labels))
        tensors["weight"] = torch.from_numpy(np.ascontiguousarray(self.weights))
        for start in range(0, len(index), batch_size):
            idx = torch.from_numpy(np.ascontiguousarray(index[start : start + batch_size]))
            yield {k: v.index_select(0, idx).to(device, non_blocking=True) for k, v in tensors.items()}

    def for_rank(self, rank: int, world_size: int) -> RankShard:
        """Process ``rank``'s share of this dataset out of ``world_size`` (data-parallel training):
        a :class:`RankShard` view, nothing copied."""
        return RankShard(self, rank, world_size)


@dataclass
class RankShard:
    """Rank ``rank``'s share of ``parent`` when ``world_size`` processes train together (DDP).

    The share is every ``world_size``-th entry of each epoch's order, starting at ``rank``:
    unshuffled, the jets ``i`` with ``i % world_size == rank``; shuffled, the same positions of the
    parent's seeded permutation. :meth:`batches` with a per-rank ``batch_size`` ``b`` cuts the
    parent's order into global batches of ``b * world_size`` jets (dropping the short last one
    under ``drop_last`` exactly as the parent does at that size) and hands this rank its ``b``.
    So, at equal global batch, the ranks' step-``s`` batches together are exactly the parent's
    step-``s`` batch: ``world_size`` processes see the jets one process would, step by step, and
    every rank takes the same number of steps (with ``drop_last``).
    """

    parent: ArrayDataset
    rank: int
    world_size: int

    def __post_init__(self) -> None:
        if self.world_size < 1 or not 0 <= self.rank < self.world_size:
            raise ValueError(f"rank {self.rank} is not in a world of {self.world_size} processes")

    def __len__(self) -> int:
        return len(range(self.rank, len(self.parent), self.world_size))

    @property
    def class_names(self) -> tuple[str, ...]:
        return self.parent.class_names

    @property
    def labels(self) -> np.ndarray:
        """Labels of the unshuffled share (jets ``rank::world_size``)."""
        return self.parent.labels[self.rank :: self.world_size]

    @property
    def weights(self) -> np.ndarray:
        return self.parent.weights[self.rank :: self.world_size]

    def batches(
        self,
        batch_size: int,
        *,
        shuffle: bool = False,
        seed: int = 0,
        drop_last: bool = False,
        device: Any = "cpu",
    ) -> Iterator[dict[str, Any]]:
        """This rank's ``batch_size`` jets of each global batch of ``batch_size * world_size``
        (see the class docstring); the arguments mean what they mean for the parent."""
        n, step = len(self.parent), batch_size * self.world_size
        order = self.parent.epoch_order(shuffle, seed)
        stop = n - n % step if drop_last and n >= step else n
        yield from self.parent.batches_of(order[:stop][self.rank :: self.world_size], batch_size, device)


def check_labels(labels: np.ndarray, class_names: Sequence[str], what: str = "training set") -> None:
    """A classification set needs at least two populated classes; say which are missing."""
    present = np.unique(labels)
    if len(present) < 2:
        names = [class_names[i] if i < len(class_names) else str(i) for i in present]
        raise ValueError(
            f"the {what} has a single class ({', '.join(names) or 'no jets'}); a classifier needs "
            f"at least two of {list(class_names)}"
        )


def split_indices(
    n: int, val_fraction: float, test_fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Seeded random train / validation / test indices."""
    if not (0 <= val_fraction < 1 and 0 <= test_fraction < 1 and val_fraction + test_fraction < 1):
        raise ValueError(
            f"val_fraction ({val_fraction}) and test_fraction ({test_fraction}) must be in [0, 1) "
            "and sum to less than 1"
        )
    order = np.random.default_rng(seed).permutation(n)
    n_val, n_test = round(n * val_fraction), round(n * test_fraction)
    return order[n_val + n_test :], order[:n_val], order[n_val : n_val + n_test]


@dataclass
class Standardizer:
    """Per-feature mean and standard deviation of arrays' last axis, fitted on real entries.

    Entries where the dataset's ``mask`` is False (padding) are ignored when fitting and stay
    exactly zero when applied.
    """

    stats: dict[str, tuple[list[float], list[float]]] = field(default_factory=dict)

    @classmethod
    def fit(cls, arrays: Mapping[str, np.ndarray], keys: Sequence[str]) -> Standardizer:
        stats = {}
        mask = arrays.get("mask")
        for key in keys:
            arr = arrays[key]
            flat = arr.reshape(-1, arr.shape[-1])
            if mask is not None and mask.shape == arr.shape[:-1]:
                flat = flat[mask.reshape(-1)]
            mean = flat.mean(axis=0, dtype=np.float64) if len(flat) else np.zeros(arr.shape[-1])
            std = flat.std(axis=0, dtype=np.float64) if len(flat) else np.ones(arr.shape[-1])
            std = np.where(std > 1e-8, std, 1.0)  # constant features (flags) pass unscaled
            stats[key] = (mean.tolist(), std.tolist())
        return cls(stats)

    def apply(self, arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Standardised copies of the fitted keys (other arrays are passed through)."""
        out = dict(arrays)
        mask = arrays.get("mask")
        for key, (mean, std) in self.stats.items():
            arr = arrays[key]
            if arr.shape[-1] != len(mean):
                raise ValueError(
                    f"array {key!r} has {arr.shape[-1]} features but the normalisation was fitted "
                    f"on {len(mean)}"
                )
            z = ((arr - np.asarray(mean, np.float32)) / np.asarray(std, np.float32)).astype(np.float32)
            if mask is not None and mask.shape == arr.shape[:-1]:
                z *= mask[..., None]
            out[key] = z
        return out

    def to_dict(self) -> dict[str, Any]:
        return {k: {"mean": m, "std": s} for k, (m, s) in self.stats.items()}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Standardizer:
        return cls({k: (list(v["mean"]), list(v["std"])) for k, v in d.items()})
