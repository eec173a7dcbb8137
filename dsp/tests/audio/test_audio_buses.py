"""Output stages: ducking ramps, the soft limiter, the bus FIFO and the SPSC ring."""

from __future__ import annotations

import gc
import tracemalloc

import numpy as np
import pytest

from echo_sense_dsp.audio import BlockRing, Ducker, SoftLimiter, StreamBus
from echo_sense_dsp.errors import AudioFormatError

RATE_HZ = 96_000
FRAMES = 960
DUCK_DB = -20.0
ATTACK_S = 0.15
RELEASE_S = 0.3
MAX_STEP_DB = 0.01  # dB per sample: 20 dB over 150 ms at 96 kHz is 0.0014 dB/sample
GAIN_TOL_DB = 1e-3
CEILING_DB = -1.0
KNEE_DB = -6.0
ALLOC_GROWTH_MAX_BYTES = 1024  # after warm-up: only the counters (Python ints) may be replaced; one block is 7680 B


def _gains_db(ducker: Ducker, pattern: list[bool]) -> np.ndarray:
    return np.concatenate([20 * np.log10(ducker.update(a)[:, 0].astype(np.float64)) for a in pattern])


def test_ducking_ramps_to_minus_20_db_and_back_without_steps() -> None:
    ducker = Ducker(RATE_HZ, FRAMES, duck_db=DUCK_DB, attack_s=ATTACK_S, release_s=RELEASE_S, hold_s=0.1)
    blocks_per_s = RATE_HZ // FRAMES
    gains = _gains_db(ducker, [False] * 5 + [True] * blocks_per_s + [False] * blocks_per_s)
    assert np.max(np.abs(np.diff(gains))) < MAX_STEP_DB
    assert gains[: 5 * FRAMES] == pytest.approx(0.0, abs=GAIN_TOL_DB)
    attack_end = 5 * FRAMES + int(ATTACK_S * RATE_HZ) + FRAMES
    assert gains[attack_end : (5 + blocks_per_s) * FRAMES] == pytest.approx(DUCK_DB, abs=GAIN_TOL_DB)
    assert gains[-1] == pytest.approx(0.0, abs=GAIN_TOL_DB)  # restored after hold + release
    # The attack is a straight line in dB: duck_db over attack_s.
    first = gains[5 * FRAMES : 5 * FRAMES + 100]
    assert np.diff(first) == pytest.approx(DUCK_DB / (ATTACK_S * RATE_HZ), rel=1e-3)


def test_ducking_holds_through_a_short_gap_between_sentences() -> None:
    ducker = Ducker(RATE_HZ, FRAMES, duck_db=DUCK_DB, hold_s=0.25)
    gains = _gains_db(ducker, [True] * 30 + [False] * 10 + [True] * 5)  # 100 ms gap < 250 ms hold
    assert gains[30 * FRAMES :] == pytest.approx(DUCK_DB, abs=GAIN_TOL_DB)


def test_limiter_never_exceeds_its_ceiling(rng: np.random.Generator) -> None:
    limiter = SoftLimiter(FRAMES, 2, ceiling_db=CEILING_DB, knee_db=KNEE_DB)
    ceiling = 10 ** (CEILING_DB / 20)
    for scale in (0.5, 1.0, 4.0, 100.0, 1e6):
        x = (scale * rng.standard_normal((FRAMES, 2))).astype(np.float32)
        limiter.process(x)
        assert np.max(np.abs(x)) <= ceiling


def test_limiter_is_transparent_below_the_knee_and_monotonic_above(rng: np.random.Generator) -> None:
    limiter = SoftLimiter(FRAMES, 1, ceiling_db=CEILING_DB, knee_db=KNEE_DB)
    quiet = (0.4 * np.clip(rng.standard_normal((FRAMES, 1)), -1, 1)).astype(np.float32)  # below knee 0.501
    before = quiet.copy()
    limiter.process(quiet)
    np.testing.assert_array_equal(quiet, before)
    ramp = np.linspace(-3, 3, FRAMES, dtype=np.float32)[:, np.newaxis]
    limiter.process(ramp)
    assert np.all(np.diff(ramp[:, 0]) >= 0)


def test_bus_maps_stereo_and_mono_and_rejects_other_layouts() -> None:
    bus = StreamBus("media", 2, capacity_s=0.1)
    bus.write(np.ones((480, 1), np.float32))
    out = np.zeros((480, 2), np.float32)
    assert bus.read_into(out) == 480
    assert np.all(out == 1.0)
    with pytest.raises(AudioFormatError, match="3 channels"):
        bus.write(np.ones((10, 3), np.float32))


def test_bus_write_returns_short_count_when_full_and_timeout_expires() -> None:
    bus = StreamBus("media", 2, capacity_s=0.01)  # 480 frames at 48 kHz
    assert bus.write(np.ones((1000, 2), np.float32), timeout=0.01) == 480


def test_bus_resamples_other_rates_on_write() -> None:
    bus = StreamBus("announcement", 1, capacity_s=1.0)
    assert bus.write(np.zeros((16_000, 1), np.float32), sample_rate=16_000) == 48_000


def test_ring_rejects_writes_when_full_and_reads_when_empty() -> None:
    ring = BlockRing(3, 4, 2)  # rounded to 4 blocks
    assert ring.capacity == 4
    assert ring.read_slot() is None
    for k in range(4):
        slot = ring.write_slot()
        assert slot is not None
        slot.fill(k)
        ring.commit_write()
    assert ring.write_slot() is None
    got = ring.read_slot()
    assert got is not None
    assert np.all(got == 0)


def test_ring_and_limiter_steady_state_allocates_nothing(rng: np.random.Generator) -> None:
    ring = BlockRing(8, FRAMES, 2)
    limiter = SoftLimiter(FRAMES, 2)
    ducker = Ducker(RATE_HZ, FRAMES)
    block = (2 * rng.standard_normal((FRAMES, 2))).astype(np.float32)

    def step(k: int) -> None:
        slot = ring.write_slot()
        assert slot is not None
        np.copyto(slot, block)
        ring.commit_write()
        out = ring.read_slot()
        assert out is not None
        limiter.process(out)
        ducker.update(k % 50 < 25)
        ring.commit_read()

    for k in range(100):  # warm-up
        step(k)
    tracemalloc.start()
    try:
        step(0)
        gc.collect()
        base = tracemalloc.get_traced_memory()[0]
        for k in range(1000):
            step(k)
        gc.collect()  # cyclic garbage is not growth; anything still held is
        growth = tracemalloc.get_traced_memory()[0] - base
    finally:
        tracemalloc.stop()
    assert growth <= ALLOC_GROWTH_MAX_BYTES
