"""The intent rewriter's learning, kept in Home Assistant's Store (it never leaves the hub).

The library's :class:`~echo_sense_dsp.intent.RewriteStore` serialises to a versioned dict
(``to_dict`` / ``from_dict``); this module keeps that dict in ``.storage/echo_sense.rewriter.<entry_id>``.

Recovery: a file that is not JSON is renamed by Home Assistant itself
(``<file>.corrupt.<time>``, an error in the log and a repair issue). A file that is JSON but not a
rewrite store of a known layout is copied to the key ``<key>.corrupt`` (the backup); a file Home
Assistant's Store cannot read at all (no version wrapper, unreadable) is copied byte for byte to
``<file>.corrupt``. A warning is logged and the rewriter starts empty; the home keeps working.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers.storage import Store

from echo_sense_dsp.errors import StoreError
from echo_sense_dsp.intent import RewriteStore

from .const import DOMAIN

_LOGGER = logging.getLogger(__name__)

STORAGE_VERSION = 1
"""Version of Home Assistant's wrapper; the library's dict carries its own ``version``."""

SAVE_DELAY_S = 10.0
"""Turns are batched: the store is written at most this long after a turn."""


def _copy_if_exists(path: Path) -> str | None:
    """Copy ``path`` to ``<path>.corrupt`` (an existing copy is replaced); the copy's path or None."""
    if not path.is_file():
        return None
    backup = path.with_name(path.name + ".corrupt")
    shutil.copyfile(path, backup)
    return str(backup)


def storage_key(entry_id: str) -> str:
    """The Store key of one config entry's rewriter."""
    return f"{DOMAIN}.rewriter.{entry_id}"


class RewriterStorage:
    """Load and save one entry's :class:`RewriteStore` through Home Assistant's Store."""

    def __init__(self, hass: HomeAssistant, entry_id: str) -> None:
        self.hass = hass
        self.key = storage_key(entry_id)
        self._store: Store[dict[str, Any]] = Store(hass, STORAGE_VERSION, self.key, private=True, atomic_writes=True)
        self._backup: Store[dict[str, Any]] = Store(
            hass, STORAGE_VERSION, f"{self.key}.corrupt", private=True, atomic_writes=True
        )
        self.recovered_from: str | None = None

    async def async_load(self) -> RewriteStore:
        """The stored rewriter state; empty when there is none or it is corrupt (see the module doc)."""
        try:
            data = await self._store.async_load()
        except (HomeAssistantError, OSError, KeyError, TypeError, ValueError) as err:
            # Unreadable, or JSON without Home Assistant's version wrapper: keep the file's bytes.
            copied = await self.hass.async_add_executor_job(_copy_if_exists, Path(self._store.path))
            return await self._async_recover(None, f"unreadable: {err!r}; file copy: {copied}")
        if data is None:
            return RewriteStore()
        try:
            return RewriteStore.from_dict(data)
        except StoreError as err:
            return await self._async_recover(data, str(err))

    async def _async_recover(self, data: Any, why: str) -> RewriteStore:
        if data is not None:
            await self._backup.async_save({"raw": data})
        self.recovered_from = why
        _LOGGER.warning(
            "The intent rewriter's store %s is corrupt (%s); %s and started empty",
            self.key,
            why,
            f"kept a backup as {self._backup.key}" if data is not None else "kept what could be kept",
        )
        return RewriteStore()

    def async_schedule_save(self, store: RewriteStore) -> None:
        """Write ``store`` after :data:`SAVE_DELAY_S` (several turns make one write)."""
        self._store.async_delay_save(store.to_dict, SAVE_DELAY_S)

    async def async_save(self, store: RewriteStore) -> None:
        """Write ``store`` now (services, unload)."""
        await self._store.async_save(store.to_dict())

    async def async_remove(self) -> None:
        """Delete the stored state and its backup (the entry is removed)."""
        await self._store.async_remove()
        await self._backup.async_remove()
