"""The reproduction's summary: every subject's results files gathered into one JSON and one CSV.

Each subject chapter writes ``results/<subject>/<method>.json`` (``nmm``, ``mse`` or
``nmm_synergy``, with
:func:`write_results`) and ``<method>_predictions.npz`` (:func:`save_predictions`), all on the
held-out trials. This module writes them, reads them back, checks them, and writes

- ``results/summary.json``: ``{"mode": "quick" | "full", "subjects": {subject: {method:
  {"BRA": {"r", "rmse", "r_lowpass", "rmse_lowpass", "constant", "truth_constant"}, "TRImed":
  {...}, "torque": {"rmse_Nm", "nrmse", "r2"}, "train_seconds", "seed", "seeds", "seed_sd": {"BRA": sd of the
  members' r, "TRImed": ...}, "per_load": {load:
  {...}}, "per_posture": {"hanging": {...}, "overhead": {...}}, "median_trial": {"BRA": {"r",
  "rmse", "trials"}, "TRImed": {...}}}}}, "mean": {method: {...}}, "claim": {"BRA": {"status",
  "effect", "ci", "p", ...}, "TRImed": {...}}, "missing": [...], "versions": {package:
  version}}``. Scores follow :mod:`nmm_core.scoring`: a constant estimate has ``r`` 0.0 and
  ``"constant": true``; ``null`` only where the truth itself is constant (for every method
  alike). The claim blocks come from :mod:`nmm_core.stats` on :data:`PRIMARY_SCORE`;
- ``results/summary.csv``: the same in long form, one value per row (``subject, method,
  subset, quantity, metric, value``; ``subset`` is ``all`` for the pooled held-out trials,
  ``load <kg>``, ``posture <name>`` or ``median trial``).
"""

from __future__ import annotations

import csv
import io
import json
import math
import platform
from importlib import metadata
from pathlib import Path
from typing import Collection, Mapping, Sequence

import numpy as np

from . import stats
from .config import DEEP_MUSCLES, EXTENSORS, FLEXORS, MOTOR_CONTROLS, variant_subjects
from .files import atomic_path, atomic_write
from .paths import results_dir

#: ``nmm``: the paper's method; ``mse``: the synergy extrapolation baseline; ``nmm_synergy``:
#: an NMM with a synergy prior (beyond the paper; never reported as the NMM).
METHODS = ("nmm", "mse", "nmm_synergy")
SCORES = {**{m: ("r", "rmse", "r_lowpass", "rmse_lowpass") for m in DEEP_MUSCLES},
          "torque": ("rmse_Nm", "nrmse", "r2")}
FLAGS = ("constant", "truth_constant")
#: The score that decides the claim's status (fixed before any result was seen): the median
#: over a subject's held-out trials of the per-trial r against the true excitation in EMG time.
#: It judges the shape within a movement; a pooled r over trials mostly measures the level
#: differences between postures and loads.
PRIMARY_SCORE = ("median_trial", "r")
PRIMARY_LABEL = "the median per-trial r"
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
        if quantity in DEEP_MUSCLES:
            for flag in FLAGS:
                if not isinstance(block[quantity].get(flag), bool):
                    raise ValueError(f"{where}: {quantity}.{flag} is missing or not true/false; rerun the "
                                     "chapter that writes it.")
                out[quantity][flag] = block[quantity][flag]
    return out


def _median_trial(block: dict, where: str) -> dict:
    out = {}
    for muscle in DEEP_MUSCLES:
        entry = block.get(muscle)
        if not isinstance(entry, dict) or "r" not in entry or "rmse" not in entry:
            raise ValueError(f"{where}: median_trial.{muscle} is missing; rerun the chapter that writes it.")
        out[muscle] = {k: (None if entry.get(k) is None else float(entry[k])) for k in ("r", "rmse")}
        out[muscle]["trials"] = int(entry.get("trials", 0))
    return out


def _json_ready(value):
    """Plain JSON types; NaN (e.g. Pearson r of a constant prediction) becomes null."""
    if isinstance(value, dict):
        return {str(k): _json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_ready(v) for v in value]
    if isinstance(value, (float, np.floating)):
        return None if not np.isfinite(value) else float(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    return value


def write_results(path, method: str, subject: str, scores: dict, extra: dict | None = None) -> Path:
    """Write one subject's results file (strict JSON, atomically), read back by
    :func:`load_results`; the per-trial ``"predictions"`` of ``scores`` are left out (they go
    to :func:`save_predictions`)."""
    clean = {k: v for k, v in scores.items() if k != "predictions"}
    payload = _json_ready({"subject": subject, "method": method, **clean, **(extra or {})})
    return atomic_write(path, json.dumps(payload, indent=1, allow_nan=False))


def save_predictions(path, curves: dict) -> Path:
    """Save one method's held-out curves (:func:`nmm_core.training.prediction_curves`) to one
    ``.npz`` file (keys ``<trial>/<field>``), for the comparison chapter's figures."""
    fields = {f"{name}/{key}": value for name, curve in curves.items() for key, value in curve.items()
              if value is not None}
    with atomic_path(path, suffix=".npz") as tmp:
        np.savez_compressed(tmp, **fields)
    return Path(path)


def load_predictions(path) -> dict:
    """``{trial: {field: array}}`` from :func:`save_predictions`."""
    out: dict = {}
    with np.load(path) as data:
        for key in data.files:
            trial, field = key.split("/", 1)
            out.setdefault(trial, {})[field] = data[key]
    return out


def read_results_file(subject: str, method: str, directory: Path | None = None) -> dict:
    """The whole results file ``<directory>/<subject>/<method>.json`` (identified parameters,
    ablations and diagnoses included), with a clear error when it is absent or broken."""
    path = (Path(directory) if directory is not None else results_dir()) / subject / f"{method}.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist; run its chapter (python -m nmm_core.reproduce).")
    try:
        return json.loads(path.read_text())
    except ValueError as error:
        raise ValueError(f"{path} is not valid JSON ({error}); delete it and rerun its chapter.") from error


def load_results(directory: Path | None = None, quick: bool | None = None,
                 only: Collection[str] | None = None) -> tuple[dict, list[str]]:
    """``({subject: {method: scores}}, missing)`` from ``<directory>/S*/<method>.json``.

    Only files of the given mode (``quick``; None: any) are taken, and only the subjects in
    ``only`` (None: every subject folder); ``missing`` lists the subject/method pairs without
    a file of that mode.
    """
    directory = Path(directory) if directory is not None else results_dir()
    subjects: dict = {}
    missing = []
    for folder in sorted(p for p in directory.glob("S*") if p.is_dir() and (only is None or p.name in only)):
        for method in METHODS:
            path = folder / f"{method}.json"
            if not path.is_file():
                missing.append(f"{folder.name}/{method}")
                continue
            data = read_results_file(folder.name, method, directory)
            if quick is not None and bool(data.get("quick")) != quick:
                missing.append(f"{folder.name}/{method}")
                continue
            entry = _scores(data, str(path))
            entry["train_seconds"] = float(data["train_seconds"])
            entry["seed"] = data.get("seed")
            entry["seeds"] = int(data.get("seeds", 1))  # ensemble members (seeds) behind the estimate
            entry["seed_sd"] = {m: (data.get("seed_sd") or {}).get(m) for m in DEEP_MUSCLES}
            entry["per_load"] = {load: _scores(block, f"{path} (load {load} kg)")
                                 for load, block in data.get("per_load", {}).items()}
            entry["per_posture"] = {name: _scores(block, f"{path} (posture {name})")
                                    for name, block in data.get("per_posture", {}).items()}
            entry["median_trial"] = _median_trial(data.get("median_trial", {}), str(path))
            entry["per_trial"] = {name: _scores(block, f"{path} (trial {name})")
                                  for name, block in data.get("per_trial", {}).items()}
            subjects.setdefault(folder.name, {})[method] = entry
    return subjects, missing


def seed_spread(values) -> tuple:
    """``(mean, sd)`` of the defined values of a score over ensemble members (seeds): sd with
    ``ddof=1``, None with fewer than two defined values (mean None with none)."""
    finite = [float(v) for v in values if v is not None and math.isfinite(v)]
    if not finite:
        return None, None
    return float(np.mean(finite)), (float(np.std(finite, ddof=1)) if len(finite) > 1 else None)


def mean_defined(values):
    """Mean of the defined (not None, finite) values; None when there are none."""
    finite = [v for v in values if v is not None and math.isfinite(v)]
    return sum(finite) / len(finite) if finite else None


def summarise(subjects: dict) -> dict:
    """Mean of every score over the subjects, per method.

    A constant estimate's r is 0 and counts; only scores undefined for every method (the truth
    constant) are left out, and ``"subjects"`` says how many entries there were."""
    means = {}
    for method in METHODS:
        entries = [s[method] for s in subjects.values() if method in s]
        if not entries:
            continue
        means[method] = {q: {m: mean_defined([e[q][m] for e in entries]) for m in metrics} for q, metrics in SCORES.items()}
        means[method]["median_trial"] = {m: {k: mean_defined([e["median_trial"][m][k] for e in entries])
                                             for k in ("r", "rmse")} for m in DEEP_MUSCLES}
        postures = sorted({p for e in entries for p in e.get("per_posture", {})})
        means[method]["per_posture"] = {
            p: {m: {k: mean_defined([e["per_posture"][p][m][k] for e in entries if p in e["per_posture"]])
                    for k in ("r", "rmse", "r_lowpass")} for m in DEEP_MUSCLES} for p in postures}
        means[method]["constant"] = {m: sum(e[m]["constant"] for e in entries) for m in DEEP_MUSCLES}
        means[method]["train_seconds"] = mean_defined([e["train_seconds"] for e in entries])
        means[method]["seeds"] = max(e.get("seeds", 1) for e in entries)
        means[method]["seed_sd"] = {m: mean_defined([(e.get("seed_sd") or {}).get(m) for e in entries])
                                    for m in DEEP_MUSCLES}
        means[method]["subjects"] = len(entries)
    return means


def surface_synergists(muscle: str) -> tuple[str, ...]:
    """The recorded muscles that act with a deep ``muscle`` at the elbow: the other flexors of the
    brachialis, the other extensors of the medial triceps (``config.FLEXORS`` and
    ``config.EXTENSORS``)."""
    group = FLEXORS if muscle in FLEXORS else EXTENSORS
    return tuple(m for m in group if m not in DEEP_MUSCLES)


#: The fields of a results file that :func:`member_diagnosis` reads, per kind of ensemble: an
#: NMM's members (seeds) and the synergy baseline's restarts (:func:`nmm_core.protocol.restart_members`).
MEMBER_FIELDS = {"members": ("seed_scores", "member_validation_rmse", "member_parameters"),
                 "restarts": ("restart_scores", "restart_validation_rmse", "restart_parameters")}


def member_diagnosis(subjects: Mapping[str, dict], kind: str = "members") -> dict:
    """Why the members of one NMM ensemble disagree, from each subject's results file (``{subject:
    results dict}`` with ``"seed_scores"``, ``"member_validation_rmse"`` and
    ``"member_parameters"``; subjects without them are left out). ``kind="restarts"`` reads the
    synergy baseline's restarts instead, the same fit from several starting points
    (:data:`MEMBER_FIELDS`). Reads the truth only through the members' scores: a diagnosis,
    never a choice.

    Per member: its validation torque RMSE relative to the best member's of its subject (the only
    score the protocol may see), and per deep muscle its median per-trial r against the truth and
    the mean strength scale of the deep muscle's recorded synergists
    (:func:`surface_synergists`). Pooled over the subjects' members, per deep muscle, Spearman's
    rank correlation of r with each of the two, both centred on the subject's member mean first,
    so that the correlation is between members of one subject, not between subjects:
    ``"validation_rho"`` (negative: members that fit the validation torque better estimate the
    deep muscle better) and ``"strength_rho"`` (negative: members whose recorded synergists
    became stronger estimate it worse), with ``"members"`` counted and ``"widest_range"``, the
    largest range of r (max - min) over one subject's members.

    Returns ``{"rows": [{"subject", "member", "validation_excess", muscle: {"r", "synergist_strength"}}],
    "max_validation_excess", muscle: {"validation_rho", "strength_rho", "members", "widest_range"}}``
    (a rho is None with fewer than three members or a constant input; a range, None without
    members)."""
    from scipy.stats import spearmanr

    score_field, error_field, parameter_field = MEMBER_FIELDS[kind]
    rows = []
    for subject, entry in subjects.items():
        errors, found = entry.get(error_field), entry.get(parameter_field)
        if not errors or not found or score_field not in entry:
            continue
        best = min(errors)
        for k, (error, parameters) in enumerate(zip(errors, found)):
            strength = parameters["max_isometric_force_scale"]
            row = {"subject": subject, "member": k, "validation_excess": float(error / best - 1.0)}
            for m in DEEP_MUSCLES:
                row[m] = {"r": entry[score_field][m]["median_trial_r"][k],
                          "synergist_strength": float(np.mean([strength[s] for s in surface_synergists(m)]))}
            rows.append(row)
    out = {"rows": rows, "max_validation_excess": max((r["validation_excess"] for r in rows), default=None)}
    for m in DEEP_MUSCLES:
        usable = [r for r in rows if r[m]["r"] is not None and math.isfinite(r[m]["r"])]
        columns = {"r": [], "validation": [], "strength": []}
        ranges = []
        for subject in dict.fromkeys(r["subject"] for r in usable):
            own = [r for r in usable if r["subject"] == subject]
            ranges.append(float(np.ptp([r[m]["r"] for r in own])))
            for key, values in (("r", [r[m]["r"] for r in own]), ("validation", [r["validation_excess"] for r in own]),
                                ("strength", [r[m]["synergist_strength"] for r in own])):
                columns[key] += list(np.asarray(values, dtype=float) - np.mean(values))

        def rho(x):
            if len(x) < 3 or np.ptp(x) == 0 or np.ptp(columns["r"]) == 0:
                return None
            return float(spearmanr(x, columns["r"]).statistic)

        out[m] = {"validation_rho": rho(columns["validation"]), "strength_rho": rho(columns["strength"]),
                  "members": len(usable), "widest_range": max(ranges, default=None)}
    return out


def setting_or_seed(subjects: Mapping[str, dict]) -> dict:
    """Which moves an NMM's validation torque error more, the candidate setting or the random
    start, from each subject's results file (``{subject: results dict}`` with the selection's
    ``"selection"`` rows, each with its ``"validation_rmse"``, and the ensemble's
    ``"member_validation_rmse"``; subjects without both are left out). Reads validation scores
    only: nothing here touches the truth or the held-out trials.

    The selection trains every candidate from one start, so the candidates differ by their
    setting alone; the ensemble trains the chosen setting from several starts, so its members
    differ by their start alone. Per subject, as fractions of the lowest error of each group:
    ``"setting_range"`` (max - min over the candidates), ``"margin"`` (the runner-up's error
    less the winner's) and ``"seed_range"`` (max - min over the members). Where the seeds' range
    exceeds the settings', a different start could move the validation error more than any
    candidate did, and the winner's margin says how narrowly it won.

    Returns ``{"rows": [{"subject", "candidates", "seeds", "setting_range", "margin",
    "seed_range"}], "subjects", "seed_wider"}`` (``"seed_wider"``: on how many of the subjects
    the seeds' range is the wider)."""
    rows = []
    for subject, entry in subjects.items():
        candidates = [row.get("validation_rmse") for row in entry.get("selection") or []]
        members = entry.get("member_validation_rmse") or []
        candidates, members = (np.asarray([v for v in values if v is not None and math.isfinite(v)], dtype=float)
                               for values in (candidates, members))
        if len(candidates) < 2 or len(members) < 2:
            continue
        ordered = np.sort(candidates)
        rows.append({"subject": subject, "candidates": int(len(candidates)), "seeds": int(len(members)),
                     "setting_range": float(np.ptp(candidates) / ordered[0]),
                     "margin": float((ordered[1] - ordered[0]) / ordered[0]),
                     "seed_range": float(np.ptp(members) / members.min())})
    return {"rows": rows, "subjects": len(rows),
            "seed_wider": sum(r["seed_range"] > r["setting_range"] for r in rows)}


def claims(subjects: dict, method: str = "nmm", against: str = "mse") -> dict:
    """``{muscle: claim block}``: ``method`` (by default the NMM) against ``against`` (the
    synergy extrapolation) on :data:`PRIMARY_SCORE`, subjects as the unit
    (:func:`nmm_core.stats.claim`)."""
    out = {}
    for muscle in DEEP_MUSCLES:
        path = (PRIMARY_SCORE[0], muscle, PRIMARY_SCORE[1])
        comparison = stats.paired_comparison(stats.subject_scores(subjects, method, path),
                                             stats.subject_scores(subjects, against, path))
        out[muscle] = stats.claim(comparison, PRIMARY_LABEL)
    return out


def pooled(cohorts: Mapping[str, dict]) -> dict:
    """The subjects of several cohorts as one set, keyed ``"<cohort>/<subject>"``: ``cohorts``
    maps a cohort's label to its ``{subject: {method: scores}}`` (:func:`load_results`). Subjects
    of cohorts drawn with different seeds are different bodies, so each stays one unit of the
    paired statistics (two cohorts of five subjects give ten, and an exact test that can reach
    p = 2 / 2**10)."""
    if any("/" in label for label in cohorts):
        raise ValueError(f"cohort labels must contain no '/': {list(cohorts)}")
    return {f"{label}/{subject}": entry for label, subjects in cohorts.items() for subject, entry in subjects.items()}


def run_complete(folder, stamp: Mapping[str, object]) -> bool:
    """Whether ``folder`` (one subject's results) holds every method's results file and curves,
    each written with ``stamp`` (keys and values it must carry, e.g. the mode, the cohort and a
    code digest): what a rerun may skip. A missing, broken or differently stamped file: False."""
    folder = Path(folder)
    for method in METHODS:
        try:
            data = json.loads((folder / f"{method}.json").read_text())
        except (OSError, ValueError):
            return False
        if any(data.get(key) != value for key, value in stamp.items()):
            return False
        if not (folder / f"{method}_predictions.npz").is_file():
            return False
    return True


#: The cohort variants (:data:`nmm_core.config.MOTOR_CONTROLS`); the first is the default cohort,
#: whose results files are in the results folder itself, the others' in a subfolder by name.
VARIANTS = MOTOR_CONTROLS


def variant_dir(variant: str, directory: Path | None = None) -> Path:
    """The results folder of a cohort variant: ``results/`` for the default (minimum effort),
    ``results/<variant>/`` for the others."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown cohort variant {variant!r}; variants are {', '.join(VARIANTS)}.")
    root = Path(directory) if directory is not None else results_dir()
    return root if variant == VARIANTS[0] else root / variant


def write_run(folder, subject: str, method: str, run, curves: dict, quick: bool) -> Path:
    """Write one method's :class:`nmm_core.protocol.MethodRun` as a subject's results file and
    its held-out ``curves`` (:func:`nmm_core.training.prediction_curves`) as
    ``<folder>/<method>.json`` and ``<method>_predictions.npz``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = write_results(folder / f"{method}.json", method, subject, run.scores,
                         {"train_seconds": run.seconds, "quick": quick, **run.extra})
    save_predictions(folder / f"{method}_predictions.npz", curves)
    return path


def mean_parameters(members: Sequence[dict]) -> dict:
    """The ensemble's identified parameters: the mean over its members' (each in the layout of
    :meth:`nmm_core.network.MusclePhysics.identified_parameters`, as ``"member_parameters"`` of
    an NMM results file holds them)."""
    return {name: {key: float(np.mean([member[name][key] for member in members])) for key in values}
            for name, values in members[0].items()}


def regime(subjects: dict, within_r2: dict | None = None) -> dict:
    """One cohort variant's row of the regime table: per method the mean over subjects of
    :data:`PRIMARY_SCORE` (``"r"``) and of the members' sd of it (``"r_sd"``, None for a method
    without seeds) per deep muscle, and the mean torque NRMSE; the claim per deep muscle
    (:func:`claims`); the within-subject R² of the best non-negative map (``within_r2``,
    :func:`nmm_core.training.cohort_map_r2`, a diagnosis) and the subjects."""
    methods = {}
    for method in METHODS:
        entries = [s[method] for s in subjects.values() if method in s]
        if not entries:
            continue
        methods[method] = {m: {"r": mean_defined([e[PRIMARY_SCORE[0]][m][PRIMARY_SCORE[1]] for e in entries]),
                               "r_sd": mean_defined([(e.get("seed_sd") or {}).get(m) for e in entries])}
                           for m in DEEP_MUSCLES}
        methods[method]["torque"] = {"nrmse": mean_defined([e["torque"]["nrmse"] for e in entries])}
    complete = all("nmm" in s and "mse" in s for s in subjects.values()) and subjects
    return {"within_subject_r2": _json_ready(within_r2 or {}), "methods": methods,
            "claim": claims(subjects) if complete else {}, "subjects": sorted(subjects)}


def write_regimes(quick: bool, within_r2: dict, directory: Path | None = None) -> tuple[Path, dict]:
    """Write ``results/regimes.json``, ``{variant: regime(...)}`` (:func:`regime`) for every
    variant with results files of this mode, and return its path and contents. ``within_r2``:
    ``{variant: {subject: {muscle: R²}}}``. A variant other than the default counts the subjects
    a run of this mode covers (:func:`nmm_core.config.variant_subjects` of the default's subjects; a quick run
    leaves a full run's files of the others aside). Raises ValueError when a variant has results
    for some of them and not others (rerun its chapters)."""
    out = {}
    cohort_subjects = None  # the default variant's subjects with results of this mode
    for variant in VARIANTS:
        folder = variant_dir(variant, directory)
        if not folder.is_dir():
            continue
        only = None if cohort_subjects is None else variant_subjects(variant, cohort_subjects, quick)
        subjects, missing = load_results(folder, quick, only)
        if variant == VARIANTS[0] and subjects:
            cohort_subjects = sorted(subjects)
        if missing and subjects:
            raise ValueError(f"{folder}: results missing for {', '.join(missing)}; rerun their chapters "
                             "(python -m nmm_core.reproduce).")
        if subjects:
            out[variant] = regime(subjects, within_r2.get(variant))
    path = atomic_write((Path(directory) if directory is not None else results_dir()) / "regimes.json",
                        json.dumps(_json_ready(out), indent=1, allow_nan=False))
    return path, out


#: How the book names the cohort variants.
VARIANT_LABELS = {"min_effort": "minimum effort",
                  "thresholds": "recruitment thresholds and co-contraction"}
#: How the book names the methods in sentences.
METHOD_LABELS = {"nmm": "the NMM", "mse": "the synergy extrapolation", "nmm_synergy": "the NMM with a synergy prior"}


def ranking(entry: dict, muscle: str) -> list[str]:
    """The methods of one regime (:func:`regime`), best first by their mean ``r`` for ``muscle``
    (a method without a defined mean last)."""
    methods = entry["methods"]
    return sorted(methods, key=lambda m: -(methods[m][muscle]["r"] if methods[m][muscle]["r"] is not None
                                           else -math.inf))


def regime_sentences(regimes: dict) -> dict[str, str]:
    """What the regime table (:func:`write_regimes`) says about the paper's claim, in plain
    sentences computed from it: ``{variant: sentence}`` (the best method by mean r on each deep
    muscle, then the others, and the claim's status) and, with more than one variant,
    ``"verdict"``: whether the ranking and the claim's status are the same under every motor
    control."""
    out = {}
    for variant, entry in regimes.items():
        parts = []
        for m in DEEP_MUSCLES:
            order = ranking(entry, m)
            parts.append(f"for {m} {METHOD_LABELS[order[0]]} ({entry['methods'][order[0]][m]['r']:.2f}), "
                         f"then {' and then '.join(METHOD_LABELS[o] for o in order[1:])}")
        claim = entry.get("claim") or {}
        status = (" and ".join(f"{claim[m]['status']} for {m}" for m in DEEP_MUSCLES) if claim
                  else "not computed (results missing)")
        n = len(entry["subjects"])
        out[variant] = (f"Under {VARIANT_LABELS.get(variant, variant)} ({n} subject{'' if n == 1 else 's'}), the "
                        f"highest mean median per-trial r is {'; '.join(parts)}. The claim that the NMM beats the "
                        f"synergy extrapolation is {status}.")
    if len(regimes) > 1:
        same_rank = all(len({tuple(ranking(e, m)) for e in regimes.values()}) == 1 for m in DEEP_MUSCLES)
        same_claim = all(len({(e.get("claim") or {}).get(m, {}).get("status") for e in regimes.values()}) == 1
                         for m in DEEP_MUSCLES)
        out["verdict"] = (
            ("The ranking of the methods is the same under every motor control" if same_rank else
             "The ranking of the methods changes with the motor control that generated the truth")
            + ", and the claim's status "
            + ("is the same under every one of them: on this evidence the verdict on the paper's claim does not "
               "hinge on how the virtual cohort shares load between its muscles." if same_claim else
               "changes with it: the verdict on the paper's claim depends on how the virtual cohort shares load "
               "between its muscles, and one cohort cannot settle it."))
    return out


def compared_scores(subjects: dict) -> dict:
    """``{label: (path, higher_is_better)}`` of every score the comparison tests: per deep
    muscle the primary score, the pooled r against both truths and the r per posture; then
    torque NRMSE. ``path`` reads a subject's summary entry (:func:`nmm_core.stats.subject_scores`)."""
    postures = sorted({p for methods in subjects.values() for e in methods.values() for p in e.get("per_posture", {})})
    out = {}
    for m in DEEP_MUSCLES:
        out[f"{m}: median per-trial r"] = (("median_trial", m, "r"), True)
        out[f"{m}: pooled r"] = ((m, "r"), True)
        out[f"{m}: pooled r, low-pass truth"] = ((m, "r_lowpass"), True)
        out.update({f"{m}: r, {p} (pooled)": (("per_posture", p, m, "r"), True) for p in postures})
    out["torque NRMSE"] = (("torque", "nrmse"), False)
    return out


def paired_statistics(subjects: dict) -> dict:
    """``{label: paired comparison}`` (NMM against MSE, :func:`nmm_core.stats.paired_comparison`)
    for every score of :func:`compared_scores`, subjects as the unit."""
    return {label: stats.paired_comparison(stats.subject_scores(subjects, "nmm", path),
                                           stats.subject_scores(subjects, "mse", path), higher)
            for label, (path, higher) in compared_scores(subjects).items()}


def headline_scores(block: dict) -> dict:
    """``{"<muscle> median per-trial r", "<muscle> pooled r", ..., "torque NRMSE (%)"}`` of one
    score block (a results file, an ablation, a diagnosis); None where a score is absent."""
    out = {}
    for m in DEEP_MUSCLES:
        out[f"{m} median per-trial r"] = (block.get("median_trial") or {}).get(m, {}).get("r")
        out[f"{m} pooled r"] = (block.get(m) or {}).get("r")
    nrmse = (block.get("torque") or {}).get("nrmse")
    out["torque NRMSE (%)"] = None if nrmse is None else 100 * nrmse
    return out


def ladder(rungs: dict) -> dict:
    """``{rung: {subject: headline scores, ..., "mean": means over subjects}}`` of
    ``{rung: {subject: score block or None}}``; a rung without any block is left out."""
    out = {}
    for label, blocks in rungs.items():
        found = {s: headline_scores(b) for s, b in blocks.items() if b}
        if found:
            keys = next(iter(found.values()))
            found["mean"] = {k: mean_defined([v[k] for v in found.values()]) for k in keys}
            out[label] = found
    return out


def _csv_rows(subjects: dict):
    for subject, methods in subjects.items():
        for method, entry in methods.items():
            blocks = ([("all", entry)] + [(f"load {k}", b) for k, b in entry["per_load"].items()]
                      + [(f"posture {k}", b) for k, b in entry["per_posture"].items()])
            for subset, block in blocks:
                for quantity, metrics in SCORES.items():
                    if quantity not in block:
                        continue
                    for metric in metrics + (FLAGS if quantity in DEEP_MUSCLES else ()):
                        yield [subject, method, subset, quantity, metric, block[quantity][metric]]
            for muscle, block in entry["median_trial"].items():
                for metric in ("r", "rmse"):
                    yield [subject, method, "median trial", muscle, metric, block[metric]]
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
               "mean": summarise(subjects), "claim": claims(subjects), "missing": missing,
               "versions": versions()}
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(["subject", "method", "subset", "quantity", "metric", "value"])
    writer.writerows([row[:-1] + ["" if row[-1] is None else repr(row[-1])] for row in _csv_rows(subjects)])
    paths = [atomic_write(directory / "summary.json", json.dumps(summary, indent=1, allow_nan=False)),
             atomic_write(directory / "summary.csv", text.getvalue())]
    return paths
