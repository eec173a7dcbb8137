"""End to end on the real room simulator: calibrated probe, neural detector, walk-in vs fan."""

from __future__ import annotations

import numpy as np
import pytest

from echo_sense_dsp.presence import Calibration, DutyCycleSettings, PresenceDetector, ProbeGenerator
from echo_sense_dsp.room import render_scenario

DETECT_WITHIN_S = 1.0
DEVICE = {"position_m": [0.3, 2.0, 0.8], "mic_count": 4, "self_noise_dbfs": -100.0}
CAL = Calibration(32000.0, -16.0)  # what calibration picks for this simulated device (see the benchmark)


def render(extra: dict, seconds: float) -> tuple[np.ndarray, np.ndarray, object]:  # type: ignore[type-arg]
    scenario = {"name": "t", "duration_s": seconds, "seed": 42, "device": DEVICE, "drive": {"probe": None}, **extra}
    drive = ProbeGenerator(CAL.probe_settings()).generate(round(seconds * 96000))
    r = render_scenario(scenario, drive=drive)
    return r.mics, drive, r.labels


def decide(mics: np.ndarray, drive: np.ndarray) -> list:  # type: ignore[type-arg]
    det = PresenceDetector(CAL, mic_count=4, duty_cycle=DutyCycleSettings(enabled=False))
    out = []
    for s in range(0, len(drive), 960):
        out += det.process(mics[s : s + 960], drive[s : s + 960])
    return out


@pytest.mark.slow
def test_simulated_walk_in_at_3_m_is_detected_within_one_second() -> None:
    people = [
        {
            "name": "p",
            "keyframes": [
                {"t_s": 0.0, "position_m": [3.0, -0.6], "posture": "absent"},
                {"t_s": 1.7, "position_m": [3.0, -0.6], "posture": "walking"},
                {"t_s": 2.5, "position_m": [3.0, 0.4], "posture": "walking"},
                {"t_s": 5.0, "position_m": [2.0, 2.0], "posture": "sitting", "activity": "reading"},
            ],
        }
    ]
    mics, drive, labels = render({"people": people}, 4.5)
    t_entry = float(np.argmax(labels.occupied) * labels.hop_s)  # type: ignore[attr-defined]
    decisions = decide(mics, drive)
    first = next(d.t for d in decisions if d.occupied)
    assert first <= t_entry + DETECT_WITHIN_S


@pytest.mark.slow
def test_simulated_fan_and_curtains_do_not_make_the_room_occupied() -> None:
    fans = [{"position_m": [3.5, 3.2, 1.0], "axis": [-0.6, -0.8, 0.0], "rpm": 1100}]
    curtains = [{"center_m": [4.85, 2.0, 1.4], "normal": [-1.0, 0.0, 0.0], "sway_m": 0.04, "sway_hz": 0.2}]
    mics, drive, _ = render({"fans": fans, "curtains": curtains}, 6.0)
    assert not any(d.occupied for d in decide(mics, drive))
