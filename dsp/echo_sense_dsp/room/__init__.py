"""Room simulator: the space around the device, as physics (issue 3, part B).

The demo's default hardware, the tests' hardware and the presence model's data source.

Contents
--------
===========================  ==================================================================
:mod:`.scenario`             JSON scenario schema, validation (:func:`load_scenario`), presets
                             (:data:`SCENARIOS`)
:mod:`.geometry`             mic array, shoebox image sources [1]_, static impulse responses
                             with ISO 9613-1 air absorption per path [2]_
:mod:`.motion`               moving point reflectors: walking/seated people with gait and
                             gesture micro-Doppler [3]_, fans, curtains, bare points
:mod:`.engine`               :class:`RoomEngine` (driver nonlinearity, static paths, moving
                             paths with fractional delay, audible sources, mic model),
                             :func:`render_scenario` (offline), :class:`LiveRoom` (streaming)
:mod:`.labels`               per-10 ms ground truth (:class:`Labels`)
:mod:`.baseband`             :class:`~.baseband.BasebandRoom`: a steady probe's capture as its
                             12 kHz complex envelope (hours-long empty-room runs)
:mod:`.generator`            :func:`random_scenario` for training data (:data:`SCENARIO_KINDS`)
:mod:`.signals`              audio files, synthetic speech, music and noise
:mod:`.commands`             ``echo-sense simulate SCENARIO OUT_DIR``
===========================  ==================================================================

References
----------
.. [1] J. B. Allen, D. A. Berkley, "Image method for efficiently simulating small-room
   acoustics", J. Acoust. Soc. Am. 65(4), 943-950, 1979.
.. [2] ISO 9613-1:1993, Acoustics - Attenuation of sound during propagation outdoors -
   Part 1: Calculation of the absorption of sound by the atmosphere.
.. [3] V. C. Chen, *The Micro-Doppler Effect in Radar*, Artech House, 2011.
"""

from .engine import LiveRoom, Rendering, RoomEngine, render_scenario, scenario_drive
from .generator import SCENARIO_KINDS, random_scenario
from .labels import LABEL_HOP_S, MOTION_KINDS, Labels, scenario_labels
from .scenario import SCENARIOS, Scenario, load_scenario, validate_scenario

__all__ = [
    "LABEL_HOP_S",
    "MOTION_KINDS",
    "SCENARIOS",
    "SCENARIO_KINDS",
    "Labels",
    "LiveRoom",
    "Rendering",
    "RoomEngine",
    "Scenario",
    "load_scenario",
    "random_scenario",
    "render_scenario",
    "scenario_drive",
    "scenario_labels",
    "validate_scenario",
]
