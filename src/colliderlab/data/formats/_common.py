"""Helpers shared by the jet-format readers: argument checks, row ranges, pT ordering, labels."""

from __future__ import annotations

import errno
import importlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from colliderlab.data.errors import DataFormatError

PathLike = str | Path


def check_exists(path: PathLike) -> Path:
    """``path`` as a Path; ``FileNotFoundError`` naming it when there is no such file."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(errno.ENOENT, "no such jet file", str(p))
    return p


def row_range(start: int, stop: int | None, n: int) -> tuple[int, int]:
    """Clamp ``[start, stop)`` to ``[0, n)`` with Python slice semantics (negatives count back)."""
    s, e, _ = slice(start, stop).indices(n)
    return s, max(s, e)


def check_chunk_size(chunk_size: int) -> int:
    if chunk_size <= 0:
        raise ValueError(f"chunk_size must be positive, got {chunk_size}")
    return int(chunk_size)


def chunks(start: int, stop: int, chunk_size: int) -> Iterator[tuple[int, int]]:
    """``[s, e)`` ranges of at most ``chunk_size`` rows covering ``[start, stop)``."""
    check_chunk_size(chunk_size)
    for s in range(start, stop, chunk_size):
        yield s, min(s + chunk_size, stop)


def n_slots(n_particles: int | None, default: int) -> int:
    """The padded particle count P: ``n_particles`` if given (must be positive), else ``default``."""
    if n_particles is None:
        return default
    if n_particles <= 0:
        raise ValueError(f"n_particles must be positive, got {n_particles}")
    return int(n_particles)


def sort_by_pt(pt: np.ndarray, mask: np.ndarray, *arrays: np.ndarray) -> list[np.ndarray]:
    """Reorder the particle axis (axis 1) of ``mask`` and ``arrays`` (N, M, ...) so that real
    particles come first by decreasing pT and padding last (stable). Already sorted input is
    returned as is."""
    key = np.where(mask, -pt, np.inf)  # (N, M)
    if (key[:, 1:] >= key[:, :-1]).all():
        return [mask, *arrays]
    order = np.argsort(key, axis=1, kind="stable")
    return [
        np.take_along_axis(a, order.reshape(order.shape + (1,) * (a.ndim - 2)), axis=1)
        for a in (mask, *arrays)
    ]


def check_labels(path: PathLike, label: np.ndarray, label_names: Sequence[str], what: str) -> np.ndarray:
    """``label`` as int64 after checking that every value indexes ``label_names``.

    Raises:
        DataFormatError: a value that is not an integer in ``[0, len(label_names))``; the message
            names the first such value, its row, and the valid values with their names.
    """
    raw = np.asarray(label)
    as_int = np.rint(raw.astype(np.float64)) if raw.dtype.kind in "fc" else raw
    valid = np.isfinite(as_int) if raw.dtype.kind in "fc" else np.ones(raw.shape, bool)
    valid &= as_int == raw
    as_int = np.where(valid, as_int, -1).astype(np.int64)
    valid &= (as_int >= 0) & (as_int < len(label_names))
    if not valid.all():
        row = int(np.flatnonzero(~valid.reshape(-1))[0])
        choices = ", ".join(f"{i} ({name})" for i, name in enumerate(label_names))
        raise DataFormatError(
            path,
            f"{what} holds {raw.reshape(-1)[row].item()!r} at row {row} ({int((~valid).sum())} bad value(s)); "
            f"valid labels: {choices}",
        )
    return as_int


def check_lengths(path: PathLike, lengths: dict[str, int], what: str = "arrays") -> int:
    """The common first-axis length of named arrays; :class:`DataFormatError` naming every array
    and its length when they disagree."""
    if len(set(lengths.values())) > 1:
        shown = ", ".join(f"{k!r} {v}" for k, v in lengths.items())
        raise DataFormatError(path, f"{what} disagree on the number of rows (first axis): {shown}")
    return next(iter(lengths.values()), 0)


def import_optional(module: str) -> Any:
    """``import module``, or ImportError saying which extra installs it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(f"reading this format needs '{module}': pip install 'colliderlab[io]'") from exc


def open_hdf5(path: PathLike) -> Any:
    """``h5py.File(path, "r")``; a missing file or one that is not HDF5 is a clear error."""
    import h5py

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    try:
        return h5py.File(path, "r")
    except (OSError, RuntimeError) as e:  # h5py reports some damaged headers as RuntimeError
        raise DataFormatError(path, f"not a readable HDF5 file (truncated or corrupt?): {e}") from None


def attr_str(path: PathLike, attrs: Any, name: str) -> str:
    """A string attribute (h5py reads our variable-length strings as str); anything else is an
    error naming the attribute."""
    value = attrs[name]
    if not isinstance(value, str):
        raise DataFormatError(path, f"attribute {name!r} is {type(value).__name__}, expected a string")
    return value


def attr_strings(path: PathLike, attrs: Any, name: str) -> tuple[str, ...]:
    """A 1-D array-of-strings attribute as a tuple of str."""
    value = attrs[name]
    if not (isinstance(value, np.ndarray) and value.ndim == 1 and all(isinstance(s, str) for s in value)):
        raise DataFormatError(path, f"attribute {name!r} is not a list of strings")
    return tuple(value)


def attr_numbers(path: PathLike, attrs: Any, name: str) -> np.ndarray:
    """A numeric attribute (scalar or array) as a float64 array."""
    value = np.asarray(attrs[name])
    if value.dtype.kind not in "biuf":
        raise DataFormatError(path, f"attribute {name!r} is {value.dtype}, expected numbers")
    return value.astype(np.float64)


def dataset(path: PathLike, group: Any, name: str) -> Any:
    """``group[name]`` if it is an HDF5 dataset; a DataFormatError naming it otherwise (missing, or a
    group or named datatype where a dataset belongs)."""
    import h5py

    obj = group.get(name)
    if not isinstance(obj, h5py.Dataset):
        what = "missing" if obj is None else f"a {type(obj).__name__}, not a dataset"
        raise DataFormatError(path, f"{name!r} in {group.name!r} is {what}")
    return obj


ATTRS_DIGEST = "attrs_sha256"


def _plain_attr(value: Any) -> Any:
    """An attribute as h5py reads it, in JSON-able form (arrays to lists, numpy scalars to Python)."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value


def attrs_digest(attrs: Any) -> str:
    """SHA-256 of a file's root attributes (all but the digest itself), as read back.

    HDF5 keeps variable-length string attributes in a heap that its metadata checksums do not
    cover, so a flipped bit there would read silently; this digest, written beside them, catches it."""
    import hashlib
    import json

    plain = {k: _plain_attr(attrs[k]) for k in sorted(attrs) if k != ATTRS_DIGEST}
    return hashlib.sha256(json.dumps(plain, sort_keys=True).encode()).hexdigest()


def seal_attrs(attrs: Any) -> None:
    """Write :func:`attrs_digest` of an open file's root attributes into ``attrs_sha256``."""
    attrs[ATTRS_DIGEST] = attrs_digest(attrs)


def check_attrs(path: PathLike, attrs: Any) -> None:
    """Verify ``attrs_sha256`` when the file has one (files written before it are accepted)."""
    if ATTRS_DIGEST not in attrs:
        return
    if attr_str(path, attrs, ATTRS_DIGEST) != attrs_digest(attrs):
        raise DataFormatError(path, "the file's attributes do not match their checksum (attrs_sha256): "
                                    "the file is corrupted")
