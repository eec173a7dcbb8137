"""Random scenarios for training data (placeholder, replaced below)."""

from __future__ import annotations

SCENARIO_KINDS: dict[str, str] = {}


def random_scenario() -> None:
    raise NotImplementedError


__all__ = ["SCENARIO_KINDS", "random_scenario"]
