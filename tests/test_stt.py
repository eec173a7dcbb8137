"""The denoising STT proxy inside Home Assistant: audio reaches the user's STT engine
denoised, at full length, and its text comes back."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from typing import Any

import numpy as np
import pytest
from homeassistant.components.stt import (
    AudioBitRates,
    AudioChannels,
    AudioCodecs,
    AudioFormats,
    AudioSampleRates,
    SpeechMetadata,
    SpeechResultState,
    SpeechToTextEntity,
    async_get_speech_to_text_entity,
)
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.echo_sense import hub as hub_module
from custom_components.echo_sense.const import CONF_STT_ENGINE
from echo_sense_dsp.room import LiveRoom

from .conftest import simulated_entry
from .stt_engine import RecordingSTT, recording_stt_engine

SAMPLE_RATE = 16000
PROXY = "stt.simulated_room_demo_noise_suppressed_speech_to_text"
TARGET = "stt.recording_stt"
NOISE_REDUCTION_DB = 10.0
HEARD_TEXT = "turn on the kitchen lights"
# what the Assist pipeline sends, and what the denoiser runs at
PCM16_MONO = SpeechMetadata(
    language="en",
    format=AudioFormats.WAV,
    codec=AudioCodecs.PCM,
    bit_rate=AudioBitRates.BITRATE_16,
    sample_rate=AudioSampleRates.SAMPLERATE_16000,
    channel=AudioChannels.CHANNEL_MONO,
)


@pytest.fixture
async def recording_stt(hass: HomeAssistant) -> AsyncIterator[RecordingSTT]:
    async with recording_stt_engine(hass, RecordingSTT("Recording STT", HEARD_TEXT, ["en", "de"])) as entity:
        yield entity


def _pcm(x: np.ndarray) -> bytes:
    return np.clip(np.round(x * 32768), -32768, 32767).astype("<i2").tobytes()


async def _chunks(data: bytes, size: int = 2048) -> AsyncIterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


def _level_db(pcm: bytes) -> float:
    x = np.frombuffer(pcm, "<i2").astype(np.float64) / 32768
    return float(10 * np.log10(np.mean(x[SAMPLE_RATE // 2 :] ** 2) + 1e-12))


async def _proxy(
    hass: HomeAssistant, monkeypatch: pytest.MonkeyPatch, options: dict[str, Any]
) -> tuple[MockConfigEntry, SpeechToTextEntity]:
    """The simulated hub (a quiet room) set up with ``options``, and its STT proxy."""
    monkeypatch.setattr(hub_module, "simulated_room", lambda config: LiveRoom("empty_room", driver_count=2))
    entry = simulated_entry(options)
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    proxy = async_get_speech_to_text_entity(hass, PROXY)
    assert proxy is not None
    return entry, proxy


async def test_proxy_forwards_denoised_audio_and_returns_the_engines_text(
    hass: HomeAssistant, recording_stt: RecordingSTT, monkeypatch: pytest.MonkeyPatch
) -> None:
    entry, proxy = await _proxy(hass, monkeypatch, {CONF_STT_ENGINE: TARGET})
    assert proxy.supported_languages == ["en", "de"]

    noise = (0.05 * np.random.default_rng(5).standard_normal(2 * SAMPLE_RATE)).astype(np.float32)
    audio = _pcm(noise)
    result = await proxy.internal_async_process_audio_stream(PCM16_MONO, _chunks(audio))
    assert result.result is SpeechResultState.SUCCESS
    assert result.text == HEARD_TEXT
    assert len(recording_stt.received) == len(audio)
    assert _level_db(recording_stt.received) < _level_db(audio) - NOISE_REDUCTION_DB
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_proxy_without_an_engine_reports_an_error(hass: HomeAssistant, monkeypatch: pytest.MonkeyPatch) -> None:
    entry, proxy = await _proxy(hass, monkeypatch, {})
    result = await proxy.internal_async_process_audio_stream(PCM16_MONO, _chunks(b"\x00\x00" * 1600))
    assert result.result is SpeechResultState.ERROR
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_proxy_without_the_option_forwards_to_the_other_engine_as_16khz_mono_pcm(
    hass: HomeAssistant, recording_stt: RecordingSTT, monkeypatch: pytest.MonkeyPatch
) -> None:
    entry, proxy = await _proxy(hass, monkeypatch, {})
    assert proxy.supported_languages == ["en", "de"]  # the only other STT entity's
    assert proxy.check_metadata(PCM16_MONO)
    assert not proxy.check_metadata(dataclasses.replace(PCM16_MONO, sample_rate=AudioSampleRates.SAMPLERATE_44100))
    assert not proxy.check_metadata(dataclasses.replace(PCM16_MONO, channel=AudioChannels.CHANNEL_STEREO))
    result = await proxy.internal_async_process_audio_stream(PCM16_MONO, _chunks(b"\x00\x00" * 3200))
    assert result.text == HEARD_TEXT
    assert recording_stt.received == b"\x00\x00" * 3200  # silence in, silence out
    assert await hass.config_entries.async_unload(entry.entry_id)
