"""The hub's audio: sound-device discovery and probing, and the engine (issue 3).

devices    list PortAudio devices, full duplex first; probe 96 kHz / 48 kHz duplex
engine     :class:`AudioEngine`: one full-duplex stream shared by every capability. The device
           callback only copies between SPSC block rings (``ring``); a worker thread mixes the
           buses, limits, and fans the microphones out to subscribers (after python-rtmixer's
           ring-buffer design and python-sounddevice's callback contract).
buses      media bus (48 kHz, resampled), announcement bus (ducks media with linear-in-dB
           ramps), probe bus (ultrasound source callable), soft-knee tanh limiter
backends   ``BACKENDS``: ``sounddevice`` (PortAudio ``sd.Stream``), ``simulated`` (a room model,
           e.g. :class:`echo_sense_dsp.room.LiveRoom`, paced in real time or lock-step), ``wav``
           (file in, recording out); :func:`backend_factory_for` picks one from a device id
commands   ``echo-sense engine MICS.wav OUT.wav``: the engine over files (WAV backend)
ring       :class:`BlockRing`, preallocated power-of-two single-producer single-consumer ring
playback   PyAV tracks and :class:`BusPlayer` (a track into a bus, with gain ramps); needs PyAV,
           so it is imported as ``echo_sense_dsp.audio.playback``, not from here

Resampling (96 kHz -> 16 kHz voice branch, 48 kHz -> 96 kHz media) is
:class:`echo_sense_dsp.resample.StreamingResampler`, a stateful polyphase FIR
(P. P. Vaidyanathan, *Multirate Systems and Filter Banks*, 1993, ch. 4).
"""

from .backends import (
    BACKENDS,
    AudioBackend,
    RoomModel,
    SimulatedBackend,
    SoundDeviceBackend,
    StreamConfig,
    WavBackend,
    backend_factory_for,
)
from .buses import BUS_SAMPLE_RATE, Ducker, ProbeBus, SoftLimiter, StreamBus
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
from .engine import AudioEngine, BackendFactory, EngineState, InputBlock, StateListener, Subscription
from .ring import BlockRing

__all__ = [
    "BACKENDS",
    "BUS_SAMPLE_RATE",
    "FALLBACK_SAMPLE_RATE",
    "SIMULATED_DEVICE",
    "SIMULATED_DEVICE_ID",
    "ULTRASONIC_SAMPLE_RATE",
    "AudioBackend",
    "AudioEngine",
    "BackendFactory",
    "BlockRing",
    "DeviceInfo",
    "Ducker",
    "EngineState",
    "InputBlock",
    "ProbeBus",
    "ProbeResult",
    "RoomModel",
    "SimulatedBackend",
    "SoftLimiter",
    "SoundDeviceBackend",
    "StateListener",
    "StreamBus",
    "StreamConfig",
    "Subscription",
    "WavBackend",
    "backend_factory_for",
    "list_devices",
    "probe_device",
]
