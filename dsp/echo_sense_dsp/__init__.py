"""echo_sense_dsp: the audio, DSP and ML work behind the echo_sense integration.

Capabilities, one subpackage each (see the project's ARCHITECTURE.md):

audio     the hub's full-duplex audio engine and its sound-device backends
room      acoustic simulator of a room around the device
presence  ultrasonic (Doppler) presence sensing
voice     PercepNet-style noise suppression
spatial   upmix, virtualisation, crosstalk cancellation, beamforming
intent    context-aware rewriting of voice commands

Shared pieces: ``physics`` (constants and formulas), ``wavio`` (WAV files),
``resample`` (sample-rate conversion), ``errors`` (the exceptions callers catch).
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("echo-sense-dsp")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"

__all__ = ["__version__"]
