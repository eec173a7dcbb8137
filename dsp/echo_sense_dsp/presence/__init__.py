"""Ultrasonic (Doppler) presence sensing on the hub's own speaker and microphones.

==================  ===========================================================================
probe               the inaudible CW probe (>= 32 kHz at 96 kHz; 19-23 kHz at the 48 kHz fallback,
                    with an audibility warning), raised-cosine pausing, emission duty
calibration         stepped-tone sweep plan, per-mic carrier SNR and noise floor, choice of the
                    frequency and the lowest level reaching the wanted range (sonar equation [1]_)
demodulation        complex mixer + two-stage polyphase decimation to a 4 kHz baseband [2]_
drive               the drive's powers d, d^2, d^3, demodulated next to the mics
music               drive-referenced cancellation of the speaker's intermodulation (Volterra
                    regressors d, d^2, d^3; per-mic complex FIR by block least squares) [3]_ [4]_
features            static (zero-Doppler) removal, Doppler spectrum in radial-velocity bands,
                    noise floor, ``compute_frame_features`` and the frozen ``FEATURE_LAYOUT``
classifier          small 1-D CNN (ONNX) over 0.64 s of features: P(none / minor / major motion)
tracker             occupancy with strict/sensitive regimes and a hold time; probe duty cycle
detector            ``PresenceDetector``: the streaming pipeline; ``SCORERS`` registry
                    (``"neural"``, baseline ``"energy_threshold"``)
spectrogram         ``DopplerHistory``: ring of Doppler spectra + decisions rendered as an RGB image
commands            ``echo-sense probe | calibrate-plan | calibrate | motion``
==================  ===========================================================================

References
----------
.. [1] R. J. Urick, *Principles of Underwater Sound*, 3rd ed., McGraw-Hill 1983, ch. 2.
.. [2] M. A. Richards, *Fundamentals of Radar Signal Processing*, 2nd ed., McGraw-Hill 2014, ch. 3.
.. [3] B. Widrow et al., "Adaptive noise cancelling: principles and applications", Proc. IEEE 63(12), 1975.
.. [4] A. Stenger, W. Kellermann, "Adaptation of a memoryless preprocessor for nonlinear acoustic
   echo cancelling", Signal Processing 80(9), 2000.
.. [5] S. Gupta et al., "SoundWave: using the Doppler effect to sense gestures", CHI 2012.
"""

from .calibration import (
    CALIBRATION_LEVELS_DB,
    DEFAULT_RANGE_M,
    Calibration,
    CalibrationError,
    CalibrationPlan,
    CalibrationSegment,
    analyse_calibration,
    expected_range_m,
    plan_calibration,
)
from .classifier import CONTEXT_FRAMES, MOTION_CLASSES, MotionClassifier
from .demodulation import BASEBAND_RATE_HZ, HOP_S, Demodulator
from .detector import SCORERS, PresenceDecision, PresenceDetector
from .features import FEATURE_LAYOUT, FEATURE_SIZE, DopplerFrontEnd, compute_frame_features, extract_features
from .music import DistortionCanceller
from .probe import (
    ProbeGenerator,
    ProbeSettings,
    default_probe_frequency_hz,
    probe_band_hz,
    probe_signal,
    probe_warnings,
)
from .tracker import DutyCycle, DutyCycleSettings, OccupancyTracker, TrackerSettings

__all__ = [
    "BASEBAND_RATE_HZ",
    "CALIBRATION_LEVELS_DB",
    "CONTEXT_FRAMES",
    "DEFAULT_RANGE_M",
    "FEATURE_LAYOUT",
    "FEATURE_SIZE",
    "HOP_S",
    "MOTION_CLASSES",
    "SCORERS",
    "Calibration",
    "CalibrationError",
    "CalibrationPlan",
    "CalibrationSegment",
    "Demodulator",
    "DistortionCanceller",
    "DopplerFrontEnd",
    "DutyCycle",
    "DutyCycleSettings",
    "MotionClassifier",
    "OccupancyTracker",
    "PresenceDecision",
    "PresenceDetector",
    "ProbeGenerator",
    "ProbeSettings",
    "TrackerSettings",
    "analyse_calibration",
    "compute_frame_features",
    "default_probe_frequency_hz",
    "expected_range_m",
    "extract_features",
    "plan_calibration",
    "probe_band_hz",
    "probe_signal",
    "probe_warnings",
]
