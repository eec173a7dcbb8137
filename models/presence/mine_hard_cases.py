"""Rare-event mining: run the seed model over the mining pool and keep the frames it gets wrong.

Hard negatives are frames with target "none" (fans, curtains, HVAC, music residue, a person
next door, a still sitter) where the seed model's P(minor) + P(major) exceeds
``NEGATIVE_THRESHOLD``; hard positives are motion frames it scores below
``POSITIVE_THRESHOLD``. Their (scenario, frame) indices go to
``~/.cache/echo_sense/presence/hard_cases.npz``; ``recipe.py train --stage final`` adds the
mining pool with those frames weighted up.

Usage: ``python models/presence/mine_hard_cases.py``
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent))
import recipe

NEGATIVE_THRESHOLD = 0.3
POSITIVE_THRESHOLD = 0.5


def main() -> int:
    import torch

    torch.set_num_threads(1)
    ckpt = torch.load(recipe.cache_dir() / "seed.pt", weights_only=False)
    model = recipe.build_model(**ckpt["model_kwargs"])
    model.load_state_dict(ckpt["state_dict"])
    model.eval()
    names: list[str] = []
    frames: list[int] = []
    stats = {"negatives": 0, "hard_negatives": 0, "positives": 0, "hard_positives": 0}
    for ex in tqdm(recipe.load_pool("mining"), desc="mine hard cases", file=sys.stderr, mininterval=5):
        x, y = recipe.windows(ex)
        idx = np.flatnonzero(ex["target"] >= 0)
        with torch.no_grad():
            p = torch.softmax(model(torch.from_numpy(x.astype(np.float32))), dim=1).numpy()
        motion = p[:, 1] + p[:, 2]
        hard = ((y == 0) & (motion > NEGATIVE_THRESHOLD)) | ((y > 0) & (motion < POSITIVE_THRESHOLD))
        stats["negatives"] += int(np.sum(y == 0))
        stats["positives"] += int(np.sum(y > 0))
        stats["hard_negatives"] += int(np.sum(hard & (y == 0)))
        stats["hard_positives"] += int(np.sum(hard & (y > 0)))
        names += [ex["name"]] * int(hard.sum())
        frames += idx[hard].tolist()
    np.savez(recipe.cache_dir() / "hard_cases.npz", names=np.array(names), frames=np.array(frames, dtype=np.int64))
    print(f"mined {len(frames)} hard frames: {stats}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
