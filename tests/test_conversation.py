"""The intent rewriter as a conversation agent in a real Home Assistant with real entities.

The home: template lights and switches backed by input booleans, template temperature sensors,
a running-appliance binary sensor, a generic thermostat, areas, an oven device that owns a
switch and a temperature sensor, and a satellite device per area. Commands go through
``conversation.async_converse`` to the echo_sense agent, which forwards to Home Assistant's
built-in agent. The audio hub is not under test here: its start and stop are stubbed, and only
the conversation platform is set up.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest.mock import patch

import pytest
from homeassistant.components import conversation
from homeassistant.components.homeassistant.exposed_entities import async_expose_entity
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import Platform
from homeassistant.core import Context, HomeAssistant
from homeassistant.helpers import area_registry as ar
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers import intent, storage
from homeassistant.helpers import issue_registry as ir
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import MockConfigEntry

import custom_components.echo_sense as integration
from custom_components.echo_sense.const import CONF_FORWARD_AGENT, CONF_REWRITER_ENCODER, DOMAIN
from custom_components.echo_sense.conversation import (
    agent_result_from_recognition,
    async_get_rewriter_diagnostics,
    loaded_runtimes,
)
from custom_components.echo_sense.hub import EchoSenseHub
from custom_components.echo_sense.rewriter_store import storage_key
from echo_sense_dsp.intent import CONTEXT_RULES, Command, RewriteDecision

from .conftest import simulated_entry

AGENT_ID = "conversation.simulated_room_demo_intent_rewriter"
TEN_KB_CHARS = 10 * 1024
"""Length of the oversized utterance (characters)."""

BACKING = ("kitchen_light", "living_room_ceiling", "oven", "washer", "tv", "heater", "coffee_maker")


def _on_off(kind: str, name: str, key: str) -> dict[str, Any]:
    backing = f"input_boolean.{key}_power"
    return {
        "name": name,
        "unique_id": key,
        "state": f"{{{{ is_state('{backing}', 'on') }}}}",
        "turn_on": {"action": "input_boolean.turn_on", "target": {"entity_id": backing}},
        "turn_off": {"action": "input_boolean.turn_off", "target": {"entity_id": backing}},
    }


TEMPLATE_CONFIG = [
    {
        "light": [
            _on_off("light", "Kitchen Light", "kitchen_light"),
            _on_off("light", "Living Room Ceiling", "living_room_ceiling"),
        ],
        "switch": [
            _on_off("switch", "Oven", "oven"),
            _on_off("switch", "TV", "tv"),
            _on_off("switch", "Heater", "heater"),
            _on_off("switch", "Coffee Maker", "coffee_maker"),
        ],
        "sensor": [
            {
                "name": "Oven Temperature",
                "unique_id": "oven_temperature",
                "device_class": "temperature",
                "unit_of_measurement": "°C",
                "state": "{{ 220 if is_state('input_boolean.oven_power', 'on') else 24 }}",
            },
            {
                "name": "Living Room Temperature",
                "unique_id": "living_room_temperature",
                "device_class": "temperature",
                "unit_of_measurement": "°C",
                "state": "20.5",
            },
            {
                "name": "Bedroom Temperature",
                "unique_id": "bedroom_temperature",
                "device_class": "temperature",
                "unit_of_measurement": "°C",
                "state": "17.5",
            },
        ],
        "binary_sensor": [
            {
                "name": "Washing Machine",
                "unique_id": "washing_machine",
                "device_class": "running",
                "state": "{{ is_state('input_boolean.washer_power', 'on') }}",
            }
        ],
    }
]

AREA_OF = {
    "light.kitchen_light": "Kitchen",
    "switch.oven": "Kitchen",
    "sensor.oven_temperature": "Kitchen",
    "switch.coffee_maker": "Kitchen",
    "light.living_room_ceiling": "Living Room",
    "switch.tv": "Living Room",
    "switch.heater": "Living Room",
    "climate.living_room_thermostat": "Living Room",
    "sensor.living_room_temperature": "Living Room",
    "sensor.bedroom_temperature": "Bedroom",
    "binary_sensor.washing_machine": "Hallway",
}
UNEXPOSED = ("switch.coffee_maker", "switch.heater", "sensor.living_room_temperature")


@dataclass
class Home:
    """The test home: area ids by name and the satellite devices by area name."""

    hass: HomeAssistant
    area_ids: dict[str, str]
    satellites: dict[str, str]

    async def say(
        self,
        text: str,
        *,
        area: str | None = "Living Room",
        conversation_id: str | None = "conv-1",
        agent_id: str = AGENT_ID,
        user_id: str | None = None,
    ) -> intent.IntentResponse:
        result = await conversation.async_converse(
            self.hass,
            text,
            conversation_id,
            Context(user_id=user_id),
            language="en",
            agent_id=agent_id,
            device_id=self.satellites[area] if area is not None else None,
        )
        await self.hass.async_block_till_done()
        return result.response

    def state(self, entity_id: str) -> str:
        state = self.hass.states.get(entity_id)
        assert state is not None, entity_id
        return state.state

    async def set_power(self, key: str, on: bool) -> None:
        await self.hass.services.async_call(
            "input_boolean", "turn_on" if on else "turn_off", {"entity_id": f"input_boolean.{key}_power"}, blocking=True
        )
        await self.hass.async_block_till_done()


def speech(response: intent.IntentResponse) -> str:
    return str(response.speech.get("plain", {}).get("speech", ""))


def targets(response: intent.IntentResponse) -> set[str]:
    ids = {t.id for t in response.success_results if t.id and t.type is intent.IntentResponseTargetType.ENTITY}
    return ids | {s.entity_id for s in response.matched_states}


@pytest.fixture
async def home(ha_core: HomeAssistant) -> Home:
    """The home, set up from real integrations, with areas, devices and Assist exposure."""
    hass = ha_core
    assert await async_setup_component(hass, "conversation", {})
    assert await async_setup_component(
        hass, "input_boolean", {"input_boolean": {f"{k}_power": {"name": f"Backing {k}"} for k in BACKING}}
    )
    assert await async_setup_component(hass, "template", {"template": TEMPLATE_CONFIG})
    assert await async_setup_component(
        hass,
        "climate",
        {
            "climate": {
                "platform": "generic_thermostat",
                "name": "Living Room Thermostat",
                "unique_id": "living_room_thermostat",
                "heater": "switch.heater",
                "target_sensor": "sensor.living_room_temperature",
                "target_temp": 21,
                "initial_hvac_mode": "heat",
            }
        },
    )
    await hass.async_block_till_done()

    area_reg = ar.async_get(hass)
    area_ids = {name: area_reg.async_create(name).id for name in ("Living Room", "Kitchen", "Bedroom", "Hallway")}
    devices_entry = MockConfigEntry(domain="test", title="Devices")
    devices_entry.add_to_hass(hass)
    dev_reg = dr.async_get(hass)
    satellites = {
        name: dev_reg.async_get_or_create(
            config_entry_id=devices_entry.entry_id,
            identifiers={("test", f"satellite_{area_id}")},
            name=f"{name} Satellite",
        ).id
        for name, area_id in area_ids.items()
    }
    for name, device_id in satellites.items():
        dev_reg.async_update_device(device_id, area_id=area_ids[name])
    oven = dev_reg.async_get_or_create(
        config_entry_id=devices_entry.entry_id, identifiers={("test", "oven")}, name="Oven"
    )

    ent_reg = er.async_get(hass)
    for entity_id, area in AREA_OF.items():
        assert ent_reg.async_get(entity_id) is not None, entity_id
        ent_reg.async_update_entity(entity_id, area_id=area_ids[area])
    ent_reg.async_update_entity("switch.oven", device_id=oven.id)
    ent_reg.async_update_entity("sensor.oven_temperature", device_id=oven.id)
    for state in hass.states.async_all():
        async_expose_entity(hass, "conversation", state.entity_id, state.entity_id in AREA_OF)
    for entity_id in UNEXPOSED:
        async_expose_entity(hass, "conversation", entity_id, False)
    await hass.async_block_till_done()
    return Home(hass, area_ids, satellites)


@pytest.fixture
def audio_hub_stubbed(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the conversation platform; the audio engine is not started."""

    async def nothing(self: EchoSenseHub) -> None:
        return None

    monkeypatch.setattr(EchoSenseHub, "async_setup", nothing)
    monkeypatch.setattr(EchoSenseHub, "async_shutdown", nothing)
    monkeypatch.setattr(integration, "PLATFORMS", [Platform.CONVERSATION])


async def setup_entry(hass: HomeAssistant, options: dict[str, Any] | None = None) -> MockConfigEntry:
    entry = simulated_entry(options)
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    return entry


@pytest.fixture
async def rewriter_entry(home: Home, audio_hub_stubbed: None) -> AsyncGenerator[MockConfigEntry]:
    entry = await setup_entry(home.hass)
    yield entry
    if entry.state is ConfigEntryState.LOADED:
        assert await home.hass.config_entries.async_unload(entry.entry_id)
        await home.hass.async_block_till_done()


def rules_logged(hass: HomeAssistant, entry: MockConfigEntry) -> list[str]:
    return [record.rule for record in loaded_runtimes(hass)[entry.entry_id].rewriter.store.log]


# ------------------------------------------------------------------------------------ forwarding


async def test_agent_forwards_unchanged_when_nothing_applies(home: Home, rewriter_entry: MockConfigEntry) -> None:
    direct = await home.say("turn on the kitchen light", agent_id=conversation.HOME_ASSISTANT_AGENT)
    assert direct.response_type is intent.IntentResponseType.ACTION_DONE
    await home.set_power("kitchen_light", False)

    via_echo = await home.say("turn on the kitchen light")
    assert via_echo.response_type is intent.IntentResponseType.ACTION_DONE
    assert speech(via_echo) == speech(direct)
    assert targets(via_echo) == targets(direct) == {"light.kitchen_light"}
    assert home.state("light.kitchen_light") == "on"
    assert rules_logged(home.hass, rewriter_entry) == ["unchanged"]
    assert loaded_runtimes(home.hass)[rewriter_entry.entry_id].rewrites_forwarded == 0


async def test_unknown_command_gets_the_built_in_agents_own_error(home: Home, rewriter_entry: MockConfigEntry) -> None:
    direct = await home.say("sing me the song of the volcano", agent_id=conversation.HOME_ASSISTANT_AGENT)
    via_echo = await home.say("sing me the song of the volcano")
    assert via_echo.response_type is direct.response_type
    assert via_echo.error_code is direct.error_code
    assert speech(via_echo) == speech(direct)


async def test_agent_is_listed_and_answers_in_the_chat_log(home: Home, rewriter_entry: MockConfigEntry) -> None:
    info = conversation.async_get_agent_info(home.hass, "conversation.simulated_room_demo_intent_rewriter")
    assert info is not None
    assert "Intent rewriter" in info.name
    response = await home.say("turn on the kitchen light")
    assert home.state("conversation.simulated_room_demo_intent_rewriter") not in ("unknown", "unavailable")
    assert speech(response)


async def test_forward_agent_option_that_names_no_agent_falls_back_to_the_built_in_one(
    home: Home, audio_hub_stubbed: None
) -> None:
    entry = await setup_entry(home.hass, {CONF_FORWARD_AGENT: "conversation.does_not_exist"})
    response = await home.say("turn on the kitchen light")
    assert response.response_type is intent.IntentResponseType.ACTION_DONE
    assert home.state("light.kitchen_light") == "on"
    assert loaded_runtimes(home.hass)[entry.entry_id].forward_agent_id == conversation.HOME_ASSISTANT_AGENT
    assert await home.hass.config_entries.async_unload(entry.entry_id)


@pytest.mark.parametrize(
    ("name", "encoder_class"), [("minilm_int8", "OnnxSentenceEncoder"), ("no_such_encoder", "LexicalEncoder")]
)
async def test_encoder_option_picks_the_retrieval_encoder(
    home: Home, audio_hub_stubbed: None, name: str, encoder_class: str
) -> None:
    entry = await setup_entry(home.hass, {CONF_REWRITER_ENCODER: name})
    diagnostics = await async_get_rewriter_diagnostics(home.hass, entry)
    assert diagnostics["encoder"] == encoder_class
    await home.say("when I say movie time, turn on the tv")
    await home.say("movie time", conversation_id="conv-2")
    assert home.state("switch.tv") == "on"
    assert await home.hass.config_entries.async_unload(entry.entry_id)


# ------------------------------------------------------------------------------------ context rules


async def test_temperature_question_means_the_oven_while_it_is_on(home: Home, rewriter_entry: MockConfigEntry) -> None:
    await home.set_power("oven", True)
    response = await home.say("what is the temperature", area="Living Room")
    assert response.response_type is intent.IntentResponseType.QUERY_ANSWER
    assert targets(response) == {"sensor.oven_temperature"}
    assert "220" in speech(response)
    assert rules_logged(home.hass, rewriter_entry)[-1] == "device_state_temperature"


async def test_temperature_question_means_the_local_thermostat_when_the_oven_is_off(
    home: Home, rewriter_entry: MockConfigEntry
) -> None:
    response = await home.say("what is the temperature", area="Living Room")
    assert response.response_type is intent.IntentResponseType.QUERY_ANSWER
    assert targets(response) == {"climate.living_room_thermostat"}
    assert "20.5" in speech(response)


async def test_temperature_question_in_a_room_without_thermostat_reads_its_sensor(
    home: Home, rewriter_entry: MockConfigEntry
) -> None:
    response = await home.say("what is the temperature", area="Bedroom")
    assert targets(response) == {"sensor.bedroom_temperature"}
    assert "17.5" in speech(response)


async def test_is_it_running_means_the_appliance_that_is_running(home: Home, rewriter_entry: MockConfigEntry) -> None:
    await home.set_power("washer", True)
    response = await home.say("is it running", area="Kitchen")
    assert response.response_type is intent.IntentResponseType.QUERY_ANSWER
    assert targets(response) == {"binary_sensor.washing_machine"}
    assert rules_logged(home.hass, rewriter_entry)[-1] == "running_appliance"


async def test_area_of_the_satellite_resolves_its_dark_in_here(home: Home, rewriter_entry: MockConfigEntry) -> None:
    response = await home.say("it's dark in here", area="Kitchen")
    assert response.response_type is intent.IntentResponseType.ACTION_DONE
    assert home.state("light.kitchen_light") == "on"
    assert home.state("light.living_room_ceiling") == "off"


async def test_turn_it_off_acts_on_the_last_turns_entity(home: Home, rewriter_entry: MockConfigEntry) -> None:
    await home.say("turn on the kitchen light", area="Living Room")
    assert home.state("light.kitchen_light") == "on"
    response = await home.say("turn it off", area="Living Room")
    assert response.response_type is intent.IntentResponseType.ACTION_DONE
    assert home.state("light.kitchen_light") == "off"
    assert rules_logged(home.hass, rewriter_entry)[-1] == "anaphora"


async def test_follow_up_repeats_the_last_action_on_a_new_target(home: Home, rewriter_entry: MockConfigEntry) -> None:
    await home.say("turn on the kitchen light")
    response = await home.say("and the living room too")
    assert response.response_type is intent.IntentResponseType.ACTION_DONE
    assert home.state("light.living_room_ceiling") == "on"
    assert rules_logged(home.hass, rewriter_entry)[-1] == "follow_up"


async def test_dialogue_memory_is_per_conversation(home: Home, rewriter_entry: MockConfigEntry) -> None:
    await home.say("turn on the kitchen light", conversation_id="conv-a")
    await home.say("turn it off", conversation_id="conv-b")
    assert home.state("light.kitchen_light") == "on"


async def test_make_it_warmer_raises_the_local_thermostats_set_point(
    home: Home, rewriter_entry: MockConfigEntry
) -> None:
    response = await home.say("make it warmer", area="Living Room")
    assert response.response_type is intent.IntentResponseType.ACTION_DONE
    state = home.hass.states.get("climate.living_room_thermostat")
    assert state is not None
    assert state.attributes["temperature"] == 22


async def test_turn_it_up_after_a_temperature_question_raises_that_thermostat(
    home: Home, rewriter_entry: MockConfigEntry
) -> None:
    await home.say("what is the temperature of the living room thermostat", area="Kitchen")
    response = await home.say("turn it up", area="Kitchen")
    assert response.response_type is intent.IntentResponseType.ACTION_DONE
    state = home.hass.states.get("climate.living_room_thermostat")
    assert state is not None
    assert state.attributes["temperature"] == 22
    assert rules_logged(home.hass, rewriter_entry)[-1] == "relative_climate"


async def test_set_it_to_a_value_after_a_temperature_question_sets_that_thermostat(
    home: Home, rewriter_entry: MockConfigEntry
) -> None:
    await home.say("what is the temperature of the living room thermostat", area="Bedroom")
    response = await home.say("set it to 19 degrees", area="Bedroom")
    assert response.response_type is intent.IntentResponseType.ACTION_DONE
    state = home.hass.states.get("climate.living_room_thermostat")
    assert state is not None
    assert state.attributes["temperature"] == 19
    assert rules_logged(home.hass, rewriter_entry)[-1] == "anaphora"


async def test_follow_up_of_a_state_question_asks_about_the_new_device(
    home: Home, rewriter_entry: MockConfigEntry
) -> None:
    await home.set_power("tv", True)
    first = await home.say("is the oven on", area="Kitchen")
    assert targets(first) == {"switch.oven"}
    response = await home.say("what about the tv", area="Kitchen")
    assert response.response_type is intent.IntentResponseType.QUERY_ANSWER
    assert targets(response) == {"switch.tv"}
    assert rules_logged(home.hass, rewriter_entry)[-1] == "follow_up"


async def test_turn_it_back_off_and_a_gerund_command(home: Home, rewriter_entry: MockConfigEntry) -> None:
    response = await home.say("would you mind turning on the kitchen light", area="Bedroom")
    assert response.response_type is intent.IntentResponseType.ACTION_DONE
    assert home.state("light.kitchen_light") == "on"
    response = await home.say("turn it back off", area="Bedroom")
    assert response.response_type is intent.IntentResponseType.ACTION_DONE
    assert home.state("light.kitchen_light") == "off"
    assert rules_logged(home.hass, rewriter_entry)[-2:] == ["on_off", "anaphora"]


async def test_every_context_rule_is_covered_here() -> None:
    covered = {
        "follow_up",
        "anaphora",
        "relative_change",
        "device_state_temperature",
        "running_appliance",
        "on_off",
    }
    # Brightness and volume steps need a dimmable light and a media player; the library's tests
    # and the benchmark in a real Home Assistant cover them.
    assert set(CONTEXT_RULES) == covered


# ------------------------------------------------------------------------------------ never worse


async def test_rewrite_the_agent_would_match_otherwise_is_rejected(home: Home, rewriter_entry: MockConfigEntry) -> None:
    """2026.x's fuzzy matcher may answer with the time; a temperature rewrite must not accept that."""
    agent = conversation.async_get_agent(home.hass, conversation.HOME_ASSISTANT_AGENT)
    assert agent is not None
    user_input = conversation.ConversationInput(
        text="what time is it",
        context=Context(),
        conversation_id=None,
        device_id=None,
        satellite_id=None,
        language="en",
        agent_id=conversation.HOME_ASSISTANT_AGENT,
    )
    recognized = await agent.async_recognize_intent(user_input)  # type: ignore[union-attr]
    result = agent_result_from_recognition(home.hass, recognized)
    assert result.success
    assert result.intent_type == "HassGetCurrentTime"
    decision = RewriteDecision(
        "what is the temperature",
        "what is the temperature",
        (Command("what time is it", "HassClimateGetTemperature", ("climate.living_room_thermostat",)),),
        rule="device_state_temperature",
    )
    verdict = loaded_runtimes(home.hass)[rewriter_entry.entry_id].rewriter.verify(decision, result)
    assert not verdict.accepted
    assert "HassGetCurrentTime" in verdict.reason


async def _recognize(home: Home, text: str, area: str) -> Any:
    agent = conversation.async_get_agent(home.hass, conversation.HOME_ASSISTANT_AGENT)
    assert agent is not None
    user_input = conversation.ConversationInput(
        text=text,
        context=Context(),
        conversation_id=None,
        device_id=home.satellites[area],
        satellite_id=None,
        language="en",
        agent_id=conversation.HOME_ASSISTANT_AGENT,
    )
    return agent_result_from_recognition(home.hass, await agent.async_recognize_intent(user_input))  # type: ignore[union-attr]


async def test_fuzzy_guess_for_a_device_the_home_lacks_does_not_act(
    home: Home, rewriter_entry: MockConfigEntry
) -> None:
    """No garage here: the built-in agent's fuzzy matcher would turn off the kitchen light instead."""
    guess = await _recognize(home, "turn off the garage light", "Kitchen")
    assert guess.fuzzy
    assert guess.intent_type == "HassTurnOff"
    await home.set_power("kitchen_light", True)
    response = await home.say("turn off the garage light", area="Kitchen")
    assert response.response_type is intent.IntentResponseType.ERROR
    assert response.error_code is intent.IntentResponseErrorCode.NO_VALID_TARGETS
    assert home.state("light.kitchen_light") == "on"
    runtime = loaded_runtimes(home.hass)[rewriter_entry.entry_id]
    assert runtime.fuzzy_guesses_rejected == 1
    assert runtime.diagnostics()["fuzzy_guesses_rejected"] == 1


async def test_recognised_temperature_question_by_area_targets_only_the_thermostat(
    home: Home, rewriter_entry: MockConfigEntry
) -> None:
    """The area slot alone would match the room's lights and switches; the intent takes climates only."""
    result = await _recognize(home, "what is the temperature in the living room", "Kitchen")
    assert result.intent_type == "HassClimateGetTemperature"
    assert result.entity_ids == ("climate.living_room_thermostat",)
    await home.say("what's the temperature", area="Bedroom")
    response = await home.say("what about the living room", area="Bedroom")
    assert targets(response) == {"climate.living_room_thermostat"}
    assert rules_logged(home.hass, rewriter_entry)[-1] == "follow_up"


async def test_follow_up_without_a_conversation_is_not_answered_with_a_fuzzy_timer_status(
    home: Home, rewriter_entry: MockConfigEntry
) -> None:
    guess = await _recognize(home, "and the kitchen too", "Living Room")
    assert guess.fuzzy
    response = await home.say("and the kitchen too", conversation_id="fresh")
    assert response.response_type is intent.IntentResponseType.ERROR
    assert response.error_code is intent.IntentResponseErrorCode.NO_INTENT_MATCH
    # A template match is never second-guessed.
    direct = await home.say("what time is it", agent_id=conversation.HOME_ASSISTANT_AGENT)
    via_echo = await home.say("what time is it")
    assert via_echo.intent is not None and direct.intent is not None
    assert via_echo.intent.intent_type == direct.intent.intent_type == "HassGetCurrentTime"


async def test_rewrite_that_cannot_work_falls_back_to_the_original(home: Home, rewriter_entry: MockConfigEntry) -> None:
    runtime = loaded_runtimes(home.hass)[rewriter_entry.entry_id]
    runtime.rewriter.teach("lights please", ["turn on the garage door"])
    direct = await home.say("lights please", agent_id=conversation.HOME_ASSISTANT_AGENT)
    via_echo = await home.say("lights please")
    assert via_echo.response_type is direct.response_type
    assert speech(via_echo) == speech(direct)
    assert runtime.rewrites_rejected == 1
    assert rules_logged(home.hass, rewriter_entry)[-1] == "taught_rejected"


# ------------------------------------------------------------------------------------ odd input


async def test_ten_kilobyte_utterance_gets_a_normal_answer(home: Home, rewriter_entry: MockConfigEntry) -> None:
    text = ("turn on the kitchen light " * (TEN_KB_CHARS // 26 + 1))[:TEN_KB_CHARS]
    response = await home.say(text)
    assert response.response_type in (intent.IntentResponseType.ACTION_DONE, intent.IntentResponseType.ERROR)
    assert speech(response)
    log = loaded_runtimes(home.hass)[rewriter_entry.entry_id].rewriter.store.log
    assert all(len(record.utterance) <= 256 for record in log)


@pytest.mark.parametrize(
    "text",
    [
        "ｔｕｒｎ ｏｎ ｔｈｅ ｋｉｔｃｈｅｎ ｌｉｇｈｔ",  # full-width
        "turn on the kitchen\u200b light\u200e",  # zero-width space, left-to-right mark
        "tu\u0301rn on the kitchen light 🔥🔥",  # combining accent, emoji
        "\u202eturn on the kitchen light\u202c\x00\x07",  # bidi override, control characters
        "",
        "   \u200b\t",
    ],
)
async def test_odd_unicode_gets_a_normal_answer(home: Home, rewriter_entry: MockConfigEntry, text: str) -> None:
    response = await home.say(text)
    assert response.response_type in (intent.IntentResponseType.ACTION_DONE, intent.IntentResponseType.ERROR)
    assert speech(response)


# ------------------------------------------------------------------------------------ teaching, learning


async def test_teaching_sentence_then_the_phrase_runs_every_command(
    home: Home, rewriter_entry: MockConfigEntry
) -> None:
    await home.set_power("living_room_ceiling", True)
    answer = await home.say("when I say movie time, turn off the living room ceiling and turn on the tv")
    assert "movie time" in speech(answer)
    assert home.state("switch.tv") == "off"

    response = await home.say("movie time", conversation_id="conv-2")
    assert response.response_type is intent.IntentResponseType.ACTION_DONE
    assert home.state("light.living_room_ceiling") == "off"
    assert home.state("switch.tv") == "on"


async def test_guided_learn_my_preferences_dialogue(home: Home, rewriter_entry: MockConfigEntry) -> None:
    await home.set_power("kitchen_light", True)
    first = await conversation.async_converse(
        home.hass, "learn my preferences", "conv-1", Context(), "en", agent_id=AGENT_ID
    )
    assert "phrase" in speech(first.response)
    assert first.continue_conversation  # a satellite keeps listening for the answer
    assert "good night" in speech(await home.say("good night"))
    assert "good night" in speech(await home.say("turn off the kitchen light"))
    assert home.state("light.kitchen_light") == "on"
    await home.say("good night", conversation_id="conv-2")
    assert home.state("light.kitchen_light") == "off"


async def test_rephrase_after_failures_is_learned_for_that_user(home: Home, rewriter_entry: MockConfigEntry) -> None:
    anna = (await home.hass.auth.async_create_user("Anna")).id
    ben = (await home.hass.auth.async_create_user("Ben")).id
    for _ in range(2):
        failed = await home.say("kill the cooking lamp", user_id=anna, conversation_id=None)
        assert failed.response_type is intent.IntentResponseType.ERROR
        await home.say("turn on the kitchen light", user_id=anna, conversation_id=None)
    runtime = loaded_runtimes(home.hass)[rewriter_entry.entry_id]
    learned = [r for r in runtime.rewriter.list_rewrites() if r["kind"] == "learned"]
    assert [(r["source"], r["target"], r["scope"]) for r in learned] == [
        ("kill the cooking lamp", "turn on the kitchen light", f"user:{anna}")
    ]
    await home.set_power("kitchen_light", False)
    response = await home.say("kill the cooking lamp", user_id=anna, conversation_id=None)
    assert response.response_type is intent.IntentResponseType.ACTION_DONE
    assert home.state("light.kitchen_light") == "on"
    await home.set_power("kitchen_light", False)
    other = await home.say("kill the cooking lamp", user_id=ben, conversation_id=None)
    assert other.response_type is intent.IntentResponseType.ERROR


async def test_quick_repeat_is_logged_as_a_failed_turn(home: Home, rewriter_entry: MockConfigEntry) -> None:
    await home.say("turn on the kitchen light")
    await home.say("turn on the kitchen light")
    outcomes = [r.outcome.value for r in loaded_runtimes(home.hass)[rewriter_entry.entry_id].rewriter.store.log]
    assert outcomes == ["quick_repeat", "success"]


# ------------------------------------------------------------------------------------ failures, repairs


async def test_unexposed_entity_raises_a_repair_that_says_expose_it(
    home: Home, rewriter_entry: MockConfigEntry
) -> None:
    response = await home.say("turn on the coffee maker")
    assert response.response_type is intent.IntentResponseType.ERROR
    issue = ir.async_get(home.hass).async_get_issue(DOMAIN, "rewriter_expose_switch_coffee_maker")
    assert issue is not None
    assert issue.translation_key == "rewriter_expose_entity"
    assert issue.translation_placeholders == {"entity_id": "switch.coffee_maker", "phrase": "coffee maker"}
    diagnostics = await async_get_rewriter_diagnostics(home.hass, rewriter_entry)
    assert diagnostics["failures"]["per_stage"]["entity_resolution"] == 1
    assert diagnostics["repair_issues"] == ["rewriter_expose_switch_coffee_maker"]
    assert "coffee" not in json.dumps(diagnostics["outcomes"]) + json.dumps(diagnostics["rules"])

    assert await home.hass.config_entries.async_unload(rewriter_entry.entry_id)
    assert ir.async_get(home.hass).async_get_issue(DOMAIN, "rewriter_expose_switch_coffee_maker") is None


async def test_diagnostics_count_turns_without_utterances(home: Home, rewriter_entry: MockConfigEntry) -> None:
    await home.say("turn on the kitchen light")
    await home.say("lights please")
    await home.say("sing me the song of the volcano")  # fuzzy-matched to a media intent nobody handles
    diagnostics = await async_get_rewriter_diagnostics(home.hass, rewriter_entry)
    assert diagnostics["log_records"] == 3
    assert diagnostics["outcomes"] == {"success": 1, "no_match": 1, "error": 1}
    assert diagnostics["failures"]["per_stage"]["intent"] == 1
    assert diagnostics["failures"]["per_stage"]["result"] == 1
    assert diagnostics["forward_agent"] == conversation.HOME_ASSISTANT_AGENT
    assert "volcano" not in json.dumps(diagnostics)


# ------------------------------------------------------------------------------------ the Store


async def test_learning_survives_a_restart(home: Home, audio_hub_stubbed: None, hass_storage: dict[str, Any]) -> None:
    entry = await setup_entry(home.hass)
    await home.say("when I say movie time, turn off the living room ceiling and turn on the tv")
    await home.say("turn on the kitchen light")
    assert await home.hass.config_entries.async_unload(entry.entry_id)
    stored = hass_storage[storage_key(entry.entry_id)]
    assert stored["data"]["version"] == 1
    assert len(stored["data"]["log"]) == 1

    assert await home.hass.config_entries.async_setup(entry.entry_id)
    await home.hass.async_block_till_done()
    runtime = loaded_runtimes(home.hass)[entry.entry_id]
    assert [r["trigger"] for r in runtime.rewriter.list_rewrites()] == ["movie time"]
    assert len(runtime.rewriter.store.log) == 1
    await home.say("movie time", conversation_id="after-restart")
    assert home.state("switch.tv") == "on"
    assert await home.hass.config_entries.async_unload(entry.entry_id)


async def test_store_with_a_foreign_layout_is_backed_up_and_the_agent_starts_empty(
    home: Home, audio_hub_stubbed: None, hass_storage: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    entry_id = "corrupt_layout_entry"
    garbage = {"version": 99, "log": "not a list"}
    key = storage_key(entry_id)
    hass_storage[key] = {"version": 1, "minor_version": 1, "key": key, "data": garbage}
    entry = simulated_entry(entry_id=entry_id)
    entry.add_to_hass(home.hass)
    with caplog.at_level(logging.WARNING):
        assert await home.hass.config_entries.async_setup(entry_id)
        await home.hass.async_block_till_done()
    assert "corrupt" in caplog.text
    runtime = loaded_runtimes(home.hass)[entry_id]
    assert runtime.rewriter.list_rewrites() == []
    assert runtime.storage.recovered_from is not None
    assert hass_storage[f"{storage_key(entry_id)}.corrupt"]["data"] == {"raw": garbage}

    response = await home.say("turn on the kitchen light")
    assert response.response_type is intent.IntentResponseType.ACTION_DONE
    assert await home.hass.config_entries.async_unload(entry_id)
    assert hass_storage[storage_key(entry_id)]["data"]["version"] == 1


async def test_store_file_that_is_not_json_is_kept_and_the_agent_starts_empty(
    home: Home, audio_hub_stubbed: None, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    """Home Assistant's own loader on a real file: it renames the file, logs, and raises a repair."""
    entry_id = "corrupt_file_entry"
    home.hass.config.config_dir = str(tmp_path)
    path = Path(home.hass.config.path(storage.STORAGE_DIR, storage_key(entry_id)))

    def write_garbage() -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b'{"version": 1, "data": {"log": [\xff\xfe truncated')

    await home.hass.async_add_executor_job(write_garbage)

    async def load_real_file(store: storage.Store[Any]) -> Any:
        if store.key != storage_key(entry_id):
            return None
        return await store._async_load_data()  # the real file path of Store.async_load

    entry = simulated_entry(entry_id=entry_id)
    entry.add_to_hass(home.hass)
    with patch.object(storage.Store, "_async_load", load_real_file), caplog.at_level(logging.ERROR):
        assert await home.hass.config_entries.async_setup(entry_id)
        await home.hass.async_block_till_done()
    assert "corrupt" in caplog.text

    def backups() -> list[str]:
        return [p.name for p in path.parent.iterdir() if p.name.startswith(f"{storage_key(entry_id)}.corrupt")]

    assert len(await home.hass.async_add_executor_job(backups)) == 1
    issues = ir.async_get(home.hass).issues
    assert any(issue_id.startswith(f"storage_corruption_{storage_key(entry_id)}") for _, issue_id in issues)
    assert loaded_runtimes(home.hass)[entry_id].rewriter.list_rewrites() == []
    response = await home.say("turn on the kitchen light")
    assert response.response_type is intent.IntentResponseType.ACTION_DONE
    assert await home.hass.config_entries.async_unload(entry_id)


# ------------------------------------------------------------------------------------ pipeline run data


async def test_failed_assist_pipeline_runs_are_summarised_by_stage(home: Home, rewriter_entry: MockConfigEntry) -> None:
    """Diagnostics read the pipeline's own debug events of runs that used this agent."""
    from homeassistant.components.assist_pipeline.pipeline import (
        PipelineInput,
        PipelineRun,
        PipelineStage,
        async_get_pipeline,
        async_update_pipeline,
    )
    from homeassistant.helpers import chat_session

    assert await async_setup_component(home.hass, "assist_pipeline", {})
    await home.hass.async_block_till_done()
    agent_id = "conversation.simulated_room_demo_intent_rewriter"
    await async_update_pipeline(home.hass, async_get_pipeline(home.hass), conversation_engine=agent_id)
    pipeline = async_get_pipeline(home.hass)
    assert pipeline.conversation_engine == agent_id

    for text in ("lights please", "turn on the kitchen light"):
        events: list[Any] = []
        with chat_session.async_get_chat_session(home.hass) as session:
            run_input = PipelineInput(
                run=PipelineRun(
                    home.hass,
                    context=Context(),
                    pipeline=pipeline,
                    start_stage=PipelineStage.INTENT,
                    end_stage=PipelineStage.INTENT,
                    event_callback=events.append,
                ),
                session=session,
                intent_input=text,
            )
            await run_input.validate()
            await run_input.execute()
        assert any(str(ev.type) == "intent-end" for ev in events)
    assert home.state("light.kitchen_light") == "on"

    diagnostics = await async_get_rewriter_diagnostics(home.hass, rewriter_entry)
    assert diagnostics["pipeline_failures"]["per_stage"]["intent"] == 1
    assert sum(diagnostics["pipeline_failures"]["per_stage"].values()) == 1


async def test_store_file_without_the_version_wrapper_is_copied_and_the_agent_starts_empty(
    home: Home, audio_hub_stubbed: None, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    entry_id = "no_wrapper_entry"
    home.hass.config.config_dir = str(tmp_path)
    path = Path(home.hass.config.path(storage.STORAGE_DIR, storage_key(entry_id)))
    content = b'{"log": [], "note": "hand-edited"}'

    def write_file() -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)

    await home.hass.async_add_executor_job(write_file)

    async def load_real_file(store: storage.Store[Any]) -> Any:
        if store.key != storage_key(entry_id):
            return None
        return await store._async_load_data()  # the real file path of Store.async_load

    entry = simulated_entry(entry_id=entry_id)
    entry.add_to_hass(home.hass)
    with patch.object(storage.Store, "_async_load", load_real_file), caplog.at_level(logging.WARNING):
        assert await home.hass.config_entries.async_setup(entry_id)
        await home.hass.async_block_till_done()
    assert "corrupt" in caplog.text
    backup = path.with_name(path.name + ".corrupt")
    assert await home.hass.async_add_executor_job(backup.read_bytes) == content
    assert loaded_runtimes(home.hass)[entry_id].rewriter.list_rewrites() == []
    response = await home.say("turn on the kitchen light")
    assert response.response_type is intent.IntentResponseType.ACTION_DONE
    assert await home.hass.config_entries.async_unload(entry_id)
