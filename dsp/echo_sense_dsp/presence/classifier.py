"""The motion classifier: a small 1-D CNN (ONNX) over a short context of Doppler features.

Input ``doppler_features`` (1, :data:`CONTEXT_FRAMES`, ``FEATURE_SIZE``) float32: the last
0.64 s of :func:`~echo_sense_dsp.presence.features.compute_frame_features` rows, oldest
first. Output ``motion_probabilities`` (1, 3) float32: P(none), P(minor), P(major) for the
newest frame. The sidecar ``presence.json`` carries the sha256 and ``layout_version``; both
are checked at load (:class:`~echo_sense_dsp.errors.ModelError` names the mismatch).

The network is trained in ``models/presence/recipe.py`` with the rare-event recipe
(seed model, hard-case mining over large simulated data, retraining); see its CARD.md.
Two models ship: ``presence`` and ``presence_music``, the same network fine-tuned on empty
rooms with loud music, which the detector uses while music plays (CARD.md, session 6).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .. import sidecar
from .features import FEATURE_LAYOUT, FEATURE_SIZE

CONTEXT_FRAMES = 32  # 0.64 s at 20 ms hops
MOTION_CLASSES = ("none", "minor", "major")
INPUT_NAME = "doppler_features"
OUTPUT_NAME = "motion_probabilities"
MODEL_NAME = "presence"
MUSIC_MODEL_NAME = "presence_music"  # used while music plays through the probe's speaker
MODEL_NAMES = (MODEL_NAME, MUSIC_MODEL_NAME)


def asset_paths(name: str = MODEL_NAME) -> tuple[Path, Path]:
    """A shipped model and its sidecar: ``echo_sense_dsp/assets/<name>.{onnx,json}``."""
    base = Path(str(resources.files("echo_sense_dsp") / "assets"))
    return base / f"{name}.onnx", base / f"{name}.json"


def load_sidecar(model_path: Path, sidecar_path: Path) -> dict[str, Any]:
    """Read and check the classifier's sidecar (:func:`echo_sense_dsp.sidecar.load_sidecar`).

    Raises
    ------
    ModelError
        Missing files, a sha256 mismatch, or a ``layout_version`` or input/output shape other
        than the runtime's.
    """
    expected = {
        "layout_version": FEATURE_LAYOUT.layout_version,
        "context_frames": CONTEXT_FRAMES,
        "feature_size": FEATURE_SIZE,
        "inputs": {INPUT_NAME: [1, CONTEXT_FRAMES, FEATURE_SIZE]},
        "outputs": {OUTPUT_NAME: [1, len(MOTION_CLASSES)]},
    }
    return sidecar.load_sidecar(model_path, expected, sidecar_path=sidecar_path)


class MotionClassifier:
    """Streaming wrapper: push one feature row per hop, get class probabilities.

    Parameters
    ----------
    model_path, sidecar_path : default to the shipped asset.
    """

    def __init__(self, model_path: Path | None = None, sidecar_path: Path | None = None) -> None:
        default_model, default_sidecar = asset_paths()
        model_path = model_path or default_model
        sidecar_path = sidecar_path or default_sidecar
        self.sidecar = load_sidecar(model_path, sidecar_path)
        self._session = sidecar.open_session(model_path)
        # doubled ring: row i is written at i and i + CONTEXT_FRAMES, so a contiguous window always exists
        self._ring = np.zeros((2 * CONTEXT_FRAMES, FEATURE_SIZE), dtype=np.float32)
        self._index = 0
        self.probabilities = np.array([1.0, 0.0, 0.0], dtype=np.float32)
        # fixed input and output buffers bound once: a run then skips session.run's per-call
        # argument handling and output allocation (~80 us of the ~100 us a hop's run took)
        self._window = np.zeros((1, CONTEXT_FRAMES, FEATURE_SIZE), dtype=np.float32)
        self._output = np.zeros((1, len(MOTION_CLASSES)), dtype=np.float32)
        self._binding = self._session.io_binding()
        self._binding.bind_cpu_input(INPUT_NAME, self._window)
        self._binding.bind_output(OUTPUT_NAME, "cpu", 0, np.float32, list(self._output.shape), self._output.ctypes.data)

    def reset(self) -> None:
        """Forget the context."""
        self._ring.fill(0.0)
        self._index = 0

    def push(self, features: NDArray[np.float32]) -> NDArray[np.float32]:
        """Add one frame and classify the context ending with it (:meth:`append`, then :meth:`classify`).

        Parameters
        ----------
        features : ndarray, shape (FEATURE_SIZE,), float32.

        Returns
        -------
        ndarray, shape (3,), float32: P(none), P(minor), P(major).
        """
        self.append(features)
        return self.classify()

    def append(self, features: NDArray[np.float32]) -> None:
        """Add one frame to the context without running the network."""
        i = self._index
        self._ring[i] = features
        self._ring[i + CONTEXT_FRAMES] = features
        self._index = (i + 1) % CONTEXT_FRAMES

    def classify(self) -> NDArray[np.float32]:
        """P(none), P(minor), P(major) for the context ending with the last appended frame."""
        self._window[0] = self._ring[self._index : self._index + CONTEXT_FRAMES]
        self._session.run_with_iobinding(self._binding)  # writes self._output
        self.probabilities = self._output[0].copy()
        return self.probabilities


__all__ = [
    "CONTEXT_FRAMES",
    "INPUT_NAME",
    "MODEL_NAME",
    "MODEL_NAMES",
    "MOTION_CLASSES",
    "MUSIC_MODEL_NAME",
    "OUTPUT_NAME",
    "MotionClassifier",
    "asset_paths",
    "load_sidecar",
]
