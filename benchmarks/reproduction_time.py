"""End-to-end reproduction time from a fresh clone, and the time and peak memory of each step.

Run (from the repository; clones the committed HEAD into a temporary folder, with a fresh data
cache, and runs the README's command there):

    .venv/bin/python benchmarks/reproduction_time.py --quick     # make reproduce QUICK=1
    .venv/bin/python benchmarks/reproduction_time.py             # make reproduce

The virtual environment is created in the clone from the pip cache, as a user's would be.
Peak memory is that of the runner's worker and the notebook's kernel together, per chapter.
"""

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the clone (its path is printed)")
    args = parser.parse_args()

    from nmm_core.plotting import markdown_table
    from nmm_core.reproduce import chapter_timings, step_timings

    folder = Path(tempfile.mkdtemp(prefix="nmm-reproduction-"))
    clone = folder / "nmm"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
    command = ["make", "reproduce"] + (["QUICK=1"] if args.quick else [])
    env = {**__import__("os").environ, "NMM_DATA_DIR": str(folder / "data")}
    start = time.perf_counter()
    result = subprocess.run(command, cwd=clone, env=env)
    total = time.perf_counter() - start
    rows = [[step, record["seconds"], record["peak_memory_mib"]]
            for step, record in {**step_timings(clone), **chapter_timings(clone)}.items()]
    print(f"\n`{' '.join(command)}` from a fresh clone: exit {result.returncode}, {total / 60:.1f} min "
          f"({total:.0f} s) in all, virtual environment included; chapters run in parallel, so their "
          "times add up to more than the total.\n")
    print(markdown_table(["step", "time (s)", "peak memory (MiB)"], rows))
    if args.keep:
        print(f"\nclone kept at {clone}")
    else:
        subprocess.run(["rm", "-rf", str(folder)])
    return result.returncode


if __name__ == "__main__":
    sys.exit(main())
