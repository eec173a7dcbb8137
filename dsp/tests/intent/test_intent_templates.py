"""Canonical rewrites match Home Assistant's real English templates (hassil + home-assistant-intents)."""

import pytest
from conftest import NOW_S, make_context

from echo_sense_dsp.intent import AgentResult, HomeContext, Outcome, Rewriter

hassil = pytest.importorskip("hassil")
intents_pkg = pytest.importorskip("home_assistant_intents")


@pytest.fixture(scope="module")
def recognizer() -> object:
    from hassil import Intents

    return Intents.from_dict(intents_pkg.get_intents("en"))


def _match(intents: object, text: str, ctx: HomeContext) -> tuple[str | None, dict[str, object]]:
    from hassil import recognize
    from hassil.intents import TextSlotList

    names = [
        (n, e.entity_id, {"domain": e.domain, **({"device_class": e.device_class} if e.device_class else {})})
        for e in ctx.exposed_entities
        for n in (e.name, *e.aliases)
    ]
    slot_lists = {
        "name": TextSlotList.from_tuples(names),
        "area": TextSlotList.from_tuples([(a.name, a.area_id) for a in ctx.areas]),
        "floor": TextSlotList.from_tuples([("Ground Floor", "ground_floor")]),
    }
    result = recognize(text, intents, slot_lists=slot_lists)  # type: ignore[arg-type]
    if result is None:
        return None, {}
    values: dict[str, object] = {k: v.value for k, v in result.entities.items()}
    # Targets as the default agent resolves them: the name, else every entity of the domain in the area.
    if "name" in values and values["name"] != "all":
        values["targets"] = (values["name"],)
    elif "area" in values and "domain" in values:
        values["targets"] = tuple(
            sorted(
                e.entity_id
                for e in ctx.exposed_entities
                if e.area_id == values["area"] and e.domain == values["domain"]
            )
        )
    return result.intent.name, values


CASES = [
    ("kitchen", {}, "turn on the lights", "HassTurnOn", {"area": "kitchen", "domain": "light"}),
    ("bedroom", {}, "turn on the fan", "HassTurnOn", {"targets": ("fan.bedroom",)}),
    ("living_room", {}, "what is the temperature", "HassClimateGetTemperature", {"area": "living_room"}),
    (
        "living_room",
        {"switch__oven": "on"},
        "what is the temperature",
        "HassGetState",
        {"name": "sensor.oven_temperature"},
    ),
    ("bedroom", {}, "what's the temperature in here", "HassGetState", {"name": "sensor.bedroom_temperature"}),
    (
        "bedroom",
        {"binary_sensor__dishwasher": "on"},
        "is it running",
        "HassGetState",
        {"name": "binary_sensor.dishwasher"},
    ),
    (
        "living_room",
        {},
        "make it warmer",
        "HassClimateSetTemperature",
        {"name": "climate.living_room", "temperature": 22.0},
    ),
    ("living_room", {}, "switch the telly off", "HassTurnOff", {"name": "media_player.tv"}),
    ("kitchen", {}, "shut off the kitchen lamp", "HassTurnOff", {"targets": ("light.kitchen",)}),
]


@pytest.mark.parametrize(("area", "states", "utterance", "intent", "slots"), CASES)
def test_rewrite_matches_the_builtin_template_with_the_resolved_slots(
    recognizer: object, area: str, states: dict[str, str], utterance: str, intent: str, slots: dict[str, object]
) -> None:
    ctx = make_context(area, **states)
    decision = Rewriter().rewrite(utterance, ctx, time_s=NOW_S)
    assert decision.changed
    matched, values = _match(recognizer, decision.commands[0].text, ctx)
    assert matched == intent == decision.commands[0].intent
    assert {k: values.get(k) for k in slots} == slots


def test_brightness_follow_up_matches_light_set(recognizer: object) -> None:
    ctx = make_context("living_room")
    rw = Rewriter()
    first = rw.rewrite("turn on the reading lamp", ctx, conversation_id="c", time_s=NOW_S)
    rw.record_outcome(first, Outcome.SUCCESS, [AgentResult(True, "HassTurnOn", ("light.reading_lamp",))])
    decision = rw.rewrite("make it brighter", ctx, conversation_id="c", time_s=NOW_S + 3)
    matched, values = _match(recognizer, decision.commands[0].text, ctx)
    assert (matched, values.get("name"), values.get("brightness")) == ("HassLightSet", "light.reading_lamp", 75)
