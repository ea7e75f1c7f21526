"""Identity repair: when shoppers come close the tracker can swap their ids, and colour
tells them apart again.

Every ``look_every_s`` (in frames: ``look_every``), the tracks of the shoppers standing
apart, and of those beside someone without their boxes overlapping (IoU under
``look_overlap``: a shopper touching others for seconds at a shelf is still looked at,
though never learnt from), are
re-matched to the colour models (:mod:`walkout.zones.looks`; Hungarian on the
Bhattacharyya distance). A shopper may only be moved onto the track of one whose box
overlapped theirs (by ``swap_overlap`` at least) within ``swap_memory_s`` (a tracker swaps
the ids of people whose boxes met, never of two across the store, nor of two who only
passed a hand's width apart or stood side by side barely overlapping), or whose new
track, given to a lost shopper, started near them (:meth:`IdentityRepair.handover`: the
identity layer can swap those), and whose colour model is at least ``alike`` from theirs
(two dressed alike are told apart by no colour; the tracker's motion is the better guess
then). A
matching that beats the current one by ``swap_gain`` in
``swap_frames`` looks in a row (looks while they overlap someone neither count nor break
the row) is applied. Each track changes hands at the moment, since those shoppers last
started touching (or were last handed over) before the better matching was first seen,
that a box showing its new
shopper overlapped most a box showing its old one, where a tracker swaps ids (when no
such boxes ever touched, say one was a track still pending, when the track overlapped any
box most; failing that, from the start of that spell). Overlaps are kept per pair of
tracks and read through the identities as they stand, so a crowd of three or more, or a
pair an earlier repair has relabelled, is placed as well as two who swapped once.

A shopper still seen after that moment on a track the repair leaves alone (a track lost
since) moves to their new track only from when they were last seen there; until then that
track shows what it showed, except a shopper the repair has put on another track that was
there: no two tracks show one shopper at once.
"""

from __future__ import annotations

import logging

import numpy as np
from scipy.optimize import linear_sum_assignment

from ..track import iou_batch
from .identities import Identities
from .looks import Looks, distance, look
from .scene import Shopper, ZoneParams

log = logging.getLogger(__name__)


class IdentityRepair:
    """Watches who touches whom and how they look; swaps identities back (module doc).

    ``shoppers``, ``identities`` and ``looks`` are the owner's (:class:`walkout.zones.Zones`):
    a repair moves shoppers to other tracks in them.
    """

    def __init__(self, params: ZoneParams, shoppers: dict[str, Shopper],
                 identities: Identities, looks: Looks, look_every: int = 2) -> None:
        self.params, self.look_every = params, look_every
        self.shoppers, self.ids, self.looks = shoppers, identities, looks
        self.touching: set[str] = set()              # shoppers touching someone now
        self.spells: dict[str, list[float]] = {}     # shopper -> starts of their latest spells
        self.last_touch: dict[str, float] = {}       # shopper -> last time touching someone
        self.handovers: dict[str, list[float]] = {}  # shopper -> latest handovers (handover)
        self.overlaps: dict[frozenset, list[tuple[float, float]]] = {}  # tracks -> (t, IoU)
        self.handed: set[tuple[frozenset, float]] = set()   # (tracks, t) of each handover
        self._doubt: tuple | None = None             # (moves, first seen, frames in a row)
        self.repairs: list[tuple[float, tuple[str, ...]]] = []  # (from t, shoppers) applied
        self._frame_no = 0

    def busy(self, t: float) -> set[str]:
        """Shoppers touching someone at ``t`` or within ``settle_s`` before: their identities
        may still be repaired, so their weight events wait."""
        return {s for s, last in self.last_touch.items() if t - last <= self.params.settle_s}

    def update(self, t: float, ids: list[int], boxes: np.ndarray, image: np.ndarray) -> None:
        """One frame's tracks (``ids``, ``boxes`` xyxy) and its image."""
        p = self.params
        mine = [(k, self.ids.shopper_of[tid]) for k, tid in enumerate(ids)
                if self.ids.shopper_of.get(tid)
                and self.shoppers[self.ids.shopper_of[tid]].track == tid]
        if not mine:
            return
        b = boxes[[k for k, _ in mine]]
        grow = np.maximum(b[:, 2] - b[:, 0], b[:, 3] - b[:, 1])[:, None] * p.touch_margin
        g = np.c_[b[:, :2] - grow, b[:, 2:] + grow]
        touch = ((g[:, None, 0] < g[None, :, 2]) & (g[None, :, 0] < g[:, None, 2])
                 & (g[:, None, 1] < g[None, :, 3]) & (g[None, :, 1] < g[:, None, 3]))
        np.fill_diagonal(touch, False)
        iou = np.zeros(touch.shape)
        if touch.any():   # how much touching pairs overlap: a swap is likeliest at the most
            iou = iou_batch(b, b)
            for i, j in zip(*np.nonzero(np.triu(touch))):
                pair = self.overlaps.setdefault(frozenset((ids[mine[i][0]], ids[mine[j][0]])),
                                                [])
                pair[:] = [*pair[-299:], (t, float(iou[i, j]))]
        alone, near = [], []
        self._frame_no += 1
        if self._frame_no % 100 == 0:   # pairs apart for a minute: no doubt left to place
            self.overlaps = {k: v for k, v in self.overlaps.items() if v[-1][0] > t - 60}
            self.handed = {(k, tt) for k, tt in self.handed if tt > t - 60}
        looking = self._frame_no % self.look_every == 0
        for (k, sid), row, overlap in zip(mine, touch, iou):
            if row.any():
                if sid not in self.touching:
                    self.touching.add(sid)
                    starts = self.spells.setdefault(sid, [])   # a touching spell starts
                    starts[:] = [*starts[-7:], t]
                self.last_touch[sid] = t
                if looking and overlap[row].max() < p.look_overlap:   # beside, not over
                    near.append((sid, look(image, boxes[k])))
            else:
                self.touching.discard(sid)
                if looking:
                    alone.append((sid, look(image, boxes[k])))
        if not looking:
            return
        self._check(t, alone + near)
        for sid, seen in alone:   # the models learn from shoppers standing apart only
            self.looks.learn(sid, seen)

    def handover(self, t: float, track: int, box: np.ndarray,
                 others: dict[int, np.ndarray]) -> None:
        """A lost shopper continues on the new ``track`` (box ``box``) from ``t``. The
        shoppers on the tracks ``others`` (track -> box) stood where that new track could
        have been one of them instead: they count as having touched it then, so that
        colour can still undo a wrong choice (two people lost in one crowd and found again
        one at a time swap as surely as two boxes that merged). A swap found later is
        looked for from then on too (see :meth:`_apply`)."""
        for k, b in others.items():
            pair = self.overlaps.setdefault(frozenset((track, k)), [])
            pair[:] = [*pair[-299:], (t, float(iou_batch(box[None], b[None])[0, 0]))]
            self.handed.add((frozenset((track, k)), t))
        if others:
            for k in (track, *others):
                times = self.handovers.setdefault(self.ids.shopper_at(k, t), [])
                times[:] = [*times[-7:], t]

    def _check(self, t: float, seen: list[tuple[str, np.ndarray]]) -> None:
        """Re-match the tracks of the shoppers looked at (standing apart, or beside someone
        without overlapping them: ``look_overlap``) to their colour models; a better
        matching seen ``swap_frames`` frames in a row is applied (from when: see the module
        doc)."""
        p = self.params
        who = [(sid, x) for sid, x in seen if self.looks.known(sid)]
        if len(who) < 2:
            return
        models = self.looks.models
        d = np.array([[distance(models[a], x) for _, x in who] for a, _ in who])
        rows, cols = linear_sum_assignment(d)
        if (rows != cols).any():
            # only between shoppers who touched (``swap_memory_s``) and whom colour can
            # tell apart (``alike``)
            met = self._met(t - p.swap_memory_s)
            bar = np.array([[a != b and (frozenset((a, b)) not in met
                                         or distance(models[a], models[b]) < p.alike)
                             for b, _ in who] for a, _ in who])
            if bar[rows, cols].any():
                d = np.where(bar, np.inf, d)
                rows, cols = linear_sum_assignment(d)
        if d[rows, cols].sum() > np.trace(d) - p.swap_gain:
            # the current matching holds: the doubt is gone, unless its shoppers were not
            # looked at (they overlap someone again): then it stands
            if self._doubt is not None and {a for a, _ in self._doubt[0]} <= {
                    s for s, _ in who}:
                self._doubt = None
            return
        moves = tuple(sorted((who[i][0], who[j][0]) for i, j in zip(rows, cols) if i != j))
        if self._doubt is None or self._doubt[0] != moves:
            self._doubt = (moves, t, 1)
            return
        self._doubt = (moves, self._doubt[1], self._doubt[2] + 1)
        if self._doubt[2] < p.swap_frames:
            return
        first_seen, self._doubt = self._doubt[1], None
        t0 = self._apply(moves, first_seen, t)
        log.debug("identity repair from t=%.2f: %s (at %.2f)", t0, dict(moves), t)

    def _met(self, since: float) -> set[frozenset]:
        """The pairs of shoppers whose tracks met at or after ``since``: their boxes
        overlapped by ``swap_overlap`` at least, or one's new track was handed over beside
        the other's. A tracker matches boxes to tracks by their overlap, so it cannot swap
        two people whose boxes only came within a hand's width of each other, or stood side
        by side barely overlapping: those were looked at all along (``look_overlap``), and
        looks taken while they reach into shelves side by side, or of two dressed nearly
        alike, would otherwise swap them on a few looks' noise."""
        met = set()
        for pair, hist in self.overlaps.items():
            for tt, iou in reversed(hist):
                if tt < since:
                    break
                if iou >= self.params.swap_overlap or (pair, tt) in self.handed:
                    met.add(frozenset(self.ids.shopper_at(k, tt) for k in pair))
        return met

    def _apply(self, moves: tuple[tuple[str, str], ...], first_seen: float, t: float) -> float:
        """Shopper a follows the track shopper b had, for each ``(a, b)`` in ``moves``,
        from when the swap happened (see the module doc); returns that moment."""
        ids = self.ids
        involved = [a for a, _ in moves]
        # the swap happened in the spell each was in when the doubt was first seen (a
        # spell that started since came after it), or at a handover before it
        t0 = min(min((max(ts) for ts in (
            [s for s in self.spells.get(a, []) if s <= first_seen],
            [h for h in self.handovers.get(a, []) if h <= first_seen]) if ts), default=t)
            for a in involved)
        tracks = {a: self.shoppers[a].track for a in involved}
        new = {a: tracks[b] for a, b in moves}

        def switch(a: str, b: str) -> float:
            """When b's track passed to a: since t0, when a box showing a then overlapped
            most a box showing b, where a tracker swaps ids; if none ever did, when b's
            track overlapped any box most (t0 if it touched none)."""
            best = max(((iou, -tt) for pair, hist in self.overlaps.items() for tt, iou in hist
                        if t0 <= tt <= first_seen
                        and {ids.shopper_at(k, tt) for k in pair} == {a, b}), default=None)
            if best is None:   # never shown touching (one was a pending track, say)
                best = max(((iou, -tt) for pair, hist in self.overlaps.items()
                            if tracks[b] in pair for tt, iou in hist
                            if t0 <= tt <= first_seen), default=(0.0, -t0))
            return -best[1]

        t_from = {}
        for a, b in moves:
            # not before a was last seen on a track this repair leaves alone (lost since)
            last = [t_k for k, t_k in ids.seen.items() if t_k >= t0
                    and k not in tracks.values() and ids.shopper_at(k, t_k) == a]
            t_from[a] = max(switch(a, b),
                            float(np.nextafter(max(last), np.inf)) if last else t0)
        for a, track in new.items():
            self.shoppers[a].track = track
            ids.assign(track, a, t_from[a])
        # before its new shopper, a track keeps what it showed, but not a shopper this
        # repair has put on another track that was already there then
        for o, track in new.items():
            live = max(t_from[o], ids.first.get(track, t_from[o]))
            for k in set(new.values()) - {track}:
                hist = ids.mapping[k]
                for (start, sid), (end, _) in zip(hist, [*hist[1:], (np.inf, "")]):
                    if sid == o and max(start, live) < end:
                        ids.show(k, "", max(start, live), end)
        start = min(t_from.values())
        self.repairs.append((start, tuple(involved)))
        return start
