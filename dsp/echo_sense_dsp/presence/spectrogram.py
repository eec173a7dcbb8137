"""Ring of recent Doppler spectra and decisions, rendered as an RGB spectrogram image.

:class:`DopplerHistory` keeps the last ``frames`` hops (one Doppler spectrum row in dB plus the
detector's decision per hop) and renders them with :meth:`DopplerHistory.to_image_array`: time on x
(oldest left), Doppler band on y (receding at the bottom, approaching at the top), a fixed perceptual
colour table, and a decision strip at the bottom (grey none, amber minor, red major; a white line
while occupied).
"""

from __future__ import annotations

import threading

import numpy as np
from numpy.typing import NDArray

__all__ = ["COLORMAP", "MOTION_CODES", "DopplerHistory"]

# A small perceptual (viridis-like) colour table, dark blue to yellow; interpolated to 256 entries.
_ANCHORS = np.array(
    [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]],
    dtype=np.float64,
)
COLORMAP: NDArray[np.uint8] = (
    np.stack(
        [np.interp(np.linspace(0.0, 1.0, 256), np.linspace(0.0, 1.0, len(_ANCHORS)), _ANCHORS[:, c]) for c in range(3)],
        axis=1,
    )
    .round()
    .astype(np.uint8)
)
"""ndarray, shape (256, 3), uint8: the spectrogram colour table."""

MOTION_CODES: dict[str, int] = {"none": 0, "minor": 1, "major": 2}
"""Motion kind -> code stored per hop."""

_STRIP_COLOURS = np.array([[96, 96, 96], [255, 176, 0], [220, 30, 30]], dtype=np.uint8)
_OCCUPIED_COLOUR = np.array([255, 255, 255], dtype=np.uint8)


class DopplerHistory:
    """Thread-safe ring of Doppler spectra (dB) and decisions.

    Parameters
    ----------
    bands : int
        Doppler bins per spectrum row.
    frames : int
        Hops kept (500 hops of 20 ms = 10 s).
    floor_db, ceiling_db : float
        dB values mapped to the first and last colour.
    band_height, strip_height : int
        Image pixels per Doppler band and of the decision strip.
    """

    def __init__(
        self,
        bands: int,
        frames: int = 500,
        floor_db: float = 0.0,
        ceiling_db: float = 40.0,
        band_height: int = 8,
        strip_height: int = 12,
    ) -> None:
        if bands < 1 or frames < 1 or ceiling_db <= floor_db or band_height < 1 or strip_height < 2:
            raise ValueError(
                f"bad DopplerHistory geometry: bands={bands} frames={frames} dB=({floor_db}, {ceiling_db})"
            )
        self.bands = bands
        self.frames = frames
        self.floor_db = floor_db
        self.ceiling_db = ceiling_db
        self.band_height = band_height
        self.strip_height = strip_height
        self._spectra = np.full((frames, bands), floor_db, dtype=np.float32)
        self._motion = np.zeros(frames, dtype=np.uint8)
        self._occupied = np.zeros(frames, dtype=bool)
        self._next = 0
        self.count = 0
        self._lock = threading.Lock()

    def push(self, spectrum_db: NDArray[np.float32], occupied: bool, motion: str, sensing: bool = True) -> None:
        """Append one hop: spectrum (bands,) float32 in dB, the occupied flag and the motion kind.

        ``sensing`` is the detector's flag: while it is False the spectrum is a transient (the
        noise floor and the static estimate still converging), so nothing is kept before the
        first sensing hop, and later (the probe paused or settling again) the hop is kept at the
        floor, its decisions marked.
        """
        if not sensing and self.count == 0:
            return
        code = MOTION_CODES.get(motion, 0)
        with self._lock:
            i = self._next
            self._spectra[i] = spectrum_db if sensing else self.floor_db
            self._motion[i] = code
            self._occupied[i] = occupied
            self._next = (i + 1) % self.frames
            self.count += 1

    def to_image_array(self) -> NDArray[np.uint8]:
        """Render the history.

        Returns
        -------
        ndarray, shape (bands * band_height + strip_height, frames, 3), uint8: RGB image, newest hop
        on the right.
        """
        with self._lock:
            order = (np.arange(self.frames) + self._next) % self.frames
            spectra = self._spectra[order]
            motion = self._motion[order]
            occupied = self._occupied[order]
        scaled = (spectra - self.floor_db) / (self.ceiling_db - self.floor_db)
        index = np.clip(np.round(scaled * 255.0), 0, 255).astype(np.intp)
        body = COLORMAP[index.T[::-1]]  # (bands, frames, 3), band 0 at the bottom
        body = np.repeat(body, self.band_height, axis=0)
        strip = np.repeat(_STRIP_COLOURS[motion][None, :, :], self.strip_height, axis=0)
        strip[0:2, occupied] = _OCCUPIED_COLOUR
        return np.ascontiguousarray(np.concatenate([body, strip], axis=0))
