"""The NMM's fixed training settings (``protocol.FULL``) against an alternative, judged as the
protocol judges a setting: by the validation torque RMSE of the selection (the best of the
candidates, :func:`nmm_core.protocol.select_nmm`), per subject; and what each costs.

Run (full cohort; each subject's two selections run one after the other in one process):

    .venv/bin/python benchmarks/protocol_alternatives.py --depth 1
    .venv/bin/python benchmarks/protocol_alternatives.py --max-epochs 40 --stride 16 --batch-size 64
    .venv/bin/python benchmarks/protocol_alternatives.py --depth 1 --subjects S01 S02
    .venv/bin/python benchmarks/protocol_alternatives.py --learning-rate 0.006 --max-epochs 30 --patience 8

Nothing here reads the deep muscles' truth, and nothing is written. A setting that fits the
validation trials worse is not adopted for time, whatever it would do on the held-out trials.
The rule, fixed before the runs it judges: an alternative may replace the fixed settings only if
its best validation RMSE is at most theirs on a majority of the subjects *and* its mean over the
subjects is at most theirs (the last line printed says whether it passes).
"""

import argparse
import dataclasses
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from nmm_core import protocol, training  # noqa: E402
from nmm_core.training import cohort_subjects  # noqa: E402
from nmm_core.plotting import markdown_table  # noqa: E402

FIXED = ("max_epochs", "patience", "window", "batch_size", "stride", "width", "depth", "learning_rate")


def selection(data, plan) -> tuple[float, float]:
    """The best validation RMSE (N m) of the NMM's candidates under ``plan``, and the seconds
    the selection took (compilation included)."""
    start = time.perf_counter()
    found = protocol.select_nmm(data.learner, data.arrays["fit"], data.arrays["validation"], plan)
    return min(row["validation_rmse"] for row in found["rows"]), time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name in FIXED:
        parser.add_argument(f"--{name.replace('_', '-')}", type=type(getattr(protocol.FULL, name)),
                            help=f"default {getattr(protocol.FULL, name)}")
    parser.add_argument("--subjects", nargs="+", help="default: every subject of the cohort")
    args = parser.parse_args()
    args.subjects = args.subjects or cohort_subjects()
    changes = {name: getattr(args, name) for name in FIXED if getattr(args, name) is not None}
    if not changes:
        parser.error(f"give at least one alternative setting: {', '.join('--' + n.replace('_', '-') for n in FIXED)}")
    alternative = dataclasses.replace(protocol.FULL, **changes)
    # One small model first, so that neither timed selection pays the process's first tracing.
    warm = training.subject_data(args.subjects[0])
    protocol.fit_nmm(warm.learner, warm.arrays["fit"][:1], warm.arrays["validation"][:1], [{}],
                     dataclasses.replace(protocol.QUICK, max_epochs=1))
    rows, worse = [], 0
    for subject in args.subjects:
        data = training.subject_data(subject)
        (fixed_rmse, fixed_s), (other_rmse, other_s) = selection(data, protocol.FULL), selection(data, alternative)
        worse += other_rmse > fixed_rmse
        rows.append([subject, fixed_rmse, other_rmse, other_rmse - fixed_rmse, fixed_s, other_s, other_s / fixed_s])
        print(rows[-1], flush=True)
    label = ", ".join(f"{k} {v}" for k, v in changes.items())
    print(f"\nThe NMM's selection (8 candidates, seed 0) under the fixed settings and with {label}; "
          f"best validation torque RMSE of the candidates\n")
    print(markdown_table(["subject", "RMSE fixed (N m)", "RMSE alternative (N m)", "difference", "fixed (s)",
                          "alternative (s)", "time ratio"], rows))
    print(f"\nthe alternative fits the validation trials worse on {worse} of {len(rows)} subjects; "
          f"median time ratio {statistics.median(r[-1] for r in rows):.2f}")
    fixed_mean, other_mean = statistics.mean(r[1] for r in rows), statistics.mean(r[2] for r in rows)
    passes = 2 * worse < len(rows) and other_mean <= fixed_mean
    print(f"mean validation RMSE {fixed_mean:.4f} (fixed) against {other_mean:.4f} (alternative): the alternative "
          f"{'passes' if passes else 'does not pass'} the rule (no worse on a majority of subjects and in the mean)")


if __name__ == "__main__":
    main()
