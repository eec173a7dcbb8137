"""``echo-sense engine``: the engine over WAV files through the CLI."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from echo_sense_dsp.cli import main
from echo_sense_dsp.wavio import read_wav, write_wav

RATE_HZ = 96_000
MICS = 4
SECONDS = 0.5
TONE_HZ = 1000.0
CAPTURE_TOL = 2e-3  # full scale: a 1 kHz tone through the 96 -> 16 kHz resampler, after its delay


def test_engine_command_records_the_drive_and_the_16k_voice_capture(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    frames = int(SECONDS * RATE_HZ)
    t = np.arange(frames) / RATE_HZ
    mics = np.zeros((frames, MICS), np.float32)
    mics[:, 0] = 0.5 * np.sin(2 * np.pi * TONE_HZ * t)
    write_wav(tmp_path / "mics.wav", mics, RATE_HZ)
    media = (0.3 * np.sin(2 * np.pi * 440 * np.arange(int(SECONDS * 44_100)) / 44_100)).astype(np.float32)
    write_wav(tmp_path / "media.wav", media[:, np.newaxis], 44_100)  # any rate: resampled on the way in

    code = main(
        [
            "engine",
            str(tmp_path / "mics.wav"),
            str(tmp_path / "out.wav"),
            "--media",
            str(tmp_path / "media.wav"),
            "--probe-hz",
            "40000",
            "--capture",
            str(tmp_path / "voice.wav"),
            "--capture-rate",
            "16000",
            "--capture-channels",
            "0",
        ]
    )
    assert code == 0
    assert '"blocks_processed": 50' in capsys.readouterr().out

    out = read_wav(tmp_path / "out.wav")
    assert out.samples.shape == (frames, 2)
    spectrum = np.abs(np.fft.rfft(out.samples[frames // 2 :, 0]))
    freqs = np.fft.rfftfreq(frames - frames // 2, 1 / RATE_HZ)
    assert {round(float(f)) for f in freqs[np.argsort(spectrum)[-2:]]} == {440, 40_000}  # media and probe

    voice = read_wav(tmp_path / "voice.wav")
    assert voice.sample_rate == 16_000
    assert voice.samples.shape == (frames // 6, 1)
    settled = voice.samples[1000:, 0]
    assert np.sqrt(np.mean(settled**2)) == pytest.approx(0.5 / np.sqrt(2), abs=CAPTURE_TOL)


def test_engine_command_rejects_a_probe_above_nyquist(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_wav(tmp_path / "mics.wav", np.zeros((9600, MICS), np.float32), RATE_HZ)
    code = main(["engine", str(tmp_path / "mics.wav"), str(tmp_path / "out.wav"), "--probe-hz", "60000"])
    assert code == 2
    assert "--probe-hz 60000" in capsys.readouterr().err
