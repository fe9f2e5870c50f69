"""Data-parallel training across processes (PyTorch DDP): the process group and its collectives.

A process started by PyTorch's elastic launcher (``torchrun``, or ``colliderlab train
--nproc-per-node N``, which calls the same launcher; see :mod:`colliderlab.train.launch`) finds
``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK`` and ``LOCAL_WORLD_SIZE`` in its environment.
:func:`init_distributed` reads them and, for a world of more than one process, joins the process
group: ``gloo`` on CPU, ``nccl`` on CUDA (each process on ``cuda:LOCAL_RANK``), and sets torch's
threads to the cores of the node divided among its processes (at least 1) unless a thread count
is given. Without those variables (or with ``WORLD_SIZE=1``) everything here is a no-op and the
trainer runs as one process.

How the trainer uses it (:class:`~colliderlab.train.trainer.Trainer`):

* the experiment's ``trainer.batch_size`` is the **global** batch: each rank takes
  ``batch_size / world_size`` jets per step from its share of the training set
  (``train.for_rank(rank, world_size)``, :class:`~colliderlab.data.dataset.RankShard`), and
  DDP averages the gradients, so N processes take the steps one process would at that batch
  (up to float summation order; with per-jet weights each rank normalises by its own weight sum);
* a rank that runs out of batches before the others (uneven shards) joins through
  ``torch.distributed.algorithms.Join``: it shadows the others' gradient all-reduces until all
  are done, then the model, optimiser state and schedules of the rank that stepped most are
  copied to the others;
* epoch metrics are all-reduced (sums and counts of the per-step losses); validation is split
  by rank (``val.for_rank``) and the outputs gathered back in order, so every rank computes the
  same metrics as one process would on the whole set;
* rank 0 alone writes the run directory (checkpoints of the unwrapped model, metrics, results,
  plots); the others write nothing.

``COLLIDERLAB_DDP_DEBUG_DIR``: when set, every rank writes ``rank<R>.json`` there at the end of
:meth:`Trainer.fit` (world size, steps, a hash and sum of its parameters): for tests.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "DEBUG_DIR_ENV",
    "DistContext",
    "init_distributed",
    "distributed",
    "cpu_cores",
    "default_threads",
    "write_debug",
    "catch_up",
    "broadcast_optimizer_state",
]

DEBUG_DIR_ENV = "COLLIDERLAB_DDP_DEBUG_DIR"


def cpu_cores() -> int:
    """Cores this process may run on (its affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def default_threads(local_world_size: int) -> int:
    """Torch threads per process when ``local_world_size`` processes share the node's cores."""
    return max(1, cpu_cores() // max(local_world_size, 1))


@dataclass(frozen=True)
class DistContext:
    """Where this process stands in a data-parallel run (one process: rank 0 of 1)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    local_world_size: int = 1
    backend: str | None = None
    device: Any = None

    @property
    def enabled(self) -> bool:
        """Whether several processes train together."""
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Rank 0: the one process that writes files and prints."""
        return self.rank == 0

    def barrier(self) -> None:
        if self.enabled:
            import torch.distributed as dist

            dist.barrier()

    @contextlib.contextmanager
    def main_first(self) -> Iterator[None]:
        """Rank 0 runs the block first (e.g. writing a cache), then the other ranks."""
        if self.enabled and not self.is_main:
            self.barrier()
        yield
        if self.enabled and self.is_main:
            self.barrier()

    def reduce(self, values: Sequence[float], op: str = "sum") -> list[float]:
        """``values`` summed (``op="sum"``) or maximised (``"max"``) over the ranks, in float64."""
        if not self.enabled:
            return [float(v) for v in values]
        import torch
        import torch.distributed as dist

        t = torch.tensor(list(values), dtype=torch.float64, device=self._comm_device())
        dist.all_reduce(t, op=dist.ReduceOp.SUM if op == "sum" else dist.ReduceOp.MAX)
        return t.cpu().tolist()

    def gather_rows(self, local: np.ndarray, n: int, layout: str = "interleaved") -> np.ndarray:
        """The (n, C) rows of a dataset, every rank getting the whole array, from each rank's rows:
        ``rank::world_size`` (``layout="interleaved"``, as :meth:`RankShard.batches` hands them out
        unshuffled) or consecutive blocks in rank order (``"contiguous"``, the streaming views)."""
        if not self.enabled:
            return local
        import torch
        import torch.distributed as dist

        if layout == "contiguous":
            sizes = [int(v) for v in self.reduce(
                [len(local) if r == self.rank else 0 for r in range(self.world_size)], "sum")]
        elif layout != "interleaved":
            raise ValueError(f"unknown rank layout {layout!r}; valid: interleaved, contiguous")
        per = -(-n // self.world_size) if layout == "interleaved" else max(sizes)
        c = int(self.reduce([local.shape[1] if local.ndim == 2 and len(local) else 0], "max")[0])
        buf = torch.zeros(per, c, dtype=torch.float32, device=self._comm_device())
        if len(local):
            buf[: len(local)] = torch.from_numpy(np.asarray(local, np.float32).reshape(len(local), c))
        parts = [torch.empty_like(buf) for _ in range(self.world_size)]
        dist.all_gather(parts, buf)
        if layout == "contiguous":
            return np.concatenate([p[:k].cpu().numpy() for p, k in zip(parts, sizes, strict=True)])
        out = np.zeros((n, c), np.float32)
        for r, part in enumerate(parts):
            k = len(range(r, n, self.world_size))
            out[r :: self.world_size] = part[:k].cpu().numpy()
        return out

    def _comm_device(self) -> Any:
        return self.device if self.backend == "nccl" else "cpu"


_SINGLE = DistContext()


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


def init_distributed(device: str = "auto", num_threads: int = 0) -> DistContext:
    """This process's :class:`DistContext`, joining the process group if the launcher started
    several processes (``WORLD_SIZE > 1``) and it is not joined yet.

    Args:
        device: the trainer's device setting; ``auto``/``cuda`` become ``cuda:LOCAL_RANK``.
        num_threads: torch threads of this process (0: the node's cores divided among its
            ``LOCAL_WORLD_SIZE`` processes, at least 1).
    """
    from colliderlab.train.trainer_config import resolve_device

    world = _env_int("WORLD_SIZE", 1)
    if world <= 1:
        return DistContext(device=resolve_device(device))
    import torch
    import torch.distributed as dist

    rank, local_rank = _env_int("RANK", 0), _env_int("LOCAL_RANK", 0)
    local_world = _env_int("LOCAL_WORLD_SIZE", world)
    dev = _resolve(device, local_rank)
    backend = "nccl" if dev.type == "cuda" else "gloo"
    if not dist.is_initialized():
        if dev.type == "cuda":
            torch.cuda.set_device(dev)
        torch.set_num_threads(num_threads or default_threads(local_world))
        dist.init_process_group(backend)
    return DistContext(rank, dist.get_world_size(), local_rank, local_world, dist.get_backend(), dev)


def _resolve(device: str, local_rank: int) -> Any:
    import torch

    from colliderlab.train.trainer_config import resolve_device

    dev = resolve_device(device)
    if dev.type == "cuda" and dev.index is None:
        return torch.device("cuda", local_rank)
    return dev


@contextlib.contextmanager
def distributed(device: str = "auto", num_threads: int = 0) -> Iterator[DistContext]:
    """:func:`init_distributed` for a block; on leaving it normally, a barrier and the process
    group destroyed (when this block joined it)."""
    import torch.distributed as dist

    owned = dist.is_available() and not dist.is_initialized()
    ctx = init_distributed(device, num_threads)
    ok = False
    try:
        yield ctx
        ok = True
    finally:
        if ctx.enabled and owned and dist.is_initialized():
            if ok:
                dist.barrier()
            dist.destroy_process_group()


# ------------------------------------------------------------------------- after uneven epochs


def broadcast_optimizer_state(optimizers: Sequence[Any], src: int) -> bool:
    """Copy the optimisers' state tensors of rank ``src`` to every rank (after a rank joined
    early, its moments lag). Returns False, changing nothing, where some rank has no state for
    a parameter that ``src`` has (it never stepped)."""
    import torch
    import torch.distributed as dist

    entries = []
    for opt in optimizers:
        for group in opt.param_groups:
            for p in group["params"]:
                state = opt.state.get(p, {})
                entries += [(state, k) for k in sorted(state) if isinstance(state[k], torch.Tensor)]
    counts = torch.tensor([len(entries), -len(entries)], dtype=torch.float64)
    dist.all_reduce(counts, op=dist.ReduceOp.MAX)
    if counts[0] != -counts[1]:
        return False
    for state, key in entries:
        t = state[key]
        comm = t if dist.get_backend() != "nccl" or t.is_cuda else t.cuda()
        dist.broadcast(comm, src)
        if comm is not t:
            t.copy_(comm)
    return True


def write_debug(ctx: DistContext, model: Any, **extra: Any) -> Path | None:
    """``rank<R>.json`` in ``$COLLIDERLAB_DDP_DEBUG_DIR`` (if set): the rank, world size,
    threads, and the sum and sha256 of ``model``'s parameters, plus ``extra``."""
    where = os.environ.get(DEBUG_DIR_ENV)
    if not where:
        return None
    import torch

    from colliderlab.atomic import write_json

    digest = hashlib.sha256()
    total = 0.0
    for name, p in sorted(model.state_dict().items()):
        a = p.detach().cpu().contiguous()
        digest.update(name.encode() + a.numpy().tobytes())
        total += float(a.double().sum())
    path = Path(where) / f"rank{ctx.rank}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json(path, {
        "rank": ctx.rank, "world_size": ctx.world_size, "local_world_size": ctx.local_world_size,
        "backend": ctx.backend, "num_threads": torch.get_num_threads(), "param_sum": total,
        "param_sha256": digest.hexdigest(), **extra,
    })
    return path


def catch_up(ctx: DistContext, local_steps: int, optimizers: Sequence[Any], schedulers: Sequence[Any]) -> int:
    """After an epoch in which the ranks took different numbers of steps (uneven shards; ``Join``
    has already copied the model of the rank that stepped most to the others): the lagging ranks
    step ``schedulers`` (the per-step schedules) up to that count and take its optimiser state.
    Returns the epoch's step count, the most any rank took."""
    if not ctx.enabled:
        return local_steps
    most, minus_fewest = ctx.reduce([local_steps, -local_steps], "max")
    if most == -minus_fewest:
        return local_steps
    src = int(ctx.reduce([ctx.rank if local_steps == most else -1], "max")[0])  # Join's choice too
    with warnings.catch_warnings():  # "scheduler stepped before the optimiser": on purpose here
        warnings.simplefilter("ignore")
        for _ in range(int(most) - local_steps):
            for sch in schedulers:
                sch.step()
    if not broadcast_optimizer_state(optimizers, src):
        warnings.warn(
            f"rank {ctx.rank}: a rank took no step this epoch, so the optimiser states were not synchronised "
            "(give every rank at least one batch)", stacklevel=2,
        )
    return int(most)
