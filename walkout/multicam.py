"""Several cameras' videos as one stream of ticks, and the floor tracks made from them.

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
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2

from .config import StoreConfig
from .config.world import CameraSpec
from .errors import InputError
from .floor import FloorTracker
from .sources import FrameSource, open_source
from .types import Frame


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
        feeds.append(CameraFeed(cam, src))
    return feeds


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
    tracker = FloorTracker([f.spec for f in feeds])
    ticks = Ticks(feeds)
    told: set[str] = set()
    for t, frames in ticks:
        ids = list(frames)
        dets = detector([frames[c].image for c in ids]) if ids else []
        boxes = {c: d.xyxy for c, d in zip(ids, dets, strict=True)}
        people = tracker.update(t, boxes)
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


def _still_running(feeds: list[CameraFeed], cid: str, t: float) -> bool:
    """Whether another camera's video goes on past ``t`` (so ``cid`` stopped early)."""
    return any(f.spec.id != cid and (len(f.source) - 1) / f.source.fps > t + 1e-6
               for f in feeds)
