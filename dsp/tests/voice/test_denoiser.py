"""The PercepNet-style denoiser: DSP pieces against closed forms, the shipped model against its golden pair."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tracemalloc
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from echo_sense_dsp import cli
from echo_sense_dsp.errors import AudioFormatError, ModelError
from echo_sense_dsp.voice import (
    DELAY_SAMPLES,
    DENOISERS,
    FEATURE_LAYOUT,
    FRAME_SIZE,
    NB_BANDS,
    SAMPLE_RATE,
    Denoiser,
    DenoiserSettings,
    FeatureState,
    band_weights,
    compute_frame_features,
    default_model_path,
    pitch_filter,
)
from echo_sense_dsp.voice.denoiser import ALGORITHMIC_LATENCY_MS
from echo_sense_dsp.voice.features import HISTORY_SIZE, WINDOW_SIZE, vorbis_window
from echo_sense_dsp.wavio import read_wav, write_wav

GOLDEN = Path(__file__).resolve().parents[1] / "data" / "denoiser-io.npz"
WINDOW_TOL = 1e-6  # power complementarity, linear
RECONSTRUCTION_TOL = 1e-5  # full scale: pass-through gains reproduce the input
STREAM_TOL = 1e-6  # full scale: streaming vs whole-signal processing
GOLDEN_ATOL = 2e-5  # gain units: onnxruntime on the shipped asset vs PyTorch at export
PITCH_TOL_SAMPLES = 1
COMB_NOISE_TOL_DB = 0.3
NOISE_ATTENUATION_MIN_DB = 15.0  # white noise alone, the shipped model
ALLOCATION_GROWTH_MAX_BYTES = 4096  # tracemalloc peak growth over 1000 warm frames


def harmonic_tone(f0_hz: float, seconds: float, harmonics: int = 8, amplitude: float = 0.1) -> np.ndarray:
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    x = sum(np.sin(2 * np.pi * f0_hz * k * t) / k for k in range(1, harmonics + 1))
    return (amplitude * np.asarray(x)).astype(np.float32)


class PassThrough(Denoiser):
    """Unit gains and no comb: the analysis/synthesis chain alone."""

    def compute_network(self) -> None:
        self._gains.fill(1.0)
        self._comb_strengths.fill(0.0)


def test_vorbis_window_is_power_complementary_at_50_percent_overlap() -> None:
    w = vorbis_window().astype(np.float64)
    half = WINDOW_SIZE // 2
    np.testing.assert_allclose(w[:half] ** 2 + w[half:] ** 2, 1.0, atol=WINDOW_TOL)


def test_erb_bands_cover_every_bin_exactly_once_with_triangles() -> None:
    weights = band_weights()
    assert weights.shape == (NB_BANDS, WINDOW_SIZE // 2 + 1)
    np.testing.assert_allclose(weights.sum(axis=0), 1.0, atol=1e-6)
    # 50 % overlap: every bin belongs to at most two adjacent bands
    assert np.all((weights > 0).sum(axis=0) <= 2)
    assert np.all(weights >= 0) and np.all(weights <= 1)


def test_pitch_tracker_finds_the_period_of_a_160_hz_harmonic_tone() -> None:
    state = FeatureState()
    features = np.zeros(FEATURE_LAYOUT.size, np.float32)
    x = harmonic_tone(160.0, 1.0)
    for t in range(len(x) // FRAME_SIZE):
        compute_frame_features(state, x[t * FRAME_SIZE : (t + 1) * FRAME_SIZE], features)
    assert abs(state.pitch_period - SAMPLE_RATE / 160.0) <= PITCH_TOL_SAMPLES
    assert features[FEATURE_LAYOUT.pitch_corr][0] > 0.95
    # a periodic signal is coherent with its comb-filtered copy in the bands its harmonics fill
    assert np.median(features[FEATURE_LAYOUT.band_pitch_corr][:16]) > 0.9


def test_comb_filter_keeps_a_periodic_signal_and_takes_4_8_db_off_white_noise(rng: np.random.Generator) -> None:
    period = 100
    tone = np.tile(rng.standard_normal(period), HISTORY_SIZE // period + 1)[-HISTORY_SIZE:].astype(np.float32)
    out = np.zeros(WINDOW_SIZE, np.float32)
    pitch_filter(tone, period, out)
    np.testing.assert_allclose(out, tone[-WINDOW_SIZE:], atol=1e-5)
    noise = rng.standard_normal(HISTORY_SIZE).astype(np.float32)
    pitch_filter(noise, period, out)
    gain_db = 10 * np.log10(np.mean(out**2) / np.mean(noise[-WINDOW_SIZE:] ** 2))
    assert abs(gain_db - 10 * np.log10(1 / 3)) < COMB_NOISE_TOL_DB + 1.0  # 320 samples: sampling spread


def test_unit_gains_reconstruct_the_input_delayed_by_320_samples(rng: np.random.Generator) -> None:
    x = (0.1 * rng.standard_normal(SAMPLE_RATE // 2)).astype(np.float32)
    d = PassThrough(DenoiserSettings(postfilter=False))
    out = np.zeros_like(x)
    for t in range(len(x) // FRAME_SIZE):
        frame = slice(t * FRAME_SIZE, (t + 1) * FRAME_SIZE)
        d.process_frame(x[frame], out[frame])
    np.testing.assert_allclose(out[DELAY_SAMPLES:], x[: len(x) - DELAY_SAMPLES], atol=RECONSTRUCTION_TOL)
    assert DELAY_SAMPLES == 320 and ALGORITHMIC_LATENCY_MS == 30.0


def test_streaming_equals_whole_signal_processing(rng: np.random.Generator) -> None:
    x = (harmonic_tone(120.0, 1.0) + 0.02 * rng.standard_normal(SAMPLE_RATE)).astype(np.float32)
    d = Denoiser()
    whole = d.process(x)
    stream = Denoiser()
    padded = np.concatenate([x, np.zeros(DELAY_SAMPLES + FRAME_SIZE, np.float32)])
    out = np.zeros_like(padded)
    for t in range(len(padded) // FRAME_SIZE):
        frame = slice(t * FRAME_SIZE, (t + 1) * FRAME_SIZE)
        stream.process_frame(padded[frame], out[frame])
    np.testing.assert_allclose(whole, out[DELAY_SAMPLES : DELAY_SAMPLES + len(x)], atol=STREAM_TOL)


@pytest.mark.parametrize(
    "settings",
    [
        DenoiserSettings(),
        DenoiserSettings(comb_strength_scale=1.0, gain_exponent=1.5, postfilter_where_noisy=True),
        DenoiserSettings(gain_release=0.0),
        DenoiserSettings(gain_release=0.95),
    ],
    ids=["default", "comb-exponent-adaptive-postfilter", "no-release", "slow-release"],
)
def test_blocks_of_any_frame_count_equal_frame_by_frame_processing(
    rng: np.random.Generator, settings: DenoiserSettings
) -> None:
    x = (harmonic_tone(180.0, 2.0) + 0.02 * rng.standard_normal(2 * SAMPLE_RATE)).astype(np.float32)
    x[4000:9000] = 0.0  # silent frames skip the network inside a block too
    frames = len(x) // FRAME_SIZE
    by_frame = Denoiser(settings)
    expected = np.zeros(frames * FRAME_SIZE, np.float32)
    for t in range(frames):
        frame = slice(t * FRAME_SIZE, (t + 1) * FRAME_SIZE)
        by_frame.process_frame(x[frame], expected[frame])
    by_block = Denoiser(settings)
    out = np.zeros_like(expected)
    start = 0
    for size in (1, 2, 7, 33, 0, 3, 50, 160, 1000):
        block = slice(start * FRAME_SIZE, min(start + size, frames) * FRAME_SIZE)
        by_block.process_block(x[block], out[block])
        start = min(start + size, frames)
    assert start == frames
    np.testing.assert_allclose(out, expected, atol=STREAM_TOL)
    assert by_block.frames_skipped == by_frame.frames_skipped > 0


def test_shipped_onnx_model_reproduces_the_golden_pair() -> None:
    golden = np.load(GOLDEN)
    sidecar = json.loads(default_model_path().with_suffix(".json").read_text())
    session = ort.InferenceSession(str(default_model_path()), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["features", "gru_state_in"]
    assert [o.name for o in session.get_outputs()] == ["band_gains", "comb_strengths", "gru_state_out"]
    window = np.zeros((1, 3, FEATURE_LAYOUT.size), np.float32)
    state = np.zeros(sidecar["gru_state_shape"], np.float32)
    gains, strengths = [], []
    for f in golden["features"]:
        window[0, :-1] = window[0, 1:]
        window[0, -1] = f
        g, r, state = session.run(None, {"features": window, "gru_state_in": state})
        gains.append(g[0])
        strengths.append(r[0])
    np.testing.assert_allclose(np.asarray(gains), golden["band_gains"], atol=GOLDEN_ATOL)
    np.testing.assert_allclose(np.asarray(strengths), golden["comb_strengths"], atol=GOLDEN_ATOL)


def test_sidecar_mismatch_raises_model_error_naming_both_values(tmp_path: Path) -> None:
    model = tmp_path / "denoiser.onnx"
    shutil.copyfile(default_model_path(), model)
    sidecar = json.loads(default_model_path().with_suffix(".json").read_text())
    sidecar["layout_version"] = 999
    model.with_suffix(".json").write_text(json.dumps(sidecar))
    with pytest.raises(ModelError, match=r"layout_version is 999, runtime needs 1"):
        Denoiser(model_path=model)
    sidecar["layout_version"] = FEATURE_LAYOUT.layout_version
    sidecar["sha256"] = "0" * 64
    model.with_suffix(".json").write_text(json.dumps(sidecar))
    with pytest.raises(ModelError, match=r"sha256 is '0{64}', runtime needs '[0-9a-f]{64}'"):
        Denoiser(model_path=model)
    with pytest.raises(ModelError, match="not found"):
        Denoiser(model_path=tmp_path / "missing.onnx")


def test_silence_in_gives_silence_out_and_skips_the_network() -> None:
    d = Denoiser()
    out = d.process(np.zeros(SAMPLE_RATE, np.float32))
    assert np.all(out == 0.0)
    assert d.frames_skipped == (SAMPLE_RATE + DELAY_SAMPLES) // FRAME_SIZE + 1


def test_clipped_square_wave_with_dc_gives_finite_bounded_output() -> None:
    t = np.arange(SAMPLE_RATE) / SAMPLE_RATE
    x = np.clip(0.5 + 2.0 * np.sign(np.sin(2 * np.pi * 200 * t)), -1.0, 1.0).astype(np.float32)
    x[1000:1100] = np.nan  # broken samples are zeroed, not propagated
    y = Denoiser().process(x)
    assert np.all(np.isfinite(y))
    assert np.max(np.abs(y)) < 2.0
    assert np.sqrt(np.mean(y**2)) <= 1.1 * np.sqrt(np.mean(np.nan_to_num(x) ** 2))


def test_white_noise_alone_is_attenuated_by_the_shipped_model(rng: np.random.Generator) -> None:
    x = (0.03 * rng.standard_normal(2 * SAMPLE_RATE)).astype(np.float32)
    y = Denoiser().process(x)
    tail = slice(SAMPLE_RATE // 2, None)  # after the GRU has settled
    attenuation_db = 10 * np.log10(np.mean(x[tail] ** 2) / (np.mean(y[tail] ** 2) + 1e-20))
    assert attenuation_db >= NOISE_ATTENUATION_MIN_DB


def test_atten_lim_db_bounds_the_attenuation(rng: np.random.Generator) -> None:
    x = (0.03 * rng.standard_normal(2 * SAMPLE_RATE)).astype(np.float32)
    y = Denoiser(DenoiserSettings(atten_lim_db=6.0, postfilter=False)).process(x)
    tail = slice(SAMPLE_RATE // 2, None)
    attenuation_db = 10 * np.log10(np.mean(x[tail] ** 2) / np.mean(y[tail] ** 2))
    assert attenuation_db <= 6.0 + 1.0  # band overlap lets the total exceed the limit by a little


def test_other_sample_rates_are_resampled_in_and_out(rng: np.random.Generator) -> None:
    x = (0.05 * rng.standard_normal(48000)).astype(np.float32)[:, None]
    y = Denoiser().process(x, 48000)
    assert y.shape == x.shape and y.dtype == np.float32
    assert np.all(np.isfinite(y))


def test_stereo_input_is_refused_with_a_clear_error() -> None:
    with pytest.raises(AudioFormatError, match="mono audio, got 2 channels"):
        Denoiser().process(np.zeros((1600, 2), np.float32))


def test_process_frame_refuses_a_wrong_frame_size() -> None:
    with pytest.raises(AudioFormatError, match="160 mono samples"):
        Denoiser().process_frame(np.zeros(480, np.float32), np.zeros(480, np.float32))


def test_settings_refuse_out_of_range_values() -> None:
    with pytest.raises(ValueError, match="atten_lim_db"):
        DenoiserSettings(atten_lim_db=-3.0)
    with pytest.raises(ValueError, match="gain_exponent"):
        DenoiserSettings(gain_exponent=0.0)
    with pytest.raises(ValueError, match="gain_release"):
        DenoiserSettings(gain_release=1.0)


class RecordingDenoiser(Denoiser):
    """Keeps each hop's final band gains (what ``pitch_mix`` applies)."""

    def __init__(self, settings: DenoiserSettings) -> None:
        super().__init__(settings)
        self.final_gains: list[np.ndarray] = []

    def process_frame(self, in_frame: np.ndarray, out_frame: np.ndarray) -> None:
        super().process_frame(in_frame, out_frame)
        self.final_gains.append(self._gains.copy())


@pytest.mark.parametrize("release", [0.5, 0.9])
def test_gain_release_bounds_how_fast_a_band_closes(rng: np.random.Generator, release: float) -> None:
    # a tone burst into noise: the network closes its bands when the tone stops
    x = (0.02 * rng.standard_normal(SAMPLE_RATE)).astype(np.float32)
    x[: SAMPLE_RATE // 2] += harmonic_tone(150.0, 0.5)
    free = RecordingDenoiser(DenoiserSettings(gain_release=0.0))
    held = RecordingDenoiser(DenoiserSettings(gain_release=release))
    out = np.zeros(FRAME_SIZE, np.float32)
    for t in range(len(x) // FRAME_SIZE):
        free.process_frame(x[t * FRAME_SIZE : (t + 1) * FRAME_SIZE], out)
        held.process_frame(x[t * FRAME_SIZE : (t + 1) * FRAME_SIZE], out)
    g_free, g_held = np.asarray(free.final_gains), np.asarray(held.final_gains)
    assert np.all(g_held[1:] >= release * g_held[:-1] - 1e-6)
    assert np.all(g_held >= g_free - 1e-6)
    assert np.any(g_free[1:] < 0.5 * release * g_free[:-1])  # without it, some band does close faster


def test_process_frame_allocates_nothing_that_grows(rng: np.random.Generator) -> None:
    d = DENOISERS["percepnet"]()
    x = (0.05 * rng.standard_normal(FRAME_SIZE * 1100)).astype(np.float32)
    out = np.zeros(FRAME_SIZE, np.float32)
    for t in range(100):
        d.process_frame(x[t * FRAME_SIZE : (t + 1) * FRAME_SIZE], out)
    tracemalloc.start()
    try:
        for t in range(100, 200):
            d.process_frame(x[t * FRAME_SIZE : (t + 1) * FRAME_SIZE], out)
        _, warm_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        for t in range(200, 1100):
            d.process_frame(x[t * FRAME_SIZE : (t + 1) * FRAME_SIZE], out)
        current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak - warm_peak <= ALLOCATION_GROWTH_MAX_BYTES
    assert current <= ALLOCATION_GROWTH_MAX_BYTES


def test_cli_denoise_writes_the_input_rate_and_refuses_stereo(tmp_path: Path, rng: np.random.Generator) -> None:
    src = tmp_path / "in.wav"
    write_wav(src, (0.05 * rng.standard_normal(22050)).astype(np.float32), 22050)
    assert cli.main(["denoise", str(src), str(tmp_path / "out.wav")]) == 0
    out = read_wav(tmp_path / "out.wav")
    assert out.sample_rate == 22050 and out.samples.shape == (22050, 1)
    stereo = tmp_path / "stereo.wav"
    write_wav(stereo, np.zeros((1600, 2), np.float32), 16000)
    assert cli.main(["denoise", str(stereo), str(tmp_path / "x.wav")]) == 2
    assert cli.main(["denoise", "--downmix", str(stereo), str(tmp_path / "x.wav")]) == 0


def test_voice_imports_neither_torch_nor_homeassistant() -> None:
    code = (
        "import sys; import echo_sense_dsp.voice, echo_sense_dsp.voice.commands; echo_sense_dsp.voice.Denoiser(); "
        "assert 'torch' not in sys.modules and 'homeassistant' not in sys.modules, 'forbidden import'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
