"""The voice satellite's service action: ``echo_sense.start_listening``.

Kept apart from :mod:`.assist_satellite` so that registering it (in ``async_setup``) does not
import the Assist components before the platform loads.
"""

from __future__ import annotations

from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import service

from .const import DOMAIN

SERVICE_START_LISTENING = "start_listening"
SATELLITE_DOMAIN = "assist_satellite"


@callback
def async_setup_satellite_services(hass: HomeAssistant) -> None:
    """Register ``echo_sense.start_listening`` on echo_sense's satellites (it calls ``async_start_listening``)."""
    service.async_register_platform_entity_service(
        hass,
        DOMAIN,
        SERVICE_START_LISTENING,
        entity_domain=SATELLITE_DOMAIN,
        schema=None,
        func="async_start_listening",
    )


__all__ = ["SERVICE_START_LISTENING", "async_setup_satellite_services"]
