"""Context rules: resolve an utterance against the home into canonical commands.

Each rule reads the normalised utterance, the :class:`HomeContext` and the dialogue so far and
either declines (``None``) or returns a :class:`Resolution`: the rule's name, the canonical
English commands that Home Assistant's built-in intents (``home-assistant-intents``) match,
and for each command the intent and the entity ids it must act on, so the agent can verify
the default agent's match before anything happens.

Rules (registry :data:`CONTEXT_RULES`, tried in order):

============================  =================================================================
``follow_up``                 "and the kitchen too", "what about the bedroom", "do the same in the
                              office": the last turn's intent (on/off, temperature, state, or any
                              other, by putting the new target into its sentence) on a new target
``anaphora``                  "turn it off", "turn them back on": the entities or area of the last
                              turn that acted
``relative_change``           "make it warmer", "I'm cold", "turn it up", "dim the lamp", "louder":
                              one step on the dimension the words or the target's domain mean
                              (set point +-1 degree, brightness +-25 %, volume +-10 %, fan +-25 %)
``device_state_temperature``  "what is the temperature": the oven while it runs, else the
                              thermostat (or sensor) of the satellite's area
``running_appliance``         "is it running", "is it done": the appliance that runs (or ran last)
``on_off``                    area defaults ("turn on the lights", "lights off"), "here",
                              colloquial verbs ("kill the lights"), near-miss names
============================  =================================================================

A rule only rewrites what the built-in agent cannot resolve by itself (a pronoun, a follow-up,
a question without a target, a colloquial verb, a near-miss name, a missing area); a command
in canonical form naming an existing entity or area is left alone.
"""

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from .context import EntityInfo, HomeContext
from .retrieval import LexicalEncoder

TURN_ON = "HassTurnOn"
TURN_OFF = "HassTurnOff"
GET_STATE = "HassGetState"
CLIMATE_GET_TEMPERATURE = "HassClimateGetTemperature"
CLIMATE_SET_TEMPERATURE = "HassClimateSetTemperature"
LIGHT_SET = "HassLightSet"
SET_VOLUME = "HassSetVolume"
FAN_SET_SPEED = "HassFanSetSpeed"

ACTION_INTENTS = frozenset(
    {
        TURN_ON,
        TURN_OFF,
        CLIMATE_SET_TEMPERATURE,
        LIGHT_SET,
        SET_VOLUME,
        "HassSetVolumeRelative",
        FAN_SET_SPEED,
        "HassSetPosition",
        "HassToggle",
        "HassMediaPause",
        "HassMediaUnpause",
        "HassMediaNext",
        "HassMediaPrevious",
        "HassMediaPlayerMute",
        "HassMediaPlayerUnmute",
        "HassVacuumStart",
        "HassVacuumReturnToBase",
        "HassLawnMowerStartMowing",
        "HassLawnMowerDock",
    }
)
"""Intents that change the home (a wrong target here is the worst failure)."""

NAME_MATCH_MIN_SIMILARITY = 0.62
"""Lexical similarity above which a spoken phrase is taken for an entity's name."""

NAME_MATCH_MIN_MARGIN = 0.08
"""Lead over the runner-up that a near-miss name match needs."""

SET_POINT_STEP_C = 1.0
"""Change of the thermostat set point for "warmer"/"cooler", degrees."""

BRIGHTNESS_STEP_PCT = 25.0
"""Change of brightness for "brighter"/"dimmer", percent."""

VOLUME_STEP_PCT = 10.0
"""Change of volume for "louder"/"quieter", percent (Home Assistant's own volume step)."""

FAN_STEP_PCT = 25.0
"""Change of fan speed for "turn the fan up/down", percent."""

RECENT_ACTIVITY_TAU_S = 900.0
"""Time constant of the recent-activity ranking signal, seconds."""

LAST_USE_TAU_S = 4 * 3600.0
"""Time constant for "the appliance used last" when none is running, seconds."""

DOMAIN_WORDS: dict[str, str] = {
    "light": "light",
    "lights": "light",
    "lamp": "light",
    "lamps": "light",
    "lighting": "light",
    "fan": "fan",
    "fans": "fan",
    "tv": "media_player",
    "telly": "media_player",
    "television": "media_player",
    "heat": "climate",
    "heating": "climate",
    "heater": "climate",
    "thermostat": "climate",
    "radiator": "climate",
}
"""Generic words for a kind of device, and the domain they mean."""

TV_WORDS = frozenset({"tv", "telly", "television"})
"""Generic words that mean a television, not any media player."""

ON_OFF_DOMAINS = frozenset({"light", "fan", "switch", "media_player", "climate", "input_boolean", "cover"})

_PRONOUNS = frozenset({"it", "that", "them", "this", "those", "these"})
_FILLER = re.compile(
    r"^(?:(?:hey|ok|okay|please|kindly|would you mind|do you mind|can you|could you|would you|will you"
    r"|i'd like you to|i would like you to|i want you to|go ahead and|just|now|so|and then|then"
    r"|actually|oh|um|uh|ah|sorry)\s+)+"
    r"|(?:\s+(?:please|for me|now|again|thanks|thank you))+$"
)
_GERUND = re.compile(r"^(turn|switch|putt|shutt|power|flipp|kill|cutt|start|stopp)ing\b")
_GERUND_BASE = {"putt": "put", "shutt": "shut", "flipp": "flip", "cutt": "cut", "stopp": "stop"}
_HERE = re.compile(r"\s*\b(?:in here|here|in this room|this room)\b")
_FOLLOW_UP = (
    re.compile(r"^(?:and|also|plus)\s+(?:in\s+|for\s+)?(?:the\s+)?(?P<obj>.+?)(?:\s+(?:too|as well|also))?$"),
    re.compile(r"^(?:what|how)\s+about\s+(?:in\s+|for\s+)?(?:the\s+)?(?P<obj>.+)$"),
    re.compile(r"^(?:the\s+)?(?P<obj>.+?)\s+(?:too|as well)$"),
    re.compile(r"^(?:do\s+)?(?:the\s+)?same\s+(?:thing\s+)?(?:for|in|with|to)\s+(?:the\s+)?(?P<obj>.+)$"),
)
_TEMPERATURE_Q = re.compile(
    r"^(?:what'?s|whats|what is|how'?s|how is|tell me)\s+(?:the\s+)?(?:current\s+)?(?:temperature|temp)"
    r"(?:\s+(?:in here|here|now|right now|at the moment|inside))?$"
    r"|^how (?:hot|warm|cold) is it(?:\s+(?:in here|here|now|inside))?$"
)
_RUNNING_Q = re.compile(
    r"^(?:is|are)\s+(?:it|that|they)\s+(?:still\s+)?(?P<what>running|on|done|finished|going|working)$"
)
_STEP_WORDS = r"warmer|hotter|cooler|colder|brighter|dimmer|darker|louder|quieter|softer"
_A_BIT = r"(?:a\s+(?:bit|little|tad)\s+|slightly\s+|much\s+|a\s+lot\s+)?"
_RELATIVE = (
    re.compile(rf"^(?:make|turn|set|get)\s+(?P<obj>.+?)\s+{_A_BIT}(?P<word>{_STEP_WORDS})(?:\s+in here)?$"),
    re.compile(rf"^{_A_BIT}(?P<word>{_STEP_WORDS})(?:\s+in here)?$"),
    re.compile(r"^(?:turn|crank|bump|put)\s+(?P<obj>.+?)\s+(?P<word>up|down)(?:\s+a\s+(?:bit|little|notch))?$"),
    re.compile(r"^(?:turn|crank|bump)\s+(?P<word>up|down)\s+(?P<obj>.+)$"),
    re.compile(r"^(?P<word>dim|brighten)\s+(?P<obj>.+?)(?:\s+a\s+(?:bit|little))?$"),
    re.compile(
        r"^(?:i'?m|i am|it'?s|it is|we'?re|we are)\s+(?:too\s+|a bit\s+|a little\s+|so\s+|really\s+|very\s+)?"
        r"(?P<word>cold|freezing|chilly|hot|warm|boiling|roasting)(?:\s+in\s+(?P<obj>here|(?:the\s+)?[\w' ]+))?$"
    ),
    re.compile(
        r"^(?:(?:it'?s|it is)\s+)?(?:too|so|really|very|way too)\s+(?P<word>loud|quiet|bright|hot|cold|warm)"
        r"(?:\s+in here)?$"
    ),
    re.compile(r"^(?P<verb>increase|raise|lower|decrease|reduce)\s+(?P<obj>.+?)(?:\s+a\s+(?:bit|little|notch))?$"),
)
_STEP_UP = frozenset(
    {"warmer", "hotter", "brighter", "louder", "up", "brighten", "cold", "freezing", "chilly", "quiet"}
)
_STEP_DIMENSION = {
    **dict.fromkeys(("warmer", "hotter", "cooler", "colder", "cold", "freezing", "chilly", "hot", "warm"), "climate"),
    **dict.fromkeys(("boiling", "roasting"), "climate"),
    **dict.fromkeys(("brighter", "dimmer", "darker", "dim", "brighten", "bright"), "light"),
    **dict.fromkeys(("louder", "quieter", "softer", "loud", "quiet"), "media_player"),
}
"""Domain a step word means; ``up``/``down`` take the target's domain."""
_DIMENSION_OBJECTS = {
    **dict.fromkeys(("heat", "heating", "temperature", "thermostat", "radiator", "heater"), "climate"),
    **dict.fromkeys(("music", "sound", "volume"), "media_player"),
    **dict.fromkeys(("light", "lights", "lamp", "brightness"), "light"),
    **dict.fromkeys(("fan", "fans"), "fan"),
}
_DARK = re.compile(
    r"^(?:it'?s|it is)\s+(?:too\s+|so\s+|really\s+|a bit\s+)?dark(?:\s+in here)?$"
    r"|^(?:i|we)\s+(?:need|want|could use)\s+(?:some\s+|more\s+)?light(?:s)?(?:\s+in here|\s+here)?$"
    r"|^give\s+(?:me|us)\s+(?:some\s+)?light(?:s)?(?:\s+in here|\s+here)?$"
)
_ON_OFF = (
    re.compile(r"^(?P<verb>turn|switch|power|flip)\s+(?:back\s+)?(?P<dir>on|off|out)\s+(?P<obj>.+)$"),
    re.compile(r"^(?P<verb>put|shut)\s+(?P<dir>on|off)\s+(?P<obj>.+)$"),
    re.compile(r"^(?P<verb>turn|switch|power|flip|put|shut)\s+(?P<obj>.+?)\s+(?:back\s+)?(?P<dir>on|off|out)$"),
    re.compile(r"^(?P<verb>kill|cut|shut down|shut off|power down)\s+(?P<obj>.+)$"),
    re.compile(r"^(?P<verb>fire up|start up|power up)\s+(?P<obj>.+)$"),
    re.compile(r"^(?P<obj>[\w' -]+?)\s+(?P<dir>on|off|out)$"),
    re.compile(r"^(?P<verb>start|stop)\s+(?P<obj>.+)$"),
)
ON_OFF_PATTERNS = _ON_OFF
"""On/off command forms; group ``obj`` is the target phrase."""
_EVERYWHERE = re.compile(r"\b(?:all|every|everything|everywhere|whole house|entire house)\b")
_QUESTION = re.compile(
    r"^(?:is|are|was|were|what|what's|whats|how|why|when|where|which|who|do|does|did|can|could|should)\b"
)
_ON_VERBS = frozenset({"fire up", "start up", "power up", "start"})
_START_STOP_DOMAINS = frozenset({"fan", "switch", "input_boolean"})
"""Domains where "start"/"stop" mean on/off (for a media player "stop" is not "off")."""
_CANONICAL_VERBS = frozenset({"turn", "switch"})
_ARTICLES = frozenset({"the", "a", "my", "our", "all", "all the", "in", "in the", "of", "of the"})


@dataclass(frozen=True, slots=True)
class Command:
    """One canonical command and what it must do.

    Attributes
    ----------
    text : str
        Sentence in the built-in English templates' form.
    intent : str
        Intent the default agent must match (``HassTurnOn``, ...).
    entity_ids : tuple of str
        Entities it must act on or ask about (empty: not checked).
    action : str
        Short action name kept for follow-ups (``on``, ``off``, ``temperature``, ``state``,
        ``set_temperature``, ``brightness``).
    area_id : str or None
        Area the command addressed, if any.
    domain : str or None
        Domain addressed by area (``light`` for "lights in the kitchen").
    """

    text: str
    intent: str
    entity_ids: tuple[str, ...] = ()
    action: str = ""
    area_id: str | None = None
    domain: str | None = None


@dataclass(frozen=True, slots=True)
class Resolution:
    """A rule's answer: canonical commands and how sure it is."""

    rule: str
    commands: tuple[Command, ...]
    confidence: float


@dataclass(frozen=True, slots=True)
class DialogueTurn:
    """A successful turn kept for follow-ups and anaphora (per conversation)."""

    utterance: str
    commands: tuple[Command, ...]
    time_s: float


@dataclass(frozen=True, slots=True)
class RuleInput:
    """What every rule sees.

    Attributes
    ----------
    text : str
        Normalised utterance with fillers ("please", "can you") removed.
    context : HomeContext
    dialogue : sequence of DialogueTurn
        This conversation's recent successful turns, oldest first.
    usage : Mapping
        ``entity_id -> weight`` of successful use at this time of day (ranking signal).
    rephrased_verb : bool
        The verb was said in another form (a gerund), so a canonical-looking ``text`` is not what
        the built-in agent heard.
    """

    text: str
    context: HomeContext
    dialogue: Sequence[DialogueTurn] = ()
    usage: Mapping[str, float] = field(default_factory=dict)
    rephrased_verb: bool = False


_NAME_ENCODER = LexicalEncoder(dim=1024, ngram_range=(2, 3), word_weight=1.0)


@lru_cache(maxsize=8192)
def _name_embedding(name: str) -> npt.NDArray[np.float32]:
    return np.asarray(_NAME_ENCODER.encode([name])[0], dtype=np.float32)


def strip_fillers(text: str) -> str:
    """Remove politeness and hedges around a command ("would you mind turning ... please")."""
    stripped = _FILLER.sub("", text).strip()
    return _GERUND.sub(lambda m: _GERUND_BASE.get(m.group(1), m.group(1)), stripped)


def has_gerund(text: str) -> bool:
    """Whether the command's verb is a gerund once the fillers are gone ("would you mind turning on ...")."""
    return bool(_GERUND.match(_FILLER.sub("", text).strip()))


def _fmt_number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.1f}"


def _entity_text(ent: EntityInfo) -> str:
    return ent.spoken_names[0] if ent.spoken_names else ent.entity_id


def _area_text(ctx: HomeContext, area_id: str) -> str:
    area = ctx.area(area_id)
    return area.spoken_names[0] if area is not None and area.spoken_names else area_id.replace("_", " ")


def rank_entities(
    candidates: Sequence[EntityInfo], inp: RuleInput, *, tau_s: float = RECENT_ACTIVITY_TAU_S
) -> list[tuple[EntityInfo, float]]:
    """Order candidate entities by the ranking signals, best first.

    Score = 2 if in the satellite's area + recent activity ``exp(-age / tau_s)`` + 0.5 x share
    of successful use at this time of day.
    """
    ctx = inp.context
    scored = []
    total_usage = sum(inp.usage.values()) or 1.0
    for ent in candidates:
        score = 2.0 if ctx.device_area_id is not None and ent.area_id == ctx.device_area_id else 0.0
        if ent.last_changed_s is not None:
            score += math.exp(-max(ctx.now_s - ent.last_changed_s, 0.0) / tau_s)
        score += 0.5 * inp.usage.get(ent.entity_id, 0.0) / total_usage
        scored.append((ent, score))
    scored.sort(key=lambda pair: -pair[1])
    return scored


@dataclass(frozen=True, slots=True)
class _Target:
    entities: tuple[EntityInfo, ...] = ()
    area_id: str | None = None
    domain: str | None = None
    exact: bool = True


def _find_area(words: str, ctx: HomeContext) -> tuple[str | None, str]:
    """Longest area name or alias in ``words``; returns (area_id, rest of the words)."""
    best: tuple[int, str, str] | None = None
    for area in ctx.areas:
        for spoken in area.spoken_names:
            match = re.search(rf"(?:^|\s)(?:in\s+)?(?:the\s+)?{re.escape(spoken)}(?:\s|$)", words)
            if match and (best is None or len(spoken) > best[0]):
                rest = (words[: match.start()] + " " + words[match.end() :]).strip()
                best = (len(spoken), area.area_id, rest)
    if best is None:
        return None, words
    return best[1], best[2]


def _clean_object(words: str) -> str:
    tokens = words.split()
    while tokens and tokens[0] in {"the", "a", "my", "our", "all", "in", "of"}:
        tokens.pop(0)
    while tokens and tokens[-1] in {"in", "the", "of", "too", "also"}:
        tokens.pop()
    if tokens[-2:] == ["as", "well"]:
        del tokens[-2:]
    return " ".join(tokens)


def _match_name(phrase: str, entities: Sequence[EntityInfo], prefer_area: str | None) -> tuple[EntityInfo | None, bool]:
    """Entity whose name or alias is ``phrase`` (exact) or lexically close (near miss)."""
    if not phrase:
        return None, True
    exact = [e for e in entities if phrase in e.spoken_names]
    if len(exact) == 1:
        return exact[0], True
    if len(exact) > 1:
        in_area = [e for e in exact if e.area_id == prefer_area]
        return (in_area[0], True) if len(in_area) == 1 else (None, True)
    names = [(e, n) for e in entities for n in e.spoken_names]
    if not names:
        return None, False
    query = _NAME_ENCODER.encode([phrase])[0]
    sims = [float(_name_embedding(n) @ query) for _, n in names]
    best_by_entity: dict[str, float] = {}
    for (ent, _), sim in zip(names, sims, strict=True):
        bonus = 0.05 if prefer_area is not None and ent.area_id == prefer_area else 0.0
        best_by_entity[ent.entity_id] = max(best_by_entity.get(ent.entity_id, 0.0), float(sim) + bonus)
    ranked = sorted(best_by_entity.items(), key=lambda kv: -kv[1])
    top_id, top = ranked[0]
    runner = ranked[1][1] if len(ranked) > 1 else 0.0
    if top >= NAME_MATCH_MIN_SIMILARITY and top - runner >= NAME_MATCH_MIN_MARGIN:
        return next(e for e in entities if e.entity_id == top_id), False
    return None, False


def resolve_target(phrase: str, inp: RuleInput, *, allow_near_miss: bool = True) -> _Target | None:
    """Resolve an object phrase ("the kitchen lights", "telly", "lamp in the bedroom")."""
    ctx = inp.context
    exposed = ctx.exposed_entities
    phrase = _clean_object(phrase)
    if not phrase:
        return None
    if re.search(r"\b(?:and|or|except|but)\b", phrase):
        return None  # several targets or exclusions: not ours to guess
    here = bool(_HERE.search(phrase))
    phrase = _clean_object(_HERE.sub("", phrase).strip())
    if any(phrase in e.spoken_names for e in ctx.entities if not e.exposed):
        return None  # it names an entity Assist may not touch: no look-alike instead (failure.py suggests exposing it)
    ent, exact = _match_name(phrase, exposed, ctx.device_area_id)
    if ent is not None and exact:
        return _Target((ent,), ent.area_id, None, True)
    area_id, rest = _find_area(phrase, ctx)
    rest = _clean_object(rest)
    if area_id is None and here:
        area_id = ctx.device_area_id
    if rest in DOMAIN_WORDS:
        domain = DOMAIN_WORDS[rest]
        return _Target((), area_id, domain, area_id is not None and not here)
    if area_id is not None and rest:
        in_area = [e for e in exposed if e.area_id == area_id]
        ent_a, _ = _match_name(rest, in_area, area_id)
        if ent_a is not None:
            return _Target((ent_a,), area_id, None, False)
    if area_id is not None and not rest:
        return _Target((), area_id, None, not here)
    if allow_near_miss and ent is not None:
        return _Target((ent,), ent.area_id, None, False)
    head = _head_noun_entity(rest, exposed, area_id if area_id is not None else ctx.device_area_id)
    if allow_near_miss and head is not None:
        return _Target((head,), head.area_id, None, False)
    return None


def _head_noun_entity(phrase: str, exposed: Sequence[EntityInfo], area_id: str | None) -> EntityInfo | None:
    """The one entity whose name contains every word of ``phrase`` ("the radio" -> "Kitchen Radio").

    In the given area first, else in the whole home; None when it is not unique.
    """
    words = phrase.split()
    if not words or len(words) > 3:
        return None
    hits = [e for e in exposed if any(all(w in n.split() for w in words) for n in e.spoken_names)]
    local = [e for e in hits if area_id is not None and e.area_id == area_id]
    if len(local) == 1:
        return local[0]
    return hits[0] if len(hits) == 1 and not local else None


def _is_tv(ent: EntityInfo) -> bool:
    """Whether a media player is a television (device class or a TV word in its names)."""
    return ent.device_class == "tv" or any(TV_WORDS.intersection(n.split()) for n in ent.spoken_names)


def _on_off_command(on: bool, target: _Target, inp: RuleInput) -> tuple[Command, ...] | None:
    ctx = inp.context
    intent = TURN_ON if on else TURN_OFF
    verb = "turn on" if on else "turn off"
    action = "on" if on else "off"
    if target.entities:
        areas = {e.area_id for e in target.entities}
        if len(target.entities) > 1 and len(areas) == 1 and {e.domain for e in target.entities} == {"light"}:
            (area,) = areas
            lights = {e.entity_id for e in ctx.exposed_entities if e.domain == "light" and e.area_id == area}
            if area is not None and lights == {e.entity_id for e in target.entities}:
                return (
                    Command(
                        f"{verb} the lights in the {_area_text(ctx, area)}",
                        intent,
                        tuple(sorted(lights)),
                        action,
                        area,
                        "light",
                    ),
                )
        return tuple(
            Command(f"{verb} the {_entity_text(e)}", intent, (e.entity_id,), action, e.area_id) for e in target.entities
        )
    domain = target.domain
    area_id = target.area_id if target.area_id is not None else ctx.device_area_id
    if domain is None:
        return None
    kind = [e for e in ctx.exposed_entities if e.domain == domain and (domain != "media_player" or _is_tv(e))]
    members = [e for e in kind if area_id is not None and e.area_id == area_id]
    if not members and target.area_id is None and domain != "light":
        # Not in this room, and the room was not named: the only one in the home.
        members = kind
        if len(members) != 1:
            return None
        area_id = members[0].area_id
    if not members:
        return None
    if domain == "light" and area_id is not None:
        ids = tuple(sorted(e.entity_id for e in members))
        return (Command(f"{verb} the lights in the {_area_text(ctx, area_id)}", intent, ids, action, area_id, "light"),)
    if len(members) == 1:
        ent = members[0]
        return (Command(f"{verb} the {_entity_text(ent)}", intent, (ent.entity_id,), action, area_id),)
    return None


def _last_commands(inp: RuleInput) -> tuple[Command, ...]:
    return inp.dialogue[-1].commands if inp.dialogue else ()


def _pronoun_entities(inp: RuleInput, domains: frozenset[str] | None = None) -> tuple[EntityInfo, ...]:
    ctx = inp.context
    for turn in reversed(inp.dialogue):
        ids = [eid for cmd in turn.commands for eid in cmd.entity_ids]
        ents = tuple(e for e in (ctx.entity(i) for i in ids) if e is not None and e.exposed)
        if domains is not None:
            ents = tuple(e for e in ents if e.domain in domains)
        if ents:
            return ents
    return ()


def rule_follow_up(inp: RuleInput) -> Resolution | None:
    """'and the kitchen too', 'what about the bedroom': repeat the last action on a new target."""
    last = _last_commands(inp)
    if not last:
        return None
    for pattern in _FOLLOW_UP:
        match = pattern.match(inp.text)
        if match:
            break
    else:
        return None
    target = resolve_target(match.group("obj"), inp)
    if target is None:
        return None
    prev = last[0]
    ctx = inp.context
    commands: tuple[Command, ...] | None
    if prev.action in {"on", "off"} and not _OTHER_VERB_TEXT.match(prev.text):
        if target.area_id is not None and not target.entities and target.domain is None:
            target = _Target((), target.area_id, prev.domain or _domain_of(prev, ctx), False)
        commands = _on_off_command(prev.action == "on", target, inp)
    elif prev.action == "temperature":
        commands = (
            _temperature_for_area(target.area_id, inp) if not target.entities else _temperature_of(target.entities[0])
        )
    elif prev.action == "state" and len(target.entities) == 1:
        commands = (_state_question(target.entities[0], "on"),)
    else:
        commands = _substitute_target(prev, target, inp)
    if not commands:
        return None
    return Resolution("follow_up", commands, 0.9)


_OTHER_VERB_TEXT = re.compile(r"^(?:open|close|lock|unlock)\b")
"""Commands whose verb a follow-up keeps (an "on"/"off" rewrite would change the sentence's sense)."""
_INTENT_DOMAINS = {LIGHT_SET: "light", SET_VOLUME: "media_player", CLIMATE_SET_TEMPERATURE: "climate"}
"""Intents that only one domain takes (a follow-up with another domain's target cannot carry them)."""


def _substitute_target(prev: Command, target: _Target, inp: RuleInput) -> tuple[Command, ...] | None:
    """The last command's sentence with its target's name replaced by the new target's.

    Carries any intent the agent understood ("set the lamp brightness to 40 %" -> "and the floor
    lamp too", "open the blinds" -> "and the curtains") with the slot values as they were said.
    """
    ctx = inp.context
    old_entities = [e for e in (ctx.entity(i) for i in prev.entity_ids) if e is not None]
    if not old_entities or not prev.intent:
        return None
    padded = f" {prev.text} "
    if len(target.entities) == 1:
        new = target.entities[0]
        wanted = _INTENT_DOMAINS.get(prev.intent, new.domain)
        if new.domain != wanted or new.domain not in {e.domain for e in old_entities}:
            return None
        names = sorted({n for e in old_entities for n in e.spoken_names}, key=len, reverse=True)
        for name in names:
            if f" {name} " in padded:
                text = padded.replace(f" {name} ", f" {_entity_text(new)} ", 1).strip()
                return (Command(text, prev.intent, (new.entity_id,), prev.action, new.area_id),)
        return None
    if target.area_id is None or target.entities:
        return None
    old_area = prev.area_id if prev.area_id is not None else old_entities[0].area_id
    area = ctx.area(old_area) if old_area is not None else None
    if area is None:
        return None
    domains = {e.domain for e in old_entities}
    ids = tuple(
        sorted(e.entity_id for e in ctx.exposed_entities if e.domain in domains and e.area_id == target.area_id)
    )
    if not ids:
        return None
    for name in sorted(area.spoken_names, key=len, reverse=True):
        if f" {name} " in padded and not any(f" {n} " in padded for e in old_entities for n in e.spoken_names):
            text = padded.replace(f" {name} ", f" {_area_text(ctx, target.area_id)} ", 1).strip()
            return (Command(text, prev.intent, ids, prev.action, target.area_id, prev.domain),)
    return None


def _domain_of(cmd: Command, ctx: HomeContext) -> str | None:
    for eid in cmd.entity_ids:
        ent = ctx.entity(eid)
        if ent is not None:
            return ent.domain
    return None


_OPEN_CLOSE_PRONOUN = re.compile(r"^(?P<verb>open|close|shut)\s+(?:it|them|that|those|these)(?:\s+(?:up|back up))?$")


def _open_close_anaphora(inp: RuleInput) -> Resolution | None:
    """'close them', 'open it': the covers of the last turn that had any."""
    match = _OPEN_CLOSE_PRONOUN.match(inp.text)
    if not match:
        return None
    covers = _pronoun_entities(inp, frozenset({"cover"}))
    if not covers:
        return None
    opening = match.group("verb") == "open"
    verb, intent = ("open", TURN_ON) if opening else ("close", TURN_OFF)
    commands = tuple(Command(f"{verb} the {_entity_text(e)}", intent, (e.entity_id,), verb, e.area_id) for e in covers)
    return Resolution("anaphora", commands, 0.9)


_SET_IT_TO = re.compile(
    r"^(?:set|put|turn|make|change)\s+(?:it|that|this)\s+(?:up\s+|down\s+)?to\s+"
    r"(?P<value>\d+(?:\.\d+)?)\s*(?P<unit>%|percent|degrees?)?$"
)


def _set_it_to(inp: RuleInput) -> Resolution | None:
    """'set it to 50 %', 'turn it up to 22 degrees': the last turn's device, on its own dimension."""
    match = _SET_IT_TO.match(inp.text)
    if not match:
        return None
    unit = match.group("unit")
    domains = frozenset({"climate"}) if unit and unit.startswith("degree") else frozenset(_STEP_TEXT)
    if unit in {"%", "percent"}:
        domains = domains - {"climate"}
    ents = _pronoun_entities(inp, domains)
    if len(ents) != 1:
        return None
    command = _value_command(ents[0], float(match.group("value")))
    return Resolution("anaphora", (command,), 0.9) if command is not None else None


def rule_anaphora(inp: RuleInput) -> Resolution | None:
    """'turn it off', 'switch that on', 'close them', 'set it to 50 %': the entities of the last turn."""
    for special in (_open_close_anaphora, _set_it_to):
        resolution = special(inp)
        if resolution is not None:
            return resolution
    for pattern in _ON_OFF:
        match = pattern.match(inp.text)
        if match and match.group("obj") in _PRONOUNS:
            break
    else:
        return None
    direction = match.groupdict().get("dir")
    on = direction == "on" or match.group("verb") in _ON_VERBS
    last = _last_commands(inp)
    if last and last[0].domain is not None and last[0].area_id is not None:
        commands = _on_off_command(on, _Target((), last[0].area_id, last[0].domain, True), inp)
    else:
        ents = tuple(e for e in _pronoun_entities(inp) if e.domain in ON_OFF_DOMAINS)
        commands = _on_off_command(on, _Target(ents), inp) if ents else None
    return Resolution("anaphora", commands, 0.9) if commands else None


def _climate_target(inp: RuleInput) -> EntityInfo | None:
    ctx = inp.context
    from_dialogue = _pronoun_entities(inp, frozenset({"climate"}))
    if len(from_dialogue) == 1:
        return from_dialogue[0]
    climates = [e for e in ctx.exposed_entities if e.domain == "climate"]
    local = [e for e in climates if ctx.device_area_id is not None and e.area_id == ctx.device_area_id]
    if len(local) == 1:
        return local[0]
    return climates[0] if len(climates) == 1 else None


def _step_target(obj: str | None, dimension: str | None, inp: RuleInput) -> EntityInfo | None:
    """The one entity a relative change is about: named, from the dialogue, or the local one."""
    ctx = inp.context
    if obj is not None:
        obj = _clean_object(_HERE.sub("", obj).strip())
    if obj and obj not in _PRONOUNS and obj not in _DIMENSION_OBJECTS:
        target = resolve_target(obj, inp)
        if target is None:
            return None
        if len(target.entities) == 1:
            return target.entities[0]
        dimension = target.domain or dimension
        if dimension is None:
            return None
        area = target.area_id if target.area_id is not None else ctx.device_area_id
        members = [e for e in ctx.exposed_entities if e.domain == dimension and e.area_id == area]
        return members[0] if len(members) == 1 else None
    if obj in _DIMENSION_OBJECTS:
        dimension = _DIMENSION_OBJECTS[obj]
    domains = frozenset({dimension}) if dimension is not None else frozenset(_STEP_TEXT)
    from_dialogue = _pronoun_entities(inp, domains)
    if len(from_dialogue) == 1:
        return from_dialogue[0]
    if from_dialogue or dimension is None:
        return None
    if dimension == "climate":
        return _climate_target(inp)
    local = [e for e in ctx.exposed_entities if e.domain == dimension and e.area_id == ctx.device_area_id]
    if ctx.device_area_id is None or not local:
        return None
    if len(local) > 1:
        local = [e for e in local if e.is_running] if dimension == "media_player" else []
    return local[0] if len(local) == 1 else None


def _step_command(ent: EntityInfo, up: bool) -> Command | None:
    """One step up or down on the entity's own dimension, as an absolute setting."""
    attrs = ent.attributes
    sign = 1.0 if up else -1.0
    value: float | None = None
    if ent.domain == "climate":
        current = attrs.get("temperature")
        if isinstance(current, int | float):
            value = float(current) + sign * SET_POINT_STEP_C
    elif ent.domain == "light":
        level = attrs.get("brightness")
        pct = 100.0 * float(level) / 255.0 if isinstance(level, int | float) else (100.0 if ent.state == "on" else 0.0)
        value = min(100.0, max(5.0, round((pct + sign * BRIGHTNESS_STEP_PCT) / 5.0) * 5.0))
    elif ent.domain == "media_player":
        level = attrs.get("volume_level")
        if isinstance(level, int | float):
            value = min(100.0, max(0.0, round(100.0 * float(level) + sign * VOLUME_STEP_PCT)))
    elif ent.domain == "fan":
        level = attrs.get("percentage")
        if isinstance(level, int | float):
            value = min(100.0, max(0.0, float(level) + sign * FAN_STEP_PCT))
    return _value_command(ent, value) if value is not None else None


def _value_command(ent: EntityInfo, value: float) -> Command | None:
    """The built-in sentence that sets the entity's own dimension to ``value`` (degrees or percent)."""
    name = _entity_text(ent)
    if ent.domain == "climate":
        text = f"set the temperature of the {name} to {_fmt_number(value)} degrees"
        return Command(text, CLIMATE_SET_TEMPERATURE, (ent.entity_id,), "set_temperature", ent.area_id)
    if not 0.0 <= value <= 100.0:
        return None
    if ent.domain == "light":
        return Command(f"set the {name} brightness to {_fmt_number(value)}%", LIGHT_SET, (ent.entity_id,), "brightness")
    if ent.domain == "media_player":
        return Command(f"set the {name} volume to {_fmt_number(value)}%", SET_VOLUME, (ent.entity_id,), "volume")
    if ent.domain == "fan":
        return Command(f"set the {name} speed to {_fmt_number(value)}%", FAN_SET_SPEED, (ent.entity_id,), "fan_speed")
    return None


_STEP_TEXT = {"climate": "climate", "light": "brightness", "media_player": "volume", "fan": "fan"}
"""Domains a relative change applies to, and the rule name's suffix."""


def rule_relative_change(inp: RuleInput) -> Resolution | None:
    """'make it warmer', "I'm cold", 'turn it up', 'dim the lamp', 'louder': one step on the right dimension.

    The words fix the dimension when they can (warmer: temperature, brighter: brightness, louder:
    volume); "up"/"down" take the domain of the target (named, the last turn's, or the local one).
    """
    for pattern in _RELATIVE:
        match = pattern.match(inp.text)
        if match:
            break
    else:
        return None
    groups = match.groupdict()
    verb = groups.get("verb")
    word = groups.get("word") or ("up" if verb in {"increase", "raise"} else "down")
    obj = groups.get("obj")
    if obj is not None and "volume" in obj.split() and not _PRONOUNS.intersection(obj.split()):
        return None  # "turn up the volume": the built-in agent's own relative-volume sentence
    dimension = _STEP_DIMENSION.get(word)
    ent = _step_target(obj, dimension, inp)
    if ent is None or ent.domain not in _STEP_TEXT or (dimension is not None and ent.domain != dimension):
        return None
    command = _step_command(ent, word in _STEP_UP)
    if command is None:
        return None
    return Resolution(f"relative_{_STEP_TEXT[ent.domain]}", (command,), 0.85)


def _temperature_of(ent: EntityInfo) -> tuple[Command, ...]:
    intent = CLIMATE_GET_TEMPERATURE if ent.domain == "climate" else GET_STATE
    return (
        Command(
            f"what is the temperature of the {_entity_text(ent)}", intent, (ent.entity_id,), "temperature", ent.area_id
        ),
    )


def _temperature_for_area(area_id: str | None, inp: RuleInput) -> tuple[Command, ...] | None:
    ctx = inp.context
    if area_id is None:
        return None
    climates = [e for e in ctx.exposed_entities if e.domain == "climate" and e.area_id == area_id]
    if climates:
        ids = tuple(sorted(e.entity_id for e in climates))
        return (
            Command(
                f"what is the temperature in the {_area_text(ctx, area_id)}",
                CLIMATE_GET_TEMPERATURE,
                ids,
                "temperature",
                area_id,
            ),
        )
    sensors = [
        e
        for e in ctx.exposed_entities
        if e.domain == "sensor"
        and e.device_class == "temperature"
        and e.area_id == area_id
        and not _is_appliance_sensor(e, ctx)
    ]
    return _temperature_of(sensors[0]) if len(sensors) == 1 else None


def _is_appliance_sensor(sensor: EntityInfo, ctx: HomeContext) -> bool:
    return sensor.device_id is not None and any(
        e.device_id == sensor.device_id and e.entity_id != sensor.entity_id and e.domain != "sensor"
        for e in ctx.entities
    )


def rule_device_state_temperature(inp: RuleInput) -> Resolution | None:
    """'what is the temperature': the running appliance's sensor, else the local thermostat."""
    if not _TEMPERATURE_Q.match(inp.text):
        return None
    ctx = inp.context
    running_devices = {
        e.device_id for e in ctx.entities if e.device_id is not None and e.domain != "sensor" and e.is_running
    }
    hot = [
        e
        for e in ctx.exposed_entities
        if e.domain == "sensor" and e.device_class == "temperature" and e.device_id in running_devices
    ]
    if len(hot) == 1:
        return Resolution("device_state_temperature", _temperature_of(hot[0]), 0.9)
    commands = _temperature_for_area(ctx.device_area_id, inp)
    if commands is None:
        climates = [e for e in ctx.exposed_entities if e.domain == "climate"]
        if len(climates) != 1:
            return None
        commands = _temperature_of(climates[0])
    return Resolution("device_state_temperature", commands, 0.85)


def _running_candidates(ctx: HomeContext) -> list[EntityInfo]:
    return [
        e
        for e in ctx.exposed_entities
        if (e.domain == "binary_sensor" and e.device_class == "running")
        or (e.domain in {"switch", "sensor"} and e.device_class == "running")
    ]


def _state_question(ent: EntityInfo, what: str) -> Command:
    if ent.domain == "binary_sensor" and ent.device_class == "running":
        return Command(f"is the {_entity_text(ent)} running", GET_STATE, (ent.entity_id,), "state", ent.area_id)
    return Command(f"is the {_entity_text(ent)} on", GET_STATE, (ent.entity_id,), "state", ent.area_id)


def rule_running_appliance(inp: RuleInput) -> Resolution | None:
    """'is it running', 'is it done': the appliance in question, the running one, or the last one used."""
    match = _RUNNING_Q.match(inp.text)
    if not match:
        return None
    what = match.group("what")
    from_dialogue = _pronoun_entities(inp)
    if len(from_dialogue) == 1:
        return Resolution("running_appliance", (_state_question(from_dialogue[0], what),), 0.9)
    candidates = _running_candidates(inp.context)
    running = [e for e in candidates if e.is_running]
    pool = running if running else candidates
    if not pool:
        return None
    ranked = rank_entities(pool, inp, tau_s=RECENT_ACTIVITY_TAU_S if running else LAST_USE_TAU_S)
    if len(ranked) > 1 and ranked[0][1] - ranked[1][1] < 0.25:
        return None
    return Resolution("running_appliance", (_state_question(ranked[0][0], what),), 0.85 if running else 0.7)


def rule_on_off(inp: RuleInput) -> Resolution | None:
    """Turn on/off with an area default, 'here', a colloquial verb or a near-miss name."""
    text = inp.text
    if _DARK.match(text):
        commands = _on_off_command(True, _Target((), inp.context.device_area_id, "light", False), inp)
        return Resolution("on_off", commands, 0.8) if commands else None
    if _QUESTION.match(text):
        return None
    for pattern in _ON_OFF:
        match = pattern.match(text)
        if match:
            break
    else:
        return None
    obj = match.group("obj")
    if obj in _PRONOUNS or _EVERYWHERE.search(obj):
        return None
    groups = match.groupdict()
    verb = groups.get("verb") or ""
    direction = groups.get("dir")
    on = direction == "on" or verb in _ON_VERBS
    target = resolve_target(obj, inp)
    if target is None:
        return None
    if verb in {"start", "stop"}:
        domains = {e.domain for e in target.entities} or {target.domain or ""}
        if not domains <= _START_STOP_DOMAINS:
            return None
    canonical_form = (
        verb in _CANONICAL_VERBS and pattern is _ON_OFF[0] and direction in {"on", "off"} and not inp.rephrased_verb
    )
    if target.exact and canonical_form:
        return None
    if target.exact and verb in _CANONICAL_VERBS and target.entities and not inp.rephrased_verb:
        return None
    commands = _on_off_command(on, target, inp)
    if not commands:
        return None
    return Resolution("on_off", commands, 0.85 if target.exact else 0.75)


CONTEXT_RULES: dict[str, Callable[[RuleInput], Resolution | None]] = {
    "follow_up": rule_follow_up,
    "anaphora": rule_anaphora,
    "relative_change": rule_relative_change,
    "device_state_temperature": rule_device_state_temperature,
    "running_appliance": rule_running_appliance,
    "on_off": rule_on_off,
}
"""Context rules by name, in the order they are tried."""


def resolve_with_context(
    inp: RuleInput, rules: Mapping[str, Callable[[RuleInput], Resolution | None]] = CONTEXT_RULES
) -> Resolution | None:
    """First rule that resolves the utterance, or None."""
    for rule in rules.values():
        resolution = rule(inp)
        if resolution is not None:
            return resolution
    return None


__all__ = [
    "ACTION_INTENTS",
    "CLIMATE_GET_TEMPERATURE",
    "CLIMATE_SET_TEMPERATURE",
    "CONTEXT_RULES",
    "DOMAIN_WORDS",
    "GET_STATE",
    "LIGHT_SET",
    "ON_OFF_PATTERNS",
    "SET_VOLUME",
    "TURN_OFF",
    "TURN_ON",
    "Command",
    "DialogueTurn",
    "Resolution",
    "RuleInput",
    "has_gerund",
    "rank_entities",
    "resolve_target",
    "resolve_with_context",
    "strip_fillers",
]
