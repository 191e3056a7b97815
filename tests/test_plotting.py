import pytest

from nmm_core import plotting
from nmm_core.plotting import markdown_table


def test_markdown_table_layout_and_rounding():
    text = markdown_table(["a", "b"], [[1.23456, "x|y"], [2, 0.5]])
    assert text.splitlines() == ["| a | b |", "|---|---|", "| 1.23 | x\\|y |", "| 2 | 0.5 |"]
    assert markdown_table(["a", "b"], [[None, float("nan")]]).splitlines()[2] == "| – | – |"
    with pytest.raises(ValueError, match="Row 1 has 1 cells, expected 2"):
        markdown_table(["a", "b"], [[1, 2], [3]])


def test_score_tables_mark_constant_estimates_and_constant_truths():
    block = {"BRA": {"r": 0.0, "rmse": 0.1, "r_lowpass": 0.0, "constant": True, "truth_constant": False},
             "TRImed": {"r": None, "rmse": 0.02, "r_lowpass": None, "constant": False, "truth_constant": True},
             "torque": {"rmse_Nm": 1.0, "nrmse": 0.05, "r2": 0.9}}
    assert plotting.score_cell(block, "BRA") == "0 (constant)"
    assert plotting.score_cell(block, "TRImed", "r_lowpass") == "undefined (truth constant)"
    assert plotting.score_cell(block, "TRImed", "rmse") == 0.02  # an error is defined either way
    table = plotting.score_table([("S01", block)], lowpass=False).splitlines()
    assert table[0] == ("| trials | BRA r | BRA RMSE | TRImed r | TRImed RMSE | torque RMSE (N m) | torque NRMSE (%) "
                        "| torque R² |")
    assert table[2] == "| S01 | 0 (constant) | 0.1 | undefined (truth constant) | 0.02 | 1 | 5 | 0.9 |"
