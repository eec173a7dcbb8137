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

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse
import platform
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime
from scipy.signal import butter, sosfilt

from echo_sense_dsp.presence import (
    Calibration,
    DutyCycleSettings,
    PresenceDetector,
    ProbeGenerator,
    analyse_calibration,
    plan_calibration,
)
from echo_sense_dsp.room import LiveRoom, load_scenario, render_scenario, scenario_drive

FS = 96000
BLOCK = 960  # the engine's 10 ms block
HOLD_TIME_S = 60.0  # the library default
ROOM = {"size_m": [5.0, 4.0, 2.7], "absorption": [0.2, 0.2, 0.25, 0.25, 0.3, 0.15]}
DEVICE_POS = [0.3, 2.0, 0.8]
SCORERS = ("neural", "energy_threshold")


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
        room = {"size_m": [8.0, 5.0, 2.7], "absorption": 0.2}
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
    c0 = time.thread_time()
    for s in range(0, len(drive), BLOCK):
        for d in det.process(mics[s : s + BLOCK], drive[s : s + BLOCK]):
            ts.append(d.t)
            occ.append(d.occupied)
    return Run(np.asarray(ts), np.asarray(occ), time.thread_time() - c0, len(drive) / FS)


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
        c0 = time.thread_time()
        for d in det.process(mics, drive):
            ts.append(d.t)
            occ.append(d.occupied)
        cpu += time.thread_time() - c0
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


def percent(x: float) -> str:
    return f"{100.0 * x:.1f} %"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer, shorter scenarios")
    parser.add_argument("--self-noise-dbfs", type=float, default=-100.0)
    parser.add_argument("--prerender", action="store_true", help="only render the open-loop suite into the cache")
    args = parser.parse_args()
    n_walk = 6 if args.quick else 12
    n_far = 3 if args.quick else 5
    empty_s = 20.0 if args.quick else 45.0
    seated_s = 60.0 if args.quick else 120.0  # longer than the hold time, or "held" means nothing
    dev = device(args.self_noise_dbfs)
    scorers = () if args.prerender else SCORERS
    t_start = time.time()
    cal = calibrate(dev)
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
        for i in range(n_walk):
            sc = walk_in(i, dev)
            mics, drive, labels = render(sc, cal, music_db)
            for s in scorers:
                run = run_open(cal, mics, drive, s)
                lat, dist = latency(run, labels)
                results[s][key].append((lat, dist))
                results[s]["cpu"].append(run.cpu_s / run.audio_s)
    for i in range(n_far):
        sc = walk_in(i, dev, far=True)
        mics, drive, labels = render(sc, cal, None)
        for s in scorers:
            results[s]["far"].append(latency(run_open(cal, mics, drive, s), labels))
    for name, sc, music_db in empties(dev, empty_s):
        mics, drive, _ = render(sc, cal, music_db)
        empty_time["music" if music_db is not None else "no music"] += empty_s
        for s in scorers:
            run = run_open(cal, mics, drive, s)
            rising = int(np.sum(np.diff(run.occupied.astype(int)) == 1) + int(run.occupied[0]))
            results[s]["fa"][name] = (rising, float(run.occupied.mean()))
    if args.prerender:
        print("rendered the open-loop suite into", CACHE)
        return 0
    for i, (activity, music_db) in enumerate((("reading", None), ("typing", None), ("reading", -12.0))):
        sc = seated(i, dev, seated_s, activity)
        for s in SCORERS:
            run = run_closed(cal, sc, s, music_db)
            first = np.flatnonzero(run.occupied)
            held = float(run.occupied[first[0] :].mean()) if first.size else 0.0
            results[s]["held_music" if music_db is not None else "held"].append(held)
            results[s]["duty"].append(run.duty_occupied)
            results[s]["cpu"].append(run.cpu_s / run.audio_s)

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
        fa_nm = sum(v[0] for k, v in r["fa"].items() if not k.startswith("music"))
        fa_m = sum(v[0] for k, v in r["fa"].items() if k.startswith("music"))
        fin = lats[np.isfinite(lats)]
        name = "neural (CNN, ONNX)" if s == "neural" else "baseline: Doppler-energy threshold"
        print(
            f"| {name} | {percent(float(np.mean(lats <= 1.0)))} ({len(lats)}) | "
            f"{(np.median(fin) * 1000 if fin.size else float('nan')):.0f} ms | "
            f"{(np.percentile(fin, 95) * 1000 if fin.size else float('nan')):.0f} ms | "
            f"{fa_nm * 86400 / max(empty_time['no music'], 1):.0f} "
            f"({fa_nm} in {empty_time['no music'] / 60:.0f} min) | "
            f"{percent(float(np.mean(r['held'])))} | {percent(float(np.mean(lats_m <= 1.0)))} ({len(lats_m)}) | "
            f"{fa_m * 86400 / max(empty_time['music'], 1):.0f} ({fa_m} in {empty_time['music'] / 60:.0f} min) | "
            f"{percent(float(np.mean(r['held_music'])))} | {percent(float(np.mean(r['cpu'])))} | "
            f"{percent(float(np.mean(r['duty'])))} |"
        )
    print("\nFalse alarms per empty-room scenario (rising edges; fraction of time occupied):\n")
    print("| scenario | " + " | ".join(SCORERS) + " |")
    print("|---|" + "---|" * len(SCORERS))
    for name in results[SCORERS[0]]["fa"]:
        cells = [f"{results[s]['fa'][name][0]} ({percent(results[s]['fa'][name][1])})" for s in SCORERS]
        print(f"| {name} ({empty_s:.0f} s) | " + " | ".join(cells) + " |")
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
        f"\nHold time {HOLD_TIME_S:.0f} s; seated scenarios run closed loop with the duty cycle on; "
        f"false-alarm rates are extrapolated from {sum(empty_time.values()) / 60:.0f} min of simulated empty rooms "
        f"(a rate of <= 1 / 24 h cannot be shown with this much data). Wall time {time.time() - t_start:.0f} s."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
