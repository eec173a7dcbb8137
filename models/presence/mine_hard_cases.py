"""Rare-event mining: run a model over the mining pools and keep the frames it gets wrong.

Hard negatives are frames with target "none" (fans, curtains, HVAC, music residue, a person
next door, a still sitter) where the model's P(minor) + P(major) exceeds
``NEGATIVE_THRESHOLD`` (mining pool) or its P(major) exceeds ``MAJOR_NEGATIVE_THRESHOLD``
(baseband pool: there only what can raise a false alarm counts, since an empty room's
tracker is strict and takes P(major) alone; its curtains and HVAC give P(minor) freely,
and weighting all of that up would cost the seated reader's hold); hard positives are
motion frames it scores below ``POSITIVE_THRESHOLD``. Their (scenario, frame) indices go to
``~/.cache/echo_sense/presence/hard_cases.npz``; ``recipe.py train --stage final`` adds the
mining pools with those frames weighted up.

Pools: ``mining`` (full renders, as the seed pool) and ``hard`` (baseband renders of the long
run's weak spots: a person behind a side wall with a fan, curtains + HVAC; see
``recipe.py generate --pool hard``). The mining model is the cached ``seed`` checkpoint or,
for a further round of the loop, the ``shipped`` ONNX asset.

Usage: ``python models/presence/mine_hard_cases.py [--model seed|shipped|final] [--pools mining hard]``
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent))
import recipe

NEGATIVE_THRESHOLD = 0.3
MAJOR_NEGATIVE_THRESHOLD = 0.3
POSITIVE_THRESHOLD = 0.5


def main(argv: list[str] | None = None) -> int:
    import torch

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="seed", choices=["seed", "shipped", "final"])
    parser.add_argument("--pools", nargs="+", default=["mining"], choices=["mining", "hard"])
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    model = recipe.load_checkpoint(args.model).eval()
    names: list[str] = []
    frames: list[int] = []
    stats: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])  # kind -> neg, hard neg, pos, hard pos
    major_negatives: dict[str, int] = defaultdict(int)  # negatives the tracker's strict regime would take
    for pool in args.pools:
        for ex in tqdm(recipe.load_pool(pool), desc=f"mine {pool}", file=sys.stderr, mininterval=5):
            x, y = recipe.windows(ex)
            idx = np.flatnonzero(ex["target"] >= 0)
            with torch.no_grad():
                p = np.concatenate(
                    [
                        torch.softmax(model(torch.from_numpy(x[b : b + 4096].astype(np.float32))), dim=1).numpy()
                        for b in range(0, len(x), 4096)
                    ]
                )
            motion = p[:, 1] + p[:, 2]
            false_alarm_prone = p[:, 2] > MAJOR_NEGATIVE_THRESHOLD if pool == "hard" else motion > NEGATIVE_THRESHOLD
            hard = ((y == 0) & false_alarm_prone) | ((y > 0) & (motion < POSITIVE_THRESHOLD))
            s = stats[ex["kind"]]
            s[0] += int(np.sum(y == 0))
            s[1] += int(np.sum(hard & (y == 0)))
            s[2] += int(np.sum(y > 0))
            s[3] += int(np.sum(hard & (y > 0)))
            major_negatives[ex["kind"]] += int(np.sum((y == 0) & (p[:, 2] > 0.5)))
            names += [ex["name"]] * int(hard.sum())
            frames += idx[hard].tolist()
    np.savez(recipe.cache_dir() / "hard_cases.npz", names=np.array(names), frames=np.array(frames, dtype=np.int64))
    print(f"mined {len(frames)} hard frames with the {args.model} model", flush=True)
    print("kind | negatives | hard negatives | negatives with P(major) > 0.5 | positives | hard positives")
    for kind, (n, hn, pos, hp) in sorted(stats.items()):
        print(f"{kind} | {n} | {hn} | {major_negatives[kind]} | {pos} | {hp}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
