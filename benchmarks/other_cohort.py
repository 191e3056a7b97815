"""Are the protocol and the defaults tuned to the five default subjects? Runs the subject
chapters' pipeline (the selection protocol, the NMM's seed ensemble, the synergy baseline and
the NMM with a synergy prior; the same functions the chapters call) on a virtual cohort
generated with another seed, or with another motor control (``--motor-control thresholds``:
the same subjects and trials with recruitment thresholds and co-contraction), and prints each
method's held-out median per-trial r (with the seed spread) and torque NRMSE per subject, and
their means.

Run (the cohort is generated first if absent, a few minutes; then about 7 minutes per subject
on 2 cores in full mode):

    .venv/bin/python benchmarks/other_cohort.py --cohort-seed 7 [--quick] [--subjects S01 S02]
    .venv/bin/python benchmarks/other_cohort.py --cohort-seed 2025 --motor-control thresholds

Nothing is written but the generated cohort (in the data folder).
"""

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from nmm_core import protocol, training
from nmm_core.training import cohort_subjects
from nmm_core.config import DEEP_MUSCLES
from nmm_core.plotting import markdown_table
from nmm_core.results import mean_defined

LABELS = {"mse": "MSE", "nmm": "NMM", "nmm_synergy": "NMM + synergy prior"}


def scores_of(run) -> list:
    """Median per-trial r per deep muscle (with the members' sd, for an ensemble) and torque
    NRMSE (%) of one method's :class:`nmm_core.protocol.MethodRun`."""
    row = []
    for m in DEEP_MUSCLES:
        row.append(run.scores["median_trial"][m]["r"])
        if "seed_sd" in run.extra:
            row.append(run.extra["seed_sd"][m])
    return row + [100 * run.scores["torque"]["nrmse"]]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cohort-seed", type=int, default=7)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--subjects", nargs="+", help="default: every subject of that cohort")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--motor-control", default="min_effort", help="a cohort variant (nmm_core.cohort.MOTOR_CONTROLS)")
    args = parser.parse_args()
    plan = protocol.plan(args.quick)
    rows = []
    for subject in args.subjects or cohort_subjects(args.cohort_seed):
        data = training.subject_data(subject, args.quick, cohort_seed=args.cohort_seed, motor_control=args.motor_control)
        runs = protocol.run_methods(data, plan, args.seed)
        for method, label in LABELS.items():
            seconds = runs[method].extra.get("seconds_per_seed")
            rows.append([subject, label, seconds] + scores_of(runs[method]))
        for row in rows[-3:]:
            print(row, flush=True)
    header = ["subject", "method", "training s per seed", "BRA median per-trial r", "BRA seed sd",
              "TRImed median per-trial r", "TRImed seed sd", "torque NRMSE (%)"]
    table = []
    for row in rows:  # the MSE has no seed spread: put blanks where the NMM's sd goes
        if row[1] == "MSE":
            row = row[:4] + [None, row[4], None, row[5]]
        table.append(row)
    for method in LABELS.values():
        mine = [r for r in table if r[1] == method]
        table.append(["mean", method] + [mean_defined([r[i] for r in mine]) for i in range(2, len(header))])
    print(f"\ncohort seed {args.cohort_seed}, motor control {args.motor_control} ({'quick' if args.quick else 'full'}), "
          "held-out trials\n")
    print(markdown_table(header, table))


if __name__ == "__main__":
    main()
