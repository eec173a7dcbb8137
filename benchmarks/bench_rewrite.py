"""Benchmark: the built-in agent alone versus echo_sense's rewriter in front of it.

Each scenario home under ``benchmarks/data/rewrite/`` lists areas, entities, satellites, a
history (rephrase episodes, teaching) replayed first, and scored turns by category (plain,
area, device_state, follow_up, colloquial, learned, taught, negative). Every turn runs through
the built-in agent alone (baseline) and through the rewriter in front of it (echo_sense), and
counts as correct only if the matched intent and its targets (and any expected slot values)
are the expected ones.

The built-in agent here is *simulated*: hassil's recogniser over the English templates of the
installed ``home-assistant-intents`` with slot lists built from the scenario home (exposed
entities' names and aliases, areas), the satellite's area as intent context, and target
resolution modelled on Home Assistant's (name, else area + domain, else domain). It does not
reproduce 2026.x's fuzzy matcher; a run inside a real Home Assistant is the lead's.

Added latency is the rewriter's own time per turn (``rewrite`` + ``verify``), not the agent's.

Usage: ``python benchmarks/bench_rewrite.py [--homes DIR] [--repeat N]``
"""

import argparse
import json
import os
import sys
import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from common import environment_header, package_version
from tqdm import tqdm

from echo_sense_dsp.intent import (
    ACTION_INTENTS,
    AgentResult,
    EntityInfo,
    HomeContext,
    Outcome,
    Rewriter,
    SentenceEncoder,
)
from echo_sense_dsp.intent.retrieval import ENCODERS

DATA_DIR = Path(__file__).parent / "data" / "rewrite"
CATEGORIES = ("plain", "area", "device_state", "follow_up", "colloquial", "learned", "taught", "negative")
TARGETLESS_INTENTS = frozenset(
    {
        "HassGetCurrentTime",
        "HassGetCurrentDate",
        "HassStartTimer",
        "HassCancelTimer",
        "HassTimerStatus",
        "HassNevermind",
    }
)


@dataclass(frozen=True)
class AgentAnswer:
    """A simulated default-agent answer: the recognition result plus slot values."""

    result: AgentResult
    slots: Mapping[str, Any]


class HassilAgent:
    """Home Assistant's built-in sentence matching, simulated with hassil on one home."""

    def __init__(self, home: Mapping[str, Any]) -> None:
        from hassil import Intents
        from hassil.intents import TextSlotList
        from home_assistant_intents import get_intents

        self.intents = Intents.from_dict(get_intents("en"))
        self.home = home
        self._text_slot_list = TextSlotList

    def _slot_lists(self, context: HomeContext) -> dict[str, Any]:
        names = []
        for ent in context.exposed_entities:
            meta = {"domain": ent.domain}
            if ent.device_class:
                meta["device_class"] = ent.device_class
            for spoken in (ent.name, *ent.aliases):
                names.append((spoken, ent.entity_id, meta))
        areas = [(spoken, a.area_id) for a in context.areas for spoken in (a.name, *a.aliases)]
        return {
            "name": self._text_slot_list.from_tuples(names),
            "area": self._text_slot_list.from_tuples(areas),
            "floor": self._text_slot_list.from_tuples([("Ground Floor", "ground_floor")]),
        }

    def recognize(self, text: str, context: HomeContext) -> AgentAnswer:
        """Match ``text`` and resolve its targets as the default agent would."""
        from hassil import recognize

        intent_context = {"area": context.device_area_id} if context.device_area_id else None
        match = recognize(text, self.intents, slot_lists=self._slot_lists(context), intent_context=intent_context)
        if match is None:
            return AgentAnswer(AgentResult(False, error_code="no_intent_match"), {})
        slots = {k: v.value for k, v in match.entities.items()}
        intent = match.intent.name
        if intent == "HassSetVolume" and "volume_level" in slots:
            slots["volume_level"] = float(slots["volume_level"]) / 100.0  # HA's handler takes a percentage
        targets = self._targets(intent, slots, context)
        if intent not in TARGETLESS_INTENTS and not targets:
            return AgentAnswer(AgentResult(False, intent, (), "no_valid_targets"), slots)
        return AgentAnswer(
            AgentResult(True, intent, targets, None, slots.get("area"), slots.get("domain")),
            slots,
        )

    @staticmethod
    def _targets(intent: str, slots: Mapping[str, Any], context: HomeContext) -> tuple[str, ...]:
        if intent in TARGETLESS_INTENTS:
            return ()
        name = slots.get("name")
        if name is not None and name != "all":  # "all" is the templates' marker for every entity
            return (str(name),)
        domain = slots.get("domain")
        device_class = slots.get("device_class")
        area = slots.get("area")
        if intent in {"HassClimateGetTemperature", "HassClimateSetTemperature"}:
            domain = "climate"
        pool: list[EntityInfo] = list(context.exposed_entities)
        if domain is not None:
            pool = [e for e in pool if e.domain == domain]
        if device_class is not None:
            pool = [e for e in pool if e.device_class == device_class]
        if area is not None:
            pool = [e for e in pool if e.area_id == area]
        elif domain is None:
            return ()
        if intent == "HassClimateGetTemperature" and area is None:
            pool = pool[:1]  # HA answers with the first climate entity
        return tuple(sorted(e.entity_id for e in pool))


def home_context(home: Mapping[str, Any], satellite: str | None, state: Mapping[str, str], t_s: float) -> HomeContext:
    """The context the integration would build for one turn."""
    base = HomeContext.from_dict({"entities": home["entities"], "areas": home["areas"]})
    entities = tuple(
        replace(
            e,
            state=state.get(e.entity_id, e.state),
            last_changed_s=None
            if e.last_changed_s is None
            else t_s + e.last_changed_s,  # JSON: seconds before the turn
        )
        for e in base.entities
    )
    area = home["satellites"].get(satellite) if satellite else None
    return HomeContext(entities=entities, areas=base.areas, device_area_id=area, hour_of_day=19.0, now_s=t_s)


def is_correct(answers: Sequence[AgentAnswer], expect: Any) -> bool:
    """Whether the answers hit the expected intents, targets and slot values."""
    expects = expect if isinstance(expect, list) else [expect]
    if len(answers) != len(expects):
        return False
    for answer, exp in zip(answers, expects, strict=True):
        if exp.get("intent") is None:
            if answer.result.success:
                return False
            continue
        if not answer.result.success or answer.result.intent_type != exp["intent"]:
            return False
        if "entity_ids" in exp and sorted(answer.result.entity_ids) != sorted(exp["entity_ids"]):
            return False
        for key, value in (exp.get("slots") or {}).items():
            if key not in answer.slots or abs(float(answer.slots[key]) - float(value)) > 1e-6:
                return False
    return True


def wrong_actions(answers: Sequence[AgentAnswer], expect: Any) -> int:
    """Actions (state-changing intents) executed on targets outside the expected ones."""
    expects = expect if isinstance(expect, list) else [expect]
    allowed = {eid for exp in expects for eid in exp.get("entity_ids") or ()}
    count = 0
    for answer in answers:
        res = answer.result
        if res.success and res.intent_type in ACTION_INTENTS and set(res.entity_ids) - allowed:
            count += 1
    return count


@dataclass
class TurnRun:
    answers: list[AgentAnswer]
    latency_s: float
    cpu_s: float


def run_echo(
    rewriter: Rewriter, agent: HassilAgent, turn: Mapping[str, Any], context: HomeContext, t_s: float
) -> TurnRun:
    """One turn through the rewriter in front of the agent: rewrite, recognise, verify, fall back."""
    t0 = time.perf_counter()
    c0 = time.thread_time()
    decision = rewriter.rewrite(
        turn["utterance"],
        context,
        conversation_id=turn.get("conversation"),
        user_id=turn.get("user"),
        satellite_id=turn.get("satellite"),
        time_s=t_s,
    )
    elapsed = time.perf_counter() - t0
    cpu = time.thread_time() - c0
    if decision.response_text is not None:
        return TurnRun([], elapsed, cpu)
    if not decision.changed:
        answers = [_forward_unchanged(rewriter, agent, decision, context)]
    elif not _recognised_as_expected(rewriter, agent, decision, context):
        answers = [_forward_unchanged(rewriter, agent, replace(decision, commands=()), context)]
    else:
        answers = []
        for i, command in enumerate(decision.commands):
            answer = agent.recognize(command.text, context)
            t1, c1 = time.perf_counter(), time.thread_time()
            verdict = rewriter.verify(decision, answer.result, index=i)
            elapsed += time.perf_counter() - t1
            cpu += time.thread_time() - c1
            if not verdict.accepted:
                answers = [_forward_unchanged(rewriter, agent, replace(decision, commands=()), context)]
                break
            answers.append(answer)
    t2, c2 = time.perf_counter(), time.thread_time()
    ok = all(a.result.success for a in answers) and bool(answers)
    rewriter.record_outcome(decision, Outcome.SUCCESS if ok else Outcome.NO_MATCH, [a.result for a in answers])
    elapsed += time.perf_counter() - t2
    cpu += time.thread_time() - c2
    return TurnRun(answers, elapsed, cpu)


def _recognised_as_expected(rewriter: Rewriter, agent: Any, decision: Any, context: HomeContext) -> bool:
    """An agent that can recognise without acting has each rewritten command checked first (as the integration)."""
    recognize_intent = getattr(agent, "recognize_intent", None)
    if recognize_intent is None:
        return True
    return all(
        rewriter.verify(decision, recognize_intent(command.text, context), index=i).accepted
        for i, command in enumerate(decision.commands)
    )


def _forward_unchanged(rewriter: Rewriter, agent: Any, decision: Any, context: HomeContext) -> AgentAnswer:
    """An unchanged utterance: an agent that can recognise without acting is checked first (fuzzy guard)."""
    recognize_intent = getattr(agent, "recognize_intent", None)
    if recognize_intent is not None:
        verdict = rewriter.verify_unchanged(decision, recognize_intent(decision.original, context), context)
        if not verdict.accepted:
            return AgentAnswer(AgentResult(False, error_code="no_intent_match"), {})
    return agent.recognize(decision.original, context)


def replay_history(rewriter: Rewriter, agent: HassilAgent, home: Mapping[str, Any]) -> None:
    """Replay a home's history through the rewriter (episodes, teaching sentences, services)."""
    for item in home.get("history", []):
        if item.get("service") == "teach":
            rewriter.teach(item["trigger"], item["commands"], time_s=float(item.get("t", 0.0)))
            continue
        t_s = float(item["t"])
        context = home_context(home, item.get("satellite"), {}, t_s)
        run_echo(rewriter, agent, item, context, t_s)


def evaluate_home(
    home: Mapping[str, Any], repeat: int, encoder: SentenceEncoder
) -> tuple[dict[str, dict[str, int]], list[tuple[float, float]]]:
    """Counts per category and the rewriter's (wall, thread CPU) time per turn, seconds."""
    agent = HassilAgent(home)
    rewriter = Rewriter(encoder=encoder)
    replay_history(rewriter, agent, home)
    counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    latencies: list[tuple[float, float]] = []
    t_s = 100_000.0
    bar = tqdm(total=repeat * len(home["turns"]), desc=home["name"], file=sys.stderr, mininterval=5)
    for rep in range(repeat):
        for turn in home["turns"]:
            t_s += 20.0
            context = home_context(home, turn.get("satellite"), turn.get("state") or {}, t_s)
            conv_turn = {**turn, "conversation": f"{turn['conversation']}-{rep}"} if turn.get("conversation") else turn
            base = [agent.recognize(turn["utterance"], context)]
            echo = run_echo(rewriter, agent, conv_turn, context, t_s)
            latencies.append((echo.latency_s, echo.cpu_s))
            bar.update()
            if rep > 0 or turn.get("score", True) is False:
                continue
            cat = counts[turn["category"]]
            base_ok = is_correct(base, turn["expect"])
            echo_ok = is_correct(echo.answers, turn["expect"])
            cat["turns"] += 1
            cat["baseline"] += base_ok
            cat["echo"] += echo_ok
            cat["wins"] += echo_ok and not base_ok
            cat["losses"] += base_ok and not echo_ok
            cat["wrong_target_actions"] += wrong_actions(echo.answers, turn["expect"])
            cat["baseline_wrong_target_actions"] += wrong_actions(base, turn["expect"])
            if not echo_ok:
                got = [(a.result.intent_type, a.result.entity_ids) for a in echo.answers]
                tqdm.write(
                    f"<!-- {home['name']} {turn['category']} miss: {turn['utterance']!r} -> {got} -->", file=sys.stderr
                )
    bar.close()
    return counts, latencies


def table_row(name: str, row: Mapping[str, int]) -> str:
    """One markdown row of the results table."""
    n = max(row["turns"], 1)
    cells = [
        name,
        str(row["turns"]),
        f"{row['baseline']} ({100 * row['baseline'] / n:.0f} %)",
        f"{row['echo']} ({100 * row['echo'] / n:.0f} %)",
        str(row["wins"]),
        str(row["losses"]),
        f"{row['wrong_target_actions']} / {row['baseline_wrong_target_actions']}",
    ]
    return "| " + " | ".join(cells) + " |"


def header() -> str:
    """CPU, versions and commit."""
    versions = [
        environment_header(
            "n/a (text)",
            f"hassil {package_version('hassil')}",
            f"home-assistant-intents {package_version('home-assistant-intents')}",
        )
    ]
    return (
        " | ".join(versions) + "\n\nBuilt-in agent: SIMULATED with hassil + home-assistant-intents templates"
        " (no 2026.x fuzzy matcher). Context rules are the same for both encoders; the encoder only retrieves"
        " learned and taught phrases that are not matched exactly."
    )


BUDGET_P95_MS = {"lexical": 15.0, "minilm_int8": 40.0}


def run_encoder(name: str, homes: Sequence[Path], repeat: int) -> None:
    """Evaluate every home with one retrieval encoder and print its two tables."""
    encoder = ENCODERS[name]()
    totals: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    latencies: list[tuple[float, float]] = []
    for path in homes:
        home = json.loads(path.read_text(encoding="utf-8"))
        counts, lat = evaluate_home(home, repeat, encoder)
        latencies.extend(lat)
        for cat, row in counts.items():
            for key, value in row.items():
                totals[cat][key] += value
    print(f"\n### retrieval encoder: {name}\n")
    columns = ["category", "turns", "baseline correct", "echo_sense correct", "wins", "losses", "wrong-target actions"]
    print("| " + " | ".join(columns) + " (echo / baseline) |")
    print("|---|---|---|---|---|---|---|")
    overall: dict[str, int] = defaultdict(int)
    for cat in CATEGORIES:
        row = totals.get(cat)
        if not row:
            continue
        print(table_row(cat, row))
        for key, value in row.items():
            overall[key] += value
    print(table_row("**overall**", overall))
    print(f"\nwin:loss = {overall['wins']}:{overall['losses']}\n")
    lat_ms = 1000.0 * np.asarray(latencies)
    print("| added latency per turn (rewrite + verify + record) | turns | p50_ms | p95_ms | max_ms | budget_p95_ms |")
    print("|---|---|---|---|---|---|")
    for column, label in ((0, "wall clock"), (1, "thread CPU (excludes waiting for a core)")):
        p50, p95 = np.percentile(lat_ms[:, column], [50, 95])
        worst = lat_ms[:, column].max()
        print(f"| {name}: {label} | {len(lat_ms)} | {p50:.2f} | {p95:.2f} | {worst:.2f} | {BUDGET_P95_MS[name]:.0f} |")


def main(argv: Sequence[str] | None = None) -> int:
    """Run every home with each encoder and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--homes", type=Path, default=DATA_DIR, help="folder of scenario home JSON files")
    parser.add_argument("--repeat", type=int, default=3, help="passes over the turns for latency statistics")
    parser.add_argument("--encoders", nargs="+", default=list(BUDGET_P95_MS), choices=list(ENCODERS))
    args = parser.parse_args(argv)
    homes = sorted(args.homes.glob("home_*.json"))
    print(header())
    print(f"\nHomes: {', '.join(p.stem for p in homes)}")
    for name in args.encoders:
        run_encoder(name, homes, args.repeat)
    print(f"\nload average after the run: {', '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} cores")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
