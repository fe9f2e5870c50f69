"""FastJet's ClusterSequence with its banner printed at most once, and never on stdout.

FastJet (arXiv:1111.6097) prints a citation banner through C++ ``std::cout`` the first time a
process clusters. On stdout it corrupts ``--json`` outputs, and every generation worker prints
its own copy. :func:`cluster_sequence` prints it once, on stderr, in the main process, and
silences it in worker processes (their parent has already shown it).
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from typing import Any

__all__ = ["cluster_sequence", "fastjet_banner_once"]

_BANNER_SHOWN = False


def _in_dask_worker() -> bool:
    """Whether this code runs inside a Dask worker (started by a nanny or ``dask worker``)."""
    if "distributed" not in sys.modules:
        return False
    from distributed import get_worker

    try:
        get_worker()
    except ValueError:
        return False
    return True


def fastjet_banner_once() -> None:
    """Have FastJet print its banner now, with file descriptor 1 pointed at stderr (main process)
    or at ``/dev/null`` (worker processes). Later clusterings print nothing (FastJet prints the
    banner once per process). Idempotent."""
    global _BANNER_SHOWN
    if _BANNER_SHOWN:
        return
    _BANNER_SHOWN = True
    from fastjet import _swig

    worker = multiprocessing.parent_process() is not None or _in_dask_worker()
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1)
    try:
        if worker:
            null = os.open(os.devnull, os.O_WRONLY)
            os.dup2(null, 1)
            os.close(null)
        else:
            os.dup2(2, 1)
        _swig.ClusterSequence.print_banner()  # ends in std::endl, which flushes
    finally:
        os.dup2(saved, 1)
        os.close(saved)


def cluster_sequence(vectors: Any, jet_definition: Any) -> Any:
    """``fastjet.ClusterSequence(vectors, jet_definition)`` (awkward interface), banner handled.

    Args:
        vectors: (E, var) awkward ``Momentum4D`` records, one list of particles per event.
        jet_definition: a ``fastjet.JetDefinition``.
    """
    import fastjet

    fastjet_banner_once()
    return fastjet.ClusterSequence(vectors, jet_definition)
