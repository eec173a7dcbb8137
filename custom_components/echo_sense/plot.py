"""Small Pillow charts: the calibration image entity's plot, also used by ``scripts/figures.py``.

Drawn at :data:`SCALE` times the size and downsampled, which antialiases lines and text
(Pillow's ``ImageDraw`` does not). Coordinates given to :class:`Axes` are data units.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray
from PIL import Image, ImageDraw, ImageFont

from echo_sense_dsp.presence import Calibration

SCALE = 2
FONT_PX = 13
INK = (40, 40, 40)
GRID = (225, 225, 225)
PALETTE = ((31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189), (140, 86, 75))
CALIBRATION_SIZE = (800, 400)  # the calibration image entity, px

Tick = tuple[float, str]


def _font(px: int = FONT_PX) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=px * SCALE)


def nice_ticks(low: float, high: float, count: int = 6) -> list[Tick]:
    """Round tick values (1, 2, 5 x 10^k steps) between ``low`` and ``high``."""
    raw = (high - low) / max(count, 1)
    magnitude = 10.0 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    first = math.ceil(low / step - 1e-9) * step
    values = np.arange(first, high + step * 1e-6, step)
    return [(float(v), f"{v:g}") for v in values]


class Figure:
    """A white canvas of ``width`` x ``height`` px holding axes and text."""

    def __init__(self, width: int, height: int) -> None:
        self.size = (width, height)
        self.image = Image.new("RGB", (width * SCALE, height * SCALE), "white")
        self.draw = ImageDraw.Draw(self.image)

    def text(
        self, xy: tuple[float, float], text: str, anchor: str = "la", px: int = FONT_PX, fill: object = INK
    ) -> None:
        """Text at output pixel ``xy`` (Pillow anchors, e.g. ``"mm"`` centred)."""
        self.draw.text((xy[0] * SCALE, xy[1] * SCALE), text, fill=fill, font=_font(px), anchor=anchor)  # type: ignore[arg-type]

    def axes(
        self,
        box: tuple[int, int, int, int],
        x_range: tuple[float, float],
        y_range: tuple[float, float],
        *,
        x_log: bool = False,
        title: str = "",
        x_label: str = "",
        y_label: str = "",
        x_ticks: Sequence[Tick] | None = None,
        y_ticks: Sequence[Tick] | None = None,
        grid: bool = True,
    ) -> Axes:
        """Cartesian axes in the output-pixel ``box`` (left, top, right, bottom)."""
        return Axes(self, box, x_range, y_range, x_log, title, x_label, y_label, x_ticks, y_ticks, grid)

    def rgb(self) -> NDArray[np.uint8]:
        """The figure as an RGB array, shape (height, width, 3)."""
        return np.asarray(self.image.resize(self.size, Image.Resampling.LANCZOS), dtype=np.uint8)

    def png(self, palette: bool = False) -> bytes:
        """PNG bytes; ``palette`` stores 256 adaptive colours (a third of the size, for files)."""
        image = self.image.resize(self.size, Image.Resampling.LANCZOS)
        if palette:
            image = image.quantize(256, dither=Image.Dither.NONE)
        buffer = io.BytesIO()
        image.save(buffer, format="PNG", optimize=True)
        return buffer.getvalue()


class Axes:
    """Data-to-pixel mapping, frame, grid, ticks and labels of one plot."""

    def __init__(
        self,
        fig: Figure,
        box: tuple[int, int, int, int],
        x_range: tuple[float, float],
        y_range: tuple[float, float],
        x_log: bool,
        title: str,
        x_label: str,
        y_label: str,
        x_ticks: Sequence[Tick] | None,
        y_ticks: Sequence[Tick] | None,
        grid: bool,
    ) -> None:
        self.fig, self.box, self.x_range, self.y_range, self.x_log = fig, box, x_range, y_range, x_log
        left, top, right, bottom = box
        draw, s = fig.draw, SCALE
        x_ticks = nice_ticks(*x_range) if x_ticks is None else x_ticks
        y_ticks = nice_ticks(*y_range) if y_ticks is None else y_ticks
        for value, label in x_ticks:
            x = float(self.px(value, y_range[0])[0][0])
            if grid:
                draw.line([(x * s, top * s), (x * s, bottom * s)], fill=GRID, width=s)
            fig.text((x, bottom + 4), label, "ma")
        for value, label in y_ticks:
            y = float(self.px(x_range[0], value)[1][0])
            if grid:
                draw.line([(left * s, y * s), (right * s, y * s)], fill=GRID, width=s)
            fig.text((left - 5, y), label, "rm")
        draw.rectangle([left * s, top * s, right * s, bottom * s], outline=INK, width=s)
        if title:
            fig.text(((left + right) / 2, top - 8), title, "md", px=FONT_PX + 2)
        if x_label:
            fig.text(((left + right) / 2, bottom + 22), x_label, "ma")
        if y_label:
            text = Image.new("RGBA", (len(y_label) * FONT_PX * s, (FONT_PX + 6) * s), (255, 255, 255, 0))
            ImageDraw.Draw(text).text((0, 0), y_label, fill=INK, font=_font())
            rotated = text.crop(text.getbbox()).rotate(90, expand=True)
            at = (max(0, (left - 62) * s), ((top + bottom) * s - rotated.height) // 2)
            fig.image.paste(rotated, at, rotated)

    def px(self, x: ArrayLike, y: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Output-pixel coordinates of data points."""
        left, top, right, bottom = self.box
        xs = np.atleast_1d(np.asarray(x, dtype=np.float64))
        ys = np.atleast_1d(np.asarray(y, dtype=np.float64))
        x0, x1 = self.x_range
        if self.x_log:
            xs, x0, x1 = np.log10(xs), math.log10(x0), math.log10(x1)
        u = left + (xs - x0) / (x1 - x0) * (right - left)
        v = bottom - (ys - self.y_range[0]) / (self.y_range[1] - self.y_range[0]) * (bottom - top)
        return u, v

    def line(self, x: ArrayLike, y: ArrayLike, colour: object, width: float = 2.0, dashed: bool = False) -> None:
        u, v = self.px(x, y)
        v = np.clip(v, self.box[1], self.box[3])
        keep = np.isfinite(v)
        u, v = u[keep] * SCALE, v[keep] * SCALE
        if not dashed:
            self.fig.draw.line(list(zip(u, v, strict=True)), fill=colour, width=round(width * SCALE), joint="curve")  # type: ignore[arg-type]
            return
        length = np.r_[0.0, np.cumsum(np.hypot(np.diff(u), np.diff(v)))]
        along = np.arange(0.0, length[-1], SCALE)  # one point per output pixel along the line
        du, dv = np.interp(along, length, u), np.interp(along, length, v)
        on = (along // (6 * SCALE)) % 2 == 0  # 6 px dashes
        for start in np.flatnonzero(on & ~np.r_[False, on[:-1]]):
            stop = start + int(np.argmin(on[start:])) if not on[start:].all() else len(on)
            seg = list(zip(du[start:stop], dv[start:stop], strict=True))
            if len(seg) > 1:
                self.fig.draw.line(seg, fill=colour, width=round(width * SCALE))  # type: ignore[arg-type]

    def marker(self, x: ArrayLike, y: ArrayLike, colour: object, radius: float = 4.0, cross: bool = False) -> None:
        r = radius * SCALE
        for u, v in zip(*self.px(x, y), strict=True):
            a, b = u * SCALE, v * SCALE
            if cross:
                self.fig.draw.line([(a - r, b - r), (a + r, b + r)], fill=colour, width=SCALE * 2)  # type: ignore[arg-type]
                self.fig.draw.line([(a - r, b + r), (a + r, b - r)], fill=colour, width=SCALE * 2)  # type: ignore[arg-type]
            else:
                self.fig.draw.ellipse([a - r, b - r, a + r, b + r], outline=colour, width=SCALE * 2)  # type: ignore[arg-type]

    def label(
        self, x: float, y: float, text: str, anchor: str = "ld", dx: float = 6, dy: float = -6, fill: object = INK
    ) -> None:
        u, v = self.px(x, y)
        self.fig.text((float(u[0]) + dx, float(v[0]) + dy), text, anchor, fill=fill)

    def image(self, rgb: NDArray[np.uint8]) -> None:
        """Stretch an RGB array (row 0 at the top) over the whole plot area."""
        left, top, right, bottom = self.box
        picture = Image.fromarray(np.ascontiguousarray(rgb), mode="RGB")
        picture = picture.resize(((right - left) * SCALE, (bottom - top) * SCALE), Image.Resampling.NEAREST)
        self.fig.image.paste(picture, (left * SCALE, top * SCALE))
        self.fig.draw.rectangle([left * SCALE, top * SCALE, right * SCALE, bottom * SCALE], outline=INK, width=SCALE)

    def legend(self, entries: Sequence[tuple[str, object]], corner: str = "tr") -> None:
        """A boxed legend in a corner (``"tr"``, ``"bl"``, ...) or ``"outside"`` right of the axes."""
        left, top, right, bottom = self.box
        row = FONT_PX + 5
        width = max(len(label) for label, _ in entries) * 7 + 34
        x = right - width - 8 if corner[1] == "r" else left + 8
        y = top + 8 if corner[0] == "t" else bottom - 8 - row * len(entries)
        if corner == "outside":
            x, y = right + 12, top
        s = SCALE
        self.fig.draw.rectangle([x * s, y * s, (x + width) * s, (y + row * len(entries) + 4) * s], "white", INK, s)
        for i, (label, colour) in enumerate(entries):
            yy = y + 4 + row * i + row / 2
            self.fig.draw.line([((x + 6) * s, yy * s), ((x + 24) * s, yy * s)], fill=colour, width=3 * s)  # type: ignore[arg-type]
            self.fig.text((x + 30, yy), label, "lm")


def polar(fig: Figure, centre: tuple[int, int], radius: int, floor_db: float, title: str = "") -> Callable[..., None]:
    """Polar axes (0 deg up, angles counter-clockwise to the left) for levels from ``floor_db`` to 0 dB."""
    s, (cx, cy) = SCALE, centre
    for level in [float(v) for v in np.arange(floor_db, 0.1, 10.0)]:
        r = radius * (1 - level / floor_db)
        fig.draw.ellipse([(cx - r) * s, (cy - r) * s, (cx + r) * s, (cy + r) * s], outline=GRID, width=s)
        fig.text((cx + 0.26 * r + 2, cy - 0.97 * r), f"{level:g} dB", "lt", px=FONT_PX - 2)
    for deg in range(0, 360, 30):
        a = math.radians(deg)
        fig.draw.line([(cx * s, cy * s), ((cx - radius * math.sin(a)) * s, (cy - radius * math.cos(a)) * s)], GRID, s)
        label = f"{deg if deg <= 180 else deg - 360}°"
        fig.text((cx - (radius + 16) * math.sin(a), cy - (radius + 12) * math.cos(a)), label, "mm", px=FONT_PX - 1)
    if title:
        fig.text((cx, cy - radius - 34), title, "md", px=FONT_PX + 2)

    def line(azimuth_rad: NDArray[np.float64], level_db: NDArray[np.float64], colour: object, width: float = 2) -> None:
        r = radius * (1 - np.clip(level_db, floor_db, 0.0) / floor_db)
        u, v = cx - r * np.sin(azimuth_rad), cy - r * np.cos(azimuth_rad)
        fig.draw.line([(a * s, b * s) for a, b in zip(u, v, strict=True)], fill=colour, width=round(width * s))  # type: ignore[arg-type]

    return line


def calibration_chart(calibration: Calibration, size: tuple[int, int] = CALIBRATION_SIZE) -> Figure:
    """SNR per candidate frequency (per mic at the chosen level, the mean at each measured level),
    avoided resonances crossed out, the chosen frequency and level circled."""
    width, height = size
    fig = Figure(width, height)
    curve = calibration.snr_curve
    chosen_khz = calibration.frequency_hz / 1000.0
    freqs = np.asarray(curve.get("frequency_hz", ()), dtype=np.float64) / 1000.0
    if freqs.size == 0:
        ax = fig.axes(
            (70, 40, width - 20, height - 50),
            (chosen_khz - 7.0, chosen_khz + 7.0),
            (0.0, 60.0),
            x_label="Frequency (kHz)",
            y_label="SNR (dB)",
        )
        ax.line([chosen_khz, chosen_khz], [0.0, 60.0], INK, dashed=True)
        ax.label(chosen_khz, 50.0, f"default probe {chosen_khz:g} kHz, {calibration.level_db:g} dBFS")
        fig.text((width / 2, 22), "Not calibrated: press Recalibrate presence", "mm", px=FONT_PX + 2)
        return fig
    box = (70, 40, width - 230, height - 50)  # the legend goes on the right
    levels = np.asarray(curve["level_db"], dtype=np.float64)
    mean_snr = np.asarray(curve["snr_db"], dtype=np.float64)  # (levels, F)
    nearest = int(np.argmin(np.abs(levels - calibration.level_db)))
    at_level = mean_snr[nearest] + calibration.level_db - levels[nearest]
    mics = np.asarray(curve.get("mic_snr_db", [at_level]), dtype=np.float64)  # (mics, F) at the chosen level
    low = 10.0 * math.floor(min(mean_snr.min(), mics.min()) / 10.0)
    high = 10.0 * math.ceil(max(mean_snr.max(), mics.max()) / 10.0 + 0.3)
    step = freqs[1] - freqs[0] if freqs.size > 1 else 1.0
    ax = fig.axes(
        box, (freqs[0] - step / 2, freqs[-1] + 2.5 * step), (low, high), x_label="Frequency (kHz)", y_label="SNR (dB)"
    )
    for level, row in zip(levels, mean_snr, strict=True):
        ax.line(freqs, row, (180, 180, 180), 1.5)
        ax.label(freqs[-1], row[-1], f"{level:g} dBFS", "lm", dy=0)
    entries: list[tuple[str, object]] = [("mean of mics, measured levels", (180, 180, 180))]
    for m, row in enumerate(mics):
        colour = PALETTE[m % len(PALETTE)]
        ax.line(freqs, row, colour, 2.0)
        entries.append(
            (f"mic {m + 1} at {calibration.level_db:g} dBFS" if len(mics) > 1 else "at chosen level", colour)
        )
    avoided = ~np.asarray(curve.get("usable", [True] * freqs.size), dtype=bool)
    if avoided.any():
        ax.marker(freqs[avoided], at_level[avoided], PALETTE[3], 6.0, cross=True)
        entries.append(("avoided resonance", PALETTE[3]))
    chosen_snr = (
        float(np.mean(calibration.mic_snr_db))
        if calibration.mic_snr_db
        else float(np.interp(chosen_khz, freqs, at_level))
    )
    ax.marker(chosen_khz, chosen_snr, INK, 8.0)
    ax.label(chosen_khz, chosen_snr, f"{chosen_khz:g} kHz, {calibration.level_db:g} dBFS", dx=10, dy=-10)
    ax.legend(entries, "outside")
    fig.text(
        (width / 2, 22),
        f"Probe {chosen_khz:g} kHz at {calibration.level_db:g} dBFS: expected range "
        f"{calibration.expected_range_m:.1f} m (wanted {calibration.range_wanted_m:.1f} m)",
        "mm",
        px=FONT_PX + 2,
    )
    return fig
