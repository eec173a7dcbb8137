"""The streaming detector and tracker on closed-form scenes: walk-ins, music, causality, duty cycle."""

from __future__ import annotations

import sys
from collections.abc import Callable

import numpy as np
import pytest

from echo_sense_dsp.errors import AudioFormatError, ConfigError, SampleRateError
from echo_sense_dsp.presence import (
    Calibration,
    DutyCycle,
    DutyCycleSettings,
    OccupancyTracker,
    PresenceDetector,
    TrackerSettings,
)
from echo_sense_dsp.presence.demodulation import Demodulator
from echo_sense_dsp.presence.drive import REGRESSOR_POWERS, reference_regressors
from echo_sense_dsp.presence.features import (
    BAND_COUNT,
    FEATURE_LAYOUT,
    FEATURE_SIZE,
    peak_band_snr_db,
    radial_asymmetry_db,
)
from echo_sense_dsp.presence.music import DistortionCanceller

WALK_START_S = 2.5
DETECT_WITHIN_S = 1.0  # walk-ins must be detected within this
F0_HZ = 40000.0
CAL = Calibration(F0_HZ, -20.0, 96000)


def walk_in(t: np.ndarray) -> np.ndarray:
    """Standing 4 m away, then walking towards the device at 1 m/s from WALK_START_S."""
    return np.where(t < WALK_START_S, 4.0, 4.0 - 1.0 * (t - WALK_START_S))


def run(det: PresenceDetector, mics: np.ndarray, drive: np.ndarray, block: int = 960) -> list:  # type: ignore[type-arg]
    out = []
    for s in range(0, len(drive), block):
        out += det.process(mics[s : s + block], drive[s : s + block])
    return out


def baseline(**kw: object) -> PresenceDetector:
    return PresenceDetector(
        CAL, mic_count=4, scorer="energy_threshold", duty_cycle=DutyCycleSettings(enabled=False), **kw
    )


def test_walk_in_is_detected_within_one_second(rng: np.random.Generator, scene: Callable) -> None:  # type: ignore[type-arg]
    sc = scene(rng, seconds=4.5, range_m=walk_in)
    decisions = run(baseline(), sc.mics, sc.drive)
    assert not any(d.occupied for d in decisions if d.t < WALK_START_S)
    first = next(d.t for d in decisions if d.occupied)
    assert WALK_START_S <= first <= WALK_START_S + DETECT_WITHIN_S
    assert len(decisions) == round(4.5 / 0.02)  # one decision per 20 ms hop


def test_music_through_a_nonlinear_speaker_does_not_trigger_motion(
    rng: np.random.Generator,
    scene: Callable,  # type: ignore[type-arg]
    music: Callable,  # type: ignore[type-arg]
) -> None:
    sc = scene(rng, seconds=6.0, music=music(rng, 6.0, level=0.2), nonlinearity=(0.03, 0.05))
    decisions = run(baseline(), sc.mics, sc.drive)
    assert not any(d.occupied for d in decisions)


def test_walk_in_is_still_detected_while_music_plays(
    rng: np.random.Generator,
    scene: Callable,  # type: ignore[type-arg]
    music: Callable,  # type: ignore[type-arg]
) -> None:
    sc = scene(rng, seconds=4.5, range_m=walk_in, music=music(rng, 4.5, level=0.2), nonlinearity=(0.03, 0.05))
    decisions = run(baseline(), sc.mics, sc.drive)
    first = next(d.t for d in decisions if d.occupied)
    assert WALK_START_S <= first <= WALK_START_S + DETECT_WITHIN_S


def test_the_music_level_follows_the_drive_and_picks_the_music_model(
    rng: np.random.Generator,
    scene: Callable,  # type: ignore[type-arg]
    music: Callable,  # type: ignore[type-arg]
) -> None:
    diagnostics = []
    for level in (0.2, 0.02):  # 20 dB apart
        sc = scene(rng, seconds=2.0, music=music(rng, 2.0, level=level), nonlinearity=(0.03, 0.05))
        det = PresenceDetector(CAL, mic_count=4, duty_cycle=DutyCycleSettings(enabled=False))
        run(det, sc.mics, sc.drive)
        diagnostics.append(det.diagnostics())
    loud, quiet = diagnostics
    assert loud["music_level_db"] - quiet["music_level_db"] == pytest.approx(20.0, abs=1.5)
    assert loud["music_model_active"] and not quiet["music_model_active"]
    silent = PresenceDetector(CAL, mic_count=4)
    sc = scene(rng, seconds=1.0)
    run(silent, sc.mics, sc.drive)
    assert silent.diagnostics()["music_level_db"] is None
    assert not silent.diagnostics()["music_model_active"]


def test_cutting_the_input_short_does_not_change_earlier_decisions(
    rng: np.random.Generator,
    scene: Callable,  # type: ignore[type-arg]
) -> None:
    sc = scene(rng, seconds=4.0, range_m=walk_in)
    full = run(baseline(), sc.mics, sc.drive)
    cut = round(3.1 * 96000) + 123  # not on a block or hop boundary
    short = run(baseline(), sc.mics[:cut], sc.drive[:cut], block=777)
    assert short == full[: len(short)]
    assert len(short) == cut // 1920


def test_without_calibration_the_probe_is_learned_from_the_reference(
    rng: np.random.Generator,
    scene: Callable,  # type: ignore[type-arg]
) -> None:
    sc = scene(rng, seconds=4.5, range_m=walk_in, frequency_hz=37300.0)
    det = PresenceDetector(None, scorer="energy_threshold", duty_cycle=DutyCycleSettings(enabled=False))
    decisions = run(det, sc.mics, sc.drive)
    assert det.diagnostics()["probe_frequency_hz"] == pytest.approx(37300.0, abs=2.0)
    first = next(d.t for d in decisions if d.occupied)
    assert WALK_START_S <= first <= WALK_START_S + DETECT_WITHIN_S


def test_tracker_is_strict_when_empty_and_sensitive_after_major_motion() -> None:
    tracker = OccupancyTracker(TrackerSettings(sensitivity=0.5, hold_time_s=5.0))
    minor = (0.4, 0.0)  # between the sensitive (0.25) and strict (0.7) thresholds
    assert not any(tracker.update(0.02 * i, *minor, sensing=True) for i in range(100))
    for i in range(100, 104):
        tracker.update(0.02 * i, 0.0, 0.95, sensing=True)  # a walk-in
    assert tracker.occupied
    t = 0.02 * 104
    for k in range(1, 30):  # minor motion every second keeps it occupied for 29 s
        for j in range(50):
            tracker.update(t + k + 0.02 * j, *(minor if j == 0 else (0.0, 0.0)), sensing=True)
        assert tracker.occupied
    t_last = t + 29
    for j in range(1, 400):
        tracker.update(t_last + 0.02 * j, 0.0, 0.0, sensing=True)
    assert not tracker.occupied  # cleared after the 5 s hold time


def test_tracker_needs_a_one_sided_doppler_echo_to_declare_occupancy() -> None:
    tracker = OccupancyTracker(TrackerSettings(min_asymmetry_db=1.5))
    # a fan: P(major) high, but its blades move both ways at once
    assert not any(tracker.update(0.02 * i, 0.0, 0.95, sensing=True, asymmetry_db=0.6) for i in range(200))
    assert tracker.motion_kind == "none"
    # someone walking towards the device
    assert [tracker.update(4.0 + 0.02 * i, 0.0, 0.95, sensing=True, asymmetry_db=8.0) for i in range(3)][-1]
    # once occupied, a symmetric echo still counts as motion (a seated person's small movements)
    tracker.update(4.1, 0.3, 0.1, sensing=True, asymmetry_db=0.0)
    assert tracker.motion_kind == "minor"
    # while music plays the canceller's residue makes single frames two-sided, so the longer music
    # trigger asks for a lopsided echo over its whole window (median), not frame by frame
    settings = TrackerSettings(min_asymmetry_db=1.5, music_trigger_frames=20, min_music_asymmetry_db=3.0)
    residue = OccupancyTracker(settings)  # loud music alone: about 2 dB
    assert not any(residue.update(0.02 * i, 0.0, 0.95, sensing=True, music=True, asymmetry_db=2.0) for i in range(200))
    walker = OccupancyTracker(settings)  # lopsided, with every third frame smeared by the residue
    asym = [0.5 if i % 3 == 0 else 6.0 for i in range(20)]
    steps = [walker.update(0.02 * i, 0.0, 0.95, sensing=True, music=True, asymmetry_db=a) for i, a in enumerate(asym)]
    assert not any(steps[:19]) and steps[19]


def test_under_music_the_trigger_window_needs_echo_above_the_floor() -> None:
    """A classifier sure of a walker while no band holds echo (very loud music's residue) does not make the
    room occupied; the same frames with a walker's echo a few dB up, now and then dropping out, do."""
    settings = TrackerSettings(music_trigger_frames=20, min_music_asymmetry_db=3.0, min_music_echo_snr_db=3.0)
    residue = OccupancyTracker(settings)
    assert not any(
        residue.update(0.02 * i, 0.0, 0.99, sensing=True, music=True, asymmetry_db=4.0, echo_snr_db=1.0)
        for i in range(200)
    )
    walker = OccupancyTracker(settings)
    snr = [0.5 if i % 3 == 0 else 7.0 for i in range(20)]
    steps = [
        walker.update(0.02 * i, 0.0, 0.99, sensing=True, music=True, asymmetry_db=4.0, echo_snr_db=x)
        for i, x in enumerate(snr)
    ]
    assert not any(steps[:19]) and steps[19]
    quiet = OccupancyTracker(settings)  # without music the check does not apply
    assert any(quiet.update(0.02 * i, 0.0, 0.99, sensing=True, asymmetry_db=4.0, echo_snr_db=0.0) for i in range(3))


def test_peak_band_snr_is_the_mean_of_the_strongest_bands() -> None:
    features = np.zeros(FEATURE_SIZE, dtype=np.float32)
    snr_db = np.zeros(BAND_COUNT)
    snr_db[[1, 7, 15, 20]] = [12.0, 6.0, 9.0, 3.0]
    features[FEATURE_LAYOUT.slices["band_snr"]] = snr_db / 20.0
    assert peak_band_snr_db(features) == pytest.approx(9.0, abs=1e-5)


def test_radial_asymmetry_of_the_doppler_echo() -> None:
    features = np.zeros(FEATURE_SIZE, dtype=np.float32)
    echo = FEATURE_LAYOUT.slices["band_echo_level"]
    level = np.full(BAND_COUNT, -100.0)
    level[BAND_COUNT // 2 + 2] = -60.0  # one approaching band 40 dB above the floor of every band
    features[echo] = (level + 100.0) / 20.0
    expected = 10.0 * np.log10((1e-6 + 10.0 * 1e-10) / (11.0 * 1e-10))
    assert radial_asymmetry_db(features) == pytest.approx(expected, abs=1e-6)
    level[BAND_COUNT // 2 - 3] = -60.0  # the same on the receding side
    features[echo] = (level + 100.0) / 20.0
    assert radial_asymmetry_db(features) == pytest.approx(0.0, abs=1e-9)


def test_tracker_holds_through_paused_sensing() -> None:
    tracker = OccupancyTracker(TrackerSettings(hold_time_s=1.0))
    for i in range(5):
        tracker.update(0.02 * i, 0.0, 1.0, sensing=True)
    assert all(tracker.update(0.1 + 0.02 * i, 0.0, 0.0, sensing=False) for i in range(200))


def test_duty_cycle_pauses_at_most_half_the_time_once_presence_is_confirmed() -> None:
    duty = DutyCycle(DutyCycleSettings(confirm_s=3.0, on_s=1.0, off_s=1.5))
    paused = [duty.update(0.02 * i, True, 100.0) for i in range(3000)]
    assert not any(paused[:150])  # confirmation period
    assert 0.55 <= np.mean(paused[150:]) <= 0.65  # off 1.5 s of every 2.5 s
    assert not duty.update(60.0, True, 1.0)  # hold timer about to expire: probe back on
    assert not duty.update(60.02, False, 0.0)


def test_emission_duty_is_reported_from_the_drive(rng: np.random.Generator, scene: Callable) -> None:  # type: ignore[type-arg]
    n = 4 * 96000
    gate = np.ones(n)
    gate[2 * 96000 :] = 0.0
    sc = scene(rng, seconds=4.0, probe_gate=gate)
    det = baseline()
    decisions = run(det, sc.mics, sc.drive)
    assert det.emission_duty == pytest.approx(0.5, abs=0.02)
    assert not any(d.sensing for d in decisions if d.t > 2.05)
    diag = det.diagnostics()
    assert {"emission_duty", "emission_duty_occupied", "probe_frequency_hz", "band_snr_db"} <= set(diag)
    assert diag["min_asymmetry_db"] == 0.0  # the energy baseline keeps the plain trigger
    assert diag["radial_asymmetry_db"] == 0.0  # the probe was off for the last hop


def test_a_demodulated_capture_gives_the_decisions_of_the_raw_one(
    rng: np.random.Generator,
    scene: Callable,  # type: ignore[type-arg]
    music: Callable,  # type: ignore[type-arg]
) -> None:
    """process_baseband (what the benchmark caches for its runs with music) runs as process() does."""
    sc = scene(rng, seconds=4.0, range_m=walk_in, music=music(rng, 4.0, level=0.2), nonlinearity=(0.03, 0.05))
    raw = run(PresenceDetector(CAL, mic_count=4, duty_cycle=DutyCycleSettings(enabled=False)), sc.mics, sc.drive)
    det = PresenceDetector(CAL, mic_count=4, duty_cycle=DutyCycleSettings(enabled=False))
    demodulator = Demodulator(F0_HZ, 96000, 4 + len(REGRESSOR_POWERS))
    hop = demodulator.hop_frames
    work = np.zeros((hop, 4 + len(REGRESSOR_POWERS)), dtype=np.float32)
    demodulated = []
    for s in range(0, len(sc.drive) - hop + 1, hop):
        work[:, :4] = sc.mics[s : s + hop]
        reference_regressors(sc.drive[s : s + hop], work[:, 4:])
        demodulated.append(det.process_baseband(demodulator.process(work)))
    assert demodulated == raw
    assert any(d.occupied for d in raw)
    with pytest.raises(AudioFormatError, match="baseband hop must be"):
        det.process_baseband(np.zeros((80, 4), np.complex64))
    with pytest.raises(ConfigError, match="needs a detector made with a calibration"):
        PresenceDetector(None).process_baseband(np.zeros((80, 7), np.complex64))


def test_bad_blocks_and_settings_are_clear_errors() -> None:
    det = baseline()
    with pytest.raises(AudioFormatError, match="channels"):
        det.process(np.zeros((960, 2), np.float32), np.zeros(960, np.float32))
    with pytest.raises(AudioFormatError, match="reference"):
        det.process(np.zeros((960, 4), np.float32), np.zeros(480, np.float32))
    with pytest.raises(SampleRateError, match="44100"):
        PresenceDetector(None, sample_rate=44100)
    with pytest.raises(ConfigError, match="calibration was made at 96000"):
        PresenceDetector(CAL, sample_rate=48000)
    with pytest.raises(ConfigError, match="unknown scorer"):
        PresenceDetector(CAL, scorer="magic")


def test_library_imports_neither_torch_nor_homeassistant(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib

    monkeypatch.setitem(sys.modules, "torch", None)  # type: ignore[arg-type]
    monkeypatch.setitem(sys.modules, "homeassistant", None)  # type: ignore[arg-type]
    for name in [m for m in list(sys.modules) if m.startswith("echo_sense_dsp.presence")]:
        monkeypatch.delitem(sys.modules, name)
    for module in (
        "probe",
        "calibration",
        "demodulation",
        "music",
        "features",
        "classifier",
        "tracker",
        "detector",
        "commands",
    ):
        importlib.import_module(f"echo_sense_dsp.presence.{module}")


def test_canceller_serves_cards_with_many_inputs_as_it_serves_four_mics() -> None:
    """A 32-input card (PulseAudio's default source offers that many): products are split, results are not."""
    rng = np.random.default_rng(7)
    hop = 80
    many, four = DistortionCanceller(32, hop, 4000.0), DistortionCanceller(4, hop, 4000.0)
    for _ in range(30):
        regressors = (rng.standard_normal((hop, 3)) + 1j * rng.standard_normal((hop, 3))).astype(np.complex64)
        leak = regressors[:, 1:2] * rng.standard_normal(32).astype(np.float32)
        mics = (leak + 0.01 * rng.standard_normal((hop, 32))).astype(np.complex64)
        out_many = many.process(mics, regressors)
        out_four = four.process(np.ascontiguousarray(mics[:, :4]), regressors)
        np.testing.assert_allclose(out_many[:, :4], out_four, rtol=1e-4, atol=1e-6)
    assert many.active and not np.allclose(out_many, mics)  # it did cancel, on every one of the 32 inputs


def test_canceller_follows_a_change_in_the_distortion_within_a_third_of_a_second() -> None:
    """When what the music's distortion looks like at the mics changes (in a room, a new note excites the
    model's mismatch differently), the residue must fall back quickly: a slow fit's residue looked like a
    walker for up to a second under loud music (models/presence/CARD.md, session 10)."""
    rng = np.random.default_rng(3)
    hop = 80
    canceller = DistortionCanceller(4, hop, 4000.0)
    coupling = rng.standard_normal((2, 4)) + 1j * rng.standard_normal((2, 4))
    residue_db = []
    for h in range(110):
        regressors = (rng.standard_normal((hop, 3)) + 1j * rng.standard_normal((hop, 3))).astype(np.complex64)
        leak = regressors[:, 1:2] * coupling[min(h // 50, 1)]  # the coupling changes at hop 50
        mics = (leak + 1e-3 * rng.standard_normal((hop, 4))).astype(np.complex64)
        residual = canceller.process(mics, regressors)
        residue_db.append(10 * np.log10(np.vdot(residual, residual).real / np.vdot(leak, leak).real))
    assert residue_db[49] < -40.0  # converged before the change
    assert residue_db[50] > -10.0  # the change is not cancelled at once
    assert residue_db[65] < residue_db[50] - 10.0  # 10 dB down within 0.3 s (the old forgetting: 4 dB)
    assert max(residue_db[100:]) < residue_db[50] - 30.0  # 30 dB down within a second (the old: 13 dB)
