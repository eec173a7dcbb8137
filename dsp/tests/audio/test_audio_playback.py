"""Playback on the speaker: PyAV tracks, and the player thread on a real engine bus.

Gain ramps are smooth, pause and seek exact.

The test reads the bus as the engine's worker would (``StreamBus.read_into`` in 10 ms blocks),
so every sample the engine would play is checked.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

pytest.importorskip("av", reason="playback needs PyAV (the media extra)")

from echo_sense_dsp.audio.buses import BUS_SAMPLE_RATE, StreamBus
from echo_sense_dsp.audio.playback import (
    BLOCK_FRAMES,
    RAMP_S,
    BusPlayer,
    PlayerState,
    Track,
    open_track,
    volume_to_gain,
)
from echo_sense_dsp.errors import AudioFormatError
from echo_sense_dsp.wavio import write_wav

DC_LEVEL = 0.5  # full scale: the test signal, so the output is the gain times this
MAX_STEP = DC_LEVEL / (RAMP_S * BUS_SAMPLE_RATE) + 1e-6  # largest allowed sample-to-sample change
LEVEL_TOL = 1e-5  # full scale: settled level versus gain x DC_LEVEL (float32 rounding)
READ_FRAMES = 480  # 10 ms: the engine's bus block at 48 kHz
WAIT_S = 10.0  # s: for the player thread to queue audio
SEEK_TOL_FRAMES = 2  # samples: where a seek lands versus the requested time


class BusReader:
    """Reads ``bus`` like the engine worker, only while audio is queued (no underrun steps)."""

    def __init__(self, bus: StreamBus) -> None:
        self.bus = bus
        self.blocks: list[NDArray[np.float32]] = []

    def read(self, seconds: float) -> None:
        deadline = time.monotonic() + WAIT_S
        for _ in range(round(seconds * BUS_SAMPLE_RATE / READ_FRAMES)):
            while self.bus.queued_s * BUS_SAMPLE_RATE < READ_FRAMES:
                assert time.monotonic() < deadline, "the player stopped feeding the bus"
                time.sleep(0.002)
            out = np.zeros((READ_FRAMES, self.bus.channels), np.float32)
            assert self.bus.read_into(out) == READ_FRAMES
            self.blocks.append(out)

    def drain(self) -> None:
        """Read what is queued once the player has stopped feeding."""
        while self.bus.queued_s > 0:
            out = np.zeros((READ_FRAMES, self.bus.channels), np.float32)
            n = self.bus.read_into(out)
            self.blocks.append(out[:n])

    @property
    def signal(self) -> NDArray[np.float32]:
        return np.concatenate(self.blocks)[:, 0]


def _dc_file(path: Path, seconds: float) -> Path:
    write_wav(path, np.full((round(seconds * BUS_SAMPLE_RATE), 2), DC_LEVEL, np.float32), BUS_SAMPLE_RATE)
    return path


def _run_ramps(path: Path) -> NDArray[np.float32]:
    bus = StreamBus("media", 2)
    changed = threading.Event()
    player = BusPlayer(bus, "test-media", changed.set)
    reader = BusReader(bus)
    try:
        player.set_volume(1.0, muted=False)
        player.play(open_track(str(path)))
        reader.read(0.7)
        player.set_volume(0.5, muted=False)
        reader.read(0.7)
        player.set_volume(0.5, muted=True)
        reader.read(0.7)
        player.set_volume(0.5, muted=False)
        reader.read(0.7)
        player.pause()
        deadline = time.monotonic() + WAIT_S
        while not changed.is_set():  # the engine keeps playing the queued lead
            assert time.monotonic() < deadline, "the player did not report the drained pause"
            reader.drain()
            time.sleep(0.005)
        assert player.state is PlayerState.PAUSED
        position_paused = player.position_s
        time.sleep(0.1)
        assert player.position_s == position_paused
        assert bus.queued_s == 0
        player.resume()
        reader.read(0.3)
    finally:
        player.stop()
    return reader.signal


def test_volume_mute_pause_and_resume_ramp_without_steps(tmp_path: Path) -> None:
    signal = _run_ramps(_dc_file(tmp_path / "dc.wav", 10.0))
    steps = np.abs(np.diff(np.concatenate([[0.0], signal])))  # from silence: the fade-in counts too
    assert steps.max() <= MAX_STEP
    # each phase settles on its level for a while: full volume, half (square law), muted
    half = DC_LEVEL * volume_to_gain(0.5)
    for level in (DC_LEVEL, half, 0.0):
        assert np.sum(np.abs(signal - level) < LEVEL_TOL) > 0.3 * BUS_SAMPLE_RATE, level
    assert signal[-1] == pytest.approx(half, abs=LEVEL_TOL)  # resumed at the same volume


def test_square_law_volume_taper() -> None:
    assert volume_to_gain(1.0) == 1.0
    assert 20 * np.log10(volume_to_gain(0.5)) == pytest.approx(-12.04, abs=0.01)
    assert volume_to_gain(0.0) == 0.0
    assert volume_to_gain(1.5) == 1.0


def test_seek_lands_on_the_requested_sample(tmp_path: Path) -> None:
    frames = 3 * BUS_SAMPLE_RATE
    ramp = (np.arange(frames) / frames).astype(np.float32)  # value = time / 3 s
    path = tmp_path / "ramp.wav"
    write_wav(path, np.stack([ramp, ramp], axis=1), BUS_SAMPLE_RATE)
    track = Track(str(path))
    try:
        assert track.duration_s == pytest.approx(3.0, abs=1 / BUS_SAMPLE_RATE)
        for target_s in (2.2345, 0.5, 1.0):
            track.seek(target_s)
            first = track.read(BLOCK_FRAMES)[0, 0]
            landed = first * frames
            assert landed == pytest.approx(target_s * BUS_SAMPLE_RATE, abs=SEEK_TOL_FRAMES)
        track.seek(2.99)
        rest = sum(track.read(BLOCK_FRAMES).shape[0] for _ in range(3))
        assert rest == pytest.approx(0.01 * BUS_SAMPLE_RATE, abs=SEEK_TOL_FRAMES)
    finally:
        track.close()


def test_mono_audio_at_another_rate_decodes_to_48_khz_stereo(tmp_path: Path) -> None:
    rate, tone_hz = 22_050, 440.0
    t = np.arange(rate) / rate
    path = tmp_path / "tone.wav"
    write_wav(path, (0.3 * np.sin(2 * np.pi * tone_hz * t)).astype(np.float32)[:, None], rate)
    track = open_track(str(path))
    try:
        audio = np.concatenate([track.read(BLOCK_FRAMES) for _ in range(25)])
    finally:
        track.close()
    assert audio.shape[1] == 2 and abs(audio.shape[0] - BUS_SAMPLE_RATE) < 64
    np.testing.assert_array_equal(audio[:, 0], audio[:, 1])
    spectrum = np.abs(np.fft.rfft(audio[:, 0]))
    assert np.argmax(spectrum) * BUS_SAMPLE_RATE / audio.shape[0] == pytest.approx(tone_hz, abs=2.0)


def test_undecodable_data_fails_when_opened(tmp_path: Path) -> None:
    path = tmp_path / "noise.mp3"
    path.write_bytes(np.random.default_rng(1).bytes(10_000))
    with pytest.raises(AudioFormatError, match=r"noise\.mp3"):
        open_track(str(path))
    with pytest.raises(AudioFormatError, match="audio data"):
        open_track(b"not audio at all")
