"""StreamingResampler: chunking does not change the output, passbands pass, aliases are suppressed."""

from __future__ import annotations

import numpy as np
import pytest

from echo_sense_dsp.errors import AudioFormatError, SampleRateError
from echo_sense_dsp.resample import StreamingResampler

CHUNK_TOL = 1e-5  # full scale: float32 rounding between chunkings
PASSBAND_TOL = 1e-3  # full scale: sine amplitude error in the passband after the group delay
ALIAS_MAX_DB = -70.0  # dB re the input tone: what folds back from above the new Nyquist frequency

RATE_PAIRS = [(96_000, 16_000), (48_000, 96_000), (48_000, 16_000), (44_100, 48_000)]


@pytest.mark.parametrize(("from_rate", "to_rate"), RATE_PAIRS)
def test_chunked_output_equals_one_shot_output(rng: np.random.Generator, from_rate: int, to_rate: int) -> None:
    x = (0.1 * rng.standard_normal((from_rate // 4, 2))).astype(np.float32)
    one_shot = StreamingResampler(from_rate, to_rate, 2).process(x)
    chunked_resampler = StreamingResampler(from_rate, to_rate, 2)
    parts, start = [], 0
    while start < x.shape[0]:
        n = int(rng.integers(1, 1500))  # includes blocks shorter than the filter history
        parts.append(chunked_resampler.process(x[start : start + n]))
        start += n
    chunked = np.concatenate(parts)
    assert chunked.shape == one_shot.shape
    assert one_shot.shape[0] == pytest.approx(x.shape[0] * to_rate / from_rate, abs=1)
    np.testing.assert_allclose(chunked, one_shot, atol=CHUNK_TOL)


@pytest.mark.parametrize(("from_rate", "to_rate"), RATE_PAIRS)
def test_passband_sine_comes_out_unchanged_after_the_group_delay(from_rate: int, to_rate: int) -> None:
    tone_hz = 1000.0
    t = np.arange(from_rate) / from_rate
    x = np.sin(2 * np.pi * tone_hz * t)[:, np.newaxis].astype(np.float32)
    r = StreamingResampler(from_rate, to_rate, 1)
    y = r.process(x)[:, 0]
    t_out = np.arange(y.size) / to_rate - r.delay_s
    expected = np.sin(2 * np.pi * tone_hz * t_out)
    settled = slice(int(2 * r.delay_s * to_rate) + 10, -10)
    assert np.max(np.abs(y[settled] - expected[settled])) < PASSBAND_TOL


def test_tone_above_16k_nyquist_is_suppressed_when_decimating_96k_to_16k() -> None:
    # 12 kHz at 96 kHz would alias to 4 kHz at 16 kHz without the anti-aliasing filter.
    from_rate, to_rate, tone_hz = 96_000, 16_000, 12_000.0
    x = np.sin(2 * np.pi * tone_hz * np.arange(from_rate) / from_rate)[:, np.newaxis].astype(np.float32)
    r = StreamingResampler(from_rate, to_rate, 1)
    y = np.concatenate([r.process(x[i : i + 960]) for i in range(0, from_rate, 960)])[:, 0]
    settled = y[int(2 * r.delay_s * to_rate) :]
    alias_db = 20 * np.log10(np.sqrt(np.mean(settled**2)) / np.sqrt(0.5))
    assert alias_db < ALIAS_MAX_DB


def test_upsampling_48k_to_96k_leaves_no_image_above_24k() -> None:
    from_rate, to_rate, tone_hz = 48_000, 96_000, 5_000.0
    x = np.sin(2 * np.pi * tone_hz * np.arange(from_rate) / from_rate)[:, np.newaxis].astype(np.float32)
    y = StreamingResampler(from_rate, to_rate, 1).process(x)[to_rate // 10 :, 0]
    spectrum = np.abs(np.fft.rfft(y * np.hanning(y.size)))
    freqs = np.fft.rfftfreq(y.size, 1 / to_rate)
    image_db = 20 * np.log10(spectrum[freqs > 24_000].max() / spectrum.max())
    assert image_db < ALIAS_MAX_DB  # the image would sit at 48 - 5 = 43 kHz


def test_engine_block_of_960_at_96k_gives_exactly_160_frames_at_16k() -> None:
    r = StreamingResampler(96_000, 16_000, 1)
    out = np.zeros((r.max_output_frames(960), 1), np.float32)
    counts = {r.process_into(np.zeros((960, 1), np.float32), out) for _ in range(20)}
    assert counts == {160}


def test_bad_rates_and_shapes_are_rejected_with_the_value_named() -> None:
    with pytest.raises(SampleRateError, match="-16000"):
        StreamingResampler(96_000, -16_000, 1)
    with pytest.raises(AudioFormatError, match=r"\(frames, 2\)"):
        StreamingResampler(96_000, 16_000, 2).process(np.zeros((10, 3), np.float32))
