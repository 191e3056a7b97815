"""The trial folder format and its loader: round trip and every documented error."""

import json

import numpy as np
import pytest

from nmm_core import trials
from nmm_core.storage import StorageFormatError, write_sto
from nmm_core.trials import Trial, TrialFormatError


def make_trial(n=201, rate=100.0, truth=True):
    time = np.arange(n) / rate
    angle = 1.0 + 0.6 * np.sin(2 * np.pi * 0.5 * time)
    emg = np.column_stack([0.2 + 0.1 * np.sin(2 * np.pi * f * time) for f in (0.5, 0.6, 0.7, 0.8)])
    return Trial(name="t1", subject="S99", time=time, elbow_angle=angle, torque=3 * np.cos(time),
                 emg=emg, emg_channels=("BIClong", "BICshort", "TRIlong", "TRIlat"),
                 hand_load=2.0, shoulder_angle=0.0,
                 truth={"BRA": 0.1 + 0.0 * time, "TRImed": 0.05 + 0.0 * time} if truth else None,
                 metadata={"note": "test"})


@pytest.fixture
def trial_dir(tmp_path):
    return trials.save_trial(tmp_path / "t1", make_trial())


def test_round_trip(trial_dir):
    original = make_trial()
    loaded = trials.load_trial(trial_dir, required_channels=("BIClong",), expected_rate=100.0)
    np.testing.assert_array_equal(loaded.time, original.time)
    np.testing.assert_array_equal(loaded.elbow_angle, original.elbow_angle)
    np.testing.assert_array_equal(loaded.torque, original.torque)
    np.testing.assert_array_equal(loaded.emg, original.emg)
    assert loaded.emg_channels == original.emg_channels
    assert loaded.hand_load == 2.0 and loaded.subject == "S99"
    np.testing.assert_array_equal(loaded.truth["BRA"], original.truth["BRA"])
    assert loaded.rate == pytest.approx(100.0)
    np.testing.assert_array_equal(loaded.channel("TRIlat"), original.emg[:, 3])
    with pytest.raises(KeyError, match="BRA"):
        loaded.channel("BRA")


def test_channel_order_follows_metadata_not_file(trial_dir):
    meta = json.loads((trial_dir / "trial.json").read_text())
    meta["emg_channels"] = ["TRIlat", "BIClong"]
    (trial_dir / "trial.json").write_text(json.dumps(meta))
    loaded = trials.load_trial(trial_dir)
    assert loaded.emg_channels == ("TRIlat", "BIClong")
    np.testing.assert_array_equal(loaded.emg[:, 0], make_trial().emg[:, 3])


def test_degrees_are_converted(trial_dir):
    t = make_trial()
    write_sto(trial_dir / "kinematics.mot", t.time, np.degrees(t.elbow_angle)[:, None],
              ["elbow_flexion"], in_degrees=True)
    np.testing.assert_allclose(trials.load_trial(trial_dir).elbow_angle, t.elbow_angle)


def _rewrite_meta(directory, **changes):
    meta = json.loads((directory / "trial.json").read_text())
    for key, value in changes.items():
        if value is None:
            meta.pop(key)
        else:
            meta[key] = value
    (directory / "trial.json").write_text(json.dumps(meta))


@pytest.mark.parametrize("change, pattern", [
    (lambda d: (d / "trial.json").unlink(), r"trial.json.*missing"),
    (lambda d: (d / "trial.json").write_text("{not json"), r"trial.json.*not valid JSON"),
    (lambda d: _rewrite_meta(d, hand_load_kg=None), r"'hand_load_kg' is missing"),
    (lambda d: _rewrite_meta(d, hand_load_kg=-2), r"hand_load_kg"),
    (lambda d: _rewrite_meta(d, emg_channels=["BIClong", "DELT"]), r"unknown muscles \['DELT'\]"),
    (lambda d: (d / "torque.sto").unlink(), r"torque.sto: is missing"),
    (lambda d: write_sto(d / "emg.sto", np.arange(201) / 100, np.full((201, 3), 0.2),
                         ["BIClong", "BICshort", "TRIlong"]), r"emg.sto: channel 'TRIlat' is missing"),
    (lambda d: write_sto(d / "emg.sto", np.arange(150) / 100, np.full((150, 4), 0.2),
                         ["BIClong", "BICshort", "TRIlong", "TRIlat"]), r"emg.sto: has 150 samples"),
    (lambda d: write_sto(d / "emg.sto", np.arange(201) / 200, np.full((201, 4), 0.2),
                         ["BIClong", "BICshort", "TRIlong", "TRIlat"]), r"emg.sto: time stamps differ"),
    (lambda d: write_sto(d / "emg.sto", np.arange(201) / 100, np.full((201, 4), -0.3),
                         ["BIClong", "BICshort", "TRIlong", "TRIlat"]), r"negative envelope"),
    (lambda d: write_sto(d / "emg.sto", np.arange(201) / 100, np.full((201, 4), 0.2),
                         ["BIClong", "BICshort", "TRIlong", "Biceps"]), r"unknown muscles \['Biceps'\]"),
    (lambda d: write_sto(d / "kinematics.mot", np.arange(201) / 100, np.full((201, 1), 80.0),
                         ["elbow_flexion"]), r"outside the joint range.*inDegrees"),
    (lambda d: write_sto(d / "kinematics.mot", np.arange(201) / 100, np.full((201, 1), 1.0),
                         ["elbow_angle"]), r"no column 'elbow_flexion'"),
    (lambda d: _rewrite_meta(d, kinematics_rate_hz=250.0), r"sampled at 100 Hz but trial.json"),
])
def test_bad_trial_folders_name_file_field_and_fix(trial_dir, change, pattern):
    change(trial_dir)
    with pytest.raises(TrialFormatError, match=pattern) as error:
        trials.load_trial(trial_dir)
    assert "To fix:" in str(error.value)


def test_required_channel_and_rate_from_the_caller(trial_dir):
    _rewrite_meta(trial_dir, emg_channels=["BIClong"])
    with pytest.raises(TrialFormatError, match="channel 'TRIlat' is missing"):
        trials.load_trial(trial_dir, required_channels=("TRIlat",))
    with pytest.raises(TrialFormatError, match="the caller expects 200 Hz"):
        trials.load_trial(trial_dir, expected_rate=200.0)


def test_nan_and_non_monotonic_time_are_reported_with_the_line(trial_dir):
    text = (trial_dir / "emg.sto").read_text().splitlines()
    header_end = text.index("endheader") + 2
    bad = text.copy()
    bad[header_end + 5] = bad[header_end + 5].replace("0.2", "nan", 1)
    (trial_dir / "emg.sto").write_text("\n".join(bad) + "\n")
    with pytest.raises(StorageFormatError, match=r"line \d+"):
        trials.load_trial(trial_dir)
    swapped = text.copy()
    swapped[header_end + 3], swapped[header_end + 4] = swapped[header_end + 4], swapped[header_end + 3]
    (trial_dir / "emg.sto").write_text("\n".join(swapped) + "\n")
    with pytest.raises(StorageFormatError, match="increasing"):
        trials.load_trial(trial_dir)


def test_failed_save_keeps_the_previous_trial(trial_dir):
    before = {p.name: p.read_bytes() for p in trial_dir.iterdir()}
    broken = make_trial()
    broken.emg[10, 2] = np.nan
    with pytest.raises(ValueError):
        trials.save_trial(trial_dir, broken)
    assert {p.name: p.read_bytes() for p in trial_dir.iterdir()} == before
    assert [p.name for p in trial_dir.parent.iterdir()] == ["t1"]  # no staging folder left


def test_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        trials.load_trial(tmp_path / "nope")
