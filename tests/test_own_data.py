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
