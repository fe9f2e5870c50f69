"""Where long jobs run: in this process, on an embedded Dask ``LocalCluster``, or on an existing
Dask ``distributed`` cluster (a site's scheduler, or dask-jobqueue's Slurm/HTCondor workers).

Every chunked job of colliderlab (generation of jets, dijets, SM events and calorimeter showers,
prediction over shards) submits module-level functions through a :class:`TaskRunner`:

* :class:`InlineRunner` runs each task in this process when it is submitted (one worker and no
  scheduler: no cluster is started, no data is copied);
* :class:`DaskRunner` submits it to a ``distributed.Client`` opened by :func:`open_client`,
  either on a ``LocalCluster`` of worker *processes* bound to 127.0.0.1 (``workers`` of them,
  one thread each) or on the scheduler at ``scheduler`` / ``$COLLIDERLAB_SCHEDULER``.

Tasks go through :func:`exclusive`: a process-wide lock, so a worker process runs one chunk at a
time even when it has several threads (dask-jobqueue starts workers with several by default; the
Pythia instances cached per process are not thread-safe). A task's result depends only on its
arguments (every chunk's seeds derive from the sample seed and the chunk index), so a task that
Dask re-runs after losing its worker gives the same arrays, and the output is the same whatever
the number of workers or the scheduler.

Security: whoever can reach a Dask scheduler can run code on its workers. The embedded cluster
listens on 127.0.0.1 only; a site cluster should use TLS (``distributed.security.Security``, see
the README). Workers write their output to a filesystem the client reads as well.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from colliderlab.progress import write_line

__all__ = [
    "SCHEDULER_ENV",
    "ClusterConfig",
    "ClusterError",
    "DaskRunner",
    "InlineRunner",
    "TaskRunner",
    "exclusive",
    "open_client",
    "task_runner",
]

#: Environment variable naming a scheduler address when ``--scheduler`` is not given.
SCHEDULER_ENV = "COLLIDERLAB_SCHEDULER"


class ClusterError(RuntimeError):
    """The cluster cannot be used (unreachable scheduler, no workers)."""


@dataclass
class ClusterConfig:
    """Which cluster runs a job.

    Attributes:
        workers: local worker processes (``LocalCluster``); None: one per CPU core. With 1 and no
            scheduler, tasks run in this process (no cluster).
        scheduler: address of an existing scheduler (``tcp://HOST:8786``, ``tls://...``); None reads
            ``$COLLIDERLAB_SCHEDULER``, and without it a local cluster is started.
        threads_per_worker: threads of each local worker (tasks still run one at a time per
            process, :func:`exclusive`).
        connect_timeout: seconds to wait for a scheduler before giving up.
        security: a ``distributed.security.Security`` (TLS) for a site scheduler, or None.
        dashboard: start the local cluster's dashboard (its address is printed).
        shared_fs: whether the workers write to a filesystem the client reads (the usual site
            setup). False: tasks return what they made through Dask and the client writes it.
    """

    workers: int | None = None
    scheduler: str | None = None
    threads_per_worker: int = 1
    connect_timeout: float = 20.0
    security: Any = None
    dashboard: bool = True
    shared_fs: bool = True

    def address(self) -> str | None:
        return self.scheduler or os.environ.get(SCHEDULER_ENV) or None

    def n_workers(self) -> int:
        n = (os.cpu_count() or 1) if self.workers is None else self.workers
        if n < 1:
            raise ValueError(f"workers must be >= 1, got {n}")
        return n

    def inline(self) -> bool:
        """Whether tasks run in this process (one local worker, no scheduler)."""
        return self.address() is None and self.n_workers() == 1


_PROCESS_LOCK = threading.Lock()


def exclusive(fn: Callable[..., Any], *args: Any) -> Any:
    """Run ``fn(*args)`` holding this process's task lock: one task at a time per process."""
    with _PROCESS_LOCK:
        return fn(*args)


@contextmanager
def _environ_kept() -> Iterator[None]:
    """Restore ``os.environ`` after the block. Dask's nannies put their workers' settings
    (``OMP_NUM_THREADS=1``, ``MALLOC_TRIM_THRESHOLD_``, ...) into the environment of the process that
    starts them and leave them there: torch code run later in this process (the training after a
    generation, in ``colliderlab benchmark``) then ran 1.5x slower."""
    saved = dict(os.environ)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


@contextmanager
def open_client(config: ClusterConfig) -> Iterator[Any]:
    """A ``distributed.Client`` on ``config``'s scheduler, or on a new local cluster (closed after).

    Raises:
        ClusterError: the scheduler does not answer within ``connect_timeout`` seconds (the message
            names the address and how to run without it).
    """
    from distributed import Client, LocalCluster

    address = config.address()
    cluster = None
    if address is not None:
        try:
            client = Client(address, timeout=config.connect_timeout, security=config.security)
        except (OSError, TimeoutError) as e:
            raise ClusterError(
                f"cannot reach the Dask scheduler at {address} within {config.connect_timeout:g} s ({e}). "
                f"Start one (`dask scheduler --host HOST`, workers with `dask worker {address}`), fix the "
                f"address, or leave --scheduler and ${SCHEDULER_ENV} unset to run on a local cluster"
            ) from None
        where = f"scheduler {address}"
    else:
        n = config.n_workers()
        with _environ_kept():  # the nannies set OMP_NUM_THREADS=1 & co. in *this* process's environment
            cluster = LocalCluster(
                n_workers=n, threads_per_worker=config.threads_per_worker, processes=True, host="127.0.0.1",
                dashboard_address="127.0.0.1:0" if config.dashboard else None, silence_logs=logging.ERROR,
            )
        client = Client(cluster)
        where = f"local cluster of {n} worker process{'es' * (n > 1)} on 127.0.0.1"
    try:
        dash = f", dashboard {client.dashboard_link}" if config.dashboard or address else ""
        write_line(f"dask: {where}{dash}")
        yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


class TaskRunner:
    """Submit ``fn(*args)`` under a name; take results back as tasks finish."""

    def submit(self, name: str, fn: Callable[..., Any], *args: Any) -> None:
        raise NotImplementedError

    def next_done(self) -> tuple[str, Any]:
        """``(name, result)`` of a finished task (blocks); a task's exception is raised here."""
        raise NotImplementedError

    @property
    def pending(self) -> int:
        raise NotImplementedError

    def cancel(self) -> None:
        """Drop what is still queued or running."""


class InlineRunner(TaskRunner):
    """Runs each task in this process when it is submitted."""

    def __init__(self) -> None:
        self._done: deque[tuple[str, Any]] = deque()

    def submit(self, name: str, fn: Callable[..., Any], *args: Any) -> None:
        self._done.append((name, exclusive(fn, *args)))

    def next_done(self) -> tuple[str, Any]:
        return self._done.popleft()

    @property
    def pending(self) -> int:
        return len(self._done)

    def cancel(self) -> None:
        self._done.clear()


class DaskRunner(TaskRunner):
    """Submits tasks to a ``distributed.Client``; results in completion order.

    A worker lost mid-task is replaced by the scheduler, which runs the task again elsewhere
    (with the same arguments, hence the same seeds); an exception raised by the task itself is
    not retried and reaches :meth:`next_done`.
    """

    def __init__(self, client: Any) -> None:
        from distributed import as_completed

        self.client = client
        self._names: dict[str, str] = {}
        self._ac = as_completed()

    def submit(self, name: str, fn: Callable[..., Any], *args: Any) -> None:
        key = f"{name}-{uuid.uuid4().hex[:8]}"  # readable on the dashboard, unique per submission
        fut = self.client.submit(exclusive, fn, *args, key=key, pure=False)
        self._names[fut.key] = name
        self._ac.add(fut)

    def next_done(self) -> tuple[str, Any]:
        fut = next(self._ac)
        name = self._names.pop(fut.key)
        try:
            return name, fut.result()
        finally:
            fut.release()

    @property
    def pending(self) -> int:
        return self._ac.count()

    def cancel(self) -> None:
        futures = list(self._ac.futures)
        self._ac.clear()
        if futures:
            self.client.cancel(futures)
        self._names.clear()


@contextmanager
def task_runner(config: ClusterConfig | None) -> Iterator[TaskRunner]:
    """The runner for ``config`` (None: in this process), with its client open while in use."""
    if config is None or config.inline():
        yield InlineRunner()
        return
    t0 = time.perf_counter()
    with open_client(config) as client:
        if config.address() is not None and not client.scheduler_info().get("workers"):
            try:
                client.wait_for_workers(1, timeout=config.connect_timeout)
            except TimeoutError:
                raise ClusterError(f"the scheduler at {config.address()} has no workers "
                                   f"(waited {time.perf_counter() - t0:.0f} s)") from None
        runner = DaskRunner(client)
        try:
            yield runner
        finally:
            runner.cancel()
