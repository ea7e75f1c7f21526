"""What shoppers look like: a colour model per shopper, for telling them apart again after
their tracks came close (identity repair, re-finding a lost shopper)."""

from __future__ import annotations

import cv2
import numpy as np


def look(image: np.ndarray, box: np.ndarray) -> np.ndarray:
    """A box's colour: a normalised 8x4x4 HSV histogram of its inner part."""
    h, w = image.shape[:2]
    x1, y1, x2, y2 = box
    # the inner 80%: the box's edges hold floor, shelf and neighbours, not clothing
    dx, dy = (x2 - x1) * 0.1, (y2 - y1) * 0.1
    c1, r1 = int(max(x1 + dx, 0)), int(max(y1 + dy, 0))
    c2, r2 = int(min(x2 - dx, w)), int(min(y2 - dy, h))
    crop = image[r1:max(r2, r1 + 1), c1:max(c2, c1 + 1)]
    if crop.size == 0:
        return np.full(128, 1 / 128, np.float32)
    hsv = cv2.cvtColor(crop, cv2.COLOR_BGR2HSV)
    hist = cv2.calcHist([hsv], [0, 1, 2], None, [8, 4, 4], [0, 180, 0, 256, 0, 256]).ravel()
    return hist / max(float(hist.sum()), 1.0)


def distance(a: np.ndarray, b: np.ndarray) -> float:
    """Bhattacharyya distance of two normalised histograms (0 same .. 1 disjoint)."""
    bc = float(np.sqrt(np.asarray(a, np.float64) * np.asarray(b, np.float64)).sum())
    return float(np.sqrt(max(0.0, 1.0 - min(bc, 1.0))))


class Looks:
    """Each shopper's colour model: the mean of their first ``settled`` looks, then
    following them at ``rate``, learning only looks that are clearly theirs."""

    settled = 10  # looks averaged before a model is trusted (and then only follows)

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.models: dict[str, np.ndarray] = {}   # shopper -> colour model
        self.count: dict[str, int] = {}           # shopper -> looks averaged so far

    def known(self, sid: str) -> bool:
        """Whether shopper ``sid``'s model is trusted (``settled`` looks learnt)."""
        return self.count.get(sid, 0) >= self.settled

    def learn(self, sid: str, look: np.ndarray) -> None:
        """Fold a look into a shopper's colour model: the mean of their first looks, then
        slowly, and only looks that are clearly theirs."""
        model = self.models.get(sid)
        n = self.count.get(sid, 0)
        if model is None or n < self.settled:
            self.models[sid] = look if model is None else (model * n + look) / (n + 1)
            self.count[sid] = n + 1
            return
        own = distance(model, look)
        others = [distance(m, look) for o, m in self.models.items() if o != sid]
        # learn only from looks clearly this shopper's: Bhattacharyya distance under 0.5 (the
        # same clothes under other light and pose stay well under it) and under 0.7 of the
        # nearest other shopper's (a merged or swapped box is nearer someone else)
        if own < 0.5 and (not others or own < 0.7 * min(others)):
            self.models[sid] = (1 - self.rate) * model + self.rate * look
