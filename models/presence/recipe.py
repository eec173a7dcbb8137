"""Train the presence classifier: data from the room simulator, seed model, hard-case mining, retrain.

Steps (each resumable; outputs cached under ``~/.cache/echo_sense/presence``)::

    python models/presence/recipe.py generate --pool seed      # render random scenarios -> features
    python models/presence/recipe.py train --stage seed        # seed model
    python models/presence/recipe.py generate --pool mining    # more scenarios for mining
    python models/presence/mine_hard_cases.py                  # seed model finds rare hard frames
    python models/presence/recipe.py train --stage final       # retrain with the hard cases
    python models/presence/export.py                           # ONNX + sidecar + golden I/O

Features come from ``echo_sense_dsp.presence.features.extract_features``, the runtime's own
front end (one feature function for runtime and training). Targets per 20 ms hop:
0 none, 1 minor, 2 major, -1 no target (front end not settled; masked in the loss).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import tomllib
from pathlib import Path
from typing import Any

import numpy as np
from scipy.signal import butter, sosfilt
from tqdm import tqdm

from echo_sense_dsp.presence.classifier import (
    CONTEXT_FRAMES,
    MODEL_NAME,
    MOTION_CLASSES,
    MUSIC_MODEL_NAME,
    asset_paths,
)
from echo_sense_dsp.presence.demodulation import HOP_S
from echo_sense_dsp.presence.features import FEATURE_LAYOUT, FEATURE_SIZE, extract_features

HERE = Path(__file__).resolve().parent
CONFIG = tomllib.loads((HERE / "config.toml").read_text())
NO_TARGET = -1
SAMPLE_RATE = 96000
ROOM_DEFAULT = {"size_m": [5.0, 4.0, 2.7]}


def cache_dir() -> Path:
    p = Path(CONFIG["data"]["cache_dir"]).expanduser()
    p.mkdir(parents=True, exist_ok=True)
    return p


# ----------------------------------------------------------------------------- scenarios


def _seat(rng: np.random.Generator, size: list[float]) -> list[float]:
    return [float(rng.uniform(0.8, size[0] - 0.4)), float(rng.uniform(0.4, size[1] - 0.4))]


def _door(rng: np.random.Generator, size: list[float]) -> tuple[list[float], list[float]]:
    """(outside, just inside) positions of a door in a random wall."""
    wall = int(rng.integers(0, 3))
    if wall == 0:  # far wall x = Lx
        y = float(rng.uniform(0.5, size[1] - 0.5))
        return [size[0] + 0.6, y], [size[0] - 0.4, y]
    if wall == 1:
        x = float(rng.uniform(1.0, size[0] - 0.5))
        return [x, -0.6], [x, 0.4]
    x = float(rng.uniform(1.0, size[0] - 0.5))
    return [x, size[1] + 0.6], [x, size[1] - 0.4]


def random_presence_scenario(rng: np.random.Generator, kind: str, duration_s: float, seed: int) -> dict[str, Any]:
    """One random training scenario (room simulator JSON) of the given kind."""
    cfg = CONFIG["data"]
    size = [float(rng.uniform(3.5, 7.0)), float(rng.uniform(3.0, 5.5)), 2.6]
    device_pos = [float(rng.uniform(0.2, 0.6)), float(rng.uniform(0.8, size[1] - 0.8)), float(rng.uniform(0.6, 1.2))]
    scenario: dict[str, Any] = {
        "name": f"{kind}-{seed}",
        "duration_s": duration_s,
        "seed": seed,
        "room": {
            "size_m": size,
            "absorption": float(rng.uniform(0.1, 0.4)),
            "temperature_c": float(rng.uniform(17, 27)),
            "max_order": 3,
        },
        "device": {
            "position_m": device_pos,
            "mic_count": 4,
            "self_noise_dbfs": float(rng.uniform(*cfg["self_noise_dbfs"])),
            "driver": {
                "rolloff_hz": float(rng.uniform(26000, 45000)),
                "a2": float(rng.uniform(0.0, 0.06)),
                "a3": float(rng.uniform(0.0, 0.04)),
                "excursion_mod": float(rng.uniform(0.0, 0.3)),
                "excursion_cutoff_hz": float(rng.uniform(100, 600)),
            },
        },
        "drive": {"probe": None},
        "people": [],
    }
    people: list[dict[str, Any]] = []
    activities = ["reading", "typing", "reaching", "still", "reading", "typing"]
    if kind in ("walk_in", "music_walk"):
        outside, inside = _door(rng, size)
        t_enter = float(rng.uniform(1.5, duration_s * 0.5))
        seat = _seat(rng, size)
        walk_s = float(np.linalg.norm(np.subtract(seat, inside)) / rng.uniform(0.6, 1.5))
        kf = [
            {"t_s": 0.0, "position_m": outside, "posture": "absent"},
            {"t_s": t_enter, "position_m": outside, "posture": "walking"},
            {"t_s": t_enter + 0.8, "position_m": inside, "posture": "walking"},
            {
                "t_s": t_enter + 0.8 + walk_s,
                "position_m": seat,
                "posture": str(rng.choice(["sitting", "standing"])),
                "activity": str(rng.choice(activities)),
            },
        ]
        if rng.random() < 0.4 and t_enter + walk_s + 4.0 < duration_s - 2.0:
            t_leave = float(rng.uniform(t_enter + walk_s + 3.0, duration_s - 2.0))
            kf += [
                {"t_s": t_leave, "position_m": seat, "posture": "walking"},
                {"t_s": t_leave + walk_s, "position_m": inside, "posture": "walking"},
                {"t_s": t_leave + walk_s + 0.8, "position_m": outside, "posture": "absent"},
            ]
        people.append({"name": "walker", "keyframes": kf})
    elif kind == "seated":
        seat = _seat(rng, size)
        kf = [{"t_s": 0.0, "position_m": seat, "posture": "sitting", "activity": str(rng.choice(activities))}]
        if rng.random() < 0.3:
            t = float(rng.uniform(5, duration_s - 5))
            seat2 = _seat(rng, size)
            kf += [
                {"t_s": t, "position_m": seat, "posture": "walking"},
                {"t_s": t + 2.5, "position_m": seat2, "posture": "sitting", "activity": str(rng.choice(activities))},
            ]
        people.append({"name": "sitter", "keyframes": kf})
    if kind == "next_room" or (kind == "empty" and rng.random() < 0.25):
        y_out = size[1] + float(rng.uniform(0.4, 1.5))
        a = [float(rng.uniform(0.5, size[0])), y_out]
        b = [float(rng.uniform(0.5, size[0])), y_out]
        people.append(
            {
                "name": "neighbour",
                "keyframes": [
                    {"t_s": 0.0, "position_m": a, "posture": "walking"},
                    {"t_s": duration_s * 0.4, "position_m": b, "posture": "sitting", "activity": "typing"},
                    {"t_s": duration_s * 0.7, "position_m": b, "posture": "walking"},
                    {"t_s": duration_s, "position_m": a, "posture": "walking"},
                ],
            }
        )
    scenario["people"] = people
    distract = 0.35 if kind in ("empty", "next_room") else 0.2
    if rng.random() < distract:
        scenario["fans"] = [
            {
                "position_m": [float(rng.uniform(1, size[0] - 0.3)), float(rng.uniform(0.3, size[1] - 0.3)), 1.0],
                "axis": [float(rng.normal()), float(rng.normal()), 0.2],
                "radius_m": float(rng.uniform(0.1, 0.25)),
                "blades": int(rng.integers(3, 6)),
                "rpm": float(rng.uniform(500, 1500)),
                "reflectivity_m": float(rng.uniform(0.01, 0.05)),
                "start_s": float(rng.choice([0.0, rng.uniform(0, duration_s * 0.6)])),
            }
        ]
    if rng.random() < distract:
        scenario["curtains"] = [
            {
                "center_m": [size[0] - 0.15, float(rng.uniform(1, size[1] - 1)), 1.4],
                "normal": [-1.0, 0.0, 0.0],
                "sway_m": float(rng.uniform(0.01, 0.08)),
                "sway_hz": float(rng.uniform(0.1, 0.5)),
            }
        ]
    if rng.random() < distract:
        scenario["turbulence"] = {
            "strength": float(rng.uniform(0.5, 2.5)),
            "bandwidth_hz": float(rng.uniform(0.2, 1.0)),
        }
    if rng.random() < 0.15:
        scenario["sources"] = [
            {
                "kind": "talker",
                "position_m": [float(rng.uniform(1, size[0] - 0.5)), float(rng.uniform(0.5, size[1] - 0.5)), 1.2],
                "level_db": float(rng.uniform(-40, -20)),
            }
        ]
    return scenario


def presence_drive(
    scenario: dict[str, Any], frequency_hz: float, level_db: float, music_level_dbfs: float | None, start_s: float = 0.0
) -> np.ndarray:
    """The drive the hub would send: probe + music through the 48 kHz media path (low-passed at 20 kHz).

    Returns (frames,) float32.
    """
    from echo_sense_dsp.room import load_scenario, scenario_drive

    fs = SAMPLE_RATE
    n = round(scenario["duration_s"] * fs)
    t = np.arange(n) / fs
    drive = 10.0 ** (level_db / 20.0) * np.sin(2 * np.pi * frequency_hz * t)
    if music_level_dbfs is not None:
        sc = json.loads(json.dumps(scenario))
        sc["drive"] = {
            "probe": None,
            "music": {"source": "synthetic", "level_dbfs": music_level_dbfs, "start_s": start_s},
        }
        music = scenario_drive(load_scenario(sc))[:, 0].astype(np.float64)
        drive += sosfilt(butter(8, 20000.0, fs=fs, output="sos"), music)
    return np.clip(drive, -1.0, 1.0).astype(np.float32)


def motion_targets(scenario: dict[str, Any], labels: Any, hops: int) -> np.ndarray:
    """Per-hop targets: 2 walking in the room, 1 a body part of an in-room person moving
    radially at >= minor_speed_m_s, else 0 (empty, still, next room)."""
    from echo_sense_dsp.room import load_scenario
    from echo_sense_dsp.room.motion import SceneMotion

    sc = load_scenario(scenario)
    motion = SceneMotion(sc, np.random.default_rng(np.random.SeedSequence(sc.seed).spawn(4)[1]))
    t = (np.arange(hops) + 1) * HOP_S - 0.032  # centre of the 64 ms Doppler window
    t = np.maximum(t, 0.0)
    dev = np.asarray(sc.device.position_m)
    size = np.asarray(sc.room.size_m)
    dt = 0.01
    moving = np.zeros(hops, dtype=bool)
    for person in motion.people:
        p0, refl = person.points(t)
        p1, _ = person.points(t + dt)
        r0 = np.linalg.norm(p0 - dev, axis=-1)
        r1 = np.linalg.norm(p1 - dev, axis=-1)
        v = np.abs(r1 - r0) / dt  # (7, C)
        torso = p0[0]
        inside = np.all((torso[:, :2] >= 0) & (torso[:, :2] <= size[:2]), axis=-1)
        fast = (v >= CONFIG["data"]["minor_speed_m_s"]) & (refl > 0) & (r0 < 6.0)
        moving |= inside & fast.any(axis=0)
    idx = np.minimum((t / labels.hop_s).astype(int), len(labels) - 1)
    label_motion = labels.motion[idx]
    occupied = labels.occupied[idx]
    target = np.zeros(hops, dtype=np.int8)
    target[(label_motion >= 1) & occupied & moving] = 1
    target[(label_motion == 2) & occupied] = 2
    return target


MUSIC_POOLS = ("music", "music_hard")  # pools with a [data.<pool>] section of their own: music always


def add_curtains_hvac(rng: np.random.Generator, scenario: dict[str, Any], *, wide: bool = False) -> None:
    """A swaying curtain on the far wall and HVAC turbulence, together (as in the benchmark's rooms);
    ``wide``: wider curtains, faster sway and stronger turbulence (the music_hard pool)."""
    size = scenario["room"]["size_m"]
    scenario["curtains"] = [
        {
            "center_m": [size[0] - 0.1, float(rng.uniform(0.8, size[1] - 0.8)), 1.3],
            "normal": [-1.0, 0.0, 0.0],
            "width_m": float(rng.uniform(0.8, 2.2 if wide else 2.0)),
            "sway_m": float(rng.uniform(0.01, 0.08)),
            "sway_hz": float(rng.uniform(0.1, 0.7 if wide else 0.6)),
        }
    ]
    strength = float(rng.uniform(0.5, 3.5 if wide else 3.0))
    scenario["turbulence"] = {"strength": strength, "bandwidth_hz": float(rng.uniform(0.2, 1.5))}


def render_example(seed: int, pool: str = "seed") -> dict[str, np.ndarray]:
    """Render one random scenario and compute its features and targets.

    ``pool`` in :data:`MUSIC_POOLS`: that pool's kind of scenario (its ``[data.<pool>]`` of config.toml):
    music always, at the loud end, mostly empty rooms (the seed pool's music scenes were mostly walk-ins,
    and the model learned that loud music goes with a walker); ``curtains_hvac`` there is the chance of
    :func:`add_curtains_hvac`."""
    from echo_sense_dsp.room import render_scenario

    cfg = CONFIG["data"]
    pool_cfg = cfg[pool] if pool in MUSIC_POOLS else cfg
    rng = np.random.default_rng(seed)
    kinds = list(pool_cfg["kinds"])
    probs = np.asarray([pool_cfg["kinds"][k] for k in kinds], dtype=float)
    kind = str(rng.choice(kinds, p=probs / probs.sum()))
    scenario = random_presence_scenario(rng, kind, pool_cfg["scenario_s"], seed)
    if "curtains_hvac" in pool_cfg and rng.random() < pool_cfg["curtains_hvac"]:
        add_curtains_hvac(rng, scenario, wide=True)
    frequency_hz = float(rng.integers(32, 47) * 1000)
    level_db = float(rng.uniform(*cfg["probe_level_db"]))
    music = pool in MUSIC_POOLS or kind == "music_walk" or rng.random() < 0.3
    music_db = float(rng.uniform(*pool_cfg["music_level_dbfs"])) if music else None
    drive = presence_drive(scenario, frequency_hz, level_db, music_db, float(rng.choice([0.0, rng.uniform(0, 10)])))
    rendering = render_scenario(scenario, drive=drive)
    features, valid = extract_features(rendering.mics, drive, frequency_hz, SAMPLE_RATE)
    target = motion_targets(scenario, rendering.labels, len(features))
    target[~valid] = NO_TARGET
    return {
        "features": features,
        "target": target,
        "kind": np.array(kind),
        "scenario": np.array(json.dumps(scenario)),
        "frequency_hz": np.array(frequency_hz),
        "level_db": np.array(level_db),
        "music_db": np.array(np.nan if music_db is None else music_db),
    }


HARD_KINDS = {"fan_next_room": 0.35, "next_room": 0.15, "curtains_hvac": 0.15, "walk_in": 0.2, "seated": 0.15}
HOLDOUT_EVERY = 6  # every 6th scenario of the baseband pool is held out (see is_holdout)
HARD_SCENARIO_S = {"fan_next_room": 90.0, "next_room": 60.0, "curtains_hvac": 60.0, "walk_in": 20.0, "seated": 20.0}


def is_holdout(name: str) -> bool:
    """Scenarios never trained on: every HOLDOUT_EVERY-th of the baseband pool, every third of the
    mining pool (full renders, music included: what the baseband pool cannot show), every fourth of
    the music pool."""
    seed = int(name)
    if seed >= 400000:
        return seed % 4 == 3
    if seed >= 300000:
        return seed % HOLDOUT_EVERY == HOLDOUT_EVERY - 1
    return 200000 <= seed < 300000 and seed % 3 == 2


def _neighbour(rng: np.random.Generator, size: list[float], duration_s: float) -> dict[str, Any]:
    """Someone behind a side wall (either side), walking along it and sitting, the whole scenario."""
    y = size[1] + float(rng.uniform(0.3, 1.5)) if rng.random() < 0.5 else -float(rng.uniform(0.3, 1.5))
    t, x = 0.0, float(rng.uniform(0.3, size[0]))
    kfs: list[dict[str, Any]] = []
    while t < duration_s:
        nx = float(rng.uniform(0.3, size[0]))
        kfs.append({"t_s": t, "position_m": [x, y], "posture": "walking"})
        t += max(abs(nx - x) / float(rng.uniform(0.5, 1.6)), 0.5)
        x = nx
        act = str(rng.choice(["still", "reading", "typing", "reaching"]))
        kfs.append({"t_s": t, "position_m": [x, y], "posture": "sitting", "activity": act})
        t += float(rng.uniform(2.0, 20.0))
    return {"name": "neighbour", "keyframes": kfs}


def random_hard_scenario(rng: np.random.Generator, kind: str, seed: int) -> dict[str, Any]:
    """A scenario for the baseband mining pool: the long run's weak spots (a person behind a side
    wall, with or without a fan; curtains + HVAC) plus walk-ins and sitters so the retrained model
    keeps its positives. No music or talkers: :class:`BasebandRoom` renders a steady probe only."""
    duration_s = HARD_SCENARIO_S[kind]
    base = {"fan_next_room": "empty", "next_room": "empty", "curtains_hvac": "empty"}.get(kind, kind)
    sc = random_presence_scenario(rng, base, duration_s, seed)
    sc["name"] = f"{kind}-{seed}"
    sc.pop("sources", None)
    sc["room"]["wall_transmission_loss_db"] = float(rng.uniform(30.0, 55.0))
    size = sc["room"]["size_m"]
    if kind in ("fan_next_room", "next_room"):
        sc["people"] = [_neighbour(rng, size, duration_s)]
    if kind == "fan_next_room" or (kind == "next_room" and rng.random() < 0.3):
        ang = rng.uniform(0, 2 * np.pi)
        sc["fans"] = [
            {
                "position_m": [
                    float(rng.uniform(0.8, size[0] - 0.4)),
                    float(rng.uniform(0.4, size[1] - 0.4)),
                    float(rng.uniform(0.5, 2.0)),
                ],
                "axis": [float(np.cos(ang)), float(np.sin(ang)), float(rng.uniform(-0.3, 0.3))],
                "radius_m": float(rng.uniform(0.08, 0.25)),
                "blades": int(rng.integers(2, 6)),
                "rpm": float(rng.uniform(400.0, 1500.0)),
                "reflectivity_m": float(rng.uniform(0.01, 0.05)),
            }
        ]
    if kind == "curtains_hvac" or (kind == "fan_next_room" and rng.random() < 0.3):
        add_curtains_hvac(rng, sc)
    return sc


def render_baseband_features(
    scenario: dict[str, Any], frequency_hz: float, level_db: float
) -> tuple[np.ndarray, np.ndarray]:
    """A scenario rendered at baseband (:class:`BasebandRoom`, ~100x cheaper than the full render)
    through the runtime front end's mid-rate entry (``DopplerFrontEnd.process_mid_rate``).

    Returns (features (hops, FEATURE_SIZE), valid (hops,): the front end settled and the probe on).
    """
    from echo_sense_dsp.presence.features import DopplerFrontEnd
    from echo_sense_dsp.presence.probe import ProbeSettings
    from echo_sense_dsp.room.baseband import BasebandRoom

    amplitude = ProbeSettings(frequency_hz, level_db, SAMPLE_RATE).amplitude
    room = BasebandRoom(scenario, frequency_hz, amplitude)
    front = DopplerFrontEnd(frequency_hz, SAMPLE_RATE, room.mic_count)
    m = room.mic_count
    mid = np.zeros((front.mid_hop, m + 3), dtype=np.complex64)
    mid[:, m] = amplitude / 2.0  # the drive's regressor envelopes for a steady probe (see process_mid_rate)
    mid[:, m + 2] = 3.0 * amplitude**3 / 8.0
    hops = round(scenario["duration_s"] / HOP_S)
    features = np.zeros((hops, FEATURE_SIZE), dtype=np.float32)
    valid = np.zeros(hops, dtype=bool)
    for h in range(hops):
        mid[:, :m] = room.process(front.mid_hop)
        features[h] = front.process_mid_rate(mid)
        valid[h] = front.settled and front.probe_on
    return features, valid


def render_baseband_example(seed: int) -> dict[str, np.ndarray]:
    """One mining-pool scenario rendered at baseband (:func:`render_baseband_features`)."""
    from echo_sense_dsp.room import load_scenario, scenario_labels

    rng = np.random.default_rng(seed)
    kinds = list(HARD_KINDS)
    probs = np.asarray([HARD_KINDS[k] for k in kinds], dtype=float)
    kind = str(rng.choice(kinds, p=probs / probs.sum()))
    scenario = random_hard_scenario(rng, kind, seed)
    frequency_hz = float(rng.integers(32, 47) * 1000)
    level_db = float(rng.uniform(*CONFIG["data"]["probe_level_db"]))
    features, valid = render_baseband_features(scenario, frequency_hz, level_db)
    target = motion_targets(scenario, scenario_labels(load_scenario(scenario)), len(features))
    target[~valid] = NO_TARGET
    return {
        "features": features,
        "target": target,
        "kind": np.array(kind),
        "scenario": np.array(json.dumps(scenario)),
        "frequency_hz": np.array(frequency_hz),
        "level_db": np.array(level_db),
        "music_db": np.array(np.nan),
    }


def generate(pool: str, count: int, worker: int, workers: int) -> None:
    out = cache_dir() / pool
    out.mkdir(exist_ok=True)
    base = {"seed": 100000, "mining": 200000, "hard": 300000, "music": 400000, "music_hard": 500000}[pool]
    for i in tqdm(range(worker, count, workers), desc=f"generate {pool}", file=sys.stderr, mininterval=5):
        path = out / f"{base + i}.npz"
        if path.exists():
            continue
        t0 = time.time()
        if pool == "hard":
            ex = render_baseband_example(base + i)
        else:
            ex = render_example(base + i, pool)
        tmp = path.with_name(path.stem + ".tmp.npz")
        np.savez_compressed(tmp, layout_version=FEATURE_LAYOUT.layout_version, **ex)
        tmp.replace(path)
        counts = np.bincount(ex["target"][ex["target"] >= 0], minlength=3)
        print(f"{pool} {base + i} {ex['kind']} {time.time() - t0:.1f}s targets {counts.tolist()}", flush=True)


# ----------------------------------------------------------------------------- training


def load_pool(pool: str) -> list[dict[str, np.ndarray]]:
    files = sorted((cache_dir() / pool).glob("[0-9]*.npz"))
    out = []
    for f in files:
        with np.load(f) as z:
            if int(z["layout_version"]) != FEATURE_LAYOUT.layout_version:
                continue
            out.append({"features": z["features"], "target": z["target"], "kind": str(z["kind"]), "name": f.stem})
    return out


def context_windows(features: np.ndarray) -> np.ndarray:
    """(frames, CONTEXT_FRAMES, FEATURE_SIZE) view: each frame's context, zeros before the first frame
    (as :class:`~echo_sense_dsp.presence.classifier.MotionClassifier` builds it)."""
    pad = np.zeros((CONTEXT_FRAMES - 1, FEATURE_SIZE), dtype=np.float32)
    view = np.lib.stride_tricks.sliding_window_view(np.concatenate([pad, features]), (CONTEXT_FRAMES, FEATURE_SIZE))
    return view[:, 0]


def predict(model: Any, windows: np.ndarray) -> np.ndarray:
    """(N, 3) class probabilities of a PyTorch model for (N, CONTEXT_FRAMES, FEATURE_SIZE) windows."""
    import torch

    out = np.zeros((len(windows), len(MOTION_CLASSES)), dtype=np.float32)
    with torch.no_grad():
        for b in range(0, len(windows), 4096):
            x = torch.from_numpy(np.ascontiguousarray(windows[b : b + 4096]))
            out[b : b + 4096] = torch.softmax(model(x), dim=1).numpy()
    return out


def windows(example: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """All (CONTEXT_FRAMES, FEATURE_SIZE) windows ending at a frame with a target."""
    y = example["target"]
    idx = np.flatnonzero(y >= 0)
    return context_windows(example["features"])[idx], y[idx]


def build_model(channels: int, kernel: int) -> Any:
    import torch
    from torch import nn

    class PresenceNet(nn.Module):
        """Conv1d stack over time, mean+max pooling, linear head -> 3 motion classes."""

        def __init__(self) -> None:
            super().__init__()
            self.input_norm = nn.Conv1d(FEATURE_SIZE, channels, 1)
            self.conv1 = nn.Conv1d(channels, channels, kernel, dilation=1)
            self.conv2 = nn.Conv1d(channels, channels, kernel, dilation=2)
            self.conv3 = nn.Conv1d(channels, channels, kernel, dilation=4)
            self.head = nn.Linear(3 * channels, len(MOTION_CLASSES))

        def forward(self, doppler_features: torch.Tensor) -> torch.Tensor:
            x = doppler_features.transpose(1, 2)  # (B, F, T)
            x = torch.relu(self.input_norm(x))
            x = torch.relu(self.conv1(x))
            x = torch.relu(self.conv2(x))
            x = torch.relu(self.conv3(x))
            pooled = torch.cat([x.mean(dim=2), x.amax(dim=2), x[:, :, -1]], dim=1)
            return self.head(pooled)  # logits

    return PresenceNet()


def model_from_onnx(path: Path) -> Any:
    """The PyTorch model holding the weights of an exported ONNX classifier (the shipped one seeds
    the next round of the rare-event loop when no checkpoint is cached)."""
    import onnx
    import torch
    from onnx import numpy_helper

    graph = onnx.load(str(path)).graph
    state = {i.name.removeprefix("net."): torch.from_numpy(numpy_helper.to_array(i).copy()) for i in graph.initializer}
    model = build_model(**CONFIG["model"])
    model.load_state_dict(state)
    return model


def load_checkpoint(stage: str) -> Any:
    """Model of ``stage``: a cached checkpoint (``seed``, ``final``, ...) or ``shipped`` / ``shipped_music``
    (the ONNX assets ``presence`` / ``presence_music``)."""
    import torch

    if stage in ("shipped", "shipped_music"):
        onnx_path, _ = asset_paths(MUSIC_MODEL_NAME if stage == "shipped_music" else MODEL_NAME)
        return model_from_onnx(onnx_path)
    ckpt = torch.load(cache_dir() / f"{stage}.pt", weights_only=False)
    model = build_model(**ckpt["model_kwargs"])
    model.load_state_dict(ckpt["state_dict"])
    return model


def train(
    stage: str,
    init: str | None = None,
    epochs: int | None = None,
    learning_rate: float | None = None,
    pools: tuple[str, ...] = ("mining", "hard"),
    easy_fraction: float = 0.1,
    baseband_motion: bool = True,
    music_pools: tuple[str, ...] = ("music",),
    save_as: str | None = None,
) -> None:
    """Train ``stage`` ("seed": the seed pool; "final": seed pool + the mining pools with the
    mined frames of ``hard_cases.npz`` weighted up; "music": seed pool + the music pool, whose
    frames weigh ``hard_case_weight``, usually from ``init="shipped"``: a round for loud music that
    needs neither the mining pools nor the mined frames; ``music_pools`` are its music pools, of
    :data:`MUSIC_POOLS`). ``init`` starts from a model
    (:func:`load_checkpoint`) instead of random weights: a further round of the loop. ``pools``:
    the mined pools trained on (a pool left out can serve as validation: ``evaluate.py --pool``);
    ``easy_fraction``: share of the baseband pool's frames that are neither motion nor mined;
    ``baseband_motion`` False keeps none of the baseband pool's motion frames (its walk-ins' missed
    frames are often a walker still outside or out of range: weighting them up raises P(major)
    on weak evidence everywhere)."""
    import torch

    torch.set_num_threads(1)
    torch.manual_seed(0)
    cfg, mcfg = CONFIG["train"], CONFIG["model"]
    data = load_pool("seed")
    weights_list = []
    counted_list: list[np.ndarray] = []  # frames counted in the class balance
    xs, ys = [], []
    for ex in data:
        x, y = windows(ex)
        xs.append(x)
        ys.append(y)
        weights_list.append(np.ones(len(y)))
        counted_list.append(np.ones(len(y), dtype=bool))
    if stage == "music":
        for music_pool, ex in ((name, ex) for name in music_pools for ex in load_pool(name)):
            kinds = CONFIG["data"][music_pool].get("train_kinds")
            if is_holdout(ex["name"]) or (kinds is not None and ex["kind"] not in kinds):
                continue
            x, y = windows(ex)
            xs.append(x)
            ys.append(y)
            weights_list.append(np.full(len(y), cfg["hard_case_weight"]))
            counted_list.append(np.full(len(y), kinds is None))  # a chosen sample of negatives: not counted
    if stage == "final":
        hard_path = cache_dir() / "hard_cases.npz"
        with np.load(hard_path) as z:
            names, frames = z["names"], z["frames"]
        hard_by_name = {str(n): set(frames[names == n].tolist()) for n in np.unique(names)}
        keep_rng = np.random.default_rng(1)
        for pool in sorted(pools, key=lambda q: q == "hard"):  # the baseband pool last (class balance below)
            for ex in load_pool(pool):
                if is_holdout(ex["name"]):
                    continue
                hard = hard_by_name.get(ex["name"], set())
                x, y = windows(ex)
                valid_idx = np.flatnonzero(ex["target"] >= 0)
                is_hard = np.isin(valid_idx, list(hard))
                # the baseband pool is long and mostly easy "none": keep every motion frame, every
                # hard frame and easy_fraction of the rest
                keep = is_hard | (y > 0) | (keep_rng.random(len(y)) < (easy_fraction if pool == "hard" else 1.0))
                if pool == "hard" and not baseband_motion:
                    keep &= y == 0
                xs.append(x[keep])
                ys.append(y[keep])
                weights_list.append(np.where(is_hard[keep], cfg["hard_case_weight"], 1.0))
                counted_list.append(np.full(int(keep.sum()), pool != "hard"))
    x_all = np.concatenate(xs).astype(np.float32)
    y_all = np.concatenate(ys).astype(np.int64)
    w_all = np.concatenate(weights_list)
    counts = np.bincount(y_all, minlength=3)
    print(f"{stage}: {len(y_all)} windows, class counts {counts.tolist()}", flush=True)
    # class balance from the full renders of every kind only: the baseband pool's frames and a
    # negatives-only music pool are chosen samples (mined, thinned, or all "none"), and counting them
    # would raise the motion classes' weight with every negative added, i.e. push the model towards
    # motion on weak evidence
    full = np.bincount(y_all[np.concatenate(counted_list)], minlength=3)
    class_w = torch.tensor(full.sum() / (3.0 * np.maximum(full, 1)), dtype=torch.float32)
    # the "none" class is what keeps false alarms down: weigh it at least as much as the rest
    class_w[0] = class_w[0] * 2.0
    model = build_model(mcfg["channels"], mcfg["kernel"]) if init is None else load_checkpoint(init)
    lr = learning_rate or cfg["learning_rate"]
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    epochs = epochs or (cfg["epochs_seed"] if stage == "seed" else cfg["epochs_final"])
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=epochs * (len(y_all) // cfg["batch"] + 1))
    loss_fn = torch.nn.CrossEntropyLoss(weight=class_w, reduction="none")  # targets -1 never reach it (masked)
    rng = np.random.default_rng(0)
    p = w_all / w_all.sum()
    t0 = time.time()
    bar = tqdm(
        total=epochs * len(range(0, len(y_all), cfg["batch"])), desc=f"train {stage}", file=sys.stderr, mininterval=5
    )
    for epoch in range(epochs):
        order = rng.choice(len(y_all), size=len(y_all), p=p)
        total = 0.0
        for b in range(0, len(order), cfg["batch"]):
            i = order[b : b + cfg["batch"]]
            xb = torch.from_numpy(x_all[i])
            yb = torch.from_numpy(y_all[i])
            loss = loss_fn(model(xb), yb).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            with torch.no_grad():
                for prm in model.parameters():
                    prm.clamp_(-cfg["weight_clip"], cfg["weight_clip"])
            total += loss.item() * len(i)
            bar.update()
        print(f"{stage} epoch {epoch} loss {total / len(order):.4f} ({time.time() - t0:.0f}s)", flush=True)
    bar.close()
    ckpt = cache_dir() / f"{save_as or stage}.pt"
    torch.save(
        {
            "state_dict": model.state_dict(),
            "model_kwargs": dict(mcfg),
            "stage": stage,
            "train_seconds": time.time() - t0,
            "windows": len(y_all),
            "init": init,
            "epochs": epochs,
            "music_pools": list(music_pools) if stage == "music" else [],
        },
        ckpt,
    )
    print(f"saved {ckpt}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("generate")
    g.add_argument("--pool", choices=["seed", "mining", "hard", *MUSIC_POOLS], required=True)
    g.add_argument("--count", type=int)
    g.add_argument("--worker", type=int, default=0)
    g.add_argument("--workers", type=int, default=1)
    t = sub.add_parser("train")
    t.add_argument("--stage", choices=["seed", "final", "music"], required=True)
    t.add_argument("--init", help="start from this model: shipped, or a checkpoint name in the cache (a further round)")
    t.add_argument("--epochs", type=int)
    t.add_argument("--learning-rate", type=float)
    t.add_argument("--pools", nargs="+", default=["mining", "hard"], choices=["mining", "hard"])
    t.add_argument("--easy-fraction", type=float, default=0.1)
    t.add_argument("--no-baseband-motion", action="store_true", help="no motion frames of the baseband pool")
    t.add_argument("--music-pools", nargs="+", default=["music"], choices=MUSIC_POOLS, help="the music stage's pools")
    t.add_argument("--save-as", help="checkpoint name in the cache (default: the stage's)")
    args = parser.parse_args(argv)
    if args.cmd == "generate":
        count = args.count or CONFIG["data"][f"{args.pool}_pool"]
        generate(args.pool, count, args.worker, args.workers)
    else:
        train(
            args.stage,
            args.init,
            args.epochs,
            args.learning_rate,
            tuple(args.pools),
            args.easy_fraction,
            not args.no_baseband_motion,
            tuple(args.music_pools),
            args.save_as,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
