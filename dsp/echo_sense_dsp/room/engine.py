"""The room engine: drive in, microphone signals out, one block at a time.

Signal chain per block (all stages keep state, so any partition of the timeline into blocks
gives the same output as one long render):

1. ``driver_model``: the drive passes a memory polynomial
   y = x + a2 x^2 + a3 x^3 + k e x, with e the low-passed drive (cone excursion, which a
   small driver's Bl(x) follows), so loud bass amplitude-modulates the probe into sidebands
   (intermodulation), then a Butterworth roll-off above ``rolloff_hz``.
2. ``static_paths``: direct coupling and image-source reflections, a fixed impulse response
   per (driver, mic): its first 1024 taps by FFT convolution per block, the rest by a
   uniformly partitioned convolution on a fixed 1024-frame grid (it needs only older input).
3. ``moving_paths``: point reflectors (people, fans, curtains, points) and HVAC-jittered wall
   reflections, with true time-varying path lengths. In the scatter band (28-44 kHz at
   96 kHz; 0.29-0.46 fs) the radiated signal is demodulated to complex baseband a(t) and
   decimated by 3; each path then contributes g(t) a(t - tau(t)) exp(-j 2 pi f_c tau(t)), with tau(t) computed at
   the control rate (0.5 ms) and interpolated per sample, a(.) read with cubic Lagrange
   fractional-delay interpolation; the sum is interpolated back to the full rate and
   remodulated. Doppler and micro-Doppler follow from d tau / dt; nothing is added as a tone.
4. ``audible_sources``: talkers and noise sources convolved with their own room responses.
5. ``mic_model``: per-mic gain/time mismatch (the time part is in every path's delay),
   white self-noise drawn in fixed 4096-sample chunks, a 20 Hz DC-blocking high-pass.

Zero latency: mic block n depends only on drive samples <= n, so :class:`LiveRoom` returns
the capture of the block it was given. Moving-path delays are clamped to at least the
baseband filters' look-ahead (124 samples, 1.3 ms: a reflector >= 22 cm from the device).
Moving echoes are first order (speaker -> reflector -> mic; no reflector images) and only
cover the scatter band: audible-band reflections off people are left out.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import fft as sfft
from scipy import signal as sps

from ..errors import AudioFormatError, ConfigError
from ..physics import air_absorption_db_per_m, db_to_amplitude, speed_of_sound_m_s
from .geometry import image_sources, impulse_response, mic_array_positions
from .labels import Labels, scenario_labels
from .motion import SceneMotion
from .scenario import Scenario, Source, load_scenario
from .signals import coloured_noise, read_audio_file, synthetic_music, synthetic_speech

_LOGGER = logging.getLogger(__name__)
F32 = NDArray[np.float32]
F64 = NDArray[np.float64]
C128 = NDArray[np.complex128]

DEFAULT_SAMPLE_RATE = 96000
NOISE_CHUNK = 4096
PARTITION = 1024  # uniformly partitioned convolution: partition size, frames (10.7 ms at 96 kHz)
LIVE_PATH_CHUNK = 32  # the same for the live backend: 16 ms of motion per computation
PATH_CHUNK = 512  # moving-path parameters are computed for this many control points at once
CONTROL_STEPS_PER_DECIMATION = 16  # control period = 16 decimated samples (0.5 ms at 96 kHz)
MIN_REFLECTOR_DISTANCE_M = 0.05


class _Tape:
    """Samples indexed by absolute frame number; zeros before 0; grows and compacts itself."""

    def __init__(self, channels: int, dtype: type, lookback: int) -> None:
        self.lookback = int(lookback)
        cap = max(4 * self.lookback, 1 << 15)
        self.buf: NDArray[Any] = np.zeros((cap, channels), dtype=dtype)
        self.base = -self.lookback  # absolute index of buf[0]
        self.end = 0  # absolute index one past the last written sample

    def append(self, x: NDArray[Any]) -> None:
        n = x.shape[0]
        used = self.end - self.base
        if used + n > self.buf.shape[0]:
            keep = min(self.lookback, used)
            need = keep + n
            if need > self.buf.shape[0]:
                new = np.zeros((2 * need, self.buf.shape[1]), dtype=self.buf.dtype)
            else:
                new = self.buf
            new[:keep] = self.buf[used - keep : used]
            self.buf = new
            self.base = self.end - keep
            used = keep
        self.buf[used : used + n] = x
        self.end += n

    def get(self, i0: int, i1: int) -> NDArray[Any]:
        if i0 < self.base or i1 > self.end:
            raise IndexError(f"tape holds [{self.base}, {self.end}), asked [{i0}, {i1})")
        return self.buf[i0 - self.base : i1 - self.base]


def _fft_convolve_tail(
    seg: NDArray[np.floating], spec_cache: dict[int, NDArray[np.complexfloating]], rir: F32, frames: int
) -> F64:
    """Last ``frames`` samples of seg (T, I) convolved with rir (L, I, O): returns (frames, O)."""
    length = rir.shape[0]
    nfft = sfft.next_fast_len(seg.shape[0] + length - 1, real=True)
    if nfft not in spec_cache:
        spec_cache[nfft] = sfft.rfft(rir, nfft, axis=0)
    h = spec_cache[nfft]
    x = sfft.rfft(seg, nfft, axis=0)
    if h.shape[1] == 1:
        y = x[:, 0, None] * h[:, 0, :]
    else:
        y = np.einsum("fi,fio->fo", x, h)
    out = sfft.irfft(y, nfft, axis=0)
    return np.asarray(out[seg.shape[0] - frames : seg.shape[0]], dtype=np.float64)


class _PartitionedConvolver:
    """Uniformly partitioned overlap-save convolution (frequency-domain delay line).

    ``step(x)`` takes the next ``partition`` input frames (partition, I) and returns the
    matching output frames (partition, O) of the full linear convolution with h (L, I, O).
    The work per step is two FFTs per channel plus a spectral multiply-add over L / partition
    partitions: no periodic spike, unlike one long FFT convolution.
    """

    def __init__(self, h: NDArray[np.floating], partition: int) -> None:
        self.partition = b = partition
        n_part = -(-h.shape[0] // b)
        hp = np.zeros((n_part * b, *h.shape[1:]))
        hp[: h.shape[0]] = h
        parts = hp.reshape(n_part, b, *h.shape[1:])
        self.spec = sfft.rfft(parts, 2 * b, axis=1)  # (P, b + 1, I, O)
        self._spec_fpo = np.ascontiguousarray(self.spec[:, :, 0, :].transpose(1, 0, 2))  # (b + 1, P, O)
        self.fdl = np.zeros((n_part, b + 1, h.shape[1]), dtype=np.complex128)
        self.prev = np.zeros((b, h.shape[1]))
        self.pos = 0
        self.silent = n_part  # steps since the last non-zero input (all silent at start)

    def step(self, x: NDArray[np.floating]) -> F64:
        b, n_part = self.partition, self.spec.shape[0]
        if not np.any(x):
            self.silent += 1
            if self.silent > n_part:  # the delay line holds only zeros: output is zero
                self.fdl[self.pos] = 0.0
                self.prev[:] = 0.0
                self.pos = (self.pos + 1) % n_part
                return np.zeros((b, self.spec.shape[3]))
        else:
            self.silent = 0
        self.fdl[self.pos] = sfft.rfft(np.concatenate([self.prev, x]), axis=0)
        self.prev = np.array(x, dtype=np.float64)
        order = (self.pos - np.arange(n_part)) % n_part
        if self.spec.shape[2] == 1:  # batched over bins: (F, 1, P) @ (F, P, O)
            y_spec = np.matmul(self.fdl[order, :, 0].T[:, None, :], self._spec_fpo)[:, 0, :]
        else:
            y_spec = np.einsum("pfi,pfio->fo", self.fdl[order], self.spec)
        self.pos = (self.pos + 1) % n_part
        return np.asarray(sfft.irfft(y_spec, 2 * b, axis=0)[b:], dtype=np.float64)


@dataclass
class _AudibleSource:
    start: int
    signal: F32  # already at level
    conv: _PartitionedConvolver  # room response (L, 1, n_mics)


class RoomEngine:
    """Stateful renderer of one scenario; :meth:`process` maps drive blocks to mic blocks.

    Parameters
    ----------
    scenario : the validated scenario.
    driver_count : number of drive channels fed to :meth:`process`; default: the scenario's
        speaker count. Extra speakers are placed beside the first one.
    loop : repeat the scenario timeline (motion and audible sources) after ``duration_s``.
    exact_array : read every moving echo's envelope at each mic's own delay. Default False:
        the narrowband-array model reads it at the array's mean delay and applies each mic's
        delay difference (< 0.2 ms) as a phase at the probe frequency; exact for the probe
        tone, ~4x faster, and off by 2 pi df dt for in-band content df away from the probe.
    path_chunk : control points (0.5 ms each) of motion computed at once: large offline
        (amortised), small live (no 100 ms spikes). The output does not depend on it.
    """

    def __init__(
        self,
        scenario: Scenario,
        *,
        driver_count: int | None = None,
        loop: bool = False,
        exact_array: bool = False,
        path_chunk: int = PATH_CHUNK,
    ) -> None:
        self.scenario = sc = scenario
        self.exact_array = exact_array
        self.path_chunk = max(int(path_chunk), 2)
        self.sample_rate = fs = sc.sample_rate
        self.loop = loop
        self.duration_frames = round(sc.duration_s * fs)
        room, dev = sc.room, sc.device
        self.c_m_s = speed_of_sound_m_s(room.temperature_c)
        seeds = np.random.SeedSequence(sc.seed).spawn(4)
        dev_rng, motion_rng, signal_rng = (np.random.default_rng(s) for s in seeds[:3])
        self._noise_seed = seeds[3]
        self.mic_count = dev.mic_count
        speakers = list(dev.speakers_m)
        self.driver_count = driver_count if driver_count is not None else len(speakers)
        if self.driver_count < 1:
            raise ConfigError(f"driver_count {self.driver_count} must be >= 1")
        while len(speakers) < self.driver_count:
            speakers.append((0.0, 0.05 * len(speakers), 0.02))
        center = np.asarray(dev.position_m, dtype=np.float64)
        self.mic_positions_m = mic_array_positions(center, dev.mic_count, dev.mic_radius_m)
        self.speaker_positions_m = center[None, :] + np.asarray(speakers[: self.driver_count], dtype=np.float64)
        # per-device variation
        if dev.randomize:
            self.mic_gain = db_to_amplitude(dev_rng.normal(0.0, dev.mic_gain_mismatch_db, self.mic_count))
            self.mic_delay_s = dev_rng.normal(0.0, dev.mic_phase_mismatch_us * 1e-6, self.mic_count)
        else:
            self.mic_gain = np.ones(self.mic_count)
            self.mic_delay_s = np.zeros(self.mic_count)
        self.mic_delay_s = self.mic_delay_s - min(0.0, float(self.mic_delay_s.min()))  # causal
        self.self_noise_rms = float(db_to_amplitude(dev.self_noise_dbfs)) if dev.self_noise_dbfs > -199 else 0.0
        self._init_driver()
        self._init_static()
        self._init_sources(signal_rng)
        self._init_moving(motion_rng)
        self._mic_hp = sps.butter(1, 20.0 / (fs / 2), "high", output="sos")
        self._mic_hp_zi = np.zeros((self._mic_hp.shape[0], 2, self.mic_count))
        self._noise_buf = np.zeros((0, self.mic_count), dtype=np.float32)
        self._noise_chunk = 0
        self.frames_done = 0

    # ------------------------------------------------------------------ setup

    def _init_driver(self) -> None:
        drv, fs = self.scenario.device.driver, self.sample_rate
        self._rolloff: F64 | None = None
        if drv.rolloff_order > 0 and drv.rolloff_hz < 0.49 * fs:
            self._rolloff = sps.butter(drv.rolloff_order, drv.rolloff_hz / (fs / 2), output="sos")
            self._rolloff_zi = np.zeros((self._rolloff.shape[0], 2, self.driver_count))
        self._excursion = sps.butter(2, drv.excursion_cutoff_hz / (fs / 2), output="sos")
        self._excursion_zi = np.zeros((self._excursion.shape[0], 2, self.driver_count))

    def _init_static(self) -> None:
        sc, fs = self.scenario, self.sample_rate
        room = sc.room
        size = np.asarray(room.size_m, dtype=np.float64)
        self.rir_length = max(int(room.rir_length_s * fs), 16)
        rirs = []
        for d in range(self.driver_count):
            img, gain, _ = image_sources(self.speaker_positions_m[d], size, np.asarray(room.absorption), room.max_order)
            rirs.append(
                impulse_response(
                    img,
                    gain,
                    self.mic_positions_m,
                    sample_rate=fs,
                    length=self.rir_length,
                    c_m_s=self.c_m_s,
                    temperature_c=room.temperature_c,
                    relative_humidity_pct=room.relative_humidity_pct,
                    reference_m=sc.device.coupling_m,
                    extra_delay_s=self.mic_delay_s,
                )
            )
        self.static_rir = np.stack(rirs, axis=1)  # (L, D, M)
        # uniformly split: head taps [0, T0) per block, tail taps [T0, L) computed ahead on a
        # fixed T0 grid (the tail only needs input at least T0 samples old)
        t0 = min(PARTITION, self.rir_length)
        self._static_head = np.ascontiguousarray(self.static_rir[:t0])
        self._static_tail = (
            _PartitionedConvolver(self.static_rir[t0:], PARTITION) if self.rir_length > PARTITION else None
        )
        self._head_spec: dict[int, NDArray[np.complexfloating]] = {}
        self._tail_out = _Tape(self.mic_count, np.float64, 4 * PARTITION)
        self._tail_done = 0
        self._rad = _Tape(self.driver_count, np.float64, self.rir_length + 256)

    def _init_sources(self, rng: np.random.Generator) -> None:
        self.sources: list[_AudibleSource] = []
        for src in self.scenario.sources:
            sig = self._source_signal(src, rng)
            if sig is None or sig.size == 0:
                continue
            room = self.scenario.room
            img, gain, _ = image_sources(
                np.asarray(src.position_m, dtype=np.float64),
                np.asarray(room.size_m, dtype=np.float64),
                np.asarray(room.absorption),
                room.max_order,
            )
            rir = impulse_response(
                img,
                gain,
                self.mic_positions_m,
                sample_rate=self.sample_rate,
                length=self.rir_length,
                c_m_s=self.c_m_s,
                temperature_c=room.temperature_c,
                relative_humidity_pct=room.relative_humidity_pct,
                reference_m=1.0,
                extra_delay_s=self.mic_delay_s,
            )
            start = round(src.start_s * self.sample_rate)
            self.sources.append(_AudibleSource(start, sig, _PartitionedConvolver(rir[:, None, :], PARTITION)))
        self._src_out = _Tape(self.mic_count, np.float32, 4 * PARTITION)
        self._src_done = 0

    def _source_signal(self, src: Source, rng: np.random.Generator) -> F32 | None:
        fs = self.sample_rate
        end_s = src.stop_s if src.stop_s is not None else self.scenario.duration_s
        dur = max(end_s - src.start_s, 0.0)
        if dur <= 0:
            return None
        x: F32 | None = None
        if src.file is not None:
            try:
                x = read_audio_file(src.file, fs, max_duration_s=dur)
                x = x[: int(dur * fs)]
            except AudioFormatError as err:
                _LOGGER.info("source %s: %s; using a synthetic %s signal instead", src.file, err, src.kind)
        if x is None:
            if src.kind == "tone":
                t = np.arange(int(dur * fs)) / fs
                x = (math.sqrt(2.0) * np.sin(2 * np.pi * src.frequency_hz * t)).astype(np.float32)
            elif src.kind == "talker" or src.signal == "speech":
                x = synthetic_speech(dur, fs, rng)
            else:
                x = coloured_noise(dur, fs, rng, src.signal)
        rms = float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) if x.size else 0.0
        if rms > 0:
            x = (x * (db_to_amplitude(src.level_db) / rms)).astype(np.float32)
        return x

    def _init_moving(self, rng: np.random.Generator) -> None:
        sc, fs = self.scenario, self.sample_rate
        self.motion = SceneMotion(sc, rng)
        # Scatter band: 28-44 kHz at 96 kHz. The centre sits at 3/8 fs so that the image of the
        # band at -(fs - 2 f_c) (from demodulating a real signal) lands at 16-32 kHz, in the
        # baseband filter's stop band, as does everything aliasing at the decimated rate.
        half = fs / 12.0
        self.scatter_center_hz = round(0.375 * fs)
        self.scatter_band_hz = (self.scatter_center_hz - half, self.scatter_center_hz + half)
        self.decimation = dec = max(1, int(fs // (4 * half)))
        self.control_step = CONTROL_STEPS_PER_DECIMATION * dec
        self._half_taps = g = 32 * max(1, round(fs / 96000))  # G = G2
        self._h_dec = sps.firwin(2 * g + 1, 1.5 * half, window=("kaiser", 8.0), fs=fs)
        self._h_up = self._h_dec * dec
        self.min_delay = 2 * g + (4 + CONTROL_STEPS_PER_DECIMATION) * dec  # samples of look-ahead
        self._turb = self._turbulence_paths(rng) if sc.turbulence is not None else None
        n_turb = 0 if self._turb is None else self._turb["tau"].shape[0]
        self.has_moving = self.motion.n_points > 0 or n_turb > 0
        probe_hz = sc.drive.probe.frequency_hz if sc.drive.probe is not None else float(self.scatter_center_hz)
        if not self.scatter_band_hz[0] <= probe_hz <= self.scatter_band_hz[1]:
            _LOGGER.warning(
                "probe %.0f Hz is outside the scatter band %s Hz: no moving echoes", probe_hz, self.scatter_band_hz
            )
            probe_hz = float(self.scatter_center_hz)
        # moving paths get the air absorption at the probe frequency (within the band it
        # varies by < 0.4 dB/m)
        self.reference_hz = probe_hz
        self.alpha_c_db_per_m = float(
            air_absorption_db_per_m(probe_hz, sc.room.temperature_c, sc.room.relative_humidity_pct)
        )
        self._max_delay = int(0.2 * fs)  # reflector paths are capped at 0.2 s (68 m)
        self._a = _Tape(self.driver_count, np.complex128, (self._max_delay + 2 * g) // dec + 16)
        self._b = _Tape(self.mic_count, np.complex128, 4 * g // dec + 16)
        self._path_cache: dict[int, tuple[F64, C128, NDArray[np.int64]]] = {}
        self._f = _Tape(4 * self.driver_count, np.complex64, (self._max_delay + 2 * g) // dec + 16)
        self._k_done = 0
        self._f_done = 0
        self._j_done = 0

    def _turbulence_paths(self, rng: np.random.Generator) -> dict[str, Any]:
        """First-order wall reflections whose delay jitters with slow HVAC turbulence."""
        sc = self.scenario
        assert sc.turbulence is not None
        size = np.asarray(sc.room.size_m, dtype=np.float64)
        taus, gains, drivers = [], [], []
        for d in range(self.driver_count):
            img, gain, order = image_sources(self.speaker_positions_m[d], size, np.asarray(sc.room.absorption), 1)
            for p in np.flatnonzero(order == 1):
                r = np.linalg.norm(img[p][None, :] - self.mic_positions_m, axis=1)
                taus.append((r / self.c_m_s + self.mic_delay_s) * self.sample_rate)
                gains.append(sc.device.coupling_m * gain[p] / r)
                drivers.append(d)
        n = len(taus)
        k = 6
        return {
            "tau": np.array(taus),  # (P, M) samples
            "gain": np.array(gains),  # (P, M)
            "driver": np.array(drivers, dtype=np.int64),
            "freq": rng.uniform(0.02, sc.turbulence.bandwidth_hz, size=(n, k)),
            "phase": rng.uniform(0, 2 * np.pi, size=(n, k)),
            "norm": 1.0 / math.sqrt(k / 2),  # unit RMS sum of k sinusoids
            "eps": 3e-4 * sc.turbulence.strength,  # RMS relative path-length jitter
            "am": 0.03 * sc.turbulence.strength,  # RMS relative amplitude jitter
        }

    # ------------------------------------------------------------------ stages

    def driver_model(self, drive: F64) -> F64:
        """Radiated signal (frames, D) of the drive (frames, D): memory polynomial, then roll-off."""
        drv = self.scenario.device.driver
        exc, self._excursion_zi = sps.sosfilt(self._excursion, drive, axis=0, zi=self._excursion_zi)
        y = drive + drv.a2 * drive**2 + drv.a3 * drive**3 + drv.excursion_mod * exc * drive
        if self._rolloff is not None:
            y, self._rolloff_zi = sps.sosfilt(self._rolloff, y, axis=0, zi=self._rolloff_zi)
        return np.asarray(y, dtype=np.float64)

    def static_paths(self, n0: int, frames: int) -> F64:
        """Direct coupling + reflections at the mics for frames [n0, n0 + frames): (frames, M)."""
        n1 = n0 + frames
        t0 = self._static_head.shape[0]
        out = _fft_convolve_tail(self._rad.get(n0 - t0 + 1, n1), self._head_spec, self._static_head, frames)
        if self._static_tail is not None:
            # tail window [kB, (k + 1)B) = tail taps applied to input [(k - 1)B, kB): available
            windows = []
            while self._tail_done < n1:
                k0 = self._tail_done
                windows.append(self._static_tail.step(self._rad.get(k0 - PARTITION, k0)))
                self._tail_done = k0 + PARTITION
            if windows:
                self._tail_out.append(np.concatenate(windows))
            out += self._tail_out.get(n0, n1)
        return out

    def _path_params(self, ctrl: NDArray[np.int64]) -> tuple[F64, C128, NDArray[np.int64]]:
        """Delays (P, M, C) in samples, complex gains (P, M, C) and drivers (P,) at the control points
        ``ctrl`` (consecutive), computed PATH_CHUNK points at a time on a fixed grid and cached."""
        c_lo, c_hi = int(ctrl[0]), int(ctrl[-1]) + 1
        chunk = self.path_chunk
        k_lo, k_hi = c_lo // chunk, -(-c_hi // chunk)
        parts_t, parts_g = [], []
        drv = np.zeros(0, dtype=np.int64)
        for k in range(k_lo, k_hi):
            if k not in self._path_cache:
                if len(self._path_cache) > 8:
                    self._path_cache.pop(min(self._path_cache))
                grid = np.arange(k * chunk, (k + 1) * chunk, dtype=np.int64)
                self._path_cache[k] = self._compute_path_params(grid)
            tau, gain, drv = self._path_cache[k]
            parts_t.append(tau)
            parts_g.append(gain)
        off = c_lo - k_lo * chunk
        tau_all = np.concatenate(parts_t, axis=2)[:, :, off : off + c_hi - c_lo]
        gain_all = np.concatenate(parts_g, axis=2)[:, :, off : off + c_hi - c_lo]
        return tau_all, gain_all, drv

    def _compute_path_params(self, t_ctrl_idx: NDArray[np.int64]) -> tuple[F64, C128, NDArray[np.int64]]:
        fs, sc = self.sample_rate, self.scenario
        t_s = np.asarray(t_ctrl_idx * (self.control_step / fs), dtype=np.float64)
        if self.loop and self.duration_frames > 0:
            t_s = np.mod(t_s, sc.duration_s)
        taus: list[F64] = []
        gains: list[C128] = []
        drivers: list[NDArray[np.int64]] = []
        if self.motion.n_points:
            pos, refl = self.motion.points(t_s)  # (S, C, 3), (S, C)
            size = np.asarray(sc.room.size_m)
            outside = np.any((pos < 0) | (pos > size), axis=2)  # (S, C)
            wall = np.where(outside, db_to_amplitude(-2 * sc.room.wall_transmission_loss_db), 1.0)
            r2 = np.linalg.norm(pos[:, None, :, :] - self.mic_positions_m[None, :, None, :], axis=3)  # (S, M, C)
            r2 = np.maximum(r2, MIN_REFLECTOR_DISTANCE_M)
            for d in range(self.driver_count):
                r1 = np.linalg.norm(pos - self.speaker_positions_m[d][None, None, :], axis=2)  # (S, C)
                r1 = np.maximum(r1, MIN_REFLECTOR_DISTANCE_M)
                path = r1[:, None, :] + r2
                tau = path / self.c_m_s * fs + self.mic_delay_s[None, :, None] * fs
                g = (
                    sc.device.coupling_m
                    * (refl * wall)[:, None, :]
                    / (r1[:, None, :] * r2)
                    * db_to_amplitude(-self.alpha_c_db_per_m * path)
                )
                taus.append(tau)
                gains.append(g.astype(np.complex128))
                drivers.append(np.full(pos.shape[0], d, dtype=np.int64))
        if self._turb is not None:
            tb = self._turb
            eps_n = np.sin(2 * np.pi * tb["freq"][..., None] * t_s + tb["phase"][..., None]).sum(axis=1) * tb["norm"]
            dtau = tb["tau"][:, :, None] * (tb["eps"] * eps_n)[:, None, :]  # (P, M, C) samples
            am = 1.0 + tb["am"] * eps_n[:, None, :]
            wc = 2 * np.pi * self.scatter_center_hz / fs
            taus.append(np.broadcast_to(tb["tau"][:, :, None], dtau.shape).copy())
            gains.append(tb["gain"][:, :, None] * (np.exp(-1j * wc * dtau) * am - 1.0))
            drivers.append(tb["driver"])
        tau_all = np.concatenate(taus)
        return np.maximum(tau_all, self.min_delay), np.concatenate(gains), np.concatenate(drivers)

    def _demodulate(self, k_end: int) -> None:
        """Extend the baseband tape a[k] (a[k] ~ envelope at time k*dec - G) up to k_end (excl)."""
        k0 = self._k_done
        if k_end <= k0:
            return
        dec, g = self.decimation, self._half_taps
        n_lo, n_hi = k0 * dec - 2 * g, (k_end - 1) * dec + 1
        x = self._rad.get(n_lo, n_hi)
        n = np.arange(n_lo, n_hi, dtype=np.int64)
        ph = np.exp(-2j * np.pi * ((n * self.scatter_center_hz) % self.sample_rate) / self.sample_rate)
        z = x * ph[:, None]
        win = np.lib.stride_tricks.sliding_window_view(z, 2 * g + 1, axis=0)[::dec]  # (K, D, taps)
        a = 2.0 * (win @ self._h_dec[::-1])
        self._a.append(a)
        self._k_done = k_end

    def _farrow(self) -> None:
        """Extend the Farrow tape: cubic-Lagrange coefficients (c0..c3) of a on [k, k + 1]."""
        f0, f1 = self._f_done, self._k_done - 2
        if f1 <= f0:
            return
        a = self._a.get(f0 - 1, f1 + 2)  # (f1 - f0 + 3, D)
        am1, a0, a1, a2 = a[:-3], a[1:-2], a[2:-1], a[3:]
        coef = np.stack(
            [
                a0,
                -am1 / 3 - a0 / 2 + a1 - a2 / 6,
                am1 / 2 - a0 + a1 / 2,
                -am1 / 6 + a0 / 2 - a1 / 2 + a2 / 6,
            ],
            axis=-1,
        ).astype(np.complex64)  # (K, D, 4)
        self._f.append(coef.reshape(coef.shape[0], -1))
        self._f_done = f1

    def _f_planes(self, d: int) -> list[NDArray[np.complex64]]:
        """The Farrow tape's four coefficient columns of driver ``d`` as contiguous arrays."""
        used = self._f.end - self._f.base
        return [np.ascontiguousarray(self._f.buf[:used, 4 * d + i]) for i in range(4)]

    def _scatter_baseband(self, j_needed: int) -> None:
        """Extend the mic baseband tape b[j] (time j*dec) by whole control intervals past ``j_needed``.

        Within a control interval (16 baseband samples) the delay is linear, the interpolated
        envelope is read from the Farrow tape, and the carrier phase exp(-j w_c tau) is built
        by products of exp(-j w_c dtau / 16)^(1, 2, 4, 8); gains are the interval's mean.
        """
        per = CONTROL_STEPS_PER_DECIMATION
        j0 = self._j_done
        if j_needed <= j0:
            return
        c0, c1 = j0 // per, -(-j_needed // per)  # intervals [c0, c1)
        dec, cs, g = self.decimation, self.control_step, self._half_taps
        self._farrow()
        ctrl = np.arange(c0, c1 + 1, dtype=np.int64)
        tau_c, gain_c, drv = self._path_params(ctrl)  # (P, M, C + 1)
        b = np.zeros((self.mic_count, c1 - c0, per), dtype=np.complex64)
        active = np.flatnonzero(np.any(gain_c != 0, axis=(1, 2)))  # absent people, fans off
        if active.size:
            tau_c, gain_c, drv = tau_c[active], gain_c[active], drv[active]
            tau_c = np.minimum(tau_c, self._max_delay)
            wc = 2 * np.pi * self.scatter_center_hz / self.sample_rate
            if self.exact_array:
                tau_env = tau_c  # (P, M, C + 1): envelope read per mic
                phi = wc * tau_c
            else:
                # narrowband array: envelope at the array's mean delay, the per-mic delay
                # difference as a phase at the probe frequency (exact for the probe tone)
                tau_env = tau_c.mean(axis=1, keepdims=True)  # (P, 1, C + 1)
                wp = 2 * np.pi * self.reference_hz / self.sample_rate
                phi = wc * tau_env + wp * (tau_c - tau_env)
            # baseband read position, relative to the Farrow tape's start (float32 is ample there)
            qc = (ctrl * cs - tau_env + g) / dec - self._f.base
            k = np.arange(per, dtype=np.float32) / per
            q0 = qc[..., :-1].astype(np.float32)
            dq = (qc[..., 1:] - qc[..., :-1]).astype(np.float32)
            q = q0[..., None] + dq[..., None] * k  # (P, M or 1, C, per)
            qf = np.floor(q)
            mu = q - qf
            i0 = qf.astype(np.intp)
            rot0 = np.exp(-1j * phi[..., :-1])
            gain = (0.5 * (gain_c[..., :-1] + gain_c[..., 1:]) * rot0).astype(np.complex64)  # (P, M, C)
            e = np.exp(-1j * (phi[..., 1:] - phi[..., :-1]) / per).astype(np.complex64)
            w = gain[..., None]
            for _ in range(4):  # w[k] = gain * e^k, k = 0..15, by binary powers
                w = np.concatenate([w, w * e[..., None]], axis=-1)
                e = e * e
            for d in range(self.driver_count):
                sel = np.flatnonzero(drv == d) if self.driver_count > 1 else slice(None)
                planes = self._f_planes(d)
                idx = i0[sel]
                m = mu[sel]
                env = planes[3][idx]
                env *= m
                env += planes[2][idx]
                env *= m
                env += planes[1][idx]
                env *= m
                env += planes[0][idx]
                if self.exact_array:
                    env *= w[sel]
                    b += env.sum(axis=0)
                else:
                    b += np.einsum("pmck,pck->mck", w[sel], env[:, 0])
        self._b.append(b.reshape(self.mic_count, -1).T)
        self._j_done = c1 * per

    def moving_paths(self, n0: int, frames: int) -> F64:
        """Echoes of moving reflectors (and HVAC-jittered walls) for [n0, n0 + frames): (frames, M)."""
        dec, g = self.decimation, self._half_taps
        n1 = n0 + frames
        self._demodulate((n1 - 1) // dec + 1)
        jb = (n1 - 1 + g) // dec
        self._scatter_baseband(jb + 1)
        ja = -((g - n0) // dec)  # ceil((n0 - g) / dec)
        bseg = self._b.get(ja, jb + 1)
        up = sps.upfirdn(self._h_up, bseg, up=dec, axis=0)
        off = n0 - ja * dec + g
        ybb = up[off : off + frames]
        n = np.arange(n0, n1, dtype=np.int64)
        ph = np.exp(2j * np.pi * ((n * self.scatter_center_hz) % self.sample_rate) / self.sample_rate)
        return np.asarray(np.real(ybb * ph[:, None]), dtype=np.float64)

    def audible_sources(self, n0: int, frames: int) -> F64:
        """Talkers and noise sources at the mics for [n0, n0 + frames): (frames, M).

        Sources do not depend on the drive, so they are rendered ahead, one partition at a time.
        """
        n1 = n0 + frames
        windows = []
        while self._src_done < n1:
            a = self._src_done
            idx = np.arange(a, a + PARTITION, dtype=np.int64)
            if self.loop and self.duration_frames > 0:
                idx = np.mod(idx, self.duration_frames)
            y = np.zeros((PARTITION, self.mic_count))
            for src in self.sources:
                rel = idx - src.start
                valid = (rel >= 0) & (rel < src.signal.size)
                seg = np.where(valid, src.signal[np.clip(rel, 0, src.signal.size - 1)], 0.0)[:, None]
                y += src.conv.step(seg)
            windows.append(y)
            self._src_done = a + PARTITION
        if windows:
            self._src_out.append(np.concatenate(windows))
        return np.asarray(self._src_out.get(n0, n1), dtype=np.float64)

    def _self_noise(self, frames: int) -> F32:
        while self._noise_buf.shape[0] < frames:
            rng = np.random.default_rng([*self._noise_seed.generate_state(2), self._noise_chunk])
            self._noise_chunk += 1
            chunk = rng.standard_normal((NOISE_CHUNK, self.mic_count), dtype=np.float32) * self.self_noise_rms
            self._noise_buf = np.concatenate([self._noise_buf, chunk])
        out, self._noise_buf = self._noise_buf[:frames], self._noise_buf[frames:]
        return out

    def mic_model(self, pressure: F64) -> F32:
        """Mic capture (frames, M) float32 of the pressure at each mic: gain, self-noise, high-pass."""
        y = pressure * self.mic_gain[None, :]
        if self.self_noise_rms > 0:
            y = y + self._self_noise(y.shape[0])
        y, self._mic_hp_zi = sps.sosfilt(self._mic_hp, y, axis=0, zi=self._mic_hp_zi)
        return np.asarray(y, dtype=np.float32)

    # ------------------------------------------------------------------ block

    def process(self, drive_block: NDArray[np.floating]) -> F32:
        """Mic capture (frames, mic_count) float32 of the drive block (frames, driver_count)."""
        x = np.asarray(drive_block, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.driver_count:
            raise ConfigError(f"drive block shape {x.shape} is not (frames, {self.driver_count})")
        frames = x.shape[0]
        n0 = self.frames_done
        if frames == 0:
            return np.zeros((0, self.mic_count), dtype=np.float32)
        self._rad.append(self.driver_model(x))
        p = self.static_paths(n0, frames)
        if self.has_moving:
            p += self.moving_paths(n0, frames)
        if self.sources:
            p += self.audible_sources(n0, frames)
        self.frames_done += frames
        return self.mic_model(p)


# ---------------------------------------------------------------------- drive and public API


def scenario_drive(scenario: Scenario, driver_count: int = 1, frames: int | None = None) -> F32:
    """The drive (frames, driver_count) float32 the scenario plays: probe tone + music, clipped to ±1."""
    fs = scenario.sample_rate
    n = round(scenario.duration_s * fs) if frames is None else frames
    t = np.arange(n) / fs
    y = np.zeros(n)
    drv = scenario.drive
    if drv.probe is not None:
        y += db_to_amplitude(drv.probe.level_dbfs) * np.sin(2 * np.pi * drv.probe.frequency_hz * t)
    if drv.music is not None:
        m = drv.music
        rng = np.random.default_rng(np.random.SeedSequence(scenario.seed).spawn(5)[4])
        start = round(m.start_s * fs)
        stop = n if m.stop_s is None else min(n, round(m.stop_s * fs))
        if stop > start:
            music: F32 | None = None
            if m.source != "synthetic":
                try:
                    music = read_audio_file(m.source, fs)
                except AudioFormatError as err:
                    _LOGGER.info("music %s: %s; using synthetic music instead", m.source, err)
            if music is None:
                music = synthetic_music((stop - start) / fs, fs, rng, m.bass_boost_db)
            if music.size < stop - start:
                music = np.resize(music, stop - start)
            peak = float(np.max(np.abs(music))) or 1.0
            y[start:stop] += db_to_amplitude(m.level_dbfs) * music[: stop - start] / peak
    out = np.clip(y, -1.0, 1.0).astype(np.float32)
    return np.repeat(out[:, None], driver_count, axis=1)


@dataclass(frozen=True)
class Rendering:
    """Offline rendering of a scenario.

    Attributes
    ----------
    mics : (frames, n_mics) float32 microphone capture (full scale ±1).
    drive : (frames, n_drivers) float32, exactly the signal sent to the speaker(s).
    sample_rate : Hz.
    labels : per-10 ms ground truth (see :class:`~echo_sense_dsp.room.labels.Labels`).
    mic_positions_m : (n_mics, 3) room coordinates, m.
    speaker_positions_m : (n_drivers, 3) room coordinates, m.
    scenario : the scenario rendered.
    """

    mics: F32
    drive: F32
    sample_rate: int
    labels: Labels
    mic_positions_m: F64
    speaker_positions_m: F64
    scenario: Scenario


OFFLINE_CHUNK_FRAMES = 8192


def _as_scenario(scenario: Scenario | str | Path | Mapping[str, Any]) -> Scenario:
    return scenario if isinstance(scenario, Scenario) else load_scenario(scenario)


def render_scenario(
    scenario: Scenario | str | Path | Mapping[str, Any],
    drive: NDArray[np.floating] | None = None,
    *,
    progress: Callable[[float], None] | None = None,
    exact_array: bool = False,
) -> Rendering:
    """Render a scenario offline.

    Parameters
    ----------
    scenario : a :class:`Scenario`, preset name, JSON path or dict.
    drive : optional (frames, n_drivers) or (frames,) drive at the scenario's sample rate;
        default: the scenario's probe + music for ``duration_s``. Its length sets the output's.
    progress : called with the fraction done (0..1) after each chunk.
    exact_array : see :class:`RoomEngine` (default: the narrowband-array model).

    Returns
    -------
    Rendering
    """
    sc = _as_scenario(scenario)
    if drive is None:
        x = scenario_drive(sc, len(sc.device.speakers_m))
    else:
        x = np.asarray(drive, dtype=np.float32)
        if x.ndim == 1:
            x = x[:, None]
        if x.ndim != 2 or x.shape[1] < 1:
            raise ConfigError(f"drive shape {np.shape(drive)} is not (frames, n_drivers)")
    engine = RoomEngine(sc, driver_count=x.shape[1], exact_array=exact_array)
    out = np.zeros((x.shape[0], engine.mic_count), dtype=np.float32)
    for s in range(0, x.shape[0], OFFLINE_CHUNK_FRAMES):
        e = min(s + OFFLINE_CHUNK_FRAMES, x.shape[0])
        out[s:e] = engine.process(x[s:e])
        if progress is not None:
            progress(e / x.shape[0])
    return Rendering(
        mics=out,
        drive=x,
        sample_rate=sc.sample_rate,
        labels=scenario_labels(sc, x.shape[0] / sc.sample_rate, drive_given=drive is not None),
        mic_positions_m=engine.mic_positions_m,
        speaker_positions_m=engine.speaker_positions_m,
        scenario=sc,
    )


class LiveRoom:
    """The simulated room as a live backend: ``process(drive_block) -> mic_block`` in real time.

    Parameters
    ----------
    scenario : scenario, preset name, JSON path or dict (default: ``"demo_day"``).
    driver_count : drive channels per block (default: the scenario's speaker count).
    loop : repeat the timeline after ``duration_s`` (default True, for a running demo).

    Attributes
    ----------
    sample_rate, mic_count, driver_count : stream format.
    mic_positions_m : (mic_count, 3) m.
    """

    def __init__(
        self,
        scenario: Scenario | str | Path | Mapping[str, Any] = "demo_day",
        *,
        driver_count: int | None = None,
        loop: bool = True,
    ) -> None:
        self.scenario = _as_scenario(scenario)
        self._engine = RoomEngine(self.scenario, driver_count=driver_count, loop=loop, path_chunk=LIVE_PATH_CHUNK)
        self.sample_rate = self._engine.sample_rate
        self.mic_count = self._engine.mic_count
        self.driver_count = self._engine.driver_count
        self.mic_positions_m = self._engine.mic_positions_m
        self._labels = scenario_labels(self.scenario, self.scenario.duration_s)

    @property
    def time_s(self) -> float:
        """Stream time: frames processed / sample_rate."""
        return self._engine.frames_done / self.sample_rate

    def process(self, drive_block: NDArray[np.float32]) -> F32:
        """Mic capture (frames, mic_count) float32 of exactly this drive block (frames, driver_count)."""
        return self._engine.process(drive_block)

    def ground_truth(self) -> dict[str, Any]:
        """The scenario's labels at the current stream time (occupied, motion, distance, ...)."""
        t = self.time_s
        if self._engine.loop:
            t = t % self.scenario.duration_s
        return self._labels.at(t)


__all__ = [
    "DEFAULT_SAMPLE_RATE",
    "LiveRoom",
    "Rendering",
    "RoomEngine",
    "render_scenario",
    "scenario_drive",
]
