"""Fixtures for the Home Assistant tests (pytest-homeassistant-custom-component)."""

from __future__ import annotations

import os
from collections.abc import Generator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.echo_sense.const import DOMAIN
from echo_sense_dsp.audio import SIMULATED_DEVICE_ID, backends, devices
from echo_sense_dsp.errors import DeviceBusyError, DeviceError

# the simulated hub's config entry, as the config flow makes it for the demo room
SIMULATED_TITLE = "Simulated room (demo)"
SIMULATED_DATA = {
    "device_id": SIMULATED_DEVICE_ID,
    "device_name": SIMULATED_TITLE,
    "sample_rate": 96000,
    "input_channels": 4,
    "output_channels": 2,
}


def simulated_entry(options: dict[str, Any] | None = None, **fields: Any) -> MockConfigEntry:
    """A config entry for the simulated hub (not yet added to Home Assistant)."""
    return MockConfigEntry(
        domain=DOMAIN,
        unique_id=SIMULATED_DEVICE_ID,
        title=SIMULATED_TITLE,
        data=SIMULATED_DATA,
        options=options or {},
        **fields,
    )


PULSE_AVAILABLE = os.environ.get("ECHO_SENSE_PULSE") == "1"
needs_pulse = pytest.mark.skipif(
    not PULSE_AVAILABLE, reason="needs the PulseAudio null sink that scripts/test.sh starts (ECHO_SENSE_PULSE=1)"
)


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(enable_custom_integrations: None) -> None:
    """Let Home Assistant load custom_components/echo_sense in every test."""


@pytest.fixture(autouse=True)
def private_config_dir(hass: HomeAssistant, tmp_path: Path) -> None:
    """Files the integration writes (blueprints) go to the test's own folder, not the plugin's."""
    hass.config.config_dir = str(tmp_path)


@pytest.fixture(autouse=True)
async def ha_core(hass: HomeAssistant) -> HomeAssistant:
    """Home Assistant with its core integration set up, as in a real start (conversation needs it)."""
    from homeassistant.setup import async_setup_component

    assert await async_setup_component(hass, "homeassistant", {})
    return hass


class ScriptedPortAudio:
    """PortAudio as sound cards that no CI machine has would answer it.

    It stands in for hardware only: a 48 kHz-only USB card, a card held by another
    program, an output-only card. The real PortAudio (a PulseAudio null sink) is used
    by the tests marked ``needs_pulse``.
    """

    CARDS: ClassVar[dict[str, dict[str, Any]]] = {
        "USB 48k Card": {"inputs": 2, "outputs": 2, "rates": {16000, 44100, 48000}, "busy": False},
        "Busy Card": {"inputs": 4, "outputs": 2, "rates": {48000, 96000}, "busy": True},
        "Speaker Only": {"inputs": 0, "outputs": 2, "rates": {48000, 96000}, "busy": False},
        "Hub Array 96k": {"inputs": 4, "outputs": 2, "rates": {48000, 96000}, "busy": False},
    }
    removed: ClassVar[set[str]] = set()

    def query(self) -> list[dict[str, Any]]:
        return [
            {
                "name": name,
                "index": index,
                "hostapi": 0,
                "hostapi_name": "ALSA",
                "max_input_channels": card["inputs"],
                "max_output_channels": card["outputs"],
                "default_samplerate": 48000.0,
            }
            for index, (name, card) in enumerate(self.CARDS.items())
            if name not in self.removed
        ]

    def _card(self, index: int) -> dict[str, Any]:
        return list(self.CARDS.values())[index]

    def check(self, index: int, input_channels: int, output_channels: int, sample_rate: int) -> None:
        if sample_rate not in self._card(index)["rates"]:
            raise DeviceError("Invalid sample rate [PaErrorCode -9997]")

    def open_duplex(self, index: int, input_channels: int, output_channels: int, sample_rate: int) -> None:
        if self._card(index)["busy"]:
            raise DeviceBusyError("the device is busy (another program may be using it): Device unavailable")


class ScriptedCardStream:
    """A stream on a scripted card: such cards exist only as descriptions, so opening fails."""

    realtime = True
    latency_s = 0.0
    input_overflows = 0
    output_underflows = 0

    def __init__(self, device: str, **kwargs: Any) -> None:
        self.device = device

    def open(self, config: Any, callback: Any, on_error: Any) -> None:
        raise DeviceError(f"{self.device} is a scripted card and cannot stream")

    def close(self) -> None:
        """Nothing was opened."""


@pytest.fixture
def scripted_portaudio(monkeypatch: pytest.MonkeyPatch) -> Generator[type[ScriptedPortAudio]]:
    """Route the library's PortAudio calls to :class:`ScriptedPortAudio` (and its streams to failure)."""
    ScriptedPortAudio.removed = set()
    monkeypatch.setattr(devices, "SoundDeviceQuery", ScriptedPortAudio)
    monkeypatch.setattr(backends, "SoundDeviceBackend", ScriptedCardStream)  # backend_factory_for's real-card path
    yield ScriptedPortAudio
    ScriptedPortAudio.removed = set()
