"""Print how far the learner's muscle chain is from OpenSim's DeGrooteFregly2016Muscle.

Run: .venv/bin/python benchmarks/muscle_vs_opensim.py
Grid: activations x elbow angles x elbow speeds, all six muscles, two shoulder postures.
"""

import math

import keras
import numpy as np

from nmm_core import arm_model, config, muscle
from nmm_core.config import MUSCLE_NAMES


def main():
    activations = np.linspace(0, 1, 6)
    angles = np.linspace(*config.ELBOW_RANGE, 31)
    speeds = np.linspace(-6, 6, 7)
    a, q, w = (x.reshape(-1) for x in np.meshgrid(activations, angles, speeds, indexing="ij"))
    activation = np.repeat(a[:, None], 6, axis=1)
    for subject in (config.NOMINAL_SUBJECT, config.Subject("scaled", segment_length_scale=1.08,
                                                           max_isometric_force_scale={"BRA": 1.3})):
        p = {f: np.array([getattr(subject.muscle(m), f) for m in MUSCLE_NAMES])
             for f in ("max_isometric_force", "optimal_fiber_length", "tendon_slack_length",
                       "pennation_angle_at_optimal")}
        for shoulder in (0.0, math.pi):
            forces, lengths, mt_speeds = arm_model.opensim_muscle_forces(subject, q, w, activation, shoulder)
            direct = muscle.muscle_force(activation, lengths, mt_speeds, **p)
            geometry = arm_model.fit_muscle_geometry(subject, shoulder)
            qt, wt = (keras.ops.convert_to_tensor(x, "float64") for x in (q, w))
            chain = keras.ops.convert_to_numpy(muscle.muscle_force(
                keras.ops.convert_to_tensor(activation), geometry.length(qt),
                geometry.lengthening_speed(qt, wt), **p))
            scale = p["max_isometric_force"]
            print(f"{subject.name:8s} shoulder {shoulder:4.2f} rad, {q.size * 6} muscle states: "
                  f"curves-only max error {np.abs(direct - forces).max() / scale.min():.2e} F0, "
                  f"full chain max error {100 * (np.abs(chain - forces) / scale).max():.3f} % F0; "
                  f"fit max |dl| {1e3 * geometry.max_length_error:.3f} mm, "
                  f"max |dr| {1e3 * geometry.max_moment_arm_error:.3f} mm")


if __name__ == "__main__":
    main()
