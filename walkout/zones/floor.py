"""Zones for a store seen by several cameras, on the floor tracks of
:class:`walkout.floor.FloorTracker`.

The single-camera :class:`walkout.zones.Zones` works in one camera's pixels. Here a shopper is
a track on the floor, in metres, kept by every camera that sees them:

- **Doors** are the store's floor polygons (:meth:`walkout.zones.doors.Doors.on_floor`),
  debounced as on one camera; a track that ends inside the exit has left.
- **Shoppers.** A floor track first reported within ``entrance_margin_m`` of the entrance
  starts a shopper at the door; one first reported elsewhere continues a lost shopper who
  could have walked there (within ``reid_margin_m`` plus ``reid_speed_mps`` times the time
  since they were seen, the nearest), else becomes a new shopper the cameras did not see
  come in (``appeared``: their receipt is flagged ``lost_track``). Unseen by every camera
  for ``lost_after_s`` a shopper is lost, and after ``reid_window_s`` gone.
- **Reach** is judged in every camera that sees the shopper, with that camera's view of the
  shelves (:class:`walkout.zones.reach.Reach` on :meth:`walkout.config.StoreConfig.view`):
  per shelf the reach that comes closest (the least gap, in box sizes) is kept, so a
  shopper hidden from one camera by a neighbour still reaches in another. The colour at the
  tip of a reach comes from a camera looking down.

Floor tracks do not change hands, so nothing is repaired here (``repairs`` stays empty and
nobody is ``busy``); telling people apart is the floor tracker's job.
"""

from __future__ import annotations

import cv2
import numpy as np

from ..config import StoreConfig
from .doors import Doors
from .reach import Reach
from .scene import Near, Scene, Shopper, ZoneParams
from .visits import Visits


class FloorZones:
    """Reach, doors and shoppers from floor tracks and every camera's boxes (module doc)."""

    def __init__(self, store: StoreConfig, params: ZoneParams | None = None) -> None:
        if store.world is None:
            raise ValueError("FloorZones needs a store with cameras: (world metres)")
        self.store = store
        self.params = p = params or ZoneParams()
        world = store.world
        self.reach = {c.id: Reach(store.view(c.id)) for c in world.cameras}
        fps = max(c.fps for c in world.cameras)
        self.doors = Doors.on_floor(world.entrance, world.exit, p.frames(p.door_s, fps))
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
        best: dict[tuple[int, str], Near] = {}
        for cam_id, reach in self.reach.items():
            image, seen = views.get(cam_id, (None, []))
            mine = [(tid, np.asarray(b, float)) for tid, b in seen if tid in row]
            tips = image is not None and reach.tips
            if tips:
                reach.update(image, np.array([b for _, b in mine]).reshape(-1, 4))
            for tid, box in mine:
                if np.isnan(boxes[row[tid], 0]):
                    boxes[row[tid]] = box
                for n in reach.near(tid, box, image=image if tips else None):
                    old = best.get((tid, n.shelf))
                    if old is None or n.gap < old.gap or (n.gap == old.gap and old.hand is None):
                        best[tid, n.shelf] = n
        scene = Scene(t, ids, boxes, [], list(best.values()))
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
            lost = [s for s in self.shoppers.values() if s.lost and s.state == "inside"
                    and np.hypot(xy[0] - s.last_xy[0], xy[1] - s.last_xy[1])
                    <= p.reid_margin_m + p.reid_speed_mps * (t - s.last_t)]
            if dist <= 0:
                s = self._new(tid, t, xy)              # in the door: the doors decide
            elif dist <= p.entrance_margin_m:
                # just past the door: found a stride in (two walking in side by side)
                s = self._new(tid, t, xy)
                s.state, s.entered_t = "inside", t
                scene.entered.append((s.id, t))
            elif lost:
                s = min(lost, key=lambda s: np.hypot(xy[0] - s.last_xy[0],
                                                     xy[1] - s.last_xy[1]))
                s.track, s.lost = tid, False
            else:
                s = self._new(tid, t, xy)
                s.state = "inside"
                scene.appeared.append((s.id, t))
            self.shopper_of[tid] = s.id

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
