"""Live: a camera and a shelf scale through the same :class:`walkout.pipeline.Pipeline`.

- :class:`LiveCamera` reads frames on a background thread and keeps only the newest one:
  when processing is slower than the camera, older frames are dropped (and counted), never
  queued, so the pipeline never falls behind. A frame's time is its capture time: seconds
  since the first frame for a camera or stream, the frame's own timestamp for a video
  file. A file plays at its frame rate, like a camera (``realtime``); without
  ``realtime`` every frame of the file is handed over, none dropped (tests, recordings).
- Scales feed weights in the sensor format of the rest of walkout:
  :class:`KeyboardScale` is a virtual shelf (keys 1-3 take one unit of the store's first
  three plates, shift+1-3 put one back) that synthesises noisy load-cell samples, so the
  real event detection runs unchanged; :class:`LineScale` reads a real board over UDP or
  a serial port (the line protocol of :mod:`walkout.sensors.live`) on its own thread.
- :func:`live` runs the loop: weights up to the frame's time, the frame through the
  pipeline, the overlay (tracks, zones, carts, the last receipt, frames/s and
  capture-to-overlay latency), then the window or the annotated video.
"""

from __future__ import annotations

import collections
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from .config import StoreConfig
from .errors import InputError
from .fusion import FusionParams
from .sensors import SampleBlock
from .sensors.live import LineAssembler, open_lines
from .types import Frame

RECEIPT_SHOWN_S = 5.0
# Latencies kept for the percentiles: the last 100,000 frames, about 3 hours at 10 frames/s
# (under 1 MB), so a session that runs for days does not grow on them.
LATENCY_WINDOW = 100_000


# ---- camera ---------------------------------------------------------------------------------
def _capture(source: str) -> tuple[cv2.VideoCapture, bool]:
    """An opened capture and whether it is a file."""
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
    if source.isdigit():
        cap = cv2.VideoCapture(int(source))
        if not cap.isOpened():
            raise InputError(f"camera {source}: cannot open it (no camera at this index)")
        return cap, False
    if "://" in source:
        cap = cv2.VideoCapture(source)
        if not cap.isOpened():
            raise InputError(f"{source}: cannot open the stream")
        return cap, False
    if not Path(source).is_file():
        raise InputError(f"{source}: file not found (expected a camera index, a stream URL "
                         "or a video file)")
    cap = cv2.VideoCapture(source)
    if not cap.isOpened():
        raise InputError(f"{source}: OpenCV cannot read it as a video")
    return cap, True


class LiveCamera:
    """Frames from a background thread, newest only (see the module doc)."""

    def __init__(self, source: str, realtime: bool = True, fps: float | None = None) -> None:
        """``fps`` plays a file at another rate than its own (to stand in for a camera)."""
        self.source = str(source)
        self.cap, self.is_file = _capture(self.source)
        self.fps = fps or self.cap.get(cv2.CAP_PROP_FPS) or 30.0
        self.realtime = realtime or not self.is_file
        self.captured = 0
        self.dropped = 0
        self._slot: tuple[Frame, float] | None = None
        self._cond = threading.Condition()
        self._done = False
        self._stop = False
        self.t0 = time.monotonic()  # the stream clock: seconds since this moment
        self._thread = threading.Thread(target=self._run, name="walkout-camera", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        start = self.t0
        k = 0
        try:
            while not self._stop:
                if self.is_file and self.realtime:  # play the file at its frame rate
                    wait = start + k / self.fps - time.monotonic()
                    if wait > 0:
                        time.sleep(wait)
                ok, img = self.cap.read()
                t_cap = time.monotonic()
                if not ok:
                    break
                t = k / self.fps if self.is_file else t_cap - start
                with self._cond:
                    if not self.realtime:  # hand every frame over
                        while self._slot is not None and not self._stop:
                            self._cond.wait(0.1)
                    elif self._slot is not None:
                        self.dropped += 1
                    self._slot = (Frame(k, t, img), t_cap)
                    self.captured += 1
                    self._cond.notify_all()
                k += 1
        finally:
            with self._cond:
                self._done = True
                self._cond.notify_all()
                if self._stop:  # close() gave up waiting: the capture is ours to free
                    self.cap.release()

    def read(self, timeout: float = 5.0) -> tuple[Frame, float] | None:
        """The newest frame and its capture time (``time.monotonic``), waiting for one;
        None when the source has ended (or sent nothing for ``timeout`` seconds)."""
        with self._cond:
            if not self._cond.wait_for(lambda: self._slot is not None or self._done, timeout):
                return None
            item, self._slot = self._slot, None
            self._cond.notify_all()
            return item

    def put_back(self, item: tuple[Frame, float]) -> None:
        """Return a frame taken with :meth:`read` (to peek at the size), unless a newer one
        has come."""
        with self._cond:
            if self._slot is None:
                self._slot = item
                self._cond.notify_all()

    def close(self) -> None:
        self._stop = True
        with self._cond:
            self._cond.notify_all()
        self._thread.join(timeout=2.0)
        with self._cond:
            # a reader still inside cap.read() (a stalled network stream) must not have the
            # capture freed under it: it frees it itself when the read returns
            if self._done:
                self.cap.release()


# ---- scales ---------------------------------------------------------------------------------
@dataclass
class KeyboardScale:
    """A virtual shelf: every plate of the store as a load cell, the first three driven by
    keys. A take or put-back ramps the plate over ``ramp_s``, with a hand's press on top,
    and white noise of ``noise_g`` on every sample, at the store's sample rate."""

    store: StoreConfig
    noise_g: float = 0.8
    ramp_s: float = 0.3
    seed: int = 0
    plate_ids: tuple[str, ...] = ()
    _steps: list[tuple[float, int, float]] = field(default_factory=list)  # (t, plate, grams)
    _next_t: float | None = None

    def __post_init__(self) -> None:
        self.plate_ids = tuple(self.store.plate_ids)
        units = {q.id: (q.units if q.units is not None else 10)
                 for s in self.store.shelves for q in s.plates}
        prods = self.store.products
        self._sku = {q.id: q.sku for s in self.store.shelves for q in s.plates}
        self._base = np.array([units[q] * prods[self._sku[q]].weight_g + 50.0
                               for q in self.plate_ids])
        self._rng = np.random.default_rng(self.seed)
        self.keys = {str(k + 1): q for k, q in enumerate(self.plate_ids[:3])}

    def press(self, key: str, t: float) -> str | None:
        """Key ``1``-``3`` takes a unit, ``shift+1``-``shift+3`` (or ``!@#``) puts one
        back. Returns what happened, or None for other keys."""
        back = key.startswith("shift+") or key in "!@#"
        k = key.removeprefix("shift+") if key.startswith("shift+") else \
            {"!": "1", "@": "2", "#": "3"}.get(key, key)
        plate = self.keys.get(k)
        if plate is None or not key:
            return None
        grams = self.store.products[self._sku[plate]].weight_g * (1 if back else -1)
        self._steps.append((t, self.plate_ids.index(plate), grams))
        return f"{'put back' if back else 'took'} one {self._sku[plate]} ({plate})"

    def rows_until(self, t_now: float) -> SampleBlock | None:
        dt = 1.0 / self.store.sensors.rate_hz
        if self._next_t is None:
            self._next_t = max(0.0, t_now - 1.0)  # a second of history to learn the noise
        if t_now < self._next_t:
            return None
        n = int((t_now - self._next_t) / dt) + 1
        t = self._next_t + np.arange(n) * dt
        self._next_t = float(t[-1]) + dt
        g = np.repeat(self._base[None, :], n, axis=0)
        for t0, col, grams in self._steps:
            ramp = np.clip((t - t0) / self.ramp_s, 0.0, 1.0)
            press = np.where((t >= t0) & (t < t0 + self.ramp_s),
                             -abs(grams) * 0.3 * np.sin(np.pi * ramp), 0.0)
            g[:, col] += grams * ramp + press
        g += self._rng.normal(0.0, self.noise_g, g.shape)
        return SampleBlock(t, np.round(g, 1), self.plate_ids)  # on the video clock

    def close(self) -> None:
        pass


class LineScale:
    """A real board over ``udp://HOST:PORT`` or ``serial:///dev/...``, read on its own
    thread into rows at the store's sample rate. Readings carrying a time are on the sensor
    clock (``sensors.clock_offset_s`` moves them onto the video clock); readings without
    one are stamped on receipt with the same clock, from ``clock()`` (video seconds)."""

    def __init__(self, url: str, store: StoreConfig, clock: Callable[[], float]) -> None:
        self.lines = open_lines(url)
        self.asm = LineAssembler(store.plate_ids, store.sensors.rate_hz)
        self.offset = store.sensors.clock_offset_s
        self.clock = lambda: clock() - self.offset
        self.url = url
        self.error: str | None = None  # why the reader stopped, when it did
        self._lock = threading.Lock()
        self._stop = False
        self._thread = threading.Thread(target=self._run, name="walkout-scale", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        # whatever arrives, this thread goes on: a bad line is counted by the assembler,
        # and only the transport failing (the port unplugged) stops it, said by rows_until
        while not self._stop:
            try:
                lines = self.lines.read()
            except OSError as exc:
                self.error = f"{type(exc).__name__}: {exc}"[:200]
                return
            with self._lock:
                for line in lines:
                    self.asm.feed(line, self.clock())
                self.asm.stats.unauthenticated = getattr(self.lines, "unauthenticated", 0)

    def press(self, key: str, t: float) -> str | None:
        return None

    def rows_until(self, t_now: float) -> SampleBlock | None:
        if self.error is not None:
            raise InputError(f"{self.url}: the scale stopped reading ({self.error})")
        with self._lock:
            b = self.asm.rows_until(min(t_now - self.offset, self.asm.now))
        return None if b is None else SampleBlock(b.t + self.offset, b.grams, b.plate_ids)

    def close(self) -> None:
        self._stop = True
        self._thread.join(timeout=1.0)
        self.lines.close()


def read_keys(path: str | Path) -> list[tuple[float, str]]:
    """A key script: one ``<seconds> <key>`` a line (``#`` comments), e.g. ``12.5 2`` or
    ``20 shift+2``; times are stream seconds."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: file not found (expected a key script)")
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split()
        try:
            t = float(parts[0])
        except ValueError:
            t = math.nan
        if len(parts) != 2 or not math.isfinite(t):
            raise InputError(f"{path}: line {n}: expected '<seconds> <key>', got {line!r}")
        out.append((t, parts[1]))
    return sorted(out)


# ---- the loop -------------------------------------------------------------------------------
@dataclass
class LiveResult:
    frames: int
    captured: int
    dropped: int
    latency_ms: list[float]  # the newest LATENCY_WINDOW frames
    receipts: list
    wall_s: float
    timing: object

    def latency(self, q: float) -> float:
        return float(np.percentile(self.latency_ms, q)) if self.latency_ms else math.nan

    @property
    def drop_rate(self) -> float:
        return self.dropped / self.captured if self.captured else 0.0


def live(camera: LiveCamera, store: StoreConfig, detector, scale, out: str | Path | None,
         keys: list[tuple[float, str]] = (), max_frames: int | None = None, video_out=None,
         show: Callable | None = None, on_text: Callable[[str], None] = print,
         fusion: FusionParams | None = None) -> LiveResult:
    """Run the live loop until the source ends, ``max_frames`` frames, or the window closes.
    ``show(image) -> key`` displays a frame and returns the key pressed ('' for none, None
    to stop). ``fusion`` overrides the fusion defaults (e.g. ``ambiguous_below``)."""
    from .annotate import Annotator
    from .pipeline import Pipeline, overlay

    first = camera.read(timeout=10.0)
    if first is None:
        raise InputError(f"{camera.source}: no frames came from it")
    h, w = first[0].image.shape[:2]
    store = store.scaled(w, h)
    out = None if out is None else Path(out)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
    pipe = Pipeline(store, detector, out, fusion)
    annotator = Annotator(store)
    pending = list(keys)
    # the newest LATENCY_WINDOW frames only: a session may run for days
    latency: collections.deque[float] = collections.deque(maxlen=LATENCY_WINDOW)
    shown, shown_until = None, -math.inf
    t0 = time.monotonic()
    item = first
    frames = 0
    rate = 0.0
    while item is not None:
        frame, t_cap = item
        while pending and pending[0][0] <= frame.t:
            said = scale.press(pending.pop(0)[1], frame.t)
            if said:
                on_text(f"{frame.t:7.2f} s  {said}")
        block = scale.rows_until(frame.t)
        if block is not None:
            pipe.weights(block)
        scene = pipe.frame(frame)
        for r in pipe.new_receipts:
            shown, shown_until = r, frame.t + RECEIPT_SHOWN_S
            items = ", ".join(f"{x.qty} x {x.name}" for x in r.lines) or "nothing"
            on_text(f"{frame.t:7.2f} s  receipt {r.receipt_id} for shopper {r.shopper_id}: "
                    f"{items}, total {r.total:.2f}")
        frames += 1
        now = time.monotonic()
        rate = frames / max(now - t0, 1e-9)
        ov = overlay(pipe, scene, shown if frame.t <= shown_until else None)
        ov.fps = rate
        ov.latency_ms = latency[-1] if latency else None
        img = annotator.draw(frame.image, ov)
        latency.append(1000.0 * (time.monotonic() - t_cap))
        if video_out is not None:
            video_out.write(img)
        if show is not None:
            key = show(img)
            if key is None:
                break
            if key:
                said = scale.press(key, frame.t)
                if said:
                    on_text(f"{frame.t:7.2f} s  {said}")
        if max_frames is not None and frames >= max_frames:
            break
        item = camera.read()
    wall = time.monotonic() - t0
    pipe.finish()
    if out is not None:
        pipe.write_outputs(out)
    return LiveResult(frames, camera.captured, camera.dropped, list(latency),
                      pipe.carts.receipts, wall, pipe.timing)
