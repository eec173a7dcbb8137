"""Write a Home Assistant configuration for the demo: echo_sense on the simulated hub.

Usage: .venv/bin/python scripts/demo_config.py CONFIG_DIR

It creates configuration.yaml and, through Home Assistant's own ConfigEntry class, a
config entry for the simulated room, so ``hass -c CONFIG_DIR`` starts with echo_sense
already set up. An existing configuration is left as it is.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from homeassistant.config_entries import STORAGE_KEY, STORAGE_VERSION, STORAGE_VERSION_MINOR, ConfigEntry
from homeassistant.helpers.json import json_bytes_sorted

from echo_sense_dsp.audio import SIMULATED_DEVICE_ID, probe_device
from echo_sense_dsp.audio.devices import SIMULATED_DEVICE

CONFIGURATION_YAML = """\
homeassistant:
  name: echo_sense demo
  unit_system: metric
  time_zone: UTC
  country: GB
  latitude: 51.5
  longitude: -0.1

frontend:
config:
history:
logbook:
# Set up with the first integrations, not with echo_sense's platforms: the history card asks the
# sensor integration for its device classes once, as the dashboard opens, and stays on "Loading
# state history" for the page's life if the answer is "unknown command".
sensor:
logger:
  default: warning
  logs:
    custom_components.echo_sense: info
    echo_sense_dsp: info
"""


HUB = "simulated_room_demo"
DASHBOARD = {
    "title": "echo_sense demo",
    "views": [
        {
            "title": "Hub",
            "path": "hub",
            "cards": [
                {
                    "type": "markdown",
                    "content": (
                        "## echo_sense on a simulated room\n"
                        "The hub's speaker plays an inaudible probe and its four microphones hear the echoes. "
                        "The household's scripted day runs in a loop: someone walks in, sits and reads, "
                        "leaves; music plays; someone talks over noise. Watch occupancy follow them."
                    ),
                },
                {
                    "type": "tile",
                    "entity": f"binary_sensor.{HUB}_occupancy",
                    "name": "Occupancy",
                },
                {
                    "type": "tile",
                    "entity": f"binary_sensor.{HUB}_motion",
                    "name": "Motion",
                    "state_content": ["state", "motion_kind"],
                },
                {
                    "type": "history-graph",
                    "title": "Presence, last 10 minutes",
                    "hours_to_show": 0.17,
                    "entities": [
                        {"entity": f"binary_sensor.{HUB}_occupancy", "name": "Occupancy"},
                        {"entity": f"binary_sensor.{HUB}_motion", "name": "Motion"},
                    ],
                },
                {
                    "type": "picture-entity",
                    "entity": f"image.{HUB}_doppler_spectrogram",
                    "name": "Doppler spectrogram (last 10 s; strip: grey none, amber minor, red major, white occupied)",
                    "show_state": False,
                },
                {
                    "type": "picture-entity",
                    "entity": f"image.{HUB}_calibration",
                    "name": "Calibration: SNR per probe frequency, the chosen one circled (Recalibrate to measure)",
                    "show_state": False,
                },
                {
                    "type": "entities",
                    "title": "Hub",
                    "entities": [
                        f"switch.{HUB}_ultrasonic_emission",
                        f"button.{HUB}_recalibrate_presence",
                        f"sensor.{HUB}_audio_engine",
                        f"sensor.{HUB}_audio_latency",
                    ],
                },
            ],
        }
    ],
}


def write_demo_config(config_dir: Path) -> None:
    config_dir.mkdir(parents=True, exist_ok=True)
    yaml_path = config_dir / "configuration.yaml"
    if not yaml_path.exists():
        yaml_path.write_text(CONFIGURATION_YAML)
    lovelace = config_dir / ".storage" / "lovelace"
    if not lovelace.exists():
        lovelace.parent.mkdir(parents=True, exist_ok=True)
        document = {"version": 1, "minor_version": 1, "key": "lovelace", "data": {"config": DASHBOARD}}
        lovelace.write_text(json.dumps(document, indent=2))
    storage = config_dir / ".storage" / STORAGE_KEY
    if storage.exists():
        return
    probe = probe_device(SIMULATED_DEVICE_ID)
    entry = ConfigEntry(
        domain="echo_sense",
        title=SIMULATED_DEVICE.name,
        data={
            "device_id": probe.device_id,
            "device_name": SIMULATED_DEVICE.name,
            "sample_rate": probe.sample_rate,
            "input_channels": probe.input_channels,
            "output_channels": probe.output_channels,
        },
        options={},
        source="user",
        unique_id=SIMULATED_DEVICE_ID,
        version=1,
        minor_version=1,
        discovery_keys={},  # type: ignore[arg-type]
        subentries_data=None,
    )
    document = {
        "version": STORAGE_VERSION,
        "minor_version": STORAGE_VERSION_MINOR,
        "key": STORAGE_KEY,
        "data": {"entries": [json.loads(json_bytes_sorted(entry.as_dict()))]},
    }
    storage.parent.mkdir(parents=True, exist_ok=True)
    storage.write_text(json.dumps(document, indent=2))


if __name__ == "__main__":
    write_demo_config(Path(sys.argv[1]))
