"""The reproduction runner: jupytext sources -> papermill-executed notebooks -> Jupyter Book.

``python -m nmm_core.reproduce [--quick] [--no-book | --book-only] [--root DIR]``

Each chapter in :data:`CHAPTERS` is executed with its parameters into
``book/_generated/<name>.ipynb``. A notebook is skipped when its source, parameters and the
library's code are unchanged since its last successful run (a fingerprint is stored beside it).
A failing notebook keeps its executed copy as ``<name>.failed.ipynb`` for inspection, the
others still run, and the command exits non-zero naming the notebook and the cell. The book is
then built strictly (``-W -n --keep-going``) without executing anything.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

from .config import REPO_ROOT

SUBJECTS = ("S01", "S02", "S03", "S04", "S05")
#: (executed notebook name, jupytext source name, parameters of the full run, quick overrides)
CHAPTERS: tuple[tuple[str, str, dict, dict], ...] = (
    ("arm_model", "arm_model", {"quick": False}, {"quick": True}),
    ("cohort", "cohort", {"quick": False}, {"quick": True}),
    *((f"nmm_{s}", "nmm_subject", {"subject": s, "quick": False}, {"quick": True}) for s in SUBJECTS),
    *((f"mse_{s}", "mse_subject", {"subject": s, "quick": False}, {"quick": True}) for s in SUBJECTS),
)
GENERATED = Path("book") / "_generated"


def _library_digest() -> str:
    digest = hashlib.sha256()
    for path in sorted((REPO_ROOT / "nmm_core").glob("*.py")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def fingerprint(source: Path, parameters: dict) -> str:
    """SHA-256 of a notebook's source text, its parameters and the library's code."""
    digest = hashlib.sha256(source.read_bytes())
    digest.update(json.dumps(parameters, sort_keys=True).encode())
    digest.update(_library_digest().encode())
    return digest.hexdigest()


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


def execute_chapter(root: Path, name: str, parameters: dict, force: bool = False,
                    source_name: str | None = None) -> str:
    """Execute one chapter; return "skipped" or "executed", raise RuntimeError on failure.

    ``name`` is the executed notebook's name; ``source_name`` the jupytext source's (default:
    the same), so one source can give several chapters (one per subject).
    """
    import jupytext
    import papermill

    source = root / "notebooks" / f"{source_name or name}.md"
    if not source.is_file():
        raise FileNotFoundError(f"Notebook source {source} is missing; expected a jupytext MyST file.")
    out_dir = root / GENERATED
    out_dir.mkdir(parents=True, exist_ok=True)
    output = out_dir / f"{name}.ipynb"
    stamp = out_dir / f"{name}.fingerprint.json"
    failed = out_dir / f"{name}.failed.ipynb"
    key = fingerprint(source, parameters)
    if not force and output.is_file() and stamp.is_file():
        if json.loads(stamp.read_text()).get("fingerprint") == key:
            return "skipped"
    staged_input = out_dir / f".{name}.input.ipynb"
    staged_output = out_dir / f".{name}.running.ipynb"
    jupytext.write(jupytext.read(source), staged_input)
    try:
        papermill.execute_notebook(str(staged_input), str(staged_output), parameters=parameters,
                                   kernel_name="python3", cwd=str(out_dir), progress_bar=False)
    except Exception as error:  # papermill raises its own PapermillExecutionError
        if staged_output.is_file():
            os.replace(staged_output, failed)
        raise RuntimeError(f"notebook {source} failed at {_failed_cell(failed)}; executed copy "
                           f"kept at {failed}") from error
    finally:
        staged_input.unlink(missing_ok=True)
    # Only a complete, successful run replaces the previous executed notebook.
    os.replace(staged_output, output)
    failed.unlink(missing_ok=True)
    stamp.write_text(json.dumps({"fingerprint": key, "parameters": parameters}, indent=1))
    return "executed"


def build_book(root: Path) -> None:
    """Build the HTML book strictly; raise RuntimeError if Sphinx reports any warning."""
    executable = Path(sys.executable).with_name("jupyter-book")
    command = [str(executable), "build", str(root), "-W", "-n", "--keep-going"]
    result = subprocess.run(command, cwd=root)
    if result.returncode != 0:
        raise RuntimeError(f"the book build failed (exit {result.returncode}): {' '.join(command)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nmm_core.reproduce", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="use the quick parameter set")
    parser.add_argument("--force", action="store_true", help="re-execute even unchanged notebooks")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--no-book", action="store_true", help="execute notebooks only")
    group.add_argument("--book-only", action="store_true", help="build the book only")
    parser.add_argument("--root", type=Path, default=REPO_ROOT, help="book root (default: the repository)")
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    root = args.root.resolve()

    failures = []
    if not args.book_only:
        from tqdm import tqdm

        progress = tqdm(CHAPTERS, desc="notebooks", unit="notebook")
        for name, source_name, full, quick in progress:
            parameters = {**full, **quick} if args.quick else dict(full)
            progress.set_postfix_str(name)
            try:
                status = execute_chapter(root, name, parameters, force=args.force, source_name=source_name)
                progress.write(f"{name}: {status}")
            except (RuntimeError, FileNotFoundError) as error:
                failures.append(str(error))
                progress.write(f"{name}: FAILED: {error}")
    if failures:
        print("\n".join(["Failed notebooks:", *failures]), file=sys.stderr)
        return 1
    if not args.no_book:
        try:
            build_book(root)
        except RuntimeError as error:
            print(error, file=sys.stderr)
            return 1
        print(f"Book: {root / '_build' / 'html' / 'index.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
