"""Shared fixtures. Tests never touch the network; OpenSim runs live where marked."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest


@pytest.fixture
def rng():
    return np.random.default_rng(12345)
