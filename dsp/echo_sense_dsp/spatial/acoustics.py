"""Driver directivity, driver-to-ear and far-field transfer functions of a layout.

Every function returns complex pressure per unit driver input in numpy's FFT sign
convention (a delay of tau seconds is ``exp(-2j*pi*f*tau)``), shaped with frequency first.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from ..physics import SPEED_OF_SOUND_M_S
from .head import HEAD_MODELS, HeadPose
from .layout import DeviceLayout


def driver_directivity(
    frequency_hz: NDArray[np.float64], cos_off_axis: NDArray[np.float64], radius_m: float
) -> NDArray[np.float64]:
    """Smooth piston-like directivity: omni below ka ~ 1, toward a cardioid above.

    D = (1 - w) + w (1 + cos psi) / 2 with w = (ka)^2 / (1 + (ka)^2), k = 2 pi f / c; a
    low-order stand-in for the baffled piston's 2 J1(ka sin psi) / (ka sin psi) that has no
    spurious nulls (Beranek & Mellow, Acoustics, 2nd ed., ch. 13).

    Parameters
    ----------
    frequency_hz : ndarray, shape (F,), Hz
    cos_off_axis : ndarray, any shape S, cosine of the angle from the driver's axis
    radius_m : float, metres

    Returns
    -------
    ndarray, shape (F,) + S, float64, 1 on axis
    """
    ka = 2 * np.pi * np.asarray(frequency_hz) * radius_m / SPEED_OF_SOUND_M_S
    w = (ka**2 / (1 + ka**2)).reshape((-1,) + (1,) * np.ndim(cos_off_axis))
    return np.asarray((1 - w) + w * (1 + np.asarray(cos_off_axis)[None, ...]) / 2)


def _directivity_matrix(
    layout: DeviceLayout, frequency_hz: NDArray[np.float64], targets_m: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Directivity of every driver toward every target point, shape (F, T, N)."""
    pos = layout.positions_m()
    offset = targets_m[:, None, :] - pos[None, :, :]  # (T, N, 3)
    unit = offset / np.linalg.norm(offset, axis=-1, keepdims=True)
    cos_psi = np.einsum("tnk,nk->tn", unit, layout.axes())
    out = np.empty((frequency_hz.size, targets_m.shape[0], layout.n_drivers))
    for n, driver in enumerate(layout.drivers):
        out[:, :, n] = driver_directivity(frequency_hz, cos_psi[:, n], driver.radius_m)
    return out


def driver_to_ear_transfer(
    layout: DeviceLayout, frequency_hz: NDArray[np.float64], pose: HeadPose, head_model: str = "brown_duda"
) -> NDArray[np.complex128]:
    """Acoustic transfer functions from every driver to both ears.

    Parameters
    ----------
    layout : DeviceLayout
    frequency_hz : ndarray, shape (F,), Hz
    pose : HeadPose
    head_model : str, key of :data:`echo_sense_dsp.spatial.head.HEAD_MODELS`

    Returns
    -------
    ndarray, shape (F, 2, n_drivers), complex128, (left, right) ears
    """
    try:
        model = HEAD_MODELS[head_model]
    except KeyError:
        raise ValueError(f"unknown head model {head_model!r}; known: {sorted(HEAD_MODELS)}") from None
    head = model(frequency_hz, layout.positions_m(), pose)
    directivity = _directivity_matrix(layout, frequency_hz, np.asarray(pose.centre_m, dtype=np.float64)[None, :])
    return np.asarray(head * directivity)  # (F, 2, N) * (F, 1, N)


def point_transfer(
    layout: DeviceLayout, frequency_hz: NDArray[np.float64], points_m: NDArray[np.float64]
) -> NDArray[np.complex128]:
    """Free-field transfer functions (no head) from every driver to points.

    Parameters
    ----------
    points_m : ndarray, shape (T, 3), metres

    Returns
    -------
    ndarray, shape (F, T, n_drivers), complex128, 1/r spreading
    """
    pos = layout.positions_m()
    dist = np.linalg.norm(points_m[:, None, :] - pos[None, :, :], axis=-1)  # (T, N)
    phase = np.exp(-2j * np.pi * frequency_hz[:, None, None] * dist[None] / SPEED_OF_SOUND_M_S)
    return np.asarray(_directivity_matrix(layout, frequency_hz, points_m) * phase / dist[None])


def far_field_transfer(
    layout: DeviceLayout, frequency_hz: NDArray[np.float64], directions: NDArray[np.float64]
) -> NDArray[np.complex128]:
    """Plane-wave (far-field) responses of every driver toward unit directions.

    The phase reference is the device centre: a driver at p radiating toward u leads by
    p . u / c.

    Parameters
    ----------
    directions : ndarray, shape (T, 3), unit vectors

    Returns
    -------
    ndarray, shape (F, T, n_drivers), complex128
    """
    pos = layout.positions_m()
    lead_s = directions @ pos.T / SPEED_OF_SOUND_M_S  # (T, N)
    cos_psi = directions @ layout.axes().T  # (T, N)
    out = np.exp(2j * np.pi * frequency_hz[:, None, None] * lead_s[None])
    for n, driver in enumerate(layout.drivers):
        out[:, :, n] *= driver_directivity(frequency_hz, cos_psi[:, n], driver.radius_m)
    return np.asarray(out)


def horizontal_directions(azimuth_rad: NDArray[np.float64], elevation_rad: float = 0.0) -> NDArray[np.float64]:
    """Unit vectors at ``azimuth_rad`` from the device's x axis toward +y, shape (T, 3)."""
    az = np.asarray(azimuth_rad, dtype=np.float64)
    return np.stack(
        [
            np.cos(az) * np.cos(elevation_rad),
            np.sin(az) * np.cos(elevation_rad),
            np.full_like(az, np.sin(elevation_rad)),
        ],
        axis=-1,
    )


__all__ = [
    "driver_directivity",
    "driver_to_ear_transfer",
    "far_field_transfer",
    "horizontal_directions",
    "point_transfer",
]
