"""Removal of the speaker's music distortion from the ultrasonic band, using the drive signal.

When music or speech plays through the probe's speaker, the driver's nonlinearity
``y = d + a2 d^2 + a3 d^3 + ...`` (``d`` = probe + music) puts intermodulation products
around the carrier: ``2 a2 p m`` is the music's own waveform shifted to ``f0 ± f_music`` and
``3 a3 p m^2`` its square, both inside the Doppler band. The device knows ``d`` exactly (the
reference), so the canceller demodulates ``d``, ``d^2`` and ``d^3`` with the same mixer as
the mics (:class:`~echo_sense_dsp.presence.demodulation.Demodulator`) and fits, per mic, a
short complex FIR per regressor by exponentially weighted least squares (recursive
block least squares: one small solve per hop, shared by all mics). Each mic gets its own
complex weights, so the different magnitude and phase the distortion has at each mic is
exactly what is learned; a person's echo is uncorrelated with the drive and stays.

Reference: adaptive noise cancelling with a reference input, B. Widrow et al., Proc. IEEE
63(12), 1975; Volterra (polynomial) regressors for loudspeaker nonlinearity,
A. Stenger & W. Kellermann, Signal Processing 80(9), 2000.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy.signal import butter

from .blockfilter import SINGLE_THREAD_PRODUCT, BlockFilterBank
from .drive import REGRESSOR_POWERS

# The cone excursion e (the drive low-passed at a few hundred Hz) modulates the probe: e * p
# lands at baseband as the low-passed music. The d^2 regressor's baseband holds the music
# itself (2 p m -> m), so low-passed copies of it at these corners stand in for e.
EXCURSION_CUTOFFS_HZ = (100.0, 300.0, 1000.0)
CANCELLER_TAPS = 8  # complex taps per regressor at the 4 kHz baseband (2 ms)
# Exponential forgetting of the correlations (time constant ~0.2 s). The fit is a compromise that
# shifts with the music's spectrum; at 0.97 (~0.65 s) its lag after a change in loud music left a
# residue that looked like a walker for up to a second (models/presence/CARD.md, session 10).
FORGETTING_PER_HOP = 0.9
_REGULARISATION = 1e-4  # relative to the mean regressor power


class DistortionCanceller:
    """Exponentially weighted block least-squares canceller of drive-correlated components.

    Parameters
    ----------
    mic_count : number of mic channels.
    hop : baseband samples per hop.
    baseband_rate_hz : rate of the baseband, Hz.
    """

    def __init__(self, mic_count: int, hop: int, baseband_rate_hz: float) -> None:
        self.regressor_channels = len(REGRESSOR_POWERS) + len(EXCURSION_CUTOFFS_HZ)
        self.regressor_count = self.regressor_channels * CANCELLER_TAPS
        k = self.regressor_count
        self._hop = hop
        self._excursion = BlockFilterBank([butter(2, fc, fs=baseband_rate_hz) for fc in EXCURSION_CUTOFFS_HZ], hop, 1)
        self._extended = np.zeros((hop, self.regressor_channels), dtype=np.complex64)
        self._history = np.zeros((CANCELLER_TAPS - 1 + hop, self.regressor_channels), dtype=np.complex64)
        self._x = np.zeros((hop, k), dtype=np.complex128)
        # x[n, r * taps + tap] = regressor r delayed by tap samples = history[taps - 1 - tap + n, r]
        self._x_taps = self._x.reshape(hop, self.regressor_channels, CANCELLER_TAPS)  # a view
        self._delayed = np.lib.stride_tricks.sliding_window_view(self._history, CANCELLER_TAPS, axis=0)[:, :, ::-1]
        self._xh = np.zeros((k, hop), dtype=np.complex128)
        self._gram = np.zeros((k, k), dtype=np.complex128)
        self._gram_rows = max(1, SINGLE_THREAD_PRODUCT // (k * k))
        self._mic_cols = max(1, SINGLE_THREAD_PRODUCT // (hop * k))  # mics per product (cards with many inputs)
        self._estimate = np.zeros((hop, mic_count), dtype=np.complex128)
        self._r = np.zeros((k, k), dtype=np.complex128)
        self._p = np.zeros((k, mic_count), dtype=np.complex128)
        self._w = np.zeros((k, mic_count), dtype=np.complex128)
        self._eye = np.eye(k)
        self.cancelled_db = 0.0  # power removed in the last hop, dB
        self.active = False  # the drive carried more than the probe in the last hop
        # d^2 baseband power per hop below this: nothing but the probe plays (a probe alone leaves
        # ~1e-24 after the decimators' stop band; music at -100 dBFS gives ~1e-13)
        self._silence_power = 1e-16 * hop

    def reset(self) -> None:
        """Forget the learned weights."""
        self._history.fill(0.0)
        self._excursion.reset()
        self._r.fill(0.0)
        self._p.fill(0.0)
        self._w.fill(0.0)

    def process(self, mics: NDArray[np.complex64], regressors: NDArray[np.complex64]) -> NDArray[np.complex64]:
        """Remove the drive-correlated part of one hop of mic baseband.

        Parameters
        ----------
        mics : ndarray, shape (hop, mic_count), complex64: static-free mic baseband.
        regressors : ndarray, shape (hop, 3), complex64: static-free baseband of d, d^2, d^3.

        Returns
        -------
        ndarray, shape (hop, mic_count), complex64: the residual (echoes of moving things),
        """
        taps = CANCELLER_TAPS
        ext = self._extended
        ext[:, : len(REGRESSOR_POWERS)] = regressors
        ext[:, len(REGRESSOR_POWERS) :] = self._excursion.process(regressors[:, 1:2])[:, :, 0].T
        hist = self._history
        hist[: taps - 1] = hist[self._hop :]
        hist[taps - 1 :] = ext
        self.active = float(np.vdot(regressors[:, 1], regressors[:, 1]).real) > self._silence_power
        if not self.active:
            self.cancelled_db = 0.0
            return mics  # only the probe plays: nothing to cancel, no work (the common case)
        x = self._x
        self._x_taps[:] = self._delayed
        xh = self._xh
        np.conjugate(x.T, out=xh)
        self._r *= FORGETTING_PER_HOP
        for lo in range(0, self._hop, self._gram_rows):  # x^H x in row blocks (see SINGLE_THREAD_PRODUCT)
            hi = min(lo + self._gram_rows, self._hop)
            np.matmul(xh[:, lo:hi], x[lo:hi], out=self._gram)
            self._r += self._gram
        self._p *= FORGETTING_PER_HOP
        for lo in range(0, self._p.shape[1], self._mic_cols):
            self._p[:, lo : lo + self._mic_cols] += xh @ mics[:, lo : lo + self._mic_cols]
        power = float(np.real(np.trace(self._r))) / self.regressor_count
        if power > 0.0:
            self._w[:] = np.linalg.solve(self._r + (_REGULARISATION * power + 1e-30) * self._eye, self._p)
        estimate = self._estimate
        for lo in range(0, estimate.shape[1], self._mic_cols):
            np.matmul(x, self._w[:, lo : lo + self._mic_cols], out=estimate[:, lo : lo + self._mic_cols])
        residual = (mics - estimate).astype(np.complex64)
        before = float(np.vdot(mics, mics).real)
        after = float(np.vdot(residual, residual).real)
        self.cancelled_db = 10.0 * float(np.log10((before + 1e-30) / (after + 1e-30)))
        return residual


__all__ = [
    "CANCELLER_TAPS",
    "EXCURSION_CUTOFFS_HZ",
    "FORGETTING_PER_HOP",
    "SINGLE_THREAD_PRODUCT",
    "DistortionCanceller",
]
