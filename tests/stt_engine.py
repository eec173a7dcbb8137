"""A real speech-to-text entity for tests: it records the audio it is given and 'hears' fixed text."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator
from contextlib import asynccontextmanager

from homeassistant.components.stt import (
    AudioBitRates,
    AudioChannels,
    AudioCodecs,
    AudioFormats,
    AudioSampleRates,
    SpeechMetadata,
    SpeechResult,
    SpeechResultState,
    SpeechToTextEntity,
)
from homeassistant.config_entries import ConfigEntry, ConfigFlow
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    MockModule,
    MockPlatform,
    mock_config_flow,
    mock_integration,
    mock_platform,
)


class RecordingSTT(SpeechToTextEntity):
    """16 kHz mono PCM; keeps what it receives (up to ``max_bytes``) and returns ``text``."""

    def __init__(self, name: str, text: str, languages: list[str], max_bytes: int | None = None) -> None:
        self._attr_name = name
        self._attr_unique_id = name.lower().replace(" ", "_")
        self.text = text
        self.languages = languages
        self.max_bytes = max_bytes
        self.received = b""

    @property
    def supported_languages(self) -> list[str]:
        return self.languages

    @property
    def supported_formats(self) -> list[AudioFormats]:
        return [AudioFormats.WAV]

    @property
    def supported_codecs(self) -> list[AudioCodecs]:
        return [AudioCodecs.PCM]

    @property
    def supported_bit_rates(self) -> list[AudioBitRates]:
        return [AudioBitRates.BITRATE_16]

    @property
    def supported_sample_rates(self) -> list[AudioSampleRates]:
        return [AudioSampleRates.SAMPLERATE_16000]

    @property
    def supported_channels(self) -> list[AudioChannels]:
        return [AudioChannels.CHANNEL_MONO]

    async def async_process_audio_stream(self, metadata: SpeechMetadata, stream: AsyncIterable[bytes]) -> SpeechResult:
        async for chunk in stream:
            self.received += chunk
            if self.max_bytes is not None and len(self.received) >= self.max_bytes:
                break
        return SpeechResult(self.text, SpeechResultState.SUCCESS)


class _EngineFlow(ConfigFlow):
    """The test engine's (empty) config flow."""


@asynccontextmanager
async def recording_stt_engine(hass: HomeAssistant, entity: RecordingSTT) -> AsyncIterator[RecordingSTT]:
    """Register ``entity`` through a test integration's config entry, as a real STT engine is."""
    domain = f"test_{entity.unique_id}"

    async def setup_entry(hass: HomeAssistant, entry: ConfigEntry) -> bool:
        await hass.config_entries.async_forward_entry_setups(entry, [Platform.STT])
        return True

    async def setup_platform(
        hass: HomeAssistant, entry: ConfigEntry, async_add_entities: AddConfigEntryEntitiesCallback
    ) -> None:
        async_add_entities([entity])

    mock_integration(hass, MockModule(domain, async_setup_entry=setup_entry))
    mock_platform(hass, f"{domain}.stt", MockPlatform(async_setup_entry=setup_platform))
    mock_platform(hass, f"{domain}.config_flow")
    with mock_config_flow(domain, _EngineFlow):
        assert await async_setup_component(hass, "stt", {})
        engine_entry = MockConfigEntry(domain=domain)
        engine_entry.add_to_hass(hass)
        assert await hass.config_entries.async_setup(engine_entry.entry_id)
        await hass.async_block_till_done()
        yield entity
