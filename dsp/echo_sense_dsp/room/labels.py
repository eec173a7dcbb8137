"""Ground truth of a scenario every 10 ms: who is in the room, how they move, what plays.

The labels come from the scenario's timeline alone (not from the rendered audio), so a
presence model's targets and detection latencies are exact: ``occupied`` is true while at
least one person is inside the room box (a person behind a wall is *not* occupancy, only
``person_next_room``); ``motion`` is ``major`` while someone in the room walks, ``minor``
while someone sits or stands (breathing, page turns, typing, reaching) and ``none`` when the
room is empty. ``events`` lists enter/leave/sit/stand/walk times for latency scoring.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .motion import PersonModel
from .scenario import Scenario

LABEL_HOP_S = 0.01
MOTION_KINDS = ("none", "minor", "major")
_POSTURE_EVENT = {1: "walk", 2: "stand", 3: "sit"}


@dataclass(frozen=True)
class Labels:
    """Per-hop ground truth; every array has shape (N,) for hops starting at ``time_s``.

    Attributes
    ----------
    hop_s : hop between label frames, s (0.01).
    time_s : (N,) float64 start time of each hop, s.
    occupied : (N,) bool, someone inside the room.
    motion : (N,) int8 index into :data:`MOTION_KINDS` (0 none, 1 minor, 2 major).
    people_count : (N,) int16 people inside the room.
    nearest_distance_m : (N,) float64 distance from the device centre to the nearest
        in-room person's torso, m; NaN when the room is empty.
    nearest_radial_velocity_m_s : (N,) float64 d(distance)/dt of that person (positive =
        moving away), m/s; NaN when empty.
    person_next_room : (N,) bool, someone present outside the room (behind a wall).
    fan_on, curtains, turbulence, music_on, probe_on, talking, noise_on : (N,) bool context
        (hard negatives for presence, and the voice branch's conditions). ``music_on`` and
        ``probe_on`` are false when the caller supplied its own drive.
    events : list of {"t_s", "person", "event"} with event in enter, leave, walk, stand, sit.
    """

    hop_s: float
    time_s: NDArray[np.float64]
    occupied: NDArray[np.bool_]
    motion: NDArray[np.int8]
    people_count: NDArray[np.int16]
    nearest_distance_m: NDArray[np.float64]
    nearest_radial_velocity_m_s: NDArray[np.float64]
    person_next_room: NDArray[np.bool_]
    fan_on: NDArray[np.bool_]
    curtains: NDArray[np.bool_]
    turbulence: NDArray[np.bool_]
    music_on: NDArray[np.bool_]
    probe_on: NDArray[np.bool_]
    talking: NDArray[np.bool_]
    noise_on: NDArray[np.bool_]
    events: list[dict[str, Any]] = field(default_factory=list)

    def __len__(self) -> int:
        return int(self.time_s.size)

    def record(self, i: int) -> dict[str, Any]:
        """Label frame ``i`` as a JSON-ready dict (motion as its name, NaN as None)."""
        d = float(self.nearest_distance_m[i])
        v = float(self.nearest_radial_velocity_m_s[i])
        return {
            "t_s": round(float(self.time_s[i]), 6),
            "occupied": bool(self.occupied[i]),
            "motion": MOTION_KINDS[int(self.motion[i])],
            "people_count": int(self.people_count[i]),
            "nearest_distance_m": None if np.isnan(d) else round(d, 4),
            "nearest_radial_velocity_m_s": None if np.isnan(v) else round(v, 4),
            "person_next_room": bool(self.person_next_room[i]),
            "fan_on": bool(self.fan_on[i]),
            "curtains": bool(self.curtains[i]),
            "turbulence": bool(self.turbulence[i]),
            "music_on": bool(self.music_on[i]),
            "probe_on": bool(self.probe_on[i]),
            "talking": bool(self.talking[i]),
            "noise_on": bool(self.noise_on[i]),
        }

    def records(self) -> list[dict[str, Any]]:
        """All label frames as dicts (see :meth:`record`)."""
        return [self.record(i) for i in range(len(self))]

    def at(self, t_s: float) -> dict[str, Any]:
        """The label frame covering time ``t_s`` (clamped to the timeline)."""
        i = int(np.clip(np.floor(t_s / self.hop_s), 0, max(len(self) - 1, 0)))
        return self.record(i)


def _active(t: NDArray[np.float64], start: float, stop: float | None) -> NDArray[np.bool_]:
    return np.asarray((t >= start) & ((t < stop) if stop is not None else True), dtype=np.bool_)


def scenario_labels(
    scenario: Scenario, duration_s: float | None = None, *, hop_s: float = LABEL_HOP_S, drive_given: bool = False
) -> Labels:
    """Ground truth of ``scenario`` every ``hop_s`` over ``duration_s`` (default: the scenario's)."""
    dur = scenario.duration_s if duration_s is None else duration_s
    n = max(int(np.ceil(dur / hop_s - 1e-9)), 0)
    t = np.arange(n, dtype=np.float64) * hop_s
    size = np.asarray(scenario.room.size_m)
    dev = np.asarray(scenario.device.position_m)
    occupied = np.zeros(n, dtype=bool)
    motion = np.zeros(n, dtype=np.int8)
    count = np.zeros(n, dtype=np.int16)
    nearest = np.full(n, np.nan)
    nearest_v = np.full(n, np.nan)
    next_room = np.zeros(n, dtype=bool)
    events: list[dict[str, Any]] = []
    rng = np.random.default_rng(0)  # the states used here do not depend on random gestures
    for person in scenario.people:
        model = PersonModel(person, rng, dur)
        st = model.state(t)
        present = st.posture != 0
        z = np.where(st.posture == 3, 0.85, 1.2)
        inside = present & np.all((st.base_m > 0) & (st.base_m < size[:2]), axis=1)
        occupied |= inside
        count += inside.astype(np.int16)
        next_room |= present & ~inside
        kind = np.where(st.posture == 1, 2, 1).astype(np.int8)
        motion = np.maximum(motion, np.where(inside, kind, 0).astype(np.int8))
        dist = np.sqrt(np.sum((st.base_m - dev[:2]) ** 2, axis=1) + (z - dev[2]) ** 2)
        vel = np.gradient(dist, hop_s) if n > 1 else np.zeros(n)
        closer = inside & ~(dist >= nearest)  # NaN compares false: first person wins
        nearest = np.where(closer, dist, nearest)
        nearest_v = np.where(closer, vel, nearest_v)
        prev_in, prev_posture = False, 0
        for i in range(n):
            if inside[i] != prev_in:
                events.append(
                    {"t_s": round(float(t[i]), 6), "person": person.name, "event": "enter" if inside[i] else "leave"}
                )
            elif inside[i] and st.posture[i] != prev_posture and int(st.posture[i]) in _POSTURE_EVENT:
                events.append(
                    {"t_s": round(float(t[i]), 6), "person": person.name, "event": _POSTURE_EVENT[int(st.posture[i])]}
                )
            prev_in, prev_posture = bool(inside[i]), int(st.posture[i])
    fan_on = np.zeros(n, dtype=bool)
    for f in scenario.fans:
        fan_on |= _active(t, f.start_s, f.stop_s) & (f.rpm > 0)
    drv = scenario.drive
    music_on = np.zeros(n, dtype=bool)
    if drv.music is not None and not drive_given:
        music_on = _active(t, drv.music.start_s, drv.music.stop_s)
    talking = np.zeros(n, dtype=bool)
    noise_on = np.zeros(n, dtype=bool)
    for s in scenario.sources:
        act = _active(t, s.start_s, s.stop_s)
        if s.kind == "talker":
            talking |= act
        else:
            noise_on |= act
    events.sort(key=lambda e: e["t_s"])
    return Labels(
        hop_s=hop_s,
        time_s=t,
        occupied=occupied,
        motion=motion,
        people_count=count,
        nearest_distance_m=nearest,
        nearest_radial_velocity_m_s=nearest_v,
        person_next_room=next_room,
        fan_on=fan_on,
        curtains=np.full(n, bool(scenario.curtains)),
        turbulence=np.full(n, scenario.turbulence is not None),
        music_on=music_on,
        probe_on=np.full(n, drv.probe is not None and not drive_given),
        talking=talking,
        noise_on=noise_on,
        events=events,
    )


__all__ = ["LABEL_HOP_S", "MOTION_KINDS", "Labels", "scenario_labels"]
