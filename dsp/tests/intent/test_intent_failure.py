"""Failure-point isolation from Assist pipeline run events."""

from typing import Any

from conftest import make_context

from echo_sense_dsp.intent import Outcome, Stage, isolate_failure_point, summarise_failures


def _run(
    text: str | None, *, response: dict[str, Any] | None = None, wake: bool = True, vad: bool = True
) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = [{"type": "run-start", "data": {}}]
    if wake:
        events += [
            {"type": "wake_word-start", "data": {}},
            {"type": "wake_word-end", "data": {"wake_word_output": {"wake_word_id": "ok_nabu"}}},
        ]
    events.append({"type": "stt-start", "data": {}})
    if vad:
        events.append({"type": "stt-vad-start", "data": {"timestamp": 100}})
    if text is None:
        events.append({"type": "error", "data": {"code": "stt-no-text-recognized", "message": "No text recognized"}})
        return events
    events.append({"type": "stt-end", "data": {"stt_output": {"text": text}}})
    events.append({"type": "intent-start", "data": {"intent_input": text}})
    events.append(
        {
            "type": "intent-end",
            "data": {"intent_output": {"response": response or {"response_type": "action_done", "data": {}}}},
        }
    )
    events.append({"type": "run-end", "data": None})
    return events


def _error(code: str) -> dict[str, Any]:
    return {"response_type": "error", "data": {"code": code}}


def test_each_stage_is_found_first() -> None:
    assert isolate_failure_point(_run(None, vad=False)).stage is Stage.FALSE_WAKE
    assert isolate_failure_point(_run("", vad=False)).stage is Stage.FALSE_WAKE
    assert isolate_failure_point(_run(None, vad=True)).stage is Stage.STT
    assert isolate_failure_point(_run("blorp the flarn", response=_error("no_intent_match"))).stage is Stage.INTENT
    assert (
        isolate_failure_point(_run("turn on the garage light", response=_error("no_valid_targets"))).stage
        is Stage.ENTITY_RESOLUTION
    )
    assert isolate_failure_point(_run("turn on the tv", response=_error("failed_to_handle"))).stage is Stage.RESULT
    assert isolate_failure_point(_run("turn on the tv"), outcome=Outcome.BARGE_IN).stage is Stage.RESULT
    assert isolate_failure_point(_run("turn on the tv")).stage is Stage.NONE


def test_an_unexposed_entity_gives_an_expose_repair() -> None:
    point = isolate_failure_point(
        _run("turn on the coffee maker", response=_error("no_intent_match")), context=make_context("kitchen")
    )
    assert point.stage is Stage.ENTITY_RESOLUTION
    assert (
        point.repair is not None
        and point.repair.kind == "expose_entity"
        and point.repair.entity_id == "switch.coffee_maker"
    )


def test_a_near_miss_name_gives_an_alias_repair() -> None:
    point = isolate_failure_point(
        _run("turn off the reading light", response=_error("no_intent_match")), context=make_context("kitchen")
    )
    assert point.stage is Stage.INTENT
    assert point.repair is not None and point.repair.kind == "add_alias"
    assert (point.repair.entity_id, point.repair.phrase) == ("light.reading_lamp", "reading light")


def test_summary_counts_stages_and_deduplicates_repairs() -> None:
    ctx = make_context("kitchen")
    points = [
        isolate_failure_point(_run("turn on the coffee maker", response=_error("no_intent_match")), context=ctx),
        isolate_failure_point(_run("turn on the coffee maker", response=_error("no_intent_match")), context=ctx),
        isolate_failure_point(_run(None, vad=False)),
    ]
    summary = summarise_failures(points)
    assert summary["per_stage"]["entity_resolution"] == 2 and summary["per_stage"]["false_wake"] == 1
    assert len(summary["repairs"]) == 1
