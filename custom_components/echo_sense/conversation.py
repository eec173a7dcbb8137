"""The context-aware intent rewriter as a conversation agent in front of another agent.

Put "echo_sense" as the conversation agent of an Assist pipeline. For every utterance it

1. converts Home Assistant's state into the library's context model (:func:`build_home_context`:
   exposed entities with names, aliases, areas, devices and states; the area of the satellite
   or device that heard the command; the local time of day),
2. asks :class:`echo_sense_dsp.intent.Rewriter` what to forward (unchanged, a context
   resolution, a taught or a learned rewrite, or a direct answer in a teaching dialogue),
3. forwards to the agent of the entry's option ``forward_agent`` (default: Home Assistant's
   built-in agent). A rewrite is checked before it acts: with the built-in agent each command is
   first only *recognised*, and the matched intent and targets must be the ones the resolution
   expected (2026.x's fuzzy matcher can answer "what is the temperature" with the current time,
   as a success). A rejected rewrite falls back to the original utterance, so a working command
   never gets worse. An utterance forwarded as it is is recognised first too: a *fuzzy* guess of
   the built-in agent that the words cannot mean (a timer status for "and the kitchen too", an
   action on the kitchen light for "turn off the garage light" in a home without a garage) is
   answered with the built-in agent's own "no match" / "no such device" error instead of acted on,
4. logs the outcome (success, error, no match, quick repeat) into the bounded interaction log
   kept in Home Assistant's Store (:mod:`.rewriter_store`), and for a failed turn finds the first
   failing stage; where the user can fix it (an unexposed entity, a missing alias) it raises a
   repair issue that says what to do.

A pipeline with "prefer handling commands locally" answers the commands the built-in agent
matches before any conversation agent runs, so those bypass this agent (and its learning).
"""

from __future__ import annotations

import dataclasses
import logging
import re
import time
from collections import deque
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from homeassistant.components import conversation
from homeassistant.components.conversation.agent_manager import async_get_agent
from homeassistant.components.conversation.default_agent import METADATA_FUZZY_MATCH, DefaultAgent
from homeassistant.components.homeassistant.exposed_entities import async_should_expose
from homeassistant.config_entries import ConfigEntry
from homeassistant.const import MATCH_ALL
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import area_registry as ar
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers import intent
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.util import dt as dt_util
from homeassistant.util.hass_dict import HassKey

from echo_sense_dsp.errors import EchoSenseError
from echo_sense_dsp.intent import (
    ACTION_INTENTS,
    ATTRIBUTE_KEYS,
    ENCODERS,
    AgentResult,
    AreaInfo,
    EntityInfo,
    FailurePoint,
    HomeContext,
    Outcome,
    RewriteDecision,
    Rewriter,
    SentenceEncoder,
    Stage,
    isolate_failure_point,
    summarise_failures,
)

from .const import CONF_FORWARD_AGENT, CONF_REWRITER_ENCODER, DEFAULT_ENCODER, DOMAIN
from .hub import EchoSenseConfigEntry, EchoSenseHub
from .rewriter_store import RewriterStorage

_LOGGER = logging.getLogger(__name__)

PARALLEL_UPDATES = 0

QUICK_REPEAT_WINDOW_S = 10.0
"""The same utterance again within this time means the previous answer did not help."""

MAX_FAILURE_POINTS = 200
"""Failed turns kept in memory for diagnostics."""

REWRITERS: HassKey[dict[str, RewriterRuntime]] = HassKey(f"{DOMAIN}_rewriters")
"""Each loaded entry's rewriter runtime, by entry id (the services find them here)."""

NOTHING_HEARD_SPEECH = "Sorry, I didn't catch a command."
AGENT_FAILED_SPEECH = "Sorry, that went wrong."
NOT_UNDERSTOOD_SPEECH = "Sorry, I couldn't understand that"
NO_SUCH_DEVICE_SPEECH = "Sorry, I am not aware of a device like that here"

_ISSUE_ID_CHARS = re.compile(r"[^a-z0-9_]+")

INTENT_DOMAINS: dict[str, set[str]] = {
    "HassClimateGetTemperature": {"climate"},
    "HassClimateSetTemperature": {"climate"},
    "HassLightSet": {"light"},
    "HassSetVolume": {"media_player"},
    "HassFanSetSpeed": {"fan"},
}
"""Intents whose handler only takes one domain (an area slot alone must not match the room's other devices)."""


async def async_setup_entry(
    hass: HomeAssistant,
    entry: EchoSenseConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Load the entry's learning from the Store and add the conversation agent."""
    storage = RewriterStorage(hass, entry.entry_id)
    encoder = await async_load_encoder(hass, str(entry.options.get(CONF_REWRITER_ENCODER, DEFAULT_ENCODER)))
    runtime = RewriterRuntime(hass, entry, storage, Rewriter(await storage.async_load(), encoder=encoder))
    hass.data.setdefault(REWRITERS, {})[entry.entry_id] = runtime
    entry.async_on_unload(runtime.async_unload)
    async_add_entities([EchoSenseConversationEntity(entry.runtime_data, runtime)])


async def async_load_encoder(hass: HomeAssistant, name: str) -> SentenceEncoder:
    """The retrieval encoder of that name (loaded in the executor); the lexical one if it cannot load."""
    factory = ENCODERS.get(name)
    if factory is None:
        _LOGGER.warning("Unknown rewriter encoder %r (known: %s); using %s", name, ", ".join(ENCODERS), DEFAULT_ENCODER)
        factory = ENCODERS[DEFAULT_ENCODER]
    try:
        return await hass.async_add_executor_job(factory)
    except EchoSenseError as err:
        _LOGGER.warning("Rewriter encoder %r cannot load (%s); using %s", name, err, DEFAULT_ENCODER)
        return ENCODERS[DEFAULT_ENCODER]()


async def async_remove_entry_data(hass: HomeAssistant, entry: ConfigEntry) -> None:
    """Delete the entry's rewriter Store (call from ``async_remove_entry``)."""
    await RewriterStorage(hass, entry.entry_id).async_remove()


# ---------------------------------------------------------------------------------------- context


@callback
def satellite_area_id(hass: HomeAssistant, satellite_id: str | None, device_id: str | None) -> str | None:
    """Area of the satellite entity (or its device), else of the device that heard the command."""
    if satellite_id and (entity_entry := er.async_get(hass).async_get(satellite_id)) is not None:
        if entity_entry.area_id:
            return entity_entry.area_id
        device_id = entity_entry.device_id or device_id
    if device_id and (device_entry := dr.async_get(hass).async_get(device_id)) is not None:
        return device_entry.area_id
    return None


def _json_value(value: Any) -> Any:
    return value if isinstance(value, (str, int, float, bool)) or value is None else str(value)


@callback
def build_home_context(
    hass: HomeAssistant, *, satellite_id: str | None = None, device_id: str | None = None, language: str = "en"
) -> HomeContext:
    """Home Assistant's state as the library's :class:`HomeContext`.

    Entities exposed to Assist are candidates. Unexposed entities are included with
    ``exposed=False`` so that a command naming one can raise the "expose it" repair; the
    rewriter never forwards a command for them.
    """
    ent_reg = er.async_get(hass)
    dev_reg = dr.async_get(hass)
    entities = []
    for state in hass.states.async_all():
        entry = ent_reg.async_get(state.entity_id)
        area_id = entry.area_id if entry is not None else None
        dev_id = entry.device_id if entry is not None else None
        if area_id is None and dev_id is not None and (device := dev_reg.async_get(dev_id)) is not None:
            area_id = device.area_id
        entities.append(
            EntityInfo(
                entity_id=state.entity_id,
                name=state.name,
                aliases=tuple(a for a in (entry.aliases if entry is not None else ()) if a and a.strip()),
                area_id=area_id,
                state=state.state,
                device_class=state.attributes.get("device_class"),
                device_id=dev_id,
                attributes={k: _json_value(state.attributes[k]) for k in ATTRIBUTE_KEYS if k in state.attributes},
                last_changed_s=state.last_changed.timestamp(),
                exposed=async_should_expose(hass, conversation.DOMAIN, state.entity_id),
            )
        )
    areas = tuple(AreaInfo(a.id, a.name, tuple(a.aliases)) for a in ar.async_get(hass).async_list_areas())
    now_local = dt_util.now()
    return HomeContext(
        entities=tuple(entities),
        areas=areas,
        device_area_id=satellite_area_id(hass, satellite_id, device_id),
        hour_of_day=now_local.hour + now_local.minute / 60.0,
        now_s=time.time(),
        language=language,
    )


# ---------------------------------------------------------------------------------------- results


def outcome_of(response: intent.IntentResponse) -> Outcome:
    """The library's outcome of one agent response."""
    if response.response_type is not intent.IntentResponseType.ERROR:
        return Outcome.SUCCESS
    if response.error_code in (
        intent.IntentResponseErrorCode.NO_INTENT_MATCH,
        intent.IntentResponseErrorCode.NO_VALID_TARGETS,
    ):
        return Outcome.NO_MATCH
    return Outcome.ERROR


def agent_result_from_response(response: intent.IntentResponse) -> AgentResult:
    """What the agent did: intent, entities acted on or asked about, error code."""
    intent_type = response.intent.intent_type if response.intent is not None else None
    if response.response_type is intent.IntentResponseType.ERROR:
        code = response.error_code.value if response.error_code is not None else "unknown"
        return AgentResult(False, intent_type, (), code)
    targets = [
        t.id for t in response.success_results if t.type is intent.IntentResponseTargetType.ENTITY and t.id is not None
    ]
    targets.extend(s.entity_id for s in response.matched_states)
    slots = response.intent.slots if response.intent is not None else {}
    return AgentResult(
        True,
        intent_type,
        tuple(dict.fromkeys(targets)),
        area_id=_slot_text(slots.get("area")),
        domain=_slot_text(slots.get("domain")),
    )


def _slot_text(slot: Any) -> str | None:
    """A slot's single text value (the area id, the domain), or None."""
    value = slot.get("value") if isinstance(slot, dict) else slot
    if isinstance(value, list | tuple) and len(value) == 1:
        value = value[0]
    return value if isinstance(value, str) else None


def agent_result_from_recognition(hass: HomeAssistant, result: Any) -> AgentResult:
    """What the built-in agent *would* do (recognised, not acted): intent and resolved targets.

    ``result`` is hassil's ``RecognizeResult`` from :meth:`DefaultAgent.async_recognize_intent`
    (None when nothing matched). Targets are resolved the way the default agent's debug view
    does (name, area, domain, device class among exposed entities).
    """
    if result is None:
        return AgentResult(False, error_code=intent.IntentResponseErrorCode.NO_INTENT_MATCH.value)
    intent_type = str(result.intent.name)
    fuzzy = bool((result.intent_metadata or {}).get(METADATA_FUZZY_MATCH))
    if result.unmatched_entities:
        return AgentResult(False, intent_type, (), intent.IntentResponseErrorCode.NO_VALID_TARGETS.value, fuzzy=fuzzy)
    slots = {key: ent.value for key, ent in result.entities.items()}
    name = str(slots["name"]) if "name" in slots and slots["name"] != "all" else None
    area = str(slots["area"]) if "area" in slots else None
    domains = set(cv.ensure_list(slots["domain"])) if "domain" in slots else INTENT_DOMAINS.get(intent_type)
    device_classes = set(cv.ensure_list(slots["device_class"])) if "device_class" in slots else None
    if name is None and area is None and not domains and not device_classes:
        return AgentResult(True, intent_type, fuzzy=fuzzy)
    states = intent.async_match_states(
        hass,
        name=name,
        area_name=area,
        domains=domains,
        device_classes=device_classes,
        assistant=conversation.DOMAIN,
    )
    return AgentResult(True, intent_type, tuple(s.entity_id for s in states), fuzzy=fuzzy)


def _speech(response: intent.IntentResponse) -> str:
    return str(response.speech.get("plain", {}).get("speech", ""))


def _issue_id(text: str) -> str:
    return _ISSUE_ID_CHARS.sub("_", text.casefold())[:200]


# ---------------------------------------------------------------------------------------- runtime


class RewriterRuntime:
    """One entry's rewriter, its Store, the forwarding and the learning bookkeeping."""

    def __init__(self, hass: HomeAssistant, entry: ConfigEntry, storage: RewriterStorage, rewriter: Rewriter) -> None:
        self.hass = hass
        self.entry = entry
        self.storage = storage
        self.rewriter = rewriter
        self.entity_id: str | None = None
        self.failures: deque[FailurePoint] = deque(maxlen=MAX_FAILURE_POINTS)
        self.turns = 0
        self.rewrites_forwarded = 0
        self.rewrites_rejected = 0
        self.fuzzy_guesses_rejected = 0
        self.repair_issue_ids: set[str] = set()
        self._last_turn: dict[str, tuple[RewriteDecision, Outcome]] = {}

    @property
    def forward_agent_id(self) -> str:
        """The agent to forward to: the option, else the built-in agent (never this agent)."""
        agent_id = self.entry.options.get(CONF_FORWARD_AGENT) or conversation.HOME_ASSISTANT_AGENT
        if agent_id == self.entity_id or async_get_agent(self.hass, agent_id) is None:
            return conversation.HOME_ASSISTANT_AGENT
        return str(agent_id)

    async def async_unload(self) -> None:
        """Write the learning now and forget the runtime."""
        await self.storage.async_save(self.rewriter.store)
        self.hass.data.get(REWRITERS, {}).pop(self.entry.entry_id, None)
        for issue_id in self.repair_issue_ids:
            ir.async_delete_issue(self.hass, DOMAIN, issue_id)

    async def async_save(self) -> None:
        """Write the learning now (after a service changed it)."""
        await self.storage.async_save(self.rewriter.store)

    # ------------------------------------------------------------------ one turn
    async def async_handle(
        self, user_input: conversation.ConversationInput, conversation_id: str
    ) -> conversation.ConversationResult:
        """Rewrite, verify, forward and learn for one utterance; returns the result to answer with.

        ``continue_conversation`` is the forward agent's, or set while a teaching dialogue asks.
        """
        self.turns += 1
        context = build_home_context(
            self.hass,
            satellite_id=user_input.satellite_id,
            device_id=user_input.device_id,
            language=user_input.language,
        )
        try:
            decision = self.rewriter.rewrite(
                user_input.text,
                context,
                conversation_id=conversation_id,
                user_id=user_input.context.user_id,
                satellite_id=user_input.satellite_id or user_input.device_id,
            )
        except Exception:  # a rewriter fault must never cost the user the command
            _LOGGER.exception("Intent rewriter failed on an utterance; forwarding it unchanged")
            return await self._async_forward(user_input, user_input.text, conversation_id)
        self._note_quick_repeat(decision)

        if not decision.normalized:
            # Nothing usable is left (blank, or only control and format characters). The
            # built-in agent raises on empty text, so answer here, as it would for no match.
            response = intent.IntentResponse(language=user_input.language)
            response.async_set_error(intent.IntentResponseErrorCode.NO_INTENT_MATCH, NOTHING_HEARD_SPEECH)
            return conversation.ConversationResult(response, conversation_id)

        if decision.response_text is not None:
            response = intent.IntentResponse(language=user_input.language)
            response.async_set_speech(decision.response_text)
            self._learned_changed()
            asks = decision.response_text.rstrip().endswith("?")
            return conversation.ConversationResult(response, conversation_id, continue_conversation=asks)

        if decision.changed:
            rewritten = await self._async_forward_rewrite(user_input, decision, conversation_id)
            if rewritten is not None:
                return rewritten
            self.rewrites_rejected += 1
            decision = dataclasses.replace(decision, commands=(), rule=f"{decision.rule}_rejected")

        guarded = await self._async_guard_unchanged(user_input, decision, context, conversation_id)
        if guarded is not None:
            return guarded
        result = await self._async_forward(user_input, user_input.text, conversation_id)
        self._record(decision, result.response, [agent_result_from_response(result.response)], context)
        return result

    async def _async_guard_unchanged(
        self,
        user_input: conversation.ConversationInput,
        decision: RewriteDecision,
        context: HomeContext,
        conversation_id: str,
    ) -> conversation.ConversationResult | None:
        """Answer "no match" instead of a fuzzy guess the rewriter rejects; None to forward."""
        agent = async_get_agent(self.hass, self.forward_agent_id)
        if not isinstance(agent, DefaultAgent):
            return None
        recognized = agent_result_from_recognition(
            self.hass,
            await agent.async_recognize_intent(
                dataclasses.replace(user_input, agent_id=conversation.HOME_ASSISTANT_AGENT)
            ),
        )
        verdict = self.rewriter.verify_unchanged(decision, recognized, context)
        if verdict.accepted:
            return None
        _LOGGER.debug("Built-in agent's guess for %r not forwarded: %s", decision.original, verdict.reason)
        self.fuzzy_guesses_rejected += 1
        response = intent.IntentResponse(language=user_input.language)
        if recognized.intent_type in ACTION_INTENTS:
            response.async_set_error(intent.IntentResponseErrorCode.NO_VALID_TARGETS, NO_SUCH_DEVICE_SPEECH)
        else:
            response.async_set_error(intent.IntentResponseErrorCode.NO_INTENT_MATCH, NOT_UNDERSTOOD_SPEECH)
        self._record(decision, response, [agent_result_from_response(response)], context)
        return conversation.ConversationResult(response, conversation_id)

    async def _async_forward(
        self, user_input: conversation.ConversationInput, text: str, conversation_id: str
    ) -> conversation.ConversationResult:
        """One text through the forward agent; its failure comes back as an error response."""
        try:
            result = await conversation.async_converse(
                self.hass,
                text,
                conversation_id,
                user_input.context,
                language=user_input.language,
                agent_id=self.forward_agent_id,
                device_id=user_input.device_id,
                satellite_id=user_input.satellite_id,
            )
        except Exception as err:  # the boundary: the forward agent's fault becomes an answer, not a crash
            _LOGGER.exception("Agent %s failed on a forwarded utterance", self.forward_agent_id)
            response = intent.IntentResponse(language=user_input.language)
            response.async_set_error(intent.IntentResponseErrorCode.UNKNOWN, f"{AGENT_FAILED_SPEECH} ({err!r})")
            return conversation.ConversationResult(response, conversation_id)
        return result

    async def _async_forward_rewrite(
        self, user_input: conversation.ConversationInput, decision: RewriteDecision, conversation_id: str
    ) -> conversation.ConversationResult | None:
        """Forward a rewrite's commands if each is recognised as expected; None to fall back."""
        agent = async_get_agent(self.hass, self.forward_agent_id)
        if isinstance(agent, DefaultAgent):
            for index, command in enumerate(decision.commands):
                recognized = await agent.async_recognize_intent(
                    dataclasses.replace(user_input, text=command.text, agent_id=conversation.HOME_ASSISTANT_AGENT)
                )
                verdict = self.rewriter.verify(
                    decision, agent_result_from_recognition(self.hass, recognized), index=index
                )
                if not verdict.accepted:
                    _LOGGER.debug("Rewrite %r of %r rejected: %s", command.text, decision.original, verdict.reason)
                    return None
        responses: list[intent.IntentResponse] = []
        results: list[AgentResult] = []
        last: conversation.ConversationResult | None = None
        for index, command in enumerate(decision.commands):
            last = await self._async_forward(user_input, command.text, conversation_id)
            response = last.response
            result = agent_result_from_response(response)
            verdict = self.rewriter.verify(decision, result, index=index)
            if not verdict.accepted and (not result.success or command.intent not in ACTION_INTENTS):
                # Nothing was done (an error, or a question): the original may still work.
                _LOGGER.debug(
                    "Rewrite %r of %r rejected after forwarding: %s", command.text, decision.original, verdict
                )
                return None
            responses.append(response)
            results.append(result)
        self.rewrites_forwarded += 1
        final = responses[-1]
        if len(responses) > 1:
            speeches = [s for s in (_speech(r) for r in responses) if s]
            final.async_set_speech(" ".join(dict.fromkeys(speeches)))
        outcome_response = next((r for r in responses if outcome_of(r) is not Outcome.SUCCESS), final)
        self._record(decision, outcome_response, results, None)
        assert last is not None  # a changed decision has at least one command
        return conversation.ConversationResult(final, conversation_id, last.continue_conversation)

    # ------------------------------------------------------------------ learning
    def _note_quick_repeat(self, decision: RewriteDecision) -> None:
        last = self._last_turn.get(decision.speaker)
        if (
            last is not None
            and last[1] is Outcome.SUCCESS
            and last[0].normalized == decision.normalized
            and decision.time_s - last[0].time_s <= QUICK_REPEAT_WINDOW_S
        ):
            self.rewriter.record_outcome(last[0], Outcome.QUICK_REPEAT)

    def _record(
        self,
        decision: RewriteDecision,
        response: intent.IntentResponse,
        results: Sequence[AgentResult],
        context: HomeContext | None,
    ) -> None:
        outcome = outcome_of(response)
        try:
            self.rewriter.record_outcome(decision, outcome, results)
        except Exception:  # a rewriter fault must never cost the user the command
            _LOGGER.exception("Could not log the turn for learning")
        self._last_turn[decision.speaker] = (decision, outcome)
        if len(self._last_turn) > 256:
            self._last_turn.pop(next(iter(self._last_turn)))
        if outcome is not Outcome.SUCCESS:
            self._isolate_failure(decision, response, outcome, context)
        self._learned_changed()

    def _learned_changed(self) -> None:
        self.storage.async_schedule_save(self.rewriter.store)

    def _isolate_failure(
        self,
        decision: RewriteDecision,
        response: intent.IntentResponse,
        outcome: Outcome,
        context: HomeContext | None,
    ) -> None:
        """The intent stage's run data of this turn through failure-point isolation; repairs."""
        events = [
            {"type": "intent-start", "data": {"intent_input": decision.original}},
            {"type": "intent-end", "data": {"intent_output": {"response": response.as_dict()}}},
        ]
        point = isolate_failure_point(events, outcome=outcome, context=context)
        self.failures.append(point)
        repair = point.repair
        if repair is None:
            return
        issue_id = _issue_id(f"rewriter_{repair.issue_id}")
        self.repair_issue_ids.add(issue_id)
        ir.async_create_issue(
            self.hass,
            DOMAIN,
            issue_id,
            is_fixable=False,
            severity=ir.IssueSeverity.WARNING,
            translation_key=f"rewriter_{repair.kind}",
            translation_placeholders={"entity_id": repair.entity_id, "phrase": repair.phrase},
        )

    # ------------------------------------------------------------------ diagnostics
    def pipeline_failure_points(self) -> list[FailurePoint]:
        """Failure points of the Assist pipeline runs (debug data) that used this agent."""
        if "assist_pipeline" not in self.hass.config.components or self.entity_id is None:
            return []
        from homeassistant.components.assist_pipeline import async_get_pipelines
        from homeassistant.components.assist_pipeline.pipeline import KEY_ASSIST_PIPELINE

        ours = {p.id for p in async_get_pipelines(self.hass) if p.conversation_engine == self.entity_id}
        data = self.hass.data.get(KEY_ASSIST_PIPELINE)
        if data is None:
            return []
        points = []
        for pipeline_id, runs in data.pipeline_debug.items():
            if pipeline_id not in ours:
                continue
            for run in runs.values():
                events = [{"type": str(ev.type), "data": ev.data} for ev in run.events]
                point = isolate_failure_point(events)
                if point.stage is not Stage.NONE:
                    points.append(point)
        return points

    def diagnostics(self) -> dict[str, Any]:
        """Counts and failure summary; no utterances (they stay in the Store on the hub)."""
        store = self.rewriter.store
        outcomes: dict[str, int] = {}
        rules: dict[str, int] = {}
        for record in store.log:
            outcomes[record.outcome.value] = outcomes.get(record.outcome.value, 0) + 1
            rules[record.rule] = rules.get(record.rule, 0) + 1
        return {
            "forward_agent": self.forward_agent_id,
            "encoder": type(self.rewriter.encoder).__name__,
            "store_key": self.storage.key,
            "store_recovered_from": self.storage.recovered_from,
            "log_records": len(store.log),
            "log_bound": store.log.maxlen,
            "taught_rewrites": len(store.taught),
            "learned_rewrites": len(store.learned),
            "turns_since_start": self.turns,
            "rewrites_forwarded": self.rewrites_forwarded,
            "rewrites_rejected": self.rewrites_rejected,
            "fuzzy_guesses_rejected": self.fuzzy_guesses_rejected,
            "outcomes": outcomes,
            "rules": rules,
            "failures": summarise_failures(self.failures),
            "pipeline_failures": summarise_failures(self.pipeline_failure_points()),
            "repair_issues": sorted(self.repair_issue_ids),
        }


async def async_get_rewriter_diagnostics(hass: HomeAssistant, entry: ConfigEntry) -> dict[str, Any]:
    """The rewriter's part of the entry's diagnostics (empty when it is not loaded)."""
    runtime = hass.data.get(REWRITERS, {}).get(entry.entry_id)
    return runtime.diagnostics() if runtime is not None else {}


def loaded_runtimes(hass: HomeAssistant) -> Mapping[str, RewriterRuntime]:
    """The loaded entries' rewriter runtimes by entry id."""
    return hass.data.get(REWRITERS, {})


# ---------------------------------------------------------------------------------------- entity


class EchoSenseConversationEntity(conversation.ConversationEntity):
    """The rewriter as an Assist conversation agent.

    It does not depend on the audio engine, so it stays available when the sound device is lost.
    """

    _attr_has_entity_name = True
    _attr_translation_key = "rewriter"
    _attr_supported_features = conversation.ConversationEntityFeature.CONTROL

    def __init__(self, hub: EchoSenseHub, runtime: RewriterRuntime) -> None:
        self.runtime = runtime
        self._attr_unique_id = f"{hub.entry.unique_id or hub.entry.entry_id}_rewriter"
        self._attr_device_info = hub.device_info

    @property
    def supported_languages(self) -> list[str] | Literal["*"]:
        """Every language: non-English utterances are forwarded unchanged."""
        return MATCH_ALL

    async def async_added_to_hass(self) -> None:
        await super().async_added_to_hass()
        self.runtime.entity_id = self.entity_id

    async def _async_handle_message(
        self, user_input: conversation.ConversationInput, chat_log: conversation.ChatLog
    ) -> conversation.ConversationResult:
        """Rewrite and forward; a direct answer (teaching) goes into the chat log here."""
        result = await self.runtime.async_handle(user_input, chat_log.conversation_id)
        if chat_log.content[-1].role == "user":
            chat_log.async_add_assistant_content_without_tools(
                conversation.AssistantContent(agent_id=user_input.agent_id, content=_speech(result.response))
            )
        return conversation.ConversationResult(
            response=result.response,
            conversation_id=chat_log.conversation_id,
            continue_conversation=result.continue_conversation,
        )
