"""The PercepNet-style denoiser: streaming (10 ms frames) and whole-signal APIs.

Per 10 ms hop (``process_frame``), in block-diagram order:

``compute_frame_features`` (analysis, pitch search + Viterbi, comb filter, band energies)
-> ``compute_network`` (ONNX: ``band_gains``, ``comb_strengths``, GRU state carried)
-> ``pitch_mix`` (per band, ``(1 - r) X + r P`` normalised to X's energy)
-> ``envelope_postfilter`` (PercepNet's gain warping, energy-compensated)
-> gain release (RNNoise's ``g_t = max(g_t, a g_{t-1})``, ``DenoiserSettings.gain_release``)
-> ``interp_band_gain`` -> ``frame_synthesis`` (inverse FFT, window, overlap-add).

Latency. The network's output at hop t is for frame t-1 (one frame of look-ahead), so the
output stream lags the input by ``DELAY_SAMPLES`` = 320 samples (20 ms): 10 ms of
window overlap and 10 ms of look-ahead. Counting the 10 ms a frame takes to arrive, the
algorithmic latency is 30 ms. :meth:`Denoiser.process` compensates the delay, so its
output is aligned with its input.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .. import sidecar
from ..errors import AudioFormatError, SampleRateError
from ..resample import resample
from .features import (
    FEATURE_LAYOUT,
    FRAME_SIZE,
    FREQ_SIZE,
    NB_BANDS,
    SAMPLE_RATE,
    WINDOW_SIZE,
    FeatureState,
    compute_block_features,
    compute_frame_features,
)

MODEL_NAME = "denoiser"
LOOKAHEAD_FRAMES = 1  # the network's output at hop t is for frame t-1
DELAY_SAMPLES = (WINDOW_SIZE - FRAME_SIZE) + LOOKAHEAD_FRAMES * FRAME_SIZE  # 320: output lags input
ALGORITHMIC_LATENCY_MS = 1000.0 * (DELAY_SAMPLES + FRAME_SIZE) / SAMPLE_RATE  # 30 ms
CONV_FRAMES = 3  # the network reads features of frames t-2, t-1, t
SILENCE_MEAN_SQUARE = 1e-9  # -90 dBFS: windows below this skip the network (gains 0, state kept)
MEAN_SQUARE_NORM = WINDOW_SIZE * WINDOW_SIZE / 2  # sum of a window's band energies / this = its mean square
BLOCK_FRAMES = 500  # process(): frames per vectorised block (5 s; bounds the temporary arrays)
POSTFILTER_BETA = 0.02  # PercepNet's envelope post-filter energy compensation


@dataclass(frozen=True)
class DenoiserSettings:
    """User settings (the trained model's parameters live in the sidecar, not here).

    Attributes
    ----------
    atten_lim_db : float
        Largest attenuation of any band, dB (>= 0). 100 is "no limit"; 12 is gentle.
    postfilter : bool
        Apply the envelope post-filter (attenuates still-noisy bands a little further).
    comb_strength_scale : float
        Factor on the network's ``comb_strengths``, in [0, 1]. 0 (comb path off) by
        measurement (models/denoiser/CARD.md): on the session-1 model every DNSMOS column,
        SI-SDR and clean-speech PESQ-WB were best without it and 1 cost 0.4 clean PESQ-WB; on
        the fine-tuned model 0.25 and 0.5 move no column by more than 0.015 but cost clean
        speech up to 0.1 PESQ-WB.
    gain_exponent : float
        The network's band gains are raised to this power (> 0) before the post-filter;
        above 1 suppresses more.
    postfilter_where_noisy : bool
        Weight the post-filter per frame by the share of the frame's energy that the gains
        remove, ``w = 1 - sum g^2 Ex / sum Ex``: ``g + w (g' - g)``. Frames the network keeps
        almost whole (clean speech, high SNR) are left unwarped.
    gain_release : float
        RNNoise's gain smoothing, in [0, 1): a band's gain falls by at most this factor per
        hop, ``g_t = max(g_t, a g_{t-1})`` (after the post-filter), so speech onsets' tails and
        weak harmonics are not cut hop by hop. 0 is off. 0.75 by measurement
        (models/denoiser/CARD.md, session 8): on the benchmark it raises PESQ-WB, STOI, SI-SDR,
        DNSMOS SIG and OVRL and clean-speech PESQ-WB a little, at -0.03 BAK and 4 dB less
        attenuation of noise alone.
    """

    atten_lim_db: float = 100.0
    postfilter: bool = True
    comb_strength_scale: float = 0.0
    gain_exponent: float = 1.0
    postfilter_where_noisy: bool = False
    gain_release: float = 0.75

    def __post_init__(self) -> None:
        if not 0.0 <= self.atten_lim_db <= 200.0:
            raise ValueError(f"atten_lim_db must be in [0, 200] dB, got {self.atten_lim_db}")
        if not 0.0 <= self.comb_strength_scale <= 1.0:
            raise ValueError(f"comb_strength_scale must be in [0, 1], got {self.comb_strength_scale}")
        if not 0.0 < self.gain_exponent <= 4.0:
            raise ValueError(f"gain_exponent must be in (0, 4], got {self.gain_exponent}")
        if not 0.0 <= self.gain_release < 1.0:
            raise ValueError(f"gain_release must be in [0, 1), got {self.gain_release}")


def default_model_path() -> Path:
    """The shipped ``denoiser.onnx`` inside the package's assets."""
    return Path(str(resources.files("echo_sense_dsp") / "assets" / f"{MODEL_NAME}.onnx"))


def load_sidecar(model_path: Path) -> dict[str, Any]:
    """Read and check the denoiser's sidecar (:func:`echo_sense_dsp.sidecar.load_sidecar`).

    Raises
    ------
    ModelError
        Missing file or sidecar, sha256 mismatch, or a feature layout / shape / rate the
        runtime does not implement (the message names both values).
    """
    expected = {
        "layout_version": FEATURE_LAYOUT.layout_version,
        "sample_rate": SAMPLE_RATE,
        "frame_size": FRAME_SIZE,
        "n_features": FEATURE_LAYOUT.size,
        "nb_bands": NB_BANDS,
        "lookahead_frames": LOOKAHEAD_FRAMES,
    }
    return sidecar.load_sidecar(model_path, expected)


class Denoiser:
    """Streaming PercepNet-style noise suppressor, 16 kHz mono.

    Parameters
    ----------
    settings : DenoiserSettings
        User settings (attenuation limit, post-filter).
    model_path : path, optional
        An ONNX model with its ``.json`` sidecar; the shipped model by default.

    Notes
    -----
    The state (GRU state included) is allocated here. ``process_frame`` allocates only
    per-frame temporaries and nothing that grows; ``process_block`` (and so ``process``)
    trades temporaries the size of the block for vectorised work over its frames.
    """

    sample_rate = SAMPLE_RATE
    frame_size = FRAME_SIZE
    delay_samples = DELAY_SAMPLES

    def __init__(self, settings: DenoiserSettings | None = None, model_path: Path | str | None = None) -> None:
        self.settings = settings or DenoiserSettings()
        path = Path(model_path) if model_path is not None else default_model_path()
        self.sidecar = load_sidecar(path)
        self._session = sidecar.open_session(path)
        state_shape = tuple(int(d) for d in self.sidecar["gru_state_shape"])
        self._features = np.zeros((1, CONV_FRAMES, FEATURE_LAYOUT.size), np.float32)
        self._gru_state_in = np.zeros(state_shape, np.float32)
        self._gru_state_out = np.zeros(state_shape, np.float32)
        self._band_gains = np.zeros((1, NB_BANDS), np.float32)
        self._comb_strengths = np.zeros((1, NB_BANDS), np.float32)
        self._binding = self._session.io_binding()
        self._bind("features", self._features, output=False)
        self._bind("gru_state_in", self._gru_state_in, output=False)
        self._bind("band_gains", self._band_gains, output=True)
        self._bind("comb_strengths", self._comb_strengths, output=True)
        self._bind("gru_state_out", self._gru_state_out, output=True)
        self._state = FeatureState()
        self._prev_spectrum = np.zeros(FREQ_SIZE, np.complex64)  # X of frame t-1
        self._prev_pitch_spectrum = np.zeros(FREQ_SIZE, np.complex64)  # P of frame t-1
        self._prev_energy = np.zeros((3, NB_BANDS), np.float32)  # Ex, Ep, Exp of frame t-1
        self._prev_mean_square = 0.0
        self._mixed = np.zeros(FREQ_SIZE, np.complex64)
        self._gains = np.zeros(NB_BANDS, np.float32)
        self._released = np.zeros(NB_BANDS, np.float32)  # the last hop's final gains, for gain_release
        self._overlap = np.zeros(WINDOW_SIZE - FRAME_SIZE, np.float32)
        self._gain_floor = np.float32(10.0 ** (-self.settings.atten_lim_db / 20.0))
        self._comb_scale = np.float32(self.settings.comb_strength_scale)
        self._release_factor = np.float32(self.settings.gain_release)
        self.frames_skipped = 0  # silent frames that did not run the network

    def _bind(self, name: str, array: NDArray[np.float32], *, output: bool) -> None:
        args = (name, "cpu", 0, np.float32, list(array.shape), array.ctypes.data)
        if output:
            self._binding.bind_output(*args)
        else:
            self._binding.bind_input(*args)

    def reset(self) -> None:
        """Forget the past (a new stream starts)."""
        self._state.reset()
        for array in (self._features, self._gru_state_in, self._overlap, self._prev_spectrum, self._prev_energy):
            array.fill(0)
        self._prev_pitch_spectrum.fill(0)
        self._released.fill(0)
        self._prev_mean_square = 0.0
        self.frames_skipped = 0

    def process_frame(self, in_frame: NDArray[np.float32], out_frame: NDArray[np.float32]) -> None:
        """Denoise one 10 ms hop; ``out_frame`` lags ``in_frame`` by ``DELAY_SAMPLES``.

        Parameters
        ----------
        in_frame : ndarray, shape (FRAME_SIZE,) or (FRAME_SIZE, 1), float32, 16 kHz, full scale 1.0
        out_frame : ndarray, same shape, float32, overwritten
        """
        if in_frame.size != FRAME_SIZE or out_frame.size != FRAME_SIZE:
            raise AudioFormatError(f"process_frame takes {FRAME_SIZE} mono samples, got {in_frame.shape}")
        st = self._state
        features = self._features[0]
        features[:-1] = features[1:]
        compute_frame_features(st, in_frame.reshape(FRAME_SIZE), features[-1])
        mean_square = float(st.band_energy_x.sum()) / MEAN_SQUARE_NORM
        if mean_square < SILENCE_MEAN_SQUARE and self._prev_mean_square < SILENCE_MEAN_SQUARE:
            self.frames_skipped += 1
            self._gains.fill(0.0)
            self._comb_strengths.fill(0.0)
        else:
            self.compute_network()
            self._postprocess_gains(self._gains, self._prev_energy[0])
        self._release(self._gains[None])
        self._prev_mean_square = mean_square
        pitch_mix(
            self._prev_spectrum,
            self._prev_pitch_spectrum,
            self._prev_energy,
            self._comb_strengths[0],
            self._gains,
            st.weights,
            self._mixed,
        )
        frame_synthesis(self._mixed, st.window, self._overlap, out_frame.reshape(FRAME_SIZE))
        self._prev_spectrum[:] = st.spectrum
        self._prev_pitch_spectrum[:] = st.pitch_spectrum
        self._prev_energy[:] = st.band_energy_all

    def process_block(self, in_block: NDArray[np.float32], out_block: NDArray[np.float32]) -> None:
        """:meth:`process_frame` over every 10 ms frame of a block, vectorised over frames.

        Same state, same output as calling :meth:`process_frame` frame by frame (up to float
        rounding); only the pitch tracker and the network step frame by frame.

        Parameters
        ----------
        in_block : ndarray, shape (frames * FRAME_SIZE,), float32, 16 kHz, full scale 1.0
        out_block : ndarray, same shape, float32, overwritten; lags ``in_block`` by ``DELAY_SAMPLES``
        """
        if in_block.ndim != 1 or in_block.shape != out_block.shape or len(in_block) % FRAME_SIZE:
            raise AudioFormatError(f"process_block takes a multiple of {FRAME_SIZE} mono samples, got {in_block.shape}")
        frames = len(in_block) // FRAME_SIZE
        if frames == 0:
            return
        st = self._state
        lead = CONV_FRAMES - 1  # feature frames from before the block that the first steps read
        features = np.zeros((frames + lead, FEATURE_LAYOUT.size), np.float32)
        features[:lead] = self._features[0, 1:]
        block = compute_block_features(st, in_block, features[lead:])
        mean_square = block.band_energy[0].sum(axis=-1).astype(np.float64) / MEAN_SQUARE_NORM
        prev_mean_square = np.concatenate(([self._prev_mean_square], mean_square[:-1]))
        skip = (mean_square < SILENCE_MEAN_SQUARE) & (prev_mean_square < SILENCE_MEAN_SQUARE)
        gains = np.zeros((frames, NB_BANDS), np.float32)
        strengths = np.zeros((frames, NB_BANDS), np.float32)
        for t in np.flatnonzero(~skip):
            self._features[0] = features[t : t + CONV_FRAMES]
            self.compute_network()
            gains[t] = self._gains
            strengths[t] = self._comb_strengths[0]
        self._features[0] = features[-CONV_FRAMES:]
        self.frames_skipped += int(skip.sum())
        # the output of hop t is frame t-1's spectrum
        prev_energy = np.concatenate((self._prev_energy[:, None], block.band_energy[:, :-1]), axis=1)
        run = np.flatnonzero(~skip)
        if len(run):
            active = gains[run]
            self._postprocess_gains(active, prev_energy[0, run])
            gains[run] = active
        self._release(gains)
        mixed = np.zeros((frames, FREQ_SIZE), np.complex64)
        pitch_mix(
            np.concatenate((self._prev_spectrum[None], block.spectrum[:-1])),
            np.concatenate((self._prev_pitch_spectrum[None], block.pitch_spectrum[:-1])),
            prev_energy,
            strengths,
            gains,
            st.weights,
            mixed,
        )
        frame_synthesis(mixed, st.window, self._overlap, out_block.reshape(frames, FRAME_SIZE))
        self._prev_mean_square = float(mean_square[-1])
        self._prev_spectrum[:] = block.spectrum[-1]
        self._prev_pitch_spectrum[:] = block.pitch_spectrum[-1]
        self._prev_energy[:] = block.band_energy[:, -1]

    def compute_network(self) -> None:
        """Run the ONNX graph on the last three feature frames; carries the GRU state."""
        self._session.run_with_iobinding(self._binding)
        np.copyto(self._gru_state_in, self._gru_state_out)
        np.copyto(self._gains, self._band_gains[0])
        self._comb_strengths *= self._comb_scale

    def _postprocess_gains(self, gains: NDArray[np.float32], band_energy_x: NDArray[np.float32]) -> None:
        """Exponent, post-filter and attenuation limit, in place; ``gains`` (..., NB_BANDS) of frames with ``Ex``."""
        settings = self.settings
        if settings.gain_exponent != 1.0:
            np.power(gains, np.float32(settings.gain_exponent), out=gains)
        if settings.postfilter:
            raw = gains.copy()
            envelope_postfilter(gains, band_energy_x)
            if settings.postfilter_where_noisy:
                kept = np.sum(raw * raw * band_energy_x, axis=-1, keepdims=True) / (
                    np.sum(band_energy_x, axis=-1, keepdims=True) + np.float32(1e-20)
                )
                gains -= np.minimum(kept, 1.0) * (gains - raw)  # g' + (1 - w) (g - g') = g + w (g' - g)
        np.maximum(gains, self._gain_floor, out=gains)

    def _release(self, gains: NDArray[np.float32]) -> None:
        """``g_t = max(g_t, a g_{t-1})`` over consecutive hops ``gains`` (frames, NB_BANDS), in place.

        Hop by hop, as the streaming path does: the loop costs about a microsecond per hop, next to the
        network's step per hop in the same block.
        """
        if not self._release_factor:
            return
        for hop in gains:
            np.maximum(hop, self._release_factor * self._released, out=hop)
            self._released[:] = hop

    def process(self, samples: NDArray[np.floating], sample_rate: int = SAMPLE_RATE) -> NDArray[np.float32]:
        """Denoise a whole mono signal at any rate; the result is aligned with the input.

        Runs :meth:`process_block` on blocks of ``BLOCK_FRAMES`` frames from a reset state.

        Parameters
        ----------
        samples : ndarray, shape (frames,) or (frames, 1), float, full scale 1.0
        sample_rate : int, Hz; resampled to 16 kHz and back when different

        Returns
        -------
        ndarray, same shape as ``samples``, float32, at ``sample_rate``

        Raises
        ------
        AudioFormatError
            More than one channel (mix to mono first: the denoiser is single-channel).
        SampleRateError
            A non-positive rate.
        """
        x = np.asarray(samples)
        shape = x.shape
        if x.ndim == 2 and x.shape[1] != 1:
            raise AudioFormatError(f"the denoiser takes mono audio, got {x.shape[1]} channels; mix down first")
        if x.ndim > 2:
            raise AudioFormatError(f"expected (frames,) or (frames, 1) samples, got shape {x.shape}")
        if sample_rate <= 0:
            raise SampleRateError(f"sample rate must be positive, got {sample_rate}")
        x = x.reshape(-1).astype(np.float32)
        if sample_rate != SAMPLE_RATE:
            x = resample(x, sample_rate, SAMPLE_RATE)
        n = len(x)
        padded = np.zeros(((n + DELAY_SAMPLES) // FRAME_SIZE + 1) * FRAME_SIZE, np.float32)
        padded[:n] = np.nan_to_num(x, nan=0.0, posinf=1.0, neginf=-1.0)
        out = np.zeros_like(padded)
        self.reset()
        step = BLOCK_FRAMES * FRAME_SIZE
        for start in range(0, len(padded), step):
            self.process_block(padded[start : start + step], out[start : start + step])
        y = out[DELAY_SAMPLES : DELAY_SAMPLES + n]
        if sample_rate != SAMPLE_RATE:
            y = resample(y, SAMPLE_RATE, sample_rate)
            y = np.pad(y, (0, max(0, shape[0] - len(y))))[: shape[0]]
        return np.asarray(y, dtype=np.float32).reshape(shape)


def envelope_postfilter(gains: NDArray[np.float32], band_energy_x: NDArray[np.float32]) -> None:
    """PercepNet's envelope post-filter, in place: ``g' = g sin(pi g / 2)``, energy-compensated.

    Bands with a small gain (still noisy) are attenuated further; the result is scaled by
    ``sqrt((1 + beta) E0 / (E0 + beta E1))`` with ``E0 = sum g^2 Ex`` and ``E1 = sum g'^2 Ex``
    (``beta`` = ``POSTFILTER_BETA``), then capped at 1.

    Parameters
    ----------
    gains : ndarray, shape (..., NB_BANDS), float32, overwritten
    band_energy_x : ndarray, same shape, float32: ``Ex`` of the same frames
    """
    warped = gains * np.sin(gains * np.float32(np.pi / 2))
    e0 = np.sum(gains * gains * band_energy_x, axis=-1, keepdims=True) + np.float32(1e-20)
    e1 = np.sum(warped * warped * band_energy_x, axis=-1, keepdims=True) + np.float32(1e-20)
    warped *= np.sqrt((1.0 + POSTFILTER_BETA) * e0 / (e0 + POSTFILTER_BETA * e1))
    np.minimum(warped, 1.0, out=gains)


def pitch_mix(
    spectrum: NDArray[np.complex64],
    pitch_spectrum: NDArray[np.complex64],
    band_energy: NDArray[np.float32],
    strengths: NDArray[np.float32],
    gains: NDArray[np.float32],
    weights: NDArray[np.float32],
    out: NDArray[np.complex64],
) -> None:
    """Per band, ``(1 - r) X + r P sqrt(Ex/Ep)``, renormalised to ``Ex`` and times the gain.

    Band values reach the bins by the triangular band weights (interpolation).

    Parameters
    ----------
    spectrum, pitch_spectrum : ndarray, shape (..., FREQ_SIZE), complex64: ``X`` and ``P``
    band_energy : ndarray, shape (3, ..., NB_BANDS), float32: ``Ex``, ``Ep``, ``Exp`` of the same frames
    strengths, gains : ndarray, shape (..., NB_BANDS), float32: ``r`` and ``g``
    weights : ndarray, shape (NB_BANDS, FREQ_SIZE), float32 (:func:`band_weights`)
    out : ndarray, shape (..., FREQ_SIZE), complex64, overwritten
    """
    ex, ep = band_energy[0], band_energy[1]
    p_scale = strengths * np.sqrt(ex / (ep + np.float32(1e-20)))
    np.multiply(spectrum, (1.0 - strengths) @ weights, out=out)
    out += pitch_spectrum * (p_scale @ weights)
    power = out.real * out.real + out.imag * out.imag
    norm = np.sqrt(ex / (power @ weights.T + np.float32(1e-20))) * gains
    out *= norm @ weights


def frame_synthesis(
    spectrum: NDArray[np.complex64], window: NDArray[np.float32], overlap: NDArray[np.float32], out: NDArray[np.float32]
) -> None:
    """Inverse FFT, synthesis window, overlap-add; writes the finished FRAME_SIZE samples per frame.

    Parameters
    ----------
    spectrum : ndarray, shape (FREQ_SIZE,) or (frames, FREQ_SIZE), complex64
    window : ndarray, shape (WINDOW_SIZE,), float32
    overlap : ndarray, shape (WINDOW_SIZE - FRAME_SIZE,), float32: the previous block's tail, updated
    out : ndarray, shape (FRAME_SIZE,) or (frames, FRAME_SIZE), float32, overwritten
    """
    synthesis = np.fft.irfft(spectrum, WINDOW_SIZE) * window
    if synthesis.ndim == 1:
        np.add(overlap, synthesis[:FRAME_SIZE], out=out)
    else:
        np.add(synthesis[:, :FRAME_SIZE], np.concatenate((overlap[None], synthesis[:-1, FRAME_SIZE:])), out=out)
    tail = synthesis[..., FRAME_SIZE:]
    overlap[:] = tail if tail.ndim == 1 else tail[-1]


__all__ = [
    "ALGORITHMIC_LATENCY_MS",
    "DELAY_SAMPLES",
    "LOOKAHEAD_FRAMES",
    "Denoiser",
    "DenoiserSettings",
    "default_model_path",
    "envelope_postfilter",
    "frame_synthesis",
    "load_sidecar",
    "pitch_mix",
]
