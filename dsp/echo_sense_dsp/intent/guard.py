"""Fuzzy-match guard: checks the built-in agent's guess for an utterance forwarded unchanged.

Home Assistant's default agent (2025.x/2026.x) falls back to an n-gram *fuzzy* matcher when no
sentence template matches. Its guesses can be wrong in two ways that cost the user more than a
"Sorry, I couldn't understand that":

- a question or command comes back as a *targetless* intent that the words never asked for
  ("and the kitchen too" as a timer status, "what is the temperature" as the current time);
- an on/off command comes back as its opposite ("would you mind turning on ..." as a turn-off);
- a command that names a place or device the home does not have acts on another one ("turn
  off the garage light" in a flat without a garage turns off the light of the satellite's room).

:func:`fuzzy_match_problem` names such a guess (or returns None); the rewriter rejects it and the
integration answers with the error the built-in agent gives for no match / no such device
instead of acting. Strict template matches are never second-guessed here.
"""

import re

from .context import HomeContext
from .resolvers import DOMAIN_WORDS, ON_OFF_PATTERNS, RuleInput, resolve_target, strip_fillers

TARGETLESS_KEYWORDS: dict[str, frozenset[str]] = {
    "HassGetCurrentTime": frozenset({"time", "clock", "o'clock", "hour"}),
    "HassGetCurrentDate": frozenset({"date", "day", "today", "month", "year"}),
    "HassGetWeather": frozenset({"weather", "forecast", "outside", "rain", "raining", "snow", "sunny", "umbrella"}),
    "HassNevermind": frozenset({"nevermind", "never", "cancel", "forget", "nothing"}),
    "HassStartTimer": frozenset({"timer", "timers", "minute", "minutes", "second", "seconds", "hour", "hours"}),
    "HassTimerStatus": frozenset({"timer", "timers", "left", "remaining", "time"}),
    "HassCancelTimer": frozenset({"timer", "timers", "cancel", "stop"}),
    "HassCancelAllTimers": frozenset({"timer", "timers", "cancel", "stop"}),
    "HassIncreaseTimer": frozenset({"timer", "timers", "add", "minute", "minutes", "second", "seconds"}),
    "HassDecreaseTimer": frozenset({"timer", "timers", "remove", "minute", "minutes", "second", "seconds"}),
    "HassPauseTimer": frozenset({"timer", "timers", "pause", "hold"}),
    "HassUnpauseTimer": frozenset({"timer", "timers", "resume", "unpause", "continue"}),
}
"""Targetless intents and the words without which a fuzzy guess of them is not credible."""

_DIRECTION_WORDS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "HassTurnOn": (frozenset({"on", "open", "start"}), frozenset({"off", "out", "close", "stop"})),
    "HassTurnOff": (frozenset({"off", "out", "close", "stop"}), frozenset({"on", "open", "start"})),
}
"""For on/off intents: the words that say this direction, and those that say the opposite one."""

_GENERIC_WORDS = frozenset(
    {"the", "a", "an", "my", "our", "all", "in", "of", "on", "off", "here", "this", "room", "please", "now"}
)
_WORD = re.compile(r"[\w']+")


def _known_words(context: HomeContext) -> set[str]:
    words = set(_GENERIC_WORDS) | set(DOMAIN_WORDS)
    for ent in context.entities:
        for name in ent.spoken_names:
            words.update(_WORD.findall(name))
    for area in context.areas:
        for name in area.spoken_names:
            words.update(_WORD.findall(name))
    return words


def unknown_target_words(text: str, context: HomeContext) -> tuple[str, ...]:
    """Words of an on/off command's object that name nothing in the home (empty if none or no command).

    ``text`` is normalised. An object that the rewriter's own resolution (names, aliases, areas,
    near-miss names) can place is fully known.
    """
    stripped = strip_fillers(text)
    for pattern in ON_OFF_PATTERNS:
        match = pattern.match(stripped)
        if match:
            break
    else:
        return ()
    obj = match.group("obj")
    if resolve_target(obj, RuleInput(stripped, context)) is not None:
        return ()
    known = _known_words(context)
    return tuple(w for w in _WORD.findall(obj) if w not in known)


def fuzzy_match_problem(text: str, intent_type: str | None, is_action: bool, context: HomeContext) -> str | None:
    """Why a fuzzy match of normalised ``text`` to ``intent_type`` cannot be what was meant, or None.

    Parameters
    ----------
    text : str
        The normalised utterance.
    intent_type : str or None
        The fuzzy-matched intent.
    is_action : bool
        Whether the intent changes the home.
    context : HomeContext
    """
    words = set(_WORD.findall(text))
    keywords = TARGETLESS_KEYWORDS.get(intent_type or "")
    if keywords is not None and not keywords & words:
        return f"fuzzy {intent_type} without any of its words"
    said, opposite = _DIRECTION_WORDS.get(intent_type or "", (frozenset(), frozenset()))
    if words & opposite and not words & said:
        return f"fuzzy {intent_type} for an utterance that says {' '.join(sorted(words & opposite))}"
    if is_action:
        unknown = unknown_target_words(text, context)
        if unknown:
            return f"fuzzy {intent_type} for a target the home does not have ({' '.join(unknown)})"
    return None


__all__ = ["TARGETLESS_KEYWORDS", "fuzzy_match_problem", "unknown_target_words"]
