"""Do the Keras backends give the same NMM, within seed noise? Trains every subject as its
chapter does (full cohort, its seed ensemble, early stopping) with several seeds on TensorFlow and on JAX, and prints
the held-out scores and training times side by side.

Run (about 5 x seeds x (50 s TensorFlow + 15 s JAX) on 2 cores):

    .venv/bin/python benchmarks/backend_agreement.py [--subjects S01 S02] [--seeds 0 1 2]

A backend is in agreement for a score when its seed-mean lies within the other backend's seed
range widened by one standard deviation. Nothing is written.
"""

import argparse
import statistics

from nmm_core.benchmark import BACKENDS, backend_available, run_isolated
from nmm_core.training import cohort_subjects
from nmm_core.plotting import markdown_table

SCORES = ("BRA_r", "TRImed_r", "torque_nrmse_pct")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", nargs="+", help="default: every subject of the cohort")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    args.subjects = args.subjects or cohort_subjects()

    backends = [b for b in BACKENDS if backend_available(b)]
    found = {}
    for subject in args.subjects:
        for backend in backends:
            for seed in args.seeds:
                r = run_isolated("converge", backend, subject=subject, quick=args.quick, seed=seed)
                found[subject, backend, seed] = r
                print(subject, backend, seed, f"{r['total_s']:.1f} s", r["held_out"], flush=True)
    rows, agree = [], []
    for subject in args.subjects:
        for backend in backends:
            runs = [found[subject, backend, seed] for seed in args.seeds]
            row = [subject, backend, statistics.median(r["total_s"] for r in runs),
                   statistics.median(r["per_seed_s"] for r in runs)]
            for score in SCORES:
                values = [r["held_out"][score] for r in runs if r["held_out"][score] is not None]
                row.append(f"{statistics.mean(values):.3f} ± {statistics.pstdev(values):.3f}" if values else "–")
            rows.append(row)
        if len(backends) == 2:
            for score in SCORES:
                a, b = ([found[subject, k, seed]["held_out"][score] for seed in args.seeds] for k in backends)
                a, b = [v for v in a if v is not None], [v for v in b if v is not None]
                if a and b:
                    spread = statistics.pstdev(a) + statistics.pstdev(b)
                    agree.append(min(a) - spread <= statistics.mean(b) <= max(a) + spread)
    print(f"\nHeld-out scores, mean ± SD over seeds {args.seeds}; times are medians over the seeds\n")
    print(markdown_table(["subject", "backend", "training (s)", "per seed (s)", "BRA r", "TRImed r",
                          "torque NRMSE (%)"], rows))
    if agree:
        print(f"\n{sum(agree)} of {len(agree)} subject x score pairs agree within seed noise")


if __name__ == "__main__":
    main()
