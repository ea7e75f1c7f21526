"""Cart accuracy of predictions against labelled clips (what ``walkout eval`` reports).

The scoring follows the CPS-IoT 2020 Autonomous Checkout competition, plus a shopper
matching step because our shopper ids are invented by the tracker.

**Shopper matching.** Predicted receipts are grouped by ``shopper_id`` and true receipts by
``shopper``; the two sides are matched one to one with the Hungarian algorithm. The matching
maximises, in this order of priority: the units both agree on (the sum over skus of
``min(predicted qty, true qty)``), then the number of pairs that are exactly right, then the
closeness of their exit times (``1 / (1 + |dt|)``). Each priority is scaled so that no amount
of a lower one can outweigh one unit of a higher one.

**Receipt lines** (micro, over all (shopper, sku) pairs): ``TP = min(pred, true)`` on matched
pairs; the rest of every predicted quantity is a false positive (unmatched shoppers and
unknown skus included), the rest of every true quantity a false negative.
``precision = TP / (TP + FP)``, ``recall = TP / (TP + FN)``, ``F1 = 2 TP / (2 TP + FP + FN)``;
a ratio with nothing to count (0 / 0) is 1.

**Exact-receipt rate**: matched pairs whose items are equal and whose predicted total is the
catalogue price of the true items (within half a cent), over the true receipts. (A receipt
for a shopper who does not exist is not in this rate; its items are false positives.)

**Events**: true events (``gt/events.jsonl``) against predicted item events (``"type":
"item"`` in ``events.jsonl``). A pair must have the same shelf, sku and sign of quantity and
be at most 1.5 s apart; pairs are chosen one to one, as many as possible, then the smallest
total time difference. An unexplained weight change (sku ``"unexplained"``) matches nothing.
``event precision = matched / predicted``, ``event recall = matched / true``.

**Attribution accuracy**: true events are matched the same way to cart events (``"type":
"cart"``; the shelf is compared when the record has ``shelf_id``), and a matched event is
right when its cart event's shopper is the one matched to the true shopper.
``attribution = right / matched``.

**Flagged rate**: predicted receipts with at least one flag over predicted receipts (0 when
there are none).

**Tracking**: HOTA, IDF1 and MOTA of ``tracks.txt`` against ``gt/tracks.txt``
(:mod:`walkout.mot`). A store of several cameras is scored on the floor: ``tracks_floor.csv``
against ``gt/tracks_floor.csv`` (the true rows of moments when some camera sees the
shopper), each point a ``FLOOR_BOX_M`` square matched at IoU ``FLOOR_IOU``: a point matches
one within 0.41 m (diagonally) to 0.5 m (along an axis), about the 0.5 m radius that
floor-plane benchmarks such as WILDTRACK use.

Every figure is computed per clip, per tag and overall from summed counts (micro averages,
not means of per-clip ratios). A clip's tag is its store name, or else its folder name, less
a trailing seed (``sim-busy-seed7`` -> ``sim-busy``).
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy.optimize import linear_sum_assignment

from .config import load_store
from .errors import InputError
from .io import (
    ClipPaths,
    cut,
    iter_jsonl,
    read_json,
    read_mot,
    write_json_atomic,
    write_text_atomic,
)
from .mot import MOTScores, combine_mot, evaluate_mot

EVENT_WINDOW_S = 1.5
PRICE_TOLERANCE = 0.005
UNEXPLAINED = "unexplained"
PRED_FILES = ("receipts.json", "events.jsonl", "tracks.txt")
FLOOR_BOX_M = 1.0
FLOOR_IOU = 1.0 / 3.0
FLAT_KEYS = ("receipt_precision", "receipt_recall", "receipt_f1", "exact_receipt_rate",
             "event_precision", "event_recall", "flagged_rate", "hota", "idf1", "mota")


# ---- what a clip says and what a system predicted ----------------------------------------
@dataclass
class Truth:
    """A labelled clip: receipts by shopper, events, tracks, and the catalogue."""

    name: str
    tag: str
    root: Path
    items: dict[str, Counter]          # shopper -> sku -> qty
    exited: dict[str, float]           # shopper -> exit time
    events: list[dict]                 # {"t", "shopper", "shelf", "sku", "qty"}
    tracks: np.ndarray
    prices: dict[str, float]
    floor: bool = False                # tracks are floor squares (a store of several cameras)
    fps: float = 10.0                  # frames of the floor tracks per second


@dataclass
class Prediction:
    """What ``walkout run`` wrote for one clip."""

    root: Path
    items: dict[str, Counter]          # shopper_id -> sku -> qty
    totals: dict[str, float]
    exited: dict[str, float]
    flagged: dict[str, list[str]]      # shopper_id -> flags
    item_events: list[dict]            # {"t", "shelf", "sku", "qty"}
    cart_events: list[dict]            # {"t", "shelf" (or None), "sku", "qty", "shopper"}
    tracks: np.ndarray


def clip_tag(name: str) -> str:
    return re.sub(r"[-_]?(seed)?\d+$", "", name) or name


def find_clips(dirs: list[str | Path]) -> list[Path]:
    """Clip folders among ``dirs``: each is a clip (it has store.yaml) or a folder of clips."""
    clips: list[Path] = []
    for d in map(Path, dirs):
        if not d.is_dir():
            raise InputError(f"{d}: not a folder (expected a labelled clip or a folder of clips)")
        if (d / "store.yaml").is_file():
            clips.append(d)
            continue
        inner = sorted(p for p in d.iterdir() if p.is_dir() and (p / "store.yaml").is_file())
        if not inner:
            raise InputError(f"{d}: no store.yaml in it or in its sub-folders "
                             "(expected a labelled clip or a folder of clips)")
        clips.extend(inner)
    names = Counter(c.name for c in clips)
    dup = [n for n, k in names.items() if k > 1]
    if dup:
        raise InputError(f"{dup[0]}: two clips share this folder name (predictions are "
                         "looked up by clip name, so names must be unique)")
    return clips


# A receipt line or an event of a million units of one product is beyond any shopper (a
# shelf holds hundreds); larger quantities are damage (a 401-digit one overflowed the
# float scoring).
MAX_QTY = 1_000_000
# Times (seconds of a clip, or epoch seconds, which reach 1e10 in the year 2286) and
# totals (a receipt of ten billion) within 1e10 leave every sum and difference exact
# enough; beyond is damage.
MAX_NUMBER = 1e10


def _num(v, where: str, what: str = "a number") -> float:
    ok = not isinstance(v, bool) and isinstance(v, (int, float)) and abs(v) <= MAX_NUMBER
    if not ok:  # NaN and inf fail the bound; an int too large for a float is compared exactly
        raise InputError(f"{where}: expected {what} within +-{MAX_NUMBER:g}, got {cut(v)}")
    return float(v)


def _qty(v, where: str, nonzero: bool = False, positive: bool = False) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or (nonzero and v == 0) or \
            (positive and v < 0) or abs(v) > MAX_QTY:
        want = "an integer >= 0" if positive else "a non-zero integer" if nonzero else \
            "an integer"
        raise InputError(f"{where}: expected 'qty' {want} up to {MAX_QTY:,}, got {cut(v)}")
    return v


def _get(obj: dict, key: str, where: str):
    if key not in obj:
        raise InputError(f"{where}: missing key '{key}'")
    return obj[key]


def _receipts(path: Path):
    """Yield ``(where, receipt)`` for each object of a receipts file's ``receipts`` list."""
    raw = _get(read_json(path), "receipts", str(path))
    if not isinstance(raw, list):
        raise InputError(f"{path}: expected 'receipts' to be a list")
    for i, r in enumerate(raw):
        where = f"{path}: receipts[{i}]"
        if not isinstance(r, dict):
            raise InputError(f"{where}: expected an object")
        yield where, r


def load_truth(root: str | Path) -> Truth:
    clip = ClipPaths(Path(root))
    if not (clip.root / "gt").is_dir():
        raise InputError(f"{clip.root}: no gt/ folder (expected a labelled clip with "
                         "gt/tracks.txt, gt/events.jsonl and gt/receipts.json)")
    store = load_store(clip.store)
    prices = {p.sku: p.price for p in store.catalogue}
    items: dict[str, Counter] = {}
    exited: dict[str, float] = {}
    for where, r in _receipts(clip.gt_receipts):
        shopper = str(_get(r, "shopper", where))
        got = _get(r, "items", where)
        if not isinstance(got, dict):
            raise InputError(f"{where}: expected 'items' to be an object {{sku: qty}}")
        c = items.setdefault(shopper, Counter())
        for sku, q in got.items():
            c[str(sku)] += _qty(q, f"{where}.items[{cut(sku, 40)}]", positive=True)
        exited[shopper] = _num(r.get("exited_t", 0.0), f"{where}.exited_t")
    events = []
    for line, e in iter_jsonl(clip.gt_events):
        where = f"{clip.gt_events}: line {line}"
        events.append({"t": _num(_get(e, "t", where), f"{where}: 't'"),
                       "shopper": str(_get(e, "shopper", where)),
                       "shelf": str(_get(e, "shelf", where)),
                       "sku": str(_get(e, "sku", where)),
                       "qty": _qty(_get(e, "qty", where), where, nonzero=True)})
    name = clip.root.resolve().name
    floor = store.world is not None
    if floor:
        tracks = _true_floor(clip.root / "gt", store)
    else:
        tracks = read_mot(clip.gt_tracks)
    fps = store.world.cameras[0].fps if floor else store.camera.fps
    return Truth(name, clip_tag(store.name or name), clip.root, items, exited, events,
                 tracks, prices, floor, fps)


def floor_rows(path: Path, fps: float) -> np.ndarray:
    """``tracks_floor.csv`` (t, shopper, x, y) as MOT rows of ``FLOOR_BOX_M`` squares, the
    frame numbered from time at ``fps`` (frame 1 at t = 0)."""
    try:
        rows = np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2)
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: not a floor track file (expected rows t,shopper,x,y): "
                         f"{cut(str(exc), 80)}") from None
    if rows.size == 0:
        return np.zeros((0, 6))
    if rows.shape[1] != 4:
        raise InputError(f"{path}: {rows.shape[1]} columns (expected t,shopper,x,y)")
    half = FLOOR_BOX_M / 2
    frame = np.round(rows[:, 0] * fps) + 1
    return np.c_[frame, rows[:, 1], rows[:, 2] - half, rows[:, 3] - half,
                 np.full(len(rows), FLOOR_BOX_M), np.full(len(rows), FLOOR_BOX_M)]


def _true_floor(gt: Path, store) -> np.ndarray:
    """The true floor rows of the moments when at least one camera sees the shopper."""
    cams = store.world.cameras
    rows = floor_rows(gt / "tracks_floor.csv", cams[0].fps)
    return rows[_seen(gt, store, rows)] if len(rows) else rows


def _seen(gt: Path, store, rows: np.ndarray) -> np.ndarray:
    """Which floor rows (MOT rows) fall on a frame where some camera's truth has them."""
    seen = set()
    for cam in store.world.cameras:
        seen |= {(int(f), int(i)) for f, i in read_mot(gt / f"tracks_{cam.id}.txt")[:, :2]}
    return np.array([(int(f), int(i)) in seen for f, i in rows[:, :2]], bool)


def load_prediction(root: str | Path, fps: float = 10.0) -> Prediction:
    """The outputs of ``walkout run`` in ``root``; floor tracks (a store of several
    cameras) are numbered in frames of ``fps``."""
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"{root}: prediction folder not found (expected the `walkout run` "
                         f"outputs {', '.join(PRED_FILES)})")
    floor = not (root / "tracks.txt").is_file() and (root / "tracks_floor.csv").is_file()
    for f in PRED_FILES[:2] if floor else PRED_FILES:
        if not (root / f).is_file():
            raise InputError(f"{root / f}: file not found (a prediction folder holds "
                             f"{', '.join(PRED_FILES)})")
    items: dict[str, Counter] = {}
    totals: dict[str, float] = {}
    exited: dict[str, float] = {}
    flagged: dict[str, list[str]] = {}
    for where, r in _receipts(root / "receipts.json"):
        shopper = str(_get(r, "shopper_id", where))
        lines = _get(r, "lines", where)
        if not isinstance(lines, list):
            raise InputError(f"{where}: expected 'lines' to be a list")
        c = items.setdefault(shopper, Counter())
        for k, ln in enumerate(lines):
            lw = f"{where}.lines[{k}]"
            if not isinstance(ln, dict):
                raise InputError(f"{lw}: expected an object")
            c[str(_get(ln, "sku", lw))] += _qty(_get(ln, "qty", lw), lw, positive=True)
        totals[shopper] = totals.get(shopper, 0.0) + _num(_get(r, "total", where),
                                                          f"{where}.total")
        if "exited_t" in r:
            exited[shopper] = _num(r["exited_t"], f"{where}.exited_t")
        flags = r.get("flags", [])
        if not isinstance(flags, list):
            raise InputError(f"{where}: expected 'flags' to be a list")
        flagged.setdefault(shopper, []).extend(str(f) for f in flags)
    item_events, cart_events = [], []
    for line, e in iter_jsonl(root / "events.jsonl"):
        kind = e.get("type")
        if kind not in ("item", "cart"):
            continue
        where = f"{root / 'events.jsonl'}: line {line}"
        rec = {"t": _num(_get(e, "t", where), f"{where}: 't'"),
               "sku": str(_get(e, "sku", where)),
               "qty": _qty(_get(e, "qty", where), where)}
        if kind == "item":
            rec["shelf"] = str(_get(e, "shelf_id", where))
            item_events.append(rec)
        else:
            rec["shelf"] = str(e["shelf_id"]) if e.get("shelf_id") else None
            rec["shopper"] = str(_get(e, "shopper_id", where))
            cart_events.append(rec)
    tracks = floor_rows(root / "tracks_floor.csv", fps) if floor else read_mot(root / "tracks.txt")
    return Prediction(root, items, totals, exited, flagged, item_events, cart_events, tracks)


# ---- matching ----------------------------------------------------------------------------
def _agree(a: Counter, b: Counter) -> int:
    return sum(min(q, b[s]) for s, q in a.items() if s in b)


def _total(items: Counter, prices: dict[str, float]) -> float:
    return sum(q * prices.get(s, math.nan) for s, q in items.items())


def _exact(true: Counter, pred: Counter, pred_total: float, prices: dict[str, float]) -> bool:
    t, p = +true, +pred  # drop zero counts
    return t == p and abs(pred_total - _total(t, prices)) <= PRICE_TOLERANCE + 1e-9


def match_shoppers(truth: Truth, pred: Prediction) -> dict[str, str]:
    """True shopper -> predicted shopper, one to one (see the module docstring)."""
    ts, ps = sorted(truth.items), sorted(pred.items)
    if not ts or not ps:
        return {}
    n = min(len(ts), len(ps))
    k_exact = n + 1.0              # n closeness bonuses (each < 1) never outweigh one exact
    k_unit = k_exact * (n + 1)     # nor do n exact bonuses outweigh one unit
    w = np.zeros((len(ts), len(ps)))
    for i, a in enumerate(ts):
        for j, b in enumerate(ps):
            exact = _exact(truth.items[a], pred.items[b], pred.totals[b], truth.prices)
            dt = abs(truth.exited.get(a, 0.0) - pred.exited.get(b, math.inf))
            w[i, j] = (k_unit * _agree(truth.items[a], pred.items[b]) + k_exact * exact
                       + 1.0 / (1.0 + dt))
    rows, cols = linear_sum_assignment(-w)
    return {ts[i]: ps[j] for i, j in zip(rows, cols)}


def match_events(true: list[dict], pred: list[dict], same) -> list[tuple[int, int]]:
    """One-to-one pairs ``(i, j)`` of events at most 1.5 s apart for which ``same(t, p)``:
    as many pairs as possible, then the smallest total time difference."""
    if not true or not pred:
        return []
    dt = np.abs(np.array([e["t"] for e in true])[:, None] - np.array([e["t"] for e in pred]))
    ok = dt <= EVENT_WINDOW_S + 1e-9
    for i, j in zip(*np.nonzero(ok)):
        ok[i, j] = same(true[i], pred[j])
    if not ok.any():
        return []
    big = 2 * min(dt.shape) * (EVENT_WINDOW_S + 1) + 1
    rows, cols = linear_sum_assignment(np.where(ok, dt, big))
    return [(int(i), int(j)) for i, j in zip(rows, cols) if ok[i, j]]


def _sign(q: int) -> int:
    return (q > 0) - (q < 0)


def _same_item(t: dict, p: dict) -> bool:
    return t["shelf"] == p["shelf"] and t["sku"] == p["sku"] and \
        _sign(t["qty"]) == _sign(p["qty"])


def _same_cart(t: dict, p: dict) -> bool:
    return (p["shelf"] is None or t["shelf"] == p["shelf"]) and t["sku"] == p["sku"] and \
        _sign(t["qty"]) == _sign(p["qty"])


def _same_place(t: dict, p: dict) -> bool:
    return t["shelf"] == p["shelf"] and _sign(t["qty"]) == _sign(p["qty"])


# ---- scoring -----------------------------------------------------------------------------
@dataclass
class ClipResult:
    """Counts for one clip, and the details a report shows."""

    name: str
    tag: str
    tp: int = 0
    fp: int = 0
    fn: int = 0
    exact: int = 0
    receipts: int = 0          # true receipts
    pred_receipts: int = 0
    flagged: int = 0
    ev_tp: int = 0
    ev_true: int = 0
    ev_pred: int = 0
    attr_right: int = 0
    attr_matched: int = 0
    mot: MOTScores | None = None
    shoppers: dict[str, str] = field(default_factory=dict)
    diffs: list[dict] = field(default_factory=list)        # one per true / unmatched receipt
    confusions: list[tuple[str, str]] = field(default_factory=list)   # (true sku, predicted)
    unknown_skus: list[str] = field(default_factory=list)
    timeline: dict = field(default_factory=dict)

    def scores(self) -> dict:
        return _scores([self])


def _ratio(num: float, den: float, empty: float = 1.0) -> float:
    """num / den, or ``empty`` when there is nothing to count. Receipts default to 1.0
    (nobody bought anything and nothing was charged: vacuously right); event and
    attribution scores pass NaN (null in JSON, n/a in tables): a video-only run has no item
    events, and 1.000 would claim a precision nobody measured."""
    return num / den if den else empty


def _scores(results: list[ClipResult]) -> dict:
    s = {k: sum(getattr(r, k) for r in results)
         for k in ("tp", "fp", "fn", "exact", "receipts", "pred_receipts", "flagged",
                   "ev_tp", "ev_true", "ev_pred", "attr_right", "attr_matched")}
    mot = combine_mot([r.mot for r in results if r.mot is not None])
    return {
        "receipt_precision": _ratio(s["tp"], s["tp"] + s["fp"]),
        "receipt_recall": _ratio(s["tp"], s["tp"] + s["fn"]),
        "receipt_f1": _ratio(2 * s["tp"], 2 * s["tp"] + s["fp"] + s["fn"]),
        "exact_receipt_rate": _ratio(s["exact"], s["receipts"]),
        "event_precision": _ratio(s["ev_tp"], s["ev_pred"], math.nan),
        "event_recall": _ratio(s["ev_tp"], s["ev_true"], math.nan),
        "flagged_rate": _ratio(s["flagged"], s["pred_receipts"], empty=0.0),
        "attribution_accuracy": _ratio(s["attr_right"], s["attr_matched"], math.nan),
        "hota": mot["hota"], "idf1": mot["idf1"], "mota": mot["mota"],
        "deta": mot["deta"], "assa": mot["assa"],
        "clips": len(results),
        "counts": s,
    }


def evaluate_clip(truth: Truth, pred: Prediction) -> ClipResult:
    r = ClipResult(truth.name, truth.tag)
    match = match_shoppers(truth, pred)
    r.shoppers = match
    # receipt lines
    for a, items in truth.items.items():
        b = match.get(a)
        got = pred.items[b] if b is not None else Counter()
        tp = _agree(items, got)
        r.tp += tp
        r.fn += sum(items.values()) - tp
        if b is not None and _exact(items, got, pred.totals[b], truth.prices):
            r.exact += 1
    r.fp = sum(sum(c.values()) for c in pred.items.values()) - r.tp
    r.receipts = len(truth.items)
    r.pred_receipts = len(pred.items)
    r.flagged = sum(bool(f) for f in pred.flagged.values())
    r.unknown_skus = sorted({s for c in pred.items.values() for s in c
                             if s not in truth.prices})
    r.diffs = _receipt_diffs(truth, pred, match)
    # events
    pairs = match_events(truth.events, pred.item_events, _same_item)
    r.ev_tp, r.ev_true, r.ev_pred = len(pairs), len(truth.events), len(pred.item_events)
    left_t = sorted(set(range(len(truth.events))) - {i for i, _ in pairs})
    left_p = sorted(set(range(len(pred.item_events))) - {j for _, j in pairs})
    wrong = match_events([truth.events[i] for i in left_t],
                         [pred.item_events[j] for j in left_p], _same_place)
    r.confusions = [(truth.events[left_t[i]]["sku"], pred.item_events[left_p[j]]["sku"])
                    for i, j in wrong]
    # attribution
    cart_pairs = match_events(truth.events, pred.cart_events, _same_cart)
    r.attr_matched = len(cart_pairs)
    r.attr_right = sum(match.get(truth.events[i]["shopper"]) == pred.cart_events[j]["shopper"]
                       for i, j in cart_pairs)
    r.timeline = {"true": truth.events, "pred": pred.cart_events, "shoppers": match}
    # tracking
    r.mot = evaluate_mot(truth.tracks, pred.tracks, FLOOR_IOU if truth.floor else 0.5)
    return r


def _receipt_diffs(truth: Truth, pred: Prediction, match: dict[str, str]) -> list[dict]:
    """Per true receipt (and unmatched predicted one): what is missing, what is extra, and
    which missing items went to another shopper."""
    extra_of = {}
    for b, items in pred.items.items():
        a = next((k for k, v in match.items() if v == b), None)
        extra_of[b] = items - (truth.items[a] if a is not None else Counter())
    out = []
    for a in sorted(truth.items):
        b = match.get(a)
        got = pred.items[b] if b is not None else Counter()
        missing = truth.items[a] - got
        wrong = {s: sorted(o for o, ex in extra_of.items() if o != b and ex[s] > 0)
                 for s in missing}
        out.append({"true_shopper": a, "pred_shopper": b,
                    "missing": dict(missing), "extra": dict(got - truth.items[a]),
                    "to_other_shopper": {s: v for s, v in wrong.items() if v},
                    "errors": sum(missing.values()) + sum((got - truth.items[a]).values())})
    for b in sorted(set(pred.items) - set(match.values())):
        out.append({"true_shopper": None, "pred_shopper": b, "missing": {},
                    "extra": dict(pred.items[b]), "to_other_shopper": {},
                    "errors": sum(pred.items[b].values())})
    return out


@dataclass
class Evaluation:
    results: list[ClipResult]

    def summary(self) -> dict:
        """The JSON document: the design doc's flat keys overall, then per tag and clip."""
        out = _scores(self.results)
        by_tag = defaultdict(list)
        for r in self.results:
            by_tag[r.tag].append(r)
        out["per_tag"] = {t: _scores(rs) for t, rs in sorted(by_tag.items())}
        out["per_clip"] = {r.name: dict(r.scores(), tag=r.tag, unknown_skus=r.unknown_skus)
                           for r in self.results}
        return _clean(out)


def _clean(v):
    """NaN -> None so the JSON stays standard."""
    if isinstance(v, float):
        return v if math.isfinite(v) else None
    if isinstance(v, dict):
        return {k: _clean(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_clean(x) for x in v]
    return v


def evaluate(clips: list[str | Path], pred_root: str | Path) -> Evaluation:
    """Score the prediction folders ``pred_root/<clip name>`` against ``clips``."""
    results = []
    for root in find_clips(clips):
        truth = load_truth(root)
        results.append(evaluate_clip(truth, load_prediction(Path(pred_root) / root.name,
                                                                   truth.fps)))
    return Evaluation(results)


def write_oracle_prediction(clip: str | Path, out: str | Path) -> Path:
    """Write, into ``out``, the prediction a perfect system would make for ``clip``: its true
    receipts priced from the catalogue, its true events as item and cart events, its true
    tracks. A fixture for tests and benchmarks, and the ceiling of every score."""
    truth = load_truth(clip)
    store = load_store(ClipPaths(Path(clip)).store)
    names = {p.sku: p.name for p in store.catalogue}
    out = Path(out)
    receipts = []
    for k, a in enumerate(sorted(truth.items, key=lambda s: (truth.exited[s], s))):
        items = truth.items[a]
        lines = [{"sku": s, "name": names.get(s, s), "qty": q, "unit_price": truth.prices[s]}
                 for s, q in sorted(items.items()) if q > 0]
        receipts.append({"receipt_id": f"r{k + 1:04d}", "shopper_id": a, "entered_t": 0.0,
                         "exited_t": truth.exited[a],
                         "lines": lines, "total": round(_total(+items, truth.prices), 2),
                         "flags": []})
    write_json_atomic(out / "receipts.json", {"receipts": receipts})
    rows = []
    for e in sorted(truth.events, key=lambda e: e["t"]):
        rows.append({"type": "item", "t": e["t"], "shelf_id": e["shelf"], "sku": e["sku"],
                     "qty": e["qty"], "confidence": 1.0})
        rows.append({"type": "cart", "t": e["t"], "shopper_id": e["shopper"],
                     "shelf_id": e["shelf"], "sku": e["sku"], "qty": e["qty"],
                     "confidence": 1.0})
    write_text_atomic(out / "events.jsonl", "".join(json.dumps(r) + "\n" for r in rows))
    if truth.floor:   # a store of several cameras: its floor tracks while seen
        gt = Path(clip) / "gt"
        lines = (gt / "tracks_floor.csv").read_text().splitlines(keepends=True)
        keep = _seen(gt, store, floor_rows(gt / "tracks_floor.csv", truth.fps))
        write_text_atomic(out / "tracks_floor.csv",
                          lines[0] + "".join(ln for ln, k in zip(lines[1:], keep) if k))
    else:
        write_text_atomic(out / "tracks.txt", ClipPaths(Path(clip)).gt_tracks.read_text())
    return out
