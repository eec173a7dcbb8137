"""``echo-sense`` subcommands of the presence capability (contracts in ARCHITECTURE.md).

probe OUT.wav --seconds S [--config CAL.json]      the emitted drive signal, 96 kHz mono
calibrate-plan OUT.wav                              the calibration sweep to emit
calibrate MICS.wav --reference SWEEP.wav --out CAL.json
motion MICS.wav --reference PLAYED.wav --out DECISIONS.jsonl [--config CAL.json]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from ..errors import AudioFormatError
from ..progress import StderrProgress
from ..wavio import read_wav, write_wav
from .calibration import DEFAULT_RANGE_M, Calibration, analyse_calibration, plan_calibration
from .detector import SCORERS, PresenceDetector
from .probe import probe_signal
from .tracker import DutyCycleSettings

_BLOCK_FRAMES = 960  # the live engine's block: 10 ms at 96 kHz


def _run_probe(args: argparse.Namespace) -> int:
    cal = Calibration.load(args.config) if args.config else Calibration.default(args.sample_rate)
    signal = probe_signal(cal.probe_settings(), args.seconds)
    write_wav(args.out, signal[:, None], cal.sample_rate)
    for warning in cal.warnings:
        print(f"echo-sense probe: warning: {warning}", file=sys.stderr)
    return 0


def _run_calibrate_plan(args: argparse.Namespace) -> int:
    plan = plan_calibration(args.sample_rate)
    write_wav(args.out, plan.signal[:, None], plan.sample_rate)
    return 0


def _run_calibrate(args: argparse.Namespace) -> int:
    reference = read_wav(args.reference)
    if reference.channels != 1:
        raise AudioFormatError(f"{args.reference}: the reference must be mono, it has {reference.channels} channels")
    mics = read_wav(args.mics, sample_rate=reference.sample_rate)
    plan = plan_calibration(reference.sample_rate)
    cal = analyse_calibration(mics.samples, reference.samples[:, 0], plan, range_m=args.range_m)
    cal.save(args.out)
    print(
        f"probe {cal.frequency_hz:.0f} Hz at {cal.level_db:.0f} dBFS, expected range {cal.expected_range_m:.1f} m",
        file=sys.stderr,
    )
    for warning in cal.warnings:
        print(f"echo-sense calibrate: warning: {warning}", file=sys.stderr)
    return 0


def _run_motion(args: argparse.Namespace) -> int:
    cal = Calibration.load(args.config) if args.config else None
    reference = read_wav(args.reference)
    if reference.channels != 1:
        raise AudioFormatError(f"{args.reference}: the reference must be mono, it has {reference.channels} channels")
    expected_rate = cal.sample_rate if cal is not None else reference.sample_rate
    mics = read_wav(args.mics, sample_rate=expected_rate)
    if reference.sample_rate != mics.sample_rate:
        raise AudioFormatError(
            f"{args.reference} is at {reference.sample_rate} Hz but {args.mics} is at {mics.sample_rate} Hz"
        )
    if len(reference.samples) != len(mics.samples):
        raise AudioFormatError(
            f"{args.mics} holds {len(mics.samples)} frames but {args.reference} holds {len(reference.samples)}; "
            "the reference must be exactly the drive signal played during the capture"
        )
    detector = PresenceDetector(
        cal,
        sample_rate=mics.sample_rate,
        mic_count=mics.channels,
        hold_time_s=args.hold_time_s,
        sensitivity=args.sensitivity,
        scorer=args.scorer,
        duty_cycle=DutyCycleSettings(enabled=False),
    )
    out = Path(args.out)
    tmp = out.with_name(out.name + ".tmp")
    total = len(mics.samples)
    progress = StderrProgress(f"motion {Path(args.mics).name}", enabled=not args.quiet)
    with tmp.open("w") as fh:
        for start in range(0, total, _BLOCK_FRAMES):
            stop = start + _BLOCK_FRAMES
            for decision in detector.process(mics.samples[start:stop], reference.samples[start:stop, 0]):
                fh.write(json.dumps(decision.to_json()) + "\n")
            progress(min(stop, total) / total)
    tmp.replace(out)
    progress.done(f"{total / mics.sample_rate:.1f} s of capture -> {out}")
    return 0


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from err
    if not np.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def _rate(text: str) -> int:
    value = int(text)
    if value not in (96000, 48000):
        raise argparse.ArgumentTypeError(f"sample rate must be 96000 or 48000, got {value}")
    return value


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``probe``, ``calibrate-plan``, ``calibrate`` and ``motion`` to ``echo-sense``."""
    p = subparsers.add_parser("probe", help="write the emitted probe (drive) signal, 96 kHz mono")
    p.add_argument("out", metavar="OUT.wav")
    p.add_argument("--seconds", type=_positive_float, required=True)
    p.add_argument("--config", metavar="CAL.json", help="calibration from `echo-sense calibrate`")
    p.add_argument("--sample-rate", type=_rate, default=96000, help="without --config: 96000 or 48000 (fallback)")
    p.set_defaults(func=_run_probe)

    p = subparsers.add_parser("calibrate-plan", help="write the calibration sweep to emit")
    p.add_argument("out", metavar="OUT.wav")
    p.add_argument("--sample-rate", type=_rate, default=96000)
    p.set_defaults(func=_run_calibrate_plan)

    p = subparsers.add_parser("calibrate", help="choose probe frequency and level from a captured sweep")
    p.add_argument("mics", metavar="MICS.wav")
    p.add_argument("--reference", metavar="SWEEP.wav", required=True)
    p.add_argument("--out", metavar="CAL.json", required=True)
    p.add_argument("--range-m", type=_positive_float, default=DEFAULT_RANGE_M, help="detection range wanted")
    p.set_defaults(func=_run_calibrate)

    p = subparsers.add_parser("motion", help="occupancy decisions (JSON lines) from a capture and its drive signal")
    p.add_argument("mics", metavar="MICS.wav")
    p.add_argument("--reference", metavar="PLAYED.wav", required=True)
    p.add_argument("--out", metavar="DECISIONS.jsonl", required=True)
    p.add_argument("--config", metavar="CAL.json")
    p.add_argument("--hold-time-s", type=_positive_float, default=60.0)
    p.add_argument("--sensitivity", type=float, default=0.5)
    p.add_argument("--scorer", choices=sorted(SCORERS), default="neural")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    p.set_defaults(func=_run_motion)


__all__ = ["register"]
