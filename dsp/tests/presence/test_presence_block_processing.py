"""The front end's block-wise filters against scipy's sample-by-sample references.

The hop-wise forms (one matrix product per block) exist to save CPU; these tests pin them to
the plain filters they replace, across many blocks, so the detector's decisions stay the same.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import butter, firwin, lfilter

from echo_sense_dsp.presence.blockfilter import BlockFilterBank
from echo_sense_dsp.presence.demodulation import Demodulator, PolyphaseDecimator

RTOL_FLOAT64 = 1e-9  # relative to the signal's peak
RTOL_FLOAT32 = 2e-6


def _complex_noise(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return rng.standard_normal(shape) + 1j * rng.standard_normal(shape)


def test_block_filter_bank_equals_lfilter_with_its_state_carried(rng: np.random.Generator) -> None:
    filters = [butter(2, fc, fs=4000.0) for fc in (100.0, 300.0, 1000.0)] + [([1.0, -1.0], [1.0, -0.99])]
    block, channels, blocks = 80, 3, 25
    x = _complex_noise(rng, (block * blocks, channels))
    bank = BlockFilterBank(filters, block, channels)
    # a non-zero start state, written the way the static high-pass seeds itself
    orders = [max(len(a), len(b)) - 1 for b, a in filters]
    start = _complex_noise(rng, (sum(orders), channels))
    bank.state[:] = start
    got = np.concatenate([bank.process(x[i * block : (i + 1) * block]).copy() for i in range(blocks)], axis=1)
    row = 0
    for i, ((b, a), order) in enumerate(zip(filters, orders, strict=True)):
        want, _ = lfilter(b, a, x, axis=0, zi=start[row : row + order])
        row += order
        np.testing.assert_allclose(got[i], want, atol=RTOL_FLOAT64 * np.abs(want).max())


@pytest.mark.parametrize(("factor", "taps_per_phase"), [(8, 12), (3, 24), (4, 12)])
def test_polyphase_decimator_equals_filtering_then_keeping_every_factorth(
    rng: np.random.Generator, factor: int, taps_per_phase: int
) -> None:
    taps = firwin(factor * taps_per_phase, 0.4 / factor)
    block, channels, blocks = 240, 5, 12
    x = _complex_noise(rng, (block * blocks, channels)).astype(np.complex64)
    dec = PolyphaseDecimator(taps, factor, block, channels)
    got = np.concatenate([dec.process(x[i * block : (i + 1) * block]) for i in range(blocks)])
    want = lfilter(taps, 1.0, x.astype(np.complex128), axis=0)[factor - 1 :: factor]
    np.testing.assert_allclose(got, want, atol=RTOL_FLOAT32 * np.abs(want).max())


def test_demodulator_equals_mixing_and_filtering_at_the_full_rate(rng: np.random.Generator) -> None:
    fs, f0, channels, hops = 96000, 37000.0, 7, 10
    demod = Demodulator(f0, fs, channels)
    x = rng.standard_normal((demod.hop_frames * hops, channels)).astype(np.float32)
    got = np.concatenate([demod.process(x[i * demod.hop_frames : (i + 1) * demod.hop_frames]) for i in range(hops)])
    n = np.arange(len(x))
    mixed = x * np.exp(-2j * np.pi * f0 / fs * n)[:, None]
    first = demod._stage1  # the taps themselves are the module's design choice, not under test here
    second = demod._stage2
    h1 = first._branches.T.reshape(-1)[::-1].astype(np.float64)
    h2 = second._branches.T.reshape(-1)[::-1].astype(np.float64)
    mid = lfilter(h1, 1.0, mixed, axis=0)[first.factor - 1 :: first.factor]
    want = lfilter(h2, 1.0, mid, axis=0)[second.factor - 1 :: second.factor]
    np.testing.assert_allclose(got, want, atol=RTOL_FLOAT32 * np.abs(want).max())
