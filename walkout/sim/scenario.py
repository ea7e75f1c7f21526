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

The shoppers themselves (bodies, walks, stands, reaches, where they are when) are
:mod:`.shoppers`; between steps 2 and 3, :mod:`.room` keeps them from standing inside each
other.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from ..errors import WalkoutError
from .catalogue import BY_SKU
from .layout import (
    ENTRANCE_DOOR,
    EXIT_DOOR,
    FLOOR_H,
    OUTSIDE_Y,
    Planner,
    PlateSpot,
    entrance_zone,
    exit_zone,
    plate_spots,
)
from .room import give_way, make_room
from .shoppers import Reach, Shopper, Stand, Stop, plan_walk, random_body
from .world import PRESET_WORLD, World

PRESETS = ("single", "pair", "busy")


# ---- planning ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Scenario:
    preset: str
    seed: int
    duration: float
    shoppers: list[Shopper]
    units: dict[str, list[tuple[str, float]]]  # initial stock: plate -> [(sku, grams)]
    world: World = PRESET_WORLD

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
def build_timeline(sh: Shopper, planner: Planner, rng: np.random.Generator,
                   world: World = PRESET_WORLD) -> list[float]:
    """Fill ``sh.segments`` and ``sh.reaches`` starting at t=0; return each stop's arrival.
    Turning, reaching, holding and pausing times are drawn from ``world``'s ranges."""
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
        t += rng.uniform(*world.turn_s)  # turn to the shelf
        for kind, qty in stop.intents:
            target = (face + g.along * rng.uniform(-0.3, 0.3) * plate_w
                      - g.normal * rng.uniform(0.1, 0.28))
            extend, retract = rng.uniform(*world.extend_s), rng.uniform(*world.retract_s)
            hold = rng.uniform(*world.hold_s) + world.hold_per_unit_s * max(0, qty - 1)
            press_s = rng.uniform(0.15, 0.4)
            t_in = t + extend
            t_out = t_in + hold
            if kind.startswith("return"):  # place the item, then press it into place
                t_change = t_in + rng.uniform(0.15, 0.35)
            else:  # press while grasping, then lift
                t_change = t_in + press_s + rng.uniform(0.15, 0.4)
            # the item moves before the hand leaves: 0.2 s before, or half a short hold
            t_change = min(t_change, t_out - min(0.2, 0.5 * hold))
            sh.reaches.append(Reach(
                spot=stop.spot, kind=kind, qty=qty, target=target, t_start=t, t_in=t_in,
                t_change=t_change, t_out=t_out, t_end=t_out + retract,
                press_g=float(rng.uniform(40, 300)), press_s=press_s,
            ))
            t = t_out + retract + rng.uniform(*world.pause_s)
        t += rng.uniform(*world.linger_s)
        sh.segments.append(Stand(t_stand0, t, stand, heading))
        pos = stand
    _walk(sh, planner, pos, np.array([x_out, OUTSIDE_Y]), t)
    return arrivals


def _walk(sh: Shopper, planner: Planner, a: np.ndarray, b: np.ndarray, t: float) -> float:
    sh.segments.append(plan_walk(planner, a, b, t, sh.speed))
    return sh.segments[-1].t1


def _door_times(sh: Shopper) -> tuple[float, float]:
    """When the centre first enters the entrance zone, and first enters the exit zone. A
    walk smoothed round a door jamb can carry the centre past a corner of its zone
    without entering it; the door is then passed when the centre crosses the wall line
    (the first time inside the store, the last time out of it)."""
    ent, ext = entrance_zone(), exit_zone()

    def inside(p, z) -> bool:
        return bool(z[0, 0] <= p[0] <= z[1, 0] and z[0, 1] <= p[1] <= z[2, 1])

    entered = exited = math.nan
    came_in = went_out = math.nan
    last_walk = sh.segments[-1]
    for t in np.arange(sh.t0, sh.t1, 0.01):
        p, _, _ = sh.position(float(t))
        if math.isnan(entered) and inside(p, ent):
            entered = float(t)
        if t >= last_walk.t0 and math.isnan(exited) and inside(p, ext):
            exited = float(t)
        if p[1] < FLOOR_H:
            if math.isnan(came_in):
                came_in = float(t)
        elif t >= last_walk.t0 and math.isnan(went_out):
            went_out = float(t)
    entered = came_in if math.isnan(entered) else entered
    exited = went_out if math.isnan(exited) else exited
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
                  n_shoppers: int | None = None, world: World = PRESET_WORLD) -> Scenario:
    """Plan, time and execute a preset in ``world``. Deterministic for a given (preset,
    seed, ..., world)."""
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
    if world.one_by_one > 0 or world.again > 0:
        _one_by_one(rng, plans, world.one_by_one, world.again)
    shoppers = []
    arrivals = []
    for i, stops in enumerate(plans):
        sh = Shopper(i + 1, random_body(rng, world), float(rng.uniform(*world.speed_ms)), stops)
        arrivals.append(build_timeline(sh, planner, rng, world))
        shoppers.append(sh)
    if world.dressed_alike:
        _dress_alike(rng, shoppers, syncs, world.dressed_alike)
    auto = duration is None and preset != "busy"
    if duration is None:
        duration = 120.0
    window = math.inf if auto else duration - 1.5  # everyone leaves 1.5 s before the end
    entries = _entry_times(rng, preset, shoppers, syncs, arrivals, window)
    for sh, e in zip(shoppers, entries):
        sh.shift(e)
    make_room(shoppers, planner, window, world.room_gap_m)
    if world.give_way:
        give_way(shoppers, planner, window, world.room_gap_m)
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
    return Scenario(preset, seed, float(duration), shoppers, stock, world)


def _one_by_one(rng, plans: list[list[Stop]], share: float, again: float) -> None:
    """Make a ``share`` of the multi-unit takes one reach per unit, back to back, and
    follow a share ``again`` of the takes with a reach for one more unit."""
    for stops in plans:
        for st in stops:
            intents = []
            for kind, qty in st.intents:
                if kind == "take" and qty > 1 and rng.random() < share:
                    intents += [("take", 1)] * qty
                else:
                    intents.append((kind, qty))
                if kind == "take" and rng.random() < again:
                    intents.append(("take", 1))
            st.intents = intents


def _dress_alike(rng, shoppers: list[Shopper], syncs, n_pairs: int) -> None:
    """Give ``n_pairs`` pairs of shoppers the same clothes and hair colour (their sizes
    stay their own); pairs that meet at a shelf first, where it is hardest."""
    pairs = [(a, b) for a, _, b, _ in syncs]
    n = len(shoppers)
    if n >= 2:
        order = rng.permutation(n)
        pairs += [(int(order[k]), int(order[k + 1])) for k in range(0, n - 1, 2)]
    used: set[int] = set()
    for a, b in pairs:
        if n_pairs == 0:
            break
        if a in used or b in used:
            continue
        src, dst = shoppers[a], shoppers[b]
        dst.body = replace(dst.body, shirt=src.body.shirt, sleeve=src.body.sleeve,
                           hair=src.body.hair, cap=src.body.cap, bag=src.body.bag)
        used |= {a, b}
        n_pairs -= 1



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
