"""The shipped ONNX classifiers (the main one and the music one): sidecar checks, golden input/output,
streaming context, and which one the detector's scorer runs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from echo_sense_dsp.errors import ModelError
from echo_sense_dsp.presence import CONTEXT_FRAMES, FEATURE_LAYOUT, FEATURE_SIZE, MotionClassifier
from echo_sense_dsp.presence.classifier import INPUT_NAME, MODEL_NAMES, MUSIC_MODEL_NAME, OUTPUT_NAME, asset_paths
from echo_sense_dsp.presence.detector import LOUD_MUSIC_LEVEL_DB, NeuralScorer

DATA = Path(__file__).resolve().parents[1] / "data"
PROB_TOL = 1e-5


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_sidecar_matches_the_runtime_layout(name: str) -> None:
    model, sidecar = asset_paths(name)
    meta = json.loads(sidecar.read_text())
    assert meta["name"] == name
    assert meta["layout_version"] == FEATURE_LAYOUT.layout_version
    assert meta["inputs"][INPUT_NAME] == [1, CONTEXT_FRAMES, FEATURE_SIZE]
    assert meta["outputs"][OUTPUT_NAME] == [1, 3]
    assert model.stat().st_size < 1_000_000


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_onnxruntime_reproduces_the_exported_golden_outputs(name: str) -> None:
    import onnxruntime as ort

    golden = np.load(DATA / f"{name}-io.npz")
    session = ort.InferenceSession(str(asset_paths(name)[0]), providers=["CPUExecutionProvider"])
    x = golden["doppler_features"]
    got = np.concatenate([session.run([OUTPUT_NAME], {INPUT_NAME: x[i : i + 1]})[0] for i in range(len(x))])
    np.testing.assert_allclose(got, golden["motion_probabilities"], atol=PROB_TOL)
    np.testing.assert_allclose(got.sum(axis=1), 1.0, atol=PROB_TOL)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_streaming_push_equals_the_window_of_the_last_frames(name: str) -> None:
    golden = np.load(DATA / f"{name}-io.npz")
    window = golden["doppler_features"][3]
    clf = MotionClassifier(*asset_paths(name))
    for row in window:
        p = clf.push(row)
    np.testing.assert_allclose(p, golden["motion_probabilities"][3], atol=PROB_TOL)


def test_the_scorer_runs_the_music_model_while_music_plays_with_the_full_context() -> None:
    """Both models see every frame; loud music switches which one answers, mid-stream; quiet music does not."""
    golden = np.load(DATA / "presence-io.npz")
    frames = np.concatenate([golden["doppler_features"][0], golden["doppler_features"][7]])
    main, music = MotionClassifier(), MotionClassifier(*asset_paths(MUSIC_MODEL_NAME))
    scorer = NeuralScorer()

    class Front:  # what the scorer reads of the front end
        features = frames[0]
        music_playing = False
        music_level_db = LOUD_MUSIC_LEVEL_DB

    gaps = []
    for i, row in enumerate(frames):
        Front.features = row
        Front.music_playing = i >= CONTEXT_FRAMES + 10
        p_main, p_music = main.push(row), music.push(row)
        gaps.append(float(np.abs(p_main - p_music).max()))
        want = p_music if Front.music_playing else p_main
        assert scorer.score(Front) == pytest.approx((float(want[1]), float(want[2])), abs=PROB_TOL)  # type: ignore[arg-type]
    assert max(gaps) > 0.05  # the two models do differ on these frames, so the check above means something


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
