"""Do two NMM trainings side by side finish sooner than one after the other? The training
throughput of the machine with one process and with two at once, with TensorFlow's default
threads and with one thread per process.

Run:

    .venv/bin/python benchmarks/parallel_training.py [--subjects S01 S02] [--members 8] [--runs 3]

Each training is the protocol's (:func:`nmm_core.protocol.fit_nmm`, the full plan, XLA) with
``--members`` members, in its own process; its time for 20 epochs is the difference between a
22-epoch and a 2-epoch fit (tracing and compilation cancel). With two processes at once, the
second subject trains beside the first. The table prints the median over ``--runs`` of the
seconds per 20 epochs and of the cores each process used, and the throughput (trainings per
minute of the whole machine). The reproduction runs its chapters two at a time
(``nmm_core.reproduce --jobs``); this says what that buys the chapters that train.
Nothing is written.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

WORKER = """
import dataclasses, json, sys, time
sys.path.insert(0, {root!r})
from nmm_core import protocol
from nmm_core.training import subject_data
data = subject_data(sys.argv[1], False)
fit, validation = data.arrays["fit"], data.arrays["validation"]
out = {{}}
for epochs in (2, 22):
    plan = dataclasses.replace(protocol.FULL, max_epochs=epochs, patience=epochs + 1)
    cpu = time.process_time()
    _, _, seconds = protocol.fit_nmm(data.learner, fit, validation, [protocol.NMM_CANDIDATES[0]] * int(sys.argv[2]),
                                     plan, 0)
    out[epochs] = (seconds, time.process_time() - cpu)
wall = out[22][0] - out[2][0]
print(json.dumps({{"seconds": wall, "cores": (out[22][1] - out[2][1]) / wall}}))
"""


def trainings(subjects, members: int, threads: int) -> list[dict]:
    """Train one model per subject, all at once, each in its own process."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "KERAS_BACKEND": "tensorflow"}
    if threads:  # TensorFlow's own variables (0, unset: its default pools)
        env.update(TF_NUM_INTRAOP_THREADS=str(threads), TF_NUM_INTEROP_THREADS=str(threads))
    code = WORKER.format(root=str(ROOT))
    processes = [subprocess.Popen([sys.executable, "-c", code, s, str(members)], env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for s in subjects]
    results = []
    for p in processes:
        stdout, stderr = p.communicate()
        if p.returncode:
            raise RuntimeError(f"a training process failed:\n{stderr[-2000:]}")
        results.append(json.loads(stdout.strip().splitlines()[-1]))
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", nargs=2, default=["S01", "S02"], help="the first alone, both at once")
    parser.add_argument("--members", type=int, default=8, help="members per model (a selection's 8)")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    from nmm_core.plotting import markdown_table

    rows = []
    for threads in (0, 1):
        for at_once in (1, 2):
            runs = [trainings(args.subjects[:at_once], args.members, threads) for _ in range(args.runs)]
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
