"""Service actions of the intent rewriter: list, add (teach), forget learned rewrites; purge.

Registered once in the integration's ``async_setup``. Every action takes an optional
``config_entry_id``; it may be left out while exactly one echo_sense entry is loaded.
Bad input raises :class:`ServiceValidationError` with a translation key.
"""

from __future__ import annotations

from typing import Any, cast

import voluptuous as vol
from homeassistant.core import HomeAssistant, ServiceCall, ServiceResponse, SupportsResponse, callback
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import config_validation as cv
from homeassistant.util.json import JsonValueType

from echo_sense_dsp.errors import EchoSenseError
from echo_sense_dsp.intent import HOUSEHOLD

from .const import DOMAIN
from .conversation import RewriterRuntime, loaded_runtimes

SERVICE_LIST_REWRITES = "list_rewrites"
SERVICE_ADD_REWRITE = "add_rewrite"
SERVICE_FORGET_REWRITE = "forget_rewrite"
SERVICE_PURGE_LEARNING = "purge_learning"

ATTR_CONFIG_ENTRY_ID = "config_entry_id"
ATTR_SCOPE = "scope"
ATTR_TRIGGER = "trigger"
ATTR_COMMANDS = "commands"
ATTR_UTTERANCE = "utterance"

MAX_PHRASE_CHARS = 256
"""Longest trigger, command or utterance a service accepts."""

_TEXT = vol.All(cv.string, vol.Strip, vol.Length(min=1, max=MAX_PHRASE_CHARS))
_SCOPE = vol.All(cv.string, vol.Strip, vol.Length(min=1, max=128))
_ENTRY: dict[vol.Marker, Any] = {vol.Optional(ATTR_CONFIG_ENTRY_ID): cv.string}

LIST_SCHEMA = vol.Schema({**_ENTRY, vol.Optional(ATTR_SCOPE): _SCOPE})
ADD_SCHEMA = vol.Schema(
    {
        **_ENTRY,
        vol.Required(ATTR_TRIGGER): _TEXT,
        vol.Required(ATTR_COMMANDS): vol.All(cv.ensure_list, vol.Length(min=1, max=8), [_TEXT]),
        vol.Optional(ATTR_SCOPE, default=HOUSEHOLD): _SCOPE,
    }
)
FORGET_SCHEMA = vol.Schema({**_ENTRY, vol.Required(ATTR_UTTERANCE): _TEXT})
PURGE_SCHEMA = vol.Schema(_ENTRY)


def _runtime(hass: HomeAssistant, call: ServiceCall) -> RewriterRuntime:
    runtimes = loaded_runtimes(hass)
    entry_id = call.data.get(ATTR_CONFIG_ENTRY_ID)
    if entry_id is not None:
        if entry_id not in runtimes:
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="rewriter_entry_not_loaded",
                translation_placeholders={"entry_id": str(entry_id)},
            )
        return runtimes[entry_id]
    if len(runtimes) != 1:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="rewriter_entry_required",
            translation_placeholders={"count": str(len(runtimes))},
        )
    return next(iter(runtimes.values()))


async def _async_list(hass: HomeAssistant, call: ServiceCall) -> ServiceResponse:
    runtime = _runtime(hass, call)
    rewrites = runtime.rewriter.list_rewrites(scope=call.data.get(ATTR_SCOPE))
    return {"rewrites": cast("list[JsonValueType]", rewrites)}


async def _async_add(hass: HomeAssistant, call: ServiceCall) -> ServiceResponse:
    runtime = _runtime(hass, call)
    try:
        taught = runtime.rewriter.teach(
            call.data[ATTR_TRIGGER], list(call.data[ATTR_COMMANDS]), scope=call.data[ATTR_SCOPE]
        )
    except EchoSenseError as err:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="rewriter_invalid_rewrite",
            translation_placeholders={"reason": str(err)},
        ) from err
    await runtime.async_save()
    return {"rewrite": taught.to_dict()}


async def _async_forget(hass: HomeAssistant, call: ServiceCall) -> ServiceResponse:
    runtime = _runtime(hass, call)
    try:
        removed = runtime.rewriter.forget(call.data[ATTR_UTTERANCE])
    except EchoSenseError as err:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="rewriter_invalid_utterance",
            translation_placeholders={"reason": str(err)},
        ) from err
    await runtime.async_save()
    return {"removed": removed}


async def _async_purge(hass: HomeAssistant, call: ServiceCall) -> None:
    runtime = _runtime(hass, call)
    runtime.rewriter.purge()
    await runtime.async_save()


@callback
def async_setup_rewriter_services(hass: HomeAssistant) -> None:
    """Register the rewriter's service actions (once, from the integration's ``async_setup``)."""

    async def list_rewrites(call: ServiceCall) -> ServiceResponse:
        return await _async_list(hass, call)

    async def add_rewrite(call: ServiceCall) -> ServiceResponse:
        return await _async_add(hass, call)

    async def forget_rewrite(call: ServiceCall) -> ServiceResponse:
        return await _async_forget(hass, call)

    async def purge_learning(call: ServiceCall) -> None:
        await _async_purge(hass, call)

    registrations: list[tuple[str, Any, vol.Schema, SupportsResponse]] = [
        (SERVICE_LIST_REWRITES, list_rewrites, LIST_SCHEMA, SupportsResponse.ONLY),
        (SERVICE_ADD_REWRITE, add_rewrite, ADD_SCHEMA, SupportsResponse.OPTIONAL),
        (SERVICE_FORGET_REWRITE, forget_rewrite, FORGET_SCHEMA, SupportsResponse.OPTIONAL),
        (SERVICE_PURGE_LEARNING, purge_learning, PURGE_SCHEMA, SupportsResponse.NONE),
    ]
    for name, handler, schema, supports_response in registrations:
        hass.services.async_register(DOMAIN, name, handler, schema=schema, supports_response=supports_response)
