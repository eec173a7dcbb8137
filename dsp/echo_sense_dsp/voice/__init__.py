"""Voice: the PercepNet-style noise suppressor (16 kHz, 10 ms hops, 30 ms algorithmic latency).

Contents
--------
========================================  ====================================================
:class:`~.denoiser.Denoiser`              streaming (``process_frame``, ``process_block``) and
                                          whole-signal (``process``) denoiser over the shipped
                                          ONNX model [1]_
:class:`~.denoiser.DenoiserSettings`      user settings: ``atten_lim_db``, ``postfilter``
:func:`~.features.compute_frame_features` the only feature code (runtime and training dumper)
:data:`~.features.FEATURE_LAYOUT`         frozen, versioned layout of the feature vector
:func:`~.features.band_weights`           ERB-spaced triangular bands with 50 % overlap
:func:`~.features.pitch_search`           normalised-correlation period candidates (FFT)
:func:`~.features.pitch_track`            Viterbi tracking of the pitch period
:func:`~.features.pitch_filter`           time-domain comb filter at the tracked period
:func:`~.denoiser.envelope_postfilter`    gain warping of still-noisy bands [1]_
:data:`DENOISERS`                         registry of denoiser variants by name
========================================  ====================================================

Signals are float32, full scale 1.0, mono, 16 kHz inside; :meth:`Denoiser.process` resamples
other rates in and out. The window is power-complementary (Vorbis), 20 ms with 50 % overlap.
The network (two GRUs behind a three-frame convolution) predicts per-band gains ``band_gains``
and comb-filter strengths ``comb_strengths``; gating of tonal components follows [1]_, the
frame pipeline and the "silence skips the network" rule follow RNNoise [2]_.

References
----------
.. [1] J.-M. Valin, U. Isik, N. Phansalkar, R. Giri, K. Helwani, A. Krishnaswamy, "A
   Perceptually-Motivated Approach for Low-Complexity, Real-Time Enhancement of Fullband
   Speech", Proc. Interspeech 2020 (PercepNet).
.. [2] J.-M. Valin, "A Hybrid DSP/Deep Learning Approach to Real-Time Full-Band Speech
   Enhancement", Proc. MMSP 2018, arXiv:1709.08243 (RNNoise).
"""

from __future__ import annotations

from .denoiser import (
    ALGORITHMIC_LATENCY_MS,
    DELAY_SAMPLES,
    Denoiser,
    DenoiserSettings,
    default_model_path,
    envelope_postfilter,
    load_sidecar,
)
from .features import (
    FEATURE_LAYOUT,
    FRAME_SIZE,
    NB_BANDS,
    SAMPLE_RATE,
    FeatureLayout,
    FeatureState,
    band_weights,
    compute_frame_features,
    erb_band_edges_hz,
    pitch_filter,
    pitch_search,
    pitch_track,
)

DENOISERS: dict[str, type[Denoiser]] = {"percepnet": Denoiser}

__all__ = [
    "ALGORITHMIC_LATENCY_MS",
    "DELAY_SAMPLES",
    "DENOISERS",
    "FEATURE_LAYOUT",
    "FRAME_SIZE",
    "NB_BANDS",
    "SAMPLE_RATE",
    "Denoiser",
    "DenoiserSettings",
    "FeatureLayout",
    "FeatureState",
    "band_weights",
    "compute_frame_features",
    "default_model_path",
    "envelope_postfilter",
    "erb_band_edges_hz",
    "load_sidecar",
    "pitch_filter",
    "pitch_search",
    "pitch_track",
]
