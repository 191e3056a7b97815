"""``make test``'s runner (scripts/run_tests.py): both pytest runs, and its exit status."""

import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

RUNNER = Path(__file__).resolve().parents[1] / "scripts" / "run_tests.py"


@pytest.mark.parametrize("failing", [None, "reproduction", "others"])
def test_the_runner_runs_both_parts_and_fails_when_either_fails(tmp_path, failing):
    (tmp_path / "pytest.ini").write_text("[pytest]\nmarkers =\n    reproduction: slow\naddopts = --strict-markers\n")
    (tmp_path / "test_parts.py").write_text(textwrap.dedent(f"""
        import pytest

        @pytest.mark.reproduction
        def test_reproduction_part():
            assert {failing != "reproduction"}

        def test_other_part():
            assert {failing != "others"}
        """))
    run = subprocess.run([sys.executable, str(RUNNER), "-c", str(tmp_path / "pytest.ini"), str(tmp_path)],
                         cwd=tmp_path, capture_output=True, text=True, timeout=300)
    # Each part ran its own test only (and left the other's out), the reproduction part's report printed
    # whole after the others'.
    others_report, reproduction_report = run.stdout.split("----- pytest -m reproduction")
    assert ("1 failed" if failing == "reproduction" else "1 passed") in reproduction_report and "1 deselected" in reproduction_report
    assert ("1 failed" if failing == "others" else "1 passed") in others_report and "1 deselected" in others_report
    assert (run.returncode == 0) == (failing is None)


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_stopping_the_runner_stops_the_background_run_and_what_it_started(tmp_path, stop):
    (tmp_path / "pytest.ini").write_text("[pytest]\nmarkers =\n    reproduction: slow\n")
    pid_file = tmp_path / "grandchild.pid"
    (tmp_path / "test_parts.py").write_text(textwrap.dedent(f"""
        import subprocess, time
        import pytest

        @pytest.mark.reproduction
        def test_reproduction_part():
            child = subprocess.Popen(["sleep", "300"])  # like a notebook kernel under the runner
            open({str(pid_file)!r}, "w").write(str(child.pid))
            time.sleep(300)

        def test_other_part():
            time.sleep(300)
        """))
    # Default signal handling in the runner, as in a terminal: a test run started in the
    # background of a non-interactive shell inherits SIGINT ignored.
    runner = subprocess.Popen([sys.executable, str(RUNNER), "-c", str(tmp_path / "pytest.ini"), str(tmp_path)],
                              cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 60
    while not pid_file.is_file() or not pid_file.read_text():
        assert time.monotonic() < deadline, "the background run never started its child"
        time.sleep(0.1)
    grandchild = int(pid_file.read_text())
    runner.send_signal(stop)
    assert runner.wait(timeout=60) != 0
    deadline = time.monotonic() + 10
    while _running(grandchild):
        assert time.monotonic() < deadline, "a process of the background run is still running"
        time.sleep(0.1)


def _running(pid: int) -> bool:
    """Whether process ``pid`` exists and is not a zombie (Linux /proc)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except FileNotFoundError:
        return False


def test_every_reproduction_test_is_in_the_file_the_background_run_collects():
    """Without paths the background run collects one file only: a ``reproduction`` test placed
    in any other file would never run in ``make test``."""
    import importlib.util
    import re

    spec = importlib.util.spec_from_file_location("run_tests", RUNNER)
    runner = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(runner)
    tests = RUNNER.parents[1] / "tests"
    marked = sorted(p for p in tests.glob("test_*.py")
                    if re.search(r"mark\.reproduction\b", p.read_text()) and p.name != Path(__file__).name)
    assert marked == [runner.REPRODUCTION_TESTS]
