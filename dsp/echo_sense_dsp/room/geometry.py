"""Room geometry: mic array, shoebox image sources and static impulse responses.

Image sources follow Allen & Berkley, "Image method for efficiently simulating small-room
acoustics", JASA 65(4), 1979: for each axis an image at (1 - 2q) s + 2 n L with q in {0, 1},
reflecting |n - q| times off the wall at 0 and |n| times off the wall at L; its amplitude is
the product of the walls' reflection factors sqrt(1 - absorption).

Static impulse responses are synthesised in the frequency domain, path by path:
H(f) = sum_p g_p / r_p * exp(-j 2 pi f r_p / c) * 10^(-alpha(f) r_p / 20), with alpha(f) the
ISO 9613-1 absorption from :func:`echo_sense_dsp.physics.air_absorption_db_per_m`, so every
path gets exact fractional delay and its own frequency-dependent air absorption. A modest
image order suffices for ultrasound: at 40 kHz air alone takes ~1.3 dB/m, so an order-6 image
(>= 15 m of path in a 5 m room) is already >= 20 dB down from air absorption plus >= 7 dB from
six reflections (absorption 0.25) and ~20 dB from spreading; the audible band's late tail beyond
the chosen order and ``rir_length_s`` is left out (a known gap for the voice branch).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from ..physics import air_absorption_db_per_m

F64 = NDArray[np.float64]
MIN_PATH_M = 0.005  # a path shorter than this is clamped (a mic inside the speaker)
SHORT_PATH_SAMPLES = 64  # paths shorter than this many samples get a causal windowed-sinc kernel
SHORT_PATH_AIR_HZ = 30000.0  # their (tiny, < 0.3 dB) air absorption is taken at this frequency


def mic_array_positions(center_m: F64, mic_count: int, radius_m: float) -> F64:
    """Mic positions (mic_count, 3) in m on a horizontal circle around ``center_m``, mic 0 on +x."""
    ang = 2 * np.pi * np.arange(mic_count) / mic_count
    return np.asarray(center_m, dtype=np.float64)[None, :] + radius_m * np.stack(
        [np.cos(ang), np.sin(ang), np.zeros(mic_count)], axis=1
    )


def image_sources(
    source_m: F64, room_size_m: F64, absorption: F64, max_order: int
) -> tuple[F64, F64, NDArray[np.int64]]:
    """Image sources of a point in a shoebox room.

    Parameters
    ----------
    source_m : (3,) source position, m, inside the room.
    room_size_m : (3,) room dimensions, m.
    absorption : (6,) energy absorption of the walls x=0, x=Lx, y=0, y=Ly, floor, ceiling.
    max_order : highest total number of reflections.

    Returns
    -------
    positions : (P, 3) image positions, m; row 0 is the source itself.
    gains : (P,) amplitude reflection product.
    orders : (P,) number of reflections.
    """
    beta = np.sqrt(1.0 - np.clip(np.asarray(absorption, dtype=np.float64), 0.0, 1.0))
    n = np.arange(-max_order, max_order + 1)
    nn, qq = np.meshgrid(n, [0, 1], indexing="ij")
    nn, qq = nn.ravel(), qq.ravel()
    per_axis = []
    for ax in range(3):
        coord = (1 - 2 * qq) * source_m[ax] + 2 * nn * room_size_m[ax]
        lo, hi = np.abs(nn - qq), np.abs(nn)
        per_axis.append((coord, lo + hi, beta[2 * ax] ** lo * beta[2 * ax + 1] ** hi))
    (cx, ox, gx), (cy, oy, gy), (cz, oz, gz) = per_axis
    ix, iy, iz = np.meshgrid(np.arange(cx.size), np.arange(cy.size), np.arange(cz.size), indexing="ij")
    ix, iy, iz = ix.ravel(), iy.ravel(), iz.ravel()
    order = ox[ix] + oy[iy] + oz[iz]
    keep = order <= max_order
    ix, iy, iz, order = ix[keep], iy[keep], iz[keep], order[keep]
    pos = np.stack([cx[ix], cy[iy], cz[iz]], axis=1)
    gain = gx[ix] * gy[iy] * gz[iz]
    first = np.argsort(order, kind="stable")
    return pos[first], gain[first], order[first].astype(np.int64)


def impulse_response(
    images_m: F64,
    gains: F64,
    receivers_m: F64,
    *,
    sample_rate: int,
    length: int,
    c_m_s: float,
    temperature_c: float,
    relative_humidity_pct: float,
    reference_m: float,
    extra_delay_s: F64 | None = None,
    taper_hz: tuple[float, float] | None = None,
) -> NDArray[np.float32]:
    """Impulse responses (length, n_receivers) float32 from image sources to receivers.

    Each path contributes ``reference_m * gain / r`` at delay ``r / c (+ extra_delay_s)`` with
    ISO 9613-1 air absorption over r, synthesised exactly in the frequency domain. Paths that
    arrive after ``length`` are dropped; the last 10 % is faded out. ``taper_hz`` (lo, hi)
    rolls the response off with a raised cosine (shortens the fractional-delay sinc tails).
    """
    n_rx = receivers_m.shape[0]
    nfft = 2 * length
    freqs = np.fft.rfftfreq(nfft, 1.0 / sample_rate)
    alpha_np_per_m = air_absorption_db_per_m(freqs, temperature_c, relative_humidity_pct) * (np.log(10.0) / 20.0)
    extra = np.zeros(n_rx) if extra_delay_s is None else np.asarray(extra_delay_s, dtype=np.float64)
    out = np.zeros((length, n_rx), dtype=np.float32)
    taper = np.ones_like(freqs)
    if taper_hz is not None:
        lo, hi = taper_hz
        band = (freqs > lo) & (freqs < hi)
        taper[band] = 0.5 + 0.5 * np.cos(np.pi * (freqs[band] - lo) / (hi - lo))
        taper[freqs >= hi] = 0.0  # beyond the taper
    fade = np.ones(length)
    nf = max(length // 10, 1)
    fade[-nf:] = 0.5 + 0.5 * np.cos(np.pi * np.arange(nf) / nf)
    for m in range(n_rx):
        r = np.maximum(np.linalg.norm(images_m - receivers_m[m][None, :], axis=1), MIN_PATH_M)
        delay_s = r / c_m_s + extra[m]
        keep = delay_s * sample_rate < length - 4
        r, delay_s, g = r[keep], delay_s[keep], gains[keep]
        # Paths arriving within SHORT_PATH_SAMPLES: a causal Kaiser-windowed sinc centred on
        # the delay (a truncated ideal sinc would lose its pre-ringing, i.e. the future).
        short = delay_s * sample_rate < SHORT_PATH_SAMPLES
        h_short = np.zeros(length)
        for p in np.flatnonzero(short):
            d = delay_s[p] * sample_rate
            half = min(int(np.floor(d)), SHORT_PATH_SAMPLES // 2)
            if half < 1:
                h_short[round(d)] += reference_m * g[p] / r[p]
                continue
            n = np.arange(int(np.floor(d)) - half, int(np.floor(d)) + half + 2)
            kernel = np.sinc(n - d) * np.kaiser(n.size, 8.0)
            kernel /= kernel.sum()  # unit gain at DC
            air = 10 ** (-air_absorption_db_per_m(SHORT_PATH_AIR_HZ, temperature_c, relative_humidity_pct) * r[p] / 20)
            h_short[n] += reference_m * g[p] / r[p] * float(air) * kernel
        r, delay_s, g = r[~short], delay_s[~short], g[~short]
        spec = np.zeros(freqs.size, dtype=np.complex128)
        df = freqs[1] - freqs[0]
        for s in range(0, r.size, 48):
            sl = slice(s, s + 48)
            amp = (reference_m * g[sl] / r[sl]).astype(np.float32)
            absorb = np.exp(-np.outer(r[sl], alpha_np_per_m)).astype(np.float32)
            # exp(-j 2 pi f tau) on the uniform bin grid by recurrence (complex64: the phase
            # error after 20k bins is ~1e-3 rad, a delay error below 1e-3 samples)
            step = np.exp(-2j * np.pi * df * delay_s[sl]).astype(np.complex64)
            phase = np.cumprod(np.broadcast_to(step[:, None], (step.size, freqs.size - 1)), axis=1)
            spec[0] += amp @ absorb[:, 0]
            spec[1:] += amp @ (absorb[:, 1:] * phase)
        h = np.fft.irfft(spec * taper, nfft)[:length] + h_short
        out[:, m] = (h * fade).astype(np.float32)
    return out


__all__ = ["MIN_PATH_M", "SHORT_PATH_SAMPLES", "image_sources", "impulse_response", "mic_array_positions"]
