"""The OpenSim arm: building it in code, and what the learner needs from it.

OpenSim prepares data here and nowhere else: a subject's model is built from a
:class:`~nmm_core.config.Subject` with the OpenSim 4.6 API; its musculotendon lengths and moment
arms are sampled over the elbow range and fitted by polynomials (:class:`MuscleGeometry`), so
training never calls OpenSim; its inverse dynamics give the reference elbow torque.

Frames: the humerus hangs from a shoulder-elevation pin (z axis, 0 = upper arm vertical and
hanging, pi = overhead) attached to ground; the forearm+hand hangs from an elbow pin at the
distal humerus (z axis, 0 = full extension, positive = flexion). x points forward (anterior),
y up when the arm hangs. The model is planar: every attachment lies in the x-y plane.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Mapping

import numpy as np
from scipy.interpolate import make_interp_spline

from . import config
from .config import MUSCLE_NAMES, Subject
from .muscle import ACTIVATION_SMOOTHING, array_namespace

# Attachment points of the nominal subject (m), a design of this project: arm26's muscles with
# paths chosen so that (i) moment-arm profiles follow the published shape for each muscle
# (biceps peaking near 100 deg of flexion, brachialis smaller, triceps nearly constant thanks to
# a wrap around the distal humerus) and (ii) each muscle's fibers stay within 0.5-1.5 optimal
# lengths over the elbow range with the arm hanging. Scaled by ``segment_length_scale``.
# Each entry: list of (frame, x, y), frame in {"ground", "humerus", "forearm"}; humerus points
# are relative to the shoulder centre, forearm points relative to the elbow axis.
MUSCLE_PATHS: Mapping[str, tuple[tuple[str, float, float], ...]] = {
    "TRIlong": (("ground", -0.020, -0.010), ("humerus", -0.024, -0.245),
                ("forearm", -0.020, 0.012)),
    "TRIlat": (("humerus", -0.012, -0.0937), ("humerus", -0.024, -0.245),
               ("forearm", -0.020, 0.012)),
    "TRImed": (("humerus", -0.010, -0.1011), ("humerus", -0.022, -0.250),
               ("forearm", -0.019, 0.010)),
    "BIClong": (("ground", 0.000, 0.0833), ("humerus", 0.015, -0.010),
                ("forearm", 0.010, -0.048)),
    "BICshort": (("ground", 0.030, 0.0194), ("humerus", 0.015, -0.060),
                 ("forearm", 0.009, -0.046)),
    "BRA": (("humerus", 0.007, -0.1591), ("forearm", 0.004, -0.025)),
}
#: Cylinder around which the triceps wrap at the elbow (radius in m, on the posterior side).
TRICEPS_WRAP_RADIUS = 0.020
TRICEPS = ("TRIlong", "TRIlat", "TRImed")


def _osim():
    import opensim  # imported lazily: the rest of the package works without it

    return opensim


def _vec(x, y, z=0.0):
    return _osim().Vec3(float(x), float(y), float(z))


def _check_angle(name: str, value: float, bounds: tuple[float, float]) -> float:
    value = float(value)
    low, high = bounds
    if not math.isfinite(value) or not low - 1e-9 <= value <= high + 1e-9:
        raise ValueError(
            f"{name} = {value!r} rad is outside the model's range [{low:.4f}, {high:.4f}] rad "
            f"({math.degrees(low):.1f} to {math.degrees(high):.1f} deg); angles are in radians."
        )
    return value


def _check_load(hand_load: float) -> float:
    hand_load = float(hand_load)
    if not math.isfinite(hand_load) or hand_load < 0 or hand_load > 50:
        raise ValueError(f"hand_load = {hand_load!r} kg must be a mass between 0 and 50 kg.")
    return hand_load


def build_arm_model(subject: Subject = config.NOMINAL_SUBJECT, hand_load: float = 0.0,
                    shoulder_angle: float = 0.0):
    """Build the subject's arm26-like OpenSim model.

    Parameters
    ----------
    subject : Subject
        Anthropometry and muscle scales.
    hand_load : float
        Mass held in the hand, kg (a point mass ``subject.hand_load_distance`` from the elbow).
    shoulder_angle : float
        Shoulder elevation at which the shoulder coordinate is locked, rad (0 = hanging,
        pi = overhead).

    Returns
    -------
    opensim.Model
        With coordinates ``shoulder_elevation`` (locked) and ``elbow_flexion``, six
        ``Thelen2003Muscle`` named as in :data:`~nmm_core.config.MUSCLE_NAMES`; ``initSystem``
        has not been called.
    """
    if not isinstance(subject, Subject):
        raise TypeError(f"subject must be a nmm_core.config.Subject, got {type(subject).__name__}.")
    hand_load = _check_load(hand_load)
    shoulder_angle = _check_angle("shoulder_angle", shoulder_angle, config.SHOULDER_RANGE)
    osim = _osim()
    s = subject.segment_length_scale
    model = osim.Model()
    model.setName(f"arm_{subject.name}")
    model.setGravity(_vec(0, -config.GRAVITY, 0))

    humerus = osim.Body("humerus", config.HUMERUS_MASS, _vec(0, -config.HUMERUS_CENTER_OF_MASS * s),
                        osim.Inertia(*(i * s**2 for i in config.HUMERUS_INERTIA)))
    forearm = osim.Body("forearm", subject.forearm_mass, _vec(0, -subject.forearm_center_of_mass),
                        osim.Inertia(config.FOREARM_INERTIA_XX * subject.forearm_mass_scale * s**2,
                                     config.FOREARM_INERTIA_YY * subject.forearm_mass_scale * s**2,
                                     subject.forearm_inertia_zz))
    model.addBody(humerus)
    model.addBody(forearm)

    shoulder = osim.PinJoint("shoulder", model.getGround(), _vec(0, 0), _vec(0, 0, 0),
                             humerus, _vec(0, 0), _vec(0, 0, 0))
    elbow = osim.PinJoint("elbow", humerus, _vec(0, -subject.humerus_length), _vec(0, 0, 0),
                          forearm, _vec(0, 0), _vec(0, 0, 0))
    model.addJoint(shoulder)
    model.addJoint(elbow)
    shoulder_coord = shoulder.updCoordinate()
    shoulder_coord.setName("shoulder_elevation")
    shoulder_coord.setRangeMin(config.SHOULDER_RANGE[0])
    shoulder_coord.setRangeMax(config.SHOULDER_RANGE[1])
    shoulder_coord.setDefaultValue(shoulder_angle)
    shoulder_coord.setDefaultLocked(True)
    elbow_coord = elbow.updCoordinate()
    elbow_coord.setName("elbow_flexion")
    elbow_coord.setRangeMin(config.ELBOW_RANGE[0])
    elbow_coord.setRangeMax(config.ELBOW_RANGE[1])
    elbow_coord.setDefaultValue(math.pi / 2)

    if hand_load > 0:
        load = osim.Body("hand_load", hand_load, _vec(0, 0), osim.Inertia(0, 0, 0))
        model.addBody(load)
        model.addJoint(osim.WeldJoint("hand_grip", forearm, _vec(0, -subject.hand_load_distance),
                                      _vec(0, 0, 0), load, _vec(0, 0), _vec(0, 0, 0)))

    wrap = osim.WrapCylinder()
    wrap.setName("triceps_wrap")
    wrap.set_radius(TRICEPS_WRAP_RADIUS * s)
    wrap.set_length(0.1)
    wrap.set_quadrant("-x")
    wrap.set_translation(_vec(0, -subject.humerus_length))
    humerus.addWrapObject(wrap)

    frames = {"ground": model.getGround(), "humerus": humerus, "forearm": forearm}
    elbow_y = {"ground": 0.0, "humerus": 0.0, "forearm": 0.0}
    for name in MUSCLE_NAMES:
        props = subject.muscle(name)
        muscle = osim.Thelen2003Muscle(name, props.max_isometric_force, props.optimal_fiber_length,
                                       props.tendon_slack_length, props.pennation_angle_at_optimal)
        muscle.set_max_contraction_velocity(config.MAX_CONTRACTION_VELOCITY)
        muscle.set_activation_time_constant(config.ACTIVATION_TIME_CONSTANT)
        muscle.set_deactivation_time_constant(config.DEACTIVATION_TIME_CONSTANT)
        for k, (frame, x, y) in enumerate(MUSCLE_PATHS[name]):
            muscle.addNewPathPoint(f"{name}-P{k + 1}", frames[frame],
                                   _vec(x * s, (y + elbow_y[frame]) * s))
        if name in TRICEPS:
            muscle.updGeometryPath().addPathWrap(wrap)
        model.addForce(muscle)
    model.finalizeConnections()
    return model


def save_model(model, path) -> Path:
    """Write ``model`` to an ``.osim`` file (creating parent folders) and return the path."""
    path = Path(path)
    if path.suffix != ".osim":
        raise ValueError(f"Model file {str(path)!r} must end in '.osim'.")
    path.parent.mkdir(parents=True, exist_ok=True)
    model.printToXML(str(path))
    return path


# --------------------------------------------------------------------------------------------
# Muscle geometry: OpenSim samples and their polynomial fit.
# --------------------------------------------------------------------------------------------
def find_muscles(model, names=MUSCLE_NAMES) -> list:
    """The model's muscles called ``names`` (case-insensitive), in that order; a clear error
    names the missing ones and the muscles the model has."""
    available = {model.getMuscles().get(i).getName(): model.getMuscles().get(i)
                 for i in range(model.getMuscles().getSize())}
    by_lower = {name.lower(): muscle for name, muscle in available.items()}
    missing = [name for name in names if name.lower() not in by_lower]
    if missing:
        raise ValueError(f"Model {model.getName()!r} has no muscle {', '.join(missing)} (case-insensitive); "
                         f"it has {', '.join(sorted(available))}. Use a model with the arm26 muscle names "
                         "or rename its muscles.")
    return [by_lower[name.lower()] for name in names]


def sample_muscle_geometry(model, elbow_angles, fixed_coordinates=None,
                           elbow_range=config.ELBOW_RANGE) -> tuple[np.ndarray, np.ndarray]:
    """Musculotendon lengths and elbow moment arms of every muscle, computed by OpenSim.

    Parameters
    ----------
    model : opensim.Model
        A model from :func:`build_arm_model` (its shoulder stays at its locked angle), or any
        model with an ``elbow_flexion`` coordinate and the six arm26 muscles.
    elbow_angles : array_like
        Elbow flexion angles, rad, shape (N,), inside ``elbow_range``.
    fixed_coordinates : dict, optional
        Values (rad or m) of other coordinates, held while the elbow moves.

    Returns
    -------
    lengths, moment_arms : ndarray
        m, shape (N, 6), muscles in :data:`~nmm_core.config.MUSCLE_NAMES` order; moment arms
        are positive for flexors.
    """
    angles = np.asarray(elbow_angles, dtype=float).reshape(-1)
    for a in (angles.min(), angles.max()):
        _check_angle("elbow angle", a, elbow_range)
    state = model.initSystem()
    for name, value in (fixed_coordinates or {}).items():
        model.getCoordinateSet().get(name).setValue(state, float(value), False)
    elbow = model.getCoordinateSet().get("elbow_flexion")
    muscles = find_muscles(model)
    lengths = np.empty((angles.size, len(muscles)))
    moment_arms = np.empty_like(lengths)
    for i, angle in enumerate(angles):
        elbow.setValue(state, float(angle))
        model.realizePosition(state)
        for j, muscle in enumerate(muscles):
            lengths[i, j] = muscle.getLength(state)
            moment_arms[i, j] = muscle.computeMomentArm(state, elbow)
    return lengths, moment_arms


@dataclasses.dataclass(frozen=True)
class MuscleGeometry:
    """Polynomial musculotendon lengths l(theta) of the six muscles, with r = -dl/dtheta.

    The moment arm is the derivative of the fitted length, so work and power stay consistent
    (the virtual-work definition OpenSim uses). Polynomials are in the scaled angle
    ``x = (theta - center) / half_width``, which keeps the fit well conditioned.
    Evaluation works on NumPy arrays and on backend tensors alike.

    Attributes
    ----------
    coefficients : ndarray
        Shape (degree + 1, 6), highest power first (``numpy.polyval`` order), m.
    center, half_width : float
        rad.
    shoulder_angle : float
        Shoulder elevation the geometry belongs to, rad.
    subject : str
        Name of the subject the model was built for.
    max_length_error, max_moment_arm_error : float
        Largest fit residuals against OpenSim on the fitting grid, m.
    """

    coefficients: np.ndarray
    center: float
    half_width: float
    shoulder_angle: float
    subject: str
    max_length_error: float
    max_moment_arm_error: float

    def _scaled(self, elbow_angle):
        return (elbow_angle - self.center) / self.half_width

    def _polynomial(self, coefficients, elbow_angle):
        """Evaluate per-muscle polynomials (rows highest power first) by Horner's rule."""
        x = array_namespace(elbow_angle).expand_dims(self._scaled(elbow_angle), -1)
        out = 0.0 * x + coefficients[0]
        for row in coefficients[1:]:
            out = out * x + row
        return out

    def length(self, elbow_angle):
        """Musculotendon lengths, m, shape (..., 6), for angles of shape (...) in rad."""
        return self._polynomial(self.coefficients, elbow_angle)

    def moment_arm(self, elbow_angle):
        """Elbow moment arms r = -dl/dtheta, m, shape (..., 6); flexors positive."""
        degree = self.coefficients.shape[0] - 1
        derivative = self.coefficients[:-1] * np.arange(degree, 0, -1)[:, None]
        return -self._polynomial(derivative, elbow_angle) / self.half_width

    def lengthening_speed(self, elbow_angle, elbow_speed):
        """Musculotendon lengthening speeds, m/s, shape (..., 6): -r(theta) dtheta/dt."""
        xp = array_namespace(elbow_angle, elbow_speed)
        return -self.moment_arm(elbow_angle) * xp.expand_dims(elbow_speed, -1)

    def to_dict(self) -> dict:
        """JSON-ready representation (see :meth:`from_dict`)."""
        out = dataclasses.asdict(self)
        out["coefficients"] = self.coefficients.tolist()
        out["muscles"] = list(MUSCLE_NAMES)
        return out

    @classmethod
    def from_dict(cls, data: Mapping) -> "MuscleGeometry":
        """Rebuild from :meth:`to_dict` output, checking the muscle order."""
        if list(data.get("muscles", MUSCLE_NAMES)) != list(MUSCLE_NAMES):
            raise ValueError(f"Muscle geometry lists muscles {data.get('muscles')}, expected "
                             f"{list(MUSCLE_NAMES)} in that order; refit it with fit_muscle_geometry.")
        fields = {f.name for f in dataclasses.fields(cls)}
        kwargs = {k: v for k, v in data.items() if k in fields}
        kwargs["coefficients"] = np.asarray(kwargs["coefficients"], dtype=float)
        return cls(**kwargs)


def fit_muscle_geometry(subject: Subject = config.NOMINAL_SUBJECT, shoulder_angle: float = 0.0,
                        degree: int = 11, n_samples: int = 227) -> MuscleGeometry:
    """Sample the subject's model over the elbow range and fit lengths and moment arms jointly.

    Least squares on both the lengths and the moment arms (as -dl/dtheta) of each muscle, so
    that the fitted moment arm is accurate even where a wrap engages.

    Parameters
    ----------
    subject : Subject
    shoulder_angle : float
        rad; lengths of the two-joint muscles depend on it.
    degree : int
        Polynomial degree.
    n_samples : int
        Number of elbow angles sampled by OpenSim, evenly over the range.
    """
    model = build_arm_model(subject, 0.0, shoulder_angle)
    return fit_model_geometry(model, float(shoulder_angle), subject.name, degree=degree, n_samples=n_samples)


def fit_model_geometry(model, shoulder_angle: float = 0.0, name: str = "", fixed_coordinates=None,
                       elbow_range=config.ELBOW_RANGE, degree: int = 11, n_samples: int = 227) -> MuscleGeometry:
    """:func:`fit_muscle_geometry` for any OpenSim model with an ``elbow_flexion`` coordinate
    and the six arm26 muscles (e.g. a participant's scaled model), with its other coordinates
    held at ``fixed_coordinates`` (their defaults otherwise)."""
    angles = np.linspace(*elbow_range, n_samples)
    lengths, moment_arms = sample_muscle_geometry(model, angles, fixed_coordinates, elbow_range)
    low, high = elbow_range
    center, half_width = 0.5 * (low + high), 0.5 * (high - low)
    x = (angles - center) / half_width
    powers = np.arange(degree, -1, -1)
    value_rows = x[:, None] ** powers
    # d/dtheta of x**p is p x**(p-1) / half_width; the moment arm is minus that.
    slope_rows = -(powers * np.where(powers > 0, x[:, None], 1.0) ** np.maximum(powers - 1, 0)) / half_width
    design = np.vstack([value_rows, slope_rows])
    targets = np.vstack([lengths, moment_arms])
    coefficients, *_ = np.linalg.lstsq(design, targets, rcond=None)
    geometry = MuscleGeometry(coefficients, center, half_width, float(shoulder_angle), name, 0.0, 0.0)
    return dataclasses.replace(
        geometry,
        max_length_error=float(np.abs(geometry.length(angles) - lengths).max()),
        max_moment_arm_error=float(np.abs(geometry.moment_arm(angles) - moment_arms).max()),
    )


# --------------------------------------------------------------------------------------------
# Inverse dynamics.
# --------------------------------------------------------------------------------------------
def elbow_kinematics(time, elbow_angle) -> tuple[np.ndarray, np.ndarray]:
    """Angular velocity and acceleration of a sampled angle by a quintic interpolating spline.

    Parameters
    ----------
    time : array_like
        s, shape (T,), strictly increasing.
    elbow_angle : array_like
        rad, shape (T,).

    Returns
    -------
    speed, acceleration : ndarray
        rad/s and rad/s^2, shape (T,).
    """
    time = np.asarray(time, dtype=float)
    angle = np.asarray(elbow_angle, dtype=float)
    if time.ndim != 1 or angle.shape != time.shape:
        raise ValueError(f"time and elbow_angle must be 1-D of equal length, got shapes "
                         f"{time.shape} and {angle.shape}.")
    if time.size < 6:
        raise ValueError(f"Need at least 6 samples to differentiate an angle, got {time.size}.")
    if not np.all(np.isfinite(angle)) or not np.all(np.isfinite(time)):
        raise ValueError("time and elbow_angle must not contain NaN or infinite values.")
    if np.any(np.diff(time) <= 0):
        bad = int(np.argmax(np.diff(time) <= 0)) + 1
        raise ValueError(f"time must be strictly increasing; sample {bad} (t = {time[bad]!r} s) "
                         f"is not after the previous one.")
    spline = make_interp_spline(time, angle, k=5)
    return spline.derivative(1)(time), spline.derivative(2)(time)


def inverse_dynamics(subject: Subject, time, elbow_angle, hand_load: float = 0.0,
                     shoulder_angle: float = 0.0, elbow_speed=None, elbow_acceleration=None):
    """Elbow torque from OpenSim's inverse dynamics for an elbow-angle trajectory.

    Uses ``opensim.InverseDynamicsSolver`` on the subject's model with the hand load and the
    shoulder held still at ``shoulder_angle``. Muscles are not involved: the result is the net
    joint torque that produces the motion (flexion positive).

    Parameters
    ----------
    subject : Subject
    time : array_like
        s, shape (T,), strictly increasing.
    elbow_angle : array_like
        rad, shape (T,), inside the elbow range.
    hand_load : float
        kg.
    shoulder_angle : float
        rad.
    elbow_speed, elbow_acceleration : array_like, optional
        rad/s and rad/s^2, shape (T,); by default from :func:`elbow_kinematics`.

    Returns
    -------
    ndarray
        Elbow torque, N m, shape (T,).
    """
    time = np.asarray(time, dtype=float)
    angle = np.asarray(elbow_angle, dtype=float)
    if elbow_speed is None or elbow_acceleration is None:
        speed, acceleration = elbow_kinematics(time, angle)
    else:
        speed = np.asarray(elbow_speed, dtype=float)
        acceleration = np.asarray(elbow_acceleration, dtype=float)
        if speed.shape != angle.shape or acceleration.shape != angle.shape:
            raise ValueError("elbow_speed and elbow_acceleration must have the shape of elbow_angle.")
    for index in (int(np.argmin(angle)), int(np.argmax(angle))):
        _check_angle(f"elbow_angle[{index}]", angle[index], config.ELBOW_RANGE)

    model = build_arm_model(subject, hand_load, shoulder_angle)
    return inverse_dynamics_of_model(model, time, {"elbow_flexion": (angle, speed, acceleration)})


def inverse_dynamics_of_model(model, time, coordinates, output: str = "elbow_flexion") -> np.ndarray:
    """Generalized force of coordinate ``output`` from OpenSim's ``InverseDynamicsSolver``.

    Parameters
    ----------
    model : opensim.Model
        Any model (e.g. a participant's scaled model); its muscles are excluded, as OpenSim's
        InverseDynamicsTool does by default. Coordinates not given stay at their defaults, still.
    time : array_like
        s, shape (T,).
    coordinates : dict
        ``{name: angle}`` or ``{name: (angle, speed, acceleration)}``, each shape (T,), rad (or m);
        speeds and accelerations default to :func:`elbow_kinematics` of the angle.
    output : str
        The coordinate whose generalized force is returned (N m for a rotation).
    """
    osim = _osim()
    time = np.asarray(time, dtype=float)
    series = {}
    for name, values in coordinates.items():
        if isinstance(values, tuple):
            series[name] = tuple(np.asarray(v, dtype=float) for v in values)
        else:
            angle = np.asarray(values, dtype=float)
            series[name] = (angle, *elbow_kinematics(time, angle))
    for i in range(model.getMuscles().getSize()):
        model.updMuscles().get(i).set_appliesForce(False)
    state = model.initSystem()
    names = {model.getCoordinateSet().get(i).getName() for i in range(model.getCoordinateSet().getSize())}
    unknown = sorted(set(series) - names)
    if unknown or output not in names:
        raise ValueError(f"Model {model.getName()!r} has no coordinate {', '.join(unknown or [output])}; "
                         f"its coordinates are {', '.join(sorted(names))}.")
    handles = {name: model.getCoordinateSet().get(name) for name in series}
    # The solver returns one generalized force per mobility; find each coordinate's.
    mobility = {name: _mobility_index(model, state, handle) for name, handle in handles.items()}
    out_mobility = _mobility_index(model, state, model.getCoordinateSet().get(output))
    solver = osim.InverseDynamicsSolver(model)
    udot = osim.Vector(state.getNU(), 0.0)
    torque = np.empty(time.size)
    for k in range(time.size):
        state.setTime(float(time[k]))
        for name, (angle, speed, acceleration) in series.items():
            handles[name].setValue(state, float(angle[k]), False)
            handles[name].setSpeedValue(state, float(speed[k]))
            udot.set(mobility[name], float(acceleration[k]))
        model.realizeVelocity(state)
        torque[k] = solver.solve(state, udot).get(out_mobility)
    return torque


def _mobility_index(model, state, coordinate) -> int:
    """Index of ``coordinate``'s speed in the state's u vector."""
    before = np.array([state.getU().get(i) for i in range(state.getNU())])
    old = coordinate.getSpeedValue(state)
    coordinate.setSpeedValue(state, old + 1.0)
    after = np.array([state.getU().get(i) for i in range(state.getNU())])
    coordinate.setSpeedValue(state, old)
    changed = np.flatnonzero(after != before)
    if changed.size != 1:
        raise RuntimeError(f"Could not locate coordinate {coordinate.getName()!r} in the state.")
    return int(changed[0])


# --------------------------------------------------------------------------------------------
# OpenSim's own DeGrooteFregly2016 muscle, the reference for nmm_core.muscle.
# --------------------------------------------------------------------------------------------
def use_degroote_fregly_muscles(model, rigid_tendon: bool = True,
                                ignore_activation_dynamics: bool = True,
                                activation_smoothing: float | None = None):
    """Replace the model's muscles by ``DeGrooteFregly2016Muscle`` (in place) and return it.

    Parameters
    ----------
    model : opensim.Model
    rigid_tendon : bool
        Set ``ignore_tendon_compliance`` (the learner's assumption).
    ignore_activation_dynamics : bool
        Activation equals the control (excitation) when true.
    activation_smoothing : float, optional
        ``activation_dynamics_smoothing``; defaults to
        :data:`nmm_core.muscle.ACTIVATION_SMOOTHING` (De Groote 2016), not OpenSim's 0.1.
    """
    osim = _osim()
    osim.DeGrooteFregly2016Muscle.replaceMuscles(model)
    for i in range(model.getMuscles().getSize()):
        muscle = osim.DeGrooteFregly2016Muscle.safeDownCast(model.updMuscles().get(i))
        muscle.set_ignore_tendon_compliance(rigid_tendon)
        muscle.set_ignore_activation_dynamics(ignore_activation_dynamics)
        muscle.set_activation_dynamics_smoothing(
            ACTIVATION_SMOOTHING if activation_smoothing is None else activation_smoothing)
    model.finalizeConnections()
    return model


def opensim_muscle_forces(subject: Subject, elbow_angle, elbow_speed, activation,
                          shoulder_angle: float = 0.0):
    """Tendon forces of the subject's muscles computed by OpenSim (rigid-tendon DeGroote-Fregly).

    Parameters
    ----------
    subject : Subject
    elbow_angle, elbow_speed : array_like
        rad and rad/s, shape (N,).
    activation : array_like
        Shape (N, 6) in [0, 1], muscles in :data:`~nmm_core.config.MUSCLE_NAMES` order.
    shoulder_angle : float
        rad.

    Returns
    -------
    forces, lengths, lengthening_speeds : ndarray
        N, m and m/s, each of shape (N, 6).
    """
    angle = np.atleast_1d(np.asarray(elbow_angle, dtype=float))
    speed = np.broadcast_to(np.asarray(elbow_speed, dtype=float), angle.shape)
    activation = np.asarray(activation, dtype=float)
    if activation.shape != (angle.size, len(MUSCLE_NAMES)):
        raise ValueError(f"activation must have shape ({angle.size}, {len(MUSCLE_NAMES)}), "
                         f"got {activation.shape}.")
    model = use_degroote_fregly_muscles(build_arm_model(subject, 0.0, shoulder_angle))
    state = model.initSystem()
    elbow = model.getCoordinateSet().get("elbow_flexion")
    muscles = [model.getMuscles().get(name) for name in MUSCLE_NAMES]
    # Controls are indexed by actuator order in the model, which may differ from ours.
    actuator_order = [model.getActuators().getIndex(name) for name in MUSCLE_NAMES]
    out = np.empty((3, angle.size, len(MUSCLE_NAMES)))
    for i in range(angle.size):
        _check_angle(f"elbow_angle[{i}]", angle[i], config.ELBOW_RANGE)
        elbow.setValue(state, float(angle[i]), False)
        elbow.setSpeedValue(state, float(speed[i]))
        model.realizeVelocity(state)
        controls = model.getControls(state)
        for j, index in enumerate(actuator_order):
            controls.set(index, float(activation[i, j]))
        model.setControls(state, controls)
        model.realizeDynamics(state)
        for j, muscle in enumerate(muscles):
            out[:, i, j] = (muscle.getTendonForce(state), muscle.getLength(state),
                            muscle.getLengtheningSpeed(state))
    return out[0], out[1], out[2]
