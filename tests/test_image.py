"""The Doppler spectrogram image: a valid PNG of the history's size that changes over time and
marks the walk-in's motion in its decision strip."""

from __future__ import annotations

import asyncio
import io
import os
from pathlib import Path

import numpy as np
from homeassistant.components.image import DATA_COMPONENT
from homeassistant.core import HomeAssistant
from PIL import Image
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.echo_sense.image import DopplerSpectrogramImage

from .test_presence import MOTION, _wait_for_state, walk_in_entry  # noqa: F401

IMAGE = "image.simulated_room_demo_doppler_spectrogram"
MOTION_COLOURS = ((255, 176, 0), (220, 30, 30))  # amber minor, red major
SAVE_ENV = "ECHO_SENSE_SAVE_SPECTROGRAM"  # set to a path to keep the rendered PNG for a look


async def _png(entity: DopplerSpectrogramImage) -> tuple[bytes, np.ndarray]:
    data = await entity.async_image()
    assert data is not None and data.startswith(b"\x89PNG\r\n\x1a\n")
    return data, np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


async def test_spectrogram_image_marks_the_walk_in(hass: HomeAssistant, walk_in_entry: MockConfigEntry) -> None:  # noqa: F811
    entity = hass.data[DATA_COMPONENT].get_entity(IMAGE)
    assert isinstance(entity, DopplerSpectrogramImage)
    history = entity.hub.presence.history
    expected_shape = (history.bands * history.band_height + history.strip_height, history.frames, 3)
    _, first = await _png(entity)
    assert first.shape == expected_shape
    await _wait_for_state(hass, MOTION, "on")
    await asyncio.sleep(2.5)
    data, later = await _png(entity)
    assert later.shape == expected_shape
    assert not np.array_equal(first, later)
    strip_row = later[-1]
    assert any(np.all(strip_row == colour, axis=1).any() for colour in MOTION_COLOURS)
    state = hass.states.get(IMAGE)
    assert state is not None and state.state not in ("unknown", "unavailable")
    if save_path := os.environ.get(SAVE_ENV):
        await hass.async_add_executor_job(Path(save_path).write_bytes, data)
    assert await hass.config_entries.async_unload(walk_in_entry.entry_id)
