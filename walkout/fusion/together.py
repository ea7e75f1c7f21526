"""The one-hand rule: one hand makes one change at a time.

The items of one weight event (a plate that changed in several steps, the shelf never
settling between), with the items already decided less than ``one_hand_s`` from them (and
from those, up to ``together_max`` items), are given out together
(:func:`give_out_together`). A shopper given two of them less than ``one_hand_s`` apart
counts the weaker at ``one_hand_k`` of its score, and the choice with the most total score
wins; a decided item it gives to someone else is moved. Two shoppers reaching into one
gondola, one taking and the other putting back or taking a moment later, are then told
apart even though the closer one explains both changes best.

A decided item is a record ``[weight event, item, cart event, doubtful]`` (kept by
:class:`walkout.fusion.decisions.Decisions`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from itertools import product

from ..carts import Carts
from ..types import UNEXPLAINED, ItemEvent
from .params import FusionParams

Plan = tuple[ItemEvent, list[tuple[str, float]]]   # an item and its candidates, best first


def near_decided(plans: list[Plan], decided: Iterable[list], carts: Carts,
                 p: FusionParams) -> list[list]:
    """The decided items (records) to give out again with ``plans``: those less than
    ``one_hand_s`` from one of its items, or from one of those, and so on (at most
    ``together_max`` items in all), with a candidate in common and the cart they are in
    still open."""
    group = [(item.t, {s for s, _ in ranked}) for item, ranked in plans if ranked]
    near: list[list] = []
    grown = True
    while grown and len(group) < p.together_max:
        grown = False
        for rec in decided:
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


def one_grab(a: ItemEvent, b: ItemEvent, p: FusionParams) -> bool:
    """Whether one hand can have made both changes in one grab: units of one product
    leaving (or coming back to) the same plates at what may be one moment (``one_grab_s``).
    A hand closes on two cans as easily as on one."""
    return (a.sku == b.sku and bool(a.plates) and set(a.plates) == set(b.plates)
            and (a.qty > 0) == (b.qty > 0) and abs(a.t - b.t) <= p.one_grab_s)


def give_out_together(plans: list[Plan], carts: Carts, decided: list[list], p: FusionParams
                      ) -> tuple[list[tuple[ItemEvent, list[tuple[str, float]], float]], list]:
    """The items of one weight event (each with its candidates ranked best first) given
    out together, with the ``decided`` items (records ``[event, item, cart event]``) less
    than ``one_hand_s`` from them: ``(item, ranking with the chosen shopper first,
    confidence)`` per item of ``plans``, and ``(record, shopper, confidence, ranking)`` for
    each decided item that now goes to someone else. The choice makes the most total score,
    where one hand makes one change at a time (a shopper given two items less than
    ``one_hand_s`` apart counts the weaker at ``one_hand_k`` of its score) and a put-back
    goes only to a shopper carrying its sku by then. An item's confidence is the total its
    best alternative (any choice giving it to someone else) loses, over the item's own
    score: for a lone item, the margin over the runner-up."""
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
        # (the later of equals) counts one_hand_k, unless one grab can make both
        return [v * p.one_hand_k if any(
            i != j and choice[i][0] == choice[j][0]
            and abs(rows[i][0].t - rows[j][0].t) < p.one_hand_s
            and not one_grab(rows[i][0], rows[j][0], p)
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
