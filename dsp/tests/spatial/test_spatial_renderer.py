"""Spatial renderer: layouts, head model, upmix, filters, streaming, CLI."""

from __future__ import annotations

import json
import subprocess
import sys
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from echo_sense_dsp.cli import main as cli_main
from echo_sense_dsp.errors import AudioFormatError, ConfigError
from echo_sense_dsp.physics import SPEED_OF_SOUND_M_S
from echo_sense_dsp.spatial import (
    DEFAULT_SWEET_SPOT,
    LAYOUTS,
    SWEET_SPOTS,
    CentreUpmixer,
    HeadPose,
    PartitionedConvolver,
    SpatialRenderer,
    acoustic_contrast,
    crosstalk_canceller,
    design_filters,
    load_layout,
    render,
    virtualiser_matrix,
)
from echo_sense_dsp.spatial.acoustics import driver_to_ear_transfer, far_field_transfer, horizontal_directions
from echo_sense_dsp.spatial.design import (
    BEAM_MAX_GAIN_DB,
    DESIGN_FFT_SIZE,
    FLOOR_EXTRA_GAIN_DB,
    MODELLING_DELAY_S,
    alignment_delays_s,
    butterworth2_response,
)
from echo_sense_dsp.spatial.head import HEAD_RADIUS_M, sphere_transfer, woodworth_itd_s
from echo_sense_dsp.wavio import read_wav, write_wav

RATE_HZ = 48000
BLOCK = 480
CONV_TOL = 1e-5  # float32 round-off of FFT convolution vs direct convolution, full scale
ALLPASS_TOL_DB = 1e-9  # magnitude deviation of the ipsilateral all-pass
SPHERE_LOW_FREQ_TOL_DB = 0.1  # sphere response at 20 Hz vs the free field
DELAY_TOL_S = 1e-6
CENTRE_TOL_DB = 1.0  # centre-panned source energy in the centre channel
HARD_PAN_MAX_DB = -20.0  # hard-panned source energy allowed in the centre channel
LATENCY_LIMIT_S = 0.020
BAND_SPLIT_PEAK_SHIFT = 2  # samples of group delay of the band split at high frequencies
SEPARATION_AT_SEAT_MIN_DB = 15.0  # averaged 250 Hz-4 kHz on the exact sphere model
SEPARATION_OFF_CENTRE_MIN_DB = 8.0  # default profile, 10 cm to either side (the benchmark's target is 10 dB)
ALLOCATION_GROWTH_BYTES = 4096  # peak traced memory growth allowed after warm-up
BEAM_REJECTION_MIN_DB = 10.0  # centre beam at +/-90 degrees, studio-array
BEAM_LOBE_MAX_DROP_DB = 3.0  # centre beam within +/-45 degrees, studio-array
BEAM_BANDS_HZ = (500.0, 1000.0, 2000.0, 4000.0)
TONAL_MAKE_UP_DB = 8.0  # largest gain the third-octave tonal match adds to the canceller (benchmark: drive row)
FIR_RIPPLE_DB = 2.0  # truncated, windowed FIR vs its designed response (the 12 Hz bin)


def _stream(renderer: SpatialRenderer, x: np.ndarray) -> np.ndarray:
    out = [renderer.process(x[k : k + renderer.block_size]).copy() for k in range(0, len(x), renderer.block_size)]
    return np.concatenate(out)


# ---------------------------------------------------------------- layouts


def test_presets_cover_the_three_device_kinds() -> None:
    assert {"narrow-stereo", "studio-array", "soundbar-4"} <= set(LAYOUTS)
    assert LAYOUTS["studio-array"].n_drivers == 5
    assert LAYOUTS["soundbar-4"].n_drivers == 4
    assert [d.name for d in LAYOUTS["studio-array"].drivers] == ["left", "up", "right", "tweeter", "woofer"]


def test_layout_loads_from_file_dict_and_name_identically(tmp_path: Path) -> None:
    layout = LAYOUTS["narrow-stereo"]
    path = tmp_path / "mine.json"
    path.write_text(json.dumps(layout.to_dict()))
    assert load_layout(path) == layout
    assert load_layout(layout.to_dict()) == layout
    assert load_layout("narrow-stereo") is layout


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        (lambda d: d.pop("drivers"), "drivers"),
        (lambda d: d["drivers"][0].update(band_hz=[5000, 100]), "drivers[0].band_hz"),
        (lambda d: d["drivers"][1].update(position_m=[0, 1]), "drivers[1].position_m"),
        (lambda d: d["drivers"][0].update(axis=[0, 0, 0]), "drivers[0].axis"),
        (lambda d: d["listener"].update(distance_m=-1), "listener.distance_m"),
        (lambda d: d.update(sample_rate="48k"), "sample_rate"),
    ],
)
def test_invalid_layout_raises_config_error_naming_the_field(edit, field: str) -> None:  # type: ignore[no-untyped-def]
    raw = LAYOUTS["narrow-stereo"].to_dict()
    edit(raw)
    with pytest.raises(ConfigError, match=field.replace("[", r"\[").replace("]", r"\]")):
        load_layout(raw)


def test_unknown_preset_and_bad_json_raise_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no-such-device"):
        load_layout("no-such-device")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ConfigError, match="not valid JSON"):
        load_layout(bad)


# ---------------------------------------------------------------- physics


def test_linkwitz_riley_sections_are_3_db_down_at_the_corner_and_sum_to_an_all_pass() -> None:
    f = np.linspace(20.0, 20000.0, 1000)
    low = butterworth2_response(f, 2500.0, RATE_HZ, "lowpass")
    high = butterworth2_response(f, 2500.0, RATE_HZ, "highpass")
    corner = butterworth2_response(np.array([2500.0]), 2500.0, RATE_HZ, "lowpass")
    assert abs(corner[0]) == pytest.approx(1 / np.sqrt(2), rel=1e-9)
    assert np.allclose(np.abs(low**2 + high**2), 1.0, atol=1e-9)


def test_library_imports_and_designs_with_torch_and_homeassistant_blocked() -> None:
    code = (
        "import sys; sys.modules['torch'] = None; sys.modules['homeassistant'] = None\n"
        "from echo_sense_dsp.spatial import SpatialRenderer\n"
        "import echo_sense_dsp.spatial.commands\n"
        "print(SpatialRenderer('narrow-stereo').latency_samples)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(240 + round(MODELLING_DELAY_S * RATE_HZ))


def test_alignment_delays_equal_path_differences_over_c() -> None:
    layout = LAYOUTS["studio-array"]
    seat = np.asarray(layout.listener.position_m)
    dist = np.linalg.norm(layout.positions_m() - seat, axis=1)
    arrival = dist / SPEED_OF_SOUND_M_S + alignment_delays_s(layout)
    assert np.ptp(arrival) < DELAY_TOL_S


def test_sphere_is_transparent_at_low_frequency_and_delay_is_distance_over_c() -> None:
    source = np.array([[0.0, 0.0, 0.0]])
    pose = HeadPose((2.0, 0.0, 0.0))
    f = np.array([20.0])
    h = sphere_transfer(f, source, pose)[0, :, 0]
    free = np.exp(-2j * np.pi * 20.0 * 2.0 / SPEED_OF_SOUND_M_S) / 2.0
    assert np.all(np.abs(20 * np.log10(np.abs(h / free))) < SPHERE_LOW_FREQ_TOL_DB)


def test_sphere_interaural_delay_of_lateral_source_matches_kuhn_low_frequency_limit() -> None:
    # Kuhn (1977): at low frequency the ITD of a far lateral source is 3 a / c.
    pose = HeadPose((0.0, 0.0, 0.0))
    source = np.array([[0.0, 50.0, 0.0]])
    f = np.array([100.0])
    h = sphere_transfer(f, source, pose)[0, :, 0]
    itd = np.angle(h[0] / h[1]) / (2 * np.pi * 100.0)
    assert itd == pytest.approx(3 * HEAD_RADIUS_M / SPEED_OF_SOUND_M_S, rel=0.05)


def test_woodworth_itd_of_lateral_source_is_a_over_c_times_one_plus_half_pi() -> None:
    itd = float(woodworth_itd_s(np.pi / 2))
    assert itd == pytest.approx(HEAD_RADIUS_M / SPEED_OF_SOUND_M_S * (np.pi / 2 + 1), rel=1e-12)


def test_virtualiser_ipsilateral_is_all_pass_and_contralateral_lags_by_the_low_frequency_itd() -> None:
    f = np.linspace(20.0, 20000.0, 500)
    v = virtualiser_matrix(f)
    ipsi_phase_only = v[:, 0, 0] / np.abs(v[:, 0, 0])
    assert np.allclose(np.abs(ipsi_phase_only), 1.0, atol=ALLPASS_TOL_DB)
    assert np.allclose(np.abs(v[:, 0, 0]) ** 2 + np.abs(v[:, 0, 1]) ** 2, 2.0)
    assert np.all(np.abs(v[:, 0, 1]) <= np.abs(v[:, 0, 0]) + 1e-12)  # contra is a low-pass, never louder
    low = f < 300
    lag_s = -np.unwrap(np.angle(v[low, 0, 1] / v[low, 0, 0])) / (2 * np.pi * f[low])
    # Woodworth's delay plus the shadow filter's phase: toward Kuhn's low-frequency ITD 3 a/c sin(theta).
    kuhn_s = 3 * HEAD_RADIUS_M / SPEED_OF_SOUND_M_S * np.sin(np.deg2rad(30.0))
    assert float(woodworth_itd_s(np.deg2rad(30.0))) < np.median(lag_s) <= kuhn_s * 1.05


def test_two_drivers_on_y_have_the_plane_wave_null_at_kd_equal_pi_over_2() -> None:
    layout = LAYOUTS["narrow-stereo"]
    d = 0.05
    f_null = SPEED_OF_SOUND_M_S / (4 * d)  # k d = pi/2: opposite-phase arrival from +/-d along y
    far = far_field_transfer(layout, np.array([f_null]), horizontal_directions(np.array([np.pi / 2])))
    assert abs(far[0, 0].sum()) < 1e-9 * abs(far[0, 0, 0])


# ---------------------------------------------------------------- upmix


def test_centre_panned_source_lands_in_the_centre_channel(rng: np.random.Generator) -> None:
    x = (0.1 * rng.standard_normal(RATE_HZ)).astype(np.float32)
    up = CentreUpmixer(RATE_HZ, BLOCK)
    out = np.zeros((x.size, 3), np.float32)
    stereo = np.stack([x, x], axis=1)
    for k in range(0, x.size, BLOCK):
        up.process(stereo[k : k + BLOCK], out[k : k + BLOCK])
    lat = up.latency_samples
    tail = slice(x.size // 2, None)
    centre_db = 10 * np.log10(np.mean(out[tail, 2] ** 2) / np.mean(x[x.size // 2 - lat : x.size - lat] ** 2))
    sides_db = 10 * np.log10(np.mean(out[tail, :2] ** 2) / np.mean(x**2) + 1e-30)
    assert abs(centre_db) < CENTRE_TOL_DB
    assert sides_db < HARD_PAN_MAX_DB


def test_hard_panned_source_stays_out_of_the_centre(rng: np.random.Generator) -> None:
    x = (0.1 * rng.standard_normal(RATE_HZ)).astype(np.float32)
    up = CentreUpmixer(RATE_HZ, BLOCK)
    out = np.zeros((x.size, 3), np.float32)
    stereo = np.stack([x, np.zeros_like(x)], axis=1)
    for k in range(0, x.size, BLOCK):
        up.process(stereo[k : k + BLOCK], out[k : k + BLOCK])
    tail = slice(x.size // 2, None)
    assert 10 * np.log10(np.mean(out[tail, 2] ** 2) / np.mean(x**2)) < HARD_PAN_MAX_DB
    assert 10 * np.log10(np.mean(out[tail, 0] ** 2) / np.mean(x**2)) > -CENTRE_TOL_DB


def test_centre_vocal_is_extracted_from_under_a_hard_panned_guitar(rng: np.random.Generator) -> None:
    vocal = (0.1 * rng.standard_normal(RATE_HZ)).astype(np.float32)
    guitar = (0.1 * rng.standard_normal(RATE_HZ)).astype(np.float32)
    up = CentreUpmixer(RATE_HZ, BLOCK)
    out = np.zeros((vocal.size, 3), np.float32)
    stereo = np.stack([vocal + guitar, vocal], axis=1)
    for k in range(0, vocal.size, BLOCK):
        up.process(stereo[k : k + BLOCK], out[k : k + BLOCK])
    lat = up.latency_samples
    half = vocal.size // 2
    centre = out[half + lat :, 2]
    v = vocal[half : vocal.size - lat]
    g = guitar[half : vocal.size - lat]
    assert float(np.dot(centre, v) / np.dot(v, v)) == pytest.approx(1.0, abs=0.1)  # vocal in the centre
    assert abs(float(np.dot(centre, g) / np.dot(g, g))) < 0.1  # guitar is not


def test_upmix_reconstructs_left_and_right_exactly(rng: np.random.Generator) -> None:
    stereo = (0.1 * rng.standard_normal((RATE_HZ // 2, 2))).astype(np.float32)
    up = CentreUpmixer(RATE_HZ, BLOCK)
    out = np.zeros((stereo.shape[0], 3), np.float32)
    for k in range(0, stereo.shape[0], BLOCK):
        up.process(stereo[k : k + BLOCK], out[k : k + BLOCK])
    lat = up.latency_samples
    rebuilt = out[lat:, :2] + out[lat:, 2:3]
    assert np.allclose(rebuilt[BLOCK:], stereo[: -lat or None][BLOCK:], atol=CONV_TOL)


# ---------------------------------------------------------------- filters and streaming


@pytest.mark.parametrize("name", sorted(LAYOUTS))
@pytest.mark.parametrize(
    ("mode", "sweet_spot"), [("stereo", DEFAULT_SWEET_SPOT)] + [("spatial", name) for name in SWEET_SPOTS]
)
def test_filters_are_finite_and_decay_for_every_preset(name: str, mode: str, sweet_spot: str) -> None:
    filters = design_filters(LAYOUTS[name], mode, None, sweet_spot)
    h = filters.impulse_responses
    assert np.all(np.isfinite(h))
    assert h.shape[2] == LAYOUTS[name].n_drivers
    spectrum = np.abs(np.fft.rfft(h.astype(np.float64), axis=0))  # (F, inputs, drivers)
    # Bounded drive: the canceller's effort plateau (plus the tonal match's make-up gain) and the beam's.
    profile = SWEET_SPOTS[sweet_spot]
    floor_db = FLOOR_EXTRA_GAIN_DB if profile.floor_lateral_m else 0.0
    assert np.max(spectrum[:, :2]) < 10 ** ((profile.max_gain_db + floor_db + TONAL_MAKE_UP_DB) / 20)
    assert np.max(spectrum[:, 2:], initial=0.0) < 10 ** ((BEAM_MAX_GAIN_DB + FIR_RIPPLE_DB) / 20)
    assert np.sum(h[-h.shape[0] // 8 :] ** 2) < 1e-3 * np.sum(h**2)  # tail decayed: stable, truncation harmless


def test_acoustic_contrast_puts_a_null_at_the_dark_ear_within_the_effort_limit() -> None:
    # Two drivers, one control point, a well-conditioned plant: the exact null-steering solution fits.
    bright = np.array([[[1.0, 0.5]]], dtype=np.complex128)  # (P, F, N)
    dark = np.array([[[0.5, 1.0]]], dtype=np.complex128)
    h = acoustic_contrast(bright, dark, np.ones(1), np.ones(1), np.ones((1, 2)), np.array([20.0]))
    assert abs(np.sum(bright[0, 0] * h[0]) - 1.0) < 1e-9  # unit response at the bright ear
    assert abs(np.sum(dark[0, 0] * h[0])) < 1e-3  # and (almost) none at the dark one
    capped = acoustic_contrast(bright, dark, np.ones(1), np.ones(1), np.ones((1, 2)), np.array([0.0]))
    assert np.max(np.abs(capped)) <= 1.0 + 1e-9  # the effort limit holds even where it costs the null


def test_acoustic_contrast_floor_restores_the_order_at_a_point_the_null_reversed() -> None:
    # Three drivers: one null at the seat's dark ear leaves freedom for a floor point elsewhere.
    bright = np.array([[[1.0, 0.5, 0.2]]], dtype=np.complex128)  # (P, F, N)
    dark = np.array([[[0.5, 1.0, 0.2]]], dtype=np.complex128)
    floor_bright = np.array([[[0.3, 1.0, 0.5]]], dtype=np.complex128)  # (Q, F, N)
    floor_dark = np.array([[[1.0, 0.2, 0.4j]]], dtype=np.complex128)
    args = (bright, dark, np.ones(1), np.ones(1), np.ones((1, 3)), np.array([20.0]))

    def order_db(h: np.ndarray) -> float:
        return float(20 * np.log10(abs(np.sum(floor_bright[0, 0] * h[0])) / abs(np.sum(floor_dark[0, 0] * h[0]))))

    free = acoustic_contrast(*args)
    held = acoustic_contrast(*args, floor=(floor_bright, floor_dark, np.array([3.0])))
    assert order_db(free) < 0.0  # without the floor the null reverses the order at that point
    assert order_db(held) >= 3.0 - 1e-3
    assert abs(np.sum(bright[0, 0] * held[0]) - 1.0) < 1e-9  # still unit at the bright ear
    assert abs(np.sum(dark[0, 0] * held[0])) < 1e-3  # and still a null at the dark one
    assert np.max(np.abs(held)) <= 10.0


def test_partitioned_convolution_equals_direct_convolution(rng: np.random.Generator) -> None:
    h = rng.standard_normal((1000, 2, 3)).astype(np.float32) * 0.05
    x = rng.standard_normal((BLOCK * 6, 2)).astype(np.float32) * 0.1
    conv = PartitionedConvolver(h, BLOCK)
    out = np.zeros((x.shape[0], 3), np.float32)
    for k in range(0, x.shape[0], BLOCK):
        conv.process(x[k : k + BLOCK], out[k : k + BLOCK])
    direct = np.stack([sum(np.convolve(x[:, i], h[:, i, o])[: x.shape[0]] for i in range(2)) for o in range(3)], axis=1)
    assert np.max(np.abs(out - direct)) < CONV_TOL


@pytest.mark.parametrize("mode", ["stereo", "spatial"])
def test_offline_render_equals_streaming_and_latency_is_within_20_ms(mode: str, rng: np.random.Generator) -> None:
    x = (0.1 * rng.standard_normal((BLOCK * 8, 2))).astype(np.float32)
    renderer = SpatialRenderer("studio-array", mode, RATE_HZ, BLOCK)
    streamed = _stream(renderer, x)
    assert streamed.shape == (x.shape[0], 5) and streamed.dtype == np.float32
    assert np.array_equal(render(x, "studio-array", mode), streamed)
    assert renderer.latency_s <= LATENCY_LIMIT_S


def test_stereo_mode_impulse_peaks_at_the_alignment_delay() -> None:
    layout = LAYOUTS["narrow-stereo"]
    x = np.zeros((BLOCK * 4, 2), np.float32)
    x[100, 0] = 1.0
    y = render(x, layout, "stereo")
    # Symmetric layout: no alignment delay; the 20 kHz Linkwitz-Riley low-pass may shift the peak by a sample.
    assert 100 <= int(np.argmax(np.abs(y[:, 0]))) <= 100 + BAND_SPLIT_PEAK_SHIFT
    assert np.max(np.abs(y[:, 1])) < 1e-6  # right driver silent for a left-only input


def test_spatial_latency_is_reported_exactly_by_an_impulse_in_the_centre() -> None:
    layout = LAYOUTS["studio-array"]
    renderer = SpatialRenderer(layout, "spatial", RATE_HZ, BLOCK)
    x = np.zeros((BLOCK * 8, 2), np.float32)
    x[1000:1001] = 1.0
    y = render(x, layout, "spatial", compensate_latency=True)
    peak = int(np.argmax(np.sum(y**2, axis=1)))
    # The centre keeps plain playback's phase: per-driver alignment delays and the band split.
    alignment = float(np.max(alignment_delays_s(layout))) * RATE_HZ
    assert 0 <= peak - 1000 <= alignment + BAND_SPLIT_PEAK_SHIFT + 2
    assert renderer.latency_samples == 240 + round(MODELLING_DELAY_S * RATE_HZ)


def test_process_rejects_a_wrong_block_shape() -> None:
    renderer = SpatialRenderer("narrow-stereo", "stereo", RATE_HZ, BLOCK)
    with pytest.raises(AudioFormatError, match="480"):
        renderer.process(np.zeros((256, 2), np.float32))
    with pytest.raises(ConfigError, match="mode"):
        SpatialRenderer("narrow-stereo", "surround")
    with pytest.raises(ConfigError, match="sweet spot"):
        SpatialRenderer("narrow-stereo", "spatial", sweet_spot="everywhere")


def _separation_db(sweet_spot: str, lateral_m: float) -> float:
    """Mean L/R-channel separation of the shipped canceller on the exact sphere, 250 Hz-4 kHz, dB."""
    layout = LAYOUTS["studio-array"]
    filters = design_filters(layout, "spatial", RATE_HZ, sweet_spot)
    n_fft = 4096
    f = np.fft.rfftfreq(n_fft, 1 / RATE_HZ)
    band = (f >= 250 / np.sqrt(2)) & (f < 4000 * np.sqrt(2))
    spec = np.fft.rfft(filters.impulse_responses.astype(np.float64), n=n_fft, axis=0)[band]
    sides = np.swapaxes(spec, 1, 2)[:, :, :2] @ np.linalg.inv(virtualiser_matrix(f[band]))
    x, y, z = layout.listener.position_m
    ears = driver_to_ear_transfer(layout, f[band], HeadPose((x, y + lateral_m, z)), "sphere") @ sides
    left = np.sum(np.abs(ears[:, 0, 0]) ** 2) / np.sum(np.abs(ears[:, 1, 0]) ** 2)
    right = np.sum(np.abs(ears[:, 1, 1]) ** 2) / np.sum(np.abs(ears[:, 0, 1]) ** 2)
    return float(5 * np.log10(left * right))


def test_crosstalk_canceller_separates_ears_at_the_seat_on_the_exact_sphere() -> None:
    assert _separation_db("seat", 0.0) > SEPARATION_AT_SEAT_MIN_DB
    assert _separation_db(DEFAULT_SWEET_SPOT, 0.0) > SEPARATION_AT_SEAT_MIN_DB


@pytest.mark.parametrize("lateral_m", [0.1, -0.1])
def test_default_profile_keeps_separation_10_cm_off_centre_where_the_seat_profile_loses_it(lateral_m: float) -> None:
    assert _separation_db(DEFAULT_SWEET_SPOT, lateral_m) > SEPARATION_OFF_CENTRE_MIN_DB
    assert _separation_db(DEFAULT_SWEET_SPOT, lateral_m) > _separation_db("seat", lateral_m)


@pytest.mark.parametrize("lateral_m", [0.3, -0.3])
def test_room_sweet_spot_never_makes_crosstalk_worse_than_stereo_30_cm_off_centre(lateral_m: float) -> None:
    assert _separation_db("room", lateral_m) > 0.0
    assert _separation_db("room", 0.0) > 0.0


def _octave_separation_db(sweet_spot: str, lateral_m: float) -> float:
    """The benchmark's measure: per octave 250 Hz-4 kHz, mean of both channels' separation (dB), averaged."""
    layout = LAYOUTS["studio-array"]
    filters = design_filters(layout, "spatial", RATE_HZ, sweet_spot)
    n_fft = 8192
    f = np.fft.rfftfreq(n_fft, 1 / RATE_HZ)[1:]
    spec = np.fft.rfft(filters.impulse_responses.astype(np.float64), n=n_fft, axis=0)[1:]
    sides = np.swapaxes(spec, 1, 2)[:, :, :2] @ np.linalg.inv(virtualiser_matrix(f))
    x, y, z = layout.listener.position_m
    ears = driver_to_ear_transfer(layout, f, HeadPose((x, y + lateral_m, z)), "sphere") @ sides
    out = []
    for centre in (250, 500, 1000, 2000, 4000):
        band = (f >= centre / np.sqrt(2)) & (f < centre * np.sqrt(2))
        left = np.sum(np.abs(ears[band, 0, 0]) ** 2) / np.sum(np.abs(ears[band, 1, 0]) ** 2)
        right = np.sum(np.abs(ears[band, 1, 1]) ** 2) / np.sum(np.abs(ears[band, 0, 1]) ** 2)
        out.append(5 * np.log10(left * right))
    return float(np.mean(out))


@pytest.mark.parametrize("lateral_m", [0.3, -0.3])
def test_default_profile_is_never_worse_than_no_separation_30_cm_off_centre(lateral_m: float) -> None:
    # The separation floor of the default profile; without it the seat profile reverses there.
    assert _octave_separation_db(DEFAULT_SWEET_SPOT, lateral_m) >= 0.0
    assert _octave_separation_db("seat", lateral_m) < 0.0


def test_default_floor_holds_per_channel_in_the_designers_model_where_the_array_reaches() -> None:
    layout = LAYOUTS["studio-array"]
    profile = SWEET_SPOTS[DEFAULT_SWEET_SPOT]
    f = np.fft.rfftfreq(DESIGN_FFT_SIZE, 1 / RATE_HZ)[1:]
    canceller = crosstalk_canceller(layout, f, RATE_HZ)
    band = (f >= 1000) & (f <= 2500)  # where the floor is +5 dB and the array has the freedom for it
    x, y, z = layout.listener.position_m
    for lateral_m in profile.floor_lateral_m:
        ears = driver_to_ear_transfer(layout, f[band], HeadPose((x, y + lateral_m, z))) @ canceller[band]
        for channel in (0, 1):
            own = np.abs(ears[:, channel, channel]) ** 2
            other = np.abs(ears[:, 1 - channel, channel]) ** 2
            held = 10 * np.log10(own / other) >= profile.floor_curve_db(f[band]) - 0.1
            assert np.mean(held) > 0.9


def test_process_does_not_grow_memory_after_warm_up(rng: np.random.Generator) -> None:
    renderer = SpatialRenderer("studio-array", "spatial", RATE_HZ, BLOCK)
    block = (0.1 * rng.standard_normal((BLOCK, 2))).astype(np.float32)
    for _ in range(20):
        renderer.process(block)
    tracemalloc.start()
    try:
        for _ in range(20):
            renderer.process(block)
        warm_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.reset_peak()
        for _ in range(500):
            renderer.process(block)
        current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak <= warm_peak + ALLOCATION_GROWTH_BYTES
    assert current <= ALLOCATION_GROWTH_BYTES


@pytest.mark.parametrize("centre_hz", BEAM_BANDS_HZ)
def test_centre_beam_rejects_the_side_walls_and_keeps_a_wide_main_lobe(centre_hz: float) -> None:
    layout = LAYOUTS["studio-array"]
    filters = design_filters(layout, "spatial")
    f = np.fft.rfftfreq(4096, 1 / RATE_HZ)
    w = np.fft.rfft(filters.impulse_responses[:, 2, :].astype(np.float64), n=4096, axis=0)
    elevation = float(np.arctan2(layout.listener.height_m, layout.listener.distance_m))
    azimuths = np.deg2rad([0.0, 90.0, -90.0, 15.0, -15.0, 30.0, -30.0, 45.0, -45.0])
    far = far_field_transfer(layout, f, horizontal_directions(azimuths, elevation))
    power = np.abs(np.einsum("ftn,fn->ft", far, w)) ** 2
    band = (f >= centre_hz / np.sqrt(2)) & (f < centre_hz * np.sqrt(2))
    p = power[band].sum(axis=0)
    assert 10 * np.log10(p[0] / max(p[1], p[2])) > BEAM_REJECTION_MIN_DB
    assert 10 * np.log10(p[0] / np.min(p[3:])) < BEAM_LOBE_MAX_DROP_DB


# ---------------------------------------------------------------- CLI


def test_cli_spatialize_writes_one_channel_per_driver_at_the_input_rate(
    tmp_path: Path, rng: np.random.Generator
) -> None:
    src = tmp_path / "in.wav"
    dst = tmp_path / "out.wav"
    write_wav(src, (0.1 * rng.standard_normal((44100 // 2, 2))).astype(np.float32), 44100)
    assert cli_main(["spatialize", str(src), str(dst), "--layout", "studio-array", "--mode", "spatial"]) == 0
    out = read_wav(dst)
    assert out.sample_rate == 44100
    assert out.samples.shape == (44100 // 2, 5)
    assert np.all(np.isfinite(out.samples))


def test_cli_reports_a_bad_layout_with_exit_code_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "in.wav"
    write_wav(src, np.zeros((4800, 2), np.float32), 48000)
    assert cli_main(["spatialize", str(src), str(tmp_path / "o.wav"), "--layout", "nope"]) == 2
    assert "nope" in capsys.readouterr().err
