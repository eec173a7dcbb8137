"""Moving scatterers: people, fans, curtains and bare points as point reflectors over time.

Every body is a small set of point reflectors whose positions are pure functions of time
(random gestures are drawn once from the scenario's seed), so any block partition of the
timeline gives the same trajectories. A reflector's ``reflectivity_m`` is the amplitude
scattering length: the echo of a point at distances r1 (from the speaker) and r2 (to the
mic) is ``reflectivity_m / (r1 * r2)`` times the free-field reference; for a sphere of
radius a (geometric optics, RCS = pi a^2) it is a / 2.

Body models
-----------
- Walking person: torso and head (with a 2 cm vertical bob at the step rate), two arms and
  two legs swinging in anti-phase along the heading, amplitude proportional to speed
  (gait micro-Doppler, cf. V. C. Chen, *The Micro-Doppler Effect in Radar*, 2011, ch. 5).
- Standing/sitting person: breathing (4 mm chest motion at 0.25 Hz), slow postural sway,
  and the activity's hand motions: page turns (reading), 3-7 Hz hand jitter (typing),
  occasional 40 cm arm extensions (reaching).
- Fan: blades on a circle around the axis (periodic micro-Doppler at blades x rpm / 60).
- Curtain: a 3 x 2 grid on a plane, swaying along its normal as a slow travelling wave.
- Point: constant velocity (tests and calibration).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from .scenario import Curtain, Fan, Person, Point, Scenario

TORSO_REFLECTIVITY_M = 0.15
HEAD_REFLECTIVITY_M = 0.05
ARM_REFLECTIVITY_M = 0.03
LEG_REFLECTIVITY_M = 0.05
STRIDE_HZ = 0.9  # full gait cycle (two steps) at a normal walk
NORMAL_WALK_M_S = 1.2
BREATHING_HZ = 0.25
BREATHING_M = 0.004

F64 = NDArray[np.float64]


@dataclass(frozen=True)
class PersonState:
    """Kinematic state of one person at the sample times ``t_s`` (arrays of shape (C,))."""

    base_m: F64  # (C, 2) floor position
    posture: NDArray[np.int64]  # (C,) index into scenario.POSTURES
    activity: NDArray[np.int64]  # (C,) index into scenario.ACTIVITIES
    velocity_m_s: F64  # (C, 2)
    heading: F64  # (C, 2) unit


def _bump(t: F64, starts: F64, duration_s: float) -> F64:
    """Sum of raised-cosine bumps (0..1..0) of ``duration_s`` starting at ``starts``."""
    out = np.zeros_like(t)
    if t.size == 0:
        return out
    lo = np.searchsorted(starts, t[0] - duration_s)
    hi = np.searchsorted(starts, t[-1], side="right")
    for s in starts[lo:hi]:
        u = (t - s) / duration_s
        m = (u > 0) & (u < 1)
        out[m] += 0.5 - 0.5 * np.cos(2 * np.pi * u[m])
    return out


class PersonModel:
    """Seven point reflectors (torso, head, 2 arms, 2 legs, hand) following keyframes."""

    n_points = 7

    def __init__(self, person: Person, rng: np.random.Generator, duration_s: float) -> None:
        from .scenario import ACTIVITIES, POSTURES

        kfs = person.keyframes
        self.name = person.name
        self.t_kf = np.array([k.t_s for k in kfs])
        self.p_kf = np.array([k.position_m for k in kfs], dtype=np.float64)
        self.posture_kf = np.array([POSTURES.index(k.posture) for k in kfs], dtype=np.int64)
        self.activity_kf = np.array([ACTIVITIES.index(k.activity) for k in kfs], dtype=np.int64)
        n = len(kfs)
        vel = np.zeros((n, 2))
        heading = np.zeros((n, 2))
        last = np.array([1.0, 0.0])
        for i in range(n):
            if i + 1 < n and kfs[i].posture == "walking":
                d = self.p_kf[i + 1] - self.p_kf[i]
                vel[i] = d / (self.t_kf[i + 1] - self.t_kf[i])
                norm = float(np.hypot(*d))
                if norm > 1e-9:
                    last = d / norm
            heading[i] = last
        self.vel_kf = vel
        self.heading_kf = heading
        # random gestures, drawn once
        span = duration_s + 60.0
        self.page_turns = np.cumsum(rng.uniform(8.0, 25.0, size=int(span / 8) + 1))
        self.reaches = np.cumsum(rng.uniform(10.0, 30.0, size=int(span / 10) + 1))
        self.reach_dir = rng.uniform(-0.8, 0.8)
        self.jitter_hz = rng.uniform(3.0, 7.0, size=4)
        self.jitter_phase = rng.uniform(0, 2 * np.pi, size=4)
        self.sway_hz = rng.uniform(0.08, 0.3, size=2)
        self.sway_phase = rng.uniform(0, 2 * np.pi, size=3)
        self.gait_phase = rng.uniform(0, 2 * np.pi)

    def state(self, t_s: F64) -> PersonState:
        i = np.clip(np.searchsorted(self.t_kf, t_s, side="right") - 1, 0, len(self.t_kf) - 1)
        before = t_s < self.t_kf[0]
        posture = np.where(before, 0, self.posture_kf[i])
        base = self.p_kf[i] + self.vel_kf[i] * np.maximum(t_s - self.t_kf[i], 0.0)[:, None]
        return PersonState(
            base_m=base,
            posture=posture,
            activity=self.activity_kf[i],
            velocity_m_s=np.where((posture == 1)[:, None], self.vel_kf[i], 0.0),
            heading=self.heading_kf[i],
        )

    def points(self, t_s: F64) -> tuple[F64, F64]:
        """Positions (7, C, 3) in m and reflectivities (7, C) in m at times ``t_s`` (C,)."""
        st = self.state(t_s)
        c = t_s.size
        h = st.heading
        nrm = np.stack([-h[:, 1], h[:, 0]], axis=1)
        speed = np.hypot(st.velocity_m_s[:, 0], st.velocity_m_s[:, 1])
        walking = st.posture == 1
        sitting = st.posture == 3
        present = st.posture != 0
        phi = 2 * np.pi * STRIDE_HZ * t_s + self.gait_phase
        gait = np.where(walking, np.minimum(speed / NORMAL_WALK_M_S, 1.5), 0.0)
        breath = BREATHING_M * np.sin(2 * np.pi * BREATHING_HZ * t_s + self.sway_phase[0])
        sway = 0.01 * (np.sin(2 * np.pi * self.sway_hz[0] * t_s + self.sway_phase[1]) * (~walking))
        sway_n = 0.006 * (np.sin(2 * np.pi * self.sway_hz[1] * t_s + self.sway_phase[2]) * (~walking))
        bob = 0.02 * gait * np.sin(2 * phi)

        def at(fwd: F64 | float, side: F64 | float, z: F64 | float) -> F64:
            fwd_a = np.broadcast_to(np.asarray(fwd, dtype=np.float64), (c,))
            side_a = np.broadcast_to(np.asarray(side, dtype=np.float64), (c,))
            xy = st.base_m + h * fwd_a[:, None] + nrm * side_a[:, None]
            return np.concatenate([xy, np.broadcast_to(np.asarray(z, dtype=np.float64), (c,))[:, None]], axis=1)

        z_torso = np.where(sitting, 0.85, 1.2) + bob
        torso = at(breath + sway, sway_n, z_torso)
        head = at(sway * 1.4, sway_n * 1.4, z_torso + 0.45)
        # limbs: walking swing; seated legs forward under the table
        leg_fwd = np.where(sitting, 0.35, 0.0)
        leg_z = np.where(sitting, 0.5, 0.45)
        swing = np.sin(phi)
        leg_l = at(leg_fwd + 0.25 * gait * swing, 0.1, leg_z)
        leg_r = at(leg_fwd - 0.25 * gait * swing, -0.1, leg_z)
        arm_fwd = np.where(sitting, 0.3, 0.0)
        arm_z = np.where(sitting, 0.78, 0.9)
        arm_l = at(arm_fwd - 0.15 * gait * swing, 0.22, arm_z)
        # right arm/hand carries the seated activity
        act = st.activity
        still_body = ~walking & present
        reading = still_body & (act == 1)
        typing = still_body & (act == 2)
        reaching = still_body & (act == 3)
        page = _bump(t_s, self.page_turns, 0.9) * reading
        reach = _bump(t_s, self.reaches, 2.5) * reaching
        jit = np.zeros(c)
        for k in range(4):
            jit += 0.0025 * np.sin(2 * np.pi * self.jitter_hz[k] * t_s + self.jitter_phase[k])
        jit *= typing
        arm_r = at(
            arm_fwd + 0.15 * gait * swing + 0.4 * reach, -0.22 + 0.25 * page + 0.3 * self.reach_dir * reach, arm_z
        )
        hand = at(arm_fwd + 0.1 + jit + 0.4 * reach, -0.05 + 0.2 * page + 0.3 * self.reach_dir * reach, arm_z + jit)
        pos = np.stack([torso, head, arm_l, arm_r, leg_l, leg_r, hand])
        refl = np.array(
            [
                TORSO_REFLECTIVITY_M,
                HEAD_REFLECTIVITY_M,
                ARM_REFLECTIVITY_M,
                ARM_REFLECTIVITY_M,
                LEG_REFLECTIVITY_M,
                LEG_REFLECTIVITY_M,
                ARM_REFLECTIVITY_M,
            ]
        )[:, None] * present[None, :].astype(np.float64)
        return pos, refl


class FanModel:
    """Blades on a circle around the fan's axis."""

    def __init__(self, fan: Fan) -> None:
        self.fan = fan
        axis = np.asarray(fan.axis, dtype=np.float64)
        axis /= max(float(np.linalg.norm(axis)), 1e-12)
        helper = np.array([1.0, 0.0, 0.0]) if abs(axis[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
        self.u = np.cross(axis, helper)
        self.u /= np.linalg.norm(self.u)
        self.w = np.cross(axis, self.u)
        self.n_points = fan.blades

    def points(self, t_s: F64) -> tuple[F64, F64]:
        f = self.fan
        theta = 2 * np.pi * f.rpm / 60.0 * t_s
        ang = theta[None, :] + 2 * np.pi * np.arange(f.blades)[:, None] / f.blades
        pos = (
            np.asarray(f.position_m)[None, None, :]
            + f.radius_m * np.cos(ang)[..., None] * self.u
            + f.radius_m * np.sin(ang)[..., None] * self.w
        )
        on = (t_s >= f.start_s) & ((t_s < f.stop_s) if f.stop_s is not None else True)
        refl = np.broadcast_to(f.reflectivity_m * on.astype(np.float64), ang.shape).copy()
        return pos, refl


class CurtainModel:
    """A 3 x 2 grid of reflectors swaying along the curtain's normal."""

    n_points = 6

    def __init__(self, curtain: Curtain, rng: np.random.Generator) -> None:
        self.c = curtain
        n = np.asarray(curtain.normal, dtype=np.float64)
        n /= max(float(np.linalg.norm(n)), 1e-12)
        self.normal = n
        side = np.cross(np.array([0.0, 0.0, 1.0]), n)
        if np.linalg.norm(side) < 1e-6:
            side = np.array([1.0, 0.0, 0.0])
        self.side = side / np.linalg.norm(side)
        self.up = np.cross(n, self.side)
        su = np.array([-1 / 3, 0.0, 1 / 3, -1 / 3, 0.0, 1 / 3]) * curtain.width_m
        sv = np.array([-0.25, -0.25, -0.25, 0.25, 0.25, 0.25]) * curtain.height_m
        self.rest = np.asarray(curtain.center_m)[None, :] + su[:, None] * self.side + sv[:, None] * self.up
        self.phase = rng.uniform(0, 2 * np.pi, size=6) * 0.3 + np.array([0, 1, 2, 0, 1, 2]) * 0.8
        self.slow_hz = rng.uniform(0.03, 0.1, size=6)
        self.bottom = np.array([1.0, 1.0, 1.0, 0.5, 0.5, 0.5])

    def points(self, t_s: F64) -> tuple[F64, F64]:
        c = self.c
        d = c.sway_m * (
            np.sin(2 * np.pi * c.sway_hz * t_s[None, :] + self.phase[:, None])
            + 0.4 * np.sin(2 * np.pi * self.slow_hz[:, None] * t_s[None, :] + 2 * self.phase[:, None])
        )
        d *= self.bottom[:, None]
        pos = self.rest[:, None, :] + d[..., None] * self.normal
        refl = np.full(d.shape, c.reflectivity_m)
        return pos, refl


class PointModel:
    """A bare point reflector moving at constant velocity while active."""

    n_points = 1

    def __init__(self, point: Point) -> None:
        self.p = point

    def points(self, t_s: F64) -> tuple[F64, F64]:
        p = self.p
        pos = np.asarray(p.position_m)[None, :] + np.asarray(p.velocity_m_s)[None, :] * (t_s - p.start_s)[:, None]
        on = (t_s >= p.start_s) & ((t_s < p.stop_s) if p.stop_s is not None else True)
        return pos[None], (p.reflectivity_m * on.astype(np.float64))[None]


class SceneMotion:
    """All moving reflectors of a scenario; ``points(t)`` gives every reflector at once."""

    def __init__(self, scenario: Scenario, rng: np.random.Generator) -> None:
        self.people = [PersonModel(p, rng, scenario.duration_s) for p in scenario.people]
        self.models: list[PersonModel | FanModel | CurtainModel | PointModel] = [
            *self.people,
            *(FanModel(f) for f in scenario.fans),
            *(CurtainModel(c, rng) for c in scenario.curtains),
            *(PointModel(p) for p in scenario.points),
        ]
        self.n_points = sum(m.n_points for m in self.models)

    def points(self, t_s: F64) -> tuple[F64, F64]:
        """Positions (S, C, 3) m and reflectivities (S, C) m of all reflectors at ``t_s`` (C,)."""
        if not self.models:
            return np.zeros((0, t_s.size, 3)), np.zeros((0, t_s.size))
        parts = [m.points(t_s) for m in self.models]
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


__all__ = ["CurtainModel", "FanModel", "PersonModel", "PersonState", "PointModel", "SceneMotion"]
