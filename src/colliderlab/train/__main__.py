"""``python -m colliderlab.train EXP.yaml --run-dir D [--set key=value ...]``: the same as
``colliderlab train``, as a module, which is what PyTorch's elastic launcher runs in each worker.

One node, N processes (or ``colliderlab train EXP.yaml --nproc-per-node N``)::

    torchrun --standalone --nproc-per-node N -m colliderlab.train EXP.yaml --run-dir D

Several nodes, e.g. two of four processes each (run on every node; HOST is the first node)::

    torchrun --nnodes 2 --nproc-per-node 4 --rdzv-backend c10d --rdzv-endpoint HOST:29400 \\
        -m colliderlab.train EXP.yaml --run-dir D

Each process reads ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK`` from the launcher and trains its share
of every global batch (``trainer.batch_size``) with DDP, gloo on CPU and NCCL on CUDA; rank 0
writes the run directory, which must be on a file system all nodes see, since every rank reads
it to resume. See :mod:`colliderlab.train.distributed`.
"""

import sys

from colliderlab.cli import main

if __name__ == "__main__":
    sys.exit(main(["train", *sys.argv[1:]]))
