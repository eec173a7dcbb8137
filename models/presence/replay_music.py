"""Pick a music model on the benchmark's cached music captures, without re-running the front end.

``benchmarks/bench_presence.py`` keeps each 5 min music chunk of its long run as demodulated baseband
(:func:`bench_presence.music_chunk_baseband`). This script runs the runtime's front end over a chunk once
and caches, per hop, what the scorer and the tracker see (the feature row, whether the detector senses,
whether music plays and whether the music model would run, the radial asymmetry and the echo SNR). A
candidate music model (a training checkpoint) is then scored on all hops in one batch, next to the shipped
main model, and the two are switched and fed to the detector's own tracker exactly as
``NeuralScorer`` and ``PresenceDetector._decide`` do. So one candidate over the 12 h of music takes a few
minutes instead of an hour. ``--model shipped`` replays the shipped music model: its counts must equal the
benchmark's (that is the check that the replay is faithful).

It picks between candidates; the figures that count are the benchmark's own run on the exported assets.

Usage: ``python models/presence/replay_music.py --chunks 0-143 --model shipped music [--kinds curtains]
[--music-trigger 20:3:3 20:4:5]``
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parents[1] / "benchmarks"))
import bench_presence as bp  # noqa: E402  (sets the thread limits before numpy's first use)
import recipe  # noqa: E402

from echo_sense_dsp.presence import Calibration  # noqa: E402
from echo_sense_dsp.presence.demodulation import HOP_S  # noqa: E402
from echo_sense_dsp.presence.detector import music_model_active  # noqa: E402
from echo_sense_dsp.presence.features import FEATURE_SIZE, peak_band_snr_db, radial_asymmetry_db  # noqa: E402
from echo_sense_dsp.presence.tracker import OccupancyTracker, TrackerSettings  # noqa: E402

FLAGS = ("sensing", "music", "music_model")


def _front_end_key() -> str:
    """Hash of what a trace depends on beyond the capture: the front end and the music model's switch (not the
    tracker or the models, which the replay runs itself)."""
    return bp._files_key(
        [f"presence/{n}.py" for n in ("blockfilter", "demodulation", "drive", "features", "music", "detector")]
    )


def front_end_trace(i: int, cal: Calibration, dev: dict[str, object]) -> dict[str, np.ndarray]:
    """Chunk ``i``'s per-hop front-end record (cached next to the captures, keyed like them)."""
    path = bp.CACHE / "long-music-trace" / f"{_front_end_key()}-{bp.music_baseband_path(i, cal).stem}.npz"
    if path.exists():
        with np.load(path) as z:
            return dict(z)
    det = bp.open_loop_detectors(cal)["neural"]
    front = det._front
    assert front is not None
    baseband = bp.music_chunk_baseband(i, cal, dev)
    n = len(baseband)
    out = {
        "features": np.zeros((n, FEATURE_SIZE), dtype=np.float32),
        "asymmetry_db": np.zeros(n, dtype=np.float32),
        "echo_snr_db": np.zeros(n, dtype=np.float32),
        **{k: np.zeros(n, dtype=bool) for k in FLAGS},
    }
    for h, hop in enumerate(baseband):
        front.process_baseband(hop)
        sensing = front.probe_on and front.settled
        out["sensing"][h] = sensing
        out["music"][h] = front.music_playing
        out["music_model"][h] = music_model_active(front)
        if sensing:
            out["features"][h] = front.features
            out["asymmetry_db"][h] = radial_asymmetry_db(front.features)
            out["echo_snr_db"][h] = peak_band_snr_db(front.features)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.stem + ".tmp.npz")
    np.savez(tmp, **out)
    tmp.replace(path)
    return out


def replay(
    trace: dict[str, np.ndarray], main_p: np.ndarray, music_p: np.ndarray, settings: TrackerSettings
) -> np.ndarray:
    """Occupancy per hop: the two models' probabilities (over the sensing hops) through the tracker."""
    tracker = OccupancyTracker(settings)
    sensing_index = np.cumsum(trace["sensing"]) - 1
    occupied = np.zeros(len(trace["sensing"]), dtype=bool)
    for h in range(len(occupied)):
        sensing = bool(trace["sensing"][h])
        p = (music_p if trace["music_model"][h] else main_p)[sensing_index[h]] if sensing else (1.0, 0.0, 0.0)
        occupied[h] = tracker.update(
            (h + 1) * HOP_S,
            float(p[1]),
            float(p[2]),
            sensing=sensing,
            music=bool(trace["music"][h]),
            asymmetry_db=float(trace["asymmetry_db"][h]),
            echo_snr_db=float(trace["echo_snr_db"][h]),
        )
    return occupied


def load_model(name: str) -> object:
    """``shipped``: the shipped music model's weights; anything else: a checkpoint in the recipe's cache."""
    return recipe.load_checkpoint("shipped_music" if name == "shipped" else name).eval()


def music_trigger(text: str) -> dict[str, float]:
    """``FRAMES:ASYMMETRY_DB:ECHO_SNR_DB`` (e.g. ``20:3:3``, the library's) -> the music trigger's settings."""
    frames, asymmetry, echo = text.split(":")
    return {
        "music_trigger_frames": int(frames),
        "min_music_asymmetry_db": float(asymmetry),
        "min_music_echo_snr_db": float(echo),
    }


def parse_chunks(text: str) -> list[int]:
    first, _, last = text.partition("-")
    return list(range(int(first), int(last or first) + 1))


def main(argv: list[str] | None = None) -> int:
    import torch

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chunks", type=parse_chunks, default=parse_chunks("0-143"), help="FIRST-LAST")
    parser.add_argument("--model", nargs="+", default=["shipped"], help="shipped, or checkpoint names")
    parser.add_argument("--kinds", default="", help="only rooms whose distractors contain this text")
    parser.add_argument(
        "--music-trigger",
        nargs="+",
        type=music_trigger,
        default=[{}],
        metavar="FRAMES:ASYMMETRY_DB:ECHO_SNR_DB",
        help="music trigger settings to compare (default: the library's)",
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    dev = bp.device(-100.0)  # the benchmark's default device
    cal = bp.calibrate(dev)
    main_model = recipe.load_checkpoint("shipped").eval()
    base = bp.open_loop_detectors(cal)["neural"].tracker.settings
    chunks = [i for i in args.chunks if args.kinds in bp.long_music_scenario(i, dev)[1]]
    traces = {}
    for i in chunks:
        trace = front_end_trace(i, cal, dev)
        feats = trace["features"][trace["sensing"]]
        traces[i] = (trace, recipe.predict(main_model, recipe.context_windows(feats)), feats)
    hours = len(chunks) * bp.MUSIC_CHUNK_S / 3600
    print(f"{len(chunks)} music chunks ({hours:.2f} h){' with ' + args.kinds if args.kinds else ''}")
    print(
        "model | music trigger | false alarms | alarm chunks (music dBFS) | occupied % "
        "| music-model hops with P(major) >= 0.5"
    )
    for name in args.model:
        model = load_model(name)
        music_ps = {i: recipe.predict(model, recipe.context_windows(feats)) for i, (_, _, feats) in traces.items()}
        high = sum(
            int(np.sum(music_ps[i][trace["music_model"][trace["sensing"]], 2] >= 0.5))
            for i, (trace, _, _) in traces.items()
        )
        for trigger in args.music_trigger:
            settings = dataclasses.replace(base, **trigger)
            label = (
                f"{settings.music_trigger_frames}:{settings.min_music_asymmetry_db:g}:"
                f"{settings.min_music_echo_snr_db:g}"
            )
            alarms: list[str] = []
            count, occupied_hops, total_hops = 0, 0, 0
            for i, (trace, main_p, _) in traces.items():
                occ = replay(trace, main_p, music_ps[i], settings)
                rising = int(np.sum(np.diff(occ.astype(int), prepend=0) == 1))
                if rising:
                    alarms.append(f"{i} ({bp.long_music_scenario(i, dev)[2]:.0f}): {rising}")
                count += rising
                occupied_hops += int(occ.sum())
                total_hops += len(occ)
            share = 100 * occupied_hops / total_hops
            print(f"{name} | {label} | {count} | {', '.join(alarms) or '-'} | {share:.2f} | {high}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
