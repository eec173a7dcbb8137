"""``echo-sense rewrite CONTEXT.json UTTERANCE...``: what the rewriter would forward, as JSON lines.

CONTEXT.json is a :meth:`HomeContext.to_dict` dict (entities, areas, ``device_area_id``, ...).
With ``--store FILE`` the learned and taught rewrites of that file are used (and a corrupt file
is recovered as the library does: ``.corrupt`` backup, warning, empty store).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..errors import ConfigError
from .context import HomeContext
from .log import Outcome
from .retrieval import ENCODERS
from .rewriter import Rewriter
from .store import FileRewriteStore, RewriteStore


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``rewrite`` subcommand."""
    parser = subparsers.add_parser(
        "rewrite",
        help="show how the context-aware rewriter resolves utterances in a home",
        description="Resolve utterances against a home context; prints one JSON object per utterance.",
    )
    parser.add_argument("context", type=Path, metavar="CONTEXT.json")
    parser.add_argument("utterances", nargs="+", metavar="UTTERANCE")
    parser.add_argument("--store", type=Path, default=None, help="rewrite store JSON file (learned and taught)")
    parser.add_argument("--user", default=None, help="user id (personal layer)")
    parser.add_argument("--satellite", default=None, help="satellite id (personal layer when no user)")
    parser.add_argument("--encoder", choices=sorted(ENCODERS), default="lexical", help="retrieval encoder")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Rewrite each utterance in one conversation (each taken as successful) and print the decisions."""
    try:
        data = json.loads(args.context.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise ConfigError(f"{args.context}: cannot read the home context: {err}") from err
    context = HomeContext.from_dict(data)
    store = FileRewriteStore(args.store).load() if args.store is not None else RewriteStore()
    rewriter = Rewriter(store, encoder=ENCODERS[args.encoder]())
    for i, utterance in enumerate(args.utterances):
        decision = rewriter.rewrite(
            utterance, context, conversation_id="cli", user_id=args.user, satellite_id=args.satellite, time_s=float(i)
        )
        rewriter.record_outcome(decision, Outcome.SUCCESS)
        print(
            json.dumps(
                {
                    "utterance": utterance,
                    "rule": decision.rule,
                    "confidence": round(decision.confidence, 3),
                    "forward": list(decision.texts),
                    "expected": [{"intent": c.intent, "entity_ids": list(c.entity_ids)} for c in decision.commands],
                    "response": decision.response_text,
                },
                ensure_ascii=False,
            )
        )
    return 0
