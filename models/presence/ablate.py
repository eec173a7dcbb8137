"""Which distractor raises a false alarm? Re-render cached baseband scenes without each one.

For every named scene of the ``hard`` pool (``recipe.py generate --pool hard``) this renders the
scene as cached, then without the neighbour, without the fan and without curtains + HVAC (each
that the scene has), runs a model through the runtime's tracker and prints the false alarms, the
peak P(major) and the frames at or above the strict threshold. Session 4 used it to find that the
empty-room false alarms came from fans and curtains + HVAC, not from the person behind the wall.

Usage: ``python models/presence/ablate.py 300068 300009 [--model shipped]``
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import evaluate
import recipe

from echo_sense_dsp.presence.tracker import TrackerSettings


def variants(scenario: dict[str, Any]) -> dict[str, dict[str, Any]]:
    out = {"as cached": scenario}
    if scenario.get("people"):
        out["no neighbour"] = {**scenario, "people": []}
    if scenario.get("fans"):
        out["no fan"] = {**scenario, "fans": []}
    if scenario.get("curtains") or scenario.get("turbulence"):
        out["no curtains + HVAC"] = {k: v for k, v in scenario.items() if k not in ("curtains", "turbulence")}
    return out


def main(argv: list[str] | None = None) -> int:
    import torch

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("scenes", nargs="+", help="hard-pool scene numbers (file names in the cache)")
    parser.add_argument("--model", default="shipped", choices=["seed", "final", "shipped"])
    parser.add_argument(
        "--tracker", type=evaluate.parse_tracker, default=TrackerSettings(), metavar="FRAMES:ASYMMETRY_DB"
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    model = recipe.load_checkpoint(args.model).eval()
    settings = args.tracker
    print("scene | kind | wall loss dB | variant | false alarms | peak P(major) | frames >= strict threshold")
    for name in args.scenes:
        with np.load(recipe.cache_dir() / "hard" / f"{name}.npz") as z:
            scenario = json.loads(str(z["scenario"]))
            kind, frequency_hz, level_db = str(z["kind"]), float(z["frequency_hz"]), float(z["level_db"])
        wall = scenario["room"]["wall_transmission_loss_db"]
        for label, sc in variants(scenario).items():
            features, valid = recipe.render_baseband_features(sc, frequency_hz, level_db)
            ex = {"features": features, "target": np.where(valid, 0, recipe.NO_TARGET), "kind": "empty"}
            p = evaluate.probabilities(model, ex)
            row = evaluate.score_pool([(ex, p, [evaluate.radial_asymmetry_db(f) for f in features])], settings)
            alarms = row["empty"].split(" | ")[2]
            hot = int(np.sum(valid & (p[:, 2] >= settings.strict_threshold)))
            print(f"{name} | {kind} | {wall:.0f} | {label} | {alarms} | {p[valid, 2].max():.3f} | {hot}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
