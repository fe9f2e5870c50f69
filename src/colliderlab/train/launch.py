"""Start a data-parallel training through PyTorch's elastic launcher (the one ``torchrun`` runs).

``colliderlab train EXP.yaml --nproc-per-node N`` calls :func:`launch`, which hands
``torch.distributed.run.main`` the arguments ``torchrun`` would get::

    torchrun --standalone --nproc-per-node N -m colliderlab.train EXP.yaml --run-dir D [...]

(``--master-addr 127.0.0.1 --master-port P`` instead of ``--standalone`` when a port is given).
Every worker then runs :func:`colliderlab.train.experiment.run_experiment` as one rank
(:mod:`colliderlab.train.distributed`): gloo on CPU, NCCL on CUDA. Each worker uses the node's
cores divided by N as torch threads unless ``trainer.num_threads`` says otherwise; more
processes than cores on CPU draws a warning.

For several nodes run the launcher yourself on each, e.g. two nodes of four processes::

    torchrun --nnodes 2 --nproc-per-node 4 --rdzv-backend c10d --rdzv-endpoint HOST:29400 \\
        -m colliderlab.train EXP.yaml --run-dir D

with ``D`` on a file system every node sees (rank 0 writes it; every rank reads it to resume).
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Sequence

from colliderlab.train.distributed import cpu_cores, default_threads

__all__ = ["check_nproc", "launcher_args", "launch"]


def check_nproc(nproc: int, device_type: str) -> None:
    """Refuse ``nproc < 1``; warn when more CPU processes than cores would share this node."""
    if nproc < 1:
        raise ValueError(f"--nproc-per-node must be at least 1, got {nproc}")
    cores = cpu_cores()
    if device_type == "cpu" and nproc > cores:
        warnings.warn(
            f"--nproc-per-node {nproc} on CPU is more processes than the {cores} cores available: they will "
            "compete for cores and train slower than fewer processes would",
            UserWarning, stacklevel=2,
        )


def launcher_args(nproc: int, worker_args: Sequence[str], *, master_port: int | None = None) -> list[str]:
    """``torchrun``'s arguments to run ``python -m colliderlab.train WORKER_ARGS`` in ``nproc``
    processes on this node."""
    where = ["--standalone"] if master_port is None else [
        "--master-addr", "127.0.0.1", "--master-port", str(master_port)]
    return [*where, "--nnodes", "1", "--nproc-per-node", str(nproc), "-m", "colliderlab.train", *worker_args]


def launch(worker_args: Sequence[str], nproc: int, *, device_type: str = "cpu", master_port: int | None = None) -> int:
    """Run ``colliderlab.train WORKER_ARGS`` in ``nproc`` processes through
    ``torch.distributed.run.main``; returns 0, or 1 when a worker failed (the launcher has
    then stopped the others and printed the failure)."""
    if "WORLD_SIZE" in os.environ:
        raise ValueError("already started by a distributed launcher (WORLD_SIZE is set): drop --nproc-per-node")
    check_nproc(nproc, device_type)
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import main as torchrun

    os.environ.setdefault("OMP_NUM_THREADS", str(default_threads(nproc)))  # torchrun would set 1
    try:
        torchrun(launcher_args(nproc, worker_args, master_port=master_port))
    except ChildFailedError as err:
        print(f"colliderlab train: a worker failed:\n{err}", file=sys.stderr)
        return 1
    return 0
