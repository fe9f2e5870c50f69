"""Progress for long work: a tqdm bar on a terminal, one line per stage anywhere else.

A bar that redraws itself is what a person at a terminal wants; in a log file (CI, a batch job,
``make run > log``) the redraws are tens of kilobytes of carriage returns. :func:`progress`
decides once, from whether stderr is a terminal: on a terminal it returns a ``tqdm`` bar, else a
:class:`StageLine` that prints a single line (``desc: 12,000 jet in 41.2 s``) when the stage ends.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator
from typing import Any

__all__ = ["progress", "StageLine", "interactive", "write_line"]


def interactive() -> bool:
    """Whether stderr is a terminal (bars are drawn only then)."""
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):  # closed or replaced stream
        return False


class StageLine:
    """The non-terminal stand-in for a tqdm bar: counts, and prints one line when closed.

    Supports what colliderlab uses of tqdm: iteration, ``update``, ``set_postfix``, ``close``,
    ``write`` and use as a context manager.
    """

    def __init__(self, iterable: Iterable[Any] | None = None, *, total: int | None = None, desc: str = "",
                 unit: str = "it", initial: int = 0, enabled: bool = True) -> None:
        self.iterable, self.total, self.desc, self.unit = iterable, total, desc, unit
        self.n = initial
        self.enabled = enabled
        self.postfix = ""
        self._t0 = time.perf_counter()
        self._closed = False

    def __iter__(self) -> Iterator[Any]:
        if self.iterable is None:
            raise TypeError("this progress line wraps no iterable")
        try:
            for item in self.iterable:
                yield item
                self.n += 1
        finally:
            self.close()

    def __enter__(self) -> StageLine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def update(self, n: int = 1) -> None:
        self.n += n

    def set_postfix(self, ordered_dict: Any = None, refresh: bool = True, **kwargs: Any) -> None:
        items = dict(ordered_dict or {}, **kwargs)
        self.postfix = ", ".join(f"{k}={v}" for k, v in items.items())

    def set_description(self, desc: str | None = None, refresh: bool = True) -> None:
        self.desc = desc or ""

    def refresh(self) -> None:
        pass

    @staticmethod
    def write(s: str, file: Any = None) -> None:
        print(s, file=file or sys.stderr, flush=True)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if not self.enabled:
            return
        seconds = time.perf_counter() - self._t0
        done = f"{self.n:,}" + (f"/{self.total:,}" if self.total is not None and self.total != self.n else "")
        extra = f" ({self.postfix})" if self.postfix else ""
        print(f"{self.desc or 'done'}: {done} {self.unit} in {seconds:.1f} s{extra}", file=sys.stderr, flush=True)


def write_line(text: str) -> None:
    """One line of progress on stderr, without breaking a bar being drawn there."""
    if interactive():
        from tqdm.auto import tqdm

        tqdm.write(text, file=sys.stderr)
    else:
        print(text, file=sys.stderr, flush=True)


def progress(iterable: Iterable[Any] | None = None, *, total: int | None = None, desc: str = "",
             unit: str = "it", enabled: bool = True, leave: bool = True, initial: int = 0) -> Any:
    """A tqdm bar when ``enabled`` and stderr is a terminal; otherwise a :class:`StageLine`, which
    prints one line at the end of the stage (nothing at all when not ``enabled``)."""
    if enabled and interactive():
        from tqdm.auto import tqdm

        return tqdm(iterable, total=total, desc=desc, unit=unit, leave=leave, initial=initial)
    return StageLine(iterable, total=total, desc=desc, unit=unit, initial=initial, enabled=enabled)
