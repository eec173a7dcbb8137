"""Benchmark of the spatial renderer: separation, beam, coloration, latency and CPU per layout.

The acoustic model here is more detailed than the designer's: the designer uses Brown &
Duda's one-pole/one-zero head shadow with Woodworth's ITD; this benchmark evaluates the
designed FIR filters (truncated, as shipped) on the exact rigid-sphere solution (Duda &
Martens, 1998) at finite distance, over a grid of head positions and turns. Prints markdown
tables and asserts nothing.

Run: ``.venv/bin/python benchmarks/bench_spatial.py [--layouts a,b]``
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

import numpy as np
from common import environment_header
from numpy.typing import NDArray
from tqdm import tqdm

from echo_sense_dsp.physics import SPEED_OF_SOUND_M_S
from echo_sense_dsp.spatial import LAYOUTS, DeviceLayout, HeadPose, SpatialRenderer, design_filters
from echo_sense_dsp.spatial.acoustics import driver_to_ear_transfer, far_field_transfer, horizontal_directions
from echo_sense_dsp.spatial.design import (
    DEFAULT_SWEET_SPOT,
    SWEET_SPOTS,
    textbook_crosstalk_canceller,
    virtualiser_matrix,
)

SAMPLE_RATE = 48000
BLOCK_SIZE = 480
EVAL_FFT_SIZE = 8192
OCTAVES_HZ = (250, 500, 1000, 2000, 4000, 8000)
AVERAGE_BANDS_HZ = (250, 500, 1000, 2000, 4000)
BEAM_BANDS_HZ = (500, 1000, 2000, 4000)
ROOM_M = (5.0, 4.0, 2.7)
DEVICE_IN_ROOM_M = (0.6, 2.0, 1.0)
WALL_REFLECTION = 0.8  # pressure reflection coefficient (absorption 0.36)
IMAGE_ORDER = 6


def _header() -> str:
    return environment_header(SAMPLE_RATE)


def _freqs() -> NDArray[np.float64]:
    return np.fft.rfftfreq(EVAL_FFT_SIZE, 1.0 / SAMPLE_RATE)[1:].astype(np.float64)


def _fir_response(
    layout: DeviceLayout, mode: str, f: NDArray[np.float64], sweet_spot: str = "seat"
) -> NDArray[np.complex128]:
    """Shipped FIRs as (F, n_drivers, n_inputs) responses, the modelling delay removed."""
    filters = design_filters(layout, mode, SAMPLE_RATE, sweet_spot)
    spec = np.fft.rfft(filters.impulse_responses.astype(np.float64), n=EVAL_FFT_SIZE, axis=0)[1:]  # (F, I, N)
    spec *= np.exp(2j * np.pi * f * filters.delay_samples / SAMPLE_RATE)[:, None, None]
    return np.asarray(np.swapaxes(spec, 1, 2))


def _reference(layout: DeviceLayout, f: NDArray[np.float64]) -> NDArray[np.complex128]:
    r0 = float(np.linalg.norm(layout.listener.position_m))
    return np.asarray(np.exp(-2j * np.pi * f * r0 / SPEED_OF_SOUND_M_S) / r0)


def _band(f: NDArray[np.float64], centre_hz: float, octaves: float = 1.0) -> NDArray[np.bool_]:
    half = 2.0 ** (octaves / 2)
    return np.asarray((f >= centre_hz / half) & (f < centre_hz * half))


def separation_db(
    ears: NDArray[np.complex128],
    f: NDArray[np.float64],
    centres_hz: Sequence[float] | NDArray[np.float64] = OCTAVES_HZ,
    octaves: float = 1.0,
) -> NDArray[np.float64]:
    """Per band: mean over the two channels of ipsi/contra power ratio, dB. ears: (F, 2, 2)."""
    out = []
    for fc in centres_hz:
        b = _band(f, fc, octaves)
        left = np.sum(np.abs(ears[b, 0, 0]) ** 2) / np.sum(np.abs(ears[b, 1, 0]) ** 2)
        right = np.sum(np.abs(ears[b, 1, 1]) ** 2) / np.sum(np.abs(ears[b, 0, 1]) ** 2)
        out.append(5.0 * np.log10(left * right))
    return np.asarray(out)


def poses(layout: DeviceLayout) -> dict[str, HeadPose]:
    x, y, z = layout.listener.position_m
    grid = {"seat": HeadPose((x, y, z))}
    for dy in (0.1, -0.1, 0.3, -0.3):
        grid[f"y{dy * 100:+.0f}cm"] = HeadPose((x, y + dy, z))
    for yaw in (15.0, -15.0):
        grid[f"yaw{yaw:+.0f}deg"] = HeadPose((x, y, z), float(np.deg2rad(yaw)))
    for dx in (0.5, -0.5):
        grid[f"x{dx * 100:+.0f}cm"] = HeadPose((x + dx, y, z))
    return grid


def separation_table(layout: DeviceLayout) -> list[str]:
    f = _freqs()
    ref = _reference(layout, f)[:, None, None]
    systems = _profile_filters(layout, f)
    rows = [
        f"\n### Channel separation at the ears, {layout.name} (dB; sphere head model; octave bands)\n",
        "| position | system | " + " | ".join(f"{fc} Hz" for fc in OCTAVES_HZ) + " | avg 250-4k |",
        "|---|---|" + "---|" * (len(OCTAVES_HZ) + 1),
    ]
    for name, pose in poses(layout).items():
        plant = driver_to_ear_transfer(layout, f, pose, "sphere") / ref
        for label, filt in systems.items():
            sep = separation_db(plant @ filt, f)
            avg = float(np.mean(sep[: len(AVERAGE_BANDS_HZ)]))
            rows.append(f"| {name} | {label} | " + " | ".join(f"{s:.1f}" for s in sep) + f" | {avg:.1f} |")
    return rows


def _beam_bands(
    layout: DeviceLayout, w: NDArray[np.complex128], f: NDArray[np.float64]
) -> tuple[list[float], list[float]]:
    """Per octave of BEAM_BANDS_HZ: rejection at the worse of +/-90 deg and the largest drop within +/-45 deg, dB."""
    elevation = float(np.arctan2(layout.listener.height_m, layout.listener.distance_m))
    az = np.deg2rad(np.array([0.0, 45.0, -45.0, 90.0, -90.0, 30.0, -30.0, 15.0, -15.0]))
    far = far_field_transfer(layout, f, horizontal_directions(az, elevation))  # (F, T, N)
    resp = np.abs(np.einsum("ftn,fn->ft", far, w)) ** 2
    rejection = []
    lobe = []
    for fc in BEAM_BANDS_HZ:
        p = resp[_band(f, fc)].sum(axis=0)
        rejection.append(float(10 * np.log10(p[0] / max(p[3], p[4]))))
        lobe.append(float(10 * np.log10(p[0] / np.min(p[[1, 2, 5, 6, 7, 8]]))))
    return rejection, lobe


def beam_metrics(layout: DeviceLayout, f: NDArray[np.float64]) -> dict[str, dict[str, float]]:
    """Worst rejection, worst lobe drop and DRR of plain mono drive and of the centre beam."""
    out = {}
    for label, w in (
        ("plain", _fir_response(layout, "stereo", f).sum(axis=2)),
        ("beam", _fir_response(layout, "spatial", f)[:, :, 2]),
    ):
        rejection, lobe = _beam_bands(layout, w, f)
        out[label] = {"rejection": min(rejection), "drop": max(lobe), "drr": _drr_gain_db(layout, w, f)}
    return out


def beam_rows(layout: DeviceLayout) -> list[str]:
    f = _freqs()
    out = []
    for label, w in (
        ("plain (L+R)", _fir_response(layout, "stereo", f).sum(axis=2)),
        ("centre beam", _fir_response(layout, "spatial", f)[:, :, 2]),
    ):
        rejection, lobe = _beam_bands(layout, w, f)
        out.append(
            f"| {layout.name} | {label} | "
            + " | ".join(f"{r:.1f}" for r in rejection)
            + f" | {max(lobe):.1f} | {_drr_gain_db(layout, w, f):.1f} |"
        )
    return out


def _image_receivers(receiver: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Image-receiver positions and reflection counts of a shoebox (Allen & Berkley, 1979)."""
    positions = []
    orders = []
    rng = range(-IMAGE_ORDER, IMAGE_ORDER + 1)
    for mx in rng:
        for my in rng:
            for mz in rng:
                for px in (0, 1):
                    for py in (0, 1):
                        for pz in (0, 1):
                            m = np.array([mx, my, mz])
                            p = np.array([px, py, pz])
                            order = int(np.sum(np.abs(m - p) + np.abs(m)))
                            if order > IMAGE_ORDER:
                                continue
                            positions.append((1 - 2 * p) * receiver + 2 * m * np.asarray(ROOM_M))
                            orders.append(order)
    return np.asarray(positions), np.asarray(orders)


def _drr_gain_db(layout: DeviceLayout, weights: NDArray[np.complex128], f: NDArray[np.float64]) -> float:
    """Direct-to-reflected energy ratio at the seat in a shoebox, 500 Hz-4 kHz, dB (image method)."""
    device = np.asarray(DEVICE_IN_ROOM_M)
    seat = device + np.asarray(layout.listener.position_m)
    images, orders = _image_receivers(seat)
    offsets = images - device[None, :]
    dist = np.linalg.norm(offsets, axis=1)
    dirs = offsets / dist[:, None]
    band = (f >= 500 / np.sqrt(2)) & (f < 4000 * np.sqrt(2))
    far = far_field_transfer(layout, f[band], dirs)  # (F, T, N)
    power = np.abs(np.einsum("ftn,fn->ft", far, weights[band])) ** 2 / dist[None, :] ** 2
    power *= WALL_REFLECTION ** (2 * orders)[None, :]
    direct = power[:, orders == 0].sum()
    reflected = power[:, orders > 0].sum()
    return float(10 * np.log10(direct / reflected))


def coloration_db(layout: DeviceLayout, f: NDArray[np.float64]) -> dict[str, float]:
    """Max |deviation| of each L/R system from plain stereo at the seat (uncorrelated L, R), 1/3-octave, dB."""
    plant = driver_to_ear_transfer(layout, f, poses(layout)["seat"], "sphere") / _reference(layout, f)[:, None, None]
    centres = 100.0 * 2.0 ** (np.arange(0, 22) / 3.0)
    centres = centres[centres <= 16000]

    def smoothed(filt: NDArray[np.complex128]) -> NDArray[np.float64]:
        power = np.sum(np.abs(plant @ filt) ** 2, axis=(1, 2))
        return np.asarray([power[_band(f, fc, 1 / 3)].mean() for fc in centres])

    plain = smoothed(_fir_response(layout, "stereo", f))
    textbook = smoothed(textbook_crosstalk_canceller(layout, f))
    out = {"textbook CTC": float(np.max(np.abs(10 * np.log10(textbook / plain))))}
    for name in SWEET_SPOTS:
        sides = _fir_response(layout, "spatial", f, name)[:, :, :2]
        out[f"echo_sense {name}"] = float(np.max(np.abs(10 * np.log10(smoothed(sides) / plain))))
    return out


def textbook_latency_ms(layout: DeviceLayout) -> tuple[float, float]:
    """Textbook inverse: (pre-response, total length) holding 99.9 % of each part's energy, ms."""
    n = EVAL_FFT_SIZE
    f = np.fft.rfftfreq(n, 1.0 / SAMPLE_RATE)
    f[0] = 1.0
    h = np.fft.irfft(textbook_crosstalk_canceller(layout, f), n=n, axis=0)
    energy = np.sum(h**2, axis=(1, 2))
    pre = energy[n // 2 :][::-1]  # samples before t = 0, nearest first
    post = energy[: n // 2]
    pre_len = np.searchsorted(np.cumsum(pre) / max(pre.sum(), 1e-30), 0.999)
    post_len = np.searchsorted(np.cumsum(post) / max(post.sum(), 1e-30), 0.999)
    return float(pre_len / SAMPLE_RATE * 1e3), float((pre_len + post_len) / SAMPLE_RATE * 1e3)


def upmix_rows(rng: np.random.Generator) -> list[str]:
    seconds = 3.0
    n = int(seconds * SAMPLE_RATE)
    vocal = rng.standard_normal(n).astype(np.float32) * 0.1
    guitar = rng.standard_normal(n).astype(np.float32) * 0.1
    from echo_sense_dsp.spatial.upmix import CentreUpmixer

    rows = []
    for label, stereo in (
        ("centre-panned source", np.stack([vocal, vocal], 1)),
        ("hard-left source (no vocal)", np.stack([guitar, 0 * guitar], 1)),
        ("centre vocal + hard-left guitar", np.stack([vocal + guitar, vocal], 1)),
    ):
        up = CentreUpmixer(SAMPLE_RATE, BLOCK_SIZE)
        out = np.zeros((n, 3), np.float32)
        for k in range(0, n - BLOCK_SIZE + 1, BLOCK_SIZE):
            up.process(stereo[k : k + BLOCK_SIZE], out[k : k + BLOCK_SIZE])
        lat = up.latency_samples
        half = n // 2
        centre = out[half + lat :, 2]
        v = vocal[half : n - lat]
        vocal_in_c = float(np.dot(centre, v) / np.dot(v, v))  # ~0 where the input has no vocal
        c_db = 10 * np.log10(np.mean(centre**2) / np.mean(stereo[half:] ** 2))
        rows.append(f"| {label} | {c_db:.1f} | {vocal_in_c:.2f} |")
    return rows


def timing_rows() -> list[str]:
    rows = []
    x = (np.random.default_rng(1).standard_normal((BLOCK_SIZE, 2)) * 0.1).astype(np.float32)
    for layout in tqdm(LAYOUTS.values(), desc="timing", file=sys.stderr, mininterval=5):
        for mode in ("stereo", "spatial"):
            renderer = SpatialRenderer(layout, mode, SAMPLE_RATE, BLOCK_SIZE)
            for _ in range(50):
                renderer.process(x)
            times = []
            cpu_start = time.thread_time()
            for _ in range(1000):
                t0 = time.perf_counter()
                renderer.process(x)
                times.append(time.perf_counter() - t0)
            cpu_us = (time.thread_time() - cpu_start) / 1000 * 1e6
            us = np.asarray(times) * 1e6
            budget = BLOCK_SIZE / SAMPLE_RATE * 1e6
            rows.append(
                f"| {layout.name} {mode} -> {layout.n_drivers} drivers | {BLOCK_SIZE} | {us.mean():.0f} | "
                f"{np.percentile(us, 99):.0f} | {budget:.0f} | {us.mean() / budget:.3f} | "
                f"{int(np.sum(us > budget))} | {cpu_us:.0f} | {100 * cpu_us / budget:.1f} | "
                f"{renderer.latency_s * 1e3:.1f} |"
            )
    return rows


def _profile_filters(layout: DeviceLayout, f: NDArray[np.float64]) -> dict[str, NDArray[np.complex128]]:
    """L/R responses (F, N, 2) of every system compared, the virtualiser removed from echo_sense's."""
    inverse_virtualiser = np.linalg.inv(virtualiser_matrix(f))
    systems = {
        "plain stereo": _fir_response(layout, "stereo", f),
        "textbook CTC": textbook_crosstalk_canceller(layout, f),
    }
    for name in SWEET_SPOTS:
        systems[f"echo_sense {name}"] = _fir_response(layout, "spatial", f, name)[:, :, :2] @ inverse_virtualiser
    return systems


def _worse(values: list[float]) -> str:
    return f"{min(values):.1f}"


def summary_table(layout: DeviceLayout) -> list[str]:
    """One table per layout: every target of the issue as a row, the systems as columns."""
    f = _freqs()
    ref = _reference(layout, f)[:, None, None]
    systems = _profile_filters(layout, f)
    grid = poses(layout)

    def avg_sep(filt: NDArray[np.complex128], pose_name: str) -> float:
        plant = driver_to_ear_transfer(layout, f, grid[pose_name], "sphere") / ref
        return float(np.mean(separation_db(plant @ filt, f)[: len(AVERAGE_BANDS_HZ)]))

    def min_band_sep(filt: NDArray[np.complex128], pose_name: str) -> float:
        plant = driver_to_ear_transfer(layout, f, grid[pose_name], "sphere") / ref
        return float(np.min(separation_db(plant @ filt, f)[: len(AVERAGE_BANDS_HZ)]))

    groups = {
        "separation at the seat, avg 250 Hz-4 kHz (dB)": (">= 20", ["seat"], avg_sep),
        "separation at +/-10 cm, worse side (dB)": (">= 10", ["y+10cm", "y-10cm"], avg_sep),
        "separation at +/-30 cm, worse side (dB)": (">= 0", ["y+30cm", "y-30cm"], avg_sep),
        "  ... worst octave band at +/-30 cm (dB)": (">= 0", ["y+30cm", "y-30cm"], min_band_sep),
        "separation at +/-15 deg head turn, worse (dB)": (">= 10", ["yaw+15deg", "yaw-15deg"], avg_sep),
        "separation at +/-50 cm depth, worse (dB)": (">= 10", ["x+50cm", "x-50cm"], avg_sep),
    }
    names = list(systems)
    rows = [
        f"\n### {layout.name}: targets (sphere head; default profile: {DEFAULT_SWEET_SPOT})\n",
        "| metric | target | " + " | ".join(names) + " |",
        "|---|---|" + "---|" * len(names),
    ]
    for label, (target, pose_names, metric) in groups.items():
        cells = [_worse([metric(filt, p) for p in pose_names]) for filt in systems.values()]
        rows.append(f"| {label} | {target} | " + " | ".join(cells) + " |")
    colour = coloration_db(layout, f)
    rows.append(
        "| coloration vs plain, L/R uncorrelated, max 1/3-oct dev (dB) | <= 3 | 0.0 | "
        + " | ".join(f"{colour[n]:.1f}" for n in names[1:])
        + " |"
    )
    plain_peak = float(np.max(np.abs(systems["plain stereo"])))
    drive = []
    for name, filt in systems.items():
        full = filt if not name.startswith("echo_sense") else _fir_response(layout, "spatial", f, name.split()[1])
        drive.append(f"{20 * np.log10(float(np.max(np.abs(full[:, :, :2]))) / plain_peak):.1f}")
    rows.append("| drive: largest driver gain re plain (dB) | (limiter headroom) | " + " | ".join(drive) + " |")
    pre_ms, length_ms = textbook_latency_ms(layout)
    latency = ["0.0", f"{pre_ms:.1f} (length {length_ms:.1f})"]
    for name in SWEET_SPOTS:
        latency.append(f"{SpatialRenderer(layout, 'spatial', SAMPLE_RATE, BLOCK_SIZE, name).latency_s * 1e3:.1f}")
    rows.append("| added latency (ms) | <= 20 | " + " | ".join(latency) + " |")
    cpu = [f"{_core_pct(layout, 'stereo', DEFAULT_SWEET_SPOT):.1f}", "-"]
    cpu += [f"{_core_pct(layout, 'spatial', n):.1f}" for n in SWEET_SPOTS]
    rows.append("| CPU, 48 kHz stereo to the drivers (% of one core) | <= 10 | " + " | ".join(cpu) + " |")
    beam = beam_metrics(layout, f)
    shared = len(SWEET_SPOTS)
    for label, target, key in (
        ("centre beam: worst rejection at +/-90 deg, 500 Hz-4 kHz octaves (dB)", ">= 10", "rejection"),
        ("centre beam: worst main-lobe drop within +/-45 deg (dB)", "<= 3", "drop"),
        ("centre: direct-to-reverberant ratio in a shoebox room (dB)", "> plain", "drr"),
    ):
        rows.append(
            f"| {label} | {target} | {beam['plain'][key]:.1f} | - | "
            + " | ".join([f"{beam['beam'][key]:.1f}"] * shared)
            + " |"
        )
    return rows


def _core_pct(layout: DeviceLayout, mode: str, sweet_spot: str) -> float:
    """Thread CPU time per 10 ms block, % of the block's duration (median of 5 runs of 200 blocks)."""
    x = (np.random.default_rng(1).standard_normal((BLOCK_SIZE, 2)) * 0.1).astype(np.float32)
    renderer = SpatialRenderer(layout, mode, SAMPLE_RATE, BLOCK_SIZE, sweet_spot)
    for _ in range(20):
        renderer.process(x)
    runs = []
    for _ in range(5):
        start = time.thread_time()
        for _ in range(200):
            renderer.process(x)
        runs.append((time.thread_time() - start) / 200)
    return float(100 * np.median(runs) * SAMPLE_RATE / BLOCK_SIZE)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layouts", default=",".join(LAYOUTS))
    parser.add_argument("--detail", action="store_true", help="also per-position, per-band and per-stage tables")
    args = parser.parse_args()
    layouts = [LAYOUTS[name] for name in args.layouts.split(",")]
    print(_header())
    for layout in tqdm(layouts, desc="summary", file=sys.stderr, mininterval=5):
        print("\n".join(summary_table(layout)))
    print("\n### Upmix (3 s white-noise sources, second half)\n")
    print("| input | centre level re input (dB) | vocal gain in centre |")
    print("|---|---|---|")
    print("\n".join(upmix_rows(np.random.default_rng(7))))
    if not args.detail:
        return
    for layout in tqdm(layouts, desc="separation", file=sys.stderr, mininterval=5):
        print("\n".join(separation_table(layout)))
    print("\n### Centre beam: rejection at +/-90 deg (dB, octave bands), main-lobe drop over +/-45 deg, DRR\n")
    print(
        "| layout | signal | "
        + " | ".join(f"rej {fc} Hz" for fc in BEAM_BANDS_HZ)
        + " | max drop 0..45 deg (dB) | DRR (dB) |"
    )
    print("|---|---|" + "---|" * (len(BEAM_BANDS_HZ) + 2))
    for layout in tqdm(layouts, desc="centre beam", file=sys.stderr, mininterval=5):
        print("\n".join(beam_rows(layout)))
    print("\n### CPU (one 48 kHz stereo stream, block 480)\n")
    print("(wall-clock mean/p99 on a shared machine; cpu_us = thread CPU time per block)\n")
    print("| stage | frame_size | mean_us | p99_us | budget_us | rt_factor | xruns | cpu_us | core_pct | latency_ms |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    print("\n".join(timing_rows()))


if __name__ == "__main__":
    main()
