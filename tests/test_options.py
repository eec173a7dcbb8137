"""The options flow: presence and voice settings, validated, and the entry reloads."""

from __future__ import annotations

import pytest
import voluptuous as vol
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import entity_registry as er
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.echo_sense.const import (
    CONF_HOLD_TIME,
    CONF_LAYOUT,
    CONF_REWRITER_ENCODER,
    CONF_SENSITIVITY,
    CONF_SOUND_MODE,
    CONF_STT_ENGINE,
    CONF_SUPPRESSION_DB,
    DOMAIN,
)
from echo_sense_dsp.audio import SIMULATED_DEVICE_ID

from .conftest import simulated_entry


@pytest.fixture
def entry(hass: HomeAssistant) -> MockConfigEntry:
    entry = simulated_entry()
    entry.add_to_hass(hass)
    return entry


async def test_options_are_saved(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert result["type"] is FlowResultType.FORM
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_SENSITIVITY: 70, CONF_HOLD_TIME: 120, CONF_SUPPRESSION_DB: 18}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options == {
        CONF_SENSITIVITY: 70,
        CONF_HOLD_TIME: 120,
        CONF_SUPPRESSION_DB: 18,
        CONF_SOUND_MODE: "spatial",
        CONF_LAYOUT: "narrow-stereo",
        CONF_REWRITER_ENCODER: "lexical",
    }
    # saving reloads the entry, which starts the simulated hub: let it finish and unload it, or the test would
    # end with the engine starting in a worker thread
    await hass.async_block_till_done()
    assert await hass.config_entries.async_unload(entry.entry_id)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        (CONF_SENSITIVITY, 150),
        (CONF_SENSITIVITY, -1),
        (CONF_HOLD_TIME, 0),
        (CONF_HOLD_TIME, 10**6),
        (CONF_SUPPRESSION_DB, 500),
    ],
)
async def test_absurd_values_are_rejected(hass: HomeAssistant, entry: MockConfigEntry, field: str, value: int) -> None:
    result = await hass.config_entries.options.async_init(entry.entry_id)
    values = {CONF_SENSITIVITY: 50, CONF_HOLD_TIME: 60, CONF_SUPPRESSION_DB: 30, field: value}
    with pytest.raises(vol.Invalid):
        await hass.config_entries.options.async_configure(result["flow_id"], values)
    assert entry.options == {}


async def test_own_stt_proxy_cannot_be_the_forward_target(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    own = er.async_get(hass).async_get_or_create(
        "stt", DOMAIN, f"{SIMULATED_DEVICE_ID}_denoised_stt", config_entry=entry
    )
    result = await hass.config_entries.options.async_init(entry.entry_id)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {CONF_SENSITIVITY: 50, CONF_HOLD_TIME: 60, CONF_SUPPRESSION_DB: 30, CONF_STT_ENGINE: own.entity_id},
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {CONF_STT_ENGINE: "stt_loop"}


async def test_speaker_and_rewriter_choices(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    result = await hass.config_entries.options.async_init(entry.entry_id)
    schema = result["data_schema"].schema
    layout = next(key for key in schema if key == CONF_LAYOUT)
    assert schema[layout].config["options"] == ["narrow-stereo"]  # the only preset with 2 drivers
    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {
            CONF_SENSITIVITY: 50,
            CONF_HOLD_TIME: 60,
            CONF_SUPPRESSION_DB: 30,
            CONF_SOUND_MODE: "stereo",
            CONF_REWRITER_ENCODER: "minilm_int8",
        },
    )
    assert entry.options[CONF_SOUND_MODE] == "stereo"
    assert entry.options[CONF_REWRITER_ENCODER] == "minilm_int8"
    await hass.async_block_till_done()  # the save's reload (see test_options_are_saved)
    with pytest.raises(vol.Invalid):
        result = await hass.config_entries.options.async_init(entry.entry_id)
        await hass.config_entries.options.async_configure(
            result["flow_id"],
            {CONF_SENSITIVITY: 50, CONF_HOLD_TIME: 60, CONF_SUPPRESSION_DB: 30, CONF_SOUND_MODE: "surround"},
        )
    assert await hass.config_entries.async_unload(entry.entry_id)
