"""Where a batch estimate of the deep EMG and the torque spends its time, on TensorFlow: the
parts of :func:`nmm_core.inference.estimate` (the backbone on every window, the windows'
averaging, the physics block), without and with XLA, and the backbone's kinds of operation
timed alone on tensors of the shapes one estimate gives them.

Run:

    .venv/bin/python benchmarks/profile_inference.py [--subject S01] [--quick] [--runs 9]

The model is the subject chapter's saved ensemble (results/<subject>/nmm.keras) when present,
else one trained briefly (the time does not depend on the weights); the recording is every trial
of the subject, as ``benchmarks/inference_speed.py`` takes it. Each figure is the median of
``--runs`` runs after two untimed ones; TensorFlow's default threads (all cores). The op table
times each operation once per encoder block on tensors of random numbers (its share of the
backbone is the sum over blocks): the backbone's own dense layers and layer norm, and the
attention's steps as the backbone writes them. Nothing is written.
"""

import argparse
import math
import os
import statistics

os.environ["KERAS_BACKEND"] = "tensorflow"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def median_ms(function, runs: int) -> float:
    from nmm_core.benchmark import repeat

    return 1e3 * statistics.median(repeat(function, runs, warmup=2))


def estimate_parts(model, arrays, window: int, runs: int) -> dict:
    """Milliseconds of :func:`~nmm_core.inference.estimate` and of its parts."""
    import numpy as np

    from nmm_core import inference

    hop = max(1, window // 2)  # estimate's default
    plan = [(i, s) for i, a in enumerate(arrays) for s in inference.window_starts(a.torque.size, window, hop)]
    batch = np.stack([arrays[i].features[s:s + window] for i, s in plan])
    deep = [np.moveaxis(p["member_hidden"], 0, 1) for p in inference.estimate(model, arrays, window, torque=False)]
    return {"windows": len(batch),
            "estimate, deep EMG and torque": median_ms(lambda: inference.estimate(model, arrays, window), runs),
            "estimate, deep EMG alone": median_ms(lambda: inference.estimate(model, arrays, window, torque=False), runs),
            "the backbone on every window": median_ms(lambda: inference.predict_windows(model, batch), runs),
            "the physics block on every trial": median_ms(lambda: inference.physics_torque(model, deep, arrays), runs)}


def op_times(backbone, windows: int, runs: int) -> list[tuple[str, float, float]]:
    """``(operation, ms, GFLOP/s or nan)`` of the backbone's kinds of operation on tensors of
    one estimate's shapes (activations member-major, ``(K, windows * window, width)``): its own
    dense layers and layer norm (those of its first block), and the attention's steps and GELU
    written as :meth:`nmm_core.network.Backbone.call` writes them; each compiled as a
    ``tf.function`` without XLA, as ``predict_on_batch`` runs the backbone."""
    import keras
    import tensorflow as tf
    from keras import ops

    K, B, T, W, h = backbone.members, windows, backbone.window, backbone.width, backbone.heads
    d = W // h
    block = backbone.blocks[0]
    x = keras.random.normal((K, B * T, W))
    wide = keras.random.normal((K, B * T, 2 * W))
    qkv = keras.random.normal((K, B * T, 3 * W))
    q = keras.random.normal((K, B, h, T, d))
    scores = keras.random.normal((K, B, h, T, T))
    nan = float("nan")
    cases = [
        ("dense: query, key, value", lambda: block["qkv"](x), 2 * K * B * T * W * 3 * W),
        ("dense: attention output", lambda: block["out"](x), 2 * K * B * T * W * W),
        ("dense: feed-forward in", lambda: block["ffn_a"](x), 2 * K * B * T * W * 2 * W),
        ("dense: feed-forward out", lambda: block["ffn_b"](wide), 2 * K * B * T * 2 * W * W),
        ("attention scores, q k^T", lambda: ops.matmul(q, ops.swapaxes(q, -1, -2)), 2 * K * B * h * T * T * d),
        ("attention mix, softmax(scores) v", lambda: ops.matmul(scores, q), 2 * K * B * h * T * T * d),
        ("softmax of the scores", lambda: ops.softmax(scores, axis=-1), nan),
        ("GELU (keras.ops.gelu)", lambda: ops.gelu(wide), nan),
        ("query, key, value to heads-first (one transpose)",
         lambda: ops.transpose(ops.reshape(qkv, (K, -1, T, 3, h, d)), (3, 0, 1, 4, 2, 5)), nan),
        ("heads back to member-major (one transpose)",
         lambda: ops.reshape(ops.transpose(q, (0, 1, 3, 2, 4)), (K, -1, W)), nan),
        ("layer norm (one of two per block)", lambda: block["norm_a"](x), nan),
        ("residual addition (memory traffic alone)", lambda: x + x, nan),
    ]
    rows = []
    for name, body, flops in cases:
        ms = median_ms(tf.function(body), runs)
        rows.append((name, ms, flops / ms / 1e6 if not math.isnan(flops) else nan))
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subject", default="S01")
    parser.add_argument("--quick", action="store_true", help="the quick cohort")
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--window", type=int, default=64)
    args = parser.parse_args()

    from nmm_core import benchmark, inference
    from nmm_core.plotting import markdown_table
    from nmm_core import training
    from nmm_core.training import subject_data

    data = subject_data(args.subject, args.quick)
    model = benchmark._load_trained(args.subject, data, args.window, 60)
    arrays = data.recording
    movement = training.movement_seconds(arrays)
    parts = {"no XLA": estimate_parts(model, arrays, args.window, args.runs)}
    inference.compile_for_inference(model, True)
    parts["XLA"] = estimate_parts(model, arrays, args.window, args.runs)
    windows = parts["no XLA"].pop("windows")
    parts["XLA"].pop("windows")
    machine = benchmark.machine()
    print(f"{args.subject} ({'quick' if args.quick else 'full'} cohort): {movement:.1f} s of movement in {len(arrays)} "
          f"trials, {windows} windows, an ensemble of {model.members}; {machine['cpu']}, {machine['cores']} cores; "
          f"medians of {args.runs} runs\n")
    rows = [[part, f"{parts['no XLA'][part]:.1f}", f"{movement / parts['no XLA'][part] * 1e3:.0f}",
             f"{parts['XLA'][part]:.1f}", f"{movement / parts['XLA'][part] * 1e3:.0f}"] for part in parts["no XLA"]]
    print(markdown_table(["part", "ms, no XLA", "real-time factor", "ms, XLA", "real-time factor"], rows))

    backbone = model.backbone
    padded = inference._padded_size(windows)
    ops = op_times(backbone, padded, args.runs)
    print(f"\nThe backbone's operations alone, once per encoder block ({backbone.depth} blocks), on its tensors "
          f"for {padded} windows (TensorFlow without XLA):\n")
    print(markdown_table(["operation", "ms", "GFLOP/s"],
                         [[name, f"{ms:.2f}", "" if math.isnan(rate) else f"{rate:.0f}"] for name, ms, rate in ops]))


if __name__ == "__main__":
    main()
