"""The annotated video of a store seen by several cameras: every camera's frame, annotated
with its own view of the store (:class:`walkout.annotate.Annotator`), in a grid, and a floor
plan beside them.

The floor plan is drawn from the store's world geometry, seen from above with world ``x`` to
the right and world ``y`` up or down as it runs down the first camera's image (so the plan
and that camera show the store the same way round): the shelves' footprints (lit while
someone reaches into them), the entrance (green) and exit (red), the cameras (small
triangles, where calibrated), and each shopper as a dot in their colour with their id where
the floor tracker has them.
Every tile is the size of the first camera's frame; a camera without a frame in a tick keeps
its last one.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from .annotate import Annotator, Overlay, shopper_colour
from .config import StoreConfig

WHITE, GREY, DARK = (255, 255, 255), (150, 150, 150), (40, 40, 40)
GREEN, RED, AMBER = (60, 200, 60), (60, 60, 230), (0, 190, 255)


class Mosaic:
    """Frames of every camera and a floor plan in one image (module doc)."""

    def __init__(self, store: StoreConfig) -> None:
        world = store.world
        if world is None:
            raise ValueError("a mosaic needs a store with cameras: (world metres)")
        self.cameras = [c.id for c in world.cameras]
        self.annotators = {c: Annotator(store.view(c)) for c in self.cameras}
        first = world.cameras[0]
        self.tile = (first.width, first.height)
        n = len(self.cameras) + 1                       # the cameras and the plan
        self.cols = math.ceil(math.sqrt(n))
        self.rows = math.ceil(n / self.cols)
        self.size = (self.cols * self.tile[0], self.rows * self.tile[1])
        self.world = world
        self._last: dict[str, np.ndarray] = {}
        self._plan_map = self._fit()

    def _fit(self):
        """World (x, y) metres -> plan pixels: the shelves, doors and cameras fitted with a
        margin, x to the right and y up."""
        pts = [self.world.entrance, self.world.exit]
        for s in self.world.shelves:
            pts.append(s.box()[:, :2])
        for c in self.world.cameras:
            if c.calibration.full:
                pts.append(c.calibration.t[None, :2])
        allp = np.concatenate(pts)
        lo, hi = allp.min(axis=0) - 0.5, allp.max(axis=0) + 0.5
        w, h = self.tile
        scale = min(w / max(hi[0] - lo[0], 1e-6), h / max(hi[1] - lo[1], 1e-6))
        off = np.array([(w - (hi[0] - lo[0]) * scale) / 2, (h - (hi[1] - lo[1]) * scale) / 2])
        cam = self.world.cameras[0]
        down = cam.calibration.to_floor([[cam.width / 2, cam.height / 2],
                                         [cam.width / 2, cam.height / 2 + 10]])
        y_down = bool(down[1, 1] > down[0, 1])   # world y grows down the first camera's image

        def to_px(xy: np.ndarray) -> np.ndarray:
            xy = np.asarray(xy, float).reshape(-1, 2)
            u = (xy[:, 0] - lo[0]) * scale + off[0]
            v = (xy[:, 1] - lo[1]) * scale + off[1]
            return np.c_[u, v if y_down else h - v]

        return to_px

    def plan(self, t: float, floor: list[tuple[str, float, float]],
             reaching: dict[str, list[str]]) -> np.ndarray:
        """The floor plan at ``t``: ``floor`` is (shopper, x, y) per shopper seen."""
        w, h = self.tile
        img = np.full((h, w, 3), DARK, np.uint8)
        px = self._plan_map
        lit = {s for shelves in reaching.values() for s in shelves}
        for s in self.world.shelves:
            foot = cv2.convexHull(px(s.box()[:, :2]).astype(np.float32)).astype(np.int32)
            cv2.fillPoly(img, [foot], AMBER if s.id in lit else GREY)
        for poly, colour in ((self.world.entrance, GREEN), (self.world.exit, RED)):
            cv2.polylines(img, [px(poly).astype(np.int32)], True, colour, 2, cv2.LINE_AA)
        for c in self.world.cameras:
            if c.calibration.full:
                u, v = px(c.calibration.t[:2])[0]
                tri = np.array([[u, v - 7], [u - 6, v + 5], [u + 6, v + 5]], np.int32)
                cv2.fillPoly(img, [tri], WHITE)
        for sid, x, y in floor:
            u, v = px([x, y])[0]
            centre = (int(round(u)), int(round(v)))
            cv2.circle(img, centre, 7, shopper_colour(sid), -1, cv2.LINE_AA)
            cv2.putText(img, sid, (centre[0] + 9, centre[1] + 5), cv2.FONT_HERSHEY_SIMPLEX,
                        0.5, WHITE, 1, cv2.LINE_AA)
        cv2.putText(img, f"floor  t={t:.1f}s", (8, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.55, WHITE,
                    1, cv2.LINE_AA)
        return img

    def draw(self, t: float, images: dict[str, np.ndarray], overlays: dict[str, Overlay],
             floor: list[tuple[str, float, float]], reaching: dict[str, list[str]]
             ) -> np.ndarray:
        """One mosaic: each camera's image (kept from its last tick when it has none now)
        annotated with its overlay, and the floor plan."""
        w, h = self.tile
        out = np.zeros((self.size[1], self.size[0], 3), np.uint8)
        tiles = []
        for cid in self.cameras:
            if cid in images:
                ov = overlays.get(cid) or Overlay(t, np.zeros((0, 4)), [])
                self._last[cid] = self.annotators[cid].draw(images[cid], ov)
            img = self._last.get(cid)
            if img is None:
                img = np.zeros((h, w, 3), np.uint8)
            if img.shape[1] != w or img.shape[0] != h:
                img = cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA)
            tiles.append(img)
        tiles.append(self.plan(t, floor, reaching))
        for k, img in enumerate(tiles):
            r, c = divmod(k, self.cols)
            out[r * h:(r + 1) * h, c * w:(c + 1) * w] = img
        return out
