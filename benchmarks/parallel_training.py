"""Do two NMM trainings side by side finish sooner than one after the other? The training
throughput of the machine with one process and with two at once, with TensorFlow's default
threads and with one thread per process.

Run:

    .venv/bin/python benchmarks/parallel_training.py [--subjects S01 S02] [--members 8] [--runs 3] [--quick]

Each training is the protocol's (:func:`nmm_core.protocol.fit_nmm`; the full plan, with XLA, or
with ``--quick`` the quick cohort and plan, without) with
``--members`` members, in its own process (``python -m nmm_core.benchmark fit``): a 22-epoch
fit timed at each epoch's end, epochs 3 to 22 giving its time for 20 epochs (tracing and
compilation stay out: :func:`nmm_core.benchmark.protocol_fit_time`). With two processes at once, the second subject
trains beside the first.

Every run times the four configurations one after the other, in an order that turns by one
each run, so that the machine's drift (its speed changes by up to twofold within an hour) falls
on all of them alike. The table prints medians over ``--runs``:

- seconds per 20 epochs, the mean of the processes, and the cores each process used;
- the whole job's seconds, from the first process's start to the last one's end (start-up,
  compilation and both fits). Two processes at once rarely train in step (one compiles while
  the other trains), so their 20-epoch times alone can mislead: the whole job's time is what
  the reproduction, which runs its chapters two at a time (``nmm_core.reproduce --jobs``), sees;
- trainings per minute of the whole machine, from the whole job's time.

Nothing is written.
"""

import argparse
import statistics

from nmm_core.benchmark import run_together
from nmm_core.plotting import markdown_table

CONFIGURATIONS = [(threads, at_once) for threads in (0, 1) for at_once in (1, 2)]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", nargs=2, default=["S01", "S02"], help="the first alone, both at once")
    parser.add_argument("--members", type=int, default=8, help="members per model (a selection's 8)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="the quick cohort and plan (no XLA)")
    args = parser.parse_args()

    measured = {c: [] for c in CONFIGURATIONS}
    for run in range(args.runs):
        turn = run % len(CONFIGURATIONS)
        for threads, at_once in CONFIGURATIONS[turn:] + CONFIGURATIONS[:turn]:
            each = [{"subject": s, "members": args.members, "quick": args.quick} for s in args.subjects[:at_once]]
            results = run_together("fit", each, threads=threads)
            job = max(r["finished"] for r in results) - min(r["started"] for r in results)
            measured[threads, at_once].append((statistics.mean(r["seconds"] for r in results),
                                               statistics.mean(r["cores"] for r in results), job))
            print(f"run {run + 1}: threads {threads or 'default'}, {at_once} at once: "
                  f"{measured[threads, at_once][-1]}", flush=True)
    rows = []
    for (threads, at_once), values in measured.items():
        seconds, cores, job = (statistics.median(v[i] for v in values) for i in range(3))
        rows.append(["TensorFlow's default" if threads == 0 else "1 per process", at_once, seconds, cores, job,
                     60 * at_once / job])
    plan = "the quick cohort and plan, without XLA" if args.quick else "the full plan with XLA"
    print(f"\n{args.members}-member models (subjects {' and '.join(args.subjects)}), {plan}, "
          f"medians of {args.runs} runs\n")
    print(markdown_table(["threads", "processes at once", "seconds per 20 epochs", "cores per process",
                          "whole job (s)", "trainings per minute"], rows))


if __name__ == "__main__":
    main()
