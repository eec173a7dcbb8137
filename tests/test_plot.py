"""The Pillow chart primitives behind the calibration image and the README's figures."""

from __future__ import annotations

import numpy as np

from custom_components.echo_sense.plot import Figure, nice_ticks, polar


def test_nice_ticks_are_round_and_cover_the_range() -> None:
    ticks = [value for value, _ in nice_ticks(32.0, 46.0)]
    steps = np.diff(ticks)
    assert np.allclose(steps, steps[0]) and steps[0] in (1.0, 2.0, 5.0)
    assert ticks[0] >= 32.0 and ticks[-1] <= 46.0 and ticks[-1] - ticks[0] >= 46.0 - 32.0 - steps[0]


def test_axes_map_data_corners_to_the_box_linear_and_log() -> None:
    fig = Figure(400, 300)
    box = (50, 20, 380, 260)
    linear = fig.axes(box, (0.0, 10.0), (-5.0, 5.0))
    u, v = linear.px([0.0, 10.0], [-5.0, 5.0])
    assert np.allclose(u, [50, 380]) and np.allclose(v, [260, 20])
    log = fig.axes(box, (100.0, 10000.0), (0.0, 1.0), x_log=True)
    u, _ = log.px([1000.0], [0.0])  # one decade of two: half way
    assert np.isclose(u[0], (50 + 380) / 2)
    assert fig.rgb().shape == (300, 400, 3)


def test_a_drawn_line_changes_pixels_only_inside_the_axes() -> None:
    fig = Figure(200, 100)
    ax = fig.axes((20, 10, 190, 90), (0.0, 1.0), (0.0, 1.0), x_ticks=[], y_ticks=[], grid=False)
    before = fig.rgb()
    ax.line([0.1, 0.9], [0.5, 0.5], (255, 0, 0), dashed=True)
    changed = np.any(fig.rgb() != before, axis=2)
    rows, cols = np.nonzero(changed)
    assert changed.any() and rows.min() >= 10 and rows.max() <= 90 and cols.min() >= 20 and cols.max() <= 190
    assert changed[48:53, 40:170].any(axis=0).mean() < 0.8  # dashed: gaps along the line


def test_polar_axes_put_levels_at_their_radius() -> None:
    fig = Figure(400, 400)
    centre, radius = (200, 200), 150
    draw = polar(fig, centre, radius, -30.0, "pattern")
    before = fig.rgb()
    azimuth = np.linspace(0.0, 2 * np.pi, 361)
    draw(azimuth, np.full(azimuth.size, -10.0), (255, 0, 0))  # -10 dB of a -30 dB floor: 2/3 of the radius
    red = np.all(fig.rgb() == (255, 0, 0), axis=2) & np.any(fig.rgb() != before, axis=2)
    rows, cols = np.nonzero(red)
    distance = np.hypot(rows - centre[1], cols - centre[0])
    assert red.sum() > 100 and np.all(np.abs(distance - radius * 2 / 3) < 3)


def test_cross_markers_and_images_stay_in_the_axes() -> None:
    fig = Figure(200, 100)
    ax = fig.axes((20, 10, 190, 90), (0.0, 1.0), (0.0, 1.0), x_ticks=[], y_ticks=[], grid=False)
    before = fig.rgb()
    ax.marker([0.5], [0.5], (0, 0, 255), 6.0, cross=True)
    blue = np.all(fig.rgb() == (0, 0, 255), axis=2) & np.any(fig.rgb() != before, axis=2)
    rows, cols = np.nonzero(blue)
    assert abs(rows.mean() - 50) < 2 and abs(cols.mean() - 105) < 2
    centre_row, centre_col = round(rows.mean()), round(cols.mean())
    assert blue[centre_row, centre_col]  # a cross passes through its centre, a ring does not
    ax.image(np.full((4, 8, 3), (0, 200, 0), dtype=np.uint8))
    green = np.all(fig.rgb() == (0, 200, 0), axis=2)
    rows, cols = np.nonzero(green)
    assert rows.min() >= 10 and rows.max() <= 90 and cols.min() >= 20 and cols.max() <= 190
    assert green[20:80, 30:180].all()
