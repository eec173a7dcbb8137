"""The ``echo-sense`` progress line: throttled, clamped, silent with ``--quiet``; on the real ``simulate``."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from echo_sense_dsp import cli
from echo_sense_dsp.progress import StderrProgress


def test_progress_line_is_rewritten_throttled_and_closed() -> None:
    stream = io.StringIO()
    progress = StderrProgress("render", stream=stream, interval_s=3600.0)
    for fraction in (0.0, 0.1, 0.5, 0.99):  # within one interval: only the first is written
        progress(fraction)
    progress(1.7)  # clamped; 100 % is always written
    progress(1.0)  # the same percent again: nothing
    progress.done("2.0 s rendered")
    assert stream.getvalue() == "\rrender:   0 %\rrender: 100 %\rrender: 2.0 s rendered\n"


def test_every_new_percent_is_written_without_throttle() -> None:
    stream = io.StringIO()
    progress = StderrProgress("x", stream=stream, interval_s=0.0)
    for fraction in (0.25, 0.251, 0.5):
        progress(fraction)
    progress.done()
    assert stream.getvalue() == "\rx:  25 %\rx:  50 %\rx: done\n"


def test_disabled_progress_writes_nothing() -> None:
    stream = io.StringIO()
    progress = StderrProgress("x", enabled=False, stream=stream)
    progress(0.5)
    progress.done("finished")
    assert stream.getvalue() == ""


def test_simulate_shows_progress_on_stderr_only(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["simulate", "walk_in_sit_read_leave", str(tmp_path / "run"), "--duration", "0.3"]) == 0
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "\rsimulate walk_in_sit_read_leave: 100 %" in captured.err
    assert captured.err.endswith("\n") and "0.3 s rendered in" in captured.err.splitlines()[-1]
    quiet = ["simulate", "walk_in_sit_read_leave", str(tmp_path / "quiet"), "--duration", "0.3", "--quiet"]
    assert cli.main(quiet) == 0
    assert capsys.readouterr().err == ""
