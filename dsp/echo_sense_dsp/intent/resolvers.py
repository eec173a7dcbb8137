"""Context rules: resolve an utterance against the home into canonical commands.

Each rule reads the normalised utterance, the :class:`HomeContext` and the dialogue so far and
either declines (``None``) or returns a :class:`Resolution`: the rule's name, the canonical
English commands that Home Assistant's built-in intents (``home-assistant-intents``) match,
and for each command the intent and the entity ids it must act on, so the agent can verify
the default agent's match before anything happens.

Rules (registry :data:`CONTEXT_RULES`, tried in order):

============================  =================================================================
``follow_up``                 "and the kitchen too", "what about the bedroom": last turn's action
                              on a new area or entity
``anaphora``                  "turn it off", "switch that on": the entity of the last turn
``relative_climate``          "make it warmer", "I'm cold": thermostat set point +-1 degree
``relative_brightness``       "make it brighter", "dim it": brightness +-25 %
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

ACTION_INTENTS = frozenset(
    {
        TURN_ON,
        TURN_OFF,
        CLIMATE_SET_TEMPERATURE,
        LIGHT_SET,
        SET_VOLUME,
        "HassSetVolumeRelative",
        "HassFanSetSpeed",
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
    "heating": "climate",
    "heater": "climate",
    "thermostat": "climate",
}
"""Generic words for a kind of device, and the domain they mean."""

TV_WORDS = frozenset({"tv", "telly", "television"})
"""Generic words that mean a television, not any media player."""

ON_OFF_DOMAINS = frozenset({"light", "fan", "switch", "media_player", "climate", "input_boolean", "cover"})

_PRONOUNS = frozenset({"it", "that", "them", "this", "those", "these"})
_FILLER = re.compile(
    r"^(?:(?:hey|ok|okay|please|can you|could you|would you|will you|just|now|so)\s+)+"
    r"|(?:\s+(?:please|for me|now|again|thanks|thank you))+$"
)
_HERE = re.compile(r"\s*\b(?:in here|here|in this room|this room)\b")
_FOLLOW_UP = (
    re.compile(r"^(?:and|also|plus)\s+(?:in\s+)?(?:the\s+)?(?P<obj>.+?)(?:\s+(?:too|as well|also))?$"),
    re.compile(r"^(?:what|how)\s+about\s+(?:in\s+)?(?:the\s+)?(?P<obj>.+)$"),
    re.compile(r"^(?:the\s+)?(?P<obj>.+?)\s+(?:too|as well)$"),
    re.compile(r"^same\s+(?:for|in)\s+(?:the\s+)?(?P<obj>.+)$"),
)
_TEMPERATURE_Q = re.compile(
    r"^(?:what'?s|whats|what is|how'?s|how is|tell me)\s+(?:the\s+)?(?:current\s+)?(?:temperature|temp)"
    r"(?:\s+(?:in here|here|now|right now|at the moment|inside))?$"
    r"|^how (?:hot|warm|cold) is it(?:\s+(?:in here|here|now|inside))?$"
)
_RUNNING_Q = re.compile(
    r"^(?:is|are)\s+(?:it|that|they)\s+(?:still\s+)?(?P<what>running|on|done|finished|going|working)$"
)
_WARMER = re.compile(
    r"^(?:make|set|turn)\s+it\s+(?:a\s+(?:bit|little)\s+|slightly\s+)?"
    r"(?P<dir>warmer|hotter|cooler|colder)(?:\s+in here)?$"
    r"|^(?:i'?m|i am|it'?s|it is)\s+(?:too\s+|a bit\s+|so\s+|really\s+|very\s+)?"
    r"(?P<feel>cold|freezing|chilly|hot|warm|boiling)(?:\s+in here)?$"
    r"|^turn\s+(?P<updown>up|down)\s+the\s+(?:heat|heating|temperature)$"
    r"|^turn\s+the\s+(?:heat|heating|temperature)\s+(?P<updown_after>up|down)$"
)
_BRIGHTER = re.compile(
    r"^(?:make|turn)\s+(?:it|them|the lights?)\s+(?P<dir>brighter|dimmer|darker)$"
    r"|^(?P<verb>dim|brighten)\s+(?:it|them|the lights?)$"
)
_DARK = re.compile(r"^(?:it'?s|it is)\s+(?:too\s+|so\s+|really\s+)?dark(?:\s+in here)?$")
_ON_OFF = (
    re.compile(r"^(?P<verb>turn|switch|power|flip)\s+(?P<dir>on|off|out)\s+(?P<obj>.+)$"),
    re.compile(r"^(?P<verb>put|shut)\s+(?P<dir>on|off)\s+(?P<obj>.+)$"),
    re.compile(r"^(?P<verb>turn|switch|power|flip|put|shut)\s+(?P<obj>.+?)\s+(?P<dir>on|off|out)$"),
    re.compile(r"^(?P<verb>kill|cut|shut down|shut off|power down)\s+(?P<obj>.+)$"),
    re.compile(r"^(?P<verb>fire up|start up|power up)\s+(?P<obj>.+)$"),
    re.compile(r"^(?P<obj>[\w' -]+?)\s+(?P<dir>on|off|out)$"),
)
ON_OFF_PATTERNS = _ON_OFF
"""On/off command forms; group ``obj`` is the target phrase."""
_EVERYWHERE = re.compile(r"\b(?:all|every|everything|everywhere|whole house|entire house)\b")
_QUESTION = re.compile(
    r"^(?:is|are|was|were|what|what's|whats|how|why|when|where|which|who|do|does|did|can|could|should)\b"
)
_ON_VERBS = frozenset({"fire up", "start up", "power up"})
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
    """

    text: str
    context: HomeContext
    dialogue: Sequence[DialogueTurn] = ()
    usage: Mapping[str, float] = field(default_factory=dict)


_NAME_ENCODER = LexicalEncoder(dim=1024, ngram_range=(2, 3), word_weight=1.0)


@lru_cache(maxsize=8192)
def _name_embedding(name: str) -> npt.NDArray[np.float32]:
    return np.asarray(_NAME_ENCODER.encode([name])[0], dtype=np.float32)


def strip_fillers(text: str) -> str:
    """Remove politeness and hedges around a command ("can you ... please")."""
    return _FILLER.sub("", text).strip()


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
    while tokens and tokens[-1] in {"in", "the", "of"}:
        tokens.pop()
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
    return None


def _is_tv(ent: EntityInfo) -> bool:
    """Whether a media player is a television (device class or a TV word in its names)."""
    return ent.device_class == "tv" or any(TV_WORDS.intersection(n.split()) for n in ent.spoken_names)


def _on_off_command(on: bool, target: _Target, inp: RuleInput) -> tuple[Command, ...] | None:
    ctx = inp.context
    intent = TURN_ON if on else TURN_OFF
    verb = "turn on" if on else "turn off"
    action = "on" if on else "off"
    if target.entities:
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
    if prev.action in {"on", "off"}:
        if target.area_id is not None and not target.entities and target.domain is None:
            target = _Target((), target.area_id, prev.domain or _domain_of(prev, ctx), False)
        commands = _on_off_command(prev.action == "on", target, inp)
    elif prev.action == "temperature":
        commands = (
            _temperature_for_area(target.area_id, inp) if not target.entities else _temperature_of(target.entities[0])
        )
    else:
        return None
    if not commands:
        return None
    return Resolution("follow_up", commands, 0.9)


def _domain_of(cmd: Command, ctx: HomeContext) -> str | None:
    for eid in cmd.entity_ids:
        ent = ctx.entity(eid)
        if ent is not None:
            return ent.domain
    return None


def rule_anaphora(inp: RuleInput) -> Resolution | None:
    """'turn it off', 'switch that on': act on the entities of the last turn."""
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


def rule_relative_climate(inp: RuleInput) -> Resolution | None:
    """'make it warmer', "I'm cold", 'turn up the heat': set point +- one step."""
    match = _WARMER.match(inp.text)
    if not match:
        return None
    word = match.group("dir") or match.group("feel") or match.group("updown") or match.group("updown_after")
    warmer = word in {"warmer", "hotter", "cold", "freezing", "chilly", "up"}
    climate = _climate_target(inp)
    if climate is None:
        return None
    current = climate.attributes.get("temperature")
    if not isinstance(current, int | float):
        return None
    new = float(current) + (SET_POINT_STEP_C if warmer else -SET_POINT_STEP_C)
    text = f"set the temperature of the {_entity_text(climate)} to {_fmt_number(new)} degrees"
    return Resolution(
        "relative_climate",
        (Command(text, CLIMATE_SET_TEMPERATURE, (climate.entity_id,), "set_temperature", climate.area_id),),
        0.9,
    )


def rule_relative_brightness(inp: RuleInput) -> Resolution | None:
    """'make it brighter', 'dim the lights': brightness +- one step on the light in question."""
    match = _BRIGHTER.match(inp.text)
    if not match:
        return None
    brighter = (match.group("dir") or match.group("verb")) in {"brighter", "brighten"}
    ctx = inp.context
    lights = _pronoun_entities(inp, frozenset({"light"}))
    if not lights and ctx.device_area_id is not None:
        lights = tuple(e for e in ctx.exposed_entities if e.domain == "light" and e.area_id == ctx.device_area_id)
    if len(lights) != 1:
        return None
    light = lights[0]
    level = light.attributes.get("brightness")
    pct = 100.0 * float(level) / 255.0 if isinstance(level, int | float) else (100.0 if light.state == "on" else 0.0)
    new = min(100.0, max(5.0, round((pct + (BRIGHTNESS_STEP_PCT if brighter else -BRIGHTNESS_STEP_PCT)) / 5.0) * 5.0))
    text = f"set the {_entity_text(light)} brightness to {_fmt_number(new)}%"
    return Resolution(
        "relative_brightness", (Command(text, LIGHT_SET, (light.entity_id,), "brightness", light.area_id),), 0.85
    )


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
    canonical_form = verb in _CANONICAL_VERBS and pattern is _ON_OFF[0] and direction in {"on", "off"}
    if target.exact and canonical_form:
        return None
    if target.exact and verb in _CANONICAL_VERBS and target.entities:
        return None
    commands = _on_off_command(on, target, inp)
    if not commands:
        return None
    return Resolution("on_off", commands, 0.85 if target.exact else 0.75)


CONTEXT_RULES: dict[str, Callable[[RuleInput], Resolution | None]] = {
    "follow_up": rule_follow_up,
    "anaphora": rule_anaphora,
    "relative_climate": rule_relative_climate,
    "relative_brightness": rule_relative_brightness,
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
    "rank_entities",
    "resolve_target",
    "resolve_with_context",
    "strip_fillers",
]
