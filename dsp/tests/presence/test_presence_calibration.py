"""Calibration on simulated devices: roll-offs, resonances, dead and noisy hardware."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from numpy.typing import NDArray
from scipy.fft import next_fast_len

from echo_sense_dsp.errors import StoreError
from echo_sense_dsp.presence import (
    Calibration,
    CalibrationError,
    analyse_calibration,
    expected_range_m,
    plan_calibration,
)

LATENCY_FRAMES = 1234  # capture lags the sweep (sound-card latency)
NOISE_RMS = 3e-5  # mic self-noise, full scale
LEVEL_TOL_DB = 1e-9


def capture(
    rng: np.random.Generator,
    sweep: NDArray[np.float32],
    gain_db: Callable[[NDArray[np.float64]], NDArray[np.float64]],
    *,
    mic_count: int = 2,
    noise_rms: float = NOISE_RMS,
    sample_rate: int = 96000,
) -> NDArray[np.float32]:
    """The sweep through a device with frequency response ``gain_db(f)``, delayed, plus noise."""
    n = next_fast_len(len(sweep) + LATENCY_FRAMES + 4800)
    x = np.zeros(n)
    x[LATENCY_FRAMES : LATENCY_FRAMES + len(sweep)] = sweep
    spec = np.fft.rfft(x)
    f = np.fft.rfftfreq(n, 1.0 / sample_rate)
    y = np.fft.irfft(spec * 10.0 ** (gain_db(f) / 20.0), n)
    mics = np.stack([(0.8 + 0.1 * k) * y for k in range(mic_count)], axis=1)
    mics += noise_rms * rng.standard_normal(mics.shape)
    return mics.astype(np.float32)


def flat(f: NDArray[np.float64]) -> NDArray[np.float64]:
    return np.full_like(f, -6.0)


def rolloff_above(corner_hz: float) -> Callable[[NDArray[np.float64]], NDArray[np.float64]]:
    """-6 dB, then 60 dB/octave above the corner (a tweeter or DAC filter giving up)."""

    def gain(f: NDArray[np.float64]) -> NDArray[np.float64]:
        return -6.0 - 60.0 * np.log2(np.maximum(f / corner_hz, 1.0))

    return gain


@pytest.fixture(scope="module")
def plan96():  # type: ignore[no-untyped-def]
    return plan_calibration(96000)


def test_plan_covers_the_ultrasonic_band_at_a_few_levels(plan96) -> None:  # type: ignore[no-untyped-def]
    assert plan96.frequencies_hz[0] == 32000.0 and plan96.frequencies_hz[-1] == 46000.0
    assert len(plan96.levels_db) >= 3
    assert np.max(np.abs(plan96.signal)) <= 10 ** (max(plan96.levels_db) / 20) + 1e-6
    assert plan96.segments[0].frequency_hz == 0.0  # silence first: the noise floor


def test_flat_device_gets_the_lowest_level_that_reaches_4_m(rng: np.random.Generator, plan96) -> None:  # type: ignore[no-untyped-def]
    cal = analyse_calibration(capture(rng, plan96.signal, flat), plan96.signal, plan96, range_m=4.0)
    assert cal.expected_range_m >= 4.0
    assert cal.frequency_hz >= 32000.0
    # one level step lower would no longer reach 4 m
    snr_lower = np.mean(cal.mic_snr_db) - 3.0
    assert expected_range_m(float(snr_lower), cal.frequency_hz) < 4.0 or cal.level_db == min(plan96.levels_db)
    assert len(cal.mic_snr_db) == 2 and len(cal.noise_floor_db) == 2
    # the per-mic curve (for the calibration chart) passes through the chosen point
    curve = cal.snr_curve
    chosen = curve["frequency_hz"].index(cal.frequency_hz)
    assert [row[chosen] for row in curve["mic_snr_db"]] == list(cal.mic_snr_db)
    assert all(len(row) == len(curve["frequency_hz"]) for row in curve["mic_snr_db"])


@pytest.mark.parametrize("corner_hz", [34000.0, 38000.0, 42000.0])
def test_device_rolling_off_gets_a_frequency_below_its_corner(
    rng: np.random.Generator,
    plan96,  # type: ignore[no-untyped-def]
    corner_hz: float,
) -> None:
    cal = analyse_calibration(capture(rng, plan96.signal, rolloff_above(corner_hz)), plan96.signal, plan96)
    assert 32000.0 <= cal.frequency_hz <= corner_hz + 1000.0
    assert cal.expected_range_m >= 4.0


def test_narrow_resonance_is_avoided(rng: np.random.Generator, plan96) -> None:  # type: ignore[no-untyped-def]
    def resonant(f: NDArray[np.float64]) -> NDArray[np.float64]:
        return -30.0 + 30.0 * np.exp(-(((f - 44000.0) / 300.0) ** 2))

    cal = analyse_calibration(capture(rng, plan96.signal, resonant), plan96.signal, plan96)
    assert cal.frequency_hz != 44000.0
    assert cal.snr_curve["usable"][cal.snr_curve["frequency_hz"].index(44000.0)] is False


def test_dead_ultrasound_raises_no_ultrasonic_response(rng: np.random.Generator, plan96) -> None:  # type: ignore[no-untyped-def]
    mics = capture(rng, plan96.signal, lambda f: np.where(f > 25000.0, -200.0, 0.0))
    with pytest.raises(CalibrationError, match="no ultrasonic response"):
        analyse_calibration(mics, plan96.signal, plan96)


def test_ultrasonic_noise_raises_too_much_noise(rng: np.random.Generator, plan96) -> None:  # type: ignore[no-untyped-def]
    mics = capture(rng, plan96.signal, flat, noise_rms=0.2)
    with pytest.raises(CalibrationError, match="too much ultrasonic noise"):
        analyse_calibration(mics, plan96.signal, plan96)


def test_short_capture_is_a_clear_error(rng: np.random.Generator, plan96) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(CalibrationError, match="shorter than"):
        analyse_calibration(np.zeros((96000, 2), np.float32), plan96.signal, plan96)


def test_48k_fallback_calibrates_near_ultrasound_and_warns(rng: np.random.Generator) -> None:
    plan = plan_calibration(48000)
    cal = analyse_calibration(capture(rng, plan.signal, flat, sample_rate=48000), plan.signal, plan)
    assert 19000.0 <= cal.frequency_hz <= 23000.0
    assert any("hear" in w for w in cal.warnings)


def test_calibration_round_trips_through_its_dict(rng: np.random.Generator, plan96, tmp_path) -> None:  # type: ignore[no-untyped-def]
    cal = analyse_calibration(capture(rng, plan96.signal, flat), plan96.signal, plan96)
    assert Calibration.from_dict(cal.to_dict()) == cal
    cal.save(tmp_path / "cal.json")
    assert Calibration.load(tmp_path / "cal.json") == cal
    with pytest.raises(StoreError, match="frequency_hz"):
        Calibration.from_dict({"level_db": -20})
    with pytest.raises(StoreError, match="outside"):
        Calibration.from_dict({"frequency_hz": 12000.0, "level_db": -20.0})
