"""Dwell: each shopper's visits to each shelf, as presence intervals merged over gaps
shorter than ``visit_gap_s``, reported when they end (at least ``min_visit_s`` long)."""

from __future__ import annotations

import numpy as np

from .scene import Scene, Visit, ZoneParams


class Visits:
    """Open visits by (shopper, shelf), closed into :class:`Visit` records on the scene."""

    def __init__(self, params: ZoneParams) -> None:
        self.params = params
        self._open: dict[tuple[str, str], list[float]] = {}  # [t0, t_last, min_gap]

    def update(self, t: float, scene: Scene, shopper_of: dict[int, str]) -> None:
        p = self.params
        seen = set()
        for n in scene.near:
            sid, gap = shopper_of.get(n.track), n.gap
            if not sid:
                continue
            key = (sid, n.shelf)
            seen.add(key)
            v = self._open.get(key)
            if v is None:
                self._open[key] = [t, t, gap]
            else:
                v[1], v[2] = t, min(v[2], gap)
        for key in [k for k in self._open if k not in seen]:
            if t - self._open[key][1] >= p.visit_gap_s:
                self._close(key, scene)

    def close_all(self, scene: Scene) -> None:
        """End of the stream: every open visit ends."""
        for key in list(self._open):
            self._close(key, scene)

    def last_scene(self, t: float) -> Scene:
        """End of the stream at ``t``: a scene of no boxes holding every visit still open."""
        scene = Scene(t, np.zeros(0, np.int64), np.zeros((0, 4)), [], [])
        self.close_all(scene)
        return scene

    def _close(self, key: tuple[str, str], scene: Scene) -> None:
        t0, t1, gap = self._open.pop(key)
        if t1 - t0 >= self.params.min_visit_s:
            scene.visits.append(Visit(key[0], key[1], t0, t1, gap))
