"""Personal space: nobody stands where someone else is standing.

Timelines are planned one shopper at a time; :func:`make_room` then places shoppers in the
order they come in, and a shopper whose place at a shelf is taken during their stand stands
beside it instead, or waits for room (see :func:`make_room`).
"""

from __future__ import annotations

import math

import numpy as np

from .layout import Planner
from .shoppers import Shopper, Stand, plan_walk

ROOM_STEP = 0.1   # metres: how far apart the places tried along the shelf are
ROOM_MAX = 0.6    # ... and at most this far from the planned place (still before the plate)
ROOM_GAP = 0.04   # metres strangers leave between their shoulders standing side by side
ROOM_TRIES = 5    # times a shopper waits for room before standing where planned anyway


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
            if not isinstance(seg, Stand):
                continue
            for _ in range(ROOM_TRIES):
                pos = _free_place(sh, seg, placed, planner, gap)
                if pos is not None or not _wait_for_room(sh, i, placed, window, gap):
                    break
            if pos is not None and not np.allclose(pos, seg.pos):
                _move_stand(sh, i, pos, planner, window)
        placed.append(sh)


def _wait_for_room(sh: Shopper, i: int, placed: list[Shopper], window: float,
                   gap: float) -> bool:
    """No room at stand ``i``: come ``sh`` after the stands in the way end, lingering at
    the stop before (or coming in later). False if that would keep them past ``window``."""
    st = sh.segments[i]
    ends = [t1 for q, w, t1 in _stands_during(placed, st)
            if _too_close(sh, st.pos, q, w, gap)]
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


def _too_close(sh: Shopper, p: np.ndarray, q: np.ndarray, width: float, gap: float) -> bool:
    """Whether ``sh`` standing at ``p`` would come nearer than ``gap`` to someone ``width``
    wide standing at ``q``."""
    return bool(np.hypot(*(p - q)) < (width + sh.body.shoulder_w) / 2 + gap)


def _free_place(sh: Shopper, st: Stand, placed: list[Shopper], planner: Planner,
                gap: float) -> np.ndarray | None:
    """The place nearest ``st.pos`` along the shelf where ``sh`` stands clear of everyone
    standing in ``placed`` during the stand; None if there is none within ``ROOM_MAX``."""
    taken = _stands_during(placed, st)

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

