"""Entry setup and unload: clean start and stop, retry when the device is missing."""

from __future__ import annotations

import threading

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.echo_sense.const import DOMAIN
from custom_components.echo_sense.diagnostics import async_get_config_entry_diagnostics
from custom_components.echo_sense.hub import EchoSenseHub
from echo_sense_dsp.audio import SIMULATED_DEVICE_ID

from .conftest import ScriptedPortAudio

SIMULATED_DATA = {
    "device_id": SIMULATED_DEVICE_ID,
    "device_name": "Simulated room (demo)",
    "sample_rate": 96000,
    "input_channels": 4,
    "output_channels": 2,
}


async def test_setup_and_unload_leave_nothing_running(hass: HomeAssistant) -> None:
    threads_before = set(threading.enumerate())
    entry = MockConfigEntry(domain=DOMAIN, unique_id=SIMULATED_DEVICE_ID, data=SIMULATED_DATA)
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    assert isinstance(entry.runtime_data, EchoSenseHub)

    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.NOT_LOADED
    leftover = {t for t in set(threading.enumerate()) - threads_before if not isinstance(t, threading._DummyThread)}
    assert not [t for t in leftover if not t.name.startswith(("ThreadPoolExecutor", "SyncWorker"))]


async def test_stored_device_that_is_gone_retries_setup(
    hass: HomeAssistant, scripted_portaudio: type[ScriptedPortAudio]
) -> None:
    data = dict(SIMULATED_DATA, device_id="ALSA:Unplugged Card", device_name="Unplugged Card")
    entry = MockConfigEntry(domain=DOMAIN, unique_id="ALSA:Unplugged Card", data=data)
    entry.add_to_hass(hass)
    assert not await hass.config_entries.async_setup(entry.entry_id)
    assert entry.state is ConfigEntryState.SETUP_RETRY
    assert "Unplugged Card" in (entry.reason or "")


async def test_stored_device_that_is_present_sets_up(
    hass: HomeAssistant, scripted_portaudio: type[ScriptedPortAudio]
) -> None:
    data = dict(SIMULATED_DATA, device_id="ALSA:Hub Array 96k", device_name="Hub Array 96k")
    entry = MockConfigEntry(domain=DOMAIN, unique_id="ALSA:Hub Array 96k", data=data)
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    assert entry.state is ConfigEntryState.LOADED
    diagnostics = await async_get_config_entry_diagnostics(hass, entry)
    assert diagnostics["hub"]["portaudio_index"] == 3
    assert diagnostics["hub"]["simulated"] is False
    assert await hass.config_entries.async_unload(entry.entry_id)
