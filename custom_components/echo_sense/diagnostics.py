"""Diagnostics download for an echo_sense config entry."""

from __future__ import annotations

from typing import Any

from homeassistant.core import HomeAssistant

from .conversation import async_get_rewriter_diagnostics
from .hub import EchoSenseConfigEntry


async def async_get_config_entry_diagnostics(hass: HomeAssistant, entry: EchoSenseConfigEntry) -> dict[str, Any]:
    """Return the entry's settings and the hub's live state (no personal data is kept here)."""
    return {
        "entry": {"title": entry.title, "data": dict(entry.data), "options": dict(entry.options)},
        "hub": entry.runtime_data.diagnostics(),
        "rewriter": await async_get_rewriter_diagnostics(hass, entry),
    }
