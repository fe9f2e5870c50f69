"""The TrackML event layout (arXiv:1904.06778): read and write events as pandas DataFrames.

An event is four CSV files beside each other, ``event{ID:09d}-hits.csv``, ``-cells.csv``,
``-particles.csv`` and ``-truth.csv`` (each may be gzipped, ``.csv.gz``), and the detector geometry
is one more, ``detectors.csv``. The columns are those of the challenge data description and the
trackml-library (github.com/LAL/trackml-library, ``trackml/dataset.py``):

- hits: ``hit_id, x, y, z, volume_id, layer_id, module_id`` (x, y, z in mm)
- cells: ``hit_id, ch0, ch1, value`` (channel ids in the module; deposited charge, arbitrary units)
- particles: ``particle_id, vx, vy, vz, px, py, pz, q, nhits`` (vertex in mm, momentum in GeV,
  charge in units of e; ``nhits`` as written by the producer)
- truth: ``hit_id, particle_id, tx, ty, tz, tpx, tpy, tpz, weight`` (true position in mm and
  momentum in GeV at the hit; ``particle_id`` 0 marks a noise hit; ``weight`` the scoring weight)

dtypes: every integer column (ids, ``ch0``, ``ch1``, ``q``, ``nhits``) is int64 and every real
column float64 -- wider than the library's int32/float32, so that TrackML's 64-bit particle ids
and our simulated values round-trip exactly (pandas writes the shortest repr of a float64).
Columns beyond the layout (our simulation adds ``pdg``, ``parent_id``, ``subevent`` to particles;
later TrackML releases add ``particle_type``) are kept, after the required ones, when writing and
read back with the types pandas infers.

:func:`hit_weights` is the per-hit weight of the TrackML score (arXiv:1904.06778, section 3;
trackml-library ``trackml/weights.py``); :mod:`colliderlab.tracking.metrics` scores with it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from colliderlab.atomic import replacing
from colliderlab.data.errors import DataFormatError, reading

__all__ = [
    "COLUMNS",
    "DETECTORS_COLUMNS",
    "ORDER_MAX_HITS",
    "ORDER_MIN_HITS",
    "ORDER_PROPOSAL",
    "PARTS",
    "TrackMLEvent",
    "hit_weights",
    "list_events",
    "order_weights",
    "pt_weight",
    "read_detectors",
    "read_event",
    "write_detectors",
    "write_event",
]

#: The per-event files, in the order the library reads them.
PARTS: tuple[str, ...] = ("hits", "cells", "particles", "truth")

_I, _F = "int64", "float64"
#: Required columns of each per-event file and their dtypes once read.
COLUMNS: dict[str, dict[str, str]] = {
    "hits": {
        "hit_id": _I,
        "x": _F,
        "y": _F,
        "z": _F,
        "volume_id": _I,
        "layer_id": _I,
        "module_id": _I,
    },
    "cells": {"hit_id": _I, "ch0": _I, "ch1": _I, "value": _F},
    "particles": {
        "particle_id": _I,
        "vx": _F,
        "vy": _F,
        "vz": _F,
        "px": _F,
        "py": _F,
        "pz": _F,
        "q": _I,
        "nhits": _I,
    },
    "truth": {
        "hit_id": _I,
        "particle_id": _I,
        "tx": _F,
        "ty": _F,
        "tz": _F,
        "tpx": _F,
        "tpy": _F,
        "tpz": _F,
        "weight": _F,
    },
}
#: Required columns of ``detectors.csv``: module ids, centre (mm), rotation local (u, v, w) ->
#: global (x, y, z), thickness, half-lengths and cell pitches (mm).
DETECTORS_COLUMNS: dict[str, str] = {
    "volume_id": _I,
    "layer_id": _I,
    "module_id": _I,
    "cx": _F,
    "cy": _F,
    "cz": _F,
    **{f"rot_{a}{b}": _F for a in "xyz" for b in "uvw"},
    "module_t": _F,
    "module_minhu": _F,
    "module_maxhu": _F,
    "module_hv": _F,
    "pitch_u": _F,
    "pitch_v": _F,
}
_KEY = {"hits": "hit_id", "cells": "hit_id", "particles": "particle_id", "truth": "hit_id"}
_EVENT_FILE = re.compile(r"event(\d{9})-hits\.csv(?:\.gz)?")

#: Order weights (trackml-library ``weights.py``): a proposal over 9 equidistant points along the
#: track, interpolated linearly to the particle's hits and normalised to sum 1 per particle.
ORDER_PROPOSAL: tuple[float, ...] = (10.0, 8.0, 6.0, 5.0, 3.0, 3.0, 3.0, 5.0, 6.0)
#: Particles with fewer hits weigh nothing (the paper's "3 hits or less" are spurious tracks).
ORDER_MIN_HITS = 4
#: Longer particles use the 20-hit row; their hits from the 21st on weigh nothing.
ORDER_MAX_HITS = 20
# pT weight: 0 below 0.05 GeV, 0.2 from 0.05 to 0.5 GeV, linear to 1 at 3 GeV, 1 above.
_PT_KNOTS, _PT_WEIGHTS = (0.05, 0.5, 3.0), (0.2, 0.2, 1.0)


@dataclass
class TrackMLEvent:
    """One event in the TrackML layout (arXiv:1904.06778), each file a DataFrame.

    Attributes:
        hits: one row per hit, columns of ``COLUMNS["hits"]`` (positions in mm).
        cells: one row per active cell, or None (not read / not available).
        particles: one row per particle, or None (challenge test events have none).
        truth: one row per hit, or None (challenge test events have none).
    """

    hits: pd.DataFrame
    cells: pd.DataFrame | None = None
    particles: pd.DataFrame | None = None
    truth: pd.DataFrame | None = None

    @property
    def n_hits(self) -> int:
        """The number of hits (rows of ``hits``)."""
        return len(self.hits)

    def validate(self, source: str = "TrackML event") -> TrackMLEvent:
        """Check the layout; return ``self``.

        Every present table carries its required columns without NaN, there is at least one hit,
        ``hit_id`` is unique in hits and truth, ``particle_id`` unique in particles, and every
        ``hit_id`` of truth and cells is a hit. Raises :class:`DataFormatError` naming ``source``.
        """
        for part in PARTS:
            df = getattr(self, part)
            if df is None:
                continue
            _check_columns(df, COLUMNS[part], source, part)
            _check_values(df, COLUMNS[part], _KEY[part], source, part)
        if len(self.hits) == 0:
            raise DataFormatError(source, "has no hits")
        hit_ids = self.hits["hit_id"]
        _check_unique(hit_ids, source, "hits")
        if self.truth is not None:
            _check_unique(self.truth["hit_id"], source, "truth")
        if self.particles is not None:
            _check_unique(self.particles["particle_id"], source, "particles")
        for part in ("truth", "cells"):
            df = getattr(self, part)
            if df is not None:
                unknown = df.loc[~df["hit_id"].isin(hit_ids), "hit_id"].unique()
                if len(unknown):
                    raise DataFormatError(
                        source,
                        f"{part} refers to {len(unknown)} hit_id(s) not in hits: {_some(unknown)}",
                    )
        return self


def _some(values: Iterable, n: int = 10) -> str:
    values = list(values)
    text = ", ".join(str(v) for v in values[:n])
    return text + (f", ... ({len(values)} in all)" if len(values) > n else "")


def _check_columns(df: pd.DataFrame, required: dict[str, str], source: object, what: str) -> None:
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise DataFormatError(
            source,
            f"{what} lacks required column(s) {', '.join(missing)}; the TrackML layout "
            f"requires {', '.join(required)}",
        )


def _check_values(
    df: pd.DataFrame, required: dict[str, str], key: str | None, source: object, what: str
) -> None:
    """No NaN in a required column; the message names the column, the first row and its key."""
    for col in required:
        bad = np.flatnonzero(pd.isna(df[col]).to_numpy())
        if len(bad):
            row = int(bad[0])
            where = f"first at data row {row} (line {row + 2} of the CSV)"
            if key is not None and key != col and not pd.isna(df[key].iloc[row]):
                where += f", {key} {df[key].iloc[row]}"
            raise DataFormatError(
                source,
                f"{what}: required column {col!r} has {len(bad)} missing/NaN value(s), {where}",
            )


def _check_unique(ids: pd.Series, source: object, what: str) -> None:
    dup = ids[ids.duplicated()].unique()
    if len(dup):
        raise DataFormatError(source, f"{what}: {ids.name} repeated: {_some(dup)}")


def _locate_unparsable(path: Path, required: dict[str, str], what: str) -> DataFormatError:
    """The first required column with a value that is not a number (or not an integer)."""
    raw = pd.read_csv(path, dtype={c: str for c in required}, keep_default_na=True)
    for col, dtype in required.items():
        text = raw[col]
        num = pd.to_numeric(text, errors="coerce")
        bad = text.notna() & (num.isna() | ((num % 1 != 0) if dtype == _I else False))
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            kind = "an integer" if dtype == _I else "a number"
            return DataFormatError(
                path,
                f"{what}: column {col!r} holds {text.iloc[row]!r}, not "
                f"{kind}, at data row {row} (line {row + 2})",
            )
    return DataFormatError(path, f"{what}: a required column cannot be parsed")


def _read_table(path: Path, required: dict[str, str], key: str | None, what: str) -> pd.DataFrame:
    """One CSV (or CSV.gz) with its required columns typed: integers int64, reals float64."""
    if not path.is_file():
        raise DataFormatError(path, "file not found")
    with reading(path):
        try:
            header = pd.read_csv(path, nrows=0)
        except pd.errors.EmptyDataError:
            raise DataFormatError(
                path,
                f"{what}: empty file (no header, no rows)"
                + ("; has no hits" if what == "hits" else ""),
            ) from None
        _check_columns(header, required, path, what)
        dtypes = {c: ("Int64" if t == _I else t) for c, t in required.items()}
        try:
            df = pd.read_csv(path, dtype=dtypes)
        except (ValueError, TypeError) as exc:
            raise _locate_unparsable(path, required, what) from exc
    _check_values(df, required, key, path, what)
    return df.astype({c: t for c, t in required.items() if t == _I})


def _ordered(df: pd.DataFrame, required: dict[str, str]) -> pd.DataFrame:
    """Required columns first, in the layout's order, then the extra ones in their order."""
    return df[[*required, *(c for c in df.columns if c not in required)]]


def _write_table(df: pd.DataFrame, path: Path) -> Path:
    """``df`` as CSV (gzipped when ``path`` ends in .gz), written atomically."""
    with replacing(path, keep_suffix=True) as tmp:
        df.to_csv(tmp, index=False)
    return path


def _prefix(event_id: int) -> str:
    if isinstance(event_id, bool) or not isinstance(event_id, (int, np.integer)) or event_id < 0:
        raise ValueError(f"event_id must be a non-negative integer, got {event_id!r}")
    return f"event{int(event_id):09d}"


def _part_path(directory: Path, event_id: int, part: str) -> Path:
    plain = directory / f"{_prefix(event_id)}-{part}.csv"
    gz = plain.with_name(plain.name + ".gz")
    if plain.is_file() and gz.is_file():
        raise DataFormatError(plain, f"both {plain.name} and {gz.name} exist; remove one")
    if gz.is_file():
        return gz
    if not plain.is_file():
        raise DataFormatError(plain, f"file not found (nor {gz.name})")
    return plain


def read_event(
    directory: str | os.PathLike, event_id: int, parts: Iterable[str] = PARTS
) -> TrackMLEvent:
    """Read event ``event_id`` from ``directory`` (``event{ID:09d}-{part}.csv`` or ``.csv.gz``).

    Args:
        directory: the folder of the event files.
        event_id: the number in the file names (non-negative).
        parts: which files to read, among ``PARTS``; ``"hits"`` is always read. Those not read
            are None in the returned event (e.g. ``("hits", "cells")`` for challenge test events).

    Returns:
        The event, validated (:meth:`TrackMLEvent.validate`); dtypes as in ``COLUMNS``.

    Raises:
        DataFormatError: a file is missing, lacks required columns, has a NaN or unparsable value
            in one, has no hits, or refers to hits that do not exist (the message names the file).
    """
    parts = tuple(parts)
    unknown = [p for p in parts if p not in PARTS]
    if unknown:
        raise ValueError(f"unknown part(s) {unknown}; choose among {PARTS}")
    directory = Path(directory)
    tables: dict[str, pd.DataFrame | None] = {}
    for part in PARTS:
        if part == "hits" or part in parts:
            path = _part_path(directory, event_id, part)
            tables[part] = _read_table(path, COLUMNS[part], _KEY[part], part)
            if part == "hits" and len(tables[part]) == 0:
                raise DataFormatError(path, "has no hits")
    event = TrackMLEvent(
        tables["hits"], tables.get("cells"), tables.get("particles"), tables.get("truth")
    )
    return event.validate(source=str(directory / _prefix(event_id)))


def write_event(
    event: TrackMLEvent, directory: str | os.PathLike, event_id: int, compress: bool = False
) -> dict[str, Path]:
    """Write ``event`` as ``event{ID:09d}-{part}.csv`` (``.csv.gz`` with ``compress``).

    Required columns come first in the layout's order, extra columns follow unchanged. Truth
    ``weight``: when the column is absent or all NaN it is filled with :func:`hit_weights`
    (which needs ``event.particles``); given weights are written untouched. ``event`` itself is
    not modified. Each file is written atomically; the event's file set is replaced, i.e. files of
    the same event id with the other compression, or of parts that ``event`` lacks, are removed.

    Returns:
        ``{part: path}`` of the files written.

    Raises:
        DataFormatError: the event fails :meth:`TrackMLEvent.validate`.
        ValueError: weights must be computed but there are no particles.
    """
    directory = Path(directory)
    prefix = _prefix(event_id)
    truth = event.truth
    if truth is not None and ("weight" not in truth.columns or truth["weight"].isna().all()):
        if event.particles is None:
            raise ValueError(
                f"{directory / prefix}: truth has no weights and there are no "
                "particles to compute them from (hit_weights)"
            )
        truth = truth.copy()
        truth["weight"] = hit_weights(truth, event.particles)
    event = TrackMLEvent(event.hits, event.cells, event.particles, truth)
    event.validate(source=str(directory / prefix))
    directory.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    for part in PARTS:
        plain = directory / f"{prefix}-{part}.csv"
        gz = plain.with_name(plain.name + ".gz")
        path, other = (gz, plain) if compress else (plain, gz)
        df = getattr(event, part)
        if df is None:
            path.unlink(missing_ok=True)
        else:
            written[part] = _write_table(_ordered(df, COLUMNS[part]), path)
        other.unlink(missing_ok=True)
    return written


def list_events(directory: str | os.PathLike) -> list[int]:
    """The sorted ids of the events in ``directory`` that have a hits file (.csv or .csv.gz)."""
    directory = Path(directory)
    if not directory.is_dir():
        raise DataFormatError(directory, "no such directory")
    ids = {int(m.group(1)) for name in os.listdir(directory) if (m := _EVENT_FILE.fullmatch(name))}
    return sorted(ids)


def read_detectors(path: str | os.PathLike) -> pd.DataFrame:
    """The detector geometry ``detectors.csv`` (or ``.csv.gz``): one row per module, columns of
    ``DETECTORS_COLUMNS`` (ids int64, lengths in mm and rotation entries float64) then extras."""
    return _read_table(Path(path), DETECTORS_COLUMNS, None, "detectors")


def write_detectors(df: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write the detector geometry atomically (gzipped when ``path`` ends in .gz)."""
    path = Path(path)
    _check_columns(df, DETECTORS_COLUMNS, path, "detectors")
    _check_values(df, DETECTORS_COLUMNS, None, path, "detectors")
    return _write_table(_ordered(df, DETECTORS_COLUMNS), path)


def order_weights(n_hits: int) -> np.ndarray:
    """The order weights of a particle's ``n_hits`` hits, shape ``(n_hits,)``, innermost first.

    trackml-library ``weights.py``: the 9 proposal values :data:`ORDER_PROPOSAL` sit at equal
    spacing from the first hit (index 0) to the last (index ``n - 1``), with ``n`` = min(n_hits,
    20); they are interpolated linearly to the indices ``0 .. n-1`` and normalised to sum 1.
    Particles with fewer than 4 hits get zeros, and hits beyond the 20th weigh 0.
    """
    out = np.zeros(max(int(n_hits), 0))
    if n_hits < ORDER_MIN_HITS:
        return out
    n = min(int(n_hits), ORDER_MAX_HITS)
    knots = np.arange(len(ORDER_PROPOSAL)) * (n - 1) / (len(ORDER_PROPOSAL) - 1)
    w = np.interp(np.arange(n), knots, ORDER_PROPOSAL)
    out[:n] = w / w.sum()
    return out


def pt_weight(pt: np.ndarray | float) -> np.ndarray:
    """The pT weight of the TrackML score (pT in GeV): 0.2 for 0.05 <= pT <= 0.5, rising
    linearly to 1 at 3 GeV, 1 above, and 0 below 0.05 GeV (trackml-library ``weight_pt``)."""
    return np.interp(np.asarray(pt, dtype=float), _PT_KNOTS, _PT_WEIGHTS, left=0.0, right=1.0)


_ORDER_TABLE = np.stack(
    [
        np.pad(order_weights(n), (0, ORDER_MAX_HITS - min(n, ORDER_MAX_HITS)))
        for n in range(ORDER_MAX_HITS + 1)
    ]
)  # (21, 20): [n_hits, i_hit]


def hit_weights(truth: pd.DataFrame, particles: pd.DataFrame) -> np.ndarray:
    """The TrackML scoring weight of each hit (arXiv:1904.06778, sec. 3; trackml-library
    ``trackml/weights.py``), shape ``(len(truth),)`` aligned with the rows of ``truth``.

    weight = :func:`order_weights` (hit index along the particle, n hits) x :func:`pt_weight`
    (pT of the particle at production, ``hypot(px, py)`` in GeV), normalised so that the event's
    weights sum to 1 (all zero when no hit weighs anything). Hits of noise (``particle_id`` 0),
    of particles with fewer than 4 hits, or of particles absent from ``particles`` weigh 0.

    - n hits: the particle's rows in ``truth`` (equal to ``particles.nhits`` in the challenge data;
      the library's phase-1 version reads ``nhits``, its first version counts truth rows).
    - hit order: by ``|tz - vz|``, the longitudinal distance of the true hit from the particle's
      production vertex, as the library orders them; ties go by row order (the library's average
      rank gives tied hits one shared index instead).

    Args:
        truth: needs ``particle_id, tz`` (mm).
        particles: needs ``particle_id, vz`` (mm) ``, px, py`` (GeV); particle_id unique.
    """
    for df, what, needed in (
        (truth, "truth", ("particle_id", "tz")),
        (particles, "particles", ("particle_id", "vz", "px", "py")),
    ):
        missing = [c for c in needed if c not in df.columns]
        if missing:
            raise ValueError(f"hit_weights: {what} lacks column(s) {', '.join(missing)}")
    if len(particles) == 0:
        return np.zeros(len(truth))
    pid = truth["particle_id"].to_numpy(np.int64)
    index = pd.Index(particles["particle_id"].to_numpy(np.int64))
    if not index.is_unique:
        raise ValueError(f"particles: particle_id repeated: {_some(index[index.duplicated()])}")
    row = index.get_indexer(pid)
    known = (row >= 0) & (pid != 0)
    safe = np.where(known, row, 0)
    w_pt = np.where(
        known,
        pt_weight(np.hypot(particles["px"].to_numpy(float), particles["py"].to_numpy(float)))[safe],
        0.0,
    )
    dz = np.abs(truth["tz"].to_numpy(float) - particles["vz"].to_numpy(float)[safe])
    # hit index along each particle: rank of |dz| within the particle, ties by row
    order = np.lexsort((np.arange(len(pid)), dz, pid))
    sorted_pid = pid[order]
    starts = np.flatnonzero(np.r_[True, sorted_pid[1:] != sorted_pid[:-1]])
    sizes = np.diff(np.r_[starts, len(pid)])
    i_hit, n_hits = np.empty(len(pid), np.int64), np.empty(len(pid), np.int64)
    i_hit[order] = np.arange(len(pid)) - np.repeat(starts, sizes)
    n_hits[order] = np.repeat(sizes, sizes)
    ok = known & (i_hit < ORDER_MAX_HITS)
    w_order = np.where(
        ok,
        _ORDER_TABLE[np.minimum(n_hits, ORDER_MAX_HITS), np.minimum(i_hit, ORDER_MAX_HITS - 1)],
        0.0,
    )
    w = w_pt * w_order
    total = w.sum()
    return w / total if total > 0 else w
