"""The hub's microphone as an Assist satellite, in real Home Assistant: a pipeline runs on the
simulated hub's microphone (denoised), the default agent answers, and the spoken response
reaches the hub's announcement bus."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator
from importlib import resources
from typing import Any

import numpy as np
import pytest
from homeassistant.components.assist_pipeline.pipeline import (
    KEY_ASSIST_PIPELINE,
    async_get_pipeline,
    async_update_pipeline,
)
from homeassistant.components.assist_satellite.const import DATA_COMPONENT
from homeassistant.components.assist_satellite.entity import AssistSatelliteState
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
)

from custom_components.echo_sense import hub as hub_module
from custom_components.echo_sense.assist_satellite import EchoSenseSatellite
from custom_components.echo_sense.const import DOMAIN
from echo_sense_dsp.room import LiveRoom
from echo_sense_dsp.room.scenario import SCENARIOS

from .conftest import simulated_entry
from .stt_engine import RecordingSTT, recording_stt_engine

SATELLITE = "assist_satellite.simulated_room_demo_voice_satellite"
HEARD_TEXT = "turn on the kitchen lights"
COMMAND_S = 1.0  # seconds of microphone audio the test engine listens to before it answers
SAMPLE_RATE = 16000
SPEECH_FLOOR_DB = -70.0  # dBFS: the talker's speech at the hub's microphone is well above digital silence
RUN_TIMEOUT_S = 60.0  # seconds a whole pipeline run may take on a loaded 2-core machine


def _talker_room() -> dict[str, Any]:
    """The quiet preset room with someone talking 2 m in front of the hub."""
    scenario: dict[str, Any] = json.loads(
        resources.files("echo_sense_dsp.room").joinpath("scenarios", SCENARIOS["empty_room"]).read_text("utf-8")
    )
    scenario["sources"] = [{"kind": "talker", "position_m": [2.3, 2.0, 1.5], "signal": "speech", "level_db": -20}]
    return scenario


TALKER_ROOM = _talker_room()


@pytest.fixture
async def heard_stt(hass: HomeAssistant) -> AsyncIterator[RecordingSTT]:
    engine = RecordingSTT("Heard STT", HEARD_TEXT, ["en"], max_bytes=2 * SAMPLE_RATE * COMMAND_S)
    async with recording_stt_engine(hass, engine) as entity:
        yield entity


@pytest.fixture
async def demo_tts(hass: HomeAssistant) -> None:
    """Home Assistant's demo text-to-speech (an mp3 of a voice), set up before anything loads tts."""
    assert await async_setup_component(hass, "tts", {"tts": {"platform": "demo"}})
    await hass.async_block_till_done()


@pytest.fixture
async def hub_entry(hass: HomeAssistant, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[MockConfigEntry]:
    """The echo_sense entry on a quiet simulated room, with the satellite platform; unloaded at the end."""
    monkeypatch.setattr(hub_module, "simulated_room", lambda config: LiveRoom(TALKER_ROOM, driver_count=2))
    assert await async_setup_component(hass, "assist_pipeline", {})
    entry = simulated_entry()
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    yield entry
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()


def _satellite(hass: HomeAssistant) -> EchoSenseSatellite:
    entity = hass.data[DATA_COMPONENT].get_entity(SATELLITE)
    assert isinstance(entity, EchoSenseSatellite)
    return entity


async def _wait_for_idle(hass: HomeAssistant, satellite: EchoSenseSatellite) -> None:
    """Wait for the run and the spoken response (both are the entry's background tasks)."""
    async with asyncio.timeout(RUN_TIMEOUT_S):
        await hass.async_block_till_done(wait_background_tasks=True)
    assert satellite._listen_task is None
    assert satellite.state == AssistSatelliteState.IDLE


def _events(hass: HomeAssistant) -> list[tuple[str, dict | None]]:
    runs = hass.data[KEY_ASSIST_PIPELINE].pipeline_debug[async_get_pipeline(hass).id]
    assert len(runs) == 1
    (run,) = runs.values()
    return [(str(event.type), event.data) for event in run.events]


async def test_satellite_runs_a_pipeline_on_the_hubs_denoised_microphone(
    hass: HomeAssistant, heard_stt: RecordingSTT, hub_entry: MockConfigEntry
) -> None:
    await async_update_pipeline(hass, async_get_pipeline(hass), stt_engine="stt.heard_stt", tts_engine=None)
    satellite = _satellite(hass)
    assert hass.states.get(SATELLITE).state == AssistSatelliteState.IDLE

    await hass.services.async_call(DOMAIN, "start_listening", {"entity_id": SATELLITE}, blocking=True)
    await _wait_for_idle(hass, satellite)

    types = [event_type for event_type, _ in _events(hass)]
    assert types[0] == "run-start"
    assert "stt-start" in types and "intent-start" in types and "intent-end" in types
    assert types[-1] == "run-end"
    assert "error" not in types
    stt_end = next(data for event_type, data in _events(hass) if event_type == "stt-end")
    assert stt_end == {"stt_output": {"text": HEARD_TEXT}}
    intent_end = next(data for event_type, data in _events(hass) if event_type == "intent-end")
    assert intent_end is not None and intent_end["intent_output"]["response"]["speech"]["plain"]["speech"]
    # The engine heard COMMAND_S of the hub's microphone, as 16-bit samples that are not all zero.
    assert len(heard_stt.received) >= 2 * SAMPLE_RATE * COMMAND_S
    samples = np.frombuffer(heard_stt.received, "<i2").astype(np.float64) / 32768
    assert 10 * np.log10(np.mean(samples**2) + 1e-12) > SPEECH_FLOOR_DB
    assert hass.states.get(SATELLITE).state == AssistSatelliteState.IDLE
    assert not [t for t in threading.enumerate() if t.name == "echo-sense-satellite"]


async def test_satellite_speaks_the_response_on_the_announcement_bus(
    hass: HomeAssistant, heard_stt: RecordingSTT, demo_tts: None, hub_entry: MockConfigEntry
) -> None:
    await async_update_pipeline(
        hass, async_get_pipeline(hass), stt_engine="stt.heard_stt", tts_engine="demo", tts_language="en"
    )
    satellite = _satellite(hass)
    bus = hub_entry.runtime_data.engine.announcement_bus
    played_before = bus.frames_played
    states: list[str] = []
    hass.bus.async_listen(
        "state_changed",
        lambda event: states.append(event.data["new_state"].state)
        if event.data["entity_id"] == SATELLITE and event.data["new_state"]
        else None,
    )

    await satellite.async_start_listening()
    await _wait_for_idle(hass, satellite)

    types = [event_type for event_type, _ in _events(hass)]
    assert "tts-end" in types and "error" not in types
    assert "responding" in states and states[-1] == AssistSatelliteState.IDLE
    # demo TTS speaks an mp3 of about 2 s: the engine took well over a second of it from the bus
    assert bus.frames_played - played_before > 48000


async def test_announcement_plays_on_the_hubs_speaker(
    hass: HomeAssistant, demo_tts: None, hub_entry: MockConfigEntry
) -> None:
    await async_update_pipeline(hass, async_get_pipeline(hass), tts_engine="demo", tts_language="en")
    bus = hub_entry.runtime_data.engine.announcement_bus
    played_before = bus.frames_played

    await hass.services.async_call(
        "assist_satellite",
        "announce",
        {"entity_id": SATELLITE, "message": "Dinner is ready"},
        blocking=True,
    )

    assert bus.frames_played - played_before > 48000
    assert hass.states.get(SATELLITE).state == AssistSatelliteState.IDLE


async def test_ask_question_speaks_then_hears_the_answer_on_the_hubs_microphone(
    hass: HomeAssistant, heard_stt: RecordingSTT, demo_tts: None, hub_entry: MockConfigEntry
) -> None:
    await async_update_pipeline(
        hass, async_get_pipeline(hass), stt_engine="stt.heard_stt", tts_engine="demo", tts_language="en"
    )
    bus = hub_entry.runtime_data.engine.announcement_bus
    played_before = bus.frames_played

    async with asyncio.timeout(RUN_TIMEOUT_S):
        answer = await hass.services.async_call(
            "assist_satellite",
            "ask_question",
            {
                "entity_id": SATELLITE,
                "question": "What should I turn on?",
                "preannounce": False,
                "answers": [{"id": "kitchen", "sentences": ["turn on the kitchen lights"]}],
            },
            blocking=True,
            return_response=True,
        )

    assert answer == {"id": "kitchen", "sentence": HEARD_TEXT, "slots": {}}
    assert bus.frames_played - played_before > 48000  # the question was spoken on the hub
    assert len(heard_stt.received) >= 2 * SAMPLE_RATE * COMMAND_S  # the answer came from the hub's microphone
    await _wait_for_idle(hass, _satellite(hass))


async def test_announcing_media_that_cannot_be_opened_is_a_clear_error(
    hass: HomeAssistant, hub_entry: MockConfigEntry
) -> None:
    bus = hub_entry.runtime_data.engine.announcement_bus
    played_before = bus.frames_played
    with pytest.raises(HomeAssistantError, match=r"Cannot play .*missing\.mp3"):
        await hass.services.async_call(
            "assist_satellite",
            "announce",
            {"entity_id": SATELLITE, "media_id": "http://127.0.0.1:9/missing.mp3", "preannounce": False},
            blocking=True,
        )
    assert bus.frames_played == played_before
    assert hass.states.get(SATELLITE).state == AssistSatelliteState.IDLE


async def test_the_hub_offers_no_wake_words_to_configure(hass: HomeAssistant, hub_entry: MockConfigEntry) -> None:
    configuration = _satellite(hass).async_get_configuration()
    assert configuration.available_wake_words == [] and configuration.max_active_wake_words == 0
