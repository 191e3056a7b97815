"""Tests for nmm_core.storage: OpenSim .sto/.mot reading and writing.

Tests marked ``opensim`` cross-check against OpenSim's own readers and writers and are skipped
when the ``opensim`` package is not installed.
"""

from __future__ import annotations

import os
import pickle
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from nmm_core import storage
from nmm_core.storage import StorageFormatError, TimeSeries, read_sto, write_sto

MODULE_FILE = Path(storage.__file__)

# Values that break naive formatting: need 17 digits, subnormal, huge, negative zero.
TRICKY = [0.1 + 0.2, 1 / 3, 5e-324, 1e-300, 1e300, -0.0, np.pi, 123456789.12345679]


def _tricky_series(rows: int = 50) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Time (rows,), data (rows, 3) with values across 20 orders of magnitude, labels."""
    rng = np.random.default_rng(42)
    time = np.arange(rows) * 0.01  # 0.07 * ... are not exactly representable
    data = rng.normal(size=(rows, 3)) * 10.0 ** rng.integers(-10, 10, size=(rows, 3))
    data[: len(TRICKY), 0] = TRICKY
    return time, data, ["r_shoulder_elev", "r_elbow_flex", "TRIlong"]


def _bits(array: np.ndarray) -> np.ndarray:
    """Bit patterns, so that -0.0 != 0.0 and exactness is checked to the last bit."""
    return np.ascontiguousarray(array, dtype=np.float64).view(np.uint64)


# A valid file written by hand in write_sto's layout; malformed cases edit one line of it.
VALID = (
    "arm26\n"  # line 1
    "version=1\n"  # 2
    "nRows=3\n"  # 3
    "nColumns=3\n"  # 4
    "inDegrees=yes\n"  # 5
    "endheader\n"  # 6
    "time\tr_elbow_flex\tTRIlong\n"  # 7
    "0\t10.5\t0.1\n"  # 8
    "0.01\t11.5\t0.2\n"  # 9
    "0.02\t12.5\t0.3\n"  # 10
)


def _write_text(tmp_path: Path, text: str, name: str = "case.sto") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8"))  # bytes: keep \r\n exactly as given
    return path


def _replace_line(text: str, number: int, new: str | None) -> str:
    """Replace 1-based line ``number`` of ``text`` (None deletes it)."""
    lines = text.split("\n")
    if new is None:
        del lines[number - 1]
    else:
        lines[number - 1] = new
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# Round trip and written layout
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("suffix", [".sto", ".mot", ".STO"])
def test_round_trip_is_bit_exact(tmp_path, suffix):
    time, data, labels = _tricky_series()
    meta = {"subject": "s01", "OpenSimVersion": "4.6"}
    path = write_sto(tmp_path / f"run{suffix}", time, data, labels, True, "arm run", meta)
    series = read_sto(path)
    assert np.array_equal(_bits(series.time), _bits(time))
    assert np.array_equal(_bits(series.data), _bits(data))
    assert series.labels == tuple(labels)
    assert series.in_degrees is True
    assert series.metadata == meta
    assert series.name == "arm run"


def test_write_returns_path_and_writes_opensim_header(tmp_path):
    path = write_sto(str(tmp_path / "states.sto"), [0.0, 0.5], [[1.0], [2.0]], ["q"])
    assert path == tmp_path / "states.sto"
    assert path.read_text().split("\n") == [
        "states",  # name defaults to the file's stem
        "version=1",
        "nRows=2",
        "nColumns=2",  # time is counted, as OpenSim does
        "inDegrees=no",
        "DataType=double",
        "endheader",
        "time\tq",
        "0.0\t1.0",
        "0.5\t2.0",
        "",
    ]


def test_write_keeps_umask_permissions(tmp_path):
    # The temporary file must not leave the result with mkstemp's private 0o600 mode.
    path = write_sto(tmp_path / "p.sto", [0.0], [[1.0]], ["q"])
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask


def test_module_imports_without_tensorflow_and_opensim():
    # Block both packages, then import storage through the package (whose __init__ imports none
    # of its modules): what storage needs must not reach TensorFlow or OpenSim.
    code = (
        "import sys\n"
        "sys.modules['tensorflow'] = None\n"
        "sys.modules['opensim'] = None\n"
        "import nmm_core.storage as module\n"
        "assert callable(module.read_sto) and callable(module.write_sto)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


# --------------------------------------------------------------------------------------------
# write_sto validation
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("time", "data", "labels", "match"),
    [
        ([0.0, 1.0], [[1.0], [2.0], [3.0]], ["q"], r"3 rows but time has 2 samples"),
        ([0.0, 1.0], [1.0, 2.0], ["q"], r"2-D .* received shape \(2,\).*data\[:, None\]"),
        ([[0.0, 1.0]], [[1.0, 2.0]], ["q", "r"], r"time must be 1-D .* received shape \(1, 2\)"),
        ([0.0, 1.0], [[1.0], [2.0]], ["q", "r"], r"received 2 labels for 1 data columns"),
        ([0.0, 1.0], [[1.0], [2.0]], "q", r"sequence of str.*received str 'q'"),
        ([0.0, 1.0], [[1.0, 2.0], [3.0, 4.0]], ["q", "q"], r"duplicate column label 'q' \(columns 2 and 3\)"),
        ([0.0, 1.0], [[1.0, 2.0], [3.0, 4.0]], ["q", ""], r"column label 3 is empty"),
        ([0.0, 1.0], [[1.0], [2.0]], ["time"], r"must not include 'time'"),
        ([0.0, 1.0], [[1.0], [2.0]], ["elbow flex"], r"'elbow flex' contains whitespace"),
        ([0.0, 1.0], [[1.0], [np.nan]], ["q"], r"column 'q' has 1 non-finite.*nan at row 1"),
        ([0.0, 1.0], [[np.inf], [2.0]], ["q"], r"column 'q' has 1 non-finite.*inf at row 0"),
        ([0.0, np.nan], [[1.0], [2.0]], ["q"], r"column 'time' has 1 non-finite"),
        ([0.0, 0.0], [[1.0], [2.0]], ["q"], r"strictly increasing.*time\[0\]=0.0.*time\[1\]=0.0"),
        (np.empty(0), np.empty((0, 1)), ["q"], r"received data of shape \(0, 1\)"),
        ([0.0], [["a"]], ["q"], r"data must be real numbers.*received list"),
    ],
)
def test_write_rejects_bad_input_and_writes_nothing(tmp_path, time, data, labels, match):
    with pytest.raises(ValueError, match=match):
        write_sto(tmp_path / "bad.sto", time, data, labels)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"name": "a=b"}, r"name 'a=b' would be read back as a header entry"),
        ({"name": "two\nlines"}, r"would be read back as a header entry"),
        ({"name": "endheader"}, r"other than 'endheader'"),
        ({"metadata": {"nRows": "5"}}, r"'nRows' is written by write_sto itself"),
        ({"metadata": {"inDegrees": "yes"}}, r"use in_degrees="),
        ({"metadata": {"my key": "v"}}, r"'my key' is not a valid header key"),
        ({"metadata": {"k": "a\nb"}}, r"would not read back unchanged"),
        ({"metadata": {"k": 3}}, r"must map str to str; received 'k': 3"),
    ],
)
def test_write_rejects_bad_header(tmp_path, kwargs, match):
    with pytest.raises(ValueError, match=match):
        write_sto(tmp_path / "bad.mot", [0.0], [[1.0]], ["q"], **kwargs)


def test_write_rejects_other_suffix(tmp_path):
    with pytest.raises(ValueError, match=r"suffix '.csv', expected one of \('.sto', '.mot'\)"):
        write_sto(tmp_path / "x.csv", [0.0], [[1.0]], ["q"])


# --------------------------------------------------------------------------------------------
# Atomic writes
# --------------------------------------------------------------------------------------------
def test_rejected_data_leaves_existing_file_unchanged(tmp_path):
    path = write_sto(tmp_path / "keep.sto", [0.0, 1.0], [[1.0], [2.0]], ["q"])
    before = path.read_bytes()
    with pytest.raises(ValueError, match="'q'"):
        write_sto(path, [0.0, 1.0], [[1.0], [np.nan]], ["q"])
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.sto"]


@pytest.mark.parametrize("existing", [True, False])
def test_failure_mid_write_leaves_no_partial_file(tmp_path, monkeypatch, existing):
    path = tmp_path / "keep.sto"
    if existing:
        write_sto(path, [0.0, 1.0], [[1.0], [2.0]], ["q"])
    before = path.read_bytes() if existing else None
    calls = []

    def failing_format_row(t, row):
        calls.append(t)
        if len(calls) == 500:  # header and 499 rows already went to the temporary file
            raise OSError("disk full (simulated)")
        return f"{t!r}\t" + "\t".join(map(repr, row)) + "\n"

    monkeypatch.setattr(storage, "_format_row", failing_format_row)
    time = np.arange(1000) * 0.01
    with pytest.raises(OSError, match="disk full"):
        write_sto(path, time, np.ones((1000, 2)), ["a", "b"])
    assert len(calls) == 500
    assert (path.read_bytes() if existing else None) == before
    expected = ["keep.sto"] if existing else []
    assert sorted(p.name for p in tmp_path.iterdir()) == expected  # temporary file removed


def test_failed_rename_leaves_existing_file_unchanged(tmp_path, monkeypatch):
    path = write_sto(tmp_path / "keep.mot", [0.0], [[1.0]], ["q"])
    before = path.read_bytes()

    def failing_replace(src, dst):
        raise PermissionError("file locked (simulated)")

    monkeypatch.setattr(storage.os, "replace", failing_replace)
    with pytest.raises(PermissionError):
        write_sto(path, [0.0], [[2.0]], ["q"])
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.mot"]


# --------------------------------------------------------------------------------------------
# read_sto: accepted variants (texts as OpenSim 4.6 writes them, so no OpenSim needed)
# --------------------------------------------------------------------------------------------
STO_FILE_ADAPTER = (
    "inDegrees=yes\nDataType=double\nversion=3\nOpenSimVersion=4.6-2026-06-22-85aaf64\n"
    "endheader\ntime\tr_elbow_flex\tTRIlong\n0\t10.5\t0.1\n0.01\t11.5\t0.2\n0.02\t12.5\t0.3\n"
)
STORAGE_SIMM = (
    "arm26\nversion=1\nnRows=3\nnColumns=3\ninDegrees=yes\n\n# SIMM Motion File Header:\n"
    "name arm26\ndatacolumns 3\ndatarows 3\notherdata 1\nrange 0.000000 0.020000\nendheader\n"
    "time\tr_elbow_flex\tTRIlong\n      0.00000000\t     10.50000000\t      0.10000000\n"
    "      0.01000000\t     11.50000000\t      0.20000000\n"
    "      0.02000000\t     12.50000000\t      0.30000000\n"
)


@pytest.mark.parametrize(
    ("text", "name", "metadata"),
    [
        (VALID, "arm26", {}),
        (VALID.replace("\n", "\r\n"), "arm26", {}),  # Windows line endings
        (VALID.replace("\t", "   "), "arm26", {}),  # whitespace-separated
        (VALID.replace("\n", "\t\n")[: -len("\t\n")] + "\n", "arm26", {}),  # trailing tabs
        (VALID + "\n\n", "arm26", {}),  # trailing blank lines
        ("\ufeff" + VALID, "arm26", {}),  # byte-order mark from a Windows editor
        (VALID.replace("version=1", "version = 1\nsubject= s01 "), "arm26", {"subject": "s01"}),
        (STO_FILE_ADAPTER, "", {"OpenSimVersion": "4.6-2026-06-22-85aaf64"}),
        (STORAGE_SIMM, "arm26", {}),
    ],
    ids=["plain", "crlf", "spaces", "trailing-tabs", "trailing-blank", "bom", "spaced-keys",
         "STOFileAdapter", "Storage-SIMM"],
)
def test_read_accepts_opensim_variants(tmp_path, text, name, metadata):
    series = read_sto(_write_text(tmp_path, text))
    assert series.labels == ("r_elbow_flex", "TRIlong")
    assert np.array_equal(series.time, [0.0, 0.01, 0.02])
    assert np.array_equal(series.data, [[10.5, 0.1], [11.5, 0.2], [12.5, 0.3]])
    assert series.in_degrees is True
    assert series.name == name
    assert series.metadata == metadata


# Files written by other software (MATLAB, Python scripts, spreadsheets, motion-capture
# suites), typed out as those tools write them.
OTHER_TOOLS = {
    # A spreadsheet saved as CSV: every line padded with commas to the table's width, CRLF.
    "spreadsheet-csv": (
        "arm26,,\r\nversion=1,,\r\nnRows=3,,\r\nnColumns=3,,\r\ninDegrees=yes,,\r\n"
        "endheader,,\r\ntime,r_elbow_flex,TRIlong\r\n0,10.5,0.1\r\n0.01,11.5,0.2\r\n"
        "0.02,12.5,0.3\r\n"
    ),
    # pandas.DataFrame.to_csv after a hand-written header: commas, no padding.
    "comma": (
        "arm26\nversion=1\nnRows=3\nnColumns=3\ninDegrees=yes\nendheader\n"
        "time,r_elbow_flex,TRIlong\n0,10.5,0.1\n0.01,11.5,0.2\n0.02,12.5,0.3\n"
    ),
    # MATLAB fprintf('%g, ', row): a space after each comma and a comma ending every line.
    "comma-space-trailing": (
        "arm26\nversion=1\nnRows=3\nnColumns=3\ninDegrees=yes\nendheader\n"
        "time, r_elbow_flex, TRIlong,\n0, 10.5, 0.1,\n0.01, 11.5, 0.2,\n0.02, 12.5, 0.3,\n"
    ),
    # A spreadsheet in a locale whose list separator is ';'.
    "semicolon": (
        "arm26;;\nversion=1;;\nnRows=3;;\nnColumns=3;;\ninDegrees=yes;;\nendheader;;\n"
        "time;r_elbow_flex;TRIlong\n0;10.5;0.1\n0.01;11.5;0.2\n0.02;12.5;0.3\n"
    ),
    # Blank lines around the header and before the labels; old Mac line ends.
    "blank-lines-cr": (
        "\rarm26\r\rversion=1\rnRows=3\r\rnColumns=3\rinDegrees=yes\rendheader\r\r"
        "time\tr_elbow_flex\tTRIlong\r0\t10.5\t0.1\r0.01\t11.5\t0.2\r0.02\t12.5\t0.3\r\r"
    ),
}


@pytest.mark.parametrize("case", sorted(OTHER_TOOLS))
def test_read_accepts_files_from_other_tools(tmp_path, case):
    series = read_sto(_write_text(tmp_path, OTHER_TOOLS[case]))
    assert series.labels == ("r_elbow_flex", "TRIlong")
    assert np.array_equal(series.time, [0.0, 0.01, 0.02])
    assert np.array_equal(series.data, [[10.5, 0.1], [11.5, 0.2], [12.5, 0.3]])
    assert series.in_degrees is True
    assert series.name == "arm26"
    assert series.metadata == {}
    assert series.notes == ()


@pytest.mark.parametrize(
    ("header", "note"),
    [
        # Tools that count the data columns without time.
        ("nColumns=2", r"^header says nColumns=2 .* 3 columns \(time included\); read 3 columns\.$"),
        # Rows appended after the header was written: every row is read (as TimeSeriesTable
        # does); opensim.Storage would stop after nRows.
        ("nRows=2", r"^header says nRows=2 but the file has 3 data rows; read all 3 .*Storage"),
    ],
)
def test_read_accepts_header_counts_that_lose_nothing_and_notes_them(tmp_path, header, note):
    key = header.split("=")[0]
    text = VALID.replace(f"{key}=3", header)
    series = read_sto(_write_text(tmp_path, text))
    assert series.data.shape == (3, 2)
    assert np.array_equal(series.data[:, 0], [10.5, 11.5, 12.5])
    assert len(series.notes) == 1
    assert re.search(note, series.notes[0]), series.notes


FROM_OTHER_TOOLS_REFUSED = {
    # A header without endheader above comma-separated labels: the fix names the line.
    "comma-no-endheader": (
        "version=1\ntime,r_elbow_flex,TRIlong\n0,10.5,0.1\n", 3,
        r"no 'endheader'.*before line 2, which looks like the column labels",
    ),
    "comma-empty-value": (
        VALID.replace("\t", ",").replace("0.01,11.5,0.2", "0.01,,0.2"), 9,
        r"column 'r_elbow_flex' is empty.*fill in the value",
    ),
    "semicolon-decimal-comma": (
        VALID.replace("\t", ";").replace("10.5", "10,5"), 8,
        r"'10,5' in column 'r_elbow_flex' is not a number.*decimal point",
    ),
    "comma-decimal-comma": (
        VALID.replace("\t", ",").replace("0.01,11.5,0.2", "0,01,11,5,0,2"), 9,
        r"row has 6 values but line 7 has 3 .*separated by ','.*decimal commas",
    ),
    "comma-labels-tab-rows": (
        VALID.replace("time\tr_elbow_flex\tTRIlong", "time,r_elbow_flex,TRIlong"), 8,
        r"row has 1 values but line 7 has 3 .*separated by ',' like the labels",
    ),
}


@pytest.mark.parametrize("case", sorted(FROM_OTHER_TOOLS_REFUSED))
def test_read_names_the_cause_in_files_from_other_tools(tmp_path, case):
    text, line, match = FROM_OTHER_TOOLS_REFUSED[case]
    with pytest.raises(StorageFormatError, match=match) as info:
        read_sto(_write_text(tmp_path, text))
    assert info.value.line == line


def test_read_without_in_degrees_defaults_to_radians(tmp_path):
    series = read_sto(_write_text(tmp_path, _replace_line(VALID, 5, None)))
    assert series.in_degrees is False


def test_read_keeps_tab_separated_labels_with_spaces(tmp_path):
    # TimeSeriesTable accepts such labels (it splits at tabs only).
    text = _replace_line(VALID, 7, "time\telbow flex\tTRIlong")
    assert read_sto(_write_text(tmp_path, text)).labels == ("elbow flex", "TRIlong")


# --------------------------------------------------------------------------------------------
# read_sto: malformed files
# --------------------------------------------------------------------------------------------
MALFORMED = {
    "missing-endheader": (_replace_line(VALID, 6, None), 9, r"no 'endheader'.*before line 6"),
    "no-label-line": ("\n".join(VALID.split("\n")[:6]) + "\n", 6, r"no column-label line"),
    "first-label-not-time": (
        _replace_line(VALID, 7, "Time\tr_elbow_flex\tTRIlong"), 7, r"'Time', expected 'time'"
    ),
    "duplicate-labels": (
        _replace_line(VALID, 7, "time\tTRIlong\tTRIlong"), 7, r"duplicate column label 'TRIlong'"
    ),
    "empty-label": (_replace_line(VALID, 7, "time\t\tTRIlong"), 7, r"column label 2 is empty"),
    "ragged-row": (_replace_line(VALID, 9, "0.01\t11.5"), 9, r"row has 2 values but line 7 has 3"),
    "extra-value": (_replace_line(VALID, 8, "0\t10.5\t0.1\t7"), 8, r"row has 4 values"),
    "truncated-mid-row": (VALID[: VALID.rindex("\t")], 10, r"2 values.*probably truncated"),
    "non-numeric": (_replace_line(VALID, 9, "0.01\tabc\t0.2"), 9, r"'abc' in column 'r_elbow"),
    "decimal-comma": (_replace_line(VALID, 10, "0.02\t12,5\t0.3"), 10, r"'12,5' in column"),
    "underscore-number": (_replace_line(VALID, 10, "0.02\t1_2.5\t0.3"), 10, r"'1_2.5'"),
    "nan": (_replace_line(VALID, 9, "0.01\t11.5\tNaN"), 9, r"column 'TRIlong' holds nan"),
    "inf": (_replace_line(VALID, 10, "0.02\t-inf\t0.3"), 10, r"column 'r_elbow_flex' holds -inf"),
    "time-decreasing": (_replace_line(VALID, 10, "0.005\t12.5\t0.3"), 10, r"0.005 is not greater"),
    "time-repeated": (_replace_line(VALID, 10, "0.01\t12.5\t0.3"), 10, r"0.01 is not greater"),
    "nRows-too-large": (VALID.replace("nRows=3", "nRows=4"), 3, r"nRows=4 but the file has 3"),
    "truncated-whole-rows": (
        "\n".join(VALID.split("\n")[:9]) + "\n", 3, r"nRows=3 but the file has 2 data rows"
    ),
    "simm-datarows-wrong": (
        STORAGE_SIMM.replace("nRows=3\n", "").replace("datarows 3", "datarows 9"),
        9, r"datarows=9 but the file has 3",
    ),
    "nRows-not-int": (VALID.replace("nRows=3", "nRows=three"), 3, r"nRows='three' is not an int"),
    "empty-data": (
        "\n".join(VALID.split("\n")[:7]).replace("nRows=3", "nRows=0") + "\n", 7, r"no data rows"
    ),
    "blank-line-in-data": (_replace_line(VALID, 9, "0.01\t11.5\t0.2\n"), 10, r"blank line inside"),
    "bad-inDegrees": (VALID.replace("inDegrees=yes", "inDegrees=true"), 5, r"'true', expected"),
    "vec3-datatype": (VALID.replace("version=1", "DataType=Vec3"), 2, r"DataType='Vec3'"),
    "duplicate-key": (VALID.replace("version=1", "nRows=3"), 3, r"'nRows' appears again"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_read_rejects_malformed_file(tmp_path, case):
    text, line, match = MALFORMED[case]
    path = _write_text(tmp_path, text, name=f"{case}.mot")
    with pytest.raises(StorageFormatError, match=match) as info:
        read_sto(path)
    message = str(info.value)
    assert info.value.line == line
    assert message.startswith(f"{path}, line {line}: ")  # names the file and the line
    assert "To fix: " in message


def test_read_rejects_empty_and_binary_files(tmp_path):
    with pytest.raises(StorageFormatError, match="the file is empty"):
        read_sto(_write_text(tmp_path, "\n \n"))
    binary = tmp_path / "binary.sto"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe")
    with pytest.raises(StorageFormatError, match="not UTF-8 text"):
        read_sto(binary)


def test_missing_file_is_not_a_format_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_sto(tmp_path / "absent.sto")


def test_storage_format_error_is_value_error_and_picklable(tmp_path):
    error = StorageFormatError(tmp_path / "f.sto", 3, "bad thing.", "do this.")
    assert isinstance(error, ValueError)
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.path, copy.line, str(copy)) == (error.path, 3, str(error))
    assert str(error) == f"{tmp_path / 'f.sto'}, line 3: bad thing. To fix: do this."


# --------------------------------------------------------------------------------------------
# TimeSeries
# --------------------------------------------------------------------------------------------
def _series(in_degrees: bool) -> TimeSeries:
    return TimeSeries(
        time=[0.0, 0.1],
        labels=("elbow", "shoulder", "pelvis_tx"),
        data=[[90.0, 180.0, 1.5], [45.0, -90.0, 1.6]],
        in_degrees=in_degrees,
    )


def test_column_returns_column_and_time():
    series = _series(in_degrees=True)
    assert np.array_equal(series.column("shoulder"), [180.0, -90.0])
    assert np.array_equal(series.column("time"), [0.0, 0.1])


def test_column_missing_names_it_and_lists_available():
    with pytest.raises(KeyError, match=r"'elbw' not found.*\['elbow', 'shoulder', 'pelvis_tx'\]"):
        _series(in_degrees=False).column("elbw")


def test_in_radians_converts_only_when_in_degrees():
    converted = _series(in_degrees=True).in_radians(["elbow", "shoulder"])
    assert converted.shape == (2, 2)
    np.testing.assert_allclose(converted, [[np.pi / 2, np.pi], [np.pi / 4, -np.pi / 2]])
    assert np.array_equal(_series(in_degrees=False).in_radians(["elbow"]), [[90.0], [45.0]])
    single = _series(in_degrees=True).in_radians("elbow")
    assert single.shape == (2,)
    np.testing.assert_allclose(single, [np.pi / 2, np.pi / 4])


def test_in_radians_refuses_time_and_missing_columns():
    with pytest.raises(ValueError, match="'time'"):
        _series(in_degrees=True).in_radians(["time"])
    with pytest.raises(ValueError, match=r"received \[\]"):
        _series(in_degrees=True).in_radians([])
    with pytest.raises(KeyError, match="'knee'"):
        _series(in_degrees=True).in_radians("knee")


def test_time_series_is_immutable_and_copies_input():
    data = np.array([[1.0], [2.0]])
    series = TimeSeries(time=np.array([0.0, 1.0]), labels=["q"], data=data)
    data[0, 0] = 99.0
    assert series.data[0, 0] == 1.0
    assert series.labels == ("q",)
    with pytest.raises(ValueError, match="read-only"):
        series.data[0, 0] = 5.0
    with pytest.raises(AttributeError):
        series.in_degrees = True  # type: ignore[misc]


def test_time_series_notes_are_a_tuple_of_str():
    series = TimeSeries(time=[0.0], labels=("q",), data=[[1.0]], notes=["read 1 row"])
    assert series.notes == ("read 1 row",)
    assert TimeSeries(time=[0.0], labels=("q",), data=[[1.0]]).notes == ()
    with pytest.raises(ValueError, match=r"received the str 'read 1 row' \(wrap it"):
        TimeSeries(time=[0.0], labels=("q",), data=[[1.0]], notes="read 1 row")


def test_time_series_validates_shapes():
    with pytest.raises(ValueError, match=r"2 rows but time has 3 samples"):
        TimeSeries(time=[0.0, 1.0, 2.0], labels=("q",), data=[[1.0], [2.0]])


# --------------------------------------------------------------------------------------------
# Cross-checks with OpenSim itself
# --------------------------------------------------------------------------------------------
@pytest.fixture
def osim():
    return pytest.importorskip("opensim")


def _table_arrays(table) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """time (T,), data (T, n) and labels of an opensim.TimeSeriesTable."""
    time = np.array(table.getIndependentColumn(), dtype=float)
    data = np.array(table.getMatrix().to_numpy(), dtype=float).reshape(len(time), -1)
    return time, data, tuple(table.getColumnLabels())


def _storage_arrays(osim, sto) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """time (T,), data (T, n) and labels (with time) of an opensim.Storage."""
    labels = sto.getColumnLabels()
    labels = tuple(labels.get(i) for i in range(labels.getSize()))
    columns = []
    for label in ("time", *labels[1:]):
        values = osim.ArrayDouble()
        if label == "time":
            sto.getTimeColumn(values)
        else:
            sto.getDataColumn(label, values)
        columns.append([values.get(i) for i in range(values.getSize())])
    return np.array(columns[0]), np.array(columns[1:]).T, labels


@pytest.mark.opensim
@pytest.mark.parametrize("suffix", [".sto", ".mot"])
def test_opensim_time_series_table_reads_write_sto_exactly(tmp_path, osim, suffix):
    time, data, labels = _tricky_series()
    path = write_sto(tmp_path / f"ours{suffix}", time, data, labels, in_degrees=True,
                     metadata={"subject": "s01"})
    table = osim.TimeSeriesTable(str(path))
    os_time, os_data, os_labels = _table_arrays(table)
    assert os_labels == tuple(labels)
    assert np.array_equal(_bits(os_time), _bits(time))
    assert np.array_equal(_bits(os_data), _bits(data))
    assert table.getTableMetaDataAsString("inDegrees") == "yes"
    assert table.getTableMetaDataAsString("subject") == "s01"


@pytest.mark.opensim
def test_opensim_storage_reads_write_sto_exactly(tmp_path, osim):
    time, data, labels = _tricky_series()
    path = write_sto(tmp_path / "ours.mot", time, data, labels, in_degrees=True, name="arm")
    sto = osim.Storage(str(path))
    os_time, os_data, os_labels = _storage_arrays(osim, sto)
    assert os_labels == ("time", *labels)
    assert sto.getSize() == len(time)
    assert sto.isInDegrees()
    assert sto.getName() == "arm"
    assert np.array_equal(_bits(os_time), _bits(time))
    assert np.array_equal(_bits(os_data), _bits(data))


@pytest.mark.opensim
@pytest.mark.parametrize("suffix", [".sto", ".mot"])
def test_read_sto_matches_opensim_sto_file_adapter(tmp_path, osim, suffix):
    time, data, labels = _tricky_series()
    table = osim.TimeSeriesTable()
    table.setColumnLabels(labels)
    for t, row in zip(time, data):
        table.appendRow(float(t), osim.RowVector(row.tolist()))
    table.addTableMetaDataString("inDegrees", "yes")
    path = tmp_path / f"opensim{suffix}"
    osim.STOFileAdapter.write(table, str(path))

    series = read_sto(path)
    os_time, os_data, os_labels = _table_arrays(osim.TimeSeriesTable(str(path)))
    assert series.labels == os_labels == tuple(labels)
    assert series.in_degrees is True
    # Identical to what OpenSim itself reads back from the same file ...
    assert np.array_equal(_bits(series.time), _bits(os_time))
    assert np.array_equal(_bits(series.data), _bits(os_data))
    # ... which is only close to the table in memory: STOFileAdapter prints 16 digits.
    np.testing.assert_allclose(series.data, data, rtol=1e-15, atol=0)


@pytest.mark.opensim
@pytest.mark.parametrize("simm_header", [False, True])
def test_read_sto_matches_opensim_storage_writer(tmp_path, osim, simm_header):
    time, data, labels = _tricky_series(rows=10)
    source = write_sto(tmp_path / "source.sto", time, data[:, 1:], labels[1:], in_degrees=True)
    sto = osim.Storage(str(source))
    sto.setName("arm26")
    sto.setWriteSIMMHeader(simm_header)
    sto.printResult(sto, "legacy", str(tmp_path), -1.0, ".mot")
    path = tmp_path / "legacy.mot"

    series = read_sto(path)
    os_time, os_data, os_labels = _storage_arrays(osim, osim.Storage(str(path)))
    assert ("time", *series.labels) == os_labels
    assert series.name == "arm26"
    assert series.in_degrees is True
    assert np.array_equal(series.time, os_time)
    assert np.array_equal(series.data, os_data)
