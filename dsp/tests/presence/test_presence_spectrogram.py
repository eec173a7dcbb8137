"""DopplerHistory ring and rendering."""

import numpy as np
import pytest

from echo_sense_dsp.presence.spectrogram import COLORMAP, DopplerHistory


def test_shape_and_ordering() -> None:
    h = DopplerHistory(bands=4, frames=10, band_height=2, strip_height=4)
    for i in range(13):
        h.push(
            np.full(4, 40.0 if i == 12 else 0.0, dtype=np.float32),
            occupied=i >= 11,
            motion="major" if i == 12 else "none",
        )
    img = h.to_image_array()
    assert img.shape == (4 * 2 + 4, 10, 3) and img.dtype == np.uint8
    np.testing.assert_array_equal(img[0, -1], COLORMAP[255])  # newest hop, loud, on the right
    np.testing.assert_array_equal(img[0, 0], COLORMAP[0])
    np.testing.assert_array_equal(img[-1, -1], [220, 30, 30])  # major motion is red
    np.testing.assert_array_equal(img[-1, 0], [96, 96, 96])
    np.testing.assert_array_equal(img[8, -2], [255, 255, 255])  # occupied line
    assert h.count == 13


def test_bad_geometry() -> None:
    with pytest.raises(ValueError, match="bands=0"):
        DopplerHistory(bands=0)


def test_hops_before_the_first_sensing_hop_are_not_kept() -> None:
    h = DopplerHistory(bands=2, frames=4, band_height=1, strip_height=2)
    loud = np.full(2, 40.0, dtype=np.float32)
    for _ in range(3):  # start-up transient: not sensing yet
        h.push(loud, occupied=False, motion="none", sensing=False)
    assert h.count == 0
    np.testing.assert_array_equal(h.to_image_array()[:2], COLORMAP[np.zeros((2, 4), dtype=np.intp)])
    h.push(np.full(2, 20.0, dtype=np.float32), occupied=True, motion="minor", sensing=True)
    h.push(loud, occupied=True, motion="none", sensing=False)  # probe paused: floor, decisions kept
    img = h.to_image_array()
    assert h.count == 2
    np.testing.assert_array_equal(img[0, -2], COLORMAP[128])
    np.testing.assert_array_equal(img[0, -1], COLORMAP[0])
    np.testing.assert_array_equal(img[2, -1], [255, 255, 255])  # still occupied while paused
