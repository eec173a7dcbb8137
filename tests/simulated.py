"""The simulated hub's config entry, as the config flow makes it for the demo room."""

from __future__ import annotations

from typing import Any

from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.echo_sense.const import DOMAIN
from echo_sense_dsp.audio import SIMULATED_DEVICE_ID

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
