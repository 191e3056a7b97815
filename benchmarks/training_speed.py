"""NMM training throughput (windows per second) by Keras backend, XLA compilation and backbone,
and the time to converge per subject (medians of several runs; ratios from the same run).

Run (JAX is in requirements.lock; each configuration runs in its own process):

    .venv/bin/python benchmarks/training_speed.py                 # full cohort, subject S01
    .venv/bin/python benchmarks/training_speed.py --converge      # + full training of every subject
    .venv/bin/python benchmarks/training_speed.py --converge-only --backends tensorflow --runs 1
    .venv/bin/python benchmarks/training_speed.py --converge-only --subjects S01 S03 --runs 1

Nothing is written; the cohort is read from the data cache (generated if absent).
"""

import argparse
import statistics

from nmm_core.benchmark import BACKENDS, backend_available, configurations, run_isolated
from nmm_core.training import cohort_subjects
from nmm_core.plotting import markdown_table


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subject", default="S01", help="the subject of the throughput table")
    parser.add_argument("--subjects", nargs="+", help="the subjects trained to convergence (default: every subject of the cohort)")
    parser.add_argument("--quick", action="store_true", help="the quick cohort")
    parser.add_argument("--epochs", type=int, default=3, help="epochs per timed run")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--backbones", nargs="+", default=["transformer", "conv"])
    parser.add_argument("--backends", nargs="+", default=list(BACKENDS), help="Keras backends to time")
    parser.add_argument("--converge-only", action="store_true", help="skip the throughput table")
    parser.add_argument("--converge", action="store_true",
                        help="also train every subject as its chapter does (the seed ensemble) on each backend")
    args = parser.parse_args()

    rows, baseline = [], None
    for backend, jit in ([] if args.converge_only else [c for c in configurations() if c[0] in args.backends]):
        for backbone in args.backbones:
            r = run_isolated("throughput", backend, subject=args.subject, quick=args.quick,
                             backbone=backbone, jit=jit, epochs=args.epochs, runs=args.runs)
            rate = r["windows_per_s"]
            baseline = baseline or rate
            rows.append([backend, "no XLA" if jit == "off" else "XLA", backbone,
                         f"{rate:.0f}" if rate else "fails", f"{rate / baseline:.2f}" if rate else "",
                         f"{r['first_epoch_s']:.1f}" if rate else r["error"][:70],
                         f"{60 * r['windows_per_epoch'] / rate:.0f}" if rate else ""])
            print(rows[-1], flush=True)
    if rows:
        machine = r["machine"]
        print(f"\n{machine['cpu']}, {machine['cores']} cores; subject {args.subject} "
              f"({'quick' if args.quick else 'full'} cohort), {r['windows_per_epoch']} windows per epoch, "
              f"batch 64, medians of {args.runs} runs of {args.epochs} epochs\n")
        print(markdown_table(["backend", "compilation", "backbone", "windows/s", "vs first row",
                              "first epoch (s)", "60 epochs (s)"], rows))
    if args.converge or args.converge_only:
        rows = []
        for backend in [b for b in args.backends if backend_available(b)]:
            for subject in args.subjects or cohort_subjects():
                runs = [run_isolated("converge", backend, subject=subject, quick=args.quick, seed=seed)
                        for seed in range(args.runs)]
                per_seed = statistics.median(r["per_seed_s"] for r in runs)
                rows.append([backend, subject, runs[0]["seeds"], f"{statistics.median(r['total_s'] for r in runs):.1f}",
                             f"{per_seed:.1f}", statistics.median(r["epochs_run"] for r in runs)])
                print(rows[-1], flush=True)
        print(f"\nTraining as the subject chapter does (an ensemble of seeds side by side, early stopping on the "
              f"validation trials, compilation included); medians of {args.runs} runs\n")
        print(markdown_table(["backend", "subject", "seeds", "ensemble (s)", "per seed (s)", "epochs run"], rows))
        print(f"\nmedian per seed over every subject and backend: "
              f"{statistics.median(float(r[4]) for r in rows):.1f} s")

if __name__ == "__main__":
    main()
