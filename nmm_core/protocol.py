"""The selection protocol both methods follow, fixed before any result was read.

1. The training trials are split once more (:func:`nmm_core.training.inner_split`): a
   validation set (from every load and posture with two or more training trials, the one of
   median duration) and the fitting set (the rest). Held-out trials take no part.
2. Each method has the same budget of candidate settings, :data:`BUDGET` per subject: the NMM's
   loss weights and its parameters' step size (:data:`NMM_CANDIDATES`), the baseline's
   factorisation and number of synergies (:data:`SYNX_CANDIDATES`), and the loss weights of the
   NMM with a synergy prior (:data:`NMM_SYNERGY_CANDIDATES`, whose synergies are fixed by
   :func:`synergy_prior`). Every candidate is fitted on the fitting set.
3. Every candidate is scored by its torque RMSE on the validation trials (the first and last
   :data:`nmm_core.scoring.TRIM_SECONDS` left out), and the lowest wins. The NMM also takes its
   epoch by this score (each member keeps its weights of its best epoch; training stops once
   no member has improved for ``patience`` epochs).
4. The chosen setting is fitted again on the fitting set: the NMM as an ensemble of
   ``seeds`` members (:class:`Plan`; its estimate is their mean), the baseline with strengths and
   delay calibrated, from as many starting points as the NMM has seeds, keeping the fit of
   lowest training cost (:func:`select_synx`).
5. Settings that are not searched (window, batch, stride, learning rate, backbone size,
   schedule, maximum epochs and patience; XLA compilation, which changes only the speed) are fixed in :class:`Plan` for cost, the same for
   every subject.

Nothing here reads the deep muscles' truth (``truth_excitation.sto``): scoring alone does,
after every choice is made (``tests/test_protocol.py`` runs this module with the truth gone).
"""

from __future__ import annotations

import dataclasses
import time
from typing import Sequence

import numpy as np

from . import synergy, training

#: The weight of the parameters' prior in every NMM candidate. It was first searched (0.03 or
#: 0.3), but in all ten selections of the first full run with this protocol (five subjects, two
#: cohorts) the two candidates that differed in it alone reached validation errors within half a
#: percent of each other, and 0.03 was chosen every time: half of the NMM's budget went to a
#: setting that changed nothing (reproduction notes, "Changes made after results were seen").
NMM_PRIOR_WEIGHT = 0.03
#: The step size of the subject parameters against the network's weights
#: (:class:`nmm_core.network.MemberAdam`), searched in its place: with the network's step the 34
#: parameters barely leave their start within the training's few hundred Adam steps
#: (``benchmarks/parameter_steps.py``).
NMM_PARAMETER_RATES = (1.0, 10.0)
#: The NMM's candidates: effort (on the hidden excitations) and smoothness weights and the
#: parameters' step size, two levels each.
NMM_CANDIDATES: tuple[dict, ...] = tuple(
    {"effort_weight": e, "smoothness_weight": s, "prior_weight": NMM_PRIOR_WEIGHT, "parameter_rate": r}
    for e in (0.01, 0.1) for s in (0.03, 0.3) for r in NMM_PARAMETER_RATES)
#: The candidates of the NMM with a synergy prior (``nmm_synergy``, beyond the paper): effort,
#: smoothness and the weight of the penalty on its residual, two levels each.
NMM_SYNERGY_CANDIDATES: tuple[dict, ...] = tuple(
    {"effort_weight": e, "smoothness_weight": s, "residual_weight": r}
    for e in (0.01, 0.1) for s in (0.03, 0.3) for r in (0.1, 1.0))
#: The synergy prior's synergies: NMF of the fitting trials' envelopes, the fewest that account
#: for this share of their variance (a common rule of the synergy literature; reads no torque).
SYNERGY_VAF = 0.95
#: The synergy baseline's candidates: factorisation and number of synergies.
SYNX_CANDIDATES: tuple[tuple[str, int], ...] = tuple((m, k) for m in ("nmf", "pca") for k in (1, 2, 3, 4))
#: Candidate settings per method and subject, the same for every method.
BUDGET = len(NMM_CANDIDATES)
assert len(SYNX_CANDIDATES) == len(NMM_SYNERGY_CANDIDATES) == BUDGET, "every method gets the same number of candidates"


@dataclasses.dataclass(frozen=True)
class Plan:
    """The fixed (not searched) training settings of the NMM."""

    max_epochs: int
    patience: int
    seeds: int
    window: int = 64
    batch_size: int = 64
    stride: int = 16
    #: The backbone's size: the transformer's width and number of encoder blocks. A one-block
    #: backbone was tried for time and left: it fitted worse on the validation trials of four of
    #: the five subjects (``benchmarks/protocol_alternatives.py --depth 1``).
    width: int = 32
    depth: int = 2
    #: Adam's starting step (the cosine schedule lowers it to 5 % by ``max_epochs``).
    learning_rate: float = training.SETTINGS["learning_rate"]
    #: XLA compilation of the training step (a dozen seconds of compilation per model, then
    #: about three times fewer seconds per epoch on TensorFlow on a CPU: ``benchmarks/
    #: training_speed.py``); it changes the speed, not the arithmetic (``tests/test_protocol.py``).
    #: TensorFlow's choice: JAX compiles its training step either way (:func:`nmm_core.training.build_model`).
    jit_compile: bool = True


#: Full mode: the training length of the NMM as first built here (windows every 8 samples, batch
#: 32, at most 60 epochs). A shorter one (every 16, batch 64, at most 40 epochs, for time) was
#: tried and left: it fitted worse on the validation trials (reproduction notes).
#: So was a window every 16 samples alone (batch 32, 60 epochs): worse on the validation trials of
#: four of the five subjects (``benchmarks/protocol_alternatives.py --stride 16``). So were larger
#: steps for half the epochs (learning rate 0.006 or 0.01, at most 30 epochs, patience 8): worse
#: on the validation trials of every subject (``--learning-rate 0.006 --max-epochs 30 --patience 8``).
FULL = Plan(max_epochs=60, patience=15, seeds=5, batch_size=32, stride=8)
#: Quick mode: short training, and no XLA on TensorFlow (its compilation, a dozen seconds per
#: model, costs more than it saves over so few steps: S01's selection took 26.5 s with it and
#: 10.5 s without). JAX compiles regardless.
QUICK = Plan(max_epochs=25, patience=8, seeds=2, jit_compile=False)


def plan(quick: bool) -> Plan:
    return QUICK if quick else FULL


def torque_rmse(arrays: Sequence, predictions: dict) -> float:
    """Torque RMSE (N m) of ``predictions`` (``{trial: {"torque": (T,)}}``) on trials, edges
    trimmed as in every score: the validation score of both methods."""
    from .scoring import trim_mask

    errors = [(predictions[a.trial.name]["torque"] - a.torque)[trim_mask(a.trial.time)] for a in arrays]
    return float(np.sqrt(np.mean(np.concatenate(errors) ** 2)))


def synergy_prior(fit: Sequence, seed: int = 0):
    """The synergies of the NMM with a synergy prior: NMF of the fitting trials' envelopes with
    the fewest synergies whose VAF reaches :data:`SYNERGY_VAF` (at most all channels)."""
    envelopes = np.vstack([a.surface for a in fit])
    for k in range(1, envelopes.shape[1] + 1):
        found = synergy.extract_synergies(envelopes, k, "nmf", seed=seed)
        if found.vaf >= SYNERGY_VAF:
            break
    return found


_DEFAULTS = {**training.SETTINGS, "trainable_parameters": True, "residual_weight": 1.0, "parameter_rate": 1.0}


def start_alike(model) -> None:
    """Give every member of an NMM the first member's network weights (the subject parameters,
    whose starting values are settings, are left as they are)."""
    for weight in model.backbone.weights:  # every backbone weight has the member axis first
        value = np.array(weight)
        weight.assign(np.broadcast_to(value[:1], value.shape))


def fit_nmm(learner, fit: Sequence, validation: Sequence, settings: Sequence[dict], plan: Plan, seed: int = 0,
            schedule: str | None = training.SETTINGS["schedule"], backbone: str = "transformer", synergies: int = 0,
            same_start: bool = False, callbacks=None):
    """NMM members, one per entry of ``settings`` (:data:`nmm_core.training.MEMBER_SETTINGS`
    keys, and ``"schedule"``, by default ``schedule``), trained together on ``fit`` with each
    member stopped at its best epoch on ``validation``. ``synergies`` > 0: with a synergy prior over that many synergies (the
    trials must carry their activations, :func:`nmm_core.training.with_synergies`).
    ``same_start``: every member starts from the first member's network weights, so that
    members differ by their settings alone (candidates, ablations); otherwise each starts from
    its own random weights (the seeds of an ensemble). ``callbacks``: more Keras callbacks for
    the training (e.g. a clock). Returns ``(model, history, seconds)``."""
    members = {key: [s.get(key, _DEFAULTS[key]) for s in settings]
               for key in training.MEMBER_SETTINGS if key != "initial"}
    members["initial"] = [s.get("initial") for s in settings]
    model = training.build_model(learner, plan.window, backbone=backbone, seed=seed, members=len(settings),
                                 synergies=synergies, jit_compile=plan.jit_compile, width=plan.width,
                                 depth=plan.depth, learning_rate=plan.learning_rate, **members)
    if same_start:
        start_alike(model)
    history, seconds = training.train(model, fit, plan.window, plan.max_epochs, stride=plan.stride,
                                      batch_size=plan.batch_size, seed=seed, validation=validation,
                                      patience=plan.patience, schedule=[s.get("schedule", schedule) for s in settings],
                                      callbacks=callbacks)
    return model, history, seconds


def select_nmm(learner, fit: Sequence, validation: Sequence, plan: Plan, seed: int = 0,
               backbone: str = "transformer", synergies: int = 0) -> dict:
    """Every candidate (:data:`NMM_CANDIDATES`, or with ``synergies`` > 0
    :data:`NMM_SYNERGY_CANDIDATES`) trained (one member each, together) and scored on
    validation torque. Returns ``{"rows": [{**candidate, "validation_rmse", "best_epoch"}],
    "best": candidate, "seconds"}``."""
    candidates = NMM_SYNERGY_CANDIDATES if synergies else NMM_CANDIDATES
    _, history, seconds = fit_nmm(learner, fit, validation, candidates, plan, seed, backbone=backbone,
                                  synergies=synergies, same_start=True)
    rows = [{**c, "validation_rmse": e, "best_epoch": b}
            for c, e, b in zip(candidates, history["best_validation_rmse"], history["best_epoch"])]
    best = candidates[int(np.argmin(history["best_validation_rmse"]))]
    return {"rows": rows, "best": dict(best), "seconds": seconds}


def select_synx(fit: Sequence, validation: Sequence, nominal: dict, seed: int = 0, max_iter: int = 40,
                restarts: int = 1) -> dict:
    """Every candidate of :data:`SYNX_CANDIDATES` fitted (strengths and delay at nominal) and
    scored on validation torque, then the best refitted with strengths and delay calibrated.

    The calibrated refit is a non-convex least-squares problem whose cost has several minima, so
    it is run ``restarts`` times (the protocol gives the baseline as many fits as the NMM has
    seeds, ``Plan.seeds``): from the default starting point, then from random ones drawn by
    generators seeded ``seed + 1``, ``seed + 2``, ... (:func:`nmm_core.synergy.fit_extrapolation`'s
    ``start``). The fit with the lowest training cost, the quantity the fit minimises, is kept;
    nothing else decides.

    Returns ``{"rows": [{"method", "n_synergies", "vaf", "validation_rmse", "training_cost",
    "fit_seconds"}], "best": (method, k), "synergies", "final", "restarts": [{"start",
    "training_cost", "validation_rmse", "delay_s", "fit_seconds"}], "final_start", "fits",
    "seconds"}`` (``"final_start"``: the index of the kept refit in ``"restarts"``; ``"fits"``:
    every refit, :class:`nmm_core.synergy.Extrapolation`, for :func:`restart_members`)."""
    if restarts < 1:
        raise ValueError(f"restarts must be at least 1 (the default start), got {restarts}.")
    start = time.perf_counter()
    envelopes = np.vstack([a.surface for a in fit])
    rows, found = [], {}
    for method, k in SYNX_CANDIDATES:
        found[(method, k)] = synergy.extract_synergies(envelopes, k, method, seed=seed)
        candidate = synergy.fit_extrapolation(fit, found[(method, k)], nominal, calibrate=False, max_iter=max_iter)
        rows.append({"method": method, "n_synergies": k, "vaf": found[(method, k)].vaf,
                     "validation_rmse": torque_rmse(validation, candidate.predict(validation, nominal)),
                     "training_cost": candidate.cost, "fit_seconds": candidate.fit_seconds})
    best = min(SYNX_CANDIDATES, key=lambda key: rows[SYNX_CANDIDATES.index(key)]["validation_rmse"])
    refits = [synergy.fit_extrapolation(fit, found[best], nominal, calibrate=True,
                                        start=None if j == 0 else np.random.default_rng(seed + j))
              for j in range(restarts)]
    kept = int(np.argmin([f.cost for f in refits]))
    return {"rows": rows, "best": best, "synergies": found[best], "final": refits[kept], "fits": refits,
            "restarts": [{"start": "default" if j == 0 else f"random (seed {seed + j})", "training_cost": f.cost,
                          "validation_rmse": torque_rmse(validation, f.predict(validation, nominal)),
                          "delay_s": f.delay, "fit_seconds": f.fit_seconds} for j, f in enumerate(refits)],
            "final_start": kept, "seconds": time.perf_counter() - start}


def restart_members(synx: dict, held: Sequence, nominal: dict, delay: float) -> dict:
    """The baseline's restarts (:func:`select_synx`) laid out as an NMM's members are for
    :func:`nmm_core.results.member_diagnosis`: each refit scored on the held-out trials (it reads
    the truth, after every choice is made: a diagnosis), its validation torque RMSE and its
    calibrated strengths; with the restarts' rows and the kept one's index. Returns
    ``{"restarts", "final_start", "restart_scores": {muscle: {"median_trial_r": [...], "r":
    [...]}}, "restart_validation_rmse": [...], "restart_parameters": [{"max_isometric_force_scale":
    {muscle: scale}}]}``, one entry per restart: what a baseline's results file carries of them."""
    from .config import DEEP_MUSCLES, MUSCLE_NAMES

    scores = [training.score(held, f.predict(held, nominal), delay) for f in synx["fits"]]
    return {"restarts": synx["restarts"], "final_start": synx["final_start"],
            "restart_scores": {m: {"median_trial_r": [s["median_trial"][m]["r"] for s in scores],
                                   "r": [s[m]["r"] for s in scores]} for m in DEEP_MUSCLES},
            "restart_validation_rmse": [r["validation_rmse"] for r in synx["restarts"]],
            "restart_parameters": [{"max_isometric_force_scale": dict(zip(MUSCLE_NAMES, map(float, f.strength_scale)))}
                                   for f in synx["fits"]]}


#: The NMM chapter's ablation: each of the changes of :data:`nmm_core.training.SETTINGS` taken
#: away alone, all of them taken away, the parameters frozen at nominal, and (a diagnosis that
#: reads the truth, never used to choose anything) the physics frozen at the true parameters.
#: Every row is one member of one model, and every member starts from the same network weights,
#: so that the rows differ by their settings alone (one seed: differences within the ensemble's
#: seed spread are not effects). The rows at a constant learning rate train beside the others
#: (:class:`nmm_core.network.MemberAdam`).
ABLATIONS: tuple[tuple[str, dict], ...] = (
    ("all changes (the NMM)", {}),
    ("without the effort term", {"effort_weight": 0.0}),
    ("deep neural parameters untied", {"tie_deep": False}),
    ("deep architecture scales free", {"freeze_deep_architecture": False}),
    (f"burn-in of 10 samples, not {training.BURN_IN}", {"burn_in": 10}),
    ("parameters' steps as the network's (rate 1)", {"parameter_rate": 1.0}),
    ("constant learning rate", {"schedule": None}),
    ("none of the changes (as first built)", {k: v for k, v in training.UNMENDED.items() if k != "learning_rate"}),
    ("parameters frozen at nominal", {"trainable_parameters": False}),
    ("diagnosis: physics frozen at the true parameters", {"trainable_parameters": False, "initial": "true"}),
)


#: How many subjects a quick run ablates: the first, in the cohort's order. A subject's ablation
#: trains one model of :data:`ABLATIONS`' rows and a torque network, about a third of a quick NMM
#: chapter's time; one subject keeps the whole path checked by ``make test``, and a full run
#: ablates every subject.
QUICK_ABLATION_SUBJECTS = 1


def ablates(subject: str, quick: bool) -> bool:
    """Whether a run of this mode ablates ``subject`` of the default cohort: every subject in
    full mode, the first :data:`QUICK_ABLATION_SUBJECTS` in quick mode."""
    return not quick or subject in training.cohort_subjects()[:QUICK_ABLATION_SUBJECTS]


def run_ablations(learner, record: dict, fit: Sequence, validation: Sequence, chosen: dict, plan: Plan,
                  seed: int = 0, backbone: str = "transformer"):
    """Every row of :data:`ABLATIONS` on top of the ``chosen`` loss weights, trained as one
    model whose member k is row k."""
    settings = [{**chosen, **change} for _, change in ABLATIONS]
    for s in settings:
        if s.get("initial") == "true":
            s["initial"] = training.true_physics(record)
    model, _, _ = fit_nmm(learner, fit, validation, settings, plan, seed, backbone=backbone, same_start=True)
    return model


@dataclasses.dataclass
class MethodRun:
    """One method's run of the protocol on one subject (:func:`run_methods`).

    Attributes
    ----------
    scores : dict
        :func:`nmm_core.training.score` on the held-out trials.
    predictions : dict
        ``{trial: {"hidden", "torque", ...}}`` on the held-out trials.
    held : list
        The held-out trials the predictions belong to (with their synergy activations for
        ``nmm_synergy``).
    seconds : float
        Fitting time: the baseline's selection and final fit; the NMM's ensemble.
    extra : dict
        What its results file carries beside the scores (selection rows, chosen setting, seeds
        and seed spread; for an NMM, each member's held-out torque NRMSE, validation torque RMSE
        and identified parameters, ``"member_torque_nrmse"``, ``"member_validation_rmse"`` and
        ``"member_parameters"``).
    model, history
        An NMM's trained ensemble and its training history (not in its results file).
    """

    scores: dict
    predictions: dict
    held: list
    seconds: float
    extra: dict
    #: The trained model (an NMM's ensemble; None for the baseline), not written to results.
    model: object = None
    #: Its training history (:func:`nmm_core.training.train`).
    history: dict | None = None


def run_nmm(data, plan: Plan, seed: int = 0, backbone: str = "transformer", prior=None) -> MethodRun:
    """The NMM's protocol on one subject (:class:`nmm_core.training.SubjectData`): the loss
    weights chosen on validation (:func:`select_nmm`), then an ensemble of ``plan.seeds``
    members with them (:func:`fit_nmm`), scored on the held-out trials with each member's
    spread. ``prior``: :func:`synergy_prior`'s synergies for the NMM with a synergy prior
    (``nmm_synergy``), None for the NMM."""
    from .results import seed_spread

    fit, validation, held = data.arrays["fit"], data.arrays["validation"], data.held_out
    synergies = prior.n_synergies if prior is not None else 0
    if prior is not None:
        fit, validation, held = (training.with_synergies(part, prior) for part in (fit, validation, held))
    selection = select_nmm(data.learner, fit, validation, plan, seed, backbone, synergies=synergies)
    model, history, seconds = fit_nmm(data.learner, fit, validation, [selection["best"]] * plan.seeds, plan,
                                      seed, backbone=backbone, synergies=synergies)
    evaluated = training.evaluate(model, held, plan.window, data.delay)
    predictions = evaluated.pop("predictions")
    blocks, each = training.member_scores(held, predictions, data.delay, plan.seeds)
    found = model.physics.identified_parameters()
    extra = {"seconds_per_seed": seconds / plan.seeds, "seed": seed, "seeds": plan.seeds,
             "seed_sd": {m: seed_spread(each[m]["median_trial_r"])[1] for m in each},
             "seed_scores": each, "member_torque_nrmse": [b["torque"]["nrmse"] for b in blocks],
             "member_validation_rmse": history["best_validation_rmse"],
             "member_parameters": found if isinstance(found, list) else [found],
             "backbone": backbone, "plan": vars(plan), "selection": selection["rows"],
             "chosen": selection["best"], "best_epoch": history["best_epoch"],
             "held_out_trials": [a.trial.name for a in held],
             "validation_trials": [a.trial.name for a in validation]}
    if prior is not None:
        extra.update(synergies=prior.n_synergies, synergy_vaf=prior.vaf)
    return MethodRun(evaluated, predictions, list(held), seconds, extra, model, history)


def run_methods(data, plan: Plan, seed: int = 0, backbone: str = "transformer", progress=None) -> dict:
    """The whole protocol on one subject (:class:`nmm_core.training.SubjectData`), every method
    unchanged: the synergy baseline (:func:`select_synx`), the NMM and the NMM with a synergy
    prior on :func:`synergy_prior`'s synergies (:func:`run_nmm`). Returns ``{"mse" | "nmm" | "nmm_synergy": MethodRun}``.
    ``progress``: called with each method's name as it starts (e.g. a progress bar's update)."""
    fit, validation, held = data.arrays["fit"], data.arrays["validation"], data.held_out
    trials = {"held_out_trials": [a.trial.name for a in held], "validation_trials": [a.trial.name for a in validation]}
    runs = {}
    if progress:
        progress("mse")
    synx = select_synx(fit, validation, data.nominal, seed, restarts=plan.seeds)
    predictions = synx["final"].predict(held, data.nominal)
    method, k = synx["best"]
    runs["mse"] = MethodRun(training.score(held, predictions, data.delay), predictions, list(held), synx["seconds"],
                            {"factorisation": method, "n_synergies": k, "vaf": synx["synergies"].vaf,
                             "selection": synx["rows"], "delay_s": synx["final"].delay,
                             **restart_members(synx, held, data.nominal, data.delay), **trials})
    prior = synergy_prior(fit, seed)
    for name, method_prior in (("nmm", None), ("nmm_synergy", prior)):
        if progress:
            progress(name)
        runs[name] = run_nmm(data, plan, seed, backbone, prior=method_prior)
    return runs
