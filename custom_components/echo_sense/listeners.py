"""Callbacks that want to hear when a hub object's state changed (entities writing their state)."""

from __future__ import annotations

from homeassistant.core import CALLBACK_TYPE, callback


class Listeners:
    """A list of event-loop callbacks, each removable by the function ``async_add`` returns."""

    def __init__(self) -> None:
        self._callbacks: list[CALLBACK_TYPE] = []

    @callback
    def async_add(self, update: CALLBACK_TYPE) -> CALLBACK_TYPE:
        self._callbacks.append(update)

        @callback
        def remove() -> None:
            self._callbacks.remove(update)

        return remove

    @callback
    def async_notify(self) -> None:
        for update in list(self._callbacks):
            update()
