"""Annotated frames for videos and the live demo window: drawing only, no logic.

:class:`Annotator` draws one :class:`Overlay` on a camera frame:

* the store, precomputed once per image size: shelf outlines (thin grey) and ids, reach
  zones as translucent fills, the entrance (green) and exit (red) zones with their names;
* reach zones someone is reaching into now, highlighted in yellow;
* tracked people: a box in a colour stable per shopper id with ``#<id>`` above it (thin grey
  boxes for people not yet a shopper), the shopper's flags as a red tag under the label and
  the live cart (``2x Product name``) in a dark panel next to the box;
* a HUD top-left: stream time, and processing fps and latency when given;
* the last receipt in a panel bottom-right.

:class:`VideoOut` writes annotated frames to a video atomically (temp file + rename).
"""

from __future__ import annotations

import os
import tempfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from .config import StoreConfig
from .errors import InputError
from .types import Receipt

FONT = cv2.FONT_HERSHEY_SIMPLEX
NAME_CHARS = 18  # cart and receipt lines truncate product names to this many characters

# BGR colours
GREY = (150, 150, 150)
WHITE = (255, 255, 255)
BLACK = (0, 0, 0)
RED = (40, 40, 220)
GREEN = (60, 190, 60)
YELLOW = (0, 220, 255)
REACH = (200, 150, 60)  # reach zones at rest: muted blue
FILL_ALPHA = 0.3  # the static layer's translucent fills
HIGHLIGHT_ALPHA = 0.45  # a reached zone, on top of its fill
PANEL_DIM = 0.35  # a panel keeps this fraction of the image under it
PALETTE = (  # shopper colours, BGR, readable on a store floor
    (255, 128, 0), (0, 200, 255), (255, 0, 200), (0, 255, 128), (128, 0, 255),
    (255, 255, 0), (0, 128, 255), (200, 255, 0), (255, 0, 100), (0, 255, 255),
    (160, 80, 255), (80, 255, 200),
)


@dataclass
class Overlay:
    """Everything drawn on one frame."""

    t: float  # stream time, seconds
    boxes: np.ndarray  # (N, 4) float xyxy of tracked people
    labels: list[str]  # per box: shopper id ("" when not a shopper yet)
    reaching: dict[str, list[str]] = field(default_factory=dict)  # shopper -> shelf ids reached
    carts: dict[str, dict[str, int]] = field(default_factory=dict)  # shopper -> sku -> qty
    receipt: Receipt | None = None  # last receipt, shown while the caller passes it
    fps: float | None = None  # processing frames/s, shown when given
    latency_ms: float | None = None  # capture-to-overlay latency, shown when given
    flags: dict[str, list[str]] = field(default_factory=dict)  # shopper id -> flags


def shopper_colour(shopper_id: str) -> tuple[int, int, int]:
    """A BGR colour for a shopper id, the same in every run (crc32, not the salted hash)."""
    return PALETTE[zlib.crc32(shopper_id.encode("utf-8")) % len(PALETTE)]


def _short(text: str, n: int = NAME_CHARS) -> str:
    return text if len(text) <= n else text[: n - 1].rstrip() + "."


@dataclass
class _Style:
    """Font and line sizes for one image size."""

    font: float
    thick: int  # text thickness
    line: int  # box line thickness
    line_h: int  # text line height with spacing, pixels
    pad: int

    @classmethod
    def for_scale(cls, s: float) -> _Style:
        font = 0.42 * s
        (_, h), base = cv2.getTextSize("Ag", FONT, font, 1)
        line_h = h + base + max(2, round(3 * s))
        return cls(font, max(1, round(s * 0.8)), max(1, round(2 * s)), line_h, max(2, round(4 * s)))


@dataclass
class _Zone:
    """A reach zone at one image size: its polygon, bounding rect and mask inside that rect."""

    pts: np.ndarray  # (N, 1, 2) int32, image pixels
    rect: tuple[int, int, int, int]  # x0, y0, x1, y1 (exclusive), clipped to the image
    mask: np.ndarray  # (y1 - y0, x1 - x0) uint8
    yellow: np.ndarray  # (y1 - y0, x1 - x0, 3) uint8, the highlight colour


@dataclass
class _Layer:
    """The static drawing for one image size."""

    style: _Style
    fill: np.ndarray  # (H, W, 3) fill colours
    fill_mask: np.ndarray  # (H, W) uint8, where the fills are
    fill_rect: tuple[int, int, int, int]  # bounding rect of fill_mask
    ink: np.ndarray  # (H, W, 3) opaque outlines and text
    ink_mask: np.ndarray  # (H, W) uint8
    zones: dict[str, _Zone]  # shelf id -> its reach zone (shelves may share one)


class Annotator:
    """Draws :class:`Overlay` s on frames of one store's camera (any image size)."""

    def __init__(self, store: StoreConfig, scale: float | None = None) -> None:
        self.store = store
        self.scale = scale
        self._names = {sku: p.name for sku, p in store.products.items()}
        self._layers: dict[tuple[int, int], _Layer] = {}
        self._layer(store.camera.width, store.camera.height)

    # ---- the static layer ---------------------------------------------------------------
    def _layer(self, w: int, h: int) -> _Layer:
        layer = self._layers.get((w, h))
        if layer is None:
            if len(self._layers) >= 8:  # a live source that keeps changing size
                self._layers.clear()
            layer = self._layers[(w, h)] = self._build(w, h)
        return layer

    def _build(self, w: int, h: int) -> _Layer:
        cam = self.store.camera
        k = np.array([w / cam.width, h / cam.height])
        s = self.scale if self.scale is not None else float(np.clip(min(w, h) / 480, 0.6, 4.0))
        st = _Style.for_scale(s)

        def px(poly: np.ndarray) -> np.ndarray:
            return np.round(np.asarray(poly, np.float64) * k).astype(np.int32).reshape(-1, 1, 2)

        fill = np.zeros((h, w, 3), np.uint8)
        fill_mask = np.zeros((h, w), np.uint8)
        ink = np.zeros((h, w, 3), np.uint8)
        ink_mask = np.zeros((h, w), np.uint8)

        def text(lines: list[str], cx: float, cy: float, colour) -> None:
            y = cy - st.line_h * (len(lines) - 1) / 2
            for line in lines:
                (tw, th), _ = cv2.getTextSize(line, FONT, st.font, st.thick)
                org = (int(np.clip(cx - tw / 2, 1, max(1, w - tw - 1))), int(y + th / 2))
                cv2.putText(ink, line, org, FONT, st.font, BLACK, st.thick + 2, cv2.LINE_AA)
                cv2.putText(ink, line, org, FONT, st.font, colour, st.thick, cv2.LINE_AA)
                cv2.putText(ink_mask, line, org, FONT, st.font, 255, st.thick + 2, cv2.LINE_AA)
                y += st.line_h

        # shelves sharing a footprint (the levels of one gondola) get one outline and label
        zones: dict[str, _Zone] = {}
        by_poly: dict[bytes, tuple[np.ndarray, list[str]]] = {}
        for shelf in self.store.shelves:
            pts = px(shelf.polygon)
            by_poly.setdefault(pts.tobytes(), (pts, []))[1].append(shelf.id)
            rz = px(shelf.reach_zone)
            cv2.fillPoly(fill, [rz], REACH)
            cv2.fillPoly(fill_mask, [rz], 255)
            zones[shelf.id] = _zone(rz, w, h)
        for pts, _ in by_poly.values():
            cv2.polylines(ink, [pts], True, GREY, 1, cv2.LINE_AA)
            cv2.polylines(ink_mask, [pts], True, 255, 1, cv2.LINE_AA)
        for name, poly, colour in (("entrance", self.store.zones.entrance, GREEN),
                                   ("exit", self.store.zones.exit, RED)):
            pts = px(poly)
            cv2.fillPoly(fill, [pts], colour)
            cv2.fillPoly(fill_mask, [pts], 255)
            cv2.polylines(ink, [pts], True, colour, st.line, cv2.LINE_AA)
            cv2.polylines(ink_mask, [pts], True, 255, st.line, cv2.LINE_AA)
            (cx, cy) = pts.reshape(-1, 2).mean(axis=0)
            text([name], cx, min(cy, h - st.line_h / 2), WHITE)
        for pts, ids in by_poly.values():
            bw = cv2.boundingRect(pts)[2]
            cx, cy = pts.reshape(-1, 2).mean(axis=0)
            joined = "/".join(ids)
            fits = cv2.getTextSize(joined, FONT, st.font, st.thick)[0][0] <= bw
            text([joined] if fits else ids, cx, cy, (230, 230, 230))
        ink_mask = np.where(ink_mask > 127, 255, 0).astype(np.uint8)  # AA edges: all or nothing

        ys, xs = np.nonzero(fill_mask)
        rect = (int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1) \
            if len(xs) else (0, 0, 0, 0)
        return _Layer(st, fill, fill_mask, rect, ink, ink_mask, zones)

    # ---- one frame ------------------------------------------------------------------------
    def draw(self, image: np.ndarray, ov: Overlay) -> np.ndarray:
        """A new annotated BGR uint8 copy of ``image`` (the input is never modified)."""
        out = _bgr_copy(image)
        h, w = out.shape[:2]
        layer = self._layer(w, h)
        st = layer.style

        # static layer: translucent fills (one blend over their bounding rect), then ink
        x0, y0, x1, y1 = layer.fill_rect
        if x1 > x0:
            roi = out[y0:y1, x0:x1]
            blend = cv2.addWeighted(roi, 1 - FILL_ALPHA, layer.fill[y0:y1, x0:x1], FILL_ALPHA, 0)
            cv2.copyTo(blend, layer.fill_mask[y0:y1, x0:x1], roi)
        reached = {sid for ids in ov.reaching.values() for sid in ids}
        done: set[bytes] = set()
        for sid in sorted(reached):
            zone = layer.zones.get(sid)
            if zone is None or zone.pts.tobytes() in done:  # shelves may share a zone
                continue
            done.add(zone.pts.tobytes())
            zx0, zy0, zx1, zy1 = zone.rect
            if zx1 <= zx0 or zy1 <= zy0:
                continue
            roi = out[zy0:zy1, zx0:zx1]
            blend = cv2.addWeighted(roi, 1 - HIGHLIGHT_ALPHA, zone.yellow, HIGHLIGHT_ALPHA, 0)
            cv2.copyTo(blend, zone.mask, roi)
        cv2.copyTo(layer.ink, layer.ink_mask, out)
        for sid in sorted(reached):
            zone = layer.zones.get(sid)
            if zone is not None:
                cv2.polylines(out, [zone.pts], True, YELLOW, st.line, cv2.LINE_AA)

        # people
        boxes = np.asarray(ov.boxes, np.float64).reshape(-1, 4)
        boxes = np.clip(boxes, [-w, -h, -w, -h], [2 * w, 2 * h, 2 * w, 2 * h])  # NaN stays NaN
        if len(boxes) != len(ov.labels):
            raise ValueError(f"Overlay: {len(boxes)} boxes but {len(ov.labels)} labels")
        order = sorted(range(len(boxes)), key=lambda i: ov.labels[i] != "")  # shoppers on top
        for i in order:
            box, label = boxes[i], str(ov.labels[i])
            if not np.isfinite(box).all():
                continue
            bx0, by0, bx1, by1 = (int(round(v)) for v in box)
            if not label:
                cv2.rectangle(out, (bx0, by0), (bx1, by1), GREY, 1, cv2.LINE_AA)
                continue
            colour = shopper_colour(label)
            cv2.rectangle(out, (bx0, by0), (bx1, by1), colour, st.line, cv2.LINE_AA)
            ly, right = self._tag(out, st, f"#{label}", bx0, by0, colour, BLACK, above=True)
            if ov.flags.get(label):
                _, fr = self._tag(out, st, _short(", ".join(ov.flags[label]), 24), bx0, ly, RED,
                                  WHITE, above=False)
                right = max(right, fr)
            cart = [(sku, q) for sku, q in ov.carts.get(label, {}).items() if q]
            if cart:
                lines = [f"{q}x {_short(self._names.get(sku, sku))}" for sku, q in cart]
                self._cart(out, st, lines, (bx0, by0, max(bx1, right), by1), colour)

        # HUD and receipt
        hud = [f"t {ov.t:.1f} s"]
        if ov.fps is not None:
            hud.append(f"{ov.fps:.1f} fps")
        if ov.latency_ms is not None:
            hud.append(f"latency {ov.latency_ms:.0f} ms")
        _panel(out, st, ["   ".join(hud)], st.pad, st.pad)
        if ov.receipt is not None:
            self._receipt(out, st, ov.receipt)
        return out

    # ---- layout helpers -------------------------------------------------------------------
    @staticmethod
    def _tag(out, st: _Style, text: str, x: int, y: int, bg, fg, above: bool) -> tuple[int, int]:
        """A filled tag with ``text`` at ``x``, its bottom (``above``) or top edge at ``y``,
        kept inside the image. Returns the y just below it and its right edge."""
        h, w = out.shape[:2]
        (tw, th), base = cv2.getTextSize(text, FONT, st.font, st.thick)
        th_all = th + base + 2
        top = y - th_all if above else y
        if above and top < 0:  # no room above the box: inside its top edge
            top = y
        top = int(np.clip(top, 0, max(0, h - th_all)))
        x = int(np.clip(x, 0, max(0, w - tw - 4)))
        cv2.rectangle(out, (x, top), (x + tw + 4, top + th_all), bg, -1)
        cv2.putText(out, text, (x + 2, top + th + 1), FONT, st.font, fg, st.thick, cv2.LINE_AA)
        return top + th_all, x + tw + 4

    def _cart(self, out, st: _Style, lines: list[str], box, colour) -> None:
        h, w = out.shape[:2]
        bx0, by0, bx1, _ = box
        fit = max(1, (h - 2 * st.pad) // st.line_h)
        if len(lines) > fit:
            lines = [*lines[: fit - 1], f"+{len(lines) - fit + 1} more"]
        pw, ph = _panel_size(st, lines)
        x = bx1 + st.pad
        if x + pw > w:  # near the right edge: the other side of the box
            x = bx0 - st.pad - pw
        x = int(np.clip(x, 0, max(0, w - pw)))
        y = int(np.clip(by0, 0, max(0, h - ph)))
        _panel(out, st, lines, x, y, edge=colour)

    def _receipt(self, out, st: _Style, r: Receipt) -> None:
        h, w = out.shape[:2]
        head = f"Receipt {r.receipt_id} - shopper {r.shopper_id}"
        rows = [(f"{ln.qty} x {_short(ln.name)}", f"{ln.qty * ln.unit_price:.2f}")
                for ln in r.lines]
        fit = max(1, (h - 4 * st.pad) // st.line_h - 2 - (1 if r.flags else 0))
        if len(rows) > fit:
            rows = [*rows[: fit - 1], (f"+{len(rows) - fit + 1} more", "")]
        rows.append(("total", f"{r.total:.2f}"))
        gap = cv2.getTextSize("    ", FONT, st.font, st.thick)[0][0]
        widths = [(cv2.getTextSize(a, FONT, st.font, st.thick)[0][0],
                   cv2.getTextSize(b, FONT, st.font, st.thick)[0][0]) for a, b in rows]
        flag_line = "flags: " + ", ".join(r.flags) if r.flags else ""
        pw = max(
            cv2.getTextSize(head, FONT, st.font, st.thick)[0][0],
            max(a + b for a, b in widths) + gap,
            cv2.getTextSize(flag_line, FONT, st.font, st.thick)[0][0],
        ) + 2 * st.pad
        pw = min(pw, w)
        n = 1 + len(rows) + (1 if r.flags else 0)
        ph = min(n * st.line_h + 2 * st.pad, h)
        x, y = max(0, w - pw - st.pad), max(0, h - ph - st.pad)
        _dim(out, x, y, pw, ph)
        base = y + st.pad + st.line_h - st.line_h // 4
        cv2.putText(out, head, (x + st.pad, base), FONT, st.font, YELLOW, st.thick, cv2.LINE_AA)
        for j, ((a, b), (_, bw)) in enumerate(zip(rows, widths), start=1):
            yy = base + j * st.line_h
            if j == len(rows):  # the total
                ly = yy - st.line_h + 3
                cv2.line(out, (x + st.pad, ly), (x + pw - st.pad, ly), GREY, 1)
            cv2.putText(out, a, (x + st.pad, yy), FONT, st.font, WHITE, st.thick, cv2.LINE_AA)
            cv2.putText(out, b, (x + pw - st.pad - bw, yy), FONT, st.font, WHITE, st.thick,
                        cv2.LINE_AA)
        if r.flags:
            yy = base + (len(rows) + 1) * st.line_h
            cv2.putText(out, flag_line, (x + st.pad, yy), FONT, st.font, (90, 90, 255), st.thick,
                        cv2.LINE_AA)


def _zone(pts: np.ndarray, w: int, h: int) -> _Zone:
    x, y, bw, bh = cv2.boundingRect(pts)
    x0, y0, x1, y1 = max(0, x), max(0, y), min(w, x + bw), min(h, y + bh)
    mask = np.zeros((max(0, y1 - y0), max(0, x1 - x0)), np.uint8)
    if mask.size:
        cv2.fillPoly(mask, [pts - np.array([x0, y0], np.int32)], 255)
    yellow = np.empty((*mask.shape, 3), np.uint8)
    yellow[:] = YELLOW
    return _Zone(pts, (x0, y0, x1, y1), mask, yellow)


def _bgr_copy(image: np.ndarray) -> np.ndarray:
    img = np.asarray(image)
    if img.dtype != np.uint8:
        raise ValueError(f"Annotator.draw: expected a uint8 image, got {img.dtype}")
    if img.ndim == 2 or (img.ndim == 3 and img.shape[2] == 1):
        return cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    if img.ndim == 3 and img.shape[2] == 4:
        return cv2.cvtColor(img, cv2.COLOR_BGRA2BGR)
    if img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f"Annotator.draw: expected an (H, W, 3) BGR image, got {img.shape}")
    return img.copy()


def _dim(out: np.ndarray, x: int, y: int, pw: int, ph: int) -> None:
    """Darken a rectangle in place: the translucent dark background of a panel."""
    roi = out[max(0, y): y + ph, max(0, x): x + pw]
    if roi.size:
        cv2.convertScaleAbs(roi, roi, PANEL_DIM, 0)


def _panel_size(st: _Style, lines: list[str]) -> tuple[int, int]:
    tw = max(cv2.getTextSize(s, FONT, st.font, st.thick)[0][0] for s in lines)
    return tw + 2 * st.pad, len(lines) * st.line_h + st.pad


def _panel(out, st: _Style, lines: list[str], x: int, y: int, edge=None) -> None:
    """Lines of white text on a dark translucent rectangle whose top-left is ``x, y``."""
    pw, ph = _panel_size(st, lines)
    _dim(out, x, y, pw, ph)
    if edge is not None:
        cv2.line(out, (x, y), (x, y + ph - 1), edge, max(1, st.line))
    base = y + st.line_h - st.line_h // 4
    for j, s in enumerate(lines):
        cv2.putText(out, s, (x + st.pad, base + j * st.line_h), FONT, st.font, WHITE, st.thick,
                    cv2.LINE_AA)


class VideoOut:
    """An annotated video written atomically: frames go to a temp file next to `path`, renamed
    over `path` by close(); abort() (or an exception inside a with-block) removes the temp file,
    so a half-written video never appears at `path`."""

    def __init__(self, path: str | Path, fps: float, size: tuple[int, int]) -> None:
        self.path = Path(path)
        self.size = (int(size[0]), int(size[1]))
        if not fps > 0:
            raise ValueError(f"VideoOut: fps must be > 0, got {fps}")
        if self.size[0] <= 0 or self.size[1] <= 0:
            raise ValueError(f"VideoOut: size must be positive (width, height), got {size}")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{self.path.stem}.",
                                       suffix=f".tmp{self.path.suffix}", dir=self.path.parent)
            os.close(fd)
        except OSError:
            raise InputError(f"{path}: cannot write a video here") from None
        self._tmp: Path | None = Path(tmp)
        self._writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"mp4v"), float(fps),
                                       self.size)
        if not self._writer.isOpened():
            self._writer.release()
            self._tmp.unlink(missing_ok=True)
            self._tmp = None
            raise InputError(f"{path}: cannot write a video here")
        self.frames = 0

    def write(self, image: np.ndarray) -> None:
        if self._tmp is None:
            raise ValueError(f"VideoOut({self.path}): write after close() or abort()")
        h, w = image.shape[:2]
        if (w, h) != self.size:
            raise ValueError(f"VideoOut({self.path}): frame is {w}x{h}, the video is "
                             f"{self.size[0]}x{self.size[1]}")
        self._writer.write(_bgr_copy(image) if image.ndim != 3 or image.shape[2] != 3 else image)
        self.frames += 1

    def close(self) -> Path:
        """Finish the file and rename it over ``path``; returns ``path``."""
        if self._tmp is None:
            return self.path
        tmp, self._tmp = self._tmp, None
        try:
            self._writer.release()
            with open(tmp, "rb") as fh:
                os.fsync(fh.fileno())
            os.chmod(tmp, 0o644)
            os.replace(tmp, self.path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return self.path

    def abort(self) -> None:
        """Drop the video: nothing appears at ``path`` and the temp file is removed."""
        if self._tmp is None:
            return
        tmp, self._tmp = self._tmp, None
        try:
            self._writer.release()
        finally:
            tmp.unlink(missing_ok=True)

    def __enter__(self) -> VideoOut:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()
