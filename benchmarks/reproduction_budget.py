"""Where a full reproduction's time goes, and what a time target asks of the chapters that train
the NMM.

Run on a finished reproduction, e.g. the clone that ``benchmarks/reproduction_time.py --keep``
kept, with the total it printed:

    .venv/bin/python benchmarks/reproduction_budget.py --root /tmp/nmm-reproduction-XXXX/nmm \\
        --total-s 3135 --targets 30 35

It reads the times the runner recorded beside the executed notebooks (``book/_generated``) and
writes nothing. The chapters are split into the protocol's (the NMM chapters and the cohort
variant's: they train every NMM of the protocol) and the rest. With the protocol's chapters taking
no time at all, the reproduction would still take its serial part (the virtual environment, the
cohorts, the book build: the total less the chapters' span), the benchmarks chapter (it runs
alone, so that its timings see an idle machine) and the other chapters spread over the cores:
a lower bound, since no schedule packs better. For each target, the factor is how many times
fewer core-seconds the protocol's chapters would have to take to fit in what is left (at least,
assuming a perfect packing).
"""

import argparse
import datetime
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PROTOCOL = ("nmm_", "thresholds_")  # chapter name prefixes: the NMM's and the variant's chapters
ALONE = ("benchmarks",)  # chapters that run with nothing beside them


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, required=True, help="the reproduced book root (a clone)")
    parser.add_argument("--total-s", type=float, required=True,
                        help="the reproduction's total wall time, virtual environment included (s)")
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--targets", type=float, nargs="+", default=[30.0, 35.0], help="minutes")
    args = parser.parse_args()

    from nmm_core.plotting import markdown_table
    from nmm_core.reproduce import chapter_timings

    chapters = chapter_timings(args.root)
    if not chapters:
        parser.error(f"{args.root}: no chapter timings in book/_generated; run the reproduction there first.")
    ends = {n: datetime.datetime.fromisoformat(t["executed_at"]).timestamp() for n, t in chapters.items()}
    span = max(ends.values()) - min(ends[n] - t["seconds"] for n, t in chapters.items())
    serial = args.total_s - span
    protocol = sum(t["seconds"] for n, t in chapters.items() if n.startswith(PROTOCOL))
    alone = sum(t["seconds"] for n, t in chapters.items() if n in ALONE)
    rest = sum(t["seconds"] for n, t in chapters.items()) - protocol - alone
    floor = serial + alone + rest / args.cores
    backends = sorted({t["keras_backend"] for t in chapters.values()})
    print(f"{args.root}: {len(chapters)} chapters on {', '.join(backends)}; {args.total_s / 60:.1f} min in all\n")
    print(markdown_table(["part", "seconds", "how it counts"], [
        ["serial: environment, cohorts, book build", f"{serial:.0f}", "wall"],
        ["chapters' span", f"{span:.0f}", "wall"],
        ["protocol chapters (nmm_*, thresholds_*)", f"{protocol:.0f}", "core-seconds"],
        ["benchmarks chapter", f"{alone:.0f}", "wall (runs alone)"],
        ["other chapters", f"{rest:.0f}", "core-seconds"],
        [f"lower bound with no protocol chapter, {args.cores} cores", f"{floor:.0f}", "wall"],
    ]))
    rows = []
    for minutes in args.targets:
        room = minutes * 60 - floor
        need = protocol / (room * args.cores) if room > 0 else None
        factor = "cannot fit" if need is None else f"{need:.2f}" if need > 1 else f"none: they fit ({need:.2f})"
        rows.append([f"{minutes:g}", f"{room:.0f}", factor])
    print("\nFor the protocol's chapters to fit beside the rest (perfect packing):\n")
    print(markdown_table(["target (min)", "wall left for them (s)", "times fewer core-seconds needed"], rows))


if __name__ == "__main__":
    main()
