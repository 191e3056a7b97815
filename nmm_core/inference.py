"""Fast inference with a trained NMM: the hidden (deep) excitations, and the torque they imply,
for whole recordings at once (:func:`estimate`) or one window at a time as samples arrive
(:class:`StreamingEstimator`).

Both run the network through Keras's compiled prediction (``predict_on_batch``: a
``tf.function`` with TensorFlow, ``jax.jit`` with JAX), traced once per input shape and reused;
an eager call of the model costs tens of milliseconds of Python and graph dispatch per window.
Shapes are padded (batches to a multiple of :data:`BATCH_QUANTUM` windows, trials to a multiple
of :data:`LENGTH_QUANTUM` samples) so that a new recording often reuses a trace.

Batch estimation covers a trial with windows that overlap by ``window - hop`` samples and
averages them with a Hann taper (window centres are trusted more than edges). The physics block
is causal (delay, then activation dynamics forward in time, then instantaneous forces), so
trials padded at the end to a common length and stacked give each trial's torque unchanged.
"""

from __future__ import annotations

import weakref
from typing import Sequence

import numpy as np

#: model -> {name: compiled runner} (:func:`_runner`).
_RUNNERS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
#: Trial lengths are padded up to a multiple of this many samples before the physics runs.
LENGTH_QUANTUM = 256


def window_starts(n: int, window: int, hop: int) -> list[int]:
    """Start indices of windows every ``hop`` samples that cover ``n`` samples (the last one
    ends at the last sample)."""
    if n < window:
        raise ValueError(f"{n} samples are fewer than the window ({window}); use a shorter window.")
    if hop < 1:
        raise ValueError(f"hop must be at least one sample, got {hop}.")
    starts = list(range(0, n - window + 1, hop))
    if starts[-1] != n - window:
        starts.append(n - window)
    return starts


#: Batches of windows are padded up to a multiple of this many windows.
BATCH_QUANTUM = 16


def _padded_size(n: int) -> int:
    """``n`` rounded up to a multiple of :data:`BATCH_QUANTUM`: few distinct batch shapes (each new
    one is traced, and with XLA compiled, once), and at most ``BATCH_QUANTUM - 1`` padding
    windows computed for nothing (the next power of two wasted up to half the batch)."""
    return max(1, -(-int(n) // BATCH_QUANTUM)) * BATCH_QUANTUM


def predict_windows(model, windows: np.ndarray, batch_size: int = 1024, synergy: np.ndarray | None = None) -> np.ndarray:
    """Hidden excitations (N, K, window, H) of every ensemble member for feature windows
    (N, window, F) (and, for a model with a synergy prior, synergy-activation windows
    (N, window, k)), compiled."""
    windows = np.asarray(windows, dtype="float32")
    if getattr(model, "synergies", 0) and synergy is None:
        raise ValueError("This NMM has a synergy prior: give the synergy activations of the windows too.")
    runner = _hidden_runner(model) if getattr(model, "synergies", 0) else model.backbone
    out = []
    for first in range(0, len(windows), batch_size):
        parts = [windows[first:first + batch_size]]
        if runner is not model.backbone:
            parts.append(np.asarray(synergy[first:first + batch_size], dtype="float32"))
        n = len(parts[0])
        size = _padded_size(n)
        if size > n:  # pad the batch, not the time axis: windows are independent
            parts = [np.concatenate([p, np.repeat(p[-1:], size - n, axis=0)]) for p in parts]
        got = runner.predict_on_batch(parts[0] if len(parts) == 1 else parts)
        out.append(np.asarray(got)[:n])
    return np.concatenate(out)


def _runner(model, name: str, function, layer):
    """A Keras model computing ``function(model, inputs)`` for compiled calls, made once per
    ``model`` and kept while it lives. It tracks ``layer`` (whose weights it reads) and holds
    ``model`` only weakly, so the cache does not keep the model alive."""
    runners = _RUNNERS.setdefault(model, {})
    if name not in runners:
        import keras

        owner = weakref.ref(model)

        class Runner(keras.Model):
            def __init__(self):
                super().__init__(name=name)
                self.layer = layer

            def build(self, input_shape):  # the weights exist already
                self.built = True

            def call(self, inputs):
                return function(owner(), inputs)

        runners[name] = Runner()
    return runners[name]


def _hidden_runner(model):
    """``model.hidden`` from ``[features, synergy]`` (an NMM with a synergy prior)."""
    return _runner(model, "hidden_runner",
                   lambda m, x: m.hidden({"features": x[0], "synergy": x[1]})["hidden"], model.backbone)


def _physics_runner(model):
    """``model.physics`` on ``[hidden, surface, length, speed, moment_arm]``."""
    return _runner(model, "physics_runner", lambda m, x: m.physics(list(x)), model.physics)


def physics_torque(model, hidden: Sequence[np.ndarray], arrays: Sequence) -> list[np.ndarray]:
    """Torque (K, T) of ``model``'s physics block (each of its K members) for each trial, given
    the members' hidden excitations (T, K, H) and the trial's
    :class:`~nmm_core.training.TrialArrays`; all trials in one call."""
    lengths = [a.torque.size for a in arrays]
    total = -(-max(lengths) // LENGTH_QUANTUM) * LENGTH_QUANTUM

    def stacked(series):
        # Repeat each trial's last sample to the common length (causal chain: no effect before).
        return np.stack([np.concatenate([s, np.repeat(s[-1:], total - len(s), axis=0)]) for s in series]
                        ).astype("float32")

    inputs = [np.moveaxis(stacked(hidden), 2, 1), stacked([a.surface for a in arrays]), stacked([a.length for a in arrays]),
              stacked([a.speed for a in arrays]), stacked([a.moment_arm for a in arrays])]
    torque = np.asarray(_physics_runner(model).predict_on_batch(inputs))
    return [torque[i, :, :n] for i, n in enumerate(lengths)]


def estimate(model, arrays: Sequence, window: int, hop: int | None = None, torque: bool = True,
             batch_size: int = 1024) -> list[dict]:
    """Hidden excitations and, with ``torque``, the torque the physics block gives for them, for
    each trial of ``arrays`` (:class:`~nmm_core.training.TrialArrays`), all trials batched.

    Windows start every ``hop`` samples (default ``window // 2``: half the cost of a quarter
    window, every sample still read by two windows); their outputs are averaged with a Hann
    taper. Returns, in the order of ``arrays``, ``{"hidden": (T, H), "torque": (T,),
    "member_hidden": (K, T, H), "member_torque": (K, T)}``: the ensemble's estimate is the mean
    of its K members' (each member's torque comes from its own excitations and parameters).
    """
    hop = hop or max(1, window // 2)
    if hop > window:
        raise ValueError(f"hop ({hop}) must not exceed the window ({window}): samples between windows "
                         "would get no estimate.")
    plan = [(i, s) for i, a in enumerate(arrays) for s in window_starts(a.torque.size, window, hop)]
    batch = np.stack([arrays[i].features[s:s + window] for i, s in plan])
    synergy = (np.stack([arrays[i].synergy[s:s + window] for i, s in plan])
               if getattr(model, "synergies", 0) else None)
    outputs = predict_windows(model, batch, batch_size, synergy)
    outputs = np.moveaxis(outputs, 1, 2)  # (N, window, K, H)
    taper = np.hanning(window + 2)[1:-1, None, None]
    totals = [np.zeros((a.torque.size, *outputs.shape[2:])) for a in arrays]
    counts = [np.zeros((a.torque.size, 1, 1)) for a in arrays]
    for (i, s), out in zip(plan, outputs):
        totals[i][s:s + window] += taper * out
        counts[i][s:s + window] += taper
    deep = [(t / c).astype("float32") for t, c in zip(totals, counts)]  # (T, K, H)
    torques = physics_torque(model, deep, arrays) if torque else [None] * len(arrays)
    return [{"hidden": d.mean(axis=1), "torque": None if t is None else t.mean(axis=0),
             "member_hidden": np.moveaxis(d, 1, 0), "member_torque": t} for d, t in zip(deep, torques)]


def member_predictions(predictions: dict, member: int) -> dict:
    """One ensemble member's ``{trial: {"hidden", "torque"}}`` out of :func:`estimate`'s results
    keyed by trial name (for the spread over members)."""
    return {name: {"hidden": p["member_hidden"][member],
                   "torque": None if p["member_torque"] is None else p["member_torque"][member]}
            for name, p in predictions.items()}


class StreamingEstimator:
    """Hidden excitations as samples arrive, one window at a time.

    Every ``hop`` new samples (default ``window // 4``) the network reads the last ``window``
    samples of the features, and the estimates of the newest ``hop`` samples are released,
    ``lag`` samples behind the newest (``lag`` > 0 trades latency for estimates further from
    the window's edge). The first full window releases all its samples up to the lag.

    Parameters
    ----------
    model : NMM
        A trained model (its backbone is used; the physics is not needed online).
    window, hop, lag : int
        Samples.
    """

    def __init__(self, model, window: int, hop: int | None = None, lag: int = 0):
        if getattr(model, "synergies", 0):
            raise ValueError("Streaming needs an NMM without a synergy prior (it reads the features only).")
        self.model, self.window = model, int(window)
        self.hop = int(hop or max(1, window // 4))
        self.lag = int(lag)
        if not 0 < self.hop <= self.window:
            raise ValueError(f"hop must lie in 1..window ({self.window}), got {self.hop}.")
        if not 0 <= self.lag <= self.window - self.hop:
            raise ValueError(f"lag must lie in 0..window - hop ({self.window - self.hop}), got {self.lag}.")
        self.reset()

    def reset(self):
        """Forget every sample (a new recording)."""
        self._buffer = None
        self._received = 0  # samples pushed
        self._released = 0  # estimates released

    def step(self, window_features: np.ndarray) -> np.ndarray:
        """The network's output (window, H) for one window of features (window, F): the mean of
        the ensemble members'."""
        return np.asarray(self.model.backbone.predict_on_batch(
            np.asarray(window_features, dtype="float32")[None]))[0].mean(axis=0)

    def push(self, samples: np.ndarray) -> np.ndarray:
        """Add feature samples (k, F); return the estimates released by them, (m, H), in time
        order and continuing from the previous call (m may be 0)."""
        samples = np.asarray(samples, dtype="float32")
        if samples.ndim != 2:
            raise ValueError(f"samples must have shape (k, n_features), got {samples.shape}.")
        self._buffer = samples if self._buffer is None else np.concatenate([self._buffer, samples])
        self._received += len(samples)
        released = []
        # Windows end at window, window + hop, ... samples (counted from the recording's start).
        while True:
            next_end = self.window if self._released == 0 else self._released + self.lag + self.hop
            if next_end > self._received:
                break
            first = self._received - len(self._buffer)  # index of the buffer's first sample
            out = self.step(self._buffer[next_end - self.window - first: next_end - first])
            stop = self.window - self.lag
            start = 0 if self._released == 0 else stop - self.hop
            released.append(out[start:stop])
            self._released = next_end - self.lag
        keep = self._received - (self._released + self.lag + self.hop - self.window)
        self._buffer = self._buffer[max(0, len(self._buffer) - keep):]
        width = self.model.backbone.n_outputs
        return np.concatenate(released) if released else np.zeros((0, width), dtype="float32")


def backend_jit_compile(jit_compile):
    """Keras's ``jit_compile`` for a model of this package on the current backend: as given on
    TensorFlow (``True``: XLA; ``False``: its uncompiled graph; ``"auto"``: off on a CPU-only
    machine), always ``True`` on JAX, where Keras would run an uncompiled step op by op (S01's
    quick-mode NMM training took 144 s so, 27 s compiled and 17 s on TensorFlow)."""
    import keras

    return True if keras.backend.backend() == "jax" else jit_compile


def compile_for_inference(model, jit_compile: bool) -> None:
    """Choose XLA compilation for :func:`estimate` and :class:`StreamingEstimator` on
    ``model`` (``True`` roughly halves TensorFlow's inference time on a CPU at the cost of a
    compilation of a second or two per new input shape; JAX always compiles,
    :func:`backend_jit_compile`)."""
    jit_compile = backend_jit_compile(jit_compile)
    (_hidden_runner(model) if getattr(model, "synergies", 0) else model.backbone).compile(jit_compile=jit_compile)
    _physics_runner(model).compile(jit_compile=jit_compile)
