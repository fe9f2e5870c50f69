"""``--workers`` and ``--scheduler``: where a command's chunked jobs run (:mod:`colliderlab.cluster`)."""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["add_cluster_args", "cluster_config"]

SCHEDULER_HELP = "Dask scheduler, e.g. tcp://host:8786; default $COLLIDERLAB_SCHEDULER, else a local cluster"


def add_cluster_args(p: Any, workers_default: int | None = 1) -> None:
    """Add ``--workers N`` (local Dask worker processes; 1 = in this process) and ``--scheduler``."""
    default = "all cores" if workers_default is None else str(workers_default)
    p.add_argument("--workers", type=int, default=workers_default,
                   help=f"local Dask worker processes, 1 = in this process (default {default})")
    p.add_argument("--scheduler", metavar="ADDRESS", help=SCHEDULER_HELP)


def cluster_config(a: argparse.Namespace) -> Any:
    """The :class:`~colliderlab.cluster.ClusterConfig` of ``--workers`` and ``--scheduler``."""
    from colliderlab.cluster import ClusterConfig

    return ClusterConfig(workers=a.workers, scheduler=a.scheduler)
