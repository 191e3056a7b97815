"""Muscle synergy extrapolation (MSE, "SynX"): the baseline the NMM is compared with.

NumPy and SciPy only. After Ao, Shourijeh, Patten and Fregly (2020, Front. Comput. Neurosci.
14:588943) and Ao et al. (2022, Front. Bioeng. Biotechnol. 10:962959):

1. factorise the measured envelopes E (T x n_measured) into synergy activations C (T x k) and
   weights W (k x n_measured), E ~ C W, by NMF or PCA (:func:`extract_synergies`);
2. write each unmeasured excitation as a combination of the synergy activations,
   e_u(t) = C(t) w_u (non-negative weights for NMF);
3. find the weights (and, optionally, the subject's muscle strengths and delay) so that the
   EMG-driven model's elbow torque, the same Hill-type chain as the NMM
   (:func:`nmm_core.muscle.excitation_to_torque`, NumPy path), tracks inverse-dynamics torque,
   with a penalty on the size of the extrapolated excitations (:func:`fit_extrapolation`).

Residual excitations on the measured channels (an option of SynX) are not modelled here.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Sequence

import numpy as np
from scipy.optimize import minimize, nnls

from . import muscle
from .config import DEEP_MUSCLES, MUSCLE_NAMES, SURFACE_MUSCLES

_ORDER = np.array([(SURFACE_MUSCLES + DEEP_MUSCLES).index(m) for m in MUSCLE_NAMES])


def _check_envelopes(envelopes, n_synergies: int | None = None) -> np.ndarray:
    e = np.asarray(envelopes, dtype=float)
    if e.ndim != 2:
        raise ValueError(f"envelopes must be 2-D (T samples x n channels), got shape {e.shape}.")
    if not np.all(np.isfinite(e)):
        row, col = np.argwhere(~np.isfinite(e))[0]
        raise ValueError(f"envelopes contain NaN or inf (channel {col}, sample {row}); clean the EMG first.")
    if np.any(e < -1e-9):
        col = int(np.argmin(e.min(axis=0)))
        raise ValueError(f"envelopes must be non-negative; channel {col} reaches {e.min():.3g}. "
                         "Use rectified, low-pass filtered envelopes (nmm_core.signals.process_emg).")
    if n_synergies is not None:
        if not 1 <= n_synergies <= e.shape[1]:
            raise ValueError(f"n_synergies = {n_synergies} must be between 1 and the number of measured "
                             f"channels ({e.shape[1]}).")
    return np.clip(e, 0.0, None)


def variance_accounted_for(envelopes, reconstruction) -> float:
    """VAF = 1 - ||E - R||^2 / ||E||^2 (uncentred, as in the synergy literature)."""
    e = np.asarray(envelopes, dtype=float)
    return float(1.0 - np.sum((e - reconstruction) ** 2) / np.sum(e ** 2))


@dataclasses.dataclass(frozen=True)
class Synergies:
    """Synergy weights and how to compute synergy activations for new envelopes.

    Attributes
    ----------
    method : str
        ``"nmf"`` or ``"pca"``.
    weights : ndarray, shape (k, n_measured)
    mean : ndarray, shape (n_measured,)
        Channel means removed before PCA (zeros for NMF).
    vaf : float
        Variance accounted for on the envelopes they were extracted from.
    """

    method: str
    weights: np.ndarray
    mean: np.ndarray
    vaf: float

    @property
    def n_synergies(self) -> int:
        return self.weights.shape[0]

    def activations(self, envelopes) -> np.ndarray:
        """Synergy activations C (T, k) of envelopes (T, n_measured), plus, for PCA, a column of
        ones (T, k + 1) so that extrapolated excitations can have an offset."""
        e = _check_envelopes(envelopes)
        if e.shape[1] != self.weights.shape[1]:
            raise ValueError(f"envelopes have {e.shape[1]} channels, the synergies {self.weights.shape[1]}.")
        if self.method == "nmf":
            return np.array([nnls(self.weights.T, row)[0] for row in e])
        scores = (e - self.mean) @ self.weights.T
        return np.column_stack([scores, np.ones(len(e))])


def extract_synergies(envelopes, n_synergies: int, method: str = "nmf", seed: int = 0,
                      max_iter: int = 2000, tol: float = 1e-7) -> Synergies:
    """Factorise envelopes (T, n_measured) into ``n_synergies`` synergies by NMF or PCA.

    NMF uses Lee and Seung's multiplicative updates from a seeded random start.
    """
    e = _check_envelopes(envelopes, n_synergies)
    if method == "pca":
        mean = e.mean(axis=0)
        _, _, vt = np.linalg.svd(e - mean, full_matrices=False)
        weights = vt[:n_synergies]
        reconstruction = mean + ((e - mean) @ weights.T) @ weights
        return Synergies("pca", weights, mean, variance_accounted_for(e, reconstruction))
    if method != "nmf":
        raise ValueError(f"Unknown method {method!r}; choose 'nmf' or 'pca'.")
    rng = np.random.default_rng(seed)
    scale = np.sqrt(e.mean() / n_synergies)
    c = rng.uniform(0.5, 1.5, (e.shape[0], n_synergies)) * scale
    w = rng.uniform(0.5, 1.5, (n_synergies, e.shape[1])) * scale
    previous = np.inf
    for _ in range(max_iter):
        w *= (c.T @ e) / np.maximum(c.T @ c @ w, 1e-12)
        c *= (e @ w.T) / np.maximum(c @ w @ w.T, 1e-12)
        error = np.sum((e - c @ w) ** 2)
        if previous - error < tol * previous:
            break
        previous = error
    norms = np.maximum(np.linalg.norm(w, axis=1, keepdims=True), 1e-12)
    w = w / norms  # unit-norm synergy vectors; their size lives in the activations
    c = c * norms.T
    return Synergies("nmf", w, np.zeros(e.shape[1]), variance_accounted_for(e, c @ w))


@dataclasses.dataclass
class Extrapolation:
    """Result of :func:`fit_extrapolation`.

    Attributes
    ----------
    synergies : Synergies
    deep_weights : ndarray, shape (k or k + 1, 2)
        Columns: BRA, TRImed.
    strength_scale : ndarray, shape (6,)
        Calibrated max-isometric-force scales (ones when not calibrated).
    delay : float
        Electromechanical delay, s.
    cost : float
    fit_seconds : float
    """

    synergies: Synergies
    deep_weights: np.ndarray
    strength_scale: np.ndarray
    delay: float
    cost: float
    fit_seconds: float

    def deep_excitation(self, surface) -> np.ndarray:
        """Extrapolated BRA and TRImed excitations, (T, 2), clipped to [0, 1]."""
        return np.clip(self.synergies.activations(surface) @ self.deep_weights, 0.0, 1.0)


def model_torque(surface, deep, length, speed, moment_arm, nominal: dict, strength_scale, delay,
                 time_step: float = 0.01, activation_time_constant: float = 0.015,
                 deactivation_time_constant: float = 0.050, shape_factor: float = -0.1):
    """Elbow torque (T,) of the EMG-driven model for surface (T, 4) and deep (T, 2) excitations.

    ``nominal`` holds the subject's nominal ``max_isometric_force``, ``optimal_fiber_length``,
    ``tendon_slack_length`` and ``pennation_angle_at_optimal`` (6 each, MUSCLE_NAMES order).
    The neural constants default to the NMM's nominal values.
    """
    excitation = np.clip(np.concatenate([surface, deep], axis=-1)[..., _ORDER], 0.0, 1.0)
    ones = np.ones(len(MUSCLE_NAMES))
    return muscle.excitation_to_torque(
        excitation, length, speed, moment_arm, time_step, delay * ones,
        activation_time_constant * ones, deactivation_time_constant * ones, shape_factor * ones,
        np.asarray(nominal["max_isometric_force"]) * strength_scale,
        np.asarray(nominal["optimal_fiber_length"]), np.asarray(nominal["tendon_slack_length"]),
        np.asarray(nominal["pennation_angle_at_optimal"]))


def fit_extrapolation(trials: Sequence, synergies: Synergies, nominal: dict, time_step: float = 0.01,
                      calibrate: bool = True, extrapolated_weight: float = 0.01,
                      strength_bounds: tuple[float, float] = (0.5, 1.6), delay_bounds=(0.0, 0.1),
                      torque_scale: float = 5.0, max_iter: int = 200,
                      categories: Sequence | None = None):
    """Find the deep weights (and, with ``calibrate``, strengths and delay) from torque.

    ``trials`` are objects with ``surface`` (T, 4), ``length``, ``speed``, ``moment_arm``
    (T, 6) and ``torque`` (T,) attributes (e.g. :class:`nmm_core.training.TrialArrays`).
    Cost: mean squared torque error / torque_scale^2 + ``extrapolated_weight`` x mean squared
    extrapolated excitation. Bounded L-BFGS-B; NMF weights are non-negative.

    ``categories`` gives each trial a label (SynX's weight categorisation: the trial's name for
    one set of weights per trial, its hand load for one per load; ``None``, one per subject).
    Strengths and delay are shared. Returns an :class:`Extrapolation` when there is one
    category, else ``{label: Extrapolation}`` (sharing the calibration and the cost).
    """
    start = time.perf_counter()
    # All trials padded to one length and run as a batch: one call of the chain per cost.
    length_max = max(len(t.torque) for t in trials)

    def padded(arrays):
        return np.stack([np.pad(a, [(0, length_max - len(a))] + [(0, 0)] * (a.ndim - 1), mode="edge")
                         for a in arrays])

    activations = padded([synergies.activations(t.surface) for t in trials])
    batch = {name: padded([getattr(t, name) for t in trials])
             for name in ("surface", "length", "speed", "moment_arm", "torque")}
    mask = padded([np.ones(len(t.torque)) for t in trials]) * 0.0
    for i, t in enumerate(trials):
        mask[i, :len(t.torque)] = 1.0
    count = mask.sum()
    labels = [None] * len(trials) if categories is None else list(categories)
    if len(labels) != len(trials):
        raise ValueError(f"categories has {len(labels)} labels for {len(trials)} trials; give one per trial.")
    unique = list(dict.fromkeys(labels))
    member = np.array([unique.index(label) for label in labels])
    k = activations.shape[-1]
    n_weights = 2 * k * len(unique)
    lower = 0.0 if synergies.method == "nmf" else -5.0
    bounds = [(lower, 5.0)] * n_weights
    x0 = [0.1] * n_weights
    if calibrate:
        bounds += [strength_bounds] * len(MUSCLE_NAMES) + [delay_bounds]
        x0 += [1.0] * len(MUSCLE_NAMES) + [0.04]

    def unpack(x):
        weights = np.asarray(x[:n_weights]).reshape(len(unique), k, 2)
        if calibrate:
            return weights, np.asarray(x[n_weights:n_weights + 6]), float(x[-1])
        return weights, np.ones(6), 0.04

    def cost(x):
        weights, strength, delay = unpack(x)
        deep = np.clip(np.einsum("btk,bkd->btd", activations, weights[member]), 0.0, 1.0)
        torque = model_torque(batch["surface"], deep, batch["length"], batch["speed"], batch["moment_arm"],
                              nominal, strength, delay, time_step)
        error = np.sum(mask * ((torque - batch["torque"]) / torque_scale) ** 2)
        effort = np.sum(mask[..., None] * deep ** 2)
        return (error + extrapolated_weight * effort) / count

    result = minimize(cost, x0, method="L-BFGS-B", bounds=bounds, options={"maxiter": max_iter})
    weights, strength, delay = unpack(result.x)
    seconds = time.perf_counter() - start
    fits = {label: Extrapolation(synergies, weights[i], strength, delay, float(result.fun), seconds)
            for i, label in enumerate(unique)}
    return fits[None] if categories is None else fits
