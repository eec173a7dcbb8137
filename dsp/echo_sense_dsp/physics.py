"""Physical constants and conversions, each written once with its source and units.

Everyone imports from here: the room simulator, presence sensing, the denoiser's band
layout and the spatial renderer. Add a formula here (with its source) instead of
writing it twice.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

SPEED_OF_SOUND_M_S = 343.0  # 20 °C, dry air
REFERENCE_PRESSURE_KPA = 101.325  # ISO 9613-1 reference atmosphere
_T0_K = 293.15  # ISO 9613-1 reference temperature (20 °C)
_T01_K = 273.16  # triple point of water (ISO 9613-1)
_CELSIUS_TO_KELVIN = 273.15


def speed_of_sound_m_s(temperature_c: float) -> float:
    """Speed of sound in dry air, m/s, at ``temperature_c`` (°C).

    Ideal-gas approximation c = 331.3 * sqrt(1 + T / 273.15) (e.g. Kinsler et al.,
    Fundamentals of Acoustics, 4th ed., eq. 5.6.9); 343.2 m/s at 20 °C. Humidity
    changes it by well under 0.5 % indoors and is ignored.
    """
    if temperature_c <= -_CELSIUS_TO_KELVIN:
        raise ValueError(f"temperature {temperature_c} °C is below absolute zero")
    return float(331.3 * np.sqrt(1.0 + temperature_c / _CELSIUS_TO_KELVIN))


def air_absorption_db_per_m(
    frequency_hz: ArrayLike,
    temperature_c: float = 20.0,
    relative_humidity_pct: float = 50.0,
    pressure_kpa: float = REFERENCE_PRESSURE_KPA,
) -> NDArray[np.float64]:
    """Atmospheric absorption coefficient in dB/m (ISO 9613-1:1993, eqs. 3-5 and B.1).

    About 1.3 dB/m at 40 kHz, 20 °C, 50 % RH: the reason ultrasonic presence sensing
    has a range of metres, not tens of metres.
    """
    f = np.asarray(frequency_hz, dtype=np.float64)
    if not 0.0 <= relative_humidity_pct <= 100.0:
        raise ValueError(f"relative humidity {relative_humidity_pct} % is outside 0..100")
    t_k = temperature_c + _CELSIUS_TO_KELVIN
    pa_pr = pressure_kpa / REFERENCE_PRESSURE_KPA
    c_sat = -6.8346 * (_T01_K / t_k) ** 1.261 + 4.6151
    h = relative_humidity_pct * 10.0**c_sat / pa_pr  # molar concentration of water vapour, %
    fr_o = pa_pr * (24.0 + 4.04e4 * h * (0.02 + h) / (0.391 + h))
    t_ratio = t_k / _T0_K
    fr_n = pa_pr * t_ratio**-0.5 * (9.0 + 280.0 * h * np.exp(-4.170 * (t_ratio ** (-1.0 / 3.0) - 1.0)))
    alpha: NDArray[np.float64] = (
        8.686
        * f**2
        * (
            1.84e-11 / pa_pr * t_ratio**0.5
            + t_ratio**-2.5
            * (
                0.01275 * np.exp(-2239.1 / t_k) / (fr_o + f**2 / fr_o)
                + 0.1068 * np.exp(-3352.0 / t_k) / (fr_n + f**2 / fr_n)
            )
        )
    )
    return alpha


def doppler_shift_hz(
    radial_velocity_m_s: ArrayLike, carrier_hz: float, c_m_s: float = SPEED_OF_SOUND_M_S
) -> NDArray[np.float64]:
    """Doppler shift of an echo off a reflector moving at ``radial_velocity_m_s``.

    Monostatic (speaker and microphone together) first-order approximation
    f_d = 2 v f0 / c; positive velocity = approaching = positive shift.
    """
    return np.asarray(2.0 * np.asarray(radial_velocity_m_s, dtype=np.float64) * carrier_hz / c_m_s)


def hz_to_erb(frequency_hz: ArrayLike) -> NDArray[np.float64]:
    """ERB-rate (Cams) of a frequency: 21.4 log10(1 + 0.00437 f) (Glasberg & Moore, 1990)."""
    return np.asarray(21.4 * np.log10(1.0 + 0.00437 * np.asarray(frequency_hz, dtype=np.float64)))


def erb_to_hz(erb_rate: ArrayLike) -> NDArray[np.float64]:
    """Inverse of :func:`hz_to_erb`."""
    return np.asarray((10.0 ** (np.asarray(erb_rate, dtype=np.float64) / 21.4) - 1.0) / 0.00437)


def db_to_amplitude(level_db: ArrayLike) -> NDArray[np.float64]:
    """Amplitude ratio of a level in dB (20 log10 convention)."""
    return np.asarray(10.0 ** (np.asarray(level_db, dtype=np.float64) / 20.0))


def amplitude_to_db(amplitude: ArrayLike, floor: float = 1e-12) -> NDArray[np.float64]:
    """Level in dB of an amplitude ratio, floored to avoid log(0)."""
    return np.asarray(20.0 * np.log10(np.maximum(np.abs(np.asarray(amplitude, dtype=np.float64)), floor)))


__all__ = [
    "REFERENCE_PRESSURE_KPA",
    "SPEED_OF_SOUND_M_S",
    "air_absorption_db_per_m",
    "amplitude_to_db",
    "db_to_amplitude",
    "doppler_shift_hz",
    "erb_to_hz",
    "hz_to_erb",
    "speed_of_sound_m_s",
]
