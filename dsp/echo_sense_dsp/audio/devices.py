"""Finding and probing the hub's sound device.

A device is named by a stable id (``"<host api>:<device name>"``), never by its
PortAudio index, which changes when USB devices come and go. ``SIMULATED_DEVICE_ID``
names the simulated room that stands in for hardware in the demo and the tests.

PortAudio is reached through :class:`SoundDeviceQuery` (python-sounddevice); tests
of capabilities no CI machine has (a 48 kHz-only card, a busy card) give
:func:`list_devices` and :func:`probe_device` another object with the same methods.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from ..errors import DeviceBusyError, DeviceError, DeviceNotFoundError

SIMULATED_DEVICE_ID = "simulated"
ULTRASONIC_SAMPLE_RATE = 96_000  # Hz: carries probes up to ~45 kHz
FALLBACK_SAMPLE_RATE = 48_000  # Hz: near-ultrasound (19-23 kHz) only
CANDIDATE_SAMPLE_RATES = (16_000, 44_100, 48_000, 96_000, 192_000)
SIMULATED_MIC_COUNT = 4
SIMULATED_DRIVER_COUNT = 2

# PortAudio error codes (portaudio.h, PaErrorCode) that mean "someone else has it".
_PA_DEVICE_UNAVAILABLE = -9985
_BUSY_WORDS = ("busy", "unavailable", "in use")


@dataclass(frozen=True)
class DeviceInfo:
    """A sound device as the config flow lists it.

    Attributes
    ----------
    device_id : stable id, ``"<host api>:<name>"`` or ``SIMULATED_DEVICE_ID``.
    name : the device's own name.
    input_channels, output_channels : the most channels it offers each way.
    sample_rates : rates (Hz) it accepts for both input and output.
    """

    device_id: str
    name: str
    input_channels: int
    output_channels: int
    sample_rates: tuple[int, ...] = field(default_factory=tuple)

    @property
    def full_duplex(self) -> bool:
        return self.input_channels > 0 and self.output_channels > 0

    @property
    def label(self) -> str:
        rates = "/".join(f"{r // 1000}k" if r % 1000 == 0 else f"{r / 1000:g}k" for r in self.sample_rates)
        return f"{self.name} ({self.input_channels} in / {self.output_channels} out, {rates or 'no common rate'})"


@dataclass(frozen=True)
class ProbeResult:
    """What a device can run full duplex.

    ``sample_rate`` is 96 kHz when the device carries ultrasound, else 48 kHz
    (``ultrasonic`` False: presence sensing falls back to near-ultrasound).
    """

    device_id: str
    sample_rate: int
    input_channels: int
    output_channels: int

    @property
    def ultrasonic(self) -> bool:
        return self.sample_rate >= ULTRASONIC_SAMPLE_RATE


SIMULATED_DEVICE = DeviceInfo(
    SIMULATED_DEVICE_ID,
    "Simulated room (demo)",
    SIMULATED_MIC_COUNT,
    SIMULATED_DRIVER_COUNT,
    (FALLBACK_SAMPLE_RATE, ULTRASONIC_SAMPLE_RATE),
)


class PortAudioQuery(Protocol):
    """The part of PortAudio that device discovery needs."""

    def query(self) -> list[dict[str, Any]]:
        """All devices, as python-sounddevice's ``query_devices()`` dicts plus ``hostapi_name``."""

    def check(self, index: int, input_channels: int, output_channels: int, sample_rate: int) -> None:
        """Raise ``DeviceError`` unless the device accepts these settings."""

    def open_duplex(self, index: int, input_channels: int, output_channels: int, sample_rate: int) -> None:
        """Open, start, stop and close a duplex stream; raise ``DeviceError`` on failure."""


class SoundDeviceQuery:
    """PortAudio through python-sounddevice (imported lazily: it needs libportaudio2)."""

    def _sd(self) -> Any:
        try:
            import sounddevice
        except OSError as err:  # the PortAudio shared library is missing
            raise DeviceError(f"PortAudio is not available: {err}") from err
        return sounddevice

    def query(self) -> list[dict[str, Any]]:
        sd = self._sd()
        try:
            devices = list(sd.query_devices())
            hostapis = list(sd.query_hostapis())
        except sd.PortAudioError as err:
            raise DeviceError(f"cannot list sound devices: {err}") from err
        return [dict(d, hostapi_name=hostapis[d["hostapi"]]["name"]) for d in devices]

    def check(self, index: int, input_channels: int, output_channels: int, sample_rate: int) -> None:
        sd = self._sd()
        try:
            if input_channels:
                sd.check_input_settings(device=index, channels=input_channels, dtype="float32", samplerate=sample_rate)
            if output_channels:
                sd.check_output_settings(
                    device=index, channels=output_channels, dtype="float32", samplerate=sample_rate
                )
        except sd.PortAudioError as err:
            raise _convert_portaudio_error(err) from err

    def open_duplex(self, index: int, input_channels: int, output_channels: int, sample_rate: int) -> None:
        sd = self._sd()
        try:
            stream = sd.Stream(
                device=(index, index),
                channels=(input_channels, output_channels),
                samplerate=sample_rate,
                dtype="float32",
                callback=_silence_callback,
            )
        except sd.PortAudioError as err:
            raise _convert_portaudio_error(err) from err
        try:
            stream.start()
            stream.stop()
        except sd.PortAudioError as err:
            raise _convert_portaudio_error(err) from err
        finally:
            stream.close()


def _silence_callback(indata: Any, outdata: Any, frames: int, time: Any, status: Any) -> None:
    outdata.fill(0)


def _convert_portaudio_error(err: Exception) -> DeviceError:
    code = err.args[1] if len(err.args) > 1 else None
    text = str(err.args[0]) if err.args else str(err)
    if code == _PA_DEVICE_UNAVAILABLE or any(word in text.lower() for word in _BUSY_WORDS):
        return DeviceBusyError(f"the device is busy (another program may be using it): {text}")
    return DeviceError(text)


def _device_id(raw: dict[str, Any]) -> str:
    return f"{raw['hostapi_name']}:{raw['name']}"


def _supported_rates(backend: PortAudioQuery, raw: dict[str, Any]) -> tuple[int, ...]:
    rates = []
    for rate in CANDIDATE_SAMPLE_RATES:
        try:
            backend.check(raw["index"], min(1, raw["max_input_channels"]), min(1, raw["max_output_channels"]), rate)
        except DeviceError:
            continue
        rates.append(rate)
    return tuple(rates)


def list_devices(backend: PortAudioQuery | None = None) -> list[DeviceInfo]:
    """Real sound devices, full-duplex ones first, then by name.

    Devices with neither inputs nor outputs are skipped. Raises ``DeviceError`` when
    PortAudio itself is unusable.
    """
    backend = backend or SoundDeviceQuery()
    infos = []
    for raw in backend.query():
        if raw["max_input_channels"] <= 0 and raw["max_output_channels"] <= 0:
            continue
        infos.append(
            DeviceInfo(
                _device_id(raw),
                str(raw["name"]),
                int(raw["max_input_channels"]),
                int(raw["max_output_channels"]),
                _supported_rates(backend, raw),
            )
        )
    infos.sort(key=lambda d: (not d.full_duplex, d.name.lower()))
    return infos


def find_device_index(device_id: str, backend: PortAudioQuery | None = None) -> tuple[int, dict[str, Any]]:
    """PortAudio index and raw description of the device with ``device_id`` now.

    Raises ``DeviceNotFoundError`` when no such device is present (unplugged, renamed).
    """
    backend = backend or SoundDeviceQuery()
    for raw in backend.query():
        if _device_id(raw) == device_id:
            return int(raw["index"]), raw
    raise DeviceNotFoundError(f"no sound device '{device_id}' is present")


def probe_device(device_id: str, backend: PortAudioQuery | None = None) -> ProbeResult:
    """Find the best full-duplex configuration the device really opens.

    Tries 96 kHz, then 48 kHz, with all input channels and up to all output channels.

    Raises
    ------
    DeviceNotFoundError  the device is gone.
    DeviceBusyError      another program holds it.
    DeviceError          it has no inputs or outputs, or opens at neither rate.
    """
    if device_id == SIMULATED_DEVICE_ID:
        return ProbeResult(SIMULATED_DEVICE_ID, ULTRASONIC_SAMPLE_RATE, SIMULATED_MIC_COUNT, SIMULATED_DRIVER_COUNT)
    backend = backend or SoundDeviceQuery()
    index, raw = find_device_index(device_id, backend)
    inputs, outputs = int(raw["max_input_channels"]), int(raw["max_output_channels"])
    if inputs <= 0 or outputs <= 0:
        missing = "microphone inputs" if inputs <= 0 else "speaker outputs"
        raise DeviceError(f"'{raw['name']}' has no {missing}; echo_sense needs one device that both plays and records")
    failures = []
    for rate in (ULTRASONIC_SAMPLE_RATE, FALLBACK_SAMPLE_RATE):
        try:
            backend.check(index, inputs, outputs, rate)
            backend.open_duplex(index, inputs, outputs, rate)
        except DeviceBusyError:
            raise
        except DeviceError as err:
            failures.append(f"{rate} Hz: {err}")
            continue
        return ProbeResult(device_id, rate, inputs, outputs)
    raise DeviceError(f"'{raw['name']}' cannot run full duplex at 96 or 48 kHz ({'; '.join(failures)})")


__all__ = [
    "CANDIDATE_SAMPLE_RATES",
    "FALLBACK_SAMPLE_RATE",
    "SIMULATED_DEVICE",
    "SIMULATED_DEVICE_ID",
    "ULTRASONIC_SAMPLE_RATE",
    "DeviceInfo",
    "PortAudioQuery",
    "ProbeResult",
    "SoundDeviceQuery",
    "find_device_index",
    "list_devices",
    "probe_device",
]
