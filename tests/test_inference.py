"""Compiled inference (batch and streaming) against eager calls of the network and the NumPy
muscle chain, which share no code with the batching, padding and buffering under test."""

import types

import keras
import numpy as np
import pytest

from nmm_core import config, inference, muscle, training
from nmm_core.config import MUSCLE_NAMES

WINDOW, DT = 32, 0.01
SUBJECT = config.Subject("inference", segment_length_scale=0.97)


def trial_arrays(rng, n):
    """A TrialArrays-like trial of n samples: smooth kinematics, envelopes and a fitted geometry."""
    from nmm_core.arm_model import fit_muscle_geometry

    t = np.arange(n) * DT
    theta = 1.1 + 0.7 * np.sin(2 * np.pi * rng.uniform(0.4, 1.0) * t)
    omega = np.gradient(theta, DT)
    geometry = fit_muscle_geometry(SUBJECT)
    surface = 0.05 + 0.4 * rng.uniform(size=(n, 4)).cumsum(0) % 1.0 * 0.5
    features = np.column_stack([theta - 1.1, omega / 5, np.zeros(n), np.zeros(n), surface]).astype("float32")
    return types.SimpleNamespace(
        trial=types.SimpleNamespace(name=f"trial{n}", time=t), features=features,
        surface=surface.astype("float32"), length=geometry.length(theta).astype("float32"),
        speed=geometry.lengthening_speed(theta, omega).astype("float32"),
        moment_arm=geometry.moment_arm(theta).astype("float32"), torque=np.zeros(n, dtype="float32"))


@pytest.fixture(scope="module")
def model():
    # An ensemble of three members with different settings (their parameters differ).
    return training.build_model(SUBJECT, WINDOW, backbone="transformer", seed=3, members=3,
                                tie_deep=[True, False, True], initial=[None, None, {"electromechanical_delay": 0.07}])


def eager_deep(model, a, hop):
    """Overlap-averaged backbone outputs of every member by hand, (T, K, 2): one eager call per
    window, NumPy taper."""
    n = a.torque.size
    starts = list(range(0, n - WINDOW + 1, hop))
    if starts[-1] != n - WINDOW:
        starts.append(n - WINDOW)
    taper = np.hanning(WINDOW + 2)[1:-1, None, None]
    total, count = np.zeros((n, model.members, 2)), np.zeros((n, 1, 1))
    for s in starts:
        out = np.moveaxis(keras.ops.convert_to_numpy(model.backbone(a.features[None, s:s + WINDOW], training=False))[0], 0, 1)
        total[s:s + WINDOW] += taper * out
        count[s:s + WINDOW] += taper
    return total / count


def numpy_torque(model, a, deep, member):
    """The physics block's torque from the NumPy muscle chain with one member's parameters."""
    p = {k: keras.ops.convert_to_numpy(v).astype(float)[member] for k, v in model.physics.muscle_parameters().items()}
    order = [list(config.SURFACE_MUSCLES + config.DEEP_MUSCLES).index(m) for m in MUSCLE_NAMES]
    excitation = np.clip(np.concatenate([a.surface, deep], axis=-1)[:, order].astype(float), 0, 1)
    props = [SUBJECT.muscle(m) for m in MUSCLE_NAMES]
    return muscle.excitation_to_torque(
        excitation, a.length.astype(float), a.speed.astype(float), a.moment_arm.astype(float), DT,
        p["electromechanical_delay"], p["activation_time_constant"], p["deactivation_time_constant"],
        p["shape_factor"], np.array([q.max_isometric_force for q in props]) * p["max_isometric_force_scale"],
        np.array([q.optimal_fiber_length for q in props]) * p["optimal_fiber_length_scale"],
        np.array([q.tendon_slack_length for q in props]) * p["tendon_slack_length_scale"],
        np.array([q.pennation_angle_at_optimal for q in props]))


@pytest.mark.opensim
def test_batch_estimate_equals_eager_windows_and_the_numpy_chain(rng, model):
    # Different lengths: the trials are padded to a common one and stacked for the physics.
    trials = [trial_arrays(rng, n) for n in (150, 97, 300)]
    got = inference.estimate(model, trials, WINDOW)
    for a, g in zip(trials, got):
        deep = eager_deep(model, a, WINDOW // 2)  # the default hop
        expected = np.stack([numpy_torque(model, a, deep[:, k], k) for k in range(model.members)])
        assert g["member_hidden"].shape == (3, a.torque.size, 2) and g["member_torque"].shape == (3, a.torque.size)
        np.testing.assert_allclose(np.moveaxis(g["member_hidden"], 0, 1), deep, atol=2e-5)
        np.testing.assert_allclose(g["member_torque"], expected, rtol=1e-3, atol=1e-3 * np.abs(expected).max())
        assert np.ptp(expected, axis=0).max() > 1e-2  # the members differ: the mean below is a test
        # The ensemble's estimate is the mean of its members'.
        np.testing.assert_allclose(g["hidden"], deep.mean(axis=1), atol=2e-5)
        np.testing.assert_allclose(g["torque"], expected.mean(axis=0), rtol=1e-3, atol=1e-3 * np.abs(expected).max())
        one = inference.member_predictions({a.trial.name: g}, 1)[a.trial.name]
        np.testing.assert_array_equal(one["hidden"], g["member_hidden"][1])
    # predict_trial (used by the chapters) gives the same for one trial alone.
    alone = training.predict_trial(model, trials[1], WINDOW)
    np.testing.assert_allclose(alone["torque"], got[1]["torque"], rtol=1e-5, atol=1e-5)


@pytest.mark.opensim
@pytest.mark.parametrize("hop, lag", [(8, 0), (8, 12), (32, 0)])
def test_streaming_releases_each_windows_newest_samples_in_order(rng, model, hop, lag):
    a = trial_arrays(rng, 157)
    stream = inference.StreamingEstimator(model, WINDOW, hop=hop, lag=lag)
    released = []
    chunks = np.split(a.features, [5, 40, 41, 90, 130])  # irregular arrivals
    for chunk in chunks:
        released.append(stream.push(chunk))
    released = np.concatenate(released)
    # By hand: the window ending at e = WINDOW + k*hop gives samples up to e - lag.
    ends = range(WINDOW, a.torque.size + 1, hop)
    expected = []
    for k, end in enumerate(ends):
        out = keras.ops.convert_to_numpy(model.backbone(a.features[None, end - WINDOW:end], training=False))[0].mean(axis=0)
        expected.append(out[: WINDOW - lag] if k == 0 else out[WINDOW - lag - hop: WINDOW - lag])
    expected = np.concatenate(expected)
    assert released.shape == expected.shape == (list(ends)[-1] - lag, 2)
    np.testing.assert_allclose(released, expected, atol=2e-5)
    # After a reset the same recording gives the same estimates.
    stream.reset()
    np.testing.assert_allclose(stream.push(a.features), released, atol=1e-6)


@pytest.mark.parametrize("n, batch_size", [(1, 1024), (70, 1024), (45, 33)])
def test_windows_are_padded_by_less_than_a_quantum_and_the_padding_is_dropped(rng, model, monkeypatch, n, batch_size):
    windows = rng.uniform(size=(n, WINDOW, 8)).astype("float32")
    sizes, call = [], model.backbone.predict_on_batch
    monkeypatch.setattr(model.backbone, "predict_on_batch", lambda x: sizes.append(len(x)) or call(x))
    got = inference.predict_windows(model, windows, batch_size=batch_size)
    chunks = [len(windows[i:i + batch_size]) for i in range(0, n, batch_size)]
    # Each chunk goes in padded to a multiple of the quantum, by fewer windows than the quantum.
    assert [s % inference.BATCH_QUANTUM for s in sizes] == [0] * len(chunks)
    assert all(c <= s < c + inference.BATCH_QUANTUM for c, s in zip(chunks, sizes))
    # What comes back is each real window's output (eager calls, one window at a time).
    expected = np.concatenate([keras.ops.convert_to_numpy(model.backbone(w[None], training=False)) for w in windows])
    np.testing.assert_allclose(got, expected, atol=2e-5)


def test_bad_streaming_settings_and_short_trials_are_refused(rng, model):
    with pytest.raises(ValueError, match="must not exceed the window"):
        inference.estimate(model, [trial_arrays(rng, 100)], WINDOW, hop=WINDOW + 1)
    with pytest.raises(ValueError, match="hop"):
        inference.StreamingEstimator(model, WINDOW, hop=WINDOW + 1)
    with pytest.raises(ValueError, match="lag"):
        inference.StreamingEstimator(model, WINDOW, hop=8, lag=WINDOW)
    with pytest.raises(ValueError, match="fewer than the window"):
        inference.window_starts(WINDOW - 1, WINDOW, 8)
    with pytest.raises(ValueError, match="n_features"):
        inference.StreamingEstimator(model, WINDOW).push(np.zeros(8))


@pytest.mark.opensim
def test_batch_estimate_of_an_nmm_with_a_synergy_prior_reads_the_synergy_windows(rng):
    """With a synergy prior the estimate runs the whole hidden computation on feature and
    synergy windows: by hand, one eager call per window, Hann-averaged."""
    model = training.build_model(SUBJECT, WINDOW, backbone="conv", seed=2, members=2, synergies=3)
    a = trial_arrays(rng, 140)
    a.synergy = rng.uniform(0, 0.5, (140, 3)).astype("float32")
    got = inference.estimate(model, [a], WINDOW)[0]
    hop, n = WINDOW // 2, a.torque.size  # the default hop
    taper = np.hanning(WINDOW + 2)[1:-1, None]
    total, count = np.zeros((2, n, 2)), np.zeros((1, n, 1))
    for s in inference.window_starts(n, WINDOW, hop):
        out = keras.ops.convert_to_numpy(model.hidden({"features": a.features[None, s:s + WINDOW],
                                                       "synergy": a.synergy[None, s:s + WINDOW]})["hidden"])[0]
        total[:, s:s + WINDOW] += taper * out  # out: (K, window, H)
        count[:, s:s + WINDOW] += taper
    np.testing.assert_allclose(got["member_hidden"], total / count, atol=2e-5)
    with pytest.raises(ValueError, match="synergy prior"):
        inference.StreamingEstimator(model, WINDOW)
