"""Hands: the colour at the tip of a reach, to see an item come into (or leave) a hand.

Two shoppers reaching into one shelf at the same moment look alike to the boxes: both touch
the plate, both arrived together. What tells them apart is in the image: the one who took
the item holds it as the hand comes back; the other's hand is as it was. A put-back is the
same change the other way round. And a hand seen in the shelf only after the change came
too late to make it.

:class:`Hands` keeps, for every shelf footprint, a background image of the shelf (refreshed
every ``every_s`` where no box covers it) and the depth of each of its pixels inside
the footprint. The tip of a box's reach into a shelf is found among the box's pixels inside
the footprint that differ from the background (a hand, an arm, an item): the deepest of
them, within ``tip_band_m`` of the deepest. Its colour is the mean of the differing pixels
within ``tip_radius_m`` of that tip. :mod:`walkout.fusion` compares a shopper's tip colour
just before an item's change with just after it (:func:`hand_change`), and notes when
the tip was seen on one side only.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .config import StoreConfig


@dataclass(frozen=True)
class HandParams:
    """Hands' settings; sizes are metres of floor, pixels through the store's
    :meth:`walkout.config.Camera.px_per_m`, so they hold under any camera height."""

    # a shelf's background is refreshed every half second where no one covers it: goods
    # and light change slower than that, and a hand resting in a shelf is not learnt
    every_s: float = 0.5
    margin_m: float = 0.05      # ... nor is what lies within 5 cm of a box (an arm's edge)
    # a pixel differs from the background by 40 grey levels in some channel: well above
    # an 8-bit camera's noise and JPEG artefacts (a few levels), below a hand's or an
    # item's contrast with a shelf
    diff: int = 40
    # the tip: differing pixels within 4 cm of the deepest (a fingertip's reach); its
    # colour: those within 6 cm of it, about a hand's half width, where an item is held
    tip_band_m: float = 0.0375
    tip_radius_m: float = 0.0625
    min_px: int = 5             # fewer differing pixels there is sensor noise: no tip
    # the tip's colour before a change: from 0.6 s to 0.05 s before it (the hand still
    # reaching in, before it grasps); after: from 0.15 s to 0.7 s (lifting out)
    before_s: tuple[float, float] = (-0.6, -0.05)
    after_s: tuple[float, float] = (0.15, 0.7)


class _Footprint:
    """One shelf polygon over its bounding rectangle: inside mask, depth, background."""

    def __init__(self, poly: np.ndarray, w: int, h: int) -> None:
        x0, y0 = np.floor(poly.min(0)).astype(int)
        x1, y1 = np.ceil(poly.max(0)).astype(int) + 1
        self.x0, self.y0 = max(int(x0), 0), max(int(y0), 0)
        # a polygon outside the frame (a shelf this camera does not see) covers nothing
        self.x1, self.y1 = max(min(int(x1), w), self.x0), max(min(int(y1), h), self.y0)
        inside = np.zeros((self.y1 - self.y0, self.x1 - self.x0), np.uint8)
        if inside.size:
            cv2.fillPoly(inside, [np.round(poly - [self.x0, self.y0]).astype(np.int32)], 1)
        self.inside = inside.astype(bool)
        # depth = distance to the nearest pixel outside the polygon; the frame of zeros
        # keeps a polygon that fills its rectangle from having no outside at all
        if inside.size:
            framed = cv2.copyMakeBorder(inside, 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=0)
            self.depth = cv2.distanceTransform(framed, cv2.DIST_L2, 3)[1:-1, 1:-1]
        else:
            self.depth = np.zeros(inside.shape, np.float32)
        self.background: np.ndarray | None = None

    def clip(self, box: np.ndarray, grow: float = 0.0) -> tuple[slice, slice] | None:
        """The part of the rectangle a box (grown by ``grow`` px) covers, in its own
        coordinates; None when they do not meet."""
        c1 = max(int(np.floor(box[0] - grow)), self.x0) - self.x0
        r1 = max(int(np.floor(box[1] - grow)), self.y0) - self.y0
        c2 = min(int(np.ceil(box[2] + grow)), self.x1) - self.x0
        r2 = min(int(np.ceil(box[3] + grow)), self.y1) - self.y0
        if c2 <= c1 or r2 <= r1:
            return None
        return slice(r1, r2), slice(c1, c2)


class Hands:
    """Shelf backgrounds, and the colour at the tip of a box's reach (see the module doc)."""

    def __init__(self, store: StoreConfig, params: HandParams | None = None) -> None:
        self.params = p = params or HandParams()
        w, h = store.camera.width, store.camera.height
        ppm = store.camera.px_per_m()
        self.every = max(1, int(p.every_s * store.camera.fps + 0.5))
        self.margin_px = int(p.margin_m * ppm + 0.5)
        self.tip_band_px, self.tip_radius_px = p.tip_band_m * ppm, p.tip_radius_m * ppm
        by_poly: dict[bytes, _Footprint] = {}
        self.footprint: dict[str, _Footprint] = {}
        for s in store.shelves:
            key = s.polygon.tobytes()
            if key not in by_poly:
                by_poly[key] = _Footprint(np.asarray(s.polygon, np.float64), w, h)
            self.footprint[s.id] = by_poly[key]
        self._all = list(by_poly.values())
        self._frame = 0

    def update(self, image: np.ndarray, boxes: np.ndarray) -> None:
        """Refresh the shelf backgrounds (every ``every`` frames) where no box covers them."""
        self._frame += 1
        for f in self._all:
            if not f.inside.size:
                continue
            now = image[f.y0:f.y1, f.x0:f.x1]
            if f.background is None:
                f.background = now.copy()
                continue
            if self._frame % self.every:
                continue
            free = np.ones(f.inside.shape, np.uint8)
            for box in boxes:
                part = f.clip(box, self.margin_px)
                if part is not None:
                    free[part] = 0
            cv2.copyTo(now, free, f.background)

    def tip(self, shelf_id: str, box: np.ndarray, image: np.ndarray
            ) -> tuple[float, float, float] | None:
        """The mean colour (B, G, R) at the tip of ``box``'s reach into the shelf, or None
        when nothing of the box differs from the shelf's background there."""
        p = self.params
        f = self.footprint[shelf_id]
        part = f.clip(box) if f.background is not None else None
        if part is None:
            return None
        now = image[f.y0:f.y1, f.x0:f.x1][part]
        moved = (cv2.absdiff(now, f.background[part]).max(2) > p.diff) & f.inside[part]
        if int(moved.sum()) < p.min_px:
            return None
        ys, xs = np.nonzero(moved)
        depth = f.depth[part][ys, xs]
        deep = depth >= depth.max() - self.tip_band_px
        ty, tx = ys[deep].mean(), xs[deep].mean()
        near = (ys - ty) ** 2 + (xs - tx) ** 2 <= self.tip_radius_px ** 2
        if int(near.sum()) < p.min_px:
            return None
        colour = now[ys[near], xs[near]].mean(0)
        return float(colour[0]), float(colour[1]), float(colour[2])


@dataclass(frozen=True)
class TipChange:
    """A shopper's reach tip around an item's change: whether it was seen just before the
    change and just after it, and how much its colour changed when seen on both sides (the
    largest channel difference of the median colours, 0..255)."""

    before: bool
    after: bool
    change: float | None = None


def hand_change(tips: list[tuple[float, tuple[float, float, float]]], t_change: float,
                params: HandParams | None = None) -> TipChange:
    """How a shopper's tip looked across ``t_change``, from ``tips`` (time, colour)."""
    p = params or HandParams()
    before = [c for t, c in tips if p.before_s[0] <= t - t_change <= p.before_s[1]]
    after = [c for t, c in tips if p.after_s[0] <= t - t_change <= p.after_s[1]]
    if not before or not after:
        return TipChange(bool(before), bool(after))
    return TipChange(True, True, float(np.abs(np.median(after, 0) - np.median(before, 0)).max()))
