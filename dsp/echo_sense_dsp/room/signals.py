"""Source signals: audio files, synthetic speech-like babble, synthetic music, coloured noise.

All functions return float32 mono at the requested rate with unit-ish peak; levels are set by
the caller. Synthetic speech is a source-filter model (glottal pulse train with intonation
through three moving formant resonators, syllable envelope at ~4 Hz, fricative noise bursts);
synthetic music is a 120 bpm loop of kick drum, bass line (40-100 Hz) and chords, the kind of
loud-bass drive that intermodulates with the probe in a small speaker.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from scipy import signal as sps

from ..errors import AudioFormatError
from ..resample import resample

_LOGGER = logging.getLogger(__name__)
F32 = NDArray[np.float32]


def read_audio_file(path: str | Path, sample_rate: int, max_duration_s: float | None = None) -> F32:
    """Read a WAV (always) or FLAC/other media file (needs PyAV or soundfile), mono at ``sample_rate``.

    ``max_duration_s`` trims the file before resampling.

    Raises
    ------
    AudioFormatError
        Missing or unreadable file, or no decoder for its format.
    """
    p = Path(path)
    if not p.is_file():
        raise AudioFormatError(f"{p}: no such file")
    if p.suffix.lower() == ".wav":
        from ..wavio import read_wav

        audio = read_wav(p)
        x, rate = audio.samples.mean(axis=1), audio.sample_rate
    else:
        x, rate = _decode_media(p)
    if max_duration_s is not None:
        x = x[: int(np.ceil(max_duration_s * rate)) + 1]
    if rate != sample_rate:
        x = resample(x.astype(np.float32), rate, sample_rate)
    return np.ascontiguousarray(x, dtype=np.float32)


def _decode_media(p: Path) -> tuple[NDArray[np.floating], int]:
    try:
        import soundfile

        data, rate = soundfile.read(str(p), dtype="float32", always_2d=True)
        return data.mean(axis=1), int(rate)
    except ImportError:
        pass
    except Exception as err:  # soundfile raises its own error type
        raise AudioFormatError(f"{p}: cannot decode: {err}") from err
    try:
        import av
    except ImportError as err:
        raise AudioFormatError(f"{p}: no decoder for {p.suffix} (install PyAV or soundfile, or use WAV)") from err
    try:
        with av.open(str(p)) as container:
            stream = container.streams.audio[0]
            rate = int(stream.rate)
            chunks = []
            for frame in container.decode(stream):
                arr = frame.to_ndarray().astype(np.float32)
                if arr.ndim == 2 and frame.format.is_planar:
                    arr = arr.mean(axis=0)
                elif arr.ndim == 2:
                    arr = arr.reshape(-1, len(frame.layout.channels)).mean(axis=1)
                raw_dtype = np.dtype(frame.to_ndarray().dtype)
                if raw_dtype.kind in "iu":
                    arr = arr / float(2 ** (8 * raw_dtype.itemsize - 1))
                chunks.append(arr.ravel())
    except Exception as err:  # PyAV raises many error types
        raise AudioFormatError(f"{p}: cannot decode: {err}") from err
    if not chunks:
        raise AudioFormatError(f"{p}: no audio")
    return np.concatenate(chunks), rate


def synthetic_speech(duration_s: float, sample_rate: int, rng: np.random.Generator) -> F32:
    """Speech-like babble: voiced syllables with intonation and formants, pauses, fricatives."""
    n = round(duration_s * sample_rate)
    t = np.arange(n) / sample_rate
    f0_base = rng.uniform(95.0, 220.0)
    f0 = f0_base * (1 + 0.12 * np.sin(2 * np.pi * 0.4 * t + rng.uniform(0, 6)) + 0.05 * np.sin(2 * np.pi * 3.1 * t))
    phase = np.cumsum(f0 / sample_rate)
    pulses = np.diff(np.floor(phase), prepend=0.0)  # one impulse per glottal period
    glottal = sps.lfilter([1.0], [1.0, -0.95], pulses)  # spectral tilt
    syl_rate = rng.uniform(3.5, 5.0)
    n_syl = int(duration_s * syl_rate) + 2
    f1 = rng.uniform(300, 800, n_syl)
    f2 = rng.uniform(900, 2300, n_syl)
    f3 = rng.uniform(2400, 3200, n_syl)
    idx = np.minimum((t * syl_rate).astype(int), n_syl - 1)
    voiced = np.zeros(n)
    block = max(int(sample_rate * 0.01), 1)
    for start in range(0, n, block):  # formants move every 10 ms
        sl = slice(start, min(start + block, n))
        k = idx[start]
        seg = glottal[sl]
        out = seg.copy() * 0.0
        for fr, bw in ((f1[k], 80.0), (f2[k], 120.0), (f3[k], 200.0)):
            r = np.exp(-np.pi * bw / sample_rate)
            b, a = [1 - r], [1.0, -2 * r * np.cos(2 * np.pi * fr / sample_rate), r * r]
            out += sps.lfilter(b, a, seg)
        voiced[sl] = out
    env = np.clip(np.sin(np.pi * (t * syl_rate % 1.0)) ** 0.7, 0, 1)
    pause = (rng.random(n_syl) < 0.15)[idx]
    fric = (rng.random(n_syl) < 0.25)[idx]
    noise = sps.lfilter(*sps.butter(2, 3000 / (sample_rate / 2), "high"), rng.standard_normal(n))
    x = voiced * env * ~pause + 0.05 * noise * env * fric
    return _normalise(x)


def synthetic_music(duration_s: float, sample_rate: int, rng: np.random.Generator, bass_boost_db: float = 6.0) -> F32:
    """A loud-bass pop loop: kick on the beat, bass line 40-100 Hz, triad chords, hi-hat."""
    n = round(duration_s * sample_rate)
    t = np.arange(n) / sample_rate
    beat = 0.5  # 120 bpm
    tb = t % beat
    kick = np.sin(2 * np.pi * (50 * tb + 60 * (1 - np.exp(-tb / 0.03)) * 0.03)) * np.exp(-tb / 0.15)
    roots = rng.choice([41.2, 43.65, 49.0, 55.0, 61.7, 65.4, 73.4], size=8)
    bar = (t / (4 * beat)).astype(int) % 8
    f_bass = roots[bar]
    bass = np.sin(2 * np.pi * np.cumsum(f_bass) / sample_rate) * (0.6 + 0.4 * np.exp(-(t % beat) / 0.2))
    chord = np.zeros(n)
    for mult in (4.0, 5.04, 5.99):
        chord += 0.15 * np.sign(np.sin(2 * np.pi * np.cumsum(f_bass * mult) / sample_rate))
    chord = sps.lfilter(*sps.butter(2, 2500 / (sample_rate / 2)), chord)
    th = t % (beat / 2)
    hat = rng.standard_normal(n) * np.exp(-th / 0.01) * 0.1
    hat = sps.lfilter(*sps.butter(2, 7000 / (sample_rate / 2), "high"), hat)
    g = 10 ** (bass_boost_db / 20)
    return _normalise(g * (0.8 * kick + 0.7 * bass) + chord + hat)


def coloured_noise(duration_s: float, sample_rate: int, rng: np.random.Generator, colour: str) -> F32:
    """White, pink (-3 dB/octave) or brown (-6 dB/octave) Gaussian noise, unit RMS."""
    n = round(duration_s * sample_rate)
    w = rng.standard_normal(n)
    if colour == "pink":
        # Kellet's economy pink filter (3 poles), good to ~1 dB over the audio band
        w = sps.lfilter(
            [0.049922035, -0.095993537, 0.050612699, -0.004408786], [1, -2.494956002, 2.017265875, -0.522189400], w
        )
    elif colour == "brown":
        w = sps.lfilter([1.0], [1.0, -0.995], w)
    rms = float(np.sqrt(np.mean(w**2))) or 1.0
    return (w / rms).astype(np.float32)


def _normalise(x: NDArray[np.floating]) -> F32:
    peak = float(np.max(np.abs(x))) if x.size else 0.0
    return (x / peak if peak > 0 else x).astype(np.float32)


__all__ = ["coloured_noise", "read_audio_file", "synthetic_music", "synthetic_speech"]
