"""Physics checks of the room simulator against closed forms."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from scipy import signal as sps

from echo_sense_dsp.physics import air_absorption_db_per_m, doppler_shift_hz, speed_of_sound_m_s
from echo_sense_dsp.room import LiveRoom, load_scenario, render_scenario

FS = 96000
DOPPLER_TOL_BINS = 1.0  # FFT bins
DELAY_TOL_SAMPLES = 0.05
AIR_ABSORPTION_TOL_DB = 1.0
FREE_FIELD_TOL_DB = -40.0  # relative RMS error
STREAM_TOL = 1e-6  # absolute, full scale 1
WALL_TOL_DB = 1.5
IMD_MIN_DB = 30.0  # sideband rise with the nonlinearity on
COMB_TOL_HZ = 2.0  # distance of the fan echo's energy from the blade-rate comb lines
COMB_ENERGY_FRACTION = 0.9
NARROWBAND_TOL_DB = -40.0  # echo error of the narrowband-array model vs exact per-mic delays


def _ideal_device(**over: Any) -> dict[str, Any]:
    dev: dict[str, Any] = {
        "randomize": False,
        "self_noise_dbfs": -200.0,
        "driver": {"a2": 0.0, "a3": 0.0, "excursion_mod": 0.0, "rolloff_order": 0},
    }
    dev.update(over)
    return dev


def _anechoic(**over: Any) -> dict[str, Any]:
    room: dict[str, Any] = {"size_m": [12.0, 8.0, 3.0], "absorption": 1.0, "max_order": 0, "rir_length_s": 0.05}
    room.update(over)
    return room


def _peak_hz(x: np.ndarray, lo_hz: float, hi_hz: float) -> tuple[float, float]:
    spec = np.abs(np.fft.rfft(x * np.hanning(x.size)))
    f = np.fft.rfftfreq(x.size, 1 / FS)
    band = (f > lo_hz) & (f < hi_hz)
    i = int(np.argmax(spec[band]))
    return float(f[band][i]), float(spec[band][i])


@pytest.mark.parametrize("velocity_m_s", [1.0, -0.7])
def test_doppler_peak_of_radially_moving_point_is_within_one_bin(velocity_m_s: float) -> None:
    sc = load_scenario(
        {
            "duration_s": 1.6,
            "room": _anechoic(),
            "device": _ideal_device(position_m=[1.0, 4.0, 1.5]),
            "drive": {"probe": {"frequency_hz": 40000.0, "level_dbfs": -10.0}},
            "points": [{"position_m": [3.0, 4.0, 1.5], "velocity_m_s": [velocity_m_s, 0.0, 0.0]}],
        }
    )
    r = render_scenario(sc)
    x = r.mics[int(0.4 * FS) : int(1.4 * FS), 0].astype(np.float64)  # 1 s: 1 Hz bins
    c = speed_of_sound_m_s(sc.room.temperature_c)
    expected = 40000.0 + float(doppler_shift_hz(-velocity_m_s, 40000.0, c))  # receding = negative
    lo, hi = (expected - 100, 39950.0) if velocity_m_s > 0 else (40050.0, expected + 100)
    peak, _ = _peak_hz(x, lo, hi)
    assert abs(peak - expected) <= DOPPLER_TOL_BINS


def test_direct_path_delay_matches_geometry_to_a_fraction_of_a_sample(rng: np.random.Generator) -> None:
    sc = load_scenario({"duration_s": 0.5, "room": _anechoic(), "device": _ideal_device(position_m=[2.0, 4.0, 1.5])})
    drive = rng.standard_normal(sc.sample_rate // 2).astype(np.float32) * 0.1
    r = render_scenario(sc, drive)
    f = np.fft.rfftfreq(drive.size, 1 / FS)
    x = np.fft.rfft(drive.astype(np.float64))
    band = (f > 5000) & (f < 40000)
    c = speed_of_sound_m_s(sc.room.temperature_c)
    for m in range(r.mics.shape[1]):
        y = np.fft.rfft(r.mics[:, m].astype(np.float64))
        phase = np.unwrap(np.angle(y[band] / x[band]))
        slope = np.polyfit(2 * np.pi * f[band], phase, 1)[0]  # rad per (rad/s) = -delay
        measured = -slope * FS
        distance = float(np.linalg.norm(r.mic_positions_m[m] - r.speaker_positions_m[0]))
        assert abs(measured - distance / c * FS) < DELAY_TOL_SAMPLES


def test_air_absorption_at_40_khz_over_5_m_matches_iso_9613_1_within_1_db() -> None:
    device = [1.0, 4.0, 1.5]
    mic0 = np.array(device) + np.array([0.035, 0.0, 0.0])
    source = mic0 + np.array([5.0, 0.0, 0.0])
    sc = load_scenario(
        {
            "duration_s": 0.3,
            "room": _anechoic(temperature_c=20.0, relative_humidity_pct=50.0),
            "device": _ideal_device(position_m=device),
            "drive": {"probe": None},
            "sources": [{"kind": "tone", "frequency_hz": 40000.0, "level_db": -20.0, "position_m": source.tolist()}],
        }
    )
    r = render_scenario(sc)
    y = r.mics[int(0.1 * FS) : int(0.3 * FS), 0].astype(np.float64)
    rms_measured = float(np.sqrt(np.mean(y**2)))
    rms_spreading_only = 10 ** (-20.0 / 20) / 5.0  # level at 1 m, 1/r over 5 m
    loss_db = 20 * np.log10(rms_spreading_only / rms_measured)
    iso_db = 5.0 * float(air_absorption_db_per_m(40000.0, 20.0, 50.0))
    assert 5.0 < iso_db < 8.0  # ISO 9613-1: ~1.3 dB/m at 40 kHz, 20 °C, 50 % RH
    assert abs(loss_db - iso_db) < AIR_ABSORPTION_TOL_DB


def test_anechoic_room_equals_free_field(rng: np.random.Generator) -> None:
    sc = load_scenario({"duration_s": 0.25, "room": _anechoic(), "device": _ideal_device(position_m=[2.0, 4.0, 1.5])})
    n = sc.sample_rate // 4
    drive = rng.standard_normal(n)
    spec = np.fft.rfft(drive)
    f = np.fft.rfftfreq(n, 1 / FS)
    spec[f > 40000] = 0.0  # band-limited drive
    drive = (np.fft.irfft(spec, n) * 0.1).astype(np.float32)
    r = render_scenario(sc, drive)
    c = speed_of_sound_m_s(sc.room.temperature_c)
    alpha = air_absorption_db_per_m(f, sc.room.temperature_c, sc.room.relative_humidity_pct)
    x = np.fft.rfft(np.concatenate([drive, np.zeros(n)]).astype(np.float64))
    f2 = np.fft.rfftfreq(2 * n, 1 / FS)
    alpha2 = np.interp(f2, f, alpha)
    for m in range(r.mics.shape[1]):
        dist = float(np.linalg.norm(r.mic_positions_m[m] - r.speaker_positions_m[0]))
        h = sc.device.coupling_m / dist * 10 ** (-alpha2 * dist / 20) * np.exp(-2j * np.pi * f2 * dist / c)
        free = np.fft.irfft(x * h, 2 * n)[:n]
        free = sps.sosfilt(sps.butter(1, 20.0 / (FS / 2), "high", output="sos"), free)  # the mic's DC blocker
        sim = r.mics[:, m].astype(np.float64)
        seg = slice(2000, n)
        err_db = 10 * np.log10(np.sum((sim[seg] - free[seg]) ** 2) / np.sum(free[seg] ** 2))
        assert err_db < FREE_FIELD_TOL_DB


def test_zero_order_equals_fully_absorbing_walls_at_any_order(rng: np.random.Generator) -> None:
    drive = (rng.standard_normal(9600) * 0.1).astype(np.float32)
    base = {"duration_s": 0.1, "device": _ideal_device(position_m=[2.0, 4.0, 1.5])}
    a = render_scenario({**base, "room": _anechoic(max_order=0)}, drive)
    b = render_scenario({**base, "room": _anechoic(max_order=4)}, drive)
    np.testing.assert_allclose(a.mics, b.mics, atol=1e-7)


def test_streaming_equals_offline_for_any_block_partition() -> None:
    sc = load_scenario(
        {
            "duration_s": 1.0,
            "seed": 3,
            "room": {"rir_length_s": 0.05, "max_order": 3},
            "drive": {"music": {"source": "synthetic", "level_dbfs": -12.0}},
            "people": [
                {
                    "name": "w",
                    "keyframes": [
                        {"t_s": 0, "position_m": [1, 1], "posture": "walking"},
                        {"t_s": 1, "position_m": [2, 1.5], "posture": "walking"},
                    ],
                }
            ],
            "fans": [{"position_m": [3.5, 3.0, 1.0]}],
            "turbulence": {"strength": 1.0},
            "sources": [{"kind": "talker", "position_m": [2.0, 2.0, 1.2], "start_s": 0.2, "stop_s": 0.8}],
        }
    )
    offline = render_scenario(sc)
    for block in (960, 333, 40000):
        live = LiveRoom(sc, loop=False)
        d = offline.drive
        out = np.concatenate([live.process(d[i : i + block]) for i in range(0, d.shape[0], block)])
        assert out.shape == offline.mics.shape
        assert float(np.max(np.abs(out - offline.mics))) < STREAM_TOL


def test_person_behind_a_wall_is_attenuated_by_twice_the_transmission_loss() -> None:
    levels = []
    for tl_db in (0.0, 40.0):
        sc = load_scenario(
            {
                "duration_s": 1.2,
                "room": {
                    "size_m": [4.0, 4.0, 3.0],
                    "absorption": 1.0,
                    "max_order": 0,
                    "rir_length_s": 0.05,
                    "wall_transmission_loss_db": tl_db,
                },
                "device": _ideal_device(position_m=[2.0, 2.0, 1.5]),
                "drive": {"probe": {"frequency_hz": 40000.0, "level_dbfs": -10.0}},
                "points": [{"position_m": [4.5, 2.0, 1.5], "velocity_m_s": [0.8, 0.0, 0.0]}],  # outside x = 4 m
            }
        )
        x = render_scenario(sc).mics[int(0.2 * FS) : int(1.2 * FS), 0].astype(np.float64)
        levels.append(_peak_hz(x, 39700.0, 39950.0)[1])
    drop_db = 20 * np.log10(levels[0] / levels[1])
    assert abs(drop_db - 80.0) < WALL_TOL_DB


def test_loud_bass_intermodulates_the_probe_into_sidebands() -> None:
    t = np.arange(FS // 2) / FS
    drive = (0.5 * np.sin(2 * np.pi * 100 * t) + 0.05 * np.sin(2 * np.pi * 40000 * t)).astype(np.float32)
    side = []
    for a2 in (0.0, 0.05):
        sc = load_scenario(
            {
                "duration_s": 0.5,
                "room": _anechoic(),
                "device": _ideal_device(driver={"a2": a2, "a3": 0.0, "excursion_mod": 0.0, "rolloff_order": 0}),
            }
        )
        y = render_scenario(sc, drive).mics[9600:, 0].astype(np.float64)
        side.append(_peak_hz(y, 40050.0, 40150.0)[1])
    assert 20 * np.log10(side[1] / side[0]) > IMD_MIN_DB


def test_narrowband_array_model_matches_exact_per_mic_delays_for_the_probe() -> None:
    sc = load_scenario(
        {
            "duration_s": 0.6,
            "room": _anechoic(),
            "device": _ideal_device(position_m=[1.0, 4.0, 1.5]),
            "drive": {"probe": {"frequency_hz": 40000.0, "level_dbfs": -10.0}},
            "points": [{"position_m": [2.0, 4.6, 1.2], "velocity_m_s": [0.9, -0.4, 0.1]}],
        }
    )
    static = render_scenario({**sc.to_dict(), "points": []})
    exact = render_scenario(sc, exact_array=True).mics - static.mics
    fast = render_scenario(sc).mics - static.mics
    seg = slice(int(0.1 * FS), None)
    err_db = 10 * np.log10(np.sum((fast[seg] - exact[seg]) ** 2) / np.sum(exact[seg] ** 2))
    assert err_db < NARROWBAND_TOL_DB


def test_fan_echo_is_a_blade_rate_comb_within_the_tip_doppler() -> None:
    rps, blades, radius_m = 20.0, 3, 0.15
    base = {
        "duration_s": 1.2,
        "room": _anechoic(),
        "device": _ideal_device(position_m=[1.0, 4.0, 1.5]),
        "drive": {"probe": {"frequency_hz": 40000.0, "level_dbfs": -10.0}},
    }
    fan = {"position_m": [2.5, 4.0, 1.5], "axis": [0.0, 0.0, 1.0], "radius_m": radius_m, "blades": blades}
    echo = (
        render_scenario({**base, "fans": [{**fan, "rpm": 60 * rps}]}).mics[:, 0].astype(np.float64)
        - render_scenario(base).mics[:, 0].astype(np.float64)
    )[int(0.2 * FS) : int(1.2 * FS)]
    power = np.abs(np.fft.rfft(echo)) ** 2  # 1 Hz bins, 1 s is a whole number of periods
    f = np.fft.rfftfreq(echo.size, 1 / FS)
    line_hz = blades * rps
    near_line = np.abs((f - 40000.0 + line_hz / 2) % line_hz - line_hz / 2) <= COMB_TOL_HZ
    assert power[near_line].sum() / power.sum() > COMB_ENERGY_FRACTION
    tip_doppler_hz = float(doppler_shift_hz(2 * np.pi * radius_m * rps, 40000.0, speed_of_sound_m_s(21.0)))
    outside = np.abs(f - 40000.0) > 1.2 * tip_doppler_hz
    assert power[outside].sum() / power.sum() < 1e-3
    inside_band = (np.abs(f - 40000.0) > 0.5 * tip_doppler_hz) & ~outside
    assert power[inside_band].sum() / power.sum() > 0.01  # micro-Doppler really spreads
