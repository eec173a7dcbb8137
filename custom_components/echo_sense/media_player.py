"""The hub's speaker as a media player: music on the media bus, announcements that duck it.

Media comes from media-source items (local files are read from disk; TTS audio is fetched
from the TTS manager, so ``tts.speak`` needs no HTTP round trip) or http(s) URLs, and is
decoded with PyAV by :mod:`echo_sense_dsp.audio.playback` on a worker thread.

Rendering: the layout is ``entry.options["layout"]`` (a preset name of
``echo_sense_dsp.spatial.LAYOUTS`` or a layout dict), by default the preset whose driver count
equals the engine's output channels. A layout whose driver count differs from the output
channels falls back to that default (with a warning); with no matching preset the music plays
unrendered in stereo (the bus sends it to the first two drivers, or averages it for one).
The sound mode (``"spatial"`` or ``"stereo"``, default ``entry.options["sound_mode"]``) can be
changed from the player; volume, mute and sound mode are restored after a restart.
Announcements are rendered in stereo mode (speech by side, no virtualiser) and play at the
player's volume.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

from homeassistant.components import media_source
from homeassistant.components.media_player import (
    MediaPlayerDeviceClass,
    MediaPlayerEntity,
    MediaPlayerEntityDescription,
)
from homeassistant.components.media_player.browse_media import BrowseMedia, async_process_play_media_url
from homeassistant.components.media_player.const import (
    ATTR_MEDIA_ANNOUNCE,
    MediaPlayerEntityFeature,
    MediaPlayerState,
    MediaType,
)
from homeassistant.const import STATE_UNAVAILABLE, STATE_UNKNOWN
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.restore_state import RestoreEntity
from homeassistant.util import dt as dt_util

from echo_sense_dsp.audio.playback import BLOCK_FRAMES, BusPlayer, PlayerState, Source, open_track
from echo_sense_dsp.errors import EchoSenseError
from echo_sense_dsp.spatial import LAYOUTS, MODES, DeviceLayout, SpatialRenderer, load_layout

from .const import CONF_LAYOUT, CONF_SOUND_MODE, DEFAULT_SOUND_MODE, DOMAIN
from .entity import EchoSenseEntity
from .hub import EchoSenseConfigEntry, EchoSenseHub

_LOGGER = logging.getLogger(__name__)

PARALLEL_UPDATES = 0

DEFAULT_VOLUME = 0.5
VOLUME_STEP = 0.05
POSITION_DRIFT_S = 0.5  # s: a new position reading when the extrapolated one is off by more
TTS_MEDIA_SOURCE_PREFIX = "media-source://tts/"

SUPPORTED_FEATURES = (
    MediaPlayerEntityFeature.PLAY_MEDIA
    | MediaPlayerEntityFeature.BROWSE_MEDIA
    | MediaPlayerEntityFeature.PAUSE
    | MediaPlayerEntityFeature.PLAY
    | MediaPlayerEntityFeature.STOP
    | MediaPlayerEntityFeature.SEEK
    | MediaPlayerEntityFeature.VOLUME_SET
    | MediaPlayerEntityFeature.VOLUME_MUTE
    | MediaPlayerEntityFeature.VOLUME_STEP
    | MediaPlayerEntityFeature.SELECT_SOUND_MODE
    | MediaPlayerEntityFeature.MEDIA_ANNOUNCE
)

_STATES = {
    PlayerState.IDLE: MediaPlayerState.IDLE,
    PlayerState.PLAYING: MediaPlayerState.PLAYING,
    PlayerState.PAUSED: MediaPlayerState.PAUSED,
}


def default_layout(output_channels: int) -> str | None:
    """The first preset (by name) with one driver per output channel, or None."""
    return next((name for name, layout in sorted(LAYOUTS.items()) if layout.n_drivers == output_channels), None)


def layout_choices(output_channels: int) -> list[str]:
    """Preset names the options flow can offer for ``CONF_LAYOUT``: those with one driver per output."""
    return sorted(name for name, layout in LAYOUTS.items() if layout.n_drivers == output_channels)


def speaker_layout(option: Any, output_channels: int) -> DeviceLayout | None:
    """The layout to render for (see the module docstring); None plays unrendered stereo."""
    fallback = default_layout(output_channels)
    if option is None:
        return LAYOUTS[fallback] if fallback else None
    try:
        layout = load_layout(option)
    except EchoSenseError as err:
        _LOGGER.warning("Speaker layout %r is invalid (%s); using %s", option, err, fallback or "plain stereo")
        return LAYOUTS[fallback] if fallback else None
    if layout.n_drivers != output_channels:
        _LOGGER.warning(
            "Speaker layout %s has %d drivers but the sound device has %d outputs; using %s",
            layout.name,
            layout.n_drivers,
            output_channels,
            fallback or "plain stereo",
        )
        return LAYOUTS[fallback] if fallback else None
    return layout


def make_renderer(layout: DeviceLayout | None, mode: str) -> SpatialRenderer | None:
    """A renderer at the bus rate and block (blocking: designs filters; run it in the executor)."""
    if layout is None:
        return None
    return SpatialRenderer(layout, mode=mode, sample_rate=48_000, block_size=BLOCK_FRAMES)


async def async_setup_entry(
    hass: HomeAssistant, entry: EchoSenseConfigEntry, async_add_entities: AddConfigEntryEntitiesCallback
) -> None:
    """Add the hub's speaker."""
    hub = entry.runtime_data
    layout = speaker_layout(entry.options.get(CONF_LAYOUT), hub.config.output_channels)
    async_add_entities([EchoSenseSpeaker(hub, layout)])


class EchoSenseSpeaker(EchoSenseEntity, MediaPlayerEntity, RestoreEntity):
    """The hub's speaker."""

    _attr_device_class = MediaPlayerDeviceClass.SPEAKER
    _attr_supported_features = SUPPORTED_FEATURES
    _attr_media_content_type = MediaType.MUSIC
    _attr_volume_step = VOLUME_STEP

    def __init__(self, hub: EchoSenseHub, layout: DeviceLayout | None) -> None:
        super().__init__(hub, MediaPlayerEntityDescription(key="speaker", translation_key="speaker"))
        self._layout = layout
        self._attr_sound_mode_list = list(MODES) if layout is not None else ["stereo"]
        mode = hub.entry.options.get(CONF_SOUND_MODE, DEFAULT_SOUND_MODE)
        self._attr_sound_mode: str = mode if mode in self._attr_sound_mode_list else "stereo"
        self._position_s: float | None = None
        self._removed = False
        self._command_lock = asyncio.Lock()  # play and stop run in the executor: one at a time
        self._duration_s: float | None = None
        self._attr_volume_level = DEFAULT_VOLUME
        self._attr_is_volume_muted = False
        self._music = BusPlayer(hub.engine.media_bus, "media", self._player_changed)
        self._announcement = BusPlayer(hub.engine.announcement_bus, "announcement", self._player_changed)

    # -------------------------------------------------------------- lifecycle
    async def async_added_to_hass(self) -> None:
        await super().async_added_to_hass()
        last = await self.async_get_last_state()
        if last is not None and last.state not in (STATE_UNAVAILABLE, STATE_UNKNOWN):
            volume = last.attributes.get("volume_level")
            if isinstance(volume, (int, float)):
                self._attr_volume_level = float(volume)
            self._attr_is_volume_muted = bool(last.attributes.get("is_volume_muted", False))
            if last.attributes.get("sound_mode") in (self._attr_sound_mode_list or []):
                self._attr_sound_mode = last.attributes["sound_mode"]
        self._apply_volume()
        renderer = await self.hass.async_add_executor_job(make_renderer, self._layout, self._attr_sound_mode)
        self._music.set_renderer(renderer)
        # Speech goes to the drivers by side (stereo mode), never through the spatial virtualiser.
        speech = await self.hass.async_add_executor_job(make_renderer, self._layout, "stereo")
        self._announcement.set_renderer(speech)
        self._update_position()

    async def async_will_remove_from_hass(self) -> None:
        """Stop both player threads (nothing may outlive the entity)."""
        self._removed = True
        await self.hass.async_add_executor_job(self._music.stop)
        await self.hass.async_add_executor_job(self._announcement.stop)
        await super().async_will_remove_from_hass()

    def _player_changed(self) -> None:
        """A player thread reports a change: hop to the event loop."""
        self.hass.loop.call_soon_threadsafe(self._async_player_changed)

    @callback
    def _async_player_changed(self) -> None:
        if self._removed:  # a report that was on its way while the entity went
            return
        self._update_position()
        self.async_write_ha_state()

    # -------------------------------------------------------------- state
    @property
    def state(self) -> MediaPlayerState:
        if self._announcement.state is PlayerState.PLAYING and self._music.state is PlayerState.IDLE:
            return MediaPlayerState.PLAYING  # announcing with no music
        return _STATES[self._music.state]

    @property
    def extra_state_attributes(self) -> dict[str, Any]:
        return {
            "layout": self._layout.name if self._layout is not None else None,
            "announcing": self._announcement.state is PlayerState.PLAYING,
        }

    # Home Assistant annotates these as int; fractions of a second are fine for the frontend
    # and Music Assistant, and keep the reported position exact.
    @property
    def media_position(self) -> float | None:  # type: ignore[override]
        return self._position_s

    @property
    def media_duration(self) -> float | None:  # type: ignore[override]
        return self._duration_s

    def _update_position(self) -> None:
        """Take a position reading; the frontend extrapolates it while playing."""
        track = self._music.track
        if track is None or self._music.state is PlayerState.IDLE:
            self._position_s = None
            self._attr_media_position_updated_at = None
            self._duration_s = None
            if self._music.state is PlayerState.IDLE:
                self._attr_media_content_id = None
                self._attr_media_title = None
                self._attr_media_artist = None
            return
        self._duration_s = track.duration_s
        self._position_s = self._music.position_s
        self._attr_media_position_updated_at = dt_util.utcnow()

    @callback
    def async_write_ha_state(self) -> None:
        # The hub's periodic refresh calls this too: correct the reading when the engine's
        # clock has drifted from the frontend's extrapolation (a slow or stalled stream).
        if self._music.state is PlayerState.PLAYING and self._position_s is not None:
            updated = self._attr_media_position_updated_at or dt_util.utcnow()
            extrapolated = self._position_s + (dt_util.utcnow() - updated).total_seconds()
            if abs(self._music.position_s - extrapolated) > POSITION_DRIFT_S:
                self._update_position()
        super().async_write_ha_state()

    # -------------------------------------------------------------- playing
    async def async_play_media(self, media_type: MediaType | str, media_id: str, **kwargs: Any) -> None:
        """Play a media-source item or an http(s) URL; ``announce=True`` plays it over the music, ducked."""
        announce = bool(kwargs.get(ATTR_MEDIA_ANNOUNCE))
        source, name = await self._async_resolve(media_id)
        async with self._command_lock:
            await self._async_play(source, name, media_id, announce)

    async def _async_play(self, source: Source, name: str, media_id: str, announce: bool) -> None:
        player = self._announcement if announce else self._music
        if not announce:
            await self.hass.async_add_executor_job(self._music.stop)
            self._update_position()
            self.async_write_ha_state()
        try:
            track = await self.hass.async_add_executor_job(open_track, source, name)
        except EchoSenseError as err:
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="cannot_play",
                translation_placeholders={"media": name, "reason": str(err)},
            ) from err
        await self.hass.async_add_executor_job(player.play, track)
        if not announce:
            self._attr_media_content_id = media_id
            self._attr_media_title = track.title or Path(name.split("?", 1)[0]).name
            self._attr_media_artist = track.artist
        self._update_position()
        self.async_write_ha_state()

    async def _async_resolve(self, media_id: str) -> tuple[Source, str]:
        """(what to open, a name for messages) for a media-source id or URL."""
        if media_source.is_media_source_id(media_id):
            if media_id.startswith(TTS_MEDIA_SOURCE_PREFIX):
                from homeassistant.components import tts

                try:
                    _extension, data = await tts.async_get_media_source_audio(self.hass, media_id)
                except Exception as err:  # the TTS engine's errors are its own
                    raise HomeAssistantError(
                        translation_domain=DOMAIN,
                        translation_key="cannot_play",
                        translation_placeholders={"media": "text-to-speech audio", "reason": str(err)},
                    ) from err
                return data, "text-to-speech audio"
            resolved = await media_source.async_resolve_media(self.hass, media_id, self.entity_id)
            if resolved.path is not None:
                return str(resolved.path), resolved.path.name
            media_id = resolved.url
        url = async_process_play_media_url(self.hass, media_id)
        if not url.startswith(("http://", "https://")):
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="unsupported_media",
                translation_placeholders={"media": media_id},
            )
        return url, url.split("?", 1)[0]  # the name for messages leaves out signatures and tokens

    async def async_browse_media(
        self, media_content_type: MediaType | str | None = None, media_content_id: str | None = None
    ) -> BrowseMedia:
        """Browse the media sources, audio only."""
        return await media_source.async_browse_media(
            self.hass,
            media_content_id,
            content_filter=lambda item: item.media_content_type.startswith("audio/"),
        )

    async def async_media_pause(self) -> None:
        self._music.pause()
        self._update_position()
        self.async_write_ha_state()

    async def async_media_play(self) -> None:
        self._music.resume()
        self._update_position()
        self.async_write_ha_state()

    async def async_media_stop(self) -> None:
        async with self._command_lock:
            await self.hass.async_add_executor_job(self._music.stop)
            await self.hass.async_add_executor_job(self._announcement.stop)
        self._update_position()
        self.async_write_ha_state()

    async def async_media_seek(self, position: float) -> None:
        try:
            self._music.seek(position)
        except EchoSenseError as err:
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="cannot_seek",
                translation_placeholders={"reason": str(err)},
            ) from err
        self._position_s = max(0.0, min(position, self._duration_s or position))
        self._attr_media_position_updated_at = dt_util.utcnow()
        self.async_write_ha_state()

    # -------------------------------------------------------------- volume and sound mode
    def _apply_volume(self) -> None:
        volume = self._attr_volume_level if self._attr_volume_level is not None else DEFAULT_VOLUME
        muted = bool(self._attr_is_volume_muted)
        self._music.set_volume(volume, muted)
        self._announcement.set_volume(volume, muted)

    async def async_set_volume_level(self, volume: float) -> None:
        self._attr_volume_level = volume
        self._apply_volume()
        self.async_write_ha_state()

    async def async_mute_volume(self, mute: bool) -> None:
        self._attr_is_volume_muted = mute
        self._apply_volume()
        self.async_write_ha_state()

    async def async_select_sound_mode(self, sound_mode: str) -> None:
        if sound_mode not in (self._attr_sound_mode_list or []):
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="unknown_sound_mode",
                translation_placeholders={"mode": sound_mode, "modes": ", ".join(self._attr_sound_mode_list or [])},
            )
        renderer = await self.hass.async_add_executor_job(make_renderer, self._layout, sound_mode)
        self._music.set_renderer(renderer)
        self._attr_sound_mode = sound_mode
        self.async_write_ha_state()


__all__ = [
    "CONF_LAYOUT",
    "CONF_SOUND_MODE",
    "DEFAULT_SOUND_MODE",
    "EchoSenseSpeaker",
    "default_layout",
    "layout_choices",
    "speaker_layout",
]
