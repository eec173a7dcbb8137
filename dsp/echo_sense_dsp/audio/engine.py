"""AudioEngine: one full-duplex stream on the hub's sound card, shared by every capability.

Real-time path (after python-rtmixer's ``signal_processing.py``)::

    device callback --copy--> input ring  (mics | the drive sent in the same callback)
    device callback <--copy-- output ring (prefilled with ``output_prefill_blocks`` of silence)
                 worker thread:  input ring -> fan-out to subscriptions (resampled per subscriber)
                                 media bus (48 kHz -> stream rate) x ducking gain
                                 + announcement bus (48 kHz -> stream rate) + probe bus
                                 -> soft limiter -> output ring

The callback only copies into slots of preallocated :class:`~echo_sense_dsp.audio.ring.BlockRing`
s and bumps counters; it never locks, logs or allocates. The worker polls the input ring every
half block. With a non-real-time backend (WAV files, the simulated room with ``realtime=False``)
the worker's step runs inside the callback instead (lock-step), so such runs are deterministic.

Input subscribers *pull*: :meth:`AudioEngine.subscribe_input` returns a :class:`Subscription`
whose :meth:`Subscription.get` waits for the next :class:`InputBlock`. A subscriber more than
``max_queue_blocks`` behind is dropped (logged, ``dropped`` set); the stream never waits for it.
``with_reference=True`` adds the exact drive handed to the device in the same callback as the
microphone block (post-limiter, so music distortion removal sees what the speaker got).

Device loss: a backend error, or no callback for ``watchdog_s``, moves the engine to
``DEVICE_LOST``, then ``RECONNECTING``: it reopens a fresh backend from the factory after
``reconnect_initial_s``, doubling up to ``reconnect_max_s``, and returns to ``RUNNING``.
Listeners added with :meth:`AudioEngine.add_state_listener` hear every change (on the engine's
worker thread: hop to the event loop with ``hass.loop.call_soon_threadsafe``).
"""

from __future__ import annotations

import enum
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..errors import ConfigError, DeviceError
from ..resample import StreamingResampler
from .backends import AudioBackend, StreamConfig
from .buses import (
    BUS_SAMPLE_RATE,
    DEFAULT_ATTACK_S,
    DEFAULT_CEILING_DB,
    DEFAULT_DUCK_DB,
    DEFAULT_HOLD_S,
    DEFAULT_KNEE_DB,
    DEFAULT_RELEASE_S,
    Ducker,
    ProbeBus,
    SoftLimiter,
    StreamBus,
)
from .devices import ULTRASONIC_SAMPLE_RATE, ProbeResult
from .ring import BlockRing

_LOGGER = logging.getLogger(__name__)

DEFAULT_BLOCK_DURATION_S = 0.01
DEFAULT_OUTPUT_PREFILL_BLOCKS = 3  # output-ring latency: 30 ms at 10 ms blocks
DEFAULT_INPUT_RING_BLOCKS = 32  # the worker may stall this long (320 ms) before input overruns
DEFAULT_MAX_QUEUE_BLOCKS = 50  # a subscriber this far behind (0.5 s) is dropped

BackendFactory = Callable[[], AudioBackend]
StateListener = Callable[["EngineState", "str | None"], None]


class EngineState(enum.StrEnum):
    """The engine's health, as the integration shows it (entities are available only when RUNNING)."""

    STOPPED = "stopped"
    RUNNING = "running"
    DEVICE_LOST = "device_lost"
    RECONNECTING = "reconnecting"


@dataclass(frozen=True)
class InputBlock:
    """One block of microphone input as a subscriber receives it.

    Attributes
    ----------
    mics : ndarray, shape (frames, len(channels)), float32, at the subscription's rate.
    reference : ndarray, shape (frames_stream, output_channels), float32, at the stream rate, or None:
        the drive handed to the device in the same callback that delivered these mics.
    index : int, the stream block counter (continues across reconnects; a jump means a gap).
    epoch : int, increments each time the device is (re)opened: reset filters on a change.
    """

    mics: NDArray[np.float32]
    reference: NDArray[np.float32] | None
    index: int
    epoch: int


class Subscription:
    """A consumer's queue of input blocks (create with :meth:`AudioEngine.subscribe_input`).

    The worker copies each block into a preallocated slot; :meth:`get` hands out copies.
    """

    def __init__(
        self,
        name: str,
        channels: Sequence[int],
        sample_rate: int,
        stream_rate: int,
        block_size: int,
        output_channels: int,
        max_queue_blocks: int,
        with_reference: bool,
    ) -> None:
        self.name = name
        self.channels = tuple(channels)
        self.sample_rate = int(sample_rate)
        self.with_reference = with_reference
        self._all_channels = False
        self._resampler = (
            None if sample_rate == stream_rate else StreamingResampler(stream_rate, sample_rate, len(self.channels))
        )
        max_frames = block_size if self._resampler is None else self._resampler.max_output_frames(block_size)
        self._ring = BlockRing(max_queue_blocks, max_frames, len(self.channels))
        self.max_queue_blocks = self._ring.capacity
        self._frames = np.zeros(self._ring.capacity, np.int64)
        self._index = np.zeros(self._ring.capacity, np.int64)
        self._epoch = np.zeros(self._ring.capacity, np.int64)
        self._ref = BlockRing(self._ring.capacity, block_size, output_channels) if with_reference else None
        self._gather = np.zeros((block_size, len(self.channels)), np.float32)
        self._cond = threading.Condition()
        self.delivered = 0
        self.dropped = False
        self.closed = False

    @property
    def active(self) -> bool:
        """False once the subscription was dropped or closed."""
        return not (self.dropped or self.closed)

    @property
    def delay_s(self) -> float:
        """Delay the subscription's resampler adds (s)."""
        return 0.0 if self._resampler is None else self._resampler.delay_s

    def __len__(self) -> int:
        return len(self._ring)

    def _offer(self, mics: NDArray[np.float32], reference: NDArray[np.float32], index: int, epoch: int) -> bool:
        """Worker side: queue one block; False when the consumer is too far behind."""
        slot = self._ring.write_slot()
        if slot is None:
            return False
        if self._all_channels:
            source = mics
        else:
            np.take(mics, self.channels, axis=1, out=self._gather)
            source = self._gather
        i = self._ring._write & self._ring._mask
        if self._resampler is None:
            np.copyto(slot, source)
            self._frames[i] = source.shape[0]
        else:
            self._frames[i] = self._resampler.process_into(source, slot)
        self._index[i] = index
        self._epoch[i] = epoch
        if self._ref is not None:
            ref_slot = self._ref.write_slot()
            assert ref_slot is not None  # the rings advance together
            np.copyto(ref_slot, reference)
            self._ref.commit_write()
        with self._cond:
            self._ring.commit_write()
            self._cond.notify()
        return True

    def _end(self, *, dropped: bool) -> None:
        with self._cond:
            if dropped:
                self.dropped = True
            else:
                self.closed = True
            self._cond.notify_all()

    def get(self, timeout: float | None = None) -> InputBlock | None:
        """The next block, waiting up to ``timeout`` seconds (``None``: forever).

        Returns ``None`` on timeout, or once the subscription is dropped or closed and its
        queue is empty (check :attr:`active`).
        """
        with self._cond:
            if not self._cond.wait_for(lambda: len(self._ring) > 0 or not self.active, timeout):
                return None
            slot = self._ring.read_slot()
            if slot is None:
                return None
        i = self._ring._read & self._ring._mask
        block = InputBlock(
            slot[: int(self._frames[i])].copy(),
            None,
            int(self._index[i]),
            int(self._epoch[i]),
        )
        if self._ref is not None:
            ref_slot = self._ref.read_slot()
            assert ref_slot is not None
            block = InputBlock(block.mics, ref_slot.copy(), block.index, block.epoch)
            self._ref.commit_read()
        self._ring.commit_read()
        return block


class AudioEngine:
    """The hub's audio engine (see the module docstring for the data flow).

    Parameters
    ----------
    backend_factory : callable returning a fresh, unopened :class:`AudioBackend`; called at
        :meth:`start` and at every reconnect attempt.
    sample_rate : Hz, 96 kHz (ultrasound) or 48 kHz; must be a multiple of ``block_size``'s
        48 kHz share (``block_size * 48000 / sample_rate`` whole).
    input_channels : microphones. output_channels : drivers.
    block_size : frames per device callback; ``None`` gives ``block_duration_s`` (10 ms).
    output_prefill_blocks : silent blocks queued ahead of the device: output latency and the
        worker's slack.
    input_ring_blocks : input blocks the worker may fall behind before input overruns count.
    duck_db, attack_s, release_s, hold_s : media ducking under announcements.
    ceiling_db, knee_db : the soft limiter (dBFS).
    reconnect_initial_s, reconnect_max_s : backoff between reopening attempts (doubling).
    watchdog_s : a real-time stream silent this long (once it has started) is treated as lost.
    start_timeout_s : how long a freshly opened real-time stream may take to deliver its first block.
    close_timeout_s : how long closing a lost device may block before it is abandoned.
    bus_capacity_s : seconds the media and announcement buses hold.
    """

    def __init__(
        self,
        backend_factory: BackendFactory,
        *,
        sample_rate: int = ULTRASONIC_SAMPLE_RATE,
        input_channels: int = 4,
        output_channels: int = 2,
        block_size: int | None = None,
        block_duration_s: float = DEFAULT_BLOCK_DURATION_S,
        output_prefill_blocks: int = DEFAULT_OUTPUT_PREFILL_BLOCKS,
        input_ring_blocks: int = DEFAULT_INPUT_RING_BLOCKS,
        duck_db: float = DEFAULT_DUCK_DB,
        attack_s: float = DEFAULT_ATTACK_S,
        release_s: float = DEFAULT_RELEASE_S,
        hold_s: float = DEFAULT_HOLD_S,
        ceiling_db: float = DEFAULT_CEILING_DB,
        knee_db: float = DEFAULT_KNEE_DB,
        reconnect_initial_s: float = 1.0,
        reconnect_max_s: float = 30.0,
        watchdog_s: float = 1.0,
        start_timeout_s: float = 10.0,
        close_timeout_s: float = 2.0,
        bus_capacity_s: float = 2.0,
    ) -> None:
        if block_size is None:
            block_size = round(block_duration_s * sample_rate)
        if input_channels < 1 or output_channels < 1:
            raise ConfigError(f"need at least one input and one output, got {input_channels} in, {output_channels} out")
        if (block_size * BUS_SAMPLE_RATE) % sample_rate:
            raise ConfigError(
                f"block_size {block_size} at {sample_rate} Hz is not a whole number of 48 kHz frames; "
                "use 96000 or 48000 Hz with a block of 10 ms"
            )
        self.config = StreamConfig(int(sample_rate), int(input_channels), int(output_channels), int(block_size))
        self._factory = backend_factory
        self.output_prefill_blocks = int(output_prefill_blocks)
        self.reconnect_initial_s = reconnect_initial_s
        self.reconnect_max_s = reconnect_max_s
        self.watchdog_s = watchdog_s
        self.start_timeout_s = start_timeout_s
        self.close_timeout_s = close_timeout_s
        frames, n_in, n_out = self.config.block_size, self.config.input_channels, self.config.output_channels
        self.bus_frames = frames * BUS_SAMPLE_RATE // self.config.sample_rate

        # Rings: the input ring carries mics and the drive sent in the same callback, side by side.
        self._in_ring = BlockRing(input_ring_blocks, frames, n_in + n_out)
        self._out_ring = BlockRing(max(4, 2 * output_prefill_blocks), frames, n_out)

        # Output stages, all preallocated.
        self.media_bus = StreamBus("media", n_out, capacity_s=bus_capacity_s)
        self.announcement_bus = StreamBus("announcement", n_out, capacity_s=bus_capacity_s)
        self.probe_bus = ProbeBus(n_out)
        self.ducker = Ducker(
            self.config.sample_rate, frames, duck_db=duck_db, attack_s=attack_s, release_s=release_s, hold_s=hold_s
        )
        self.limiter = SoftLimiter(frames, n_out, ceiling_db=ceiling_db, knee_db=knee_db)
        self._bus_block = np.zeros((self.bus_frames, n_out), np.float32)
        self._media = np.zeros((frames + 1, n_out), np.float32)
        self._announcement = np.zeros((frames + 1, n_out), np.float32)
        self._media_resampler = self._bus_resampler()
        self._bus_silent_blocks: dict[str, int] = {}
        self._announcement_resampler = self._bus_resampler()

        self._subscribers: tuple[Subscription, ...] = ()
        self._sub_lock = threading.Lock()
        self._listeners: list[StateListener] = []
        self._state = EngineState.STOPPED
        self._state_lock = threading.Lock()

        self._backend: AudioBackend | None = None
        self._lockstep = False
        self._worker: threading.Thread | None = None
        self._stop = threading.Event()
        self._lost = threading.Event()
        self._lost_reason: str | None = None

        # Counters (the callback bumps only ints).
        self.callbacks = 0
        self.overruns = 0
        self.underruns = 0
        self.size_mismatches = 0
        self.blocks_processed = 0
        self.dropped_consumers = 0
        self.reconnects = 0
        self.abandoned_closes = 0
        self.epoch = 0
        self._worker_cpu_s = 0.0
        self._stage_s = {"fanout": 0.0, "media": 0.0, "mix": 0.0, "limiter": 0.0}
        self.last_error: str | None = None

    # ------------------------------------------------------------------ public API
    @classmethod
    def from_probe(cls, probe: ProbeResult, backend_factory: BackendFactory, **kwargs: Any) -> AudioEngine:
        """An engine at the rate and channel counts :func:`~echo_sense_dsp.audio.devices.probe_device` found."""
        return cls(
            backend_factory,
            sample_rate=probe.sample_rate,
            input_channels=probe.input_channels,
            output_channels=probe.output_channels,
            **kwargs,
        )

    @property
    def state(self) -> EngineState:
        return self._state

    @property
    def sample_rate(self) -> int:
        return self.config.sample_rate

    @property
    def latency_s(self) -> float:
        """Input-to-output latency: device input + output latency plus the output ring's prefill (s)."""
        device = self._backend.latency_s if self._backend is not None else 0.0
        return device + self.output_prefill_blocks * self.config.block_duration_s

    def add_state_listener(self, listener: StateListener) -> Callable[[], None]:
        """Call ``listener(state, reason)`` on every state change; returns a function that removes it."""
        self._listeners.append(listener)

        def remove() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return remove

    def start(self) -> None:
        """Open the device and start streaming.

        Raises
        ------
        DeviceError  the device cannot be opened now (the caller decides whether to retry).
        """
        if self._worker is not None:
            return
        self._stop.clear()
        self._lost.clear()
        self._open_backend()
        self._set_state(EngineState.RUNNING, None)  # before the worker can report a loss
        self._worker = threading.Thread(target=self._run, name="echo-sense-audio-worker", daemon=True)
        self._worker.start()

    def stop(self) -> None:
        """Stop streaming, close the device, join every thread the engine started, end subscriptions.

        Blocking (joins threads, closes the device): call it from an executor, never from a state
        listener. Subscriptions end here; subscribe again after the next :meth:`start`.
        """
        self._stop.set()
        worker, self._worker = self._worker, None
        if worker is threading.current_thread():
            raise RuntimeError("AudioEngine.stop() called from a state listener; hand it to another thread")
        if worker is not None:
            worker.join()
        self._close_backend()
        for sub in self._subscribers:
            sub._end(dropped=False)
        with self._sub_lock:
            self._subscribers = ()
        if self._state is not EngineState.STOPPED:
            self._set_state(EngineState.STOPPED, None)

    def subscribe_input(
        self,
        name: str,
        *,
        channels: Sequence[int] | None = None,
        sample_rate: int | None = None,
        max_queue_blocks: int = DEFAULT_MAX_QUEUE_BLOCKS,
        with_reference: bool = False,
    ) -> Subscription:
        """Receive microphone blocks from now on.

        Parameters
        ----------
        name : for logs and diagnostics ("presence", "voice").
        channels : microphone indices (``[0]``: one mic); ``None``: all.
        sample_rate : Hz; ``None`` is the stream rate, 16000 gives the voice branch's rate
            (streaming polyphase resampler, delay in :attr:`Subscription.delay_s`).
        max_queue_blocks : blocks the consumer may lag before it is dropped.
        with_reference : also deliver the drive sent to the device in the same callback.
        """
        n_in = self.config.input_channels
        chans = list(range(n_in)) if channels is None else [int(c) for c in channels]
        if not chans or any(c < 0 or c >= n_in for c in chans):
            raise ConfigError(f"subscription '{name}': channels {channels} are not within the {n_in} microphones")
        sub = Subscription(
            name,
            chans,
            sample_rate or self.config.sample_rate,
            self.config.sample_rate,
            self.config.block_size,
            self.config.output_channels,
            max_queue_blocks,
            with_reference,
        )
        sub._all_channels = chans == list(range(n_in))
        with self._sub_lock:
            self._subscribers = (*self._subscribers, sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        """Stop delivering to ``sub`` (idempotent)."""
        with self._sub_lock:
            self._subscribers = tuple(s for s in self._subscribers if s is not sub)
        sub._end(dropped=False)

    def stats(self) -> dict[str, Any]:
        """Counters and measurements for diagnostics (plain JSON-able values)."""
        backend = self._backend
        audio_s = self.blocks_processed * self.config.block_duration_s
        return {
            "state": str(self._state),
            "sample_rate": self.config.sample_rate,
            "block_size": self.config.block_size,
            "input_channels": self.config.input_channels,
            "output_channels": self.config.output_channels,
            "blocks_processed": self.blocks_processed,
            "overruns": self.overruns,
            "underruns": self.underruns,
            "device_input_overflows": backend.input_overflows if backend else 0,
            "device_output_underflows": backend.output_underflows if backend else 0,
            "media_underruns": self.media_bus.underruns,
            "dropped_consumers": self.dropped_consumers,
            "subscribers": [s.name for s in self._subscribers],
            "cpu_load": self._worker_cpu_s / audio_s if audio_s else 0.0,
            "latency_s": self.latency_s,
            "device_latency_s": backend.latency_s if backend else 0.0,
            "reconnects": self.reconnects,
            "abandoned_closes": self.abandoned_closes,
            "epoch": self.epoch,
            "last_error": self.last_error,
            "probe_active": self.probe_bus.active,
            "ducking_gain_db": self.ducker.gain_db,
            "limiter_engaged_blocks": self.limiter.engaged_blocks,
        }

    # ------------------------------------------------------------------ device side
    def _callback(self, indata: NDArray[np.float32], outdata: NDArray[np.float32], frames: int) -> None:
        """The device callback: copies only (no locks, logs or allocation)."""
        self.callbacks += 1
        if frames != self.config.block_size:
            self.size_mismatches += 1
            outdata.fill(0.0)
            return
        out = self._out_ring.read_slot()
        if out is None:
            self.underruns += 1
            outdata.fill(0.0)
        else:
            np.copyto(outdata, out)
            self._out_ring.commit_read()
        slot = self._in_ring.write_slot()
        if slot is None:
            self.overruns += 1
            return
        n_in = self.config.input_channels
        np.copyto(slot[:, :n_in], indata)
        np.copyto(slot[:, n_in:], outdata)
        self._in_ring.commit_write()

    def _lockstep_callback(self, indata: NDArray[np.float32], outdata: NDArray[np.float32], frames: int) -> None:
        self._callback(indata, outdata, frames)
        self._service()

    def _on_backend_error(self, err: BaseException) -> None:
        if not self._lost.is_set():
            self._lost_reason = f"{type(err).__name__}: {err}"
            self._lost.set()

    def _open_backend(self) -> None:
        self._in_ring.clear()
        self._out_ring.clear()
        for _ in range(self.output_prefill_blocks):
            slot = self._out_ring.write_slot()
            assert slot is not None
            slot.fill(0.0)
            self._out_ring.commit_write()
        backend = self._factory()
        self._lockstep = not backend.realtime
        callback = self._lockstep_callback if self._lockstep else self._callback
        self.epoch += 1
        self._backend = backend
        try:
            backend.open(self.config, callback, self._on_backend_error)
        except DeviceError:
            self._backend = None
            backend.close()
            raise
        except Exception as err:  # any other failure to open counts as a device error
            self._backend = None
            backend.close()
            raise DeviceError(f"cannot open the audio stream: {err}") from err

    def _close_backend(self) -> None:
        """Close the current backend; a driver that hangs in close is abandoned after ``close_timeout_s``.

        A vanished PortAudio device can block ``Pa_AbortStream`` indefinitely (seen with ALSA's
        pulse plugin when the server dies), so closing runs on a helper thread that is joined
        with a timeout; a hung one is left behind as a daemon thread and logged.
        """
        backend, self._backend = self._backend, None
        if backend is None:
            return
        closer = threading.Thread(target=backend.close, name="echo-sense-audio-closer", daemon=True)
        closer.start()
        closer.join(self.close_timeout_s)
        if closer.is_alive():
            self.abandoned_closes += 1
            _LOGGER.warning("the audio device did not close within %g s; abandoning it", self.close_timeout_s)
            abandon = getattr(backend, "abandon", None)
            if abandon is not None:
                abandon()

    # ------------------------------------------------------------------ worker side
    def _run(self) -> None:
        poll_s = self.config.block_duration_s / 2
        last_count, last_progress, started = self.callbacks, time.monotonic(), False
        while not self._stop.is_set():
            if self._lost.is_set():
                self._recover()
                last_count, last_progress, started = self.callbacks, time.monotonic(), False
                continue
            if self._lockstep:
                self._stop.wait(poll_s * 10)  # the callback does the work; wake for loss or stop
                continue
            self._service()
            now = time.monotonic()
            if self.callbacks != last_count:
                last_count, last_progress, started = self.callbacks, now, True
            else:
                # PortAudio through PulseAudio can take seconds to deliver the first block.
                limit_s = self.watchdog_s if started else max(self.watchdog_s, self.start_timeout_s)
                if now - last_progress > limit_s:
                    self._on_backend_error(DeviceError(f"no audio from the device for {limit_s:g} s"))
                    continue
            self._stop.wait(poll_s)

    def _recover(self) -> None:
        reason = self._lost_reason or "the device failed"
        self.last_error = reason
        _LOGGER.warning("audio device lost: %s", reason)
        self._set_state(EngineState.DEVICE_LOST, reason)
        self._close_backend()
        delay = self.reconnect_initial_s
        attempt = 0
        while not self._stop.is_set():
            attempt += 1
            self._set_state(EngineState.RECONNECTING, f"attempt {attempt} in {delay:g} s")
            if self._stop.wait(delay):
                return
            self._lost.clear()
            try:
                self._open_backend()
            except Exception as err:  # keep trying: the device may come back
                self.last_error = f"{type(err).__name__}: {err}"
                _LOGGER.info("reopening the audio device failed (attempt %d): %s", attempt, err)
                delay = min(delay * 2, self.reconnect_max_s)
                continue
            self.reconnects += 1
            _LOGGER.info("audio device back after %d attempt(s)", attempt)
            self._set_state(EngineState.RUNNING, None)
            return

    def _set_state(self, state: EngineState, reason: str | None) -> None:
        with self._state_lock:
            self._state = state
        for listener in list(self._listeners):
            try:
                listener(state, reason)
            except Exception:  # a listener's bug must not stop the audio
                _LOGGER.exception("audio state listener failed")

    def _service(self) -> None:
        """Drain the input ring and top up the output ring (one call per wake-up)."""
        t0 = time.thread_time()
        n_in = self.config.input_channels
        while (slot := self._in_ring.read_slot()) is not None:
            self._fan_out(slot[:, :n_in], slot[:, n_in:])
            self._in_ring.commit_read()
            self.blocks_processed += 1
        while len(self._out_ring) < self.output_prefill_blocks:
            out = self._out_ring.write_slot()
            if out is None:
                break
            self.process_frame(out)
            self._out_ring.commit_write()
        self._worker_cpu_s += time.thread_time() - t0

    def _fan_out(self, mics: NDArray[np.float32], drive: NDArray[np.float32]) -> None:
        t0 = time.perf_counter()
        index = self.blocks_processed
        for sub in self._subscribers:
            if sub._offer(mics, drive, index, self.epoch):
                continue
            with self._sub_lock:
                self._subscribers = tuple(s for s in self._subscribers if s is not sub)
            self.dropped_consumers += 1
            sub._end(dropped=True)
            _LOGGER.warning(
                "audio consumer '%s' fell %d blocks behind and was dropped from the input fan-out",
                sub.name,
                sub.max_queue_blocks,
            )
        self._stage_s["fanout"] += time.perf_counter() - t0

    def _render_bus(self, bus: StreamBus, resampler: StreamingResampler | None, out: NDArray[np.float32]) -> bool:
        """Next block of ``bus`` at the stream rate into ``out[:frames]``; True if the bus had audio."""
        frames = self.config.block_size
        if resampler is None:
            return bus.read_into(out[:frames]) > 0
        had = bus.read_into(self._bus_block) > 0
        silent_blocks = 0 if had else self._bus_silent_blocks.get(bus.name, 0) + 1
        self._bus_silent_blocks[bus.name] = silent_blocks
        if silent_blocks >= 2:
            # The first silent block rang the filter out (its history, K - 1 frames, is shorter
            # than a block); from the second on, skip the resampler and play zeros.
            if silent_blocks == 2:
                resampler.reset()
                out[:frames] = 0.0
            return False
        n = resampler.process_into(self._bus_block, out)
        if n != frames:  # integer ratios give exactly one block; guard the invariant
            out[n:frames] = 0.0
        return had

    def process_frame(self, out: NDArray[np.float32]) -> None:
        """Render one output block: buses, ducking, probe, limiter, into ``out`` (frames, outputs)."""
        frames = self.config.block_size
        t0 = time.perf_counter()
        self._render_bus(self.media_bus, self._media_resampler, self._media)
        announcing = self._render_bus(self.announcement_bus, self._announcement_resampler, self._announcement)
        t1 = time.perf_counter()
        gain = self.ducker.update(announcing)
        np.multiply(self._media[:frames], gain, out=out)
        out += self._announcement[:frames]
        self.probe_bus.add_into(out)
        t2 = time.perf_counter()
        self.limiter.process(out)
        t3 = time.perf_counter()
        self._stage_s["media"] += t1 - t0
        self._stage_s["mix"] += t2 - t1
        self._stage_s["limiter"] += t3 - t2

    def _bus_resampler(self) -> StreamingResampler | None:
        if self.config.sample_rate == BUS_SAMPLE_RATE:
            return None
        return StreamingResampler(
            BUS_SAMPLE_RATE,
            self.config.sample_rate,
            self.config.output_channels,
            max_block_frames=self.bus_frames,
        )


__all__ = [
    "DEFAULT_BLOCK_DURATION_S",
    "AudioEngine",
    "BackendFactory",
    "EngineState",
    "InputBlock",
    "StateListener",
    "Subscription",
]
