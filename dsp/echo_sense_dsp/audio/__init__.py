"""The hub's audio: sound-device discovery and probing, and (issue 3) the engine.

devices   list PortAudio devices, full duplex first; probe 96 kHz / 48 kHz duplex
"""

from .devices import (
    FALLBACK_SAMPLE_RATE,
    SIMULATED_DEVICE,
    SIMULATED_DEVICE_ID,
    ULTRASONIC_SAMPLE_RATE,
    DeviceInfo,
    ProbeResult,
    list_devices,
    probe_device,
)

__all__ = [
    "FALLBACK_SAMPLE_RATE",
    "SIMULATED_DEVICE",
    "SIMULATED_DEVICE_ID",
    "ULTRASONIC_SAMPLE_RATE",
    "DeviceInfo",
    "ProbeResult",
    "list_devices",
    "probe_device",
]
