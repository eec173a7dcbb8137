"""Filter design: band split, delay alignment, virtualiser, crosstalk canceller, centre beam.

Everything is designed once per (layout, mode, sample rate, sweet spot) on a frequency grid, turned
into FIR filters (``FILTER_TAPS`` taps, a common modelling delay) and cached. The renderer
only convolves.

Signal flow of the ``"spatial"`` mode (inputs after the upmix: L', R', C)::

    L', R' --> virtualiser B (2x2: all-pass ipsi, delayed low-pass contra, +/-30 deg)
           --> crosstalk canceller H (n_drivers x 2, multi-point acoustic contrast, effort-limited)
    C      --> centre beamformer w (n_drivers, minimax: main lobe +/-45 deg, nulls at +/-90 deg)

and of the ``"stereo"`` mode (inputs L, R): each driver plays the channel on its side (the
mean of both when it sits within 1 cm of the centre line), band-limited and delay-aligned.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ..physics import SPEED_OF_SOUND_M_S
from .acoustics import driver_to_ear_transfer, far_field_transfer, horizontal_directions, point_transfer
from .head import HEAD_RADIUS_M, HeadPose, head_shadow_response, woodworth_itd_s
from .layout import DeviceLayout

FILTER_TAPS = 2048  # 42.7 ms at 48 kHz: covers the regularised inverse's tails and the band-split IIR tails
DESIGN_FFT_SIZE = 2 * FILTER_TAPS
MODELLING_DELAY_S = 0.009  # acausal part allowed to the inverse filters (432 samples at 48 kHz)
VIRTUAL_SPEAKER_AZIMUTH_RAD = np.deg2rad(30.0)
CTC_MAX_GAIN_DB = 25.0  # default plateau of the effort curve (largest driver gain vs. plain drive)
CTC_GAIN_CORNERS_HZ = (80.0, 250.0, 6000.0, 14000.0)  # 0 dB below the first and above the last corner
FLOOR_EXTRA_GAIN_DB = 6.0  # effort over the plateau a separation floor may take before it gives way
FLOOR_MIN_SEAT_DB = 15.0  # separation at the seat (designer's model, per bin) a floor may not push below
BEAM_MAX_GAIN_DB = 15.0
BEAM_NULL_AZIMUTH_RAD = np.deg2rad(90.0)
BEAM_LOBE_AZIMUTH_RAD = np.deg2rad(45.0)
BEAM_DIFFUSE_POINTS = 96
BEAM_DIFFUSE_WEIGHT = 1.0  # total weight of the diffuse-field (room) control points
BEAM_LOBE_WEIGHTS = (3.0, 1.0, 1.0, 2.0, 2.0, 8.0, 8.0)  # initial, at 0, +/-15, +/-30, +/-45 degrees
BEAM_NULL_WEIGHTS = (2.0, 2.0, 0.5, 0.5)  # initial, at +/-90, +/-75 degrees
BEAM_LOBE_MAX_DROP_DB = 2.0  # design goal inside +/-45 degrees (the target is 3 dB; margin for the FIR)
BEAM_MIN_REJECTION_DB = 13.0  # design goal at +/-90 degrees (the target is 10 dB)
BEAM_MINIMAX_ITERATIONS = 6  # Lawson reweighting passes
BEAM_MIN_BENEFIT_DB = 3.0  # side-wall rejection gain over plain mono below which the beam fades out
_CENTRE_LINE_M = 0.01
_MIN_HIGHPASS_HZ = 40.0  # below this a driver's own roll-off is the high-pass
_SMOOTH_OCTAVES = 1.0 / 3.0
_MIN_DIAGONAL = 0.3  # floor of |response at the seat| when normalising the centre beam

MODES = ("spatial", "stereo")


@dataclass(frozen=True)
class ControlPoint:
    """A head pose the crosstalk canceller is designed for, relative to the listening position.

    Attributes
    ----------
    lateral_m : float, metres, across the listening axis (+ to the listener's left)
    depth_m : float, metres, along it (+ away from the device)
    yaw_deg : float, degrees, head turn
    bright : float
        Weight of the ear that should hear the channel (acoustic contrast's bright zone).
    dark : float
        Weight of the ear that should not (the dark zone): how much crosstalk here matters.
    """

    lateral_m: float = 0.0
    depth_m: float = 0.0
    yaw_deg: float = 0.0
    bright: float = 1.0
    dark: float = 1.0


@dataclass(frozen=True)
class SweetSpot:
    """A crosstalk-canceller profile: where the listener may be, and how hard the drivers may work.

    Attributes
    ----------
    points : tuple of ControlPoint
        Head poses designed for at once; the first is the listening position, where the
        canceller's own-ear response is normalised to unity.
    max_gain_db : float, dB
        Plateau of the effort curve (:func:`gain_curve_db`): the largest driver gain over
        plain drive that the canceller may use between the corners
        :data:`CTC_GAIN_CORNERS_HZ`.
    floor_lateral_m : tuple of float, metres
        Head positions across the listening axis where each channel's separation (own ear over
        the other ear) must not fall below the floor: hard constraints, not weights.
    floor_db : tuple of (Hz, dB) pairs
        The floor over frequency, log-interpolated between the pairs (held beyond them).
    """

    points: tuple[ControlPoint, ...]
    max_gain_db: float = CTC_MAX_GAIN_DB
    floor_lateral_m: tuple[float, ...] = ()
    floor_db: tuple[tuple[float, float], ...] = ((1.0, 0.0),)

    def floor_curve_db(self, frequency_hz: NDArray[np.float64]) -> NDArray[np.float64]:
        """The separation floor at every frequency, shape (F,), dB."""
        corners = np.log(np.array([f for f, _ in self.floor_db]))
        values = np.array([v for _, v in self.floor_db])
        return np.asarray(np.interp(np.log(np.maximum(frequency_hz, 1.0)), corners, values))


def _symmetric(lateral_m: float, dark: float, bright: float = 1.0) -> tuple[ControlPoint, ControlPoint]:
    return ControlPoint(lateral_m, dark=dark, bright=bright), ControlPoint(-lateral_m, dark=dark, bright=bright)


#: Sweet-spot profiles by name (``benchmarks/bench_spatial.py`` measures each):
#: "zone" (default) balances the seat, +/-10 cm, head turns and depth and holds a separation
#: floor 30 cm to each side; "seat" maximises separation at the listening position only;
#: "wide" keeps it 10 cm to each side; "room" is a mild canceller that stays near or above
#: plain stereo 30 cm to each side.
SWEET_SPOTS: dict[str, SweetSpot] = {
    "zone": SweetSpot(
        (
            ControlPoint(dark=38.0),
            *_symmetric(0.05, 1.0),
            *_symmetric(0.1, 5.0),
            *_symmetric(0.3, 2.0),
            ControlPoint(yaw_deg=15.0, dark=0.31),
            ControlPoint(yaw_deg=-15.0, dark=0.31),
            ControlPoint(depth_m=0.5, dark=3.44),
            ControlPoint(depth_m=-0.5, dark=3.44),
        ),
        max_gain_db=36.0,  # the floor costs separation at the seat and 10 cm off; effort buys it back
        floor_lateral_m=(0.3, -0.3),
        # Per channel, 30 cm to the side: +5 dB over 1-2.5 kHz, where the array can hold it; -1 dB
        # at 4 kHz; -16 dB at 300 Hz. Below ~1 kHz a 15 cm array would need a second-order field
        # (effort ~ 1/f^2) to keep both the null at the seat and the order 30 cm away, so there
        # the channel whose null the head has crossed reverses while the other keeps +5..7 dB;
        # the benchmark's separation (mean of both channels, octave bands 250 Hz-4 kHz) stays >= 0.
        floor_db=((300.0, -16.0), (600.0, -8.0), (1000.0, 5.0), (2500.0, 5.0), (4000.0, -1.0)),
    ),
    "seat": SweetSpot((ControlPoint(),), max_gain_db=25.0),
    "wide": SweetSpot(
        (ControlPoint(), *_symmetric(0.05, 1.0), *_symmetric(0.1, 4.0), *_symmetric(0.2, 1.0)), max_gain_db=25.0
    ),
    "room": SweetSpot(
        (ControlPoint(), *_symmetric(0.1, 1.0), *_symmetric(0.2, 1.0), *_symmetric(0.3, 3.0)), max_gain_db=15.0
    ),
}
DEFAULT_SWEET_SPOT = "zone"


@dataclass(frozen=True)
class RenderFilters:
    """FIR filters that map the renderer's inputs to the drivers.

    Attributes
    ----------
    impulse_responses : ndarray, shape (taps, n_inputs, n_drivers), float32
    input_names : tuple of str
        ``("left", "right")`` in stereo mode, ``("left", "right", "centre")`` in spatial mode.
    delay_samples : int
        Latency of the filters themselves (modelling delay), samples.
    sample_rate : int, Hz
    """

    impulse_responses: NDArray[np.float32]
    input_names: tuple[str, ...]
    delay_samples: int
    sample_rate: int


def band_split_responses(
    layout: DeviceLayout, frequency_hz: NDArray[np.float64], sample_rate: int
) -> NDArray[np.complex128]:
    """Causal Linkwitz-Riley (4th order) band-pass response of every driver's ``band_hz``.

    Returns
    -------
    ndarray, shape (F, n_drivers), complex128
    """
    out = np.ones((frequency_hz.size, layout.n_drivers), dtype=np.complex128)
    nyquist = sample_rate / 2
    for n, driver in enumerate(layout.drivers):
        low, high = driver.band_hz
        if low >= _MIN_HIGHPASS_HZ:
            out[:, n] *= butterworth2_response(frequency_hz, low, sample_rate, "highpass") ** 2
        if high < 0.45 * sample_rate and high < nyquist:
            out[:, n] *= butterworth2_response(frequency_hz, high, sample_rate, "lowpass") ** 2
    return out


def butterworth2_response(
    frequency_hz: NDArray[np.float64], corner_hz: float, sample_rate: int, kind: str
) -> NDArray[np.complex128]:
    """Frequency response of a digital 2nd-order Butterworth (Q = 1/sqrt 2) biquad, shape (F,).

    Bilinear transform with prewarping (R. Bristow-Johnson, Audio EQ Cookbook); squared it
    is the 4th-order Linkwitz-Riley crossover section. Written out here rather than taken
    from scipy.signal, whose import fails when ``torch`` is blocked in ``sys.modules``.

    Parameters
    ----------
    frequency_hz : ndarray, shape (F,), Hz
    corner_hz : float, Hz (-3 dB point)
    kind : {"lowpass", "highpass"}
    """
    w0 = 2 * np.pi * corner_hz / sample_rate
    alpha = np.sin(w0) / np.sqrt(2.0)
    cos_w0 = np.cos(w0)
    if kind == "lowpass":
        b = np.array([(1 - cos_w0) / 2, 1 - cos_w0, (1 - cos_w0) / 2])
    elif kind == "highpass":
        b = np.array([(1 + cos_w0) / 2, -(1 + cos_w0), (1 + cos_w0) / 2])
    else:
        raise ValueError(f"unknown filter kind {kind!r}; use 'lowpass' or 'highpass'")
    a = np.array([1 + alpha, -2 * cos_w0, 1 - alpha])
    z1 = np.exp(-2j * np.pi * np.asarray(frequency_hz) / sample_rate)
    return np.asarray((b[0] + b[1] * z1 + b[2] * z1**2) / (a[0] + a[1] * z1 + a[2] * z1**2))


def alignment_delays_s(layout: DeviceLayout) -> NDArray[np.float64]:
    """Delay per driver that makes all drivers arrive together at the listener, shape (n_drivers,), s."""
    dist = np.linalg.norm(layout.positions_m() - np.asarray(layout.listener.position_m)[None, :], axis=1)
    return np.asarray((dist.max() - dist) / SPEED_OF_SOUND_M_S)


def stereo_assignment(layout: DeviceLayout) -> NDArray[np.float64]:
    """Plain-stereo gains from (L, R) to the drivers by side, shape (2, n_drivers), float64."""
    y = layout.positions_m()[:, 1]
    gains = np.zeros((2, layout.n_drivers))
    gains[0, y > _CENTRE_LINE_M] = 1.0
    gains[1, y < -_CENTRE_LINE_M] = 1.0
    centre = np.abs(y) <= _CENTRE_LINE_M
    gains[:, centre] = 0.5
    return gains


def _reference(layout: DeviceLayout, frequency_hz: NDArray[np.float64]) -> NDArray[np.complex128]:
    """Free field of a unit point source at the device centre, observed at the head centre, shape (F,)."""
    r0 = float(np.linalg.norm(layout.listener.position_m))
    return np.asarray(np.exp(-2j * np.pi * frequency_hz * r0 / SPEED_OF_SOUND_M_S) / r0)


def _smooth_log_frequency(
    values: NDArray[np.float64], frequency_hz: NDArray[np.float64], octaves: float
) -> NDArray[np.float64]:
    """Moving average of ``values`` (F, ...) over a window ``octaves`` wide on a log-frequency axis."""
    log_f = np.log2(np.maximum(frequency_hz, frequency_hz[1] if frequency_hz.size > 1 else 1.0))
    cumulative = np.concatenate([np.zeros((1, *values.shape[1:])), np.cumsum(values, axis=0)])
    lo = np.searchsorted(log_f, log_f - octaves / 2, side="left")
    hi = np.searchsorted(log_f, log_f + octaves / 2, side="right")
    counts = (hi - lo).reshape((-1,) + (1,) * (values.ndim - 1))
    return np.asarray((cumulative[hi] - cumulative[lo]) / counts)


def gain_curve_db(
    frequency_hz: NDArray[np.float64], plateau_db: float, corners_hz: tuple[float, ...]
) -> NDArray[np.float64]:
    """Target cancellation-gain (effort) curve: 0 dB outside the corners, ``plateau_db`` between, log-interpolated."""
    f = np.maximum(frequency_hz, 1.0)
    return np.asarray(np.interp(np.log(f), np.log(np.asarray(corners_hz)), [0.0, plateau_db, plateau_db, 0.0]))


def regularised_inverse(
    plants: NDArray[np.complex128],
    targets: NDArray[np.complex128],
    weights: NDArray[np.float64],
    effort_penalty: NDArray[np.float64],
    max_gain_db: NDArray[np.float64],
    iterations: int = 28,
) -> NDArray[np.complex128]:
    """Multi-point Tikhonov inverse whose regularisation follows a target gain curve.

    Solves min_H sum_p w_p ||C_p H - D_p||^2 + beta(f) ||R^(1/2) H||^2 per frequency, with beta(f)
    the smallest value (found by bisection on a log scale) for which the largest singular
    value of H stays below ``max_gain_db`` (Kirkeby et al., 1998, with a frequency-dependent
    regularisation).

    Parameters
    ----------
    plants : ndarray, shape (P, F, M, N), complex128
        P points (head positions or directions), M controlled outputs, N drivers.
    targets : ndarray, shape (P, F, M, K), complex128
    weights : ndarray, shape (P,) or (P, F), float64
        Per point, or per point and frequency (minimax designs reweight per frequency).
    effort_penalty : ndarray, shape (F, N), float64
        Diagonal of R (large where a driver must not play).
    max_gain_db : ndarray, shape (F,), dB

    Returns
    -------
    ndarray, shape (F, N, K), complex128
    """
    w = np.broadcast_to(weights.reshape(weights.shape[0], -1), plants.shape[:2])
    w = w / w.sum(axis=0, keepdims=True)
    ch = np.conj(np.swapaxes(plants, -1, -2))  # (P, F, N, M)
    normal = np.einsum("pf,pfnm,pfmk->fnk", w, ch, plants)
    rhs = np.einsum("pf,pfnm,pfmk->fnk", w, ch, targets)
    scale = np.maximum(np.trace(normal, axis1=1, axis2=2).real / normal.shape[-1], 1e-12)
    penalty = np.einsum("fn,nk->fnk", effort_penalty, np.eye(normal.shape[-1]))
    max_gain = 10.0 ** (max_gain_db / 20.0)
    lo = np.full(scale.shape, -9.0)
    hi = np.full(scale.shape, 4.0)
    for _ in range(iterations):
        mid = (lo + hi) / 2
        h = np.linalg.solve(normal + (10.0**mid * scale)[:, None, None] * penalty, rhs)
        ok = np.linalg.norm(h, ord=2, axis=(1, 2)) <= max_gain
        hi = np.where(ok, mid, hi)
        lo = np.where(ok, lo, mid)
    return np.asarray(np.linalg.solve(normal + (10.0**hi * scale)[:, None, None] * penalty, rhs))


def virtualiser_matrix(frequency_hz: NDArray[np.float64]) -> NDArray[np.complex128]:
    """Binaural target of two virtual speakers at +/-30 degrees, shape (F, 2, 2) (ears x inputs).

    Ipsilateral: a first-order all-pass (unit magnitude) with Brown & Duda's head corner
    w0 = c/a, the near ear's phase. Contralateral: the same all-pass, Woodworth's ITD of
    30 degrees and Brown & Duda's shadow low-pass at 120 degrees incidence, whose phase adds
    the low-frequency growth of the ITD toward Kuhn's 3a/c sin(theta). Both are scaled so that
    |ipsi|^2 + |contra|^2 = 2 at every frequency, the ear power of plain stereo on a compact
    device, which keeps the tonal balance of uncorrelated content.
    """
    w_norm = 2 * np.pi * frequency_hz * HEAD_RADIUS_M / (2.0 * SPEED_OF_SOUND_M_S)
    ipsi = (1 - 1j * w_norm) / (1 + 1j * w_norm)
    itd_s = float(woodworth_itd_s(VIRTUAL_SPEAKER_AZIMUTH_RAD))
    contra = head_shadow_response(frequency_hz, np.array(np.pi / 2 + VIRTUAL_SPEAKER_AZIMUTH_RAD))
    contra = contra * np.exp(-2j * np.pi * frequency_hz * itd_s) * ipsi
    norm = np.sqrt(2.0 / (np.abs(ipsi) ** 2 + np.abs(contra) ** 2))
    out = np.empty((frequency_hz.size, 2, 2), dtype=np.complex128)
    out[:, 0, 0] = out[:, 1, 1] = ipsi * norm
    out[:, 0, 1] = out[:, 1, 0] = contra * norm
    return out


def design_poses(layout: DeviceLayout, sweet_spot: SweetSpot) -> list[HeadPose]:
    """Head poses of a profile's control points, the listening position first."""
    x, y, z = layout.listener.position_m
    return [HeadPose((x + p.depth_m, y + p.lateral_m, z), float(np.deg2rad(p.yaw_deg))) for p in sweet_spot.points]


def floor_poses(layout: DeviceLayout, sweet_spot: SweetSpot) -> list[HeadPose]:
    """Head poses where a profile's separation floor holds (facing the device)."""
    x, y, z = layout.listener.position_m
    return [HeadPose((x, y + lateral, z)) for lateral in sweet_spot.floor_lateral_m]


def acoustic_contrast(
    bright: NDArray[np.complex128],
    dark: NDArray[np.complex128],
    bright_weights: NDArray[np.float64],
    dark_weights: NDArray[np.float64],
    effort_penalty: NDArray[np.float64],
    max_gain_db: NDArray[np.float64],
    level: NDArray[np.float64] | None = None,
    frequency_hz: NDArray[np.float64] | None = None,
    iterations: int = 20,
    floor: tuple[NDArray[np.complex128], NDArray[np.complex128], NDArray[np.float64]] | None = None,
) -> NDArray[np.complex128]:
    """Multi-point acoustic contrast filter with an effort constraint, per frequency.

    Maximises sum_p b_p |c_p h|^2 / (sum_p d_p |e_p h|^2 + beta(f) h^H R h) (Choi & Kim,
    JASA 111(4), 2002; Elliott et al., JASA 132(3), 2012): the principal generalised
    eigenvector, scaled so that the first bright point gets ``level`` (default 1). beta(f) is the
    smallest value (bisection on a log scale) for which no driver's gain exceeds
    ``max_gain_db``. Unlike pressure matching, the own-ear level away from the first point
    is left free, which is what lets one filter keep a null near the far ear of heads at
    several positions.

    Parameters
    ----------
    bright, dark : ndarray, shape (P, F, N), complex128
        Responses of the N drivers at the ear that should (bright) and should not (dark)
        hear the channel, at P control points.
    bright_weights, dark_weights : ndarray, shape (P,) or (P, F), float64
    effort_penalty : ndarray, shape (F, N), float64, diagonal of R
    max_gain_db : ndarray, shape (F,), dB
    level : ndarray, shape (F,), float64, optional
        Magnitude of the response at the first bright point (zero phase re the plant).
    frequency_hz : ndarray, shape (F,), Hz, optional
        When given, beta(f) is smoothed over a third of an octave (smooth filters, short
        impulse responses); the effort limit is then enforced by scaling.
    floor : (bright, dark, floor_db), optional
        Hard constraints |c_q h|^2 >= g(f) |e_q h|^2 at Q more points (responses of shape
        (Q, F, N), floor in dB, shape (F,)). Where the contrast solution breaks one, the
        constraint enters as a Lagrange term: the principal vector of
        (A + mu sum_q (C_q - g E_q), B + beta R), with mu(f) the smallest value (bisection on a
        log scale) that meets every constraint; only the broken constraints take part.

    Returns
    -------
    ndarray, shape (F, N), complex128
    """
    target = np.ones(bright.shape[1]) if level is None else level
    wb = np.broadcast_to(bright_weights.reshape(bright_weights.shape[0], -1), bright.shape[:2])
    wd = np.broadcast_to(dark_weights.reshape(dark_weights.shape[0], -1), dark.shape[:2])
    a = np.einsum("pf,pfn,pfm->fnm", wb / wb.sum(axis=0), np.conj(bright), bright)
    b = np.einsum("pf,pfn,pfm->fnm", wd / wd.sum(axis=0), np.conj(dark), dark)
    scale = np.maximum(np.trace(b, axis1=1, axis2=2).real / b.shape[-1], 1e-12)
    penalty = np.einsum("fn,nk->fnk", effort_penalty, np.eye(b.shape[-1]))
    max_gain = 10.0 ** (max_gain_db / 20.0)

    constraint = np.zeros_like(a)
    no_mu = np.zeros(scale.shape)

    def solve(log_beta: NDArray[np.float64], mu: NDArray[np.float64] = no_mu) -> NDArray[np.complex128]:
        chol_inv = np.linalg.inv(np.linalg.cholesky(b + (10.0**log_beta * scale)[:, None, None] * penalty))
        whitened = chol_inv @ (a + (mu * a_scale)[:, None, None] * constraint) @ np.conj(np.swapaxes(chol_inv, 1, 2))
        _, vectors = np.linalg.eigh((whitened + np.conj(np.swapaxes(whitened, 1, 2))) / 2)
        h = np.einsum("fmn,fm->fn", np.conj(chol_inv), vectors[:, :, -1])  # L^-H v
        at_seat = np.einsum("fn,fn->f", bright[0], h)
        magnitude = np.abs(at_seat)
        at_seat = np.where(magnitude > 1e-12, at_seat, 1e-12)
        return np.asarray(h * (target / at_seat)[:, None])

    a_scale = np.maximum(np.trace(a, axis1=1, axis2=2).real / a.shape[-1], 1e-12)
    lo = np.full(scale.shape, -8.0)
    hi = np.full(scale.shape, 4.0)
    for _ in range(iterations):
        mid = (lo + hi) / 2
        ok = np.max(np.abs(solve(mid)), axis=1) <= max_gain
        hi = np.where(ok, mid, hi)
        lo = np.where(ok, lo, mid)
    # A jagged beta(f) makes long impulse responses that the FIR truncation would cut: smooth it.
    log_beta = _smooth_log_frequency(hi, frequency_hz, _SMOOTH_OCTAVES) if frequency_hz is not None else hi
    h = solve(log_beta)
    if floor is not None:
        seat = (bright[0], dark[0])
        h = _enforce_floor(h, log_beta, solve, constraint, floor, frequency_hz, iterations, max_gain, seat)
    peak = np.max(np.abs(h), axis=1)
    return np.asarray(h * np.minimum(1.0, max_gain / np.maximum(peak, 1e-12))[:, None])


def _enforce_floor(
    h: NDArray[np.complex128],
    log_beta: NDArray[np.float64],
    solve: Callable[[NDArray[np.float64], NDArray[np.float64]], NDArray[np.complex128]],
    constraint: NDArray[np.complex128],
    floor: tuple[NDArray[np.complex128], NDArray[np.complex128], NDArray[np.float64]],
    frequency_hz: NDArray[np.float64] | None,
    iterations: int,
    max_gain: NDArray[np.float64],
    seat: tuple[NDArray[np.complex128], NDArray[np.complex128]],
) -> NDArray[np.complex128]:
    """Raise the Lagrange multiplier of :func:`acoustic_contrast` until the floor holds; fills ``constraint``.

    The multiplier stops growing where the effort limit (plus :data:`FLOOR_EXTRA_GAIN_DB`) or the
    separation at the seat (:data:`FLOOR_MIN_SEAT_DB`) would be broken first: there the floor is
    out of the array's reach (with two drivers, the null at the seat leaves no freedom) and the
    canceller keeps what it can.
    """
    bright, dark, floor_db = floor
    g = 10.0 ** (np.asarray(floor_db) / 10.0)

    def slack(filters: NDArray[np.complex128]) -> NDArray[np.float64]:
        own = np.abs(np.einsum("qfn,fn->qf", bright, filters)) ** 2
        other = np.abs(np.einsum("qfn,fn->qf", dark, filters)) ** 2
        return np.asarray(own - g[None, :] * other)

    broken = (slack(h) < 0).astype(np.float64)  # (Q, F)
    active = broken.any(axis=0)
    if not active.any():
        return h
    own_outer = np.einsum("qfn,qfm->qfnm", np.conj(bright), bright)
    other_outer = np.einsum("qfn,qfm->qfnm", np.conj(dark), dark)
    constraint[:] = np.einsum("qf,qfnm->fnm", broken, own_outer - g[None, :, None, None] * other_outer)
    lo = np.full(log_beta.shape, -5.0)
    hi = np.full(log_beta.shape, 3.0)
    for _ in range(iterations * 3 // 4):
        mid = (lo + hi) / 2
        trial = solve(log_beta, 10.0**mid)
        seat_db = 10 * np.log10(
            np.maximum(np.abs(np.einsum("fn,fn->f", seat[0], trial)) ** 2, 1e-30)
            / np.maximum(np.abs(np.einsum("fn,fn->f", seat[1], trial)) ** 2, 1e-30)
        )
        ok = (
            np.all(slack(trial) >= 0, axis=0)
            | (np.max(np.abs(trial), axis=1) > max_gain * 10.0 ** (FLOOR_EXTRA_GAIN_DB / 20.0))
            | (seat_db < FLOOR_MIN_SEAT_DB)
        )
        hi = np.where(ok, mid, hi)
        lo = np.where(ok, lo, mid)
    log_mu = np.where(active, hi, -9.0)
    if frequency_hz is not None:  # smooth in frequency too, never below what each bin needs
        log_mu = np.maximum(log_mu, _smooth_log_frequency(np.where(active, hi, -6.0), frequency_hz, _SMOOTH_OCTAVES))
    return solve(log_beta, np.where(log_mu > -8.5, 10.0**log_mu, 0.0))


def crosstalk_canceller(
    layout: DeviceLayout, frequency_hz: NDArray[np.float64], sample_rate: int, sweet_spot: str = DEFAULT_SWEET_SPOT
) -> NDArray[np.complex128]:
    """Multi-point crosstalk canceller, shape (F, n_drivers, 2) (drivers x binaural inputs).

    The plant is the designer's head model (Brown & Duda) normalised by a point source at
    the device centre, so H is a gain relative to plain drive. Each binaural input is an
    :func:`acoustic_contrast` filter over the profile's control points (its own ear bright,
    the other ear dark), with plain stereo's level at its own ear at the listening position and
    the effort bounded by :func:`gain_curve_db` with the profile's plateau. Each driver's
    effort is penalised outside its ``band_hz``, so the canceller band-splits itself. Where the
    profile has a separation floor (``floor_lateral_m``), each input keeps it at those head
    positions as a hard constraint. ``sweet_spot`` names a profile in :data:`SWEET_SPOTS`.
    """
    profile = _sweet_spot(sweet_spot)
    ref = _reference(layout, frequency_hz)
    plants = np.stack(
        [driver_to_ear_transfer(layout, frequency_hz, p) / ref[:, None, None] for p in design_poses(layout, profile)]
    )  # (P, F, 2, N)
    bands = np.abs(band_split_responses(layout, frequency_hz, sample_rate))
    penalty = 1.0 / np.maximum(bands, 1e-2) ** 2
    gain_db = gain_curve_db(frequency_hz, profile.max_gain_db, CTC_GAIN_CORNERS_HZ)
    bright_w = np.array([p.bright for p in profile.points])
    dark_w = np.array([p.dark for p in profile.points])
    # Own-ear level: the RMS of plain stereo's two ear responses at the seat, so that the
    # canceller keeps plain playback's loudness (and the effort limit covers that gain too).
    plain_at_ears = plants[0] @ plain_stereo_responses(layout, frequency_hz, sample_rate)  # (F, 2 ears, 2 inputs)
    level = np.sqrt(np.mean(np.abs(plain_at_ears) ** 2, axis=1))  # (F, 2)
    floor_plants = (
        np.stack(
            [driver_to_ear_transfer(layout, frequency_hz, p) / ref[:, None, None] for p in floor_poses(layout, profile)]
        )
        if profile.floor_lateral_m
        else None
    )  # (Q, F, 2, N)
    # With two drivers sounding, the null at the seat fixes the filter up to its scale: no room for a floor.
    floor_db = np.where(np.sum(bands > 0.5, axis=1) >= 3, profile.floor_curve_db(frequency_hz), -200.0)
    columns = [
        acoustic_contrast(
            plants[:, :, ear, :],
            plants[:, :, 1 - ear, :],
            bright_w,
            dark_w,
            penalty,
            gain_db,
            level[:, ear],
            frequency_hz,
            floor=None
            if floor_plants is None
            else (floor_plants[:, :, ear, :], floor_plants[:, :, 1 - ear, :], floor_db),
        )
        for ear in (0, 1)
    ]
    return np.asarray(np.stack(columns, axis=-1))


def centre_beamformer(
    layout: DeviceLayout, frequency_hz: NDArray[np.float64], sample_rate: int
) -> NDArray[np.complex128]:
    """Centre-channel beamformer weights, shape (F, n_drivers).

    Weighted least squares over far-field directions (Van Trees, Optimum Array Processing,
    ch. 3 and 6): unit response at 0, +/-15, +/-30 and +/-45 degrees azimuth (listener
    elevation; :data:`BEAM_LOBE_WEIGHTS`), zero at +/-75 and +/-90 degrees
    (:data:`BEAM_NULL_WEIGHTS`, the side walls), and zero with a small total weight
    (:data:`BEAM_DIFFUSE_WEIGHT`) over a uniform sphere of directions outside the lobe, which
    raises the directivity index and with it the direct-to-reverberant ratio. Regularised
    to :data:`BEAM_MAX_GAIN_DB` of effort with each driver penalised outside its band; the
    response at the listener is then normalised to unity. Where the beam rejects the side
    walls by less than :data:`BEAM_MIN_BENEFIT_DB` more than plain mono drive (fully below
    3 dB, fully above 6 dB, 1/3-octave smoothed), it cross-fades to plain mono.
    """
    elevation = float(np.arctan2(layout.listener.height_m, layout.listener.distance_m))
    lobe = np.deg2rad(np.array([0.0, 15.0, -15.0, 30.0, -30.0, 45.0, -45.0]))
    nulls = np.array([BEAM_NULL_AZIMUTH_RAD, -BEAM_NULL_AZIMUTH_RAD, np.deg2rad(75.0), -np.deg2rad(75.0)])
    horizontal = horizontal_directions(np.concatenate([lobe, nulls]), elevation)
    # Diffuse-field control (superdirective design): directions spread over the sphere, away from the lobe.
    sphere = _fibonacci_sphere(BEAM_DIFFUSE_POINTS)
    toward_seat = np.asarray(layout.listener.position_m) / np.linalg.norm(layout.listener.position_m)
    diffuse = sphere[sphere @ toward_seat < np.cos(BEAM_LOBE_AZIMUTH_RAD + np.deg2rad(15.0))]
    directions = np.concatenate([horizontal, diffuse])
    weights = np.concatenate(
        [BEAM_LOBE_WEIGHTS, BEAM_NULL_WEIGHTS, np.full(len(diffuse), BEAM_DIFFUSE_WEIGHT / len(diffuse))]
    )
    plants = np.moveaxis(far_field_transfer(layout, frequency_hz, directions), 1, 0)[:, :, None, :]  # (P, F, 1, N)
    target_values = np.concatenate([np.ones(lobe.size), np.zeros(nulls.size + len(diffuse))])
    targets = np.broadcast_to(target_values[:, None, None, None], (*plants.shape[:2], 1, 1)).astype(np.complex128)
    bands = np.abs(band_split_responses(layout, frequency_hz, sample_rate))
    penalty = 1.0 / np.maximum(bands, 1e-2) ** 2
    effort_db = gain_curve_db(frequency_hz, BEAM_MAX_GAIN_DB, (100.0, 300.0, 8000.0, 16000.0))
    # Both the beam and plain mono get the plain drive's (causal, band-split) phase at the seat.
    plain_drive = plain_stereo_responses(layout, frequency_hz, sample_rate).sum(axis=2)
    plain_at_seat = _seat_response(layout, frequency_hz, plain_drive)
    plain_phase = np.where(np.abs(plain_at_seat) > 1e-12, plain_at_seat / np.maximum(np.abs(plain_at_seat), 1e-12), 1)
    beam_weights = _minimax_beam(plants, targets, weights, penalty, effort_db, lobe.size, 2)
    beam = _unit_at_seat(layout, frequency_hz, beam_weights) * plain_phase[:, None]
    # Where the geometry cannot beamform (e.g. two drivers on a line across the room), the
    # beam would only colour the sound: cross-fade to the plain mono drive there.
    plain = _unit_at_seat(layout, frequency_hz, plain_drive) * plain_phase[:, None]
    side_walls = far_field_transfer(
        layout,
        frequency_hz,
        horizontal_directions(np.array([BEAM_NULL_AZIMUTH_RAD, -BEAM_NULL_AZIMUTH_RAD]), elevation),
    )
    # Side-wall leakage relative to the response at the seat (the beam may not reach unity there).
    leak_beam = np.mean(np.abs(np.einsum("ftn,fn->ft", side_walls, beam)) ** 2, axis=1) / np.maximum(
        np.abs(_seat_response(layout, frequency_hz, beam)) ** 2, 1e-12
    )
    leak_plain = np.mean(np.abs(np.einsum("ftn,fn->ft", side_walls, plain)) ** 2, axis=1) / np.maximum(
        np.abs(_seat_response(layout, frequency_hz, plain)) ** 2, 1e-12
    )
    gain_db = 10 * np.log10(
        _smooth_log_frequency(leak_plain, frequency_hz, _SMOOTH_OCTAVES)
        / np.maximum(_smooth_log_frequency(leak_beam, frequency_hz, _SMOOTH_OCTAVES), 1e-12)
    )
    blend = np.clip((gain_db - BEAM_MIN_BENEFIT_DB) / BEAM_MIN_BENEFIT_DB, 0.0, 1.0)[:, None]
    return np.asarray(blend * beam + (1 - blend) * plain)


def _minimax_beam(
    plants: NDArray[np.complex128],
    targets: NDArray[np.complex128],
    weights: NDArray[np.float64],
    penalty: NDArray[np.float64],
    effort_db: NDArray[np.float64],
    n_lobe: int,
    n_null: int,
) -> NDArray[np.complex128]:
    """Weighted least squares, reweighted per frequency toward the lobe and null goals (Lawson's algorithm).

    Points 0..n_lobe-1 are the main lobe (point 0 the axis), the next ``n_null`` the side-wall
    nulls. Where a lobe point drops more than :data:`BEAM_LOBE_MAX_DROP_DB` below the axis, or a
    null rejects less than :data:`BEAM_MIN_REJECTION_DB`, its weight grows (at most 10x per
    pass); satisfied points keep theirs. Returns weights, shape (F, N).
    """
    w = np.repeat(weights[:, None], plants.shape[1], axis=1)
    nulls = slice(n_lobe, n_lobe + n_null)
    for _ in range(BEAM_MINIMAX_ITERATIONS):
        beam = regularised_inverse(plants, targets, w, penalty, effort_db)[:, :, 0]
        level_db = 20 * np.log10(np.maximum(np.abs(np.einsum("pfn,fn->pf", plants[:, :, 0, :], beam)), 1e-12))
        drop_db = level_db[0][None, :] - level_db
        excess = np.zeros_like(drop_db)
        excess[1:n_lobe] = drop_db[1:n_lobe] - BEAM_LOBE_MAX_DROP_DB
        excess[nulls] = BEAM_MIN_REJECTION_DB - drop_db[nulls]
        w = w * 10.0 ** np.clip(excess / 10.0, 0.0, 1.0)
    return np.asarray(regularised_inverse(plants, targets, w, penalty, effort_db)[:, :, 0])


def _seat_response(
    layout: DeviceLayout, frequency_hz: NDArray[np.float64], weights: NDArray[np.complex128]
) -> NDArray[np.complex128]:
    """Free-field response at the seat (no head) of driver weights (F, N), relative to a centre source, shape (F,)."""
    seat = (
        point_transfer(layout, frequency_hz, np.asarray([layout.listener.position_m]))[:, 0, :]
        / _reference(layout, frequency_hz)[:, None]
    )
    return np.asarray(np.sum(seat * weights, axis=1))


def _unit_at_seat(
    layout: DeviceLayout, frequency_hz: NDArray[np.float64], weights: NDArray[np.complex128]
) -> NDArray[np.complex128]:
    """Scale driver weights (F, N) so that the free-field response at the seat is 1 (floored), shape (F, N)."""
    at_seat = _seat_response(layout, frequency_hz, weights)
    magnitude = np.abs(at_seat)
    phase = np.where(magnitude > 1e-12, at_seat / np.maximum(magnitude, 1e-12), 1.0)
    scale = phase * np.maximum(magnitude, _MIN_DIAGONAL)
    return np.asarray(weights / scale[:, None])


def _fibonacci_sphere(n_points: int) -> NDArray[np.float64]:
    """Nearly uniform unit vectors on the sphere (golden-angle spiral), shape (n_points, 3)."""
    k = np.arange(n_points) + 0.5
    z = 1 - 2 * k / n_points
    phi = np.pi * (1 + 5**0.5) * k
    r = np.sqrt(1 - z**2)
    return np.stack([r * np.cos(phi), r * np.sin(phi), z], axis=1)


def plain_stereo_responses(
    layout: DeviceLayout, frequency_hz: NDArray[np.float64], sample_rate: int
) -> NDArray[np.complex128]:
    """Plain-stereo filters (band split + alignment + side assignment), shape (F, n_drivers, 2)."""
    bands = band_split_responses(layout, frequency_hz, sample_rate)
    delay = np.exp(-2j * np.pi * frequency_hz[:, None] * alignment_delays_s(layout)[None, :])
    return np.asarray((bands * delay)[:, :, None] * stereo_assignment(layout).T[None, :, :])


def _ear_power(plant: NDArray[np.complex128], filters: NDArray[np.complex128]) -> NDArray[np.float64]:
    """Ear power (summed over ears) for uncorrelated unit inputs, shape (F,)."""
    return np.asarray(np.sum(np.abs(plant @ filters) ** 2, axis=(1, 2)))


def _tonal_match(
    target_power: NDArray[np.float64], power: NDArray[np.float64], frequency_hz: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Third-octave smoothed gain that makes ``power`` match ``target_power``, shape (F,)."""
    smooth_target = _smooth_log_frequency(target_power, frequency_hz, _SMOOTH_OCTAVES)
    smooth_power = _smooth_log_frequency(np.maximum(power, 1e-12), frequency_hz, _SMOOTH_OCTAVES)
    return np.asarray(np.sqrt(smooth_target / smooth_power))


def _sweet_spot(name: str) -> SweetSpot:
    try:
        return SWEET_SPOTS[name]
    except KeyError:
        raise ValueError(f"unknown sweet spot {name!r}; known: {sorted(SWEET_SPOTS)}") from None


def filter_responses(
    layout: DeviceLayout,
    mode: str,
    sample_rate: int,
    frequency_hz: NDArray[np.float64],
    sweet_spot: str = DEFAULT_SWEET_SPOT,
) -> NDArray[np.complex128]:
    """Frequency responses of the renderer's filters, without the modelling delay.

    Returns
    -------
    ndarray, shape (F, n_drivers, n_inputs), complex128
        n_inputs = 2 (L, R) in stereo mode, 3 (L', R', C) in spatial mode.
    """
    plain = plain_stereo_responses(layout, frequency_hz, sample_rate)
    if mode == "stereo":
        return plain
    if mode != "spatial":
        raise ValueError(f"unknown mode {mode!r}; known: {MODES}")
    ref = _reference(layout, frequency_hz)
    plant = driver_to_ear_transfer(layout, frequency_hz, HeadPose(layout.listener.position_m)) / ref[:, None, None]
    sides = crosstalk_canceller(layout, frequency_hz, sample_rate, sweet_spot) @ virtualiser_matrix(frequency_hz)
    sides = sides * _tonal_match(_ear_power(plant, plain), _ear_power(plant, sides), frequency_hz)[:, None, None]
    centre = centre_beamformer(layout, frequency_hz, sample_rate)
    mono_plain = np.abs(plant @ plain.sum(axis=2, keepdims=True)) ** 2
    mono_centre = np.abs(plant @ centre[:, :, None]) ** 2
    centre = centre * _tonal_match(mono_plain.sum(axis=(1, 2)), mono_centre.sum(axis=(1, 2)), frequency_hz)[:, None]
    beam_cap = 10.0 ** (BEAM_MAX_GAIN_DB / 20.0)
    centre = centre * np.minimum(1.0, beam_cap / np.maximum(np.max(np.abs(centre), axis=1), 1e-12))[:, None]
    return np.asarray(np.concatenate([sides, centre[:, :, None]], axis=2))


@functools.lru_cache(maxsize=16)
def design_filters(
    layout: DeviceLayout, mode: str = "spatial", sample_rate: int | None = None, sweet_spot: str = DEFAULT_SWEET_SPOT
) -> RenderFilters:
    """Design (once, then cached) the FIR filters for a layout, mode and sweet-spot profile.

    Parameters
    ----------
    layout : DeviceLayout
    mode : {"spatial", "stereo"}
    sample_rate : int, optional, Hz (default: the layout's)
    sweet_spot : str, a key of :data:`SWEET_SPOTS` (spatial mode only)

    Returns
    -------
    RenderFilters
    """
    rate = int(sample_rate or layout.sample_rate)
    frequency_hz = np.fft.rfftfreq(DESIGN_FFT_SIZE, 1.0 / rate).astype(np.float64)
    responses = filter_responses(layout, mode, rate, frequency_hz, sweet_spot)
    delay = round(MODELLING_DELAY_S * rate) if mode == "spatial" else 0
    responses = responses * np.exp(-2j * np.pi * frequency_hz * delay / rate)[:, None, None]
    responses[-1] = responses[-1].real  # a real Nyquist bin
    impulse = np.fft.irfft(responses, n=DESIGN_FFT_SIZE, axis=0)[:FILTER_TAPS]  # (taps, N, I)
    fade = FILTER_TAPS // 8
    impulse[-fade:] *= np.hanning(2 * fade)[fade:, None, None]
    if delay > 0:
        impulse[: delay // 2] *= np.hanning(delay)[: delay // 2, None, None]
    names = ("left", "right") if mode == "stereo" else ("left", "right", "centre")
    return RenderFilters(
        impulse_responses=np.ascontiguousarray(np.swapaxes(impulse, 1, 2)).astype(np.float32),
        input_names=names,
        delay_samples=delay,
        sample_rate=rate,
    )


def textbook_crosstalk_canceller(
    layout: DeviceLayout, frequency_hz: NDArray[np.float64], beta: float = 0.005
) -> NDArray[np.complex128]:
    """The textbook reference: a regularised 2-driver inverse on a free-field point-ear model.

    H = C^H (C C^H + beta I)^-1 with a constant beta (Kirkeby et al., 1998), using the
    outermost left and right drivers over the full band, ears as points +/-a from the head
    centre, no head. Returns shape (F, n_drivers, 2) with zeros for the unused drivers.
    """
    y = layout.positions_m()[:, 1]
    pair = [int(np.argmax(y)), int(np.argmin(y))]
    centre = np.asarray(layout.listener.position_m)
    ears = centre[None, :] + np.array([[0.0, HEAD_RADIUS_M, 0.0], [0.0, -HEAD_RADIUS_M, 0.0]])
    plant = point_transfer(layout, frequency_hz, ears)[:, :, pair] / _reference(layout, frequency_hz)[:, None, None]
    ch = np.conj(np.swapaxes(plant, 1, 2))
    h2 = ch @ np.linalg.inv(plant @ ch + beta * np.eye(2)[None])
    out = np.zeros((frequency_hz.size, layout.n_drivers, 2), dtype=np.complex128)
    out[:, pair, :] = h2
    return out


__all__ = [
    "DESIGN_FFT_SIZE",
    "FILTER_TAPS",
    "FLOOR_EXTRA_GAIN_DB",
    "MODELLING_DELAY_S",
    "MODES",
    "SWEET_SPOTS",
    "RenderFilters",
    "SweetSpot",
    "alignment_delays_s",
    "band_split_responses",
    "butterworth2_response",
    "centre_beamformer",
    "crosstalk_canceller",
    "design_filters",
    "filter_responses",
    "gain_curve_db",
    "plain_stereo_responses",
    "regularised_inverse",
    "stereo_assignment",
    "textbook_crosstalk_canceller",
    "virtualiser_matrix",
]
