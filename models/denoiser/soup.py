"""Average the weights of fine-tunes that share a start ("model soup", Wortsman et al. 2022).

Run (the training venv)::

    .venv-train/bin/python models/denoiser/soup.py --out checkpoints/soup.pt \
        dsp/echo_sense_dsp/assets/denoiser.onnx models/denoiser/checkpoints/s8/last.pt
    .venv-train/bin/python models/denoiser/export.py --checkpoint checkpoints/soup.pt --out /tmp/soup.onnx

Each input is an exported model (``.onnx``, read back by ``recipe.load_onnx_weights``) or a
training checkpoint (``.pt``); ``--weight`` gives each one's share (equal by default). The
networks must have the same shape. Writes a checkpoint that ``export.py`` takes.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from recipe import DenoiserNet, load_onnx_weights


def load_net(path: Path, kwargs: dict) -> DenoiserNet:
    net = DenoiserNet(**kwargs)
    if path.suffix == ".onnx":
        load_onnx_weights(net, path)
    else:
        net.load_state_dict(torch.load(path, weights_only=False, map_location="cpu")["state_dict"])
    return net


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", type=Path, nargs="+")
    parser.add_argument("--weight", type=float, action="append", default=[])
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    template = next((p for p in args.models if p.suffix == ".pt"), None)
    if template is None:
        parser.error("give at least one training checkpoint (.pt): its model shape and metadata are kept")
    ck = torch.load(template, weights_only=False, map_location="cpu")
    weights = args.weight or [1.0] * len(args.models)
    if len(weights) != len(args.models):
        parser.error("give one --weight per model, or none")
    total = sum(weights)
    nets = [load_net(p, ck["model_kwargs"]) for p in args.models]
    soup = {
        key: sum(w / total * net.state_dict()[key].double() for w, net in zip(weights, nets, strict=True)).float()
        for key in nets[0].state_dict()
    }
    ck = {k: v for k, v in ck.items() if k != "optimizer"}
    ck.update(state_dict=soup, soup=[str(p) for p in args.models], soup_weights=weights)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(ck, args.out)
    print(f"{args.out}: average of {len(nets)} models, weights {weights}")


if __name__ == "__main__":
    main()
