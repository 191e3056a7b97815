import numpy as np
import pytest
from scipy import stats

from nmm_core import metrics


def test_against_scipy_and_closed_forms(rng):
    truth = rng.normal(size=200)
    prediction = truth + rng.normal(scale=0.3, size=200)
    assert metrics.pearson_r(truth, prediction) == pytest.approx(stats.pearsonr(truth, prediction)[0])
    assert metrics.rmse(truth, truth + 2.0) == pytest.approx(2.0)
    assert metrics.nrmse([0.0, 4.0], [1.0, 5.0]) == pytest.approx(0.25)
    assert metrics.r_squared(truth, truth) == 1.0
    assert metrics.r_squared(truth, np.full_like(truth, truth.mean())) == pytest.approx(0.0)
    assert np.isnan(metrics.pearson_r(truth, np.zeros_like(truth)))


def test_bad_inputs():
    with pytest.raises(ValueError, match="differ in size"):
        metrics.rmse([1, 2, 3], [1, 2])
    with pytest.raises(ValueError, match="finite"):
        metrics.rmse([1, np.nan], [1, 2])
    with pytest.raises(ValueError, match="constant"):
        metrics.nrmse([1, 1], [1, 2])


def test_results_file_is_strict_json_with_null_for_undefined_scores(tmp_path):
    import json

    from nmm_core import training

    path = training.write_results(tmp_path / "S01" / "mse.json", "mse", "S01",
                                  {"BRA": {"r": float("nan"), "rmse": np.float32(0.5)},
                                   "predictions": {"t1": np.zeros(3)}}, {"n": np.int64(3)})
    data = json.loads(path.read_text())
    assert data == {"subject": "S01", "method": "mse", "BRA": {"r": None, "rmse": 0.5}, "n": 3}


def _arrays(name, load, rng, n=300):
    """A trial as the scorer sees it: truth excitations, reference torque (no model needed)."""
    import dataclasses

    from nmm_core import training
    from nmm_core.trials import Trial

    time = np.arange(n) / 100
    truth = {"BRA": 0.2 + 0.1 * np.sin(2 * np.pi * 0.5 * time + rng.uniform()),
             "TRImed": 0.1 + 0.05 * np.cos(2 * np.pi * 0.4 * time)}
    trial = Trial(name=name, subject="S99", time=time, elbow_angle=np.ones(n), torque=5 * np.sin(time + load),
                  emg=np.zeros((n, 4)), emg_channels=("BIClong", "BICshort", "TRIlong", "TRIlat"),
                  hand_load=load, shoulder_angle=0.0, truth=truth)
    empty = np.zeros((n, 6))
    fields = {f.name: None for f in dataclasses.fields(training.TrialArrays)}
    fields.update(trial=trial, features=np.zeros((n, 8)), surface=np.zeros((n, 4)), length=empty,
                  speed=empty, moment_arm=empty, torque=trial.torque)
    return training.TrialArrays(**fields)


def test_scores_pool_per_load_and_per_trial_like_scipy(rng, tmp_path):
    from nmm_core import training

    delay = 0.03
    arrays = [_arrays("a", 0.0, rng), _arrays("b", 0.0, rng), _arrays("c", 2.0, rng)]
    predictions = {}
    for a in arrays:
        truth = np.column_stack([np.interp(a.trial.time + delay, a.trial.time, a.trial.truth[m])
                                 for m in ("BRA", "TRImed")])
        predictions[a.trial.name] = {"deep": truth + rng.normal(scale=0.02, size=truth.shape),
                                     "torque": a.torque + rng.normal(scale=0.1, size=len(a.torque))}
    scores = training.score(arrays, predictions, delay)
    assert set(scores["per_load"]) == {"0", "2"} and set(scores["per_trial"]) == {"a", "b", "c"}

    def shifted(names, j):
        return np.concatenate([np.interp(a.trial.time + delay, a.trial.time, a.trial.truth[("BRA", "TRImed")[j]])
                               for a in arrays if a.trial.name in names])

    def predicted(names, j):
        return np.concatenate([predictions[n]["deep"][:, j] for n in names])

    for names, result in ((["a", "b", "c"], scores), (["a", "b"], scores["per_load"]["0"]),
                          (["c"], scores["per_trial"]["c"])):
        for j, muscle in enumerate(("BRA", "TRImed")):
            assert result[muscle]["r"] == pytest.approx(stats.pearsonr(shifted(names, j), predicted(names, j))[0])
        reference = np.concatenate([a.torque for a in arrays if a.trial.name in names])
        torque = np.concatenate([predictions[n]["torque"] for n in names])
        assert result["torque"]["rmse_Nm"] == pytest.approx(np.sqrt(np.mean((torque - reference) ** 2)))
    assert scores["per_trial"]["c"]["hand_load_kg"] == 2.0

    path = training.save_predictions(tmp_path / "p.npz", arrays, predictions, delay)
    loaded = training.load_predictions(path)
    assert set(loaded) == {"a", "b", "c"}
    np.testing.assert_array_equal(loaded["b"]["deep"], predictions["b"]["deep"])
    np.testing.assert_allclose(loaded["c"]["deep_truth"][:, 0], shifted(["c"], 0))
    assert float(loaded["c"]["hand_load_kg"]) == 2.0


def test_a_hidden_surface_channel_is_scored_against_its_recording(rng):
    from nmm_core import training

    a = _arrays("a", 0.0, rng)
    a.trial.emg[:] = np.linspace(0.1, 0.5, a.trial.emg.size).reshape(a.trial.emg.shape)
    truth = training.true_deep_emg(a.trial, 0.03, ("BRA", "TRImed", "TRIlat"))
    np.testing.assert_array_equal(truth[:, 2], a.trial.channel("TRIlat"))  # recorded EMG: no delay shift
    np.testing.assert_allclose(truth[:, 0], np.interp(a.trial.time + 0.03, a.trial.time, a.trial.truth["BRA"]))
    predictions = {"a": {"deep": truth + 0.01, "torque": a.torque}}
    scores = training.score([a], predictions, 0.03, ("BRA", "TRImed", "TRIlat"))
    assert scores["TRIlat"]["r"] == pytest.approx(1.0) and scores["TRIlat"]["rmse"] == pytest.approx(0.01)
