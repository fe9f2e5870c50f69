"""The input contract between jet files and trained models: which fields a file carries, and the
check that it carries what a model reads.

A :class:`~colliderlab.jets.JetBatch` knows the fields its source carried (``JetBatch.fields``,
set by every reader from its format). A trained run records the fields its representation reads
(``input_fields()`` of the representation config). :func:`check_fields` compares the two before
scoring a file: a field the model reads and the file lacks would be filled with zeros, silently
changing the scores, so it is an error (:class:`~colliderlab.data.errors.MissingFieldsError`)
unless it is named in ``allow_missing``, in which case the zeros are filled on purpose and the
returned :class:`InputReport` says so (the outputs record it).

:func:`information_content` is what a sample *should* be taken to carry: for a file generated
from a preset, the fields of the public dataset the preset mimics (recorded in its provenance),
which ``features: auto`` resolves against; for any other file, what it carries.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from colliderlab.data.errors import MissingFieldsError
from colliderlab.jets import ALL_FIELDS, JetBatch

__all__ = [
    "InputReport",
    "parse_fields",
    "file_fields",
    "information_content",
    "narrow_to_content",
    "check_fields",
]


def parse_fields(spec: str | Iterable[str] | None) -> tuple[str, ...]:
    """``"charge,pid"`` (or an iterable of names) -> sorted field names, each checked against
    :data:`colliderlab.jets.ALL_FIELDS` (an unknown one is a ``ValueError`` listing the valid)."""
    if spec is None:
        return ()
    names = [s.strip() for s in spec.split(",")] if isinstance(spec, str) else [str(s).strip() for s in spec]
    names = [n for n in names if n]
    unknown = [n for n in names if n not in ALL_FIELDS]
    if unknown:
        raise ValueError(f"unknown field(s) {', '.join(unknown)} in allow_missing; valid: {', '.join(sorted(ALL_FIELDS))}")
    return tuple(sorted(set(names)))


def file_fields(path: str | os.PathLike) -> tuple[str, frozenset[str]]:
    """The format of a jet file and the fields it carries (reads no jet, only the metadata).

    Raises:
        FileNotFoundError, DataFormatError: as :func:`colliderlab.data.readers.read_jets`.
    """
    from colliderlab.data.formats import detect_format, read_jets

    fmt = detect_format(path)
    return fmt, read_jets(path, stop=0, format=fmt).fields


def information_content(path: str | os.PathLike) -> frozenset[str] | None:
    """The fields of the public dataset a colliderlab file's preset mimics (its provenance's
    ``preset.fields``); None for other formats and for files without a preset."""
    from colliderlab.data.formats import detect_format

    if detect_format(path) not in ("colliderlab", "colliderlab-sharded"):
        return None
    from colliderlab.data.h5 import read_h5_attrs

    preset: Any = (read_h5_attrs(path).get("provenance") or {}).get("preset") or {}
    fields = preset.get("fields") if isinstance(preset, dict) else None
    if not isinstance(fields, list):
        return None
    return frozenset(f for f in fields if f in ALL_FIELDS)


def narrow_to_content(jets: JetBatch, path: str | os.PathLike) -> JetBatch:
    """``jets`` with ``fields`` narrowed to the file's :func:`information_content` (what options
    like ``features: auto`` resolve against); unchanged when the file has none."""
    content = information_content(path)
    return jets if content is None else jets.with_fields(content)


@dataclass(frozen=True)
class InputReport:
    """What :func:`check_fields` found: the file, its format, the fields the model reads
    (``required``), those the file carries, and those filled with zeros on purpose."""

    path: str
    format: str
    required: tuple[str, ...]
    carried: tuple[str, ...]
    filled: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The entries outputs record (``predict``'s HDF5 attributes, ``evaluate``'s results)."""
        return {
            "data_format": self.format,
            "input_fields": list(self.required),
            "filled_with_zeros": list(self.filled),
        }


def check_fields(
    path: str | os.PathLike,
    required: Iterable[str],
    allow_missing: str | Iterable[str] | None = (),
    *,
    reader: str = "the model",
) -> InputReport:
    """Check that the jet file ``path`` carries every field in ``required``.

    Args:
        path: any jet file the readers know.
        required: the fields the model reads (a run's recorded input fields).
        allow_missing: fields that may be missing: they are filled with zeros on purpose (the
            readers' padding) and reported in ``filled``. Names are checked.
        reader: who reads them, for the message (e.g. ``"run runs/pn (particles, features full)"``).

    Returns:
        :class:`InputReport`.

    Raises:
        MissingFieldsError: a required field the file lacks and ``allow_missing`` does not name;
            the message names the missing fields, the file and its format.
    """
    allowed = set(parse_fields(allow_missing))
    required = frozenset(required)
    fmt, carried = file_fields(path)
    missing = sorted(required - carried)
    refused = tuple(m for m in missing if m not in allowed)
    if refused:
        raise MissingFieldsError(path, fmt, refused, tuple(sorted(carried)), reader)
    return InputReport(str(path), fmt, tuple(sorted(required)), tuple(sorted(carried)),
                       tuple(m for m in missing if m in allowed))
