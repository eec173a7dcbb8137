"""The engine's output buses, ducking and soft limiter.

Output = media bus x ducking gain + announcement bus + probe bus -> soft limiter -> device.

- :class:`StreamBus` is a bounded, thread-safe FIFO written by a producer thread (the spatial
  player, the TTS player) at ``BUS_SAMPLE_RATE`` (48 kHz); the engine's worker reads it and
  resamples it to the stream rate with :class:`~echo_sense_dsp.resample.StreamingResampler`.
- :class:`ProbeBus` pulls the ultrasound drive from a source callable on the worker thread.
- :class:`Ducker` lowers the media bus while an announcement plays: a linear-in-dB ramp
  (``duck_db`` over ``attack_s``), a ``hold_s`` after the announcement ends, then a ramp back
  over ``release_s``; no step between samples exceeds ``|duck_db| / (attack_s * sample_rate)`` dB.
- :class:`SoftLimiter` is transparent below ``knee_db`` and bends smoothly (tanh) toward
  ``ceiling_db``, which it never exceeds; look-ahead free, so it adds no latency.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

from ..errors import AudioFormatError
from ..resample import resample

_LOGGER = logging.getLogger(__name__)

BUS_SAMPLE_RATE = 48_000  # Hz: media and announcements arrive at this rate
DEFAULT_BUS_CAPACITY_S = 2.0  # seconds a bus holds before write() waits
DEFAULT_DUCK_DB = -20.0
DEFAULT_ATTACK_S = 0.15
DEFAULT_RELEASE_S = 0.3
DEFAULT_HOLD_S = 0.25
DEFAULT_CEILING_DB = -1.0  # dBFS
DEFAULT_KNEE_DB = -6.0  # dBFS

ProbeSource = Callable[[int], NDArray[np.float32]]


def map_channels(block: NDArray[np.floating], channels: int) -> NDArray[np.float32]:
    """Fit a ``(frames, c)`` block to ``channels`` output channels.

    Mono goes to every channel; stereo to one channel is averaged, to more channels fills the
    first two (the renderer sends one channel per driver when it knows the layout); a block with
    exactly ``channels`` channels passes unchanged. Anything else raises ``AudioFormatError``.
    """
    x = np.asarray(block, dtype=np.float32)
    if x.ndim == 1:
        x = x[:, np.newaxis]
    if x.ndim != 2:
        raise AudioFormatError(f"a bus block must be (frames, channels), got shape {x.shape}")
    c = x.shape[1]
    if c == channels:
        return x
    if c == 1:
        return np.repeat(x, channels, axis=1)
    if c == 2 and channels == 1:
        return np.asarray(x.mean(axis=1, keepdims=True, dtype=np.float32), np.float32)
    if c == 2 and channels > 2:
        out = np.zeros((x.shape[0], channels), np.float32)
        out[:, :2] = x
        return out
    raise AudioFormatError(f"a bus block with {c} channels cannot feed {channels} drivers (send 1, 2 or {channels})")


class StreamBus:
    """A bounded FIFO of audio at ``BUS_SAMPLE_RATE`` between a producer thread and the worker.

    Parameters
    ----------
    name : "media" or "announcement" (for logs and stats).
    channels : int, the engine's output channels (one per driver).
    capacity_s : float, seconds held; :meth:`write` waits for room beyond that.
    """

    def __init__(self, name: str, channels: int, *, capacity_s: float = DEFAULT_BUS_CAPACITY_S) -> None:
        self.name = name
        self.channels = int(channels)
        self.sample_rate = BUS_SAMPLE_RATE
        self.capacity_frames = int(capacity_s * BUS_SAMPLE_RATE)
        self._fifo = np.zeros((self.capacity_frames, self.channels), np.float32)
        self._start = 0  # index of the oldest frame
        self._count = 0  # frames held
        self._cond = threading.Condition()
        self.frames_written = 0
        self.frames_played = 0
        self.underruns = 0  # blocks that ran dry in the middle of a stream

    @property
    def queued_s(self) -> float:
        """Seconds of audio waiting to be played."""
        return self._count / self.sample_rate

    def write(
        self, block: NDArray[np.floating], *, sample_rate: int = BUS_SAMPLE_RATE, timeout: float | None = None
    ) -> int:
        """Queue audio; waits while the bus is full (this paces a player to real time).

        Parameters
        ----------
        block : ndarray, shape (frames, 1 | 2 | channels), float, full scale 1.0.
        sample_rate : Hz of ``block``; other rates than 48 kHz are resampled here, on the
            caller's thread (whole-block, so send long blocks).
        timeout : seconds to wait for room; ``None`` waits as long as it takes.

        Returns
        -------
        int, frames (at 48 kHz) queued; fewer than given when the timeout ran out.
        """
        x = map_channels(block, self.channels)
        if sample_rate != self.sample_rate:
            x = resample(x, sample_rate, self.sample_rate)
        deadline = None if timeout is None else time.monotonic() + timeout
        done = 0
        with self._cond:
            while done < x.shape[0]:
                room = self.capacity_frames - self._count
                if room == 0:
                    remaining = None if deadline is None else deadline - time.monotonic()
                    if remaining is not None and remaining <= 0:
                        break
                    self._cond.wait(remaining)
                    continue
                n = min(room, x.shape[0] - done)
                end = (self._start + self._count) % self.capacity_frames
                first = min(n, self.capacity_frames - end)
                self._fifo[end : end + first] = x[done : done + first]
                self._fifo[: n - first] = x[done + first : done + n]
                self._count += n
                done += n
        self.frames_written += done
        return done

    def clear(self) -> None:
        """Drop everything queued (stop playback now)."""
        with self._cond:
            self._start = self._count = 0
            self._cond.notify_all()

    def read_into(self, out: NDArray[np.float32]) -> int:
        """Move up to ``len(out)`` frames into ``out`` (worker side); zero-fill the rest.

        Returns the number of real frames. A bus that runs dry in the middle of a block
        counts an underrun.
        """
        want = out.shape[0]
        with self._cond:
            n = int(min(want, self._count))
            first = min(n, self.capacity_frames - self._start)
            out[:first] = self._fifo[self._start : self._start + first]
            out[first:n] = self._fifo[: n - first]
            self._start = (self._start + n) % self.capacity_frames
            self._count -= n
            if n:
                self._cond.notify_all()
        if n < want:
            out[n:] = 0.0
            if n:
                self.underruns += 1
        self.frames_played += n
        return n


class ProbeBus:
    """The ultrasound drive: a source callable the worker asks for one block at a time.

    ``source(frames)`` runs on the worker thread and returns ``(frames, 1)`` (sent to every
    driver) or ``(frames, channels)`` float32 at the stream rate. It may return the same
    preallocated array every call. A source that raises or returns a wrong shape is removed
    with a logged error.
    """

    def __init__(self, channels: int) -> None:
        self.channels = int(channels)
        self._source: ProbeSource | None = None
        self.gain = 1.0
        self.last_error: str | None = None

    @property
    def active(self) -> bool:
        return self._source is not None

    def set_source(self, source: ProbeSource | None, *, gain: float = 1.0) -> None:
        """Start (or with ``None`` stop) the probe; ``gain`` scales it (linear)."""
        self.gain = float(gain)
        self._source = source

    def add_into(self, mix: NDArray[np.float32]) -> None:
        """Add the next probe block into ``mix`` (frames, channels), in place (worker side)."""
        source = self._source
        if source is None:
            return
        frames = mix.shape[0]
        try:
            block = source(frames)
            if block.ndim != 2 or block.shape[0] != frames or block.shape[1] not in (1, self.channels):
                raise AudioFormatError(
                    f"probe source returned shape {block.shape}, expected ({frames}, 1) or ({frames}, {self.channels})"
                )
        except Exception as err:  # a broken source must not stop the stream
            self.last_error = str(err)
            self._source = None
            _LOGGER.error("probe source removed after an error: %s", err)
            return
        if self.gain == 1.0:
            mix += block
        else:
            mix += self.gain * block  # allocation: only with a non-unit gain


class Ducker:
    """Media gain that ducks while an announcement plays, with linear-in-dB ramps.

    Parameters
    ----------
    sample_rate : Hz. frames : block size.
    duck_db : gain while ducked (negative dB).
    attack_s, release_s : ramp durations down to ``duck_db`` and back to 0 dB.
    hold_s : time ducking stays after the announcement bus runs dry (covers gaps between sentences).
    """

    def __init__(
        self,
        sample_rate: int,
        frames: int,
        *,
        duck_db: float = DEFAULT_DUCK_DB,
        attack_s: float = DEFAULT_ATTACK_S,
        release_s: float = DEFAULT_RELEASE_S,
        hold_s: float = DEFAULT_HOLD_S,
    ) -> None:
        if duck_db > 0 or attack_s <= 0 or release_s <= 0 or hold_s < 0:
            raise ValueError(f"bad ducking settings: duck_db={duck_db}, attack_s={attack_s}, release_s={release_s}")
        self.duck_db = float(duck_db)
        self.attack_db_per_sample = -self.duck_db / (attack_s * sample_rate)
        self.release_db_per_sample = -self.duck_db / (release_s * sample_rate)
        self.hold_blocks = round(hold_s * sample_rate / frames)
        self._steps = np.arange(1, frames + 1, dtype=np.float32)
        self._db = np.zeros(frames, np.float32)
        self.gain = np.ones((frames, 1), np.float32)
        self.gain_db = 0.0
        self._hold = 0
        self._settled = True

    def update(self, announcing: bool) -> NDArray[np.float32]:
        """Advance one block; returns the per-sample media gain, shape (frames, 1), float32."""
        if announcing:
            self._hold = self.hold_blocks
        elif self._hold > 0:
            self._hold -= 1
        target = self.duck_db if (announcing or self._hold > 0) else 0.0
        if self.gain_db == target:
            if not self._settled:  # the last ramp block ended on target: hold it flat
                self.gain.fill(np.float32(10.0 ** (target / 20.0)))
                self._settled = True
            return self.gain
        self._settled = False
        if target < self.gain_db:
            np.multiply(self._steps, -self.attack_db_per_sample, out=self._db)
            self._db += self.gain_db
            np.maximum(self._db, target, out=self._db)
        else:
            np.multiply(self._steps, self.release_db_per_sample, out=self._db)
            self._db += self.gain_db
            np.minimum(self._db, target, out=self._db)
        self.gain_db = float(self._db[-1])
        np.multiply(self._db, np.float32(np.log(10.0) / 20.0), out=self.gain[:, 0])
        np.exp(self.gain[:, 0], out=self.gain[:, 0])
        return self.gain


class SoftLimiter:
    """Memoryless soft-knee limiter: ``y = sign(x) (min(|x|, k) + (c - k) tanh(max(|x| - k, 0) / (c - k)))``.

    Slope 1 below the knee ``k`` and at it (no corner), output magnitude always below the
    ceiling ``c``. Works in place on ``(frames, channels)`` float32 blocks with preallocated scratch.
    """

    def __init__(
        self, frames: int, channels: int, *, ceiling_db: float = DEFAULT_CEILING_DB, knee_db: float = DEFAULT_KNEE_DB
    ) -> None:
        if knee_db >= ceiling_db or ceiling_db > 0:
            raise ValueError(f"need knee_db < ceiling_db <= 0 dBFS, got knee {knee_db}, ceiling {ceiling_db}")
        self.ceiling = np.float32(10.0 ** (ceiling_db / 20.0))
        self.knee = np.float32(10.0 ** (knee_db / 20.0))
        self._span = np.float32(self.ceiling - self.knee)
        self._mag = np.zeros((frames, channels), np.float32)
        self._over = np.zeros((frames, channels), np.float32)
        self.engaged_blocks = 0

    def process(self, x: NDArray[np.float32]) -> None:
        """Limit ``x`` (frames, channels) in place."""
        mag, over = self._mag, self._over
        np.abs(x, out=mag)
        if float(mag.max()) <= self.knee:
            return
        self.engaged_blocks += 1
        np.subtract(mag, self.knee, out=over)
        np.maximum(over, 0.0, out=over)
        over /= self._span
        np.tanh(over, out=over)
        over *= self._span
        np.minimum(mag, self.knee, out=mag)
        mag += over
        np.minimum(mag, self.ceiling, out=mag)  # float32 rounding of knee + span
        np.copysign(mag, x, out=x)


__all__ = [
    "BUS_SAMPLE_RATE",
    "DEFAULT_CEILING_DB",
    "DEFAULT_DUCK_DB",
    "Ducker",
    "ProbeBus",
    "ProbeSource",
    "SoftLimiter",
    "StreamBus",
    "map_channels",
]
