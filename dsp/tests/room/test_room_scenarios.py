"""Scenario schema, presets, labels, the random generator and the ``simulate`` command."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from echo_sense_dsp import cli
from echo_sense_dsp.errors import ConfigError
from echo_sense_dsp.room import (
    MOTION_KINDS,
    SCENARIO_KINDS,
    SCENARIOS,
    LiveRoom,
    load_scenario,
    random_scenario,
    render_scenario,
    scenario_labels,
)
from echo_sense_dsp.wavio import read_wav

REQUIRED_PRESETS = (
    "empty_room",
    "empty_room_fan",
    "walk_in_sit_read_leave",
    "music_empty_room",
    "person_next_room",
    "curtains_hvac",
    "demo_day",
)
LABEL_HOP_S = 0.01


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"room": {}}, "duration_s"),
        ({"duration_s": -1.0}, "duration_s"),
        ({"duration_s": 5, "rooom": {}}, "rooom"),
        ({"duration_s": 5, "room": {"size_m": [5, 4]}}, "room.size_m"),
        ({"duration_s": 5, "room": {"absorption": [0.2, 0.2, 0.2, 0.2, 0.2, 1.5]}}, "room.absorption[5]"),
        ({"duration_s": 5, "device": {"mic_count": "four"}}, "device.mic_count"),
        ({"duration_s": 5, "device": {"position_m": [9.0, 2.0, 1.0]}}, "device.position_m[0]"),
        (
            {"duration_s": 5, "people": [{"keyframes": [{"t_s": 0, "position_m": [1, 1], "posture": "flying"}]}]},
            "people[0].keyframes[0].posture",
        ),
        (
            {
                "duration_s": 5,
                "people": [
                    {"keyframes": [{"t_s": 2, "position_m": [1, 1]}, {"t_s": 1, "position_m": [2, 2]}]},
                ],
            },
            "people[0].keyframes[1].t_s",
        ),
        ({"duration_s": 5, "fans": [{"rpm": 100}]}, "fans[0].position_m"),
        ({"duration_s": 5, "sources": [{"kind": "radio", "position_m": [1, 1, 1]}]}, "sources[0].kind"),
    ],
)
def test_bad_scenario_raises_config_error_naming_the_field(data: dict[str, Any], field: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(f"'{field}'")):
        load_scenario(data)


def test_unknown_preset_and_broken_json_raise_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not a preset"):
        load_scenario("no_such_scenario")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ConfigError, match="invalid JSON"):
        load_scenario(bad)


def test_every_required_preset_ships_and_round_trips() -> None:
    assert set(REQUIRED_PRESETS) <= set(SCENARIOS)
    for name in SCENARIOS:
        sc = load_scenario(name)
        assert load_scenario(sc.to_dict()) == sc


def test_walk_in_sit_read_leave_labels_follow_the_timeline() -> None:
    labels = scenario_labels(load_scenario("walk_in_sit_read_leave"))
    assert labels.hop_s == LABEL_HOP_S
    assert not labels.at(2.0)["occupied"]
    walking_in = labels.at(8.0)
    assert walking_in["occupied"] and walking_in["motion"] == "major"
    seated = labels.at(20.0)
    assert seated["occupied"] and seated["motion"] == "minor"
    assert 1.5 < seated["nearest_distance_m"] < 2.5
    assert not labels.at(55.0)["occupied"]
    events = [e["event"] for e in labels.events]
    assert events[0] == "enter" and events[-1] == "leave" and "sit" in events
    assert {MOTION_KINDS[int(k)] for k in labels.motion} == {"none", "minor", "major"}


def test_person_next_room_is_not_occupancy() -> None:
    labels = scenario_labels(load_scenario("person_next_room"))
    assert labels.person_next_room.any()
    assert not labels.occupied.any()


def test_random_scenarios_of_every_kind_are_valid_and_reproducible() -> None:
    for kind in SCENARIO_KINDS:
        a = random_scenario(np.random.default_rng(7), kind, duration_s=3.0)
        b = random_scenario(np.random.default_rng(7), kind, duration_s=3.0)
        assert a == b
        assert a.device.mic_count == 4
    with pytest.raises(ValueError, match="unknown scenario kind"):
        random_scenario(np.random.default_rng(0), "party")


def test_rendering_has_the_contracted_shapes_and_labels(rng: np.random.Generator) -> None:
    sc = random_scenario(rng, "walk", duration_s=0.5)
    r = render_scenario(sc)
    assert r.mics.shape == (48000, 4) and r.mics.dtype == np.float32
    assert r.drive.shape == (48000, 1) and r.drive.dtype == np.float32
    assert r.mic_positions_m.shape == (4, 3)
    assert len(r.labels) == 50 and r.labels.occupied.all()
    assert np.all(np.isfinite(r.mics))


def test_live_room_loops_its_timeline_and_reports_ground_truth() -> None:
    live = LiveRoom({"duration_s": 0.05, "room": {"rir_length_s": 0.02}}, loop=True)
    block = np.zeros((960, live.driver_count), dtype=np.float32)
    for _ in range(10):  # 0.1 s: twice the timeline
        out = live.process(block)
        assert out.shape == (960, live.mic_count)
    assert live.time_s == pytest.approx(0.1)
    assert live.ground_truth()["occupied"] is False


def test_simulate_command_writes_mics_drive_labels_and_scenario(tmp_path: Path) -> None:
    out = tmp_path / "run"
    rc = cli.main(["simulate", "walk_in_sit_read_leave", str(out), "--duration", "0.3", "--quiet"])
    assert rc == 0
    mics = read_wav(out / "mics.wav")
    drive = read_wav(out / "drive.wav")
    assert (mics.sample_rate, mics.channels, mics.samples.shape[0]) == (96000, 4, 28800)
    assert (drive.channels, drive.samples.shape[0]) == (1, 28800)
    lines = (out / "labels.jsonl").read_text().splitlines()
    assert len(lines) == 30 and json.loads(lines[0])["motion"] == "none"
    assert json.loads((out / "scenario.json").read_text())["duration_s"] == 0.3


def test_simulate_command_reports_bad_scenario_with_exit_code_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "s.json"
    bad.write_text(json.dumps({"duration_s": 1, "room": {"max_order": -1}}))
    assert cli.main(["simulate", str(bad), str(tmp_path / "o")]) == 2
    assert "room.max_order" in capsys.readouterr().err
