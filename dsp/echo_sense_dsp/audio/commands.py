"""``echo-sense engine MICS.wav OUT.wav``: run the audio engine over files (the WAV backend).

MICS.wav is played into the engine's inputs (its rate is the stream rate, 96 or 48 kHz; one
channel per microphone). OUT.wav receives exactly what the engine sends to the drivers: the
media and announcement files (any rate, resampled to 48 kHz and then to the stream rate), the
announcement ducking the media, a probe tone if asked, through the soft limiter. ``--capture``
records what an input subscriber receives (e.g. the voice branch: ``--capture-rate 16000
--capture-channels 0``). Engine statistics are printed as JSON on stdout.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..errors import ConfigError
from ..wavio import read_wav, write_wav
from .backends import WavBackend
from .engine import AudioEngine

_RUN_TIMEOUT_S = 3600.0


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add the ``engine`` subcommand."""
    p = subparsers.add_parser(
        "engine",
        help="run the audio engine over WAV files (mics in, driver signal out)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("mics", metavar="MICS.wav", type=Path, help="microphone input, one channel per mic")
    p.add_argument("out", metavar="OUT.wav", type=Path, help="the drive signal sent to the drivers (float32)")
    p.add_argument("--drivers", type=int, default=2, help="output channels (default 2)")
    p.add_argument("--media", type=Path, help="media to play (mono, stereo or one channel per driver)")
    p.add_argument("--announcement", type=Path, help="announcement to play over the media (ducks it)")
    p.add_argument("--probe-hz", type=float, help="add a continuous probe tone at this frequency")
    p.add_argument("--probe-db", type=float, default=-20.0, help="probe level in dBFS (default -20)")
    p.add_argument("--capture", type=Path, help="write what an input subscriber receives here")
    p.add_argument("--capture-rate", type=int, help="subscriber sample rate (default: the stream rate)")
    p.add_argument("--capture-channels", help="comma-separated mic indices (default: all)")
    p.set_defaults(func=run_engine)


class _Tone:
    def __init__(self, frequency_hz: float, amplitude: float, sample_rate: int) -> None:
        self._omega = 2 * np.pi * frequency_hz / sample_rate
        self._amplitude = amplitude
        self._n = 0

    def __call__(self, frames: int) -> NDArray[np.float32]:
        phase = self._omega * (np.arange(frames) + self._n)
        self._n += frames
        return np.asarray(self._amplitude * np.sin(phase), np.float32)[:, np.newaxis]


def run_engine(args: argparse.Namespace) -> int:
    mics = read_wav(args.mics)
    media = read_wav(args.media) if args.media else None
    announcement = read_wav(args.announcement) if args.announcement else None
    if args.probe_hz is not None and not 0 < args.probe_hz < mics.sample_rate / 2:
        raise ConfigError(f"--probe-hz {args.probe_hz} must be between 0 and {mics.sample_rate / 2:g} Hz")
    longest_s = max([mics.duration_s] + [a.duration_s for a in (media, announcement) if a is not None])
    backend = WavBackend(mics.samples, sample_rate=mics.sample_rate, output_path=args.out)
    engine = AudioEngine(
        lambda: backend,
        sample_rate=mics.sample_rate,
        input_channels=mics.channels,
        output_channels=args.drivers,
        bus_capacity_s=longest_s + 1.0,  # the WAV backend does not wait for the buses: queue everything
    )
    capture = None
    if args.capture:
        channels = None
        if args.capture_channels:
            try:
                channels = [int(c) for c in args.capture_channels.split(",")]
            except ValueError as err:
                raise ConfigError(f"--capture-channels '{args.capture_channels}' is not a list of indices") from err
        blocks = int(mics.samples.shape[0] / engine.config.block_size) + 2
        capture = engine.subscribe_input(
            "capture", channels=channels, sample_rate=args.capture_rate, max_queue_blocks=blocks
        )
    if media is not None:
        engine.media_bus.write(media.samples, sample_rate=media.sample_rate)
    if announcement is not None:
        engine.announcement_bus.write(announcement.samples, sample_rate=announcement.sample_rate)
    if args.probe_hz is not None:
        engine.probe_bus.set_source(_Tone(args.probe_hz, 10 ** (args.probe_db / 20), mics.sample_rate))
    engine.start()
    try:
        backend.done.wait(_RUN_TIMEOUT_S)
    finally:
        engine.stop()
    if capture is not None:
        parts = []
        while (block := capture.get(timeout=0)) is not None:
            parts.append(block.mics)
        write_wav(args.capture, np.concatenate(parts), capture.sample_rate)
    print(json.dumps(engine.stats(), indent=2))
    return 0


__all__ = ["register", "run_engine"]
