"""Closed-form ultrasonic scenes for the presence tests (no room simulator needed).

A probe ``A sin(2 pi f0 t)`` reaches each mic directly (fixed delay and gain) and as the
echo of a point reflector at range ``r(t)``: ``a A sin(2 pi f0 (t - (2 r(t) + offset_k) / c))``,
whose phase follows the two-way path exactly. Music goes through a memoryless speaker
nonlinearity ``y = d + a2 d^2 + a3 d^3`` and reaches each mic with its own gain and delay.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest
from numpy.typing import NDArray

from echo_sense_dsp.physics import SPEED_OF_SOUND_M_S

MIC_OFFSETS_M = (0.0, 0.012, 0.025, 0.037)  # extra path to each mic
DIRECT_GAINS = (0.5, 0.42, 0.37, 0.45)
DIRECT_DELAYS = (5, 7, 6, 9)  # samples at 96 kHz


@dataclass
class Scene:
    mics: NDArray[np.float32]  # (frames, 4)
    drive: NDArray[np.float32]  # (frames,)
    sample_rate: int


def make_scene(
    rng: np.random.Generator,
    *,
    seconds: float,
    frequency_hz: float = 40000.0,
    sample_rate: int = 96000,
    probe_amplitude: float = 0.1,
    range_m: Callable[[NDArray[np.float64]], NDArray[np.float64]] | None = None,
    echo_gain: float = 2e-3,
    music: NDArray[np.float64] | None = None,
    nonlinearity: tuple[float, float] = (0.05, 0.2),
    noise_rms: float = 1e-5,
    probe_gate: NDArray[np.float64] | None = None,
) -> Scene:
    """Render a closed-form scene (see module docstring)."""
    n = round(seconds * sample_rate)
    t = np.arange(n) / sample_rate
    c = SPEED_OF_SOUND_M_S
    gate = np.ones(n) if probe_gate is None else probe_gate
    probe = probe_amplitude * gate * np.sin(2 * np.pi * frequency_hz * t)
    drive = probe + (0.0 if music is None else music[:n])
    a2, a3 = nonlinearity
    speaker = drive + a2 * drive**2 + a3 * drive**3
    mics = np.empty((n, len(MIC_OFFSETS_M)))
    for k, (offset, gain, delay) in enumerate(zip(MIC_OFFSETS_M, DIRECT_GAINS, DIRECT_DELAYS, strict=True)):
        mics[:, k] = gain * np.roll(speaker, delay)
        if range_m is not None:
            r = range_m(t)
            tau = (2.0 * r + offset) / c
            mics[:, k] += (
                echo_gain * probe_amplitude * np.interp(t - tau, t, gate) * np.sin(2 * np.pi * frequency_hz * (t - tau))
            )
        mics[:, k] += noise_rms * rng.standard_normal(n)
    return Scene(mics.astype(np.float32), drive.astype(np.float32), sample_rate)


def music_signal(rng: np.random.Generator, seconds: float, sample_rate: int = 96000, level: float = 0.3) -> NDArray:
    """Music-like drive: a bass line, chords and noise bursts, band-limited below 16 kHz."""
    n = round(seconds * sample_rate)
    t = np.arange(n) / sample_rate
    notes = 55.0 * 2.0 ** (rng.integers(0, 24, size=int(seconds * 4) + 1) / 12.0)
    note = notes[(t * 4).astype(int)]
    phase = 2 * np.pi * np.cumsum(note) / sample_rate
    x = np.sin(phase) + 0.5 * np.sin(2 * phase) + 0.3 * np.sin(3.01 * phase)
    x += 0.4 * np.sin(2 * np.pi * 440.0 * t) * (np.sin(2 * np.pi * 0.7 * t) > 0)
    noise = rng.standard_normal(n)
    spec = np.fft.rfft(noise)
    spec[np.fft.rfftfreq(n, 1 / sample_rate) > 16000] = 0
    x += 0.3 * np.fft.irfft(spec, n) * (np.sin(2 * np.pi * 2.0 * t) > 0.5)
    return np.asarray(level * x / np.max(np.abs(x)))


@pytest.fixture
def scene() -> Callable[..., Scene]:
    return make_scene


@pytest.fixture
def music() -> Callable[..., NDArray]:
    return music_signal
