"""Every test, in two pytest processes at once (what ``make test`` runs).

The notebook and book tests (``pytest -m book``: most of them one quick reproduction and strict
book build, which keeps two cores busy between single-threaded stretches) start first, in the
background, and the other tests (``-m "not book"``, mostly one core) run meanwhile in the
foreground; the book tests' report is printed whole once they end. The exit status is 0 only if
both runs pass. Arguments are passed to both runs, e.g. ``-x`` or ``-k name``.

    .venv/bin/python scripts/run_tests.py [pytest arguments]
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time


def main(argv: list[str]) -> int:
    pytest = [sys.executable, "-m", "pytest", *argv]
    with tempfile.TemporaryFile(mode="w+") as report, tempfile.TemporaryDirectory(prefix="nmm-tests-") as temp:
        started = time.perf_counter()
        # Each run has its own temporary folders, and the book run no cache: the two runs must
        # not clean up or write each other's files.
        book = subprocess.Popen([*pytest, "-m", "book", "-p", "no:cacheprovider", f"--basetemp={temp}/book"],
                                stdout=report, stderr=subprocess.STDOUT, text=True)
        try:
            others = subprocess.run([*pytest, "-m", "not book", f"--basetemp={temp}/others"]).returncode
            print(f"\nwaiting for the notebook and book tests (pytest -m book, running for "
                  f"{time.perf_counter() - started:.0f} s) ...", flush=True)
            status = book.wait()
        except BaseException:  # Ctrl-C or a crash here: leave no test running behind
            book.kill()
            raise
        report.seek(0)
        print(f"\n----- pytest -m book ({time.perf_counter() - started:.0f} s) -----", flush=True)
        sys.stdout.write(report.read())
    print(f"\nnot book: exit {others}; book: exit {status}; {time.perf_counter() - started:.0f} s in all")
    return 0 if others == status == 0 else (others or status)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
