"""Shoppers of the simulated store: how they look (:class:`Body`), what they do (walks,
stands, reaches) and where they are at any moment (:meth:`Shopper.position`).

Walks follow the floor planner's paths with a trapezoidal speed profile: a cruise speed of
0.5-1.4 m/s reached and left at ``ACCEL``; a stand turns the shopper to face the shelf; a
reach extends the arm into the shelf, holds and comes back.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np

from .layout import Planner, PlateSpot

ACCEL = 0.9  # m/s^2, walking acceleration and deceleration


@dataclass(frozen=True)
class Body:
    """How a shopper looks from above; lengths in metres, colours BGR."""

    shoulder_w: float
    torso_d: float
    head_r: float
    arm_w: float
    shirt: tuple[int, int, int]
    sleeve: tuple[int, int, int]
    hair: tuple[int, int, int]
    skin: tuple[int, int, int]
    cap: tuple[int, int, int] | None
    bag: tuple[int, int, int] | None


@dataclass
class Reach:
    """One arm movement into a shelf. Times are seconds on the clip clock."""

    spot: PlateSpot
    kind: str  # "take" | "return_own" | "return_wrong" | "nothing"
    qty: int
    target: np.ndarray  # hand position in the shelf, metres
    t_start: float  # arm starts to extend
    t_in: float  # hand over the plate
    t_change: float  # the item leaves or lands on the plate
    t_out: float  # hand leaves the plate
    t_end: float  # arm back at the side
    press_g: float  # peak extra force of the hand on the plate, grams
    press_s: float  # duration of the press, seconds
    # filled in by execution:
    sku: str | None = None
    unit_weights: tuple[float, ...] = ()

    def shift(self, dt: float) -> None:
        for name in ("t_start", "t_in", "t_change", "t_out", "t_end"):
            setattr(self, name, getattr(self, name) + dt)


@dataclass
class Walk:
    t0: float
    t1: float
    path: np.ndarray  # (M, 2) metres
    cum: np.ndarray  # (M,) arc length, metres
    v: float  # cruise speed, m/s

    def points(self, ts: np.ndarray) -> np.ndarray:
        """Centres (N, 2) at the times ``ts`` (held at the ends)."""
        s = [_trapezoid_s(float(t) - self.t0, self.cum[-1], self.v) for t in ts]
        return np.stack([np.interp(s, self.cum, self.path[:, 0]),
                         np.interp(s, self.cum, self.path[:, 1])], 1).reshape(-1, 2)

    def at(self, t: float) -> tuple[np.ndarray, float]:
        """(centre metres, walked distance metres) at ``t`` (held at the ends)."""
        s = _trapezoid_s(t - self.t0, self.cum[-1], self.v)
        return np.array([np.interp(s, self.cum, self.path[:, 0]),
                         np.interp(s, self.cum, self.path[:, 1])]), s


@dataclass
class Stand:
    t0: float
    t1: float
    pos: np.ndarray
    heading: float  # radians, facing the shelf


@dataclass
class Stop:
    spot: PlateSpot
    intents: list[tuple[str, int]]  # (kind, qty)


@dataclass
class Shopper:
    id: int
    body: Body
    speed: float
    stops: list[Stop]
    segments: list = field(default_factory=list)
    reaches: list[Reach] = field(default_factory=list)
    entered_t: float = math.nan
    exited_t: float = math.nan
    cart: list[tuple[str, float]] = field(default_factory=list)  # (sku, unit grams)

    @property
    def t0(self) -> float:
        return self.segments[0].t0

    @property
    def t1(self) -> float:
        return self.segments[-1].t1

    def shift(self, dt: float) -> None:
        for seg in self.segments:
            seg.t0 += dt
            seg.t1 += dt
        for r in self.reaches:
            r.shift(dt)

    # ---- kinematics -------------------------------------------------------------------------
    def position(self, t: float) -> tuple[np.ndarray, float, float] | None:
        """(centre metres, heading radians, walked distance metres) at ``t``, or None."""
        if t < self.t0 or t > self.t1:
            return None
        prev_heading = None
        for seg in self.segments:
            if t <= seg.t1:
                break
            prev_heading = _end_heading(seg)
        if isinstance(seg, Stand):
            start = prev_heading if prev_heading is not None else seg.heading
            a = _smoothstep((t - seg.t0) / 0.6)
            return seg.pos, _lerp_angle(start, seg.heading, a), 0.0
        p, s = seg.at(t)
        h = _path_heading(seg, s)
        if prev_heading is not None:
            h = _lerp_angle(prev_heading, h, _smoothstep((t - seg.t0) / 0.5))
        return p, h, s


def _smoothstep(x: float) -> float:
    x = min(max(x, 0.0), 1.0)
    return x * x * (3 - 2 * x)


def _lerp_angle(a: float, b: float, u: float) -> float:
    d = (b - a + math.pi) % (2 * math.pi) - math.pi
    return a + d * u


def _path_heading(seg: Walk, s: float) -> float:
    L = seg.cum[-1]
    s0, s1 = max(0.0, min(s, L - 0.15)), min(L, max(s, 0.0) + 0.15)
    p0 = np.array([np.interp(s0, seg.cum, seg.path[:, 0]), np.interp(s0, seg.cum, seg.path[:, 1])])
    p1 = np.array([np.interp(s1, seg.cum, seg.path[:, 0]), np.interp(s1, seg.cum, seg.path[:, 1])])
    d = p1 - p0
    return math.atan2(d[1], d[0]) if np.hypot(*d) > 1e-9 else 0.0


def _end_heading(seg) -> float:
    return seg.heading if isinstance(seg, Stand) else _path_heading(seg, seg.cum[-1])


def walk_duration(L: float, v: float) -> float:
    """Duration of a walk of ``L`` metres, cruising at ``v`` with ACCEL ramps."""
    if L <= 0:
        return 0.0
    if v * v / ACCEL <= L:
        return L / v + v / ACCEL
    return 2 * math.sqrt(L / ACCEL)


def _trapezoid_s(tau: float, L: float, v: float) -> float:
    """Distance walked ``tau`` seconds into a walk of ``L`` metres."""
    T = walk_duration(L, v)
    tau = min(max(tau, 0.0), T)
    vp = min(v, math.sqrt(L * ACCEL))  # peak speed
    ta = vp / ACCEL
    if tau < ta:
        return 0.5 * ACCEL * tau * tau
    if tau <= T - ta:
        return 0.5 * ACCEL * ta * ta + vp * (tau - ta)
    r = T - tau
    return L - 0.5 * ACCEL * r * r


# ---- appearance ----------------------------------------------------------------------------
def random_body(rng: np.random.Generator, world) -> Body:
    """A shopper's looks; sizes drawn from ``world``'s (a :class:`.world.World`) ranges."""
    def colour() -> tuple[int, int, int]:
        hsv = np.uint8([[[rng.integers(0, 180), rng.integers(30, 255), rng.integers(40, 250)]]])
        b, g, r = cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)[0, 0]
        return int(b), int(g), int(r)

    hair_choices = [(20, 25, 30), (25, 45, 70), (60, 110, 160), (150, 150, 150), (30, 60, 120),
                    (15, 15, 15)]
    skin_choices = [(120, 160, 220), (90, 130, 190), (60, 95, 150), (40, 65, 110),
                    (150, 185, 235)]
    shirt = colour()
    w = float(rng.uniform(*world.shoulder_m))
    return Body(
        shoulder_w=w,
        torso_d=float(w * rng.uniform(0.50, 0.62)),
        head_r=float(rng.uniform(*world.head_r_m)),
        arm_w=float(rng.uniform(0.075, 0.10)),
        shirt=shirt,
        sleeve=shirt if rng.random() < 0.6 else colour(),
        hair=hair_choices[int(rng.integers(len(hair_choices)))],
        skin=skin_choices[int(rng.integers(len(skin_choices)))],
        cap=colour() if rng.random() < 0.2 else None,
        bag=colour() if rng.random() < 0.25 else None,
    )


def plan_walk(planner: Planner, a: np.ndarray, b: np.ndarray, t: float, v: float) -> Walk:
    path = planner.path(a, b)
    cum = np.r_[0.0, np.cumsum(np.linalg.norm(np.diff(path, axis=0), axis=1))]
    return Walk(t, t + walk_duration(float(cum[-1]), v), path, cum, v)
