"""Export the trained presence classifier to ONNX with its sidecar and a golden I/O pair.

Writes ``dsp/echo_sense_dsp/assets/presence.onnx``, ``presence.json`` (name, version, sha256,
sample_rate, frame_size, fft_size, layout_version, context_frames, feature_size, input and
output names and shapes, opset, recipe commit, training numbers) and
``dsp/tests/data/presence-io.npz``, after checking onnxruntime against PyTorch with
``assert_allclose``. ``--stage music`` writes the music model (``presence_music.*``, used while
music plays) instead.

Usage: ``python models/presence/export.py [--stage final|seed|music] [--checkpoint NAME]``
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import recipe

from echo_sense_dsp.presence.classifier import (
    CONTEXT_FRAMES,
    INPUT_NAME,
    MODEL_NAME,
    MOTION_CLASSES,
    MUSIC_MODEL_NAME,
    OUTPUT_NAME,
)
from echo_sense_dsp.presence.demodulation import BASEBAND_RATE_HZ, HOP_S
from echo_sense_dsp.presence.features import DOPPLER_FFT_SIZE, FEATURE_LAYOUT, FEATURE_SIZE
from echo_sense_dsp.sidecar import write_sidecar

ROOT = Path(__file__).resolve().parents[2]
ASSETS = ROOT / "dsp" / "echo_sense_dsp" / "assets"
TEST_DATA = ROOT / "dsp" / "tests" / "data"
OPSET = 17


def main() -> int:
    import onnxruntime as ort
    import torch

    parser = argparse.ArgumentParser()
    parser.add_argument("--stage", default="final", choices=["final", "seed", "music"])
    parser.add_argument("--checkpoint", help="checkpoint name in the recipe's cache (default: the stage's)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    ckpt = torch.load(recipe.cache_dir() / f"{args.checkpoint or args.stage}.pt", weights_only=False)
    net = recipe.build_model(**ckpt["model_kwargs"])
    net.load_state_dict(ckpt["state_dict"])
    net.eval()

    class WithSoftmax(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = net

        def forward(self, doppler_features: torch.Tensor) -> torch.Tensor:
            return torch.softmax(self.net(doppler_features), dim=1)

    model = WithSoftmax().eval()
    ASSETS.mkdir(parents=True, exist_ok=True)
    name = MUSIC_MODEL_NAME if args.stage == "music" else MODEL_NAME
    onnx_path = ASSETS / f"{name}.onnx"
    example = torch.zeros(1, CONTEXT_FRAMES, FEATURE_SIZE)
    torch.onnx.export(
        model,
        (example,),
        str(onnx_path),
        input_names=[INPUT_NAME],
        output_names=[OUTPUT_NAME],
        opset_version=OPSET,
        dynamo=False,
    )
    # golden pair from real features: the music pool for the music model, else the mining (or seed) pool
    pool = (recipe.load_pool("music") if args.stage == "music" else []) or recipe.load_pool("mining")
    pool = pool or recipe.load_pool("seed")
    x, _ = recipe.windows(pool[0])
    x = x[:: max(1, len(x) // 16)][:16].astype(np.float32)
    with torch.no_grad():
        expected = model(torch.from_numpy(x)).numpy()
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    got = np.concatenate([session.run([OUTPUT_NAME], {INPUT_NAME: x[i : i + 1]})[0] for i in range(len(x))])
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    TEST_DATA.mkdir(parents=True, exist_ok=True)
    np.savez(TEST_DATA / f"{name}-io.npz", doppler_features=x, motion_probabilities=got)
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], check=False, capture_output=True, text=True
    ).stdout.strip()
    params = sum(p.numel() for p in net.parameters())
    sidecar = {
        "name": name,
        "version": f"{name}_{args.stage}_{commit}",
        "sample_rate": 96000,
        "frame_size": round(HOP_S * 96000),
        "baseband_rate_hz": BASEBAND_RATE_HZ,
        "fft_size": DOPPLER_FFT_SIZE,
        "layout_version": FEATURE_LAYOUT.layout_version,
        "context_frames": CONTEXT_FRAMES,
        "feature_size": FEATURE_SIZE,
        "inputs": {INPUT_NAME: [1, CONTEXT_FRAMES, FEATURE_SIZE]},
        "outputs": {OUTPUT_NAME: [1, len(MOTION_CLASSES)]},
        "classes": list(MOTION_CLASSES),
        "opset": OPSET,
        "parameters": int(params),
        "recipe_commit": commit,
        "train_seconds": round(float(ckpt.get("train_seconds", 0.0)), 1),
        "train_windows": int(ckpt.get("windows", 0)),
    }
    print(json.dumps(write_sidecar(onnx_path, sidecar), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
