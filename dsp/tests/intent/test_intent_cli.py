"""``echo-sense rewrite``: decisions as JSON lines, clear errors for bad input."""

import json
from pathlib import Path

import pytest
from conftest import make_context

from echo_sense_dsp.cli import main


def test_rewrite_command_prints_one_decision_per_utterance(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ctx = tmp_path / "home.json"
    ctx.write_text(json.dumps(make_context("kitchen").to_dict()), encoding="utf-8")
    assert main(["rewrite", str(ctx), "kill the lights", "what time is it", "and the bedroom too"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [d["rule"] for d in lines] == ["on_off", "unchanged", "follow_up"]
    assert lines[0]["expected"] == [{"intent": "HassTurnOff", "entity_ids": ["light.kitchen"]}]
    assert lines[2]["forward"] == ["turn off the lights in the bedroom"]


def test_rewrite_command_rejects_a_malformed_context(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ctx = tmp_path / "home.json"
    ctx.write_text(json.dumps({"entities": [{"entity_id": "no_dot", "name": "x"}]}), encoding="utf-8")
    assert main(["rewrite", str(ctx), "turn it off"]) == 2
    assert "no_dot" in capsys.readouterr().err
