"""Fusion: each weight change goes to the shopper whose reach best explains it.

:class:`Fusion` keeps a short history of who was near which shelf (from
:class:`walkout.zones.Scene`) and holds each :class:`WeightEvent` until the video has
caught up with ``t_end + pad_s``. Then, for the shoppers present at that shelf during
``[t_start - pad_s, t_end + pad_s]`` (only shoppers with an open cart count):

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

When the runner-up scores within ``hand_within`` of the best (the boxes cannot tell
them apart: two shoppers reaching into one plate together), each score is multiplied by
the hand factor ``1 - hand_weight + hand_weight * h`` (:meth:`Fusion._hand`): ``h`` says
whether the colour at the tip of the shopper's reach changed across the item's change
time (:mod:`walkout.hands`), as it does when an item comes into a hand or leaves it. A tip
seen in the shelf only after the change came too late to make it (``h`` is
``hand_after_only``); one seen only before it left without showing an item
(``hand_before_only``).
Re-decisions after an identity repair rank the same way (:meth:`Fusion._rank`).

The event is first identified as items (:class:`walkout.sensors.ItemIdentifier`), with the
present shoppers' carts as the candidates for a put-back, so a misplaced return is
recognised as the product that was really put down. Each item goes to the best-scoring
shopper; a put-back only to shoppers carrying that sku. But one hand makes one change
at a time: the items of one weight event (a plate that changed in several steps, the
shelf never settling between), with the items already decided less than ``one_hand_s``
from them (and from those, up to ``together_max`` items), are given out together
(:meth:`Fusion._together`). A shopper given two of them less than ``one_hand_s`` apart
counts the weaker at ``one_hand_k`` of its score, and the choice with the most total score
wins; a decided item it gives to someone else is moved. Two shoppers reaching into one
gondola, one taking and the other putting back or taking a moment later, are then told
apart even though the closer one explains both changes best. A put-back that someone not
carrying the sku explains ``put_back_k`` times better than every carrier says who took
it: if that sku's latest pick went to a carrier on a close call with them, the pick is
moved to them (flagged, as a re-decision), and the put-back follows. The confidence is
the margin over the runner-up, ``(best - second) / best`` (1 with a single candidate; for
items given out together, the total score the best choice giving the item to someone
else loses, over the item's own score);
below ``ambiguous_below`` the event is still given to the best shopper and their receipt
is flagged ``ambiguous``. The flag follows the doubtful items: when a re-decision moves one
to another cart, that cart is flagged if the new decision is doubtful too, and the old
one loses its flag once it holds no doubtful item. A change nobody was near, and a
put-back no present shopper could have made, are ``unattributed``: logged, never dropped.
A change no product explains flags the best shopper's receipt
``unexplained_weight_change``.

Events are decided in time order once the video has passed them by ``pad_s``. One that a
shopper whose identity is in doubt could have made waits until it is settled, and the
later events of its shelf wait behind it; when a shopper leaves, the waiting events they
could have made are decided first, so their receipt holds them.
"""

from __future__ import annotations

import math
from collections import Counter, deque
from dataclasses import dataclass, field
from itertools import product

from .carts import Carts
from .hands import TipChange, hand_change
from .sensors import ItemIdentifier
from .types import UNEXPLAINED, CartEvent, ItemEvent, WeightEvent
from .zones import Near, Scene, Zones


@dataclass(frozen=True)
class FusionParams:
    pad_s: float = 1.0
    gap_scale: float = 0.75           # box sizes
    timing_s: float = 1.0
    ambiguous_below: float = 0.25
    put_back_k: float = 3.0           # see Fusion._own_put_back
    put_back_close: float = 0.5
    lead_s: float = 1.0               # a hand takes an item within this of arriving
    lookback_s: float = 3.0           # how far before the window a reach is followed back
    history_s: float = 60.0
    max_wait_s: float = 20.0
    hand_within: float = 0.25         # the hand decides when the runner-up is this close
    hand_weight: float = 0.8          # the hand factor's share (Fusion._hand)
    hand_low: float = 10.0            # a tip colour change up to this says nothing came
    hand_high: float = 50.0           # ... from this on, an item came or went
    hand_after_only: float = 0.0      # h for a tip seen only after the change
    hand_before_only: float = 0.25    # ... only before it
    one_hand_s: float = 1.5           # one shopper's changes this close are one hand's ...
    one_hand_k: float = 0.3           # ... and the weaker counts this much (Fusion._together)
    together_top: int = 3             # candidates per item tried together
    together_max: int = 6             # items given out together at most


@dataclass
class Fused:
    """What one update decided."""

    items: list[ItemEvent] = field(default_factory=list)
    cart: list[CartEvent] = field(default_factory=list)
    unattributed: list[dict] = field(default_factory=list)
    flags: list[tuple[str, str]] = field(default_factory=list)   # (shopper id, flag) raised
    moved: list[tuple[CartEvent, CartEvent]] = field(default_factory=list)  # (was, now)


class Fusion:
    def __init__(self, identifier: ItemIdentifier, params: FusionParams | None = None) -> None:
        self.identifier = identifier
        self.params = params or FusionParams()
        self._frames: deque[tuple[float, dict[str, list[Near]]]] = deque()  # t, by shelf
        self._waiting: list[WeightEvent] = []
        self._decided: deque[list] = deque()   # [weight event, item, cart event], in order
        self._repairs_seen = 0
        self._doubtful: dict[str, int] = {}    # shopper -> items decided below ambiguous_below
        self.t_video = -math.inf

    def update(self, scene: Scene | None, events: list[WeightEvent], zones: Zones,
               carts: Carts) -> Fused:
        """Record ``scene`` (a new frame, or None), queue ``events``, and decide every queued
        event the video has caught up with. ``zones`` says which shopper each track showed
        when, and whose identity is still in doubt (:meth:`Zones.busy`): an event one of them
        could have made waits (at most ``max_wait_s``) until that is settled, and so do the
        later events of its shelf. The cart events decided are added to ``carts`` here, in
        order, so a put-back can find the pick before it."""
        p = self.params
        if scene is not None:
            self.t_video = scene.t
            by_shelf: dict[str, list[Near]] = {}
            for n in scene.near:
                by_shelf.setdefault(n.shelf, []).append(n)
            self._frames.append((scene.t, by_shelf))
            while self._frames and self._frames[0][0] < scene.t - p.history_s:
                self._frames.popleft()
            while self._decided and self._decided[0][0].t_end < scene.t - p.history_s:
                self._decided.popleft()
        self._waiting.extend(events)
        out = Fused()
        for t0, who in zones.repairs[self._repairs_seen:]:
            self._redecide(t0, set(who), zones, carts, out)
        self._repairs_seen = len(zones.repairs)
        busy = zones.busy()
        keep, held = [], set()
        for e in sorted(self._waiting, key=lambda e: (e.t_start, e.shelf_id)):
            if e.t_end + p.pad_s > self.t_video:
                keep.append(e)
                continue
            # wait for a doubtful identity, and behind an earlier event of the shelf that
            # waits: a put-back must not be decided before the pick it returns
            if e.t_end + p.max_wait_s > self.t_video and (
                    e.shelf_id in held or busy & self.present(e, zones, carts)):
                keep.append(e)
                held.add(e.shelf_id)
            else:
                self._decide(e, zones, carts, out)
        self._waiting = keep
        return out

    def leaving(self, shoppers: set[str], zones: Zones, carts: Carts) -> Fused:
        """``shoppers`` are about to leave (their carts close): a waiting event one of them
        could have made cannot wait any longer, and is decided now, with every waiting
        event before it (in order) that the video has caught up with."""
        out = Fused()
        ready = sorted((e for e in self._waiting if e.t_end + self.params.pad_s <= self.t_video),
                       key=lambda e: (e.t_start, e.shelf_id))
        last = max((k for k, e in enumerate(ready)
                    if shoppers & self.present(e, zones, carts)), default=-1)
        for e in ready[:last + 1]:
            self._decide(e, zones, carts, out)
            self._waiting.remove(e)
        return out

    def flush(self, zones: Zones, carts: Carts) -> Fused:
        """End of stream: decide whatever is still waiting on the video we have."""
        out = Fused()
        for e in sorted(self._waiting, key=lambda e: (e.t_start, e.shelf_id)):
            self._decide(e, zones, carts, out)
        self._waiting = []
        return out

    # ---- one event -------------------------------------------------------------------------
    def present(self, e: WeightEvent, zones: Zones, carts: Carts) -> set[str]:
        """The shoppers with an open cart present at ``e``'s shelf during its window: those
        :meth:`scores` scores, found without scoring them."""
        pad = self.params.pad_s
        return {sid for t, near in self._window(e.t_start - pad, e.t_end + pad)
                for n in near.get(e.shelf_id, ())
                if (sid := zones.shopper_at(n.track, t)) and carts.is_open(sid)}

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
            timing = self._timing(live, times, t0, t_change)
            out[sid] = overlap * closeness * (0.5 + 0.5 * timing)
        if hands:
            changes = {sid: hand_change(tips.get(sid, []), t_change) for sid in out}
            if any(c.before or c.after for c in changes.values()):  # else no tip was seen
                out = {sid: v * self._hand(changes[sid]) for sid, v in out.items()}
        return out

    def _hand(self, tip: TipChange) -> float:
        """The hand factor, ``1 - hand_weight + hand_weight * h``. Seen on both sides of
        the change, ``h`` is 0 when the colour at the tip of the shopper's reach stayed as
        it was (a change up to ``hand_low``) and 1 when it changed by ``hand_high`` or more
        (an item came into the hand, or left it). Seen only after the change, ``h`` is
        ``hand_after_only`` (the hand came too late); only before it, ``hand_before_only``;
        never, 0.5."""
        p = self.params
        if tip.change is not None:
            h = min(max((tip.change - p.hand_low) / (p.hand_high - p.hand_low), 0.0), 1.0)
        elif tip.after:
            h = p.hand_after_only
        elif tip.before:
            h = p.hand_before_only
        else:
            h = 0.5
        return 1.0 - p.hand_weight + p.hand_weight * h

    def _timing(self, live: dict[int, float], times: list[float], t0: float,
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
        close = min(live[k] for k in inside) + 0.05
        k = min((k for k in inside if live[k] <= close), key=lambda k: abs(times[k] - t_change))
        start = k
        while start - 1 in live and live[start - 1] <= close:
            start -= 1
        dt = abs(times[k] - t_change)
        late = max(0.0, min(times[k], t_change) - times[start] - p.lead_s)
        return math.exp(-(((dt + late) / p.timing_s) ** 2))

    def _decide(self, e: WeightEvent, zones: Zones, carts: Carts, out: Fused) -> None:
        p = self.params
        scores = self.scores(e, zones, carts)
        cart_skus = {s for sid in scores for s, q in carts.items(sid).items() if q > 0} \
            if scores else None
        plans: list[tuple[ItemEvent, list[tuple[str, float]]]] = []
        for item in self.identifier.identify(e, cart_skus):
            out.items.append(item)
            cands = self.scores(e, zones, carts, item)
            if item.qty < 0:
                # a carrier, or someone who may take it in this event first
                takers = {s for it, rk in plans if it.sku == item.sku and it.qty > 0
                          for s, _ in rk}
                if not takers:
                    self._own_put_back(item, cands, carts, out)
                cands = {s: v for s, v in cands.items()
                         if carts.items(s)[item.sku] > 0 or s in takers}
            plans.append((item, self._rank(cands, e, item, zones, carts)))
        given, moves = self._together(plans, carts, self._near(plans, carts))
        for rec, shopper, conf, ranking in moves:
            self._move(rec, shopper, conf, tuple((s, round(v, 4)) for s, v in ranking),
                       carts, out)
        for item, ranked, conf in given:
            if not ranked:
                why = "nobody near the shelf" if not scores else \
                    "a put-back no shopper near the shelf could have made"
                out.unattributed.append({"type": "unattributed", "t": round(item.t, 4),
                                         "shelf_id": item.shelf_id, "sku": item.sku,
                                         "qty": item.qty, "delta_g": round(item.delta_g, 1),
                                         "why": why})
                continue
            best = ranked[0][0]
            if item.sku == UNEXPLAINED:
                self._flag(best, "unexplained_weight_change", carts, out)
                continue
            if conf < p.ambiguous_below:
                self._doubt(best, +1, carts, out)
            ev = CartEvent(item.t, best, item.sku, item.qty, round(conf, 4),
                           tuple((s, round(v, 4)) for s, v in ranked), item.shelf_id)
            carts.add(ev)
            out.cart.append(ev)
            self._decided.append([e, item, ev])

    def _near(self, plans: list[tuple[ItemEvent, list[tuple[str, float]]]], carts: Carts
              ) -> list[list]:
        """The decided items (records) to give out again with ``plans``: those less than
        ``one_hand_s`` from one of its items, or from one of those, and so on (at most
        ``together_max`` items in all), with a candidate in common and the cart they are in
        still open."""
        p = self.params
        group = [(item.t, {s for s, _ in ranked}) for item, ranked in plans if ranked]
        near: list[list] = []
        grown = True
        while grown and len(group) < p.together_max:
            grown = False
            for rec in self._decided:
                who = {s for s, _ in rec[2].candidates}
                if (all(rec is not r for r in near) and carts.is_open(rec[2].shopper_id)
                        and any(abs(rec[1].t - t) < p.one_hand_s and who & cands
                                for t, cands in group)):
                    near.append(rec)
                    group.append((rec[1].t, who))
                    grown = True
                    if len(group) >= p.together_max:
                        break
        return near

    def _together(self, plans: list[tuple[ItemEvent, list[tuple[str, float]]]],
                  carts: Carts, decided: list[list]
                  ) -> tuple[list[tuple[ItemEvent, list[tuple[str, float]], float]], list]:
        """The items of one weight event (each with its candidates ranked best first) given
        out together, with the ``decided`` items (records ``[event, item, cart event]``)
        less than ``one_hand_s`` from them: ``(item, ranking with the chosen shopper first,
        confidence)`` per item of ``plans``, and ``(record, shopper, confidence, ranking)``
        for each decided item that now goes to someone else. The choice makes the most
        total score, where one hand makes one change at a time (a shopper given two items
        less than ``one_hand_s`` apart counts the weaker at ``one_hand_k`` of its score) and
        a put-back goes only to a shopper carrying its sku by then. An item's confidence is
        the total its best alternative (any choice giving it to someone else) loses, over
        the item's own score: for a lone item, the margin over the runner-up."""
        p = self.params
        rows = [(item, ranked, None) for item, ranked in plans
                if ranked and item.sku != UNEXPLAINED]
        rows += [(rec[1], [kv for kv in rec[2].candidates if carts.is_open(kv[0])], rec)
                 for rec in decided]
        rows.sort(key=lambda r: r[0].t)
        held = Counter()  # what the decided items put in carts, taken out while they move
        for _, _, rec in rows:
            if rec is not None:
                held[rec[2].shopper_id, rec[2].sku] += rec[2].qty

        def counted(choice: tuple[tuple[str, float], ...]) -> list[float]:
            """Each row's score in ``choice`` (0: that item cannot go there)."""
            raw = []
            for j, (sid, v) in enumerate(choice):
                item = rows[j][0]
                if item.qty < 0 and carts.items(sid)[item.sku] - held[sid, item.sku] + sum(
                        rows[i][0].qty for i in range(j)
                        if choice[i][0] == sid and rows[i][0].sku == item.sku) <= 0:
                    v = 0.0
                raw.append(v)
            # of two items one shopper was given less than one_hand_s apart, the weaker
            # (the later of equals) counts one_hand_k
            return [v * p.one_hand_k if any(
                i != j and choice[i][0] == choice[j][0]
                and abs(rows[i][0].t - rows[j][0].t) < p.one_hand_s
                and (raw[i], -i) > (v, -j) for i in range(len(rows))) else v
                for j, v in enumerate(raw)]

        totals = []
        for choice in product(*(ranked[:p.together_top] for _, ranked, _ in rows)):
            vals = counted(choice)
            if min(vals, default=1.0) > 0:
                totals.append((sum(vals), [sid for sid, _ in choice], vals))
        chosen: dict[int, tuple[list[tuple[str, float]], float]] = {}  # id(item) -> choice
        moves = []
        if totals:
            total, best, vals = max(totals, key=lambda x: x[0])  # the first of equals
            for j, (item, ranked, rec) in enumerate(rows):
                alt = max((t for t, c, _ in totals if c[j] != best[j]), default=0.0)
                conf = min(max((total - alt) / vals[j], 0.0), 1.0) if alt else 1.0
                ranking = [next(kv for kv in ranked if kv[0] == best[j]),
                           *(kv for kv in ranked if kv[0] != best[j])]
                if rec is None:
                    chosen[id(item)] = (ranking, conf)
                elif best[j] != rec[2].shopper_id:
                    moves.append((rec, best[j], conf, ranking))
        out = []
        for item, ranked in plans:
            if id(item) in chosen:
                out.append((item, *chosen[id(item)]))
                continue
            # not given out together: put-backs still go to carriers only
            ranked = [kv for kv in ranked if item.qty >= 0 or carts.items(kv[0])[item.sku] > 0]
            s1, s2 = ([v for _, v in ranked] + [0.0, 0.0])[:2]
            out.append((item, ranked, (s1 - s2) / s1 if s1 > 0 else 0.0))
        return out, moves

    def _rank(self, cands: dict[str, float], e: WeightEvent, item: ItemEvent, zones: Zones,
              carts: Carts) -> list[tuple[str, float]]:
        """``cands`` best first (ties by id); when the runner-up is within ``hand_within``
        of the best, by their scores with the hand factor (see the module doc)."""
        ranked = sorted(cands.items(), key=lambda kv: (-kv[1], kv[0]))
        if len(ranked) > 1 and ranked[1][1] > (1 - self.params.hand_within) * ranked[0][1]:
            by_hand = self.scores(e, zones, carts, item, hands=True)
            ranked = sorted(((s, by_hand.get(s, 0.0)) for s in cands),
                            key=lambda kv: (-kv[1], kv[0]))
        return ranked

    def _redecide(self, t0: float, who: set[str], zones: Zones, carts: Carts,
                  out: Fused) -> None:
        """Identities changed hands from ``t0``: decide again the items those shoppers were
        candidates for since then, and move what now belongs to someone else (while both
        carts are open)."""
        p = self.params
        for rec in self._decided:
            e, item, ev = rec
            if e.t_end + p.pad_s < t0 or not who & {s for s, _ in ev.candidates}:
                continue
            cands = self.scores(e, zones, carts, item)
            if item.qty < 0:
                cands = {s: v for s, v in cands.items()
                         if s == ev.shopper_id or carts.items(s)[item.sku] > 0}
            ranked = self._rank(cands, e, item, zones, carts)
            if not ranked or ranked[0][0] == ev.shopper_id:
                continue
            best, s1 = ranked[0]
            if not (carts.is_open(best) and carts.is_open(ev.shopper_id)):
                continue
            s2 = ranked[1][1] if len(ranked) > 1 else 0.0
            self._move(rec, best, (s1 - s2) / s1 if s1 else 0.0,
                       tuple((s, round(v, 4)) for s, v in ranked), carts, out)

    def _own_put_back(self, item: ItemEvent, cands: dict[str, float], carts: Carts,
                      out: Fused) -> None:
        """A put-back (``cands``: everyone present, carrying the sku or not) that a shopper
        not carrying its sku explains ``put_back_k`` times better than anyone carrying it
        says who took it: when the latest pick of that sku went to a carrier on a close
        call with this shopper (their score then at least ``put_back_close`` of the
        winner's), that pick is moved to them, with confidence 0 (so flagged), and the
        put-back then goes to them too."""
        p = self.params
        if not cands:
            return
        best = min(cands, key=lambda s: (-cands[s], s))
        carried = [v for s, v in cands.items() if carts.items(s)[item.sku] > 0]
        if carts.items(best)[item.sku] > 0 or cands[best] < p.put_back_k * max(carried,
                                                                              default=0.0):
            return
        for rec in reversed(self._decided):
            ev = rec[2]
            if (ev.sku != item.sku or ev.qty <= 0 or ev.t > item.t
                    or carts.items(ev.shopper_id)[item.sku] <= 0):
                continue
            scores = dict(ev.candidates)
            if (scores.get(best, 0.0) >= p.put_back_close * max(scores.values())
                    and carts.is_open(best) and carts.is_open(ev.shopper_id)):
                ranked = sorted(ev.candidates, key=lambda kv: (kv[0] != best, -kv[1]))
                self._move(rec, best, 0.0, tuple(ranked), carts, out)
            return

    def _move(self, rec: list, shopper: str, confidence: float,
              candidates: tuple[tuple[str, float], ...], carts: Carts, out: Fused) -> None:
        """Move a decided item (``rec``: weight event, item, cart event) to ``shopper``."""
        ev = rec[2]
        new = CartEvent(ev.t, shopper, ev.sku, ev.qty, round(confidence, 4), candidates,
                        ev.shelf_id)
        carts.move(ev, new)
        out.moved.append((ev, new))
        rec[2] = new
        if ev.confidence < self.params.ambiguous_below:
            self._doubt(ev.shopper_id, -1, carts, out)
        if new.confidence < self.params.ambiguous_below:
            self._doubt(shopper, +1, carts, out)

    def _doubt(self, shopper: str, change: int, carts: Carts, out: Fused) -> None:
        """One doubtful item more (+1) or fewer (-1) in a cart: flag it ``ambiguous`` while
        it holds any."""
        n = self._doubtful.get(shopper, 0) + change
        self._doubtful[shopper] = n
        if n > 0:
            self._flag(shopper, "ambiguous", carts, out)
        else:
            carts.unflag(shopper, "ambiguous")

    @staticmethod
    def _flag(shopper: str, flag: str, carts: Carts, out: Fused) -> None:
        carts.flag(shopper, flag)
        out.flags.append((shopper, flag))
