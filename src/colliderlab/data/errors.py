"""Errors raised by the data layer, and the boundary that turns a library's complaint about a
damaged file into one of them."""

from __future__ import annotations

import struct
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["DataFormatError", "MissingFieldsError", "READ_ERRORS", "reading"]


class DataFormatError(ValueError):
    """A file cannot be read: unreadable, truncated, or not the expected schema.

    The message always names the file and says what is wrong with it.
    """

    def __init__(self, path: object, problem: str) -> None:
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class MissingFieldsError(DataFormatError):
    """A file lacks per-particle or per-jet fields that a trained model reads.

    Attributes:
        path: the file.
        format: its jet format (``"toptag"``, ``"quark-gluon"``, ...).
        missing: the fields the model reads and the file does not carry (sorted).
        carried: the fields the file carries (sorted).
    """

    def __init__(self, path: object, format: str, missing: tuple[str, ...], carried: tuple[str, ...],
                 reader: str = "the model") -> None:
        self.format = format
        self.missing = tuple(missing)
        self.carried = tuple(carried)
        super().__init__(
            path,
            f"{reader} reads field(s) {', '.join(self.missing)}, which this {format!r} file does not carry "
            f"(it carries {', '.join(self.carried)}); pass --allow-missing {','.join(self.missing)} "
            "(allow_missing=...) to fill them with zeros on purpose, knowing that the scores then differ "
            "from those on data that carries them",
        )


#: What h5py, numpy, zipfile and uproot raise for a damaged file (uproot's DeserializationError is
#: added by the ROOT reader). Programming errors (AttributeError, NameError, AssertionError,
#: RuntimeError, ImportError) are not in the list and stay visible.
READ_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    KeyError,
    ValueError,
    TypeError,
    IndexError,
    EOFError,
    OverflowError,
    MemoryError,  # a damaged header that claims an array of terabytes
    struct.error,
    zipfile.BadZipFile,
    zlib.error,
)


_LIBRARIES = ("h5py", "uproot", "awkward", "numpy")


def _raised_by_library(exc: BaseException) -> bool:
    """Whether ``exc`` (a RuntimeError or NotImplementedError) was raised inside h5py, uproot,
    awkward or numpy: h5py reports some HDF5 failures as RuntimeError, uproot an unknown
    compression as NotImplementedError. Raised anywhere else, they are programming errors."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    filename = tb.tb_frame.f_code.co_filename if tb is not None else ""
    return any(f"{lib}/" in filename or f"{lib}\\" in filename for lib in _LIBRARIES)


@contextmanager
def reading(path: object, extra: tuple[type[BaseException], ...] = ()) -> Iterator[None]:
    """Context manager of a read: a :data:`READ_ERRORS` exception (or one of ``extra``) raised
    inside becomes a :class:`DataFormatError` naming ``path`` (the original is its ``__cause__``).
    A :class:`DataFormatError` passes unchanged; a file that does not exist should be checked
    before entering (``FileNotFoundError`` is an ``OSError`` too)."""
    try:
        yield
    except DataFormatError:
        raise
    except (RuntimeError, NotImplementedError) as exc:
        if not _raised_by_library(exc):
            raise
        raise DataFormatError(path, f"cannot read ({type(exc).__name__}: {str(exc).strip()})") from exc
    except (*READ_ERRORS, *extra) as exc:
        detail = str(exc).strip() or "no detail"
        raise DataFormatError(path, f"cannot read ({type(exc).__name__}: {detail})") from exc
