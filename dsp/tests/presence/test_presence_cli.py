"""``echo-sense probe | calibrate-plan | calibrate | motion`` on files, including bad input."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from echo_sense_dsp.cli import main
from echo_sense_dsp.presence import Calibration, plan_calibration
from echo_sense_dsp.wavio import read_wav, write_wav

FREQ_TOL_HZ = 2.0


def test_probe_without_config_is_a_96k_mono_ultrasonic_tone(tmp_path: Path) -> None:
    assert main(["probe", str(tmp_path / "p.wav"), "--seconds", "0.5"]) == 0
    audio = read_wav(tmp_path / "p.wav")
    assert audio.sample_rate == 96000 and audio.channels == 1 and len(audio.samples) == 48000
    x = audio.samples[:, 0]
    peak_hz = np.argmax(np.abs(np.fft.rfft(x * np.hanning(len(x))))) * 96000 / len(x)
    assert peak_hz >= 32000.0


def test_probe_follows_the_calibration(tmp_path: Path) -> None:
    Calibration(41000.0, -14.0).save(tmp_path / "cal.json")
    assert main(["probe", str(tmp_path / "p.wav"), "--seconds", "1", "--config", str(tmp_path / "cal.json")]) == 0
    x = read_wav(tmp_path / "p.wav").samples[:, 0]
    peak_hz = np.argmax(np.abs(np.fft.rfft(x * np.hanning(len(x))))) * 96000 / len(x)
    assert abs(peak_hz - 41000.0) < FREQ_TOL_HZ
    assert np.max(np.abs(x)) == pytest.approx(10 ** (-14 / 20), rel=1e-3)


def test_calibrate_plan_then_calibrate_writes_a_calibration(tmp_path: Path, rng: np.random.Generator) -> None:
    assert main(["calibrate-plan", str(tmp_path / "sweep.wav")]) == 0
    sweep = read_wav(tmp_path / "sweep.wav").samples[:, 0]
    np.testing.assert_allclose(sweep, plan_calibration(96000).signal, atol=1e-4)
    mics = np.stack([0.3 * np.roll(sweep, 200), 0.25 * np.roll(sweep, 210)], axis=1)
    mics += 3e-5 * rng.standard_normal(mics.shape)
    write_wav(tmp_path / "mics.wav", mics.astype(np.float32), 96000)
    code = main(
        [
            "calibrate",
            str(tmp_path / "mics.wav"),
            "--reference",
            str(tmp_path / "sweep.wav"),
            "--out",
            str(tmp_path / "cal.json"),
        ]
    )
    assert code == 0
    cal = Calibration.load(tmp_path / "cal.json")
    assert 32000.0 <= cal.frequency_hz <= 46000.0 and cal.expected_range_m >= 4.0


def test_motion_writes_one_json_line_per_hop(
    tmp_path: Path,
    rng: np.random.Generator,
    scene: Callable,  # type: ignore[type-arg]
    capsys: pytest.CaptureFixture[str],
) -> None:
    sc = scene(rng, seconds=4.0, range_m=lambda t: np.where(t < 2.0, 4.0, 4.0 - (t - 2.0)))
    write_wav(tmp_path / "mics.wav", sc.mics, 96000)
    write_wav(tmp_path / "played.wav", sc.drive[:, None], 96000)
    args = [
        "motion",
        str(tmp_path / "mics.wav"),
        "--reference",
        str(tmp_path / "played.wav"),
        "--out",
        str(tmp_path / "d.jsonl"),
        "--scorer",
        "energy_threshold",
    ]
    assert main(args) == 0
    err = capsys.readouterr().err  # progress on stderr, ending with a summary line
    assert "\rmotion mics.wav: 100 %" in err and err.endswith("motion mics.wav: 4.0 s of capture -> " + args[-3] + "\n")
    lines = [json.loads(line) for line in (tmp_path / "d.jsonl").read_text().splitlines()]
    assert len(lines) == 200
    assert {"t", "occupied", "score"} <= set(lines[0])
    assert isinstance(lines[0]["occupied"], bool) and isinstance(lines[0]["score"], float)
    assert lines[-1]["occupied"] and not any(line["occupied"] for line in lines if line["t"] < 2.0)
    # the same recording cut short gives the same earlier lines
    write_wav(tmp_path / "mics_cut.wav", sc.mics[: 3 * 96000], 96000)
    write_wav(tmp_path / "played_cut.wav", sc.drive[: 3 * 96000, None], 96000)
    args_cut = [
        "motion",
        str(tmp_path / "mics_cut.wav"),
        "--reference",
        str(tmp_path / "played_cut.wav"),
        "--out",
        str(tmp_path / "cut.jsonl"),
        "--scorer",
        "energy_threshold",
    ]
    assert main(args_cut) == 0
    cut = [json.loads(line) for line in (tmp_path / "cut.jsonl").read_text().splitlines()]
    assert cut == lines[: len(cut)]


def test_malformed_and_wrong_rate_recordings_give_clear_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "broken.wav").write_bytes(b"RIFF\x00\x00not a wav")
    write_wav(tmp_path / "played.wav", np.zeros((9600, 1), np.float32), 96000)
    write_wav(tmp_path / "mics48.wav", np.zeros((4800, 4), np.float32), 48000)
    write_wav(tmp_path / "mics_short.wav", np.zeros((960, 4), np.float32), 96000)
    write_wav(tmp_path / "stereo_ref.wav", np.zeros((9600, 2), np.float32), 96000)
    cases = [
        (["broken.wav", "played.wav"], "not a readable WAV"),
        (["mics48.wav", "played.wav"], "48000 Hz"),
        (["mics_short.wav", "played.wav"], "must be exactly the drive signal"),
        (["played.wav", "stereo_ref.wav"], "must be mono"),
        (["missing.wav", "played.wav"], "no such file"),
    ]
    for (mics, ref), message in cases:
        code = main(
            ["motion", str(tmp_path / mics), "--reference", str(tmp_path / ref), "--out", str(tmp_path / "o.jsonl")]
        )
        err = capsys.readouterr().err
        assert code == 2 and message in err, (mics, err)
    assert (
        main(
            [
                "calibrate",
                str(tmp_path / "mics48.wav"),
                "--reference",
                str(tmp_path / "played.wav"),
                "--out",
                str(tmp_path / "c.json"),
            ]
        )
        == 2
    )
    assert "48000 Hz" in capsys.readouterr().err
    (tmp_path / "bad.json").write_text("{")
    assert main(["probe", str(tmp_path / "p.wav"), "--seconds", "1", "--config", str(tmp_path / "bad.json")]) == 2
    assert "calibration" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["probe", str(tmp_path / "p.wav"), "--seconds", "-1"])
