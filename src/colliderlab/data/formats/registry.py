"""The jet-format registry: one :class:`JetFormat` per file layout, and the functions that pick
one by extension and content (``detect_format``) or by name (``get_format``) and read with it.

Every read goes through :func:`colliderlab.data.errors.reading`: whatever h5py, numpy, zipfile or
uproot raises for a damaged file reaches the caller as a
:class:`~colliderlab.data.errors.DataFormatError` naming the file.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from colliderlab.data.errors import DataFormatError, reading
from colliderlab.data.formats._common import PathLike, check_chunk_size, check_exists, n_slots
from colliderlab.jets import ALL_FIELDS, JetBatch

__all__ = [
    "FORMATS",
    "JetFormat",
    "register",
    "get_format",
    "detect_format",
    "read_jets",
    "iter_jets",
    "count_jets",
]


def _no_errors() -> tuple[type[BaseException], ...]:
    return ()


@dataclass(frozen=True)
class JetFormat:
    """A jet file layout.

    Attributes:
        name: the format's name (``detect_format`` returns it; ``format=`` selects it).
        extensions: lower-case file extensions, with the dot.
        sniff: ``sniff(path) -> bool``, whether the content is this format (may raise
            :class:`DataFormatError` for a container that cannot be opened at all).
        read: ``read(path, *, start, stop, n_particles) -> JetBatch``.
        iterate: ``iterate(path, *, chunk_size, n_particles) -> Iterator[JetBatch]``.
        count: ``count(path) -> int``, from the metadata.
        signature: what ``sniff`` looks for, in words (for error messages).
        errors: the library's own exception types for a damaged file (imported lazily), which the
            read boundary turns into :class:`DataFormatError` as well.
        fields: the :class:`~colliderlab.jets.JetBatch` fields files of this format can carry (a
            reader sets ``JetBatch.fields`` to what a given file does carry, never more).
    """

    name: str
    extensions: tuple[str, ...]
    sniff: Callable[[Path], bool]
    read: Callable[..., JetBatch]
    iterate: Callable[..., Iterator[JetBatch]]
    count: Callable[[Path], int]
    signature: str
    errors: Callable[[], tuple[type[BaseException], ...]] = field(default=_no_errors)
    fields: frozenset[str] = ALL_FIELDS


_REGISTRY: dict[str, JetFormat] = {}
#: Format name -> file extensions it is stored with (kept in step with the registry).
FORMATS: dict[str, tuple[str, ...]] = {}


def register(fmt: JetFormat) -> JetFormat:
    """Add a format (detection tries formats in registration order); names must be new."""
    if fmt.name in _REGISTRY:
        raise ValueError(f"jet format {fmt.name!r} is already registered")
    _REGISTRY[fmt.name] = fmt
    FORMATS[fmt.name] = fmt.extensions
    return fmt


def _supported() -> str:
    return ", ".join(f"{f.name} ({'/'.join(f.extensions)})" for f in _REGISTRY.values())


def get_format(name: str) -> JetFormat:
    """The format called ``name``; ``ValueError`` listing the valid names otherwise."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown jet format {name!r}; valid formats: {', '.join(_REGISTRY)}") from None


def _detect(p: Path) -> JetFormat:
    ext = p.suffix.lower()
    candidates = [f for f in _REGISTRY.values() if ext in f.extensions]
    if not candidates:
        raise DataFormatError(p, f"unknown jet file extension '{ext}'; supported formats: {_supported()}")
    for fmt in candidates:
        with reading(p, fmt.errors()):
            if fmt.sniff(p):
                return fmt
    expected = "; ".join(f"{f.name}: {f.signature}" for f in candidates)
    raise DataFormatError(p, f"a '{ext}' file of no known jet format (expected {expected}). "
                             f"Supported formats: {_supported()}")


def detect_format(path: PathLike) -> str:
    """Name of the jet format of ``path`` (see :data:`FORMATS`).

    Decided by the extension, then the content: each format whose extensions match sniffs the
    file in registration order (colliderlab's HDF5 root attribute ``format =
    "colliderlab-jets"``, a pandas key ``table`` for top tagging, a zip directory for ``.npz``,
    ROOT's magic bytes for ``.root``). A file whose schema is wrong past that is reported by the
    reader.

    Raises:
        FileNotFoundError: the file does not exist.
        DataFormatError: unknown extension or undetectable content (lists supported formats).
    """
    return _detect(check_exists(path)).name


def _resolve(path: PathLike, format: str | None) -> tuple[Path, JetFormat]:
    p = check_exists(path)
    return p, (_detect(p) if format is None else get_format(format))


def read_jets(
    path: PathLike,
    *,
    start: int = 0,
    stop: int | None = None,
    n_particles: int | None = None,
    format: str | None = None,
) -> JetBatch:
    """Read jets ``[start, stop)`` of any supported file.

    ``n_particles`` (P) defaults to the format's natural size: 200 for top tagging, the file's
    M for quark/gluon, 128 for JetClass, the stored P for colliderlab files. ``format`` names the
    format instead of detecting it (:func:`get_format`).
    """
    n_slots(n_particles, 1)
    p, fmt = _resolve(path, format)
    with reading(p, fmt.errors()):
        return fmt.read(p, start=start, stop=stop, n_particles=n_particles)


def _guarded(p: Path, fmt: JetFormat, batches: Iterator[JetBatch]) -> Iterator[JetBatch]:
    with reading(p, fmt.errors()):
        yield from batches


def iter_jets(
    path: PathLike, *, chunk_size: int = 100_000, n_particles: int | None = None, format: str | None = None
) -> Iterator[JetBatch]:
    """Iterate over any supported file in chunks of at most ``chunk_size`` jets."""
    check_chunk_size(chunk_size)
    n_slots(n_particles, 1)
    p, fmt = _resolve(path, format)
    return _guarded(p, fmt, fmt.iterate(p, chunk_size=chunk_size, n_particles=n_particles))


def count_jets(path: PathLike, *, format: str | None = None) -> int:
    """Number of jets in any supported file, from its metadata (no jet data is loaded)."""
    p, fmt = _resolve(path, format)
    with reading(p, fmt.errors()):
        return int(fmt.count(p))
