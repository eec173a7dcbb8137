"""Long runs: the capture of a steady probe rendered directly as its complex envelope.

Hours of simulated empty room are needed to measure false alarms per day, and the full
engine (:class:`~echo_sense_dsp.room.engine.RoomEngine`) renders every 96 kHz sample. While
the drive is only the probe tone ``A cos(w0 n)``, everything the presence detector looks at
is exactly the mics' complex envelope around ``w0`` (what an ideal mixer and low-pass give:
``A/2 e^{j phi}`` for ``A cos(w0 n + phi)``):

- static paths: a constant per mic, ``(alpha / 2) H_m(w0) g_m``, with ``alpha`` the radiated
  signal's component at ``w0`` (the engine's own driver model run on the probe: nonlinearity,
  aliased harmonics, roll-off) and ``H_m`` the engine's static impulse response at ``w0``;
- moving paths: ``(alpha / 2) g_m sum_p gain_p(t) exp(-j w0 tau_p(t))`` with the engine's own
  path delays and gains (:meth:`RoomEngine._compute_path_params`: people, fans, curtains,
  HVAC-jittered walls, wall loss for a person next door), at the same 0.5 ms control points,
  linearly interpolated in between as the engine does;
- self-noise: white, so its envelope is complex white noise of power ``sigma^2 rate / fs``.

The envelope is produced at :data:`ENVELOPE_RATE_HZ` (12 kHz, the presence demodulator's
middle rate: a fan blade's Doppler of a few kHz is kept and then removed by the detector's
own second decimation stage). The cost per simulated second is that of the motion model
(~100x less than the full render). Not covered: music or any drive other than the probe,
audible sources, the probe being paused; :func:`check_baseband_scenario` says so.
Agreement with the full engine is checked in ``dsp/tests/room/test_baseband.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..errors import ConfigError
from .engine import RoomEngine
from .scenario import Scenario, load_scenario

ENVELOPE_RATE_HZ = 12000
_DRIVER_SETTLE_S = 0.05  # the driver model's filters settle on the probe before alpha is measured
_DRIVER_MEASURE_S = 0.05


def check_baseband_scenario(scenario: Scenario) -> None:
    """Raise ConfigError for what :class:`BasebandRoom` cannot render (music, audible sources)."""
    if scenario.drive.music is not None:
        raise ConfigError("the baseband room renders a steady probe only: no music")
    if scenario.sources:
        raise ConfigError("the baseband room has no audible sources")


class BasebandRoom:
    """Streaming complex envelope of the mics around a steady probe tone.

    Parameters
    ----------
    scenario : scenario, preset name, JSON path or dict (its own drive is ignored).
    probe_hz : the probe frequency, Hz.
    probe_amplitude : the probe's peak amplitude in the drive (full scale 1).
    loop : repeat the scenario's timeline after ``duration_s``.

    Attributes
    ----------
    rate_hz : envelope sample rate (:data:`ENVELOPE_RATE_HZ`).
    carrier : ndarray, shape (mic_count,), complex128: the static envelope per mic.
    mic_count : number of mics.
    """

    def __init__(
        self,
        scenario: Scenario | str | Path | Mapping[str, Any],
        probe_hz: float,
        probe_amplitude: float,
        *,
        loop: bool = False,
    ) -> None:
        sc = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
        check_baseband_scenario(sc)
        self._engine = eng = RoomEngine(sc, driver_count=1, loop=loop)
        fs = eng.sample_rate
        if fs % ENVELOPE_RATE_HZ or eng.control_step * ENVELOPE_RATE_HZ % fs:
            raise ConfigError(f"sample rate {fs} Hz has no whole number of envelope samples per control step")
        self.rate_hz = ENVELOPE_RATE_HZ
        self.mic_count = eng.mic_count
        self._per_control = eng.control_step * ENVELOPE_RATE_HZ // fs
        self._w0 = 2.0 * np.pi * probe_hz / fs  # rad per 96 kHz sample (delays are in samples)
        # radiated component at w0: the engine's driver model on the steady probe
        n = np.arange(round((_DRIVER_SETTLE_S + _DRIVER_MEASURE_S) * fs))
        radiated = eng.driver_model((probe_amplitude * np.cos(self._w0 * n))[:, None])[:, 0]
        tail = slice(round(_DRIVER_SETTLE_S * fs), None)
        window = np.hanning(n[tail].size)
        alpha = 2.0 * np.sum(window * radiated[tail] * np.exp(-1j * self._w0 * n[tail])) / window.sum()
        self._half_alpha = 0.5 * alpha
        taps = np.arange(eng.static_rir.shape[0])
        response = np.exp(-1j * self._w0 * taps) @ eng.static_rir[:, 0, :]  # (M,)
        self.carrier = self._half_alpha * response * eng.mic_gain
        self._noise_std = eng.self_noise_rms * np.sqrt(ENVELOPE_RATE_HZ / fs / 2.0)  # per real component
        self._noise_rng = np.random.default_rng(np.random.SeedSequence(sc.seed).spawn(6)[5])
        self._control_done = 0  # control points whose interval has been emitted
        self._pending = np.zeros((0, self.mic_count), dtype=np.complex64)

    def _render_controls(self, c0: int, c1: int) -> NDArray[np.complex64]:
        """Envelope for control intervals [c0, c1): ((c1 - c0) * per_control, M)."""
        eng, per = self._engine, self._per_control
        out = np.broadcast_to(self.carrier, ((c1 - c0) * per, self.mic_count)).astype(np.complex64)
        if eng.has_moving:
            ctrl = np.arange(c0, c1 + 1, dtype=np.int64)
            tau, gain, _ = eng._path_params(ctrl)  # (P, M, C + 1)
            active = np.flatnonzero(np.any(gain != 0, axis=(1, 2)))  # absent people, fans off
            if active.size:
                tau, gain = np.minimum(tau[active], eng._max_delay), gain[active]
                # phasor gain * exp(-j w0 tau) at the control points, delay and gain linear in between
                # (as the engine): exp(j (ph0 + k dph)) = exp(j ph0) rot^k with rot = exp(j dph), so
                # two exponentials per control interval instead of one per sample (phase in float64)
                k = (np.arange(per) / per).astype(np.float32)
                phase = -self._w0 * tau  # (P, M, C + 1), float64
                start = np.exp(1j * phase[..., :-1]).astype(np.complex64)
                rot = np.exp(1j * (phase[..., 1:] - phase[..., :-1]) / per).astype(np.complex64)
                turn = np.empty((*rot.shape, per), dtype=np.complex64)
                turn[..., 0] = start
                for i in range(1, per):  # start * rot^i
                    np.multiply(turn[..., i - 1], rot, out=turn[..., i])
                g = gain.astype(np.complex64)
                g = g[..., :-1, None] + (g[..., 1:] - g[..., :-1])[..., None] * k
                g *= turn
                echo = g.sum(axis=0) * (self._half_alpha * eng.mic_gain).astype(np.complex64)[:, None, None]
                out += echo.reshape(self.mic_count, -1).T
        if self._noise_std > 0.0:
            noise = self._noise_rng.standard_normal((out.shape[0], self.mic_count, 2), dtype=np.float32)
            out += (noise[..., 0] + 1j * noise[..., 1]) * np.float32(self._noise_std)
        return out

    def process(self, frames: int) -> NDArray[np.complex64]:
        """The next ``frames`` envelope samples, shape (frames, mic_count), complex64."""
        while self._pending.shape[0] < frames:
            need = -(-(frames - self._pending.shape[0]) // self._per_control)
            c0 = self._control_done
            c1 = c0 + max(need, 1000)  # 0.5 s at a time: the motion model is vectorised over it
            self._pending = np.concatenate([self._pending, self._render_controls(c0, c1)])
            self._control_done = c1
        out, self._pending = self._pending[:frames], self._pending[frames:]
        return out


__all__ = ["ENVELOPE_RATE_HZ", "BasebandRoom", "check_baseband_scenario"]
