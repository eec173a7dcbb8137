"""WAV reading and writing: formats, round trips and clear errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.io import wavfile

from echo_sense_dsp.errors import AudioFormatError, SampleRateError
from echo_sense_dsp.wavio import read_wav, write_wav

PCM16_STEP = 1.0 / 32768.0


def test_float_round_trip_is_exact(tmp_path: Path, rng: np.random.Generator) -> None:
    x = rng.uniform(-1, 1, size=(1000, 3)).astype(np.float32)
    write_wav(tmp_path / "a.wav", x, 96000)
    audio = read_wav(tmp_path / "a.wav", sample_rate=96000, channels=3)
    np.testing.assert_array_equal(audio.samples, x)
    assert audio.duration_s == pytest.approx(1000 / 96000)


def test_pcm16_round_trip_within_one_step(tmp_path: Path, rng: np.random.Generator) -> None:
    x = rng.uniform(-0.9, 0.9, size=4800).astype(np.float32)
    write_wav(tmp_path / "a.wav", x, 48000, pcm16=True)
    audio = read_wav(tmp_path / "a.wav")
    assert audio.samples.shape == (4800, 1)
    assert np.max(np.abs(audio.samples[:, 0] - x)) <= PCM16_STEP


def test_int32_and_uint8_are_scaled_to_unit_range(tmp_path: Path) -> None:
    wavfile.write(tmp_path / "i32.wav", 16000, np.array([2**31 - 1, -(2**31)], dtype=np.int32))
    wavfile.write(tmp_path / "u8.wav", 16000, np.array([255, 0, 128], dtype=np.uint8))
    np.testing.assert_allclose(read_wav(tmp_path / "i32.wav").samples[:, 0], [1.0, -1.0], atol=1e-6)
    np.testing.assert_allclose(read_wav(tmp_path / "u8.wav").samples[:, 0], [127 / 128, -1.0, 0.0])


def test_wrong_rate_names_both_rates(tmp_path: Path) -> None:
    write_wav(tmp_path / "a.wav", np.zeros(10, np.float32), 44100)
    with pytest.raises(SampleRateError, match=r"44100 Hz, expected 96000 Hz"):
        read_wav(tmp_path / "a.wav", sample_rate=96000)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "not a readable WAV"),
        (b"RIFF\x00\x00\x00\x00WAVEfmt ", "not a readable WAV"),
        (b"hello world", "not a readable WAV"),
    ],
)
def test_malformed_files_raise_audio_format_error(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "bad.wav"
    path.write_bytes(content)
    with pytest.raises(AudioFormatError, match=message):
        read_wav(path)


def test_truncated_file_is_rejected_or_read_short(tmp_path: Path) -> None:
    write_wav(tmp_path / "a.wav", np.ones(1000, np.float32) * 0.5, 16000)
    data = (tmp_path / "a.wav").read_bytes()
    (tmp_path / "cut.wav").write_bytes(data[: len(data) // 2])
    try:
        audio = read_wav(tmp_path / "cut.wav")
    except AudioFormatError:
        return
    assert 0 < audio.samples.shape[0] < 1000


def test_missing_file_and_nan_samples(tmp_path: Path) -> None:
    with pytest.raises(AudioFormatError, match="no such file"):
        read_wav(tmp_path / "missing.wav")
    with pytest.raises(AudioFormatError, match="NaN"):
        write_wav(tmp_path / "nan.wav", np.array([0.0, np.nan]), 16000)
    assert not (tmp_path / "nan.wav").exists()


def test_failed_write_keeps_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "keep.wav"
    write_wav(target, np.full(100, 0.25, np.float32), 16000)
    with pytest.raises(AudioFormatError):
        write_wav(target, np.zeros((2, 2, 2)), 16000)
    assert read_wav(target).samples.shape == (100, 1)
    assert [p.name for p in tmp_path.iterdir()] == ["keep.wav"]
