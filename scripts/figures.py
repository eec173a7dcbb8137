# ruff: noqa: E402  (thread limits must be set before numpy is imported)
"""Regenerate the README's figures from the real code: ``make figures`` (writes docs/img/*.png).

Usage: ``.venv/bin/python scripts/figures.py [--data ../shared/data] [--out docs/img] [--only NAME,...]``

Every figure runs the library (or the integration's own chart renderer) on simulated or
recorded input; nothing is drawn by hand. The denoiser figure mixes a LibriSpeech utterance
with a recorded noise from ``--data`` (the training pool, never copied here); without it, a
synthetic voiced signal in pink noise stands in so the command always works.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse
import json
import sys
import time
from collections.abc import Callable
from functools import cache
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from scipy.signal import stft

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

import bench_spatial as spatial_bench  # the benchmark's acoustic evaluation (one model in one place)

from custom_components.echo_sense.hub import SIMULATED_SCENARIO
from custom_components.echo_sense.plot import INK, PALETTE, SCALE, Figure, calibration_chart, polar
from echo_sense_dsp import room as room_package
from echo_sense_dsp.presence import (
    Calibration,
    DutyCycleSettings,
    PresenceDetector,
    ProbeGenerator,
    analyse_calibration,
    plan_calibration,
)
from echo_sense_dsp.presence.features import BAND_COUNT, VELOCITY_BAND_EDGES_M_S
from echo_sense_dsp.presence.live import CALIBRATION_TAIL_S
from echo_sense_dsp.presence.spectrogram import COLORMAP, DopplerHistory
from echo_sense_dsp.room import render_scenario
from echo_sense_dsp.spatial import LAYOUTS, SWEET_SPOTS, HeadPose
from echo_sense_dsp.spatial.acoustics import driver_to_ear_transfer, far_field_transfer, horizontal_directions
from echo_sense_dsp.voice import SAMPLE_RATE, Denoiser

SPEECH_FILE = "speech/clean/libri_tc100_1034-121119-0000.flac"
NOISE_FILE = "speech/noise/emgse_street_1.flac"
MIX_SNR_DB = 5.0
CLIP_S = 6.0
LAYOUT = "studio-array"  # the layout with the most drivers in a row: the clearest beam
BEAM_BANDS_HZ = (500, 1000, 2000, 4000)
SIDE_STEPS_M = (0.0, 0.1, 0.3)  # the listener's head at the seat and moved sideways
SAMPLE_RATE_PROBE = 96000  # the simulated hub's rate
HOP_S = 0.02  # one presence decision (and spectrogram column) per hop
WALK_IN = [  # someone enters at 2 s, walks about, leaves at 9 s; the room stays empty afterwards
    {"t_s": 0.0, "position_m": [4.6, -0.6], "posture": "absent"},
    {"t_s": 2.0, "position_m": [4.6, -0.6], "posture": "walking"},
    {"t_s": 4.0, "position_m": [3.5, 1.5], "posture": "walking"},
    {"t_s": 7.0, "position_m": [1.8, 2.5], "posture": "walking"},
    {"t_s": 9.0, "position_m": [4.6, -0.6], "posture": "absent"},
]
WALK_IN_S = 16.0
HOLD_TIME_S = 4.0  # short, so the figure shows occupancy clearing (the default is 60 s)


def load_audio(path: Path) -> NDArray[np.float32]:
    """Decode a mono 16 kHz file with PyAV (Home Assistant ships it)."""
    import av

    with av.open(str(path)) as container:
        frames = [f.to_ndarray().reshape(-1) for f in container.decode(audio=0)]
    x = np.concatenate(frames).astype(np.float32)
    return x / 32768.0 if np.abs(x).max() > 1.5 else x


def speech_and_noise(data: Path) -> tuple[NDArray[np.float32], NDArray[np.float32], str]:
    """A clean utterance and a noise of ``CLIP_S`` s, from the pool or synthetic."""
    n = round(CLIP_S * SAMPLE_RATE)
    if (data / SPEECH_FILE).exists() and (data / NOISE_FILE).exists():
        clean, noise = load_audio(data / SPEECH_FILE), load_audio(data / NOISE_FILE)
        return clean[:n], np.resize(noise, n), "LibriSpeech utterance + recorded street noise"
    rng = np.random.default_rng(8)
    t = np.arange(n) / SAMPLE_RATE
    f0 = 120.0 + 40.0 * np.sin(2 * np.pi * 0.3 * t)
    phase = 2 * np.pi * np.cumsum(f0) / SAMPLE_RATE
    voiced = sum(np.sin(k * phase) / k for k in range(1, 30) if k * 160 < 7000)
    syllables = np.clip(np.sin(2 * np.pi * 2.5 * t), 0, None) ** 2
    spectrum = np.fft.rfft(rng.standard_normal(n))
    pink = np.fft.irfft(spectrum / np.sqrt(np.maximum(np.fft.rfftfreq(n, 1 / SAMPLE_RATE), 50.0)), n)
    return (voiced * syllables).astype(np.float32), pink.astype(np.float32), "synthetic voiced signal + pink noise"


def spectrogram_rgb(x: NDArray[np.float32], floor_db: float, span_db: float = 70.0) -> NDArray[np.uint8]:
    """Log-power STFT (32 ms Hann, 8 ms hop) in the presence spectrogram's colours, high frequencies on top."""
    _, _, z = stft(x, SAMPLE_RATE, nperseg=512, noverlap=384)
    db = 10 * np.log10(np.abs(z) ** 2 + 1e-12)
    index = np.clip((db - floor_db) / span_db * 255, 0, 255).astype(np.intp)
    return COLORMAP[index[::-1]]


def denoiser_figure(data: Path) -> tuple[Figure, str]:
    clean, noise, source = speech_and_noise(data)
    gain = np.sqrt(np.mean(clean**2) / np.mean(noise**2) / 10 ** (MIX_SNR_DB / 10))
    noisy = (clean + gain * noise).astype(np.float32)
    peak = np.abs(noisy).max()
    noisy, clean = noisy / peak * 0.5, clean / peak * 0.5
    denoised = Denoiser().process(noisy)
    top = 10 * np.log10(np.max(np.abs(stft(noisy, SAMPLE_RATE, nperseg=512, noverlap=384)[2]) ** 2))
    fig = Figure(900, 620)
    panels = (("Noisy input", noisy), ("Denoised (echo_sense Denoiser)", denoised), ("Clean reference", clean))
    for i, (title, x) in enumerate(panels):
        box = (70, 40 + i * 190, 880, 40 + i * 190 + 140)
        ax = fig.axes(box, (0, CLIP_S), (0, SAMPLE_RATE / 2000), title=title, y_label="kHz", grid=False)
        ax.image(spectrogram_rgb(x, top - 70.0))
    fig.text((475, 612), f"time (s); {source}, {MIX_SNR_DB:g} dB SNR", "md")
    return fig, "denoiser.png"


def _band_power(resp: NDArray[np.float64], f: NDArray[np.float64], centre_hz: float) -> NDArray[np.float64]:
    return np.asarray(resp[spatial_bench._band(f, centre_hz)].sum(axis=0))


def beam_figure(_: Path) -> tuple[Figure, str]:
    layout = LAYOUTS[LAYOUT]
    f = spatial_bench._freqs()
    az = np.deg2rad(np.arange(-180.0, 180.5, 2.0))
    elevation = float(np.arctan2(layout.listener.height_m, layout.listener.distance_m))
    far = far_field_transfer(layout, f, horizontal_directions(az, elevation))  # (F, T, N)
    fig = Figure(900, 470)
    weights = (
        ("Plain stereo, L+R", spatial_bench._fir_response(layout, "stereo", f).sum(axis=2)),
        ("echo_sense centre beam", spatial_bench._fir_response(layout, "spatial", f)[:, :, 2]),
    )
    for i, (title, w) in enumerate(weights):
        draw = polar(fig, (225 + i * 450, 250), 160, -30.0, title)
        resp = np.abs(np.einsum("ftn,fn->ft", far, w)) ** 2
        for k, fc in enumerate(BEAM_BANDS_HZ):
            p = _band_power(resp, f, fc)
            draw(az, 10 * np.log10(p / p[np.argmin(np.abs(az))]), PALETTE[k])
    for k, fc in enumerate(BEAM_BANDS_HZ):
        fig.draw.line(
            [((310 + k * 90) * SCALE, 452 * SCALE), ((330 + k * 90) * SCALE, 452 * SCALE)], PALETTE[k], 3 * SCALE
        )
        fig.text((335 + k * 90, 452), f"{fc / 1000:g} kHz", "lm")
    fig.text((450, 20), f"Horizontal directivity, {layout.name}, octave bands; 0° points at the listener", "mm", px=15)
    return fig, "spatial_beam.png"


def separation_figure(_: Path) -> tuple[Figure, str]:
    layout = LAYOUTS[LAYOUT]
    f = spatial_bench._freqs()
    centres = 200.0 * 2.0 ** (np.arange(0, 17) / 3.0)
    ref = spatial_bench._reference(layout, f)[:, None, None]
    filters = spatial_bench._profile_filters(layout, f)  # the benchmark's systems, textbook CTC left out
    systems = [("plain stereo", filters["plain stereo"], (120, 120, 120))]
    systems += [(f"spatial, {spot}", filters[f"echo_sense {spot}"], PALETTE[k]) for k, spot in enumerate(SWEET_SPOTS)]
    x, y, z = layout.listener.position_m
    ticks = [(v, f"{v / 1000:g}k" if v >= 1000 else f"{v:g}") for v in (200, 500, 1000, 2000, 5000)]
    fig = Figure(900, 400)
    fig.text(
        (450, 18), f"Channel separation at the ears vs frequency, {layout.name} (sphere head, 1/3 octaves)", "mm", px=15
    )
    for i, side_m in enumerate(SIDE_STEPS_M):
        left = 70 + i * 280
        title = "at the seat" if side_m == 0 else f"{side_m * 100:g} cm to the side"
        ax = fig.axes(
            (left, 60, left + 250, 350),
            (centres[0], centres[-1]),
            (-15.0, 35.0),
            x_log=True,
            x_ticks=ticks,
            title=title,
            x_label="Hz",
            y_label="L/R separation (dB)" if i == 0 else "",
        )
        plant = driver_to_ear_transfer(layout, f, HeadPose((x, y + side_m, z)), "sphere") / ref
        for _label, filt, colour in systems:
            ax.line(centres, spatial_bench.separation_db(plant @ filt, f, centres, 1 / 3), colour, 2.5)
    ax.legend([(label, colour) for label, _, colour in systems], "tr")
    return fig, "spatial_separation.png"


def demo_room(name: str, duration_s: float, people: list[dict[str, object]]) -> dict[str, object]:
    """A scenario in the demo household's room (the simulated hub's), with only ``people`` in it."""
    home = json.loads((Path(room_package.__file__).parent / "scenarios" / f"{SIMULATED_SCENARIO}.json").read_text())
    return {
        "name": name,
        "duration_s": duration_s,
        "seed": 11,
        "room": home["room"],
        "device": home["device"],
        "people": people,
    }


@cache
def simulated_calibration() -> Calibration:
    """The real calibration sweep through the demo room while it is empty, analysed as the config flow does.

    Offline rather than through the live engine: in the running demo the household's visitor
    walks in during the sweep at a time that depends on scheduling, which would make the figure vary.
    """
    plan = plan_calibration(SAMPLE_RATE_PROBE)
    drive = np.zeros(len(plan.signal) + round(CALIBRATION_TAIL_S * SAMPLE_RATE_PROBE), dtype=np.float32)
    drive[: len(plan.signal)] = plan.signal
    sc = demo_room("figure_calibration", len(drive) / SAMPLE_RATE_PROBE, [])
    return analyse_calibration(render_scenario(sc, drive=drive).mics, drive, plan)


def calibration_figure(_: Path) -> tuple[Figure, str]:
    return calibration_chart(simulated_calibration(), (900, 420)), "calibration.png"


def doppler_figure(_: Path) -> tuple[Figure, str]:
    cal = simulated_calibration()
    sc = demo_room("figure_walk_in", WALK_IN_S, [{"name": "visitor", "keyframes": WALK_IN}])
    fs = cal.sample_rate
    drive = ProbeGenerator(cal.probe_settings()).generate(round(WALK_IN_S * fs))
    mics = render_scenario(sc, drive=drive).mics
    detector = PresenceDetector(
        cal,
        hold_time_s=HOLD_TIME_S,
        sample_rate=fs,
        mic_count=mics.shape[1],
        duty_cycle=DutyCycleSettings(enabled=False),
    )
    history = DopplerHistory(BAND_COUNT, frames=round(WALK_IN_S / HOP_S), band_height=1, strip_height=6)
    block = fs // 100
    for s in range(0, len(drive), block):
        for decision in detector.process(mics[s : s + block], drive[s : s + block]):
            spectrum = detector.doppler_spectrum_db
            if spectrum is not None and decision.sensing:  # nothing is shown before sensing starts
                history.push(spectrum, decision.occupied, decision.motion)
    rgb = history.to_image_array()
    fig = Figure(900, 460)
    edges = VELOCITY_BAND_EDGES_M_S
    half = BAND_COUNT // 2
    ticks = [(half + i, f"+{v:g}") for i, v in enumerate(edges) if i % 2 == 0]
    ticks += [(half - i, f"-{v:g}") for i, v in enumerate(edges) if i % 2 == 0 and i]
    body = fig.axes(
        (90, 40, 880, 340),
        (0, WALK_IN_S),
        (0, BAND_COUNT),
        x_ticks=[],
        y_ticks=ticks,
        grid=False,
        title=f"Doppler spectrogram of a walk-in ({cal.frequency_hz / 1000:g} kHz probe)",
        y_label="velocity (m/s)",
    )
    body.image(rgb[:BAND_COUNT])
    strip = fig.axes((90, 350, 880, 375), (0, WALK_IN_S), (0, 1), y_ticks=[], x_label="time (s)", grid=False)
    strip.image(rgb[BAND_COUNT:])
    for t, what in ((2.0, "walks in"), (9.0, "leaves")):
        body.line([t, t], [0, BAND_COUNT], (255, 255, 255), 1.5, dashed=True)
        body.label(t, BAND_COUNT, what, "la", dx=4, dy=4, fill=(255, 255, 255))
    legend = "decisions: grey none, amber minor motion, red major motion; white top line: occupied"
    fig.text((90, 420), f"{legend} (hold time {HOLD_TIME_S:g} s)", "la", fill=INK)
    return fig, "doppler_walk_in.png"


FIGURES: dict[str, Callable[[Path], tuple[Figure, str]]] = {
    "denoiser": denoiser_figure,
    "beam": beam_figure,
    "separation": separation_figure,
    "calibration": calibration_figure,
    "doppler": doppler_figure,
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data", help="the speech/noise pool")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "img")
    parser.add_argument("--only", default=",".join(FIGURES), help="comma-separated: " + ", ".join(FIGURES))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    names = args.only.split(",")
    for i, name in enumerate(names, 1):
        print(f"[{i}/{len(names)}] {name} ...", end=" ", flush=True)
        start = time.perf_counter()
        fig, filename = FIGURES[name](args.data)
        (args.out / filename).write_bytes(fig.png(palette=True))
        print(f"{time.perf_counter() - start:.1f} s -> {args.out / filename}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
