"""Are the protocol and the defaults tuned to the five default subjects? Runs the subject
chapters' pipeline (the selection protocol, the NMM's seed ensemble, the synergy baseline and
the NMM with a synergy prior; the same functions the chapters call) on a virtual cohort
generated with another seed, or with another motor control (``--motor-control thresholds``:
the same subjects and trials with recruitment thresholds and co-contraction), and prints each
method's held-out median per-trial r (with the seed spread) and torque NRMSE per subject, their
means, and the paired statistics of the comparison chapter (subjects as the unit) for the NMM
and for the NMM with a synergy prior against the synergy baseline.

Run (the cohort is generated first if absent, a few minutes; then about 7 minutes per subject
on 2 cores in full mode):

    .venv/bin/python benchmarks/other_cohort.py --cohort-seed 7 [--quick] [--subjects S01 S02]
    .venv/bin/python benchmarks/other_cohort.py --cohort-seed 7 --motor-control thresholds \\
        --pool book=results/thresholds

Each subject's results files are written as a subject chapter writes them, under ``--out``
(default ``results/other_cohorts/<motor control>-seed<seed>[-quick]``), stamped with the
cohort, the seed and a digest of the library code they came from: a rerun skips the subjects already
done by the same code (an interrupted run resumes), and an edit of the library reruns them.
``--pool LABEL=FOLDER`` adds the subjects of other results folders of the same mode (e.g. the
book's run of the same motor control, ``results/thresholds``, or another run of this script)
to one more set of paired statistics: subjects of cohorts drawn with different seeds are
different bodies, so ten subjects give an exact test that can reach p = 0.002.
"""

import argparse
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from tqdm.auto import tqdm

from nmm_core import protocol, results, stats, training
from nmm_core.cohort import cohort_path
from nmm_core.config import DEEP_MUSCLES
from nmm_core.paths import results_dir
from nmm_core.plotting import markdown_table
from nmm_core.reproduce import code_digest

LABELS = {"mse": "MSE", "nmm": "NMM", "nmm_synergy": "NMM + synergy prior"}


def run_subject(folder: Path, subject: str, args, stamp: dict) -> None:
    """Every method's protocol on one subject, written to ``folder`` as the chapters write it."""
    data = training.subject_data(subject, args.quick, cohort_seed=args.cohort_seed, motor_control=args.motor_control)
    bar = tqdm(total=len(LABELS), desc=subject, leave=False)

    def progress(method):
        bar.set_postfix_str(method)
        bar.update(0 if method == "mse" else 1)

    runs = protocol.run_methods(data, protocol.plan(args.quick), args.seed, progress=progress)
    bar.update(1)
    bar.close()
    for method, run in runs.items():
        run.extra["provenance"] = stamp
        curves = training.prediction_curves(run.held, run.predictions, data.delay)
        results.write_run(folder, subject, method, run, curves, args.quick)


def score_rows(subjects: dict) -> list:
    """One row per subject and method: training seconds per seed, median per-trial r (with
    the seed sd where the method has seeds) per deep muscle and torque NRMSE (%), then the means."""
    rows = []
    for subject, methods in subjects.items():
        for method, label in LABELS.items():
            e = methods[method]
            row = [subject, label, e["train_seconds"] / e["seeds"]]
            for m in DEEP_MUSCLES:
                row += [e["median_trial"][m]["r"], e["seed_sd"][m] if e["seeds"] > 1 else None]
            rows.append(row + [100 * e["torque"]["nrmse"]])
    for label in LABELS.values():
        mine = [r for r in rows if r[1] == label]
        rows.append(["mean", label] + [results.mean_defined([r[i] for r in mine]) for i in range(2, len(rows[0]))])
    return rows


def claim_lines(subjects: dict) -> list[str]:
    """The comparison chapter's claim sentences for each NMM against the synergy baseline."""
    lines = []
    for method in ("nmm", "nmm_synergy"):
        blocks = results.claims(subjects, method, "mse")
        lines.append("The paper's claim, the NMM against the baseline:" if method == "nmm" else
                     "Beyond the paper, the NMM with a synergy prior against the baseline:")
        lines += [f"- {stats.claim_sentence(m, blocks[m], LABELS[method], LABELS['mse'], the_claim=method == 'nmm')}"
                  for m in DEEP_MUSCLES]
    return lines


def pool_argument(text: str) -> tuple[str, Path]:
    label, sep, folder = text.partition("=")
    if not sep or not label or not folder:
        raise argparse.ArgumentTypeError(f"--pool takes LABEL=FOLDER (e.g. book=results/thresholds), got {text!r}")
    return label, Path(folder)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cohort-seed", type=int, default=7)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--subjects", nargs="+", help="default: every subject of that cohort")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--motor-control", default="min_effort", help="a cohort variant (nmm_core.cohort.MOTOR_CONTROLS)")
    parser.add_argument("--out", type=Path, help="results folder (default results/other_cohorts/<variant>-seed<seed>)")
    parser.add_argument("--pool", type=pool_argument, nargs="+", default=[], metavar="LABEL=FOLDER",
                        help="results folders of other cohorts (same mode) to pool with this one's subjects")
    args = parser.parse_args()
    label = f"{args.motor_control}-seed{args.cohort_seed}{'-quick' if args.quick else ''}"
    out = args.out or results_dir() / "other_cohorts" / label
    subjects = args.subjects or training.cohort_subjects(args.cohort_seed)
    stamp = {"cohort": cohort_path(args.quick, args.cohort_seed, args.motor_control).name, "seed": args.seed,
             "code": code_digest(Path(__file__).read_text())}
    for subject in tqdm(subjects, desc=f"{label}: subjects"):
        if results.run_complete(out / subject, {"quick": args.quick, "provenance": stamp}):
            tqdm.write(f"{subject}: done by this code before ({out / subject}); skipped")
            continue
        run_subject(out / subject, subject, args, stamp)
    mine, missing = results.load_results(out, args.quick, only=subjects)
    if missing:
        raise RuntimeError(f"{out} lacks results files after the run: {', '.join(missing)}")

    header = ["subject", "method", "training s per seed"]
    header += [f"{m} {q}" for m in DEEP_MUSCLES for q in ("median per-trial r", "seed sd")] + ["torque NRMSE (%)"]
    print(f"\ncohort seed {args.cohort_seed}, motor control {args.motor_control} ({'quick' if args.quick else 'full'}), "
          f"held-out trials; results in {out}\n")
    print(markdown_table(header, score_rows(mine)))
    print(f"\nPaired statistics, {len(mine)} subjects of this cohort:\n")
    print("\n".join(claim_lines(mine)))
    if args.pool:
        cohorts = {label: mine}
        folders = [out.resolve()] + [folder.resolve() for _, folder in args.pool]
        if len(set(folders)) < len(folders):
            raise SystemExit("--pool names a results folder twice (or this run's own): its subjects would count twice.")
        for name, folder in args.pool:
            if name in cohorts:  # a second cohort under one label would replace the first
                raise SystemExit(f"--pool label {name!r} is used twice (this run's own is {label!r}); give each its own.")
            theirs, absent = results.load_results(folder, args.quick)
            if absent or not theirs:
                raise SystemExit(f"--pool {name}={folder}: no complete {'quick' if args.quick else 'full'} results "
                                 f"there (missing: {', '.join(absent) or 'every subject'}); run its chapters or "
                                 "this script for that cohort first.")
            cohorts[name] = theirs
        both = results.pooled(cohorts)
        print(f"\nPaired statistics, pooled over {len(both)} subjects ({', '.join(cohorts)}):\n")
        print("\n".join(claim_lines(both)))


if __name__ == "__main__":
    main()
