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
   with penalties on the size of the extrapolated excitations and, optionally, of residual
   excitations added to the measured channels during the fit (:func:`fit_extrapolation`).
"""

from __future__ import annotations

import dataclasses
import time
from typing import Sequence

import numpy as np
from scipy.optimize import least_squares, nnls
from scipy.sparse import csr_matrix, lil_matrix

from . import muscle
from .config import DEEP_MUSCLES, MUSCLE_NAMES, SURFACE_MUSCLES, excitation_order, hidden_muscles


#: The muscle properties SynX's torque model needs, :func:`nominal_parameters`' keys.
NOMINAL_FIELDS = ("max_isometric_force", "optimal_fiber_length", "tendon_slack_length",
                  "pennation_angle_at_optimal")


def nominal_parameters(subject) -> dict:
    """A subject's nominal muscle properties for :func:`fit_extrapolation` and
    :func:`model_torque`: ``{field: array (6,)}`` in MUSCLE_NAMES order (N, m, m, rad)."""
    return {f: np.array([getattr(subject.muscle(m), f) for m in MUSCLE_NAMES]) for f in NOMINAL_FIELDS}


def measured_columns(hidden=DEEP_MUSCLES) -> list[int]:
    """Columns of a (T, 4) surface array (SURFACE_MUSCLES order) that stay measured when the
    muscles in ``hidden`` are hidden; the synergies are extracted from these only."""
    hidden = hidden_muscles(hidden)
    return [j for j, m in enumerate(SURFACE_MUSCLES) if m not in hidden]


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
    deep_weights : ndarray, shape (k or k + 1, H)
        One column per hidden muscle, in ``hidden`` order (BRA, TRImed by default).
    strength_scale : ndarray, shape (6,)
        Calibrated max-isometric-force scales (ones when not calibrated).
    delay : float
        Electromechanical delay, s.
    cost : float
        Final value of the SynX cost (see :func:`fit_extrapolation`).
    fit_seconds : float
    residual_excitation : list of ndarray (T, 4) or None
        Residual excitations of the measured channels, one array per fitted trial of this
        category (None when fitted without residuals). New trials get none.
    hidden : tuple of str
        The muscles extrapolated (columns of ``deep_weights``): the deep ones, plus any surface
        muscle hidden for leave-one-channel-out.
    """

    synergies: Synergies
    deep_weights: np.ndarray
    strength_scale: np.ndarray
    delay: float
    cost: float
    fit_seconds: float
    residual_excitation: list | None = None
    hidden: tuple = DEEP_MUSCLES

    def deep_excitation(self, surface) -> np.ndarray:
        """Extrapolated excitations of the hidden muscles (BRA and TRImed by default), (T, H),
        clipped to [0, 1], from the measured columns of ``surface`` (T, 4)."""
        measured = np.asarray(surface)[:, measured_columns(self.hidden)]
        return np.clip(self.synergies.activations(measured) @ self.deep_weights, 0.0, 1.0)

    def predict(self, trials: Sequence, nominal: dict, torque: bool = True) -> dict:
        """``{trial name: {"hidden": (T, H), "torque": (T,) or None}}`` on trials (objects like
        :class:`nmm_core.training.TrialArrays`), new ones included: the extrapolated excitations
        and, with ``torque``, the torque :func:`model_torque` gives for them with this fit's
        strengths and delay (``nominal`` as for :func:`fit_extrapolation`)."""
        out = {}
        for a in trials:
            deep = self.deep_excitation(a.surface)
            out[a.trial.name] = {"hidden": deep, "torque": model_torque(
                a.surface, deep, a.length, a.speed, a.moment_arm, nominal, self.strength_scale, self.delay,
                hidden=self.hidden) if torque else None}
        return out


def categorised_predictions(fits, trials: Sequence, labels: Sequence, nominal: dict) -> dict:
    """:meth:`Extrapolation.predict` of each trial with its own category's weights.

    ``fits`` is one :class:`Extrapolation` (weights per subject: every label is None) or the
    ``{label: Extrapolation}`` of a categorised :func:`fit_extrapolation`; a trial whose label
    has no fit (a category never trained on, e.g. a new trial's name) is left out.
    """
    out = {}
    for a, label in zip(trials, labels):
        fit = fits if isinstance(fits, Extrapolation) else fits.get(label)
        if fit is not None:
            out.update(fit.predict([a], nominal))
    return out


def model_torque(surface, deep, length, speed, moment_arm, nominal: dict, strength_scale, delay,
                 time_step: float = 0.01, activation_time_constant: float = 0.015,
                 deactivation_time_constant: float = 0.050, shape_factor: float = -0.1,
                 hidden=DEEP_MUSCLES):
    """Elbow torque (..., T) of the EMG-driven model for surface (..., T, 4) and hidden
    (..., T, H) excitations (by default the deep muscles'; a hidden surface muscle's surface
    column is replaced by its estimate).

    ``nominal`` holds the subject's nominal ``max_isometric_force``, ``optimal_fiber_length``,
    ``tendon_slack_length`` and ``pennation_angle_at_optimal`` (6 each, MUSCLE_NAMES order).
    ``strength_scale`` (6,) and ``delay`` (a number) may instead come as P sets, (P, 6) and
    (P,), with excitations of shape (P, ..., T, ·): P models in one pass (the perturbed
    parameters of a finite-difference Jacobian, ``_SynXProblem.jacobian``).
    The neural constants default to the NMM's nominal values.
    """
    order = np.array(excitation_order(hidden))
    surface, deep = np.asarray(surface), np.asarray(deep)
    shape = np.broadcast_shapes(surface.shape[:-1], deep.shape[:-1])  # surface may lack the P axis
    joined = np.concatenate([np.broadcast_to(surface, shape + surface.shape[-1:]),
                             np.broadcast_to(deep, shape + deep.shape[-1:])], axis=-1)
    excitation = np.clip(joined[..., order], 0.0, 1.0)
    delay = np.asarray(delay, dtype=float)
    ones = np.ones(len(MUSCLE_NAMES))
    strength = np.asarray(nominal["max_isometric_force"]) * np.asarray(strength_scale)
    if delay.ndim:  # P models: each set delayed alone, then the chain on all of them at once
        excitation = np.stack([muscle.electromechanical_delay(e, d * ones, time_step)
                               for e, d in zip(excitation, delay)])
        delay = np.zeros(())  # a zero delay reads every sample where it is: the chain's gather is exact
        strength = strength.reshape((len(strength),) + (1,) * (excitation.ndim - 2) + (len(ones),))
    return muscle.excitation_to_torque(
        excitation, length, speed, moment_arm, time_step, delay * ones,
        activation_time_constant * ones, deactivation_time_constant * ones, shape_factor * ones, strength,
        np.asarray(nominal["optimal_fiber_length"]), np.asarray(nominal["tendon_slack_length"]),
        np.asarray(nominal["pennation_angle_at_optimal"]))


def _hat_basis(n_samples: int, time_step: float, spacing: float) -> np.ndarray:
    """Piecewise-linear interpolation matrix (n_samples, n_nodes) from nodes every ``spacing`` s."""
    duration = (n_samples - 1) * time_step
    nodes = np.linspace(0.0, duration, max(2, int(np.ceil(duration / spacing)) + 1))
    samples = np.arange(n_samples) * time_step
    return np.column_stack([np.interp(samples, nodes, np.eye(len(nodes))[j]) for j in range(len(nodes))])


def fit_extrapolation(trials: Sequence, synergies: Synergies, nominal: dict, time_step: float = 0.01,
                      calibrate: bool = True, extrapolated_weight: float = 0.01,
                      residual_weight: float | None = None, residual_spacing: float = 0.2,
                      residual_bound: float = 0.3,
                      strength_bounds: tuple[float, float] = (0.5, 1.6), delay_bounds=(0.0, 0.1),
                      torque_scale: float = 5.0, max_iter: int = 100,
                      categories: Sequence | None = None, hidden: Sequence[str] = DEEP_MUSCLES,
                      start: np.random.Generator | None = None):
    """Find the deep weights (and, with ``calibrate``, strengths and delay) from torque.

    ``trials`` are objects with ``surface`` (T, 4), ``length``, ``speed``, ``moment_arm``
    (T, 6) and ``torque`` (T,) attributes (e.g. :class:`nmm_core.training.TrialArrays`).
    ``hidden`` are the muscles to extrapolate (the deep ones, plus any surface muscle hidden
    for leave-one-channel-out, whose column is then ignored); ``synergies`` must come from the
    measured columns (:func:`measured_columns`).

    Cost (SynX's three terms), a mean over all samples of all trials:
    squared torque error / ``torque_scale``^2 + ``extrapolated_weight`` x squared extrapolated
    excitation + ``residual_weight`` x squared residual excitation. Residual excitations are
    corrections added to the measured excitations, piecewise linear with nodes every
    ``residual_spacing`` s, bounded by +-``residual_bound``; they belong to the fitted trials
    only (a new trial has none), and are left out when ``residual_weight`` is None.

    Solved as bounded non-linear least squares (SciPy's trust-region reflective method, at most
    ``max_iter`` evaluations of the cost besides the Jacobians) with a
    finite-difference Jacobian whose known sparsity (a residual node only moves the torque for
    about a second after it) lets columns be perturbed together; all of a Jacobian's
    perturbations go through the chain in one batched pass (``_SynXProblem.jacobian``).
    NMF weights are non-negative.

    ``categories`` gives each trial a label (SynX's weight categorisation: the trial's name for
    one set of weights per trial, its hand load for one per load; ``None``, one per subject).
    Strengths and delay are shared. Returns an :class:`Extrapolation` when there is one
    category, else ``{label: Extrapolation}`` (sharing the calibration and the cost).

    The fit starts from deep weights of 0.1, nominal strengths and a 40 ms delay. ``start``, a
    random generator, draws another starting point instead (weights uniform in [0, 0.5] for NMF
    and [-0.5, 0.5] for PCA, strengths in [0.8, 1.25], delay in [20, 80] ms, within the bounds):
    the cost may have several minima, and restarts show whether the fit depends on where it
    began (``benchmarks/synx_optima.py``).
    """
    began = time.perf_counter()
    problem = _SynXProblem(trials, synergies, nominal, time_step, calibrate, extrapolated_weight,
                           residual_weight, residual_spacing, residual_bound, strength_bounds,
                           delay_bounds, torque_scale, categories, hidden)
    x0 = problem.x0 if start is None else problem.random_start(start)
    result = least_squares(problem.residuals, x0, jac=problem.jacobian,
                           bounds=(problem.lower, problem.upper), method="trf", x_scale="jac",
                           max_nfev=max_iter)
    weights, strength, delay, residual = problem.unpack(result.x)
    seconds = time.perf_counter() - began
    cost = 2.0 * float(result.cost)
    fits = {}
    for i, label in enumerate(problem.labels):
        own = [residual[b, :n] for b, n in enumerate(problem.lengths) if problem.member[b] == i]
        fits[label] = Extrapolation(synergies, weights[i], strength, delay, cost, seconds,
                                    own if residual_weight else None, problem.hidden)
    return fits[None] if categories is None else fits


class _SynXProblem:
    """The least-squares problem of :func:`fit_extrapolation`: parameter vector, bounds,
    residual vector and the sparsity of its Jacobian.

    Parameters: [weights per category (k x hidden muscles) | strengths (6), delay | residual
    nodes per trial, node and measured channel]. Residuals: [torque error per trial and sample |
    extrapolated excitations | residual excitations], scaled so that their sum of squares is
    the cost.
    """

    def __init__(self, trials, synergies, nominal, time_step, calibrate, extrapolated_weight,
                 residual_weight, residual_spacing, residual_bound, strength_bounds, delay_bounds,
                 torque_scale, categories, hidden=DEEP_MUSCLES):
        self.hidden = hidden_muscles(hidden)
        self.measured = measured_columns(self.hidden)
        if synergies.weights.shape[1] != len(self.measured):
            raise ValueError(f"the synergies span {synergies.weights.shape[1]} channels but {len(self.measured)} "
                             "surface channels stay measured; extract them from the measured columns only.")
        labels = [None] * len(trials) if categories is None else list(categories)
        if len(labels) != len(trials):
            raise ValueError(f"categories has {len(labels)} labels for {len(trials)} trials; give one per trial.")
        if residual_weight is not None and residual_weight <= 0:
            raise ValueError(f"residual_weight must be positive (or None for no residuals), got {residual_weight}.")
        self.labels = list(dict.fromkeys(labels))
        self.member = np.array([self.labels.index(label) for label in labels])
        self.lengths = [len(t.torque) for t in trials]
        self.length_max = max(self.lengths)
        self.nominal, self.time_step, self.calibrate = nominal, time_step, calibrate
        self.extrapolated_weight, self.residual_weight = extrapolated_weight, residual_weight
        self.torque_scale, self.residual_spacing = torque_scale, residual_spacing
        self.delay_max = delay_bounds[1]
        # All trials padded to one length and run as a batch: one call of the chain per evaluation.
        self.activations = self._padded([synergies.activations(np.asarray(t.surface)[:, self.measured])
                                         for t in trials])
        self.batch = {name: self._padded([getattr(t, name) for t in trials])
                      for name in ("surface", "length", "speed", "moment_arm", "torque")}
        self.mask = np.arange(self.length_max)[None, :] < np.array(self.lengths)[:, None]
        self.scale = 1.0 / np.sqrt(self.mask.sum())

        self.k = self.activations.shape[-1]
        self.n_hidden = len(self.hidden)
        self.n_weights = self.n_hidden * self.k * len(self.labels)
        lower = 0.0 if synergies.method == "nmf" else -5.0
        lo, hi, x0 = [lower] * self.n_weights, [5.0] * self.n_weights, [0.1] * self.n_weights
        if calibrate:
            lo += [strength_bounds[0]] * 6 + [delay_bounds[0]]
            hi += [strength_bounds[1]] * 6 + [delay_bounds[1]]
            x0 += [1.0] * 6 + [0.04]
        self.n_fixed = len(x0)
        self.bases = [_hat_basis(n, time_step, residual_spacing) for n in self.lengths] if residual_weight else []
        self.node_start = (np.cumsum([0] + [b.shape[1] * len(self.measured) for b in self.bases])
                           + self.n_fixed).astype(int)
        n_nodes = int(self.node_start[-1]) - self.n_fixed
        self.lower = np.array(lo + [-residual_bound] * n_nodes)
        self.upper = np.array(hi + [residual_bound] * n_nodes)
        self.x0 = np.array(x0 + [0.0] * n_nodes)

    def random_start(self, rng: np.random.Generator) -> np.ndarray:
        """A random starting point (:func:`fit_extrapolation`'s ``start``): weights, strengths
        and delay drawn, residual nodes at zero, all within the bounds."""
        x = self.x0.copy()
        x[:self.n_weights] = rng.uniform(max(self.lower[0], -0.5), 0.5, self.n_weights)
        if self.calibrate:
            x[self.n_weights:self.n_weights + 6] = rng.uniform(0.8, 1.25, 6)
            x[self.n_weights + 6] = rng.uniform(0.02, 0.08)
        return np.clip(x, self.lower, self.upper)

    def _padded(self, arrays):
        return np.stack([np.pad(a, [(0, self.length_max - len(a))] + [(0, 0)] * (a.ndim - 1), mode="edge")
                         for a in arrays])

    def unpack(self, x):
        """(weights (categories, k, H), strengths (6,), delay, residual excitations (B, T, 4)) of
        a parameter vector x; for P vectors (P, n), each with a leading P axis."""
        x = np.asarray(x, dtype=float)
        sets = x.reshape(-1, x.shape[-1])
        P = len(sets)
        weights = sets[:, :self.n_weights].reshape(P, len(self.labels), self.k, self.n_hidden)
        if self.calibrate:
            strength, delay = sets[:, self.n_weights:self.n_weights + 6], sets[:, self.n_weights + 6]
        else:
            strength, delay = np.ones((P, 6)), np.full(P, 0.04)
        residual = np.zeros((P, len(self.lengths), self.length_max, len(SURFACE_MUSCLES)))
        for i, basis in enumerate(self.bases):
            nodes = sets[:, self.node_start[i]:self.node_start[i + 1]].reshape(P, basis.shape[1], -1)
            residual[:, i, :self.lengths[i], self.measured] = np.moveaxis(basis @ nodes, -1, 0)
        if x.ndim == 1:
            return weights[0], strength[0], float(delay[0]), residual[0]
        return weights, strength, delay, residual

    def residuals(self, x):
        """The residual vector (m,) of x (n,); for P parameter vectors (P, n), the P residual
        vectors (P, m), computed in one pass of the chain."""
        x = np.asarray(x, dtype=float)
        weights, strength, delay, residual = self.unpack(np.atleast_2d(x))
        P = len(delay)
        deep = np.clip(np.einsum("btk,pbkd->pbtd", self.activations, weights[:, self.member]), 0.0, 1.0)
        surface = np.clip(self.batch["surface"] + residual, 0.0, 1.0)
        torque = model_torque(surface, deep, self.batch["length"], self.batch["speed"], self.batch["moment_arm"],
                              self.nominal, strength, delay, self.time_step, hidden=self.hidden)
        parts = [(self.mask * (torque - self.batch["torque"]) / self.torque_scale).reshape(P, -1),
                 np.sqrt(self.extrapolated_weight) * (self.mask[..., None] * deep).reshape(P, -1)]
        if self.residual_weight:
            parts.append(np.sqrt(self.residual_weight) * residual[..., self.measured].reshape(P, -1))
        out = self.scale * np.concatenate(parts, axis=1)
        return out[0] if x.ndim == 1 else out

    def jacobian(self, x):
        """Forward-difference Jacobian (sparse, the pattern of :meth:`sparsity`) at x.

        The same differences as SciPy's ``approx_derivative`` (``"2-point"``, steps of
        sqrt(machine epsilon) relative to max(1, |x|), turned back or shortened at a bound) with
        the same sparsity: columns that share no row are perturbed together. The difference is
        the cost: every group's perturbed vector goes through the chain in one batched pass,
        instead of one pass per group (the activation dynamics are a Python loop over time steps,
        whose cost is per step, nearly whatever the batch).
        """
        x = np.asarray(x, dtype=float)
        pattern, groups, rows, columns = self._pattern()
        step = np.sqrt(np.finfo(float).eps) * np.where(x >= 0, 1.0, -1.0) * np.maximum(1.0, np.abs(x))
        below, above = x - self.lower, self.upper - x
        outside = (x + step < self.lower) | (x + step > self.upper)
        fits = np.abs(step) <= np.maximum(below, above)
        step[outside & fits] *= -1
        step = np.where(fits, step, np.where(above >= below, above, -below))
        step = (x + step) - x  # the step as represented
        n_groups = int(groups.max()) + 1
        moved = x + step * (groups[None, :] == np.arange(n_groups)[:, None])
        values = self.residuals(np.vstack([x[None], moved]))
        difference = (values[1 + groups[columns], rows] - values[0, rows]) / step[columns]
        return csr_matrix((difference, (rows, columns)), shape=pattern.shape)

    def _pattern(self):
        """The sparsity (CSR), each column's group (columns of a group share no row, greedy in
        column order) and the rows and columns of its entries; computed once per problem."""
        if not hasattr(self, "_groups"):
            pattern = self.sparsity()
            by_column = pattern.tocsc()
            taken, groups = [], np.empty(pattern.shape[1], dtype=int)
            for j in range(pattern.shape[1]):
                rows = by_column.indices[by_column.indptr[j]:by_column.indptr[j + 1]]
                for g, used in enumerate(taken):
                    if not used[rows].any():
                        break
                else:
                    g = len(taken)
                    taken.append(np.zeros(pattern.shape[0], dtype=bool))
                taken[g][rows] = True
                groups[j] = g
            self._groups = (pattern, groups, *pattern.nonzero())
        return self._groups

    def sparsity(self, memory: float = 0.6):
        """Which residuals each parameter can move.

        A residual node moves its trial's torque from one node spacing before it to one spacing,
        the largest delay and ``memory`` s of activation dynamics (12 deactivation time
        constants) after it, and its own residual excitations; the weights of a category move
        its trials' torque and deep excitations; strengths and delay move every torque.
        """
        n_trials, length, n_measured = len(self.lengths), self.length_max, len(self.measured)
        n_hidden, block = self.n_hidden, self.n_hidden * self.k
        n_torque, n_deep = n_trials * length, n_trials * length * n_hidden
        n_rows = n_torque + n_deep + (n_trials * length * n_measured if self.bases else 0)
        pattern = lil_matrix((n_rows, len(self.x0)), dtype=np.int8)
        for b in range(n_trials):
            rows = slice(b * length, (b + 1) * length)
            columns = slice(block * self.member[b], block * (self.member[b] + 1))
            pattern[rows, columns] = 1
            pattern[rows, self.n_weights:self.n_fixed] = 1
            pattern[n_torque + b * length * n_hidden:n_torque + (b + 1) * length * n_hidden, columns] = 1
        before = int(np.ceil(self.residual_spacing / self.time_step))
        after = int(np.ceil((self.residual_spacing + self.delay_max + memory) / self.time_step))
        for b, basis in enumerate(self.bases):
            for node in range(basis.shape[1]):
                touched = np.flatnonzero(basis[:, node])
                first, last = max(0, touched[0] - before), min(len(basis), touched[-1] + after + 1)
                for channel in range(n_measured):
                    column = self.node_start[b] + node * n_measured + channel
                    pattern[b * length + first:b * length + last, column] = 1
                    pattern[n_torque + n_deep + (b * length + touched) * n_measured + channel, column] = 1
        return pattern.tocsr()
