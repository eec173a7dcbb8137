"""IIR filters on fixed-size blocks as one matrix product per block.

A linear filter with state ``s`` maps a block ``x`` of ``N`` samples to
``y = T x + O s`` and its next state to ``s' = C x + D s``. For a fixed block size the four
matrices are constants, so a block costs one small product instead of a ``lfilter`` call
(whose Python-side argument handling costs far more than its arithmetic at the front end's
80-sample hops). The matrices are built by running :func:`scipy.signal.lfilter` itself on unit
impulses and unit states, so the result is ``lfilter``'s, state convention included
(transposed direct form II, ``zi`` / ``zf``), up to floating-point rounding.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.signal import lfilter

# OpenBLAS hands a matrix product to its thread pool above roughly 65536 multiply-adds; for
# products this small the threads' hand-off costs far more than the product (measured 7-100x
# slower on a busy 2-core machine), so the presence front end keeps every product below this size.
SINGLE_THREAD_PRODUCT = 40000


class BlockFilterBank:
    """Several IIR filters, all fed the same complex input, run block by block.

    Parameters
    ----------
    filters : (b, a) coefficient pairs.
    block : samples per block.
    channels : independent complex input columns (each filter runs on each of them).

    :meth:`process` takes ``(block, channels)`` and returns ``(len(filters), block, channels)``.
    """

    def __init__(self, filters: Sequence[tuple[ArrayLike, ArrayLike]], block: int, channels: int) -> None:
        self.block = block
        self.channels = channels
        self._orders = [max(np.size(a), np.size(b)) - 1 for b, a in filters]
        q = sum(self._orders)
        n = len(filters)
        m = np.zeros((n * block + q, block + q))
        row_state = n * block
        col_state = block
        for i, ((b_in, a_in), order) in enumerate(zip(filters, self._orders, strict=True)):
            b = np.asarray(b_in, dtype=np.float64)
            a = np.asarray(a_in, dtype=np.float64)
            rows = slice(i * block, (i + 1) * block)
            srows = slice(row_state, row_state + order)
            for j in range(block):  # response to a unit sample at j, from rest
                x = np.zeros(block)
                x[j] = 1.0
                y, zf = lfilter(b, a, x, zi=np.zeros(order))
                m[rows, j] = y
                m[srows, j] = zf
            for k in range(order):  # response to a unit state, no input
                zi = np.zeros(order)
                zi[k] = 1.0
                y, zf = lfilter(b, a, np.zeros(block), zi=zi)
                m[rows, col_state + k] = y
                m[srows, col_state + k] = zf
            row_state += order
            col_state += order
        self._matrix = m
        self._filters = n
        self._input = np.zeros((block + q, channels), dtype=np.complex128)  # [x; states]
        self._output = np.zeros((n * block + q, channels), dtype=np.complex128)  # [y_0 .. y_n-1; states']
        self._outputs = self._output[: n * block].reshape(n, block, channels)  # a view
        step = max(1, SINGLE_THREAD_PRODUCT // ((block + q) * 2 * channels))
        self._row_blocks = [slice(lo, min(lo + step, m.shape[0])) for lo in range(0, m.shape[0], step)]

    @property
    def state(self) -> NDArray[np.complex128]:
        """ndarray, shape (sum of the filter orders, channels): the filters' states (a view, writable)."""
        return self._input[self.block :]

    def reset(self) -> None:
        """Zero the states."""
        self._input[self.block :] = 0.0

    def process(self, x: NDArray[np.complexfloating]) -> NDArray[np.complex128]:
        """Filter one block.

        Parameters
        ----------
        x : ndarray, shape (block, channels), complex.

        Returns
        -------
        ndarray, shape (filters, block, channels), complex128 (a buffer reused by the next call).
        """
        inp = self._input
        inp[: self.block] = x
        # real matrix times complex columns: one real product over the (re, im) pairs
        x_re_im, y_re_im = inp.view(np.float64), self._output.view(np.float64)
        for rows in self._row_blocks:  # see SINGLE_THREAD_PRODUCT
            np.matmul(self._matrix[rows], x_re_im, out=y_re_im[rows])
        inp[self.block :] = self._output[self._filters * self.block :]
        return self._outputs


__all__ = ["SINGLE_THREAD_PRODUCT", "BlockFilterBank"]
