"""Complex demodulation around the probe and decimation to a 4 kHz baseband.

Each channel is multiplied by ``exp(-j 2 pi f0 t)`` (complex mixer) so the carrier lands at
0 Hz and an echo from a reflector moving at ``v`` m/s lands at ``2 v f0 / c``. Two
polyphase FIR decimators then bring 96 kHz (or 48 kHz) down to :data:`BASEBAND_RATE_HZ`
(±2 kHz, of which ±1 kHz = ±4.3 m/s at 40 kHz is used for Doppler features). Work is
per hop of :data:`HOP_S`, vectorised over channels, with every buffer allocated once.

Reference: the I/Q demodulation front end of CW Doppler sonar, e.g. M. A. Richards,
*Fundamentals of Radar Signal Processing*, 2nd ed., ch. 3 (quadrature demodulation).
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray
from scipy.signal import firwin

from .blockfilter import SINGLE_THREAD_PRODUCT

BASEBAND_RATE_HZ = 4000  # complex baseband rate after decimation
HOP_S = 0.02  # one feature frame: 20 ms
MID_RATE_HZ = 12000  # after the first stage
_FIRST_STAGE_TAPS_PER_PHASE = 12
_SECOND_STAGE_TAPS_PER_PHASE = 24
_FIRST_STAGE_CUTOFF_HZ = 5000.0  # what aliases onto ±2 kHz (10-14 kHz away) is ~80 dB down
_BASEBAND_CUTOFF_HZ = 1450.0  # flat to ~1 kHz (the Doppler band), ~80 dB down from 2.9 kHz:
# the band the music canceller works in is free of aliases, which no canceller FIR could undo
_KAISER_BETA = 8.0


class PolyphaseDecimator:
    """Streaming FIR low-pass + decimation by an integer factor on fixed-size blocks.

    ``y[k] = sum_i h[i] x[factor k + factor - 1 - i]``, computed for ``block_frames`` input
    frames at a time with the previous ``len(h) - factor`` samples kept as state.

    Samples are kept channel-major as real and imaginary planes, ``(2, channels, frames)``
    float32, so the filter is one contiguous product: the history is cut into rows of
    ``factor`` samples, ``Z = rows @ H`` with ``H[f, p] = h_reversed[p factor + f]`` (one column
    per polyphase branch), and ``y[k] = sum_p Z[k + p, p]`` (a strided diagonal sum).

    Parameters
    ----------
    taps : ndarray, shape (factor * taps_per_phase,), float64: the low-pass FIR.
    factor : decimation factor.
    block_frames : input frames per call (a multiple of ``factor``).
    channels : channel count.
    """

    def __init__(self, taps: NDArray[np.float64], factor: int, block_frames: int, channels: int) -> None:
        if block_frames % factor or len(taps) % factor:
            raise ValueError(f"block of {block_frames} frames / {len(taps)} taps not a multiple of {factor}")
        self.factor = factor
        self.block_frames = block_frames
        self.channels = channels
        self._phases = phases = len(taps) // factor
        self._keep = (phases - 1) * factor
        self._out_frames = block_frames // factor
        rows = self._keep // factor + self._out_frames  # rows of `factor` samples per plane
        self._history = np.zeros((2, channels, rows * factor), dtype=np.float32)
        self._rows = self._history.reshape(2 * channels * rows, factor)  # a view
        # H[f, p] = h_reversed[p factor + f]: window k of the history, dotted with the reversed taps, is y[k]
        self._branches = np.ascontiguousarray(taps[::-1].reshape(phases, factor).T).astype(np.float32)
        self._z = np.zeros((2 * channels * rows, phases), dtype=np.float32)
        zs = self._z.strides
        # y[k] = sum_p Z[k + p, p] per plane and channel: a (2 channels, out_frames, phases) view
        self._diagonals = np.lib.stride_tricks.as_strided(
            self._z,
            shape=(2 * channels, self._out_frames, phases),
            strides=(rows * zs[0], zs[0], zs[0] + zs[1]),
            writeable=False,
        )
        self._out = np.zeros((2, channels, self._out_frames), dtype=np.float32)
        # the product in row blocks below the BLAS threading size (see SINGLE_THREAD_PRODUCT)
        step = max(1, SINGLE_THREAD_PRODUCT // (factor * phases))
        n = self._rows.shape[0]
        self._row_blocks = [slice(lo, min(lo + step, n)) for lo in range(0, n, step)]

    @property
    def inputs(self) -> NDArray[np.float32]:
        """ndarray, shape (2, channels, block_frames), float32: where the next block's real and
        imaginary planes go (a view; call :meth:`shift` before writing it)."""
        return self._history[:, :, self._keep :]

    def reset(self) -> None:
        """Forget the filter state."""
        self._history.fill(0.0)

    def shift(self) -> None:
        """Move the kept history to the front; the next block is then written to :attr:`inputs`."""
        if self._keep:
            self._history[:, :, : self._keep] = self._history[:, :, self.block_frames :]

    def run(self) -> NDArray[np.float32]:
        """Filter and decimate the block in :attr:`inputs`.

        Returns
        -------
        ndarray, shape (2, channels, block_frames // factor), float32: real and imaginary
        planes (a buffer reused by the next call).
        """
        for rows in self._row_blocks:
            np.matmul(self._rows[rows], self._branches, out=self._z[rows])
        np.add.reduce(self._diagonals, axis=2, out=self._out.reshape(2 * self.channels, self._out_frames))
        return self._out

    def process(self, block: NDArray[np.complex64]) -> NDArray[np.complex64]:
        """Filter and decimate one block.

        Parameters
        ----------
        block : ndarray, shape (block_frames, channels), complex64.

        Returns
        -------
        ndarray, shape (block_frames // factor, channels), complex64.
        """
        self.shift()
        self.inputs[0] = block.real.T
        self.inputs[1] = block.imag.T
        return planes_to_complex(self.run())


def planes_to_complex(planes: NDArray[np.float32]) -> NDArray[np.complex64]:
    """(2, channels, frames) real and imaginary planes -> (frames, channels) complex64."""
    out = np.empty((planes.shape[2], planes.shape[1]), dtype=np.complex64)
    pairs = out.view(np.float32).reshape(planes.shape[2], planes.shape[1], 2)
    pairs[:, :, 0] = planes[0].T
    pairs[:, :, 1] = planes[1].T
    return out


class Demodulator:
    """Complex mixer at ``frequency_hz`` + two-stage decimation to the 4 kHz baseband.

    Parameters
    ----------
    frequency_hz : carrier (probe) frequency, Hz; any value (the mixer's phase is carried
        across hops exactly).
    sample_rate : input rate, Hz (96000 or 48000).
    channels : number of channels demodulated together (mics + reference regressors).
    """

    def __init__(self, frequency_hz: float, sample_rate: int, channels: int) -> None:
        self.frequency_hz = frequency_hz
        self.sample_rate = sample_rate
        self.hop_frames = round(HOP_S * sample_rate)
        first_factor = sample_rate // MID_RATE_HZ
        second_factor = MID_RATE_HZ // BASEBAND_RATE_HZ
        if first_factor * MID_RATE_HZ != sample_rate:
            raise ValueError(f"sample rate {sample_rate} Hz is not a multiple of {MID_RATE_HZ} Hz")
        self.baseband_hop = self.hop_frames // (first_factor * second_factor)
        # a strong stop band matters: the drive's own (large) audio aliases into the baseband
        # otherwise, and aliased parts cannot be cancelled by the music canceller's FIRs
        window = ("kaiser", _KAISER_BETA)
        taps1 = firwin(
            first_factor * _FIRST_STAGE_TAPS_PER_PHASE, _FIRST_STAGE_CUTOFF_HZ, window=window, fs=sample_rate
        )
        taps2 = firwin(second_factor * _SECOND_STAGE_TAPS_PER_PHASE, _BASEBAND_CUTOFF_HZ, window=window, fs=MID_RATE_HZ)
        self._stage1 = PolyphaseDecimator(taps1, first_factor, self.hop_frames, channels)
        self._stage2 = PolyphaseDecimator(taps2, second_factor, self.hop_frames // first_factor, channels)
        self.mid_hop = self.hop_frames // first_factor
        n = np.arange(self.hop_frames, dtype=np.float64)
        step = 2.0 * math.pi * frequency_hz / sample_rate
        self._oscillator = np.exp(-1j * step * n).astype(np.complex64)  # one hop, phase 0 at its start
        self._hop_rotation = complex(np.exp(-1j * step * self.hop_frames))
        self._phase = complex(1.0)
        self._osc_hop = np.empty(self.hop_frames, dtype=np.complex64)

    def reset(self) -> None:
        """Forget the filter state (the mixer phase keeps running)."""
        self._stage1.reset()
        self._stage2.reset()

    def process(self, hop: NDArray[np.float32]) -> NDArray[np.complex64]:
        """Demodulate one hop.

        Parameters
        ----------
        hop : ndarray, shape (hop_frames, channels), float32, at ``sample_rate``.

        Returns
        -------
        ndarray, shape (baseband_hop, channels), complex64: the analytic baseband at
        4 kHz. A real tone ``A cos(2 pi f0 t + phi)`` gives the constant ``A/2 e^{j phi}``.
        """
        np.multiply(self._oscillator, np.complex64(self._phase), out=self._osc_hop)
        self._phase *= self._hop_rotation
        self._phase /= abs(self._phase)
        first, second = self._stage1, self._stage2
        first.shift()
        mixed = first.inputs  # the mixer writes straight into the first stage's planes
        np.multiply(hop.T, self._osc_hop.real, out=mixed[0])
        np.multiply(hop.T, self._osc_hop.imag, out=mixed[1])
        mid = first.run()
        second.shift()
        second.inputs[:] = mid
        return planes_to_complex(second.run())

    def decimate_mid(self, mid: NDArray[np.complex64]) -> NDArray[np.complex64]:
        """The second stage alone, for a hop already mixed down to :data:`MID_RATE_HZ`.

        Parameters
        ----------
        mid : ndarray, shape (mid_hop, channels), complex64: the complex envelope around the
            carrier at 12 kHz (a real tone ``A cos(2 pi f0 t + phi)`` is ``A/2 e^{j phi}``), as
            the room simulator's long-run shortcut renders it
            (:class:`~echo_sense_dsp.room.baseband.BasebandRoom`).

        Returns
        -------
        ndarray, shape (baseband_hop, channels), complex64, as :meth:`process` returns.
        """
        return self._stage2.process(mid)


__all__ = ["BASEBAND_RATE_HZ", "HOP_S", "MID_RATE_HZ", "Demodulator", "PolyphaseDecimator", "planes_to_complex"]
