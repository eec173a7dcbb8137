"""Fuzzy-match guard: a fuzzy guess of the built-in agent is checked before an unchanged utterance acts."""

import pytest
from conftest import NOW_S, make_context

from echo_sense_dsp.errors import ConfigError
from echo_sense_dsp.intent import AgentResult, Rewriter
from echo_sense_dsp.intent.guard import fuzzy_match_problem, unknown_target_words


def test_a_command_for_a_place_the_home_lacks_names_its_unknown_words() -> None:
    ctx = make_context("kitchen")
    assert unknown_target_words("turn off the garage light", ctx) == ("garage",)
    assert unknown_target_words("switch the attic fan on", ctx) == ("attic",)
    # Known names, areas, aliases and near misses are placed by the rewriter's resolution.
    assert unknown_target_words("turn off the kitchen light", ctx) == ()
    assert unknown_target_words("turn on the television", ctx) == ()
    assert unknown_target_words("turn off the kichen light", ctx) == ()
    assert unknown_target_words("turn off the lights", ctx) == ()
    # An unexposed device is known (the agent says it is not exposed; the repair says expose it).
    assert unknown_target_words("turn on the coffee maker", ctx) == ()
    assert unknown_target_words("what time is it", ctx) == ()


@pytest.mark.parametrize(
    ("text", "intent", "action", "rejected"),
    [
        ("and the kitchen too", "HassTimerStatus", False, True),
        ("what is the temperature", "HassGetCurrentTime", False, True),
        ("how much time is left", "HassTimerStatus", False, False),
        ("what's the time", "HassGetCurrentTime", False, False),
        ("turn off the garage light", "HassTurnOff", True, True),
        ("turn off the kichen light", "HassTurnOff", True, False),
        ("tell me a joke", "HassGetState", False, False),
    ],
)
def test_fuzzy_guesses_the_words_cannot_mean_are_named(text: str, intent: str, action: bool, rejected: bool) -> None:
    problem = fuzzy_match_problem(text, intent, action, make_context("kitchen"))
    assert (problem is not None) is rejected, problem


def test_verify_unchanged_rejects_only_fuzzy_guesses_it_cannot_credit() -> None:
    rw = Rewriter()
    ctx = make_context("kitchen")
    decision = rw.rewrite("turn off the garage light", ctx, time_s=NOW_S)
    assert not decision.changed
    guess = AgentResult(True, "HassTurnOff", ("light.kitchen",), fuzzy=True)
    verdict = rw.verify_unchanged(decision, guess, ctx)
    assert not verdict.accepted
    assert "garage" in verdict.reason
    # The same match from a sentence template is the agent's business.
    assert rw.verify_unchanged(decision, AgentResult(True, "HassTurnOff", ("light.kitchen",)), ctx).accepted
    # An error is forwarded as it is (the agent's own answer says what went wrong).
    assert rw.verify_unchanged(decision, AgentResult(False, error_code="no_valid_targets", fuzzy=True), ctx).accepted
    plain = rw.rewrite("turn off the kitchen light", ctx, time_s=NOW_S)
    assert rw.verify_unchanged(plain, AgentResult(True, "HassTurnOff", ("light.kitchen",), fuzzy=True), ctx).accepted


def test_verify_unchanged_refuses_a_rewrite() -> None:
    rw = Rewriter()
    ctx = make_context("kitchen")
    decision = rw.rewrite("kill the lights", ctx, time_s=NOW_S)
    assert decision.changed
    with pytest.raises(ConfigError):
        rw.verify_unchanged(decision, AgentResult(True, "HassTurnOff"), ctx)
