"""Frame analysis and the denoiser's feature vector: the ONLY feature code.

The runtime (:mod:`echo_sense_dsp.voice.denoiser`) and the training-data dumper
(``models/denoiser/dataset.py``) both call :func:`compute_frame_features`; the
network sees nothing else. The vector's layout is the frozen :data:`FEATURE_LAYOUT`.

Signal chain of one 10 ms hop (PercepNet, Valin et al., Interspeech 2020):

1. ``frame_analysis``: the newest 20 ms (``WINDOW_SIZE``) is windowed with a
   power-complementary (Vorbis) window and transformed (``X``).
2. ``pitch_search``: normalised cross-correlation of the newest window with its past,
   for every period ``PITCH_MIN_PERIOD..PITCH_MAX_PERIOD`` (one FFT correlation).
3. ``pitch_track``: a Viterbi forward pass over all period candidates (free moves of
   ``PITCH_TRACK_RADIUS`` samples per hop, a fixed penalty for any larger jump).
4. ``pitch_filter``: a causal time-domain comb ``p[n] = (x[n] + x[n-T] + x[n-2T]) / 3``
   over the same window, analysed like ``X`` (``P``).
5. ``band_energy``: ERB-spaced triangular bands (50 % overlap) give ``Ex``, ``Ep`` and the
   cross term ``Exp``; the per-band pitch correlation is ``Exp / sqrt(Ex Ep)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray
from scipy.ndimage import maximum_filter1d

from ..physics import erb_to_hz, hz_to_erb

SAMPLE_RATE = 16000  # Hz: the only rate the denoiser runs at
FRAME_SIZE = 160  # samples per hop (10 ms)
WINDOW_SIZE = 320  # samples per analysis window (20 ms, 50 % overlap)
FFT_SIZE = 320
FREQ_SIZE = FFT_SIZE // 2 + 1  # 161 bins, 50 Hz apart
NB_BANDS = 32  # ERB-spaced triangular bands, 0 Hz .. 8 kHz
PITCH_MIN_PERIOD = 40  # samples: 400 Hz
PITCH_MAX_PERIOD = 256  # samples: 62.5 Hz
NB_PITCH_CANDIDATES = PITCH_MAX_PERIOD - PITCH_MIN_PERIOD + 1
COMB_TAPS = 3  # x[n], x[n-T], x[n-2T]
COMB_NOISE_POWER_GAIN = 1.0 / COMB_TAPS  # power gain of the comb for white noise
HISTORY_SIZE = WINDOW_SIZE + (COMB_TAPS - 1) * PITCH_MAX_PERIOD  # samples kept: window + comb reach
PITCH_FFT_SIZE = 1024  # >= WINDOW_SIZE + PITCH_MAX_PERIOD + WINDOW_SIZE
PITCH_TRACK_RADIUS = 4  # samples a period may move per hop without penalty
PITCH_JUMP_PENALTY = 0.3  # Viterbi cost (in correlation units) of a larger jump
ENERGY_FLOOR = 1e-10  # added before log10 of band energies (full scale = 1.0)


@dataclass(frozen=True)
class FeatureLayout:
    """Named slices of the feature vector; frozen, versioned.

    Attributes
    ----------
    band_log_energy : slice
        ``log10(Ex + ENERGY_FLOOR)`` per band, full scale sine ~ -0.3.
    band_pitch_corr : slice
        ``Exp / sqrt(Ex Ep)`` per band, in [-1, 1].
    pitch_period : slice
        Tracked period in samples divided by ``PITCH_MAX_PERIOD``.
    pitch_corr : slice
        Normalised time-domain correlation at the tracked period, in [-1, 1].
    layout_version : int
        Bumped on any change; checked against the model sidecar at load.
    """

    band_log_energy: slice = field(default_factory=lambda: slice(0, NB_BANDS))
    band_pitch_corr: slice = field(default_factory=lambda: slice(NB_BANDS, 2 * NB_BANDS))
    pitch_period: slice = field(default_factory=lambda: slice(2 * NB_BANDS, 2 * NB_BANDS + 1))
    pitch_corr: slice = field(default_factory=lambda: slice(2 * NB_BANDS + 1, 2 * NB_BANDS + 2))
    size: int = 2 * NB_BANDS + 2
    layout_version: int = 1


FEATURE_LAYOUT = FeatureLayout()


def vorbis_window(window_size: int = WINDOW_SIZE) -> NDArray[np.float32]:
    """Power-complementary (Vorbis) window ``sin(pi/2 sin^2(pi (n + 1/2) / N))``.

    ``w[n]^2 + w[n + N/2]^2 = 1``, so analysis and synthesis with the same window at
    50 % overlap reconstruct perfectly.

    Returns
    -------
    ndarray, shape (window_size,), float32
    """
    n = np.arange(window_size, dtype=np.float64)
    return np.sin(0.5 * np.pi * np.sin(np.pi * (n + 0.5) / window_size) ** 2).astype(np.float32)


def erb_band_centres_bins(nb_bands: int = NB_BANDS) -> NDArray[np.int64]:
    """Band centres (FFT bin indices), equally spaced on the ERB-rate scale.

    Centres at least one bin apart (the low bands, where one ERB is narrower than
    a 50 Hz bin); the first is 0 Hz and the last is Nyquist.

    Returns
    -------
    ndarray, shape (nb_bands,), int64, strictly increasing, from 0 to FREQ_SIZE - 1
    """
    bin_hz = SAMPLE_RATE / FFT_SIZE
    erb = np.linspace(0.0, float(hz_to_erb(SAMPLE_RATE / 2)), nb_bands)
    centres = np.rint(erb_to_hz(erb) / bin_hz).astype(np.int64)
    for i in range(1, nb_bands):
        centres[i] = max(centres[i], centres[i - 1] + 1)
    centres[-1] = FREQ_SIZE - 1
    assert np.all(np.diff(centres) > 0), "band centres must be strictly increasing"
    return centres


def erb_band_edges_hz(nb_bands: int = NB_BANDS) -> NDArray[np.float64]:
    """Band centre frequencies in Hz (each triangle spans its two neighbours' centres)."""
    return erb_band_centres_bins(nb_bands).astype(np.float64) * (SAMPLE_RATE / FFT_SIZE)


def band_weights(nb_bands: int = NB_BANDS) -> NDArray[np.float32]:
    """Triangular ERB band weights with 50 % overlap.

    Returns
    -------
    ndarray, shape (nb_bands, FREQ_SIZE), float32
        Row ``b`` rises linearly from the centre of band ``b-1`` to 1 at its own centre
        and falls to 0 at the centre of band ``b+1``. Every column sums to 1.
    """
    centres = erb_band_centres_bins(nb_bands)
    weights = np.zeros((nb_bands, FREQ_SIZE), dtype=np.float64)
    k = np.arange(FREQ_SIZE, dtype=np.float64)
    for b in range(nb_bands):
        if b > 0:
            lo, c = centres[b - 1], centres[b]
            rise = (k >= lo) & (k <= c)
            weights[b, rise] = (k[rise] - lo) / (c - lo)
        else:
            weights[b, centres[0]] = 1.0
        if b < nb_bands - 1:
            c, hi = centres[b], centres[b + 1]
            fall = (k > c) & (k <= hi)
            weights[b, fall] = (hi - k[fall]) / (hi - c)
    assert np.allclose(weights.sum(axis=0), 1.0), "bands must cover every bin exactly once"
    return weights.astype(np.float32)


@dataclass
class FeatureState:
    """Everything :func:`compute_frame_features` carries from one hop to the next.

    All arrays are allocated here once; per-frame code writes into them.

    Attributes
    ----------
    history : ndarray, shape (HISTORY_SIZE,), float32
        The newest input samples, oldest first.
    spectrum : ndarray, shape (FREQ_SIZE,), complex64
        ``X`` of the newest window.
    pitch_spectrum : ndarray, shape (FREQ_SIZE,), complex64
        ``P``: the comb-filtered newest window.
    band_energy_x, band_energy_p, band_energy_xp : ndarray, shape (NB_BANDS,), float32
        ``Ex``, ``Ep`` and ``Re(Exp)`` of the newest window.
    pitch_period : int
        Tracked period of the newest window, samples.
    pitch_corr : float
        Normalised correlation at ``pitch_period``.
    viterbi_score : ndarray, shape (NB_PITCH_CANDIDATES,), float64
        Accumulated Viterbi scores per candidate period (``PITCH_MIN_PERIOD`` first).
    """

    window: NDArray[np.float32] = field(default_factory=vorbis_window)
    weights: NDArray[np.float32] = field(default_factory=band_weights)
    history: NDArray[np.float32] = field(default_factory=lambda: np.zeros(HISTORY_SIZE, np.float32))
    windowed: NDArray[np.float32] = field(default_factory=lambda: np.zeros(WINDOW_SIZE, np.float32))
    comb: NDArray[np.float32] = field(default_factory=lambda: np.zeros(WINDOW_SIZE, np.float32))
    spectrum: NDArray[np.complex64] = field(default_factory=lambda: np.zeros(FREQ_SIZE, np.complex64))
    pitch_spectrum: NDArray[np.complex64] = field(default_factory=lambda: np.zeros(FREQ_SIZE, np.complex64))
    power: NDArray[np.float32] = field(default_factory=lambda: np.zeros((3, FREQ_SIZE), np.float32))
    band_energy_all: NDArray[np.float32] = field(default_factory=lambda: np.zeros((3, NB_BANDS), np.float32))
    lag_energy: NDArray[np.float64] = field(default_factory=lambda: np.zeros(NB_PITCH_CANDIDATES, np.float64))
    cumulative_energy: NDArray[np.float64] = field(
        default_factory=lambda: np.zeros(WINDOW_SIZE + PITCH_MAX_PERIOD + 1, np.float64)
    )
    candidate_corr: NDArray[np.float64] = field(default_factory=lambda: np.zeros(NB_PITCH_CANDIDATES, np.float64))
    viterbi_score: NDArray[np.float64] = field(default_factory=lambda: np.zeros(NB_PITCH_CANDIDATES, np.float64))
    viterbi_scratch: NDArray[np.float64] = field(default_factory=lambda: np.zeros(NB_PITCH_CANDIDATES, np.float64))
    pitch_period: int = PITCH_MAX_PERIOD
    pitch_corr: float = 0.0

    @property
    def band_energy_x(self) -> NDArray[np.float32]:
        row: NDArray[np.float32] = self.band_energy_all[0]
        return row

    @property
    def band_energy_p(self) -> NDArray[np.float32]:
        row: NDArray[np.float32] = self.band_energy_all[1]
        return row

    @property
    def band_energy_xp(self) -> NDArray[np.float32]:
        row: NDArray[np.float32] = self.band_energy_all[2]
        return row

    def reset(self) -> None:
        """Forget all past input (state after construction)."""
        self.history.fill(0.0)
        self.viterbi_score.fill(0.0)
        self.pitch_period = PITCH_MAX_PERIOD
        self.pitch_corr = 0.0


def frame_analysis(
    samples: NDArray[np.float32], window: NDArray[np.float32], scratch: NDArray[np.float32], out: NDArray[np.complex64]
) -> None:
    """Window one 20 ms block and transform it.

    Parameters
    ----------
    samples : ndarray, shape (WINDOW_SIZE,), float32
    window : ndarray, shape (WINDOW_SIZE,), float32
    scratch : ndarray, shape (WINDOW_SIZE,), float32, overwritten
    out : ndarray, shape (FREQ_SIZE,), complex64, overwritten with the spectrum
    """
    np.multiply(samples, window, out=scratch)
    out[:] = np.fft.rfft(scratch)  # allocates one FREQ_SIZE complex128 array (pocketfft has no out=)


def pitch_search(history: NDArray[np.float32], state: FeatureState) -> None:
    """Normalised correlation of the newest window with its past, for every candidate period.

    Writes ``state.candidate_corr[i]`` for period ``PITCH_MIN_PERIOD + i``:
    ``sum x[n] x[n-T] / sqrt(sum x[n]^2 sum x[n-T]^2)`` over the newest ``WINDOW_SIZE`` samples.
    """
    span = history[-(WINDOW_SIZE + PITCH_MAX_PERIOD) :]
    segment = history[-WINDOW_SIZE:]
    # One FFT correlation: c[m] = sum_n segment[n] span[n + m]; period T = PITCH_MAX_PERIOD - m.
    corr = np.fft.irfft(np.fft.rfft(span, PITCH_FFT_SIZE) * np.conj(np.fft.rfft(segment, PITCH_FFT_SIZE)))
    cum = state.cumulative_energy
    np.cumsum(np.square(span, dtype=np.float64), out=cum[1:])
    m = NB_PITCH_CANDIDATES
    # lag_energy[m] = sum_{n<WINDOW_SIZE} span[n + m]^2, for m = 0 .. NB_PITCH_CANDIDATES - 1
    np.subtract(cum[WINDOW_SIZE : WINDOW_SIZE + m], cum[:m], out=state.lag_energy)
    segment_energy = cum[-1] - cum[PITCH_MAX_PERIOD]
    np.multiply(state.lag_energy, segment_energy, out=state.lag_energy)
    np.sqrt(state.lag_energy, out=state.lag_energy)
    state.lag_energy += 1e-9
    # reverse so that index i is period PITCH_MIN_PERIOD + i
    np.divide(corr[m - 1 :: -1], state.lag_energy[::-1], out=state.candidate_corr)


def pitch_track(state: FeatureState) -> None:
    """One Viterbi forward step over the period candidates; sets ``pitch_period`` and ``pitch_corr``.

    Transition score: 0 for a move of at most ``PITCH_TRACK_RADIUS`` samples, ``-PITCH_JUMP_PENALTY``
    for any larger jump. Observation score: the normalised correlation.
    """
    score = state.viterbi_score
    maximum_filter1d(score, size=2 * PITCH_TRACK_RADIUS + 1, mode="nearest", output=state.viterbi_scratch)
    np.maximum(state.viterbi_scratch, score.max() - PITCH_JUMP_PENALTY, out=score)
    score += state.candidate_corr
    best = int(score.argmax())
    score -= score[best]  # keep the scores bounded
    state.pitch_period = PITCH_MIN_PERIOD + best
    state.pitch_corr = float(state.candidate_corr[best])


def pitch_filter(history: NDArray[np.float32], period: int, out: NDArray[np.float32]) -> None:
    """Causal comb over the newest window: ``p[n] = (x[n] + x[n-T] + x[n-2T]) / 3``.

    Parameters
    ----------
    history : ndarray, shape (HISTORY_SIZE,), float32
    period : int, samples, PITCH_MIN_PERIOD .. PITCH_MAX_PERIOD
    out : ndarray, shape (WINDOW_SIZE,), float32, overwritten
    """
    end = HISTORY_SIZE
    start = end - WINDOW_SIZE
    np.add(history[start:end], history[start - period : end - period], out=out)
    out += history[start - 2 * period : end - 2 * period]
    out *= 1.0 / COMB_TAPS


def band_energy(
    spectrum: NDArray[np.complex64],
    pitch_spectrum: NDArray[np.complex64],
    weights: NDArray[np.float32],
    power: NDArray[np.float32],
    out: NDArray[np.float32],
) -> None:
    """``Ex``, ``Ep`` and ``Re(Exp)`` per band.

    Parameters
    ----------
    spectrum, pitch_spectrum : ndarray, shape (FREQ_SIZE,), complex64
    weights : ndarray, shape (NB_BANDS, FREQ_SIZE), float32
    power : ndarray, shape (3, FREQ_SIZE), float32, scratch
    out : ndarray, shape (3, NB_BANDS), float32: rows Ex, Ep, Exp
    """
    xr, xi, pr, pi = spectrum.real, spectrum.imag, pitch_spectrum.real, pitch_spectrum.imag
    np.multiply(xr, xr, out=power[0])
    power[0] += xi * xi
    np.multiply(pr, pr, out=power[1])
    power[1] += pi * pi
    np.multiply(xr, pr, out=power[2])
    power[2] += xi * pi
    np.matmul(power, weights.T, out=out)


def compute_frame_features(state: FeatureState, in_frame: NDArray[np.float32], features: NDArray[np.float32]) -> None:
    """Analyse one 10 ms hop and write the network's input vector.

    Parameters
    ----------
    state : FeatureState
        Updated in place: history, ``spectrum`` (X), ``pitch_spectrum`` (P), band energies, pitch.
    in_frame : ndarray, shape (FRAME_SIZE,), float32, full scale 1.0, 16 kHz
    features : ndarray, shape (FEATURE_LAYOUT.size,), float32, overwritten (layout: FEATURE_LAYOUT)
    """
    assert in_frame.shape == (FRAME_SIZE,), in_frame.shape
    history = state.history
    history[:-FRAME_SIZE] = history[FRAME_SIZE:]
    history[-FRAME_SIZE:] = in_frame
    frame_analysis(history[-WINDOW_SIZE:], state.window, state.windowed, state.spectrum)
    pitch_search(history, state)
    pitch_track(state)
    pitch_filter(history, state.pitch_period, state.comb)
    frame_analysis(state.comb, state.window, state.windowed, state.pitch_spectrum)
    band_energy(state.spectrum, state.pitch_spectrum, state.weights, state.power, state.band_energy_all)
    ex, ep, exp_ = state.band_energy_all
    layout = FEATURE_LAYOUT
    out_e = features[layout.band_log_energy]
    np.add(ex, ENERGY_FLOOR, out=out_e)
    np.log10(out_e, out=out_e)
    out_c = features[layout.band_pitch_corr]
    np.multiply(ex, ep, out=out_c)
    out_c += 1e-20
    np.sqrt(out_c, out=out_c)
    np.divide(exp_, out_c, out=out_c)
    features[layout.pitch_period] = state.pitch_period / PITCH_MAX_PERIOD
    features[layout.pitch_corr] = state.pitch_corr


__all__ = [
    "COMB_NOISE_POWER_GAIN",
    "COMB_TAPS",
    "FEATURE_LAYOUT",
    "FFT_SIZE",
    "FRAME_SIZE",
    "FREQ_SIZE",
    "HISTORY_SIZE",
    "NB_BANDS",
    "PITCH_MAX_PERIOD",
    "PITCH_MIN_PERIOD",
    "SAMPLE_RATE",
    "WINDOW_SIZE",
    "FeatureLayout",
    "FeatureState",
    "band_energy",
    "band_weights",
    "compute_frame_features",
    "erb_band_centres_bins",
    "erb_band_edges_hz",
    "frame_analysis",
    "pitch_filter",
    "pitch_search",
    "pitch_track",
    "vorbis_window",
]
