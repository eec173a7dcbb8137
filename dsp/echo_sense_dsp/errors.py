"""Exceptions the library raises for bad input and failing hardware.

Every error a caller should handle derives from :class:`EchoSenseError`, so the CLI and
the Home Assistant integration can turn it into a clear message without catching
programming errors by accident.
"""


class EchoSenseError(Exception):
    """Base class of every error the library raises on purpose."""


class AudioFormatError(EchoSenseError):
    """An audio file or buffer is malformed or has an unusable format."""


class SampleRateError(AudioFormatError):
    """Audio arrived at a sample rate the operation cannot use."""


class DeviceError(EchoSenseError):
    """A sound device is missing, busy or cannot run the requested stream."""


class DeviceNotFoundError(DeviceError):
    """No sound device with the requested name exists (any more)."""


class DeviceBusyError(DeviceError):
    """The sound device exists but another program holds it."""


class ModelError(EchoSenseError):
    """A shipped model is missing, corrupt or does not match the runtime."""


class StoreError(EchoSenseError):
    """A persisted file (learned rewrites, calibration) is corrupt or unreadable."""


class ConfigError(EchoSenseError):
    """A configuration value (layout, scenario, option) is invalid."""


__all__ = [
    "AudioFormatError",
    "ConfigError",
    "DeviceBusyError",
    "DeviceError",
    "DeviceNotFoundError",
    "EchoSenseError",
    "ModelError",
    "SampleRateError",
    "StoreError",
]
