"""Held-out scoring of estimated excitations and torque: one function for every method.

Every method of the book (the NMM, its ablations, the synergy extrapolation, the diagnostic
linear map) is scored by :func:`score_trials`, on the same samples and with the same rules:

- **Delay convention.** The surface EMG leads the force by the subject's electromechanical
  delay ``d``: an envelope sample at time ``t`` reflects the excitation that acts on the muscle
  at ``t + d``. Both methods estimate the deep muscles' EMG in that same *EMG time*, so the truth
  they are scored against is the true excitation read ``d`` later, ``u(t + d)``
  (:func:`true_excitation`).
- **Two truths.** ``r``/``rmse`` compare with that truth as it is; ``r_lowpass``/``rmse_lowpass``
  compare with the same truth low-passed like an EMG envelope (zero-phase Butterworth at the
  processing's envelope cut-off, :func:`lowpass_truth`), since no envelope can carry faster
  detail than its filter lets through.
- **Edges.** The first and last :data:`TRIM_SECONDS` of every trial are left out of every score
  (window and filter edges, and the end of the delayed truth, which has no future to read).
- **Failures count.** An estimate whose range over the scored samples is below
  :data:`CONSTANT_ESTIMATE_RANGE` says nothing about timing: its ``r`` is 0.0, not undefined,
  and ``"constant"`` is true, so a mean over subjects or trials counts it as a failure.
- **Undefined for all alike.** Where the *truth* varies by less than
  :data:`CONSTANT_TRUTH_RANGE` (e.g. the triceps medial head at its floor while the arm hangs),
  ``r`` is None for every method and ``"truth_constant"`` is true.

Scores per block: ``{muscle: {"r", "rmse", "r_lowpass", "rmse_lowpass", "constant",
"truth_constant"}, "torque": {"rmse_Nm", "nrmse", "r2"}}``; :func:`score_trials` gives the
pooled block plus ``per_load``, ``per_posture``, ``per_trial`` and ``median_trial``.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Mapping, Sequence

import numpy as np
from scipy.optimize import nnls

from . import metrics
from .config import DEEP_MUSCLES
from .signals import DEFAULT_ENVELOPE_CUTOFF, DEFAULT_FILTER_ORDER, envelope

#: Seconds left out at each end of every trial.
TRIM_SECONDS = 0.3
#: Range (max - min, excitation units, 1 = maximal) under which the truth is taken as constant.
CONSTANT_TRUTH_RANGE = 0.05
#: Range under which an estimate is constant: no timing information at all.
CONSTANT_ESTIMATE_RANGE = 1e-3
#: Shoulder elevation (rad) of the named postures (as in :data:`nmm_core.cohort.POSTURES`).
NAMED_POSTURES = {"hanging": 0.0, "overhead": math.pi}


def posture_name(shoulder_angle: float, tolerance: float = 0.25) -> str:
    """``"hanging"`` or ``"overhead"`` within ``tolerance`` rad, else ``"shoulder <deg> deg"``."""
    for name, angle in NAMED_POSTURES.items():
        if abs(float(shoulder_angle) - angle) <= tolerance:
            return name
    return f"shoulder {math.degrees(float(shoulder_angle)):.0f} deg"


@dataclasses.dataclass(frozen=True, eq=False)
class ScoredTrial:
    """One trial's truth and one method's estimate, on the trial's time base (T samples).

    Attributes
    ----------
    name : str
    time : ndarray, shape (T,)
        s, uniformly sampled.
    hand_load : float
        kg.
    posture : str
        See :func:`posture_name`.
    truth, estimate : ndarray, shape (T, H)
        True and estimated excitations (EMG time, see the module's delay convention), one
        column per scored muscle.
    torque_reference, torque : ndarray, shape (T,), or None
        Inverse-dynamics and predicted torque, N m; None for a method without torque.
    """

    name: str
    time: np.ndarray
    hand_load: float
    posture: str
    truth: np.ndarray
    estimate: np.ndarray
    torque_reference: np.ndarray | None = None
    torque: np.ndarray | None = None


def true_excitation(trial, electromechanical_delay: float, muscles: Sequence[str] = DEEP_MUSCLES) -> np.ndarray:
    """What estimates of ``muscles`` are scored against, shape (T, H), in EMG time.

    A muscle in ``trial.truth`` (the virtual cohort's true excitations, or a recording's deep
    channels) gives that series read ``electromechanical_delay`` s later, ``u(t + d)`` (pass 0
    for recorded EMG, which is in EMG time already); any other muscle (a hidden surface channel)
    gives its recorded envelope.
    """
    columns = [np.zeros((np.size(trial.time), 0))]
    for m in muscles:
        if trial.truth is not None and m in trial.truth:
            columns.append(np.interp(trial.time + electromechanical_delay, trial.time, trial.truth[m])[:, None])
        else:
            columns.append(trial.channel(m)[:, None])
    return np.hstack(columns)


def trim_mask(time, seconds: float = TRIM_SECONDS) -> np.ndarray:
    """Boolean mask (T,) of the samples at least ``seconds`` from both ends of ``time``."""
    time = np.asarray(time, dtype=float)
    keep = (time >= time[0] + seconds - 1e-9) & (time <= time[-1] - seconds + 1e-9)
    if keep.sum() < 2:
        raise ValueError(f"A trial of {time[-1] - time[0]:.2f} s has fewer than two samples left after "
                         f"trimming {seconds} s at each end; score longer trials or trim less.")
    return keep


def lowpass_truth(truth, time, cutoff: float = DEFAULT_ENVELOPE_CUTOFF,
                  order: int = DEFAULT_FILTER_ORDER) -> np.ndarray:
    """The truth (T, H) low-passed like an envelope: zero-phase Butterworth at ``cutoff`` Hz."""
    time = np.asarray(time, dtype=float)
    rate = (time.size - 1) / (time[-1] - time[0])
    truth = np.asarray(truth, dtype=float)
    if truth.size == 0:  # no muscle to score (e.g. a data set without deep channels)
        return truth.copy()
    return envelope(truth.reshape(truth.shape[0], -1), rate, cutoff, order).reshape(truth.shape)


def excitation_scores(truth, estimate) -> dict:
    """``{"r", "rmse", "constant", "truth_constant"}`` of one muscle's estimate (1-D arrays).

    ``r`` is None where the truth is constant, 0.0 where the estimate is (see the module)."""
    truth, estimate = np.asarray(truth, float).ravel(), np.asarray(estimate, float).ravel()
    truth_constant = bool(np.ptp(truth) < CONSTANT_TRUTH_RANGE)
    constant = bool(np.ptp(estimate) < CONSTANT_ESTIMATE_RANGE)
    if truth_constant:
        r = None
    elif constant:
        r = 0.0
    else:
        r = metrics.pearson_r(truth, estimate)
    return {"r": r, "rmse": metrics.rmse(truth, estimate), "constant": constant,
            "truth_constant": truth_constant}


def _block(parts: Sequence[dict], muscles: Sequence[str]) -> dict:
    """Pooled scores of already trimmed trial parts."""
    out = {}
    for j, m in enumerate(muscles):
        truth = np.concatenate([p["truth"][:, j] for p in parts])
        smooth = np.concatenate([p["smooth"][:, j] for p in parts])
        estimate = np.concatenate([p["estimate"][:, j] for p in parts])
        raw, low = excitation_scores(truth, estimate), excitation_scores(smooth, estimate)
        out[m] = {"r": raw["r"], "rmse": raw["rmse"], "r_lowpass": low["r"], "rmse_lowpass": low["rmse"],
                  "constant": raw["constant"], "truth_constant": raw["truth_constant"]}
    if all(p["torque"] is not None for p in parts):
        out["torque"] = metrics.torque_scores(np.concatenate([p["torque_reference"] for p in parts]),
                                              np.concatenate([p["torque"] for p in parts]))
    return out


def _median(values):
    defined = [v for v in values if v is not None]
    return float(np.median(defined)) if defined else None


def score_trials(trials: Sequence[ScoredTrial], muscles: Sequence[str] = DEEP_MUSCLES,
                 trim: float = TRIM_SECONDS, cutoff: float = DEFAULT_ENVELOPE_CUTOFF) -> dict:
    """Scores of one method on a set of trials (see the module for the rules).

    Returns the pooled block, plus ``"per_load"`` (``{"<kg>": block}``), ``"per_posture"``
    (``{"hanging": block, ...}``), ``"per_trial"`` (``{name: block + "hand_load_kg",
    "posture"}``) and ``"median_trial"`` (``{muscle: {"r", "rmse", "trials"}}``: medians over
    the trials, ``trials`` counting those with a defined r).
    """
    if not trials:
        raise ValueError("No trials to score.")
    parts = []
    for t in trials:
        truth, estimate = np.asarray(t.truth, float), np.asarray(t.estimate, float)
        if truth.shape != estimate.shape or truth.shape != (np.size(t.time), len(muscles)):
            raise ValueError(f"Trial {t.name!r}: truth {truth.shape} and estimate {estimate.shape} must both "
                             f"be (T, H) = ({np.size(t.time)}, {len(muscles)}), one column per muscle {list(muscles)}.")
        keep = trim_mask(t.time, trim)
        cut = lambda x: None if x is None else np.asarray(x, float)[keep]  # noqa: E731
        parts.append({"trial": t, "truth": truth[keep], "estimate": estimate[keep],
                      "smooth": lowpass_truth(truth, t.time, cutoff)[keep],
                      "torque": cut(t.torque), "torque_reference": cut(t.torque_reference)})
    result = _block(parts, muscles)
    result["per_load"] = {f"{load:g}": _block([p for p in parts if p["trial"].hand_load == load], muscles)
                          for load in sorted({p["trial"].hand_load for p in parts})}
    result["per_posture"] = {name: _block([p for p in parts if p["trial"].posture == name], muscles)
                             for name in sorted({p["trial"].posture for p in parts})}
    result["per_trial"] = {p["trial"].name: {**_block([p], muscles), "hand_load_kg": p["trial"].hand_load,
                                             "posture": p["trial"].posture} for p in parts}
    per_trial = list(result["per_trial"].values())
    result["median_trial"] = {m: {"r": _median([b[m]["r"] for b in per_trial]),
                                  "rmse": _median([b[m]["rmse"] for b in per_trial]),
                                  "trials": sum(b[m]["r"] is not None for b in per_trial)} for m in muscles}
    return result


# --------------------------------------------------------------------------------------------
# The diagnostic linear map (reads the truth: for diagnosis only, never for choosing anything).
# --------------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class NonNegativeMap:
    """``target ~ inputs @ weights + intercept`` with every weight and the intercept >= 0."""

    weights: np.ndarray  # (k,)
    intercept: float

    def __call__(self, inputs) -> np.ndarray:
        return np.asarray(inputs, float) @ self.weights + self.intercept


def fit_nonnegative_map(inputs, target) -> NonNegativeMap:
    """Least-squares non-negative map from ``inputs`` (N, k) to ``target`` (N,) (SciPy NNLS).

    Any synergy extrapolation writes a deep excitation as a non-negative combination of
    non-negative functions of the surface envelopes; the best such linear map, fitted on the
    truth itself, is the ceiling of a linear synergy method on that data.
    """
    inputs, target = np.asarray(inputs, float), np.asarray(target, float).ravel()
    if inputs.ndim != 2 or inputs.shape[0] != target.size:
        raise ValueError(f"inputs must be (N, k) with N = {target.size} (the target's length); got {inputs.shape}.")
    solution, _ = nnls(np.column_stack([inputs, np.ones(target.size)]), target)
    return NonNegativeMap(solution[:-1], float(solution[-1]))


def nonnegative_map_r2(inputs, target) -> float:
    """R^2 of :func:`fit_nonnegative_map` on the data it was fitted to (within-sample)."""
    fitted = fit_nonnegative_map(inputs, target)
    return metrics.r_squared(target, fitted(inputs))


def surface_envelopes(trial, surface: Sequence[str]) -> np.ndarray:
    """The recorded envelopes of ``surface`` muscles, shape (T, k)."""
    return np.column_stack([trial.channel(m) for m in surface])


def linear_ceiling(trials, electromechanical_delay: float, surface: Sequence[str],
                   muscles: Sequence[str] = DEEP_MUSCLES) -> dict:
    """Per-trial estimates ``{name: (T, H)}`` of the best non-negative map from the ``surface``
    envelopes to each of ``muscles``, fitted on these trials' own truth (all trials pooled)."""
    inputs, truth = stacked_columns(trials, electromechanical_delay, surface, muscles)
    maps = [fit_nonnegative_map(inputs, truth[:, j]) for j in range(len(muscles))]
    return {t.name: np.column_stack([f(surface_envelopes(t, surface)) for f in maps]) for t in trials}


def scored_trials(trials, estimates: Mapping[str, dict], electromechanical_delay: float,
                  muscles: Sequence[str] = DEEP_MUSCLES, torque_references: Mapping | None = None) -> list:
    """:class:`ScoredTrial` records of :class:`~nmm_core.trials.Trial` objects and one method's
    ``{name: {"hidden": (T, H), "torque": (T,) (optional)}}``; the reference torque is the
    trial's own unless ``torque_references`` gives one per name."""
    out = []
    for t in trials:
        found = estimates[t.name]
        torque = found.get("torque")
        reference = (torque_references or {}).get(t.name, t.torque)
        out.append(ScoredTrial(t.name, t.time, t.hand_load, posture_name(t.shoulder_angle),
                               true_excitation(t, electromechanical_delay, muscles), found["hidden"],
                               None if torque is None else reference, torque))
    return out


def stacked_columns(trials, electromechanical_delay: float, surface: Sequence[str],
                    muscles: Sequence[str] = DEEP_MUSCLES) -> tuple[np.ndarray, np.ndarray]:
    """The ``surface`` envelopes (N, k) and the true excitations of ``muscles`` in EMG time
    (N, H) of ``trials``, stacked: what :func:`map_r2` reads."""
    return (np.vstack([surface_envelopes(t, surface) for t in trials]),
            np.vstack([true_excitation(t, electromechanical_delay, muscles) for t in trials]))


def map_r2(data: Mapping[str, tuple], muscles: Sequence[str] = DEEP_MUSCLES) -> tuple[dict, dict]:
    """Within- and across-subject R^2 of the best non-negative map (:func:`fit_nonnegative_map`).

    ``data`` maps each subject to its :func:`stacked_columns`. Returns ``(within, across)``:
    ``within[subject][muscle]`` is the R^2 of the map fitted on that subject's own data,
    ``across[muscle]`` the list of R^2 of each subject's map applied to every other subject.
    A diagnosis that reads the truth: it says whether the deep channels are a function of the
    surface ones, and whether that function is shared between subjects.
    """
    within = {s: {m: nonnegative_map_r2(x, y[:, j]) for j, m in enumerate(muscles)} for s, (x, y) in data.items()}
    across = {m: [metrics.r_squared(data[other][1][:, j], fit_nonnegative_map(x, y[:, j])(data[other][0]))
                  for s, (x, y) in data.items() for other in data if other != s] for j, m in enumerate(muscles)}
    return within, across
