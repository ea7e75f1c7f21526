"""Reach presence: which shelves a box touches, and how far it reaches into each.

Each shelf's footprint and reach zone are rasterised once at a quarter of the image size
(:class:`ShelfMap`: an integral image of the zone, a distance transform of the shelf), so a
frame costs a few array slices per track and shelf geometry. Because the whole box counts,
not its centre, an arm stretched into a shelf brings the gap to 0 even when the body
stands back. On an ``oblique`` camera, where a box covers several sections of an aisle,
the feet (:func:`anchor`) are tested against the reach zone instead. When a box overlaps
a shelf and the image is given, :class:`walkout.hands.Hands` adds the colour at the tip of
the reach (``Near.hand``); from above only: an oblique camera shows no such tip.
"""

from __future__ import annotations

import cv2
import numpy as np

from ..config import StoreConfig
from ..hands import Hands
from ..types import Detections
from .scene import Near

GRID = 4  # pixels per cell of the rasterised zone maps


class ShelfMap:
    """One polygon (and optionally the zone it is reached from) rasterised in GRID-pixel
    cells: occupancy of the zone as an integral image, and the distance to the polygon."""

    def __init__(self, poly: np.ndarray, zone_poly: np.ndarray | None, w: int, h: int) -> None:
        gw, gh = -(-w // GRID), -(-h // GRID)
        inside = np.zeros((gh, gw), np.uint8)
        cv2.fillPoly(inside, [np.round(poly / GRID).astype(np.int32)], 1)
        zone = inside.copy()
        if zone_poly is not None:
            cv2.fillPoly(zone, [np.round(zone_poly / GRID).astype(np.int32)], 1)
        self.integral = cv2.integral(zone)
        dist = cv2.distanceTransform((1 - inside).astype(np.uint8), cv2.DIST_L2, 5)
        # a polygon with no cell in the frame (a shelf this camera does not see) is nowhere
        # near any box: every distance is infinite (not FLT_MAX times GRID, an overflow)
        self.dist = dist * GRID if inside.any() else np.full_like(dist, np.inf)
        self.gw, self.gh = gw, gh

    def _cells(self, box: np.ndarray) -> tuple[int, int, int, int]:
        x1, y1, x2, y2 = box / GRID
        c1 = min(max(int(x1), 0), self.gw - 1)
        r1 = min(max(int(y1), 0), self.gh - 1)
        c2 = min(max(int(np.ceil(x2)), c1 + 1), self.gw)
        r2 = min(max(int(np.ceil(y2)), r1 + 1), self.gh)
        return r1, r2, c1, c2

    def touches(self, box: np.ndarray) -> bool:
        r1, r2, c1, c2 = self._cells(box)
        ii = self.integral
        return bool(ii[r2, c2] - ii[r1, c2] - ii[r2, c1] + ii[r1, c1] > 0)

    def reach(self, box: np.ndarray) -> tuple[float, int, int]:
        """Pixels from the box's nearest part to the polygon (0 when they overlap), and the
        cell at the middle of that nearest part: the reach point."""
        r1, r2, c1, c2 = self._cells(box)
        d = self.dist[r1:r2, c1:c2]
        gap = float(d.min())
        rows, cols = np.nonzero(d <= gap + GRID)
        return gap, r1 + int(round(rows.mean())), c1 + int(round(cols.mean()))


def anchor(box: np.ndarray, oblique: bool) -> tuple[float, float]:
    """Where a person stands: the middle of their box seen from above, the bottom middle
    (the feet) seen at an angle."""
    x = float(box[0] + box[2]) / 2
    return (x, float(box[3])) if oblique else (x, float(box[1] + box[3]) / 2)


class Ignore:
    """Drops boxes standing in ``detector.ignore`` regions (fixtures the detector takes for
    people); "standing" is judged at the :func:`anchor`."""

    def __init__(self, store: StoreConfig) -> None:
        self.polys = [q.astype(np.float32) for q in store.detector.ignore]
        self.oblique = store.camera.view == "oblique"

    def __call__(self, dets: Detections) -> Detections:
        if not self.polys or not len(dets):
            return dets
        keep = np.array([not any(cv2.pointPolygonTest(q, anchor(b, self.oblique), False) >= 0
                                 for q in self.polys) for b in dets.xyxy], bool)
        return dets if keep.all() else dets[keep]


def plate_gap(d_plate: float, depth: float) -> float:
    """How far a reach misses a plate: the sideways distance from the reach point to the
    plate, plus half the depth still missing to the shelf. Sideways counts fully because
    it says who stands in front of which plate even when the detector misses the arm."""
    side = np.sqrt(max(float(d_plate) ** 2 - depth**2, 0.0))
    # the depth missing counts half: an arm the detector cut short still reaches in, while
    # a body standing beside the plate never does
    return side + 0.5 * depth


class Reach:
    """The shelves of a store as maps, asked per box which shelves it touches (see the
    module doc)."""

    def __init__(self, store: StoreConfig) -> None:
        w, h = store.camera.width, store.camera.height
        cache: dict[bytes, ShelfMap] = {}

        def rasterise(poly: np.ndarray, zone: np.ndarray | None) -> ShelfMap:
            key = poly.tobytes() + b"|" + (b"" if zone is None else zone.tobytes())
            if key not in cache:
                cache[key] = ShelfMap(poly, zone, w, h)
            return cache[key]

        # per shelf: its map, and its plates' maps (plates without a polygon: none)
        self._maps = [(s.id, rasterise(s.polygon, s.reach_zone),
                       [(q.id, rasterise(q.polygon, None)) for q in s.plates
                        if q.polygon is not None])
                      for s in store.shelves]
        self.oblique = store.camera.view == "oblique"
        # the hand tip is the deepest point inside a shelf seen from above
        self._hands = None if self.oblique else Hands(store)

    @property
    def tips(self) -> bool:
        """Whether hand tips are looked for (a camera looking down)."""
        return self._hands is not None

    def update(self, image: np.ndarray, boxes: np.ndarray) -> None:
        """A new frame for the hand tips' shelf backgrounds (see :class:`Hands`)."""
        self._hands.update(image, boxes)

    def near(self, track: int, box: np.ndarray, held: bool = False,
             image: np.ndarray | None = None) -> list[Near]:
        """The shelves a box touches, and how far it reaches into each (see :class:`Near`);
        with the ``image``, the colour at the tip of a reach into a shelf (gap 0)."""
        xy = anchor(box, self.oblique)
        where = np.array([xy[0] - 1, xy[1] - 1, xy[0] + 1, xy[1] + 1]) \
            if self.oblique else box
        size = max(float(box[2] - box[0]), float(box[3] - box[1]), 1.0)
        out = []
        seen: dict[int, tuple | None] = {}  # shelves of one gondola share a geometry
        tips: dict[int, tuple | None] = {}
        for shelf_id, m, plates in self._maps:
            if id(m) not in seen:
                seen[id(m)] = m.reach(box) if m.touches(where) else None
            hit = seen[id(m)]
            if hit is not None:
                gap, r, c = hit
                if image is not None and gap == 0 and id(m) not in tips:
                    tips[id(m)] = self._hands.tip(shelf_id, box, image)
                out.append(Near(track, shelf_id, gap / size,
                                {q: plate_gap(pm.dist[r, c], gap) / size for q, pm in plates},
                                held, tips.get(id(m))))
        return out
