"""Scores of the book: RMSE, Pearson r, normalised RMSE and R^2 (NumPy only)."""

from __future__ import annotations

import numpy as np


def _pair(truth, prediction):
    truth = np.asarray(truth, dtype=float).reshape(-1)
    prediction = np.asarray(prediction, dtype=float).reshape(-1)
    if truth.shape != prediction.shape:
        raise ValueError(f"truth and prediction differ in size: {truth.size} vs {prediction.size}.")
    if truth.size < 2:
        raise ValueError("need at least two samples to score.")
    if not (np.all(np.isfinite(truth)) and np.all(np.isfinite(prediction))):
        raise ValueError("truth and prediction must be finite (no NaN or inf).")
    return truth, prediction


def rmse(truth, prediction) -> float:
    """Root-mean-square error, in the units of the inputs."""
    truth, prediction = _pair(truth, prediction)
    return float(np.sqrt(np.mean((prediction - truth) ** 2)))


def pearson_r(truth, prediction) -> float:
    """Pearson correlation coefficient; NaN when either input is constant."""
    truth, prediction = _pair(truth, prediction)
    if np.ptp(truth) == 0 or np.ptp(prediction) == 0:
        return float("nan")
    return float(np.corrcoef(truth, prediction)[0, 1])


def nrmse(truth, prediction) -> float:
    """RMSE divided by the range (max - min) of the truth."""
    truth, prediction = _pair(truth, prediction)
    span = np.ptp(truth)
    if span == 0:
        raise ValueError("the truth is constant: its range is zero, NRMSE is undefined.")
    return rmse(truth, prediction) / float(span)


def r_squared(truth, prediction) -> float:
    """Coefficient of determination 1 - SS_res / SS_tot."""
    truth, prediction = _pair(truth, prediction)
    total = np.sum((truth - truth.mean()) ** 2)
    if total == 0:
        raise ValueError("the truth is constant: R^2 is undefined.")
    return float(1.0 - np.sum((truth - prediction) ** 2) / total)


def torque_scores(truth, prediction) -> dict:
    """``{"rmse_Nm", "nrmse", "r2"}`` of a predicted joint torque."""
    return {"rmse_Nm": rmse(truth, prediction), "nrmse": nrmse(truth, prediction),
            "r2": r_squared(truth, prediction)}


def emg_scores(truth, prediction) -> dict:
    """``{"r", "rmse"}`` of a predicted (normalised) EMG envelope."""
    return {"r": pearson_r(truth, prediction), "rmse": rmse(truth, prediction)}
