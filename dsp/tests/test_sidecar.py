"""The sidecar format shared by every shipped model: written at export, checked at load."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from echo_sense_dsp.errors import ModelError
from echo_sense_dsp.sidecar import load_sidecar, open_session, write_sidecar


def _model(tmp_path: Path) -> Path:
    model = tmp_path / "m.onnx"
    model.write_bytes(b"graph bytes")
    return model


def test_written_sidecar_records_the_hash_after_name_and_version_and_loads_back(tmp_path: Path) -> None:
    model = _model(tmp_path)
    fields = {"name": "m", "version": "1", "layout_version": 3, "inputs": {"x": [1, 4]}}
    written = write_sidecar(model, fields)
    on_disk = json.loads((tmp_path / "m.json").read_text())
    assert on_disk == written
    assert list(on_disk)[:3] == ["name", "version", "sha256"]
    assert on_disk["sha256"] == hashlib.sha256(b"graph bytes").hexdigest()
    assert load_sidecar(model, {"layout_version": 3, "inputs": {"x": [1, 4]}}) == written


def test_each_mismatch_names_the_key_and_both_values(tmp_path: Path) -> None:
    model = _model(tmp_path)
    write_sidecar(model, {"layout_version": 3, "inputs": {"x": [1, 4]}})
    with pytest.raises(ModelError, match=r"m\.json: layout_version is 3, runtime needs 4"):
        load_sidecar(model, {"layout_version": 4})
    with pytest.raises(ModelError, match=r"inputs is \{'x': \[1, 4\]\}, runtime needs \{'x': \[1, 5\]\}"):
        load_sidecar(model, {"inputs": {"x": [1, 5]}})
    model.write_bytes(b"other bytes")
    with pytest.raises(ModelError, match=r"sha256 is '[0-9a-f]{64}', runtime needs '[0-9a-f]{64}'"):
        load_sidecar(model, {})


def test_companion_files_are_hashed_and_missing_files_are_not_found(tmp_path: Path) -> None:
    model = _model(tmp_path)
    vocab = tmp_path / "m.vocab.json"
    vocab.write_text('["a"]')
    write_sidecar(model, {"vocab_sha256": hashlib.sha256(b'["a"]').hexdigest()})
    assert load_sidecar(model, {}, hashed={"vocab_sha256": vocab})["vocab_sha256"]
    vocab.write_text('["b"]')
    with pytest.raises(ModelError, match="vocab_sha256 is"):
        load_sidecar(model, {}, hashed={"vocab_sha256": vocab})
    vocab.unlink()
    with pytest.raises(ModelError, match="not found"):
        load_sidecar(model, {}, hashed={"vocab_sha256": vocab})
    with pytest.raises(ModelError, match="not found"):
        load_sidecar(tmp_path / "absent.onnx", {})


def test_an_unreadable_sidecar_or_graph_is_a_model_error(tmp_path: Path) -> None:
    model = _model(tmp_path)
    (tmp_path / "m.json").write_text("[1, 2]")
    with pytest.raises(ModelError, match="unreadable sidecar"):
        load_sidecar(model, {})
    (tmp_path / "m.json").write_text("{not json")
    with pytest.raises(ModelError, match="unreadable sidecar"):
        load_sidecar(model, {})
    with pytest.raises(ModelError, match="onnxruntime cannot load it"):
        open_session(model)
