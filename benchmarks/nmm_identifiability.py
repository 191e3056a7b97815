"""Why the deep EMG is hard to identify from torque: print torque errors of the NMM's physics
when it is given the truth in various doses.

For one subject of the full cohort, on every trial, the learner's physics (polynomial muscle
paths, keras-free NumPy chain) computes torque from
  (a) the true excitations of all six muscles and the subject's true per-muscle parameters;
  (b) the measured surface envelopes, the true deep excitations, true parameters;
  (c) the measured surface envelopes, deep excitations set to zero, true parameters;
  (d) (b) and (c) with nominal parameters instead.
If (a) is near zero the physics is consistent with the cohort; if (c) is not much worse than
(b), torque alone says little about the deep muscles.

Run: .venv/bin/python benchmarks/nmm_identifiability.py [--subject S01]
"""

import argparse
import json

import numpy as np

from nmm_core import cohort, metrics, synergy, training
from nmm_core.config import DEEP_MUSCLES, MUSCLE_NAMES, SURFACE_MUSCLES, Subject


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subject", default="S01")
    args = parser.parse_args()
    directory = cohort.cohort_dir(quick=False)
    record = json.loads((directory / args.subject / "subject.json").read_text())
    trials = cohort.load_cohort(directory)[args.subject]
    learner = training.learner_subject(record)
    true_body = Subject(args.subject, record["segment_length_scale"], record["forearm_mass_scale"],
                        record["max_isometric_force_scale"], record["optimal_fiber_length_scale"],
                        record["tendon_slack_length_scale"])
    arrays = training.prepare(trials, learner)
    delay = record["electromechanical_delay_s"]

    def nominal_of(body):
        return {f: np.array([getattr(body.muscle(m), f) for m in MUSCLE_NAMES])
                for f in ("max_isometric_force", "optimal_fiber_length", "tendon_slack_length",
                          "pennation_angle_at_optimal")}

    def torque_error(surface_of, deep_of, body, neural):
        errors = {"hanging": [], "overhead": []}
        for a in arrays:
            torque = synergy.model_torque(surface_of(a), deep_of(a), a.length, a.speed, a.moment_arm,
                                          nominal_of(body), np.ones(6), delay, **neural)
            errors[a.trial.name.split("_")[0]].append(metrics.nrmse(a.torque[10:], torque[10:]))
        return "  ".join(f"{k} {100 * np.mean(v):5.1f} %" for k, v in errors.items())

    true_neural = {"activation_time_constant": 0.010, "deactivation_time_constant": 0.040, "shape_factor": 0.0}
    nominal_neural = {}  # the NMM's nominal starting values

    def true_surface(a):
        return np.column_stack([np.interp(a.trial.time + delay, a.trial.time, a.trial.truth[m])
                                for m in SURFACE_MUSCLES])

    def measured(a):
        return a.surface

    def true_deep(a):
        return training.true_deep_emg(a.trial, delay)

    def zero_deep(a):
        return np.zeros((a.torque.size, len(DEEP_MUSCLES)))

    print(f"subject {args.subject}: mean torque NRMSE per posture")
    print("(a) true excitations, true parameters:      ", torque_error(true_surface, true_deep, true_body, true_neural))
    print("(b) measured surface, true deep, true params:", torque_error(measured, true_deep, true_body, true_neural))
    print("(c) measured surface, no deep, true params:  ", torque_error(measured, zero_deep, true_body, true_neural))
    print("(d) measured surface, true deep, nominal:    ", torque_error(measured, true_deep, learner, nominal_neural))
    print("(e) measured surface, no deep, nominal:      ", torque_error(measured, zero_deep, learner, nominal_neural))


if __name__ == "__main__":
    main()
