"""Physical formulas against published values and closed forms."""

from __future__ import annotations

import numpy as np
import pytest

from echo_sense_dsp import physics

SPEED_TOL_M_S = 0.5


def test_speed_of_sound_at_20_c_matches_the_constant() -> None:
    assert physics.speed_of_sound_m_s(20.0) == pytest.approx(physics.SPEED_OF_SOUND_M_S, abs=SPEED_TOL_M_S)
    assert physics.speed_of_sound_m_s(0.0) == pytest.approx(331.3, abs=SPEED_TOL_M_S)


@pytest.mark.parametrize(
    ("temperature_c", "table_db_per_km"),
    # ISO 9613-2:1996 Table 2 (from ISO 9613-1), 70 % RH, octave bands 1, 2, 4, 8 kHz.
    [(20.0, [5.0, 9.0, 22.9, 76.6]), (10.0, [3.7, 9.7, 32.8, 117.0])],
)
def test_air_absorption_matches_iso_9613_table(temperature_c: float, table_db_per_km: list[float]) -> None:
    values = physics.air_absorption_db_per_m([1000.0, 2000.0, 4000.0, 8000.0], temperature_c, 70.0) * 1000.0
    # The table is computed at the exact band centres (1000 * 10^(3k/10)), hence the 2 %.
    np.testing.assert_allclose(values, table_db_per_km, rtol=0.02)


def test_air_absorption_near_40_khz_is_about_one_db_per_metre() -> None:
    alpha = float(physics.air_absorption_db_per_m(40_000.0, 20.0, 50.0))
    assert 1.0 < alpha < 1.6


def test_absurd_humidity_is_rejected() -> None:
    with pytest.raises(ValueError, match="humidity"):
        physics.air_absorption_db_per_m(1000.0, 20.0, 150.0)


def test_doppler_shift_closed_form() -> None:
    assert float(physics.doppler_shift_hz(1.0, 40_000.0)) == pytest.approx(2 * 40_000 / 343.0)
    assert float(physics.doppler_shift_hz(-0.5, 40_000.0)) < 0


def test_erb_scale_round_trips() -> None:
    f = np.array([50.0, 500.0, 4000.0, 8000.0])
    np.testing.assert_allclose(physics.erb_to_hz(physics.hz_to_erb(f)), f, rtol=1e-12)
    assert float(physics.hz_to_erb(1000.0)) == pytest.approx(15.62, abs=0.01)
