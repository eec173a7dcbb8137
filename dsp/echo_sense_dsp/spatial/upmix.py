"""Stereo to left/right/centre upmix by mid/side decomposition.

Per band and frame, the centre is the part of the mid signal M = (L+R)/2 that is least
correlated with the side signal S = (L-R)/2 (the least-squares residual of M given S):

    C = M - w S,   w = E[M S*] / E[|S|^2]   (recursively averaged per band)
    L' = L - C,    R' = R - C               (so L' + C = L and R' + C = R exactly)

A centre-panned source (S = 0) lands entirely in C; an amplitude-panned source is fully
coherent between M and S and stays on the sides; uncorrelated ambience is split between
them. Related to the coherence-based upmixers of Avendano & Jot (JAES 52(7/8), 2004) and
Faller (JAES 54(11), 2006). Streaming STFT with sqrt-Hann windows at 50 % overlap
(perfect reconstruction); latency = one hop.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from ..physics import erb_to_hz, hz_to_erb

UPMIX_HOP_S = 0.005
UPMIX_TIME_CONSTANT_S = 0.1
UPMIX_BANDS = 32
_MAX_SIDE_WEIGHT = 4.0
_EPS = 1e-12


def upmix_bands(freq_size: int, sample_rate: int, n_bands: int = UPMIX_BANDS) -> NDArray[np.intp]:
    """Band index of every rfft bin (ERB-spaced bands), shape (freq_size,), int."""
    edges_hz = erb_to_hz(np.linspace(0.0, float(hz_to_erb(sample_rate / 2)), n_bands + 1))
    bins_hz = np.linspace(0.0, sample_rate / 2, freq_size)
    return np.asarray(np.clip(np.searchsorted(edges_hz, bins_hz, side="right") - 1, 0, n_bands - 1))


def upmix_hop_size(sample_rate: int, block_size: int) -> int:
    """Largest divisor of ``block_size`` that is at most :data:`UPMIX_HOP_S` long, frames."""
    limit = max(1, round(UPMIX_HOP_S * sample_rate))
    return max(d for d in range(1, min(limit, block_size) + 1) if block_size % d == 0)


class CentreUpmixer:
    """Streaming L/R -> (L', R', C) upmix.

    Parameters
    ----------
    sample_rate : int, Hz
    block_size : int
        Frames per :meth:`process` call. The hop is the largest divisor of ``block_size`` not
        above 5 ms (240 frames for 480-frame blocks at 48 kHz, 147 for 441 at 44.1 kHz).
    """

    def __init__(self, sample_rate: int, block_size: int) -> None:
        if block_size < 1:
            raise ValueError(f"block_size must be >= 1, got {block_size}")
        self.hop_size = upmix_hop_size(sample_rate, block_size)
        self.block_size = block_size
        self.fft_size = 2 * self.hop_size
        freq_size = self.hop_size + 1
        self.latency_samples = self.hop_size
        n = np.arange(self.fft_size)
        self._window = np.sqrt(0.5 - 0.5 * np.cos(2 * np.pi * n / self.fft_size))  # periodic sqrt-Hann
        self._band_of_bin = upmix_bands(freq_size, sample_rate)
        self._smoothing = float(np.exp(-self.hop_size / (UPMIX_TIME_CONSTANT_S * sample_rate)))
        self._ms = np.zeros(UPMIX_BANDS, dtype=np.complex128)
        self._ss = np.zeros(UPMIX_BANDS)
        self._mm = np.zeros(UPMIX_BANDS)
        self._frame = np.zeros((self.fft_size, 2))
        self._overlap = np.zeros((self.fft_size, 3))

    def reset(self) -> None:
        """Forget the statistics and the overlap (silence)."""
        self._ms.fill(0.0)
        self._ss.fill(0.0)
        self._mm.fill(0.0)
        self._frame.fill(0.0)
        self._overlap.fill(0.0)

    def side_weights(self) -> NDArray[np.complex128]:
        """Current w per band, shape (UPMIX_BANDS,), complex128."""
        w = self._ms / (self._ss + 1e-3 * self._mm + _EPS)
        mag = np.abs(w)
        return np.asarray(np.where(mag > _MAX_SIDE_WEIGHT, w * (_MAX_SIDE_WEIGHT / np.maximum(mag, _EPS)), w))

    def _process_hop(self, hop: NDArray[np.floating], out: NDArray[np.float32]) -> None:
        h = self.hop_size
        self._frame[:h] = self._frame[h:]
        self._frame[h:] = hop
        spectrum = np.fft.rfft(self._frame * self._window[:, None], axis=0)  # allocates (h + 1, 2)
        mid = 0.5 * (spectrum[:, 0] + spectrum[:, 1])
        side = 0.5 * (spectrum[:, 0] - spectrum[:, 1])
        a = self._smoothing
        n_bands = UPMIX_BANDS
        self._ms *= a
        self._ms += (1 - a) * (
            np.bincount(self._band_of_bin, (mid * side.conj()).real, n_bands)
            + 1j * np.bincount(self._band_of_bin, (mid * side.conj()).imag, n_bands)
        )
        self._ss *= a
        self._ss += (1 - a) * np.bincount(self._band_of_bin, np.abs(side) ** 2, n_bands)
        self._mm *= a
        self._mm += (1 - a) * np.bincount(self._band_of_bin, np.abs(mid) ** 2, n_bands)
        centre = mid - self.side_weights()[self._band_of_bin] * side
        upmixed = np.stack([spectrum[:, 0] - centre, spectrum[:, 1] - centre, centre], axis=1)
        frames = np.fft.irfft(upmixed, n=self.fft_size, axis=0) * self._window[:, None]
        self._overlap[:h] = self._overlap[h:]
        self._overlap[h:] = 0.0
        self._overlap += frames
        out[:] = self._overlap[:h]

    def process(self, block: NDArray[np.floating], out: NDArray[np.float32]) -> None:
        """Upmix one block.

        Parameters
        ----------
        block : ndarray, shape (block_size, 2), float, (L, R)
        out : ndarray, shape (block_size, 3), float32, (L', R', C), written in place, delayed by one hop
        """
        h = self.hop_size
        for start in range(0, self.block_size, h):
            self._process_hop(block[start : start + h], out[start : start + h])


__all__ = ["UPMIX_BANDS", "UPMIX_HOP_S", "UPMIX_TIME_CONSTANT_S", "CentreUpmixer", "upmix_bands", "upmix_hop_size"]
