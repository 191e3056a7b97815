"""The reproduction's summary: every subject's results files gathered into one JSON and one CSV.

Each subject chapter writes ``results/<subject>/<method>.json`` (``nmm`` or ``mse``; see
:func:`nmm_core.training.write_results`), all scores on the held-out trials. This module reads
them back, checks them, and writes

- ``results/summary.json``: ``{"mode": "quick" | "full", "subjects": {subject: {method:
  {"BRA": {"r", "rmse"}, "TRImed": {"r", "rmse"}, "torque": {"rmse_Nm", "nrmse", "r2"},
  "train_seconds", "seed", "per_load": {load: {...}}}}}, "mean": {method: {...}},
  "missing": [...], "versions": {package: version}}``; an undefined score is ``null``;
- ``results/summary.csv``: the same in long form, one value per row (``subject, method,
  load_kg, quantity, metric, value``; ``load_kg`` is ``all`` for the pooled held-out trials).
"""

from __future__ import annotations

import csv
import io
import json
import math
import platform
from importlib import metadata
from pathlib import Path

from .config import DEEP_MUSCLES, results_dir

METHODS = ("nmm", "mse")
SCORES = {**{m: ("r", "rmse") for m in DEEP_MUSCLES}, "torque": ("rmse_Nm", "nrmse", "r2")}
PACKAGES = ("numpy", "scipy", "tensorflow-cpu", "keras", "opensim", "matplotlib", "jupyter-book",
            "papermill", "jupytext")


def versions() -> dict:
    """Python, this package and the pinned stack's versions (without importing them)."""
    found = {"python": platform.python_version()}
    for name in ("nmm", *PACKAGES):
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = None
    return found


def _scores(block: dict, where: str) -> dict:
    out = {}
    for quantity, metrics in SCORES.items():
        if quantity not in block:
            raise ValueError(f"{where}: no {quantity!r} scores; rerun the chapter that writes it.")
        out[quantity] = {}
        for metric in metrics:
            value = block[quantity].get(metric, "absent")
            if value == "absent":
                raise ValueError(f"{where}: {quantity}.{metric} is missing; rerun the chapter that writes it.")
            out[quantity][metric] = None if value is None else float(value)
    return out


def load_results(directory: Path | None = None, quick: bool | None = None) -> tuple[dict, list[str]]:
    """``({subject: {method: scores}}, missing)`` from ``<directory>/S*/<method>.json``.

    Only files of the given mode (``quick``; None: any) are taken; ``missing`` lists the
    subject/method pairs without a file of that mode.
    """
    directory = Path(directory) if directory is not None else results_dir()
    subjects: dict = {}
    missing = []
    for folder in sorted(p for p in directory.glob("S*") if p.is_dir()):
        for method in METHODS:
            path = folder / f"{method}.json"
            if not path.is_file():
                missing.append(f"{folder.name}/{method}")
                continue
            try:
                data = json.loads(path.read_text())
            except ValueError as error:
                raise ValueError(f"{path} is not valid JSON ({error}); delete it and rerun its chapter.") from error
            if quick is not None and bool(data.get("quick")) != quick:
                missing.append(f"{folder.name}/{method}")
                continue
            entry = _scores(data, str(path))
            entry["train_seconds"] = float(data["train_seconds"])
            entry["seed"] = data.get("seed")
            entry["per_load"] = {load: _scores(block, f"{path} (load {load} kg)")
                                 for load, block in data.get("per_load", {}).items()}
            entry["per_trial"] = {name: _scores(block, f"{path} (trial {name})")
                                  for name, block in data.get("per_trial", {}).items()}
            subjects.setdefault(folder.name, {})[method] = entry
    return subjects, missing


def mean_defined(values):
    """Mean of the defined (not None, finite) values; None when there are none."""
    finite = [v for v in values if v is not None and math.isfinite(v)]
    return sum(finite) / len(finite) if finite else None


def summarise(subjects: dict) -> dict:
    """Mean of every score over the subjects, per method (undefined scores left out)."""
    means = {}
    for method in METHODS:
        entries = [s[method] for s in subjects.values() if method in s]
        if not entries:
            continue
        means[method] = {q: {m: mean_defined([e[q][m] for e in entries]) for m in metrics} for q, metrics in SCORES.items()}
        means[method]["train_seconds"] = mean_defined([e["train_seconds"] for e in entries])
        means[method]["subjects"] = len(entries)
    return means


def _csv_rows(subjects: dict):
    for subject, methods in subjects.items():
        for method, entry in methods.items():
            blocks = [("all", entry)] + list(entry["per_load"].items())
            for load, block in blocks:
                for quantity, metrics in SCORES.items():
                    for metric in metrics:
                        yield [subject, method, load, quantity, metric, block[quantity][metric]]
            yield [subject, method, "all", "training", "seconds", entry["train_seconds"]]


def write_summary(quick: bool | None = None, directory: Path | None = None) -> list[Path]:
    """Write ``summary.json`` and ``summary.csv`` in the results folder; return their paths.

    ``quick`` selects the mode's results files; None takes the mode of the newest one.
    """
    directory = Path(directory) if directory is not None else results_dir()
    if quick is None:
        newest = max(directory.glob("S*/*.json"), key=lambda p: p.stat().st_mtime, default=None)
        quick = bool(json.loads(newest.read_text()).get("quick")) if newest else False
    subjects, missing = load_results(directory, quick)
    summary = {"mode": "quick" if quick else "full",
               "subjects": {s: {m: {k: v for k, v in e.items() if k != "per_trial"} for m, e in methods.items()}
                            for s, methods in subjects.items()},
               "mean": summarise(subjects), "missing": missing, "versions": versions()}
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(["subject", "method", "load_kg", "quantity", "metric", "value"])
    writer.writerows([row[:-1] + ["" if row[-1] is None else repr(row[-1])] for row in _csv_rows(subjects)])
    for name, content in (("summary.json", json.dumps(summary, indent=1, allow_nan=False)),
                          ("summary.csv", text.getvalue())):
        path = directory / name
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(content)
        tmp.replace(path)
        paths.append(path)
    return paths
