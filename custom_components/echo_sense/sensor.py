"""Diagnostic sensors of the hub's audio engine: its state, CPU load and latency."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import PERCENTAGE, EntityCategory, UnitOfTime
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from echo_sense_dsp.audio import EngineState

from .entity import EchoSenseEntity
from .hub import EchoSenseConfigEntry, EchoSenseHub

PARALLEL_UPDATES = 0


@dataclass(frozen=True, kw_only=True)
class EchoSenseSensorDescription(SensorEntityDescription):
    """A sensor read from the hub."""

    value_fn: Callable[[EchoSenseHub], Any]
    always_available: bool = False
    presence: bool = False


SENSORS: tuple[EchoSenseSensorDescription, ...] = (
    EchoSenseSensorDescription(
        key="audio_engine",
        translation_key="audio_engine",
        device_class=SensorDeviceClass.ENUM,
        options=[str(s) for s in EngineState],
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=lambda hub: str(hub.engine.state),
        always_available=True,
    ),
    EchoSenseSensorDescription(
        key="audio_cpu_load",
        translation_key="audio_cpu_load",
        native_unit_of_measurement=PERCENTAGE,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=1,
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
        value_fn=lambda hub: 100.0 * hub.engine.stats()["cpu_load"],
    ),
    EchoSenseSensorDescription(
        key="audio_latency",
        translation_key="audio_latency",
        device_class=SensorDeviceClass.DURATION,
        native_unit_of_measurement=UnitOfTime.MILLISECONDS,
        suggested_display_precision=1,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=lambda hub: 1000.0 * hub.engine.latency_s,
    ),
    EchoSenseSensorDescription(
        key="presence_score",
        translation_key="presence_score",
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=2,
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
        value_fn=lambda hub: hub.presence.state.score,
        presence=True,
    ),
    EchoSenseSensorDescription(
        key="emission_duty",
        translation_key="emission_duty",
        native_unit_of_measurement=PERCENTAGE,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=0,
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
        value_fn=lambda hub: None if hub.presence.emission_duty is None else 100.0 * hub.presence.emission_duty,
    ),
)


async def async_setup_entry(
    hass: HomeAssistant, entry: EchoSenseConfigEntry, async_add_entities: AddConfigEntryEntitiesCallback
) -> None:
    """Add the engine's diagnostic sensors."""
    async_add_entities(EchoSenseSensor(entry.runtime_data, description) for description in SENSORS)


class EchoSenseSensor(EchoSenseEntity, SensorEntity):
    """A value of the hub's engine."""

    entity_description: EchoSenseSensorDescription

    @property
    def available(self) -> bool:
        return self.entity_description.always_available or super().available

    async def async_added_to_hass(self) -> None:
        await super().async_added_to_hass()
        if self.entity_description.presence:
            self.async_on_remove(self.hub.presence.async_add_listener(self.async_write_ha_state))

    @property
    def native_value(self) -> Any:
        return self.entity_description.value_fn(self.hub)
