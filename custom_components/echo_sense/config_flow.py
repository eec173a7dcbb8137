"""Config flow: choose the hub's sound device and probe what it can do.

Step ``user`` lists the real sound devices (full duplex first, with channel counts and
rates) and the simulated room. The chosen device is probed for full duplex at 96 kHz
(ultrasonic presence) and, failing that, 48 kHz; the 48 kHz case goes through the
``near_ultrasound`` step, which explains what that means before the entry is created.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

import voluptuous as vol
from homeassistant.config_entries import (
    SOURCE_RECONFIGURE,
    ConfigEntry,
    ConfigFlow,
    ConfigFlowResult,
    OptionsFlowWithReload,
)
from homeassistant.core import callback
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.selector import (
    ConversationAgentSelector,
    ConversationAgentSelectorConfig,
    EntitySelector,
    EntitySelectorConfig,
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    SelectOptionDict,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
)

from echo_sense_dsp.audio import (
    SIMULATED_DEVICE,
    SIMULATED_DEVICE_ID,
    DeviceInfo,
    ProbeResult,
    list_devices,
    probe_device,
)
from echo_sense_dsp.errors import DeviceBusyError, DeviceError, DeviceNotFoundError, EchoSenseError
from echo_sense_dsp.intent import ENCODERS
from echo_sense_dsp.presence import Calibration
from echo_sense_dsp.spatial import MODES

from .calibrate import calibrate_device
from .const import (
    CONF_CALIBRATION,
    CONF_DEVICE_ID,
    CONF_DEVICE_NAME,
    CONF_FORWARD_AGENT,
    CONF_HOLD_TIME,
    CONF_INPUT_CHANNELS,
    CONF_LAYOUT,
    CONF_OUTPUT_CHANNELS,
    CONF_REWRITER_ENCODER,
    CONF_SAMPLE_RATE,
    CONF_SENSITIVITY,
    CONF_SOUND_MODE,
    CONF_STT_ENGINE,
    CONF_SUPPRESSION_DB,
    DEFAULT_ENCODER,
    DEFAULT_HOLD_TIME_S,
    DEFAULT_SENSITIVITY,
    DEFAULT_SOUND_MODE,
    DEFAULT_SUPPRESSION_DB,
    DOMAIN,
    MAX_HOLD_TIME_S,
    MAX_SUPPRESSION_DB,
    MIN_HOLD_TIME_S,
)
from .hub import HubConfig
from .media_player import layout_choices

_LOGGER = logging.getLogger(__name__)

PROGRESS_STEP = 0.05


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
        self._calibration: Calibration | None = None
        self._calibration_task: asyncio.Task[Calibration] | None = None
        self._calibration_error = ""

    @staticmethod
    @callback
    def async_get_options_flow(config_entry: ConfigEntry) -> EchoSenseOptionsFlow:
        """Presence sensitivity and hold time (and the other capabilities' settings)."""
        return EchoSenseOptionsFlow()

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
                return await self.async_step_calibrate()

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
            return await self.async_step_calibrate()
        return self.async_show_form(
            step_id="near_ultrasound",
            data_schema=vol.Schema({}),
            description_placeholders={"device": self._device_name(self._probe.device_id)},
        )

    async def async_step_calibrate(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Play the calibration sweep on the device and choose the probe (with progress)."""
        assert self._probe is not None
        if self.source == SOURCE_RECONFIGURE and self._probe.device_id == self._get_reconfigure_entry().unique_id:
            # The running hub holds this device; keep its calibration (the button recalibrates it).
            self._calibration = None
            return self._finish()
        if self._calibration_task is None:
            self._calibration_task = self.hass.async_create_task(self._async_calibrate(), eager_start=False)
        if not self._calibration_task.done():
            return self.async_show_progress(
                step_id="calibrate", progress_action="calibrating", progress_task=self._calibration_task
            )
        task, self._calibration_task = self._calibration_task, None
        try:
            self._calibration = task.result()
        except EchoSenseError as err:
            self._calibration_error = str(err)
            return self.async_show_progress_done(next_step_id="calibration_failed")
        return self.async_show_progress_done(next_step_id="calibration_result")

    async def _async_calibrate(self) -> Calibration:
        assert self._probe is not None
        config = HubConfig(
            self._probe.device_id,
            self._device_name(self._probe.device_id),
            self._probe.sample_rate,
            self._probe.input_channels,
            self._probe.output_channels,
        )
        last = 0.0

        def progress(fraction: float) -> None:
            nonlocal last
            if fraction - last >= PROGRESS_STEP or fraction >= 1.0:
                last = fraction
                self.hass.loop.call_soon_threadsafe(self.async_update_progress, fraction)

        return await self.hass.async_add_executor_job(calibrate_device, config, progress)

    async def async_step_calibration_result(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Show what calibration chose."""
        assert self._calibration is not None
        if user_input is not None:
            return self._finish()
        cal = self._calibration
        snr = max(cal.mic_snr_db) if cal.mic_snr_db else float("nan")
        return self.async_show_form(
            step_id="calibration_result",
            data_schema=vol.Schema({}),
            description_placeholders={
                "frequency": f"{cal.frequency_hz / 1000:.1f}",
                "level": f"{cal.level_db:.0f}",
                "snr": f"{snr:.0f}",
                "range": f"{cal.expected_range_m:.1f}",
                "notes": "; ".join(cal.warnings) or "none",
            },
        )

    async def async_step_calibration_failed(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Explain the failure; retry or continue with the default probe."""
        return self.async_show_menu(
            step_id="calibration_failed",
            menu_options=["calibrate", "uncalibrated"],
            description_placeholders={"reason": self._calibration_error},
        )

    async def async_step_uncalibrated(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Continue with the default probe; the Recalibrate button can try again later."""
        self._calibration = None
        return self._finish()

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
        data: dict[str, Any] = {
            CONF_DEVICE_ID: probe.device_id,
            CONF_DEVICE_NAME: name,
            CONF_SAMPLE_RATE: probe.sample_rate,
            CONF_INPUT_CHANNELS: probe.input_channels,
            CONF_OUTPUT_CHANNELS: probe.output_channels,
        }
        if self._calibration is not None:
            data[CONF_CALIBRATION] = self._calibration.to_dict()
        if self.source == SOURCE_RECONFIGURE:
            entry = self._get_reconfigure_entry()
            if self._calibration is None and probe.device_id == entry.unique_id and CONF_CALIBRATION in entry.data:
                data[CONF_CALIBRATION] = entry.data[CONF_CALIBRATION]
            return self.async_update_reload_and_abort(
                self._get_reconfigure_entry(), unique_id=probe.device_id, title=name, data=data
            )
        return self.async_create_entry(title=name, data=data)


class EchoSenseOptionsFlow(OptionsFlowWithReload):
    """Settings a user tunes after set-up; the entry reloads when they change."""

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        if user_input is not None:
            options = {**self.config_entry.options, **user_input}
            for optional in (CONF_STT_ENGINE, CONF_FORWARD_AGENT):
                if not user_input.get(optional):
                    options.pop(optional, None)
            if user_input.get(CONF_STT_ENGINE) and self._is_own_stt(user_input[CONF_STT_ENGINE]):
                return self.async_show_form(
                    step_id="init", data_schema=self._schema(), errors={CONF_STT_ENGINE: "stt_loop"}
                )
            return self.async_create_entry(data=options)
        return self.async_show_form(step_id="init", data_schema=self._schema())

    def _is_own_stt(self, entity_id: str) -> bool:
        """True when ``entity_id`` is this integration's own proxy (forwarding to it would loop)."""
        entry = er.async_get(self.hass).async_get(entity_id)
        return entry is not None and entry.platform == DOMAIN

    def _schema(self) -> vol.Schema:
        options = self.config_entry.options
        return vol.Schema(
            {
                vol.Required(
                    CONF_SENSITIVITY, default=options.get(CONF_SENSITIVITY, DEFAULT_SENSITIVITY)
                ): NumberSelector(
                    NumberSelectorConfig(
                        min=0, max=100, step=5, unit_of_measurement="%", mode=NumberSelectorMode.SLIDER
                    )
                ),
                vol.Required(CONF_HOLD_TIME, default=options.get(CONF_HOLD_TIME, DEFAULT_HOLD_TIME_S)): NumberSelector(
                    NumberSelectorConfig(
                        min=MIN_HOLD_TIME_S,
                        max=MAX_HOLD_TIME_S,
                        step=5,
                        unit_of_measurement="s",
                        mode=NumberSelectorMode.BOX,
                    )
                ),
                vol.Optional(CONF_STT_ENGINE, description={"suggested_value": options.get(CONF_STT_ENGINE)}): (
                    EntitySelector(EntitySelectorConfig(domain="stt"))
                ),
                vol.Required(
                    CONF_SUPPRESSION_DB, default=options.get(CONF_SUPPRESSION_DB, DEFAULT_SUPPRESSION_DB)
                ): NumberSelector(
                    NumberSelectorConfig(
                        min=0, max=MAX_SUPPRESSION_DB, step=3, unit_of_measurement="dB", mode=NumberSelectorMode.SLIDER
                    )
                ),
                vol.Required(CONF_SOUND_MODE, default=options.get(CONF_SOUND_MODE, DEFAULT_SOUND_MODE)): SelectSelector(
                    SelectSelectorConfig(options=list(MODES), translation_key=CONF_SOUND_MODE)
                ),
                **self._layout_field(options),
                vol.Optional(CONF_FORWARD_AGENT, description={"suggested_value": options.get(CONF_FORWARD_AGENT)}): (
                    ConversationAgentSelector(ConversationAgentSelectorConfig())
                ),
                vol.Required(
                    CONF_REWRITER_ENCODER, default=options.get(CONF_REWRITER_ENCODER, DEFAULT_ENCODER)
                ): SelectSelector(SelectSelectorConfig(options=list(ENCODERS), translation_key=CONF_REWRITER_ENCODER)),
            }
        )

    def _layout_field(self, options: Mapping[str, Any]) -> dict[vol.Marker, Any]:
        """The speaker layouts that fit the device's output channels (none: no choice to offer)."""
        choices = layout_choices(int(self.config_entry.data.get(CONF_OUTPUT_CHANNELS, 2)))
        if not choices:
            return {}
        default = options.get(CONF_LAYOUT) if options.get(CONF_LAYOUT) in choices else choices[0]
        return {vol.Required(CONF_LAYOUT, default=default): SelectSelector(SelectSelectorConfig(options=choices))}
