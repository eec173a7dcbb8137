"""The hub's own microphone and speaker as an Assist satellite.

Data flow while a pipeline listens (thread ``echo-sense-satellite``)::

    AudioEngine.subscribe_input("voice", channels=[0], 16 kHz) -> int16 PCM
    -> PcmStreamDenoiser (echo_sense_dsp.voice) -> hass.loop.call_soon_threadsafe
    -> bounded asyncio.Queue (oldest chunk dropped when full) -> the pipeline's audio stream

The microphone is subscribed only while a pipeline's speech-to-text stage runs: from the start
of a run until ``stt-end``, ``stt-vad-end``, an error or ``run-end``. The thread is joined
when the run ends and when the entity is removed, so nothing outlives the entry.

Responses: the ``tts-end`` event's media id is fetched from the TTS manager, decoded by
:mod:`echo_sense_dsp.audio.playback` (PyAV, 48 kHz) and played by a
:class:`~echo_sense_dsp.audio.playback.BusPlayer` of its own on the engine's announcement bus,
which ducks the music. Announcements (``assist_satellite.announce``) play the same way, the
pre-announcement chime first.

How a conversation starts. No wake-word engine runs on the hub, so the satellite starts
at the speech-to-text stage: the ``echo_sense.start_listening`` action (a dashboard button or
an automation calls it), ``assist_satellite.ask_question`` (any agent) and
``assist_satellite.start_conversation`` (agents that support it; Home Assistant refuses it for
the built-in agent). If the satellite's pipeline has a wake-word engine,
``echo_sense.start_listening`` starts at the wake-word stage instead, and the command is
heard after the wake word. The pipeline is the preferred one; it ends at the intent stage
when it has no text-to-speech engine.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
from homeassistant.components import assist_satellite as assist_satellite_component
from homeassistant.components import media_source, tts
from homeassistant.components.assist_pipeline.error import PipelineError
from homeassistant.components.assist_pipeline.pipeline import (
    PipelineEvent,
    PipelineEventType,
    PipelineStage,
    async_get_pipeline,
)
from homeassistant.components.assist_satellite import (
    AssistSatelliteAnnouncement,
    AssistSatelliteConfiguration,
    AssistSatelliteEntity,
    AssistSatelliteEntityDescription,
    AssistSatelliteEntityFeature,
)
from homeassistant.components.assist_satellite.const import PREANNOUNCE_FILENAME
from homeassistant.components.tts.const import DATA_TTS_MANAGER
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from echo_sense_dsp.audio import AudioEngine, Subscription
from echo_sense_dsp.audio.playback import BusPlayer, PlayerState, Source, open_track
from echo_sense_dsp.errors import EchoSenseError
from echo_sense_dsp.voice import Denoiser, DenoiserSettings
from echo_sense_dsp.voice.stream import PCM16_SCALE, PcmStreamDenoiser

from .const import CONF_SUPPRESSION_DB, DEFAULT_SUPPRESSION_DB, DOMAIN
from .entity import EchoSenseEntity
from .hub import EchoSenseConfigEntry, EchoSenseHub

_LOGGER = logging.getLogger(__name__)

PARALLEL_UPDATES = 0

SAMPLE_RATE = 16000  # Hz: the Assist pipeline's audio (16-bit mono PCM)
MIC_CHANNEL = 0  # the microphone the satellite listens with
QUEUE_CHUNKS = 100  # chunks (10 ms blocks at the engine's rate) between thread and pipeline: ~1 s
GET_TIMEOUT_S = 0.1  # seconds the mic thread waits for a block before checking for stop
PREANNOUNCE_PATH = Path(assist_satellite_component.__file__).parent / PREANNOUNCE_FILENAME
_MIC_STOP_EVENTS = {
    PipelineEventType.STT_END,
    PipelineEventType.STT_VAD_END,
    PipelineEventType.ERROR,
    PipelineEventType.RUN_END,
}

SATELLITE = AssistSatelliteEntityDescription(key="satellite", translation_key="satellite")


async def async_setup_entry(
    hass: HomeAssistant, entry: EchoSenseConfigEntry, async_add_entities: AddConfigEntryEntitiesCallback
) -> None:
    """Add the hub's voice satellite."""
    async_add_entities([EchoSenseSatellite(entry.runtime_data, SATELLITE)])


def pcm16(mics: np.ndarray) -> bytes:
    """One microphone's block, shape (frames, 1) float32 full scale 1.0, as int16 little-endian PCM."""
    return np.clip(np.round(mics[:, 0] * PCM16_SCALE), -32768, 32767).astype("<i2").tobytes()


class MicStream:
    """The hub's microphone, denoised, as an async stream of 16 kHz int16 PCM chunks.

    :meth:`start` subscribes and starts the thread (cheap; call it in the event loop);
    :meth:`request_stop` ends the stream without blocking; :meth:`join` (blocking: run it in
    the executor) waits for the thread. Chunks cross to the loop with
    ``call_soon_threadsafe`` into a queue of ``QUEUE_CHUNKS``; when the pipeline falls behind,
    the oldest chunk is dropped.
    """

    def __init__(self, hass: HomeAssistant, engine: AudioEngine, denoiser: Denoiser) -> None:
        self._hass = hass
        self._engine = engine
        self._denoiser = PcmStreamDenoiser(denoiser=denoiser)
        self._queue: asyncio.Queue[bytes | None] = asyncio.Queue(QUEUE_CHUNKS)
        self._stop = threading.Event()
        self._sub: Subscription | None = None
        self._thread: threading.Thread | None = None
        self.bytes_in = 0
        self.dropped_chunks = 0

    def start(self) -> None:
        self._sub = self._engine.subscribe_input("voice", channels=[MIC_CHANNEL], sample_rate=SAMPLE_RATE)
        self._thread = threading.Thread(target=self._run, name="echo-sense-satellite", daemon=True)
        self._thread.start()

    def request_stop(self) -> None:
        """End the stream (the thread finishes its block and exits)."""
        self._stop.set()
        if self._sub is not None:
            self._engine.unsubscribe(self._sub)

    def join(self) -> None:
        """Stop and wait for the thread (blocking)."""
        self.request_stop()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    async def chunks(self) -> AsyncIterator[bytes]:
        """Denoised PCM until the stream is stopped."""
        while (chunk := await self._queue.get()) is not None:
            yield chunk

    def _run(self) -> None:
        sub = self._sub
        assert sub is not None
        try:
            while not self._stop.is_set():
                block = sub.get(GET_TIMEOUT_S)
                if block is None:
                    if not sub.active:
                        break
                    continue
                pcm = pcm16(block.mics)
                self.bytes_in += len(pcm)
                if out := self._denoiser.process(pcm):
                    self._hass.loop.call_soon_threadsafe(self._put, out)
        except EchoSenseError as err:
            _LOGGER.warning("Satellite microphone stopped: %s", err)
        finally:
            self._hass.loop.call_soon_threadsafe(self._put, None)

    @callback
    def _put(self, chunk: bytes | None) -> None:
        if self._queue.full():
            self._queue.get_nowait()  # the pipeline fell behind: drop the oldest audio
            self.dropped_chunks += 1
        self._queue.put_nowait(chunk)


def _denoiser_settings(hub: EchoSenseHub) -> DenoiserSettings:
    return DenoiserSettings(atten_lim_db=float(hub.entry.options.get(CONF_SUPPRESSION_DB, DEFAULT_SUPPRESSION_DB)))


class EchoSenseSatellite(EchoSenseEntity, AssistSatelliteEntity):
    """The hub as a voice satellite: its microphone in (denoised), its speaker out."""

    entity_description: AssistSatelliteEntityDescription
    _attr_supported_features = AssistSatelliteEntityFeature.ANNOUNCE | AssistSatelliteEntityFeature.START_CONVERSATION

    def __init__(self, hub: EchoSenseHub, description: AssistSatelliteEntityDescription) -> None:
        super().__init__(hub, description)
        self._denoiser: Denoiser | None = None
        self._mic: MicStream | None = None
        self._listen_task: asyncio.Task[None] | None = None
        self._speaker = BusPlayer(hub.engine.announcement_bus, "satellite-speaker", self._speaker_changed)
        self._played: asyncio.Event = asyncio.Event()
        self._removed = False

    # -------------------------------------------------------------- lifecycle
    async def async_will_remove_from_hass(self) -> None:
        """Cancel the run, join the microphone thread and the speaker (nothing may outlive the entity)."""
        self._removed = True
        await self._async_cancel_listening()
        mic, self._mic = self._mic, None
        if mic is not None:
            await self.hass.async_add_executor_job(mic.join)
        await self.hass.async_add_executor_job(self._speaker.stop)
        self._played.set()
        await super().async_will_remove_from_hass()

    async def _async_cancel_listening(self) -> None:
        task, self._listen_task = self._listen_task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # -------------------------------------------------------------- configuration (no wake words on the hub)
    @callback
    def async_get_configuration(self) -> AssistSatelliteConfiguration:
        return AssistSatelliteConfiguration(available_wake_words=[], active_wake_words=[], max_active_wake_words=0)

    async def async_set_configuration(self, config: AssistSatelliteConfiguration) -> None:
        """Nothing to configure: the hub runs no on-device wake word."""

    # -------------------------------------------------------------- listening
    async def async_start_listening(self) -> None:
        """Start a pipeline run on the hub's microphone (in the background)."""
        pipeline = async_get_pipeline(self.hass, self._resolve_pipeline())
        start_stage = PipelineStage.WAKE_WORD if pipeline.wake_word_entity else PipelineStage.STT
        await self._async_listen(start_stage)

    async def _async_listen(self, start_stage: PipelineStage) -> None:
        if not self.available:
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="satellite_unavailable",
            )
        await self._async_cancel_listening()
        if self._denoiser is None:
            self._denoiser = await self.hass.async_add_executor_job(Denoiser, _denoiser_settings(self.hub))
        mic = MicStream(self.hass, self.hub.engine, self._denoiser)
        self._mic = mic
        mic.start()
        self._listen_task = self.hub.entry.async_create_background_task(
            self.hass, self._async_run_pipeline(mic, start_stage), f"{self.entity_id}_listen"
        )

    async def _async_run_pipeline(self, mic: MicStream, start_stage: PipelineStage) -> None:
        pipeline = async_get_pipeline(self.hass, self._resolve_pipeline())
        end_stage = PipelineStage.TTS if pipeline.tts_engine else PipelineStage.INTENT
        try:
            await self.async_accept_pipeline_from_satellite(mic.chunks(), start_stage=start_stage, end_stage=end_stage)
        except PipelineError as err:  # a pipeline that cannot run (an engine gone, a language it lacks)
            _LOGGER.warning("The voice satellite's pipeline cannot run: %s", err)
            if not self._removed:
                self.tts_response_finished()  # back to idle
        finally:
            await self.hass.async_add_executor_job(mic.join)
            if self._mic is mic:
                self._mic = None
            if self._listen_task is asyncio.current_task():
                self._listen_task = None

    @callback
    def on_pipeline_event(self, event: PipelineEvent) -> None:
        """Stop the microphone once the command is heard; speak the response."""
        if event.type in _MIC_STOP_EVENTS and self._mic is not None:
            self._mic.request_stop()
        if event.type is PipelineEventType.TTS_END and event.data:
            token = (event.data.get("tts_output") or {}).get("token")
            if token:
                self.hub.entry.async_create_background_task(
                    self.hass, self._async_speak_response(token), f"{self.entity_id}_response"
                )
            else:
                self.tts_response_finished()

    # -------------------------------------------------------------- speaking
    async def _async_speak_response(self, token: str) -> None:
        try:
            await self._async_play([(await self._async_tts_audio(token), "text-to-speech audio")])
        except (HomeAssistantError, EchoSenseError, ValueError) as err:
            _LOGGER.warning("Cannot speak the Assist response: %s", err)
        finally:
            if not self._removed:
                self.tts_response_finished()

    async def async_announce(self, announcement: AssistSatelliteAnnouncement) -> None:
        """Play the chime, then the announcement; return when it has played."""
        sources: list[tuple[Source, str]] = []
        if announcement.preannounce_media_id:
            sources.append(await self._async_resolve(announcement.preannounce_media_id, None))
        sources.append(await self._async_resolve(announcement.media_id, announcement))
        try:
            await self._async_play(sources)
        except EchoSenseError as err:
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="cannot_play",
                translation_placeholders={"media": sources[-1][1], "reason": str(err)},
            ) from err

    async def async_start_conversation(self, start_announcement: AssistSatelliteAnnouncement) -> None:
        """Speak the start message, then listen for the answer (speech-to-text stage)."""
        await self.async_announce(start_announcement)
        await self._async_listen(PipelineStage.STT)

    async def _async_tts_audio(self, token: str) -> bytes:
        """The whole audio of the TTS result stream ``token`` (the pipeline's response)."""
        stream = self.hass.data[DATA_TTS_MANAGER].async_get_result_stream(token)
        if stream is None:
            raise HomeAssistantError(f"text-to-speech result {token} is gone")
        try:
            return b"".join([chunk async for chunk in stream.async_stream_result()])
        except Exception as err:  # the TTS engine's errors are its own
            raise HomeAssistantError(f"text-to-speech audio failed: {err}") from err

    async def _async_resolve(
        self, media_id: str, announcement: AssistSatelliteAnnouncement | None
    ) -> tuple[Source, str]:
        """(what to open, a name for messages) for a TTS media id, a media-source id or a URL."""
        if announcement is not None and announcement.media_id_source in ("tts", "media_id"):
            media_id = announcement.original_media_id  # the unresolved id: no HTTP round trip
        if media_id.startswith("media-source://tts/"):
            try:
                _extension, data = await tts.async_get_media_source_audio(self.hass, media_id)
            except Exception as err:  # the TTS engine's errors are its own
                raise HomeAssistantError(f"text-to-speech audio failed: {err}") from err
            return data, "text-to-speech audio"
        if media_source.is_media_source_id(media_id):
            resolved = await media_source.async_resolve_media(self.hass, media_id, self.entity_id)
            if resolved.path is not None:
                return str(resolved.path), resolved.path.name
            media_id = resolved.url
        if media_id.split("?", 1)[0].endswith(f"/assist_satellite/static/{PREANNOUNCE_FILENAME}"):
            return str(PREANNOUNCE_PATH), PREANNOUNCE_FILENAME  # Home Assistant's own chime, from disk
        return media_id, media_id.split("?", 1)[0]

    async def _async_play(self, sources: list[tuple[Source, str]]) -> None:
        """Play ``sources`` one after the other on the announcement bus; return when done."""
        for source, name in sources:
            track = await self.hass.async_add_executor_job(open_track, source, name)
            self._played.clear()
            await self.hass.async_add_executor_job(self._speaker.play, track)
            await self._played.wait()
            if self._removed:
                return

    def _speaker_changed(self) -> None:
        """The speaker thread reports a change: hop to the event loop."""
        if self._speaker.state is PlayerState.IDLE:
            self.hass.loop.call_soon_threadsafe(self._played.set)


__all__ = ["EchoSenseSatellite", "MicStream", "pcm16"]
