"""Reading and writing WAV files with clear errors (scipy.io.wavfile underneath).

Samples are always ``(frames, channels)`` float32 in [-1, 1], exactly as sounddevice
delivers blocks. Writes go to a temporary file that replaces the target only when
complete, so a failure never leaves half a file where a good one stood.
"""

from __future__ import annotations

import os
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from scipy.io import wavfile

from .errors import AudioFormatError, SampleRateError

_INT_SCALE = {np.dtype(np.int16): 32768.0, np.dtype(np.int32): 2147483648.0}


@dataclass(frozen=True)
class Audio:
    """Audio samples with their sample rate.

    Attributes
    ----------
    samples : ndarray, shape (frames, channels), float32
    sample_rate : int, Hz
    """

    samples: NDArray[np.float32]
    sample_rate: int

    @property
    def channels(self) -> int:
        return int(self.samples.shape[1])

    @property
    def duration_s(self) -> float:
        return float(self.samples.shape[0] / self.sample_rate)


def read_wav(path: str | os.PathLike[str], *, sample_rate: int | None = None, channels: int | None = None) -> Audio:
    """Read a WAV file as float32 ``(frames, channels)``.

    Parameters
    ----------
    path : file to read.
    sample_rate : if given, the rate the file must have (``SampleRateError`` otherwise).
    channels : if given, the channel count the file must have.

    Raises
    ------
    AudioFormatError
        Missing, empty, truncated or non-WAV file, or an unsupported sample format.
    """
    p = Path(path)
    if not p.is_file():
        raise AudioFormatError(f"{p}: no such file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", wavfile.WavFileWarning)
            rate, data = wavfile.read(p)
    # scipy raises UnboundLocalError or IndexError on some truncated headers, not only ValueError.
    except (ValueError, EOFError, OSError, UnboundLocalError, IndexError) as err:
        raise AudioFormatError(f"{p}: not a readable WAV file ({err})") from err
    data = np.asarray(data)
    if data.ndim == 1:
        data = data[:, np.newaxis]
    if data.shape[0] == 0:
        raise AudioFormatError(f"{p}: the file holds no samples")
    if data.dtype in _INT_SCALE:
        samples = (data.astype(np.float32) / np.float32(_INT_SCALE[data.dtype])).astype(np.float32)
    elif data.dtype == np.uint8:
        samples = ((data.astype(np.float32) - 128.0) / 128.0).astype(np.float32)
    elif data.dtype in (np.float32, np.float64):
        samples = data.astype(np.float32)
        if not np.all(np.isfinite(samples)):
            raise AudioFormatError(f"{p}: the file contains NaN or infinite samples")
    else:
        raise AudioFormatError(f"{p}: unsupported sample format {data.dtype}")
    if sample_rate is not None and rate != sample_rate:
        raise SampleRateError(f"{p}: sample rate is {rate} Hz, expected {sample_rate} Hz")
    if channels is not None and samples.shape[1] != channels:
        raise AudioFormatError(f"{p}: has {samples.shape[1]} channels, expected {channels}")
    return Audio(np.ascontiguousarray(samples), int(rate))


def write_wav(
    path: str | os.PathLike[str], samples: NDArray[np.floating], sample_rate: int, *, pcm16: bool = False
) -> None:
    """Write ``(frames, channels)`` (or 1-D mono) samples atomically.

    Float32 by default (lossless for the library's own signals); ``pcm16=True`` writes
    16-bit PCM with clipping to [-1, 1).
    """
    if sample_rate <= 0:
        raise SampleRateError(f"sample rate must be positive, got {sample_rate}")
    data = np.asarray(samples)
    if data.ndim == 1:
        data = data[:, np.newaxis]
    if data.ndim != 2:
        raise AudioFormatError(f"samples must be (frames, channels), got shape {data.shape}")
    if not np.all(np.isfinite(data)):
        raise AudioFormatError("refusing to write NaN or infinite samples")
    out: NDArray[np.int16] | NDArray[np.float32] = (
        np.clip(np.round(data * 32768.0), -32768, 32767).astype(np.int16) if pcm16 else data.astype(np.float32)
    )
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            wavfile.write(handle, int(sample_rate), out)
        Path(tmp).replace(target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


__all__ = ["Audio", "read_wav", "write_wav"]
