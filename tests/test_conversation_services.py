"""The intent rewriter's service actions: list, add (teach), forget, purge; input validation."""

# The home and entry fixtures come from test_conversation (imported by name, so F811 is expected).
# ruff: noqa: F811

from __future__ import annotations

from typing import Any

import pytest
import voluptuous as vol
from homeassistant.components import conversation
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import intent
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.echo_sense.const import DOMAIN
from custom_components.echo_sense.conversation import loaded_runtimes

from .test_conversation import Home, audio_hub_stubbed, home, rewriter_entry, speech  # noqa: F401

MOVIE_TIME = {"trigger": "Movie time!", "commands": ["turn off the living room ceiling", "turn on the TV"]}


async def call(home: Home, service: str, data: dict[str, Any], *, response: bool = True) -> Any:
    return await home.hass.services.async_call(DOMAIN, service, data, blocking=True, return_response=response)


async def test_add_then_list_returns_the_normalised_rewrite(home: Home, rewriter_entry: MockConfigEntry) -> None:
    added = await call(home, "add_rewrite", MOVIE_TIME)
    assert added == {
        "rewrite": {
            "trigger": "movie time",
            "commands": ["turn off the living room ceiling", "turn on the tv"],
            "scope": "household",
            "created_s": added["rewrite"]["created_s"],
        }
    }
    listed = await call(home, "list_rewrites", {})
    assert [(r["kind"], r["trigger"]) for r in listed["rewrites"]] == [("taught", "movie time")]
    assert await call(home, "list_rewrites", {"scope": "user:nobody"}) == {"rewrites": []}

    await home.set_power("living_room_ceiling", True)
    spoken = await home.say("movie time")
    assert spoken.response_type is intent.IntentResponseType.ACTION_DONE
    assert home.state("switch.tv") == "on"
    assert home.state("light.living_room_ceiling") == "off"


async def test_forget_removes_the_rewrite_and_the_phrase_goes_back_to_the_agent(
    home: Home, rewriter_entry: MockConfigEntry
) -> None:
    await call(home, "add_rewrite", MOVIE_TIME)
    assert await call(home, "forget_rewrite", {"utterance": "MOVIE TIME"}) == {"removed": 1}
    assert await call(home, "list_rewrites", {}) == {"rewrites": []}
    direct = await home.say("movie time", agent_id=conversation.HOME_ASSISTANT_AGENT, conversation_id="direct")
    spoken = await home.say("movie time", conversation_id="via-echo")
    assert spoken.response_type is direct.response_type
    assert speech(spoken) == speech(direct)
    assert [r.rule for r in loaded_runtimes(home.hass)[rewriter_entry.entry_id].rewriter.store.log] == ["unchanged"]


async def test_purge_drops_the_log_and_every_rewrite(home: Home, rewriter_entry: MockConfigEntry) -> None:
    await call(home, "add_rewrite", MOVIE_TIME)
    await home.say("turn on the kitchen light")
    runtime = loaded_runtimes(home.hass)[rewriter_entry.entry_id]
    assert len(runtime.rewriter.store.log) == 1
    await call(home, "purge_learning", {}, response=False)
    assert len(runtime.rewriter.store.log) == 0
    assert await call(home, "list_rewrites", {}) == {"rewrites": []}


@pytest.mark.parametrize(
    ("service", "data"),
    [
        ("add_rewrite", {"trigger": "", "commands": ["turn on the tv"]}),
        ("add_rewrite", {"trigger": "movie time", "commands": []}),
        ("add_rewrite", {"trigger": "movie time"}),
        ("add_rewrite", {"trigger": "x" * 300, "commands": ["turn on the tv"]}),
        ("add_rewrite", {"trigger": "movie time", "commands": ["turn on the tv"] * 9}),
        ("add_rewrite", {"trigger": "movie time", "commands": [{"not": "text"}]}),
        ("add_rewrite", {"trigger": "movie time", "commands": ["turn on the tv"], "colour": "red"}),
        ("forget_rewrite", {"utterance": "   "}),
        ("forget_rewrite", {}),
        ("list_rewrites", {"scope": ""}),
    ],
)
async def test_malformed_service_data_is_rejected_by_the_schema(
    home: Home, rewriter_entry: MockConfigEntry, service: str, data: dict[str, Any]
) -> None:
    with pytest.raises(vol.Invalid):
        await call(home, service, data, response=service != "purge_learning")
    assert await call(home, "list_rewrites", {}) == {"rewrites": []}


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ({"trigger": "movie time", "commands": ["movie time"]}, "cannot rewrite to itself"),
        ({"trigger": "!!!", "commands": ["turn on the tv"]}, "empty after normalisation"),
        ({"trigger": "movie time", "commands": ["???"]}, "no commands"),
    ],
)
async def test_rewrite_the_library_refuses_raises_a_translated_validation_error(
    home: Home, rewriter_entry: MockConfigEntry, data: dict[str, Any], reason: str
) -> None:
    with pytest.raises(ServiceValidationError) as err:
        await call(home, "add_rewrite", data)
    assert err.value.translation_domain == DOMAIN
    assert err.value.translation_key == "rewriter_invalid_rewrite"
    assert reason in err.value.translation_placeholders["reason"]


async def test_forgetting_punctuation_only_raises_a_translated_validation_error(
    home: Home, rewriter_entry: MockConfigEntry
) -> None:
    with pytest.raises(ServiceValidationError) as err:
        await call(home, "forget_rewrite", {"utterance": "?!"})
    assert err.value.translation_key == "rewriter_invalid_utterance"


async def test_unknown_entry_and_no_loaded_entry_raise_translated_errors(
    home: Home, rewriter_entry: MockConfigEntry
) -> None:
    with pytest.raises(ServiceValidationError) as err:
        await call(home, "list_rewrites", {"config_entry_id": "no_such_entry"})
    assert err.value.translation_key == "rewriter_entry_not_loaded"
    listed = await call(home, "list_rewrites", {"config_entry_id": rewriter_entry.entry_id})
    assert listed == {"rewrites": []}

    assert await home.hass.config_entries.async_unload(rewriter_entry.entry_id)
    with pytest.raises(ServiceValidationError) as err:
        await call(home, "purge_learning", {}, response=False)
    assert err.value.translation_key == "rewriter_entry_required"
