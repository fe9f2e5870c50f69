"""Learnable datasets built from files: read jets (or calorimeter showers), compute a representation,
cache the arrays.

:func:`build_dataset` reads any jet file that :func:`colliderlab.data.readers.read_jets` reads
(or a shower file, for calorimeter representations), computes the representation once and caches
the result next to the data (keyed on the file, its size and mtime, the representation config and
the number of jets), so repeated trainings skip the feature step. The result is a
:class:`colliderlab.data.dataset.ArrayDataset`.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from colliderlab.atomic import replacing
from colliderlab.data.dataset import ArrayDataset

__all__ = ["build_dataset", "iter_datasets"]

# cache format per data source (calo 3: jet_p4 holds the visible energy, no longer the incident one)
_CACHE_VERSION = {"jets": 2, "calo": 3}


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
    with replacing(path) as tmp, open(tmp, "wb") as f:
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
    evaluation on another file computes exactly the same features. For a file generated from a
    preset the jets' ``fields`` are first narrowed to the preset's information content (the public
    dataset's fields, :func:`colliderlab.data.contract.information_content`), so that ``auto``
    picks what the public files support, not what the generator happened to store.

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
        if source == "jets":  # "auto" options follow the information content of a preset's dataset
            from colliderlab.data.contract import narrow_to_content

            representation = representation.resolve(narrow_to_content(jets, path))
        else:
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


def iter_datasets(
    path: str | os.PathLike,
    representation: Any,
    *,
    chunk_size: int = 16_384,
    progress: bool = False,
    target: str | None = None,
) -> Iterator[ArrayDataset]:
    """The datasets of consecutive chunks of at most ``chunk_size`` jets of any supported file,
    for scoring files larger than memory: as :func:`build_dataset` over each chunk (labels or
    ``target``, ``jet_p4`` and ``truth_p4`` in ``meta``), with ``representation`` already
    resolved (a trained run's) and no cache. Calorimeter representations read their file whole.

    Raises:
        ValueError: the file has no jets.
    """
    if getattr(representation, "source", "jets") != "jets":
        yield build_dataset(path, representation, progress=progress, target=target)[0]
        return
    from colliderlab.data.formats import count_jets, iter_jets
    from colliderlab.features.representations import representation_to_dict
    from colliderlab.progress import progress as progress_bar

    if target is not None:
        from colliderlab.features.targets import check_target

        check_target(target)
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"data file {str(path)!r} does not exist")
    rep_dict = representation_to_dict(representation)
    n = count_jets(path)
    if n == 0:
        raise ValueError(f"{str(path)!r} has no jets")
    bar = progress_bar(iter_jets(path, chunk_size=chunk_size), total=-(-n // chunk_size),
                       desc=f"{representation.kind} features", unit="chunk", enabled=progress and n > chunk_size)
    for jets in bar:
        ds = ArrayDataset(representation.compute(jets), jets.label.astype(np.int64), tuple(jets.label_names),
                          meta={"representation": rep_dict, "jet_p4": jets.jet_p4, "truth_p4": jets.truth_p4})
        yield _with_target(ds, target)


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
    from colliderlab.progress import progress as progress_bar

    parts: list[dict[str, np.ndarray]] = []
    starts = range(0, len(jets), chunk)
    bar = progress_bar(starts, desc=f"{representation.kind} features", unit="block",
                       enabled=progress and len(starts) > 1)
    for s in bar:
        parts.append(representation.compute(jets[s : s + chunk]))
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
