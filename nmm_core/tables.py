"""Delimited text tables read into columns, and the one error every data-file reader raises.

The readers of recorded data (:mod:`nmm_core.trials`, :mod:`nmm_core.public_data`,
:mod:`nmm_core.own_data`) share what is not specific to one layout: :func:`read_table` (a CSV or
whitespace-separated table), :func:`column_name` (a column found without regard to case),
:func:`fill_short_gaps`, :func:`common_span`, :func:`degrees_note` and :func:`elbow_in_range`.
Each problem a file can have is raised through :func:`fail` as a :class:`DataFormatError`
whose message names the file, what was found and the fix; each documented correction is
returned as a note for the caller's list of corrections.

This module imports only NumPy and :mod:`nmm_core.config`.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Mapping, NoReturn, Sequence, Union

import numpy as np

from . import config

PathLike = Union[str, "os.PathLike[str]"]

MAX_GAP_S = 0.1  # longest run of NaN filled by interpolation, s
ANGLE_DEGREES_THRESHOLD = 3.5  # |angle| above this is in degrees: no elbow reaches 3.5 rad
MIN_OVERLAP = 0.9  # fraction of the kinematics' span another file must cover
CLIP_TOLERANCE = 0.1  # rad an elbow angle may lie outside the model's range and be clipped


class DataFormatError(ValueError):
    """A data file does not follow its documented layout.

    Parameters
    ----------
    path : str or os.PathLike
        The offending file (or folder).
    problem : str
        What is wrong, with what was found and what was expected.
    fix : str
        How to fix it.

    Notes
    -----
    The message is ``"{path}: {problem} To fix: {fix}"``, each part ending in a full stop.
    """

    def __init__(self, path: PathLike, problem: str, fix: str):
        self.path = Path(path)
        self.problem = _sentence(problem)
        self.fix = _sentence(fix)
        super().__init__(f"{self.path}: {self.problem} To fix: {self.fix}")

    def __reduce__(self):
        # Keep the error picklable (e.g. raised in a multiprocessing worker).
        return (type(self), (self.path, self.problem, self.fix))


def _sentence(text: str) -> str:
    text = str(text).strip()
    return text if text.endswith((".", "?", "!")) else text + "."


def fail(path: PathLike, problem: str, fix: str) -> NoReturn:
    """Raise a :class:`DataFormatError` for ``path``.

    Parameters
    ----------
    path : str or os.PathLike
        The offending file or folder.
    problem : str
        What was found and what was expected.
    fix : str
        What the user should do.

    Raises
    ------
    DataFormatError
        Always.
    """
    raise DataFormatError(path, problem, fix)


# --------------------------------------------------------------------------------------------
# Reading a table.
# --------------------------------------------------------------------------------------------
def read_table(path: PathLike, delimiter: str | None = ",", time_column: str | None = "time",
               names: Sequence[str] | None = None) -> tuple[dict, list[str]]:
    """Read the columns of a delimited text table as float arrays.

    Parameters
    ----------
    path : str or os.PathLike
        The file.
    delimiter : str or None
        Column separator; None for any run of whitespace.
    time_column : str or None
        Name of the time column (s), found without regard to case. With one, time must be
        finite and strictly increasing, and short runs of missing values in the other columns
        are filled (:func:`fill_short_gaps`) at the rate the time column gives.
    names : sequence of str, optional
        Column names of a file without a header row; None when the first row is the header.

    Returns
    -------
    columns : dict of str to ndarray, shape (T,) each
        One float array per column, keyed by the header's spelling; empty cells and ``nan``,
        ``na``, ``null`` are NaN before filling.
    corrections : list of str
        One note per correction made.

    Raises
    ------
    DataFormatError
        If the file is missing, empty, ragged, holds text where a number belongs, or its time
        column is missing, incomplete or not increasing.
    """
    path = Path(path)
    if not path.is_file():
        fail(path, "the file is missing", "check the folder against the data set's layout, or fetch it again")
    with open(path, newline="") as handle:
        if delimiter is None:
            rows = [line.split() for line in handle if line.strip()]
        else:
            rows = [row for row in csv.reader(handle, delimiter=delimiter) if any(cell.strip() for cell in row)]
    if names is None:
        if not rows:
            fail(path, "the file is empty", "fetch it again")
        header, rows = [h.strip() for h in rows[0]], rows[1:]
    else:
        header = list(names)
    if not rows:
        fail(path, "the file has a header but no data", "fetch it again; the download may be truncated")
    data = np.full((len(rows), len(header)), np.nan)
    first_row = 2 if names is None else 1
    for i, row in enumerate(rows):
        if len(row) != len(header):
            fail(path, f"line {i + first_row} has {len(row)} fields, the header {len(header)}",
                 "the file is truncated or malformed; fetch it again")
        for j, cell in enumerate(row):
            cell = cell.strip()
            if cell.lower() in ("", "nan", "na", "null"):
                continue
            try:
                data[i, j] = float(cell)
            except ValueError:
                fail(path, f"line {i + first_row}, column {header[j]!r}: {cell!r} is not a number",
                     "repair or re-fetch the file")
    columns = {name: data[:, j] for j, name in enumerate(header)}
    corrections: list[str] = []
    if time_column is not None:
        time_key = column_name(columns, time_column, path)
        time = columns[time_key]
        if not np.all(np.isfinite(time)) or np.any(np.diff(time) <= 0):
            row = int(np.flatnonzero(~np.isfinite(time) | np.concatenate([[False], np.diff(time) <= 0]))[0])
            fail(path, f"time is missing or not increasing at line {row + first_row}",
                 "repair the time column or re-fetch the file")
        rate = (time.size - 1) / (time[-1] - time[0])
        for name in header:
            if name != time_key:
                columns[name], note = fill_short_gaps(columns[name], rate, path, name)
                if note:
                    corrections.append(note)
    return columns, corrections


def column_name(columns: Mapping[str, object], wanted: str, path: PathLike) -> str:
    """Find a column without regard to case.

    Parameters
    ----------
    columns : mapping
        Keyed by column name.
    wanted : str
        The name looked for.
    path : str or os.PathLike
        The file the columns come from, for the error.

    Returns
    -------
    str
        The key of ``columns`` equal to ``wanted`` without regard to case.

    Raises
    ------
    DataFormatError
        If there is none; the message lists the columns.
    """
    for name in columns:
        if name.lower() == wanted.lower():
            return name
    fail(path, f"no column {wanted!r} (columns: {', '.join(columns)})",
         f"check the file against the layout; the column {wanted!r} is required")


# --------------------------------------------------------------------------------------------
# Corrections.
# --------------------------------------------------------------------------------------------
def fill_short_gaps(values: np.ndarray, rate: float, path: PathLike, column: str,
                    max_gap_s: float = MAX_GAP_S) -> tuple[np.ndarray, str | None]:
    """Fill short runs of missing values by linear interpolation.

    Parameters
    ----------
    values : ndarray, shape (T,)
        One column; NaN or inf marks a missing value.
    rate : float
        Sampling rate, Hz, to measure the runs in seconds.
    path : str or os.PathLike
        The file, for notes and errors.
    column : str
        The column's name, for notes and errors.
    max_gap_s : float
        Longest run filled, s.

    Returns
    -------
    filled : ndarray, shape (T,)
        ``values`` with the runs filled (``values`` itself when nothing is missing).
    note : str or None
        A correction note, None if nothing was filled.

    Raises
    ------
    DataFormatError
        If a run is longer than ``max_gap_s`` or touches either end (nothing to interpolate
        from).
    """
    path = Path(path)
    bad = ~np.isfinite(values)
    if not bad.any():
        return values, None
    edges = np.flatnonzero(np.diff(np.concatenate([[0], bad.astype(int), [0]])))
    runs = list(zip(edges[::2], edges[1::2]))
    for start, stop in runs:
        if start == 0 or stop == values.size:
            fail(path, f"column {column!r} has no value in rows {start + 2}-{stop + 1} at the "
                 "start or end of the recording", "cut the trial to where the signal is recorded")
        if (stop - start) / rate > max_gap_s:
            fail(path, f"column {column!r} has {stop - start} missing values in a row (rows "
                 f"{start + 2}-{stop + 1}, {(stop - start) / rate:.2f} s), more than the "
                 f"{max_gap_s} s filled by interpolation", "cut the trial around the gap or repair it")
    index = np.arange(values.size)
    filled = values.copy()
    filled[bad] = np.interp(index[bad], index[~bad], values[~bad])
    return filled, f"{path.name}: {int(bad.sum())} missing values of {column!r} interpolated ({len(runs)} runs)"


def degrees_note(values: np.ndarray, path: PathLike, column: str) -> str | None:
    """Tell whether a joint angle is in degrees: any magnitude above 3.5 (no elbow reaches 3.5 rad).

    Parameters
    ----------
    values : ndarray, shape (T,)
        The angle, in an unknown unit.
    path : str or os.PathLike
        The file, for the note.
    column : str
        The column's name, for the note.

    Returns
    -------
    str or None
        A note for the caller to record when it converts the file's angles to radians; None
        when the values are already in radians.
    """
    finite = np.abs(values[np.isfinite(values)])
    if finite.size and finite.max() > ANGLE_DEGREES_THRESHOLD:
        return (f"{Path(path).name}: angles taken as degrees ({column!r} reaches {finite.max():.1f}) and "
                "converted to rad")
    return None


def common_span(time_a: np.ndarray, time_b: np.ndarray, path_a: PathLike, path_b: PathLike) -> np.ndarray:
    """Select the samples of one time base that another file covers.

    Parameters
    ----------
    time_a : ndarray, shape (T,)
        The reference time base (the kinematics), s, increasing.
    time_b : ndarray, shape (T_b,)
        The other file's time base, s, increasing.
    path_a, path_b : str or os.PathLike
        The two files, for the error.

    Returns
    -------
    ndarray of bool, shape (T,)
        True where ``time_a`` lies inside ``time_b``'s span.

    Raises
    ------
    DataFormatError
        If ``time_b`` covers less than ``MIN_OVERLAP`` (90 %) of ``time_a``'s span.
    """
    start, stop = max(time_a[0], time_b[0]), min(time_a[-1], time_b[-1])
    if stop <= start or (stop - start) < MIN_OVERLAP * (time_a[-1] - time_a[0]):
        fail(path_b, f"covers {time_b[0]:.2f}-{time_b[-1]:.2f} s but {Path(path_a).name} covers "
             f"{time_a[0]:.2f}-{time_a[-1]:.2f} s (less than {MIN_OVERLAP:.0%} in common)",
             "check that both files belong to the same trial, or cut the kinematics to the recording")
    return (time_a >= start - 1e-9) & (time_a <= stop + 1e-9)


def elbow_in_range(angle: np.ndarray, path: PathLike,
                   elbow_range: tuple[float, float] = config.ELBOW_RANGE) -> tuple[np.ndarray, str | None]:
    """Clip elbow angles slightly outside the model's range to it.

    Parameters
    ----------
    angle : ndarray, shape (T,)
        Elbow flexion, rad.
    path : str or os.PathLike
        The file, for notes and errors.
    elbow_range : (float, float)
        The model's range, rad.

    Returns
    -------
    angle : ndarray, shape (T,)
        Clipped to ``elbow_range``.
    note : str or None
        A correction note, None if nothing was clipped.

    Raises
    ------
    DataFormatError
        If the angle leaves the range by more than ``CLIP_TOLERANCE`` (0.1 rad): a sign, zero
        or unit error rather than noise.
    """
    low, high = elbow_range
    if angle.min() < low - CLIP_TOLERANCE or angle.max() > high + CLIP_TOLERANCE:
        fail(path, f"the elbow angle spans {angle.min():.2f} to {angle.max():.2f} rad, outside the "
             f"model's {low:.2f} to {high:.2f} rad", "check the angle's sign, zero and units (rad, flexion positive)")
    if angle.min() < low or angle.max() > high:
        return np.clip(angle, low, high), (f"{Path(path).name}: elbow angle clipped to the model's range "
                                           f"({low:.2f} to {high:.2f} rad)")
    return angle, None
