"""The NMM's Keras layers against the foundation's muscle functions, and its training loop."""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

from nmm_core import config, muscle, network, training
from nmm_core.config import MUSCLE_NAMES

T, DT = 48, 0.01
SUBJECT = config.Subject("net", segment_length_scale=1.03)
PROPS = [SUBJECT.muscle(m) for m in MUSCLE_NAMES]
INITIAL = {"shape_factor": [-0.7, -1.2, -0.3, -2.0], "activation_time_constant": 0.012,
           "deactivation_time_constant": [0.045, 0.05, 0.06, 0.035],
           "electromechanical_delay": [0.03, 0.047, 0.02, 0.061],
           "max_isometric_force_scale": [0.9, 1.1, 0.8, 1.2, 1.05, 0.95]}


def physics(**kwargs):
    return network.MusclePhysics([p.max_isometric_force for p in PROPS], [p.optimal_fiber_length for p in PROPS],
                                 [p.tendon_slack_length for p in PROPS],
                                 [p.pennation_angle_at_optimal for p in PROPS], DT, **kwargs)


def inputs(rng, batch=3):
    t = np.arange(T) * DT
    theta = 1.0 + 0.6 * np.sin(2 * np.pi * 0.8 * t + rng.uniform(0, 3, (batch, 1)))
    omega = np.gradient(theta, DT, axis=1)
    from nmm_core.arm_model import fit_muscle_geometry

    geometry = fit_muscle_geometry(SUBJECT)
    return {
        "deep": rng.uniform(0.02, 0.6, (batch, T, 2)),
        "surface": rng.uniform(0.02, 0.6, (batch, T, 4)),
        "length": geometry.length(theta), "speed": geometry.lengthening_speed(theta, omega),
        "moment_arm": geometry.moment_arm(theta),
    }


@pytest.mark.opensim
def test_physics_block_equals_the_muscle_functions(rng):
    x = inputs(rng)
    layer = physics(initial=INITIAL)
    got = keras.ops.convert_to_numpy(layer([x[k].astype("float32") for k in
                                            ("deep", "surface", "length", "speed", "moment_arm")]))
    # The same chain by hand, on NumPy, in float64.
    p = {k: keras.ops.convert_to_numpy(v).astype(float)[0] for k, v in layer.muscle_parameters().items()}
    order = [list(config.SURFACE_MUSCLES + config.DEEP_MUSCLES).index(m) for m in MUSCLE_NAMES]
    excitation = np.concatenate([x["surface"], x["deep"]], axis=-1)[..., order]
    delayed = muscle.electromechanical_delay(excitation, p["electromechanical_delay"], DT)
    neural = muscle.activation_dynamics(delayed, DT, p["activation_time_constant"], p["deactivation_time_constant"])
    activation = muscle.nonlinear_activation(neural, p["shape_factor"])
    force = muscle.muscle_force(
        activation, x["length"], x["speed"],
        np.array([q.max_isometric_force for q in PROPS]) * p["max_isometric_force_scale"],
        np.array([q.optimal_fiber_length for q in PROPS]) * p["optimal_fiber_length_scale"],
        np.array([q.tendon_slack_length for q in PROPS]) * p["tendon_slack_length_scale"],
        np.array([q.pennation_angle_at_optimal for q in PROPS]))
    expected = muscle.joint_torque(x["moment_arm"], force)
    np.testing.assert_allclose(got, expected, rtol=2e-4, atol=2e-4 * np.abs(expected).max())
    # The initial values were taken as given, expanded from groups to muscles.
    assert p["electromechanical_delay"][MUSCLE_NAMES.index("BRA")] == pytest.approx(0.047, rel=1e-5)
    assert network.N_PARAMETERS == 34


#: Starting delays between samples: at a whole number of samples (the nominal 40 ms is 4) the
#: interpolated delay has a kink, where rounding picks either one-sided slope.
OFF_GRID = {**INITIAL, "electromechanical_delay": [0.033, 0.047, 0.022, 0.061]}


def tiny_model(trainable=True, learning_rate=3e-3, **kwargs):
    return training.build_model(SUBJECT, T, backbone="conv", trainable_parameters=trainable,
                                learning_rate=learning_rate, seed=1, **kwargs)


def dataset(rng, n=24):
    """Torque made by the physics from deep excitations that follow the features."""
    x = inputs(rng, batch=n)
    features = np.concatenate([x["length"][..., :2] * 5, x["speed"][..., :2], x["surface"]],
                              axis=-1).astype("float32")
    assert features.shape[-1] == len(training.FEATURES)
    truth_layer = physics()
    deep = 0.3 + 0.25 * np.tanh(3 * x["speed"][..., [5, 2]])
    torque = keras.ops.convert_to_numpy(truth_layer([deep.astype("float32"), x["surface"].astype("float32"),
                                                     x["length"].astype("float32"), x["speed"].astype("float32"),
                                                     x["moment_arm"].astype("float32")]))
    model_inputs = {"features": features, **{k: x[k].astype("float32") for k in ("surface", "length", "speed", "moment_arm")}}
    return model_inputs, torque.astype("float32")


def start_values(model):
    """The nominal starting values in :meth:`MusclePhysics.identified_parameters` layout."""
    return {name: {key: bounds[2] for key in network.LEVEL_NAMES[bounds[3]]}
            for name, bounds in network.PARAMETER_BOUNDS.items()}


@pytest.mark.opensim
def test_training_lowers_the_torque_loss_and_gradients_reach_every_parameter(rng):
    x, y = dataset(rng)
    model = tiny_model(tie_deep=False, freeze_deep_architecture=False)  # every parameter free
    history = model.fit(x, y, epochs=8, batch_size=8, verbose=0).history
    assert history["torque_loss"][-1] < 0.5 * history["torque_loss"][0]
    assert history["loss"][-1] > 0  # the loss is tracked, not reported as 0.0
    before = {v.path: keras.ops.convert_to_numpy(v).copy() for v in model.trainable_variables}
    model.fit(x, y, epochs=1, batch_size=24, verbose=0)
    moved = [path for path, value in before.items()
             if not np.array_equal(value, keras.ops.convert_to_numpy(next(v for v in model.trainable_variables if v.path == path)))]
    physics_paths = [v.path for v in model.physics.trainable_variables]
    assert len(physics_paths) == len(network.PARAMETER_BOUNDS)
    assert set(physics_paths) <= set(moved), "some subject parameters received no gradient"
    assert len(moved) == len(before)
    after = model.physics.identified_parameters()
    assert all(after[name][key] != value for name, values in start_values(model).items()
               for key, value in values.items()), "an entry of a free parameter did not move"


@pytest.mark.opensim
@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="XLA is a choice on TensorFlow only (JAX always compiles)")
def test_xla_training_does_the_same_arithmetic(rng):
    """The protocol trains with XLA (``Plan.jit_compile``). With and without it, one training
    step moves every weight by the same amount (plain gradient descent: the gradients agree to
    float32 rounding), and three epochs of Adam end at the same loss within 1 % (Adam turns
    rounding-level gradients into full steps, so trajectories part slowly). Activation dynamics
    integrate with a bounded loop, which XLA needs for the gradient. The delays start between
    samples: at a whole number of samples (the nominal 40 ms is 4) the interpolated delay has a
    kink, and rounding picks either one-sided slope."""
    x, y = dataset(rng)
    batch = ({k: v[:8] for k, v in x.items()}, y[:8])
    steps, losses = [], []
    for jit in (False, True):
        model = tiny_model(members=2, initial=OFF_GRID)
        model.compile(optimizer=keras.optimizers.SGD(0.05), jit_compile=jit)
        before = [keras.ops.convert_to_numpy(v).copy() for v in model.trainable_variables]
        model.train_on_batch(*batch)
        steps.append([keras.ops.convert_to_numpy(v) - b for v, b in zip(model.trainable_variables, before)])
        model = tiny_model(members=2, jit_compile=jit, initial=OFF_GRID)
        losses.append(model.fit(x, y, epochs=3, batch_size=8, verbose=0, shuffle=False).history["loss"])
    assert sum(np.abs(s).sum() for s in steps[0]) > 0  # the step moved the weights
    for with_xla, without in zip(*reversed(steps)):
        np.testing.assert_allclose(with_xla, without, rtol=1e-3, atol=1e-4 * (np.abs(without).max() + 1e-12))
    assert losses[0][-1] < 0.9 * losses[0][0]  # it trained
    np.testing.assert_allclose(losses[1], losses[0], rtol=0.01)


@pytest.mark.opensim
def test_parameters_stay_within_bounds_and_frozen_ones_do_not_move(rng):
    x, y = dataset(rng)
    wild = tiny_model(learning_rate=5.0)
    wild.fit(x, 50 * y, epochs=3, batch_size=8, verbose=0)
    for name, values in wild.physics.identified_parameters().items():
        low, high, _, _ = network.PARAMETER_BOUNDS[name]
        slack = 1e-6 * (high - low)  # float32 rounding of a saturated sigmoid
        assert all(low - slack <= v <= high + slack for v in values.values()), (name, values)
    frozen = tiny_model(trainable=False)
    start = frozen.physics.identified_parameters()
    frozen.fit(x, y, epochs=2, batch_size=8, verbose=0)
    assert frozen.physics.identified_parameters() == start
    # The deep muscles' architecture scales frozen: they stay at nominal, the rest moves.
    partly = tiny_model(freeze_deep_architecture=True, tie_deep=False)
    partly.fit(x, y, epochs=2, batch_size=8, verbose=0)
    found = partly.physics.identified_parameters()
    for name in network.DEEP_ARCHITECTURE:
        assert [found[name][m] for m in config.DEEP_MUSCLES] == pytest.approx([1.0, 1.0], abs=1e-7)
        assert all(abs(found[name][m] - 1.0) > 1e-6 for m in config.SURFACE_MUSCLES), name
    assert found["max_isometric_force_scale"]["BRA"] != pytest.approx(1.0, abs=1e-6)  # strength kept free


@pytest.mark.opensim
def test_save_and_reload_keras_file(tmp_path, rng):
    x, y = dataset(rng, n=4)
    model = tiny_model()
    model.fit(x, y, epochs=1, verbose=0)
    path = tmp_path / "nmm.keras"
    model.save(path)
    again = keras.models.load_model(path)
    np.testing.assert_allclose(again.predict(x, verbose=0)["torque"], model.predict(x, verbose=0)["torque"],
                               rtol=1e-6, atol=1e-6)
    assert again.physics.identified_parameters() == model.physics.identified_parameters()


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="Unknown backbone 'lstm'"):
        network.Backbone("lstm", 16, 8)
    with pytest.raises(ValueError, match="3 values for 2 ensemble members"):
        physics(members=2, tie_deep=[True, False, True])
    with pytest.raises(ValueError, match="Unknown parameters"):
        physics(initial={"strength": 1.0})
    with pytest.raises(ValueError, match="needs 6 values"):
        network.MusclePhysics([1.0] * 5, [0.1] * 6, [0.2] * 6, [0.0] * 6, DT)
    with pytest.raises(ValueError, match="strictly inside"):
        physics(initial={"electromechanical_delay": 0.2})


@pytest.mark.opensim
def test_a_hidden_surface_channel_comes_from_the_network_not_the_recording(rng):
    """Leave-one-channel-out: with BIClong hidden, the physics takes BIClong from the third
    network output and ignores the surface column, and the model has three outputs."""
    x = inputs(rng)
    hidden = ("BRA", "TRImed", "BIClong")
    layer = physics(hidden=hidden)
    estimates = np.concatenate([x["deep"], x["surface"][..., :1]], axis=-1).astype("float32")
    garbage = x["surface"].copy()
    garbage[..., 0] = 0.99
    rest = [x[k].astype("float32") for k in ("length", "speed", "moment_arm")]
    with_hidden = keras.ops.convert_to_numpy(layer([estimates, garbage.astype("float32"), *rest]))
    reference = keras.ops.convert_to_numpy(physics()([x["deep"].astype("float32"), x["surface"].astype("float32"), *rest]))
    np.testing.assert_allclose(with_hidden, reference, rtol=1e-5, atol=1e-5)
    model = training.build_model(SUBJECT, 32, backbone="conv", hidden=hidden)
    assert model.backbone.n_outputs == 3 and model.physics.hidden == hidden
    assert network.MusclePhysics.from_config(layer.get_config()).hidden == hidden


def test_the_diagnosis_with_true_physics_carries_the_subjects_true_parameters():
    scales = {m: 0.7 + 0.1 * i for i, m in enumerate(MUSCLE_NAMES)}
    record = {"name": "S09", "segment_length_scale": 1.05, "forearm_mass_scale": 0.95,
              "electromechanical_delay_s": 0.037, "max_isometric_force_scale": scales,
              "optimal_fiber_length_scale": {m: 0.95 for m in MUSCLE_NAMES},
              "tendon_slack_length_scale": {m: 1.02 for m in MUSCLE_NAMES}}
    model = training.build_model(training.learner_subject(record), 16, backbone="conv", trainable_parameters=False, burn_in=4,
                                 initial=training.true_physics(record))
    found = model.physics.identified_parameters()
    truth = training.true_parameters(record)
    for name in ("max_isometric_force_scale", "optimal_fiber_length_scale", "tendon_slack_length_scale",
                 "electromechanical_delay", "activation_time_constant", "deactivation_time_constant"):
        for key, value in truth[name].items():
            assert found[name][key] == pytest.approx(value, rel=1e-4), (name, key)
    # A = 0 (linear) is the bound itself: the diagnosis sits just inside it, a nearly linear map.
    assert all(-0.01 < v < 0 for v in found["shape_factor"].values())
    assert not model.physics.trainable_weights


@pytest.mark.opensim
def test_each_ensemble_member_is_the_model_its_weights_make(rng):
    """Members share nothing: member k of an ensemble computes what a one-member model with
    member k's weights and settings computes (backbone and physics alike)."""
    x, y = dataset(rng, n=6)
    settings = {"tie_deep": [False, True, True], "freeze_deep_architecture": [False, True, False],
                "initial": [None, INITIAL, None], "effort_weight": [0.0, 0.1, 0.01]}
    ensemble = training.build_model(SUBJECT, T, seed=3, members=3, **settings)
    ensemble.fit(x, y, epochs=1, batch_size=6, verbose=0)  # move every weight off its start
    out = ensemble.predict(x, verbose=0)
    assert out["hidden"].shape == (6, 3, T, 2) and out["torque"].shape == (6, 3, T)
    for k in range(3):
        single = training.build_model(SUBJECT, T, seed=4, **{key: v[k] for key, v in settings.items()})
        pairs = list(zip([*ensemble.backbone.weights, *ensemble.physics.weights],
                         [*single.backbone.weights, *single.physics.weights]))
        assert len(pairs) == len(single.weights)
        for source, target in pairs:
            target.assign(keras.ops.convert_to_numpy(source)[k:k + 1])
        got = single.predict(x, verbose=0)
        np.testing.assert_allclose(got["hidden"][:, 0], out["hidden"][:, k], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(got["torque"][:, 0], out["torque"][:, k], rtol=1e-4,
                                   atol=1e-4 * np.abs(out["torque"]).max())
        own, member = single.physics.identified_parameters(), ensemble.physics.identified_parameters(k)
        for name, values in own.items():
            assert values == pytest.approx(member[name], rel=1e-5, abs=1e-6), name  # float32


def test_tied_deep_parameters_are_one_weight():
    layer = physics(members=2, tie_deep=[True, False], initial=INITIAL)
    index = {m: MUSCLE_NAMES.index(m) for m in MUSCLE_NAMES}
    neural = [n for n, b in network.PARAMETER_BOUNDS.items() if b[3] == "group"]

    def values(name):
        return keras.ops.convert_to_numpy(layer.muscle_parameters()[name])

    for name in neural:
        tied, free = values(name)
        assert tied[index["BRA"]] == tied[index["BIClong"]] and tied[index["TRImed"]] == tied[index["TRIlong"]]
    assert values("electromechanical_delay")[1][index["BRA"]] == pytest.approx(0.047, rel=1e-5)  # untied: its own
    raw = layer.raw["electromechanical_delay"]
    groups = network.GROUP_NAMES
    start = keras.ops.convert_to_numpy(raw).copy()
    moved = start.copy()
    moved[0, groups.index("biceps")] += 0.5  # the one weight of the biceps and the brachialis
    raw.assign(moved)
    tied = values("electromechanical_delay")[0]
    assert tied[index["BRA"]] == tied[index["BIClong"]] != pytest.approx(0.03, rel=1e-3)
    moved[0, groups.index("brachialis")] += 3.0  # the brachialis' own slot is read by no muscle
    raw.assign(moved)
    assert values("electromechanical_delay")[0] == pytest.approx(tied)
    assert layer.identified_parameters(0)["electromechanical_delay"]["brachialis"] == pytest.approx(tied[index["BRA"]])


def synergy_model(members=2, k=2):
    return training.build_model(SUBJECT, T, backbone="conv", seed=5, members=members, synergies=k, burn_in=4)


def test_the_synergy_prior_is_gains_on_the_synergy_activations_plus_a_residual(rng):
    """nmm_synergy's hidden excitations by hand: sum_j C_j softplus(g_jh) + 0.1 tanh(r_h), clipped."""
    model, k = synergy_model(), 2
    features = rng.normal(size=(3, T, len(training.FEATURES))).astype("float32")
    synergy = rng.uniform(0, 0.6, (3, T, k)).astype("float32")
    out = keras.ops.convert_to_numpy(model.backbone(features))  # (3, K, T, H (k + 1))
    assert out.shape == (3, 2, T, 2 * (k + 1))
    gains = np.log1p(np.exp(out[..., : 2 * k])).reshape(3, 2, T, k, 2)
    expected = np.clip(np.einsum("btj,bktjh->bkth", synergy, gains) + 0.1 * np.tanh(out[..., 2 * k:]), 0, 1)
    got = keras.ops.convert_to_numpy(model.hidden({"features": features, "synergy": synergy})["hidden"])
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_constant_gains_without_residual_are_the_synergy_extrapolation(rng):
    """The baseline is a special case: a head that ignores its input and gives gains w and no
    residual makes e = C w, the synergy extrapolation's excitations with weights w."""
    from nmm_core import synergy as synx

    envelopes = rng.uniform(0.01, 0.5, (400, 4))
    found = synx.extract_synergies(envelopes, 2, "nmf")
    weights = np.array([[0.3, 0.05], [0.1, 0.4]])  # (k, H), non-negative as NMF's
    model = synergy_model(members=1)
    head = model.backbone.head
    head.kernel.assign(np.zeros(head.kernel.shape))
    bias = np.zeros((1, 1, 6))
    bias[0, 0, :4] = np.log(np.expm1(weights)).reshape(-1)  # softplus^-1, (k, H) order
    head.bias.assign(bias)
    activations = found.activations(envelopes[:T]).astype("float32")
    features = rng.normal(size=(1, T, len(training.FEATURES))).astype("float32")
    got = keras.ops.convert_to_numpy(model.hidden({"features": features, "synergy": activations[None]})["hidden"])[0, 0]
    extrapolation = synx.Extrapolation(found, weights, np.ones(6), 0.0, 0.0, 0.0, None, config.DEEP_MUSCLES)
    np.testing.assert_allclose(got, extrapolation.deep_excitation(envelopes[:T]), rtol=1e-4, atol=1e-5)


@pytest.mark.opensim
def test_save_and_reload_an_ensemble_with_a_synergy_prior(tmp_path, rng):
    x, y = dataset(rng, n=4)
    x = {**x, "synergy": rng.uniform(0, 0.5, (4, T, 2)).astype("float32")}
    model = synergy_model()
    model.fit(x, y, epochs=1, verbose=0)
    path = tmp_path / "nmm_synergy.keras"
    model.save(path)
    again = keras.models.load_model(path)
    assert again.synergies == 2 and again.members == 2
    for key in ("torque", "hidden", "residual"):
        np.testing.assert_allclose(again.predict(x, verbose=0)[key], model.predict(x, verbose=0)[key], rtol=1e-6, atol=1e-6)


def _reference_backbone(backbone, features):
    """The backbone written out in NumPy from its weights, one member and one window at a time
    (time-major, no member axis): what its docstring describes, independent of the layout
    :class:`network.Backbone` computes in."""
    w = {v.path.split("/")[-1]: np.asarray(keras.ops.convert_to_numpy(v), dtype=float) for v in backbone.weights}

    def dense(x, name, k):
        return x @ w[f"{name}_kernel"][k] + w[f"{name}_bias"][k][0]

    def norm(x, name, k):
        mean, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
        return (x - mean) / np.sqrt(var + 1e-3) * w[f"{name}_gamma"][k][0] + w[f"{name}_beta"][k][0]

    def gelu(x):  # the tanh form (keras.ops.gelu's default)
        return 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)))

    T, W, h = backbone.window, backbone.width, backbone.heads
    out = np.zeros((len(features), backbone.members, T, backbone.n_outputs))
    for b, window in enumerate(np.asarray(features, dtype=float)):
        for k in range(backbone.members):
            x = dense(window, "embed", k)
            if backbone.kind == "transformer":
                x = x + w["positions"][k]
                for i in range(backbone.depth):
                    q, key, v = np.split(dense(x, f"qkv_{i}", k), 3, axis=-1)
                    heads = []
                    for j in range(h):
                        part = slice(j * W // h, (j + 1) * W // h)
                        scores = q[:, part] @ key[:, part].T / np.sqrt(W // h)
                        weights = np.exp(scores - scores.max(-1, keepdims=True))
                        heads.append(weights / weights.sum(-1, keepdims=True) @ v[:, part])
                    x = norm(x + dense(np.concatenate(heads, -1), f"attention_out_{i}", k), f"norm_a{i}", k)
                    x = norm(x + dense(gelu(dense(x, f"ffn_{i}a", k)), f"ffn_{i}b", k), f"norm_f{i}", k)
            else:
                for i in range(backbone.depth + 1):
                    d = 2 ** i
                    padded = np.pad(x, [(2 * d, 2 * d), (0, 0)])
                    x = gelu(dense(np.concatenate([padded[j * d: j * d + T] for j in range(5)], -1), f"conv_{i}", k))
            y = dense(x, "deep_excitation", k)
            out[b, k] = 1 / (1 + np.exp(-y)) if backbone.activation == "sigmoid" else y
    return out


@pytest.mark.parametrize("kind, output", [("transformer", "sigmoid"), ("conv", "linear")])
def test_the_backbone_is_the_network_its_weights_make(rng, kind, output):
    """Every member of :class:`network.Backbone` computes the encoder (or dilated convolutions)
    its docstring describes, written out here in NumPy per member and per window."""
    keras.utils.set_random_seed(5)
    backbone = network.Backbone(kind, 24, 5, n_outputs=3, members=3, width=8, heads=2, output=output)
    for v in backbone.weights:  # off the initial values (zero biases, unit norms)
        v.assign(keras.ops.convert_to_numpy(v) + rng.normal(scale=0.2, size=v.shape))
    features = rng.normal(size=(4, 24, 5)).astype("float32")
    np.testing.assert_allclose(np.asarray(backbone(features)), _reference_backbone(backbone, features),
                               rtol=1e-4, atol=1e-5)


@pytest.mark.opensim
def test_an_uncompiled_plan_compiles_on_jax_only():
    """``jit_compile=False`` (the quick plan's) is TensorFlow's choice: its uncompiled graph.
    Keras would run an uncompiled JAX step op by op, about five times slower than compiled, so
    on JAX the step is compiled regardless (run on JAX by the test below), and so is its inference."""
    from nmm_core import inference

    jax = keras.backend.backend() == "jax"
    model = tiny_model(jit_compile=False)
    assert model.jit_compile is jax
    inference.compile_for_inference(model, False)
    assert model.backbone.jit_compile is jax and inference._physics_runner(model).jit_compile is jax


#: Run on JAX by the test below, in one new process: three epochs of a tiny NMM from the weights
#: TensorFlow started from (argv: the tests' folder, data, weights, where to write the losses),
#: then the tests named after them.
_ON_JAX = """
import json, sys
import numpy as np
import pytest
sys.path.insert(0, sys.argv[1])
import test_network as t
from nmm_core import training
data, weights = np.load(sys.argv[2]), np.load(sys.argv[3])
x, y = {k: data[k] for k in data.files if k != "y"}, data["y"]
model = t.tiny_model(members=2, initial=t.OFF_GRID)
model.set_weights([weights[f"arr_{i}"] for i in range(len(weights.files))])
model.optimizer.build(model.trainable_variables)
history = model.fit(x, y, epochs=3, batch_size=8, verbose=0, shuffle=False,
                    callbacks=training._schedule_callbacks(model, ["cosine", None], epochs=3)).history
with open(sys.argv[4], "w") as out:
    json.dump(history["loss"], out)
sys.exit(pytest.main(["-q", "-p", "no:cacheprovider", *sys.argv[5:]]))
"""


@pytest.mark.opensim
def test_the_network_and_its_training_are_the_same_on_jax(rng, tmp_path):
    """The NMM is written in ``keras.ops``, so it is the same computation on either backend.
    In one JAX process (a process has one backend):

    - from the same starting weights, three epochs (MemberAdam, one member on the cosine
      schedule and one at a constant rate) give the same losses as on TensorFlow, to float32
      rounding (measured: a few parts per million; steps 1 % larger on one backend move them
      by 0.1 %). The backends' random initial weights differ, which this takes out;
    - the backbone passes its NumPy check above (the attention's layout is chosen for JAX's
      compiler as well as TensorFlow's);
    - an uncompiled plan compiles its training and inference (the test above)."""
    if keras.backend.backend() != "tensorflow":
        pytest.skip("runs JAX beside TensorFlow from a TensorFlow process (under JAX, every test runs on JAX)")
    x, y = dataset(rng)
    np.savez(tmp_path / "data.npz", y=y, **x)
    model = tiny_model(members=2, initial=OFF_GRID)
    np.savez(tmp_path / "weights.npz", *model.get_weights())
    model.optimizer.build(model.trainable_variables)
    ours = model.fit(x, y, epochs=3, batch_size=8, verbose=0, shuffle=False,
                     callbacks=training._schedule_callbacks(model, ["cosine", None], epochs=3)).history["loss"]
    tests = [f"{__file__}::{name}" for name in ("test_the_backbone_is_the_network_its_weights_make",
                                                "test_an_uncompiled_plan_compiles_on_jax_only")]
    losses = tmp_path / "jax_losses.json"
    run = subprocess.run([sys.executable, "-c", _ON_JAX, os.path.dirname(__file__), str(tmp_path / "data.npz"),
                          str(tmp_path / "weights.npz"), str(losses), *tests],
                         env={**os.environ, "KERAS_BACKEND": "jax"}, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0 and "3 passed" in run.stdout, run.stdout[-3000:] + run.stderr[-3000:]
    assert ours[-1] < 0.9 * ours[0]  # it trained
    np.testing.assert_allclose(json.loads(losses.read_text()), ours, rtol=1e-4)


@pytest.mark.opensim
def test_member_adam_with_unit_scales_is_keras_adam_to_the_last_bit(rng):
    """The NMM's optimizer (per-member step scales, all 1 unless a schedule differs between
    members) against Keras's own Adam: the same weights after three epochs, bit for bit on
    TensorFlow. JAX compiles the whole step with XLA, which may fuse the extra multiplication by
    the unit scale into Adam's arithmetic and round the last bit differently: there the weights
    must agree to a float32 rounding (a wrong scale moves them by about the learning rate)."""
    x, y = dataset(rng)
    weights = []
    for optimizer in (keras.optimizers.Adam(3e-3), network.MemberAdam(2, learning_rate=3e-3)):
        model = tiny_model(members=2)
        model.compile(optimizer=optimizer)
        model.fit(x, y, epochs=3, batch_size=8, verbose=0, shuffle=False)
        weights.append([keras.ops.convert_to_numpy(v) for v in model.trainable_variables])
    for ours, keras_adam in zip(*weights):
        if keras.backend.backend() == "tensorflow":
            np.testing.assert_array_equal(ours, keras_adam)
        else:
            np.testing.assert_allclose(ours, keras_adam, rtol=2e-6, atol=1e-7)


@pytest.mark.opensim
def test_members_on_different_schedules_train_as_if_alone(rng):
    """Two members trained together, one on the cosine schedule and one at a constant rate
    (MemberAdam scales its steps), predict the torque each predicts trained alone on its
    schedule, as a one-member model from the same start: far closer than the two schedules
    end apart (not bit for bit: a batched product rounds differently). The delays start off
    the sample grid (OFF_GRID)."""
    x, y = dataset(rng)
    schedules = ["cosine", None]

    def torque(model, schedule):
        model.optimizer.build(model.trainable_variables)
        model.fit(x, y, epochs=4, batch_size=8, verbose=0, shuffle=False,
                  callbacks=training._schedule_callbacks(model, schedule, epochs=4))
        return model.predict(x, verbose=0)["torque"]  # (B, K, T)

    def alone(member, schedule):
        model = tiny_model(members=1, initial=OFF_GRID)
        for variable, value in zip(model.trainable_variables, start):
            variable.assign(value[member:member + 1])
        return torque(model, schedule)[:, 0]

    together = tiny_model(members=2, initial=OFF_GRID)
    start = [keras.ops.convert_to_numpy(v).copy() for v in together.trainable_variables]
    got = torque(together, schedules)
    for k, schedule in enumerate(schedules):
        on_its_schedule, on_the_other = alone(k, schedule), alone(k, schedules[1 - k])
        apart = np.abs(on_its_schedule - on_the_other).max()
        assert apart > 1e-3 * np.abs(y).max(), "the two schedules should end apart"
        assert np.abs(got[:, k] - on_its_schedule).max() < 1e-3 * apart, (k, schedule)


def test_parameter_rate_scales_the_subject_parameters_steps_alone(rng):
    """Adam's first step moves every weight by the learning rate times g / (|g| + eps), about
    the rate itself whatever the gradient's size (closed form). With ``parameter_rate`` (2, 10)
    for two members, one step from the same start moves member k's subject parameters
    (``physics/``) exactly ``parameter_rate[k]`` times as far as plain steps do, and every
    network weight exactly as far."""
    x, y = dataset(rng, n=8)
    rates = [2.0, 10.0]

    def one_step(parameter_rate):
        model = tiny_model(members=2, learning_rate=1e-3, parameter_rate=parameter_rate)
        before = {v.path: keras.ops.convert_to_numpy(v).copy() for v in model.trainable_variables}
        model.fit(x, y, epochs=1, batch_size=8, verbose=0, shuffle=False)
        return {v.path: keras.ops.convert_to_numpy(v) - before[v.path] for v in model.trainable_variables}

    plain, scaled = one_step(1.0), one_step(rates)
    parameters = [path for path in plain if path.startswith(network.PARAMETER_PATH)]
    assert len(parameters) == len(network.PARAMETER_BOUNDS)
    for path, step in plain.items():
        moved = np.abs(step) > 0
        if path in parameters:
            # the frozen deep slots do not move; every other parameter takes one step of ~1e-3
            assert moved.any(), path
            np.testing.assert_allclose(np.abs(step[moved]), 1e-3, rtol=1e-2, err_msg=path)
            for k, rate in enumerate(rates):
                np.testing.assert_allclose(scaled[path][k], rate * step[k], rtol=1e-4, atol=1e-9, err_msg=path)
        else:
            np.testing.assert_allclose(scaled[path], step, rtol=1e-5, atol=1e-9, err_msg=path)


def test_parameter_rate_is_checked_and_saved(tmp_path):
    with pytest.raises(ValueError, match="parameter_rate has 3 values for 2"):
        network.MemberAdam(2, parameter_rate=[1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="positive and finite"):
        network.MemberAdam(2, parameter_rate=[1.0, 0.0])
    model = tiny_model(members=2, parameter_rate=[1.0, 5.0])
    x, y = dataset(np.random.default_rng(0), n=8)
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)  # built, with the optimizer's moments
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    assert loaded.optimizer.parameter_rate == [1.0, 5.0]
    assert len(loaded.optimizer.variables) == len(model.optimizer.variables)
    for saved, restored in zip(model.optimizer.variables, loaded.optimizer.variables):
        np.testing.assert_array_equal(np.asarray(saved), np.asarray(restored))


def test_member_adam_refuses_a_weight_without_the_member_axis():
    optimizer = network.MemberAdam(3)
    with pytest.raises(ValueError, match="without the member axis first"):
        optimizer.build([keras.Variable(np.zeros((2, 4), "float32"), name="w")])


def test_schedules_per_member_are_checked():
    model = tiny_model(members=2)
    with pytest.raises(ValueError, match="3 schedules for a model of 2 members"):
        training._schedule_callbacks(model, ["cosine", None, None], epochs=3)
    with pytest.raises(ValueError, match="Unknown schedule 'linear'"):
        training._schedule_callbacks(model, ["cosine", "linear"], epochs=3)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    with pytest.raises(ValueError, match="need the optimizer MemberAdam"):
        training._schedule_callbacks(model, ["cosine", None], epochs=3)
