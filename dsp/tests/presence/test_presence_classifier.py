"""The shipped ONNX classifier: sidecar checks, golden input/output, streaming context."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from echo_sense_dsp.errors import ModelError
from echo_sense_dsp.presence import CONTEXT_FRAMES, FEATURE_LAYOUT, FEATURE_SIZE, MotionClassifier
from echo_sense_dsp.presence.classifier import INPUT_NAME, OUTPUT_NAME, asset_paths

GOLDEN = Path(__file__).resolve().parents[1] / "data" / "presence-io.npz"
PROB_TOL = 1e-5


def test_sidecar_matches_the_runtime_layout() -> None:
    model, sidecar = asset_paths()
    meta = json.loads(sidecar.read_text())
    assert meta["layout_version"] == FEATURE_LAYOUT.layout_version
    assert meta["inputs"][INPUT_NAME] == [1, CONTEXT_FRAMES, FEATURE_SIZE]
    assert meta["outputs"][OUTPUT_NAME] == [1, 3]
    assert model.stat().st_size < 1_000_000


def test_onnxruntime_reproduces_the_exported_golden_outputs() -> None:
    import onnxruntime as ort

    golden = np.load(GOLDEN)
    session = ort.InferenceSession(str(asset_paths()[0]), providers=["CPUExecutionProvider"])
    x = golden["doppler_features"]
    got = np.concatenate([session.run([OUTPUT_NAME], {INPUT_NAME: x[i : i + 1]})[0] for i in range(len(x))])
    np.testing.assert_allclose(got, golden["motion_probabilities"], atol=PROB_TOL)
    np.testing.assert_allclose(got.sum(axis=1), 1.0, atol=PROB_TOL)


def test_streaming_push_equals_the_window_of_the_last_frames() -> None:
    golden = np.load(GOLDEN)
    window = golden["doppler_features"][3]
    clf = MotionClassifier()
    for row in window:
        p = clf.push(row)
    np.testing.assert_allclose(p, golden["motion_probabilities"][3], atol=PROB_TOL)


def test_a_tampered_model_is_refused_naming_both_hashes(tmp_path: Path) -> None:
    model, sidecar = asset_paths()
    shutil.copy(model, tmp_path / "m.onnx")
    shutil.copy(sidecar, tmp_path / "m.json")
    with (tmp_path / "m.onnx").open("ab") as fh:
        fh.write(b"\0")
    with pytest.raises(ModelError, match=r"sha256 is '[0-9a-f]{64}', runtime needs '[0-9a-f]{64}'"):
        MotionClassifier(tmp_path / "m.onnx", tmp_path / "m.json")


def test_a_model_for_another_feature_layout_is_refused(tmp_path: Path) -> None:
    model, sidecar = asset_paths()
    shutil.copy(model, tmp_path / "m.onnx")
    meta = json.loads(sidecar.read_text())
    meta["layout_version"] = FEATURE_LAYOUT.layout_version + 1
    (tmp_path / "m.json").write_text(json.dumps(meta))
    wanted = f"layout_version is {FEATURE_LAYOUT.layout_version + 1}, runtime needs {FEATURE_LAYOUT.layout_version}"
    with pytest.raises(ModelError, match=wanted):
        MotionClassifier(tmp_path / "m.onnx", tmp_path / "m.json")
    with pytest.raises(ModelError, match="not found"):
        MotionClassifier(tmp_path / "nope.onnx", tmp_path / "m.json")
