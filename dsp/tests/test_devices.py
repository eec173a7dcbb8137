"""Sound-device listing and probing against the real PortAudio where the machine has it."""

from __future__ import annotations

import os

import pytest

from echo_sense_dsp.audio import SIMULATED_DEVICE_ID, ULTRASONIC_SAMPLE_RATE, list_devices, probe_device
from echo_sense_dsp.errors import DeviceNotFoundError

needs_pulse = pytest.mark.skipif(
    os.environ.get("ECHO_SENSE_PULSE") != "1",
    reason="needs the PulseAudio null sink that scripts/test.sh starts (ECHO_SENSE_PULSE=1)",
)


def test_simulated_device_probes_at_96k_without_hardware() -> None:
    result = probe_device(SIMULATED_DEVICE_ID)
    assert result.ultrasonic
    assert result.sample_rate == ULTRASONIC_SAMPLE_RATE


@needs_pulse
def test_real_devices_are_listed_duplex_first_with_rates() -> None:
    devices = list_devices()
    assert devices, "PulseAudio is running, so PortAudio must list at least one device"
    duplex = [d.full_duplex for d in devices]
    assert duplex == sorted(duplex, reverse=True)
    pulse = next(d for d in devices if d.device_id.endswith(":pulse"))
    assert ULTRASONIC_SAMPLE_RATE in pulse.sample_rates


@needs_pulse
def test_unknown_device_id_is_not_found() -> None:
    with pytest.raises(DeviceNotFoundError, match="no sound device 'ALSA:No Such Card'"):
        probe_device("ALSA:No Such Card")
