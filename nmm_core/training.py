"""Data preparation, training and evaluation of the NMM for one subject.

OpenSim is used here once per subject, to fit the muscle paths of the subject's (scaled) model;
training itself only sees arrays. Nothing in training reads the deep channels' truth: it is
used by :func:`evaluate` alone.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Mapping, Sequence

import numpy as np

from . import scoring
from .arm_model import fit_muscle_geometry
from .config import DEEP_MUSCLES, MUSCLE_NAMES, SURFACE_MUSCLES, Subject, hidden_muscles
from .inference import backend_jit_compile, estimate, window_starts
from .trials import Trial

FEATURES = ("elbow_angle", "elbow_speed", "hand_load", "shoulder_angle", *SURFACE_MUSCLES)


@dataclasses.dataclass
class TrialArrays:
    """One trial as the model sees it (all on the kinematics time base, T samples)."""

    trial: Trial
    features: np.ndarray  # (T, 8), see FEATURES
    surface: np.ndarray  # (T, 4)
    length: np.ndarray  # (T, 6) m
    speed: np.ndarray  # (T, 6) m/s
    moment_arm: np.ndarray  # (T, 6) m
    torque: np.ndarray  # (T,) N m
    synergy: np.ndarray | None = None  # (T, k) synergy activations, for an NMM with a synergy prior

    def inputs(self) -> dict:
        out = {"features": self.features, "surface": self.surface, "length": self.length,
               "speed": self.speed, "moment_arm": self.moment_arm}
        return out if self.synergy is None else {**out, "synergy": self.synergy}


def with_synergies(arrays: Sequence[TrialArrays], synergies, hidden: Sequence[str] = DEEP_MUSCLES) -> list[TrialArrays]:
    """Copies of ``arrays`` carrying the activations (T, k) of ``synergies``
    (:class:`nmm_core.synergy.Synergies`, extracted from the envelopes of the muscles not in
    ``hidden``) of their own envelopes."""
    from .synergy import measured_columns

    columns = measured_columns(hidden)
    return [dataclasses.replace(a, synergy=synergies.activations(a.surface[:, columns]).astype("float32"))
            for a in arrays]


def learner_subject(record: dict) -> Subject:
    """What a user knows of a subject: anthropometry (the scaled model), not muscle scales."""
    return Subject(record["name"], segment_length_scale=record["segment_length_scale"],
                   forearm_mass_scale=record["forearm_mass_scale"])


def prepare(trials: Sequence[Trial], subject: Subject, hidden: Sequence[str] = DEEP_MUSCLES,
            geometry=None) -> list[TrialArrays]:
    """Model inputs for each trial, with muscle paths fitted on ``subject``'s OpenSim model.

    A surface muscle in ``hidden`` is removed from the inputs (its column is zero), for
    leave-one-channel-out tests. ``geometry(shoulder_angle)`` may give the muscle geometry
    instead (e.g. :func:`nmm_core.public_data.upper_limb_geometry` of a participant's model).
    """
    hidden = hidden_muscles(hidden)
    geometries = {}
    out = []
    for trial in trials:
        key = round(trial.shoulder_angle, 6)
        if key not in geometries:
            geometries[key] = (geometry(trial.shoulder_angle) if geometry is not None
                               else fit_muscle_geometry(subject, trial.shoulder_angle))
        fitted = geometries[key]
        speed = trial.elbow_speed
        surface = np.column_stack([np.zeros(trial.time.size) if m in hidden else trial.channel(m)
                                   for m in SURFACE_MUSCLES])
        features = np.column_stack([trial.elbow_angle - 1.1, speed / 5.0,
                                    np.full(trial.time.size, trial.hand_load / 4.0),
                                    np.full(trial.time.size, trial.shoulder_angle / np.pi), surface])
        out.append(TrialArrays(trial, features.astype("float32"), surface.astype("float32"),
                               fitted.length(trial.elbow_angle).astype("float32"),
                               fitted.lengthening_speed(trial.elbow_angle, speed).astype("float32"),
                               fitted.moment_arm(trial.elbow_angle).astype("float32"),
                               trial.torque.astype("float32")))
    return out


def windows(arrays: Sequence[TrialArrays], window: int, stride: int) -> tuple[dict, np.ndarray]:
    """Sliding windows over every trial: inputs dict of (N, window, ...) and torque (N, window)."""
    parts, targets = {k: [] for k in arrays[0].inputs()}, []
    for a in arrays:
        n = a.torque.size
        if n < window:
            raise ValueError(f"Trial {a.trial.name!r} has {n} samples, fewer than the window ({window}); "
                             "use a shorter window.")
        starts = window_starts(n, window, stride)  # the last window ends at the trial's end
        for k, v in a.inputs().items():
            parts[k].extend(v[s:s + window] for s in starts)
        targets.extend(a.torque[s:s + window] for s in starts)
    return {k: np.stack(v) for k, v in parts.items()}, np.stack(targets)


def split(trials: Sequence[Trial], held_out_load: float = 2.0,
          held_out_trials: Sequence[str] = ("4", "6")) -> dict[str, list[Trial]]:
    """Train / held-out speeds / held-out load.

    ``test_load``: every trial at ``held_out_load``. ``test_speed``: at the other loads, the
    trials whose name ends in one of ``held_out_trials`` (in the full cohort, the fastest
    hanging and the faster overhead trial). ``train``: the rest.
    """
    out = {"train": [], "test_speed": [], "test_load": []}
    for trial in trials:
        if trial.hand_load == held_out_load:
            out["test_load"].append(trial)
        elif trial.name.rsplit("_", 1)[-1] in held_out_trials:
            out["test_speed"].append(trial)
        else:
            out["train"].append(trial)
    if not out["train"]:
        raise ValueError("No training trials left after the split; hold out fewer trials.")
    return out


def inner_split(arrays: Sequence) -> tuple[list, list]:
    """The validation set of the selection protocol, carved out of the training trials only:
    from every group of training trials with the same hand load and posture that has at least
    two of them, the trial of median duration (of two, the longer): a speed inside the range
    the fitting trials cover, so that validation measures a new trial like the fitting ones
    rather than an extrapolation in speed. Returns ``(fit, validation)``: both methods fit on
    the first and choose every setting on the second (``arrays``: anything with a ``.trial``,
    or :class:`~nmm_core.trials.Trial` objects)."""
    trial = lambda a: getattr(a, "trial", a)  # noqa: E731
    groups: dict = {}
    for a in arrays:
        groups.setdefault((trial(a).hand_load, scoring.posture_name(trial(a).shoulder_angle)), []).append(a)
    validation = [sorted(group, key=lambda a: (trial(a).time.size, trial(a).name))[len(group) // 2]
                  for group in groups.values() if len(group) >= 2]
    if not validation:
        raise ValueError("No validation trial: every load and posture has a single training trial. Record "
                         "at least two trials of one load and posture (or hold out fewer).")
    return [a for a in arrays if not any(a is v for v in validation)], validation


@dataclasses.dataclass
class SubjectData:
    """One cohort subject split and prepared for both methods."""

    name: str
    record: dict
    learner: object
    arrays: dict  # "train" (= "fit" + "validation"), "test_speed", "test_load" -> list of TrialArrays
    nominal: dict = dataclasses.field(default_factory=dict)

    @property
    def held_out(self) -> list:
        return self.arrays["test_speed"] + self.arrays["test_load"]

    @property
    def recording(self) -> list:
        """Every trial (training and held-out): a whole recording session, for inference speed."""
        return self.arrays["train"] + self.held_out

    @property
    def delay(self) -> float:
        return self.record["electromechanical_delay_s"]

    def score_rows(self, predictions: dict) -> list[tuple[str, dict]]:
        """``(label, scores)`` of one method's ``predictions`` (:func:`score`) on all held-out
        trials, the unseen speeds, the unseen load, and each posture pooled: the rows of the
        subject chapters' score tables (:func:`nmm_core.plotting.score_table`)."""
        parts = {"all held-out": self.held_out, "unseen speeds": self.arrays["test_speed"],
                 "unseen load (2 kg)": self.arrays["test_load"]}
        rows = [(label, score(part, predictions, self.delay)) for label, part in parts.items() if part]
        return rows + [(f"{name} (pooled)", block) for name, block in rows[0][1]["per_posture"].items()]

    def duration(self, part: str = "recording") -> float:
        """Seconds of movement in ``"recording"``, ``"held_out"``, ``"train"``, ..."""
        return movement_seconds(getattr(self, part) if part in ("recording", "held_out") else self.arrays[part])


def movement_seconds(arrays: Sequence) -> float:
    """Seconds of movement in trials (:class:`~nmm_core.training.TrialArrays`)."""
    return float(sum(a.torque.size * (a.trial.time[1] - a.trial.time[0]) for a in arrays))


def cohort_subjects(seed: int | None = None) -> list[str]:
    """The subjects of the virtual cohort drawn with ``seed`` (default: the book's cohort), in
    order: known before the cohort is generated (it draws the bodies only; nothing is generated
    or read). The benchmark scripts' default ``--subjects``; for the book's cohort, the subjects
    of its chapters (:data:`nmm_core.reproduce.SUBJECTS`)."""
    from . import cohort

    return [s.name for s in cohort.make_cohort(seed=cohort.DEFAULT_SEED if seed is None else seed)]


def subject_data(subject: str = "S01", quick: bool = False, cohort_seed: int | None = None,
                 motor_control: str = "min_effort") -> SubjectData:
    """One subject of the virtual cohort (generated if absent; ``cohort_seed``: another cohort
    than the default one; ``motor_control``: a cohort variant,
    :data:`nmm_core.config.MOTOR_CONTROLS`), split (:func:`split`, then :func:`inner_split`) and prepared
    (:func:`prepare`) for both methods, with what a learner knows of it
    (:func:`learner_subject`): what every subject chapter and benchmark starts from."""
    from . import cohort

    seed = cohort.DEFAULT_SEED if cohort_seed is None else cohort_seed
    names = cohort_subjects(seed)
    if subject not in names:  # said before minutes of generating a cohort, not after
        raise ValueError(f"The virtual cohort (seed {seed}) has no subject {subject!r}; its subjects are "
                         f"{', '.join(names)}.")
    directory = cohort.cohort_dir(quick=quick, seed=seed, motor_control=motor_control)
    return load_subject(directory, subject)


def load_subject(directory, subject: str) -> SubjectData:
    """:func:`subject_data` of a generated cohort's folder (any cohort, any variant)."""
    from . import cohort, synergy

    trials = cohort.load_cohort(directory)
    if subject not in trials:
        raise ValueError(f"The virtual cohort in {directory} has no subject {subject!r}; its subjects are "
                         f"{', '.join(sorted(trials))}.")
    record = cohort.subject_record(directory, subject)
    learner = learner_subject(record)
    parts = split(trials[subject])
    arrays = {name: prepare(part, learner) for name, part in parts.items()}
    arrays["fit"], arrays["validation"] = inner_split(arrays["train"])
    return SubjectData(subject, record, learner, arrays, synergy.nominal_parameters(learner))


def cohort_map_r2(directory, trials: Mapping | None = None, surface: Sequence[str] | None = None) -> dict:
    """``{subject: {muscle: R²}}``: the within-subject R² of :func:`nmm_core.scoring.map_r2` for
    every subject of a virtual cohort's folder (``trials``: its
    :func:`nmm_core.cohort.load_cohort`, read if not given), each subject with its own
    electromechanical delay. The same function serves every cohort variant."""
    from . import cohort

    trials = cohort.load_cohort(directory) if trials is None else trials
    columns = {n: scoring.stacked_columns(trials[n], cohort.subject_record(directory, n)["electromechanical_delay_s"],
                                          SURFACE_MUSCLES if surface is None else surface) for n in sorted(trials)}
    return scoring.map_r2(columns)[0]


#: Samples at the start of every training window left out of the torque error: the longest
#: electromechanical delay the physics allows (0.1 s, before which the delay reads the held
#: first sample) plus two of the longest deactivation time constants (0.08 s), over which an
#: activation started at the wrong level has decayed to 14 % of its error. At 100 Hz.
BURN_IN = 26
#: How this package trains the NMM (each entry an ablation row in the NMM chapter): an effort
#: term on the hidden excitations on the same footing as the synergy baseline's (its
#: ``extrapolated_weight``), the deep groups' neural parameters tied to their synergists', the
#: deep muscles' architecture scales frozen at nominal, the burn-in above and a cosine
#: learning-rate schedule. The loss weights are the starting point of the validation search
#: (:data:`nmm_core.protocol.NMM_CANDIDATES`).
SETTINGS = {"effort_weight": 0.01, "smoothness_weight": 0.1, "prior_weight": 0.1, "tie_deep": True,
            "freeze_deep_architecture": True, "burn_in": BURN_IN, "schedule": "cosine", "learning_rate": 3e-3}
#: The NMM as first built here, before those changes (the ablation's "none of them" row).
UNMENDED = {"effort_weight": 0.0, "smoothness_weight": 0.1, "prior_weight": 0.1, "parameter_rate": 1.0, "tie_deep": False,
            "freeze_deep_architecture": False, "burn_in": 10, "schedule": None, "learning_rate": 3e-3}
#: Keyword arguments of :func:`build_model` that take one value per ensemble member.
MEMBER_SETTINGS = ("effort_weight", "smoothness_weight", "prior_weight", "tie_deep",
                   "freeze_deep_architecture", "burn_in", "trainable_parameters", "initial", "residual_weight",
                   "parameter_rate")


def build_model(subject: Subject, window: int, backbone: str = "transformer", time_step: float = 0.01,
                torque_scale: float = 5.0, trainable_parameters=True, seed: int = 0, members: int = 1,
                smoothness_weight=SETTINGS["smoothness_weight"], effort_weight=SETTINGS["effort_weight"],
                prior_weight=SETTINGS["prior_weight"], tie_deep=SETTINGS["tie_deep"],
                freeze_deep_architecture=SETTINGS["freeze_deep_architecture"], burn_in=SETTINGS["burn_in"],
                learning_rate: float = SETTINGS["learning_rate"], hidden: Sequence[str] = DEEP_MUSCLES,
                jit_compile="auto", initial=None, synergies: int = 0, residual_weight=1.0, width: int = 32,
                depth: int = 2, parameter_rate=1.0):
    """A compiled :class:`~nmm_core.network.NMM` for ``subject`` (nominal muscles, scaled) with
    ``members`` ensemble members side by side, estimating the excitations of the ``hidden``
    muscles (see :func:`prepare`).

    The settings in :data:`MEMBER_SETTINGS` take one value for every member or a list of one
    per member (so that candidates, seeds and ablations train together as one model). Members
    start from different random weights; ``seed`` fixes them all. ``jit_compile``: XLA
    compilation of TensorFlow's training step (``"auto"``: off on a CPU-only machine); JAX
    compiles its step whatever it says (:func:`nmm_core.inference.backend_jit_compile`).
    ``initial`` sets the subject parameters' starting values
    (:class:`~nmm_core.network.MusclePhysics`), e.g. :func:`true_physics` with
    ``trainable_parameters=False`` for the diagnosis with the subject's true physics.
    ``synergies`` > 0 gives the NMM a synergy prior over that many synergy activations
    (:meth:`nmm_core.network.NMM.hidden`; its inputs need them, :func:`with_synergies`).
    ``width`` and ``depth``: the backbone's size (:class:`~nmm_core.network.Backbone`).
    ``parameter_rate`` multiplies the optimizer's steps of the subject parameters against the
    network's (:class:`~nmm_core.network.MemberAdam`; 1: the same steps)."""
    import keras

    # network imports Keras at once: only when needed
    from .network import NMM, Backbone, MemberAdam, MusclePhysics

    keras.utils.set_random_seed(seed)
    props = [subject.muscle(m) for m in MUSCLE_NAMES]
    physics = MusclePhysics([p.max_isometric_force for p in props], [p.optimal_fiber_length for p in props],
                            [p.tendon_slack_length for p in props],
                            [p.pennation_angle_at_optimal for p in props], time_step,
                            trainable_parameters=trainable_parameters, initial=initial, hidden=hidden,
                            members=members, tie_deep=tie_deep, freeze_deep_architecture=freeze_deep_architecture,
                            name="physics")
    H = len(physics.hidden)
    body = Backbone(backbone, window, len(FEATURES), n_outputs=H * (synergies + 1) if synergies else H,
                    members=members, output="linear" if synergies else "sigmoid", width=width, depth=depth,
                    name="backbone")
    model = NMM(body, physics, torque_scale=torque_scale, smoothness_weight=smoothness_weight,
                effort_weight=effort_weight, prior_weight=prior_weight, burn_in=burn_in,
                synergies=synergies, residual_weight=residual_weight)
    model.compile(optimizer=MemberAdam(members, learning_rate=learning_rate, parameter_rate=parameter_rate),
                  jit_compile=backend_jit_compile(jit_compile))
    return model


def build_black_box(window: int, backbone: str = "transformer", seed: int = 0,
                    learning_rate: float = SETTINGS["learning_rate"]):
    """The "physics off" ablation: the same backbone mapping the inputs straight to torque.

    Trained on torque alone it can fit torque, but nothing in it is a deep excitation: without
    labels, a purely data-driven network cannot give the deep EMG.
    """
    import keras

    from .network import Backbone  # network imports Keras at once: only when needed

    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((window, len(FEATURES))),
                              Backbone(backbone, window, len(FEATURES), n_outputs=1, output="linear"),
                              keras.layers.Reshape((window,))], name="black_box")
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="mean_squared_error")
    return model


def black_box_torque(model, arrays: TrialArrays, window: int) -> np.ndarray:
    """Torque (T,) of a :func:`build_black_box` model over a whole trial (averaged windows)."""
    n = arrays.torque.size
    starts = _overlapping_starts(n, window)
    predictions = model.predict(np.stack([arrays.features[s:s + window] for s in starts]), verbose=0)
    total, count = np.zeros(n), np.zeros(n)
    for s, p in zip(starts, predictions):
        total[s:s + window] += p
        count[s:s + window] += 1
    return total / count


def validation_error(model, arrays: Sequence[TrialArrays], window: int) -> np.ndarray:
    """Each ensemble member's torque RMSE (N m) on whole trials, (K,): the validation score of
    the selection protocol. The first and last :data:`nmm_core.scoring.TRIM_SECONDS` of every
    trial are left out, as in every score."""
    errors = [[] for _ in range(model.members)]
    for a, p in zip(arrays, estimate(model, arrays, window)):
        kept = scoring.trim_mask(a.trial.time)
        for k, member in enumerate(p["member_torque"]):
            errors[k].append((member[kept] - a.torque[kept]) ** 2)
    return np.sqrt([np.mean(np.concatenate(e)) for e in errors])


class _BestPerMember:
    """Keras callback: after every epoch, the validation torque error of each member; a member's
    weights at its best epoch are kept and put back at the end; training stops when no member
    has improved for ``patience`` epochs. Every weight of an NMM has the member axis first."""

    def __init__(self, model, validation, window, patience):
        import keras

        class Callback(keras.callbacks.Callback):
            def on_epoch_end(inner, epoch, logs=None):
                self.epoch_end(epoch, logs)

            def on_train_end(inner, logs=None):
                self.restore()

        self.callback = Callback()
        self.nmm, self.validation, self.window, self.patience = model, validation, window, patience
        self.variables = [*model.backbone.weights, *model.physics.weights]
        self.best = [np.array(v) for v in self.variables]
        self.best_error = np.full(model.members, np.inf)
        self.best_epoch = np.zeros(model.members, dtype=int)
        self.errors = []

    def epoch_end(self, epoch, logs):
        error = validation_error(self.nmm, self.validation, self.window)
        self.errors.append(error.tolist())
        improved = error < self.best_error
        if improved.any():
            for best, variable in zip(self.best, self.variables):
                best[improved] = np.array(variable)[improved]
            self.best_error[improved] = error[improved]
            self.best_epoch[improved] = epoch + 1
        if logs is not None:
            logs["val_torque_rmse"] = float(error.mean())
        if epoch + 1 - self.best_epoch.max() >= self.patience:
            self.nmm.stop_training = True

    def restore(self):
        for best, variable in zip(self.best, self.variables):
            variable.assign(best)


def _batch(n_windows: int, batch_size: int) -> int:
    return min(int(batch_size), int(n_windows))  # all windows in one batch if there are fewer


def trained_windows(n_windows: int, batch_size: int) -> int:
    """How many of ``n_windows`` windows :func:`full_batches` trains per epoch (full batches only)."""
    size = _batch(n_windows, batch_size)
    return n_windows // size * size


def full_batches(x, y: np.ndarray, batch_size: int, seed: int = 0):
    """The training windows as a ``tf.data.Dataset`` of full batches (Keras reads one with any
    backend): every epoch a new permutation of the windows (drawn from ``seed``), cut into
    ``len(y) // batch_size`` batches of ``batch_size`` (all windows in one batch if there are
    fewer). The last ``len(y) % batch_size`` windows of each permutation wait for another epoch.
    Every step then has the same shapes, so a compiled training step is traced and compiled
    once (an odd last batch costs a second tracing and XLA compilation, several seconds per
    model). ``x``: one array or a dict of arrays, windows first."""
    import tensorflow as tf

    size = _batch(len(y), batch_size)
    return (tf.data.Dataset.from_tensor_slices((x, y))
            .shuffle(len(y), seed=seed, reshuffle_each_iteration=True)
            .batch(size, drop_remainder=True))


def _schedule_callbacks(model, schedule, epochs: int) -> list:
    """The callbacks that follow ``schedule`` (:func:`train`): one value, or one per member."""
    import keras

    schedules = list(schedule) if isinstance(schedule, (list, tuple)) else [schedule]
    unknown = [s for s in schedules if s not in ("cosine", None)]
    if unknown:
        raise ValueError(f"Unknown schedule {unknown[0]!r}; choose 'cosine' or None.")
    if "cosine" not in schedules:
        return []
    start = float(keras.ops.convert_to_numpy(model.optimizer.learning_rate))

    def rate(epoch):
        return start * (0.05 + 0.95 * 0.5 * (1 + np.cos(np.pi * epoch / max(1, epochs))))

    callbacks = [keras.callbacks.LearningRateScheduler(rate)]
    if None in schedules:
        from .network import MemberAdam

        members = getattr(model, "members", 1)
        if len(schedules) != members:
            raise ValueError(f"{len(schedules)} schedules for a model of {members} members: give one, or one per member.")
        if not isinstance(model.optimizer, MemberAdam):
            raise ValueError("Members on different schedules need the optimizer MemberAdam (as build_model gives), "
                             f"not {type(model.optimizer).__name__}.")
        constant = np.array([s is None for s in schedules])
        if not model.optimizer.built:  # its step scales are made with its state
            model.optimizer.build(model.trainable_variables)

        class MemberRates(keras.callbacks.Callback):
            """Steps of the members at a constant rate scaled by start / rate (MemberAdam)."""

            def on_epoch_begin(self, epoch, logs=None):
                model.optimizer.member_scale.assign(np.where(constant, start / rate(epoch), 1.0).astype("float32"))

        callbacks.append(MemberRates())
    return callbacks


def train(model, arrays: Sequence[TrialArrays], window: int, epochs: int, stride: int = 8,
          batch_size: int = 32, seed: int = 0, verbose: int = 0, features_only: bool = False,
          callbacks=None, validation: Sequence[TrialArrays] | None = None, patience: int = 15,
          schedule: str | None | Sequence[str | None] = SETTINGS["schedule"]) -> tuple[dict, float]:
    """Fit on windows of ``arrays`` (:func:`full_batches`); return the history dict and the wall
    time (s).

    ``schedule="cosine"`` lowers the learning rate from its starting value to 5 % of it along a
    half cosine over ``epochs`` (``None``: constant); a list gives each member of an NMM its own
    (its optimizer scales the steps of the members at a constant rate,
    :class:`~nmm_core.network.MemberAdam`). With ``validation`` trials (an NMM only),
    every member's torque error on them is measured after each epoch (the history's
    ``"validation_rmse"``, one list per epoch), each member keeps its weights of its best epoch
    (``"best_epoch"``, ``"best_validation_rmse"``), and training stops once no member has
    improved for ``patience`` epochs: ``epochs`` is then a maximum. ``features_only`` feeds only
    the features (for :func:`build_black_box`); ``callbacks`` are more Keras callbacks.
    """
    import keras

    keras.utils.set_random_seed(seed)
    x, y = windows(arrays, window, stride)
    if features_only:
        x = x["features"]  # a plain network (the physics-off ablation) reads the features only
    batches = full_batches(x, y, batch_size, seed)
    callbacks = list(callbacks or [])
    callbacks += _schedule_callbacks(model, schedule, epochs)
    tracker = None
    if validation is not None:
        tracker = _BestPerMember(model, validation, window, patience)
        callbacks.append(tracker.callback)
    begin = time.perf_counter()
    if not model.optimizer.built:
        # Made here, not inside the first traced step: variables created while tracing make
        # TensorFlow trace the whole step a second time (about 4 s per model).
        model.optimizer.build(model.trainable_variables)
    # shuffle=False: the batches come shuffled (full_batches).
    history = model.fit(batches, epochs=epochs, verbose=verbose, callbacks=callbacks, shuffle=False).history
    seconds = time.perf_counter() - begin
    if tracker is not None:
        history = {**history, "validation_rmse": tracker.errors, "best_epoch": tracker.best_epoch.tolist(),
                   "best_validation_rmse": tracker.best_error.tolist()}
    return history, seconds


def _overlapping_starts(n: int, window: int) -> list[int]:
    """Start indices of windows overlapping by three quarters that cover n samples."""
    return window_starts(n, window, max(1, window // 4))


def predict_trial(model, arrays: TrialArrays, window: int) -> dict:
    """Hidden (by default deep) excitations over the whole trial (overlapping windows,
    averaged) and the torque the physics block gives for them over the whole trial.

    Returns ``{"hidden": (T, H), "torque": (T,)}``, H the number of hidden muscles. Several
    trials at once are faster with :func:`nmm_core.inference.estimate`, which this calls.
    """
    return estimate(model, [arrays], window)[0]


def true_deep_emg(trial: Trial, electromechanical_delay: float, hidden: Sequence[str] = DEEP_MUSCLES) -> np.ndarray:
    """What the hidden muscles' estimates are scored against, (T, H): see
    :func:`nmm_core.scoring.true_excitation` (the delay convention is in :mod:`nmm_core.scoring`)."""
    return scoring.true_excitation(trial, electromechanical_delay, hidden_muscles(hidden))


def score(arrays: Sequence[TrialArrays], predictions: dict, electromechanical_delay: float,
          hidden: Sequence[str] = DEEP_MUSCLES, muscles: Sequence[str] | None = None) -> dict:
    """Scores of predictions on a set of trials, by :func:`nmm_core.scoring.score_trials`.

    ``predictions`` maps each trial's name to ``{"hidden": (T, H), "torque": (T,)}``, from any
    method, one ``"hidden"`` column per muscle of ``hidden``; ``muscles`` (default: all of
    ``hidden``) are the ones scored (e.g. only the recorded ones). Returns the pooled scores
    (``{muscle: {"r", "rmse", "r_lowpass", "rmse_lowpass", "constant", "truth_constant"},
    "torque": {"rmse_Nm", "nrmse", "r2"}}``) with ``per_load``, ``per_posture``, ``per_trial``
    and ``median_trial``.
    """
    hidden = hidden_muscles(hidden)
    muscles = hidden if muscles is None else tuple(muscles)
    columns = [hidden.index(m) for m in muscles]
    selected = {name: {**p, "hidden": np.asarray(p["hidden"])[:, columns]} for name, p in predictions.items()}
    records = scoring.scored_trials([a.trial for a in arrays], selected, electromechanical_delay, muscles,
                                    {a.trial.name: a.torque for a in arrays})
    return scoring.score_trials(records, muscles)


def member_scores(arrays: Sequence[TrialArrays], predictions: dict, electromechanical_delay: float,
                  members: int) -> tuple[list[dict], dict]:
    """Each ensemble member scored on its own (:func:`score` of
    :func:`nmm_core.inference.member_predictions`), for the seed spread. Returns ``(blocks,
    per_muscle)``: the K score blocks, and per deep muscle ``{"median_trial_r": [K], "r": [K]}``
    (median per-trial and pooled r of each member)."""
    from .inference import member_predictions

    blocks = [score(arrays, member_predictions(predictions, k), electromechanical_delay) for k in range(members)]
    per_muscle = {m: {"median_trial_r": [b["median_trial"][m]["r"] for b in blocks], "r": [b[m]["r"] for b in blocks]}
                  for m in DEEP_MUSCLES}
    return blocks, per_muscle


def prediction_curves(arrays: Sequence[TrialArrays], predictions: dict, electromechanical_delay: float,
                      hidden: Sequence[str] = DEEP_MUSCLES) -> dict:
    """``{trial: {"time", "torque_reference", "torque", "hidden", "hidden_truth", "hand_load_kg",
    "shoulder_angle"}}``: what the figures of held-out predictions draw
    (:func:`nmm_core.plotting.held_out_figure`) and :func:`nmm_core.results.save_predictions`
    stores."""
    return {a.trial.name: {"time": a.trial.time, "torque_reference": a.torque,
                           "torque": predictions[a.trial.name].get("torque"),
                           "hidden": predictions[a.trial.name]["hidden"],
                           "hidden_truth": true_deep_emg(a.trial, electromechanical_delay, hidden),
                           "hand_load_kg": np.array(a.trial.hand_load),
                           "shoulder_angle": np.array(a.trial.shoulder_angle)} for a in arrays}


def evaluate(model, arrays: Sequence[TrialArrays], window: int, electromechanical_delay: float) -> dict:
    """:func:`score` of an NMM on a set of trials, plus its ``"predictions"`` per trial."""
    predictions = {a.trial.name: p for a, p in zip(arrays, estimate(model, arrays, window))}
    return {**score(arrays, predictions, electromechanical_delay, model.physics.hidden), "predictions": predictions}


def true_parameters(record: dict) -> dict:
    """The subject's true values of the NMM's parameters (virtual cohort only), in the layout
    of :meth:`nmm_core.network.MusclePhysics.identified_parameters`."""
    from .network import GROUP_NAMES  # network imports Keras at once: only when needed

    constant = lambda value: {g: value for g in GROUP_NAMES}  # noqa: E731
    return {
        "shape_factor": constant(0.0),  # the cohort's muscles map excitation to activation linearly
        "activation_time_constant": constant(0.010),
        "deactivation_time_constant": constant(0.040),
        "electromechanical_delay": constant(record["electromechanical_delay_s"]),
        "max_isometric_force_scale": dict(record["max_isometric_force_scale"]),
        "optimal_fiber_length_scale": dict(record["optimal_fiber_length_scale"]),
        "tendon_slack_length_scale": dict(record["tendon_slack_length_scale"]),
    }


def true_physics(record: dict) -> dict:
    """:func:`true_parameters` as :class:`~nmm_core.network.MusclePhysics` ``initial`` values
    (lists in group or muscle order), each moved just inside its open bounds (the cohort's
    linear excitation-to-activation map, A = 0, is the bound itself).

    Reads the truth: for the diagnosis "is the loss in the parameters or in the network?" only.
    """
    from .network import LEVEL_NAMES, PARAMETER_BOUNDS  # network imports Keras at once: only when needed

    out = {}
    for name, values in true_parameters(record).items():
        low, high, _, level = PARAMETER_BOUNDS[name]
        margin = 1e-3 * (high - low)
        out[name] = [min(max(float(values[k]), low + margin), high - margin) for k in LEVEL_NAMES[level]]
    return out
