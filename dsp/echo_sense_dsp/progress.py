"""One progress line on stderr for the ``echo-sense`` commands (no dependencies).

:class:`StderrProgress` is the ``progress(fraction)`` callback that long work in the library
accepts (e.g. :func:`~echo_sense_dsp.room.render_scenario`): it rewrites one line,
``LABEL:  42 %``, at most every ``interval_s`` and on reaching 100 %, and :meth:`StderrProgress.done`
ends the line with a closing message. Results go to stdout or files, so stderr stays free for this.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

__all__ = ["StderrProgress"]


class StderrProgress:
    """``progress(fraction)`` callback writing ``LABEL:  42 %`` on one stderr line.

    Parameters
    ----------
    label : what is in progress (``"simulate demo_day"``).
    enabled : False writes nothing (``--quiet``).
    stream : default ``sys.stderr`` (looked up at each write, so redirections are followed).
    interval_s : least time between two updates of the line.
    """

    def __init__(
        self, label: str, *, enabled: bool = True, stream: TextIO | None = None, interval_s: float = 0.25
    ) -> None:
        self.label = label
        self.enabled = enabled
        self._stream = stream
        self.interval_s = interval_s
        self._last_write = -float("inf")
        self._last_percent = -1
        self._open = False

    @property
    def stream(self) -> TextIO:
        return self._stream if self._stream is not None else sys.stderr

    def __call__(self, fraction: float) -> None:
        """Report ``fraction`` (0..1) done."""
        if not self.enabled:
            return
        percent = int(100.0 * min(max(fraction, 0.0), 1.0))
        now = time.monotonic()
        if percent == self._last_percent or (percent < 100 and now - self._last_write < self.interval_s):
            return
        self._last_percent, self._last_write = percent, now
        print(f"\r{self.label}: {percent:3d} %", end="", file=self.stream, flush=True)
        self._open = True

    def done(self, message: str | None = None) -> None:
        """End the line: ``LABEL: MESSAGE`` (or ``LABEL: done``)."""
        if not self.enabled:
            return
        prefix = "\r" if self._open else ""
        print(f"{prefix}{self.label}: {message or 'done'}", file=self.stream, flush=True)
        self._open = False
