"""Accuracy per unit of compute: held-out deep-EMG correlation and torque NRMSE against training
time, NMM (scored after 5, 10, 20, 40, 60 epochs of one training run) and MSE (its final fit
with 5 to 100 cost evaluations), on the same subjects.

Run:

    .venv/bin/python benchmarks/accuracy_per_compute.py [--subjects S01 S02] [--quick]
    KERAS_BACKEND=jax .venv/bin/python benchmarks/accuracy_per_compute.py

Nothing is written.
"""

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", nargs="+", help="default: every subject of the cohort")
    parser.add_argument("--quick", action="store_true", help="the quick cohort")
    args = parser.parse_args()

    import keras

    from nmm_core.benchmark import accuracy_per_compute
    from nmm_core.training import cohort_subjects, subject_data
    from nmm_core.plotting import markdown_table

    rows = []
    for subject in args.subjects or cohort_subjects():
        for row in accuracy_per_compute(subject_data(subject, args.quick)):
            rows.append([subject, row["method"], row["setting"], row["train_seconds"], row["BRA_r"],
                         row["TRImed_r"], row["torque_nrmse_pct"]])
            print(rows[-1], flush=True)
    print(f"\nKeras backend {keras.backend.backend()}; {'quick' if args.quick else 'full'} cohort; held-out trials\n")
    print(markdown_table(["subject", "method", "budget", "training time (s)", "BRA r", "TRImed r",
                          "torque NRMSE (%)"], rows))


if __name__ == "__main__":
    main()
