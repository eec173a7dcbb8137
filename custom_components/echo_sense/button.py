"""A button that recalibrates the ultrasonic probe for the room as it is now."""

from __future__ import annotations

import logging

from homeassistant.components.button import ButtonEntity, ButtonEntityDescription
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from echo_sense_dsp.errors import EchoSenseError

from .const import CONF_CALIBRATION, DOMAIN
from .entity import EchoSenseEntity
from .hub import EchoSenseConfigEntry

_LOGGER = logging.getLogger(__name__)

PARALLEL_UPDATES = 1

RECALIBRATE = ButtonEntityDescription(
    key="recalibrate", translation_key="recalibrate", entity_category=EntityCategory.CONFIG
)


async def async_setup_entry(
    hass: HomeAssistant, entry: EchoSenseConfigEntry, async_add_entities: AddConfigEntryEntitiesCallback
) -> None:
    """Add the recalibrate button."""
    async_add_entities([RecalibrateButton(entry.runtime_data, RECALIBRATE)])


class RecalibrateButton(EchoSenseEntity, ButtonEntity):
    """Play the calibration sweep, choose the probe again, and keep the result in the entry."""

    async def async_press(self) -> None:
        presence = self.hub.presence
        if presence.calibrating:
            raise HomeAssistantError(translation_domain=DOMAIN, translation_key="calibration_running")
        presence.calibrating = True
        presence.async_notify()
        try:
            calibration = await self.hass.async_add_executor_job(presence.recalibrate)
        except EchoSenseError as err:
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="calibration_failed",
                translation_placeholders={"reason": str(err)},
            ) from err
        finally:
            presence.async_notify()
        entry = self.hub.entry
        self.hass.config_entries.async_update_entry(entry, data={**entry.data, CONF_CALIBRATION: calibration.to_dict()})
        _LOGGER.info(
            "Recalibrated: %.0f Hz at %.0f dBFS, expected range %.1f m",
            calibration.frequency_hz,
            calibration.level_db,
            calibration.expected_range_m,
        )
