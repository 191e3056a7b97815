"""Differentiable Hill-type muscle physics: excitation -> activation -> force -> elbow torque.

One code for two worlds. Every function here accepts NumPy arrays (and returns NumPy arrays,
without importing TensorFlow: the synergy baseline relies on this) or Keras/backend tensors and
variables (and returns tensors, differentiable with ``keras.ops``). The namespace is chosen
from the inputs by :func:`array_namespace`.

The curves are the closed forms of De Groote et al. (2016, Ann. Biomed. Eng. 44:2922), as in
OpenSim's ``DeGrooteFregly2016Muscle``, with a rigid tendon: fibers are in series with an
inextensible tendon and keep a constant thickness as they pennate (OpenSim's
``MuscleFixedWidthPennationModel``). The tests compare every curve and the total force with
OpenSim computing live.

Conventions: time along axis ``-2`` of a ``(..., T, n_muscles)`` array, muscles along the last
axis; lengths in m, speeds in m/s (positive = lengthening), forces in N, torques in N m with
flexion positive, angles in rad.
"""

from __future__ import annotations

import math

import numpy as np

# De Groote et al. 2016 (Eqs. 1-3 and their Table 1) publish these curve constants. OpenSim
# renormalises them so that the curves pass exactly through their defining points:
# f_L(1) = 1 (rescaled first term), f_V(0) = 1 and f_V(-1) = 0 (d1, d4 solved with d2, d3 rounded
# to three digits). We apply the same two conditions below, so the curves match OpenSim's.
_PUBLISHED_ACTIVE_FL_TERMS = (  # (b1, b2, b3, b4) of three Gaussian-like terms
    (0.814483478343008, 1.055033428970575, 0.162384573599574, 0.063303448465465),
    (0.433004984392647, 0.716775413397760, -0.029947116970696, 0.200356847296188),
    (0.100000000000000, 1.000000000000000, 0.353553390593274, 0.000000000000000),
)


def _gaussian_term(length, b2, b3, b4):
    return math.exp(-0.5 * (length - b2) ** 2 / (b3 + b4 * length) ** 2)


def _normalised_active_terms():
    (_, *first), *rest = _PUBLISHED_ACTIVE_FL_TERMS
    others_at_one = sum(b1 * _gaussian_term(1.0, b2, b3, b4) for b1, b2, b3, b4 in rest)
    b1 = (1.0 - others_at_one) / _gaussian_term(1.0, *first)
    return ((b1, *first), *rest)


_ACTIVE_FL_TERMS = _normalised_active_terms()
_FV_D2, _FV_D3 = -8.149, -0.374
_FV_D1 = -1.0 / (math.asinh(-_FV_D2 + _FV_D3) - math.asinh(_FV_D3))  # f_V(-1) = 0, f_V(0) = 1
_FV_D4 = 1.0 - _FV_D1 * math.asinh(_FV_D3)
_PASSIVE_SHAPE = 4.0  # kPE
MIN_NORMALIZED_FIBER_LENGTH = 0.2  # the passive curve is zero here, as in OpenSim
#: Sharpness b of the tanh switch between activation and deactivation time constants. 10 is
#: De Groote et al. 2016's value (a near step); OpenSim 4.6's property
#: ``activation_dynamics_smoothing`` defaults to 0.1 (nearly the mean of the two), so
#: :func:`nmm_core.arm_model.use_degroote_fregly_muscles` sets it to this value.
ACTIVATION_SMOOTHING = 10.0


def _is_numpy(x) -> bool:
    return isinstance(x, (np.ndarray, np.generic, float, int)) and not isinstance(x, bool)


def array_namespace(*arrays):
    """Return ``numpy`` if every input is a NumPy array or Python number, else ``keras.ops``.

    Parameters
    ----------
    *arrays
        Any mix of NumPy arrays, numbers, backend tensors and ``keras.Variable``.
    """
    if all(_is_numpy(a) for a in arrays if a is not None):
        return np
    import keras  # only imported when a tensor is actually given

    return keras.ops


# --------------------------------------------------------------------------------------------
# Normalised curves (dimensionless).
# --------------------------------------------------------------------------------------------
def active_force_length(normalized_fiber_length, width_scale=1.0):
    """Active force-length multiplier f_L(l~), 1 at optimal length.

    Parameters
    ----------
    normalized_fiber_length : array_like
        Fiber length divided by optimal fiber length, any shape.
    width_scale : float
        Widens the curve about l~ = 1 (OpenSim's ``active_force_width_scale``; 1 = published).
    """
    xp = array_namespace(normalized_fiber_length)
    length = 1.0 + (normalized_fiber_length - 1.0) / width_scale
    total = 0.0
    for b1, b2, b3, b4 in _ACTIVE_FL_TERMS:
        total = total + b1 * xp.exp(-0.5 * xp.square(length - b2) / xp.square(b3 + b4 * length))
    return total


def passive_force_length(normalized_fiber_length, strain_at_one_norm_force=0.6):
    """Passive fiber force multiplier f_PE(l~): 0 at l~ = 0.2, 1 at l~ = 1 + strain.

    Parameters
    ----------
    normalized_fiber_length : array_like
        Fiber length / optimal fiber length, any shape.
    strain_at_one_norm_force : float
        Fiber strain at which passive force equals max isometric force (OpenSim default 0.6).
    """
    xp = array_namespace(normalized_fiber_length)
    k, e0 = _PASSIVE_SHAPE, strain_at_one_norm_force
    offset = math.exp(k * (MIN_NORMALIZED_FIBER_LENGTH - 1.0) / e0)
    return (xp.exp(k * (normalized_fiber_length - 1.0) / e0) - offset) / (math.exp(k) - offset)


def force_velocity(normalized_fiber_velocity):
    """Force-velocity multiplier f_V(v~): 0 at v~ = -1 (max shortening), 1 at rest.

    Parameters
    ----------
    normalized_fiber_velocity : array_like
        Fiber velocity / (max contraction velocity x optimal fiber length); lengthening > 0.
    """
    xp = array_namespace(normalized_fiber_velocity)
    z = _FV_D2 * normalized_fiber_velocity + _FV_D3
    return _FV_D1 * xp.log(z + xp.sqrt(xp.square(z) + 1.0)) + _FV_D4


# --------------------------------------------------------------------------------------------
# Rigid-tendon musculotendon.
# --------------------------------------------------------------------------------------------
def fiber_kinematics(musculotendon_length, musculotendon_speed, optimal_fiber_length,
                     tendon_slack_length, pennation_angle_at_optimal):
    """Fiber length, fiber velocity and cos(pennation) of a rigid-tendon musculotendon.

    Fibers keep the thickness ``optimal_fiber_length * sin(pennation_angle_at_optimal)``.

    Parameters
    ----------
    musculotendon_length, musculotendon_speed : array_like
        Path length (m) and its rate of change (m/s, lengthening > 0), shape (..., n_muscles).
    optimal_fiber_length, tendon_slack_length, pennation_angle_at_optimal : array_like
        Per-muscle parameters, shape broadcastable to (..., n_muscles); m, m, rad.

    Returns
    -------
    fiber_length, fiber_velocity, cos_pennation : arrays of the broadcast shape
        m, m/s, dimensionless.
    """
    xp = array_namespace(musculotendon_length, musculotendon_speed, optimal_fiber_length,
                         tendon_slack_length, pennation_angle_at_optimal)
    thickness = optimal_fiber_length * xp.sin(pennation_angle_at_optimal)
    along_tendon = musculotendon_length - tendon_slack_length
    fiber_length = xp.sqrt(xp.square(thickness) + xp.square(along_tendon))
    cos_pennation = along_tendon / fiber_length
    return fiber_length, musculotendon_speed * cos_pennation, cos_pennation


def muscle_force(activation, musculotendon_length, musculotendon_speed, max_isometric_force,
                 optimal_fiber_length, tendon_slack_length, pennation_angle_at_optimal,
                 max_contraction_velocity=10.0, fiber_damping=0.0,
                 passive_strain_at_one_norm_force=0.6, active_force_width_scale=1.0):
    """Tendon force of a rigid-tendon Hill muscle, F = F0 (a f_L f_V + f_PE + d v~) cos(phi).

    Parameters
    ----------
    activation : array_like
        Muscle activation in [0, 1], shape (..., n_muscles).
    musculotendon_length, musculotendon_speed : array_like
        m and m/s (lengthening > 0), shape (..., n_muscles).
    max_isometric_force : array_like
        N, broadcastable to (..., n_muscles).
    optimal_fiber_length, tendon_slack_length, pennation_angle_at_optimal : array_like
        m, m, rad, broadcastable to (..., n_muscles).
    max_contraction_velocity : float or array_like
        Optimal fiber lengths per second.
    fiber_damping, passive_strain_at_one_norm_force, active_force_width_scale : float
        As OpenSim's ``DeGrooteFregly2016Muscle`` properties of the same names.

    Returns
    -------
    array
        Force along the tendon, N, shape (..., n_muscles).
    """
    fiber_length, fiber_velocity, cos_pennation = fiber_kinematics(
        musculotendon_length, musculotendon_speed, optimal_fiber_length, tendon_slack_length,
        pennation_angle_at_optimal)
    norm_length = fiber_length / optimal_fiber_length
    norm_velocity = fiber_velocity / (max_contraction_velocity * optimal_fiber_length)
    normalized_fiber_force = (
        activation * active_force_length(norm_length, active_force_width_scale)
        * force_velocity(norm_velocity)
        + passive_force_length(norm_length, passive_strain_at_one_norm_force)
        + fiber_damping * norm_velocity
    )
    return max_isometric_force * normalized_fiber_force * cos_pennation


def joint_torque(moment_arms, forces):
    """Joint torque = sum over muscles of moment arm x tendon force.

    Parameters
    ----------
    moment_arms : array_like
        m, shape (..., n_muscles); flexors positive (OpenSim's sign for the elbow).
    forces : array_like
        N, shape (..., n_muscles).

    Returns
    -------
    array
        N m, shape (...).
    """
    xp = array_namespace(moment_arms, forces)
    return xp.sum(moment_arms * forces, axis=-1)


def excitation_to_torque(excitation, musculotendon_length, musculotendon_speed, moment_arm,
                         time_step, delay, activation_time_constant,
                         deactivation_time_constant, shape_factor, max_isometric_force,
                         optimal_fiber_length, tendon_slack_length, pennation_angle_at_optimal):
    """The whole EMG-driven chain: delay -> activation dynamics -> shape factor -> force -> torque.

    The NMM's physics block (:class:`nmm_core.network.MusclePhysics`) and the synergy baseline
    both call this, on tensors and on NumPy arrays respectively.

    Parameters
    ----------
    excitation : array_like
        Excitations (normalised EMG) in [0, 1], shape (..., T, 6), MUSCLE_NAMES order.
    musculotendon_length, musculotendon_speed, moment_arm : array_like
        m, m/s, m; shape (..., T, 6).
    time_step : float
        s.
    delay, activation_time_constant, deactivation_time_constant : array_like
        Electromechanical delay and activation time constants, s, shape (6,).
    shape_factor : array_like
        A, shape (6,).
    max_isometric_force, optimal_fiber_length, tendon_slack_length, pennation_angle_at_optimal :
        array_like
        N, m, m, rad; shape (6,). On backend tensors every parameter may instead have shape
        (K, 1, 6), with inputs of shape (B, K, T, 6) (broadcastable): K models with parameters
        of their own (the members of an ensemble, :class:`nmm_core.network.MusclePhysics`) in
        one call.

    Returns
    -------
    array
        Elbow torque, N m, shape (..., T).
    """
    def per_step(value):  # activation dynamics steps over (..., C) slices: drop the time axis
        return value[..., 0, :] if len(getattr(value, "shape", ())) >= 2 else value

    delayed = electromechanical_delay(excitation, delay, time_step)
    neural = activation_dynamics(delayed, time_step, per_step(activation_time_constant),
                                 per_step(deactivation_time_constant))
    activation = nonlinear_activation(neural, shape_factor)
    force = muscle_force(activation, musculotendon_length, musculotendon_speed, max_isometric_force,
                         optimal_fiber_length, tendon_slack_length, pennation_angle_at_optimal)
    return joint_torque(moment_arm, force)


# --------------------------------------------------------------------------------------------
# Excitation -> activation.
# --------------------------------------------------------------------------------------------
def activation_derivative(excitation, activation,
                          activation_time_constant=0.010, deactivation_time_constant=0.040,
                          smoothing=ACTIVATION_SMOOTHING):
    """Rate of change of activation, da/dt (1/s), De Groote et al. 2016 Eq. 1-2.

    A tanh blends the activation time constant (rising, scaled by 0.5 + 1.5 a) and the
    deactivation one (falling, scaled by 1 / (0.5 + 1.5 a)); the same equation as OpenSim's
    ``DeGrooteFregly2016Muscle``, whose ``activation_dynamics_smoothing`` is ``smoothing``.

    Parameters
    ----------
    excitation, activation : array_like
        In [0, 1], broadcastable shapes.
    activation_time_constant, deactivation_time_constant : float or array_like
        s.
    smoothing : float
        Sharpness of the switch (see :data:`ACTIVATION_SMOOTHING`).
    """
    xp = array_namespace(excitation, activation)
    blend = 0.5 * xp.tanh(smoothing * (excitation - activation))
    scale = 0.5 + 1.5 * activation
    rate = (0.5 + blend) / (activation_time_constant * scale) + scale * (0.5 - blend) / deactivation_time_constant
    return rate * (excitation - activation)


def activation_dynamics(excitation, time_step, activation_time_constant=0.010,
                        deactivation_time_constant=0.040, initial_activation=None,
                        smoothing=ACTIVATION_SMOOTHING):
    """Integrate first-order activation dynamics over a sampled excitation.

    Exponential Euler: within a step the rate constant is frozen, so
    ``a[k+1] = u[k] + (a[k] - u[k]) exp(-dt k(u[k], a[k]))`` which is stable for any step and
    exact for constant excitation and rate.

    Parameters
    ----------
    excitation : array_like
        Excitations in [0, 1], shape (..., T, n_muscles).
    time_step : float
        Sampling interval, s.
    activation_time_constant, deactivation_time_constant : float or array_like
        s, broadcastable to (n_muscles,).
    initial_activation : array_like, optional
        Shape (..., n_muscles); defaults to the first excitation sample (steady state).
    smoothing : float
        See :func:`activation_derivative`.

    Returns
    -------
    array
        Activations, shape (..., T, n_muscles).
    """
    xp = array_namespace(excitation, activation_time_constant, deactivation_time_constant,
                         initial_activation)
    first = excitation[..., 0, :]
    activation = first if initial_activation is None else initial_activation

    def step(current, u):
        return activation_step(current, u, time_step, activation_time_constant,
                               deactivation_time_constant, smoothing)

    if xp is np:
        samples = np.moveaxis(np.asarray(excitation, dtype=float), -2, 0)
        out = [activation]
        for u in samples[:-1]:
            out.append(step(out[-1], u))
        return np.moveaxis(np.stack(out), 0, -2)

    time_major = xp.moveaxis(excitation, -2, 0)
    import keras

    if keras.backend.backend() == "tensorflow":
        # tf.scan bounds its loop (maximum_iterations), so that the gradient's accumulators
        # have a fixed size and XLA can compile training; keras.ops.scan's loop is unbounded.
        import tensorflow as tf

        after = tf.scan(step, time_major[:-1], initializer=activation)
        trajectory = xp.concatenate([activation[None], after], axis=0)
    else:
        def scan_step(carry, u):
            return step(carry, u), carry

        _, trajectory = xp.scan(scan_step, activation, time_major)
    return xp.moveaxis(trajectory, 0, -2)


def activation_step(activation, excitation, time_step, activation_time_constant=0.010,
                    deactivation_time_constant=0.040, smoothing=ACTIVATION_SMOOTHING):
    """One exponential-Euler step of activation dynamics (see :func:`activation_dynamics`).

    Parameters
    ----------
    activation, excitation : array_like
        a at the start of the step and u held over it, in [0, 1], broadcastable shapes.
    time_step : float
        s.

    Returns
    -------
    array
        a at the end of the step.
    """
    xp = array_namespace(activation, excitation)
    gap = excitation - activation
    safe_gap = xp.where(xp.abs(gap) > 1e-9, gap, 1e-9)  # rate = (da/dt)/gap, finite at 0
    rate = activation_derivative(excitation, activation, activation_time_constant,
                                 deactivation_time_constant, smoothing) / safe_gap
    return excitation + (activation - excitation) * xp.exp(-time_step * rate)


def nonlinear_activation(neural_activation, shape_factor):
    """Non-linear EMG-to-activation map a = (exp(A u) - 1) / (exp(A) - 1), -3 < A < 0.

    A -> 0 is the identity (taken exactly, without dividing by zero).

    Parameters
    ----------
    neural_activation : array_like
        u in [0, 1], shape (..., n_muscles).
    shape_factor : float or array_like
        A, broadcastable to (n_muscles,); negative values bend the curve upwards.
    """
    xp = array_namespace(neural_activation, shape_factor)
    tiny = 1e-6
    near_zero = xp.abs(shape_factor) < tiny
    safe = xp.where(near_zero, -tiny, shape_factor)
    curved = xp.expm1(safe * neural_activation) / xp.expm1(safe)
    return xp.where(near_zero, neural_activation + 0.0 * curved, curved)


def electromechanical_delay(signal, delay, time_step):
    """Delay a sampled signal by ``delay`` seconds, linearly interpolating between samples.

    The first sample is held for times before the start. Differentiable in ``signal`` and
    (almost everywhere) in ``delay``.

    Parameters
    ----------
    signal : array_like
        Shape (..., T, n_channels).
    delay : float or array_like
        s, scalar or shape (n_channels,), non-negative.
    time_step : float
        Sampling interval, s.
    """
    xp = array_namespace(signal, delay)
    steps = delay / time_step
    whole = xp.floor(steps)
    frac = steps - whole
    n = signal.shape[-2]
    if n is None:  # a traced function whose time axis is left open (e.g. Keras's predict)
        n = xp.shape(signal)[-2]
    positions = np.arange(n, dtype=float) if xp is np else xp.cast(xp.arange(n), whole.dtype)
    index = positions[:, None] - whole  # (T, C): fractional source sample of each output
    last = n - 1 if xp is np or isinstance(n, int) else xp.cast(n - 1, whole.dtype)
    lower = xp.clip(index, 0, last)
    upper = xp.clip(index - 1, 0, last)
    if xp is np:
        lower, upper = lower.astype(int), upper.astype(int)
        channels = np.arange(signal.shape[-1])
        lower = np.broadcast_to(lower, (n, signal.shape[-1]))
        upper = np.broadcast_to(upper, (n, signal.shape[-1]))
        at_lower = signal[..., lower, channels]
        at_upper = signal[..., upper, channels]
    else:  # a delay of shape (K, 1, C) gives an index (K, T, C): one per member of an ensemble
        lower, upper = xp.cast(lower, "int32"), xp.cast(upper, "int32")
        at_lower = xp.take_along_axis(signal, _expand_like(xp, lower, signal), axis=-2)
        at_upper = xp.take_along_axis(signal, _expand_like(xp, upper, signal), axis=-2)
    return (1.0 - frac) * at_lower + frac * at_upper


def _expand_like(xp, index, signal):
    """Broadcast a (T, 1), (T, C) or (K, T, C) index to the leading batch dimensions of ``signal``."""
    for _ in range(len(signal.shape) - len(index.shape)):
        index = xp.expand_dims(index, 0)
    return xp.broadcast_to(index, xp.shape(signal))  # dynamic: the batch size may be unknown
