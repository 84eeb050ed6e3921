"""Run independent shard tasks through dask on the scheduler the user picks.

``scheduler`` is one of:

* ``sync`` — dask's synchronous scheduler (debugging, profiling);
* ``threads`` — the local thread pool;
* ``processes`` — the local process pool;
* ``local`` — a :class:`distributed.LocalCluster` started for the run
  (``workers`` processes, one thread each), shut down afterwards;
* ``tcp://host:port`` — an existing dask.distributed scheduler.

Tasks are pure functions of their arguments; outputs never depend on which
scheduler or how many workers ran them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import dask
from tqdm.auto import tqdm

__all__ = ["SCHEDULERS", "run_tasks"]

SCHEDULERS = ("sync", "threads", "processes", "local")


def _check(scheduler: str) -> None:
    if scheduler not in SCHEDULERS and not scheduler.startswith(("tcp://", "tls://", "inproc://")):
        raise ValueError(
            f"scheduler {scheduler!r} unknown; use one of {list(SCHEDULERS)} or the address of a "
            "dask.distributed scheduler (tcp://host:port)"
        )


def run_tasks(
    fn: Callable[..., Any],
    args: Sequence[tuple[Any, ...]],
    *,
    scheduler: str,
    workers: int = 2,
    desc: str = "",
    progress: bool = True,
) -> list[Any]:
    """Call ``fn(*a)`` for every ``a`` in ``args`` on dask and return results in order.

    Args:
        fn: A picklable, top-level function.
        args: One argument tuple per task.
        scheduler: See the module docstring.
        workers: Worker count for ``threads``, ``processes`` and ``local``.
        desc: Progress-bar label.
        progress: Show a progress bar (on stderr).

    Returns:
        ``[fn(*a) for a in args]``, computed in parallel.
    """
    _check(scheduler)
    if not args:
        return []
    if scheduler in ("sync", "threads", "processes"):
        from dask.callbacks import Callback

        tasks = [dask.delayed(fn, pure=True)(*a) for a in args]
        bar = tqdm(total=len(tasks), desc=desc, disable=not progress, unit="task")

        class _Progress(Callback):
            def _posttask(
                self, key: Any, result: Any, dsk: Any, state: Any, worker_id: Any
            ) -> None:
                if isinstance(key, tuple) or str(key).startswith(fn.__name__):
                    bar.update(1)

        name = "synchronous" if scheduler == "sync" else scheduler
        # Each task is a whole unit of work (a shard, a fold): the process pool must hand them
        # out one at a time. Its default ``chunksize`` (6) submits up to 6 ready tasks as one
        # batch to one worker, so 5 folds or 4 shards ran one after another in a single
        # process while the other workers idled.
        with _Progress(), dask.config.set(chunksize=1):
            computed = dask.compute(*tasks, scheduler=name, num_workers=workers)
        bar.close()
        return list(computed)
    from distributed import Client, LocalCluster, as_completed

    cluster = None
    if scheduler == "local":
        cluster = LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
        )
        client = Client(cluster)
    else:
        client = Client(scheduler)
    try:
        futures = [client.submit(fn, *a, pure=False) for a in args]
        index = {f.key: i for i, f in enumerate(futures)}
        results: list[Any] = [None] * len(futures)
        with tqdm(total=len(futures), desc=desc, disable=not progress, unit="task") as bar:
            for fut in as_completed(futures):
                results[index[fut.key]] = fut.result()
                bar.update(1)
        return results
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
