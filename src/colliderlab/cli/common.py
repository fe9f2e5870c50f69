"""Arguments several commands share: where the work runs (a local Dask cluster or a scheduler)."""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["add_cluster_args", "cluster_config"]


def add_cluster_args(p: Any, *, workers_default: int | None, what: str = "chunks") -> None:
    """``--workers N`` and ``--scheduler ADDRESS`` (see :class:`colliderlab.cluster.ClusterConfig`)."""
    default = "all cores" if workers_default is None else str(workers_default)
    p.add_argument("--workers", type=int, default=workers_default,
                   help=f"local Dask worker processes for the {what} (default: {default}; 1 = in this process)")
    p.add_argument("--scheduler", help="address of a running Dask scheduler, e.g. tcp://host:8786 (default: "
                                       "$COLLIDERLAB_SCHEDULER, else a local cluster of --workers processes)")
    p.add_argument("--threads-per-worker", type=int, default=1,
                   help="threads per local worker (a worker still runs one chunk at a time)")
    p.add_argument("--no-shared-fs", dest="shared_fs", action="store_false",
                   help="the workers cannot write where --out is: they return their output through Dask")


def cluster_config(a: argparse.Namespace) -> Any:
    """The :class:`~colliderlab.cluster.ClusterConfig` of parsed ``--workers/--scheduler`` arguments."""
    from colliderlab.cluster import ClusterConfig

    return ClusterConfig(workers=a.workers, scheduler=a.scheduler, threads_per_worker=a.threads_per_worker,
                         shared_fs=a.shared_fs)
