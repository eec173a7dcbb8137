"""Ships echo_sense's automation blueprints into the user's blueprint folder."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

from homeassistant.core import HomeAssistant

from .const import DOMAIN

_LOGGER = logging.getLogger(__name__)

SHIPPED = Path(__file__).parent / "blueprints"


def install_blueprints(config_dir: str) -> list[Path]:
    """Copy shipped blueprints that the user does not have yet (theirs are never overwritten)."""
    installed = []
    for source in SHIPPED.glob("*/*.yaml"):
        target = Path(config_dir) / "blueprints" / source.parent.name / DOMAIN / source.name
        if target.exists():
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        installed.append(target)
    return installed


async def async_install_blueprints(hass: HomeAssistant) -> None:
    """Install the blueprints in the executor; a read-only config folder only logs."""
    try:
        installed = await hass.async_add_executor_job(install_blueprints, hass.config.config_dir)
    except OSError as err:
        _LOGGER.warning("Could not install echo_sense's blueprints: %s", err)
        return
    for path in installed:
        _LOGGER.info("Installed blueprint %s", path)
