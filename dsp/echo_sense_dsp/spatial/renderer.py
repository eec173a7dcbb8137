"""The streaming spatial renderer: upmix -> designed FIR matrix -> one signal per driver."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..errors import AudioFormatError, ConfigError
from .convolution import PartitionedConvolver
from .design import DEFAULT_SWEET_SPOT, MODES, SWEET_SPOTS, RenderFilters, design_filters
from .layout import DeviceLayout, load_layout
from .upmix import CentreUpmixer

DEFAULT_BLOCK_SIZE = 480  # 10 ms at 48 kHz, the audio engine's hop
DEFAULT_BLOCK_S = 0.010  # block length when none is given: 10 ms at any rate


class SpatialRenderer:
    """Render stereo to a device's drivers, block by block.

    Parameters
    ----------
    layout : DeviceLayout, preset name, path or dict (see :func:`load_layout`)
    mode : {"spatial", "stereo"}
        ``"stereo"``: plain side assignment, band split and delay alignment.
        ``"spatial"``: L/R/C upmix, virtualiser + crosstalk canceller for L/R, centre beam for C.
    sample_rate : int, Hz, optional
        Rate of the audio; default the layout's ``sample_rate``.
    block_size : int, optional
        Frames per :meth:`process` call; default 10 ms (480 at 48 kHz). Any size works; the
        upmix hop is its largest divisor up to 5 ms, so sizes with small divisors only
        (primes) cost more CPU.
    sweet_spot : str
        Crosstalk-canceller profile, a key of :data:`SWEET_SPOTS`: ``"zone"`` (default:
        the seat, +/-10 cm, head turns and depth at once, never reversed on average 30 cm
        to the side), ``"seat"`` (most separation at
        the listening position only), ``"wide"`` (a wider, shallower zone) or ``"room"``
        (mild, near or above plain stereo within 30 cm). Ignored in stereo mode.

    Notes
    -----
    Filters are designed once per (layout, mode, rate, sweet spot) and cached process-wide
    (3-8 s of one core the first time for studio-array: build renderers off the event loop). All state
    is allocated here; :meth:`process` writes into a preallocated output buffer.
    """

    def __init__(
        self,
        layout: DeviceLayout | str | os.PathLike[str] | dict[str, Any],
        mode: str = "spatial",
        sample_rate: int | None = None,
        block_size: int | None = None,
        sweet_spot: str = DEFAULT_SWEET_SPOT,
    ) -> None:
        if mode not in MODES:
            raise ConfigError(f"unknown spatial mode {mode!r}; choose one of {', '.join(MODES)}")
        if sweet_spot not in SWEET_SPOTS:
            raise ConfigError(f"unknown sweet spot {sweet_spot!r}; choose one of {', '.join(SWEET_SPOTS)}")
        self.layout = load_layout(layout)
        rate = int(sample_rate or self.layout.sample_rate)
        if rate < 8000:
            raise ConfigError(f"sample rate {rate} Hz is too low for the spatial renderer (>= 8000 Hz)")
        if block_size is None:
            block_size = round(DEFAULT_BLOCK_S * rate)
        if block_size < 1:
            raise ConfigError(f"block_size must be >= 1, got {block_size}")
        self.mode = mode
        self.sweet_spot = sweet_spot if mode == "spatial" else DEFAULT_SWEET_SPOT
        self.sample_rate = rate
        self.block_size = block_size
        self.filters: RenderFilters = design_filters(self.layout, mode, rate, self.sweet_spot)
        self._upmixer: CentreUpmixer | None = None
        if mode == "spatial":
            self._upmixer = CentreUpmixer(rate, block_size)
        self._convolver = PartitionedConvolver(self.filters.impulse_responses, block_size)
        self._inputs = np.zeros((block_size, len(self.filters.input_names)), dtype=np.float32)
        self._output = np.zeros((block_size, self.layout.n_drivers), dtype=np.float32)

    @property
    def n_drivers(self) -> int:
        return self.layout.n_drivers

    @property
    def driver_names(self) -> tuple[str, ...]:
        return tuple(d.name for d in self.layout.drivers)

    @property
    def latency_samples(self) -> int:
        """Latency the renderer adds beyond the block itself, samples (upmix hop + modelling delay)."""
        upmix = self._upmixer.latency_samples if self._upmixer is not None else 0
        return upmix + self.filters.delay_samples

    @property
    def latency_s(self) -> float:
        return self.latency_samples / self.sample_rate

    def reset(self) -> None:
        """Forget all past audio (e.g. between tracks)."""
        if self._upmixer is not None:
            self._upmixer.reset()
        self._convolver.reset()

    def process(self, block: NDArray[np.floating]) -> NDArray[np.float32]:
        """Render one stereo block.

        Parameters
        ----------
        block : ndarray, shape (block_size, 2), float32, (left, right)

        Returns
        -------
        ndarray, shape (block_size, n_drivers), float32
            The renderer's own buffer, overwritten by the next call: copy it to keep it.
        """
        if block.shape != (self.block_size, 2):
            raise AudioFormatError(f"expected a block of shape ({self.block_size}, 2), got {block.shape}")
        if self._upmixer is not None:
            self._upmixer.process(block, self._inputs)
        else:
            self._inputs[:] = block
        self._convolver.process(self._inputs, self._output)
        return self._output


def render(
    stereo: NDArray[np.floating],
    layout: DeviceLayout | str | os.PathLike[str] | dict[str, Any],
    mode: str = "spatial",
    sample_rate: int | None = None,
    block_size: int | None = None,
    compensate_latency: bool = False,
    sweet_spot: str = DEFAULT_SWEET_SPOT,
) -> NDArray[np.float32]:
    """Render a whole stereo signal (offline), identical to streaming it through :class:`SpatialRenderer`.

    Parameters
    ----------
    stereo : ndarray, shape (frames, 2) (or (frames, 1) / (frames,) mono, duplicated), float
    layout, mode, sample_rate, block_size, sweet_spot : as for :class:`SpatialRenderer`
    compensate_latency : bool
        If True, drop the renderer's latency so the output lines up with the input and has
        the same length; otherwise the output is exactly the streamed blocks, trimmed to
        ``frames``.

    Returns
    -------
    ndarray, shape (frames, n_drivers), float32
    """
    x = np.asarray(stereo, dtype=np.float32)
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2 or x.shape[1] not in (1, 2):
        raise AudioFormatError(f"render expects (frames, 2) stereo or mono audio, got shape {x.shape}")
    if x.shape[1] == 1:
        x = np.repeat(x, 2, axis=1)
    renderer = SpatialRenderer(layout, mode, sample_rate, block_size, sweet_spot)
    block_size = renderer.block_size
    frames = x.shape[0]
    skip = renderer.latency_samples if compensate_latency else 0
    total = frames + skip
    n_blocks = -(-total // block_size)
    padded = np.zeros((n_blocks * block_size, 2), dtype=np.float32)
    padded[:frames] = x
    out = np.empty((n_blocks * block_size, renderer.n_drivers), dtype=np.float32)
    for k in range(n_blocks):
        sl = slice(k * block_size, (k + 1) * block_size)
        out[sl] = renderer.process(padded[sl])
    return out[skip : skip + frames]


__all__ = ["DEFAULT_BLOCK_SIZE", "SpatialRenderer", "render"]
