"""The context model: what the rewriter knows about the home when an utterance arrives.

The Home Assistant integration converts its state (exposed entities, areas, the satellite that
heard the command, the clock) into these plain dataclasses; the library never sees Home
Assistant objects. Every class round-trips through JSON-serialisable dicts.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from ..errors import ConfigError
from .text import normalize_utterance

RUNNING_STATES = frozenset({"on", "running", "heat", "heating", "cooking", "washing", "drying", "cleaning", "playing"})
"""Entity states that mean an appliance is running."""

ATTRIBUTE_KEYS = (
    "current_temperature",
    "temperature",
    "brightness",
    "unit_of_measurement",
    "hvac_action",
    "volume_level",
    "percentage",
)
"""The attribute subset the integration copies into :class:`EntityInfo` (others are ignored)."""


@lru_cache(maxsize=8192)
def _spoken_names(names: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(normalize_utterance(n) for n in names if n.strip()))


@dataclass(frozen=True, slots=True)
class EntityInfo:
    """One entity as Assist sees it.

    Attributes
    ----------
    entity_id : str
        ``domain.object_id``.
    name : str
        Friendly name the default agent matches.
    aliases : tuple of str
        Assist aliases of the entity.
    area_id : str or None
        Area of the entity (or of its device).
    state : str
        Current state string (``"on"``, ``"21.5"``, ``"running"``).
    device_class : str or None
        Device class (``"temperature"``, ``"running"``).
    device_id : str or None
        Device the entity belongs to; entities of one device (an oven's switch and its
        temperature sensor) share it.
    attributes : Mapping
        Subset :data:`ATTRIBUTE_KEYS` of the state attributes.
    last_changed_s : float or None
        When the state last changed, seconds on the same clock as :attr:`HomeContext.now_s`.
    exposed : bool
        Whether the entity is exposed to Assist (unexposed ones only feed repair suggestions).
    """

    entity_id: str
    name: str
    aliases: tuple[str, ...] = ()
    area_id: str | None = None
    state: str = ""
    device_class: str | None = None
    device_id: str | None = None
    attributes: Mapping[str, Any] = field(default_factory=dict)
    last_changed_s: float | None = None
    exposed: bool = True

    def __post_init__(self) -> None:
        if "." not in self.entity_id:
            raise ConfigError(f"entity_id {self.entity_id!r} is not of the form domain.object_id")

    @property
    def domain(self) -> str:
        """The entity's domain (``light``, ``climate``, ...)."""
        return self.entity_id.split(".", 1)[0]

    @property
    def spoken_names(self) -> tuple[str, ...]:
        """Normalised name and aliases, the forms an utterance can contain."""
        return _spoken_names((self.name, *self.aliases))

    @property
    def is_running(self) -> bool:
        """Whether the state says the appliance is running."""
        return self.state.casefold() in RUNNING_STATES

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form."""
        return {
            "entity_id": self.entity_id,
            "name": self.name,
            "aliases": list(self.aliases),
            "area_id": self.area_id,
            "state": self.state,
            "device_class": self.device_class,
            "device_id": self.device_id,
            "attributes": {k: self.attributes[k] for k in ATTRIBUTE_KEYS if k in self.attributes},
            "last_changed_s": self.last_changed_s,
            "exposed": self.exposed,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "EntityInfo":
        """Inverse of :meth:`to_dict`; unknown keys are ignored, attributes outside the subset dropped."""
        attributes = data.get("attributes") or {}
        return cls(
            entity_id=str(data["entity_id"]),
            name=str(data.get("name") or data["entity_id"]),
            aliases=tuple(str(a) for a in data.get("aliases") or ()),
            area_id=data.get("area_id"),
            state=str(data.get("state", "")),
            device_class=data.get("device_class"),
            device_id=data.get("device_id"),
            attributes={k: attributes[k] for k in ATTRIBUTE_KEYS if k in attributes},
            last_changed_s=data.get("last_changed_s"),
            exposed=bool(data.get("exposed", True)),
        )


@dataclass(frozen=True, slots=True)
class AreaInfo:
    """One area (room) with its Assist aliases."""

    area_id: str
    name: str
    aliases: tuple[str, ...] = ()

    @property
    def spoken_names(self) -> tuple[str, ...]:
        """Normalised name and aliases."""
        return _spoken_names((self.name, *self.aliases))

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form."""
        return {"area_id": self.area_id, "name": self.name, "aliases": list(self.aliases)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "AreaInfo":
        """Inverse of :meth:`to_dict`."""
        return cls(
            area_id=str(data["area_id"]),
            name=str(data.get("name") or data["area_id"]),
            aliases=tuple(str(a) for a in data.get("aliases") or ()),
        )


@dataclass(frozen=True, slots=True)
class HomeContext:
    """Everything the rewriter may use to resolve one utterance.

    Attributes
    ----------
    entities : tuple of EntityInfo
        Entities of the home (exposed ones are candidates; unexposed ones feed repairs).
    areas : tuple of AreaInfo
        Areas of the home.
    device_area_id : str or None
        Area of the satellite or hub that heard the command.
    hour_of_day : float
        Local time of day in hours, 0 to 24 (a ranking signal).
    now_s : float
        Current time in seconds on the clock that ``last_changed_s`` uses.
    language : str
        Language of the utterance; the resolvers speak English (``"en"``) and leave others alone.
    """

    entities: tuple[EntityInfo, ...] = ()
    areas: tuple[AreaInfo, ...] = ()
    device_area_id: str | None = None
    hour_of_day: float = 12.0
    now_s: float = 0.0
    language: str = "en"

    def __post_init__(self) -> None:
        if not 0.0 <= self.hour_of_day <= 24.0:
            raise ConfigError(f"hour_of_day must be within 0..24, got {self.hour_of_day!r}")

    def entity(self, entity_id: str) -> EntityInfo | None:
        """The entity with this id, or None."""
        for ent in self.entities:
            if ent.entity_id == entity_id:
                return ent
        return None

    def area(self, area_id: str | None) -> AreaInfo | None:
        """The area with this id, or None."""
        for area in self.areas:
            if area.area_id == area_id:
                return area
        return None

    @property
    def exposed_entities(self) -> tuple[EntityInfo, ...]:
        """Entities the default agent can act on."""
        return tuple(e for e in self.entities if e.exposed)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form."""
        return {
            "entities": [e.to_dict() for e in self.entities],
            "areas": [a.to_dict() for a in self.areas],
            "device_area_id": self.device_area_id,
            "hour_of_day": self.hour_of_day,
            "now_s": self.now_s,
            "language": self.language,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "HomeContext":
        """Inverse of :meth:`to_dict`; raises :class:`ConfigError` on malformed input."""
        try:
            return cls(
                entities=tuple(EntityInfo.from_dict(e) for e in data.get("entities") or ()),
                areas=tuple(AreaInfo.from_dict(a) for a in data.get("areas") or ()),
                device_area_id=data.get("device_area_id"),
                hour_of_day=float(data.get("hour_of_day", 12.0)),
                now_s=float(data.get("now_s", 0.0)),
                language=str(data.get("language", "en")),
            )
        except (KeyError, TypeError, ValueError) as err:
            raise ConfigError(f"malformed home context: {err!r}") from err


__all__ = ["ATTRIBUTE_KEYS", "RUNNING_STATES", "AreaInfo", "EntityInfo", "HomeContext"]
