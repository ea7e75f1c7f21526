"""The simulated store's floor plan, in metres, and a walkable-floor path planner.

The floor is 8 m x 6 m, seen straight down by one ceiling camera; x runs right and y runs
down the image. Four gondolas (shelving units) with two shelves (levels) each stand along
the top wall, back to back in an island, and along the left wall. Each shelf has three
load-cell plates side by side along the gondola's open face. A shopper stands in the reach
zone in front of the face and reaches over the plate. Doors are in the bottom wall: the
entrance on the left, the exit on the right.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from ..config import (
    Camera,
    DetectorSettings,
    Plate,
    Product,
    Sensors,
    Shelf,
    StoreConfig,
    Zones,
)
from .catalogue import BY_SKU, PLANOGRAM

FLOOR_W, FLOOR_H = 8.0, 6.0  # metres
REACH_DEPTH = 0.8  # metres of aisle in front of a face from which a shelf is reached
BODY_RADIUS = 0.32  # metres: half a shopper's width, arms at the sides
CLEARANCE = 0.12  # metres planned beyond the body radius; smoothing cuts corners by less
OUTSIDE_Y = 6.7  # metres; where shoppers appear and vanish, beyond the bottom wall
SIM_MODEL = "models/walkout-sim.pt"
SIM_IMGSZ = 416  # the input size walkout-sim.pt was trained at


@dataclass(frozen=True)
class Gondola:
    """A shelving unit: footprint rectangle (metres) and the side its face opens to."""

    id: str
    x0: float
    y0: float
    x1: float
    y1: float
    face: str  # "N", "S", "E" or "W": the direction a shopper reaching in looks from
    n_shelves: int = 2
    n_plates: int = 3

    @property
    def normal(self) -> np.ndarray:
        """Unit vector from the face out into the aisle."""
        return np.array({"N": (0, -1), "S": (0, 1), "E": (1, 0), "W": (-1, 0)}[self.face], float)

    @property
    def along(self) -> np.ndarray:
        """Unit vector along the face, the order plates are numbered in."""
        return np.array([1.0, 0.0]) if self.face in "NS" else np.array([0.0, 1.0])

    def face_segment(self) -> tuple[np.ndarray, np.ndarray]:
        x0, y0, x1, y1 = self.x0, self.y0, self.x1, self.y1
        return {
            "N": (np.array([x0, y0]), np.array([x1, y0])),
            "S": (np.array([x0, y1]), np.array([x1, y1])),
            "E": (np.array([x1, y0]), np.array([x1, y1])),
            "W": (np.array([x0, y0]), np.array([x0, y1])),
        }[self.face]

    def rect(self) -> np.ndarray:
        return _rect(self.x0, self.y0, self.x1, self.y1)

    def plate_rect(self, k: int) -> np.ndarray:
        """Footprint of plate k (0-based) on any shelf of this gondola."""
        if self.face in "NS":
            w = (self.x1 - self.x0) / self.n_plates
            return _rect(self.x0 + k * w, self.y0, self.x0 + (k + 1) * w, self.y1)
        h = (self.y1 - self.y0) / self.n_plates
        return _rect(self.x0, self.y0 + k * h, self.x1, self.y0 + (k + 1) * h)

    def plate_face_point(self, k: int) -> np.ndarray:
        a, b = self.face_segment()
        return a + (b - a) * (k + 0.5) / self.n_plates

    def reach_rect(self) -> np.ndarray:
        a, b = self.face_segment()
        far_a, far_b = a + self.normal * REACH_DEPTH, b + self.normal * REACH_DEPTH
        pts = np.array([a, b, far_b, far_a])
        return _rect(pts[:, 0].min(), pts[:, 1].min(), pts[:, 0].max(), pts[:, 1].max())


def _rect(x0: float, y0: float, x1: float, y1: float) -> np.ndarray:
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], float)


GONDOLAS: tuple[Gondola, ...] = (
    Gondola("G1", 2.4, 0.1, 5.6, 0.7, "S"),   # top wall
    Gondola("G2", 2.4, 2.5, 5.6, 3.05, "N"),  # island, north face
    Gondola("G3", 2.4, 3.05, 5.6, 3.6, "S"),  # island, south face
    Gondola("G4", 0.1, 1.2, 0.7, 4.4, "E"),   # left wall
)
ENTRANCE_DOOR = (1.0, 2.4)  # x range of the door in the bottom wall, metres
EXIT_DOOR = (5.6, 7.0)
DOOR_ZONE_DEPTH = 0.8  # metres inside the door that form the entrance / exit zone


@dataclass(frozen=True)
class PlateSpot:
    """Where one plate is: its ids, its gondola and plate index, its face point."""

    plate_id: str
    shelf_id: str
    sku: str
    gondola: Gondola
    k: int


def plate_spots() -> list[PlateSpot]:
    out = []
    for g in GONDOLAS:
        for s in range(1, g.n_shelves + 1):
            shelf_id = f"{g.id}S{s}"
            for k, sku in enumerate(PLANOGRAM[shelf_id]):
                out.append(PlateSpot(f"{shelf_id}P{k + 1}", shelf_id, sku, g, k))
    return out


def entrance_zone() -> np.ndarray:
    return _rect(ENTRANCE_DOOR[0], FLOOR_H - DOOR_ZONE_DEPTH, ENTRANCE_DOOR[1], FLOOR_H)


def exit_zone() -> np.ndarray:
    return _rect(EXIT_DOOR[0], FLOOR_H - DOOR_ZONE_DEPTH, EXIT_DOOR[1], FLOOR_H)


class View:
    """Floor metres <-> image pixels for a straight-down camera (a uniform scale + offset)."""

    def __init__(self, width: int = 640, height: int = 480, ppm: float | None = None,
                 origin: tuple[float, float] | None = None, body_scale: float = 1.0) -> None:
        """By default the floor just fills the frame, centred. ``ppm`` (pixels per metre)
        and ``origin`` (the floor point at the image's top-left corner, metres) place it
        otherwise; ``body_scale`` is how much larger than life-size-on-the-floor people
        look (they stand nearer the lens than the floor does)."""
        self.width, self.height = width, height
        self.body_scale = body_scale
        if ppm is None:
            self.ppm = min(width / FLOOR_W, height / FLOOR_H)  # pixels per metre
            self.ox = (width - FLOOR_W * self.ppm) / 2
            self.oy = (height - FLOOR_H * self.ppm) / 2
        else:
            self.ppm = ppm
            self.ox, self.oy = -origin[0] * ppm, -origin[1] * ppm

    def px(self, pts_m: np.ndarray) -> np.ndarray:
        pts = np.asarray(pts_m, float)
        return pts * self.ppm + np.array([self.ox, self.oy])

    @property
    def homography(self) -> np.ndarray:
        """Image pixels -> floor metres."""
        s = 1.0 / self.ppm
        return np.array([[s, 0, -self.ox * s], [0, s, -self.oy * s], [0, 0, 1.0]])


SHELF_Z = (0.4, 1.1)      # metres: the boards of the two shelf levels
SHELF_CLEAR_M = 0.5       # metres of clear height above each board


def to_world(p, z=0.0) -> np.ndarray:
    """Simulator floor points (N, 2) at height ``z`` -> right-handed world metres (N, 3),
    z up: ``X = x`` and ``Y = FLOOR_H - y`` (the simulator's y runs from the back wall
    toward the doors, as its single camera's image rows do), so the door wall is ``Y = 0``.
    """
    p = np.asarray(p, float).reshape(-1, 2)
    zz = np.broadcast_to(np.asarray(z, float), (len(p),))
    return np.c_[p[:, 0], FLOOR_H - p[:, 1], zz]


def world_layout(units: dict[str, int] | None = None) -> dict:
    """The simulated store's shelves and doors in world metres (:func:`to_world`), as a
    ``cameras:`` store.yaml holds them (``shelves``, ``zones``): each gondola level a box
    facing its aisle, its plates spans along the face in the simulator's order."""
    spots = plate_spots()
    shelves = []
    for g in GONDOLAS:
        a, b = (to_world(p)[0, :2] for p in g.face_segment())
        aisle = to_world(g.normal)[0, :2] - to_world([0.0, 0.0])[0, :2]
        # a box's own x runs along its front with the aisle on its right (walkout.config.world)
        along = np.array([-aisle[1], aisle[0]])
        yaw = math.degrees(math.atan2(along[1], along[0]))
        start = a if (b - a) @ along > 0 else b
        length = float(np.hypot(*(b - a)))
        depth = float(abs((g.rect()[2] - g.rect()[0]) @ g.normal))
        w = length / g.n_plates
        for s in range(1, g.n_shelves + 1):
            shelf_id = f"{g.id}S{s}"
            plates = []
            for sp in spots:
                if sp.shelf_id != shelf_id:
                    continue
                mid = float((to_world(g.plate_face_point(sp.k))[0, :2] - start) @ along)
                plate = {"id": sp.plate_id, "sku": sp.sku,
                         "span": [round(mid - w / 2, 6), round(mid + w / 2, 6)]}
                if units is not None:
                    plate["units"] = units[sp.plate_id]
                plates.append(plate)
            shelves.append({"id": shelf_id, "gondola": g.id,
                            "origin": [round(float(start[0]), 6), round(float(start[1]), 6),
                                       SHELF_Z[s - 1]],
                            "size": [length, depth, SHELF_CLEAR_M], "yaw_deg": round(yaw, 6),
                            "plates": plates})
    return {"shelves": shelves,
            "zones": {"entrance": to_world(entrance_zone())[:, :2].tolist(),
                      "exit": to_world(exit_zone())[:, :2].tolist()}}


# image pixels -> world floor metres, for a floor homography of the simulator's floor
SIM_TO_WORLD = np.array([[1.0, 0.0, 0.0], [0.0, -1.0, FLOOR_H], [0.0, 0.0, 1.0]])


def store_config(view: View, fps: float, units: dict[str, int], name: str,
                 clock_offset_s: float = 0.0) -> StoreConfig:
    """The store.yaml of the simulated store, in image pixels; ``clock_offset_s`` is the
    sensor clock's offset it states (``t_video = t_sensor + offset``)."""
    spots = plate_spots()
    skus = sorted({s.sku for s in spots})
    catalogue = tuple(
        Product(sku, BY_SKU[sku].name, BY_SKU[sku].weight_g, BY_SKU[sku].weight_sd_g,
                BY_SKU[sku].price)
        for sku in skus
    )
    shelves = []
    for g in GONDOLAS:
        for s in range(1, g.n_shelves + 1):
            shelf_id = f"{g.id}S{s}"
            plates = tuple(
                Plate(sp.plate_id, sp.sku, units[sp.plate_id], view.px(g.plate_rect(sp.k)))
                for sp in spots
                if sp.shelf_id == shelf_id
            )
            shelves.append(Shelf(shelf_id, view.px(g.rect()), view.px(g.reach_rect()),
                                 plates, g.id))
    return StoreConfig(
        camera=Camera(view.width, view.height, float(fps), view.homography),
        # a person at 0.45, where the sim model's precision and recall on clips it was not
        # trained on are both highest (models/README.md); boxes down to 0.25, ultralytics'
        # default, still extend tracks (a shopper half hidden behind another scores low)
        detector=DetectorSettings(SIM_MODEL, (0,), 0.45, SIM_IMGSZ, track_confidence=0.25),
        catalogue=catalogue,
        shelves=tuple(shelves),
        zones=Zones(view.px(entrance_zone()), view.px(exit_zone())),
        sensors=Sensors(60.0, clock_offset_s),
        name=name,
    )


class Planner:
    """Shortest walkable paths on a 0.1 m occupancy grid, straightened and smoothed.

    Fixtures are inflated by the body radius plus a clearance, walls block except at the two
    doors, and the strip beyond the bottom wall is walkable only in front of the doors.
    """

    def __init__(self, cell: float = 0.1) -> None:
        self.cell = cell
        nx, ny = int(round(FLOOR_W / cell)), int(round((OUTSIDE_Y + 0.3) / cell))
        xs = (np.arange(nx) + 0.5) * cell
        ys = (np.arange(ny) + 0.5) * cell
        X, Y = np.meshgrid(xs, ys)
        r = BODY_RADIUS
        free = (r < X) & (FLOOR_W - r > X) & (r < Y)
        for g in GONDOLAS:
            free &= ~((g.x0 - r < X) & (g.x1 + r > X) & (g.y0 - r < Y) & (g.y1 + r > Y))
        beyond = FLOOR_H - 0.1 - r < Y
        in_door = np.zeros_like(free)
        for lo, hi in (ENTRANCE_DOOR, EXIT_DOOR):
            in_door |= (lo + r < X) & (hi - r > X)
        free &= ~beyond | in_door
        self.free = free
        self.shape = free.shape
        self.graph = self._graph(free)

    def _graph(self, free: np.ndarray) -> csr_matrix:
        ny, nx = free.shape
        idx = np.arange(ny * nx).reshape(ny, nx)
        rows, cols, cost = [], [], []
        for dy, dx in ((0, 1), (1, 0), (1, 1), (1, -1)):
            # cell (i, j) links to (i + dy, j + dx) when both are free
            sa = (slice(0, ny - dy), slice(max(0, -dx), nx - max(0, dx)))
            sb = (slice(dy, ny), slice(max(0, dx), nx - max(0, -dx)))
            ok = free[sa] & free[sb]
            ia, ib = idx[sa], idx[sb]
            w = float(np.hypot(dx, dy))
            rows.append(ia[ok])
            cols.append(ib[ok])
            cost.append(np.full(int(ok.sum()), w))
        r, c, w = np.concatenate(rows), np.concatenate(cols), np.concatenate(cost)
        n = ny * nx
        return csr_matrix((np.r_[w, w], (np.r_[r, c], np.r_[c, r])), shape=(n, n))

    def without(self, discs: list[tuple[np.ndarray, float]]) -> Planner:
        """A planner whose floor also has the discs ``(centre, radius)`` (metres) blocked:
        for a walk around people standing or walking in the way."""
        out = copy.copy(self)
        ys, xs = ((np.arange(n) + 0.5) * self.cell for n in self.shape)
        X, Y = np.meshgrid(xs, ys)
        free = self.free.copy()
        for c, r in discs:
            free &= (X - c[0]) ** 2 + (Y - c[1]) ** 2 >= r * r
        out.free, out.graph = free, self._graph(free)
        return out

    def cell_of(self, p: np.ndarray) -> tuple[int, int]:
        j = int(np.clip(p[0] / self.cell, 0, self.shape[1] - 1))
        i = int(np.clip(p[1] / self.cell, 0, self.shape[0] - 1))
        return i, j

    def _nearest_free(self, p: np.ndarray) -> tuple[int, int]:
        i, j = self.cell_of(p)
        if self.free[i, j]:
            return i, j
        fi, fj = np.nonzero(self.free)
        k = int(np.argmin((fi - i) ** 2 + (fj - j) ** 2))
        return int(fi[k]), int(fj[k])

    def _visible(self, a: np.ndarray, b: np.ndarray) -> bool:
        n = max(2, int(np.linalg.norm(b - a) / (self.cell * 0.5)) + 1)
        p = np.linspace(a, b, n) / self.cell  # the cells of cell_of, all at once
        j = np.clip(p[:, 0], 0, self.shape[1] - 1).astype(int)
        i = np.clip(p[:, 1], 0, self.shape[0] - 1).astype(int)
        return bool(self.free[i, j].all())

    def path_length(self, a: np.ndarray, b: np.ndarray) -> float:
        """Metres along :meth:`path` from ``a`` to ``b``."""
        return float(np.linalg.norm(np.diff(self.path(a, b), axis=0), axis=1).sum())

    def path(self, a: np.ndarray, b: np.ndarray, step: float = 0.05) -> np.ndarray:
        """A smooth walkable ``(M, 2)`` polyline from ``a`` to ``b`` (metres), ~``step`` apart."""
        a, b = np.asarray(a, float), np.asarray(b, float)
        ia, ib = self._nearest_free(a), self._nearest_free(b)
        nx = self.shape[1]
        src, dst = ia[0] * nx + ia[1], ib[0] * nx + ib[1]
        _, pred = dijkstra(self.graph, indices=src, return_predecessors=True)
        if src != dst and pred[dst] < 0:
            raise RuntimeError(f"no walkable path from {a} to {b}")
        chain = [dst]
        while chain[-1] != src:
            chain.append(int(pred[chain[-1]]))
        cells = np.array(chain[::-1])
        pts = np.stack([(cells % nx + 0.5) * self.cell, (cells // nx + 0.5) * self.cell], 1)
        pts = np.vstack([a, pts[1:-1], b]) if len(pts) > 2 else np.vstack([a, b])
        # String pulling: keep a point only when the straight line past it is blocked.
        keep = [pts[0]]
        i = 0
        while i < len(pts) - 1:
            j = len(pts) - 1
            while j > i + 1 and not self._visible(pts[i], pts[j]):
                j -= 1
            keep.append(pts[j])
            i = j
        # Chaikin corner cutting on a polyline subdivided every 0.4 m: turns become arcs
        # that stay within ~0.1 m of the straightened path, ends stay put.
        poly = resample(np.array(keep), 0.4) if len(keep) > 2 else np.array(keep)
        for _ in range(3):
            if len(poly) < 3:
                break
            q = 0.75 * poly[:-1] + 0.25 * poly[1:]
            r = 0.25 * poly[:-1] + 0.75 * poly[1:]
            mid = np.empty((2 * len(q), 2))
            mid[0::2], mid[1::2] = q, r
            poly = np.vstack([poly[0], mid[1:-1], poly[-1]])
        return resample(poly, step)


def resample(poly: np.ndarray, step: float) -> np.ndarray:
    seg = np.linalg.norm(np.diff(poly, axis=0), axis=1)
    s = np.r_[0.0, np.cumsum(seg)]
    if s[-1] < 1e-9:
        return poly[:1].copy()
    n = max(2, int(np.ceil(s[-1] / step)) + 1)
    u = np.linspace(0.0, s[-1], n)
    return np.stack([np.interp(u, s, poly[:, 0]), np.interp(u, s, poly[:, 1])], 1)
