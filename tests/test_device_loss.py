"""Device lost mid-stream: entities go unavailable, a repair issue appears, and both clear
when the engine reconnects."""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
import pytest
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers import issue_registry as ir
from numpy.typing import NDArray

from custom_components.echo_sense import hub as hub_module
from custom_components.echo_sense.const import DOMAIN
from echo_sense_dsp.errors import DeviceError
from echo_sense_dsp.room import LiveRoom

from .conftest import simulated_entry

WAIT_S = 30.0
LATENCY_ENTITY = "sensor.simulated_room_demo_audio_latency"
ENGINE_ENTITY = "sensor.simulated_room_demo_audio_engine"


class UnpluggedOnceRoom:
    """The simulated room, unplugged after ``fail_after`` blocks on its first life only.

    A device that fails on purpose is the only way to unplug hardware in CI.
    """

    lives = 0

    def __init__(self, fail_after: int) -> None:
        self._room = LiveRoom("empty_room", driver_count=2)
        self.sample_rate = self._room.sample_rate
        self.mic_count = self._room.mic_count
        self.driver_count = self._room.driver_count
        self._blocks = 0
        UnpluggedOnceRoom.lives += 1
        self._fails = UnpluggedOnceRoom.lives == 1
        self._fail_after = fail_after

    def process(self, drive_block: NDArray[np.float32]) -> NDArray[np.float32]:
        self._blocks += 1
        if self._fails and self._blocks > self._fail_after:
            raise DeviceError("USB device disconnected")
        return self._room.process(drive_block)


async def _wait_for(condition: Any, what: str) -> None:
    """Poll ``condition`` (state changes arrive from the engine's thread, not as an event here)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT_S
    while not condition():
        assert loop.time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


async def test_lost_device_marks_entities_unavailable_raises_repair_and_recovers(
    hass: HomeAssistant, monkeypatch: pytest.MonkeyPatch
) -> None:
    UnpluggedOnceRoom.lives = 0
    monkeypatch.setattr(hub_module, "simulated_room", lambda config: UnpluggedOnceRoom(fail_after=30))
    entry = simulated_entry()
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    assert entry.state is ConfigEntryState.LOADED
    assert er.async_get(hass).async_get(LATENCY_ENTITY) is not None
    issues = ir.async_get(hass)
    issue_id = f"device_lost_{entry.entry_id}"

    await _wait_for(lambda: issues.async_get_issue(DOMAIN, issue_id) is not None, "the repair issue")
    issue = issues.async_get_issue(DOMAIN, issue_id)
    assert issue is not None
    assert issue.translation_key == "device_lost"
    assert "USB device disconnected" in (issue.translation_placeholders or {}).get("reason", "")
    assert hass.states.get(LATENCY_ENTITY).state == STATE_UNAVAILABLE
    assert hass.states.get(ENGINE_ENTITY).state in ("device_lost", "reconnecting")

    await _wait_for(lambda: issues.async_get_issue(DOMAIN, issue_id) is None, "recovery")
    await _wait_for(lambda: hass.states.get(LATENCY_ENTITY).state != STATE_UNAVAILABLE, "availability")
    assert hass.states.get(ENGINE_ENTITY).state == "running"
    assert entry.runtime_data.engine.reconnects >= 1

    assert await hass.config_entries.async_unload(entry.entry_id)
