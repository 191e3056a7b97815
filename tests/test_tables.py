"""nmm_core.tables: the shared error of the data-file readers and the generic table reader."""

import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from nmm_core import own_data, public_data, tables, trials
from nmm_core.tables import DataFormatError, read_table


# --------------------------------------------------------------------------------------------
# One error format.
# --------------------------------------------------------------------------------------------
def test_fail_writes_path_problem_and_fix_as_sentences(tmp_path):
    with pytest.raises(DataFormatError) as info:
        tables.fail(tmp_path / "a.csv", "column 'x' is empty", "fill it in.")
    error = info.value
    assert str(error) == f"{tmp_path / 'a.csv'}: column 'x' is empty. To fix: fill it in."
    assert (error.path, error.problem, error.fix) == (tmp_path / "a.csv", "column 'x' is empty.", "fill it in.")
    assert isinstance(error, ValueError)


def test_data_format_error_survives_pickling(tmp_path):
    error = DataFormatError(tmp_path / "b.sto", "bad.", "good.")
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is DataFormatError
    assert str(copy) == str(error) == f"{tmp_path / 'b.sto'}: bad. To fix: good."


def test_every_reader_raises_the_one_error(tmp_path):
    # The old names keep working in except clauses and pytest.raises.
    assert trials.TrialFormatError is DataFormatError
    with pytest.raises(trials.TrialFormatError, match=r"trial.json: the trial's metadata file is missing\. To fix: "):
        tmp_path.joinpath("t").mkdir()
        trials.load_trial(tmp_path / "t")
    with pytest.raises(DataFormatError, match=r"recordings.json: the metadata file is missing\. To fix: write"):
        own_data.read_metadata(tmp_path)
    with pytest.raises(DataFormatError, match=r"S9.json: the participant file is missing\. To fix: fetch"):
        public_data.upper_limb_participant_info(tmp_path / "S9")


def test_tables_imports_no_higher_module():
    code = (
        "import sys\n"
        "import nmm_core.tables\n"
        "loaded = sorted(m for m in sys.modules if m.startswith('nmm_core.'))\n"
        "assert loaded == ['nmm_core.config', 'nmm_core.paths', 'nmm_core.tables'], loaded  # config re-exports paths\n"
        "assert 'tensorflow' not in sys.modules and 'opensim' not in sys.modules\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=Path(tables.__file__).parents[1])
    assert result.returncode == 0, result.stderr


# --------------------------------------------------------------------------------------------
# read_table.
# --------------------------------------------------------------------------------------------
def _write(tmp_path, text, name="table.csv"):
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8"))  # bytes: keep \r\n exactly as given
    return path


def test_read_table_reads_a_plain_csv(tmp_path):
    path = _write(tmp_path, "TIME,a,b\n0,1.5,-2\n0.01,2.5,-3\n0.02,3.5,-4\n")
    columns, corrections = read_table(path)
    assert list(columns) == ["TIME", "a", "b"]
    assert np.array_equal(columns["TIME"], [0.0, 0.01, 0.02])
    assert np.array_equal(columns["a"], [1.5, 2.5, 3.5])
    assert np.array_equal(columns["b"], [-2.0, -3.0, -4.0])
    assert corrections == []


# Tables as other software writes them; each holds the same three columns.
ACCEPTED = {
    "crlf": "TIME,a,b\r\n0,1.5,-2\r\n0.01,2.5,-3\r\n0.02,3.5,-4\r\n",
    "blank-lines": "\nTIME,a,b\n\n0,1.5,-2\n  \n0.01,2.5,-3\n0.02,3.5,-4\n\n\n",
    # A spreadsheet's export of a range one column wider than the data.
    "trailing-comma-everywhere": "TIME,a,b,\n0,1.5,-2,\n0.01,2.5,-3,\n0.02,3.5,-4,\n",
    # MATLAB fprintf('%g,', row) after a header written without one.
    "trailing-comma-on-rows": "TIME,a,b\n0,1.5,-2,\n0.01,2.5,-3,\n0.02,3.5,-4,\n",
    "spaces-after-commas": "TIME, a, b\n0, 1.5, -2\n0.01, 2.5, -3\n0.02, 3.5, -4\n",
    "quoted-header": '"TIME","a","b"\n0,1.5,-2\n0.01,2.5,-3\n0.02,3.5,-4\n',
    "tabs": "TIME\ta\tb\n0\t1.5\t-2\n0.01\t2.5\t-3\n0.02\t3.5\t-4\n",
    "tabs-trailing": "TIME\ta\tb\t\n0\t1.5\t-2\t\n0.01\t2.5\t-3\t\n0.02\t3.5\t-4\t\n",
    "semicolons": "TIME;a;b\n0;1.5;-2\n0.01;2.5;-3\n0.02;3.5;-4\n",
    # Excel's "CSV UTF-8" starts with a byte-order mark.
    "utf8-bom": "\ufeffTIME,a,b\n0,1.5,-2\n0.01,2.5,-3\n0.02,3.5,-4\n",
}


@pytest.mark.parametrize("case", sorted(ACCEPTED))
def test_read_table_accepts_tables_from_other_tools(tmp_path, case):
    columns, corrections = read_table(_write(tmp_path, ACCEPTED[case]), delimiter="auto")
    assert [name.strip('"') for name in columns] == ["TIME", "a", "b"]
    assert np.array_equal(columns["TIME"], [0.0, 0.01, 0.02])
    assert np.array_equal(columns["a"], [1.5, 2.5, 3.5])
    assert np.array_equal(columns["b"], [-2.0, -3.0, -4.0])
    assert corrections == []


def test_read_table_detects_the_delimiter_by_default(tmp_path):
    columns, _ = read_table(_write(tmp_path, ACCEPTED["semicolons"]))
    assert np.array_equal(columns["a"], [1.5, 2.5, 3.5])


def test_read_table_reads_latin_1_and_notes_it(tmp_path):
    path = tmp_path / "angles.csv"
    path.write_bytes("TIME,angle (\u00b0)\n0,10\n0.01,20\n".encode("latin-1"))
    columns, corrections = read_table(path)
    assert np.array_equal(columns["angle (\u00b0)"], [10.0, 20.0])
    assert corrections == ["angles.csv: not UTF-8 text; read as Latin-1"]


def test_read_table_reports_true_line_numbers_past_blank_lines(tmp_path):
    path = _write(tmp_path, "TIME,a\n\n0,1\n\n0.01,x\n")
    with pytest.raises(DataFormatError, match=r"line 5, column 'a': 'x' is not a number"):
        read_table(path)
    end = _write(tmp_path, "TIME,a\n0,1\n\n0.01,2\n\n0.02,\n", name="end.csv")
    with pytest.raises(DataFormatError, match=r"column 'a' has no value on lines 6-6 at the start or end"):
        read_table(end)


def test_fill_short_gaps_names_the_lines_of_a_long_gap(tmp_path):
    values = np.array([1.0, np.nan, np.nan, np.nan, 4.0])
    with pytest.raises(DataFormatError, match=r"column 'a' has 3 missing values in a row \(lines 4-6, 0.03 s\)"):
        tables.fill_short_gaps(values, 100.0, tmp_path / "gap.csv", "a", max_gap_s=0.02,
                               lines=np.array([2, 4, 5, 6, 7]))
    filled, note = tables.fill_short_gaps(values, 100.0, tmp_path / "gap.csv", "a")
    np.testing.assert_allclose(filled, [1.0, 1.75, 2.5, 3.25, 4.0])
    assert note == "gap.csv: 3 missing values of 'a' interpolated (1 runs)"


REFUSED = {
    "decimal-comma-semicolons": ("TIME;a\n0;1,5\n0.01;2,5\n",
                                 r"line 2, column 'a': '1,5' has a decimal comma\. To fix: write numbers with a "
                                 r"decimal point \('1\.5', not '1,5'\)"),
    "decimal-comma-commas": ("TIME,a\n0,1,5\n0.01,2,5\n",
                             r"line 2 has 3 fields, the header 2\. To fix: .*decimal commas"),
    "duplicate-name": ("TIME,a,A\n0,1,2\n0.01,1,2\n",
                       r"line 1: the header names column 'A' twice \(columns 2 and 3, case ignored\)"),
    "unnamed-column": ("TIME,,b\n0,1,2\n0.01,1,2\n", r"line 1: column 2 of the header has no name"),
    "extra-value": ("TIME,a\n0,1\n0.01,1,7\n", r"line 3 has 3 fields, the header 2"),
    "missing-value-at-end": ("TIME,a,b\n0,1,2\n0.01,1\n", r"line 3 has 2 fields, the header 3"),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_read_table_names_the_cause_and_the_fix(tmp_path, case):
    text, match = REFUSED[case]
    path = _write(tmp_path, text)
    with pytest.raises(DataFormatError, match=match) as info:
        read_table(path)
    assert str(info.value).startswith(f"{path}: ")
    assert " To fix: " in str(info.value)


def test_read_table_without_header_fills_gaps_at_the_given_rate(tmp_path):
    # Headerless, whitespace-separated, as the emg-elbow files; one missing value on line 3.
    path = _write(tmp_path, "1 10\n2 20\n3 nan\n4 40\n", name="trial.txt")
    columns, corrections = read_table(path, delimiter=None, time_column=None, names=("x", "y"), rate=100.0)
    assert np.array_equal(columns["y"], [10.0, 20.0, 30.0, 40.0])
    assert corrections == ["trial.txt: 1 missing values of 'y' interpolated (1 runs)"]
