"""Where the engine's duplex stream comes from: real hardware, the simulated room, or WAV files.

Every backend opens one duplex stream described by a :class:`StreamConfig` and then calls the
engine's callback ``callback(indata, outdata, frames)`` once per block, exactly like
python-sounddevice: ``indata`` is ``(frames, input_channels)`` float32 (read it, do not keep
it), ``outdata`` is ``(frames, output_channels)`` float32 for the callback to fill. A backend
reports a failing device through ``on_error(exception)`` from any thread; the engine then
closes it and reopens a fresh one from its factory.

========================  ==============================================================
:class:`SoundDeviceBackend`  PortAudio through python-sounddevice (``sd.Stream``); the hub's
                          sound card, chosen by its stable id (``"<host api>:<name>"``).
:class:`SimulatedBackend`  a room model (``echo_sense_dsp.room.LiveRoom`` or any object with
                          ``sample_rate``, ``mic_count``, ``driver_count`` and
                          ``process(drive (frames, drivers)) -> mics (frames, mics)``), paced in
                          real time on its own thread, or as fast as possible (``realtime=False``).
:class:`WavBackend`       plays a file (or array) into the inputs and records the outputs, as
                          fast as possible; the CLI's way to run the engine on files.
========================  ==============================================================

``BACKENDS`` maps the names the config entry uses to the classes.
Non-real-time backends (``realtime = False``) let the engine process each block inside the
callback (lock-step), so their runs are deterministic and as fast as the CPU allows.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from ..errors import AudioFormatError, DeviceError, DeviceNotFoundError, SampleRateError
from ..wavio import read_wav, write_wav
from .devices import _convert_portaudio_error, find_device_index

_LOGGER = logging.getLogger(__name__)

Callback = Callable[[NDArray[np.float32], NDArray[np.float32], int], None]
ErrorCallback = Callable[[BaseException], None]


@dataclass(frozen=True)
class StreamConfig:
    """The duplex stream the engine asks for.

    Attributes
    ----------
    sample_rate : int, Hz (96 kHz, or 48 kHz on cards without ultrasound).
    input_channels : int, microphones.
    output_channels : int, drivers.
    block_size : int, frames per callback (about 10 ms).
    """

    sample_rate: int
    input_channels: int
    output_channels: int
    block_size: int

    @property
    def block_duration_s(self) -> float:
        return self.block_size / self.sample_rate


@runtime_checkable
class AudioBackend(Protocol):
    """What the engine needs from a stream source.

    Attributes
    ----------
    realtime : bool, True when blocks arrive at the pace of a clock (hardware, paced simulation).
    latency_s : float, the device's input plus output latency once open (s).
    input_overflows, output_underflows : int, xruns the device itself reported.
    """

    realtime: bool
    input_overflows: int
    output_underflows: int

    @property
    def latency_s(self) -> float: ...

    def open(self, config: StreamConfig, callback: Callback, on_error: ErrorCallback) -> None:
        """Open and start the stream; raise ``DeviceError`` when it cannot."""

    def close(self) -> None:
        """Stop and close the stream and join any thread the backend started; idempotent."""


class RoomModel(Protocol):
    """A simulated acoustic environment around the device (``echo_sense_dsp.room.LiveRoom``)."""

    sample_rate: int
    mic_count: int
    driver_count: int

    def process(self, drive_block: NDArray[np.float32]) -> NDArray[np.float32]:
        """Advance by one block: drive ``(frames, driver_count)`` in, mics ``(frames, mic_count)`` out."""
        ...


class SoundDeviceBackend:
    """The real sound card through python-sounddevice.

    Parameters
    ----------
    device : a stable id from :func:`~echo_sense_dsp.audio.devices.list_devices`
        (``"ALSA:USB Audio"``), a PortAudio device name or substring (``"pulse"``), an index, or
        ``None`` for PortAudio's default device. A stable id is looked up afresh on every
        :meth:`open`, so a reconnect finds the card under its new index.
    latency : PortAudio's suggested latency (``"low"``, ``"high"`` or seconds).
    """

    realtime = True

    def __init__(self, device: str | int | None = None, *, latency: str | float = "low") -> None:
        self.device = device
        self.latency = latency
        self.input_overflows = 0
        self.output_underflows = 0
        self._stream: Any = None
        self._closing = False
        self._callback: Callback | None = None
        self._on_error: ErrorCallback | None = None

    @property
    def latency_s(self) -> float:
        if self._stream is None:
            return 0.0
        latency = self._stream.latency
        return float(sum(latency)) if isinstance(latency, tuple) else float(latency)

    # Process-wide PortAudio bookkeeping: streams open now, and streams abandoned in a hung close.
    _open_streams = 0
    _abandoned = False

    def _resolve(self, sd: Any) -> str | int | None:
        if not (isinstance(self.device, str) and ":" in self.device):
            return self.device
        try:
            index, _raw = find_device_index(self.device)
        except DeviceNotFoundError:
            # PortAudio lists devices once, at Pa_Initialize: a USB card plugged back in stays
            # invisible until it re-initialises, which is safe only with no stream open.
            if SoundDeviceBackend._open_streams or SoundDeviceBackend._abandoned:
                raise
            sd._terminate()
            sd._initialize()
            index, _raw = find_device_index(self.device)
        return index

    def open(self, config: StreamConfig, callback: Callback, on_error: ErrorCallback) -> None:
        try:
            import sounddevice as sd
        except OSError as err:  # libportaudio2 missing
            raise DeviceError(f"PortAudio is not available: {err}") from err
        self._callback, self._on_error, self._closing = callback, on_error, False
        device = self._resolve(sd)
        try:
            stream = sd.Stream(
                samplerate=config.sample_rate,
                blocksize=config.block_size,
                device=(device, device),
                channels=(config.input_channels, config.output_channels),
                dtype="float32",
                latency=self.latency,
                callback=self._portaudio_callback,
                finished_callback=self._finished,
                prime_output_buffers_using_stream_callback=False,
            )
        except (sd.PortAudioError, ValueError) as err:
            raise _convert_portaudio_error(err) from err
        try:
            stream.start()
        except sd.PortAudioError as err:
            stream.close(ignore_errors=True)
            raise _convert_portaudio_error(err) from err
        self._stream = stream
        SoundDeviceBackend._open_streams += 1

    def _portaudio_callback(self, indata: Any, outdata: Any, frames: int, time_info: Any, status: Any) -> None:
        if status:
            if status.input_overflow:
                self.input_overflows += 1
            if status.output_underflow:
                self.output_underflows += 1
        self._callback(indata, outdata, frames)  # type: ignore[misc]

    def _finished(self) -> None:
        if not self._closing and self._on_error is not None:
            self._on_error(DeviceError("the sound device stopped the stream unexpectedly"))

    def close(self) -> None:
        self._closing = True
        stream, self._stream = self._stream, None
        if stream is not None:
            try:
                stream.abort(ignore_errors=True)
                stream.close(ignore_errors=True)
            except Exception as err:  # a vanished device may fail to close; nothing is left to free
                _LOGGER.debug("closing the sound device failed: %s", err)
            SoundDeviceBackend._open_streams -= 1

    def abandon(self) -> None:
        """Called by the engine when :meth:`close` hangs (a dead PulseAudio server can block
        ``Pa_AbortStream``): python-sounddevice's exit handler would block the same way at
        interpreter exit, so it is unregistered and the OS reclaims the stream instead.
        """
        import atexit

        import sounddevice as sd

        SoundDeviceBackend._abandoned = True
        atexit.unregister(sd._exit_handler)


class _ThreadedBackend:
    """Shared parts of the backends that run their own block loop on a thread."""

    realtime = False

    def __init__(self) -> None:
        self.input_overflows = 0
        self.output_underflows = 0
        self.blocks = 0
        self.done = threading.Event()  # set when a finite source has played out
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _start(self, name: str, target: Callable[[], None]) -> None:
        self._stop.clear()
        self.done.clear()
        self._thread = threading.Thread(target=target, name=name, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join()


class SimulatedBackend(_ThreadedBackend):
    """A room model as the sound card.

    Block ``k``'s microphone signal is the room's response to the drive of block ``k - 1``
    (one block of device latency), so the engine sees the same causality as with hardware.

    Parameters
    ----------
    room : :class:`RoomModel`; its ``sample_rate``, ``mic_count`` and ``driver_count`` must match
        the stream config.
    realtime : pace blocks to the wall clock (the demo) or run as fast as possible (tests,
        benchmarks; the engine then processes in lock-step).
    max_blocks : stop after this many blocks (sets :attr:`done`); ``None`` runs until closed.
    """

    def __init__(self, room: RoomModel, *, realtime: bool = True, max_blocks: int | None = None) -> None:
        super().__init__()
        self.room = room
        self.realtime = realtime
        self.max_blocks = max_blocks
        self._config: StreamConfig | None = None

    @property
    def latency_s(self) -> float:
        if self._config is None:
            return 0.0
        return self._config.block_duration_s + float(getattr(self.room, "latency_s", 0.0))

    def open(self, config: StreamConfig, callback: Callback, on_error: ErrorCallback) -> None:
        room = self.room
        if (room.sample_rate, room.mic_count, room.driver_count) != (
            config.sample_rate,
            config.input_channels,
            config.output_channels,
        ):
            raise DeviceError(
                f"the simulated room runs at {room.sample_rate} Hz with {room.mic_count} mics and "
                f"{room.driver_count} drivers; the engine asked for {config.sample_rate} Hz, "
                f"{config.input_channels} in, {config.output_channels} out"
            )
        self._config = config
        self._start("echo-sense-simulated-device", lambda: self._run(config, callback, on_error))

    def _run(self, config: StreamConfig, callback: Callback, on_error: ErrorCallback) -> None:
        frames = config.block_size
        indata = np.zeros((frames, config.input_channels), np.float32)
        outdata = np.zeros((frames, config.output_channels), np.float32)
        drive = np.zeros_like(outdata)
        block_s = config.block_duration_s
        next_deadline = time.monotonic()
        while not self._stop.is_set():
            if self.max_blocks is not None and self.blocks >= self.max_blocks:
                self.done.set()
                return
            try:
                np.copyto(indata, self.room.process(drive))
            except Exception as err:  # the simulated device "fails": report it like hardware would
                on_error(err)
                return
            outdata.fill(0.0)
            callback(indata, outdata, frames)
            np.copyto(drive, outdata)
            self.blocks += 1
            if self.realtime:
                next_deadline += block_s
                delay = next_deadline - time.monotonic()
                if delay > 0:
                    self._stop.wait(delay)
                elif delay < -5 * block_s:  # far behind the clock: a device would have underrun
                    self.output_underflows += 1
                    next_deadline = time.monotonic()


class WavBackend(_ThreadedBackend):
    """Play a WAV file (or array) into the inputs and record the outputs, as fast as possible.

    Parameters
    ----------
    source : path of a WAV file, or an array (frames, input_channels) float32, or ``None`` for
        silent inputs (then give ``seconds``). Its rate must equal the stream's; a file with
        fewer channels than the stream has inputs is repeated across them.
    sample_rate : the array's rate in Hz (required for arrays).
    seconds : run length when ``source`` is ``None``; otherwise the source's length.
    output_path : where :meth:`close` writes the recorded outputs (float32 WAV); ``None`` keeps
        them only in :attr:`recorded`.
    """

    def __init__(
        self,
        source: str | os.PathLike[str] | NDArray[np.floating] | None,
        *,
        sample_rate: int | None = None,
        seconds: float | None = None,
        output_path: str | os.PathLike[str] | None = None,
    ) -> None:
        super().__init__()
        if source is None:
            if seconds is None or sample_rate is None:
                raise AudioFormatError("WavBackend without a source needs seconds= and sample_rate=")
            self.samples: NDArray[np.float32] | None = None
            self.sample_rate = int(sample_rate)
            self.frames = round(seconds * self.sample_rate)
        elif isinstance(source, (str, os.PathLike)):
            audio = read_wav(source)
            self.samples, self.sample_rate = audio.samples, audio.sample_rate
            self.frames = self.samples.shape[0]
        else:
            if sample_rate is None:
                raise AudioFormatError("WavBackend with an array source needs sample_rate=")
            arr = np.asarray(source, dtype=np.float32)
            self.samples = arr[:, np.newaxis] if arr.ndim == 1 else arr
            self.sample_rate = int(sample_rate)
            self.frames = self.samples.shape[0]
        self.output_path = None if output_path is None else Path(output_path)
        self.recorded: NDArray[np.float32] = np.zeros((0, 0), np.float32)
        self._config: StreamConfig | None = None

    @property
    def latency_s(self) -> float:
        return 0.0

    def open(self, config: StreamConfig, callback: Callback, on_error: ErrorCallback) -> None:
        if config.sample_rate != self.sample_rate:
            raise SampleRateError(
                f"the WAV source is at {self.sample_rate} Hz, the engine runs at {config.sample_rate}"
            )
        if self.samples is not None and config.input_channels % self.samples.shape[1] != 0:
            raise AudioFormatError(
                f"the WAV source has {self.samples.shape[1]} channels; the engine has {config.input_channels} inputs"
            )
        self._config = config
        self.recorded = np.zeros((self.frames, config.output_channels), np.float32)
        self._start("echo-sense-wav-device", lambda: self._run(config, callback))

    def _run(self, config: StreamConfig, callback: Callback) -> None:
        frames = config.block_size
        indata = np.zeros((frames, config.input_channels), np.float32)
        outdata = np.zeros((frames, config.output_channels), np.float32)
        repeat = 1 if self.samples is None else config.input_channels // self.samples.shape[1]
        for start in range(0, self.frames, frames):
            if self._stop.is_set():
                return
            n = min(frames, self.frames - start)
            indata.fill(0.0)
            if self.samples is not None:
                indata[:n] = np.tile(self.samples[start : start + n], (1, repeat))
            outdata.fill(0.0)
            callback(indata, outdata, frames)
            self.recorded[start : start + n] = outdata[:n]
            self.blocks += 1
        self.done.set()

    def close(self) -> None:
        super().close()
        if self.output_path is not None and self.recorded.size:
            write_wav(self.output_path, self.recorded, self.sample_rate)


def backend_factory_for(
    device_id: str,
    *,
    scenario: str = "demo_day",
    realtime: bool = True,
    driver_count: int | None = None,
    room: Callable[[], RoomModel] | None = None,
) -> Callable[[], AudioBackend]:
    """The backend factory the hub's config entry names: the simulated room or a real card.

    Parameters
    ----------
    device_id : ``SIMULATED_DEVICE_ID`` for the simulated room, else a stable device id
        (``"<host api>:<name>"``) or a PortAudio name such as ``"pulse"``.
    scenario : the room scenario (preset name or JSON path) for the simulated device.
    realtime : pace the simulated room by the clock (False: lock-step, as fast as possible).
    driver_count : drivers of the simulated room (default ``SIMULATED_DRIVER_COUNT``).
    room : builds the simulated device's room instead of ``LiveRoom(scenario, driver_count)``
        (called at every start, so each reconnect gets a fresh room).

    Returns
    -------
    A callable the engine calls at start and at every reconnect. Building the simulated room
    takes seconds: call :meth:`AudioEngine.start` from an executor.
    """
    from .devices import SIMULATED_DEVICE_ID, SIMULATED_DRIVER_COUNT

    if device_id != SIMULATED_DEVICE_ID:
        return lambda: SoundDeviceBackend(device_id)

    def live_room() -> RoomModel:
        from ..room import LiveRoom  # the room simulator is only needed for the simulated device

        return LiveRoom(scenario, driver_count=driver_count or SIMULATED_DRIVER_COUNT)

    build_room = room or live_room
    return lambda: SimulatedBackend(build_room(), realtime=realtime)


BACKENDS: dict[str, type[Any]] = {
    "sounddevice": SoundDeviceBackend,
    "simulated": SimulatedBackend,
    "wav": WavBackend,
}

__all__ = [
    "BACKENDS",
    "AudioBackend",
    "Callback",
    "ErrorCallback",
    "RoomModel",
    "SimulatedBackend",
    "SoundDeviceBackend",
    "StreamConfig",
    "WavBackend",
    "backend_factory_for",
]
