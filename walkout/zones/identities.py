"""Which shopper each track shows, over time.

Track ids belong to the tracker, shopper ids to the store. A track shows one shopper from
some moment on, and an identity repair (:mod:`walkout.zones.repair`) can change what it
showed back in time, so the mapping is kept per track as a list of ``(from t, shopper)``
and read at a time with :meth:`Identities.shopper_at`.
"""

from __future__ import annotations

import numpy as np


class Identities:
    """Track -> shopper, now and at any earlier time, and when each track was seen."""

    def __init__(self) -> None:
        self.shopper_of: dict[int, str] = {}                  # track id -> shopper id now
        self.mapping: dict[int, list[tuple[float, str]]] = {}  # track -> [(from t, shopper)]
        self.first: dict[int, float] = {}                     # track -> first time seen
        self.seen: dict[int, float] = {}                      # track -> last time seen

    def saw(self, tid: int, t: float) -> None:
        """Track ``tid`` is in the frame at ``t``."""
        self.first.setdefault(tid, t)
        self.seen[tid] = t

    def shopper_at(self, track: int, t: float) -> str:
        """The shopper a track showed at time ``t`` ("" if none)."""
        if track < 0:  # a shopper held where last seen, under their lost track (Zones._hold)
            track = -1 - track
        hist = self.mapping.get(track)
        if not hist:
            return ""
        for t_from, sid in reversed(hist):
            if t_from <= t:
                return sid
        return hist[0][1]

    def assign(self, tid: int, sid: str, t_from: float) -> None:
        """Track ``tid`` shows shopper ``sid`` from ``t_from`` on."""
        self.shopper_of[tid] = sid
        hist = [h for h in self.mapping.get(tid, []) if h[0] < t_from]
        self.mapping[tid] = [*hist, (t_from, sid)]

    def show(self, tid: int, sid: str, t_from: float, t_to: float) -> None:
        """Track ``tid`` shows shopper ``sid`` over ``[t_from, t_to)`` only."""
        hist = self.mapping[tid]
        then = [(t_to, self.shopper_at(tid, t_to))] if t_to < np.inf else []
        self.mapping[tid] = [h for h in hist if h[0] < t_from] + [(t_from, sid)] + then \
            + [h for h in hist if h[0] > t_to]
