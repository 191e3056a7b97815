"""Read and write OpenSim ``.sto`` / ``.mot`` time-series files with NumPy only.

The text format, as OpenSim 4.6 reads and writes it::

    arm26_states          <- optional free-text name line (the older ``Storage`` class)
    version=1
    nRows=2               <- number of data rows
    nColumns=3            <- number of columns *including* time
    inDegrees=no          <- angles in degrees (yes) or radians (no)
    DataType=double       <- optional; ``STOFileAdapter`` writes it
    subject=s01           <- any other key=value lines
    endheader
    time<TAB>elbow_flex<TAB>TRIlong
    0<TAB>0.1<TAB>0.5
    0.01<TAB>0.11<TAB>0.52

OpenSim 4.6 writes two header variants. ``STOFileAdapter`` (``TimeSeriesTable``) writes no name,
no ``nRows``/``nColumns``, and ``inDegrees`` only if the table has that metadata::

    inDegrees=yes
    DataType=double
    version=3
    OpenSimVersion=4.6-...
    endheader

and prints values with 16 significant digits (``%.16g``), which is *not* enough to round-trip
every double. The older ``Storage`` class writes ``name``, ``version=1``, ``nRows``,
``nColumns``, ``inDegrees`` (and optionally a SIMM block with ``datarows``/``datacolumns``) and
prints fixed-point values with 8 decimals. :func:`read_sto` accepts both; :func:`write_sto`
writes the ``Storage`` layout (which both ``opensim.Storage`` and ``opensim.TimeSeriesTable``
read; ``Storage`` refuses a ``version=1`` file without ``nRows``) with shortest-round-trip
(``repr``) numbers, so a write/read cycle is exact.

Files written by other software (MATLAB, Python scripts, spreadsheets, motion-capture suites)
are read where their meaning is unambiguous: columns separated by tabs, any whitespace, commas
or semicolons (taken from the label line); header lines padded with separators (``endheader,,``,
as a spreadsheet saves them); separators ending a line; Windows or old Mac line ends; blank
lines in the header. An ``nColumns`` that disagrees with the columns, or an ``nRows`` below the
rows found, is noted in ``TimeSeries.notes`` and the data are read as they are. What stays
ambiguous is refused with the cause and the fix: decimal commas, empty values, rows not
separated like the labels, fewer rows than ``nRows`` (a truncated file looks the same), a blank
line between data rows (OpenSim's ``TimeSeriesTable`` stops there).

This module imports neither TensorFlow nor OpenSim.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator, Mapping, Sequence, Union

import numpy as np

from .files import atomic_write

__all__ = ["StorageFormatError", "TimeSeries", "read_sto", "write_sto"]

PathLike = Union[str, "os.PathLike[str]"]

SUFFIXES = (".sto", ".mot")
END_HEADER = "endheader"
TIME_LABEL = "time"
# Separators a header line may be padded with (a spreadsheet saves "endheader,,,").
_HEADER_PADDING = ",; \t"
# Column separators recognised on the label line, in order of precedence; None: whitespace.
_SEPARATORS = ("\t", ",", ";")
# Header keys that describe the file's layout rather than the data: read_sto consumes them
# (into ``in_degrees`` and consistency checks) and write_sto writes them itself.
RESERVED_KEYS = frozenset({"version", "nRows", "nColumns", "inDegrees", "DataType"})
# The SIMM block that ``Storage`` can add writes counts as "key value" instead of key=value.
_SIMM_COUNT_KEYS = {"datarows": "nRows", "datacolumns": "nColumns"}
# What OpenSim's C++ reader (std::stod) understands; Python's float() is more permissive
# (underscores, non-ASCII digits), which a strict parser must not be.
_NUMBER = re.compile(
    r"[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|nan|inf(?:inity)?)", re.IGNORECASE | re.ASCII
)


# --------------------------------------------------------------------------------------------
# Errors and the in-memory record
# --------------------------------------------------------------------------------------------
class StorageFormatError(ValueError):
    """A ``.sto``/``.mot`` file does not follow the OpenSim storage format.

    Parameters
    ----------
    path : str or os.PathLike
        The offending file.
    line : int or None
        1-based line number of the problem, or None when it concerns the whole file.
    problem : str
        What is wrong, including what was found and what was expected.
    fix : str
        How to fix the file.
    """

    def __init__(self, path: PathLike, line: int | None, problem: str, fix: str):
        self.path = Path(path)
        self.line = line
        self.problem = problem
        self.fix = fix
        where = f"line {line}" if line is not None else "whole file"
        super().__init__(f"{self.path}, {where}: {problem} To fix: {fix}")

    def __reduce__(self):
        # Keep the error picklable (e.g. raised in a multiprocessing worker).
        return (type(self), (self.path, self.line, self.problem, self.fix))


@dataclass(frozen=True, eq=False)
class TimeSeries:
    """One OpenSim storage file in memory: a time column and named data columns.

    Parameters
    ----------
    time : array_like, shape (T,)
        Sample times in seconds.
    labels : sequence of str, length n_columns
        Names of the data columns, without ``time``; unique.
    data : array_like, shape (T, n_columns)
        Samples; row ``i`` belongs to ``time[i]``. Units are the file's (angles in degrees
        when ``in_degrees`` is true, else radians; lengths in metres, forces in newtons, ...).
    in_degrees : bool, optional
        The header's ``inDegrees`` flag (False when the header has none).
    metadata : mapping of str to str, optional
        The other header ``key=value`` pairs (``version``, ``nRows``, ``nColumns``,
        ``inDegrees`` and ``DataType`` are not repeated here).
    name : str, optional
        The header's free-text name line ('' when absent).
    notes : sequence of str, optional
        What :func:`read_sto` noticed and corrected while reading (e.g. a header count that
        disagreed with the data); empty when the file was read as it stands.

    Notes
    -----
    The arrays are stored as read-only float64 copies, so the record really is immutable.
    Equality is identity (comparing arrays element-wise has no single truth value).
    """

    time: np.ndarray
    labels: tuple[str, ...]
    data: np.ndarray
    in_degrees: bool = False
    metadata: dict[str, str] = field(default_factory=dict)
    name: str = ""
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        time, data, labels = _validated_columns(self.time, self.data, self.labels)
        for array in (time, data):
            array.setflags(write=False)
        object.__setattr__(self, "time", time)
        object.__setattr__(self, "data", data)
        object.__setattr__(self, "labels", labels)
        object.__setattr__(self, "in_degrees", bool(self.in_degrees))
        object.__setattr__(self, "metadata", {str(k): str(v) for k, v in self.metadata.items()})
        object.__setattr__(self, "name", str(self.name))
        if isinstance(self.notes, str):
            raise ValueError(
                f"notes must be a sequence of str; received the str {self.notes!r} (wrap it in "
                f"a tuple)."
            )
        object.__setattr__(self, "notes", tuple(str(note) for note in self.notes))

    def column(self, name: str) -> np.ndarray:
        """Return one column by label.

        Parameters
        ----------
        name : str
            A data label, or ``"time"`` for the time column.

        Returns
        -------
        numpy.ndarray, shape (T,)
            Read-only view of the column, in the file's units.

        Raises
        ------
        KeyError
            If no column has that label; the message lists the available labels.
        """
        if name == TIME_LABEL:
            return self.time
        try:
            index = self.labels.index(name)
        except ValueError:
            raise KeyError(
                f"column {name!r} not found; available columns are {list(self.labels)} "
                f"(plus 'time'). Check the spelling or the file the series was read from."
            ) from None
        return self.data[:, index]

    def in_radians(self, columns: str | Sequence[str]) -> np.ndarray:
        """Return angular columns in radians, converting only if the file is in degrees.

        Parameters
        ----------
        columns : str or sequence of str
            Labels of *angular* columns (e.g. rotational coordinates). OpenSim's
            ``inDegrees=yes`` applies to rotations only: translations (metres) and other
            quantities in the same file are not in degrees, so do not name them here.

        Returns
        -------
        numpy.ndarray
            Shape (T,) for a single label, (T, k) for a sequence of k labels; radians.

        Raises
        ------
        KeyError
            If a label is missing.
        ValueError
            If no label or ``time`` (in seconds, not an angle) is requested.
        """
        single = isinstance(columns, str)
        names = [columns] if single else list(columns)
        if not names or TIME_LABEL in names:
            raise ValueError(
                f"in_radians received {names!r}; expected one or more angle labels (not "
                f"'time', which is in seconds)."
            )
        values = np.stack([self.column(n) for n in names], axis=1)
        if self.in_degrees:
            values = np.deg2rad(values)
        else:
            values = values.copy()  # same writability whatever the units
        return values[:, 0] if single else values


# --------------------------------------------------------------------------------------------
# Validation shared by TimeSeries and write_sto
# --------------------------------------------------------------------------------------------
def _validated_columns(
    time: object, data: object, labels: object
) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """Check shapes and labels; return float64 copies and a tuple of labels."""
    time = _float_array(time, "time")
    data = _float_array(data, "data")
    if time.ndim != 1:
        raise ValueError(f"time must be 1-D with shape (T,); received shape {time.shape}.")
    if data.ndim != 2:
        hint = " (for one column use data[:, None])" if data.ndim == 1 else ""
        raise ValueError(
            f"data must be 2-D with shape (T, n_columns); received shape {data.shape}{hint}."
        )
    if data.shape[0] != time.shape[0]:
        raise ValueError(
            f"data has {data.shape[0]} rows but time has {time.shape[0]} samples; expected "
            f"data of shape ({time.shape[0]}, n_columns), one row per time."
        )
    labels = _validated_labels(labels, data.shape[1])
    return time, data, labels


def _float_array(values: object, what: str) -> np.ndarray:
    """Convert to a float64 copy, with an error that says what was received."""
    try:
        return np.array(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"{what} must be real numbers convertible to float64; received "
            f"{type(values).__name__} ({exc})."
        ) from None


def _validated_labels(labels: object, n_columns: int) -> tuple[str, ...]:
    """Labels must be a sequence (not one string) of unique, non-empty str, without time."""
    if isinstance(labels, (str, bytes)) or not isinstance(labels, Iterable):
        raise ValueError(
            f"labels must be a sequence of str, one per data column; received "
            f"{type(labels).__name__} {labels!r} (wrap a single label in a list)."
        )
    labels = tuple(labels)
    if len(labels) != n_columns:
        raise ValueError(
            f"received {len(labels)} labels for {n_columns} data columns; expected one label "
            f"per column of data (without 'time')."
        )
    for label in labels:
        if not isinstance(label, str):
            raise ValueError(f"every label must be a non-empty str; received {label!r}.")
        if label == TIME_LABEL:
            raise ValueError("labels must not include 'time'; pass the times as `time` instead.")
    problem = _label_problem((TIME_LABEL, *labels))
    if problem:
        raise ValueError(
            f"received labels {list(labels)!r}: {problem}, counting time as column 1; give "
            f"every data column a unique, non-empty label."
        )
    return labels


# --------------------------------------------------------------------------------------------
# Checks shared by write_sto and read_sto (each words the error for its own input)
# --------------------------------------------------------------------------------------------
def _label_problem(labels: Sequence[str]) -> str | None:
    """Why a label line (``time`` first) cannot name the columns, or None.

    OpenSim looks columns up by label, so an empty or a repeated label loses a column.
    """
    seen: dict[str, int] = {}
    for position, label in enumerate(labels, start=1):
        if not label:
            return f"column label {position} is empty"
        if label in seen:
            return f"duplicate column label {label!r} (columns {seen[label]} and {position})"
        seen[label] = position
    return None


def _first_non_finite(table: np.ndarray) -> tuple[int, int, int] | None:
    """Locate the first NaN or inf of a table in reading order.

    Parameters
    ----------
    table : numpy.ndarray, shape (T, 1 + n_columns)
        Time first, then the data columns.

    Returns
    -------
    tuple of int or None
        (row, column, number of non-finite values in that column); None if all are finite.
    """
    bad = np.argwhere(~np.isfinite(table))
    if not bad.size:
        return None
    row, column = (int(i) for i in bad[0])
    return row, column, int(np.count_nonzero(~np.isfinite(table[:, column])))


def _first_step_back(time: np.ndarray) -> int | None:
    """Index ``i`` of the first ``time[i + 1] <= time[i]``; None if time strictly increases."""
    steps = np.flatnonzero(np.diff(time) <= 0)
    return int(steps[0]) if steps.size else None


# --------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------
def write_sto(
    path: PathLike,
    time: object,
    data: object,
    labels: Sequence[str],
    in_degrees: bool = False,
    name: str | None = None,
    metadata: Mapping[str, str] | None = None,
) -> Path:
    """Write a time series as an OpenSim ``.sto`` or ``.mot`` file, atomically.

    Parameters
    ----------
    path : str or os.PathLike
        Destination ending in ``.sto`` or ``.mot``; its folder must exist. An existing file
        is replaced only once the new one is completely written.
    time : array_like, shape (T,)
        Sample times in seconds, finite and strictly increasing, T >= 1.
    data : array_like, shape (T, n_columns)
        Finite samples, one row per time, n_columns >= 1.
    labels : sequence of str, length n_columns
        Column names without ``time``: unique, non-empty, no whitespace (OpenSim's ``Storage``
        splits labels at whitespace).
    in_degrees : bool, optional
        Value of the ``inDegrees`` header line (whether angles in ``data`` are in degrees).
    name : str, optional
        Free-text first header line; defaults to the file's stem. Must not contain ``=`` or a
        line break.
    metadata : mapping of str to str, optional
        Extra ``key=value`` header lines. Keys: no ``=``, whitespace or line breaks, and none
        of ``version``, ``nRows``, ``nColumns``, ``inDegrees``, ``DataType`` (written from the
        other arguments). Values: no line breaks or surrounding whitespace.

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    ValueError
        On a wrong suffix, shape, label, name or metadata entry, on NaN/inf (naming the
        column) or on non-increasing time. Nothing is written then.

    Notes
    -----
    Header written: ``name``, ``version=1``, ``nRows=T``, ``nColumns=n_columns + 1`` (OpenSim
    counts time), ``inDegrees=yes|no``, ``DataType=double``, the metadata, ``endheader``, then
    the tab-separated labels and rows. Numbers use Python's shortest round-trip ``repr``, so
    :func:`read_sto` and OpenSim recover the exact float64 values.
    """
    path = _checked_output_path(path)
    time, data, labels = _validated_columns(time, data, labels)
    _check_writable_values(time, data, labels)
    header = _header_lines(
        name=path.stem if name is None else name,
        n_rows=time.shape[0],
        labels=labels,
        in_degrees=in_degrees,
        metadata={} if metadata is None else metadata,
    )
    atomic_write(path, "".join(_file_lines(header, time, data)))
    return path


def _checked_output_path(path: PathLike) -> Path:
    path = Path(path)
    if path.suffix.lower() not in SUFFIXES:
        raise ValueError(
            f"write_sto writes OpenSim storage files; received path {str(path)!r} with suffix "
            f"{path.suffix!r}, expected one of {SUFFIXES}."
        )
    return path


def _check_writable_values(time: np.ndarray, data: np.ndarray, labels: tuple[str, ...]) -> None:
    """Refuse what OpenSim cannot use: no rows/columns, odd labels, NaN/inf, unsorted time."""
    if time.shape[0] == 0 or data.shape[1] == 0:
        raise ValueError(
            f"received data of shape {data.shape}; expected at least one row and one column."
        )
    for label in labels:
        if any(ch.isspace() for ch in label):
            raise ValueError(
                f"label {label!r} contains whitespace; OpenSim's Storage splits labels at "
                f"whitespace. Use e.g. underscores instead."
            )
    _check_finite_columns(time, data, labels)
    i = _first_step_back(time)
    if i is not None:
        raise ValueError(
            f"time must be strictly increasing (OpenSim refuses otherwise); received "
            f"time[{i}]={float(time[i])!r} followed by time[{i + 1}]={float(time[i + 1])!r}."
        )


def _check_finite_columns(time: np.ndarray, data: np.ndarray, labels: tuple[str, ...]) -> None:
    table = np.column_stack([time, data])
    found = _first_non_finite(table)
    if found:
        row, column, count = found
        raise ValueError(
            f"column {(TIME_LABEL, *labels)[column]!r} has {count} non-finite value(s), first "
            f"{float(table[row, column])} at row {row}; OpenSim files must hold finite "
            f"numbers. Fix or drop them."
        )


def _header_lines(
    name: str, n_rows: int, labels: tuple[str, ...], in_degrees: bool, metadata: Mapping
) -> list[str]:
    """The header block, ``endheader`` and the label line, without line breaks."""
    lines = [
        _checked_name(name),
        "version=1",
        f"nRows={n_rows}",
        f"nColumns={len(labels) + 1}",
        f"inDegrees={'yes' if in_degrees else 'no'}",
        # Not needed for version=1 files, but STOFileAdapter writes it and it documents
        # that every column is a scalar.
        "DataType=double",
    ]
    lines += [f"{key}={value}" for key, value in _checked_metadata(metadata).items()]
    lines += [END_HEADER, "\t".join((TIME_LABEL, *labels))]
    return lines


def _checked_name(name: object) -> str:
    """The name line must read back as a name: no '=', no line break, not 'endheader'."""
    if not isinstance(name, str):
        raise ValueError(f"name must be a str; received {type(name).__name__}.")
    name = name.strip()
    if "=" in name or "\n" in name or "\r" in name or name == END_HEADER:
        raise ValueError(
            f"name {name!r} would be read back as a header entry; expected one line of "
            f"free text without '=' and other than {END_HEADER!r}."
        )
    return name


def _checked_metadata(metadata: Mapping) -> dict[str, str]:
    """Metadata entries must survive a write/read cycle unchanged."""
    if not isinstance(metadata, Mapping):
        raise ValueError(f"metadata must be a mapping of str to str; received {metadata!r}.")
    checked = {}
    for key, value in metadata.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise ValueError(
                f"metadata must map str to str; received {key!r}: {value!r} "
                f"({type(key).__name__}: {type(value).__name__}). Convert with str()."
            )
        if key in RESERVED_KEYS:
            raise ValueError(
                f"metadata key {key!r} is written by write_sto itself; remove it (use "
                f"in_degrees= for inDegrees)."
            )
        if not key or key == END_HEADER or any(c == "=" or c.isspace() for c in key):
            raise ValueError(
                f"metadata key {key!r} is not a valid header key; expected a non-empty word "
                f"without '=' or whitespace."
            )
        if "\n" in value or "\r" in value or value != value.strip():
            raise ValueError(
                f"metadata value {value!r} for {key!r} would not read back unchanged; remove "
                f"line breaks and surrounding whitespace."
            )
        checked[key] = value
    return checked


def _file_lines(header: list[str], time: np.ndarray, data: np.ndarray) -> Iterator[str]:
    """Every line of the file, each ending in a newline."""
    for line in header:
        yield line + "\n"
    for t, row in zip(time.tolist(), data.tolist()):
        yield _format_row(t, row)


def _format_row(t: float, row: list[float]) -> str:
    # float.__repr__ is the shortest string that parses back to the same double.
    return "\t".join(map(repr, [t, *row])) + "\n"


# --------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------
@dataclass
class _Header:
    """What the header block holds; line numbers are 1-based."""

    name: str = ""
    entries: dict[str, tuple[str, int]] = field(default_factory=dict)  # key -> (value, line)
    label_index: int = 0  # 0-based index of the line after endheader


def read_sto(path: PathLike) -> TimeSeries:
    """Read an OpenSim ``.sto`` or ``.mot`` file strictly.

    Parameters
    ----------
    path : str or os.PathLike
        The file. Tab-, whitespace-, comma- or semicolon-separated columns, Unix, Windows or
        old Mac line endings, and the headers of both OpenSim writers (``STOFileAdapter`` and
        the older ``Storage``, including its SIMM block) are accepted, as are the variants of
        other software listed in the module docstring.

    Returns
    -------
    TimeSeries
        time of shape (T,) in seconds, data of shape (T, n_columns), the labels without
        ``time``, ``in_degrees`` from the header (False if absent), the other ``key=value``
        header pairs as ``metadata``, the free-text name line as ``name`` and what was
        corrected while reading as ``notes``.

    Raises
    ------
    StorageFormatError
        If the file is malformed: no ``endheader``; no label line or a first label other
        than ``time``; empty or duplicate labels; a row with the wrong number of values; a
        non-numeric (decimal comma included), empty, NaN or infinite value; a blank line
        inside the data; time not strictly increasing; fewer data rows than ``nRows`` or
        ``datarows`` (truncated file); no data rows; ``inDegrees`` other than yes/no;
        ``DataType`` other than double. The message names the file, the line and how to fix
        it.
    FileNotFoundError
        If the file does not exist.
    """
    path = Path(path)
    lines = _read_lines(path)
    header = _parse_header(path, lines)
    labels, label_line, separator = _parse_labels(path, lines, header.label_index)
    time, data, row_lines = _parse_rows(path, lines, label_line, labels, separator)
    notes = _check_counts(path, header, n_rows=time.shape[0], n_columns=len(labels) + 1)
    _check_finite(path, time, data, labels, row_lines)
    _check_increasing(path, time, row_lines)
    return TimeSeries(
        time=time,
        labels=labels,
        data=data,
        in_degrees=_in_degrees(path, header),
        metadata=_metadata(path, header),
        name=header.name,
        notes=notes,
    )


def _read_lines(path: Path) -> list[str]:
    """Lines without line breaks; universal newlines make CRLF files look like LF ones."""
    try:
        text = path.read_text(encoding="utf-8-sig")  # -sig: drop a BOM left by editors
    except UnicodeDecodeError as exc:
        raise StorageFormatError(
            path, None, f"the file is not UTF-8 text ({exc.reason} at byte {exc.start}).",
            "check that this is an OpenSim .sto/.mot text file, not a binary or other file.",
        ) from None
    if not text.strip():
        raise StorageFormatError(
            path, None, "the file is empty.", "regenerate it; an interrupted write can do this."
        )
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()  # the final line break ends the last line; it does not start a new one
    return lines


def _parse_header(path: Path, lines: list[str]) -> _Header:
    """Collect the name and key=value lines up to ``endheader``."""
    header = _Header()
    named = False
    for index, raw in enumerate(lines):
        line = raw.strip().rstrip(_HEADER_PADDING)
        if line == END_HEADER:
            header.label_index = index + 1
            return header
        if "=" in line:
            _add_entry(path, header, line, index + 1)
        elif line and not named:
            header.name, named = line, True  # the first free-text line is the name, as in Storage
        elif line:
            _add_simm_count(path, header, line, index + 1)
    raise StorageFormatError(path, len(lines), *_missing_endheader_message(lines))


def _missing_endheader_message(lines: list[str]) -> tuple[str, str]:
    labels_at = next(
        (i + 1 for i, ln in enumerate(lines) if re.split(r"[\s,;]+", ln.strip())[0] == TIME_LABEL),
        None,
    )
    where = (
        f"insert a line 'endheader' just before line {labels_at}, which looks like the "
        f"column labels" if labels_at else
        "end the header with a line 'endheader', followed by the column labels"
    )
    return f"no '{END_HEADER}' line found in {len(lines)} lines.", where + "."


def _add_entry(path: Path, header: _Header, line: str, number: int) -> None:
    key, value = (part.strip() for part in line.split("=", 1))
    if not key:
        raise StorageFormatError(
            path, number, f"header line {line!r} has no key before '='.",
            "write header entries as key=value, or remove the line.",
        )
    if key in header.entries:
        raise StorageFormatError(
            path, number,
            f"header key {key!r} appears again (first on line {header.entries[key][1]}).",
            "keep one of the two lines.",
        )
    header.entries[key] = (value, number)


def _add_simm_count(path: Path, header: _Header, line: str, number: int) -> None:
    """Keep ``datarows N`` / ``datacolumns N`` of a SIMM block; other free text is ignored."""
    parts = line.split()
    if len(parts) == 2 and parts[0] in _SIMM_COUNT_KEYS and parts[0] not in header.entries:
        header.entries[parts[0]] = (parts[1], number)


def _separator(line: str) -> str | None:
    """The label line's column separator: a tab, comma or semicolon, else None (whitespace)."""
    return next((candidate for candidate in _SEPARATORS if candidate in line), None)


def _split(line: str, separator: str | None, labels: bool = False) -> list[str]:
    """Fields of one line, without separators that merely end the line.

    With ``separator`` None, any run of whitespace separates. Tab-separated rows split at any
    whitespace too, as OpenSim's ``Storage`` pads numbers with spaces; tab-separated labels
    split at tabs only (``TimeSeriesTable`` allows spaces inside labels).
    """
    if separator is None or (separator == "\t" and not labels):
        return line.split()
    fields = line.strip().rstrip(separator + " \t").split(separator)
    return [field.strip() for field in fields]


def _separator_name(separator: str | None) -> str:
    return {None: "whitespace", "\t": "tabs"}.get(separator, repr(separator))


def _parse_labels(
    path: Path, lines: list[str], start: int
) -> tuple[tuple[str, ...], int, str | None]:
    """The first non-blank line after ``endheader``: ``time`` then unique data labels.

    Returns the data labels, the line's 1-based number and the column separator it uses.
    """
    index = next((i for i in range(start, len(lines)) if lines[i].strip()), None)
    if index is None:
        raise StorageFormatError(
            path, start, f"no column-label line after '{END_HEADER}'.",
            "add a tab-separated line 'time<TAB>label1<TAB>...' followed by the data rows.",
        )
    line, number = lines[index].strip(), index + 1
    separator = _separator(line)
    labels = _split(line, separator, labels=True)
    if labels[0] != TIME_LABEL:
        raise StorageFormatError(
            path, number, f"the first column label is {labels[0]!r}, expected 'time'.",
            "rename the first column to 'time' (lower case); OpenSim requires it.",
        )
    problem = _label_problem(labels)
    if problem:
        raise StorageFormatError(
            path, number, f"{problem}.",
            "give every column a unique, non-empty label, with one separator between labels.",
        )
    return tuple(labels[1:]), number, separator


def _parse_rows(
    path: Path, lines: list[str], label_line: int, labels: tuple[str, ...], separator: str | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Parse the rows after the label line (1-based ``label_line``), split at ``separator``.

    Returns time (T,), data (T, n_columns) and the rows' 1-based line numbers (T,).
    """
    n_values = len(labels) + 1
    rows: list[list[float]] = []
    numbers: list[int] = []
    blank_at = None
    for index in range(label_line, len(lines)):  # 0-based index of the next line
        line = lines[index].strip()
        if not line:
            blank_at = blank_at or index + 1
            continue
        if blank_at is not None:
            raise StorageFormatError(
                path, blank_at, "blank line inside the data block.",
                "remove it; OpenSim's TimeSeriesTable stops reading at a blank line and "
                "would silently drop the rows after it.",
            )
        tokens = _split(line, separator)
        if len(tokens) != n_values:
            _raise_ragged(path, lines, index, len(tokens), (n_values, label_line), separator)
        rows.append(_parse_numbers(path, tokens, index + 1, labels, separator))
        numbers.append(index + 1)
    if not rows:
        raise StorageFormatError(
            path, label_line, "no data rows after the column labels.",
            "the file holds no samples; regenerate it (a run that failed before its first "
            "step, or an interrupted write, can leave such a file).",
        )
    table = np.array(rows, dtype=np.float64)
    return table[:, 0].copy(), table[:, 1:].copy(), np.array(numbers)


def _raise_ragged(
    path: Path, lines: list[str], index: int, found: int, labelled: tuple[int, int],
    separator: str | None,
) -> None:
    """Refuse a row whose value count differs from the ``(count, line)`` of the labels."""
    expected, label_line = labelled
    last = not any(line.strip() for line in lines[index + 1:])
    fix = (
        f"make every row hold one value per column label, separated by "
        f"{_separator_name(separator)} like the labels"
    )
    if separator == "," and found > expected:
        fix += "; numbers written with decimal commas ('10,5') split in two: use decimal points"
    if last and found < expected:
        fix += "; as this is the last row, the file was probably truncated: regenerate it"
    raise StorageFormatError(
        path, index + 1,
        f"row has {found} values but line {label_line} has {expected} column labels "
        f"(time included).",
        fix + ".",
    )


def _parse_numbers(
    path: Path, tokens: list[str], number: int, labels: tuple[str, ...], separator: str | None
) -> list:
    # Fast path: float() agrees with the strict grammar on ASCII text without underscores.
    line = "".join(tokens)
    if line.isascii() and "_" not in line:
        try:
            return [float(token) for token in tokens]
        except ValueError:
            pass
    for position, token in enumerate(tokens):
        if not _NUMBER.fullmatch(token):
            _raise_not_a_number(path, number, token, (TIME_LABEL, *labels)[position], separator)
    return [float(token) for token in tokens]


def _raise_not_a_number(
    path: Path, number: int, token: str, column: str, separator: str | None
) -> None:
    if not token:
        raise StorageFormatError(
            path, number,
            f"column {column!r} is empty (two {_separator_name(separator)} in a row).",
            "fill in the value, or remove the row; OpenSim files have no missing values.",
        )
    if re.fullmatch(r"[+-]?\d*,\d+", token):
        fix = (
            f"write numbers with a decimal point ({token.replace(',', '.')!r}, not "
            f"{token!r}), e.g. export from a spreadsheet set to an English locale."
        )
    else:
        fix = (
            "data rows hold only decimal numbers (a '.' as decimal point); remove stray "
            "text or fix the value."
        )
    raise StorageFormatError(
        path, number, f"value {token!r} in column {column!r} is not a number.", fix
    )


def _check_counts(path: Path, header: _Header, n_rows: int, n_columns: int) -> list[str]:
    """Compare ``nRows``/``nColumns`` (and SIMM's datarows/datacolumns) with the data.

    Fewer rows than declared is an error: a file cut short at a line end looks just like
    that. A column count other than declared, or more rows, loses nothing (every row was
    checked against the labels), so the data win and a note says what was found.

    Returns
    -------
    list of str
        One note per disagreement that was accepted.
    """
    found = {"nRows": n_rows, "nColumns": n_columns}
    notes = []
    for key in ("nRows", "nColumns", "datarows", "datacolumns"):
        if key not in header.entries:
            continue
        value, number = header.entries[key]
        kind = _SIMM_COUNT_KEYS.get(key, key)
        declared = _header_int(path, key, value, number)
        if declared == found[kind]:
            continue
        if kind == "nRows" and declared > n_rows:
            raise StorageFormatError(
                path, number, f"header says {key}={declared} but the file has {n_rows} data rows.",
                "if the file was cut short (interrupted write or copy) regenerate it; if the "
                f"data are complete, set {key}={n_rows}.",
            )
        notes.append(_count_note(key, kind, declared, found[kind]))
    return notes


def _count_note(key: str, kind: str, declared: int, found: int) -> str:
    if kind == "nRows":
        # Checked with OpenSim 4.6: Storage stops after nRows rows, TimeSeriesTable reads all.
        return (
            f"header says {key}={declared} but the file has {found} data rows; read all {found} "
            f"(as opensim.TimeSeriesTable does; opensim.Storage reads only the first {declared})."
        )
    return (
        f"header says {key}={declared} but the file has {found} columns (time included); read "
        f"{found} columns."
    )


def _header_int(path: Path, key: str, value: str, number: int) -> int:
    try:
        return int(value)
    except ValueError:
        raise StorageFormatError(
            path, number, f"{key}={value!r} is not an integer.",
            f"set {key} to the integer count, or remove the line.",
        ) from None


def _check_finite(
    path: Path, time: np.ndarray, data: np.ndarray, labels: tuple[str, ...], row_lines
) -> None:
    table = np.column_stack([time, data])
    found = _first_non_finite(table)
    if found:
        row, column, count = found
        raise StorageFormatError(
            path, int(row_lines[row]),
            f"column {(TIME_LABEL, *labels)[column]!r} holds {float(table[row, column])} "
            f"({count} non-finite value(s) in that column).",
            "NaN/inf usually means the simulation or analysis that wrote the file failed; "
            "rerun it, or drop/interpolate those rows.",
        )


def _check_increasing(path: Path, time: np.ndarray, row_lines: np.ndarray) -> None:
    i = _first_step_back(time)
    if i is not None:
        raise StorageFormatError(
            path, int(row_lines[i + 1]),
            f"time {float(time[i + 1])!r} is not greater than time {float(time[i])!r} on line "
            f"{row_lines[i]}; time must be strictly increasing.",
            "sort the rows by time and remove duplicated rows (OpenSim refuses them too).",
        )


def _in_degrees(path: Path, header: _Header) -> bool:
    if "inDegrees" not in header.entries:
        return False  # OpenSim's default
    value, number = header.entries["inDegrees"]
    if value not in ("yes", "no"):
        raise StorageFormatError(
            path, number, f"inDegrees={value!r}, expected 'yes' or 'no'.",
            "write inDegrees=yes or inDegrees=no (OpenSim treats anything but 'yes' as no).",
        )
    return value == "yes"


def _metadata(path: Path, header: _Header) -> dict[str, str]:
    """Header entries other than the layout keys (checked here or elsewhere)."""
    if "DataType" in header.entries and header.entries["DataType"][0] != "double":
        value, number = header.entries["DataType"]
        raise StorageFormatError(
            path, number, f"DataType={value!r}; only scalar 'double' columns are supported.",
            "flatten the table in OpenSim (e.g. TimeSeriesTableVec3.flatten()) and write it "
            "again.",
        )
    skip = RESERVED_KEYS | set(_SIMM_COUNT_KEYS)
    return {key: value for key, (value, _) in header.entries.items() if key not in skip}
