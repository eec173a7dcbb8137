"""Uniformly partitioned overlap-save FFT convolution of a multichannel FIR matrix.

Each input block of ``partition_size`` frames is transformed once (FFT size 2B) and pushed
into a frequency-domain delay line; the output is the sum over partitions of delayed input
spectra times filter-partition spectra (Wefers, Partitioned convolution algorithms for
real-time auralization, PhD thesis, RWTH Aachen, 2014, ch. 5; Gardner, JAES 43(3), 1995).
It adds no latency beyond the block itself.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray


class PartitionedConvolver:
    """Streaming MIMO FIR filter: y_o = sum_i h_{i,o} * x_i.

    Parameters
    ----------
    impulse_responses : ndarray, shape (taps, n_inputs, n_outputs), float
    partition_size : int
        Block size B in frames; :meth:`process` takes exactly B frames.

    Notes
    -----
    All buffers are allocated here. Per block, numpy's ``rfft``/``irfft`` return new arrays
    (about 2 x n_channels x (B + 1) complex values); everything else works in place.
    """

    def __init__(self, impulse_responses: NDArray[np.floating], partition_size: int) -> None:
        if impulse_responses.ndim != 3:
            raise ValueError(
                f"impulse_responses must be (taps, n_inputs, n_outputs), got shape {impulse_responses.shape}"
            )
        if partition_size < 1:
            raise ValueError(f"partition_size must be >= 1, got {partition_size}")
        taps, self.n_inputs, self.n_outputs = impulse_responses.shape
        self.partition_size = partition_size
        self.fft_size = 2 * partition_size
        self.n_partitions = -(-taps // partition_size)
        freq_size = partition_size + 1
        padded = np.zeros((self.n_partitions * partition_size, self.n_inputs, self.n_outputs), dtype=np.float64)
        padded[:taps] = impulse_responses
        parts = padded.reshape(self.n_partitions, partition_size, self.n_inputs, self.n_outputs)
        spectra = np.fft.rfft(parts, n=self.fft_size, axis=1)  # (P, F, I, O)
        # (F, P*I, O): row p*I + i multiplies the input spectrum of block k-p, channel i.
        self._filter_spectra = np.ascontiguousarray(
            np.transpose(spectra, (1, 0, 2, 3)).reshape(freq_size, self.n_partitions * self.n_inputs, self.n_outputs)
        ).astype(np.complex128)
        self._input_window = np.zeros((self.fft_size, self.n_inputs), dtype=np.float64)
        self._delay_line = np.zeros((freq_size, 1, self.n_partitions * self.n_inputs), dtype=np.complex128)
        self._output_spectra = np.zeros((freq_size, 1, self.n_outputs), dtype=np.complex128)

    def reset(self) -> None:
        """Forget all past input (silence)."""
        self._input_window.fill(0.0)
        self._delay_line.fill(0.0)

    def process(self, block: NDArray[np.floating], out: NDArray[np.float32]) -> None:
        """Filter one block.

        Parameters
        ----------
        block : ndarray, shape (partition_size, n_inputs), float
        out : ndarray, shape (partition_size, n_outputs), float32, written in place
        """
        b = self.partition_size
        self._input_window[:b] = self._input_window[b:]
        self._input_window[b:] = block
        spectrum = np.fft.rfft(self._input_window, axis=0)  # allocates (B + 1, I) complex
        n_in = self.n_inputs
        self._delay_line[:, 0, n_in:] = self._delay_line[:, 0, :-n_in]
        self._delay_line[:, 0, :n_in] = spectrum
        np.matmul(self._delay_line, self._filter_spectra, out=self._output_spectra)
        out[:] = np.fft.irfft(self._output_spectra[:, 0, :], n=self.fft_size, axis=0)[b:]  # allocates (2B, O)


__all__ = ["PartitionedConvolver"]
