"""Benchmark: bench_rewrite's scenario turns through a REAL Home Assistant built-in agent.

``bench_rewrite.py`` simulates the built-in agent with hassil. This mode answers every turn with
Home Assistant's own ``DefaultAgent`` (2026.x, fuzzy matching included) inside a Home Assistant
test instance (pytest-homeassistant-custom-component's ``async_test_home_assistant``): the
scenario home's areas, entities (registry entries with areas and aliases, states with
attributes), Assist exposure and one satellite device per satellite are created in it, and the
domains' services are registered as recorders, so actions run without hardware. The domains'
own intents (set temperature, light brightness, fan speed, volume, covers) are registered as
their integrations would, and each satellite takes timers, as a voice satellite does.

A turn's answer is what the agent's response reports: the intent, the entities acted on
(``success_results``) or asked about (``matched_states``), and slot values. The echo_sense column
uses the same scoring, rewriter, verification and fallback as ``bench_rewrite.py``. As in the
integration, every text is first only recognised (``DefaultAgent.async_recognize_intent``): a
rewrite must be recognised as the intent and targets it expects (and is verified again on the
processed answer), and a fuzzy guess for an utterance forwarded unchanged that the guard rejects
never acts. Before each call the turn's states are written into Home Assistant.

Usage: ``python benchmarks/bench_rewrite_ha.py [--homes DIR] [--encoders lexical]``
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from homeassistant.components import climate, conversation, cover, fan, light, media_player
from homeassistant.components.conversation.agent_manager import async_get_agent
from homeassistant.components.conversation.default_agent import DefaultAgent
from homeassistant.components.homeassistant.exposed_entities import async_expose_entity
from homeassistant.components.intent import async_register_timer_handler
from homeassistant.const import ATTR_FRIENDLY_NAME
from homeassistant.core import Context, HomeAssistant, ServiceCall
from homeassistant.helpers import area_registry as ar
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import entity_registry as er
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_test_home_assistant

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from custom_components.echo_sense.conversation import agent_result_from_recognition, agent_result_from_response
from echo_sense_dsp.intent import ENCODERS, HomeContext

_SPEC = importlib.util.spec_from_file_location("bench_rewrite", Path(__file__).with_name("bench_rewrite.py"))
assert _SPEC is not None and _SPEC.loader is not None
bench = importlib.util.module_from_spec(_SPEC)
sys.modules["bench_rewrite"] = bench
_SPEC.loader.exec_module(bench)

SERVICES = {
    "light": ("turn_on", "turn_off", "toggle"),
    "switch": ("turn_on", "turn_off", "toggle"),
    "fan": ("turn_on", "turn_off", "toggle", "set_percentage"),
    "media_player": ("turn_on", "turn_off", "toggle", "media_play", "media_pause", "volume_set"),
    "climate": ("turn_on", "turn_off", "set_temperature", "set_hvac_mode"),
    "cover": ("open_cover", "close_cover"),
    "input_boolean": ("turn_on", "turn_off", "toggle"),
}
SUPPORTED_FEATURES = {"climate": 1 | 128 | 256, "media_player": 4 | 128 | 256 | 1 | 16384, "fan": 1}
DOMAIN_INTENTS = (climate, cover, fan, light, media_player)
"""Integrations whose own intents (set temperature, light set, volume, ...) a real home has loaded."""


class HomeAssistantAgent:
    """The built-in agent of a real Home Assistant, called from the benchmark's worker thread."""

    def __init__(self, hass: HomeAssistant, home: Mapping[str, Any], satellites: Mapping[str, str]) -> None:
        self.hass = hass
        self.home = home
        self.satellites = satellites  # area_id -> device id
        self.calls = 0

    def recognize(self, text: str, context: HomeContext) -> Any:
        """Process ``text`` (the same interface as bench_rewrite's HassilAgent)."""
        return asyncio.run_coroutine_threadsafe(self._async_process(text, context), self.hass.loop).result()

    async def _async_process(self, text: str, context: HomeContext) -> Any:
        for ent in context.entities:
            current = self.hass.states.get(ent.entity_id)
            if current is None or current.state != ent.state:
                attributes = dict(current.attributes) if current is not None else {}
                self.hass.states.async_set(ent.entity_id, ent.state, attributes)
        await self.hass.async_block_till_done()
        device_id = self.satellites.get(context.device_area_id or "")
        self.calls += 1
        result = await conversation.async_converse(self.hass, text, None, Context(), language="en", device_id=device_id)
        response = result.response
        slots = {}
        if response.intent is not None:
            slots = {k: v.get("value") if isinstance(v, dict) else v for k, v in response.intent.slots.items()}
        return bench.AgentAnswer(agent_result_from_response(response), slots)

    def recognize_intent(self, text: str, context: HomeContext) -> Any:
        """Recognise ``text`` without acting, as the integration does before it forwards."""
        return asyncio.run_coroutine_threadsafe(self._async_recognize(text, context), self.hass.loop).result()

    async def _async_recognize(self, text: str, context: HomeContext) -> Any:
        agent = async_get_agent(self.hass, conversation.HOME_ASSISTANT_AGENT)
        assert isinstance(agent, DefaultAgent)
        user_input = conversation.ConversationInput(
            text=text,
            context=Context(),
            conversation_id=None,
            device_id=self.satellites.get(context.device_area_id or ""),
            satellite_id=None,
            language="en",
            agent_id=conversation.HOME_ASSISTANT_AGENT,
        )
        return agent_result_from_recognition(self.hass, await agent.async_recognize_intent(user_input))


async def async_build_home(hass: HomeAssistant, home: Mapping[str, Any]) -> dict[str, str]:
    """Create the scenario home in ``hass``; returns the satellite device of each area."""
    assert await async_setup_component(hass, "homeassistant", {})
    assert await async_setup_component(hass, "conversation", {})
    area_reg = ar.async_get(hass)
    area_ids: dict[str, str] = {}
    for area in home["areas"]:
        entry = area_reg.async_create(area["name"], aliases=set(area.get("aliases") or ()))
        area_ids[area["area_id"]] = entry.id
        assert entry.id == area["area_id"], (
            f"area {area['name']!r} got id {entry.id!r}, the scenario uses {area['area_id']!r}"
        )
    config_entry = MockConfigEntry(domain="bench", title="bench")
    config_entry.add_to_hass(hass)
    dev_reg = dr.async_get(hass)
    satellites = {}
    for sat_id, area_id in home["satellites"].items():
        device = dev_reg.async_get_or_create(config_entry_id=config_entry.entry_id, identifiers={("bench", sat_id)})
        if area_id is not None:
            dev_reg.async_update_device(device.id, area_id=area_ids[area_id])
            satellites[area_id] = device.id
    ent_reg = er.async_get(hass)
    devices: dict[str, str] = {}
    for ent in home["entities"]:
        domain, object_id = ent["entity_id"].split(".", 1)
        device_key = ent.get("device_id")
        device_id = None
        if device_key:
            if device_key not in devices:
                devices[device_key] = dev_reg.async_get_or_create(
                    config_entry_id=config_entry.entry_id, identifiers={("bench", f"device_{device_key}")}
                ).id
            device_id = devices[device_key]
        entry = ent_reg.async_get_or_create(
            domain, "bench", object_id, suggested_object_id=object_id, config_entry=config_entry
        )
        assert entry.entity_id == ent["entity_id"], entry.entity_id
        ent_reg.async_update_entity(
            entry.entity_id,
            area_id=area_ids.get(ent.get("area_id") or "", None),
            aliases=set(ent.get("aliases") or ()),
            device_id=device_id,
        )
        attributes = {ATTR_FRIENDLY_NAME: ent["name"], **(ent.get("attributes") or {})}
        if ent.get("device_class"):
            attributes["device_class"] = ent["device_class"]
        if domain == "light":
            attributes["supported_color_modes"] = ["brightness"]
        if domain in SUPPORTED_FEATURES:
            attributes["supported_features"] = SUPPORTED_FEATURES[domain]
        hass.states.async_set(entry.entity_id, ent.get("state", ""), attributes)
        async_expose_entity(hass, conversation.DOMAIN, entry.entity_id, bool(ent.get("exposed", True)))

    async def record(call: ServiceCall) -> None:
        return None

    for domain, services in SERVICES.items():
        for service in services:
            hass.services.async_register(domain, service, record)
    for integration in DOMAIN_INTENTS:
        await importlib.import_module(f"{integration.__name__}.intent").async_setup_intents(hass)
    for device_id in satellites.values():
        async_register_timer_handler(hass, device_id, lambda _event, _timer: None)  # satellites ring timers
    await hass.async_block_till_done()
    return satellites


async def async_evaluate(
    home: Mapping[str, Any], encoder_name: str
) -> tuple[dict[str, dict[str, int]], list[Any], int]:
    with tempfile.TemporaryDirectory(prefix="bench_rewrite_ha") as config_dir:
        async with async_test_home_assistant(config_dir=config_dir) as hass:
            satellites = await async_build_home(hass, home)
            agent = HomeAssistantAgent(hass, home, satellites)
            original = bench.HassilAgent
            bench.HassilAgent = lambda _home: agent  # evaluate_home builds its agent from the home
            try:
                counts, latencies = await hass.async_add_executor_job(
                    bench.evaluate_home, home, 1, ENCODERS[encoder_name]()
                )
            finally:
                bench.HassilAgent = original
            await hass.async_stop(force=True)
            return counts, latencies, agent.calls


def main(argv: Sequence[str] | None = None) -> int:
    """Run every home through a real Home Assistant and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--homes", type=Path, default=bench.DATA_DIR, help="folder of scenario home JSON files")
    parser.add_argument("--encoders", nargs="+", default=["lexical"], choices=list(ENCODERS))
    args = parser.parse_args(argv)
    from homeassistant.const import __version__ as ha_version

    homes = sorted(args.homes.glob("home_*.json"))
    print(bench.header().split("\n\n")[0] + f" | Home Assistant {ha_version}")
    print(
        "\nBuilt-in agent: REAL Home Assistant DefaultAgent (fuzzy matching on) in a test instance; "
        "services recorded, not executed on hardware."
    )
    print(f"\nHomes: {', '.join(p.stem for p in homes)}")
    for name in args.encoders:
        totals: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        latencies: list[Any] = []
        calls = 0
        t0 = time.perf_counter()
        for path in homes:
            home = json.loads(path.read_text(encoding="utf-8"))
            counts, lat, n = asyncio.run(async_evaluate(home, name))
            latencies.extend(lat)
            calls += n
            for cat, row in counts.items():
                for key, value in row.items():
                    totals[cat][key] += value
        wall_s = time.perf_counter() - t0
        print(f"\n### retrieval encoder: {name}\n")
        columns = ["category", "turns", "baseline correct", "echo_sense correct", "wins", "losses"]
        print("| " + " | ".join(columns) + " | wrong-target actions (echo / baseline) |")
        print("|---|---|---|---|---|---|---|")
        overall: dict[str, int] = defaultdict(int)
        for cat in bench.CATEGORIES:
            row = totals.get(cat)
            if not row:
                continue
            print(bench.table_row(cat, row))
            for key, value in row.items():
                overall[key] += value
        print(bench.table_row("**overall**", overall))
        print(f"\nwin:loss = {overall['wins']}:{overall['losses']}")
        lat_ms = 1000.0 * np.asarray(latencies)
        p50, p95 = np.percentile(lat_ms[:, 1], [50, 95])
        print(
            f"\nrewriter thread CPU per turn: p50 {p50:.2f} ms, p95 {p95:.2f} ms; "
            f"{calls} agent calls in {wall_s:.1f} s wall "
            f"({1000 * wall_s / max(calls, 1):.1f} ms per call, everything included)"
        )
    print(f"\nload average after the run: {', '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} cores")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
