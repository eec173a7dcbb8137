"""Scenario schema: the room, the device, what plays and who moves where, as JSON.

A scenario is a JSON object; every field except ``duration_s`` has a default. Positions are
metres in room coordinates (origin in a floor corner, x along the room's length, y along its
width, z up). Times are seconds from the start of the scenario.

.. code-block:: text

    name            str                         label of the scenario
    duration_s      float > 0                   length of the timeline
    sample_rate     int (96000)                 output rate of mics and drive
    seed            int (0)                     seeds device variation, minor motions and noise
    room
      size_m        [x, y, z] (5, 4, 2.7)
      absorption    float or 6 floats (0.25)    energy absorption per surface, order
                                                x=0, x=Lx, y=0, y=Ly, floor, ceiling
      temperature_c float (21)                  speed of sound and air absorption
      relative_humidity_pct float (45)          air absorption (ISO 9613-1)
      max_order     int (6)                     image-source order of the static reflections
      rir_length_s  float (0.2)                 static impulse response length (truncated)
      wall_transmission_loss_db float (45)      per pass through a wall (person next room)
    device
      position_m    [x, y, z] (0.3, 2, 0.8)
      mic_count     int 1..16 (4)               mics on a horizontal circle ...
      mic_radius_m  float (0.035)               ... of this radius around position_m
      speakers_m    list of [dx, dy, dz] ([[0, 0, 0.02]])  driver offsets from position_m
      coupling_m    float (0.01)                mic = drive * coupling_m / r for a path of length r
      driver        {rolloff_hz (30000), rolloff_order (2), a2 (0.03), a3 (0.02),
                     excursion_mod (0.15), excursion_cutoff_hz (300)}
      mic_gain_mismatch_db float (0.5)          std of the per-mic gain error
      mic_phase_mismatch_us float (2)           std of the per-mic time (phase) error
      self_noise_dbfs float (-85)               RMS of each mic's white self-noise
      randomize     bool (true)                 draw the mismatches from ``seed`` (false: ideal)
    drive                                       what the scenario plays when no drive is given
      probe         {frequency_hz (40000), level_dbfs (-20)} or null
      music         {source ("synthetic" or a WAV/FLAC path), level_dbfs (-12),
                     start_s (0), stop_s (null), bass_boost_db (6)} or null
    people          list of {name, keyframes: [{t_s, position_m [x, y], posture, activity}]}
                    posture: absent | walking | standing | sitting; the posture holds from
                    its keyframe to the next one, and the position moves linearly between
                    keyframes. activity (sitting/standing): still | reading | typing | reaching.
                    A position outside the room box is a person next door (behind a wall).
    fans            list of {position_m, axis (0,0,1), radius_m (0.15), blades (3), rpm (900),
                     reflectivity_m (0.02), start_s (0), stop_s (null)}
    curtains        list of {center_m, normal, width_m (1.2), height_m (1.8), sway_m (0.03),
                     sway_hz (0.25), reflectivity_m (0.05)}
    turbulence      {strength (1.0), bandwidth_hz (0.5)} or null: HVAC air movement
    points          list of {position_m, velocity_m_s (0,0,0), reflectivity_m (0.1),
                     start_s (0), stop_s (null)}: bare point reflectors (tests, calibration)
    sources         list of audible sources {kind: talker | noise | tone, position_m,
                     file (null), signal (speech | white | pink | brown), level_db (-30, dBFS at
                     1 m), frequency_hz (1000, tone), start_s (0), stop_s (null)}

Bad input raises :class:`~echo_sense_dsp.errors.ConfigError` naming the field
(``"scenario field 'people[0].keyframes[1].t_s': ..."``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, cast

from ..errors import ConfigError

POSTURES = ("absent", "walking", "standing", "sitting")
ACTIVITIES = ("still", "reading", "typing", "reaching")
SOURCE_KINDS = ("talker", "noise", "tone")
NOISE_SIGNALS = ("speech", "white", "pink", "brown")

Vec3 = tuple[float, float, float]


@dataclass(frozen=True)
class Room:
    """Shoebox room; see the module docstring for units and defaults."""

    size_m: Vec3 = (5.0, 4.0, 2.7)
    absorption: tuple[float, float, float, float, float, float] = (0.25,) * 6
    temperature_c: float = 21.0
    relative_humidity_pct: float = 45.0
    max_order: int = 6
    rir_length_s: float = 0.2
    wall_transmission_loss_db: float = 45.0


@dataclass(frozen=True)
class Driver:
    """Loudspeaker model: nonlinearity then low-pass roll-off."""

    rolloff_hz: float = 30000.0
    rolloff_order: int = 2
    a2: float = 0.03
    a3: float = 0.02
    excursion_mod: float = 0.15
    excursion_cutoff_hz: float = 300.0


@dataclass(frozen=True)
class Device:
    """The hub: speaker(s) and a circular mic array."""

    position_m: Vec3 = (0.3, 2.0, 0.8)
    mic_count: int = 4
    mic_radius_m: float = 0.035
    speakers_m: tuple[Vec3, ...] = ((0.0, 0.0, 0.02),)
    coupling_m: float = 0.01
    driver: Driver = field(default_factory=Driver)
    mic_gain_mismatch_db: float = 0.5
    mic_phase_mismatch_us: float = 2.0
    self_noise_dbfs: float = -85.0
    randomize: bool = True


@dataclass(frozen=True)
class Probe:
    frequency_hz: float = 40000.0
    level_dbfs: float = -20.0


@dataclass(frozen=True)
class Music:
    source: str = "synthetic"
    level_dbfs: float = -12.0
    start_s: float = 0.0
    stop_s: float | None = None
    bass_boost_db: float = 6.0


@dataclass(frozen=True)
class Drive:
    probe: Probe | None = field(default_factory=Probe)
    music: Music | None = None


@dataclass(frozen=True)
class Keyframe:
    t_s: float
    position_m: tuple[float, float]
    posture: str = "standing"
    activity: str = "still"


@dataclass(frozen=True)
class Person:
    name: str
    keyframes: tuple[Keyframe, ...]


@dataclass(frozen=True)
class Fan:
    position_m: Vec3
    axis: Vec3 = (0.0, 0.0, 1.0)
    radius_m: float = 0.15
    blades: int = 3
    rpm: float = 900.0
    reflectivity_m: float = 0.02
    start_s: float = 0.0
    stop_s: float | None = None


@dataclass(frozen=True)
class Curtain:
    center_m: Vec3
    normal: Vec3 = (1.0, 0.0, 0.0)
    width_m: float = 1.2
    height_m: float = 1.8
    sway_m: float = 0.03
    sway_hz: float = 0.25
    reflectivity_m: float = 0.05


@dataclass(frozen=True)
class Turbulence:
    strength: float = 1.0
    bandwidth_hz: float = 0.5


@dataclass(frozen=True)
class Point:
    position_m: Vec3
    velocity_m_s: Vec3 = (0.0, 0.0, 0.0)
    reflectivity_m: float = 0.1
    start_s: float = 0.0
    stop_s: float | None = None


@dataclass(frozen=True)
class Source:
    kind: str
    position_m: Vec3
    file: str | None = None
    signal: str = "speech"
    level_db: float = -30.0
    frequency_hz: float = 1000.0
    start_s: float = 0.0
    stop_s: float | None = None


@dataclass(frozen=True)
class Scenario:
    """A validated scenario (see the module docstring for the JSON schema)."""

    duration_s: float
    name: str = "scenario"
    sample_rate: int = 96000
    seed: int = 0
    room: Room = field(default_factory=Room)
    device: Device = field(default_factory=Device)
    drive: Drive = field(default_factory=Drive)
    people: tuple[Person, ...] = ()
    fans: tuple[Fan, ...] = ()
    curtains: tuple[Curtain, ...] = ()
    turbulence: Turbulence | None = None
    points: tuple[Point, ...] = ()
    sources: tuple[Source, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The scenario as JSON-ready dict (``load_scenario(s.to_dict()) == s``)."""
        return cast("dict[str, Any]", json.loads(json.dumps(asdict(self))))


# --------------------------------------------------------------------------- validation


def _fail(path: str, message: str) -> ConfigError:
    return ConfigError(f"scenario field '{path}': {message}")


def _obj(value: Any, path: str, known: tuple[str, ...]) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise _fail(path, f"expected an object, got {type(value).__name__}")
    unknown = sorted(set(value) - set(known))
    if unknown:
        raise _fail(f"{path}.{unknown[0]}" if path else unknown[0], f"unknown field (known: {', '.join(known)})")
    return value


def _num(
    d: Mapping[str, Any], key: str, path: str, default: float | None, lo: float = -math.inf, hi: float = math.inf
) -> float:
    p = f"{path}.{key}" if path else key
    if key not in d or d[key] is None:
        if default is None:
            raise _fail(p, "is required")
        return default
    v = d[key]
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
        raise _fail(p, f"expected a number, got {v!r}")
    if not lo <= v <= hi:
        raise _fail(p, f"{v!r} is outside [{lo}, {hi}]")
    return float(v)


def _opt_num(d: Mapping[str, Any], key: str, path: str, lo: float = 0.0) -> float | None:
    if d.get(key) is None:
        return None
    return _num(d, key, path, None, lo)


def _int(d: Mapping[str, Any], key: str, path: str, default: int, lo: int, hi: int) -> int:
    p = f"{path}.{key}" if path else key
    v = d.get(key, default)
    if isinstance(v, bool) or not isinstance(v, int):
        raise _fail(p, f"expected an integer, got {v!r}")
    if not lo <= v <= hi:
        raise _fail(p, f"{v!r} is outside [{lo}, {hi}]")
    return int(v)


def _str(d: Mapping[str, Any], key: str, path: str, default: str | None, choices: tuple[str, ...] = ()) -> str:
    p = f"{path}.{key}" if path else key
    v = d.get(key, default)
    if v is None:
        raise _fail(p, "is required")
    if not isinstance(v, str):
        raise _fail(p, f"expected a string, got {v!r}")
    if choices and v not in choices:
        raise _fail(p, f"{v!r} is not one of {', '.join(choices)}")
    return v


def _vec(d: Mapping[str, Any], key: str, path: str, default: tuple[float, ...] | None, n: int = 3) -> tuple[float, ...]:
    p = f"{path}.{key}" if path else key
    v = d.get(key, default)
    if v is None:
        raise _fail(p, "is required")
    if not isinstance(v, list | tuple) or len(v) != n:
        raise _fail(p, f"expected a list of {n} numbers, got {v!r}")
    out = []
    for i, x in enumerate(v):
        if isinstance(x, bool) or not isinstance(x, int | float) or not math.isfinite(x):
            raise _fail(f"{p}[{i}]", f"expected a number, got {x!r}")
        out.append(float(x))
    return tuple(out)


def _list(d: Mapping[str, Any], key: str, path: str) -> list[Any]:
    v = d.get(key, [])
    if v is None:
        return []
    if not isinstance(v, list):
        raise _fail(f"{path}.{key}" if path else key, f"expected a list, got {type(v).__name__}")
    return v


def _room(v: Any) -> Room:
    d = _obj(v, "room", tuple(Room.__dataclass_fields__))
    size = _vec(d, "size_m", "room", Room.size_m)
    for i, s in enumerate(size):
        if not 1.0 <= s <= 50.0:
            raise _fail(f"room.size_m[{i}]", f"{s} m is outside [1, 50]")
    ab = d.get("absorption", 0.25)
    if isinstance(ab, int | float) and not isinstance(ab, bool):
        ab = [ab] * 6
    absorption = _vec({"absorption": ab}, "absorption", "room", None, 6)
    for i, a in enumerate(absorption):
        if not 0.0 <= a <= 1.0:
            raise _fail(f"room.absorption[{i}]", f"{a} is outside [0, 1]")
    return Room(
        size_m=cast("Vec3", size),
        absorption=cast("tuple[float, float, float, float, float, float]", absorption),
        temperature_c=_num(d, "temperature_c", "room", 21.0, -20.0, 50.0),
        relative_humidity_pct=_num(d, "relative_humidity_pct", "room", 45.0, 0.0, 100.0),
        max_order=_int(d, "max_order", "room", 6, 0, 20),
        rir_length_s=_num(d, "rir_length_s", "room", 0.2, 0.005, 2.0),
        wall_transmission_loss_db=_num(d, "wall_transmission_loss_db", "room", 45.0, 0.0, 200.0),
    )


def _device(v: Any) -> Device:
    d = _obj(v, "device", tuple(Device.__dataclass_fields__))
    drv = _obj(d.get("driver", {}), "device.driver", tuple(Driver.__dataclass_fields__))
    p = "device.driver"
    driver = Driver(
        rolloff_hz=_num(drv, "rolloff_hz", p, 30000.0, 1000.0, 1e6),
        rolloff_order=_int(drv, "rolloff_order", p, 2, 0, 8),
        a2=_num(drv, "a2", p, 0.03, -1.0, 1.0),
        a3=_num(drv, "a3", p, 0.02, -1.0, 1.0),
        excursion_mod=_num(drv, "excursion_mod", p, 0.15, 0.0, 2.0),
        excursion_cutoff_hz=_num(drv, "excursion_cutoff_hz", p, 300.0, 10.0, 5000.0),
    )
    speakers_raw = _list(d, "speakers_m", "device") or [[0.0, 0.0, 0.02]]
    speakers = tuple(
        cast("Vec3", _vec({"s": s}, "s", "", None)) if isinstance(s, list | tuple) and len(s) == 3 else _bad_vec(s, i)
        for i, s in enumerate(speakers_raw)
    )
    randomize = d.get("randomize", True)
    if not isinstance(randomize, bool):
        raise _fail("device.randomize", f"expected true or false, got {randomize!r}")
    return Device(
        position_m=cast("Vec3", _vec(d, "position_m", "device", Device.position_m)),
        mic_count=_int(d, "mic_count", "device", 4, 1, 16),
        mic_radius_m=_num(d, "mic_radius_m", "device", 0.035, 0.0, 0.5),
        speakers_m=speakers,
        coupling_m=_num(d, "coupling_m", "device", 0.01, 0.0, 10.0),
        driver=driver,
        mic_gain_mismatch_db=_num(d, "mic_gain_mismatch_db", "device", 0.5, 0.0, 12.0),
        mic_phase_mismatch_us=_num(d, "mic_phase_mismatch_us", "device", 2.0, 0.0, 1000.0),
        self_noise_dbfs=_num(d, "self_noise_dbfs", "device", -85.0, -200.0, 0.0),
        randomize=randomize,
    )


def _bad_vec(s: Any, i: int) -> Vec3:
    raise _fail(f"device.speakers_m[{i}]", f"expected a list of 3 numbers, got {s!r}")


def _drive(v: Any) -> Drive:
    d = _obj(v, "drive", ("probe", "music"))
    probe: Probe | None = None
    if "probe" not in d:
        probe = Probe()
    elif d["probe"] is not None:
        pd = _obj(d["probe"], "drive.probe", tuple(Probe.__dataclass_fields__))
        probe = Probe(
            frequency_hz=_num(pd, "frequency_hz", "drive.probe", 40000.0, 1.0, 1e6),
            level_dbfs=_num(pd, "level_dbfs", "drive.probe", -20.0, -200.0, 0.0),
        )
    music: Music | None = None
    if d.get("music") is not None:
        md = _obj(d["music"], "drive.music", tuple(Music.__dataclass_fields__))
        music = Music(
            source=_str(md, "source", "drive.music", "synthetic"),
            level_dbfs=_num(md, "level_dbfs", "drive.music", -12.0, -200.0, 0.0),
            start_s=_num(md, "start_s", "drive.music", 0.0, 0.0),
            stop_s=_opt_num(md, "stop_s", "drive.music"),
            bass_boost_db=_num(md, "bass_boost_db", "drive.music", 6.0, -40.0, 40.0),
        )
    return Drive(probe=probe, music=music)


def _person(v: Any, i: int) -> Person:
    path = f"people[{i}]"
    d = _obj(v, path, ("name", "keyframes"))
    raw = _list(d, "keyframes", path)
    if not raw:
        raise _fail(f"{path}.keyframes", "needs at least one keyframe")
    kfs: list[Keyframe] = []
    for j, k in enumerate(raw):
        kp = f"{path}.keyframes[{j}]"
        kd = _obj(k, kp, tuple(Keyframe.__dataclass_fields__))
        t = _num(kd, "t_s", kp, None, 0.0)
        if kfs and t <= kfs[-1].t_s:
            raise _fail(f"{kp}.t_s", f"{t} is not after the previous keyframe's {kfs[-1].t_s}")
        kfs.append(
            Keyframe(
                t_s=t,
                position_m=cast("tuple[float, float]", _vec(kd, "position_m", kp, None, 2)),
                posture=_str(kd, "posture", kp, "standing", POSTURES),
                activity=_str(kd, "activity", kp, "still", ACTIVITIES),
            )
        )
    return Person(name=_str(d, "name", path, f"person{i}"), keyframes=tuple(kfs))


def _fan(v: Any, i: int) -> Fan:
    p = f"fans[{i}]"
    d = _obj(v, p, tuple(Fan.__dataclass_fields__))
    return Fan(
        position_m=cast("Vec3", _vec(d, "position_m", p, None)),
        axis=cast("Vec3", _vec(d, "axis", p, (0.0, 0.0, 1.0))),
        radius_m=_num(d, "radius_m", p, 0.15, 0.01, 2.0),
        blades=_int(d, "blades", p, 3, 1, 12),
        rpm=_num(d, "rpm", p, 900.0, 0.0, 10000.0),
        reflectivity_m=_num(d, "reflectivity_m", p, 0.02, 0.0, 10.0),
        start_s=_num(d, "start_s", p, 0.0, 0.0),
        stop_s=_opt_num(d, "stop_s", p),
    )


def _curtain(v: Any, i: int) -> Curtain:
    p = f"curtains[{i}]"
    d = _obj(v, p, tuple(Curtain.__dataclass_fields__))
    return Curtain(
        center_m=cast("Vec3", _vec(d, "center_m", p, None)),
        normal=cast("Vec3", _vec(d, "normal", p, (1.0, 0.0, 0.0))),
        width_m=_num(d, "width_m", p, 1.2, 0.05, 20.0),
        height_m=_num(d, "height_m", p, 1.8, 0.05, 10.0),
        sway_m=_num(d, "sway_m", p, 0.03, 0.0, 1.0),
        sway_hz=_num(d, "sway_hz", p, 0.25, 0.0, 20.0),
        reflectivity_m=_num(d, "reflectivity_m", p, 0.05, 0.0, 10.0),
    )


def _point(v: Any, i: int) -> Point:
    p = f"points[{i}]"
    d = _obj(v, p, tuple(Point.__dataclass_fields__))
    return Point(
        position_m=cast("Vec3", _vec(d, "position_m", p, None)),
        velocity_m_s=cast("Vec3", _vec(d, "velocity_m_s", p, (0.0, 0.0, 0.0))),
        reflectivity_m=_num(d, "reflectivity_m", p, 0.1, 0.0, 10.0),
        start_s=_num(d, "start_s", p, 0.0, 0.0),
        stop_s=_opt_num(d, "stop_s", p),
    )


def _source(v: Any, i: int) -> Source:
    p = f"sources[{i}]"
    d = _obj(v, p, tuple(Source.__dataclass_fields__))
    f = d.get("file")
    if f is not None and not isinstance(f, str):
        raise _fail(f"{p}.file", f"expected a path string, got {f!r}")
    return Source(
        kind=_str(d, "kind", p, None, SOURCE_KINDS),
        position_m=cast("Vec3", _vec(d, "position_m", p, None)),
        file=f,
        signal=_str(d, "signal", p, "speech", NOISE_SIGNALS),
        level_db=_num(d, "level_db", p, -30.0, -200.0, 20.0),
        frequency_hz=_num(d, "frequency_hz", p, 1000.0, 1.0, 1e6),
        start_s=_num(d, "start_s", p, 0.0, 0.0),
        stop_s=_opt_num(d, "stop_s", p),
    )


def _items(d: Mapping[str, Any], key: str, parse: Callable[[Any, int], Any]) -> tuple[Any, ...]:
    return tuple(parse(v, i) for i, v in enumerate(_list(d, key, "")))


def validate_scenario(data: Mapping[str, Any]) -> Scenario:
    """Validate a scenario dict (parsed JSON) and return the typed :class:`Scenario`.

    Raises
    ------
    ConfigError
        A field is missing, unknown, of the wrong type or out of range; the message names it.
    """
    d = _obj(data, "", tuple(Scenario.__dataclass_fields__))
    turb: Turbulence | None = None
    if d.get("turbulence") is not None:
        td = _obj(d["turbulence"], "turbulence", tuple(Turbulence.__dataclass_fields__))
        turb = Turbulence(
            strength=_num(td, "strength", "turbulence", 1.0, 0.0, 100.0),
            bandwidth_hz=_num(td, "bandwidth_hz", "turbulence", 0.5, 0.001, 50.0),
        )
    sc = Scenario(
        duration_s=_num(d, "duration_s", "", None, 0.001, 86400.0),
        name=_str(d, "name", "", "scenario"),
        sample_rate=_int(d, "sample_rate", "", 96000, 8000, 384000),
        seed=_int(d, "seed", "", 0, 0, 2**63 - 1),
        room=_room(d.get("room", {})),
        device=_device(d.get("device", {})),
        drive=_drive(d.get("drive", {})),
        people=_items(d, "people", _person),
        fans=_items(d, "fans", _fan),
        curtains=_items(d, "curtains", _curtain),
        turbulence=turb,
        points=_items(d, "points", _point),
        sources=_items(d, "sources", _source),
    )
    _check_inside(sc)
    return sc


def _check_inside(sc: Scenario) -> None:
    size = sc.room.size_m
    pos = sc.device.position_m
    for ax in range(3):
        if not 0.0 < pos[ax] < size[ax]:
            raise _fail(f"device.position_m[{ax}]", f"{pos[ax]} m is outside the room (0, {size[ax]})")
    for i, src in enumerate(sc.sources):
        for ax in range(3):
            if not 0.0 < src.position_m[ax] < size[ax]:
                raise _fail(f"sources[{i}].position_m[{ax}]", f"{src.position_m[ax]} m is outside the room")


# --------------------------------------------------------------------------- presets and loading


def _preset_dir() -> Any:
    return resources.files("echo_sense_dsp.room").joinpath("scenarios")


def _preset_names() -> tuple[str, ...]:
    root = _preset_dir()
    return tuple(sorted(p.name[: -len(".json")] for p in root.iterdir() if p.name.endswith(".json")))


SCENARIOS: dict[str, str] = {name: f"{name}.json" for name in _preset_names()}
"""Preset scenarios shipped as package data: name -> resource file name."""


def load_scenario(source: str | Path | Mapping[str, Any]) -> Scenario:
    """Load a scenario from a preset name, a JSON file path or a dict.

    Parameters
    ----------
    source : a name in :data:`SCENARIOS`, a path to a ``.json`` file, or the parsed dict.

    Raises
    ------
    ConfigError
        Unknown preset, unreadable/invalid JSON, or a bad field (named in the message).
    """
    if isinstance(source, Mapping):
        return validate_scenario(source)
    text: str
    if isinstance(source, str) and source in SCENARIOS:
        text = _preset_dir().joinpath(SCENARIOS[source]).read_text(encoding="utf-8")
        where = f"preset {source!r}"
    else:
        path = Path(source)
        if not path.is_file():
            raise ConfigError(
                f"scenario {str(source)!r}: no such file and not a preset (presets: {', '.join(SCENARIOS)})"
            )
        text = path.read_text(encoding="utf-8")
        where = str(path)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise ConfigError(f"scenario {where}: invalid JSON: {err}") from err
    return validate_scenario(data)


__all__ = [
    "ACTIVITIES",
    "NOISE_SIGNALS",
    "POSTURES",
    "SCENARIOS",
    "SOURCE_KINDS",
    "Curtain",
    "Device",
    "Drive",
    "Driver",
    "Fan",
    "Keyframe",
    "Music",
    "Person",
    "Point",
    "Probe",
    "Room",
    "Scenario",
    "Source",
    "Turbulence",
    "load_scenario",
    "validate_scenario",
]
