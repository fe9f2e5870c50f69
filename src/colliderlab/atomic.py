"""Files written whole or not at all: write a temporary file beside the target, then rename.

A run killed mid-write leaves the previous file (or none), never a truncated one. The one place
that does so is :func:`replacing`; :func:`write_text`, :func:`write_json`,
:func:`write_safetensors` and :func:`write_torch` are built on it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

__all__ = ["json_default", "replacing", "write_json", "write_safetensors", "write_text", "write_torch"]


@contextmanager
def replacing(path: str | os.PathLike, *, keep_suffix: bool = False) -> Iterator[Path]:
    """A temporary path beside ``path`` to write; renamed onto ``path`` when the block ends
    without an error, removed otherwise.

    The temporary name is ``.NAME.tmp-PID``; with ``keep_suffix`` it is ``.STEM.tmp-PID.SUFFIX``,
    for writers that choose the format from the extension (matplotlib, xgboost, ``numpy.savez``).

        with replacing(path, keep_suffix=True) as tmp:
            fig.savefig(tmp)
    """
    path = Path(path)
    if keep_suffix:
        tmp = path.with_name(f".{path.stem}.tmp-{os.getpid()}{path.suffix}")
    else:
        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` to ``path`` atomically (:func:`replacing`)."""
    with replacing(path) as tmp:
        tmp.write_text(text)
    return Path(path)


def json_default(o: Any) -> Any:
    """numpy scalars and arrays, paths and other number-like objects for :func:`json.dumps`."""
    import numpy as np

    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    try:
        return float(o)
    except (TypeError, ValueError):
        raise TypeError(f"not JSON serialisable: {type(o).__name__}") from None


def write_json(path: str | os.PathLike, obj: Any, indent: int | None = 2) -> Path:
    """``obj`` as JSON (numpy values converted by :func:`json_default`), written atomically."""
    return write_text(path, json.dumps(obj, indent=indent, default=json_default) + "\n")


def write_safetensors(path: str | os.PathLike, tensors: Mapping[str, Any],
                      metadata: Mapping[str, str] | None = None) -> Path:
    """Torch tensors (contiguous, no two sharing storage) as a safetensors file, atomically;
    ``metadata`` (str -> str) goes into the file's header."""
    from safetensors.torch import save_file

    with replacing(path) as tmp:
        save_file(dict(tensors), str(tmp), metadata=dict(metadata) if metadata else None)
    return Path(path)


def write_torch(path: str | os.PathLike, obj: Any) -> Path:
    """``torch.save(obj)`` atomically. Only for objects ``torch.load(weights_only=True)`` reads back
    (tensors, numbers, strings and lists/tuples/dicts of them)."""
    import torch

    with replacing(path) as tmp:
        torch.save(obj, tmp)
    return Path(path)
