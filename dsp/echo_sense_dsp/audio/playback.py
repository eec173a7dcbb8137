"""Playback on the hub's speaker: PyAV decodes, the spatial renderer renders, the engine's buses play.

Needs PyAV (the ``media`` extra; Home Assistant ships it), so :mod:`echo_sense_dsp.audio` does not
import this module: import ``echo_sense_dsp.audio.playback`` where media is played.

One :class:`BusPlayer` per engine bus (music on ``engine.media_bus``, announcements on
``engine.announcement_bus``, which ducks the music). Each plays one :class:`Track` at a time on
its own thread (``echo-sense-media`` / ``echo-sense-announcement``)::

    Track.read (PyAV decode -> 48 kHz float stereo) -> SpatialRenderer.process (one channel
    per driver) -> GainRamp (volume, mute, pause fades) -> StreamBus.write

The thread keeps at most ``LEAD_S`` of audio queued on the bus, so volume, mute and pause act
within that time while the bus still rides out scheduling hiccups. Position is what the
engine has taken from the bus since the track (or the last seek) started: ``start +
(bus.frames_played - frames played before) / 48 kHz`` (the player is the bus's only writer).

- Volume and mute ramp linearly per sample at ``1 / RAMP_S`` full scale per second: no steps.
- Pause fades out over ``RAMP_S``, stops feeding and lets the queued lead drain; the decoder
  stays open, so resume continues where the fade ended (the position stays exact).
- Seek and stop clear the bus (immediate); seek fades the new position in.

Opening a track (network, probing) and joining threads block, so an event-loop caller (the
Home Assistant media player) runs them in an executor. Changes are reported with
``on_change()`` from the player thread; such a caller hops back to its loop itself.
"""

from __future__ import annotations

import io
import logging
import threading
from collections.abc import Callable, Iterator
from enum import StrEnum
from typing import Any

import av
import av.error
import numpy as np
from numpy.typing import NDArray

from ..errors import AudioFormatError
from ..spatial import SpatialRenderer
from .buses import BUS_SAMPLE_RATE, StreamBus

_LOGGER = logging.getLogger(__name__)

BLOCK_FRAMES = 2400  # 50 ms at 48 kHz: one renderer call and one bus write
LEAD_S = 0.5  # seconds kept queued on the bus ahead of the speaker
RAMP_S = 0.05  # seconds a full-scale gain change takes (volume, mute, pause, seek fade-in)
POLL_S = 0.02  # seconds the thread sleeps while the bus is full or playback is paused
OPEN_TIMEOUT_S = 10.0  # seconds to connect to a URL
READ_TIMEOUT_S = 10.0  # seconds a stalled stream may go without data

Source = str | bytes  # a path or http(s) URL, or a whole file in memory (TTS audio)


class PlayerState(StrEnum):
    """What a :class:`BusPlayer` is doing."""

    IDLE = "idle"
    PLAYING = "playing"
    PAUSED = "paused"


class Track:
    """One audio stream decoded with PyAV to 48 kHz float32 stereo.

    Opening probes the source and decodes the first audio, so a bad URL or an undecodable
    file fails here (``AudioFormatError`` naming the source and FFmpeg's reason), not later
    on the player thread.
    """

    def __init__(self, source: Source, *, name: str | None = None) -> None:
        self.name = name or (source if isinstance(source, str) else "audio data")
        try:
            target: Any = io.BytesIO(source) if isinstance(source, bytes) else source
            self._container = av.open(target, timeout=(OPEN_TIMEOUT_S, READ_TIMEOUT_S))
        except (av.error.FFmpegError, OSError, ValueError) as err:
            raise AudioFormatError(f"cannot open {self.name}: {err}") from err
        try:
            if not self._container.streams.audio:
                raise AudioFormatError(f"{self.name} has no audio stream")
            self._stream = self._container.streams.audio[0]
            self.duration_s = _duration_s(self._container, self._stream)
            self.title: str | None = self._container.metadata.get("title") or self._stream.metadata.get("title")
            self.artist: str | None = self._container.metadata.get("artist")
            self._pending = np.zeros((0, 2), np.float32)
            self._restart_decoder(skip_to_s=None)
            self._fill(1)  # decode the first audio now: undecodable data fails at open
        except BaseException:
            self._container.close()
            raise

    def _restart_decoder(self, skip_to_s: float | None) -> None:
        self._frames: Iterator[av.AudioFrame] = self._container.decode(self._stream)
        self._resampler = av.AudioResampler(format="flt", layout="stereo", rate=BUS_SAMPLE_RATE)
        self._pending = np.zeros((0, 2), np.float32)
        self._skip_to_s = skip_to_s
        self._ended = False

    def _fill(self, frames: int) -> None:
        """Decode until ``frames`` are pending or the stream ends."""
        chunks = [self._pending]
        have = self._pending.shape[0]
        while have < frames and not self._ended:
            try:
                frame: av.AudioFrame | None = next(self._frames)
            except StopIteration:
                frame, self._ended = None, True
            except (av.error.FFmpegError, OSError, ValueError) as err:
                raise AudioFormatError(f"cannot decode {self.name}: {err}") from err
            skip = 0
            if frame is not None and self._skip_to_s is not None and frame.time is not None:
                end_s = frame.time + frame.samples / frame.sample_rate
                if end_s <= self._skip_to_s:
                    continue  # before the seek target (seeks land on the packet before it)
                skip = max(0, round((self._skip_to_s - frame.time) * BUS_SAMPLE_RATE))
                self._skip_to_s = None
            for out in self._resampler.resample(frame):
                samples = np.asarray(out.to_ndarray(), np.float32).reshape(-1, 2)[skip:]  # packed: (1, 2 n) -> (n, 2)
                skip = max(0, skip - out.samples)
                chunks.append(samples)
                have += samples.shape[0]
        self._pending = np.concatenate(chunks).astype(np.float32, copy=False) if len(chunks) > 1 else chunks[0]

    def read(self, frames: int) -> NDArray[np.float32]:
        """Next audio, shape (<= frames, 2), float32, 48 kHz; fewer frames only at the end (0 = ended)."""
        self._fill(frames)
        block, self._pending = self._pending[:frames], self._pending[frames:]
        return block

    @property
    def seekable(self) -> bool:
        return self.duration_s is not None

    def seek(self, position_s: float) -> None:
        """Continue decoding at ``position_s`` seconds (sample-exact after the container's seek)."""
        if not self.seekable:
            raise AudioFormatError(f"{self.name} is a live stream and cannot seek")
        time_base = self._stream.time_base
        assert time_base is not None
        start = self._stream.start_time or 0
        try:
            self._container.seek(start + int(position_s / time_base), stream=self._stream, backward=True)
        except (av.error.FFmpegError, OSError, ValueError) as err:
            raise AudioFormatError(f"cannot seek {self.name} to {position_s:.1f} s: {err}") from err
        self._restart_decoder(skip_to_s=position_s + float(start * time_base))

    def close(self) -> None:
        self._container.close()


def _duration_s(container: Any, stream: Any) -> float | None:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return float(container.duration / av.time_base)
    return None  # a live stream


def open_track(source: Source, name: str | None = None) -> Track:
    """Open ``source`` (blocking: run it in the executor). Raises ``AudioFormatError``."""
    return Track(source, name=name)


def volume_to_gain(volume: float) -> float:
    """Home Assistant's volume (0..1) to a linear gain: square-law taper (0.5 is -12 dB)."""
    return float(min(max(volume, 0.0), 1.0)) ** 2


class GainRamp:
    """A gain that moves linearly, sample by sample, toward its target.

    The slope is fixed at one full scale per ``ramp_frames`` samples, so no two neighbouring
    samples differ in gain by more than ``1 / ramp_frames``.
    """

    def __init__(self, ramp_frames: int, block_frames: int, gain: float = 0.0) -> None:
        self.slope = 1.0 / ramp_frames
        self.current = float(gain)
        self.target = float(gain)
        self._steps = np.arange(1, block_frames + 1, dtype=np.float32)
        self._gain = np.zeros(block_frames, np.float32)

    @property
    def settled(self) -> bool:
        return self.current == self.target

    def apply(self, block: NDArray[np.float32]) -> None:
        """Scale ``block`` (frames, channels), in place, advancing the ramp by ``frames`` samples."""
        n = block.shape[0]
        if self.settled:
            if self.current != 1.0:
                block *= np.float32(self.current)
            return
        gain = self._gain[:n]
        if self.target > self.current:
            np.multiply(self._steps[:n], self.slope, out=gain)
            gain += self.current
            np.minimum(gain, self.target, out=gain)
        else:
            np.multiply(self._steps[:n], -self.slope, out=gain)
            gain += self.current
            np.maximum(gain, self.target, out=gain)
        block *= gain[:, np.newaxis]
        self.current = float(gain[-1])
        if abs(self.current - self.target) < 1e-6:
            self.current = self.target


class BusPlayer:
    """Plays one :class:`Track` at a time into ``bus`` from a thread of its own.

    Parameters
    ----------
    bus : the engine's media or announcement bus (48 kHz, ``bus.channels`` drivers).
    name : thread name suffix and log name ("media", "announcement").
    on_change : called (on the player thread) when the state changes or a track ends or fails.
    renderer : renders stereo to the bus's drivers; ``None`` sends stereo as is (the bus maps
        it: averaged to one driver, the first two of several).
    """

    def __init__(
        self, bus: StreamBus, name: str, on_change: Callable[[], None], renderer: SpatialRenderer | None = None
    ) -> None:
        self.bus = bus
        self.name = name
        self._on_change = on_change
        self._renderer = renderer
        self._ramp = GainRamp(round(RAMP_S * BUS_SAMPLE_RATE), BLOCK_FRAMES)
        self._volume_gain = 1.0
        self._muted = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._track: Track | None = None
        self._start_s = 0.0
        self._played_base = bus.frames_played
        self._seek_to: float | None = None
        self._paused = False
        self.state = PlayerState.IDLE
        self.error: str | None = None

    # -------------------------------------------------------------- called from Home Assistant
    @property
    def track(self) -> Track | None:
        return self._track

    @property
    def position_s(self) -> float:
        """Seconds of the track the engine has taken from the bus."""
        position = self._start_s + (self.bus.frames_played - self._played_base) / BUS_SAMPLE_RATE
        duration = self._track.duration_s if self._track is not None else None
        position = max(position, 0.0)
        return min(position, duration) if duration is not None else position

    def set_renderer(self, renderer: SpatialRenderer | None) -> None:
        """Use another renderer from the next block on (swap is atomic)."""
        self._renderer = renderer

    def set_volume(self, volume: float, muted: bool) -> None:
        """Ramp to ``volume`` (0..1, square-law taper) or to silence when ``muted``."""
        self._volume_gain = volume_to_gain(volume)
        self._muted = muted
        self._retarget()

    def _retarget(self) -> None:
        self._ramp.target = 0.0 if (self._muted or self._paused) else self._volume_gain

    def play(self, track: Track, start_s: float = 0.0) -> None:
        """Stop what plays and play ``track`` from ``start_s`` (blocking: joins the old thread)."""
        self.stop()
        self._track, self._start_s, self._played_base = track, start_s, self.bus.frames_played
        self._paused, self.error = False, None
        self._ramp.current = 0.0  # fade in
        self._retarget()
        if self._renderer is not None:
            self._renderer.reset()
        self._stop.clear()
        self.state = PlayerState.PLAYING
        self._thread = threading.Thread(target=self._run, name=f"echo-sense-{self.name}", daemon=True)
        self._thread.start()

    def pause(self) -> None:
        """Fade out, stop feeding and let the queued lead drain; the position holds."""
        if self.state is PlayerState.PLAYING:
            self._paused = True
            self._retarget()
            self.state = PlayerState.PAUSED

    def resume(self) -> None:
        """Fade back in where the pause left off."""
        if self.state is PlayerState.PAUSED:
            self._paused = False
            self._retarget()
            self.state = PlayerState.PLAYING

    def seek(self, position_s: float) -> None:
        """Jump to ``position_s``; the player thread does the container seek."""
        track = self._track
        if track is None or self.state is PlayerState.IDLE:
            return
        if not track.seekable:
            raise AudioFormatError(f"{track.name} is a live stream and cannot seek")
        self._seek_to = max(0.0, min(position_s, track.duration_s or 0.0))

    def stop(self) -> None:
        """Stop now: end the thread, drop the queued audio, close the track (blocking)."""
        self._stop.set()
        self.bus.clear()  # wakes a write waiting for room
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join()
        track, self._track = self._track, None
        if track is not None:
            track.close()
        self._start_s, self._played_base = 0.0, self.bus.frames_played
        self._seek_to = None
        self.state = PlayerState.IDLE

    # -------------------------------------------------------------- the player thread
    def _run(self) -> None:
        track = self._track
        assert track is not None
        try:
            self._feed(track)
        except Exception as err:  # a broken stream ends this track, never the player
            _LOGGER.warning("%s playback of %s failed: %s", self.name, track.name, err)
            self.error = str(err)
            self.bus.clear()
        if self._stop.is_set():
            return
        self.state = PlayerState.IDLE
        self._on_change()

    def _feed(self, track: Track) -> None:
        lead_frames = round(LEAD_S * BUS_SAMPLE_RATE)
        stereo = np.zeros((BLOCK_FRAMES, 2), np.float32)
        out = np.zeros((BLOCK_FRAMES, self.bus.channels), np.float32)
        drained = False
        while not self._stop.is_set():
            seek_to, self._seek_to = self._seek_to, None
            if seek_to is not None:
                self._seek(track, seek_to)
            if self._paused and self._ramp.settled:
                if not drained and self.bus.queued_s == 0:
                    drained = True
                    self._on_change()  # the position has stopped moving: report it
                self._stop.wait(POLL_S)  # paused: nothing to feed
                continue
            drained = False
            if self.bus.queued_s * BUS_SAMPLE_RATE > lead_frames:
                self._stop.wait(POLL_S)
                continue
            block = track.read(BLOCK_FRAMES)
            n = block.shape[0]
            if n == 0:
                break
            stereo[:n] = block
            stereo[n:] = 0.0
            renderer = self._renderer
            rendered = renderer.process(stereo) if renderer is not None else stereo
            if rendered.shape[1] != out.shape[1]:  # stereo into a bus with other driver counts
                out = np.zeros((BLOCK_FRAMES, rendered.shape[1]), np.float32)
            np.copyto(out, rendered)
            self._ramp.apply(out[:n])
            while not self._stop.is_set() and self._seek_to is None:
                written = self.bus.write(out[:n], timeout=POLL_S * 10)
                if written == n:
                    break
                n -= written  # the bus filled up (another writer): the rest waits
                out[:n] = out[written : written + n]
        # the end: wait until the engine has played what is queued
        while not self._stop.is_set() and self.bus.queued_s > 0:
            self._stop.wait(POLL_S)

    def _seek(self, track: Track, position_s: float) -> None:
        track.seek(position_s)  # may block on the network: the old audio plays meanwhile
        self.bus.clear()
        self._start_s, self._played_base = position_s, self.bus.frames_played
        self._ramp.current = 0.0  # fade the new position in
        if self._renderer is not None:
            self._renderer.reset()
        self._on_change()


__all__ = [
    "BLOCK_FRAMES",
    "LEAD_S",
    "RAMP_S",
    "BusPlayer",
    "GainRamp",
    "PlayerState",
    "Source",
    "Track",
    "open_track",
    "volume_to_gain",
]
