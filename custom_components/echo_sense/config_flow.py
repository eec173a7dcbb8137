"""Config flow: choose the hub's sound device and probe what it can do.

Step ``user`` lists the real sound devices (full duplex first, with channel counts and
rates) and the simulated room. The chosen device is probed for full duplex at 96 kHz
(ultrasonic presence) and, failing that, 48 kHz; the 48 kHz case goes through the
``near_ultrasound`` step, which explains what that means before the entry is created.
"""

from __future__ import annotations

import logging
from typing import Any

import voluptuous as vol
from homeassistant.config_entries import SOURCE_RECONFIGURE, ConfigFlow, ConfigFlowResult
from homeassistant.helpers.selector import SelectOptionDict, SelectSelector, SelectSelectorConfig, SelectSelectorMode

from echo_sense_dsp.audio import (
    SIMULATED_DEVICE,
    SIMULATED_DEVICE_ID,
    DeviceInfo,
    ProbeResult,
    list_devices,
    probe_device,
)
from echo_sense_dsp.errors import DeviceBusyError, DeviceError, DeviceNotFoundError

from .const import CONF_DEVICE_ID, CONF_DEVICE_NAME, CONF_INPUT_CHANNELS, CONF_OUTPUT_CHANNELS, CONF_SAMPLE_RATE, DOMAIN

_LOGGER = logging.getLogger(__name__)


def _discover_devices() -> tuple[list[DeviceInfo], str | None]:
    """Real devices plus the simulated room; a PortAudio failure is reported, not raised."""
    try:
        real = list_devices()
    except DeviceError as err:
        _LOGGER.warning("Cannot list sound devices: %s", err)
        return [SIMULATED_DEVICE], str(err)
    return [*real, SIMULATED_DEVICE], None


class EchoSenseConfigFlow(ConfigFlow, domain=DOMAIN):
    """Set up one echo_sense hub per sound device."""

    VERSION = 1
    MINOR_VERSION = 1

    def __init__(self) -> None:
        self._devices: dict[str, DeviceInfo] = {}
        self._probe: ProbeResult | None = None

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Pick the sound device."""
        return await self._async_device_step("user", user_input)

    async def async_step_reconfigure(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Move this hub to another sound device (or re-probe the same one)."""
        return await self._async_device_step("reconfigure", user_input)

    async def _async_device_step(self, step_id: str, user_input: dict[str, Any] | None) -> ConfigFlowResult:
        errors: dict[str, str] = {}
        placeholders: dict[str, str] = {"reason": ""}
        if user_input is not None:
            device_id = user_input[CONF_DEVICE_ID]
            await self.async_set_unique_id(device_id)
            if self.source == SOURCE_RECONFIGURE:
                if device_id != self._get_reconfigure_entry().unique_id:
                    self._abort_if_unique_id_configured()
            else:
                self._abort_if_unique_id_configured()
            try:
                self._probe = await self.hass.async_add_executor_job(probe_device, device_id)
            except DeviceNotFoundError:
                errors["base"] = "device_not_found"
            except DeviceBusyError as err:
                errors["base"] = "device_busy"
                placeholders["reason"] = str(err)
            except DeviceError as err:
                errors["base"] = "cannot_open"
                placeholders["reason"] = str(err)
            else:
                if not self._probe.ultrasonic:
                    return await self.async_step_near_ultrasound()
                return self._finish()

        devices, listing_error = await self.hass.async_add_executor_job(_discover_devices)
        self._devices = {device.device_id: device for device in devices}
        if listing_error:
            placeholders["reason"] = listing_error
            errors.setdefault("base", "no_portaudio")
        options = [SelectOptionDict(value=d.device_id, label=d.label) for d in devices]
        default = options[0]["value"]
        if self.source == SOURCE_RECONFIGURE:
            default = self._get_reconfigure_entry().data.get(CONF_DEVICE_ID, default)
        schema = vol.Schema(
            {
                vol.Required(CONF_DEVICE_ID, default=default): SelectSelector(
                    SelectSelectorConfig(options=options, mode=SelectSelectorMode.LIST, sort=False)
                )
            }
        )
        return self.async_show_form(
            step_id=step_id, data_schema=schema, errors=errors, description_placeholders=placeholders
        )

    async def async_step_near_ultrasound(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Explain the 48 kHz fallback before accepting it."""
        assert self._probe is not None
        if user_input is not None:
            return self._finish()
        return self.async_show_form(
            step_id="near_ultrasound",
            data_schema=vol.Schema({}),
            description_placeholders={"device": self._device_name(self._probe.device_id)},
        )

    def _device_name(self, device_id: str) -> str:
        device = self._devices.get(device_id)
        if device is not None:
            return device.name
        return SIMULATED_DEVICE.name if device_id == SIMULATED_DEVICE_ID else device_id.split(":", 1)[-1]

    def _finish(self) -> ConfigFlowResult:
        """Create the entry, or update the reconfigured one and reload it."""
        assert self._probe is not None
        probe = self._probe
        name = self._device_name(probe.device_id)
        data = {
            CONF_DEVICE_ID: probe.device_id,
            CONF_DEVICE_NAME: name,
            CONF_SAMPLE_RATE: probe.sample_rate,
            CONF_INPUT_CHANNELS: probe.input_channels,
            CONF_OUTPUT_CHANNELS: probe.output_channels,
        }
        if self.source == SOURCE_RECONFIGURE:
            return self.async_update_reload_and_abort(
                self._get_reconfigure_entry(), unique_id=probe.device_id, title=name, data=data
            )
        return self.async_create_entry(title=name, data=data)
