"""A small home shared by the intent tests (kept here so tests do not depend on benchmark data)."""

import pytest

from echo_sense_dsp.intent import AreaInfo, EntityInfo, HomeContext

ENTITIES = (
    EntityInfo("light.living_room_ceiling", "Living Room Ceiling", area_id="living_room", state="off"),
    EntityInfo("light.reading_lamp", "Reading Lamp", area_id="living_room", state="on", attributes={"brightness": 128}),
    EntityInfo("light.kitchen", "Kitchen Light", area_id="kitchen", state="off"),
    EntityInfo("light.bedroom", "Bedroom Light", area_id="bedroom", state="off"),
    EntityInfo("fan.bedroom", "Bedroom Fan", area_id="bedroom", state="off"),
    EntityInfo("media_player.tv", "TV", aliases=("Television",), area_id="living_room", state="off"),
    EntityInfo(
        "climate.living_room",
        "Living Room Thermostat",
        area_id="living_room",
        state="heat",
        attributes={"temperature": 21, "current_temperature": 20.5},
    ),
    EntityInfo("switch.oven", "Oven", area_id="kitchen", state="off", device_id="oven"),
    EntityInfo(
        "sensor.oven_temperature",
        "Oven Temperature",
        area_id="kitchen",
        state="24",
        device_class="temperature",
        device_id="oven",
    ),
    EntityInfo(
        "sensor.bedroom_temperature", "Bedroom Temperature", area_id="bedroom", state="19.5", device_class="temperature"
    ),
    EntityInfo(
        "binary_sensor.washing_machine",
        "Washing Machine",
        area_id="hallway",
        state="off",
        device_class="running",
        last_changed_s=900.0,
    ),
    EntityInfo(
        "binary_sensor.dishwasher",
        "Dishwasher",
        area_id="kitchen",
        state="off",
        device_class="running",
        last_changed_s=-80000.0,
    ),
    EntityInfo("switch.coffee_maker", "Coffee Maker", area_id="kitchen", state="off", exposed=False),
)
AREAS = (
    AreaInfo("living_room", "Living Room"),
    AreaInfo("kitchen", "Kitchen"),
    AreaInfo("bedroom", "Bedroom"),
    AreaInfo("hallway", "Hallway"),
)
NOW_S = 10_000.0


def make_context(area_id: str | None = "living_room", **states: str) -> HomeContext:
    """The home with the satellite in ``area_id`` and some states overridden (``switch__oven="on"``)."""
    overrides = {k.replace("__", "."): v for k, v in states.items()}
    entities = tuple(
        EntityInfo.from_dict({**e.to_dict(), "state": overrides.get(e.entity_id, e.state)}) for e in ENTITIES
    )
    return HomeContext(entities=entities, areas=AREAS, device_area_id=area_id, hour_of_day=19.0, now_s=NOW_S)


@pytest.fixture
def home() -> HomeContext:
    """The home heard from the living room."""
    return make_context()
