"""Both methods on one subject's prepared trials: the NMM trained, the synergy extrapolation
(SynX) fitted, and their estimates of the hidden muscles on the test trials.

The virtual-cohort chapters run each method in its own chapter, with its own studies; this is
the short path for recordings (the real-data chapters, your own data), where both methods run
side by side with fixed settings.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from . import synergy, training
from .config import DEEP_MUSCLES, Subject


def fit_both(train: Sequence, test: Sequence, subject: Subject, hidden: Sequence[str] = DEEP_MUSCLES,
             window: int = 64, epochs: int = 60, synx_iterations: int = 100, n_synergies: int = 3,
             seed: int = 0, jit_compile: bool | str = "auto") -> dict:
    """Train the NMM and fit SynX (NMF, strengths and delay calibrated) on ``train``.

    Parameters
    ----------
    train, test : sequence of :class:`~nmm_core.training.TrialArrays`
        Prepared with the same ``hidden`` muscles (:func:`nmm_core.training.prepare`).
    subject : Subject
        What the learner knows of the subject (its scaled model).
    jit_compile : bool or "auto"
        XLA for the NMM's training step (:func:`nmm_core.training.build_model`): worth its
        compilation (a dozen seconds) for long training, e.g. the full mode's 60 epochs.

    Returns
    -------
    dict
        ``{"NMM": (estimates, seconds), "MSE": (estimates, seconds)}``, estimates being
        ``{trial name: {"hidden": (T, H), "torque": (T,)}}`` on ``test``, in ``hidden`` order.
    """
    model = training.build_model(subject, window, hidden=hidden, seed=seed, jit_compile=jit_compile)
    _, nmm_seconds = training.train(model, train, window, epochs, seed=seed)
    nmm = {a.trial.name: training.predict_trial(model, a, window) for a in test}
    nominal = synergy.nominal_parameters(subject)
    measured = synergy.measured_columns(hidden)
    found = synergy.extract_synergies(np.vstack([a.surface[:, measured] for a in train]),
                                      min(n_synergies, len(measured)), "nmf", seed=seed)
    fit = synergy.fit_extrapolation(train, found, nominal, calibrate=True, hidden=hidden, max_iter=synx_iterations)
    return {"NMM": (nmm, nmm_seconds), "MSE": (fit.predict(test, nominal), fit.fit_seconds)}
