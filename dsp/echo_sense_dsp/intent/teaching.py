"""Teaching: "when I say movie time, turn off the living room lights and turn on the TV".

:func:`parse_teaching` reads a teaching sentence into a trigger and its commands;
:class:`GuidedTeaching` runs the guided "learn my preferences" dialogue (ask for the phrase,
then for what to do, then confirm).
"""

import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum

from ..errors import ConfigError
from .text import MAX_RAW_CHARS, normalize_utterance

MAX_TAUGHT_COMMANDS = 8
"""Most commands one taught phrase may run."""

COMMAND_VERBS = (
    "turn", "switch", "set", "open", "close", "lock", "unlock", "start", "stop", "play", "pause",
    "activate", "dim", "brighten", "what", "is", "are", "tell", "lower", "raise", "put", "shut",
)  # fmt: skip
"""First words of a command; a teaching sentence's commands start with one of them."""

_VERB_ALT = "|".join(COMMAND_VERBS)
_TEACH_RAW = re.compile(
    r"^\s*(?:when|whenever|if)\s+(?:i|we)\s+say\s+[\"'“”‘’]?(?P<trigger>[^,\"'“”‘’]+?)[\"'“”‘’]?\s*,\s*(?:please\s+)?(?:you\s+should\s+|then\s+)?(?P<actions>.+)$"
)
_TEACH_NORM = re.compile(
    r"^(?:when|whenever|if)\s+(?:i|we)\s+say\s+(?P<trigger>.+?)\s+(?:please\s+|then\s+|you should\s+)?"
    rf"(?P<actions>(?:{_VERB_ALT})\b.+)$"
)
_SPLIT_ACTIONS = re.compile(rf"\s*(?:,|;|\band then\b|\bthen\b|\band\b)\s*(?=(?:{_VERB_ALT})\b)")
_START_GUIDED = re.compile(
    r"^(?:please\s+)?(?:learn|teach me|teach you|let me teach you)\s+(?:my\s+)?"
    r"(?:preferences|a (?:new )?(?:phrase|command|shortcut))$"
)
_CANCEL = re.compile(r"^(?:cancel|stop|never mind|nevermind|forget it|abort)$")


@dataclass(frozen=True, slots=True)
class TeachingRequest:
    """A parsed teaching sentence: normalised trigger and commands."""

    trigger: str
    commands: tuple[str, ...]


def split_commands(text: str) -> tuple[str, ...]:
    """Split "turn off the lights and turn on the tv" into its commands (normalised)."""
    parts = [normalize_utterance(p) for p in _SPLIT_ACTIONS.split(text)]
    commands = tuple(p for p in parts if p)
    if len(commands) > MAX_TAUGHT_COMMANDS:
        raise ConfigError(f"a taught phrase may run at most {MAX_TAUGHT_COMMANDS} commands, got {len(commands)}")
    return commands


def validate_teaching(trigger: str, commands: tuple[str, ...] | list[str]) -> TeachingRequest:
    """Normalise and check a trigger and its commands (the ``add`` service's input).

    Raises
    ------
    ConfigError
        Empty trigger, no commands, too many commands, or a command equal to the trigger.
    """
    if not isinstance(trigger, str):
        raise ConfigError(f"trigger must be text, got {type(trigger).__name__}")
    norm_trigger = normalize_utterance(trigger)
    if not norm_trigger:
        raise ConfigError(f"trigger {trigger!r} is empty after normalisation")
    if isinstance(commands, str) or not all(isinstance(c, str) for c in commands):
        raise ConfigError("commands must be a list of texts")
    norm_commands = tuple(c for c in (normalize_utterance(c) for c in commands) if c)
    if not norm_commands:
        raise ConfigError(f"no commands given for trigger {norm_trigger!r}")
    if len(norm_commands) > MAX_TAUGHT_COMMANDS:
        raise ConfigError(f"a taught phrase may run at most {MAX_TAUGHT_COMMANDS} commands, got {len(norm_commands)}")
    if norm_trigger in norm_commands:
        raise ConfigError(f"trigger {norm_trigger!r} cannot rewrite to itself")
    return TeachingRequest(norm_trigger, norm_commands)


def parse_teaching(raw: str) -> TeachingRequest | None:
    """Parse "when I say X, do Y and Z"; None when the utterance is not a teaching sentence."""
    folded = unicodedata.normalize("NFKC", raw[:MAX_RAW_CHARS]).casefold().strip()
    match = _TEACH_RAW.match(folded)
    if match:
        trigger, actions = match.group("trigger"), match.group("actions")
    else:
        match = _TEACH_NORM.match(normalize_utterance(raw))
        if not match:
            return None
        trigger, actions = match.group("trigger"), match.group("actions")
    try:
        return validate_teaching(trigger, list(split_commands(actions)))
    except ConfigError:
        return None


class GuidedStep(StrEnum):
    """Where a guided teaching dialogue stands."""

    ASK_TRIGGER = "ask_trigger"
    ASK_COMMANDS = "ask_commands"


@dataclass(slots=True)
class GuidedTeaching:
    """State of one guided "learn my preferences" dialogue."""

    step: GuidedStep = GuidedStep.ASK_TRIGGER
    trigger: str = ""
    started_s: float = 0.0


def is_guided_start(normalized: str) -> bool:
    """Whether the utterance starts a guided teaching dialogue."""
    return bool(_START_GUIDED.match(normalized))


def is_cancel(normalized: str) -> bool:
    """Whether the utterance cancels a guided dialogue."""
    return bool(_CANCEL.match(normalized))


__all__ = [
    "COMMAND_VERBS",
    "MAX_TAUGHT_COMMANDS",
    "GuidedStep",
    "GuidedTeaching",
    "TeachingRequest",
    "is_cancel",
    "is_guided_start",
    "parse_teaching",
    "split_commands",
    "validate_teaching",
]
