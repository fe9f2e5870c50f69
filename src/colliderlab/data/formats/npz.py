"""Row ranges of the arrays in an ``.npz`` archive without loading whole arrays."""

from __future__ import annotations

import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np

from colliderlab.data.errors import DataFormatError

__all__ = ["NPZ_ERRORS", "NpyMember"]

_ZIP_LOCAL_HEADER = struct.Struct("<4s5H3I2H")  # 30 bytes, see the ZIP APPNOTE section 4.3.7
NPZ_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, struct.error)


class NpyMember:
    """One ``.npy`` array inside an ``.npz`` archive, read by rows along its first axis.

    ``np.load(..., mmap_mode="r")`` ignores ``mmap_mode`` for ``.npz`` files and loads a whole
    array on access. Here an uncompressed member (``np.savez``) is memory-mapped in place and a
    compressed one (``np.savez_compressed``) is streamed, so a row range costs only its rows.
    """

    def __init__(self, path: Path, zf: zipfile.ZipFile, name: str) -> None:
        self.path, self.name = path, name
        self._zf, self._stream = zf, None
        self._info = zf.getinfo(f"{name}.npy")
        self._mmap: np.ndarray | None = None
        self._full: np.ndarray | None = None
        with zf.open(self._info) as fp:
            version = np.lib.format.read_magic(fp)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(fp)
            elif version == (2, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(fp)
            else:  # rare header versions: fall back to a full load
                shape, fortran, dtype = None, True, None
            self._data_offset = fp.tell()
        if fortran or dtype is None or dtype.hasobject or not shape:
            with zf.open(self._info) as fp:
                self._full = np.lib.format.read_array(fp, allow_pickle=False)
            shape, dtype = self._full.shape, self._full.dtype
        self.shape: tuple[int, ...] = tuple(shape)
        self.dtype: np.dtype = dtype
        self._row_bytes = int(np.prod(self.shape[1:], dtype=np.int64)) * dtype.itemsize
        if self._full is None and self._info.compress_type == zipfile.ZIP_STORED:
            self._mmap = self._memmap()

    def _memmap(self) -> np.ndarray | None:
        with open(self.path, "rb") as fh:
            fh.seek(self._info.header_offset)
            header = _ZIP_LOCAL_HEADER.unpack(fh.read(_ZIP_LOCAL_HEADER.size))
        name_len, extra_len = header[-2], header[-1]
        offset = (
            self._info.header_offset + _ZIP_LOCAL_HEADER.size + name_len + extra_len
        ) + self._data_offset
        if self.shape[0] == 0:
            return None
        return np.memmap(self.path, dtype=self.dtype, mode="r", offset=offset, shape=self.shape)

    def read(self, start: int, stop: int) -> np.ndarray:
        """Rows ``[start, stop)`` as an in-memory array."""
        if self._full is not None:
            return np.array(self._full[start:stop])
        if self._mmap is not None:
            return np.array(self._mmap[start:stop])
        n = max(stop - start, 0)
        if n == 0:
            return np.zeros((0, *self.shape[1:]), self.dtype)
        if self._stream is None:
            self._stream = self._zf.open(self._info)
        self._stream.seek(self._data_offset + start * self._row_bytes)  # forward seeks stream
        buf = self._stream.read(n * self._row_bytes)
        if len(buf) != n * self._row_bytes:
            raise DataFormatError(self.path, f"array '{self.name}' is truncated at row {start}")
        return np.frombuffer(buf, self.dtype).reshape(n, *self.shape[1:])

    def close(self) -> None:
        if self._stream is not None:
            self._stream.close()
        self._mmap = None
