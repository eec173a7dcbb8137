"""The probe: the inaudible continuous tone the speaker emits, with duty-cycle control.

A single continuous-wave (CW) tone makes every moving reflector show up as a Doppler
shift ``f_d = 2 v f0 / c`` around the carrier (:func:`echo_sense_dsp.physics.doppler_shift_hz`).
At 96 kHz the carrier lies at or above :data:`ULTRASONIC_MIN_HZ` (32 kHz); at the 48 kHz
fallback rate it is near-ultrasound (19-23 kHz), which pets and some people can hear, so
:func:`probe_warnings` says so.

The emission is switched on and off with raised-cosine ramps (:data:`RAMP_S`) so pausing
it never clicks in the audible band.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ..errors import ConfigError, SampleRateError
from ..physics import db_to_amplitude

ULTRASONIC_SAMPLE_RATE = 96000  # Hz, the engine's rate
FALLBACK_SAMPLE_RATE = 48000  # Hz, sound cards without 96 kHz
ULTRASONIC_MIN_HZ = 32000.0  # lowest carrier at 96 kHz (inaudible to people)
ULTRASONIC_MAX_HZ = 46000.0  # highest carrier at 96 kHz (below the DAC's anti-imaging roll-off)
NEAR_ULTRASOUND_MIN_HZ = 19000.0  # 48 kHz fallback band
NEAR_ULTRASOUND_MAX_HZ = 23000.0
DEFAULT_LEVEL_DB = -18.0  # dBFS peak of the probe without calibration
MAX_LEVEL_DB = -6.0  # never drive the probe louder (leaves headroom for music)
RAMP_S = 0.01  # raised-cosine on/off ramp
NEAR_ULTRASOUND_WARNING = (
    "the 48 kHz fallback probes at {frequency_hz:.0f} Hz (near-ultrasound): pets and some people, "
    "children especially, may hear it; use a 96 kHz sound card for an inaudible probe"
)


def probe_band_hz(sample_rate: int) -> tuple[float, float]:
    """The carrier band usable at ``sample_rate``: (low, high) in Hz.

    Raises
    ------
    SampleRateError
        For rates other than 96 kHz (ultrasonic) and 48 kHz (near-ultrasound fallback).
    """
    if sample_rate == ULTRASONIC_SAMPLE_RATE:
        return ULTRASONIC_MIN_HZ, ULTRASONIC_MAX_HZ
    if sample_rate == FALLBACK_SAMPLE_RATE:
        return NEAR_ULTRASOUND_MIN_HZ, NEAR_ULTRASOUND_MAX_HZ
    raise SampleRateError(
        f"presence sensing needs {ULTRASONIC_SAMPLE_RATE} Hz (or the {FALLBACK_SAMPLE_RATE} Hz fallback), "
        f"got {sample_rate} Hz"
    )


def default_probe_frequency_hz(sample_rate: int) -> float:
    """The carrier used before any calibration: 36 kHz at 96 kHz, 20.5 kHz at 48 kHz."""
    return 36000.0 if probe_band_hz(sample_rate)[0] >= ULTRASONIC_MIN_HZ else 20500.0


def probe_warnings(frequency_hz: float, sample_rate: int) -> list[str]:
    """Human-readable warnings about a probe (audibility of the 48 kHz fallback)."""
    if frequency_hz < ULTRASONIC_MIN_HZ:
        return [NEAR_ULTRASOUND_WARNING.format(frequency_hz=frequency_hz)]
    return []


@dataclass(frozen=True)
class ProbeSettings:
    """What the probe emits.

    Attributes
    ----------
    frequency_hz : carrier frequency, Hz.
    level_db : peak level in dBFS (0 dBFS = full scale).
    sample_rate : Hz.
    """

    frequency_hz: float
    level_db: float
    sample_rate: int = ULTRASONIC_SAMPLE_RATE

    def __post_init__(self) -> None:
        low_hz, high_hz = probe_band_hz(self.sample_rate)
        if not low_hz - 1e-6 <= self.frequency_hz <= high_hz + 1e-6:
            raise ConfigError(
                f"probe frequency {self.frequency_hz} Hz is outside {low_hz:.0f}-{high_hz:.0f} Hz "
                f"at {self.sample_rate} Hz"
            )
        if not -120.0 <= self.level_db <= MAX_LEVEL_DB:
            raise ConfigError(f"probe level {self.level_db} dBFS is outside -120..{MAX_LEVEL_DB} dBFS")

    @property
    def amplitude(self) -> float:
        """Peak amplitude (full scale = 1)."""
        return float(db_to_amplitude(self.level_db))


class ProbeGenerator:
    """Streams the probe tone for the engine's probe bus, with duty-cycle control.

    Set :attr:`emission_paused` (from any thread; a plain bool) to fade the tone out; clear
    it to fade back in. :attr:`emission_duty` is the fraction of generated time the tone
    was on (ramps count half).

    Parameters
    ----------
    settings : carrier frequency, level and sample rate.
    block_frames : largest block :meth:`generate` will be asked for (buffers are sized once).
    """

    def __init__(self, settings: ProbeSettings, *, block_frames: int = 4096) -> None:
        self.settings = settings
        self.emission_paused = False
        self._block_frames = block_frames
        self._phase_step = 2.0 * math.pi * settings.frequency_hz / settings.sample_rate
        self._phase = 0.0  # carrier phase at the next sample, radians
        self._gain = 1.0  # current ramp gain 0..1
        self._ramp_step = 1.0 / max(1, round(RAMP_S * settings.sample_rate))
        self._n = np.arange(block_frames, dtype=np.float64)
        self._work = np.empty(block_frames, dtype=np.float64)
        self._gain_curve = np.empty(block_frames, dtype=np.float64)
        self._on_frames = 0.0
        self._total_frames = 0

    @property
    def emission_duty(self) -> float:
        """Fraction of the generated time the probe was on, 0..1 (1.0 before anything ran)."""
        return 1.0 if self._total_frames == 0 else self._on_frames / self._total_frames

    def reset_duty(self) -> None:
        """Start counting :attr:`emission_duty` afresh."""
        self._on_frames = 0.0
        self._total_frames = 0

    def generate(self, frames: int) -> NDArray[np.float32]:
        """The next ``frames`` samples of the probe.

        Returns
        -------
        ndarray, shape (frames,), float32, peak ``settings.amplitude``.
        """
        if frames > self._block_frames:  # grow once, outside the steady state
            self._block_frames = frames
            self._n = np.arange(frames, dtype=np.float64)
            self._work = np.empty(frames, dtype=np.float64)
            self._gain_curve = np.empty(frames, dtype=np.float64)
        work = self._work[:frames]
        np.multiply(self._n[:frames], self._phase_step, out=work)
        work += self._phase
        np.sin(work, out=work)
        target = 0.0 if self.emission_paused else 1.0
        if self._gain != target or target == 0.0:
            curve = self._gain_curve[:frames]
            sign = 1.0 if target > self._gain else -1.0
            np.multiply(self._n[:frames], sign * self._ramp_step, out=curve)
            curve += self._gain + sign * self._ramp_step
            np.clip(curve, 0.0, 1.0, out=curve)
            self._gain = float(curve[-1])
            # raised-cosine shape of the linear ramp
            ramp = 0.5 - 0.5 * np.cos(np.pi * curve)
            work *= ramp
            self._on_frames += float(curve.sum())
        else:
            self._on_frames += frames
        work *= self.settings.amplitude
        self._total_frames += frames
        self._phase = float((self._phase + frames * self._phase_step) % (2.0 * math.pi))
        return work.astype(np.float32)


def probe_signal(settings: ProbeSettings, seconds: float) -> NDArray[np.float32]:
    """``seconds`` of the probe as one array, shape (frames,), float32 (for ``echo-sense probe``)."""
    if not seconds > 0.0 or not math.isfinite(seconds):
        raise ConfigError(f"--seconds must be a positive number, got {seconds}")
    frames = round(seconds * settings.sample_rate)
    out = np.empty(frames, dtype=np.float32)
    generator = ProbeGenerator(settings)
    block = 4096
    for start in range(0, frames, block):
        stop = min(frames, start + block)
        out[start:stop] = generator.generate(stop - start)
    return out


__all__ = [
    "DEFAULT_LEVEL_DB",
    "FALLBACK_SAMPLE_RATE",
    "MAX_LEVEL_DB",
    "NEAR_ULTRASOUND_MAX_HZ",
    "NEAR_ULTRASOUND_MIN_HZ",
    "RAMP_S",
    "ULTRASONIC_MAX_HZ",
    "ULTRASONIC_MIN_HZ",
    "ULTRASONIC_SAMPLE_RATE",
    "ProbeGenerator",
    "ProbeSettings",
    "default_probe_frequency_hz",
    "probe_band_hz",
    "probe_signal",
    "probe_warnings",
]
