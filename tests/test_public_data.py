"""Loaders of the two public data sets, on fixtures written in each documented layout, and
every way a real file can be wrong."""

import csv
import math
import shutil
from pathlib import Path

import numpy as np
import pytest

from nmm_core import arm_model, public_data
from nmm_core.config import DEEP_MUSCLES, FOREARM_MASS, HUMERUS_LENGTH, SURFACE_MUSCLES
from nmm_core.trials import Trial, TrialFormatError

pytestmark = pytest.mark.opensim

HEIGHT, MASS = 1.80, 75.0


def _synthetic_trial(subject, index, shoulder=0.0, seconds=4.0):
    time = np.arange(0.0, seconds, 0.01)
    angle = 1.0 + 0.6 * np.sin(2 * np.pi * 0.5 * time + index)
    emg = np.column_stack([0.2 + 0.1 * np.sin(2 * np.pi * (0.5 + 0.1 * j) * time + index) for j in range(4)])
    truth = {"BRA": 0.15 + 0.05 * np.sin(2 * np.pi * 0.5 * time), "TRImed": 0.1 + 0.04 * np.cos(2 * np.pi * 0.5 * time)}
    torque = arm_model.inverse_dynamics(subject, time, angle, shoulder_angle=shoulder)
    return Trial(name=f"t{index}", subject=subject.name, time=time, elbow_angle=angle, torque=torque, emg=emg,
                 emg_channels=tuple(SURFACE_MUSCLES), hand_load=0.0, shoulder_angle=shoulder, truth=truth)


@pytest.fixture(scope="module")
def upper_limb(tmp_path_factory):
    """A participant S01 in the upper-limb-torque layout, with its subject and source trials."""
    subject = public_data.scaled_subject("S01", HEIGHT, MASS)
    trials = [_synthetic_trial(subject, 0), _synthetic_trial(subject, 1)]
    root = public_data.write_upper_limb_layout(tmp_path_factory.mktemp("zenodo"), "S01", trials, subject, HEIGHT, MASS)
    return root, subject, trials


@pytest.fixture
def participant(upper_limb, tmp_path):
    """A fresh copy of the participant folder, to be damaged by one test."""
    root, subject, trials = upper_limb
    copy = tmp_path / "S01"
    shutil.copytree(root, copy)
    return copy, subject, trials


def _rewrite(path, change):
    with open(path, newline="") as handle:
        rows = list(csv.reader(handle))
    with open(path, "w", newline="") as handle:
        csv.writer(handle).writerows(change(rows))


def test_upper_limb_layout_round_trip_with_scaled_model_and_package_fallback(upper_limb):
    root, subject, trials = upper_limb
    loaded = public_data.load_upper_limb_participant(root, model="scaled")
    assert [r.trial.name for r in loaded] == ["SJ_trial1", "SJ_trial2"]
    for recorded, source in zip(loaded, trials):
        trial = recorded.trial
        np.testing.assert_allclose(trial.elbow_angle, source.elbow_angle, atol=1e-6)
        np.testing.assert_allclose(trial.emg, source.emg, atol=1e-5)
        for muscle in DEEP_MUSCLES:
            np.testing.assert_allclose(trial.truth[muscle], source.truth[muscle], atol=1e-5)
        # Inverse dynamics of the scaled model (read back from its .osim) against the torque the
        # package's OpenSim model gave for the same subject and motion.
        assert np.abs(trial.torque - source.torque).max() < 1e-3 * np.abs(source.torque).max()
        np.testing.assert_allclose(recorded.file_torque, source.torque, rtol=1e-5, atol=1e-5)
        assert set(recorded.emg) >= {"DELTAnt", "BRD", "BIClong", "TRImed"}
    fallback = public_data.load_upper_limb_participant(root, model="package")
    # The fallback scales the package's arm by the JSON's height and weight: the same subject here.
    assert np.abs(fallback[0].trial.torque - trials[0].torque).max() < 1e-6 + 1e-4 * np.abs(trials[0].torque).max()


def test_geometry_from_the_scaled_model_matches_the_package_fit(upper_limb):
    root, subject, _ = upper_limb
    from_model = public_data.upper_limb_geometry(root, 0.0)
    direct = arm_model.fit_muscle_geometry(subject, 0.0)
    angles = np.linspace(0.1, 2.1, 50)
    assert np.abs(from_model.moment_arm(angles) - direct.moment_arm(angles)).max() < 2e-4


def test_header_case_and_extra_columns_are_accepted(participant):
    root, _, trials = participant
    path = root / "SJ" / "trial1" / "emgFilt.csv"
    _rewrite(path, lambda rows: [[c.lower() for c in rows[0]] + ["EXTRA"]] + [r + ["1.0"] for r in rows[1:]])
    recorded = public_data.load_upper_limb_trial(root / "SJ" / "trial1", root, model="package")
    np.testing.assert_allclose(recorded.trial.emg, trials[0].emg, atol=1e-5)
    assert "extra" in {k.lower() for k in recorded.emg}


def test_angles_in_degrees_are_converted(participant):
    root, _, trials = participant
    path = root / "SJ" / "trial1" / "humanPositions.csv"
    _rewrite(path, lambda rows: [rows[0]] + [[r[0]] + [f"{math.degrees(float(v)):.6f}" for v in r[1:]] for r in rows[1:]])
    recorded = public_data.load_upper_limb_trial(root / "SJ" / "trial1", root, model="package")
    np.testing.assert_allclose(recorded.trial.elbow_angle, trials[0].elbow_angle, atol=1e-5)
    assert any("degrees" in c for c in recorded.corrections)


def test_short_nan_runs_are_filled_and_long_ones_are_errors(participant):
    root, _, trials = participant
    path = root / "SJ" / "trial1" / "emgFilt.csv"
    column = None

    def blank(first, count):
        def change(rows):
            nonlocal column
            column = rows[0].index("BICLong")
            for r in rows[1 + first:1 + first + count]:
                r[column] = "NaN"
            return rows
        return change

    _rewrite(path, blank(100, 5))
    recorded = public_data.load_upper_limb_trial(root / "SJ" / "trial1", root, model="package")
    np.testing.assert_allclose(recorded.trial.channel("BIClong"), trials[0].channel("BIClong"), atol=2e-3)
    assert any("5 missing values of 'BICLong' interpolated" in c for c in recorded.corrections)
    _rewrite(path, blank(200, 30))
    with pytest.raises(TrialFormatError, match=r"emgFilt.csv: column 'BICLong' has 30 missing values .*lines 202-231"):
        public_data.load_upper_limb_trial(root / "SJ" / "trial1", root, model="package")


def test_emg_and_kinematics_of_different_lengths(participant):
    root, _, _ = participant
    path = root / "SJ" / "trial1" / "emgFilt.csv"
    _rewrite(path, lambda rows: rows[:-10])
    recorded = public_data.load_upper_limb_trial(root / "SJ" / "trial1", root, model="package")
    assert recorded.trial.time.size == 390
    assert any("cut to the span" in c for c in recorded.corrections)
    _rewrite(path, lambda rows: rows[:150])
    with pytest.raises(TrialFormatError, match="less than 90% in common"):
        public_data.load_upper_limb_trial(root / "SJ" / "trial1", root, model="package")


@pytest.mark.parametrize("damage, pattern", [
    (lambda d: (d / "muscleTorque.csv").unlink(), r"muscleTorque.csv: the file is missing. To fix: fetch the participant"),
    (lambda d: _rewrite(d / "emgFilt.csv", lambda rows: [[c for c in r if c] for r in
                                                         [[c if rows[0][i] != "BRA" else "" for i, c in enumerate(r)]
                                                          for r in rows]]), r"no EMG column BRA"),
    (lambda d: _rewrite(d / "emgFilt.csv", lambda rows: rows[:50] + [rows[50][:3]] + rows[51:]),
     r"emgFilt.csv: line 51 has 3 fields"),
    (lambda d: _rewrite(d / "humanPositions.csv", lambda rows: [["TIME", "a", "b"]] + [r[:3] for r in rows[1:]]),
     r"several angle columns \(a, b\) and none is 'elbow_flexion'"),
    (lambda d: _rewrite(d / "humanPositions.csv", lambda rows: [rows[0]] + [[r[0]] + [str(float(v) + 1.5) for v in r[1:]]
                                                                            for r in rows[1:]]),
     r"outside the model's"),
])
def test_broken_files_name_the_file_the_field_and_the_fix(participant, damage, pattern):
    root, _, _ = participant
    damage(root / "SJ" / "trial1")
    with pytest.raises(TrialFormatError, match=pattern):
        public_data.load_upper_limb_trial(root / "SJ" / "trial1", root, model="package")


def test_a_single_angle_column_is_the_elbow(participant):
    root, _, trials = participant
    path = root / "SJ" / "trial1" / "humanPositions.csv"
    index = None

    def only_elbow(rows):
        nonlocal index
        index = rows[0].index("elbow_flexion")
        return [["TIME", "angle"]] + [[r[0], r[index]] for r in rows[1:]]

    _rewrite(path, only_elbow)
    recorded = public_data.load_upper_limb_trial(root / "SJ" / "trial1", root, model="package")
    np.testing.assert_allclose(recorded.trial.elbow_angle, trials[0].elbow_angle, atol=1e-6)
    assert any("taken as elbow flexion" in c for c in recorded.corrections)


def test_missing_scaled_model_suggests_the_fallback(participant):
    root, _, _ = participant
    (root / "scaledModel.osim").unlink()
    with pytest.raises(TrialFormatError, match="model='package'"):
        public_data.load_upper_limb_participant(root, model="scaled")


# --------------------------------------------------------------------------------------------
# emg-elbow layout.
# --------------------------------------------------------------------------------------------
def _elbow_subject(folder, rate=2000.0, seconds=8.0, degrees=True):
    folder.mkdir(parents=True)
    (folder / "subject_info").write_text("ID: 3\nAge: 25\nHeight: 175 cm\nWeight: 70 kg\nArm length: 60\n"
                                         "Hand width: 8\nGender: Male\n")
    rng = np.random.default_rng(1)
    time = np.arange(0.0, seconds, 1.0 / rate)
    angle = 1.2 + 0.8 * np.sin(2 * np.pi * 0.25 * time)
    for load in (0, 1360, 2270):
        activity = np.column_stack([0.5 + 0.4 * np.sin(2 * np.pi * 0.25 * time), 0.3 + 0.2 * np.cos(2 * np.pi * 0.25 * time)])
        raw = activity * rng.normal(size=activity.shape)
        columns = np.column_stack([raw, raw * 0.9, np.degrees(angle) if degrees else angle])
        np.savetxt(folder / f"S3_flex_train_{load}.txt", columns, fmt="%.6f")
    return folder, time, angle


def test_emg_elbow_subject_loads_with_loads_units_and_scaled_arm(tmp_path):
    folder, _, angle = _elbow_subject(tmp_path / "S3")
    loaded = public_data.load_elbow_subject(folder)
    assert [r.trial.hand_load for r in loaded] == [0.0, 1.36, 2.27]
    trial = loaded[0].trial
    assert trial.rate == pytest.approx(100.0)
    np.testing.assert_allclose(trial.elbow_angle, np.interp(trial.time, np.arange(angle.size) / 2000.0, angle), atol=1e-6)
    assert any("degrees" in c for c in loaded[0].corrections)
    np.testing.assert_array_equal(trial.channel("BIClong"), trial.channel("BICshort"))
    assert max(r.trial.emg.max() for r in loaded) == pytest.approx(1.0)
    # A heavier dumbbell needs more flexion torque for the same motion.
    means = [r.trial.torque.mean() for r in loaded]
    assert means[0] < means[1] < means[2]
    expected = public_data.scaled_subject("S3", 1.75, 70.0)
    assert trial.torque == pytest.approx(arm_model.inverse_dynamics(expected, trial.time, trial.elbow_angle), abs=1e-6)


def test_load_elbow_trial_returns_named_fields(tmp_path):
    folder, _, angle = _elbow_subject(tmp_path / "S3")
    recording = public_data.load_elbow_trial(folder / "S3_flex_train_1360.txt")
    assert recording.hand_load == 1.36
    assert recording.name_parts == {"subject": "S3", "exercise": "flex", "set": "train", "load": "1360"}
    np.testing.assert_allclose(recording.time, np.arange(0.0, 8.0 - 0.5e-3, 0.01), atol=1e-12)
    assert recording.envelopes.shape == (recording.time.size, 2)
    np.testing.assert_allclose(recording.elbow_angle, np.interp(recording.time, np.arange(angle.size) / 2000.0, angle),
                               atol=1e-6)
    assert any("taken as degrees" in c for c in recording.corrections)


def test_emg_elbow_implausible_rate_and_bad_files(tmp_path):
    folder, _, _ = _elbow_subject(tmp_path / "S3")
    with pytest.raises(TrialFormatError, match=r"pass the recording's true sampling rate"):
        public_data.load_elbow_subject(folder, rate=20.0)
    bad = folder / "S3_flex_train_0.txt"
    lines = bad.read_text().splitlines()
    lines[10] += " 1.0"
    bad.write_text("\n".join(lines) + "\n")
    with pytest.raises(TrialFormatError, match=r"S3_flex_train_0.txt: line 11 has 6 fields"):
        public_data.load_elbow_subject(folder)
    with pytest.raises(TrialFormatError, match=r"does not follow"):
        public_data.load_elbow_trial(tmp_path / "recording.txt")
    (folder / "subject_info").write_text("ID 3\n")
    with pytest.raises(TrialFormatError, match=r"subject_info: line 1 'ID 3' is not 'key: value'"):
        public_data.load_elbow_subject(folder)


# --------------------------------------------------------------------------------------------
# Hand-written fixtures in the layouts the data sets' descriptions and public readers show
# (/work/shared/reference/datasets.md); every value is a closed form of its row k (and column j).
# --------------------------------------------------------------------------------------------
FIXTURES = Path(__file__).parent / "fixtures"
ELBOW_FIXTURE = FIXTURES / "emg-elbow"
UPPER_LIMB_FIXTURE = FIXTURES / "upper-limb-torque"


def _fixture_angle_deg(k):
    """The fixtures' triangular elbow angle, degrees, at row k (20 Hz, one 2 s period)."""
    return 20 + 5 * k if k < 20 else 120 - 5 * (k - 20)


def test_emg_elbow_fixture_subject_info_txt_with_sex_coded_0_is_a_female():
    subject = public_data.elbow_subject(ELBOW_FIXTURE / "subject 1")
    # height 162 (cm), weight 58 kg, sex 0 = female: de Leva's upper arm 281.7/1741 of stature,
    # female forearm + hand 1.38 % + 0.56 % of body mass.
    assert subject.name == "subject_1"
    assert subject.segment_length_scale == pytest.approx(1.62 * 281.7 / 1741.0 / HUMERUS_LENGTH, rel=1e-12)
    assert subject.forearm_mass_scale == pytest.approx(58.0 * (0.0138 + 0.0056) / FOREARM_MASS, rel=1e-12)


def test_emg_elbow_fixture_description_keys_gender_male():
    subject = public_data.elbow_subject(ELBOW_FIXTURE / "subject 2")
    assert subject.segment_length_scale == pytest.approx(1.80 * 281.7 / 1741.0 / HUMERUS_LENGTH, rel=1e-12)
    assert subject.forearm_mass_scale == pytest.approx(82.0 * (0.0162 + 0.0061) / FOREARM_MASS, rel=1e-12)


def test_emg_elbow_fixture_loads_flexion_files_only_with_values():
    loaded = public_data.load_elbow_subject(ELBOW_FIXTURE / "subject 1", rate=20.0)
    assert [r.trial.name for r in loaded] == ["subject1_flex_test_2270", "subject1_flex_train_0"]
    test, train = (r.trial for r in loaded)
    assert (test.hand_load, train.hand_load) == (2.27, 0.0)
    assert (test.metadata["set"], train.metadata["set"]) == ("test", "train")
    assert test.subject == "subject 1"
    angle = np.radians([_fixture_angle_deg(k) for k in range(39)])  # 100 Hz samples 0, 5, ... are rows 0, 1, ...
    np.testing.assert_allclose(train.elbow_angle[::5], angle, atol=1e-9)
    # Filtered ch1 (biceps) is +-0.4 in the 2270 g file, +-0.2 in the other; ch2 (triceps) +-0.1
    # in both: normalised by the subject's peaks, 1 and 0.5, 1 and 1. The raw columns (+-1 and
    # +-0.5 in both files) would give 1 everywhere.
    np.testing.assert_allclose(test.channel("BIClong"), 1.0, atol=1e-9)
    np.testing.assert_allclose(train.channel("BICshort"), 0.5, atol=1e-9)
    np.testing.assert_allclose(train.channel("TRIlong"), 1.0, atol=1e-9)
    np.testing.assert_allclose(test.channel("TRIlat"), 1.0, atol=1e-9)
    assert train.metadata["subject_info"] == {"file": "subject_info.txt", "sex": "female",
                                              "sex_from": "sex: 0 (1 male, 0 female)"}


def test_emg_elbow_fixture_sex_and_gender_spellings(tmp_path):
    folder = tmp_path / "subject 3"
    shutil.copytree(ELBOW_FIXTURE / "subject 2", folder)
    info = folder / "subject_info.txt"
    for line, sex in (("Gender: F", "female"), ("gender: female", "female"), ("Sex: 1", "male"), ("SEX: m", "male")):
        info.write_text(f"Height: 170\nWeight: 60\n{line}\n")
        loaded = public_data.load_elbow_subject(folder, rate=20.0)
        assert loaded[0].trial.metadata["subject_info"]["sex"] == sex, line
    info.write_text("Height: 170\nWeight: 60\nsex: 2\n")
    with pytest.raises(TrialFormatError, match=r"subject_info.txt: sex = '2' is none of 1/0, m/f, male/female\. "
                                               r"To fix: write sex: 1 \(male\) or 0 \(female\)"):
        public_data.elbow_subject(folder)
    info.write_text("Height: 170\nWeight: 60\nsex: 1\ngender: female\n")
    with pytest.raises(TrialFormatError, match=r"sex = '1' \(male\) but gender = 'female'"):
        public_data.elbow_subject(folder)


def test_emg_elbow_pronation_files_are_refused_with_the_reason():
    with pytest.raises(ValueError, match=r"exercise 'pronsup' records pronator teres \(ch1\) and biceps \(ch2\)"):
        public_data.load_elbow_subject(ELBOW_FIXTURE / "subject 1", exercise="pronsup", rate=20.0)


def test_find_participant_finds_the_fixtures():
    assert public_data.find_participant(ELBOW_FIXTURE, "emg-elbow") == ELBOW_FIXTURE / "subject 1"
    assert public_data.find_participant(ELBOW_FIXTURE, "emg-elbow", "subject 2") == ELBOW_FIXTURE / "subject 2"
    assert public_data.find_participant(UPPER_LIMB_FIXTURE, "upper-limb-torque") == UPPER_LIMB_FIXTURE / "S01"


def test_upper_limb_fixture_loads_both_tasks_with_values():
    loaded = public_data.load_upper_limb_participant(UPPER_LIMB_FIXTURE / "S01", model="package")
    assert [r.trial.name for r in loaded] == ["MJ_T0", "SJ_T0"]
    rows = np.arange(11)
    emg = {name: j / 100 + rows / 1000 for j, name in enumerate(
        ["DELTAnt", "DELTMed", "DELTPost", "PECT", "LATI", "TRILong", "TRILat", "TRIMed", "BICLong", "BICShort",
         "BRA", "BRD"], 1)}
    for recorded, shoulder in zip(loaded, (0.325, 0.2)):
        trial = recorded.trial
        np.testing.assert_allclose(trial.time, rows / 100, atol=1e-9)
        np.testing.assert_allclose(trial.elbow_angle, 0.5 + 0.1 * rows, atol=1e-12)
        np.testing.assert_allclose(trial.emg, np.column_stack([emg["BICLong"], emg["BICShort"], emg["TRILong"],
                                                               emg["TRILat"]]), atol=1e-12)
        np.testing.assert_allclose(trial.truth["BRA"], emg["BRA"], atol=1e-12)
        np.testing.assert_allclose(trial.truth["TRImed"], emg["TRIMed"], atol=1e-12)
        np.testing.assert_allclose(recorded.file_torque, 2.0 + 0.1 * rows, atol=1e-12)
        np.testing.assert_allclose(recorded.emg["DELTAnt"], emg["DELTAnt"], atol=1e-12)
        assert trial.shoulder_angle == pytest.approx(shoulder, abs=1e-12)
        assert trial.hand_load == 0.0
        assert trial.torque.shape == (11,) and np.all(np.isfinite(trial.torque))
        assert recorded.corrections == []
    # The JSON's height 1.80 m, weight 75 kg, male.
    subject = public_data.upper_limb_subject(UPPER_LIMB_FIXTURE / "S01")
    assert subject.segment_length_scale == pytest.approx(1.80 * 281.7 / 1741.0 / HUMERUS_LENGTH, rel=1e-12)
    assert subject.forearm_mass_scale == pytest.approx(75.0 * (0.0162 + 0.0061) / FOREARM_MASS, rel=1e-12)


def test_a_trial_read_on_its_own_finds_the_scaled_model_missing(participant):
    root, _, _ = participant
    (root / "scaledModel.osim").unlink()
    with pytest.raises(TrialFormatError, match=r"scaledModel.osim: the participant's scaled model is missing\. "
                                               r"To fix: .*model='package'"):
        public_data.load_upper_limb_trial(root / "SJ" / "trial1")
    with pytest.raises(TrialFormatError, match=r"scaledModel.osim: the participant's scaled model is missing"):
        public_data.upper_limb_geometry(root)


def test_the_stand_in_elbow_layout_is_found_and_read_back(tmp_path):
    # The real-data chapter's stand-in: trials written in the emg-elbow layout, then found and
    # loaded like the real files.
    subject = public_data.scaled_subject("P01", HEIGHT, MASS)
    trials = [_synthetic_trial(subject, 0), _synthetic_trial(subject, 1)]
    public_data.write_elbow_layout(tmp_path, "P01", trials, HEIGHT, MASS)
    folder = public_data.find_participant(tmp_path, "emg-elbow")
    assert folder == tmp_path / "P01"
    assert (folder / "subject_info.txt").is_file()
    loaded = public_data.load_elbow_subject(folder)
    assert [r.trial.metadata["set"] for r in loaded] == ["test", "train"]
    for recorded, source in zip(loaded, trials[::-1]):
        time = recorded.trial.time
        np.testing.assert_allclose(recorded.trial.elbow_angle, np.interp(time, source.time, source.elbow_angle),
                                   atol=1e-4)
    assert loaded[0].trial.metadata["subject_info"] == {"file": "subject_info.txt", "sex": "male",
                                                        "sex_from": "gender: Male"}
