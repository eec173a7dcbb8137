"""Single-producer single-consumer ring of fixed-size float32 blocks.

The sound-card callback and the engine's worker thread talk through these rings. Every
slot is a view made once in ``__init__``; reading and writing touch only two Python ints
(each written by one side only, which the GIL makes atomic), so the callback neither
locks nor allocates. A ring of ``capacity`` blocks of ``frames`` frames adds at most
``capacity * frames / sample_rate`` seconds of latency when full.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray


class BlockRing:
    """A power-of-two ring of ``(frames, channels)`` float32 blocks.

    Parameters
    ----------
    capacity : int, number of blocks (rounded up to a power of two).
    frames : int, frames per block.
    channels : int, channels per block.

    The producer calls :meth:`write_slot` (``None`` when full), fills the slot in place and
    calls :meth:`commit_write`; the consumer mirrors that with :meth:`read_slot` and
    :meth:`commit_read`.
    """

    def __init__(self, capacity: int, frames: int, channels: int) -> None:
        if capacity < 1 or frames < 1 or channels < 1:
            raise ValueError(f"ring needs positive sizes, got {capacity} blocks of ({frames}, {channels})")
        self.capacity = 1 << (int(capacity) - 1).bit_length()
        self._mask = self.capacity - 1
        self.frames = int(frames)
        self.channels = int(channels)
        self.buffer = np.zeros((self.capacity, self.frames, self.channels), np.float32)
        self._slots: tuple[NDArray[np.float32], ...] = tuple(self.buffer[i] for i in range(self.capacity))
        self._write = 0  # written only by the producer
        self._read = 0  # written only by the consumer

    def __len__(self) -> int:
        """Blocks ready to read."""
        return self._write - self._read

    def space(self) -> int:
        """Blocks that can be written before the ring is full."""
        return self.capacity - (self._write - self._read)

    def write_slot(self) -> NDArray[np.float32] | None:
        """The next free slot, shape (frames, channels), or ``None`` when the ring is full."""
        if self._write - self._read >= self.capacity:
            return None
        return self._slots[self._write & self._mask]

    def commit_write(self) -> None:
        """Publish the slot returned by :meth:`write_slot`."""
        self._write += 1

    def read_slot(self) -> NDArray[np.float32] | None:
        """The oldest unread block, shape (frames, channels), or ``None`` when empty."""
        if self._write == self._read:
            return None
        return self._slots[self._read & self._mask]

    def commit_read(self) -> None:
        """Release the slot returned by :meth:`read_slot`."""
        self._read += 1

    def clear(self) -> None:
        """Drop every block; call only while neither side is running."""
        self._read = self._write


__all__ = ["BlockRing"]
