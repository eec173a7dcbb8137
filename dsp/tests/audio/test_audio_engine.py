"""AudioEngine end to end: WAV round trip, fan-out, ducking on the wire, device loss, clean shutdown."""

from __future__ import annotations

import gc
import logging
import threading
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

from echo_sense_dsp.audio import (
    SIMULATED_DEVICE_ID,
    AudioEngine,
    EngineState,
    SimulatedBackend,
    StreamConfig,
    WavBackend,
    backend_factory_for,
)
from echo_sense_dsp.errors import ConfigError, DeviceError, DeviceNotFoundError
from echo_sense_dsp.resample import resample
from echo_sense_dsp.wavio import read_wav, write_wav

RATE_HZ = 96_000
MICS = 4
DRIVERS = 2
FRAMES = 960  # 10 ms
LOOP_DELAY_FRAMES = 37  # acoustic delay of the loopback room
LOOP_GAIN = 0.5
ROUND_TRIP_TOL = 1e-6  # full scale: the WAV backend moves float32 samples unchanged
MEDIA_TOL = 2e-3  # full scale: 48 -> 96 kHz resampling of an in-band tone, after the filter delay
WAIT_S = 10.0  # generous upper bound for background threads on a loaded 2-core CI machine
ALLOC_GROWTH_MAX_BYTES = 1024  # only counters (Python ints) may be replaced after warm-up


class LoopbackRoom:
    """A real (if tiny) acoustic model: every mic hears the sum of the drivers, delayed and attenuated.

    Satisfies the RoomModel protocol, so SimulatedBackend runs it like echo_sense_dsp.room.LiveRoom.
    """

    sample_rate = RATE_HZ
    mic_count = MICS
    driver_count = DRIVERS

    def __init__(self, delay_frames: int = LOOP_DELAY_FRAMES, gain: float = LOOP_GAIN) -> None:
        self.gain = gain
        self._line = np.zeros(delay_frames + FRAMES, np.float32)
        self._delay = delay_frames
        self._mics = np.zeros((FRAMES, MICS), np.float32)

    def process(self, drive_block: NDArray[np.float32]) -> NDArray[np.float32]:
        n = drive_block.shape[0]
        self._line[self._delay : self._delay + n] = drive_block.sum(axis=1) * self.gain
        self._mics[:n] = self._line[:n, np.newaxis]
        self._line[: self._delay] = self._line[n : n + self._delay].copy()
        return self._mics[:n]


def _wait_for(predicate: object, timeout: float = WAIT_S) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.005)
    return False


def _engine_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("echo-sense")]


def test_wav_backend_round_trip_delivers_the_file_to_subscribers_and_records_the_media(
    tmp_path: Path, rng: np.random.Generator
) -> None:
    seconds = 0.5
    frames = int(seconds * RATE_HZ)
    mics_in = (0.3 * rng.uniform(-1, 1, (frames, MICS))).astype(np.float32)
    write_wav(tmp_path / "mics.wav", mics_in, RATE_HZ)
    t48 = np.arange(int(seconds * 48_000)) / 48_000
    media = (0.25 * np.sin(2 * np.pi * 1000 * t48))[:, np.newaxis].astype(np.float32)  # below the knee
    backend = WavBackend(tmp_path / "mics.wav", output_path=tmp_path / "out.wav")
    engine = AudioEngine(lambda: backend, sample_rate=RATE_HZ, input_channels=MICS, output_channels=DRIVERS)
    sub = engine.subscribe_input("recorder", max_queue_blocks=1024)
    engine.media_bus.write(media)
    engine.start()
    assert backend.done.wait(WAIT_S)
    engine.stop()

    captured = []
    while (block := sub.get(timeout=0)) is not None:
        captured.append(block.mics)
    np.testing.assert_allclose(np.concatenate(captured)[:frames], mics_in, atol=ROUND_TRIP_TOL)

    out = read_wav(tmp_path / "out.wav")
    assert out.sample_rate == RATE_HZ
    assert out.samples.shape == (frames, DRIVERS)
    # Output = prefill silence, then the media resampled to 96 kHz (stream-resampler delay).
    lead = engine.output_prefill_blocks * FRAMES
    assert np.all(out.samples[:lead] == 0.0)
    expected = resample(media, 48_000, RATE_HZ)[:, 0]
    delay = lead + round(engine._media_resampler.delay_s * RATE_HZ)  # type: ignore[union-attr]
    got = out.samples[delay + 200 : frames - 200, 0]
    np.testing.assert_allclose(got, expected[200 : frames - delay - 200], atol=MEDIA_TOL)
    np.testing.assert_array_equal(out.samples[:, 0], out.samples[:, 1])  # mono media -> both drivers


def test_reference_tap_is_the_drive_the_mics_hear_one_loop_later() -> None:
    engine = AudioEngine(
        lambda: SimulatedBackend(LoopbackRoom(), realtime=False, max_blocks=40),
        sample_rate=RATE_HZ,
        input_channels=MICS,
        output_channels=DRIVERS,
    )
    tone = np.linspace(0, 2000 * np.pi, RATE_HZ // 10)
    sub = engine.subscribe_input("presence", with_reference=True, max_queue_blocks=64)
    engine.probe_bus.set_source(_ChirpSource(tone))
    engine.start()
    assert _wait_for(lambda: engine.blocks_processed >= 40)
    engine.stop()
    blocks = []
    while (b := sub.get(timeout=0)) is not None:
        blocks.append(b)
    mics = np.concatenate([b.mics[:, 0] for b in blocks])
    ref = np.concatenate([b.reference.sum(axis=1) for b in blocks if b.reference is not None])
    # SimulatedBackend adds one block of device delay, the room LOOP_DELAY_FRAMES.
    lag = FRAMES + LOOP_DELAY_FRAMES
    np.testing.assert_allclose(mics[lag:], LOOP_GAIN * ref[:-lag], atol=1e-6)
    assert np.any(ref != 0.0)


class _ChirpSource:
    """A probe source that returns slices of a precomputed drive (the presence branch's shape)."""

    def __init__(self, phase: NDArray[np.floating]) -> None:
        self._signal = (0.1 * np.sin(phase)).astype(np.float32)[:, np.newaxis]
        self._pos = 0

    def __call__(self, frames: int) -> NDArray[np.float32]:
        start = self._pos % (self._signal.shape[0] - frames)
        self._pos += frames
        return self._signal[start : start + frames]


def test_slow_consumer_is_dropped_and_others_continue_without_stalling(caplog: pytest.LogCaptureFixture) -> None:
    engine = AudioEngine(
        lambda: SimulatedBackend(LoopbackRoom(), realtime=True),
        sample_rate=RATE_HZ,
        input_channels=MICS,
        output_channels=DRIVERS,
    )
    slow = engine.subscribe_input("stuck", max_queue_blocks=8)  # never reads
    voice = engine.subscribe_input("voice", channels=[0], sample_rate=16_000, max_queue_blocks=64)
    received: list[int] = []

    def consume() -> None:
        while voice.active:
            block = voice.get(timeout=0.5)
            if block is not None:
                assert block.mics.shape == (160, 1)
                received.append(block.index)

    consumer = threading.Thread(target=consume, name="test-voice-consumer")
    with caplog.at_level(logging.WARNING, logger="echo_sense_dsp.audio.engine"):
        engine.start()
        consumer.start()
        assert _wait_for(lambda: slow.dropped)
        assert _wait_for(lambda: len(received) >= 40)
        engine.stop()
    consumer.join(WAIT_S)
    assert not consumer.is_alive()
    assert engine.stats()["dropped_consumers"] == 1
    assert "'stuck'" in caplog.text
    assert "dropped" in caplog.text
    assert received == list(range(received[0], received[0] + len(received)))  # no gap for the live one
    assert engine.overruns == 0


def test_subscribers_can_come_and_go_while_running() -> None:
    engine = AudioEngine(
        lambda: SimulatedBackend(LoopbackRoom(), realtime=True),
        sample_rate=RATE_HZ,
        input_channels=MICS,
        output_channels=DRIVERS,
    )
    engine.start()
    try:
        sub = engine.subscribe_input("late", channels=[1, 3])
        block = sub.get(timeout=WAIT_S)
        assert block is not None
        assert block.mics.shape == (FRAMES, 2)
        engine.unsubscribe(sub)
        assert not sub.active
        assert "late" not in engine.stats()["subscribers"]
    finally:
        engine.stop()


def test_announcement_ducks_media_on_the_wire_and_output_stays_below_ceiling() -> None:
    backend = WavBackend(None, sample_rate=RATE_HZ, seconds=1.5)
    engine = AudioEngine(
        lambda: backend, sample_rate=RATE_HZ, input_channels=MICS, output_channels=DRIVERS, bus_capacity_s=2.0
    )
    t48 = np.arange(int(1.5 * 48_000)) / 48_000
    engine.media_bus.write((0.9 * np.sin(2 * np.pi * 440 * t48))[:, np.newaxis])  # loud: limiter engages
    engine.announcement_bus.write(np.zeros((24_000, 1), np.float32) + 1e-3)  # 0.5 s announcement
    engine.start()
    assert backend.done.wait(WAIT_S)
    engine.stop()
    out = backend.recorded[:, 0]
    envelope = np.array([np.max(np.abs(out[i : i + FRAMES])) for i in range(0, out.size - FRAMES, FRAMES)])
    ceiling = 10 ** (-1.0 / 20)
    assert np.max(np.abs(backend.recorded)) <= ceiling
    ducked = envelope[30:45]  # 300-450 ms: announcement playing, attack (150 ms) done
    restored = envelope[-20:]  # hold 250 ms + release 300 ms after it ended at ~530 ms
    assert np.all(ducked < 0.1 * 0.9 * 1.05)  # -20 dB of the 0.9 tone (+ the tiny announcement)
    assert np.all(restored > 0.5)
    assert engine.stats()["limiter_engaged_blocks"] > 0


class FlakyBackendFactory:
    """Test double for hardware that vanishes: no CI machine can unplug a USB card on cue.

    Wraps the real SimulatedBackend; the first stream fails after ``fail_after`` blocks the way
    PortAudio reports a lost device (on_error from the audio thread), then the next
    ``absent_opens`` open attempts find no device, then the device "returns".
    """

    def __init__(self, fail_after: int, absent_opens: int) -> None:
        self.fail_after = fail_after
        self.absent_opens = absent_opens
        self.opens = 0

    def __call__(self) -> SimulatedBackend:
        self.opens += 1
        factory = self

        class _Backend(SimulatedBackend):
            def open(self, config: StreamConfig, callback: object, on_error: object) -> None:
                if factory.opens == 1:
                    room = _FailingRoom(factory.fail_after)
                    self.room = room
                elif factory.opens <= 1 + factory.absent_opens:
                    raise DeviceNotFoundError("no sound device 'ALSA:USB Audio' is present")
                super().open(config, callback, on_error)  # type: ignore[arg-type]

        return _Backend(LoopbackRoom(), realtime=True)


class _FailingRoom(LoopbackRoom):
    def __init__(self, fail_after: int) -> None:
        super().__init__()
        self.blocks = 0
        self.fail_after = fail_after

    def process(self, drive_block: NDArray[np.float32]) -> NDArray[np.float32]:
        self.blocks += 1
        if self.blocks > self.fail_after:
            raise DeviceError("Stream is stopped: device disconnected")
        return super().process(drive_block)


def test_device_loss_is_reported_and_the_engine_reconnects_with_backoff() -> None:
    factory = FlakyBackendFactory(fail_after=10, absent_opens=2)
    engine = AudioEngine(
        factory,
        sample_rate=RATE_HZ,
        input_channels=MICS,
        output_channels=DRIVERS,
        reconnect_initial_s=0.02,
        reconnect_max_s=0.05,
    )
    events: list[tuple[EngineState, str | None]] = []
    remove = engine.add_state_listener(lambda state, reason: events.append((state, reason)))
    sub = engine.subscribe_input("presence", max_queue_blocks=256)
    engine.start()
    assert _wait_for(lambda: engine.reconnects == 1 and engine.state is EngineState.RUNNING)
    epoch_after = engine.epoch
    assert _wait_for(lambda: engine.blocks_processed >= 30)
    engine.stop()
    remove()

    states = [s for s, _ in events]
    assert states[0] is EngineState.RUNNING
    assert states[1] is EngineState.DEVICE_LOST
    assert "device disconnected" in (events[1][1] or "")
    assert states.count(EngineState.RECONNECTING) == 3  # two absent opens, then success
    assert states[-2:] == [EngineState.RUNNING, EngineState.STOPPED]
    assert factory.opens == 4
    epochs = set()
    while (block := sub.get(timeout=0)) is not None:
        epochs.add(block.epoch)
    assert epochs == {1, epoch_after}  # blocks from before and after the loss reached the subscriber
    assert "DeviceNotFoundError" in (engine.stats()["last_error"] or "")


def test_stalled_realtime_device_is_detected_by_the_watchdog() -> None:
    class _Stalling(SimulatedBackend):
        def _run(self, config: StreamConfig, callback: object, on_error: object) -> None:
            self._stop.wait()  # opens fine, then never calls back (a hung driver)

    opens: list[int] = []

    def factory() -> SimulatedBackend:
        opens.append(1)
        return (_Stalling if len(opens) == 1 else SimulatedBackend)(LoopbackRoom(), realtime=True)

    engine = AudioEngine(
        factory,
        sample_rate=RATE_HZ,
        input_channels=MICS,
        output_channels=DRIVERS,
        watchdog_s=0.1,
        start_timeout_s=0.1,
        reconnect_initial_s=0.01,
    )
    engine.start()
    try:
        assert _wait_for(lambda: engine.reconnects == 1)
        assert "no audio from the device" in (engine.last_error or "")
    finally:
        engine.stop()


def test_start_and_stop_leave_no_thread_running() -> None:
    before = set(threading.enumerate())
    for realtime in (True, False):
        engine = AudioEngine(
            lambda rt=realtime: SimulatedBackend(LoopbackRoom(), realtime=rt, max_blocks=None if rt else 50),
            sample_rate=RATE_HZ,
            input_channels=MICS,
            output_channels=DRIVERS,
        )
        engine.subscribe_input("presence")
        engine.start()
        assert "echo-sense-audio-worker" in _engine_threads()
        assert _wait_for(lambda e=engine: e.blocks_processed >= 5)  # type: ignore[misc]
        engine.stop()
        assert engine.state is EngineState.STOPPED
        assert set(threading.enumerate()) == before


def test_device_callback_allocates_nothing_after_warm_up() -> None:
    # A zero-length source: opening primes the rings and the test drives the callback itself.
    engine = AudioEngine(lambda: WavBackend(None, sample_rate=RATE_HZ, seconds=0.0), sample_rate=RATE_HZ)
    indata = np.zeros((FRAMES, MICS), np.float32)
    outdata = np.zeros((FRAMES, DRIVERS), np.float32)
    engine._open_backend()  # prefill the rings without streaming
    engine._backend.close()  # type: ignore[union-attr]
    engine._lockstep = False

    def one_cycle() -> None:
        engine._callback(indata, outdata, FRAMES)
        engine._in_ring.commit_read()  # the worker's side, minimal
        slot = engine._out_ring.write_slot()
        assert slot is not None
        engine._out_ring.commit_write()

    for _ in range(100):
        one_cycle()
    tracemalloc.start()
    try:
        one_cycle()
        gc.collect()
        base = tracemalloc.get_traced_memory()[0]
        for _ in range(1000):
            one_cycle()
        gc.collect()  # cyclic garbage is not growth; anything still held is
        growth = tracemalloc.get_traced_memory()[0] - base
    finally:
        tracemalloc.stop()
    assert growth <= ALLOC_GROWTH_MAX_BYTES
    assert engine.underruns == 0
    assert engine.overruns == 0


def test_worker_steady_state_allocation_is_bounded() -> None:
    # The worker may allocate small Python objects (views, InputBlock bookkeeping) but must not
    # grow: 1000 blocks of mixing, limiting and a 16 kHz fan-out leave memory where it was.
    # A zero-length source: opening primes the rings and the test drives the callback itself.
    engine = AudioEngine(lambda: WavBackend(None, sample_rate=RATE_HZ, seconds=0.0), sample_rate=RATE_HZ)
    sub = engine.subscribe_input("voice", channels=[0], sample_rate=16_000, max_queue_blocks=4096)
    engine.probe_bus.set_source(_ChirpSource(np.linspace(0, 4000 * np.pi, RATE_HZ)))
    indata = np.zeros((FRAMES, MICS), np.float32)
    outdata = np.zeros((FRAMES, DRIVERS), np.float32)
    engine._open_backend()
    engine._backend.close()  # type: ignore[union-attr]
    for _ in range(100):
        engine._lockstep_callback(indata, outdata, FRAMES)
    tracemalloc.start()
    try:
        engine._lockstep_callback(indata, outdata, FRAMES)
        gc.collect()
        base = tracemalloc.get_traced_memory()[0]
        for _ in range(1000):
            engine._lockstep_callback(indata, outdata, FRAMES)
        gc.collect()  # cyclic garbage is not growth; anything still held is
        growth = tracemalloc.get_traced_memory()[0] - base
    finally:
        tracemalloc.stop()
    assert growth <= ALLOC_GROWTH_MAX_BYTES
    assert len(sub) == 1101


def test_engine_config_is_checked_on_entry() -> None:
    with pytest.raises(ConfigError, match="block_size 1000 at 44100 Hz"):
        AudioEngine(lambda: WavBackend(None, sample_rate=44_100, seconds=1), sample_rate=44_100, block_size=1000)
    engine = AudioEngine(lambda: WavBackend(None, sample_rate=RATE_HZ, seconds=1), sample_rate=RATE_HZ)
    with pytest.raises(ConfigError, match=r"channels \[7\]"):
        engine.subscribe_input("voice", channels=[7])


def test_a_device_that_cannot_open_raises_on_start_and_leaves_nothing_running() -> None:
    def factory() -> SimulatedBackend:
        room = LoopbackRoom()
        room.sample_rate = 48_000  # type: ignore[misc]
        return SimulatedBackend(room, realtime=False)

    engine = AudioEngine(factory, sample_rate=RATE_HZ)
    with pytest.raises(DeviceError, match="48000 Hz"):
        engine.start()
    assert _engine_threads() == []
    assert engine.state is EngineState.STOPPED


PROBE_HZ = 40_000.0
PROBE_AMPLITUDE = 0.1
VOICE_PROBE_LEAK_MAX_DB = -30.0  # dB re the probe at the mic: what the voice branch keeps is the room's noise floor


class _ToneSource:
    def __init__(self) -> None:
        self._n = 0
        self._out = np.zeros((FRAMES, 1), np.float32)

    def __call__(self, frames: int) -> NDArray[np.float32]:
        t = (np.arange(frames) + self._n) / RATE_HZ
        self._n += frames
        self._out[:frames, 0] = PROBE_AMPLITUDE * np.sin(2 * np.pi * PROBE_HZ * t)
        return self._out[:frames]


@pytest.mark.slow  # the real room simulator costs ~7 ms per 10 ms block on the CI machine
def test_probe_through_the_simulated_room_reaches_presence_but_not_the_voice_branch() -> None:
    # The hub's own path to the simulated device: backend_factory_for(SIMULATED_DEVICE_ID) builds
    # a LiveRoom (here the empty-room preset, lock-step so the test runs as fast as the room allows).
    blocks = 30
    engine = AudioEngine(
        backend_factory_for(SIMULATED_DEVICE_ID, scenario="empty_room", realtime=False),
        sample_rate=RATE_HZ,
        input_channels=MICS,
        output_channels=DRIVERS,
    )
    presence = engine.subscribe_input("presence", with_reference=True, max_queue_blocks=1024)
    voice = engine.subscribe_input("voice", channels=[0], sample_rate=16_000, max_queue_blocks=1024)
    engine.probe_bus.set_source(_ToneSource())
    engine.start()
    assert _wait_for(lambda: engine.blocks_processed >= blocks, timeout=60.0)
    engine.stop()
    p_blocks = list(iter(lambda: presence.get(timeout=0), None))[:blocks]
    v_blocks = list(iter(lambda: voice.get(timeout=0), None))[:blocks]
    half = len(p_blocks) // 2  # after the probe, the room's paths and the filters have settled
    mics = np.concatenate([b.mics for b in p_blocks[half:]])
    reference = np.concatenate([b.reference for b in p_blocks[half:] if b.reference is not None])
    voice_mic = np.concatenate([b.mics for b in v_blocks[half:]])[:, 0]

    np.testing.assert_allclose(np.max(np.abs(reference)), PROBE_AMPLITUDE, rtol=1e-3)  # below the knee
    spectrum = np.abs(np.fft.rfft(mics[:, 0] * np.hanning(mics.shape[0])))
    peak_hz = np.fft.rfftfreq(mics.shape[0], 1 / RATE_HZ)[spectrum.argmax()]
    assert peak_hz == pytest.approx(PROBE_HZ, abs=RATE_HZ / mics.shape[0] * 2)
    probe_rms = np.sqrt(np.mean(mics[:, 0] ** 2))
    leak_db = 20 * np.log10(np.sqrt(np.mean(voice_mic**2)) / probe_rms + 1e-30)
    assert leak_db < VOICE_PROBE_LEAK_MAX_DB
    assert all(b.mics.shape == (160, 1) for b in v_blocks)
