"""The virtual cohort: subjects, trials, and deep-muscle ground truth computed by OpenSim Moco.

This module holds the first half of the cohort (the generation of the truth); surface EMG
synthesis lives in :mod:`nmm_core.signals`, and the on-disk format and loader come with the
cohort's data layer.

Ground truth never comes from our own muscle code: the excitations of all six muscles are
solved by ``MocoInverse`` on the subject's OpenSim model, with DeGroote-Fregly muscles (rigid
tendon, activation dynamics on) and subject-specific effort weights and minimum excitations
(motor strategy and co-contraction). The learner's muscle is the same curve family with other
parameters to identify, which is the realistic amount of model mismatch.
"""

from __future__ import annotations

import dataclasses
import math
from types import MappingProxyType
from typing import Mapping

import numpy as np

from . import arm_model, config
from .config import MUSCLE_NAMES, Subject

HAND_LOADS = (0.0, 2.0, 4.0)  # kg
POSTURES: Mapping[str, float] = MappingProxyType({"hanging": 0.0, "overhead": math.pi})
KINEMATICS_RATE = 100.0  # Hz


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
    minimum_excitation : float
        Excitation below which no muscle drops (co-contraction level), in [0, 0.2].
    """

    body: Subject
    electromechanical_delay: float
    effort_weights: Mapping[str, float]
    minimum_excitation: float

    @property
    def name(self) -> str:
        return self.body.name


def make_cohort(n_subjects: int = 5, seed: int = 2025) -> tuple[CohortSubject, ...]:
    """Draw the virtual subjects, reproducibly from ``seed``.

    Ranges (uniform unless said): segment length scale 0.92-1.08; forearm mass scale
    0.85-1.2; per-muscle strength log-normal (sd 0.15) clipped to 0.7-1.4; optimal fiber
    length scale 0.92-1.08 and tendon slack length scale 0.96-1.04 per muscle; delay 30-70 ms;
    effort weights log-normal (sd 0.4); minimum excitation 0.01-0.06.
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
            minimum_excitation=float(rng.uniform(0.01, 0.06)),
        ))
    return tuple(subjects)


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


def _moco_kinematics_table(time, elbow_angle, shoulder_angle):
    import opensim as osim

    table = osim.TimeSeriesTable()
    table.setColumnLabels(["/jointset/elbow/elbow_flexion/value",
                           "/jointset/shoulder/shoulder_elevation/value"])
    for t, q in zip(time, elbow_angle):
        table.appendRow(float(t), osim.RowVector([float(q), float(shoulder_angle)]))
    table.addTableMetaDataString("inDegrees", "no")  # Moco needs this metadata
    return table


def solve_true_excitations(subject: CohortSubject, spec: TrialSpec, mesh_interval: float = 0.02):
    """Excitations and activations of the six muscles for a trial, solved by ``MocoInverse``.

    The shoulder is prescribed still and balanced by a strong, cheap reserve; the elbow has no
    reserve, so the muscles alone produce the elbow torque.

    Returns
    -------
    dict
        ``time`` (T,), ``elbow_angle`` (T,), ``excitation`` and ``activation`` (T, 6) in
        :data:`~nmm_core.config.MUSCLE_NAMES` order, at :data:`KINEMATICS_RATE`.
    """
    import opensim as osim

    time, angle = spec.kinematics()
    model = arm_model.build_arm_model(subject.body, spec.hand_load, spec.shoulder_angle)
    arm_model.use_degroote_fregly_muscles(model, ignore_activation_dynamics=False)
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
    effort = osim.MocoControlGoal.safeDownCast(problem.updGoal("excitation_effort"))
    for name in MUSCLE_NAMES:
        effort.setWeightForControl(f"/forceset/{name}", float(subject.effort_weights[name]))
        problem.setControlInfo(f"/forceset/{name}", osim.MocoBounds(subject.minimum_excitation, 1.0))
    solver = osim.MocoCasADiSolver.safeDownCast(study.updSolver())
    solver.set_verbosity(0)
    solver.set_optim_ipopt_print_level(0)
    solution = study.solve()
    if not solution.success():
        raise RuntimeError(f"MocoInverse failed for subject {subject.name}, trial {spec}: "
                           f"{solution.getStatus()}")
    solved_time = np.asarray(solution.getTimeMat())
    controls = np.asarray(solution.getControlsTrajectoryMat())
    states = np.asarray(solution.getStatesTrajectoryMat())
    control_names = list(solution.getControlNames())
    state_names = list(solution.getStateNames())
    excitation = np.column_stack([np.interp(time, solved_time, controls[:, control_names.index(f"/forceset/{m}")])
                                  for m in MUSCLE_NAMES])
    activation = np.column_stack([np.interp(time, solved_time, states[:, state_names.index(f"/forceset/{m}/activation")])
                                  for m in MUSCLE_NAMES])
    return {"time": time, "elbow_angle": angle, "excitation": excitation, "activation": activation}


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
    forces, _, _ = arm_model.opensim_muscle_forces(subject.body, angle, speed, truth["activation"],
                                                   spec.shoulder_angle)
    geometry = arm_model.fit_muscle_geometry(subject.body, spec.shoulder_angle)
    muscle_torque = np.sum(geometry.moment_arm(angle) * forces, axis=-1)
    span = np.ptp(reference)
    nrmse = float(np.sqrt(np.mean((muscle_torque - reference) ** 2)) / span)
    return {"inverse_dynamics": reference, "muscle_torque": muscle_torque, "nrmse": nrmse}
