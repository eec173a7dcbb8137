"""The shared bases of echo_sense entities."""

from __future__ import annotations

from homeassistant.helpers.entity import Entity, EntityDescription

from .hub import EchoSenseHub


class EchoSenseEntity(Entity):
    """An entity of one echo_sense hub: named by translation key, available while the engine runs."""

    _attr_has_entity_name = True
    _attr_should_poll = False

    def __init__(self, hub: EchoSenseHub, description: EntityDescription) -> None:
        self.hub = hub
        self.entity_description = description
        self._attr_unique_id = f"{hub.entry.unique_id or hub.entry.entry_id}_{description.key}"
        self._attr_device_info = hub.device_info

    @property
    def available(self) -> bool:
        return self.hub.available

    async def async_added_to_hass(self) -> None:
        await super().async_added_to_hass()
        self.async_on_remove(self.hub.async_add_listener(self.async_write_ha_state))


class EchoSensePresenceEntity(EchoSenseEntity):
    """An entity showing presence results: also unavailable while the emission is switched off."""

    @property
    def available(self) -> bool:
        return super().available and self.hub.presence.emission_enabled and not self.hub.presence.calibrating

    async def async_added_to_hass(self) -> None:
        await super().async_added_to_hass()
        self.async_on_remove(self.hub.presence.async_add_listener(self.async_write_ha_state))
