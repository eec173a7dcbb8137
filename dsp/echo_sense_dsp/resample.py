"""Sample-rate conversion, in one place (polyphase FIR, scipy.signal.resample_poly)."""

from __future__ import annotations

from math import gcd

import numpy as np
from numpy.typing import NDArray
from scipy.signal import resample_poly

from .errors import SampleRateError


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
