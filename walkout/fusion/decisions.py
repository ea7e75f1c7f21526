"""The items fusion has decided, and every later change to them.

- **Re-decisions.** When identities change hands (an identity repair in
  :mod:`walkout.zones.repair`), the items those shoppers were candidates for since then are
  decided again, and what now belongs to someone else is moved (a ``move`` in the ledger),
  while both carts are open.
- **A put-back says who took the item.** A put-back that someone not carrying the sku
  explains ``put_back_k`` times better than every carrier says who took it: if that sku's
  latest pick went to a carrier on a close call with them (their score then at least
  ``put_back_close`` of the winner's), the pick is moved to them, with confidence 0, and
  the put-back follows.
- **A put-back says who held the item.** A put-back its shopper explains clearly best of
  everyone present (carrier or not, by ``ambiguous_below``), when all they held of the sku
  came from doubtful picks, shows the latest of those was theirs: it is no longer doubtful.
  Whoever took it, the receipts now come out the same (the pick and its return cancel).
- **Flags follow the doubtful items.** An item decided with a confidence under
  ``ambiguous_below`` flags its cart ``ambiguous``; when a move takes it to another cart,
  that cart is flagged if the new decision is doubtful too, and the old one loses its flag
  once it holds no doubtful item.
"""

from __future__ import annotations

from collections import deque

from ..carts import Carts
from ..types import CartEvent, ItemEvent, WeightEvent
from ..zones import Zones
from .params import Fused, FusionParams
from .presence import Presence


class Decisions:
    """Decided items as records ``[weight event, item, cart event, doubtful]``, in decision
    order (``history_s`` of them are kept), and the moves and flags that change them."""

    def __init__(self, params: FusionParams) -> None:
        self.params = params
        self.decided: deque[list] = deque()
        self._doubtful: dict[str, int] = {}    # shopper -> items decided below ambiguous_below

    def add(self, e: WeightEvent, item: ItemEvent, ev: CartEvent) -> None:
        self.decided.append([e, item, ev, ev.confidence < self.params.ambiguous_below])

    def forget_before(self, t: float) -> None:
        """Drop the records of weight events that ended before ``t``."""
        while self.decided and self.decided[0][0].t_end < t:
            self.decided.popleft()

    def redecide(self, t0: float, who: set[str], presence: Presence, zones: Zones,
                 carts: Carts, out: Fused) -> None:
        """Identities changed hands from ``t0``: decide again the items those shoppers were
        candidates for since then, and move what now belongs to someone else (while both
        carts are open)."""
        p = self.params
        for rec in self.decided:
            e, item, ev, _ = rec
            if e.t_end + p.pad_s < t0 or not who & {s for s, _ in ev.candidates}:
                continue
            cands = presence.scores(e, zones, carts, item)
            if item.qty < 0:
                cands = {s: v for s, v in cands.items()
                         if s == ev.shopper_id or carts.items(s)[item.sku] > 0}
            ranked = presence.rank(cands, e, item, zones, carts)
            if not ranked or ranked[0][0] == ev.shopper_id:
                continue
            best, s1 = ranked[0]
            if not (carts.is_open(best) and carts.is_open(ev.shopper_id)):
                continue
            s2 = ranked[1][1] if len(ranked) > 1 else 0.0
            self.move(rec, best, (s1 - s2) / s1 if s1 else 0.0,
                      tuple((s, round(v, 4)) for s, v in ranked), carts, out)

    def own_put_back(self, item: ItemEvent, cands: dict[str, float], carts: Carts,
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
        for rec in reversed(self.decided):
            ev = rec[2]
            if (ev.sku != item.sku or ev.qty <= 0 or ev.t > item.t
                    or carts.items(ev.shopper_id)[item.sku] <= 0):
                continue
            scores = dict(ev.candidates)
            if (scores.get(best, 0.0) >= p.put_back_close * max(scores.values())
                    and carts.is_open(best) and carts.is_open(ev.shopper_id)):
                ranked = sorted(ev.candidates, key=lambda kv: (kv[0] != best, -kv[1]))
                self.move(rec, best, 0.0, tuple(ranked), carts, out)
            return

    def move(self, rec: list, shopper: str, confidence: float,
             candidates: tuple[tuple[str, float], ...], carts: Carts, out: Fused) -> None:
        """Move a decided item (``rec``: weight event, item, cart event, doubtful) to
        ``shopper``."""
        ev = rec[2]
        new = CartEvent(ev.t, shopper, ev.sku, ev.qty, round(confidence, 4), candidates,
                        ev.shelf_id)
        carts.move(ev, new)
        out.moved.append((ev, new))
        if rec[3]:
            self.doubt(ev.shopper_id, -1, carts, out)
        rec[2], rec[3] = new, new.confidence < self.params.ambiguous_below
        if rec[3]:
            self.doubt(shopper, +1, carts, out)

    def returned(self, ev: CartEvent, everyone: dict[str, float], carts: Carts,
                 out: Fused) -> None:
        """A put-back ``ev`` (already in its shopper's cart; ``everyone``: the scores of all
        present, carrying its sku or not) that its shopper explains best by a clear margin
        (``ambiguous_below``, as any decision), when every unit of the sku they held came
        from doubtful picks: the latest of those no larger than the put-back was theirs
        (nobody else held one to return), and stops counting as doubtful."""
        p, sid = self.params, ev.shopper_id
        s1 = everyone.get(sid, 0.0)
        s2 = max((v for s, v in everyone.items() if s != sid), default=0.0)
        if s1 <= 0 or (s1 - s2) / s1 < p.ambiguous_below:
            return
        picks = [rec for rec in self.decided if rec[3] and rec[2].shopper_id == sid
                 and rec[2].sku == ev.sku and rec[2].qty > 0 and rec[2].t < ev.t]
        held = carts.items(sid)[ev.sku] - ev.qty      # what they held before returning
        fits = [rec for rec in picks if rec[2].qty <= -ev.qty]
        if fits and sum(rec[2].qty for rec in picks) >= held:
            fits[-1][3] = False
            self.doubt(sid, -1, carts, out)

    def doubt(self, shopper: str, change: int, carts: Carts, out: Fused) -> None:
        """One doubtful item more (+1) or fewer (-1) in a cart: flag it ``ambiguous`` while
        it holds any."""
        n = self._doubtful.get(shopper, 0) + change
        self._doubtful[shopper] = n
        if n > 0:
            flag(shopper, "ambiguous", carts, out)
        else:
            carts.unflag(shopper, "ambiguous")


def flag(shopper: str, name: str, carts: Carts, out: Fused) -> None:
    """Raise flag ``name`` on ``shopper``'s cart, and say so in ``out``."""
    carts.flag(shopper, name)
    out.flags.append((shopper, name))
