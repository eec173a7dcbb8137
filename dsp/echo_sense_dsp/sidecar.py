"""A shipped model's JSON sidecar: written at export, checked at load, and the model's session.

Every ONNX asset ``name.onnx`` has a sidecar (``name.json`` by default) that records the sha256
of the graph (and of any companion file, e.g. ``vocab_sha256``) and the values the runtime was
built against: feature ``layout_version``, rates, input and output names and shapes. A model
trained for another layout or shape is refused at load with a :class:`~echo_sense_dsp.errors.ModelError`
naming the key, the sidecar's value and the runtime's value.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .errors import ModelError


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def sidecar_path_for(model_path: Path) -> Path:
    """The default sidecar beside a model: ``name.onnx`` -> ``name.json``."""
    return model_path.with_suffix(".json")


def write_sidecar(model_path: Path, fields: Mapping[str, object], sidecar_path: Path | None = None) -> dict[str, Any]:
    """Write ``fields`` with the model's ``sha256`` as the sidecar; returns what was written.

    The sha256 is inserted after ``name`` and ``version`` when those lead ``fields``.
    """
    leading = {k: fields[k] for k in ("name", "version") if k in fields}
    sidecar = {**leading, "sha256": sha256_of(model_path), **fields}
    path = sidecar_path or sidecar_path_for(model_path)
    path.write_text(json.dumps(sidecar, indent=2) + "\n", encoding="utf-8")
    return sidecar


def load_sidecar(
    model_path: Path,
    expected: Mapping[str, object],
    *,
    sidecar_path: Path | None = None,
    hashed: Mapping[str, Path] | None = None,
) -> dict[str, Any]:
    """Read a model's sidecar and check it against the model's bytes and the runtime.

    Parameters
    ----------
    model_path : the ``.onnx`` file.
    expected : sidecar key -> the value this runtime needs (layout_version, shapes, rates...).
    sidecar_path : defaults to :func:`sidecar_path_for`.
    hashed : further sidecar key -> file whose sha256 it must hold (``sha256`` -> the model is always checked).

    Raises
    ------
    ModelError
        ``... not found`` for a missing file, ``unreadable sidecar`` for bad JSON, and
        ``<sidecar>: <key> is <sidecar's value>, runtime needs <value>`` for any mismatch
        (for a hash, the value needed is the file's actual sha256).
    """
    sidecar_path = sidecar_path or sidecar_path_for(model_path)
    files = {"sha256": model_path, **(hashed or {})}
    for path in (model_path, sidecar_path, *files.values()):
        if not path.is_file():
            raise ModelError(f"model file not found: {path}")
    try:
        sidecar = json.loads(sidecar_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise ModelError(f"unreadable sidecar {sidecar_path}: {err}") from err
    if not isinstance(sidecar, dict):
        raise ModelError(f"unreadable sidecar {sidecar_path}: not a JSON object")
    needed = {key: sha256_of(path) for key, path in files.items()} | dict(expected)
    for key, value in needed.items():
        if sidecar.get(key) != value:
            raise ModelError(f"{sidecar_path.name}: {key} is {sidecar.get(key)!r}, runtime needs {value!r}")
    return sidecar


def open_session(model_path: Path) -> Any:
    """An onnxruntime session on one CPU thread (the runtime's real-time budget assumes one core).

    Raises
    ------
    ModelError
        onnxruntime cannot load the graph.
    """
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    try:
        return ort.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])
    except Exception as err:  # onnxruntime raises its own exception types
        raise ModelError(f"{model_path}: onnxruntime cannot load it ({err})") from err


__all__ = ["load_sidecar", "open_session", "sha256_of", "sidecar_path_for", "write_sidecar"]
