"""A speech-to-text entity that denoises the audio and hands it to the user's STT engine.

Put "echo_sense" as the speech-to-text engine of an Assist pipeline and every satellite
using that pipeline gets the hub's noise suppression; the words come from the engine
chosen in echo_sense's options.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterable, AsyncIterator

from homeassistant.components.stt import (
    DOMAIN as STT_DOMAIN,
)
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
    async_get_speech_to_text_entity,
)
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity import EntityDescription
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from echo_sense_dsp.voice import DenoiserSettings
from echo_sense_dsp.voice.stream import PcmStreamDenoiser

from .const import CONF_STT_ENGINE, CONF_SUPPRESSION_DB, DEFAULT_SUPPRESSION_DB
from .entity import EchoSenseEntity
from .hub import EchoSenseConfigEntry

_LOGGER = logging.getLogger(__name__)

PARALLEL_UPDATES = 0

DENOISED_STT = EntityDescription(key="denoised_stt", translation_key="denoised_stt")


async def async_setup_entry(
    hass: HomeAssistant, entry: EchoSenseConfigEntry, async_add_entities: AddConfigEntryEntitiesCallback
) -> None:
    """Add the denoising speech-to-text proxy."""
    async_add_entities([DenoisingSpeechToText(entry.runtime_data, DENOISED_STT)])


class DenoisingSpeechToText(EchoSenseEntity, SpeechToTextEntity):
    """16 kHz mono PCM in; noise-suppressed; forwarded to the chosen STT engine."""

    @property
    def available(self) -> bool:
        """The proxy does not need the hub's sound device, only a target engine."""
        return True

    def _target(self) -> SpeechToTextEntity | None:
        """The STT entity to forward to: the option, else the first other STT entity."""
        wanted = self.hub.entry.options.get(CONF_STT_ENGINE)
        if wanted:
            return async_get_speech_to_text_entity(self.hass, wanted)
        for state in self.hass.states.async_all(STT_DOMAIN):
            if state.entity_id != self.entity_id and (
                target := async_get_speech_to_text_entity(self.hass, state.entity_id)
            ):
                return target
        return None

    @property
    def supported_languages(self) -> list[str]:
        target = self._target() if self.hass else None
        return list(target.supported_languages) if target else [self.hass.config.language if self.hass else "en"]

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
        target = self._target()
        if target is None:
            _LOGGER.warning("No speech-to-text engine to forward to; choose one in echo_sense's options")
            return SpeechResult(None, SpeechResultState.ERROR)
        settings = DenoiserSettings(
            atten_lim_db=float(self.hub.entry.options.get(CONF_SUPPRESSION_DB, DEFAULT_SUPPRESSION_DB))
        )
        denoiser = await self.hass.async_add_executor_job(PcmStreamDenoiser, settings)

        async def denoised() -> AsyncIterator[bytes]:
            async for chunk in stream:
                if out := await self.hass.async_add_executor_job(denoiser.process, chunk):
                    yield out
            if tail := await self.hass.async_add_executor_job(denoiser.flush):
                yield tail

        return await target.internal_async_process_audio_stream(metadata, denoised())
