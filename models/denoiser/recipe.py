"""Train the PercepNet-style denoiser's network on cached features (see dataset.py).

Usage (from the repository root)::

    .venv-train/bin/python models/denoiser/recipe.py [--resume] [--max-minutes 40]
    .venv-train/bin/python models/denoiser/recipe.py --config models/denoiser/finetune.toml \
        --init-onnx dsp/echo_sense_dsp/assets/denoiser.onnx   # fine-tune the shipped weights
    python3 models/denoiser/recipe.py --device cuda --set train.batch=128 --set model.gru_size=256 ...

``--set section.key=value`` overrides one setting (the value is read as TOML); the checkpoint
keeps the settings actually used. Nothing needs a GPU: ``--device cuda`` only makes it faster.

The network (``DenoiserNet``) maps the feature vector (``FEATURE_LAYOUT``) to
``band_gains`` and ``comb_strengths`` (both in [0, 1]). A Conv1d over frames t-2..t feeds
two stacked GRUs (``gru_state`` holds both); the output at step t is for frame t-1
(one frame of look-ahead). Targets equal to ``NO_TARGET`` are masked out of the loss.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
import tomllib
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from echo_sense_dsp.voice.features import FEATURE_LAYOUT

HERE = Path(__file__).resolve().parent
CHECKPOINT_DIR = HERE / "checkpoints"
NO_TARGET = -1.0  # same value as dataset.NO_TARGET
LOG_SPECTRAL_ABS_FLOOR = 1.6e-6  # band energy of a -90 dBFS signal over 32 bands: WINDOW_SIZE**2 / 2 * 1e-9 / 32


def load_config(path: Path = HERE / "config.toml") -> dict[str, Any]:
    with path.open("rb") as fh:
        return tomllib.load(fh)


class DenoiserNet(nn.Module):
    """Features -> band_gains, comb_strengths, with a GRU state of shape (2, batch, gru_size)."""

    def __init__(self, n_features: int, nb_bands: int, conv_channels: int, gru_size: int, **_: Any) -> None:
        super().__init__()
        self.register_buffer("feature_mean", torch.zeros(n_features))
        self.register_buffer("feature_std", torch.ones(n_features))
        self.input_conv = nn.Conv1d(n_features, conv_channels, kernel_size=3)
        self.gru1 = nn.GRU(conv_channels, gru_size, batch_first=True)
        self.gru2 = nn.GRU(gru_size, gru_size, batch_first=True)
        self.gains_dense = nn.Linear(2 * gru_size + conv_channels, nb_bands)
        self.strengths_dense = nn.Linear(2 * gru_size + conv_channels, nb_bands)
        self.gru_size = gru_size

    def forward(
        self, features: torch.Tensor, gru_state: torch.Tensor, padded: bool = True
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """features: (batch, frames, n_features); padded=True adds two zero frames in front (causal)."""
        if padded:
            features = torch.nn.functional.pad(features, (0, 0, 2, 0))
        x = (features - self.feature_mean) / self.feature_std
        x = torch.tanh(self.input_conv(x.transpose(1, 2))).transpose(1, 2)
        h1, s1 = self.gru1(x, gru_state[0:1])
        h2, s2 = self.gru2(h1, gru_state[1:2])
        cat = torch.cat([x, h1, h2], dim=-1)
        band_gains = torch.sigmoid(self.gains_dense(cat))
        comb_strengths = torch.sigmoid(self.strengths_dense(cat))
        return band_gains, comb_strengths, torch.cat([s1, s2], dim=0)


def load_onnx_weights(net: DenoiserNet, onnx_path: Path) -> None:
    """Copy the weights of an exported step graph (export.py) back into ``net``.

    The exporter stores each GRU as ONNX W (1, 3H, in), R (1, 3H, H), B (1, 6H) with the gates
    in ONNX order (z, r, h); PyTorch keeps (r, z, n). The heads are MatMul weights (in, out).
    """
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(onnx_path))
    init = {i.name: numpy_helper.to_array(i).copy() for i in model.graph.initializer}
    consumers = {}
    for node in model.graph.node:
        for name in node.input:
            consumers.setdefault(name, node)
    h = net.gru_size

    def torch_gates(x: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.concatenate([x[h : 2 * h], x[:h], x[2 * h :]]).copy())

    grus = [n for n in model.graph.node if n.op_type == "GRU"]
    matmuls = [n for n in model.graph.node if n.op_type == "MatMul"]
    assert len(grus) == 2 and len(matmuls) == 2
    with torch.no_grad():
        own = net.state_dict()  # shares storage with the module
        for key in ("feature_mean", "feature_std", "input_conv.weight", "input_conv.bias"):
            own[key].copy_(torch.from_numpy(init[f"net.{key}"]))
        for gru, node in zip((net.gru1, net.gru2), grus, strict=True):
            w, r, b = (init[name][0] for name in node.input[1:4])
            gru.weight_ih_l0.copy_(torch_gates(w))
            gru.weight_hh_l0.copy_(torch_gates(r))
            gru.bias_ih_l0.copy_(torch_gates(b[: 3 * h]))
            gru.bias_hh_l0.copy_(torch_gates(b[3 * h :]))
        # the MatMul nodes come in graph order gains, strengths; the bias is the Add that follows each
        for dense, node in zip((net.gains_dense, net.strengths_dense), matmuls, strict=True):
            dense.weight.copy_(torch.from_numpy(init[node.input[1]].T.copy()))
            add = consumers[node.output[0]]
            bias = next(name for name in add.input if name in init)
            dense.bias.copy_(torch.from_numpy(init[bias]))


def masked_loss(
    pred: torch.Tensor, target: torch.Tensor, gamma: float, c4: float, over_weight: float = 0.0
) -> torch.Tensor:
    """PercepNet's loss on ``x^gamma``: squared plus ``c4`` times quartic error, NO_TARGET masked.

    ``over_weight`` > 0 makes over-estimation (``pred > target``) cost up to ``1 + over_weight``
    times more, in proportion to how noise-dominated the band is (``1 - target^gamma``): residual
    noise between speech is what DNSMOS BAK hears, while under-estimating speech bands (SIG)
    keeps the plain weight.
    """
    mask = (target != NO_TARGET).float()
    t = target.clamp_min(0.0) ** gamma
    d = pred.clamp_min(1e-4) ** gamma - t
    err = d * d + c4 * d**4
    if over_weight:
        err = err * (1.0 + over_weight * (d > 0).float() * (1.0 - t))
    return (mask * err).sum() / mask.sum().clamp_min(1.0)


def log_spectral_loss(
    pred: torch.Tensor, target: torch.Tensor, features: torch.Tensor, floor_db: float
) -> torch.Tensor:
    """Mean ``|log10(g^2 Ey + F) - log10(Ex + F)|`` (bels) of the enhanced band energies, NO_TARGET masked.

    ``Ey`` is the noisy band energy (the features' ``band_log_energy``), ``Ex = g_target^2 Ey`` the
    clean one. ``F`` is ``floor_db`` below the crop's loudest clean band (and never under
    ``LOG_SPECTRAL_ABS_FLOOR``): errors under it are inaudible next to the speech, errors over it
    cost by their level in dB, which is how residual noise (BAK) and lost speech (SIG) are heard.
    """
    mask = (target != NO_TARGET).float()
    e_noisy = 10.0 ** features[..., FEATURE_LAYOUT.band_log_energy]
    e_clean = target.clamp_min(0.0) ** 2 * e_noisy
    peak = (mask * e_clean).amax(dim=(1, 2), keepdim=True)
    floor = (peak * 10.0 ** (-floor_db / 10.0)).clamp_min(LOG_SPECTRAL_ABS_FLOOR)
    d = torch.log10(pred.clamp_min(0.0) ** 2 * e_noisy + floor) - torch.log10(e_clean + floor)
    return (mask * d.abs()).sum() / mask.sum().clamp_min(1.0)


def total_loss(
    net_out: tuple[torch.Tensor, ...],
    gains: torch.Tensor,
    strengths: torch.Tensor,
    cfg: dict[str, Any],
    features: torch.Tensor | None = None,
):
    """Output at step t is compared with the target of frame t - lookahead.

    With ``features`` and ``train.log_spectral_weight`` > 0, :func:`log_spectral_loss` is added to
    the returned loss; the gain and strength losses come back on their own too, so runs with and
    without it can be compared.
    """
    la = int(cfg["model"]["lookahead_frames"])
    g_hat, r_hat, _ = net_out
    g_hat, r_hat = g_hat[:, la:], r_hat[:, la:]
    gains, strengths = gains[:, : gains.shape[1] - la], strengths[:, : strengths.shape[1] - la]
    t = cfg["train"]
    lg = masked_loss(g_hat, gains, t["gain_gamma"], t["quartic_weight"], float(t.get("overestimate_weight", 0.0)))
    # strengths: the loss acts on (1 - r)^gamma, as PercepNet does
    one_minus = torch.where(strengths == NO_TARGET, strengths, 1.0 - strengths)
    lr = masked_loss(1.0 - r_hat, one_minus, t["gain_gamma"], t["quartic_weight"])
    loss = lg + t["strength_weight"] * lr
    lsd_weight = float(t.get("log_spectral_weight", 0.0))
    if features is not None and lsd_weight:
        aligned = features[:, : features.shape[1] - la]
        loss = loss + lsd_weight * log_spectral_loss(g_hat, gains, aligned, float(t.get("log_spectral_floor_db", 50.0)))
    return loss, lg, lr


def load_data(cfg: dict[str, Any]) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    cache = Path(cfg["data"]["cache_dir"]).expanduser()
    parts = [np.load(cache / name) for name in cfg["data"]["train"]]
    for p in parts:
        assert int(p["layout_version"]) == FEATURE_LAYOUT.layout_version, "stale feature cache: re-run dataset.py"
    train = {k: np.concatenate([p[k] for p in parts]) for k in ("features", "band_gains", "comb_strengths")}
    v = np.load(cache / cfg["data"]["val"])
    val = {k: v[k] for k in ("features", "band_gains", "comb_strengths", "lengths")}
    return train, val


def evaluate(
    net: DenoiserNet, val: dict[str, np.ndarray], cfg: dict[str, Any], device: torch.device
) -> tuple[float, float, float]:
    """Mean validation gain loss, strength loss and training loss (the one checkpoints are picked on).

    The training loss includes :func:`log_spectral_loss` when it is on, so a run that trades gain
    loss for it is judged on what it optimises.
    """
    net.eval()
    total_g = total_r = total = 0.0
    n = 0
    with torch.no_grad():
        start = 0
        for length in val["lengths"]:
            sl = slice(start, start + int(length))
            start += int(length)
            f = torch.from_numpy(val["features"][sl])[None].to(device)
            g = torch.from_numpy(val["band_gains"][sl])[None].to(device)
            r = torch.from_numpy(val["comb_strengths"][sl])[None].to(device)
            state = torch.zeros(2, 1, net.gru_size, device=device)
            loss, lg, lr = total_loss(net(f, state), g, r, cfg, f)
            total_g += float(lg)
            total_r += float(lr)
            total += float(loss)
            n += 1
    net.train()
    return total_g / n, total_r / n, total / n


def train(
    cfg: dict[str, Any],
    resume: bool,
    init_onnx: Path | None = None,
    checkpoint_dir: Path = CHECKPOINT_DIR,
    device: torch.device | None = None,
) -> None:
    device = device or torch.device("cpu")
    t = cfg["train"]
    torch.set_num_threads(int(t["threads"]))
    torch.manual_seed(int(t["seed"]))
    rng = np.random.default_rng(int(t["seed"]))
    train_np, val = load_data(cfg)
    # on a GPU the whole training set sits in its memory and crops are gathered there
    train_data = {k: torch.from_numpy(v).to(device) for k, v in train_np.items()}
    del train_np
    frames = len(train_data["features"])
    print(f"train frames {frames} ({frames / 360000:.2f} h), val frames {len(val['features'])}", flush=True)
    net = DenoiserNet(**cfg["model"])
    n_params = sum(p.numel() for p in net.parameters())
    print(f"parameters: {n_params}", flush=True)
    opt = torch.optim.AdamW(net.parameters(), lr=t["lr"], weight_decay=1e-4)
    checkpoint_dir.mkdir(parents=True, exist_ok=True)
    last = checkpoint_dir / "last.pt"
    elapsed_s = 0.0
    step = 0
    best = math.inf
    if resume and last.exists():
        ck = torch.load(last, weights_only=False, map_location="cpu")
        net.load_state_dict(ck["state_dict"])
        elapsed_s, step, best = ck["elapsed_s"], ck["step"], ck["best_val"]
        print(f"resumed at step {step}, {elapsed_s / 60:.1f} min", flush=True)
    elif init_onnx is not None:  # fine-tune: keep the exported model's normalisation too
        load_onnx_weights(net, init_onnx)
        net.to(device)
        vg, vr, best = evaluate(net, val, cfg, device)
        print(f"initial weights from {init_onnx}: val g {vg:.4f} r {vr:.4f} loss {best:.4f}", flush=True)
    else:
        f = train_data["features"]
        net.feature_mean.copy_(f.mean(dim=0).cpu())
        net.feature_std.copy_(f.std(dim=0).cpu() + 1e-3)
    net.to(device)
    if resume and last.exists():  # optimizer state follows the parameters' device
        opt.load_state_dict(ck["optimizer"])
    budget_s = 60.0 * float(t["max_minutes"])
    batch, seq = int(t["batch"]), int(t["seq_frames"])
    t0 = time.monotonic() - elapsed_s
    last_ck = last_eval = time.monotonic()
    running = []
    bar = tqdm(total=round(budget_s), initial=round(elapsed_s), unit="s", desc="train", file=sys.stderr, mininterval=10)

    def save(path: Path) -> None:
        torch.save(
            {
                "state_dict": {k: v.cpu() for k, v in net.state_dict().items()},
                "optimizer": opt.state_dict(),
                "model_kwargs": cfg["model"],
                "config": cfg,
                "elapsed_s": time.monotonic() - t0,
                "step": step,
                "best_val": best,
                "n_params": n_params,
                "init_from": None if init_onnx is None else init_onnx.name,
            },
            path,
        )

    while time.monotonic() - t0 < budget_s:
        progress = (time.monotonic() - t0) / budget_s
        lr = t["lr_final"] + 0.5 * (t["lr"] - t["lr_final"]) * (1 + math.cos(math.pi * progress))
        lr *= min(1.0, (step + 1) / max(1, int(t.get("warmup_steps", 0))))  # fresh Adam moments: ramp up
        for group in opt.param_groups:
            group["lr"] = lr
        starts = rng.integers(0, frames - seq, size=batch)
        idx = torch.from_numpy(starts[:, None] + np.arange(seq)[None]).to(device)
        f, g, r = (train_data[k][idx] for k in ("features", "band_gains", "comb_strengths"))
        loss, lg, lr_ = total_loss(net(f, torch.zeros(2, batch, net.gru_size, device=device)), g, r, cfg, f)
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        with torch.no_grad():
            for p in net.parameters():
                p.clamp_(-t["weight_clip"], t["weight_clip"])
        step += 1
        running.append((float(lg.detach()), float(lr_.detach())))
        now = time.monotonic()
        bar.update(min(round(now - t0), bar.total) - bar.n)  # the bar runs over the time budget
        if now - last_eval > 60.0 * t["eval_minutes"]:
            vg, vr, v = evaluate(net, val, cfg, device)
            tg, tr = np.mean(running, axis=0)
            running.clear()
            print(
                f"step {step} {(now - t0) / 60:.1f} min lr {lr:.2e} train g {tg:.4f} r {tr:.4f}"
                f" | val g {vg:.4f} r {vr:.4f} loss {v:.4f}",
                flush=True,
            )
            if v < best:
                best = v
                save(checkpoint_dir / "best.pt")
            last_eval = time.monotonic()
        if now - last_ck > 60.0 * t["checkpoint_minutes"]:
            save(last)
            last_ck = time.monotonic()
    bar.close()
    vg, vr, v = evaluate(net, val, cfg, device)
    print(f"final step {step} val g {vg:.4f} r {vr:.4f} loss {v:.4f}", flush=True)
    if v < best:
        best = v
        save(checkpoint_dir / "best.pt")
    save(last)
    print(f"done in {(time.monotonic() - t0) / 60:.1f} min, best val {best:.4f}", flush=True)


def apply_override(cfg: dict[str, Any], item: str) -> None:
    """``section.key=value`` with a TOML value (``data.train=["a.npz"]``, ``train.lr=2e-3``)."""
    key, sep, value = item.partition("=")
    section, dot, name = key.partition(".")
    if not sep or not dot or section not in cfg:
        raise SystemExit(f"--set {item!r}: expected SECTION.KEY=VALUE with SECTION one of {sorted(cfg)}")
    cfg[section][name] = tomllib.loads(f"v = {value}")["v"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=HERE / "config.toml")
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--max-minutes", type=float, default=None)
    parser.add_argument("--init-onnx", type=Path, default=None, help="start from an exported model's weights")
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE", help="override a setting")
    parser.add_argument("--checkpoint-dir", type=Path, default=CHECKPOINT_DIR)
    parser.add_argument("--device", default="cpu", help="torch device, e.g. cuda (optional: only faster)")
    args = parser.parse_args()
    cfg = load_config(args.config)
    if args.max_minutes is not None:
        cfg["train"]["max_minutes"] = args.max_minutes
    for item in args.set:
        apply_override(cfg, item)
    train(cfg, args.resume, args.init_onnx, args.checkpoint_dir, torch.device(args.device))


if __name__ == "__main__":
    main()
