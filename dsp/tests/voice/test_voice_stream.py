"""PCM chunk streaming around the denoiser: sample-exact length, chunking-independent."""

from __future__ import annotations

import numpy as np
import pytest

from echo_sense_dsp.errors import AudioFormatError
from echo_sense_dsp.voice import Denoiser
from echo_sense_dsp.voice.stream import PcmStreamDenoiser

SAMPLE_RATE = 16000
PCM_TOL = 1  # one 16-bit step


def _pcm(x: np.ndarray) -> bytes:
    return np.clip(np.round(x * 32768), -32768, 32767).astype("<i2").tobytes()


def _noisy_tone(rng: np.random.Generator, seconds: float) -> np.ndarray:
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    voiced = 0.2 * sum(np.sin(2 * np.pi * 150 * k * t) / k for k in range(1, 8)) * (np.sin(2 * np.pi * 3 * t) > 0)
    return (voiced + 0.05 * rng.standard_normal(len(t))).astype(np.float32)


@pytest.fixture(scope="module")
def denoiser() -> Denoiser:
    return Denoiser()


def test_output_has_exactly_the_input_length_whatever_the_chunking(
    rng: np.random.Generator, denoiser: Denoiser
) -> None:
    pcm = _pcm(_noisy_tone(rng, 1.0))
    outputs = []
    for chunk_bytes in (320, 1000, 4097, len(pcm)):
        stream = PcmStreamDenoiser(denoiser=denoiser)
        out = b"".join(stream.process(pcm[i : i + chunk_bytes]) for i in range(0, len(pcm), chunk_bytes))
        out += stream.flush()
        assert len(out) == len(pcm)
        outputs.append(np.frombuffer(out, "<i2").astype(np.int32))
    for other in outputs[1:]:
        assert np.max(np.abs(other - outputs[0])) <= PCM_TOL


def test_noise_only_input_comes_out_quieter(rng: np.random.Generator, denoiser: Denoiser) -> None:
    noise = (0.05 * rng.standard_normal(SAMPLE_RATE * 2)).astype(np.float32)
    stream = PcmStreamDenoiser(denoiser=denoiser)
    out = np.frombuffer(stream.process(_pcm(noise)) + stream.flush(), "<i2").astype(np.float64) / 32768
    level_in = 10 * np.log10(np.mean(noise[SAMPLE_RATE:] ** 2))
    level_out = 10 * np.log10(np.mean(out[SAMPLE_RATE:] ** 2) + 1e-12)
    assert level_out < level_in - 10.0


def test_a_stream_ending_mid_sample_is_an_error(denoiser: Denoiser) -> None:
    stream = PcmStreamDenoiser(denoiser=denoiser)
    stream.process(b"\x01\x02\x03")
    with pytest.raises(AudioFormatError, match="middle of a 16-bit sample"):
        stream.flush()
