"""In-memory learnable datasets: representation arrays, labels, splits, normalisation, batches.

A :class:`ArrayDataset` holds the arrays of one representation (see
:mod:`colliderlab.features.representations`) with a leading jet axis, plus integer class labels
(or float regression targets). :func:`build_dataset` reads any jet file that
:func:`colliderlab.data.readers.read_jets` reads, computes the representation once and caches the
result next to the data (keyed on the file, its size and mtime, the representation config and the
number of jets), so repeated trainings skip the feature step.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "ArrayDataset",
    "Standardizer",
    "build_dataset",
    "split_indices",
    "check_labels",
]

# cache format per data source (calo 3: jet_p4 holds the visible energy, no longer the incident one)
_CACHE_VERSION = {"jets": 2, "calo": 3}
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
        import torch

        n = len(self)
        order = np.random.default_rng(seed).permutation(n) if shuffle else np.arange(n)
        stop = n - n % batch_size if drop_last and n >= batch_size else n
        tensors = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in self.arrays.items()}
        tensors["label"] = torch.from_numpy(np.ascontiguousarray(self.labels))
        tensors["weight"] = torch.from_numpy(np.ascontiguousarray(self.weights))
        for start in range(0, stop, batch_size):
            idx = torch.from_numpy(order[start : start + batch_size])
            yield {k: v.index_select(0, idx).to(device, non_blocking=True) for k, v in tensors.items()}


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


def _cache_key(path: Path, rep: Mapping[str, Any], start: int, stop: int | None, source: str = "jets") -> str:
    st = path.stat()
    blob = json.dumps(
        [_CACHE_VERSION[source], str(path.resolve()), st.st_size, st.st_mtime_ns, dict(rep), start, stop],
        sort_keys=True,
        default=str,
    )
    return hashlib.sha1(blob.encode()).hexdigest()[:16]


def _save_cache(path: Path, ds: ArrayDataset, rep: Mapping[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    with open(tmp, "wb") as f:
        np.savez(
            f,
            __labels=ds.labels,
            __jet_p4=ds.meta["jet_p4"],
            __truth_p4=ds.meta["truth_p4"],
            __meta=np.frombuffer(
                json.dumps({"class_names": list(ds.class_names), "representation": dict(rep)}).encode(),
                np.uint8,
            ),
            **{f"a_{k}": v for k, v in ds.arrays.items()},
        )
    os.replace(tmp, path)


def _load_cache(path: Path) -> ArrayDataset:
    with np.load(path) as z:
        meta = json.loads(bytes(z["__meta"]).decode())
        arrays = {k[2:]: z[k] for k in z.files if k.startswith("a_")}
        return ArrayDataset(arrays, z["__labels"], tuple(meta["class_names"]),
                            meta={"representation": meta["representation"], "jet_p4": z["__jet_p4"],
                                  "truth_p4": z["__truth_p4"]})


def build_dataset(
    path: str | os.PathLike,
    representation: Any,
    *,
    start: int = 0,
    stop: int | None = None,
    cache_dir: str | os.PathLike | None = None,
    progress: bool = False,
    target: str | None = None,
) -> tuple[ArrayDataset, Any]:
    """Read jets ``[start, stop)`` of any supported file and compute ``representation``.

    A representation whose options depend on the data (``features="auto"``) is resolved on the
    jets first (``representation.resolve(jets)``), and the resolved config is returned, so that
    evaluation on another file computes exactly the same features.

    With ``target`` (a name from :data:`colliderlab.features.targets.TARGETS`) the labels are
    that per-jet quantity, (J, 1) float32, for a regression head; ``class_names`` still names the
    file's classes.

    Returns:
        (dataset, resolved representation config); ``dataset.arrays`` are not standardised.
    """
    from colliderlab.data.readers import read_jets
    from colliderlab.features.representations import representation_to_dict

    if target is not None:
        from colliderlab.features.targets import check_target

        check_target(target)
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"data file {str(path)!r} does not exist")
    reader = read_jets
    source = getattr(representation, "source", "jets")
    if source == "calo":  # calorimeter showers, not jets
        from colliderlab.features.calo import read_showers as reader
    jets = None
    if hasattr(representation, "resolve"):
        jets = reader(path, start=start, stop=stop)
        representation = representation.resolve(jets)
    rep_dict = representation_to_dict(representation)
    cache = None
    if cache_dir is not None:
        cache = Path(cache_dir) / f"{path.stem}-{rep_dict['kind']}-{_cache_key(path, rep_dict, start, stop, source)}.npz"
        if cache.exists():
            try:
                return _with_target(_load_cache(cache), target), representation
            except (OSError, ValueError, KeyError):  # a damaged cache is recomputed
                cache.unlink(missing_ok=True)
    if jets is None:
        jets = reader(path, start=start, stop=stop)
    if len(jets) == 0:
        raise ValueError(f"{str(path)!r} has no jets in [{start}, {stop})")
    arrays = _compute(representation, jets, progress)
    if source == "calo":
        from colliderlab.features.calo import calo_labels

        labels, names = calo_labels(jets)
        # measured (E_visible, 0, 0, 0) and truth (E_inc, 0, 0, 0): targets 'visible_energy', 'incident_energy'
        jet_p4, truth_p4 = np.zeros((len(labels), 4)), np.zeros((len(labels), 4))
        jet_p4[:, 0] = np.asarray(jets.showers, np.float64).sum(1)
        truth_p4[:, 0] = np.asarray(jets.incident_energy, np.float64)
        ds = ArrayDataset(arrays, labels, names, meta={"representation": rep_dict, "jet_p4": jet_p4,
                                                       "truth_p4": truth_p4})
    else:
        ds = ArrayDataset(arrays, jets.label.astype(np.int64), tuple(jets.label_names),
                          meta={"representation": rep_dict, "jet_p4": jets.jet_p4, "truth_p4": jets.truth_p4})
    if cache is not None:
        _save_cache(cache, ds, rep_dict)
    return _with_target(ds, target), representation


def _with_target(ds: ArrayDataset, target: str | None) -> ArrayDataset:
    """Replace class labels by the regression target (J, 1) when one is asked for."""
    if target is None:
        return ds
    from colliderlab.features.targets import target_values

    values = target_values(target, ds.meta["jet_p4"], ds.meta["truth_p4"])
    return ArrayDataset(ds.arrays, values.astype(np.float32)[:, None], ds.class_names, ds.weights,
                        {**ds.meta, "target": target})


def _compute(representation: Any, jets: Any, progress: bool, chunk: int = 4096) -> dict[str, np.ndarray]:
    """Compute in chunks of jets (bounded memory, progress bar for long samples)."""
    from tqdm.auto import tqdm

    parts: list[dict[str, np.ndarray]] = []
    starts = range(0, len(jets), chunk)
    for s in tqdm(starts, desc=f"{representation.kind} features", disable=not progress or len(starts) < 2):
        parts.append(representation.compute(jets[s : s + chunk]))
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
