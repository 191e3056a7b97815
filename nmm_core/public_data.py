"""Public recordings and your own files, read into the project's :class:`~nmm_core.trials.Trial`.

Two Zenodo data sets (fetched by :mod:`data_download.zenodo`), read from their documented
layouts:

``upper-limb-torque`` (doi:10.5281/zenodo.11209324)
    One folder per participant ``SXX/``: ``SXX.json`` (age, sex, weight, height, segment data),
    ``scaledModel.osim``, ``MVC/``, and trial folders under ``SJ/`` (single-joint) and ``MJ/``
    (multi-joint), each with ``emgFilt.csv`` (processed, MVC-normalised envelopes, 100 Hz),
    ``emgRaw.csv``, ``humanPositions.csv`` (rad), ``humanVelocities.csv`` and
    ``muscleTorque.csv`` (N m). :func:`load_upper_limb_participant` reads it: the four surface
    channels the methods use (BIClong, BICshort, TRIlong, TRIlat), the recorded BRA and TRImed
    as the hidden channels to score against (``Trial.truth``), and as torque reference the
    inverse dynamics of the participant's scaled model (or, with ``model="package"``, of this
    package's arm scaled by the participant's height and mass), beside the file's torque.
``emg-elbow`` (doi:10.5281/zenodo.7946782)
    One folder per subject with ``subject_info.txt`` (``key: value`` lines; an extension-less
    ``subject_info`` is read too; sex under ``sex``, coded 1/0, or ``gender``) and
    whitespace-delimited ``{subject}_{exercise}_{set}_{load}.txt`` files of five columns (raw
    ch1, raw ch2, filtered ch1, filtered ch2, angle); in the flexion-extension (``flex``) files
    ch1 is the biceps and ch2 the triceps, standing with the arm at the side.
    :func:`load_elbow_subject` reads it with this package's arm scaled by the subject's height
    and mass and the dumbbell as the hand load.

Everything a file can get wrong has a clear error naming the file, the field and the fix (a
:class:`~nmm_core.tables.DataFormatError`), or a documented correction recorded in
``Trial.metadata["corrections"]`` (the generic ones are :mod:`nmm_core.tables`'):

- column names are matched without regard to case; extra columns are kept aside, unused;
- angles above 3.5 in magnitude are taken as degrees (no elbow reaches 3.5 rad) and converted;
- runs of NaN up to :data:`~nmm_core.tables.MAX_GAP_S` are filled by linear interpolation;
  longer runs, or NaN at either end, are an error;
- EMG and kinematics on different time bases are put on the kinematics' by interpolation and
  cut to their common span; less than 90 % overlap is an error;
- elbow angles at most 0.1 rad outside the model's range are clipped to it.

:func:`write_upper_limb_layout` writes trials in the ``upper-limb-torque`` layout, which the
real-data chapter uses when the real files are absent.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import re
from pathlib import Path
from typing import Mapping, NamedTuple, Sequence

import numpy as np

from . import config
from .arm_model import (_osim, build_arm_model, fit_model_geometry, inverse_dynamics, inverse_dynamics_of_model,
                        save_model)
from .config import DEEP_MUSCLES, SURFACE_MUSCLES, Subject
from .signals import envelope
from .tables import column_name, common_span, degrees_note, elbow_in_range, fail, read_table
from .trials import Trial

#: The full virtual cohort's subject that stands in for a public data set whose files are not
#: on the machine (the real-data chapter writes its hanging trials in the data set's layout).
STAND_IN_SUBJECT = "S02"

#: Columns of the upper-limb-torque EMG files, and the ones this package's arm has.
UPPER_LIMB_EMG = ("DELTAnt", "DELTMed", "DELTPost", "PECT", "LATI", "TRILong", "TRILat", "TRIMed",
                  "BICLong", "BICShort", "BRA", "BRD")
UPPER_LIMB_TO_ARM26 = {"BICLong": "BIClong", "BICShort": "BICshort", "TRILong": "TRIlong",
                       "TRILat": "TRIlat", "TRIMed": "TRImed", "BRA": "BRA"}
UPPER_LIMB_COORDINATES = ("elv_angle", "shoulder_elv", "shoulder_rot", "elbow_flexion", "pro_sup",
                          "deviation", "flexion")
UPPER_LIMB_FILES = ("emgFilt.csv", "humanPositions.csv", "muscleTorque.csv")

#: Forearm + hand mass as a fraction of body mass, and upper-arm length over stature (de Leva
#: 1996, J. Biomech. 29:1223-1230): the package's arm is scaled by these when no scaled model
#: is used. arm26's humerus (0.2904 m) is de Leva's male upper arm for a stature of 1.795 m.
FOREARM_HAND_MASS_FRACTION = {"male": 0.0162 + 0.0061, "female": 0.0138 + 0.0056}
REFERENCE_STATURE = config.HUMERUS_LENGTH / (281.7 / 1741.0)


@dataclasses.dataclass
class RecordedTrial:
    """A recorded trial, read into a :class:`Trial`, with what the Trial does not hold.

    Attributes
    ----------
    trial : Trial
        Surface channels in ``emg``; the recorded deep channels (if any) in ``truth``, never an
        input to the methods; the inverse-dynamics torque in ``torque``.
    file_torque : ndarray or None
        The data set's own torque (N m), on the trial's time base.
    emg : dict
        Every recorded EMG channel (arm26 names where the arm has the muscle).
    coordinates : dict
        Every kinematics column, rad, on the trial's time base.
    corrections : list of str
        What was corrected while reading (also in ``trial.metadata["corrections"]``).
    """

    trial: Trial
    file_torque: np.ndarray | None
    emg: dict
    coordinates: dict
    corrections: list


# --------------------------------------------------------------------------------------------
# Subjects.
# --------------------------------------------------------------------------------------------
def scaled_subject(name: str, height_m: float, mass_kg: float, sex: str = "male") -> Subject:
    """This package's arm scaled to a person: lengths by stature, forearm+hand mass by body
    mass (de Leva 1996 proportions; see :data:`FOREARM_HAND_MASS_FRACTION`)."""
    if not 1.0 < height_m < 2.5:
        raise ValueError(f"height {height_m} m is implausible; give it in metres (e.g. 1.75).")
    if not 25.0 < mass_kg < 250.0:
        raise ValueError(f"body mass {mass_kg} kg is implausible; give it in kilograms.")
    female = str(sex).strip().lower().startswith(("f", "w"))
    fraction = FOREARM_HAND_MASS_FRACTION["female" if female else "male"]
    safe = re.sub(r"[^A-Za-z0-9_-]", "_", name) or "subject"
    return Subject(safe, segment_length_scale=height_m / REFERENCE_STATURE,
                   forearm_mass_scale=mass_kg * fraction / config.FOREARM_MASS)


def _metres(value, what: str, path: Path) -> float:
    number = _number(value, what, path)
    return number / 100.0 if number > 3.0 else number  # centimetres given


def _number(value, what: str, path: Path) -> float:
    if isinstance(value, (int, float)):
        return float(value)
    found = re.search(r"[-+]?\d+(?:[.,]\d+)?", str(value))
    if not found:
        fail(path, f"{what} = {value!r} is not a number", f"give {what} as a number")
    return float(found.group().replace(",", "."))


def _field(record: Mapping, path: Path, *candidates: str):
    lower = {str(k).strip().lower(): v for k, v in record.items()}
    for key in candidates:
        if key in lower:
            return lower[key]
    fail(path, f"no field {candidates[0]!r} (fields: {', '.join(record)})", f"add {candidates[0]!r}")


# --------------------------------------------------------------------------------------------
# upper-limb-torque (doi:10.5281/zenodo.11209324).
# --------------------------------------------------------------------------------------------
def upper_limb_participant_info(folder) -> dict:
    """``SXX.json`` of a participant folder, checked for what the loaders use."""
    folder = Path(folder)
    path = folder / f"{folder.name}.json"
    if not path.is_file():
        fail(path, "the participant file is missing", "fetch the participant again")
    try:
        info = json.loads(path.read_text())
    except ValueError as error:
        fail(path, f"not valid JSON ({error})", "fetch the participant again")
    return info


def upper_limb_subject(folder) -> Subject:
    """The package's arm scaled by the participant's height, weight and sex (the fallback of
    :func:`load_upper_limb_participant` with ``model="package"``)."""
    folder = Path(folder)
    info = upper_limb_participant_info(folder)
    path = folder / f"{folder.name}.json"
    return scaled_subject(folder.name, _metres(_field(info, path, "height", "height_m", "height (m)"), "height", path),
                          _number(_field(info, path, "weight", "mass", "weight_kg", "mass_kg"), "weight", path),
                          str(_field(info, path, "sex", "gender")))


def load_upper_limb_trial(trial_dir, participant_dir=None, model: str = "scaled", subject: Subject | None = None,
                          osim_model=None) -> RecordedTrial:
    """One trial folder of the upper-limb-torque layout (see the module docstring).

    ``model``: ``"scaled"`` takes the inverse-dynamics reference from the participant's
    ``scaledModel.osim``; ``"package"`` from this package's arm scaled by
    :func:`upper_limb_subject` (or ``subject``).
    """
    trial_dir = Path(trial_dir)
    participant_dir = Path(participant_dir) if participant_dir is not None else trial_dir.parent.parent
    for name in UPPER_LIMB_FILES:
        if not (trial_dir / name).is_file():
            fail(trial_dir / name, "the file is missing", "fetch the participant again (python -m data_download "
                 f"zenodo fetch upper-limb-torque --participants {participant_dir.name})")
    positions_path, emg_path, torque_path = (trial_dir / n for n in ("humanPositions.csv", "emgFilt.csv",
                                                                     "muscleTorque.csv"))
    positions, corrections = read_table(positions_path)
    time = positions[column_name(positions, "time", positions_path)]
    angle_columns = [k for k in positions if k.lower() != "time"]
    if any(k.lower() == "elbow_flexion" for k in angle_columns):
        elbow_key = column_name(positions, "elbow_flexion", positions_path)
    elif len(angle_columns) == 1:
        elbow_key = angle_columns[0]
        corrections.append(f"{positions_path.name}: the only angle column {elbow_key!r} taken as elbow flexion")
    else:
        fail(positions_path, f"several angle columns ({', '.join(angle_columns)}) and none is 'elbow_flexion'",
             "name the elbow column 'elbow_flexion'")
    # One unit for the whole file, decided by the elbow.
    degrees = degrees_note(positions[elbow_key], positions_path, elbow_key)
    coordinates = {k: np.radians(positions[k]) if degrees else positions[k] for k in angle_columns}
    if degrees:
        corrections.append(degrees)

    emg_table, notes = read_table(emg_path)
    corrections += notes
    emg_time = emg_table[column_name(emg_table, "time", emg_path)]
    torque_table, notes = read_table(torque_path)
    corrections += notes
    torque_time = torque_table[column_name(torque_table, "time", torque_path)]
    torque_columns = [k for k in torque_table if k.lower() != "time"]
    elbow_torque = [k for k in torque_columns if "elbow" in k.lower()]
    if len(elbow_torque) == 1:
        torque_key = elbow_torque[0]
    elif len(torque_columns) == 1:
        torque_key = torque_columns[0]
    else:
        fail(torque_path, f"cannot tell the elbow torque among {', '.join(torque_columns)}",
             "name the elbow torque column so that it contains 'elbow'")

    keep = common_span(time, emg_time, positions_path, emg_path) & common_span(time, torque_time, positions_path, torque_path)
    if not keep.all():
        corrections.append(f"{trial_dir.name}: cut to the span the kinematics, EMG and torque share "
                           f"({int((~keep).sum())} samples dropped)")
    time = time[keep]
    coordinates = {k: v[keep] for k, v in coordinates.items()}
    if emg_time.size != time.size or not np.allclose(emg_time, time, atol=1e-6):
        corrections.append(f"{emg_path.name}: EMG put on the kinematics' time base by interpolation")
    emg = {}
    for key, values in emg_table.items():
        if key.lower() == "time":
            continue
        arm26 = next((v for k, v in UPPER_LIMB_TO_ARM26.items() if k.lower() == key.lower()), key)
        emg[arm26] = np.interp(time, emg_time, values)
    missing = [m for m in SURFACE_MUSCLES + DEEP_MUSCLES if m not in emg]
    if missing:
        wanted = {v: k for k, v in UPPER_LIMB_TO_ARM26.items()}
        fail(emg_path, f"no EMG column {', '.join(wanted[m] for m in missing)}",
             "the methods need the four surface channels, and BRA and TRIMed to score against")
    file_torque = np.interp(time, torque_time, torque_table[torque_key])

    elbow, note = elbow_in_range(coordinates[elbow_key], positions_path)
    if note:
        corrections.append(note)
    coordinates[elbow_key] = elbow
    shoulder_key = next((k for k in coordinates if k.lower() == "shoulder_elv"), None)
    shoulder = float(np.mean(coordinates[shoulder_key])) if shoulder_key else 0.0
    if shoulder_key and np.ptp(coordinates[shoulder_key]) > 0.1:
        corrections.append(f"{positions_path.name}: the shoulder moves over {np.ptp(coordinates[shoulder_key]):.2f} rad; "
                           f"the muscle geometry is taken at its mean ({shoulder:.2f} rad)")

    if model == "scaled":
        reference = _scaled_model_torque(participant_dir, time, coordinates, elbow_key, osim_model)
    elif model == "package":
        subject = subject or upper_limb_subject(participant_dir)
        reference = inverse_dynamics(subject, time, elbow, shoulder_angle=float(np.clip(shoulder, 0.0, math.pi)))
    else:
        raise ValueError(f"model must be 'scaled' or 'package', got {model!r}.")

    task = trial_dir.parent.name
    trial = Trial(name=f"{task}_{trial_dir.name}", subject=participant_dir.name, time=time - time[0],
                  elbow_angle=elbow, torque=reference,
                  emg=np.column_stack([np.clip(emg[m], 0.0, None) for m in SURFACE_MUSCLES]),
                  emg_channels=tuple(SURFACE_MUSCLES), hand_load=0.0,
                  shoulder_angle=float(np.clip(shoulder, 0.0, math.pi)),
                  truth={m: np.clip(emg[m], 0.0, None) for m in DEEP_MUSCLES},
                  metadata={"source": "doi:10.5281/zenodo.11209324", "task": task, "folder": str(trial_dir),
                            "torque_reference": f"inverse dynamics ({model} model)", "corrections": corrections})
    return RecordedTrial(trial, file_torque, emg, coordinates, corrections)


def _scaled_model(participant_dir: Path):
    """The participant's ``scaledModel.osim`` as an ``opensim.Model``."""
    path = participant_dir / "scaledModel.osim"
    if not path.is_file():
        fail(path, "the participant's scaled model is missing",
             "fetch the participant again, or pass model='package' to use this package's arm")
    return _osim().Model(str(path))


def _scaled_model_torque(participant_dir: Path, time, coordinates: dict, elbow_key: str, osim_model=None):
    path = participant_dir / "scaledModel.osim"
    osim_model = osim_model if osim_model is not None else _scaled_model(participant_dir)
    names = {osim_model.getCoordinateSet().get(i).getName() for i in range(osim_model.getCoordinateSet().getSize())}
    given = {("elbow_flexion" if k == elbow_key else k): v for k, v in coordinates.items()}
    used = {k: v for k, v in given.items() if k in names}
    if "elbow_flexion" not in names:
        fail(path, f"the model has no coordinate 'elbow_flexion' (it has {', '.join(sorted(names))})",
             "use a model whose elbow coordinate is 'elbow_flexion', or model='package'")
    return inverse_dynamics_of_model(osim_model, time - time[0], used)


def upper_limb_trial_dirs(participant_dir) -> list[Path]:
    """The trial folders (those holding ``emgFilt.csv``) under ``SJ/`` and ``MJ/``."""
    participant_dir = Path(participant_dir)
    found = sorted(p.parent for task in ("SJ", "MJ") for p in (participant_dir / task).glob("*/emgFilt.csv"))
    if not found:
        fail(participant_dir, "no trial folder (SJ/<trial>/emgFilt.csv or MJ/<trial>/emgFilt.csv)",
             "check the participant folder, or fetch it again")
    return found


def load_upper_limb_participant(participant_dir, model: str = "scaled", tasks: Sequence[str] = ("SJ", "MJ")
                                ) -> list[RecordedTrial]:
    """Every trial of one participant of the upper-limb-torque layout (see the module docstring)."""
    participant_dir = Path(participant_dir)
    upper_limb_participant_info(participant_dir)
    osim_model = _scaled_model(participant_dir) if model == "scaled" else None  # read once for all trials
    subject = upper_limb_subject(participant_dir) if model == "package" else None
    return [load_upper_limb_trial(d, participant_dir, model, subject, osim_model)
            for d in upper_limb_trial_dirs(participant_dir) if d.parent.name in tasks]


def upper_limb_geometry(participant_dir, shoulder_angle: float = 0.0):
    """Muscle geometry for the learner: lengths and moment arms of the six arm26 muscles from
    the participant's scaled model, shoulder elevation held at ``shoulder_angle`` (rad). (For
    this package's arm scaled to the participant instead, use
    ``arm_model.fit_muscle_geometry(upper_limb_subject(participant_dir), shoulder_angle)``.)"""
    participant_dir = Path(participant_dir)
    osim_model = _scaled_model(participant_dir)
    names = {osim_model.getCoordinateSet().get(i).getName() for i in range(osim_model.getCoordinateSet().getSize())}
    elbow = osim_model.getCoordinateSet().get("elbow_flexion")
    elbow_range = (max(elbow.getRangeMin(), config.ELBOW_RANGE[0]), min(elbow.getRangeMax(), config.ELBOW_RANGE[1]))
    fixed = {"shoulder_elv": shoulder_angle} if "shoulder_elv" in names else {}
    return fit_model_geometry(osim_model, shoulder_angle, participant_dir.name, fixed, elbow_range)


def write_upper_limb_layout(folder, participant: str, trials: Sequence[Trial], subject: Subject,
                            height_m: float, mass_kg: float, sex: str = "male") -> Path:
    """Write trials in the upper-limb-torque layout (``<folder>/<participant>/...``), with the
    deep muscles' excitations as their recorded channels and this package's arm as the scaled
    model; the other EMG columns of the layout are zeros. Returns the participant folder."""
    root = Path(folder) / participant
    root.mkdir(parents=True, exist_ok=True)
    (root / f"{participant}.json").write_text(json.dumps(
        {"age": None, "sex": sex, "weight": mass_kg, "height": height_m,
         "note": "written by nmm_core.public_data.write_upper_limb_layout"}, indent=1))
    save_model(build_arm_model(subject, 0.0, 0.0), root / "scaledModel.osim")
    to_file = {v: k for k, v in UPPER_LIMB_TO_ARM26.items()}
    for index, trial in enumerate(trials, 1):
        task = "SJ" if trial.shoulder_angle < 0.5 else "MJ"
        directory = root / task / f"trial{index}"
        directory.mkdir(parents=True, exist_ok=True)
        time = trial.time
        emg = {name: np.zeros_like(time) for name in UPPER_LIMB_EMG}
        for muscle in SURFACE_MUSCLES:
            emg[to_file[muscle]] = trial.channel(muscle)
        for muscle in DEEP_MUSCLES:
            emg[to_file[muscle]] = trial.truth[muscle]
        _write_csv(directory / "emgFilt.csv", time, emg)
        angles = {name: np.zeros_like(time) for name in UPPER_LIMB_COORDINATES}
        angles["elbow_flexion"] = trial.elbow_angle
        angles["shoulder_elv"] = np.full_like(time, trial.shoulder_angle)
        _write_csv(directory / "humanPositions.csv", time, angles)
        _write_csv(directory / "humanVelocities.csv", time,
                   {k: np.gradient(v, time) for k, v in angles.items()})
        _write_csv(directory / "muscleTorque.csv", time, {"elbow_flexion": trial.torque})
    return root


def _write_csv(path: Path, time: np.ndarray, columns: Mapping[str, np.ndarray]) -> None:
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["TIME", *columns])
        for k in range(time.size):
            writer.writerow([f"{time[k]:.6f}", *(f"{columns[c][k]:.9g}" for c in columns)])


# --------------------------------------------------------------------------------------------
# emg-elbow (doi:10.5281/zenodo.7946782).
# --------------------------------------------------------------------------------------------
ELBOW_FILE_PATTERN = re.compile(r"^(?P<subject>.+)_(?P<exercise>flex|pronsup)_(?P<set>train|test)_(?P<load>\d+)\.txt$",
                                re.IGNORECASE)
ELBOW_COLUMNS = ("raw_ch1", "raw_ch2", "filtered_ch1", "filtered_ch2", "angle")
ELBOW_RATE = 2000.0  # Hz, the Shimmer3's rate in the data set's description
#: The subject file's names: ``subject_info.txt`` in public readers' code (which count 13 .txt
#: files per subject), ``subject_info`` in the record's description. The first found is read.
SUBJECT_INFO_FILES = ("subject_info.txt", "subject_info")
#: The subject's sex as written under ``sex`` (coded 1 male, 0 female in readers' code) or
#: ``gender`` (the description's key), lower-cased.
SEX_VALUES = {"1": "male", "0": "female", "m": "male", "f": "female", "male": "male", "female": "female"}


def subject_info_path(folder) -> Path:
    """The subject file of an emg-elbow subject folder (see :data:`SUBJECT_INFO_FILES`).

    Raises
    ------
    DataFormatError
        If the folder holds neither name.
    """
    folder = Path(folder)
    for name in SUBJECT_INFO_FILES:
        if (folder / name).is_file():
            return folder / name
    fail(folder / SUBJECT_INFO_FILES[0], f"the subject file is missing (neither {' nor '.join(SUBJECT_INFO_FILES)} "
         f"is in {folder.name!r})", "fetch the data set again, or give the folder of one subject")


def read_subject_info(path) -> dict:
    """``key: value`` lines of an emg-elbow subject file (keys lower-cased), as str."""
    path = Path(path)
    if not path.is_file():
        fail(path, "the subject file is missing", "fetch the data set again")
    info = {}
    for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        if ":" not in line:
            fail(path, f"line {number} {line!r} is not 'key: value'", "repair the line")
        key, value = line.split(":", 1)
        info[key.strip().lower()] = value.strip()
    return info


class ElbowRecording(NamedTuple):
    """One emg-elbow trial file, on the envelope time base (see :func:`load_elbow_trial`).

    Its fields: ``time`` (T,), s, from 0, at ``envelope_rate``; ``elbow_angle`` (T,), rad;
    ``envelopes`` (T, 2), linear envelopes of the filtered channels, biceps (ch1) then triceps
    (ch2), in the file's units (not yet normalised), non-negative; ``hand_load``, the dumbbell
    mass in kg, from the file name; ``corrections``, a list of what was corrected or assumed while
    reading; ``name_parts``, the file name's ``subject``, ``exercise``, ``set`` and ``load`` (g).
    """

    time: np.ndarray
    elbow_angle: np.ndarray
    envelopes: np.ndarray
    hand_load: float
    corrections: list
    name_parts: dict


def load_elbow_trial(path, rate: float = ELBOW_RATE, envelope_rate: float = 100.0) -> ElbowRecording:
    """Read one ``{subject}_{exercise}_{set}_{load}.txt`` file of the emg-elbow layout.

    Parameters
    ----------
    path : path
        The file: five whitespace-separated columns (raw ch1, raw ch2, filtered ch1, filtered
        ch2, angle), no header.
    rate : float
        Sampling rate of the file, Hz. It is not stated with the files, so it is assumed and
        checked: the elbow must move at 0.05 to 3 Hz, as flexion-extension does.
    envelope_rate : float
        Rate of the returned time base, Hz.

    Returns
    -------
    ElbowRecording
        Time, elbow angle (rad; a range over 2 pi is taken as degrees), the two channels'
        envelopes, hand load, corrections and the parts of the file name.
    """
    path = Path(path)
    match = ELBOW_FILE_PATTERN.match(path.name)
    if not match:
        fail(path, "the name does not follow {subject}_{flex|pronsup}_{train|test}_{load in g}.txt",
             "rename the file to the data set's pattern")
    columns, corrections = read_table(path, delimiter=None, time_column=None, names=ELBOW_COLUMNS, rate=rate)
    angle = columns["angle"]
    span = np.ptp(angle)
    if span > 2 * math.pi:
        angle = np.radians(angle)
        corrections.append(f"{path.name}: angle taken as degrees (range {span:.0f}) and converted to rad")
    if np.ptp(angle) < 0.1:
        fail(path, f"the angle barely moves (range {np.ptp(angle):.3f})", "check the angle column (the fifth)")
    spectrum = np.abs(np.fft.rfft(angle - angle.mean()))
    frequencies = np.fft.rfftfreq(angle.size, 1.0 / rate)
    dominant = frequencies[1:][np.argmax(spectrum[1:])]
    if not 0.05 <= dominant <= 3.0:
        fail(path, f"at the assumed {rate:g} Hz the elbow moves at {dominant:.2f} Hz, not the 0.05-3 Hz of "
             "flexion-extension", "pass the recording's true sampling rate (rate=...)")
    time = np.arange(angle.size) / rate
    envelopes = envelope(np.abs(np.column_stack([columns["filtered_ch1"], columns["filtered_ch2"]])), rate)
    target = np.arange(0.0, time[-1], 1.0 / envelope_rate)
    envelopes = np.column_stack([np.interp(target, time, envelopes[:, j]) for j in range(2)])
    angle = np.interp(target, time, angle)
    load = float(match.group("load")) / 1000.0
    return ElbowRecording(target, angle, np.clip(envelopes, 0.0, None), load, corrections, match.groupdict())


def elbow_sex(info: Mapping[str, str], path: Path) -> tuple[str, str]:
    """The subject's sex from a subject file's ``sex`` or ``gender`` line.

    Parameters
    ----------
    info : mapping of str to str
        :func:`read_subject_info`'s record.
    path : Path
        The subject file, for errors.

    Returns
    -------
    sex : str
        ``"male"`` or ``"female"``; ``"male"`` when neither line is there.
    found : str
        Which line gave it (e.g. ``"sex: 0 (1 male, 0 female)"``), since the data set's
        description and its readers' code disagree on the key and the coding.

    Raises
    ------
    DataFormatError
        For a value outside :data:`SEX_VALUES`, or ``sex`` and ``gender`` that disagree.
    """
    found = {}
    for key in ("sex", "gender"):
        if key in info:
            sex = SEX_VALUES.get(info[key].strip().lower())
            if sex is None:
                fail(path, f"{key} = {info[key]!r} is none of 1/0, m/f, male/female",
                     "write sex: 1 (male) or 0 (female), or gender: male or female")
            found[key] = sex
    if not found:
        return "male", "neither sex nor gender given: male proportions assumed"
    if len(set(found.values())) > 1:
        fail(path, f"sex = {info['sex']!r} ({found['sex']}) but gender = {info['gender']!r} ({found['gender']})",
             "keep the line that is right and delete the other")
    key, sex = next(iter(found.items()))
    coding = " (1 male, 0 female)" if info[key].strip() in ("0", "1") else ""
    return sex, f"{key}: {info[key]}{coding}"


def _elbow_anthropometry(folder) -> tuple[Subject, dict]:
    """The scaled arm of an emg-elbow subject folder, and what its subject file gave."""
    folder = Path(folder)
    path = subject_info_path(folder)
    info = read_subject_info(path)
    sex, found = elbow_sex(info, path)
    subject = scaled_subject(folder.name, _metres(_field(info, path, "height"), "height", path),
                             _number(_field(info, path, "weight", "mass"), "weight", path), sex)
    return subject, {"file": path.name, "sex": sex, "sex_from": found}


def elbow_subject(folder) -> Subject:
    """This package's arm scaled by an emg-elbow subject's height (cm or m), weight (kg) and
    sex, read from its subject file (:func:`subject_info_path`, :func:`elbow_sex`)."""
    return _elbow_anthropometry(folder)[0]


def load_elbow_subject(folder, exercise: str = "flex", rate: float = ELBOW_RATE) -> list[RecordedTrial]:
    """Every flexion-extension file of one subject folder of the emg-elbow layout, with inverse
    dynamics of this package's arm scaled by the subject file and the dumbbell in the hand.

    Biceps (ch1) feeds BIClong and BICshort, triceps (ch2) TRIlong and TRIlat; envelopes are
    normalised by the subject's largest over all its files (the data set has no MVC trial).
    ``exercise`` must be ``"flex"``: the pronation-supination files record pronator teres and
    biceps, no triceps. Each trial's ``metadata["subject_info"]`` says which subject file and
    which sex line were read.
    """
    if exercise == "pronsup":
        raise ValueError("exercise 'pronsup' records pronator teres (ch1) and biceps (ch2), no triceps, and the "
                         "methods need biceps and triceps envelopes; use exercise='flex' (ch1 biceps, ch2 triceps).")
    if exercise != "flex":
        raise ValueError(f"exercise must be 'flex' (the data set's flexion-extension files); received {exercise!r}.")
    folder = Path(folder)
    subject, subject_info = _elbow_anthropometry(folder)
    files = sorted(p for p in folder.glob("*.txt") if (m := ELBOW_FILE_PATTERN.match(p.name))
                   and m.group("exercise").lower() == exercise)
    if not files:
        fail(folder, f"no {exercise} file ({{subject}}_{exercise}_{{set}}_{{load}}.txt)", "check the subject folder")
    read = [load_elbow_trial(p, rate) for p in files]
    peak = np.max([r.envelopes.max(axis=0) for r in read], axis=0)
    out = []
    for path, recording in zip(files, read):
        corrections = recording.corrections
        angle, note = elbow_in_range(recording.elbow_angle, path)
        if note:
            corrections.append(note)
        envelopes = recording.envelopes / np.maximum(peak, 1e-12)
        corrections.append(f"{path.name}: envelopes normalised by the subject's peak (no MVC in this data set)")
        time, load = recording.time, recording.hand_load
        torque = inverse_dynamics(subject, time, angle, hand_load=load)
        emg = np.column_stack([envelopes[:, 0], envelopes[:, 0], envelopes[:, 1], envelopes[:, 1]])
        trial = Trial(name=path.stem, subject=folder.name, time=time, elbow_angle=angle, torque=torque,
                      emg=emg, emg_channels=tuple(SURFACE_MUSCLES), hand_load=load, shoulder_angle=0.0,
                      metadata={"source": "doi:10.5281/zenodo.7946782", "set": recording.name_parts["set"],
                                "channels": "ch1 biceps -> BIClong, BICshort; ch2 triceps -> TRIlong, TRIlat",
                                "subject_info": subject_info,
                                "corrections": corrections})
        out.append(RecordedTrial(trial, None, {"biceps": envelopes[:, 0], "triceps": envelopes[:, 1]},
                                 {"elbow_flexion": angle}, corrections))
    return out


def write_elbow_layout(folder, subject_id: str, trials: Sequence[Trial], height_m: float, mass_kg: float,
                       sex: str = "Male", rate: float = ELBOW_RATE, seed: int = 0) -> Path:
    """Write trials in the emg-elbow layout (``<folder>/<subject_id>/``): ``subject_info.txt`` and
    one ``{subject}_flex_train_{load in g}_...`` file per trial, whose EMG columns are the
    BIClong and TRIlat envelopes modulating seeded white noise at ``rate`` and whose angle is
    in degrees. A stand-in for the real files; returns the subject folder."""
    root = Path(folder) / subject_id
    root.mkdir(parents=True, exist_ok=True)
    (root / SUBJECT_INFO_FILES[0]).write_text(f"ID: {subject_id}\nAge: 30\nHeight: {height_m * 100:.0f} cm\n"
                                       f"Weight: {mass_kg:.1f} kg\nArm length: 60 cm\nHand width: 8 cm\n"
                                       f"Gender: {sex}\n")
    rng = np.random.default_rng(seed)
    counts: dict = {}
    for trial in trials:
        grams = int(round(trial.hand_load * 1000))
        counts[grams] = counts.get(grams, 0) + 1
        split = "train" if counts[grams] == 1 else "test"
        if counts[grams] > 2:
            continue  # the layout has one train and one test file per load
        time = np.arange(0.0, trial.time[-1], 1.0 / rate)
        envelopes = np.column_stack([np.interp(time, trial.time, trial.channel(m)) for m in ("BIClong", "TRIlat")])
        raw = envelopes * rng.normal(size=envelopes.shape)
        angle = np.degrees(np.interp(time, trial.time, trial.elbow_angle))
        np.savetxt(root / f"{subject_id}_flex_{split}_{grams}.txt", np.column_stack([raw, raw, angle]), fmt="%.6g")
    return root


def find_participant(data_root, dataset: str, participant: str = "") -> Path | None:
    """The folder of ``participant`` (any depth) under a data set's unpacked data, recognised by
    its ``<ID>.json`` (upper-limb-torque) or its subject file (emg-elbow, any of
    :data:`SUBJECT_INFO_FILES`); with ``participant`` empty, the first one found. None when the
    data are not there."""
    root = Path(data_root)
    if not root.is_dir():
        return None
    if dataset == "upper-limb-torque":
        found = sorted(p.parent for p in root.rglob("*.json") if p.stem == p.parent.name)
    elif dataset == "emg-elbow":
        found = sorted({p.parent for name in SUBJECT_INFO_FILES for p in root.rglob(name)})
    else:
        raise ValueError(f"Unknown data set {dataset!r}; use 'upper-limb-torque' or 'emg-elbow'.")
    if participant:
        found = [p for p in found if p.name == participant]
    return found[0] if found else None

