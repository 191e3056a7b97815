"""Small presentation helpers shared by the notebooks: tables and recurring figures."""

from __future__ import annotations

from typing import Sequence

from .config import DEEP_MUSCLES
from .scoring import TRIM_SECONDS


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


def score_cell(block, muscle: str, metric: str = "r"):
    """One deep-muscle score for a table: the value, ``"0 (constant)"`` for a constant
    estimate's r, ``"undefined (truth constant)"`` where the truth does not vary (see
    :mod:`nmm_core.scoring`), None (a dash) where there is no block."""
    entry = (block or {}).get(muscle)
    if entry is None:
        return None
    if metric.startswith("r") and not metric.startswith("rmse"):
        if entry.get("truth_constant"):
            return "undefined (truth constant)"
        if entry.get("constant"):
            return "0 (constant)"
    return entry.get(metric)


def score_table(rows: Sequence[tuple], muscles: Sequence[str] = DEEP_MUSCLES, lowpass: bool = True,
                torque: bool = True, first: str = "trials", digits: int = 3) -> str:
    """A Markdown table of score blocks (:func:`nmm_core.scoring.score_trials` layout).

    ``rows`` are ``(label, block)`` or ``(label, ..., block)``: every item but the last is a
    leading cell (``first`` names the first column; more leading cells need tuples of equal
    length and are headed by ``first`` split on ``" | "``). Per muscle: r, r against the
    low-passed truth (``lowpass``) and RMSE; then torque RMSE, NRMSE (%) and R² (``torque``).
    """
    lead = first.split(" | ")
    header = list(lead)
    for m in muscles:
        header += [f"{m} r"] + ([f"{m} r (low-pass truth)"] if lowpass else []) + [f"{m} RMSE"]
    if torque:
        header += ["torque RMSE (N m)", "torque NRMSE (%)", "torque R²"]
    table = []
    for row in rows:
        *cells, block = row
        line = list(cells)
        for m in muscles:
            line += [score_cell(block, m, "r")] + ([score_cell(block, m, "r_lowpass")] if lowpass else [])
            line += [score_cell(block, m, "rmse")]
        if torque:
            scores = (block or {}).get("torque") or {}
            nrmse = scores.get("nrmse")
            line += [scores.get("rmse_Nm"), None if nrmse is None else 100 * nrmse, scores.get("r2")]
        table.append(line)
    return markdown_table(header, table, digits)


#: Line styles of the methods in figures.
METHOD_STYLES = {"NMM": ("C0", "-"), "MSE": ("C2", "--"), "NMM, true physics": ("C1", ":"),
                 "NMM + synergy prior (beyond the paper)": ("C3", "-.")}


def held_out_figure(panels: Sequence[tuple], muscles: Sequence[str] = DEEP_MUSCLES, trim: float = TRIM_SECONDS):
    """Held-out trials, one row each: torque against inverse dynamics, then each deep muscle's
    estimate against its truth, for one or more methods.

    Parameters
    ----------
    panels : sequence of (title, {method label: curve})
        A curve holds ``time`` (T,) and ``hidden`` (T, H), and optionally ``hidden_truth`` (T, H),
        ``torque`` and ``torque_reference`` (T,) (the fields of
        :func:`nmm_core.training.prediction_curves` and its saved files).
    trim : float
        The unscored edges (s, :data:`nmm_core.scoring.TRIM_SECONDS`) are shaded.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(panels), 1 + len(muscles), figsize=(4 * (1 + len(muscles)), 2.4 * len(panels)),
                             squeeze=False)
    for row, (title, curves) in zip(axes, panels):
        reference = next(iter(curves.values()))
        time = reference["time"]
        if reference.get("torque_reference") is not None:
            row[0].plot(time, reference["torque_reference"], "k", lw=1.4, label="OpenSim ID")
        for j, (axis, muscle) in enumerate(zip(row[1:], muscles)):
            axis.set_title(f"{title}: {muscle}", fontsize=8)
            if reference.get("hidden_truth") is not None:  # recordings have no deep truth
                axis.plot(time, reference["hidden_truth"][:, j], "k", lw=1.4, label="truth")
                axis.set_ylim(0, max(0.2, 1.15 * float(reference["hidden_truth"][:, j].max())))
        for label, curve in curves.items():
            color, style = METHOD_STYLES.get(label, (None, "-"))
            if curve.get("torque") is not None:
                row[0].plot(curve["time"], curve["torque"], color=color, ls=style, lw=1, label=label)
            for j, axis in enumerate(row[1:]):
                axis.plot(curve["time"], curve["hidden"][:, j], color=color, ls=style, lw=1, label=label)
        row[0].set_title(f"{title}: torque (N m)", fontsize=8)
        for axis in row:
            axis.axvspan(time[0], time[0] + trim, color="0.9", lw=0)
            axis.axvspan(time[-1] - trim, time[-1], color="0.9", lw=0)
            axis.tick_params(labelsize=7)
    axes[0][0].legend(fontsize=7)
    axes[0][1].legend(fontsize=7)
    for axis in axes[-1]:
        axis.set_xlabel("time (s)", fontsize=8)
    fig.tight_layout()
    return fig


class Text:
    """A sentence to glue: its plain-text form is the sentence itself (a ``str`` would be
    pasted with its quotes), so that other pages can paste it with the ``glue:text`` role,
    ``<notebook>.ipynb::<key>:s`` (the reproduction notes do)."""

    def __init__(self, text: str):
        self.text = text

    def __repr__(self) -> str:
        return self.text


def number(value) -> float:
    """``value`` as a float for ``glue``, NaN where a score is undefined (None)."""
    return float("nan") if value is None else float(value)


def training_curves(history: dict, keys: Sequence[str] = ("loss", "torque_loss", "smoothness_loss", "prior_loss")):
    """Loss terms of a Keras history against the epoch (log scale); terms absent are skipped."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.4))
    for key in keys:
        if key in history:
            ax.semilogy(history[key], label=key)
    ax.set(xlabel="epoch", ylabel="loss term")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def parameters_figure(identified: dict, truth: dict, bounds: dict):
    """Identified subject parameters (bars) against true values (black marks), one panel per
    parameter, each within its ``bounds[name] = (low, high, nominal, level)`` (grey: nominal)."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(identified), figsize=(2.45 * len(identified), 3))
    for axis, (name, values) in zip(axes, identified.items()):
        keys = list(values)
        low, high, nominal, _ = bounds[name]
        axis.bar(range(len(keys)), [values[k] for k in keys], color="C0", label="identified")
        axis.plot(range(len(keys)), [truth[name][k] for k in keys], "k_", ms=18, mew=2, label="true")
        axis.axhline(nominal, color="0.6", lw=0.8)
        axis.set_xticks(range(len(keys)), [k.replace("triceps_", "TRI ") for k in keys], rotation=60, fontsize=7)
        axis.set_title(name.replace("_", " "), fontsize=8)
        axis.set_ylim(low, high)
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    return fig


def accuracy_curves(points: Sequence[dict], label: str = "as training proceeds", subjects: dict | None = None):
    """Held-out accuracy against training time: BRA r, TRImed r and torque NRMSE (%).

    ``points`` are rows of :func:`nmm_core.benchmark.accuracy_per_compute` (``method``,
    ``train_seconds``, ``BRA_r``, ``TRImed_r``, ``torque_nrmse_pct``), drawn as one line per
    method; ``subjects`` (``{method: [(seconds, {"BRA": r, "TRImed": r, "torque": nrmse %})]}``)
    adds one dot per subject. Undefined scores (None) are not drawn.
    """
    import matplotlib.pyplot as plt

    colours = {"NMM": "tab:blue", "MSE": "tab:orange"}
    columns = {"BRA": "BRA_r", "TRImed": "TRImed_r", "torque": "torque_nrmse_pct"}
    fig, axes = plt.subplots(1, 3, figsize=(11, 3.4))
    for ax, (key, ylabel) in zip(axes, (("BRA", "BRA r"), ("TRImed", "TRImed r"), ("torque", "torque NRMSE (%)"))):
        for method, dots in (subjects or {}).items():
            ax.scatter([x for x, _ in dots], [float("nan") if s[key] is None else s[key] for _, s in dots],
                       color=colours.get(method), label=f"{method}, each subject", alpha=0.6)
        for method in colours:
            line = [p for p in points if p["method"] == method]
            if line:
                ax.plot([p["train_seconds"] for p in line], [float("nan") if p[columns[key]] is None
                                                               else p[columns[key]] for p in line],
                        "-x", color=colours[method], label=f"{method}, {label}")
        ax.set(xlabel="training time (s)", ylabel=ylabel, xscale="log")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    return fig


#: The boxes of :func:`method_diagram`: name -> (x, y, text, colour), axes fraction.
DIAGRAM_BOXES = {
    "surface": (0.02, 0.62, "surface EMG\nBIClong, BICshort,\nTRIlong, TRIlat", "#dde8f3"),
    "kinematics": (0.02, 0.22, "elbow angle, speed,\nhand load, posture", "#dde8f3"),
    "network": (0.26, 0.42, "network\n(transformer)", "#f6e3c7"),
    "deep": (0.46, 0.42, "deep EMG\nBRA, TRImed", "#f6e3c7"),
    "physics": (0.66, 0.42, "Hill-type model\nactivation, force,\nmoment arms", "#e3efd9"),
    "torque": (0.86, 0.42, "elbow\ntorque", "#e3efd9"),
    "id": (0.86, 0.04, "OpenSim inverse\ndynamics torque", "#ececec"),
    "parameters": (0.66, 0.80, "subject parameters\n(identified)", "#e3efd9"),
}


def method_diagram():
    """The NMM in one picture: inputs, network, deep EMG, Hill-type model, torque and the loss."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    width, height = 0.16, 0.17
    fig, ax = plt.subplots(figsize=(10, 4.4))
    ax.set(xlim=(0, 1.04), ylim=(0, 1.0))
    ax.axis("off")
    for x, y, text, colour in DIAGRAM_BOXES.values():
        ax.add_patch(FancyBboxPatch((x, y), width, height, boxstyle="round,pad=0.01", fc=colour, ec="0.3"))
        ax.text(x + width / 2, y + height / 2, text, ha="center", va="center", fontsize=8.5)

    def side(name, where, offset=0.0):
        """A point on a box's edge ('left', 'right', 'top', 'bottom'), shifted along the edge."""
        x, y = DIAGRAM_BOXES[name][:2]
        return {"left": (x, y + height / 2 + offset), "right": (x + width, y + height / 2 + offset),
                "top": (x + width / 2 + offset, y + height), "bottom": (x + width / 2 + offset, y)}[where]

    def arrow(start, end, bend=0.0, colour="0.2", style="-|>"):
        ax.add_patch(FancyArrowPatch(side(*start), side(*end), arrowstyle=style, mutation_scale=12, color=colour,
                                     connectionstyle=f"arc3,rad={bend}"))

    arrow(("surface", "right", -0.03), ("network", "left", 0.03))
    arrow(("kinematics", "right", 0.03), ("network", "left", -0.03))
    arrow(("network", "right"), ("deep", "left"))
    arrow(("deep", "right"), ("physics", "left"))
    arrow(("parameters", "bottom"), ("physics", "top"))
    arrow(("physics", "right"), ("torque", "left"))
    arrow(("surface", "top", 0.03), ("physics", "top", -0.05), bend=-0.35)  # the measured excitations
    arrow(("kinematics", "bottom", 0.03), ("physics", "bottom", -0.05), bend=0.35)  # lengths, moment arms
    arrow(("torque", "bottom"), ("id", "top"), colour="C3", style="<|-|>")
    ax.text(0.95, 0.315, "loss:\nmatch", fontsize=8, color="C3", va="center")
    ax.text(0.40, 0.93, "the four measured excitations", fontsize=8, color="0.35", ha="center")
    ax.text(0.40, 0.075, "elbow angle: muscle lengths and moment arms", fontsize=8, color="0.35", ha="center")
    ax.text(0.50, -0.05, "No deep-EMG labels: the network learns the deep excitations only through the torque.",
            ha="center", fontsize=8.5, style="italic")
    return fig


def throughput_figure(throughput: Sequence[dict]):
    """Training windows per second of each configuration (rows of
    :func:`nmm_core.benchmark.run_isolated` ``"throughput"`` with ``backend``, ``xla`` and
    ``backbone``); a configuration that could not compile is marked."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 0.45 * len(throughput) + 1))
    labels = [f"{t['backend']}{' + XLA' if t['xla'] and t['backend'] == 'tensorflow' else ''}, {t['backbone']}"
              for t in throughput]
    ax.barh(labels, [t["windows_per_s"] or 0 for t in throughput], color="tab:blue")
    for i, t in enumerate(throughput):
        if not t["windows_per_s"]:
            ax.text(0, i, "  cannot compile", va="center", fontsize=8)
    ax.invert_yaxis()
    ax.set(xlabel="training windows per second (median)")
    fig.tight_layout()
    return fig


def glue_scores(scores: dict, muscles: Sequence[str] = DEEP_MUSCLES) -> None:
    """Glue a method's held-out scores for the page's prose: ``r_<muscle>`` (pooled),
    ``median_trial_r_<muscle>`` and ``torque_nrmse_percent`` (NaN where undefined)."""
    from myst_nb import glue

    for m in muscles:
        glue(f"r_{m}", number(scores[m]["r"]), display=False)
        glue(f"median_trial_r_{m}", number(scores["median_trial"][m]["r"]), display=False)
    glue("torque_nrmse_percent", 100 * number(scores["torque"]["nrmse"]), display=False)


def cohort_trial_figure(trial, raw_time, raw_emg, raw_channel: str, muscles: Sequence[str], deep: Sequence[str],
                        title: str = ""):
    """One virtual-cohort trial from top to bottom: elbow angle, inverse-dynamics torque, one raw
    surface EMG channel (``raw_time`` (N,) s, ``raw_emg`` (N,) V), then every muscle's true
    excitation (``deep`` ones thicker) with the processed envelope of each recorded one dotted."""
    import matplotlib.pyplot as plt
    import numpy as np

    fig, axes = plt.subplots(4, 1, figsize=(8, 9), sharex=True)
    axes[0].plot(trial.time, np.degrees(trial.elbow_angle))
    axes[0].set(ylabel="elbow flexion (deg)")
    axes[1].plot(trial.time, trial.torque)
    axes[1].set(ylabel="ID torque (N m)")
    axes[2].plot(raw_time, 1e3 * np.asarray(raw_emg), lw=0.3, color="0.3")
    axes[2].set(ylabel=f"raw {raw_channel} EMG (mV)")
    for name in muscles:
        line, = axes[3].plot(trial.time, trial.truth[name], lw=2 if name in deep else 1,
                             label=f"{name} (true{', deep' if name in deep else ''})")
        if name in trial.emg_channels:
            axes[3].plot(trial.time, trial.channel(name), ":", color=line.get_color())
    axes[3].set(xlabel="time (s)", ylabel="excitation / envelope")
    axes[3].legend(fontsize=7, ncol=2)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def level_heatmap(levels, rows: Sequence[str], columns: Sequence[str], label: str):
    """A heat map of ``levels`` (len(rows), len(columns)) with each value written in its cell."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.6))
    image = ax.imshow(levels, cmap="viridis", aspect="auto")
    ax.set_xticks(range(len(columns)), columns)
    ax.set_yticks(range(len(rows)), rows)
    for i in range(len(rows)):
        for j in range(len(columns)):
            ax.text(j, i, f"{levels[i][j]:.2f}", ha="center", va="center", color="w", fontsize=8)
    fig.colorbar(image, label=label)
    fig.tight_layout()
    return fig
