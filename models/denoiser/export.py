"""Export the trained denoiser to ONNX, verify it, and write the sidecar and the golden pair.

Usage (from the repository root)::

    .venv-train/bin/python models/denoiser/export.py [--checkpoint models/denoiser/checkpoints/best.pt]

Writes ``dsp/echo_sense_dsp/assets/denoiser.onnx`` + ``denoiser.json`` (sidecar) and
``dsp/tests/data/denoiser-io.npz`` (features in, band_gains/comb_strengths out of a
step-by-step run), after checking onnxruntime against PyTorch with ``assert_allclose``.
With ``--int8`` it also writes a dynamically quantised copy (``--int8-out``) for the benchmark.
"""

from __future__ import annotations

import argparse
import subprocess
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch
from recipe import CHECKPOINT_DIR, DenoiserNet, load_config
from torch import nn

from echo_sense_dsp.sidecar import write_sidecar
from echo_sense_dsp.voice.denoiser import LOOKAHEAD_FRAMES, MODEL_NAME
from echo_sense_dsp.voice.features import (
    FEATURE_LAYOUT,
    FFT_SIZE,
    FRAME_SIZE,
    NB_BANDS,
    SAMPLE_RATE,
    WINDOW_SIZE,
)

ROOT = Path(__file__).resolve().parents[2]
ASSETS = ROOT / "dsp" / "echo_sense_dsp" / "assets"
GOLDEN = ROOT / "dsp" / "tests" / "data" / f"{MODEL_NAME}-io.npz"
OPSET = 17
CONV_FRAMES = 3
RTOL, ATOL = 1e-4, 2e-5  # onnxruntime vs PyTorch over a 200-frame streaming run


class StepGraph(nn.Module):
    """One streaming step: features of frames t-2..t and the GRU state in; gains for frame t-1 out."""

    def __init__(self, net: DenoiserNet) -> None:
        super().__init__()
        self.net = net

    def forward(self, features: torch.Tensor, gru_state_in: torch.Tensor):
        g, r, s = self.net(features, gru_state_in, padded=False)
        return g[:, -1], r[:, -1], s


def run_onnx_stream(session: ort.InferenceSession, features: np.ndarray, state_shape: tuple[int, ...]):
    """Run the graph frame by frame the way the runtime does (zero feature history at start)."""
    window = np.zeros((1, CONV_FRAMES, features.shape[1]), np.float32)
    state = np.zeros(state_shape, np.float32)
    gains, strengths = [], []
    for f in features:
        window[0, :-1] = window[0, 1:]
        window[0, -1] = f
        g, r, state = session.run(None, {"features": window, "gru_state_in": state})
        gains.append(g[0])
        strengths.append(r[0])
    return np.asarray(gains), np.asarray(strengths)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, default=CHECKPOINT_DIR / "best.pt")
    parser.add_argument("--int8", action="store_true", help="also write a dynamically quantised int8 model")
    parser.add_argument("--int8-out", type=Path, default=Path("~/.cache/echo_sense/denoiser/denoiser-int8.onnx"))
    parser.add_argument(
        "--out", type=Path, default=None, help="write the model (+ sidecar) here instead of the asset, no golden pair"
    )
    args = parser.parse_args()
    ck = torch.load(args.checkpoint, weights_only=False, map_location="cpu")
    kwargs = ck["model_kwargs"]
    assert kwargs["n_features"] == FEATURE_LAYOUT.size, (kwargs["n_features"], FEATURE_LAYOUT.size)
    assert kwargs["lookahead_frames"] == LOOKAHEAD_FRAMES
    net = DenoiserNet(**kwargs)
    net.load_state_dict(ck["state_dict"])
    net.eval()
    step = StepGraph(net).eval()
    state_shape = (2, 1, int(kwargs["gru_size"]))
    onnx_path = ASSETS / f"{MODEL_NAME}.onnx" if args.out is None else args.out.expanduser()
    onnx_path.parent.mkdir(parents=True, exist_ok=True)
    dummy = (torch.zeros(1, CONV_FRAMES, FEATURE_LAYOUT.size), torch.zeros(state_shape))
    torch.onnx.export(
        step,
        dummy,
        str(onnx_path),
        input_names=["features", "gru_state_in"],
        output_names=["band_gains", "comb_strengths", "gru_state_out"],
        opset_version=OPSET,
        dynamo=False,
    )
    # verification on real validation features
    cfg = load_config()
    val = np.load(Path(cfg["data"]["cache_dir"]).expanduser() / cfg["data"]["val"])
    features = val["features"][:200].astype(np.float32)
    with torch.no_grad():
        g_ref, r_ref, _ = net(torch.from_numpy(features)[None], torch.zeros(state_shape))
    g_ref, r_ref = g_ref[0].numpy(), r_ref[0].numpy()
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    g_onnx, r_onnx = run_onnx_stream(session, features, state_shape)
    np.testing.assert_allclose(g_onnx, g_ref, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(r_onnx, r_ref, rtol=RTOL, atol=ATOL)
    if args.out is None:
        GOLDEN.parent.mkdir(parents=True, exist_ok=True)
        np.savez(GOLDEN, features=features[:60], band_gains=g_ref[:60], comb_strengths=r_ref[:60])
    commit = subprocess.run(
        ["git", "rev-parse", "HEAD"], check=False, cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()

    def sidecar(quantization: str) -> dict[str, object]:
        return {
            "name": MODEL_NAME,
            "version": f"{MODEL_NAME}_step_{ck['step']}"
            + ("_finetuned" if ck.get("init_from") else "")
            + (f"_soup_of_{len(ck['soup'])}" if ck.get("soup") else "")  # soup.py: step is its first .pt's
            + ("_int8" if quantization != "float32" else ""),
            "sample_rate": SAMPLE_RATE,
            "frame_size": FRAME_SIZE,
            "window_size": WINDOW_SIZE,
            "fft_size": FFT_SIZE,
            "nb_bands": NB_BANDS,
            "n_features": FEATURE_LAYOUT.size,
            "layout_version": FEATURE_LAYOUT.layout_version,
            "lookahead_frames": LOOKAHEAD_FRAMES,
            "inputs": {"features": [1, CONV_FRAMES, FEATURE_LAYOUT.size], "gru_state_in": list(state_shape)},
            "outputs": {
                "band_gains": [1, NB_BANDS],
                "comb_strengths": [1, NB_BANDS],
                "gru_state_out": list(state_shape),
            },
            "gru_state_shape": list(state_shape),
            "opset": OPSET,
            "quantization": quantization,
            "n_params": int(ck["n_params"]),
            "train_minutes": round(float(ck["elapsed_s"]) / 60.0, 1),  # of this run (a fine-tune: on top of its init)
            "recipe_commit": commit,
        }

    write_sidecar(onnx_path, sidecar("float32"))
    print(f"wrote {onnx_path} ({onnx_path.stat().st_size} bytes), verified {len(features)} frames")
    if args.int8:
        from onnxruntime.quantization import QuantType, quantize_dynamic

        out = args.int8_out.expanduser()
        out.parent.mkdir(parents=True, exist_ok=True)
        quantize_dynamic(str(onnx_path), str(out), weight_type=QuantType.QInt8)
        write_sidecar(out, sidecar("int8-dynamic"))
        s8 = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
        g8, _ = run_onnx_stream(s8, features, state_shape)
        print(f"wrote {out} ({out.stat().st_size} bytes); max |gain diff| vs float {np.abs(g8 - g_ref).max():.4f}")


if __name__ == "__main__":
    main()
