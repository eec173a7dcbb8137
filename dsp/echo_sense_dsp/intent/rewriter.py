"""The rewriter: context rules, learned and taught rewrites, verification, learning.

A Home Assistant conversation agent in front of the default agent is a thin adapter around
:class:`Rewriter`::

    decision = rewriter.rewrite(text, context, conversation_id=cid, user_id=uid, satellite_id=sid)
    if decision.response_text is not None:          # a teaching dialogue: answer directly
        return speech(decision.response_text)
    if not decision.changed:                        # nothing applies: forward unchanged
        result = default_agent(text)
    else:
        for command in decision.commands:           # recognise first, then verify, then act
            recognised = default_agent.recognize(command.text)
            if not rewriter.verify(decision, to_agent_result(recognised), index=i).accepted:
                result = default_agent(text)        # fall back to the original utterance
                break
        else:
            result = [default_agent(c.text) for c in decision.commands][-1]
    rewriter.record_outcome(decision, outcome, results)

The rewriter never rewrites a command it cannot improve (see :mod:`.resolvers`), and
:meth:`Rewriter.verify` rejects a rewrite whose match is not the intent and the targets the
context resolution expected (for instance a current-time answer to a temperature question).
"""

import re
import time
from collections import OrderedDict, defaultdict, deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from ..errors import ConfigError
from .context import HomeContext
from .guard import fuzzy_match_problem
from .log import REPHRASE_WINDOW_S, InteractionRecord, Outcome, mine_rephrases
from .markov import RephraseSequence, best_rewrites, build_rephrase_chain
from .resolvers import (
    ACTION_INTENTS,
    CLIMATE_GET_TEMPERATURE,
    CLIMATE_SET_TEMPERATURE,
    GET_STATE,
    LIGHT_SET,
    SET_VOLUME,
    TURN_OFF,
    TURN_ON,
    Command,
    DialogueTurn,
    RuleInput,
    has_gerund,
    resolve_target,
    resolve_with_context,
    strip_fillers,
)
from .retrieval import EmbeddingIndex, LexicalEncoder, SentenceEncoder
from .store import HOUSEHOLD, LearnedRewrite, RewriteStore, TaughtRewrite
from .teaching import (
    GuidedStep,
    GuidedTeaching,
    is_cancel,
    is_guided_start,
    parse_teaching,
    split_commands,
    validate_teaching,
)
from .text import MAX_UTTERANCE_CHARS, normalize_utterance

UNCHANGED = "unchanged"
"""Rule name of a decision that forwards the utterance as it is."""

_CRITICAL_TOKENS = frozenset(
    {
        "on",
        "off",
        "up",
        "down",
        "open",
        "close",
        "lock",
        "unlock",
        "not",
        "don't",
        "no",
        "start",
        "stop",
        "warmer",
        "cooler",
    }
)
"""Words whose difference makes two phrases mean different things however similar they look."""

_ITS = re.compile(r"^(?:it'?s|it is)\s+")
_PRONOUN_RE = re.compile(r"\b(?:it|that|them|this|those|these|too|also)\b")
_CANONICAL_ON_OFF = re.compile(r"^turn (?P<dir>on|off) (?P<obj>.+)$")
_TEMPERATURE_OF = re.compile(r"^what is the temperature (?:of|in) (?P<obj>.+)$")


@dataclass(frozen=True, slots=True)
class RewriterSettings:
    """User-tunable settings (the integration's options).

    Attributes
    ----------
    min_learned_probability : float
        Absorption probability a learned rewrite needs to enter the table.
    min_learned_support : float
        Episodes through a failed utterance before it is learned (per speaker).
    min_household_speakers : int
        Distinct speakers whose episodes a household-layer entry needs, so one person's habit
        stays personal until others share it.
    retrieval_min_similarity : float or None
        Cosine similarity a retrieved (not exact) learned or taught phrase needs; None takes the
        encoder's own ``min_similarity``.
    household_weight : float
        Weight of household-layer candidates relative to personal ones in retrieval ranking.
    rephrase_window_s : float
        Longest gap between turns of one rephrase episode.
    dialogue_timeout_s : float
        How long a conversation's last turn stays a referent for "it" and follow-ups.
    max_conversations : int
        Conversations kept in dialogue memory.
    use_context : bool
        Whether context rules run (off: only learned and taught rewrites).
    """

    min_learned_probability: float = 0.6
    min_learned_support: float = 2.0
    min_household_speakers: int = 2
    retrieval_min_similarity: float | None = None
    household_weight: float = 0.9
    rephrase_window_s: float = REPHRASE_WINDOW_S
    dialogue_timeout_s: float = 300.0
    max_conversations: int = 64
    use_context: bool = True

    def __post_init__(self) -> None:
        if not 0.0 < self.min_learned_probability <= 1.0:
            raise ConfigError(f"min_learned_probability must be in (0, 1], got {self.min_learned_probability}")
        if self.min_household_speakers < 1:
            raise ConfigError(f"min_household_speakers must be >= 1, got {self.min_household_speakers}")
        if self.retrieval_min_similarity is not None and not 0.0 < self.retrieval_min_similarity <= 1.0:
            raise ConfigError(f"retrieval_min_similarity must be in (0, 1], got {self.retrieval_min_similarity}")
        if self.max_conversations < 1:
            raise ConfigError(f"max_conversations must be >= 1, got {self.max_conversations}")


@dataclass(frozen=True, slots=True)
class RewriteDecision:
    """What to forward for one utterance.

    Attributes
    ----------
    original : str
        The utterance as received, cut to a bounded length.
    normalized : str
        Its normalised form.
    commands : tuple of Command
        Commands to forward in order; empty means forward ``original`` unchanged.
    rule : str
        Rule that decided (``"unchanged"``, ``"taught"``, ``"learned"``, ``"learned_retrieval"``,
        ``"taught_retrieval"``, ``"teach"``, or a context rule name).
    confidence : float
        0 to 1.
    response_text : str or None
        Direct answer (teaching dialogue); the agent speaks it and forwards nothing.
    speaker : str
        Speaker key (``"user:<id>"``, ``"satellite:<id>"``, ``"household"``).
    conversation_id : str or None
    time_s : float
    area_id : str or None
        Satellite area at the time (context summary for the log).
    hour_of_day : float
    """

    original: str
    normalized: str
    commands: tuple[Command, ...] = ()
    rule: str = UNCHANGED
    confidence: float = 0.0
    response_text: str | None = None
    speaker: str = HOUSEHOLD
    conversation_id: str | None = None
    time_s: float = 0.0
    area_id: str | None = None
    hour_of_day: float = 12.0

    @property
    def changed(self) -> bool:
        """Whether anything other than the original utterance is to be forwarded."""
        return bool(self.commands)

    @property
    def rewritten(self) -> str | None:
        """The forwarded text (commands joined by ``" ; "``), or None when unchanged."""
        return " ; ".join(c.text for c in self.commands) if self.commands else None

    @property
    def texts(self) -> tuple[str, ...]:
        """Texts to forward: the commands, or the original utterance."""
        return tuple(c.text for c in self.commands) if self.commands else (self.original,)

    @property
    def expected_entity_ids(self) -> tuple[str, ...]:
        """All targets the commands must act on."""
        return tuple(eid for c in self.commands for eid in c.entity_ids)


@dataclass(frozen=True, slots=True)
class AgentResult:
    """What the default agent matched or did for one forwarded text (converted by the integration).

    Attributes
    ----------
    success : bool
        The agent matched (recognition) or handled (response not an error) the text.
    intent_type : str or None
        Matched intent (``HassTurnOn``, ``HassGetCurrentTime``, ...).
    entity_ids : tuple of str
        Entities matched or acted on (``response.success_results`` / matched states).
    error_code : str or None
        ``no_intent_match``, ``no_valid_targets``, ``failed_to_handle``, ``unknown``.
    area_id : str or None
        Area slot of the match, if any.
    domain : str or None
        Domain slot of the match, if any.
    fuzzy : bool
        The agent's fuzzy matcher guessed it (no sentence template matched).
    """

    success: bool
    intent_type: str | None = None
    entity_ids: tuple[str, ...] = ()
    error_code: str | None = None
    area_id: str | None = None
    domain: str | None = None
    fuzzy: bool = False

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "AgentResult":
        """Build from a plain dict (keys as the attributes)."""
        return cls(
            success=bool(data.get("success")),
            intent_type=data.get("intent_type"),
            entity_ids=tuple(str(e) for e in data.get("entity_ids") or ()),
            error_code=data.get("error_code"),
            area_id=data.get("area_id"),
            domain=data.get("domain"),
            fuzzy=bool(data.get("fuzzy")),
        )


@dataclass(frozen=True, slots=True)
class Verdict:
    """Outcome of :meth:`Rewriter.verify`: keep the rewrite's result or fall back."""

    accepted: bool
    reason: str


@dataclass(slots=True)
class _Conversation:
    turns: deque[DialogueTurn] = field(default_factory=lambda: deque(maxlen=6))
    guided: GuidedTeaching | None = None
    last_s: float = 0.0


def _names_the_home(normalized: str, context: HomeContext) -> bool:
    """Whether the utterance names an exposed entity or an area word for word."""
    padded = f" {normalized} "
    names = [n for e in context.exposed_entities for n in e.spoken_names] + [
        n for a in context.areas for n in a.spoken_names
    ]
    return any(f" {n} " in padded for n in names if n)


def speaker_key(user_id: str | None, satellite_id: str | None) -> str:
    """Personal-layer key: the user if known, else the satellite, else the household."""
    if user_id:
        return f"user:{user_id}"
    if satellite_id:
        return f"satellite:{satellite_id}"
    return HOUSEHOLD


_INTENT_ACTIONS = {
    TURN_ON: "on",
    TURN_OFF: "off",
    CLIMATE_GET_TEMPERATURE: "temperature",
    GET_STATE: "state",
    CLIMATE_SET_TEMPERATURE: "set_temperature",
    LIGHT_SET: "brightness",
    SET_VOLUME: "volume",
}


def describe_command(text: str, context: HomeContext) -> Command:
    """Expected intent and targets of a command in canonical form (for taught and learned rewrites).

    Unknown forms give a command with an empty intent, which :meth:`Rewriter.verify` checks only
    for success.
    """
    norm = normalize_utterance(text)
    inp = RuleInput(norm, context)
    match = _CANONICAL_ON_OFF.match(norm)
    if match:
        target = resolve_target(match.group("obj"), inp, allow_near_miss=False)
        intent = TURN_ON if match.group("dir") == "on" else TURN_OFF
        if target is not None and target.entities:
            return Command(
                norm, intent, tuple(e.entity_id for e in target.entities), _INTENT_ACTIONS[intent], target.area_id
            )
        if target is not None and target.domain is not None and target.area_id is not None:
            ids = tuple(
                sorted(
                    e.entity_id
                    for e in context.exposed_entities
                    if e.domain == target.domain and e.area_id == target.area_id
                )
            )
            return Command(norm, intent, ids, _INTENT_ACTIONS[intent], target.area_id, target.domain)
        return Command(norm, intent, (), _INTENT_ACTIONS[intent])
    return Command(norm, "")


class Rewriter:
    """Context-aware rewriter with a personal and a household learning layer.

    Parameters
    ----------
    store : RewriteStore, optional
        Interaction log and rewrite tables (a new empty one if omitted).
    encoder : SentenceEncoder, optional
        Embedding for retrieval of learned and taught phrases; the lexical
        :class:`~.retrieval.LexicalEncoder` if omitted.
    settings : RewriterSettings, optional
    clock : callable, optional
        Seconds now; used when a call gives no ``time_s``.
    """

    def __init__(
        self,
        store: RewriteStore | None = None,
        *,
        encoder: SentenceEncoder | None = None,
        settings: RewriterSettings | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store if store is not None else RewriteStore()
        self.encoder: SentenceEncoder = encoder if encoder is not None else LexicalEncoder()
        self.settings = settings if settings is not None else RewriterSettings()
        self._clock = clock
        self._conversations: OrderedDict[str, _Conversation] = OrderedDict()
        self._index: EmbeddingIndex | None = None

    # ------------------------------------------------------------------ rewriting
    def rewrite(
        self,
        utterance: str,
        context: HomeContext,
        *,
        conversation_id: str | None = None,
        user_id: str | None = None,
        satellite_id: str | None = None,
        time_s: float | None = None,
    ) -> RewriteDecision:
        """Decide what to forward for one utterance.

        Order: a teaching sentence or guided-teaching step; a taught phrase (personal, then
        household); a learned rewrite (personal, then household); the context rules; retrieval
        of a close learned or taught phrase; otherwise unchanged.

        Parameters
        ----------
        utterance : str
            Any text (a 10 kB input is cut; odd Unicode is normalised).
        context : HomeContext
        conversation_id, user_id, satellite_id : str, optional
        time_s : float, optional
            Seconds now (defaults to the clock).

        Returns
        -------
        RewriteDecision
        """
        if not isinstance(utterance, str):
            raise ConfigError(f"utterance must be text, got {type(utterance).__name__}")
        now = self._clock() if time_s is None else time_s
        norm = normalize_utterance(utterance)
        base = RewriteDecision(
            original=utterance[: 4 * MAX_UTTERANCE_CHARS],
            normalized=norm,
            speaker=speaker_key(user_id, satellite_id),
            conversation_id=conversation_id,
            time_s=now,
            area_id=context.device_area_id,
            hour_of_day=context.hour_of_day,
        )
        if not norm:
            return base
        conversation = self._conversation(conversation_id, now)
        teaching = self._teaching(base, conversation, now)
        if teaching is not None:
            return teaching
        scopes = (base.speaker, HOUSEHOLD) if base.speaker != HOUSEHOLD else (HOUSEHOLD,)
        stripped = strip_fillers(norm)
        forms = tuple(dict.fromkeys((norm, stripped, _ITS.sub("", stripped))))
        for scope in scopes:
            for form in forms:
                taught = self.store.taught.get((scope, form))
                if taught is not None:
                    return self._with(base, "taught", taught.commands, context, 1.0)
        if not _PRONOUN_RE.search(norm):
            for scope in scopes:
                for form in forms:
                    learned = self.store.learned.get((scope, form))
                    if learned is not None:
                        return self._with(base, "learned", (learned.target,), context, learned.probability)
        if self.settings.use_context and context.language.split("-")[0] == "en":
            dialogue = tuple(conversation.turns) if conversation is not None else ()
            inp = RuleInput(strip_fillers(norm), context, dialogue, self._usage(context.hour_of_day), has_gerund(norm))
            resolution = resolve_with_context(inp)
            if resolution is not None:
                return replace(
                    base, commands=resolution.commands, rule=resolution.rule, confidence=resolution.confidence
                )
        return self._retrieve(base, context, scopes)

    def _with(
        self, base: RewriteDecision, rule: str, texts: Sequence[str], context: HomeContext, confidence: float
    ) -> RewriteDecision:
        commands = tuple(describe_command(t, context) for t in texts)
        return replace(base, commands=commands, rule=rule, confidence=confidence)

    def _retrieve(self, base: RewriteDecision, context: HomeContext, scopes: Sequence[str]) -> RewriteDecision:
        index = self._retrieval_index()
        best: tuple[float, str, tuple[str, ...], float] | None = None
        if _names_the_home(base.normalized, context):
            return base  # an explicit command: the user said what they meant
        threshold = self.settings.retrieval_min_similarity
        if threshold is None:
            threshold = self.encoder.min_similarity
        query_critical = _CRITICAL_TOKENS.intersection(base.normalized.split())
        for key, sim in index.search(base.normalized, top_k=8):
            if sim < threshold:
                break
            if _CRITICAL_TOKENS.intersection(key.split()) != query_critical:
                continue
            for scope in scopes:
                weight = 1.0 if scope != HOUSEHOLD or len(scopes) == 1 else self.settings.household_weight
                taught = self.store.taught.get((scope, key))
                if taught is not None and (best is None or sim * weight > best[0]):
                    best = (sim * weight, "taught_retrieval", taught.commands, sim)
                learned = self.store.learned.get((scope, key))
                if learned is not None and (best is None or sim * weight * learned.probability > best[0]):
                    best = (
                        sim * weight * learned.probability,
                        "learned_retrieval",
                        (learned.target,),
                        sim * learned.probability,
                    )
        if best is None:
            return base
        return self._with(base, best[1], best[2], context, best[3])

    def _retrieval_index(self) -> EmbeddingIndex:
        if self._index is None:
            keys = sorted({k[1] for k in self.store.taught} | {k[1] for k in self.store.learned})
            self._index = EmbeddingIndex(self.encoder, keys)
        return self._index

    def _usage(self, hour_of_day: float) -> dict[str, float]:
        usage: dict[str, float] = defaultdict(float)
        for rec in self.store.log:
            if rec.outcome is Outcome.SUCCESS:
                gap_h = abs(rec.hour_of_day - hour_of_day)
                if min(gap_h, 24.0 - gap_h) <= 1.5:
                    for eid in rec.entity_ids:
                        usage[eid] += 1.0
        return usage

    def _conversation(self, conversation_id: str | None, now: float) -> _Conversation | None:
        if conversation_id is None:
            return None
        conv = self._conversations.get(conversation_id)
        if conv is None or now - conv.last_s > self.settings.dialogue_timeout_s:
            conv = _Conversation(last_s=now)
            self._conversations[conversation_id] = conv
            while len(self._conversations) > self.settings.max_conversations:
                self._conversations.popitem(last=False)
        self._conversations.move_to_end(conversation_id)
        return conv

    def _teaching(self, base: RewriteDecision, conv: _Conversation | None, now: float) -> RewriteDecision | None:
        norm = base.normalized
        request = parse_teaching(base.original)
        if request is not None:
            self.teach(request.trigger, request.commands, scope=HOUSEHOLD, time_s=now)
            said = " and ".join(request.commands)
            return replace(
                base, rule="teach", confidence=1.0, response_text=f"OK, when you say {request.trigger}, I will {said}."
            )
        if conv is None:
            return None
        if is_guided_start(norm):
            conv.guided = GuidedTeaching(started_s=now)
            return replace(
                base, rule="teach", confidence=1.0, response_text="Sure. What phrase do you want to teach me?"
            )
        guided = conv.guided
        if guided is None:
            return None
        if is_cancel(norm):
            conv.guided = None
            return replace(base, rule="teach", confidence=1.0, response_text="OK, I stopped learning.")
        if guided.step is GuidedStep.ASK_TRIGGER:
            guided.trigger = norm
            guided.step = GuidedStep.ASK_COMMANDS
            return replace(base, rule="teach", confidence=1.0, response_text=f"What should I do when you say {norm}?")
        conv.guided = None
        try:
            commands = split_commands(base.original)
            self.teach(guided.trigger, commands, scope=base.speaker, time_s=now)
        except ConfigError as err:
            return replace(base, rule="teach", confidence=1.0, response_text=f"Sorry, I could not learn that: {err}")
        said = " and ".join(commands)
        return replace(
            base, rule="teach", confidence=1.0, response_text=f"Got it. When you say {guided.trigger}, I will {said}."
        )

    # ------------------------------------------------------------------ verification
    def verify(self, decision: RewriteDecision, result: AgentResult, *, index: int = 0) -> Verdict:
        """Check the default agent's match for a forwarded command against the expectation.

        Call it on the recognition result (before acting) where the agent allows, else on the
        response. A rewrite is rejected when the agent failed, matched another intent than the
        resolution expected (e.g. ``HassGetCurrentTime`` for a temperature question), or acted on
        an entity outside the expected targets. Unchanged decisions are accepted as they are.

        Parameters
        ----------
        decision : RewriteDecision
        result : AgentResult
            For ``decision.commands[index]``.
        index : int
            Which command ``result`` belongs to.
        """
        if not decision.changed:
            return Verdict(True, "unchanged")
        if not 0 <= index < len(decision.commands):
            raise ConfigError(f"command index {index} out of range 0..{len(decision.commands) - 1}")
        command = decision.commands[index]
        if not result.success:
            return Verdict(False, f"agent error {result.error_code or 'unknown'}")
        if command.intent and result.intent_type != command.intent:
            return Verdict(False, f"matched {result.intent_type}, expected {command.intent}")
        if command.entity_ids and result.entity_ids:
            unexpected = set(result.entity_ids) - set(command.entity_ids)
            if unexpected:
                return Verdict(False, f"unexpected targets {sorted(unexpected)}")
        return Verdict(True, "matches expectation")

    def verify_unchanged(self, decision: RewriteDecision, result: AgentResult, context: HomeContext) -> Verdict:
        """Check the agent's match for an utterance forwarded as it is (before it acts).

        Template matches are accepted. A *fuzzy* guess is rejected when it is a targetless intent
        the words never asked for, or an action on a device when the utterance names a place or
        device the home does not have (see :mod:`.guard`); the caller answers "no match" instead.

        Parameters
        ----------
        decision : RewriteDecision
            An unchanged decision from :meth:`rewrite`.
        result : AgentResult
            The agent's recognition of ``decision.original``.
        context : HomeContext
            The context the decision was made in.
        """
        if decision.changed:
            raise ConfigError("verify_unchanged is for unchanged decisions; use verify for rewrites")
        if not result.success or not result.fuzzy:
            return Verdict(True, "template match" if result.success else "agent error")
        problem = fuzzy_match_problem(
            decision.normalized, result.intent_type, result.intent_type in ACTION_INTENTS, context
        )
        return Verdict(False, problem) if problem is not None else Verdict(True, "credible fuzzy match")

    # ------------------------------------------------------------------ learning
    def record_outcome(self, decision: RewriteDecision, outcome: Outcome, results: Sequence[AgentResult] = ()) -> None:
        """Log a turn's outcome; update dialogue memory and, after a rephrase, the learned table.

        Parameters
        ----------
        decision : RewriteDecision
            From :meth:`rewrite` for this turn.
        outcome : Outcome
            What happened. A later barge-in or quick repeat is reported by calling this again
            with the same decision and that outcome: the turn's record is replaced, not added.
        results : sequence of AgentResult
            The agent's results for the forwarded texts, if known.
        """
        if decision.response_text is not None or not decision.normalized:
            return
        outcome = Outcome(outcome)
        acted = tuple(e for r in results for e in r.entity_ids)
        if not acted:
            acted = decision.expected_entity_ids
        command_text = " ; ".join(normalize_utterance(t) for t in decision.texts)
        record = InteractionRecord(
            utterance=decision.normalized,
            command=command_text,
            outcome=outcome,
            time_s=decision.time_s,
            speaker=decision.speaker,
            conversation_id=decision.conversation_id,
            rule=decision.rule,
            area_id=decision.area_id,
            entity_ids=acted,
            hour_of_day=decision.hour_of_day,
        )
        if self._amend(record):
            return
        previous = self.store.log[-1] if self.store.log else None
        self.store.add_record(record)
        conv = self._conversations.get(decision.conversation_id) if decision.conversation_id else None
        if conv is not None:
            conv.last_s = decision.time_s
            if outcome is Outcome.SUCCESS:
                commands = decision.commands or self._commands_from_results(decision, results)
                if commands:
                    conv.turns.append(DialogueTurn(decision.normalized, commands, decision.time_s))
            elif conv.turns and conv.turns[-1].utterance == decision.normalized:
                conv.turns.pop()
        if (
            outcome is Outcome.SUCCESS
            and previous is not None
            and previous.outcome.failed
            and previous.speaker == decision.speaker
            and decision.time_s - previous.time_s <= self.settings.rephrase_window_s
        ):
            self.rebuild_rewrites()

    def _amend(self, record: InteractionRecord) -> bool:
        """Replace the record of the same turn (a late barge-in or quick repeat), if it is logged."""
        log = self.store.log
        for back in range(1, min(len(log), 16) + 1):
            old = log[-back]
            if (old.time_s, old.speaker, old.utterance) == (record.time_s, record.speaker, record.utterance):
                log[-back] = record
                if record.outcome.failed:
                    conv = self._conversations.get(record.conversation_id) if record.conversation_id else None
                    if conv is not None and conv.turns and conv.turns[-1].utterance == record.utterance:
                        conv.turns.pop()
                return True
        return False

    @staticmethod
    def _commands_from_results(decision: RewriteDecision, results: Sequence[AgentResult]) -> tuple[Command, ...]:
        commands = []
        for res in results:
            if res.success and res.intent_type and res.entity_ids:
                commands.append(
                    Command(
                        decision.normalized,
                        res.intent_type,
                        res.entity_ids,
                        _INTENT_ACTIONS.get(res.intent_type, ""),
                        res.area_id,
                        res.domain,
                    )
                )
        return tuple(commands)

    def rebuild_rewrites(self) -> int:
        """Mine the log for rephrase episodes and rebuild the learned table.

        Personal layer: one absorbing chain per speaker, entries need
        ``min_learned_support`` episodes. Household layer: all speakers' episodes, each
        speaker's episodes from one failed utterance weighted to sum to 1, so one person's habit
        counts as one vote; entries need the same raw support and ``min_household_speakers``
        distinct speakers.

        Returns
        -------
        int
            Number of table entries.
        """
        settings = self.settings
        episodes = mine_rephrases(self.store.log, window_s=settings.rephrase_window_s)
        rewrites: list[LearnedRewrite] = []
        per_first: dict[tuple[str, str], int] = defaultdict(int)
        raw_support: dict[str, int] = defaultdict(int)
        speakers_of: dict[str, set[str]] = defaultdict(set)
        for speaker, seqs in episodes.items():
            for seq in seqs:
                per_first[(speaker, seq.failed[0])] += 1
                for utt in set(seq.failed):
                    raw_support[utt] += 1
                    speakers_of[utt].add(speaker)
            if speaker == HOUSEHOLD:
                continue
            table = best_rewrites(
                build_rephrase_chain(seqs),
                min_probability=settings.min_learned_probability,
                min_support=settings.min_learned_support,
            )
            rewrites.extend(LearnedRewrite(src, tgt, p, n, speaker) for src, (tgt, p, n) in table.items())
        balanced = [
            RephraseSequence(seq.failed, seq.success, 1.0 / per_first[(speaker, seq.failed[0])])
            for speaker, seqs in episodes.items()
            for seq in seqs
        ]
        household = best_rewrites(
            build_rephrase_chain(balanced), min_probability=settings.min_learned_probability, min_support=0.0
        )
        rewrites.extend(
            LearnedRewrite(src, tgt, p, float(raw_support[src]), HOUSEHOLD)
            for src, (tgt, p, _) in household.items()
            if raw_support[src] >= settings.min_learned_support
            and len(speakers_of[src]) >= settings.min_household_speakers
        )
        self.store.replace_learned(r for r in rewrites if not _PRONOUN_RE.search(r.source))
        self._index = None
        return len(self.store.learned)

    # ------------------------------------------------------------------ services
    def teach(
        self, trigger: str, commands: Sequence[str], *, scope: str = HOUSEHOLD, time_s: float | None = None
    ) -> TaughtRewrite:
        """Add (or replace) a taught rewrite (the ``add`` service).

        Raises
        ------
        ConfigError
            Invalid trigger or commands (see :func:`~.teaching.validate_teaching`).
        """
        if isinstance(commands, str):
            raise ConfigError("commands must be a list of texts, not one text")
        request = validate_teaching(trigger, list(commands))
        rewrite = TaughtRewrite(request.trigger, request.commands, scope, self._clock() if time_s is None else time_s)
        self.store.add_taught(rewrite)
        self._index = None
        return rewrite

    def list_rewrites(self, *, scope: str | None = None) -> list[dict[str, Any]]:
        """Taught and learned rewrites as dicts (the ``list`` service), optionally of one scope."""
        out: list[dict[str, Any]] = []
        for taught in self.store.taught.values():
            if scope is None or taught.scope == scope:
                out.append({"kind": "taught", **taught.to_dict()})
        for learned in self.store.learned.values():
            if scope is None or learned.scope == scope:
                out.append({"kind": "learned", **learned.to_dict()})
        return out

    def forget(self, utterance: str) -> int:
        """Forget the rewrites of an utterance (the ``forget`` service); returns how many went.

        Raises
        ------
        ConfigError
            Empty utterance.
        """
        if not isinstance(utterance, str) or not normalize_utterance(utterance):
            raise ConfigError(f"nothing to forget in {utterance!r}")
        removed = self.store.forget(normalize_utterance(utterance))
        self._index = None
        return removed

    def purge(self) -> None:
        """Drop the log, all rewrites and the dialogue memory (the ``purge`` service)."""
        self.store.purge()
        self._conversations.clear()
        self._index = None


__all__ = [
    "UNCHANGED",
    "AgentResult",
    "RewriteDecision",
    "Rewriter",
    "RewriterSettings",
    "Verdict",
    "describe_command",
    "speaker_key",
]
