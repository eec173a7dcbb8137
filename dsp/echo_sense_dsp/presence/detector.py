"""The streaming presence detector: mic blocks + drive blocks in, occupancy decisions out.

Block diagram per 20 ms hop (:data:`~echo_sense_dsp.presence.demodulation.HOP_S`)::

    mics (frames, n_mics) ─┐
                           ├─ DopplerFrontEnd ── features ── scorer ── OccupancyTracker ── decision
    drive (frames,) ───────┘   (demodulate, remove static,    (CNN or     (strict / sensitive,
                               cancel music, Doppler bands)   baseline)   hold time) ── DutyCycle ── probe

The same object serves the hub (blocks of any size, typically 960 frames) and the CLI's
``motion`` command, so offline decisions equal live ones and are causal: a decision at
time t depends only on input before t.

Scorers are a registry (:data:`SCORERS`): ``"neural"`` (the ONNX classifier) and
``"energy_threshold"`` (the baseline: Doppler energy above the noise floor).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..errors import AudioFormatError, ConfigError
from .calibration import Calibration
from .classifier import MUSIC_MODEL_NAME, MotionClassifier, asset_paths
from .demodulation import HOP_S
from .features import DopplerFrontEnd, peak_band_snr_db, radial_asymmetry_db
from .probe import ProbeGenerator, default_probe_frequency_hz, probe_band_hz
from .tracker import DutyCycle, DutyCycleSettings, OccupancyTracker, TrackerSettings

LEARN_PROBE_S = 0.25  # without a calibration: reference audio used to find the probe
# DopplerFrontEnd.music_level_db from which the music model runs: the simulator's synthetic music at
# about -18 dBFS, the quiet end of the music model's training pool (models/presence/CARD.md, session 6)
LOUD_MUSIC_LEVEL_DB = -30.0
BASELINE_THRESHOLD_DB = 8.0  # energy_threshold scorer: mean SNR of the strongest bands at p = 0.5


@dataclass(frozen=True)
class PresenceDecision:
    """One decision per hop.

    Attributes
    ----------
    t : time at the end of the hop, s since the detector started.
    occupied : the occupancy state.
    motion : "none", "minor" or "major" (this hop's motion).
    score : motion probability P(minor) + P(major), 0..1.
    sensing : False while the probe was paused or settling (the state is held).
    """

    t: float
    occupied: bool
    motion: str
    score: float
    sensing: bool

    def to_json(self) -> dict[str, Any]:
        """The ``echo-sense motion`` line: ``{"t", "occupied", "score", "motion"}``."""
        return {"t": round(self.t, 4), "occupied": self.occupied, "score": round(self.score, 4), "motion": self.motion}


def music_model_active(front: DopplerFrontEnd) -> bool:
    """Does the neural scorer run the music model for this hop? (Loud music plays.)"""
    return front.music_playing and front.music_level_db >= LOUD_MUSIC_LEVEL_DB


class NeuralScorer:
    """P(minor), P(major) from the ONNX classifier; while loud music plays, from its music model.

    The music model runs where it was trained (music at about -18 dBFS or louder, see
    :data:`LOUD_MUSIC_LEVEL_DB`); under quieter music the main model keeps its record (the music
    model, a fine-tune, forgot some of the main model's robustness to curtains and HVAC). Both
    models see every frame, so the one that takes over has its full context; only one runs.
    """

    def __init__(self) -> None:
        self._classifier = MotionClassifier()
        self._music_classifier = MotionClassifier(*asset_paths(MUSIC_MODEL_NAME))

    def score(self, front: DopplerFrontEnd) -> tuple[float, float]:
        self._classifier.append(front.features)
        self._music_classifier.append(front.features)
        p = (self._music_classifier if music_model_active(front) else self._classifier).classify()
        return float(p[1]), float(p[2])


class EnergyThresholdScorer:
    """Baseline: a logistic of the mean SNR of the strongest Doppler bands (no minor/major split)."""

    def __init__(self, threshold_db: float = BASELINE_THRESHOLD_DB) -> None:
        self.threshold_db = threshold_db

    def score(self, front: DopplerFrontEnd) -> tuple[float, float]:
        p = 1.0 / (1.0 + math.exp(-(peak_band_snr_db(front.features) - self.threshold_db) / 1.5))
        return 0.0, p


SCORERS: dict[str, Callable[[], NeuralScorer | EnergyThresholdScorer]] = {
    "neural": NeuralScorer,
    "energy_threshold": EnergyThresholdScorer,
}


class PresenceDetector:
    """Streaming ultrasonic presence detector.

    Parameters
    ----------
    calibration : the calibration result (probe frequency and level); None learns the
        probe from the first :data:`LEARN_PROBE_S` of the drive signal (decisions are
        "not occupied, not sensing" until then).
    sensitivity : 0..1, see :class:`~echo_sense_dsp.presence.tracker.TrackerSettings`.
    hold_time_s : seconds without motion before occupancy clears.
    sample_rate : 96000 (or the 48000 fallback), Hz.
    mic_count : mic channels per block; None takes it from the first block.
    scorer : a key of :data:`SCORERS`.
    duty_cycle : probe pausing settings (``DutyCycleSettings(enabled=False)`` keeps it on).

    Attributes
    ----------
    probe : ProbeGenerator or None: the probe the engine should emit (None until the probe
        is known). Its ``emission_paused`` follows the duty cycle.
    """

    def __init__(
        self,
        calibration: Calibration | None = None,
        *,
        sensitivity: float = 0.5,
        hold_time_s: float = 60.0,
        sample_rate: int = 96000,
        mic_count: int | None = None,
        scorer: str = "neural",
        duty_cycle: DutyCycleSettings | None = None,
    ) -> None:
        probe_band_hz(sample_rate)  # raises SampleRateError for unusable rates
        if calibration is not None and calibration.sample_rate != sample_rate:
            raise ConfigError(
                f"the calibration was made at {calibration.sample_rate} Hz, the detector runs at {sample_rate} Hz"
            )
        if not 0.0 <= sensitivity <= 1.0:
            raise ConfigError(f"sensitivity must be within 0..1, got {sensitivity}")
        if not hold_time_s > 0.0:
            raise ConfigError(f"hold_time_s must be positive, got {hold_time_s}")
        if scorer not in SCORERS:
            raise ConfigError(f"unknown scorer {scorer!r}; known: {', '.join(SCORERS)}")
        self.calibration = calibration
        self.sample_rate = sample_rate
        self.mic_count = mic_count
        self.hop_frames = round(HOP_S * sample_rate)
        self._scorer = SCORERS[scorer]()
        # the baseline stays a plain threshold: no asymmetry or echo check
        neural = scorer == "neural"
        self.tracker = OccupancyTracker(
            TrackerSettings(
                sensitivity=sensitivity,
                hold_time_s=hold_time_s,
                min_asymmetry_db=TrackerSettings.min_asymmetry_db if neural else 0.0,
                min_music_asymmetry_db=TrackerSettings.min_music_asymmetry_db if neural else 0.0,
                min_music_echo_snr_db=TrackerSettings.min_music_echo_snr_db if neural else 0.0,
            )
        )
        self.duty_cycle = DutyCycle(duty_cycle or DutyCycleSettings())
        self.probe: ProbeGenerator | None = None
        self._front: DopplerFrontEnd | None = None
        self._learn: list[NDArray[np.float32]] = []
        self._learned_frames = 0
        self._buffer: NDArray[np.float32] | None = None  # (hop_frames, mic_count + 1)
        self._fill = 0
        self._mid: NDArray[np.complex64] | None = None  # process_mid_rate's hop
        self._hops = 0
        self._sensing_hops = 0
        self._paused_hops = 0
        self._occupied_hops = 0
        self._occupied_paused_hops = 0
        self._asymmetry_db = 0.0
        self.last_decision = PresenceDecision(0.0, False, "none", 0.0, False)
        if calibration is not None:
            self._start(calibration.frequency_hz, calibration.probe_settings().amplitude)

    # --- set-up ---------------------------------------------------------------------------

    def _start(self, frequency_hz: float, amplitude: float | None) -> None:
        from .probe import ProbeSettings

        if self.mic_count is None:
            raise ConfigError("mic_count unknown")  # pragma: no cover - set before _start
        # the probe's presence in each hop is judged against the largest carrier seen so far
        # (robust to a recording made at another level than the calibration's)
        self._front = DopplerFrontEnd(frequency_hz, self.sample_rate, self.mic_count)
        if self.calibration is not None:
            self.probe = ProbeGenerator(self.calibration.probe_settings())
        elif amplitude is not None:
            level_db = min(-6.0, 20.0 * math.log10(max(amplitude, 1e-6)))
            self.probe = ProbeGenerator(ProbeSettings(frequency_hz, level_db, self.sample_rate))

    def _learn_probe(self) -> None:
        """Find the probe's frequency and level in the first LEARN_PROBE_S of the drive."""
        reference = np.concatenate(self._learn)
        self._learn = []
        low_hz, high_hz = probe_band_hz(self.sample_rate)
        if not np.any(reference):
            self._start(default_probe_frequency_hz(self.sample_rate), None)
            return
        window = np.hanning(len(reference))
        spectrum = np.abs(np.fft.rfft(reference * window))
        freqs = np.fft.rfftfreq(len(reference), 1.0 / self.sample_rate)
        band = (freqs >= low_hz - 500.0) & (freqs <= high_hz + 500.0)
        k = int(np.flatnonzero(band)[np.argmax(spectrum[band])])
        # parabolic interpolation of the log-magnitude peak
        a, b, c = np.log(spectrum[k - 1 : k + 2] + 1e-30)
        delta = 0.5 * (a - c) / (a - 2 * b + c) if (a - 2 * b + c) != 0 else 0.0
        frequency_hz = float((k + delta) * self.sample_rate / len(reference))
        amplitude = float(2.0 * spectrum[k] / window.sum())
        frequency_hz = min(max(frequency_hz, low_hz), high_hz)
        self._start(frequency_hz, amplitude)

    # --- streaming ---------------------------------------------------------------------------

    def process(
        self, mic_block: NDArray[np.float32], reference_block: NDArray[np.float32] | None
    ) -> list[PresenceDecision]:
        """Feed one block; get a decision for every 20 ms hop it completes.

        Parameters
        ----------
        mic_block : ndarray, shape (frames, mic_count), float32 at ``sample_rate``.
        reference_block : ndarray, shape (frames,) or (frames, 1), float32: exactly the
            drive signal sent to the speaker over the same frames (probe + any music);
            None when unknown (music cannot be removed then).

        Returns
        -------
        list of PresenceDecision, possibly empty (a hop is 20 ms).
        """
        mics = np.asarray(mic_block, dtype=np.float32)
        if mics.ndim != 2:
            raise AudioFormatError(f"mic block must be (frames, mics), got shape {mics.shape}")
        if self.mic_count is None:
            self.mic_count = mics.shape[1]
        if mics.shape[1] != self.mic_count:
            raise AudioFormatError(f"mic block has {mics.shape[1]} channels, expected {self.mic_count}")
        if reference_block is None:
            ref = None
        else:
            ref = np.asarray(reference_block, dtype=np.float32).reshape(len(reference_block), -1)
            if ref.shape != (mics.shape[0], 1):
                raise AudioFormatError(f"reference block must be ({mics.shape[0]},) mono, got shape {ref.shape}")
        if self._buffer is None:
            self._buffer = np.zeros((self.hop_frames, self.mic_count + 1), dtype=np.float32)
            self._has_reference = ref is not None
        decisions: list[PresenceDecision] = []
        start = 0
        frames = mics.shape[0]
        while start < frames:
            take = min(frames - start, self.hop_frames - self._fill)
            self._buffer[self._fill : self._fill + take, :-1] = mics[start : start + take]
            self._buffer[self._fill : self._fill + take, -1] = 0.0 if ref is None else ref[start : start + take, 0]
            self._fill += take
            start += take
            if self._fill == self.hop_frames:
                self._fill = 0
                decisions.append(self._process_hop(self._buffer))
        return decisions

    def _process_hop(self, hop: NDArray[np.float32]) -> PresenceDecision:
        self._hops += 1
        t = self._hops * self.hop_frames / self.sample_rate
        reference = hop[:, -1] if self._has_reference else None
        if self._front is None:
            if reference is None:
                self._start(default_probe_frequency_hz(self.sample_rate), None)
            else:
                self._learn.append(reference.copy())
                self._learned_frames += self.hop_frames
                if self._learned_frames >= LEARN_PROBE_S * self.sample_rate:
                    self._learn_probe()
                self.last_decision = PresenceDecision(t, False, "none", 0.0, False)
                return self.last_decision
        assert self._front is not None
        self._front.process(hop[:, :-1], reference)
        return self._decide(t)

    def process_mid_rate(self, mic_envelope: NDArray[np.complex64]) -> PresenceDecision:
        """Feed one hop of the mics' 12 kHz complex envelope around a steady probe; get its decision.

        The long-run shortcut: :class:`~echo_sense_dsp.room.baseband.BasebandRoom` renders the
        capture of a steady probe directly as that envelope, and everything after the mixer and
        the first decimator runs as in :meth:`process`. The drive is the calibrated probe alone,
        so its regressors' envelopes are constants (d: ``A/2``; d^2: none at the carrier;
        d^3: ``3 A^3 / 8``). Needs a calibration.

        Parameters
        ----------
        mic_envelope : ndarray, shape (hop_frames // 8, mic_count), complex64 (at 96 kHz).
        """
        front = self._front
        if front is None or self.probe is None or self.mic_count is None:
            raise ConfigError("process_mid_rate needs a detector made with a calibration")
        if self._mid is None:
            a = self.probe.settings.amplitude
            self._mid = np.zeros((front.mid_hop, self.mic_count + 3), dtype=np.complex64)
            self._mid[:, self.mic_count] = a / 2.0
            self._mid[:, self.mic_count + 2] = 3.0 * a**3 / 8.0
        self._mid[:, : self.mic_count] = mic_envelope
        self._hops += 1
        front.process_mid_rate(self._mid)
        return self._decide(self._hops * self.hop_frames / self.sample_rate)

    def process_baseband(self, baseband: NDArray[np.complex64]) -> PresenceDecision:
        """Feed one hop of the 4 kHz baseband; get its decision.

        Everything after demodulation runs as in :meth:`process`. The benchmark's runs with music
        keep this (rendering the room is the expensive part), so another model or tracker is
        re-run on the same capture in seconds. Needs a calibration.

        Parameters
        ----------
        baseband : ndarray, shape (baseband_hop, mic_count + 3), complex64: what
            :meth:`~echo_sense_dsp.presence.features.DopplerFrontEnd.process_baseband` takes
            (the demodulated mics, then the drive's d, d^2, d^3).
        """
        front = self._front
        if front is None or self.mic_count is None:
            raise ConfigError("process_baseband needs a detector made with a calibration")
        if baseband.shape != (front.baseband_hop, self.mic_count + 3):
            raise AudioFormatError(
                f"baseband hop must be ({front.baseband_hop}, {self.mic_count + 3}), got shape {baseband.shape}"
            )
        self._hops += 1
        front.process_baseband(baseband)
        return self._decide(self._hops * self.hop_frames / self.sample_rate)

    def _decide(self, t: float) -> PresenceDecision:
        front = self._front
        assert front is not None
        sensing = front.probe_on and front.settled
        p_minor, p_major = self._scorer.score(front) if sensing else (0.0, 0.0)
        asymmetry = self._asymmetry_db = radial_asymmetry_db(front.features) if sensing else 0.0
        echo_snr = peak_band_snr_db(front.features) if sensing else 0.0
        occupied = self.tracker.update(
            t,
            p_minor,
            p_major,
            sensing=sensing,
            music=front.music_playing,
            asymmetry_db=asymmetry,
            echo_snr_db=echo_snr,
        )
        paused = self.duty_cycle.update(t, occupied, self.tracker.time_to_clear_s(t))
        if self.probe is not None:
            self.probe.emission_paused = paused
        self._sensing_hops += sensing
        self._paused_hops += not front.probe_on
        self._occupied_hops += occupied
        self._occupied_paused_hops += occupied and not front.probe_on
        self.last_decision = PresenceDecision(t, occupied, self.tracker.motion_kind, p_minor + p_major, sensing)
        return self.last_decision

    # --- diagnostics ---------------------------------------------------------------------------

    @property
    def doppler_spectrum_db(self) -> NDArray[np.float32] | None:
        """ndarray, shape (BAND_COUNT,), float32: latest SNR per Doppler band, dB (a view); None before start."""
        front = self._front
        return None if front is None else front.band_snr_db

    @property
    def emission_paused(self) -> bool:
        """True while the duty cycle wants the probe paused."""
        return self.duty_cycle.paused

    @property
    def emission_duty(self) -> float:
        """Fraction of processed time the probe was on (measured in the drive signal), 0..1."""
        return 1.0 if self._hops == 0 else 1.0 - self._paused_hops / self._hops

    @property
    def emission_duty_occupied(self) -> float:
        """Fraction of occupied time the probe was on, 0..1 (1.0 before any occupancy)."""
        if self._occupied_hops == 0:
            return 1.0
        return 1.0 - self._occupied_paused_hops / self._occupied_hops

    def diagnostics(self) -> dict[str, Any]:
        """Numbers for Home Assistant's diagnostics and sensors (JSON-serialisable)."""
        front = self._front
        return {
            "probe_frequency_hz": None if front is None else front.frequency_hz,
            "probe_level_db": None if self.probe is None else self.probe.settings.level_db,
            "sample_rate": self.sample_rate,
            "mic_count": self.mic_count,
            "occupied": self.last_decision.occupied,
            "motion": self.last_decision.motion,
            "score": self.last_decision.score,
            # a fan or curtain moves both ways at once: an empty room's trigger needs a one-sided echo
            "radial_asymmetry_db": round(self._asymmetry_db, 1),
            "min_asymmetry_db": self.tracker.settings.min_asymmetry_db,
            "sensing": self.last_decision.sensing,
            "emission_paused": self.emission_paused,
            "emission_duty": self.emission_duty,
            "emission_duty_occupied": self.emission_duty_occupied,
            "probe_generator_duty": None if self.probe is None else self.probe.emission_duty,
            "music_cancelled_db": None if front is None else float(front.features[-1] * 20.0),
            "music_level_db": None if front is None or not front.music_playing else round(front.music_level_db, 1),
            "music_model_active": front is not None and music_model_active(front),
            "band_snr_db": None if front is None else [round(float(x), 1) for x in front.band_snr_db],
            "seconds_processed": self._hops * self.hop_frames / self.sample_rate,
        }


__all__ = [
    "LEARN_PROBE_S",
    "SCORERS",
    "EnergyThresholdScorer",
    "NeuralScorer",
    "PresenceDecision",
    "PresenceDetector",
]
