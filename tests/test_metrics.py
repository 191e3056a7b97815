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

    from nmm_core import results

    path = results.write_results(tmp_path / "S01" / "mse.json", "mse", "S01",
                                  {"BRA": {"r": float("nan"), "rmse": np.float32(0.5), "constant": np.bool_(True)},
                                   "predictions": {"t1": np.zeros(3)}}, {"n": np.int64(3)})
    data = json.loads(path.read_text())
    assert data == {"subject": "S01", "method": "mse", "BRA": {"r": None, "rmse": 0.5, "constant": True}, "n": 3}
