"""The runner and the strict book build, on a copy of the book sources in a temporary folder."""

import ast
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from nmm_core import cohort, paths, reproduce
from nmm_core.config import REPO_ROOT

pytestmark = pytest.mark.book

HEADER = """---
jupytext:
  text_representation: {extension: .md, format_name: myst}
kernelspec: {display_name: Python 3, language: python, name: python3}
---
"""

TINY = HEADER + """# Tiny

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


COUNTING = HEADER + """# Counting

Prose.

```{code-cell} ipython3
:tags: [parameters]
value = 1
```

```{code-cell} ipython3
with open("runs.txt", "a") as handle:  # one line per execution of this cell
    handle.write("run\\n")
print(value * 3)
```
"""


def test_a_prose_edit_updates_the_executed_notebook_as_a_run_would_without_running_it(tmp_path):
    import nbformat

    root = tmp_path / "root"
    (root / "notebooks").mkdir(parents=True)
    source, executed = root / "notebooks" / "counting.md", root / "book/_generated/counting.ipynb"
    runs = root / "book/_generated/runs.txt"
    source.write_text(COUNTING)
    assert reproduce.execute_chapter(root, "counting", {"value": 2, "quick": True}) == "executed"
    stamp = json.loads((root / "book/_generated/counting.fingerprint.json").read_text())
    # Prose reworded, a paragraph added between the code cells, a display tag on a code cell.
    edited = (COUNTING.replace("Prose.", "Prose, reworded.")
              .replace("```{code-cell} ipython3\nwith", "A new paragraph.\n\n```{code-cell} ipython3\n"
                       ":tags: [hide-input]\nwith"))
    source.write_text(edited)
    assert reproduce.execute_chapter(root, "counting", {"value": 2, "quick": True}) == "prose updated"
    assert runs.read_text().count("run") == 1  # nothing ran again
    updated = json.loads(executed.read_text())
    nbformat.validate(nbformat.reads(executed.read_text(), as_version=4))
    after = json.loads((root / "book/_generated/counting.fingerprint.json").read_text())
    assert after["prose"] != stamp.pop("prose") and {k: v for k, v in after.items() if k != "prose"} == stamp
    assert reproduce.execute_chapter(root, "counting", {"value": 2, "quick": True}) == "skipped"
    # The same notebook as executing the edited source, outputs and tags included.
    assert reproduce.execute_chapter(root, "counting", {"value": 2, "quick": True}, force=True) == "executed"
    assert runs.read_text().count("run") == 2

    def content(notebook):
        return [(c["cell_type"], "".join(c["source"]), sorted(c["metadata"].get("tags", [])),
                 [o.get("text") for o in c.get("outputs", [])]) for c in notebook["cells"]]

    assert content(updated) == content(json.loads(executed.read_text()))
    assert "A new paragraph." in json.dumps(updated) and "6\\n" in json.dumps(updated)
    # A tag taken away again goes too (the source's metadata wins, not a merge with the old one).
    source.write_text(COUNTING)
    assert reproduce.execute_chapter(root, "counting", {"value": 2, "quick": True}) == "prose updated"
    assert not any("hide-input" in c["metadata"].get("tags", []) for c in json.loads(executed.read_text())["cells"])
    source.write_text(edited)
    assert reproduce.execute_chapter(root, "counting", {"value": 2, "quick": True}) == "prose updated"
    # Code edits run: a cell's code, or which cell takes the parameters.
    source.write_text(edited.replace("value * 3", "value * 4"))
    assert reproduce.execute_chapter(root, "counting", {"value": 2, "quick": True}) == "executed"
    source.write_text(edited.replace("value * 3", "value * 4").replace(":tags: [parameters]\n", ""))
    assert reproduce.execute_chapter(root, "counting", {"value": 2, "quick": True}) == "executed"
    assert runs.read_text().count("run") == 4


def test_failing_notebook_names_the_cell_and_keeps_the_previous_result(tmp_path):
    root = _tiny_root(tmp_path)
    reproduce.execute_chapter(root, "tiny", {"value": 5})
    good = (root / "book/_generated/tiny.ipynb").read_bytes()
    with pytest.raises(RuntimeError, match=r"code cell 3 .*ZeroDivisionError"):
        reproduce.execute_chapter(root, "tiny", {"value": 0})
    assert (root / "book/_generated/tiny.failed.ipynb").is_file()
    assert (root / "book/_generated/tiny.ipynb").read_bytes() == good


SUBJECT = HEADER + """# A subject

```{code-cell} ipython3
:tags: [parameters]
subject = "S01"
value = 1
quick = False
```

```{code-cell} ipython3
import json
from nmm_core import config
folder = config.results_dir() / subject
folder.mkdir(parents=True, exist_ok=True)
if value < 0:
    raise ValueError("negative value")
flags = {"constant": False, "truth_constant": False}
for method in ("nmm", "mse"):
    scores = {"BRA": {"r": value / 10, "rmse": 0.1, "r_lowpass": value / 10, "rmse_lowpass": 0.1, **flags},
              "TRImed": {"r": None, "rmse": 0.2, "r_lowpass": None, "rmse_lowpass": 0.2, **flags,
                         "truth_constant": True},
              "torque": {"rmse_Nm": 1.0, "nrmse": 0.02, "r2": 0.9}}
    median = {"BRA": {"r": value / 10, "rmse": 0.1, "trials": 1}, "TRImed": {"r": None, "rmse": 0.2, "trials": 0}}
    (folder / f"{method}.json").write_text(json.dumps(
        {**scores, "train_seconds": 1.5, "seed": 0, "quick": quick, "per_load": {"2": scores},
         "per_posture": {"hanging": scores}, "median_trial": median}))
```

```{code-cell} ipython3
import os
print("threads", os.environ.get("TF_NUM_INTRAOP_THREADS"), os.environ.get("TF_NUM_INTEROP_THREADS"))
```
"""

COMPARISON = HEADER + """# Comparison

```{code-cell} ipython3
:tags: [parameters]
quick = False
```

```{code-cell} ipython3
import os
print("threads", os.environ.get("TF_NUM_INTRAOP_THREADS"), os.environ.get("TF_NUM_INTEROP_THREADS"))
```

```{code-cell} ipython3
import json
from nmm_core import config
summary = json.loads((config.results_dir() / "summary.json").read_text())
print(summary["mean"]["nmm"]["BRA"]["r"])
```
"""


def _pipeline_root(tmp_path, monkeypatch):
    """A project with two subject chapters and a comparison, results in tmp_path/results."""
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "notebooks" / "subject.md").write_text(SUBJECT)
    (tmp_path / "notebooks" / "comparison.md").write_text(COMPARISON)
    monkeypatch.setenv("NMM_RESULTS_DIR", str(tmp_path / "results"))
    chapters = (reproduce.Chapter("nmm_S01", "subject", {"subject": "S01"}, "subject"),
                reproduce.Chapter("nmm_S02", "subject", {"subject": "S02"}, "subject"),
                reproduce.Chapter("comparison", "comparison", {}, "results", after_subjects=True))
    return tmp_path, chapters


def test_parallel_run_skips_unchanged_and_reruns_one_subject_and_the_comparison(tmp_path, monkeypatch):
    root, chapters = _pipeline_root(tmp_path, monkeypatch)
    first = reproduce.run_chapters(root, chapters, quick=True, jobs=2)
    assert first == {"nmm_S01": "executed", "nmm_S02": "executed", "comparison": "executed"}
    summary = json.loads((root / "results/summary.json").read_text())
    assert summary["mode"] == "quick" and set(summary["subjects"]) == {"S01", "S02"}
    assert summary["mean"]["nmm"]["BRA"]["r"] == pytest.approx(0.1)
    assert summary["mean"]["nmm"]["TRImed"]["r"] is None  # undefined everywhere: no mean
    csv_lines = (root / "results/summary.csv").read_text().splitlines()
    assert csv_lines[0] == "subject,method,subset,quantity,metric,value"
    assert "S02,mse,load 2,torque,r2,0.9" in csv_lines and "S01,nmm,all,TRImed,r," in csv_lines
    assert "S01,nmm,posture hanging,TRImed,truth_constant,True" in csv_lines
    assert "S01,mse,median trial,BRA,r,0.1" in csv_lines
    assert summary["claim"]["BRA"]["status"] == "not reproduced" and summary["claim"]["BRA"]["n"] == 2
    assert summary["claim"]["TRImed"]["n"] == 0  # the truth is constant for both: no subject to compare
    executed = json.loads((root / "book/_generated/comparison.ipynb").read_text())
    assert "0.1" in json.dumps(executed["cells"][-1]["outputs"])

    assert set(reproduce.run_chapters(root, chapters, quick=True, jobs=2).values()) == {"skipped"}
    (root / "reproduce.toml").write_text("[chapter.nmm_S02]\nvalue = 3\n")
    third = reproduce.run_chapters(root, chapters, quick=True, jobs=2)
    assert third == {"nmm_S01": "skipped", "nmm_S02": "executed", "comparison": "executed"}
    executed = json.loads((root / "book/_generated/comparison.ipynb").read_text())
    assert "0.2" in json.dumps(executed["cells"][-1]["outputs"])  # mean of 0.1 and 0.3
    # The other mode is a different parameter set: everything reruns.
    assert set(reproduce.run_chapters(root, chapters, quick=False, jobs=2).values()) == {"executed"}


def _printed_threads(root: Path, name: str) -> str:
    cells = json.loads((root / f"book/_generated/{name}.ipynb").read_text())["cells"]
    return next(o["text"] if isinstance(o["text"], str) else "".join(o["text"])
                for c in cells for o in c.get("outputs", []) if "threads" in str(o.get("text", ""))).strip()


def test_chapters_side_by_side_share_the_cores_and_the_later_ones_keep_the_defaults(tmp_path, monkeypatch):
    root, chapters = _pipeline_root(tmp_path, monkeypatch)
    for variable in reproduce.THREAD_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setattr(reproduce, "usable_cores", lambda: 6)
    assert set(reproduce.run_chapters(root, chapters, quick=False, jobs=2).values()) == {"executed"}
    assert [_printed_threads(root, n) for n in ("nmm_S01", "nmm_S02")] == ["threads 3 3"] * 2
    assert _printed_threads(root, "comparison") == "threads None None"  # after the subjects: defaults
    # Quick mode or one job at a time: TensorFlow's defaults.
    assert set(reproduce.run_chapters(root, chapters, quick=True, jobs=2).values()) == {"executed"}
    assert [_printed_threads(root, n) for n in ("nmm_S01", "nmm_S02")] == ["threads None None"] * 2
    assert reproduce.side_by_side_threads(1) == {}
    # A user's own setting is left as it is.
    monkeypatch.setenv("TF_NUM_INTEROP_THREADS", "5")
    assert set(reproduce.run_chapters(root, chapters, quick=False, jobs=2, force=True).values()) == {"executed"}
    assert [_printed_threads(root, n) for n in ("nmm_S01", "nmm_S02", "comparison")] == ["threads None 5"] * 3
    assert os.environ["TF_NUM_INTEROP_THREADS"] == "5" and "TF_NUM_INTRAOP_THREADS" not in os.environ


def test_a_failing_subject_stops_its_dependants_but_not_the_others(tmp_path, monkeypatch):
    root, chapters = _pipeline_root(tmp_path, monkeypatch)
    (root / "reproduce.toml").write_text("[chapter.nmm_S01]\nvalue = -1\n")
    statuses = reproduce.run_chapters(root, chapters, quick=True, jobs=2)
    assert statuses["nmm_S02"] == "executed"
    assert statuses["nmm_S01"].startswith("FAILED") and "ValueError: negative value" in statuses["nmm_S01"]
    assert "nmm_S01.log" in statuses["nmm_S01"]
    assert statuses["comparison"] == "not run: nmm_S01 failed"
    assert (root / "book/_generated/nmm_S01.failed.ipynb").is_file()


def test_input_files_enter_the_fingerprint(tmp_path):
    root = _tiny_root(tmp_path)
    data = tmp_path / "input.json"
    data.write_text("1")
    assert reproduce.execute_chapter(root, "tiny", {"value": 2}, inputs=[data]) == "executed"
    assert reproduce.execute_chapter(root, "tiny", {"value": 2}, inputs=[data]) == "skipped"
    data.write_text("2")
    assert reproduce.execute_chapter(root, "tiny", {"value": 2}, inputs=[data]) == "executed"


def test_parameter_file_errors_name_the_file_and_the_fix(tmp_path):
    chapter = reproduce.CHAPTERS[0]
    (tmp_path / "reproduce.toml").write_text("[quick]\nepochs = 5\n[chapter.nmm_S09]\nseed = 1\n")
    with pytest.raises(ValueError, match=r"reproduce.toml: \[chapter.nmm_S09\] names no chapter"):
        reproduce.chapter_parameters(tmp_path, chapter, quick=True)
    (tmp_path / "reproduce.toml").write_text("[quick\n")
    with pytest.raises(ValueError, match="is not valid TOML"):
        reproduce.chapter_parameters(tmp_path, chapter, quick=True)
    (tmp_path / "reproduce.toml").write_text("[quick]\nepochs = 5\n[chapter.introduction]\nepochs = 7\n")
    assert reproduce.chapter_parameters(tmp_path, chapter, quick=True) == {"epochs": 7, "quick": True}
    assert reproduce.chapter_parameters(tmp_path, chapter, quick=False) == {"epochs": 7, "quick": False}


def _check_book():
    import importlib.util

    spec = importlib.util.spec_from_file_location("check_book", REPO_ROOT / "scripts" / "check_book.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_book_checker_finds_error_outputs_missing_figures_and_empty_tables(tmp_path):
    check = _check_book()
    (tmp_path / "fig.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"0" * 20)
    good = ('<table><thead><tr><th>a</th></tr></thead><tbody><tr><td>1</td></tr></tbody></table>'
            '<img src="fig.png">')
    assert check.check_html(good, tmp_path / "page.html") == ([], {"images": 1, "tables": 1})
    bad = ('<div class="output traceback highlight-ipythontb">Traceback (most recent call last)</div>'
           '<table><thead><tr><th>a</th></tr></thead><tbody></tbody></table><img src="gone.png">')
    problems, _ = check.check_html(bad, tmp_path / "page.html")
    assert any("error output" in p for p in problems)
    assert any("gone.png is missing" in p for p in problems)
    assert any("table 1 has 1 header cells and 0 rows" in p for p in problems)


@pytest.mark.reproduction
def test_quick_reproduction_builds_the_strict_book(tmp_path):
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy(REPO_ROOT / name, tmp_path / name)
    shutil.copytree(REPO_ROOT / "book", tmp_path / "book",
                    ignore=shutil.ignore_patterns("_generated"))
    shutil.copytree(REPO_ROOT / "notebooks", tmp_path / "notebooks")
    shutil.copy(REPO_ROOT / "reproduce.toml", tmp_path / "reproduce.toml")
    (tmp_path / "tmp").mkdir()
    env = {**os.environ, "NMM_DATA_DIR": str(tmp_path / "data"),  # the quick cohort lands here
           "NMM_RESULTS_DIR": str(tmp_path / "results"), "TMPDIR": str(tmp_path / "tmp")}
    run = subprocess.run([sys.executable, "-m", "nmm_core.reproduce", "--quick", "--root", str(tmp_path)],
                         capture_output=True, text=True, timeout=1800, env=env)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    # The chapters' scratch folders (the stand-in recordings) are gone with their kernels.
    assert sorted(p.name for p in (tmp_path / "tmp").glob("nmm-*")) == []
    # The benchmark chapter measured on this machine: its three figures and its tables.
    bench = (tmp_path / "_build/html/book/_generated/benchmarks.html").read_text()
    assert bench.count("<img") >= 3 and "windows/s" in bench and "streaming ms/window" in bench
    assert "nmm_S01" in bench  # the step table read this book root's timings, not the repository's
    page = (tmp_path / "_build/html/book/_generated/arm_model.html").read_text()
    assert page.count("<img") >= 4  # the four figures of the chapter
    assert "pasted-text" in page  # glued numbers were inserted
    assert (tmp_path / "_build/html/book/_generated/introduction.html").is_file()
    for page in ("methods", "reproduction_notes", "api", "references"):
        assert (tmp_path / f"_build/html/book/{page}.html").is_file()
    assert "nmm_core.synergy.fit_extrapolation" in (tmp_path / "_build/html/book/api.html").read_text()
    summary = json.loads((tmp_path / "results/summary.json").read_text())
    assert summary["mode"] == "quick" and summary["missing"] == []
    assert set(summary["subjects"]) == set(reproduce.SUBJECTS)
    comparison = (tmp_path / "_build/html/book/_generated/comparison.html").read_text()
    for name in ("real_upper_limb", "real_elbow"):
        page = (tmp_path / f"_build/html/book/_generated/{name}.html").read_text()
        assert "a stand-in" in page and page.count("<table") >= 3 and page.count("<img") >= 2
    check = _check_book()
    for page in check.book_pages(tmp_path / "_build/html", tmp_path / paths.QUICK_TOC):
        assert check.check_html(page.read_text(), page)[0] == []
    assert "quick parameter set" in comparison and "injected" not in comparison  # parameters: a note, not code
    assert comparison.count("<img") >= 4 and comparison.count("<table") >= 3 and "Traceback" not in comparison
    cohort_page = (tmp_path / "_build/html/book/_generated/cohort.html").read_text()
    assert cohort_page.count("<table") >= 4 and cohort_page.count("<img") >= 3
    # The quick cohort in its home under the run's data folder, made by this code.
    homes = sorted((tmp_path / "data/generated").glob("virtual-cohort-quick-*/cohort.json"))
    assert [home.parent.name for home in homes] == [cohort.cohort_path(quick=True).name]
    for subject in reproduce.SUBJECTS:
        for method in ("nmm", "mse"):
            result = json.loads((tmp_path / "results" / subject / f"{method}.json").read_text())
            assert result["method"] == method
            assert set(result) >= {"BRA", "TRImed", "torque", "train_seconds"}
            assert set(result["torque"]) == {"rmse_Nm", "nrmse", "r2"}
            page = (tmp_path / "_build/html/book/_generated" / f"{method}_{subject}.html").read_text()
            assert "Traceback" not in page and page.count("<img") >= 2
    # The cohort variant's chapter, for the first subject alone in a quick run: every method,
    # unchanged, with its results files; the other subjects' variant chapters neither ran nor
    # are in the book.
    first = reproduce.SUBJECTS[0]
    page = (tmp_path / "_build/html/book/_generated" / f"{reproduce.VARIANT}_{first}.html").read_text()
    assert "Traceback" not in page and page.count("<img") >= 1 and page.count("<table") >= 3
    for method in ("nmm", "mse", "nmm_synergy"):
        result = json.loads((tmp_path / "results" / reproduce.VARIANT / first / f"{method}.json").read_text())
        assert result["quick"] is True and set(result["held_out_trials"]) == set(result["per_trial"])
    for subject in reproduce.SUBJECTS[1:]:
        assert not (tmp_path / "book/_generated" / f"{reproduce.VARIANT}_{subject}.ipynb").exists()
        assert not (tmp_path / "_build/html/book/_generated" / f"{reproduce.VARIANT}_{subject}.html").exists()
        assert not (tmp_path / "results" / reproduce.VARIANT / subject).exists()
    # The regime table: one entry per variant, the schema, and its sentences pasted
    # into the reproduction notes.
    regimes = json.loads((tmp_path / "results/regimes.json").read_text())
    assert set(regimes) == {"min_effort", reproduce.VARIANT}
    assert regimes["min_effort"]["subjects"] == list(reproduce.SUBJECTS) and regimes[reproduce.VARIANT]["subjects"] == [first]
    for entry in regimes.values():  # the quick variant cohort is generated for its first subject alone
        assert set(entry["within_subject_r2"]) == set(entry["subjects"])
        assert all(0 <= v <= 1 for by in entry["within_subject_r2"].values() for v in by.values())
        assert set(entry["methods"]) == {"nmm", "mse", "nmm_synergy"} and set(entry["claim"]) == {"BRA", "TRImed"}
    assert regimes["min_effort"]["methods"]["nmm"]["BRA"]["r"] == pytest.approx(
        summary["mean"]["nmm"]["median_trial"]["BRA"]["r"])
    assert f"This quick run took {first} alone through the recruitment thresholds" in comparison
    notes = (tmp_path / "_build/html/book/reproduction_notes.html").read_text()
    assert notes.count('class="pasted-text"') == 3 and "recruitment thresholds and co-contraction (1 subject)" in notes


def _generated_pages(toc_path: Path) -> list[str]:
    """The executed chapters a table of contents names (``book/_generated/<name>``), in order."""
    import yaml

    def files(entries):
        for entry in entries:
            if "file" in entry:
                yield entry["file"]
            yield from files(entry.get("chapters", []) + entry.get("parts", []))

    toc = yaml.safe_load(toc_path.read_text())
    return [f.removeprefix("book/_generated/") for f in [toc["root"], *files(toc["parts"])]
            if f.startswith("book/_generated/")]


def test_the_table_of_contents_lists_every_chapter_once_and_the_cohorts_subjects():
    """The book builds only the files its table of contents names (``only_build_toc_files``),
    so a chapter missing from ``_toc.yml`` would be executed and silently left out of the book."""
    generated = _generated_pages(REPO_ROOT / "_toc.yml")
    assert sorted(generated) == sorted(c.name for c in reproduce.CHAPTERS)
    assert len(set(generated)) == len(generated)
    # The subject chapters are the cohort's subjects, whatever its size.
    subjects = [name.removeprefix("nmm_") for name in generated if name.startswith("nmm_")]
    assert subjects == [s.name for s in cohort.make_cohort(seed=cohort.DEFAULT_SEED)]


def test_the_quick_run_takes_the_variants_first_subject_alone_and_its_book_leaves_the_rest_out(tmp_path, capsys):
    subjects = [s.name for s in cohort.make_cohort(seed=cohort.DEFAULT_SEED)]
    left_out = {f"{reproduce.VARIANT}_{s}" for s in subjects[1:]}
    assert [c.name for c in reproduce.chapters_for(False)] == [c.name for c in reproduce.CHAPTERS]
    assert [c.name for c in reproduce.chapters_for(True)] == [c.name for c in reproduce.CHAPTERS
                                                                if c.name not in left_out]
    assert f"{reproduce.VARIANT}_{subjects[0]}" in {c.name for c in reproduce.chapters_for(True)}
    # The quick book's table of contents: the typed one, in its order, less those chapters.
    shutil.copy(REPO_ROOT / "_toc.yml", tmp_path / "_toc.yml")
    assert reproduce.book_toc(tmp_path, False) == tmp_path / "_toc.yml"
    quick_toc = reproduce.book_toc(tmp_path, True)
    assert quick_toc == tmp_path / "_build" / "_toc.quick.yml"
    assert _generated_pages(quick_toc) == [n for n in _generated_pages(REPO_ROOT / "_toc.yml") if n not in left_out]
    assert (tmp_path / "_toc.yml").read_text() == (REPO_ROOT / "_toc.yml").read_text()  # left as it was
    # A full run's chapter named with --quick is refused, before anything runs.
    with pytest.raises(SystemExit) as stopped:
        reproduce.main(["--quick", "--only", f"{reproduce.VARIANT}_{subjects[1]}", "--root", str(tmp_path)])
    assert stopped.value.code == 2 and not (tmp_path / "book").exists()
    assert "runs in full mode only" in capsys.readouterr().err


def test_a_book_build_without_its_chapters_says_which_run_makes_them(tmp_path):
    # A quick run's notebooks: the book of the full run lacks the variant's other chapters.
    (tmp_path / reproduce.GENERATED).mkdir(parents=True)
    for chapter in reproduce.chapters_for(True):
        (tmp_path / reproduce.GENERATED / f"{chapter.name}.ipynb").write_text("{}")
    with pytest.raises(RuntimeError, match=rf"{reproduce.VARIANT}_S02.ipynb and 3 other chapters,.*make book QUICK=1"):
        reproduce.build_book(tmp_path, quick=False)
    (tmp_path / reproduce.GENERATED / "nmm_S03.ipynb").unlink()
    with pytest.raises(RuntimeError, match=r"nmm_S03.ipynb, which no run has executed: run make "
                                           r"reproduce QUICK=1\.$"):
        reproduce.build_book(tmp_path, quick=True)


def test_the_book_checker_reads_the_quick_books_table_of_contents(tmp_path, capsys, monkeypatch):
    shutil.copy(REPO_ROOT / "_toc.yml", tmp_path / "_toc.yml")
    quick_toc = reproduce.book_toc(tmp_path, True)
    check = _check_book()
    for page in check.book_pages(tmp_path / "_build/html", quick_toc):  # a quick book, every page plain
        page.parent.mkdir(parents=True, exist_ok=True)
        page.write_text("<html><body><p>text</p></body></html>")
    html = ["--html", str(tmp_path / "_build/html"), "--chromium", ""]  # checked without rendering
    assert check.main([*html, "--toc", str(tmp_path / "_toc.yml")]) == 1
    error = capsys.readouterr().err
    assert f"{reproduce.VARIANT}_S02.html was not built" in error and "make check-book QUICK=1" in error
    assert check.main([*html, "--toc", str(quick_toc)]) == 0
    monkeypatch.chdir(tmp_path)  # make check-book QUICK=1: the quick table of contents of the book here
    assert check.main([*html, "--quick"]) == 0


def test_publishing_config_adds_the_repository_buttons(tmp_path):
    import yaml

    shutil.copy(REPO_ROOT / "_config.yml", tmp_path / "_config.yml")
    path = reproduce.publishing_config(tmp_path, "https://github.com/someone/nmm")
    settings = yaml.safe_load(path.read_text())
    original = yaml.safe_load((REPO_ROOT / "_config.yml").read_text())
    assert settings["repository"]["url"] == "https://github.com/someone/nmm"
    assert settings["launch_buttons"]["binderhub_url"] == "https://mybinder.org"
    # The buttons publishing_config adds, and the book's own settings carried over unchanged.
    assert settings["html"]["use_repository_button"] is True and settings["html"]["use_issues_button"] is True
    assert "use_repository_button" not in original["html"] and "use_issues_button" not in original["html"]
    assert settings["html"]["use_download_button"] == original["html"]["use_download_button"]
    assert settings["sphinx"] == original["sphinx"] and "repository" not in original


HEAVY = HEADER + """# Heavy

```{code-cell} ipython3
:tags: [parameters]
megabytes = 1
```

```{code-cell} ipython3
import time
block = bytearray(megabytes * 2**20)
block[::4096] = b"x" * len(block[::4096])  # touch every page: resident, not just reserved
time.sleep(1.5)
```
"""


def test_a_chapter_records_its_time_and_the_kernels_peak_memory(tmp_path, monkeypatch):
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "notebooks" / "heavy.md").write_text(HEAVY)
    monkeypatch.setenv("KERAS_BACKEND", "tensorflow")
    import psutil

    own_mib = psutil.Process().memory_info().rss / 2**20
    assert reproduce.execute_chapter(tmp_path, "heavy", {"megabytes": 400}) == "executed"
    stamp = json.loads((tmp_path / "book/_generated/heavy.fingerprint.json").read_text())
    # The kernel is a child of this process; its 400 MiB block must be in the peak, on top of
    # this process's own memory (which may already be large after other tests).
    assert stamp["peak_memory_mib"] > own_mib + 300
    assert stamp["seconds"] >= 1.5 and stamp["keras_backend"] == "tensorflow"
    assert reproduce.execute_chapter(tmp_path, "heavy", {"megabytes": 400}) == "skipped"
    # Another Keras backend is another computation: the chapter reruns.
    monkeypatch.setenv("KERAS_BACKEND", "jax")
    assert reproduce.execute_chapter(tmp_path, "heavy", {"megabytes": 400}) == "executed"


def test_a_kernel_that_dies_at_start_up_is_started_once_more(tmp_path, monkeypatch):
    import papermill

    real, calls, failures = papermill.execute_notebook, [], [RuntimeError(reproduce.KERNEL_START_FAILURE)]

    def flaky(*args, **kwargs):
        calls.append(1)
        if failures:  # only the very first start fails
            raise failures.pop()
        return real(*args, **kwargs)

    monkeypatch.setattr(papermill, "execute_notebook", flaky)
    root = _tiny_root(tmp_path)
    assert reproduce.execute_chapter(root, "tiny", {"value": 2}) == "executed" and len(calls) == 2
    # A failure inside the notebook is not retried.
    calls.clear()
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        reproduce.execute_chapter(root, "tiny", {"value": 0})
    assert len(calls) == 1


def test_editing_a_module_reruns_only_the_chapters_that_use_it(tmp_path):
    for package in ("nmm_core", "data_download"):
        shutil.copytree(REPO_ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    sources = {name: REPO_ROOT / "notebooks" / f"{name}.md" for name in ("nmm_subject", "benchmarks", "comparison")}

    def fingerprints():
        return {name: reproduce.fingerprint(path, {"subject": "S01"}, (), tmp_path) for name, path in sources.items()}

    before = fingerprints()
    with open(tmp_path / "nmm_core" / "benchmark.py", "a") as handle:
        handle.write("\nEDITED = 1\n")
    after = fingerprints()
    assert after["nmm_subject"] == before["nmm_subject"] and after["comparison"] == before["comparison"]
    assert after["benchmarks"] != before["benchmarks"]
    training = tmp_path / "nmm_core" / "training.py"
    # A comment and a reworded docstring change nothing the chapters compute: nothing reruns.
    text = training.read_text()
    docstring = ast.get_docstring(ast.parse(text), clean=False)
    training.write_text(text.replace(docstring, docstring + " Reworded.", 1) + "\n# a comment\n")
    assert fingerprints() == after
    with open(training, "a") as handle:
        handle.write("\nEDITED = 1\n")
    assert all(fingerprints()[name] != after[name] for name in sources)  # all three train or prepare data


def test_the_library_files_of_code_follow_its_imports():
    names = {p.relative_to(REPO_ROOT).as_posix() for p in reproduce.library_files("from nmm_core import results")}
    assert {"nmm_core/results.py", "nmm_core/stats.py", "nmm_core/config.py", "nmm_core/__init__.py"} <= names
    assert "nmm_core/training.py" not in names and "nmm_core/benchmark.py" not in names
    assert reproduce.library_files("import numpy as np") == []
    # The timing chapter reads one subject's data, not every subject's results: a changed
    # subject must not re-time the machine.
    bench = next(c for c in reproduce.CHAPTERS if c.name == "benchmarks")
    assert bench.inputs != "results"
    assert reproduce.affected_chapters([REPO_ROOT / "nmm_core" / "benchmark.py"]) == ["benchmarks"]
    assert "nmm_S03" in reproduce.affected_chapters([REPO_ROOT / "nmm_core" / "network.py"])
    with pytest.raises(FileNotFoundError, match="does not exist"):
        reproduce.affected_chapters([REPO_ROOT / "nmm_core" / "nothing.py"])


def test_the_code_digest_changes_with_the_modules_code_uses_and_no_others(tmp_path):
    package = tmp_path / "nmm_core"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from . import b\n")
    (package / "b.py").write_text("X = 1\n")
    (package / "c.py").write_text("Y = 1\n")
    code = "from nmm_core import a\nprint(a)"
    before = reproduce.code_digest(code, tmp_path)
    (package / "c.py").write_text("Y = 2\n")  # not imported by a, directly or through b
    assert reproduce.code_digest(code, tmp_path) == before
    (package / "b.py").write_text("X = 2\n")  # imported through a
    changed = reproduce.code_digest(code, tmp_path)
    assert changed != before
    assert reproduce.code_digest(code + "\n# a comment", tmp_path) == changed  # the imports count, not the text


def test_each_chapter_reads_its_own_cohort_variant_and_the_comparison_every_variants_results(tmp_path, monkeypatch):
    """A variant chapter's fingerprint covers its subject's folder in the variant's cohort, not
    the default one's; the comparison's covers the results of every variant."""
    from nmm_core import cohort

    monkeypatch.setenv("NMM_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("NMM_RESULTS_DIR", str(tmp_path / "results"))
    for variant in cohort.MOTOR_CONTROLS:
        folder = cohort.cohort_path(quick=True, motor_control=variant) / "S02"
        folder.mkdir(parents=True)
        (folder / "subject.json").write_text(variant)
    by_name = {c.name: c for c in reproduce.CHAPTERS}
    variant = by_name[f"{reproduce.VARIANT}_S02"]
    assert variant.parameters == {"subject": "S02", "motor_control": reproduce.VARIANT}
    read = reproduce.input_files(variant, {**variant.parameters, "quick": True})
    assert [p.read_text() for p in read] == [reproduce.VARIANT]
    default = by_name["nmm_S02"]
    assert [p.read_text() for p in reproduce.input_files(default, {**default.parameters, "quick": True})] == ["min_effort"]
    for path in ("S02/nmm.json", f"{reproduce.VARIANT}/S02/nmm.json", f"{reproduce.VARIANT}/S02/mse_predictions.npz"):
        (tmp_path / "results" / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "results" / path).write_text("{}")
    comparison = by_name["comparison"]
    found = {str(p.relative_to(tmp_path / "results")) for p in reproduce.input_files(comparison, {"quick": True})}
    assert found == {"S02/nmm.json", f"{reproduce.VARIANT}/S02/nmm.json", f"{reproduce.VARIANT}/S02/mse_predictions.npz"}
    assert reproduce.CHAPTERS.index(variant) < reproduce.CHAPTERS.index(comparison) and comparison.after_subjects
