"""Probe, demodulation and Doppler features against closed forms."""

from __future__ import annotations

import numpy as np
import pytest

from echo_sense_dsp.errors import ConfigError, SampleRateError
from echo_sense_dsp.physics import SPEED_OF_SOUND_M_S, doppler_shift_hz
from echo_sense_dsp.presence import (
    BASEBAND_RATE_HZ,
    Demodulator,
    DopplerFrontEnd,
    ProbeGenerator,
    ProbeSettings,
    probe_warnings,
)
from echo_sense_dsp.presence.features import BANDS_PER_SIDE, VELOCITY_BAND_EDGES_M_S
from echo_sense_dsp.presence.probe import RAMP_S

FREQ_TOL_HZ = 2.0  # probe spectral peak vs setting
AMPLITUDE_TOL = 0.01  # relative
DOPPLER_TOL_HZ = 1000.0 / 256  # a quarter of a 15.6 Hz Doppler bin
CLICK_LIMIT = 0.02  # largest sample-to-sample jump of the paused probe, relative to its peak step


def test_probe_is_a_tone_at_the_set_frequency_and_level() -> None:
    settings = ProbeSettings(40000.0, -20.0)
    x = ProbeGenerator(settings).generate(96000)
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    peak_hz = np.argmax(spectrum) * 96000 / len(x)
    assert abs(peak_hz - 40000.0) < FREQ_TOL_HZ
    assert abs(np.max(np.abs(x)) - 0.1) < AMPLITUDE_TOL * 0.1


def test_probe_is_phase_continuous_across_blocks() -> None:
    settings = ProbeSettings(36000.0, -20.0)
    gen = ProbeGenerator(settings)
    blocks = np.concatenate([gen.generate(n) for n in (960, 17, 960, 333)])
    whole = ProbeGenerator(settings).generate(len(blocks))
    np.testing.assert_allclose(blocks, whole, atol=1e-5)


def test_pausing_ramps_without_a_step_and_counts_the_duty() -> None:
    gen = ProbeGenerator(ProbeSettings(40000.0, -20.0))
    on = gen.generate(9600)
    gen.emission_paused = True
    off = np.concatenate([gen.generate(960) for _ in range(10)])
    assert np.max(np.abs(off[-960:])) == 0.0
    envelope = np.abs(np.concatenate([on, off]))
    peak_step = 0.1 * 2 * np.pi * 40000 / 96000
    # the ramp: no sample jumps more than a tone sample at full level would
    assert np.max(np.abs(np.diff(np.concatenate([on, off])))) <= peak_step * (1 + CLICK_LIMIT)
    assert envelope[9600 + 960 * 2 :].max() == 0.0
    ramp_frames = RAMP_S * 96000  # the ramp counts half
    assert gen.emission_duty == pytest.approx((9600 + 0.5 * ramp_frames) / 19200, abs=1e-3)


def test_near_ultrasound_fallback_warns_and_bands_are_enforced() -> None:
    assert probe_warnings(20500.0, 48000) and "hear" in probe_warnings(20500.0, 48000)[0]
    assert probe_warnings(40000.0, 96000) == []
    with pytest.raises(ConfigError, match="outside"):
        ProbeSettings(30000.0, -20.0, 96000)
    with pytest.raises(ConfigError, match="outside"):
        ProbeSettings(40000.0, -20.0, 48000)
    with pytest.raises(SampleRateError, match="44100"):
        ProbeSettings(20000.0, -20.0, 44100)


@pytest.mark.parametrize("offset_hz", [-400.0, 0.0, 250.0])
def test_demodulated_tone_lands_at_its_offset_with_half_amplitude(offset_hz: float) -> None:
    fs, f0 = 96000, 40000.0
    demod = Demodulator(f0, fs, 1)
    t = np.arange(fs) / fs
    x = (0.2 * np.cos(2 * np.pi * (f0 + offset_hz) * t + 0.4)).astype(np.float32)[:, None]
    bb = np.concatenate([demod.process(x[i : i + demod.hop_frames]).copy() for i in range(0, fs, demod.hop_frames)])
    bb = bb[200:, 0]
    assert np.allclose(np.abs(bb), 0.1, rtol=AMPLITUDE_TOL)
    spectrum = np.abs(np.fft.fft(bb * np.hanning(len(bb)), 1 << 16))
    peak_hz = np.fft.fftfreq(1 << 16, 1.0 / BASEBAND_RATE_HZ)[np.argmax(spectrum)]
    assert abs(peak_hz - offset_hz) < DOPPLER_TOL_HZ


@pytest.mark.parametrize("velocity_m_s", [-1.0, 0.3, 1.5])
def test_doppler_peak_of_a_moving_point_is_at_2_v_f0_over_c(velocity_m_s: float) -> None:
    fs, f0 = 96000, 40000.0
    t = np.arange(2 * fs) / fs
    r = 3.0 - velocity_m_s * t  # positive velocity = approaching
    echo = 1e-3 * np.cos(2 * np.pi * f0 * (t - 2 * r / SPEED_OF_SOUND_M_S))
    x = (0.3 * np.cos(2 * np.pi * f0 * t) + echo).astype(np.float32)[:, None]
    demod = Demodulator(f0, fs, 1)
    bb = np.concatenate([demod.process(x[i : i + 1920]).copy() for i in range(0, len(x), 1920)])[400:, 0]
    bb = bb - bb.mean()
    spectrum = np.abs(np.fft.fft(bb * np.hanning(len(bb)), 1 << 16))
    peak_hz = np.fft.fftfreq(1 << 16, 1.0 / BASEBAND_RATE_HZ)[np.argmax(spectrum)]
    assert abs(peak_hz - doppler_shift_hz(velocity_m_s, f0)) < DOPPLER_TOL_HZ


def test_walker_at_1_m_s_lights_the_approaching_band_that_contains_1_m_s() -> None:
    fs, f0 = 96000, 36000.0
    t = np.arange(3 * fs) / fs
    r = 4.0 - 1.0 * t
    x = 0.3 * np.cos(2 * np.pi * f0 * t) + 1e-3 * np.cos(2 * np.pi * f0 * (t - 2 * r / SPEED_OF_SOUND_M_S))
    mics = np.repeat(x[:, None], 2, axis=1).astype(np.float32)
    mics += 1e-6 * np.random.default_rng(1).standard_normal(mics.shape).astype(np.float32)
    front = DopplerFrontEnd(f0, fs, 2)
    for i in range(0, len(t), front.hop_frames):
        front.process(mics[i : i + front.hop_frames], None)
    band = int(np.argmax(front.band_energy.mean(axis=0)))
    edges = VELOCITY_BAND_EDGES_M_S
    expected = BANDS_PER_SIDE + next(i for i in range(BANDS_PER_SIDE) if edges[i] <= 1.0 < edges[i + 1])
    assert band == expected


def test_static_scene_gives_no_doppler_energy_above_the_floor() -> None:
    fs, f0 = 96000, 40000.0
    rng = np.random.default_rng(2)
    t = np.arange(3 * fs) / fs
    x = 0.3 * np.cos(2 * np.pi * f0 * t) + 0.01 * np.cos(2 * np.pi * f0 * (t - 6.0 / SPEED_OF_SOUND_M_S))
    mics = (x[:, None] + 1e-5 * rng.standard_normal((len(t), 2))).astype(np.float32)
    front = DopplerFrontEnd(f0, fs, 2)
    snr = []
    for i in range(0, len(t), front.hop_frames):
        front.process(mics[i : i + front.hop_frames], None)
        if front.settled:
            snr.append(front.band_snr_db.mean())
    assert np.mean(snr) < 3.0  # dB: noise only
