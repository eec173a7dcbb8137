"""Sample-rate conversion, in one place (polyphase FIR, scipy.signal.resample_poly)."""

from __future__ import annotations

from math import gcd

import numpy as np
from numpy.typing import NDArray
from scipy.signal import resample_poly

from .errors import AudioFormatError, SampleRateError


def resample(samples: NDArray[np.floating], from_rate: int, to_rate: int, axis: int = 0) -> NDArray[np.float32]:
    """Resample a whole signal along ``axis`` from ``from_rate`` to ``to_rate`` (Hz).

    Polyphase filtering with scipy's default Kaiser-windowed anti-aliasing filter; the
    output has ``ceil(n * to_rate / from_rate)`` samples and no added delay.
    """
    if from_rate <= 0 or to_rate <= 0:
        raise SampleRateError(f"sample rates must be positive, got {from_rate} -> {to_rate}")
    x = np.asarray(samples, dtype=np.float32)
    if from_rate == to_rate:
        return x.copy()
    g = gcd(int(from_rate), int(to_rate))
    return np.asarray(resample_poly(x, to_rate // g, from_rate // g, axis=axis), dtype=np.float32)


__all__ = ["resample"]


# --- Streaming resampler (issue 3: the audio engine's voice branch and media bus) -------------------------------

STREAM_STOPBAND_DB = 80.0  # anti-aliasing / anti-imaging attenuation of the streaming filter
STREAM_PASSBAND_FRACTION = 0.85  # passband edge as a fraction of the lower Nyquist frequency


class StreamingResampler:
    """Block-by-block rational resampler: a polyphase FIR that keeps its state between blocks.

    The prototype low-pass is designed once (``scipy.signal.firwin``, Kaiser window,
    ``STREAM_STOPBAND_DB`` of stop-band attenuation, passband to ``STREAM_PASSBAND_FRACTION``
    of the lower Nyquist frequency, stop band from that Nyquist frequency). Feeding a signal in
    any chunking gives the same output as feeding it in one piece (up to float32 rounding).
    The filter is causal: the output lags the input by ``delay_s``.

    Parameters
    ----------
    from_rate, to_rate : int, Hz.
    channels : int, channel count of every block.
    max_block_frames : int, the largest input block :meth:`process_into` will see; sets the
        size of the preallocated work buffer (:meth:`process` grows it when needed).

    Notes
    -----
    With ``L/M = to_rate/from_rate`` in lowest terms and phase filters ``g_p[k] = L h[p + kL]``,
    output ``n`` is ``y[n] = sum_k g_p[k] x[q - k]`` with ``q = (nM) // L`` and ``p = (nM) % L``.
    Outputs of one phase are evenly spaced in the input (stride ``M``), so each phase is one
    strided matrix-vector product over a sliding-window view: no per-sample Python loop.
    """

    def __init__(self, from_rate: int, to_rate: int, channels: int, *, max_block_frames: int = 4096) -> None:
        if from_rate <= 0 or to_rate <= 0:
            raise SampleRateError(f"sample rates must be positive, got {from_rate} -> {to_rate}")
        if channels <= 0:
            raise ValueError(f"channels must be positive, got {channels}")
        from scipy.signal import firwin, kaiserord

        self.from_rate = int(from_rate)
        self.to_rate = int(to_rate)
        self.channels = int(channels)
        g = gcd(self.from_rate, self.to_rate)
        self.up = self.to_rate // g  # L
        self.down = self.from_rate // g  # M
        upsampled_rate = self.from_rate * self.up
        if self.up == 1 and self.down == 1:
            taps = np.ones(1)
        else:
            nyquist_low_hz = min(self.from_rate, self.to_rate) / 2.0
            passband_hz = STREAM_PASSBAND_FRACTION * nyquist_low_hz
            width = (nyquist_low_hz - passband_hz) / (upsampled_rate / 2.0)
            numtaps, beta = kaiserord(STREAM_STOPBAND_DB, width)
            numtaps |= 1  # odd length: an integer group delay
            taps = firwin(numtaps, (passband_hz + nyquist_low_hz) / 2.0, window=("kaiser", beta), fs=upsampled_rate)
        self.numtaps = int(taps.size)
        self.phase_taps = -(-self.numtaps // self.up)  # K, taps per phase
        padded = np.zeros(self.up * self.phase_taps)
        padded[: self.numtaps] = taps * self.up
        # (L, K): phase p's taps, reversed so that a window x[q-K+1 .. q] dots directly with them.
        self._phase_filters = np.ascontiguousarray(padded.reshape(self.phase_taps, self.up).T[:, ::-1], np.float32)
        self.delay_s = (self.numtaps - 1) / 2.0 / upsampled_rate
        self._history = self.phase_taps - 1
        self._alloc(max_block_frames)
        self.reset()

    def _alloc(self, max_block_frames: int) -> None:
        self.max_block_frames = int(max_block_frames)
        # Work buffer, channel-major so each sliding window is contiguous: (channels, history + block).
        self._buf = np.zeros((self.channels, self._history + self.max_block_frames), np.float32)
        self._max_out = self.max_output_frames(self.max_block_frames)
        self._out = np.zeros((self.channels, self._max_out), np.float32)
        self._win = np.zeros((self._max_out, self.phase_taps), np.float32)
        # Every K-frame window of the work buffer, made once (as_strided per call leaves cyclic garbage).
        self._windows = np.lib.stride_tricks.sliding_window_view(self._buf, self.phase_taps, axis=1)
        self._dot = np.zeros(self._max_out, np.float32)

    def reset(self) -> None:
        """Forget the signal seen so far (the history becomes silence)."""
        self._buf[:, : self._history] = 0.0
        self._pos = self._history * self.up  # next output's position, upsampled units from buf[0]

    def max_output_frames(self, input_frames: int) -> int:
        """The most output frames one call with ``input_frames`` input frames can return."""
        return -(-input_frames * self.up // self.down) + 1

    def process(self, block: NDArray[np.floating]) -> NDArray[np.float32]:
        """Resample the next block.

        Parameters
        ----------
        block : ndarray, shape (frames, channels), float, at ``from_rate``.

        Returns
        -------
        ndarray, shape (out_frames, channels), float32, at ``to_rate``, a new array.
        ``out_frames`` is ``frames * to_rate / from_rate`` on average; single blocks may give
        one frame more or less.
        """
        x = np.asarray(block, dtype=np.float32)
        if x.ndim != 2 or x.shape[1] != self.channels:
            raise AudioFormatError(f"expected a (frames, {self.channels}) block, got shape {x.shape}")
        if x.shape[0] > self.max_block_frames:
            history = self._buf[:, : self._history].copy()
            self._alloc(x.shape[0])
            self._buf[:, : self._history] = history
        out = np.empty((self.max_output_frames(x.shape[0]), self.channels), np.float32)
        n = self.process_into(x, out)
        return out[:n].copy()

    def process_into(self, block: NDArray[np.float32], out: NDArray[np.float32]) -> int:
        """Allocation-light :meth:`process`: writes into ``out`` and returns the frame count.

        Parameters
        ----------
        block : ndarray, shape (frames, channels), float32, ``frames <= max_block_frames``.
        out : ndarray, shape (>= max_output_frames(frames), channels), float32.
        """
        frames = block.shape[0]
        total = self._history + frames
        self._buf[:, self._history : total] = block.T
        up, down, pos = self.up, self.down, self._pos
        count = int(max(0, -(-(total * up - pos) // down)))
        windows = self._windows
        for j0 in range(min(up, count)):
            phase_pos = pos + j0 * down
            p, q0 = phase_pos % up, phase_pos // up
            n_j = len(range(j0, count, up))
            start = q0 - self._history
            if down == 1:
                # Pure upsampling: consecutive windows, so a 'valid' convolution per phase and channel
                # (SIMD dot products in numpy) beats gathering windows; allocates one small output row.
                taps = self._phase_filters[p, ::-1]
                for c in range(self.channels):
                    self._out[c, j0 : j0 + (n_j - 1) * up + 1 : up] = np.convolve(
                        self._buf[c, start : start + n_j + self.phase_taps - 1], taps, mode="valid"
                    )
                continue
            for c in range(self.channels):
                # Gather the windows into a contiguous matrix so the product runs in BLAS (sgemv):
                # three times faster than a strided matmul and no hidden temporary.
                np.copyto(self._win[:n_j], windows[c, start : start + (n_j - 1) * down + 1 : down])
                np.dot(self._win[:n_j], self._phase_filters[p], out=self._dot[:n_j])
                self._out[c, j0 : j0 + (n_j - 1) * up + 1 : up] = self._dot[:n_j]
        out[:count] = self._out[:, :count].T
        # Keep the last K-1 input frames as the next call's history.
        self._buf[:, : self._history] = self._buf[:, frames:total] if frames >= self._history else self._shift(frames)
        self._pos = pos + count * down - frames * up
        return count

    def _shift(self, frames: int) -> NDArray[np.float32]:
        # Blocks shorter than the history: the source and target overlap, so copy first.
        return self._buf[:, frames : frames + self._history].copy()


__all__ += ["StreamingResampler"]
