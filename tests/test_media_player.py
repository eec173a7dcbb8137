"""The hub's speaker as a media player, inside Home Assistant, through the simulated hub.

Media files are written by the tests themselves (a FLAC encoded with PyAV, WAVs with the
library's ``write_wav``) into the media-source ``local`` folder.
"""

from __future__ import annotations

import asyncio
import functools
import http.server
import threading
from collections.abc import AsyncGenerator, Callable
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from homeassistant.components.media_player import DOMAIN as MP_DOMAIN
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import ATTR_ENTITY_ID
from homeassistant.core import CoreState, HomeAssistant, State
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import discovery
from homeassistant.setup import async_setup_component
from numpy.typing import NDArray
from pytest_homeassistant_custom_component.common import mock_restore_cache

from custom_components.echo_sense import hub as hub_module
from custom_components.echo_sense.const import CONF_SOUND_MODE
from custom_components.echo_sense.hub import EchoSenseHub
from custom_components.echo_sense.media_player import default_layout, layout_choices, speaker_layout
from custom_components.echo_sense.presence import PresencePipeline
from echo_sense_dsp.audio.buses import DEFAULT_DUCK_DB
from echo_sense_dsp.audio.playback import LEAD_S
from echo_sense_dsp.room import LiveRoom
from echo_sense_dsp.wavio import write_wav

from .conftest import simulated_entry

ENTITY = "media_player.simulated_room_demo_speaker"
WAIT_S = 30.0  # s: the simulated room may run slower than real time on a loaded CI machine
POSITION_TOL_S = 0.15  # s: reported position versus what the engine has taken from the bus
DURATION_TOL_S = 0.03  # s: container duration versus the samples written
TONE_HZ = 440.0
TONE_AMPLITUDE = 0.3
DUCK_TOL_DB = 0.5  # dB: ducking gain reached versus the engine's duck depth


def _tone(duration_s: float, rate: int, channels: int = 2) -> NDArray[np.float32]:
    t = np.arange(round(duration_s * rate)) / rate
    mono = (TONE_AMPLITUDE * np.sin(2 * np.pi * TONE_HZ * t)).astype(np.float32)
    return np.repeat(mono[:, None], channels, axis=1)


def write_flac(path: Path, samples: NDArray[np.float32], rate: int) -> None:
    """Encode stereo float samples as 16-bit FLAC with PyAV."""
    pcm = (np.clip(samples, -1, 1) * 32767).astype(np.int16)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("flac", rate=rate, layout="stereo")
        stream.format = "s16"
        for start in range(0, pcm.shape[0], 4096):
            chunk = np.ascontiguousarray(pcm[start : start + 4096]).reshape(1, -1)
            frame = av.AudioFrame.from_ndarray(chunk, format="s16", layout="stereo")
            frame.sample_rate = rate
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)


def tone_level(reference: NDArray[np.float32], rate: int) -> float:
    """Amplitude of the TONE_HZ component of a (frames, channels) block (projection on the sinusoid)."""
    x = reference.mean(axis=1)
    t = np.arange(x.shape[0]) / rate
    return float(2 * np.abs(np.sum(x * np.exp(-2j * np.pi * TONE_HZ * t))) / x.shape[0])


async def _wait_for(condition: Callable[[], bool], what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT_S
    while not condition():
        assert loop.time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


@pytest.fixture
async def media_dir(hass: HomeAssistant, tmp_path: Path) -> Path:
    """A media-source 'local' folder with the test media, and media_source set up."""
    write_flac(tmp_path / "tone.flac", _tone(4.0, 44_100), 44_100)
    write_wav(tmp_path / "chime.wav", _tone(1.0, 16_000, channels=1), 16_000)
    (tmp_path / "broken.mp3").write_bytes(np.random.default_rng(6).bytes(20_000))
    hass.config.media_dirs = {"local": str(tmp_path)}
    assert await async_setup_component(hass, "media_source", {})
    return tmp_path


@pytest.fixture
async def speaker(
    hass: HomeAssistant, media_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncGenerator[EchoSenseHub]:
    """The simulated hub (an empty room, 2 drivers) with its speaker entity; unloaded afterwards."""
    monkeypatch.setattr(hub_module, "simulated_room", lambda config: LiveRoom("empty_room", driver_count=2))
    # Presence is not under test here: its detector thread would only take CPU from the player.
    monkeypatch.setattr(PresencePipeline, "start", lambda self: None)
    entry = simulated_entry()
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    yield entry.runtime_data
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.NOT_LOADED
    assert not [t.name for t in threading.enumerate() if t.name.startswith("echo-sense-")]  # players joined


async def _call(hass: HomeAssistant, service: str, **data: Any) -> None:
    await hass.services.async_call(MP_DOMAIN, service, {ATTR_ENTITY_ID: ENTITY, **data}, blocking=True)


def _state(hass: HomeAssistant) -> Any:
    state = hass.states.get(ENTITY)
    assert state is not None
    return state


async def test_media_source_file_plays_through_the_hub_with_right_state_and_position(
    hass: HomeAssistant, speaker: EchoSenseHub
) -> None:
    engine = speaker.engine
    state = _state(hass)
    assert state.state == "idle"
    assert state.attributes["sound_mode"] == "spatial"
    assert state.attributes["sound_mode_list"] == ["spatial", "stereo"]
    assert state.attributes["layout"] == "narrow-stereo"
    sub = engine.subscribe_input("test-reference", with_reference=True)
    try:
        played_at_start = engine.media_bus.frames_played  # nothing plays yet: the bus is empty
        await _call(
            hass,
            "play_media",
            media_content_id="media-source://media_source/local/tone.flac",
            media_content_type="music",
        )
        state = _state(hass)
        assert state.state == "playing"
        assert state.attributes["media_duration"] == pytest.approx(4.0, abs=DURATION_TOL_S)
        assert state.attributes["media_title"] == "tone.flac"
        await _wait_for(lambda: engine.media_bus.frames_played - played_at_start > 48_000, "1 s of music played")

        # the tone reaches the drive the device gets (the simulated hub's speaker)
        await hass.async_add_executor_job(sub.get, 1.0)
        blocks = [await hass.async_add_executor_job(sub.get, 1.0) for _ in range(20)]
        reference = np.concatenate([b.reference for b in blocks if b is not None and b.reference is not None])
        assert tone_level(reference, engine.sample_rate) > 0.01

        await _call(hass, "media_pause")
        state = _state(hass)
        assert state.state == "paused"
        await asyncio.sleep(LEAD_S)
        # the queued lead drains (later on a loaded machine, where the engine's worker lags), then the position holds
        last = -1
        for _ in range(int(WAIT_S / 0.3)):
            if (played := engine.media_bus.frames_played) == last:
                break
            last = played
            await asyncio.sleep(0.3)
        else:
            pytest.fail("the music kept playing after the pause")
        truth_s = (last - played_at_start) / 48_000
        state = _state(hass)
        assert state.state == "paused"
        assert state.attributes["media_position"] == pytest.approx(truth_s, abs=POSITION_TOL_S)

        await _call(hass, "media_seek", seek_position=3.0)
        assert _state(hass).attributes["media_position"] == pytest.approx(3.0, abs=POSITION_TOL_S)
        await _call(hass, "media_play")
        assert _state(hass).state == "playing"
        await _wait_for(lambda: engine.media_bus.queued_s > 0, "music after the seek")
        await _wait_for(lambda: _state(hass).state == "idle", "the end of the track")
        assert _state(hass).attributes.get("media_position") is None
    finally:
        engine.unsubscribe(sub)


async def test_announcement_ducks_the_music_and_music_goes_on(hass: HomeAssistant, speaker: EchoSenseHub) -> None:
    engine = speaker.engine
    await _call(
        hass, "play_media", media_content_id="media-source://media_source/local/tone.flac", media_content_type="music"
    )
    await _wait_for(lambda: engine.media_bus.frames_played > 24_000, "music")
    assert engine.ducker.gain_db == 0.0
    await _call(
        hass,
        "play_media",
        media_content_id="media-source://media_source/local/chime.wav",
        media_content_type="music",
        announce=True,
    )
    assert _state(hass).attributes["announcing"] is True
    await _wait_for(lambda: engine.ducker.gain_db <= DEFAULT_DUCK_DB + DUCK_TOL_DB, "ducking")
    assert _state(hass).state == "playing"
    await _wait_for(lambda: not _state(hass).attributes["announcing"], "the announcement to end")
    await _wait_for(lambda: engine.ducker.gain_db == 0.0, "the music to come back")
    assert _state(hass).state == "playing"
    assert _state(hass).attributes["media_title"] == "tone.flac"
    await _call(hass, "media_stop")
    assert _state(hass).state == "idle"


async def test_bad_url_and_undecodable_file_give_clear_errors_and_player_stays_usable(
    hass: HomeAssistant, speaker: EchoSenseHub
) -> None:
    with pytest.raises(HomeAssistantError) as err:
        await _call(hass, "play_media", media_content_id="http://127.0.0.1:9/missing.mp3", media_content_type="music")
    assert err.value.translation_key == "cannot_play"
    assert "missing.mp3" in str(err.value)
    assert _state(hass).state == "idle"

    with pytest.raises(HomeAssistantError) as err:
        await _call(
            hass,
            "play_media",
            media_content_id="media-source://media_source/local/broken.mp3",
            media_content_type="music",
        )
    assert err.value.translation_key == "cannot_play"
    assert "broken.mp3" in str(err.value)
    assert _state(hass).state == "idle"

    with pytest.raises(ServiceValidationError) as err:
        await _call(hass, "play_media", media_content_id="ftp://example.com/a.mp3", media_content_type="music")
    assert err.value.translation_key == "unsupported_media"

    await _call(
        hass, "play_media", media_content_id="media-source://media_source/local/tone.flac", media_content_type="music"
    )
    assert _state(hass).state == "playing"
    await _call(hass, "media_stop")
    assert _state(hass).state == "idle"


async def test_volume_mute_sound_mode_and_browse(hass: HomeAssistant, speaker: EchoSenseHub) -> None:
    entity = hass.data["entity_components"][MP_DOMAIN].get_entity(ENTITY)
    await _call(hass, "volume_set", volume_level=0.3)
    assert _state(hass).attributes["volume_level"] == pytest.approx(0.3)
    await _call(hass, "volume_up")
    assert _state(hass).attributes["volume_level"] == pytest.approx(0.35)
    await _call(hass, "volume_mute", is_volume_muted=True)
    assert _state(hass).attributes["is_volume_muted"] is True
    assert entity._music._ramp.target == 0.0
    await _call(hass, "volume_mute", is_volume_muted=False)
    assert entity._music._ramp.target == pytest.approx(0.35**2)

    await _call(hass, "select_sound_mode", sound_mode="stereo")
    assert _state(hass).attributes["sound_mode"] == "stereo"
    assert entity._music._renderer.mode == "stereo"
    with pytest.raises(ServiceValidationError):
        await _call(hass, "select_sound_mode", sound_mode="surround")

    browse = await entity.async_browse_media(None, "media-source://media_source/local/.")
    files = {child.title for child in browse.children if not child.can_expand}
    assert files == {"tone.flac", "chime.wav", "broken.mp3"}  # audio only; folders stay browsable


async def test_tts_say_plays_as_an_announcement(ha_core: HomeAssistant, speaker: EchoSenseHub) -> None:
    """Home Assistant's TTS (the demo engine's MP3) reaches the announcement bus, not the music."""
    hass = ha_core
    # tts is already set up (the satellite platform depends on it), so load the demo engine into it.
    await discovery.async_load_platform(hass, "tts", "demo", {}, {"tts": [{"platform": "demo"}]})
    await hass.async_block_till_done()
    engine = speaker.engine
    played_before = engine.announcement_bus.frames_played
    await hass.services.async_call(
        "tts", "demo_say", {ATTR_ENTITY_ID: ENTITY, "message": "Dinner is ready"}, blocking=True
    )
    await hass.async_block_till_done()
    await _wait_for(lambda: engine.announcement_bus.frames_played - played_before > 24_000, "the spoken message")
    assert engine.media_bus.frames_played == 0
    await _wait_for(lambda: not _state(hass).attributes["announcing"], "the announcement to end")
    assert _state(hass).state == "idle"


async def test_http_url_plays_and_stops(
    hass: HomeAssistant, speaker: EchoSenseHub, media_dir: Path, socket_enabled: None
) -> None:
    """A plain http URL (a local web server serving the test FLAC), decoded by PyAV."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(media_dir))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="test-http", daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/tone.flac"
        await _call(hass, "play_media", media_content_id=url, media_content_type="music")
        state = _state(hass)
        assert state.state == "playing"
        assert state.attributes["media_content_id"] == url
        assert state.attributes["media_duration"] == pytest.approx(4.0, abs=DURATION_TOL_S)
        await _wait_for(lambda: speaker.engine.media_bus.frames_played > 24_000, "music from the URL")
        await _call(hass, "media_stop")
        assert _state(hass).state == "idle"
        assert speaker.engine.media_bus.queued_s == 0
    finally:
        await hass.async_add_executor_job(server.shutdown)
        server.server_close()
        thread.join()


def test_layout_option_falls_back_to_the_preset_with_one_driver_per_output(
    hass: HomeAssistant, caplog: pytest.LogCaptureFixture
) -> None:
    assert default_layout(2) == "narrow-stereo"
    assert default_layout(4) == "soundbar-4"
    assert default_layout(5) == "studio-array"
    assert default_layout(3) is None
    assert layout_choices(2) == ["narrow-stereo"]
    assert layout_choices(3) == []
    layout = speaker_layout("soundbar-4", 4)
    assert layout is not None and layout.name == "soundbar-4"
    layout = speaker_layout("soundbar-4", 2)
    assert layout is not None and layout.name == "narrow-stereo"
    assert "has 4 drivers but the sound device has 2 outputs" in caplog.text
    layout = speaker_layout("no-such-layout", 5)
    assert layout is not None and layout.name == "studio-array"
    assert speaker_layout(None, 3) is None  # no preset fits: plain stereo


async def test_volume_mute_and_sound_mode_survive_a_restart(
    hass: HomeAssistant, media_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hub_module, "simulated_room", lambda config: LiveRoom("empty_room", driver_count=2))
    monkeypatch.setattr(PresencePipeline, "start", lambda self: None)
    hass.set_state(CoreState.not_running)
    mock_restore_cache(
        hass, [State(ENTITY, "idle", {"volume_level": 0.8, "is_volume_muted": True, "sound_mode": "stereo"})]
    )
    entry = simulated_entry({CONF_SOUND_MODE: "spatial"})
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    try:
        state = _state(hass)
        assert state.attributes["volume_level"] == pytest.approx(0.8)
        assert state.attributes["is_volume_muted"] is True
        assert state.attributes["sound_mode"] == "stereo"
    finally:
        assert await hass.config_entries.async_unload(entry.entry_id)
        await hass.async_block_till_done()
