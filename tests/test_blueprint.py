"""The shipped "lights on presence" blueprint is valid and installs without overwriting."""

from __future__ import annotations

from pathlib import Path

from homeassistant.components.automation.config import AUTOMATION_BLUEPRINT_SCHEMA
from homeassistant.components.blueprint import models
from homeassistant.core import HomeAssistant
from homeassistant.util.yaml import load_yaml_dict

from custom_components.echo_sense.blueprints import SHIPPED, install_blueprints

BLUEPRINT = SHIPPED / "automation" / "lights_on_presence.yaml"


def test_blueprint_is_a_valid_automation_blueprint() -> None:
    blueprint = models.Blueprint(
        load_yaml_dict(str(BLUEPRINT)), expected_domain="automation", schema=AUTOMATION_BLUEPRINT_SCHEMA
    )
    assert set(blueprint.inputs) == {"occupancy_sensor", "lights", "only_when_dark"}
    assert blueprint.metadata["domain"] == "automation"


def test_install_copies_once_and_keeps_user_edits(tmp_path: Path) -> None:
    installed = install_blueprints(str(tmp_path))
    target = tmp_path / "blueprints" / "automation" / "echo_sense" / "lights_on_presence.yaml"
    assert installed == [target]
    target.write_text(target.read_text() + "\n# my change\n")
    assert install_blueprints(str(tmp_path)) == []
    assert target.read_text().endswith("# my change\n")


async def test_blueprint_builds_an_automation(hass: HomeAssistant, tmp_path: Path) -> None:
    from homeassistant.setup import async_setup_component

    hass.config.config_dir = str(tmp_path)
    install_blueprints(hass.config.config_dir)
    assert await async_setup_component(
        hass,
        "automation",
        {
            "automation": {
                "use_blueprint": {
                    "path": "echo_sense/lights_on_presence.yaml",
                    "input": {
                        "occupancy_sensor": "binary_sensor.hub_occupancy",
                        "lights": {"entity_id": "light.reading_lamp"},
                        "only_when_dark": False,
                    },
                }
            }
        },
    )
    calls = []
    hass.services.async_register("light", "turn_on", lambda call: calls.append(("on", call.data)))
    hass.services.async_register("light", "turn_off", lambda call: calls.append(("off", call.data)))
    hass.states.async_set("binary_sensor.hub_occupancy", "off")
    await hass.async_block_till_done()
    hass.states.async_set("binary_sensor.hub_occupancy", "on")
    await hass.async_block_till_done()
    hass.states.async_set("binary_sensor.hub_occupancy", "off")
    await hass.async_block_till_done()
    assert [c[0] for c in calls] == ["on", "off"]
    assert calls[0][1]["entity_id"] == ["light.reading_lamp"]
