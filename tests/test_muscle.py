"""The differentiable muscle against OpenSim's DeGrooteFregly2016Muscle, SciPy and closed forms."""

import math

import keras
import numpy as np
import pytest
from scipy.integrate import solve_ivp

from nmm_core import arm_model, config, muscle
from nmm_core.config import MUSCLE_NAMES

osim = pytest.importorskip("opensim")

SUBJECT = config.Subject("grid", segment_length_scale=1.05,
                         max_isometric_force_scale={"BRA": 1.2, "TRIlong": 0.9})


def parameters(subject):
    props = [subject.muscle(name) for name in MUSCLE_NAMES]
    return {field: np.array([getattr(p, field) for p in props])
            for field in ("max_isometric_force", "optimal_fiber_length", "tendon_slack_length",
                          "pennation_angle_at_optimal")}


@pytest.mark.opensim
def test_normalised_curves_equal_opensims():
    reference = osim.DeGrooteFregly2016Muscle()
    lengths = np.linspace(0.25, 1.8, 157)
    velocities = np.linspace(-1.0, 1.0, 101)
    np.testing.assert_allclose(
        muscle.active_force_length(lengths),
        [reference.calcActiveForceLengthMultiplier(x) for x in lengths], atol=1e-12)
    np.testing.assert_allclose(
        muscle.passive_force_length(lengths),
        [reference.calcPassiveForceMultiplier(x) for x in lengths], atol=1e-12)
    np.testing.assert_allclose(
        muscle.force_velocity(velocities),
        [reference.calcForceVelocityMultiplier(v) for v in velocities], atol=1e-12)


def _grid():
    activations = np.array([0.0, 0.02, 0.3, 0.75, 1.0])
    angles = np.linspace(*config.ELBOW_RANGE, 13)
    speeds = np.array([-5.0, -1.5, 0.0, 1.5, 5.0])  # rad/s
    a, q, w = np.meshgrid(activations, angles, speeds, indexing="ij")
    return np.repeat(a.reshape(-1, 1), 6, axis=1), q.reshape(-1), w.reshape(-1)


@pytest.mark.opensim
@pytest.mark.parametrize("shoulder", [0.0, math.pi])
def test_keras_force_matches_opensim_muscle_within_1_percent_of_max_force(shoulder):
    """The chain a learner uses (fitted geometry + keras.ops muscle, on tensors) vs OpenSim."""
    activation, angle, speed = _grid()
    forces, lengths, speeds = arm_model.opensim_muscle_forces(SUBJECT, angle, speed, activation, shoulder)
    p = parameters(SUBJECT)
    # 1. Same musculotendon kinematics as OpenSim: the muscle curves alone.
    direct = muscle.muscle_force(activation, lengths, speeds, **p)
    assert np.abs(direct - forces).max() < 1e-6 * p["max_isometric_force"].max()
    # 2. The learner's chain: fitted lengths and speeds, tensors in, tensors out.
    geometry = arm_model.fit_muscle_geometry(SUBJECT, shoulder)
    theta = keras.ops.convert_to_tensor(angle, dtype="float64")
    omega = keras.ops.convert_to_tensor(speed, dtype="float64")
    chain = muscle.muscle_force(keras.ops.convert_to_tensor(activation), geometry.length(theta),
                                geometry.lengthening_speed(theta, omega), **p)
    error = np.abs(keras.ops.convert_to_numpy(chain) - forces) / p["max_isometric_force"]
    assert error.max() < 0.01, f"max error {error.max():.4%} of max isometric force"


def test_numpy_and_tensor_paths_agree(rng):
    p = parameters(config.NOMINAL_SUBJECT)
    a = rng.uniform(0, 1, (4, 6))
    length = p["tendon_slack_length"] + p["optimal_fiber_length"] * rng.uniform(0.6, 1.4, (4, 6))
    speed = rng.uniform(-0.5, 0.5, (4, 6))
    on_arrays = muscle.muscle_force(a, length, speed, **p)
    assert isinstance(on_arrays, np.ndarray)
    on_tensors = keras.ops.convert_to_numpy(
        muscle.muscle_force(*(keras.ops.convert_to_tensor(x) for x in (a, length, speed)), **p))
    # JAX computes in float32 unless x64 is enabled; TensorFlow keeps the arrays' float64.
    np.testing.assert_allclose(on_tensors, on_arrays, rtol=1e-10 if on_tensors.dtype == np.float64 else 2e-5)


def test_isometric_force_at_optimal_length_is_max_force_times_cos_pennation():
    p = parameters(config.NOMINAL_SUBJECT)
    along = p["optimal_fiber_length"] * np.cos(p["pennation_angle_at_optimal"])
    force = muscle.muscle_force(1.0, p["tendon_slack_length"] + along, 0.0, **p)
    expected = p["max_isometric_force"] * (1 + muscle.passive_force_length(1.0)) * np.cos(p["pennation_angle_at_optimal"])
    np.testing.assert_allclose(force, expected, rtol=1e-12)


def _gradient(function, *arguments):
    """Gradients of sum(function(*arguments)) w.r.t. every argument, on Keras' backend."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        variables = [tf.convert_to_tensor(x) for x in arguments]
        with tf.GradientTape() as tape:
            tape.watch(variables)
            total = tf.reduce_sum(function(*variables))
        return [g.numpy() for g in tape.gradient(total, variables)]
    if backend == "jax":
        import jax

        return [np.asarray(g) for g in jax.grad(lambda *x: function(*x).sum(),
                                                 argnums=tuple(range(len(arguments))))(*arguments)]
    raise RuntimeError(f"no gradient helper for backend {backend!r}")


def test_torque_gradients_are_finite_and_match_finite_differences(rng):
    geometry = arm_model.fit_muscle_geometry()
    p = parameters(config.NOMINAL_SUBJECT)
    theta = np.linspace(0.1, 2.1, 25)
    omega = 2.0 * np.sin(3 * theta)
    r = geometry.moment_arm(theta)
    length = geometry.length(theta)
    speed = geometry.lengthening_speed(theta, omega)

    def torque(activation, strength, optimal_length, slack_length):
        force = muscle.muscle_force(activation, length, speed, strength, optimal_length, slack_length,
                                    p["pennation_angle_at_optimal"])
        return muscle.joint_torque(r, force)

    arguments = [rng.uniform(0.05, 0.9, (theta.size, 6)), p["max_isometric_force"],
                 p["optimal_fiber_length"], p["tendon_slack_length"]]
    gradients = _gradient(torque, *arguments)
    for value, gradient in zip(arguments, gradients):
        assert np.all(np.isfinite(gradient))
        flat = value.reshape(-1)
        for k in rng.choice(flat.size, size=min(6, flat.size), replace=False):
            step = 1e-6 * max(abs(flat[k]), 1e-3)
            up, down = [a.copy() for a in arguments], [a.copy() for a in arguments]
            index = next(i for i, a in enumerate(arguments) if a is value)
            up[index].reshape(-1)[k] += step
            down[index].reshape(-1)[k] -= step
            numeric = (torque(*up).sum() - torque(*down).sum()) / (2 * step)
            assert gradient.reshape(-1)[k] == pytest.approx(numeric, rel=1e-5, abs=1e-6)


_OPENSIM_ACTIVATION_RATES = """
import json, sys
from nmm_core import arm_model
smoothing = float(sys.argv[1])
model = arm_model.use_degroote_fregly_muscles(arm_model.build_arm_model(),
    ignore_activation_dynamics=False, activation_smoothing=smoothing)
state = model.initSystem()
bra = model.getMuscles().get("BRA")
index = model.getActuators().getIndex("BRA")
rates = []
for excitation, activation in json.loads(sys.argv[2]):
    bra.setActivation(state, activation)
    model.realizeVelocity(state)
    controls = model.getControls(state)
    controls.set(index, excitation)
    model.setControls(state, controls)
    model.realizeAcceleration(state)
    rates.append(bra.getStateVariableDerivativeValue(state, "activation"))
print(json.dumps(rates))
"""


@pytest.mark.opensim
@pytest.mark.parametrize("smoothing", [muscle.ACTIVATION_SMOOTHING, 0.1])
def test_activation_derivative_equals_opensims(smoothing):
    # Fresh process per value: OpenSim 4.6 keeps the activation smoothing of the first
    # DeGrooteFregly2016Muscle it initialises in a process for all later ones (seen here).
    import json
    import subprocess
    import sys

    pairs = [(0.8, 0.1), (0.1, 0.8), (0.5, 0.5), (0.52, 0.5), (1.0, 0.0)]
    run = subprocess.run([sys.executable, "-c", _OPENSIM_ACTIVATION_RATES, str(smoothing),
                          json.dumps(pairs)], capture_output=True, text=True, check=True,
                         cwd=str(config.REPO_ROOT))
    expected = json.loads(run.stdout.strip().splitlines()[-1])
    for (excitation, activation), rate in zip(pairs, expected):
        got = muscle.activation_derivative(excitation, activation, config.ACTIVATION_TIME_CONSTANT,
                                           config.DEACTIVATION_TIME_CONSTANT, smoothing)
        assert got == pytest.approx(rate, rel=1e-9, abs=1e-9)


def test_activation_dynamics_converges_to_scipy_solution():
    dt = 0.001
    time = np.arange(0, 0.6, dt)
    excitation = np.where((time > 0.1) & (time < 0.3), 0.9, 0.05)[:, None].repeat(2, axis=1)
    excitation[:, 1] = 0.5 + 0.4 * np.sin(2 * np.pi * 3 * time)
    ours = muscle.activation_dynamics(excitation, dt)

    def rhs(t, a):
        u = excitation[min(int(t / dt + 1e-9), len(time) - 1)]  # zero-order hold, as ours
        return muscle.activation_derivative(u, a)

    reference = solve_ivp(rhs, (0, time[-1]), excitation[0], t_eval=time, max_step=dt / 4,
                          rtol=1e-9, atol=1e-11).y.T
    assert np.abs(ours - reference).max() < 0.02
    # On tensors with a batch axis, the same numbers.
    tensor = muscle.activation_dynamics(keras.ops.convert_to_tensor(excitation[None]), dt)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(tensor)[0], ours, atol=1e-6)


def test_nonlinear_activation_closed_form():
    u = np.linspace(0, 1, 11)
    for shape in (-3.0, -1.0, -0.01):
        a = muscle.nonlinear_activation(u, shape)
        np.testing.assert_allclose(a, (np.exp(shape * u) - 1) / (np.exp(shape) - 1), rtol=1e-9)
        assert a[0] == 0 and a[-1] == pytest.approx(1.0) and np.all(np.diff(a) > 0)
    np.testing.assert_allclose(muscle.nonlinear_activation(u, 0.0), u)
    grad_u, grad_shape = _gradient(muscle.nonlinear_activation, u, np.array(-1.5))
    assert np.all(np.isfinite(grad_u)) and np.isfinite(grad_shape)


def test_electromechanical_delay_interpolates_and_has_a_gradient():
    dt = 0.01
    t = np.arange(0, 1, dt)
    signal = np.stack([np.sin(2 * np.pi * t), np.cos(2 * np.pi * 2 * t)], axis=1)
    delays = np.array([0.03, 0.047])
    delayed = muscle.electromechanical_delay(signal, delays, dt)
    for c in range(2):
        expected = np.interp(t - delays[c], t, signal[:, c])  # holds the first sample before 0
        np.testing.assert_allclose(delayed[:, c], expected, atol=1e-12)
    tensor = muscle.electromechanical_delay(keras.ops.convert_to_tensor(signal[None]),
                                            keras.ops.convert_to_tensor(delays), dt)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(tensor)[0], delayed, atol=1e-6)
    (_, grad_delay) = _gradient(lambda s, d: muscle.electromechanical_delay(s, d, dt), signal, delays)
    assert np.all(np.isfinite(grad_delay)) and np.all(grad_delay != 0)
