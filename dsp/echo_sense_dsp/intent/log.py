"""Interaction log records and rephrase mining.

A failed turn followed within a short window by a *different* utterance from the same user
(or satellite) that succeeds is a rewrite candidate. This follows Amazon's
absorbing-Markov-chain rewriter: Ponnusamy et al., "Feedback-based self-learning in
large-scale conversational AI agents", AAAI 2020.
"""

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from ..errors import StoreError
from .markov import RephraseSequence

REPHRASE_WINDOW_S = 45.0
"""Longest gap between two turns of one rephrase episode."""


class Outcome(StrEnum):
    """What happened to a turn, as the integration observed it."""

    SUCCESS = "success"
    ERROR = "error"
    NO_MATCH = "no_match"
    BARGE_IN = "barge_in"
    QUICK_REPEAT = "quick_repeat"

    @property
    def failed(self) -> bool:
        """Every outcome but success counts as a failure for rephrase mining."""
        return self is not Outcome.SUCCESS


@dataclass(frozen=True, slots=True)
class InteractionRecord:
    """One turn in the interaction log (stays on the hub).

    Attributes
    ----------
    utterance : str
        Normalised utterance as spoken.
    command : str
        Normalised text actually forwarded (equal to ``utterance`` when nothing was rewritten;
        taught multi-command turns join their commands with ``" ; "``).
    outcome : Outcome
    time_s : float
        When the turn happened (seconds, the integration's clock).
    speaker : str
        ``"user:<id>"``, ``"satellite:<id>"`` or ``"household"`` when neither is known.
    conversation_id : str or None
    rule : str
        Name of the rule that rewrote the turn (``"unchanged"`` when none did).
    area_id : str or None
        Area of the satellite (context summary).
    entity_ids : tuple of str
        Targets the agent acted on (context summary; used for time-of-day ranking).
    hour_of_day : float
    """

    utterance: str
    command: str
    outcome: Outcome
    time_s: float
    speaker: str = "household"
    conversation_id: str | None = None
    rule: str = "unchanged"
    area_id: str | None = None
    entity_ids: tuple[str, ...] = ()
    hour_of_day: float = 12.0
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form."""
        return {
            "utterance": self.utterance,
            "command": self.command,
            "outcome": self.outcome.value,
            "time_s": self.time_s,
            "speaker": self.speaker,
            "conversation_id": self.conversation_id,
            "rule": self.rule,
            "area_id": self.area_id,
            "entity_ids": list(self.entity_ids),
            "hour_of_day": self.hour_of_day,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "InteractionRecord":
        """Inverse of :meth:`to_dict`; raises :class:`StoreError` on malformed data."""
        try:
            return cls(
                utterance=str(data["utterance"]),
                command=str(data.get("command", data["utterance"])),
                outcome=Outcome(data["outcome"]),
                time_s=float(data["time_s"]),
                speaker=str(data.get("speaker", "household")),
                conversation_id=data.get("conversation_id"),
                rule=str(data.get("rule", "unchanged")),
                area_id=data.get("area_id"),
                entity_ids=tuple(str(e) for e in data.get("entity_ids") or ()),
                hour_of_day=float(data.get("hour_of_day", 12.0)),
            )
        except (KeyError, TypeError, ValueError) as err:
            raise StoreError(f"malformed interaction record {dict(data)!r}: {err!r}") from err


def mine_rephrases(
    records: Iterable[InteractionRecord], *, window_s: float = REPHRASE_WINDOW_S
) -> dict[str, list[RephraseSequence]]:
    """Cut each speaker's turns into rephrase episodes.

    An episode starts at a failed turn and collects the following failed turns of the same
    speaker while each comes within ``window_s`` of the previous one. It ends with the first
    successful turn within the window whose forwarded text differs from every failed utterance
    of the episode (a rewrite candidate), or without success (gave up).

    Parameters
    ----------
    records : iterable of InteractionRecord
        The interaction log, any order.
    window_s : float
        Longest gap between consecutive turns of an episode, seconds.

    Returns
    -------
    dict
        ``speaker -> episodes`` in time order.
    """
    by_speaker: dict[str, list[InteractionRecord]] = defaultdict(list)
    for rec in records:
        by_speaker[rec.speaker].append(rec)
    episodes: dict[str, list[RephraseSequence]] = {}
    for speaker, recs in by_speaker.items():
        recs.sort(key=lambda r: r.time_s)
        out: list[RephraseSequence] = []
        failed: list[str] = []
        last_t = 0.0
        for rec in recs:
            if failed and rec.time_s - last_t > window_s:
                out.append(RephraseSequence(tuple(failed), None))
                failed = []
            if rec.outcome.failed:
                failed.append(rec.utterance)
                last_t = rec.time_s
            elif failed:
                if rec.command not in failed:
                    out.append(RephraseSequence(tuple(failed), rec.command))
                else:
                    out.append(RephraseSequence(tuple(failed), None))
                failed = []
        if failed:
            out.append(RephraseSequence(tuple(failed), None))
        episodes[speaker] = out
    return episodes


__all__ = ["REPHRASE_WINDOW_S", "InteractionRecord", "Outcome", "mine_rephrases"]
