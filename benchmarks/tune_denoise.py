"""Denoiser tuning sweep: models x DenoiserSettings on the tuning subset, not on the benchmark's table.

Run (the bench venv, see bench_denoise.py)::

    ~/.cache/echo_sense/venv-bench/bin/python benchmarks/tune_denoise.py \
        --model shipped=dsp/echo_sense_dsp/assets/denoiser.onnx --model new=/tmp/new.onnx \
        --variant default={} --variant 'exp1.3={"gain_exponent": 1.3}'

Tuning subset: ``validation_mixtures(seed=999)`` (held-out pool, other mixtures than the
benchmark's ``seed=1234``), 24 mixtures with speech and 5 clean utterances. "SI-SDR hi" = the
mixtures with input SNR >= 15 dB. Prints one markdown table and asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
from bench_denoise import align, si_sdr_db, speech_metrics
from tqdm import tqdm

from echo_sense_dsp.voice import SAMPLE_RATE, Denoiser, DenoiserSettings

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "models" / "denoiser"))
import dataset  # noqa: E402  (models/denoiser/dataset.py: the split and the mixer)


def score_mixtures(
    process: Callable[[dataset.Mixture], np.ndarray], mixtures: list[dataset.Mixture], desc: str
) -> tuple[dict[str, float], float]:
    """Mean speech metrics of ``process(mixture)`` over the mixtures, and the mean SI-SDR of those
    with input SNR >= 15 dB ("SI-SDR hi")."""
    rows, hi = [], []
    for m in tqdm(mixtures, desc=desc, mininterval=10, file=sys.stderr):
        y = align(process(m)[: len(m.noisy)], m.noisy)
        rows.append(speech_metrics(m.clean, y))
        if m.snr_db >= 15:
            hi.append(si_sdr_db(m.clean, y))
    summary = {k: float(np.nanmean([r[k] for r in rows])) for k in rows[0]}
    return summary, float(np.mean(hi)) if hi else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=24, help="mixtures with speech")
    parser.add_argument("--clean-only", type=int, default=5)
    parser.add_argument("--model", action="append", default=[], metavar="LABEL=PATH", help="default: the asset")
    parser.add_argument("--variant", action="append", default=[], metavar="LABEL=JSON", help="DenoiserSettings")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    models = {label: path for label, _, path in (m.partition("=") for m in args.model)}
    models = models or {"asset": ""}
    variants = {label: DenoiserSettings(**json.loads(js)) for label, _, js in (v.partition("=") for v in args.variant)}
    variants = variants or {"default": DenoiserSettings()}
    mixtures = [m for m in dataset.validation_mixtures(2 * args.count, seed=999) if np.isfinite(m.snr_db)]
    mixtures = mixtures[: args.count]
    pool = dataset.split_pools()["val"]
    rng = np.random.default_rng(5)
    clean_only = []
    for i in range(args.clean_only):
        s = dataset.load(pool.speech[(3 * i + 1) % len(pool.speech)])[: 8 * SAMPLE_RATE]
        clean_only.append((s / dataset.rms(s) * 10 ** (rng.uniform(-35, -15) / 20)).astype(np.float32))
    from pesq import pesq

    print("| model | settings | PESQ-WB | SI-SDR | SI-SDR hi | SIG | BAK | OVRL | PESQ-WB clean in |")
    print("|---|---|---|---|---|---|---|---|---|")
    for model_label, model_path in models.items():
        for label, settings in variants.items():
            denoiser = Denoiser(settings, model_path or None)
            s, hi = score_mixtures(lambda m, d=denoiser: d.process(m.noisy), mixtures, f"{model_label} {label}")
            clean = [
                float(pesq(SAMPLE_RATE, x, np.clip(align(denoiser.process(x)[: len(x)], x), -1, 1), "wb"))
                for x in clean_only
            ]
            print(
                f"| {model_label} | {label} | {s['pesq_wb']:.3f} | {s['si_sdr_db']:.2f} | {hi:.2f} "
                f"| {s['sig']:.3f} | {s['bak']:.3f} | {s['ovrl']:.3f} | {np.mean(clean):.3f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
