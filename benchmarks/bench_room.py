# ruff: noqa: E402  (thread limits must be set before numpy is imported)
"""Room simulator speed: offline rendering and the live backend, on one core.

Usage: ``python benchmarks/bench_room.py [--offline-s 60] [--live-s 20]``

Prints markdown tables; asserts nothing. The process is pinned to one CPU and BLAS/FFT
threads are limited to 1 before numpy is imported.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse
import platform
import sys
import time
from typing import Any

import numpy as np
from common import cpu_name, git_commit
from tqdm import tqdm

from echo_sense_dsp.room import LiveRoom, RoomEngine, load_scenario, render_scenario, scenario_drive
from echo_sense_dsp.room.engine import OFFLINE_CHUNK_FRAMES
from echo_sense_dsp.room.scenario import Scenario

FS = 96000
BLOCK = 960  # 10 ms


def _two_people_and_fan(duration_s: float) -> Scenario:
    return load_scenario(
        {
            "name": "2_people_fan",
            "duration_s": duration_s,
            "seed": 11,
            "device": {"mic_count": 4},
            "people": [
                {
                    "name": "walker",
                    "keyframes": [
                        {"t_s": 0, "position_m": [1.0, 1.0], "posture": "walking"},
                        {"t_s": duration_s / 2, "position_m": [4.2, 3.0], "posture": "walking"},
                        {"t_s": duration_s, "position_m": [1.0, 1.0], "posture": "walking"},
                    ],
                },
                {
                    "name": "typist",
                    "keyframes": [{"t_s": 0, "position_m": [2.5, 3.0], "posture": "sitting", "activity": "typing"}],
                },
            ],
            "fans": [{"position_m": [3.5, 3.4, 1.0], "axis": [-0.6, -0.8, 0.0], "rpm": 1000}],
        }
    )


def bench_offline(duration_s: float) -> list[str]:
    rows = [
        "| scenario | audio_s | setup_cpu_s | render_cpu_s | rt_factor | render_wall_s |",
        "|---|---|---|---|---|---|",
    ]
    for preset in (_two_people_and_fan(duration_s), load_scenario("demo_day")):
        sc = preset
        if sc.duration_s > duration_s:
            sc = load_scenario({**sc.to_dict(), "duration_s": duration_s})
        c0 = time.process_time()
        RoomEngine(sc)
        setup = time.process_time() - c0
        c0, t0 = time.process_time(), time.perf_counter()
        with tqdm(total=100, unit="%", desc=f"render {sc.name}", file=sys.stderr, mininterval=5) as bar:
            render_scenario(sc, progress=lambda f: bar.update(round(100 * f) - bar.n))
        cpu, wall = time.process_time() - c0, time.perf_counter() - t0
        rows.append(
            f"| {sc.name} | {sc.duration_s:.0f} | {setup:.2f} | {cpu:.2f} | {sc.duration_s / cpu:.1f} | {wall:.2f} |"
        )
    return rows


def bench_live(duration_s: float) -> list[str]:
    rows = [
        "| stage | frame_size | mean_us | p99_us | budget_us | rt_factor | xruns |",
        "|---|---|---|---|---|---|---|",
    ]
    budget_us = BLOCK / FS * 1e6
    cases: list[tuple[str, Any]] = [
        ("LiveRoom empty_room", "empty_room"),
        ("LiveRoom 2 people + fan", _two_people_and_fan(60.0)),
        ("LiveRoom demo_day (t=50..)", "demo_day"),
    ]
    for label, scenario in cases:
        live = LiveRoom(scenario, loop=True)
        sc = live.scenario
        start = int(50 * FS) if "demo_day" in label else 0
        n_blocks = int(duration_s * FS / BLOCK)
        drive = scenario_drive(sc, live.driver_count, frames=start + n_blocks * BLOCK)
        if start:  # fast-forward to the busy part (talker, noise, fan, typing)
            for i in range(0, start, 16384):
                live.process(drive[i : min(i + 16384, start)])
        times = np.empty(n_blocks)
        for b in tqdm(range(n_blocks), desc=label, file=sys.stderr, mininterval=5):
            blk = drive[start + b * BLOCK : start + (b + 1) * BLOCK]
            t0 = time.thread_time()
            live.process(blk)
            times[b] = (time.thread_time() - t0) * 1e6
        mean, p99 = float(times.mean()), float(np.percentile(times, 99))
        xruns = int(np.sum(times > budget_us))
        rows.append(
            f"| {label} | {BLOCK} | {mean:.0f} | {p99:.0f} | {budget_us:.0f} | {budget_us / mean:.1f} | {xruns} |"
        )
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--offline-s", type=float, default=60.0, help="offline scenario length, s")
    parser.add_argument("--live-s", type=float, default=20.0, help="live blocks per case, s of audio")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    import onnxruntime

    print(f"CPU: {cpu_name()} (pinned to 1 core)  ")
    print(
        f"Python {platform.python_version()}, numpy {np.__version__}, onnxruntime {onnxruntime.__version__}, "
        f"commit {git_commit()}, sample rate {FS} Hz, 4 mics  "
    )
    print()
    print("CPU times (process/thread CPU seconds, one thread), since the machine may be shared.")
    print()
    print(f"Offline rendering (`render_scenario`, {OFFLINE_CHUNK_FRAMES}-frame chunks; target rt_factor >= 5):")
    print()
    print("\n".join(bench_offline(args.offline_s)))
    print()
    print("Live backend (`LiveRoom.process`, 10 ms blocks, thread CPU time; xruns = blocks over the budget):")
    print()
    print("\n".join(bench_live(args.live_s)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
