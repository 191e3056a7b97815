"""The synergy-extrapolation baseline against known factors and the physics module."""

import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest

from nmm_core import synergy


def known_factors(rng, t=400, k=2, n=4):
    time = np.arange(t) / 100
    activations = np.column_stack([0.5 + 0.5 * np.sin(2 * np.pi * (0.5 + j * 0.3) * time + j) for j in range(k)])
    weights = rng.uniform(0.1, 1.0, (k, n))
    return activations, weights, activations @ weights


def test_nmf_reconstructs_a_matrix_of_known_nonnegative_factors(rng):
    _, _, envelopes = known_factors(rng)
    result = synergy.extract_synergies(envelopes, 2, "nmf")
    assert result.vaf > 0.99
    assert np.all(result.weights >= 0)
    reconstruction = result.activations(envelopes) @ result.weights
    assert synergy.variance_accounted_for(envelopes, reconstruction) > 0.99


def test_pca_with_all_components_is_exact(rng):
    _, _, envelopes = known_factors(rng, k=3)
    assert synergy.extract_synergies(envelopes, 4, "pca").vaf == pytest.approx(1.0)


class Trial:
    def __init__(self, surface, length, speed, moment_arm, torque):
        self.surface, self.length, self.speed, self.moment_arm, self.torque = surface, length, speed, moment_arm, torque


def synthetic_trials(rng, deep_weights, phases):
    """Trials whose torque the physics makes from surface and deep excitations built on two
    known synergies; returns the trials, the deep truths and the nominal parameters."""
    from nmm_core import arm_model, config

    subject = config.NOMINAL_SUBJECT
    nominal = synergy.nominal_parameters(subject)
    geometry = arm_model.fit_muscle_geometry(subject)
    trials, truths = [], []
    for weights, phase in zip(deep_weights, phases):
        activations = 0.4 * known_factors(rng)[0]
        surface = activations @ np.array([[0.8, 0.6, 0.05, 0.05], [0.05, 0.05, 0.7, 0.9]])
        time = np.arange(len(surface)) / 100
        theta = 1.1 + 0.7 * np.sin(2 * np.pi * 0.4 * time + phase)
        omega = np.gradient(theta, 0.01)
        deep = activations @ np.asarray(weights)
        args = (geometry.length(theta), geometry.lengthening_speed(theta, omega), geometry.moment_arm(theta))
        trials.append(Trial(surface, *args, synergy.model_torque(surface, deep, *args, nominal, np.ones(6), 0.04)))
        truths.append(deep)
    return trials, truths, nominal


@pytest.mark.opensim
def test_extrapolation_recovers_a_deep_channel_made_of_known_synergies(rng):
    true_weights = [[0.25, 0.0], [0.0, 0.3]]  # BRA from synergy 1, TRImed from synergy 2
    trials, truth, nominal = synthetic_trials(rng, [true_weights] * 3, (0.0, 1.5, 3.0))
    found = synergy.extract_synergies(np.vstack([t.surface for t in trials]), 2, "nmf")
    fit = synergy.fit_extrapolation(trials, found, nominal, calibrate=False, extrapolated_weight=0.0)
    for t, deep in zip(trials, truth):
        predicted = fit.deep_excitation(t.surface)
        for j in range(2):
            assert np.corrcoef(predicted[:, j], deep[:, j])[0, 1] > 0.98
        # The optimiser's torque is the physics module's torque for the returned weights.
        again = synergy.model_torque(t.surface, predicted, t.length, t.speed, t.moment_arm, nominal,
                                     fit.strength_scale, fit.delay)
        assert np.sqrt(np.mean((again - t.torque) ** 2)) < 0.05 * np.ptp(t.torque)


@pytest.mark.opensim
def test_restarts_begin_elsewhere_and_reach_the_same_identifiable_optimum(rng):
    """Where the cost has one minimum (deep channels made of known synergies, torque from the
    same physics), fits from random starts recover the truth as the default start does; stopped
    after one evaluation, each fit is still where it began, so the starts differ and stay within
    the bounds."""
    true_weights = [[0.25, 0.0], [0.0, 0.3]]
    trials, truth, nominal = synthetic_trials(rng, [true_weights] * 3, (0.0, 1.5, 3.0))
    found = synergy.extract_synergies(np.vstack([t.surface for t in trials]), 2, "nmf")
    options = {"calibrate": True, "extrapolated_weight": 0.0}
    began = [synergy.fit_extrapolation(trials, found, nominal, max_iter=1, start=np.random.default_rng(k), **options)
             for k in range(3)]
    assert len({b.deep_weights.tobytes() for b in began}) == 3
    for b in began:
        assert np.all(b.deep_weights >= 0) and np.all((b.strength_scale >= 0.5) & (b.strength_scale <= 1.6))
        assert 0.0 <= b.delay <= 0.1
    for k in range(3):
        fit = synergy.fit_extrapolation(trials, found, nominal, start=np.random.default_rng(10 + k), **options)
        for t, deep in zip(trials, truth):
            predicted = fit.deep_excitation(t.surface)
            for j in range(2):
                assert np.corrcoef(predicted[:, j], deep[:, j])[0, 1] > 0.98


@pytest.mark.opensim
def test_per_trial_categories_fit_each_trial_its_own_weights(rng):
    # The deep muscle's share differs between the two trials.
    trials, truths, nominal = synthetic_trials(rng, [[[0.15, 0.0], [0.0, 0.2]], [[0.45, 0.0], [0.0, 0.2]]],
                                               (0.0, 0.0))
    found = synergy.extract_synergies(np.vstack([t.surface for t in trials]), 2, "nmf")
    fits = synergy.fit_extrapolation(trials, found, nominal, calibrate=False, extrapolated_weight=0.0,
                                     categories=["a", "b"])
    assert set(fits) == {"a", "b"}
    for label, trial, truth in zip("ab", trials, truths):
        bra = fits[label].deep_excitation(trial.surface)[:, 0].mean()
        assert bra == pytest.approx(truth[:, 0].mean(), rel=0.1)
    with pytest.raises(ValueError, match="one per trial"):
        synergy.fit_extrapolation(trials, found, nominal, categories=["a"])
    # Each trial predicted with its own category's weights; an untrained category is left out.
    named = [SimpleNamespace(**vars(t), trial=SimpleNamespace(name=name)) for t, name in zip(trials, ("x", "y"))]
    predicted = synergy.categorised_predictions(fits, named, ["b", "zzz"], nominal)
    assert set(predicted) == {"x"}
    np.testing.assert_array_equal(predicted["x"]["hidden"], fits["b"].deep_excitation(trials[0].surface))
    assert set(synergy.categorised_predictions(fits["a"], named, [None, None], nominal)) == {"x", "y"}


def test_bad_inputs_raise_clear_errors(rng):
    _, _, envelopes = known_factors(rng)
    with pytest.raises(ValueError, match="between 1 and the number of measured channels"):
        synergy.extract_synergies(envelopes, 5)
    bad = envelopes.copy()
    bad[7, 2] = np.nan
    with pytest.raises(ValueError, match="channel 2, sample 7"):
        synergy.extract_synergies(bad, 2)
    with pytest.raises(ValueError, match="non-negative"):
        synergy.extract_synergies(envelopes - 1.0, 2)
    with pytest.raises(ValueError, match="Unknown method"):
        synergy.extract_synergies(envelopes, 2, "ica")


def test_imports_without_tensorflow():
    code = "import sys, nmm_core.synergy; assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.opensim
def test_jacobian_sparsity_covers_every_dependence(rng):
    """The sparsity handed to the solver must contain every entry of a dense finite-difference
    Jacobian (a missing entry would silently corrupt the fitted gradients)."""
    problem, _, _ = short_problem(rng)
    x = problem.x0 + rng.uniform(0.0, 0.05, problem.x0.shape)  # residual nodes off their bounds' kinks
    base = problem.residuals(x)
    pattern = problem.sparsity().toarray().astype(bool)
    assert pattern.shape == (len(base), len(x))
    for j in range(len(x)):
        step = np.zeros_like(x)
        step[j] = 1e-6
        moved = np.abs(problem.residuals(x + step) - base) > 1e-13
        assert moved.any(), f"parameter {j} moves nothing"
        assert not np.any(moved & ~pattern[:, j]), f"parameter {j} moves residuals outside the pattern"


def short_problem(rng):
    """A SynX problem with every kind of parameter: two weight categories, strengths and delay,
    residual nodes (150 samples per trial, for speed)."""
    trials, _, nominal = synthetic_trials(rng, [[[0.25, 0.0], [0.0, 0.3]]] * 2, (0.0, 1.5))
    for t in trials:
        for name in ("surface", "length", "speed", "moment_arm", "torque"):
            setattr(t, name, getattr(t, name)[:150])
    found = synergy.extract_synergies(np.vstack([t.surface for t in trials]), 2, "nmf")
    return synergy._SynXProblem(trials, found, nominal, 0.01, True, 0.01, 1.0, 0.2, 0.3, (0.5, 1.6),
                                (0.0, 0.1), 5.0, ["a", "b"]), trials, nominal


@pytest.mark.opensim
def test_a_batch_of_parameter_vectors_gives_each_its_own_residuals(rng):
    """P parameter vectors in one pass (the batched Jacobian's evaluations) give what each gives
    alone, and P models in model_torque give what each gives with the one-model delay path."""
    problem, trials, nominal = short_problem(rng)
    sets = problem.lower + rng.uniform(0.2, 0.8, (4, len(problem.x0))) * (problem.upper - problem.lower)
    together = problem.residuals(sets)
    assert together.shape == (4, len(problem.residuals(sets[0])))
    for x, row in zip(sets, together):
        np.testing.assert_allclose(row, problem.residuals(x), rtol=1e-12, atol=1e-14)
    t = trials[0]
    deep = rng.uniform(0.0, 0.5, (3, len(t.torque), 2))
    strength, delay = rng.uniform(0.6, 1.4, (3, 6)), np.array([0.0, 0.037, 0.081])
    batched = synergy.model_torque(t.surface, deep, t.length, t.speed, t.moment_arm, nominal, strength, delay)
    for p in range(3):
        alone = synergy.model_torque(t.surface, deep[p], t.length, t.speed, t.moment_arm, nominal, strength[p],
                                     float(delay[p]))
        np.testing.assert_allclose(batched[p], alone, rtol=1e-12, atol=1e-12)


@pytest.mark.opensim
def test_the_batched_jacobian_is_scipys_finite_difference_jacobian(rng):
    """:meth:`_SynXProblem.jacobian` against SciPy's own sparse forward differences, with a
    strength at its upper bound (where the step must turn back) and the delay near its lower one."""
    from scipy.optimize._numdiff import approx_derivative

    problem, _, _ = short_problem(rng)
    x = problem.x0 + rng.uniform(0.0, 0.05, problem.x0.shape)
    x[problem.n_weights] = problem.upper[problem.n_weights]
    x[problem.n_weights + 6] = 1e-9
    evaluated, residuals = [], problem.residuals
    problem.residuals = lambda sets: evaluated.append(np.array(sets)) or residuals(sets)
    ours = problem.jacobian(x)
    problem.residuals = residuals
    assert len(evaluated) == 1  # every perturbation in one pass
    assert np.all(evaluated[0] >= problem.lower) and np.all(evaluated[0] <= problem.upper)  # none outside a bound
    scipys = approx_derivative(problem.residuals, x, method="2-point", bounds=(problem.lower, problem.upper),
                               sparsity=problem.sparsity())
    assert ours.shape == scipys.shape
    scale = np.abs(scipys.toarray()).max()
    np.testing.assert_allclose(ours.toarray(), scipys.toarray(), rtol=1e-5, atol=1e-6 * scale)
    assert np.abs(ours[:, problem.n_weights].toarray()).max() > 1e-3 * scale  # the bound column was differenced


@pytest.mark.opensim
def test_residual_excitations_correct_a_channel_the_recording_missed(rng):
    """Measured triceps-lateral envelope that misses 0.1 of excitation in one window: with
    residual excitations the fit puts extensor excitation back there (shared between the two
    triceps channels, which the torque cannot tell apart), not elsewhere, and tracks the torque
    better."""
    trials, _, nominal = synthetic_trials(rng, [[[0.25, 0.0], [0.0, 0.3]]] * 2, (0.0, 1.5))
    window = slice(100, 250)
    for t in trials:
        t.surface = t.surface.copy()
        t.surface[window, 3] = np.clip(t.surface[window, 3] - 0.1, 0.0, None)
    found = synergy.extract_synergies(np.vstack([t.surface for t in trials]), 2, "nmf")
    plain = synergy.fit_extrapolation(trials, found, nominal, calibrate=False)
    fitted = synergy.fit_extrapolation(trials, found, nominal, calibrate=False, residual_weight=0.1)
    assert fitted.cost < 0.7 * plain.cost
    assert len(fitted.residual_excitation) == 2 and plain.residual_excitation is None
    for residual in fitted.residual_excitation:
        restored = residual[window.start + 20:window.stop - 20, 2:].sum(axis=1).mean()
        assert 0.04 < restored < 0.15
        assert np.abs(residual[300:]).mean() < 0.02
    with pytest.raises(ValueError, match="residual_weight must be positive"):
        synergy.fit_extrapolation(trials, found, nominal, residual_weight=0.0)


@pytest.mark.opensim
def test_leave_one_channel_out_extrapolates_a_hidden_surface_channel(rng):
    """TRIlat hidden: the synergies come from the three other channels, and TRIlat is
    extrapolated with the deep muscles from the torque alone."""
    trials, truths, nominal = synthetic_trials(rng, [[[0.25, 0.0], [0.0, 0.3]]] * 3, (0.0, 1.5, 3.0))
    hidden = ("BRA", "TRImed", "TRIlat")
    measured = synergy.measured_columns(hidden)
    assert measured == [0, 1, 2]
    found = synergy.extract_synergies(np.vstack([t.surface[:, measured] for t in trials]), 2, "nmf")
    fit = synergy.fit_extrapolation(trials, found, nominal, calibrate=False, extrapolated_weight=0.0, hidden=hidden)
    assert fit.hidden == hidden and fit.deep_weights.shape == (2, 3)
    for t in trials:
        masked = t.surface.copy()
        masked[:, 3] = 0.0  # what the method sees: the hidden column removed
        predicted = fit.deep_excitation(masked)
        assert np.corrcoef(predicted[:, 2], t.surface[:, 3])[0, 1] > 0.95
        torque = synergy.model_torque(masked, predicted, t.length, t.speed, t.moment_arm, nominal,
                                      fit.strength_scale, fit.delay, hidden=hidden)
        assert np.sqrt(np.mean((torque - t.torque) ** 2)) < 0.05 * np.ptp(t.torque)
    with pytest.raises(ValueError, match="extract them from the measured columns only"):
        synergy.fit_extrapolation(trials, synergy.extract_synergies(np.vstack([t.surface for t in trials]), 2),
                                  nominal, hidden=hidden)
