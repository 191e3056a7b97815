"""Every test, in two pytest processes at once (what ``make test`` runs).

The quick reproduction and strict book build (``pytest -m reproduction``, one test, two thirds
of the whole time, which keeps two cores busy between single-threaded stretches) starts first, in
the background, and every other test (``-m "not reproduction"``, mostly on one core) runs
meanwhile in the foreground; the reproduction's report is printed whole once it ends. The exit
status is 0 only if both runs pass. Arguments are passed to both runs, e.g. ``-x`` or ``-k name``.

    .venv/bin/python scripts/run_tests.py [pytest arguments]
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path


#: The file that holds the ``reproduction`` tests (a test checks that no other file has one):
#: the background run collects it alone unless paths are given, which spares it importing
#: every other test module (about 12 s of one core).
REPRODUCTION_TESTS = Path(__file__).resolve().parents[1] / "tests" / "test_reproduce.py"


def _names_paths(argv: list[str]) -> bool:
    """Whether the pytest arguments name test files or folders (``path`` or ``path::test``)."""
    return any(Path(a.split("::")[0]).exists() for a in argv if not a.startswith("-"))


def _stop(signum, frame):
    raise SystemExit(128 + signum)  # unwinds through main, which stops the background run


def main(argv: list[str]) -> int:
    signal.signal(signal.SIGTERM, _stop)  # a cancelled CI job: stop both runs, as Ctrl-C does
    pytest = [sys.executable, "-m", "pytest", *argv]
    with tempfile.TemporaryFile(mode="w+") as report, tempfile.TemporaryDirectory(prefix="nmm-tests-") as temp:
        started = time.perf_counter()
        # Each run has its own temporary folders, and the background run no cache: the two runs
        # must not clean up or write each other's files. The background run has its own process
        # group, so that stopping it stops the processes it started (notebook kernels) too.
        reproduction = subprocess.Popen(
            [*pytest, "-m", "reproduction", "-p", "no:cacheprovider", f"--basetemp={temp}/reproduction",
             *([] if _names_paths(argv) else [str(REPRODUCTION_TESTS)])],
            stdout=report, stderr=subprocess.STDOUT, text=True, start_new_session=True)
        try:
            others = subprocess.run([*pytest, "-m", "not reproduction", f"--basetemp={temp}/others"]).returncode
            print(f"\nwaiting for the quick reproduction test (pytest -m reproduction, running for "
                  f"{time.perf_counter() - started:.0f} s) ...", flush=True)
            status = reproduction.wait()
        except BaseException:  # Ctrl-C, SIGTERM or a crash here: leave no test running behind
            os.killpg(reproduction.pid, signal.SIGKILL)
            raise
        report.seek(0)
        print(f"\n----- pytest -m reproduction ({time.perf_counter() - started:.0f} s) -----", flush=True)
        sys.stdout.write(report.read())
    print(f"\nthe other tests: exit {others}; the quick reproduction: exit {status}; "
          f"{time.perf_counter() - started:.0f} s in all")
    return 0 if others == status == 0 else (others or status)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
