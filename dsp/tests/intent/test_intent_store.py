"""Persistence: round trip, restart, corrupt files, schema versions."""

import json
import logging
from pathlib import Path

import pytest
from conftest import NOW_S, make_context

from echo_sense_dsp.errors import StoreError
from echo_sense_dsp.intent import FileRewriteStore, HomeContext, Outcome, Rewriter, RewriteStore


def _learn(rw: Rewriter, ctx: HomeContext) -> None:
    for k in range(2):
        bad = rw.rewrite("cinema mode", ctx, user_id="anna", time_s=1000.0 * k)
        rw.record_outcome(bad, Outcome.NO_MATCH)
        good = rw.rewrite("turn on the tv", ctx, user_id="anna", time_s=1000.0 * k + 5)
        rw.record_outcome(good, Outcome.SUCCESS)
    rw.teach("movie time", ["turn off the lights in the living room", "turn on the tv"])


def test_store_survives_a_restart(tmp_path: Path) -> None:
    ctx = make_context("living_room")
    files = FileRewriteStore(tmp_path / "rewrites.json")
    rw = Rewriter(files.load())
    _learn(rw, ctx)
    files.save(rw.store)
    restarted = Rewriter(FileRewriteStore(tmp_path / "rewrites.json").load())
    assert restarted.list_rewrites() == rw.list_rewrites()
    assert list(restarted.store.log) == list(rw.store.log)
    assert restarted.rewrite("cinema mode", ctx, user_id="anna", time_s=NOW_S).rewritten == "turn on the tv"
    assert restarted.rewrite("movie time", ctx, time_s=NOW_S).texts == (
        "turn off the lights in the living room",
        "turn on the tv",
    )


def test_to_dict_is_plain_json_with_a_schema_version() -> None:
    rw = Rewriter()
    _learn(rw, make_context("living_room"))
    data = json.loads(json.dumps(rw.store.to_dict()))
    assert data["version"] == 1
    assert RewriteStore.from_dict(data).to_dict() == data


@pytest.mark.parametrize(
    "content", ["{not json", '{"version": 99, "log": []}', "[1, 2, 3]", '{"version": 1, "log": [{"utterance": "x"}]}']
)
def test_corrupt_file_recovers_empty_keeps_a_backup_and_logs(
    tmp_path: Path, content: str, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "rewrites.json"
    path.write_text(content, encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="echo_sense_dsp.intent.store"):
        store = FileRewriteStore(path).load()
    assert len(store.log) == 0 and not store.learned and not store.taught
    assert (tmp_path / "rewrites.json.corrupt").read_text(encoding="utf-8") == content
    assert not path.exists()
    assert any("corrupt" in rec.message for rec in caplog.records)
    FileRewriteStore(path).save(store)  # and it can be written again
    assert FileRewriteStore(path).load().to_dict() == store.to_dict()


def test_undecodable_bytes_count_as_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "rewrites.json"
    path.write_bytes(b"\xff\xfe\x00garbage")
    assert len(FileRewriteStore(path).load().log) == 0
    assert (tmp_path / "rewrites.json.corrupt").exists()


def test_from_dict_names_the_problem() -> None:
    with pytest.raises(StoreError, match="schema version 2"):
        RewriteStore.from_dict({"version": 2})
    with pytest.raises(StoreError, match="JSON object"):
        RewriteStore.from_dict("text")
    with pytest.raises(StoreError, match="no commands"):
        RewriteStore.from_dict({"version": 1, "taught": [{"trigger": "x", "commands": []}]})


def test_missing_file_is_an_empty_store(tmp_path: Path) -> None:
    assert len(FileRewriteStore(tmp_path / "none.json").load().log) == 0
