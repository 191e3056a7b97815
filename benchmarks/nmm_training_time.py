"""Print NMM training time and throughput for one subject (medians of several runs).

Run, for each Keras backend (JAX needs `pip install jax==0.10.2`):

    KERAS_BACKEND=tensorflow .venv/bin/python benchmarks/nmm_training_time.py --quick
    KERAS_BACKEND=jax        .venv/bin/python benchmarks/nmm_training_time.py --quick

The cohort is taken from the data cache (generated if absent). Nothing is written.
"""

import argparse
import json
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subject", default="S01")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--epochs", type=int, default=None, help="default: 20 quick, 60 full (the notebook's)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--backbone", default="transformer")
    parser.add_argument("--window", type=int, default=64)
    args = parser.parse_args()

    import keras

    from nmm_core import cohort, training

    epochs = args.epochs or (20 if args.quick else 60)
    directory = cohort.cohort_dir(quick=args.quick)
    record = json.loads((directory / args.subject / "subject.json").read_text())
    trials = training.split(cohort.load_cohort(directory)[args.subject])["train"]
    learner = training.learner_subject(record)
    arrays = training.prepare(trials, learner)
    n_windows = training.windows(arrays, args.window, 8)[1].shape[0]
    times = []
    for run in range(args.runs):
        model = training.build_model(learner, args.window, backbone=args.backbone, seed=run)
        start = time.perf_counter()
        _, seconds = training.train(model, arrays, args.window, epochs, seed=run)
        times.append(seconds)
        print(f"run {run + 1}: {seconds:.1f} s (with compilation: {time.perf_counter() - start:.1f} s)")
    median = statistics.median(times)
    print(f"backend={keras.backend.backend()} backbone={args.backbone} mode={'quick' if args.quick else 'full'} "
          f"subject={args.subject} epochs={epochs} windows/epoch={n_windows}: median training time "
          f"{median:.1f} s over {args.runs} runs, {n_windows * epochs / median:.0f} windows/s")


if __name__ == "__main__":
    main()
