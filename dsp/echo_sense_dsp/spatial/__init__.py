"""Spatial audio renderer: a stereo stream to the drivers of a compact device.

Contents
--------
==========================  ============================================================
``layout``                  Device layouts (JSON schema in ARCHITECTURE.md), presets in
                            :data:`LAYOUTS` (``narrow-stereo``, ``studio-array``,
                            ``soundbar-4``), :func:`load_layout`.
``head``                    Head models :data:`HEAD_MODELS`: Brown & Duda shadow +
                            Woodworth ITD [1]_ [2]_ (design), rigid sphere [3]_ (evaluation).
``acoustics``               Driver directivity, driver-to-ear, free- and far-field responses.
``upmix``                   L/R -> L', R', C: the centre is the part of mid least correlated
                            with side, per ERB band [4]_ [5]_.
``design``                  Band split (Linkwitz-Riley), delay alignment, virtualiser at
                            +/-30 degrees, multi-point acoustic-contrast crosstalk canceller
                            with an effort limit [6]_ [7]_ [10]_, minimax centre beamformer
                            [8]_, textbook CTC.
``convolution``             Uniformly partitioned FFT convolution [9]_.
``renderer``                :class:`SpatialRenderer` (streaming), :func:`render` (offline).
``commands``                ``echo-sense spatialize IN.wav OUT.wav --layout L --mode M
                            [--sweet-spot zone|seat|wide|room]``.
==========================  ============================================================

Modes (:data:`MODES`): ``"stereo"`` (plain, band-split and delay-aligned) and ``"spatial"``.
Sweet-spot profiles of the canceller (:data:`SWEET_SPOTS`): ``"zone"`` (default),
``"seat"``, ``"wide"``, ``"room"``.
Blocks are ``(frames, channels)`` float32; outputs have one channel per driver in the
layout's order.

A compact array at a few metres makes a sound field that varies almost linearly across
the head, so a canceller's null at one ear cannot be both deep and wide. Each profile
designs one filter for a set of head poses at once: ``"zone"`` the seat, +/-5 and
+/-10 cm, +/-30 cm (lightly), +/-15 degree turns and +/-50 cm depth, and holds a
separation floor 30 cm to each side as a hard constraint (per frequency, where the array
has the freedom and the effort for it); ``"seat"`` the listening position only; ``"wide"``
a zone 20 cm to each side; ``"room"`` a mild canceller that stays near plain stereo 30 cm
to each side (``benchmarks/bench_spatial.py``).

References
----------
.. [1] C. P. Brown and R. O. Duda, "A structural model for binaural sound synthesis,"
   IEEE Trans. Speech Audio Process. 6(5), 476-488, 1998.
.. [2] R. S. Woodworth and H. Schlosberg, Experimental Psychology, Holt, 1954.
.. [3] R. O. Duda and W. L. Martens, "Range dependence of the response of a spherical head
   model," J. Acoust. Soc. Am. 104(5), 3048-3058, 1998.
.. [4] C. Avendano and J.-M. Jot, "A frequency-domain approach to multichannel upmix,"
   J. Audio Eng. Soc. 52(7/8), 740-749, 2004.
.. [5] C. Faller, "Multiple-loudspeaker playback of stereo signals," J. Audio Eng. Soc.
   54(11), 1051-1064, 2006.
.. [6] O. Kirkeby, P. A. Nelson, H. Hamada and F. Orduna-Bustamante, "Fast deconvolution of
   multichannel systems using regularization," IEEE Trans. Speech Audio Process. 6(2), 1998.
.. [7] T. Takeuchi and P. A. Nelson, "Optimal source distribution for binaural synthesis
   over loudspeakers," J. Acoust. Soc. Am. 112(6), 2786-2797, 2002.
.. [8] H. L. Van Trees, Optimum Array Processing, Wiley, 2002, ch. 3 and 6.
.. [9] F. Wefers, Partitioned convolution algorithms for real-time auralization, PhD thesis,
   RWTH Aachen, 2014.
.. [10] J.-W. Choi and Y.-H. Kim, "Generation of an acoustically bright zone with an
   illuminated region using multiple sources," J. Acoust. Soc. Am. 111(4), 1695-1700, 2002.
"""

from .acoustics import driver_to_ear_transfer, far_field_transfer, point_transfer
from .convolution import PartitionedConvolver
from .design import (
    DEFAULT_SWEET_SPOT,
    MODES,
    SWEET_SPOTS,
    ControlPoint,
    RenderFilters,
    SweetSpot,
    acoustic_contrast,
    centre_beamformer,
    crosstalk_canceller,
    design_filters,
    textbook_crosstalk_canceller,
    virtualiser_matrix,
)
from .head import HEAD_MODELS, HeadPose
from .layout import LAYOUTS, DeviceLayout, Driver, Listener, load_layout, parse_layout
from .renderer import DEFAULT_BLOCK_SIZE, SpatialRenderer, render
from .upmix import CentreUpmixer

__all__ = [
    "DEFAULT_BLOCK_SIZE",
    "DEFAULT_SWEET_SPOT",
    "HEAD_MODELS",
    "LAYOUTS",
    "MODES",
    "SWEET_SPOTS",
    "CentreUpmixer",
    "ControlPoint",
    "DeviceLayout",
    "Driver",
    "HeadPose",
    "Listener",
    "PartitionedConvolver",
    "RenderFilters",
    "SpatialRenderer",
    "SweetSpot",
    "acoustic_contrast",
    "centre_beamformer",
    "crosstalk_canceller",
    "design_filters",
    "driver_to_ear_transfer",
    "far_field_transfer",
    "load_layout",
    "parse_layout",
    "point_transfer",
    "render",
    "textbook_crosstalk_canceller",
    "virtualiser_matrix",
]
