"""A switch that pauses the ultrasonic emission (and so presence sensing)."""

from __future__ import annotations

from typing import Any

from homeassistant.components.switch import SwitchEntity, SwitchEntityDescription
from homeassistant.const import STATE_OFF, EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.restore_state import RestoreEntity

from .entity import EchoSenseEntity
from .hub import EchoSenseConfigEntry

PARALLEL_UPDATES = 0

EMISSION = SwitchEntityDescription(
    key="ultrasonic_emission", translation_key="ultrasonic_emission", entity_category=EntityCategory.CONFIG
)


async def async_setup_entry(
    hass: HomeAssistant, entry: EchoSenseConfigEntry, async_add_entities: AddConfigEntryEntitiesCallback
) -> None:
    """Add the emission switch."""
    async_add_entities([EmissionSwitch(entry.runtime_data, EMISSION)])


class EmissionSwitch(EchoSenseEntity, SwitchEntity, RestoreEntity):
    """On: the probe plays and presence is sensed. Off: silence, presence unavailable."""

    @property
    def is_on(self) -> bool:
        return self.hub.presence.emission_enabled

    async def async_added_to_hass(self) -> None:
        await super().async_added_to_hass()
        last = await self.async_get_last_state()
        if last is not None and last.state == STATE_OFF:
            self.hub.presence.set_emission(False)

    async def async_turn_on(self, **kwargs: Any) -> None:
        self.hub.presence.set_emission(True)
        self.async_write_ha_state()

    async def async_turn_off(self, **kwargs: Any) -> None:
        self.hub.presence.set_emission(False)
        self.async_write_ha_state()
