"""The cores a process may use (nmm_core.cpu), against the operating system's own answer in a
process pinned to one core, and TensorFlow's thread limits as environment variables (that the
benchmark's processes run with them: tests/test_benchmark.py)."""

import os
import subprocess
import sys

import pytest

from nmm_core import cpu


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity") or len(os.sched_getaffinity(0)) < 2,
                    reason="needs CPU affinity and two cores to pin a process to one")
def test_a_process_pinned_to_one_core_has_one_usable_core():
    one = min(os.sched_getaffinity(0))
    code = f"import os; os.sched_setaffinity(0, {{{one}}}); from nmm_core import cpu; print(cpu.usable_cores(), os.cpu_count())"
    usable, machine = map(int, subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                                              text=True).stdout.split())
    assert usable == 1 and machine >= 2  # the machine's count is not the answer


def test_limits_read_back_and_zero_threads_is_refused():
    assert cpu.thread_limits(cpu.limit_threads(2)) == {"intraop": "2", "interop": "2"}
    assert cpu.thread_limits({}) == {"intraop": None, "interop": None}
    assert cpu.thread_limits({"TF_NUM_INTEROP_THREADS": "3"}) == {"intraop": None, "interop": "3"}
    with pytest.raises(ValueError, match="at least one thread"):
        cpu.limit_threads(0)
