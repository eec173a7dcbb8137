"""The config flow: device choice, probing, the 48 kHz notice, errors and duplicates."""

from __future__ import annotations

from typing import Any

import pytest
from homeassistant.config_entries import SOURCE_USER
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.echo_sense.const import (
    CONF_DEVICE_ID,
    CONF_INPUT_CHANNELS,
    CONF_OUTPUT_CHANNELS,
    CONF_SAMPLE_RATE,
    DOMAIN,
)
from echo_sense_dsp.audio import SIMULATED_DEVICE_ID, devices
from echo_sense_dsp.errors import DeviceError

from .conftest import ScriptedPortAudio, needs_pulse


async def _calibrate(hass: HomeAssistant, result: dict) -> dict:
    """Wait for the calibration progress to finish and return the step after it."""
    assert result["type"] is FlowResultType.SHOW_PROGRESS
    assert result["progress_action"] == "calibrating"
    await hass.async_block_till_done()
    return await hass.config_entries.flow.async_configure(result["flow_id"])


async def _calibrate_and_skip_failure(hass: HomeAssistant, result: dict) -> dict:
    """Scripted cards cannot stream, so their calibration fails: continue uncalibrated."""
    result = await _calibrate(hass, result)
    assert result["type"] is FlowResultType.MENU
    assert result["step_id"] == "calibration_failed"
    assert result["description_placeholders"]["reason"]
    return await hass.config_entries.flow.async_configure(result["flow_id"], {"next_step_id": "uncalibrated"})


def _options(result: dict) -> list[dict[str, str]]:
    selector = result["data_schema"].schema[CONF_DEVICE_ID]
    return list(selector.config["options"])


async def test_form_lists_duplex_devices_first_and_the_simulated_room(
    hass: HomeAssistant, scripted_portaudio: type[ScriptedPortAudio]
) -> None:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "user"
    assert not result["errors"]
    options = _options(result)
    values = [o["value"] for o in options]
    assert values[-1] == SIMULATED_DEVICE_ID
    assert values.index("ALSA:Speaker Only") > values.index("ALSA:Hub Array 96k")
    labels = {o["value"]: o["label"] for o in options}
    assert labels["ALSA:Hub Array 96k"] == "Hub Array 96k (4 in / 2 out, 48k/96k)"
    assert labels["ALSA:USB 48k Card"] == "USB 48k Card (2 in / 2 out, 16k/44.1k/48k)"


class BrokenPortAudio:
    """PortAudio that cannot load (no CI machine lacks it, so it is scripted)."""

    def query(self) -> list[dict[str, Any]]:
        raise DeviceError("PortAudio library not found")


async def test_portaudio_failure_is_explained_and_the_simulated_room_still_offered(
    hass: HomeAssistant, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(devices, "SoundDeviceQuery", BrokenPortAudio)
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "no_portaudio"}
    assert result["description_placeholders"]["reason"] == "PortAudio library not found"
    assert [o["value"] for o in _options(result)] == [SIMULATED_DEVICE_ID]


async def test_simulated_room_is_calibrated_and_creates_an_ultrasonic_entry(hass: HomeAssistant) -> None:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {CONF_DEVICE_ID: SIMULATED_DEVICE_ID})
    result = await _calibrate(hass, result)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "calibration_result"
    placeholders = result["description_placeholders"]
    assert 32.0 <= float(placeholders["frequency"]) <= 46.0
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    calibration = result["data"]["calibration"]
    assert calibration["sample_rate"] == 96000
    assert calibration["frequency_hz"] >= 32000
    assert result["title"] == "Simulated room (demo)"
    assert result["data"][CONF_SAMPLE_RATE] == 96000
    assert result["data"][CONF_INPUT_CHANNELS] == 4
    assert result["result"].unique_id == SIMULATED_DEVICE_ID


async def test_96k_device_is_created_without_notice(
    hass: HomeAssistant, scripted_portaudio: type[ScriptedPortAudio]
) -> None:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {CONF_DEVICE_ID: "ALSA:Hub Array 96k"})
    result = await _calibrate_and_skip_failure(hass, result)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"] == {
        CONF_DEVICE_ID: "ALSA:Hub Array 96k",
        "device_name": "Hub Array 96k",
        CONF_SAMPLE_RATE: 96000,
        CONF_INPUT_CHANNELS: 4,
        CONF_OUTPUT_CHANNELS: 2,
    }


async def test_48k_only_device_shows_the_near_ultrasound_notice(
    hass: HomeAssistant, scripted_portaudio: type[ScriptedPortAudio]
) -> None:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {CONF_DEVICE_ID: "ALSA:USB 48k Card"})
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "near_ultrasound"
    assert result["description_placeholders"] == {"device": "USB 48k Card"}
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    result = await _calibrate_and_skip_failure(hass, result)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"][CONF_SAMPLE_RATE] == 48000
    assert "calibration" not in result["data"]


async def test_device_without_inputs_is_a_form_error_with_the_reason(
    hass: HomeAssistant, scripted_portaudio: type[ScriptedPortAudio]
) -> None:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {CONF_DEVICE_ID: "ALSA:Speaker Only"})
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "cannot_open"}
    assert "no microphone inputs" in result["description_placeholders"]["reason"]


async def test_busy_device_is_a_form_error(hass: HomeAssistant, scripted_portaudio: type[ScriptedPortAudio]) -> None:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {CONF_DEVICE_ID: "ALSA:Busy Card"})
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "device_busy"}


async def test_device_that_vanished_after_listing_is_a_form_error(
    hass: HomeAssistant, scripted_portaudio: type[ScriptedPortAudio]
) -> None:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    scripted_portaudio.removed.add("Hub Array 96k")
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {CONF_DEVICE_ID: "ALSA:Hub Array 96k"})
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "device_not_found"}
    assert "ALSA:Hub Array 96k" not in [o["value"] for o in _options(result)]


async def test_same_device_twice_aborts(hass: HomeAssistant) -> None:
    MockConfigEntry(domain=DOMAIN, unique_id=SIMULATED_DEVICE_ID, data={}).add_to_hass(hass)
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {CONF_DEVICE_ID: SIMULATED_DEVICE_ID})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"


@needs_pulse
async def test_real_portaudio_device_is_listed_and_probed_at_96k(hass: HomeAssistant) -> None:
    """The PulseAudio null sink (96 kHz) through ALSA's pulse plugin, a real duplex stream."""
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    values = [o["value"] for o in _options(result)]
    pulse = next(v for v in values if v.endswith(":pulse"))
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {CONF_DEVICE_ID: pulse})
    result = await _calibrate(hass, result)
    if result["type"] is FlowResultType.MENU:  # the null sink's monitor may not echo ultrasound back
        result = await hass.config_entries.flow.async_configure(result["flow_id"], {"next_step_id": "uncalibrated"})
    else:
        result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"][CONF_SAMPLE_RATE] == 96000
    assert result["data"][CONF_INPUT_CHANNELS] >= 1


async def test_reconfigure_moves_the_hub_to_another_device(
    hass: HomeAssistant, scripted_portaudio: type[ScriptedPortAudio]
) -> None:
    entry = MockConfigEntry(
        domain=DOMAIN,
        unique_id="ALSA:USB 48k Card",
        data={CONF_DEVICE_ID: "ALSA:USB 48k Card", "device_name": "USB 48k Card", CONF_SAMPLE_RATE: 48000},
    )
    entry.add_to_hass(hass)
    result = await entry.start_reconfigure_flow(hass)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "reconfigure"
    schema_default = result["data_schema"].schema
    assert next(k for k in schema_default if k == CONF_DEVICE_ID).default() == "ALSA:USB 48k Card"

    result = await hass.config_entries.flow.async_configure(result["flow_id"], {CONF_DEVICE_ID: "ALSA:Hub Array 96k"})
    result = await _calibrate_and_skip_failure(hass, result)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    assert entry.unique_id == "ALSA:Hub Array 96k"
    assert entry.data[CONF_SAMPLE_RATE] == 96000
    assert entry.title == "Hub Array 96k"


async def test_reconfigure_to_a_device_of_another_hub_aborts(
    hass: HomeAssistant, scripted_portaudio: type[ScriptedPortAudio]
) -> None:
    MockConfigEntry(domain=DOMAIN, unique_id="ALSA:Hub Array 96k", data={}).add_to_hass(hass)
    entry = MockConfigEntry(domain=DOMAIN, unique_id="ALSA:USB 48k Card", data={CONF_DEVICE_ID: "ALSA:USB 48k Card"})
    entry.add_to_hass(hass)
    result = await entry.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {CONF_DEVICE_ID: "ALSA:Hub Array 96k"})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
    assert entry.unique_id == "ALSA:USB 48k Card"
