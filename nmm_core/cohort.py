"""The virtual cohort: subjects, trials, and deep-muscle ground truth computed by OpenSim Moco.

Generation (:func:`generate_cohort`) writes one folder per subject, with one trial folder per
trial in the format of :mod:`nmm_core.trials`; surface EMG is synthesised from the true
excitations and processed by :mod:`nmm_core.signals`, exactly as a user's recordings would be.
The deep channels (BRA, TRImed) are kept apart, in ``truth_excitation.sto``.

Ground truth never comes from our own muscle code: the activations of all six muscles are
solved by ``MocoInverse`` on the subject's OpenSim model, with DeGroote-Fregly muscles (rigid
tendon) and subject-specific effort weights and activation floors (motor strategy and
co-contraction); the excitations are recovered from them by inverting activation dynamics, and
every trial's muscle torque is checked against OpenSim inverse dynamics. The learner's muscle is
the same curve family with other parameters to identify, which is the realistic amount of model
mismatch.

Two motor-control models share the generator (:data:`nmm_core.config.MOTOR_CONTROLS`);
everything else (bodies, trial plan, delays, surface EMG pipeline and its noise) is the same, so
a cohort variant differs in how its subjects share the elbow torque among their muscles only.

``min_effort`` (the default cohort)
    A weighted sum of squared activations, minimised instant by instant. Under any such
    power-law criterion the ratio of two muscles' activations is fixed by their strengths, moment
    arms and force-length-velocity states, whatever the load: each deep excitation is then close
    to a non-negative combination of the surface ones, which is what synergy extrapolation
    assumes.

``thresholds`` (fixed before either method was run on it)
    Two departures from that, each from the motor-control literature:

    - *Recruitment thresholds* in the spirit of the size principle (Henneman, 1957): the
      criterion gains a linear term on each superficial head's activation,
      ``sum_i w_i a_i^2 + sum_i c_i a_i``. A muscle with a linear cost c_i stays at its floor
      until the marginal torque it would give is worth c_i: it joins above its own level of
      effort. The deep muscles have no linear cost, so they are recruited first: the triceps
      medial head is reported to carry low-effort extension before the long and lateral heads
      join (Travill, 1962; Davidson and Rice, 2010), and the brachialis to be active in every
      flexion, whatever the load (Basmajian and Latif, 1957). c_i is drawn per subject and head
      from :data:`THRESHOLD_COST_RANGE`.
    - *Stabilising co-contraction* of the medial head during fast flexion: antagonist
      co-contraction rises with movement speed in single-joint arm movements (Suzuki et al.,
      2001; Gribble et al., 2003). The medial head is held at least at
      ``floor + k * clip(flexion speed / COCONTRACTION_SPEED, 0, 1)``, k drawn per subject from
      :data:`COCONTRACTION_RANGE` (5-15 % of maximal activation: our choice, within the low
      range of antagonist activity of such movements). It depends on the movement, not on the
      agonists: the flexors then work harder to cancel it.

    The truth still comes from ``MocoInverse``: a first solve with the linear costs, then a
    second in which a ``MocoControlTrackingGoal`` holds the medial head at the larger of its
    first solution and the co-contraction demand. A head's squared and linear terms are posed
    together as one ``MocoControlTrackingGoal`` term, ``w_i (a_i + c_i / 2 w_i)^2``, which
    differs from ``w_i a_i^2 + c_i a_i`` by a constant: the same optimum, and each evaluation of
    the cost reads the controls only. (A ``MocoOutputGoal`` on the activations, as first
    written, realises the model at every finite-difference evaluation: generating the full
    variant took 1.6 times as long; the solutions agree within the solver's tolerance.) Every
    trial passes the same torque-consistency check.
    The variant's own draws come from its own seed (:data:`THRESHOLDS_SEED`).
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import hashlib
import json
import math
import os
import re
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from time import perf_counter
from types import MappingProxyType
from typing import Mapping, Sequence

import numpy as np
from scipy.interpolate import CubicSpline
from tqdm import tqdm

from . import arm_model, config, muscle, paths, signals, storage, trials
from .config import DEEP_MUSCLES, MOTOR_CONTROLS, MUSCLE_NAMES, SURFACE_MUSCLES, Subject, variant_subjects
from .files import atomic_write
from .sources import source_code

HAND_LOADS = (0.0, 2.0, 4.0)  # kg
#: Shoulder elevation (rad) of each posture: arm hanging, or raised overhead.
POSTURES: Mapping[str, float] = MappingProxyType({"hanging": 0.0, "overhead": math.pi})
#: Sampling rate of the kinematics, torque and envelopes (Hz).
KINEMATICS_RATE = 100.0


@dataclasses.dataclass(frozen=True)
class CohortSubject:
    """A virtual subject: anthropometry and muscles (``body``) plus neural traits.

    Attributes
    ----------
    body : Subject
    electromechanical_delay : float
        s, between an excitation and the EMG that records it (EMG leads force).
    effort_weights : Mapping[str, float]
        Per-muscle weight of squared excitation in the effort the subject minimises; a larger
        weight makes the muscle share less load (motor strategy).
    minimum_activation : float
        Activation below which no muscle drops (co-contraction level), in [0, 0.2]; the
        excitation may dip below it briefly so that activation can fall.
    """

    body: Subject
    electromechanical_delay: float
    effort_weights: Mapping[str, float]
    minimum_activation: float

    @property
    def name(self) -> str:
        return self.body.name


def make_cohort(n_subjects: int = 5, seed: int = 2025) -> tuple[CohortSubject, ...]:
    """Draw the virtual subjects, reproducibly from ``seed``.

    Ranges (uniform unless said): segment length scale 0.92-1.08; forearm mass scale
    0.85-1.2; per-muscle strength log-normal (sd 0.15) clipped to 0.7-1.4; optimal fiber
    length scale 0.92-1.08 and tendon slack length scale 0.96-1.04 per muscle; delay 30-70 ms;
    effort weights log-normal (sd 0.4); minimum activation 0.01-0.06.
    """
    rng = np.random.default_rng(seed)
    subjects = []
    for index in range(n_subjects):
        per_muscle = lambda draw: {m: float(draw()) for m in MUSCLE_NAMES}  # noqa: E731
        body = Subject(
            name=f"S{index + 1:02d}",
            segment_length_scale=float(rng.uniform(0.92, 1.08)),
            forearm_mass_scale=float(rng.uniform(0.85, 1.2)),
            max_isometric_force_scale=per_muscle(lambda: np.clip(rng.lognormal(0, 0.15), 0.7, 1.4)),
            optimal_fiber_length_scale=per_muscle(lambda: rng.uniform(0.92, 1.08)),
            tendon_slack_length_scale=per_muscle(lambda: rng.uniform(0.96, 1.04)),
        )
        subjects.append(CohortSubject(
            body=body,
            electromechanical_delay=float(rng.uniform(0.03, 0.07)),
            effort_weights=MappingProxyType(per_muscle(lambda: rng.lognormal(0, 0.4))),
            minimum_activation=float(rng.uniform(0.01, 0.06)),
        ))
    return tuple(subjects)


#: Seed of the ``thresholds`` variant's own draws (linear costs, co-contraction level).
THRESHOLDS_SEED = 2026
#: Range of the linear cost c_i of each superficial head (uniform, per subject and head).
THRESHOLD_COST_RANGE = (0.2, 0.5)
#: Range of the medial head's co-contraction level k above the floor (uniform, per subject).
COCONTRACTION_RANGE = (0.05, 0.15)
#: Flexion speed (rad/s) at and above which the co-contraction demand is full.
COCONTRACTION_SPEED = 4.0
#: Weight of the tracking goal that holds the medial head at its demand (the effort weights
#: are about 1).
COCONTRACTION_WEIGHT = 50.0


def _check_motor_control(motor_control: str) -> str:
    if motor_control not in MOTOR_CONTROLS:
        raise ValueError(f"Unknown motor control {motor_control!r}; choose one of {', '.join(MOTOR_CONTROLS)}.")
    return motor_control


@dataclasses.dataclass(frozen=True)
class RecruitmentThresholds:
    """One subject's motor control in the ``thresholds`` variant (module docstring).

    Attributes
    ----------
    linear_costs : Mapping[str, float]
        c_i of each superficial head (the deep muscles have none).
    cocontraction : float
        k, the medial head's co-contraction above the floor at full flexion speed.
    """

    linear_costs: Mapping[str, float]
    cocontraction: float

    def demand(self, time, elbow_angle, floor: float) -> np.ndarray:
        """The medial head's co-contraction demand over a trial, (T,): ``floor + k *
        clip(flexion speed / COCONTRACTION_SPEED, 0, 1)``."""
        speed = np.gradient(np.asarray(elbow_angle, float), np.asarray(time, float))
        return floor + self.cocontraction * np.clip(speed / COCONTRACTION_SPEED, 0.0, 1.0)


def recruitment_thresholds(subject_index: int, seed: int = THRESHOLDS_SEED) -> RecruitmentThresholds:
    """The ``thresholds`` variant's draws for one subject (its own seed, not the bodies')."""
    rng = np.random.default_rng([seed, subject_index, 7])
    costs = {m: float(rng.uniform(*THRESHOLD_COST_RANGE)) for m in SURFACE_MUSCLES}
    return RecruitmentThresholds(MappingProxyType(costs), float(rng.uniform(*COCONTRACTION_RANGE)))


@dataclasses.dataclass(frozen=True)
class TrialSpec:
    """One elbow flexion-extension trial: smooth cycles between two angles.

    Attributes
    ----------
    hand_load : float
        kg.
    posture : str
        A key of :data:`POSTURES`.
    low_angle, high_angle : float
        rad, the extremes of the movement.
    cycle_duration : float
        s per flexion-extension cycle.
    n_cycles : int
    """

    hand_load: float
    posture: str
    low_angle: float
    high_angle: float
    cycle_duration: float
    n_cycles: int = 2

    @property
    def shoulder_angle(self) -> float:
        return POSTURES[self.posture]

    @property
    def duration(self) -> float:
        return self.cycle_duration * self.n_cycles

    def kinematics(self, rate: float = KINEMATICS_RATE) -> tuple[np.ndarray, np.ndarray]:
        """Time (s) and elbow angle (rad), shape (T,), a raised-cosine in each cycle."""
        time = np.arange(0.0, self.duration + 0.5 / rate, 1.0 / rate)
        phase = 2 * np.pi * time / self.cycle_duration
        angle = self.low_angle + 0.5 * (self.high_angle - self.low_angle) * (1 - np.cos(phase))
        return time, angle


def _time_series_table(time, columns: Mapping[str, np.ndarray]):
    """An OpenSim ``TimeSeriesTable`` with one row per time point and the (T,) ``columns``
    under their labels."""
    import opensim as osim

    table = osim.TimeSeriesTable()
    table.setColumnLabels(list(columns))
    for k, t in enumerate(time):
        table.appendRow(float(t), osim.RowVector([float(column[k]) for column in columns.values()]))
    return table


def _moco_kinematics_table(time, elbow_angle, shoulder_angle):
    table = _time_series_table(time, {"/jointset/elbow/elbow_flexion/value": elbow_angle,
                                      "/jointset/shoulder/shoulder_elevation/value":
                                          np.full(len(time), float(shoulder_angle))})
    table.addTableMetaDataString("inDegrees", "no")  # Moco needs this metadata
    return table


def _moco_activations(subject: CohortSubject, spec: TrialSpec, time, angle, mesh_interval: float,
                      linear_costs: Mapping[str, float] | None = None, tracking: Mapping[str, np.ndarray] | None = None):
    """One ``MocoInverse`` solve: the six activations (T, 6) at ``time``, in
    :data:`~nmm_core.config.MUSCLE_NAMES` order. ``linear_costs`` adds ``c * activation`` to the
    effort of those muscles (posed as :func:`_threshold_goal`); ``tracking`` ``{muscle: (T,)
    reference}`` holds those muscles near a reference (``MocoControlTrackingGoal``,
    :data:`COCONTRACTION_WEIGHT`)."""
    import opensim as osim

    model = arm_model.build_arm_model(subject.body, spec.hand_load, spec.shoulder_angle)
    # Moco solves for activations directly (no activation dynamics): minimum-effort solutions
    # with activation dynamics chatter from one collocation point to the next, which no EMG
    # shows. The excitations are then recovered by inverting the activation dynamics.
    arm_model.use_degroote_fregly_muscles(model, ignore_activation_dynamics=True)
    model.updCoordinateSet().get("shoulder_elevation").setDefaultLocked(False)
    reserve = osim.CoordinateActuator("shoulder_elevation")
    reserve.setName("shoulder_reserve")
    reserve.setOptimalForce(1000.0)
    model.addForce(reserve)
    model.finalizeConnections()

    inverse = osim.MocoInverse()
    inverse.setModel(osim.ModelProcessor(model))
    inverse.setKinematics(osim.TableProcessor(_moco_kinematics_table(time, angle, spec.shoulder_angle)))
    inverse.set_initial_time(float(time[0]))
    inverse.set_final_time(float(time[-1]))
    inverse.set_mesh_interval(mesh_interval)
    inverse.set_kinematics_allow_extra_columns(True)
    study = inverse.initialize()
    problem = study.updProblem()
    for name in MUSCLE_NAMES:
        problem.setControlInfo(f"/forceset/{name}", osim.MocoBounds(subject.minimum_activation, 1.0))
    _motor_control_goals(problem, subject, time, dict(linear_costs or {}), tracking)
    solver = osim.MocoCasADiSolver.safeDownCast(study.updSolver())
    solver.set_verbosity(0)
    solver.set_optim_ipopt_print_level(0)
    solver.set_parallel(0)  # one thread per solve: the cohort runs one solve per core
    solver.set_transcription_scheme("trapezoidal")
    with _scratch_working_directory():  # Moco drops a "delete_this_to_stop_optimization" file
        solution = study.solve()
    if not solution.success():
        raise RuntimeError(f"MocoInverse failed for subject {subject.name}, trial {spec}: "
                           f"{solution.getStatus()}")
    solved_time = np.asarray(solution.getTimeMat())
    controls = np.asarray(solution.getControlsTrajectoryMat())
    control_names = list(solution.getControlNames())
    columns = [control_names.index(f"/forceset/{m}") for m in MUSCLE_NAMES]
    return np.clip(CubicSpline(solved_time, controls[:, columns], axis=0)(time), subject.minimum_activation, 1.0)


def _motor_control_goals(problem, subject: CohortSubject, time, linear_costs: Mapping[str, float],
                         tracking: Mapping[str, np.ndarray] | None) -> None:
    """Set the cost of a ``MocoInverse`` problem: the effort ``sum_i w_i a_i^2``, plus
    ``c_i a_i`` for the heads in ``linear_costs`` (their two terms together in
    :func:`_threshold_goal`), plus the co-contraction tracking of ``tracking``."""
    import opensim as osim

    effort = osim.MocoControlGoal.safeDownCast(problem.updGoal("excitation_effort"))
    for name in MUSCLE_NAMES:
        effort.setWeightForControl(f"/forceset/{name}",
                                   0.0 if name in linear_costs else float(subject.effort_weights[name]))
    if linear_costs:
        problem.addGoal(_threshold_goal(subject, time, linear_costs))
    if tracking:
        problem.addGoal(_control_tracking_goal("cocontraction", COCONTRACTION_WEIGHT, time, tracking))


def _control_tracking_goal(name: str, weight: float, time, references: Mapping[str, np.ndarray],
                           control_weights: Mapping[str, float] | None = None):
    """A ``MocoControlTrackingGoal`` holding each muscle's control near its reference (T,) at
    ``time``: ``weight * sum_i control_weights[i] * (a_i - reference_i)^2`` (control weights
    1 when not given)."""
    import opensim as osim

    goal = osim.MocoControlTrackingGoal(name, float(weight))
    # Every time point, even for a constant reference: the reference's spline needs several.
    table = _time_series_table(time, {f"/forceset/{muscle}": reference for muscle, reference in references.items()})
    goal.setReference(osim.TableProcessor(table))
    for muscle, control_weight in (control_weights or {}).items():
        goal.setWeightForControl(f"/forceset/{muscle}", float(control_weight))
    return goal


def _threshold_goal(subject: CohortSubject, time, linear_costs: Mapping[str, float]):
    """The effort of the heads with a linear cost, ``sum_i w_i a_i^2 + c_i a_i``, as the
    tracking goal ``sum_i w_i (a_i - r_i)^2`` with the constant reference ``r_i = -c_i / 2 w_i``
    (the two differ by the constant ``c_i^2 / 4 w_i``, so their optimum is the same; module
    docstring)."""
    weights = {muscle: float(subject.effort_weights[muscle]) for muscle in linear_costs}
    references = {muscle: np.full(len(time), -float(cost) / (2.0 * weights[muscle]))
                  for muscle, cost in linear_costs.items()}
    return _control_tracking_goal("thresholds", 1.0, time, references, weights)


def solve_true_excitations(subject: CohortSubject, spec: TrialSpec, mesh_interval: float = 0.02,
                           thresholds: RecruitmentThresholds | None = None):
    """Excitations and activations of the six muscles for a trial, solved by ``MocoInverse``.

    The shoulder is prescribed still and balanced by a strong, cheap reserve; the elbow has no
    reserve, so the muscles alone produce the elbow torque. Moco's controls are activations
    (activation dynamics ignored); a cubic spline through them gives activation and its rate at
    the kinematics rate, :func:`excitation_from_activation` the excitation, and the returned
    activation is integrated back from that excitation (what the stored truth implies).
    ``thresholds`` selects the ``thresholds`` motor control (module docstring): two solves,
    the second holding the medial head at least at its co-contraction demand.

    Returns
    -------
    dict
        ``time`` (T,), ``elbow_angle`` (T,), ``excitation`` and ``activation`` (T, 6) in
        :data:`~nmm_core.config.MUSCLE_NAMES` order, at :data:`KINEMATICS_RATE`.
    """
    time, angle = spec.kinematics()
    if thresholds is None:
        activation = _moco_activations(subject, spec, time, angle, mesh_interval)
    else:
        first = _moco_activations(subject, spec, time, angle, mesh_interval, thresholds.linear_costs)
        medial = MUSCLE_NAMES.index("TRImed")
        demand = thresholds.demand(time, angle, subject.minimum_activation)
        activation = _moco_activations(subject, spec, time, angle, mesh_interval, thresholds.linear_costs,
                                       {"TRImed": np.maximum(first[:, medial], demand)})
    activation[0] = activation[1] = activation[2]  # start at rest: excitation[0] = activation[0]
    # The floor applies to activation; the excitation may dip below it to let activation fall.
    excitation = excitation_from_activation(activation, 1.0 / KINEMATICS_RATE)
    return {"time": time, "elbow_angle": angle, "excitation": excitation,
            "activation": muscle.activation_dynamics(excitation, 1.0 / KINEMATICS_RATE)}


def excitation_from_activation(activation, time_step: float):
    """Invert the discrete activation dynamics: excitations that reproduce ``activation``.

    For each step k, the excitation held over the step is the u in [0, 1] for which
    :func:`nmm_core.muscle.activation_step` maps a[k] to a[k+1]; the step is increasing in u,
    so bisection finds it (u = 0 or 1 where the target cannot be reached). Integrating the
    result with :func:`nmm_core.muscle.activation_dynamics` gives back ``activation``.

    Parameters
    ----------
    activation : ndarray
        Shape (T, n), in [0, 1].
    time_step : float
        s.

    Returns
    -------
    ndarray
        Excitations, shape (T, n) (the last sample repeats the one before).
    """
    start, target = activation[:-1], activation[1:]
    low, high = np.zeros_like(start), np.ones_like(start)
    for _ in range(50):
        middle = 0.5 * (low + high)
        too_low = muscle.activation_step(start, middle, time_step) < target
        low = np.where(too_low, middle, low)
        high = np.where(too_low, high, middle)
    excitation = 0.5 * (low + high)
    return np.vstack([excitation, excitation[-1:]])


@contextlib.contextmanager
def _scratch_working_directory():
    previous = os.getcwd()
    with tempfile.TemporaryDirectory(prefix="nmm-moco-") as scratch:
        os.chdir(scratch)
        try:
            yield
        finally:
            os.chdir(previous)


def muscle_torques(body: Subject, elbow_angle, elbow_speed, activation, shoulder_angle: float) -> np.ndarray:
    """Each muscle's elbow torque (N m, flexion positive), (T, 6) in
    :data:`~nmm_core.config.MUSCLE_NAMES` order, from activations (T, 6): OpenSim's own tendon
    forces and moment arms, not the learner's polynomial fit (the truth owes nothing to it)."""
    forces, _, _ = arm_model.opensim_muscle_forces(body, elbow_angle, elbow_speed, activation, shoulder_angle)
    _, moment_arms = arm_model.sample_muscle_geometry(arm_model.build_arm_model(body, 0.0, shoulder_angle),
                                                      elbow_angle)
    return moment_arms * forces


def deep_torque_share(body: Subject, trials_: Sequence) -> dict:
    """How much of its group's torque each deep muscle gives, per hand load: ``{load (kg):
    {"BRA": share, "TRImed": share}}``, the brachialis' share of the three flexors' torque and
    the medial head's of the three extensors', each the ratio of the time integrals over that
    load's trials (stored true excitations -> activation dynamics -> OpenSim's muscle torque)."""
    groups = {"BRA": ("BIClong", "BICshort", "BRA"), "TRImed": ("TRIlong", "TRIlat", "TRImed")}
    sums: dict = {}
    for trial in trials_:
        excitation = np.column_stack([trial.truth[m] for m in MUSCLE_NAMES])
        activation = muscle.activation_dynamics(excitation, 1.0 / trial.rate)
        torque = np.abs(muscle_torques(body, trial.elbow_angle, trial.elbow_speed, activation,
                                       trial.shoulder_angle)).sum(axis=0)
        per_load = sums.setdefault(float(trial.hand_load), {d: np.zeros(2) for d in groups})
        for deep, members in groups.items():
            per_load[deep] += [torque[MUSCLE_NAMES.index(deep)], sum(torque[MUSCLE_NAMES.index(m)] for m in members)]
    return {load: {deep: float(part / whole) for deep, (part, whole) in found.items()}
            for load, found in sorted(sums.items())}


def torque_consistency(subject: CohortSubject, spec: TrialSpec, truth: Mapping) -> dict:
    """Check that OpenSim's muscle forces from the true activations give the ID torque.

    Returns
    -------
    dict
        ``inverse_dynamics`` and ``muscle_torque`` (N m, shape (T,)) and their ``nrmse``
        (RMS difference over the range of the inverse-dynamics torque).
    """
    time, angle = truth["time"], truth["elbow_angle"]
    speed, acceleration = arm_model.elbow_kinematics(time, angle)
    reference = arm_model.inverse_dynamics(subject.body, time, angle, spec.hand_load,
                                           spec.shoulder_angle, speed, acceleration)
    muscle_torque = muscle_torques(subject.body, angle, speed, truth["activation"], spec.shoulder_angle).sum(axis=-1)
    span = np.ptp(reference)
    nrmse = float(np.sqrt(np.mean((muscle_torque - reference) ** 2)) / span)
    return {"inverse_dynamics": reference, "muscle_torque": muscle_torque, "nrmse": nrmse}


# --------------------------------------------------------------------------------------------
# Trial plan, surface EMG, and the generation of the whole cohort.
# --------------------------------------------------------------------------------------------
COHORT_VERSION = 1
DEFAULT_SEED = 2025
RAW_EMG_RATE = 2000.0  # Hz
MAX_TORQUE_NRMSE = 0.02
#: (posture, cycle duration s, low angle rad, high angle rad) per trial and load; jittered
#: +-10 % per subject. Four hanging trials per load at different speeds and amplitudes, and two
#: overhead ones in which gravity flexes the elbow and the extensors must work.
FULL_PLAN = (("hanging", 3.0, 0.15, 2.0), ("hanging", 2.0, 0.3, 1.8), ("hanging", 1.4, 0.2, 1.6),
             ("hanging", 1.0, 0.5, 1.9), ("overhead", 2.5, 0.3, 2.0), ("overhead", 1.4, 0.4, 1.8))
#: The quick plan: two hanging trials per load (so that a real-data stand-in, which takes the
#: empty-handed hanging trials, has one to train on and one to test) and one overhead.
QUICK_PLAN = (("hanging", 1.6, 0.3, 1.8), ("hanging", 1.2, 0.4, 1.6), ("overhead", 1.6, 0.3, 1.8))
#: Crosstalk into each surface electrode (rows, SURFACE_MUSCLES order) from each muscle
#: (columns, MUSCLE_NAMES order): the two biceps heads see each other and the brachialis
#: beneath; the two superficial triceps heads see each other and the medial head.
_CROSSTALK = {"BIClong": {"BICshort": 0.25, "BRA": 0.12},
              "BICshort": {"BIClong": 0.25, "BRA": 0.15},
              "TRIlong": {"TRIlat": 0.2, "TRImed": 0.12},
              "TRIlat": {"TRIlong": 0.2, "TRImed": 0.18}}


def trial_plan(subject_index: int, quick: bool = False, seed: int = DEFAULT_SEED) -> list[tuple[str, TrialSpec]]:
    """Trials of one subject: ``(trial_id, spec)`` for each hand load and plan entry."""
    rng = np.random.default_rng([seed, subject_index, 1])
    plan = []
    for load in HAND_LOADS:
        for k, (posture, cycle, low, high) in enumerate(QUICK_PLAN if quick else FULL_PLAN):
            jitter = rng.uniform(0.9, 1.1, 3)
            spec = TrialSpec(load, posture, float(low * jitter[0]), float(min(high * jitter[1], 2.2)),
                             float(cycle * jitter[2]), n_cycles=1 if quick else 2)
            plan.append((f"{posture}_{load:g}kg_{k + 1}", spec))
    return plan


def crosstalk_matrix(subject_index: int, seed: int = DEFAULT_SEED) -> np.ndarray:
    """Mixing of the six muscles into the four surface electrodes, shape (4, 6), per subject."""
    rng = np.random.default_rng([seed, subject_index, 2])
    matrix = np.zeros((len(SURFACE_MUSCLES), len(MUSCLE_NAMES)))
    for i, channel in enumerate(SURFACE_MUSCLES):
        matrix[i, MUSCLE_NAMES.index(channel)] = 1.0
        for source, gain in _CROSSTALK[channel].items():
            matrix[i, MUSCLE_NAMES.index(source)] = gain * rng.uniform(0.7, 1.3)
    return matrix


#: Raw EMG is recorded this long before and after each trial (s), as a real recording would be,
#: so the zero-phase filters' start-up transients fall outside the trial.
RECORDING_MARGIN = 0.5


def _emg_from_excitation(excitation, time, subject: CohortSubject, crosstalk, seed):
    """Raw surface EMG for excitations (T, 6) sampled at ``time``; EMG leads force by the delay.

    Returns raw EMG (T_raw, 4) and its time stamps (s, same clock as ``time``), covering
    ``RECORDING_MARGIN`` before and after the trial (excitations held at their end values).
    """
    rate = 1.0 / np.mean(np.diff(time))
    pad = int(round(RECORDING_MARGIN * rate))
    padded_time = np.concatenate([time[0] - np.arange(pad, 0, -1) / rate, time,
                                  time[-1] + np.arange(1, pad + 1) / rate])
    shifted = np.column_stack([np.interp(padded_time + subject.electromechanical_delay, time, excitation[:, j])
                               for j in range(excitation.shape[1])])
    raw, raw_time = signals.simulate_raw_emg(np.clip(shifted, 0, 1), rate, raw_rate=RAW_EMG_RATE,
                                             crosstalk=crosstalk, seed=seed)
    return raw, raw_time + padded_time[0]


def mvc_trials(subject: CohortSubject, subject_index: int, seed: int = DEFAULT_SEED):
    """Simulated maximum voluntary contractions (isometric, elbow at 90 deg).

    Returns
    -------
    dict
        ``{"flexion"|"extension": (time, raw (T_raw, 4))}`` and ``"mvc_peak"`` (4,): the
        largest 0.5 s moving-average envelope of each surface channel over both trials.
    """
    time = np.arange(0, 4.0 + 1e-9, 0.01)
    ramp = np.clip(np.minimum(time - 0.5, 3.5 - time) / 0.5, 0, 1)
    crosstalk = crosstalk_matrix(subject_index, seed)
    out, peaks = {}, []
    for k, (kind, muscles) in enumerate((("flexion", config.FLEXORS), ("extension", config.EXTENSORS))):
        excitation = np.full((time.size, len(MUSCLE_NAMES)), subject.minimum_activation)
        for m in muscles:
            excitation[:, MUSCLE_NAMES.index(m)] = np.maximum(ramp, subject.minimum_activation)
        raw, raw_time = _emg_from_excitation(excitation, time, subject, crosstalk,
                                             seed=int(np.random.SeedSequence([seed, subject_index, 3, k]).generate_state(1)[0]))
        envelope, _ = signals.process_emg(raw, RAW_EMG_RATE)
        peaks.append(signals.mvc_peak(envelope, RAW_EMG_RATE))
        out[kind] = (raw_time, raw)
    out["mvc_peak"] = np.max(peaks, axis=0)
    return out


#: The modules whose code decides what a generated cohort contains: the cohort's fingerprint
#: covers them (``tests/test_layers.py`` checks that they are the ones this module imports,
#: :mod:`nmm_core.paths` aside, which only says where the cohort is kept).
GENERATING_MODULES = ("arm_model", "cohort", "config", "files", "muscle", "signals", "sources", "storage", "tables",
                      "trials")
#: The file, in the cohort's folder, that receives the solvers' output.
LOG_FILE = "generation.log"


def _code_fingerprint() -> str:
    digest = hashlib.sha256(str(COHORT_VERSION).encode())
    for module in GENERATING_MODULES:
        digest.update(source_code(Path(__file__).parent / f"{module}.py").encode())
    return digest.hexdigest()[:16]


def cohort_fingerprint(quick: bool, seed: int, motor_control: str = MOTOR_CONTROLS[0]) -> str:
    """What a generated cohort depends on: code, seed, mode and motor control (16 hex digits)."""
    variant = "" if motor_control == MOTOR_CONTROLS[0] else f"|{motor_control}"
    return hashlib.sha256(f"{_code_fingerprint()}|{seed}|{quick}{variant}".encode()).hexdigest()[:16]


# --------------------------------------------------------------------------------------------
# Solver output: into the cohort's log, not onto the terminal.
# --------------------------------------------------------------------------------------------
def _flush_all() -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    ctypes.CDLL(None).fflush(None)  # C and C++ libraries buffer their own output


def _append(path: Path, data: bytes) -> None:
    """Append ``data`` with one system call (O_APPEND), so parallel workers do not interleave."""
    handle = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(handle, view):]
    finally:
        os.close(handle)


@contextlib.contextmanager
def _descriptors_to(target: int):
    """Point file descriptors 1 and 2 at ``target`` meanwhile: C and C++ libraries write there."""
    _flush_all()
    saved = [os.dup(1), os.dup(2)]
    os.dup2(target, 1)
    os.dup2(target, 2)
    try:
        yield
    finally:
        _flush_all()
        for descriptor, original in zip((1, 2), saved):
            os.dup2(original, descriptor)
            os.close(original)


@contextlib.contextmanager
def output_to_log(log, header: str):
    """Send everything printed meanwhile, by Python and by C and C++ libraries, to ``log``.

    Moco, CasADi and IPOPT print from C++ to file descriptors 1 and 2 whatever their verbosity
    settings (IPOPT's banner, CasADi's timing table, Moco's objective breakdown), so the
    descriptors themselves are redirected; ``sys.stdout`` and ``sys.stderr`` too, since they
    need not write to those descriptors (a Jupyter kernel, pytest). The captured text is
    appended to ``log`` in one write, after a ``--- header ---`` line.

    Parameters
    ----------
    log : path
        The log file; created if absent, appended to otherwise.
    header : str
        Names what the output belongs to (e.g. ``"S02/hanging_2kg_1"``).
    """
    with tempfile.TemporaryFile() as capture:
        try:
            # One open file behind every stream: they share its offset, so nothing overwrites.
            with _descriptors_to(capture.fileno()), open(capture.fileno(), "w", closefd=False) as text, \
                    contextlib.redirect_stdout(text), contextlib.redirect_stderr(text):
                yield
        finally:
            capture.seek(0)
            _append(Path(log), f"--- {header} ---\n".encode() + capture.read())


# --------------------------------------------------------------------------------------------
# Generation.
# --------------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class _TrialTask:
    """Everything a worker process needs to make one trial (picklable)."""

    directory: Path
    subject_index: int
    trial_id: str
    spec: TrialSpec
    mvc_peak: np.ndarray
    seed: int
    fingerprint: str
    log: Path
    motor_control: str = MOTOR_CONTROLS[0]


def _generate_trial(task: _TrialTask) -> dict:
    """Worker: solve, check, synthesise and write one trial, its solver output to the log;
    return its summary."""
    subject = make_cohort(seed=task.seed)[task.subject_index]  # rebuilt here: records hold mappingproxies
    thresholds = recruitment_thresholds(task.subject_index) if task.motor_control == "thresholds" else None
    with output_to_log(task.log, f"{subject.name}/{task.trial_id}"):
        truth = solve_true_excitations(subject, task.spec, thresholds=thresholds)
        check = torque_consistency(subject, task.spec, truth)
    if check["nrmse"] > MAX_TORQUE_NRMSE:
        raise RuntimeError(f"{subject.name}/{task.trial_id}: muscle torque from the true activations "
                           f"misses OpenSim ID by NRMSE {check['nrmse']:.3%} (> {MAX_TORQUE_NRMSE:.0%}).")
    time = truth["time"]
    trial_seed = int(np.random.SeedSequence([task.seed, task.subject_index, 4, sum(map(ord, task.trial_id))])
                     .generate_state(1)[0])
    raw, raw_time = _emg_from_excitation(truth["excitation"], time, subject,
                                         crosstalk_matrix(task.subject_index, task.seed), trial_seed)
    envelope, _ = signals.process_emg(raw, RAW_EMG_RATE, mvc_peak=task.mvc_peak, target_time=time - raw_time[0])
    summary = _trial_summary(subject, task, truth, check)
    trial = trials.Trial(
        name=task.trial_id, subject=subject.name, time=time, elbow_angle=truth["elbow_angle"],
        torque=check["inverse_dynamics"], emg=envelope, emg_channels=SURFACE_MUSCLES,
        hand_load=task.spec.hand_load, shoulder_angle=task.spec.shoulder_angle,
        truth={m: truth["excitation"][:, j] for j, m in enumerate(MUSCLE_NAMES)},
        metadata={"source": "nmm virtual cohort", "summary": summary,
                  "deep_muscles": list(DEEP_MUSCLES), "raw_emg_rate_hz": RAW_EMG_RATE,
                  "motor_control": task.motor_control},
    )
    trials.save_trial(task.directory, trial, raw_emg=(raw_time, raw))
    return summary


def _trial_summary(subject: CohortSubject, task: _TrialTask, truth: Mapping, check: Mapping) -> dict:
    spec, excitation = task.spec, truth["excitation"]
    return {
        "subject": subject.name, "trial": task.trial_id, "posture": spec.posture,
        "hand_load_kg": spec.hand_load, "duration_s": spec.duration,
        "cycle_duration_s": spec.cycle_duration, "low_angle_rad": spec.low_angle,
        "high_angle_rad": spec.high_angle, "torque_nrmse": check["nrmse"],
        "mean_excitation": {m: float(excitation[:, j].mean()) for j, m in enumerate(MUSCLE_NAMES)},
        "peak_excitation": {m: float(excitation[:, j].max()) for j, m in enumerate(MUSCLE_NAMES)},
        "fingerprint": task.fingerprint,
    }


def _subject_record(subject: CohortSubject, subject_index: int, seed: int,
                    motor_control: str = MOTOR_CONTROLS[0]) -> dict:
    body = subject.body
    thresholds = recruitment_thresholds(subject_index) if motor_control == "thresholds" else None
    return {
        "name": subject.name, "index": subject_index,
        "segment_length_scale": body.segment_length_scale,
        "forearm_mass_scale": body.forearm_mass_scale,
        "max_isometric_force_scale": dict(body.max_isometric_force_scale),
        "optimal_fiber_length_scale": dict(body.optimal_fiber_length_scale),
        "tendon_slack_length_scale": dict(body.tendon_slack_length_scale),
        "electromechanical_delay_s": subject.electromechanical_delay,
        "effort_weights": dict(subject.effort_weights),
        "minimum_activation": subject.minimum_activation,
        "motor_control": {"model": motor_control, **({} if thresholds is None else {
            "seed": THRESHOLDS_SEED, "linear_costs": dict(thresholds.linear_costs),
            "cocontraction": thresholds.cocontraction, "cocontraction_speed_rad_s": COCONTRACTION_SPEED})},
        "crosstalk": {"channels": list(SURFACE_MUSCLES), "sources": list(MUSCLE_NAMES),
                      "matrix": crosstalk_matrix(subject_index, seed).tolist()},
        "muscles": {m: dataclasses.asdict(body.muscle(m)) for m in MUSCLE_NAMES},
    }


def _chosen_subjects(everyone: Sequence[CohortSubject], subjects: Sequence[str] | None) -> list[str]:
    names = [s.name for s in everyone]
    chosen = names if subjects is None else list(subjects)
    unknown = sorted(set(chosen) - set(names))
    if unknown:
        raise ValueError(f"Unknown subjects {unknown}; the cohort has {names}.")
    return chosen


def _prepare_subject(directory: Path, subject: CohortSubject, index: int, quick: bool, seed: int,
                     fingerprint: str, motor_control: str) -> tuple[list[dict], list[_TrialTask]]:
    """Write a subject's record, model and MVC trials; return the summaries of its trials
    already written with ``fingerprint`` and the tasks for the others."""
    folder = directory / subject.name
    folder.mkdir(exist_ok=True)
    (folder / "subject.json").write_text(json.dumps(_subject_record(subject, index, seed, motor_control), indent=1))
    arm_model.save_model(arm_model.build_arm_model(subject.body), folder / f"{subject.name}.osim")
    mvc = mvc_trials(subject, index, seed)
    for kind in ("flexion", "extension"):
        path = folder / "mvc" / f"{kind}_emg_raw.sto"
        path.parent.mkdir(exist_ok=True)
        storage.write_sto(path, *mvc[kind], list(SURFACE_MUSCLES), name=f"mvc_{kind}")
    done, tasks = [], []
    for trial_id, spec in trial_plan(index, quick, seed):
        trial_dir = folder / "trials" / trial_id
        summary = _existing_summary(trial_dir, fingerprint)
        if summary is not None:
            done.append(summary)
        else:
            tasks.append(_TrialTask(trial_dir, index, trial_id, spec, mvc["mvc_peak"], seed, fingerprint,
                                    directory / LOG_FILE, motor_control))
    return done, tasks


def _run_tasks(tasks: Sequence[_TrialTask], workers: int, bar) -> list[dict]:
    """Generate the trials, on ``workers`` processes when more than one; update ``bar``."""
    if workers == 1:
        return [_tick(bar, _generate_trial(task)) for task in tasks]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(_generate_trial, task) for task in tasks]
        return [_tick(bar, future.result()) for future in as_completed(futures)]


def _tick(bar, summary: dict) -> dict:
    bar.update()
    return summary


def _write_json(path: Path, record: dict) -> None:
    """Write ``record`` whole or not at all: a reader never sees half a ``cohort.json``."""
    atomic_write(path, json.dumps(record, indent=1))


def generate_cohort(directory, quick: bool = False, seed: int = DEFAULT_SEED,
                    workers: int | None = None, progress: bool = True,
                    subjects: Sequence[str] | None = None, motor_control: str = MOTOR_CONTROLS[0]) -> Path:
    """Generate (or complete) the virtual cohort in ``directory``.

    Trials already written with the current fingerprint are skipped, so an interrupted run
    resumes where it stopped; every trial folder is written atomically. Trials are solved in
    parallel on ``workers`` processes (default: all cores); the solvers' output goes to
    ``directory/generation.log`` (:data:`LOG_FILE`), and with ``progress`` the terminal shows a
    progress bar and one summary line. ``subjects`` restricts generation to some subjects
    (e.g. ``["S01"]``); ``cohort.json`` then lists only those. ``motor_control`` is one of
    :data:`nmm_core.config.MOTOR_CONTROLS` (module docstring); ``seed`` draws the bodies, trials
    and EMG either way.

    Returns
    -------
    pathlib.Path
        ``directory``, which then holds ``cohort.json``, the log and one folder per subject.

    Raises
    ------
    ValueError
        If ``subjects`` names a subject the cohort does not have.
    """
    started = perf_counter()
    directory = Path(directory)
    fingerprint = cohort_fingerprint(quick, seed, _check_motor_control(motor_control))
    everyone = make_cohort(seed=seed)
    chosen = _chosen_subjects(everyone, subjects)
    directory.mkdir(parents=True, exist_ok=True)
    summaries, tasks = [], []
    for index, subject in enumerate(everyone):
        if subject.name in chosen:
            done, todo = _prepare_subject(directory, subject, index, quick, seed, fingerprint, motor_control)
            summaries += done
            tasks += todo
    mode = "quick" if quick else "full"
    label = mode if motor_control == MOTOR_CONTROLS[0] else f"{mode}, {motor_control}"
    with tqdm(total=len(tasks), desc=f"cohort ({label})", unit="trial", disable=not (progress and tasks)) as bar:
        try:
            summaries += _run_tasks(tasks, workers or os.cpu_count() or 1, bar)
        except Exception as error:
            error.add_note(f"The solvers' output is in {directory / LOG_FILE}.")
            raise
    summaries.sort(key=lambda s: (s["subject"], s["trial"]))
    _write_json(directory / "cohort.json", {
        "format": "nmm-virtual-cohort", "version": COHORT_VERSION, "seed": seed, "mode": mode,
        "motor_control": motor_control,
        "fingerprint": fingerprint, "subjects": chosen,
        "surface_muscles": list(SURFACE_MUSCLES), "deep_muscles": list(DEEP_MUSCLES),
        "kinematics_rate_hz": KINEMATICS_RATE, "raw_emg_rate_hz": RAW_EMG_RATE, "trials": summaries})
    if progress:
        print(f"cohort ({label}): {len(tasks)} trials solved, {len(summaries) - len(tasks)} already there, "
              f"{perf_counter() - started:.0f} s; in {directory} (solver output: {LOG_FILE})")
    return directory


def _existing_summary(trial_dir: Path, fingerprint: str) -> dict | None:
    try:
        meta = json.loads((trial_dir / "trial.json").read_text())
    except (OSError, ValueError):
        return None
    summary = meta.get("summary", {})
    return summary if summary.get("fingerprint") == fingerprint else None


# --------------------------------------------------------------------------------------------
# The cohorts' home: <data dir>/generated/<name>-seed<seed>-<fingerprint>/.
# --------------------------------------------------------------------------------------------
_HOME_NAME = re.compile(r"(?P<name>virtual-cohort(?:-[a-z_]+)?(?:-quick)?)-seed(?P<seed>\d+)-(?P<fingerprint>[0-9a-f]{16})")


def cohort_name(quick: bool = False, motor_control: str = MOTOR_CONTROLS[0]) -> str:
    """Name of the cohort, as ``python -m data_download fetch`` knows it: ``virtual-cohort``,
    with ``-<motor control>`` for a variant (``virtual-cohort-thresholds``) and ``-quick``."""
    variant = "" if _check_motor_control(motor_control) == MOTOR_CONTROLS[0] else f"-{motor_control}"
    return f"virtual-cohort{variant}{'-quick' if quick else ''}"


def parse_cohort_name(name: str) -> tuple[bool, str]:
    """``(quick, motor_control)`` of a :func:`cohort_name`; ValueError for any other name."""
    for motor_control in MOTOR_CONTROLS:
        for quick in (False, True):
            if name == cohort_name(quick, motor_control):
                return quick, motor_control
    raise ValueError(f"{name!r} is not the name of a generated cohort.")


def cohort_path(quick: bool = False, seed: int = DEFAULT_SEED, motor_control: str = MOTOR_CONTROLS[0]) -> Path:
    """Folder of the cohort that this code generates for ``quick`` and ``seed``, whether or not
    it exists: ``<data dir>/generated/<name>-seed<seed>-<fingerprint>``.

    A cohort made by other code has another fingerprint, hence another folder: changing the
    generating code (:data:`GENERATING_MODULES`) gives a new cohort and leaves the old one in
    place (``python -m data_download prune`` removes it).
    """
    return (paths.generated_dir()
            / f"{cohort_name(quick, motor_control)}-seed{seed}-{cohort_fingerprint(quick, seed, motor_control)}")


def _record(directory: Path) -> dict | None:
    try:
        return json.loads((Path(directory) / "cohort.json").read_text())
    except (OSError, ValueError):
        return None


def generated_subjects(quick: bool = False, seed: int = DEFAULT_SEED, motor_control: str = MOTOR_CONTROLS[0]) -> list[str]:
    """The subjects the cohort for ``quick``, ``seed`` and ``motor_control`` holds, in order:
    every subject, except on a variant in quick mode, which holds only the subjects a quick run
    trains on it (:func:`nmm_core.config.variant_subjects`: the first), since solving the
    others' trials (two Moco solves each) would take most of the quick cohorts' time for data
    that no chapter of the quick book reads."""
    return variant_subjects(_check_motor_control(motor_control), [s.name for s in make_cohort(seed=seed)], quick)


def is_complete(directory, quick: bool = False, seed: int = DEFAULT_SEED, motor_control: str = MOTOR_CONTROLS[0]) -> bool:
    """Whether ``directory`` holds the cohort made by this code for ``quick``, ``seed`` and
    ``motor_control``: every subject of :func:`generated_subjects` (a folder with more, from an
    earlier version that generated a quick variant whole, is complete too)."""
    record = _record(directory)
    return (record is not None and record.get("fingerprint") == cohort_fingerprint(quick, seed, motor_control)
            and set(generated_subjects(quick, seed, motor_control)) <= set(record.get("subjects") or ()))


def cohort_dir(quick: bool = False, seed: int = DEFAULT_SEED, progress: bool = True,
               motor_control: str = MOTOR_CONTROLS[0]) -> Path:
    """Folder of the cohort for ``quick``, ``seed`` and ``motor_control`` (:func:`cohort_path`),
    generated or completed first when it is not complete (its :func:`generated_subjects`; a
    progress bar and a summary line if ``progress``)."""
    directory = cohort_path(quick, seed, motor_control)
    if not is_complete(directory, quick, seed, motor_control):
        generate_cohort(directory, quick=quick, seed=seed, progress=progress, motor_control=motor_control,
                        subjects=generated_subjects(quick, seed, motor_control))
    return directory


@dataclasses.dataclass(frozen=True)
class GeneratedCohort:
    """A cohort folder in the data cache.

    Attributes
    ----------
    path : pathlib.Path
    name : str
        A :func:`cohort_name`, e.g. ``virtual-cohort`` or ``virtual-cohort-thresholds-quick``.
    seed : int
    current : bool
        Made by this code (its fingerprint is today's); a stale cohort is never read again.
    complete : bool
        Generation finished (``cohort.json`` written); an incomplete current cohort is resumed
        by :func:`cohort_dir`.
    """

    path: Path
    name: str
    seed: int
    current: bool
    complete: bool


def generated_cohorts() -> list[GeneratedCohort]:
    """Every cohort folder under ``<data dir>/generated``, current and stale, by name."""
    found = []
    folder = paths.generated_dir()
    for path in sorted(folder.iterdir()) if folder.is_dir() else ():
        match = _HOME_NAME.fullmatch(path.name)
        if match is None or not path.is_dir():
            continue
        try:
            quick, motor_control = parse_cohort_name(match["name"])
        except ValueError:  # a variant this code does not know: never current
            quick, motor_control = None, None
        seed = int(match["seed"])
        current = motor_control is not None and match["fingerprint"] == cohort_fingerprint(quick, seed, motor_control)
        found.append(GeneratedCohort(path, match["name"], seed, current,
                                     _record(path) is not None))
    return found


def subject_record(directory, subject: str) -> dict:
    """``<directory>/<subject>/subject.json`` of a generated cohort: the subject's true
    parameters, delay and motor control as :func:`generate_cohort` wrote them."""
    path = Path(directory) / subject / "subject.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: {directory} has no generated subject {subject!r}. "
                                "Generate the cohort with `python -m data_download fetch virtual-cohort`.")
    return json.loads(path.read_text())


def load_cohort(directory=None, quick: bool = False, motor_control: str = MOTOR_CONTROLS[0]) -> dict[str, list]:
    """All trials of a generated cohort, ``{subject: [Trial, ...]}``; by default the cohort of
    :func:`cohort_dir` (generated if absent)."""
    directory = Path(directory) if directory is not None else cohort_dir(quick, motor_control=motor_control)
    record_path = directory / "cohort.json"
    if not record_path.is_file():
        raise FileNotFoundError(f"{record_path} is missing: {directory} is not a generated cohort. "
                                "Generate it with nmm_core.cohort.generate_cohort or "
                                "`python -m data_download fetch virtual-cohort`.")
    record = json.loads(record_path.read_text())
    out = {}
    for name in record["subjects"]:
        trial_dirs = sorted((directory / name / "trials").iterdir())
        out[name] = [trials.load_trial(d, required_channels=SURFACE_MUSCLES,
                                       expected_rate=record["kinematics_rate_hz"])
                     for d in trial_dirs if not d.name.startswith(".")]
    return out
