"""Calibration of a device that is not running yet (the config flow's calibrate step)."""

from __future__ import annotations

from collections.abc import Callable

from echo_sense_dsp.audio import AudioEngine
from echo_sense_dsp.presence import Calibration, plan_calibration
from echo_sense_dsp.presence.live import run_calibration

from .hub import HubConfig, backend_factory


def calibrate_device(config: HubConfig, progress: Callable[[float], None] | None = None) -> Calibration:
    """Open the device, play the calibration sweep, choose the probe, close it (blocking)."""
    engine = AudioEngine.from_probe(config.probe, backend_factory(config, realtime=False))
    engine.start()
    try:
        return run_calibration(engine, plan_calibration(config.sample_rate), progress=progress)
    finally:
        engine.stop()
