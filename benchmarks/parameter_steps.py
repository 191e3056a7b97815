"""Is the NMM's parameter identification limited by its optimiser, or by what torque can tell?

With Adam a weight moves by about the learning rate per step whatever its gradient, so a few
hundred steps bound how far the 34 subject parameters (sigmoid logits) can travel from their
nominal start. This script trains, per subject, one NMM whose members differ only in the step
size of the subject parameters against the network's (``parameter_rate`` of
:class:`nmm_core.network.MemberAdam`), all from the same network weights, on the fitting trials of the protocol, with the full training plan
(:data:`nmm_core.protocol.FULL`, one member per rate), and prints per rate:

- the validation torque RMSE (the protocol's score: what a validation search over the rate would
  see) and the best epoch;
- how far the parameters travelled from their start (mean over the trainable entries of
  |identified - nominal| / bound width), per family: neural (shape factor, time constants,
  delay), strengths, fibre and tendon lengths;
- a diagnosis that reads the truth (the cohort's parameters) and chooses nothing: the same mean
  distance from the true values.

If larger steps let the parameters travel but neither lower the validation error much nor bring
them nearer the truth, torque is what limits identification, not the step budget.

Run:

    .venv/bin/python benchmarks/parameter_steps.py [--subjects S01 S02] [--rates 1 3 10 30] [--cohort-seed 7]

Takes about a minute per subject (full cohort, two cores). Nothing is written.
"""

import argparse
import os
import statistics

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np

from nmm_core import protocol, training
from nmm_core.network import PARAMETER_BOUNDS
from nmm_core.plotting import markdown_table

FAMILIES = {
    "neural": ("shape_factor", "activation_time_constant", "deactivation_time_constant", "electromechanical_delay"),
    "strengths": ("max_isometric_force_scale",),
    "lengths": ("optimal_fiber_length_scale", "tendon_slack_length_scale"),
}


def distances(found: dict, reference: dict, moved: dict) -> dict:
    """Mean |found - reference| / bound width per family, over the entries that ``moved`` marks
    trainable."""
    out = {}
    for family, names in FAMILIES.items():
        values = [abs(found[n][key] - reference[n][key]) / (PARAMETER_BOUNDS[n][1] - PARAMETER_BOUNDS[n][0])
                  for n in names for key in found[n] if moved[n][key]]
        out[family] = float(np.mean(values)) if values else float("nan")
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", nargs="+", help="default: every subject of the cohort")
    parser.add_argument("--cohort-seed", type=int, help="a cohort generated with this seed (default: the book's)")
    parser.add_argument("--rates", nargs="+", type=float, default=[1.0, 3.0, 10.0, 30.0])
    parser.add_argument("--quick", action="store_true", help="the quick cohort and training plan")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    plan = protocol.plan(args.quick)
    args.subjects = args.subjects or training.cohort_subjects(args.cohort_seed)
    settings = [{"parameter_rate": r} for r in args.rates]  # the training defaults' loss weights
    nominal = {n: b[2] for n, b in PARAMETER_BOUNDS.items()}
    rows, picked = [], []
    for subject in args.subjects:
        data = training.subject_data(subject, args.quick, cohort_seed=args.cohort_seed)
        model, history, seconds = protocol.fit_nmm(data.learner, data.arrays["fit"], data.arrays["validation"],
                                                   settings, plan, args.seed, same_start=True)
        found = [model.physics.identified_parameters(k) for k in range(len(args.rates))]
        start = {n: {key: nominal[n] for key in found[0][n]} for n in found[0]}
        truth = training.true_parameters(data.record)
        # an entry is trainable where some member moved it (frozen and deep-tied slots do not move)
        moved = {n: {key: any(abs(f[n][key] - start[n][key]) > 1e-6 for f in found) for key in found[0][n]}
                 for n in found[0]}
        errors = history["best_validation_rmse"]
        picked.append(args.rates[int(np.argmin(errors))])
        for k, rate in enumerate(args.rates):
            travelled = distances(found[k], start, moved)
            off = distances(found[k], truth, moved)
            rows.append([subject, f"{rate:g}", f"{errors[k]:.3f}", history["best_epoch"][k],
                         *(f"{travelled[f]:.3f}" for f in FAMILIES), *(f"{off[f]:.3f}" for f in FAMILIES)])
        print(f"{subject}: {seconds:.0f} s; validation picks rate {picked[-1]:g}", flush=True)
    cohort = f"seed {args.cohort_seed}" if args.cohort_seed is not None else "the book's"
    print(f"\n{'quick' if args.quick else 'full'} cohort ({cohort}); one member per rate, same start (seed {args.seed}); "
          f"training defaults' loss weights; at most {plan.max_epochs} epochs, each member at its best "
          "validation epoch. Distances: mean |value - reference| / bound width over the trainable entries.\n")
    print(markdown_table(["subject", "parameter rate", "validation torque RMSE (N m)", "best epoch",
                          *(f"travelled: {f}" for f in FAMILIES),
                          *(f"diagnosis, from truth: {f}" for f in FAMILIES)], rows))
    print(f"\nValidation picks: {', '.join(f'{s} {r:g}' for s, r in zip(args.subjects, picked))}; "
          f"median {statistics.median(picked):g}.")


if __name__ == "__main__":
    main()
