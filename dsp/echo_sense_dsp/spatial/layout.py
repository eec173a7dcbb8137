"""Device layouts: where each driver sits, where it points, which band it plays.

A layout is JSON (schema in ARCHITECTURE.md, x toward the listener, y to the listener's
left, z up, metres, origin at the device centre)::

    {"name": "narrow-stereo", "sample_rate": 48000,
     "drivers": [{"name": "left", "position_m": [0, 0.05, 0], "axis": [1, 0, 0],
                  "band_hz": [120, 20000]}, ...],
     "listener": {"distance_m": 2.5, "height_m": 0.0}}

A driver may also give ``"radius_m"`` (effective cone radius, default 0.025 m), which sets
how directional it becomes at high frequencies. :func:`load_layout` accepts a path, a preset
name from :data:`LAYOUTS` or an already-parsed dict, and raises :class:`ConfigError` naming
the offending field.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..errors import ConfigError

DEFAULT_DRIVER_RADIUS_M = 0.025
_MAX_DRIVERS = 32


@dataclass(frozen=True)
class Driver:
    """One loudspeaker driver of a device.

    Attributes
    ----------
    name : str
    position_m : tuple of 3 floats, metres, layout coordinates
    axis : tuple of 3 floats, unit vector of the driver's on-axis direction
    band_hz : tuple (low, high), Hz, the band the driver plays
    radius_m : float, metres, effective radiating radius (directivity)
    """

    name: str
    position_m: tuple[float, float, float]
    axis: tuple[float, float, float]
    band_hz: tuple[float, float]
    radius_m: float = DEFAULT_DRIVER_RADIUS_M


@dataclass(frozen=True)
class Listener:
    """The listening position: on the device's x axis, ``distance_m`` away, ears at ``height_m``."""

    distance_m: float
    height_m: float = 0.0

    @property
    def position_m(self) -> tuple[float, float, float]:
        return (self.distance_m, 0.0, self.height_m)


@dataclass(frozen=True)
class DeviceLayout:
    """A validated device layout (hashable, so designed filters can be cached per layout)."""

    name: str
    sample_rate: int
    drivers: tuple[Driver, ...]
    listener: Listener

    @property
    def n_drivers(self) -> int:
        return len(self.drivers)

    def positions_m(self) -> NDArray[np.float64]:
        """Driver positions, shape (n_drivers, 3), float64, metres."""
        return np.array([d.position_m for d in self.drivers], dtype=np.float64)

    def axes(self) -> NDArray[np.float64]:
        """Driver unit axes, shape (n_drivers, 3), float64."""
        return np.array([d.axis for d in self.drivers], dtype=np.float64)

    def to_dict(self) -> dict[str, Any]:
        """The layout as its JSON object."""
        return {
            "name": self.name,
            "sample_rate": self.sample_rate,
            "drivers": [
                {
                    "name": d.name,
                    "position_m": list(d.position_m),
                    "axis": list(d.axis),
                    "band_hz": list(d.band_hz),
                    "radius_m": d.radius_m,
                }
                for d in self.drivers
            ],
            "listener": {"distance_m": self.listener.distance_m, "height_m": self.listener.height_m},
        }


def _vector(value: Any, field: str, length: int) -> tuple[float, ...]:
    if not isinstance(value, list | tuple) or len(value) != length:
        raise ConfigError(f"layout field {field!r} must be a list of {length} numbers, got {value!r}")
    out = []
    for item in value:
        if isinstance(item, bool) or not isinstance(item, int | float) or not math.isfinite(item):
            raise ConfigError(f"layout field {field!r} must hold finite numbers, got {value!r}")
        out.append(float(item))
    return tuple(out)


def _number(value: Any, field: str, *, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConfigError(f"layout field {field!r} must be a finite number, got {value!r}")
    if positive and value <= 0:
        raise ConfigError(f"layout field {field!r} must be positive, got {value!r}")
    return float(value)


def _require(obj: dict[str, Any], key: str, where: str) -> Any:
    if key not in obj:
        raise ConfigError(f"layout is missing field {where}{key!r}")
    return obj[key]


def _parse_driver(raw: Any, index: int, sample_rate: int) -> Driver:
    where = f"drivers[{index}]."
    if not isinstance(raw, dict):
        raise ConfigError(f"layout field 'drivers[{index}]' must be an object, got {raw!r}")
    name = _require(raw, "name", where)
    if not isinstance(name, str) or not name:
        raise ConfigError(f"layout field '{where}name' must be a non-empty string, got {name!r}")
    position = _vector(_require(raw, "position_m", where), where + "position_m", 3)
    axis = _vector(_require(raw, "axis", where), where + "axis", 3)
    norm = math.sqrt(sum(a * a for a in axis))
    if norm < 1e-9:
        raise ConfigError(f"layout field '{where}axis' must not be the zero vector")
    band = _vector(_require(raw, "band_hz", where), where + "band_hz", 2)
    if not 0 <= band[0] < band[1]:
        raise ConfigError(f"layout field '{where}band_hz' must be [low, high] with 0 <= low < high, got {list(band)}")
    if band[0] >= sample_rate / 2:
        raise ConfigError(
            f"layout field '{where}band_hz' starts at {band[0]} Hz, above the Nyquist frequency {sample_rate / 2} Hz"
        )
    radius = _number(raw.get("radius_m", DEFAULT_DRIVER_RADIUS_M), where + "radius_m", positive=True)
    return Driver(
        name=name,
        position_m=(position[0], position[1], position[2]),
        axis=(axis[0] / norm, axis[1] / norm, axis[2] / norm),
        band_hz=(band[0], band[1]),
        radius_m=radius,
    )


def parse_layout(raw: Any) -> DeviceLayout:
    """Validate a layout's JSON object.

    Parameters
    ----------
    raw : dict
        The parsed JSON.

    Returns
    -------
    DeviceLayout

    Raises
    ------
    ConfigError
        With the name of the missing or invalid field.
    """
    if not isinstance(raw, dict):
        raise ConfigError(f"a layout must be a JSON object, got {type(raw).__name__}")
    name = _require(raw, "name", "")
    if not isinstance(name, str) or not name:
        raise ConfigError(f"layout field 'name' must be a non-empty string, got {name!r}")
    rate = _require(raw, "sample_rate", "")
    if isinstance(rate, bool) or not isinstance(rate, int) or rate < 8000:
        raise ConfigError(f"layout field 'sample_rate' must be an integer >= 8000 Hz, got {rate!r}")
    drivers_raw = _require(raw, "drivers", "")
    if not isinstance(drivers_raw, list) or not drivers_raw:
        raise ConfigError("layout field 'drivers' must be a non-empty list")
    if len(drivers_raw) > _MAX_DRIVERS:
        raise ConfigError(f"layout field 'drivers' has {len(drivers_raw)} entries, at most {_MAX_DRIVERS} allowed")
    drivers = tuple(_parse_driver(d, i, rate) for i, d in enumerate(drivers_raw))
    names = [d.name for d in drivers]
    if len(set(names)) != len(names):
        raise ConfigError(f"layout field 'drivers' has duplicate driver names: {names}")
    listener_raw = _require(raw, "listener", "")
    if not isinstance(listener_raw, dict):
        raise ConfigError(f"layout field 'listener' must be an object, got {listener_raw!r}")
    distance = _number(_require(listener_raw, "distance_m", "listener."), "listener.distance_m", positive=True)
    height = _number(listener_raw.get("height_m", 0.0), "listener.height_m")
    farthest = max(math.dist(d.position_m, (0.0, 0.0, 0.0)) for d in drivers)
    if distance <= farthest + 0.2:
        raise ConfigError(
            f"layout field 'listener.distance_m' = {distance} m puts the listener inside the device "
            f"(drivers reach {farthest:.2f} m from its centre)"
        )
    return DeviceLayout(name=name, sample_rate=rate, drivers=drivers, listener=Listener(distance, height))


def _preset_names() -> tuple[str, ...]:
    folder = resources.files(__package__).joinpath("layouts")
    return tuple(sorted(p.name.removesuffix(".json") for p in folder.iterdir() if p.name.endswith(".json")))


def _load_preset(name: str) -> DeviceLayout:
    text = resources.files(__package__).joinpath("layouts", f"{name}.json").read_text(encoding="utf-8")
    return parse_layout(json.loads(text))


#: The shipped presets by name (package data ``spatial/layouts/<name>.json``).
LAYOUTS: dict[str, DeviceLayout] = {name: _load_preset(name) for name in _preset_names()}


def load_layout(source: str | os.PathLike[str] | dict[str, Any] | DeviceLayout) -> DeviceLayout:
    """Load a device layout from a preset name, a JSON file or a parsed dict.

    Parameters
    ----------
    source : str, path, dict or DeviceLayout
        A name in :data:`LAYOUTS` (e.g. ``"studio-array"``), a path to a JSON file, or the object.

    Returns
    -------
    DeviceLayout

    Raises
    ------
    ConfigError
        Unknown preset, unreadable file, invalid JSON, or an invalid field (named in the message).
    """
    if isinstance(source, DeviceLayout):
        return source
    if isinstance(source, dict):
        return parse_layout(source)
    if isinstance(source, str) and source in LAYOUTS:
        return LAYOUTS[source]
    path = Path(source)
    if not path.is_file():
        raise ConfigError(f"layout {str(source)!r} is neither a preset ({', '.join(LAYOUTS)}) nor a readable file")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"cannot read layout file {str(path)!r}: {err}") from err
    except json.JSONDecodeError as err:
        raise ConfigError(f"layout file {str(path)!r} is not valid JSON: {err}") from err
    return parse_layout(raw)


__all__ = [
    "DEFAULT_DRIVER_RADIUS_M",
    "LAYOUTS",
    "DeviceLayout",
    "Driver",
    "Listener",
    "load_layout",
    "parse_layout",
]
