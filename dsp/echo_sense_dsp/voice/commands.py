"""``echo-sense denoise IN.wav OUT.wav``: the denoiser on a file (any rate, mono; OUT at IN's rate)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from ..errors import AudioFormatError
from ..wavio import read_wav, write_wav
from .denoiser import Denoiser, DenoiserSettings


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``denoise`` subcommand."""
    parser = subparsers.add_parser(
        "denoise",
        help="suppress noise in a mono WAV file (PercepNet-style denoiser)",
        description="Suppress noise in a mono WAV file. Any sample rate in (processed at 16 kHz), same rate out.",
    )
    parser.add_argument("input", type=Path, metavar="IN.wav")
    parser.add_argument("output", type=Path, metavar="OUT.wav")
    defaults = DenoiserSettings()
    parser.add_argument(
        "--atten-lim-db",
        type=float,
        default=defaults.atten_lim_db,
        help=f"largest attenuation of any band, dB (default: {defaults.atten_lim_db:g})",
    )
    parser.add_argument(
        "--comb-strength-scale",
        type=float,
        default=defaults.comb_strength_scale,
        help=f"factor on the comb-filter strengths, 0..1 (default: {defaults.comb_strength_scale:g})",
    )
    parser.add_argument(
        "--gain-exponent",
        type=float,
        default=defaults.gain_exponent,
        help=f"power on the band gains; above 1 suppresses more (default: {defaults.gain_exponent:g})",
    )
    parser.add_argument(
        "--gain-release",
        type=float,
        default=defaults.gain_release,
        help=f"a band's gain falls by at most this factor per 10 ms hop, 0..1; 0 is off "
        f"(default: {defaults.gain_release:g})",
    )
    parser.add_argument("--no-postfilter", action="store_true", help="skip the envelope post-filter")
    parser.add_argument(
        "--postfilter-where-noisy",
        action="store_true",
        help="weight the post-filter by the share of each frame's energy the gains remove",
    )
    parser.add_argument("--model", type=Path, default=None, help="ONNX model with its .json sidecar (default: shipped)")
    parser.add_argument("--downmix", action="store_true", help="average the channels of a multichannel file to mono")
    parser.add_argument("--pcm16", action="store_true", help="write 16-bit PCM instead of 32-bit float")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Denoise ``args.input`` into ``args.output``; prints the real-time factor."""
    audio = read_wav(args.input)
    samples = audio.samples
    if audio.channels != 1:
        if not args.downmix:
            raise AudioFormatError(
                f"{args.input}: the denoiser takes mono audio, the file has {audio.channels} channels (use --downmix)"
            )
        samples = samples.mean(axis=1, keepdims=True)
    denoiser = Denoiser(
        DenoiserSettings(
            atten_lim_db=args.atten_lim_db,
            postfilter=not args.no_postfilter,
            comb_strength_scale=args.comb_strength_scale,
            gain_exponent=args.gain_exponent,
            postfilter_where_noisy=args.postfilter_where_noisy,
            gain_release=args.gain_release,
        ),
        args.model,
    )
    start = time.perf_counter()
    out = denoiser.process(samples, audio.sample_rate)
    elapsed_s = time.perf_counter() - start
    write_wav(args.output, out, audio.sample_rate, pcm16=args.pcm16)
    rt_factor = elapsed_s / max(audio.duration_s, 1e-9)
    print(f"{args.output}: {audio.duration_s:.2f} s at {audio.sample_rate} Hz, RT factor {rt_factor:.3f}")
    return 0


__all__ = ["register", "run"]
