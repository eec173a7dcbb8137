"""``echo-sense simulate SCENARIO OUT_DIR``: render a room scenario to files.

Writes ``mics.wav`` (float32, one channel per mic), ``drive.wav`` (float32, one channel per
driver), ``labels.jsonl`` (one label frame per 10 ms), ``events.json`` (enter/leave/... times),
``scenario.json`` (the validated scenario, defaults filled in) and ``geometry.json`` (mic and
speaker positions). SCENARIO is a JSON file or a preset name.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..progress import StderrProgress
from ..wavio import write_wav
from .engine import render_scenario
from .scenario import SCENARIOS, load_scenario


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add the ``simulate`` subcommand."""
    p = subparsers.add_parser(
        "simulate",
        help="render a room scenario (mics.wav, drive.wav, labels.jsonl)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("scenario", metavar="SCENARIO", help=f"JSON file or preset ({', '.join(SCENARIOS)})")
    p.add_argument("out_dir", metavar="OUT_DIR", type=Path, help="output directory (created)")
    p.add_argument("--duration", type=float, default=None, help="override duration_s")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    p.set_defaults(func=run_simulate)


def run_simulate(args: argparse.Namespace) -> int:
    sc = load_scenario(args.scenario)
    if args.duration is not None:
        if args.duration <= 0:
            raise ConfigError(f"--duration {args.duration} must be > 0")
        d = sc.to_dict()
        d["duration_s"] = args.duration
        sc = load_scenario(d)
    out: Path = args.out_dir
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ConfigError(f"cannot create {out}: {err}") from err
    t0 = time.perf_counter()
    progress = StderrProgress(f"simulate {sc.name}", enabled=not args.quiet)
    r = render_scenario(sc, progress=progress)
    elapsed = time.perf_counter() - t0
    progress.done(
        f"{sc.duration_s:.1f} s rendered in {elapsed:.1f} s (RT factor {sc.duration_s / max(elapsed, 1e-9):.1f})"
    )
    write_wav(out / "mics.wav", r.mics, r.sample_rate)
    write_wav(out / "drive.wav", r.drive, r.sample_rate)
    with (out / "labels.jsonl").open("w", encoding="utf-8") as f:
        for rec in r.labels.records():
            f.write(json.dumps(rec) + "\n")
    (out / "events.json").write_text(json.dumps(r.labels.events, indent=1), encoding="utf-8")
    (out / "scenario.json").write_text(json.dumps(sc.to_dict(), indent=1), encoding="utf-8")
    geometry = {
        "mic_positions_m": r.mic_positions_m.tolist(),
        "speaker_positions_m": r.speaker_positions_m.tolist(),
        "sample_rate": r.sample_rate,
    }
    (out / "geometry.json").write_text(json.dumps(geometry, indent=1), encoding="utf-8")
    return 0


__all__ = ["register", "run_simulate"]
