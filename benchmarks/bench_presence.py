# ruff: noqa: E402  (thread limits must be set before numpy is imported)
"""Ultrasonic presence: detection, false alarms, presence hold, CPU and emission duty.

Usage: ``python benchmarks/bench_presence.py [--quick]``

Runs the streaming :class:`~echo_sense_dsp.presence.PresenceDetector` (the neural scorer and
the ``energy_threshold`` baseline) on a fixed scenario suite rendered by the room simulator
(``echo_sense_dsp.room``), after calibrating the simulated device with the real calibration
sweep. The drive is what the hub sends: the calibrated probe plus, where a scenario has
music, synthetic music through the 48 kHz media path (low-passed at 20 kHz). The seated
scenarios run closed loop through :class:`~echo_sense_dsp.room.LiveRoom` with the duty
cycle on, so the probe really pauses. Prints markdown tables; asserts nothing.
"""

from __future__ import annotations

import os
import sys

BLAS_DEFAULT_FLAG = "--cpu-blas-default"  # the CPU check's child: BLAS keeps its own thread count
if BLAS_DEFAULT_FLAG not in sys.argv:
    for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[_var] = "1"

import argparse
import platform
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime
from scipy.signal import butter, sosfilt
from scipy.stats import chi2
from tqdm import tqdm

from echo_sense_dsp.presence import (
    Calibration,
    DutyCycleSettings,
    PresenceDetector,
    ProbeGenerator,
    analyse_calibration,
    plan_calibration,
)
from echo_sense_dsp.presence.demodulation import Demodulator
from echo_sense_dsp.presence.drive import REGRESSOR_POWERS, reference_regressors
from echo_sense_dsp.room import LiveRoom, load_scenario, render_scenario, scenario_drive
from echo_sense_dsp.room.baseband import BasebandRoom

FS = 96000
BLOCK = 960  # the engine's 10 ms block
HOLD_TIME_S = 60.0  # the library default
ROOM: dict[str, object] = {"size_m": [5.0, 4.0, 2.7], "absorption": [0.2, 0.2, 0.25, 0.25, 0.3, 0.15]}
DEVICE_POS = [0.3, 2.0, 0.8]
SCORERS = ("neural", "energy_threshold")
RANGE_NOISE_DBFS = (-85.0, -90.0, -95.0)  # -100 dBFS: the main range table


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def device(self_noise_dbfs: float) -> dict[str, Any]:
    return {"position_m": DEVICE_POS, "mic_count": 4, "self_noise_dbfs": self_noise_dbfs}


def scenario(name: str, duration_s: float, seed: int, dev: dict[str, Any], **parts: Any) -> dict[str, Any]:
    room = parts.pop("room", ROOM)
    return {
        "name": name,
        "duration_s": duration_s,
        "seed": seed,
        "room": room,
        "device": dev,
        "drive": {"probe": None},
        **parts,
    }


def music(sc: dict[str, Any], level_dbfs: float) -> np.ndarray:
    """Synthetic music through the 48 kHz media path (low-passed at 20 kHz), (frames,) float64."""
    s = dict(sc)
    s["drive"] = {"probe": None, "music": {"source": "synthetic", "level_dbfs": level_dbfs}}
    x = scenario_drive(load_scenario(s))[:, 0].astype(np.float64)
    return np.asarray(sosfilt(butter(8, 20000.0, fs=FS, output="sos"), x))


def probe(cal: Calibration, frames: int) -> np.ndarray:
    return ProbeGenerator(cal.probe_settings()).generate(frames).astype(np.float64)


# ----------------------------------------------------------------------------- suite


def walk_in(i: int, dev: dict[str, Any], *, far: bool = False) -> dict[str, Any]:
    """Someone enters through a door and walks to a seat; entry at 3 s."""
    rng = np.random.default_rng(7000 + i + (500 if far else 0))
    if far:  # a long room: the door is 4.5-7 m from the device
        room: dict[str, object] = {"size_m": [8.0, 5.0, 2.7], "absorption": 0.2}
        x = float(rng.uniform(4.6, 7.0))
        outside, inside = [x, -0.6], [x, 0.4]
        seat = [x - 0.3, 1.5]
    else:
        room = ROOM
        x = float(rng.uniform(1.0, 4.0))
        side = rng.random() < 0.5
        outside, inside = ([x, -0.6], [x, 0.4]) if side else ([x, 4.6], [x, 3.6])
        seat = [float(rng.uniform(1.2, 4.0)), float(rng.uniform(0.8, 3.2))]
    kf = [
        {"t_s": 0.0, "position_m": outside, "posture": "absent"},
        {"t_s": 2.2, "position_m": outside, "posture": "walking"},
        {"t_s": 3.0, "position_m": inside, "posture": "walking"},
        {
            "t_s": 3.0 + float(np.linalg.norm(np.subtract(seat, inside))) / 1.0,
            "position_m": seat,
            "posture": "sitting",
            "activity": "reading",
        },
    ]
    return scenario(f"walk_in_{i}", 9.0, 7000 + i, dev, room=room, people=[{"name": "p", "keyframes": kf}])


def empties(dev: dict[str, Any], duration_s: float) -> list[tuple[str, dict[str, Any], float | None]]:
    fan = [{"position_m": [3.5, 3.2, 1.0], "axis": [-0.6, -0.8, 0.0], "radius_m": 0.15, "blades": 3, "rpm": 1100}]
    curtains = [
        {
            "center_m": [4.85, 2.0, 1.4],
            "normal": [-1.0, 0.0, 0.0],
            "width_m": 1.6,
            "height_m": 2.0,
            "sway_m": 0.04,
            "sway_hz": 0.2,
        }
    ]
    neighbour = [
        {
            "name": "n",
            "keyframes": [
                {"t_s": 0.0, "position_m": [1.0, 4.8], "posture": "walking"},
                {"t_s": 8.0, "position_m": [4.0, 4.8], "posture": "walking"},
                {"t_s": 12.0, "position_m": [2.5, 5.3], "posture": "sitting", "activity": "typing"},
                {"t_s": duration_s - 12.0, "position_m": [2.5, 5.3], "posture": "walking"},
                {"t_s": duration_s - 2.0, "position_m": [0.5, 4.7], "posture": "walking"},
            ],
        }
    ]
    return [
        ("empty", scenario("empty", duration_s, 8001, dev), None),
        ("fan", scenario("fan", duration_s, 8002, dev, fans=fan), None),
        (
            "curtains + HVAC",
            scenario(
                "curtains", duration_s, 8003, dev, curtains=curtains, turbulence={"strength": 1.5, "bandwidth_hz": 0.6}
            ),
            None,
        ),
        ("person next room", scenario("next_room", duration_s, 8004, dev, people=neighbour), None),
        ("music -24 dBFS", scenario("music24", duration_s, 8005, dev), -24.0),
        ("music -12 dBFS", scenario("music12", duration_s, 8006, dev), -12.0),
        ("music -6 dBFS", scenario("music6", duration_s, 8007, dev), -6.0),
    ]


def seated(i: int, dev: dict[str, Any], duration_s: float, activity: str) -> dict[str, Any]:
    kf = [
        {"t_s": 0.0, "position_m": [2.5, -0.6], "posture": "absent"},
        {"t_s": 1.2, "position_m": [2.5, -0.6], "posture": "walking"},
        {"t_s": 2.0, "position_m": [2.5, 0.4], "posture": "walking"},
        {"t_s": 4.0, "position_m": [2.3, 1.6 + 0.4 * i], "posture": "sitting", "activity": activity},
    ]
    return scenario(f"seated_{activity}", duration_s, 9000 + i, dev, people=[{"name": "p", "keyframes": kf}])


# ----------------------------------------------------------------------------- running


@dataclass
class Run:
    t: np.ndarray
    occupied: np.ndarray
    cpu_s: float
    audio_s: float
    duty_occupied: float = 1.0
    extra: dict[str, Any] = field(default_factory=dict)


def run_open(cal: Calibration, mics: np.ndarray, drive: np.ndarray, scorer: str) -> Run:
    det = PresenceDetector(
        cal,
        mic_count=mics.shape[1],
        scorer=scorer,
        hold_time_s=HOLD_TIME_S,
        duty_cycle=DutyCycleSettings(enabled=False),
    )
    ts, occ = [], []
    c0 = time.process_time()  # every thread of the process (BLAS, onnxruntime) counts
    for s in range(0, len(drive), BLOCK):
        for d in det.process(mics[s : s + BLOCK], drive[s : s + BLOCK]):
            ts.append(d.t)
            occ.append(d.occupied)
    return Run(np.asarray(ts), np.asarray(occ), time.process_time() - c0, len(drive) / FS)


def run_closed(cal: Calibration, sc: dict[str, Any], scorer: str, music_db: float | None) -> Run:
    """Closed loop: the detector's duty cycle pauses the probe the live room hears."""
    room = LiveRoom(sc, loop=False)
    det = PresenceDetector(cal, mic_count=room.mic_count, scorer=scorer, hold_time_s=HOLD_TIME_S)
    assert det.probe is not None
    n = round(sc["duration_s"] * FS)
    m = music(sc, music_db) if music_db is not None else np.zeros(n)
    ts, occ = [], []
    cpu = 0.0
    block = 1920
    for s in range(0, n - block + 1, block):
        drive = (det.probe.generate(block) + m[s : s + block]).astype(np.float32)
        mics = room.process(drive[:, None])
        c0 = time.process_time()
        for d in det.process(mics, drive):
            ts.append(d.t)
            occ.append(d.occupied)
        cpu += time.process_time() - c0
    return Run(np.asarray(ts), np.asarray(occ), cpu, n / FS, det.emission_duty_occupied)


CACHE = Path("~/.cache/echo_sense/presence/bench").expanduser()


def render(sc: dict[str, Any], cal: Calibration, music_db: float | None) -> tuple[np.ndarray, np.ndarray, Any]:
    """Render (cached on disk: the suite is fixed) the capture of the calibrated probe (+ music)."""
    import hashlib
    import json
    import pickle

    key = hashlib.sha256(json.dumps([sc, cal.frequency_hz, cal.level_db, music_db]).encode()).hexdigest()[:16]
    path = CACHE / f"{sc['name']}-{key}.pkl"
    if path.exists():
        with path.open("rb") as fh:
            return pickle.load(fh)  # type: ignore[no-any-return]
    n = round(sc["duration_s"] * FS)
    drive = probe(cal, n)
    if music_db is not None:
        drive = drive + music(sc, music_db)
    drive = np.clip(drive, -1, 1).astype(np.float32)
    r = render_scenario(sc, drive=drive)
    CACHE.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with tmp.open("wb") as fh:
        pickle.dump((r.mics, drive, r.labels), fh)
    tmp.replace(path)
    return r.mics, drive, r.labels


def calibrate(dev: dict[str, Any]) -> Calibration:
    """Run the real calibration (sweep plan -> simulated capture -> analysis); cached."""
    import hashlib
    import json

    path = CACHE / f"calibration-{hashlib.sha256(json.dumps(dev).encode()).hexdigest()[:16]}.json"
    if path.exists():
        return Calibration.load(path)
    plan = plan_calibration(FS)
    sc = scenario("calibration", len(plan.signal) / FS + 0.1, 1, dev)
    drive = np.zeros(round(sc["duration_s"] * FS), dtype=np.float32)
    drive[: len(plan.signal)] = plan.signal
    r = render_scenario(sc, drive=drive)
    cal = analyse_calibration(r.mics, drive, plan, range_m=4.0)
    CACHE.mkdir(parents=True, exist_ok=True)
    cal.save(path)
    return cal


# ----------------------------------------------------------------------------- long empty-room runs

LONG_CHUNK_S = 600.0  # one random empty room per 10 simulated minutes


def long_empty_scenario(i: int, dev: dict[str, Any], duration_s: float = LONG_CHUNK_S) -> tuple[dict[str, Any], str]:
    """The i-th random empty room of the long run: room, distractors (fan, curtains + HVAC, next room)."""
    rng = np.random.default_rng([8100, i])
    lx, ly, lz = float(rng.uniform(3.5, 7.0)), float(rng.uniform(3.0, 5.5)), float(rng.uniform(2.4, 3.0))
    room = {
        "size_m": [lx, ly, lz],
        "absorption": [float(a) for a in rng.uniform(0.1, 0.5, size=6)],
        "rir_length_s": 0.12,
        "wall_transmission_loss_db": float(rng.uniform(35.0, 55.0)),
    }
    d = dict(dev, position_m=[0.3, float(rng.uniform(0.5, ly - 0.5)), float(rng.uniform(0.5, 1.2))])
    parts: dict[str, Any] = {"room": room}
    kinds: list[str] = []
    while not kinds:  # at least one distractor (a bare empty room is the easy case)
        kinds = [k for k in ("fan", "curtains + HVAC", "next room") if rng.random() < 0.5]

    def spot() -> list[float]:
        return [float(rng.uniform(0.8, lx - 0.4)), float(rng.uniform(0.4, ly - 0.4))]

    if "fan" in kinds:
        ang = rng.uniform(0, 2 * np.pi)
        parts["fans"] = [
            {
                "position_m": [*spot(), float(rng.uniform(0.5, 2.0))],
                "axis": [float(np.cos(ang)), float(np.sin(ang)), float(rng.uniform(-0.3, 0.3))],
                "radius_m": float(rng.uniform(0.08, 0.25)),
                "blades": int(rng.integers(2, 6)),
                "rpm": float(rng.uniform(400.0, 1500.0)),
                "reflectivity_m": float(rng.uniform(0.01, 0.04)),
            }
        ]
    if "curtains + HVAC" in kinds:
        parts["curtains"] = [
            {
                "center_m": [lx - 0.1, float(rng.uniform(0.8, ly - 0.8)), 1.3],
                "normal": [-1.0, 0.0, 0.0],
                "width_m": float(rng.uniform(0.8, 2.0)),
                "sway_m": float(rng.uniform(0.01, 0.06)),
                "sway_hz": float(rng.uniform(0.1, 0.6)),
            }
        ]
        parts["turbulence"] = {"strength": float(rng.uniform(0.5, 3.0)), "bandwidth_hz": float(rng.uniform(0.2, 1.5))}
    if "next room" in kinds:  # walks and sits behind a side wall, all along the chunk
        y = ly + float(rng.uniform(0.4, 1.5)) if rng.random() < 0.5 else -float(rng.uniform(0.4, 1.5))
        t, x = 0.0, float(rng.uniform(0.3, lx))
        kfs: list[dict[str, Any]] = []
        while t < duration_s:
            nx = float(rng.uniform(0.3, lx))
            kfs.append({"t_s": t, "position_m": [x, y], "posture": "walking"})
            t += max(abs(nx - x) / float(rng.uniform(0.5, 1.5)), 0.5)
            x = nx
            act = str(rng.choice(["still", "reading", "typing", "reaching"]))
            kfs.append({"t_s": t, "position_m": [x, y], "posture": "sitting", "activity": act})
            t += float(rng.uniform(5.0, 60.0))
        parts["people"] = [{"name": "neighbour", "keyframes": kfs}]
    return scenario(f"long_empty_{i}", duration_s, 8100 + i, d, **parts), " + ".join(kinds)


def _files_key(relative: list[str]) -> str:
    """Hash of these files of the installed library (paths relative to its package): a cache key."""
    import hashlib

    import echo_sense_dsp

    base = Path(echo_sense_dsp.__file__).parent
    h = hashlib.sha256()
    for name in relative:
        h.update((base / name).read_bytes())
    return h.hexdigest()[:12]


def _code_key(music: bool = False) -> str:
    """Hash of the detector's and the simulator's code and the model: cached long-run results stay valid.

    Every module the results depend on, the helpers they import included (``blockfilter``, ``physics``, ...).
    The music model only with ``music``: the probe-only long run never runs it (NeuralScorer switches on music)."""
    presence = (
        *("blockfilter", "calibration", "classifier", "demodulation", "detector"),
        *("drive", "features", "music", "probe", "tracker"),
    )
    room = ("baseband", "engine", "geometry", "labels", "motion", "scenario", "signals")
    models = ["presence.onnx", "presence_music.onnx"] if music else ["presence.onnx"]
    return _files_key(
        [f"presence/{n}.py" for n in presence]
        + [f"room/{n}.py" for n in room]
        + ["physics.py", "resample.py"]
        + [f"assets/{m}" for m in models]
    )


def long_chunk_path(i: int, cal: Calibration) -> Path:
    return CACHE / "long" / f"{_code_key()}-{cal.frequency_hz:.0f}-{cal.level_db:.0f}-{i}.json"


# The baseline alarms tens of times a day, so 6 h pin its rate; the neural detector's rate needs days of
# exposure, and the baseline would take 40 % of each later chunk's time.
BASELINE_LONG_CHUNKS = 36


def run_long_chunk(i: int, cal: Calibration, dev: dict[str, Any]) -> dict[str, Any]:
    """One long-run chunk: the scorers on the same baseband rendering (the baseline only in the first
    :data:`BASELINE_LONG_CHUNKS`); cached (resumable)."""
    import json

    sc, kinds = long_empty_scenario(i, dev)
    path = long_chunk_path(i, cal)
    if path.exists():
        return json.loads(path.read_text())  # type: ignore[no-any-return]
    room = BasebandRoom(sc, cal.frequency_hz, cal.probe_settings().amplitude)
    dets = open_loop_detectors(cal)
    if i >= BASELINE_LONG_CHUNKS:
        dets = {"neural": dets["neural"]}
    mid_hop = dets[SCORERS[0]].hop_frames * room.rate_hz // FS
    hops = round(LONG_CHUNK_S * FS) // dets[SCORERS[0]].hop_frames
    occupied: dict[str, list[bool]] = {s: [] for s in dets}
    cpu = dict.fromkeys(dets, 0.0)
    for _ in range(hops):
        env = room.process(mid_hop)
        for s, det in dets.items():
            c0 = time.process_time()
            occupied[s].append(det.process_mid_rate(env).occupied)
            cpu[s] += time.process_time() - c0
    return save_chunk(path, {"scenario": i, "kinds": kinds}, occupied, cpu, hops * dets[SCORERS[0]].hop_frames / FS)


def carry_long_results(
    old_key: str, chunks: int, check: int, cal: Calibration, dev: dict[str, Any], worker: int = 0, workers: int = 1
) -> bool:
    """Reuse the long run's results cached under an earlier code key after a change that cannot reach the
    no-music path (one that acts only while music plays): re-run ``check`` chunks spread over the run with
    this code and, only when every one gives the cached alarms and occupancy, copy the others to this key.

    With ``workers`` > 1 this process re-runs and compares its share of the sample only; the copy is made by
    a run over the whole sample (whose chunks are then cached). Returns False on any difference (nothing is
    copied then)."""
    import json

    sample = sorted({round(j * chunks / check) for j in range(check)})
    old = {
        i: long_chunk_path(i, cal).with_name(f"{old_key}-{long_chunk_path(i, cal).name.split('-', 1)[1]}")
        for i in range(chunks)
    }
    missing = [i for i in range(chunks) if not old[i].exists()]
    if missing:
        raise SystemExit(f"{len(missing)} chunks not cached under {old_key} (first: {missing[0]})")
    same = True
    fields = ("false_alarms", "alarm_times_s", "occupied_fraction")
    for i in tqdm(sample[worker::workers], desc="carry check", file=sys.stderr, mininterval=5):
        new, cached = run_long_chunk(i, cal, dev), json.loads(old[i].read_text())
        if any(new[f] != cached[f] for f in fields):
            print(f"chunk {i} differs from {old_key}: " + ", ".join(f"{f} {cached[f]} -> {new[f]}" for f in fields))
            same = False
    if same and workers == 1:
        for i in range(chunks):
            if not long_chunk_path(i, cal).exists():
                long_chunk_path(i, cal).write_text(old[i].read_text())
        print(f"{len(sample)} re-run chunks equal their results under {old_key}: {chunks} chunks carried over")
    return same


MUSIC_CHUNK_S = 300.0  # full render at 96 kHz: 5 simulated minutes per chunk (0.1 GB of drive)
MUSIC_SERIES = 10_000  # the music chunks draw other rooms than the long run's


def long_music_scenario(i: int, dev: dict[str, Any]) -> tuple[dict[str, Any], str, float]:
    """The i-th music chunk: a random empty room of the long run's kind, and a music level in -30..-6 dBFS."""
    sc, kinds = long_empty_scenario(MUSIC_SERIES + i, dev, duration_s=MUSIC_CHUNK_S)
    return sc, kinds, float(np.random.default_rng([8200, i]).uniform(-30.0, -6.0))


def music_baseband_path(i: int, cal: Calibration) -> Path:
    return CACHE / "long-music-baseband" / f"{_render_key()}-{cal.frequency_hz:.0f}-{cal.level_db:.0f}-{i}.npy"


def long_music_chunk_path(i: int, cal: Calibration) -> Path:
    return CACHE / "long-music" / f"{_code_key(music=True)}-{cal.frequency_hz:.0f}-{cal.level_db:.0f}-{i}.json"


def _render_key() -> str:
    """Hash of what a music chunk's baseband depends on: the simulator, the probe, the drive's powers, the
    demodulator (not the canceller, which runs after it)."""
    import echo_sense_dsp

    room = sorted(p.name for p in (Path(echo_sense_dsp.__file__).parent / "room").glob("*.py"))
    return _files_key([f"presence/{n}.py" for n in ("demodulation", "probe", "drive")] + [f"room/{n}" for n in room])


def music_chunk_baseband(i: int, cal: Calibration, dev: dict[str, Any]) -> np.ndarray:
    """The i-th music chunk's capture, demodulated: (hops, baseband_hop, 4 mics + d, d^2, d^3) complex64.

    Rendered in full (the speaker's distortion in the probe band needs the real drive, so BasebandRoom cannot
    do it; about 2 min of one core per chunk) and cached, so any detector or model re-runs on it in seconds."""
    path = music_baseband_path(i, cal)
    if path.exists():
        cached: np.ndarray = np.load(path)
        return cached
    sc, _, level_db = long_music_scenario(i, dev)
    n = round(MUSIC_CHUNK_S * FS) // BLOCK * BLOCK
    drive = np.clip(probe(cal, n) + music(sc, level_db)[:n], -1, 1).astype(np.float32)
    room = LiveRoom(sc, loop=False)
    mics = room.mic_count
    demodulator = Demodulator(cal.frequency_hz, FS, mics + len(REGRESSOR_POWERS))
    hop = demodulator.hop_frames
    work = np.zeros((hop, mics + len(REGRESSOR_POWERS)), dtype=np.float32)
    out = np.zeros((n // hop, demodulator.baseband_hop, work.shape[1]), dtype=np.complex64)
    for h in range(n // hop):
        s0 = h * hop
        for b in range(s0, s0 + hop, BLOCK):  # the engine's blocks, as the live room renders them
            work[b - s0 : b - s0 + BLOCK, :mics] = room.process(drive[b : b + BLOCK, None])
        reference_regressors(drive[s0 : s0 + hop], work[:, mics:])
        out[h] = demodulator.process(work)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npy")
    np.save(tmp, out)
    tmp.replace(path)
    return out


def run_long_music_chunk(i: int, cal: Calibration, dev: dict[str, Any]) -> dict[str, Any]:
    """One music chunk: every scorer on the same cached capture (:func:`music_chunk_baseband`); cached."""
    import json

    path = long_music_chunk_path(i, cal)
    if path.exists():
        return json.loads(path.read_text())  # type: ignore[no-any-return]
    _, kinds, level_db = long_music_scenario(i, dev)
    baseband = music_chunk_baseband(i, cal, dev)
    dets = open_loop_detectors(cal)
    occupied: dict[str, list[bool]] = {s: [] for s in SCORERS}
    cpu = dict.fromkeys(SCORERS, 0.0)
    for hop in baseband:
        for s, det in dets.items():
            c0 = time.process_time()
            occupied[s].append(det.process_baseband(hop).occupied)
            cpu[s] += time.process_time() - c0
    head = {"scenario": i, "kinds": kinds, "music_dbfs": level_db}
    return save_chunk(path, head, occupied, cpu, len(baseband) * dets[SCORERS[0]].hop_frames / FS)


def open_loop_detectors(cal: Calibration) -> dict[str, PresenceDetector]:
    """One detector per scorer, duty cycle off (the probe plays all the time, as in the rendering)."""
    return {
        s: PresenceDetector(
            cal, mic_count=4, scorer=s, hold_time_s=HOLD_TIME_S, duty_cycle=DutyCycleSettings(enabled=False)
        )
        for s in SCORERS
    }


def save_chunk(
    path: Path, head: dict[str, Any], occupied: dict[str, list[bool]], cpu: dict[str, float], seconds: float
) -> dict[str, Any]:
    """A chunk's counts (false alarms = rising edges of occupancy) and the alarms' times (to trace one), written
    atomically to the cache."""
    import json

    occ = {s: np.asarray(v, dtype=int) for s, v in occupied.items()}
    rising = {s: np.flatnonzero(np.diff(o, prepend=0) == 1) for s, o in occ.items()}
    hop_s = seconds / len(next(iter(occ.values())))
    out = {
        **head,
        "seconds": seconds,
        "false_alarms": {s: len(r) for s, r in rising.items()},
        "alarm_times_s": {s: [round(float(h + 1) * hop_s, 2) for h in r] for s, r in rising.items()},
        "occupied_fraction": {s: float(o.mean()) for s, o in occ.items()},
        "cpu_s": cpu,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(out))
    tmp.replace(path)
    return out


def range_at_noise(self_noise_dbfs: float, n_near: int, n_far: int) -> dict[str, Any]:
    """Calibrate a device with this mic self-noise, then its walk-ins (neural), rendered at baseband."""
    from echo_sense_dsp.room import scenario_labels

    dev = device(self_noise_dbfs)
    cal = calibrate(dev)
    points = []
    for i, far in [(i, False) for i in range(n_near)] + [(i, True) for i in range(n_far)]:
        sc = walk_in(i, dev, far=far)
        room = BasebandRoom(sc, cal.frequency_hz, cal.probe_settings().amplitude)
        det = PresenceDetector(cal, mic_count=4, hold_time_s=HOLD_TIME_S, duty_cycle=DutyCycleSettings(enabled=False))
        hops = round(sc["duration_s"] * FS) // det.hop_frames
        mid_hop = det.hop_frames * room.rate_hz // FS
        decisions = [det.process_mid_rate(room.process(mid_hop)) for _ in range(hops)]
        labels = scenario_labels(load_scenario(sc), sc["duration_s"])
        entry_i = int(np.argmax(labels.occupied))
        t_entry = entry_i * labels.hop_s
        after = [d.t for d in decisions if d.t >= t_entry and d.occupied]
        points.append(((after[0] - t_entry) if after else np.inf, float(labels.nearest_distance_m[entry_i])))
    return {"cal": cal, "points": points}


def cpu_check(cal: Calibration, dev: dict[str, Any]) -> dict[str, float]:
    """Neural detector CPU (fraction of one core, all threads) on a walk-in and under loud music."""
    out = {}
    for key, (sc, music_db) in {"walk-in": (walk_in(0, dev), None), "music": (empties(dev, 45.0)[6][1], -6.0)}.items():
        mics, drive, _ = render(sc, cal, music_db)
        run = run_open(cal, mics, drive, "neural")
        out[key] = run.cpu_s / run.audio_s
    return out


def cpu_blas_default() -> str:
    """The CPU check in a child process whose BLAS keeps its default (all cores) thread pool."""
    import json

    env = {
        k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
    }
    proc = subprocess.run(
        [sys.executable, __file__, BLAS_DEFAULT_FLAG], env=env, capture_output=True, text=True, check=True
    )
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    return f"walk-in {percent(r['walk-in'])}, loud music {percent(r['music'])}"


def poisson_upper(k: int, exposure: float, confidence: float = 0.95) -> float:
    """One-sided upper confidence bound of a Poisson rate after k events in ``exposure``."""
    return float(chi2.ppf(confidence, 2 * (k + 1)) / 2.0 / exposure)


def percent(x: float) -> str:
    return f"{100.0 * x:.1f} %"


def print_long_table(long_runs: list[dict[str, Any]], *, music: bool = False) -> None:
    """A long empty-room run's table (without or with music): false alarms per distractor mix, per scorer."""
    long_s = sum(r["seconds"] for r in long_runs)
    if music:
        print(
            f"\nLong empty-room run with music: {len(long_runs)} random rooms x {MUSIC_CHUNK_S / 60:.0f} min = "
            f"{long_s / 3600:.1f} h, synthetic music at -30..-6 dBFS (full render at {FS} Hz; false alarms = rising "
            "edges of occupancy):\n"
        )
    else:
        print(
            f"\nLong empty-room run: {len(long_runs)} random rooms x {LONG_CHUNK_S / 60:.0f} min = "
            f"{long_s / 3600:.1f} h (rendered at baseband by BasebandRoom; false alarms = rising edges of occupancy):\n"
        )
    print("| distractors | rooms | hours | " + " | ".join(f"{s} false alarms" for s in SCORERS) + " |")
    print("|---|---|---|" + "---|" * len(SCORERS))
    for kinds in sorted({r["kinds"] for r in long_runs}):
        rs = [r for r in long_runs if r["kinds"] == kinds]
        cells = []
        for s in SCORERS:
            fa, exposure_s = long_false_alarms(rs, s)
            cells.append(
                f"{fa}" + ("" if exposure_s == sum(r["seconds"] for r in rs) else f" in {exposure_s / 3600:.2f} h")
            )
        print(f"| {kinds} | {len(rs)} | {sum(r['seconds'] for r in rs) / 3600:.2f} | " + " | ".join(cells) + " |")
    if not long_s:
        return
    cells = []
    for s in SCORERS:
        fa, exposure_s = long_false_alarms(long_runs, s)
        cells.append(
            f"{fa} in {exposure_s / 3600:.1f} h ({fa * 86400 / max(exposure_s, 1):.1f} / 24 h, "
            f"95 % bound {poisson_upper(fa, max(exposure_s, 1) / 86400):.1f})"
        )
    print(f"| all | {len(long_runs)} | {long_s / 3600:.2f} | " + " | ".join(cells) + " |")


def long_false_alarms(runs: list[dict[str, Any]], scorer: str) -> tuple[int, float]:
    """A scorer's false alarms and exposure (s) over the chunks it ran on (the baseline skips most of them)."""
    mine = [r for r in runs if scorer in r["false_alarms"]]
    return sum(r["false_alarms"][scorer] for r in mine), sum(r["seconds"] for r in mine)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer, shorter scenarios")
    parser.add_argument("--self-noise-dbfs", type=float, default=-100.0)
    parser.add_argument("--prerender", action="store_true", help="only render the open-loop suite into the cache")
    parser.add_argument(
        "--empty-hours",
        type=float,
        default=None,
        help="simulated hours of random empty rooms (fan, curtains + HVAC, next room) for the false-alarm rate; "
        "rendered at baseband in 10 min chunks, cached and resumable (default 2, --quick 0.5)",
    )
    parser.add_argument(
        "--music-hours",
        type=float,
        default=0.0,
        help="simulated hours of such rooms while music plays, for the false-alarm rate with music; full render "
        "in 5 min chunks (about half a core-hour per simulated hour), cached and resumable (default 0)",
    )
    parser.add_argument(
        "--cached-long-only", action="store_true", help="report only the long-run chunks already cached"
    )
    parser.add_argument("--long-only", action="store_true", help="only run (and cache) the long empty-room chunks")
    parser.add_argument(
        "--long-table-only", action="store_true", help="only print the long run's table from the cached chunks"
    )
    parser.add_argument(
        "--carry-long-from",
        metavar="KEY",
        help="reuse the no-music long run cached under this earlier code key (see carry_long_results); with "
        "--worker/--workers only the check is shared out, a last run without them copies",
    )
    parser.add_argument("--carry-check", type=int, default=48, help="chunks re-run to check a carry-over")
    parser.add_argument("--worker", type=int, default=0, help="with --long-only: this process's share ...")
    parser.add_argument("--workers", type=int, default=1, help="... of this many processes")
    parser.add_argument(BLAS_DEFAULT_FLAG, action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    empty_hours = args.empty_hours if args.empty_hours is not None else (0.5 if args.quick else 2.0)
    n_walk = 6 if args.quick else 12
    n_far = 3 if args.quick else 5
    empty_s = 20.0 if args.quick else 45.0
    seated_s = 60.0 if args.quick else 120.0  # longer than the hold time, or "held" means nothing
    dev = device(args.self_noise_dbfs)
    scorers = () if args.prerender else SCORERS
    t_start = time.time()
    cal = calibrate(dev)
    chunks = round(empty_hours * 3600.0 / LONG_CHUNK_S)
    music_chunks = round(args.music_hours * 3600.0 / MUSIC_CHUNK_S)
    if args.cpu_blas_default:
        import json

        print(json.dumps(cpu_check(cal, dev)))
        return 0
    if args.carry_long_from:
        same = carry_long_results(args.carry_long_from, chunks, args.carry_check, cal, dev, args.worker, args.workers)
        return 0 if same else 1
    if args.long_table_only:
        if chunks:
            print_long_table([run_long_chunk(i, cal, dev) for i in range(chunks) if long_chunk_path(i, cal).exists()])
        if music_chunks:
            cached = [i for i in range(music_chunks) if music_baseband_path(i, cal).exists()]
            print_long_table([run_long_music_chunk(i, cal, dev) for i in cached], music=True)
        return 0
    if args.long_only:
        for i in tqdm(range(args.worker, chunks, args.workers), desc="long empty runs", file=sys.stderr, mininterval=5):
            r = run_long_chunk(i, cal, dev)
            print(f"long run {i}: {r['kinds']}: {r['false_alarms']}", flush=True)
        mine = range(args.worker, music_chunks, args.workers)
        for i in tqdm(mine, desc="music runs", file=sys.stderr, mininterval=5):
            r = run_long_music_chunk(i, cal, dev)
            print(f"music run {i}: {r['kinds']}, {r['music_dbfs']:.0f} dBFS: {r['false_alarms']}", flush=True)
        return 0
    print(
        f"# Presence benchmark\n\nCPU: {_cpu()} | Python {platform.python_version()} | numpy {np.__version__} | "
        f"onnxruntime {onnxruntime.__version__} | commit {_commit()} | sample rate {FS} Hz | 4 mics\n"
    )
    print(
        f"Simulated device: self-noise {args.self_noise_dbfs:.0f} dBFS, default driver (roll-off 30 kHz, "
        f"2nd order). Calibration chose {cal.frequency_hz:.0f} Hz at {cal.level_db:.0f} dBFS, predicted range "
        f"{cal.expected_range_m:.1f} m{'; ' + '; '.join(cal.warnings) if cal.warnings else ''}.\n"
    )
    results: dict[str, dict[str, Any]] = {
        s: {"lat": [], "lat_music": [], "far": [], "fa": {}, "held": [], "held_music": [], "cpu": [], "duty": []}
        for s in SCORERS
    }
    empty_time = {"no music": 0.0, "music": 0.0}

    def latency(run: Run, labels: Any) -> tuple[float, float]:
        entry_i = int(np.argmax(labels.occupied))
        t_entry = entry_i * labels.hop_s
        dist = float(labels.nearest_distance_m[entry_i])
        after = run.t[(run.t >= t_entry) & run.occupied]
        return (float(after[0] - t_entry) if after.size else np.inf), dist

    for music_db, key in ((None, "lat"), (-12.0, "lat_music")):
        walk_ins = "walk-ins" + (" with music" if music_db else "")
        for i in tqdm(range(n_walk), desc=walk_ins, file=sys.stderr, mininterval=5):
            sc = walk_in(i, dev)
            mics, drive, labels = render(sc, cal, music_db)
            for s in scorers:
                run = run_open(cal, mics, drive, s)
                lat, dist = latency(run, labels)
                results[s][key].append((lat, dist))
                results[s]["cpu"].append(run.cpu_s / run.audio_s)
    for i in tqdm(range(n_far), desc="far walk-ins", file=sys.stderr, mininterval=5):
        sc = walk_in(i, dev, far=True)
        mics, drive, labels = render(sc, cal, None)
        for s in scorers:
            results[s]["far"].append(latency(run_open(cal, mics, drive, s), labels))
    for name, sc, music_db in tqdm(empties(dev, empty_s), desc="empty rooms", file=sys.stderr, mininterval=5):
        mics, drive, _ = render(sc, cal, music_db)
        empty_time["music" if music_db is not None else "no music"] += empty_s
        for s in scorers:
            run = run_open(cal, mics, drive, s)
            rising = int(np.sum(np.diff(run.occupied.astype(int)) == 1) + int(run.occupied[0]))
            results[s]["fa"][name] = (rising, float(run.occupied.mean()))
    if args.prerender:
        print("rendered the open-loop suite into", CACHE)
        return 0
    seated_cases = (("reading", None), ("typing", None), ("reading", -12.0))
    for i, (activity, music_db) in tqdm(list(enumerate(seated_cases)), desc="seated", file=sys.stderr, mininterval=5):
        sc = seated(i, dev, seated_s, activity)
        for s in SCORERS:
            run = run_closed(cal, sc, s, music_db)
            first = np.flatnonzero(run.occupied)
            held = float(run.occupied[first[0] :].mean()) if first.size else 0.0
            results[s]["held_music" if music_db is not None else "held"].append(held)
            results[s]["duty"].append(run.duty_occupied)
            results[s]["cpu"].append(run.cpu_s / run.audio_s)

    long_runs = []
    for i in tqdm(range(chunks), desc="long empty runs", file=sys.stderr, mininterval=5):
        if args.cached_long_only and not long_chunk_path(i, cal).exists():
            continue  # another process is still running it (--long-only workers)
        long_runs.append(run_long_chunk(i, cal, dev))
        print(f"long run {i}: {long_runs[-1]['kinds']}: {long_runs[-1]['false_alarms']}", file=sys.stderr, flush=True)
    music_runs = []
    for i in tqdm(range(music_chunks), desc="music runs", file=sys.stderr, mininterval=5):
        if args.cached_long_only and not music_baseband_path(i, cal).exists():
            continue
        music_runs.append(run_long_music_chunk(i, cal, dev))
    music_s = sum(r["seconds"] for r in music_runs)
    empty_time["music"] += music_s
    for s in SCORERS:
        results[s]["long_fa"], results[s]["long_s"] = long_false_alarms(long_runs, s)
        results[s]["music_fa"] = sum(r["false_alarms"][s] for r in music_runs)
    print(
        "| detector | walk-ins ≤ 4 m detected ≤ 1 s | median latency | p95 latency | false alarms / 24 h "
        "(no music) | held, minor motion only | walk-ins with music ≤ 1 s | false alarms / 24 h (music) | "
        "held with music | CPU (1 core) | emission duty, occupied |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for s in SCORERS:
        r = results[s]
        lats = np.array([x[0] for x in r["lat"] if x[1] <= 4.0])
        lats_m = np.array([x[0] for x in r["lat_music"] if x[1] <= 4.0])
        fa_nm = sum(v[0] for k, v in r["fa"].items() if not k.startswith("music")) + r["long_fa"]
        exposure_nm = empty_time["no music"] + r["long_s"]
        fa_m = sum(v[0] for k, v in r["fa"].items() if k.startswith("music")) + r["music_fa"]
        fin = lats[np.isfinite(lats)]
        name = "neural (CNN, ONNX)" if s == "neural" else "baseline: Doppler-energy threshold"
        print(
            f"| {name} | {percent(float(np.mean(lats <= 1.0)))} ({len(lats)}) | "
            f"{(np.median(fin) * 1000 if fin.size else float('nan')):.0f} ms | "
            f"{(np.percentile(fin, 95) * 1000 if fin.size else float('nan')):.0f} ms | "
            f"{fa_nm * 86400 / exposure_nm:.1f} ({fa_nm} in {exposure_nm / 3600:.1f} h; 95 % bound "
            f"{poisson_upper(fa_nm, exposure_nm / 86400):.1f}) | "
            f"{percent(float(np.mean(r['held'])))} | {percent(float(np.mean(lats_m <= 1.0)))} ({len(lats_m)}) | "
            f"{fa_m * 86400 / max(empty_time['music'], 1):.0f} ({fa_m} in {empty_time['music'] / 60:.1f} min; "
            f"95 % bound {poisson_upper(fa_m, empty_time['music'] / 86400):.0f}) | "
            f"{percent(float(np.mean(r['held_music'])))} | {percent(float(np.mean(r['cpu'])))} | "
            f"{percent(float(np.mean(r['duty'])))} |"
        )
    print("\nFalse alarms per empty-room scenario (rising edges; fraction of time occupied):\n")
    print("| scenario | " + " | ".join(SCORERS) + " |")
    print("|---|" + "---|" * len(SCORERS))
    for name in results[SCORERS[0]]["fa"]:
        cells = [f"{results[s]['fa'][name][0]} ({percent(results[s]['fa'][name][1])})" for s in SCORERS]
        print(f"| {name} ({empty_s:.0f} s) | " + " | ".join(cells) + " |")
    print_long_table(long_runs)
    if music_chunks:
        print_long_table(music_runs, music=True)
    print("\nRange: walk-ins by distance from the device at entry (detected within 1 s / total):\n")
    print("| entry distance | " + " | ".join(SCORERS) + " |")
    print("|---|" + "---|" * len(SCORERS))
    bins = [(0.0, 2.5), (2.5, 4.0), (4.0, 5.5), (5.5, 8.0)]
    for lo, hi in bins:
        cells = []
        for s in SCORERS:
            pts = [x for x in results[s]["lat"] + results[s]["far"] if lo <= x[1] < hi]
            cells.append(f"{sum(1 for x in pts if x[0] <= 1.0)}/{len(pts)}")
        print(f"| {lo:.1f}-{hi:.1f} m | " + " | ".join(cells) + " |")
    print(
        "\nRange against mic self-noise (neural; walk-ins rendered at baseband; digital MEMS mics of -26 dBFS "
        "sensitivity and 65 dB(A) SNR are about -91 dBFS(A) in 20 kHz, about -86 dBFS as white noise over 48 kHz; "
        "-100 dBFS takes a quiet mic):\n"
    )
    print(
        "| self-noise | calibration: probe, predicted range | "
        + " | ".join(f"{lo:.1f}-{hi:.1f} m" for lo, hi in bins)
        + " |"
    )
    print("|---|---|" + "---|" * len(bins))
    for noise in RANGE_NOISE_DBFS:
        rr = range_at_noise(noise, n_walk, n_far)
        c = rr["cal"]
        cells = []
        for lo, hi in bins:
            pts = [x for x in rr["points"] if lo <= x[1] < hi]
            cells.append(f"{sum(1 for x in pts if x[0] <= 1.0)}/{len(pts)}")
        print(
            f"| {noise:.0f} dBFS | {c.frequency_hz / 1000:.0f} kHz at {c.level_db:.0f} dBFS, "
            f"{c.expected_range_m:.1f} m | " + " | ".join(cells) + " |"
        )
    pinned = cpu_check(cal, dev)
    print(
        f"\nDetector CPU (neural, 96 kHz, 4 mics, all threads of the process, share of one core): BLAS pinned to "
        f"1 thread: walk-in {percent(pinned['walk-in'])}, loud music {percent(pinned['music'])}; BLAS with its "
        f"default thread pool ({os.cpu_count()} CPUs): {cpu_blas_default()}."
    )
    print(
        f"\nHold time {HOLD_TIME_S:.0f} s; seated scenarios run closed loop with the duty cycle on. False alarms "
        f"without music: the fixed suite ({empty_time['no music'] / 60:.0f} min, full render) plus the long run "
        f"({results['neural']['long_s'] / 3600:.1f} h at baseband; the baseline ran on the first "
        f"{results[SCORERS[-1]]['long_s'] / 3600:.1f} h of it); with music the fixed suite "
        f"({(empty_time['music'] - music_s) / 60:.1f} min) plus the music run ({music_s / 3600:.1f} h), both full "
        f"renders (music cannot be rendered at baseband). 95 % bounds are one-sided Poisson upper limits. "
        f"Wall time {time.time() - t_start:.0f} s."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
