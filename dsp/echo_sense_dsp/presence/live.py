"""Presence on a running :class:`~echo_sense_dsp.audio.AudioEngine`.

:class:`PresenceRunner` puts the detector's probe on the engine's probe bus, takes the
microphones and the drive the device was given from an input subscription, and runs the
:class:`~echo_sense_dsp.presence.PresenceDetector` on its own thread, handing every
decision to a callback (the Home Assistant hub hops from there to its event loop).

:func:`run_calibration` plays a calibration sweep through the engine, records it, and
returns :func:`~echo_sense_dsp.presence.analyse_calibration`'s result.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

from ..audio.engine import AudioEngine, InputBlock, Subscription
from ..errors import DeviceError
from .calibration import DEFAULT_RANGE_M, Calibration, CalibrationPlan, analyse_calibration
from .detector import PresenceDecision, PresenceDetector
from .spectrogram import DopplerHistory

_LOGGER = logging.getLogger(__name__)

CALIBRATION_TAIL_S = 0.5  # recorded after the sweep ends (echoes, device latency)
_GET_TIMEOUT_S = 0.25
_QUEUE_BLOCKS = 100  # 1 s of 10 ms blocks: presence may lag this much before it is dropped

DecisionCallback = Callable[[PresenceDecision], None]


def _mono_reference(block: InputBlock) -> NDArray[np.float32] | None:
    """The drive as one channel: the mean over drivers (the probe is common to all of them)."""
    if block.reference is None:
        return None
    return np.asarray(block.reference.mean(axis=1), dtype=np.float32)


class PresenceRunner:
    """Runs a detector on an engine until :meth:`stop`.

    Parameters
    ----------
    engine : a started (or about to start) engine.
    detector : its ``sample_rate`` must be the engine's.
    on_decision : called on the runner's thread with every decision (every 20 ms).
    history : optional ring fed with the Doppler spectrum and the decision of every hop.
    """

    def __init__(
        self,
        engine: AudioEngine,
        detector: PresenceDetector,
        on_decision: DecisionCallback,
        history: DopplerHistory | None = None,
    ) -> None:
        if detector.sample_rate != engine.sample_rate:
            raise DeviceError(f"the detector runs at {detector.sample_rate} Hz, the engine at {engine.sample_rate} Hz")
        self.engine = engine
        self.detector = detector
        self.on_decision = on_decision
        self.history = history
        self._emission_enabled = True
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._subscription: Subscription | None = None
        self.resubscriptions = 0

    @property
    def emission_enabled(self) -> bool:
        return self._emission_enabled

    @emission_enabled.setter
    def emission_enabled(self, enabled: bool) -> None:
        """Switch the probe on or off (off: no sensing; the detector holds its state)."""
        self._emission_enabled = bool(enabled)
        self._apply_probe()

    def _probe_block(self, frames: int) -> NDArray[np.float32]:
        probe = self.detector.probe
        if probe is None:
            return np.zeros((frames, 1), np.float32)
        return probe.generate(frames)[:, np.newaxis]

    def _apply_probe(self) -> None:
        enabled = self._emission_enabled and self._thread is not None
        self.engine.probe_bus.set_source(self._probe_block if enabled else None)

    def start(self) -> None:
        """Subscribe, start the probe and the detector thread."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._subscription = self.engine.subscribe_input(
            "presence", with_reference=True, max_queue_blocks=_QUEUE_BLOCKS
        )
        self._thread = threading.Thread(target=self._run, name="echo-sense-presence", daemon=True)
        self._thread.start()
        self._apply_probe()

    def stop(self) -> None:
        """Stop the probe and the thread; idempotent."""
        self._stop.set()
        thread, self._thread = self._thread, None
        self.engine.probe_bus.set_source(None)
        if self._subscription is not None:
            self.engine.unsubscribe(self._subscription)
        if thread is not None:
            thread.join()
        self._subscription = None

    def _run(self) -> None:
        while not self._stop.is_set():
            sub = self._subscription
            if sub is None:
                return
            block = sub.get(timeout=_GET_TIMEOUT_S)
            if block is None:
                if sub.dropped and not self._stop.is_set():
                    _LOGGER.warning("presence fell behind the audio stream; subscribing again")
                    self.resubscriptions += 1
                    self._subscription = self.engine.subscribe_input(
                        "presence", with_reference=True, max_queue_blocks=_QUEUE_BLOCKS
                    )
                continue
            try:
                for decision in self.detector.process(block.mics, _mono_reference(block)):
                    self.on_decision(decision)
                    history = self.history
                    spectrum = self.detector.doppler_spectrum_db
                    if history is not None and spectrum is not None:
                        history.push(spectrum, decision.occupied, decision.motion, decision.sensing)
            except Exception:  # a bad block must not end sensing for good
                _LOGGER.exception("presence detector failed on a block")


def run_calibration(
    engine: AudioEngine,
    plan: CalibrationPlan,
    *,
    range_m: float = DEFAULT_RANGE_M,
    progress: Callable[[float], None] | None = None,
    timeout_s: float | None = None,
) -> Calibration:
    """Play ``plan``'s sweep on the engine's probe bus, record it, and analyse it.

    The probe bus is taken over for the sweep and left empty afterwards (a running
    :class:`PresenceRunner` must be stopped first). Blocks until done.

    Raises
    ------
    CalibrationError  the capture shows no usable ultrasonic response (see analyse_calibration).
    DeviceError       the engine delivered no audio within ``timeout_s``.
    """
    signal = np.asarray(plan.signal, dtype=np.float32)
    total = len(signal)
    wanted = total + round(CALIBRATION_TAIL_S * plan.sample_rate)
    timeout_s = timeout_s if timeout_s is not None else 3.0 * wanted / plan.sample_rate + 10.0
    position = 0

    def sweep_block(frames: int) -> NDArray[np.float32]:
        nonlocal position
        out = np.zeros((frames, 1), np.float32)
        take = max(0, min(frames, total - position))
        out[:take, 0] = signal[position : position + take]
        position += frames
        return out

    sub = engine.subscribe_input("calibration", with_reference=True, max_queue_blocks=4 * _QUEUE_BLOCKS)
    mics: list[NDArray[np.float32]] = []
    drive: list[NDArray[np.float32]] = []
    recorded = 0
    deadline = time.monotonic() + timeout_s
    engine.probe_bus.set_source(sweep_block)
    try:
        while recorded < wanted:
            if time.monotonic() > deadline:
                raise DeviceError(
                    f"the audio stream delivered {recorded / plan.sample_rate:.1f} s in {timeout_s:.0f} s"
                )
            block = sub.get(timeout=_GET_TIMEOUT_S)
            if block is None:
                if not sub.active:
                    raise DeviceError("the audio stream stopped during calibration")
                continue
            reference = _mono_reference(block)
            assert reference is not None
            mics.append(block.mics)
            drive.append(reference)
            recorded += len(block.mics)
            if progress is not None:
                progress(min(1.0, recorded / wanted))
    finally:
        engine.probe_bus.set_source(None)
        engine.unsubscribe(sub)
    return analyse_calibration(np.concatenate(mics), np.concatenate(drive), plan, range_m=range_m)


__all__ = ["CALIBRATION_TAIL_S", "PresenceRunner", "run_calibration"]
