"""What successive halving could save in the NMM's selection, from measured costs.

The selection trains its 8 candidates side by side, as one model of 8 members, for up to the
plan's epochs (:func:`nmm_core.protocol.select_nmm`). Successive halving would train all 8 for a
third of the epochs, keep the better half on validation, train those 4 for the next third, then
the best 2 for the last. Members side by side share one model, so dropping some means a new,
smaller model (the weights and optimiser state carried over), with its own tracing and XLA
compilation. Whether that pays depends on two costs, which this script measures:

- the seconds per epoch of a model of 8, 4 and 2 members (do fewer members cost
  proportionally less?);
- what a model costs before its first epoch (tracing, compilation), which each rung pays again.

Each is :func:`nmm_core.benchmark.protocol_fit_time` (the full plan, with XLA; one 22-epoch fit
in a fresh process, timed at each epoch's end: epochs 3 to 22 give the time per epoch), with one TensorFlow
thread as a chapter of the reproduction has (``--threads 0``: TensorFlow's default). The member
counts take turns, in an order that moves by one each run; medians over ``--runs``.

Then the arithmetic, for ``E`` epochs (the plan's maximum; early stopping can end either
schedule sooner): the whole grid costs ``overhead(8) + E e(8)``; the halving ladder
``overhead(8) + overhead(4) + overhead(2) + E/3 (e(8) + e(4) + e(2))``. Nothing is trained for
the book, nothing is written, and no candidate is chosen here: whether a halving ladder picks
what the whole grid picks is a question for the validation trials, only worth asking if the
saving is worth having.

Run:

    .venv/bin/python benchmarks/successive_halving.py [--subject S01] [--runs 3] [--threads 1]
"""

import argparse
import statistics

from nmm_core import protocol
from nmm_core.benchmark import run_isolated
from nmm_core.plotting import markdown_table

MEMBERS = (8, 4, 2)


def ladder_seconds(epoch_s: dict, overhead_s: dict, epochs: int) -> tuple[float, float, float]:
    """Seconds of the whole grid, of the halving ladder (:data:`MEMBERS`, a third of ``epochs``
    each) and of that ladder were its smaller models free (only the first model's overhead),
    from the seconds per epoch and the overhead of each member count."""
    grid = overhead_s[MEMBERS[0]] + epochs * epoch_s[MEMBERS[0]]
    rungs = sum(epochs / len(MEMBERS) * epoch_s[m] for m in MEMBERS)
    return grid, rungs + sum(overhead_s[m] for m in MEMBERS), rungs + overhead_s[MEMBERS[0]]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subject", default="S01")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1, help="TensorFlow threads (0: its default)")
    args = parser.parse_args()

    measured = {m: [] for m in MEMBERS}
    for run in range(args.runs):
        order = MEMBERS[run % len(MEMBERS):] + MEMBERS[:run % len(MEMBERS)]
        for members in order:
            result = run_isolated("fit", threads=args.threads, subject=args.subject, members=members)
            measured[members].append((result["seconds"] / result["epochs"], result["overhead_s"]))
            print(f"run {run + 1}, {members} members: {measured[members][-1][0]:.3f} s per epoch, "
                  f"{measured[members][-1][1]:.1f} s before the first", flush=True)
    epoch_s = {m: statistics.median(v[0] for v in measured[m]) for m in MEMBERS}
    overhead_s = {m: statistics.median(v[1] for v in measured[m]) for m in MEMBERS}
    print(f"\n{args.subject}, full plan (XLA), {args.threads or 'default'} TensorFlow thread(s); "
          f"medians of {args.runs} runs\n")
    print(markdown_table(["members", "s per epoch", "per member", "s before the first epoch"],
                         [[m, epoch_s[m], epoch_s[m] / m, overhead_s[m]] for m in MEMBERS]))
    epochs = protocol.FULL.max_epochs
    grid, ladder, free = ladder_seconds(epoch_s, overhead_s, epochs)
    print(f"\nselection of {MEMBERS[0]} candidates over {epochs} epochs: the whole grid {grid:.0f} s, "
          f"the halving ladder {ladder:.0f} s ({grid / ladder:.2f}x less); "
          f"with smaller models at no cost of their own, {free:.0f} s ({grid / free:.2f}x)")


if __name__ == "__main__":
    main()
