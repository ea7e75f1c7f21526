"""Fusion: each weight change goes to the shopper whose reach best explains it.

:class:`Fusion` holds each :class:`WeightEvent` until the video has caught up with
``t_end + pad_s``, then identifies it as items (:class:`walkout.sensors.ItemIdentifier`),
with the present shoppers' carts as the candidates for a put-back (each sku weighted by how
well the shopper carrying it explains the change), so a misplaced return is recognised as the
product that was really put down, and gives each item to a shopper:

- :mod:`.presence` scores the shoppers present at the shelf (how much, how close and how
  well timed their reach was) and breaks near-ties by the hands;
- a put-back goes only to shoppers carrying that sku;
- :mod:`.together` gives the items of one event, and items decided a moment before, out
  together, one hand making one change at a time;
- :mod:`.decisions` keeps what was decided and changes it later: re-decisions after an
  identity repair, a put-back correcting its pick or confirming it, and the ``ambiguous``
  flags.

The confidence is the margin over the runner-up, ``(best - second) / best`` (1 with a
single candidate; for items given out together, the total score the best choice giving the
item to someone else loses, over the item's own score); below ``ambiguous_below`` the event
is still given to the best shopper and their receipt is flagged ``ambiguous``. A change
nobody was near, and a put-back no present shopper could have made, are ``unattributed``:
logged, never dropped. A change no product explains flags the best shopper's receipt
``unexplained_weight_change``.

Events are decided in time order once the video has passed them by ``pad_s``. One that a
shopper whose identity is in doubt could have made waits until it is settled, and the
later events of its shelf wait behind it; when a shopper leaves, the waiting events they
could have made are decided first, so their receipt holds them.
"""

from __future__ import annotations

import math
from collections import Counter

from ..carts import Carts
from ..sensors import ItemIdentifier
from ..types import UNEXPLAINED, CartEvent, ItemEvent, WeightEvent
from ..zones import Scene, Zones
from .decisions import Decisions, flag
from .params import Fused, FusionParams
from .presence import Presence
from .together import give_out_together, near_decided

__all__ = ["Fused", "Fusion", "FusionParams"]


class Fusion:
    """Waits for the video, then decides each weight event's items (see the module doc)."""

    def __init__(self, identifier: ItemIdentifier, params: FusionParams | None = None) -> None:
        self.identifier = identifier
        self.params = params or FusionParams()
        self.presence = Presence(self.params)
        self.decisions = Decisions(self.params)
        self._waiting: list[WeightEvent] = []
        self._repairs_seen = 0
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
            self.presence.record(scene)
            self.decisions.forget_before(scene.t - p.history_s)
        self._waiting.extend(events)
        out = Fused()
        for t0, who in zones.repairs[self._repairs_seen:]:
            self.decisions.redecide(t0, set(who), self.presence, zones, carts, out)
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
                    e.shelf_id in held or busy & self.presence.present(e, zones, carts)):
                keep.append(e)
                held.add(e.shelf_id)
            else:
                self._decide(e, zones, carts, out)
        self._waiting = keep
        return out

    def holds(self, shopper: str, unsettled: dict[str, float], zones: Zones,
              carts: Carts) -> bool:
        """Whether a leaving ``shopper``'s receipt must wait: a shelf they were at is still
        being read (``unsettled``, shelf -> when its reading began; they were there at most
        ``pad_s`` before it), or an event they could have made waits for the video to
        pass it. A hand can take an item while a neighbour keeps the shelf moving, and its
        taker can be at the door before the shelf settles."""
        p = self.params
        if any(self.presence.was_at(shopper, shelf, t - p.pad_s, zones)
               for shelf, t in unsettled.items()):
            return True
        return any(e.t_end + p.pad_s > self.t_video
                   and shopper in self.presence.present(e, zones, carts)
                   for e in self._waiting)

    def leaving(self, shoppers: set[str], zones: Zones, carts: Carts) -> Fused:
        """``shoppers`` are about to leave (their carts close): a waiting event one of them
        could have made cannot wait any longer, and is decided now, with every waiting
        event before it (in order) that the video has caught up with."""
        out = Fused()
        ready = sorted((e for e in self._waiting if e.t_end + self.params.pad_s <= self.t_video),
                       key=lambda e: (e.t_start, e.shelf_id))
        last = max((k for k, e in enumerate(ready)
                    if shoppers & self.presence.present(e, zones, carts)), default=-1)
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
    def _decide(self, e: WeightEvent, zones: Zones, carts: Carts, out: Fused) -> None:
        p, presence, decisions = self.params, self.presence, self.decisions
        scores = presence.scores(e, zones, carts)
        cart_skus = carried_by(scores, carts) if scores else None
        units = sum((carts.items(s) for s in scores), Counter()) if scores else None
        plans: list[tuple[ItemEvent, list[tuple[str, float]]]] = []
        everyone: dict[int, dict[str, float]] = {}   # id(item) -> all present, scored
        for item in self.identifier.identify(e, cart_skus, units):
            out.items.append(item)
            cands = everyone[id(item)] = presence.scores(e, zones, carts, item)
            if item.qty < 0:
                # a carrier, or someone who may take it in this event first
                takers = {s for it, rk in plans if it.sku == item.sku and it.qty > 0
                          for s, _ in rk}
                if not takers:
                    decisions.own_put_back(item, cands, carts, out)
                cands = {s: v for s, v in cands.items()
                         if carts.items(s)[item.sku] > 0 or s in takers}
            plans.append((item, presence.rank(cands, e, item, zones, carts)))
        given, moves = give_out_together(
            plans, carts, near_decided(plans, decisions.decided, carts, p), p)
        for rec, shopper, conf, ranking in moves:
            decisions.move(rec, shopper, conf, tuple((s, round(v, 4)) for s, v in ranking),
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
                flag(best, "unexplained_weight_change", carts, out)
                continue
            if conf < p.ambiguous_below:
                decisions.doubt(best, +1, carts, out)
            ev = CartEvent(item.t, best, item.sku, item.qty, round(conf, 4),
                           tuple((s, round(v, 4)) for s, v in ranked), item.shelf_id)
            carts.add(ev)
            out.cart.append(ev)
            decisions.add(e, item, ev)
            if item.qty < 0:
                decisions.returned(ev, everyone[id(item)], carts, out)


def carried_by(scores: dict[str, float], carts: Carts) -> dict[str, float]:
    """The skus in the carts of the shoppers present (``scores``), each weighted by how
    well its best-placed carrier explains the event, relative to the best-placed shopper
    (1): a put-back is made by a hand holding the item, so of two products whose weights
    both fit, the one carried by the shopper at the plate is the likelier."""
    top = max(scores.values(), default=0.0)
    weight: dict[str, float] = {}
    for sid, v in scores.items():
        for sku, q in carts.items(sid).items():
            if q > 0:
                weight[sku] = max(weight.get(sku, 0.0), v / top if top > 0 else 1.0)
    return weight
