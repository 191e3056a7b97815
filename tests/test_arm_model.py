"""The OpenSim arm: geometry fits against OpenSim, inverse dynamics against the closed form."""

import json
import math

import numpy as np
import pytest

from nmm_core import arm_model, config
from nmm_core.config import MUSCLE_NAMES, Subject

pytestmark = pytest.mark.opensim
osim = pytest.importorskip("opensim")

SCALED = Subject("scaled", segment_length_scale=1.15, forearm_mass_scale=1.3,
                 max_isometric_force_scale={"BRA": 1.2, "TRImed": 0.8})


@pytest.mark.parametrize("subject, shoulder", [(config.NOMINAL_SUBJECT, 0.0),
                                               (config.NOMINAL_SUBJECT, math.pi),
                                               (SCALED, 0.7)])
def test_fitted_geometry_matches_opensim_within_half_a_millimetre(subject, shoulder, rng):
    geometry = arm_model.fit_muscle_geometry(subject, shoulder)
    # Off the fitting grid, over the whole range, endpoints included.
    angles = np.concatenate([[0.0, config.ELBOW_RANGE[1]], rng.uniform(*config.ELBOW_RANGE, 150)])
    lengths, moment_arms = arm_model.sample_muscle_geometry(
        arm_model.build_arm_model(subject, 0.0, shoulder), angles)
    assert np.abs(geometry.length(angles) - lengths).max() < 0.5e-3
    assert np.abs(geometry.moment_arm(angles) - moment_arms).max() < 0.5e-3


def test_moment_arms_are_physiological():
    angles = np.linspace(*config.ELBOW_RANGE, 50)
    _, r = arm_model.sample_muscle_geometry(arm_model.build_arm_model(), angles)
    r = dict(zip(MUSCLE_NAMES, r.T))
    for name in config.FLEXORS:
        assert np.all(r[name] > 0), name
    for name in config.EXTENSORS:
        assert np.all(r[name] < 0), name
    # Published ranges (e.g. Murray et al. 1995): biceps peak 3.5-5.5 cm near 90-110 deg,
    # brachialis peak 1.5-3 cm, triceps 1.5-3 cm.
    assert 0.035 < r["BIClong"].max() < 0.055
    assert 70 < math.degrees(angles[np.argmax(r["BIClong"])]) < 115
    assert 0.015 < r["BRA"].max() < 0.03
    assert np.all((-0.03 < r["TRImed"]) & (r["TRImed"] < -0.015))


def test_fitted_speed_is_minus_moment_arm_times_angular_speed():
    geometry = arm_model.fit_muscle_geometry()
    theta = np.linspace(0.2, 2.0, 40)
    h = 1e-6
    numeric = (geometry.length(theta + h) - geometry.length(theta - h)) / (2 * h)
    np.testing.assert_allclose(geometry.lengthening_speed(theta, np.ones_like(theta)),
                               numeric, atol=1e-7)


def test_geometry_serialises_to_json_and_back():
    geometry = arm_model.fit_muscle_geometry(SCALED, 0.3)
    again = arm_model.MuscleGeometry.from_dict(json.loads(json.dumps(geometry.to_dict())))
    theta = np.linspace(0, 2.2, 9)
    np.testing.assert_array_equal(again.length(theta), geometry.length(theta))
    bad = geometry.to_dict() | {"muscles": list(reversed(MUSCLE_NAMES))}
    with pytest.raises(ValueError, match="MUSCLE|muscles"):
        arm_model.MuscleGeometry.from_dict(bad)


def closed_form_elbow_torque(subject, hand_load, shoulder, angle, acceleration):
    """One rigid forearm plus a point load, pinned at the elbow, humerus still."""
    m, d = subject.forearm_mass, subject.forearm_center_of_mass
    length = subject.hand_load_distance
    inertia = subject.forearm_inertia_zz + m * d**2 + hand_load * length**2
    return inertia * acceleration + config.GRAVITY * (m * d + hand_load * length) * np.sin(shoulder + angle)


@pytest.mark.parametrize("subject, hand_load, shoulder", [
    (config.NOMINAL_SUBJECT, 0.0, 0.0), (config.NOMINAL_SUBJECT, 4.0, 0.0),
    (config.NOMINAL_SUBJECT, 2.0, math.pi), (SCALED, 2.0, 1.2)])
def test_inverse_dynamics_equals_closed_form(subject, hand_load, shoulder):
    time = np.linspace(0.0, 3.0, 301)
    omega = 2 * np.pi * 0.6
    angle = 1.1 + 0.9 * np.sin(omega * time)
    speed = 0.9 * omega * np.cos(omega * time)
    acceleration = -0.9 * omega**2 * np.sin(omega * time)
    expected = closed_form_elbow_torque(subject, hand_load, shoulder, angle, acceleration)
    torque = arm_model.inverse_dynamics(subject, time, angle, hand_load, shoulder, speed, acceleration)
    tolerance = 1e-3 * np.abs(expected).max()
    assert np.abs(torque - expected).max() < tolerance
    # Derivatives estimated from the sampled angle alone (what a user's data give).
    estimated = arm_model.inverse_dynamics(subject, time, angle, hand_load, shoulder)
    assert np.abs(estimated[5:-5] - expected[5:-5]).max() < tolerance


def test_saved_osim_reloads_with_the_subjects_muscles(tmp_path):
    path = arm_model.save_model(arm_model.build_arm_model(SCALED, 2.0, 0.5), tmp_path / "s" / "arm.osim")
    model = osim.Model(str(path))
    model.initSystem()
    assert [model.getMuscles().get(i).getName() for i in range(6)] == list(MUSCLE_NAMES)
    bra = model.getMuscles().get("BRA")
    assert bra.getMaxIsometricForce() == pytest.approx(SCALED.muscle("BRA").max_isometric_force)
    assert bra.getOptimalFiberLength() == pytest.approx(SCALED.muscle("BRA").optimal_fiber_length)
    assert model.getBodySet().get("hand_load").getMass() == pytest.approx(2.0)
    shoulder = model.getCoordinateSet().get("shoulder_elevation")
    assert shoulder.getDefaultLocked() and shoulder.getDefaultValue() == pytest.approx(0.5)
    with pytest.raises(ValueError, match="osim"):
        arm_model.save_model(model, tmp_path / "arm.xml")


def test_bad_inputs_raise_clear_errors():
    time = np.linspace(0, 1, 50)
    with pytest.raises(ValueError, match=r"elbow_angle\[\d+\].*outside"):
        arm_model.inverse_dynamics(config.NOMINAL_SUBJECT, time, np.linspace(0, 2.6, 50))
    with pytest.raises(ValueError, match="elbow angle.*outside"):
        arm_model.sample_muscle_geometry(arm_model.build_arm_model(), [-0.3, 1.0])
    with pytest.raises(ValueError, match="hand_load"):
        arm_model.build_arm_model(config.NOMINAL_SUBJECT, -1.0)
    with pytest.raises(ValueError, match="shoulder_angle"):
        arm_model.build_arm_model(config.NOMINAL_SUBJECT, 0.0, 4.0)
    with pytest.raises(ValueError, match="strictly increasing"):
        arm_model.inverse_dynamics(config.NOMINAL_SUBJECT, time[::-1], np.full(50, 1.0))
    with pytest.raises(ValueError, match="NaN"):
        arm_model.inverse_dynamics(config.NOMINAL_SUBJECT, time, np.where(time > 0.5, np.nan, 1.0))
    with pytest.raises(TypeError, match="Subject"):
        arm_model.build_arm_model({"forearm_mass_scale": 1.0})
