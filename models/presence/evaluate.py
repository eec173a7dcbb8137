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

Usage: ``python models/presence/evaluate.py [--model shipped final ...]``
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
from echo_sense_dsp.presence.features import radial_asymmetry_db
from echo_sense_dsp.presence.tracker import OccupancyTracker, TrackerSettings

POSITIVE_KINDS = ("walk_in", "music_walk", "seated")  # someone is in the room


def probabilities(model: object, ex: dict[str, np.ndarray]) -> np.ndarray:
    """(hops, 3) class probabilities; hops without a target (front end settling) get P(none) = 1."""
    import torch

    f = ex["features"]
    pad = np.zeros((recipe.CONTEXT_FRAMES - 1, recipe.FEATURE_SIZE), dtype=np.float32)
    view = np.lib.stride_tricks.sliding_window_view(np.concatenate([pad, f]), (recipe.CONTEXT_FRAMES, f.shape[1]))[:, 0]
    out = np.zeros((len(f), 3), dtype=np.float32)
    out[:, 0] = 1.0
    valid = np.flatnonzero(ex["target"] >= 0)
    with torch.no_grad():
        for b in range(0, len(valid), 4096):
            idx = valid[b : b + 4096]
            out[idx] = torch.softmax(model(torch.from_numpy(np.ascontiguousarray(view[idx]))), dim=1).numpy()  # type: ignore[operator]
    return out


def main(argv: list[str] | None = None) -> int:
    import torch

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", nargs="+", default=["shipped", "final"], choices=["seed", "final", "shipped"])
    parser.add_argument(
        "--pool", default="hard", choices=["hard", "mining"], help="whose held-out scenarios (recipe.is_holdout)"
    )
    parser.add_argument("--all", action="store_true", help="every scenario of the pool (for a model trained on none)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    pool = [ex for ex in recipe.load_pool(args.pool) if args.all or recipe.is_holdout(ex["name"])]
    print(f"{'all' if args.all else 'held-out'} {args.pool} scenarios: {len(pool)}")
    print(
        "model | kind | scenes | hours | false alarms | per hour | walk-ins detected <= 1 s "
        "| empty frames with P(major) above the strict threshold, per hour "
        "| motion frames above the sensitive threshold"
    )
    for name in args.model:
        model = recipe.load_checkpoint(name).eval()
        rows: dict[str, list[float]] = defaultdict(lambda: [0, 0.0, 0, 0, 0, 0, 0, 0])
        for ex in pool:
            p = probabilities(model, ex)
            tracker = OccupancyTracker(TrackerSettings())
            valid = ex["target"] >= 0
            asymmetry = [radial_asymmetry_db(f) for f in ex["features"]]
            occ = np.array(
                [
                    tracker.update(
                        (i + 1) * HOP_S,
                        float(p[i, 1]),
                        float(p[i, 2]),
                        sensing=bool(valid[i]),
                        asymmetry_db=asymmetry[i],
                    )
                    for i in range(len(p))
                ]
            )
            r = rows[ex["kind"]]
            r[0] += 1
            r[5] += int(np.sum((ex["target"] == 0) & (p[:, 2] >= TrackerSettings().strict_threshold)))
            moving = ex["target"] > 0
            r[6] += int(np.sum(moving))
            r[7] += int(np.sum(moving & (p[:, 1] + p[:, 2] >= TrackerSettings().sensitive_threshold)))
            r[1] += len(p) * HOP_S / 3600.0
            if ex["kind"] in POSITIVE_KINDS:
                walking = np.flatnonzero(ex["target"] == 2)
                if ex["kind"] != "seated" and walking.size:
                    r[3] += 1
                    first = walking[0]
                    r[4] += bool(occ[first : first + round(1.0 / HOP_S)].any())
            else:
                r[2] += int(np.sum(np.diff(occ.astype(int)) == 1) + int(occ[0]))
        for kind, (n, hours, fa, walks, found, strict, moving, seen) in sorted(rows.items()):
            rate = f"{fa / hours:.1f}" if kind not in POSITIVE_KINDS else "-"
            det = f"{found}/{walks}" if walks else "-"
            fa_text = fa if rate != "-" else "-"
            near = f"{strict / hours:.0f}"
            recall = f"{100 * seen / moving:.0f} %" if moving else "-"
            print(f"{name} | {kind} | {n} | {hours:.2f} | {fa_text} | {rate} | {det} | {near} | {recall}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
