"""The own-data folder format and its converter to trial folders."""

import csv
import json
import math

import numpy as np
import pytest

from nmm_core import own_data, trials
from nmm_core.storage import write_sto
from nmm_core.trials import TrialFormatError

MAPPING = {"BIClong": "bic_l", "BICshort": "bic_s", "TRIlong": "tri_l", "TRIlat": "tri_lat"}


def _write_csv(path, header, rows):
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


def _folder(tmp_path, emg_as_sto=False, emg_rate=100.0, degrees=True):
    """Two trials: kinematics and torque in one CSV (angle in degrees), EMG in a CSV or .sto."""
    folder = tmp_path / "mine"
    folder.mkdir()
    entries = []
    for index in range(2):
        time = np.arange(0.0, 3.0, 0.01)
        angle = 1.1 + 0.5 * np.sin(2 * np.pi * 0.5 * time + index)
        torque = 4.0 * np.cos(2 * np.pi * 0.5 * time)
        _write_csv(folder / f"t{index}_kin.csv", ["time", "elbow", "moment"],
                   [[f"{t:.4f}", f"{math.degrees(a) if degrees else a:.8f}", f"{m:.8f}"]
                    for t, a, m in zip(time, angle, torque)])
        emg_time = np.arange(0.0, 3.0, 1.0 / emg_rate)
        emg = np.column_stack([0.2 + 0.05 * j + 0.1 * np.sin(2 * np.pi * 0.5 * emg_time + j) for j in range(5)])
        labels = list(MAPPING.values()) + ["brachialis"]
        if emg_as_sto:
            write_sto(folder / f"t{index}_emg.sto", emg_time, emg, labels)
            emg_file = f"t{index}_emg.sto"
        else:
            _write_csv(folder / f"t{index}_emg.csv", ["time", *labels],
                       [[f"{t:.5f}", *(f"{v:.8f}" for v in row)] for t, row in zip(emg_time, emg)])
            emg_file = f"t{index}_emg.csv"
        entries.append({"name": f"trial{index}", "hand_load_kg": 2.0 * index, "shoulder_angle_rad": 0.0,
                        "kinematics": f"t{index}_kin.csv", "torque": f"t{index}_kin.csv", "emg": emg_file})
    meta = {"format": "nmm-own-data", "version": 1,
            "subject": {"name": "P01", "height_m": 1.78, "mass_kg": 72, "sex": "female"},
            "angle_unit": "deg" if degrees else "rad", "kinematics_rate_hz": 100, "emg_rate_hz": emg_rate,
            "columns": {"time": "time", "elbow_angle": "elbow", "torque": "moment", "emg": dict(MAPPING),
                        "deep": {"BRA": "brachialis"}},
            "trials": entries}
    (folder / "recordings.json").write_text(json.dumps(meta))
    return folder, meta


@pytest.mark.parametrize("emg_as_sto, emg_rate", [(False, 100.0), (True, 200.0)])
def test_convert_writes_trial_folders_that_load_back(tmp_path, emg_as_sto, emg_rate):
    folder, _ = _folder(tmp_path, emg_as_sto, emg_rate)
    written = own_data.convert(folder, tmp_path / "out")
    assert [p.name for p in written] == ["trial0", "trial1"]
    loaded = trials.load_trial(written[1], required_channels=("BIClong", "BICshort", "TRIlong", "TRIlat"))
    time = np.arange(0.0, 3.0, 0.01)[: loaded.time.size]
    np.testing.assert_allclose(loaded.elbow_angle, 1.1 + 0.5 * np.sin(2 * np.pi * 0.5 * time + 1), atol=1e-6)
    np.testing.assert_allclose(loaded.channel("TRIlong"), 0.3 + 0.1 * np.sin(2 * np.pi * 0.5 * time + 2), atol=1e-5)
    np.testing.assert_allclose(loaded.truth["BRA"], 0.4 + 0.1 * np.sin(2 * np.pi * 0.5 * time + 4), atol=1e-5)
    assert loaded.hand_load == 2.0
    record = json.loads((tmp_path / "out" / "P01" / "subject.json").read_text())
    assert record["segment_length_scale"] == pytest.approx(1.78 / 1.795, rel=1e-3)
    with pytest.raises(TrialFormatError, match="already exists; nothing was written"):
        own_data.convert(folder, tmp_path / "out")


@pytest.mark.parametrize("change, pattern", [
    (lambda m: m.update(emg_rate_hz=1000), r"gives 100 Hz but recordings.json declares emg_rate_hz = 1000"),
    (lambda m: m["columns"]["emg"].pop("TRIlat"), r"'columns.emg' has no channel for TRIlat"),
    (lambda m: m["columns"]["emg"].update(DELT="x"), r"unknown muscles \['DELT'\]"),
    (lambda m: m["trials"][0].update(emg="nope.csv"), r"nope.csv: the file named in recordings.json is missing"),
    (lambda m: m["columns"].update(torque="force"), r"no column 'force'"),
    (lambda m: m.update(angle_unit="grad"), r"'angle_unit' is 'grad'"),
    (lambda m: m.pop("format"), r"'format' must be 'nmm-own-data'"),
])
def test_bad_metadata_names_the_field_and_the_fix(tmp_path, change, pattern):
    folder, meta = _folder(tmp_path)
    change(meta)
    (folder / "recordings.json").write_text(json.dumps(meta))
    with pytest.raises(TrialFormatError, match=pattern):
        own_data.convert(folder, tmp_path / "out")
    assert not (tmp_path / "out").exists()


# OpenSim files as a motion-capture suite exports them: inDegrees=yes on every file, although
# only the joint angles are in degrees (OpenSim's convention: the flag concerns rotations).
KINEMATICS_MOT = (
    "kinematics\nversion=1\nnRows=6\nnColumns=3\ninDegrees=yes\nendheader\n"
    "time\telbow\tmoment\n"
    "0\t30\t2.5\n0.01\t45\t3\n0.02\t60\t3.5\n0.03\t75\t4\n0.04\t90\t4.5\n0.05\t105\t5\n"
)
EMG_STO = (
    "emg\nversion=1\nnRows=6\nnColumns=6\ninDegrees=yes\nendheader\n"
    "time\tbic_l\tbic_s\ttri_l\ttri_lat\tbrachialis\n"
    "0\t0.1\t0.2\t0.3\t0.4\t0.5\n0.01\t0.1\t0.2\t0.3\t0.4\t0.5\n0.02\t0.2\t0.3\t0.4\t0.5\t0.6\n"
    "0.03\t0.2\t0.3\t0.4\t0.5\t0.6\n0.04\t0.3\t0.4\t0.5\t0.6\t0.7\n0.05\t0.3\t0.4\t0.5\t0.6\t0.7\n"
)


def _opensim_folder(tmp_path, angle_unit):
    folder = tmp_path / "mocap"
    folder.mkdir()
    (folder / "kin.mot").write_text(KINEMATICS_MOT)
    (folder / "emg.sto").write_text(EMG_STO)
    (folder / "recordings.json").write_text(json.dumps({
        "format": "nmm-own-data", "version": 1, "subject": {"name": "P02", "height_m": 1.7, "mass_kg": 65},
        "angle_unit": angle_unit, "kinematics_rate_hz": 100, "emg_rate_hz": 100,
        "columns": {"time": "time", "elbow_angle": "elbow", "torque": "moment", "emg": dict(MAPPING),
                    "deep": {"BRA": "brachialis"}},
        "trials": [{"name": "mocap", "kinematics": "kin.mot", "torque": "kin.mot", "emg": "emg.sto"}]}))
    return folder


def test_in_degrees_converts_only_the_elbow_angle(tmp_path):
    _, (trial,) = own_data.read_trials(_opensim_folder(tmp_path, "deg"))
    np.testing.assert_allclose(trial.elbow_angle, np.radians([30, 45, 60, 75, 90, 105]), rtol=1e-12)
    np.testing.assert_allclose(trial.torque, [2.5, 3.0, 3.5, 4.0, 4.5, 5.0], rtol=1e-12)
    np.testing.assert_allclose(trial.channel("BIClong"), [0.1, 0.1, 0.2, 0.2, 0.3, 0.3], rtol=1e-12)
    np.testing.assert_allclose(trial.channel("TRIlat"), [0.4, 0.4, 0.5, 0.5, 0.6, 0.6], rtol=1e-12)
    np.testing.assert_allclose(trial.truth["BRA"], [0.5, 0.5, 0.6, 0.6, 0.7, 0.7], rtol=1e-12)
    assert trial.metadata["corrections"] == []


def test_the_file_header_decides_the_angle_unit_and_a_disagreement_is_noted(tmp_path):
    _, (trial,) = own_data.read_trials(_opensim_folder(tmp_path, "rad"))
    np.testing.assert_allclose(trial.elbow_angle, np.radians([30, 45, 60, 75, 90, 105]), rtol=1e-12)
    assert trial.metadata["corrections"] == [
        "kin.mot: recordings.json gives angle_unit 'rad' but the file's header says inDegrees=yes; "
        "the header was followed"]


def test_csv_from_a_spreadsheet_with_semicolons_and_crlf(tmp_path):
    folder = _opensim_folder(tmp_path, "deg")
    (folder / "kin.csv").write_bytes(
        b"time;elbow;moment;\r\n0;30;2.5;\r\n0.01;45;3;\r\n0.02;60;3.5;\r\n\r\n0.03;75;4;\r\n0.04;90;4.5;\r\n"
        b"0.05;105;5;\r\n")
    meta = json.loads((folder / "recordings.json").read_text())
    meta["trials"][0].update(kinematics="kin.csv", torque="kin.csv")
    (folder / "recordings.json").write_text(json.dumps(meta))
    _, (trial,) = own_data.read_trials(folder)
    np.testing.assert_allclose(trial.elbow_angle, np.radians([30, 45, 60, 75, 90, 105]), rtol=1e-12)
    np.testing.assert_allclose(trial.torque, [2.5, 3.0, 3.5, 4.0, 4.5, 5.0], rtol=1e-12)
