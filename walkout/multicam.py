"""Several cameras' videos as one stream of ticks, the floor tracks made from them, and the
line for a store seen by several cameras (:class:`CamerasPipeline`, :func:`run_cameras`).

:func:`open_cameras` opens the video of each camera of a ``cameras:`` store.yaml (its
``source``, or ``<id>.mp4`` beside the store.yaml) and checks it against the camera's size
before anything runs. :class:`Ticks` merges the videos by time: each frame's time is its
video clock (``index / fps``), so cameras of different frame rates line up; a tick holds
the frames of every camera that has one within half of the fastest camera's frame period
of it. A camera whose video ends is noted (``stopped``); the rest go on, and
:func:`floor_tracks` reports one that ends before the others.

:func:`floor_tracks` runs detection (one batch a tick) and the floor tracker
(:class:`walkout.floor.FloorTracker`) over the ticks: the people on the floor, with the box
each camera saw of them.
"""

from __future__ import annotations

import heapq
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import cv2
import numpy as np

from .annotate import Overlay
from .config import StoreConfig
from .config.world import CameraSpec
from .errors import InputError
from .floor import Fixtures, FloorTracker
from .fusion import FusionParams
from .io import (
    RUN_JSON,
    claim_run_folder,
    mot_lines,
    remove_stray_temps,
    write_lines_atomic,
    write_text_atomic,
)
from .pipeline import Pipeline, RunResult, _Clock, by_time, missing_plates, weight_blocks
from .sources import FrameSource, open_source
from .types import Frame
from .zones import Ignore, Scene
from .zones.floor import FloorZones


@dataclass
class CameraFeed:
    """One camera and its opened video."""

    spec: CameraSpec
    source: FrameSource


def open_cameras(store: StoreConfig, folder: str | Path) -> list[CameraFeed]:
    """The videos of every camera of ``store`` (a ``cameras:`` store.yaml), checked: each
    is there, readable, and of its camera's size. Raises :class:`InputError` (one line)."""
    if store.world is None:
        raise InputError(f"{store.path}: one camera (expected a store.yaml with a cameras: "
                         "list for several)")
    folder = Path(folder)
    feeds = []
    for cam in store.world.cameras:
        path = folder / (cam.source or f"{cam.id}.mp4")
        if not path.is_file():
            raise InputError(f"{path}: not found (expected the video of camera {cam.id!r})")
        src = open_source(path)
        cap = cv2.VideoCapture(str(path))
        try:
            size = (int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)),
                    int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)))
        finally:
            cap.release()
        if size != (cam.width, cam.height):
            raise InputError(f"{path}: {size[0]}x{size[1]} (expected {cam.width}x"
                             f"{cam.height}, the size of camera {cam.id!r} in {store.path})")
        if len(src) == 0:
            raise InputError(f"{path}: no frames (expected the video of camera {cam.id!r})")
        feeds.append(CameraFeed(cam, replace(src, start=cam.start_s)))
    _common_time(store, feeds)
    return feeds


def _span(feed: CameraFeed) -> tuple[float, float]:
    """The store-clock times of a camera's first and last frames."""
    return feed.source.start, feed.source.start + (len(feed.source) - 1) / feed.source.fps


def _common_time(store: StoreConfig, feeds: list[CameraFeed]) -> None:
    """Raise :class:`InputError` when some two cameras' videos do not overlap in time (no
    moment has frames of both: nothing to fuse)."""
    for a in feeds:
        for b in feeds:
            (a0, a1), (b0, b1) = _span(a), _span(b)
            if a1 < b0:
                raise InputError(
                    f"{store.path}: cameras {a.spec.id!r} ({a0:.2f}-{a1:.2f} s) and "
                    f"{b.spec.id!r} ({b0:.2f}-{b1:.2f} s) have no common time (expected "
                    "videos that overlap; start_s sets when a camera's video begins)")


@dataclass
class Ticks:
    """The cameras' frames merged by time (see the module doc); iterate for
    ``(t, {camera id: frame})``."""

    feeds: list[CameraFeed]
    # camera -> the time of its last frame, once its video has ended
    stopped: dict[str, float] = field(default_factory=dict)

    def __iter__(self) -> Iterator[tuple[float, dict[str, Frame]]]:
        half = 0.5 / max(f.source.fps for f in self.feeds)
        its = {f.spec.id: iter(f.source) for f in self.feeds}
        heap: list[tuple[float, int, str, Frame]] = []
        last: dict[str, float] = {}
        order = {f.spec.id: k for k, f in enumerate(self.feeds)}

        def pull(cid: str) -> None:
            fr = next(its[cid], None)
            if fr is None:
                self.stopped[cid] = last.get(cid, 0.0)
                return
            last[cid] = fr.t
            heapq.heappush(heap, (fr.t, order[cid], cid, fr))

        for cid in its:
            pull(cid)
        while heap:
            t0 = heap[0][0]
            tick: dict[str, Frame] = {}
            while heap and heap[0][0] <= t0 + half and heap[0][2] not in tick:
                _, _, cid, fr = heapq.heappop(heap)
                tick[cid] = fr
                pull(cid)
            yield t0, tick


def floor_tracks(store: StoreConfig, feeds: list[CameraFeed], detector, on_stop=None
                 ) -> Iterator[tuple[float, list[tuple[int, float, float]],
                                     dict[str, tuple[int, list[tuple[int, tuple]]]]]]:
    """Detection and floor tracking over the cameras' ticks: per tick ``(t, [(track, x,
    y)], {camera: (frame index, [(track, box xyxy)])})`` for the confirmed tracks.
    ``on_stop(camera, t)`` is called once for a camera whose video ends before the
    others'."""
    tracker = FloorTracker([f.spec for f in feeds], start_confidence=store.detector.confidence,
                           fixtures=Fixtures.of(store.world))
    ticks = Ticks(feeds)
    told: set[str] = set()
    ignore = ignores(store)
    for t, frames in ticks:
        ids = list(frames)
        dets = detect_tick(detector, ignore, frames, ids)
        boxes = {c: d.xyxy for c, d in zip(ids, dets, strict=True)}
        scores = {c: d.confidence for c, d in zip(ids, dets, strict=True)}
        people = tracker.update(t, boxes, {c: frames[c].image for c in ids}, scores)
        confirmed = {tid for tid, _, _ in people}
        seen: dict[str, tuple[int, list[tuple[int, tuple]]]] = {
            c: (frames[c].index, []) for c in ids}
        for tr in tracker.tracks:
            if tr.id in confirmed:
                for c, k in tr.seen_by.items():
                    seen[c][1].append((tr.id, tuple(float(v) for v in boxes[c][k])))
        for cid in set(ticks.stopped) - told:
            if on_stop is not None and _still_running(feeds, cid, t):
                on_stop(cid, ticks.stopped[cid])
            told.add(cid)
        yield t, people, seen


def ignores(store: StoreConfig) -> dict[str, Ignore]:
    """Each camera's fixtures the detector takes for people (its ``ignore`` polygons)."""
    return {c.id: Ignore(store.view(c.id)) for c in store.world.cameras}


def detect_tick(detector, ignore: dict[str, Ignore], frames: dict, ids: list[str],
                dets: list | None = None) -> list:
    """The person boxes of the frames of cameras ``ids`` (one detector batch, or ``dets``,
    the detector's boxes found elsewhere), without those standing in a camera's ``ignore``
    polygons."""
    if dets is None:
        dets = detector([frames[c].image for c in ids]) if ids else []
    return [ignore[c](d) for c, d in zip(ids, dets, strict=True)]


def _still_running(feeds: list[CameraFeed], cid: str, t: float) -> bool:
    """Whether another camera's video goes on past ``t`` (so ``cid`` stopped early)."""
    return any(f.spec.id != cid and _span(f)[1] > t + 1e-6 for f in feeds)


# ---- the line for several cameras ------------------------------------------------------------
@dataclass
class Tick:
    """The frames of every camera at one moment (``frames``: camera id -> frame), and the
    detector's boxes of them when they were found elsewhere (``detections``, in the order
    of ``frames``: :mod:`walkout.batch` detects on other workers, ticks ahead)."""

    t: float
    frames: dict[str, Frame]
    detections: list | None = None


class CamerasPipeline(Pipeline):
    """The line for a store seen by several cameras: one detection batch a tick, one
    tracker on the floor (:class:`walkout.floor.FloorTracker`), zones on the floor
    (:class:`walkout.zones.floor.FloorZones`); weights, fusion and carts as for one camera.
    Its tracks are written per camera (``tracks_<camera>.txt``, numbered by shopper) and on
    the floor (``tracks_floor.csv``: t, shopper, x, y)."""

    def __init__(self, store: StoreConfig, detector, out: str | Path | None = None,
                 fusion: FusionParams | None = None) -> None:
        super().__init__(store, detector, out, fusion)
        self.zones = FloorZones(store)
        self.ignores = ignores(store)
        # a box the detector is sure of starts a person; a weaker one keeps one going
        self.floor = FloorTracker(store.world.cameras,
                                  start_confidence=store.detector.confidence,
                                  fixtures=Fixtures.of(store.world))
        self.floor_rows: list[tuple[float, int, float, float]] = []
        self.last_people: list[tuple[int, float, float]] = []
        self.last_views: dict[str, tuple] = {}
        self.camera_rows: dict[str, list[tuple[int, int, tuple]]] = {
            c.id: [] for c in store.world.cameras}

    def tick(self, tick: Tick) -> Scene:
        clock = _Clock(self.timing)
        ids = list(tick.frames)
        dets = detect_tick(self.detector, self.ignores, tick.frames, ids, tick.detections)
        boxes = {c: d.xyxy for c, d in zip(ids, dets, strict=True)}
        scores = {c: d.confidence for c, d in zip(ids, dets, strict=True)}
        clock.lap("detect")
        people = self.floor.update(tick.t, boxes, {c: tick.frames[c].image for c in ids},
                                   scores)
        clock.lap("track")
        confirmed = {tid for tid, _, _ in people}
        views = {c: (tick.frames[c].image,
                     [(tr.id, tuple(boxes[c][tr.seen_by[c]])) for tr in self.floor.tracks
                      if tr.id in confirmed and c in tr.seen_by]) for c in ids}
        scene = self.zones.update(tick.t, people, views)
        clock.lap("zones")
        self.seen(scene, clock)
        self.floor_rows += [(tick.t, tid, x, y) for tid, x, y in people]
        for c, (_, seen) in views.items():
            self.camera_rows[c] += [(tick.frames[c].index + 1, tid, b) for tid, b in seen]
        self.last_people, self.last_views = people, views
        return scene

    def overlays(self, receipt) -> dict[str, Overlay]:
        """What each camera's tile of the annotated video shows for the last tick."""
        shopper = self.zones.shopper_of
        carts, scene = self.carts.open_carts(), self.last_scene
        flags = {s: self.carts.flags(s) for s in carts}
        reaching = scene.reaching() if scene is not None else {}
        out = {}
        for c, (_, seen) in self.last_views.items():
            boxes = np.array([b for _, b in seen], float).reshape(-1, 4)
            out[c] = Overlay(t=scene.t if scene is not None else 0.0, boxes=boxes,
                             labels=[shopper.get(tid, "") for tid, _ in seen],
                             reaching=reaching, carts=carts, receipt=receipt, flags=flags)
        return out

    def floor_now(self) -> list[tuple[str, float, float]]:
        """The shoppers on the floor at the last tick: (shopper, x, y)."""
        shopper = self.zones.shopper_of
        return [(shopper[tid], x, y) for tid, x, y in self.last_people if shopper.get(tid)]

    def write_outputs(self, out: str | Path) -> None:
        """events.jsonl, tracks_floor.csv and tracks_<camera>.txt (rows of shoppers only),
        written whole (atomically), and receipts.json again."""
        out = Path(out)
        shopper = self.zones.shopper_of
        write_text_atomic(out / "events.jsonl", self.events_text())
        write_lines_atomic(out / "tracks_floor.csv", [
            "t,shopper,x,y\n",
            *(f"{t:.3f},{shopper[tid]},{x:.3f},{y:.3f}\n" for t, tid, x, y in self.floor_rows
              if shopper.get(tid))])
        for cam, rows in self.camera_rows.items():
            write_lines_atomic(out / f"tracks_{cam}.txt", mot_lines(
                (f, shopper[tid], tid, (b[0], b[1], b[2] - b[0], b[3] - b[1]))
                for f, tid, b in rows if shopper.get(tid)))
        self.track_rows.close()
        self.carts.write_receipts()
        self.seal()


def run_cameras(folder: str | Path, store: StoreConfig, out: str | Path, detector,
                weights: str | Path | None = None, fusion: FusionParams | None = None,
                settings: dict | None = None, on_stop=None, save_video: bool = False,
                show=None, on_frame=None, detect_ahead=None) -> RunResult:
    """Process the videos of a multi-camera store (a folder with its store.yaml, see
    :func:`open_cameras`) and its weights into ``out``: ``receipts.json``, ``events.jsonl``,
    ``cart_ledger.jsonl``, ``tracks_floor.csv`` and ``tracks_<camera>.txt`` (and ``run.json``
    with ``settings``; ``annotated.mp4`` with ``save_video``: every camera and a floor plan,
    :class:`walkout.mosaic.Mosaic`). Every input is checked before anything is written.
    ``on_stop(camera, t)``: a camera's video ended before the others'. ``show(image) ->
    bool`` displays that mosaic tick by tick (False stops the run early, as the end of
    the videos would). ``on_frame(n)`` hears of each tick done (``n`` so far).
    ``detect_ahead(ticks)`` may fill in the ticks' ``detections`` before the line takes
    them (detection elsewhere, a few ticks ahead: :mod:`walkout.batch`)."""
    feeds = open_cameras(store, folder)
    spans = [_span(f) for f in feeds]
    blocks, stats, _ = weight_blocks(weights, store, (min(a for a, _ in spans),
                                                      max(b for _, b in spans)))
    out = Path(out)
    if settings is not None:
        claim_run_folder(out, settings)
    out.mkdir(parents=True, exist_ok=True)
    pipe = CamerasPipeline(store, detector, out, fusion)
    remove_stray_temps(out)
    if settings is not None:
        write_text_atomic(out / RUN_JSON, json.dumps(settings, indent=2) + "\n")
    mosaic = video_out = None
    if save_video or show is not None:
        from .mosaic import Mosaic

        mosaic = Mosaic(store)
    if save_video:
        from .annotate import VideoOut

        video_out = VideoOut(out / "annotated.mp4", max(f.source.fps for f in feeds),
                             mosaic.size)
    ticks = Ticks(feeds)
    told: set[str] = set()
    t0 = time.perf_counter()
    last_t, last_receipt, receipt_until = 0.0, None, -1.0
    try:
        stream = (Tick(t, frames) for t, frames in ticks)
        if detect_ahead is not None:
            stream = detect_ahead(stream)
        for item in by_time(stream, blocks):
            if isinstance(item, Tick):
                scene = pipe.tick(item)
                last_t = item.t
                if on_frame is not None:
                    on_frame(pipe.timing.frames)
                if mosaic is not None:
                    if pipe.new_receipts:
                        last_receipt, receipt_until = pipe.new_receipts[-1], item.t + 4.0
                    img = mosaic.draw(
                        item.t, {c: f.image for c, f in item.frames.items()},
                        pipe.overlays(last_receipt if item.t <= receipt_until else None),
                        pipe.floor_now(), scene.reaching())
                    if video_out is not None:
                        video_out.write(img)
                    if show is not None and not show(img):
                        break
                for cid in set(ticks.stopped) - told:
                    if on_stop is not None and _still_running(feeds, cid, item.t):
                        on_stop(cid, ticks.stopped[cid])
                    told.add(cid)
            else:
                pipe.weights(item)
        pipe.finish()
        wall = time.perf_counter() - t0
        video = video_out.close() if video_out is not None else None
        pipe.write_outputs(out)  # sealed last: a finished run has every output
    except BaseException:
        if video_out is not None:
            video_out.abort()
        pipe.carts.ledger.close_quietly()  # let the folder go
        raise
    outputs = [out / n for n in ("receipts.json", "events.jsonl", "tracks_floor.csv",
                                 *(f"tracks_{f.spec.id}.txt" for f in feeds),
                                 "cart_ledger.jsonl")]
    if video is not None:
        outputs.append(video)
    return RunResult(pipe.carts.receipts, pipe.carts.open_carts(), pipe.timing.frames,
                     last_t, wall, pipe.timing, outputs, missing_plates(weights, stats))
