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
PITCH_FFT_SIZE = WINDOW_SIZE + PITCH_MAX_PERIOD  # 576 = 2^6 3^2: the needed lags do not wrap around
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
    spectra : ndarray, shape (2, FREQ_SIZE), complex64
        ``X`` of the newest window (``spectrum``) and ``P``, of the comb-filtered newest
        window (``pitch_spectrum``); both from one FFT call of ``blocks`` (the two windows).
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
    blocks: NDArray[np.float32] = field(default_factory=lambda: np.zeros((2, WINDOW_SIZE), np.float32))
    windowed: NDArray[np.float32] = field(default_factory=lambda: np.zeros((2, WINDOW_SIZE), np.float32))
    spectra: NDArray[np.complex64] = field(default_factory=lambda: np.zeros((2, FREQ_SIZE), np.complex64))
    power: NDArray[np.float32] = field(default_factory=lambda: np.zeros((3, FREQ_SIZE), np.float32))
    band_energy_all: NDArray[np.float32] = field(default_factory=lambda: np.zeros((3, NB_BANDS), np.float32))
    candidate_corr: NDArray[np.float64] = field(default_factory=lambda: np.zeros(NB_PITCH_CANDIDATES, np.float64))
    viterbi_score: NDArray[np.float64] = field(default_factory=lambda: np.zeros(NB_PITCH_CANDIDATES, np.float64))
    viterbi_scratch: NDArray[np.float64] = field(default_factory=lambda: np.zeros(NB_PITCH_CANDIDATES, np.float64))
    pitch_period: int = PITCH_MAX_PERIOD
    pitch_corr: float = 0.0

    @property
    def spectrum(self) -> NDArray[np.complex64]:
        row: NDArray[np.complex64] = self.spectra[0]
        return row

    @property
    def pitch_spectrum(self) -> NDArray[np.complex64]:
        row: NDArray[np.complex64] = self.spectra[1]
        return row

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
    """Window 20 ms blocks and transform them (one FFT call for all of them).

    Parameters
    ----------
    samples : ndarray, shape (..., WINDOW_SIZE), float32
    window : ndarray, shape (WINDOW_SIZE,), float32
    scratch : ndarray, shape (..., WINDOW_SIZE), float32, overwritten
    out : ndarray, shape (..., FREQ_SIZE), complex64, overwritten with the spectra
    """
    np.multiply(samples, window, out=scratch)
    out[:] = np.fft.rfft(scratch)  # allocates one FREQ_SIZE complex128 array (pocketfft has no out=)


def pitch_correlation(spans: NDArray[np.float32], out: NDArray[np.float64]) -> None:
    """Normalised correlation of each row's newest window with its past, for every candidate period.

    Parameters
    ----------
    spans : ndarray, shape (frames, WINDOW_SIZE + PITCH_MAX_PERIOD), float32
        Per frame, the newest ``WINDOW_SIZE`` samples and the ``PITCH_MAX_PERIOD`` before them.
    out : ndarray, shape (frames, NB_PITCH_CANDIDATES), float64, overwritten
        ``out[:, i]`` for period ``PITCH_MIN_PERIOD + i``:
        ``sum x[n] x[n-T] / sqrt(sum x[n]^2 sum x[n-T]^2)`` over the newest window.
    """
    # One FFT correlation: c[m] = sum_n segment[n] span[n + m]; period T = PITCH_MAX_PERIOD - m.
    both = np.zeros((2, len(spans), PITCH_FFT_SIZE), np.float32)
    both[0, :, : spans.shape[1]] = spans
    both[1, :, :WINDOW_SIZE] = spans[:, -WINDOW_SIZE:]  # the segment, zero-padded
    span_spec, segment_spec = np.fft.rfft(both)
    sr, si, gr, gi = span_spec.real, span_spec.imag, segment_spec.real, segment_spec.imag
    # span * conj(segment) in real arithmetic: numpy's complex multiply rounds differently with
    # the array's length (SIMD body vs scalar tail), and the pitch search must not depend on the
    # number of frames analysed together (streaming == whole-signal processing).
    product = np.empty(sr.shape, np.complex64)
    product.real = sr * gr + si * gi
    product.imag = si * gr - sr * gi
    corr = np.fft.irfft(product)
    cum = np.zeros((len(spans), WINDOW_SIZE + PITCH_MAX_PERIOD + 1), np.float64)
    np.cumsum(np.square(spans, dtype=np.float64), axis=-1, out=cum[:, 1:])
    m = NB_PITCH_CANDIDATES
    # lag_energy[m] = sum_{n<WINDOW_SIZE} span[n + m]^2, for m = 0 .. NB_PITCH_CANDIDATES - 1
    lag_energy = cum[:, WINDOW_SIZE : WINDOW_SIZE + m] - cum[:, :m]
    lag_energy *= cum[:, -1:] - cum[:, PITCH_MAX_PERIOD : PITCH_MAX_PERIOD + 1]
    np.sqrt(lag_energy, out=lag_energy)
    lag_energy += 1e-9
    # reverse so that index i is period PITCH_MIN_PERIOD + i
    np.divide(corr[:, m - 1 :: -1], lag_energy[:, ::-1], out=out)


def pitch_search(history: NDArray[np.float32], state: FeatureState) -> None:
    """:func:`pitch_correlation` of the newest window in ``history``, into ``state.candidate_corr``."""
    pitch_correlation(history[None, -(WINDOW_SIZE + PITCH_MAX_PERIOD) :], state.candidate_corr[None])


def viterbi_step(score: NDArray[np.float64], scratch: NDArray[np.float64], corr: NDArray[np.float64]) -> int:
    """One Viterbi forward step over the period candidates, in place; returns the best candidate's index.

    Transition score: 0 for a move of at most ``PITCH_TRACK_RADIUS`` samples, ``-PITCH_JUMP_PENALTY``
    for any larger jump. Observation score: the normalised correlation ``corr``.
    """
    maximum_filter1d(score, size=2 * PITCH_TRACK_RADIUS + 1, mode="nearest", output=scratch)
    np.maximum(scratch, score.max() - PITCH_JUMP_PENALTY, out=score)
    score += corr
    best = int(score.argmax())
    score -= score[best]  # keep the scores bounded
    return best


def pitch_track(state: FeatureState) -> None:
    """:func:`viterbi_step` on ``state.candidate_corr``; sets ``pitch_period`` and ``pitch_corr``."""
    best = viterbi_step(state.viterbi_score, state.viterbi_scratch, state.candidate_corr)
    state.pitch_period = PITCH_MIN_PERIOD + best
    state.pitch_corr = float(state.candidate_corr[best])


def pitch_filter(history: NDArray[np.float32], period: int | NDArray[np.int64], out: NDArray[np.float32]) -> None:
    """Causal comb over the newest window: ``p[n] = (x[n] + x[n-T] + x[n-2T]) / 3``.

    Parameters
    ----------
    history : ndarray, shape (HISTORY_SIZE,) or (frames, HISTORY_SIZE), float32
    period : int, or ndarray of shape (frames,): samples, PITCH_MIN_PERIOD .. PITCH_MAX_PERIOD
    out : ndarray, shape (WINDOW_SIZE,) or (frames, WINDOW_SIZE), float32, overwritten
    """
    start = HISTORY_SIZE - WINDOW_SIZE
    if history.ndim == 1:
        t = int(period)
        taps = [history[start - k * t : HISTORY_SIZE - k * t] for k in range(COMB_TAPS)]
    else:
        window = np.arange(start, HISTORY_SIZE)[None, :]
        periods = np.asarray(period)[:, None]
        taps = [np.take_along_axis(history, window - k * periods, axis=-1) for k in range(COMB_TAPS)]
    np.add(taps[0], taps[1], out=out)
    out += taps[2]
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


def band_features(
    energy: NDArray[np.float32],
    pitch_period: int | NDArray[np.int64],
    pitch_corr: float | NDArray[np.float64],
    features: NDArray[np.float32],
) -> None:
    """The network's input vector from band energies and pitch (layout: FEATURE_LAYOUT).

    Parameters
    ----------
    energy : ndarray, shape (3, NB_BANDS) or (3, frames, NB_BANDS), float32: ``Ex``, ``Ep``, ``Exp``
    pitch_period : int or ndarray (frames,): tracked period, samples
    pitch_corr : float or ndarray (frames,): normalised correlation at that period
    features : ndarray, shape (FEATURE_LAYOUT.size,) or (frames, FEATURE_LAYOUT.size), float32, overwritten
    """
    ex, ep, exp_ = energy
    layout = FEATURE_LAYOUT
    out_e = features[..., layout.band_log_energy]
    np.add(ex, ENERGY_FLOOR, out=out_e)
    np.log10(out_e, out=out_e)
    out_c = features[..., layout.band_pitch_corr]
    np.multiply(ex, ep, out=out_c)
    out_c += 1e-20
    np.sqrt(out_c, out=out_c)
    np.divide(exp_, out_c, out=out_c)
    features[..., layout.pitch_period.start] = np.asarray(pitch_period) / PITCH_MAX_PERIOD
    features[..., layout.pitch_corr.start] = pitch_corr


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
    pitch_search(history, state)
    pitch_track(state)
    state.blocks[0] = history[-WINDOW_SIZE:]
    pitch_filter(history, state.pitch_period, state.blocks[1])
    frame_analysis(state.blocks, state.window, state.windowed, state.spectra)
    band_energy(state.spectrum, state.pitch_spectrum, state.weights, state.power, state.band_energy_all)
    band_features(state.band_energy_all, state.pitch_period, state.pitch_corr, features)


@dataclass
class BlockAnalysis:
    """What :func:`compute_block_features` finds for every frame of a block (frames first).

    Attributes
    ----------
    spectrum, pitch_spectrum : ndarray, shape (frames, FREQ_SIZE), complex64: ``X`` and ``P``
    band_energy : ndarray, shape (3, frames, NB_BANDS), float32: ``Ex``, ``Ep``, ``Exp``
    pitch_period : ndarray, shape (frames,), int64: tracked period, samples
    """

    spectrum: NDArray[np.complex64]
    pitch_spectrum: NDArray[np.complex64]
    band_energy: NDArray[np.float32]
    pitch_period: NDArray[np.int64]


def compute_block_features(
    state: FeatureState, in_block: NDArray[np.float32], features: NDArray[np.float32]
) -> BlockAnalysis:
    """:func:`compute_frame_features` for many hops at once (vectorised over frames, same results).

    Only the Viterbi pitch tracker runs frame by frame. ``state`` ends as if every frame had
    gone through :func:`compute_frame_features`.

    Parameters
    ----------
    state : FeatureState, updated in place
    in_block : ndarray, shape (frames * FRAME_SIZE,), float32, full scale 1.0, 16 kHz
    features : ndarray, shape (frames, FEATURE_LAYOUT.size), float32, overwritten
    """
    frames = len(in_block) // FRAME_SIZE
    assert in_block.shape == (frames * FRAME_SIZE,) and features.shape == (frames, FEATURE_LAYOUT.size)
    signal = np.concatenate((state.history[FRAME_SIZE:], in_block))
    histories = np.lib.stride_tricks.sliding_window_view(signal, HISTORY_SIZE)[::FRAME_SIZE]
    candidates = np.zeros((frames, NB_PITCH_CANDIDATES), np.float64)
    pitch_correlation(histories[:, -(WINDOW_SIZE + PITCH_MAX_PERIOD) :], candidates)
    best = np.zeros(frames, np.int64)
    for t in range(frames):
        best[t] = viterbi_step(state.viterbi_score, state.viterbi_scratch, candidates[t])
    periods = PITCH_MIN_PERIOD + best
    corrs = candidates[np.arange(frames), best]
    blocks = np.zeros((2, frames, WINDOW_SIZE), np.float32)
    blocks[0] = histories[:, -WINDOW_SIZE:]
    pitch_filter(histories, periods, blocks[1])
    spectrum, pitch_spectrum = spectra = np.zeros((2, frames, FREQ_SIZE), np.complex64)
    frame_analysis(blocks, state.window, np.zeros_like(blocks), spectra)
    energy = np.zeros((3, frames, NB_BANDS), np.float32)
    band_energy(spectrum, pitch_spectrum, state.weights, np.zeros((3, frames, FREQ_SIZE), np.float32), energy)
    band_features(energy, periods, corrs, features)
    if frames:
        state.history[:] = signal[-HISTORY_SIZE:]
        state.spectra[:] = spectra[:, -1]
        state.band_energy_all[:] = energy[:, -1]
        state.candidate_corr[:] = candidates[-1]
        state.pitch_period = int(periods[-1])
        state.pitch_corr = float(corrs[-1])
    return BlockAnalysis(spectrum, pitch_spectrum, energy, periods)


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
    "BlockAnalysis",
    "FeatureLayout",
    "FeatureState",
    "band_energy",
    "band_features",
    "band_weights",
    "compute_block_features",
    "compute_frame_features",
    "erb_band_centres_bins",
    "erb_band_edges_hz",
    "frame_analysis",
    "pitch_correlation",
    "pitch_filter",
    "pitch_search",
    "pitch_track",
    "viterbi_step",
    "vorbis_window",
]
