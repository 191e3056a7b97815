"""Tests of nmm_core.signals: each filter against SciPy and its frequency response, closed-form
envelopes, end-to-end recovery of a known excitation, seeding and input validation."""

import subprocess
import sys

import numpy as np
import pytest
from scipy import signal

from nmm_core import signals

FS = 2000.0  # raw rate, Hz
RATE = 100.0  # excitation (kinematics) rate, Hz


def _amplitude_at(x, t, frequency):
    """Amplitude of the ``frequency`` component of each column by least squares on sin/cos."""
    basis = np.column_stack([np.sin(2 * np.pi * frequency * t), np.cos(2 * np.pi * frequency * t)])
    coefficients, *_ = np.linalg.lstsq(basis, x, rcond=None)
    return np.hypot(coefficients[0], coefficients[1])


def _central(n, fraction=0.2):
    """Slice dropping ``fraction`` of the samples at each end (filter edge effects)."""
    k = int(n * fraction)
    return slice(k, n - k)


# --------------------------------------------------------------------------------------------
# Filters equal SciPy with the documented design.
# --------------------------------------------------------------------------------------------
def test_bandpass_equals_scipy_sosfiltfilt(rng):
    x = rng.standard_normal((3000, 3))
    reference = signal.sosfiltfilt(
        signal.butter(4, (20.0, 450.0), btype="bandpass", fs=FS, output="sos"), x, axis=0
    )
    np.testing.assert_allclose(signals.bandpass(x, FS), reference, rtol=0, atol=1e-12)
    reference_custom = signal.sosfiltfilt(
        signal.butter(2, (10.0, 300.0), btype="bandpass", fs=FS, output="sos"), x, axis=0
    )
    np.testing.assert_allclose(
        signals.bandpass(x, FS, band=(10.0, 300.0), order=2), reference_custom, atol=1e-12
    )


def test_notch_equals_scipy_filtfilt(rng):
    x = rng.standard_normal((3000, 2))
    b, a = signal.iirnotch(50.0, 30.0, fs=FS)
    np.testing.assert_allclose(
        signals.notch_filter(x, FS), signal.filtfilt(b, a, x, axis=0), atol=1e-12
    )


def test_envelope_equals_scipy_lowpass(rng):
    x = np.abs(rng.standard_normal((3000, 2)))
    sos = signal.butter(4, 6.0, btype="lowpass", fs=FS, output="sos")
    np.testing.assert_allclose(
        signals.envelope(x, FS), signal.sosfiltfilt(sos, x, axis=0), atol=1e-12
    )


def test_rectify_is_absolute_value(rng):
    x = rng.standard_normal((100, 2))
    np.testing.assert_array_equal(signals.rectify(x), np.abs(x))


# --------------------------------------------------------------------------------------------
# Frequency responses.
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("frequency", [60.0, 100.0, 250.0])
def test_bandpass_passes_in_band_sine(frequency):
    t = np.arange(int(2 * FS)) / FS
    x = np.sin(2 * np.pi * frequency * t)[:, None]
    y = signals.bandpass(x, FS)
    inner = _central(len(t))
    amplitude = _amplitude_at(y[inner], t[inner], frequency)[0]
    assert amplitude == pytest.approx(1.0, abs=0.02)


@pytest.mark.parametrize("frequency", [3.0, 800.0])
def test_bandpass_rejects_out_of_band_sine(frequency):
    t = np.arange(int(4 * FS)) / FS
    x = np.sin(2 * np.pi * frequency * t)[:, None]
    y = signals.bandpass(x, FS)
    inner = _central(len(t))
    assert _amplitude_at(y[inner], t[inner], frequency)[0] < 0.05


def test_notch_removes_mains_from_noise(rng):
    t = np.arange(int(4 * FS)) / FS
    noise = rng.standard_normal((len(t), 1))
    mains = np.sin(2 * np.pi * 50.0 * t + 0.3)[:, None]
    y = signals.notch_filter(noise + mains, FS)
    inner = _central(len(t))
    assert _amplitude_at(y[inner], t[inner], 50.0)[0] < 0.02
    # A component away from the notch passes untouched (within 2 %).
    tone = np.sin(2 * np.pi * 120.0 * t)[:, None]
    kept = signals.notch_filter(tone, FS)
    assert _amplitude_at(kept[inner], t[inner], 120.0)[0] == pytest.approx(1.0, abs=0.02)


# --------------------------------------------------------------------------------------------
# Closed-form envelopes.
# --------------------------------------------------------------------------------------------
def test_envelope_of_modulated_sine_is_two_a_over_pi():
    t = np.arange(int(10 * FS)) / FS
    modulation = 1.0 + 0.5 * np.sin(2 * np.pi * 0.5 * t)
    x = (modulation * np.sin(2 * np.pi * 100.0 * t))[:, None]
    env = signals.envelope(signals.rectify(x), FS)[:, 0]
    inner = _central(len(t), 0.05)
    expected = 2.0 * modulation / np.pi
    np.testing.assert_allclose(env[inner], expected[inner], rtol=0.02)


def test_envelope_of_modulated_gaussian_noise_is_sigma_sqrt_two_over_pi(rng):
    t = np.arange(int(20 * FS)) / FS
    sigma = 1.0 + 0.5 * np.sin(2 * np.pi * 0.25 * t)
    x = (sigma * rng.standard_normal(len(t)))[:, None]
    env = signals.envelope(signals.rectify(x), FS, cutoff=2.0)[:, 0]
    inner = _central(len(t), 0.05)
    expected = sigma * np.sqrt(2.0 / np.pi)
    # White noise rectified then low-passed at 2 Hz: ~2 % fluctuation, so a 10 % worst case and
    # a mean within 1 %.
    assert np.max(np.abs(env[inner] / expected[inner] - 1)) < 0.1
    assert np.mean(env[inner] / expected[inner]) == pytest.approx(1.0, abs=0.01)


# --------------------------------------------------------------------------------------------
# MVC, normalisation, resampling.
# --------------------------------------------------------------------------------------------
def test_mvc_peak_is_max_of_moving_average(rng):
    x = np.abs(rng.standard_normal((500, 3))) + np.linspace(0, 2, 500)[:, None]
    n_window = 50  # 0.25 s at 200 Hz
    reference = np.array(
        [max(x[i : i + n_window, c].mean() for i in range(500 - n_window + 1)) for c in range(3)]
    )
    np.testing.assert_allclose(signals.mvc_peak(x, 200.0, window_s=0.25), reference, rtol=1e-12)


def test_mvc_peak_ignores_a_brief_spike():
    x = np.ones((1000, 1))
    x[500] = 100.0  # one-sample artefact
    assert signals.mvc_peak(x, 1000.0, window_s=0.5)[0] == pytest.approx(1.0 + 99.0 / 500)


def test_normalise_divides_per_channel():
    env = np.array([[1.0, 4.0], [2.0, 8.0]])
    np.testing.assert_allclose(signals.normalise(env, [2.0, 4.0]), [[0.5, 1.0], [1.0, 2.0]])


def test_resample_integral_ratio_equals_resample_poly(rng):
    env = signals.envelope(np.abs(rng.standard_normal((2001, 2))), FS)
    out, time = signals.resample(env, FS, target_rate=100.0)
    reference = signal.resample_poly(env, 1, 20, axis=0, padtype="line")
    np.testing.assert_allclose(out, reference, atol=1e-12)
    np.testing.assert_allclose(time, np.arange(101) / 100.0)
    # The decimated samples sit on the original ones at the same time stamps.
    np.testing.assert_allclose(out[5:-5], env[::20][5:-5], rtol=0.01)


def test_resample_onto_time_stamps_interpolates(rng):
    env = rng.standard_normal((1001, 2))
    target = np.array([0.0, 0.0123, 0.25, 0.5])
    out, time = signals.resample(env, FS, target_time=target)
    source = np.arange(1001) / FS
    for c in range(2):
        np.testing.assert_allclose(out[:, c], np.interp(target, source, env[:, c]))
    np.testing.assert_array_equal(time, target)


# --------------------------------------------------------------------------------------------
# Simulation and end-to-end recovery.
# --------------------------------------------------------------------------------------------
def _known_excitation(duration=10.0):
    t = np.arange(int(duration * RATE)) / RATE
    slow_sine = 0.5 + 0.45 * np.sin(2 * np.pi * 0.25 * t)
    step = np.where(t >= duration / 2, 0.8, 0.1)
    return np.column_stack([slow_sine, step]), t


def _mvc_reference(n_channels, crosstalk=None):
    full = np.ones((301, n_channels))
    raw, _ = signals.simulate_raw_emg(full, RATE, crosstalk=crosstalk, seed=100)
    return signals.mvc_peak(signals.process_emg(raw, FS)[0], FS)


def test_simulated_raw_shape_time_and_amplitude():
    excitation = np.ones((201, 2))
    raw, time = signals.simulate_raw_emg(
        excitation, RATE, noise_rms=0.0, powerline_amplitude=0.0, peak_amplitude=1e-3
    )
    assert raw.shape == (4001, 2)
    np.testing.assert_allclose(time, np.arange(4001) / FS)
    # Full excitation without noise: RMS equals peak_amplitude.
    np.testing.assert_allclose(np.sqrt(np.mean(raw**2, axis=0)), 1e-3, rtol=1e-9)
    # The spectrum is EMG-like: ~97 % of the model's power lies in 20-450 Hz (Welch leakage
    # near 20 Hz lowers the estimate a little), with a median frequency near 96 Hz.
    frequency, power = signal.welch(raw[:, 0], fs=FS, nperseg=512)
    in_band = power[(frequency >= 20) & (frequency <= 450)].sum() / power.sum()
    assert in_band > 0.9
    cumulative = np.cumsum(power) / power.sum()
    assert 80.0 < frequency[np.searchsorted(cumulative, 0.5)] < 115.0


def test_zero_excitation_gives_only_baseline_and_mains():
    raw, time = signals.simulate_raw_emg(
        np.zeros((101, 1)), RATE, noise_rms=0.0, powerline_amplitude=2e-5, powerline_frequency=60.0
    )
    assert _amplitude_at(raw, time, 60.0)[0] == pytest.approx(2e-5, rel=1e-9)


def test_end_to_end_recovers_excitation_without_crosstalk():
    excitation, t = _known_excitation()
    raw, _ = signals.simulate_raw_emg(excitation, RATE, seed=1)
    env, time = signals.process_emg(raw, FS, mvc_peak=_mvc_reference(2), target_rate=RATE)
    assert env.shape == excitation.shape
    np.testing.assert_allclose(time, t)
    for channel in range(2):
        r = np.corrcoef(env[:, channel], excitation[:, channel])[0, 1]
        assert r > 0.95, f"channel {channel}: r = {r:.3f}"
        assert abs(np.mean(env[:, channel] - excitation[:, channel])) < 0.08
    # Same result through the kinematics time stamps instead of a rate.
    env_t, _ = signals.process_emg(raw, FS, mvc_peak=_mvc_reference(2), target_time=t)
    np.testing.assert_allclose(env_t, env, atol=0.02)


def test_crosstalk_makes_a_channel_carry_its_neighbour():
    excitation, _ = _known_excitation()
    mixing = np.array([[1.0, 0.7], [0.0, 1.0]])  # channel 0 also sees source 1
    raw_clean, _ = signals.simulate_raw_emg(excitation, RATE, seed=3)
    raw_mixed, _ = signals.simulate_raw_emg(excitation, RATE, crosstalk=mixing, seed=3)
    env_clean, _ = signals.process_emg(raw_clean, FS, target_rate=RATE)
    env_mixed, _ = signals.process_emg(raw_mixed, FS, target_rate=RATE)
    r_clean = np.corrcoef(env_clean[:, 0], excitation[:, 1])[0, 1]
    r_mixed = np.corrcoef(env_mixed[:, 0], excitation[:, 1])[0, 1]
    assert r_mixed > r_clean + 0.2, (r_clean, r_mixed)
    # Channel 1 has no crosstalk and is unchanged by it.
    np.testing.assert_allclose(env_mixed[:, 1], env_clean[:, 1])


def test_more_channels_than_sources():
    excitation, _ = _known_excitation(2.0)
    raw, _ = signals.simulate_raw_emg(excitation, RATE, crosstalk=np.ones((3, 2)))
    assert raw.shape[1] == 3


def test_seed_is_deterministic_and_different_seeds_differ():
    excitation, _ = _known_excitation(2.0)
    a, _ = signals.simulate_raw_emg(excitation, RATE, seed=7)
    b, _ = signals.simulate_raw_emg(excitation, RATE, seed=7)
    c, _ = signals.simulate_raw_emg(excitation, RATE, seed=8)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


# --------------------------------------------------------------------------------------------
# Bad input.
# --------------------------------------------------------------------------------------------
def test_nan_in_raw_names_channel_and_sample():
    raw = np.zeros((1000, 3))
    raw[417, 2] = np.nan
    with pytest.raises(ValueError, match=r"channel 2, sample 417"):
        signals.process_emg(raw, FS)


def test_inf_in_excitation_names_channel_and_sample():
    excitation = np.full((50, 2), 0.5)
    excitation[12, 1] = np.inf
    with pytest.raises(ValueError, match=r"non-finite.*channel 1, sample 12"):
        signals.simulate_raw_emg(excitation, RATE)


@pytest.mark.parametrize("shape", [(1000,), (2, 10, 3)])
def test_wrong_shape_raises(shape):
    with pytest.raises(ValueError, match=r"shape \(T, n_channels\)"):
        signals.process_emg(np.zeros(shape), FS)
    with pytest.raises(ValueError, match=r"shape \(T, n_channels\)"):
        signals.simulate_raw_emg(np.zeros(shape), RATE)


def test_crosstalk_of_wrong_shape_raises():
    with pytest.raises(ValueError, match=r"crosstalk must have shape"):
        signals.simulate_raw_emg(np.zeros((50, 2)), RATE, crosstalk=np.eye(3))


def test_band_above_nyquist_raises_and_says_what_to_do():
    raw = np.zeros((2000, 1))
    with pytest.raises(ValueError, match=r"band upper edge 450 Hz must be below the Nyquist.*"
                                         r"400 Hz.*sample at more than 900 Hz"):
        signals.process_emg(raw, 800.0)
    with pytest.raises(ValueError, match=r"0 < low < high"):
        signals.bandpass(raw, FS, band=(300.0, 100.0))


def test_too_short_signal_raises():
    with pytest.raises(ValueError, match=r"needs more than \d+ samples"):
        signals.bandpass(np.zeros((10, 1)), FS)


@pytest.mark.parametrize("bad", [0.0, -1e-3, np.nan])
def test_nonpositive_mvc_raises(bad):
    raw, _ = signals.simulate_raw_emg(np.full((101, 2), 0.5), RATE)
    with pytest.raises(ValueError, match=r"mvc_peak must be positive.*channel 1"):
        signals.process_emg(raw, FS, mvc_peak=[1e-3, bad])


def test_silent_mvc_trial_raises():
    with pytest.raises(ValueError, match=r"mvc_peak must be positive"):
        signals.mvc_peak(np.zeros((1000, 1)), FS)


def test_mvc_window_longer_than_trial_raises():
    with pytest.raises(ValueError, match=r"longer than the MVC trial"):
        signals.mvc_peak(np.ones((100, 1)), FS, window_s=0.5)


def test_mvc_of_wrong_length_raises():
    with pytest.raises(ValueError, match=r"one value per channel"):
        signals.normalise(np.ones((10, 2)), [1.0, 1.0, 1.0])


@pytest.mark.parametrize("value", [-0.1, 1.2])
def test_excitation_outside_unit_interval_raises(value):
    excitation = np.full((50, 2), 0.5)
    excitation[30, 0] = value
    with pytest.raises(ValueError, match=r"\[0, 1\].*channel 0, sample 30"):
        signals.simulate_raw_emg(excitation, RATE)


def test_bad_rates_and_seed_raise():
    excitation = np.full((50, 1), 0.5)
    with pytest.raises(ValueError, match=r"excitation_rate must be a positive"):
        signals.simulate_raw_emg(excitation, 0.0)
    with pytest.raises(ValueError, match=r"raw_rate 50 Hz must be at least excitation_rate"):
        signals.simulate_raw_emg(excitation, RATE, raw_rate=50.0)
    with pytest.raises(ValueError, match=r"powerline_frequency 60 Hz must be below the Nyquist"):
        signals.simulate_raw_emg(excitation, RATE, raw_rate=100.0, powerline_frequency=60.0)
    with pytest.raises(TypeError, match=r"seed must be an int"):
        signals.simulate_raw_emg(excitation, RATE, seed=1.5)


def test_resample_outside_span_raises():
    with pytest.raises(ValueError, match=r"extrapolation is not done"):
        signals.resample(np.ones((101, 1)), FS, target_time=[0.0, 1.0])


# --------------------------------------------------------------------------------------------
# Import hygiene.
# --------------------------------------------------------------------------------------------
def test_import_does_not_pull_tensorflow_or_opensim():
    code = (
        "import sys, nmm_core.signals; "
        "bad = [m for m in ('tensorflow', 'keras', 'opensim') if m in sys.modules]; "
        "assert not bad, bad"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
