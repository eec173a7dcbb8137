"""Occupancy from motion scores: strict until a major movement, then sensitive; duty cycle.

The tracker's two regimes follow how people occupy rooms: walking in is a large, fast
Doppler signature (major motion) that is easy to tell from fans and curtains, while a
seated person only makes small, sparse movements (minor motion: reaching, page turns,
typing). While the room is empty the tracker is strict: only major motion (P(major) above a
high threshold for several consecutive frames, with the Doppler echo on one side of zero
velocity) declares occupancy, so curtains, fans and other small movers cannot. After a major
movement it accepts minor motion at a low threshold, and every accepted movement restarts
the hold timer; occupancy clears when no motion has been seen for ``hold_time_s`` while the
probe was sensing.

:class:`DutyCycle` pauses the probe periodically once presence is confirmed (the tracker
holds occupancy through the pauses), and keeps it on whenever the room is empty or the
hold timer is close to expiring.
"""

from __future__ import annotations

import math
import statistics
from collections import deque
from dataclasses import dataclass

MOTION_KINDS = ("none", "minor", "major")


@dataclass(frozen=True)
class TrackerSettings:
    """User-facing tracker settings.

    Attributes
    ----------
    sensitivity : 0..1 (0.5 default); higher accepts weaker evidence in both regimes.
    hold_time_s : seconds without motion before occupancy clears.
    trigger_frames : consecutive frames above the strict threshold that declare occupancy.
    min_asymmetry_db : while the room is empty a frame counts towards the trigger only if its
        Doppler echo is this lopsided between receding and approaching velocities
        (:func:`~echo_sense_dsp.presence.features.radial_asymmetry_db`): someone walking moves
        one way at a time, while fans, curtains and air turbulence move both ways at once and
        caused the empty-room false alarms (models/presence/CARD.md, session 4). 0 turns it off.
        Not applied frame by frame while music plays: the canceller's residue adds echo on both
        sides, which hid walk-ins (2 of 12 in the benchmark); see ``min_music_asymmetry_db``.
    min_music_asymmetry_db : while music plays, the median asymmetry over the music trigger's
        frames must reach this: loud music's residue alone held P(major) up for 0.4 s in empty
        rooms (median asymmetry about 2 dB), while a walker's echo stays lopsided over such a
        window even when single frames are not (models/presence/CARD.md, session 5). 0 turns it off.
    min_music_echo_snr_db : while music plays, the median over the music trigger's frames of the
        strongest Doppler bands' SNR above the noise floor
        (:func:`~echo_sense_dsp.presence.features.peak_band_snr_db`) must reach this. Under very
        loud music both classifiers can call major motion for many frames in which no band holds
        any echo above the floor; a walker's echo stands above the residue
        (models/presence/CARD.md, session 6). 0 turns it off. Both music checks were raised
        (3 -> 4 and 3 -> 5 dB) once the faster canceller left less residue: a walker's echo at
        -6 dBFS music clears them with 1 dB to spare, a curtain's did not (CARD.md, session 10).
    music_trigger_frames : the same while music plays through the probe's speaker. When the
        music's distortion changes (a new note, a beat), the canceller's fit still describes the
        old one until newer data outweighs it (memory half-life ln 0.5 / ln
        :data:`~echo_sense_dsp.presence.music.FORGETTING_PER_HOP` = 7 hops), and its residue can
        look like motion meanwhile. 20 hops (0.4 s) was picked on the benchmark suite when that
        half-life was 23 hops: 10 raised a false alarm under loud music, 23 lost walk-ins whose
        Doppler drops out now and then (see models/presence/CARD.md).
    """

    sensitivity: float = 0.5
    hold_time_s: float = 60.0
    trigger_frames: int = 3
    music_trigger_frames: int = 20
    min_asymmetry_db: float = 1.5
    min_music_asymmetry_db: float = 4.0
    min_music_echo_snr_db: float = 5.0

    @property
    def strict_threshold(self) -> float:
        """P(major) needed while the room is empty (0.9 at sensitivity 0, 0.5 at 1)."""
        return 0.9 - 0.4 * self.sensitivity

    @property
    def sensitive_threshold(self) -> float:
        """Motion probability that keeps an occupied room occupied (0.45 at 0, 0.05 at 1)."""
        return 0.45 - 0.4 * self.sensitivity


class OccupancyTracker:
    """Frame-by-frame occupancy state machine.

    Parameters
    ----------
    settings : thresholds and hold time.
    """

    def __init__(self, settings: TrackerSettings) -> None:
        self.settings = settings
        self.occupied = False
        self.motion_kind = "none"
        self._above = 0
        window = max(settings.trigger_frames, settings.music_trigger_frames)
        self._asymmetries: deque[float] = deque(maxlen=window)
        self._echo_snrs: deque[float] = deque(maxlen=window)
        self._last_motion_t = -1e9
        self._sensing_since_t = 0.0
        self._was_sensing = False

    def time_to_clear_s(self, t: float) -> float:
        """Seconds until the hold timer would expire (0 when not occupied)."""
        if not self.occupied:
            return 0.0
        return max(0.0, self._last_motion_t + self.settings.hold_time_s - t)

    def update(
        self,
        t: float,
        p_minor: float,
        p_major: float,
        *,
        sensing: bool,
        music: bool = False,
        asymmetry_db: float = math.inf,
        echo_snr_db: float = math.inf,
    ) -> bool:
        """Advance by one frame.

        Parameters
        ----------
        t : frame time, s.
        p_minor, p_major : the classifier's probabilities of minor and major motion.
        sensing : False while the probe is paused or the front end settles; then nothing
            changes except that the hold timer keeps running.
        music : the drive carries music (stricter trigger while the room is empty).
        asymmetry_db : the frame's radial asymmetry (see ``min_asymmetry_db``); the default
            (unknown) never holds the trigger back.
        echo_snr_db : the frame's peak band SNR (see ``min_music_echo_snr_db``); the default
            (unknown) never holds the trigger back.

        Returns
        -------
        bool : occupied after this frame.
        """
        s = self.settings
        if not sensing:
            self._was_sensing = False
            self.motion_kind = "none"
            return self.occupied
        if not self._was_sensing:
            self._sensing_since_t = t
            self._was_sensing = True
        p_motion = p_minor + p_major
        if self.occupied:  # sensitive: any motion, minor included, keeps the room occupied
            moving = p_motion >= s.sensitive_threshold
            self.motion_kind = ("major" if p_major >= p_minor else "minor") if moving else "none"
            if moving:
                self._last_motion_t = t
            elif t - self._last_motion_t >= s.hold_time_s and t - self._sensing_since_t >= 0.5:
                self.occupied = False
                self._above = 0
        else:  # strict: only major motion (someone walking) makes the room occupied
            one_sided = music or asymmetry_db >= s.min_asymmetry_db
            moving = p_major >= s.strict_threshold and one_sided
            self.motion_kind = "major" if moving else "none"
            self._above = self._above + 1 if moving else 0
            self._asymmetries.append(asymmetry_db)
            self._echo_snrs.append(echo_snr_db)
            frames = s.music_trigger_frames if music else s.trigger_frames
            if self._above >= frames and (not music or self._music_window_agrees(frames)):
                self.occupied = True
                self._last_motion_t = t
        return self.occupied

    def _music_window_agrees(self, frames: int) -> bool:
        """The music trigger's window as a whole: a lopsided echo that stands above the floor."""
        s = self.settings
        asymmetry = statistics.median(list(self._asymmetries)[-frames:])
        echo_snr = statistics.median(list(self._echo_snrs)[-frames:])
        return asymmetry >= s.min_music_asymmetry_db and echo_snr >= s.min_music_echo_snr_db


@dataclass(frozen=True)
class DutyCycleSettings:
    """Probe pausing during sustained presence.

    Attributes
    ----------
    enabled : False keeps the probe on all the time.
    confirm_s : occupancy must have lasted this long before the first pause.
    on_s, off_s : emission on / paused periods once confirmed (duty = on / (on + off)).
    """

    enabled: bool = True
    confirm_s: float = 3.0
    on_s: float = 1.0
    off_s: float = 1.5


class DutyCycle:
    """Decides, frame by frame, whether the probe should be paused."""

    def __init__(self, settings: DutyCycleSettings) -> None:
        self.settings = settings
        self.paused = False
        self._occupied_since: float | None = None
        self._phase_start = 0.0

    def update(self, t: float, occupied: bool, time_to_clear_s: float) -> bool:
        """Returns True when the probe should be paused after frame time ``t``."""
        s = self.settings
        near_expiry = time_to_clear_s <= s.on_s + s.off_s + 1.0
        if not s.enabled or not occupied or near_expiry:
            self._occupied_since = None if not occupied else self._occupied_since
            if occupied and self._occupied_since is None:
                self._occupied_since = t
            self.paused = False
            self._phase_start = t
            return self.paused
        if self._occupied_since is None:
            self._occupied_since = t
            self._phase_start = t
        if t - self._occupied_since < s.confirm_s:
            return self.paused
        period = s.off_s if self.paused else s.on_s
        if t - self._phase_start >= period:
            self.paused = not self.paused
            self._phase_start = t
        return self.paused


__all__ = ["MOTION_KINDS", "DutyCycle", "DutyCycleSettings", "OccupancyTracker", "TrackerSettings"]
