"""EchoSenseHub: the config entry's runtime data.

It adapts the library's hardware side to Home Assistant: it checks that the entry's sound
device is present, and (as the capabilities land) owns the audio engine and the pipelines
that run on it. Blocking library calls go through the executor; nothing blocks the loop.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ConfigEntryNotReady

from echo_sense_dsp.audio import SIMULATED_DEVICE_ID
from echo_sense_dsp.audio.devices import find_device_index
from echo_sense_dsp.errors import DeviceError

from .const import CONF_DEVICE_ID, CONF_DEVICE_NAME, CONF_INPUT_CHANNELS, CONF_OUTPUT_CHANNELS, CONF_SAMPLE_RATE, DOMAIN

_LOGGER = logging.getLogger(__name__)

type EchoSenseConfigEntry = ConfigEntry[EchoSenseHub]


@dataclass(frozen=True)
class HubConfig:
    """The hardware settings stored in the config entry."""

    device_id: str
    device_name: str
    sample_rate: int
    input_channels: int
    output_channels: int

    @classmethod
    def from_entry(cls, entry: ConfigEntry) -> HubConfig:
        data = entry.data
        return cls(
            device_id=data[CONF_DEVICE_ID],
            device_name=data[CONF_DEVICE_NAME],
            sample_rate=int(data[CONF_SAMPLE_RATE]),
            input_channels=int(data[CONF_INPUT_CHANNELS]),
            output_channels=int(data[CONF_OUTPUT_CHANNELS]),
        )

    @property
    def simulated(self) -> bool:
        return self.device_id == SIMULATED_DEVICE_ID


class EchoSenseHub:
    """Everything one echo_sense device runs, for the lifetime of its config entry."""

    def __init__(self, hass: HomeAssistant, entry: ConfigEntry) -> None:
        self.hass = hass
        self.entry = entry
        self.config = HubConfig.from_entry(entry)
        self.device_index: int | None = None

    async def async_setup(self) -> None:
        """Make sure the sound device is there; raise ConfigEntryNotReady so HA retries if not."""
        if self.config.simulated:
            return
        try:
            self.device_index, _ = await self.hass.async_add_executor_job(find_device_index, self.config.device_id)
        except DeviceError as err:
            raise ConfigEntryNotReady(
                translation_domain=DOMAIN,
                translation_key="device_unavailable",
                translation_placeholders={"device": self.config.device_name, "reason": str(err)},
            ) from err

    async def async_shutdown(self) -> None:
        """Stop everything the hub started (nothing may be left running after unload)."""
        self.device_index = None

    def diagnostics(self) -> dict[str, Any]:
        """The hub's state for the diagnostics download."""
        return {
            "device_id": self.config.device_id,
            "device_name": self.config.device_name,
            "simulated": self.config.simulated,
            "sample_rate": self.config.sample_rate,
            "input_channels": self.config.input_channels,
            "output_channels": self.config.output_channels,
            "portaudio_index": self.device_index,
        }
