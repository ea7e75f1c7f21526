"""Consistency checks of a labelled clip, from its files alone.

``check_clip(dir)`` returns a list of problems (empty when the clip is consistent):

- every file of the clip format exists and parses; the video opens in OpenCV with the
  store's size and as many frames as the ground truth spans;
- ``weights.csv`` has one column per plate of store.yaml, at the store's sample rate;
- track boxes stay inside the frame, one box per (frame, id);
- every event names a known shopper, shelf, plate of that shelf and sku, and a non-zero
  integer quantity;
- each receipt equals the sum of its shopper's events, and no shopper is missing one;
- replaying the events from the initial ``units``, no plate ever holds fewer than zero
  units of any sku;
- each event shows in the plate's weight as a step of the right size.

``clip_features(dir)`` counts the situations a preset promises (put-backs, misplaced
returns, multi-unit picks, shoppers reaching the same shelf at once).
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from pathlib import Path

import cv2
import numpy as np

from ..config import load_store
from ..errors import WalkoutError
from ..io import ClipPaths, read_json, read_jsonl, read_mot, read_weights_csv


def _inside(poly: np.ndarray, x: float, y: float) -> bool:
    return cv2.pointPolygonTest(poly.astype(np.float32), (float(x), float(y)), False) >= 0


def check_clip(root: str | Path, step_tolerance_g: float = 10.0) -> list[str]:
    clip = ClipPaths(Path(root))
    problems: list[str] = []
    try:
        store = load_store(clip.store)
        weights = read_weights_csv(clip.weights)
        tracks = read_mot(clip.gt_tracks)
        events = read_jsonl(clip.gt_events)
        receipts = read_json(clip.gt_receipts).get("receipts")
    except WalkoutError as exc:
        return [str(exc)]
    if not isinstance(receipts, list):
        return [f"{clip.gt_receipts}: expected a 'receipts' list"]
    W, H = store.camera.width, store.camera.height

    # video
    cap = cv2.VideoCapture(str(clip.video))
    if not cap.isOpened():
        problems.append(f"{clip.video}: OpenCV cannot open it")
    else:
        n_frames = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        ok, img = cap.read()
        if not ok or img.shape != (H, W, 3):
            problems.append(f"{clip.video}: first frame is not {W}x{H} BGR")
        if len(tracks) and tracks[:, 0].max() > n_frames:
            problems.append(f"{clip.gt_tracks}: frame {int(tracks[:, 0].max())} beyond the "
                            f"video's {n_frames} frames")
    cap.release()

    # weights
    if list(weights.plate_ids) != store.plate_ids:
        problems.append(f"{clip.weights}: columns {list(weights.plate_ids)} != store plates")
    if len(weights.t) > 1:
        rate = 1.0 / float(np.median(np.diff(weights.t)))
        if abs(rate - store.sensors.rate_hz) > 0.01 * store.sensors.rate_hz:
            problems.append(f"{clip.weights}: {rate:.2f} Hz, store says {store.sensors.rate_hz}")

    # tracks
    if len(tracks):
        x, y, w, h = tracks[:, 2], tracks[:, 3], tracks[:, 4], tracks[:, 5]
        bad = (x < 0) | (y < 0) | (x + w > W) | (y + h > H) | (w <= 0) | (h <= 0)
        if bad.any():
            i = int(np.argmax(bad))
            problems.append(f"{clip.gt_tracks}: {int(bad.sum())} boxes leave the {W}x{H} frame "
                            f"(first: frame {int(tracks[i, 0])} id {int(tracks[i, 1])})")
        pairs = Counter(zip(tracks[:, 0].astype(int), tracks[:, 1].astype(int)))
        dup = [k for k, v in pairs.items() if v > 1]
        if dup:
            problems.append(f"{clip.gt_tracks}: {len(dup)} (frame, id) pairs appear twice")
        if (tracks[:, 0] < 1).any():
            problems.append(f"{clip.gt_tracks}: frames must be 1-based")
    track_ids = {str(int(i)) for i in tracks[:, 1]} if len(tracks) else set()

    # events
    plates = store.plates
    products = store.products
    per_shopper: dict[str, Counter] = defaultdict(Counter)
    for n, e in enumerate(events, start=1):
        where = f"{clip.gt_events}: line {n}"
        missing = {"t", "shopper", "shelf", "plate", "sku", "qty"} - set(e)
        if missing:
            problems.append(f"{where}: missing {sorted(missing)}")
            continue
        if e["shopper"] not in track_ids:
            problems.append(f"{where}: shopper {e['shopper']} has no track")
        if e["plate"] not in plates or plates[e["plate"]][0].id != e["shelf"]:
            problems.append(f"{where}: plate {e['plate']} is not on shelf {e['shelf']}")
            continue
        if e["sku"] not in products:
            problems.append(f"{where}: unknown sku {e['sku']}")
            continue
        if not isinstance(e["qty"], int) or e["qty"] == 0:
            problems.append(f"{where}: qty must be a non-zero integer, got {e['qty']!r}")
            continue
        per_shopper[e["shopper"]][e["sku"]] += e["qty"]

    # receipts = sum of events
    seen = set()
    for r in receipts:
        sid = str(r.get("shopper"))
        seen.add(sid)
        want = {k: v for k, v in per_shopper[sid].items() if v != 0}
        got = {k: v for k, v in (r.get("items") or {}).items() if v != 0}
        if want != got:
            problems.append(f"{clip.gt_receipts}: shopper {sid}: items {got} != events {want}")
        last = max((e["t"] for e in events if e.get("shopper") == sid), default=-math.inf)
        if not r.get("exited_t", math.inf) >= last:
            problems.append(f"{clip.gt_receipts}: shopper {sid} exits before their last event")
    for sid in sorted(track_ids - seen):
        problems.append(f"{clip.gt_receipts}: shopper {sid} has a track but no receipt")

    # stock never below zero
    stock: dict[str, Counter] = {}
    for shelf in store.shelves:
        for p in shelf.plates:
            stock[p.id] = Counter({p.sku: p.units if p.units is not None else 10**9})
    for e in sorted(events, key=lambda e: e["t"]):
        if e.get("plate") not in stock:
            continue
        stock[e["plate"]][e["sku"]] -= e["qty"]
        if stock[e["plate"]][e["sku"]] < 0:
            problems.append(f"{clip.gt_events}: plate {e['plate']} holds "
                            f"{stock[e['plate']][e['sku']]} units of {e['sku']} at t={e['t']}")

    # weight steps
    problems += _check_steps(clip, store, weights, events, step_tolerance_g)
    return problems


def step_size(weights, plate_id: str, t: float) -> float:
    """Median weight 1.5-3 s after ``t`` minus median 1.5-3 s before, grams (clear of the
    hand's press and the gondola's ringing)."""
    col = weights.column(plate_id)
    before = col[(weights.t >= t - 3.0) & (weights.t <= t - 1.5)]
    after = col[(weights.t >= t + 1.5) & (weights.t <= t + 3.0)]
    if len(before) == 0 or len(after) == 0:
        return math.nan
    return float(np.median(after) - np.median(before))


def _check_steps(clip, store, weights, events, tol) -> list[str]:
    problems = []
    offset = store.sensors.clock_offset_s
    products = store.products
    by_plate = defaultdict(list)
    for e in events:
        by_plate[e.get("plate")].append(e["t"])
    for n, e in enumerate(events, start=1):
        if e.get("sku") not in products or e.get("plate") not in by_plate:
            continue
        if any(0 < abs(t - e["t"]) < 3.5 for t in by_plate[e["plate"]]):
            continue  # another event on the plate overlaps the measuring windows
        got = step_size(weights, e["plate"], e["t"] - offset)
        if math.isnan(got):
            continue
        p = products[e["sku"]]
        want = -e["qty"] * p.weight_g
        allow = tol + 4 * p.weight_sd_g * math.sqrt(abs(e["qty"]))
        if abs(got - want) > allow:
            problems.append(f"{clip.weights}: event on line {n} ({e['plate']} {e['qty']:+d} "
                            f"{e['sku']}): step {got:.1f} g, expected {want:.1f} +- {allow:.1f}")
    return problems


def clip_features(root: str | Path) -> dict[str, int]:
    """Counts of the situations presets promise, from the clip's files."""
    clip = ClipPaths(Path(root))
    store = load_store(clip.store)
    events = read_jsonl(clip.gt_events)
    tracks = read_mot(clip.gt_tracks)
    plate_sku = {pid: p.sku for pid, (_, p) in store.plates.items()}
    feats = {
        "shoppers": len({int(i) for i in tracks[:, 1]}) if len(tracks) else 0,
        "events": len(events),
        "picks": sum(e["qty"] > 0 for e in events),
        "put_backs": sum(e["qty"] < 0 for e in events),
        "misplaced_returns": sum(e["qty"] < 0 and plate_sku[e["plate"]] != e["sku"]
                                 for e in events),
        "multi_unit_picks": sum(e["qty"] >= 2 for e in events),
    }
    # shoppers whose box reaches into the same shelf in the same frame
    same = set()
    for shelf in store.shelves:
        frames = defaultdict(set)
        for f, i, x, y, w, h in tracks[:, :6]:
            cx, cy = x + w / 2, y + h / 2
            if _inside(shelf.reach_zone, cx, cy):
                frames[int(f)].add(int(i))
        for ids in frames.values():
            if len(ids) > 1:
                same.add((shelf.id, tuple(sorted(ids))))
    feats["same_shelf_overlaps"] = len({(s, ids) for s, ids in same})
    return feats
