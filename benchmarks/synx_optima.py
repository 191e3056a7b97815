"""Does the synergy baseline's estimate depend on where its fit starts? Restarts of its final fit.

The baseline's final fit (``protocol.select_synx``: the chosen synergies, then deep weights,
strengths and delay calibrated on torque by bounded least squares) is one deterministic fit from
one starting point. Its cost may have several minima that fit torque about equally well and
share the load differently between the deep muscle and its synergists, as the NMM's seeds do.
For each subject this refits the protocol's chosen candidate from its default start and
``--starts`` random starting points (``protocol.select_synx(..., restarts=...)``, which draws
them by ``synergy.fit_extrapolation(..., start=rng)``; the protocol itself draws as many as the
NMM has seeds, less one) and prints each fit's training cost, its
validation torque RMSE (the protocol's own, truth-blind score) and, as a diagnosis that reads
the truth, its held-out median per-trial r of each deep muscle.

Run (the cohorts are generated first if absent; about a minute per subject on 2 cores):

    .venv/bin/python benchmarks/synx_optima.py [--subjects S01 S05] [--motor-controls min_effort thresholds]
        [--starts 5] [--quick]

Nothing is written, and nothing here chooses anything for the book.
"""

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from tqdm.auto import tqdm

from nmm_core import protocol, training
from nmm_core.config import DEEP_MUSCLES, MOTOR_CONTROLS
from nmm_core.plotting import markdown_table


def restarts(data, starts: int, seed: int = 0) -> tuple[tuple, list[dict]]:
    """The protocol's choice of synergies and its refits, ``starts`` beyond the default start
    (``protocol.select_synx(..., restarts=starts + 1)``: generators seeded ``seed + 1``, ...),
    each with its training cost, validation torque RMSE, delay and held-out median per-trial r."""
    chosen = protocol.select_synx(data.arrays["fit"], data.arrays["validation"], data.nominal, seed,
                                  restarts=starts + 1)
    scores = protocol.restart_members(chosen, data.held_out, data.nominal, data.delay)["restart_scores"]
    rows = [{"start": r["start"] + (" (lowest cost)" if j == chosen["final_start"] else ""),
             "cost": r["training_cost"], "validation_rmse": r["validation_rmse"], "delay_ms": 1e3 * r["delay_s"],
             **{m: scores[m]["median_trial_r"][j] for m in DEEP_MUSCLES}} for j, r in enumerate(chosen["restarts"])]
    return chosen["best"], rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", nargs="+", default=None, help="default: every subject of the cohort")
    parser.add_argument("--motor-controls", nargs="+", default=list(MOTOR_CONTROLS), choices=MOTOR_CONTROLS)
    parser.add_argument("--starts", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="the quick cohorts")
    args = parser.parse_args()

    subjects = args.subjects or training.cohort_subjects()
    table, spans = [], {m: [] for m in DEEP_MUSCLES}
    jobs = [(control, subject) for control in args.motor_controls for subject in subjects]
    for control, subject in tqdm(jobs, desc="subjects"):
        data = training.subject_data(subject, args.quick, motor_control=control)
        (method, k), rows = restarts(data, args.starts)
        best_cost = min(r["cost"] for r in rows)
        near = [r for r in rows if r["cost"] <= 1.01 * best_cost]  # fits within 1 % of the lowest cost
        for row in rows:
            table.append([control, subject, f"{method} {k}", row["start"], row["cost"], row["validation_rmse"],
                          row["delay_ms"]] + [row[m] for m in DEEP_MUSCLES])
        for m in DEEP_MUSCLES:
            values = [r[m] for r in near if r[m] is not None]
            spans[m].append((control, subject, len(near), max(values) - min(values) if values else None))
    print(markdown_table(["motor control", "subject", "synergies", "fit", "training cost",
                          "validation torque RMSE (N m)", "delay (ms)"]
                         + [f"{m} median per-trial r (truth: diagnosis)" for m in DEEP_MUSCLES], table))
    print("\nRange of r over the fits whose training cost is within 1 % of the lowest (fits that torque "
          "cannot tell apart):\n")
    print(markdown_table(["motor control", "subject", "fits within 1 %"] + [f"{m} range of r" for m in DEEP_MUSCLES],
                         [[c, s, n] + [spans[m][i][3] for m in DEEP_MUSCLES]
                          for i, (c, s, n, _) in enumerate(spans[DEEP_MUSCLES[0]])]))


if __name__ == "__main__":
    main()
