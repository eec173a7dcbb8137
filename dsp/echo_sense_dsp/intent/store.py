"""Persistence of the interaction log and of learned and taught rewrites.

:class:`RewriteStore` is the in-memory state; it serialises to a JSON-compatible dict with a
schema version (``to_dict`` / ``from_dict``), which the Home Assistant integration keeps in its
``Store``. :class:`FileRewriteStore` keeps the same dict in a JSON file for the CLI and the
benchmark: it writes atomically and, when the file is corrupt, keeps a ``.corrupt`` backup,
logs a warning and starts empty.
"""

import json
import logging
import os
import tempfile
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import StoreError
from .log import InteractionRecord

_LOGGER = logging.getLogger(__name__)

SCHEMA_VERSION = 1
"""Version of the dict layout written by :meth:`RewriteStore.to_dict`."""

MAX_LOG_RECORDS = 2000
"""Default bound of the interaction log (oldest records drop first)."""

MAX_TAUGHT_REWRITES = 500
"""Most taught rewrites kept; teaching more raises :class:`StoreError`."""

HOUSEHOLD = "household"
"""Scope of rewrites that apply to everyone."""


@dataclass(frozen=True, slots=True)
class TaughtRewrite:
    """A rewrite the user taught ("when I say movie time, ...").

    Attributes
    ----------
    trigger : str
        Normalised phrase that triggers it.
    commands : tuple of str
        Normalised commands forwarded in order.
    scope : str
        :data:`HOUSEHOLD` or a speaker key (``"user:<id>"``).
    created_s : float
    """

    trigger: str
    commands: tuple[str, ...]
    scope: str = HOUSEHOLD
    created_s: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form."""
        return {
            "trigger": self.trigger,
            "commands": list(self.commands),
            "scope": self.scope,
            "created_s": self.created_s,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "TaughtRewrite":
        """Inverse of :meth:`to_dict`."""
        commands = data["commands"]
        if not isinstance(commands, list) or not commands:
            raise StoreError(f"taught rewrite {data.get('trigger')!r} has no commands")
        return cls(
            str(data["trigger"]),
            tuple(str(c) for c in commands),
            str(data.get("scope", HOUSEHOLD)),
            float(data.get("created_s", 0.0)),
        )


@dataclass(frozen=True, slots=True)
class LearnedRewrite:
    """A rewrite precomputed from rephrase episodes (absorbing Markov chain).

    Attributes
    ----------
    source : str
        Normalised failed utterance.
    target : str
        Normalised successful utterance it most likely ends in.
    probability : float
        Absorption probability of ``target`` from ``source``.
    support : float
        Weighted number of episodes through ``source``.
    scope : str
        :data:`HOUSEHOLD` or a speaker key.
    """

    source: str
    target: str
    probability: float
    support: float
    scope: str = HOUSEHOLD

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form."""
        return {
            "source": self.source,
            "target": self.target,
            "probability": self.probability,
            "support": self.support,
            "scope": self.scope,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "LearnedRewrite":
        """Inverse of :meth:`to_dict`."""
        return cls(
            str(data["source"]),
            str(data["target"]),
            float(data["probability"]),
            float(data["support"]),
            str(data.get("scope", HOUSEHOLD)),
        )


class RewriteStore:
    """Interaction log, learned table and taught rewrites of one home.

    Parameters
    ----------
    max_log_records : int
        Bound of the interaction log.
    """

    def __init__(self, *, max_log_records: int = MAX_LOG_RECORDS) -> None:
        if max_log_records < 1:
            raise StoreError(f"max_log_records must be >= 1, got {max_log_records}")
        self.log: deque[InteractionRecord] = deque(maxlen=max_log_records)
        self.learned: dict[tuple[str, str], LearnedRewrite] = {}
        self.taught: dict[tuple[str, str], TaughtRewrite] = {}
        self.forgotten: set[str] = set()

    def add_record(self, record: InteractionRecord) -> None:
        """Append one turn (the oldest drops out when the log is full)."""
        self.log.append(record)

    def replace_learned(self, rewrites: Iterable[LearnedRewrite]) -> None:
        """Replace the learned table (forgotten sources stay out)."""
        self.learned = {(r.scope, r.source): r for r in rewrites if r.source not in self.forgotten}

    def add_taught(self, rewrite: TaughtRewrite) -> None:
        """Add or replace a taught rewrite."""
        key = (rewrite.scope, rewrite.trigger)
        if key not in self.taught and len(self.taught) >= MAX_TAUGHT_REWRITES:
            raise StoreError(f"already {MAX_TAUGHT_REWRITES} taught rewrites; forget some first")
        self.taught[key] = rewrite
        self.forgotten.discard(rewrite.trigger)

    def forget(self, source: str) -> int:
        """Forget every learned and taught rewrite of a (normalised) utterance.

        The log records of that utterance go too, and the utterance stays out of the learned
        table until it is taught again.

        Returns
        -------
        int
            Number of rewrites removed.
        """
        removed = [k for k in self.learned if k[1] == source] + [k for k in self.taught if k[1] == source]
        for key in removed:
            self.learned.pop(key, None)
            self.taught.pop(key, None)
        kept = [r for r in self.log if r.utterance != source]
        self.log = deque(kept, maxlen=self.log.maxlen)
        self.forgotten.add(source)
        return len(removed)

    def purge(self) -> None:
        """Drop everything: log, learned and taught rewrites, forgotten list."""
        self.log.clear()
        self.learned.clear()
        self.taught.clear()
        self.forgotten.clear()

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form with ``"version": SCHEMA_VERSION``."""
        return {
            "version": SCHEMA_VERSION,
            "max_log_records": self.log.maxlen,
            "log": [r.to_dict() for r in self.log],
            "learned": [r.to_dict() for r in self.learned.values()],
            "taught": [r.to_dict() for r in self.taught.values()],
            "forgotten": sorted(self.forgotten),
        }

    @classmethod
    def from_dict(cls, data: Any) -> "RewriteStore":
        """Inverse of :meth:`to_dict`.

        Raises
        ------
        StoreError
            When ``data`` is not a dict of this layout or has another schema version.
        """
        if not isinstance(data, Mapping):
            raise StoreError(f"rewrite store must be a JSON object, got {type(data).__name__}")
        if data.get("version") != SCHEMA_VERSION:
            raise StoreError(f"rewrite store schema version {data.get('version')!r} is not {SCHEMA_VERSION}")
        try:
            store = cls(max_log_records=int(data.get("max_log_records") or MAX_LOG_RECORDS))
            for rec in data.get("log") or ():
                store.log.append(InteractionRecord.from_dict(rec))
            store.forgotten = {str(s) for s in data.get("forgotten") or ()}
            store.replace_learned(LearnedRewrite.from_dict(r) for r in data.get("learned") or ())
            for taught in data.get("taught") or ():
                store.add_taught(TaughtRewrite.from_dict(taught))
        except StoreError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            raise StoreError(f"malformed rewrite store: {err!r}") from err
        return store


class FileRewriteStore:
    """A :class:`RewriteStore` kept in one JSON file (CLI and benchmark; HA uses its own Store).

    Parameters
    ----------
    path : str or Path
        The JSON file.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def load(self) -> RewriteStore:
        """Read the store; a missing file gives an empty store.

        A corrupt file (not JSON, wrong layout, wrong version) is renamed to
        ``<name>.corrupt`` (an existing backup is replaced), a warning is logged and an empty
        store is returned, so the home keeps working and nothing is silently overwritten.
        """
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return RewriteStore()
        except (OSError, UnicodeDecodeError) as err:
            return self._recover(f"unreadable: {err}")
        try:
            return RewriteStore.from_dict(json.loads(text))
        except (json.JSONDecodeError, StoreError) as err:
            return self._recover(str(err))

    def save(self, store: RewriteStore) -> None:
        """Write the store atomically (temporary file in the same folder, then rename)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=self.path.name, suffix=".tmp", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(store.to_dict(), fh, ensure_ascii=False)
            Path(tmp).replace(self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    @property
    def backup_path(self) -> Path:
        """Where a corrupt file is kept."""
        return self.path.with_name(self.path.name + ".corrupt")

    def _recover(self, why: str) -> RewriteStore:
        self.path.replace(self.backup_path)
        _LOGGER.warning(
            "Rewrite store %s is corrupt (%s); kept it as %s and started empty", self.path, why, self.backup_path
        )
        return RewriteStore()


__all__ = [
    "HOUSEHOLD",
    "MAX_LOG_RECORDS",
    "MAX_TAUGHT_REWRITES",
    "SCHEMA_VERSION",
    "FileRewriteStore",
    "LearnedRewrite",
    "RewriteStore",
    "TaughtRewrite",
]
