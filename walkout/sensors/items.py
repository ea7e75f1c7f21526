"""Item identification: which products, and how many, explain a weight event.

The shelf's plates are grouped by the product the planogram puts on them (an AiFi product
often spans two plates). Each group whose weight changed is explained on its own, so two
products taken in one event from neighbouring plates become two item events. For a group
the candidates are, following CMU's CPS-IoT 2020 winner (anchors.md):

- the planogram's product, quantity ``round(delta / unit weight)``;
- items seen being put back there by mistake earlier (the planogram is updated with
  misplaced returns, which CMU found worth +6.7% F1);
- for a weight *increase* only, any product that can be in a cart, because a shopper may
  return an item to the wrong shelf (a misplaced return).

Each candidate's likelihood is Gaussian in the residual grams, with variance ``qty * sd^2
+ sigma_m^2`` (unit spread plus measurement noise), times a prior that favours the
planogram. The best candidate must also pass a likelihood check (``|residual| <= z_max
sigma``) and CMU's rejection rule (a change below 0.4 unit for a pick, 0.75 for a return);
otherwise the change is reported as :data:`UNEXPLAINED`, never as a guess. No item at all is
a hypothesis as well: when it explains the change better than the best item (a change
nearer zero than a unit, in sigmas), the change is shelf noise and gives no item.
Confidence is the best candidate's posterior share.

A plate whose change came in several clear steps (``WeightEvent.plate_steps``: hands a
second or so apart, the shelf never settling) can be several items, one a step at its own
time, for fusion to give to whoever reached then. When the plates' own product explains
the whole change, the steps split it in whole units (:meth:`ItemIdentifier._split`). When
it does not and the steps go both ways, each step is explained on its own: a misplaced
return and a pick of the plate's product in one movement net to some third weight, or
to none (:meth:`ItemIdentifier._both_ways`).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from itertools import pairwise
from pathlib import Path

from ..config import Product, StoreConfig
from ..errors import InputError
from ..io import iter_jsonl
from ..types import UNEXPLAINED, ItemEvent, WeightEvent
from .readers import aifi_plate_id, aifi_shelf_id


@dataclass(frozen=True)
class Planogram:
    """What stands where: ``products`` by sku, ``shelves`` (shelf id -> plate ids in
    order) and ``plate_sku`` (plate id -> sku, or None for an empty plate)."""

    products: dict[str, Product]
    shelves: dict[str, list[str]]
    plate_sku: dict[str, str | None]

    @classmethod
    def from_store(cls, store: StoreConfig) -> Planogram:
        return cls(
            products=store.products,
            shelves={s.id: [p.id for p in s.plates] for s in store.shelves},
            plate_sku={p.id: p.sku for s in store.shelves for p in s.plates},
        )

    @classmethod
    def from_aifi(cls, products_path: str | Path, planogram_path: str | Path) -> Planogram:
        """AiFi's ``products.jsonl`` and ``planogram.jsonl``: skus are barcodes, shelf ids
        ``g<gondola>s<shelf>``, plate ids ``g<gondola>s<shelf>p<plate>``. AiFi gives no
        weight spread; it is taken as ``max(1.35 g, 2%)`` (1.35 g is the median spread of
        AiFi's products, anchors.md). A product without a weight (10 of AiFi's 711) cannot
        be told by weight: its plates count as unstocked, so a change there is reported as
        unexplained."""
        products: dict[str, Product] = {}
        unweighed: set[str] = set()
        for where, doc in _jsonl(products_path):
            try:
                sku = str(doc["product_id"]["id"])
                meta = doc["metadata"]
                if meta.get("weight") is None:
                    unweighed.add(sku)
                    continue
                w = float(meta["weight"])
                products[sku] = Product(sku, str(meta.get("name", sku)), w,
                                        max(1.35, 0.02 * w), float(meta.get("price", 0.0)))
            except (KeyError, TypeError, ValueError) as exc:
                raise InputError(f"{where}: expected product_id.id and metadata.weight "
                                 f"({exc})") from None
        shelves: dict[str, list[str]] = {}
        plate_sku: dict[str, str | None] = {}
        for where, doc in _jsonl(planogram_path):
            try:
                sku = doc.get("planogram_product_id", {}).get("id")
                for pl in doc["plate_ids"]:
                    g = int(pl["shelf_id"]["gondola_id"]["id"])
                    s = int(pl["shelf_id"]["shelf_index"])
                    pid = aifi_plate_id(g, s, int(pl["plate_index"]))
                    shelves.setdefault(aifi_shelf_id(g, s), []).append(pid)
                    plate_sku[pid] = str(sku) if sku and str(sku) in products else None
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                raise InputError(f"{where}: expected plate_ids[].shelf_id.gondola_id.id, "
                                 f"shelf_index and plate_index ({exc})") from None
            if sku and str(sku) not in products and str(sku) not in unweighed:
                raise InputError(f"{where}: product {sku} is not in {products_path}")
        for sid in shelves:
            shelves[sid] = sorted(set(shelves[sid]), key=lambda p: int(p.rsplit("p", 1)[1]))
        return cls(products, shelves, plate_sku)


def _jsonl(path: str | Path):
    """``(where, object)`` for each line (the shared reader: bad bytes, nesting and syntax
    are one-line errors)."""
    for lineno, obj in iter_jsonl(path):
        yield f"{path}: line {lineno}", obj


@dataclass(frozen=True)
class IdentifyParams:
    """Identification settings (grams)."""

    plate_min_g: float = 5.0  # a plate group counts if its change exceeds this (AIM3S: 5 g)
    # Least measurement sigma of a level difference: a load cell's creep and a shelf's
    # vibration move a quiet plate's level by 1-4 g (AiFi's quiet plates).
    meas_floor_g: float = 2.0
    # Likelihood check: the residual must be within z_max sigma (a Gaussian error goes
    # beyond 4 sigma once in 16,000 readings; beyond, it is another weight).
    z_max: float = 4.0
    pick_min_units: float = 0.4  # CMU: reject a pick under 0.4 unit ...
    return_min_units: float = 0.75  # ... and a return under 0.75 unit
    max_qty: int = 12  # most units of one product a hand (or two) moves at once
    # Two-step split: the level between, read over as little as 0.3 s with a hand near,
    # must be within about a third of a unit of whole (half would be ambiguous).
    split_tolerance: float = 0.35
    # Priors: shoppers take a product from where the planogram puts it far more often
    # than from anywhere else ...
    prior_planogram: float = 0.9  # the product the planogram puts there
    prior_misplaced: float = 0.5  # picks: an item returned there by mistake earlier;
    #                               returns: a carried item returned to the wrong place
    prior_elsewhere: float = 0.05  # picks: another product of the shelf (shared)
    prior_uncarried: float = 0.01  # returns: factor for a product nobody is known to carry
    # ... and move one unit at a time far more often than several: the prior of n units
    # is qty_decay^(n-1).
    qty_decay: float = 0.3


@dataclass
class _Cand:
    sku: str
    qty: int
    logp: float
    z: float


class ItemIdentifier:
    """Turn :class:`WeightEvent` s into :class:`ItemEvent` s (see the module docstring).

    It remembers misplaced returns per plate group, so feed it the events of one store in
    time order; :meth:`reset` between streams.
    """

    def __init__(self, planogram: Planogram, params: IdentifyParams | None = None) -> None:
        self.planogram = planogram
        self.params = params or IdentifyParams()
        self.reset()

    def reset(self) -> None:
        self.misplaced: dict[tuple[str, ...], Counter] = {}
        self.carried: Counter = Counter()  # units taken and not returned, per sku

    def identify(self, event: WeightEvent,
                 cart_skus: Iterable[str] | Mapping[str, float] | None = None,
                 units: Mapping[str, int] | None = None) -> list[ItemEvent]:
        """The item events explaining ``event``. A return is looked for first among the
        items that can be in carts: ``cart_skus`` when given (the pipeline knows the
        carts), else the items this identifier saw taken, and not returned, before this
        event. ``cart_skus`` may map each sku to how well the shoppers carrying it explain
        the event (0-1, 1 for the best placed): a return is made by a hand holding the
        item, so a sku only a bystander carries is that much less likely. ``units``, when
        given, is how many units of each sku those carts hold between them: nobody puts
        back more than they hold, so a return of more units is as unlikely as a return of
        something nobody carries."""
        p = self.params
        cart = None if cart_skus is None else set(cart_skus)
        # what a return can be: taken before this event (not by another plate of it)
        carried = dict(cart_skus) if isinstance(cart_skus, Mapping) else \
            dict.fromkeys(cart if cart is not None else self._taken(), 1.0)
        sigma_m = max(p.meas_floor_g, event.noise_g)
        out: list[ItemEvent] = []
        for plates, sku, delta in self._groups(event):
            if self._negligible(plates, delta, cart):
                out.extend(self._came_and_went(event, plates, sku, sigma_m))
                continue
            t = self._time(event, plates)
            item = self._explain(event.shelf_id, t, plates, sku, delta, sigma_m, carried,
                                 units)
            if item is None:  # shelf noise explains it better than any item
                continue
            # no item of the plates' own product: steps both ways may be two items
            steps = self._both_ways(event, plates) if item.sku != sku else []
            if steps:
                out.extend(self._each_step(event, plates, sku, steps, sigma_m, carried,
                                           units))
                continue
            self._keep(plates, sku, item)
            out.extend(self._split(event, plates, sku, item, cart))
        plates = tuple(event.plate_deltas_g)
        if not out and not self._negligible(plates, event.delta_g, cart):
            # a change spread thinly over the shelf: explain the shelf as a whole
            t = event.t_change if event.t_change is not None else event.t_start
            item = self._explain(event.shelf_id, t, plates, None, event.delta_g, sigma_m,
                                 carried, units)
            if item is not None:
                self._keep(plates, None, item)
                out.append(item)
        return out

    def _both_ways(self, event: WeightEvent, plates: tuple[str, ...]
                   ) -> list[tuple[float, float]]:
        """The steps ``(t, grams)`` of a plate group whose change came in clear steps going
        both ways (something put down and something taken, the shelf never settling
        between), all on one plate of the group; else ``[]``. Such a change is at least
        two items."""
        steps = event.plate_steps or {}
        biggest = max(plates, key=lambda q: abs(event.plate_deltas_g[q]))
        rest = sum(abs(event.plate_deltas_g[q]) for q in plates if q != biggest)
        if biggest not in steps or rest > self.params.plate_min_g:
            return []
        levels = [0.0, *(level for _, level in steps[biggest])]
        moves = [b - a for a, b in pairwise(levels)]
        if not min(moves) < 0 < max(moves):
            return []
        return [(t, d) for (t, _), d in zip(steps[biggest], moves, strict=True)]

    def _each_step(self, event: WeightEvent, plates: tuple[str, ...], sku: str | None,
                   steps: list[tuple[float, float]], sigma_m: float,
                   carried: dict[str, float], units: Mapping[str, int] | None
                   ) -> list[ItemEvent]:
        """Each step explained on its own, at its time; an item taken at one step may be
        what a later step puts back."""
        out = []
        for t, grams in steps:
            item = self._explain(event.shelf_id, t, plates, sku, grams, sigma_m, carried,
                                 units)
            if item is None:
                continue
            self._keep(plates, sku, item)
            if item.qty > 0:
                carried = carried | {item.sku: 1.0}
            if units is not None and item.sku != UNEXPLAINED:
                units = {**units, item.sku: units.get(item.sku, 0) + item.qty}
            out.append(item)
        return out

    def _split(self, event: WeightEvent, plates: tuple[str, ...], sku: str | None,
               item: ItemEvent, cart: set[str] | None) -> list[ItemEvent]:
        """A change that came in several clear steps, a second or so apart
        (``event.plate_steps``), is one item event a step, at its own time: two shoppers
        taking from one plate one after the other, or one putting back and another taking,
        never let the shelf settle in between, and each step goes to whoever reached then.
        The steps are units of the plates' own product ``sku`` (the item must be it), each
        a change of at least one. When there are as many steps as units, all one way, each
        is one unit, whatever the level between reads (two hands less than half a second
        apart blur it), but each must move at least the least share of a unit that counts
        as an item (``pick_min_units``, ``return_min_units``). Otherwise every level
        between them must be a whole number of units (within ``split_tolerance`` of a
        unit) to say how many each step moved. A level above where the plate began (by
        ``return_min_units`` of a unit or more) means some of its product was put back:
        when the carts near are known (``cart``, their skus) and none holds it, it is a
        hand pressing the plate, and its step merges into the next."""
        p = self.params
        prod = self.planogram.products.get(item.sku)
        by_plate = event.plate_steps or {}
        biggest = max(plates, key=lambda q: abs(event.plate_deltas_g[q]))
        if prod is None or item.sku != sku or item.qty == 0 or biggest not in by_plate:
            return [item]
        w = prod.weight_g
        steps = list(by_plate[biggest])
        if cart is not None and item.sku not in cart:
            steps = [st for st in steps[:-1] if st[1] < p.return_min_units * w] + steps[-1:]
        levels = [0.0, *(-level / w for _, level in steps[:-1]), float(item.qty)]
        units = [after - before for before, after in pairwise(levels)]  # + taken, - returned
        one, floor = (1, p.pick_min_units) if item.qty > 0 else (-1, p.return_min_units)
        if len(units) == abs(item.qty) and all(u * one >= floor for u in units):
            qtys = [one] * len(units)
        elif all(abs(k - round(k)) <= p.split_tolerance for k in levels[1:-1]):
            qtys = [round(after) - round(before) for before, after in pairwise(levels)]
        else:
            return [item]
        # each step is an item of its own, so it must pass the rule a lone change must:
        # at least pick_min_units of a unit taken, return_min_units put back (a hand
        # resting on a light product's plate moves its level by a good share of a unit)
        if not all(qtys) or any(abs(u) < (p.pick_min_units if q > 0 else p.return_min_units)
                                for u, q in zip(units, qtys)):
            return [item]
        return [replace(item, t=t, qty=q, delta_g=item.delta_g * q / item.qty)
                for (t, _), q in zip(steps, qtys, strict=True)]

    def _came_and_went(self, event: WeightEvent, plates: tuple[str, ...], sku: str | None,
                       sigma_m: float) -> list[ItemEvent]:
        """A plate that ends where it began but held more, or less, in between
        (``plate_steps`` of one step and back): a unit or more of its own product put back
        and then taken, or taken and then put back, as two item events at their times. The
        level must be whole units of the plate's product (within ``z_max`` sigma and
        ``split_tolerance`` of a unit)."""
        steps = event.plate_steps or {}
        prod = self.planogram.products.get(sku) if sku is not None else None
        pulsed = [q for q in plates if q in steps and len(steps[q]) == 2
                  and steps[q][1][1] == 0.0]
        if prod is None or len(pulsed) != 1:
            return []
        (t_on, level), (t_off, _) = steps[pulsed[0]]
        k = int(round(level / prod.weight_g))  # units put back (> 0) or taken (< 0)
        if k == 0 or abs(level - k * prod.weight_g) > (self.params.split_tolerance
                                                       * prod.weight_g):
            return []
        first = self._explain(event.shelf_id, t_on, plates, sku, level, sigma_m, {sku: 1.0},
                              None)
        if first is None or first.sku != sku or first.qty != -k:
            return []
        self._keep(plates, sku, first)
        self.carried[sku] -= first.qty  # and the other way again
        return [first, replace(first, t=t_off, qty=-first.qty, delta_g=-first.delta_g)]

    def _taken(self) -> set[str]:
        """The skus this identifier saw taken and not yet returned."""
        return {k for k, v in self.carried.items() if v > 0}

    def _negligible(self, plates: tuple[str, ...], delta: float, cart: set[str] | None
                    ) -> bool:
        """CMU's rejection rule, taken before any guess: a change smaller than 0.4 of the
        lightest unit that could have been picked there (0.75 of the lightest that could
        be returned) is shelf noise, not an item. With no unit known that could have
        (nobody near carries anything, or the plate holds no product), the lightest
        product of the store sets the floor: a change under its share is no item at all."""
        p = self.params
        if abs(delta) < p.plate_min_g:
            return True
        if delta < 0:
            skus = {self.planogram.plate_sku.get(q) for q in plates} - {None}
            skus |= set(self.misplaced.get(plates, ()))
            floor = p.pick_min_units
        else:
            # anything a shopper near it carries, or that anyone took and has not returned
            skus = set(self.planogram.products) if cart is None else cart | self._taken()
            floor = p.return_min_units
        weights = [self.planogram.products[s].weight_g for s in skus
                   if s in self.planogram.products]
        weights = weights or [q.weight_g for q in self.planogram.products.values()]
        return bool(weights) and abs(delta) < floor * min(weights)

    # -- internals -----------------------------------------------------------------------
    def _groups(self, event: WeightEvent) -> list[tuple[tuple[str, ...], str | None, float]]:
        """Plates grouped by their planogram product, in shelf order, with their change."""
        groups: dict[str | None, list[str]] = {}
        for pid in event.plate_deltas_g:
            groups.setdefault(self.planogram.plate_sku.get(pid), []).append(pid)
        out = []
        for sku, pids in groups.items():
            if sku is None:  # unstocked plates each stand alone
                out.extend(((pid,), None, event.plate_deltas_g[pid]) for pid in pids)
            else:
                out.append((tuple(pids), sku, sum(event.plate_deltas_g[q] for q in pids)))
        return out

    def _time(self, event: WeightEvent, plates: tuple[str, ...]) -> float:
        times = event.plate_t_change or {}
        biggest = max(plates, key=lambda q: abs(event.plate_deltas_g[q]))
        if biggest in times:
            return times[biggest]
        return event.t_change if event.t_change is not None else event.t_start

    def _explain(self, shelf_id: str, t: float, plates: tuple[str, ...], sku: str | None,
                 delta: float, sigma_m: float, carried: dict[str, float],
                 units: Mapping[str, int] | None) -> ItemEvent | None:
        """The best item explaining ``delta`` grams (:data:`UNEXPLAINED` when none passes
        the checks), or None when no item at all explains it better: the change is shelf
        noise."""
        p = self.params
        products = self.planogram.products
        taken = delta < 0
        cands: list[_Cand] = []

        def add(s: str, prior: float, qtys: Iterable[int]) -> None:
            prod = products.get(s)
            if prod is None or prior <= 0:
                return
            for q in qtys:
                if q == 0 or abs(q) > p.max_qty or (q > 0) != taken:
                    continue
                var = abs(q) * prod.weight_sd_g**2 + sigma_m**2
                r = delta + q * prod.weight_g
                z = abs(r) / math.sqrt(var)
                logp = (math.log(prior) + (abs(q) - 1) * math.log(p.qty_decay)
                        - 0.5 * z * z - 0.5 * math.log(2 * math.pi * var))
                cands.append(_Cand(s, q, logp, z))

        def near(s: str) -> list[int]:  # round(delta / unit weight), and one either side
            q = round(-delta / products[s].weight_g) if s in products else 0
            return [q - 1, q, q + 1]

        if taken:
            if sku is not None:
                add(sku, p.prior_planogram, near(sku))
            stray = self.misplaced.get(plates, Counter())
            for s, n in stray.items():
                add(s, p.prior_misplaced, [q for q in near(s) if q <= n])
            shelf = {self.planogram.plate_sku.get(q)
                     for q in self.planogram.shelves.get(shelf_id, ())}
            others = sorted(shelf - {None, sku} - set(stray))
            for s in others:
                add(s, p.prior_elsewhere / len(others), near(s))
        else:
            # a return: of something a shopper is carrying (or, unlikely, something taken
            # before the stream began), most likely onto its own plate
            n_other = max(1, len(products) - 1)
            for s in sorted(products):
                place = p.prior_planogram if s == sku else p.prior_misplaced / n_other
                carry = max(carried.get(s, 0.0), p.prior_uncarried)
                held = math.inf if units is None else units.get(s, 0)
                qtys = near(s)
                add(s, place * carry, [q for q in qtys if -q <= held])
                add(s, place * p.prior_uncarried, [q for q in qtys if -q > held])
        cands.sort(key=lambda c: -c.logp)
        total = sum(math.exp(c.logp - cands[0].logp) for c in cands) if cands else 0.0
        ranked = [(c, math.exp(c.logp - cands[0].logp) / total) for c in cands]
        alts = tuple((c.sku, c.qty, round(w, 4)) for c, w in ranked[1:4])
        best = ranked[0][0] if ranked else None
        # no item at all is a hypothesis too, as likely a priori as the plate's own
        # product: a change nearer zero than any unit's weight (in sigmas) is the shelf's
        # own noise (a load cell's slow wander moves a quiet plate by several grams,
        # half a unit of the lightest goods), not a guess at an item
        var0 = sigma_m ** 2
        if best is not None and math.log(p.prior_planogram) - 0.5 * delta * delta / var0 \
                - 0.5 * math.log(2 * math.pi * var0) > best.logp:
            return None
        if best is not None and best.z <= p.z_max:
            unit = products[best.sku].weight_g
            floor = p.pick_min_units if taken else p.return_min_units
            if abs(delta) >= floor * unit * min(1, abs(best.qty)):
                return ItemEvent(t, shelf_id, best.sku, best.qty, round(ranked[0][1], 4),
                                 alts, float(delta), plates)
        return ItemEvent(t, shelf_id, UNEXPLAINED, 0, 0.0,
                         tuple((c.sku, c.qty, round(w, 4)) for c, w in ranked[:3]),
                         float(delta), plates)

    def _keep(self, plates: tuple[str, ...], sku: str | None, item: ItemEvent) -> None:
        """Record an item given out (on ``plates``, whose product is ``sku``): what is
        carried, and items that now sit on plates the planogram gives to another
        product."""
        if item.sku == UNEXPLAINED:
            return
        self.carried[item.sku] += item.qty
        if item.sku == sku:
            return
        stray = self.misplaced.setdefault(plates, Counter())
        stray[item.sku] -= item.qty  # a return (qty < 0) adds, a pick removes
        if stray[item.sku] <= 0:
            del stray[item.sku]
