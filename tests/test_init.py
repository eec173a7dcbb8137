"""Entry setup and unload: clean start and stop, retry when the device is missing."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any
from unittest.mock import patch

import pytest
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.echo_sense.const import DOMAIN
from custom_components.echo_sense.diagnostics import async_get_config_entry_diagnostics
from custom_components.echo_sense.hub import EchoSenseHub
from custom_components.echo_sense.presence import PresencePipeline
from echo_sense_dsp.audio import AudioEngine, EngineState

from .conftest import SIMULATED_DATA, ScriptedPortAudio, needs_pulse, simulated_entry


def _wait_for_blocks(engine: AudioEngine, blocks: int, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while engine.blocks_processed < blocks:
        assert time.monotonic() < deadline, f"engine processed only {engine.blocks_processed} blocks"
        time.sleep(0.02)


async def test_setup_and_unload_leave_nothing_running(hass: HomeAssistant) -> None:
    threads_before = set(threading.enumerate())
    entry = simulated_entry()
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    hub = entry.runtime_data
    assert isinstance(hub, EchoSenseHub)
    await hass.async_add_executor_job(_wait_for_blocks, hub.engine, 10)
    assert hub.engine.state is EngineState.RUNNING
    assert hass.states.get("sensor.simulated_room_demo_audio_engine").state == "running"

    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.NOT_LOADED
    leftover = {t for t in set(threading.enumerate()) - threads_before if not isinstance(t, threading._DummyThread)}
    # Home Assistant's own executors may stay; the plugin's verify_cleanup checks the rest.
    assert not [t for t in leftover if t.name.startswith("echo-sense")]


def _wait_until_stopped(engine: AudioEngine, timeout_s: float = 10.0) -> None:
    """Until the engine has stopped (the hub stops it last) and no echo_sense thread is left."""
    deadline = time.monotonic() + timeout_s
    while (running := [t.name for t in threading.enumerate() if t.name.startswith("echo-sense")]) or (
        engine.state is not EngineState.STOPPED
    ):
        assert time.monotonic() < deadline, f"{engine.state}, {running} after a cancelled setup"
        time.sleep(0.02)


@pytest.mark.parametrize(("owner", "method"), [(AudioEngine, "start"), (PresencePipeline, "start")])
async def test_setup_cancelled_during_a_start_leaves_nothing_running(
    hass: HomeAssistant, owner: type, method: str
) -> None:
    """Home Assistant stopping during a reload cancels the setup while a blocking start runs in a worker thread."""
    entry = simulated_entry()
    entry.add_to_hass(hass)
    entered, release, returned = threading.Event(), threading.Event(), threading.Event()
    real_start = getattr(owner, method)
    engines: list[AudioEngine] = []

    def held_start(self: Any) -> None:
        # the real start, held until the setup's await is cancelled (a sound card can take seconds to open)
        engines.append(self if isinstance(self, AudioEngine) else self.hub.engine)
        entered.set()
        assert release.wait(10)
        real_start(self)
        returned.set()

    with patch.object(owner, method, held_start):
        setup = hass.async_create_task(hass.config_entries.async_setup(entry.entry_id))
        assert await hass.async_add_executor_job(entered.wait, 10)
        setup.cancel()
        release.set()
        with pytest.raises(asyncio.CancelledError):
            await setup
        assert await hass.async_add_executor_job(returned.wait, 10)
        await hass.async_add_executor_job(_wait_until_stopped, engines[0])
    assert entry.state is not ConfigEntryState.LOADED


async def test_setup_cancelled_after_the_starts_stops_what_started(hass: HomeAssistant) -> None:
    """Cancelled while no start is in flight (installing the blueprints): the hub stops engine and presence."""
    entry = simulated_entry()
    entry.add_to_hass(hass)
    installing = asyncio.Event()
    engines: list[AudioEngine] = []
    real_start = AudioEngine.start

    def recorded_start(engine: AudioEngine) -> None:
        engines.append(engine)
        real_start(engine)

    async def never_done(_hass: HomeAssistant) -> None:
        installing.set()
        await asyncio.Event().wait()

    with (
        patch.object(AudioEngine, "start", recorded_start),
        patch("custom_components.echo_sense.hub.async_install_blueprints", never_done),
    ):
        setup = hass.async_create_task(hass.config_entries.async_setup(entry.entry_id))
        await installing.wait()
        engine = engines[0]
        assert engine.state is EngineState.RUNNING
        assert any(t.name == "echo-sense-presence" for t in threading.enumerate())
        setup.cancel()
        with pytest.raises(asyncio.CancelledError):
            await setup
        await hass.async_add_executor_job(_wait_until_stopped, engine)
    assert entry.state is not ConfigEntryState.LOADED


async def test_stored_device_that_is_gone_retries_setup(
    hass: HomeAssistant, scripted_portaudio: type[ScriptedPortAudio]
) -> None:
    data = dict(SIMULATED_DATA, device_id="ALSA:Unplugged Card", device_name="Unplugged Card")
    entry = MockConfigEntry(domain=DOMAIN, unique_id="ALSA:Unplugged Card", data=data)
    entry.add_to_hass(hass)
    assert not await hass.config_entries.async_setup(entry.entry_id)
    assert entry.state is ConfigEntryState.SETUP_RETRY
    assert "Unplugged Card" in (entry.reason or "")


@needs_pulse
async def test_real_device_streams_through_the_engine(hass: HomeAssistant) -> None:
    """The PulseAudio null sink as the hub's card: a real duplex stream at 96 kHz."""
    data = dict(SIMULATED_DATA, device_id="ALSA:pulse", device_name="pulse", input_channels=2)
    entry = MockConfigEntry(domain=DOMAIN, unique_id="ALSA:pulse", data=data)
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    assert entry.state is ConfigEntryState.LOADED
    hub = entry.runtime_data
    engine = hub.engine
    await hass.async_add_executor_job(_wait_for_blocks, engine, 20)
    diagnostics = await async_get_config_entry_diagnostics(hass, entry)
    assert diagnostics["hub"]["backend"] == "sounddevice"
    assert diagnostics["hub"]["engine"]["state"] == "running"
    assert diagnostics["hub"]["engine"]["sample_rate"] == 96000
    assert diagnostics["hub"]["engine"]["latency_s"] > 0
    assert await hass.config_entries.async_unload(entry.entry_id)
    assert engine.state is EngineState.STOPPED
