"""Measurements for the benchmark scripts (``benchmarks/``) and the benchmark chapter: the machine,
repeated timings, NMM training throughput and convergence, inference speed (batch
and streaming), the MSE baseline's fit and inference, and accuracy against compute.

Each function measures and returns plain numbers (seconds, medians over ``runs``); printing and
plotting are left to the callers. The shared machine is noisy: compare figures measured in the
same run, and read medians, not single runs.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from typing import Callable, Sequence

import numpy as np
import psutil

from . import paths, protocol, synergy, training
from .cpu import limit_threads, thread_limits, usable_cores
from .inference import StreamingEstimator, compile_for_inference, estimate

from .training import SubjectData, movement_seconds, subject_data


# --------------------------------------------------------------------------------------------
# The machine, timings and memory.
# --------------------------------------------------------------------------------------------
def machine() -> dict:
    """What the figures were measured on: CPU model, usable cores, memory, versions and
    TensorFlow's thread limits."""
    cpu = platform.processor() or "unknown"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = {"python": platform.python_version()}
    for name in ("keras", "tensorflow", "jax", "numpy", "scipy", "opensim"):
        try:
            module = __import__(name)
            versions[name] = getattr(module, "__version__", None) or module.GetVersion()
        except Exception:  # not installed (jax is optional) or no version attribute
            versions[name] = None
    return {"cpu": cpu, "cores": usable_cores(),
            "memory_gib": round(psutil.virtual_memory().total / 2**30, 1), "system": platform.platform(),
            "keras_backend": os.environ.get("KERAS_BACKEND", "tensorflow"), "versions": versions,
            "tensorflow_threads": thread_limits()}


def repeat(function: Callable[[], object], runs: int = 5, warmup: int = 1) -> list[float]:
    """Wall times (s) of ``runs`` calls of ``function`` after ``warmup`` untimed ones."""
    for _ in range(warmup):
        function()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return times


# --------------------------------------------------------------------------------------------
# The NMM: training and inference.
# --------------------------------------------------------------------------------------------
def training_throughput(data: SubjectData, backbone: str = "transformer", jit_compile="auto",
                        epochs: int = 3, runs: int = 3, window: int = 64, stride: int = 16,
                        batch_size: int = 64) -> dict:
    """Training windows per second of the NMM on ``data``'s training trials.

    One model is built; its first epoch (tracing and compilation included) is timed on its
    own, then ``runs`` fits of ``epochs`` epochs each. Returns ``{"windows_per_s"`` (median),
    ``"runs_windows_per_s"``, ``"first_epoch_s"``, ``"windows_per_epoch"``, ``"error"}``;
    ``error`` is the exception text when this configuration cannot train (else None).
    """
    windows = training.windows(data.arrays["train"], window, stride)[1].shape[0]
    n_windows = training.trained_windows(windows, batch_size)  # full batches only (training.full_batches)
    try:
        model = training.build_model(data.learner, window, backbone=backbone, jit_compile=jit_compile)
        _, first = training.train(model, data.arrays["train"], window, 1, stride, batch_size)
        rates = [n_windows * epochs / training.train(model, data.arrays["train"], window, epochs, stride,
                                                      batch_size, seed=run)[1] for run in range(runs)]
    except Exception as error:  # e.g. XLA cannot compile a TensorFlow while-loop gradient
        return {"windows_per_s": None, "runs_windows_per_s": [], "first_epoch_s": None,
                "windows_per_epoch": n_windows, "error": _error_summary(error)}
    return {"windows_per_s": statistics.median(rates), "runs_windows_per_s": rates, "first_epoch_s": first,
            "windows_per_epoch": n_windows, "error": None}


def _error_summary(error: Exception) -> str:
    """The informative line of an exception (TensorFlow puts the cause after a generic one)."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    cause = next((line for line in lines if "XLA" in line or "not supported" in line.lower()), lines[0] if lines else "")
    first_sentence = cause.split(". ")[0].rstrip(".")
    return f"{type(error).__name__}: {first_sentence}"[:200]


def time_to_converge(data: SubjectData, quick: bool = False, backbone: str = "transformer", seed: int = 0) -> dict:
    """Train the NMM as the subject chapter does (the default settings, an ensemble of
    ``seeds`` members (:class:`nmm_core.protocol.Plan`) on the fitting trials, each stopped on the
    validation trials) and time it, compilation included.

    Returns ``{"total_s", "per_seed_s", "seeds", "epochs_run", "best_epoch"`` (per member)``,
    "model"}``.
    """
    plan = protocol.plan(quick)
    model, history, seconds = protocol.fit_nmm(data.learner, data.arrays["fit"], data.arrays["validation"],
                                               [{}] * plan.seeds, plan, seed, backbone=backbone)
    return {"total_s": seconds, "per_seed_s": seconds / plan.seeds, "seeds": plan.seeds,
            "epochs_run": len(history["loss"]), "best_epoch": history["best_epoch"], "model": model}


def protocol_fit_time(data: SubjectData, members: int = 8, epochs: tuple[int, int] = (2, 22),
                      plan: protocol.Plan = protocol.FULL) -> dict:
    """Seconds of ``plan``'s training (:func:`nmm_core.protocol.fit_nmm`, XLA as the plan
    says) of a ``members``-member model over epochs ``epochs[0] + 1`` to ``epochs[1]``: one fit
    of ``epochs[1]`` epochs (no early stopping), timed at the end of every epoch, so that the
    first epochs' tracing and compilation stay out. (Two fits of different lengths, subtracted,
    do not cancel them on JAX: the second reuses the first's compiled step.) Returns
    ``{"seconds", "epochs", "cores", "overhead_s"}``, ``cores`` the CPU time per wall second of
    those epochs (about 1 for one core kept busy), ``overhead_s`` what the training cost beyond
    its epochs at the measured rate (the optimiser's state, tracing, compilation; building the
    model is not timed)."""
    import keras

    marks = {}  # epoch number -> (wall, CPU) at its end

    class EpochEnds(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            marks[epoch + 1] = (time.perf_counter(), time.process_time())

    _, _, total = protocol.fit_nmm(
        data.learner, data.arrays["fit"], data.arrays["validation"], [protocol.NMM_CANDIDATES[0]] * members,
        dataclasses.replace(plan, max_epochs=epochs[1], patience=epochs[1] + 1), 0, callbacks=[EpochEnds()])
    (wall_a, cpu_a), (wall_b, cpu_b) = marks[epochs[0]], marks[epochs[1]]
    wall = wall_b - wall_a
    per_epoch = wall / (epochs[1] - epochs[0])
    return {"seconds": wall, "epochs": epochs[1] - epochs[0], "cores": (cpu_b - cpu_a) / wall,
            "overhead_s": total - epochs[1] * per_epoch}


def inference_speed(model, arrays: Sequence, window: int = 64, runs: int = 5, torque: bool = True) -> dict:
    """Batch inference (:func:`nmm_core.inference.estimate`) on ``arrays``, all at once.

    Returns ``{"seconds"`` (median), ``"movement_s"``, ``"real_time_factor"``
    (seconds of movement per second of computing), ``"first_call_s"`` (with tracing)}.
    """
    movement = movement_seconds(arrays)
    start = time.perf_counter()
    estimate(model, arrays, window, torque=torque)
    first = time.perf_counter() - start
    seconds = statistics.median(repeat(lambda: estimate(model, arrays, window, torque=torque), runs, warmup=0))
    return {"seconds": seconds, "movement_s": movement, "real_time_factor": movement / seconds,
            "first_call_s": first}


def streaming_latency(model, arrays, window: int = 64, hop: int | None = None, lag: int = 0) -> dict:
    """Feed one trial to a :class:`~nmm_core.inference.StreamingEstimator` ``hop`` samples at a
    time; time each push that runs the network. Returns ``{"median_ms", "p95_ms", "max_ms",
    "windows", "hop_ms"`` (the time between windows in the recording, the budget)}."""
    stream = StreamingEstimator(model, window, hop, lag)
    stream.push(arrays.features[:window])  # the first window traces the compiled function
    times = []
    for first in range(window, arrays.torque.size - stream.hop + 1, stream.hop):
        start = time.perf_counter()
        released = stream.push(arrays.features[first:first + stream.hop])
        elapsed = time.perf_counter() - start
        if len(released):
            times.append(elapsed)
    step = float(arrays.trial.time[1] - arrays.trial.time[0])
    return {"median_ms": 1e3 * statistics.median(times), "p95_ms": 1e3 * float(np.percentile(times, 95)),
            "max_ms": 1e3 * max(times), "windows": len(times), "hop_ms": 1e3 * stream.hop * step}


# --------------------------------------------------------------------------------------------
# The MSE baseline.
# --------------------------------------------------------------------------------------------
def synx_fit(data: SubjectData, n_synergies: int = 4, method: str = "pca", max_iter: int = 100,
            calibrate: bool = True):
    """One SynX fit on the training trials (the subject chapter's final fit); returns the
    :class:`~nmm_core.synergy.Extrapolation` (its ``fit_seconds`` is the fit's wall time)."""
    envelopes = np.vstack([a.surface for a in data.arrays["train"]])
    found = synergy.extract_synergies(envelopes, n_synergies, method)
    return synergy.fit_extrapolation(data.arrays["train"], found, data.nominal, calibrate=calibrate,
                                     max_iter=max_iter)


def synx_inference_speed(fit, data: SubjectData, runs: int = 5, torque: bool = True) -> dict:
    """Like :func:`inference_speed`, for the synergy extrapolation on the whole recording."""
    arrays = data.recording
    seconds = statistics.median(repeat(lambda: fit.predict(arrays, data.nominal, torque), runs))
    movement = movement_seconds(arrays)
    return {"seconds": seconds, "movement_s": movement, "real_time_factor": movement / seconds}


# --------------------------------------------------------------------------------------------
# Accuracy against compute.
# --------------------------------------------------------------------------------------------
def _scores_row(method: str, setting, seconds: float, scores: dict) -> dict:
    return {"method": method, "setting": setting, "train_seconds": seconds,
            "BRA_r": scores["BRA"]["r"], "TRImed_r": scores["TRImed"]["r"],
            "torque_nrmse_pct": 100 * scores["torque"]["nrmse"]}


def accuracy_per_compute(data: SubjectData, epochs: Sequence[int] = (5, 10, 20, 40, 60),
                         iterations: Sequence[int] = (5, 10, 20, 40, 100), window: int = 64, seed: int = 0,
                         n_synergies: int = 4, method: str = "pca") -> list[dict]:
    """Held-out deep-EMG correlation and torque NRMSE against training time, both methods.

    The NMM is trained once, scored after each number of ``epochs`` (cumulative training time,
    first-epoch compilation included); the MSE's final fit is run with each budget of
    ``iterations`` (SciPy ``max_nfev``). Rows: ``{"method", "setting", "train_seconds",
    "BRA_r", "TRImed_r", "torque_nrmse_pct"}``.
    """
    rows = []
    model = training.build_model(data.learner, window, seed=seed)
    spent, done = 0.0, 0
    for target in sorted(epochs):
        _, seconds = training.train(model, data.arrays["train"], window, target - done, seed=seed + done)
        spent, done = spent + seconds, target
        scores = training.evaluate(model, data.held_out, window, data.delay)
        rows.append(_scores_row("NMM", f"{target} epochs", spent, scores))
    for budget in iterations:
        fit = synx_fit(data, n_synergies, method, max_iter=budget)
        scores = training.score(data.held_out, fit.predict(data.held_out, data.nominal), data.delay)
        rows.append(_scores_row("MSE", f"{budget} evaluations", fit.fit_seconds, scores))
    return rows


# --------------------------------------------------------------------------------------------
# Command line: one measurement on the current Keras backend, as JSON (the benchmark scripts
# and chapter run it once per backend, since a process has one backend).
# --------------------------------------------------------------------------------------------
#: The Keras backends the benchmarks compare (the pinned environment installs both).
BACKENDS = ("tensorflow", "jax")


def backend_available(backend: str) -> bool:
    """Whether a Keras backend's library is installed (TensorFlow is; JAX is in the lock file
    but may be missing from an older environment)."""
    if backend not in BACKENDS:
        raise ValueError(f"Unknown Keras backend {backend!r}; the benchmarks know {BACKENDS}.")
    return importlib.util.find_spec(backend) is not None


def configurations() -> list[tuple[str, str]]:
    """``(backend, jit)`` pairs to compare, for the installed backends: TensorFlow without and
    with XLA (``"off"``, ``"on"``), JAX as it always runs (``"auto"``: XLA)."""
    return [(backend, jit) for backend in BACKENDS if backend_available(backend)
            for jit in (("off", "on") if backend == "tensorflow" else ("auto",))]


def _start(measure: str, backend: str, threads: int, options: dict):
    """Start ``python -m nmm_core.benchmark <measure>`` (see :func:`run_isolated`); return the
    command and the process."""
    command = [sys.executable, "-m", "nmm_core.benchmark", measure]
    for key, value in options.items():
        flag = "--" + key.replace("_", "-")
        if value is True:
            command.append(flag)
        elif value not in (False, None):
            command += [flag, str(value)]
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "2"}
    if threads:  # 0: TensorFlow's default thread pools
        env.update(limit_threads(threads))
    return command, subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _collect(measure: str, backend: str, command: list, process, timeout: float) -> dict:
    """The JSON that a process of :func:`_start` printed last, or RuntimeError with its cause."""
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        raise
    if process.returncode != 0:
        lines = stderr.strip().splitlines() or [f"exit status {process.returncode}, no error output"]
        raise RuntimeError(f"{measure} on {backend} failed: {lines[-1]}\ncommand: {' '.join(command)} "
                           f"(KERAS_BACKEND={backend})\n{stderr[-2000:]}")
    return json.loads(stdout.strip().splitlines()[-1])


def run_isolated(measure: str, backend: str = "tensorflow", timeout: float = 1800, threads: int = 0,
                 **options) -> dict:
    """Run ``python -m nmm_core.benchmark <measure>`` in a fresh process on ``backend`` and
    return its JSON; ``options`` become flags (``quick=True`` -> ``--quick``,
    ``jit="on"`` -> ``--jit on``). A process has one Keras backend, hence the subprocess.
    ``threads`` > 0 limits TensorFlow's thread pools (``TF_NUM_INTRAOP_THREADS`` and
    ``TF_NUM_INTEROP_THREADS``) to that many threads.
    Raises RuntimeError whose first line is the failure's cause (the process's last line of
    error output), followed by the command and the rest of that output."""
    return run_together(measure, [options], backend, timeout, threads)[0]


def run_together(measure: str, each: Sequence[dict], backend: str = "tensorflow", timeout: float = 1800,
                 threads: int = 0) -> list[dict]:
    """Like :func:`run_isolated`, one process per entry of ``each`` (its options), all started
    at once: what several jobs side by side (``make reproduce``'s chapters) do to each other."""
    started = [_start(measure, backend, threads, options) for options in each]
    try:
        return [_collect(measure, backend, command, process, timeout) for command, process in started]
    finally:
        for _, process in started:
            if process.poll() is None:
                process.kill()
                process.communicate()


def _load_trained(subject: str, data: SubjectData, window: int, train_epochs: int):
    """The subject chapter's saved NMM when it exists (its backend need not match), else one
    trained here for ``train_epochs`` epochs; inference speed does not depend on the weights."""
    import keras

    saved = paths.results_dir() / subject / "nmm.keras"
    if saved.is_file():
        try:
            return keras.saving.load_model(saved, compile=False)
        except Exception:  # saved by another version or backend: train a stand-in
            pass
    model = training.build_model(data.learner, window, members=protocol.FULL.seeds)
    training.train(model, data.arrays["train"], window, train_epochs)
    return model


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nmm_core.benchmark",
                                     description="One benchmark on the current Keras backend, printed as JSON.")
    parser.add_argument("measure", choices=("machine", "throughput", "converge", "fit", "inference", "synx"))
    parser.add_argument("--subject", default="S01")
    parser.add_argument("--quick", action="store_true", help="the quick cohort")
    parser.add_argument("--backbone", default="transformer")
    parser.add_argument("--jit", choices=("auto", "on", "off"), default="auto", help="XLA compilation")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--window", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--members", type=int, default=8,
                        help="members of the model timed by 'fit' (the plan of the mode: --quick, the quick plan)")
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    jit = {"auto": "auto", "on": True, "off": False}[args.jit]
    out: dict = {"measure": args.measure, "started": time.time()}  # when (Unix time), for runs side by side
    out["machine"] = machine()
    if args.measure != "machine":
        data = subject_data(args.subject, args.quick)
        out.update(subject=args.subject, quick=args.quick)
    if args.measure == "throughput":
        out.update(backbone=args.backbone, jit=args.jit, **training_throughput(
            data, args.backbone, jit, args.epochs, args.runs, args.window))
    elif args.measure == "converge":
        result = time_to_converge(data, args.quick, backbone=args.backbone, seed=args.seed)
        scores = training.evaluate(result.pop("model"), data.held_out, args.window, data.delay)
        out.update(backbone=args.backbone, seed=args.seed, **result,
                   held_out=_scores_row("NMM", f"{result['seeds']} seeds", result["total_s"], scores))
    elif args.measure == "fit":
        out.update(members=args.members, **protocol_fit_time(data, args.members, plan=protocol.plan(args.quick)))
    elif args.measure == "inference":
        import keras

        model = _load_trained(args.subject, data, args.window, args.epochs)
        if jit != "auto":
            compile_for_inference(model, jit)
        batch = inference_speed(model, data.recording, args.window, args.runs)
        deep_only = inference_speed(model, data.recording, args.window, args.runs, torque=False)
        streaming = streaming_latency(model, max(data.recording, key=lambda a: a.torque.size), args.window)
        out.update(jit=args.jit, batch=batch, batch_deep_only=deep_only, streaming=streaming,
                   backend=keras.backend.backend())
    elif args.measure == "synx":
        fit = synx_fit(data)
        out.update(fit_seconds=fit.fit_seconds, inference=synx_inference_speed(fit, data, args.runs),
                   inference_deep_only=synx_inference_speed(fit, data, args.runs, torque=False))
    out["finished"] = time.time()
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
