"""Do two NMM trainings side by side finish sooner than one after the other? The training
throughput of the machine with one process and with two at once, with TensorFlow's default
threads and with one thread per process.

Run:

    .venv/bin/python benchmarks/parallel_training.py [--subjects S01 S02] [--members 8] [--runs 3]

Each training is the protocol's (:func:`nmm_core.protocol.fit_nmm`, the full plan, XLA) with
``--members`` members, in its own process (``python -m nmm_core.benchmark fit``); its time for 20
epochs is the difference between a 22-epoch and a 2-epoch fit (tracing and compilation cancel:
:func:`nmm_core.benchmark.protocol_fit_time`). With two processes at once, the
second subject trains beside the first. The table prints the median over ``--runs`` of the
seconds per 20 epochs and of the cores each process used, and the throughput (trainings per
minute of the whole machine). The reproduction runs its chapters two at a time
(``nmm_core.reproduce --jobs``); this says what that buys the chapters that train.
Nothing is written.
"""

import argparse
import statistics

from nmm_core.benchmark import run_together
from nmm_core.plotting import markdown_table


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", nargs=2, default=["S01", "S02"], help="the first alone, both at once")
    parser.add_argument("--members", type=int, default=8, help="members per model (a selection's 8)")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    rows = []
    for threads in (0, 1):
        for at_once in (1, 2):
            each = [{"subject": s, "members": args.members} for s in args.subjects[:at_once]]
            runs = [run_together("fit", each, threads=threads) for _ in range(args.runs)]
            seconds = statistics.median(statistics.mean(r["seconds"] for r in run) for run in runs)
            cores = statistics.median(statistics.mean(r["cores"] for r in run) for run in runs)
            rows.append(["TensorFlow's default" if threads == 0 else "1 per process", at_once, seconds, cores,
                         60 * at_once / seconds])
            print(rows[-1], flush=True)
    print(f"\n{args.members}-member models (subjects {' and '.join(args.subjects)}), 20 epochs of the full plan with "
          f"XLA, medians of {args.runs} runs\n")
    print(markdown_table(["threads", "processes at once", "seconds per 20 epochs", "cores per process",
                          "trainings per minute"], rows))


if __name__ == "__main__":
    main()
