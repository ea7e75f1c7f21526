"""A store seen by several calibrated cameras: its geometry in world metres, and each
camera's view of it in that camera's pixels.

A store.yaml with a ``cameras:`` list (instead of one ``camera:``) describes the store in
world coordinates: metres, the floor at ``z = 0``, ``z`` up. Shelves are 3D boxes (an
origin corner, a size along the shelf's front, into it and up, and a turn about ``z``),
their plates are spans along the front, and the entrance and exit are floor polygons. Each
camera has its calibration (:class:`walkout.geometry.Calibration`).

:func:`camera_view` turns that into the pixel description the single-camera pipeline
reads (:class:`walkout.config.StoreConfig`) for one camera, by projecting the geometry:

- a shelf's polygon is the outline of its box, a plate's the outline of its part of it;
- its reach zone is where a shopper reaching into it shows: they stand in the aisle in
  front of it, ``REACH_M`` deep (an arm's length and half a body), the whole shelf long and
  ``REACH_M / 2`` past each end. A camera that places a shopper at the feet (``oblique``)
  sees that floor area; one that places them at their box (``overhead``) sees their head
  and shoulders above it, from ``SHOULDER_M`` to ``PERSON_M`` up, and the zone is the
  outline of that slab;
- the entrance and exit are their floor polygons, seen the same way (at the feet, or as
  the slab of heads and shoulders above them).

Edges are sampled before projection so that a lens's barrel distortion bends them as it
bends the shelves in the image. Points behind a camera are left out; a shelf of which a
camera sees fewer than three points, or whose outline lies wholly outside its frame, is not
in that camera's view. A camera given by a floor homography alone places everything at its
footprint on the floor: right below the lens that is where it shows, further off a shelf's
top shows nearer the image centre than its footprint (height parallax).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import cv2
import numpy as np

from ..geometry import Calibration

if TYPE_CHECKING:
    from .store import StoreConfig

# an arm reaches about 0.7 m from the shoulder, and a shopper's centre stands up to half a
# body (0.15 m) behind it: anyone reaching into a shelf stands within 0.8 m of its front
REACH_M = 0.8
# the top of a tall shopper's head (the 99th percentile of adult height is about 1.9 m),
# and the shoulders of a short one (about 1.0 m for the 1st percentile of adult height):
# from above a shopper's box shows what lies between
PERSON_M = 1.9
SHOULDER_M = 1.0
# samples per box edge: enough for a fisheye's curve to bend a shelf's outline within a
# pixel or two at the edge of its view
EDGE_SAMPLES = 12


@dataclass(frozen=True)
class CameraSpec:
    """One camera of the store: its id, where its frames come from (a file next to the
    store.yaml, or a device), its frame size and rate, its calibration and how a person
    is placed in it (``overhead``: at their box; ``oblique``: at their feet). ``start_s``:
    the time of its first frame on the store's clock (recordings that began apart).
    ``ignore``: where in its pictures a box is a fixture the detector takes for a person."""

    id: str
    width: int
    height: int
    fps: float
    calibration: Calibration
    source: str | None = None
    view: str = "overhead"
    start_s: float = 0.0
    # polygons (this camera's pixels) where a box standing there is a fixture, not a
    # person (``detector.ignore`` of one camera)
    ignore: tuple[np.ndarray, ...] = ()


@dataclass(frozen=True)
class PlateSpan:
    """A plate: the part of its shelf from ``x0`` to ``x1`` metres along the front."""

    id: str
    sku: str
    x0: float
    x1: float
    units: int | None = None


@dataclass(frozen=True)
class ShelfBox:
    """A shelf as a box: ``origin`` (world metres) is its corner at the left end of the
    front, on the board; ``size`` is its length along the front, its depth into the shelf
    and its clear height; ``yaw_deg`` turns it about ``z`` (0: the front runs along world
    +x and the shelf lies toward +y, the aisle toward -y)."""

    id: str
    origin: tuple[float, float, float]
    size: tuple[float, float, float]
    yaw_deg: float
    plates: tuple[PlateSpan, ...]
    gondola: str | None = None

    def to_world(self, local: np.ndarray) -> np.ndarray:
        """Local (along, into, up) metres -> world metres."""
        a = math.radians(self.yaw_deg)
        R = np.array([[math.cos(a), -math.sin(a), 0.0], [math.sin(a), math.cos(a), 0.0],
                      [0.0, 0.0, 1.0]])
        return np.asarray(local, float) @ R.T + np.asarray(self.origin, float)

    def to_local(self, xy) -> np.ndarray:
        """World floor points (N, 2) -> local (along, into) metres (into < 0: the aisle)."""
        a = math.radians(self.yaw_deg)
        d = np.asarray(xy, float).reshape(-1, 2) - np.asarray(self.origin[:2], float)
        return np.c_[d[:, 0] * math.cos(a) + d[:, 1] * math.sin(a),
                     -d[:, 0] * math.sin(a) + d[:, 1] * math.cos(a)]

    def box(self, x0: float = 0.0, x1: float | None = None) -> np.ndarray:
        """Sampled edges (world) of the part of the box from ``x0`` to ``x1`` along it."""
        L, D, Hh = self.size
        return self.to_world(box_edges((x0, L if x1 is None else x1), (0.0, D), (0.0, Hh)))

    def reach_floor(self) -> np.ndarray:
        """The floor (x, y) where a shopper reaching into it stands: a (4, 2) polygon."""
        L = self.size[0]
        local = np.array([[-REACH_M / 2, -REACH_M, 0.0], [L + REACH_M / 2, -REACH_M, 0.0],
                          [L + REACH_M / 2, 0.0, 0.0], [-REACH_M / 2, 0.0, 0.0]])
        return self.to_world(local)[:, :2]


@dataclass(frozen=True)
class World:
    """The store in world metres, and its cameras."""

    cameras: tuple[CameraSpec, ...]
    shelves: tuple[ShelfBox, ...]
    entrance: np.ndarray   # (N, 2) floor metres
    exit: np.ndarray

    def camera(self, camera_id: str) -> CameraSpec:
        for c in self.cameras:
            if c.id == camera_id:
                return c
        raise KeyError(camera_id)


def box_edges(xs: tuple[float, float], ys: tuple[float, float], zs: tuple[float, float],
              n: int = EDGE_SAMPLES) -> np.ndarray:
    """Points along the 12 edges of an axis-aligned box, ``n`` per edge."""
    corners = np.array([[x, y, z] for x in xs for y in ys for z in zs])
    out = []
    for i in range(8):
        for j in range(i + 1, 8):
            if np.count_nonzero(corners[i] != corners[j]) == 1:   # an edge
                s = np.linspace(0.0, 1.0, n)[:, None]
                out.append(corners[i] + s * (corners[j] - corners[i]))
    return np.concatenate(out)


def ring(floor: np.ndarray, n: int = EDGE_SAMPLES) -> np.ndarray:
    """Points along the edges of a polygon, ``n`` per edge, in order."""
    poly = np.asarray(floor, float)
    return np.concatenate([poly[k] + np.linspace(0.0, 1.0, n)[:-1, None]
                           * (poly[(k + 1) % len(poly)] - poly[k]) for k in range(len(poly))])


def slab(floor: np.ndarray, z0: float, z1: float, n: int = EDGE_SAMPLES) -> np.ndarray:
    """Points along the edges of a floor polygon raised to span ``z0``-``z1`` metres."""
    r = ring(floor, n)
    out = [np.c_[r, np.full(len(r), z)] for z in (z0, z1)]
    out += [np.c_[np.repeat(p[None], n, 0), np.linspace(z0, z1, n)]
            for p in np.asarray(floor, float)]
    return np.concatenate(out)


def standing(cam: CameraSpec, floor: np.ndarray) -> np.ndarray | None:
    """Where shoppers standing on ``floor`` (a polygon, metres) show in ``cam``: at their
    feet on the floor polygon itself (``oblique``; its edges sampled, so any shape holds),
    or at their box, the outline of the slab of heads and shoulders above it
    (``overhead``). None when the camera does not see it."""
    if cam.view == "overhead":
        return outline(cam, slab(floor, SHOULDER_M, PERSON_M))
    r = ring(floor)
    px, front = cam.calibration.project(np.c_[r, np.zeros(len(r))])
    if not front.all():
        return None
    lo, hi = px.min(axis=0), px.max(axis=0)
    if hi[0] < 0 or hi[1] < 0 or lo[0] > cam.width or lo[1] > cam.height:
        return None
    return px


def outline(cam: CameraSpec, points: np.ndarray) -> np.ndarray | None:
    """The convex outline, in ``cam``'s pixels, of world points seen by it; None when
    fewer than three are in front of it or the outline misses the frame."""
    calib = cam.calibration
    if not calib.full:   # a floor homography: everything at its footprint on the floor
        points = np.c_[points[:, :2], np.zeros(len(points))]
    px, front = calib.project(points)
    px = px[front & np.isfinite(px).all(axis=1)]
    if len(px) < 3:
        return None
    hull = cv2.convexHull(px.astype(np.float32)).reshape(-1, 2).astype(np.float64)
    lo, hi = hull.min(axis=0), hull.max(axis=0)
    if hi[0] < 0 or hi[1] < 0 or lo[0] > cam.width or lo[1] > cam.height or len(hull) < 3:
        return None
    return hull


def camera_view(store: StoreConfig, camera_id: str) -> StoreConfig:
    """``store`` (loaded from a ``cameras:`` store.yaml) as ``camera_id`` sees it: every
    shelf, plate and door in that camera's pixels (see the module doc)."""
    from .store import Camera, Plate, Shelf, Zones  # the pixel types this builds

    world = store.world
    if world is None:
        raise ValueError("this store has one camera and no world geometry")
    cam = world.camera(camera_id)
    shelves = []
    for s in world.shelves:
        poly, reach = outline(cam, s.box()), standing(cam, s.reach_floor())
        if poly is None or reach is None:
            # a shelf this camera does not see lies outside its frame (its plates still
            # weigh, and every view of the store has every plate)
            poly = reach = OUTSIDE
        plates = tuple(Plate(p.id, p.sku, p.units, outline(cam, s.box(p.x0, p.x1)))
                       for p in s.plates)
        shelves.append(Shelf(s.id, poly, reach, plates, s.gondola))
    # a door this camera does not see lies outside its frame: nobody is in it there
    doors = [d if (d := standing(cam, floor)) is not None else OUTSIDE
             for floor in (world.entrance, world.exit)]
    camera = Camera(cam.width, cam.height, cam.fps, cam.calibration.floor_homography(),
                    cam.view)
    return replace(store, camera=camera, shelves=tuple(shelves), zones=Zones(*doors),
                   detector=replace(store.detector, ignore=cam.ignore), camera_id=cam.id)


OUTSIDE = np.array([[-3.0, -3.0], [-2.0, -3.0], [-2.0, -2.0]])  # pixels no frame has
