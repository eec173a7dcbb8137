"""The frontend's service list loads with echo_sense set up (services.yaml valid, and HA's own
ai_task -> camera import finds PyTurboJPEG)."""

from __future__ import annotations

import pytest
from homeassistant.core import HomeAssistant
from homeassistant.helpers.service import async_get_all_descriptions

from custom_components.echo_sense import hub as hub_module
from custom_components.echo_sense.const import DOMAIN
from echo_sense_dsp.room import LiveRoom

from .conftest import simulated_entry

OUR_SERVICES = {"list_rewrites", "add_rewrite", "forget_rewrite", "purge_learning", "start_listening"}


async def test_all_service_descriptions_load(hass: HomeAssistant, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hub_module, "simulated_room", lambda config: LiveRoom("empty_room", driver_count=2))
    entry = simulated_entry()
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    descriptions = await async_get_all_descriptions(hass)
    ours = descriptions[DOMAIN]
    assert set(ours) == OUR_SERVICES
    assert ours["add_rewrite"]["fields"]["trigger"]["required"] is True
    assert ours["start_listening"]["target"]["entity"][0]["domain"] == ["assist_satellite"]
    assert await hass.config_entries.async_unload(entry.entry_id)
