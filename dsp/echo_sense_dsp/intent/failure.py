"""Failure-point isolation: which stage of an Assist pipeline run failed first.

Input is the pipeline's own run data: the list of events Home Assistant's ``assist_pipeline``
records for a run (the same ``{"type": ..., "data": ...}`` dicts its debug view shows:
``run-start``, ``wake_word-start``, ``wake_word-end``, ``stt-start``, ``stt-vad-start``,
``stt-vad-end``, ``stt-end``, ``intent-start``, ``intent-end``, ``tts-start``, ``tts-end``,
``run-end``, ``error``), plus the user's reaction (:class:`Outcome`, e.g. a barge-in).

Stages, in pipeline order (:class:`Stage`): ``false_wake`` (woke but nobody spoke to it),
``stt`` (speech not transcribed), ``intent`` (no intent matched), ``entity_resolution``
(intent matched, no valid target), ``result`` (the action failed or the user rejected the
answer). Where the home can fix it (an entity that exists but is not exposed, a name people
use that is not an alias), a :class:`RepairSuggestion` says what to do.
"""

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from .context import HomeContext
from .log import Outcome
from .resolvers import DOMAIN_WORDS, RuleInput, resolve_target, strip_fillers
from .text import normalize_utterance

MIN_SPOKEN_CHARS = 2
"""A transcript shorter than this after a wake word counts as nobody speaking."""


class Stage(StrEnum):
    """The stage that failed first."""

    NONE = "none"
    FALSE_WAKE = "false_wake"
    STT = "stt"
    INTENT = "intent"
    ENTITY_RESOLUTION = "entity_resolution"
    RESULT = "result"


@dataclass(frozen=True, slots=True)
class RepairSuggestion:
    """Something the user can fix, worded for a Home Assistant repair issue.

    Attributes
    ----------
    issue_id : str
        Stable id (``"expose_<entity_id>"``, ``"alias_<entity_id>_<phrase>"``).
    kind : str
        ``"expose_entity"`` or ``"add_alias"`` (translation key of the repair issue).
    entity_id : str
    phrase : str
        What the user said for it.
    description : str
        One sentence in English saying what to do.
    """

    issue_id: str
    kind: str
    entity_id: str
    phrase: str
    description: str

    def to_dict(self) -> dict[str, str]:
        """JSON-serialisable form (translation placeholders)."""
        return {
            "issue_id": self.issue_id,
            "kind": self.kind,
            "entity_id": self.entity_id,
            "phrase": self.phrase,
            "description": self.description,
        }


@dataclass(frozen=True, slots=True)
class FailurePoint:
    """Result of :func:`isolate_failure_point`."""

    stage: Stage
    reason: str
    transcript: str = ""
    repair: RepairSuggestion | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form."""
        return {
            "stage": self.stage.value,
            "reason": self.reason,
            "transcript": self.transcript,
            "repair": self.repair.to_dict() if self.repair else None,
        }


_STT_ERRORS = ("stt-", "no-speech")
_ON_OFF_OBJECT = re.compile(
    r"^(?:turn|switch)\s+(?:on|off)\s+(?P<obj>.+)$|^(?:is|are)\s+(?P<obj2>.+?)\s+(?:on|off|running|open|closed)$"
)


def _get(data: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(data, Mapping):
            return None
        data = data.get(key)
    return data


def suggest_repair(transcript: str, context: HomeContext) -> RepairSuggestion | None:
    """A repair for an utterance whose target the default agent could not find.

    An unexposed entity named in the utterance: expose it. A near-miss name of an exposed
    entity: add the spoken phrase as an alias.
    """
    norm = strip_fillers(normalize_utterance(transcript))
    for ent in context.entities:
        if not ent.exposed and any(n and re.search(rf"(?:^|\s){re.escape(n)}(?:\s|$)", norm) for n in ent.spoken_names):
            return RepairSuggestion(
                f"expose_{ent.entity_id}", "expose_entity", ent.entity_id, ent.spoken_names[0],
                f"Expose {ent.entity_id} ('{ent.name}') to Assist so voice commands can control it.",
            )  # fmt: skip
    match = _ON_OFF_OBJECT.match(norm)
    if not match:
        return None
    phrase = (match.group("obj") or match.group("obj2") or "").removeprefix("the ").strip()
    if not phrase or phrase in DOMAIN_WORDS:
        return None
    target = resolve_target(phrase, RuleInput(phrase, context))
    if target is None or len(target.entities) != 1 or target.exact:
        return None
    ent = target.entities[0]
    slug = re.sub(r"\W+", "_", phrase).strip("_")
    return RepairSuggestion(
        f"alias_{ent.entity_id}_{slug}", "add_alias", ent.entity_id, phrase,
        f"Add the alias '{phrase}' to {ent.entity_id} ('{ent.name}') in its voice assistant settings.",
    )  # fmt: skip


def isolate_failure_point(
    events: Sequence[Mapping[str, Any]], *, outcome: Outcome | None = None, context: HomeContext | None = None
) -> FailurePoint:
    """Find the first failing stage of one pipeline run.

    Parameters
    ----------
    events : sequence of Mapping
        The run's events in order, each ``{"type": str, "data": dict | None}`` as recorded by
        ``assist_pipeline`` (``stt-end`` data ``{"stt_output": {"text": ...}}``, ``intent-end``
        data ``{"intent_output": {"response": {"response_type": ..., "data": {"code": ...}}}}``,
        ``error`` data ``{"code": ..., "message": ...}``).
    outcome : Outcome, optional
        What the user did next (barge-in, quick repeat); a run that "succeeded" but was
        rejected fails at ``result``.
    context : HomeContext, optional
        For repair suggestions.

    Returns
    -------
    FailurePoint
    """
    types = [str(ev.get("type", "")) for ev in events]
    woke = "wake_word-end" in types
    spoke = "stt-vad-start" in types
    transcript = ""
    for ev in events:
        kind = str(ev.get("type", ""))
        data = ev.get("data") or {}
        if kind == "error":
            code = str(_get(data, "code") or "")
            if code.startswith(_STT_ERRORS):
                if woke and not spoke:
                    return FailurePoint(Stage.FALSE_WAKE, f"woke, then {code} without speech", transcript)
                return FailurePoint(Stage.STT, code, transcript)
            if code.startswith("wake"):
                return FailurePoint(Stage.FALSE_WAKE, code, transcript)
            if code.startswith("intent"):
                return FailurePoint(Stage.INTENT, code, transcript)
            return FailurePoint(Stage.RESULT, code or "error", transcript)
        if kind == "stt-end":
            transcript = str(_get(data, "stt_output", "text") or "")
            if len(normalize_utterance(transcript)) < MIN_SPOKEN_CHARS:
                stage = Stage.FALSE_WAKE if woke and not spoke else Stage.STT
                return FailurePoint(stage, "empty transcript", transcript)
        if kind == "intent-start" and not transcript:
            transcript = str(_get(data, "intent_input") or "")
        if kind == "intent-end":
            response = _get(data, "intent_output", "response") or {}
            if _get(response, "response_type") == "error":
                code = str(_get(response, "data", "code") or "unknown")
                if code == "no_intent_match":
                    point = FailurePoint(Stage.INTENT, code, transcript)
                elif code == "no_valid_targets":
                    point = FailurePoint(Stage.ENTITY_RESOLUTION, code, transcript)
                else:
                    return FailurePoint(Stage.RESULT, code, transcript)
                repair = suggest_repair(transcript, context) if context is not None else None
                if repair is not None and repair.kind == "expose_entity":
                    point = FailurePoint(Stage.ENTITY_RESOLUTION, f"{code}: entity not exposed", transcript, repair)
                elif repair is not None:
                    point = FailurePoint(point.stage, point.reason, transcript, repair)
                return point
    if outcome is not None and outcome.failed:
        return FailurePoint(Stage.RESULT, f"user reaction: {outcome.value}", transcript)
    return FailurePoint(Stage.NONE, "no failure", transcript)


def summarise_failures(points: Iterable[FailurePoint]) -> dict[str, Any]:
    """Diagnostics summary: failures per stage and the distinct repair suggestions."""
    counts: Counter[str] = Counter()
    repairs: dict[str, RepairSuggestion] = {}
    for point in points:
        counts[point.stage.value] += 1
        if point.repair is not None:
            repairs[point.repair.issue_id] = point.repair
    return {
        "per_stage": {s.value: counts.get(s.value, 0) for s in Stage},
        "repairs": [r.to_dict() for r in repairs.values()],
    }


__all__ = [
    "MIN_SPOKEN_CHARS",
    "FailurePoint",
    "RepairSuggestion",
    "Stage",
    "isolate_failure_point",
    "suggest_repair",
    "summarise_failures",
]
