"""Presence inside Home Assistant: a simulated walk-in turns occupancy and motion on, they
clear after the hold time, the emission switch and the recalibrate button work."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from homeassistant.const import STATE_OFF, STATE_ON, STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import entity_registry as er
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.echo_sense import hub as hub_module
from custom_components.echo_sense.const import CONF_CALIBRATION, CONF_HOLD_TIME, DOMAIN
from echo_sense_dsp.audio import SIMULATED_DEVICE_ID
from echo_sense_dsp.presence import Calibration
from echo_sense_dsp.room import LiveRoom

from .conftest import SIMULATED_DATA, simulated_entry

WAIT_S = 90.0  # wall time; the simulated room runs in real time (slower on a loaded machine)
HOLD_TIME_S = 5
OCCUPANCY = "binary_sensor.simulated_room_demo_occupancy"
MOTION = "binary_sensor.simulated_room_demo_motion"
EMISSION = "switch.simulated_room_demo_ultrasonic_emission"

# Someone walks in 2 s after the hub starts, walks about, and leaves the room at 9 s.
WALK_IN_AND_LEAVE: dict[str, Any] = {
    "name": "walk_in_and_leave",
    "duration_s": 40.0,
    "seed": 11,
    "room": {"size_m": [5.0, 4.0, 2.7], "absorption": [0.2, 0.2, 0.25, 0.25, 0.3, 0.15]},
    "device": {"position_m": [0.3, 2.0, 0.8], "mic_count": 4},
    "people": [
        {
            "name": "visitor",
            "keyframes": [
                {"t_s": 0.0, "position_m": [4.6, -0.6], "posture": "absent"},
                {"t_s": 2.0, "position_m": [4.6, -0.6], "posture": "walking"},
                {"t_s": 4.0, "position_m": [3.5, 1.5], "posture": "walking"},
                {"t_s": 7.0, "position_m": [1.8, 2.5], "posture": "walking"},
                {"t_s": 9.0, "position_m": [4.6, -0.6], "posture": "absent"},
            ],
        }
    ],
}


async def _wait_for_state(hass: HomeAssistant, entity_id: str, state: str) -> float:
    """Seconds until ``entity_id`` shows ``state`` (fails after WAIT_S)."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    while (current := hass.states.get(entity_id)) is None or current.state != state:
        assert loop.time() - start < WAIT_S, f"{entity_id} stayed {current.state if current else None}, not {state}"
        await asyncio.sleep(0.1)
    return loop.time() - start


@pytest.fixture
async def walk_in_entry(hass: HomeAssistant, monkeypatch: pytest.MonkeyPatch) -> MockConfigEntry:
    monkeypatch.setattr(
        hub_module, "simulated_room", lambda config: LiveRoom(WALK_IN_AND_LEAVE, driver_count=2, loop=False)
    )
    entry = simulated_entry({CONF_HOLD_TIME: HOLD_TIME_S})
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    return entry


async def test_walk_in_turns_occupancy_on_and_it_clears_after_the_hold_time(
    hass: HomeAssistant, walk_in_entry: MockConfigEntry
) -> None:
    assert hass.states.get(OCCUPANCY).state == STATE_OFF
    await _wait_for_state(hass, MOTION, STATE_ON)
    assert hass.states.get(MOTION).attributes["motion_kind"] in ("minor", "major")
    await _wait_for_state(hass, OCCUPANCY, STATE_ON)
    await _wait_for_state(hass, OCCUPANCY, STATE_OFF)
    diagnostics = walk_in_entry.runtime_data.diagnostics()
    assert diagnostics["presence"]["detector"]["probe_frequency_hz"] >= 32000
    assert await hass.config_entries.async_unload(walk_in_entry.entry_id)


async def test_emission_switch_pauses_sensing(hass: HomeAssistant, walk_in_entry: MockConfigEntry) -> None:
    assert hass.states.get(EMISSION).state == STATE_ON
    await hass.services.async_call("switch", "turn_off", {"entity_id": EMISSION}, blocking=True)
    assert hass.states.get(EMISSION).state == STATE_OFF
    assert hass.states.get(OCCUPANCY).state == STATE_UNAVAILABLE
    assert not walk_in_entry.runtime_data.engine.probe_bus.active
    await hass.services.async_call("switch", "turn_on", {"entity_id": EMISSION}, blocking=True)
    assert hass.states.get(OCCUPANCY).state in (STATE_ON, STATE_OFF)
    assert walk_in_entry.runtime_data.engine.probe_bus.active
    assert await hass.config_entries.async_unload(walk_in_entry.entry_id)


async def test_device_page_offers_presence_triggers_and_conditions(
    hass: HomeAssistant, walk_in_entry: MockConfigEntry
) -> None:
    from homeassistant.components.device_automation import DeviceAutomationType, async_get_device_automations

    device = dr.async_get(hass).async_get_device(identifiers={(DOMAIN, SIMULATED_DEVICE_ID)})
    assert device is not None
    triggers = (await async_get_device_automations(hass, DeviceAutomationType.TRIGGER, [device.id]))[device.id]
    conditions = (await async_get_device_automations(hass, DeviceAutomationType.CONDITION, [device.id]))[device.id]
    trigger_types = {(t["entity_id"], t["type"]) for t in triggers if t.get("domain") == "binary_sensor"}
    condition_types = {c["type"] for c in conditions if c.get("domain") == "binary_sensor"}
    assert {"occupied", "not_occupied", "motion", "no_motion"} <= {t for _, t in trigger_types}
    assert {"is_occupied", "is_not_occupied"} <= condition_types
    assert await hass.config_entries.async_unload(walk_in_entry.entry_id)


async def test_recalibrate_button_stores_a_new_calibration(hass: HomeAssistant, walk_in_entry: MockConfigEntry) -> None:
    from custom_components.echo_sense.diagnostics import async_get_config_entry_diagnostics

    assert "calibration" not in walk_in_entry.data
    await hass.services.async_call(
        "button", "press", {"entity_id": "button.simulated_room_demo_recalibrate_presence"}, blocking=True
    )
    calibration = walk_in_entry.data["calibration"]
    assert 32000 <= calibration["frequency_hz"] <= 46000
    assert calibration["snr_curve"]["frequency_hz"]
    assert hass.states.get(OCCUPANCY).state != STATE_UNAVAILABLE
    diagnostics = await async_get_config_entry_diagnostics(hass, walk_in_entry)
    assert diagnostics["hub"]["presence"]["calibration"]["frequency_hz"] == calibration["frequency_hz"]
    assert diagnostics["hub"]["engine"]["state"] == "running"
    assert await hass.config_entries.async_unload(walk_in_entry.entry_id)


@pytest.mark.parametrize(
    ("stored", "warning"),
    [
        ({"level_db": -20.0}, "Stored calibration is unusable"),  # a corrupt store: frequency_hz is missing
        ("not a calibration", "Stored calibration is unusable"),
        (Calibration(21000.0, -20.0, 48000).to_dict(), "Calibration was made at 48000 Hz"),
    ],
)
async def test_unusable_stored_calibration_falls_back_to_the_default_probe(
    hass: HomeAssistant, caplog: pytest.LogCaptureFixture, stored: Any, warning: str
) -> None:
    data = {**SIMULATED_DATA, CONF_CALIBRATION: stored}
    entry = MockConfigEntry(domain=DOMAIN, unique_id=SIMULATED_DEVICE_ID, title="Simulated room (demo)", data=data)
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    assert warning in caplog.text
    detector = entry.runtime_data.diagnostics()["presence"]["detector"]
    assert detector["probe_frequency_hz"] == Calibration.default(96000).frequency_hz
    assert hass.states.get(OCCUPANCY).state != STATE_UNAVAILABLE  # sensing runs on the default probe
    assert entry.data[CONF_CALIBRATION] == stored  # the stored data is kept (recalibrating replaces it)
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_diagnostic_sensors_report_once_enabled(hass: HomeAssistant, monkeypatch: pytest.MonkeyPatch) -> None:
    """The detector score and the emission duty are disabled by default; a user who enables them gets values."""
    monkeypatch.setattr(
        hub_module, "simulated_room", lambda config: LiveRoom(WALK_IN_AND_LEAVE, driver_count=2, loop=False)
    )
    registry = er.async_get(hass)
    for key in ("presence_score", "emission_duty"):
        registry.async_get_or_create("sensor", DOMAIN, f"{SIMULATED_DEVICE_ID}_{key}", disabled_by=None)
    entry = simulated_entry({CONF_HOLD_TIME: HOLD_TIME_S})
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    score_id = registry.async_get_entity_id("sensor", DOMAIN, f"{SIMULATED_DEVICE_ID}_presence_score")
    duty_id = registry.async_get_entity_id("sensor", DOMAIN, f"{SIMULATED_DEVICE_ID}_emission_duty")
    await _wait_for_state(hass, OCCUPANCY, STATE_ON)
    assert 0.0 <= float(hass.states.get(score_id).state) <= 1.0
    assert 0.0 <= float(hass.states.get(duty_id).state) <= 100.0
    assert await hass.config_entries.async_unload(entry.entry_id)
