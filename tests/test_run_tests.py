"""``make test``'s runner (scripts/run_tests.py): both pytest runs, and its exit status."""

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

RUNNER = Path(__file__).resolve().parents[1] / "scripts" / "run_tests.py"


@pytest.mark.parametrize("failing", [None, "reproduction", "others"])
def test_the_runner_runs_both_parts_and_fails_when_either_fails(tmp_path, failing):
    (tmp_path / "pytest.ini").write_text("[pytest]\nmarkers =\n    reproduction: slow\naddopts = --strict-markers\n")
    (tmp_path / "test_parts.py").write_text(textwrap.dedent(f"""
        import pytest

        @pytest.mark.reproduction
        def test_reproduction_part():
            assert {failing != "reproduction"}

        def test_other_part():
            assert {failing != "others"}
        """))
    run = subprocess.run([sys.executable, str(RUNNER), "-c", str(tmp_path / "pytest.ini"), str(tmp_path)],
                         cwd=tmp_path, capture_output=True, text=True, timeout=300)
    # Each part ran its own test only (and left the other's out), the reproduction part's report printed
    # whole after the others'.
    others_report, reproduction_report = run.stdout.split("----- pytest -m reproduction")
    assert ("1 failed" if failing == "reproduction" else "1 passed") in reproduction_report and "1 deselected" in reproduction_report
    assert ("1 failed" if failing == "others" else "1 passed") in others_report and "1 deselected" in others_report
    assert (run.returncode == 0) == (failing is None)
