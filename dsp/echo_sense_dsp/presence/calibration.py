"""Calibration: choose the probe frequency and the lowest level that reaches the wanted range.

The plan (:func:`plan_calibration`) is a stepped-tone sweep: silence (noise floor), then
tones across the usable band (32-46 kHz every 1 kHz at 96 kHz; 19-23 kHz every 0.5 kHz at
the 48 kHz fallback) at :data:`CALIBRATION_LEVELS_DB`, each with raised-cosine ramps.
:func:`analyse_calibration` aligns the capture to the sweep, then per mic measures, for
every tone, the received carrier (speaker -> mic response, including roll-off and
resonances) and the noise in the ±1 kHz Doppler band around it (silent background plus
what the tone itself brings: distortion, jitter). From these and a point-target echo
model (:func:`expected_range_m`) it predicts the detection range of every
(frequency, level) pair and picks the lowest level that reaches ``range_m``, preferring
the longest range at that level. Narrow resonance peaks (gain more than
:data:`RESONANCE_DB` above their neighbours) are avoided: they drift with temperature and
ring.

Echo model: a person (cross-section :data:`PERSON_CROSS_SECTION_M2`) at range r returns,
relative to the direct speaker->mic path at :data:`DIRECT_PATH_M`, the amplitude
``d0 sqrt(sigma / 4 pi) / r^2`` times two-way air absorption (ISO 9613-1,
:func:`echo_sense_dsp.physics.air_absorption_db_per_m`); it is detected when that echo
stands :data:`DETECTION_SNR_DB` above the noise in the :data:`WALKER_DOPPLER_BAND_HZ` it
occupies (the sonar equation, e.g. R. J. Urick, *Principles of Underwater Sound*, ch. 2).
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.signal import fftconvolve

from ..errors import AudioFormatError, EchoSenseError, StoreError
from ..physics import air_absorption_db_per_m
from .probe import (
    DEFAULT_LEVEL_DB,
    MAX_LEVEL_DB,
    RAMP_S,
    ProbeSettings,
    default_probe_frequency_hz,
    probe_band_hz,
    probe_warnings,
)

CALIBRATION_LEVELS_DB = (-40.0, -30.0, -20.0, -10.0)
LEVEL_STEP_DB = 3.0  # granularity of the chosen level
TONE_S = 0.15
GAP_S = 0.05
SILENCE_S = 0.5
DEFAULT_RANGE_M = 4.0
DIRECT_PATH_M = 0.05  # speaker-to-mic distance the carrier is referred to
PERSON_CROSS_SECTION_M2 = 0.5
DETECTION_SNR_DB = 10.0
WALKER_DOPPLER_BAND_HZ = 100.0
DOPPLER_BAND_HZ = 2000.0  # the ±1 kHz baseband
SLOWEST_DOPPLER_HZ = 20.0  # slower changes of a tone's capture are not counted as noise
RESONANCE_DB = 10.0
MIN_CARRIER_SNR_DB = 10.0  # below this at every frequency: no ultrasonic response
MAX_NOISE_DBFS = -35.0  # noise in the Doppler band above this everywhere: too noisy
MAX_ALIGN_LAG_S = 0.5
ALIGN_WINDOW_S = 2.5


class CalibrationError(EchoSenseError):
    """The capture cannot calibrate the probe (no ultrasonic response, too much noise, ...)."""


@dataclass(frozen=True)
class CalibrationSegment:
    """One piece of the sweep: a tone (or silence when ``frequency_hz`` is 0)."""

    start_s: float
    stop_s: float
    frequency_hz: float
    level_db: float


@dataclass(frozen=True)
class CalibrationPlan:
    """The sweep to emit and its segments.

    Attributes
    ----------
    sample_rate : Hz.
    signal : ndarray, shape (frames,), float32: the drive signal.
    segments : in time order; the first is the silence.
    """

    sample_rate: int
    signal: NDArray[np.float32]
    segments: tuple[CalibrationSegment, ...]

    @property
    def frequencies_hz(self) -> tuple[float, ...]:
        return tuple(sorted({s.frequency_hz for s in self.segments if s.frequency_hz > 0}))

    @property
    def levels_db(self) -> tuple[float, ...]:
        return tuple(sorted({s.level_db for s in self.segments if s.frequency_hz > 0}))


def calibration_frequencies_hz(sample_rate: int) -> NDArray[np.float64]:
    """Candidate carriers: 1 kHz steps at 96 kHz, 0.5 kHz steps at the 48 kHz fallback."""
    low_hz, high_hz = probe_band_hz(sample_rate)
    step_hz = 1000.0 if low_hz >= 30000.0 else 500.0
    return np.arange(low_hz, high_hz + 0.5 * step_hz, step_hz, dtype=np.float64)


def plan_calibration(sample_rate: int = 96000, levels_db: tuple[float, ...] = CALIBRATION_LEVELS_DB) -> CalibrationPlan:
    """Build the calibration sweep (about 12.5 s at 96 kHz).

    Raises
    ------
    SampleRateError
        For rates other than 96 kHz and 48 kHz.
    """
    freqs = calibration_frequencies_hz(sample_rate)
    segments = [CalibrationSegment(0.0, SILENCE_S, 0.0, -math.inf)]
    t = SILENCE_S
    for level in levels_db:
        for f in freqs:
            segments.append(CalibrationSegment(t, t + TONE_S, float(f), float(level)))
            t += TONE_S + GAP_S
    signal = np.zeros(round(t * sample_rate), dtype=np.float32)
    n = round(TONE_S * sample_rate)
    ramp_n = round(RAMP_S * sample_rate)
    envelope = np.ones(n)
    ramp = 0.5 - 0.5 * np.cos(np.pi * np.arange(ramp_n) / ramp_n)
    envelope[:ramp_n] = ramp
    envelope[-ramp_n:] = ramp[::-1]
    k = np.arange(n) / sample_rate
    for seg in segments[1:]:
        start = round(seg.start_s * sample_rate)
        tone = 10.0 ** (seg.level_db / 20.0) * envelope * np.sin(2.0 * np.pi * seg.frequency_hz * k)
        signal[start : start + n] = tone.astype(np.float32)
    return CalibrationPlan(sample_rate, signal, tuple(segments))


def expected_range_m(carrier_snr_db: float, frequency_hz: float) -> float:
    """Detection range predicted from the carrier SNR in the ±1 kHz band (see module docs).

    Parameters
    ----------
    carrier_snr_db : received carrier power over the noise power in the ±1 kHz Doppler band.
    frequency_hz : carrier, Hz (sets air absorption).

    Returns
    -------
    float : metres (0 when even 0.3 m is out of reach), capped at 20 m.
    """
    alpha_db_m = float(air_absorption_db_per_m(frequency_hz))
    band_gain_db = 10.0 * math.log10(DOPPLER_BAND_HZ / WALKER_DOPPLER_BAND_HZ)
    r = np.linspace(0.3, 20.0, 2000)
    echo_db = 20.0 * np.log10(DIRECT_PATH_M * math.sqrt(PERSON_CROSS_SECTION_M2 / (4 * math.pi)) / r**2)
    echo_db -= alpha_db_m * 2.0 * r
    ok = carrier_snr_db + echo_db + band_gain_db >= DETECTION_SNR_DB
    return float(r[ok][-1]) if ok.any() else 0.0


@dataclass(frozen=True)
class Calibration:
    """The calibration result stored in the config entry (``to_dict``/``from_dict``).

    Attributes
    ----------
    frequency_hz : chosen probe carrier, Hz.
    level_db : chosen probe level, dBFS peak.
    sample_rate : Hz.
    range_wanted_m : the range asked for.
    expected_range_m : the range predicted at the chosen frequency and level.
    mic_snr_db : per mic, carrier SNR in the ±1 kHz band at the chosen frequency and level.
    noise_floor_db : per mic, noise power in the ±1 kHz band around the carrier, dBFS.
    snr_curve : ``{"frequency_hz": [F], "level_db": [L], "snr_db": [[L x F]] (mean over mics),
        "gain_db": [F] (speaker->mic gain), "usable": [F] bools, "mic_snr_db": [[M x F]] (per mic at
        the chosen level)}`` for a plot.
    warnings : human-readable notes (near-ultrasound, range not reached, uncalibrated).
    """

    frequency_hz: float
    level_db: float
    sample_rate: int = 96000
    range_wanted_m: float = DEFAULT_RANGE_M
    expected_range_m: float = 0.0
    mic_snr_db: tuple[float, ...] = ()
    noise_floor_db: tuple[float, ...] = ()
    snr_curve: dict[str, Any] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    version: int = 1

    @classmethod
    def default(cls, sample_rate: int = 96000) -> Calibration:
        """The uncalibrated probe (what ``echo-sense probe`` emits without ``--config``)."""
        f = default_probe_frequency_hz(sample_rate)
        return cls(f, DEFAULT_LEVEL_DB, sample_rate, warnings=("not calibrated", *probe_warnings(f, sample_rate)))

    def probe_settings(self) -> ProbeSettings:
        """The probe this calibration asks for."""
        return ProbeSettings(self.frequency_hz, self.level_db, self.sample_rate)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form (for the config entry / CAL.json)."""
        d = asdict(self)
        d["mic_snr_db"] = list(self.mic_snr_db)
        d["noise_floor_db"] = list(self.noise_floor_db)
        d["warnings"] = list(self.warnings)
        return d

    @classmethod
    def from_dict(cls, data: Any) -> Calibration:
        """Inverse of :meth:`to_dict`.

        Raises
        ------
        StoreError
            Missing or malformed fields (the message names them).
        """
        if not isinstance(data, dict):
            raise StoreError(f"calibration must be a JSON object, got {type(data).__name__}")
        try:
            cal = cls(
                frequency_hz=float(data["frequency_hz"]),
                level_db=float(data["level_db"]),
                sample_rate=int(data.get("sample_rate", 96000)),
                range_wanted_m=float(data.get("range_wanted_m", DEFAULT_RANGE_M)),
                expected_range_m=float(data.get("expected_range_m", 0.0)),
                mic_snr_db=tuple(float(x) for x in data.get("mic_snr_db", ())),
                noise_floor_db=tuple(float(x) for x in data.get("noise_floor_db", ())),
                snr_curve=dict(data.get("snr_curve", {})),
                warnings=tuple(str(x) for x in data.get("warnings", ())),
                version=int(data.get("version", 1)),
            )
            cal.probe_settings()  # validates frequency, level and rate
        except KeyError as err:
            raise StoreError(f"calibration lacks the field {err}") from err
        except (TypeError, ValueError, EchoSenseError) as err:
            raise StoreError(f"calibration is malformed: {err}") from err
        return cal

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write as JSON (atomically)."""
        p = Path(path)
        tmp = p.with_name(p.name + ".tmp")
        tmp.write_text(json.dumps(self.to_dict(), indent=2))
        tmp.replace(p)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Calibration:
        """Read a JSON file written by :meth:`save` (StoreError when unreadable)."""
        try:
            data = json.loads(Path(path).read_text())
        except FileNotFoundError as err:
            raise StoreError(f"{path}: no such calibration file") from err
        except (OSError, ValueError) as err:
            raise StoreError(f"{path}: not a readable calibration JSON ({err})") from err
        return cls.from_dict(data)


def _align_lag(mics: NDArray[np.float32], reference: NDArray[np.float32], sample_rate: int) -> int:
    """Frames by which the capture lags the sweep (cross-correlation of the first mic)."""
    max_lag = min(round(MAX_ALIGN_LAG_S * sample_rate), len(mics) - 1)
    ref = reference[: round(ALIGN_WINDOW_S * sample_rate)].astype(np.float64)  # the first tones suffice
    corr = fftconvolve(mics[: len(ref) + max_lag, 0].astype(np.float64), ref[::-1], mode="full")
    zero = len(ref) - 1
    window = np.abs(corr[zero : zero + max_lag + 1])
    return int(np.argmax(window))


def _band_noise_db(
    x: NDArray[np.float64], sample_rate: int, frequencies_hz: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Noise power (dBFS) in ±1 kHz around each frequency, per channel: (F, channels)."""
    n = min(len(x), 1 << int(math.log2(max(len(x), 2))))
    spec = np.fft.rfft(x[:n] * np.hanning(n)[:, None], axis=0)
    psd = (np.abs(spec) ** 2) / (np.sum(np.hanning(n) ** 2) * sample_rate) * 2.0  # one-sided, per Hz
    freqs = np.fft.rfftfreq(n, 1.0 / sample_rate)
    df = freqs[1] - freqs[0]
    out = np.empty((len(frequencies_hz), x.shape[1]))
    for i, f in enumerate(frequencies_hz):
        band = np.abs(freqs - f) <= DOPPLER_BAND_HZ / 2
        out[i] = 10.0 * np.log10(psd[band].sum(axis=0) * df + 1e-30)
    return out


def analyse_calibration(
    mics: NDArray[np.float32],
    reference: NDArray[np.float32],
    plan: CalibrationPlan,
    range_m: float = DEFAULT_RANGE_M,
) -> Calibration:
    """Measure the sweep's capture and choose the probe.

    Parameters
    ----------
    mics : ndarray, shape (frames, n_mics), float32: the capture while the sweep played.
    reference : ndarray, shape (frames,), float32: the sweep as emitted (``plan.signal``).
    plan : the plan the sweep came from.
    range_m : detection range wanted, m.

    Returns
    -------
    Calibration

    Raises
    ------
    CalibrationError
        "no ultrasonic response" when no tone rises :data:`MIN_CARRIER_SNR_DB` above the
        noise; "too much ultrasonic noise" when the band is louder than
        :data:`MAX_NOISE_DBFS` everywhere; a capture shorter than the sweep.
    """
    fs = plan.sample_rate
    mics = np.asarray(mics, dtype=np.float32)
    if mics.ndim != 2 or mics.shape[1] < 1:
        raise AudioFormatError(f"capture must be (frames, mics), got shape {mics.shape}")
    reference = np.asarray(reference, dtype=np.float32).reshape(-1)
    if len(reference) < len(plan.signal) * 0.99:
        raise CalibrationError(
            f"the reference holds {len(reference) / fs:.2f} s, the calibration sweep is {len(plan.signal) / fs:.2f} s"
        )
    if len(mics) < len(plan.signal):
        raise CalibrationError(
            f"the capture holds {len(mics) / fs:.2f} s, shorter than the {len(plan.signal) / fs:.2f} s sweep"
        )
    if not range_m > 0.0:
        raise CalibrationError(f"the wanted range must be positive, got {range_m} m")
    lag = min(_align_lag(mics, reference, fs), len(mics) - len(plan.signal))
    x = mics.astype(np.float64)
    freqs = np.asarray(plan.frequencies_hz)
    levels = np.asarray(plan.levels_db)
    silence = plan.segments[0]
    s0, s1 = round(silence.start_s * fs) + lag, round(silence.stop_s * fs) + lag
    background_db = _band_noise_db(x[s0 + round(0.05 * fs) : s1], fs, freqs)  # (F, mics)
    n_mics = x.shape[1]
    carrier_db = np.full((len(levels), len(freqs), n_mics), -200.0)
    tone_noise_db = np.full((len(levels), len(freqs), n_mics), -200.0)
    skip_start, skip_end = round(0.03 * fs), round(0.02 * fs)
    smooth = round(fs / DOPPLER_BAND_HZ)  # boxcar ~ ±1 kHz
    slow_n = round(fs / SLOWEST_DOPPLER_HZ)  # moving average removing < ~20 Hz
    for seg in plan.segments[1:]:
        i_l = int(np.searchsorted(levels, seg.level_db))
        i_f = int(np.argmin(np.abs(freqs - seg.frequency_hz)))
        a = round(seg.start_s * fs) + lag + skip_start
        b = round(seg.stop_s * fs) + lag - skip_end
        seg_x = x[a:b]
        t = (np.arange(a, b) - lag) / fs
        base = seg_x * np.exp(-2j * np.pi * seg.frequency_hz * t)[:, None]
        carrier = base.mean(axis=0)
        carrier_db[i_l, i_f] = 20.0 * np.log10(2.0 * np.abs(carrier) + 1e-30) + 10.0 * math.log10(0.5)
        kernel = np.ones(smooth) / smooth
        slow = np.ones(slow_n) / slow_n
        lp = np.stack([np.convolve(base[:, m] - carrier[m], kernel, mode="valid") for m in range(n_mics)], axis=1)
        # remove what varies slower than the Doppler band (the room's reverberant build-up after
        # the tone starts scales with the level but is not noise for a steady probe)
        band = lp[slow_n // 2 : len(lp) - slow_n // 2] - np.stack(
            [np.convolve(lp[:, m], slow, mode="same")[slow_n // 2 : len(lp) - slow_n // 2] for m in range(n_mics)],
            axis=1,
        )
        # boxcar output power ~ the noise in its ~fs/smooth band; x2 for the real signal's two sides
        tone_noise_db[i_l, i_f] = 10.0 * np.log10(2.0 * np.mean(np.abs(band) ** 2, axis=0) + 1e-30)
    noise_db = 10.0 * np.log10(10.0 ** (background_db[None] / 10.0) + 10.0 ** (tone_noise_db / 10.0))
    snr_db = carrier_db - noise_db  # (L, F, mics)
    mean_snr_db = snr_db.mean(axis=2)
    if mean_snr_db.max() < MIN_CARRIER_SNR_DB:
        if background_db.mean(axis=1).min() > MAX_NOISE_DBFS:
            raise CalibrationError(
                f"too much ultrasonic noise: the quietest band is {background_db.mean(axis=1).min():.1f} dBFS; "
                "switch off ultrasonic sources (other sensors, chargers) and re-run calibration"
            )
        raise CalibrationError(
            f"no ultrasonic response: the best tone reached {mean_snr_db.max():.1f} dB SNR "
            f"(needs {MIN_CARRIER_SNR_DB:.0f} dB) between {freqs[0]:.0f} and {freqs[-1]:.0f} Hz; "
            "check that the speaker and microphones work above 20 kHz and the volume is up"
        )
    gain_db = (carrier_db[-1].mean(axis=1)) - levels[-1]
    usable = np.ones(len(freqs), dtype=bool)
    for i in range(len(freqs)):
        neighbours = np.r_[gain_db[max(0, i - 2) : i], gain_db[i + 1 : i + 3]]
        if len(neighbours) and gain_db[i] - float(np.median(neighbours)) > RESONANCE_DB:
            usable[i] = False
    if not usable.any():
        usable[:] = True
    # candidate levels on a LEVEL_STEP_DB grid; SNR scales with level from the nearest measured level
    grid = np.arange(levels[0], min(levels[-1], MAX_LEVEL_DB) + 1e-9, LEVEL_STEP_DB)
    best: tuple[float, float, float, int, int] | None = None  # (level, -range, f, i_l, i_f)
    fallback: tuple[float, float, float, int, int] | None = None
    for level in grid:
        i_l = int(np.argmin(np.abs(levels - level)))
        for i_f in np.flatnonzero(usable):
            snr = float(mean_snr_db[i_l, i_f] + (level - levels[i_l]))
            r = expected_range_m(snr, float(freqs[i_f]))
            cand = (float(level), -r, float(freqs[i_f]), i_l, int(i_f))
            if r >= range_m and (best is None or cand[:2] < best[:2]):
                best = cand
            if fallback is None or (-r, level) < (fallback[1], fallback[0]):
                fallback = cand
    warnings: list[str] = []
    if best is None:
        assert fallback is not None
        best = fallback
        warnings.append(
            f"the wanted range {range_m:.1f} m is not reached; expected range {-best[1]:.1f} m "
            f"at {best[2]:.0f} Hz and {best[0]:.0f} dBFS"
        )
    level_db, neg_range, frequency_hz, i_l, i_f = best
    delta = level_db - levels[i_l]
    warnings.extend(probe_warnings(frequency_hz, fs))
    if not usable.all():
        warnings.append("avoided resonances at " + ", ".join(f"{f:.0f} Hz" for f in freqs[~usable]))
    return Calibration(
        frequency_hz=frequency_hz,
        level_db=level_db,
        sample_rate=fs,
        range_wanted_m=range_m,
        expected_range_m=-neg_range,
        mic_snr_db=tuple(round(float(v + delta), 2) for v in snr_db[i_l, i_f]),
        noise_floor_db=tuple(round(float(v), 2) for v in noise_db[i_l, i_f]),
        snr_curve={
            "frequency_hz": [float(f) for f in freqs],
            "level_db": [float(v) for v in levels],
            "snr_db": [[round(float(v), 2) for v in row] for row in mean_snr_db],
            "gain_db": [round(float(v), 2) for v in gain_db],
            "usable": [bool(u) for u in usable],
            "mic_snr_db": [[round(float(v + delta), 2) for v in mic] for mic in snr_db[i_l].T],
        },
        warnings=tuple(warnings),
    )


__all__ = [
    "CALIBRATION_LEVELS_DB",
    "DEFAULT_RANGE_M",
    "Calibration",
    "CalibrationError",
    "CalibrationPlan",
    "CalibrationSegment",
    "analyse_calibration",
    "calibration_frequencies_hz",
    "expected_range_m",
    "plan_calibration",
]
