"""Doppler features: the one place the classifier's input is computed.

Per hop of :data:`~echo_sense_dsp.presence.demodulation.HOP_S` the front end
(:class:`DopplerFrontEnd`) runs the block diagram

``demodulate`` (mics and the drive's powers) -> ``remove_static`` (zero-Doppler
high-pass) -> ``cancel_distortion`` (music) -> ``doppler_spectrum`` (Hann-windowed FFT of
the last :data:`DOPPLER_FFT_SIZE` baseband samples) -> ``band_energy`` (radial-velocity
bands) -> ``noise_floor`` -> :func:`compute_frame_features`.

Bands are in radial velocity, not Hz, so the same features (and model) serve any
calibrated carrier: a bin at Doppler ``f_d`` is velocity ``v = f_d c / (2 f0)``. Both the
runtime (:class:`~echo_sense_dsp.presence.detector.PresenceDetector`) and the training
dataset dumper (``models/presence/recipe.py`` through :func:`extract_features`) call this
code; the layout is the frozen :data:`FEATURE_LAYOUT`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from ..physics import SPEED_OF_SOUND_M_S
from .blockfilter import BlockFilterBank
from .demodulation import BASEBAND_RATE_HZ, Demodulator
from .drive import REGRESSOR_POWERS, reference_regressors
from .music import DistortionCanceller

DOPPLER_FFT_SIZE = 256  # baseband samples (64 ms at 4 kHz, 15.6 Hz bins)
VELOCITY_BAND_EDGES_M_S = (0.07, 0.12, 0.2, 0.3, 0.45, 0.65, 0.9, 1.25, 1.7, 2.3, 3.0, 4.0)
BANDS_PER_SIDE = len(VELOCITY_BAND_EDGES_M_S) - 1
BAND_COUNT = 2 * BANDS_PER_SIDE  # receding bands (fastest first), then approaching (slowest first)
WARMUP_S = 1.0  # after start-up: the canceller and the noise floor converge before anything is decided
STATIC_HIGHPASS_HZ = 2.0  # corner of the zero-Doppler (static clutter) removal
SNR_CLIP_DB = 40.0
FLOOR_RATE_QUIET = 0.03  # per hop, log-domain smoothing of the floor in quiet frames (~0.7 s)
FLOOR_RATE_WARMUP = 0.15  # per hop during the warm-up
FLOOR_RATE_MUSIC = 0.05  # per hop, upwards while music plays (~0.4 s)
FLOOR_RATE_BUSY = 0.0005  # per hop, upwards while something moves (~40 s)
QUIET_SNR_DB = 6.0  # a frame whose mean band SNR is below this counts as quiet
MUSIC_LEVEL_RATE = 0.05  # per hop, smoothing of music_level_db (~0.4 s)
PEAK_BANDS = 3  # bands averaged by peak_band_snr_db


@dataclass(frozen=True)
class FeatureLayout:
    """Named slices of the feature vector; bump ``layout_version`` on any change.

    Attributes
    ----------
    layout_version : int, checked against the model sidecar at load.
    slices : name -> slice into the feature vector.
    size : total length.
    """

    layout_version: int
    slices: dict[str, slice] = field(default_factory=dict)

    @property
    def size(self) -> int:
        return int(max(s.stop for s in self.slices.values()))


FEATURE_LAYOUT = FeatureLayout(
    layout_version=1,
    slices={
        # mean over mics of the band SNR above the tracked noise floor, dB / 20, clipped 0..2
        "band_snr": slice(0, BAND_COUNT),
        # mean over mics of the band energy relative to the carrier, (dB + 100) / 20
        "band_echo_level": slice(BAND_COUNT, 2 * BAND_COUNT),
        # power the music canceller removed in this hop, dB / 20, clipped 0..2
        "cancelled": slice(2 * BAND_COUNT, 2 * BAND_COUNT + 1),
    },
)
FEATURE_SIZE = FEATURE_LAYOUT.size


def velocity_band_matrix(frequency_hz: float, c_m_s: float = SPEED_OF_SOUND_M_S) -> NDArray[np.float32]:
    """Averaging matrix from FFT bins to radial-velocity bands.

    Parameters
    ----------
    frequency_hz : carrier, Hz.

    Returns
    -------
    ndarray, shape (DOPPLER_FFT_SIZE, BAND_COUNT), float32: column ``b`` averages the power
    of the bins whose velocity falls in band ``b`` (the nearest bin when none does, as at
    the 48 kHz fallback's low carrier). Bins are in ``np.fft.fftfreq`` order.
    """
    bin_hz = np.fft.fftfreq(DOPPLER_FFT_SIZE, 1.0 / BASEBAND_RATE_HZ)
    bin_velocity = bin_hz * c_m_s / (2.0 * frequency_hz)
    edges = np.asarray(VELOCITY_BAND_EDGES_M_S)
    matrix = np.zeros((DOPPLER_FFT_SIZE, BAND_COUNT), dtype=np.float64)
    lowest_bin_velocity = 1.5 * BASEBAND_RATE_HZ / DOPPLER_FFT_SIZE * c_m_s / (2.0 * frequency_hz)
    for side, sign in enumerate((-1.0, 1.0)):
        for i in range(BANDS_PER_SIDE):
            low, high = edges[i], edges[i + 1]
            speed = sign * bin_velocity
            members = (speed >= max(low, lowest_bin_velocity)) & (speed < high)
            if not members.any():
                centre = 0.5 * (low + high)
                candidates = np.where(sign * bin_velocity > lowest_bin_velocity)[0]
                members = np.zeros(DOPPLER_FFT_SIZE, dtype=bool)
                members[candidates[np.argmin(np.abs(sign * bin_velocity[candidates] - centre))]] = True
            column = i if side == 1 else BANDS_PER_SIDE - 1 - i
            column += BANDS_PER_SIDE if side == 1 else 0
            matrix[members, column] = 1.0 / members.sum()
    return matrix.astype(np.float32)


def compute_frame_features(
    band_energy: NDArray[np.float32],
    noise_floor: NDArray[np.float32],
    carrier_power: NDArray[np.float32],
    cancelled_db: float,
    out: NDArray[np.float32],
) -> NDArray[np.float32]:
    """The classifier's input for one frame (layout :data:`FEATURE_LAYOUT`).

    Parameters
    ----------
    band_energy : ndarray, shape (mics, BAND_COUNT), float32: mean Doppler power per band.
    noise_floor : ndarray, shape (mics, BAND_COUNT), float32: tracked floor of ``band_energy``.
    carrier_power : ndarray, shape (mics,), float32: power of the static (carrier) component.
    cancelled_db : power the music canceller removed, dB.
    out : ndarray, shape (FEATURE_SIZE,), float32, written in place.

    Returns
    -------
    ``out``.
    """
    tiny = np.float32(1e-30)
    snr_db = 10.0 * np.log10((band_energy + tiny) / (noise_floor + tiny))
    out[FEATURE_LAYOUT.slices["band_snr"]] = np.clip(snr_db.mean(axis=0), 0.0, SNR_CLIP_DB) / 20.0
    level_db = 10.0 * np.log10((band_energy + tiny) / (carrier_power[:, None] + tiny))
    out[FEATURE_LAYOUT.slices["band_echo_level"]] = np.clip((level_db.mean(axis=0) + 100.0) / 20.0, 0.0, 5.0)
    out[FEATURE_LAYOUT.slices["cancelled"]] = min(max(cancelled_db, 0.0), SNR_CLIP_DB) / 20.0
    return out


def peak_band_snr_db(features: NDArray[np.float32], bands: int = PEAK_BANDS) -> float:
    """Mean SNR above the noise floor of one frame's strongest ``bands`` velocity bands, dB (>= 0).

    How much Doppler echo the frame holds above what the room (and, while music plays, the
    canceller's residue) usually leaves: the baseline detector's statistic, and the tracker's
    check that a walk-in declared under music has echo to show for it.
    """
    snr_db = 20.0 * features[FEATURE_LAYOUT.slices["band_snr"]].astype(np.float64)
    return float(np.sort(snr_db)[-bands:].mean())


def radial_asymmetry_db(features: NDArray[np.float32]) -> float:
    """How lopsided one frame's Doppler echo is between receding and approaching velocities, dB (>= 0).

    A walker's body moves one way at a time, so most of its echo sits on one side; fan blades,
    curtains and air turbulence move both ways at once and give nearly equal sides. Computed from
    the frame's ``band_echo_level`` features (mean over mics, floored at -100 dB re the carrier),
    so the noise floor pulls a weak mover towards 0 dB.
    """
    level_db = features[FEATURE_LAYOUT.slices["band_echo_level"]].astype(np.float64) * 20.0 - 100.0
    power = 10.0 ** (level_db / 10.0)
    receding, approaching = power[:BANDS_PER_SIDE].sum(), power[BANDS_PER_SIDE:].sum()
    return float(abs(10.0 * np.log10(receding / approaching)))


class DopplerFrontEnd:
    """Streaming front end: one hop of mics + drive in, one feature vector out.

    Parameters
    ----------
    frequency_hz : probe carrier, Hz.
    sample_rate : Hz (96000 or 48000).
    mic_count : number of mic channels.

    Attributes
    ----------
    hop_frames : input frames per hop (20 ms).
    features : ndarray, shape (FEATURE_SIZE,), float32: the latest features.
    band_snr_db : ndarray, shape (BAND_COUNT,), float32: latest mean band SNR, dB (for the
        baseline detector and diagnostics).
    carrier_amplitude : float, |baseband| of the probe in the drive signal (0 = probe off).
    """

    def __init__(self, frequency_hz: float, sample_rate: int, mic_count: int) -> None:
        self.frequency_hz = frequency_hz
        self.sample_rate = sample_rate
        self.mic_count = mic_count
        channels = mic_count + len(REGRESSOR_POWERS)
        self._demodulator = Demodulator(frequency_hz, sample_rate, channels)
        self.hop_frames = self._demodulator.hop_frames
        self.baseband_hop = self._demodulator.baseband_hop
        self.mid_hop = self._demodulator.mid_hop
        self._input = np.zeros((self.hop_frames, channels), dtype=np.float32)
        self._regressor_work = np.zeros((self.hop_frames, len(REGRESSOR_POWERS)), dtype=np.float32)
        pole = float(np.exp(-2.0 * np.pi * STATIC_HIGHPASS_HZ / BASEBAND_RATE_HZ))
        self._highpass = BlockFilterBank([(np.array([1.0, -1.0]), np.array([1.0, -pole]))], self.baseband_hop, channels)
        self._static = np.zeros(channels, dtype=np.complex128)
        self._canceller = DistortionCanceller(mic_count, self.baseband_hop, BASEBAND_RATE_HZ)
        self._ring = np.zeros((DOPPLER_FFT_SIZE, mic_count), dtype=np.complex64)
        self._window = np.hanning(DOPPLER_FFT_SIZE + 2)[1:-1].astype(np.float32)
        self._window_gain = float(np.sum(self._window**2))
        self._bands = velocity_band_matrix(frequency_hz)
        self._floor = np.zeros((mic_count, BAND_COUNT), dtype=np.float32)
        self._floor_ready = False
        self.features = np.zeros(FEATURE_SIZE, dtype=np.float32)
        self.band_snr_db = np.zeros(BAND_COUNT, dtype=np.float32)
        self.carrier_amplitude = 0.0
        self.band_energy = np.zeros((mic_count, BAND_COUNT), dtype=np.float32)
        self._hops_since_reset = 0
        self._hops_total = 0
        self._warmup_hops = round(WARMUP_S * BASEBAND_RATE_HZ / self.baseband_hop)
        self.expected_carrier_amplitude: float | None = None
        self.probe_on = True
        self._carrier_max = 0.0
        self._music_power = 0.0

    def restart(self) -> None:
        """Re-seed the static estimate after the probe came back on (no transient)."""
        self._hops_since_reset = 0
        self._ring.fill(0.0)

    @property
    def window_full(self) -> bool:
        """True once the Doppler window holds only samples taken since the last restart."""
        return self._hops_since_reset * self.baseband_hop >= DOPPLER_FFT_SIZE + 2 * self.baseband_hop

    @property
    def settled(self) -> bool:
        """True once the window is full and the start-up warm-up (:data:`WARMUP_S`) is over."""
        return self._hops_total >= self._warmup_hops and self.window_full

    def process(self, mics: NDArray[np.float32], reference: NDArray[np.float32] | None) -> NDArray[np.float32]:
        """Process one hop.

        Parameters
        ----------
        mics : ndarray, shape (hop_frames, mic_count), float32.
        reference : ndarray, shape (hop_frames,), float32, the drive signal; None when unknown
            (the canceller is then skipped).

        Returns
        -------
        ndarray, shape (FEATURE_SIZE,), float32: :attr:`features` (updated in place).
        """
        m = self.mic_count
        self._input[:, :m] = mics
        if reference is None:
            self._input[:, m:] = 0.0
        else:
            self._input[:, m:] = reference_regressors(reference, self._regressor_work)
        return self.process_baseband(self._demodulator.process(self._input), reference is not None)

    def process_mid_rate(self, mid: NDArray[np.complex64]) -> NDArray[np.float32]:
        """Process one hop given as its 12 kHz complex envelope (mics, then d, d^2, d^3).

        See :meth:`~echo_sense_dsp.presence.demodulation.Demodulator.decimate_mid`; everything
        after the mixer and the first decimator runs as in :meth:`process`.
        """
        return self.process_baseband(self._demodulator.decimate_mid(mid))

    def process_baseband(self, baseband: NDArray[np.complex64], reference_known: bool = True) -> NDArray[np.float32]:
        """Process one hop from the 4 kHz baseband on (what :meth:`process` does after demodulating).

        Parameters
        ----------
        baseband : ndarray, shape (baseband_hop, mic_count + 3), complex64: the demodulated
            mics, then the demodulated drive powers d, d^2, d^3
            (:func:`~echo_sense_dsp.presence.drive.reference_regressors`).
        reference_known : False when the drive is unknown (the regressor columns are ignored).

        Returns
        -------
        ndarray, shape (FEATURE_SIZE,), float32: :attr:`features` (updated in place).
        """
        m = self.mic_count
        self.carrier_amplitude = float(abs(np.add.reduce(baseband[:, m]) / len(baseband))) if reference_known else 1.0
        self.update_probe_state()
        if not self.probe_on:
            return self.features
        moving = self.remove_static(baseband)
        if reference_known:
            music = moving[:, m + 1]  # d^2 at the carrier is 2 p m alone: the music's part below ~2 kHz
            power = float(np.vdot(music, music).real) / len(music)
            self._music_power += MUSIC_LEVEL_RATE * (power - self._music_power)
            cleaned = self._canceller.process(moving[:, :m], moving[:, m:])
            cancelled_db = self._canceller.cancelled_db
        else:
            cleaned = moving[:, :m]
            cancelled_db = 0.0
        self._hops_since_reset += 1
        self._hops_total += 1
        energy = self.doppler_band_energy(cleaned)
        if self.window_full:
            self.update_noise_floor(energy)
        carrier_power = (np.abs(self._static[:m]) ** 2).astype(np.float32)
        compute_frame_features(energy, self._floor, carrier_power, cancelled_db, self.features)
        self.band_snr_db = (20.0 * self.features[FEATURE_LAYOUT.slices["band_snr"]]).astype(np.float32)
        return self.features

    @property
    def music_level_db(self) -> float:
        """How loud the drive's music is: the smoothed power of its d^2 regressor at the carrier (the
        music's content below about 2 kHz times the probe) re the probe's amplitude squared, dB; -inf
        without music or reference. For the simulator's synthetic music it reads about 12 dB below the
        music's overall level in dBFS."""
        if not self.music_playing or self._music_power <= 0.0 or self.carrier_amplitude <= 0.0:
            return -math.inf
        return 10.0 * math.log10(self._music_power / (4.0 * self.carrier_amplitude**2))

    @property
    def music_playing(self) -> bool:
        """The drive carried more than the probe (music, speech) in the last hop."""
        return self._canceller.active

    def update_probe_state(self) -> None:
        """Is the probe on in this hop? Compare its carrier in the drive with the expected one.

        The expected carrier amplitude is :attr:`expected_carrier_amplitude` when the
        detector knows the probe level, else the largest seen so far. A hop whose carrier is
        below 90 % of it (a pause, or a ramp) leaves the front end unsettled; the next full
        hop re-seeds the static estimate (:meth:`restart`).
        """
        expected = self.expected_carrier_amplitude
        if expected is None:
            self._carrier_max = max(self._carrier_max, self.carrier_amplitude)
            expected = self._carrier_max
        on = self.carrier_amplitude >= 0.9 * expected and expected > 0.0
        if on and not self.probe_on:
            self.restart()
        self.probe_on = on

    def remove_static(self, baseband: NDArray[np.complex64]) -> NDArray[np.complex64]:
        """Zero-Doppler removal: one-pole high-pass at :data:`STATIC_HIGHPASS_HZ` per channel.

        After :meth:`restart` the filter is re-seeded with the hop's mean, so the step of a
        probe switching on does not ring through the Doppler spectrum.
        """
        mean = np.add.reduce(baseband, axis=0) / len(baseband)  # (as ndarray.mean, without its wrapper)
        if self._hops_since_reset == 0:
            # steady state of the high-pass (transposed direct form II) for a constant input:
            # output 0, state = -mean
            self._highpass.state[0] = -mean
        out = self._highpass.process(baseband)[0]
        self._static += 0.05 * (mean - self._static)
        if self._hops_since_reset == 0:
            self._static[:] = mean
        return np.asarray(out, dtype=np.complex64)

    def doppler_band_energy(self, cleaned: NDArray[np.complex64]) -> NDArray[np.float32]:
        """Push one hop into the Doppler window and return the band energies.

        Returns
        -------
        ndarray, shape (mic_count, BAND_COUNT), float32: mean power per velocity band
        (power of a unit complex exponential = 1).
        """
        hop = cleaned.shape[0]
        ring = self._ring
        ring[:-hop] = ring[hop:]
        ring[-hop:] = cleaned
        spectrum = np.fft.fft(ring * self._window[:, None], axis=0)  # allocation: numpy FFT result
        power = (spectrum.real**2 + spectrum.imag**2).astype(np.float32) / np.float32(
            self._window_gain * DOPPLER_FFT_SIZE
        )
        np.matmul(power.T, self._bands, out=self.band_energy)
        return self.band_energy

    def update_noise_floor(self, energy: NDArray[np.float32]) -> None:
        """Track the floor of each band: a log-domain average over quiet frames.

        Downwards it always follows at :data:`FLOOR_RATE_QUIET`; upwards only slowly
        (:data:`FLOOR_RATE_BUSY`) while the frame's mean SNR says something moves, so a
        steady fan sinks into the floor within seconds but a walker does not. While music
        plays it rises at :data:`FLOOR_RATE_MUSIC`, so the canceller's residue counts as noise.
        """
        if not self._floor_ready:
            self._floor[:] = energy
            self._floor_ready = True
            return
        log_e = np.log(energy + 1e-30)
        log_f = np.log(self._floor + 1e-30)
        quiet = float(np.mean(log_e - log_f)) * 10.0 / np.log(10.0) < QUIET_SNR_DB
        quiet_rate = FLOOR_RATE_QUIET if self._hops_total >= self._warmup_hops else FLOOR_RATE_WARMUP
        rise = quiet_rate if quiet or self._hops_total < self._warmup_hops else FLOOR_RATE_BUSY
        if self.music_playing:  # the canceller's residue comes and goes with the music: follow it up
            rise = FLOOR_RATE_MUSIC
        rate = np.where(log_e < log_f, quiet_rate, rise)
        self._floor[:] = np.exp(log_f + rate * (log_e - log_f))


def extract_features(
    mics: NDArray[np.float32],
    reference: NDArray[np.float32] | None,
    frequency_hz: float,
    sample_rate: int,
) -> tuple[NDArray[np.float32], NDArray[np.bool_]]:
    """Run the front end over whole recordings (the training dataset dumper's entry).

    Parameters
    ----------
    mics : ndarray, shape (frames, mics), float32.
    reference : ndarray, shape (frames,), float32 or None: the drive signal.
    frequency_hz, sample_rate : the probe carrier and the rate, Hz.

    Returns
    -------
    features : ndarray, shape (hops, FEATURE_SIZE), float32, one row per 20 ms hop.
    valid : ndarray, shape (hops,), bool: the front end had settled and the probe was on.
    """
    front = DopplerFrontEnd(frequency_hz, sample_rate, mics.shape[1])
    hops = mics.shape[0] // front.hop_frames
    features = np.zeros((hops, FEATURE_SIZE), dtype=np.float32)
    valid = np.zeros(hops, dtype=bool)
    for i in range(hops):
        sl = slice(i * front.hop_frames, (i + 1) * front.hop_frames)
        features[i] = front.process(mics[sl], None if reference is None else reference[sl])
        valid[i] = front.settled and front.probe_on
    return features, valid


__all__ = [
    "BAND_COUNT",
    "DOPPLER_FFT_SIZE",
    "FEATURE_LAYOUT",
    "FEATURE_SIZE",
    "VELOCITY_BAND_EDGES_M_S",
    "DopplerFrontEnd",
    "FeatureLayout",
    "compute_frame_features",
    "extract_features",
    "peak_band_snr_db",
    "radial_asymmetry_db",
    "velocity_band_matrix",
]
