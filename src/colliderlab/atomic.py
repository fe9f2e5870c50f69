"""Files written whole or not at all: write a temporary file beside the target, then rename.

A run killed mid-write leaves the previous file (or none), never a truncated one.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

__all__ = ["json_default", "replacing", "write_json", "write_safetensors", "write_text", "write_torch"]


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` to ``path`` atomically (temporary file + :func:`os.replace`)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        tmp.write_text(text)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


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


@contextmanager
def replacing(path: str | os.PathLike) -> Iterator[Path]:
    """A temporary path beside ``path`` to write; renamed onto ``path`` when the block ends
    without an error, removed otherwise."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


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
