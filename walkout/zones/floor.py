"""Zones for a store seen by several cameras, on the floor tracks of
:class:`walkout.floor.FloorTracker`.

The single-camera :class:`walkout.zones.Zones` works in one camera's pixels. Here a shopper is
a track on the floor, in metres, kept by every camera that sees them:

- **Doors** are the store's floor polygons (:meth:`walkout.zones.doors.Doors.on_floor`),
  debounced as on one camera; a track that ends inside the exit has left.
- **Shoppers.** A floor track first reported within ``entrance_margin_m`` of the entrance
  starts a shopper at the door; one first reported elsewhere continues a shopper whose
  track has ended (lost, or about to be: found again within ``lost_after_s``) who could
  have walked there (within ``reid_margin_m`` plus ``reid_speed_mps`` times the time
  since they were seen, the nearest), else becomes a new shopper the cameras did not see
  come in (``unseen`` while nobody inside is missing, else ``appeared``: their receipt is
  flagged ``lost_track``, as :class:`walkout.zones.Zones` does). A track first reported
  beyond a door's wall is someone outside the store (a camera looking through the door
  sees the street), and one first reported in the exit that continues nobody is on their
  way out: for both the doors decide whether they come in. Unseen by every camera
  for ``lost_after_s`` a shopper is lost, and after ``reid_window_s`` gone.
- **Reach** is judged on the floor: a shopper standing within ``REACH_M`` of a shelf's
  front (an arm's length and half a body), along it or up to half that past its ends, is
  near it; the gap fusion weighs is from the front of their body (``BODY_DEPTH_M`` before
  their middle) to the shelf, and to each plate along the front, in box sizes (``BOX_M``).
  The floor position comes from every camera that sees the shopper, so a shopper hidden
  from one camera by a neighbour or a shelf is still placed; a reach into a shelf moves a
  box's middle toward it, and with it the floor position. (Judging reach in each camera's
  pixels, as one camera does, fails in perspective views: a standing body's box overlaps
  every shelf behind it. docs/notes.md has the figures.)

Floor tracks do not change hands, so nothing is repaired here (``repairs`` stays empty and
nobody is ``busy``); telling people apart is the floor tracker's job.
"""

from __future__ import annotations

import cv2
import numpy as np

from ..config import StoreConfig
from ..config.world import REACH_M
from .doors import Doors
from .scene import Near, Scene, Shopper, ZoneParams
from .visits import Visits

# half a body's depth, chest to back: from a shopper's middle to the front of their body
BODY_DEPTH_M = 0.15
# a person's box seen from above is about this long (shoulders and arms): the unit of the
# gaps fusion weighs (walkout.fusion.params.gap_scale)
BOX_M = 0.55


def _door_wall(door: np.ndarray, inner) -> tuple[np.ndarray, np.ndarray] | None:
    """The wall a door polygon lies on, as a point and its outward normal. A door zone is
    a strip along its wall (a door's width, a stride or two deep): of its long sides, the
    one further from ``inner`` (a point inside the store: the middle of its shelves)."""
    poly = np.asarray(door, float).reshape(-1, 2)
    if inner is None or len(poly) < 3:
        return None
    edges = [(poly[k], poly[(k + 1) % len(poly)]) for k in range(len(poly))]
    longest = max(float(np.hypot(*(b - a))) for a, b in edges)
    best, wall = -np.inf, None
    for a, b in edges:
        if float(np.hypot(*(b - a))) < 0.9 * longest:
            continue
        n = np.array([b[1] - a[1], a[0] - b[0]])
        n /= max(float(np.hypot(*n)), 1e-9)
        if np.dot(a - inner, n) < 0:
            n = -n   # away from the store's inside
        gap = float(np.dot(a - inner, n))   # how far the side's line is from inside
        if gap > best:
            best, wall = gap, (a, n)
    return wall


class FloorZones:
    """Reach, doors and shoppers from floor tracks and every camera's boxes (module doc)."""

    def __init__(self, store: StoreConfig, params: ZoneParams | None = None) -> None:
        if store.world is None:
            raise ValueError("FloorZones needs a store with cameras: (world metres)")
        self.store = store
        self.params = p = params or ZoneParams()
        world = store.world
        self.cameras = [c.id for c in world.cameras]
        fps = max(c.fps for c in world.cameras)
        self.doors = Doors.on_floor(world.entrance, world.exit, p.frames(p.door_s, fps))
        inner = np.mean([b.to_world([[b.size[0] / 2, b.size[1] / 2, 0.0]])[0, :2]
                         for b in world.shelves], axis=0) if world.shelves else None
        self._walls = [w for w in (_door_wall(world.entrance, inner),
                                   _door_wall(world.exit, inner)) if w is not None]
        self.visits = Visits(p)
        self.shoppers: dict[str, Shopper] = {}
        self.shopper_of: dict[int, str] = {}       # floor track -> shopper
        self.repairs: list[tuple[float, tuple[str, ...]]] = []
        self._t = 0.0

    def busy(self) -> set[str]:
        return set()

    def shopper_at(self, track: int, t: float) -> str:
        """The shopper a floor track shows ("" if none); floor tracks never change hands."""
        return self.shopper_of.get(track, "")

    # ---- one tick ------------------------------------------------------------------------------
    def update(self, t: float, people: list[tuple[int, float, float]],
               views: dict[str, tuple[np.ndarray | None, list[tuple[int, tuple]]]]) -> Scene:
        """One tick: the confirmed floor tracks ``(track, x, y)`` and, per camera, its image
        (or None) and the boxes it gave each track. The scene's boxes are each track's box
        in the first camera (in the store's order) that saw it, NaN where none did."""
        self._t = t
        ids = np.array([tid for tid, _, _ in people], np.int64)
        where = {tid: (x, y) for tid, x, y in people}
        boxes = np.full((len(ids), 4), np.nan)
        row = {tid: k for k, tid in enumerate(ids.tolist())}
        for cam_id in self.cameras:
            for tid, b in views.get(cam_id, (None, []))[1]:
                if tid in row and np.isnan(boxes[row[tid], 0]):
                    boxes[row[tid]] = b
        near = [n for tid, xy in where.items() for n in self._floor_near(tid, xy)]
        scene = Scene(t, ids, boxes, [], near)
        self._identify(t, where, scene)
        scene.shoppers = [self.shopper_of.get(tid, "") for tid in ids.tolist()]
        for tid, xy in where.items():
            s = self.shoppers.get(self.shopper_of.get(tid, ""))
            if s is not None and s.track == tid:
                s.last_t, s.last_xy, s.lost = t, xy, False
                self.doors.step(s, t, xy, scene)
        self._lose(t, scene)
        self.visits.update(t, scene, self.shopper_of)
        return scene

    def _floor_near(self, tid: int, xy) -> list[Near]:
        """The shelves a shopper at floor ``xy`` could reach into (module doc)."""
        out = []
        for s in self.store.world.shelves:
            along, into = s.to_local([xy])[0]
            away = -into
            if not (0.0 <= away <= REACH_M and -REACH_M / 2 <= along <= s.size[0] + REACH_M / 2):
                continue
            gap = max(0.0, away - BODY_DEPTH_M)
            plates = {p.id: float(np.hypot(max(0.0, p.x0 - along, along - p.x1), gap)) / BOX_M
                      for p in s.plates}
            out.append(Near(tid, s.id, gap / BOX_M, plates))
        return out

    def finish(self, t: float) -> Scene:
        """End of the stream: close open visits (shoppers still inside keep their carts)."""
        return self.visits.last_scene(t)

    # ---- shoppers ------------------------------------------------------------------------------
    def _identify(self, t: float, where: dict[int, tuple[float, float]], scene: Scene) -> None:
        """New floor tracks become shoppers, or continue a lost one (module doc)."""
        p = self.params
        for tid, xy in where.items():
            if tid in self.shopper_of:
                continue
            dist = float(-self._entrance_gap(xy))
            # a shopper inside whose track no longer reports (the floor tracker reports
            # every track it keeps, seen or not: theirs has ended), lost or about to be
            lost = [s for s in self.shoppers.values() if s.state == "inside"
                    and s.track not in where and s.last_t < t
                    and np.hypot(xy[0] - s.last_xy[0], xy[1] - s.last_xy[1])
                    <= p.reid_margin_m + p.reid_speed_mps * (t - s.last_t)]
            if dist <= 0 or self._outdoors(xy):
                s = self._new(tid, t, xy)   # in the door or outside it: the doors decide
            elif dist <= p.entrance_margin_m:
                # just past the door: found a stride in (two walking in side by side)
                s = self._new(tid, t, xy)
                s.state, s.entered_t = "inside", t
                scene.entered.append((s.id, t))
            elif lost:
                s = min(lost, key=lambda s: np.hypot(xy[0] - s.last_xy[0],
                                                     xy[1] - s.last_xy[1]))
                s.track, s.lost = tid, False
            elif self.doors.at_exit(xy):
                # someone in the exit no track led there: on their way out (or looking
                # in), not a shopper inside: the doors decide
                s = self._new(tid, t, xy)
            else:
                missing = any(o.lost and o.state == "inside" for o in self.shoppers.values())
                s = self._new(tid, t, xy)
                s.state = "inside"
                (scene.appeared if missing else scene.unseen).append((s.id, t))
            self.shopper_of[tid] = s.id

    def _outdoors(self, xy) -> bool:
        """Whether ``xy`` is beyond the wall of a door: outside the store (a camera that
        looks through a door sees people in the street)."""
        return any(float(np.dot(np.asarray(xy, float) - a, n)) > 0 for a, n in self._walls)

    def _entrance_gap(self, xy) -> float:
        """Signed distance (metres) from ``xy`` to the entrance: positive inside."""
        return float(cv2.pointPolygonTest(self.doors.entrance, (float(xy[0]), float(xy[1])),
                                          True))

    def _new(self, tid: int, t: float, xy) -> Shopper:
        sid = str(len(self.shoppers) + 1)
        s = Shopper(sid, tid, t, (float(xy[0]), float(xy[1])))
        self.shoppers[sid] = s
        return s

    def _lose(self, t: float, scene: Scene) -> None:
        """Shoppers unseen for ``lost_after_s`` are lost; in the exit zone then, they have
        left; lost for ``reid_window_s``, gone."""
        p = self.params
        for s in self.shoppers.values():
            if s.state != "inside" or s.last_t >= t:
                continue
            if not s.lost and t - s.last_t >= p.lost_after_s:
                s.lost = True
                if s.door_run and self.doors.at_exit(s.last_xy):
                    s.state = "exited"
                    scene.exited.append((s.id, s.door_t))
                    continue
            if s.lost and t - s.last_t >= p.reid_window_s:
                s.state = "gone"
                scene.gone.append((s.id, s.last_t))
