"""Held-out check of a presence model on the mining pools, through the runtime's tracker.

Every ``HOLDOUT_EVERY``-th scenario of the ``hard`` pool (``recipe.py generate --pool hard``) and
every third of the ``mining`` pool is never trained on (:func:`recipe.is_holdout`). This script
runs a model over their cached features, feeds P(minor) and P(major) to
:class:`~echo_sense_dsp.presence.tracker.OccupancyTracker` with the library's default settings
(as the detector does), and prints per kind: false alarms (rising edges of occupancy in scenes
with nobody in the room) per simulated hour, walk-ins detected within 1 s of the first walking
frame, the frames without motion whose P(major) reaches the empty room's strict threshold (the
near misses behind a false alarm) per hour, and the share of motion frames (minor or major)
that an occupied room's sensitive threshold sees. It picks between models; the figures that
count are the benchmark's (``benchmarks/bench_presence.py``), on scenes no model saw.

Usage: ``python models/presence/evaluate.py [--model shipped final ...] [--tracker 3:1.5 3:0 ...]``
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import recipe

from echo_sense_dsp.presence.demodulation import HOP_S
from echo_sense_dsp.presence.features import FEATURE_LAYOUT, peak_band_snr_db, radial_asymmetry_db
from echo_sense_dsp.presence.tracker import OccupancyTracker, TrackerSettings

POSITIVE_KINDS = ("walk_in", "music_walk", "seated")  # someone is in the room


def probabilities(model: object, ex: dict[str, np.ndarray]) -> np.ndarray:
    """(hops, 3) class probabilities; hops without a target (front end settling) get P(none) = 1."""
    out = np.zeros((len(ex["features"]), 3), dtype=np.float32)
    out[:, 0] = 1.0
    valid = np.flatnonzero(ex["target"] >= 0)
    out[valid] = recipe.predict(model, recipe.context_windows(ex["features"])[valid])
    return out


def parse_tracker(text: str) -> TrackerSettings:
    """``FRAMES:ASYMMETRY_DB`` (e.g. ``3:1.5``) -> tracker settings with that strict trigger."""
    frames, _, asymmetry = text.partition(":")
    return TrackerSettings(trigger_frames=int(frames), min_asymmetry_db=float(asymmetry or 0.0))


def main(argv: list[str] | None = None) -> int:
    import torch

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--model", nargs="+", default=["shipped", "final"], help="shipped, or checkpoint names in the recipe's cache"
    )
    parser.add_argument(
        "--pool",
        nargs="+",
        default=["hard"],
        choices=["hard", "mining", "seed", *recipe.MUSIC_POOLS],
        help="whose held-out scenarios (recipe.is_holdout)",
    )
    parser.add_argument("--all", action="store_true", help="every scenario of the pool (for a model trained on none)")
    parser.add_argument(
        "--tracker",
        nargs="+",
        type=parse_tracker,
        default=[TrackerSettings()],
        metavar="FRAMES:ASYMMETRY_DB",
        help="strict-trigger settings to compare (default: the library's)",
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    pool = [ex for name in args.pool for ex in recipe.load_pool(name) if args.all or recipe.is_holdout(ex["name"])]
    print(f"{'all' if args.all else 'held-out'} {' + '.join(args.pool)} scenarios: {len(pool)}")
    print(
        "model | trigger frames : asymmetry dB | kind | scenes | hours | false alarms | per hour "
        "| walk-ins detected <= 1 s | median / p95 latency ms "
        "| empty frames with P(major) above the strict threshold, per hour "
        "| motion frames above the sensitive threshold"
    )
    for name in args.model:
        model = recipe.load_checkpoint(name).eval()
        scored = [
            (ex, probabilities(model, ex), [(radial_asymmetry_db(f), peak_band_snr_db(f)) for f in ex["features"]])
            for ex in pool
        ]
        for settings in args.tracker:
            label = f"{settings.trigger_frames}:{settings.min_asymmetry_db:g}"
            for kind, row in sorted(score_pool(scored, settings).items()):
                print(f"{name} | {label} | {kind} | {row}", flush=True)
    return 0


def score_pool(
    scored: list[tuple[dict[str, np.ndarray], np.ndarray, list[tuple[float, float]]]], settings: TrackerSettings
) -> dict[str, str]:
    """Per kind, the table row's cells after the kind (see main's header)."""
    rows: dict[str, list[float]] = defaultdict(lambda: [0, 0.0, 0, 0, 0, 0, 0, 0])
    latencies: dict[str, list[float]] = defaultdict(list)
    for ex, p, per_frame in scored:
        tracker = OccupancyTracker(settings)
        valid = ex["target"] >= 0
        # the canceller removed something: music played (the detector asks the canceller itself)
        music = ex["features"][:, FEATURE_LAYOUT.slices["cancelled"]][:, 0] > 0
        occ = np.array(
            [
                tracker.update(
                    (i + 1) * HOP_S,
                    float(p[i, 1]),
                    float(p[i, 2]),
                    sensing=bool(valid[i]),
                    music=bool(music[i]),
                    asymmetry_db=per_frame[i][0],
                    echo_snr_db=per_frame[i][1],
                )
                for i in range(len(p))
            ]
        )
        r = rows[ex["kind"]]
        r[0] += 1
        r[5] += int(np.sum((ex["target"] == 0) & (p[:, 2] >= settings.strict_threshold)))
        moving = ex["target"] > 0
        r[6] += int(np.sum(moving))
        r[7] += int(np.sum(moving & (p[:, 1] + p[:, 2] >= settings.sensitive_threshold)))
        r[1] += len(p) * HOP_S / 3600.0
        if ex["kind"] in POSITIVE_KINDS:
            walking = np.flatnonzero(ex["target"] == 2)
            if ex["kind"] != "seated" and walking.size:
                r[3] += 1
                first = walking[0]
                hits = np.flatnonzero(occ[first : first + round(1.0 / HOP_S)])
                if occ[:first].any() or hits.size:
                    r[4] += 1
                    latencies[ex["kind"]].append(0.0 if occ[:first].any() else float(hits[0]) * HOP_S)
        else:
            r[2] += int(np.sum(np.diff(occ.astype(int)) == 1) + int(occ[0]))
    out = {}
    for kind, (n, hours, fa, walks, found, strict, moving, seen) in rows.items():
        positive = kind in POSITIVE_KINDS
        lat = np.asarray(latencies[kind]) * 1000.0
        out[kind] = " | ".join(
            [
                f"{n}",
                f"{hours:.2f}",
                "-" if positive else f"{fa}",
                "-" if positive else f"{fa / hours:.1f}",
                f"{found}/{walks}" if walks else "-",
                f"{np.median(lat):.0f} / {np.percentile(lat, 95):.0f}" if lat.size else "-",
                f"{strict / hours:.0f}",
                f"{100 * seen / moving:.0f} %" if moving else "-",
            ]
        )
    return out


if __name__ == "__main__":
    sys.exit(main())
