"""Head and propagation model: driver-to-ear transfer functions.

Two head models, selected by name from :data:`HEAD_MODELS`:

``"brown_duda"``
    The filter designer's model: free-field propagation (delay r/c, 1/r spreading) to the
    head centre, Woodworth's frequency-independent ray-tracing ITD around a sphere, and
    Brown & Duda's one-pole/one-zero head-shadow filter.
``"sphere"``
    The evaluation model: the exact rigid-sphere solution for a point source at finite
    distance (Rayleigh's series as written by Duda & Martens, 1998). It is used by the
    benchmark and the tests to judge filters designed on the simpler model.

Coordinates follow the layout schema: x toward the listener, y to the listener's left,
z up, metres, origin at the device centre. Frequencies follow numpy's FFT sign
convention, so a delay of ``tau`` seconds is ``exp(-2j*pi*f*tau)``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import special

from ..physics import SPEED_OF_SOUND_M_S

HEAD_RADIUS_M = 0.0875  # average adult head (Brown & Duda 1998; Woodworth's sphere)
_ALPHA_MIN = 0.1  # Brown & Duda (1998) head-shadow zero at the shadowed pole
_THETA_MIN_RAD = np.deg2rad(150.0)  # Brown & Duda (1998): deepest shadow 150° from the ear
_SPHERE_TERMS_MIN = 24


@dataclass(frozen=True)
class HeadPose:
    """Where the listener's head is and where it looks.

    Attributes
    ----------
    centre_m : tuple of 3 floats, metres
        Head centre in layout coordinates.
    yaw_rad : float, radians
        Rotation of the interaural axis in the horizontal plane (0 = facing the device).
    radius_m : float, metres
        Sphere radius.
    """

    centre_m: tuple[float, float, float]
    yaw_rad: float = 0.0
    radius_m: float = HEAD_RADIUS_M

    def ear_axes(self) -> NDArray[np.float64]:
        """Unit outward normals of the (left, right) ears, shape (2, 3), float64."""
        left = np.array([np.sin(self.yaw_rad), np.cos(self.yaw_rad), 0.0])
        return np.stack([left, -left])

    def ear_positions_m(self) -> NDArray[np.float64]:
        """Positions of the (left, right) ears, shape (2, 3), float64, metres."""
        return np.asarray(self.centre_m, dtype=np.float64)[None, :] + self.radius_m * self.ear_axes()


def woodworth_itd_s(azimuth_rad: NDArray[np.float64] | float, radius_m: float = HEAD_RADIUS_M) -> NDArray[np.float64]:
    """Interaural time difference of a far source, seconds (Woodworth & Schlosberg, 1954).

    ITD = a/c (theta + sin theta) for |theta| <= pi/2, theta the azimuth from the median plane.
    """
    theta = np.clip(np.abs(np.asarray(azimuth_rad, dtype=np.float64)), 0.0, np.pi / 2)
    return np.asarray(radius_m / SPEED_OF_SOUND_M_S * (theta + np.sin(theta)))


def head_shadow_response(
    frequency_hz: NDArray[np.float64], incidence_rad: NDArray[np.float64], radius_m: float = HEAD_RADIUS_M
) -> NDArray[np.complex128]:
    """Brown & Duda (1998) one-pole/one-zero head-shadow filter.

    H = (1 + j alpha(theta) w / (2 w0)) / (1 + j w / (2 w0)), w0 = c / a,
    alpha(theta) = (1 + alpha_min/2) + (1 - alpha_min/2) cos(theta / theta_min * pi).

    Parameters
    ----------
    frequency_hz : ndarray, shape (F,), Hz
    incidence_rad : ndarray, any shape S, radians
        Angle between the ear's outward normal and the direction to the source (0 = facing it).

    Returns
    -------
    ndarray, shape S + (F,), complex128
    """
    w_norm = 2 * np.pi * np.asarray(frequency_hz) * radius_m / (2.0 * SPEED_OF_SOUND_M_S)
    alpha = (1 + _ALPHA_MIN / 2) + (1 - _ALPHA_MIN / 2) * np.cos(np.asarray(incidence_rad) / _THETA_MIN_RAD * np.pi)
    return np.asarray((1 + 1j * alpha[..., None] * w_norm) / (1 + 1j * w_norm))


def _geometry(
    sources_m: NDArray[np.float64], pose: HeadPose
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Distance to the head centre (N,), incidence angle per ear (2, N) and unit directions (N, 3)."""
    offset = sources_m - np.asarray(pose.centre_m)[None, :]
    dist = np.linalg.norm(offset, axis=1)
    unit = offset / dist[:, None]
    cos_inc = np.clip(pose.ear_axes() @ unit.T, -1.0, 1.0)
    return dist, np.arccos(cos_inc), unit


def brown_duda_transfer(
    frequency_hz: NDArray[np.float64], sources_m: NDArray[np.float64], pose: HeadPose
) -> NDArray[np.complex128]:
    """Source-to-ear transfer functions: propagation + Woodworth delay + Brown & Duda shadow.

    Parameters
    ----------
    frequency_hz : ndarray, shape (F,), Hz
    sources_m : ndarray, shape (N, 3), metres
    pose : HeadPose

    Returns
    -------
    ndarray, shape (F, 2, N), complex128
        Pressure at the (left, right) ear per unit source, 1/r spreading (1 at 1 m).
    """
    dist, incidence, _ = _geometry(sources_m, pose)
    a = pose.radius_m
    # Woodworth: a lit ear is a*cos(theta) nearer than the centre, a shadowed one a*(theta - pi/2) farther.
    extra_m = np.where(incidence < np.pi / 2, -a * np.cos(incidence), a * (incidence - np.pi / 2))
    delay_s = (dist[None, :] + extra_m) / SPEED_OF_SOUND_M_S
    phase = np.exp(-2j * np.pi * frequency_hz[None, None, :] * delay_s[..., None])
    shadow = head_shadow_response(frequency_hz, incidence, a)
    h = shadow * phase / dist[None, :, None]
    return np.asarray(np.moveaxis(h, -1, 0))


def sphere_transfer(
    frequency_hz: NDArray[np.float64], sources_m: NDArray[np.float64], pose: HeadPose
) -> NDArray[np.complex128]:
    """Exact rigid-sphere source-to-ear transfer functions (Duda & Martens, 1998, eq. 2).

    H = -(rho/mu) exp(-j mu rho) sum_m (2m+1) P_m(cos theta) h_m(mu rho) / h_m'(mu), with
    rho = r/a, mu = k a and h_m the outgoing spherical Hankel function, normalised to the
    free field at the head centre; multiplied here by that free field exp(-j k r)/r.

    Parameters
    ----------
    frequency_hz : ndarray, shape (F,), Hz (0 Hz is allowed: the head is then transparent)
    sources_m : ndarray, shape (N, 3), metres
    pose : HeadPose

    Returns
    -------
    ndarray, shape (F, 2, N), complex128
    """
    dist, incidence, _ = _geometry(sources_m, pose)
    a = pose.radius_m
    f = np.maximum(np.asarray(frequency_hz, dtype=np.float64), 1e-3)
    mu = 2 * np.pi * f * a / SPEED_OF_SOUND_M_S  # (F,)
    rho = dist / a  # (N,)
    n_terms = max(_SPHERE_TERMS_MIN, int(np.max(mu)) * 2 + 16)
    cos_inc = np.cos(incidence)  # (2, N)
    total = np.zeros((f.size, 2, dist.size), dtype=np.complex128)
    mr = mu[:, None] * rho[None, :]  # (F, N)
    for m in range(n_terms):
        # Outgoing wave for exp(-j k r) convention: h_m = j_m - j y_m (spherical Hankel of the 2nd kind).
        with np.errstate(invalid="ignore", over="ignore"):
            h_far = special.spherical_jn(m, mr) - 1j * special.spherical_yn(m, mr)
            dh = special.spherical_jn(m, mu, derivative=True) - 1j * special.spherical_yn(m, mu, derivative=True)
        legendre = special.eval_legendre(m, cos_inc)  # (2, N)
        with np.errstate(invalid="ignore", over="ignore"):
            ratio = h_far / dh[:, None]  # -> (a/r)^(m+1), 0 once both Hankel functions overflow
        ratio = np.where(np.isfinite(ratio), ratio, 0.0)
        total += (2 * m + 1) * legendre[None, :, :] * ratio[:, None, :]
    # Normalised so that H -> 1 at low frequency; the free field at the head centre then multiplies it.
    h_rel = -(rho[None, None, :] / mu[:, None, None]) * np.exp(1j * mr[:, None, :]) * total
    free = np.exp(-2j * np.pi * f[:, None] * dist[None, :] / SPEED_OF_SOUND_M_S) / dist[None, :]
    return np.asarray(h_rel * free[:, None, :])


HEAD_MODELS: dict[str, Callable[[NDArray[np.float64], NDArray[np.float64], HeadPose], NDArray[np.complex128]]] = {
    "brown_duda": brown_duda_transfer,
    "sphere": sphere_transfer,
}

__all__ = [
    "HEAD_MODELS",
    "HEAD_RADIUS_M",
    "HeadPose",
    "brown_duda_transfer",
    "head_shadow_response",
    "sphere_transfer",
    "woodworth_itd_s",
]
