"""The measuring tools of the benchmarks: timings, peak memory of a process tree, and the
isolated runs on another Keras backend."""

import os
import subprocess
import sys
import time

import pytest

from nmm_core import benchmark, cohort, reproduce


def test_repeat_times_each_call_and_skips_the_warmup():
    calls = []

    def work():
        calls.append(time.perf_counter())
        time.sleep(0.02)

    times = benchmark.repeat(work, runs=3, warmup=2)
    assert len(calls) == 5 and len(times) == 3
    assert all(0.02 <= t < 0.5 for t in times)


def test_peak_memory_sees_a_child_process_allocation():
    # A child holds 300 MiB for a moment: the peak must include it, though the parent never
    # holds that much.
    holder = "import time; block = bytearray(300 * 2**20); block[::4096] = b'x' * len(block[::4096]); time.sleep(1.0)"
    with reproduce.PeakMemory(interval=0.05) as memory:
        baseline = memory.sample()
        subprocess.run([sys.executable, "-c", holder], check=True)
    assert memory.peak_bytes - baseline > 250 * 2**20
    with reproduce.PeakMemory(interval=0.05) as quiet:
        time.sleep(0.2)
    assert quiet.peak_bytes < baseline + 100 * 2**20


def test_machine_describes_cores_and_versions():
    info = benchmark.machine()
    assert info["cores"] == len(os.sched_getaffinity(0))
    import numpy

    assert info["versions"]["numpy"] == numpy.__version__
    assert info["memory_gib"] > 0


def test_an_isolated_run_reports_its_failure_with_the_cause(tmp_path, monkeypatch):
    monkeypatch.setenv("NMM_DATA_DIR", str(tmp_path / "data"))  # the run's process inherits it
    with pytest.raises(RuntimeError) as failure:
        benchmark.run_isolated("synx", "tensorflow", subject="S99", quick=True, timeout=300)
    cause = str(failure.value).splitlines()[0]  # the command line, which names S99 too, comes after
    assert cause.startswith("synx on tensorflow failed: ValueError: ") and "has no subject 'S99'" in cause
    names = ", ".join(s.name for s in cohort.make_cohort(seed=cohort.DEFAULT_SEED))
    assert f"its subjects are {names}." in cause
    # The unknown subject was caught before any cohort was generated for it.
    assert cohort.cohort_path(quick=True).is_relative_to(tmp_path) and not (tmp_path / "data").exists()


def test_processes_run_together_each_with_the_thread_limit(monkeypatch):
    for pool in ("INTRAOP", "INTEROP"):
        monkeypatch.delenv(f"TF_NUM_{pool}_THREADS", raising=False)
    limited = benchmark.run_together("machine", [{}, {}], threads=1, timeout=300)
    assert [r["machine"]["tensorflow_threads"] for r in limited] == [{"intraop": "1", "interop": "1"}] * 2
    # Started at once, not one after the other: each began before the other ended.
    first, second = limited
    assert second["started"] < first["finished"] and first["started"] < second["finished"]
    assert benchmark.run_isolated("machine", timeout=300)["machine"]["tensorflow_threads"] == {
        "intraop": None, "interop": None}


def test_a_failing_configuration_is_summarised_by_its_cause():
    error = ValueError("Graph execution error:\n\nDetected at node x\nXLA compilation requires a fixed "
                       "tensor list size. Set the max number of elements. More text.")
    assert benchmark._error_summary(error) == "ValueError: XLA compilation requires a fixed tensor list size"
    assert benchmark._error_summary(KeyError("plain")) == "KeyError: 'plain'"
