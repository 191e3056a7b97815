"""The one scoring function against SciPy on hand-made trials whose truth is known."""

import dataclasses
import math

import numpy as np
import pytest
from scipy import signal, stats

from nmm_core import results, scoring, training
from nmm_core.trials import Trial

RATE = 100.0
TRIM = int(scoring.TRIM_SECONDS * RATE)  # samples left out at each end


def _arrays(name, load, rng, n=300, shoulder=0.0):
    """A trial as the scorer sees it: truth excitations, reference torque (no model needed)."""
    time = np.arange(n) / RATE
    truth = {"BRA": 0.2 + 0.1 * np.sin(2 * np.pi * 0.5 * time + rng.uniform()),
             "TRImed": 0.1 + 0.05 * np.cos(2 * np.pi * 0.4 * time)}
    trial = Trial(name=name, subject="S99", time=time, elbow_angle=np.ones(n), torque=5 * np.sin(time + load),
                  emg=np.zeros((n, 4)), emg_channels=("BIClong", "BICshort", "TRIlong", "TRIlat"),
                  hand_load=load, shoulder_angle=shoulder, truth=truth)
    empty = np.zeros((n, 6))
    fields = {f.name: None for f in dataclasses.fields(training.TrialArrays)}
    fields.update(trial=trial, features=np.zeros((n, 8)), surface=np.zeros((n, 4)), length=empty,
                  speed=empty, moment_arm=empty, torque=trial.torque)
    return training.TrialArrays(**fields)


def _shifted(a, muscle, delay):
    return np.interp(a.trial.time + delay, a.trial.time, a.trial.truth[muscle])


def _noisy_predictions(arrays, delay, rng, scale=0.02):
    out = {}
    for a in arrays:
        truth = np.column_stack([_shifted(a, m, delay) for m in ("BRA", "TRImed")])
        out[a.trial.name] = {"hidden": truth + rng.normal(scale=scale, size=truth.shape),
                             "torque": a.torque + rng.normal(scale=0.1, size=len(a.torque))}
    return out


def test_pooled_per_load_per_posture_and_per_trial_scores_equal_scipy_on_the_trimmed_samples(rng, tmp_path):
    delay = 0.03
    arrays = [_arrays("a", 0.0, rng), _arrays("b", 0.0, rng, shoulder=math.pi), _arrays("c", 2.0, rng)]
    predictions = _noisy_predictions(arrays, delay, rng)
    scores = training.score(arrays, predictions, delay)
    assert set(scores["per_load"]) == {"0", "2"} and set(scores["per_trial"]) == {"a", "b", "c"}
    assert set(scores["per_posture"]) == {"hanging", "overhead"}
    kept = slice(TRIM, 300 - TRIM)

    def pooled(names, j):
        truth = np.concatenate([_shifted(a, ("BRA", "TRImed")[j], delay)[kept] for a in arrays if a.trial.name in names])
        return truth, np.concatenate([predictions[n]["hidden"][kept, j] for n in names])

    for names, result in ((["a", "b", "c"], scores), (["a", "b"], scores["per_load"]["0"]),
                          (["a", "c"], scores["per_posture"]["hanging"]), (["c"], scores["per_trial"]["c"])):
        for j, muscle in enumerate(("BRA", "TRImed")):
            truth, estimate = pooled(names, j)
            assert result[muscle]["r"] == pytest.approx(stats.pearsonr(truth, estimate)[0])
            assert result[muscle]["rmse"] == pytest.approx(np.sqrt(np.mean((truth - estimate) ** 2)))
            assert result[muscle]["constant"] is False and result[muscle]["truth_constant"] is False
        reference = np.concatenate([a.torque[kept] for a in arrays if a.trial.name in names])
        torque = np.concatenate([predictions[n]["torque"][kept] for n in names])
        assert result["torque"]["rmse_Nm"] == pytest.approx(np.sqrt(np.mean((torque - reference) ** 2)))
    assert scores["per_trial"]["c"]["hand_load_kg"] == 2.0 and scores["per_trial"]["b"]["posture"] == "overhead"
    per_trial_r = [stats.pearsonr(*pooled([n], 0))[0] for n in "abc"]
    assert scores["median_trial"]["BRA"]["r"] == pytest.approx(np.median(per_trial_r))
    assert scores["median_trial"]["BRA"]["trials"] == 3

    path = results.save_predictions(tmp_path / "p.npz", training.prediction_curves(arrays, predictions, delay))
    loaded = results.load_predictions(path)
    assert set(loaded) == {"a", "b", "c"}
    np.testing.assert_array_equal(loaded["b"]["hidden"], predictions["b"]["hidden"])
    np.testing.assert_allclose(loaded["c"]["hidden_truth"][:, 0], _shifted(arrays[2], "BRA", delay))
    assert float(loaded["c"]["hand_load_kg"]) == 2.0 and float(loaded["b"]["shoulder_angle"]) == math.pi


@pytest.mark.parametrize("rate", [100.0, 1000.0, 148.0])
def test_trimming_removes_exactly_the_edge_seconds_at_each_end(rate):
    time = 1.7 + np.arange(int(4 * rate)) / rate
    keep = scoring.trim_mask(time)
    dropped_start, dropped_end = time[~keep & (time < time.mean())], time[~keep & (time > time.mean())]
    # every dropped sample lies within 0.3 s of its end, every kept one at least 0.3 s away
    assert dropped_start.max() < time[0] + 0.3 <= time[keep].min() + 1e-9
    assert dropped_end.min() > time[-1] - 0.3 >= time[keep].max() - 1e-9
    assert keep.sum() == time.size - 2 * math.ceil(0.3 * rate - 1e-9)
    with pytest.raises(ValueError, match="trimming"):
        scoring.trim_mask(time[:int(0.5 * rate)])


def test_the_low_passed_truth_is_a_scipy_butterworth_of_the_truth_and_is_scored(rng):
    time = np.arange(400) / RATE
    truth = np.column_stack([0.3 + 0.2 * np.sign(np.sin(2 * np.pi * 0.7 * time)), rng.uniform(0, 1, 400)])
    sos = signal.butter(4, 6.0, btype="lowpass", fs=RATE, output="sos")
    expected = signal.sosfiltfilt(sos, truth, axis=0)
    np.testing.assert_allclose(scoring.lowpass_truth(truth, time), expected, atol=1e-12)

    estimate = expected + rng.normal(scale=0.01, size=expected.shape)
    record = scoring.ScoredTrial("t", time, 0.0, "hanging", truth, estimate)
    scores = scoring.score_trials([record])
    kept = slice(TRIM, 400 - TRIM)
    for j, m in enumerate(("BRA", "TRImed")):
        assert scores[m]["r_lowpass"] == pytest.approx(stats.pearsonr(expected[kept, j], estimate[kept, j])[0])
        assert scores[m]["r"] == pytest.approx(stats.pearsonr(truth[kept, j], estimate[kept, j])[0])
        assert scores[m]["r_lowpass"] > scores[m]["r"]  # the estimate is smooth, so is the fairer truth
    assert "torque" not in scores  # a method without torque has no torque scores


def test_a_constant_estimate_scores_zero_and_lowers_the_mean_instead_of_being_dropped(rng):
    delay = 0.03
    arrays = [_arrays("a", 0.0, rng), _arrays("b", 2.0, rng)]
    good = _noisy_predictions(arrays, delay, rng)
    flat = {n: {**p, "hidden": np.column_stack([np.full(300, 0.05), p["hidden"][:, 1]])} for n, p in good.items()}
    good_scores, flat_scores = training.score(arrays, good, delay), training.score(arrays, flat, delay)
    assert flat_scores["BRA"]["r"] == 0.0 and flat_scores["BRA"]["constant"] is True
    assert flat_scores["per_trial"]["a"]["BRA"]["r"] == 0.0 and flat_scores["median_trial"]["BRA"]["r"] == 0.0
    assert flat_scores["TRImed"]["constant"] is False

    def entry(scores):
        payload = results._json_ready({k: v for k, v in scores.items() if k != "per_trial"})
        return {**results._scores(payload, "test"), "median_trial": payload["median_trial"],
                "train_seconds": 1.0, "per_posture": {}}

    subjects = {"S01": {"nmm": entry(good_scores), "mse": entry(good_scores)},
                "S02": {"nmm": entry(flat_scores), "mse": entry(good_scores)}}
    means = results.summarise(subjects)
    assert means["nmm"]["BRA"]["r"] == pytest.approx(good_scores["BRA"]["r"] / 2)  # (r + 0) / 2, not r
    assert means["mse"]["BRA"]["r"] == pytest.approx(good_scores["BRA"]["r"])
    assert means["nmm"]["constant"] == {"BRA": 1, "TRImed": 0}


def test_a_constant_truth_leaves_r_undefined_for_every_method(rng):
    delay = 0.0
    a = _arrays("a", 0.0, rng)
    a.trial.truth["TRImed"][:] = 0.04 + 0.01 * np.sin(a.trial.time)  # varies by 0.02 < 0.05: at its floor
    for predictions in (_noisy_predictions([a], delay, rng), _noisy_predictions([a], delay, rng, scale=0.1)):
        scores = training.score([a], predictions, delay)
        assert scores["TRImed"]["r"] is None and scores["TRImed"]["truth_constant"] is True
        assert scores["TRImed"]["rmse"] > 0 and scores["median_trial"]["TRImed"] == {"r": None, "rmse": pytest.approx(
            scores["TRImed"]["rmse"]), "trials": 0}
        assert scores["BRA"]["r"] is not None


def test_posture_names_match_the_cohort():
    from nmm_core import cohort

    for name, angle in cohort.POSTURES.items():
        assert scoring.posture_name(angle) == name
    assert scoring.posture_name(math.pi / 2) == "shoulder 90 deg"


def test_a_hidden_surface_channel_is_scored_against_its_recording(rng):
    a = _arrays("a", 0.0, rng)
    a.trial.emg[:] = np.linspace(0.1, 0.5, a.trial.emg.size).reshape(a.trial.emg.shape)
    truth = training.true_deep_emg(a.trial, 0.03, ("BRA", "TRImed", "TRIlat"))
    np.testing.assert_array_equal(truth[:, 2], a.trial.channel("TRIlat"))  # recorded EMG: no delay shift
    np.testing.assert_allclose(truth[:, 0], np.interp(a.trial.time + 0.03, a.trial.time, a.trial.truth["BRA"]))
    predictions = {"a": {"hidden": truth + 0.01, "torque": a.torque}}
    scores = training.score([a], predictions, 0.03, ("BRA", "TRImed", "TRIlat"))
    assert scores["TRIlat"]["r"] == pytest.approx(1.0) and scores["TRIlat"]["rmse"] == pytest.approx(0.01)
    only = training.score([a], predictions, 0.03, ("BRA", "TRImed", "TRIlat"), muscles=("TRIlat",))
    assert set(only["median_trial"]) == {"TRIlat"} and only["TRIlat"] == scores["TRIlat"]


def test_the_nonnegative_map_recovers_a_known_r_squared(rng):
    n = 20000
    inputs = rng.uniform(0, 1, size=(n, 4))
    clean = inputs @ np.array([0.5, 0.0, 0.2, 0.3]) + 0.05
    noise = 0.05
    target = clean + rng.normal(scale=noise, size=n)
    expected = 1 - noise ** 2 / target.var()  # the noise is all the map cannot explain
    assert scoring.nonnegative_map_r2(inputs, target) == pytest.approx(expected, abs=0.005)
    fitted = scoring.fit_nonnegative_map(inputs, target)
    np.testing.assert_allclose(fitted.weights, [0.5, 0.0, 0.2, 0.3], atol=0.01)
    # A target that falls as its only input rises: the best non-negative map is a constant.
    falling = 1 - inputs[:, 0]
    assert scoring.nonnegative_map_r2(inputs[:, :1], falling) == pytest.approx(0.0, abs=1e-9)
    assert np.linalg.lstsq(np.column_stack([inputs[:, :1], np.ones(n)]), falling, rcond=None)[0][0] < -0.99


def test_the_linear_ceiling_is_perfect_when_the_truth_is_a_nonnegative_map_of_the_surface(rng):
    a, b = _arrays("a", 0.0, rng), _arrays("b", 2.0, rng)
    for x in (a, b):
        x.trial.emg[:] = rng.uniform(0, 1, size=x.trial.emg.shape)
        x.trial.truth["BRA"][:] = x.trial.emg @ [0.3, 0.2, 0.0, 0.0] + 0.02
        x.trial.truth["TRImed"][:] = x.trial.emg @ [0.0, 0.0, 0.1, 0.4] + 0.01
    estimate = scoring.linear_ceiling([a.trial, b.trial], 0.0, ("BIClong", "BICshort", "TRIlong", "TRIlat"))
    scores = scoring.score_trials(scoring.scored_trials([a.trial, b.trial], {n: {"hidden": e} for n, e in estimate.items()}, 0.0))
    assert scores["BRA"]["r"] == pytest.approx(1.0) and scores["TRImed"]["r"] == pytest.approx(1.0)


def test_mismatched_shapes_are_named():
    time = np.arange(100) / RATE
    with pytest.raises(ValueError, match="must both be"):
        scoring.score_trials([scoring.ScoredTrial("x", time, 0.0, "hanging", np.zeros((100, 2)), np.zeros((99, 2)))])


def test_torque_alone_is_scored_when_no_muscle_is(rng):
    a = _arrays("a", 0.0, rng)
    predictions = _noisy_predictions([a], 0.0, rng)
    scores = training.score([a], predictions, 0.0, muscles=())
    kept = slice(TRIM, 300 - TRIM)
    expected = np.sqrt(np.mean((predictions["a"]["torque"][kept] - a.torque[kept]) ** 2))
    assert scores["torque"]["rmse_Nm"] == pytest.approx(expected) and scores["median_trial"] == {}


def test_within_and_across_subject_r2_of_the_map_match_closed_forms(rng):
    x_a, x_b = rng.uniform(0, 1, (500, 4)), rng.uniform(0, 1, (500, 4))
    w_a, w_b = np.array([0.5, 0.1, 0.0, 0.2]), np.array([0.1, 0.6, 0.3, 0.0])
    data = {"A": (x_a, np.column_stack([x_a @ w_a, x_a @ w_b])), "B": (x_b, np.column_stack([x_b @ w_b, x_b @ w_a]))}
    within, across = scoring.map_r2(data, ("BRA", "TRImed"))
    assert within["A"]["BRA"] == pytest.approx(1.0) and within["B"]["TRImed"] == pytest.approx(1.0)
    # A's BRA map (w_a) applied to B, whose BRA is x_b @ w_b: R^2 from its definition.
    truth, guess = x_b @ w_b, x_b @ w_a
    expected = 1 - np.sum((truth - guess) ** 2) / np.sum((truth - truth.mean()) ** 2)
    assert across["BRA"][0] == pytest.approx(expected, abs=1e-6) and len(across["BRA"]) == 2


def test_each_member_is_scored_on_its_own_estimate(rng):
    """The seed spread: member 0 follows the truth, member 1 follows it upside down; each
    member's median per-trial r is SciPy's on its own estimate, not the ensemble's."""
    delay = 0.03
    arrays = [_arrays("a", 0.0, rng), _arrays("b", 2.0, rng)]
    clean = _noisy_predictions(arrays, delay, rng, scale=0.01)
    ensemble = {}
    for a in arrays:
        good = clean[a.trial.name]["hidden"]
        flipped = 1.0 - good
        ensemble[a.trial.name] = {"hidden": (good + flipped) / 2, "member_hidden": np.stack([good, flipped]),
                                  "torque": a.torque, "member_torque": np.stack([a.torque, a.torque + 1.0])}
    blocks, per_muscle = training.member_scores(arrays, ensemble, delay, members=2)
    kept = slice(TRIM, 300 - TRIM)
    for j, muscle in enumerate(("BRA", "TRImed")):
        expected = [np.median([stats.pearsonr(_shifted(a, muscle, delay)[kept],
                                              ensemble[a.trial.name]["member_hidden"][k][kept, j])[0] for a in arrays])
                    for k in range(2)]
        assert per_muscle[muscle]["median_trial_r"] == pytest.approx(expected)
        assert expected[0] > 0.9 and expected[1] < -0.9
        assert per_muscle[muscle]["r"] == [b[muscle]["r"] for b in blocks]
    assert blocks[0]["torque"]["rmse_Nm"] == pytest.approx(0.0, abs=1e-12)
    assert blocks[1]["torque"]["rmse_Nm"] == pytest.approx(1.0)


def test_the_cohort_diagnosis_reads_each_subjects_delay_and_recovers_a_known_r_squared(rng, tmp_path):
    """:func:`training.cohort_map_r2`, the one function behind every variant's within-subject R²:
    subject A's BRA is an exact non-negative map of its envelopes read at A's own delay (R² 1);
    TRImed adds noise of known variance (R² = 1 - noise variance / variance); subject B's BRA
    falls as its only driving envelope rises (the best non-negative map is a constant, R² 0)."""
    import json

    n, noise = 4000, 0.05
    time = np.arange(n) / RATE
    trials, variance = {}, {}
    for subject, delay in (("A", 0.03), ("B", 0.05)):
        (tmp_path / subject).mkdir()
        (tmp_path / subject / "subject.json").write_text(json.dumps({"electromechanical_delay_s": delay}))
        emg = rng.uniform(0, 1, size=(n, 4))
        # Truth in EMG time is truth(t + delay): store it shifted back by the subject's delay.
        bra = emg @ [0.3, 0.2, 0.0, 0.0] + 0.02 if subject == "A" else 1 - emg[:, 0]
        trimed = emg @ [0.0, 0.0, 0.1, 0.4] + rng.normal(scale=noise, size=n)
        variance[subject] = trimed.var()
        steps = int(round(delay * RATE))
        truth = {m: np.concatenate([np.full(steps, v[0]), v[:-steps]]) for m, v in (("BRA", bra), ("TRImed", trimed))}
        trials[subject] = [Trial(name="t", subject=subject, time=time, elbow_angle=np.ones(n), torque=np.zeros(n),
                                 emg=emg, emg_channels=("BIClong", "BICshort", "TRIlong", "TRIlat"), hand_load=0.0,
                                 shoulder_angle=0.0, truth=truth)]
    within = training.cohort_map_r2(tmp_path, trials)
    assert set(within) == {"A", "B"}
    assert within["A"]["BRA"] == pytest.approx(1.0, abs=1e-3)  # edge samples held at the first value aside
    expected = 1 - noise ** 2 / variance["A"]
    assert within["A"]["TRImed"] == pytest.approx(expected, abs=0.02)
    assert within["B"]["BRA"] == pytest.approx(0.0, abs=0.01)
