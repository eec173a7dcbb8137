"""Random scenarios for training the presence model: varied rooms, devices and motions.

``random_scenario(rng, kind=...)`` draws a room (size, per-surface absorption, temperature,
humidity), a device (position near a wall, driver roll-off and nonlinearity, mic mismatch,
self-noise) and a situation of the requested kind from :data:`SCENARIO_KINDS`:

==============  ============================================================  ==========
kind            situation                                                     occupied
==============  ============================================================  ==========
empty           nobody, nothing moves                                         no
walk            one or two people walking between random waypoints            yes
seated          someone sitting/standing: still, reading, typing, reaching    yes
enter_leave     walks in through the door, sits, maybe leaves again           partly
fan             a running fan (periodic micro-Doppler)                        no
curtains_hvac   swaying curtains and HVAC air turbulence                      no
next_room       someone moving behind a wall (heavily attenuated)             no
music           loud bass-heavy music through the same speaker                no
mixed           people plus random distractors and music                      varies
==============  ============================================================  ==========

``kind="any"`` picks one uniformly. The labels of the rendering
(:func:`~echo_sense_dsp.room.render_scenario`) give the per-10 ms targets.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .scenario import ACTIVITIES, Scenario, validate_scenario

Builder = Callable[[np.random.Generator, dict[str, Any]], None]
MARGIN_M = 0.35


def _room(rng: np.random.Generator) -> dict[str, Any]:
    size = [float(rng.uniform(3.0, 8.0)), float(rng.uniform(2.5, 6.0)), float(rng.uniform(2.3, 3.2))]
    return {
        "size_m": size,
        "absorption": [float(a) for a in rng.uniform(0.05, 0.6, size=6)],
        "temperature_c": float(rng.uniform(16.0, 29.0)),
        "relative_humidity_pct": float(rng.uniform(20.0, 80.0)),
        "max_order": int(rng.integers(3, 7)),
        "rir_length_s": 0.12,
        "wall_transmission_loss_db": float(rng.uniform(30.0, 60.0)),
    }


def _device(rng: np.random.Generator, room: dict[str, Any], mic_count: int | None) -> dict[str, Any]:
    ly = room["size_m"][1]
    return {
        "position_m": [float(rng.uniform(0.15, 0.6)), float(rng.uniform(0.4, ly - 0.4)), float(rng.uniform(0.4, 1.3))],
        "mic_count": int(rng.integers(4, 8)) if mic_count is None else mic_count,
        "mic_radius_m": float(rng.uniform(0.03, 0.04)),
        "driver": {
            "rolloff_hz": float(rng.uniform(26000.0, 38000.0)),
            "rolloff_order": int(rng.integers(1, 4)),
            "a2": float(rng.uniform(0.0, 0.08)),
            "a3": float(rng.uniform(0.0, 0.05)),
            "excursion_mod": float(rng.uniform(0.0, 0.3)),
            "excursion_cutoff_hz": float(rng.uniform(150.0, 600.0)),
        },
        "mic_gain_mismatch_db": float(rng.uniform(0.0, 1.5)),
        "mic_phase_mismatch_us": float(rng.uniform(0.0, 5.0)),
        "self_noise_dbfs": float(rng.uniform(-95.0, -78.0)),
    }


def _spot(rng: np.random.Generator, room: dict[str, Any]) -> list[float]:
    lx, ly, _ = room["size_m"]
    return [float(rng.uniform(0.6, lx - MARGIN_M)), float(rng.uniform(MARGIN_M, ly - MARGIN_M))]


def _walker(rng: np.random.Generator, d: dict[str, Any], name: str) -> dict[str, Any]:
    dur = d["duration_s"]
    t, pos = 0.0, _spot(rng, d["room"])
    kfs: list[dict[str, Any]] = []
    while t < dur:
        nxt = _spot(rng, d["room"])
        speed = float(rng.uniform(0.4, 1.6))
        dist = float(np.hypot(nxt[0] - pos[0], nxt[1] - pos[1]))
        kfs.append({"t_s": t, "position_m": pos, "posture": "walking"})
        t += max(dist / speed, 0.5)
        pos = nxt
        if rng.random() < 0.3:  # a short stop
            kfs.append({"t_s": t, "position_m": pos, "posture": "standing", "activity": "still"})
            t += float(rng.uniform(0.5, 2.0))
    kfs.append({"t_s": t, "position_m": pos, "posture": "standing"})
    return {"name": name, "keyframes": kfs}


def _sitter(rng: np.random.Generator, d: dict[str, Any], name: str) -> dict[str, Any]:
    return {
        "name": name,
        "keyframes": [
            {
                "t_s": 0.0,
                "position_m": _spot(rng, d["room"]),
                "posture": "sitting" if rng.random() < 0.75 else "standing",
                "activity": str(rng.choice(ACTIVITIES)),
            }
        ],
    }


def _activity(rng: np.random.Generator) -> str:
    return str(rng.choice(ACTIVITIES))


def _door(rng: np.random.Generator, room: dict[str, Any]) -> tuple[list[float], list[float]]:
    lx, ly, _ = room["size_m"]
    x = float(rng.uniform(lx * 0.4, lx - 0.5))
    side = -0.6 if rng.random() < 0.5 else ly + 0.6
    inside = 0.5 if side < 0 else ly - 0.5
    return [x, side], [x, inside]


def _kind_empty(rng: np.random.Generator, d: dict[str, Any]) -> None:
    return None


def _kind_walk(rng: np.random.Generator, d: dict[str, Any]) -> None:
    d["people"] = [_walker(rng, d, f"walker{i}") for i in range(1 + int(rng.random() < 0.3))]


def _kind_seated(rng: np.random.Generator, d: dict[str, Any]) -> None:
    d["people"] = [_sitter(rng, d, "sitter")]


def _kind_enter_leave(rng: np.random.Generator, d: dict[str, Any]) -> None:
    dur = d["duration_s"]
    out, door_in = _door(rng, d["room"])
    seat = _spot(rng, d["room"])
    t_enter = float(rng.uniform(0.5, 0.3 * dur))
    walk = float(np.hypot(seat[0] - door_in[0], seat[1] - door_in[1])) / float(rng.uniform(0.7, 1.4))
    kfs = [
        {"t_s": 0.0, "position_m": out, "posture": "absent"},
        {"t_s": t_enter, "position_m": out, "posture": "walking"},
        {"t_s": t_enter + 1.0, "position_m": door_in, "posture": "walking"},
        {
            "t_s": t_enter + 1.0 + walk,
            "position_m": seat,
            "posture": "sitting",
            "activity": str(rng.choice(ACTIVITIES)),
        },
    ]
    t_leave = t_enter + 1.0 + walk + float(rng.uniform(1.0, 0.5 * dur))
    if t_leave + walk + 1.0 < dur and rng.random() < 0.6:
        kfs += [
            {"t_s": t_leave, "position_m": seat, "posture": "walking"},
            {"t_s": t_leave + walk, "position_m": door_in, "posture": "walking"},
            {"t_s": t_leave + walk + 1.0, "position_m": out, "posture": "absent"},
        ]
    d["people"] = [{"name": "visitor", "keyframes": kfs}]


def _fan(rng: np.random.Generator, room: dict[str, Any]) -> dict[str, Any]:
    spot = _spot(rng, room)
    ang = rng.uniform(0, 2 * np.pi)
    return {
        "position_m": [*spot, float(rng.uniform(0.5, 2.2))],
        "axis": [float(np.cos(ang)), float(np.sin(ang)), float(rng.uniform(-0.3, 0.3))],
        "radius_m": float(rng.uniform(0.08, 0.25)),
        "blades": int(rng.integers(2, 6)),
        "rpm": float(rng.uniform(400.0, 1500.0)),
        "reflectivity_m": float(rng.uniform(0.01, 0.04)),
    }


def _kind_fan(rng: np.random.Generator, d: dict[str, Any]) -> None:
    d["fans"] = [_fan(rng, d["room"])]


def _kind_curtains_hvac(rng: np.random.Generator, d: dict[str, Any]) -> None:
    lx, ly, lz = d["room"]["size_m"]
    d["curtains"] = [
        {
            "center_m": [lx - 0.1, float(rng.uniform(0.8, ly - 0.8)), float(min(1.4, lz - 1.1))],
            "normal": [-1.0, 0.0, 0.0],
            "width_m": float(rng.uniform(0.8, 2.0)),
            "sway_m": float(rng.uniform(0.01, 0.06)),
            "sway_hz": float(rng.uniform(0.1, 0.6)),
        }
    ]
    d["turbulence"] = {"strength": float(rng.uniform(0.5, 3.0)), "bandwidth_hz": float(rng.uniform(0.2, 1.5))}


def _kind_next_room(rng: np.random.Generator, d: dict[str, Any]) -> None:
    lx, ly, _ = d["room"]["size_m"]
    y = ly + float(rng.uniform(0.4, 2.0)) if rng.random() < 0.5 else -float(rng.uniform(0.4, 2.0))
    dur = d["duration_s"]
    kfs = [{"t_s": 0.0, "position_m": [float(rng.uniform(0.3, lx)), y], "posture": "walking"}]
    kfs.append(
        {"t_s": dur * 0.5, "position_m": [float(rng.uniform(0.3, lx)), y], "posture": "sitting", "activity": "typing"}
    )
    d["people"] = [{"name": "neighbour", "keyframes": kfs}]


def _kind_music(rng: np.random.Generator, d: dict[str, Any]) -> None:
    d["drive"]["music"] = {
        "source": "synthetic",
        "level_dbfs": float(rng.uniform(-16.0, -4.0)),
        "bass_boost_db": float(rng.uniform(0.0, 12.0)),
    }


def _kind_mixed(rng: np.random.Generator, d: dict[str, Any]) -> None:
    people: list[dict[str, Any]] = []
    for i in range(int(rng.integers(0, 3))):
        people.append(_walker(rng, d, f"walker{i}") if rng.random() < 0.5 else _sitter(rng, d, f"sitter{i}"))
    d["people"] = people
    if rng.random() < 0.4:
        _kind_fan(rng, d)
    if rng.random() < 0.3:
        _kind_curtains_hvac(rng, d)
    if rng.random() < 0.4:
        _kind_music(rng, d)


SCENARIO_KINDS: dict[str, Builder] = {
    "empty": _kind_empty,
    "walk": _kind_walk,
    "seated": _kind_seated,
    "enter_leave": _kind_enter_leave,
    "fan": _kind_fan,
    "curtains_hvac": _kind_curtains_hvac,
    "next_room": _kind_next_room,
    "music": _kind_music,
    "mixed": _kind_mixed,
}
"""Situations :func:`random_scenario` can draw, by name."""


def random_scenario(
    rng: np.random.Generator,
    kind: str = "any",
    *,
    duration_s: float = 10.0,
    mic_count: int | None = 4,
    probe_hz: float | None = 40000.0,
    sample_rate: int = 96000,
) -> Scenario:
    """Draw a random scenario of ``kind`` (a key of :data:`SCENARIO_KINDS`, or ``"any"``).

    Parameters
    ----------
    rng : source of randomness (the scenario's own seed is drawn from it).
    kind : situation to draw.
    duration_s : timeline length, s.
    mic_count : mics on the device; None draws 4..7.
    probe_hz : probe tone frequency in the scenario's drive; None draws 36..42 kHz.
    sample_rate : Hz.
    """
    if kind == "any":
        kind = str(rng.choice(list(SCENARIO_KINDS)))
    if kind not in SCENARIO_KINDS:
        raise ValueError(f"unknown scenario kind {kind!r} (known: any, {', '.join(SCENARIO_KINDS)})")
    room = _room(rng)
    d: dict[str, Any] = {
        "name": f"random_{kind}",
        "duration_s": float(duration_s),
        "sample_rate": sample_rate,
        "seed": int(rng.integers(0, 2**31)),
        "room": room,
        "device": _device(rng, room, mic_count),
        "drive": {
            "probe": {
                "frequency_hz": float(rng.uniform(36000.0, 42000.0)) if probe_hz is None else probe_hz,
                "level_dbfs": float(rng.uniform(-26.0, -14.0)),
            }
        },
    }
    SCENARIO_KINDS[kind](rng, d)
    return validate_scenario(d)


__all__ = ["SCENARIO_KINDS", "random_scenario"]
