"""Run independent shard tasks through dask on the scheduler the user picks.

``scheduler`` is one of:

* ``sync`` — dask's synchronous scheduler (debugging, profiling);
* ``threads`` — the local thread pool;
* ``processes`` — the local process pool;
* ``local`` — a :class:`distributed.LocalCluster` started for the run
  (``workers`` processes, one thread each), shut down afterwards;
* ``tcp://host:port`` — an existing dask.distributed scheduler.

Tasks are pure functions of their arguments; outputs never depend on which
scheduler or how many workers ran them. An optional ``cost`` per task orders the
start (largest first, the longest-processing-time rule), so a build's few heavy
tasks do not run alone at the end while the other workers idle; it changes when
a task runs, never what it returns.
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
    cost: Sequence[float] | None = None,
) -> list[Any]:
    """Call ``fn(*a)`` for every ``a`` in ``args`` on dask and return results in order.

    Args:
        fn: A picklable, top-level function.
        args: One argument tuple per task.
        scheduler: See the module docstring.
        workers: Worker count for ``threads``, ``processes`` and ``local``.
        desc: Progress-bar label.
        progress: Show a progress bar (on stderr).
        cost: Optional estimated cost per task (any unit); tasks start in decreasing
            cost (ties in ``args`` order). Only the start order changes.

    Returns:
        ``[fn(*a) for a in args]``, computed in parallel.

    Raises:
        ValueError: ``cost`` does not have one entry per task.
    """
    _check(scheduler)
    if not args:
        return []
    if cost is not None and len(cost) != len(args):
        raise ValueError(f"cost has {len(cost)} entries for {len(args)} tasks")
    # rank[i]: the position at which task i starts (0 = first)
    start = sorted(range(len(args)), key=lambda i: -cost[i]) if cost else range(len(args))
    rank = {i: r for r, i in enumerate(start)}
    if scheduler in ("sync", "threads", "processes"):
        from dask.callbacks import Callback

        # dask's local schedulers start independent tasks in decreasing key order: the key
        # carries the inverted rank (tests/pipeline/test_stage.py checks the order holds).
        n = len(args)
        tasks = [dask.delayed(fn, pure=True)(*a, dask_key_name=(
            f"{fn.__name__}-{n - 1 - rank[i]:07d}-{dask.base.tokenize(fn, *a)}"))
            for i, a in enumerate(args)]
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
        # Submitted in start order with a matching priority (higher runs first).
        futures = [None] * len(args)
        for i in start:
            futures[i] = client.submit(fn, *args[i], pure=False, priority=len(args) - rank[i])
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
