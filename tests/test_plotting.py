import pytest

from nmm_core.plotting import markdown_table


def test_markdown_table_layout_and_rounding():
    text = markdown_table(["a", "b"], [[1.23456, "x|y"], [2, 0.5]])
    assert text.splitlines() == ["| a | b |", "|---|---|", "| 1.23 | x\\|y |", "| 2 | 0.5 |"]
    assert markdown_table(["a", "b"], [[None, float("nan")]]).splitlines()[2] == "| – | – |"
    with pytest.raises(ValueError, match="Row 1 has 1 cells, expected 2"):
        markdown_table(["a", "b"], [[1, 2], [3]])
