"""Who was at a shelf when its weight changed, and how well each explains the change.

:class:`Presence` keeps ``history_s`` of who was near which shelf (from
:class:`walkout.zones.Scene`). For a weight event, the shoppers present at its shelf during
``[t_start - pad_s, t_end + pad_s]`` (only shoppers with an open cart count) score:

- ``overlap``: the share of the window's frames in which the shopper was there;
- ``closeness = exp(-gap / gap_scale)``, with ``gap`` the least distance, over the window,
  from the shopper's box to the item's plates (to the shelf when plates have no polygon),
  in box sizes: how far the shopper reached toward *those* plates;
- ``timing = exp(-((dt + late) / timing_s)^2)``. The shopper's reach is the run of frames
  in which they were at their closest (their least gap in the window, within 0.05) nearest
  the item's change time, followed back up to ``lookback_s`` before the window: ``dt`` is
  how far that run is from the change, and ``late`` how much longer than ``lead_s`` it had
  already lasted when the change came. A hand takes an item within a second or so of
  arriving at the plate; a neighbour who has stood there, equally close, for longer is
  more likely a bystander. Frames where the shopper was only *held* at an earlier box
  (hidden in someone else's box, see :mod:`walkout.zones`) say where they stood but not
  when they reached, so they count for overlap and closeness, not timing (no seen frame:
  timing 0);
- ``score = overlap * closeness * (0.5 + 0.5 timing)``.

When the runner-up scores within ``hand_within`` of the best (the boxes cannot tell them
apart: two shoppers reaching into one plate together), :meth:`Presence.rank` multiplies
each score by the hand factor ``1 - hand_weight + hand_weight * h`` (:meth:`Presence.hand`):
``h`` says whether the colour at the tip of the shopper's reach changed across the item's
change time (:mod:`walkout.hands`), as it does when an item comes into a hand or leaves
it. A tip seen in the shelf only after the change came too late to make it (``h`` is
``hand_after_only``); one seen only before it left without showing an item
(``hand_before_only``).
"""

from __future__ import annotations

import math
from collections import deque

from ..carts import Carts
from ..hands import TipChange, hand_change
from ..types import ItemEvent, WeightEvent
from ..zones import Near, Scene, Zones
from .params import FusionParams


class Presence:
    """The recent frames' reach by shelf, and the scores read from them (module doc)."""

    def __init__(self, params: FusionParams) -> None:
        self.params = params
        self._frames: deque[tuple[float, dict[str, list[Near]]]] = deque()  # t, by shelf

    def record(self, scene: Scene) -> None:
        """A new frame: who is near which shelf (``history_s`` of frames are kept)."""
        by_shelf: dict[str, list[Near]] = {}
        for n in scene.near:
            by_shelf.setdefault(n.shelf, []).append(n)
        self._frames.append((scene.t, by_shelf))
        while self._frames and self._frames[0][0] < scene.t - self.params.history_s:
            self._frames.popleft()

    def present(self, e: WeightEvent, zones: Zones, carts: Carts) -> set[str]:
        """The shoppers with an open cart present at ``e``'s shelf during its window: those
        :meth:`scores` scores, found without scoring them."""
        pad = self.params.pad_s
        return {sid for t, near in self._window(e.t_start - pad, e.t_end + pad)
                for n in near.get(e.shelf_id, ())
                if (sid := zones.shopper_at(n.track, t)) and carts.is_open(sid)}

    def was_at(self, shopper: str, shelf: str, t0: float, zones: Zones) -> bool:
        """Whether ``shopper`` was near ``shelf`` at some time from ``t0`` on."""
        return any(zones.shopper_at(n.track, t) == shopper
                   for t, near in self._window(t0, math.inf) for n in near.get(shelf, ()))

    def _window(self, t0: float, t1: float) -> list[tuple[float, dict[str, list[Near]]]]:
        """The frames recorded from ``t0`` to ``t1``, in time order (read from the newest:
        events are decided soon after they happen)."""
        frames = []
        for t, near in reversed(self._frames):
            if t < t0:
                break
            if t <= t1:
                frames.append((t, near))
        frames.reverse()
        return frames

    def scores(self, e: WeightEvent, zones: Zones, carts: Carts,
               item: ItemEvent | None = None, hands: bool = False) -> dict[str, float]:
        """Shopper id -> score for the shoppers with an open cart present at ``e``'s shelf;
        for one of its items when given (its plates and its time: two shoppers may take
        from neighbouring plates within one weight event). ``hands``: times the hand
        factor (see the module doc)."""
        p = self.params
        t0, t1 = e.t_start - p.pad_s, e.t_end + p.pad_s
        frames = self._window(t0 - p.lookback_s, t1)
        times = [t for t, _ in frames]
        n_window = sum(1 for t in times if t >= t0)
        if not n_window:
            return {}
        if item is not None and item.plates:
            changed, t_change = list(item.plates), item.t
        else:
            moved = {q: abs(d) for q, d in e.plate_deltas_g.items()}
            top = max(moved.values(), default=0.0)
            # the plates an item moved: those with 30% of the largest change or more (an
            # item across two or three plates loads each with a third or more of it)
            changed = [q for q, d in moved.items() if d >= 0.3 * top] if top > 0 else []
            t_change = e.t_change if e.t_change is not None else (e.t_start + e.t_end) / 2
        seen: dict[str, list[tuple[int, float, float, bool]]] = {}  # sid -> [(k, t, gap, held)]
        tips: dict[str, list[tuple[float, tuple[float, float, float]]]] = {}
        for k, (t, near) in enumerate(frames):
            here: dict[str, tuple[float, bool, tuple | None]] = {}
            for n in near.get(e.shelf_id, ()):
                sid = zones.shopper_at(n.track, t)
                if not sid or not carts.is_open(sid):
                    continue
                gaps = [n.plate_gaps[q] for q in changed if q in n.plate_gaps]
                gap = min(gaps) if gaps else n.gap
                if gap < here.get(sid, (math.inf,))[0]:
                    here[sid] = (gap, n.held, n.hand)
            for sid, (gap, held, hand) in here.items():
                seen.setdefault(sid, []).append((k, t, gap, held))
                if hand is not None and not held:
                    tips.setdefault(sid, []).append((t, hand))
        out = {}
        for sid, all_rows in seen.items():
            rows = [r for r in all_rows if r[1] >= t0]
            if not rows:
                continue
            overlap = len(rows) / n_window
            g_min = min(g for _, _, g, _ in rows)
            closeness = math.exp(-g_min / p.gap_scale)
            # a held box (kept from before, not seen now) says nothing about when they reached
            live = {k: g for k, _, g, held in all_rows if not held}
            timing = self.timing(live, times, t0, t_change)
            out[sid] = overlap * closeness * (0.5 + 0.5 * timing)
        if hands:
            changes = {sid: hand_change(tips.get(sid, []), t_change) for sid in out}
            if any(c.before or c.after for c in changes.values()):  # else no tip was seen
                # a hand that changed colour less than half as much as another only moved
                high = max([p.hand_high] + [p.hand_alike * c.change for c in changes.values()
                                            if c.change is not None])
                out = {sid: v * self.hand(changes[sid], high) for sid, v in out.items()}
        return out

    def rank(self, cands: dict[str, float], e: WeightEvent, item: ItemEvent, zones: Zones,
             carts: Carts) -> list[tuple[str, float]]:
        """``cands`` best first (ties by id); when the runner-up is within ``hand_within``
        of the best, by their scores with the hand factor (see the module doc)."""
        ranked = sorted(cands.items(), key=lambda kv: (-kv[1], kv[0]))
        if len(ranked) > 1 and ranked[1][1] > (1 - self.params.hand_within) * ranked[0][1]:
            by_hand = self.scores(e, zones, carts, item, hands=True)
            ranked = sorted(((s, by_hand.get(s, 0.0)) for s in cands),
                            key=lambda kv: (-kv[1], kv[0]))
        return ranked

    def hand(self, tip: TipChange, high: float | None = None) -> float:
        """The hand factor, ``1 - hand_weight + hand_weight * h``. Seen on both sides of
        the change, ``h`` is 0 when the colour at the tip of the shopper's reach stayed as
        it was (a change up to ``hand_low``) and 1 when it changed by ``high`` or more
        (an item came into the hand, or left it): ``hand_high``, or ``hand_alike`` of the
        largest change of the hands compared when that is more. A hand that only moved (it
        turned, the sleeve left the tip) can pass ``hand_high``; one that changed less than
        half as much as another is taken for such a hand. Seen only after the change, ``h``
        is ``hand_after_only`` (the hand came too late); only before it,
        ``hand_before_only``; never, ``hand_unseen``."""
        p = self.params
        high = p.hand_high if high is None else high
        if tip.change is not None:
            h = min(max((tip.change - p.hand_low) / (high - p.hand_low), 0.0), 1.0)
        elif tip.after:
            h = p.hand_after_only
        elif tip.before:
            h = p.hand_before_only
        else:
            h = p.hand_unseen
        return 1.0 - p.hand_weight + p.hand_weight * h

    def timing(self, live: dict[int, float], times: list[float], t0: float,
               t_change: float) -> float:
        """How well a shopper's reach times a change at ``t_change``, from their live gaps
        (frame index -> gap; ``times[k]`` is frame k's time; the window starts at ``t0``).
        Their reach is the run of frames at their closest (their least gap in the window,
        within 0.05) nearest the change: ``dt`` is how far it is from the change, and
        ``late`` how much longer than ``lead_s`` it had lasted when the change came."""
        p = self.params
        inside = [k for k in live if times[k] >= t0]
        if not inside:
            return 0.0
        # at their closest: within 0.05 box sizes (4 cm) of their least gap, box jitter
        close = min(live[k] for k in inside) + 0.05
        k = min((k for k in inside if live[k] <= close), key=lambda k: abs(times[k] - t_change))
        start = k
        while start - 1 in live and live[start - 1] <= close:
            start -= 1
        dt = abs(times[k] - t_change)
        late = max(0.0, min(times[k], t_change) - times[start] - p.lead_s)
        return math.exp(-(((dt + late) / p.timing_s) ** 2))
