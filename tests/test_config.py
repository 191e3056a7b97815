import math

import pytest

from nmm_core import config
from nmm_core.config import Subject


def test_nominal_subject_reproduces_arm26_table():
    for name, nominal in config.ARM26_MUSCLES.items():
        assert config.NOMINAL_SUBJECT.muscle(name) == nominal


def test_scales_apply_to_derived_values():
    s = Subject("s01", segment_length_scale=1.1, forearm_mass_scale=1.2,
                max_isometric_force_scale={"BRA": 1.3}, optimal_fiber_length_scale={"BRA": 0.9})
    bra = s.muscle("BRA")
    assert bra.max_isometric_force == pytest.approx(987.26 * 1.3)
    assert bra.optimal_fiber_length == pytest.approx(0.0858 * 1.1 * 0.9)
    assert bra.tendon_slack_length == pytest.approx(0.0535 * 1.1)
    assert s.muscle("BIClong").max_isometric_force == pytest.approx(624.30)
    assert s.forearm_mass == pytest.approx(1.534315 * 1.2)
    assert s.forearm_inertia_zz == pytest.approx(0.020062 * 1.2 * 1.1**2)


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"forearm_mass_scale": -1.0}, "forearm_mass_scale"),
        ({"forearm_mass_scale": math.nan}, "forearm_mass_scale"),
        ({"segment_length_scale": 3.0}, "segment_length_scale"),
        ({"max_isometric_force_scale": {"BRA": 0.0}}, "max_isometric_force_scale['BRA']"),
        ({"max_isometric_force_scale": {"DELT": 1.0}}, "DELT"),
        ({"name": "a b"}, "name"),
    ],
)
def test_bad_subject_fields_name_the_field(kwargs, field):
    with pytest.raises(ValueError, match=field.replace("[", r"\[").replace("]", r"\]")):
        Subject(**kwargs)


def test_subject_is_immutable():
    with pytest.raises(AttributeError):
        config.NOMINAL_SUBJECT.forearm_mass_scale = 2.0


def test_hidden_muscles_and_the_excitation_order():
    import numpy as np

    from nmm_core.config import MUSCLE_NAMES, SURFACE_MUSCLES, excitation_order, hidden_muscles

    hidden = ("BRA", "TRImed", "BIClong")
    surface = np.array([10.0, 11.0, 12.0, 13.0])  # BIClong, BICshort, TRIlong, TRIlat
    estimates = np.array([20.0, 21.0, 22.0])  # BRA, TRImed, BIClong
    assembled = dict(zip(MUSCLE_NAMES, np.concatenate([surface, estimates])[list(excitation_order(hidden))]))
    assert assembled == {"TRIlong": 12.0, "TRIlat": 13.0, "TRImed": 21.0, "BIClong": 22.0, "BICshort": 11.0,
                         "BRA": 20.0}
    default = dict(zip(MUSCLE_NAMES, np.concatenate([surface, estimates[:2]])[list(excitation_order())]))
    assert default["BIClong"] == 10.0 and default["BRA"] == 20.0 and default["TRImed"] == 21.0
    with pytest.raises(ValueError, match="must include the deep muscles"):
        hidden_muscles(("BRA", "BIClong"))
    with pytest.raises(ValueError, match="distinct names"):
        hidden_muscles(("BRA", "TRImed", "DELT"))
    with pytest.raises(ValueError, match="at least one surface muscle"):
        hidden_muscles(("BRA", "TRImed", *SURFACE_MUSCLES))
