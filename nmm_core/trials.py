"""One trial on disk and in memory, for the virtual cohort and for a user's own recordings.

A trial is a folder::

    trial.json           metadata: subject, hand load (kg), shoulder angle (rad), EMG channels
    kinematics.mot       time, elbow_flexion (rad, or degrees with inDegrees=yes)
    torque.sto           time, elbow_flexion_moment (N m, flexion > 0), e.g. OpenSim ID output
    emg.sto              time, one column per EMG channel (muscle names), MVC-normalised envelopes
    emg_raw.sto          optional: raw EMG (V) at the amplifier rate, same channels
    truth_excitation.sto optional (virtual cohort only): true excitations of all six muscles

``kinematics``, ``torque`` and ``emg`` share one time base (the kinematics rate, e.g. 100 Hz;
resample EMG envelopes with :func:`nmm_core.signals.resample` first). :func:`load_trial`
checks all of this and says which file and field is wrong and how to fix it.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from . import config
from .arm_model import elbow_kinematics
from .config import MUSCLE_NAMES
from .storage import read_sto, write_sto
from .tables import DataFormatError, fail

FORMAT_NAME = "nmm-trial"
FORMAT_VERSION = 1
ANGLE_COLUMN = "elbow_flexion"
TORQUE_COLUMN = "elbow_flexion_moment"
_RATE_TOLERANCE = 1e-3  # relative


#: A trial folder does not follow the documented layout: the one error of every data-file
#: reader (:class:`nmm_core.tables.DataFormatError`), under the name this module always used.
TrialFormatError = DataFormatError


@dataclasses.dataclass(frozen=True, eq=False)
class Trial:
    """One elbow trial, every array on the kinematics time base.

    Attributes
    ----------
    name, subject : str
    time : ndarray, shape (T,)
        s.
    elbow_angle : ndarray, shape (T,)
        rad, flexion positive.
    torque : ndarray, shape (T,)
        Net elbow torque, N m, flexion positive.
    emg : ndarray, shape (T, n_channels)
        Processed, MVC-normalised EMG envelopes.
    emg_channels : tuple of str
        Muscle recorded by each column of ``emg``.
    hand_load : float
        kg.
    shoulder_angle : float
        rad (0 = upper arm hanging, pi = overhead).
    truth : Mapping[str, ndarray] or None
        True excitations per muscle, shape (T,) each (virtual cohort only; never an input).
    metadata : Mapping
        The rest of ``trial.json``.
    """

    name: str
    subject: str
    time: np.ndarray
    elbow_angle: np.ndarray
    torque: np.ndarray
    emg: np.ndarray
    emg_channels: tuple[str, ...]
    hand_load: float
    shoulder_angle: float
    truth: Mapping[str, np.ndarray] | None = None
    metadata: Mapping = dataclasses.field(default_factory=dict)

    @property
    def rate(self) -> float:
        """Sampling rate of the time base, Hz."""
        return float((self.time.size - 1) / (self.time[-1] - self.time[0]))

    @property
    def elbow_speed(self) -> np.ndarray:
        """rad/s, shape (T,), from a quintic spline through the angle."""
        return elbow_kinematics(self.time, self.elbow_angle)[0]

    def channel(self, muscle: str) -> np.ndarray:
        """The EMG envelope of ``muscle``, shape (T,)."""
        if muscle not in self.emg_channels:
            raise KeyError(f"Trial {self.name!r} has no EMG channel {muscle!r}; it has "
                           f"{list(self.emg_channels)}.")
        return self.emg[:, self.emg_channels.index(muscle)]


def _check_muscles(path: Path, field: str, names: Sequence[str]) -> tuple[str, ...]:
    names = tuple(names)
    unknown = [n for n in names if n not in MUSCLE_NAMES]
    if unknown:
        fail(path, f"field {field!r} names unknown muscles {unknown}.",
             f"use the model's muscle names {list(MUSCLE_NAMES)} (rename the columns).")
    if len(set(names)) != len(names):
        fail(path, f"field {field!r} repeats a muscle: {list(names)}.", "give each channel once.")
    return names


def save_trial(directory, trial: Trial, raw_emg: tuple[np.ndarray, np.ndarray] | None = None) -> Path:
    """Write ``trial`` as a trial folder; the folder appears complete or not at all.

    Parameters
    ----------
    directory : path
        The trial folder to create. An existing folder is replaced only after the new one has
        been written completely.
    trial : Trial
    raw_emg : (time, data), optional
        Raw EMG, s and V, shapes (T_raw,) and (T_raw, n_channels), same channels as ``trial``.
    """
    directory = Path(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", dir=directory.parent))
    try:
        write_sto(staging / "kinematics.mot", trial.time, trial.elbow_angle[:, None], [ANGLE_COLUMN],
                  in_degrees=False, name="kinematics")
        write_sto(staging / "torque.sto", trial.time, trial.torque[:, None], [TORQUE_COLUMN],
                  name="inverse_dynamics")
        write_sto(staging / "emg.sto", trial.time, trial.emg, list(trial.emg_channels), name="emg")
        if raw_emg is not None:
            write_sto(staging / "emg_raw.sto", raw_emg[0], raw_emg[1], list(trial.emg_channels),
                      name="emg_raw")
        if trial.truth is not None:
            muscles = [m for m in MUSCLE_NAMES if m in trial.truth]
            write_sto(staging / "truth_excitation.sto", trial.time,
                      np.column_stack([trial.truth[m] for m in muscles]), muscles, name="truth")
        meta = {**trial.metadata, "format": FORMAT_NAME, "version": FORMAT_VERSION,
                "name": trial.name, "subject": trial.subject, "hand_load_kg": trial.hand_load,
                "shoulder_angle_rad": trial.shoulder_angle, "emg_channels": list(trial.emg_channels),
                "kinematics_rate_hz": trial.rate}
        (staging / "trial.json").write_text(json.dumps(meta, indent=1))
        if directory.exists():
            old = directory.with_name(f".{directory.name}.old")
            os.replace(directory, old)
            os.replace(staging, directory)
            shutil.rmtree(old)
        else:
            os.replace(staging, directory)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return directory


def _read_metadata(directory: Path) -> dict:
    path = directory / "trial.json"
    if not directory.is_dir():
        raise FileNotFoundError(f"Trial folder {directory} does not exist.")
    if not path.is_file():
        fail(path, "the trial's metadata file is missing.",
             "create trial.json with subject, hand_load_kg, shoulder_angle_rad and emg_channels "
             "(see nmm_core.trials).")
    try:
        meta = json.loads(path.read_text())
    except ValueError as error:
        fail(path, f"is not valid JSON ({error}).", "repair or rewrite the file.")
    for field, kind in (("subject", str), ("hand_load_kg", (int, float)),
                        ("shoulder_angle_rad", (int, float)), ("emg_channels", list)):
        if field not in meta:
            fail(path, f"field {field!r} is missing.", f"add {field!r} to trial.json.")
        if not isinstance(meta[field], kind) or isinstance(meta[field], bool):
            fail(path, f"field {field!r} is {meta[field]!r}.",
                 f"give {field!r} as {getattr(kind, '__name__', 'a number')}.")
    if not 0 <= meta["hand_load_kg"] <= 50:
        fail(path, f"field 'hand_load_kg' = {meta['hand_load_kg']} is not a hand load in kg.",
             "give the mass held in the hand in kilograms (0 to 50).")
    low, high = config.SHOULDER_RANGE
    if not low <= meta["shoulder_angle_rad"] <= high:
        fail(path, f"field 'shoulder_angle_rad' = {meta['shoulder_angle_rad']} is outside "
                   f"[{low:.3f}, {high:.3f}] rad.", "give the shoulder elevation in radians.")
    return meta


def _same_time(reference_path: Path, reference, other_path: Path, other) -> None:
    if other.time.shape != reference.time.shape:
        fail(other_path, f"has {other.time.size} samples but {reference_path.name} has "
                         f"{reference.time.size}.",
             "resample every file onto the kinematics time base (nmm_core.signals.resample).")
    gap = np.abs(other.time - reference.time).max()
    if gap > 1e-6:
        fail(other_path, f"time stamps differ from {reference_path.name} by up to {gap:.3g} s "
                         "(different sampling rate or start).",
             "resample onto the kinematics time stamps (nmm_core.signals.resample).")


def load_trial(directory, required_channels: Sequence[str] = (),
               expected_rate: float | None = None) -> Trial:
    """Read and validate a trial folder.

    Parameters
    ----------
    directory : path
    required_channels : sequence of str
        EMG channels the caller needs (e.g. the surface muscles); missing ones are an error.
    expected_rate : float, optional
        Kinematics rate, Hz, that the caller expects; a different rate is an error.

    Raises
    ------
    nmm_core.tables.DataFormatError
        (also known as ``TrialFormatError``) naming the file, the field and the fix, for every
        violation of the layout.
    """
    directory = Path(directory)
    meta = _read_metadata(directory)
    channels = _check_muscles(directory / "trial.json", "emg_channels", meta["emg_channels"])
    files = {name: directory / name for name in ("kinematics.mot", "torque.sto", "emg.sto")}
    for name, path in files.items():
        if not path.is_file():
            fail(path, "is missing.", f"write {name} as described in nmm_core.trials.")
    kinematics = read_sto(files["kinematics.mot"])
    if ANGLE_COLUMN not in kinematics.labels:
        fail(files["kinematics.mot"], f"has no column {ANGLE_COLUMN!r} (columns: "
                                      f"{list(kinematics.labels)}).", f"name the elbow angle column {ANGLE_COLUMN!r}.")
    angle = kinematics.in_radians(ANGLE_COLUMN)
    low, high = config.ELBOW_RANGE
    if angle.min() < low - 0.05 or angle.max() > high + 0.05:
        fail(files["kinematics.mot"], f"elbow angle spans [{angle.min():.3f}, {angle.max():.3f}] rad, "
                                      f"outside the joint range [{low}, {high}] rad.",
             "check the units (inDegrees=yes for degrees) and the sign (flexion positive).")
    torque = read_sto(files["torque.sto"])
    if TORQUE_COLUMN not in torque.labels:
        fail(files["torque.sto"], f"has no column {TORQUE_COLUMN!r} (columns: {list(torque.labels)}).",
             f"name the elbow torque column {TORQUE_COLUMN!r} (OpenSim ID's name).")
    emg = read_sto(files["emg.sto"])
    file_channels = _check_muscles(files["emg.sto"], "column labels", emg.labels)
    for muscle in channels:
        if muscle not in file_channels:
            fail(files["emg.sto"], f"channel {muscle!r} is missing (columns: {list(file_channels)}).",
                 f"add the {muscle} envelope, or remove it from emg_channels in trial.json.")
    for muscle in required_channels:
        if muscle not in channels:
            fail(files["emg.sto"], f"channel {muscle!r} is missing (trial.json field "
                                   f"'emg_channels' lists {list(channels)}).",
                 f"record and add the {muscle} envelope; this analysis needs it.")
    if np.any(emg.data < -0.05):
        column = emg.labels[int(np.argmin(emg.data.min(axis=0)))]
        fail(files["emg.sto"], f"channel {column!r} has negative envelope values "
                               f"(min {emg.data.min():.3g}).",
             "give rectified, low-pass filtered, MVC-normalised envelopes (nmm_core.signals.process_emg).")
    _same_time(files["kinematics.mot"], kinematics, files["torque.sto"], torque)
    _same_time(files["kinematics.mot"], kinematics, files["emg.sto"], emg)
    rate = (kinematics.time.size - 1) / (kinematics.time[-1] - kinematics.time[0])
    steps = np.diff(kinematics.time)
    if np.abs(steps - steps.mean()).max() > _RATE_TOLERANCE * steps.mean():
        fail(files["kinematics.mot"], "samples are not evenly spaced in time.",
             "resample onto a uniform time base.")
    declared = meta.get("kinematics_rate_hz")
    for wanted, source in ((declared, "trial.json field 'kinematics_rate_hz'"), (expected_rate, "the caller")):
        if wanted is not None and abs(rate - wanted) > _RATE_TOLERANCE * wanted:
            fail(files["kinematics.mot"], f"is sampled at {rate:.4g} Hz but {source} expects {wanted:.4g} Hz.",
                 "resample the trial or correct the declared rate.")
    truth = None
    truth_path = directory / "truth_excitation.sto"
    if truth_path.is_file():
        table = read_sto(truth_path)
        _check_muscles(truth_path, "column labels", table.labels)
        _same_time(files["kinematics.mot"], kinematics, truth_path, table)
        truth = {label: table.data[:, k] for k, label in enumerate(table.labels)}
    order = [file_channels.index(m) for m in channels]
    known = {"subject", "hand_load_kg", "shoulder_angle_rad", "emg_channels", "name"}
    return Trial(
        name=str(meta.get("name", directory.name)), subject=meta["subject"], time=kinematics.time,
        elbow_angle=angle, torque=torque.column(TORQUE_COLUMN), emg=emg.data[:, order],
        emg_channels=channels, hand_load=float(meta["hand_load_kg"]),
        shoulder_angle=float(meta["shoulder_angle_rad"]), truth=truth,
        metadata={k: v for k, v in meta.items() if k not in known},
    )
