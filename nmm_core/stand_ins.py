"""Stand-in data written from the virtual cohort in the layouts a user brings: the two public
data sets' folder layouts, and an own-data folder (:mod:`nmm_core.own_data`).

The book's real-data and own-data chapters run on these when the real files are not on the
machine, so that exactly the loading and fitting code a user runs is exercised; the tests use
them too.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Sequence

import numpy as np

from . import cohort, public_data
from .config import FOREARM_MASS, SURFACE_MUSCLES

#: The own-data example's file columns of the four surface channels.
OWN_DATA_COLUMNS = {"BIClong": "bic_long", "BICshort": "bic_short", "TRIlong": "tri_long", "TRIlat": "tri_lat"}


def public_layout(dataset: str, participant: str, folder, quick: bool = False) -> Path:
    """Cohort subject :data:`~nmm_core.public_data.STAND_IN_SUBJECT`'s hanging trials (for
    upper-limb-torque, whose layout has no hand load, only the empty-handed ones) written in
    ``dataset``'s layout under ``folder``; returns the participant's folder.

    Its anthropometry is given as height and mass (the inverse of
    :func:`~nmm_core.public_data.scaled_subject`), as a data set's files would give it.
    """
    if dataset not in ("upper-limb-torque", "emg-elbow"):
        raise ValueError(f"Unknown data set {dataset!r}; expected 'upper-limb-torque' or 'emg-elbow'.")
    directory = cohort.cohort_dir(quick=quick)
    name = public_data.STAND_IN_SUBJECT
    source = [t for t in cohort.load_cohort(directory)[name]
              if t.shoulder_angle < 0.5 and (dataset != "upper-limb-torque" or t.hand_load == 0.0)]
    if len(source) < 2:
        raise ValueError(f"The {'quick' if quick else 'full'} cohort's subject {name} has {len(source)} trial(s) "
                         f"for a {dataset} stand-in; at least two are needed (one to train, one to test).")
    record = cohort.subject_record(directory, name)
    height = record["segment_length_scale"] * public_data.REFERENCE_STATURE
    mass = record["forearm_mass_scale"] * FOREARM_MASS / public_data.FOREARM_HAND_MASS_FRACTION["male"]
    if dataset == "upper-limb-torque":
        anthropometry = public_data.scaled_subject(participant, height, mass)
        return public_data.write_upper_limb_layout(folder, participant, source, anthropometry, height, mass)
    return public_data.write_elbow_layout(folder, participant, source, height, mass)


def _write_csv(path: Path, header: Sequence[str], rows) -> None:
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


def own_data_folder(trials: Sequence, folder, subject: dict | None = None) -> Path:
    """Write ``trials`` as an own-data folder: per trial a kinematics-and-torque CSV (elbow angle
    in degrees) and an EMG CSV, with the ``recordings.json`` that describes them; returns it."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=False)
    entries = []
    for trial in trials:
        _write_csv(folder / f"{trial.name}_kin.csv", ["time", "elbow_flexion", "elbow_flexion_moment"],
                   zip(trial.time, np.degrees(trial.elbow_angle), trial.torque))
        _write_csv(folder / f"{trial.name}_emg.csv", ["time", *(OWN_DATA_COLUMNS[m] for m in SURFACE_MUSCLES)],
                   np.column_stack([trial.time, *(trial.channel(m) for m in SURFACE_MUSCLES)]).tolist())
        entries.append({"name": trial.name, "hand_load_kg": trial.hand_load, "shoulder_angle_rad": trial.shoulder_angle,
                        "kinematics": f"{trial.name}_kin.csv", "torque": f"{trial.name}_kin.csv",
                        "emg": f"{trial.name}_emg.csv"})
    (folder / "recordings.json").write_text(json.dumps({
        "format": "nmm-own-data", "version": 1,
        "subject": subject or {"name": "P01", "height_m": 1.75, "mass_kg": 70, "sex": "male"},
        "angle_unit": "deg", "kinematics_rate_hz": 100, "emg_rate_hz": 100,
        "columns": {"time": "time", "elbow_angle": "elbow_flexion", "torque": "elbow_flexion_moment",
                    "emg": {m: OWN_DATA_COLUMNS[m] for m in SURFACE_MUSCLES}},
        "trials": entries}, indent=1))
    return folder
