"""Occupancy (held presence) and motion (instant) from ultrasonic Doppler sensing.

Their device class gives each the device page's triggers and conditions
("started detecting motion", "became occupied", "is occupied"), so routines can be built
without YAML.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from homeassistant.components.binary_sensor import (
    BinarySensorDeviceClass,
    BinarySensorEntity,
    BinarySensorEntityDescription,
)
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .entity import EchoSensePresenceEntity
from .hub import EchoSenseConfigEntry
from .presence import PresenceState

PARALLEL_UPDATES = 0


@dataclass(frozen=True, kw_only=True)
class PresenceBinarySensorDescription(BinarySensorEntityDescription):
    """A binary sensor read from the presence state."""

    is_on_fn: Callable[[PresenceState], bool]
    attributes_fn: Callable[[PresenceState], dict[str, Any]] | None = None


BINARY_SENSORS: tuple[PresenceBinarySensorDescription, ...] = (
    PresenceBinarySensorDescription(
        key="occupancy",
        translation_key="occupancy",
        device_class=BinarySensorDeviceClass.OCCUPANCY,
        is_on_fn=lambda state: state.occupied,
    ),
    PresenceBinarySensorDescription(
        key="motion",
        translation_key="motion",
        device_class=BinarySensorDeviceClass.MOTION,
        is_on_fn=lambda state: state.motion != "none",
        attributes_fn=lambda state: {"motion_kind": state.motion},
    ),
)


async def async_setup_entry(
    hass: HomeAssistant, entry: EchoSenseConfigEntry, async_add_entities: AddConfigEntryEntitiesCallback
) -> None:
    """Add the occupancy and motion sensors."""
    async_add_entities(PresenceBinarySensor(entry.runtime_data, description) for description in BINARY_SENSORS)


class PresenceBinarySensor(EchoSensePresenceEntity, BinarySensorEntity):
    """Occupancy or motion."""

    entity_description: PresenceBinarySensorDescription

    @property
    def is_on(self) -> bool:
        return self.entity_description.is_on_fn(self.hub.presence.state)

    @property
    def extra_state_attributes(self) -> dict[str, Any] | None:
        if self.entity_description.attributes_fn is None:
            return None
        return self.entity_description.attributes_fn(self.hub.presence.state)
