"""The CPU this process may use: its cores, and the sizes of TensorFlow's thread pools.

The runner (:mod:`nmm_core.reproduce`, chapters side by side share the cores out) and the
benchmarks (:mod:`nmm_core.benchmark`, processes started with a limit and every figure labelled
with what it was measured with) both read these; this module is their one home.
"""

from __future__ import annotations

import os

#: TensorFlow's environment variables for the sizes of its two thread pools (intra-op: the
#: threads one operation is split over; inter-op: operations run at once). TensorFlow reads them
#: when it starts, so they act on processes (kernels, benchmark workers) started after they are set.
THREAD_VARIABLES = ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS")


def usable_cores() -> int:
    """The cores this process may run on: its CPU affinity where the system has one (a
    container or ``taskset`` may allow fewer than the machine has), else the machine's count."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def thread_limits(environ=None) -> dict[str, str | None]:
    """TensorFlow's thread-pool limits set in ``environ`` (default ``os.environ``), as
    ``{"intraop": ..., "interop": ...}``; None where TensorFlow keeps its default (about one
    thread per core)."""
    environ = os.environ if environ is None else environ
    return {name.split("_")[2].lower(): environ.get(name) for name in THREAD_VARIABLES}


def limit_threads(threads: int) -> dict[str, str]:
    """The environment variables that give each of TensorFlow's two pools ``threads`` threads."""
    if int(threads) < 1:
        raise ValueError(f"a thread pool needs at least one thread, got {threads}")
    return dict.fromkeys(THREAD_VARIABLES, str(int(threads)))
