"""The backbone's attention in two layouts: einsums over (members, windows, time, heads, dim), as
it was written first, against one transpose to (members, windows, heads, time, dim) and plain
batched matrix products, as ``nmm_core.network.Backbone`` computes it now.

Run (about 5 minutes per backend on 2 cores per 3 reps):

    .venv/bin/python benchmarks/attention_layout.py [--subject S01] [--reps 6]

For each Keras backend, in a process of its own: the largest difference between the two layouts'
weights after two epochs of training from one seed (0 means the same numbers, bit for bit), then,
the layouts taking turns in one process (medians; each ratio is einsum time over matmul time):

- a training epoch of the full plan's seed ensemble as ``training.build_model`` compiles it by
  default (on TensorFlow without XLA; JAX always compiles);
- an XLA-compiled epoch of a selection's 8 members, as the reproduction's chapters train
  (:func:`nmm_core.benchmark.protocol_fit_time`); ``TF_NUM_INTRAOP_THREADS=1
  TF_NUM_INTEROP_THREADS=1`` gives it a chapter's one thread. This one is noisy on a shared
  machine: single pairs have ranged from 0.72 to 1.44, so compare medians of many reps;
- the batch real-time factor of the ensemble's inference (deep excitations and torque).

Nothing is written.
"""

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time


def einsum_attention(self, x, block):
    """The first layout (kept here only to be compared)."""
    from keras import ops

    K, T, h = self.members, self.window, self.heads
    qkv = ops.reshape(block["qkv"](x), (K, -1, T, 3, h, self.width // h))
    q, k, v = qkv[:, :, :, 0], qkv[:, :, :, 1], qkv[:, :, :, 2]
    scores = ops.einsum("kbqhd,kbshd->kbhqs", q, k) / math.sqrt(self.width // h)
    mixed = ops.einsum("kbhqs,kbshd->kbqhd", ops.softmax(scores, axis=-1), v)
    return block["out"](ops.reshape(mixed, (K, -1, self.width)))


def measure(subject: str, reps: int) -> dict:
    import keras
    import numpy as np

    from nmm_core import benchmark, inference, network, protocol, training

    layouts = {"einsum": einsum_attention, "matmul": network.Backbone._attention}

    def build(layout, data, members):
        network.Backbone._attention = layouts[layout]
        keras.utils.set_random_seed(0)
        return training.build_model(data.learner, 64, members=members)

    quick = benchmark.subject_data(subject, True)
    weights = {}
    for layout in layouts:
        model = build(layout, quick, 2)
        training.train(model, quick.arrays["train"], 64, 2)
        weights[layout] = [np.asarray(w) for w in model.get_weights()]
    difference = max(float(np.abs(a - b).max()) for a, b in zip(*weights.values()))

    data = benchmark.subject_data(subject, False)
    movement = benchmark.movement_seconds(data.recording)
    models = {}
    for layout in layouts:
        models[layout] = build(layout, data, protocol.FULL.seeds)
        training.train(models[layout], data.arrays["train"], 64, 1)  # traced and compiled
        inference.estimate(models[layout], data.recording, 64)
    epoch, xla, rtf = ({k: [] for k in layouts} for _ in range(3))
    for rep in range(reps):
        for layout, fn in layouts.items():
            network.Backbone._attention = fn
            epoch[layout].append(training.train(models[layout], data.arrays["train"], 64, 1, seed=rep)[1])
            fitted = benchmark.protocol_fit_time(data, members=8, epochs=(2, 12))
            xla[layout].append(fitted["seconds"] / fitted["epochs"])
            start = time.perf_counter()
            inference.estimate(models[layout], data.recording, 64)
            rtf[layout].append(movement / (time.perf_counter() - start))
    return {"backend": keras.backend.backend(), "weight_difference": difference, "members": protocol.FULL.seeds,
            "epoch_s": {k: statistics.median(v) for k, v in epoch.items()},
            "xla_epoch_s": {k: statistics.median(v) for k, v in xla.items()},
            "inference_rtf": {k: statistics.median(v) for k, v in rtf.items()}}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subject", default="S01")
    parser.add_argument("--reps", type=int, default=6)
    parser.add_argument("--here", action="store_true", help="measure on this process's backend only")
    args = parser.parse_args()
    if args.here:
        print(json.dumps(measure(args.subject, args.reps)))
        return
    from nmm_core.benchmark import BACKENDS, backend_available

    for backend in [b for b in BACKENDS if backend_available(b)]:
        run = subprocess.run([sys.executable, __file__, "--here", "--subject", args.subject, "--reps", str(args.reps)],
                             env={**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "2"},
                             capture_output=True, text=True, check=True)
        r = json.loads(run.stdout.strip().splitlines()[-1])
        e, x, i = r["epoch_s"], r["xla_epoch_s"], r["inference_rtf"]
        print(f"{r['backend']}: weights differ by {r['weight_difference']:.1e} after 2 epochs; "
              f"training epoch of {r['members']} members {e['einsum']:.2f} s (einsum) vs {e['matmul']:.2f} s "
              f"(matmul), ratio {e['einsum'] / e['matmul']:.2f}; XLA epoch of 8 members {x['einsum']:.2f} s vs "
              f"{x['matmul']:.2f} s, ratio {x['einsum'] / x['matmul']:.2f}; inference {i['einsum']:.0f}x vs {i['matmul']:.0f}x "
              f"real time, ratio {i['matmul'] / i['einsum']:.2f}", flush=True)


if __name__ == "__main__":
    main()
