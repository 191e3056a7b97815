"""The reproduction runner: jupytext sources -> papermill-executed notebooks -> Jupyter Book.

``python -m nmm_core.reproduce [--quick] [--jobs N] [--force] [--no-book | --book-only] [--root DIR]``

1. The virtual cohort is generated (or found up to date) first, so that the notebooks only read it.
2. Every chapter of :data:`CHAPTERS` is executed with its parameters into
   ``book/_generated/<name>.ipynb``; the independent chapters run in parallel (``--jobs``, default
   the number of cores; in full mode each of them gets its share of the cores as TensorFlow
   threads, :func:`side_by_side_threads`), the comparison after the subject chapters. A chapter's parameters are
   its own, updated by ``reproduce.toml`` (``[full]`` or ``[quick]`` by mode, then
   ``[chapter.<name>]``). The quick run (``--quick``) leaves out the cohort variant's chapters
   but the first subject's (:func:`chapters_for`), and its book leaves them out of its table of
   contents (:func:`book_toc`).
3. A chapter is skipped when its code cells, parameters, the library code it uses (the modules
   it imports and theirs, read from the imports; their docstrings, comments and layout left out,
   :mod:`nmm_core.sources`) and its inputs (its subject's data, or for the comparison every
   results file) are unchanged since its last successful run; the fingerprint is stored beside
   the executed notebook. When only its prose changed (Markdown, cell tags), the executed
   notebook takes the new prose and keeps its outputs, without running.
4. A failing chapter keeps its executed copy as ``<name>.failed.ipynb`` and the previous good
   result, the others still run, chapters that depend on it are not run, and the command exits
   non-zero naming the notebook and the cell.
5. ``results/summary.json`` and ``results/summary.csv`` are written from the subjects' results
   files (:mod:`nmm_core.results`), and the book is built strictly (``-W -n --keep-going``)
   without executing anything (``--book-only --quick``: the quick run's book).
"""

from __future__ import annotations

import argparse
import ast
import concurrent.futures
import contextlib
import dataclasses
import datetime
import hashlib
import json
import multiprocessing
import os
import subprocess
import sys
import threading
import time
import tomllib
from pathlib import Path

import jupytext
import papermill
import yaml
from tqdm import tqdm

from . import __version__, paths
from .cpu import THREAD_VARIABLES, limit_threads, usable_cores
from .cohort import MOTOR_CONTROLS, cohort_dir, cohort_path, is_complete
from .config import variant_subjects
from .files import atomic_write
from .paths import REPO_ROOT
from .public_data import STAND_IN_SUBJECT, find_participant
from .results import write_summary
from .sources import source_code
from .training import cohort_subjects

#: The book's subjects: those of the cohort it is built on (the table of contents names them too).
SUBJECTS = tuple(cohort_subjects())
#: The cohort variant whose subjects get chapters of their own (besides the default cohort).
VARIANT = MOTOR_CONTROLS[1]
GENERATED = Path("book") / "_generated"
PARAMETER_FILE = "reproduce.toml"
#: What Jupyter's client raises when a kernel dies before its first reply (no cell has run).
KERNEL_START_FAILURE = "Kernel died before replying to kernel_info"


@dataclasses.dataclass(frozen=True)
class Chapter:
    """One executed notebook of the book.

    Attributes
    ----------
    name : str
        The executed notebook's name (``book/_generated/<name>.ipynb``).
    source : str
        The jupytext source (``notebooks/<source>.md``); one source can make several chapters.
    parameters : dict
        Its papermill parameters before ``reproduce.toml``'s.
    inputs : str
        What it reads: ``""`` (nothing tracked), ``"cohort"`` (the cohort's index),
        ``"subject"`` (its subject's data folder), ``"results"`` (every results file) or
        ``"public"`` (a public data set's participant, else the stand-in's cohort subject).
    after_subjects : bool
        Runs once every subject chapter has succeeded.
    in_quick : bool
        Runs in quick mode too (False: a full run's chapter only; the quick book leaves it out).
    """

    name: str
    source: str
    parameters: dict
    inputs: str = ""
    after_subjects: bool = False
    in_quick: bool = True


#: Every chapter of the book, in the order of the table of contents.
CHAPTERS: tuple[Chapter, ...] = (
    Chapter("introduction", "introduction", {}),
    Chapter("arm_model", "arm_model", {}),
    Chapter("cohort", "cohort", {}, "cohort"),
    *(Chapter(f"nmm_{s}", "nmm_subject", {"subject": s}, "subject") for s in SUBJECTS),
    *(Chapter(f"mse_{s}", "mse_subject", {"subject": s}, "subject") for s in SUBJECTS),
    # The same protocol on the cohort variant with another motor control (nmm_core.cohort); a
    # quick run takes only the first subject through it (config.variant_subjects).
    *(Chapter(f"{VARIANT}_{s}", "variant_subject", {"subject": s, "motor_control": VARIANT}, "subject",
              in_quick=s in variant_subjects(VARIANT, SUBJECTS, quick=True))
      for s in SUBJECTS),
    Chapter("own_data", "own_data", {}, "cohort"),
    Chapter("real_upper_limb", "real_data", {"dataset": "upper-limb-torque", "participant": "S01"}, "public"),
    Chapter("real_elbow", "real_data", {"dataset": "emg-elbow", "participant": ""}, "public"),
    Chapter("comparison", "comparison", {}, "results", after_subjects=True),
    # Timings of the machine: it reads one subject's data, not the subjects' results, so a
    # changed subject does not re-time the machine; it runs last, on an otherwise idle machine.
    Chapter("benchmarks", "benchmarks", {"subject": "S01"}, "subject", after_subjects=True),
)


def chapters_for(quick: bool) -> tuple[Chapter, ...]:
    """The chapters a run of this mode executes and its book shows, in the order of the table
    of contents: every one in full mode, those with ``in_quick`` in quick mode."""
    return tuple(c for c in CHAPTERS if c.in_quick or not quick)


class PeakMemory:
    """Context manager: the peak resident memory (bytes) of this process and all its children
    (e.g. a notebook's kernel), sampled every ``interval`` s in a background thread.

    >>> with PeakMemory() as memory:
    ...     work()
    >>> memory.peak_bytes
    """

    def __init__(self, interval: float = 0.1, pid: int | None = None):
        self.interval, self.pid = interval, pid or os.getpid()
        self.peak_bytes = 0
        self._stop = threading.Event()

    def sample(self) -> int:
        import psutil

        try:
            root = psutil.Process(self.pid)
            processes = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return 0
        total = 0
        for process in processes:
            try:
                total += process.memory_info().rss
            except psutil.Error:  # a child that ended between listing and reading
                pass
        self.peak_bytes = max(self.peak_bytes, total)
        return total

    def _watch(self):
        while not self._stop.wait(self.interval):
            self.sample()

    def __enter__(self):
        self.sample()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.sample()
        return False

    @property
    def peak_mib(self) -> float:
        return self.peak_bytes / 2**20


def chapter_parameters(root: Path, chapter: Chapter, quick: bool) -> dict:
    """The chapter's parameters for a run: its own, then ``reproduce.toml``'s mode table
    (``[full]`` or ``[quick]``) and its ``[chapter.<name>]`` table; ``quick`` is always set."""
    settings = {}
    path = root / PARAMETER_FILE
    if path.is_file():
        try:
            settings = tomllib.loads(path.read_text())
        except tomllib.TOMLDecodeError as error:
            raise ValueError(f"{path} is not valid TOML ({error}); fix the line it names.") from error
    unknown = set(settings.get("chapter", {})) - {c.name for c in CHAPTERS}
    if unknown:
        raise ValueError(f"{path}: [chapter.{sorted(unknown)[0]}] names no chapter; chapters are "
                         f"{', '.join(c.name for c in CHAPTERS)}.")
    return {**chapter.parameters, **settings.get("quick" if quick else "full", {}),
            **settings.get("chapter", {}).get(chapter.name, {}), "quick": quick}


#: The packages whose modules enter a chapter's fingerprint.
PACKAGES = ("nmm_core", "data_download")


def _imported_modules(tree: ast.AST, package: str | None = None) -> set[str]:
    """``"<package>.<module>"`` names of this project's modules imported anywhere in ``tree``
    (function-level imports included); ``package`` resolves relative imports."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(filter(None, [package, base])) if node.level == 1 else base
            names = [base] + [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] in PACKAGES:
                found.add(".".join(parts[:2]) if len(parts) > 1 else parts[0])
    return found


def _module_file(name: str, root: Path) -> Path | None:
    """The source file of ``package`` or ``package.module`` under ``root``, if it exists."""
    parts = name.split(".")
    candidates = ([root / parts[0] / "__init__.py"] if len(parts) == 1 else
                  [root / parts[0] / f"{parts[1]}.py", root / parts[0] / parts[1] / "__init__.py"])
    return next((c for c in candidates if c.is_file()), None)


def library_files(code: str, root: Path = REPO_ROOT) -> list[Path]:
    """The project's source files that ``code`` uses: the modules it imports, everything those
    import in turn (the package's ``__init__`` included), found by reading the imports."""
    pending = _imported_modules(ast.parse(code))
    seen: dict[str, Path] = {}
    while pending:
        name = pending.pop()
        path = _module_file(name, root)
        if name in seen or path is None:
            continue
        seen[name] = path
        package = name.split(".")[0]
        pending |= _imported_modules(ast.parse(path.read_text()), package) | {package}
    return sorted(set(seen.values()))


def _notebook_code(notebook) -> str:
    """The code cells of a notebook read from its jupytext MyST source, joined (IPython magics
    left out)."""
    lines = [line for c in notebook["cells"] if c["cell_type"] == "code" for line in c["source"].splitlines()
             if not line.lstrip().startswith(("%", "!"))]
    return "\n".join(lines)


def code_digest(code: str, root: Path = REPO_ROOT) -> str:
    """SHA-256 of the package version and of the code of the project's source files that
    ``code`` uses (:func:`library_files`, each read by :func:`nmm_core.sources.source_code`):
    what changes when an edit could change what ``code`` computes. A docstring, a comment or a
    reflowed line changes nothing, so it reruns nothing. A notebook's fingerprint takes it of its
    code cells; a script that keeps results (e.g. ``benchmarks/other_cohort.py``) of its own
    text, to rerun only what an edit of the library it imports touched (the script's own lines
    do not enter)."""
    digest = hashlib.sha256(__version__.encode())
    for path in library_files(code, root):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(source_code(path).encode())
    return digest.hexdigest()


def _digest_files(paths) -> str:
    digest = hashlib.sha256()
    for path in sorted(paths):
        digest.update(str(path.name).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def input_files(chapter: Chapter, parameters: dict) -> list[Path]:
    """The files a chapter reads, whose contents enter its fingerprint."""
    if chapter.inputs == "results":  # every variant's subjects' results
        return sorted(p for pattern in ("S*/*", "*/S*/*") for p in paths.results_dir().glob(pattern)
                      if p.suffix in (".json", ".npz"))
    if chapter.inputs == "public":
        dataset = parameters["dataset"]
        folder = find_participant(paths.downloads_dir() / dataset / "data", dataset, parameters["participant"])
        if folder is None:  # the chapter's stand-in, from the cohort of the run's mode
            folder = cohort_path(quick=bool(parameters.get("quick"))) / STAND_IN_SUBJECT
        return sorted(p for p in folder.rglob("*") if p.is_file())
    if chapter.inputs in ("cohort", "subject"):
        if chapter.inputs == "cohort":  # every motor-control variant
            return [p for m in MOTOR_CONTROLS
                    for p in [cohort_path(quick=bool(parameters.get("quick")), motor_control=m) / "cohort.json"]
                    if p.is_file()]
        folder = cohort_path(quick=bool(parameters.get("quick")),
                             motor_control=parameters.get("motor_control", MOTOR_CONTROLS[0]))
        return sorted(p for p in (folder / parameters["subject"]).rglob("*") if p.is_file())
    return []


def affected_chapters(files, root: Path = REPO_ROOT) -> list[str]:
    """The chapters whose fingerprint covers any of ``files`` (library source files): what an
    edit of them reruns (``python -m nmm_core.reproduce --affected-by nmm_core/benchmark.py``)."""
    targets = {Path(f).resolve() for f in files}
    missing = [str(f) for f in files if not Path(f).is_file()]
    if missing:
        raise FileNotFoundError(f"{missing[0]} does not exist; give library files such as nmm_core/benchmark.py.")
    used = {source: set(library_files(_notebook_code(jupytext.read(root / "notebooks" / f"{source}.md")), REPO_ROOT))
            for source in dict.fromkeys(c.source for c in CHAPTERS)}  # each shared source read once
    return [c.name for c in CHAPTERS if targets & used[c.source]]


def keras_backend() -> str:
    """The Keras backend the chapters will use (``KERAS_BACKEND``, default TensorFlow)."""
    return os.environ.get("KERAS_BACKEND", "tensorflow")


def succeeded(status: str) -> bool:
    """Whether a chapter status from :func:`run_chapters` means its notebook is up to date."""
    return status.startswith(("executed", "skipped", "prose updated"))


def _tags(cell) -> list:
    """A notebook cell's tags (none: an empty list)."""
    return cell.get("metadata", {}).get("tags", [])


def _ran_cells(notebook) -> list:
    """The code cells of a notebook but those papermill injected."""
    return [c for c in notebook["cells"] if c["cell_type"] == "code" and "injected-parameters" not in _tags(c)]


def _code_cells(notebook) -> list[tuple[str, bool]]:
    """What a notebook runs: each code cell's source, and whether papermill puts the parameters
    after it (its ``parameters`` tag), in order; the cells papermill injected left out."""
    return [(c["source"] if isinstance(c["source"], str) else "".join(c["source"]), "parameters" in _tags(c))
            for c in _ran_cells(notebook)]


def fingerprint(source: Path, parameters: dict, inputs=(), library_root: Path = REPO_ROOT) -> str:
    """SHA-256 of what a notebook computes: its code cells (and which one takes the parameters),
    its parameters, the Keras backend, the library code it uses (:func:`library_files` under
    ``library_root``, and the version) and the contents of its input files. Editing a module the
    notebook does not reach, or the notebook's prose, does not change it
    (:func:`prose_fingerprint`)."""
    notebook = jupytext.read(source)
    digest = hashlib.sha256(json.dumps(_code_cells(notebook)).encode())
    digest.update(json.dumps(parameters, sort_keys=True).encode())
    digest.update(keras_backend().encode())
    digest.update(code_digest(_notebook_code(notebook), library_root).encode())
    digest.update(_digest_files(list(inputs)).encode())
    return digest.hexdigest()


def prose_fingerprint(source: Path) -> str:
    """SHA-256 of a notebook source's whole text: with :func:`fingerprint` unchanged, a new value
    means an edit of its prose or presentation (Markdown, cell tags) alone."""
    return hashlib.sha256(source.read_bytes()).hexdigest()


_RUN_METADATA = ("papermill", "execution")  # what running a cell writes into its metadata


def _update_prose(source: Path, executed: Path, parameters: dict) -> bool:
    """Rewrite the executed notebook ``executed`` with the Markdown and cell tags of ``source``
    and its own outputs, without running anything. Returns False (nothing written) unless its
    code cells are those of the source, in the same order."""
    fresh = jupytext.read(source)
    done = json.loads(executed.read_text())
    if _code_cells(done) != _code_cells(fresh):
        return False
    ran = iter(_ran_cells(done))
    injected = [c for c in done["cells"] if "injected-parameters" in _tags(c)]
    cells = []
    for cell in fresh["cells"]:
        cell = json.loads(json.dumps(cell))  # plain JSON, as the executed notebook is
        if cell["cell_type"] == "code":
            old = next(ran)  # its outputs and run records; the rest of its metadata from the source
            kept = {k: v for k, v in old.get("metadata", {}).items() if k in _RUN_METADATA}
            cell = {**old, "metadata": {**kept, **cell.get("metadata", {})}}
        cells.append(cell)
        if "parameters" in _tags(cell):
            cells += injected
    done["cells"] = cells
    for index, cell in enumerate(cells):  # nbformat 4.5 wants an id on every cell
        cell.setdefault("id", f"prose-{index}")
    staged = executed.with_name(f".{executed.name}.prose")
    staged.write_text(json.dumps(done, indent=1))
    _present_parameters(staged, parameters)
    os.replace(staged, executed)
    return True


def _failed_cell(notebook_path: Path) -> str:
    """Describe the first cell with an error output in an executed notebook."""
    try:
        cells = json.loads(notebook_path.read_text())["cells"]
    except (OSError, ValueError, KeyError):
        return "unknown cell"
    code_index = 0
    for cell in cells:
        if cell.get("cell_type") != "code":
            continue
        code_index += 1
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                first_line = "".join(cell.get("source", "")).splitlines()[:1]
                return (f"code cell {code_index} ({first_line[0][:60] if first_line else ''!r}): "
                        f"{output.get('ename')}: {output.get('evalue')}")
    return "unknown cell"


QUICK_NOTE = (":::{note}\nThis page was executed with the quick parameter set (`quick = True`): a "
              "shortened run that checks the whole pipeline in minutes. Its numbers differ from the full "
              "run's (`make reproduce`).\n:::")


def _present_parameters(notebook_path: Path, parameters: dict) -> None:
    """Hide the parameter cells in the book (the notebook keeps them) and, after a quick run,
    put a note under the page's title saying so."""
    notebook = json.loads(notebook_path.read_text())
    cells = notebook["cells"]
    for cell in cells:
        tags = cell.setdefault("metadata", {}).setdefault("tags", [])
        if ("parameters" in tags or "injected-parameters" in tags) and "remove-cell" not in tags:
            tags.append("remove-cell")
    if parameters.get("quick"):
        title = next((i for i, c in enumerate(cells)
                      if c["cell_type"] == "markdown" and "".join(c["source"]).lstrip().startswith("# ")), -1)
        cells.insert(title + 1, {"cell_type": "markdown", "id": "quick-note", "metadata": {},
                                 "source": QUICK_NOTE})
    notebook_path.write_text(json.dumps(notebook, indent=1))


def execute_chapter(root: Path, name: str, parameters: dict, force: bool = False,
                    source_name: str | None = None, inputs=()) -> str:
    """Execute one chapter; return "skipped", "prose updated" (only its Markdown or cell tags
    changed: the executed notebook takes them and keeps its outputs) or "executed"; raise
    RuntimeError on failure.

    ``name`` is the executed notebook's name; ``source_name`` the jupytext source's (default:
    the same), so one source can give several chapters (one per subject). ``inputs`` are the
    files whose contents decide, with the source, parameters and library, whether it reruns.
    """
    source = root / "notebooks" / f"{source_name or name}.md"
    if not source.is_file():
        raise FileNotFoundError(f"Notebook source {source} is missing; expected a jupytext MyST file.")
    out_dir = root / GENERATED
    out_dir.mkdir(parents=True, exist_ok=True)
    output = out_dir / f"{name}.ipynb"
    stamp = out_dir / f"{name}.fingerprint.json"
    failed = out_dir / f"{name}.failed.ipynb"
    key, prose = fingerprint(source, parameters, inputs), prose_fingerprint(source)
    if not force and output.is_file() and stamp.is_file():
        record = json.loads(stamp.read_text())
        if record.get("fingerprint") == key:
            if record.get("prose") == prose:
                return "skipped"
            if _update_prose(source, output, parameters):  # only the prose changed: nothing reruns
                atomic_write(stamp, json.dumps({**record, "prose": prose}, indent=1))
                return "prose updated"
    staged_input = out_dir / f".{name}.input.ipynb"
    staged_output = out_dir / f".{name}.running.ipynb"
    jupytext.write(jupytext.read(source), staged_input)
    started = time.perf_counter()
    try:
        with PeakMemory(interval=0.2) as memory:  # this process and the notebook's kernel
            for attempt in (1, 2):
                try:
                    papermill.execute_notebook(str(staged_input), str(staged_output), parameters=parameters,
                                               kernel_name="python3", cwd=str(out_dir), progress_bar=False)
                    break
                except RuntimeError as error:
                    # A kernel that died before it answered (e.g. its port was taken by another
                    # kernel starting at the same moment) ran no cell: start it once more.
                    if attempt == 2 or KERNEL_START_FAILURE not in str(error):
                        raise
    except Exception as error:  # papermill raises its own PapermillExecutionError
        if staged_output.is_file():
            os.replace(staged_output, failed)
        raise RuntimeError(f"notebook {source} failed at {_failed_cell(failed)}; executed copy "
                           f"kept at {failed}") from error
    finally:
        staged_input.unlink(missing_ok=True)
    _present_parameters(staged_output, parameters)
    # Only a complete, successful run replaces the previous executed notebook.
    os.replace(staged_output, output)
    failed.unlink(missing_ok=True)
    atomic_write(stamp, json.dumps({
        "fingerprint": key, "prose": prose, "parameters": parameters, "seconds": round(time.perf_counter() - started, 2),
        "peak_memory_mib": round(memory.peak_mib, 1), "keras_backend": keras_backend(),
        "executed_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}, indent=1))
    return "executed"


def book_root() -> Path:
    """The book root of the notebook running now (the runner executes every notebook in
    ``<root>/book/_generated``); the repository when run elsewhere."""
    cwd = Path.cwd()
    return cwd.parents[1] if cwd.parts[-2:] == GENERATED.parts else REPO_ROOT


def chapter_timings(root: Path = REPO_ROOT) -> dict[str, dict]:
    """``{chapter: {"seconds", "peak_memory_mib", "keras_backend", "executed_at", "quick"}}``
    of each chapter's last successful execution (read from the stamps beside the notebooks;
    the peak memory is the runner's worker and the notebook's kernel together)."""
    out = {}
    for chapter in CHAPTERS:
        stamp = root / GENERATED / f"{chapter.name}.fingerprint.json"
        if stamp.is_file():
            record = json.loads(stamp.read_text())
            if "seconds" in record:
                out[chapter.name] = {k: record.get(k) for k in ("seconds", "peak_memory_mib", "keras_backend",
                                                                "executed_at")}
                out[chapter.name]["quick"] = record["parameters"].get("quick")
    return out


@contextlib.contextmanager
def timed_step(root: Path, step: str):
    """Run a step outside the notebooks (cohort generation, book build) and, when it succeeds,
    record its time and peak memory in ``book/_generated/steps.json`` (:func:`step_timings`)."""
    started = time.perf_counter()
    with PeakMemory(interval=0.2) as memory:
        yield
    path = root / GENERATED / "steps.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    steps = step_timings(root)
    steps[step] = {"seconds": round(time.perf_counter() - started, 2), "peak_memory_mib": round(memory.peak_mib, 1),
                   "at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}
    atomic_write(path, json.dumps(steps, indent=1))


def step_timings(root: Path = REPO_ROOT) -> dict[str, dict]:
    """``{step: {"seconds", "peak_memory_mib", "at"}}`` of the last run of each step recorded by
    :func:`timed_step`."""
    path = root / GENERATED / "steps.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def side_by_side_threads(jobs: int, quick: bool = False) -> dict[str, str]:
    """The environment of a full run's chapters that run ``jobs`` at a time: each of
    TensorFlow's thread pools sized to the chapter's share of the cores (one thread with the
    default ``--jobs``, as many jobs as cores). ``{}`` (TensorFlow's defaults, a thread per core)
    for one job at a time, in quick mode, or when the user set either variable.

    Two full-plan trainings (XLA) side by side with one thread each did about a tenth more work
    per minute than with TensorFlow's defaults, which make both processes contend for every
    core; two quick-plan ones (no XLA) gained nothing (``benchmarks/parallel_training.py
    [--quick]``). A whole full run was not measurably faster for it (its protocol chapters took
    as long as before, within the machine's hour-to-hour spread). With XLA the thread count
    also enters the rounding: three epochs of S01 with one thread and with two ended with
    weights apart in their last bits (without XLA, the same to the bit). A count that follows
    from ``--jobs`` rather than from the machine keeps a full run's arithmetic the same on
    machines with more or fewer cores.
    """
    if jobs <= 1 or quick or any(v in os.environ for v in THREAD_VARIABLES):
        return {}
    return limit_threads(max(1, usable_cores() // jobs))


@contextlib.contextmanager
def _environment(variables: dict[str, str]):
    """Set environment variables (inherited by the kernels started meanwhile), then restore them."""
    saved = {k: os.environ.get(k) for k in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _run_chapter(root: Path, chapter: Chapter, parameters: dict, force: bool,
                 environment: dict[str, str] | None = None) -> tuple[str, str]:
    """Worker: execute one chapter in its own process, its kernel with ``environment`` added to
    this process's; returns (name, status or error text).

    The kernel's own output (library start-up messages, warnings) goes to
    ``book/_generated/<name>.log`` rather than over the progress bar.
    """
    log = root / GENERATED / f"{chapter.name}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    saved = [os.dup(1), os.dup(2)]
    with open(log, "w") as stream, _environment(environment or {}):
        os.dup2(stream.fileno(), 1)
        os.dup2(stream.fileno(), 2)
        try:
            inputs = input_files(chapter, parameters)
            return chapter.name, execute_chapter(root, chapter.name, parameters, force, chapter.source, inputs)
        except (RuntimeError, FileNotFoundError) as error:
            return chapter.name, f"FAILED: {error} (kernel log: {log})"
        finally:
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)


def run_chapters(root: Path, chapters, quick: bool, jobs: int, force: bool = False) -> dict[str, str]:
    """Execute chapters, the independent ones ``jobs`` at a time (in full mode each with its
    share of the cores as TensorFlow threads, :func:`side_by_side_threads`), then the summary and the
    chapters that come after the subjects (with TensorFlow's default threads: the benchmarks
    chapter times the machine as a user would run it). Returns ``{name: status}``: ``"executed"``,
    ``"skipped"``, ``"prose updated"``, ``"FAILED: <why>"`` or ``"not run: <why>"`` (and ``"results summary"``:
    ``"FAILED: <why>"`` when the summary of the subjects' results cannot be written)."""
    parameters = {c.name: chapter_parameters(root, c, quick) for c in chapters}
    statuses: dict[str, str] = {}
    progress = tqdm(total=len(chapters), desc="notebooks", unit="notebook")
    context = multiprocessing.get_context("spawn")  # fresh interpreters: no state shared with the runner
    with concurrent.futures.ProcessPoolExecutor(max_workers=max(1, jobs), mp_context=context) as pool:
        for stage in (False, True):
            batch = [c for c in chapters if c.after_subjects == stage]
            blocker = None
            if stage:
                subject_chapters = {c.name for c in chapters if c.inputs == "subject" and not c.after_subjects}
                failed = [name for name, status in statuses.items()
                          if name in subject_chapters and not succeeded(status)]
                if failed:
                    blocker = f"not run: {', '.join(failed)} failed"
                else:  # every subject chapter is up to date: summarise, once per run
                    try:
                        write_summary(quick)
                    except ValueError as error:
                        statuses["results summary"] = f"FAILED: {error}"
                        blocker = f"not run: the results summary failed: {error}"
            if blocker:
                for c in batch:
                    statuses[c.name] = blocker
                    progress.write(f"{c.name}: {blocker}")
                    progress.update()
                continue
            # Longest first (the NMM and variant chapters train networks), so the cores stay busy
            # to the end.
            batch.sort(key=lambda c: not c.name.startswith(("nmm_", f"{VARIANT}_")))
            environment = {} if stage else side_by_side_threads(jobs, quick)
            futures = [pool.submit(_run_chapter, root, c, parameters[c.name], force, environment) for c in batch]
            for future in concurrent.futures.as_completed(futures):
                name, status = future.result()
                statuses[name] = status
                progress.write(f"{name}: {status}")
                progress.update()
    progress.close()
    return statuses


def publishing_config(root: Path, repository_url: str, branch: str = "main") -> Path:
    """Write ``_build/_config.publish.yml``: the book's ``_config.yml`` plus the repository,
    issue and Binder launch buttons for ``repository_url``; return its path."""
    settings = yaml.safe_load((root / "_config.yml").read_text())
    settings["repository"] = {"url": repository_url, "branch": branch}
    settings["launch_buttons"] = {"binderhub_url": "https://mybinder.org", "notebook_interface": "classic"}
    settings.setdefault("html", {}).update(use_repository_button=True, use_issues_button=True)
    path = root / "_build" / "_config.publish.yml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(settings, sort_keys=False))
    return path


def _without(entries: list, files: set) -> list:
    """The entries with those naming one of ``files`` left out (and a part or chapter list that
    loses every entry with them)."""
    kept = []
    for entry in entries:
        if entry.get("file") in files:
            continue
        entry = dict(entry)
        for key in ("parts", "chapters", "sections"):
            if key in entry:
                entry[key] = _without(entry[key], files)
                if not entry[key]:
                    del entry[key]
        if "file" in entry or any(k in entry for k in ("parts", "chapters", "sections")):
            kept.append(entry)
    return kept


def book_toc(root: Path, quick: bool) -> Path:
    """The table of contents of the book of this mode: ``_toc.yml`` in full mode; in quick mode
    :data:`nmm_core.paths.QUICK_TOC`, written from it without the chapters a quick run does not
    execute (:func:`chapters_for`)."""
    toc = root / "_toc.yml"
    if not quick:
        return toc
    left_out = {f"{GENERATED.as_posix()}/{c.name}" for c in CHAPTERS if not c.in_quick}
    settings = yaml.safe_load(toc.read_text())
    settings["parts"] = _without(settings.get("parts", []), left_out)
    path = root / paths.QUICK_TOC
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, yaml.safe_dump(settings, sort_keys=False))
    return path


def build_book(root: Path, quick: bool = False) -> None:
    """Build the HTML book strictly, with the chapters of a run of this mode (:func:`book_toc`);
    raise RuntimeError if Sphinx reports any warning.

    With ``NMM_REPOSITORY_URL`` set, the book gets the buttons of that repository
    (:func:`publishing_config`).
    """
    absent = [c.name for c in chapters_for(quick) if not (root / GENERATED / f"{c.name}.ipynb").is_file()]
    if absent:
        other = "" if quick else "; after a quick run, build its book with make book QUICK=1"
        more = f" and {len(absent) - 1} other chapters" if len(absent) > 1 else ""
        raise RuntimeError(f"the book needs {root / GENERATED / absent[0]}.ipynb{more}, which no run has executed: "
                           f"run make reproduce{' QUICK=1' if quick else ''}{other}.")
    executable = Path(sys.executable).with_name("jupyter-book")
    command = [str(executable), "build", str(root), "-W", "-n", "--keep-going"]
    if quick:
        command += ["--toc", str(book_toc(root, quick))]
    if os.environ.get("NMM_REPOSITORY_URL"):
        command += ["--config", str(publishing_config(root, os.environ["NMM_REPOSITORY_URL"]))]
    result = subprocess.run(command, cwd=root)
    if result.returncode != 0:
        raise RuntimeError(f"the book build failed (exit {result.returncode}): {' '.join(command)}")


def prepare_cohort(quick: bool) -> None:
    """Generate the run's cohorts, every motor-control variant (every chapter, the real-data
    stand-ins included, reads the cohorts of the run's mode), once, before any chapter runs; the
    terminal gets a progress bar and one summary line for each one generated, one line for each
    one found up to date."""
    for motor_control in MOTOR_CONTROLS:
        home = cohort_path(quick, motor_control=motor_control)
        if is_complete(home, quick, motor_control=motor_control):
            label = "quick" if quick else "full"
            label += "" if motor_control == MOTOR_CONTROLS[0] else f", {motor_control}"
            print(f"cohort ({label}): up to date in {home}")
        else:
            cohort_dir(quick=quick, motor_control=motor_control)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nmm_core.reproduce", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="use the quick parameter set (and, with --book-only, build the quick run's book)")
    parser.add_argument("--force", action="store_true", help="re-execute even unchanged notebooks")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                        help="notebooks executed at once (default: the number of cores)")
    parser.add_argument("--only", nargs="+", metavar="CHAPTER", help="execute only these chapters")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--no-book", action="store_true", help="execute notebooks only")
    group.add_argument("--book-only", action="store_true", help="build the book only")
    parser.add_argument("--root", type=Path, default=REPO_ROOT, help="book root (default: the repository)")
    parser.add_argument("--affected-by", nargs="+", metavar="FILE",
                        help="list the chapters an edit of these library files would rerun, and stop")
    args = parser.parse_args(argv)
    if args.affected_by:
        for name in affected_chapters(args.affected_by, args.root.resolve()):
            print(name)
        return 0
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    root = args.root.resolve()
    chapters = chapters_for(args.quick)
    if args.only:
        unknown = set(args.only) - {c.name for c in CHAPTERS}
        if unknown:
            parser.error(f"unknown chapter {sorted(unknown)[0]!r}; chapters: {', '.join(c.name for c in CHAPTERS)}")
        full_only = set(args.only) - {c.name for c in chapters}
        if full_only:
            parser.error(f"chapter {sorted(full_only)[0]!r} runs in full mode only (the quick run takes the cohort "
                         "variant's first subject alone); leave out --quick to run it")
        chapters = tuple(c for c in chapters if c.name in args.only)

    failures = []
    if not args.book_only:
        try:
            for chapter in chapters:
                chapter_parameters(root, chapter, args.quick)  # a bad reproduce.toml stops here
        except ValueError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        with timed_step(root, "cohorts (generated or found)"):
            prepare_cohort(args.quick)
        statuses = run_chapters(root, chapters, args.quick, args.jobs, args.force)
        failures = [f"{name}: {status}" for name, status in statuses.items() if not succeeded(status)]
    if failures:
        print("\n".join(["Failed notebooks:", *failures]), file=sys.stderr)
        return 1
    if not args.book_only:
        print(f"Results: {paths.results_dir() / 'summary.json'}, {paths.results_dir() / 'summary.csv'}")
    if not args.no_book:
        try:
            with timed_step(root, "book build"):
                build_book(root, args.quick)
        except RuntimeError as error:
            print(error, file=sys.stderr)
            return 1
        print(f"Book: {root / '_build' / 'html' / 'index.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
