"""echo_sense: ultrasonic presence, a noise-suppressed microphone, spatial audio and a
context-aware intent rewriter on a hub's own speaker and microphones."""

from __future__ import annotations

from homeassistant.const import EVENT_HOMEASSISTANT_STOP, Platform
from homeassistant.core import Event, HomeAssistant
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers.typing import ConfigType

from .const import DOMAIN
from .conversation import async_remove_entry_data
from .hub import EchoSenseConfigEntry, EchoSenseHub
from .rewriter_services import async_setup_rewriter_services
from .satellite_services import async_setup_satellite_services

PLATFORMS: list[Platform] = [
    Platform.ASSIST_SATELLITE,
    Platform.BINARY_SENSOR,
    Platform.BUTTON,
    Platform.CONVERSATION,
    Platform.IMAGE,
    Platform.MEDIA_PLAYER,
    Platform.SENSOR,
    Platform.STT,
    Platform.SWITCH,
]

CONFIG_SCHEMA = cv.config_entry_only_config_schema(DOMAIN)


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Register the integration's service actions (once, for all entries)."""
    async_setup_rewriter_services(hass)
    async_setup_satellite_services(hass)
    return True


async def async_setup_entry(hass: HomeAssistant, entry: EchoSenseConfigEntry) -> bool:
    """Set up one echo_sense device from a config entry."""
    hub = EchoSenseHub(hass, entry)
    await hub.async_setup()
    entry.runtime_data = hub
    entry.async_on_unload(hub.async_shutdown)

    async def _async_stop_on_shutdown(_event: Event) -> None:
        # Home Assistant does not unload entries when it stops: release the sound card and its threads here.
        await hub.async_shutdown()

    entry.async_on_unload(hass.bus.async_listen_once(EVENT_HOMEASSISTANT_STOP, _async_stop_on_shutdown))
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    return True


async def async_unload_entry(hass: HomeAssistant, entry: EchoSenseConfigEntry) -> bool:
    """Unload a config entry: platforms first, then the hub (via async_on_unload)."""
    return await hass.config_entries.async_unload_platforms(entry, PLATFORMS)


async def async_remove_entry(hass: HomeAssistant, entry: EchoSenseConfigEntry) -> None:
    """The entry is deleted: delete what the rewriter learned for it too."""
    await async_remove_entry_data(hass, entry)
