"""Small presentation helpers shared by the notebooks: tables and recurring figures."""

from __future__ import annotations

from typing import Sequence


def markdown_table(header: Sequence[str], rows: Sequence[Sequence], digits: int = 3) -> str:
    """A Markdown table; floats are rounded to ``digits`` significant figures, and None or NaN
    (a score that does not exist) is shown as a dash.

    Parameters
    ----------
    header : sequence of str
    rows : sequence of sequences
        Each as long as ``header``.
    """
    width = len(header)
    for index, row in enumerate(rows):
        if len(row) != width:
            raise ValueError(f"Row {index} has {len(row)} cells, expected {width} (the header's length).")

    def cell(value) -> str:
        if value is None or (isinstance(value, float) and value != value):
            return "–"
        if isinstance(value, float):
            return f"{value:.{digits}g}"
        return str(value).replace("|", "\\|")

    lines = ["| " + " | ".join(cell(h) for h in header) + " |",
             "|" + "---|" * width]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)
