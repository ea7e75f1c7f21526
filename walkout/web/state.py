"""What the pages show, read from a run's output folder: the store's state
(:func:`store_state`) and the evidence for a review item (:class:`Evidence`: the shelf's
weight trace as SVG, the camera's frames with the candidates boxed).

Everything is read from the folder and the inputs its ``run.json`` names; nothing here
writes. A run still writing the folder is read as far as it got (whole ledger lines only).
"""

from __future__ import annotations

import json
import threading
from collections import Counter, OrderedDict
from html import escape
from pathlib import Path

import numpy as np

from ..errors import WalkoutError
from ..io import RUN_JSON, read_mot, read_weights_csv
from ..review import LEDGER, read_ledger, sync_receipts

# the frames shown around an event: a hand is in the shelf up to a second before the load
# cell settles on the change and out within half a second after (walkout.fusion.params)
FRAME_OFFSETS_S = (-1.0, -0.5, 0.0, 0.5)
# the weight trace around an event: the reach before, the settle after
TRACE_BEFORE_S, TRACE_AFTER_S = 4.0, 3.0
FRAME_CACHE = 64   # JPEG frames kept (a review page shows four)


def _settings(out: Path) -> dict:
    try:
        obj = json.loads((out / RUN_JSON).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return obj if isinstance(obj, dict) else {}


def _visits(out: Path) -> list[dict]:
    """Shelf visits from events.jsonl (written when a run ends)."""
    path = out / "events.jsonl"
    if not path.is_file():
        return []
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if isinstance(rec, dict) and rec.get("type") == "visit":
            rows.append(rec)
    return rows


def store_state(out: Path) -> dict:
    """Receipts (as reviews leave them), the shoppers inside with their carts, and every
    shopper's timeline, from the ledger (and events.jsonl's visits once a run has ended)."""
    receipts = sync_receipts(out)
    shoppers: dict[str, dict] = {}
    carts: dict[str, Counter] = {}
    adds: dict[int, dict] = {}
    for op in read_ledger(out / LEDGER):
        kind, sid = op.get("op"), str(op.get("shopper_id", ""))
        if kind == "open":
            flags = list(op.get("flags", []))
            shoppers[sid] = {"shopper_id": sid, "entered_t": op["t"], "state": "inside",
                             "flags": flags, "receipt_id": None,
                             "timeline": [{"t": op["t"], "what": "appeared inside"
                                           if "lost_track" in flags else "entered"}]}
            carts[sid] = Counter()
        elif kind == "add" and sid in shoppers:
            adds[int(op["seq"])] = op
            carts[sid][op["sku"]] += op["qty"]
            shoppers[sid]["timeline"].append(
                {"t": op["t"], "what": "took" if op["qty"] > 0 else "put back",
                 "sku": op["sku"], "qty": abs(op["qty"]), "shelf_id": op.get("shelf_id"),
                 "confidence": op.get("confidence")})
        elif kind == "move":
            a, b = str(op["from"]), str(op["to"])
            if a in carts and b in carts:
                carts[a][op["sku"]] -= op["qty"]
                carts[b][op["sku"]] += op["qty"]
                shoppers[b]["timeline"].append({"t": op["t"], "what": f"given from #{a}",
                                                "sku": op["sku"], "qty": op["qty"]})
        elif kind in ("flag", "unflag") and sid in shoppers:
            flags = shoppers[sid]["flags"]
            if kind == "flag" and op["flag"] not in flags:
                flags.append(op["flag"])
            elif kind == "unflag" and op["flag"] in flags:
                flags.remove(op["flag"])
        elif kind == "close" and sid in shoppers:
            shoppers[sid].update(state="left", receipt_id=op["receipt_id"], exited_t=op["t"])
            shoppers[sid]["timeline"].append({"t": op["t"], "what": "left",
                                              "receipt_id": op["receipt_id"]})
        elif kind == "review" and str(op.get("id", "")).startswith("i"):
            a = adds.get(int(op["id"][1:]))
            s = shoppers.get(str(op.get("from")))
            if a is not None and s is not None:
                what = {"confirm": "reviewed: confirmed", "not_taken": "reviewed: not taken",
                        "assign": f"reviewed: given to #{op.get('shopper_id')}"}
                s["timeline"].append({"t": a["t"], "what": what.get(op["action"], "reviewed"),
                                      "sku": a["sku"], "qty": abs(a["qty"])})
    for v in _visits(out):
        s = shoppers.get(str(v.get("shopper_id")))
        if s is not None:
            s["timeline"].append({"t": v["t"], "t_end": v.get("t_end"), "what": "at shelf",
                                  "shelf_id": v.get("shelf_id")})
    shown = {r["receipt_id"]: r for r in receipts}
    for s in shoppers.values():
        if s["receipt_id"] in shown:   # as the reviews leave them
            s["flags"] = list(shown[s["receipt_id"]].get("flags", []))
        s["timeline"].sort(key=lambda e: e["t"])
        s["cart"] = {k: q for k, q in sorted(carts[s["shopper_id"]].items()) if q > 0}
    inside = [s for s in shoppers.values() if s["state"] == "inside"]
    return {"receipts": receipts, "inside": inside, "shoppers": list(shoppers.values()),
            "running": (out / ".walkout.lock").is_file() and _locked(out / ".walkout.lock")}


def _locked(path: Path) -> bool:
    """Whether a run holds the folder's lock (it is still writing)."""
    import fcntl
    import os

    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


class Evidence:
    """A review item's evidence from the run's inputs (run.json): the weight trace of its
    shelf, and frames of its camera with the candidates' boxes (tracks.txt)."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self._lock = threading.Lock()
        self._frames: OrderedDict[tuple, bytes] = OrderedDict()
        self._weights = self._store = None
        self._feeds: list[tuple[str, Path, Path]] = []
        self._track_files: dict[Path, np.ndarray | None] = {}
        self._loaded: set[str] = set()

    # ---- inputs, loaded once ---------------------------------------------------------------
    def _load(self, what: str):
        if what in self._loaded:
            return getattr(self, f"_{what}")
        self._loaded.add(what)
        s = _settings(self.out)
        try:
            if what == "store" and s.get("store"):
                from ..config import load_store

                self._store = load_store(s["store"])
            elif what == "weights" and s.get("weights"):
                self._weights = read_weights_csv(s["weights"])
        except (WalkoutError, OSError):
            pass   # that input is not readable from here: no such evidence
        return getattr(self, f"_{what}")

    def _video(self) -> Path | None:
        """The video of a one-camera run (the first camera's of a run of several)."""
        feeds = self.feeds()
        return feeds[0][1] if feeds else None

    def feeds(self) -> list[tuple[str, Path, Path]]:
        """Each camera of the run whose video is readable from here: (camera id, video,
        its tracks file in the output folder); one camera's id is ""."""
        if "feeds" in self._loaded:
            return self._feeds
        self._loaded.add("feeds")
        self._feeds = []
        src = _settings(self.out).get("source")
        path = Path(src) if src else None
        if path is not None and path.is_dir() and not (path / "video.mp4").is_file():
            store = self._load("store")
            if store is not None and store.world is not None:
                for cam in store.world.cameras:
                    video = path / (cam.source or f"{cam.id}.mp4")
                    if video.is_file():
                        self._feeds.append((cam.id, video, self.out / f"tracks_{cam.id}.txt"))
            return self._feeds
        if path is not None and path.is_dir():
            path = path / "video.mp4"
        if path is not None and path.is_file():
            self._feeds.append(("", path, self.out / "tracks.txt"))
        return self._feeds

    def describe(self, item: dict) -> dict:
        """Which evidence there is for ``item``: the weight trace's URL, the frames' URLs,
        cameras and times."""
        if item.get("kind") != "item":
            return {"weights": None, "frames": []}
        base = f"/api/review/{item['id']}"
        weights = base + "/weights.svg" if self._plates(item) else None
        frames = [{"url": f"{base}/frame.jpg?k={k}&cam={c}", "t": round(item["t"] + dt, 2),
                   "camera": cam}
                  for c, (cam, _, _) in enumerate(self.feeds())
                  for k, dt in enumerate(FRAME_OFFSETS_S)]
        return {"weights": weights, "frames": frames}

    def _plates(self, item: dict) -> list[str]:
        store, table = self._load("store"), self._load("weights")
        if store is None or table is None:
            return []
        shelves = store.world.shelves if store.world is not None else store.shelves
        shelf = next((s for s in shelves if s.id == item.get("shelf_id")), None)
        if shelf is None:
            return []
        return [q.id for q in shelf.plates if q.id in table.plate_ids]

    # ---- the weight trace ------------------------------------------------------------------
    def weights_svg(self, item: dict, width: int = 560, height: int = 220) -> str:
        """The shelf's plates and their total around the item's time, as SVG."""
        plates = self._plates(item)
        table = self._load("weights")
        if not plates:
            return _svg_note(width, height, "no weight trace for this shelf")
        t0, t1 = item["t"] - TRACE_BEFORE_S, item["t"] + TRACE_AFTER_S
        k = (table.t >= t0) & (table.t <= t1)
        t = table.t[k]
        if len(t) < 2:
            return _svg_note(width, height, "no weight samples around this event")
        cols = np.stack([table.column(p)[k] for p in plates], axis=1)
        series = [("shelf total", cols.sum(axis=1), "#222", 2.0)]
        palette = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b")
        series += [(p, cols[:, j], palette[j % len(palette)], 1.0)
                   for j, p in enumerate(plates)]
        left, right, top, bottom = 56, 10, 10, 28
        pw, ph = width - left - right, height - top - bottom
        lo = min(float(s.min()) for _, s, _, _ in series)
        hi = max(float(s.max()) for _, s, _, _ in series)
        if hi - lo < 10:
            lo, hi = lo - 5, hi + 5

        def x(v):
            return left + (v - t0) / (t1 - t0) * pw

        def y(v):
            return top + (hi - v) / (hi - lo) * ph

        parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
                 f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">',
                 f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="#fafafa" '
                 'stroke="#ccc"/>']
        for g in np.linspace(lo, hi, 5):
            parts.append(f'<text x="{left - 4}" y="{y(g) + 4:.1f}" text-anchor="end">'
                         f'{g:.0f} g</text>')
        for s in np.arange(np.ceil(t0), t1 + 1e-9, 1.0):
            parts.append(f'<line x1="{x(s):.1f}" x2="{x(s):.1f}" y1="{top + ph}" '
                         f'y2="{top + ph + 4}" stroke="#888"/><text x="{x(s):.1f}" '
                         f'y="{height - 8}" text-anchor="middle">{s:.0f} s</text>')
        parts.append(f'<line x1="{x(item["t"]):.1f}" x2="{x(item["t"]):.1f}" y1="{top}" '
                     f'y2="{top + ph}" stroke="#c00" stroke-dasharray="4 3"/>')
        for j, (name, s, colour, w) in enumerate(series):
            pts = " ".join(f"{x(a):.1f},{y(b):.1f}" for a, b in zip(t, s))
            parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="{w}" '
                         f'points="{pts}"><title>{escape(name)}</title></polyline>')
            parts.append(f'<text x="{left + 6 + 110 * (j % 4)}" y="{top + 14 + 13 * (j // 4)}" '
                         f'fill="{colour}">{escape(name)}</text>')
        parts.append("</svg>")
        return "".join(parts)

    # ---- frames ----------------------------------------------------------------------------
    def frame_jpeg(self, item: dict, k: int, cam: int = 0) -> bytes | None:
        """Frame ``k`` of :data:`FRAME_OFFSETS_S` around the item from camera ``cam`` (the
        run's order), candidates boxed and labelled with their scores (the shopper fusion
        chose in red); None without that video."""
        feeds = self.feeds()
        if item.get("kind") != "item" or not 0 <= k < len(FRAME_OFFSETS_S) \
                or not 0 <= cam < len(feeds):
            return None
        key = (item["id"], k, cam)
        with self._lock:
            if key in self._frames:
                self._frames.move_to_end(key)
                return self._frames[key]
        jpg = self._draw(item, item["t"] + FRAME_OFFSETS_S[k], *feeds[cam][1:])
        if jpg is not None:
            with self._lock:
                self._frames[key] = jpg
                while len(self._frames) > FRAME_CACHE:
                    self._frames.popitem(last=False)
        return jpg

    def _tracks(self, path: Path) -> np.ndarray | None:
        with self._lock:
            if path not in self._track_files:
                try:
                    self._track_files[path] = read_mot(path) if path.is_file() else None
                except (WalkoutError, OSError):
                    self._track_files[path] = None
            return self._track_files[path]

    def _draw(self, item: dict, t: float, video: Path, tracks_file: Path) -> bytes | None:
        import cv2

        cap = cv2.VideoCapture(str(video))
        try:
            fps = cap.get(cv2.CAP_PROP_FPS) or 10.0
            index = max(0, int(round(t * fps)))
            cap.set(cv2.CAP_PROP_POS_FRAMES, index)
            ok, image = cap.read()
        finally:
            cap.release()
        if not ok:
            return None
        scores = {str(s): v for s, v in item.get("candidates", [])}
        tracks = self._tracks(tracks_file)
        if tracks is not None and len(tracks):
            for row in tracks[tracks[:, 0] == index + 1]:
                sid = str(int(row[1]))
                if sid not in scores and sid != item["shopper_id"]:
                    continue
                x0, y0, w, h = (int(round(v)) for v in row[2:6])
                colour = (0, 0, 220) if sid == item["shopper_id"] else (220, 120, 0)
                cv2.rectangle(image, (x0, y0), (x0 + w, y0 + h), colour, 2)
                label = f"#{sid} {scores.get(sid, 0.0):.2f}"
                cv2.putText(image, label, (x0, max(12, y0 - 4)), cv2.FONT_HERSHEY_SIMPLEX,
                            0.45, colour, 1, cv2.LINE_AA)
        cv2.putText(image, f"{t:.1f} s", (6, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5,
                    (255, 255, 255), 1, cv2.LINE_AA)
        ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 80])
        return buf.tobytes() if ok else None


def _svg_note(width: int, height: int, text: str) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}">'
            f'<text x="10" y="20" font-family="sans-serif" font-size="12">{escape(text)}'
            "</text></svg>")
