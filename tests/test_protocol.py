"""The selection protocol: the validation set, selection and training with the truth gone,
early stopping per member, and equal budgets."""

import dataclasses
import shutil
import subprocess
import sys
import types

import numpy as np
import pytest

from nmm_core import cohort, protocol, scoring, synergy, training

TINY = protocol.Plan(max_epochs=3, patience=1, seeds=2, batch_size=64, stride=32, jit_compile=False)


@pytest.fixture(scope="module")
def blind_subject(tmp_path_factory):
    """One quick-cohort subject copied with every ``truth_excitation.sto`` deleted: what a user
    with recordings has. ``(folder, subject record, trials)``."""
    generated = tmp_path_factory.mktemp("cohort")
    code = ("import sys; from nmm_core import cohort; "
            "cohort.generate_cohort(sys.argv[1], quick=True, subjects=['S03'], workers=2)")
    run = subprocess.run([sys.executable, "-c", code, str(generated)], capture_output=True, text=True, timeout=1200)
    assert run.returncode == 0, run.stderr[-3000:]
    blind = tmp_path_factory.mktemp("blind") / "cohort"
    shutil.copytree(generated, blind)
    removed = list(blind.rglob("truth_excitation.sto"))
    assert removed, "the cohort has truth files to remove"
    for path in removed:
        path.unlink()
    trials = cohort.load_cohort(blind)["S03"]
    assert all(t.truth is None for t in trials)
    return blind, cohort.subject_record(blind, "S03"), trials


def test_the_validation_set_comes_from_the_training_trials_only():
    """On the quick and the full cohort plans: validation within training, never a held-out
    trial, and every load and posture keeps a fitting trial."""
    import types

    for quick in (True, False):
        plan = cohort.trial_plan(0, quick=quick)
        trials = [types.SimpleNamespace(name=name, hand_load=spec.hand_load,
                                        shoulder_angle=cohort.POSTURES[spec.posture],
                                        time=np.arange(int(100 * spec.cycle_duration * spec.n_cycles)) * 0.01)
                  for name, spec in plan]
        parts = training.split(trials)
        fit, validation = training.inner_split(parts["train"])
        held = {t.name for t in parts["test_speed"] + parts["test_load"]}
        assert validation and not held & {t.name for t in validation}
        assert {t.name for t in fit} | {t.name for t in validation} == {t.name for t in parts["train"]}
        assert not {t.name for t in fit} & {t.name for t in validation}
        groups = lambda part: {(t.hand_load, scoring.posture_name(t.shoulder_angle)) for t in part}  # noqa: E731
        assert groups(fit) == groups(parts["train"])
        # The trial of median duration of its group (of two, the longer).
        for v in validation:
            same = sorted(t.time.size for t in parts["train"]
                          if (t.hand_load, t.shoulder_angle) == (v.hand_load, v.shoulder_angle))
            assert v.time.size == same[len(same) // 2]
            if len(same) >= 3:
                assert min(same) < v.time.size < max(same)  # a speed inside the fitting range


def test_a_single_trial_per_condition_leaves_no_validation_set():
    import types

    trials = [types.SimpleNamespace(name=f"t{i}", hand_load=float(i), shoulder_angle=0.0, time=np.zeros(10))
              for i in range(3)]
    with pytest.raises(ValueError, match="No validation trial"):
        training.inner_split(trials)


def test_both_methods_get_the_same_budget():
    assert len(protocol.NMM_CANDIDATES) == len(protocol.SYNX_CANDIDATES) == protocol.BUDGET
    assert len({tuple(sorted(c.items())) for c in protocol.NMM_CANDIDATES}) == protocol.BUDGET
    # every NMM candidate names every searched setting, so the chosen one reaches every model
    assert all(set(c) == set(protocol.NMM_CANDIDATES[0]) for c in protocol.NMM_CANDIDATES)
    assert len(set(protocol.SYNX_CANDIDATES)) == protocol.BUDGET


@pytest.mark.opensim
def test_selection_and_training_run_with_the_truth_gone(blind_subject, monkeypatch):
    """Nothing but scoring reads the deep truth: with the truth files deleted (and scoring's
    reader made to fail), both methods select and fit; scoring then cannot run."""
    folder, record, trials = blind_subject

    def no_truth(*args, **kwargs):
        raise AssertionError("the deep truth was read")

    monkeypatch.setattr(scoring, "true_excitation", no_truth)
    learner = training.learner_subject(record)
    parts = training.split(trials)
    arrays = {name: training.prepare(part, learner) for name, part in parts.items()}
    fit, validation = training.inner_split(arrays["train"])
    nominal = synergy.nominal_parameters(learner)
    synx = protocol.select_synx(fit, validation, nominal, max_iter=5, restarts=3)
    assert synx["best"] in protocol.SYNX_CANDIDATES and len(synx["rows"]) == protocol.BUDGET
    # The refit from three starts (the default, then random ones seeded 1 and 2) keeps the lowest cost.
    starts = [None, np.random.default_rng(1), np.random.default_rng(2)]
    costs = [synergy.fit_extrapolation(fit, synx["synergies"], nominal, calibrate=True, start=s).cost for s in starts]
    np.testing.assert_allclose([r["training_cost"] for r in synx["restarts"]], costs, rtol=1e-9)
    assert synx["final_start"] == int(np.argmin(costs)) and synx["final"].cost == pytest.approx(min(costs))
    nmm = protocol.select_nmm(learner, fit, validation, TINY)
    assert nmm["best"] in protocol.NMM_CANDIDATES
    model, history, _ = protocol.fit_nmm(learner, fit, validation, [nmm["best"]] * TINY.seeds, TINY)
    assert model.members == TINY.seeds and len(history["best_epoch"]) == TINY.seeds
    held_out = arrays["test_load"]
    predictions = {a.trial.name: p for a, p in zip(held_out, training.estimate(model, held_out, TINY.window))}
    with pytest.raises(AssertionError, match="deep truth was read"):
        training.score(held_out, predictions, record["electromechanical_delay_s"])


@pytest.mark.opensim
def test_each_member_keeps_its_best_epoch_on_validation(blind_subject):
    """Early stopping per member: after training, each member's validation error is the best
    one recorded for it, at the epoch recorded; the history has one row per epoch."""
    _, record, trials = blind_subject
    learner = training.learner_subject(record)
    arrays = training.prepare(training.split(trials)["train"], learner)
    fit, validation = training.inner_split(arrays)
    plan = protocol.Plan(max_epochs=6, patience=6, seeds=3, batch_size=64, stride=32)
    model, history, _ = protocol.fit_nmm(learner, fit, validation, [{"effort_weight": 0.01}] * 3, plan)
    errors = np.array(history["validation_rmse"])
    assert errors.shape == (len(history["loss"]), 3)
    np.testing.assert_allclose(history["best_validation_rmse"], errors.min(axis=0), rtol=1e-6)
    np.testing.assert_array_equal(history["best_epoch"], errors.argmin(axis=0) + 1)
    np.testing.assert_allclose(training.validation_error(model, validation, plan.window),
                               history["best_validation_rmse"], rtol=1e-4)


@pytest.mark.opensim
def test_every_ablation_row_is_one_member_of_one_model_with_its_own_settings(blind_subject):
    """The ablation trains as one model: each row a member with the row's settings, the rows at
    a constant learning rate with their steps scaled by start / rate (the others 1), every
    member from the same network weights; and the plan's backbone size and learning rate reach
    the model."""
    _, record, trials = blind_subject
    learner = training.learner_subject(record)
    arrays = training.prepare(training.split(trials)["train"], learner)
    fit, validation = training.inner_split(arrays)
    plan = dataclasses.replace(TINY, width=16, depth=1, learning_rate=0.01)
    chosen = next(c for c in protocol.NMM_CANDIDATES if c["parameter_rate"] != 1.0)
    model = protocol.run_ablations(learner, record, fit, validation, chosen, plan)
    assert model.members == len(protocol.ABLATIONS)
    assert (model.backbone.width, len(model.backbone.blocks)) == (16, 1)
    for k, (_, change) in enumerate(protocol.ABLATIONS):
        expected = {**chosen, **change}
        assert model.effort_weight[k] == pytest.approx(expected.get("effort_weight", training.SETTINGS["effort_weight"]))
        assert model.burn_in[k] == expected.get("burn_in", training.SETTINGS["burn_in"])
        assert model.optimizer.parameter_rate[k] == expected["parameter_rate"]  # the chosen step, or 1 where a row says
    assert sorted(set(model.optimizer.parameter_rate)) == sorted({1.0, chosen["parameter_rate"]})
    scales = np.array(model.optimizer.member_scale)
    constant = np.array([change.get("schedule", "cosine") is None for _, change in protocol.ABLATIONS])
    assert constant.sum() == 2 and np.all(scales[constant] > 1.0) and np.all(scales[~constant] == 1.0)
    rate = float(np.array(model.optimizer.learning_rate))
    np.testing.assert_allclose(scales[constant] * rate, plan.learning_rate, rtol=1e-5)  # the constant rows' rate


def test_a_full_run_ablates_every_subject_and_a_quick_run_the_first_alone():
    names = training.cohort_subjects()
    assert len(names) == 5
    assert [protocol.ablates(s, quick=False) for s in names] == [True] * 5
    assert [protocol.ablates(s, quick=True) for s in names] == [True, False, False, False, False]


def test_candidates_start_alike_and_seeds_do_not():
    learner = training.learner_subject({"name": "S09", "segment_length_scale": 1.0, "forearm_mass_scale": 1.0})
    model = training.build_model(learner, 32, backbone="conv", members=3, burn_in=4,
                                 initial=[None, {"electromechanical_delay": 0.07}, None])
    first = [np.array(w) for w in model.backbone.weights]
    assert any(not np.allclose(w[0], w[1]) for w in first)  # seeds differ
    before = model.physics.identified_parameters()
    protocol.start_alike(model)
    for w, start in zip(model.backbone.weights, first):
        value = np.array(w)
        np.testing.assert_array_equal(value, np.broadcast_to(start[:1], start.shape))
    assert model.physics.identified_parameters() == before  # the members' parameter settings stay


def test_training_batches_are_full_fresh_permutations_of_the_windows():
    """:func:`training.full_batches`: each epoch cuts a new permutation of the windows into
    batches of one size, no window twice in an epoch, inputs and targets kept together; over
    epochs every window is drawn; the same seed gives the same batches."""
    n, size = 50, 8
    x = {"a": np.arange(n)[:, None] * 10.0, "b": np.arange(n)[:, None] * -1.0}
    y = np.arange(n, dtype=float)

    def epochs(seed, count):
        data = training.full_batches(x, y, size, seed)
        return [list(data.as_numpy_iterator()) for _ in range(count)]

    seen, orders = set(), []
    for batches in epochs(3, 6):
        assert len(batches) == n // size
        rows = np.concatenate([target for _, target in batches]).astype(int)
        assert all(len(target) == size for _, target in batches)
        assert len(set(rows)) == len(rows) == size * (n // size) == training.trained_windows(n, size)
        for inputs, target in batches:
            np.testing.assert_array_equal(inputs["a"][:, 0], 10 * target)
            np.testing.assert_array_equal(inputs["b"][:, 0], -target)
        seen |= set(rows)
        orders.append(rows)
    assert seen == set(range(n)) and not all(np.array_equal(orders[0], o) for o in orders[1:])
    again = epochs(3, 2)
    np.testing.assert_array_equal(np.concatenate([t for _, t in again[1]]), orders[1])
    # Fewer windows than a batch: one batch of all of them.
    small = list(training.full_batches(x["a"][:5], y[:5], size).as_numpy_iterator())
    assert len(small) == 1 and sorted(small[0][1]) == list(range(5)) and training.trained_windows(5, size) == 5


def test_the_baseline_keeps_the_refit_of_lowest_training_cost(monkeypatch):
    """The calibrated refit runs from the default start, then from random starts seeded
    seed + 1, seed + 2, ...; whatever the order of their costs, the lowest is kept. A stand-in fit
    gives the default start a cost of 2 and a random start the first number its generator draws."""
    rng = np.random.default_rng(0)
    trials = [types.SimpleNamespace(trial=types.SimpleNamespace(name=f"t{i}", time=np.arange(200) * 0.01),
                                    surface=rng.uniform(0.0, 1.0, (200, 4)), torque=rng.normal(size=200))
              for i in range(3)]

    class Fit:
        def __init__(self, cost):
            self.cost, self.delay, self.fit_seconds = cost, 0.04, 0.0

        def predict(self, part, nominal):
            return {a.trial.name: {"torque": a.torque + self.cost} for a in part}

    def stand_in(fit, found, nominal, calibrate=True, start=None, **options):
        return Fit(1.0 if not calibrate else 2.0 if start is None else float(start.uniform()))

    monkeypatch.setattr(protocol.synergy, "fit_extrapolation", stand_in)
    for seed in (0, 3, 7):
        expected = [2.0] + [float(np.random.default_rng(seed + j).uniform()) for j in (1, 2, 3)]
        synx = protocol.select_synx(trials[:2], trials[2:], {}, seed=seed, restarts=4)
        assert [r["training_cost"] for r in synx["restarts"]] == expected
        assert synx["final_start"] == int(np.argmin(expected)) and synx["final"].cost == min(expected)
        assert synx["restarts"][0]["start"] == "default"
    with pytest.raises(ValueError, match="restarts"):
        protocol.select_synx(trials[:2], trials[2:], {}, restarts=0)

