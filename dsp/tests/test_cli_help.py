"""The echo-sense command runs as an installed program."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from echo_sense_dsp import cli


def test_help_exits_zero_in_a_subprocess() -> None:
    exe = shutil.which("echo-sense")
    command = [exe] if exe else [sys.executable, "-m", "echo_sense_dsp.cli"]
    done = subprocess.run([*command, "--help"], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert "usage: echo-sense" in done.stdout


def test_help_lists_exactly_the_registered_commands() -> None:
    parser = cli.build_parser()
    subparsers = next(a for a in parser._actions if a.dest == "command")
    listed = set(subparsers.choices)  # type: ignore[arg-type]
    help_text = parser.format_help()
    for name in listed:
        assert name in help_text


def test_no_command_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main([]) == 0
    assert "usage: echo-sense" in capsys.readouterr().out
