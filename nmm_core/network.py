"""The neural musculoskeletal model (NMM) in Keras 3: a network for the deep excitations and a
physics block that turns every excitation into elbow torque.

Backend-agnostic (``keras.ops`` only): set ``KERAS_BACKEND`` to ``tensorflow`` (default) or
``jax``. The physics functions are those of :mod:`nmm_core.muscle`, unchanged; this module only
wraps them in layers whose subject-specific parameters are trainable and bounded.

Every model here is an *ensemble* of K members (K = 1 for one model) computed side by side: a
member has its own backbone weights and its own subject parameters, and all members run as one
batch (:class:`Backbone`, :class:`MusclePhysics`), which costs far less than K separate models
because a training step is dominated by the number of operations, not their size.

Subject-specific parameters (a documented choice; the paper names 32 without listing them):
34 in all. Per muscle group (biceps: BIClong+BICshort; brachialis; superficial triceps:
TRIlong+TRIlat; triceps medial head), 4 x 4 = 16 neural parameters: shape factor A, activation
and deactivation time constants (the two coefficients of first-order activation dynamics) and
electromechanical delay. Per muscle, 6 x 3 = 18 architectural ones: scales of max isometric
force, optimal fiber length and tendon slack length. Muscles differ in strength individually,
so grouping the strengths would force the network to absorb the difference into the deep
excitations. Each parameter lives in a physiological interval (:data:`PARAMETER_BOUNDS`)
through a sigmoid, so no optimiser step can leave it. Per member, the deep groups' neural
parameters can be tied to their synergist group's (:data:`SYNERGIST_GROUP`), the deep muscles'
architecture scales frozen at nominal (:data:`DEEP_ARCHITECTURE`), or every parameter frozen at
its starting value.
"""

from __future__ import annotations

import math

import keras
import numpy as np
from keras import ops

from . import muscle
from .config import DEEP_MUSCLES, MUSCLE_NAMES, excitation_order, hidden_muscles

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
#: The group whose neural parameters a deep group takes when they are tied (``tie_deep``):
#: the brachialis shares the biceps' shape factor, time constants and delay; the triceps
#: medial head the superficial triceps'.
SYNERGIST_GROUP = {"brachialis": "biceps", "triceps_medial": "triceps_superficial"}
#: Architecture scales of the deep muscles that torque cannot identify (they act only on the
#: network's own outputs); ``freeze_deep_architecture`` keeps them at nominal. Strength is kept.
DEEP_ARCHITECTURE = ("optimal_fiber_length_scale", "tendon_slack_length_scale")



def _logit(p: float) -> float:
    return math.log(p / (1.0 - p))


def _member_list(value, members: int, name: str) -> list:
    """A per-member setting: one value for every member, or a sequence of ``members`` values."""
    if isinstance(value, (list, tuple)):
        if len(value) != members:
            raise ValueError(f"{name} has {len(value)} values for {members} ensemble members; give one "
                             f"value or one per member.")
        return list(value)
    return [value] * members


@keras.saving.register_keras_serializable(package="nmm")
class MusclePhysics(keras.layers.Layer):
    """Excitations -> delay -> activation dynamics -> shape factor -> Hill forces -> torque.

    Call on ``[hidden, surface, length, speed, moment_arm]`` with shapes (B, K, T, H) (or
    (B, T, H) when K = 1), (B, T, 4), (B, T, 6), (B, T, 6), (B, T, 6): the estimated excitations
    of the ``hidden`` muscles (by default the deep ones, BRA and TRImed) from each of the K
    members, measured surface envelopes (:data:`~nmm_core.config.SURFACE_MUSCLES` order; a
    hidden surface muscle's column is ignored), musculotendon lengths (m), lengthening speeds
    (m/s) and moment arms (m) in :data:`~nmm_core.config.MUSCLE_NAMES` order. Returns elbow
    torque, N m, shape (B, K, T) (or (B, T)).

    Parameters
    ----------
    max_isometric_force, optimal_fiber_length, tendon_slack_length, pennation_angle_at_optimal :
        sequence of 6 floats
        The subject's nominal values (N, m, m, rad), MUSCLE_NAMES order.
    time_step : float
        s.
    trainable_parameters : bool or sequence of bool
        False freezes a member's subject parameters at their starting values (an ablation, or the
        diagnosis with the true parameters).
    initial : dict or sequence of dict, optional
        Starting values by parameter name (scalars or one per group/muscle), inside the bounds;
        one dict for every member or one per member.
    hidden : sequence of str
        The muscles whose excitations come from the network (default: the deep muscles; add a
        surface muscle to hide it, for leave-one-channel-out).
    members : int
        K, the number of ensemble members.
    tie_deep : bool or sequence of bool
        The deep groups take their synergist group's neural parameters (:data:`SYNERGIST_GROUP`):
        one weight drives both.
    freeze_deep_architecture : bool or sequence of bool
        The deep muscles' optimal fibre and tendon slack length scales stay at nominal.
    """

    def __init__(self, max_isometric_force, optimal_fiber_length, tendon_slack_length,
                 pennation_angle_at_optimal, time_step, trainable_parameters=True, initial=None,
                 hidden=DEEP_MUSCLES, members=1, tie_deep=False, freeze_deep_architecture=False, **kwargs):
        super().__init__(**kwargs)
        self.hidden = hidden_muscles(hidden)
        self._order = np.array(excitation_order(self.hidden))
        self.members = int(members)
        if self.members < 1:
            raise ValueError(f"members must be at least 1, got {members}.")
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
        self.trainable_parameters = [bool(v) for v in _member_list(trainable_parameters, self.members,
                                                                   "trainable_parameters")]
        self.tie_deep = [bool(v) for v in _member_list(tie_deep, self.members, "tie_deep")]
        self.freeze_deep_architecture = [bool(v) for v in _member_list(
            freeze_deep_architecture, self.members, "freeze_deep_architecture")]
        self.initial = [{k: (list(v) if np.ndim(v) else float(v)) for k, v in (start or {}).items()}
                        for start in _member_list(initial, self.members, "initial")]
        unknown = sorted({k for start in self.initial for k in start} - set(PARAMETER_BOUNDS))
        if unknown:
            raise ValueError(f"Unknown parameters {unknown}; expected names from {sorted(PARAMETER_BOUNDS)}.")
        # Which group slot each muscle reads, per member: its own group, or its synergist's when tied.
        tied = np.array([GROUP_NAMES.index(SYNERGIST_GROUP.get(GROUP_NAMES[g], GROUP_NAMES[g]))
                         for g in GROUP_OF_MUSCLE])
        self._slots = np.stack([tied if t else GROUP_OF_MUSCLE for t in self.tie_deep]).astype("int32")
        # The weights do not depend on the input shape: make them now, so the parameters can be
        # read (and a bad initial value reported) before the first call.
        self.build(None)

    def _frozen(self, name: str) -> np.ndarray:
        """(K, size) 1.0 where a member's entry of ``name`` is held at its starting value."""
        level = PARAMETER_BOUNDS[name][3]
        keys = LEVEL_NAMES[level]
        out = np.zeros((self.members, len(keys)), dtype="float32")
        for k in range(self.members):
            if not self.trainable_parameters[k]:
                out[k] = 1.0
                continue
            if self.freeze_deep_architecture[k] and name in DEEP_ARCHITECTURE:
                out[k, [keys.index(m) for m in DEEP_MUSCLES]] = 1.0
            if self.tie_deep[k] and level == "group":  # the deep slots are read by no muscle
                out[k, [GROUP_NAMES.index(g) for g in SYNERGIST_GROUP]] = 1.0
        return out

    def build(self, input_shape):
        self.raw, self._masks = {}, {}
        for name, (low, high, nominal, level) in PARAMETER_BOUNDS.items():
            size = len(LEVEL_NAMES[level])
            logits = []
            for start in self.initial:
                value = np.broadcast_to(np.asarray(start.get(name, nominal), dtype=float), (size,))
                if np.any(value <= low) or np.any(value >= high):
                    raise ValueError(f"Initial {name} = {value} must lie strictly inside ({low}, {high}).")
                logits.append([_logit((v - low) / (high - low)) for v in value])
            self.raw[name] = self.add_weight(name=name, shape=(self.members, size),
                                             initializer=keras.initializers.Constant(np.array(logits)),
                                             trainable=any(self.trainable_parameters))
            self._masks[name] = self._frozen(name)

    def parameter_tensors(self) -> dict:
        """Current parameters as backend tensors, shape (K, 4) per group or (K, 6) per muscle.
        A frozen entry passes no gradient to its weight, so no optimiser moves it."""
        out = {}
        for name, (low, high, _, _) in PARAMETER_BOUNDS.items():
            mask = self._masks[name]
            raw = self.raw[name]
            if mask.any():
                frozen = ops.convert_to_tensor(mask)
                raw = frozen * ops.stop_gradient(raw) + (1.0 - frozen) * raw
            out[name] = low + (high - low) * ops.sigmoid(raw)
        return out

    def muscle_parameters(self) -> dict:
        """Current parameters expanded to the six muscles, shape (K, 6) each (a tied deep muscle
        reads its synergist group's value)."""
        return {name: ops.take_along_axis(value, self._slots, axis=1) if PARAMETER_BOUNDS[name][3] == "group"
                else value for name, value in self.parameter_tensors().items()}

    def prior_loss(self):
        """Per member (K,): mean squared distance of the parameters from their nominal values,
        each divided by its bound's width: a weak prior that settles what torque alone cannot."""
        total = 0.0
        for name, value in self.parameter_tensors().items():
            low, high, nominal, _ = PARAMETER_BOUNDS[name]
            total = total + ops.mean(ops.square((value - nominal) / (high - low)), axis=1)
        return total / len(PARAMETER_BOUNDS)

    def identified_parameters(self, member: int | None = None):
        """Current parameters as ``{name: {group or muscle: float}}`` (NumPy) of one member (a
        tied deep group shows the value it reads); ``member=None``: that dict when K = 1, a list
        of them (one per member) otherwise."""
        if member is None and self.members > 1:
            return [self.identified_parameters(k) for k in range(self.members)]
        k = member or 0
        out = {}
        for name, value in self.parameter_tensors().items():
            values = ops.convert_to_numpy(value)[k]
            if PARAMETER_BOUNDS[name][3] == "group":
                slots = {g: self._slots[k][list(GROUP_OF_MUSCLE).index(i)] for i, g in enumerate(GROUP_NAMES)}
                out[name] = {g: float(values[slots[g]]) for g in GROUP_NAMES}
            else:
                out[name] = dict(zip(MUSCLE_NAMES, values.astype(float).tolist()))
        return out

    def excitations(self, hidden, surface):
        """All six excitations, (B, K, T, 6) in MUSCLE_NAMES order."""
        surface = ops.broadcast_to(ops.expand_dims(surface, 1),
                                   (*ops.shape(hidden)[:3], ops.shape(surface)[-1]))
        return ops.take(ops.concatenate([surface, hidden], axis=-1), self._order, axis=-1)

    def call(self, inputs):
        deep, surface, length, speed, moment_arm = inputs
        single = len(deep.shape) == 3
        if single:
            deep = ops.expand_dims(deep, 1)
        length, speed, moment_arm = (ops.expand_dims(v, 1) for v in (length, speed, moment_arm))
        p = {k: ops.expand_dims(v, 1) for k, v in self.muscle_parameters().items()}  # (K, 1, 6)
        excitation = ops.clip(self.excitations(deep, surface), 0.0, 1.0)
        torque = muscle.excitation_to_torque(
            excitation, length, speed, moment_arm, self.time_step, p["electromechanical_delay"],
            p["activation_time_constant"], p["deactivation_time_constant"], p["shape_factor"],
            ops.convert_to_tensor(self.nominal["max_isometric_force"]) * p["max_isometric_force_scale"],
            ops.convert_to_tensor(self.nominal["optimal_fiber_length"]) * p["optimal_fiber_length_scale"],
            ops.convert_to_tensor(self.nominal["tendon_slack_length"]) * p["tendon_slack_length_scale"],
            ops.convert_to_tensor(self.nominal["pennation_angle_at_optimal"]))
        return torque[:, 0] if single else torque

    def get_config(self):
        return {**super().get_config(), **self.nominal, "time_step": self.time_step,
                "trainable_parameters": self.trainable_parameters, "initial": self.initial,
                "hidden": list(self.hidden), "members": self.members, "tie_deep": self.tie_deep,
                "freeze_deep_architecture": self.freeze_deep_architecture}


class _MemberDense:
    """K dense layers side by side, member-major: (K, N, n_in) -> (K, N, n_out), one batched
    matrix product (no transposes around it)."""

    def __init__(self, layer, name, members, n_in, n_out, bias=0.0):
        # Glorot-uniform per member (Keras's initialiser would count K into the fan of a 3-D kernel).
        limit = math.sqrt(6.0 / (n_in + n_out))
        self.kernel = layer.add_weight(name=f"{name}_kernel", shape=(members, n_in, n_out),
                                       initializer=keras.initializers.RandomUniform(-limit, limit))
        self.bias = layer.add_weight(name=f"{name}_bias", shape=(members, 1, n_out),
                                     initializer=keras.initializers.Constant(bias))

    def __call__(self, x):
        return ops.matmul(x, self.kernel) + self.bias


class _MemberNorm:
    """Layer normalisation over the last axis with a scale and offset per member, (K, N, W)."""

    def __init__(self, layer, name, members, width):
        self.gamma = layer.add_weight(name=f"{name}_gamma", shape=(members, 1, width), initializer="ones")
        self.beta = layer.add_weight(name=f"{name}_beta", shape=(members, 1, width), initializer="zeros")

    def __call__(self, x):
        mean = ops.mean(x, axis=-1, keepdims=True)
        variance = ops.mean(ops.square(x - mean), axis=-1, keepdims=True)
        return (x - mean) * ops.rsqrt(variance + 1e-3) * self.gamma + self.beta


@keras.saving.register_keras_serializable(package="nmm")
class Backbone(keras.Model):
    """K sequence models side by side: features (B, window, n_features) -> hidden excitations
    (B, K, window, n_outputs), in [0, 1] with ``output="sigmoid"`` (the NMM) or unbounded with
    ``output="linear"`` (the physics-off torque network). Every weight has a leading member axis,
    so the K members cost about as many operations as one.

    ``kind``: ``"transformer"`` (the paper's backbone: encoder blocks of multi-head
    self-attention and a feed-forward layer, learned positions) or ``"conv"`` (dilated 1-D
    convolutions, kernel 5, non-causal).
    """

    KINDS = ("transformer", "conv")

    def __init__(self, kind="transformer", window=64, n_features=8, n_outputs=len(DEEP_MUSCLES), members=1,
                 width=32, depth=2, heads=2, output="sigmoid", **kwargs):
        super().__init__(**kwargs)
        if kind not in self.KINDS:
            raise ValueError(f"Unknown backbone {kind!r}; choose one of {', '.join(map(repr, self.KINDS))}.")
        if output not in ("sigmoid", "linear"):
            raise ValueError(f"output must be 'sigmoid' or 'linear', got {output!r}.")
        self.kind, self.window, self.n_features, self.n_outputs = kind, int(window), int(n_features), int(n_outputs)
        self.members, self.width, self.depth, self.heads, self.activation = int(members), int(width), int(depth), int(heads), output
        K, W = self.members, self.width
        self.embed = _MemberDense(self, "embed", K, self.n_features, W)
        if kind == "transformer":
            self.positions = self.add_weight(name="positions", shape=(K, self.window, W),
                                             initializer=keras.initializers.RandomUniform(-0.05, 0.05))
            self.blocks = [{"qkv": _MemberDense(self, f"qkv_{i}", K, W, 3 * W),
                            "out": _MemberDense(self, f"attention_out_{i}", K, W, W),
                            "norm_a": _MemberNorm(self, f"norm_a{i}", K, W),
                            "ffn_a": _MemberDense(self, f"ffn_{i}a", K, W, 2 * W),
                            "ffn_b": _MemberDense(self, f"ffn_{i}b", K, 2 * W, W),
                            "norm_f": _MemberNorm(self, f"norm_f{i}", K, W)} for i in range(self.depth)]
        else:
            self.blocks = [_MemberDense(self, f"conv_{i}", K, 5 * W, W) for i in range(self.depth + 1)]
        # Start near a low, physiological excitation (sigmoid(-2) = 0.12) rather than 0.5, which
        # would ask the deep muscles for large torques before anything is learned.
        self.head = _MemberDense(self, "deep_excitation", K, W, self.n_outputs,
                                 bias=-2.0 if output == "sigmoid" else 0.0)
        self.built = True

    # Inside, activations are member-major, (K, B * window, width): every dense layer is then one
    # batched matrix product over the members, without the transposes that a (B, K, ...) layout
    # costs around each product (about a quarter of the training step's time with XLA on a CPU).
    def _attention(self, x, block):
        K, T, h = self.members, self.window, self.heads
        qkv = ops.reshape(block["qkv"](x), (K, -1, T, 3, h, self.width // h))
        # One transpose to (3, K, B, heads, T, d), then plain batched matrix products: the same
        # numbers, bit for bit, as einsums over the (K, B, T, heads, d) layout; JAX's batch
        # inference 1.6x faster on a CPU, TensorFlow's uncompiled training about 1.2x faster and
        # its inference about even; its XLA-compiled training (the full reproduction's) within
        # this machine's noise, perhaps a few percent slower (benchmarks/attention_layout.py).
        q, k, v = ops.unstack(ops.transpose(qkv, (3, 0, 1, 4, 2, 5)), num=3, axis=0)
        scores = ops.matmul(q, ops.swapaxes(k, -1, -2)) / math.sqrt(self.width // h)
        mixed = ops.matmul(ops.softmax(scores, axis=-1), v)  # (K, B, heads, T, d)
        return block["out"](ops.reshape(ops.transpose(mixed, (0, 1, 3, 2, 4)), (K, -1, self.width)))

    def call(self, features, training=False):
        K, T, W = self.members, self.window, self.width
        flat = ops.reshape(features, (1, -1, self.n_features))  # (1, B * T, F)
        x = self.embed(ops.broadcast_to(flat, (K, ops.shape(flat)[1], self.n_features)))
        if self.kind == "transformer":
            x = ops.reshape(ops.reshape(x, (K, -1, T, W)) + ops.expand_dims(self.positions, 1), (K, -1, W))
            for block in self.blocks:
                x = block["norm_a"](x + self._attention(x, block))
                x = block["norm_f"](x + block["ffn_b"](ops.gelu(block["ffn_a"](x))))
        else:
            for i, conv in enumerate(self.blocks):
                d = 2 ** i
                padded = ops.pad(ops.reshape(x, (K, -1, T, W)), [(0, 0), (0, 0), (2 * d, 2 * d), (0, 0)])
                taps = [padded[:, :, j * d: j * d + T] for j in range(5)]
                x = ops.gelu(conv(ops.reshape(ops.concatenate(taps, axis=-1), (K, -1, 5 * W))))
        out = ops.transpose(ops.reshape(self.head(x), (K, -1, T, self.n_outputs)), (1, 0, 2, 3))
        return ops.sigmoid(out) if self.activation == "sigmoid" else out

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.members, self.window, self.n_outputs)

    def get_config(self):
        return {"kind": self.kind, "window": self.window, "n_features": self.n_features,
                "n_outputs": self.n_outputs, "members": self.members, "width": self.width,
                "depth": self.depth, "heads": self.heads, "output": self.activation, "name": self.name}


#: Weights whose path starts with this are the subject parameters (:class:`MusclePhysics`, whose
#: layer :func:`nmm_core.training.build_model` names ``physics``); :class:`MemberAdam` can give
#: them their own step size.
PARAMETER_PATH = "physics/"


@keras.saving.register_keras_serializable(package="nmm")
class MemberAdam(keras.optimizers.Adam):
    """Adam whose step size can differ between the members of an NMM: every update of member k
    is scaled by ``member_scale[k]`` (all 1 by default, when it is plain Adam to the last bit),
    and the updates of its subject parameters (weights under :data:`PARAMETER_PATH`) also by
    ``parameter_rate[k]`` (one value, or one per member; default 1). Every weight of an NMM
    has the member axis first, so the scale broadcasts over the rest.

    ``member_scale`` lets members that follow different learning-rate schedules train as one
    model: with the optimizer's learning rate on a schedule, a member whose scale is
    ``constant / rate`` trains at the constant rate (:func:`nmm_core.training.train`).
    ``parameter_rate`` lets the 34 subject parameters (sigmoid logits) take larger or smaller
    steps than the network's weights: with Adam a weight moves by about the learning rate per
    step whatever its gradient, so the number of steps bounds how far a parameter can travel
    from its start."""

    def __init__(self, members: int = 1, parameter_rate=1.0, **kwargs):
        super().__init__(**kwargs)
        self.members = int(members)
        rates = [float(r) for r in _member_list(parameter_rate, self.members, "parameter_rate")]
        if not all(math.isfinite(r) and r > 0 for r in rates):
            raise ValueError(f"parameter_rate must be positive and finite, got {rates}.")
        self.parameter_rate = rates

    def build(self, var_list):
        if self.built:
            return
        for variable in var_list:
            if len(variable.shape) == 0 or variable.shape[0] != self.members:
                raise ValueError(f"MemberAdam for {self.members} members: the weight {variable.path} has shape "
                                 f"{tuple(variable.shape)}, without the member axis first.")
        super().build(var_list)
        self.member_scale = self.add_variable((self.members,), initializer="ones", name="member_scale")
        # By the optimizer's own index of each weight (update_step may get the backend's variable).
        self._is_parameter = [v.path.startswith(PARAMETER_PATH) for v in var_list]

    def update_step(self, gradient, variable, learning_rate):
        scale = ops.cast(self.member_scale, variable.dtype)
        if self._is_parameter[self._get_variable_index(variable)] and any(r != 1.0 for r in self.parameter_rate):
            scale = scale * ops.convert_to_tensor(np.array(self.parameter_rate), dtype=variable.dtype)
        scale = ops.reshape(scale, (self.members,) + (1,) * (len(variable.shape) - 1))
        super().update_step(gradient, variable, ops.cast(learning_rate, variable.dtype) * scale)

    def get_config(self):
        return {**super().get_config(), "members": self.members, "parameter_rate": self.parameter_rate}


@keras.saving.register_keras_serializable(package="nmm")
class NMM(keras.Model):
    """Backbone + physics, K members side by side. ``fit(x, torque)`` with the standard loop.

    ``x`` is a dict with ``features`` (B, T, F), ``surface`` (B, T, 4), ``length``, ``speed``,
    ``moment_arm`` (B, T, 6). The model returns ``{"torque": (B, K, T) in N m, "hidden":
    (B, K, T, H)}`` (each member's hidden excitations, by default BRA and TRImed).

    The loss (:meth:`compute_loss`) is the sum over members of each member's own loss: the mean
    squared torque error divided by ``torque_scale**2`` after the first ``burn_in`` samples of
    every window (activation starts at rest there and the delay reads before the window), plus
    ``smoothness_weight`` times the mean squared second difference of its hidden excitations
    (x 1e3), ``effort_weight`` times their mean square (the same effort term as the synergy
    baseline's) and ``prior_weight`` times :meth:`MusclePhysics.prior_loss`. Members share no
    weight, so each learns as if alone. ``smoothness_weight``, ``effort_weight``,
    ``prior_weight``, ``burn_in`` and ``residual_weight`` take one value or one per member.
    Each term's mean over members is tracked as a metric. ``synergies`` > 0 adds the synergy
    prior of :meth:`hidden` (then ``x`` also has ``synergy`` (B, T, k) and the backbone
    ``H (k + 1)`` linear outputs).
    """

    def __init__(self, backbone, physics, torque_scale=1.0, smoothness_weight=0.1,
                 effort_weight=0.0, prior_weight=0.1, burn_in=10, synergies=0, residual_weight=1.0, **kwargs):
        super().__init__(**kwargs)
        self.backbone = backbone
        self.physics = physics
        K = physics.members
        if backbone.members != K:
            raise ValueError(f"The backbone has {backbone.members} members and the physics {K}.")
        self.synergies = int(synergies)
        H = len(physics.hidden)
        expected = H * (self.synergies + 1) if self.synergies else H
        if backbone.n_outputs != expected:
            raise ValueError(f"The backbone has {backbone.n_outputs} outputs; {expected} are needed for "
                             f"{H} hidden muscles and {self.synergies} synergies.")
        self.residual_weight = [float(v) for v in _member_list(residual_weight, K, "residual_weight")]
        self.torque_scale = float(torque_scale)
        self.smoothness_weight = [float(v) for v in _member_list(smoothness_weight, K, "smoothness_weight")]
        self.effort_weight = [float(v) for v in _member_list(effort_weight, K, "effort_weight")]
        self.prior_weight = [float(v) for v in _member_list(prior_weight, K, "prior_weight")]
        self.burn_in = [int(v) for v in _member_list(burn_in, K, "burn_in")]
        if any(not 0 <= b < backbone.window for b in self.burn_in):
            raise ValueError(f"burn_in {self.burn_in} must lie in 0..window - 1 ({backbone.window - 1}).")
        kept = np.arange(backbone.window)[None, :] >= np.array(self.burn_in)[:, None]
        self._kept = (kept / kept.sum(axis=1, keepdims=True)).astype("float32")  # (K, T), rows sum to 1
        self.trackers = {name: keras.metrics.Mean(name=name)
                         for name in ("torque_loss", "smoothness_loss", "effort_loss", "prior_loss", "residual_loss")}

    @property
    def members(self) -> int:
        return self.physics.members

    def build(self, input_shape=None):
        # The backbone and the physics make their weights at construction.
        self.built = True

    def hidden(self, inputs, training=False) -> dict:
        """The hidden excitations ``{"hidden": (B, K, T, H), "residual": (B, K, T, H) or None}``
        for ``inputs`` (``features``, and ``synergy`` (B, T, k) with a synergy prior).

        With a synergy prior (``synergies`` = k > 0; the method ``nmm_synergy``, beyond the
        paper) the network proposes, for every sample, a non-negative gain of each synergy
        activation for each hidden muscle (a softplus) and a small residual (0.1 tanh, penalised
        by ``residual_weight``): ``e_h(t) = sum_j C_j(t) g_jh(t) + r_h(t)``, clipped to [0, 1].
        Constant gains and no residual are the synergy extrapolation's model."""
        out = self.backbone(inputs["features"], training=training)
        if not self.synergies:
            return {"hidden": out, "residual": None}
        k, H = self.synergies, len(self.physics.hidden)
        shape = ops.shape(out)
        gains = ops.reshape(ops.softplus(out[..., : k * H]), (shape[0], shape[1], shape[2], k, H))
        residual = 0.1 * ops.tanh(out[..., k * H:])
        synergy = ops.expand_dims(ops.expand_dims(inputs["synergy"], 1), -1)  # (B, 1, T, k, 1)
        deep = ops.clip(ops.sum(gains * synergy, axis=3) + residual, 0.0, 1.0)
        return {"hidden": deep, "residual": residual}

    def call(self, inputs, training=False):
        hidden = self.hidden(inputs, training=training)
        torque = self.physics([hidden["hidden"], inputs["surface"], inputs["length"], inputs["speed"],
                               inputs["moment_arm"]])
        out = {"torque": torque, "hidden": hidden["hidden"]}
        if hidden["residual"] is not None:
            out["residual"] = hidden["residual"]
        return out

    def member_losses(self, y, y_pred) -> dict:
        """Each term of the loss per member, (K,) each."""
        deep = y_pred["hidden"]  # (B, K, T, H)
        residual = y_pred.get("residual")
        error = ops.square((y_pred["torque"] - ops.expand_dims(y, 1)) / self.torque_scale)  # (B, K, T)
        curvature = deep[:, :, 2:] - 2.0 * deep[:, :, 1:-1] + deep[:, :, :-2]
        return {"torque_loss": ops.sum(ops.mean(error, axis=0) * self._kept, axis=-1),
                "smoothness_loss": ops.mean(ops.square(curvature), axis=(0, 2, 3)) * 1e3,
                "effort_loss": ops.mean(ops.square(deep), axis=(0, 2, 3)),
                "prior_loss": self.physics.prior_loss(),
                "residual_loss": (ops.zeros((self.members,)) if residual is None
                                  else ops.mean(ops.square(residual), axis=(0, 2, 3)))}

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """Sum over members of torque error (after ``burn_in``) + weighted smoothness, effort and
        prior terms; each term's mean over members is also tracked as a metric."""
        terms = self.member_losses(y, y_pred)
        for name, value in terms.items():
            self.trackers[name].update_state(ops.mean(value))
        weights = {"smoothness_loss": self.smoothness_weight, "effort_loss": self.effort_weight,
                   "prior_loss": self.prior_weight, "residual_loss": self.residual_weight}
        total = terms["torque_loss"]
        for name, w in weights.items():
            total = total + ops.convert_to_tensor(np.array(w, dtype="float32")) * terms[name]
        return ops.sum(total)

    @property
    def metrics(self):
        return [*super().metrics, *self.trackers.values()]

    def get_config(self):
        return {"backbone": keras.saving.serialize_keras_object(self.backbone),
                "physics": keras.saving.serialize_keras_object(self.physics),
                "torque_scale": self.torque_scale, "smoothness_weight": self.smoothness_weight,
                "effort_weight": self.effort_weight, "prior_weight": self.prior_weight,
                "burn_in": self.burn_in, "synergies": self.synergies, "residual_weight": self.residual_weight,
                "name": self.name}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["backbone"] = keras.saving.deserialize_keras_object(config["backbone"])
        config["physics"] = keras.saving.deserialize_keras_object(config["physics"])
        return cls(**config)
