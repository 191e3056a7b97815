"""The synergy baseline's fits with batched finite-difference Jacobians (the library's) against
SciPy's own sparse finite differences (one pass of the physics chain per group of columns, as
the baseline was first built), in one run: times, their ratio, and how far the fits differ.

Run (about a minute per subject on 2 cores):

    .venv/bin/python benchmarks/synx_speed.py [--subjects S01 S02] [--runs 3] [--quick]

Three fits per subject, each as its chapter makes it: the selection of the synergies over every
candidate (``protocol.select_synx``), a fit with residual excitations (the largest problem, a
few hundred parameters) and one with weights per trial. Medians of ``--runs`` runs; nothing
is written.
"""

import argparse
import contextlib
import statistics

from scipy.optimize._numdiff import approx_derivative

from nmm_core import protocol, synergy, training
from nmm_core.benchmark import repeat
from nmm_core.plotting import markdown_table


@contextlib.contextmanager
def scipy_differences():
    """Every SynX fit inside uses SciPy's ``approx_derivative`` with the problem's sparsity."""
    batched = synergy._SynXProblem.jacobian

    def jacobian(problem, x):
        return approx_derivative(problem.residuals, x, method="2-point", bounds=(problem.lower, problem.upper),
                                 sparsity=problem.sparsity())

    synergy._SynXProblem.jacobian = jacobian
    try:
        yield
    finally:
        synergy._SynXProblem.jacobian = batched


def fits(data):
    """The three fits: ``{name: (callable returning a cost to compare)}``."""
    fit, validation = data.arrays["fit"], data.arrays["validation"]
    chosen = protocol.select_synx(fit, validation, data.nominal)["synergies"]  # untimed: the synergies to use
    return {
        "selection (8 candidates + final fit)":
            lambda: protocol.select_synx(fit, validation, data.nominal)["final"].cost,
        "residual excitations (weight 10)":
            lambda: synergy.fit_extrapolation(fit, chosen, data.nominal, residual_weight=10.0).cost,
        "weights per trial":
            lambda: next(iter(synergy.fit_extrapolation(fit, chosen, data.nominal,
                                                        categories=[a.trial.name for a in fit]).values())).cost,
    }


def timed(function, runs):
    """Median wall time of ``runs`` calls (:func:`nmm_core.benchmark.repeat`) and the last value."""
    values = []
    times = repeat(lambda: values.append(function()), runs, warmup=0)
    return statistics.median(times), values[-1]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", nargs="+", default=["S01"])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="the quick cohort")
    args = parser.parse_args()

    rows = []
    for subject in args.subjects:
        for name, function in fits(training.subject_data(subject, args.quick)).items():
            with scipy_differences():
                before, cost_before = timed(function, args.runs)
            after, cost_after = timed(function, args.runs)
            rows.append([subject, name, f"{before:.2f}", f"{after:.2f}", f"{before / after:.1f}",
                         f"{abs(cost_after - cost_before) / cost_before:.1e}"])
            print(rows[-1], flush=True)
    print(markdown_table(["subject", "fit", "SciPy's differences (s)", "batched (s)", "speed-up",
                          "relative cost difference"], rows))


if __name__ == "__main__":
    main()
