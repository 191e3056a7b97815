"""The runner and the strict book build, on a copy of the book sources in a temporary folder."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from nmm_core import reproduce
from nmm_core.config import REPO_ROOT

pytestmark = pytest.mark.book

TINY = """---
jupytext:
  text_representation: {extension: .md, format_name: myst}
kernelspec: {display_name: Python 3, language: python, name: python3}
---
# Tiny

```{code-cell} ipython3
:tags: [parameters]
value = 1
```

```{code-cell} ipython3
result = 10 / value
print(result)
```
"""


def _tiny_root(tmp_path: Path) -> Path:
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "notebooks" / "tiny.md").write_text(TINY)
    return tmp_path


def test_unchanged_notebook_is_skipped_and_a_change_reruns_it(tmp_path):
    root = _tiny_root(tmp_path)
    assert reproduce.execute_chapter(root, "tiny", {"value": 2}) == "executed"
    assert reproduce.execute_chapter(root, "tiny", {"value": 2}) == "skipped"
    assert reproduce.execute_chapter(root, "tiny", {"value": 4}) == "executed"
    executed = json.loads((root / "book/_generated/tiny.ipynb").read_text())
    assert "2.5" in json.dumps(executed["cells"][-1]["outputs"])


def test_failing_notebook_names_the_cell_and_keeps_the_previous_result(tmp_path):
    root = _tiny_root(tmp_path)
    reproduce.execute_chapter(root, "tiny", {"value": 5})
    good = (root / "book/_generated/tiny.ipynb").read_bytes()
    with pytest.raises(RuntimeError, match=r"code cell 3 .*ZeroDivisionError"):
        reproduce.execute_chapter(root, "tiny", {"value": 0})
    assert (root / "book/_generated/tiny.failed.ipynb").is_file()
    assert (root / "book/_generated/tiny.ipynb").read_bytes() == good


def test_quick_reproduction_builds_the_strict_book(tmp_path):
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy(REPO_ROOT / name, tmp_path / name)
    shutil.copytree(REPO_ROOT / "book", tmp_path / "book",
                    ignore=shutil.ignore_patterns("_generated"))
    shutil.copytree(REPO_ROOT / "notebooks", tmp_path / "notebooks")
    env = {**os.environ, "NMM_DATA_DIR": str(tmp_path / "data"),  # the quick cohort lands here
           "NMM_RESULTS_DIR": str(tmp_path / "results")}
    run = subprocess.run([sys.executable, "-m", "nmm_core.reproduce", "--quick", "--root", str(tmp_path)],
                         capture_output=True, text=True, timeout=900, env=env)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    page = (tmp_path / "_build/html/book/_generated/arm_model.html").read_text()
    assert page.count("<img") >= 4  # the four figures of the chapter
    assert "pasted-text" in page  # glued numbers were inserted
    assert (tmp_path / "_build/html/book/intro.html").is_file()
    cohort_page = (tmp_path / "_build/html/book/_generated/cohort.html").read_text()
    assert cohort_page.count("<table") >= 4 and cohort_page.count("<img") >= 3
    assert (tmp_path / "data/downloads/virtual-cohort-quick/cohort.json").is_file()
    for subject in reproduce.SUBJECTS:
        for method in ("nmm", "mse"):
            result = json.loads((tmp_path / "results" / subject / f"{method}.json").read_text())
            assert result["method"] == method
            assert set(result) >= {"BRA", "TRImed", "torque", "train_seconds"}
            assert set(result["torque"]) == {"rmse_Nm", "nrmse", "r2"}
            page = (tmp_path / "_build/html/book/_generated" / f"{method}_{subject}.html").read_text()
            assert "Traceback" not in page and page.count("<img") >= 2
