"""Doors, debounced: a shopper has entered once their anchor (box centre; feet on an oblique
camera) has been inside the entrance zone for ``door_frames`` consecutive frames, and has
exited after as many frames inside the exit zone. The time reported is the first of those
frames, so box flicker at the zone's edge never counts twice."""

from __future__ import annotations

import cv2
import numpy as np

from ..config import StoreConfig
from .scene import Scene, Shopper


class Doors:
    """The entrance and exit zones of a store, and each shopper's way through them."""

    def __init__(self, store: StoreConfig, door_frames: int) -> None:
        self.__init_polygons(store.zones.entrance, store.zones.exit, door_frames)

    @classmethod
    def on_floor(cls, entrance: np.ndarray, exit: np.ndarray, door_frames: int) -> Doors:
        """Doors given as floor polygons (metres), for shoppers placed on the floor."""
        doors = cls.__new__(cls)
        doors.__init_polygons(entrance, exit, door_frames)
        return doors

    def __init_polygons(self, entrance: np.ndarray, exit: np.ndarray, door_frames: int) -> None:
        if door_frames < 1:
            raise ValueError(f"door_frames: expected >= 1, got {door_frames}")
        self.door_frames = door_frames
        self.entrance = np.asarray(entrance, np.float32)
        self.exit = np.asarray(exit, np.float32)

    @staticmethod
    def inside(poly: np.ndarray, xy) -> bool:
        return cv2.pointPolygonTest(poly, (float(xy[0]), float(xy[1])), False) >= 0

    def at_entrance(self, xy) -> bool:
        return self.inside(self.entrance, xy)

    def at_exit(self, xy) -> bool:
        return self.inside(self.exit, xy)

    def near_entrance(self, xy, margin_px: float) -> bool:
        """Whether ``xy`` is inside the entrance zone or within ``margin_px`` of it."""
        return cv2.pointPolygonTest(self.entrance, xy, True) >= -margin_px

    def step(self, s: Shopper, t: float, xy, scene: Scene) -> None:
        """Shopper ``s`` seen at ``xy`` at ``t``: a crossing completed now goes into
        ``scene`` (``entered`` or ``exited``)."""
        if s.state == "outside":
            zone, nxt, out = self.entrance, "inside", scene.entered
        elif s.state == "inside":
            zone, nxt, out = self.exit, "exited", scene.exited
        else:
            return
        if self.inside(zone, xy):
            if s.door_run == 0:
                s.door_t = t
            s.door_run += 1
            if s.door_run >= self.door_frames:
                s.state, s.door_run = nxt, 0
                out.append((s.id, s.door_t))
                if nxt == "inside":
                    s.entered_t = s.door_t
        elif s.state == "outside" and s.door_run:
            s.state, s.door_run = "inside", 0  # walked on into the store: entered
            out.append((s.id, s.door_t))
            s.entered_t = s.door_t
        else:
            s.door_run = 0
