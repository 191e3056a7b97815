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
        "assert loaded == ['nmm_core.config', 'nmm_core.tables'], loaded\n"
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
