"""The virtual cohort's truth: seeded subjects, and Moco excitations consistent with OpenSim ID."""

import numpy as np
import pytest

from nmm_core import cohort, config


def test_cohort_is_reproducible_and_subjects_differ():
    first, again, other = cohort.make_cohort(seed=7), cohort.make_cohort(seed=7), cohort.make_cohort(seed=8)
    assert first == again
    assert first != other
    assert len({s.body.segment_length_scale for s in first}) == len(first)
    assert [s.name for s in first] == ["S01", "S02", "S03", "S04", "S05"]
    for subject in first:
        assert 0.03 <= subject.electromechanical_delay <= 0.07
        assert 0.01 <= subject.minimum_excitation <= 0.06


def test_trial_kinematics_stay_in_range_and_are_smooth():
    spec = cohort.TrialSpec(2.0, "hanging", 0.2, 2.1, 1.6, n_cycles=2)
    time, angle = spec.kinematics()
    assert time[-1] == pytest.approx(spec.duration)
    assert np.diff(time) == pytest.approx(np.full(time.size - 1, 1 / cohort.KINEMATICS_RATE))
    assert angle.min() == pytest.approx(0.2) and angle.max() == pytest.approx(2.1, abs=1e-3)
    speed, _ = cohort.arm_model.elbow_kinematics(time, angle)
    assert abs(speed[0]) < 1e-6  # starts at rest


@pytest.mark.opensim
@pytest.mark.parametrize("posture, deep_muscle", [("hanging", "BRA"), ("overhead", "TRImed")])
def test_moco_truth_reproduces_inverse_dynamics_and_loads_the_deep_muscle(posture, deep_muscle):
    subject = cohort.make_cohort()[1]
    spec = cohort.TrialSpec(4.0, posture, 0.3, 2.0, 1.2, n_cycles=1)
    truth = cohort.solve_true_excitations(subject, spec)
    assert truth["excitation"].shape == (truth["time"].size, 6)
    assert truth["excitation"].min() >= subject.minimum_excitation - 1e-6
    check = cohort.torque_consistency(subject, spec, truth)
    assert check["nrmse"] <= 0.02
    # The deep muscle does real work in this posture (not stuck at its floor).
    deep = truth["excitation"][:, config.MUSCLE_NAMES.index(deep_muscle)]
    assert deep.max() > subject.minimum_excitation + 0.1
