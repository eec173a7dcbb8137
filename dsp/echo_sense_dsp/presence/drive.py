"""The drive signal's powers that the front end demodulates next to the mics.

The speaker's nonlinearity puts ``a2 d^2 + a3 d^3`` of the drive ``d`` (probe + music) into the
probe band; the device knows ``d`` exactly, so ``d``, ``d^2`` and ``d^3`` are demodulated with
the mics and serve as the music canceller's regressors (:mod:`~echo_sense_dsp.presence.music`).
A module of its own because rendering a capture needs it and the canceller does not.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

REGRESSOR_POWERS = (1, 2, 3)  # demodulated d, d^2, d^3


def reference_regressors(reference: NDArray[np.float32], out: NDArray[np.float32]) -> NDArray[np.float32]:
    """Powers of the drive signal that the canceller demodulates.

    Parameters
    ----------
    reference : ndarray, shape (frames,), float32: the drive signal sent to the speaker.
    out : ndarray, shape (frames, len(REGRESSOR_POWERS)), float32, written in place.

    Returns
    -------
    ``out``: columns ``d``, ``d^2``, ``d^3``.
    """
    out[:, 0] = reference
    np.multiply(reference, reference, out=out[:, 1])
    np.multiply(out[:, 1], reference, out=out[:, 2])
    return out


__all__ = ["REGRESSOR_POWERS", "reference_regressors"]
