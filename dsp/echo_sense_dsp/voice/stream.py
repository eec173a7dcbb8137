"""Denoising a stream of 16-bit PCM chunks of any size (the Assist pipeline's audio).

:class:`PcmStreamDenoiser` cuts the chunks into the denoiser's 10 ms frames, keeps the
remainder for the next chunk, and compensates the denoiser's delay: the output starts with
the first input sample, and :meth:`PcmStreamDenoiser.flush` returns the delayed tail, so
the whole output has exactly as many samples as the whole input.
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
        self._in_frame = np.zeros(FRAME_SIZE, np.float32)
        self._out_frame = np.zeros(FRAME_SIZE, np.float32)
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
        pieces: list[NDArray[np.float32]] = []
        for i in range(frames):
            self._in_frame[:] = samples[i * FRAME_SIZE : (i + 1) * FRAME_SIZE]
            self.denoiser.process_frame(self._in_frame, self._out_frame)
            out = self._out_frame
            if self._to_skip:
                skip = min(self._to_skip, FRAME_SIZE)
                self._to_skip -= skip
                out = out[skip:]
            pieces.append(out.copy())
        self._pending = samples[frames * FRAME_SIZE :].copy()
        if not pieces:
            return b""
        result = np.concatenate(pieces)
        if limit is not None:
            result = result[:limit]
        self.samples_out += len(result)
        pcm = np.clip(np.round(result * PCM16_SCALE), -32768, 32767).astype("<i2")
        return pcm.tobytes()


__all__ = ["PcmStreamDenoiser"]
