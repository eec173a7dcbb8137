"""Dialogue rules: relative changes by domain, follow-ups that carry any intent, anaphora, colloquial forms."""

from dataclasses import replace

from conftest import NOW_S, make_context

from echo_sense_dsp.intent import AgentResult, EntityInfo, HomeContext, Outcome, Rewriter


def _home(area_id: str | None = "living_room") -> HomeContext:
    """The shared test home with a TV volume and a fan speed to step."""
    ctx = make_context(area_id)
    extra = {"media_player.tv": {"volume_level": 0.3}, "fan.bedroom": {"percentage": 50}}
    entities = tuple(
        replace(e, attributes={**e.attributes, **extra[e.entity_id]}) if e.entity_id in extra else e
        for e in ctx.entities
    )
    return replace(ctx, entities=entities)


def _said(rw: Rewriter, text: str, result: AgentResult, ctx: HomeContext, t: float = 0.0) -> None:
    """A turn forwarded and answered successfully in conversation "c"."""
    decision = rw.rewrite(text, ctx, conversation_id="c", time_s=NOW_S + t)
    rw.record_outcome(decision, Outcome.SUCCESS, [result])


def _next(rw: Rewriter, text: str, ctx: HomeContext, t: float = 5.0) -> tuple[str | None, str, tuple[str, ...]]:
    decision = rw.rewrite(text, ctx, conversation_id="c", time_s=NOW_S + t)
    return decision.rewritten, decision.rule, decision.expected_entity_ids


def test_turn_it_up_steps_the_dimension_of_the_last_turns_domain() -> None:
    ctx = _home()
    rw = Rewriter()
    _said(rw, "turn on the tv", AgentResult(True, "HassTurnOn", ("media_player.tv",)), ctx)
    assert _next(rw, "turn it up", ctx) == ("set the tv volume to 40%", "relative_volume", ("media_player.tv",))
    assert _next(rw, "make it a bit quieter", ctx)[0] == "set the tv volume to 20%"
    rw = Rewriter()
    _said(
        rw,
        "what is the temperature of the living room thermostat",
        AgentResult(True, "HassClimateGetTemperature", ("climate.living_room",)),
        ctx,
    )
    assert _next(rw, "turn it down", ctx)[:2] == (
        "set the temperature of the living room thermostat to 20 degrees",
        "relative_climate",
    )
    rw = Rewriter()
    _said(rw, "turn on the reading lamp", AgentResult(True, "HassTurnOn", ("light.reading_lamp",)), ctx)
    assert _next(rw, "turn it up a bit", ctx)[:2] == ("set the reading lamp brightness to 75%", "relative_brightness")
    # The words fix the dimension: "warmer" after a lamp means the thermostat, not the lamp.
    assert _next(rw, "make it warmer", ctx)[2] == ("climate.living_room",)


def test_relative_change_without_dialogue_names_its_target_or_takes_the_local_one() -> None:
    rw = Rewriter()
    assert (
        rw.rewrite("dim the reading lamp", _home(), time_s=NOW_S).rewritten == "set the reading lamp brightness to 25%"
    )
    assert rw.rewrite("louder please", _home(), time_s=NOW_S).rewritten == "set the tv volume to 40%"
    assert rw.rewrite("it's too loud in here", _home(), time_s=NOW_S).rewritten == "set the tv volume to 20%"
    assert rw.rewrite("turn the fan up", _home("bedroom"), time_s=NOW_S).rewritten == "set the bedroom fan speed to 75%"
    assert (
        rw.rewrite("turn the heating down", _home("kitchen"), time_s=NOW_S).rewritten
        == "set the temperature of the living room thermostat to 20 degrees"
    )
    # The built-in agent's own relative-volume sentence is left to it.
    assert not rw.rewrite("turn up the volume", _home(), time_s=NOW_S).changed
    # Nothing to step in the kitchen: no light there has a level to raise, no media player.
    assert not rw.rewrite("louder", _home("kitchen"), time_s=NOW_S).changed


def test_follow_up_carries_any_intent_by_putting_the_new_target_into_the_sentence() -> None:
    ctx = _home()
    rw = Rewriter()
    _said(
        rw,
        "set the reading lamp brightness to 40%",
        AgentResult(True, "HassLightSet", ("light.reading_lamp",)),
        ctx,
    )
    assert _next(rw, "and the living room ceiling too", ctx) == (
        "set the living room ceiling brightness to 40%",
        "follow_up",
        ("light.living_room_ceiling",),
    )
    # A brightness cannot be carried to a TV: nothing is guessed.
    assert _next(rw, "and the tv too", ctx)[0] is None


def test_follow_up_of_a_state_question_asks_about_the_new_device() -> None:
    ctx = _home()
    rw = Rewriter()
    _said(rw, "is the tv on", AgentResult(True, "HassGetState", ("media_player.tv",)), ctx)
    assert _next(rw, "what about the bedroom fan", ctx) == ("is the bedroom fan on", "follow_up", ("fan.bedroom",))


def test_do_the_same_in_another_room_and_anaphora_to_an_area_command() -> None:
    ctx = _home()
    rw = Rewriter()
    both = ("light.living_room_ceiling", "light.reading_lamp")
    _said(rw, "turn off the lights in the living room", AgentResult(True, "HassTurnOff", both), ctx)
    assert _next(rw, "do the same in the kitchen", ctx) == (
        "turn off the lights in the kitchen",
        "follow_up",
        ("light.kitchen",),
    )
    # "them" is every light of the room: one area command, not one per lamp.
    assert _next(rw, "turn them back on", ctx) == ("turn on the lights in the living room", "anaphora", both)


def test_turn_it_back_off_and_gerunds_and_start_stop() -> None:
    ctx = _home("bedroom")
    rw = Rewriter()
    _said(rw, "turn on the bedroom fan", AgentResult(True, "HassTurnOn", ("fan.bedroom",)), ctx)
    assert _next(rw, "turn it back off", ctx) == ("turn off the bedroom fan", "anaphora", ("fan.bedroom",))
    assert rw.rewrite("would you mind turning on the kitchen light", ctx, time_s=NOW_S).rewritten == (
        "turn on the kitchen light"
    )
    # A filler alone does not make a canonical command a rewrite.
    assert not rw.rewrite("can you turn on the kitchen light", ctx, time_s=NOW_S).changed
    assert rw.rewrite("start the fan", ctx, time_s=NOW_S).rewritten == "turn on the bedroom fan"
    assert rw.rewrite("stop the fan", ctx, time_s=NOW_S).rewritten == "turn off the bedroom fan"
    # "stop" is not "off" for a TV (it may mean stop playback).
    assert not rw.rewrite("stop the tv", ctx, time_s=NOW_S).changed


def test_a_single_noun_of_one_devices_name_is_that_device() -> None:
    rw = Rewriter()
    assert rw.rewrite("i need some light in here", _home("kitchen"), time_s=NOW_S).rewritten == (
        "turn on the lights in the kitchen"
    )
    decision = rw.rewrite("kill the ceiling", _home("kitchen"), time_s=NOW_S)
    assert decision.expected_entity_ids == ("light.living_room_ceiling",)


def test_close_them_means_the_covers_of_the_last_turn() -> None:
    blinds = EntityInfo("cover.blinds", "Living Room Blinds", area_id="living_room", state="open", device_class="blind")
    ctx = replace(_home(), entities=(*_home().entities, blinds))
    rw = Rewriter()
    _said(rw, "open the living room blinds", AgentResult(True, "HassTurnOn", ("cover.blinds",)), ctx)
    assert _next(rw, "close them", ctx) == ("close the living room blinds", "anaphora", ("cover.blinds",))
    # Without a cover in the dialogue there is nothing to close.
    assert not Rewriter().rewrite("close them", ctx, conversation_id="x", time_s=NOW_S).changed


def test_set_it_to_a_value_sets_the_last_turns_device_on_its_own_dimension() -> None:
    ctx = _home()
    rw = Rewriter()
    _said(rw, "turn on the reading lamp", AgentResult(True, "HassTurnOn", ("light.reading_lamp",)), ctx)
    assert _next(rw, "set it to 40%", ctx) == (
        "set the reading lamp brightness to 40%",
        "anaphora",
        ("light.reading_lamp",),
    )
    # Degrees mean a thermostat: the lamp is not one.
    assert _next(rw, "set it to 22 degrees", ctx)[0] is None
    rw = Rewriter()
    _said(
        rw,
        "what is the temperature of the living room thermostat",
        AgentResult(True, "HassClimateGetTemperature", ("climate.living_room",)),
        ctx,
    )
    assert _next(rw, "turn it up to 23", ctx)[0] == "set the temperature of the living room thermostat to 23 degrees"


def test_a_command_ending_in_too_names_its_target() -> None:
    rw = Rewriter()
    decision = rw.rewrite("kill the telly too", _home("bedroom"), time_s=NOW_S)
    assert decision.rewritten == "turn off the tv"


def test_feeling_cold_in_a_named_room_warms_that_rooms_thermostat() -> None:
    rw = Rewriter()
    decision = rw.rewrite("it's cold in the living room", _home("bedroom"), time_s=NOW_S)
    assert decision.rewritten == "set the temperature of the living room thermostat to 22 degrees"
    # A room without a thermostat: nothing to guess.
    assert not rw.rewrite("it's cold in the kitchen", _home("bedroom"), time_s=NOW_S).changed
    assert rw.rewrite("turn down the heat in the living room", _home("kitchen"), time_s=NOW_S).expected_entity_ids == (
        "climate.living_room",
    )


def test_raise_lower_and_too_loud_are_relative_changes_but_not_for_blinds() -> None:
    rw = Rewriter()
    assert rw.rewrite("raise the temperature", _home(), time_s=NOW_S).rewritten == (
        "set the temperature of the living room thermostat to 22 degrees"
    )
    assert rw.rewrite("too loud", _home(), time_s=NOW_S).rewritten == "set the tv volume to 20%"
    blinds = EntityInfo("cover.blinds", "Living Room Blinds", area_id="living_room", state="open", device_class="blind")
    ctx = replace(_home(), entities=(*_home().entities, blinds))
    assert not rw.rewrite("lower the blinds", ctx, time_s=NOW_S).changed
    # The built-in agent's own "increase the volume" stays its own.
    assert not rw.rewrite("increase the volume", ctx, time_s=NOW_S).changed


def test_a_hesitation_before_a_follow_up_does_not_hide_it() -> None:
    ctx = _home("bedroom")
    rw = Rewriter()
    _said(rw, "turn off the bedroom fan", AgentResult(True, "HassTurnOff", ("fan.bedroom",)), ctx)
    assert _next(rw, "actually turn it back on", ctx)[0] == "turn on the bedroom fan"
