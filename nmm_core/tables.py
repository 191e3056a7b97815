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
import io
import math
import os
import re
from pathlib import Path
from typing import Mapping, NoReturn, Sequence, Union

import numpy as np

from . import config

PathLike = Union[str, "os.PathLike[str]"]

#: Longest run of NaN filled by interpolation, s.
MAX_GAP_S = 0.1
ANGLE_DEGREES_THRESHOLD = 3.5  # |angle| above this is in degrees: no elbow reaches 3.5 rad
MIN_OVERLAP = 0.9  # fraction of the kinematics' span another file must cover
CLIP_TOLERANCE = 0.1  # rad an elbow angle may lie outside the model's range and be clipped
AUTO = "auto"  # read_table's delimiter: detected from the first line
_DELIMITERS = (",", "\t", ";")  # candidates, ties resolved in this order
_MISSING = ("", "nan", "na", "null")  # cells read as a missing value


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
def read_table(path: PathLike, delimiter: str | None = AUTO, time_column: str | None = "time",
               names: Sequence[str] | None = None, rate: float | None = None) -> tuple[dict, list[str]]:
    """Read the columns of a delimited text table as float arrays.

    Parameters
    ----------
    path : str or os.PathLike
        The file: UTF-8 (a byte-order mark is dropped) or else Latin-1 text, any line ends;
        blank lines are skipped.
    delimiter : str or None
        Column separator; None for any run of whitespace; ``"auto"`` (the default) for the
        most frequent of comma, tab and semicolon on the first line, or whitespace if it has
        none of them. Separators that merely end a line (a spreadsheet's padding) are ignored.
    time_column : str or None
        Name of the time column (s), found without regard to case. With one, time must be
        finite and strictly increasing, and short runs of missing values in the other columns
        are filled (:func:`fill_short_gaps`) at the rate the time column gives.
    names : sequence of str, optional
        Column names of a file without a header row; None when the first row is the header.
    rate : float, optional
        Sampling rate, Hz, of a file without a time column: short runs of missing values are
        then filled at this rate. Ignored when ``time_column`` is given.

    Returns
    -------
    columns : dict of str to ndarray, shape (T,) each
        One float array per column, keyed by the header's spelling; empty cells and ``nan``,
        ``na``, ``null`` are NaN unless filled.
    corrections : list of str
        One note per correction made.

    Raises
    ------
    DataFormatError
        If the file is missing or empty; the header has an unnamed or repeated column (case
        ignored); a row has more or fewer fields than the header; a cell holds text or a
        decimal comma where a number belongs; the time column is missing, incomplete or not
        increasing; a gap is too long to fill. The message gives the line.
    """
    path = Path(path)
    if not path.is_file():
        fail(path, "the file is missing", "check the folder against the data set's layout, or fetch it again")
    text, corrections = _read_text(path)
    delimiter = _resolve_delimiter(text, delimiter)
    rows = _rows(text, delimiter)
    if names is None:
        if not rows:
            fail(path, "the file is empty", "fetch it again")
        header, rows = _header(path, *rows[0]), rows[1:]
    else:
        header = list(names)
    if not rows:
        fail(path, "the file holds no data rows", "fetch it again; the download may be truncated")
    lines = np.array([number for number, _ in rows])
    data = np.array([_numbers(path, number, cells, header, delimiter) for number, cells in rows], dtype=float)
    columns = {name: data[:, j].copy() for j, name in enumerate(header)}
    time_key = None
    if time_column is not None:
        time_key = column_name(columns, time_column, path)
        rate = _rate_of(path, columns[time_key], lines)
    if rate is not None:
        for name in header:
            if name != time_key:
                columns[name], note = fill_short_gaps(columns[name], rate, path, name, lines=lines)
                if note:
                    corrections.append(note)
    return columns, corrections


def _read_text(path: Path) -> tuple[str, list[str]]:
    """The file's text and a note when it is not UTF-8 (Latin-1 decodes any byte)."""
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8-sig"), []  # -sig: Excel's "CSV UTF-8" starts with a BOM
    except UnicodeDecodeError:
        # Numbers are ASCII in both; only non-ASCII names (e.g. a degree sign) can differ.
        return raw.decode("latin-1"), [f"{path.name}: not UTF-8 text; read as Latin-1"]


def _resolve_delimiter(text: str, delimiter: str | None) -> str | None:
    """``delimiter`` itself, or for ``"auto"`` the first line's most frequent candidate (None: whitespace)."""
    if delimiter != AUTO:
        return delimiter
    first = next((line for line in text.splitlines() if line.strip()), "")
    best = max(_DELIMITERS, key=first.count)
    return best if first.count(best) else None


def _rows(text: str, delimiter: str | None) -> list[tuple[int, list[str]]]:
    """(1-based line number, cells) of every line that holds something."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if delimiter is None:
        return [(number, line.split()) for number, line in enumerate(text.split("\n"), 1) if line.strip()]
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    return [(reader.line_num, cells) for cells in reader if any(cell.strip() for cell in cells)]


def _header(path: Path, number: int, cells: list[str]) -> list[str]:
    """Column names: none empty (bar a separator ending the line), none repeated."""
    names = [cell.strip() for cell in cells]
    while names and not names[-1]:
        names.pop()
    seen: dict[str, int] = {}
    for position, name in enumerate(names, 1):
        if not name:
            fail(path, f"line {number}: column {position} of the header has no name",
                 "name every column, or delete the empty column")
        # Columns are looked up without regard to case, so 'a' and 'A' would be one column.
        if name.lower() in seen:
            fail(path, f"line {number}: the header names column {name!r} twice (columns {seen[name.lower()]} and "
                 f"{position}, case ignored)", "rename one of the two columns")
        seen[name.lower()] = position
    return names


def _numbers(path: Path, number: int, cells: list[str], header: list[str], delimiter: str | None) -> list[float]:
    """One row's values; empty cells beyond the header are a separator ending the line."""
    while len(cells) > len(header) and not cells[-1].strip():
        cells = cells[:-1]
    if len(cells) != len(header):
        fix = "the file is truncated or malformed; fetch it again"
        if delimiter == "," and len(cells) > len(header):
            fix += " (numbers written with decimal commas, '1,5', split in two: use decimal points)"
        fail(path, f"line {number} has {len(cells)} fields, the header {len(header)}", fix)
    try:
        return [float(cell) for cell in cells]  # fast path: float() ignores surrounding blanks
    except ValueError:
        return [_number(path, number, name, cell.strip()) for name, cell in zip(header, cells)]


def _number(path: Path, number: int, column: str, cell: str) -> float:
    try:
        return float(cell)
    except ValueError:
        pass
    if cell.lower() in _MISSING:
        return math.nan
    if re.fullmatch(r"[+-]?\d*,\d+", cell):
        fail(path, f"line {number}, column {column!r}: {cell!r} has a decimal comma",
             f"write numbers with a decimal point ({cell.replace(',', '.')!r}, not {cell!r}), e.g. export from a "
             "spreadsheet set to an English locale")
    fail(path, f"line {number}, column {column!r}: {cell!r} is not a number", "repair or re-fetch the file")


def _rate_of(path: Path, time: np.ndarray, lines: np.ndarray) -> float:
    """Sampling rate, Hz, of a time column that must be finite and strictly increasing."""
    bad = ~np.isfinite(time) | np.concatenate([[False], np.diff(time) <= 0])
    if bad.any():
        fail(path, f"time is missing or not increasing at line {lines[np.argmax(bad)]}",
             "repair the time column or re-fetch the file")
    if time.size < 2:
        fail(path, "the file holds a single row of data", "a recording needs at least two samples; fetch it again")
    return float((time.size - 1) / (time[-1] - time[0]))


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
                    max_gap_s: float = MAX_GAP_S, lines: np.ndarray | None = None) -> tuple[np.ndarray, str | None]:
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
    lines : ndarray of int, shape (T,), optional
        The file's 1-based line number of each value, for errors; without it, errors count
        samples from 1.

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
    where, numbers = ("lines", lines) if lines is not None else ("samples", np.arange(1, values.size + 1))
    for start, stop in runs:
        span = f"{where} {numbers[start]}-{numbers[stop - 1]}"
        if start == 0 or stop == values.size:
            fail(path, f"column {column!r} has no value on {span} at the start or end of the recording",
                 "cut the trial to where the signal is recorded")
        if (stop - start) / rate > max_gap_s:
            fail(path, f"column {column!r} has {stop - start} missing values in a row ({span}, "
                 f"{(stop - start) / rate:.2f} s), more than the {max_gap_s} s filled by interpolation",
                 "cut the trial around the gap or repair it")
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
