"""Benchmark of the audio engine alone: 96 kHz, 4 mics in, 2 drivers out, 10 ms blocks.

Load per block: media playing on the media bus (48 kHz stereo, resampled to 96 kHz), an
announcement every other second (ducking ramps), a 40 kHz probe tone on the probe bus, and two
subscribers: presence (all 4 mics at 96 kHz with the drive reference) and voice (mic 0 at
16 kHz). The room is a loopback (drive summed, delayed, attenuated into every mic); its cost
is not the engine's and is left out of the stage table.

1. Stage table: each stage timed over ``--blocks`` blocks in lock-step, the callback and the
   worker's steps called in order on one thread. Times are that thread's CPU time
   (``time.thread_time``), so a busy shared machine's preemption does not count; the last row
   gives the wall-clock total for comparison.
   ``rt_factor`` = mean time / block duration; CPU % of one core = 100 x rt_factor.
2. Real-time run: the same engine paced by the wall clock for ``--seconds`` with consumer
   threads pulling both subscriptions; reports the worker's CPU load, xruns and latency.

Usage: ``python benchmarks/bench_engine.py [--blocks N] [--seconds S]``. Prints markdown,
asserts nothing.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from collections.abc import Callable

import numpy as np
from common import environment_header
from numpy.typing import NDArray
from tqdm import tqdm

from echo_sense_dsp.audio import AudioEngine, SimulatedBackend, Subscription

RATE_HZ = 96_000
MICS = 4
DRIVERS = 2
FRAMES = 960
BUDGET_US = FRAMES / RATE_HZ * 1e6
PROBE_HZ = 40_000.0
LOOP_DELAY_FRAMES = 37


def _header() -> str:
    return environment_header(
        RATE_HZ, f"block {FRAMES} frames ({BUDGET_US / 1000:g} ms)", f"{MICS} mics in, {DRIVERS} drivers out"
    )


class LoopbackRoom:
    """Every mic hears the sum of the drivers, delayed and attenuated (RoomModel protocol)."""

    sample_rate = RATE_HZ
    mic_count = MICS
    driver_count = DRIVERS

    def __init__(self) -> None:
        self._line = np.zeros(LOOP_DELAY_FRAMES + FRAMES, np.float32)
        self._mics = np.zeros((FRAMES, MICS), np.float32)

    def process(self, drive_block: NDArray[np.float32]) -> NDArray[np.float32]:
        n = drive_block.shape[0]
        self._line[LOOP_DELAY_FRAMES : LOOP_DELAY_FRAMES + n] = drive_block.sum(axis=1) * 0.5
        self._mics[:n] = self._line[:n, np.newaxis]
        self._line[:LOOP_DELAY_FRAMES] = self._line[n : n + LOOP_DELAY_FRAMES]
        return self._mics[:n]


class ToneSource:
    """The probe: a continuous tone, phase kept across blocks, one preallocated output."""

    def __init__(self) -> None:
        self._table = (0.05 * np.sin(2 * np.pi * PROBE_HZ * np.arange(RATE_HZ) / RATE_HZ)).astype(np.float32)
        self._out = np.zeros((FRAMES, 1), np.float32)
        self._pos = 0

    def __call__(self, frames: int) -> NDArray[np.float32]:
        # 40 kHz at 96 kHz repeats every 12 samples; a 1 s table wraps seamlessly.
        start = self._pos % (RATE_HZ - frames)
        start -= start % 12
        self._out[:frames, 0] = self._table[start : start + frames]
        self._pos += frames
        return self._out[:frames]


def _build(backend_factory: Callable[[], SimulatedBackend]) -> tuple[AudioEngine, Subscription, Subscription]:
    engine = AudioEngine(
        backend_factory, sample_rate=RATE_HZ, input_channels=MICS, output_channels=DRIVERS, bus_capacity_s=4.0
    )
    presence = engine.subscribe_input("presence", with_reference=True, max_queue_blocks=8192)
    voice = engine.subscribe_input("voice", channels=[0], sample_rate=16_000, max_queue_blocks=8192)
    engine.probe_bus.set_source(ToneSource())
    return engine, presence, voice


def _media(seconds: float, rng: np.random.Generator) -> NDArray[np.float32]:
    return (0.2 * rng.standard_normal((int(seconds * 48_000), 2))).astype(np.float32)


def _row(stage: str, samples_s: list[float], xruns: str = "-", frames: int = FRAMES) -> str:
    us = np.asarray(samples_s) * 1e6
    mean, p99 = float(us.mean()), float(np.percentile(us, 99))
    return f"| {stage} | {frames} | {mean:.1f} | {p99:.1f} | {BUDGET_US:.0f} | {mean / BUDGET_US:.4f} | {xruns} |"


def stage_table(blocks: int, rng: np.random.Generator) -> tuple[list[str], float]:
    engine, presence, voice = _build(lambda: SimulatedBackend(LoopbackRoom(), realtime=False, max_blocks=0))
    engine._open_backend()  # rings primed; this benchmark drives the callback itself
    engine._close_backend()
    room = LoopbackRoom()
    outdata = np.zeros((FRAMES, DRIVERS), np.float32)
    announcement = (0.1 * rng.standard_normal((48_000, 2))).astype(np.float32)
    timings: dict[str, list[float]] = {
        k: [] for k in ("callback", "fanout_presence", "fanout_voice", "buses", "mix", "limiter", "total")
    }
    perf = time.thread_time  # CPU time of this thread: what "% of one core" means; preemption excluded
    wall = time.perf_counter
    wall_total: list[float] = []
    n_in = MICS
    for k in tqdm(range(blocks), desc="lock-step blocks", file=sys.stderr, mininterval=5):
        if engine.media_bus.queued_s < 0.5:
            engine.media_bus.write(_media(2.0, rng))
        if k % 200 == 0:  # a 1 s announcement every 2 s
            engine.announcement_bus.write(announcement)
        indata = room.process(outdata)
        w0 = wall()
        t0 = perf()
        engine._callback(indata, outdata, FRAMES)
        t1 = perf()
        slot = engine._in_ring.read_slot()
        assert slot is not None
        mics, drive = slot[:, :n_in], slot[:, n_in:]
        presence._offer(mics, drive, k, 1)
        t2 = perf()
        voice._offer(mics, drive, k, 1)
        t3 = perf()
        engine._in_ring.commit_read()
        engine.blocks_processed += 1
        out = engine._out_ring.write_slot()
        assert out is not None
        engine._render_bus(engine.media_bus, engine._media_resampler, engine._media)
        announcing = engine._render_bus(engine.announcement_bus, engine._announcement_resampler, engine._announcement)
        t4 = perf()
        gain = engine.ducker.update(announcing)
        np.multiply(engine._media[:FRAMES], gain, out=out)
        out += engine._announcement[:FRAMES]
        engine.probe_bus.add_into(out)
        t5 = perf()
        engine.limiter.process(out)
        engine._out_ring.commit_write()
        t6 = perf()
        wall_total.append(wall() - w0)
        for key, dt in zip(timings, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4, t6 - t5, t6 - t0), strict=True):
            timings[key].append(dt)
        # consumers drain (their own threads in real use; not engine time)
        while presence.get(timeout=0) is not None:
            pass
        while voice.get(timeout=0) is not None:
            pass
    xruns = f"{engine.overruns + engine.underruns}"
    rows = [
        _row("device callback (copy in/out + reference)", timings["callback"], xruns),
        _row("fan-out presence (4 mics + drive, 96 kHz)", timings["fanout_presence"]),
        _row("fan-out voice (mic 0, 96 -> 16 kHz)", timings["fanout_voice"], frames=FRAMES),
        _row("media + announcement buses (48 -> 96 kHz)", timings["buses"]),
        _row("ducking + probe mix", timings["mix"]),
        _row("soft limiter", timings["limiter"]),
        _row("**engine total (callback + worker)**", timings["total"], xruns),
        _row("engine total, wall clock (includes preemption by other processes)", wall_total, xruns),
    ]
    return rows, float(np.mean(timings["total"])) / (BUDGET_US * 1e-6)


def realtime_run(seconds: float, rng: np.random.Generator) -> dict[str, object]:
    engine, presence, voice = _build(lambda: SimulatedBackend(LoopbackRoom(), realtime=True))
    stop = threading.Event()

    def drain(sub: Subscription) -> None:
        while not stop.is_set():
            sub.get(timeout=0.1)

    consumers = [threading.Thread(target=drain, args=(s,), name=f"bench-{s.name}") for s in (presence, voice)]
    engine.media_bus.write(_media(3.5, rng))
    for c in consumers:
        c.start()
    wall0, cpu0 = time.monotonic(), time.process_time()
    engine.start()
    end = wall0 + seconds
    bar = tqdm(total=round(seconds), unit="s", desc="real-time run", file=sys.stderr, mininterval=5)
    while time.monotonic() < end:
        if engine.media_bus.queued_s < 1.0:
            engine.media_bus.write(_media(2.0, rng), timeout=0)
        time.sleep(0.05)
        bar.update(min(round(time.monotonic() - wall0), bar.total) - bar.n)
    bar.close()
    stats = engine.stats()
    process_load = (time.process_time() - cpu0) / (time.monotonic() - wall0)
    engine.stop()
    stop.set()
    for c in consumers:
        c.join()
    stats["process_cpu_load"] = process_load
    return stats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blocks", type=int, default=3000, help="blocks timed in lock-step (default 30 s of audio)")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of the real-time run")
    args = parser.parse_args()
    rng = np.random.default_rng(3)
    print(_header())
    print()
    rows, rt = stage_table(args.blocks, rng)
    print(f"### Engine stages, lock-step, {args.blocks} blocks")
    print()
    print("| stage | frame_size | mean_us | p99_us | budget_us | rt_factor | xruns |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    print("\n".join(rows))
    print()
    print(f"Engine alone: **{100 * rt:.2f} % of one core** (target <= 3 %).")
    print()
    stats = realtime_run(args.seconds, rng)
    print(f"### Real-time run, {args.seconds:g} s (SimulatedBackend paced by the clock, two consumer threads)")
    print()
    print("| metric | value |")
    print("| --- | --- |")
    for key in ("blocks_processed", "overruns", "underruns", "device_output_underflows", "dropped_consumers"):
        print(f"| {key} | {stats[key]} |")
    print(f"| worker cpu_load (worker thread CPU / audio time) | {100 * float(stats['cpu_load']):.2f} % |")  # type: ignore[arg-type]
    print(
        f"| whole process CPU (engine + simulated device + room + consumers) | "
        f"{100 * float(stats['process_cpu_load']):.2f} % |"  # type: ignore[arg-type]
    )
    print(f"| latency_s (device + output prefill) | {float(stats['latency_s']) * 1000:.1f} ms |")  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
