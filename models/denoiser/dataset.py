"""Training and validation data for the denoiser: mixtures, augmentation and oracle targets.

numpy/scipy/soundfile only (no torch), so that the benchmark can rebuild the same
validation mixtures. Features come from the runtime's own
:func:`echo_sense_dsp.voice.features.compute_frame_features`.

Split (by speaker and by noise file, deterministic): every 10th speaker (sorted by id)
and every 8th noise file (sorted by name) are validation; the seminar-room RIR is
validation-only, the other four measured RIRs are training-only. Simulated rooms are
drawn for both splits.

Targets per frame and band (PercepNet, Valin et al. 2020, Sec. 3):

- ``band_gains``: ``sqrt(E_clean / E_noisy)`` capped at 1, where "clean" is the speech
  convolved with the first ``EARLY_REFLECTIONS_S`` of the room response.
- ``comb_strengths``: the mixing strength ``r`` at which ``(1 - r) Y + r P`` has the
  clean signal's pitch coherence (see :func:`oracle_comb_strengths`).
- ``NO_TARGET`` (-1) where the noisy band holds no energy; the trainer masks it.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
from numpy.typing import NDArray
from scipy import signal

from echo_sense_dsp.voice.features import (
    COMB_NOISE_POWER_GAIN,
    FEATURE_LAYOUT,
    FRAME_SIZE,
    FREQ_SIZE,
    HISTORY_SIZE,
    NB_BANDS,
    SAMPLE_RATE,
    WINDOW_SIZE,
    FeatureState,
    band_energy,
    compute_block_features,
    frame_analysis,
    pitch_filter,
)

DATA_DIR = Path(__file__).resolve().parents[3] / "shared" / "data" / "speech"
NO_TARGET = -1.0  # target value meaning "no target here": masked out of the loss
EARLY_REFLECTIONS_S = 0.05  # the target keeps the direct path and the first 50 ms of the room
BAND_ENERGY_MIN = 1e-9  # noisy band energy below which no target is defined (full scale 1.0)
SNR_RANGE_DB = (-5.0, 25.0)
SPEECH_LEVEL_DBFS = (-42.0, -12.0)  # rms of the clean speech


@dataclass(frozen=True)
class Pool:
    """File lists of one split."""

    speech: tuple[Path, ...]
    noise: tuple[Path, ...]
    rirs: tuple[Path, ...]


def split_pools(data_dir: Path = DATA_DIR, *, allow_missing: bool = False) -> dict[str, Pool]:
    """The training and validation pools, held out by speaker and by noise file.

    The split is made on the full manifest; ``allow_missing`` then drops clean files that are
    absent (a partial copy of the data), so a missing file never moves a speaker across splits.
    """
    speech: list[tuple[int, Path]] = []
    with (data_dir / "manifest.csv").open() as fh:
        for row in csv.DictReader(fh):
            if row["kind"] == "clean":
                speech.append((int(row["speaker"]), data_dir / row["file"]))
    speech.sort()
    noises = sorted((data_dir / "noise").glob("*.flac"))
    rirs = sorted((data_dir / "rirs").glob("*.flac"))
    val_rir = [r for r in rirs if "seminar" in r.name]
    pools = {
        "train": Pool(
            tuple(p for i, (_, p) in enumerate(speech) if i % 10 != 5),
            tuple(p for i, p in enumerate(noises) if i % 8 != 3),
            tuple(r for r in rirs if r not in val_rir),
        ),
        "val": Pool(
            tuple(p for i, (_, p) in enumerate(speech) if i % 10 == 5),
            tuple(p for i, p in enumerate(noises) if i % 8 == 3),
            tuple(val_rir),
        ),
    }
    if allow_missing:
        pools = {n: Pool(tuple(p for p in q.speech if p.exists()), q.noise, q.rirs) for n, q in pools.items()}
    return pools


_CACHE: dict[Path, NDArray[np.float32]] = {}


def load(path: Path) -> NDArray[np.float32]:
    """A mono 16 kHz file as float32 (cached)."""
    if path not in _CACHE:
        x, rate = sf.read(str(path), dtype="float32", always_2d=True)
        assert rate == SAMPLE_RATE, (path, rate)
        _CACHE[path] = x[:, 0].copy()
    return _CACHE[path]


def rms(x: NDArray[np.floating]) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64)) + 1e-20))


# ----------------------------------------------------------------------------- augmentation


def synthetic_noise(rng: np.random.Generator, n: int, speech_pool: tuple[Path, ...]) -> NDArray[np.float32]:
    """Stationary or slowly varying household-like noise: coloured, hum, fan, babble."""
    kind = rng.choice(["white", "pink", "brown", "hum", "fan", "babble"], p=[0.1, 0.2, 0.1, 0.15, 0.3, 0.15])
    t = np.arange(n) / SAMPLE_RATE
    if kind in ("white", "pink", "brown"):
        spec = np.fft.rfft(rng.standard_normal(n))
        f = np.maximum(np.fft.rfftfreq(n, 1 / SAMPLE_RATE), 20.0)
        spec /= {"white": 1.0, "pink": np.sqrt(f), "brown": f}[kind]
        x = np.fft.irfft(spec, n)
    elif kind == "hum":
        mains = rng.choice([50.0, 60.0])
        x = sum(
            rng.uniform(0.05, 1.0) / k * np.sin(2 * np.pi * mains * k * t + rng.uniform(0, 2 * np.pi))
            for k in range(1, 12)
        )
        x = np.asarray(x) + 0.05 * rng.standard_normal(n)
    elif kind == "fan":
        lo, hi = sorted(rng.uniform(80.0, 3000.0, size=2))
        b, a = signal.butter(2, [lo, max(hi, lo * 1.5)], btype="band", fs=SAMPLE_RATE)
        x = signal.lfilter(b, a, rng.standard_normal(n))
        x *= 1.0 + rng.uniform(0.0, 0.4) * np.sin(2 * np.pi * rng.uniform(0.2, 4.0) * t)
        blade = rng.uniform(30.0, 300.0)
        x += rng.uniform(0.0, 0.5) * rms(x) * np.sin(2 * np.pi * blade * t) * np.sqrt(2)
    else:
        x = np.zeros(n)
        for _ in range(int(rng.integers(3, 7))):
            s = load(speech_pool[int(rng.integers(len(speech_pool)))])
            x += fit_length(rng, s, n) / rms(s)
    return np.asarray(x / rms(x), dtype=np.float32)


def fit_length(rng: np.random.Generator, x: NDArray[np.float32], n: int) -> NDArray[np.float32]:
    """Loop or crop ``x`` to ``n`` samples at a random offset."""
    if len(x) < n:
        x = np.tile(x, n // len(x) + 2)
    start = int(rng.integers(0, len(x) - n + 1))
    return x[start : start + n]


def simulated_rir(rng: np.random.Generator, rt60_s: float) -> NDArray[np.float32]:
    """A room impulse response: direct path, sparse early reflections, exponential diffuse tail.

    The tail decays by 60 dB in ``rt60_s`` and loses treble over time (one-pole low-pass per
    50 ms block); the direct-to-reverberant ratio depends on a random source distance.
    """
    n = int(min(1.5 * rt60_s, 1.2) * SAMPLE_RATE)
    t = np.arange(n) / SAMPLE_RATE
    h = np.zeros(n)
    h[0] = 1.0
    for _ in range(int(rng.integers(4, 12))):
        k = int(rng.uniform(0.002, 0.03) * SAMPLE_RATE)
        h[k] += rng.uniform(0.2, 0.7) * rng.choice([-1.0, 1.0])
    tail = rng.standard_normal(n) * np.exp(-6.9 * t / rt60_s)
    tail[: int(0.004 * SAMPLE_RATE)] = 0.0
    b, a = signal.butter(1, rng.uniform(2500.0, 7000.0), fs=SAMPLE_RATE)
    tail = 0.5 * tail + 0.5 * signal.lfilter(b, a, tail)
    distance_m = rng.uniform(0.5, 4.0)
    drr_db = 10.0 - 20.0 * np.log10(distance_m) - 10.0 * rt60_s  # rough: farther and livelier, more reverb
    tail *= np.sqrt(np.sum(h**2) / np.sum(tail**2)) * 10 ** (-drr_db / 20.0)
    return np.asarray(h + tail, dtype=np.float32)


def random_eq(rng: np.random.Generator, x: NDArray[np.float32]) -> NDArray[np.float32]:
    """Random microphone/room colouration: two peaking biquads of +-8 dB."""
    y = x.astype(np.float64)
    for _ in range(2):
        f0 = np.exp(rng.uniform(np.log(100.0), np.log(6000.0)))
        gain_db = rng.uniform(-8.0, 8.0)
        q = rng.uniform(0.5, 2.0)
        amp = 10 ** (gain_db / 40)
        w0 = 2 * np.pi * f0 / SAMPLE_RATE
        alpha = np.sin(w0) / (2 * q)
        b = [1 + alpha * amp, -2 * np.cos(w0), 1 - alpha * amp]
        a = [1 + alpha / amp, -2 * np.cos(w0), 1 - alpha / amp]
        y = signal.lfilter(b, a, y)
    return y.astype(np.float32)


def speed_perturb(rng: np.random.Generator, x: NDArray[np.float32]) -> NDArray[np.float32]:
    """Resample by 0.9..1.1: changes speed and pitch together."""
    down = int(rng.integers(18, 23))
    if down == 20:
        return x
    return signal.resample_poly(x, 20, down).astype(np.float32)


@dataclass(frozen=True)
class Mixture:
    """One training or validation example (16 kHz, float32)."""

    noisy: NDArray[np.float32]
    clean: NDArray[np.float32]  # the target: dry speech plus early reflections
    snr_db: float
    reverberant: bool
    noise_name: str


def make_mixture(
    rng: np.random.Generator,
    pool: Pool,
    *,
    max_s: float | None = None,
    augment: bool = True,
    early_s: float = EARLY_REFLECTIONS_S,
) -> Mixture:
    """Draw one mixture from ``pool``: speech (augmented), a room, noise at a random SNR.

    ``early_s``: how much of the room response the target keeps (the draws do not depend on it, so
    the same seed gives the same noisy signal with a drier or wetter target).
    """
    speech = load(pool.speech[int(rng.integers(len(pool.speech)))])
    if max_s is not None and len(speech) > max_s * SAMPLE_RATE:
        speech = fit_length(rng, speech, int(rng.uniform(0.5, 1.0) * max_s * SAMPLE_RATE))
    if augment and rng.random() < 0.5:
        speech = speed_perturb(rng, speech)
    if augment and rng.random() < 0.5:
        speech = random_eq(rng, speech)
    speech = speech / rms(speech)
    n = len(speech)
    reverberant = rng.random() < 0.4
    if reverberant:
        if pool.rirs and rng.random() < 0.2:
            rir = load(pool.rirs[int(rng.integers(len(pool.rirs)))])
            rir = rir[np.argmax(np.abs(rir)) :]
        else:
            rir = simulated_rir(rng, rng.uniform(0.2, 0.8))
        rir = rir / np.abs(rir[0]) if abs(rir[0]) > 0 else rir
        early = rir[: max(1, int(early_s * SAMPLE_RATE))]
        wet = signal.fftconvolve(speech, rir)[:n].astype(np.float32)
        clean = signal.fftconvolve(speech, early)[:n].astype(np.float32)
        scale = 1.0 / rms(wet)
        wet *= scale
        clean *= scale
    else:
        wet = clean = speech
    u = rng.random()
    if u < 0.6:
        noise_path = pool.noise[int(rng.integers(len(pool.noise)))]
        noise = fit_length(rng, load(noise_path), n)
        noise = noise / rms(noise)
        name = noise_path.stem
        if rng.random() < 0.3:
            noise = noise + 10 ** (rng.uniform(-15, 0) / 20) * synthetic_noise(rng, n, pool.speech)
            name += "+synthetic"
    else:
        noise = synthetic_noise(rng, n, pool.speech)
        name = "synthetic"
    kind = rng.random()
    snr_db = float(rng.uniform(*SNR_RANGE_DB))
    level = 10 ** (rng.uniform(*SPEECH_LEVEL_DBFS) / 20)
    if kind < 0.07:  # noise only
        wet = clean = np.zeros(n, np.float32)
        snr_db = -np.inf
    elif kind < 0.13:  # clean only
        noise = np.zeros(n, np.float32)
        snr_db = np.inf
    noise_gain = level * 10 ** (-(snr_db if np.isfinite(snr_db) else 10.0) / 20)
    noisy = level * wet + noise_gain * noise
    clean = level * clean
    peak = float(np.max(np.abs(noisy))) + 1e-9
    if peak > 0.95:
        noisy = noisy * (0.95 / peak)
        clean = clean * (0.95 / peak)
    return Mixture(noisy.astype(np.float32), clean.astype(np.float32), snr_db, reverberant, name)


def validation_mixtures(count: int = 48, seed: int = 1234) -> Iterator[Mixture]:
    """The benchmark's fixed validation set: 4-8 s mixtures from the held-out pool, no augmentation."""
    pool = split_pools()["val"]
    rng = np.random.default_rng(seed)
    for _ in range(count):
        yield make_mixture(rng, pool, max_s=8.0, augment=False)


# ----------------------------------------------------------------------------- oracle targets


def oracle_comb_strengths(
    coherence_clean: NDArray[np.float32], coherence_noisy: NDArray[np.float32]
) -> NDArray[np.float32]:
    """Strength ``r`` in [0, 1] whose mixture ``(1 - r) Y + r P`` has the clean pitch coherence.

    With ``q`` the pitch coherence, the periodic share of a band's energy is ``q^2``. The comb
    keeps the periodic part and scales the rest by ``f(r) = (1 - r)^2 + gamma r^2`` (``gamma``
    = the comb's white-noise power gain). Matching ``q_y^2 / (q_y^2 + f (1 - q_y^2)) = q_x^2``
    gives ``f``, then ``r`` is the smaller root of ``(1 + gamma) r^2 - 2 r + 1 - f = 0``.
    """
    gamma = COMB_NOISE_POWER_GAIN
    qx2 = np.clip(coherence_clean, 0.0, 0.999) ** 2
    qy2 = np.clip(coherence_noisy, 0.0, 0.999) ** 2
    f = qy2 * (1.0 - qx2) / (qx2 * (1.0 - qy2) + 1e-9)
    f_min = gamma / (1.0 + gamma)
    disc = np.maximum(1.0 - (1.0 + gamma) * (1.0 - np.clip(f, f_min, 1.0)), 0.0)
    r = (1.0 - np.sqrt(disc)) / (1.0 + gamma)
    r = np.where(f <= f_min, 1.0, r)
    return np.clip(r, 0.0, 1.0).astype(np.float32)


def features_and_targets(
    noisy: NDArray[np.float32], clean: NDArray[np.float32]
) -> tuple[NDArray[np.float32], NDArray[np.float32], NDArray[np.float32]]:
    """Run the runtime's feature code over ``noisy`` and compute the oracle targets.

    Returns
    -------
    features : ndarray, shape (frames, FEATURE_LAYOUT.size), float32
    band_gains : ndarray, shape (frames, NB_BANDS), float32, in [0, 1] or NO_TARGET
    comb_strengths : ndarray, shape (frames, NB_BANDS), float32, in [0, 1] or NO_TARGET
    """
    frames = len(noisy) // FRAME_SIZE
    n = frames * FRAME_SIZE
    state = FeatureState()
    feats = np.zeros((frames, FEATURE_LAYOUT.size), np.float32)
    analysis = compute_block_features(state, np.ascontiguousarray(noisy[:n], np.float32), feats)
    # the clean signal through the same analysis, its comb at the noisy pitch track
    padded = np.concatenate((np.zeros(HISTORY_SIZE - FRAME_SIZE, np.float32), clean[:n].astype(np.float32)))
    histories = np.lib.stride_tricks.sliding_window_view(padded, HISTORY_SIZE)[::FRAME_SIZE]
    blocks = np.zeros((2, frames, WINDOW_SIZE), np.float32)
    blocks[0] = histories[:, -WINDOW_SIZE:]
    pitch_filter(histories, analysis.pitch_period, blocks[1])
    spectra = np.zeros((2, frames, FREQ_SIZE), np.complex64)
    frame_analysis(blocks, state.window, np.zeros_like(blocks), spectra)
    energy = np.zeros((3, frames, NB_BANDS), np.float32)
    band_energy(spectra[0], spectra[1], state.weights, np.zeros((3, frames, FREQ_SIZE), np.float32), energy)
    ey = analysis.band_energy[0]
    defined = ey > BAND_ENERGY_MIN
    g = np.sqrt(np.minimum(energy[0] / np.maximum(ey, 1e-20), 1.0))
    q_x = energy[2] / np.sqrt(energy[0] * energy[1] + 1e-20)
    r = oracle_comb_strengths(q_x, feats[:, FEATURE_LAYOUT.band_pitch_corr])
    gains = np.where(defined, g, NO_TARGET).astype(np.float32)
    strengths = np.where(defined & (energy[0] > BAND_ENERGY_MIN * 0.1), r, NO_TARGET).astype(np.float32)
    return feats, gains, strengths


def dump(
    split: str,
    count: int,
    seed: int,
    out_path: Path,
    max_s: float | None = None,
    *,
    data_dir: Path = DATA_DIR,
    allow_missing: bool = False,
    max_minutes: float | None = None,
    early_s: float = EARLY_REFLECTIONS_S,
) -> None:
    """Write ``count`` mixtures' features and targets to ``out_path`` (.npz, frames concatenated).

    ``max_minutes`` stops early and writes the mixtures made so far (a time-bounded dump);
    ``early_s`` is :func:`make_mixture`'s.
    """
    import time

    from tqdm import tqdm

    pool = split_pools(data_dir, allow_missing=allow_missing)[split]
    print(f"{split}: {len(pool.speech)} utterances, {len(pool.noise)} noise files, {len(pool.rirs)} RIRs", flush=True)
    rng = np.random.default_rng(seed)
    deadline = None if max_minutes is None else time.monotonic() + 60.0 * max_minutes
    feats, gains, strengths, lengths = [], [], [], []
    for _ in tqdm(range(count), desc=f"dump {split}", mininterval=10):
        if deadline is not None and time.monotonic() > deadline:
            break
        mix = make_mixture(rng, pool, max_s=max_s, augment=split == "train", early_s=early_s)
        f, g, r = features_and_targets(mix.noisy, mix.clean)
        feats.append(f)
        gains.append(g)
        strengths.append(r)
        lengths.append(len(f))
    out_path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(
        out_path,
        features=np.concatenate(feats),
        band_gains=np.concatenate(gains),
        comb_strengths=np.concatenate(strengths),
        lengths=np.asarray(lengths),
        layout_version=FEATURE_LAYOUT.layout_version,
    )


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="Dump denoiser features and oracle targets.")
    parser.add_argument("--split", choices=["train", "val"], required=True)
    parser.add_argument("--count", type=int, required=True, help="number of mixtures")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-s", type=float, default=None, help="crop utterances to at most this long")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR, help="manifest.csv, clean/, noise/, rirs/")
    parser.add_argument("--allow-missing", action="store_true", help="skip clean files absent from --data-dir")
    parser.add_argument("--max-minutes", type=float, default=None, help="stop early, keep what is made")
    parser.add_argument(
        "--early-ms", type=float, default=1000 * EARLY_REFLECTIONS_S, help="room response the target keeps, ms"
    )
    args = parser.parse_args()
    dump(
        args.split,
        args.count,
        args.seed,
        args.out,
        args.max_s,
        data_dir=args.data_dir,
        allow_missing=args.allow_missing,
        max_minutes=args.max_minutes,
        early_s=args.early_ms / 1000,
    )
