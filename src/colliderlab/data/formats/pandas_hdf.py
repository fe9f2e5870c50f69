"""pandas DataFrames stored in HDF5 (``DataFrame.to_hdf``), read with h5py, never with PyTables.

PyTables, which ``pandas.read_hdf`` and ``pandas.HDFStore`` use, unpickles every HDF5 string
attribute that ends with ``b"."`` (it writes Python objects it cannot store natively as
protocol-0 pickles in fixed-length string attributes, and reads any such string back with
``pickle.loads``). A file with a crafted attribute then runs code when it is opened. This module
reads the two layouts pandas writes from the HDF5 structure alone:

* ``fixed`` (``pandas_type = "frame"``, the default of ``to_hdf`` and the layout of the public
  top-tagging and LHC Olympics files): a group with ``axis0`` (column names), ``axis1`` (row
  index) and per dtype block ``block{i}_items`` (its column names) and ``block{i}_values``
  (rows x items, attribute ``transposed = 1``);
* ``table`` (``pandas_type = "frame_table"``): a group with a compound dataset ``table`` whose
  fields are ``index``, ``values_block_{i}`` (rows x items) and data columns. The column names
  of block i exist only as a protocol-0 pickle of a list of strings (attribute
  ``values_block_{i}_kind``); :func:`_plain_strings` decodes that opcode by opcode with
  :func:`pickletools.genops` and refuses anything but strings in a list, so nothing is unpickled.

Columns of object dtype (pickled Python objects in both layouts) are refused.
"""

from __future__ import annotations

import pickletools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from colliderlab.data.errors import DataFormatError
from colliderlab.data.formats._common import check_lengths, dataset

__all__ = ["PandasFrame", "is_pandas_group", "open_frame", "pandas_keys"]

_NUMERIC = "biuf"
# protocol-0..5 opcodes that build a list of strings and nothing else
_STRING_OPS = {"UNICODE", "BINUNICODE", "SHORT_BINUNICODE", "BINUNICODE8", "STRING", "BINSTRING",
               "SHORT_BINSTRING"}
_MEMO_OPS = {"PUT", "BINPUT", "LONG_BINPUT", "MEMOIZE"}


def _text(value: Any) -> str:
    """An HDF5 string attribute or element (bytes or str) as str."""
    if isinstance(value, np.ndarray) and value.shape == ():
        value = value[()]
    if isinstance(value, bytes | np.bytes_):
        return bytes(value).decode("utf-8")
    return str(value)


def is_pandas_group(obj: Any) -> bool:
    """Whether an h5py object is a group written by ``DataFrame.to_hdf`` (fixed or table)."""
    import h5py

    return isinstance(obj, h5py.Group) and "pandas_type" in obj.attrs


def pandas_keys(f: Any) -> list[str]:
    """Names of the top-level pandas objects of an open h5py file."""
    return [k for k in f if is_pandas_group(f.get(k))]


def _plain_strings(path: Path, raw: Any, what: str) -> list[str]:
    """The list of strings that a pickle (a PyTables attribute) spells, decoded without unpickling:
    a small stack machine that knows only the opcodes that build a list of strings and refuses
    every other one (globals, reduce, build, ...)."""
    if not isinstance(raw, bytes | np.bytes_):
        raise DataFormatError(path, f"{what} is not a pickled list of column names")
    stack: list[Any] = []
    memo: dict[int, Any] = {}
    mark = object()
    try:
        ops = list(pickletools.genops(bytes(raw)))
    except (ValueError, UnicodeDecodeError) as exc:  # a malformed pickle
        raise DataFormatError(path, f"{what} is not a list of column names ({exc})") from None
    for op, arg, _ in ops:
        name = op.name
        if name == "MARK":
            stack.append(mark)
        elif name in ("LIST", "APPENDS") and mark in stack:
            cut = len(stack) - 1 - stack[::-1].index(mark)
            items, stack[cut:] = stack[cut + 1 :], []
            if name == "LIST":
                stack.append(items)
            elif stack and isinstance(stack[-1], list):
                stack[-1].extend(items)
        elif name == "EMPTY_LIST":
            stack.append([])
        elif name in _STRING_OPS:
            stack.append(arg.decode("utf-8", "replace") if isinstance(arg, bytes) else str(arg))
        elif name == "APPEND" and len(stack) >= 2 and isinstance(stack[-2], list):
            stack[-2].append(stack.pop())
        elif name in _MEMO_OPS and stack:
            memo[len(memo) if arg is None else int(arg)] = stack[-1]
        elif name in ("PROTO", "FRAME", "STOP"):
            continue
        else:
            raise DataFormatError(path, f"{what} holds a pickle opcode {name} where a list of column "
                                        "names belongs; refusing to unpickle it")
    result = stack[-1] if len(stack) == 1 else None
    if not isinstance(result, list) or not all(isinstance(c, str) for c in result):
        raise DataFormatError(path, f"{what} is not a list of column names")
    return result


@dataclass
class _Block:
    """Columns stored side by side: rows x items of one dataset (or of one compound field)."""

    dataset: Any
    field: str | None  # compound field (table layout) or None (fixed layout)
    items: list[str]

    def rows(self, start: int, stop: int) -> np.ndarray:
        if self.field is None:
            return self.dataset[start:stop]  # (rows, items)
        values = self.dataset.fields(self.field)[start:stop]
        return values.reshape(len(values), -1)  # (rows, items)


class PandasFrame:
    """A pandas DataFrame in an open HDF5 file, read by rows and columns with h5py.

    Attributes:
        columns: the column names, in the frame's order; n_rows: the number of rows.
    """

    def __init__(self, path: Path, group: Any) -> None:
        self.path = path
        self.name = group.name
        kind = _text(group.attrs["pandas_type"])
        if kind == "frame":
            self._blocks, self.n_rows = self._fixed(group)
        elif kind == "frame_table":
            self._blocks, self.n_rows = self._table(group)
        else:
            raise DataFormatError(path, f"pandas object {self.name!r} is a {kind!r}, not a DataFrame")
        self._where: dict[str, tuple[int, int]] = {}
        for b, block in enumerate(self._blocks):
            for i, item in enumerate(block.items):
                self._where[item] = (b, i)
        self.columns: tuple[str, ...] = tuple(self._where)

    def _fixed(self, group: Any) -> tuple[list[_Block], int]:
        need = ["axis0", "axis1"] + [f"block{i}_{p}" for i in range(int(group.attrs.get("nblocks", 0)))
                                     for p in ("items", "values")]
        missing = [k for k in need if k not in group]
        if missing:
            raise DataFormatError(self.path, f"pandas frame {self.name!r} is missing {missing}")
        axis1 = dataset(self.path, group, "axis1")
        n_rows = axis1.shape[0] if "value_shape" not in axis1.attrs else 0
        blocks, lengths = [], {"axis1": n_rows}
        for i in range(int(group.attrs["nblocks"])):
            values = dataset(self.path, group, f"block{i}_values")
            items = [_text(s) for s in dataset(self.path, group, f"block{i}_items")[()]]
            if "value_shape" in values.attrs or "value_shape" in group[f"block{i}_items"].attrs:
                continue  # an empty block (no rows or no columns)
            if values.ndim != 2 or values.shape[1] != len(items):
                raise DataFormatError(self.path, f"pandas block {values.name!r} has shape {values.shape}, "
                                                 f"expected (rows, {len(items)}) for its {len(items)} columns")
            lengths[f"block{i}_values"] = values.shape[0]
            blocks.append(_Block(values, None, items))
        check_lengths(self.path, lengths, f"the arrays of pandas frame {self.name!r}")
        return blocks, n_rows

    def _table(self, group: Any) -> tuple[list[_Block], int]:
        if "table" not in group:
            raise DataFormatError(self.path, f"pandas table {self.name!r} has no 'table' dataset")
        table = dataset(self.path, group, "table")
        names = table.dtype.names or ()
        blocks = []
        for field in names:
            if field == "index":
                continue
            kind_attr = f"{field}_kind"
            if field.startswith("values_block_"):
                items = _plain_strings(self.path, table.attrs.get(kind_attr), f"attribute {kind_attr!r}")
            else:  # a data column: the field is the column
                items = [field]
            width = int(np.prod(table.dtype[field].shape, dtype=np.int64))
            if width != len(items):
                raise DataFormatError(self.path, f"pandas table field {field!r} holds {width} columns "
                                                 f"but names {len(items)}")
            blocks.append(_Block(table, field, items))
        return blocks, table.shape[0]

    def _dtype_of(self, block: _Block) -> np.dtype:
        ds = block.dataset
        return ds.dtype if block.field is None else ds.dtype[block.field].base

    def read(self, columns: Sequence[str], start: int, stop: int, dtype: Any) -> np.ndarray:
        """Rows ``[start, stop)`` of ``columns`` as one (rows, len(columns)) array of ``dtype``."""
        missing = [c for c in columns if c not in self._where]
        if missing:
            raise DataFormatError(self.path, f"pandas frame {self.name!r} has no column(s) {missing[:8]}")
        out = np.empty((max(stop - start, 0), len(columns)), dtype)
        if stop <= start or not columns:
            return out
        by_block: dict[int, tuple[list[int], list[int]]] = {}
        for j, c in enumerate(columns):
            b, i = self._where[c]
            by_block.setdefault(b, ([], []))[0].append(j)
            by_block[b][1].append(i)
        for b, (dest, src) in by_block.items():
            block = self._blocks[b]
            if self._dtype_of(block).kind not in _NUMERIC:
                raise DataFormatError(self.path, f"column(s) {[block.items[i] for i in src][:4]} are not "
                                                 "numeric (pickled objects are not read)")
            values = block.rows(start, stop)
            if values.shape[0] != stop - start:
                raise DataFormatError(self.path, f"{self.name!r} ends before row {stop}")
            out[:, dest] = values[:, src]
        return out


def open_frame(path: Path, f: Any, key: str | None = None) -> PandasFrame:
    """The DataFrame under ``key`` of an open h5py file (``key=None``: the file's only one)."""
    if key is None:
        keys = pandas_keys(f)
        if len(keys) != 1:
            raise DataFormatError(path, f"expected one pandas DataFrame, found {len(keys)} (keys {keys}; "
                                        f"top-level names {sorted(f)[:10]})")
        key = keys[0]
    group = f.get(key)
    if not is_pandas_group(group):
        raise DataFormatError(path, f"no pandas key {key!r} (top-level names {sorted(f)[:10]})")
    return PandasFrame(path, group)
