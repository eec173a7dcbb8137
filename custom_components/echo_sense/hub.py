"""EchoSenseHub: the config entry's runtime data.

It adapts the library to Home Assistant: it owns the :class:`AudioEngine` on the entry's
sound device (or the simulated room), turns the engine's health into entity availability
and a repair issue, and (as the capabilities land) the pipelines that run on the engine.
The engine runs on its own threads; its callbacks hop to the event loop with
``call_soon_threadsafe``, and blocking calls (start, stop) run in the executor.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.exceptions import ConfigEntryError, ConfigEntryNotReady
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.event import async_track_time_interval

from echo_sense_dsp.audio import (
    SIMULATED_DEVICE_ID,
    AudioBackend,
    AudioEngine,
    EngineState,
    ProbeResult,
    backend_factory_for,
)
from echo_sense_dsp.errors import EchoSenseError
from echo_sense_dsp.room import LiveRoom

from .blueprints import async_install_blueprints
from .const import (
    CONF_DEVICE_ID,
    CONF_DEVICE_NAME,
    CONF_INPUT_CHANNELS,
    CONF_OUTPUT_CHANNELS,
    CONF_SAMPLE_RATE,
    DOMAIN,
    MANUFACTURER,
)
from .listeners import Listeners
from .presence import PresencePipeline

_LOGGER = logging.getLogger(__name__)

STATS_INTERVAL = timedelta(seconds=10)
SIMULATED_SCENARIO = "demo_day"

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

    @property
    def probe(self) -> ProbeResult:
        return ProbeResult(self.device_id, self.sample_rate, self.input_channels, self.output_channels)


def simulated_room(config: HubConfig) -> LiveRoom:
    """The simulated room the demo and the tests use as hardware (the demo household's day)."""
    return LiveRoom(SIMULATED_SCENARIO, driver_count=config.output_channels)


def backend_factory(config: HubConfig, *, realtime: bool = True) -> Callable[[], AudioBackend]:
    """The engine's backend factory for ``config``'s device (the library's, with the hub's room).

    ``realtime=False`` runs the simulated room as fast as it computes (calibration in the
    config flow); a sound card is always real time. The room is looked up through
    :func:`simulated_room` at each start, so tests can put another room in its place.
    """
    return backend_factory_for(config.device_id, realtime=realtime, room=lambda: simulated_room(config))


class EchoSenseHub:
    """Everything one echo_sense device runs, for the lifetime of its config entry."""

    def __init__(self, hass: HomeAssistant, entry: ConfigEntry) -> None:
        self.hass = hass
        self.entry = entry
        self.config = HubConfig.from_entry(entry)
        self.engine = AudioEngine.from_probe(self.config.probe, backend_factory(self.config))
        self.presence = PresencePipeline(hass, self)
        self.listeners = Listeners()
        self._unsubscribers: list[Callable[[], None]] = []
        self._shut_down = False
        self._device_lost_logged = False
        self._start_lock = threading.Lock()
        self._start_cancelled = False
        self._starting = False

    @property
    def issue_id(self) -> str:
        return f"device_lost_{self.entry.entry_id}"

    @property
    def available(self) -> bool:
        """Entities are available while the engine streams."""
        return self.engine.state is EngineState.RUNNING

    @property
    def device_info(self) -> DeviceInfo:
        return DeviceInfo(
            identifiers={(DOMAIN, self.config.device_id)},
            name=self.entry.title,
            manufacturer=MANUFACTURER,
            model="Simulated hub" if self.config.simulated else self.config.device_name,
            sw_version=_library_version(),
        )

    async def async_setup(self) -> None:
        """Start the engine, then presence sensing.

        Raises ConfigEntryNotReady (Home Assistant retries) when the device cannot open, and
        ConfigEntryError when the presence pipeline cannot start.
        """
        self._unsubscribers.append(self.engine.add_state_listener(self._engine_state_changed))
        try:
            try:
                await self.hass.async_add_executor_job(self._start_step, self.engine.start)
            except EchoSenseError as err:
                raise ConfigEntryNotReady(
                    translation_domain=DOMAIN,
                    translation_key="device_unavailable",
                    translation_placeholders={"device": self.config.device_name, "reason": str(err)},
                ) from err
            try:
                await self.hass.async_add_executor_job(self._start_step, self.presence.start)
            except EchoSenseError as err:
                raise ConfigEntryError(
                    translation_domain=DOMAIN,
                    translation_key="presence_failed",
                    translation_placeholders={"reason": str(err)},
                ) from err
            self._unsubscribers.append(async_track_time_interval(self.hass, self._async_refresh, STATS_INTERVAL))
            await async_install_blueprints(self.hass)
        except asyncio.CancelledError:
            self._async_setup_cancelled()
            raise
        except Exception:
            await self.async_shutdown()  # a failed start (or a bug) must not leave the sound card streaming
            raise

    def _start_step(self, start: Callable[[], None]) -> None:
        """Executor job: one blocking start; when setup was cancelled meanwhile, stop what the hub started.

        A cancelled await does not stop the executor thread: without this the engine would go on
        streaming after a cancelled setup (Home Assistant stopping during a reload).
        """
        with self._start_lock:
            if self._start_cancelled:
                return
            self._starting = True
        try:
            start()
        finally:
            with self._start_lock:
                self._starting = False
                cancelled = self._start_cancelled
            if cancelled:
                self._stop_blocking()

    @callback
    def _async_setup_cancelled(self) -> None:
        with self._start_lock:
            self._start_cancelled = True
            starting = self._starting
        self._async_mark_shut_down()
        if not starting:  # no start in flight to clean up after itself: stop what has started
            self.hass.async_add_executor_job(self._stop_blocking)

    @callback
    def _async_mark_shut_down(self) -> bool:
        """Mark the hub shut down and drop its listeners; False when it already was."""
        if self._shut_down:
            return False
        self._shut_down = True
        while self._unsubscribers:
            self._unsubscribers.pop()()
        return True

    def _stop_blocking(self) -> None:
        self.presence.stop()
        self.engine.stop()

    async def async_shutdown(self) -> None:
        """Stop the engine and everything the hub started; nothing is left running.

        Runs once: Home Assistant's stop event and the entry's unload both call it.
        """
        if not self._async_mark_shut_down():
            return
        await self.hass.async_add_executor_job(self._stop_blocking)
        ir.async_delete_issue(self.hass, DOMAIN, self.issue_id)

    @callback
    def async_add_listener(self, update: CALLBACK_TYPE) -> CALLBACK_TYPE:
        """Call ``update`` whenever this object's state changes; returns the remover."""
        return self.listeners.async_add(update)

    @callback
    def _async_notify(self) -> None:
        self.listeners.async_notify()

    @callback
    def _async_refresh(self, _now: Any) -> None:
        self._async_notify()

    def _engine_state_changed(self, state: EngineState, reason: str | None) -> None:
        """Engine listener: runs on the engine's threads, so hop to the event loop."""
        self.hass.loop.call_soon_threadsafe(self._async_engine_state_changed, state, reason)

    @callback
    def _async_engine_state_changed(self, state: EngineState, reason: str | None) -> None:
        if state in (EngineState.DEVICE_LOST, EngineState.RECONNECTING):
            reason = self.engine.last_error or reason  # RECONNECTING's reason is the attempt count
            if not self._device_lost_logged:
                _LOGGER.warning("Sound device %s lost (%s); reconnecting", self.config.device_name, reason)
                self._device_lost_logged = True
            ir.async_create_issue(
                self.hass,
                DOMAIN,
                self.issue_id,
                is_fixable=False,
                severity=ir.IssueSeverity.ERROR,
                translation_key="device_lost",
                translation_placeholders={"device": self.config.device_name, "reason": reason or "unknown"},
            )
        elif state is EngineState.RUNNING:
            if self._device_lost_logged:
                _LOGGER.info("Sound device %s is back", self.config.device_name)
                self._device_lost_logged = False
            ir.async_delete_issue(self.hass, DOMAIN, self.issue_id)
        self._async_notify()

    def diagnostics(self) -> dict[str, Any]:
        """The hub's state for the diagnostics download."""
        return {
            "device_id": self.config.device_id,
            "device_name": self.config.device_name,
            "backend": "simulated" if self.config.simulated else "sounddevice",
            "engine": self.engine.stats(),
            "presence": self.presence.diagnostics(),
        }


def _library_version() -> str:
    from echo_sense_dsp import __version__

    return __version__
