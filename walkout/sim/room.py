"""Personal space: nobody stands where someone else is standing, and nobody walks through
a body.

Timelines are planned one shopper at a time; :func:`make_room` then places shoppers in the
order they come in, and a shopper whose place at a shelf is taken during their stand stands
beside it instead, or waits for room (see :func:`make_room`). :func:`give_way` then takes
each walk around the people standing or walking in its way, or waits for them to pass.
"""

from __future__ import annotations

import math

import numpy as np

from .layout import Planner
from .shoppers import Shopper, Stand, Walk, plan_walk

ROOM_STEP = 0.1   # metres: how far apart the places tried along the shelf are
ROOM_MAX = 0.6    # ... and at most this far from the planned place (still before the plate)
ROOM_GAP = 0.04   # metres strangers leave between their shoulders standing side by side
ROOM_TRIES = 5    # times a shopper waits for room before standing where planned anyway
# Giving way (give_way):
WAY_STEP_S = 0.05  # seconds between the moments compared: two people closing at 3.2 m/s
#                    (both hurrying) move 0.16 m in that time, less than a torso's depth
WAY_DETOUR_M = 2.0  # metres a walker goes out of their way around someone: a step or two
#                     aside and back. Further than that, people wait for the way to clear
WAY_WAIT_STEP_S = 0.5  # seconds: how much longer, each time, a walker lingers before going
WAY_WAIT_MAX_S = 6.0   # ... and at most this long: a slow walker (0.5 m/s) clears 3 m of
#                        aisle in that time. After it, they walk as planned
WAY_AROUND_S = 1.0     # seconds either side of the meeting: the stretch of the other's way
#                        a detour keeps clear of (a step or two of theirs)
WAY_TRIES = 4          # detours planned, each clear of one more meeting, before waiting
WAY_PASSES = 4         # rounds over everyone's walks: a walk moved later may meet others


def make_room(shoppers: list[Shopper], planner: Planner, window: float,
              gap: float = ROOM_GAP) -> None:
    """Nobody stands where someone else is standing. Shoppers are placed in the order they
    come in; a shopper whose place at a shelf is taken for any moment of their stand (the
    other's body centre closer than half of both shoulder widths) stands beside instead:
    the nearest place along the shelf, up to ``ROOM_MAX`` away, clear of everyone already
    placed for the whole stand, reaching into the near side of the same plate (not across
    the neighbour). The walks in and out are planned again and the rest of their visit
    moves by the time that takes. With no such place they wait until the stands in the way
    end (:func:`_wait_for_room`). Neither is done when it would keep them in the store past
    ``window``. Timelines are otherwise planned one shopper at a time, so without this two
    shoppers at one plate stood inside each other. ``gap`` is the space left between two
    bodies (metres; below 0 they press together, as in a crowd)."""
    placed: list[Shopper] = []
    for sh in sorted(shoppers, key=lambda s: (s.t0, s.id)):
        for i, seg in enumerate(sh.segments):
            if isinstance(seg, Stand):
                _room_at(sh, i, placed, planner, window, gap)
        placed.append(sh)


def _room_at(sh: Shopper, i: int, others: list[Shopper], planner: Planner, window: float,
             gap: float, lead: float = 0.0) -> bool:
    """Make room for stand ``i`` of ``sh`` among the stands of ``others`` (see
    :func:`make_room`), the place clear from ``lead`` seconds before the stand; whether it
    was moved or waited for."""
    seg = sh.segments[i]
    t0 = seg.t0
    for _ in range(ROOM_TRIES):
        pos = _free_place(sh, seg, others, planner, gap, lead)
        if pos is not None or not _wait_for_room(sh, i, others, window, gap, lead):
            break
    if pos is not None and not np.allclose(pos, seg.pos):
        _move_stand(sh, i, pos, planner, window)
        return True
    return seg.t0 != t0


def _wait_for_room(sh: Shopper, i: int, placed: list[Shopper], window: float,
                   gap: float, lead: float = 0.0) -> bool:
    """No room at stand ``i``: come ``sh`` after the stands in the way end, lingering at
    the stop before (or coming in later). False if that would keep them past ``window``."""
    st = sh.segments[i]
    ends = [t1 for q, w, t1 in _stands_during(placed, st, lead)
            if _too_close(sh, st.pos, q, w, gap)]
    if not ends:
        return False
    delay = max(ends) - (st.t0 - lead) + ROOM_STEP
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


def _stands_during(placed: list[Shopper], st: Stand,
                   lead: float = 0.0) -> list[tuple[np.ndarray, float, float]]:
    """(place, shoulder width, end) of the stands of ``placed`` that overlap ``st`` (from
    ``lead`` seconds before it) in time."""
    return [(g.pos, o.body.shoulder_w, g.t1) for o in placed for g in o.segments
            if isinstance(g, Stand) and g.t0 < st.t1 and g.t1 > st.t0 - lead]


def _too_close(sh: Shopper, p: np.ndarray, q: np.ndarray, width: float, gap: float) -> bool:
    """Whether ``sh`` standing at ``p`` would come nearer than ``gap`` to someone ``width``
    wide standing at ``q``."""
    return bool(np.hypot(*(p - q)) < (width + sh.body.shoulder_w) / 2 + gap)


def _free_place(sh: Shopper, st: Stand, placed: list[Shopper], planner: Planner,
                gap: float, lead: float = 0.0) -> np.ndarray | None:
    """The place nearest ``st.pos`` along the shelf where ``sh`` stands clear of everyone
    standing in ``placed`` during the stand; None if there is none within ``ROOM_MAX``."""
    taken = _stands_during(placed, st, lead)

    def clear(p: np.ndarray) -> bool:
        return not any(_too_close(sh, p, q, w, gap) for q, w, _ in taken)

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
    walk_in = plan_walk(planner, before.path[0], pos, before.t0, sh.speed)
    walk_out = plan_walk(planner, pos, after.path[-1], 0.0, sh.speed)
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



def _shift_after(sh: Shopper, j: int, t_from: float, dt: float) -> None:
    """Shift segments ``j`` on, and the reaches from ``t_from`` on, by ``dt`` seconds."""
    for seg in sh.segments[j:]:
        seg.t0 += dt
        seg.t1 += dt
    for r in sh.reaches:
        if r.t_start >= t_from:
            r.shift(dt)



def give_way(shoppers: list[Shopper], planner: Planner, window: float,
             gap: float = ROOM_GAP) -> int:
    """Nobody walks through a body. Timelines are planned one shopper at a time, so walkers
    passed through people standing at shelves and through each other. Every walk that
    comes nearer to someone than half of both shoulder widths plus ``gap`` is planned again
    around the places the other is at about then (:data:`WAY_AROUND_S`), a detour of at
    most :data:`WAY_DETOUR_M`; failing that the walker lingers at the stop before (or comes
    in later) by up to :data:`WAY_WAIT_MAX_S` and then takes the plain or a detoured way.
    What follows the walk moves by the time it takes. Nothing is done that would keep
    anyone in the store past ``window``. Rounds repeat until no walk changes. Returns the
    walks still meeting someone (none found a way)."""
    for _ in range(WAY_PASSES):
        clock, tracks = _tracks(shoppers, window)
        moved, stuck = False, 0
        for sh in sorted(shoppers, key=lambda s: (s.t0, s.id)):
            others = [o for o in shoppers if o is not sh]
            for i, seg in enumerate(sh.segments):
                if isinstance(seg, Stand):  # nobody steps into a place still taken
                    changed = _room_at(sh, i, others, planner, window, gap, WAY_AROUND_S)
                elif _meeting(sh, seg, others, clock, tracks, gap) is None:
                    continue
                else:
                    changed = _reroute(sh, i, others, clock, tracks, planner, window, gap)
                    stuck += not changed
                if changed:
                    tracks[sh.id] = _track(sh, clock)
                    moved = True
        if not moved:
            break
    return stuck


def _tracks(shoppers: list[Shopper], window: float) -> tuple[np.ndarray, dict]:
    """A clock of :data:`WAY_STEP_S` steps and every shopper's centre on it (NaN away)."""
    end = min(window, max(sh.t1 for sh in shoppers) + WAY_WAIT_MAX_S + 30.0)
    clock = np.arange(0.0, end + WAY_STEP_S, WAY_STEP_S)
    return clock, {sh.id: _track(sh, clock) for sh in shoppers}


def _track(sh: Shopper, clock: np.ndarray) -> np.ndarray:
    """``sh``'s centre at each time of ``clock`` (NaN before they come and after they go)."""
    out = np.full((len(clock), 2), np.nan)
    for seg in sh.segments:
        k0, k1 = np.searchsorted(clock, [seg.t0, seg.t1], side="right")
        out[k0:k1] = seg.pos if isinstance(seg, Stand) else seg.points(clock[k0:k1])
    return out


def _meeting(sh: Shopper, walk: Walk, others: list[Shopper], clock: np.ndarray,
             tracks: dict, gap: float) -> tuple[float, Shopper] | None:
    """The first moment ``sh`` on ``walk`` comes nearer to someone than their two half
    shoulder widths and ``gap``, and who; None if never."""
    k0, k1 = np.searchsorted(clock, [walk.t0, walk.t1])
    if k1 <= k0:
        return None
    me = walk.points(clock[k0:k1])
    first: tuple[int, Shopper] | None = None
    for o in others:
        d = np.hypot(*(tracks[o.id][k0:k1] - me).T)
        near = np.nonzero(d < (sh.body.shoulder_w + o.body.shoulder_w) / 2 + gap)[0]
        if len(near) and (first is None or near[0] < first[0]):
            first = (int(near[0]), o)
    return None if first is None else (float(clock[k0 + first[0]]), first[1])


def _reroute(sh: Shopper, i: int, others: list[Shopper], clock: np.ndarray, tracks: dict,
             planner: Planner, window: float, gap: float) -> bool:
    """Walk ``i`` of ``sh`` meets someone: find a way that meets nobody (see
    :func:`give_way`) and take it. False (nothing changed) if there is none."""
    seg = sh.segments[i]
    a, b = seg.path[0], seg.path[-1]
    longest = float(planner.path_length(a, b)) + WAY_DETOUR_M
    for wait in np.arange(0.0, WAY_WAIT_MAX_S + 1e-9, WAY_WAIT_STEP_S):
        walk = Walk(seg.t0 + wait, seg.t1 + wait, seg.path, seg.cum, seg.v)
        discs: list[tuple[np.ndarray, float]] = []
        for _ in range(WAY_TRIES + 1):
            if sh.t1 + walk.t1 - seg.t1 > window:
                break
            met = _meeting(sh, walk, others, clock, tracks, gap)
            if met is None:
                _take(sh, i, walk, float(wait))
                return True
            discs += _way_of(met, sh, clock, tracks, gap + planner.cell)
            try:
                walk = plan_walk(planner.without(discs), a, b, seg.t0 + wait, sh.speed)
            except RuntimeError:  # walled in by the discs
                break
            if walk.cum[-1] > longest:
                break
    return False


def _way_of(met: tuple[float, Shopper], sh: Shopper, clock: np.ndarray, tracks: dict,
            gap: float) -> list[tuple[np.ndarray, float]]:
    """Discs a detour keeps out of: where the other is from :data:`WAY_AROUND_S` before
    the meeting to as long after, as wide as the two bodies and ``gap``."""
    t, o = met
    k0, k1 = np.searchsorted(clock, [t - WAY_AROUND_S, t + WAY_AROUND_S])
    pts = tracks[o.id][k0:k1:4]   # every 0.2 s: a slow step
    r = (sh.body.shoulder_w + o.body.shoulder_w) / 2 + gap
    return [(p, r) for p in pts if not np.isnan(p).any()]


def _take(sh: Shopper, i: int, walk: Walk, wait: float) -> None:
    """Put ``walk`` in place of walk ``i`` of ``sh``, who lingers ``wait`` seconds longer at
    the stop before (or comes in that much later); what follows moves to fit."""
    seg = sh.segments[i]
    if i > 0:
        sh.segments[i - 1].t1 += wait
    sh.segments[i] = walk
    _shift_after(sh, i + 1, seg.t1, walk.t1 - seg.t1)
