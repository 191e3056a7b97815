"""Shared fixtures. Tests never touch the network; OpenSim runs live where marked.

Every test reads and writes data under one session temporary folder: ``NMM_DATA_DIR`` and
``NMM_RESULTS_DIR`` point there (subprocesses inherit them), so a test run starts from an empty
data folder and leaves nothing in the user's cache (``~/.cache/nmm``) or in ``results/``.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest


@pytest.fixture(scope="session", autouse=True)
def session_data_folders(tmp_path_factory):
    """``{"NMM_DATA_DIR": path, "NMM_RESULTS_DIR": path}``, both empty, set for the session."""
    root = tmp_path_factory.mktemp("nmm-session")
    folders = {"NMM_DATA_DIR": root / "data", "NMM_RESULTS_DIR": root / "results"}
    with pytest.MonkeyPatch.context() as patch:
        for variable, folder in folders.items():
            patch.setenv(variable, str(folder))
        yield folders


@pytest.fixture
def rng():
    return np.random.default_rng(12345)
