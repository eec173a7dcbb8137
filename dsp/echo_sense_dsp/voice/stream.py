"""Denoising a stream of 16-bit PCM chunks of any size (the Assist pipeline's audio).

:class:`PcmStreamDenoiser` runs the denoiser on each chunk's whole 10 ms frames at once
(:meth:`Denoiser.process_block`), keeps the remainder for the next chunk, and compensates
the denoiser's delay: the output starts with the first input sample, and
:meth:`PcmStreamDenoiser.flush` returns the delayed tail, so the whole output has exactly as
many samples as the whole input.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from ..errors import AudioFormatError
from .denoiser import Denoiser, DenoiserSettings
from .features import FRAME_SIZE

PCM16_SCALE = 32768.0


class PcmStreamDenoiser:
    """16 kHz mono int16 little-endian PCM in, the same out, denoised.

    Parameters
    ----------
    settings : the denoiser's user settings (attenuation limit, post-filter).
    denoiser : an existing :class:`Denoiser` to use (it is reset); a new one by default.
    """

    def __init__(self, settings: DenoiserSettings | None = None, denoiser: Denoiser | None = None) -> None:
        self.denoiser = denoiser or Denoiser(settings)
        self.denoiser.reset()
        self._pending = np.zeros(0, np.float32)  # input samples not yet a whole frame
        self._odd_byte = b""
        self._to_skip = self.denoiser.delay_samples  # leading output samples that only hold the delay
        self.samples_in = 0
        self.samples_out = 0

    def process(self, chunk: bytes) -> bytes:
        """Denoise one chunk; returns what is ready (fewer bytes than given at the start)."""
        data = self._odd_byte + chunk
        if len(data) % 2:
            data, self._odd_byte = data[:-1], data[-1:]
        else:
            self._odd_byte = b""
        samples = np.frombuffer(data, dtype="<i2").astype(np.float32) / np.float32(PCM16_SCALE)
        self.samples_in += len(samples)
        return self._run(np.concatenate((self._pending, samples)))

    def flush(self) -> bytes:
        """The rest of the output: the frames still in the denoiser's delay line."""
        if self._odd_byte:
            raise AudioFormatError("the PCM stream ended in the middle of a 16-bit sample")
        missing = self.samples_in - self.samples_out
        if missing <= 0:
            return b""
        padding = np.zeros(missing + FRAME_SIZE + self.denoiser.delay_samples, np.float32)
        out = self._run(np.concatenate((self._pending, padding)), limit=missing)
        self._pending = np.zeros(0, np.float32)
        return out

    def _run(self, samples: NDArray[np.float32], limit: int | None = None) -> bytes:
        frames = len(samples) // FRAME_SIZE
        block = np.ascontiguousarray(samples[: frames * FRAME_SIZE])
        result = np.zeros_like(block)
        self.denoiser.process_block(block, result)
        if self._to_skip:
            skip = min(self._to_skip, len(result))
            self._to_skip -= skip
            result = result[skip:]
        self._pending = samples[frames * FRAME_SIZE :].copy()
        if not len(result):
            return b""
        if limit is not None:
            result = result[:limit]
        self.samples_out += len(result)
        pcm = np.clip(np.round(result * PCM16_SCALE), -32768, 32767).astype("<i2")
        return pcm.tobytes()


__all__ = ["PcmStreamDenoiser"]
