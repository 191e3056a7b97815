"""Your own recordings: a documented folder of CSV or OpenSim files, converted to trial folders.

The folder holds one ``recordings.json`` and the files it names::

    {
      "format": "nmm-own-data", "version": 1,
      "subject": {"name": "P01", "height_m": 1.78, "mass_kg": 72, "sex": "female"},
      "angle_unit": "deg",                      # of the elbow angle column: "deg" or "rad"
      "kinematics_rate_hz": 100,                # declared rates, checked against the files
      "emg_rate_hz": 100,
      "columns": {
        "time": "time",
        "elbow_angle": "elbow_flexion",         # flexion positive
        "torque": "elbow_flexion_moment",       # N m, flexion positive (e.g. OpenSim ID)
        "emg": {"BIClong": "bic_long", "BICshort": "bic_short",
                "TRIlong": "tri_long", "TRIlat": "tri_lat"},
        "deep": {"BRA": "brachialis"}           # optional: recorded deep channels, for scoring
      },
      "trials": [
        {"name": "slow_2kg", "hand_load_kg": 2.0, "shoulder_angle_rad": 0.0,
         "kinematics": "slow_2kg_kin.csv", "torque": "slow_2kg_kin.csv", "emg": "slow_2kg_emg.sto"}
      ]
    }

Each file is a CSV with a header row (``.csv``; commas, semicolons or tabs, see
:func:`nmm_core.tables.read_table`) or an OpenSim storage file (``.sto``/``.mot``, see
:func:`nmm_core.storage.read_sto`);
kinematics and torque may share one. The elbow angle of a CSV is in ``angle_unit``; that of a
storage file in the unit its ``inDegrees`` header line gives (which, as in OpenSim, concerns the
angle only: torque and EMG in the same file are never converted). EMG columns are processed,
MVC-normalised envelopes (use :func:`nmm_core.signals.process_emg` on raw EMG first). The subject is either
``height_m``/``mass_kg``/``sex`` (the package's arm scaled by them, see
:func:`nmm_core.public_data.scaled_subject`) or ``segment_length_scale``/``forearm_mass_scale``.

:func:`convert` checks everything with the same rules as the public-data loaders (clear errors
naming the file, the field and the fix; short NaN runs filled; EMG put on the kinematics' time
base) and writes one trial folder per trial (:mod:`nmm_core.trials`), never over an existing one.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .config import DEEP_MUSCLES, MUSCLE_NAMES, SURFACE_MUSCLES, Subject
from .public_data import scaled_subject
from .storage import read_sto
from .tables import column_name, common_span, elbow_in_range, fail, read_table
from .trials import Trial, save_trial

METADATA_FILE = "recordings.json"
RATE_TOLERANCE = 0.01


def _table(path: Path, time_column: str) -> tuple[np.ndarray, dict, list[str], bool | None]:
    """Read a CSV or OpenSim storage file named in recordings.json.

    Returns
    -------
    time : ndarray, shape (T,)
        s.
    columns : dict of str to ndarray, shape (T,) each
        The other columns, in the file's units.
    corrections : list of str
        What was corrected while reading.
    in_degrees : bool or None
        The ``inDegrees`` flag of a ``.sto``/``.mot`` header; None for a CSV (which says
        nothing of its units).
    """
    if not path.is_file():
        fail(path, "the file named in recordings.json is missing", "check the file name in 'trials'")
    if path.suffix.lower() in (".sto", ".mot"):
        # read_sto refuses NaN, so there are no gaps to fill here.
        series = read_sto(path)
        columns = {label: np.array(series.data[:, j], dtype=float) for j, label in enumerate(series.labels)}
        corrections = [f"{path.name}: {note}" for note in series.notes]
        return np.array(series.time, dtype=float), columns, corrections, series.in_degrees
    if path.suffix.lower() != ".csv":
        fail(path, f"unknown file type {path.suffix!r}", "use .csv (header row) or OpenSim .sto/.mot")
    columns, corrections = read_table(path, time_column=time_column)
    time = columns.pop(column_name(columns, time_column, path))
    return time, columns, corrections, None


def _elbow_in_degrees(meta: dict, header_degrees: bool | None, path: Path, corrections: list[str]) -> bool:
    """Whether the elbow angle column of ``path`` is in degrees.

    A ``.sto``/``.mot`` header says so itself, and OpenSim's ``inDegrees`` concerns rotations
    only: torque and EMG in the same file stay as they are. A CSV's unit is recordings.json's
    ``angle_unit``; where both exist and disagree, the header wins and a note says so.
    """
    declared = meta.get("angle_unit", "rad") == "deg"
    if header_degrees is None:
        return declared
    if "angle_unit" in meta and declared != header_degrees:
        corrections.append(f"{path.name}: recordings.json gives angle_unit {meta['angle_unit']!r} but the file's "
                           f"header says inDegrees={'yes' if header_degrees else 'no'}; the header was followed")
    return header_degrees


def _check_rate(time: np.ndarray, declared, path: Path, field: str) -> None:
    if declared is None:
        return
    rate = (time.size - 1) / (time[-1] - time[0])
    if abs(rate - float(declared)) > RATE_TOLERANCE * float(declared):
        fail(path, f"its time column gives {rate:.4g} Hz but recordings.json declares {field} = {declared}",
             f"correct {field}, or resample the file")


def read_metadata(folder) -> dict:
    """``recordings.json`` of an own-data folder, checked field by field."""
    folder = Path(folder)
    path = folder / METADATA_FILE
    if not path.is_file():
        fail(path, "the metadata file is missing", f"write {METADATA_FILE} as documented in nmm_core.own_data")
    try:
        meta = json.loads(path.read_text())
    except ValueError as error:
        fail(path, f"not valid JSON ({error})", "repair the JSON")
    if meta.get("format") != "nmm-own-data" or meta.get("version") != 1:
        fail(path, "'format' must be 'nmm-own-data' and 'version' 1", "add the two fields")
    for field in ("subject", "columns", "trials"):
        if field not in meta:
            fail(path, f"no field {field!r}", f"add {field!r} as documented in nmm_core.own_data")
    columns = meta["columns"]
    for field in ("time", "elbow_angle", "torque", "emg"):
        if field not in columns:
            fail(path, f"'columns' has no {field!r}", f"name the file column that holds {field}")
    missing = [m for m in SURFACE_MUSCLES if m not in columns["emg"]]
    unknown = [m for m in list(columns["emg"]) + list(columns.get("deep", {})) if m not in MUSCLE_NAMES]
    if unknown:
        fail(path, f"'columns.emg'/'columns.deep' name unknown muscles {unknown}",
             f"use the arm26 names {', '.join(MUSCLE_NAMES)}")
    if missing:
        fail(path, f"'columns.emg' has no channel for {', '.join(missing)}",
             "the methods need the four surface muscles BIClong, BICshort, TRIlong and TRIlat")
    if meta.get("angle_unit", "rad") not in ("rad", "deg"):
        fail(path, f"'angle_unit' is {meta.get('angle_unit')!r}", "use 'rad' or 'deg'")
    if not isinstance(meta["trials"], list) or not meta["trials"]:
        fail(path, "'trials' is empty", "list one entry per trial")
    for index, trial in enumerate(meta["trials"]):
        for field in ("name", "kinematics", "torque", "emg"):
            if field not in trial:
                fail(path, f"trials[{index}] has no {field!r}", f"add {field!r} to the trial entry")
    return meta


def subject_of(meta: dict, path: Path) -> Subject:
    """The learner's subject from the metadata's ``subject`` entry."""
    record = meta["subject"]
    name = str(record.get("name", "subject"))
    if "height_m" in record or "mass_kg" in record:
        try:
            return scaled_subject(name, float(record["height_m"]), float(record["mass_kg"]), record.get("sex", "male"))
        except (KeyError, ValueError) as error:
            fail(path, f"'subject' needs height_m and mass_kg in metres and kilograms ({error})", "correct them")
    return Subject(name, segment_length_scale=float(record.get("segment_length_scale", 1.0)),
                   forearm_mass_scale=float(record.get("forearm_mass_scale", 1.0)))


def read_trials(folder) -> tuple[Subject, list[Trial]]:
    """The subject and the checked trials of an own-data folder (nothing written)."""
    folder = Path(folder)
    meta = read_metadata(folder)
    meta_path = folder / METADATA_FILE
    subject = subject_of(meta, meta_path)
    names = meta["columns"]
    out = []
    for entry in meta["trials"]:
        kin_path, torque_path, emg_path = (folder / entry[k] for k in ("kinematics", "torque", "emg"))
        time, kinematics, corrections, header_degrees = _table(kin_path, names["time"])
        _check_rate(time, meta.get("kinematics_rate_hz"), kin_path, "kinematics_rate_hz")
        angle = kinematics[column_name(kinematics, names["elbow_angle"], kin_path)]
        if _elbow_in_degrees(meta, header_degrees, kin_path, corrections):
            angle = np.radians(angle)
        torque_time, torque_table, notes, _ = _table(torque_path, names["time"])
        corrections += notes
        torque = torque_table[column_name(torque_table, names["torque"], torque_path)]
        emg_time, emg_table, notes, _ = _table(emg_path, names["time"])
        corrections += notes
        _check_rate(emg_time, meta.get("emg_rate_hz"), emg_path, "emg_rate_hz")
        keep = common_span(time, emg_time, kin_path, emg_path) & common_span(time, torque_time, kin_path, torque_path)
        if not keep.all():
            corrections.append(f"{entry['name']}: cut to the span all files share ({int((~keep).sum())} samples dropped)")
        time, angle = time[keep], angle[keep]
        angle, note = elbow_in_range(angle, kin_path)
        if note:
            corrections.append(note)
        surface = np.column_stack([np.interp(time, emg_time, emg_table[column_name(emg_table, names["emg"][m], emg_path)])
                                   for m in SURFACE_MUSCLES])
        if surface.min() < -1e-6:
            fail(emg_path, "EMG envelopes are negative somewhere", "use rectified, low-pass filtered envelopes")
        deep = {m: np.interp(time, emg_time, emg_table[column_name(emg_table, column, emg_path)])
                for m, column in names.get("deep", {}).items() if m in DEEP_MUSCLES}
        out.append(Trial(
            name=str(entry["name"]), subject=subject.name, time=time - time[0], elbow_angle=angle,
            torque=np.interp(time, torque_time, torque), emg=np.clip(surface, 0.0, None),
            emg_channels=tuple(SURFACE_MUSCLES), hand_load=float(entry.get("hand_load_kg", 0.0)),
            shoulder_angle=float(entry.get("shoulder_angle_rad", 0.0)), truth=deep or None,
            metadata={"source": str(folder), "corrections": corrections}))
    return subject, out


def convert(folder, output) -> list[Path]:
    """Convert an own-data folder into trial folders under ``output/<subject>/<trial>``; a
    ``subject.json`` beside them records the learner's subject. Refuses to replace anything."""
    subject, trials = read_trials(folder)
    root = Path(output) / subject.name
    existing = [root / t.name for t in trials if (root / t.name).exists()]
    if existing:
        fail(existing[0], "already exists; nothing was written", "choose another output folder, or move the old "
             "trial folders away first")
    root.mkdir(parents=True, exist_ok=True)
    (root / "subject.json").write_text(json.dumps({"name": subject.name,
                                                   "segment_length_scale": subject.segment_length_scale,
                                                   "forearm_mass_scale": subject.forearm_mass_scale}, indent=1))
    return [save_trial(root / t.name, t) for t in trials]
