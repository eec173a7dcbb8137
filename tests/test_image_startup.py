"""The Doppler spectrogram starts clean: nothing of the detector's start-up transient is drawn."""

from __future__ import annotations

import asyncio
import io

import numpy as np
import pytest
from homeassistant.components.image import DATA_COMPONENT
from homeassistant.core import HomeAssistant
from PIL import Image
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.echo_sense import hub as hub_module
from custom_components.echo_sense.const import DOMAIN
from custom_components.echo_sense.image import DopplerSpectrogramImage
from echo_sense_dsp.audio import SIMULATED_DEVICE_ID
from echo_sense_dsp.presence.demodulation import HOP_S
from echo_sense_dsp.presence.features import WARMUP_S
from echo_sense_dsp.presence.spectrogram import COLORMAP
from echo_sense_dsp.room import LiveRoom

from .test_init import SIMULATED_DATA
from .test_presence import WAIT_S

IMAGE = "image.simulated_room_demo_doppler_spectrogram"
EMPTY_ROOM_MAX_DB = 15.0  # sensing in the empty room stays below ~5 dB; the start-up transient reaches 40 dB
SENSING_HOPS = 100  # 2 s of 20 ms hops drawn


async def test_no_start_up_transient_in_an_empty_room(hass: HomeAssistant, monkeypatch: pytest.MonkeyPatch) -> None:
    """Before the detector senses (its noise floor still settling) the spectrum is a transient that
    would show as a bright column; only hops from the first sensing one on are drawn."""
    monkeypatch.setattr(hub_module, "simulated_room", lambda config: LiveRoom("empty_room", driver_count=2))
    entry = MockConfigEntry(
        domain=DOMAIN, unique_id=SIMULATED_DEVICE_ID, title="Simulated room (demo)", data=SIMULATED_DATA
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    entity = hass.data[DATA_COMPONENT].get_entity(IMAGE)
    assert isinstance(entity, DopplerSpectrogramImage)
    history = entity.hub.presence.history
    loop = asyncio.get_running_loop()
    start = loop.time()
    while history.count < SENSING_HOPS:
        assert loop.time() - start < WAIT_S, f"only {history.count} hops drawn"
        await asyncio.sleep(0.2)
    drawn = history.count
    presence = entity.hub.presence.diagnostics()
    detector = presence["detector"]
    assert detector["sensing"], f"not sensing after {drawn} hops drawn: {presence}"
    # the hops of the warm-up (at least WARMUP_S) were processed but not drawn
    assert round(detector["seconds_processed"] / HOP_S) - drawn >= round(WARMUP_S / HOP_S)
    png = await entity.async_image()
    assert png is not None
    body = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))[: history.bands * history.band_height]
    level = {tuple(int(c) for c in rgb): i for i, rgb in enumerate(COLORMAP)}  # colour -> 0..255, floor..ceiling
    brightest = max(level[tuple(int(c) for c in px)] for px in np.unique(body.reshape(-1, 3), axis=0))
    db = history.floor_db + brightest / 255 * (history.ceiling_db - history.floor_db)
    assert db < EMPTY_ROOM_MAX_DB, f"a {db:.0f} dB cell in an empty room: {presence}"
    assert await hass.config_entries.async_unload(entry.entry_id)
