"""The per-hop detector path holds no growing allocations (a hub runs it for months)."""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable

import numpy as np
import pytest

from echo_sense_dsp.presence import Calibration, PresenceDetector

HOPS_PER_WINDOW = 600  # 12 s of 20 ms hops
GROWTH_LIMIT_BYTES = 8192  # tracemalloc's own bookkeeping and interpreter caches, not per-hop data


def _grown_bytes(before: tracemalloc.Snapshot, after: tracemalloc.Snapshot) -> int:
    return sum(stat.size_diff for stat in after.compare_to(before, "filename"))


@pytest.mark.parametrize("scorer", ["neural", "energy_threshold"])
def test_detector_allocates_nothing_that_grows_with_the_hops(
    rng: np.random.Generator,
    scene: Callable,  # type: ignore[type-arg]
    music: Callable,  # type: ignore[type-arg]
    scorer: str,
) -> None:
    # music makes the canceller solve every hop; the duty cycle stays on (the default)
    sc = scene(rng, seconds=2.0, music=music(rng, 2.0, level=0.2), nonlinearity=(0.03, 0.05))
    det = PresenceDetector(Calibration(40000.0, -20.0, 96000), mic_count=4, scorer=scorer)
    frames = sc.drive.shape[0] - 960

    def feed(blocks: int) -> None:
        for i in range(blocks):
            s = (i * 960) % frames
            det.process(sc.mics[s : s + 960], sc.drive[s : s + 960])

    feed(200)  # warm-up: buffers, onnxruntime's arena, numpy's caches
    tracemalloc.start()
    try:
        first = tracemalloc.take_snapshot()
        feed(2 * HOPS_PER_WINDOW)  # 960-frame blocks: two per hop
        second = tracemalloc.take_snapshot()
        feed(2 * HOPS_PER_WINDOW)
        third = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    assert det.diagnostics()["seconds_processed"] > 24.0
    # a leak of 16 bytes per hop would grow by ~10 kB per window, every window
    assert _grown_bytes(first, second) < GROWTH_LIMIT_BYTES
    assert _grown_bytes(second, third) < GROWTH_LIMIT_BYTES
