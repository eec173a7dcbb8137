"""The live Doppler spectrogram of the probe band with the detector's decisions marked, and the
calibration result (SNR per frequency, the chosen probe) as a chart."""

from __future__ import annotations

import io
from datetime import datetime, timedelta

from homeassistant.components.image import ImageEntity
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.entity import EntityDescription
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.event import async_track_time_interval
from homeassistant.util import dt as dt_util
from PIL import Image

from .entity import EchoSenseEntity, EchoSensePresenceEntity
from .hub import EchoSenseConfigEntry, EchoSenseHub
from .plot import calibration_chart

PARALLEL_UPDATES = 0
REFRESH_INTERVAL = timedelta(seconds=2)

DESCRIPTION = EntityDescription(
    key="doppler_spectrogram", translation_key="doppler_spectrogram", entity_category=EntityCategory.DIAGNOSTIC
)
CALIBRATION = EntityDescription(
    key="calibration", translation_key="calibration", entity_category=EntityCategory.DIAGNOSTIC
)


async def async_setup_entry(
    hass: HomeAssistant, entry: EchoSenseConfigEntry, async_add_entities: AddConfigEntryEntitiesCallback
) -> None:
    """Add the spectrogram and the calibration images."""
    hub = entry.runtime_data
    async_add_entities([DopplerSpectrogramImage(hass, hub), CalibrationImage(hass, hub)])


class DopplerSpectrogramImage(EchoSensePresenceEntity, ImageEntity):
    """The last ~10 s of Doppler spectra (time on x, Doppler on y) and a decision strip (PNG)."""

    _attr_content_type = "image/png"

    def __init__(self, hass: HomeAssistant, hub: EchoSenseHub) -> None:
        EchoSensePresenceEntity.__init__(self, hub, DESCRIPTION)
        ImageEntity.__init__(self, hass)
        self._last_count = -1

    async def async_added_to_hass(self) -> None:
        await super().async_added_to_hass()
        self.async_on_remove(async_track_time_interval(self.hass, self._async_refresh, REFRESH_INTERVAL))

    @callback
    def _async_refresh(self, now: datetime) -> None:
        count = self.hub.presence.history.count
        if count != self._last_count:
            self._last_count = count
            self._attr_image_last_updated = dt_util.utcnow()
            self.async_write_ha_state()

    def _render_png(self) -> bytes:
        buffer = io.BytesIO()
        Image.fromarray(self.hub.presence.history.to_image_array(), mode="RGB").save(buffer, format="PNG")
        return buffer.getvalue()

    async def async_image(self) -> bytes | None:
        """The spectrogram as PNG bytes (rendered in the executor)."""
        return await self.hass.async_add_executor_job(self._render_png)


class CalibrationImage(EchoSenseEntity, ImageEntity):
    """The probe's calibration: SNR per candidate frequency and the chosen frequency and level (PNG).

    Follows the presence pipeline's calibration, so it changes after the Recalibrate button or a
    reconfiguration.
    """

    _attr_content_type = "image/png"

    def __init__(self, hass: HomeAssistant, hub: EchoSenseHub) -> None:
        EchoSenseEntity.__init__(self, hub, CALIBRATION)
        ImageEntity.__init__(self, hass)
        self._shown = hub.presence.calibration
        self._attr_image_last_updated = dt_util.utcnow()

    async def async_added_to_hass(self) -> None:
        await super().async_added_to_hass()
        self.async_on_remove(self.hub.presence.async_add_listener(self._async_calibration_changed))

    @callback
    def _async_calibration_changed(self) -> None:
        if self.hub.presence.calibration is not self._shown:
            self._shown = self.hub.presence.calibration
            self._attr_image_last_updated = dt_util.utcnow()
            self.async_write_ha_state()

    async def async_image(self) -> bytes | None:
        """The chart as PNG bytes (rendered in the executor)."""
        return await self.hass.async_add_executor_job(lambda: calibration_chart(self._shown).png())
