"""Surface EMG: simulate raw recordings from excitations, then clean and process them.

The chain mirrors what a user does with a real recording, so simulated and measured EMG go
through exactly the same code::

    raw, t_raw = simulate_raw_emg(excitation, excitation_rate=100.0)     # volts, 2 kHz
    mvc = mvc_peak(process_emg(raw_mvc, 2000.0)[0], 2000.0)               # per channel
    envelope, t = process_emg(raw, 2000.0, mvc_peak=mvc, target_rate=100.0)

:func:`process_emg` is :func:`bandpass` -> :func:`notch_filter` -> :func:`rectify` ->
:func:`envelope` -> :func:`normalise` -> :func:`resample`; each step is public so that it can
be inspected or replaced.

Conventions: time along axis 0 of a ``(T, n_channels)`` array, channels along axis 1;
sampling rates in Hz, times in s measured from the first sample, EMG in V. This module imports
NumPy and SciPy only (never TensorFlow or OpenSim).
"""

from __future__ import annotations

import math
import numbers

import numpy as np
from scipy import interpolate, signal

#: Default raw sampling rate, Hz: common for surface EMG amplifiers, and its Nyquist
#: frequency (1000 Hz) leaves room for the default 20-450 Hz band.
DEFAULT_RAW_RATE = 2000.0
#: Default processing band, Hz (SENIAM-style: 20 Hz removes motion artefact, 450 Hz keeps
#: nearly all surface-EMG power).
DEFAULT_BAND = (20.0, 450.0)
#: Default envelope low-pass cutoff, Hz: a few Hz, the bandwidth of muscle force.
DEFAULT_ENVELOPE_CUTOFF = 6.0
#: Butterworth order of the band-pass and envelope filters (applied forward and backward).
DEFAULT_FILTER_ORDER = 4
#: Quality factor of the mains notch: -3 dB width = frequency / Q (1.7 Hz at 50 Hz).
DEFAULT_NOTCH_QUALITY = 30.0
#: Shape of the simulated EMG power spectrum (see :func:`emg_power_spectrum`), Hz. With these
#: the spectrum peaks at ~65 Hz and has its median at ~96 Hz, typical of surface EMG.
SPECTRUM_LOW_HZ = 60.0
SPECTRUM_HIGH_HZ = 120.0


# --------------------------------------------------------------------------------------------
# Validation helpers.
# --------------------------------------------------------------------------------------------
def _positive_rate(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number in Hz, got {type(value).__name__} {value!r}.")
    value = float(value)
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a positive finite sampling rate in Hz, got {value!r}.")
    return value


def _nonnegative(value, name: str, unit: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number in {unit}, got {type(value).__name__}.")
    value = float(value)
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0 {unit}, got {value!r}.")
    return value


def _as_signal(x, name: str, min_samples: int = 2) -> np.ndarray:
    """Return ``x`` as a finite float ``(T, n_channels)`` array or raise saying what is wrong."""
    try:
        array = np.asarray(x, dtype=float)
    except (TypeError, ValueError) as error:
        raise TypeError(f"{name} must be a numeric array of shape (T, n_channels): {error}")
    if array.ndim != 2:
        raise ValueError(
            f"{name} must have shape (T, n_channels) with time along axis 0, got shape "
            f"{array.shape}; for one channel use x.reshape(-1, 1)."
        )
    if array.shape[1] < 1 or array.shape[0] < min_samples:
        raise ValueError(
            f"{name} has shape {array.shape}: need at least {min_samples} samples and one "
            "channel (T, n_channels)."
        )
    bad = ~np.isfinite(array)
    if bad.any():
        sample, channel = np.argwhere(bad)[0]
        raise ValueError(
            f"{name} contains {int(bad.sum())} non-finite value(s) (NaN or inf); the first is "
            f"{array[sample, channel]!r} at channel {channel}, sample {sample}. Remove or "
            "interpolate gaps before processing."
        )
    return array


def _check_long_enough(x: np.ndarray, padlen: int, step: str) -> None:
    # Zero-phase filtering pads the signal at both ends; SciPy's own error for a too-short
    # signal does not say which step or how many samples are needed.
    if x.shape[0] <= padlen:
        raise ValueError(
            f"{step} needs more than {padlen} samples per channel to pad the zero-phase filter, "
            f"got {x.shape[0]}; record longer or lower the filter order."
        )


def _check_below_nyquist(frequency: float, rate: float, what: str) -> None:
    nyquist = rate / 2.0
    if frequency >= nyquist:
        raise ValueError(
            f"{what} {frequency:g} Hz must be below the Nyquist frequency {nyquist:g} Hz of the "
            f"sampling rate {rate:g} Hz; sample at more than {2 * frequency:g} Hz or lower the "
            f"{what}."
        )


# --------------------------------------------------------------------------------------------
# Simulation.
# --------------------------------------------------------------------------------------------
def emg_power_spectrum(frequency, low: float = SPECTRUM_LOW_HZ, high: float = SPECTRUM_HIGH_HZ):
    """Power spectral density shape of surface EMG (arbitrary scale).

    ``P(f) = high**4 f**2 / ((f**2 + low**2) (f**2 + high**2)**2)``, the classic shaping form
    (Shwedyk et al. 1977): rises as f**2 at low frequency, falls as f**-4 at high frequency.

    Parameters
    ----------
    frequency : array_like
        Frequencies, Hz (>= 0).
    low, high : float
        Corner frequencies, Hz.

    Returns
    -------
    numpy.ndarray
        Same shape as ``frequency``; zero at 0 Hz, so the simulated EMG has no offset.
    """
    f2 = np.asarray(frequency, dtype=float) ** 2
    return high**4 * f2 / ((f2 + low**2) * (f2 + high**2) ** 2)


def _shaped_noise(rng: np.random.Generator, n_samples: int, n_sources: int, rate: float):
    """Gaussian noise with the EMG spectrum, each column scaled to unit RMS."""
    white = rng.standard_normal((n_samples, n_sources))
    frequency = np.fft.rfftfreq(n_samples, d=1.0 / rate)
    # Shaping in the frequency domain gives the exact target spectrum, with no filter transient.
    gain = np.sqrt(emg_power_spectrum(frequency))[:, None]
    shaped = np.fft.irfft(np.fft.rfft(white, axis=0) * gain, n=n_samples, axis=0)
    return shaped / np.sqrt(np.mean(shaped**2, axis=0))


def simulate_raw_emg(
    excitation,
    excitation_rate: float,
    raw_rate: float = DEFAULT_RAW_RATE,
    crosstalk=None,
    noise_rms: float = 5e-6,
    powerline_amplitude: float = 10e-6,
    powerline_frequency: float = 50.0,
    peak_amplitude: float = 1e-3,
    seed: int = 0,
):
    """Synthesise raw surface EMG, as an amplifier records it, from muscle excitations.

    Each source (muscle) is Gaussian noise with a surface-EMG spectrum
    (:func:`emg_power_spectrum`, unit RMS) whose amplitude is modulated by the excitation,
    upsampled smoothly to ``raw_rate``. The electrodes see a mix of the sources (crosstalk),
    plus white baseline noise (electrodes and amplifier) and a mains sinusoid of random phase.

    Parameters
    ----------
    excitation : array_like, shape (T, n_sources)
        Muscle excitations in [0, 1], sampled at ``excitation_rate``.
    excitation_rate : float
        Sampling rate of ``excitation``, Hz (e.g. the kinematics rate, 100 Hz).
    raw_rate : float, default 2000.0
        Sampling rate of the simulated recording, Hz; at least ``excitation_rate`` and above
        twice ``powerline_frequency``.
    crosstalk : array_like, shape (n_channels, n_sources), optional
        Mixing matrix: channel ``i`` records ``sum_j crosstalk[i, j] * source_j``. Default
        identity (no crosstalk, one channel per source).
    noise_rms : float, default 5e-6
        RMS of the white baseline noise, V (5 uV: typical electrode-skin plus amplifier noise).
    powerline_amplitude : float, default 10e-6
        Amplitude of the mains interference, V (10 uV: a well-prepared recording).
    powerline_frequency : float, default 50.0
        Mains frequency, Hz (50 in Europe, 60 in the Americas).
    peak_amplitude : float, default 1e-3
        Amplitude of a source at full excitation, V: the RMS of a source whose excitation is
        1 (1 mV, the order of a surface EMG at maximum voluntary contraction).
    seed : int, default 0
        Seed of the ``numpy.random.Generator``; the same seed gives the same signal.

    Returns
    -------
    raw : numpy.ndarray, shape (T_raw, n_channels)
        Raw EMG, V.
    time : numpy.ndarray, shape (T_raw,)
        Sample times, s, from 0 (the first excitation sample) to the last excitation sample:
        ``T_raw = floor((T - 1) * raw_rate / excitation_rate) + 1``.
    """
    excitation_rate = _positive_rate(excitation_rate, "excitation_rate")
    raw_rate = _positive_rate(raw_rate, "raw_rate")
    excitation = _as_signal(excitation, "excitation")
    low, high = excitation.min(), excitation.max()
    if low < 0 or high > 1:
        sample, channel = np.argwhere((excitation < 0) | (excitation > 1))[0]
        raise ValueError(
            f"excitation must lie in [0, 1], got values in [{low:g}, {high:g}] (first outside "
            f"at channel {channel}, sample {sample}: {excitation[sample, channel]:g}); pass "
            "excitations normalised to full activation, e.g. np.clip(e, 0, 1)."
        )
    if raw_rate < excitation_rate:
        raise ValueError(
            f"raw_rate {raw_rate:g} Hz must be at least excitation_rate {excitation_rate:g} Hz: "
            "raw EMG is sampled faster than the excitations it is simulated from."
        )
    noise_rms = _nonnegative(noise_rms, "noise_rms", "V")
    powerline_amplitude = _nonnegative(powerline_amplitude, "powerline_amplitude", "V")
    peak_amplitude = _nonnegative(peak_amplitude, "peak_amplitude", "V")
    powerline_frequency = _positive_rate(powerline_frequency, "powerline_frequency")
    _check_below_nyquist(powerline_frequency, raw_rate, "powerline_frequency")
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"seed must be an int, got {type(seed).__name__} {seed!r}.")

    n_samples, n_sources = excitation.shape
    if crosstalk is None:
        mixing = np.eye(n_sources)
    else:
        mixing = np.asarray(crosstalk, dtype=float)
        if mixing.ndim != 2 or mixing.shape[1] != n_sources:
            raise ValueError(
                f"crosstalk must have shape (n_channels, n_sources) = (n_channels, {n_sources}) "
                f"to mix the {n_sources} excitation columns, got shape {mixing.shape}."
            )
        if not np.all(np.isfinite(mixing)):
            raise ValueError("crosstalk contains NaN or inf; every mixing weight must be finite.")

    rng = np.random.default_rng(int(seed))
    duration = (n_samples - 1) / excitation_rate
    # The small tolerance keeps the last excitation sample when duration * raw_rate is an
    # integer up to rounding.
    n_raw = int(math.floor(duration * raw_rate + 1e-9)) + 1
    time = np.arange(n_raw) / raw_rate
    # PCHIP is smooth and shape-preserving: the upsampled excitation never overshoots [0, 1],
    # unlike a cubic spline or Fourier resampling at a step.
    upsampled = interpolate.PchipInterpolator(
        np.arange(n_samples) / excitation_rate, excitation, axis=0
    )(time)
    amplitude = peak_amplitude * np.clip(upsampled, 0.0, 1.0)

    sources = amplitude * _shaped_noise(rng, n_raw, n_sources, raw_rate)
    raw = sources @ mixing.T
    n_channels = raw.shape[1]
    raw += noise_rms * rng.standard_normal((n_raw, n_channels))
    phase = rng.uniform(0.0, 2.0 * np.pi, size=n_channels)
    raw += powerline_amplitude * np.sin(2.0 * np.pi * powerline_frequency * time[:, None] + phase)
    return raw, time


# --------------------------------------------------------------------------------------------
# Processing steps.
# --------------------------------------------------------------------------------------------
def bandpass_design(raw_rate: float, band=DEFAULT_BAND, order: int = DEFAULT_FILTER_ORDER):
    """Second-order sections of the Butterworth band-pass used by :func:`bandpass`.

    ``scipy.signal.butter(order, band, btype="bandpass", fs=raw_rate, output="sos")``; the
    band edges must satisfy ``0 < low < high < raw_rate / 2``.
    """
    raw_rate = _positive_rate(raw_rate, "raw_rate")
    try:
        low, high = (float(edge) for edge in band)
    except (TypeError, ValueError):
        raise TypeError(f"band must be a pair (low, high) in Hz, got {band!r}.")
    if not (math.isfinite(low) and math.isfinite(high) and 0 < low < high):
        raise ValueError(f"band must satisfy 0 < low < high (Hz), got ({low:g}, {high:g}).")
    _check_below_nyquist(high, raw_rate, "band upper edge")
    return signal.butter(order, (low, high), btype="bandpass", fs=raw_rate, output="sos")


def bandpass(raw, raw_rate: float, band=DEFAULT_BAND, order: int = DEFAULT_FILTER_ORDER):
    """Zero-phase Butterworth band-pass (forward-backward, so the effective order doubles).

    Parameters
    ----------
    raw : array_like, shape (T, n_channels)
        Signal, any unit.
    raw_rate : float
        Sampling rate, Hz; ``band[1]`` must be below ``raw_rate / 2``.
    band : (float, float), default (20.0, 450.0)
        Pass band edges, Hz (-6 dB after forward-backward filtering).
    order : int, default 4
        Butterworth order of :func:`bandpass_design`.

    Returns
    -------
    numpy.ndarray, shape (T, n_channels)
        ``scipy.signal.sosfiltfilt(bandpass_design(raw_rate, band, order), raw, axis=0)``.
    """
    raw = _as_signal(raw, "raw")
    sos = bandpass_design(raw_rate, band, order)
    _check_long_enough(raw, 3 * (2 * len(sos) + 1), "bandpass")
    return signal.sosfiltfilt(sos, raw, axis=0)


def notch_filter(
    x, raw_rate: float, frequency: float = 50.0, quality: float = DEFAULT_NOTCH_QUALITY
):
    """Zero-phase notch at the mains frequency (``scipy.signal.iirnotch`` + ``filtfilt``).

    Parameters
    ----------
    x : array_like, shape (T, n_channels)
        Signal.
    raw_rate : float
        Sampling rate, Hz.
    frequency : float, default 50.0
        Frequency to remove, Hz; below ``raw_rate / 2``.
    quality : float, default 30.0
        Quality factor: the notch is ``frequency / quality`` wide at -3 dB.

    Returns
    -------
    numpy.ndarray, shape (T, n_channels)
    """
    x = _as_signal(x, "x")
    raw_rate = _positive_rate(raw_rate, "raw_rate")
    frequency = _positive_rate(frequency, "notch frequency")
    _check_below_nyquist(frequency, raw_rate, "notch frequency")
    quality = _positive_rate(quality, "notch quality")
    b, a = signal.iirnotch(frequency, quality, fs=raw_rate)
    _check_long_enough(x, 3 * max(len(a), len(b)), "notch_filter")
    return signal.filtfilt(b, a, x, axis=0)


def rectify(x):
    """Full-wave rectification, ``abs(x)``, shape (T, n_channels)."""
    return np.abs(_as_signal(x, "x", min_samples=1))


def envelope(
    rectified,
    rate: float,
    cutoff: float = DEFAULT_ENVELOPE_CUTOFF,
    order: int = DEFAULT_FILTER_ORDER,
):
    """Linear envelope: zero-phase Butterworth low-pass of the rectified signal.

    Parameters
    ----------
    rectified : array_like, shape (T, n_channels)
        Rectified EMG.
    rate : float
        Sampling rate, Hz.
    cutoff : float, default 6.0
        Cutoff, Hz (-6 dB after forward-backward filtering); below ``rate / 2``.
    order : int, default 4
        Butterworth order.

    Returns
    -------
    numpy.ndarray, shape (T, n_channels)
        ``sosfiltfilt(butter(order, cutoff, "lowpass", fs=rate, output="sos"), rectified)``.
        For a sine carrier of slowly varying amplitude A(t) this is the mean of the rectified
        sine, ``2 A(t) / pi``; for Gaussian noise of RMS sigma(t), ``sigma(t) sqrt(2 / pi)``.
    """
    rectified = _as_signal(rectified, "rectified")
    rate = _positive_rate(rate, "rate")
    cutoff = _positive_rate(cutoff, "envelope cutoff")
    _check_below_nyquist(cutoff, rate, "envelope cutoff")
    sos = signal.butter(order, cutoff, btype="lowpass", fs=rate, output="sos")
    _check_long_enough(rectified, 3 * (2 * len(sos) + 1), "envelope")
    return signal.sosfiltfilt(sos, rectified, axis=0)


def _check_mvc(mvc, n_channels: int) -> np.ndarray:
    mvc = np.asarray(mvc, dtype=float)
    if mvc.ndim == 0:
        mvc = np.full(n_channels, float(mvc))
    if mvc.shape != (n_channels,):
        raise ValueError(
            f"mvc_peak must have one value per channel, shape ({n_channels},), got shape "
            f"{mvc.shape}."
        )
    bad = ~np.isfinite(mvc) | (mvc <= 0)
    if bad.any():
        channel = int(np.argmax(bad))
        raise ValueError(
            f"mvc_peak must be positive and finite for every channel, got {mvc[channel]!r} at "
            f"channel {channel}; a zero or negative MVC means the MVC trial had no activity on "
            "that channel: check the electrode or repeat the MVC trial."
        )
    return mvc


def mvc_peak(mvc_envelope, rate: float, window_s: float = 0.5):
    """MVC reference per channel: the maximum of a moving average of the MVC envelope.

    Averaging over a window first keeps a brief spike from setting the reference.

    Parameters
    ----------
    mvc_envelope : array_like, shape (T, n_channels)
        Processed (not normalised) envelope of a maximum voluntary contraction trial.
    rate : float
        Sampling rate of ``mvc_envelope``, Hz.
    window_s : float, default 0.5
        Moving-average window, s; at least one sample and at most the trial length.

    Returns
    -------
    numpy.ndarray, shape (n_channels,)
        ``max_t mean(mvc_envelope[t : t + n_window])`` with ``n_window = round(window_s *
        rate)`` (windows lie entirely inside the trial).
    """
    mvc_envelope = _as_signal(mvc_envelope, "mvc_envelope", min_samples=1)
    rate = _positive_rate(rate, "rate")
    window_s = _positive_rate(window_s, "window_s")
    n_window = max(1, int(round(window_s * rate)))
    if n_window > mvc_envelope.shape[0]:
        raise ValueError(
            f"window_s = {window_s:g} s is {n_window} samples at {rate:g} Hz, longer than the "
            f"MVC trial ({mvc_envelope.shape[0]} samples); use a shorter window or a longer trial."
        )
    # Cumulative sums give every window mean in O(T).
    cumulative = np.vstack([np.zeros((1, mvc_envelope.shape[1])), np.cumsum(mvc_envelope, axis=0)])
    means = (cumulative[n_window:] - cumulative[:-n_window]) / n_window
    peak = means.max(axis=0)
    return _check_mvc(peak, mvc_envelope.shape[1])


def normalise(env, mvc):
    """Divide each channel by its MVC value: 1.0 = maximum voluntary contraction.

    Parameters
    ----------
    env : array_like, shape (T, n_channels)
        Envelope.
    mvc : float or array_like, shape (n_channels,)
        Positive MVC reference per channel, same unit as ``env`` (see :func:`mvc_peak`).
    """
    env = _as_signal(env, "envelope", min_samples=1)
    return env / _check_mvc(mvc, env.shape[1])


def resample(env, rate: float, target_rate: float | None = None, target_time=None):
    """Resample an envelope onto a slower rate or onto given time stamps.

    Parameters
    ----------
    env : array_like, shape (T, n_channels)
        Signal sampled at ``rate``, first sample at t = 0; it should already be band-limited
        well below the target Nyquist frequency (an envelope is).
    rate : float
        Sampling rate of ``env``, Hz.
    target_rate : float, optional
        New rate, Hz. When ``rate / target_rate`` is an integer, uses
        ``scipy.signal.resample_poly(env, 1, rate / target_rate, axis=0, padtype="line")``
        (anti-aliased decimation; the "line" padding avoids a droop at the ends); otherwise
        linear interpolation onto ``arange(n) / target_rate`` within the signal's span.
    target_time : array_like, shape (T_target,), optional
        Time stamps, s from the first sample (e.g. the kinematics times); linear interpolation.
        Must lie within ``[0, (T - 1) / rate]``. Give either this or ``target_rate``.

    Returns
    -------
    resampled : numpy.ndarray, shape (T_target, n_channels)
    time : numpy.ndarray, shape (T_target,)
    """
    env = _as_signal(env, "envelope", min_samples=1)
    rate = _positive_rate(rate, "rate")
    n_samples = env.shape[0]
    duration = (n_samples - 1) / rate
    if target_time is not None and target_rate is not None:
        raise ValueError("give either target_rate or target_time, not both.")
    if target_time is None and target_rate is None:
        return env.copy(), np.arange(n_samples) / rate
    if target_time is None:
        target_rate = _positive_rate(target_rate, "target_rate")
        ratio = rate / target_rate
        if abs(ratio - round(ratio)) < 1e-9 and round(ratio) >= 1:
            step = int(round(ratio))
            resampled = signal.resample_poly(env, 1, step, axis=0, padtype="line")
            return resampled, np.arange(resampled.shape[0]) / target_rate
        target_time = np.arange(int(math.floor(duration * target_rate + 1e-9)) + 1) / target_rate
    target_time = np.asarray(target_time, dtype=float)
    if target_time.ndim != 1 or target_time.size == 0:
        raise ValueError(
            f"target_time must be a non-empty 1-D array of times in s, got shape "
            f"{target_time.shape}."
        )
    if not np.all(np.isfinite(target_time)):
        raise ValueError("target_time contains NaN or inf; give finite time stamps in s.")
    tolerance = 1e-9 * max(1.0, duration)
    if target_time.min() < -tolerance or target_time.max() > duration + tolerance:
        raise ValueError(
            f"target_time spans [{target_time.min():g}, {target_time.max():g}] s but the signal "
            f"covers [0, {duration:g}] s (time from its first sample); extrapolation is not "
            "done: trim target_time or record longer."
        )
    source_time = np.arange(n_samples) / rate
    resampled = np.column_stack(
        [np.interp(target_time, source_time, env[:, c]) for c in range(env.shape[1])]
    )
    return resampled, target_time.copy()


def process_emg(
    raw,
    raw_rate: float,
    mvc_peak=None,
    target_rate: float | None = None,
    target_time=None,
    band=DEFAULT_BAND,
    notch: float | None = 50.0,
    envelope_cutoff: float = DEFAULT_ENVELOPE_CUTOFF,
    filter_order: int = DEFAULT_FILTER_ORDER,
    notch_quality: float = DEFAULT_NOTCH_QUALITY,
):
    """Raw EMG -> normalised linear envelope, the standard pipeline.

    :func:`bandpass` -> :func:`notch_filter` -> :func:`rectify` -> :func:`envelope` ->
    :func:`normalise` (when ``mvc_peak`` is given) -> :func:`resample`.

    Parameters
    ----------
    raw : array_like, shape (T, n_channels)
        Raw EMG, V (or any unit, consistent with ``mvc_peak``).
    raw_rate : float
        Sampling rate of ``raw``, Hz.
    mvc_peak : float or array_like, shape (n_channels,), optional
        MVC reference per channel from :func:`mvc_peak` of an MVC trial processed with the same
        settings; without it the envelope stays in the unit of ``raw``.
    target_rate : float, optional
        Output rate, Hz (see :func:`resample`); default: keep ``raw_rate``.
    target_time : array_like, shape (T_target,), optional
        Output time stamps, s from the first raw sample (e.g. kinematics times).
    band : (float, float), default (20.0, 450.0)
        Band-pass edges, Hz.
    notch : float or None, default 50.0
        Mains frequency to remove, Hz (60.0 in the Americas); None skips the notch.
    envelope_cutoff : float, default 6.0
        Envelope low-pass cutoff, Hz.
    filter_order : int, default 4
        Butterworth order of the band-pass and the envelope filter.
    notch_quality : float, default 30.0
        Quality factor of the notch.

    Returns
    -------
    envelope : numpy.ndarray, shape (T_target, n_channels)
        Linear envelope (fraction of MVC when ``mvc_peak`` is given).
    time : numpy.ndarray, shape (T_target,)
        Time stamps, s from the first raw sample.
    """
    cleaned = bandpass(raw, raw_rate, band, filter_order)
    if notch is not None:
        cleaned = notch_filter(cleaned, raw_rate, notch, notch_quality)
    env = envelope(rectify(cleaned), raw_rate, envelope_cutoff, filter_order)
    if mvc_peak is not None:
        env = normalise(env, mvc_peak)
    return resample(env, raw_rate, target_rate, target_time)
