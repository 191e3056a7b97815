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
