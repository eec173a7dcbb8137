"""The long-run shortcut (BasebandRoom) against the full room engine, through the real detector."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from echo_sense_dsp.errors import ConfigError
from echo_sense_dsp.presence import Calibration, DutyCycleSettings, PresenceDetector
from echo_sense_dsp.room import render_scenario
from echo_sense_dsp.room.baseband import BasebandRoom

CAL = Calibration(36000.0, -14.0, 96000)
SECONDS = 4.0
SETTLE_HOPS = 60  # the front end's warm-up and Doppler window


def _scenario(**parts: Any) -> dict[str, Any]:
    return {
        "name": "baseband_check",
        "duration_s": SECONDS,
        "seed": 5,
        "room": {"size_m": [5.0, 4.0, 2.7], "absorption": 0.2, "rir_length_s": 0.1},
        "device": {"position_m": [0.3, 2.0, 0.8], "mic_count": 4, "self_noise_dbfs": -100.0},
        "drive": {"probe": None},
        **parts,
    }


def _detector() -> PresenceDetector:
    return PresenceDetector(CAL, mic_count=4, scorer="energy_threshold", duty_cycle=DutyCycleSettings(enabled=False))


def _band_energy_db(sc: dict[str, Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Mean Doppler band energy (dB) and the carrier power per mic, full render vs baseband."""
    amplitude = CAL.probe_settings().amplitude
    n = round(SECONDS * 96000)
    drive = (amplitude * np.cos(2 * np.pi * CAL.frequency_hz * np.arange(n) / 96000)).astype(np.float32)
    mics = render_scenario(sc, drive=drive).mics
    full, fast = _detector(), _detector()
    room = BasebandRoom(sc, CAL.frequency_hz, amplitude)
    e_full, e_fast = [], []
    for s in range(0, n, full.hop_frames):
        full.process(mics[s : s + full.hop_frames], drive[s : s + full.hop_frames])
        fast.process_mid_rate(room.process(full.hop_frames * room.rate_hz // 96000))
        e_full.append(full._front.band_energy.mean(axis=0))  # type: ignore[union-attr]
        e_fast.append(fast._front.band_energy.mean(axis=0))  # type: ignore[union-attr]
    carriers = [np.abs(d._front._static[:4]) ** 2 for d in (full, fast)]  # type: ignore[union-attr]
    return (
        10 * np.log10(np.mean(e_full[SETTLE_HOPS:], axis=0)),
        10 * np.log10(np.mean(e_fast[SETTLE_HOPS:], axis=0)),
        10 * np.log10(carriers[0]),
        10 * np.log10(carriers[1]),
    )


@pytest.mark.parametrize(
    "parts",
    [
        pytest.param(
            {
                "people": [
                    {
                        "name": "p",
                        "keyframes": [
                            {"t_s": 0.0, "position_m": [1.0, 0.6], "posture": "walking"},
                            {"t_s": 2.5, "position_m": [3.5, 2.8], "posture": "walking"},
                            {"t_s": 3.0, "position_m": [3.5, 2.8], "posture": "sitting", "activity": "typing"},
                        ],
                    }
                ]
            },
            id="walker",
        ),
        pytest.param(
            {
                "curtains": [{"center_m": [4.85, 2.0, 1.4], "normal": [-1.0, 0.0, 0.0], "sway_m": 0.04}],
                "turbulence": {"strength": 1.5, "bandwidth_hz": 0.6},
            },
            id="curtains_hvac",
        ),
    ],
)
def test_baseband_room_matches_the_full_engine_through_the_detector(parts: dict[str, Any]) -> None:
    full_db, fast_db, full_carrier, fast_carrier = _band_energy_db(_scenario(**parts))
    assert full_db.max() > full_db.min() + 3.0  # something moved above the noise floor
    np.testing.assert_allclose(fast_db, full_db, atol=1.0)  # every Doppler band, noise floor included
    np.testing.assert_allclose(fast_carrier, full_carrier, atol=1.0)


def test_baseband_room_refuses_music() -> None:
    sc = _scenario()
    sc["drive"] = {"probe": None, "music": {"source": "synthetic"}}
    with pytest.raises(ConfigError, match="music"):
        BasebandRoom(sc, CAL.frequency_hz, 0.1)
