"""Scoring item events against labelled ones (simulated ``gt/events.jsonl``)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

from ..types import ItemEvent


@dataclass
class EventScore:
    """Counts of one comparison. ``correct`` counts matched labelled events whose sku and
    quantity the prediction got right."""

    tp: int = 0
    fp: int = 0
    fn: int = 0
    correct: int = 0
    pairs: list[tuple[int, list[int]]] = field(default_factory=list)  # pred -> gt indices

    def __iadd__(self, other: EventScore) -> EventScore:
        self.tp += other.tp
        self.fp += other.fp
        self.fn += other.fn
        self.correct += other.correct
        return self

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def accuracy(self) -> float:
        return self.correct / self.tp if self.tp else 1.0


def score_item_events(pred: list[ItemEvent], gt: list[dict], tol_s: float = 1.0
                      ) -> EventScore:
    """Match predicted item events to labelled ones (``t``, ``shelf``, ``sku``, ``qty``).

    A pair must be on the same shelf within ``tol_s``. Pairs are chosen one-to-one by the
    Hungarian method, preferring (in this order) a right sku and quantity, then a close
    time. Then a prediction of several units may also take further labelled events of the
    same shelf, sku and direction within ``tol_s`` while its quantity lasts: two single
    picks of a product half a second apart, seen as one settle-to-settle step of two
    units, are both detected. A prediction is right when its sku is right and its quantity
    equals the sum of the labelled events it took.
    """
    out = EventScore()
    if pred and gt:
        cost = np.full((len(pred), len(gt)), np.inf)
        for i, p in enumerate(pred):
            for j, g in enumerate(gt):
                dt = abs(p.t - g["t"])
                if p.shelf_id == g["shelf"] and dt <= tol_s:
                    same = p.sku == g["sku"] and p.qty == g["qty"]
                    cost[i, j] = dt / tol_s + (0.0 if same else 2.0)
        big = np.where(np.isfinite(cost), cost, 1e6)
        rows, cols = linear_sum_assignment(big)
        taken = {int(i): [int(j)] for i, j in zip(rows, cols) if np.isfinite(cost[i, j])}
    else:
        taken = {}
    used = {j for js in taken.values() for j in js}
    for j, g in enumerate(gt):
        if j in used:
            continue
        for i, js in taken.items():
            p = pred[i]
            left = p.qty - sum(gt[k]["qty"] for k in js)
            if (p.shelf_id == g["shelf"] and p.sku == g["sku"] and abs(p.t - g["t"]) <= tol_s
                    and left * g["qty"] > 0 and abs(left) >= abs(g["qty"])):
                js.append(j)
                used.add(j)
                break
    out.tp = len(used)
    out.fn = len(gt) - len(used)
    out.fp = len(pred) - len(taken)
    for i, js in taken.items():
        if pred[i].sku == gt[js[0]]["sku"] and pred[i].qty == sum(gt[k]["qty"] for k in js):
            out.correct += len(js)
    out.pairs = sorted(taken.items())
    return out
