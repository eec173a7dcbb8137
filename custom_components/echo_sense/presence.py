"""Presence on the hub: the library's detector on the engine, its results on the event loop.

:class:`PresenceState` holds what the entities show. The detector decides every 20 ms on
its own thread; only changes (and the score at most once a second) hop to the loop.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback

from echo_sense_dsp.presence import Calibration, CalibrationPlan, PresenceDecision, PresenceDetector, plan_calibration
from echo_sense_dsp.presence.features import BAND_COUNT
from echo_sense_dsp.presence.live import PresenceRunner, run_calibration
from echo_sense_dsp.presence.spectrogram import DopplerHistory

from .const import CONF_CALIBRATION, CONF_HOLD_TIME, CONF_SENSITIVITY, DEFAULT_HOLD_TIME_S, DEFAULT_SENSITIVITY
from .listeners import Listeners

if TYPE_CHECKING:
    from homeassistant.config_entries import ConfigEntry

    from .hub import EchoSenseHub

_LOGGER = logging.getLogger(__name__)

SCORE_INTERVAL_S = 1.0


@dataclass(frozen=True)
class PresenceState:
    """What the presence entities show."""

    occupied: bool = False
    motion: str = "none"  # "none" | "minor" | "major"
    score: float = 0.0
    sensing: bool = False


def entry_calibration(entry: ConfigEntry, sample_rate: int) -> Calibration:
    """The entry's stored calibration, or the default probe when there is none (or it is unusable)."""
    stored = entry.data.get(CONF_CALIBRATION)
    if stored is None:
        return Calibration.default(sample_rate)
    try:
        calibration = Calibration.from_dict(stored)
    except Exception as err:
        _LOGGER.warning("Stored calibration is unusable (%s); using the default probe until recalibrated", err)
        return Calibration.default(sample_rate)
    if calibration.sample_rate != sample_rate:
        _LOGGER.warning("Calibration was made at %s Hz, the device runs at %s Hz", calibration.sample_rate, sample_rate)
        return Calibration.default(sample_rate)
    return calibration


class PresencePipeline:
    """Owns the detector and its runner for one hub."""

    def __init__(self, hass: HomeAssistant, hub: EchoSenseHub) -> None:
        self.hass = hass
        self.hub = hub
        self.state = PresenceState()
        self.calibration = entry_calibration(hub.entry, hub.config.sample_rate)
        self._runner: PresenceRunner | None = None
        self.listeners = Listeners()
        self._last_score_push = 0.0
        self._emission_enabled = True
        self.calibrating = False
        self.history = DopplerHistory(BAND_COUNT)

    @property
    def emission_enabled(self) -> bool:
        return self._emission_enabled

    def _new_detector(self) -> PresenceDetector:
        options = self.hub.entry.options
        return PresenceDetector(
            self.calibration,
            sensitivity=float(options.get(CONF_SENSITIVITY, DEFAULT_SENSITIVITY)) / 100.0,
            hold_time_s=float(options.get(CONF_HOLD_TIME, DEFAULT_HOLD_TIME_S)),
            sample_rate=self.hub.config.sample_rate,
            mic_count=self.hub.config.input_channels,
        )

    def start(self) -> None:
        """Start sensing (blocking: builds the detector and loads its model; run in the executor)."""
        runner = PresenceRunner(self.hub.engine, self._new_detector(), self._on_decision, history=self.history)
        runner.emission_enabled = self._emission_enabled
        runner.start()
        self._runner = runner

    def stop(self) -> None:
        """Stop sensing (blocking: joins the detector thread)."""
        runner, self._runner = self._runner, None
        if runner is not None:
            runner.stop()

    def set_emission(self, enabled: bool) -> None:
        self._emission_enabled = enabled
        if self._runner is not None:
            self._runner.emission_enabled = enabled
        if not enabled:
            self.state = replace(self.state, sensing=False)
        self.async_notify()

    def recalibrate(self, progress: Callable[[float], None] | None = None) -> Calibration:
        """Pause sensing, play the calibration sweep, resume with the new probe (blocking)."""
        self.calibrating = True
        self.stop()
        try:
            calibration = run_calibration(self.hub.engine, self.plan(), progress=progress)
            self.calibration = calibration
            return calibration
        finally:
            self.calibrating = False
            self.start()

    def plan(self) -> CalibrationPlan:
        return plan_calibration(self.hub.config.sample_rate)

    def diagnostics(self) -> dict[str, Any]:
        runner = self._runner
        return {
            "calibration": self.calibration.to_dict(),
            "state": self.state.__dict__,
            "emission_enabled": self._emission_enabled,
            "detector": runner.detector.diagnostics() if runner else None,
            "resubscriptions": runner.resubscriptions if runner else 0,
        }

    @property
    def emission_duty(self) -> float | None:
        runner = self._runner
        return None if runner is None else runner.detector.emission_duty

    # --- bridge to the event loop ------------------------------------------------------------

    def _on_decision(self, decision: PresenceDecision) -> None:
        """Runs on the detector thread."""
        state = self.state
        changed = (decision.occupied, decision.motion, decision.sensing) != (
            state.occupied,
            state.motion,
            state.sensing,
        )
        now = time.monotonic()
        if changed or now - self._last_score_push >= SCORE_INTERVAL_S:
            self._last_score_push = now
            new = PresenceState(decision.occupied, decision.motion, round(decision.score, 3), decision.sensing)
            self.hass.loop.call_soon_threadsafe(self._async_set_state, new)

    @callback
    def _async_set_state(self, state: PresenceState) -> None:
        self.state = state
        self.async_notify()

    @callback
    def async_add_listener(self, update: CALLBACK_TYPE) -> CALLBACK_TYPE:
        """Call ``update`` whenever the presence state changes; returns the remover."""
        return self.listeners.async_add(update)

    @callback
    def async_notify(self) -> None:
        self.listeners.async_notify()
