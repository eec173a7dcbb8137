"""Context-aware intent rewriting in front of Home Assistant's default conversation agent.

Table of contents
-----------------
context       :class:`HomeContext`, :class:`EntityInfo`, :class:`AreaInfo` — the home as the
              integration converts it (no Home Assistant imports here).
text          :func:`normalize_utterance` — bounded NFKC + casefold normalisation.
resolvers     context rules (:data:`CONTEXT_RULES`): follow-ups, anaphora, relative climate and
              brightness, device-state temperature, running appliance, on/off with area defaults,
              colloquial verbs and near-miss names; canonical commands for the built-in English
              intents (home-assistant-intents) with the intent and targets each must hit.
log           :class:`InteractionRecord`, :class:`Outcome`, :func:`mine_rephrases` — the
              interaction log and rephrase mining [1]_.
markov        :func:`absorption_probabilities` — absorbing Markov chain ``B = (I - Q)^-1 R``
              over rephrase episodes [1]_ [2]_.
retrieval     :class:`SentenceEncoder` (interface), :class:`LexicalEncoder` (hashed character
              n-grams, the default and fallback) [3]_, :class:`EmbeddingIndex`; registry
              :data:`ENCODERS` (``"lexical"``, ``"minilm_int8"``).
encoder       :class:`OnnxSentenceEncoder` — all-MiniLM-L6-v2 [4]_ as int8 ONNX on onnxruntime,
              with BERT's uncased :class:`WordPieceTokenizer` [5]_; asset checked by sha256.
teaching      :func:`parse_teaching` ("when I say X, do Y and Z") and the guided
              "learn my preferences" dialogue.
store         :class:`RewriteStore` (``to_dict``/``from_dict``, schema-versioned),
              :class:`FileRewriteStore` (atomic JSON file, corrupt-file recovery).
failure       :func:`isolate_failure_point` — first failing Assist pipeline stage and a repair
              suggestion; :func:`summarise_failures` for diagnostics.
guard         :func:`fuzzy_match_problem` — checks a *fuzzy* guess of the built-in agent for an
              utterance forwarded unchanged (a targetless intent its words never asked for, an
              action when the utterance names a device or place the home lacks).
rewriter      :class:`Rewriter` — ``rewrite`` / ``verify`` / ``record_outcome`` and the
              teach / list / forget / purge services, personal and household layers.

References
----------
.. [1] P. Ponnusamy, A. Roshan Ghias, C. Guo, R. Sarikaya, "Feedback-based self-learning in
   large-scale conversational AI agents", AAAI 2020.
.. [2] J. G. Kemeny, J. L. Snell, *Finite Markov Chains*, Van Nostrand, 1960, ch. III.
.. [3] K. Weinberger et al., "Feature hashing for large scale multitask learning", ICML 2009.
.. [4] N. Reimers, I. Gurevych, "Sentence-BERT", EMNLP 2019; W. Wang et al., "MiniLM", NeurIPS 2020.
.. [5] J. Devlin et al., "BERT", NAACL 2019.
"""

from .context import ATTRIBUTE_KEYS, RUNNING_STATES, AreaInfo, EntityInfo, HomeContext
from .encoder import OnnxSentenceEncoder, WordPieceTokenizer
from .failure import FailurePoint, RepairSuggestion, Stage, isolate_failure_point, suggest_repair, summarise_failures
from .log import REPHRASE_WINDOW_S, InteractionRecord, Outcome, mine_rephrases
from .markov import (
    GAVE_UP,
    RephraseChain,
    RephraseSequence,
    absorption_probabilities,
    best_rewrites,
    build_rephrase_chain,
    fundamental_matrix,
)
from .resolvers import ACTION_INTENTS, CONTEXT_RULES, Command, DialogueTurn, Resolution, RuleInput
from .retrieval import ENCODERS, EmbeddingIndex, LexicalEncoder, SentenceEncoder
from .rewriter import UNCHANGED, AgentResult, RewriteDecision, Rewriter, RewriterSettings, Verdict, describe_command
from .store import (
    HOUSEHOLD,
    SCHEMA_VERSION,
    FileRewriteStore,
    LearnedRewrite,
    RewriteStore,
    TaughtRewrite,
)
from .teaching import TeachingRequest, parse_teaching, validate_teaching
from .text import MAX_UTTERANCE_CHARS, normalize_utterance

__all__ = [
    "ACTION_INTENTS",
    "ATTRIBUTE_KEYS",
    "CONTEXT_RULES",
    "ENCODERS",
    "GAVE_UP",
    "HOUSEHOLD",
    "MAX_UTTERANCE_CHARS",
    "REPHRASE_WINDOW_S",
    "RUNNING_STATES",
    "SCHEMA_VERSION",
    "UNCHANGED",
    "AgentResult",
    "AreaInfo",
    "Command",
    "DialogueTurn",
    "EmbeddingIndex",
    "EntityInfo",
    "FailurePoint",
    "FileRewriteStore",
    "HomeContext",
    "InteractionRecord",
    "LearnedRewrite",
    "LexicalEncoder",
    "OnnxSentenceEncoder",
    "Outcome",
    "RepairSuggestion",
    "RephraseChain",
    "RephraseSequence",
    "Resolution",
    "RewriteDecision",
    "RewriteStore",
    "Rewriter",
    "RewriterSettings",
    "RuleInput",
    "SentenceEncoder",
    "Stage",
    "TaughtRewrite",
    "TeachingRequest",
    "Verdict",
    "WordPieceTokenizer",
    "absorption_probabilities",
    "best_rewrites",
    "build_rephrase_chain",
    "describe_command",
    "fundamental_matrix",
    "isolate_failure_point",
    "mine_rephrases",
    "normalize_utterance",
    "parse_teaching",
    "suggest_repair",
    "summarise_failures",
    "validate_teaching",
]
