"""Stand-ins written in a user's layout read back as the trials they came from."""

import numpy as np
import pytest

from nmm_core import own_data, stand_ins
from nmm_core.trials import Trial

SURFACE = ("BIClong", "BICshort", "TRIlong", "TRIlat")


def _trial(name, load, rng, n=250):
    time = np.arange(n) / 100.0
    return Trial(name=name, subject="S99", time=time, elbow_angle=1.1 + 0.6 * np.sin(2 * np.pi * 0.5 * time),
                 torque=3.0 * np.cos(2 * np.pi * 0.5 * time), emg=rng.uniform(0.01, 0.5, size=(n, 4)),
                 emg_channels=SURFACE, hand_load=load, shoulder_angle=0.0)


def test_an_own_data_stand_in_converts_back_to_its_trials(rng, tmp_path):
    source = [_trial("slow", 0.0, rng), _trial("fast", 2.0, rng)]
    folder = stand_ins.own_data_folder(source, tmp_path / "mine")
    subject, read = own_data.read_trials(folder)
    assert subject.name == "P01" and [t.name for t in read] == ["slow", "fast"]
    for original, back in zip(source, read):
        np.testing.assert_allclose(back.elbow_angle, original.elbow_angle, atol=1e-9)  # written in degrees
        np.testing.assert_allclose(back.torque, original.torque, atol=1e-9)
        for muscle in SURFACE:
            np.testing.assert_allclose(back.channel(muscle), original.channel(muscle), atol=1e-9)
        assert back.hand_load == original.hand_load
    with pytest.raises(FileExistsError):
        stand_ins.own_data_folder(source, folder)  # never over what is there


def test_an_unknown_data_set_is_named():
    with pytest.raises(ValueError, match="Unknown data set 'other'"):
        stand_ins.public_layout("other", "P01", "/nonexistent", quick=True)
