"""The neural musculoskeletal model (NMM) in Keras 3: a network for the deep excitations and a
physics block that turns every excitation into elbow torque.

Backend-agnostic (``keras.ops`` only): set ``KERAS_BACKEND`` to ``tensorflow`` (default) or
``jax``. The physics functions are those of :mod:`nmm_core.muscle`, unchanged; this module only
wraps them in layers whose subject-specific parameters are trainable and bounded.

Subject-specific parameters (a documented choice; the paper names 32 without listing them):
34 in all. Per muscle group (biceps: BIClong+BICshort; brachialis; superficial triceps:
TRIlong+TRIlat; triceps medial head), 4 x 4 = 16 neural parameters: shape factor A, activation
and deactivation time constants (the two coefficients of first-order activation dynamics) and
electromechanical delay. Per muscle, 6 x 3 = 18 architectural ones: scales of max isometric
force, optimal fiber length and tendon slack length. Muscles differ in strength individually,
so grouping the strengths would force the network to absorb the difference into the deep
excitations. Each parameter lives in a physiological interval (:data:`PARAMETER_BOUNDS`)
through a sigmoid, so no optimiser step can leave it.
"""

from __future__ import annotations

import math

import keras
import numpy as np
from keras import ops

from . import muscle
from .config import DEEP_MUSCLES, MUSCLE_NAMES, SURFACE_MUSCLES, excitation_order, hidden_muscles

MUSCLE_GROUPS: dict[str, tuple[str, ...]] = {
    "biceps": ("BIClong", "BICshort"),
    "brachialis": ("BRA",),
    "triceps_superficial": ("TRIlong", "TRIlat"),
    "triceps_medial": ("TRImed",),
}
GROUP_NAMES = tuple(MUSCLE_GROUPS)
GROUP_OF_MUSCLE = np.array([next(i for i, g in enumerate(GROUP_NAMES) if m in MUSCLE_GROUPS[g])
                            for m in MUSCLE_NAMES])
#: name -> (lower, upper, nominal, level). Scales multiply the subject's nominal (arm26, scaled
#: by its segment length) value; the others are absolute (s for times, dimensionless for A).
#: ``level`` is "group" (one value per muscle group) or "muscle" (one per muscle).
PARAMETER_BOUNDS: dict[str, tuple[float, float, float, str]] = {
    "shape_factor": (-3.0, 0.0, -0.1, "group"),
    "activation_time_constant": (0.005, 0.030, 0.015, "group"),
    "deactivation_time_constant": (0.020, 0.080, 0.050, "group"),
    "electromechanical_delay": (0.0, 0.100, 0.040, "group"),
    "max_isometric_force_scale": (0.5, 1.6, 1.0, "muscle"),
    "optimal_fiber_length_scale": (0.85, 1.15, 1.0, "muscle"),
    "tendon_slack_length_scale": (0.9, 1.1, 1.0, "muscle"),
}
LEVEL_NAMES = {"group": GROUP_NAMES, "muscle": MUSCLE_NAMES}
N_PARAMETERS = sum(len(LEVEL_NAMES[b[3]]) for b in PARAMETER_BOUNDS.values())



def _logit(p: float) -> float:
    return math.log(p / (1.0 - p))


@keras.saving.register_keras_serializable(package="nmm")
class MusclePhysics(keras.layers.Layer):
    """Excitations -> delay -> activation dynamics -> shape factor -> Hill forces -> torque.

    Call on ``[hidden, surface, length, speed, moment_arm]`` with shapes (B, T, H), (B, T, 4),
    (B, T, 6), (B, T, 6), (B, T, 6): the estimated excitations of the ``hidden`` muscles (by
    default the deep ones, BRA and TRImed), measured surface envelopes
    (:data:`~nmm_core.config.SURFACE_MUSCLES` order; a hidden surface muscle's column is
    ignored), musculotendon lengths (m), lengthening speeds (m/s) and moment arms (m) in
    :data:`~nmm_core.config.MUSCLE_NAMES` order. Returns elbow torque, N m, shape (B, T).

    Parameters
    ----------
    max_isometric_force, optimal_fiber_length, tendon_slack_length, pennation_angle_at_optimal :
        sequence of 6 floats
        The subject's nominal values (N, m, m, rad), MUSCLE_NAMES order.
    time_step : float
        s.
    trainable_parameters : bool
        False freezes the subject parameters at their nominal values (an ablation).
    initial : dict, optional
        Starting values by parameter name (scalars or one per group), inside the bounds.
    hidden : sequence of str
        The muscles whose excitations come from the network (default: the deep muscles; add a
        surface muscle to hide it, for leave-one-channel-out).
    """

    def __init__(self, max_isometric_force, optimal_fiber_length, tendon_slack_length,
                 pennation_angle_at_optimal, time_step, trainable_parameters=True, initial=None,
                 hidden=DEEP_MUSCLES, **kwargs):
        super().__init__(**kwargs)
        self.hidden = hidden_muscles(hidden)
        self._order = np.array(excitation_order(self.hidden))
        self.nominal = {
            "max_isometric_force": [float(v) for v in max_isometric_force],
            "optimal_fiber_length": [float(v) for v in optimal_fiber_length],
            "tendon_slack_length": [float(v) for v in tendon_slack_length],
            "pennation_angle_at_optimal": [float(v) for v in pennation_angle_at_optimal],
        }
        for key, values in self.nominal.items():
            if len(values) != len(MUSCLE_NAMES):
                raise ValueError(f"{key} needs {len(MUSCLE_NAMES)} values ({MUSCLE_NAMES}), got {len(values)}.")
        self.time_step = float(time_step)
        self.trainable_parameters = bool(trainable_parameters)
        self.initial = {k: (list(v) if np.ndim(v) else float(v)) for k, v in (initial or {}).items()}
        unknown = sorted(set(self.initial) - set(PARAMETER_BOUNDS))
        if unknown:
            raise ValueError(f"Unknown parameters {unknown}; expected names from {sorted(PARAMETER_BOUNDS)}.")
        # The weights do not depend on the input shape: make them now, so the parameters can be
        # read (and a bad initial value reported) before the first call.
        self.build(None)

    def build(self, input_shape):
        self.raw = {}
        for name, (low, high, nominal, level) in PARAMETER_BOUNDS.items():
            size = len(LEVEL_NAMES[level])
            start = np.broadcast_to(np.asarray(self.initial.get(name, nominal), dtype=float), (size,))
            if np.any(start <= low) or np.any(start >= high):
                raise ValueError(f"Initial {name} = {start} must lie strictly inside ({low}, {high}).")
            logits = [_logit((v - low) / (high - low)) for v in start]
            self.raw[name] = self.add_weight(
                name=name, shape=(size,),
                initializer=keras.initializers.Constant(logits), trainable=self.trainable_parameters)

    def parameter_tensors(self) -> dict:
        """Current parameters as backend tensors, shape (4,) per group or (6,) per muscle."""
        return {name: low + (high - low) * ops.sigmoid(self.raw[name])
                for name, (low, high, _, _) in PARAMETER_BOUNDS.items()}

    def muscle_parameters(self) -> dict:
        """Current parameters expanded to the six muscles, shape (6,) each."""
        return {name: ops.take(value, GROUP_OF_MUSCLE, axis=0) if PARAMETER_BOUNDS[name][3] == "group" else value
                for name, value in self.parameter_tensors().items()}

    def prior_loss(self):
        """Mean squared distance of the parameters from their nominal values, each divided by
        its bound's width: a weak prior that settles what the torque alone cannot."""
        total = 0.0
        for name, value in self.parameter_tensors().items():
            low, high, nominal, _ = PARAMETER_BOUNDS[name]
            total = total + ops.mean(ops.square((value - nominal) / (high - low)))
        return total / len(PARAMETER_BOUNDS)

    def identified_parameters(self) -> dict:
        """Current parameters as ``{name: {group or muscle: float}}`` (NumPy)."""
        return {name: dict(zip(LEVEL_NAMES[PARAMETER_BOUNDS[name][3]], ops.convert_to_numpy(value).tolist()))
                for name, value in self.parameter_tensors().items()}

    def excitations(self, hidden, surface):
        """All six excitations, (B, T, 6) in MUSCLE_NAMES order."""
        return ops.take(ops.concatenate([surface, hidden], axis=-1), self._order, axis=-1)

    def call(self, inputs):
        deep, surface, length, speed, moment_arm = inputs
        p = self.muscle_parameters()
        excitation = ops.clip(self.excitations(deep, surface), 0.0, 1.0)
        return muscle.excitation_to_torque(
            excitation, length, speed, moment_arm, self.time_step, p["electromechanical_delay"],
            p["activation_time_constant"], p["deactivation_time_constant"], p["shape_factor"],
            ops.convert_to_tensor(self.nominal["max_isometric_force"]) * p["max_isometric_force_scale"],
            ops.convert_to_tensor(self.nominal["optimal_fiber_length"]) * p["optimal_fiber_length_scale"],
            ops.convert_to_tensor(self.nominal["tendon_slack_length"]) * p["tendon_slack_length_scale"],
            ops.convert_to_tensor(self.nominal["pennation_angle_at_optimal"]))

    def get_config(self):
        return {**super().get_config(), **self.nominal, "time_step": self.time_step,
                "trainable_parameters": self.trainable_parameters, "initial": self.initial,
                "hidden": list(self.hidden)}


@keras.saving.register_keras_serializable(package="nmm")
class PositionEmbedding(keras.layers.Layer):
    """Adds a learned embedding of the time index within the window."""

    def __init__(self, window, **kwargs):
        super().__init__(**kwargs)
        self.window = int(window)

    def build(self, input_shape):
        self.embedding = self.add_weight(name="embedding", shape=(self.window, input_shape[-1]),
                                         initializer="glorot_uniform")

    def call(self, x):
        return x + self.embedding[: ops.shape(x)[1]]

    def get_config(self):
        return {**super().get_config(), "window": self.window}


def make_backbone(kind: str, window: int, n_features: int, width: int = 32, depth: int = 2,
                  heads: int = 2, dropout: float = 0.0, n_outputs: int = len(DEEP_MUSCLES)) -> keras.Model:
    """Sequence model (B, window, n_features) -> hidden excitations (B, window, n_outputs) in
    [0, 1] (by default the two deep muscles').

    ``kind``: ``"transformer"`` (the paper's backbone: encoder blocks of multi-head
    self-attention and a feed-forward layer, learned positions), ``"gru"`` (bidirectional GRU)
    or ``"conv"`` (dilated 1-D convolutions).
    """
    inputs = keras.Input((window, n_features), name="features")
    x = keras.layers.Dense(width, name="embed")(inputs)
    if kind == "transformer":
        x = PositionEmbedding(window, name="positions")(x)
        for i in range(depth):
            attended = keras.layers.MultiHeadAttention(heads, width // heads, dropout=dropout,
                                                       name=f"attention_{i}")(x, x)
            x = keras.layers.LayerNormalization(name=f"norm_a{i}")(x + attended)
            hidden = keras.layers.Dense(2 * width, activation="gelu", name=f"ffn_{i}a")(x)
            x = keras.layers.LayerNormalization(name=f"norm_f{i}")(x + keras.layers.Dense(width, name=f"ffn_{i}b")(hidden))
    elif kind == "gru":
        for i in range(depth):
            x = keras.layers.Bidirectional(keras.layers.GRU(width // 2, return_sequences=True), name=f"gru_{i}")(x)
    elif kind == "conv":
        for i in range(depth + 1):
            x = keras.layers.Conv1D(width, 5, padding="same", dilation_rate=2**i, activation="gelu",
                                    name=f"conv_{i}")(x)
    else:
        raise ValueError(f"Unknown backbone {kind!r}; choose 'transformer', 'gru' or 'conv'.")
    # Start near a low, physiological excitation (sigmoid(-2) = 0.12) rather than 0.5, which
    # would ask the deep muscles for large torques before anything is learned.
    outputs = keras.layers.Dense(n_outputs, activation="sigmoid", name="deep_excitation",
                                 bias_initializer=keras.initializers.Constant(-2.0))(x)
    return keras.Model(inputs, outputs, name=f"{kind}_backbone")


@keras.saving.register_keras_serializable(package="nmm")
class NMM(keras.Model):
    """Backbone + physics. ``fit(x, torque)`` with the standard loop.

    ``x`` is a dict with ``features`` (B, T, F), ``surface`` (B, T, 4), ``length``, ``speed``,
    ``moment_arm`` (B, T, 6). The model returns ``{"torque": (B, T) in N m, "hidden": (B, T, 2)}``
    (the network's deep excitations, BRA and TRImed). The loss (:meth:`compute_loss`) is the mean squared
    torque error divided by ``torque_scale**2``, plus ``smoothness_weight`` times the mean
    squared second difference of the deep excitations, ``effort_weight`` times their mean
    square and ``prior_weight`` times the physics block's :meth:`MusclePhysics.prior_loss`;
    each term is tracked as its own metric. The first ``burn_in`` samples of every
    window are left out of the torque error (activation starts at rest there).
    """

    def __init__(self, backbone, physics, torque_scale=1.0, smoothness_weight=0.1,
                 effort_weight=0.0, prior_weight=0.1, burn_in=10, **kwargs):
        super().__init__(**kwargs)
        self.backbone = backbone
        self.physics = physics
        self.torque_scale = float(torque_scale)
        self.smoothness_weight = float(smoothness_weight)
        self.effort_weight = float(effort_weight)
        self.prior_weight = float(prior_weight)
        self.burn_in = int(burn_in)
        self.trackers = {name: keras.metrics.Mean(name=name)
                         for name in ("torque_loss", "smoothness_loss", "effort_loss", "prior_loss")}

    def build(self, input_shape=None):
        # The backbone is a built functional model and the physics makes its weights at
        # construction: nothing here depends on the input shape.
        self.built = True

    def call(self, inputs, training=False):
        deep = self.backbone(inputs["features"], training=training)
        torque = self.physics([deep, inputs["surface"], inputs["length"], inputs["speed"],
                               inputs["moment_arm"]])
        return {"torque": torque, "hidden": deep}

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """Torque error (after ``burn_in`` samples) + weighted smoothness, effort and prior terms;
        each term is also tracked as a metric of its own."""
        deep = y_pred["hidden"]
        error = ops.square((y_pred["torque"] - y) / self.torque_scale)[:, self.burn_in:]
        torque_loss = ops.mean(error)
        curvature = deep[:, 2:] - 2.0 * deep[:, 1:-1] + deep[:, :-2]
        smoothness_loss = ops.mean(ops.square(curvature)) * 1e3
        effort_loss = ops.mean(ops.square(deep))
        prior_loss = self.physics.prior_loss()
        for name, value in (("torque_loss", torque_loss), ("smoothness_loss", smoothness_loss),
                            ("effort_loss", effort_loss), ("prior_loss", prior_loss)):
            self.trackers[name].update_state(value)
        return (torque_loss + self.smoothness_weight * smoothness_loss
                + self.effort_weight * effort_loss + self.prior_weight * prior_loss)

    @property
    def metrics(self):
        return [*super().metrics, *self.trackers.values()]

    def get_config(self):
        return {"backbone": keras.saving.serialize_keras_object(self.backbone),
                "physics": keras.saving.serialize_keras_object(self.physics),
                "torque_scale": self.torque_scale, "smoothness_weight": self.smoothness_weight,
                "effort_weight": self.effort_weight, "prior_weight": self.prior_weight, "burn_in": self.burn_in, "name": self.name}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["backbone"] = keras.saving.deserialize_keras_object(config["backbone"])
        config["physics"] = keras.saving.deserialize_keras_object(config["physics"])
        return cls(**config)
