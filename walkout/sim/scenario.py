"""Shoppers, their plans and their timelines: the ground truth of a simulated clip.

A scenario is built in three steps:

1. **Plan.** Each shopper gets a list of stops; a stop is a plate and the reaches made there
   (take 1-3 units, put one back on its own plate, put one back on a wrong plate, or take
   nothing). Presets add the situations they promise (a misplaced return, a multi-unit pick,
   two shoppers at the same shelf at once).
2. **Time.** Each plan becomes a timeline: smooth walks on the floor planner's paths with a
   trapezoidal speed profile (0.5-1.4 m/s cruise), stands facing the shelf, and reaches
   whose arm extends into the shelf, holds and retracts.
3. **Execute.** All reaches run in global time order against the physical stock: each
   plate holds a list of units with their own weights, carts hold the units taken. A take
   never exceeds the stock and a return needs the item in the cart, so no shelf goes below
   zero and receipts equal the sum of the events.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np

from ..errors import WalkoutError
from .catalogue import BY_SKU
from .layout import (
    ENTRANCE_DOOR,
    EXIT_DOOR,
    OUTSIDE_Y,
    Planner,
    PlateSpot,
    entrance_zone,
    exit_zone,
    plate_spots,
)

ACCEL = 0.9  # m/s^2, walking acceleration and deceleration
PRESETS = ("single", "pair", "busy")


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
        s = _trapezoid_s(t - seg.t0, seg.cum[-1], seg.v)
        p = np.array([np.interp(s, seg.cum, seg.path[:, 0]), np.interp(s, seg.cum, seg.path[:, 1])])
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


def _walk_duration(L: float, v: float) -> float:
    """Duration of a walk of ``L`` metres, cruising at ``v`` with ACCEL ramps."""
    if L <= 0:
        return 0.0
    if v * v / ACCEL <= L:
        return L / v + v / ACCEL
    return 2 * math.sqrt(L / ACCEL)


def _trapezoid_s(tau: float, L: float, v: float) -> float:
    """Distance walked ``tau`` seconds into a walk of ``L`` metres."""
    T = _walk_duration(L, v)
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
def random_body(rng: np.random.Generator) -> Body:
    def colour() -> tuple[int, int, int]:
        hsv = np.uint8([[[rng.integers(0, 180), rng.integers(30, 255), rng.integers(40, 250)]]])
        b, g, r = cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)[0, 0]
        return int(b), int(g), int(r)

    hair_choices = [(20, 25, 30), (25, 45, 70), (60, 110, 160), (150, 150, 150), (30, 60, 120),
                    (15, 15, 15)]
    skin_choices = [(120, 160, 220), (90, 130, 190), (60, 95, 150), (40, 65, 110),
                    (150, 185, 235)]
    shirt = colour()
    w = float(rng.uniform(0.40, 0.52))
    return Body(
        shoulder_w=w,
        torso_d=float(w * rng.uniform(0.50, 0.62)),
        head_r=float(rng.uniform(0.085, 0.11)),
        arm_w=float(rng.uniform(0.075, 0.10)),
        shirt=shirt,
        sleeve=shirt if rng.random() < 0.6 else colour(),
        hair=hair_choices[int(rng.integers(len(hair_choices)))],
        skin=skin_choices[int(rng.integers(len(skin_choices)))],
        cap=colour() if rng.random() < 0.2 else None,
        bag=colour() if rng.random() < 0.25 else None,
    )


# ---- planning ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Scenario:
    preset: str
    seed: int
    duration: float
    shoppers: list[Shopper]
    units: dict[str, list[tuple[str, float]]]  # initial stock: plate -> [(sku, grams)]

    @property
    def reaches(self) -> list[tuple[Shopper, Reach]]:
        pairs = [(s, r) for s in self.shoppers for r in s.reaches]
        return sorted(pairs, key=lambda sr: (sr[1].t_change, sr[0].id))


def _initial_stock(rng: np.random.Generator, spots: list[PlateSpot]) -> dict:
    stock = {}
    for sp in spots:
        p = BY_SKU[sp.sku]
        n = int(rng.integers(4, 9) if p.weight_g > 800 else rng.integers(6, 13))
        w = rng.normal(p.weight_g, p.weight_sd_g, n)
        stock[sp.plate_id] = [(sp.sku, float(round(x, 2))) for x in w]
    return stock


def _take_qty(rng: np.random.Generator) -> int:
    return int(rng.choice([1, 2, 3], p=[0.72, 0.2, 0.08]))


def _random_stops(rng, spots, n_stops: int) -> list[Stop]:
    """Distinct plates, mostly on different shelves, each with a take or a look."""
    picks = rng.choice(len(spots), size=len(spots), replace=False)
    chosen: list[PlateSpot] = []
    for i in picks:
        if len(chosen) == n_stops:
            break
        if all(spots[i].shelf_id != c.shelf_id for c in chosen) or rng.random() < 0.15:
            chosen.append(spots[i])
    stops = []
    for sp in chosen:
        u = rng.random()
        if u < 0.1:
            intents = [("nothing", 0)]
        elif u < 0.2:
            intents = [("take", 1), ("return_own", 1)]  # changed their mind
        elif u < 0.3:
            intents = [("nothing", 0), ("take", _take_qty(rng))]
        else:
            intents = [("take", _take_qty(rng))]
        stops.append(Stop(sp, intents))
    return stops


def plan(preset: str, n_shoppers: int | None, rng: np.random.Generator,
         spots: list[PlateSpot]) -> tuple[list[list[Stop]], list[tuple[int, int, int, int]]]:
    """Stops per shopper, and the (a, stop_a, b, stop_b) visits to put at the same time."""
    default_n = {"single": 1, "pair": 2, "busy": 6}[preset]
    n = default_n if n_shoppers is None else n_shoppers
    if n < 1:
        raise WalkoutError(f"--shoppers: expected at least 1, got {n}")
    plans = [_random_stops(rng, spots, int(rng.integers(2, 5))) for _ in range(n)]
    syncs: list[tuple[int, int, int, int]] = []
    if preset == "single":
        plans[0] = _random_stops(rng, spots, 3)
        for st in plans[0]:
            st.intents = [("take", int(rng.choice([1, 2], p=[0.8, 0.2])))]
    elif preset == "pair":
        plans[0] = _random_stops(rng, spots, 3)
        if n >= 2:
            plans[1] = _random_stops(rng, spots, 2)
        for st in plans[0]:
            st.intents = [("take", 1)]
        if n >= 2:
            _add_put_back(rng, plans[1], spots)
            syncs.append(_same_shelf(rng, plans, 0, 1, spots))
    else:  # busy: every promised situation is planted, the rest is random
        _add_multi_pick(rng, plans[0])
        if n >= 2:
            _add_misplaced_return(rng, plans[1], spots)
        if n >= 3:
            _add_put_back(rng, plans[2], spots)
        if n >= 5:
            syncs.append(_same_shelf(rng, plans, 3, 4, spots))
        if n >= 6:
            syncs.append(_same_shelf(rng, plans, 5, 0, spots))
    return plans, syncs


def _add_multi_pick(rng, stops: list[Stop]) -> None:
    stops[0].intents = [("take", int(rng.integers(2, 4)))]


def _add_put_back(rng, stops: list[Stop], spots) -> None:
    """Take one unit, then put it back on its own plate: at once or on a later revisit."""
    first = stops[0]
    first.intents = [("take", 1)]
    if rng.random() < 0.5:
        first.intents.append(("return_own", 1))
    else:
        stops.append(Stop(first.spot, [("return_own", 1)]))


def _add_misplaced_return(rng, stops: list[Stop], spots: list[PlateSpot]) -> None:
    """Take a unit at the first stop, leave it on a plate of another shelf later."""
    first = stops[0]
    first.intents = [("take", 1)]
    others = [sp for sp in spots if sp.shelf_id != first.spot.shelf_id and sp.sku != first.spot.sku]
    sp = others[int(rng.integers(len(others)))]
    stops.append(Stop(sp, [("return_wrong", 1)]))


def _same_shelf(rng, plans, a: int, b: int, spots: list[PlateSpot]) -> tuple[int, int, int, int]:
    """Make shopper b's last-but-one stop a neighbouring plate of shopper a's first stop."""
    ja = 0
    sa = plans[a][ja].spot
    neighbours = [sp for sp in spots if sp.shelf_id == sa.shelf_id and abs(sp.k - sa.k) == 1]
    sb = neighbours[int(rng.integers(len(neighbours)))]
    jb = max(0, len(plans[b]) - 2)
    plans[b].insert(jb, Stop(sb, [("take", 1)]))
    return a, ja, b, jb


# ---- timing --------------------------------------------------------------------------------
def build_timeline(sh: Shopper, planner: Planner, rng: np.random.Generator) -> list[float]:
    """Fill ``sh.segments`` and ``sh.reaches`` starting at t=0; return each stop's arrival."""
    x_in = float(rng.uniform(ENTRANCE_DOOR[0] + 0.45, ENTRANCE_DOOR[1] - 0.45))
    x_out = float(rng.uniform(EXIT_DOOR[0] + 0.45, EXIT_DOOR[1] - 0.45))
    pos = np.array([x_in, OUTSIDE_Y])
    t = 0.0
    arrivals = []
    sh.segments, sh.reaches = [], []
    for stop in sh.stops:
        g = stop.spot.gondola
        plate_w = np.linalg.norm(np.subtract(*g.face_segment())) / g.n_plates
        face = g.plate_face_point(stop.spot.k)
        stand = face + g.along * rng.uniform(-0.15, 0.15) * plate_w + g.normal * rng.uniform(
            0.42, 0.52)
        t = _walk(sh, planner, pos, stand, t)
        arrivals.append(t)
        heading = math.atan2(-g.normal[1], -g.normal[0])
        t_stand0 = t
        t += rng.uniform(0.4, 0.8)  # turn to the shelf
        for kind, qty in stop.intents:
            target = (face + g.along * rng.uniform(-0.3, 0.3) * plate_w
                      - g.normal * rng.uniform(0.1, 0.28))
            extend, retract = rng.uniform(0.45, 0.75), rng.uniform(0.45, 0.7)
            hold = rng.uniform(0.9, 1.5) + 0.35 * max(0, qty - 1)
            press_s = rng.uniform(0.15, 0.4)
            t_in = t + extend
            t_out = t_in + hold
            if kind.startswith("return"):  # place the item, then press it into place
                t_change = t_in + rng.uniform(0.15, 0.35)
            else:  # press while grasping, then lift
                t_change = t_in + press_s + rng.uniform(0.15, 0.4)
            t_change = min(t_change, t_out - 0.2)
            sh.reaches.append(Reach(
                spot=stop.spot, kind=kind, qty=qty, target=target, t_start=t, t_in=t_in,
                t_change=t_change, t_out=t_out, t_end=t_out + retract,
                press_g=float(rng.uniform(40, 300)), press_s=press_s,
            ))
            t = t_out + retract + rng.uniform(0.3, 0.9)
        t += rng.uniform(0.2, 0.8)
        sh.segments.append(Stand(t_stand0, t, stand, heading))
        pos = stand
    _walk(sh, planner, pos, np.array([x_out, OUTSIDE_Y]), t)
    return arrivals


def _walk(sh: Shopper, planner: Planner, a: np.ndarray, b: np.ndarray, t: float) -> float:
    sh.segments.append(_plan_walk(planner, a, b, t, sh.speed))
    return sh.segments[-1].t1


def _door_times(sh: Shopper) -> tuple[float, float]:
    """When the centre first enters the entrance zone, and first enters the exit zone."""
    ent, ext = entrance_zone(), exit_zone()

    def inside(p, z) -> bool:
        return bool(z[0, 0] <= p[0] <= z[1, 0] and z[0, 1] <= p[1] <= z[2, 1])

    entered = exited = math.nan
    last_walk = sh.segments[-1]
    for t in np.arange(sh.t0, sh.t1, 0.01):
        p, _, _ = sh.position(float(t))
        if math.isnan(entered) and inside(p, ent):
            entered = float(t)
        if t >= last_walk.t0 and math.isnan(exited) and inside(p, ext):
            exited = float(t)
    return round(entered, 2), round(exited, 2)


def _execute(shoppers: list[Shopper], stock: dict[str, list[tuple[str, float]]]) -> None:
    """Run all reaches in time order against the physical stock and the carts."""
    stock = {k: list(v) for k, v in stock.items()}
    order = sorted(((r.t_change, s.id, s, r) for s in shoppers for r in s.reaches),
                   key=lambda x: (x[0], x[1]))
    for _, _, sh, r in order:
        units = stock[r.spot.plate_id]
        if r.kind == "take":
            own = [i for i, (sku, _) in enumerate(units) if sku == r.spot.sku]
            take = own[-r.qty:] if r.qty <= len(own) else own
            if not take:
                r.kind, r.qty = "nothing", 0
                continue
            r.qty, r.sku = len(take), r.spot.sku
            r.unit_weights = tuple(units[i][1] for i in take)
            for i in sorted(take, reverse=True):
                sh.cart.append(units.pop(i))
        elif r.kind in ("return_own", "return_wrong"):
            want_own = r.kind == "return_own"
            idx = [i for i, (sku, _) in enumerate(sh.cart) if (sku == r.spot.sku) == want_own]
            if not idx:
                r.kind, r.qty = "nothing", 0
                continue
            unit = sh.cart.pop(idx[-1])
            units.append(unit)
            r.qty, r.sku, r.unit_weights = -1, unit[0], (unit[1],)
        else:
            r.qty = 0


def make_scenario(preset: str, seed: int, duration: float | None = None,
                  n_shoppers: int | None = None) -> Scenario:
    """Plan, time and execute a preset. Deterministic for a given (preset, seed, ...)."""
    if preset not in PRESETS:
        raise WalkoutError(f"--preset: unknown preset {preset!r} (expected one of: "
                           f"{', '.join(PRESETS)})")
    if seed < 0:
        raise WalkoutError(f"--seed: expected an integer >= 0, got {seed}")
    if duration is not None and not duration > 0:
        raise WalkoutError(f"--duration: expected seconds > 0, got {duration:g}")
    rng = np.random.default_rng([seed, PRESETS.index(preset)])
    spots = plate_spots()
    planner = Planner()
    plans, syncs = plan(preset, n_shoppers, rng, spots)
    shoppers = []
    arrivals = []
    for i, stops in enumerate(plans):
        sh = Shopper(i + 1, random_body(rng), float(rng.uniform(0.5, 1.4)), stops)
        arrivals.append(build_timeline(sh, planner, rng))
        shoppers.append(sh)
    auto = duration is None and preset != "busy"
    if duration is None:
        duration = 120.0
    window = math.inf if auto else duration - 1.5  # everyone leaves 1.5 s before the end
    entries = _entry_times(rng, preset, shoppers, syncs, arrivals, window)
    for sh, e in zip(shoppers, entries):
        sh.shift(e)
    _make_room(shoppers, planner, window)
    last = max(sh.t1 for sh in shoppers)
    if auto:
        duration = float(math.ceil(last + 3.0))
    elif last > window:
        raise WalkoutError(
            f"--duration: {duration:g} s is too short for preset {preset!r} seed {seed} "
            f"(its shoppers need {last + 1.5:.1f} s)"
        )
    stock = _initial_stock(rng, spots)
    _execute(shoppers, stock)
    for sh in shoppers:
        sh.entered_t, sh.exited_t = _door_times(sh)
    return Scenario(preset, seed, float(duration), shoppers, stock)


# ---- personal space ---------------------------------------------------------------------------
ROOM_STEP = 0.1   # metres: how far apart the places tried along the shelf are
ROOM_MAX = 0.6    # ... and at most this far from the planned place (still before the plate)
ROOM_GAP = 0.04   # metres left between two people standing shoulder to shoulder
ROOM_TRIES = 5    # times a shopper waits for room before standing where planned anyway


def _make_room(shoppers: list[Shopper], planner: Planner, window: float) -> None:
    """Nobody stands where someone else is standing. Shoppers are placed in the order they
    come in; a shopper whose place at a shelf is taken for any moment of their stand (the
    other's body centre closer than half of both shoulder widths) stands beside instead:
    the nearest place along the shelf, up to ``ROOM_MAX`` away, clear of everyone already
    placed for the whole stand, reaching into the near side of the same plate (not across
    the neighbour). The walks in and out are planned again and the rest of their visit
    moves by the time that takes. With no such place they wait until the stands in the way
    end (:func:`_wait_for_room`). Neither is done when it would keep them in the store past
    ``window``. Timelines are otherwise planned one shopper at a time, so without this two
    shoppers at one plate stood inside each other."""
    placed: list[Shopper] = []
    for sh in sorted(shoppers, key=lambda s: (s.t0, s.id)):
        for i, seg in enumerate(sh.segments):
            if not isinstance(seg, Stand):
                continue
            for _ in range(ROOM_TRIES):
                pos = _free_place(sh, seg, placed, planner)
                if pos is not None or not _wait_for_room(sh, i, placed, window):
                    break
            if pos is not None and not np.allclose(pos, seg.pos):
                _move_stand(sh, i, pos, planner, window)
        placed.append(sh)


def _wait_for_room(sh: Shopper, i: int, placed: list[Shopper], window: float) -> bool:
    """No room at stand ``i``: come ``sh`` after the stands in the way end, lingering at
    the stop before (or coming in later). False if that would keep them past ``window``."""
    st = sh.segments[i]
    ends = [t1 for q, w, t1 in _stands_during(placed, st) if _too_close(sh, st.pos, q, w)]
    if not ends:
        return False
    delay = max(ends) - st.t0 + ROOM_STEP
    if sh.t1 + delay > window:
        return False
    if i < 2:
        sh.shift(delay)
        return True
    before = sh.segments[i - 2]   # the stand before: linger there
    t_from = before.t1
    before.t1 += delay
    _shift_after(sh, i - 1, t_from, delay)
    return True


def _stands_during(placed: list[Shopper], st: Stand) -> list[tuple[np.ndarray, float, float]]:
    """(place, shoulder width, end) of the stands of ``placed`` that overlap ``st`` in time."""
    return [(g.pos, o.body.shoulder_w, g.t1) for o in placed for g in o.segments
            if isinstance(g, Stand) and g.t0 < st.t1 and g.t1 > st.t0]


def _too_close(sh: Shopper, p: np.ndarray, q: np.ndarray, width: float) -> bool:
    """Whether ``sh`` standing at ``p`` would touch someone ``width`` wide standing at ``q``."""
    return bool(np.hypot(*(p - q)) < (width + sh.body.shoulder_w) / 2 + ROOM_GAP)


def _free_place(sh: Shopper, st: Stand, placed: list[Shopper], planner: Planner
                ) -> np.ndarray | None:
    """The place nearest ``st.pos`` along the shelf where ``sh`` stands clear of everyone
    standing in ``placed`` during the stand; None if there is none within ``ROOM_MAX``."""
    taken = _stands_during(placed, st)

    def clear(p: np.ndarray) -> bool:
        return not any(_too_close(sh, p, q, w) for q, w, _ in taken)

    if clear(st.pos):
        return st.pos
    along = np.array([-math.sin(st.heading), math.cos(st.heading)])  # the shelf's direction
    for k in range(1, int(round(ROOM_MAX / ROOM_STEP)) + 1):
        for sign in (1, -1):
            p = st.pos + along * sign * k * ROOM_STEP
            if planner.free[planner.cell_of(p)] and clear(p):
                return p
    return None


def _move_stand(sh: Shopper, i: int, pos: np.ndarray, planner: Planner, window: float) -> None:
    """Move stand ``i`` of ``sh`` to ``pos``: walk there and on from there, and shift what
    follows by the change in walking time; left as it was if that ends past ``window``."""
    segs = sh.segments
    before, stand, after = segs[i - 1], segs[i], segs[i + 1]
    walk_in = _plan_walk(planner, before.path[0], pos, before.t0, sh.speed)
    walk_out = _plan_walk(planner, pos, after.path[-1], 0.0, sh.speed)
    d_in = walk_in.t1 - before.t1
    d_out = (walk_out.t1 - walk_out.t0) - (after.t1 - after.t0)
    if sh.t1 + d_in + d_out > window:
        return
    t_stand = stand.t0
    segs[i - 1] = walk_in
    _shift_after(sh, i, t_stand, d_in)
    stand.pos = pos
    for r in sh.reaches:  # reach into the near side of the plate, not across a neighbour
        if stand.t0 <= r.t_start <= stand.t1:
            g = r.spot.gondola
            face = g.plate_face_point(r.spot.k)
            half = 0.3 * np.linalg.norm(np.subtract(*g.face_segment())) / g.n_plates
            side = float(np.clip((pos - face) @ g.along, -half, half))
            r.target = r.target + g.along * (side - float((r.target - face) @ g.along))
    walk_out.t0, walk_out.t1 = after.t0, after.t0 + (walk_out.t1 - walk_out.t0)
    t_next = after.t1
    segs[i + 1] = walk_out
    _shift_after(sh, i + 2, t_next, d_out)


def _plan_walk(planner: Planner, a: np.ndarray, b: np.ndarray, t: float, v: float) -> Walk:
    path = planner.path(a, b)
    cum = np.r_[0.0, np.cumsum(np.linalg.norm(np.diff(path, axis=0), axis=1))]
    return Walk(t, t + _walk_duration(float(cum[-1]), v), path, cum, v)


def _shift_after(sh: Shopper, j: int, t_from: float, dt: float) -> None:
    """Shift segments ``j`` on, and the reaches from ``t_from`` on, by ``dt`` seconds."""
    for seg in sh.segments[j:]:
        seg.t0 += dt
        seg.t1 += dt
    for r in sh.reaches:
        if r.t_start >= t_from:
            r.shift(dt)


def _sync_offset(shoppers, arrivals, sync, rng) -> float:
    """Entry of b minus entry of a so that b arrives at its stop while a stands at its."""
    a, ja, b, jb = sync
    stand = next(s for s in shoppers[a].segments if isinstance(s, Stand)
                 and s.t0 >= arrivals[a][ja] - 1e-9)
    delta = rng.uniform(0.3, max(0.4, min(2.5, stand.t1 - stand.t0 - 1.0)))
    return arrivals[a][ja] + delta - arrivals[b][jb]


def _entry_times(rng, preset, shoppers, syncs, arrivals, window) -> list[float]:
    """When each shopper appears. Busy shoppers spread over the window; small presets start
    within seconds of each other. Synced pairs are lined up at their shared shelf."""
    if preset == "busy":
        entries = [float(rng.uniform(0.0, max(0.0, window - sh.t1))) for sh in shoppers]
    else:
        entries = [0.5 + float(rng.uniform(1.0, 4.0)) * i for i in range(len(shoppers))]
    for sync in syncs:
        a, _, b, _ = sync
        off = _sync_offset(shoppers, arrivals, sync, rng)
        lo = max(0.0, -off) + (0.0 if preset == "busy" else 0.5)
        hi = min(window - shoppers[a].t1, window - shoppers[b].t1 - off)
        if hi < lo:  # cannot line them up inside this window: leave them independent
            continue
        entries[a] = float(rng.uniform(lo, min(hi, lo + 60.0))) if preset == "busy" else lo
        entries[b] = entries[a] + off
    return entries
